from radsnake.core.runtime import job
from radsnake.core.worker import hand_to_worker

hand_to_worker(snakemake)  # the rest runs in the study's warm worker when it can (radsnake.core.worker)

with job(snakemake.log[0], snakemake.threads):
    from radsnake.figures.survival_figures import plot_survival

    plot_survival(
        tables={name: getattr(snakemake.input, name) for name in
                ("metrics", "km", "groups", "calibration", "decision_curve")},
        models=list(snakemake.params.models),
        horizons=[float(h) for h in snakemake.params.horizons],
        sets=list(snakemake.params.sets),
        unit=snakemake.params.unit,
        outputs=dict(snakemake.output.items()),
    )
