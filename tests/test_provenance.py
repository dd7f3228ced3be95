"""Provenance: the record in results/provenance.json, the per-case stamp, and aggregation's
refusal to mix feature files made with different PyRadiomics params."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import subprocess

import pandas as pd
import pytest

import radsnake
from conftest import REPO
from radsnake.io import provenance
from radsnake.jobs.aggregate import aggregate_features
from radsnake.imaging.aggregate import check_same_params, checked, read_case_files
from radsnake.core.errors import InputError
from radsnake.io.provenance import COMMAND_LINE_VARIABLE, PARAMS_HASH_COLUMN, VERSION_COLUMN
from test_cohort import SCHEMA

PARAMS = REPO / "config" / "pyradiomics" / "original.yaml"
LOCK = REPO / "envs" / "requirements.lock"


def sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def git(folder, *args):
    return subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def study_files(tmp_path):
    sheet = tmp_path / "cohort.csv"
    sheet.write_text("case_id,label,center,image,mask\na,1,X,a.nii.gz,am.nii.gz\n")
    table = tmp_path / "own.csv"
    table.write_text("case_id,f\na,1.0\n")
    return sheet, table


def record(sheet, params=None, table=None, workflow_dir=REPO, **overrides):
    settings = dict(
        config={"seed": 42, "clinical": {}},
        sheet_path=str(sheet),
        params_path=str(params) if params else None,
        features_table=str(table) if table else None,
        workflow_dir=str(workflow_dir),
        lock_path=str(LOCK),
        deployment="venv",
    )
    settings.update(overrides)
    return provenance.build_record(**settings)


def test_record_holds_every_item(study_files, monkeypatch):
    sheet, _ = study_files
    argv = ["/x/bin/snakemake", "--cores", "2", "--configfile", "/studies/lung/config.yaml"]
    monkeypatch.setenv(COMMAND_LINE_VARIABLE, json.dumps(argv))
    found = record(sheet, params=PARAMS)

    assert found["radsnake"]["version"] == radsnake.__version__
    assert found["radsnake"]["git_commit"] == git(REPO, "rev-parse", "HEAD").strip()
    assert isinstance(found["radsnake"]["git_dirty"], bool)
    assert found["python"]["version"] == platform.python_version()
    libraries = found["libraries"]
    for name in ("pyradiomics", "simpleitk", "numpy", "scipy", "scikit-learn", "statsmodels", "pandas", "snakemake",
                 "matplotlib", "seaborn", "imbalanced-learn", "joblib"):  # fmt: skip
        key = next(k for k in libraries if k.lower() == name)
        assert libraries[key] == importlib.metadata.version(name), name
    # Every locked distribution is listed, with its installed version.
    assert {line.split("==")[0] for line in LOCK.read_text().splitlines() if "==" in line} <= set(libraries)
    assert found["pyradiomics_params"] == {"path": str(PARAMS), "sha256": sha256(PARAMS), "content": PARAMS.read_text()}
    assert found["features_table"] is None
    assert found["cohort_sheet"] == {"path": str(sheet), "sha256": sha256(sheet)}
    assert found["config"] == {"seed": 42, "clinical": {}}
    assert found["command_line"] == {"argv": argv, "command": " ".join(argv)}


def test_bring_your_own_features_records_the_table_not_params(study_files):
    sheet, table = study_files
    found = record(sheet, table=table)
    assert found["pyradiomics_params"] is None
    assert found["features_table"] == {"path": str(table), "sha256": sha256(table)}
    assert "none: features came from the features table" in provenance.record_html(found)


def test_record_is_deterministic_and_has_no_date(study_files, monkeypatch):
    sheet, _ = study_files
    monkeypatch.setenv(COMMAND_LINE_VARIABLE, json.dumps(["snakemake", "--cores", "1"]))
    first = provenance.record_json(record(sheet, params=PARAMS))
    assert first == provenance.record_json(record(sheet, params=PARAMS))
    assert "2026-" not in first.replace(PARAMS.read_text(), "") and "T00:" not in first


def test_not_a_git_checkout(study_files, tmp_path):
    sheet, _ = study_files
    plain = tmp_path / "plain"
    plain.mkdir()
    found = record(sheet, params=PARAMS, workflow_dir=plain)["radsnake"]
    assert found["git_commit"] is None and found["git_dirty"] is None
    assert found["git_note"].startswith("not a git checkout")
    assert "not a git checkout" in provenance.record_html(record(sheet, params=PARAMS, workflow_dir=plain))


def test_local_changes_make_the_checkout_dirty(tmp_path):
    clone = tmp_path / "clone"
    clone.mkdir()
    git(clone, "init", "-q")
    (clone / "Snakefile").write_text("rule all:\n")
    git(clone, "add", "Snakefile")
    git(clone, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    (clone / "my_study.yaml").write_text("seed: 1\n")  # untracked: a study's config, not code
    clean = provenance.git_state(str(clone))
    assert clean["git_dirty"] is False and clean["git_commit"] == git(clone, "rev-parse", "HEAD").strip()
    (clone / "Snakefile").write_text("rule all:\n    input: []\n")
    dirty = provenance.git_state(str(clone))
    assert dirty["git_dirty"] is True and dirty["git_changes"] == ["M Snakefile"]


def test_versions_that_differ_from_the_lock_are_named(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text(f"# comment\nnumpy==0.0.1\npandas=={importlib.metadata.version('pandas')}\nno-such-dist==1.0\n")
    installed, differing = provenance.library_versions(str(lock))
    assert differing == {
        "numpy": {"locked": "0.0.1", "installed": importlib.metadata.version("numpy")},
        "no-such-dist": {"locked": "1.0", "installed": None},
    }
    assert installed["pyradiomics"] == importlib.metadata.version("pyradiomics")  # always recorded


def test_html_page_shows_the_items(study_files, monkeypatch):
    sheet, _ = study_files
    monkeypatch.setenv(COMMAND_LINE_VARIABLE, json.dumps(["snakemake", "--configfile", "a<b>.yaml"]))
    found = record(sheet, params=PARAMS)
    page = provenance.record_html(found)
    for text in (radsnake.__version__, found["radsnake"]["git_commit"], platform.python_version(), sha256(PARAMS),
                 sha256(sheet), "binWidth: 25", "pyradiomics", "&lt;b&gt;", "&quot;seed&quot;: 42"):  # fmt: skip
        assert text in page, text
    assert "<script" not in page


def test_rerun_command_is_the_users_own(monkeypatch):
    monkeypatch.delenv(COMMAND_LINE_VARIABLE, raising=False)
    assert provenance.rerun_command(["--forcerun", "x"]).endswith("--configfile '<your config>' --forcerun x")
    monkeypatch.setenv(COMMAND_LINE_VARIABLE, json.dumps(["/venv/bin/snakemake", "--cores", "4", "--configfile", "s/c.yaml"]))
    assert provenance.rerun_command(["--forcerun", "x"]) == "snakemake --cores 4 --configfile s/c.yaml --forcerun x"


# --- the per-case stamp and aggregation's check ----------------------------------------------


def case_file(folder, case_id, params_hash, values=(1.0, 2.0), version=radsnake.__version__):
    folder.mkdir(exist_ok=True)
    row = {"case_id": case_id, "source_image_file": f"{case_id}.nii.gz"}
    if params_hash is not None:
        row.update({PARAMS_HASH_COLUMN: params_hash, VERSION_COLUMN: version})
    row.update({"f_a": values[0], "f_b": values[1]})
    path = folder / f"{case_id}.csv"
    pd.DataFrame([row]).to_csv(path, index=False)
    return str(path)


def test_case_stamp(tmp_path):
    assert provenance.case_stamp(str(PARAMS)) == {PARAMS_HASH_COLUMN: sha256(PARAMS), VERSION_COLUMN: radsnake.__version__}


def test_stamp_is_not_a_feature_nor_a_source_column(tmp_path):
    current = sha256(PARAMS)
    files = [case_file(tmp_path / "features", c, current) for c in ("b", "a")]
    sheet = tmp_path / "cohort.csv"
    pd.DataFrame({"case_id": ["a", "b"], "label": [1, 0], "center": ["X", "Y"]}).to_csv(sheet, index=False)
    out = tmp_path / "features.csv"
    aggregate_features(files, str(sheet), SCHEMA, {}, str(out), params_path=str(PARAMS))
    assert pd.read_csv(out).columns.tolist() == ["case_id", "label", "center", "source_image_file", "f_a", "f_b"]


def test_mixed_params_refused_naming_the_cases_by_hash(tmp_path, monkeypatch):
    monkeypatch.setenv(COMMAND_LINE_VARIABLE, json.dumps(["snakemake", "--cores", "2", "--configfile", "lung/config.yaml"]))
    current, other = sha256(PARAMS), "f" * 64
    folder = tmp_path / "features"
    files = [case_file(folder, c, current) for c in ("c1", "c2", "c3")]
    files += [case_file(folder, c, other) for c in ("c4", "c5")]
    with pytest.raises(InputError) as refused:
        check_same_params(read_case_files(files), str(PARAMS))
    message = str(refused.value)
    assert "mixes features made with different PyRadiomics params files" in message
    assert f"params sha256 {current} (the current pyradiomics.params, {PARAMS}): 3 case(s): c1, c2, c3" in message
    assert f"params sha256 {other}: 2 case(s): c4, c5" in message
    rerun = f"{folder}/c4.csv {folder}/c5.csv"
    assert f"rm {rerun}" in message
    assert f"snakemake --cores 2 --configfile lung/config.yaml --forcerun {rerun}" in message


def test_all_files_from_another_params_file_refused(tmp_path):
    files = [case_file(tmp_path / "features", c, "e" * 64) for c in ("a", "b")]
    with pytest.raises(InputError, match=f"holds features made with another PyRadiomics params file than {PARAMS}"):
        check_same_params(read_case_files(files), str(PARAMS))


def test_unstamped_files_mixed_with_stamped_ones_refused(tmp_path):
    files = [case_file(tmp_path / "features", "a", sha256(PARAMS)), case_file(tmp_path / "features", "old", None)]
    with pytest.raises(InputError, match=r"no params hash recorded \(older radsnake\): 1 case\(s\): old"):
        check_same_params(read_case_files(files), str(PARAMS))


def test_only_unstamped_files_pass_with_a_warning(tmp_path, caplog):
    files = [case_file(tmp_path / "features", c, None) for c in ("a", "b")]
    check_same_params(read_case_files(files), str(PARAMS))
    assert "record no params hash" in caplog.text


def test_many_stale_cases_rerun_every_case(tmp_path):
    current = sha256(PARAMS)
    files = [case_file(tmp_path / "features", f"c{i:02d}", current if i < 5 else "d" * 64) for i in range(30)]
    with pytest.raises(InputError) as refused:
        check_same_params(read_case_files(files), str(PARAMS))
    message = str(refused.value)
    assert "25 case(s): c05, c06" in message and "... and 5 more" in message
    assert "--forcerun extract_features" in message


def test_other_radsnake_version_only_warns(tmp_path, caplog):
    current = sha256(PARAMS)
    files = [case_file(tmp_path / "features", "a", current), case_file(tmp_path / "features", "b", current, version="0.0.9")]
    check_same_params(read_case_files(files), str(PARAMS))
    assert "radsnake 0.0.9 extracted 1 case(s): b" in caplog.text


def test_params_are_named_before_a_column_difference(tmp_path):
    """Other params often mean other columns: the message names the params, not just a column."""
    folder = tmp_path / "features"
    files = [case_file(folder, "a", sha256(PARAMS))]
    other = folder / "b.csv"
    pd.DataFrame([{"case_id": "b", PARAMS_HASH_COLUMN: "c" * 64, VERSION_COLUMN: "0.1.0", "f_z": 1.0}]).to_csv(other, index=False)
    with pytest.raises(InputError, match=f"params sha256 {'c' * 64}: 1 case\\(s\\): b"):
        checked(read_case_files([*files, str(other)]), str(PARAMS))
    pd.DataFrame([{"case_id": "b", PARAMS_HASH_COLUMN: sha256(PARAMS), "f_z": 1.0}]).to_csv(other, index=False)
    with pytest.raises(InputError, match="case b: .* has different feature columns"):
        checked(read_case_files([*files, str(other)]), str(PARAMS))


def test_columns_in_another_order_are_matched_by_name(tmp_path):
    """A params file with its sections in another order gives the same features, reordered."""
    current = sha256(PARAMS)
    first = case_file(tmp_path / "features", "a", current, values=(1.0, 2.0))
    second = tmp_path / "features" / "b.csv"
    pd.DataFrame([{"case_id": "b", "f_b": 4.0, PARAMS_HASH_COLUMN: current, "source_image_file": "b.nii.gz",
                   VERSION_COLUMN: "0.1.0", "f_a": 3.0}]).to_csv(second, index=False)  # fmt: skip
    found = checked(read_case_files([first, str(second)]), str(PARAMS))
    assert found.features.columns.tolist() == ["f_a", "f_b"]
    assert found.features.loc["b"].tolist() == [3.0, 4.0]
    assert found.sources.loc["b", "source_image_file"] == "b.nii.gz"
