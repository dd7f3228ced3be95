"""The shipped survival demo (config/demo-survival/), as `make demo` runs it after the binary
demo: its files are radsnake.imaging.demo_survival's, and its run gives the output contract of
docs/survival.md with a prognostic signal on the test set and none in the negative control."""

import re
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, snakemake

SHIPPED = REPO / "config" / "demo-survival"
MODELS = ["coxnet", "cox_ph", "random_survival_forest"]
COMPARISON = ["clinical", "radscore", "combined"]


def test_shipped_tables_are_the_generator_s():
    from radsnake.imaging.demo_survival import survival_demo_tables

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


@pytest.mark.workflow
def test_clinical_radiomics_and_combined_models(demo):
    """Cox PH on age and sex, on the rad-score, and on both: rows of metrics.csv like every
    model's, their coefficients, the comparison in summary.md and the combined model's nomogram."""
    results = demo / "results" / "survival"
    metrics = pd.read_csv(results / "metrics.csv").set_index(["model", "set"])
    assert list(dict.fromkeys(metrics.index.get_level_values("model"))) == MODELS + COMPARISON
    for model in COMPARISON:
        predictions = pd.read_csv(results / "models" / model / "predictions.csv")
        assert predictions.columns.tolist() == ["case_id", "set", "time", "event", "risk"] and len(predictions) == 200
    # The times depend on three texture features and (weakly) on age: the rad-score carries the signal.
    assert metrics.loc[("radscore", "test"), "c_index_ci_low"] > 0.5
    assert metrics.loc[("combined", "train"), "c_index"] > metrics.loc[("clinical", "train"), "c_index"]
    coefficients = pd.read_csv(results / "clinical" / "coefficients.csv")
    assert coefficients[["model", "variable"]].values.tolist() == [
        ["clinical", "age"], ["clinical", "sex=M"], ["radscore", "radscore"],
        ["combined", "age"], ["combined", "sex=M"], ["combined", "radscore"]]
    assert coefficients.set_index(["model", "variable"]).loc[("combined", "age"), "hr"] > 1
    summary = (results / "summary.md").read_text()
    row = metrics.loc[("combined", "test")]
    gain = row["c_index"] - metrics.loc[("clinical", "test"), "c_index"]
    assert "## Clinical vs radiomics vs combined (Cox PH on the training cases)" in summary
    assert (f"combined {row['c_index']:.3f} ({row['c_index_ci_low']:.3f}–{row['c_index_ci_high']:.3f}); "
            f"combined − clinical {gain:+.3f}.") in summary
    nomogram = pd.read_csv(results / "clinical" / "nomogram.csv")
    assert list(dict.fromkeys(nomogram["axis"]))[:5] == ["age", "sex", "radscore", "total_points", "survival_12"]
    assert {"survival_24", "survival_36"} <= set(nomogram["axis"])
    assert nomogram.loc[nomogram["axis"].isin(["age", "sex", "radscore"]), "points"].max() == pytest.approx(100)


@pytest.mark.workflow
def test_report_has_the_nomogram_and_cox_lasso_path(demo):
    html = (demo / "results" / "report.html").read_text(errors="replace")
    for name in ("nomogram.png", "cox_lasso.png", "survival nomogram", "Cox-LASSO path"):
        assert name in html, name
    figures = demo / "results" / "survival" / "figures"
    for name in ("nomogram", "cox_lasso"):
        assert (figures / f"{name}.pdf").read_bytes().startswith(b"%PDF")


@pytest.fixture(scope="module")
def applied(demo):
    """apply_all (docs/apply.md) on the demo's own test cases, given as new patients with
    their outcomes: a sheet and a feature table, outside the study folder."""
    new = demo.parent / "new_patients"
    new.mkdir(exist_ok=True)
    split = pd.read_csv(demo / "results" / "split.csv", dtype=str)
    test = set(split.loc[split["set"] == "test", "case_id"])
    sheet = pd.read_csv(demo / "cohort.csv", dtype=str)
    features = pd.read_csv(demo / "features.csv", dtype={"case_id": str})
    sheet[sheet["case_id"].isin(test)].to_csv(new / "cohort.csv", index=False)
    features[features["case_id"].isin(test)].to_csv(new / "features.csv", index=False)
    apply = new / "apply.yaml"
    apply.write_text(f"apply:\n  cohort: {new / 'cohort.csv'}\n  features_table: {new / 'features.csv'}\n"
                     "  name: test_cases\n")
    snakemake(demo, "apply_all", "--configfile", str(apply), timeout=300)
    return demo / "results" / "apply" / "test_cases"


@pytest.mark.workflow
def test_bundles_applied_to_new_patients_give_the_study_s_numbers(demo, applied):
    """The frozen survival models, applied to the test cases as new patients, give exactly
    their risks, S(h) and test-set C-indices of the study."""
    results = demo / "results"
    for model in MODELS:
        card = yaml.safe_load((results / "bundle" / model / "bundle.json").read_text())
        assert card["endpoint"] == {"type": "survival", "time_unit": "months", "horizons": [12, 24, 36]}
        assert card["features_source"] == "table" and card["config"]["permuted_labels"] is False
        assert card["training"]["n"] == 91 and card["training"]["events"] == 62
    predictions = pd.read_csv(applied / "predictions.csv", dtype={"case_id": str})
    assert predictions.columns.tolist() == ["case_id", "model", "risk", "survival_12", "survival_24", "survival_36"]
    for model in MODELS:
        mine = predictions[predictions["model"] == model].set_index("case_id")
        study = pd.read_csv(results / "survival" / "models" / model / "predictions.csv", dtype={"case_id": str})
        study = study[study["set"] == "test"].set_index("case_id")
        assert sorted(mine.index) == sorted(study.index)
        assert (mine.loc[study.index, "risk"] == study["risk"]).all()
        curves = pd.read_csv(results / "survival" / "models" / model / "survival_curves.csv",
                             dtype={"case_id": str}).set_index("case_id")
        assert np.allclose(mine.loc[study.index, "survival_24"], curves.loc[study.index, "24"], rtol=0, atol=1e-12)
    metrics = pd.read_csv(applied / "metrics.csv").set_index("model")
    study_metrics = pd.read_csv(results / "survival" / "metrics.csv").set_index(["model", "set"])
    for model in MODELS:
        for column in ("n", "events", "c_index", "c_index_ci_low", "c_index_ci_high"):
            assert metrics.loc[model, column] == study_metrics.loc[(model, "test"), column]


@pytest.mark.workflow
def test_apply_with_a_bad_outcome_stops_without_predictions(demo, applied):
    new = demo.parent / "new_patients"
    sheet = pd.read_csv(new / "cohort.csv", dtype=str)
    sheet.loc[2, "os_months"] = "-3"
    sheet.to_csv(new / "bad.csv", index=False)
    config = new / "bad.yaml"
    config.write_text(f"apply:\n  cohort: {new / 'bad.csv'}\n  features_table: {new / 'features.csv'}\n  name: bad\n")
    result = snakemake(demo, "apply_all", "--configfile", str(config), check=False, timeout=300)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert (f"apply.cohort {new / 'bad.csv'} has 1 problem(s) with its outcomes: row 4 (case_id "
            f"'{sheet.loc[2, 'case_id']}'): the follow-up time (os_months) -3 is negative.") in output
    assert not (demo / "results" / "apply" / "bad" / "predictions.csv").exists()
