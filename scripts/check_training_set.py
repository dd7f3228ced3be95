import sys

from radsnake.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.fit_checks import check_training_set

    cautions = check_training_set(
        features_csv=snakemake.input.features,
        split_csv=snakemake.input.split,
        icc_csv=snakemake.input.icc[0] if snakemake.input.icc else "",
        clinical=dict(snakemake.params.clinical),
        settings=dict(snakemake.params.settings),
        allow=list(snakemake.params.allow),
        source=snakemake.params.source,
        output_csv=snakemake.output.table,
    )
# After the job, so that the console (not only the log) shows them.
for line in cautions:
    print(f"radsnake: caution: {line}", file=sys.stderr)
