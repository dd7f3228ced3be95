"""radsnake.stats.survival_clinical against rms: the Cox fit (cph, Efron ties), the predicted
survival (rms::Survival) and the nomogram (rms::nomogram of the cph fit, one survival axis
per horizon), to 1e-6. Needs R with rms (r-base-core r-cran-rms); without it the tests are
skipped locally and fail in CI."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import run_r
from radsnake.stats import survival_clinical as sc

pytestmark = pytest.mark.r_reference

R_SCRIPT = Path(__file__).parent / "r" / "survival_nomogram.R"
TOL = 1e-6
PREDICTORS = {"age": "numeric", "sex": "categorical", "stage": "categorical", "radscore": "numeric"}
HORIZONS = [12.0, 24.0]


def _training_cases(n: int = 150, seed: int = 11) -> pd.DataFrame:
    """Times rounded to whole months, so tied event times exercise Efron's correction."""
    rng = np.random.default_rng(seed)
    age = np.round(rng.normal(62, 9, n))
    sex = rng.choice(["F", "M"], n)
    stage = rng.choice(["I", "II", "III"], n, p=[0.4, 0.35, 0.25])
    radscore = rng.normal(0, 1, n)
    linear = 0.03 * (age - 62) + 0.3 * (sex == "M") + 0.4 * (stage == "II") + 0.9 * (stage == "III") + 0.8 * radscore
    event_time = rng.weibull(1.3, n) * 30 / np.exp(linear / 1.3)
    censor_time = rng.uniform(18, 60, n)
    return pd.DataFrame({"time": np.ceil(np.minimum(event_time, censor_time)),
                         "event": (event_time <= censor_time).astype(int),
                         "age": age, "sex": sex, "stage": stage, "radscore": radscore})


CASES = _training_cases()


@pytest.fixture(scope="module")
def r_ref(tmp_path_factory) -> dict[str, float]:
    folder = tmp_path_factory.mktemp("r_survival_nomogram")
    CASES.to_csv(folder / "data.csv", index=False, float_format="%.17g")
    pd.DataFrame({"p": sc.SURVIVAL_TICKS}).to_csv(folder / "ticks.csv", index=False, float_format="%.17g")
    run_r(R_SCRIPT, str(folder / "data.csv"), str(folder / "ticks.csv"), str(folder / "out.csv"),
          packages="r-base-core r-cran-rms")
    out = pd.read_csv(folder / "out.csv", dtype=str, keep_default_na=False)
    return {key: float(value) for key, value in zip(out["key"], out["value"])}


@pytest.fixture(scope="module")
def fit():
    return sc.fit_cox(CASES, PREDICTORS)


def test_cox_fit_and_survival_match_cph(fit, r_ref):
    assert CASES["time"].duplicated().any()  # ties: Efron's correction is exercised
    for column in fit.columns:
        assert fit.coef[column] == pytest.approx(r_ref[f"coef|{column}"], abs=TOL)
    assert -fit.coef["Intercept"] == pytest.approx(r_ref["center"], abs=TOL)
    for horizon, base in zip(HORIZONS, fit.baseline_survival(HORIZONS)):
        assert base == pytest.approx(r_ref[f"baseline|{horizon:g}"], abs=TOL)
    survival = fit.survival(CASES.head(5), HORIZONS)
    for i in range(5):
        for j, horizon in enumerate(HORIZONS):
            assert survival[i, j] == pytest.approx(r_ref[f"survival|{i + 1}|{horizon:g}"], abs=TOL)


def test_nomogram_points_and_survival_axes_match_rms(fit, r_ref):
    axes = sc.nomogram_layout(fit, CASES, HORIZONS, "months")
    assert axes["scale"] == pytest.approx(r_ref["nom|sc"], rel=TOL)
    assert axes["lp_at_zero"] == pytest.approx(r_ref["nom|intercept"], abs=TOL)
    worst = 0.0
    for row in axes["predictors"]:
        numeric = row["kind"] == "numeric"
        keys = range(1, len(row["points"]) + 1) if numeric else row["values"]
        if numeric:
            np.testing.assert_allclose(row["values"], [r_ref[f"nom|{row['name']}|{k}|value"] for k in keys], rtol=1e-12)
            assert f"nom|{row['name']}|{len(row['values']) + 1}|value" not in r_ref
        for key, points in zip(keys, row["points"]):
            worst = max(worst, abs(points - r_ref[f"nom|{row['name']}|{key}|points"]))
    total = [r_ref[f"nom|total|{k}|value"] for k in range(1, len(axes["total_points"]) + 1)]
    np.testing.assert_allclose(axes["total_points"], total, rtol=1e-12)
    assert len(axes["outcomes"]) == 2
    for axis, outcome in zip(("S12", "S24"), axes["outcomes"]):
        ref = {round(float(key.split("|")[2]), 9): value for key, value in r_ref.items() if key.startswith(f"nom|{axis}|")}
        # radsnake marks the ticks that fall on the total-points axis; rms every one given.
        assert {round(v, 9) for v in outcome["values"]} <= set(ref) and len(outcome["values"]) >= 5
        for value, points in zip(outcome["values"], outcome["points"]):
            worst = max(worst, abs(points - ref[round(value, 9)]))
    print(f"survival nomogram: max absolute difference in points vs rms {worst:.2e}")
    assert worst < TOL


def test_nomogram_table_lists_every_axis(fit):
    axes = sc.nomogram_layout(fit, CASES, HORIZONS, "months")
    table = sc.nomogram_table(axes)
    assert list(dict.fromkeys(table["axis"])) == ["age", "sex", "stage", "radscore", "total_points", "survival_12",
                                                  "survival_24", "lp_at_zero_points", "points_per_lp"]
    assert table.loc[table["axis"] == "stage", "value"].tolist() == ["I", "II", "III"]
    assert table.loc[table["axis"].isin(PREDICTORS), "points"].max() == pytest.approx(100.0, abs=1e-12)
