"""One bring-your-own-feature study through the real workflow, for two rules of
docs/design.md:

* "Split": exactly stratified on the first run (63 + 51 cases, test_fraction 0.3: 19 and
  15 test cases), kept in the study folder afterwards, so adding 10 patients moves no one;
  the per-set table (Fisher's exact test) is in the report.
* "Probabilities keep the model's ranking": the table's one feature is built so that the
  SVM's out-of-fold decision values anti-correlate with the labels; the wrong-sign Platt
  fit is reported on the console and the SVM's probabilities rank the cases as its
  decision values do.
"""

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact

from conftest import FAST_CONFIG, planned_jobs, snakemake, write_config
from radsnake.cohort.split import predict_sets
from test_platt import anti_feature

pytestmark = pytest.mark.workflow

N_FIRST, N_ADDED = 114, 10
SPLIT = {"method": "random", "test_fraction": 0.3, "external_centers": []}


def sheet_of(n: int) -> pd.DataFrame:
    """63 cases of label 1 and 51 of label 0 among the first 114 (shuffled, fixed seed)."""
    rng = np.random.default_rng(18)
    labels = np.r_[rng.permutation([1] * 63 + [0] * 51), np.arange(N_ADDED) % 2][:n]
    return pd.DataFrame({"case_id": [f"pt{i:03d}" for i in range(n)], "label": labels, "center": "H1"})


