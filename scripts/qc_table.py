from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.inputs import write_qc_summary

    write_qc_summary(
        qc_files=list(snakemake.input.qc),
        pending=dict(snakemake.params.pending),
        qc_csv=snakemake.output.qc,
        excluded_csv=snakemake.output.excluded,
    )
