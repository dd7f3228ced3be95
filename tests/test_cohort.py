import itertools
import os

import pandas as pd
import pytest

from radsnake.io.cohort_sheet import load_cohort, read_feature_table, resolve_path
from radsnake.core.errors import InputError

SCHEMA = os.path.join(os.path.dirname(__file__), "..", "config", "schemas", "cohort.schema.yaml")


def write_sheet(tmp_path, rows, columns=("case_id", "image", "mask", "label")):
    """The sheet, and a file of its own bytes for every image and mask it names."""
    frame = pd.DataFrame(rows, columns=list(columns))
    for column in ("image", "mask"):
        for name in frame.get(column, []):
            if name.endswith(".nii.gz") and "nothere" not in name and "later" not in name:
                (tmp_path / name).write_bytes(name.encode())
    path = tmp_path / "cohort.csv"
    frame.to_csv(path, index=False)
    return str(path)


_ROWS = itertools.count()


def good_row(case_id="p1", label="1"):
    number = next(_ROWS)
    return [case_id, f"img{number}.nii.gz", f"msk{number}.nii.gz", label]


def test_valid_sheet_resolves_paths_relative_to_sheet(tmp_path):
    path = write_sheet(tmp_path, [good_row("p2", "0"), good_row("p1", "1")])
    cohort = load_cohort(path, SCHEMA, {}, need_images=True)
    assert list(cohort.index) == ["p1", "p2"]
    assert cohort.loc["p1", "image"] == os.path.join(str(tmp_path), pd.read_csv(path).set_index("case_id").loc["p1", "image"])
    assert cohort["label"].tolist() == [1, 0]
    assert (cohort["center"] == "").all()


@pytest.mark.parametrize(
    "rows, expected",
    [
        ([good_row("../x")], "row 2 (case_id '../x'): case_id '../x' is not a safe file name"),
        ([good_row("a/b")], "case_id 'a/b' is not a safe file name"),
        ([good_row("a b")], "case_id 'a b' is not a safe file name"),
        ([good_row("p1"), good_row("p1")], "case_id 'p1' appears in rows 2, 3"),
        ([good_row("p1", "2")], "row 2 (case_id 'p1'): label '2' is not binary"),
        ([good_row("p1", "yes")], "label 'yes' is not binary"),
        ([good_row("p1", "")], "row 2 (case_id 'p1'): 'label' is empty"),
    ],
)
def test_bad_rows_are_named(tmp_path, rows, expected):
    path = write_sheet(tmp_path, rows)
    with pytest.raises(InputError) as err:
        load_cohort(path, SCHEMA, {}, need_images=True)
    assert expected in str(err.value)
    assert path in str(err.value)


def test_cohort_column_names_a_safe_external_cohort(tmp_path):
    columns = ("case_id", "image", "mask", "label", "cohort")
    path = write_sheet(tmp_path, [[*good_row("p1"), "late-2024"], [*good_row("p2"), ""]], columns)
    assert load_cohort(path, SCHEMA, {}, need_images=True)["cohort"].tolist() == ["late-2024", ""]
    path = write_sheet(tmp_path, [[*good_row("p1"), "St Mary"]], columns)
    with pytest.raises(InputError, match="row 2 \\(case_id 'p1'\\): cohort 'St Mary' cannot be used in file names"):
        load_cohort(path, SCHEMA, {}, need_images=True)


def test_all_problems_listed_at_once(tmp_path):
    path = write_sheet(tmp_path, [good_row("a b"), good_row("ok", "3")])
    with pytest.raises(InputError, match="2 problem"):
        load_cohort(path, SCHEMA, {}, need_images=True)


def test_missing_column_named(tmp_path):
    path = write_sheet(tmp_path, [["p1", "img.nii.gz", "1"]], columns=("case_id", "image", "label"))
    with pytest.raises(InputError, match="lacks the column\\(s\\) mask"):
        load_cohort(path, SCHEMA, {}, need_images=True)


def test_mask_column_not_needed_for_own_features(tmp_path):
    path = write_sheet(tmp_path, [["p1", "1"]], columns=("case_id", "label"))
    assert list(load_cohort(path, SCHEMA, {}, need_images=False).index) == ["p1"]


def test_missing_file_named_with_row(tmp_path):
    path = write_sheet(tmp_path, [["p1", "nothere.nii.gz", "msk9.nii.gz", "1"]])
    with pytest.raises(InputError) as err:
        load_cohort(path, SCHEMA, {}, need_images=True)
    assert "row 2 (case_id 'p1'): image file" in str(err.value)
    assert "nothere.nii.gz does not exist" in str(err.value)


def test_generated_files_need_not_exist(tmp_path):
    path = write_sheet(tmp_path, [["p1", "later.nii.gz", "later_mask.nii.gz", "1"]])
    assert len(load_cohort(path, SCHEMA, {}, need_images=True, generated_files=True)) == 1


def test_clinical_columns_typed(tmp_path):
    path = write_sheet(
        tmp_path,
        [good_row("p1") + ["61", "F"], good_row("p2", "0") + ["x", "M"]],
        columns=("case_id", "image", "mask", "label", "age", "sex"),
    )
    with pytest.raises(InputError, match="row 3 \\(case_id 'p2'\\): clinical column 'age' is declared numeric"):
        load_cohort(path, SCHEMA, {"age": "numeric", "sex": "categorical"}, need_images=True)


def test_missing_sheet(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_cohort(str(tmp_path / "none.csv"), SCHEMA, {}, need_images=True)


def test_resolve_path_keeps_absolute():
    assert resolve_path("/data/a.nii", "config") == "/data/a.nii"
    assert resolve_path("../results/x.nii", "config") == "results/x.nii"


def test_feature_table_checks(tmp_path):
    sheet = write_sheet(tmp_path, [["p1", "1"], ["p2", "0"]], columns=("case_id", "label"))
    cohort = load_cohort(sheet, SCHEMA, {}, need_images=False)
    table = tmp_path / "own.csv"
    pd.DataFrame({"case_id": ["p2", "p1"], "label": [0, 1], "f1": [1.5, 2.5]}).to_csv(table, index=False)
    features = read_feature_table(str(table), cohort)
    assert list(features.index) == ["p1", "p2"] and list(features.columns) == ["f1"]
    pd.DataFrame({"case_id": ["p1"], "f1": [1.0]}).to_csv(table, index=False)
    with pytest.raises(InputError, match="no row for case\\(s\\) \\['p2'\\]"):
        read_feature_table(str(table), cohort)
    pd.DataFrame({"case_id": ["p1", "p2"], "f1": ["a", "b"]}).to_csv(table, index=False)
    with pytest.raises(InputError, match="not numeric"):
        read_feature_table(str(table), cohort)
