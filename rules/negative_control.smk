# Leakage negative control, run alongside the real study: the same selection and models
# (the main rules, reused with `use rule`) refitted on training labels that carry no
# signal; test and external labels stay real. Additive: the main outputs are untouched.
use rule select_features as control_select_features with:
    output:
        selected="results/negative_control/selection/selected_features.csv",
        coefficients="results/negative_control/selection/lasso_coefficients.csv",
        path="results/negative_control/selection/lasso_path.csv",
        cv="results/negative_control/selection/lasso_cv.csv",
        radscore="results/negative_control/selection/radscore.csv",
        radscore_model="results/negative_control/selection/radscore_model.joblib",
        signature="results/negative_control/selection/signature.json",
    log:
        "logs/control_select_features.log",
    benchmark:
        "benchmarks/control_select_features.tsv"
    params:
        permute=True,


use rule fit_model as control_fit_model with:
    output:
        predictions="results/negative_control/models/{model}/predictions.csv",
        model="results/negative_control/models/{model}/model.joblib",
        model_info="results/negative_control/models/{model}/model.json",
        cv_results="results/negative_control/models/{model}/cv_results.csv",
        importance="results/negative_control/models/{model}/importance.csv",
    log:
        "logs/control_fit_model/{model}.log",
    benchmark:
        "benchmarks/control_fit_model/{model}.tsv"
    params:
        permute=True,


rule evaluate_negative_control:
    input:
        real_predictions=get_predictions,
        real_radscore="results/selection/radscore.csv",
        control_predictions=get_control_predictions,
        control_radscore="results/negative_control/selection/radscore.csv",
        # Which fits have no signature (radsnake.stats.signature).
        real_info=get_model_info,
        real_signature="results/selection/signature.json",
        control_info=get_control_model_info,
        control_signature="results/negative_control/selection/signature.json",
    output:
        table=report(
            "results/negative_control/metrics.csv",
            caption="../docs/report/negative_control_table.rst",
            category="8. Leakage negative control",
            labels={"table": "real vs permuted-label AUC"},
        ),
    log:
        "logs/evaluate_negative_control.log",
    localrule: True
    conda:
        "../envs/modelling.yaml"
    params:
        models=MODELS,
        ci_level=config["evaluation"]["ci_level"],
        sets=EVALUATION_SETS,
    script:
        "../scripts/evaluate_negative_control.py"


rule plot_negative_control:
    input:
        table="results/negative_control/metrics.csv",
    output:
        png=report(
            "results/figures/negative_control.png",
            caption="../docs/report/negative_control.rst",
            category="8. Leakage negative control",
            labels={"figure": "real vs permuted-label AUC"},
        ),
        pdf="results/figures/negative_control.pdf",
    log:
        "logs/plot_negative_control.log",
    localrule: True
    conda:
        "../envs/figures.yaml"
    params:
        ci_level=config["evaluation"]["ci_level"],
    script:
        "../scripts/plot_negative_control.py"
