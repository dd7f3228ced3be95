# Apply the frozen bundles to new patients: `snakemake apply_all` (an explicit target, never
# part of the study's default run). The new cases go through the study's own per-case QC
# and extraction rules (same scripts, same params file, same warm worker), into
# results/apply/<name>/; extraction starts only once apply_check has accepted the bundles.
rule apply_all:
    input:
        get_apply_targets,


if APPLY_COHORT is not None:

    rule apply_check:
        input:
            bundles=get_apply_bundles,
            cards=get_apply_cards,
            params=get_apply_params,
        output:
            checks=APPLY_DIR + "/checks.json",
        params:
            models=APPLY_MODELS,
            from_table=APPLY_FROM_TABLE,
        log:
            "logs/apply_check/" + APPLY["name"] + ".log",
        conda:
            "../envs/modelling.yaml"
        script:
            "../scripts/apply_check.py"

    if not APPLY_FROM_TABLE:

        use rule qc_case as apply_qc_case with:
            input:
                images=get_apply_images,
                mask=get_apply_mask,
            output:
                qc=APPLY_DIR + "/qc/cases/{case}.csv",
            params:
                spec=get_apply_case_spec,
            log:
                "logs/apply_qc_case/" + APPLY["name"] + "/{case}.log",

        use rule qc_table as apply_qc_table with:
            input:
                qc=get_apply_case_qc,
            output:
                qc=APPLY_DIR + "/qc/qc.csv",
                excluded=APPLY_DIR + "/qc/excluded.csv",
            params:
                pending=APPLY_PENDING,
            log:
                "logs/apply_qc_table/" + APPLY["name"] + ".log",

        use rule extract_features as apply_extract_features with:
            input:
                checks=APPLY_DIR + "/checks.json",
                qc=APPLY_DIR + "/qc/cases/{case}.csv",
                images=get_apply_images,
                mask=get_apply_mask,
                params=config["pyradiomics"]["params"],
            output:
                features=APPLY_DIR + "/features/{case}.csv",
                diagnostics=APPLY_DIR + "/diagnostics/{case}.csv",
            params:
                spec=get_apply_case_spec,
            log:
                "logs/apply_extract_features/" + APPLY["name"] + "/{case}.log",
            benchmark:
                "benchmarks/apply_extract_features/" + APPLY["name"] + "/{case}.tsv"

    rule apply_features:
        input:
            checks=APPLY_DIR + "/checks.json",
            features=get_apply_case_features,
            table=get_apply_table,
            sheet=APPLY["cohort"],
        output:
            features=APPLY_DIR + "/features.csv",
        params:
            schema=COHORT_SCHEMA,
        log:
            "logs/apply_features/" + APPLY["name"] + ".log",
        conda:
            "../envs/modelling.yaml"
        script:
            "../scripts/apply_features.py"

    rule apply_models:
        input:
            features=APPLY_DIR + "/features.csv",
            checks=APPLY_DIR + "/checks.json",
            bundles=get_apply_bundles,
            cards=get_apply_cards,
            diagnostics=get_apply_case_diagnostics,
        output:
            predictions=APPLY_DIR + "/predictions.csv",
            **apply_metrics_output(),
        params:
            models=APPLY_MODELS,
            ci_level=config["evaluation"]["ci_level"],
            source=APPLY["features_table"] or APPLY_DIR + "/features.csv",
        log:
            "logs/apply_models/" + APPLY["name"] + ".log",
        resources:
            mem_mb=2000,
        conda:
            "../envs/modelling.yaml"
        script:
            "../scripts/apply_models.py"
