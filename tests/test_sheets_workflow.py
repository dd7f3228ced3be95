"""Sheets, tables, identities and clinical values through the real workflow (few runs:
unit-level variants are in test_sheets.py and test_clinical_data.py).

One bring-your-own-features study holds the reading rules at once: a semicolon sheet with
a byte-order mark, CRLF line ends and decimal commas, ids 001…040 (one written `007 `), a
tab-separated feature table, a locked split with a BOM. Its test case 003 (locked into
test) lacks its age and test case 001 says `female` among F/M: the run stops at sheet
validation naming both; with clinical_missing: impute it finishes and lists them in
results/clinical/imputation.csv.
"""

from __future__ import annotations

import copy
import zipfile

import numpy as np
import pandas as pd
import pytest

from conftest import FAST_CONFIG, snakemake, write_config

pytestmark = pytest.mark.workflow

N = 40


def _byo_config(**extra):
    config = copy.deepcopy(FAST_CONFIG)
    config.update(cohort="cohort.csv", features_table="own.tsv", clinical={"age": "numeric", "sex": "categorical"})
    config["split"] = {"method": "random", "test_fraction": 0.3, "locked": "locked.csv"}
    config["models"]["enabled"] = ["logistic"]
    config["negative_control"] = {"enabled": False}
    config.update(extra)
    return config


def _byo_study(root, table_text: str | None = None, **extra):
    ids = [f"{i:03d}" for i in range(1, N + 1)]
    labels = [i % 2 for i in range(N)]
    rng = np.random.default_rng(3)
    features = rng.normal(size=(N, 6))
    features[:, 0] += 1.5 * np.array(labels)
    if table_text is None:
        table_text = "case_id\t" + "\t".join(f"f{j}" for j in range(6)) + "\n"
        table_text += "".join(case + "\t" + "\t".join(f"{v:.6f}" for v in row) + "\n" for case, row in zip(ids, features))
    (root / "own.tsv").write_text(table_text)
    ages = [f"{50 + i},5" for i in range(N)]
    sexes = ["F" if i % 3 else "M" for i in range(N)]
    ages[2] = ""  # case 003
    sexes[0] = "female"  # case 001
    shown = [case + (" " if case == "007" else "") for case in ids]
    lines = ["case_id;label;center;age;sex"] + [
        f"{c};{y};H1;{a};{s}" for c, y, a, s in zip(shown, labels, ages, sexes)
    ]
    (root / "cohort.csv").write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode())
    (root / "locked.csv").write_bytes("\ufeffcase_id;set\r\n003;test\r\n".encode())
    write_config(root, _byo_config(**extra))
    return ids


def _console(result) -> str:
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def byo_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("byo_sheets")
    _byo_study(root)
    refused = snakemake(root, check=False)
    results_after_refusal = (root / "results").exists()
    write_config(root, _byo_config(clinical_missing="impute"))
    # The clinical stage and what it needs (selection, split), not every figure of the study.
    imputed = snakemake(root, "results/clinical/imputation.csv", "results/clinical/metrics.csv")
    return root, refused, results_after_refusal, imputed


def test_missing_clinical_value_stops_at_sheet_validation(byo_runs):
    root, refused, results_after_refusal, _ = byo_runs
    console = _console(refused)
    assert refused.returncode == 1
    assert (
        "radsnake: clinical data: 2 value(s) the clinical models cannot use (clinical_missing: refuse):\n"
        "  case 001 (test set): clinical column 'sex' holds 'female', a category no training case has "
        "(training: F, M)\n"
        "  case 003 (test set): clinical column 'age' is empty\n"
        f"Fill in or correct these cells in {root / 'cohort.csv'}, or set clinical_missing: impute"
    ) in console, console[-3000:]
    assert "Traceback" not in console and "Select jobs to execute" not in console
    assert not results_after_refusal


def test_impute_finishes_and_records_the_imputed_values(byo_runs):
    root, _, _, imputed = byo_runs
    assert "radsnake: clinical_missing: impute: 2 clinical value(s) will be imputed" in _console(imputed)
    record = pd.read_csv(root / "results" / "clinical" / "imputation.csv", dtype=str, keep_default_na=False)
    training = pd.read_csv(root / "results" / "split.csv", dtype=str).query("set == 'train'")["case_id"]
    features = pd.read_csv(root / "results" / "features.csv", dtype={"case_id": str}).set_index("case_id")
    median = features.loc[training, "age"].median()
    assert record.to_dict("records") == [
        {"case_id": "003", "set": "test", "column": "age", "found": "", "imputed": f"{median:.10g}",
         "fitted_on": f"median of {len(training)} training cases"},
        {"case_id": "001", "set": "test", "column": "sex", "found": "female", "imputed": "F",
         "fitted_on": f"most frequent category of {len(training)} training cases"},
    ]
    metrics = pd.read_csv(root / "results" / "clinical" / "metrics.csv")
    assert {"clinical", "combined"} <= set(metrics["model"])
    assert (root / "results" / "figures" / "nomogram.png").exists()


