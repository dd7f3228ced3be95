"""Feature dictionary: what every feature column of results/features.csv means.

A column is ``[<modality>_]<image type>_<class>_<feature>``, as PyRadiomics names its
features (``<image type>_<class>_<feature>``), optionally behind a modality prefix.
PyRadiomics' image type names use hyphens, never underscores, so the last three
``_``-separated parts are always image type, class and feature, and whatever precedes
them is the modality.

IBSI codes are the permanent four-character identifiers of the Image Biomarker
Standardisation Initiative reference manual (IBSI-1, Zwanenburg et al., Radiology 2020;
https://ibsi.readthedocs.io), copied from the IBSI-1 reference value table
(``reference_values.csv`` of the IBSI data sets). A code is given where PyRadiomics
computes the IBSI feature of that name; tests/test_ibsi.py checks every code and name
below against that table and the feature values against the digital phantom, and
docs/ibsi.md lists the features whose PyRadiomics values differ from IBSI's (they keep
their code, as they are the same feature up to a documented convention).
"""

from __future__ import annotations

import re

import pandas as pd


COLUMNS = [
    "feature",
    "modality",
    "image_type",
    "filter",
    "filter_parameters",
    "family",
    "pyradiomics_name",
    "ibsi_code",
]

# PyRadiomics feature classes; shape2D is what force2D extraction names its shape class.
FAMILIES = ("firstorder", "shape", "shape2D", "glcm", "glrlm", "glszm", "gldm", "ngtdm")

