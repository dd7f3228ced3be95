from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.jobs.plots import plot_roc

    plot_roc(
        prediction_files=dict(zip(snakemake.params.models, snakemake.input.predictions)),
        radscore_csv=snakemake.input.radscore,
        metrics_csv=snakemake.input.metrics,
        set_name=snakemake.wildcards.set,
        n_boot=snakemake.params.n_boot,
        seed=snakemake.params.seed,
        png=snakemake.output.png,
        pdf=snakemake.output.pdf,
    )
