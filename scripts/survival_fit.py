from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.survival import fit_survival_model

    fit_survival_model(
        features_csv=snakemake.input.features,
        split_csv=snakemake.input.split,
        outcomes_csv=snakemake.input.outcomes,
        clinical=list(snakemake.params.clinical),
        model=snakemake.wildcards.smodel,
        settings=dict(snakemake.params.settings),
        endpoint=dict(snakemake.params.endpoint),
        seed=snakemake.params.seed,
        permute=bool(snakemake.params.permute),
        outputs=dict(snakemake.output.items()),
    )
