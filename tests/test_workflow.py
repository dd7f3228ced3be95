"""The real workflow, end to end, on a small cohort of real NIfTI files."""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess

import pandas as pd
import pytest
import yaml
from PIL import Image

import radsnake
from browser import assert_report_reads_in_a_browser, walk_snakemake_report
from conftest import FAST_CONFIG, REPO, make_study, planned_jobs, snakemake, write_config
from radsnake.imaging.demo import case_paths, cohort_sheet, make_case

pytestmark = pytest.mark.workflow

N_CASES = 46
MODELS = ["logistic", "svm", "random_forest", "decision_tree"]
EXTRACTION = {"extract_features", "aggregate_features", "import_features"}
MODELLING = {"fit_model", "evaluate_models", "summarise_models"}
# Two external cohorts: centre C (split.external_centers) and "late", named in the sheet's
# cohort column for some of C's cases (the column wins over the centre); pooled as external.
LATE = ["case027", "case030", "case031", "case041", "case045"]
SETS = ["train", "test", "external_C", "external_late", "external"]
# The study runs the negative control and one alternative selection (lean: 4 extra fits each).
COMPARISON_SELECTIONS = {
    "lasso_only": [{"step": "zscore"}, {"step": "variance", "threshold": 1e-8},
                   {"step": "lasso", "cv_folds": 3, "n_lambdas": 10, "rule": "1se"}],
}
FIGURES = ["lasso_path", "correlation_heatmap", "importance", "volcano", "nomogram", "confusion_matrices", "radscore_violin",
           "model_comparison", "negative_control"] + [
    f"{kind}_{s}" for kind in ("roc", "radscore_waterfall", "calibration", "decision_curve") for s in SETS
]


def with_cohorts(sheet: pd.DataFrame) -> pd.DataFrame:
    return sheet.assign(cohort=["late" if case in LATE else "" for case in sheet["case_id"]])


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("study")
    config = copy.deepcopy(FAST_CONFIG)
    # A seed whose exactly stratified split leaves the rad-score overlapping between the 23
    # training cases' labels: with seed 42 it separates them perfectly, and the clinical
    # logistic models on it have no maximum-likelihood estimate (a stop, by design).
    config["seed"] = 3
    # The params file lives in the study, as a user's would, so tests can edit it.
    config["pyradiomics"]["params"] = "config/params.yaml"
    config["negative_control"] = {"enabled": True}
    config["comparison"] = {"selections": COMPARISON_SELECTIONS}
    sheet = make_study(workdir, N_CASES, config)
    with_cohorts(sheet).to_csv(workdir / "config" / "cohort.csv", index=False)
    shutil.copy(REPO / "config" / "pyradiomics" / "original.yaml", workdir / "config" / "params.yaml")
    snakemake(workdir)
    return workdir


