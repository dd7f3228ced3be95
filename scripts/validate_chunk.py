from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.validation import validate_chunk
    from radsnake.ml.settings import TrainingData

    validate_chunk(
        training=TrainingData.of_rule(snakemake.input, snakemake.params),
        models=list(snakemake.params.models),
        steps=list(snakemake.params.steps),
        param_grids=dict(snakemake.params.param_grids),
        cv_folds=snakemake.params.cv_folds,
        imbalance=snakemake.params.imbalance,
        settings=dict(snakemake.params.settings),
        chunk=int(snakemake.wildcards.chunk),
        n_chunks=snakemake.params.n_chunks,
        chunk_json=snakemake.output.fits,
        timings_csv=snakemake.log.timings,
    )
