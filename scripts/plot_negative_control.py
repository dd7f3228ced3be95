from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.comparison import plot_negative_control

    plot_negative_control(
        table_csv=snakemake.input.table,
        ci_level=snakemake.params.ci_level,
        png=snakemake.output.png,
        pdf=snakemake.output.pdf,
    )
