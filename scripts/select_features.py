from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.ml.settings import TrainingData
    from radsnake.jobs.modelling import select_features

    select_features(
        training=TrainingData(
            features_csv=snakemake.input.features,
            split_csv=snakemake.input.split,
            clinical=list(snakemake.params.clinical),
            permute=snakemake.params.permute,
            seed=snakemake.params.seed,
            harmonisation=snakemake.params.harmonisation,
            icc_csv=snakemake.input.icc[0] if snakemake.input.icc else "",
        ),
        steps=list(snakemake.params.steps),
        selected_csv=snakemake.output.selected,
        coefficients_csv=snakemake.output.coefficients,
        path_csv=snakemake.output.path,
        cv_csv=snakemake.output.cv,
        radscore_csv=snakemake.output.radscore,
        radscore_joblib=snakemake.output.radscore_model,
        signature_json=snakemake.output.signature,
    )
