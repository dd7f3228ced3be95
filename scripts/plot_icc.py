from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.robustness import plot_icc

    plot_icc(
        icc_csv=snakemake.input.icc,
        icc_type=snakemake.params.icc_type,
        threshold=snakemake.params.threshold,
        png=snakemake.output.png,
        pdf=snakemake.output.pdf,
    )
