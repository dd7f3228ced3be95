from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.plots import plot_calibration

    plot_calibration(
        binned_csv=snakemake.input.binned,
        smoothed_csv=snakemake.input.smoothed,
        calibration_csv=snakemake.input.calibration,
        metrics_csv=snakemake.input.metrics,
        set_name=snakemake.wildcards.set,
        png=snakemake.output.png,
        pdf=snakemake.output.pdf,
    )
