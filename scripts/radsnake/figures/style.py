"""The house style of every figure, and what the figure modules share: sizes, palette,
deterministic saving, short feature names, number formats.

Every public plotting function (radsnake.figures.model_figures, .evaluation_figures and
the other figure modules) takes plain DataFrames (as read from the workflow's CSV files)
plus a PNG and a PDF path, writes both files and returns ``None``.

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
import re
import sys
from collections.abc import Mapping
from pathlib import Path

import matplotlib

if "matplotlib.pyplot" not in sys.modules:  # headless rule scripts: never need a display
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after the backend choice)
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


__all__ = [
    "PALETTE",
    "LABEL_COLOURS",
    "short_feature_name",
    "short_feature_names",
    "save_figure",
    "roc_curve_points",
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
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 1))]

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


def styled(func):
    """Run a plotting function (figure creation *and* saving) inside the house style."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return func(*args, **kwargs)

    return wrapper


def new_figure(width: float, height: float) -> Figure:
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


def format_number(x: float, digits: int = 2) -> str:
    """Fixed decimals with a typographic minus and no "−0.00"."""
    x = round(float(x), digits) + 0.0
    return f"{x:.{digits}f}".replace("-", "−")


def label_name(label_names, value: int) -> str:
    if label_names is None:
        return f"Label {value}"
    if isinstance(label_names, Mapping):
        for key in (value, str(value)):
            if key in label_names:
                return str(label_names[key])
        return f"Label {value}"
    seq = list(label_names)
    return str(seq[value]) if 0 <= value < len(seq) else f"Label {value}"


def title_of_set(set_name: str) -> str:
    name = str(set_name)
    if name.startswith("external_"):
        return f"External cohort {name[len('external_'):]}"
    return {"train": "Training set", "test": "Test set", "external": "External validation set"}.get(
        name, f"{name} set"
    )


def message_figure(message: str, title: str | None = None, width=SINGLE_COLUMN_IN, height=2.0):
    fig = new_figure(width, height)
    ax = fig.add_subplot()
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, wrap=True)
    return fig


_SHORT_SET = {"train": "Training", "test": "Test", "external": "External validation"}


def short_set(set_name) -> str:
    name = str(set_name)
    if name.startswith("external_"):
        return f"External {name[len('external_'):]}"
    return _SHORT_SET.get(name, name[:1].upper() + name[1:])


def save_snapped(fig: Figure, png_path, pdf_path, digits: int = 5) -> None:
    """:func:`save_figure` after running the constrained layout once and rounding every
    axes position to ``digits`` decimals of the figure size.

    The layout solver (kiwisolver) can land one ulp apart from run to run in figures with
    nested grids, which flips a few anti-aliased pixels; rounding the solved positions
    makes the output byte-identical regardless. Only the layout engine runs here, not a
    whole draw: the PNG's draw would lay the figure out the same way (same bytes), and a
    draw costs about a tenth of a figure job."""
    engine = fig.get_layout_engine()
    if fig.axes and engine is not None:
        try:  # as Figure.draw runs it
            engine.execute(fig)
        except ValueError:
            pass
    fig.set_layout_engine("none")
    for ax in fig.axes:
        box = ax.get_position(original=True).bounds
        ax.set_position([round(float(v), digits) for v in box], which="original")
        box = ax.get_position(original=False).bounds
        ax.set_position([round(float(v), digits) for v in box], which="active")
    save_figure(fig, png_path, pdf_path)


