from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.inputs import write_draft

    write_draft(
        case_id=snakemake.wildcards.case,
        image_entry=dict(snakemake.params.image),
        seed=snakemake.params.seed,
        bbox=snakemake.params.bbox,
        method=snakemake.params.method,
        params=dict(snakemake.params.settings),
        output_mask=snakemake.output.mask,
        output_png=snakemake.output.png,
        window=snakemake.params.window,
    )
