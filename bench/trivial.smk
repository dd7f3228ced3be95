# The baseline of bench/planning.py: the minimal per-patient DAG, one job per case that
# reads its image and mask (through input functions, as the workflow's jobs do), plus one
# aggregate; nothing else, to time Snakemake's own planning.
include: "cases.smk"


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
