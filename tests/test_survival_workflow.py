"""A survival study (endpoint.type: survival) on a bring-your-own features table, through the
real workflow as the README runs it; and each survival check of the sheet and config,
which stop the run before any job with one line per problem."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import FAST_CONFIG, r_reference_values, snakemake, write_config

pytestmark = pytest.mark.workflow

HORIZONS = [12, 24]
R_CONCORDANCE = Path(__file__).parent / "r" / "concordance.R"


def survival_study(folder, n=100, seed=7, times=None, events=None):
    """Time to event driven by tex_0 and tex_1 among 15 features; centre H2 is external."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 15))
    linear = 0.9 * X[:, 0] - 0.7 * X[:, 1]
    event_time = rng.exponential(np.exp(-linear)) * 24
    censor_time = rng.uniform(6, 60, n)
    table = pd.DataFrame(X, columns=[f"tex_{i}" for i in range(15)])
    table.insert(0, "case_id", [f"pt{i:03d}" for i in range(n)])
    table.to_csv(folder / "own_features.csv", index=False)
    sheet = pd.DataFrame({
        "case_id": table["case_id"],
        "center": np.where(np.arange(n) < 80, "H1", "H2"),
        "os_months": np.round(np.minimum(event_time, censor_time), 1) if times is None else times,
        "death": (event_time <= censor_time).astype(int) if events is None else events,
        "age": np.round(rng.normal(60, 8, n)),
    })
    sheet.to_csv(folder / "cohort.csv", index=False)
    config = dict(FAST_CONFIG, cohort="cohort.csv", features_table="own_features.csv", clinical={"age": "numeric"})
    config["split"] = {"method": "center", "test_fraction": 0.3, "external_centers": ["H2"]}
    config["endpoint"] = {"type": "survival", "time_column": "os_months", "event_column": "death",
                          "horizons": HORIZONS}
    config["survival"] = {
        "cv_folds": 3, "n_alphas": 10, "bootstrap": 8,
        "param_grid": {"random_survival_forest": {"n_estimators": [20], "min_samples_leaf": [10]},
                       "coxnet": {"l1_ratio": [1.0], "alpha_ratio": [0.2, 0.05]}},
    }
    config["negative_control"] = {"enabled": True}
    write_config(folder, config)
    return sheet, config


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("survival_study")
    sheet, _ = survival_study(folder)
    snakemake(folder)
    return folder, sheet


def test_tables_of_the_output_contract(study):
    folder, sheet = study
    results = folder / "results" / "survival"
    metrics = pd.read_csv(results / "metrics.csv")
    assert metrics.columns.tolist() == [
        "model", "set", "n", "events", "c_index", "c_index_ci_low", "c_index_ci_high", "uno_c", "ibs",
        "td_auc_12", "td_auc_24", "brier_12", "brier_24",
    ]
    # The tuned models, then the clinical, rad-score and combined Cox models (clinical: age).
    assert list(dict.fromkeys(metrics["model"])) == ["coxnet", "cox_ph", "random_survival_forest", "clinical",
                                                     "radscore", "combined"]
    assert set(metrics["set"]) == {"train", "test", "external"}
    assert metrics.drop(columns=["model", "set"]).notna().all().all()
    # The signal is real: the Cox models' held-out C-index CIs lie above 0.5.
    cox = metrics[metrics["model"].isin(["coxnet", "cox_ph"]) & (metrics["set"] == "test")]
    assert (cox["c_index_ci_low"] > 0.5).all(), cox
    for model in ("coxnet", "cox_ph", "random_survival_forest"):
        predictions = pd.read_csv(results / "models" / model / "predictions.csv", dtype={"case_id": str})
        assert predictions.columns.tolist() == ["case_id", "set", "time", "event", "risk"]
        assert len(predictions) == len(sheet)
        by_case = sheet.set_index("case_id").loc[predictions["case_id"]]
        assert np.allclose(predictions["time"], by_case["os_months"])
        assert (predictions["event"].to_numpy() == by_case["death"].to_numpy()).all()
    groups = pd.read_csv(results / "risk_groups.csv")
    assert groups.columns.tolist() == ["model", "set", "group", "n", "events", "median_survival", "logrank_p",
                                       "hr", "hr_ci_low", "hr_ci_high"]
    train = groups[(groups["set"] == "train")]
    assert (train.groupby("model")["n"].sum() == 56).all()  # 80 internal cases, 30 % to test
    # Age has no effect in this simulation: the clinical model's groups need not differ.
    informative = train[train["model"] != "clinical"]
    assert (informative["hr"] > 1).all() and (informative["logrank_p"] < 0.05).all()
    km = pd.read_csv(results / "km.csv")
    assert {"n_risk", "survival"} <= set(km.columns) and km["survival"].between(0, 1).all()
    cox_tables = pd.read_csv(results / "cox_multivariable.csv")
    assert cox_tables["variable"].tolist() == ["radscore", "age"]
    selected = pd.read_csv(results / "selection" / "selected_features.csv")["feature"]
    assert "tex_0" in set(selected)
    lasso = pd.read_csv(results / "selection" / "lasso_coefficients.csv").set_index("feature")["coefficient"]
    assert lasso["tex_0"] > 0 and lasso["tex_1"] <= 0


