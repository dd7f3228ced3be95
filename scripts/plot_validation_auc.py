from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.validation import plot_validation_auc

    plot_validation_auc(summary_csv=snakemake.input.summary, png=snakemake.output.png, pdf=snakemake.output.pdf)
