"""Publication figures for a radiomics study (ROC, LASSO, waterfall, heat map, importances).

Every public plotting function takes plain DataFrames (as read from the workflow's CSV
files) plus a PNG and a PDF path, writes both files and returns ``None``.

Design rules, shared by all figures:

* one house style (seaborn "ticks" with a light grid, DejaVu Sans, 6.5–9 pt text) and the
  Okabe–Ito colour-blind-safe palette;
* sizes fit a journal column: 3.5 in (single) or 7 in (double) wide;
* output is **deterministic**: the same inputs give byte-identical PNG and PDF files.
  No timestamps or software versions are written into the files (PDF ``Creator``,
  ``Producer`` and ``CreationDate`` and the PNG ``Software`` chunk are removed),
  TrueType fonts are embedded (``pdf.fonttype`` 42), the font family is fixed to the
  DejaVu fonts bundled with Matplotlib, and nothing random is drawn;
* figures are built on ``matplotlib.figure.Figure`` objects with the Agg/PDF canvases,
  so no display and no pyplot global state are needed.
"""

from __future__ import annotations

import functools
import math
import re
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

if "matplotlib.pyplot" not in sys.modules:  # headless rule scripts: never need a display
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after the backend choice)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from radsnake.external import ordered_sets  # noqa: E402
from radsnake.intervals import legend_interval  # noqa: E402

__all__ = [
    "PALETTE",
    "LABEL_COLOURS",
    "short_feature_name",
    "short_feature_names",
    "save_figure",
    "roc_curve_points",
    "roc_figure",
    "lasso_figure",
    "waterfall_figure",
    "correlation_heatmap",
    "importance_figure",
]

# ---------------------------------------------------------------------------------------
# Style
# ---------------------------------------------------------------------------------------

#: Okabe & Ito (2008) colour-blind-safe palette (yellow left out: invisible on white).
PALETTE: list[str] = [
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
]
#: Colours of the true class in waterfall plots (label 0, label 1).
LABEL_COLOURS: tuple[str, str] = ("#0072B2", "#D55E00")
_LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 1))]

SINGLE_COLUMN_IN = 3.5
DOUBLE_COLUMN_IN = 7.0
DPI = 300

_PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None}
_PNG_METADATA = {"Software": None}


def _style() -> dict:
    rc: dict = {}
    rc.update(sns.axes_style("ticks"))
    rc.update(
        {
            "font.family": "sans-serif",
            "font.sans-serif": ["DejaVu Sans"],  # bundled with matplotlib: same on every host
            "mathtext.fontset": "dejavusans",
            "font.size": 8,
            "axes.titlesize": 8.5,
            "axes.labelsize": 8,
            "xtick.labelsize": 7,
            "ytick.labelsize": 7,
            "legend.fontsize": 6.5,
            "legend.title_fontsize": 7,
            "figure.titlesize": 9,
            "axes.linewidth": 0.8,
            "lines.linewidth": 1.3,
            "xtick.major.width": 0.8,
            "ytick.major.width": 0.8,
            "xtick.major.size": 3,
            "ytick.major.size": 3,
            "axes.grid": False,
            "grid.color": "#E5E5E5",
            "grid.linewidth": 0.5,
            "legend.frameon": False,
            "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
            "axes.unicode_minus": True,
            "figure.dpi": 100,
            "savefig.dpi": DPI,
            "savefig.facecolor": "white",
            "figure.facecolor": "white",
            "axes.facecolor": "white",
            # determinism
            "pdf.fonttype": 42,
            "ps.fonttype": 42,
            "pdf.compression": 6,
            "svg.hashsalt": "radsnake",
            "svg.fonttype": "none",
            "image.interpolation": "nearest",
            "path.simplify": False,
        }
    )
    return rc


STYLE: dict = _style()


