# Checks before fitting (docs/design.md): plausibility of the features and the outcome and
# size checks of every set, on the split, in one job that every fit depends on. Fits take
# its table as ancient(): editing a fold count reruns this seconds-long check, and only the
# fits whose own settings changed.
rule check_training_set:
    localrule: True
    input:
        features="results/features.csv",
        split="results/split.csv",
        icc=get_icc_table,
    output:
        table="results/checks/training_set.csv",
    params:
        clinical=config["clinical"],
        settings=fit_check_settings(),
        allow=config["plausibility"]["allow"],
        source=os.path.abspath(config["features_table"]) if BRING_YOUR_OWN_FEATURES else "results/features.csv",
    log:
        "logs/check_training_set.log",
    conda:
        "../envs/modelling.yaml"
    script:
        "../scripts/check_training_set.py"
