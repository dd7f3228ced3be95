"""radsnake.ml.platt against Platt's method written in R with optim (tests/r/platt.R).

Where the decision values rank the cases the right way round, the slope constraint of
radsnake.ml.platt is inactive and its map must be Platt's: A, B and every probability to
1e-6. Needs Rscript (no package); skipped locally without it, failed in CI.
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import r_reference_values
from radsnake.ml.platt import platt_fit

pytestmark = pytest.mark.r_reference

R_SCRIPT = Path(__file__).parent / "r" / "platt.R"
TOL = 1e-6


def _datasets() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(20261206)
    out = {}
    for name, n, prevalence, shift, scale in (
        ("n20", 20, 0.5, 1.0, 1.0),
        ("balanced", 120, 0.5, 0.8, 1.0),
        ("imbalanced", 300, 0.1, 1.2, 1.5),
        ("weak", 80, 0.55, 0.15, 1.0),
        ("wide_scores", 100, 0.4, 6.0, 20.0),  # |f| beyond sklearn's rescaling threshold of 30
    ):
        y = (rng.random(n) < prevalence).astype(int)
        y[:2] = [0, 1]
        f = scale * (shift * (y - 0.5) + rng.normal(size=n))
        out[name] = pd.DataFrame({"y": y, "f": f})
    return out


DATASETS = _datasets()


@pytest.fixture(scope="module")
def r_values(tmp_path_factory):
    return r_reference_values(R_SCRIPT, DATASETS, ["y", "f"], tmp_path_factory.mktemp("r_platt"), "r-base-core")


@pytest.mark.parametrize("ds", list(DATASETS))
def test_map_matches_platt_in_r(r_values, ds):
    y, f = DATASETS[ds]["y"].to_numpy(), DATASETS[ds]["f"].to_numpy()
    assert r_values[(ds, "convergence")] == 0
    slope, intercept = platt_fit(f, y)
    unconstrained = platt_fit(f, y, non_negative=False)
    assert slope > 0 and slope == pytest.approx(unconstrained[0], abs=1e-9)  # right sign: constraint inactive
    # Platt's P = 1 / (1 + exp(A f + B)) is expit(slope f + intercept) with A = -slope, B = -intercept.
    assert abs(-slope - r_values[(ds, "A")]) <= TOL * max(1.0, abs(r_values[(ds, "A")]))
    assert abs(-intercept - r_values[(ds, "B")]) <= TOL
    r_p = np.array([r_values[(ds, f"p_{i}")] for i in range(len(f))])
    p = 1.0 / (1.0 + np.exp(-(slope * f + intercept)))
    np.testing.assert_allclose(p, r_p, rtol=0, atol=TOL)


def test_reference_covers_required_cases(r_values):
    assert len(DATASETS["n20"]) == 20 and DATASETS["imbalanced"]["y"].mean() < 0.15
    assert np.abs(DATASETS["wide_scores"]["f"]).max() > 30
    assert not math.isnan(r_values[("weak", "A")])


def test_worst_difference_over_all_data_sets(r_values, capsys):
    """The largest |python - R| of A, B and the probabilities, printed (pytest -s)."""
    worst = {"A": 0.0, "B": 0.0, "p": 0.0}
    for ds, frame in DATASETS.items():
        y, f = frame["y"].to_numpy(), frame["f"].to_numpy()
        slope, intercept = platt_fit(f, y)
        p = 1.0 / (1.0 + np.exp(-(slope * f + intercept)))
        r_p = np.array([r_values[(ds, f"p_{i}")] for i in range(len(f))])
        worst["A"] = max(worst["A"], abs(-slope - r_values[(ds, "A")]))
        worst["B"] = max(worst["B"], abs(-intercept - r_values[(ds, "B")]))
        worst["p"] = max(worst["p"], float(np.abs(p - r_p).max()))
    with capsys.disabled():
        print("\nPlatt max |python - R|:", {k: float("%.3g" % v) for k, v in worst.items()})
    assert worst["p"] < TOL and worst["B"] < TOL, worst
