from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.demo import demo_case

    demo_case(
        case_id=snakemake.wildcards.case,
        label=snakemake.params.case["label"],
        center=snakemake.params.case["center"],
        seed=snakemake.params.seed,
        image_path=snakemake.output.image,
        mask_path=snakemake.output.mask,
    )
