from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.comparison import compare_models

    compare_models(
        models=list(snakemake.params.models),
        selections=list(snakemake.params.selections),
        predictions=list(snakemake.input.predictions),
        cv_results=list(snakemake.input.cv_results),
        model_info=list(snakemake.input.model_info),
        ci_level=snakemake.params.ci_level,
        table_csv=snakemake.output.table,
        sets=list(snakemake.params.sets),
    )
