"""How sheets and tables are read (radsnake.io.sheets), and one identity per patient
(radsnake.io.identity, radsnake.io.cohort_sheet): the many file variants at unit level. The real
workflow runs on them are in test_sheets_workflow.py."""

import os
import zipfile

import numpy as np
import pytest

from radsnake.io import identity
from radsnake.io.cohort_sheet import load_cohort, read_feature_table
from radsnake.core.errors import InputError
from radsnake.io.sheets import read_table
from radsnake.cohort.split import read_locked

SCHEMA = os.path.join(os.path.dirname(__file__), "..", "config", "schemas", "cohort.schema.yaml")
ROWS = [["case_id", "label", "age", "sex"], ["001", "1", "61.5", "F"], ["002", "0", "70", "M"]]


def _text(rows, sep):
    return "".join(sep.join(row) + "\r\n" for row in rows)


@pytest.mark.parametrize(
    "encoding, sep",
    [("utf-8", ","), ("utf-8-sig", ","), ("utf-8-sig", ";"), ("utf-8", "\t"), ("utf-16", "\t")],
    ids=["plain", "bom", "bom-semicolon", "tab", "utf16-tab"],
)
def test_sheet_variants_read_alike(tmp_path, encoding, sep):
    path = tmp_path / "cohort.csv"
    rows = [[cell.replace(".", ",") if sep != "," else cell for cell in row] for row in ROWS]
    path.write_bytes(_text(rows, sep).encode(encoding))
    cohort = load_cohort(str(path), SCHEMA, {"age": "numeric", "sex": "categorical"}, need_images=False)
    assert list(cohort.index) == ["001", "002"]
    assert cohort["age"].tolist() == [61.5, 70.0]
    assert cohort["sex"].tolist() == ["F", "M"] and cohort["label"].tolist() == [1, 0]


def test_cr_only_line_ends_read(tmp_path):
    path = tmp_path / "cohort.csv"
    path.write_bytes("\r".join(",".join(row) for row in ROWS).encode())
    assert list(read_table(str(path), "sheet")["case_id"]) == ["001", "002"]


def test_spreadsheets_are_refused_by_content(tmp_path):
    path = tmp_path / "cohort.csv"  # named .csv, but an .xlsx inside
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(InputError) as err:
        load_cohort(str(path), SCHEMA, {}, need_images=False)
    assert f"Cohort sheet {path}: this is an Excel file: save it as CSV (UTF-8)" in str(err.value)
    ods = tmp_path / "cohort.ods"
    with zipfile.ZipFile(ods, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
    with pytest.raises(InputError, match="this is an OpenDocument file: save it as CSV \\(UTF-8\\)"):
        read_table(str(ods), "sheet")
    xls = tmp_path / "cohort.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500))
    with pytest.raises(InputError, match="this is an Excel file"):
        read_table(str(xls), "sheet")


def test_trailing_separator_columns_are_dropped(tmp_path):
    path = tmp_path / "cohort.csv"
    path.write_text("case_id;label;;\n001;1;;\n")
    assert list(read_table(str(path), "sheet").columns) == ["case_id", "label"]
    path.write_text("case_id;label;\n001;1;x\n")
    with pytest.raises(InputError, match="column 3 has values but no name"):
        read_table(str(path), "sheet")


def _cohort(tmp_path, ids=("001", "002", "003")):
    sheet = tmp_path / "cohort.csv"
    sheet.write_text("case_id,label\n" + "".join(f"{case},{i % 2}\n" for i, case in enumerate(ids)))
    return load_cohort(str(sheet), SCHEMA, {}, need_images=False)


def test_feature_table_ids_are_text_and_decimal_commas_read(tmp_path):
    cohort = _cohort(tmp_path)
    table = tmp_path / "own.csv"
    table.write_bytes("\ufeffcase_id;f1;f2\r\n003;0,5;1\r\n001 ;1,25;2\r\n002;-3,0e2;3\r\n".encode())
    features = read_feature_table(str(table), cohort)
    assert list(features.index) == ["001", "002", "003"]
    assert features["f1"].tolist() == [1.25, -300.0, 0.5] and features["f2"].tolist() == [2, 3, 1]
    table.write_text("case_id\tf1\n001\t2\n002\t0,5\n003\t-1\n")  # whole numbers among decimal commas
    assert read_feature_table(str(table), cohort)["f1"].tolist() == [2.0, 0.5, -1.0]


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "case_id,f1,f2,f1,f2,f3\n001,1,2,3,4,5\n002,1,2,3,4,5\n003,1,2,3,4,5\n",
            ": column name(s) 'f1', 'f2' appear more than once in the header.",
        ),
        (
            "case_id,f1,f2,f3\n001,1,,1\n002,inf,2,1\n003,1,NA,1\n",
            " has 3 missing or infinite value(s), in column(s) 'f1', 'f2' of case(s) 001, 002, 003. "
            "Fill them in, or remove those columns or cases.",
        ),
    ],
    ids=["duplicate-columns", "nan-inf"],
)
def test_feature_table_problems_name_the_file_columns_and_cases(tmp_path, text, expected):
    cohort = _cohort(tmp_path)
    table = tmp_path / "own.csv"
    table.write_text(text)
    with pytest.raises(InputError) as err:
        read_feature_table(str(table), cohort)
    assert str(err.value).startswith(f"Feature table {table} (config features_table){expected}")


