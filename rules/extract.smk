# Per-case PyRadiomics extraction. The params file is an input: editing it reruns extraction.
# The images, mask and params rerun it by content (rules/common.smk, docs/design.md).
# The case's QC row is an input too: a case that failed QC (qc.on_fail: exclude) gets an
# exclusion record instead of features.
rule extract_features:
    input:
        qc="results/qc/cases/{case}.csv",
        images=get_images,
        mask=get_mask,
        params=by_content([PARAMS_FILE]),
    output:
        features="results/features/{case}.csv",
        diagnostics="results/diagnostics/{case}.csv",
    params:
        # What the input files hold: a replaced file reruns the case whatever its time.
        content=get_extract_content,
        spec=get_case_spec,
        resample=resample_flag(),
        python=PYTHON,
        script=EXTRACT_SCRIPT,
        warm_worker=warm_worker_flag(),
    log:
        "logs/extract_features/{case}.log",
    benchmark:
        "benchmarks/extract_features/{case}.tsv"
    threads: 1
    resources:
        mem_mb=config["resources"]["extract_mem_mb"],
    conda:
        "../envs/extract.yaml"
    shell:
        "{params.python} {params.script} --case {wildcards.case} --spec {params.spec:q} "
        "--qc {input.qc:q} --params {input.params:q} {params.resample} "
        "--features {output.features:q} --diagnostics {output.diagnostics:q} --log {log:q} "
        "--threads {threads} {params.warm_worker}"