def _styled(func):
    """Run a plotting function (figure creation *and* saving) inside the house style."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return func(*args, **kwargs)

    return wrapper


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    fig.get_layout_engine().set(w_pad=0.03, h_pad=0.03, wspace=0.04, hspace=0.04)
    return fig


def save_figure(fig: Figure, png_path, pdf_path) -> None:
    """Write ``fig`` as a 300-dpi PNG and a PDF with no volatile metadata, then close it.

    Parent directories are created. The figure size is kept as built (no tight bbox), so
    a 3.5-in figure stays 3.5 in wide in the journal layout.
    """
    try:
        with matplotlib.rc_context(STYLE):
            for path in (png_path, pdf_path):
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(png_path, format="png", dpi=DPI, metadata=_PNG_METADATA)
            # Freeze the constrained layout computed for the PNG: the PDF gets exactly the
            # same geometry, and the (slow) layout pass is not repeated.
            fig.set_layout_engine("none")
            fig.savefig(pdf_path, format="pdf", dpi=DPI, metadata=_PDF_METADATA)
    finally:
        if plt.fignum_exists(getattr(fig, "number", -1)):
            plt.close(fig)
        else:
            fig.clear()


# ---------------------------------------------------------------------------------------
# Feature names
# ---------------------------------------------------------------------------------------

_FEATURE_CLASSES = {
    "shape": "Shape",
    "shape2d": "Shape2D",
    "firstorder": "FO",
    "glcm": "GLCM",
    "glrlm": "GLRLM",
    "glszm": "GLSZM",
    "gldm": "GLDM",
    "ngtdm": "NGTDM",
}
_SIMPLE_IMAGE_TYPES = {
    "original": "",
    "square": "Square",
    "squareroot": "SquareRoot",
    "logarithm": "Logarithm",
    "exponential": "Exponential",
    "gradient": "Gradient",
}
_LOG_RE = re.compile(r"^log-sigma-(\d+)-(\d+)-mm(?:-(\d)D)?$", re.IGNORECASE)
_LBP_RE = re.compile(r"^lbp-(2D|3D)(?:-(.+))?$", re.IGNORECASE)
_SEP = " · "


def _image_type_label(image_type: str) -> str:
    key = image_type.lower()
    if key in _SIMPLE_IMAGE_TYPES:
        return _SIMPLE_IMAGE_TYPES[key]
    m = _LOG_RE.match(image_type)
    if m:
        sigma = float(f"{m.group(1)}.{m.group(2)}")
        return f"LoG σ={sigma:g} mm"
    if key.startswith("wavelet"):
        return image_type  # "wavelet-LLH" is already the conventional label
    m = _LBP_RE.match(image_type)
    if m:
        return f"LBP-{m.group(1)}" + (f" {m.group(2)}" if m.group(2) else "")
    return image_type


#: PyRadiomics words shortened (in this order) when a label must fit ``max_len``.
_ABBREVIATIONS = [
    ("GrayLevel", "GL"),
    ("NonUniformity", "NU"),
    ("Normalized", "N"),
    ("Emphasis", "Emph"),
    ("Dependence", "Dep"),
    ("Informational", "Info"),
    ("Correlation", "Corr"),
    ("Measure", "Meas"),
    ("Variance", "Var"),
    ("Percentage", "Pct"),
    ("Probability", "Prob"),
    ("RunLength", "RL"),
    ("Difference", "Diff"),
    ("Maximum", "Max"),
    ("Minimum", "Min"),
    ("Surface", "Surf"),
    ("Volume", "Vol"),
]


def short_feature_name(name, max_len: int | None = None) -> str:
    """Readable label for a PyRadiomics feature name.

    ``"wavelet-LLH_glcm_InverseVariance"`` -> ``"wavelet-LLH · GLCM InverseVariance"``,
    ``"log-sigma-3-0-mm-3D_firstorder_Entropy"`` -> ``"LoG σ=3 mm · FO Entropy"``,
    ``"original_shape_Sphericity"`` -> ``"Shape Sphericity"`` (unfiltered image: no prefix).
    A modality/sequence prefix before the image type is kept
    (``"T2_wavelet-HHH_glszm_ZoneEntropy"`` -> ``"T2 · wavelet-HHH · GLSZM ZoneEntropy"``).
    Names that are not PyRadiomics names (clinical variables, ...) are returned unchanged.

    With ``max_len``, longer labels have common PyRadiomics words abbreviated
    (``GrayLevel`` -> ``GL``, ``NonUniformity`` -> ``NU``, ``Normalized`` -> ``N``,
    ``Emphasis`` -> ``Emph``, ...) one after the other until they fit; a label still too
    long is cut with an ellipsis.
    """
    head, feature = _split_name(str(name))
    return _fit(head, feature, max_len, len(_ABBREVIATIONS))


def _split_name(name: str) -> tuple[str, str]:
    """("wavelet-LLH · GLCM ", "InverseVariance"): readable head and raw feature part."""
    parts = name.split("_")
    for i in range(1, len(parts) - 1):
        cls = _FEATURE_CLASSES.get(parts[i].lower())
        if cls is None:
            continue
        image = _image_type_label(parts[i - 1])
        prefix = "_".join(parts[: i - 1])
        return "".join(p + _SEP for p in (prefix, image) if p) + cls + " ", "_".join(parts[i + 1 :])
    return "", name


def _fit(head: str, feature: str, max_len: int | None, max_level: int) -> str:
    """Abbreviate with at most ``max_level`` word rules until ``max_len`` fits, then cut."""
    label = head + feature
    if max_len is None or len(label) <= max_len:
        return label
    for word, short in _ABBREVIATIONS[:max_level]:
        feature = feature.replace(word, short)
        label = head + feature
        if len(label) <= max_len:
            return label
    return label if len(label) <= max_len else label[: max(1, max_len - 1)] + "…"


def short_feature_names(names, max_len: int | None = None) -> list[str]:
    """:func:`short_feature_name` for a list, abbreviating *consistently*: the same word
    is shortened in every label (the fewest abbreviation rules that make all labels fit)."""
    split = [_split_name(str(n)) for n in names]
    if max_len is None:
        return [h + f for h, f in split]
    for level in range(len(_ABBREVIATIONS) + 1):
        out = [h + _abbreviate(f, level) for h, f in split]
        if all(len(x) <= max_len for x in out):
            return out
    return [_fit(h, _abbreviate(f, len(_ABBREVIATIONS)), max_len, 0) for h, f in split]


def _abbreviate(feature: str, level: int) -> str:
    for word, short in _ABBREVIATIONS[:level]:
        feature = feature.replace(word, short)
    return feature


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def roc_curve_points(labels, scores) -> tuple[np.ndarray, np.ndarray, float]:
    """(false-positive rate, true-positive rate, AUC) of ``scores`` for binary ``labels``.

    Tied scores form a single (diagonal) step, as in pROC / scikit-learn. Requires both
    classes; the AUC is the trapezoidal area (= Mann–Whitney U / (n0 n1)).
    """
    y = np.asarray(labels).astype(int)
    s = np.asarray(scores, dtype=float)
    ok = np.isfinite(s)
    y, s = y[ok], s[ok]
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC needs both classes")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    distinct = np.where(np.diff(s))[0]
    idx = np.r_[distinct, y.size - 1]
    tps = np.cumsum(y)[idx]
    fps = (idx + 1) - tps
    tpr = np.r_[0.0, tps / n_pos]
    fpr = np.r_[0.0, fps / n_neg]
    auc = float(np.trapezoid(tpr, fpr))
    return fpr, tpr, auc


def _fmt(x: float, digits: int = 2) -> str:
    """Fixed decimals with a typographic minus and no "−0.00"."""
    x = round(float(x), digits) + 0.0
    return f"{x:.{digits}f}".replace("-", "−")


def _label_name(label_names, value: int) -> str:
    if label_names is None:
        return f"Label {value}"
    if isinstance(label_names, Mapping):
        for key in (value, str(value)):
            if key in label_names:
                return str(label_names[key])
        return f"Label {value}"
    seq = list(label_names)
    return str(seq[value]) if 0 <= value < len(seq) else f"Label {value}"


def _set_title(set_name: str) -> str:
    name = str(set_name)
    if name.startswith("external_"):
        return f"External cohort {name[len('external_'):]}"
    return {"train": "Training set", "test": "Test set", "external": "External validation set"}.get(
        name, f"{name} set"
    )


def _message_figure(message: str, title: str | None = None, width=SINGLE_COLUMN_IN, height=2.0):
    fig = _new_figure(width, height)
    ax = fig.add_subplot()
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, wrap=True)
    return fig


def _font_for_count(n: int, largest: float = 7.0, smallest: float = 4.5) -> float:
    """Tick-label font size that shrinks as the number of labels grows."""
    if n <= 12:
        return largest
    return float(max(smallest, largest - (n - 12) * (largest - smallest) / 28.0))


# ---------------------------------------------------------------------------------------
# 1. ROC
# ---------------------------------------------------------------------------------------


@_styled
def roc_figure(
    predictions: Mapping[str, pd.DataFrame],
    metrics: pd.DataFrame | None,
    set_name: str,
    png_path,
    pdf_path,
    *,
    title: str | None = None,
    bands: Mapping[str, pd.DataFrame] | None = None,
) -> None:
    """ROC curves of every model on one set (``"train"``, ``"test"`` or ``"external"``).

    ``bands`` (model -> DataFrame fpr, tpr_low, tpr_high, from ``stats.roc_band``) adds
    each model's pointwise 95 % confidence band as a light shade of its colour.

    Legend entries read ``"logistic: AUC 0.85 (0.78–0.91)"``; AUC and 95 % CI come from
    ``metrics`` (row with the same ``model`` and ``set``) when available, otherwise the
    AUC is computed from the predictions and no CI is shown. Models whose set holds a
    single class (or no cases) get no curve and a legend entry saying why.
    """
    fig = _new_figure(SINGLE_COLUMN_IN, SINGLE_COLUMN_IN + 0.15)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="#999999", lw=0.8, ls=(0, (4, 3)), zorder=1)
    ax.grid(True)

    handles, labels, ns = [], [], set()
    for i, (model, frame) in enumerate(predictions.items()):
        sub = frame.loc[frame["set"].astype(str) == str(set_name)] if frame is not None else None
        sub = sub.dropna(subset=["label", "probability"]) if sub is not None else None
        if sub is None or sub.empty:
            handles.append(Line2D([], [], color="none"))
            labels.append(f"{model}: no cases in this set")
            continue
        y = sub["label"].astype(int).to_numpy()
        ns.add(len(sub))
        if np.unique(y).size < 2:
            handles.append(Line2D([], [], color="none"))
            labels.append(f"{model}: not estimable (one class only)")
            continue
        fpr, tpr, auc = roc_curve_points(y, sub["probability"].to_numpy())
        text = f"{model}: AUC {_fmt(auc)}"
        if metrics is not None and not metrics.empty:
            row = metrics.loc[
                (metrics["model"].astype(str) == str(model))
                & (metrics["set"].astype(str) == str(set_name))
            ]
            if not row.empty:
                r = row.iloc[0]
                if pd.notna(r.get("auc")):
                    text = f"{model}: AUC {_fmt(float(r['auc']))}"
                text += legend_interval(r)
        if bands is not None and model in bands:
            band = bands[model]
            ax.fill_between(
                band["fpr"], band["tpr_low"], band["tpr_high"],
                step="post", color=PALETTE[i % len(PALETTE)], alpha=0.10, lw=0, zorder=2,
            )
        (line,) = ax.plot(
            fpr,
            tpr,
            color=PALETTE[i % len(PALETTE)],
            ls=_LINESTYLES[(i // len(PALETTE)) % len(_LINESTYLES)] if i >= len(PALETTE) else "-",
            drawstyle="default",
            zorder=3,
            clip_on=False,
        )
        handles.append(line)
        labels.append(text)

    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ticks = np.linspace(0, 1, 6)
    ax.set_xticks(ticks, [_fmt(t, 1) for t in ticks])
    ax.set_yticks(ticks, [_fmt(t, 1) for t in ticks])
    ax.set_xlabel("1 − Specificity (false-positive rate)")
    ax.set_ylabel("Sensitivity (true-positive rate)")
    if title is None:
        title = _set_title(set_name)
        if len(ns) == 1:
            title += f" (n = {ns.pop()})"
    ax.set_title(title)
    legend_kw = dict(title="Model: AUC (95% CI)", handlelength=1.6, alignment="left")
    if len(handles) > 5:  # too many to sit inside the axes: put them under the plot
        fig.set_size_inches(SINGLE_COLUMN_IN, SINGLE_COLUMN_IN + 0.35 + 0.125 * len(handles))
        fig.legend(handles, labels, loc="outside lower center", **legend_kw)
    elif handles:
        leg = ax.legend(
            handles, labels, loc="lower right", borderaxespad=0.3, frameon=True,
            framealpha=0.85, facecolor="white", edgecolor="none", **legend_kw,
        )
        leg.set_zorder(10)
    else:
        ax.text(0.5, 0.55, "no models", ha="center", transform=ax.transAxes)
    sns.despine(ax=ax)
    save_figure(fig, png_path, pdf_path)


# ---------------------------------------------------------------------------------------
# 2. LASSO
# ---------------------------------------------------------------------------------------


def _top_count_axis(ax, loglam: np.ndarray, counts: np.ndarray, max_ticks: int = 9) -> None:
    """glmnet-style top axis: number of non-zero coefficients at selected log(λ)."""
    top = ax.secondary_xaxis("top")
    order = np.argsort(loglam)
    loglam, counts = loglam[order], counts[order]
    if loglam.size > max_ticks:
        pick = np.unique(np.round(np.linspace(0, loglam.size - 1, max_ticks)).astype(int))
    else:
        pick = np.arange(loglam.size)
    top.set_xticks(loglam[pick], [str(int(c)) for c in counts[pick]])
    top.tick_params(labelsize=6.5, length=2)
    top.set_xlabel("Non-zero coefficients", fontsize=7, labelpad=3)


@_styled
def lasso_figure(
    path: pd.DataFrame,
    cv: pd.DataFrame,
    png_path,
    pdf_path,
    *,
    chosen: str = "1se",
    max_legend: int = 10,
    deviance_label: str = "Binomial deviance (CV mean ± SE)",
) -> None:
    """Two-panel LASSO figure in the style of glmnet's ``plot`` / ``plot.cv.glmnet``.

    (a) coefficient paths against log(λ) (natural log); (b) cross-validated binomial
    deviance ± 1 SE against log(λ). Both panels show λ_min and λ_1se as vertical lines
    (``chosen`` = ``"1se"`` or ``"min"`` marks the one used for selection) and the number
    of non-zero coefficients on the top axis. Features non-zero at the chosen λ are
    coloured and named in the legend (largest |coefficient| first, at most
    ``max_legend``); the others are drawn in light grey.
    """
    if chosen not in ("1se", "min"):
        raise ValueError("chosen must be '1se' or 'min'")
    fig = _new_figure(DOUBLE_COLUMN_IN, 3.6)
    ax_path, ax_cv = fig.subplots(1, 2)

    cv = cv.copy()
    cv = cv.loc[pd.to_numeric(cv["lambda"], errors="coerce") > 0].sort_values("lambda")
    cv_loglam = np.log(cv["lambda"].to_numpy(dtype=float))

    def _pick(col):
        if col not in cv or cv.empty:
            return None
        hit = cv.loc[cv[col].astype(str).str.lower().isin(["true", "1"])]
        return float(hit["lambda"].iloc[0]) if not hit.empty else None

    lam_min, lam_1se, lam_used = _pick("is_min"), _pick("is_1se"), _pick("is_used")
    lam_chosen = lam_1se if chosen == "1se" else lam_min
    if lam_used is not None:  # lasso_cv.csv says which lambda the selection used
        lam_chosen = lam_used
    if lam_chosen is None:
        lam_chosen = lam_min if lam_min is not None else lam_1se
    # A selection that keeps no feature at the lambda it used has no signature: said on the figure.
    kept = cv.loc[cv["lambda"] == lam_chosen, "n_nonzero"] if "n_nonzero" in cv else pd.Series(dtype=float)
    used_mark = " (used): keeps 0 features \u2014 no signature" if len(kept) and int(kept.iloc[0]) == 0 else " (used)"

    vlines = []
    for lam, name, ls in ((lam_min, "min", (0, (4, 2))), (lam_1se, "1se", (0, (1.5, 1.5)))):
        if lam is None:
            continue
        sub = "min" if name == "min" else "1SE"
        mark = used_mark if lam == lam_chosen and (name == chosen or lam_min != lam_1se) else ""
        label = f"λ$_{{\\mathrm{{{sub}}}}}$ = {lam:.3g}, log λ = {_fmt(math.log(lam))}{mark}"
        vlines.append((math.log(lam), ls, label))
    if lam_chosen is not None and lam_chosen not in (lam_min, lam_1se):  # n_features: k picks its own
        vlines.append((math.log(lam_chosen), (0, (6, 1.5, 1, 1.5)),
                       f"λ = {lam_chosen:.3g}, log λ = {_fmt(math.log(lam_chosen))}{used_mark}"))

    # -- (a) coefficient paths ----------------------------------------------------------
    p = path.copy()
    p = p.loc[pd.to_numeric(p["lambda"], errors="coerce") > 0]
    legend_handles = []
    if p.empty:
        ax_path.text(0.5, 0.5, "no LASSO path", ha="center", va="center", transform=ax_path.transAxes)
    else:
        wide = p.pivot_table(
            index="lambda", columns="feature", values="coefficient", aggfunc="first", sort=True
        ).fillna(0.0)
        loglam = np.log(wide.index.to_numpy(dtype=float))
        if lam_chosen is not None:
            at = wide.iloc[int(np.argmin(np.abs(wide.index.to_numpy(dtype=float) - lam_chosen)))]
        else:
            at = wide.iloc[0]
        selected = at[at != 0].abs().sort_values(ascending=False, kind="mergesort")
        highlighted = list(selected.index[:max_legend])
        for feat in wide.columns:
            if feat in highlighted:
                continue
            ax_path.plot(loglam, wide[feat].to_numpy(), color="#BBBBBB", lw=0.6, zorder=2)
        for j, feat in enumerate(highlighted):
            (ln,) = ax_path.plot(
                loglam,
                wide[feat].to_numpy(),
                color=PALETTE[j % len(PALETTE)],
                ls=_LINESTYLES[(j // len(PALETTE)) % len(_LINESTYLES)],
                lw=1.1,
                zorder=3,
            )
            legend_handles.append((ln, feat))
        ax_path.axhline(0, color="#666666", lw=0.5, zorder=1)
        counts = (wide != 0).sum(axis=1).to_numpy()
        _top_count_axis(ax_path, loglam, counts)
        legend_handles = [
            (h, t) for (h, _), t in zip(legend_handles, short_feature_names([f for _, f in legend_handles], 48))
        ]
        n_more = len(selected) - len(highlighted)
        n_grey = wide.shape[1] - len(highlighted)
        if n_more > 0:
            legend_handles.append(
                (Line2D([], [], color="#BBBBBB", lw=0.6), f"{n_more} more selected + {n_grey - n_more} not selected")
            )
        elif n_grey > 0:
            legend_handles.append((Line2D([], [], color="#BBBBBB", lw=0.6), f"{n_grey} not selected"))
    ax_path.set_xlabel("log(λ)")
    ax_path.set_ylabel("Coefficient")
    ax_path.set_title("a", loc="left", fontweight="bold", pad=14)

    # -- (b) cross-validation -----------------------------------------------------------
    if cv.empty:
        ax_cv.text(0.5, 0.5, "no CV results", ha="center", va="center", transform=ax_cv.transAxes)
    else:
        mean = cv["cv_mean_deviance"].to_numpy(dtype=float)
        se = cv["cv_se"].to_numpy(dtype=float) if "cv_se" in cv else np.zeros_like(mean)
        ax_cv.errorbar(
            cv_loglam,
            mean,
            yerr=np.nan_to_num(se),
            fmt="o",
            ms=2.6,
            color=PALETTE[1],
            ecolor="#9A9A9A",
            elinewidth=0.7,
            capsize=1.5,
            capthick=0.6,
            zorder=3,
        )
        if "n_nonzero" in cv:
            _top_count_axis(ax_cv, cv_loglam, cv["n_nonzero"].to_numpy())
    ax_cv.set_xlabel("log(λ)")
    ax_cv.set_ylabel(deviance_label)
    ax_cv.set_title("b", loc="left", fontweight="bold", pad=14)

    line_handles = []
    for x, ls, label in vlines:
        for ax in (ax_path, ax_cv):
            ax.axvline(x, color="#333333", lw=0.8, ls=ls, zorder=4)
        line_handles.append((Line2D([], [], color="#333333", lw=0.8, ls=ls), label))
    for ax in (ax_path, ax_cv):
        ax.grid(True, axis="y")
        sns.despine(ax=ax, top=False)

    # same log(λ) range on both panels, so the vertical lines line up
    spans = [a for a in (cv_loglam, loglam if not p.empty else np.array([])) if a.size]
    if spans:
        lo = min(a.min() for a in spans)
        hi = max(a.max() for a in spans)
        pad = 0.02 * max(hi - lo, 1e-9)
        for ax in (ax_path, ax_cv):
            ax.set_xlim(lo - pad, hi + pad)

    items = line_handles + legend_handles
    ncol = 2 if len(items) > 3 else max(len(items), 1)
    fig.set_size_inches(DOUBLE_COLUMN_IN, 3.0 + 0.14 * math.ceil(len(items) / ncol))
    if items:
        fig.legend(
            [h for h, _ in items],
            [t for _, t in items],
            loc="outside lower center",
            ncol=ncol,
            handlelength=2.2,
            columnspacing=1.5,
        )
    save_figure(fig, png_path, pdf_path)


# ---------------------------------------------------------------------------------------
# 3. Rad-score waterfall
# ---------------------------------------------------------------------------------------


@_styled
def waterfall_figure(
    radscore: pd.DataFrame,
    set_name: str,
    png_path,
    pdf_path,
    *,
    cutoff: float | None = None, mark: str = "",
    label_names: Sequence[str] | Mapping | None = None,
    title: str | None = None,
) -> None:
    """Rad-score of every patient in one set, sorted in descending order, bars coloured
    by the true label. ``cutoff`` draws a horizontal dashed line (e.g. the training-set
    threshold); ``label_names`` maps 0/1 to names (``["Benign", "Malignant"]``)."""
    sub = radscore.loc[radscore["set"].astype(str) == str(set_name)].dropna(subset=["radscore"])
    width = SINGLE_COLUMN_IN if len(sub) <= 120 else DOUBLE_COLUMN_IN
    if title is None:
        title = f"{_set_title(set_name)} (n = {len(sub)}){mark}"
    if sub.empty:
        fig = _message_figure("no patients in this set", title=title)
        save_figure(fig, png_path, pdf_path)
        return
    sub = sub.sort_values(["radscore", "case_id"], ascending=[False, True], kind="mergesort")
    values = sub["radscore"].to_numpy(dtype=float)
    labels = pd.to_numeric(sub["label"], errors="coerce").fillna(-1).astype(int).to_numpy()
    colours = [LABEL_COLOURS[v] if v in (0, 1) else "#999999" for v in labels]

    fig = _new_figure(width, 2.7)
    ax = fig.add_subplot()
    x = np.arange(len(values))
    ax.bar(x, values, width=0.85 if len(values) < 60 else 1.0, color=colours, linewidth=0)
    ax.axhline(0, color="#333333", lw=0.6)
    handles = []
    for v in (0, 1):
        if (labels == v).any():
            handles.append(Patch(color=LABEL_COLOURS[v], label=f"{_label_name(label_names, v)} (n = {(labels == v).sum()})"))
    if (~np.isin(labels, [0, 1])).any():
        handles.append(Patch(color="#999999", label="Label missing"))
    if cutoff is not None and np.isfinite(cutoff):
        handles.append(
            ax.axhline(cutoff, color="#000000", lw=0.9, ls=(0, (4, 2)), label=f"Cut-off = {_fmt(cutoff)}")
        )
    ax.set_xlim(-0.7, len(values) - 0.3)
    ax.set_xticks([])
    ax.set_xlabel("Patients, sorted by rad-score")
    ax.set_ylabel("Rad-score (linear predictor)")
    ax.set_title(title)
    ax.grid(True, axis="y")
    ax.legend(handles=handles, loc="upper right", handlelength=1.4, borderaxespad=0.3)
    sns.despine(ax=ax, bottom=True)
    save_figure(fig, png_path, pdf_path)


# ---------------------------------------------------------------------------------------
# 4. Correlation heat map
# ---------------------------------------------------------------------------------------


def _cluster_order(corr: np.ndarray):
    """Average-linkage clustering on 1 − |ρ|; returns (leaf order, linkage or None)."""
    n = corr.shape[0]
    if n < 3:
        return np.arange(n), None
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    dist = 1.0 - np.abs(corr)
    dist = (dist + dist.T) / 2.0
    np.fill_diagonal(dist, 0.0)
    dist = np.clip(dist, 0.0, None)
    z = linkage(squareform(dist, checks=False), method="average", optimal_ordering=True)
    return leaves_list(z), z


@_styled
def correlation_heatmap(
    features: pd.DataFrame,
    png_path,
    pdf_path,
    *,
    exclude: Sequence[str] = ("case_id", "set", "label", "center", "centre"),
    title: str | None = "Spearman correlation of selected features (training set)",
    max_labels: int = 80,
) -> None:
    """Hierarchically clustered Spearman correlation heat map (RdBu, fixed −1..1, centre 0).

    Only numeric columns are used; identifier/outcome columns named in ``exclude`` are
    dropped. Rows/columns are ordered by average-linkage clustering on 1 − |ρ| (a
    dendrogram is drawn on top). Constant features get ρ = 0 with the others. Tick labels
    use :func:`short_feature_name` and shrink with the number of features; above
    ``max_labels`` features the labels are left out.
    """
    data = features.drop(columns=[c for c in exclude if c in features.columns])
    data = data.select_dtypes(include=[np.number, "bool"]).astype(float)
    n = data.shape[1]
    if n == 0:
        save_figure(_message_figure("no numeric features to correlate", title=title), png_path, pdf_path)
        return
    corr = data.corr(method="spearman").to_numpy(dtype=float)
    corr = np.where(np.isfinite(corr), corr, 0.0)
    np.fill_diagonal(corr, 1.0)
    order, z = _cluster_order(corr)
    corr = corr[np.ix_(order, order)]
    names = short_feature_names([data.columns[i] for i in order], max_len=44)

    fs = _font_for_count(n)
    longest = max(len(s) for s in names) if n <= max_labels else 0
    label_in = longest * fs * 0.58 / 72.0  # rough width of the longest tick label
    side = float(np.clip(0.12 * n + 1.5, 1.8, 5.0))  # heat map edge, in inches
    width = float(np.clip(side + label_in + 0.9, SINGLE_COLUMN_IN, DOUBLE_COLUMN_IN))
    dendro_h = 0.45 if z is not None else 0.0
    height = side + label_in + dendro_h + 0.6
    if title:
        chars = max(20, int(width * 72 / (8.5 * 0.6)))
        if len(title) > chars and " (" in title:
            title = title.replace(" (", "\n(", 1)
        title = "\n".join(textwrap.fill(line, chars) for line in title.split("\n"))
        height += 0.15 * title.count("\n")
    fig = _new_figure(width, height)
    if z is not None:
        gs = fig.add_gridspec(2, 2, height_ratios=[dendro_h, side], width_ratios=[side, 0.12])
        ax_d = fig.add_subplot(gs[0, 0])
        ax = fig.add_subplot(gs[1, 0])
        cax = fig.add_subplot(gs[1, 1])
        from scipy.cluster.hierarchy import dendrogram

        dendrogram(z, ax=ax_d, no_labels=True, color_threshold=0, above_threshold_color="#555555")
        for coll in ax_d.collections:
            coll.set_linewidth(0.6)
        ax_d.set_xlim(0, 10 * n)
        ax_d.set_axis_off()
        if title:
            ax_d.set_title(title)
    else:
        gs = fig.add_gridspec(1, 2, width_ratios=[side, 0.12])
        ax = fig.add_subplot(gs[0, 0])
        cax = fig.add_subplot(gs[0, 1])
        if title:
            ax.set_title(title)

    im = ax.imshow(corr, cmap="RdBu_r", vmin=-1.0, vmax=1.0, aspect="auto", interpolation="nearest")
    if n <= max_labels:
        ax.set_xticks(np.arange(n), names, rotation=90, fontsize=fs)
        ax.set_yticks(np.arange(n), names, fontsize=fs)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"{n} features (labels omitted)")
    ax.tick_params(length=0, pad=1.5)
    cell_in = side / n
    ann_fs = min(7.0, 0.85 * cell_in * 72.0 / (5 * 0.62))  # "−0.00" must fit in a cell
    if ann_fs >= 4.5:  # few features: print ρ in the cells
        for i in range(n):
            for j in range(n):
                ax.text(
                    j, i, _fmt(corr[i, j]), ha="center", va="center", fontsize=ann_fs,
                    color="white" if abs(corr[i, j]) > 0.6 else "#222222",
                )
    for spine in ax.spines.values():
        spine.set_visible(False)
    cb = fig.colorbar(im, cax=cax)
    cb.set_label("Spearman ρ", fontsize=7.5)
    cb.set_ticks([-1, -0.5, 0, 0.5, 1], labels=["−1", "−0.5", "0", "0.5", "1"])
    cb.ax.tick_params(labelsize=6.5, length=2)
    cb.outline.set_linewidth(0.5)
    save_figure(fig, png_path, pdf_path)


# ---------------------------------------------------------------------------------------
# 5. Feature importances
# ---------------------------------------------------------------------------------------

_KIND_LABEL = {
    "coefficient": "Coefficient (change in log-odds)",
    "impurity": "Mean impurity decrease",
    "permutation": "Permutation importance (score drop)",
}


def _kind_of(frame: pd.DataFrame) -> str:
    if "kind" not in frame or frame["kind"].dropna().empty:
        return "none"
    return str(frame["kind"].dropna().iloc[0]).lower()


@_styled
def importance_figure(
    importances: Mapping[str, pd.DataFrame],
    png_path,
    pdf_path,
    *,
    top_n: int = 15,
    label_names: Sequence[str] | Mapping | None = None,
) -> None:
    """One horizontal bar panel per model with a non-empty importance table: the
    ``top_n`` features by |importance|, largest on top. Signed coefficients are coloured
    by sign (vermillion: raises the predicted probability of label 1; blue: lowers it;
    ``label_names`` names label 1 in the legend).
    Models with an empty table (or kind ``none``) are listed in a note under the panels;
    if no model has importances the figure says so."""
    usable: list[tuple[str, pd.DataFrame, str]] = []
    empty: list[str] = []
    for model, frame in importances.items():
        kind = _kind_of(frame) if frame is not None else "none"
        if frame is None or frame.empty or kind == "none":
            empty.append(str(model))
            continue
        f = frame.dropna(subset=["importance"]).copy()
        f["importance"] = f["importance"].astype(float)
        f = f.loc[f["importance"] != 0] if (f["importance"] != 0).any() else f
        if f.empty:
            empty.append(str(model))
            continue
        f["_abs"] = f["importance"].abs()
        f = f.sort_values(["_abs", "feature"], ascending=[False, True], kind="mergesort").head(top_n)
        usable.append((str(model), f, kind))

    if not usable:
        msg = "No importances for this model" if len(empty) <= 1 else "No importances for these models"
        if empty:
            msg += ":\n" + ", ".join(empty)
        save_figure(_message_figure(msg, title="Feature importance"), png_path, pdf_path)
        return

    ncols = 1 if len(usable) <= 2 else 2
    nrows = math.ceil(len(usable) / ncols)
    max_len = 44 if ncols == 1 else 36
    fs = 6.5
    all_feats = sorted({str(x) for _, f, _ in usable for x in f["feature"]})
    label_of = dict(zip(all_feats, short_feature_names(all_feats, max_len)))
    longest = max(len(label_of[str(x)]) for _, f, _ in usable for x in f["feature"])
    label_in = longest * fs * 0.58 / 72.0
    if ncols == 1:
        width = float(np.clip(label_in + 3.0, SINGLE_COLUMN_IN, DOUBLE_COLUMN_IN))
    else:
        width = DOUBLE_COLUMN_IN
    bars = [len(f) for _, f, _ in usable] + [0] * (nrows * ncols - len(usable))
    row_bars = [max(max(bars[r * ncols : (r + 1) * ncols]), 3) for r in range(nrows)]
    row_h = [0.16 * k + 0.75 for k in row_bars]
    legend_h = 0.3 + (0.15 if empty else 0.0)
    fig = _new_figure(width, sum(row_h) + legend_h)
    axes = np.atleast_1d(
        fig.subplots(nrows, ncols, squeeze=False, gridspec_kw={"height_ratios": row_h})
    ).ravel()

    signs = set()
    for ax, (model, f, kind) in zip(axes, usable):
        f = f.iloc[::-1]  # largest at the top
        y = np.arange(len(f))
        vals = f["importance"].to_numpy()
        if kind == "coefficient":
            colours = [LABEL_COLOURS[1] if v > 0 else LABEL_COLOURS[0] for v in vals]
            signs.update(np.sign(vals[vals != 0]).astype(int).tolist())
        else:
            colours = [PALETTE[2]] * len(vals)
        ax.barh(y, vals, height=0.7, color=colours, linewidth=0)
        ax.set_yticks(y, [label_of[str(x)] for x in f["feature"]], fontsize=fs)
        spare = max(0, 3 - len(f)) / 2.0  # keep bars thin when there are only 1–2 of them
        ax.set_ylim(-0.6 - spare, len(f) - 0.4 + spare)
        ax.axvline(0, color="#333333", lw=0.6)
        ax.set_xlabel(_KIND_LABEL.get(kind, f"{kind.capitalize()} importance"), fontsize=7)
        shown = f"top {len(f)}" if len(f) == top_n else f"{len(f)} feature" + ("s" if len(f) != 1 else "")
        ax.set_title(f"{model} ({shown})")
        ax.grid(True, axis="x")
        ax.tick_params(axis="y", length=0)
        if kind == "coefficient" and (vals < 0).any() and (vals > 0).any():
            lim = float(np.abs(vals).max()) * 1.08
            ax.set_xlim(-lim, lim)
        sns.despine(ax=ax, left=True)
    for ax in axes[len(usable):]:
        ax.set_axis_off()

    positive = _label_name(label_names, 1) if label_names is not None else "label 1"
    handles = []
    if 1 in signs:
        handles.append(Patch(color=LABEL_COLOURS[1], label=f"Positive: raises probability of {positive}"))
    if -1 in signs:
        handles.append(Patch(color=LABEL_COLOURS[0], label=f"Negative: lowers probability of {positive}"))
    if empty:
        note = "No importances for: " + ", ".join(empty)
        chars = int(width * 72 / (6.5 * 0.58))
        handles.append(Patch(color="none", label=textwrap.fill(note, chars)))
    if handles:
        fig.legend(
            handles=handles, loc="outside lower center",
            ncol=1 if width < 5 else min(len(handles), 2), handlelength=1.2,
        )
    save_figure(fig, png_path, pdf_path)


# ---------------------------------------------------------------------------------------
# 6. Evaluation figures: calibration, decision curve, confusion matrices, rad-score violins
# ---------------------------------------------------------------------------------------

__all__ += [
    "calibration_figure",
    "decision_curve_figure",
    "confusion_matrix_figure",
    "radscore_violin_figure",
]

from matplotlib.legend_handler import HandlerTuple  # noqa: E402

_MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
_SHORT_SET = {"train": "Training", "test": "Test", "external": "External validation"}
_IDEAL_KW = dict(color="#999999", lw=0.8, ls=(0, (4, 3)))


def _ordered_sets(values) -> list[str]:
    """Distinct set names: train, test, each external cohort, pooled external, then the others."""
    return ordered_sets(values)


def _short_set(set_name) -> str:
    name = str(set_name)
    if name.startswith("external_"):
        return f"External {name[len('external_'):]}"
    return _SHORT_SET.get(name, name[:1].upper() + name[1:])


def _fmt_na(x, digits: int = 2) -> str:
    """:func:`_fmt`, with ``"NA"`` for missing / non-finite values."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "NA"
    return _fmt(x, digits) if math.isfinite(x) else "NA"


