from radsnake.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.validation_jobs import validate_chunk

    validate_chunk(
        features_csv=snakemake.input.features,
        split_csv=snakemake.input.split,
        clinical=list(snakemake.params.clinical),
        models=list(snakemake.params.models),
        steps=list(snakemake.params.steps),
        param_grids=dict(snakemake.params.param_grids),
        cv_folds=snakemake.params.cv_folds,
        imbalance=snakemake.params.imbalance,
        permute=snakemake.params.permute,
        seed=snakemake.params.seed,
        settings=dict(snakemake.params.settings),
        chunk=int(snakemake.wildcards.chunk),
        n_chunks=snakemake.params.n_chunks,
        chunk_json=snakemake.output.fits,
        timings_csv=snakemake.log.timings,
        harmonisation=snakemake.params.harmonisation,
        icc_csv=snakemake.input.icc[0] if snakemake.input.icc else "",
    )
