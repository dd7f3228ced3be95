from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.plots import plot_importance

    plot_importance(
        importance_files=dict(zip(snakemake.params.models, snakemake.input.importances)),
        metrics_csv=snakemake.input.metrics,
        png=snakemake.output.png,
        pdf=snakemake.output.pdf,
    )
