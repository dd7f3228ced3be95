# Config and cohort sheet are checked here, at parse time, before any job runs.
import glob
import json
import os
import re
import shlex
import sys
from functools import cache

from snakemake.logging import logger
from snakemake.settings.types import DeploymentMethod
from snakemake import __version__ as SNAKEMAKE_VERSION
from snakemake.utils import validate

sys.path.insert(0, os.path.join(workflow.basedir, "scripts"))
from radsnake.io.cohort_sheet import case_spec, has_draft, load_cohort  # noqa: E402
from radsnake.core.errors import InputError  # noqa: E402
from radsnake.core.snakemake_fixes import apply as apply_snakemake_fixes, unsupported_version  # noqa: E402

# The fixes below are written for the pinned Snakemake: another version stops here, in one line.
if unsupported_version(SNAKEMAKE_VERSION):
    print(unsupported_version(SNAKEMAKE_VERSION), file=sys.stderr)
    sys.exit(1)
# One pending scheduler wake-up instead of one per finished job (see the module's docstring).
apply_snakemake_fixes(SNAKEMAKE_VERSION)
from radsnake.io import external  # noqa: E402

# --- The study. The user's --configfile is the whole truth: no other config is read, and
# missing keys take the schema's defaults. With no --configfile, the demo study runs.
# The study folder (the config's folder, or its study_dir) becomes the working directory,
# so each study has its own results/, logs/ and .snakemake/ (locks, metadata).
from radsnake.core import parse_checks, study  # noqa: E402

CONFIG_SCHEMA = os.path.join(workflow.basedir, "config", "schemas", "config.schema.yaml")
if workflow.overwrite_configfiles:
    CONFIG_FILE = str(workflow.overwrite_configfiles[0])
else:
    CONFIG_FILE = os.path.join(workflow.basedir, "config", "demo", "config.yaml")
    workflow.configfile(CONFIG_FILE)


def stop(message):
    """A one-line (or one-line-per-problem) message instead of a traceback or schema dump."""
    print(message, file=sys.stderr)
    sys.exit(1)


_given_paths = study.given_paths(config)


def check_config(config):
    """Every schema problem in one message, else the schema's defaults filled in."""
    problems = study.config_problems(config, study.load_schema(CONFIG_SCHEMA))
    if problems:
        stop(f"radsnake: {CONFIG_FILE}: " + "\n".join(problems))
    validate(config, CONFIG_SCHEMA)


# Not again for a config that passed before in this study (radsnake.core.parse_checks),
# whose record is kept in the study folder: -d/--directory's when given (it wins over
# study_dir, below).
if workflow.overwrite_workdir:
    _record_dir = os.getcwd()
elif isinstance(config.get("study_dir", ""), str):
    _record_dir = study.study_folder(config, CONFIG_FILE)
else:
    _record_dir = ""  # a study_dir of the wrong type: no record, the check names it
if workflow.modifier.skip_validation:  # used as a module that skips validation: no record
    check_config(config)
else:
    parse_checks.checked_config(
        config,
        CONFIG_SCHEMA,
        [study.__file__, os.path.join(workflow.basedir, "rules", "common.smk")],
        parse_checks.versions("snakemake", "jsonschema", "referencing", "PyYAML", "yte"),
        _record_dir,
        check_config,
    )
_study_folder = study.study_folder(config, CONFIG_FILE)
if not os.path.isdir(_study_folder):
    stop(f"radsnake: {CONFIG_FILE}: study_dir {_study_folder} is not a folder")


workdir: _study_folder


STUDY_DIR = os.getcwd()  # -d/--directory, when given, wins over study_dir
# A read-only or full study folder: one line now, not Snakemake's traceback mid-run.
from radsnake.core.faults import study_folder_fault  # noqa: E402
from radsnake.core.snakemake_fixes import move_run_log  # noqa: E402

_folder_fault = study_folder_fault(STUDY_DIR)
try:
    move_run_log(workflow.logger_manager, STUDY_DIR)
except OSError:
    if not _folder_fault:
        raise
if _folder_fault and not workflow.dryrun:
    stop(f"radsnake: {_folder_fault}")
study.resolve_paths(config, _given_paths, os.path.dirname(CONFIG_FILE), STUDY_DIR, workflow.basedir)