def test_ids_and_numbers_read_as_written(byo_runs):
    root, _, _, _ = byo_runs
    features = pd.read_csv(root / "results" / "features.csv", dtype={"case_id": str})
    assert features["case_id"].tolist() == [f"{i:03d}" for i in range(1, N + 1)]  # 007 stripped, zeros kept
    assert features.loc[features["case_id"] == "002", "age"].item() == 51.5  # decimal comma
    split = pd.read_csv(root / "results" / "split.csv", dtype=str).set_index("case_id")["set"]
    assert split["003"] == "test"  # the locked file's id, read as text


@pytest.mark.parametrize(
    "variant, expected",
    [
        ("duplicate", "column name(s) 'f1' appear more than once in the header. Each column needs its own name"),
        ("nan", "has 2 missing or infinite value(s), in column(s) 'f2' of case(s) 002, 005. Fill them in"),
    ],
)
def test_feature_table_problems_stop_at_import_naming_the_users_file(tmp_path, variant, expected):
    header = "case_id,f0,f1,f2" + (",f1" if variant == "duplicate" else "")
    rows = []
    for i in range(1, N + 1):
        f2 = "inf" if variant == "nan" and i == 5 else ("" if variant == "nan" and i == 2 else "0.5")
        rows.append(f"{i:03d},{i % 2},{i * 0.1:.1f},{f2}" + (",9" if variant == "duplicate" else ""))
    _byo_study(tmp_path, "\n".join([header, *rows]) + "\n", clinical={})
    result = snakemake(tmp_path, "results/features.csv", check=False)
    console = _console(result)
    assert result.returncode == 1
    assert f"radsnake: Feature table {tmp_path / 'own.tsv'} (config features_table)" in console
    assert expected in console, console[-3000:]
    assert not (tmp_path / "results" / "features.csv").exists()


def _image_study(root, rows):
    lines = ["case_id,image,mask,label"]
    for number, (case_id, image, mask) in enumerate(rows):
        for name, content in ((f"img{number}.nii.gz", image), (f"msk{number}.nii.gz", mask)):
            (root / name).write_bytes(content.encode() * 100)
        lines.append(f"{case_id},img{number}.nii.gz,msk{number}.nii.gz,{number % 2}")
    (root / "cohort.csv").write_text("\n".join(lines) + "\n")
    config = copy.deepcopy(FAST_CONFIG)
    config.update(cohort="cohort.csv", clinical={})
    write_config(root, config)


def test_one_identity_per_patient_stops_before_any_job(tmp_path):
    _image_study(tmp_path, [("P001", "a", "m"), ("P002", "b", "n"), ("p001", "c", "o"), ("P004", "b", "n")])
    result = snakemake(tmp_path, check=False)
    console = " ".join(_console(result).split())
    assert result.returncode == 1
    assert f"radsnake: Cohort sheet {tmp_path / 'cohort.csv'} has 2 problem(s):" in console
    assert "case ids of rows 2 ('P001'), 4 ('p001') differ only in upper/lower case" in console
    assert (
        f"rows 3 (case_id 'P002'), 5 (case_id 'P004'): their image files hold the same bytes ({tmp_path / 'img1.nii.gz'}), "
        f"and so do their masks ({tmp_path / 'msk1.nii.gz'}): one patient entered twice"
    ) in console
    assert "Select jobs to execute" not in console and not (tmp_path / "results").exists()


def test_excel_sheet_is_refused_before_any_job(tmp_path):
    _image_study(tmp_path, [("P001", "a", "m")])
    with zipfile.ZipFile(tmp_path / "cohort.xlsx", "w") as book:
        book.writestr("[Content_Types].xml", "<Types/>")
    config = copy.deepcopy(FAST_CONFIG)
    config.update(cohort="cohort.xlsx", clinical={})
    write_config(tmp_path, config)
    result = snakemake(tmp_path, check=False)
    assert result.returncode == 1
    assert (
        f"radsnake: Cohort sheet {tmp_path / 'cohort.xlsx'}: this is an Excel file: save it as CSV (UTF-8)"
        in _console(result)
    )
    assert not (tmp_path / "results").exists()


def test_rows_sharing_an_image_with_other_masks_are_flagged(tmp_path):
    """Two lesions of one patient (or a row copied without its image corrected): the run
    goes on, with a warning naming the rows."""
    _image_study(tmp_path, [("L1", "a", "m"), ("L2", "a", "n")])
    result = snakemake(tmp_path, "-n", "results/qc/qc.csv")
    assert (
        f"radsnake: warning: cohort sheet {tmp_path / 'cohort.csv'}: rows 2 (case_id 'L1'), 3 (case_id 'L2'): "
        f"their image files hold the same bytes ({tmp_path / 'img0.nii.gz'}) with different masks"
    ) in _console(result)
