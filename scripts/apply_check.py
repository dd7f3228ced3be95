from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.apply import check_bundles

    check_bundles(
        bundles=dict(zip(snakemake.params.models, zip(snakemake.input.bundles, snakemake.input.cards))),
        params_path=snakemake.input.params[0] if snakemake.input.params else None,
        from_table=snakemake.params.from_table,
        checks_json=snakemake.output.checks,
    )
