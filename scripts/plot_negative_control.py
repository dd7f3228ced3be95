from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.comparison import plot_negative_control

    plot_negative_control(
        table_csv=snakemake.input.table,
        ci_level=snakemake.params.ci_level,
        png=snakemake.output.png,
        pdf=snakemake.output.pdf,
    )
