"""A run ends by saying what failed: with one bad mask among 30 cases, the case's
radsnake line is in the console's last 20 lines and in logs/failures.txt; once the mask
is fixed, the rerun redoes that case alone and the file goes."""

from __future__ import annotations

import shutil

import pytest
import SimpleITK as sitk

from conftest import make_study, snakemake

pytestmark = pytest.mark.workflow

N_CASES = 30
TARGET = "results/features.csv"


def test_one_failed_case_of_30_is_named_in_the_last_20_lines(tmp_path):
    sheet = make_study(tmp_path, N_CASES)
    bad = 17
    case = sheet["case_id"].iloc[bad]
    mask = (tmp_path / "config" / sheet["mask"].iloc[bad]).resolve()
    shutil.copy(mask, tmp_path / "good_mask.nii.gz")
    # A mask saved as 0/255, as many viewers export it.
    sitk.WriteImage(sitk.Cast(sitk.ReadImage(str(mask)), sitk.sitkUInt8) * 255, str(mask))

    result = snakemake(tmp_path, TARGET, check=False)
    console = (result.stdout + result.stderr).splitlines()
    assert result.returncode != 0
    last = console[-20:]
    heading = f"radsnake: this run ended with 1 failed job (also in {tmp_path / 'logs' / 'failures.txt'}):"
    assert heading in last, "\n".join(console[-40:])
    line = last[last.index(heading) + 1]
    assert line.startswith(f"radsnake: failed job extract_features (case {case}): case {case}: input QC failed for image "), line
    assert "mask has no voxel with label 1 (labels present: 255), set mask_label for this case" in line
    assert "Look above for error messages" in "\n".join(console[: console.index(heading)])
    assert (tmp_path / "logs" / "failures.txt").read_text().splitlines() == [heading, line]
    assert len(list((tmp_path / "results" / "features").glob("*.csv"))) == N_CASES - 1

    shutil.copy(tmp_path / "good_mask.nii.gz", mask)
    result = snakemake(tmp_path, TARGET)
    assert f"case={case}" in result.stdout + result.stderr
    assert "radsnake: this run ended" not in result.stdout + result.stderr
    assert not (tmp_path / "logs" / "failures.txt").exists()
