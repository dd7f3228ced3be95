# The synthetic demo cohort: one job per case, so that adding demo cases only makes new ones.
if config["demo"]["enabled"]:

    rule demo_case:
        output:
            image="results/demo/{case}_image.nii.gz",
            mask="results/demo/{case}_mask.nii.gz",
        log:
            "logs/demo_case/{case}.log",
        conda:
            "../envs/extract.yaml"
        threads: 1
        resources:
            mem_mb=300,
        params:
            case=get_demo_case,
            seed=config["demo"]["seed"],
        script:
            "../scripts/demo_case.py"
