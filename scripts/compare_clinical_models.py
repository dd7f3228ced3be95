from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.paper import clinical_comparison

    clinical_comparison(
        features_csv=snakemake.input.features,
        split_csv=snakemake.input.split,
        radscore_csv=snakemake.input.radscore,
        clinical_columns=dict(snakemake.params.clinical),
        threshold_method=snakemake.params.threshold,
        target=snakemake.params.target,
        ci_level=snakemake.params.ci_level,
        outputs=dict(snakemake.output.items()),
        sets=list(snakemake.params.sets),
        missing_policy=snakemake.params.missing_policy,
        sheet=snakemake.params.sheet,
        penalty=snakemake.params.penalty,
        signature_json=snakemake.input.signature,
    )
