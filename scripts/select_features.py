from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.modelling import select_features

    select_features(
        features_csv=snakemake.input.features,
        split_csv=snakemake.input.split,
        icc_csv=snakemake.input.icc[0] if snakemake.input.icc else "",
        clinical=list(snakemake.params.clinical),
        steps=list(snakemake.params.steps),
        permute=snakemake.params.permute,
        seed=snakemake.params.seed,
        harmonisation=snakemake.params.harmonisation,
        selected_csv=snakemake.output.selected,
        coefficients_csv=snakemake.output.coefficients,
        path_csv=snakemake.output.path,
        cv_csv=snakemake.output.cv,
        radscore_csv=snakemake.output.radscore,
        radscore_joblib=snakemake.output.radscore_model,
        signature_json=snakemake.output.signature,
    )
