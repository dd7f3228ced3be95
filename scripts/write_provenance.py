import json

from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.provenance import write_provenance

    write_provenance(
        output_json=snakemake.output.record,
        output_html=snakemake.output.page,
        config=json.loads(snakemake.params.config),
        sheet_path=snakemake.input.sheet,
        params_path=snakemake.input.get("params"),
        features_table=snakemake.input.get("features_table"),
        workflow_dir=snakemake.params.workflow_dir,
        lock_path=snakemake.params.lock,
        deployment=snakemake.params.deployment,
        conda_envs=list(snakemake.params.conda_envs),
    )