def _p_text(p: float) -> str:
    if not math.isfinite(p):
        return "p = NA"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


def _save_snapped(fig: Figure, png_path, pdf_path, digits: int = 5) -> None:
    """:func:`save_figure` after running the constrained layout once and rounding every
    axes position to ``digits`` decimals of the figure size.

    The layout solver (kiwisolver) can land one ulp apart from run to run in figures with
    nested grids, which flips a few anti-aliased pixels; rounding the solved positions
    makes the output byte-identical regardless."""
    fig.draw_without_rendering()
    fig.set_layout_engine("none")
    for ax in fig.axes:
        box = ax.get_position(original=True).bounds
        ax.set_position([round(float(v), digits) for v in box], which="original")
        box = ax.get_position(original=False).bounds
        ax.set_position([round(float(v), digits) for v in box], which="active")
    save_figure(fig, png_path, pdf_path)


def _model_colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _usable(frame, columns) -> bool:
    return frame is not None and not frame.empty and all(c in frame.columns for c in columns)


# ---- calibration ----------------------------------------------------------------------

_CAL_BIN_COLS = ("mean_predicted", "observed")
_CAL_SMOOTH_COLS = ("predicted", "observed")


def _calibration_stats_row(stats: pd.DataFrame | None, model: str, set_name: str) -> dict:
    if stats is None or stats.empty or "model" not in stats:
        return {}
    sel = stats["model"].astype(str) == str(model)
    if "set" in stats:
        sel &= stats["set"].astype(str) == str(set_name)
    row = stats.loc[sel]
    return {} if row.empty else row.iloc[0].to_dict()


