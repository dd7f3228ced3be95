"""Interval reasons, Clopper–Pearson intervals (checked against R's binom.test) and the
selection that keeps nothing, on small inputs (the workflow: tests/test_weak_signal.py)."""

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from conftest import r_unavailable
from radsnake.stats import intervals, signature, discrimination as stats, verdicts
from radsnake.jobs.paper import bootstrap_rows, summary_text
from radsnake.ml.selection import LassoSelector, UnivariateFilter

COUNTS = [(0, 7), (7, 7), (1, 1), (3, 10), (0, 1), (25, 40)]


@pytest.mark.r_reference
def test_clopper_pearson_matches_r_binom_test():
    if shutil.which("Rscript") is None:
        r_unavailable("Rscript not found")
    calls = "; ".join(f"cat(binom.test({k}, {n})$conf.int, '\\n')" for k, n in COUNTS)
    out = subprocess.run(["Rscript", "-e", calls], capture_output=True, text=True, check=True).stdout
    for (k, n), line in zip(COUNTS, out.strip().splitlines()):
        expected = [float(v) for v in line.split()]
        assert intervals.exact_interval(k, n) == pytest.approx(expected, abs=1e-6), (k, n)


def test_delong_reasons():
    y = np.array([0, 0, 0, 1, 1, 1])
    perfect = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    auc = stats.auc_delong(y, perfect)
    assert auc["ci_low"] == auc["ci_high"] == 1.0
    assert intervals.delong_reason(y, perfect, auc["auc"], auc["ci_low"], auc["ci_high"]).startswith(
        "DeLong variance is 0 at AUC 1")
    constant = np.full(6, 0.4)
    auc = stats.auc_delong(y, constant)
    assert intervals.delong_reason(y, constant, auc["auc"], auc["ci_low"], auc["ci_high"]).startswith("constant score")
    one = np.array([0, 0, 0, 0, 1])
    auc = stats.auc_delong(one, np.arange(5.0))
    assert intervals.delong_reason(one, np.arange(5.0), auc["auc"], auc["ci_low"], auc["ci_high"]) == (
        "DeLong CI needs at least 2 case(s) of each label; this set has 1 positive and 4 negatives")
    assert intervals.unsupported_statistics(one) == ["DeLong CI", "DeLong test", "bootstrap CI"]


def test_bootstrap_rows_give_reasons_and_exact_intervals():
    y = np.array([0] * 10 + [1] * 10)
    p = np.r_[np.linspace(0.0, 0.4, 10), np.linspace(0.6, 1.0, 10)]
    rows = bootstrap_rows(y, p, threshold=0.5, n_boot=200, seed=1).set_index("metric")
    assert rows.loc["sensitivity", "ci_low"] == rows.loc["sensitivity", "ci_high"] == 1.0
    assert rows.loc["sensitivity", "ci_reason"].startswith("every resample gives sensitivity 1")
    assert rows.loc["sensitivity", ["clopper_pearson_low", "clopper_pearson_high"]].tolist() == pytest.approx(
        list(intervals.exact_interval(10, 10)))
    text = summary_text(*rows.loc["sensitivity", ["estimate", "ci_low", "ci_high", "ci_reason",
                                                  "clopper_pearson_low", "clopper_pearson_high"]])
    assert text == "1.00 (0.69\u20131.00 Clopper\u2013Pearson; bootstrap without width)"
    few = bootstrap_rows(np.r_[y[:10], 1], np.r_[p[:10], 0.9], threshold=0.5, n_boot=50, seed=1)
    assert few["ci_low"].isna().all() and few["ci_reason"].str.startswith("bootstrap CI needs at least 2").all()


def test_formatted_never_prints_equal_bounds():
    assert intervals.formatted(0.5, 0.4996, 0.5004) == "0.5000 (0.4996\u20130.5004)"
    assert intervals.formatted(1.0, 1.0, 1.0, "no CI: DeLong variance 0 at AUC 1") == "1.00 (no CI: DeLong variance 0 at AUC 1)"


def test_lasso_that_keeps_nothing_is_recorded():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(60, 5)), columns=[f"f{i}" for i in range(5)])
    y = rng.permutation(np.r_[np.zeros(30, int), np.ones(30, int)])
    pipeline = Pipeline([("univariate", UnivariateFilter(p_threshold=1e-6)), ("lasso", LassoSelector(cv_folds=3))])
    pipeline.fit(X, y)
    steps = signature.empty_steps(pipeline)
    assert [s["step"] for s in steps][0] == "univariate"
    line = signature.message("selection 'main'", 60, steps)
    assert line.startswith("no signature: selection 'main' kept no feature on the training set (60 cases): univariate:")
    # n_features forces a signature of at least that many features along the path.
    forced = LassoSelector(cv_folds=3, n_features=2).fit(X, y)
    assert (forced.coef_ != 0).sum() >= 2 and forced.kept_nothing_ is None


def test_verdicts_from_tables():
    metrics = pd.DataFrame({
        "model": ["a", "a", "b", "b"], "set": ["train", "test"] * 2,
        "auc": [0.9, 0.8, 0.6, 0.55], "auc_ci_low": [0.8, 0.7, 0.5, 0.4], "auc_ci_high": [1.0, 0.9, 0.7, 0.7],
        "auc_ci_reason": ["", "", "", ""], "no_signature": ["", "", "", ""],
    })
    control = pd.DataFrame({"model": ["a", "a"], "set": ["test", "test"], "branch": ["real", "permuted"],
                            "auc_ci_low": [0.7, 0.35], "auc_ci_high": [0.9, 0.65]})
    table = verdicts.verdicts(metrics, control)
    assert table["verdict"].tolist() == [
        "a: beats chance on test AUC 0.80 (0.70\u20130.90); beats the leakage negative control on test.",
        "b: does not beat chance on test AUC 0.55 (0.40\u20130.70).",
    ]
    assert verdicts.study_sentence(table) == "Models that beat chance on at least one held-out set: a."


def test_the_zero_width_check_finds_a_row_without_reason(tmp_path):
    """tests/interval_checks.py, which the workflow tests rely on, can fail."""
    from interval_checks import equal_bound_rows_without_reason, intervals_shown_with_equal_bounds

    (tmp_path / "evaluation").mkdir()
    pd.DataFrame({"auc_ci_low": [0.5, 1.0, 1.0], "auc_ci_high": [0.6, 1.0, 1.0],
                  "auc_ci_reason": [None, "DeLong variance is 0", None]}).to_csv(tmp_path / "evaluation" / "m.csv", index=False)
    pd.DataFrame({"lower": [0.2, 0.3], "upper": [0.2, 0.4], "icc_lower": [1.0, 1.0], "icc_upper": [1.0, 1.0],
                  "icc_reason": ["perfect agreement", ""]}).to_csv(tmp_path / "o.csv", index=False)
    assert equal_bound_rows_without_reason(tmp_path) == [
        "evaluation/m.csv auc_ci_low: 1 row(s)", "o.csv lower: 1 row(s)", "o.csv icc_lower: 1 row(s)"]
    assert intervals_shown_with_equal_bounds("| 1.00 (1.00\u20131.00) | 0.85 (0.78\u20130.91) |") == ["1.00\u20131.00"]
