"""Feature robustness through the real workflow: robustness switched on in an existing
study plans only the extra jobs, runs them, and the ICC filter reaches the models; then
repeat segmentations (sheet column mask_repeat) replace the perturbations.

The study's first run (before robustness) also shows a quiet console: the libraries'
chatter (ITK, PyRadiomics, scikit-learn, statsmodels, matplotlib) goes to the jobs'
logs, not to the console."""

from __future__ import annotations

import copy
import gzip
import json
import re
import struct

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from browser import assert_report_reads_in_a_browser
from conftest import FAST_CONFIG, make_study, planned_jobs, snakemake, write_config
from radsnake.imaging.robustness import ICC_COLUMNS, perturb_roi

pytestmark = pytest.mark.workflow

N_CASES = 24
MAX_CASES = 5
PERTURBATIONS = ["erode", "translate_x"]
MODELS = ["logistic", "decision_tree"]
ROBUSTNESS = {
    "enabled": True,
    "perturbations": PERTURBATIONS,
    "max_cases": MAX_CASES,
    "icc_type": "icc2_1",
    "icc_threshold": 0.75,
}
UPSTREAM = {"demo_case", "extract_features", "aggregate_features", "split_cases", "qc_table"}
# ITK writes this to std::cerr on every read of a NIfTI whose sform has odd scales (it
# then uses the qform): common in real data, and below logging, where no handler sees it.
ITK_WARNING = "has unexpected scales in sform"
# Lines a library prints: ITK's "WARNING: In ...", Python's "UserWarning: ...",
# PyRadiomics' "radiomics.glcm: ...", a traceback.
CHATTER = re.compile(r"warning|radiomics\.|itk|traceback|matplotlib|sklearn|statsmodels", re.IGNORECASE)


def _config(robustness: dict | None = None) -> dict:
    # As tests/test_slurm.py: seed 12 splits these 24 cases 8+8 train / 4+4 test, enough
    # for the test-set statistics; two fast models and 100 bootstrap resamples.
    config = copy.deepcopy(FAST_CONFIG)
    config["seed"] = 12
    config["split"] = {"method": "random", "test_fraction": 0.3}
    config["models"]["enabled"] = MODELS
    config["evaluation"] = {"bootstrap": 100}
    if robustness:
        config["robustness"] = robustness
    return config


def sform_with_odd_scales(image_path: str) -> None:
    """Rewrite a .nii.gz so that its sform's scales differ from its qform's (the qform,
    which ITK falls back to, keeps the geometry the mask was drawn on)."""
    with gzip.open(image_path, "rb") as handle:
        header = bytearray(handle.read())
    srow = list(struct.unpack_from("<12f", header, 280))
    srow[1] += 0.3  # srow_x[1]: a shear no orthonormal direction has
    struct.pack_into("<12f", header, 280, *srow)
    with gzip.open(image_path, "wb") as handle:
        handle.write(bytes(header))


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """The study without robustness, run once; one of its images makes ITK chatter.
    Returns the study folder, the run's console and the chatty case."""
    workdir = tmp_path_factory.mktemp("robust")
    sheet = make_study(workdir, N_CASES, _config())
    sform_with_odd_scales(str(workdir / "config" / sheet["image"].iloc[0]))
    result = snakemake(workdir)
    return workdir, result.stdout + result.stderr, sheet["case_id"].iloc[0]


def test_library_chatter_goes_to_the_job_logs(first_run):
    # Two fast models, the clinical models (statsmodels) and every figure (matplotlib).
    workdir, console, chatty = first_run
    assert [line for line in console.splitlines() if CHATTER.search(line)] == []
    # The chatter is in the log of the job that reads the image.
    assert ITK_WARNING in (workdir / f"logs/extract_features/{chatty}.log").read_text()
    cases = pd.read_csv(workdir / "config" / "cohort.csv", dtype={"case_id": str})["case_id"]
    assert pd.read_csv(workdir / "results" / "features.csv", dtype={"case_id": str})["case_id"].tolist() == sorted(cases)


@pytest.fixture(scope="module")
def study(first_run):
    """The finished study without robustness, then robustness switched on: the dry run's
    plan is kept for the test, then the workflow runs."""
    workdir = first_run[0]
    write_config(workdir, _config(ROBUSTNESS))
    plan = planned_jobs(workdir)
    snakemake(workdir)
    return workdir, plan


def test_adding_robustness_plans_only_its_jobs_and_downstream(study):
    _, plan = study
    assert plan["extract_robustness"] == MAX_CASES * len(PERTURBATIONS)
    assert plan["robustness_icc"] == 1 and plan["plot_icc"] == 1
    assert plan["select_features"] == 1 and plan["fit_model"] == len(MODELS)
    assert not UPSTREAM & set(plan), plan


def test_perturbation_jobs_ran(study):
    workdir, _ = study
    cases = pd.read_csv(workdir / "results" / "robustness" / "cases.csv", dtype={"case_id": str})
    split = pd.read_csv(workdir / "results" / "split.csv", dtype=str).set_index("case_id")["set"]
    assert len(cases) == MAX_CASES and (split.loc[cases["case_id"]] == "train").all()
    assert (cases["raters"] == "original;erode;translate_x").all()
    for case in cases["case_id"]:
        for name in PERTURBATIONS:
            row = pd.read_csv(workdir / "results" / "robustness" / "features" / case / f"{name}.csv")
            assert len(row) == 1 and "original_shape_VoxelVolume" in row.columns
    original = pd.read_csv(workdir / "results" / "features" / f"{cases['case_id'][0]}.csv")
    eroded = pd.read_csv(workdir / "results" / "robustness" / "features" / cases["case_id"][0] / "erode.csv")
    moved = pd.read_csv(workdir / "results" / "robustness" / "features" / cases["case_id"][0] / "translate_x.csv")
    volume = "original_shape_VoxelVolume"
    assert eroded[volume].item() < original[volume].item()
    assert moved[volume].item() == pytest.approx(original[volume].item(), rel=0.05)