def test_features_table(study):
    table = pd.read_csv(study / "results" / "features.csv", dtype={"case_id": str})
    sheet = pd.read_csv(study / "config" / "cohort.csv", dtype={"case_id": str})
    assert table["case_id"].tolist() == sorted(sheet["case_id"])
    assert list(table.columns[:5]) == ["case_id", "label", "center", "age", "sex"]
    assert "original_shape_Sphericity" in table.columns
    assert not any(c.startswith("diagnostics_") for c in table.columns)
    merged = table.merge(sheet, on="case_id", suffixes=("", "_sheet"))
    assert (merged["label"] == merged["label_sheet"]).all()
    for case_id in sheet["case_id"]:
        row = pd.read_csv(study / "results" / "features" / f"{case_id}.csv")
        assert len(row) == 1
        assert (study / "results" / "diagnostics" / f"{case_id}.csv").exists()


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_provenance_record(study):
    """results/provenance.json: every item of the record, and the stamp of every per-case file."""
    record = json.loads((study / "results" / "provenance.json").read_text())
    params, sheet = study / "config" / "params.yaml", study / "config" / "cohort.csv"
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert record["radsnake"]["version"] == radsnake.__version__ and record["radsnake"]["git_commit"] == head
    assert isinstance(record["radsnake"]["git_dirty"], bool)
    assert record["python"]["version"] == platform.python_version()
    for name in ("pyradiomics", "numpy", "scikit-learn", "statsmodels", "pandas", "snakemake", "matplotlib"):
        assert record["libraries"][name] == importlib.metadata.version(name)
    assert (study / record["pyradiomics_params"]["path"]).resolve() == params.resolve()
    assert record["pyradiomics_params"]["sha256"] == sha256(params)
    assert record["pyradiomics_params"]["content"] == params.read_text()
    assert record["features_table"] is None
    assert record["cohort_sheet"]["sha256"] == sha256(sheet)
    # The resolved config: the study's settings and the schema's defaults for the rest.
    assert record["config"]["negative_control"]["enabled"] is True and record["config"]["evaluation"]["bootstrap"] == 2000
    assert "--cores" in record["command_line"]["argv"]
    for case_id in pd.read_csv(sheet, dtype=str)["case_id"]:
        row = pd.read_csv(study / "results" / "features" / f"{case_id}.csv", dtype=str).iloc[0]
        assert row["source_params_sha256"] == sha256(params) and row["source_radsnake_version"] == radsnake.__version__
    columns = pd.read_csv(study / "results" / "features.csv", nrows=0).columns
    assert not {"source_params_sha256", "source_radsnake_version"} & set(columns)


def test_split_by_centre_and_cohort_column(study):
    split = pd.read_csv(study / "results" / "split.csv", dtype=str)
    sheet = pd.read_csv(study / "config" / "cohort.csv", dtype=str).merge(split, on="case_id")
    late = sheet["case_id"].isin(LATE)
    assert set(sheet.loc[late, "set"]) == {"external_late"}
    assert set(sheet.loc[~late & (sheet["center"] == "C"), "set"]) == {"external_C"}
    assert set(sheet.loc[sheet["center"] != "C", "set"]) == {"train", "test"}


def test_selection_outputs(study):
    folder = study / "results" / "selection"
    selected = pd.read_csv(folder / "selected_features.csv")
    assert len(selected) >= 1 and (selected["coefficient"] != 0).all()
    coefficients = pd.read_csv(folder / "lasso_coefficients.csv")
    assert coefficients["feature"].iloc[0] == "(intercept)"
    cv = pd.read_csv(folder / "lasso_cv.csv")
    assert cv["is_1se"].sum() == 1 and cv["is_min"].sum() == 1
    assert set(pd.read_csv(folder / "lasso_path.csv").columns) == {"lambda", "feature", "coefficient"}
    radscore = pd.read_csv(folder / "radscore.csv")
    assert len(radscore) == N_CASES and radscore["radscore"].notna().all()


@pytest.mark.parametrize("model", MODELS)
def test_model_outputs(study, model):
    folder = study / "results" / "models" / model
    predictions = pd.read_csv(folder / "predictions.csv")
    assert list(predictions.columns) == ["case_id", "set", "label", "probability"]
    assert len(predictions) == N_CASES
    assert predictions["probability"].between(0, 1).all()
    info = json.loads((folder / "model.json").read_text())
    assert {"scikit-learn", "numpy"} <= set(info["versions"])
    assert (folder / "model.joblib").stat().st_size > 0


def test_metrics(study):
    metrics = pd.read_csv(study / "results" / "evaluation" / "metrics.csv")
    assert list(metrics.columns) == [
        "model", "set", "n", "auc", "auc_ci_low", "auc_ci_high", "accuracy",
        "sensitivity", "specificity", "ppv", "npv", "threshold", "auc_ci_reason", "no_signature", "notes",
    ]
    assert set(metrics["model"]) == set(MODELS) | {"radscore"}
    assert set(metrics["set"]) == set(SETS)
    assert (metrics["auc_ci_low"] <= metrics["auc"]).all() and (metrics["auc"] <= metrics["auc_ci_high"]).all()
    # Each external cohort on its own, and pooled.
    n = metrics[metrics["model"] == "radscore"].set_index("set")["n"]
    assert n["external_late"] == len(LATE) and n["external"] == n["external_C"] + n["external_late"]
    # One threshold per model, fixed on the training set and reused on the others.
    assert (metrics.groupby("model")["threshold"].nunique() == 1).all()
    delong = pd.read_csv(study / "results" / "evaluation" / "delong.csv")
    assert list(delong.columns) == ["set", "model_a", "model_b", "auc_a", "auc_b", "z", "p_value", "reason", "no_signature"]
    assert set(delong["set"]) <= set(SETS) - {"train"} and len(delong) > 0


