# The baseline of bench/planning.py: the workflow's per-case shape (a QC job per case, then
# an extraction job and an overlay job that read the image, mask and QC row; one table of QC
# rows, one aggregate of features) with nothing else, to time Snakemake's own planning.
import csv

with open(config["cohort"], newline="") as handle:
    CASES = {row["case_id"]: row for row in csv.DictReader(handle)}


def image(wildcards):
    return "config/" + CASES[wildcards.case]["image"]


def mask(wildcards):
    return "config/" + CASES[wildcards.case]["mask"]


rule all:
    input:
        "results/features.csv",
        "results/qc.csv",
        expand("results/overlays/{case}.png", case=CASES),


rule qc:
    input:
        image=image,
        mask=mask,
    output:
        "results/qc/{case}.csv",
    shell:
        "touch {output}"


rule extract:
    input:
        qc="results/qc/{case}.csv",
        image=image,
        mask=mask,
    output:
        "results/features/{case}.csv",
    shell:
        "touch {output}"


rule overlay:
    input:
        qc="results/qc/{case}.csv",
        image=image,
        mask=mask,
    output:
        "results/overlays/{case}.png",
    shell:
        "touch {output}"


rule qc_table:
    input:
        expand("results/qc/{case}.csv", case=CASES),
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
