from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.plots import plot_radscore_violin

    plot_radscore_violin(
        radscore_csv=snakemake.input.radscore, metrics_csv=snakemake.input.metrics,
        png=snakemake.output.png, pdf=snakemake.output.pdf,
    )
