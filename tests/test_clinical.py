"""radsnake.stats.clinical: design matrices, odds-ratio tables, the three comparison models and
the nomogram, checked against R (glm, confint.default, rms::lrm + rms::nomogram, pretty).

R runs once per module (tests/r/clinical.R). Without Rscript the R comparisons are
skipped locally, but fail when the CI environment variable is set.
"""

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special

from conftest import r_unavailable
from radsnake.stats import clinical
from radsnake.figures.nomogram import nomogram_figure

R_SCRIPT = Path(__file__).parent / "r" / "clinical.R"
TOL = 1e-6
PREDICTORS = {"age": "numeric", "sex": "categorical", "stage": "categorical", "radscore": "numeric"}


def _cohort(n: int = 240, seed: int = 20240917) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = np.round(rng.normal(61, 9, n))
    sex = rng.choice(["F", "M"], n)
    stage = rng.choice(["I", "II", "III"], n, p=[0.45, 0.35, 0.2])
    radscore = rng.normal(0, 1, n)
    eta = -3.2 + 0.04 * age + 0.5 * (sex == "M") + 0.4 * (stage == "II") + 1.0 * (stage == "III") + 1.3 * radscore
    y = (rng.random(n) < special.expit(eta)).astype(int)
    return pd.DataFrame(dict(y=y, age=age, sex=sex, stage=stage, radscore=radscore))


COHORT = _cohort()


def _ranges() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = [(0.0, 100.0, 10), (0.0, 0.0, 10), (5.0, 5.0, 10), (-2.37, 3.91, 10), (23, 81, 10),
            (0.0013, 0.0094, 10), (-1e5, 3e5, 10), (0.1, 0.9, 5), (-0.5, -0.2, 10), (1e-9, 3e-9, 10)]
    for _ in range(40):
        scale = 10.0 ** rng.integers(-4, 5)
        a, b = np.sort(rng.normal(0, 1, 2)) * scale + rng.normal() * scale
        rows.append((a, b, int(rng.choice([5, 10]))))
    return pd.DataFrame([dict(id=i, lo=lo, hi=hi, n=n) for i, (lo, hi, n) in enumerate(rows)])


RANGES = _ranges()


@pytest.fixture(scope="module")
def r_ref(tmp_path_factory) -> dict[str, float]:
    rscript = shutil.which("Rscript")
    if rscript is None:
        r_unavailable("Rscript not found on PATH", "r-base-core r-cran-rms")
    tmp = tmp_path_factory.mktemp("r_clinical")
    COHORT.to_csv(tmp / "data.csv", index=False, float_format="%.17g")
    RANGES.to_csv(tmp / "ranges.csv", index=False, float_format="%.17g")
    proc = subprocess.run(
        [rscript, "--vanilla", str(R_SCRIPT), "clinical", str(tmp / "data.csv"),
         str(tmp / "ranges.csv"), str(tmp / "out.csv")],
        capture_output=True, text=True, timeout=300, env={**os.environ, "LC_ALL": "C"},
    )
    if proc.returncode != 0:
        if "there is no package called" in proc.stderr:
            r_unavailable("R package missing: " + proc.stderr.strip()[-200:], "r-base-core r-cran-rms")
        raise RuntimeError("clinical.R failed:\n" + proc.stderr)
    out = pd.read_csv(tmp / "out.csv", dtype=str, keep_default_na=False)
    return {k: float(v) for k, v in zip(out.key, out.value)}


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


# ---------------------------------------------------------------------------------------
# design_matrix
# ---------------------------------------------------------------------------------------


def test_design_matrix_treatment_coding_first_level_reference():
    f = pd.DataFrame(dict(age=[50, 60, 70, 80], sex=["M", "F", "M", "F"], grade=[10, 2, 9, 2]))
    X = clinical.design_matrix(f, {"age": "numeric", "sex": "categorical", "grade": "categorical"})
    # F is the reference (alphabetically first); numeric codes sort as numbers: 2 < 9 < 10
    assert list(X.columns) == ["age", "sex=M", "grade=9", "grade=10"]
    assert X["sex=M"].tolist() == [1, 0, 1, 0]
    assert X["grade=10"].tolist() == [1, 0, 0, 0]
    assert X["age"].tolist() == [50, 60, 70, 80]
    assert list(X.index) == list(f.index)


