# One table of all cases: from per-case PyRadiomics rows, or from the user's own table.
if BRING_YOUR_OWN_FEATURES:

    rule import_features:
        input:
            table=config["features_table"],
            sheet=config["cohort"],
        output:
            features="results/features.csv",
        log:
            "logs/import_features.log",
        localrule: True
        conda:
            "../envs/modelling.yaml"
        resources:
            mem_mb=2000,
        params:
            **endpoint_param(),
            schema=COHORT_SCHEMA,
            clinical=config["clinical"],
            # survival: the label of features.csv is the sheet's event (radsnake.io.survival_cohort)
        script:
            "../scripts/import_features.py"

else:

    rule aggregate_features:
        input:
            features=get_case_features,
            sheet=config["cohort"],
            # Every per-case file must have been made with it (aggregation checks the hashes).
            params=config["pyradiomics"]["params"],
        output:
            features="results/features.csv",
        log:
            "logs/aggregate_features.log",
        benchmark:
            "benchmarks/aggregate_features.tsv"
        localrule: True
        conda:
            "../envs/modelling.yaml"
        resources:
            mem_mb=4000,
        params:
            **endpoint_param(),
            schema=COHORT_SCHEMA,
            clinical=config["clinical"],
            # survival: the label of features.csv is the sheet's event (radsnake.io.survival_cohort)
        script:
            "../scripts/aggregate_features.py"

    # What every feature column means (image type, filter, class, IBSI code). Only for
    # PyRadiomics features: bring-your-own columns follow no naming scheme.
    rule feature_dictionary:
        input:
            features="results/features.csv",
        output:
            dictionary=report(
                "results/features_dictionary.csv",
                caption="../docs/report/dictionary.rst",
                category="3. Feature selection",
                labels={"table": "feature dictionary"},
            ),
        log:
            "logs/feature_dictionary.log",
        localrule: True
        conda:
            "../envs/modelling.yaml"
        params:
            non_feature_columns=non_feature_columns(),
        script:
            "../scripts/feature_dictionary.py"
