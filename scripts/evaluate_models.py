from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.evaluation import evaluate

    evaluate(
        prediction_files=dict(zip(snakemake.params.models, snakemake.input.predictions)),
        radscore_csv=snakemake.input.radscore,
        threshold_method=snakemake.params.threshold,
        target=snakemake.params.target,
        ci_level=snakemake.params.ci_level,
        metrics_csv=snakemake.output.metrics,
        delong_csv=snakemake.output.delong,
        sets=list(snakemake.params.sets),
        signature_files={
            **dict(zip(snakemake.params.models, snakemake.input.model_info)),
            "radscore": snakemake.input.signature,
        },
    )