def test_split_is_stratified_by_event_and_kept(study):
    folder, sheet = study
    split = pd.read_csv(folder / "results" / "split.csv", dtype=str)
    internal = sheet[sheet["center"] == "H1"].set_index("case_id")
    in_test = internal.loc[split.loc[split["set"] == "test", "case_id"]]
    # Exactly round(0.3 x n) of each event stratum (radsnake.cohort.split's draw, the event as label).
    for value, members in internal.groupby("death"):
        assert (in_test["death"] == value).sum() == int(np.floor(0.3 * len(members) + 0.5))
    kept = pd.read_csv(folder / "split" / "assignments.csv", dtype=str)
    assert set(kept["case_id"]) == set(internal.index)


def test_negative_control_has_no_signal_on_any_set(study):
    """Refitted on training outcomes permuted (the permutation least correlated with the
    truth), every model's C-index CI contains 0.5 on every set, the training set's real
    outcomes included; summary.md says so."""
    folder, _ = study
    results = folder / "results" / "survival"
    control = pd.read_csv(results / "negative_control" / "metrics.csv")
    assert len(control) == 9 and set(control["set"]) == {"train", "test", "external"}
    assert ((control["c_index_ci_low"] < 0.5) & (control["c_index_ci_high"] > 0.5)).all(), control
    card = json.loads((results / "negative_control" / "models" / "coxnet" / "model.json").read_text())
    assert card["permuted_outcomes"] is True
    log = (folder / "logs" / "survival_fit_control" / "coxnet.log").read_text()
    assert "negative control: training outcomes permuted (correlation with the truth 0.0" in log
    summary = (results / "summary.md").read_text()
    for row in control[control["set"] != "train"].itertuples():
        assert (f"- {row.model} on {row.set}: C-index {row.c_index:.3f} ({row.c_index_ci_low:.3f}–"
                f"{row.c_index_ci_high:.3f}); the CI contains 0.5, as it must.") in summary


def test_summary_figures_and_internal_validation(study):
    folder, _ = study
    results = folder / "results" / "survival"
    metrics = pd.read_csv(results / "metrics.csv").set_index(["model", "set"])
    summary = (results / "summary.md").read_text()
    row = metrics.loc[("coxnet", "test")]
    assert (f"- coxnet on test: C-index {row.c_index:.3f} ({row.c_index_ci_low:.3f}–{row.c_index_ci_high:.3f}); "
            "the CI lies above 0.5: a prognostic signal on held-out cases.") in summary
    # Harrell's bootstrap optimism: 8 resamples (config), whole pipeline refitted on each.
    optimism = pd.read_csv(results / "validation" / "optimism.csv").set_index("model")
    resamples = pd.read_csv(results / "validation" / "bootstrap.csv")
    assert optimism.columns.tolist() == ["n_boot", "apparent_c", "optimism", "optimism_sd", "corrected_c"]
    for model, table in resamples.groupby("model"):
        assert table["resample"].tolist() == list(range(1, 9))
        assert np.allclose(table["optimism"], table["c_boot"] - table["c_original"])
        assert optimism.loc[model, "apparent_c"] == pytest.approx(metrics.loc[(model, "train"), "c_index"], abs=1e-12)
        assert optimism.loc[model, "optimism"] == pytest.approx(table["optimism"].mean(), abs=1e-12)
        assert optimism.loc[model, "corrected_c"] == pytest.approx(
            optimism.loc[model, "apparent_c"] - optimism.loc[model, "optimism"], abs=1e-12)
        assert f"- {model}: apparent C-index {optimism.loc[model, 'apparent_c']:.3f}" in summary
    assert (optimism["optimism"] > 0).all()  # a fitted model looks better on its own cases
    figures = results / "figures"
    for kind in ("km", "calibration", "decision_curve"):
        for set_name in ("train", "test", "external"):
            assert Image.open(figures / f"{kind}_{set_name}.png").info["dpi"][0] == pytest.approx(300, abs=0.5)
            assert (figures / f"{kind}_{set_name}.pdf").read_bytes().startswith(b"%PDF")
    assert (figures / "td_auc.png").exists()


