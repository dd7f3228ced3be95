from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.aggregate import write_feature_dictionary

    write_feature_dictionary(
        features_csv=snakemake.input.features,
        output_csv=snakemake.output.dictionary,
        non_feature_columns=list(snakemake.params.non_feature_columns),
    )
