"""Tests of the evaluation figures: calibration, decision curve, confusion matrices and
rad-score violins (files, resolution, byte-identical re-rendering, edge cases)."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from radsnake.stats import calibration as cal
from radsnake.figures import evaluation_figures
from radsnake.stats.discrimination import threshold_metrics

SIZES = {"train": 120, "test": 50, "external": 40}


# --------------------------------------------------------------------------------------
# synthetic inputs, built with the real calibration / stats functions
# --------------------------------------------------------------------------------------


def make_predictions(models=("logistic", "random_forest", "svm"), seed: int = 0, sizes=SIZES):
    rng = np.random.default_rng(seed)
    out = {}
    for k, model in enumerate(models):
        rows = []
        for s, n in sizes.items():
            y = np.r_[0, 1, rng.integers(0, 2, n - 2)] if n >= 2 else rng.integers(0, 2, n)
            sep = 1.8 - 0.25 * k - (0.5 if s != "train" else 0.0)
            shift = (-0.3 + 0.2 * k) if s != "train" else 0.0  # some miscalibration
            z = rng.normal(size=n) + sep * y - sep / 2 + shift
            p = np.round(1 / (1 + np.exp(-z * (0.8 + 0.15 * k))), 3)
            rows.append(pd.DataFrame({"case_id": [f"{s[:2]}{i:03d}" for i in range(n)], "set": s,
                                      "label": y, "probability": p}))
        out[model] = pd.concat(rows, ignore_index=True)
    return out


def calibration_inputs(preds, set_name, n_boot=40):
    curves, smooth, stats = {}, {}, []
    for model, df in preds.items():
        sub = df.loc[df["set"] == set_name]
        y, p = sub["label"].to_numpy(), sub["probability"].to_numpy()
        if np.unique(y).size < 2:
            continue
        curves[model] = cal.calibration_curve(y, p, n_bins=min(10, max(3, len(y) // 10)))
        smooth[model] = cal.smoothed_calibration(y, p, n_boot=n_boot)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            cs = cal.calibration_stats(y, p)
            hl = cal.hosmer_lemeshow(y, p, groups=min(10, max(3, len(y) // 5)))
        stats.append(dict(model=model, set=set_name, intercept=cs["intercept"], slope=cs["slope"],
                          brier=cs["brier"], hl_statistic=hl["statistic"], hl_p_value=hl["p_value"]))
    return curves, smooth, pd.DataFrame(stats)


def decision_inputs(preds, set_name):
    out = {}
    for model, df in preds.items():
        sub = df.loc[df["set"] == set_name]
        if sub["label"].nunique() < 2:
            out[model] = None
            continue
        out[model] = cal.decision_curve(sub["label"].to_numpy(), sub["probability"].to_numpy())
    return out


def confusion_inputs(preds, threshold=0.5):
    rows = []
    for model, df in preds.items():
        for s, sub in df.groupby("set", sort=False):
            m = threshold_metrics(sub["label"].to_numpy(), sub["probability"].to_numpy(), threshold)
            rows.append(dict(model=model, set=s, tp=m["tp"], fp=m["fp"], tn=m["tn"], fn=m["fn"]))
    return pd.DataFrame(rows)


def make_radscore(seed: int = 2, sizes=SIZES):
    rng = np.random.default_rng(seed)
    parts = []
    for s, n in sizes.items():
        y = rng.integers(0, 2, n)
        parts.append(pd.DataFrame({"case_id": [f"{s[:2]}{i:03d}" for i in range(n)], "set": s, "label": y,
                                   "radscore": np.round(rng.normal(size=n) + 1.6 * y - 0.8, 3)}))
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------------------
# cases: name -> callable(png, pdf)
# --------------------------------------------------------------------------------------


def _cases():
    preds = make_predictions()
    cur, sm, st = calibration_inputs(preds, "test")
    many = make_predictions(models=("logistic", "lasso_lr", "random_forest", "svm", "xgboost"), seed=7)
    cur5, sm5, st5 = calibration_inputs(many, "test", n_boot=20)
    # NaN statistics (e.g. perfect separation) and a model without any calibration data
    st_nan = st.copy()
    st_nan.loc[st_nan["model"] == "svm", ["intercept", "slope"]] = np.nan
    empty = pd.DataFrame(columns=["bin", "n", "mean_predicted", "observed", "ci_low", "ci_high"])
    cur_missing = dict(cur, random_forest=empty)  # single panel: NaN stats + a model with no data
    sm_missing = {m: f for m, f in sm.items() if m != "random_forest"}
    tiny = make_predictions(models=("logistic",), seed=3, sizes={"train": 12, "test": 6, "external": 3})
    cur_t, sm_t, st_t = calibration_inputs(tiny, "test", n_boot=10)
    st5.loc[0, ["intercept", "slope", "brier"]] = np.nan  # e.g. perfect separation
    cur5["knn"] = None  # a model without calibration data

    dca = decision_inputs(preds, "test")
    one_class = {m: df.assign(label=np.where(df["set"] == "external", 1, df["label"])) for m, df in preds.items()}
    one_class["logistic"] = preds["logistic"]
    dca_one = decision_inputs(one_class, "external")
    dca_tiny = decision_inputs(tiny, "external")
    dca_none = decision_inputs({"svm": one_class["svm"]}, "external")

    cm = confusion_inputs(preds)
    cm_edge = pd.concat([
        cm.loc[(cm["model"] == "svm") & (cm["set"] != "external")],  # missing combination
        pd.DataFrame([dict(model="knn", set="test", tp=0, fp=0, tn=0, fn=0),  # no cases
                      dict(model="knn", set="train", tp=3, fp=0, tn=0, fn=0),  # one class
                      dict(model="knn", set="external", tp=np.nan, fp=1, tn=2, fn=0)]),  # NaN
    ], ignore_index=True)
    cm_single = cm.loc[(cm["model"] == "logistic") & (cm["set"] == "test")]

    rs = make_radscore()
    rs_edge = rs.copy()
    rs_edge.loc[rs_edge["set"] == "external", "label"] = 1  # one class
    rs_edge = pd.concat([rs_edge, pd.DataFrame({"case_id": ["v1", "v2", "v3"], "set": "validation",
                                                "label": [0, 1, 1], "radscore": [0.1, 0.5, 0.5]})])
    rs_edge.loc[rs_edge.index[:2], "radscore"] = np.nan
    rs_tiny = make_radscore(sizes={"test": 2})
    return {
        "calibration": lambda p, q: evaluation_figures.calibration_figure(cur, sm, st, "test", p, q),
        "decision": lambda p, q: evaluation_figures.decision_curve_figure(dca, "test", p, q),
        "confusion": lambda p, q: evaluation_figures.confusion_matrix_figure(cm, p, q),
        "violin": lambda p, q: evaluation_figures.radscore_violin_figure(rs, p, q, label_names=["Benign", "Malignant"]),
        # same cases in another row order: jitter is seeded and cases are sorted by case_id
        "violin_shuffled": lambda p, q: evaluation_figures.radscore_violin_figure(
            rs.sample(frac=1.0, random_state=1), p, q, label_names=["Benign", "Malignant"]),
        "calibration_grid": lambda p, q: evaluation_figures.calibration_figure(cur5, sm5, st5, "test", p, q),
        "calibration_nan_missing": lambda p, q: evaluation_figures.calibration_figure(cur_missing, sm_missing, st_nan,
                                                                                  "test", p, q),
        "calibration_tiny": lambda p, q: evaluation_figures.calibration_figure(cur_t, sm_t, st_t, "test", p, q),
        "calibration_no_stats": lambda p, q: evaluation_figures.calibration_figure(cur, {}, None, "test", p, q),
        "calibration_empty": lambda p, q: evaluation_figures.calibration_figure({}, {}, st, "external", p, q),
        "decision_one_class": lambda p, q: evaluation_figures.decision_curve_figure(dca_one, "external", p, q),
        "decision_tiny": lambda p, q: evaluation_figures.decision_curve_figure(dca_tiny, "external", p, q),
        "decision_none": lambda p, q: evaluation_figures.decision_curve_figure(dca_none, "external", p, q),
        "confusion_edge": lambda p, q: evaluation_figures.confusion_matrix_figure(cm_edge, p, q,
                                                                       label_names=["Benign", "Malignant"]),
        "confusion_single": lambda p, q: evaluation_figures.confusion_matrix_figure(cm_single, p, q),
        "confusion_empty": lambda p, q: evaluation_figures.confusion_matrix_figure(cm.iloc[:0], p, q),
        "violin_edge": lambda p, q: evaluation_figures.radscore_violin_figure(rs_edge, p, q),
        "violin_tiny": lambda p, q: evaluation_figures.radscore_violin_figure(rs_tiny, p, q),
        "violin_empty": lambda p, q: evaluation_figures.radscore_violin_figure(rs.iloc[:0], p, q),
    }


CASES = _cases()
#: one ordinary case per function (and the small-multiples calibration grid): re-rendered
#: for byte identity
MAIN = ["calibration", "calibration_grid", "decision", "confusion", "violin"]
#: the re-rendering of a MAIN case (default: the same case)
RERENDER = {"violin": "violin_shuffled"}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _render_and_check(name, out: Path) -> tuple[Path, Path]:
    png, pdf = out / "figure.png", out / "figure.pdf"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no matplotlib / numpy warnings while drawing
        CASES[name](png, pdf)
    with Image.open(png) as img:
        dpi = img.info.get("dpi")
        assert dpi is not None and round(dpi[0]) == 300 and round(dpi[1]) == 300, dpi
        assert "Software" not in img.info
        arr = np.asarray(img.convert("L"), dtype=float)
    assert arr.var() > 0
    assert (arr < 245).mean() > 0.005, f"{name}: almost blank"
    head = pdf.read_bytes()
    assert head.startswith(b"%PDF")
    assert b"CreationDate" not in head and b"Matplotlib" not in head
    return png, pdf


@pytest.mark.parametrize("name", MAIN)
def test_figure_written_and_deterministic(name, tmp_path):
    png, pdf = _render_and_check(name, tmp_path / "a")
    png2, pdf2 = _render_and_check(RERENDER.get(name, name), tmp_path / "b")
    assert _sha(png) == _sha(png2)
    assert _sha(pdf) == _sha(pdf2)


@pytest.mark.parametrize("name", [n for n in CASES if n not in MAIN and n not in RERENDER.values()])
def test_edge_case_figure_written(name, tmp_path):
    _render_and_check(name, tmp_path)


def test_p_value_text():
    assert evaluation_figures.p_text(0.0004) == "p < 0.001"
    assert evaluation_figures.p_text(0.0042) == "p = 0.004"
    assert evaluation_figures.p_text(0.234) == "p = 0.23"
    assert evaluation_figures.p_text(float("nan")) == "p = NA"


def test_evaluation_figures_live_in_their_module():
    for name in ("calibration_figure", "decision_curve_figure", "confusion_matrix_figure",
                 "radscore_violin_figure"):
        assert getattr(evaluation_figures, name).__module__ == "radsnake.figures.evaluation_figures"


@pytest.mark.parametrize("values, counts", [((0.2, 0.5, 0.8), [12, 9, 7]), ((0.4,), [28])])
def test_calibration_case_axis_counts_the_cases(values, counts, monkeypatch, tmp_path):
    """A step-valued model's groups are its values; the strip's top tick is the largest group
    (the issue's figure read 29 for one group of 28 cases)."""
    p = np.repeat(values, counts)
    y = (np.arange(p.size) % 3 == 0).astype(int)
    curve = cal.calibration_curve(y, p)
    assert curve["n"].tolist() == counts
    shown = {}
    monkeypatch.setattr(evaluation_figures, "save_snapped", lambda fig, png, pdf: shown.setdefault("fig", fig))
    evaluation_figures.calibration_figure({"decision_tree": curve}, {}, None, "test", tmp_path / "c.png", tmp_path / "c.pdf")
    strip = next(ax for ax in shown["fig"].axes if ax.get_ylabel() == "Cases")
    assert list(strip.get_yticks()) == [0, max(counts)]
    assert shown["fig"].axes[0].get_title().endswith(f"(n = {sum(counts)})")
