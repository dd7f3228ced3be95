"""Unit tests for radsnake.stats.discrimination with hand-computed values and brute-force references."""

import math
import time

import numpy as np
import pandas as pd
import pytest

from radsnake.stats import discrimination as stats

Z975 = 1.959963984540054


# --------------------------------------------------------------------------- references


def brute_auc_var(y, s):
    """O(m*n) DeLong (1988) straight from the definition, for cross-checking."""
    y = np.asarray(y)
    s = np.asarray(s, float)
    x, yy = s[y == 1], s[y == 0]
    psi = (x[:, None] > yy[None, :]) + 0.5 * (x[:, None] == yy[None, :])
    auc = psi.mean()
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    var = v10.var(ddof=1) / x.size + v01.var(ddof=1) / yy.size
    return auc, var, v10, v01


def random_tied_data(seed, n=120, sep=0.7, decimals=1):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    y[:2] = [0, 1]
    a = np.round(sep * y + rng.normal(size=n), decimals)
    b = np.round(0.5 * sep * y + 0.6 * a + rng.normal(size=n), decimals)
    return y, a, b


# --------------------------------------------------------------------------- auc_delong


def test_auc_hand_example_with_variance_and_ci():
    # pairs (case, control): (.35,.1)=1 (.35,.4)=0 (.8,.1)=1 (.8,.4)=1 -> 3/4
    # V10 = [.5, 1], V01 = [1, .5] -> SX = SY = .125 -> var = .125/2 + .125/2
    res = stats.auc_delong([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert res["auc"] == pytest.approx(0.75, abs=1e-15)
    assert res["var"] == pytest.approx(0.125, abs=1e-15)
    assert res["ci_low"] == pytest.approx(0.75 - Z975 * math.sqrt(0.125), abs=1e-12)
    assert res["ci_high"] == 1.0  # 0.75 + 0.693 clipped


def test_auc_ties_count_half():
    # case 2 vs controls {1, 2}: 1 + 1/2; case 3: 1 + 1 -> 3.5 / 4
    assert stats.auc_delong([0, 0, 1, 1], [1, 2, 2, 3])["auc"] == 0.875
    assert stats.auc_delong([0, 0, 1, 1], [5, 5, 5, 5])["auc"] == 0.5


def test_perfect_separation_has_zero_variance_and_degenerate_ci():
    y = [0] * 5 + [1] * 5
    res = stats.auc_delong(y, np.arange(10.0))
    assert res == dict(auc=1.0, var=0.0, ci_low=1.0, ci_high=1.0)


def test_reversed_model_is_not_flipped():
    y = [0] * 5 + [1] * 5
    res = stats.auc_delong(y, -np.arange(10.0))
    assert res == dict(auc=0.0, var=0.0, ci_low=0.0, ci_high=0.0)
    y, a, _ = random_tied_data(3)
    assert stats.auc_delong(y, -a)["auc"] == pytest.approx(
        1 - stats.auc_delong(y, a)["auc"], abs=1e-15)
    assert stats.auc_delong(y, -a)["auc"] < 0.5


@pytest.mark.parametrize("seed", range(5))
def test_auc_and_variance_match_bruteforce(seed):
    y, a, _ = random_tied_data(seed)
    auc, var, _, _ = brute_auc_var(y, a)
    res = stats.auc_delong(y, a)
    assert res["auc"] == pytest.approx(auc, abs=1e-14)
    assert res["var"] == pytest.approx(var, abs=1e-15)
    se = math.sqrt(var)
    assert res["ci_low"] == pytest.approx(auc - Z975 * se, abs=1e-12)
    assert res["ci_high"] == pytest.approx(auc + Z975 * se, abs=1e-12)


def test_ci_level_changes_width():
    y, a, _ = random_tied_data(1)
    r95 = stats.auc_delong(y, a)
    r90 = stats.auc_delong(y, a, level=0.90)
    assert r90["ci_low"] > r95["ci_low"] and r90["ci_high"] < r95["ci_high"]
    assert r90["auc"] == r95["auc"]


def test_auc_invariant_to_monotone_transform_and_order():
    y, a, _ = random_tied_data(2)
    base = stats.auc_delong(y, a)
    assert stats.auc_delong(y, np.exp(a)) == pytest.approx(base, abs=1e-15)
    perm = np.random.default_rng(0).permutation(y.size)
    assert stats.auc_delong(y[perm], a[perm]) == pytest.approx(base, abs=1e-15)


def test_single_case_gives_nan_variance_like_proc():
    res = stats.auc_delong([0, 0, 0, 1], [0.1, 0.2, 0.9, 0.5])
    assert res["auc"] == pytest.approx(2 / 3)
    assert math.isnan(res["var"]) and math.isnan(res["ci_low"])


@pytest.mark.parametrize("y", [[0, 0, 0], [1, 1, 1]])
def test_missing_class_raises(y):
    with pytest.raises(ValueError, match="both classes"):
        stats.auc_delong(y, [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="both classes"):
        stats.youden_threshold(y, [0.1, 0.2, 0.3])


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="0 \\(control\\) / 1"):
        stats.auc_delong([0, 2, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="NaN"):
        stats.auc_delong([0, 1, 1], [0.1, np.nan, 0.3])
    with pytest.raises(ValueError, match="lengths"):
        stats.auc_delong([0, 1, 1], [0.1, 0.3])


def test_accepts_bool_and_pandas():
    y = pd.Series([False, False, True, True])
    s = pd.Series([0.1, 0.4, 0.35, 0.8])
    assert stats.auc_delong(y, s)["auc"] == 0.75


# --------------------------------------------------------------------------- delong_test


@pytest.mark.parametrize("seed", range(4))
def test_delong_test_matches_bruteforce(seed):
    y, a, b = random_tied_data(seed, n=90)
    auc_a, _, a10, a01 = brute_auc_var(y, a)
    auc_b, _, b10, b01 = brute_auc_var(y, b)
    m, n = (y == 1).sum(), (y == 0).sum()
    s10 = np.cov(np.vstack([a10, b10]))  # ddof=1
    s01 = np.cov(np.vstack([a01, b01]))
    cov = s10 / m + s01 / n
    var_d = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    z = (auc_a - auc_b) / math.sqrt(var_d)
    res = stats.delong_test(y, a, b)
    assert res["auc_a"] == pytest.approx(auc_a, abs=1e-14)
    assert res["auc_b"] == pytest.approx(auc_b, abs=1e-14)
    assert res["z"] == pytest.approx(z, abs=1e-10)
    assert res["p_value"] == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), abs=1e-12)


def test_delong_test_is_antisymmetric():
    y, a, b = random_tied_data(7)
    ab, ba = stats.delong_test(y, a, b), stats.delong_test(y, b, a)
    assert ab["z"] == pytest.approx(-ba["z"], abs=1e-12)
    assert ab["p_value"] == pytest.approx(ba["p_value"], abs=1e-12)


def test_delong_test_identical_scores_is_z0_p1():
    y, a, _ = random_tied_data(4)
    assert stats.delong_test(y, a, a.copy()) == dict(
        auc_a=stats.auc_delong(y, a)["auc"], auc_b=stats.auc_delong(y, a)["auc"],
        z=0.0, p_value=1.0)
    # a strictly monotone transform has the same placements: also z = 0
    assert stats.delong_test(y, a, 3 * a + 1)["z"] == 0.0


def test_delong_test_perfect_vs_reversed_is_infinite():
    y = np.array([0] * 4 + [1] * 4)
    s = np.arange(8.0)
    res = stats.delong_test(y, s, -s)
    assert res["z"] == math.inf and res["p_value"] == 0.0
    assert stats.delong_test(y, -s, s)["z"] == -math.inf


# --------------------------------------------------------------------------- thresholds


def test_threshold_grid_is_proc_midpoints():
    thr, tp, tn, m, n = stats.roc_points(
        np.array([False, False, True, True]), np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(thr, [-np.inf, 1.5, 2.5, 3.5, np.inf])
    np.testing.assert_array_equal(tp, [2, 2, 2, 1, 0])
    np.testing.assert_array_equal(tn, [0, 1, 2, 2, 2])


def test_threshold_grid_adjacent_floats_and_overflow():
    one_up = np.nextafter(1.0, 2.0)
    # (1 + one_up) / 2 rounds back to 1.0; pROC then moves the cut up to one_up
    thr, tp, tn, _, _ = stats.roc_points(np.array([False, True]),
                                          np.array([1.0, one_up]))
    assert thr[1] == one_up
    assert stats.youden_threshold([0, 1], [1.0, one_up]) == one_up
    m = stats.threshold_metrics([0, 1], [1.0, one_up], one_up)
    assert (m["sensitivity"], m["specificity"]) == (1.0, 1.0)
    # the midpoint of two huge values must not overflow to inf
    thr, *_ = stats.roc_points(np.array([False, True]), np.array([1e308, 1.5e308]))
    assert thr[1] == 1.25e308


def test_youden_hand_example_and_tie_rule():
    # cut -inf: se 1, sp 0 | .225: 1, .5 | .375: .5, .5 | .6: .5, 1 | inf: 0, 1
    # J ties at .225 and .6: the lowest threshold (pROC's first row) wins
    y, s = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]
    assert stats.youden_threshold(y, s) == pytest.approx(0.225, abs=1e-15)


def test_youden_perfect_and_reversed():
    y = [0, 0, 0, 1, 1, 1]
    assert stats.youden_threshold(y, [1, 2, 3, 4, 5, 6]) == 3.5
    # nothing beats J = 0; pROC lists -inf first
    assert stats.youden_threshold(y, [6, 5, 4, 3, 2, 1]) == -math.inf


def test_youden_maximises_j_bruteforce():
    y, a, _ = random_tied_data(11, n=200)
    best = stats.youden_threshold(y, a)
    def j(t):
        return stats.threshold_metrics(y, a, t)["sensitivity"] + stats.threshold_metrics(y, a, t)["specificity"]
    cuts = np.r_[-np.inf, np.unique(a), np.inf]
    assert j(best) == pytest.approx(max(j(t) for t in cuts), abs=1e-12)
    assert best not in set(a)  # a midpoint, never an observed score


def test_threshold_metrics_counts():
    y = [1, 1, 1, 0, 0, 0, 0]
    s = [0.9, 0.6, 0.2, 0.7, 0.3, 0.1, 0.5]
    m = stats.threshold_metrics(y, s, 0.5)  # 0.5 itself is positive (>=)
    assert (m["tp"], m["fp"], m["tn"], m["fn"], m["n"]) == (2, 2, 2, 1, 7)
    assert m["sensitivity"] == pytest.approx(2 / 3)
    assert m["specificity"] == 0.5
    assert m["ppv"] == 0.5
    assert m["npv"] == pytest.approx(2 / 3)
    assert m["accuracy"] == pytest.approx(4 / 7)


def test_threshold_metrics_undefined_ratios_are_nan():
    m = stats.threshold_metrics([0, 1, 1], [0.1, 0.2, 0.3], 0.9)
    assert m["tp"] == m["fp"] == 0 and math.isnan(m["ppv"])
    assert m["npv"] == pytest.approx(1 / 3)
    m = stats.threshold_metrics([0, 0], [0.1, 0.2], 0.15)  # no cases at all
    assert math.isnan(m["sensitivity"]) and m["specificity"] == 0.5


def test_target_threshold_hand_example():
    y = [0, 0, 0, 0, 1, 1, 1, 1]
    s = [1, 2, 3, 6, 4, 5, 7, 8]
    assert stats.target_threshold(y, s, sensitivity=1.0) == 3.5
    # 3.5 and 4.5 both give sp .75 with se >= .75: the higher sensitivity wins
    assert stats.target_threshold(y, s, sensitivity=0.75) == 3.5
    assert stats.target_threshold(y, s, sensitivity=0.5) == 6.5
    assert stats.target_threshold(y, s, specificity=1.0) == 6.5
    assert stats.target_threshold(y, s, specificity=0.7) == 3.5
    # any cut qualifies: se = 1 at -inf .. 3.5, and of those 3.5 has the best sp
    assert stats.target_threshold(y, s, specificity=0.0) == 3.5


def test_target_threshold_is_not_fooled_by_float_rounding():
    # 0.9 * 10 = 9.000000000000002: 9 of 10 cases must still satisfy 0.9
    y = np.r_[np.zeros(10, int), np.ones(10, int)]
    s = np.r_[np.arange(10.0), np.r_[5.0, np.arange(11.0, 20.0)]]
    t = stats.target_threshold(y, s, sensitivity=0.9)
    m = stats.threshold_metrics(y, s, t)
    assert m["tp"] == 9 and m["specificity"] == 1.0


def test_target_threshold_argument_errors():
    with pytest.raises(ValueError, match="exactly one"):
        stats.target_threshold([0, 1], [0, 1])
    with pytest.raises(ValueError, match="exactly one"):
        stats.target_threshold([0, 1], [0, 1], sensitivity=0.9, specificity=0.9)
    with pytest.raises(ValueError, match="within"):
        stats.target_threshold([0, 1], [0, 1], sensitivity=1.2)


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_shape_and_estimates():
    y, a, _ = random_tied_data(5, n=200)
    df = stats.bootstrap_ci(y, a, 0.3, n_boot=500)
    assert list(df.index) == ["auc", "sensitivity", "specificity", "ppv", "npv",
                              "accuracy"]
    assert list(df.columns) == ["estimate", "ci_low", "ci_high"]
    assert df.loc["auc", "estimate"] == stats.auc_delong(y, a)["auc"]
    point = stats.threshold_metrics(y, a, 0.3)
    for k in ["sensitivity", "specificity", "ppv", "npv", "accuracy"]:
        assert df.loc[k, "estimate"] == point[k]
    assert ((df.ci_low <= df.estimate) & (df.estimate <= df.ci_high)).all()
    assert (df.ci_low < df.ci_high).all()


def test_bootstrap_is_deterministic_and_seeded():
    y, a, _ = random_tied_data(6)
    d1 = stats.bootstrap_ci(y, a, 0.2, n_boot=300, random_state=42)
    d2 = stats.bootstrap_ci(y, a, 0.2, n_boot=300, random_state=42)
    d3 = stats.bootstrap_ci(y, a, 0.2, n_boot=300, random_state=43)
    pd.testing.assert_frame_equal(d1, d2)
    assert not d1.equals(d3)


def test_bootstrap_matches_explicit_stratified_resampling():
    """Replays the documented draw order (cases, then controls) with a slow loop."""
    y, a, _ = random_tied_data(8, n=80)
    thr, n_boot, seed = 0.1, 200, 5
    rng = np.random.default_rng(seed)
    cases, controls = a[y == 1], a[y == 0]
    ci = rng.integers(0, cases.size, size=(n_boot, cases.size))
    ki = rng.integers(0, controls.size, size=(n_boot, controls.size))
    vals = {k: [] for k in ["auc", "sensitivity", "specificity", "ppv", "npv",
                            "accuracy"]}
    for b in range(n_boot):
        yy = np.r_[np.ones(cases.size, int), np.zeros(controls.size, int)]
        ss = np.r_[cases[ci[b]], controls[ki[b]]]
        vals["auc"].append(brute_auc_var(yy, ss)[0])
        m = stats.threshold_metrics(yy, ss, thr)
        for k in list(vals)[1:]:
            vals[k].append(m[k])
    df = stats.bootstrap_ci(y, a, thr, n_boot=n_boot, random_state=seed)
    for k, v in vals.items():
        v = np.asarray(v, float)
        lo, hi = np.nanquantile(v, [0.025, 0.975])
        assert df.loc[k, "ci_low"] == pytest.approx(lo, abs=1e-12), k
        assert df.loc[k, "ci_high"] == pytest.approx(hi, abs=1e-12), k


def test_bootstrap_auc_spread_agrees_with_delong():
    rng = np.random.default_rng(9)
    y = (rng.random(400) < 0.3).astype(int)
    s = y + rng.normal(size=400)
    d = stats.auc_delong(y, s)
    df = stats.bootstrap_ci(y, s, 0.5, n_boot=2000)
    width_boot = df.loc["auc", "ci_high"] - df.loc["auc", "ci_low"]
    assert width_boot == pytest.approx(d["ci_high"] - d["ci_low"], rel=0.15)


def test_bootstrap_stratified_keeps_both_classes():
    # one single case: a non-stratified bootstrap would often draw none
    y = np.r_[np.zeros(30, int), 1]
    s = np.r_[np.linspace(0, 1, 30), 2.0]
    df = stats.bootstrap_ci(y, s, 1.5, n_boot=200)
    assert df.loc["auc", "ci_low"] == df.loc["auc", "ci_high"] == 1.0
    assert df.loc["sensitivity", "ci_low"] == 1.0


def test_bootstrap_fast_enough():
    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.3).astype(int)
    s = y + rng.normal(size=500)
    t0 = time.perf_counter()
    stats.bootstrap_ci(y, s, 0.5, n_boot=2000)
    assert time.perf_counter() - t0 < 1.0


def test_roc_band_brackets_the_curve_and_is_seeded():
    rng = np.random.default_rng(4)
    y = np.arange(80) % 2
    score = y * 1.2 + rng.normal(size=80)
    band = stats.roc_band(y, score, n_boot=300, random_state=1)
    assert (band["tpr_low"] <= band["tpr_high"]).all()
    assert band["tpr_low"].is_monotonic_increasing and band["tpr_high"].iloc[-1] == 1.0
    # The empirical curve lies inside the band at most specificities.
    order = np.argsort(-score, kind="stable")
    tpr = np.concatenate([[0], np.cumsum(y[order]) / y.sum()])
    fpr = np.concatenate([[0], np.cumsum(1 - y[order]) / (1 - y).sum()])
    curve = np.array([tpr[np.searchsorted(fpr, f + 1e-12, side="right") - 1] for f in band["fpr"]])
    inside = (curve >= band["tpr_low"] - 1e-12) & (curve <= band["tpr_high"] + 1e-12)
    assert inside.mean() > 0.9
    pd.testing.assert_frame_equal(band, stats.roc_band(y, score, n_boot=300, random_state=1))
    assert not band.equals(stats.roc_band(y, score, n_boot=300, random_state=2))
