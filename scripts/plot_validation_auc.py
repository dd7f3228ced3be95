from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.validation import plot_validation_auc

    plot_validation_auc(summary_csv=snakemake.input.summary, png=snakemake.output.png, pdf=snakemake.output.pdf)