COHORT_SCHEMA = os.path.join(workflow.basedir, "config", "schemas", "cohort.schema.yaml")
BRING_YOUR_OWN_FEATURES = bool(config["features_table"])
SURVIVAL = config["endpoint"]["type"] == "survival"


def endpoint_param():
    """The endpoint as a param of the jobs reading the sheet, in survival studies only (so
    that binary studies keep their params, and their outputs, as before)."""
    return {"endpoint": config["endpoint"]} if SURVIVAL else {}


try:
    COHORT = load_cohort(
        config["cohort"],
        COHORT_SCHEMA,
        config["clinical"],
        need_images=not BRING_YOUR_OWN_FEATURES,
        generated_files=config["demo"]["enabled"],
        modalities=config["modalities"],
        endpoint=config["endpoint"] if SURVIVAL else None,
    )
    if not BRING_YOUR_OWN_FEATURES:
        # PyRadiomics would check its params only inside every extraction job.
        from radsnake.io import params as params_check

        parse_checks.checked_params(
            config["pyradiomics"]["params"],
            config["pyradiomics"]["mask_label"],
            [params_check.__file__],
            parse_checks.versions("pyradiomics", "pykwalify", "PyYAML", "ruamel.yaml"),
            params_check.check_params,
        )
    # External cohorts name per-set outputs, so they are fixed here, at parse time.
    CASE_COHORTS = {case: value.strip() for case, value in COHORT.get("cohort", {}).items() if value.strip()}
    EXTERNAL_COHORTS = external.external_cohorts(
        config["split"]["method"], config["split"]["external_centers"], CASE_COHORTS.values()
    )
    # The split (rules/split.smk, radsnake.cohort.split): the population of its first draw, and
    # the assignment kept in the study folder, known here so that sets can be predicted.
    from radsnake.cohort import split as splitting

    splitting.check_strata(config["split"]["strata"], config["clinical"])
    SPLIT_POPULATION = splitting.draw_population(COHORT, config["split"]["strata"]).to_dict("list")
    SPLIT_KEPT = splitting.KEPT_CSV
    _adopted = splitting.adopt_earlier_split(SPLIT_KEPT, splitting.EARLIER_SPLIT_CSV)
    if _adopted:
        logger.info(_adopted)
    splitting.read_kept(SPLIT_KEPT, "")  # a damaged kept split stops here, before any job
    if SURVIVAL:  # horizons and events per variable, on the planned training set
        from radsnake.imaging.robustness import planned_sets
        from radsnake.io.survival_cohort import study_problems

        _survival_problems = study_problems(
            COHORT,
            planned_sets(COHORT, config["split"], config["seed"], CASE_COHORTS, SPLIT_KEPT),
            config["endpoint"],
            os.path.abspath(config["cohort"]),
        )
        if _survival_problems:
            stop("\n".join(f"radsnake: {line}" for line in _survival_problems))
except InputError as err:
    stop(f"radsnake: {err}")
for _note in COHORT.attrs.get("notes", []):
    logger.warning(f"radsnake: warning: cohort sheet {os.path.abspath(config['cohort'])}: {_note}")

CASES = list(COHORT.index)
# The sheet's rows as dicts: a pandas .loc per case cost seconds of planning at 10,000 cases.
COHORT_ROWS = COHORT.to_dict("index")
# Cases whose mask a human has not accepted yet: listed in results/qc/excluded.csv, not extracted.
PENDING = {case: reason for case, reason in COHORT["pending"].items() if reason}
EXTRACT_CASES = [] if BRING_YOUR_OWN_FEATURES else [case for case in CASES if case not in PENDING]
DRAFT_CASES = [] if BRING_YOUR_OWN_FEATURES else [case for case in CASES if has_draft(COHORT_ROWS[case])]


def check_clinical_values():
    """Empty clinical cells and categories unseen in training, per planned set, before any
    job (radsnake.io.clinical_data; the sets come from radsnake.imaging.robustness.planned_sets)."""
    if not config["clinical"]:
        return
    from radsnake.io.clinical_data import check_clinical
    from radsnake.imaging.robustness import planned_sets

    modelled = COHORT.loc[CASES if BRING_YOUR_OWN_FEATURES else EXTRACT_CASES]
    harmonisation = config["harmonisation"]
    try:
        sets = planned_sets(modelled, config["split"], config["seed"], CASE_COHORTS)
    except InputError:
        # A split that cannot be made stops the split job with its own message; the
        # clinical job checks its values again on the split it gets.
        return
    try:
        imputed = check_clinical(
            modelled,
            config["clinical"],
            sets,
            config["clinical_missing"],
            protected=harmonisation["covariates"] if harmonisation["method"] != "none" else (),
            source=os.path.abspath(config["cohort"]),
        )
    except InputError as err:
        stop(f"radsnake: {err}")
    if imputed:
        logger.info(
            f"radsnake: clinical_missing: impute: {len(imputed)} clinical value(s) will be imputed from the "
            "training cases (listed in results/clinical/imputation.csv)"
        )