def test_design_matrix_categorical_dtype_keeps_declared_order():
    f = pd.DataFrame(dict(stage=pd.Categorical(["II", "I", "III"], categories=["III", "II", "I"])))
    X = clinical.design_matrix(f, {"stage": "categorical"})
    assert list(X.columns) == ["stage=II", "stage=I"]


def test_design_matrix_missing_values_named():
    f = pd.DataFrame(dict(age=[50, None, None, 80], sex=["M", "F", None, "F"]))
    with pytest.raises(ValueError, match=r"'age' has 2 missing"):
        clinical.design_matrix(f, {"age": "numeric"})
    with pytest.raises(ValueError, match=r"'sex' has 1 missing"):
        clinical.design_matrix(f, {"sex": "categorical"})


def test_design_matrix_bad_input():
    f = pd.DataFrame(dict(age=["50", "old"], one=["a", "a"]))
    with pytest.raises(ValueError, match="non-numeric"):
        clinical.design_matrix(f, {"age": "numeric"})
    with pytest.raises(ValueError, match="single level"):
        clinical.design_matrix(f, {"one": "categorical"})
    with pytest.raises(ValueError, match="kind must be"):
        clinical.design_matrix(f, {"age": "ordinal"})
    with pytest.raises(ValueError, match="not a column"):
        clinical.design_matrix(f, {"weight": "numeric"})
    with pytest.raises(ValueError, match=r"level\(s\) \['b'\]"):
        clinical.design_matrix(pd.DataFrame(dict(one=["a", "b"])), {"one": "categorical"},
                               levels={"one": ["a", "c"]})


# ---------------------------------------------------------------------------------------
# logistic_table vs R glm
# ---------------------------------------------------------------------------------------


def _r_term(term: str) -> str:
    return term.replace("=", "")  # "sex=M" is R's "sexM"


@pytest.mark.r_reference
@pytest.mark.parametrize("kind", ["univariate", "multivariate"])
def test_logistic_table_matches_r_glm(r_ref, kind):
    tab = clinical.logistic_table(COHORT, "y", PREDICTORS, kind=kind)
    assert list(tab.columns) == ["predictor", "term", "odds_ratio", "ci_low", "ci_high", "p_value", "n"]
    assert tab.term.tolist() == ["age", "sex=M", "stage=II", "stage=III", "radscore"]
    assert (tab.n == len(COHORT)).all()
    worst = 0.0
    for r in tab.itertuples():
        model = f"uni_{r.predictor}" if kind == "univariate" else "multi"
        for col, key in (("odds_ratio", "or"), ("ci_low", "lo"), ("ci_high", "hi"), ("p_value", "p")):
            ref = r_ref[f"{model}|{_r_term(r.term)}|{key}"]
            worst = max(worst, _rel(getattr(r, col), ref))
            assert _rel(getattr(r, col), ref) < TOL, (kind, r.term, col, getattr(r, col), ref)
    print(f"logistic_table {kind}: max relative difference vs R glm {worst:.2e}")


def test_logistic_table_univariate_is_one_model_per_predictor():
    uni = clinical.logistic_table(COHORT, "y", PREDICTORS, kind="univariate")
    alone = clinical.logistic_table(COHORT, "y", {"sex": "categorical"}, kind="multivariate")
    assert uni.loc[uni.term == "sex=M", "odds_ratio"].item() == pytest.approx(alone.odds_ratio.item(), rel=1e-12)
    multi = clinical.logistic_table(COHORT, "y", PREDICTORS, kind="multivariate")
    assert abs(multi.odds_ratio[0] - uni.odds_ratio[0]) > 1e-4  # adjusted != crude
    # Wald CI: symmetric around log(OR) with qnorm(0.975)
    lo, hi = np.log(uni.ci_low), np.log(uni.ci_high)
    np.testing.assert_allclose((lo + hi) / 2, np.log(uni.odds_ratio), rtol=1e-12)


def test_logistic_table_rejects_bad_outcome_and_kind():
    f = COHORT.assign(y2=COHORT.y * 2)
    with pytest.raises(ValueError, match="0/1"):
        clinical.logistic_table(f, "y2", {"age": "numeric"})
    with pytest.raises(ValueError, match="kind must be"):
        clinical.logistic_table(COHORT, "y", {"age": "numeric"}, kind="stepwise")
    with pytest.raises(ValueError, match="single class"):
        clinical.logistic_table(COHORT.assign(y=1), "y", {"age": "numeric"})