# PyRadiomics feature (class_feature) -> (IBSI code, IBSI feature name). PyRadiomics
# features absent here have no IBSI counterpart: TotalEnergy, StandardDeviation, the
# three Maximum2DDiameter features, GLCM MCC, and anything of shape2D.
IBSI_FEATURES: dict[str, tuple[str, str]] = {
    # Morphological features
    "shape_MeshVolume": ("RNU0", "Volume (mesh)"),
    "shape_VoxelVolume": ("YEKZ", "Volume (voxel counting)"),
    "shape_SurfaceArea": ("C0JK", "Surface area (mesh)"),
    "shape_SurfaceVolumeRatio": ("2PR5", "Surface to volume ratio"),
    "shape_Compactness1": ("SKGS", "Compactness 1"),
    "shape_Compactness2": ("BQWJ", "Compactness 2"),
    "shape_SphericalDisproportion": ("KRCK", "Spherical disproportion"),
    "shape_Sphericity": ("QCFX", "Sphericity"),
    "shape_Maximum3DDiameter": ("L0JK", "Maximum 3D diameter"),
    "shape_MajorAxisLength": ("TDIC", "Major axis length"),
    "shape_MinorAxisLength": ("P9VJ", "Minor axis length"),
    "shape_LeastAxisLength": ("7J51", "Least axis length"),
    "shape_Elongation": ("Q3CK", "Elongation"),
    "shape_Flatness": ("N17B", "Flatness"),
    # First order: PyRadiomics computes these on the intensities themselves (IBSI's
    # intensity-based statistics), except Entropy and Uniformity, which it computes on
    # the discretised histogram (IBSI's intensity histogram features).
    "firstorder_Mean": ("Q4LE", "Mean intensity"),
    "firstorder_Variance": ("ECT3", "Intensity variance"),
    "firstorder_Skewness": ("KE2A", "Intensity skewness"),
    "firstorder_Kurtosis": ("IPH6", "(Excess) intensity kurtosis"),
    "firstorder_Median": ("Y12H", "Median intensity"),
    "firstorder_Minimum": ("1GSF", "Minimum intensity"),
    "firstorder_10Percentile": ("QG58", "10th intensity percentile"),
    "firstorder_90Percentile": ("8DWT", "90th intensity percentile"),
    "firstorder_Maximum": ("84IY", "Maximum intensity"),
    "firstorder_InterquartileRange": ("SALO", "Intensity interquartile range"),
    "firstorder_Range": ("2OJQ", "Intensity range"),
    "firstorder_MeanAbsoluteDeviation": ("4FUA", "Intensity-based mean absolute deviation"),
    "firstorder_RobustMeanAbsoluteDeviation": ("1128", "Intensity-based robust mean absolute deviation"),
    "firstorder_Energy": ("N8CA", "Intensity-based energy"),
    "firstorder_RootMeanSquared": ("5ZWQ", "Root mean square intensity"),
    "firstorder_Entropy": ("TLU2", "Discretised intensity entropy"),
    "firstorder_Uniformity": ("BJ5W", "Discretised intensity uniformity"),
    # Grey level co-occurrence matrix
    "glcm_MaximumProbability": ("GYBY", "Joint maximum"),
    "glcm_JointAverage": ("60VM", "Joint average"),
    "glcm_SumSquares": ("UR99", "Joint variance"),
    "glcm_JointEntropy": ("TU9B", "Joint entropy"),
    "glcm_DifferenceAverage": ("TF7R", "Difference average"),
    "glcm_DifferenceVariance": ("D3YU", "Difference variance"),
    "glcm_DifferenceEntropy": ("NTRS", "Difference entropy"),
    "glcm_SumAverage": ("ZGXS", "Sum average"),
    "glcm_SumEntropy": ("P6QZ", "Sum entropy"),
    "glcm_JointEnergy": ("8ZQL", "Angular second moment"),
    "glcm_Contrast": ("ACUI", "Contrast"),
    "glcm_Id": ("IB1Z", "Inverse difference"),
    "glcm_Idn": ("NDRX", "Normalised inverse difference"),
    "glcm_Idm": ("WF0Z", "Inverse difference moment"),
    "glcm_Idmn": ("1QCO", "Normalised inverse difference moment"),
    "glcm_InverseVariance": ("E8JP", "Inverse variance"),
    "glcm_Correlation": ("NI2N", "Correlation"),
    "glcm_Autocorrelation": ("QWB0", "Autocorrelation"),
    "glcm_ClusterTendency": ("DG8W", "Cluster tendency"),
    "glcm_ClusterShade": ("7NFM", "Cluster shade"),
    "glcm_ClusterProminence": ("AE86", "Cluster prominence"),
    "glcm_Imc1": ("R8DG", "Information correlation 1"),
    "glcm_Imc2": ("JN9H", "Information correlation 2"),
    # Grey level run length matrix
    "glrlm_ShortRunEmphasis": ("22OV", "Short runs emphasis"),
    "glrlm_LongRunEmphasis": ("W4KF", "Long runs emphasis"),
    "glrlm_LowGrayLevelRunEmphasis": ("V3SW", "Low grey level run emphasis"),
    "glrlm_HighGrayLevelRunEmphasis": ("G3QZ", "High grey level run emphasis"),
    "glrlm_ShortRunLowGrayLevelEmphasis": ("HTZT", "Short run low grey level emphasis"),
    "glrlm_ShortRunHighGrayLevelEmphasis": ("GD3A", "Short run high grey level emphasis"),
    "glrlm_LongRunLowGrayLevelEmphasis": ("IVPO", "Long run low grey level emphasis"),
    "glrlm_LongRunHighGrayLevelEmphasis": ("3KUM", "Long run high grey level emphasis"),
    "glrlm_GrayLevelNonUniformity": ("R5YN", "Grey level non-uniformity"),
    "glrlm_GrayLevelNonUniformityNormalized": ("OVBL", "Normalised grey level non-uniformity"),
    "glrlm_RunLengthNonUniformity": ("W92Y", "Run length non-uniformity"),
    "glrlm_RunLengthNonUniformityNormalized": ("IC23", "Normalised run length non-uniformity"),
    "glrlm_RunPercentage": ("9ZK5", "Run percentage"),
    "glrlm_GrayLevelVariance": ("8CE5", "Grey level variance"),
    "glrlm_RunVariance": ("SXLW", "Run length variance"),
    "glrlm_RunEntropy": ("HJ9O", "Run entropy"),
    # Grey level size zone matrix
    "glszm_SmallAreaEmphasis": ("5QRC", "Small zone emphasis"),
    "glszm_LargeAreaEmphasis": ("48P8", "Large zone emphasis"),
    "glszm_LowGrayLevelZoneEmphasis": ("XMSY", "Low grey level zone emphasis"),
    "glszm_HighGrayLevelZoneEmphasis": ("5GN9", "High grey level zone emphasis"),
    "glszm_SmallAreaLowGrayLevelEmphasis": ("5RAI", "Small zone low grey level emphasis"),
    "glszm_SmallAreaHighGrayLevelEmphasis": ("HW1V", "Small zone high grey level emphasis"),
    "glszm_LargeAreaLowGrayLevelEmphasis": ("YH51", "Large zone low grey level emphasis"),
    "glszm_LargeAreaHighGrayLevelEmphasis": ("J17V", "Large zone high grey level emphasis"),
    "glszm_GrayLevelNonUniformity": ("JNSA", "Grey level non-uniformity"),
    "glszm_GrayLevelNonUniformityNormalized": ("Y1RO", "Normalised grey level non-uniformity"),
    "glszm_SizeZoneNonUniformity": ("4JP3", "Zone size non-uniformity"),
    "glszm_SizeZoneNonUniformityNormalized": ("VB3A", "Normalised zone size non-uniformity"),
    "glszm_ZonePercentage": ("P30P", "Zone percentage"),
    "glszm_GrayLevelVariance": ("BYLV", "Grey level variance"),
    "glszm_ZoneVariance": ("3NSA", "Zone size variance"),
    "glszm_ZoneEntropy": ("GU8N", "Zone size entropy"),
    # Neighbourhood grey tone difference matrix
    "ngtdm_Coarseness": ("QCDE", "Coarseness"),
    "ngtdm_Contrast": ("65HE", "Contrast"),
    "ngtdm_Busyness": ("NQ30", "Busyness"),
    "ngtdm_Complexity": ("HDEZ", "Complexity"),
    "ngtdm_Strength": ("1X9X", "Strength"),
    # Grey level dependence matrix: IBSI's neighbouring grey level dependence matrix
    "gldm_SmallDependenceEmphasis": ("SODN", "Low dependence emphasis"),
    "gldm_LargeDependenceEmphasis": ("IMOQ", "High dependence emphasis"),
    "gldm_LowGrayLevelEmphasis": ("TL9H", "Low grey level count emphasis"),
    "gldm_HighGrayLevelEmphasis": ("OAE7", "High grey level count emphasis"),
    "gldm_SmallDependenceLowGrayLevelEmphasis": ("EQ3F", "Low dependence low grey level emphasis"),
    "gldm_SmallDependenceHighGrayLevelEmphasis": ("JA6D", "Low dependence high grey level emphasis"),
    "gldm_LargeDependenceLowGrayLevelEmphasis": ("NBZI", "High dependence low grey level emphasis"),
    "gldm_LargeDependenceHighGrayLevelEmphasis": ("9QMG", "High dependence high grey level emphasis"),
    "gldm_GrayLevelNonUniformity": ("FP8K", "Grey level non-uniformity"),
    "gldm_GrayLevelNonUniformityNormalized": ("5SPA", "Normalised grey level non-uniformity"),
    "gldm_DependenceNonUniformity": ("Z87G", "Dependence count non-uniformity"),
    "gldm_DependenceNonUniformityNormalized": ("OKJI", "Normalised dependence count non-uniformity"),
    "gldm_DependencePercentage": ("6XV8", "Dependence count percentage"),
    "gldm_GrayLevelVariance": ("1PFV", "Grey level variance"),
    "gldm_DependenceVariance": ("DNX2", "Dependence count variance"),
    "gldm_DependenceEntropy": ("FCBV", "Dependence count entropy"),
}