check_clinical_values()


def clinical_imputation_output():
    """results/clinical/imputation.csv, made when clinical_missing is impute."""
    return {"imputation": "results/clinical/imputation.csv"} if config["clinical_missing"] == "impute" else {}


# Feature robustness (rules/robustness.smk): which planned training cases get extra
# extraction jobs, and with which raters, fixed at parse time so dry runs plan them.
ROBUSTNESS = config["robustness"]
ROBUSTNESS_PLAN = None
if ROBUSTNESS["enabled"]:
    if BRING_YOUR_OWN_FEATURES:
        stop(
            "radsnake: robustness needs the images and masks (it re-extracts features with other "
            "segmentations), but features_table is set. Set robustness.enabled: false, or extract."
        )
    from radsnake.imaging.robustness import plan, planned_training_cases

    try:
        ROBUSTNESS_PLAN = plan(
            planned_training_cases(COHORT, config["split"], config["seed"], CASE_COHORTS, SPLIT_KEPT),
            {case for case in EXTRACT_CASES if COHORT_ROWS[case].get("mask_repeat", "")},
            ROBUSTNESS["source"],
            list(ROBUSTNESS["perturbations"]),
            ROBUSTNESS["max_cases"],
            ROBUSTNESS["min_repeat_cases"],
            config["seed"],
        )
    except InputError as err:
        stop(f"radsnake: {err}")
    logger.info(ROBUSTNESS_PLAN.note)
ROBUSTNESS_CASES = list(ROBUSTNESS_PLAN.cases) if ROBUSTNESS_PLAN else []
ROBUSTNESS_RATERS = list(ROBUSTNESS_PLAN.raters) if ROBUSTNESS_PLAN else []

# Shell rules run Python like Snakemake's script directive does: the env's under conda.
if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
    PYTHON = "python"
else:
    PYTHON = sys.executable
EXTRACT_SCRIPT = os.path.join(workflow.basedir, "scripts", "extract_features.py")
MODELS = config["models"]["enabled"]
HARMONISE = config["harmonisation"]["method"] != "none"
NEGATIVE_CONTROL = config["negative_control"]["enabled"]
# Jobs the internal validation's fits are dealt into (rules/validation.smk).
VALIDATION_CHUNKS = config["validation"]["chunks"]
# Alternative selections of the model comparison; the configured one is always "main".
ALTERNATIVE_SELECTIONS = list(config["comparison"]["selections"])
if "main" in ALTERNATIVE_SELECTIONS:
    stop(
        "radsnake: comparison.selections: the name 'main' is reserved for selection.steps "
        "(always compared); give that alternative another name."
    )
EVALUATION_SETS = external.evaluation_sets(
    config["split"]["test_fraction"], EXTERNAL_COHORTS, config["split"]["pool_external"]
)


wildcard_constraints:
    case=r"[A-Za-z0-9][A-Za-z0-9._-]*",
    model="|".join(MODELS),
    set="|".join(re.escape(name) for name in EVALUATION_SETS),
    selection="|".join(ALTERNATIVE_SELECTIONS) or "(?!)",
    perturbation="erode|dilate|translate_x|translate_y|repeat",


def check_harmonisation():
    """The harmonisation section must name columns the features table will have."""
    settings = config["harmonisation"]
    if not HARMONISE:
        return
    undeclared = [name for name in settings["covariates"] if name not in config["clinical"]]
    if undeclared:
        stop(f"radsnake: harmonisation.covariates {undeclared} must be declared under clinical")
    batch = settings["batch_column"]
    if batch != "center" and config["clinical"].get(batch) != "categorical":
        stop(f"radsnake: harmonisation.batch_column {batch!r} must be center or a categorical clinical column")
    if batch in settings["covariates"]:
        stop(f"radsnake: harmonisation.batch_column {batch!r} cannot also be a protected covariate")


