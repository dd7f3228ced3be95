"""Feature robustness: ICC of every feature across repeated or perturbed segmentations.

Three parts, described for users in docs/robustness.md:

* the ICC maths (:func:`icc`): ICC(3,1) and ICC(2,1) with their F-based 95 % CIs, as
  R psych's ``ICC(x, lmer = FALSE)`` computes them (Shrout & Fleiss 1979; McGraw &
  Wong 1996), vectorised over features;
* the mask perturbations (:func:`perturb_roi`, :func:`perturb_mask`): one-voxel
  in-plane erosion and dilation and one-voxel in-plane translations, applied by the
  real extraction job (radsnake.jobs.inputs.extract_inputs) to the case's mask;
* the planning at parse time (:func:`plan`) and the ICC job (:func:`write_icc`), which
  uses training cases only and decides which features the ICC filter keeps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from radsnake.core.errors import InputError
from radsnake.cohort.split import KEPT_CSV, case_uniform, predict_sets

log = logging.getLogger(__name__)

#: Automatic mask perturbations, by name (a path part of their feature files).
PERTURBATIONS = ("erode", "dilate", "translate_x", "translate_y")
#: The rater name of a case's second segmentation (sheet column mask_repeat).
REPEAT = "repeat"
#: The rater name of the case's own extraction (results/features/{case}.csv).
ORIGINAL = "original"
ICC_TYPES = ("icc2_1", "icc3_1")
ICC_COLUMNS = [
    "feature",
    "icc3_1",
    "icc3_1_ci_low",
    "icc3_1_ci_high",
    "icc3_1_ci_reason",
    "icc2_1",
    "icc2_1_ci_low",
    "icc2_1_ci_high",
    "icc2_1_ci_reason",
    "n_cases",
    "n_raters",
    "kept",
]
CASE_COLUMNS = ["case_id", "set", "raters", "used", "reason"]
# Fewer cases than this give an ICC whose CI spans almost everything.
MIN_CASES = 3


# ---------------------------------------------------------------------------------------
# ICC
# ---------------------------------------------------------------------------------------


def icc(ratings, alpha: float = 0.05) -> dict[str, np.ndarray]:
    """ICC(3,1) and ICC(2,1) with (1 - alpha) CIs per feature.

    ``ratings`` is n_cases x k_raters (one feature) or n_cases x k_raters x n_features.
    Returns arrays of length n_features (scalars' arrays of length 1 for a matrix):
    ``icc3_1``, ``icc3_1_ci_low``, ``icc3_1_ci_high``, ``icc2_1``, ``icc2_1_ci_low``,
    ``icc2_1_ci_high``.

    The formulas are those of R psych::ICC with ``lmer = FALSE`` (the two-way ANOVA
    mean squares; psych's default lme4 fit gives the same mean squares on complete
    data up to its optimiser's tolerance, and truncates negative variance components):

    * ICC(3,1) = (MSB - MSE) / (MSB + (k-1) MSE), CI from F = MSB/MSE with
      F_L = F / qf(1-alpha/2, n-1, (n-1)(k-1)), F_U = F * qf(1-alpha/2, (n-1)(k-1), n-1),
      bounds (F_x - 1) / (F_x + k - 1);
    * ICC(2,1) = (MSB - MSE) / (MSB + (k-1) MSE + k (MSJ - MSE) / n), CI with
      Satterthwaite's degrees of freedom v (McGraw & Wong 1996, psych's code).

    A feature with a non-finite rating, or with neither between-case nor within-case
    variation (0/0), gets NaN everywhere. With no within-case variation at all
    (MSE = 0, perfect agreement up to rater offsets) the limits are returned: the
    ICC(3,1) bounds are 1, and v is taken at its limit k - 1; this is what R returns
    there, where its residual mean square is a rounding error instead of 0.
    """
    from scipy.stats import f as f_dist

    x = np.asarray(ratings, dtype=float)
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise ValueError("ratings must be n_cases x k_raters (x n_features)")
    n, k, _ = x.shape
    if n < 2 or k < 2:
        raise ValueError(f"ICC needs at least 2 cases and 2 raters, got {n} x {k}")
    finite = np.isfinite(x).all(axis=(0, 1))
    x = np.where(finite[None, None, :], x, 0.0)

    grand = x.mean(axis=(0, 1))
    case_means = x.mean(axis=1)
    rater_means = x.mean(axis=0)
    ss_cases = k * ((case_means - grand) ** 2).sum(axis=0)
    ss_raters = n * ((rater_means - grand) ** 2).sum(axis=0)
    residual = x - case_means[:, None, :] - rater_means[None, :, :] + grand
    ss_error = (residual**2).sum(axis=(0, 1))
    df_b, df_j, df_e = n - 1, k - 1, (n - 1) * (k - 1)
    msb, msj, mse = ss_cases / df_b, ss_raters / df_j, ss_error / df_e

    with np.errstate(divide="ignore", invalid="ignore"):
        icc3 = (msb - mse) / (msb + (k - 1) * mse)
        icc2 = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)

        perfect = mse == 0
        f_stat = msb / mse
        f_low = f_stat / f_dist.ppf(1 - alpha / 2, df_b, df_e)
        f_high = f_stat * f_dist.ppf(1 - alpha / 2, df_e, df_b)
        icc3_low = np.where(perfect, 1.0, (f_low - 1) / (f_low + k - 1))
        icc3_high = np.where(perfect, 1.0, (f_high - 1) / (f_high + k - 1))

        fj = msj / mse
        vn = (k - 1) * (n - 1) * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
        vd = (n - 1) * k**2 * icc2**2 * fj**2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
        v = np.where(perfect, float(k - 1), vn / vd)
        f_u = f_dist.ppf(1 - alpha / 2, n - 1, v)
        f_l = f_dist.ppf(1 - alpha / 2, v, n - 1)
        denominator = k * msj + (k * n - k - n) * mse
        icc2_low = n * (msb - f_u * mse) / (f_u * denominator + n * msb)
        icc2_high = n * (f_l * msb - mse) / (denominator + n * f_l * msb)

    out = {
        "icc3_1": icc3,
        "icc3_1_ci_low": icc3_low,
        "icc3_1_ci_high": icc3_high,
        "icc2_1": icc2,
        "icc2_1_ci_low": icc2_low,
        "icc2_1_ci_high": icc2_high,
    }
    undefined = ~finite | ((msb == 0) & (mse == 0))
    return {name: np.where(undefined, np.nan, np.asarray(values, dtype=float)) for name, values in out.items()}


# ---------------------------------------------------------------------------------------
# Mask perturbations
# ---------------------------------------------------------------------------------------


class PerturbationSkipped(Exception):
    """A perturbation leaves no usable ROI; the job records the skip instead of features."""


# In-plane only: slices are usually much thicker than pixels, and readers draw per slice.
_IN_PLANE_CROSS = np.array([[[0, 1, 0], [1, 1, 1], [0, 1, 0]]], dtype=bool)


def perturb_roi(roi: np.ndarray, perturbation: str) -> np.ndarray:
    """The ROI (boolean, numpy z, y, x order as SimpleITK gives it) after one perturbation.

    erode / dilate: by one voxel in-plane (4-connected cross, slice by slice);
    translate_x / translate_y: shifted by one voxel towards +x / +y, voxels pushed off the
    grid are lost and nothing wraps round. Deterministic; may return an empty ROI (the
    caller decides).
    """
    from scipy import ndimage

    roi = np.asarray(roi, dtype=bool)
    if roi.ndim != 3:
        raise ValueError(f"the ROI must be 3D, got {roi.ndim}D")
    if perturbation == "erode":
        # border_value=0: a ROI touching the grid's edge loses its edge voxels too.
        return ndimage.binary_erosion(roi, structure=_IN_PLANE_CROSS, border_value=0)
    if perturbation == "dilate":
        return ndimage.binary_dilation(roi, structure=_IN_PLANE_CROSS)
    if perturbation in ("translate_x", "translate_y"):
        axis = 2 if perturbation == "translate_x" else 1
        shifted = np.zeros_like(roi)
        source = [slice(None)] * 3
        target = [slice(None)] * 3
        source[axis], target[axis] = slice(0, -1), slice(1, None)
        shifted[tuple(target)] = roi[tuple(source)]
        return shifted
    raise ValueError(f"unknown perturbation {perturbation!r}; known: {', '.join(PERTURBATIONS)}")


def perturb_mask(mask, label: int, perturbation: str, case_id: str):
    """The case's mask (SimpleITK label image) with its ROI perturbed: the ROI voxels get
    ``label``, everything else 0, on the same grid. Raises PerturbationSkipped when the
    perturbed ROI is empty."""
    import SimpleITK as sitk

    values = sitk.GetArrayFromImage(mask)
    roi = values == label
    perturbed = perturb_roi(roi, perturbation)
    if not perturbed.any():
        raise PerturbationSkipped(
            f"case {case_id}: perturbation {perturbation} leaves no ROI voxel (the ROI has "
            f"{int(roi.sum())} voxel(s)); the case is left out of the ICC"
        )
    out = sitk.GetImageFromArray(np.where(perturbed, label, 0).astype(values.dtype))
    out.CopyInformation(mask)
    log.info("case %s: %s: ROI %d -> %d voxels", case_id, perturbation, int(roi.sum()), int(perturbed.sum()))
    return out


# ---------------------------------------------------------------------------------------
# Planning (parse time)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Which cases get robustness jobs, and which raters they have besides the original."""

    source: str  # "repeat" or "perturbation"
    cases: tuple[str, ...]
    raters: tuple[str, ...]
    note: str


def case_order(seed: int, case_id: str) -> float:
    """The deterministic draw that orders candidate cases (stable when cases are added)."""
    return case_uniform(seed + 1, f"robustness\x1f{case_id}")


def planned_training_cases(
    cohort: pd.DataFrame, split: dict, seed: int, case_cohorts: dict[str, str] | None = None, kept_csv: str = ""
) -> list[str]:
    """The cases the split will put in the training set, known from the sheet and the kept
    split alone (planned_sets), so that the robustness jobs can be planned before any job
    runs. The ICC job still reads results/split.csv and uses training cases only."""
    sets = planned_sets(cohort, split, seed, case_cohorts, kept_csv)
    return sets.index[sets == "train"].tolist()


def planned_sets(
    cohort: pd.DataFrame, split: dict, seed: int, case_cohorts: dict[str, str] | None = None, kept_csv: str = ""
) -> pd.Series:
    """Each case's set (train, test, external...) as the split job will assign it, by case
    id, known from the sheet and the kept split alone (radsnake.cohort.split.predict_sets).

    The robustness jobs are planned with it, and the clinical values are checked per set
    at sheet validation (radsnake.io.clinical_data)."""
    if cohort.empty:
        return pd.Series(dtype=str)
    sets = predict_sets(cohort, split, seed, case_cohorts, kept_csv or KEPT_CSV)
    return sets.set_index("case_id")["set"]


def plan(
    candidates: list[str],
    repeat_cases: set[str],
    source: str,
    perturbations: list[str],
    max_cases: int,
    min_repeat_cases: int,
    seed: int,
) -> Plan:
    """Robustness jobs for the planned training cases ``candidates``.

    source ``auto``: the repeat segmentations when at least ``min_repeat_cases``
    candidates have one (then only those cases are used, original vs repeat), else the
    automatic perturbations; ``repeat`` / ``perturbation`` force one. Up to
    ``max_cases`` cases are used, the first by a hash of (seed, case id), so adding
    patients changes at most a few of them.
    """
    unknown = sorted(set(perturbations) - set(PERTURBATIONS))
    if unknown:
        raise InputError(
            f"robustness.perturbations has unknown name(s) {unknown}; choose from {list(PERTURBATIONS)}."
        )
    with_repeat = [case for case in candidates if case in repeat_cases]
    if source == "auto":
        source = "repeat" if len(with_repeat) >= min_repeat_cases else "perturbation"
    if source == "repeat":
        if len(with_repeat) < MIN_CASES:
            raise InputError(
                f"robustness.source is repeat, but only {len(with_repeat)} planned training case(s) have "
                f"a mask_repeat in the cohort sheet; the ICC needs at least {MIN_CASES}. Add repeat "
                "segmentations or set robustness.source to auto or perturbation."
            )
        pool, raters = with_repeat, (REPEAT,)
    else:
        if not perturbations:
            raise InputError("robustness.perturbations is empty; name at least one perturbation.")
        pool, raters = list(candidates), tuple(perturbations)
    chosen = sorted(pool, key=lambda case: (case_order(seed, case), case))[:max_cases]
    note = (
        f"robustness: {source}, {len(chosen)} of {len(pool)} planned training case(s), "
        f"raters {', '.join((ORIGINAL, *raters))}"
    )
    if source == "perturbation" and with_repeat:
        note += f" ({len(with_repeat)} case(s) with mask_repeat not used: fewer than robustness.min_repeat_cases)"
    return Plan(source, tuple(sorted(chosen)), raters, note)


# ---------------------------------------------------------------------------------------
# The ICC job
# ---------------------------------------------------------------------------------------


def icc_reason(estimate: float, low: float, high: float, finite: bool) -> str:
    """Why an ICC's interval is missing or has no width, '' when it is a real interval."""
    if not np.isfinite(estimate):
        if not finite:
            return "ICC undefined: a rating of this feature is missing or not finite"
        return "ICC undefined: the feature has the same value in every case and rating (0/0)"
    if not (np.isfinite(low) and np.isfinite(high)):
        return "ICC interval undefined (its F quantile is not finite)"
    if low != high:
        return ""
    if low == 1.0:
        return ("perfect agreement: no within-case variation (residual mean square 0), so the interval "
                "collapses at 1 (R's psych::ICC gives 1 up to rounding)")
    return "the ICC interval has no width"


def removed_features(icc_csv: str, features: list[str]) -> list[str]:
    """The features the ICC filter removes, in ``features`` order; InputError if the ICC
    table does not cover them all (it was made from other features)."""
    table = pd.read_csv(icc_csv, usecols=["feature", "kept"], dtype={"feature": str})
    kept = dict(zip(table["feature"], table["kept"].astype(str) == "True"))
    missing = [f for f in features if f not in kept]
    if missing:
        raise InputError(
            f"{icc_csv} has no ICC for feature(s) {missing[:10]}: it was computed from other features. "
            "Rerun the robustness rules (snakemake --forcerun robustness_icc)."
        )
    return [f for f in features if not kept[f]]


# ---------------------------------------------------------------------------------------
# Figure
# ---------------------------------------------------------------------------------------
