"""Tests of the publication figures: files, resolution, content and byte-identical re-rendering."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from radsnake.figures import style as figures
from radsnake.figures import model_figures

FEATURES = [
    "original_shape_Sphericity",
    "original_firstorder_Entropy",
    "wavelet-LLH_glcm_InverseVariance",
    "log-sigma-3-0-mm-3D_firstorder_Entropy",
    "log-sigma-1-5-mm-3D_glszm_SmallAreaEmphasis",
    "wavelet-HHH_glrlm_RunLengthNonUniformityNormalized",
    "original_gldm_LargeDependenceHighGrayLevelEmphasis",
    "square_ngtdm_Busyness",
    "exponential_glcm_Correlation",
    "gradient_firstorder_90Percentile",
    "lbp-3D-m1_glcm_Idmn",
    "squareroot_shape_MeshVolume",
]


# --------------------------------------------------------------------------------------
# synthetic inputs
# --------------------------------------------------------------------------------------


def make_predictions(seed: int = 0, models=("logistic", "random_forest", "svm")):
    rng = np.random.default_rng(seed)
    out = {}
    sizes = {"train": 120, "test": 50, "external": 40}
    for k, model in enumerate(models):
        rows = []
        for s, n in sizes.items():
            y = rng.integers(0, 2, n)
            sep = 1.6 - 0.4 * k - (0.5 if s != "train" else 0.0)
            z = rng.normal(size=n) + sep * y
            p = 1 / (1 + np.exp(-z))
            rows.append(pd.DataFrame({"case_id": [f"C{s[:2]}{i:03d}" for i in range(n)], "set": s,
                                      "label": y, "probability": np.round(p, 3)}))
        out[model] = pd.concat(rows, ignore_index=True)
    return out


def make_metrics(predictions):
    rows = []
    for model, df in predictions.items():
        for s, sub in df.groupby("set"):
            if sub["label"].nunique() < 2:
                continue
            _, _, auc = figures.roc_curve_points(sub["label"], sub["probability"])
            rows.append(dict(model=model, set=s, n=len(sub), auc=auc, auc_ci_low=max(0, auc - 0.08),
                             auc_ci_high=min(1, auc + 0.07), accuracy=0.8, sensitivity=0.8,
                             specificity=0.7, ppv=0.7, npv=0.8, threshold=0.5))
    return pd.DataFrame(rows)


def make_lasso(n_features: int = 25, n_lambda: int = 40):
    rng = np.random.default_rng(1)
    lam = np.logspace(-0.3, -3.5, n_lambda)  # decreasing, as glmnet
    feats = (FEATURES * 3)[:n_features]
    feats = [f if i < len(FEATURES) else f"{f}_{i}" for i, f in enumerate(feats)]
    strength = rng.uniform(0.05, 1.2, n_features) * rng.choice([-1, 1], n_features)
    rows = []
    for lv in lam:
        coef = np.sign(strength) * np.maximum(0, np.abs(strength) - 2.0 * lv ** 0.5)
        rows += [dict(**{"lambda": lv}, feature=f, coefficient=c) for f, c in zip(feats, coef)]
    path = pd.DataFrame(rows)
    nz = path.groupby("lambda")["coefficient"].apply(lambda c: int((c != 0).sum()))
    x = np.log(lam)
    dev = 1.38 - 0.5 * np.exp(-((x + 3.2) ** 2) / 2.0) + 0.02 * rng.normal(size=n_lambda)
    se = 0.04 + 0.01 * rng.uniform(size=n_lambda)
    i_min = int(np.argmin(dev))
    ok = np.where(dev <= dev[i_min] + se[i_min])[0]
    i_1se = int(ok.min())  # largest lambda within 1 SE (lambda decreasing)
    cv = pd.DataFrame({"lambda": lam, "cv_mean_deviance": dev, "cv_se": se,
                       "n_nonzero": nz.loc[lam].to_numpy(),
                       "is_min": np.arange(n_lambda) == i_min, "is_1se": np.arange(n_lambda) == i_1se})
    return path, cv


def make_radscore(n: int = 60, seed: int = 2):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return pd.DataFrame({"case_id": [f"P{i:03d}" for i in range(n)], "set": "test", "label": y,
                         "radscore": np.round(rng.normal(size=n) + 1.5 * y - 0.7, 3)})


def make_features(n_features: int = 12, n: int = 80, seed: int = 3):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 3))
    cols = {}
    names = (FEATURES * (n_features // len(FEATURES) + 1))[:n_features]
    for i in range(n_features):
        name = names[i] if i < len(FEATURES) else f"{names[i]}_{i}"
        cols[name] = base[:, i % 3] * rng.uniform(0.3, 1.5) + rng.normal(size=n)
    return pd.DataFrame(cols)


def make_importances():
    rng = np.random.default_rng(4)
    feats = (FEATURES * 2)[:20]
    feats = [f if i < len(FEATURES) else f"{f}_{i}" for i, f in enumerate(feats)]
    return {
        "logistic": pd.DataFrame({"feature": feats[:8], "importance": rng.normal(size=8), "kind": "coefficient"}),
        "random_forest": pd.DataFrame({"feature": feats, "importance": rng.uniform(0, 0.2, 20), "kind": "impurity"}),
        "svm": pd.DataFrame(columns=["feature", "importance", "kind"]),
    }


# --------------------------------------------------------------------------------------
# all figures, each case a (name, callable(png, pdf))
# --------------------------------------------------------------------------------------


def _cases():
    preds = make_predictions()
    metrics = make_metrics(preds)
    path, cv = make_lasso()
    one_path, one_cv = make_lasso(n_features=1, n_lambda=15)
    rs = make_radscore()
    one_class = {m: df.assign(label=np.where(df["set"] == "external", 1, df["label"])) for m, df in preds.items()}
    one_class["logistic"] = preds["logistic"]  # one model still drawable on "external"
    imps = make_importances()
    return {
        "roc_test": lambda p, q: model_figures.roc_figure(preds, metrics, "test", p, q),
        "roc_no_metrics_one_class": lambda p, q: model_figures.roc_figure(one_class, None, "external", p, q),
        "lasso": lambda p, q: model_figures.lasso_figure(path, cv, p, q),
        "lasso_single_feature": lambda p, q: model_figures.lasso_figure(one_path, one_cv, p, q, chosen="min"),
        "waterfall": lambda p, q: model_figures.waterfall_figure(rs, "test", p, q, cutoff=0.1,
                                                           label_names=["Benign", "Malignant"]),
        "waterfall_no_cutoff": lambda p, q: model_figures.waterfall_figure(rs, "test", p, q),
        "heatmap": lambda p, q: model_figures.correlation_heatmap(make_features(12), p, q),
        "heatmap_40": lambda p, q: model_figures.correlation_heatmap(make_features(40), p, q),
        "heatmap_1": lambda p, q: model_figures.correlation_heatmap(make_features(1), p, q),
        "heatmap_2_const": lambda p, q: model_figures.correlation_heatmap(
            make_features(2).assign(const=1.0, case_id="x"), p, q),
        "importance": lambda p, q: model_figures.importance_figure(imps, p, q),
        "importance_single": lambda p, q: model_figures.importance_figure(
            {"logistic": imps["logistic"].head(1)}, p, q),
        "importance_empty": lambda p, q: model_figures.importance_figure(
            {"svm": imps["svm"], "knn": pd.DataFrame({"feature": [], "importance": [], "kind": []})}, p, q),
    }


CASES = _cases()


def _check_png(png: Path):
    with Image.open(png) as img:
        dpi = img.info.get("dpi")
        assert dpi is not None and round(dpi[0]) == 300 and round(dpi[1]) == 300, dpi
        arr = np.asarray(img.convert("L"), dtype=float)
    assert arr.var() > 0
    non_white = (arr < 245).mean()
    assert non_white > 0.005, f"{png.name}: only {non_white:.4f} non-white"
    assert "Software" not in Image.open(png).info


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


#: one ordinary case per public function: these are also re-rendered for byte identity
MAIN = ["roc_test", "lasso", "waterfall", "heatmap", "importance"]


def _render_and_check(name, out: Path) -> tuple[Path, Path]:
    png, pdf = out / f"{name}.png", out / f"{name}.pdf"
    CASES[name](png, pdf)
    assert png.exists() and pdf.exists()
    _check_png(png)
    head = pdf.read_bytes()
    assert head.startswith(b"%PDF")
    assert b"CreationDate" not in head and b"Matplotlib" not in head
    return png, pdf


@pytest.mark.parametrize("name", [n for n in MAIN if n != "lasso"])
def test_figure_written_and_deterministic(name, tmp_path):
    png, pdf = _render_and_check(name, tmp_path / "a")
    png2, pdf2 = _render_and_check(name, tmp_path / "b")
    assert _sha(png) == _sha(png2)
    assert _sha(pdf) == _sha(pdf2)


@pytest.mark.parametrize("name", [n for n in CASES if n not in MAIN])
def test_edge_case_figure_written(name, tmp_path):
    _render_and_check(name, tmp_path)


def test_lasso_deterministic_across_processes(tmp_path):
    """The LASSO figure (mathtext, λ/σ/–/− glyphs: the richest text of all figures) is
    rendered here and again in a fresh interpreter with another hash seed: same bytes."""
    png, pdf = _render_and_check("lasso", tmp_path)
    code = (
        "import sys; sys.path.insert(0, {tests!r}); sys.path.insert(0, {scripts!r})\n"
        "import test_figures as t\n"
        "t.CASES['lasso'](sys.argv[1] + '/lasso.png', sys.argv[1] + '/lasso.pdf')\n"
    ).format(tests=str(Path(__file__).parent), scripts=str(Path(__file__).parents[1] / "scripts"))
    child = tmp_path / "child"
    child.mkdir()
    env = dict(os.environ, PYTHONHASHSEED="987", MPLBACKEND="Agg")
    subprocess.run([sys.executable, "-c", code, str(child)], check=True, env=env)
    assert _sha(png) == _sha(child / "lasso.png")
    assert _sha(pdf) == _sha(child / "lasso.pdf")


def test_save_figure_closes_pyplot_figure(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    num = fig.number
    figures.save_figure(fig, tmp_path / "x" / "f.png", tmp_path / "x" / "f.pdf")
    assert not plt.fignum_exists(num)
    assert (tmp_path / "x" / "f.png").exists() and (tmp_path / "x" / "f.pdf").exists()


@pytest.mark.parametrize(
    "raw, short",
    [
        ("wavelet-LLH_glcm_InverseVariance", "wavelet-LLH · GLCM InverseVariance"),
        ("log-sigma-3-0-mm-3D_firstorder_Entropy", "LoG σ=3 mm · FO Entropy"),
        ("log-sigma-1-5-mm-3D_glszm_SmallAreaEmphasis", "LoG σ=1.5 mm · GLSZM SmallAreaEmphasis"),
        ("original_shape_Sphericity", "Shape Sphericity"),
        ("original_firstorder_10Percentile", "FO 10Percentile"),
        ("square_ngtdm_Busyness", "Square · NGTDM Busyness"),
        ("lbp-3D-m1_glcm_Idmn", "LBP-3D m1 · GLCM Idmn"),
        ("T2_wavelet-HHH_glrlm_RunEntropy", "T2 · wavelet-HHH · GLRLM RunEntropy"),
        ("age", "age"),
        ("tumour_size_mm", "tumour_size_mm"),
    ],
)
def test_short_feature_name(raw, short):
    assert figures.short_feature_name(raw) == short


def test_roc_curve_points_matches_mann_whitney():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.normal(size=200) + y, 1)  # many ties
    fpr, tpr, auc = figures.roc_curve_points(y, s)
    pos, neg = s[y == 1], s[y == 0]
    u = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum())
    assert auc == pytest.approx(u / (pos.size * neg.size))
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
    with pytest.raises(ValueError):
        figures.roc_curve_points([1, 1], [0.2, 0.3])


def test_short_feature_names_abbreviate_consistently():
    names = ["original_gldm_LargeDependenceHighGrayLevelEmphasis",
             "wavelet-HHH_gldm_LargeDependenceHighGrayLevelEmphasis", "original_shape_Sphericity"]
    out = figures.short_feature_names(names, max_len=40)
    assert all(len(x) <= 40 for x in out)
    # the same rules are applied to every label, even to one that would fit unabbreviated
    assert out[0] == "GLDM LargeDepHighGLEmph"
    assert out[1] == "wavelet-HHH · GLDM LargeDepHighGLEmph"
    assert out[2] == "Shape Sphericity"
    assert figures.short_feature_names(names) == [figures.short_feature_name(n) for n in names]