check_harmonisation()


def harmonisation_settings():
    """The harmonisation section plus each covariate's type, or None when it is off."""
    if not HARMONISE:
        return None
    settings = dict(config["harmonisation"])
    settings["covariate_types"] = {name: config["clinical"][name] for name in settings["covariates"]}
    return settings


def harmonisation_outputs():
    if not HARMONISE:
        return []
    return [
        "results/harmonisation/harmonised_features.csv",
        "results/harmonisation/parameters.csv",
        "results/harmonisation/centre_effect.csv",
        "results/harmonisation/pca.csv",
    ]


def evaluation_sets():
    """Sets that are evaluated (radsnake.io.external names them), known from the config and sheet alone."""
    return list(EVALUATION_SETS)


def lasso_rule():
    """How the final LASSO step picks lambda, for labelling the chosen line."""
    return config["selection"]["steps"][-1].get("rule", "1se")


def warm_worker_flag():
    return "" if config["resources"]["warm_worker"] else "--no-warm-worker"


def resample_flag():
    return "--resample" if config["qc"]["resample_to_reference"] else ""


def case_job_args(spec_of, perturbation_of=None):
    """The per-case job's --case, --spec, outputs (--qc X --features Y ...) and, for the
    robustness jobs, --perturbation, as one param: the robustness and apply jobs (derived
    with `use rule`) name other outputs and specs. `spec_of(wildcards)` is the spec's JSON,
    `perturbation_of(wildcards)` the flag ("" for none)."""

    def args(wildcards, output):
        outputs = " ".join(f"--{name} {shlex.quote(str(path))}" for name, path in output.items())
        flag = f" {perturbation_of(wildcards)}" if perturbation_of and perturbation_of(wildcards) else ""
        return f"--case {wildcards.case} --spec {shlex.quote(spec_of(wildcards))} {outputs}{flag}"

    return args


def case_job_settings(overlay):
    """The interpreter, script, params file and study-wide settings of the per-case job,
    as one string (rules/code.smk finds the script in it)."""
    settings = [
        shlex.quote(PYTHON),
        shlex.quote(EXTRACT_SCRIPT),
        f"--params {shlex.quote(PARAMS_FILE)}",
        f"--on-fail {config['qc']['on_fail']}",
        f"--tolerance {shlex.quote(qc_tolerance())}",
        resample_flag(),
        f"--window {config['qc']['overlay_window']}" if overlay else "",
        warm_worker_flag(),
    ]
    return " ".join(part for part in settings if part)


def qc_tolerance():
    return json.dumps(config["qc"]["tolerance"], sort_keys=True)


def spec_of_row(record):
    """A sheet row's spec (radsnake.io.cohort_sheet.case_spec) with the study-wide reading settings."""
    spec = case_spec(
        record, config["modalities"], config["pyradiomics"]["mask_label"], config["dicom"]["series_description"]
    )
    if config["qc"].get("mask_threshold") is not None:  # only when set: other studies keep their specs
        spec["mask_threshold"] = float(config["qc"]["mask_threshold"])
    return spec


# Memoised: a dry run of 10,000 cases asks for each case's spec from several rules.
@cache
def case_spec_of(case):
    return spec_of_row(COHORT_ROWS[case])


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
    return by_content(case_image_paths(wildcards.case))


def get_case_files(wildcards):
    """The case's images and mask (one input function: each costs planning time)."""
    spec = case_spec_of(wildcards.case)
    return {"images": by_content([entry["path"] for entry in spec["images"]]), "mask": by_content([spec["mask"]])}


def case_image_paths(case):
    return [entry["path"] for entry in case_spec_of(case)["images"]]


def get_reference_image(wildcards):
    return case_spec_of(wildcards.case)["images"][0]["path"]


def get_mask(wildcards):
    return by_content([case_spec_of(wildcards.case)["mask"]])


# --- Reruns by content (radsnake.core.fingerprints, docs/design.md#reruns-by-content): the
# per-case rules take the files the study reads as ancient() inputs (their modification
# times trigger nothing) and the SHA-256 of their contents as a param (Snakemake's params
# trigger reruns a job whose param changed). Files a rule writes (the demo's images, draft
# masks under results/) keep Snakemake's usual modification-time reruns.
@cache
def tracked_by_content(path):
    results = os.path.join(STUDY_DIR, "results") + os.sep
    return os.path.exists(path) and not os.path.abspath(path).startswith(results)