def _draw_calibration(ax, ax_n, curve, smooth, colour, marker, dodge: float) -> tuple[bool, int]:
    """Smoothed curve + band, binned points + Wilson CI on ``ax``; cases per group on
    ``ax_n``. Returns (anything drawn, number of cases in the binned curve)."""
    drawn, n_total = False, 0
    if _usable(smooth, _CAL_SMOOTH_COLS):
        s = smooth.sort_values("predicted", kind="mergesort")
        x = s["predicted"].to_numpy(dtype=float)
        if {"ci_low", "ci_high"} <= set(s.columns):
            lo = s["ci_low"].to_numpy(dtype=float)
            hi = s["ci_high"].to_numpy(dtype=float)
            ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(x)
            if ok.any():
                ax.fill_between(x, lo, hi, where=ok, color=colour, alpha=0.15, lw=0, zorder=2)
        ax.plot(x, s["observed"].to_numpy(dtype=float), color=colour, lw=1.2, zorder=4)
        drawn = True
    if _usable(curve, _CAL_BIN_COLS):
        c = curve.dropna(subset=list(_CAL_BIN_COLS))
        x = c["mean_predicted"].to_numpy(dtype=float)
        y = c["observed"].to_numpy(dtype=float)
        if {"ci_low", "ci_high"} <= set(c.columns):
            lo = np.nan_to_num(y - c["ci_low"].to_numpy(dtype=float)).clip(0)
            hi = np.nan_to_num(c["ci_high"].to_numpy(dtype=float) - y).clip(0)
            yerr = np.vstack([lo, hi])
        else:
            yerr = None
        ax.errorbar(
            x, y, yerr=yerr, fmt=marker, ms=3.2, mfc=colour, mec="white", mew=0.4,
            ecolor=colour, elinewidth=0.7, capsize=1.5, capthick=0.6, zorder=5, clip_on=False,
        )
        if "n" in c.columns and len(c):
            n = c["n"].to_numpy(dtype=float)
            n_total = int(np.nansum(n))
            ax_n.vlines(x + dodge, 0, n, color=colour, lw=1.0, zorder=3)
        drawn = drawn or len(c) > 0
    return drawn, n_total


