"""Feature dictionary on the column names of real extractions (ct.yaml, and every
PyRadiomics filter), and on the table layout of results/features.csv."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from radsnake.imaging.demo import make_case
from radsnake.imaging.dictionary import COLUMNS, IBSI_FEATURES, feature_dictionary
from radsnake.jobs.aggregate import write_feature_dictionary
from radsnake.core.errors import InputError
from input_factory import extract_one, without_provenance

REPO = Path(__file__).resolve().parents[1]
CT_PARAMS = REPO / "config" / "pyradiomics" / "ct.yaml"
# PyRadiomics features that IBSI does not define (see docs/ibsi.md).
NO_IBSI_COUNTERPART = {
    "firstorder_TotalEnergy",
    "glcm_MCC",
    "shape_Maximum2DDiameterSlice",
    "shape_Maximum2DDiameterColumn",
    "shape_Maximum2DDiameterRow",
}
# Every filter except LBP (needs scikit-image / trimesh, not installed), LoG with a
# fractional and an integer sigma, and a second wavelet level.
FILTER_PARAMS = """
imageType:
  Original: {}
  LoG: {sigma: [1.5, 2]}
  Wavelet: {level: 2}
  Square: {}
  SquareRoot: {}
  Logarithm: {}
  Exponential: {}
  Gradient: {}
featureClass:
  firstorder: [Mean]
setting:
  binWidth: 25
  preCrop: true
  padDistance: 5
