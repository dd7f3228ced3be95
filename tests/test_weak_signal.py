"""Honest results on weak signal (issues 18 and 19): a selection that keeps nothing is said
so, no interval of zero width is shown as an interval, verdicts computed from the tables,
and a set too small for a statistic gives that statistic undefined with its reason."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import FAST_CONFIG, snakemake, write_config
from interval_checks import check_no_zero_width_interval_shown

pytestmark = pytest.mark.workflow


def own_study(folder, labels, features, config, clinical=None):
    table = pd.DataFrame(features, columns=[f"own_{i}" for i in range(features.shape[1])])
    table.insert(0, "case_id", [f"pt{i:03d}" for i in range(len(labels))])
    table.to_csv(folder / "own_features.csv", index=False)
    pd.DataFrame({"case_id": table["case_id"], "label": labels, "center": "H1", **(clinical or {})}).to_csv(
        folder / "cohort.csv", index=False
    )
    write_config(folder, {"cohort": "cohort.csv", "features_table": "own_features.csv", **config})


@pytest.fixture(scope="module")
def no_signal(tmp_path_factory):
    """About 110 patients whose labels are independent of their features; the default config
    with one clinical column (age), so that the clinical models run too."""
    folder = tmp_path_factory.mktemp("no_signal")
    rng = np.random.default_rng(2025)
    labels = rng.permutation(np.r_[np.zeros(60, int), np.ones(50, int)])
    features = rng.normal(size=(110, 30))
    own_study(folder, labels, features, {"validation": {"enabled": False}, "clinical": {"age": "numeric"}},
              clinical={"age": rng.integers(40, 80, size=110)})
    run = snakemake(folder)
    report = snakemake(folder, "--report", str(folder / "report.html"))
    return folder, run.stdout + run.stderr, report


def test_lasso_that_keeps_nothing_is_said_and_labelled(no_signal):
    folder, console, _ = no_signal
    lines = [line for line in console.splitlines() if "radsnake: no signature: selection 'main'" in line]
    assert len(lines) == 1 and "lasso: no coefficient is nonzero at lambda" in lines[0], console[-3000:]
    assert "rule: min" in lines[0] and "n_features" in lines[0]
    metrics = pd.read_csv(folder / "results" / "evaluation" / "metrics.csv")
    assert metrics["no_signature"].fillna("").str.startswith("no signature").all(), metrics.to_string()
    summary = (folder / "results" / "evaluation" / "summary.md").read_text()
    assert summary.startswith("**Note:** no signature: selection 'main' kept no feature")
    assert "| radscore | test |" in summary and "0.50 (no signature)" in summary
    overview = (folder / "results" / "report_overview.rst").read_text()
    assert "no signature: selection 'main' kept no feature" in overview


def test_every_figure_and_clinical_table_says_no_signature(no_signal, monkeypatch, tmp_path):
    """The figures' jobs rerun on the study's own tables, each figure's text read before saving."""
    from matplotlib.text import Text

    from radsnake.figures import evaluation_figures, model_figures, style
    from radsnake.jobs import paper, plots

    folder, _, _ = no_signal
    shown = {}
    for module in (style, model_figures, evaluation_figures):  # each imports save_figure by name
        monkeypatch.setattr(module, "save_figure", lambda fig, png, pdf: shown.setdefault(
            Path(png).stem, " | ".join(t.get_text() for t in fig.findobj(Text) if t.get_text())))
    results = folder / "results"
    evaluation, metrics = results / "evaluation", results / "evaluation" / "metrics.csv"
    models = sorted(p.name for p in (results / "models").iterdir())
    monkeypatch.chdir(tmp_path)
    plots.plot_calibration(evaluation / "calibration_binned.csv", evaluation / "calibration_smoothed.csv",
                           evaluation / "calibration.csv", metrics, "test", "calibration.png", "c.pdf")
    plots.plot_decision_curve(evaluation / "decision_curves.csv", metrics, "test", "decision.png", "d.pdf")
    plots.plot_confusion(evaluation / "confusion_matrices.csv", metrics, "confusion.png", "m.pdf")
    plots.plot_importance({m: results / "models" / m / "importance.csv" for m in models}, metrics,
                          "importance.png", "i.pdf")
    plots.plot_waterfall(results / "selection" / "radscore.csv", metrics, "test", "waterfall.png", "w.pdf")
    plots.plot_radscore_violin(results / "selection" / "radscore.csv", metrics, "violin.png", "v.pdf")
    for figure in ("calibration", "decision", "confusion"):
        for model in ["radscore", *models]:
            assert f"{model} \u2014 no signature" in shown[figure], (figure, shown[figure])
    assert all(f"{m} \u2014 no signature" in shown["importance"] for m in models if m in shown["importance"])
    assert "no signature" in shown["importance"], shown["importance"]
    assert "Test set (n = " in shown["waterfall"] and ") \u2014 no signature" in shown["waterfall"]
    assert "Rad-score \u2014 no signature" in shown["violin"]
    # Clinical: the clinical model alone, the rad-score and the models built on it marked.
    clinical = {name: pd.read_csv(results / "clinical" / f"{name}.csv") for name in ("univariate", "multivariate", "metrics")}
    for name, table in clinical.items():
        marked = table[table["no_signature"].fillna("").str.startswith("no signature: the selection kept no feature")]
        assert set(marked["predictor" if "predictor" in table else "model"]) == (
            {"radscore"} if "predictor" in table else {"radiomics", "combined"}), (name, table.to_string())
        assert marked.filter(regex="^(odds_ratio|ci_low|ci_high|p_value|auc|auc_ci_low|auc_ci_high)$").isna().all().all()
    assert set(clinical["metrics"]["model"]) == {"clinical", "radiomics", "combined"}
    assert clinical["metrics"].query("model == 'clinical'")["auc"].notna().all()
    paper.clinical_comparison(
        results / "features.csv", results / "split.csv", results / "selection" / "radscore.csv", {"age": "numeric"},
        "youden", 0.9, 0.95, {**{name: tmp_path / f"{name}.csv" for name in (*clinical, "predictions", "delong")},
                              "nomogram_png": tmp_path / "nomogram.png", "nomogram_pdf": tmp_path / "n.pdf"},
        signature_json=results / "selection" / "signature.json",
    )
    assert "Clinical model alone (rad-score: no signature)" in shown["nomogram"], shown["nomogram"]


