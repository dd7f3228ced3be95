from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.plots import plot_waterfall

    plot_waterfall(
        radscore_csv=snakemake.input.radscore,
        metrics_csv=snakemake.input.metrics,
        set_name=snakemake.wildcards.set,
        png=snakemake.output.png,
        pdf=snakemake.output.pdf,
    )