def by_content(paths):
    return [ancient(path) if tracked_by_content(path) else path for path in paths]


def content_of(paths):
    return FINGERPRINTS.of([path for path in paths if tracked_by_content(path)])


PARAMS_FILE = config["pyradiomics"]["params"]


def case_input_files(case):
    files = [*case_image_paths(case), case_spec_of(case)["mask"]]
    if case in ROBUSTNESS_CASES and COHORT_ROWS[case].get("mask_repeat", ""):
        files.append(COHORT_ROWS[case]["mask_repeat"])
    return files


def get_extract_content(wildcards):
    return content_of([*case_image_paths(wildcards.case), case_spec_of(wildcards.case)["mask"], PARAMS_FILE])


def get_robustness_content(wildcards):
    case = wildcards.case
    mask = COHORT.loc[case]["mask_repeat"] if wildcards.perturbation == "repeat" else case_spec_of(case)["mask"]
    return content_of([*case_image_paths(case), mask, PARAMS_FILE])


from radsnake.core.fingerprints import Fingerprints  # noqa: E402

FINGERPRINTS = Fingerprints()
FINGERPRINTS.update(
    path
    for path in [PARAMS_FILE if EXTRACT_CASES else None, *(f for case in EXTRACT_CASES for f in case_input_files(case))]
    if path and tracked_by_content(path)
)
FINGERPRINTS.save()


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


def report_text():
    overview = os.path.join(_study_folder, "results", "report_overview.rst")
    return overview if os.path.exists(overview) else "docs/report/workflow.rst"


def get_model_info(wildcards):
    return expand("results/models/{model}/model.json", model=MODELS)


def get_control_model_info(wildcards):
    return expand("results/negative_control/models/{model}/model.json", model=MODELS)


def get_importances(wildcards):
    return expand("results/models/{model}/importance.csv", model=MODELS)


def get_validation_summaries(wildcards):
    return expand("results/validation/{model}/summary.csv", model=MODELS)


def get_learning_curves(wildcards):
    return expand("results/validation/{model}/learning_curve.csv", model=MODELS)


def get_control_predictions(wildcards):
    return expand("results/negative_control/models/{model}/predictions.csv", model=MODELS)


def get_comparison_steps(wildcards):
    return config["comparison"]["selections"][wildcards.selection]


def comparison_selections():
    return ["main", *ALTERNATIVE_SELECTIONS]


def comparison_files(name):
    """One file per selection x model (selection-major); "main" is the main branch's own fit."""
    files = []
    for selection in comparison_selections():
        folder = "results/models" if selection == "main" else f"results/comparison/{selection}"
        files += expand("{folder}/{model}/{name}", folder=folder, model=MODELS, name=name)
    return files


def repeat_spec_json(case):
    """The case's spec with its second segmentation (mask_repeat) as the mask."""
    spec = dict(case_spec_of(case))
    spec["mask"] = COHORT.loc[case]["mask_repeat"]
    return json.dumps(spec, sort_keys=True)


def get_robustness_spec(wildcards):
    """The spec of a robustness job: the repeat job reads mask_repeat, the others perturb the mask."""
    if wildcards.perturbation == "repeat":
        return repeat_spec_json(wildcards.case)
    return case_spec_json(wildcards.case)


def get_robustness_mask(wildcards):
    return get_repeat_mask(wildcards) if wildcards.perturbation == "repeat" else get_mask(wildcards)


def perturbation_flag(wildcards):
    return "" if wildcards.perturbation == "repeat" else f"--perturbation {wildcards.perturbation}"


def get_repeat_mask(wildcards):
    return by_content([COHORT.loc[wildcards.case]["mask_repeat"]])


def get_robustness_originals(wildcards):
    return expand("results/features/{case}.csv", case=ROBUSTNESS_CASES)


def get_robustness_raters(wildcards):
    """Case by case, one feature file per rater, in ROBUSTNESS_PLAN.raters order."""
    return [
        f"results/robustness/features/{case}/{rater}.csv" for case in ROBUSTNESS_CASES for rater in ROBUSTNESS_RATERS
    ]