def test_paper_statistics(study):
    evaluation = study / "results" / "evaluation"
    summary = pd.read_csv(evaluation / "summary.csv")
    assert len(summary) == len(pd.read_csv(evaluation / "metrics.csv"))
    # An interval, or the reason there is none (docs/statistics.md), never "x (x–x)".
    assert summary["auc"].str.fullmatch(r"\d\.\d\d \((\d\.\d\d\u2013\d\.\d\d|no CI: [^)]+|no signature)\)|NA").all()
    calibration = pd.read_csv(evaluation / "calibration.csv")
    assert {"intercept", "slope", "brier", "hl_p_value"} <= set(calibration.columns)
    assert set(pd.read_csv(evaluation / "decision_curves.csv")["model"]) == set(MODELS) | {"radscore"}
    boot = pd.read_csv(evaluation / "bootstrap_ci.csv")
    assert set(boot["metric"]) == {"auc", "sensitivity", "specificity", "ppv", "npv", "accuracy"}
    features = pd.read_csv(evaluation / "feature_statistics.csv")
    assert {"p_value", "p_fdr", "effect_size", "auc"} <= set(features.columns)
    clinical = study / "results" / "clinical"
    assert set(pd.read_csv(clinical / "metrics.csv")["model"]) == {"clinical", "radiomics", "combined"}
    assert set(pd.read_csv(clinical / "multivariate.csv")["predictor"]) == {"age", "sex", "radscore"}
    assert len(pd.read_csv(clinical / "delong.csv")) > 0


@pytest.mark.parametrize("name", FIGURES)
def test_figure_files(study, name):
    png = study / "results" / "figures" / f"{name}.png"
    with Image.open(png) as image:
        assert round(image.info["dpi"][0]) == 300
        assert len(set(image.convert("L").getdata())) > 2
    assert (study / "results" / "figures" / f"{name}.pdf").read_bytes().startswith(b"%PDF")


@pytest.fixture(scope="module")
def report(study):
    snakemake(study, "--report", str(study / "report.html"))
    return study / "report.html"


def test_report_has_every_figure(report):
    html = report.read_text(errors="replace")
    for name in FIGURES:
        assert f"{name}.png" in html
    assert "metrics.csv" in html
    assert "model_comparison.csv" in html and "Leakage negative control" in html
    # The provenance page is embedded, with the record's items.
    page = re.search(r"data:text/html;charset=utf8;filename=provenance.html;base64,([A-Za-z0-9+/=]+)", html)
    record = json.loads((report.parent / "results" / "provenance.json").read_text())
    shown = base64.b64decode(page[1]).decode()
    for item in (record["radsnake"]["git_commit"], record["pyradiomics_params"]["sha256"], record["cohort_sheet"]["sha256"]):
        assert item in shown
    assert "9. Provenance" in html and "provenance.json" in html


def test_report_reads_in_a_browser(report):
    """Chromium clicks through every section: no console error, every result shown, every figure decodes."""
    walk = assert_report_reads_in_a_browser(report)
    assert {f"results/figures/{name}.png" for name in FIGURES} <= set(walk.figures())
    cases = pd.read_csv(report.parent / "config" / "cohort.csv", dtype=str)["case_id"]
    assert {f"results/qc/overlays/{case}.png" for case in cases} <= set(walk.figures())


def test_browser_walk_sees_a_broken_figure(report, tmp_path):
    """The same report with one figure's bytes cut short: the walk must say which."""
    html = report.read_text()
    start = html.index("data:image/png;charset=utf8;filename=roc_test.png;base64,")
    start = html.index("base64,", start) + len("base64,")
    broken = tmp_path / "report.html"
    broken.write_text(html[:start] + "iVBORw0KGgo" + html[html.index('"', start):])
    failures = walk_snakemake_report(broken).failures()
    assert len(failures) == 1 and failures[0].startswith("results/figures/roc_test.png does not display"), failures


