"""Parse-time checks remembered per study (radsnake.core.parse_checks): a config or params
file that passed is not checked again, and anything that could change the outcome
checks it again."""

from __future__ import annotations

import copy
import os
import shutil

import pytest
import yaml
from snakemake.utils import validate

from conftest import REPO
from radsnake.core import parse_checks
from radsnake.core.errors import InputError
from radsnake.io.params import check_params

SCHEMA = str(REPO / "config" / "schemas" / "config.schema.yaml")
DEMO = yaml.safe_load((REPO / "config" / "demo" / "config.yaml").read_text())


class Counting:
    def __init__(self, check):
        self.check, self.calls = check, 0

    def __call__(self, *args):
        self.calls += 1
        return self.check(*args)


def checked(config: dict, folder, check, code=(), versions="v1") -> dict:
    parse_checks.checked_config(config, SCHEMA, list(code), versions, str(folder), check)
    return config


def test_a_config_that_passed_gets_the_same_defaults_without_the_check(tmp_path):
    check = Counting(lambda config: validate(config, SCHEMA))
    first = checked(copy.deepcopy(DEMO), tmp_path, check)
    again = checked(copy.deepcopy(DEMO), tmp_path, check)
    assert check.calls == 1
    # Every default, in the same order and of the same type, as the schema filled it in.
    assert again == first and list(again) == list(first) and parse_checks.as_json(again) == parse_checks.as_json(first)
    assert first["validation"]["learning_curve_sizes"] == DEMO["validation"]["learning_curve_sizes"]
    assert "clinical_model" in first and "clinical_model" not in DEMO


def test_anything_the_outcome_depends_on_checks_again(tmp_path):
    check = Counting(lambda config: validate(config, SCHEMA))
    checked(copy.deepcopy(DEMO), tmp_path, check)
    edited = copy.deepcopy(DEMO)
    edited["models"]["cv_folds"] = 4
    checked(edited, tmp_path, check)
    checked(copy.deepcopy(DEMO), tmp_path, check, versions="v2")
    code = tmp_path / "code.py"
    code.write_text("a = 1\n")
    checked(copy.deepcopy(DEMO), tmp_path, check, code=[code])
    code.write_text("a = 2\n")
    checked(copy.deepcopy(DEMO), tmp_path, check, code=[code])
    assert check.calls == 5
    # Integer keys do not survive JSON: such a config is checked every time.
    odd = {**copy.deepcopy(DEMO), "clinical": {1: "numeric"}}
    for _ in range(2):
        checked(copy.deepcopy(odd), tmp_path, check)
    assert check.calls == 7


def test_a_failing_check_is_never_recorded_and_a_read_only_folder_records_nothing(tmp_path):
    def failing(config):
        raise SystemExit(1)

    with pytest.raises(SystemExit):
        checked(copy.deepcopy(DEMO), tmp_path, failing)
    assert not (tmp_path / parse_checks.FOLDER).exists() or not os.listdir(tmp_path / parse_checks.FOLDER)
    check = Counting(lambda config: validate(config, SCHEMA))
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        if os.access(locked, os.W_OK):  # root writes anywhere: a file where the folder would be
            os.chmod(locked, 0o700)
            (locked / ".snakemake").write_text("not a folder")
        for _ in range(2):
            checked(copy.deepcopy(DEMO), locked, check)
    finally:
        os.chmod(locked, 0o700)
    assert check.calls == 2


def test_params_file_that_passed_is_not_checked_again_until_it_changes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    params = tmp_path / "params.yaml"
    shutil.copy(REPO / "config" / "pyradiomics" / "original.yaml", params)
    check = Counting(check_params)
    for _ in range(2):
        parse_checks.checked_params(str(params), 1, [], "v1", check)
    assert check.calls == 1
    parse_checks.checked_params(str(params), 2, [], "v1", check)  # another mask_label
    assert check.calls == 2
    content = yaml.safe_load(params.read_text())
    content["setting"]["binWidht"] = 25  # misspelt
    params.write_text(yaml.safe_dump(content))
    for _ in range(2):
        with pytest.raises(InputError, match="binWidht"):
            parse_checks.checked_params(str(params), 1, [], "v1", check)
    assert check.calls == 4


@pytest.mark.parametrize("damage", [b"", b"[]", b"{}", b"\xff\xfe not text", b'{"seed": 1'])
def test_a_damaged_record_is_ignored_and_the_check_runs_again(tmp_path, damage):
    check = Counting(lambda config: validate(config, SCHEMA))
    first = checked(copy.deepcopy(DEMO), tmp_path, check)
    (record,) = (tmp_path / parse_checks.FOLDER).iterdir()
    record.write_bytes(damage)
    assert checked(copy.deepcopy(DEMO), tmp_path, check) == first
    assert check.calls == 2
    assert checked(copy.deepcopy(DEMO), tmp_path, check) == first  # recorded again
    assert check.calls == 2
    assert [p.name for p in (tmp_path / parse_checks.FOLDER).iterdir()] == [record.name]
