from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.validation import validate_chunk
    from radsnake.ml.settings import TrainingData

    validate_chunk(
        training=TrainingData(
            features_csv=snakemake.input.features,
            split_csv=snakemake.input.split,
            clinical=list(snakemake.params.clinical),
            permute=snakemake.params.permute,
            seed=snakemake.params.seed,
            harmonisation=snakemake.params.harmonisation,
            icc_csv=snakemake.input.icc[0] if snakemake.input.icc else "",
        ),
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
