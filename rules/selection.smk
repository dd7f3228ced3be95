# Selection fitted once on the training set: the selected features, the LASSO and the rad-score.
rule select_features:
    input:
        features="results/features.csv",
        split="results/split.csv",
        icc=get_icc_table,
    output:
        selected="results/selection/selected_features.csv",
        coefficients=report(
            "results/selection/lasso_coefficients.csv",
            caption="../docs/report/lasso_coefficients.rst",
            category="3. Feature selection",
            labels={"table": "LASSO coefficients"},
        ),
        path="results/selection/lasso_path.csv",
        cv="results/selection/lasso_cv.csv",
        radscore="results/selection/radscore.csv",
        # The fitted selection + LASSO, frozen into every model bundle (rules/bundle.smk).
        radscore_model="results/selection/radscore_model.joblib",
        # Whether the selection kept a feature (radsnake.stats.signature); "no signature" otherwise.
        signature="results/selection/signature.json",
    log:
        "logs/select_features.log",
    benchmark:
        "benchmarks/select_features.tsv"
    conda:
        "../envs/modelling.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        clinical=list(config["clinical"]),
        steps=config["selection"]["steps"],
        permute=config["negative_control"]["permute_labels"],
        seed=config["seed"],
        harmonisation=harmonisation_settings(),
    script:
        "../scripts/select_features.py"
