from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.aggregate import aggregate_features

    aggregate_features(
        feature_files=list(snakemake.input.features),
        sheet_path=snakemake.input.sheet,
        schema_path=snakemake.params.schema,
        clinical=dict(snakemake.params.clinical),
        output_csv=snakemake.output.features,
        params_path=snakemake.input.params,
        endpoint=dict(snakemake.params.get("endpoint", {})),
    )
