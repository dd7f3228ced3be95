# Apply the frozen bundles to new patients: `snakemake apply_all` (an explicit target, never
# part of the study's default run). The new cases go through the study's own per-case job
# (QC and extraction: same script, same params file, same warm worker), into
# results/apply/<name>/; it starts only once apply_check has accepted the bundles.
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
            checks=f"{APPLY_DIR}/checks.json",
        log:
            f"logs/apply_check/{APPLY_NAME}.log",
        localrule: True
        conda:
            "../envs/modelling.yaml"
        params:
            models=APPLY_MODELS,
            from_table=APPLY_FROM_TABLE,
        script:
            "../scripts/apply_check.py"

    if not APPLY_FROM_TABLE:

        use rule qc_table as apply_qc_table with:
            input:
                qc=get_apply_case_qc,
            output:
                qc=f"{APPLY_DIR}/qc/qc.csv",
                excluded=f"{APPLY_DIR}/qc/excluded.csv",
            log:
                f"logs/apply_qc_table/{APPLY_NAME}.log",
            # `with:` resets localrule to False (Snakemake 9.27.1): set it again.
            localrule: True
            params:
                pending=APPLY_PENDING,

        use rule extract_features as apply_extract_features with:
            input:
                checks=f"{APPLY_DIR}/checks.json",
                images=get_apply_images,
                mask=get_apply_mask,
                params=config["pyradiomics"]["params"],
            output:
                qc=f"{APPLY_DIR}/qc/cases/{{case}}.csv",
                features=f"{APPLY_DIR}/features/{{case}}.csv",
                diagnostics=f"{APPLY_DIR}/diagnostics/{{case}}.csv",
            log:
                f"logs/apply_extract_features/{APPLY_NAME}/{{case}}.log",
            benchmark:
                f"benchmarks/apply_extract_features/{APPLY_NAME}/{{case}}.tsv"
            params:
                content="",  # the new cases' files rerun it by modification time
                args=case_job_args(get_apply_case_spec),
                settings=case_job_settings(overlay=False),

    rule apply_features:
        input:
            checks=f"{APPLY_DIR}/checks.json",
            features=get_apply_case_features,
            table=get_apply_table,
            sheet=APPLY["cohort"],
            params=get_apply_params,
        output:
            features=f"{APPLY_DIR}/features.csv",
        log:
            f"logs/apply_features/{APPLY_NAME}.log",
        localrule: True
        conda:
            "../envs/modelling.yaml"
        params:
            schema=COHORT_SCHEMA,
        script:
            "../scripts/apply_features.py"

    if not SURVIVAL:

        rule apply_models:
            input:
                features=f"{APPLY_DIR}/features.csv",
                checks=f"{APPLY_DIR}/checks.json",
                bundles=get_apply_bundles,
                cards=get_apply_cards,
                diagnostics=get_apply_case_diagnostics,
                table=get_apply_table,
            output:
                **apply_metrics_output(),
                predictions=f"{APPLY_DIR}/predictions.csv",
            log:
                f"logs/apply_models/{APPLY_NAME}.log",
            conda:
                "../envs/modelling.yaml"
            resources:
                mem_mb=2000,
            params:
                models=APPLY_MODELS,
                ci_level=config["evaluation"]["ci_level"],
            script:
                "../scripts/apply_models.py"

    else:

        # A survival study's bundles (radsnake.jobs.survival_bundle): risk and S(h) per new case,
        # and Harrell's C when the new sheet has the time and event columns.
        rule apply_survival_models:
            input:
                features=f"{APPLY_DIR}/features.csv",
                checks=f"{APPLY_DIR}/checks.json",
                bundles=get_apply_bundles,
                cards=get_apply_cards,
                sheet=APPLY["cohort"],
                table=get_apply_table,
            output:
                **apply_metrics_output(),
                predictions=f"{APPLY_DIR}/predictions.csv",
            log:
                f"logs/apply_survival_models/{APPLY_NAME}.log",
            conda:
                "../envs/modelling.yaml"
            resources:
                mem_mb=2000,
            params:
                models=APPLY_MODELS,
                schema=COHORT_SCHEMA,
                endpoint=config["endpoint"],
            script:
                "../scripts/apply_survival_models.py"
