from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.plots import plot_lasso

    plot_lasso(
        path_csv=snakemake.input.path,
        cv_csv=snakemake.input.cv,
        chosen=snakemake.params.chosen,
        png=snakemake.output.png,
        pdf=snakemake.output.pdf,
    )
