from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.validation import validate_model
    from radsnake.ml.settings import TrainingData

    validate_model(
        training=TrainingData.of_rule(snakemake.input, snakemake.params),
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
