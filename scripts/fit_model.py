from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.modelling import fit_model

    fit_model(
        features_csv=snakemake.input.features,
        split_csv=snakemake.input.split,
        icc_csv=snakemake.input.icc[0] if snakemake.input.icc else "",
        clinical=list(snakemake.params.clinical),
        model=snakemake.wildcards.model,
        steps=list(snakemake.params.steps),
        param_grid=snakemake.params.param_grid,
        cv_folds=snakemake.params.cv_folds,
        permute=snakemake.params.permute,
        seed=snakemake.params.seed,
        harmonisation=snakemake.params.harmonisation,
        threads=snakemake.threads,
        predictions_csv=snakemake.output.predictions,
        model_joblib=snakemake.output.model,
        model_json=snakemake.output.model_info,
        cv_results_csv=snakemake.output.cv_results,
        importance_csv=snakemake.output.importance,
        imbalance=snakemake.params.imbalance,
        selection_setting=snakemake.params.selection_setting,
    )
