# Draft masks from a seed point or box in the sheet, for human review. A draft is never
# extracted: the case waits until the sheet marks a reviewed mask accepted.
rule draft_mask:
    input:
        image=get_reference_image,
    output:
        mask="results/drafts/{case}_mask.nii.gz",
        png=report(
            "results/drafts/{case}.png",
            caption="../docs/report/draft.rst",
            category="2. Input QC",
            subcategory="Drafts for review",
            labels={"case": "{case}"},
        ),
    log:
        "logs/draft_mask/{case}.log",
    conda:
        "../envs/extract.yaml"
    threads: 1
    resources:
        mem_mb=config["resources"]["extract_mem_mb"],
    params:
        image=get_draft_image,
        seed=get_draft_seed,
        bbox=get_draft_bbox,
        method=config["drafts"]["method"],
        settings=config["drafts"]["params"],
        window=config["qc"]["overlay_window"],
    script:
        "../scripts/draft_mask.py"
