# Freeze every fitted model, with what applying it to new patients needs (radsnake.ml.bundle,
# docs/apply.md): the model and rad-score pipelines, input features, params hash, training
# summary, thresholds, versions and config. The params file is an input: its hash is recorded.
# The extraction's library versions come from the training cases' diagnostics files.
rule bundle_model:
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
    output:
        bundle="results/bundle/{model}/bundle.joblib",
        card="results/bundle/{model}/bundle.json",
    log:
        "logs/bundle_model/{model}.log",
    localrule: True
    conda:
        "../envs/modelling.yaml"
    resources:
        mem_mb=2000,
    params:
        clinical=list(config["clinical"]),
        settings=get_bundle_settings,
        # Read in the job, not inputs: the per-case diagnostics are written with the
        # features, so features.csv (an input) follows them; 4 x N inputs cost planning.
        diagnostics="" if BRING_YOUR_OWN_FEATURES else "results/diagnostics",
    script:
        "../scripts/bundle_model.py"
