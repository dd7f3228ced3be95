from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.survival import cox_tables

    cox_tables(
        radscore_csv=snakemake.input.radscore,
        features_csv=snakemake.input.features,
        clinical=dict(snakemake.params.clinical),
        outputs=dict(snakemake.output.items()),
    )
