"""Figures of the fitted models: ROC, LASSO path, rad-score waterfall, feature correlation
and importance (house style of radsnake.figures.style)."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from radsnake.figures.style import (
    DOUBLE_COLUMN_IN,
    LABEL_COLOURS,
    LINESTYLES,
    PALETTE,
    SINGLE_COLUMN_IN,
    format_number,
    label_name,
    message_figure,
    new_figure,
    roc_curve_points,
    save_figure,
    short_feature_names,
    styled,
    title_of_set,
)
from radsnake.stats.intervals import legend_interval


def _font_for_count(n: int, largest: float = 7.0, smallest: float = 4.5) -> float:
    """Tick-label font size that shrinks as the number of labels grows."""
    if n <= 12:
        return largest
    return float(max(smallest, largest - (n - 12) * (largest - smallest) / 28.0))


@styled
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
    fig = new_figure(SINGLE_COLUMN_IN, SINGLE_COLUMN_IN + 0.15)
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
        text = f"{model}: AUC {format_number(auc)}"
        if metrics is not None and not metrics.empty:
            row = metrics.loc[
                (metrics["model"].astype(str) == str(model))
                & (metrics["set"].astype(str) == str(set_name))
            ]
            if not row.empty:
                r = row.iloc[0]
                if pd.notna(r.get("auc")):
                    text = f"{model}: AUC {format_number(float(r['auc']))}"
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
            ls=LINESTYLES[(i // len(PALETTE)) % len(LINESTYLES)] if i >= len(PALETTE) else "-",
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
    ax.set_xticks(ticks, [format_number(t, 1) for t in ticks])
    ax.set_yticks(ticks, [format_number(t, 1) for t in ticks])
    ax.set_xlabel("1 − Specificity (false-positive rate)")
    ax.set_ylabel("Sensitivity (true-positive rate)")
    if title is None:
        title = title_of_set(set_name)
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


@styled
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
    fig = new_figure(DOUBLE_COLUMN_IN, 3.6)
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
        label = f"λ$_{{\\mathrm{{{sub}}}}}$ = {lam:.3g}, log λ = {format_number(math.log(lam))}{mark}"
        vlines.append((math.log(lam), ls, label))
    if lam_chosen is not None and lam_chosen not in (lam_min, lam_1se):  # n_features: k picks its own
        vlines.append((math.log(lam_chosen), (0, (6, 1.5, 1, 1.5)),
                       f"λ = {lam_chosen:.3g}, log λ = {format_number(math.log(lam_chosen))}{used_mark}"))

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
                ls=LINESTYLES[(j // len(PALETTE)) % len(LINESTYLES)],
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


@styled
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
        title = f"{title_of_set(set_name)} (n = {len(sub)}){mark}"
    if sub.empty:
        fig = message_figure("no patients in this set", title=title)
        save_figure(fig, png_path, pdf_path)
        return
    sub = sub.sort_values(["radscore", "case_id"], ascending=[False, True], kind="mergesort")
    values = sub["radscore"].to_numpy(dtype=float)
    labels = pd.to_numeric(sub["label"], errors="coerce").fillna(-1).astype(int).to_numpy()
    colours = [LABEL_COLOURS[v] if v in (0, 1) else "#999999" for v in labels]

    fig = new_figure(width, 2.7)
    ax = fig.add_subplot()
    x = np.arange(len(values))
    ax.bar(x, values, width=0.85 if len(values) < 60 else 1.0, color=colours, linewidth=0)
    ax.axhline(0, color="#333333", lw=0.6)
    handles = []
    for v in (0, 1):
        if (labels == v).any():
            handles.append(Patch(color=LABEL_COLOURS[v], label=f"{label_name(label_names, v)} (n = {(labels == v).sum()})"))
    if (~np.isin(labels, [0, 1])).any():
        handles.append(Patch(color="#999999", label="Label missing"))
    if cutoff is not None and np.isfinite(cutoff):
        handles.append(
            ax.axhline(cutoff, color="#000000", lw=0.9, ls=(0, (4, 2)), label=f"Cut-off = {format_number(cutoff)}")
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


@styled
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
        save_figure(message_figure("no numeric features to correlate", title=title), png_path, pdf_path)
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
    fig = new_figure(width, height)
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
                    j, i, format_number(corr[i, j]), ha="center", va="center", fontsize=ann_fs,
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


_KIND_LABEL = {
    "coefficient": "Coefficient (change in log-odds)",
    "impurity": "Mean impurity decrease",
    "permutation": "Permutation importance (score drop)",
}


def _kind_of(frame: pd.DataFrame) -> str:
    if "kind" not in frame or frame["kind"].dropna().empty:
        return "none"
    return str(frame["kind"].dropna().iloc[0]).lower()


@styled
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
        save_figure(message_figure(msg, title="Feature importance"), png_path, pdf_path)
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
    fig = new_figure(width, sum(row_h) + legend_h)
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

    positive = label_name(label_names, 1) if label_names is not None else "label 1"
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
