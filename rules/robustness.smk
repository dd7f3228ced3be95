# Feature robustness (docs/robustness.md): each planned training case is extracted again
# with a second segmentation (mask_repeat) or with perturbed masks, one job per case and
# perturbation through the same extraction code as extract_features; the ICC of every
# feature then decides which features selection and the models may use.


# The second segmentation gets its own input QC, with the case's image, like any mask.
rule qc_repeat:
    input:
        images=get_images,
        mask=get_repeat_mask,
        params=config["pyradiomics"]["params"],
    output:
        qc="results/robustness/qc/{case}.csv",
    params:
        content=get_repeat_content,
        spec=get_repeat_spec,
        on_fail=config["qc"]["on_fail"],
        tolerance=qc_tolerance(),
        resample=resample_flag(),
        python=PYTHON,
        script=QC_SCRIPT,
        warm_worker=warm_worker_flag(),
    log:
        "logs/qc_repeat/{case}.log",
    threads: 1
    resources:
        mem_mb=config["resources"]["extract_mem_mb"],
    conda:
        "../envs/extract.yaml"
    shell:
        "{params.python} {params.script} --case {wildcards.case} --spec {params.spec:q} "
        "--on-fail {params.on_fail} --tolerance {params.tolerance:q} {params.resample} --params {input.params:q} "
        "--qc {output.qc:q} --log {log:q} --threads {threads} {params.warm_worker}"


# A perturbation that leaves no ROI writes an exclusion record: the ICC job lists the skip.
rule extract_robustness:
    input:
        qc=get_robustness_qc,
        images=get_images,
        mask=get_robustness_mask,
        params=by_content([PARAMS_FILE]),
    output:
        features="results/robustness/features/{case}/{perturbation}.csv",
        diagnostics="results/robustness/diagnostics/{case}/{perturbation}.csv",
    params:
        content=get_robustness_content,
        spec=get_robustness_spec,
        perturbation=perturbation_flag,
        resample=resample_flag(),
        python=PYTHON,
        script=EXTRACT_SCRIPT,
        warm_worker=warm_worker_flag(),
    log:
        "logs/extract_robustness/{case}/{perturbation}.log",
    benchmark:
        "benchmarks/extract_robustness/{case}/{perturbation}.tsv"
    threads: 1
    resources:
        mem_mb=config["resources"]["extract_mem_mb"],
    conda:
        "../envs/extract.yaml"
    shell:
        "{params.python} {params.script} --case {wildcards.case} --spec {params.spec:q} "
        "--qc {input.qc:q} --params {input.params:q} {params.resample} {params.perturbation} "
        "--features {output.features:q} --diagnostics {output.diagnostics:q} --log {log:q} "
        "--threads {threads} {params.warm_worker}"


# Training cases only (results/split.csv): the held-out sets never inform the filter.
rule robustness_icc:
    localrule: True
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
    params:
        cases=ROBUSTNESS_CASES,
        raters=ROBUSTNESS_RATERS,
        icc_type=ROBUSTNESS["icc_type"],
        threshold=ROBUSTNESS["icc_threshold"],
    log:
        "logs/robustness_icc.log",
    resources:
        mem_mb=2000,
    conda:
        "../envs/modelling.yaml"
    script:
        "../scripts/robustness_icc.py"


rule plot_icc:
    localrule: True
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
    params:
        icc_type=ROBUSTNESS["icc_type"],
        threshold=ROBUSTNESS["icc_threshold"],
    log:
        "logs/plot_icc.log",
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/plot_icc.py"
