import numpy as np
import pandas as pd
import pytest

from radsnake import stats
from radsnake.evaluation import evaluate, pairwise_delong


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
