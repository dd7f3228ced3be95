from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

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
