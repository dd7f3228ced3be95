"""A quiet console: a dry run of the demo prints no warning, and in a real run the
libraries' chatter (ITK, PyRadiomics, scikit-learn, statsmodels, matplotlib) goes to
the jobs' logs, not to the console."""

from __future__ import annotations

import copy
import gzip
import os
import re
import struct
import subprocess

import pandas as pd
import pytest

from conftest import FAST_CONFIG, REPO, SNAKEMAKE, make_study, snakemake

pytestmark = pytest.mark.workflow

# Snakemake prints its own warnings without the word "warning" (e.g. "localrules directive
# specifies rules that are not present"), so the dry run also records every log record
# of level WARNING or above, from any logger, through this module on PYTHONPATH.
WARNING_RECORDER = """
import logging
import os

_handle = logging.Logger.handle


def _record(self, record):
    if record.levelno >= logging.WARNING:
        with open(os.environ["RADSNAKE_TEST_WARNINGS"], "a") as out:
            out.write(f"{record.name} {record.levelname}: {record.getMessage()}\\n")
    return _handle(self, record)


logging.Logger.handle = _record
"""

# ITK writes this to std::cerr on every read of a NIfTI whose sform has odd scales (it
# then uses the qform): common in real data, and below logging, where no handler sees it.
ITK_WARNING = "has unexpected scales in sform"
# Lines a library prints: ITK's "WARNING: In ...", Python's "UserWarning: ...",
# PyRadiomics' "radiomics.glcm: ...", a traceback.
CHATTER = re.compile(r"warning|radiomics\.|itk|traceback|matplotlib|sklearn|statsmodels", re.IGNORECASE)


def lines_with_warning(text: str) -> list[str]:
    return [line for line in text.splitlines() if "warning" in line.lower()]


# The demo's two documented commands (README, Makefile), from the repository root.
@pytest.mark.xdist_group("clone")
@pytest.mark.parametrize(
    "args", [["-n"], ["--cores", "2", "--configfile", "config/demo/config.yaml", "-n"]], ids=["plain", "make_demo"]
)
def test_dry_run_of_the_demo_prints_no_warning(tmp_path, args):
    (tmp_path / "sitecustomize.py").write_text(WARNING_RECORDER)
    recorded = tmp_path / "warnings.txt"
    env = dict(os.environ, PYTHONPATH=str(tmp_path), RADSNAKE_TEST_WARNINGS=str(recorded))
    result = subprocess.run([SNAKEMAKE, *args], cwd=REPO, capture_output=True, text=True, env=env, timeout=300)
    console = result.stdout + result.stderr
    assert result.returncode == 0, console[-4000:]
    assert "Building DAG of jobs" in console
    assert lines_with_warning(console) == []
    assert (recorded.read_text() if recorded.exists() else "") == ""


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


def test_library_chatter_goes_to_the_job_logs(tmp_path):
    # As tests/test_robustness_workflow.py: 24 cases that seed 12 splits into usable sets,
    # two fast models, the clinical models (statsmodels) and every figure (matplotlib).
    config = copy.deepcopy(FAST_CONFIG)
    config["seed"] = 12
    config["split"] = {"method": "random", "test_fraction": 0.3}
    config["models"]["enabled"] = ["logistic", "decision_tree"]
    config["evaluation"] = {"bootstrap": 100}
    sheet = make_study(tmp_path, 24, config)
    chatty = sheet["case_id"].iloc[0]
    sform_with_odd_scales(str(tmp_path / "config" / sheet["image"].iloc[0]))

    result = snakemake(tmp_path)
    console = result.stdout + result.stderr
    assert [line for line in console.splitlines() if CHATTER.search(line)] == []
    # The chatter is in the log of the job that reads the image.
    assert ITK_WARNING in (tmp_path / f"logs/extract_features/{chatty}.log").read_text()
    assert pd.read_csv(tmp_path / "results" / "features.csv")["case_id"].tolist() == sorted(sheet["case_id"])
