rule evaluate_models:
    input:
        predictions=get_predictions,
        radscore="results/selection/radscore.csv",
        # Which of them have no signature (radsnake.stats.signature).
        model_info=get_model_info,
        signature="results/selection/signature.json",
    output:
        metrics=report(
            "results/evaluation/metrics.csv",
            caption="../docs/report/metrics.rst",
            category="4. Evaluation",
            labels={"table": "metrics per model and set"},
        ),
        delong=report(
            "results/evaluation/delong.csv",
            caption="../docs/report/delong.rst",
            category="4. Evaluation",
            labels={"table": "DeLong tests"},
        ),
    log:
        "logs/evaluate_models.log",
    localrule: True
    conda:
        "../envs/modelling.yaml"
    params:
        models=MODELS,
        threshold=config["evaluation"]["threshold"],
        target=config["evaluation"]["target"],
        ci_level=config["evaluation"]["ci_level"],
        sets=evaluation_sets(),
    script:
        "../scripts/evaluate_models.py"
