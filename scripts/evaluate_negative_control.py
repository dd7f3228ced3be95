from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.comparison import evaluate_negative_control

    evaluate_negative_control(
        models=list(snakemake.params.models),
        real_predictions=list(snakemake.input.real_predictions),
        real_radscore=snakemake.input.real_radscore,
        control_predictions=list(snakemake.input.control_predictions),
        control_radscore=snakemake.input.control_radscore,
        ci_level=snakemake.params.ci_level,
        table_csv=snakemake.output.table,
        sets=list(snakemake.params.sets),
        signature_files={
            **{(model, "real"): path for model, path in zip(snakemake.params.models, snakemake.input.real_info)},
            **{(model, "permuted"): path for model, path in zip(snakemake.params.models, snakemake.input.control_info)},
            ("radscore", "real"): snakemake.input.real_signature,
            ("radscore", "permuted"): snakemake.input.control_signature,
        },
    )
