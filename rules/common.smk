# Config and cohort sheet are checked here, at parse time, before any job runs.
import os
import sys

from snakemake.settings.types import DeploymentMethod
from snakemake.utils import validate

sys.path.insert(0, os.path.join(workflow.basedir, "scripts"))
from radsnake.cohort import load_cohort  # noqa: E402
from radsnake.errors import InputError  # noqa: E402


validate(config, "../config/schemas/config.schema.yaml")

COHORT_SCHEMA = os.path.join(workflow.basedir, "config", "schemas", "cohort.schema.yaml")
BRING_YOUR_OWN_FEATURES = bool(config["features_table"])

try:
    COHORT = load_cohort(
        config["cohort"],
        COHORT_SCHEMA,
        config["clinical"],
        need_images=not BRING_YOUR_OWN_FEATURES,
        generated_files=config["demo"]["enabled"],
    )
except InputError as err:
    raise WorkflowError(f"radsnake: {err}") from None

CASES = list(COHORT.index)

# Shell rules run Python like Snakemake's script directive does: the env's under conda.
if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
    PYTHON = "python"
else:
    PYTHON = sys.executable
EXTRACT_SCRIPT = os.path.join(workflow.basedir, "scripts", "extract_features.py")
MODELS = config["models"]["enabled"]


# Seconds-long rules run on the submitting node: a cluster job would cost more in queueing.
localrules:
    aggregate_features,
    import_features,
    split_cases,
    evaluate_models,
    plot_roc,
    plot_lasso,
    plot_waterfall,
    plot_correlation,
    plot_importance,
    plot_calibration,
    plot_decision_curve,
    plot_confusion,
    plot_radscore_violin,


wildcard_constraints:
    case=r"[A-Za-z0-9][A-Za-z0-9._-]*",
    model="|".join(MODELS),
    set="train|test|external",


def evaluation_sets():
    """Sets the split can produce, known from the config alone."""
    sets = ["train"]
    if config["split"]["test_fraction"] > 0:
        sets.append("test")
    if config["split"]["method"] == "center" and config["split"]["external_centers"]:
        sets.append("external")
    return sets


def lasso_rule():
    """How the final LASSO step picks lambda, for labelling the chosen line."""
    return config["selection"]["steps"][-1].get("rule", "1se")


def warm_worker_flag():
    return "" if config["resources"]["warm_worker"] else "--no-warm-worker"


def get_image(wildcards):
    return COHORT.loc[wildcards.case, "image"]


def get_mask(wildcards):
    return COHORT.loc[wildcards.case, "mask"]


def get_mask_label(wildcards):
    value = COHORT.loc[wildcards.case].get("mask_label", "")
    return int(value) if value else config["pyradiomics"]["mask_label"]


def get_case_features(wildcards):
    return expand("results/features/{case}.csv", case=CASES)


def get_demo_case(wildcards):
    row = COHORT.loc[wildcards.case]
    return {"label": int(row["label"]), "center": row["center"]}


def get_locked_split(wildcards):
    return [config["split"]["locked"]] if config["split"]["locked"] else []


def get_param_grid(wildcards):
    return config["models"]["param_grid"].get(wildcards.model)


def get_predictions(wildcards):
    return expand("results/models/{model}/predictions.csv", model=MODELS)


def get_importances(wildcards):
    return expand("results/models/{model}/importance.csv", model=MODELS)


def all_outputs():
    """Everything a study produces; per-case files are listed so that added cases are never missed."""
    targets = [
        "results/features.csv",
        "results/split.csv",
        "results/evaluation/metrics.csv",
        "results/evaluation/delong.csv",
        "results/evaluation/summary.csv",
        "results/evaluation/feature_statistics.csv",
    ]
    if config["clinical"]:
        targets.append("results/clinical/metrics.csv")
    if not BRING_YOUR_OWN_FEATURES:
        targets += expand("results/features/{case}.csv", case=CASES)
    targets += figure_outputs()
    return targets


def figure_outputs():
    names = ["lasso_path", "correlation_heatmap", "importance", "volcano", "confusion_matrices", "radscore_violin"]
    if config["clinical"]:
        names.append("nomogram")
    names += expand("roc_{set}", set=evaluation_sets())
    names += expand("{kind}_{set}", kind=["radscore_waterfall", "calibration", "decision_curve"], set=evaluation_sets())
    return expand("results/figures/{name}.{ext}", name=names, ext=["png", "pdf"])
