from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

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
