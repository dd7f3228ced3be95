from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.paper import summarise_models

    summarise_models(
        prediction_files=dict(zip(snakemake.params.models, snakemake.input.predictions)),
        radscore_csv=snakemake.input.radscore,
        metrics_csv=snakemake.input.metrics,
        n_boot=snakemake.params.n_boot,
        seed=snakemake.params.seed,
        outputs=dict(snakemake.output.items()),
        sets=list(snakemake.params.sets),
        signature_json=snakemake.input.signature,
        control_csv=snakemake.input.control[0] if snakemake.input.control else "",
        report_text=snakemake.params.report_text,
    )
