from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.plots import plot_decision_curve

    plot_decision_curve(
        decision_csv=snakemake.input.decision,
        metrics_csv=snakemake.input.metrics,
        set_name=snakemake.wildcards.set,
        png=snakemake.output.png,
        pdf=snakemake.output.pdf,
    )
