from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

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
