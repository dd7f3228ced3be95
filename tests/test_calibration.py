"""radsnake.stats.calibration: hand-computed values, simulated calibration, edge cases.

The comparison with R (rms::val.prob, hoslem.test, prop.test) lives in
test_calibration_r_reference.py.
"""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from scipy.stats import chi2
from statsmodels.discrete.discrete_model import Logit
from statsmodels.nonparametric.smoothers_lowess import lowess as sm_lowess

from radsnake.stats import calibration as cal


def _simulate(n, seed, slope=1.0, shift=0.0):
    """Outcomes from true risks expit(lp); predictions expit(slope * lp + shift)."""
    rng = np.random.default_rng(seed)
    lp = -0.5 + 1.5 * rng.normal(size=n)
    y = (rng.random(n) < expit(lp)).astype(int)
    return y, expit(slope * lp + shift)


# --------------------------------------------------------------------------- hand-computed


def test_brier_hand_computed():
    res = cal.calibration_stats([0, 1, 1, 0], [0.1, 0.8, 0.3, 0.6])
    assert res["brier"] == pytest.approx((0.01 + 0.04 + 0.49 + 0.36) / 4, abs=1e-15)
    assert res["n"] == 4 and res["n_excluded"] == 0


def test_decision_curve_hand_computed():
    y = [1, 1, 0, 0, 1]
    p = [0.9, 0.4, 0.35, 0.1, 0.2]
    dc = cal.decision_curve(y, p, thresholds=[0.3, 0.4, 0.5])
    assert list(dc.columns) == ["threshold", "net_benefit", "net_benefit_all",
                                "net_benefit_none"]
    # pt = 0.3: treated 0.9, 0.4 (events), 0.35 (non-event)
    assert dc.net_benefit[0] == pytest.approx(2 / 5 - 1 / 5 * 0.3 / 0.7, abs=1e-15)
    # pt = 0.4: p >= pt treats the 0.4 subject too, the 0.35 one no longer
    assert dc.net_benefit[1] == pytest.approx(2 / 5, abs=1e-15)
    assert dc.net_benefit[2] == pytest.approx(1 / 5, abs=1e-15)
    assert dc.net_benefit_all[0] == pytest.approx(0.6 - 0.4 * 0.3 / 0.7, abs=1e-15)
    assert (dc.net_benefit_none == 0).all()


def test_decision_curve_default_thresholds_are_exact_hundredths():
    dc = cal.decision_curve([0, 1, 0, 1], [0.29, 0.29, 0.1, 0.8])
    assert len(dc) == 99 and dc.threshold.iloc[28] == 0.29
    # at pt = 0.29 the two subjects with p = 0.29 are treated (p >= pt)
    assert dc.net_benefit.iloc[28] == pytest.approx(2 / 4 - 1 / 4 * 0.29 / 0.71, abs=1e-15)
    # treat-all equals the model when everybody is treated
    assert dc.net_benefit.iloc[0] == pytest.approx(dc.net_benefit_all.iloc[0], abs=1e-15)


def test_hosmer_lemeshow_hand_computed():
    # quantile(p, c(0, 1/3, 2/3, 1)) = 0.1, 0.2667, 0.4667, 0.8 -> pairs of subjects
    y = [0, 0, 1, 0, 1, 1]
    p = [0.1, 0.2, 0.3, 0.4, 0.6, 0.8]
    stat = (0.09 / 0.3 + 0.09 / 1.7) + (0.09 / 0.7 + 0.09 / 1.3) + (0.36 / 1.4 + 0.36 / 0.6)
    res = cal.hosmer_lemeshow(y, p, groups=3)
    assert res["statistic"] == pytest.approx(stat, abs=1e-12)
    assert res["df"] == 1 and res["n_groups"] == 3
    assert res["p_value"] == pytest.approx(chi2.sf(stat, 1), abs=1e-14)


