# Survival studies (endpoint.type: survival; docs/survival.md): outcomes from the sheet, the
# Cox-LASSO signature, one tuned model per survival.models entry, then the statistics.
wildcard_constraints:
    smodel="|".join(SURVIVAL_MODELS),


rule survival_outcomes:
    input:
        sheet=config["cohort"],
    output:
        outcomes="results/survival/outcomes.csv",
    log:
        "logs/survival_outcomes.log",
    localrule: True
    conda:
        "../envs/modelling.yaml"
    params:
        schema=COHORT_SCHEMA,
        clinical=config["clinical"],
        endpoint=config["endpoint"],
    script:
        "../scripts/survival_outcomes.py"


rule survival_select:
    input:
        features="results/features.csv",
        split="results/split.csv",
        outcomes="results/survival/outcomes.csv",
    output:
        selected="results/survival/selection/selected_features.csv",
        coefficients="results/survival/selection/lasso_coefficients.csv",
        path="results/survival/selection/lasso_path.csv",
        cv="results/survival/selection/lasso_cv.csv",
        radscore="results/survival/selection/radscore.csv",
    log:
        "logs/survival_select.log",
    conda:
        "../envs/modelling.yaml"
    params:
        clinical=list(config["clinical"]),
        settings=SURVIVAL_SETTINGS,
        seed=config["seed"],
    script:
        "../scripts/survival_select.py"


rule survival_fit:
    input:
        features="results/features.csv",
        split="results/split.csv",
        outcomes="results/survival/outcomes.csv",
    output:
        predictions="results/survival/models/{smodel}/predictions.csv",
        curves="results/survival/models/{smodel}/survival_curves.csv",
        model="results/survival/models/{smodel}/model.joblib",
        model_info="results/survival/models/{smodel}/model.json",
        cv_results="results/survival/models/{smodel}/cv_results.csv",
    log:
        "logs/survival_fit/{smodel}.log",
    benchmark:
        "benchmarks/survival_fit/{smodel}.tsv"
    conda:
        "../envs/modelling.yaml"
    threads: config["resources"]["model_threads"]
    resources:
        mem_mb=4000,
    params:
        clinical=list(config["clinical"]),
        settings=SURVIVAL_SETTINGS,
        endpoint=config["endpoint"],
        seed=config["seed"],
        permute=False,
    script:
        "../scripts/survival_fit.py"


# The negative control: the same models fitted on training times and events shuffled
# among the training cases; their held-out C-index CIs must contain 0.5.
use rule survival_fit as survival_fit_control with:
    output:
        predictions="results/survival/negative_control/models/{smodel}/predictions.csv",
        curves="results/survival/negative_control/models/{smodel}/survival_curves.csv",
        model="results/survival/negative_control/models/{smodel}/model.joblib",
        model_info="results/survival/negative_control/models/{smodel}/model.json",
        cv_results="results/survival/negative_control/models/{smodel}/cv_results.csv",
    log:
        "logs/survival_fit_control/{smodel}.log",
    benchmark:
        "benchmarks/survival_fit_control/{smodel}.tsv"
    params:
        clinical=list(config["clinical"]),
        settings=SURVIVAL_SETTINGS,
        endpoint=config["endpoint"],
        seed=config["seed"],
        permute=True,


rule survival_evaluate:
    input:
        predictions=expand("results/survival/models/{smodel}/predictions.csv", smodel=SURVIVAL_EVALUATED),
        curves=expand("results/survival/models/{smodel}/survival_curves.csv", smodel=SURVIVAL_EVALUATED),
    output:
        metrics="results/survival/metrics.csv",
        risk_groups="results/survival/risk_groups.csv",
        km="results/survival/km.csv",
        calibration="results/survival/calibration.csv",
        decision_curve="results/survival/decision_curve.csv",
    log:
        "logs/survival_evaluate.log",
    conda:
        "../envs/modelling.yaml"
    params:
        models=SURVIVAL_EVALUATED,
        sets=evaluation_sets(),
        horizons=config["endpoint"]["horizons"],
    script:
        "../scripts/survival_evaluate.py"


