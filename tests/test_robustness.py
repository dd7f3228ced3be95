"""Feature robustness: the ICC maths against R psych::ICC, the mask perturbations, the
planning of robustness jobs, the ICC job and the ICC filter in load_design.

The R reference tests need R with psych (Debian/Ubuntu: r-base-core r-cran-psych).
Without Rscript they skip locally, but fail when the CI environment variable is set.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from conftest import r_unavailable
from radsnake.figures.icc_figure import icc_figure
from radsnake.imaging import robustness
from radsnake.jobs.robustness import write_icc
from radsnake.core.errors import InputError
from radsnake.ml.modelling import load_design

R_SCRIPT = Path(__file__).parent / "r" / "icc.R"
TOL = 1e-10
OUTPUTS = {"ICC3": "icc3_1", "ICC2": "icc2_1"}


def _datasets() -> dict[str, np.ndarray]:
    """n_cases x k_raters rating matrices."""
    rng = np.random.default_rng(20261129)
    out = {}
    out["random"] = rng.normal(size=(30, 3))
    truth = rng.normal(10, 3, size=20)
    biased = truth[:, None] + rng.normal(0, 1, size=(20, 3))
    biased[:, 1] += 2.5  # one rater reads systematically higher: hurts ICC(2,1), not ICC(3,1)
    out["one_rater_biased"] = biased
    out["near_perfect"] = rng.normal(size=25)[:, None] + rng.normal(0, 1e-3, size=(25, 4))
    out["perfect"] = np.repeat(np.arange(1.0, 8.0)[:, None], 3, axis=1)
    out["perfect_with_offset"] = np.arange(1.0, 8.0)[:, None] + np.array([0.0, 1.0, 0.0])
    out["small_n"] = np.array([[1.0, 1.4], [2.0, 2.9], [3.5, 3.0]])
    out["small_n_disagree"] = np.array([[1.0, 4.0], [5.0, 1.0], [3.0, 2.0], [2.0, 6.0]])
    out["many_raters"] = rng.normal(size=12)[:, None] * 2 + rng.normal(size=(12, 6))
    # Shrout & Fleiss (1979), table 2: 6 targets, 4 judges; ICC(2,1) 0.29, ICC(3,1) 0.71.
    out["shrout_fleiss"] = np.array(
        [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float
    )
    out["large_scale"] = 1e4 + 500 * rng.normal(size=15)[:, None] + 40 * rng.normal(size=(15, 5))
    return out


DATASETS = _datasets()


@pytest.fixture(scope="module")
def r_icc(tmp_path_factory):
    rscript = shutil.which("Rscript")
    if rscript is None:
        r_unavailable("Rscript not found on PATH", "r-base-core r-cran-psych")
    tmp = tmp_path_factory.mktemp("r_icc")
    rows = [
        {"dataset": name, "case": i + 1, "rater": j + 1, "value": float(x[i, j])}
        for name, x in DATASETS.items()
        for i in range(x.shape[0])
        for j in range(x.shape[1])
    ]
    pd.DataFrame(rows).to_csv(tmp / "input.csv", index=False, float_format="%.17g")
    proc = subprocess.run(
        [rscript, "--vanilla", str(R_SCRIPT), str(tmp / "input.csv"), str(tmp / "output.csv")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        if "there is no package called" in proc.stderr:
            r_unavailable("R package missing: " + proc.stderr.strip()[-200:], "r-base-core r-cran-psych")
        raise RuntimeError("icc.R failed:\n" + proc.stderr)
    table = pd.read_csv(tmp / "output.csv", dtype=str)
    return {(r.dataset, r.type): (float(r.icc), float(r.lower), float(r.upper)) for r in table.itertuples()}


def _close(py: float, r: float) -> bool:
    return abs(py - r) <= TOL * max(1.0, abs(r))


@pytest.mark.r_reference
@pytest.mark.parametrize("dataset", sorted(DATASETS))
@pytest.mark.parametrize("r_type", sorted(OUTPUTS))
def test_icc_matches_psych(r_icc, dataset, r_type):
    ours = robustness.icc(DATASETS[dataset])
    name = OUTPUTS[r_type]
    got = (ours[name][0], ours[f"{name}_ci_low"][0], ours[f"{name}_ci_high"][0])
    expected = r_icc[(dataset, r_type)]
    for what, py, r in zip(("icc", "lower", "upper"), got, expected):
        assert _close(py, r), f"{dataset} {r_type} {what}: radsnake {py!r}, psych {r!r}"


@pytest.mark.r_reference
def test_icc_vectorised_over_features_matches_psych(r_icc):
    """Data sets of one shape as the features of one call, as the workflow computes them."""
    shapes = {}
    for name, x in DATASETS.items():
        shapes.setdefault(x.shape, []).append(name)
    assert any(len(names) > 1 for names in shapes.values())
    for names in shapes.values():
        ours = robustness.icc(np.stack([DATASETS[n] for n in names], axis=2))
        for position, name in enumerate(names):
            for r_type, prefix in OUTPUTS.items():
                expected = r_icc[(name, r_type)]
                got = [ours[key][position] for key in (prefix, f"{prefix}_ci_low", f"{prefix}_ci_high")]
                assert all(_close(a, b) for a, b in zip(got, expected)), (name, r_type, got, expected)


def test_shrout_fleiss_published_values():
    result = robustness.icc(DATASETS["shrout_fleiss"])
    assert round(result["icc2_1"][0], 2) == 0.29
    assert round(result["icc3_1"][0], 2) == 0.71


def test_icc_vectorised_equals_one_feature_at_a_time():
    rng = np.random.default_rng(7)
    ratings = rng.normal(size=(20, 4, 1, 50)).cumsum(axis=3)[:, :, 0, :] + rng.normal(size=(20, 1, 50)) * 3
    together = robustness.icc(ratings)
    for feature in (0, 17, 49):
        alone = robustness.icc(ratings[:, :, feature])
        for name, values in together.items():
            assert values[feature] == pytest.approx(alone[name][0], rel=1e-12, abs=1e-12)


def test_bias_lowers_absolute_agreement_only():
    result = robustness.icc(DATASETS["one_rater_biased"])
    unbiased = DATASETS["one_rater_biased"].copy()
    unbiased[:, 1] -= 2.5
    plain = robustness.icc(unbiased)
    assert result["icc3_1"][0] == pytest.approx(plain["icc3_1"][0], abs=1e-12)
    assert result["icc2_1"][0] < plain["icc2_1"][0] - 0.05


def test_undefined_icc_is_nan():
    ratings = np.stack([np.ones((5, 3)), np.arange(15.0).reshape(5, 3), np.arange(15.0).reshape(5, 3)], axis=2)
    ratings[2, 1, 2] = np.nan
    result = robustness.icc(ratings)
    for values in result.values():
        assert math.isnan(values[0]) and math.isfinite(values[1]) and math.isnan(values[2])


def test_perfect_agreement_bounds_are_one():
    result = robustness.icc(DATASETS["perfect"])
    for name in ("icc3_1", "icc3_1_ci_low", "icc3_1_ci_high", "icc2_1", "icc2_1_ci_low", "icc2_1_ci_high"):
        assert result[name][0] == 1.0


# ---------------------------------------------------------------------------------------
# Perturbations
# ---------------------------------------------------------------------------------------


def _cube_roi():
    roi = np.zeros((5, 10, 10), dtype=bool)  # z, y, x
    roi[1:4, 2:7, 2:7] = True  # 3 slices of 5 x 5
    return roi


def test_erosion_is_one_voxel_in_plane():
    eroded = robustness.perturb_roi(_cube_roi(), "erode")
    assert eroded.sum() == 3 * 3 * 3
    assert eroded[1:4, 3:6, 3:6].all()  # every slice kept: no erosion across slices


def test_dilation_is_one_voxel_in_plane():
    dilated = robustness.perturb_roi(_cube_roi(), "dilate")
    assert dilated.sum() == 3 * (25 + 4 * 5)  # a cross: one voxel out of each side, no corners
    assert not dilated[0].any() and not dilated[4].any()
    assert dilated[2, 1, 4] and not dilated[2, 1, 1]


@pytest.mark.parametrize("name,axis", [("translate_x", 2), ("translate_y", 1)])
def test_translation_moves_one_voxel(name, axis):
    roi = _cube_roi()
    moved = robustness.perturb_roi(roi, name)
    assert moved.sum() == roi.sum()
    assert np.array_equal(moved, np.roll(roi, 1, axis=axis))


def test_translation_does_not_wrap_round():
    roi = np.zeros((3, 4, 4), dtype=bool)
    roi[1, 1:3, 2:4] = True  # touches the +x edge
    moved = robustness.perturb_roi(roi, "translate_x")
    assert moved.sum() == 2 and not moved[:, :, 0].any()


@pytest.mark.parametrize("name", robustness.PERTURBATIONS)
def test_perturbations_are_deterministic_and_change_the_roi(name):
    roi = _cube_roi()
    first, second = robustness.perturb_roi(roi, name), robustness.perturb_roi(roi.copy(), name)
    assert np.array_equal(first, second)
    assert not np.array_equal(first, roi)
    assert np.array_equal(roi, _cube_roi())  # input untouched


def test_perturb_mask_keeps_grid_and_label():
    values = np.where(_cube_roi(), 3, 0).astype(np.uint8)
    values[0, 0, 0] = 7  # another label: not part of the ROI
    mask = sitk.GetImageFromArray(values)
    mask.SetSpacing((0.8, 0.8, 2.5))
    mask.SetOrigin((-10.0, 4.0, 30.0))
    out = robustness.perturb_mask(mask, 3, "erode", "P1")
    assert out.GetSpacing() == mask.GetSpacing() and out.GetOrigin() == mask.GetOrigin()
    array = sitk.GetArrayFromImage(out)
    assert set(np.unique(array)) == {0, 3} and (array == 3).sum() == 27


def test_tiny_roi_erosion_is_a_recorded_skip():
    values = np.zeros((3, 5, 5), dtype=np.uint8)
    values[1, 2, 2:4] = 1  # two voxels: erosion leaves nothing
    with pytest.raises(robustness.PerturbationSkipped, match="case P9: perturbation erode leaves no ROI voxel"):
        robustness.perturb_mask(sitk.GetImageFromArray(values), 1, "erode", "P9")


def test_unknown_perturbation():
    with pytest.raises(ValueError, match="unknown perturbation"):
        robustness.perturb_roi(_cube_roi(), "shear")


# ---------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------

CANDIDATES = [f"P{i:03d}" for i in range(40)]


def test_plan_perturbations_on_a_deterministic_subset():
    first = robustness.plan(CANDIDATES, set(), "auto", ["erode", "dilate"], 10, 10, 42)
    again = robustness.plan(list(reversed(CANDIDATES)), set(), "auto", ["erode", "dilate"], 10, 10, 42)
    assert first == again
    assert first.source == "perturbation" and first.raters == ("erode", "dilate")
    assert len(first.cases) == 10 and set(first.cases) <= set(CANDIDATES)
    assert list(first.cases) != CANDIDATES[:10]  # drawn, not the first ids
    grown = robustness.plan(CANDIDATES + [f"Q{i}" for i in range(5)], set(), "auto", ["erode"], 10, 10, 42)
    assert len(set(first.cases) - set(grown.cases)) <= 5


def test_plan_uses_repeats_when_enough():
    repeats = set(CANDIDATES[:12])
    chosen = robustness.plan(CANDIDATES, repeats, "auto", ["erode"], 30, 10, 42)
    assert chosen.source == "repeat" and chosen.raters == ("repeat",) and set(chosen.cases) == repeats
    few = robustness.plan(CANDIDATES, set(CANDIDATES[:4]), "auto", ["erode"], 30, 10, 42)
    assert few.source == "perturbation" and "4 case(s) with mask_repeat not used" in few.note
    forced = robustness.plan(CANDIDATES, set(CANDIDATES[:4]), "repeat", ["erode"], 30, 10, 42)
    assert forced.source == "repeat" and len(forced.cases) == 4


def test_plan_rejects_bad_settings():
    with pytest.raises(InputError, match="unknown name"):
        robustness.plan(CANDIDATES, set(), "auto", ["erode", "squash"], 10, 10, 42)
    with pytest.raises(InputError, match="only 1 planned training case"):
        robustness.plan(CANDIDATES, {"P001"}, "repeat", ["erode"], 10, 10, 42)


# ---------------------------------------------------------------------------------------
# The ICC job and the filter
# ---------------------------------------------------------------------------------------


def _write_row(path: Path, case: str, values: dict) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([{"case_id": case, "source_mask_file": "m.nii.gz", **values}]).to_csv(path, index=False)
    return str(path)


def test_write_icc_uses_training_cases_only(tmp_path):
    rng = np.random.default_rng(3)
    cases = ["A1", "A2", "A3", "A4", "A5", "T1", "X1"]
    pd.DataFrame({"case_id": cases, "set": ["train"] * 5 + ["test", "train"]}).to_csv(tmp_path / "split.csv", index=False)
    raters = ["erode", "dilate"]
    originals, others = [], []
    for case in cases:
        truth = rng.normal(size=3) * 10
        originals.append(_write_row(tmp_path / "o" / f"{case}.csv", case, {"stable": truth[0], "noisy": rng.normal(), "flat": 1.0, "exact": truth[1]}))
        for rater in raters:
            path = tmp_path / "r" / case / f"{rater}.csv"
            if case == "X1" and rater == "dilate":
                path.parent.mkdir(parents=True, exist_ok=True)
                pd.DataFrame([{"case_id": case, "excluded_reason": "perturbation dilate leaves no ROI voxel"}]).to_csv(path, index=False)
                others.append(str(path))
                continue
            others.append(_write_row(path, case, {"stable": truth[0] + rng.normal() * 0.01, "noisy": rng.normal(), "flat": 1.0,
                                                      "exact": truth[1]}))
    table = write_icc(
        str(tmp_path / "split.csv"), cases, raters, originals, others, "icc2_1", 0.75,
        str(tmp_path / "icc.csv"), str(tmp_path / "cases.csv"),
    )
    assert list(table.columns) == robustness.ICC_COLUMNS
    assert table["feature"].tolist() == ["stable", "noisy", "flat", "exact"]
    assert (table["n_cases"] == 5).all() and (table["n_raters"] == 3).all()
    kept = dict(zip(table["feature"], table["kept"]))
    assert kept == {"stable": True, "noisy": False, "flat": False, "exact": True}
    # Bounds without width or undefined, each with its reason; a real interval has none.
    reasons = table.set_index("feature")
    assert reasons.loc["exact", "icc3_1_ci_low"] == reasons.loc["exact", "icc3_1_ci_high"] == 1.0
    assert reasons.loc["exact", "icc3_1_ci_reason"].startswith("perfect agreement")
    assert reasons.loc["flat", "icc2_1_ci_reason"].startswith("ICC undefined: the feature has the same value")
    assert reasons.loc[["stable", "noisy"], "icc2_1_ci_reason"].fillna("").eq("").all()
    assert table.loc[table["feature"] == "stable", "icc2_1"].item() > 0.99
    assert math.isnan(table.loc[table["feature"] == "flat", "icc2_1"].item())
    used = pd.read_csv(tmp_path / "cases.csv").set_index("case_id")
    assert used.loc["T1", "used"] == False and used.loc["T1", "reason"] == "not in the training set"  # noqa: E712
    assert "dilate: perturbation dilate leaves no ROI voxel" in used.loc["X1", "reason"]
    assert used["used"].sum() == 5
    # The same inputs give the same bytes.
    before = (tmp_path / "icc.csv").read_bytes()
    write_icc(
        str(tmp_path / "split.csv"), cases, raters, originals, others, "icc2_1", 0.75,
        str(tmp_path / "icc.csv"), str(tmp_path / "cases.csv"),
    )
    assert (tmp_path / "icc.csv").read_bytes() == before


def test_write_icc_needs_enough_cases(tmp_path):
    pd.DataFrame({"case_id": ["A", "B"], "set": ["train", "test"]}).to_csv(tmp_path / "split.csv", index=False)
    originals = [_write_row(tmp_path / f"{c}.csv", c, {"f": 1.0}) for c in ("A", "B")]
    others = [_write_row(tmp_path / f"{c}_e.csv", c, {"f": 2.0}) for c in ("A", "B")]
    with pytest.raises(InputError, match="only 1 training case"):
        write_icc(
            str(tmp_path / "split.csv"), ["A", "B"], ["erode"], originals, others, "icc3_1", 0.75,
            str(tmp_path / "icc.csv"), str(tmp_path / "cases.csv"),
        )


def test_load_design_drops_features_below_threshold(tmp_path):
    features = pd.DataFrame(
        {"case_id": ["a", "b", "c"], "label": [0, 1, 0], "center": ["A"] * 3, "f1": [1.0, 2, 3], "f2": [3.0, 1, 2], "f3": [0.5, 0.1, 0.2]}
    )
    features.to_csv(tmp_path / "features.csv", index=False)
    pd.DataFrame({"case_id": ["a", "b", "c"], "set": ["train", "train", "test"]}).to_csv(tmp_path / "split.csv", index=False)
    pd.DataFrame({"feature": ["f1", "f2", "f3"], "kept": [True, False, True]}).to_csv(tmp_path / "icc.csv", index=False)
    plain = load_design(str(tmp_path / "features.csv"), str(tmp_path / "split.csv"), [])
    assert list(plain.features.columns) == ["f1", "f2", "f3"] and plain.removed_by_icc == []
    design = load_design(str(tmp_path / "features.csv"), str(tmp_path / "split.csv"), [], icc_csv=str(tmp_path / "icc.csv"))
    assert list(design.features.columns) == ["f1", "f3"] and design.removed_by_icc == ["f2"]
    pd.DataFrame({"feature": ["f1"], "kept": [True]}).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(InputError, match=r"no ICC for feature\(s\) \['f2', 'f3'\]"):
        load_design(str(tmp_path / "features.csv"), str(tmp_path / "split.csv"), [], icc_csv=str(tmp_path / "short.csv"))


def test_icc_figure_is_deterministic(tmp_path):
    rng = np.random.default_rng(1)
    names = [
        f"{image}_{family}_{name}"
        for image in ("original", "log-sigma-1-0-mm-3D", "wavelet-LLH")
        for family, name in (("firstorder", "Mean"), ("glcm", "Idm"), ("shape", "Sphericity"))
    ]
    values = rng.uniform(0.3, 1.0, size=len(names))
    values[0] = np.nan
    table = pd.DataFrame({"feature": names, "icc2_1": values, "icc2_1_ci_low": values - 0.1, "kept": values >= 0.75})
    for run in ("a", "b"):
        icc_figure(table, "icc2_1", 0.75, str(tmp_path / f"{run}.png"), str(tmp_path / f"{run}.pdf"))
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
