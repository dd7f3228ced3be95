from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.validation import plot_learning_curves

    plot_learning_curves(
        curve_files=dict(zip(snakemake.params.models, snakemake.input.curves)),
        png=snakemake.output.png,
        pdf=snakemake.output.pdf,
    )