_SIMPLE_FILTERS = ("square", "squareroot", "logarithm", "exponential", "gradient")
_LOG = re.compile(r"log-sigma-(\d+(?:-\d+)?)-mm-([23]D)")
_WAVELET = re.compile(r"wavelet(\d*)-([LH]+)")
_LBP3D = re.compile(r"lbp-3D-(m(\d+)|k)")
_FEATURE = re.compile(r"[A-Za-z0-9]+")


def parse_image_type(image_type: str) -> tuple[str, str]:
    """(filter, filter_parameters) of a PyRadiomics image type name; ValueError if unknown."""
    if image_type == "original":
        return "none", ""
    if image_type in _SIMPLE_FILTERS:
        return image_type, ""
    if image_type == "lbp-2D":
        return "lbp-2D", ""
    match = _LOG.fullmatch(image_type)
    if match:
        # PyRadiomics writes sigma 1.5 as "1-5"; an integer sigma in the params has no "-".
        sigma = float(match.group(1).replace("-", ".", 1))
        return "LoG", f"sigma={sigma!r} mm"
    match = _WAVELET.fullmatch(image_type)
    if match:
        level = match.group(1)
        return "wavelet", f"band={match.group(2)}" + (f", level={level}" if level else "")
    match = _LBP3D.fullmatch(image_type)
    if match:
        return "lbp-3D", f"level={match.group(2)}" if match.group(2) else "kurtosis"
    raise ValueError(f"{image_type!r} is not a PyRadiomics image type")


def describe_feature(column: str) -> dict[str, str]:
    """One dictionary row for a feature column; ValueError if it is not a feature name."""
    parts = column.split("_")
    if len(parts) < 3:
        raise ValueError(f"column {column!r} is not a feature: expected [<modality>_]<imagetype>_<class>_<feature>")
    *modality, image_type, family, name = parts
    if family not in FAMILIES:
        raise ValueError(f"column {column!r} is not a feature: {family!r} is not a PyRadiomics feature class")
    if not _FEATURE.fullmatch(name):
        raise ValueError(f"column {column!r} is not a feature: {name!r} is not a PyRadiomics feature name")
    try:
        filter_name, filter_parameters = parse_image_type(image_type)
    except ValueError as err:
        raise ValueError(f"column {column!r} is not a feature: {err}") from None
    if any(not part for part in modality):
        raise ValueError(f"column {column!r} has an empty modality prefix part")
    pyradiomics_name = f"{family}_{name}"
    return {
        "feature": column,
        "modality": "_".join(modality),
        "image_type": image_type,
        "filter": filter_name,
        "filter_parameters": filter_parameters,
        "family": family,
        "pyradiomics_name": pyradiomics_name,
        "ibsi_code": IBSI_FEATURES.get(pyradiomics_name, ("", ""))[0],
    }


def feature_dictionary(columns: list[str]) -> pd.DataFrame:
    """One row per feature column, in the given order; ValueError names every bad column."""
    rows, problems = [], []
    for column in columns:
        try:
            rows.append(describe_feature(column))
        except ValueError as err:
            problems.append(str(err))
    if problems:
        raise ValueError(f"{len(problems)} column(s) are not features: " + "; ".join(problems))
    return pd.DataFrame(rows, columns=COLUMNS)