def _calibration_axes_style(ax, ax_n, *, left: bool, bottom: bool) -> None:
    ax.plot([0, 1], [0, 1], zorder=1, **_IDEAL_KW)
    ticks = np.linspace(0, 1, 6)
    for a in (ax, ax_n):
        a.set_xlim(0, 1)
        a.set_xticks(ticks, [_fmt(t, 1) for t in ticks])
    ax.set_ylim(0, 1)
    ax.set_yticks(ticks, [_fmt(t, 1) for t in ticks])
    ax.grid(True)
    ax.tick_params(labelbottom=False)
    if left:
        ax.set_ylabel("Observed proportion of events")
        ax_n.set_ylabel("Cases", fontsize=6.5)
    if bottom:
        ax_n.set_xlabel("Predicted probability")
    # The largest group's case count (the data, not the autoscaled limit with its margin).
    top = max(ax_n.dataLim.ymax if ax_n.has_data() else 1.0, 1.0)
    ax_n.set_ylim(0, top * 1.08)
    ax_n.set_yticks([0, int(math.floor(top))] if top >= 2 else [0, 1])
    ax_n.tick_params(axis="y", labelsize=6)
    sns.despine(ax=ax)
    sns.despine(ax=ax_n)


def _calibration_guides() -> list[tuple[object, str]]:
    grey = "#555555"
    return [
        (Line2D([], [], **_IDEAL_KW), "Ideal calibration"),
        (
            Line2D([], [], color=grey, marker="o", ms=3.2, ls="none", mec="white", mew=0.4),
            "Risk groups: observed proportion (95% Wilson CI)",
        ),
        ((Patch(color=grey, alpha=0.2, lw=0), Line2D([], [], color=grey, lw=1.2)),
         "Lowess curve (95% bootstrap band)"),
        (Line2D([], [], color=grey, lw=1.0, marker="|", ms=0, ls="-"), "Lower strip: cases per risk group"),
    ]


