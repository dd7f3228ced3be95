"""The shipped demo study, as `make demo` runs it, with its negative control and model comparison."""

import shutil

import pandas as pd
import pytest
import yaml

from browser import assert_report_reads_in_a_browser
from conftest import REPO, snakemake
from interval_checks import check_no_zero_width_interval_shown

pytestmark = pytest.mark.workflow

SIGNAL_FEATURES = {
    "original_shape_Sphericity",
    "original_shape_Flatness",
    "original_shape_Elongation",
    "original_shape_Maximum3DDiameter",
    "original_gldm_DependenceEntropy",
    "original_glszm_ZoneEntropy",
}


# The demo config as shipped, with internal validation off on top (a second --configfile,
# as a user overrides a study's config). Validation writes only results/validation/ and
# its two figures, which no other job reads, so every number these tests assert is the one
# `make demo` gives. Validation is tested where it is the point: test_validation*.py (its
# statistics, report pages and intervals, four models), test_slurm.py (its chunks on a
# cluster), test_weak_signal.py (without a signature) (docs/development.md, "Test tiers").
VALIDATION_OVERRIDE = {"validation": {"enabled": False}}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A copy of the clone's config/ folder: the demo config's study_dir (../..) is the copy's root.
    Without what `make demo` leaves in it (the survival demo's study folder is config/demo-survival)."""
    workdir = tmp_path_factory.mktemp("demo")
    outputs = shutil.ignore_patterns(".snakemake", "results", "logs", "benchmarks", "split")
    shutil.copytree(REPO / "config", workdir / "config", ignore=outputs)
    (workdir / "validation.yaml").write_text(yaml.safe_dump(VALIDATION_OVERRIDE))
    run_demo(workdir, timeout=3000)
    return workdir


def demo_config(workdir):
    return workdir / "config" / "demo" / "config.yaml"


def run_demo(workdir, *args, timeout):
    """The demo's command on its shipped config, the validation override above given after it."""
    return snakemake(workdir, *args, "--configfile", str(workdir / "validation.yaml"), timeout=timeout,
                     configfile=demo_config(workdir))


# Centres C and D are the two external cohorts, each reported on its own, then pooled.
SETS = ["train", "test", "external_C", "external_D", "external"]


def held_out(metrics):
    return metrics[metrics["set"] != "train"]


def test_every_model_beats_chance_on_held_out_sets(demo):
    metrics = pd.read_csv(demo / "results" / "evaluation" / "metrics.csv")
    assert list(dict.fromkeys(metrics["set"])) == SETS
    assert (held_out(metrics)["auc_ci_low"] > 0.5).all(), held_out(metrics).to_string()


@pytest.fixture(scope="module")
def report_html(demo):
    """The report as `make demo` builds it (its second command), built once for the tests reading it."""
    run_demo(demo, "--report", str(demo / "report.html"), timeout=1200)
    return (demo / "report.html").read_text(errors="replace")


def test_two_external_cohorts_reported_separately(demo, report_html):
    metrics = pd.read_csv(demo / "results" / "evaluation" / "metrics.csv")
    n = metrics[metrics["model"] == "radscore"].set_index("set")["n"]
    split = pd.read_csv(demo / "results" / "split.csv", dtype=str)
    sheet = pd.read_csv(demo / "config" / "demo" / "cohort.csv", dtype=str).merge(split, on="case_id")
    for centre in ("C", "D"):
        cases = sheet[sheet["center"] == centre]
        assert set(cases["set"]) == {f"external_{centre}"}
        assert n[f"external_{centre}"] == len(cases) >= 30
    assert n["external"] == n["external_C"] + n["external_D"]
    for centre in ("C", "D"):
        for kind in ("roc", "calibration", "decision_curve", "radscore_waterfall"):
            assert f"{kind}_external_{centre}.png" in report_html
    assert "roc_external.png" in report_html and "metrics.csv" in report_html


def test_signal_features_selected(demo):
    selected = pd.read_csv(demo / "results" / "selection" / "selected_features.csv")["feature"]
    # Filtered versions of a signal feature count too (same feature class and name).
    stems = {name.split("_", 1)[1] for name in SIGNAL_FEATURES}
    assert any(f.split("_", 1)[1] in stems for f in selected), selected.tolist()
    assert "original_shape_Sphericity" in set(selected)


def test_negative_control_gives_chance_auc_while_real_does_not(demo):
    """The control branch of the same run: permuted-label test AUC CIs contain 0.5, the real ones do not."""
    table = pd.read_csv(demo / "results" / "negative_control" / "metrics.csv")
    test = table[table["set"] == "test"]
    permuted, real = test[test["branch"] == "permuted"], test[test["branch"] == "real"]
    models = set(yaml.safe_load(demo_config(demo).read_text())["models"]["enabled"]) | {"radscore"}
    assert set(permuted["model"]) == set(real["model"]) == models
    assert ((permuted["auc_ci_low"] <= 0.5) & (permuted["auc_ci_high"] >= 0.5)).all(), permuted.to_string()
    assert (real["auc_ci_low"] > 0.5).all(), real.to_string()


def test_model_comparison_covers_every_model_and_selection(demo):
    config = yaml.safe_load(demo_config(demo).read_text())
    table = pd.read_csv(demo / "results" / "evaluation" / "model_comparison.csv")
    selections = ["main", *config["comparison"]["selections"]]
    assert sorted(map(tuple, table[["model", "selection"]].values.tolist())) == sorted(
        (model, selection) for model in config["models"]["enabled"] for selection in selections
    )


def test_report_shows_negative_control_and_comparison(demo, report_html):
    html = report_html
    for name in ("negative_control.png", "model_comparison.png", "model_comparison.csv", "Leakage negative control"):
        assert name in html, name
    # No interval of zero width shown as one (issue 18); the verdicts head the first page.
    check_no_zero_width_interval_shown(demo, demo / "report.html")
    assert "No model beats chance" not in html and "Verdicts." in html
    # The report `make demo` hands over, as a reader opens it.
    assert_report_reads_in_a_browser(demo / "report.html")


def test_zero_width_intervals_have_reasons_and_verdicts_say_signal(demo):
    """Issue 18: the demo's zero-width intervals (bootstrap proportions at 1, a training AUC of 1)
    carry their reason; every model's verdict says it beats chance and where it beats the
    negative control (the rad-score on every held-out set)."""
    summary = check_no_zero_width_interval_shown(demo)
    boot = pd.read_csv(demo / "results" / "evaluation" / "bootstrap_ci.csv")
    at_one = boot[(boot["ci_low"] == boot["ci_high"]) & (boot["estimate"] == 1.0) & (boot["metric"] != "auc")]
    assert not at_one.empty and (at_one["clopper_pearson_low"] < 1.0).all()
    assert "Clopper\u2013Pearson" in summary
    verdicts = pd.read_csv(demo / "results" / "evaluation" / "verdicts.csv")
    assert verdicts["beats_chance"].all(), verdicts.to_string()
    assert verdicts["verdict"].str.contains("leakage negative control on").all(), verdicts.to_string()
    radscore = verdicts.set_index("model").loc["radscore", "verdict"]
    assert "beats the leakage negative control on test, external_C, external_D, external." in radscore
