# Freeze every fitted model, with what applying it to new patients needs (radsnake.ml.bundle,
# docs/apply.md): the model and rad-score pipelines, input features, params hash, training
# summary, thresholds, versions and config. The params file is an input: its hash is recorded.
rule bundle_model:
    localrule: True
    input:
        model="results/models/{model}/model.joblib",
        model_info="results/models/{model}/model.json",
        predictions="results/models/{model}/predictions.csv",
        radscore_model="results/selection/radscore_model.joblib",
        radscore="results/selection/radscore.csv",
        features="results/features.csv",
        split="results/split.csv",
        icc=get_icc_table,
        params=get_bundle_params,
        diagnostics=get_case_diagnostics,
    output:
        bundle="results/bundle/{model}/bundle.joblib",
        card="results/bundle/{model}/bundle.json",
    params:
        clinical=list(config["clinical"]),
        settings=get_bundle_settings,
    log:
        "logs/bundle_model/{model}.log",
    resources:
        mem_mb=2000,
    conda:
        "../envs/modelling.yaml"
    script:
        "../scripts/bundle_model.py"
