from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

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
