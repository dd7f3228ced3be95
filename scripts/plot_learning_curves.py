from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.validation import plot_learning_curves

    plot_learning_curves(
        curve_files=dict(zip(snakemake.params.models, snakemake.input.curves)),
        png=snakemake.output.png,
        pdf=snakemake.output.pdf,
    )
