from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.survival import select_survival_features

    select_survival_features(
        features_csv=snakemake.input.features,
        split_csv=snakemake.input.split,
        outcomes_csv=snakemake.input.outcomes,
        clinical=list(snakemake.params.clinical),
        settings=dict(snakemake.params.settings),
        seed=snakemake.params.seed,
        outputs=dict(snakemake.output.items()),
    )
