import numpy as np
import pandas as pd
import pytest

from radsnake.stats import discrimination as stats
from radsnake.jobs.evaluation import evaluate
from radsnake.stats.evaluation import pairwise_delong


def predictions(seed, shift):
    rng = np.random.default_rng(seed)
    rows = []
    for set_name, n in (("train", 60), ("test", 40), ("external", 30)):
        labels = np.arange(n) % 2
        score = 1 / (1 + np.exp(-(labels * shift + rng.normal(size=n))))
        rows.append(pd.DataFrame({"case_id": [f"{set_name}{i}" for i in range(n)], "set": set_name, "label": labels, "probability": score}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture
def files(tmp_path):
    paths = {}
    for name, shift in (("good", 2.0), ("weak", 0.5)):
        paths[name] = str(tmp_path / f"{name}.csv")
        predictions(1, shift).to_csv(paths[name], index=False)
    radscore = predictions(2, 1.0).rename(columns={"probability": "radscore"})
    radscore["radscore"] = np.log(radscore["radscore"] / (1 - radscore["radscore"]))
    radscore.to_csv(tmp_path / "radscore.csv", index=False)
    return paths, str(tmp_path / "radscore.csv")


def test_threshold_from_training_applied_everywhere(files, tmp_path):
    paths, radscore = files
    evaluate(paths, radscore, "youden", 0.9, 0.95, str(tmp_path / "m.csv"), str(tmp_path / "d.csv"))
    metrics = pd.read_csv(tmp_path / "m.csv")
    assert set(metrics["model"]) == {"good", "weak", "radscore"}
    good = predictions(1, 2.0)
    train = good[good["set"] == "train"]
    threshold = stats.youden_threshold(train["label"], train["probability"])
    test = good[good["set"] == "test"]
    expected = stats.threshold_metrics(test["label"], test["probability"], threshold)
    row = metrics[(metrics["model"] == "good") & (metrics["set"] == "test")].iloc[0]
    assert row["threshold"] == threshold
    assert row["sensitivity"] == expected["sensitivity"] and row["n"] == 40
    auc = stats.auc_delong(test["label"], test["probability"])
    assert row["auc"] == auc["auc"] and row["auc_ci_low"] == auc["ci_low"]


def test_target_sensitivity_threshold(files, tmp_path):
    paths, radscore = files
    evaluate(paths, radscore, "sensitivity", 0.9, 0.95, str(tmp_path / "m.csv"), str(tmp_path / "d.csv"))
    metrics = pd.read_csv(tmp_path / "m.csv")
    train = metrics[metrics["set"] == "train"]
    assert (train["sensitivity"] >= 0.9).all()


def test_pairwise_delong_on_held_out_sets_only(files):
    paths, _ = files
    frames = {name: pd.read_csv(path) for name, path in paths.items()}
    delong = pairwise_delong(frames)
    assert delong["set"].tolist() == ["test", "external"]
    test = frames["good"][frames["good"]["set"] == "test"]
    weak = frames["weak"][frames["weak"]["set"] == "test"]
    expected = stats.delong_test(test["label"], test["probability"], weak["probability"])
    assert delong.iloc[0]["z"] == expected["z"]


COHORT_SETS = ["train", "test", "external_C", "external_D", "external"]


@pytest.fixture
def cohort_files(tmp_path):
    """Predictions with two external cohorts, as split.csv names them (no pooled rows)."""
    paths = {}
    for name, shift in (("good", 2.0), ("weak", 0.5)):
        frame = predictions(1, shift)
        external = frame["set"] == "external"
        # Half of the external cases to each cohort, both labels in each.
        frame.loc[external, "set"] = np.where(np.arange(external.sum()) < 16, "external_C", "external_D")
        paths[name] = str(tmp_path / f"{name}.csv")
        frame.to_csv(paths[name], index=False)
    radscore = pd.read_csv(paths["good"]).rename(columns={"probability": "radscore"})
    radscore["radscore"] = np.log(radscore["radscore"] / (1 - radscore["radscore"]))
    radscore.to_csv(tmp_path / "radscore.csv", index=False)
    return paths, str(tmp_path / "radscore.csv")


def test_each_external_cohort_and_the_pool_are_evaluated(cohort_files, tmp_path):
    paths, radscore = cohort_files
    evaluate(paths, radscore, "youden", 0.9, 0.95, str(tmp_path / "m.csv"), str(tmp_path / "d.csv"), sets=COHORT_SETS)
    metrics = pd.read_csv(tmp_path / "m.csv")
    assert metrics[metrics["model"] == "good"]["set"].tolist() == COHORT_SETS
    good = pd.read_csv(paths["good"])
    rows = metrics[metrics["model"] == "good"].set_index("set")
    for set_name, part in (
        ("external_C", good[good["set"] == "external_C"]),
        ("external_D", good[good["set"] == "external_D"]),
        ("external", good[good["set"].str.startswith("external_")]),
    ):
        auc = stats.auc_delong(part["label"], part["probability"])
        assert rows.loc[set_name, "n"] == len(part)
        assert rows.loc[set_name, "auc"] == auc["auc"] and rows.loc[set_name, "auc_ci_high"] == auc["ci_high"]
    assert rows.loc["external", "n"] == rows.loc["external_C", "n"] + rows.loc["external_D", "n"] == 30
    # One threshold from training for every set, pooled or not.
    assert metrics.groupby("model")["threshold"].nunique().eq(1).all()
    delong = pd.read_csv(tmp_path / "d.csv")
    assert list(dict.fromkeys(delong["set"])) == COHORT_SETS[1:]


def test_without_pooling_there_is_no_pooled_row(cohort_files, tmp_path):
    paths, radscore = cohort_files
    sets = COHORT_SETS[:-1]
    evaluate(paths, radscore, "youden", 0.9, 0.95, str(tmp_path / "m.csv"), str(tmp_path / "d.csv"), sets=sets)
    assert pd.read_csv(tmp_path / "m.csv")["set"].unique().tolist() == sets
    # Called without sets, every set of split.csv is evaluated and none is pooled.
    evaluate(paths, radscore, "youden", 0.9, 0.95, str(tmp_path / "m2.csv"), str(tmp_path / "d2.csv"))
    assert (tmp_path / "m2.csv").read_bytes() == (tmp_path / "m.csv").read_bytes()


def test_paper_tables_per_external_cohort_and_pooled(cohort_files, tmp_path):
    from radsnake.jobs.paper import summarise_models

    paths, radscore = cohort_files
    evaluate(paths, radscore, "youden", 0.9, 0.95, str(tmp_path / "m.csv"), str(tmp_path / "d.csv"), sets=COHORT_SETS)
    names = ["calibration", "binned", "smoothed", "decision", "bootstrap", "confusion", "summary"]
    outputs = {name: str(tmp_path / f"{name}.csv") for name in names} | {"summary_md": str(tmp_path / "s.md")}
    summarise_models(paths, radscore, str(tmp_path / "m.csv"), n_boot=50, seed=1, outputs=outputs, sets=COHORT_SETS)
    for name in names:
        table = pd.read_csv(outputs[name])
        assert list(dict.fromkeys(table[table["model"] == "good"]["set"])) == COHORT_SETS, name
    # The counts; the table's no_signature column is a label (docs/statistics.md).
    confusion = pd.read_csv(outputs["confusion"]).set_index(["model", "set"])[["tp", "fp", "tn", "fn"]]
    pooled = confusion.loc[("good", "external")]
    assert (pooled == confusion.loc[("good", "external_C")] + confusion.loc[("good", "external_D")]).all()
    assert "| good | external_D |" in (tmp_path / "s.md").read_text()


def test_figures_of_a_cohort_and_of_the_pool(cohort_files, tmp_path, monkeypatch):
    from radsnake.figures import model_figures
    from radsnake.figures import style as figures
    from radsnake.jobs import plots

    paths, radscore = cohort_files
    evaluate(paths, radscore, "youden", 0.9, 0.95, str(tmp_path / "m.csv"), str(tmp_path / "d.csv"), sets=COHORT_SETS)
    for set_name, n in (("external_D", 14), ("external", 30)):
        png, pdf = tmp_path / f"roc_{set_name}.png", tmp_path / f"roc_{set_name}.pdf"
        plots.plot_roc(paths, radscore, str(tmp_path / "m.csv"), set_name, 20, 1, str(png), str(pdf))
        assert png.stat().st_size > 0 and pdf.read_bytes().startswith(b"%PDF")
        drawn = {}
        monkeypatch.setattr(model_figures, "waterfall_figure", lambda frame, name, *a, drawn=drawn, **k: drawn.update(frame=frame, name=name))
        plots.plot_waterfall(radscore, str(tmp_path / "m.csv"), set_name, "w.png", "w.pdf")
        assert drawn["name"] == set_name
        assert len(drawn["frame"]) == n and set(drawn["frame"]["set"]) == {set_name}
        monkeypatch.undo()
    assert figures.title_of_set("external_D") == "External cohort D"
    assert figures.short_set("external_D") == "External D"