def test_icc_table_is_sane(study):
    workdir, _ = study
    icc = pd.read_csv(workdir / "results" / "robustness" / "icc.csv")
    assert list(icc.columns) == ICC_COLUMNS
    features = pd.read_csv(workdir / "results" / "features.csv", nrows=0).columns
    assert set(icc["feature"]) <= set(features) and "original_shape_Sphericity" in set(icc["feature"])
    used = int(pd.read_csv(workdir / "results" / "robustness" / "cases.csv")["used"].sum())
    assert (icc["n_cases"] == used).all() and used >= 3
    assert (icc["n_raters"] == 1 + len(PERTURBATIONS)).all()
    for kind in ("icc2_1", "icc3_1"):
        finite = icc[np.isfinite(icc[kind])]
        assert len(finite) > 0.8 * len(icc)
        assert (finite[kind] <= 1 + 1e-12).all()
        assert (finite[f"{kind}_ci_low"] <= finite[kind] + 1e-12).all()
        assert (finite[kind] <= finite[f"{kind}_ci_high"] + 1e-12).all()
    assert (icc["kept"] == (icc["icc2_1"] >= 0.75)).all()
    assert 0 < icc["kept"].sum() < len(icc)
    assert (workdir / "results" / "figures" / "icc.png").stat().st_size > 0
    assert (workdir / "results" / "figures" / "icc.pdf").read_bytes().startswith(b"%PDF")


def test_features_below_threshold_do_not_reach_the_models(study):
    workdir, _ = study
    icc = pd.read_csv(workdir / "results" / "robustness" / "icc.csv")
    removed = icc.loc[~icc["kept"], "feature"].tolist()
    features = set(pd.read_csv(workdir / "results" / "features.csv", nrows=0).columns)
    assert removed and set(removed) <= features
    for model in MODELS:
        info = json.loads((workdir / "results" / "models" / model / "model.json").read_text())["extra"]
        assert info["icc_filter"] is True
        assert info["icc_removed_features"] == [f for f in icc["feature"] if f in set(removed)]
        assert not set(removed) & set(info["input_features"])
        assert set(info["input_features"]) == set(icc.loc[icc["kept"], "feature"])
    selected = pd.read_csv(workdir / "results" / "selection" / "selected_features.csv")["feature"]
    assert not set(removed) & set(selected)
    assert f"{len(removed)} of {len(icc)} features removed" in (workdir / "logs" / "select_features.log").read_text()


def test_report_shows_robustness(study):
    workdir, _ = study
    snakemake(workdir, "--report", str(workdir / "report.html"))
    html = (workdir / "report.html").read_text(errors="replace")
    assert "Feature robustness" in html
    for name in ("icc.png", "icc.csv", "cases.csv"):
        assert name in html
    assert_report_reads_in_a_browser(workdir / "report.html")


def test_repeat_segmentations_replace_perturbations(study):
    workdir, _ = study
    split = pd.read_csv(workdir / "results" / "split.csv", dtype=str)
    sheet_path = workdir / "config" / "cohort.csv"
    sheet = pd.read_csv(sheet_path, dtype=str, keep_default_na=False)
    train = sorted(split.loc[split["set"] == "train", "case_id"])[:4]
    held_out = sorted(split.loc[split["set"] == "test", "case_id"])[:1]
    sheet["mask_repeat"] = ""
    for case in train + held_out:
        # A second reader's contour: one voxel wider in-plane.
        row = sheet.index[sheet["case_id"] == case][0]
        mask = sitk.ReadImage(str((sheet_path.parent / sheet.loc[row, "mask"]).resolve()))
        wider = sitk.GetImageFromArray(perturb_roi(sitk.GetArrayFromImage(mask) == 1, "dilate").astype(np.uint8))
        wider.CopyInformation(mask)
        sitk.WriteImage(wider, str(workdir / "images" / f"{case}_repeat.nii.gz"))
        sheet.loc[row, "mask_repeat"] = f"../images/{case}_repeat.nii.gz"
    sheet.to_csv(sheet_path, index=False)
    write_config(workdir, _config({**ROBUSTNESS, "min_repeat_cases": 4}))

    snakemake(workdir, "results/robustness/icc.csv")
    cases = pd.read_csv(workdir / "results" / "robustness" / "cases.csv", dtype={"case_id": str})
    assert sorted(cases["case_id"]) == train  # the test case's repeat is never used
    assert (cases["raters"] == "original;repeat").all() and cases["used"].all()
    for case in train:
        assert (workdir / "results" / "robustness" / "qc" / case / "repeat.csv").exists()
        assert (workdir / "results" / "robustness" / "features" / case / "repeat.csv").exists()
    icc = pd.read_csv(workdir / "results" / "robustness" / "icc.csv")
    assert (icc["n_raters"] == 2).all() and (icc["n_cases"] == len(train)).all()
