from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.survival_report import write_summary

    write_summary(
        metrics_csv=snakemake.input.metrics,
        control_csv=snakemake.input.control or None,
        validation_csv=snakemake.input.validation or None,
        unit=snakemake.params.unit,
        summary_md=snakemake.output.summary,
    )