def test_c_index_and_ci_match_r_concordance(study, tmp_path):
    """Recomputed by survival::concordance from predictions.csv: every c_index and its CI in
    metrics.csv, every model and set (the negative control's too), to 1e-6."""
    folder, _ = study
    frames, expected = {}, {}
    for branch in ("", "negative_control/"):
        results = folder / "results" / "survival" / branch
        metrics = pd.read_csv(results / "metrics.csv")
        for row in metrics.itertuples():
            predictions = pd.read_csv(results / "models" / row.model / "predictions.csv")
            name = f"{branch}{row.model}|{row.set}"
            frames[name] = predictions[predictions["set"] == row.set]
            for key in ("c_index", "c_index_ci_low", "c_index_ci_high"):
                expected[(name, key)] = getattr(row, key)
    r = r_reference_values(R_CONCORDANCE, frames, ["time", "event", "risk"], tmp_path,
                           "r-base-core r-cran-survival")
    assert set(r) == set(expected)
    worst = max(abs(expected[key] - r[key]) for key in expected)
    assert worst < 1e-6, worst


# Three runs check all six: the sheet's bad cells are listed together, and so are the
# checks on the planned training set (each dry run costs a parse of the workflow).
BAD_CASES = [
    ("sheet cells", dict(times={3: -2.0, 4: ""}, events={7: 2}), [
        "has 3 problem(s):",
        "row 5 (case_id 'pt003'): the follow-up time (os_months) -2.0 is negative",
        "row 6 (case_id 'pt004'): the follow-up time (os_months) is missing",
        "row 9 (case_id 'pt007'): the event (death) is '2', but must be 1 (event at that time) or 0 (censored)",
    ]),
    ("horizon and events", dict(horizons=[12, 500], events="few"), [
        "radsnake: endpoint.horizons [500] months: at or beyond the last follow-up of the training set",
        "a Cox model needs at least 10 events per variable (endpoint.min_events_per_variable)",
    ]),
    ("no horizon", dict(horizons=[]), ["radsnake: endpoint.horizons is empty"]),
]


@pytest.mark.parametrize("name,change,expected", BAD_CASES, ids=[case[0] for case in BAD_CASES])
def test_bad_survival_input_stops_before_any_job(tmp_path, name, change, expected):
    sheet, config = survival_study(tmp_path)
    times = sheet["os_months"].astype(object)
    events = sheet["death"].astype(object)
    for row, value in change.get("times", {}).items():
        times[row] = value
    if change.get("events") == "few":
        events[:] = 0
        events[[1, 2, 5, 6, 9]] = 1
    else:
        for row, value in change.get("events", {}).items():
            events[row] = value
    sheet.assign(os_months=times, death=events).to_csv(tmp_path / "cohort.csv", index=False)
    if "horizons" in change:
        config["endpoint"]["horizons"] = change["horizons"]
        write_config(tmp_path, config)
    result = snakemake(tmp_path, "-n", check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and "workflow specific profile" not in line]
    for text in expected:
        assert any(text in line for line in lines), result.stderr[-2000:]
    assert lines[0].startswith("radsnake: ")
    assert not (tmp_path / "results").exists()
