from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.ml.settings import ModelSearch, TrainingData
    from radsnake.jobs.modelling import fit_model

    fit_model(
        training=TrainingData.of_rule(snakemake.input, snakemake.params),
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
