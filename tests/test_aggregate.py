import numpy as np
import pandas as pd
import pytest

from radsnake.jobs.aggregate import aggregate_features, import_features
from radsnake.imaging.aggregate import read_feature_rows
from radsnake.core.errors import InputError
from test_cohort import SCHEMA


def one_row(folder, case_id, values, columns=("f_a", "f_b")):
    path = folder / f"{case_id}.csv"
    pd.DataFrame([[case_id, *values]], columns=["case_id", *columns]).to_csv(path, index=False)
    return str(path)


def sheet(folder, rows):
    path = folder / "cohort.csv"
    pd.DataFrame(rows, columns=["case_id", "label", "center", "age"]).to_csv(path, index=False)
    return str(path)


def test_rows_sorted_joined_and_full_precision(tmp_path):
    files = [one_row(tmp_path, "b", [0.1 + 0.2, 2.0]), one_row(tmp_path, "a", [1 / 3, -5e-300])]
    sheet_path = sheet(tmp_path, [["a", 1, "X", 50], ["b", 0, "Y", 60]])
    out = tmp_path / "features.csv"
    aggregate_features(files, sheet_path, SCHEMA, {"age": "numeric"}, str(out))
    table = pd.read_csv(out)
    assert table.columns.tolist() == ["case_id", "label", "center", "age", "f_a", "f_b"]
    assert table["case_id"].tolist() == ["a", "b"]
    assert table["label"].tolist() == [1, 0]
    # Floats survive the round trip bit for bit.
    assert table.loc[0, "f_a"] == 1 / 3 and table.loc[1, "f_a"] == 0.1 + 0.2
    assert table.loc[0, "f_b"] == -5e-300


def test_different_feature_columns_named(tmp_path):
    files = [one_row(tmp_path, "a", [1, 2]), one_row(tmp_path, "b", [1, 2], columns=("f_a", "f_c"))]
    with pytest.raises(InputError, match="case b: .* different feature columns"):
        read_feature_rows(files)


def test_read_rows_matrix(tmp_path):
    files = [one_row(tmp_path, f"c{i}", [i, i * 2.5]) for i in range(5)]
    frame = read_feature_rows(files)
    assert frame.shape == (5, 2) and frame.dtypes.eq(np.float64).all()


def test_bring_your_own_table(tmp_path):
    sheet_path = sheet(tmp_path, [["a", 1, "X", 50], ["b", 0, "Y", 60]])
    own = tmp_path / "own.csv"
    pd.DataFrame({"case_id": ["b", "a", "z"], "texture": [1.0, 2.0, 3.0]}).to_csv(own, index=False)
    out = tmp_path / "features.csv"
    import_features(str(own), sheet_path, SCHEMA, {"age": "numeric"}, str(out))
    table = pd.read_csv(out)
    assert table["case_id"].tolist() == ["a", "b"] and table["texture"].tolist() == [2.0, 1.0]


def test_feature_named_like_sheet_column(tmp_path):
    files = [one_row(tmp_path, "a", [1, 2], columns=("age", "f_b"))]
    with pytest.raises(InputError, match="clash"):
        aggregate_features(files, sheet(tmp_path, [["a", 1, "X", 50]]), SCHEMA, {"age": "numeric"}, str(tmp_path / "o.csv"))