"""
NON_FEATURES = ["case_id", "label", "center", "age", "sex"]


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    folder = tmp_path_factory.mktemp("case")
    image, mask = str(folder / "img.nii.gz"), str(folder / "msk.nii.gz")
    make_case("p1", 1, "A", 3, image, mask)
    return folder, image, mask


def extracted_columns(folder: Path, image: str, mask: str, params: Path) -> list[str]:
    out = folder / params.stem
    extract_one("p1", image, mask, str(params), 1, str(out / "f.csv"), str(out / "d.csv"))
    return without_provenance(pd.read_csv(out / "f.csv").columns)


@pytest.fixture(scope="module")
def ct_columns(case) -> list[str]:
    return extracted_columns(*case, CT_PARAMS)


@pytest.fixture(scope="module")
def filter_columns(case) -> list[str]:
    folder = case[0]
    params = folder / "filters.yaml"
    params.write_text(FILTER_PARAMS)
    return extracted_columns(*case, params)


def test_ct_preset_columns(ct_columns):
    table = feature_dictionary(ct_columns)
    assert list(table.columns) == COLUMNS
    assert table["feature"].tolist() == ct_columns
    assert len(table) > 1000
    assert (table["modality"] == "").all()
    assert set(table["family"]) == {"firstorder", "shape", "glcm", "glrlm", "glszm", "gldm", "ngtdm"}
    assert set(table["filter"]) == {"none", "LoG", "wavelet"}
    log = table[table["filter"] == "LoG"]
    assert set(log["filter_parameters"]) == {f"sigma={s}.0 mm" for s in range(1, 6)}
    assert set(log["image_type"]) == {f"log-sigma-{s}-0-mm-3D" for s in range(1, 6)}
    wavelet = table[table["filter"] == "wavelet"]
    bands = {a + b + c for a in "LH" for b in "LH" for c in "LH"}
    assert set(wavelet["filter_parameters"]) == {f"band={band}" for band in bands}
    assert (table.loc[table["filter"] == "none", "filter_parameters"] == "").all()
    # Shape is computed on the mask once, so only the original image has it.
    assert set(table.loc[table["family"] == "shape", "image_type"]) == {"original"}

    row = table.set_index("feature").loc["original_glcm_Contrast"]
    assert (row["pyradiomics_name"], row["ibsi_code"], row["image_type"]) == ("glcm_Contrast", "ACUI", "original")
    row = table.set_index("feature").loc["wavelet-LLH_gldm_SmallDependenceEmphasis"]
    assert (row["filter"], row["filter_parameters"], row["family"]) == ("wavelet", "band=LLH", "gldm")
    assert row["ibsi_code"] == "SODN"


def test_every_ct_feature_has_an_ibsi_code_or_none_exists(ct_columns):
    table = feature_dictionary(ct_columns)
    names = set(table["pyradiomics_name"])
    uncoded = set(table.loc[table["ibsi_code"] == "", "pyradiomics_name"])
    assert uncoded == NO_IBSI_COUNTERPART
    assert names - uncoded <= set(IBSI_FEATURES)
    # A feature keeps its code on every image type.
    assert table.groupby("pyradiomics_name")["ibsi_code"].nunique().max() == 1


def test_every_filter_is_named(filter_columns):
    table = feature_dictionary(filter_columns).set_index("image_type")
    assert table.loc["original", "filter"] == "none"
    assert table.loc["log-sigma-1-5-mm-3D", ["filter", "filter_parameters"]].tolist() == ["LoG", "sigma=1.5 mm"]
    assert table.loc["log-sigma-2-mm-3D", ["filter", "filter_parameters"]].tolist() == ["LoG", "sigma=2.0 mm"]
    assert table.loc["wavelet-HLH", "filter_parameters"] == "band=HLH"
    assert table.loc["wavelet2-HLH", ["filter", "filter_parameters"]].tolist() == ["wavelet", "band=HLH, level=2"]
    assert table.loc["wavelet2-LLL", "filter_parameters"] == "band=LLL, level=2"
    for name in ("square", "squareroot", "logarithm", "exponential", "gradient"):
        assert table.loc[name, ["filter", "filter_parameters"]].tolist() == [name, ""]
    assert (table["ibsi_code"] == "Q4LE").all()
    assert len(table) == 1 + 2 + 2 * 7 + 1 + 5


def test_lbp_names():
    # Names as PyRadiomics' getLBP2DImage / getLBP3DImage yield them.
    table = feature_dictionary(["lbp-2D_glcm_Contrast", "lbp-3D-m1_firstorder_Mean", "lbp-3D-k_firstorder_Mean"])
    assert table["filter"].tolist() == ["lbp-2D", "lbp-3D", "lbp-3D"]
    assert table["filter_parameters"].tolist() == ["", "level=1", "kurtosis"]


def test_modality_prefix(ct_columns):
    columns = ["CT_" + ct_columns[0], "PET_CT_" + ct_columns[-1], "t1-gd_original_shape_Sphericity"]
    table = feature_dictionary(columns)
    assert table["modality"].tolist() == ["CT", "PET_CT", "t1-gd"]
    assert table["image_type"].tolist() == [ct_columns[0].split("_")[0], ct_columns[-1].split("_")[0], "original"]
    assert table.loc[2, "ibsi_code"] == "QCFX"


@pytest.mark.parametrize(
    "column",
    [
        "case_id",
        "label",
        "age",
        "diagnostics_Versions_PyRadiomics",
        "original_glcm",
        "original_texture_Contrast",
        "median_glcm_Contrast",
        "log-sigma-1-mm_glcm_Contrast",
        "original_glcm_Contrast-2",
        "_original_glcm_Contrast",
    ],
)
def test_non_feature_columns_raise(column):
    with pytest.raises(ValueError, match=column.replace("-", r"\-")):
        feature_dictionary(["original_firstorder_Mean", column])


def test_write_feature_dictionary(tmp_path, ct_columns):
    # Layout of results/features.csv: case id, label, centre, clinical columns, features.
    values = {c: [float(i), float(i) + 0.5] for i, c in enumerate(ct_columns)}
    head = {"case_id": ["a", "b"], "label": [0, 1], "center": ["A", "B"], "age": [60, 70], "sex": ["F", "M"]}
    features = tmp_path / "features.csv"
    pd.DataFrame({**head, **values}).to_csv(features, index=False)
    out = tmp_path / "dictionary" / "features_dictionary.csv"

    write_feature_dictionary(str(features), str(out), NON_FEATURES)
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.columns) == COLUMNS
    assert table["feature"].tolist() == ct_columns
    assert table.equals(feature_dictionary(ct_columns).astype(table.dtypes.to_dict()))
    first = out.read_bytes()
    write_feature_dictionary(str(features), str(out), NON_FEATURES)
    assert out.read_bytes() == first

    # An undeclared clinical column is a user error: named with its file and the fix.
    with pytest.raises(InputError, match=r"features\.csv.*'sex'.*clinical columns"):
        write_feature_dictionary(str(features), str(tmp_path / "x.csv"), ["case_id", "label", "center", "age"])
    assert not (tmp_path / "x.csv").exists()