def get_icc_table(wildcards):
    """The ICC table filters the features of selection and models when robustness is on."""
    return ["results/robustness/icc.csv"] if ROBUSTNESS["enabled"] else []


def all_outputs():
    """Everything a study produces. Per-case files come in through the tables that gather them."""
    if SURVIVAL:  # a survival study: its own models and statistics (rules/survival.smk)
        return ["results/features.csv", "results/split.csv", *survival_outputs(), PROVENANCE_JSON]
    targets = [
        "results/features.csv",
        "results/split.csv",
        "results/evaluation/metrics.csv",
        "results/evaluation/delong.csv",
        "results/evaluation/summary.csv",
        "results/evaluation/feature_statistics.csv",
        "results/evaluation/model_comparison.csv",
    ]
    if NEGATIVE_CONTROL:
        targets.append("results/negative_control/metrics.csv")
    if config["clinical"]:
        targets.append("results/clinical/metrics.csv")
    if config["validation"]["enabled"]:
        targets.append("results/validation/summary.csv")
    if not BRING_YOUR_OWN_FEATURES:
        # Every case's job (its features, QC row, diagnostics and overlay) is pulled in by
        # the aggregation and the QC table; listing its files here too cost planning time.
        targets += expand("results/drafts/{case}_mask.nii.gz", case=DRAFT_CASES)
        targets += ["results/qc/qc.csv", "results/qc/excluded.csv", "results/features_dictionary.csv"]
    targets += harmonisation_outputs()
    if ROBUSTNESS["enabled"]:
        targets += ["results/robustness/icc.csv", "results/robustness/cases.csv"]
    targets += figure_outputs()
    targets += expand("results/bundle/{model}/bundle.{ext}", model=MODELS, ext=["joblib", "json"])
    # Written last, from every target above (rules/provenance.smk).
    targets.append(PROVENANCE_JSON)
    return targets


def figure_outputs():
    names = ["lasso_path", "correlation_heatmap", "importance", "volcano", "confusion_matrices", "radscore_violin"]
    names.append("model_comparison")
    if NEGATIVE_CONTROL:
        names.append("negative_control")
    if config["clinical"]:
        names.append("nomogram")
    if HARMONISE:
        names.append("harmonisation")
    if config["validation"]["enabled"]:
        names += ["validation_auc", "learning_curves"]
    names += expand("roc_{set}", set=evaluation_sets())
    names += expand("{kind}_{set}", kind=["radscore_waterfall", "calibration", "decision_curve"], set=evaluation_sets())
    if ROBUSTNESS["enabled"]:
        names.append("icc")
    return expand("results/figures/{name}.{ext}", name=names, ext=["png", "pdf"])


# --- Frozen model bundles and applying them to new patients (rules/bundle.smk, rules/apply.smk).
def get_bundle_params(wildcards):
    """The params file whose hash the bundle records; none when features came from a table."""
    return [] if BRING_YOUR_OWN_FEATURES else [config["pyradiomics"]["params"]]


def get_survival_bundle_settings(wildcards):
    """The config that produced a survival model, recorded in its bundle."""
    return {
        "seed": config["seed"],
        "model": wildcards.smodel,
        "survival": config["survival"],
        "time_unit": config["endpoint"]["time_unit"],
        "horizons": config["endpoint"]["horizons"],
        "permuted_labels": False,  # the negative control's models are never bundled
        "split": config["split"],
        "clinical": config["clinical"],
        "modalities": config["modalities"],
        "mask_label": config["pyradiomics"]["mask_label"],
        "features_table": bool(BRING_YOUR_OWN_FEATURES),
    }


def get_bundle_settings(wildcards):
    """The config that produced a model, recorded in its bundle."""
    return {
        "seed": config["seed"],
        "model": wildcards.model,
        "selection_steps": config["selection"]["steps"],
        "param_grid": config["models"]["param_grid"].get(wildcards.model),
        "cv_folds": config["models"]["cv_folds"],
        "threshold": config["evaluation"]["threshold"],
        "target": config["evaluation"]["target"],
        "permuted_labels": config["negative_control"]["permute_labels"],
        "split": config["split"],
        "clinical": config["clinical"],
        "modalities": config["modalities"],
        "mask_label": config["pyradiomics"]["mask_label"],
        "resample_to_reference": config["qc"]["resample_to_reference"],
        "features_table": bool(BRING_YOUR_OWN_FEATURES),
    }


