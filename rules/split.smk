# The split, then the checks every fit needs (docs/design.md, "Checks before fitting").
rule split_cases:
    localrule: True
    input:
        features="results/features.csv",
        locked=get_locked_split,
    output:
        split="results/split.csv",
        # Checks before fitting (radsnake.fit_checks): written only when no check stops the
        # run, and a failed check removes split.csv too, so that no fit can start.
        checks="results/checks/training_set.csv",
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
