from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.robustness import write_icc

    write_icc(
        split_csv=snakemake.input.split,
        cases=list(snakemake.params.cases),
        raters=list(snakemake.params.raters),
        original_csvs=list(snakemake.input.original),
        rater_csvs=list(snakemake.input.raters),
        icc_type=snakemake.params.icc_type,
        threshold=snakemake.params.threshold,
        icc_csv=snakemake.output.icc,
        cases_csv=snakemake.output.cases,
    )
