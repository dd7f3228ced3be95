# One table of all cases: from per-case PyRadiomics rows, or from the user's own table.
if BRING_YOUR_OWN_FEATURES:

    rule import_features:
        localrule: True
        input:
            table=config["features_table"],
            sheet=config["cohort"],
        output:
            features="results/features.csv",
        params:
            schema=COHORT_SCHEMA,
            clinical=config["clinical"],
            # survival: the label of features.csv is the sheet's event (radsnake.survival_cohort)
            **endpoint_param(),
        log:
            "logs/import_features.log",
        resources:
            mem_mb=2000,
        conda:
            "../envs/modelling.yaml"
        script:
            "../scripts/import_features.py"

else:

    rule aggregate_features:
        localrule: True
        input:
            features=get_case_features,
            sheet=config["cohort"],
            # Every per-case file must have been made with it (aggregation checks the hashes).
            params=config["pyradiomics"]["params"],
        output:
            features="results/features.csv",
        params:
            schema=COHORT_SCHEMA,
            clinical=config["clinical"],
            # survival: the label of features.csv is the sheet's event (radsnake.survival_cohort)
            **endpoint_param(),
        log:
            "logs/aggregate_features.log",
        benchmark:
            "benchmarks/aggregate_features.tsv"
        resources:
            mem_mb=4000,
        conda:
            "../envs/modelling.yaml"
        script:
            "../scripts/aggregate_features.py"

    # What every feature column means (image type, filter, class, IBSI code). Only for
    # PyRadiomics features: bring-your-own columns follow no naming scheme.
    rule feature_dictionary:
        localrule: True
        input:
            features="results/features.csv",
        output:
            dictionary=report(
                "results/features_dictionary.csv",
                caption="../docs/report/dictionary.rst",
                category="3. Feature selection",
                labels={"table": "feature dictionary"},
            ),
        params:
            non_feature_columns=non_feature_columns(),
        log:
            "logs/feature_dictionary.log",
        conda:
            "../envs/modelling.yaml"
        script:
            "../scripts/feature_dictionary.py"
