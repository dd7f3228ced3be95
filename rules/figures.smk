# Publication figures, PNG (300 dpi, in the report) and PDF (for the journal) side by side.
rule plot_roc:
    input:
        predictions=get_predictions,
        radscore="results/selection/radscore.csv",
        metrics="results/evaluation/metrics.csv",
    output:
        png=report(
            "results/figures/roc_{set}.png",
            caption="../docs/report/roc.rst",
            category="4. Evaluation",
            labels={"figure": "ROC curves", "set": "{set}"},
        ),
        pdf="results/figures/roc_{set}.pdf",
    log:
        "logs/plot_roc/{set}.log",
    localrule: True
    conda:
        "../envs/figures.yaml"
    params:
        models=MODELS,
        n_boot=config["evaluation"]["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/plot_roc.py"


rule plot_lasso:
    input:
        path="results/selection/lasso_path.csv",
        cv="results/selection/lasso_cv.csv",
    output:
        png=report(
            "results/figures/lasso_path.png",
            caption="../docs/report/lasso_path.rst",
            category="3. Feature selection",
            labels={"figure": "LASSO path"},
        ),
        pdf="results/figures/lasso_path.pdf",
    log:
        "logs/plot_lasso.log",
    localrule: True
    conda:
        "../envs/figures.yaml"
    params:
        chosen=lasso_rule(),
    script:
        "../scripts/plot_lasso.py"


rule plot_waterfall:
    input:
        radscore="results/selection/radscore.csv",
        metrics="results/evaluation/metrics.csv",
    output:
        png=report(
            "results/figures/radscore_waterfall_{set}.png",
            caption="../docs/report/waterfall.rst",
            category="4. Evaluation",
            labels={"figure": "rad-score waterfall", "set": "{set}"},
        ),
        pdf="results/figures/radscore_waterfall_{set}.pdf",
    log:
        "logs/plot_waterfall/{set}.log",
    localrule: True
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/plot_waterfall.py"


rule plot_correlation:
    input:
        features="results/features.csv",
        split="results/split.csv",
        selected="results/selection/selected_features.csv",
    output:
        png=report(
            "results/figures/correlation_heatmap.png",
            caption="../docs/report/correlation.rst",
            category="3. Feature selection",
            labels={"figure": "correlation heat map"},
        ),
        pdf="results/figures/correlation_heatmap.pdf",
    log:
        "logs/plot_correlation.log",
    localrule: True
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/plot_correlation.py"


rule plot_importance:
    input:
        importances=get_importances,
        metrics="results/evaluation/metrics.csv",
    output:
        png=report(
            "results/figures/importance.png",
            caption="../docs/report/importance.rst",
            category="5. Models",
            subcategory="Feature importance",
            labels={"figure": "coefficients and importances"},
        ),
        pdf="results/figures/importance.pdf",
    log:
        "logs/plot_importance.log",
    localrule: True
    conda:
        "../envs/figures.yaml"
    params:
        models=MODELS,
    script:
        "../scripts/plot_importance.py"


rule plot_calibration:
    input:
        binned="results/evaluation/calibration_binned.csv",
        smoothed="results/evaluation/calibration_smoothed.csv",
        calibration="results/evaluation/calibration.csv",
        metrics="results/evaluation/metrics.csv",
    output:
        png=report(
            "results/figures/calibration_{set}.png",
            caption="../docs/report/calibration.rst",
            category="4. Evaluation",
            labels={"figure": "calibration curves", "set": "{set}"},
        ),
        pdf="results/figures/calibration_{set}.pdf",
    log:
        "logs/plot_calibration/{set}.log",
    localrule: True
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/plot_calibration.py"


rule plot_decision_curve:
    input:
        decision="results/evaluation/decision_curves.csv",
        metrics="results/evaluation/metrics.csv",
    output:
        png=report(
            "results/figures/decision_curve_{set}.png",
            caption="../docs/report/decision_curve.rst",
            category="4. Evaluation",
            labels={"figure": "decision curves", "set": "{set}"},
        ),
        pdf="results/figures/decision_curve_{set}.pdf",
    log:
        "logs/plot_decision_curve/{set}.log",
    localrule: True
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/plot_decision_curve.py"


rule plot_confusion:
    input:
        confusion="results/evaluation/confusion_matrices.csv",
        metrics="results/evaluation/metrics.csv",
    output:
        png=report(
            "results/figures/confusion_matrices.png",
            caption="../docs/report/confusion.rst",
            category="4. Evaluation",
            labels={"figure": "confusion matrices"},
        ),
        pdf="results/figures/confusion_matrices.pdf",
    log:
        "logs/plot_confusion.log",
    localrule: True
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/plot_confusion.py"


rule plot_radscore_violin:
    input:
        radscore="results/selection/radscore.csv",
        metrics="results/evaluation/metrics.csv",
    output:
        png=report(
            "results/figures/radscore_violin.png",
            caption="../docs/report/violin.rst",
            category="4. Evaluation",
            labels={"figure": "rad-score by label"},
        ),
        pdf="results/figures/radscore_violin.pdf",
    log:
        "logs/plot_radscore_violin.log",
    localrule: True
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/plot_radscore_violin.py"
