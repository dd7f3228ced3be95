"""radsnake.stats.survival_stats against R's survival and riskRegression, run once per module.

Needs R with survival and riskRegression (Debian/Ubuntu: r-base-core r-cran-survival
r-cran-riskregression). Without Rscript the tests are skipped locally, but fail when the
CI environment variable is set, so the reference comparison never silently disappears.
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import r_reference_values
from radsnake.stats import survival_stats as ss

pytestmark = pytest.mark.r_reference

R_SCRIPT = Path(__file__).parent / "r" / "survival.R"
TOL = 1e-6
PACKAGES = "r-base-core r-cran-survival r-cran-riskregression"


def _dataset(rng, n, censor_scale, round_to=None, beta=0.8):
    x1 = rng.normal(size=n)
    x2 = (rng.random(n) < 0.4).astype(float)
    event_time = rng.exponential(np.exp(-(beta * x1 + 0.5 * x2))) * 10
    censor_time = rng.uniform(0, censor_scale, n)
    time = np.minimum(event_time, censor_time)
    risk = x1 + rng.normal(scale=0.5, size=n)
    if round_to is not None:  # ties in time and in risk
        time = np.maximum(np.round(time, round_to), 10.0**-round_to)
        risk = np.round(risk, round_to)
    event = (event_time <= censor_time).astype(int)
    h1, h2 = np.quantile(time[event == 1], [0.3, 0.6])
    base = 0.05
    return pd.DataFrame(dict(
        time=time, event=event, risk=risk,
        s1=np.exp(-base * h1 * np.exp(risk)), s2=np.exp(-base * h2 * np.exp(risk)),
        h1=h1, h2=h2, group=(risk > np.median(risk)).astype(int), x1=x1, x2=x2,
    ))


def _datasets() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(20240614)
    return {
        "ties": _dataset(rng, 150, 25, round_to=1),
        "continuous": _dataset(rng, 200, 25),
        "small": _dataset(rng, 15, 30),
        "heavy_censoring": _dataset(rng, 120, 6, round_to=2),
        "coarse_ties": _dataset(rng, 90, 20, round_to=0, beta=1.2),
    }


DATASETS = _datasets()
COLUMNS = ["time", "event", "risk", "s1", "s2", "h1", "h2", "group", "x1", "x2"]


def _num(s: str) -> float:
    return math.nan if s == "NA" else float(s)


@pytest.fixture(scope="module")
def r_values(tmp_path_factory):
    return r_reference_values(R_SCRIPT, DATASETS, COLUMNS, tmp_path_factory.mktemp("r_survival"), PACKAGES,
                              parse=_num)


def _python_values(ds: str) -> dict[str, float]:
    """Every statistic the R script gives, computed by radsnake, under R's key names."""
    d = DATASETS[ds]
    t, e = d.time.to_numpy(), d.event.to_numpy()
    h1, h2 = d.h1.iloc[0], d.h2.iloc[0]
    harrell = ss.harrell_c(t, e, d.risk)
    out = {
        "harrell_c": harrell["c_index"], "harrell_var": harrell["var"],
        "harrell_ci_low": harrell["ci_low"], "harrell_ci_high": harrell["ci_high"],
        "uno_c": ss.uno_c(t, e, d.risk), "uno_c_tau": ss.uno_c(t, e, d.risk, tau=h2),
        "auc_h1": ss.td_auc(t, e, 1 - d.s1, h1), "auc_h2": ss.td_auc(t, e, 1 - d.s2, h2),
        "auc_risk_h1": ss.td_auc(t, e, d.risk, h1), "auc_risk_h2": ss.td_auc(t, e, d.risk, h2),
        "brier_h1": ss.brier(t, e, d.s1, h1), "brier_h2": ss.brier(t, e, d.s2, h2),
    }
    test = ss.logrank(t, e, d.group)
    out["logrank_chisq"], out["logrank_p"] = test["chisq"], test["p_value"]
    for spec in (["group"], ["x1"], ["x1", "x2"]):
        table = ss.cox_table(d[spec], t, e).set_index("variable")
        tag = "+".join(spec)
        for v in spec:
            for key, column in (("coef", "coef"), ("se", "se"), ("lower", "hr_ci_low"),
                                ("upper", "hr_ci_high"), ("p", "p_value")):
                out[f"cox[{tag}]_{v}_{key}"] = table.loc[v, column]
    km = ss.kaplan_meier(t, e)
    for i, row in enumerate(km.itertuples()):
        out[f"km_surv_{i}"], out[f"km_nrisk_{i}"] = row.survival, row.n_risk
        out[f"km_low_{i}"], out[f"km_high_{i}"] = row.ci_low, row.ci_high
    out["km_n"] = len(km)
    out["km_median"] = ss.km_median(km)
    return out


def _same(a: float, b: float) -> bool:
    if math.isnan(b):
        return math.isnan(a)
    return abs(a - b) <= TOL


@pytest.mark.parametrize("ds", list(DATASETS))
def test_every_statistic_matches_r(r_values, ds):
    got = _python_values(ds)
    keys = sorted(k for (d, k) in r_values if d == ds)
    assert set(keys) == set(got), set(keys) ^ set(got)
    wrong = {k: (got[k], r_values[(ds, k)]) for k in keys if not _same(got[k], r_values[(ds, k)])}
    assert not wrong, wrong


def test_reference_covers_required_cases(r_values):
    """Guard against the data sets drifting away from what they are meant to test."""
    ties = DATASETS["ties"]
    assert ties.time.duplicated().sum() > 20 and ties.risk.duplicated().sum() > 20
    assert DATASETS["heavy_censoring"].event.mean() < 0.5
    assert len(DATASETS["small"]) == 15
    # The tie conventions matter on these data: Uno's C differs from scikit-survival's.
    from sksurv.metrics import concordance_index_ipcw

    y = ss.structured(ties.time, ties.event)
    assert abs(concordance_index_ipcw(y, y, ties.risk.to_numpy())[0] - r_values[("ties", "uno_c")]) > 1e-4


def test_worst_difference_over_all_data_sets(r_values, capsys):
    """The largest |python - R| per statistic family, printed (pytest -s) and held to 1e-6."""
    worst = {}
    for ds in DATASETS:
        got = _python_values(ds)
        for key, value in got.items():
            family = key.split("_")[0] if not key.startswith("cox") else "cox"
            ref = r_values[(ds, key)]
            if math.isnan(ref) and math.isnan(value):
                continue
            worst[family] = max(worst.get(family, 0.0), abs(value - ref))
    with capsys.disabled():
        print("\nmax |python - R|:", {k: float("%.3g" % v) for k, v in sorted(worst.items())})
    assert max(worst.values()) < TOL, worst
