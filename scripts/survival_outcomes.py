from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.survival import write_outcomes

    write_outcomes(
        sheet_path=snakemake.input.sheet,
        schema_path=snakemake.params.schema,
        clinical=dict(snakemake.params.clinical),
        endpoint=dict(snakemake.params.endpoint),
        output_csv=snakemake.output.outcomes,
    )