APPLY = config["apply"]
APPLY_NAME = APPLY["name"]
APPLY_DIR = f"results/apply/{APPLY_NAME}"
APPLY_FROM_TABLE = bool(APPLY["features_table"])
# A survival study's bundles are its tuned survival models (rules/survival.smk).
APPLY_MODELS = list(APPLY["models"]) or (config["survival"]["models"] if SURVIVAL else MODELS)
APPLY_COHORT = None
if APPLY["cohort"]:
    try:
        APPLY_COHORT = load_cohort(
            APPLY["cohort"],
            COHORT_SCHEMA,
            {},
            need_images=not APPLY_FROM_TABLE,
            modalities=config["modalities"],
            labels_required=False,
        )
    except InputError as err:
        stop(f"radsnake: apply.cohort: {err}")
APPLY_LABELLED = APPLY_COHORT is not None and bool(APPLY_COHORT["label"].notna().all())
if SURVIVAL and APPLY_COHORT is not None:  # outcomes known: the time and event columns are filled
    _outcomes = [config["endpoint"]["time_column"], config["endpoint"]["event_column"]]
    APPLY_LABELLED = set(_outcomes) <= set(APPLY_COHORT.columns) and bool(
        (APPLY_COHORT[_outcomes].astype(str).apply(lambda c: c.str.strip()) != "").all().all()
    )
APPLY_PENDING = {} if APPLY_COHORT is None else {c: r for c, r in APPLY_COHORT["pending"].items() if r}
APPLY_EXTRACT_CASES = (
    [] if APPLY_COHORT is None or APPLY_FROM_TABLE else [c for c in APPLY_COHORT.index if c not in APPLY_PENDING]
)


@cache
def apply_case_spec_of(case):
    return spec_of_row(APPLY_COHORT.loc[case])


def get_apply_case_spec(wildcards):
    return json.dumps(apply_case_spec_of(wildcards.case), sort_keys=True)


def get_apply_images(wildcards):
    return [entry["path"] for entry in apply_case_spec_of(wildcards.case)["images"]]


def get_apply_mask(wildcards):
    return apply_case_spec_of(wildcards.case)["mask"]


def get_apply_case_qc(wildcards):
    return expand(f"{APPLY_DIR}/qc/cases/{{case}}.csv", case=APPLY_EXTRACT_CASES)


def get_apply_case_features(wildcards):
    return expand(f"{APPLY_DIR}/features/{{case}}.csv", case=APPLY_EXTRACT_CASES)


def get_apply_case_diagnostics(wildcards):
    return expand(f"{APPLY_DIR}/diagnostics/{{case}}.csv", case=APPLY_EXTRACT_CASES)


def get_apply_table(wildcards):
    return [APPLY["features_table"]] if APPLY_FROM_TABLE else []


def get_apply_params(wildcards):
    """The params file the new features are made with (or, for a table, were made with)."""
    return [] if BRING_YOUR_OWN_FEATURES and APPLY_FROM_TABLE else [config["pyradiomics"]["params"]]


def get_apply_bundles(wildcards):
    return expand(os.path.join(APPLY["bundle"], "{model}", "bundle.joblib"), model=APPLY_MODELS)


def get_apply_cards(wildcards):
    return expand(os.path.join(APPLY["bundle"], "{model}", "bundle.json"), model=APPLY_MODELS)


def apply_metrics_output():
    """Metrics only when every new case has a label."""
    return {"metrics": f"{APPLY_DIR}/metrics.csv"} if APPLY_LABELLED else {}


def get_apply_targets(wildcards):
    if APPLY_COHORT is None:
        raise WorkflowError(
            "radsnake: apply_all needs the new cases: set apply.cohort in the config (a sheet like the "
            "study's, labels optional) and, for bring-your-own features, apply.features_table. See docs/apply.md."
        )
    targets = [f"{APPLY_DIR}/predictions.csv", *apply_metrics_output().values()]
    if not APPLY_FROM_TABLE:
        targets += [f"{APPLY_DIR}/qc/qc.csv", f"{APPLY_DIR}/qc/excluded.csv"]
    return targets


# --- Provenance (rules/provenance.smk, radsnake.io.provenance).
from radsnake.io.provenance import COMMAND_LINE_VARIABLE  # noqa: E402

PROVENANCE_JSON = "results/provenance.json"


