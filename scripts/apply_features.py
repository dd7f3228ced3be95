from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.apply import collect_features

    collect_features(
        sheet_path=snakemake.input.sheet,
        schema_path=snakemake.params.schema,
        output_csv=snakemake.output.features,
        feature_files=list(snakemake.input.features),
        table_path=snakemake.input.table[0] if snakemake.input.table else None,
        params_path=snakemake.input.params[0] if snakemake.input.params else None,
    )
