# One job per classifier: tuned by stratified CV with scaling and selection inside the Pipeline.
rule fit_model:
    input:
        features="results/features.csv",
        split="results/split.csv",
        icc=get_icc_table,
    output:
        predictions="results/models/{model}/predictions.csv",
        model="results/models/{model}/model.joblib",
        model_info="results/models/{model}/model.json",
        cv_results="results/models/{model}/cv_results.csv",
        importance="results/models/{model}/importance.csv",
    log:
        "logs/fit_model/{model}.log",
    benchmark:
        "benchmarks/fit_model/{model}.tsv"
    conda:
        "../envs/modelling.yaml"
    threads: config["resources"]["model_threads"]
    resources:
        mem_mb=4000,
    params:
        clinical=list(config["clinical"]),
        steps=config["selection"]["steps"],
        # Where the steps come from, for messages (comparison fits name their selection).
        selection_setting="selection.steps",
        param_grid=get_param_grid,
        cv_folds=config["models"]["cv_folds"],
        imbalance=config["models"]["imbalance"],
        permute=config["negative_control"]["permute_labels"],
        seed=config["seed"],
        harmonisation=harmonisation_settings(),
    script:
        "../scripts/fit_model.py"
