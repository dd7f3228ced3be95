from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.survival import compare_clinical_models

    compare_clinical_models(
        features_csv=snakemake.input.features,
        split_csv=snakemake.input.split,
        radscore_csv=snakemake.input.radscore,
        clinical=dict(snakemake.params.clinical),
        missing_policy=snakemake.params.missing_policy,
        sheet=snakemake.params.sheet,
        horizons=[float(h) for h in snakemake.params.horizons],
        unit=snakemake.params.unit,
        outputs=dict(snakemake.output.items()),
    )
