# Feature robustness (docs/robustness.md): each planned training case is extracted again
# with a second segmentation (mask_repeat) or with perturbed masks, one job per case and
# perturbation, as the case's own extraction job (extract_features); the ICC of every
# feature then decides which features selection and the models may use.


# The case's extraction job with another mask: the second segmentation (mask_repeat),
# checked by its own QC like any mask, or the case's mask, checked, then perturbed. A
# perturbation that leaves no ROI writes an exclusion record: the ICC job lists the skip.
use rule extract_features as extract_robustness with:
    input:
        images=get_images,
        mask=get_robustness_mask,
        params=by_content([PARAMS_FILE]),
    output:
        qc="results/robustness/qc/{case}/{perturbation}.csv",
        features="results/robustness/features/{case}/{perturbation}.csv",
        diagnostics="results/robustness/diagnostics/{case}/{perturbation}.csv",
    log:
        "logs/extract_robustness/{case}/{perturbation}.log",
    benchmark:
        "benchmarks/extract_robustness/{case}/{perturbation}.tsv"
    params:
        content=get_robustness_content,
        args=case_job_args(get_robustness_spec, perturbation_flag),
        settings=case_job_settings(overlay=False),


# Training cases only (results/split.csv): the held-out sets never inform the filter.
rule robustness_icc:
    input:
        split="results/split.csv",
        original=get_robustness_originals,
        raters=get_robustness_raters,
    output:
        icc=report(
            "results/robustness/icc.csv",
            caption="../docs/report/icc_table.rst",
            category="3. Feature selection",
            subcategory="Feature robustness",
            labels={"table": "ICC per feature"},
        ),
        cases=report(
            "results/robustness/cases.csv",
            caption="../docs/report/robustness_cases.rst",
            category="3. Feature selection",
            subcategory="Feature robustness",
            labels={"table": "cases of the ICC"},
        ),
    log:
        "logs/robustness_icc.log",
    localrule: True
    conda:
        "../envs/modelling.yaml"
    resources:
        mem_mb=2000,
    params:
        cases=ROBUSTNESS_CASES,
        raters=ROBUSTNESS_RATERS,
        icc_type=ROBUSTNESS["icc_type"],
        threshold=ROBUSTNESS["icc_threshold"],
    script:
        "../scripts/robustness_icc.py"


rule plot_icc:
    input:
        icc="results/robustness/icc.csv",
    output:
        png=report(
            "results/figures/icc.png",
            caption="../docs/report/icc.rst",
            category="3. Feature selection",
            subcategory="Feature robustness",
            labels={"figure": "ICC per feature"},
        ),
        pdf="results/figures/icc.pdf",
    log:
        "logs/plot_icc.log",
    localrule: True
    conda:
        "../envs/figures.yaml"
    params:
        icc_type=ROBUSTNESS["icc_type"],
        threshold=ROBUSTNESS["icc_threshold"],
    script:
        "../scripts/plot_icc.py"
