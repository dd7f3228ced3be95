from radsnake.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.validation_jobs import validate_model

    validate_model(
        features_csv=snakemake.input.features,
        split_csv=snakemake.input.split,
        clinical=list(snakemake.params.clinical),
        model=snakemake.wildcards.model,
        permute=snakemake.params.permute,
        seed=snakemake.params.seed,
        settings=dict(snakemake.params.settings),
        chunk_files=list(snakemake.input.chunks),
        repeated_cv_csv=snakemake.output.repeated_cv,
        repeats_csv=snakemake.output.repeats,
        nested_cv_csv=snakemake.output.nested_cv,
        bootstrap_csv=snakemake.output.bootstrap,
        learning_curve_csv=snakemake.output.learning_curve,
        summary_csv=snakemake.output.summary,
        harmonisation=snakemake.params.harmonisation,
        icc_csv=snakemake.input.icc[0] if snakemake.input.icc else "",
        model_json=snakemake.input.model_json,
    )
