from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.survival_bundle import apply_survival_bundles

    apply_survival_bundles(
        features_csv=snakemake.input.features,
        bundles=dict(zip(snakemake.params.models, zip(snakemake.input.bundles, snakemake.input.cards))),
        sheet_path=snakemake.input.sheet,
        schema_path=snakemake.params.schema,
        endpoint=dict(snakemake.params.endpoint),
        predictions_csv=snakemake.output.predictions,
        metrics_csv=snakemake.output.get("metrics"),
        source=snakemake.input.table[0] if snakemake.input.table else None,
    )