@_styled
def calibration_figure(
    curves: Mapping[str, pd.DataFrame],
    smoothed: Mapping[str, pd.DataFrame],
    stats: pd.DataFrame | None,
    set_name: str,
    png_path,
    pdf_path,
    *,
    title: str | None = None,
) -> None:
    """Calibration plot of every model on one set.

    For each model: the binned calibration curve (``curves[model]``, columns ``bin, n,
    mean_predicted, observed, ci_low, ci_high`` as :func:`radsnake.calibration.calibration_curve`)
    drawn as points with Wilson 95 % CI error bars, and the lowess curve
    (``smoothed[model]``, columns ``predicted, observed, ci_low, ci_high`` as
    :func:`radsnake.calibration.smoothed_calibration`) with its shaded bootstrap band;
    the ideal diagonal; and, in a strip under the plot, the number of cases per risk
    group at its mean predicted probability (a coarse histogram of the predictions).
    Calibration intercept, slope and Brier score come from ``stats`` (rows with the
    same ``model`` and ``set``); missing or non-finite values read ``NA``.

    Up to three models share one panel (statistics in the legend); with more, one panel
    per model in a grid (statistics under each panel title).
    """
    models = list(dict.fromkeys([*map(str, curves or {}), *map(str, smoothed or {})]))
    curves = {str(k): v for k, v in (curves or {}).items()}
    smoothed = {str(k): v for k, v in (smoothed or {}).items()}
    if title is None:
        title = _set_title(set_name)
    if not models:
        save_figure(_message_figure("no models to show", title=title), png_path, pdf_path)
        return

    stat_rows = {m: _calibration_stats_row(stats, m, set_name) for m in models}
    any_na = False

    def stat_values(m):
        nonlocal any_na
        r = stat_rows[m]
        vals = (_fmt_na(r.get("intercept")), _fmt_na(r.get("slope")), _fmt_na(r.get("brier"), 3))
        any_na = any_na or "NA" in vals
        return vals

    guides = _calibration_guides()
    if len(models) <= 3:
        k = len(models)
        fig = _new_figure(SINGLE_COLUMN_IN, 3.95 + 0.125 * (k + len(guides)))
        gs = fig.add_gridspec(2, 1, height_ratios=[4.2, 0.8])
        ax = fig.add_subplot(gs[0])
        ax_n = fig.add_subplot(gs[1], sharex=ax)
        handles, labels, ns = [], [], set()
        for i, m in enumerate(models):
            colour, marker = _model_colour(i), _MARKERS[i % len(_MARKERS)]
            dodge = (i - (k - 1) / 2) * 0.009
            drawn, n = _draw_calibration(ax, ax_n, curves.get(m), smoothed.get(m), colour, marker, dodge)
            if n:
                ns.add(n)
            a, b, brier = stat_values(m)
            if drawn:
                handles.append(Line2D([], [], color=colour, marker=marker, ms=3.2, mec="white", mew=0.4, lw=1.2))
                labels.append(f"{m}: {a}, {b}, {brier}")
            else:
                handles.append(Line2D([], [], color="none"))
                labels.append(f"{m}: no calibration data")
        _calibration_axes_style(ax, ax_n, left=True, bottom=True)
        ax.set_title(title + (f" (n = {ns.pop()})" if len(ns) == 1 else ""))
        guide_items = guides + ([(Line2D([], [], color="none"), "NA: not estimable")] if any_na else [])
        spacer = [(Line2D([], [], color="none"), "")]
        items = list(zip(handles, labels)) + spacer + guide_items
        fig.set_size_inches(SINGLE_COLUMN_IN, 3.95 + 0.125 * len(items))
        fig.legend(
            [h for h, _ in items], [t for _, t in items], loc="outside lower center",
            title="Model: calibration intercept, slope, Brier score", alignment="left",
            handlelength=1.8, ncol=1, handler_map={tuple: HandlerTuple(ndivide=1)},
        )
        _save_snapped(fig, png_path, pdf_path)
        return

    k = len(models)
    ncols = 2 if k <= 6 else 3
    nrows = math.ceil(k / ncols)
    panel_h = 2.55 if ncols == 2 else 2.15
    fig = _new_figure(DOUBLE_COLUMN_IN, panel_h * nrows + 0.45 + (0.13 if ncols == 3 else 0.0))
    outer = fig.add_gridspec(nrows, ncols)
    for i, m in enumerate(models):
        r, c = divmod(i, ncols)
        inner = outer[r, c].subgridspec(2, 1, height_ratios=[4.2, 0.8], hspace=0.0)
        ax = fig.add_subplot(inner[0])
        ax_n = fig.add_subplot(inner[1], sharex=ax)
        colour, marker = _model_colour(i), _MARKERS[0]
        drawn, n = _draw_calibration(ax, ax_n, curves.get(m), smoothed.get(m), colour, marker, 0.0)
        last_in_column = i + ncols >= k
        _calibration_axes_style(ax, ax_n, left=c == 0, bottom=last_in_column)
        a, b, brier = stat_values(m)
        sep = "\n" if ncols == 3 else " · "
        head = f"{m}" + (f" (n = {n})" if n else "")
        ax.text(
            0.5, 1.0, f"Intercept {a} · Slope {b}{sep}Brier {brier}", transform=ax.transAxes,
            ha="center", va="bottom", fontsize=6.5, color="#333333",
        )
        ax.set_title(head, fontsize=8, pad=10 if ncols == 2 else 18)
        if not drawn:
            ax.text(0.5, 0.5, "no calibration data", ha="center", va="center", transform=ax.transAxes,
                    bbox=dict(facecolor="white", edgecolor="none", pad=1.5), zorder=6)
    fig.suptitle(title)
    guide_items = guides + ([(Line2D([], [], color="none"), "NA: not estimable")] if any_na else [])
    fig.legend(
        [h for h, _ in guide_items], [t for _, t in guide_items], loc="outside lower center",
        handlelength=1.8, ncol=3 if any_na else 2,
        handler_map={tuple: HandlerTuple(ndivide=1)},
    )
    _save_snapped(fig, png_path, pdf_path)