MARKED_TABLES = ("metrics", "calibration", "calibration_binned", "calibration_smoothed", "decision_curves",
                 "confusion_matrices", "bootstrap_ci", "summary", "verdicts", "delong", "model_comparison")


def test_every_table_listing_a_model_is_marked(no_signal):
    folder, _, _ = no_signal
    results = folder / "results"
    for name in MARKED_TABLES:
        table = pd.read_csv(results / "evaluation" / f"{name}.csv")
        assert len(table) and table["no_signature"].fillna("").str.startswith("no signature").all(), name
    radscore = pd.read_csv(results / "selection" / "radscore.csv")
    assert radscore["no_signature"].str.startswith("no signature: selection 'main' kept no feature").all()
    cv = pd.read_csv(results / "selection" / "lasso_cv.csv")
    assert cv["is_used"].sum() == 1 and cv.loc[cv["is_used"], "n_nonzero"].item() == 0


def test_validation_of_a_model_without_signature_is_marked(no_signal, monkeypatch, tmp_path):
    """The validate_model job on the study's own files (small settings), then its figures."""
    from matplotlib.text import Text

    from radsnake.figures import model_figures, validation_figures
    from radsnake.jobs import validation as validation_jobs
    from radsnake.ml import validation
    from radsnake.ml.settings import TrainingData

    folder, _, _ = no_signal
    results = folder / "results"
    out = {name: str(tmp_path / f"{name}.csv") for name in (
        "repeated_cv", "repeats", "nested_cv", "bootstrap", "learning_curve", "summary")}
    settings = {"folds": 2, "repeats": 1, "nested_outer_folds": 2, "bootstrap": 3,
                "learning_curve_sizes": [0.5, 1.0], "learning_curve_repeats": 1}
    training = TrainingData(str(results / "features.csv"), str(results / "split.csv"), ["age"], permute=False,
                            seed=42)
    validation_jobs.validate_chunk(
        training, ["logistic"], FAST_CONFIG["selection"]["steps"], {"logistic": {"C": [1.0]}}, 3, "class_weight",
        settings, 1, 1, str(tmp_path / "chunk.json"), str(tmp_path / "timings.csv"),
    )
    validation_jobs.validate_model(
        training, "logistic", settings, [str(tmp_path / "chunk.json")],
        *(out[name] for name in ("repeated_cv", "repeats", "nested_cv", "bootstrap", "learning_curve", "summary")),
        model_json=str(results / "models" / "logistic" / "model.json"),
    )
    for name, path in out.items():
        assert pd.read_csv(path)["no_signature"].str.startswith("no signature").all(), name
    validation_jobs.summarise_validation({"logistic": out["summary"]}, str(tmp_path / "all.csv"))
    summary = pd.read_csv(tmp_path / "all.csv")
    assert list(summary.columns) == validation.SUMMARY_COLUMNS and summary["no_signature"].notna().all()
    shown = {}

    def read_text(fig, png, pdf):
        shown[Path(png).stem] = " | ".join(t.get_text() for t in fig.findobj(Text) if t.get_text())

    monkeypatch.setattr(validation_figures, "save_snapped", read_text)
    monkeypatch.setattr(model_figures, "save_figure", read_text)
    validation_jobs.plot_validation_auc(tmp_path / "all.csv", tmp_path / "auc.png", tmp_path / "a.pdf")
    validation_jobs.plot_learning_curves({"logistic": out["learning_curve"]}, tmp_path / "curves.png",
                                 tmp_path / "c.pdf")
    model_figures.lasso_figure(pd.read_csv(results / "selection" / "lasso_path.csv"),
                               pd.read_csv(results / "selection" / "lasso_cv.csv"), tmp_path / "lasso.png",
                               tmp_path / "l.pdf")
    assert "logistic \u2014 no signature" in shown["auc"] and "logistic \u2014 no signature" in shown["curves"]
    assert "(used): keeps 0 features \u2014 no signature" in shown["lasso"], shown["lasso"]


