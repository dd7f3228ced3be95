# Internal validation on the training set: the whole tuning procedure refitted in every
# fold and bootstrap resample (docs/validation.md). The distinct fits are dealt into
# validation.chunks chunks, one job each, every model fitted in the same job so that
# the selection steps are fitted once per training set (radsnake.ml.validation_runs); one
# job per model then writes that model's tables, the same whatever the chunking.
rule validate_chunk:
    input:
        features="results/features.csv",
        split="results/split.csv",
        icc=get_icc_table,
    output:
        fits="results/validation/chunks/{chunk}.json",
    log:
        main="logs/validate_chunk/{chunk}.log",
        # CPU and wall seconds per design and model (bench/validation.py reads them).
        timings="logs/validate_chunk/{chunk}.timings.csv",
    benchmark:
        "benchmarks/validate_chunk/{chunk}.tsv"
    wildcard_constraints:
        chunk=r"\d+",
    conda:
        "../envs/modelling.yaml"
    # One fit at a time per job: the parallelism is across chunks.
    threads: 1
    resources:
        mem_mb=4000,
    params:
        clinical=list(config["clinical"]),
        models=MODELS,
        steps=config["selection"]["steps"],
        param_grids={model: config["models"]["param_grid"].get(model) for model in MODELS},
        cv_folds=config["models"]["cv_folds"],
        imbalance=config["models"]["imbalance"],
        permute=config["negative_control"]["permute_labels"],
        seed=config["seed"],
        settings=config["validation"],
        n_chunks=VALIDATION_CHUNKS,
        harmonisation=harmonisation_settings(),
    script:
        "../scripts/validate_chunk.py"


rule validate_model:
    input:
        features="results/features.csv",
        split="results/split.csv",
        icc=get_icc_table,
        chunks=expand("results/validation/chunks/{chunk}.json", chunk=range(1, VALIDATION_CHUNKS + 1)),
        # Only for its no-signature message, which marks the tables (docs/statistics.md).
        model_json="results/models/{model}/model.json",
    output:
        repeated_cv="results/validation/{model}/repeated_cv.csv",
        repeats="results/validation/{model}/repeated_cv_repeats.csv",
        nested_cv="results/validation/{model}/nested_cv.csv",
        bootstrap="results/validation/{model}/bootstrap.csv",
        learning_curve="results/validation/{model}/learning_curve.csv",
        summary="results/validation/{model}/summary.csv",
    log:
        "logs/validate_model/{model}.log",
    benchmark:
        "benchmarks/validate_model/{model}.tsv"
    localrule: True
    conda:
        "../envs/modelling.yaml"
    resources:
        mem_mb=2000,
    params:
        clinical=list(config["clinical"]),
        permute=config["negative_control"]["permute_labels"],
        seed=config["seed"],
        settings=config["validation"],
        harmonisation=harmonisation_settings(),
    script:
        "../scripts/validate_model.py"


rule summarise_validation:
    input:
        summaries=get_validation_summaries,
    output:
        summary=report(
            "results/validation/summary.csv",
            caption="../docs/report/validation_summary.rst",
            category="6. Internal validation",
            labels={"table": "internal validation"},
        ),
    log:
        "logs/summarise_validation.log",
    localrule: True
    conda:
        "../envs/modelling.yaml"
    params:
        models=MODELS,
    script:
        "../scripts/summarise_validation.py"


rule plot_validation_auc:
    input:
        summary="results/validation/summary.csv",
    output:
        png=report(
            "results/figures/validation_auc.png",
            caption="../docs/report/validation_auc.rst",
            category="6. Internal validation",
            labels={"figure": "apparent, optimism-corrected and CV AUC"},
        ),
        pdf="results/figures/validation_auc.pdf",
    log:
        "logs/plot_validation_auc.log",
    localrule: True
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/plot_validation_auc.py"


rule plot_learning_curves:
    input:
        curves=get_learning_curves,
    output:
        png=report(
            "results/figures/learning_curves.png",
            caption="../docs/report/learning_curves.rst",
            category="6. Internal validation",
            labels={"figure": "learning curves"},
        ),
        pdf="results/figures/learning_curves.pdf",
    log:
        "logs/plot_learning_curves.log",
    localrule: True
    conda:
        "../envs/figures.yaml"
    params:
        models=MODELS,
    script:
        "../scripts/plot_learning_curves.py"
