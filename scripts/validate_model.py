from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.validation import validate_model
    from radsnake.ml.settings import TrainingData

    validate_model(
        training=TrainingData(
            features_csv=snakemake.input.features,
            split_csv=snakemake.input.split,
            clinical=list(snakemake.params.clinical),
            permute=snakemake.params.permute,
            seed=snakemake.params.seed,
            harmonisation=snakemake.params.harmonisation,
            icc_csv=snakemake.input.icc[0] if snakemake.input.icc else "",
        ),
        model=snakemake.wildcards.model,
        settings=dict(snakemake.params.settings),
        chunk_files=list(snakemake.input.chunks),
        repeated_cv_csv=snakemake.output.repeated_cv,
        repeats_csv=snakemake.output.repeats,
        nested_cv_csv=snakemake.output.nested_cv,
        bootstrap_csv=snakemake.output.bootstrap,
        learning_curve_csv=snakemake.output.learning_curve,
        summary_csv=snakemake.output.summary,
        model_json=snakemake.input.model_json,
    )