def test_model_comparison_has_every_model_and_selection(study):
    table = pd.read_csv(study / "results" / "evaluation" / "model_comparison.csv")
    expected = [[model, selection] for model in MODELS for selection in ["main", *COMPARISON_SELECTIONS]]
    assert table[["model", "selection"]].values.tolist() == expected
    assert table["main"].tolist() == [selection == "main" for _, selection in expected]
    assert {f"auc_{s}" for s in SETS if s != "train"} <= set(table.columns)
    assert sorted(table["cv_rank"]) == sorted(table["cv_auc"].rank(method="min", ascending=False).astype(int))
    # The main rows are the study's own models: same held-out AUCs as metrics.csv, same CV score as model.json.
    metrics = pd.read_csv(study / "results" / "evaluation" / "metrics.csv").set_index(["model", "set"])
    for row in table[table["main"]].itertuples():
        assert row.auc_test == metrics.loc[(row.model, "test"), "auc"]
        assert row.auc_external_ci_low == metrics.loc[(row.model, "external"), "auc_ci_low"]
        card = json.loads((study / "results" / "models" / row.model / "model.json").read_text())
        assert row.cv_auc == card["extra"]["cv_auc"] and row.n_features == len(card["selected_features"])
    for model in MODELS:
        card = json.loads((study / "results" / "comparison" / "lasso_only" / model / "model.json").read_text())
        assert card["extra"]["selection_steps"] == COMPARISON_SELECTIONS["lasso_only"]


def test_negative_control_branch(study):
    table = pd.read_csv(study / "results" / "negative_control" / "metrics.csv")
    assert list(table.columns) == [
        "model", "set", "branch", "n", "auc", "auc_ci_low", "auc_ci_high", "ci_contains_chance", "auc_ci_reason",
        "no_signature",
    ]
    assert set(table["set"]) == set(SETS) - {"train"}
    assert set(table["branch"]) == {"real", "permuted"}
    assert set(table["model"]) == set(MODELS) | {"radscore"}
    assert len(table) == 2 * (len(SETS) - 1) * (len(MODELS) + 1)
    assert (table["ci_contains_chance"] == (table["auc_ci_low"] <= 0.5) & (table["auc_ci_high"] >= 0.5)).all()
    real = table[table["branch"] == "real"].set_index(["model", "set"])
    metrics = pd.read_csv(study / "results" / "evaluation" / "metrics.csv").set_index(["model", "set"])
    assert (real["auc"] == metrics.loc[real.index, "auc"]).all()
    # The control refitted selection and models on its own labels; the main branch kept the real ones.
    for model in MODELS:
        control = json.loads((study / "results" / "negative_control" / "models" / model / "model.json").read_text())
        main = json.loads((study / "results" / "models" / model / "model.json").read_text())
        assert control["extra"]["permuted_labels"] is True and main["extra"]["permuted_labels"] is False
        predictions = pd.read_csv(study / "results" / "negative_control" / "models" / model / "predictions.csv")
        assert len(predictions) == N_CASES and predictions["probability"].between(0, 1).all()
    assert (study / "results" / "negative_control" / "selection" / "radscore.csv").exists()


def test_pooled_external_set_only_when_configured(study):
    config_file = study / "config.yaml"
    with edited(config_file):
        config = yaml.safe_load(config_file.read_text())
        config["split"]["pool_external"] = False
        write_config(study, config)
        jobs = planned_jobs(study)
    # The split is unchanged; evaluation reruns and plans one figure per set, none pooled.
    assert "split_cases" not in jobs and "fit_model" not in jobs, jobs
    for rule in ("plot_roc", "plot_waterfall", "plot_calibration", "plot_decision_curve"):
        assert jobs[rule] == len(SETS) - 1, jobs


