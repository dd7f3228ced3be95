rule split_cases:
    localrule: True
    input:
        features="results/features.csv",
        locked=get_locked_split,
    output:
        split="results/split.csv",
    params:
        method=config["split"]["method"],
        test_fraction=config["split"]["test_fraction"],
        external_centers=config["split"]["external_centers"],
        # The sheet's `cohort` column (cases with a value only): each value is an external cohort.
        cohorts=CASE_COHORTS,
        seed=config["seed"],
    log:
        "logs/split_cases.log",
    conda:
        "../envs/modelling.yaml"
    script:
        "../scripts/split_cases.py"
