# Input QC: one job per case (geometry, ROI, voxel values) and one overlay for review, then one
# table of all cases and the list of cases left out. Per-case jobs, not a checkpoint, so
# dry runs keep planning every case's extraction. Images and masks rerun them by content
# (the content param; rules/common.smk).
rule qc_case:
    input:
        images=get_images,
        mask=get_mask,
        params=config["pyradiomics"]["params"],
    output:
        qc="results/qc/cases/{case}.csv",
    params:
        content=get_case_content,
        spec=get_case_spec,
        on_fail=config["qc"]["on_fail"],
        tolerance=qc_tolerance(),
        resample=resample_flag(),
        python=PYTHON,
        script=QC_SCRIPT,
        warm_worker=warm_worker_flag(),
    log:
        "logs/qc_case/{case}.log",
    threads: 1
    resources:
        mem_mb=config["resources"]["extract_mem_mb"],
    conda:
        "../envs/extract.yaml"
    shell:
        "{params.python} {params.script} --case {wildcards.case} --spec {params.spec:q} "
        "--on-fail {params.on_fail} --tolerance {params.tolerance:q} {params.resample} --params {input.params:q} "
        "--qc {output.qc:q} --log {log:q} --threads {threads} {params.warm_worker}"


# The review overlay: its own job, so that extraction does not wait for figures.
rule qc_overlay:
    input:
        qc="results/qc/cases/{case}.csv",
        images=get_images,
        mask=get_mask,
    output:
        overlay=report(
            "results/qc/overlays/{case}.png",
            caption="../docs/report/qc_overlay.rst",
            category="2. Input QC",
            subcategory="Overlays",
            labels={"case": "{case}"},
        ),
    params:
        content=get_case_content,
        spec=get_case_spec,
        window=config["qc"]["overlay_window"],
        resample=resample_flag(),
        python=PYTHON,
        script=QC_SCRIPT,
        warm_worker=warm_worker_flag(),
    log:
        "logs/qc_overlay/{case}.log",
    threads: 1
    resources:
        mem_mb=config["resources"]["extract_mem_mb"],
    conda:
        "../envs/extract.yaml"
    shell:
        "{params.python} {params.script} --case {wildcards.case} --spec {params.spec:q} "
        "--qc {input.qc:q} --overlay {output.overlay:q} --window {params.window} "
        "{params.resample} --log {log:q} --threads {threads} {params.warm_worker}"


rule qc_table:
    localrule: True
    input:
        qc=get_case_qc,
    output:
        qc=report(
            "results/qc/qc.csv",
            caption="../docs/report/qc_table.rst",
            category="2. Input QC",
            subcategory="Tables",
            labels={"table": "input QC per case"},
        ),
        excluded=report(
            "results/qc/excluded.csv",
            caption="../docs/report/excluded.rst",
            category="2. Input QC",
            subcategory="Tables",
            labels={"table": "cases left out"},
        ),
    params:
        pending=PENDING,
    log:
        "logs/qc_table.log",
    conda:
        "../envs/extract.yaml"
    script:
        "../scripts/qc_table.py"