def get_study_results(wildcards):
    """Every other target: the record is written after them, and again when one is updated."""
    return [target for target in all_outputs() if target != PROVENANCE_JSON]


def get_provenance_inputs(wildcards):
    """The files whose SHA-256 the record holds."""
    files = {"sheet": config["cohort"]}
    if BRING_YOUR_OWN_FEATURES:
        files["features_table"] = config["features_table"]
    else:
        files["params"] = config["pyradiomics"]["params"]
    return files


def conda_env_files():
    """Under --sdm conda the record hashes the env files (they pin what each rule ran with)."""
    if DeploymentMethod.CONDA not in workflow.deployment_settings.deployment_method:
        return []
    return sorted(glob.glob(os.path.join(workflow.basedir, "envs", "*.yaml")))


# --- Survival studies (rules/survival.smk, rules/survival_report.smk; docs/survival.md).
SURVIVAL_MODELS = config["survival"]["models"]
SURVIVAL_SETTINGS = config["survival"]
SURVIVAL_VALIDATION = config["survival"]["bootstrap"] > 0
# Clinical vs radiomics vs combined Cox models (and the nomogram), with clinical columns only.
SURVIVAL_COMPARISON_MODELS = ["clinical", "radscore", "combined"] if config["clinical"] else []
# Every model in metrics.csv: the tuned ones, then the three Cox comparison models.
SURVIVAL_EVALUATED = SURVIVAL_MODELS + SURVIVAL_COMPARISON_MODELS


def survival_outputs():
    targets = [
        "results/survival/metrics.csv",
        "results/survival/risk_groups.csv",
        "results/survival/km.csv",
        "results/survival/calibration.csv",
        "results/survival/decision_curve.csv",
        "results/survival/cox_univariate.csv",
        "results/survival/cox_multivariable.csv",
        "results/survival/selection/selected_features.csv",
    ]
    targets += expand("results/survival/models/{smodel}/predictions.csv", smodel=SURVIVAL_MODELS)
    targets += expand("results/bundle/{smodel}/bundle.json", smodel=SURVIVAL_MODELS)
    if NEGATIVE_CONTROL:
        targets.append("results/survival/negative_control/metrics.csv")
    if SURVIVAL_VALIDATION:
        targets.append("results/survival/validation/optimism.csv")
    if SURVIVAL_COMPARISON_MODELS:
        targets += ["results/survival/clinical/coefficients.csv", "results/survival/figures/nomogram.png"]
    return targets + survival_report_outputs()


def survival_comparison_outputs():
    """The clinical, radscore and combined Cox models' predictions and curves (next to the
    tuned models', evaluated with them), their coefficients and the nomogram."""
    outputs = {}
    for model in ["clinical", "radscore", "combined"]:
        outputs[f"{model}_predictions"] = f"results/survival/models/{model}/predictions.csv"
        outputs[f"{model}_curves"] = f"results/survival/models/{model}/survival_curves.csv"
    outputs["coefficients"] = "results/survival/clinical/coefficients.csv"
    outputs["nomogram"] = "results/survival/clinical/nomogram.csv"
    outputs["nomogram_png"] = report(
        "results/survival/figures/nomogram.png",
        caption="../docs/report/survival_nomogram.rst",
        category="4. Evaluation",
        subcategory="Survival",
        labels={"figure": "survival nomogram", "set": "train"},
    )
    outputs["nomogram_pdf"] = "results/survival/figures/nomogram.pdf"
    return outputs


SURVIVAL_UNIT = config["endpoint"]["time_unit"]


def survival_figure_sets():
    return ["train", *[s for s in evaluation_sets() if s != "train"]]


def survival_report_outputs():
    targets = expand(
        "results/survival/figures/{kind}_{set}.png",
        kind=["km", "calibration", "decision_curve"],
        set=survival_figure_sets(),
    )
    return targets + [
        "results/survival/figures/td_auc.png",
        "results/survival/figures/cox_lasso.png",
        "results/survival/summary.md",
    ]


def survival_figure_outputs():
    """Every survival figure (PNG in the report, PDF beside it), one job for all: each job
    costs an interpreter start, the figures themselves take a second."""
    outputs = {}
    captions = {
        "km": "Kaplan-Meier by risk group",
        "calibration": "survival calibration",
        "decision_curve": "survival decision curve",
    }
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
