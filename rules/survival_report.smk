# The figures and summary of a survival study (docs/survival.md), in the report next to the
# binary study's evaluation (same section names).
rule plot_survival:
    input:
        metrics="results/survival/metrics.csv",
        km="results/survival/km.csv",
        groups="results/survival/risk_groups.csv",
        calibration="results/survival/calibration.csv",
        decision_curve="results/survival/decision_curve.csv",
    output:
        **survival_figure_outputs(),
    log:
        "logs/plot_survival.log",
    localrule: True
    conda:
        "../envs/figures.yaml"
    params:
        models=SURVIVAL_MODELS,
        horizons=config["endpoint"]["horizons"],
        sets=survival_figure_sets(),
        unit=SURVIVAL_UNIT,
    script:
        "../scripts/plot_survival.py"


rule survival_summary:
    input:
        metrics="results/survival/metrics.csv",
        control=branch(NEGATIVE_CONTROL, then="results/survival/negative_control/metrics.csv", otherwise=[]),
        validation=branch(SURVIVAL_VALIDATION, then="results/survival/validation/optimism.csv", otherwise=[]),
    output:
        summary=report(
            "results/survival/summary.md",
            caption="../docs/report/survival_summary.rst",
            category="1. Summary",
            labels={"table": "survival summary (Markdown)"},
        ),
    log:
        "logs/survival_summary.log",
    localrule: True
    conda:
        "../envs/modelling.yaml"
    params:
        unit=SURVIVAL_UNIT,
    script:
        "../scripts/survival_summary.py"


# The Cox-LASSO path of the rad-score's fit on the training cases.
rule plot_survival_lasso:
    input:
        path="results/survival/selection/lasso_path.csv",
        cv="results/survival/selection/lasso_cv.csv",
    output:
        png=report(
            "results/survival/figures/cox_lasso.png",
            caption="../docs/report/survival_lasso.rst",
            category="4. Evaluation",
            subcategory="Survival",
            labels={"figure": "Cox-LASSO path", "set": "train"},
        ),
        pdf="results/survival/figures/cox_lasso.pdf",
    log:
        "logs/plot_survival_lasso.log",
    localrule: True
    conda:
        "../envs/figures.yaml"
    params:
        chosen=config["survival"]["lasso_rule"],
    script:
        "../scripts/plot_survival_lasso.py"
