"""The survival figures (radsnake.figures.survival_figures) from the tables radsnake.stats.survival_evaluation
writes: every file written, 300 dpi, not blank, and byte-identical when drawn again."""

import hashlib

import numpy as np
import pandas as pd
from PIL import Image
from radsnake.stats.survival_evaluation import calibration_table, decision_curve, evaluate
from radsnake.figures.survival_figures import plot_survival
from radsnake.core.tables import write_csv

MODELS = ["coxnet", "random_survival_forest"]
HORIZONS = [12.0, 24.0]
SETS = ["train", "test"]


def study_tables(folder):
    """Predictions of two models on three sets, with a real signal; the survival tables."""
    rng = np.random.default_rng(3)
    n = 90
    x = rng.normal(size=n)
    event_time = rng.exponential(np.exp(-x)) * 24
    censor = rng.uniform(6, 60, n)
    base = pd.DataFrame({"case_id": [f"c{i}" for i in range(n)], "set": np.repeat(SETS, n // len(SETS)),
                         "time": np.round(np.minimum(event_time, censor), 1),
                         "event": (event_time <= censor).astype(int)})
    predictions, curves = {}, {}
    for k, model in enumerate(MODELS):
        risk = x + rng.normal(scale=0.5 + k, size=n)
        predictions[model] = base.assign(risk=risk)
        times = np.array([6.0, 12.0, 18.0, 24.0])
        curves[model] = pd.DataFrame(np.exp(-np.outer(np.exp(risk), times) / 30), index=base["case_id"],
                                     columns=[f"{t:.17g}" for t in times])
    tables = evaluate(predictions, curves, SETS, HORIZONS)
    paths = {}
    for name in ("metrics", "km"):
        paths[name] = folder / f"{name}.csv"
        write_csv(tables[name], paths[name])
    paths["groups"] = folder / "risk_groups.csv"
    write_csv(tables["risk_groups"], paths["groups"])
    paths["calibration"] = folder / "calibration.csv"
    write_csv(calibration_table(predictions, curves, SETS, HORIZONS), paths["calibration"])
    dca = [decision_curve(p.loc[p["set"] == s, "time"], p.loc[p["set"] == s, "event"],
                          curves[m].loc[p.loc[p["set"] == s, "case_id"], "12"], 12.0).assign(model=m, set=s, horizon=12.0)
           for m, p in predictions.items() for s in SETS]
    paths["decision_curve"] = folder / "decision_curve.csv"
    write_csv(pd.concat(dca, ignore_index=True), paths["decision_curve"])
    return paths


def outputs_in(folder):
    outputs = {}
    for kind in ("km", "calibration", "decision_curve"):
        for set_name in SETS:
            for ext in ("png", "pdf"):
                outputs[f"{kind}_{set_name}_{ext}"] = folder / f"{kind}_{set_name}.{ext}"
    outputs.update(td_auc_png=folder / "td_auc.png", td_auc_pdf=folder / "td_auc.pdf")
    return outputs


def test_survival_figures_written_and_deterministic(tmp_path):
    tables = study_tables(tmp_path)
    drawn = []
    for run in ("a", "b"):
        outputs = outputs_in(tmp_path / run)
        plot_survival(tables, MODELS, HORIZONS, SETS, "months", outputs)
        drawn.append({name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in outputs.items()})
    assert drawn[0] == drawn[1]
    assert len(set(drawn[0].values())) == len(drawn[0])  # every figure its own
    for name, path in outputs_in(tmp_path / "a").items():
        if name.endswith("png"):
            image = Image.open(path)
            assert round(image.info["dpi"][0]) == 300 and "Software" not in image.info
            pixels = np.asarray(image.convert("L"))
            assert (pixels < 245).mean() > 0.01, name
        else:
            head = path.read_bytes()
            assert head.startswith(b"%PDF") and b"CreationDate" not in head
