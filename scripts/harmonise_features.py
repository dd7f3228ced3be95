from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.harmonisation import harmonise_features

    harmonise_features(
        features_csv=snakemake.input.features,
        split_csv=snakemake.input.split,
        clinical=list(snakemake.params.clinical),
        harmonisation=snakemake.params.harmonisation,
        permute=snakemake.params.permute,
        seed=snakemake.params.seed,
        harmonised_csv=snakemake.output.harmonised,
        parameters_csv=snakemake.output.parameters,
        centre_effect_csv=snakemake.output.centre_effect,
        pca_csv=snakemake.output.pca,
    )
