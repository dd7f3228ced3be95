from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.survival_report import write_summary

    write_summary(
        metrics_csv=snakemake.input.metrics,
        control_csv=snakemake.input.control or None,
        validation_csv=snakemake.input.validation or None,
        unit=snakemake.params.unit,
        summary_md=snakemake.output.summary,
    )
