from radsnake.core.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.paper import feature_statistics

    feature_statistics(
        features_csv=snakemake.input.features,
        split_csv=snakemake.input.split,
        clinical_columns=list(snakemake.params.clinical),
        test=snakemake.params.test,
        table_csv=snakemake.output.table,
        volcano_png=snakemake.output.png,
        volcano_pdf=snakemake.output.pdf,
    )
