from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.ml.survival_validation import validate_survival_models

    validate_survival_models(
        features_csv=snakemake.input.features,
        split_csv=snakemake.input.split,
        outcomes_csv=snakemake.input.outcomes,
        prediction_files=dict(zip(snakemake.params.models, snakemake.input.predictions)),
        clinical=list(snakemake.params.clinical),
        settings=dict(snakemake.params.settings),
        endpoint=dict(snakemake.params.endpoint),
        seed=snakemake.params.seed,
        threads=snakemake.threads,
        outputs=dict(snakemake.output.items()),
    )
