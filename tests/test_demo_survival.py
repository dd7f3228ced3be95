"""The shipped survival demo (config/demo-survival/), as `make demo` runs it after the binary
demo: its files are radsnake.demo_survival's, and its run gives the output contract of
docs/survival.md with a prognostic signal on the test set and none in the negative control."""

import re
import shutil

import pandas as pd
import pytest

from conftest import REPO, snakemake

SHIPPED = REPO / "config" / "demo-survival"
MODELS = ["coxnet", "cox_ph", "random_survival_forest"]


def test_shipped_tables_are_the_generator_s():
    from radsnake.demo_survival import survival_demo_tables

    sheet, features = survival_demo_tables()
    shipped_sheet = pd.read_csv(SHIPPED / "cohort.csv", dtype={"case_id": str})
    pd.testing.assert_frame_equal(shipped_sheet, sheet)
    pd.testing.assert_frame_equal(pd.read_csv(SHIPPED / "features.csv", dtype={"case_id": str}), features)
    # Growing the cohort appends cases and leaves the others unchanged (seeded per case).
    bigger, _ = survival_demo_tables(n_cases=210)
    pd.testing.assert_frame_equal(bigger.head(len(sheet)), sheet)
    assert set(sheet["death"]) == {0, 1} and (sheet["os_months"] > 0).all()


def test_make_demo_runs_the_survival_demo():
    """The Makefile's demo target runs the survival config and builds its report."""
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^demo: install\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "--configfile $(DEMO_SURVIVAL_CONFIG)" in recipe
    assert "--report results/report.html --configfile $(DEMO_SURVIVAL_CONFIG)" in recipe
    assert "DEMO_SURVIVAL_CONFIG := config/demo-survival/config.yaml" in makefile


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A copy of the shipped study folder (its three files), run and reported as make demo does."""
    folder = tmp_path_factory.mktemp("demo_survival")
    for name in ("config.yaml", "cohort.csv", "features.csv"):
        shutil.copy(SHIPPED / name, folder / name)
    snakemake(folder, timeout=900)
    snakemake(folder, "--report", "results/report.html", timeout=300)
    return folder


@pytest.mark.workflow
def test_output_contract_and_signal_on_the_test_set(demo):
    results = demo / "results" / "survival"
    for model in MODELS:
        predictions = pd.read_csv(results / "models" / model / "predictions.csv")
        assert predictions.columns.tolist() == ["case_id", "set", "time", "event", "risk"]
        assert len(predictions) == 200
    metrics = pd.read_csv(results / "metrics.csv")
    assert metrics.columns[:9].tolist() == ["model", "set", "n", "events", "c_index", "c_index_ci_low",
                                            "c_index_ci_high", "uno_c", "ibs"]
    assert {"td_auc_12", "td_auc_24", "td_auc_36"} <= set(metrics.columns)
    test = metrics[(metrics["set"] == "test") & metrics["model"].isin(MODELS)]
    assert len(test) == 3 and (test["c_index_ci_low"] > 0.5).all(), test.to_string()
    groups = pd.read_csv(results / "risk_groups.csv")
    assert groups.columns.tolist() == ["model", "set", "group", "n", "events", "median_survival", "logrank_p",
                                       "hr", "hr_ci_low", "hr_ci_high"]
    # The Cox-LASSO finds the three texture features the times were drawn from.
    selected = set(pd.read_csv(results / "selection" / "selected_features.csv")["feature"])
    assert {"texture_01", "texture_02", "texture_03"} <= selected


@pytest.mark.workflow
def test_negative_control_contains_chance_on_the_test_set(demo):
    control = pd.read_csv(demo / "results" / "survival" / "negative_control" / "metrics.csv")
    test = control[control["set"] == "test"]
    assert len(test) == 3
    assert ((test["c_index_ci_low"] < 0.5) & (test["c_index_ci_high"] > 0.5)).all(), test.to_string()


@pytest.mark.workflow
def test_report_has_the_survival_section(demo):
    html = (demo / "results" / "report.html").read_text(errors="replace")
    for name in ("km_test.png", "td_auc.png", "calibration_external.png", "summary.md", "Survival"):
        assert name in html, name
