"""Bring your own features: a table replaces the image steps, everything downstream is the same."""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from conftest import FAST_CONFIG, planned_jobs, snakemake, write_config

pytestmark = pytest.mark.workflow


def test_feature_table_skips_images(tmp_path):
    rng = np.random.default_rng(5)
    n = 60
    labels = np.arange(n) % 2
    # Two informative features among twenty; the rest is noise.
    features = rng.normal(size=(n, 20))
    features[:, 0] += 1.5 * labels
    features[:, 1] -= 1.2 * labels
    table = pd.DataFrame(features, columns=[f"own_{i}" for i in range(20)])
    table.insert(0, "case_id", [f"pt{i:02d}" for i in range(n)])
    table.to_csv(tmp_path / "own_features.csv", index=False)
    pd.DataFrame({"case_id": table["case_id"], "label": labels, "center": "H1"}).to_csv(
        tmp_path / "cohort.csv", index=False
    )
    config = dict(FAST_CONFIG, cohort="cohort.csv", features_table="own_features.csv", clinical={})
    config["split"] = {"method": "random", "test_fraction": 0.3}
    write_config(tmp_path, config)

    jobs = planned_jobs(tmp_path)
    assert "extract_features" not in jobs and jobs["import_features"] == 1
    snakemake(tmp_path)

    merged = pd.read_csv(tmp_path / "results" / "features.csv")
    assert merged.columns.tolist() == ["case_id", "label", "center", *table.columns[1:]]
    selected = pd.read_csv(tmp_path / "results" / "selection" / "selected_features.csv")["feature"]
    assert {"own_0", "own_1"} & set(selected)
    metrics = pd.read_csv(tmp_path / "results" / "evaluation" / "metrics.csv")
    assert (metrics.loc[metrics["set"] == "test", "auc"] > 0.6).all()
    # Provenance: no PyRadiomics params in this mode; the features table's hash instead.
    record = json.loads((tmp_path / "results" / "provenance.json").read_text())
    assert record["pyradiomics_params"] is None
    assert record["features_table"]["sha256"] == hashlib.sha256((tmp_path / "own_features.csv").read_bytes()).hexdigest()
    assert record["cohort_sheet"]["sha256"] == hashlib.sha256((tmp_path / "cohort.csv").read_bytes()).hexdigest()
