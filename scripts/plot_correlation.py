from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.plots import plot_correlation

    plot_correlation(
        features_csv=snakemake.input.features,
        split_csv=snakemake.input.split,
        selected_csv=snakemake.input.selected,
        png=snakemake.output.png,
        pdf=snakemake.output.pdf,
    )
