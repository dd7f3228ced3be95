"""Done when: "A test changes one PyRadiomics setting for half the cases and shows that
aggregation refuses, naming the cases." Real extraction, real Snakemake, then the fix the
message gives, run as written."""

from __future__ import annotations

import copy
import hashlib
import os
import re
import shlex
import shutil
import subprocess

import pandas as pd
import pytest
import yaml

from conftest import FAST_CONFIG, REPO, SNAKEMAKE, make_study, snakemake, write_config
from radsnake.io.provenance import PARAMS_HASH_COLUMN, VERSION_COLUMN

pytestmark = pytest.mark.workflow

N_CASES = 6


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stamp(path) -> str:
    return pd.read_csv(path, dtype=str).loc[0, PARAMS_HASH_COLUMN]


def test_features_of_another_params_file_refused_then_rerun(tmp_path):
    study, other = tmp_path / "study", tmp_path / "other"
    params = study / "config" / "params.yaml"
    config = copy.deepcopy(FAST_CONFIG)
    config["pyradiomics"]["params"] = str(params)
    sheet = make_study(study, N_CASES, config)
    shutil.copy(REPO / "config" / "pyradiomics" / "original.yaml", params)
    snakemake(study, "results/features.csv")
    features = study / "results" / "features"
    cases = sorted(sheet["case_id"])
    kept, changed = cases[: N_CASES // 2], cases[N_CASES // 2 :]
    original = {case: (features / f"{case}.csv").read_bytes() for case in cases}
    assert {stamp(features / f"{case}.csv") for case in cases} == {sha256(params)}
    assert not {PARAMS_HASH_COLUMN, VERSION_COLUMN} & set(pd.read_csv(study / "results" / "features.csv").columns)

    # Another study extracts half the cases (the same images) with one setting changed ...
    other.mkdir()
    other_params = other / "params.yaml"
    settings = yaml.safe_load(params.read_text())
    settings["setting"]["binWidth"] = 50
    other_params.write_text(yaml.safe_dump(settings))
    write_config(other, dict(config, cohort=str(study / "config" / "cohort.csv"), pyradiomics={"params": str(other_params)}))
    snakemake(other, *[f"results/features/{case}.csv" for case in changed])
    # ... and its files are copied into the first study, as a user might.
    for case in changed:
        copied = other / "results" / "features" / f"{case}.csv"
        assert stamp(copied) == sha256(other_params)
        assert copied.read_bytes() != original[case]  # binWidth changed the texture features
        shutil.copy(copied, features / f"{case}.csv")

    result = snakemake(study, "results/features.csv", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "results/features/ mixes features made with different PyRadiomics params files" in output
    current = re.search(
        rf"params sha256 {sha256(params)} \(the current pyradiomics.params, (\S+)\): 3 case\(s\): {', '.join(kept)}\n", output
    )
    assert current and (study / current[1]).resolve() == params.resolve(), output[-3000:]
    assert f"params sha256 {sha256(other_params)}: 3 case(s): {', '.join(changed)}" in output
    assert not (study / "results" / "features.csv").exists()
    assert "Traceback" not in output

    # The fix the message gives, run exactly as written.
    stale = " ".join(f"results/features/{case}.csv" for case in changed)
    assert f"delete their files in the study folder (rm {stale}) and run snakemake again" in output
    command = re.search(r"or run (snakemake .*--forcerun " + re.escape(stale) + ")", output)[1]
    argv = shlex.split(command)
    rerun = subprocess.run(
        [SNAKEMAKE, *argv[1:]], cwd=REPO, capture_output=True, text=True, env=dict(os.environ, PYTHONHASHSEED="0")
    )
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    assert "extract_features" in rerun.stdout + rerun.stderr
    assert {case: (features / f"{case}.csv").read_bytes() for case in cases} == original
    assert (study / "results" / "features.csv").exists()
