import sys

from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    import pandas as pd

    from radsnake.jobs.split import split_cases

    split_cases(
        features_csv=snakemake.input.features,
        population=pd.DataFrame(dict(snakemake.params.population)),
        method=snakemake.params.method,
        test_fraction=snakemake.params.test_fraction,
        external_centers=list(snakemake.params.external_centers),
        seed=snakemake.params.seed,
        locked_csv=snakemake.input.locked[0] if snakemake.input.locked else "",
        output_csv=snakemake.output.split,
        sets_csv=snakemake.output.sets,
        kept_csv=snakemake.params.kept,
        case_cohorts=dict(snakemake.params.cohorts),
        strata=list(snakemake.params.strata),
    )
    from radsnake.jobs.split import check_training_set

    # The config itself, not params: the checks must not rerun the split when a fold count
    # changes (each fitting job checks its own CVs again, radsnake.ml.fit_checks.check_job_size).
    cautions = check_training_set(
        features_csv=snakemake.input.features,
        split_csv=snakemake.output.split,
        config=snakemake.config,
        output_csv=snakemake.output.checks,
    )
# After the job, so that the console (not only the log) shows them.
for line in cautions:
    print(f"radsnake: caution: {line}", file=sys.stderr)
