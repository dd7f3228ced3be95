from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.ml.settings import ModelSearch, TrainingData
    from radsnake.jobs.modelling import fit_model

    fit_model(
        training=TrainingData(
            features_csv=snakemake.input.features,
            split_csv=snakemake.input.split,
            clinical=list(snakemake.params.clinical),
            permute=snakemake.params.permute,
            seed=snakemake.params.seed,
            harmonisation=snakemake.params.harmonisation,
            icc_csv=snakemake.input.icc[0] if snakemake.input.icc else "",
        ),
        search=ModelSearch(
            model=snakemake.wildcards.model,
            steps=list(snakemake.params.steps),
            param_grid=snakemake.params.param_grid,
            cv_folds=snakemake.params.cv_folds,
            imbalance=snakemake.params.imbalance,
            selection_setting=snakemake.params.selection_setting,
        ),
        threads=snakemake.threads,
        predictions_csv=snakemake.output.predictions,
        model_joblib=snakemake.output.model,
        model_json=snakemake.output.model_info,
        cv_results_csv=snakemake.output.cv_results,
        importance_csv=snakemake.output.importance,
    )
