from radsnake.runtime import job

with job(snakemake.log[0], snakemake.threads):
    from radsnake.extract import extract_case

    extract_case(
        case_id=snakemake.wildcards.case,
        image_path=snakemake.input.image,
        mask_path=snakemake.input.mask,
        params_path=snakemake.input.params,
        mask_label=snakemake.params.mask_label,
        features_csv=snakemake.output.features,
        diagnostics_csv=snakemake.output.diagnostics,
    )