def test_unsafe_external_centre_name_stops_before_any_job(study):
    config_file = study / "config.yaml"
    with edited(config_file):
        config = yaml.safe_load(config_file.read_text())
        config["split"]["external_centers"] = ["C", "St Mary"]
        write_config(study, config)
        result = snakemake(study, "-n", check=False)
    assert result.returncode != 0
    assert "external cohort name(s) ['St Mary'] cannot be used in file names" in result.stdout + result.stderr


def test_second_run_has_nothing_to_do(study):
    assert planned_jobs(study) == {}


def test_another_command_line_reruns_nothing(study):
    """The provenance records the command line, but a new one alone is no reason to rerun."""
    assert planned_jobs(study, "--cores", "1", "--printshellcmds") == {}


@contextlib.contextmanager
def edited(path):
    """Edit a file for one dry run, then put back its bytes and its time stamps."""
    before = path.read_bytes()
    stat = path.stat()
    try:
        yield
    finally:
        path.write_bytes(before)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_editing_params_reruns_every_extraction(study):
    params = study / "config" / "params.yaml"
    with edited(params):
        settings = yaml.safe_load(params.read_text())
        settings["setting"]["binWidth"] = settings["setting"].get("binWidth", 25) * 2
        params.write_text(yaml.safe_dump(settings))
        jobs = planned_jobs(study)
    assert jobs["extract_features"] == N_CASES
    assert jobs["aggregate_features"] == 1
    assert jobs["fit_model"] == len(FAST_CONFIG["models"]["enabled"])


def test_editing_modelling_config_reruns_only_modelling_and_after(study):
    config_file = study / "config.yaml"
    with edited(config_file):
        config = yaml.safe_load(config_file.read_text())
        config["models"]["cv_folds"] = 4
        write_config(study, config)
        jobs = planned_jobs(study)
    assert not EXTRACTION & set(jobs), jobs
    assert "split_cases" not in jobs and "select_features" not in jobs, jobs
    assert jobs["fit_model"] == len(FAST_CONFIG["models"]["enabled"])
    assert MODELLING <= set(jobs), jobs
    assert jobs["provenance"] == 1  # the record holds the resolved config


def test_editing_selection_config_reruns_selection_and_after(study):
    config_file = study / "config.yaml"
    with edited(config_file):
        config = yaml.safe_load(config_file.read_text())
        config["selection"]["steps"][2]["p_threshold"] = 0.2
        write_config(study, config)
        jobs = planned_jobs(study)
    assert not EXTRACTION & set(jobs) and "split_cases" not in jobs, jobs
    assert jobs["select_features"] == 1
    assert jobs["fit_model"] == len(FAST_CONFIG["models"]["enabled"])


def test_editing_an_alternative_selection_reruns_only_its_fits(study):
    config_file = study / "config.yaml"
    with edited(config_file):
        config = yaml.safe_load(config_file.read_text())
        config["comparison"]["selections"]["lasso_only"][-1]["n_lambdas"] = 12
        write_config(study, config)
        jobs = planned_jobs(study)
    assert jobs["comparison_fit_model"] == len(MODELS), jobs
    assert {"compare_models", "plot_model_comparison"} <= set(jobs), jobs
    assert not {"select_features", "fit_model", "control_fit_model", "evaluate_models"} & set(jobs), jobs


def test_removing_a_patient_reruns_aggregation_and_after_only(study):
    sheet = study / "config" / "cohort.csv"
    with edited(sheet):
        lines = sheet.read_text().splitlines(keepends=True)
        sheet.write_text("".join(lines[:-1]))
        jobs = planned_jobs(study)
    assert "extract_features" not in jobs, jobs
    assert jobs["aggregate_features"] == 1
    assert {"split_cases", "select_features", "fit_model"} <= set(jobs), jobs


def test_restored_study_is_up_to_date_again(study):
    assert planned_jobs(study) == {}


def apply_config(study, name: str, cohort: str, **settings) -> str:
    """A config file that adds an apply block to the study's own config."""
    path = study / f"apply_{name}.yaml"
    path.write_text(yaml.safe_dump({"apply": {"name": name, "cohort": cohort, **settings}}))
    return str(path)


