# One job per case (radsnake.jobs.casejob): its images and mask are read once, then checked
# (results/qc/cases/{case}.csv), extracted (features and diagnostics) and drawn (the
# review overlay). The images, mask and params file rerun it by content (the content
# param; rules/common.smk, docs/design.md). A case that fails QC stops the run
# (qc.on_fail: stop) or gets an exclusion record instead of features (exclude).
# The robustness and apply jobs are this rule with other inputs and outputs
# (rules/robustness.smk, rules/apply.smk); each named output becomes a --<name> flag.
rule extract_features:
    input:
        unpack(get_case_files),
        # The PyRadiomics params file is an input (it changes the features); its content,
        # not its time, reruns the cases (by_content, the content param).
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
    log:
        "logs/extract_features/{case}.log",
    benchmark:
        "benchmarks/extract_features/{case}.tsv"
    conda:
        "../envs/extract.yaml"
    threads: 1
    resources:
        mem_mb=config["resources"]["extract_mem_mb"],
    # Few inputs, params, input functions and fields in the command: each costs
    # Snakemake's planning time per case (docs/benchmarks.md, planning).
    params:
        # What the input files and the params file hold: a replaced file reruns the case
        # whatever its time.
        content=get_extract_content,
        # --case, --spec and the outputs (case_job_args in rules/common.smk).
        args=case_job_args(get_case_spec),
        # The interpreter, script, params file, QC settings, the overlay window and the
        # worker choice: a change reruns every case.
        settings=case_job_settings(overlay=True),
    shell:
        "{params.settings} {params.args} --log {log:q} --threads {threads}"
