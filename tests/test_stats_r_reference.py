"""radsnake.stats.discrimination against R's pROC, run once per module through Rscript.

Needs R with pROC (Debian/Ubuntu: r-base-core r-cran-proc). Without Rscript the
tests are skipped locally, but fail when the CI environment variable is set, so
the reference comparison can never silently disappear from CI.
"""

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import r_unavailable
from radsnake.stats import discrimination as stats

pytestmark = pytest.mark.r_reference

R_SCRIPT = Path(__file__).parent / "r" / "reference.R"
TOL = 1e-6


def _datasets() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(20240611)
    out = {}

    # Many ties: scores rounded to one decimal.
    y = (rng.random(200) < 0.4).astype(int)
    out["ties"] = pd.DataFrame(dict(
        y=y,
        a=np.round(0.8 * y + rng.normal(size=200), 1),
        b=np.round(0.4 * y + rng.normal(size=200), 1),
    ))

    # n = 10, score a separates perfectly, b does not.
    y = rng.permutation([0] * 5 + [1] * 5)
    out["perfect"] = pd.DataFrame(dict(
        y=y,
        a=np.where(y == 1, rng.uniform(0.6, 1.0, 10), rng.uniform(0.0, 0.4, 10)),
        b=np.round(0.5 * y + rng.normal(size=10), 2),
    ))

    # Two perfect models: degenerate DeLong test (difference 0, SE 0).
    out["two_perfect"] = pd.DataFrame(dict(
        y=y,
        a=np.where(y == 1, rng.uniform(0.6, 1.0, 10), rng.uniform(0.0, 0.4, 10)),
        b=np.where(y == 1, rng.uniform(5, 6, 10), rng.uniform(1, 2, 10)),
    ))

    # Perfect vs perfectly reversed: SE 0 but difference 1 -> z = inf.
    a = np.where(y == 1, rng.uniform(0.6, 1.0, 10), rng.uniform(0.0, 0.4, 10))
    out["perfect_vs_reversed"] = pd.DataFrame(dict(y=y, a=a, b=-a))

    # Imbalanced: 10 % positives.
    y = rng.permutation(np.r_[np.ones(30, int), np.zeros(270, int)])
    out["imbalanced"] = pd.DataFrame(dict(
        y=y,
        a=1.0 * y + rng.normal(size=300),
        b=0.7 * y + rng.normal(size=300),
    ))

    # Worse than chance: AUC < 0.5 must stay < 0.5 (no direction flip).
    y = (rng.random(150) < 0.5).astype(int)
    out["below_half"] = pd.DataFrame(dict(
        y=y,
        a=-0.8 * y + rng.normal(size=150),
        b=np.round(-0.2 * y + rng.normal(size=150), 1),
    ))

    # Identical score columns: degenerate paired test.
    y = (rng.random(60) < 0.5).astype(int)
    a = np.round(0.6 * y + rng.normal(size=60), 1)
    out["identical"] = pd.DataFrame(dict(y=y, a=a, b=a.copy()))
    return out


DATASETS = _datasets()


@pytest.fixture(scope="module")
def r_results(tmp_path_factory):
    rscript = shutil.which("Rscript")
    if rscript is None:
        r_unavailable("Rscript not found on PATH", "r-base-core r-cran-proc r-cran-rms")
    tmp = tmp_path_factory.mktemp("r_reference")
    long = pd.concat([df.assign(dataset=name) for name, df in DATASETS.items()])
    long[["dataset", "y", "a", "b"]].to_csv(
        tmp / "input.csv", index=False, float_format="%.17g")
    proc = subprocess.run(
        [rscript, "--vanilla", str(R_SCRIPT), str(tmp / "input.csv"),
         str(tmp / "scalars.csv"), str(tmp / "curves.csv")],
        capture_output=True, text=True, timeout=300,
    )
    if proc.returncode != 0:
        if "there is no package called" in proc.stderr:
            r_unavailable("R package missing: " + proc.stderr.strip()[-200:], "r-base-core r-cran-proc r-cran-rms")
        raise RuntimeError("reference.R failed:\n" + proc.stderr)
    scal = pd.read_csv(tmp / "scalars.csv", dtype=str)
    scalars = {(r.dataset, r.key): float(r.value) for r in scal.itertuples()}
    curves = pd.read_csv(tmp / "curves.csv", dtype=str)
    for col in ("threshold", "sensitivity", "specificity"):
        curves[col] = curves[col].map(float)  # float() understands R's "-Inf"
    return scalars, curves


