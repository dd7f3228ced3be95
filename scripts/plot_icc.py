from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.robustness import plot_icc

    plot_icc(
        icc_csv=snakemake.input.icc,
        icc_type=snakemake.params.icc_type,
        threshold=snakemake.params.threshold,
        png=snakemake.output.png,
        pdf=snakemake.output.pdf,
    )
