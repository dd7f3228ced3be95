# One job per case (radsnake.casejob): its images and mask are read once, then checked
# (results/qc/cases/{case}.csv), extracted (features and diagnostics) and drawn (the
# review overlay). The images, mask and params file rerun it by content (the content
# param; rules/common.smk, docs/design.md). A case that fails QC stops the run
# (qc.on_fail: stop) or gets an exclusion record instead of features (exclude).
# The robustness and apply jobs are this rule with other inputs and outputs
# (rules/robustness.smk, rules/apply.smk); each named output becomes a --<name> flag.
rule extract_features:
    input:
        images=get_images,
        mask=get_mask,
        params=by_content([PARAMS_FILE]),
    output:
        qc="results/qc/cases/{case}.csv",
        features="results/features/{case}.csv",
        diagnostics="results/diagnostics/{case}.csv",
        overlay=report(
            "results/qc/overlays/{case}.png",
            caption="../docs/report/qc_overlay.rst",
            category="2. Input QC",
            subcategory="Overlays",
            labels={"case": "{case}"},
        ),
    params:
        # What the input files hold: a replaced file reruns the case whatever its time.
        content=get_extract_content,
        spec=get_case_spec,
        outputs=output_flags,
        on_fail=config["qc"]["on_fail"],
        tolerance=qc_tolerance(),
        window=f"--window {config['qc']['overlay_window']}",
        perturbation="",
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
        "{params.python} {params.script} --case {wildcards.case} --spec {params.spec:q} --params {input.params:q} "
        "{params.outputs} --on-fail {params.on_fail} --tolerance {params.tolerance:q} {params.window} "
        "{params.resample} {params.perturbation} --log {log:q} --threads {threads} {params.warm_worker}"
