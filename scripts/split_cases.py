from radsnake.runtime import job

with job(snakemake.log[0], snakemake.threads):
    import pandas as pd

    from radsnake.split import split_cases

    split_cases(
        features_csv=snakemake.input.features,
        population=pd.DataFrame(dict(snakemake.params.population)),
        method=snakemake.params.method,
        test_fraction=snakemake.params.test_fraction,
        external_centers=list(snakemake.params.external_centers),
        seed=snakemake.params.seed,
        locked_csv=snakemake.input.locked[0] if snakemake.input.locked else "",
        output_csv=snakemake.output.split,
        sets_csv=snakemake.output.sets,
        kept_csv=snakemake.params.kept,
        case_cohorts=dict(snakemake.params.cohorts),
        strata=list(snakemake.params.strata),
    )