def unseen_cases(study) -> pd.DataFrame:
    """The study's sheet rows of the cases it did not train on (test and external sets)."""
    split = pd.read_csv(study / "results" / "split.csv", dtype=str)
    sheet = pd.read_csv(study / "config" / "cohort.csv", dtype=str)
    return sheet[sheet["case_id"].isin(split.loc[split["set"] != "train", "case_id"])]


def largest_difference(applied: pd.DataFrame, main_csv, column: str) -> float:
    main = pd.read_csv(main_csv, dtype={"case_id": str}).set_index("case_id")
    return float((applied[column] - main.loc[applied.index, column]).abs().max())


def test_apply_reproduces_the_study_on_unseen_cases(study):
    """Done when: the frozen model applied to a fresh sheet of unseen cases gives the
    probabilities the main run gave them, to 1e-12."""
    unseen = unseen_cases(study)
    (study / "new").mkdir(exist_ok=True)
    # A fresh sheet in another folder, with only what a new patient has (paths stay relative).
    unseen[["case_id", "image", "mask", "label", "center"]].to_csv(study / "new" / "sheet.csv", index=False)
    model_file = study / "results" / "models" / "logistic" / "model.joblib"
    before = model_file.stat().st_mtime_ns
    snakemake(study, "apply_all", "--configfile", apply_config(study, "unseen", "new/sheet.csv"))
    assert model_file.stat().st_mtime_ns == before  # applying never refits

    folder = study / "results" / "apply" / "unseen"
    predictions = pd.read_csv(folder / "predictions.csv", dtype={"case_id": str})
    assert list(predictions.columns) == ["case_id", "model", "radscore", "probability", "no_signature", "label"]
    assert set(predictions["model"]) == set(MODELS)
    for model in MODELS:
        applied = predictions[predictions["model"] == model].set_index("case_id")
        assert sorted(applied.index) == sorted(unseen["case_id"])
        main_csv = study / "results" / "models" / model / "predictions.csv"
        diff = largest_difference(applied, main_csv, "probability")
        print(f"{model}: max |probability(apply) - probability(main run)| = {diff:.3g} over {len(applied)} cases")
        assert diff <= 1e-12
        assert largest_difference(applied, study / "results" / "selection" / "radscore.csv", "radscore") <= 1e-12
    metrics = pd.read_csv(folder / "metrics.csv")
    assert metrics["model"].tolist() == sorted(MODELS) + ["radscore"]
    assert (metrics["n"] == len(unseen)).all()
    assert (metrics["auc_ci_low"] <= metrics["auc"]).all() and (metrics["auc"] <= metrics["auc_ci_high"]).all()
    # Thresholds are the training ones, as in the study's own metrics.
    main_metrics = pd.read_csv(study / "results" / "evaluation" / "metrics.csv").drop_duplicates("model")
    assert metrics.set_index("model")["threshold"].to_dict() == main_metrics.set_index("model")["threshold"].to_dict()
    bundle = json.loads((study / "results" / "bundle" / "logistic" / "bundle.json").read_text())
    assert bundle["pyradiomics_params"]["file"] == "config/params.yaml"
    assert {"PyRadiomics", "SimpleITK"} <= set(bundle["extraction_versions"])
    assert bundle["training"]["n"] == int((pd.read_csv(study / "results" / "split.csv")["set"] == "train").sum())


def test_apply_without_labels_writes_predictions_only(study):
    """Bring-your-own features for unlabelled new cases, from a frozen copy of the bundles."""
    unseen = unseen_cases(study)
    table = pd.read_csv(study / "results" / "features.csv", dtype={"case_id": str})
    own = table[table["case_id"].isin(unseen["case_id"])].drop(columns=["label", "center", "age", "sex"])
    own = own[[c for c in own.columns if not c.startswith("source_")]]
    own.to_csv(study / "new" / "own_features.csv", index=False)
    unseen[["case_id"]].to_csv(study / "new" / "unlabelled.csv", index=False)
    shutil.copytree(study / "results" / "bundle", study / "frozen", dirs_exist_ok=True)
    config = apply_config(
        study, "unlabelled", "new/unlabelled.csv", features_table="new/own_features.csv", bundle="frozen"
    )
    snakemake(study, "apply_all", "--configfile", config)
    folder = study / "results" / "apply" / "unlabelled"
    predictions = pd.read_csv(folder / "predictions.csv", dtype={"case_id": str})
    assert list(predictions.columns) == ["case_id", "model", "radscore", "probability", "no_signature"]
    assert not (folder / "metrics.csv").exists()
    applied = predictions[predictions["model"] == "svm"].set_index("case_id")
    assert largest_difference(applied, study / "results" / "models" / "svm" / "predictions.csv", "probability") <= 1e-12