def test_no_interval_without_width_is_shown(no_signal):
    folder, _, _ = no_signal
    check_no_zero_width_interval_shown(folder, folder / "report.html")
    assert "kept no feature" in (folder / "report.html").read_text(errors="replace")


def test_verdicts_say_no_model_beats_chance(no_signal):
    folder, _, _ = no_signal
    verdicts = pd.read_csv(folder / "results" / "evaluation" / "verdicts.csv")
    assert not verdicts["beats_chance"].any(), verdicts.to_string()
    assert "No model beats chance on any held-out set." in (folder / "results" / "evaluation" / "summary.md").read_text()


def test_four_positives_among_sixty_finish_with_reasons(tmp_path):
    """Issue 19, item 5: 4 positives among 60 cases; the test set gets 1, DeLong can't run there."""
    rng = np.random.default_rng(7)
    labels = np.zeros(60, int)
    # The exact split puts round(0.3 x 4) = 1 positive in the test set and 3 in training:
    # too few for the test set's statistics. 3 training positives fill the 3-fold tuning
    # CV and, inside each tuning fold (2 positives), a 2-fold LASSO CV (radsnake.ml.fit_checks).
    labels[[1, 2, 3, 4]] = 1
    features = rng.normal(size=(60, 12))
    features[:, 0] += 2.0 * labels
    config = {k: v for k, v in FAST_CONFIG.items() if k not in ("cohort", "clinical")}
    config["clinical"] = {}
    config["models"] = dict(FAST_CONFIG["models"], enabled=["logistic", "decision_tree"])
    config["split"] = {"method": "random", "test_fraction": 0.3}
    steps = [dict(step) for step in FAST_CONFIG["selection"]["steps"]]
    steps[-1]["cv_folds"] = 2
    config["selection"] = {"steps": steps}
    own_study(tmp_path, labels, features, config)
    run = snakemake(tmp_path)
    console = run.stdout + run.stderr
    assert "Traceback" not in console and "ValueError" not in console
    metrics = pd.read_csv(tmp_path / "results" / "evaluation" / "metrics.csv")
    small = metrics[metrics["set"] == "test"]
    n_pos = int(pd.read_csv(tmp_path / "results" / "selection" / "radscore.csv").query("set == 'test'")["label"].sum())
    assert n_pos < 2
    lines = [line for line in console.splitlines() if line.startswith("radsnake: test set has")]
    assert len(lines) == 1 and "DeLong CI" in lines[0] and "DeLong test" in lines[0], console[-3000:]
    assert small["auc_ci_low"].isna().all()
    assert small["auc_ci_reason"].str.contains("DeLong CI needs at least 2 case").all()
    delong = pd.read_csv(tmp_path / "results" / "evaluation" / "delong.csv")
    assert delong["p_value"].isna().all() and delong["reason"].str.contains("DeLong test needs").all()
    check_no_zero_width_interval_shown(tmp_path)
