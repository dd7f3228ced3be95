from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.harmonisation import plot_harmonisation

    plot_harmonisation(
        pca_csv=snakemake.input.pca,
        centre_effect_csv=snakemake.input.centre_effect,
        unseen_batch=snakemake.params.unseen_batch,
        png=snakemake.output.png,
        pdf=snakemake.output.pdf,
    )
