"""The shipped demo study, as `make demo` runs it, plus its negative control."""

import shutil

import pandas as pd
import pytest

from conftest import REPO, snakemake

pytestmark = pytest.mark.workflow

SIGNAL_FEATURES = {
    "original_shape_Sphericity",
    "original_shape_Flatness",
    "original_shape_Elongation",
    "original_shape_Maximum3DDiameter",
    "original_gldm_DependenceEntropy",
    "original_glszm_ZoneEntropy",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("demo")
    shutil.copytree(REPO / "config", workdir / "config")
    snakemake(workdir, timeout=3000)
    return workdir


# Centres C and D are the two external cohorts, each reported on its own, then pooled.
SETS = ["train", "test", "external_C", "external_D", "external"]


def held_out(metrics):
    return metrics[metrics["set"] != "train"]


def test_every_model_beats_chance_on_held_out_sets(demo):
    metrics = pd.read_csv(demo / "results" / "evaluation" / "metrics.csv")
    assert list(dict.fromkeys(metrics["set"])) == SETS
    assert (held_out(metrics)["auc_ci_low"] > 0.5).all(), held_out(metrics).to_string()


def test_two_external_cohorts_reported_separately(demo):
    metrics = pd.read_csv(demo / "results" / "evaluation" / "metrics.csv")
    n = metrics[metrics["model"] == "radscore"].set_index("set")["n"]
    split = pd.read_csv(demo / "results" / "split.csv", dtype=str)
    sheet = pd.read_csv(demo / "config" / "cohort.csv", dtype=str).merge(split, on="case_id")
    for centre in ("C", "D"):
        cases = sheet[sheet["center"] == centre]
        assert set(cases["set"]) == {f"external_{centre}"}
        assert n[f"external_{centre}"] == len(cases) >= 30
    assert n["external"] == n["external_C"] + n["external_D"]

    snakemake(demo, "--report", str(demo / "report.html"), timeout=600)
    html = (demo / "report.html").read_text(errors="replace")
    for centre in ("C", "D"):
        for kind in ("roc", "calibration", "decision_curve", "radscore_waterfall"):
            assert f"{kind}_external_{centre}.png" in html
    assert "roc_external.png" in html and "metrics.csv" in html


def test_signal_features_selected(demo):
    selected = pd.read_csv(demo / "results" / "selection" / "selected_features.csv")["feature"]
    # Filtered versions of a signal feature count too (same feature class and name).
    stems = {name.split("_", 1)[1] for name in SIGNAL_FEATURES}
    assert any(f.split("_", 1)[1] in stems for f in selected), selected.tolist()
    assert "original_shape_Sphericity" in set(selected)


def test_permuted_labels_give_chance_auc(demo):
    switch = demo / "permuted.yaml"
    switch.write_text("negative_control:\n  permute_labels: true\n")
    snakemake(demo, "--configfile", str(switch), timeout=3000)
    metrics = pd.read_csv(demo / "results" / "evaluation" / "metrics.csv")
    test = metrics[metrics["set"] == "test"]
    assert ((test["auc_ci_low"] <= 0.5) & (test["auc_ci_high"] >= 0.5)).all(), test.to_string()
