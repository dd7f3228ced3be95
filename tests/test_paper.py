import numpy as np
import pandas as pd

from radsnake.stats import calibration, discrimination as stats
from radsnake.jobs.paper import bootstrap_tables, calibration_tables, formatted, markdown_table, summary_table


def predictions():
    rng = np.random.default_rng(3)
    frames = []
    for set_name, n in (("train", 80), ("test", 40)):
        y = np.arange(n) % 2
        p = 1 / (1 + np.exp(-(1.5 * y - 0.75 + rng.normal(size=n))))
        frames.append(pd.DataFrame({"case_id": [f"{set_name}{i}" for i in range(n)], "set": set_name, "label": y, "probability": p}))
    return {"m": pd.concat(frames, ignore_index=True)}


def test_formatted_like_papers():
    assert formatted(0.8512, 0.7849, 0.91) == "0.85 (0.78\u20130.91)"
    assert formatted(np.nan, 0, 1) == "NA"


def test_calibration_tables_use_the_calibration_module():
    preds = predictions()
    tables = calibration_tables(preds)
    test = preds["m"][preds["m"]["set"] == "test"]
    expected = calibration.calibration_stats(test["label"], test["probability"])
    row = tables["calibration"].set_index(["model", "set"]).loc[("m", "test")]
    assert row["slope"] == expected["slope"] and row["brier"] == expected["brier"]
    assert set(tables["decision"]["set"]) == {"train", "test"}
    assert list(tables["binned"].columns[:2]) == ["model", "set"]


def test_bootstrap_at_training_threshold_and_summary():
    preds = predictions()
    train = preds["m"][preds["m"]["set"] == "train"]
    threshold = stats.youden_threshold(train["label"], train["probability"])
    metrics = pd.DataFrame(
        [{"model": "m", "set": s, "n": 1, "auc": 0.8, "auc_ci_low": 0.7, "auc_ci_high": 0.9, "threshold": threshold} for s in ("train", "test")]
    )
    boot, confusion = bootstrap_tables(preds, metrics, n_boot=200, seed=1)
    test = preds["m"][preds["m"]["set"] == "test"]
    counts = stats.threshold_metrics(test["label"], test["probability"], threshold)
    assert confusion.set_index("set").loc["test", "tp"] == counts["tp"]
    again, _ = bootstrap_tables(preds, metrics, n_boot=200, seed=1)
    pd.testing.assert_frame_equal(boot, again)
    summary = summary_table(metrics, boot)
    assert summary.loc[0, "auc"] == "0.80 (0.70\u20130.90)"
    assert summary.columns.tolist() == ["model", "set", "n", "auc", "accuracy", "sensitivity", "specificity", "ppv", "npv"]
    text = markdown_table(summary)
    assert text.startswith("| Model | Set | n | AUC (95 % CI) |") and text.count("\n") == 4


def test_a_separating_radscore_is_recognised():
    from radsnake.jobs.paper import radscore_separates

    frame = pd.DataFrame({"label": [0, 0, 1, 1], "radscore": [-1.0, 0.2, 0.2, 3.0]})
    assert radscore_separates(frame)  # quasi-perfect: the only overlap is a tie
    assert radscore_separates(frame.assign(label=[1, 1, 0, 0]))
    assert not radscore_separates(frame.assign(radscore=[-1.0, 0.5, 0.2, 3.0]))
