from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.apply import apply_bundles

    apply_bundles(
        features_csv=snakemake.input.features,
        bundles=dict(zip(snakemake.params.models, zip(snakemake.input.bundles, snakemake.input.cards))),
        ci_level=snakemake.params.ci_level,
        predictions_csv=snakemake.output.predictions,
        metrics_csv=snakemake.output.get("metrics"),
        diagnostics_files=list(snakemake.input.diagnostics),
        source=snakemake.input.table[0] if snakemake.input.table else None,
    )
