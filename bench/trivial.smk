# The baseline of bench/planning.py: the minimal per-patient DAG, one job per case that
# reads its image and mask (through input functions, as the workflow's jobs do), plus one
# aggregate; nothing else, to time Snakemake's own planning.
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


rule case:
    input:
        image=image,
        mask=mask,
    output:
        "results/features/{case}.csv",
    shell:
        "touch {output}"


rule aggregate:
    input:
        expand("results/features/{case}.csv", case=CASES),
    output:
        "results/features.csv",
    shell:
        "cat {input} > {output}"
