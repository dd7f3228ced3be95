from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.plots import plot_confusion

    plot_confusion(
        confusion_csv=snakemake.input.confusion, metrics_csv=snakemake.input.metrics,
        png=snakemake.output.png, pdf=snakemake.output.pdf,
    )
