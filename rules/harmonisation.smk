# ComBat fitted on the training cases, as the first step of every model's Pipeline does,
# and its effect per centre for the report. Only when harmonisation.method is combat.
rule harmonise_features:
    input:
        features="results/features.csv",
        split="results/split.csv",
    output:
        harmonised="results/harmonisation/harmonised_features.csv",
        parameters="results/harmonisation/parameters.csv",
        centre_effect="results/harmonisation/centre_effect.csv",
        pca="results/harmonisation/pca.csv",
    log:
        "logs/harmonise_features.log",
    localrule: True
    conda:
        "../envs/modelling.yaml"
    params:
        clinical=list(config["clinical"]),
        harmonisation=harmonisation_settings(),
        permute=config["negative_control"]["permute_labels"],
        seed=config["seed"],
    script:
        "../scripts/harmonise_features.py"


rule plot_harmonisation:
    input:
        pca="results/harmonisation/pca.csv",
        centre_effect="results/harmonisation/centre_effect.csv",
    output:
        png=report(
            "results/figures/harmonisation.png",
            caption="../docs/report/harmonisation.rst",
            category="3. Feature selection",
            subcategory="Harmonisation (ComBat)",
            labels={"figure": "harmonisation before/after"},
        ),
        pdf="results/figures/harmonisation.pdf",
    log:
        "logs/plot_harmonisation.log",
    localrule: True
    conda:
        "../envs/figures.yaml"
    params:
        unseen_batch=config["harmonisation"]["unseen_batch"],
    script:
        "../scripts/plot_harmonisation.py"
