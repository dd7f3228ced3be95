from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.validation import summarise_validation

    summarise_validation(
        summary_files=dict(zip(snakemake.params.models, snakemake.input.summaries)),
        summary_csv=snakemake.output.summary,
    )
