# What papers report beyond AUC: calibration, decision curves, bootstrap CIs, the summary
# table, clinical and combined models with the nomogram, and per-feature tests.
rule summarise_models:
    input:
        predictions=get_predictions,
        radscore="results/selection/radscore.csv",
        metrics="results/evaluation/metrics.csv",
        signature="results/selection/signature.json",
        control=["results/negative_control/metrics.csv"] if NEGATIVE_CONTROL else [],
    output:
        calibration=report(
            "results/evaluation/calibration.csv",
            caption="../docs/report/calibration_table.rst",
            category="4. Evaluation",
            labels={"table": "calibration"},
        ),
        binned="results/evaluation/calibration_binned.csv",
        smoothed="results/evaluation/calibration_smoothed.csv",
        decision="results/evaluation/decision_curves.csv",
        bootstrap="results/evaluation/bootstrap_ci.csv",
        confusion="results/evaluation/confusion_matrices.csv",
        summary=report(
            "results/evaluation/summary.csv",
            caption="../docs/report/summary.rst",
            category="1. Summary",
            labels={"table": "paper-ready summary"},
        ),
        summary_md=report(
            "results/evaluation/summary.md",
            caption="../docs/report/summary.rst",
            category="1. Summary",
            labels={"table": "paper-ready summary (Markdown)"},
        ),
        verdicts=report(
            "results/evaluation/verdicts.csv",
            caption="../docs/report/verdicts.rst",
            category="1. Summary",
            labels={"table": "verdict per model"},
        ),
        # The report's first page: docs/report/workflow.rst headed by the notices and verdicts.
        overview="results/report_overview.rst",
    log:
        "logs/summarise_models.log",
    benchmark:
        "benchmarks/summarise_models.tsv"
    conda:
        "../envs/modelling.yaml"
    params:
        models=MODELS,
        n_boot=config["evaluation"]["bootstrap"],
        seed=config["seed"],
        sets=evaluation_sets(),
        report_text=os.path.join(workflow.basedir, "docs", "report", "workflow.rst"),
    script:
        "../scripts/summarise_models.py"


rule feature_statistics:
    input:
        features="results/features.csv",
        split="results/split.csv",
    output:
        table=report(
            "results/evaluation/feature_statistics.csv",
            caption="../docs/report/feature_statistics.rst",
            category="3. Feature selection",
            labels={"table": "feature statistics"},
        ),
        png=report(
            "results/figures/volcano.png",
            caption="../docs/report/volcano.rst",
            category="3. Feature selection",
            labels={"figure": "volcano plot"},
        ),
        pdf="results/figures/volcano.pdf",
    log:
        "logs/feature_statistics.log",
    conda:
        "../envs/figures.yaml"
    params:
        clinical=list(config["clinical"]),
        test=config["evaluation"]["feature_test"],
    script:
        "../scripts/feature_statistics.py"


rule compare_clinical_models:
    input:
        features="results/features.csv",
        split="results/split.csv",
        radscore="results/selection/radscore.csv",
        # Whether the rad-score has a signature (radsnake.stats.signature); none: clinical model alone.
        signature="results/selection/signature.json",
    output:
        **clinical_imputation_output(),
        univariate=report(
            "results/clinical/univariate.csv",
            caption="../docs/report/logistic_tables.rst",
            category="5. Models",
            subcategory="Clinical and combined models",
            labels={"table": "univariate logistic regression"},
        ),
        multivariate=report(
            "results/clinical/multivariate.csv",
            caption="../docs/report/logistic_tables.rst",
            category="5. Models",
            subcategory="Clinical and combined models",
            labels={"table": "multivariate logistic regression"},
        ),
        predictions="results/clinical/predictions.csv",
        metrics=report(
            "results/clinical/metrics.csv",
            caption="../docs/report/clinical_metrics.rst",
            category="5. Models",
            subcategory="Clinical and combined models",
            labels={"table": "clinical vs radiomics vs combined"},
        ),
        delong="results/clinical/delong.csv",
        nomogram_png=report(
            "results/figures/nomogram.png",
            caption="../docs/report/nomogram.rst",
            category="5. Models",
            subcategory="Clinical and combined models",
            labels={"figure": "nomogram"},
        ),
        nomogram_pdf="results/figures/nomogram.pdf",
        # Every imputed clinical cell, with clinical_missing: impute (radsnake.io.clinical_data).
    log:
        "logs/compare_clinical_models.log",
    conda:
        "../envs/figures.yaml"
    params:
        clinical=config["clinical"],
        missing_policy=config["clinical_missing"],
        sheet=os.path.abspath(config["cohort"]),
        penalty=config["clinical_model"]["penalty"],
        threshold=config["evaluation"]["threshold"],
        target=config["evaluation"]["target"],
        ci_level=config["evaluation"]["ci_level"],
        sets=evaluation_sets(),
    script:
        "../scripts/compare_clinical_models.py"