def test_feature_table_id_case_mismatch_hinted(tmp_path):
    cohort = _cohort(tmp_path, ids=("P001", "P002"))
    table = tmp_path / "own.csv"
    table.write_text("case_id,f1\np001,1\nP002,2\n")
    with pytest.raises(InputError, match="no row for case\\(s\\) \\['P001'\\].*it has 'p001' for 'P001'"):
        read_feature_table(str(table), cohort)


def test_locked_split_ids_are_text(tmp_path):
    locked = tmp_path / "locked.csv"
    locked.write_bytes("\ufeffcase_id;set\r\n001;test\r\n".encode())
    assert read_locked(str(locked)).to_dict("records") == [{"case_id": "001", "set": "test"}]


def _image_sheet(tmp_path, rows):
    """rows: (case_id, image bytes name, mask bytes name); files hold their name's bytes."""
    lines = ["case_id,image,mask,label"]
    for number, (case_id, image, mask) in enumerate(rows):
        for name, content in ((f"{case_id.strip()}_img{number}.nii", image), (f"{case_id.strip()}_msk{number}.nii", mask)):
            (tmp_path / name).write_bytes(content.encode() * 1000)
        lines.append(f"{case_id},{case_id.strip()}_img{number}.nii,{case_id.strip()}_msk{number}.nii,{number % 2}")
    path = tmp_path / "cohort.csv"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_ids_are_stripped(tmp_path):
    path = _image_sheet(tmp_path, [("P001 ", "a", "m"), (" P002", "b", "n")])
    assert list(load_cohort(path, SCHEMA, {}, need_images=True).index) == ["P001", "P002"]


def test_ids_differing_in_case_only_are_refused(tmp_path):
    path = _image_sheet(tmp_path, [("P001", "a", "m"), ("P002", "b", "n"), ("p001", "c", "o")])
    with pytest.raises(InputError) as err:
        load_cohort(path, SCHEMA, {}, need_images=True)
    assert "case ids of rows 2 ('P001'), 4 ('p001') differ only in upper/lower case" in str(err.value)


def test_rows_with_the_same_image_bytes(tmp_path):
    path = _image_sheet(tmp_path, [("A", "same", "m"), ("B", "other", "n"), ("C", "same", "m")])
    with pytest.raises(InputError) as err:
        load_cohort(path, SCHEMA, {}, need_images=True)
    assert "rows 2 (case_id 'A'), 4 (case_id 'C'): their image files hold the same bytes" in str(err.value)
    assert "and so do their masks" in str(err.value) and "one patient entered twice" in str(err.value)
    # Same image, other masks (two lesions, or a copied row): a warning, not a stop.
    path = _image_sheet(tmp_path, [("A", "same", "m"), ("B", "other", "n"), ("C", "same", "o")])
    cohort = load_cohort(path, SCHEMA, {}, need_images=True)
    assert len(cohort) == 3
    (note,) = cohort.attrs["notes"]
    assert note.startswith("rows 2 (case_id 'A'), 4 (case_id 'C'): their image files hold the same bytes")
    assert "with different masks" in note


def test_only_files_of_equal_size_are_read(tmp_path, monkeypatch):
    read = []
    monkeypatch.setattr(identity, "_sample_digest", lambda path, size: read.append(path) or open(path, "rb").read())
    monkeypatch.setattr(identity, "whole_file_digest", lambda path: read.append(path) or open(path, "rb").read())
    paths = {}
    for number in range(50):
        (tmp_path / f"f{number}").write_bytes(bytes(number + 1))  # all sizes differ
        paths[number] = str(tmp_path / f"f{number}")
    (tmp_path / "twin").write_bytes(bytes(7))
    (tmp_path / "alike").write_bytes(b"\x01" * 7)
    paths.update(twin=str(tmp_path / "twin"), alike=str(tmp_path / "alike"), link=str(tmp_path / "f3"))
    assert identity.same_content_groups(paths) == [[3, "link"], [6, "twin"]]
    # Only the three 7-byte files were read, sampled first; the whole of the two alike in
    # the samples (f3 and its link are one file: never read).
    assert sorted(os.path.basename(p) for p in read) == ["alike", "f6", "f6", "twin", "twin"]


def test_equal_sizes_are_told_apart_by_samples_not_whole_files(tmp_path, monkeypatch):
    """Uncompressed images of one geometry: same size, same air at both ends, different
    middles. They are told apart by the sampled blocks; no file is read whole."""
    whole = []
    monkeypatch.setattr(identity, "whole_file_digest", lambda path: whole.append(path) or b"")
    rng = np.random.default_rng(0)
    air = bytes(200_000)
    paths = {}
    for number in range(200):
        (tmp_path / f"c{number}.nii").write_bytes(air + rng.bytes(100_000) + air)
        paths[number] = str(tmp_path / f"c{number}.nii")
    (tmp_path / "empty1.nii").write_bytes(b"")
    (tmp_path / "empty2.nii").write_bytes(b"")
    paths.update(e1=str(tmp_path / "empty1.nii"), e2=str(tmp_path / "empty2.nii"))
    assert identity.same_content_groups(paths) == [] and whole == []