def test_apply_refuses_other_params_and_missing_features(study):
    finished = {
        path: path.read_bytes()
        for path in [
            study / "results" / "apply" / "unseen" / "predictions.csv",
            *sorted((study / "results" / "apply" / "unseen" / "features").glob("*.csv"))[:3],
            study / "results" / "apply" / "unlabelled" / "predictions.csv",
            study / "results" / "models" / "logistic" / "model.joblib",
        ]
    }
    # Edited params, frozen bundle: refused before any new case is extracted.
    params = study / "config" / "params.yaml"
    with edited(params):
        settings = yaml.safe_load(params.read_text())
        settings["setting"]["binWidth"] = settings["setting"].get("binWidth", 25) * 2
        params.write_text(yaml.safe_dump(settings))
        config = apply_config(study, "unseen", "new/sheet.csv", bundle="frozen")
        result = snakemake(study, "apply_all", "--configfile", config, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "apply refused" in output
    assert "the PyRadiomics params file config/params.yaml (SHA-256" in output
    assert "differs from the one the model in frozen/logistic/bundle.json was trained with" in output
    assert "Restore the training params file" in output

    # A feature table lacking a feature the models need.
    bundle = json.loads((study / "frozen" / "logistic" / "bundle.json").read_text())
    needed = bundle["fit"]["classifier_features"][0]
    own = pd.read_csv(study / "new" / "own_features.csv", dtype={"case_id": str}).drop(columns=[needed])
    own.to_csv(study / "new" / "incomplete.csv", index=False)
    config = apply_config(
        study, "incomplete", "new/unlabelled.csv", features_table="new/incomplete.csv", bundle="frozen"
    )
    result = snakemake(study, "apply_all", "--configfile", config, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"new/incomplete.csv lacks 1 of the {len(bundle['input_features'])} feature column(s)" in output
    assert repr([needed]) in output and "frozen/logistic/bundle.json" in output
    assert not (study / "results" / "apply" / "incomplete" / "predictions.csv").exists()

    for path, content in finished.items():
        assert path.read_bytes() == content, path

    result = snakemake(study, "-n", "apply_all", check=False)
    assert result.returncode != 0 and "apply_all needs the new cases: set apply.cohort" in result.stdout + result.stderr


def test_lint_is_clean():
    result = snakemake(REPO, "--lint", configfile=REPO / "config" / "demo" / "config.yaml")
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


def test_adding_two_cases_runs_only_their_extraction(study):
    """Last in this module: the study has two more cases from here on."""
    before = pd.read_csv(study / "results" / "split.csv", dtype=str)
    sheet = with_cohorts(cohort_sheet(N_CASES + 2, image_dir="../images"))
    for row in sheet.iloc[N_CASES:].itertuples():
        make_case(row.case_id, row.label, row.center, 42, *case_paths(str(study / "images"), row.case_id))
    sheet.to_csv(study / "config" / "cohort.csv", index=False)

    jobs = planned_jobs(study)
    assert jobs["extract_features"] == 2
    assert jobs["aggregate_features"] == 1 and jobs["split_cases"] == 1
    assert jobs["fit_model"] == len(MODELS)

    # The whole rerun (the fits) is test_split_and_ranking_workflow's; here up to the split.
    snakemake(study, "results/split.csv")
    after = pd.read_csv(study / "results" / "split.csv", dtype=str)
    assert len(after) == N_CASES + 2
    assert after.merge(before, on="case_id", suffixes=("", "_before")).eval("set == set_before").all()