def _close(py, r, tol=TOL):
    if math.isinf(r) or math.isinf(py):
        return py == r
    return abs(py - r) <= tol


def _cases():
    return [(ds, col) for ds in DATASETS for col in ("a", "b")]


@pytest.mark.parametrize("ds,col", _cases())
def test_auc_var_ci_match_proc(r_results, ds, col):
    scalars, _ = r_results
    df = DATASETS[ds]
    res = stats.auc_delong(df.y.to_numpy(), df[col].to_numpy())
    for key in ("auc", "var", "ci_low", "ci_high"):
        r = scalars[(ds, f"{col}_{key}")]
        assert _close(res[key], r), (ds, col, key, res[key], r)


@pytest.mark.parametrize("ds", list(DATASETS))
def test_paired_delong_matches_proc(r_results, ds):
    scalars, _ = r_results
    df = DATASETS[ds]
    res = stats.delong_test(df.y.to_numpy(), df.a.to_numpy(), df.b.to_numpy())
    assert _close(res["z"], scalars[(ds, "test_z")]), (res, scalars[(ds, "test_z")])
    assert _close(res["p_value"], scalars[(ds, "test_p")])
    assert _close(res["auc_a"], scalars[(ds, "a_auc")])
    assert _close(res["auc_b"], scalars[(ds, "b_auc")])


def test_reference_covers_required_cases(r_results):
    """Guard against the data sets drifting away from what they are meant to test."""
    scalars, _ = r_results
    assert scalars[("perfect", "a_auc")] == 1.0
    assert scalars[("below_half", "a_auc")] < 0.5
    assert scalars[("two_perfect", "test_z")] == 0.0
    assert scalars[("two_perfect", "test_p")] == 1.0
    assert scalars[("perfect_vs_reversed", "test_z")] == math.inf
    assert scalars[("identical", "test_p")] == 1.0
    # at least one data set with several tied Youden optima, to test the tie rule
    assert any(scalars[(ds, f"{c}_youden_n")] > 1 for ds, c in _cases())


@pytest.mark.parametrize("ds,col", _cases())
def test_youden_matches_proc_first_row(r_results, ds, col):
    scalars, _ = r_results
    df = DATASETS[ds]
    y, s = df.y.to_numpy(), df[col].to_numpy()
    thr = stats.youden_threshold(y, s)
    r_thr = scalars[(ds, f"{col}_youden_threshold")]
    assert _close(thr, r_thr), (ds, col, thr, r_thr)
    m = stats.threshold_metrics(y, s, thr)
    assert _close(m["sensitivity"], scalars[(ds, f"{col}_youden_sensitivity")])
    assert _close(m["specificity"], scalars[(ds, f"{col}_youden_specificity")])
    for k in ("tp", "fp", "tn", "fn", "ppv", "npv", "accuracy"):
        r = scalars[(ds, f"{col}_at_youden_{k}")]
        if math.isnan(r):
            assert math.isnan(m[k]), (k, m[k])
        else:
            assert _close(m[k], r), (ds, col, k, m[k], r)


@pytest.mark.parametrize("ds,col", _cases())
def test_threshold_grid_matches_proc(r_results, ds, col):
    _, curves = r_results
    df = DATASETS[ds]
    yb = df.y.to_numpy() == 1
    thr, tp, tn, m, n = stats.roc_points(yb, df[col].to_numpy(dtype=float))
    ref = curves[(curves.dataset == ds) & (curves.score == col)]
    assert len(thr) == len(ref)
    np.testing.assert_array_equal(thr, ref.threshold.to_numpy())
    np.testing.assert_allclose(tp / m, ref.sensitivity.to_numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(tn / n, ref.specificity.to_numpy(), rtol=0, atol=TOL)


@pytest.mark.parametrize("ds,col", _cases())
@pytest.mark.parametrize("which", ["sensitivity", "specificity"])
def test_target_threshold_on_proc_curve(r_results, ds, col, which):
    """Target threshold re-derived from pROC's own coords(r, "all") table."""
    _, curves = r_results
    df = DATASETS[ds]
    ref = curves[(curves.dataset == ds) & (curves.score == col)]
    other = "specificity" if which == "sensitivity" else "sensitivity"
    ok = ref[ref[which] >= 0.9 - 1e-12]
    best = ok.sort_values([other, which], ascending=False, kind="mergesort").iloc[0]
    got = stats.target_threshold(df.y, df[col], **{which: 0.9})
    assert got == best.threshold
