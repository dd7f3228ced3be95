# The figures and summary of a survival study (docs/survival.md), in the report next to the
# binary study's evaluation (same section names).
SURVIVAL_UNIT = config["endpoint"]["time_unit"]


def survival_figure_sets():
    return ["train", *[s for s in evaluation_sets() if s != "train"]]


def survival_report_outputs():
    targets = expand(
        "results/survival/figures/{kind}_{set}.png", kind=["km", "calibration", "decision_curve"],
        set=survival_figure_sets(),
    )
    return targets + ["results/survival/figures/td_auc.png", "results/survival/summary.md"]


def survival_figure_outputs():
    """Every survival figure (PNG in the report, PDF beside it), one job for all: each job
    costs an interpreter start, the figures themselves take a second."""
    outputs = {}
    captions = {"km": "Kaplan-Meier by risk group", "calibration": "survival calibration",
                "decision_curve": "survival decision curve"}
    for kind, label in captions.items():
        for set_name in survival_figure_sets():
            outputs[f"{kind}_{set_name}_png"] = report(
                f"results/survival/figures/{kind}_{set_name}.png",
                caption=f"../docs/report/survival_{kind}.rst",
                category="4. Evaluation",
                subcategory="Survival",
                labels={"figure": label, "set": set_name},
            )
            outputs[f"{kind}_{set_name}_pdf"] = f"results/survival/figures/{kind}_{set_name}.pdf"
    outputs["td_auc_png"] = report(
        "results/survival/figures/td_auc.png",
        caption="../docs/report/survival_td_auc.rst",
        category="4. Evaluation",
        subcategory="Survival",
        labels={"figure": "time-dependent AUC", "set": "all"},
    )
    outputs["td_auc_pdf"] = "results/survival/figures/td_auc.pdf"
    return outputs


rule plot_survival:
    localrule: True
    input:
        metrics="results/survival/metrics.csv",
        km="results/survival/km.csv",
        groups="results/survival/risk_groups.csv",
        calibration="results/survival/calibration.csv",
        decision_curve="results/survival/decision_curve.csv",
    output:
        **survival_figure_outputs(),
    params:
        models=SURVIVAL_MODELS,
        horizons=config["endpoint"]["horizons"],
        sets=survival_figure_sets(),
        unit=SURVIVAL_UNIT,
    log:
        "logs/plot_survival.log",
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/plot_survival.py"


rule survival_summary:
    localrule: True
    input:
        metrics="results/survival/metrics.csv",
        control=branch(NEGATIVE_CONTROL, then="results/survival/negative_control/metrics.csv", otherwise=[]),
        validation=branch(SURVIVAL_VALIDATION, then="results/survival/validation/optimism.csv", otherwise=[]),
    output:
        summary=report(
            "results/survival/summary.md",
            caption="../docs/report/survival_summary.rst",
            category="1. Summary",
            labels={"table": "survival summary (Markdown)"},
        ),
    params:
        unit=SURVIVAL_UNIT,
    log:
        "logs/survival_summary.log",
    conda:
        "../envs/modelling.yaml"
    script:
        "../scripts/survival_summary.py"
