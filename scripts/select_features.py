from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.ml.settings import TrainingData
    from radsnake.jobs.modelling import select_features

    select_features(
        training=TrainingData.of_rule(snakemake.input, snakemake.params),
        steps=list(snakemake.params.steps),
        selected_csv=snakemake.output.selected,
        coefficients_csv=snakemake.output.coefficients,
        path_csv=snakemake.output.path,
        cv_csv=snakemake.output.cv,
        radscore_csv=snakemake.output.radscore,
        radscore_joblib=snakemake.output.radscore_model,
        signature_json=snakemake.output.signature,
    )