use rule survival_evaluate as survival_evaluate_control with:
    input:
        predictions=expand("results/survival/negative_control/models/{smodel}/predictions.csv", smodel=SURVIVAL_MODELS),
        curves=expand("results/survival/negative_control/models/{smodel}/survival_curves.csv", smodel=SURVIVAL_MODELS),
    output:
        metrics="results/survival/negative_control/metrics.csv",
        risk_groups="results/survival/negative_control/risk_groups.csv",
        km="results/survival/negative_control/km.csv",
        calibration="results/survival/negative_control/calibration.csv",
        decision_curve="results/survival/negative_control/decision_curve.csv",
    log:
        "logs/survival_evaluate_control.log",
    params:
        models=SURVIVAL_MODELS,
        sets=evaluation_sets(),
        horizons=config["endpoint"]["horizons"],


rule survival_cox_tables:
    input:
        radscore="results/survival/selection/radscore.csv",
        features="results/features.csv",
    output:
        univariate="results/survival/cox_univariate.csv",
        multivariable="results/survival/cox_multivariable.csv",
    log:
        "logs/survival_cox_tables.log",
    conda:
        "../envs/modelling.yaml"
    params:
        clinical=config["clinical"],
    script:
        "../scripts/survival_cox_tables.py"


# Clinical vs radiomics vs combined: Cox PH on the clinical variables, on the rad-score and
# on both (training cases), evaluated with the tuned models; the combined model's nomogram.
rule survival_clinical:
    input:
        features="results/features.csv",
        split="results/split.csv",
        radscore="results/survival/selection/radscore.csv",
    output:
        **survival_comparison_outputs(),
    log:
        "logs/survival_clinical.log",
    conda:
        "../envs/figures.yaml"
    params:
        clinical=config["clinical"],
        missing_policy=config["clinical_missing"],
        sheet=config["cohort"],
        horizons=config["endpoint"]["horizons"],
        unit=SURVIVAL_UNIT,
    script:
        "../scripts/survival_clinical.py"


# Internal validation: Harrell's bootstrap optimism of the C-index, the whole pipeline
# refitted on each resample of the training cases (docs/survival.md). One job for every
# model: the resamples run in parallel within it.
rule survival_validate:
    input:
        features="results/features.csv",
        split="results/split.csv",
        outcomes="results/survival/outcomes.csv",
        predictions=expand("results/survival/models/{smodel}/predictions.csv", smodel=SURVIVAL_MODELS),
    output:
        resamples="results/survival/validation/bootstrap.csv",
        optimism=report(
            "results/survival/validation/optimism.csv",
            caption="../docs/report/survival_optimism.rst",
            category="5. Models",
            labels={"table": "survival bootstrap optimism"},
        ),
    log:
        "logs/survival_validate.log",
    benchmark:
        "benchmarks/survival_validate.tsv"
    conda:
        "../envs/modelling.yaml"
    threads: config["resources"]["model_threads"]
    resources:
        mem_mb=4000,
    params:
        models=SURVIVAL_MODELS,
        clinical=list(config["clinical"]),
        settings=SURVIVAL_SETTINGS,
        endpoint=config["endpoint"],
        seed=config["seed"],
    script:
        "../scripts/survival_validate.py"


# Freeze every tuned survival model for new patients (radsnake.jobs.survival_bundle; docs/survival.md,
# "Bundles and apply"): in results/bundle/, where apply_all looks, as a binary study's.
rule survival_bundle_model:
    input:
        model="results/survival/models/{smodel}/model.joblib",
        model_info="results/survival/models/{smodel}/model.json",
        features="results/features.csv",
        split="results/split.csv",
        params=get_bundle_params,
    output:
        bundle="results/bundle/{smodel}/bundle.joblib",
        card="results/bundle/{smodel}/bundle.json",
    log:
        "logs/survival_bundle_model/{smodel}.log",
    localrule: True
    conda:
        "../envs/modelling.yaml"
    params:
        clinical=list(config["clinical"]),
        settings=get_survival_bundle_settings,
        diagnostics="" if BRING_YOUR_OWN_FEATURES else "results/diagnostics",
    script:
        "../scripts/survival_bundle_model.py"
