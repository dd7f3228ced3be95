# Per-case PyRadiomics extraction. The params file is an input: editing it reruns extraction.
rule extract_features:
    input:
        image=get_image,
        mask=get_mask,
        params=config["pyradiomics"]["params"],
    output:
        features="results/features/{case}.csv",
        diagnostics="results/diagnostics/{case}.csv",
    params:
        mask_label=get_mask_label,
        python=PYTHON,
        script=EXTRACT_SCRIPT,
        warm_worker=warm_worker_flag(),
    log:
        "logs/extract_features/{case}.log",
    benchmark:
        "benchmarks/extract_features/{case}.tsv"
    threads: 1
    resources:
        mem_mb=config["resources"]["extract_mem_mb"],
    conda:
        "../envs/extract.yaml"
    shell:
        "{params.python} {params.script} --case {wildcards.case} --image {input.image:q} "
        "--mask {input.mask:q} --params {input.params:q} --label {params.mask_label} "
        "--features {output.features:q} --diagnostics {output.diagnostics:q} --log {log:q} "
        "--threads {threads} {params.warm_worker}"
