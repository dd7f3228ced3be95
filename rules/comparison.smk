# Every model x selection combination, so readers can see the configured choice was not
# cherry-picked. The configured selection ("main") is the main branch's own fits; each
# alternative of comparison.selections refits every model with the same rule (`use rule`).
use rule fit_model as comparison_fit_model with:
    output:
        predictions="results/comparison/{selection}/{model}/predictions.csv",
        model="results/comparison/{selection}/{model}/model.joblib",
        model_info="results/comparison/{selection}/{model}/model.json",
        cv_results="results/comparison/{selection}/{model}/cv_results.csv",
        importance="results/comparison/{selection}/{model}/importance.csv",
    log:
        "logs/comparison_fit_model/{selection}/{model}.log",
    benchmark:
        "benchmarks/comparison_fit_model/{selection}/{model}.tsv"
    params:
        steps=get_comparison_steps,
        selection_setting=lambda wildcards: f"comparison.selections.{wildcards.selection}",


rule compare_models:
    input:
        predictions=comparison_files("predictions.csv"),
        cv_results=comparison_files("cv_results.csv"),
        model_info=comparison_files("model.json"),
    output:
        table=report(
            "results/evaluation/model_comparison.csv",
            caption="../docs/report/model_comparison_table.rst",
            category="7. Model comparison",
            labels={"table": "model x selection comparison"},
        ),
    log:
        "logs/compare_models.log",
    localrule: True
    conda:
        "../envs/modelling.yaml"
    params:
        models=MODELS,
        selections=comparison_selections(),
        ci_level=config["evaluation"]["ci_level"],
        sets=EVALUATION_SETS,
    script:
        "../scripts/compare_models.py"


rule plot_model_comparison:
    input:
        table="results/evaluation/model_comparison.csv",
    output:
        png=report(
            "results/figures/model_comparison.png",
            caption="../docs/report/model_comparison.rst",
            category="7. Model comparison",
            labels={"figure": "model x selection comparison"},
        ),
        pdf="results/figures/model_comparison.pdf",
    log:
        "logs/plot_model_comparison.log",
    localrule: True
    conda:
        "../envs/figures.yaml"
    params:
        ci_level=config["evaluation"]["ci_level"],
    script:
        "../scripts/plot_model_comparison.py"