def test_r_quantile_matches_numpy_default():
    x = np.random.default_rng(3).random(37)
    probs = np.arange(11) / 10
    np.testing.assert_allclose(cal.r_quantile7(x, probs), np.quantile(x, probs),
                               rtol=0, atol=1e-15)


def test_wilson_interval_ends_at_0_and_1():
    # Values against R's prop.test: tests/test_calibration_r_reference.py (ci_low, ci_high).
    lo, hi = cal.wilson_interval(np.array([0.0, 5.0, 10.0]), np.array([10.0, 10.0, 10.0]))
    assert lo[0] == 0.0 and hi[2] == 1.0 and 0 < lo[1] < 0.5 < hi[1] < 1


def test_calibration_curve_uniform_bins_closed_on_the_right():
    p = [0.0, 0.05, 0.1, 0.15, 0.5, 0.95, 1.0]
    y = [0, 0, 1, 0, 1, 1, 1]
    cc = cal.calibration_curve(y, p, n_bins=10, strategy="uniform")
    assert list(cc.columns) == ["bin", "n", "mean_predicted", "observed", "ci_low",
                                "ci_high"]
    assert cc.bin.tolist() == [0, 1, 4, 9]  # empty bins left out
    assert cc.n.tolist() == [3, 1, 1, 2]  # 0.1 belongs to (0, 0.1]
    assert cc.observed.tolist() == pytest.approx([1 / 3, 0, 1, 1])
    assert cc.mean_predicted.tolist() == pytest.approx([0.05, 0.15, 0.5, 0.975])
    assert (cc.ci_low <= cc.observed).all() and (cc.observed <= cc.ci_high).all()


def test_calibration_curve_quantile_uses_hosmer_lemeshow_groups():
    y, p = _simulate(500, 11)
    cc = cal.calibration_curve(y, p, n_bins=10)
    assert len(cc) == cal.hosmer_lemeshow(y, p)["n_groups"] == 10
    assert cc.n.sum() == 500 and cc.n.between(49, 51).all()
    assert cc.mean_predicted.is_monotonic_increasing


# --------------------------------------------------------------------------- simulated


def test_well_calibrated_predictions():
    y, p = _simulate(20000, 1)
    res = cal.calibration_stats(y, p)
    assert res["slope"] == pytest.approx(1.0, abs=0.05)
    assert res["intercept"] == pytest.approx(0.0, abs=0.05)
    assert res["calibration_in_the_large"] == pytest.approx(0.0, abs=0.05)
    assert res["eavg"] < 0.02 and res["emax"] < 0.06
    assert cal.hosmer_lemeshow(y, p)["p_value"] > 0.01
    sm = cal.smoothed_calibration(y, p, n_boot=0)
    mid = sm[(sm.predicted > 0.05) & (sm.predicted < 0.95)]
    assert (mid.observed - mid.predicted).abs().max() < 0.05


@pytest.mark.parametrize("slope,shift", [(2.0, 0.0), (0.5, 0.0), (1.0, 0.7)])
def test_miscalibration_is_detected(slope, shift):
    y, p = _simulate(20000, 2, slope=slope, shift=shift)
    res = cal.calibration_stats(y, p)
    # truth: logit P(y) = lp = (logit(p) - shift) / slope
    assert res["slope"] == pytest.approx(1 / slope, rel=0.06)
    assert res["intercept"] == pytest.approx(-shift / slope, abs=0.06)
    if slope == 1.0:
        assert res["calibration_in_the_large"] == pytest.approx(-shift, abs=0.06)
    assert cal.hosmer_lemeshow(y, p)["p_value"] < 1e-6


def test_lrm_replica_close_to_fully_converged_mle():
    """lrm.fit stops early by design; the MLE (statsmodels) is within ~1e-4 in
    small samples and agrees closely in large ones."""
    for n, tol in ((30, 1e-3), (5000, 1e-6)):
        y, p = _simulate(n, 5, slope=1.3)
        x = logit(p)
        ref = Logit(y, np.column_stack([np.ones(n), x])).fit(disp=0, tol=1e-14).params
        got = cal.lrm_fit(x, y.astype(float))
        np.testing.assert_allclose(got, ref, rtol=0, atol=tol)


def test_calibration_in_the_large_solves_score_equation():
    y, p = _simulate(300, 9, shift=-0.4)
    a = cal.calibration_in_the_large(y, p)
    assert abs(np.sum(y - expit(a + logit(p)))) < 1e-9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lowess_port_matches_statsmodels_without_delta(seed):
    rng = np.random.default_rng(seed)
    n = [15, 120, 400][seed]
    x = np.sort(np.round(rng.random(n), 2 if seed == 1 else 6))  # seed 1: ties
    y = (rng.random(n) < x).astype(float)
    ref = sm_lowess(y, x, frac=2 / 3, it=0, delta=0.0, return_sorted=False)
    np.testing.assert_allclose(cal.clowess(x, y, 2 / 3, 0.0), ref, rtol=0, atol=1e-8)


# --------------------------------------------------------------------------- determinism


def test_deterministic():
    y, p = _simulate(150, 4, slope=0.7)
    assert cal.calibration_stats(y, p) == cal.calibration_stats(y, p)
    a = cal.smoothed_calibration(y, p, n_boot=50, random_state=3)
    b = cal.smoothed_calibration(y, p, n_boot=50, random_state=3)
    pd.testing.assert_frame_equal(a, b)
    c = cal.smoothed_calibration(y, p, n_boot=50, random_state=4)
    np.testing.assert_array_equal(a.observed, c.observed)
    assert not np.allclose(a.ci_low, c.ci_low)
    pd.testing.assert_frame_equal(cal.calibration_curve(y, p), cal.calibration_curve(y, p))
    pd.testing.assert_frame_equal(cal.decision_curve(y, p), cal.decision_curve(y, p))


def test_smoothed_calibration_shape_and_band():
    y, p = _simulate(300, 6)
    grid = np.linspace(0.1, 0.9, 9)
    sm = cal.smoothed_calibration(y, p, grid=grid, n_boot=100)
    assert list(sm.columns) == ["predicted", "observed", "ci_low", "ci_high"]
    np.testing.assert_array_equal(sm.predicted, grid)
    assert (sm.ci_low <= sm.observed + 1e-12).all() and (sm.observed <= sm.ci_high + 1e-12).all()
    assert len(cal.smoothed_calibration(y, p, n_boot=0)) == 101
    assert cal.smoothed_calibration(y, p, n_boot=0).ci_low.isna().all()
    # grid points outside the observed predictions have no smoothed value
    out = cal.smoothed_calibration(y, p, grid=[p.min() / 2, p.max()], n_boot=0)
    assert math.isnan(out.observed[0]) and not math.isnan(out.observed[1])


# --------------------------------------------------------------------------- edge cases


def test_all_predictions_equal():
    y = [0, 1, 0, 0, 1, 0, 0, 0, 1, 0]
    p = [0.2] * 10
    res = cal.calibration_stats(y, p)  # val.prob's constant-p branch
    assert res["intercept"] == pytest.approx(math.log(0.3 / 0.7), abs=1e-15)
    assert res["slope"] == 0.0
    assert res["emax"] == res["e90"] == res["eavg"] == pytest.approx(0.1, abs=1e-15)
    assert res["brier"] == pytest.approx((3 * 0.64 + 7 * 0.04) / 10, abs=1e-15)
    assert res["calibration_in_the_large"] == pytest.approx(
        math.log(0.3 / 0.7) - math.log(0.2 / 0.8), abs=1e-12)
    with pytest.raises(ValueError, match="all predictions are equal"):
        cal.hosmer_lemeshow(y, p)
    cc = cal.calibration_curve(y, p)
    assert len(cc) == 1 and cc.n[0] == 10 and cc.observed[0] == pytest.approx(0.3)
    dc = cal.decision_curve(y, p)
    assert (dc.net_benefit[dc.threshold <= 0.2] == dc.net_benefit_all[dc.threshold <= 0.2]).all()
    assert (dc.net_benefit[dc.threshold > 0.2] == 0).all()


def test_predictions_of_exactly_zero_or_one():
    y, p = _simulate(200, 7)
    p = p.copy()
    p[:2], p[2:4] = 0.0, 1.0
    res = cal.calibration_stats(y, p)
    assert res["n_excluded"] == 4 and res["n"] == 200
    keep = slice(4, None)
    sub = cal.calibration_stats(y[keep], p[keep])
    assert res["intercept"] == sub["intercept"] and res["slope"] == sub["slope"]
    assert res["brier"] == pytest.approx(np.mean((p - y) ** 2), abs=1e-15)
    assert res["brier"] != sub["brier"]
    assert math.isfinite(res["emax"]) and math.isfinite(
        cal.hosmer_lemeshow(y, p)["statistic"])


def test_tiny_samples():
    res = cal.calibration_stats([0, 1, 0, 1], [0.2, 0.3, 0.6, 0.7])
    assert math.isfinite(res["slope"]) and math.isfinite(res["intercept"])
    with pytest.warns(RuntimeWarning, match="fewer than 3"):
        res = cal.calibration_stats([0, 1], [0.3, 0.4])
    assert math.isnan(res["slope"]) and res["brier"] == pytest.approx((0.09 + 0.36) / 2)
    with pytest.warns(RuntimeWarning, match="empty"):
        hl = cal.hosmer_lemeshow([0, 1, 1], [0.2, 0.5, 0.8])
    assert math.isnan(hl["statistic"])
    assert len(cal.smoothed_calibration([0, 1, 1], [0.2, 0.5, 0.8], n_boot=10)) == 101


def test_perfect_separation_gives_nan_slope_with_warning():
    with pytest.warns(RuntimeWarning, match="separate"):
        res = cal.calibration_stats([0, 0, 0, 1, 1], [0.1, 0.2, 0.4, 0.4, 0.9])
    assert math.isnan(res["intercept"]) and math.isnan(res["slope"])
    assert math.isfinite(res["brier"])


@pytest.mark.parametrize("y,p,msg", [
    ([0, 1, 1], [0.1, 0.5], "different lengths"),
    ([0, 1, 2], [0.1, 0.5, 0.6], "coded 0 / 1"),
    ([1, 1, 1], [0.1, 0.5, 0.6], "both classes"),
    ([0, 1, 1], [0.1, np.nan, 0.6], "NaN"),
    ([0, 1, 1], [0.1, 1.2, 0.6], r"\[0, 1\]"),
])
def test_input_validation(y, p, msg):
    for fn in (cal.calibration_stats, cal.hosmer_lemeshow, cal.calibration_curve,
               cal.smoothed_calibration, cal.decision_curve, cal.calibration_in_the_large):
        with pytest.raises(ValueError, match=msg):
            fn(y, p)


def test_argument_validation():
    y, p = [0, 1, 0, 1], [0.2, 0.3, 0.6, 0.7]
    with pytest.raises(ValueError, match="groups"):
        cal.hosmer_lemeshow(y, p, groups=2)
    with pytest.raises(ValueError, match="strategy"):
        cal.calibration_curve(y, p, strategy="kmeans")
    with pytest.raises(ValueError, match="thresholds"):
        cal.decision_curve(y, p, thresholds=[0.0, 0.5])
    with pytest.raises(ValueError, match="frac"):
        cal.smoothed_calibration(y, p, frac=0)


def test_no_warnings_on_ordinary_data():
    y, p = _simulate(100, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cal.calibration_stats(y, p)
        cal.hosmer_lemeshow(y, p)
        cal.calibration_curve(y, p)
        cal.smoothed_calibration(y, p, n_boot=20)
        cal.decision_curve(y, p)
