from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.aggregate import import_features

    import_features(
        table_path=snakemake.input.table,
        sheet_path=snakemake.input.sheet,
        schema_path=snakemake.params.schema,
        clinical=dict(snakemake.params.clinical),
        output_csv=snakemake.output.features,
        endpoint=dict(snakemake.params.get("endpoint", {})),
    )
