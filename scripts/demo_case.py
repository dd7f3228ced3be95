from radsnake.core.runtime import job

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
