# The second baseline of bench/planning.py: the minimal per-patient DAG (bench/trivial.smk)
# with what issue 16's item 1 and the project's standards ask of every case job, and nothing
# of radsnake's own: the image, the mask and the PyRadiomics params file in (a settings file
# that changes results is an input); the QC row, features, diagnostics and overlay out (item
# 1); a log (every rule has one); a param holding what the inputs contain (reruns by content);
# and the two tables that read every case's file (the QC table and the feature table).
# The workflow's ratio to this one is its own planning cost beyond those requirements.
import hashlib


include: "cases.smk"


def content(wildcards):
    row = CASES[wildcards.case]
    return hashlib.sha256((row["image"] + row["mask"] + config["params"]).encode()).hexdigest()


rule all:
    input:
        "results/features.csv",
        "results/qc.csv",


rule case:
    input:
        image=image,
        mask=mask,
        params=config["params"],
    output:
        qc="results/qc/cases/{case}.csv",
        features="results/features/{case}.csv",
        diagnostics="results/diagnostics/{case}.csv",
        overlay="results/qc/overlays/{case}.png",
    log:
        "logs/case/{case}.log",
    params:
        content=content,
    shell:
        "touch {output} {log}"


rule qc_table:
    input:
        expand("results/qc/cases/{case}.csv", case=CASES),
    output:
        "results/qc.csv",
    shell:
        "cat {input} > {output}"


rule aggregate:
    input:
        expand("results/features/{case}.csv", case=CASES),
    output:
        "results/features.csv",
    shell:
        "cat {input} > {output}"
