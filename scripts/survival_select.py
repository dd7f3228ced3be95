from radsnake.core.runtime import job

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
