"""The real workflow, end to end, on a small cohort of real NIfTI files."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil

import pandas as pd
import pytest
import yaml
from PIL import Image

from conftest import FAST_CONFIG, REPO, make_study, planned_jobs, snakemake, write_config
from radsnake.demo import case_paths, cohort_sheet, make_case

pytestmark = pytest.mark.workflow

N_CASES = 46
MODELS = ["logistic", "svm", "random_forest", "decision_tree"]
EXTRACTION = {"extract_features", "aggregate_features", "import_features"}
MODELLING = {"fit_model", "evaluate_models", "summarise_models"}
# Two external cohorts: centre C (split.external_centers) and "late", named in the sheet's
# cohort column for some of C's cases (the column wins over the centre); pooled as external.
LATE = ["case027", "case030", "case031", "case041", "case045"]
SETS = ["train", "test", "external_C", "external_late", "external"]
FIGURES = ["lasso_path", "correlation_heatmap", "importance", "volcano", "nomogram", "confusion_matrices", "radscore_violin"] + [
    f"{kind}_{s}" for kind in ("roc", "radscore_waterfall", "calibration", "decision_curve") for s in SETS
]


def with_cohorts(sheet: pd.DataFrame) -> pd.DataFrame:
    return sheet.assign(cohort=["late" if case in LATE else "" for case in sheet["case_id"]])


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("study")
    config = copy.deepcopy(FAST_CONFIG)
    # The params file lives in the study, as a user's would, so tests can edit it.
    config["pyradiomics"]["params"] = "config/params.yaml"
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
        "sensitivity", "specificity", "ppv", "npv", "threshold",
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
    assert list(delong.columns) == ["set", "model_a", "model_b", "auc_a", "auc_b", "z", "p_value"]
    assert set(delong["set"]) <= set(SETS) - {"train"} and len(delong) > 0


def test_paper_statistics(study):
    evaluation = study / "results" / "evaluation"
    summary = pd.read_csv(evaluation / "summary.csv")
    assert len(summary) == len(pd.read_csv(evaluation / "metrics.csv"))
    assert summary["auc"].str.fullmatch(r"\d\.\d\d \(\d\.\d\d\u2013\d\.\d\d\)|NA").all()
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


def test_report_has_every_figure(study):
    snakemake(study, "--report", str(study / "report.html"))
    html = (study / "report.html").read_text(errors="replace")
    for name in FIGURES:
        assert f"{name}.png" in html
    assert "metrics.csv" in html


def test_pooled_external_set_only_when_configured(study):
    config_file = study / "config" / "config.yaml"
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
    config_file = study / "config" / "config.yaml"
    with edited(config_file):
        config = yaml.safe_load(config_file.read_text())
        config["split"]["external_centers"] = ["C", "St Mary"]
        write_config(study, config)
        result = snakemake(study, "-n", check=False)
    assert result.returncode != 0
    assert "external cohort name(s) ['St Mary'] cannot be used in file names" in result.stdout + result.stderr


def test_second_run_has_nothing_to_do(study):
    assert planned_jobs(study) == {}


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
    config_file = study / "config" / "config.yaml"
    with edited(config_file):
        config = yaml.safe_load(config_file.read_text())
        config["models"]["cv_folds"] = 4
        write_config(study, config)
        jobs = planned_jobs(study)
    assert not EXTRACTION & set(jobs), jobs
    assert "split_cases" not in jobs and "select_features" not in jobs, jobs
    assert jobs["fit_model"] == len(FAST_CONFIG["models"]["enabled"])
    assert MODELLING <= set(jobs), jobs


def test_editing_selection_config_reruns_selection_and_after(study):
    config_file = study / "config" / "config.yaml"
    with edited(config_file):
        config = yaml.safe_load(config_file.read_text())
        config["selection"]["steps"][2]["p_threshold"] = 0.2
        write_config(study, config)
        jobs = planned_jobs(study)
    assert not EXTRACTION & set(jobs) and "split_cases" not in jobs, jobs
    assert jobs["select_features"] == 1
    assert jobs["fit_model"] == len(FAST_CONFIG["models"]["enabled"])


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


def test_adding_two_cases_runs_only_their_extraction(study):
    before = pd.read_csv(study / "results" / "split.csv", dtype=str)
    sheet = with_cohorts(cohort_sheet(N_CASES + 2, image_dir="../images"))
    for row in sheet.iloc[N_CASES:].itertuples():
        make_case(row.case_id, row.label, row.center, 42, *case_paths(str(study / "images"), row.case_id))
    sheet.to_csv(study / "config" / "cohort.csv", index=False)

    jobs = planned_jobs(study)
    assert jobs["extract_features"] == 2
    assert jobs["aggregate_features"] == 1 and jobs["split_cases"] == 1
    assert jobs["fit_model"] == len(MODELS)

    snakemake(study)
    after = pd.read_csv(study / "results" / "split.csv", dtype=str)
    assert len(after) == N_CASES + 2
    assert after.merge(before, on="case_id", suffixes=("", "_before")).eval("set == set_before").all()


def test_lint_is_clean():
    result = snakemake(REPO, "--lint")
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr
