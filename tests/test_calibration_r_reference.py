"""radsnake.stats.calibration against R (rms::val.prob, glm, prop.test), run once per module.

Needs R with rms (Debian/Ubuntu: r-base-core r-cran-rms). Without Rscript the tests
are skipped locally, but fail when the CI environment variable is set, so the
reference comparison can never silently disappear from CI.

The Hosmer-Lemeshow test is computed three ways and compared to 1e-10: the
vectorised module, a literal loop implementation below, and hoslem.test's own R
lines (ResourceSelection is not packaged for Debian) in tests/r/calibration.R.
"""

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import chi2

from conftest import r_reference_values
from radsnake.stats import calibration

pytestmark = pytest.mark.r_reference

R_SCRIPT = Path(__file__).parent / "r" / "calibration.R"
TOL = 1e-6
HL_TOL = 1e-10


def _datasets() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(20240612)
    out = {}

    def sim(n, prev_logit=0.0, scale=1.5):
        lp = prev_logit + scale * rng.normal(size=n)
        y = (rng.random(n) < expit(lp)).astype(int)
        return lp, y

    # Predictions rounded to 2 decimals: many ties, kept inside (0, 1).
    lp, y = sim(200)
    out["ties"] = pd.DataFrame(dict(y=y, p=np.clip(np.round(expit(lp), 2), 0.01, 0.99)))

    # Near-perfect separation: classes overlap in only a few subjects.
    y = rng.permutation(np.r_[np.ones(40, int), np.zeros(60, int)])
    lg = np.where(y == 1, rng.normal(3.0, 1.0, 100), rng.normal(-3.0, 1.0, 100))
    lg[np.flatnonzero(y == 0)[:2]] = [2.5, 4.0]  # two confident false positives
    lg[np.flatnonzero(y == 1)[:1]] = [-3.5]  # one confident false negative
    out["near_separation"] = pd.DataFrame(dict(y=y, p=expit(lg)))

    # n = 10.
    y = rng.permutation([0] * 6 + [1] * 4)
    out["n10"] = pd.DataFrame(dict(y=y, p=expit(0.8 * (y - 0.4) + rng.normal(size=10))))

    # Imbalanced: 10 % positives.
    y = rng.permutation(np.r_[np.ones(30, int), np.zeros(270, int)])
    out["imbalanced"] = pd.DataFrame(dict(y=y, p=expit(-2.6 + 1.2 * y + rng.normal(size=300))))

    # Well calibrated, over-confident (slope < 1) and under-confident (slope > 1).
    lp, y = sim(400, -0.3)
    out["calibrated"] = pd.DataFrame(dict(y=y, p=expit(lp)))
    out["overconfident"] = pd.DataFrame(dict(y=y, p=expit(2.2 * lp + 0.5)))
    out["underconfident"] = pd.DataFrame(dict(y=y, p=expit(0.45 * lp - 0.4)))

    # Exact 0 and 1 among the predictions: out of the logistic fit, in the Brier.
    lp, y = sim(150)
    p = expit(lp + 0.3 * rng.normal(size=150))
    p[:3] = 0.0
    p[3:6] = 1.0
    out["zeros_ones"] = pd.DataFrame(dict(y=y, p=p))

    # One prediction for everybody: val.prob's special branch.
    out["constant"] = pd.DataFrame(dict(y=rng.permutation([0] * 14 + [1] * 6), p=0.25))

    # A step-valued model (a depth-2 tree): three values, each its own calibration group.
    p = np.repeat([0.2, 0.5, 0.8], [12, 9, 7])
    y = (rng.random(28) < p).astype(int)
    y[[0, 12, 21]] = [1, 0, 0]  # no value holds one class only
    out["three_values"] = pd.DataFrame(dict(y=y, p=p))
    # Pure leaves at 0 and 1 leave one value inside (0, 1): val.prob cannot fit (NA).
    out["three_values_01"] = pd.DataFrame(dict(y=np.r_[[0] * 8, [0, 1, 1, 0, 1, 0], [1] * 6],
                                               p=np.repeat([0.0, 0.5, 1.0], [8, 6, 6])))
    return out


# val.prob gives no intercept and slope here; the tests of finite values leave it out.
NOT_ESTIMABLE = {"three_values_01"}


DATASETS = _datasets()
ESTIMABLE = [d for d in DATASETS if d not in NOT_ESTIMABLE]


def _num(s: str) -> float:
    return math.nan if s == "NA" else float(s)


@pytest.fixture(scope="module")
def r_values(tmp_path_factory):
    return r_reference_values(
        R_SCRIPT, DATASETS, ["y", "p"], tmp_path_factory.mktemp("r_calibration"),
        "r-base-core r-cran-proc r-cran-rms", parse=_num,
    )


def _yp(ds):
    df = DATASETS[ds]
    return df.y.to_numpy(), df.p.to_numpy()


def _stats(ds):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no data set here should need a NaN fallback
        return calibration.calibration_stats(*_yp(ds))


# --------------------------------------------------------------------------- val.prob


@pytest.mark.parametrize("ds", ESTIMABLE)
def test_intercept_slope_brier_match_val_prob(r_values, ds):
    res = _stats(ds)
    for key, rkey in (("intercept", "Intercept"), ("slope", "Slope"), ("brier", "Brier")):
        r = r_values[(ds, rkey)]
        assert abs(res[key] - r) <= TOL, (ds, key, res[key], r)


@pytest.mark.parametrize("ds", [d for d in ESTIMABLE if d != "constant"])
def test_lowess_errors_match_val_prob(r_values, ds):
    res = _stats(ds)
    for key, rkey in (("emax", "Emax"), ("e90", "E90"), ("eavg", "Eavg")):
        r = r_values[(ds, rkey)]
        assert abs(res[key] - r) <= TOL, (ds, key, res[key], r)


@pytest.mark.parametrize("ds", [d for d in DATASETS if d != "constant"])
def test_lowess_curve_matches_r_lowess(r_values, ds):
    """The clowess port, at every observed p, against R's lowess(p, y, iter = 0)."""
    y, p = _yp(ds)
    xs, fit = calibration.r_lowess(p, y.astype(float))
    got = calibration.r_approx(xs, fit, p)
    ref = np.array([r_values[(ds, f"lowess_{i}")] for i in range(p.size)])
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("ds", list(DATASETS))
def test_calibration_in_the_large_matches_glm_offset(r_values, ds):
    res = calibration.calibration_in_the_large(*_yp(ds))
    assert abs(res - r_values[(ds, "citl")]) <= TOL


def test_reference_covers_required_cases(r_values):
    """Guard against the data sets drifting away from what they are meant to test."""
    assert r_values[("overconfident", "Slope")] < 0.6
    assert r_values[("underconfident", "Slope")] > 1.5
    assert abs(r_values[("calibrated", "Slope")] - 1) < 0.25
    assert r_values[("near_separation", "Slope")] > 0  # finite, i.e. not separated
    assert DATASETS["imbalanced"].y.mean() == 0.1
    assert len(DATASETS["n10"]) == 10
    assert DATASETS["ties"].p.duplicated().sum() > 50
    assert _stats("zeros_ones")["n_excluded"] == 6
    assert r_values[("constant", "Slope")] == 0.0
    assert DATASETS["three_values"].p.nunique() == 3 and DATASETS["three_values_01"].p.nunique() == 3


def test_step_valued_predictor_where_val_prob_cannot_fit(r_values):
    """Same NA as val.prob (lrm.fit stops: singular matrix), with the reason stated."""
    assert r_values[("three_values_01", "valprob_failed")] == 1.0
    assert math.isnan(r_values[("three_values_01", "Slope")])
    with pytest.warns(RuntimeWarning, match="all predictions strictly between 0 and 1 are equal"):
        res = calibration.calibration_stats(*_yp("three_values_01"))
    assert math.isnan(res["intercept"]) and math.isnan(res["slope"])
    assert res["reason"] == "all predictions strictly between 0 and 1 are equal"
    assert abs(res["brier"] - r_values[("three_values_01", "Brier")]) <= TOL
    # Its calibration groups are its three values, each with its own cases.
    curve = calibration.calibration_curve(*_yp("three_values_01"))
    assert curve["mean_predicted"].tolist() == [0.0, 0.5, 1.0] and curve["n"].tolist() == [8, 6, 6]


def test_three_valued_predictor_has_three_groups(r_values):
    assert r_values[("three_values", "valprob_failed")] == 0.0
    assert _stats("three_values")["reason"] == ""
    curve = calibration.calibration_curve(*_yp("three_values"))
    assert curve["n"].tolist() == [12, 9, 7]


# --------------------------------------------------------------------------- Hosmer-Lemeshow


def _hl_literal(y, p, g):
    """Hosmer-Lemeshow as hoslem.test, written out with loops from the formula."""
    n = len(p)
    xs = sorted(p)
    breaks = []
    for k in range(g + 1):
        prob = min(k * (1.0 / g), 1.0)  # seq(0, 1, 1/g)
        index = 1 + (n - 1) * prob  # quantile type 7, R's arithmetic
        lo, hi = math.floor(index), math.ceil(index)
        q = xs[lo - 1]
        if index > lo and xs[hi - 1] != q:
            h = index - lo
            q = (1 - h) * q + h * xs[hi - 1]
        if q not in breaks:
            breaks.append(q)
    chisq = 0.0
    for k in range(1, len(breaks)):
        members = [i for i in range(n)
                   if (breaks[k - 1] < p[i] or (k == 1 and p[i] == breaks[0]))
                   and p[i] <= breaks[k]]
        obs1 = sum(y[i] for i in members)
        exp1 = sum(p[i] for i in members)
        obs0 = len(members) - obs1
        exp0 = len(members) - exp1
        chisq += (obs0 - exp0) ** 2 / exp0 + (obs1 - exp1) ** 2 / exp1
    return chisq, g - 2, 1 - chi2.cdf(chisq, g - 2), len(breaks) - 1


@pytest.mark.parametrize("g", [10, 5])
@pytest.mark.parametrize("ds", [d for d in ESTIMABLE if d != "constant"])
def test_hosmer_lemeshow_three_ways(r_values, ds, g):
    y, p = _yp(ds)
    res = calibration.hosmer_lemeshow(y, p, groups=g)
    lit = _hl_literal(list(y), list(p), g)
    ref = [r_values[(ds, f"hl{g}_{k}")] for k in ("statistic", "df", "p", "ngroups")]
    got = [res["statistic"], res["df"], res["p_value"], res["n_groups"]]
    for name, a, b, c in zip(("statistic", "df", "p_value", "n_groups"), got, lit, ref):
        assert abs(a - c) <= HL_TOL * max(1.0, abs(c)), ("module vs R", ds, name, a, c)
        assert abs(b - c) <= HL_TOL * max(1.0, abs(c)), ("literal vs R", ds, name, b, c)


def test_hosmer_lemeshow_ties_collapse_groups(r_values):
    """Tied deciles are merged (unique(quantile(...))), df stays g - 2."""
    assert r_values[("ties", "hl10_ngroups")] <= 10
    heavy = DATASETS["ties"].assign(p=lambda d: np.round(d.p, 1).clip(0.1, 0.9))
    res = calibration.hosmer_lemeshow(heavy.y, heavy.p)
    assert res["n_groups"] < 10 and res["df"] == 8


# --------------------------------------------------------------------------- curves


@pytest.mark.parametrize("ds", [d for d in DATASETS if d != "constant"])
def test_calibration_curve_matches_prop_test(r_values, ds):
    cc = calibration.calibration_curve(*_yp(ds), n_bins=10)
    keys = {k for (d, k) in r_values if d == ds and k.startswith("cc_")}
    assert len(cc) == len({k.split("_")[1] for k in keys})
    for row in cc.itertuples():
        for col in ("n", "observed", "mean_predicted", "ci_low", "ci_high"):
            r = r_values[(ds, f"cc_{row.bin}_{col}")]
            assert abs(getattr(row, col) - r) <= 1e-12, (ds, row.bin, col)


@pytest.mark.parametrize("ds", list(DATASETS))
def test_decision_curve_matches_r(r_values, ds):
    dc = calibration.decision_curve(*_yp(ds))
    ref_nb = [r_values[(ds, f"nb_{k}")] for k in range(1, 100)]
    ref_all = [r_values[(ds, f"nball_{k}")] for k in range(1, 100)]
    np.testing.assert_allclose(dc.net_benefit, ref_nb, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dc.net_benefit_all, ref_all, rtol=0, atol=1e-12)


def test_worst_difference_over_all_data_sets(r_values, capsys):
    """The largest |python - R| per quantity, printed (pytest -s) and held to 1e-6."""
    worst = {}
    for ds in ESTIMABLE:
        res = _stats(ds)
        for key, rkey in (("intercept", "Intercept"), ("slope", "Slope"),
                          ("brier", "Brier"), ("emax", "Emax"), ("e90", "E90"),
                          ("eavg", "Eavg"), ("calibration_in_the_large", "citl")):
            if ds == "constant" and rkey in ("Emax", "E90", "Eavg"):
                continue
            worst[key] = max(worst.get(key, 0.0), abs(res[key] - r_values[(ds, rkey)]))
    with capsys.disabled():
        print("\nmax |python - R|:", {k: float("%.3g" % v) for k, v in worst.items()})
    assert max(worst.values()) < 1e-6, worst
