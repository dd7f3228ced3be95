"""clinical_model.penalty: firth against R's brglm2 (AS_mean: Firth's penalised likelihood).

R runs once per module (tests/r/firth.R). Without Rscript the comparison skips locally
and fails in CI (conftest.r_unavailable).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import run_r
from radsnake.stats import clinical

pytestmark = pytest.mark.r_reference

R_SCRIPT = Path(__file__).parent / "r" / "firth.R"
PREDICTORS = {"age": "numeric", "sex": "numeric", "radscore": "numeric"}
TOL = 1e-6


def datasets() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(19)
    out = {}
    n = 40
    age = np.round(rng.normal(60, 10, n), 1)
    sex = rng.integers(0, 2, n)
    radscore = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.04 * (age - 60) + 0.5 * sex + 1.2 * radscore)))).astype(int)
    out["ordinary"] = pd.DataFrame(dict(y=y, age=age, sex=sex, radscore=radscore))
    # The rad-score separates the outcome completely: no maximum-likelihood estimate exists.
    separated = out["ordinary"].copy()
    separated["radscore"] = np.where(separated["y"] == 1, 1.0, -1.0) + rng.uniform(0, 0.5, n)
    out["separated"] = separated
    return out


DATASETS = datasets()


@pytest.fixture(scope="module")
def brglm2(tmp_path_factory) -> pd.DataFrame:
    tmp = tmp_path_factory.mktemp("firth")
    long = pd.concat([frame.assign(dataset=name) for name, frame in DATASETS.items()])
    long[["dataset", "y", "age", "sex", "radscore"]].to_csv(tmp / "data.csv", index=False, float_format="%.17g")
    run_r(R_SCRIPT, str(tmp / "data.csv"), str(tmp / "out.csv"), packages="r-base-core r-cran-brglm2")
    return pd.read_csv(tmp / "out.csv", dtype={"coef": str, "se": str})


@pytest.mark.parametrize("name", list(DATASETS))
def test_firth_coefficients_and_standard_errors_match_brglm2(brglm2, name):
    fitted = clinical.fit_logistic(DATASETS[name], "y", PREDICTORS, penalty="firth")
    reference = brglm2[brglm2["dataset"] == name].set_index("term")
    reference.index = reference.index.str.replace("(Intercept)", clinical.INTERCEPT, regex=False)
    for term in reference.index:
        assert abs(fitted.coef[term] - float(reference.loc[term, "coef"])) <= TOL, (name, term)
        assert abs(fitted.se[term] - float(reference.loc[term, "se"])) <= TOL, (name, term)


def test_separation_without_penalty_names_the_setting():
    with pytest.raises(ValueError, match=r"separation .* Set clinical_model.penalty: firth in the config"):
        clinical.fit_logistic(DATASETS["separated"], "y", PREDICTORS)
