from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.ml.bundle import diagnostics_files
    from radsnake.jobs.survival_bundle import write_survival_bundle

    write_survival_bundle(
        model=snakemake.wildcards.smodel,
        model_joblib=snakemake.input.model,
        model_json=snakemake.input.model_info,
        features_csv=snakemake.input.features,
        split_csv=snakemake.input.split,
        clinical=list(snakemake.params.clinical),
        params_path=snakemake.input.params[0] if snakemake.input.params else None,
        diagnostics_files=diagnostics_files(snakemake.params.diagnostics),
        settings=dict(snakemake.params.settings),
        bundle_joblib=snakemake.output.bundle,
        bundle_json=snakemake.output.card,
    )
