from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.plots import plot_correlation

    plot_correlation(
        features_csv=snakemake.input.features,
        split_csv=snakemake.input.split,
        selected_csv=snakemake.input.selected,
        png=snakemake.output.png,
        pdf=snakemake.output.pdf,
    )
