# Input QC: each case's QC row and review overlay come from its extraction job
# (rules/extract.smk); here, one table of all cases and the list of cases left out.


rule qc_table:
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
    log:
        "logs/qc_table.log",
    localrule: True
    conda:
        "../envs/extract.yaml"
    params:
        pending=PENDING,
    script:
        "../scripts/qc_table.py"
