"""The synthetic survival demo (config/demo-survival/; docs/demo-cohort.md, "The survival
demo"): a bring-your-own feature table and a sheet with a follow-up time and an event.

No image is drawn: the study starts from ``features.csv`` (``features_table``), so the
survival branch runs in well under two minutes. The time to death follows a Weibull
proportional-hazards model whose linear predictor is three texture features and age;
the other features are noise, correlated copies of the signal ones (for the correlation
pruning to remove) or first-order features shifted by each centre's scanner (a centre
effect with no prognostic signal). Every case is drawn from its own generator seeded by
SHA-256 of ``(seed, case_id, "survival")``, as the binary demo's sheet rows are, so
growing ``n_cases`` appends cases and leaves the existing ones unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from radsnake.imaging.demo import seeded_rng

DEMO_SURVIVAL_N_CASES = 200
DEMO_SURVIVAL_CENTERS = ("A", "B", "C")

# The prognostic signal: log hazard ratio per SD of each feature (and per 10 years of age).
SIGNAL = {"texture_01": 0.8, "texture_02": 0.6, "texture_03": -0.6}
AGE_LOG_HR_PER_10_YEARS = 0.35
N_TEXTURE, N_SHAPE, N_FIRSTORDER = 24, 8, 8
# texture_04 and texture_05 are noisy copies of texture_01 and texture_02 (Spearman rho ~0.95).
COPIES = {"texture_04": "texture_01", "texture_05": "texture_02"}
# Scanner shift of the first-order features per centre, in SD units: no prognostic signal.
CENTRE_SHIFT = {"A": 0.0, "B": 0.8, "C": -0.6}
# Weibull baseline: shape 1.3, median ~30 months at the mean risk; follow-up 24-84 months.
WEIBULL_SHAPE, WEIBULL_SCALE_MONTHS = 1.3, 40.0
FOLLOW_UP_MONTHS = (24.0, 84.0)

SHEET_COLUMNS = ["case_id", "center", "age", "sex", "os_months", "death"]


def feature_names() -> list[str]:
    return (
        [f"texture_{i:02d}" for i in range(1, N_TEXTURE + 1)]
        + [f"shape_{i:02d}" for i in range(1, N_SHAPE + 1)]
        + [f"firstorder_{i:02d}" for i in range(1, N_FIRSTORDER + 1)]
    )


def survival_case(case_id: str, centers, seed: int) -> tuple[dict, dict]:
    """One case: its sheet row and its feature row."""
    rng = seeded_rng(seed, case_id, "survival")
    center = str(centers[rng.integers(len(centers))])
    names = feature_names()
    values = dict(zip(names, rng.standard_normal(len(names))))
    for copy, source in COPIES.items():
        values[copy] = values[source] + 0.3 * values[copy]
    shift = CENTRE_SHIFT.get(center, 0.0)
    for name in names:
        if name.startswith("firstorder_"):
            values[name] += shift
    age = int(np.clip(np.rint(rng.normal(62.0, 10.0)), 30, 90))
    sex = "F" if rng.random() < 0.5 else "M"
    linear = sum(beta * values[name] for name, beta in SIGNAL.items())
    linear += AGE_LOG_HR_PER_10_YEARS * (age - 62.0) / 10.0
    # Weibull PH: S(t) = exp(-(t / scale)^shape * exp(linear)); inverse transform sampling.
    event_time = WEIBULL_SCALE_MONTHS * (-np.log(rng.random()) / np.exp(linear)) ** (1.0 / WEIBULL_SHAPE)
    censor_time = rng.uniform(*FOLLOW_UP_MONTHS)
    row = {
        "case_id": case_id,
        "center": center,
        "age": age,
        "sex": sex,
        "os_months": round(float(min(event_time, censor_time)), 1),
        "death": int(event_time <= censor_time),
    }
    return row, {"case_id": case_id, **{name: round(float(v), 6) for name, v in values.items()}}


def survival_demo_tables(
    n_cases: int = DEMO_SURVIVAL_N_CASES, centers=DEMO_SURVIVAL_CENTERS, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sheet (case_id, center, age, sex, os_months, death) and the feature table."""
    rows = [survival_case(f"pt{i:03d}", centers, seed) for i in range(1, n_cases + 1)]
    sheet = pd.DataFrame([row for row, _ in rows], columns=SHEET_COLUMNS)
    features = pd.DataFrame([values for _, values in rows], columns=["case_id", *feature_names()])
    return sheet, features


def write_survival_demo(folder: str) -> None:
    """config/demo-survival/cohort.csv and features.csv, as shipped."""
    sheet, features = survival_demo_tables()
    sheet.to_csv(f"{folder}/cohort.csv", index=False)
    features.to_csv(f"{folder}/features.csv", index=False)


if __name__ == "__main__":  # python -m radsnake.imaging.demo_survival config/demo-survival
    import sys

    write_survival_demo(sys.argv[1])