def test_separation_is_a_clear_error():
    rng = np.random.default_rng(3)
    y = np.r_[np.zeros(20), np.ones(20)].astype(int)
    complete = pd.DataFrame(dict(y=y, x=np.r_[rng.uniform(0, 1, 20), rng.uniform(2, 3, 20)]))
    with pytest.raises(ValueError, match=r"separation.*\['x'\]"):
        clinical.logistic_table(complete, "y", {"x": "numeric"})
    # quasi-complete: every patient in level "C" has the event; the rest overlaps
    grp = np.where(rng.random(40) < 0.5, "A", "B")
    grp[[25, 30, 35]] = "C"
    quasi = pd.DataFrame(dict(y=y, g=grp, x=rng.normal(size=40)))
    with pytest.raises(ValueError, match="separation"):
        clinical.fit_logistic(quasi, "y", {"g": "categorical", "x": "numeric"})
    # ... while the same data without level C fits
    ok = quasi.loc[quasi.g != "C"]
    clinical.fit_logistic(ok, "y", {"g": "categorical", "x": "numeric"})


def test_collinear_design_is_a_clear_error():
    f = COHORT.assign(age2=COHORT.age * 2)
    with pytest.raises(ValueError, match="collinear"):
        clinical.fit_logistic(f, "y", {"age": "numeric", "age2": "numeric"})


# ---------------------------------------------------------------------------------------
# fit_logistic and the three comparison models
# ---------------------------------------------------------------------------------------


def test_fit_logistic_predicts_on_new_rows():
    train, test = COHORT.iloc[:160], COHORT.iloc[160:]
    fit = clinical.fit_logistic(train, "y", PREDICTORS)
    assert fit.columns == ("age", "sex=M", "stage=II", "stage=III", "radscore")
    assert list(fit.coef.index) == ["Intercept", *fit.columns]
    assert fit.levels == {"sex": ("F", "M"), "stage": ("I", "II", "III")}
    p = fit.predict_proba(test)
    assert p.shape == (len(test),)
    X = np.column_stack([np.ones(len(test)), clinical.design_matrix(test, PREDICTORS)])
    np.testing.assert_allclose(p, special.expit(X @ fit.coef.to_numpy()), rtol=1e-12)
    # a test set holding only some levels still gets the training design
    only_i = test.loc[test.stage == "I"]
    np.testing.assert_allclose(fit.predict_proba(only_i), p[(test.stage == "I").to_numpy()], rtol=1e-12)
    with pytest.raises(ValueError, match="IV"):
        fit.predict_proba(test.assign(stage="IV"))


def test_fit_logistic_maximises_likelihood():
    fit = clinical.fit_logistic(COHORT, "y", PREDICTORS)
    X = np.column_stack([np.ones(len(COHORT)), clinical.design_matrix(COHORT, PREDICTORS)])
    y = COHORT.y.to_numpy()
    score = X.T @ (y - special.expit(X @ fit.coef.to_numpy()))  # gradient of log L
    assert np.abs(score).max() < 1e-8


def test_comparison_models():
    train = COHORT.iloc[:180]
    models = clinical.fit_comparison_models(train, "y", {"age": "numeric", "sex": "categorical"}, "radscore")
    assert list(models) == ["clinical", "radiomics", "combined"]
    assert models["radiomics"].columns == ("radscore",)
    assert models["combined"].columns == ("age", "sex=M", "radscore")
    for m in models.values():
        assert m.n == 180


# ---------------------------------------------------------------------------------------
# Nomogram
# ---------------------------------------------------------------------------------------


@pytest.mark.r_reference
def test_r_pretty_matches_r(r_ref):
    for r in RANGES.itertuples():
        ours = clinical.r_pretty(r.lo, r.hi, r.n)
        ref = []
        k = 1
        while f"pretty|{r.id}|{k}" in r_ref:
            ref.append(r_ref[f"pretty|{r.id}|{k}"])
            k += 1
        assert len(ours) == len(ref), (r, ours, ref)
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-300, err_msg=str(r))


