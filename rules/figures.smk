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
    params:
        models=MODELS,
    log:
        "logs/plot_roc/{set}.log",
    conda:
        "../envs/figures.yaml"
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
    conda:
        "../envs/figures.yaml"
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
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/plot_correlation.py"


rule plot_importance:
    input:
        importances=get_importances,
    output:
        png=report(
            "results/figures/importance.png",
            caption="../docs/report/importance.rst",
            category="5. Models",
            labels={"figure": "coefficients and importances"},
        ),
        pdf="results/figures/importance.pdf",
    params:
        models=MODELS,
    log:
        "logs/plot_importance.log",
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/plot_importance.py"
