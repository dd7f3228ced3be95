# Config and cohort sheet are checked here, at parse time, before any job runs.
import json
import os
import re
import sys
from functools import cache

from snakemake.settings.types import DeploymentMethod
from snakemake.utils import validate

sys.path.insert(0, os.path.join(workflow.basedir, "scripts"))
from radsnake.cohort import case_spec, has_draft, load_cohort  # noqa: E402
from radsnake.errors import InputError  # noqa: E402
from radsnake import external  # noqa: E402


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
        modalities=config["modalities"],
    )
    if not BRING_YOUR_OWN_FEATURES:
        # PyRadiomics would check its params only inside every extraction job.
        from radsnake.params import check_params

        check_params(config["pyradiomics"]["params"])
    # External cohorts name per-set outputs, so they are fixed here, at parse time.
    CASE_COHORTS = {case: value.strip() for case, value in COHORT.get("cohort", {}).items() if value.strip()}
    EXTERNAL_COHORTS = external.external_cohorts(
        config["split"]["method"], config["split"]["external_centers"], CASE_COHORTS.values()
    )
except InputError as err:
    raise WorkflowError(f"radsnake: {err}") from None

CASES = list(COHORT.index)
# Cases whose mask a human has not accepted yet: listed in results/qc/excluded.csv, not extracted.
PENDING = {case: reason for case, reason in COHORT["pending"].items() if reason}
EXTRACT_CASES = [] if BRING_YOUR_OWN_FEATURES else [case for case in CASES if case not in PENDING]
DRAFT_CASES = [] if BRING_YOUR_OWN_FEATURES else [case for case in CASES if has_draft(COHORT.loc[case])]

# Shell rules run Python like Snakemake's script directive does: the env's under conda.
if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
    PYTHON = "python"
else:
    PYTHON = sys.executable
EXTRACT_SCRIPT = os.path.join(workflow.basedir, "scripts", "extract_features.py")
QC_SCRIPT = os.path.join(workflow.basedir, "scripts", "qc_case.py")
MODELS = config["models"]["enabled"]
EVALUATION_SETS = external.evaluation_sets(
    config["split"]["test_fraction"], EXTERNAL_COHORTS, config["split"]["pool_external"]
)


# Seconds-long rules run on the submitting node: a cluster job would cost more in queueing.
localrules:
    aggregate_features,
    import_features,
    qc_table,
    feature_dictionary,
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
    set="|".join(re.escape(name) for name in EVALUATION_SETS),


def evaluation_sets():
    """Sets that are evaluated (radsnake.external names them), known from the config and sheet alone."""
    return list(EVALUATION_SETS)


def lasso_rule():
    """How the final LASSO step picks lambda, for labelling the chosen line."""
    return config["selection"]["steps"][-1].get("rule", "1se")


def warm_worker_flag():
    return "" if config["resources"]["warm_worker"] else "--no-warm-worker"


def resample_flag():
    return "--resample" if config["qc"]["resample_to_reference"] else ""


def qc_tolerance():
    return json.dumps(config["qc"]["tolerance"], sort_keys=True)


# Memoised: a dry run of 10,000 cases asks for each case's spec from several rules.
@cache
def case_spec_of(case):
    return case_spec(
        COHORT.loc[case], config["modalities"], config["pyradiomics"]["mask_label"], config["dicom"]["series_description"]
    )


@cache
def case_spec_json(case):
    return json.dumps(case_spec_of(case), sort_keys=True)


def get_case_spec(wildcards):
    """The case's images, mask and ROI choice as JSON for the per-case CLI jobs."""
    return case_spec_json(wildcards.case)


def get_draft_image(wildcards):
    """The image a draft is drawn on (not the whole spec: accepting a mask must not redo the draft)."""
    return case_spec_of(wildcards.case)["images"][0]


def get_images(wildcards):
    return [entry["path"] for entry in case_spec_of(wildcards.case)["images"]]


def get_reference_image(wildcards):
    return case_spec_of(wildcards.case)["images"][0]["path"]


def get_mask(wildcards):
    return case_spec_of(wildcards.case)["mask"]


def get_draft_seed(wildcards):
    return COHORT.loc[wildcards.case].get("draft_seed", "")


def get_draft_bbox(wildcards):
    return COHORT.loc[wildcards.case].get("draft_bbox", "")


def get_case_qc(wildcards):
    return expand("results/qc/cases/{case}.csv", case=EXTRACT_CASES)


def get_case_features(wildcards):
    return expand("results/features/{case}.csv", case=EXTRACT_CASES)


def non_feature_columns():
    return ["case_id", "label", "center", *config["clinical"]]


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
        targets += expand("results/features/{case}.csv", case=EXTRACT_CASES)
        targets += expand("results/qc/overlays/{case}.png", case=EXTRACT_CASES)
        targets += expand("results/drafts/{case}_mask.nii.gz", case=DRAFT_CASES)
        targets += ["results/qc/qc.csv", "results/qc/excluded.csv", "results/features_dictionary.csv"]
    targets += figure_outputs()
    return targets


def figure_outputs():
    names = ["lasso_path", "correlation_heatmap", "importance", "volcano", "confusion_matrices", "radscore_violin"]
    if config["clinical"]:
        names.append("nomogram")
    names += expand("roc_{set}", set=evaluation_sets())
    names += expand("{kind}_{set}", kind=["radscore_waterfall", "calibration", "decision_curve"], set=evaluation_sets())
    return expand("results/figures/{name}.{ext}", name=names, ext=["png", "pdf"])