def feature_table(sheet: pd.DataFrame, train: pd.Series) -> pd.DataFrame:
    """x: on the training cases (in features.csv order, by case id) the SVM's out-of-fold
    decision values anti-correlate with the labels (test_platt.anti_feature); elsewhere noise."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=len(sheet))
    in_train = sheet["case_id"].isin(train).to_numpy()
    x[in_train] = anti_feature(sheet["label"].to_numpy()[in_train], rng)
    return pd.DataFrame({"case_id": sheet["case_id"], "x": x})


def sets_of(folder) -> pd.Series:
    return pd.read_csv(folder / "results" / "split.csv", dtype=str).set_index("case_id")["set"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("split_study")
    sheet = sheet_of(N_FIRST)
    sheet.to_csv(folder / "cohort.csv", index=False)
    # What other parse-time checks call: each case's set, from the sheet before any job ran.
    predicted = predict_sets(sheet.set_index("case_id").astype(str), SPLIT, 42,
                             kept_csv=str(folder / "split" / "assignments.csv"))
    feature_table(sheet, predicted.loc[predicted["set"] == "train", "case_id"]).to_csv(
        folder / "own_features.csv", index=False)
    config = dict(FAST_CONFIG, cohort="cohort.csv", features_table="own_features.csv", clinical={}, split=SPLIT)
    config["selection"] = {"steps": [{"step": "zscore"}, {"step": "lasso", "cv_folds": 3, "n_lambdas": 20}]}
    config["models"] = dict(FAST_CONFIG["models"], enabled=["logistic", "svm", "decision_tree"])
    config["models"]["param_grid"] = dict(FAST_CONFIG["models"]["param_grid"], svm={"C": [1.0], "kernel": ["linear"]})
    write_config(folder, config)
    run = snakemake(folder)
    return folder, predicted, run.stdout + run.stderr


def test_first_run_is_exactly_stratified_and_predicted(study):
    folder, predicted, _ = study
    sets = sets_of(folder)
    labels = pd.read_csv(folder / "cohort.csv", dtype={"case_id": str}).set_index("case_id")["label"]
    assert labels[sets[sets == "test"].index].value_counts().to_dict() == {1: 19, 0: 15}
    assert predicted.set_index("case_id")["set"].equals(sets)
    kept = pd.read_csv(folder / "split" / "assignments.csv", dtype=str)
    assert kept.columns.tolist() == ["case_id", "set", "assigned_by"]
    assert kept.set_index("case_id")["set"].equals(sets) and set(kept["assigned_by"]) == {"stratified_draw"}


def test_per_set_table_in_the_report(study):
    folder, _, _ = study
    table = pd.read_csv(folder / "results" / "split_summary.csv")
    assert table["set"].tolist() == ["train", "test"]
    assert table["cases"].tolist() == [80, 34] and table["events"].tolist() == [44, 19]
    assert table["prevalence"].tolist() == [44 / 80, 19 / 34]
    assert table.loc[1, "test"] == "Fisher's exact test (two-sided), vs train"
    assert table.loc[1, "p_value"] == pytest.approx(fisher_exact([[19, 15], [44, 36]])[1], abs=1e-12)
    snakemake(folder, "--report", str(folder / "report.html"))
    html = (folder / "report.html").read_text(errors="replace")
    assert "split_summary.csv" in html and "cases per set" in html


def test_svm_probabilities_keep_its_ranking_and_the_fit_is_reported(study):
    folder, _, console = study
    assert (
        "radsnake: results/models/svm, fitted on the training set (80 cases): Platt's sigmoid fitted "
        "on the out-of-fold decision values has a negative slope" in console
    )
    pipeline = joblib.load(folder / "results" / "models" / "svm" / "model.joblib")
    assert pipeline[-1].wrong_sign_ and pipeline[-1].slope_ == 0.0
    features = pd.read_csv(folder / "results" / "features.csv", dtype={"case_id": str}).set_index("case_id")
    decision = pd.Series(pipeline.decision_function(features[["x"]]), index=features.index)
    predictions = pd.read_csv(folder / "results" / "models" / "svm" / "predictions.csv", dtype={"case_id": str})
    probability = predictions.set_index("case_id")["probability"]
    order = decision.loc[probability.index].rank(method="min")
    assert (probability.rank(method="min") == order).all()
    # No model ranks its own training cases below chance without a console line naming it.
    metrics = pd.read_csv(folder / "results" / "evaluation" / "metrics.csv")
    for row in metrics[(metrics["set"] == "train") & (metrics["auc"] < 0.5)].itertuples():
        assert f"results/models/{row.model}, fitted on the training set" in console and "below 0.5" in console


def test_nothing_reruns_and_adding_patients_moves_no_one(study):
    folder, _, _ = study
    assert planned_jobs(folder) == {}
    before = sets_of(folder)
    sheet = sheet_of(N_FIRST + N_ADDED)
    sheet.to_csv(folder / "cohort.csv", index=False)
    old = pd.read_csv(folder / "own_features.csv")
    added = pd.DataFrame({"case_id": sheet["case_id"][N_FIRST:], "x": np.linspace(-1, 1, N_ADDED)})
    pd.concat([old, added]).to_csv(folder / "own_features.csv", index=False)
    jobs = planned_jobs(folder)
    assert jobs["import_features"] == 1 and jobs["split_cases"] == 1
    snakemake(folder, "results/split.csv")
    after = sets_of(folder)
    assert len(after) == N_FIRST + N_ADDED
    assert after.loc[before.index].equals(before)
    kept = pd.read_csv(folder / "split" / "assignments.csv", dtype=str).set_index("case_id")
    assert set(kept["assigned_by"].drop(before.index)) == {"hash"} and kept["set"].equals(after)

    # results/split.csv deleted: the kept file brings every case back to its set.
    (folder / "results" / "split.csv").unlink()
    snakemake(folder, "results/split.csv")
    assert sets_of(folder).equals(after)

    # A study folder from before the kept file: its results/split.csv is adopted as it is.
    (folder / "split" / "assignments.csv").unlink()
    result = snakemake(folder, "-n")
    assert "radsnake: split: the sets of results/split.csv (an earlier run) are kept in " in result.stdout + result.stderr
    adopted = pd.read_csv(folder / "split" / "assignments.csv", dtype=str).set_index("case_id")
    assert adopted["set"].equals(after) and set(adopted["assigned_by"]) == {"earlier_split"}

    # A damaged kept split stops the run before any job, naming the file.
    (folder / "split" / "assignments.csv").write_text("case_id,set\npt000,validation\n")
    result = snakemake(folder, "-n", check=False)
    assert result.returncode != 0
    assert (f"radsnake: split: {folder / 'split' / 'assignments.csv'} is the study's kept split and must have "
            "columns case_id,set,assigned_by with set train or test") in result.stdout + result.stderr