@pytest.mark.r_reference
def test_nomogram_axes_match_rms(r_ref):
    fit = clinical.fit_logistic(COHORT, "y", PREDICTORS)
    axes = clinical.nomogram_axes(fit, COHORT, PREDICTORS)
    assert abs(axes["scale"] - r_ref["nom|sc"]) < TOL * r_ref["nom|sc"]
    assert abs(axes["lp_at_zero"] - r_ref["nom|intercept"]) < TOL
    worst = 0.0
    for row in axes["predictors"]:
        if row["kind"] == "numeric":
            ref_values = [r_ref[f"nom|{row['name']}|{k + 1}|value"] for k in range(len(row["values"]))]
            np.testing.assert_allclose(row["values"], ref_values, rtol=1e-12)
            assert f"nom|{row['name']}|{len(row['values']) + 1}|value" not in r_ref
        keys = range(1, len(row["points"]) + 1) if row["kind"] == "numeric" else row["values"]
        for value, pts in zip(keys, row["points"]):
            ref = r_ref[f"nom|{row['name']}|{value}|points"]
            worst = max(worst, abs(pts - ref))
            assert abs(pts - ref) < TOL, (row["name"], value, pts, ref)
    assert max(max(r["points"]) for r in axes["predictors"]) == pytest.approx(100.0, abs=1e-12)
    ref_total = []
    while f"nom|total|{len(ref_total) + 1}|value" in r_ref:
        ref_total.append(r_ref[f"nom|total|{len(ref_total) + 1}|value"])
    np.testing.assert_allclose(axes["total_points"], ref_total, rtol=1e-12)
    prob = axes["probability"]
    assert len(prob["values"]) >= 3
    for p, pts in zip(prob["values"], prob["points"]):
        ref = r_ref[f"nom|prob|{clinical.PROBABILITY_TICKS.index(p) + 1}|points"]
        worst = max(worst, abs(pts - ref))
        assert abs(pts - ref) < TOL, (p, pts, ref)
        assert 0 <= pts <= max(axes["total_points"])
    print(f"nomogram: max absolute difference in points vs rms {worst:.2e}")


def test_nomogram_points_formula_by_hand():
    f = pd.DataFrame(dict(y=[0, 1, 0, 1, 1, 0, 1, 0], x=[1.0, 2.5, 1.8, 3.0, 2.0, 2.2, 1.5, 1.2],
                          g=["a", "b", "b", "a", "b", "a", "a", "b"]))
    fit = clinical.fit_logistic(f, "y", {"x": "numeric", "g": "categorical"})
    axes = clinical.nomogram_axes(fit, f, ["g", "x"], labels={"x": "Rad-score"})
    g, x = axes["predictors"]
    assert (g["name"], x["label"]) == ("g", "Rad-score")
    bx, bg = fit.coef["x"], fit.coef["g=b"]
    lp_x = bx * np.asarray(x["values"])
    widest = max(np.ptp(lp_x), abs(bg))
    np.testing.assert_allclose(x["points"], (lp_x - lp_x.min()) * 100 / widest, atol=1e-12)
    np.testing.assert_allclose(g["points"], (np.array([0, bg]) - min(0, bg)) * 100 / widest, atol=1e-12)
    assert x["values"][0] <= 1.0 and x["values"][-1] >= 3.0  # pretty ticks cover the data


def test_nomogram_figure_writes_deterministic_files(tmp_path):
    fit = clinical.fit_logistic(COHORT, "y", PREDICTORS)
    axes = clinical.nomogram_axes(fit, COHORT, PREDICTORS, labels={"radscore": "Rad-score", "age": "Age (years)"})
    png1, pdf1 = tmp_path / "a" / "nomogram.png", tmp_path / "a" / "nomogram.pdf"
    png2, pdf2 = tmp_path / "b" / "nomogram.png", tmp_path / "b" / "nomogram.pdf"
    nomogram_figure(axes, png1, pdf1)
    nomogram_figure(axes, png2, pdf2)
    assert png1.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf1.read_bytes()[:5] == b"%PDF-"
    assert png1.read_bytes() == png2.read_bytes()
    assert pdf1.read_bytes() == pdf2.read_bytes()
    from PIL import Image

    with Image.open(png1) as im:
        assert im.info.get("dpi", (0, 0))[0] == pytest.approx(300, abs=1)
