# The split, then the checks every fit needs (docs/design.md, "Checks before fitting").
# The kept assignment (split/assignments.csv, radsnake.cohort.split.KEPT_CSV) is read and written
# by this job but declared neither as input nor output: as an input written by its own job
# it would make Snakemake rerun the split, and then every model, on every run; as an output
# it would be deleted before the job that must read it. Adding patients reruns the split
# through features.csv and the population below.
rule split_cases:
    input:
        features="results/features.csv",
        locked=get_locked_split,
    output:
        split="results/split.csv",
        # Checks before fitting (radsnake.ml.fit_checks): written only when no check stops the
        # run, and a failed check removes split.csv too, so that no fit can start.
        checks="results/checks/training_set.csv",
        sets=report(
            "results/split_summary.csv",
            caption="../docs/report/split_summary.rst",
            category="1. Summary",
            labels={"table": "cases per set"},
        ),
    log:
        "logs/split_cases.log",
    localrule: True
    conda:
        "../envs/modelling.yaml"
    params:
        method=config["split"]["method"],
        test_fraction=config["split"]["test_fraction"],
        external_centers=config["split"]["external_centers"],
        strata=config["split"]["strata"],
        # The sheet's cases (not pending review) the first draw is made over, as
        # radsnake.cohort.split.predict_sets predicts it at parse time.
        population=SPLIT_POPULATION,
        kept=SPLIT_KEPT,
        # The sheet's `cohort` column (cases with a value only): each value is an external cohort.
        cohorts=CASE_COHORTS,
        seed=config["seed"],
    script:
        "../scripts/split_cases.py"
