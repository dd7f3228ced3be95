from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.survival import evaluate_survival

    evaluate_survival(
        prediction_files=list(snakemake.input.predictions),
        curve_files=list(snakemake.input.curves),
        models=list(snakemake.params.models),
        sets=list(snakemake.params.sets),
        horizons=[float(h) for h in snakemake.params.horizons],
        outputs=dict(snakemake.output.items()),
    )
