from radsnake.core.runtime import job

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