# ---- decision curve ---------------------------------------------------------------------

_DCA_COLS = ("threshold", "net_benefit")


def _prevalence_from_dca(frame: pd.DataFrame) -> float:
    """Event rate implied by the "treat all" curve: nb_all = prev − (1 − prev)·odds."""
    if "net_benefit_all" not in frame:
        return math.nan
    pt = frame["threshold"].to_numpy(dtype=float)
    nb = frame["net_benefit_all"].to_numpy(dtype=float)
    ok = np.isfinite(pt) & np.isfinite(nb) & (pt > 0) & (pt < 1)
    if not ok.any():
        return math.nan
    odds = pt[ok] / (1.0 - pt[ok])
    return float(np.median((nb[ok] + odds) / (1.0 + odds)))


@_styled
def decision_curve_figure(
    curves: Mapping[str, pd.DataFrame],
    set_name: str,
    png_path,
    pdf_path,
    *,
    title: str | None = None,
) -> None:
    """Decision curves (net benefit against threshold probability) of every model on
    one set, with the "Treat all" and "Treat none" reference strategies.

    ``curves[model]`` has columns ``threshold, net_benefit, net_benefit_all,
    net_benefit_none`` (:func:`radsnake.calibration.decision_curve`). The y axis runs
    from slightly below zero (−0.05, less when the event rate is small) to the largest
    event rate / net benefit plus a margin, so the steeply falling "Treat all" curve is
    clipped instead of squashing the model curves. Models without a curve (e.g. a set
    with one class) get a legend entry saying so.
    """
    if title is None:
        title = _set_title(set_name)
    fig = _new_figure(SINGLE_COLUMN_IN, SINGLE_COLUMN_IN)
    ax = fig.add_subplot()
    handles, labels = [], []
    reference = None
    prevs, tops, xs = [], [0.0], []
    for i, (model, frame) in enumerate((curves or {}).items()):
        if not _usable(frame, _DCA_COLS):
            handles.append(Line2D([], [], color="none"))
            labels.append(f"{model}: not estimable")
            continue
        f = frame.sort_values("threshold", kind="mergesort")
        x = f["threshold"].to_numpy(dtype=float)
        y = f["net_benefit"].to_numpy(dtype=float)
        xs.append(x[np.isfinite(x)])
        (ln,) = ax.plot(
            x, y, color=_model_colour(i), lw=1.3, zorder=4,
            ls=_LINESTYLES[(i // len(PALETTE)) % len(_LINESTYLES)] if i >= len(PALETTE) else "-",
        )
        handles.append(ln)
        labels.append(str(model))
        if np.isfinite(y).any():
            tops.append(float(np.nanmax(y)))
        prev = _prevalence_from_dca(f)
        if math.isfinite(prev):
            prevs.append(prev)
            if reference is None:
                reference = f
    ref_handles = []
    if reference is not None:
        x = reference["threshold"].to_numpy(dtype=float)
        (h_all,) = ax.plot(x, reference["net_benefit_all"].to_numpy(dtype=float), color="#8C8C8C",
                           lw=1.0, zorder=3, label="Treat all")
        ref_handles.append(h_all)
    if reference is not None or xs:
        h_none = ax.axhline(0.0, color="#000000", lw=0.9, ls=(0, (4, 2)), zorder=3, label="Treat none")
        ref_handles.append(h_none)
    if not xs and reference is None:
        ax.text(0.5, 0.5, "no decision curves\n(e.g. only one class in this set)", ha="center",
                va="center", transform=ax.transAxes)

    top = max([*prevs, *tops, 0.05])
    top = top + max(0.1 * top, 0.02)
    bottom = -min(0.05, 0.25 * top)
    ax.set_ylim(bottom, top)
    if xs:
        x_all = np.concatenate(xs)
        lo, hi = float(x_all.min()), float(x_all.max())
        ax.set_xlim(0.0 if lo <= 0.05 else lo, 1.0 if hi >= 0.95 else hi)
    else:
        ax.set_xlim(0, 1)
    ax.set_xlabel("Threshold probability")
    ax.set_ylabel("Net benefit")
    if len(prevs) and max(prevs) - min(prevs) < 1e-9:
        title += f" (event rate {_fmt(prevs[0] * 100, 0)}%)"
    ax.set_title(title)
    ax.grid(True)
    all_h, all_l = handles + ref_handles, labels + [h.get_label() for h in ref_handles]
    if len(all_h) > 6:
        fig.set_size_inches(SINGLE_COLUMN_IN, SINGLE_COLUMN_IN + 0.12 * math.ceil(len(all_h) / 2))
        fig.legend(all_h, all_l, loc="outside lower center", ncol=2, handlelength=2.0)
    elif all_h:
        leg = ax.legend(all_h, all_l, loc="upper right", handlelength=2.0, frameon=True, framealpha=0.85,
                        facecolor="white", edgecolor="none", borderaxespad=0.3)
        leg.set_zorder(10)
    sns.despine(ax=ax)
    _save_snapped(fig, png_path, pdf_path)


# ---- confusion matrices -----------------------------------------------------------------


def _count(v) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan


@_styled
def confusion_matrix_figure(
    matrices: pd.DataFrame,
    png_path,
    pdf_path,
    *,
    label_names: Sequence[str] | Mapping | None = None,
    title: str | None = None,
) -> None:
    """Grid of 2×2 confusion matrices: one row per model, one column per set.

    ``matrices`` has columns ``model, set, tp, fp, tn, fn`` (as
    :func:`radsnake.stats.threshold_metrics`). Rows of each matrix are the true class,
    columns the predicted class (label 0 first). Each cell shows the count and the row
    percentage (so the diagonal cells are specificity and sensitivity); the shading is
    the row percentage on one shared 0–100 % scale. ``label_names`` names labels 0 / 1.
    A model × set combination that is absent or has no cases is marked as such.
    """
    need = ["model", "set", "tp", "fp", "tn", "fn"]
    if matrices is None or matrices.empty or not set(need) <= set(matrices.columns):
        save_figure(_message_figure("no confusion matrices", title=title or "Confusion matrices"),
                    png_path, pdf_path)
        return
    models = list(dict.fromkeys(matrices["model"].astype(str)))
    sets = _ordered_sets(matrices["set"])
    nrows, ncols = len(models), len(sets)
    names = [_label_name(label_names, 0), _label_name(label_names, 1)]
    if label_names is None:
        names = ["Negative (0)", "Positive (1)"]
    names = [textwrap.fill(n, 12) for n in names]
    width = float(np.clip(1.65 * ncols + 1.0, SINGLE_COLUMN_IN, DOUBLE_COLUMN_IN))
    fig = _new_figure(width, 1.55 * nrows + 0.55 + (0.2 if title else 0.0))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    cmap = matplotlib.colormaps["Blues"]
    norm = matplotlib.colors.Normalize(0.0, 100.0)
    im = None
    for r, model in enumerate(models):
        for c, set_name in enumerate(sets):
            ax = axes[r, c]
            rows = matrices.loc[(matrices["model"].astype(str) == model)
                                & (matrices["set"].astype(str) == set_name)]
            counts = None
            if not rows.empty:
                row = rows.iloc[0]
                counts = np.array([[_count(row["tn"]), _count(row["fp"])],
                                   [_count(row["fn"]), _count(row["tp"])]])
            complete = counts is not None and bool(np.isfinite(counts).all())
            total = float(counts.sum()) if complete else 0.0
            ax.set_title(f"{textwrap.shorten(model, 34, placeholder='…')}\n{_short_set(set_name)}"
                         + (f" (n = {int(total)})" if total else ""), fontsize=7.5)
            if not complete or total == 0:
                ax.set_xticks([])
                ax.set_yticks([])
                for sp in ax.spines.values():
                    sp.set_color("#CCCCCC")
                msg = "not available" if not complete else "no cases"
                ax.text(0.5, 0.5, msg, ha="center", va="center", transform=ax.transAxes, color="#666666")
                ax.set_aspect("equal")
                continue
            row_tot = counts.sum(axis=1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                pct = np.where(row_tot > 0, 100.0 * counts / row_tot, np.nan)
            im = ax.imshow(np.nan_to_num(pct, nan=0.0), cmap=cmap, norm=norm, interpolation="nearest")
            for i in range(2):
                for j in range(2):
                    pc = pct[i, j]
                    txt = f"{int(counts[i, j])}\n" + (f"({_fmt(pc, 1)}%)" if np.isfinite(pc) else "(–)")
                    ax.text(j, i, txt, ha="center", va="center", fontsize=7, linespacing=1.15,
                            color="white" if np.isfinite(pc) and pc > 60 else "#1A1A1A")
            ax.set_xticks([0, 1], names if r == nrows - 1 else ["", ""], fontsize=6.5)
            ax.set_yticks([0, 1], names if c == 0 else ["", ""], fontsize=6.5,
                          rotation=90, va="center")
            ax.tick_params(length=0, pad=2)
            for sp in ax.spines.values():
                sp.set_visible(False)
            if r == nrows - 1:
                ax.set_xlabel("Predicted class", fontsize=7)
            if c == 0:
                ax.set_ylabel("True class", fontsize=7)
    if im is None:
        im = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
    cb = fig.colorbar(im, ax=axes, location="right", shrink=min(1.0, 1.6 / (1.55 * nrows) + 0.3),
                      aspect=15, pad=0.06)
    cb.set_label("Row percentage (%)", fontsize=7)
    cb.set_ticks([0, 25, 50, 75, 100])
    cb.ax.tick_params(labelsize=6.5, length=2)
    cb.outline.set_linewidth(0.5)
    if title:
        fig.suptitle(title)
    _save_snapped(fig, png_path, pdf_path)


# ---- rad-score violins ------------------------------------------------------------------


def _violin_bracket(ax, x0, x1, y, h, text) -> None:
    ax.plot([x0, x0, x1, x1], [y, y + h, y + h, y], color="#333333", lw=0.7, clip_on=False)
    ax.text((x0 + x1) / 2, y + 1.3 * h, text, ha="center", va="bottom", fontsize=6.5)


@_styled
def radscore_violin_figure(
    radscore: pd.DataFrame,
    png_path,
    pdf_path,
    label_names: Sequence[str] | Mapping | None = None,
    *,
    seed: int = 0, mark: str = "",
) -> None:
    """Rad-score distribution by true label, one panel per set (train, test, external,
    then any other set), on a shared y axis.

    Each label gets a violin (Gaussian KDE, Scott's bandwidth, cut at the data range;
    left out below 3 cases or for constant values), a narrow box plot (median, IQR,
    whiskers 1.5 IQR) and every case as a jittered point (jitter from
    ``numpy.random.default_rng(seed)``, cases ordered by ``case_id``, so the figure is
    reproducible). A bracket gives the two-sided Mann–Whitney U test p-value
    (``scipy.stats.mannwhitneyu``, ``method="asymptotic"``); a set with one class says
    that no test is possible. ``label_names`` maps 0/1 to names.
    """
    from scipy.stats import mannwhitneyu

    data = radscore.copy() if radscore is not None else pd.DataFrame()
    need = {"set", "label", "radscore"}
    if not data.empty and need <= set(data.columns):
        data["radscore"] = pd.to_numeric(data["radscore"], errors="coerce")
        data["label"] = pd.to_numeric(data["label"], errors="coerce")
        data = data.loc[np.isfinite(data["radscore"]) & data["label"].isin([0, 1])]
    if data.empty or not need <= set(data.columns):
        save_figure(_message_figure("no rad-scores to show", title="Rad-score by class"), png_path, pdf_path)
        return
    data["label"] = data["label"].astype(int)
    sort_cols = ["case_id"] if "case_id" in data.columns else []
    if sort_cols:
        data["case_id"] = data["case_id"].astype(str)
        data = data.sort_values(sort_cols, kind="mergesort")
    sets = _ordered_sets(data["set"])
    k = len(sets)
    width = SINGLE_COLUMN_IN if k == 1 else float(min(DOUBLE_COLUMN_IN, 2.35 * k + 0.3))
    fig = _new_figure(width, 2.9)
    axes = np.atleast_1d(fig.subplots(1, k, sharey=True, squeeze=False).ravel())

    vals = data["radscore"].to_numpy(dtype=float)
    span = float(vals.max() - vals.min()) or 1.0
    y_min = float(vals.min()) - 0.06 * span
    y_top = float(vals.max()) + 0.22 * span  # room for the bracket and p-value
    for ax, set_name in zip(axes, sets):
        sub = data.loc[data["set"].astype(str) == set_name]
        rng = np.random.default_rng(seed)
        groups = [sub.loc[sub["label"] == v, "radscore"].to_numpy(dtype=float) for v in (0, 1)]
        for v, g in enumerate(groups):
            colour = LABEL_COLOURS[v]
            if g.size >= 3 and np.ptp(g) > 0:
                parts = ax.violinplot([g], positions=[v], widths=0.75, showextrema=False, points=200)
                for body in parts["bodies"]:
                    body.set_facecolor(colour)
                    body.set_edgecolor(colour)
                    body.set_alpha(0.22)
                    body.set_linewidth(0.6)
            if g.size:
                ax.boxplot(
                    [g], positions=[v], widths=0.18, showfliers=False, patch_artist=True,
                    boxprops=dict(facecolor="white", edgecolor="#222222", lw=0.8),
                    medianprops=dict(color="#222222", lw=1.2),
                    whiskerprops=dict(color="#222222", lw=0.8), capprops=dict(color="#222222", lw=0.8),
                    zorder=3,
                )
                jitter = rng.uniform(-0.13, 0.13, g.size)
                ax.scatter(v + jitter, g, s=5, color=colour, alpha=0.75, lw=0, zorder=4)
        ticks = [f"{textwrap.fill(_label_name(label_names, v), 14)}\n(n = {g.size})"
                 for v, g in enumerate(groups)]
        ax.set_xticks([0, 1], ticks)
        ax.set_xlim(-0.6, 1.6)
        ax.set_title(f"{_short_set(set_name)} (n = {len(sub)})")
        top = float(sub["radscore"].max())
        if groups[0].size and groups[1].size:
            p = float(mannwhitneyu(groups[0], groups[1], alternative="two-sided",
                                   method="asymptotic").pvalue)
            _violin_bracket(ax, 0, 1, top + 0.05 * span, 0.03 * span, f"Mann–Whitney U, {_p_text(p)}")
        else:
            ax.text(0.5, top + 0.06 * span, "One class only:\nno test", ha="center", va="bottom",
                    fontsize=6.5, color="#444444", transform=ax.transData)
        ax.grid(True, axis="y")
        ax.tick_params(axis="x", length=0)
        sns.despine(ax=ax)
    axes[0].set_ylim(y_min, y_top)
    axes[0].set_ylabel(f"Rad-score{mark}")
    for ax in axes[1:]:
        ax.tick_params(axis="y", labelleft=False)
    _save_snapped(fig, png_path, pdf_path)
