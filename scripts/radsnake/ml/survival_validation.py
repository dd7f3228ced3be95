"""Internal validation of a survival model: Harrell's bootstrap optimism of the C-index
(Harrell, Lee & Mark 1996; Steyerberg, Clinical Prediction Models, ch. 17).

On each of ``survival.bootstrap`` resamples (with replacement) of the training cases the
WHOLE pipeline is refitted, tuning included (scaling, univariate screen, pruning,
Cox-LASSO, grid search, model). Its optimism is C(resample | fitted on resample) -
C(original training set | fitted on resample); the optimism-corrected C-index is the
apparent one (the final model on its own training cases) minus the mean optimism.
Harrell's C is survival::concordance's (radsnake.stats.survival_stats.harrell_c). Test and
external cases are never used.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from radsnake.ml.survival_models import tune
from radsnake.stats.survival_stats import harrell_c, structured
from radsnake.core.tables import write_csv

log = logging.getLogger(__name__)


def resample_rows(n: int, n_boot: int, seed: int) -> list[np.ndarray]:
    """The resamples' row indices, drawn once from the seed (the same whatever the threads)."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n, n) for _ in range(n_boot)]


def one_resample(X: np.ndarray, time: np.ndarray, event: np.ndarray, rows: np.ndarray, model: str,
                 settings: dict, epv: int, seed: int) -> dict:
    if event[rows].sum() < 2 or (1 - event[rows]).sum() < 2:
        return {"c_boot": np.nan, "c_original": np.nan}
    pipeline = tune(X[rows], structured(time[rows], event[rows]), model, settings, epv, seed).best_estimator_
    return {"c_boot": harrell_c(time[rows], event[rows], pipeline.predict(X[rows]))["c_index"],
            "c_original": harrell_c(time, event, pipeline.predict(X))["c_index"]}


def bootstrap_optimism(X: np.ndarray, time: np.ndarray, event: np.ndarray, model: str, settings: dict,
                       epv: int, seed: int, n_boot: int, threads: int = 1) -> pd.DataFrame:
    """One row per resample: resample, c_boot, c_original, optimism (NaN for a resample
    with fewer than 2 events or 2 censored cases, left out of the mean)."""
    resamples = resample_rows(len(time), n_boot, seed)
    results = Parallel(n_jobs=threads)(
        delayed(one_resample)(X, time, event, rows, model, settings, epv, seed) for rows in resamples
    )
    table = pd.DataFrame(results).assign(resample=np.arange(1, n_boot + 1))
    table["optimism"] = table["c_boot"] - table["c_original"]
    return table[["resample", "c_boot", "c_original", "optimism"]]


def optimism_row(model: str, apparent: float, table: pd.DataFrame) -> dict:
    used = table["optimism"].dropna()
    optimism = float(used.mean()) if len(used) else np.nan
    return {"model": model, "n_boot": len(used), "apparent_c": apparent, "optimism": optimism,
            "optimism_sd": float(used.std(ddof=1)) if len(used) > 1 else np.nan,
            "corrected_c": apparent - optimism}


def validate_survival_models(features_csv, split_csv, outcomes_csv, prediction_files: dict, clinical, settings,
                             endpoint, seed, threads, outputs) -> None:
    """bootstrap.csv (model, resample, c_boot, c_original, optimism) and optimism.csv (model,
    n_boot, apparent_c, optimism, optimism_sd, corrected_c) of every model."""
    from radsnake.ml.survival_models import survival_data

    X, frame = survival_data(features_csv, split_csv, outcomes_csv, clinical)
    train = (frame["set"] == "train").to_numpy()
    time, event = frame["time"].to_numpy()[train], frame["event"].to_numpy()[train]
    resamples, rows = [], []
    for model, predictions_csv in prediction_files.items():
        predictions = pd.read_csv(predictions_csv, dtype={"case_id": str, "set": str})
        fitted = predictions[predictions["set"] == "train"].set_index("case_id").loc[frame["case_id"][train]]
        apparent = harrell_c(time, event, fitted["risk"].to_numpy())["c_index"]
        table = bootstrap_optimism(X.to_numpy()[train], time, event, model, settings,
                                   endpoint["min_events_per_variable"], seed, settings["bootstrap"], threads)
        skipped = int(table["optimism"].isna().sum())
        if skipped:
            log.warning("%s: %d of %d bootstrap resamples had fewer than 2 events or 2 censored cases; left out",
                        model, skipped, len(table))
        resamples.append(table.assign(model=model))
        rows.append(optimism_row(model, apparent, table))
        log.info("%s: apparent C %.3f, optimism-corrected %.3f", model, apparent, rows[-1]["corrected_c"])
    table = pd.concat(resamples, ignore_index=True)
    write_csv(table[["model", "resample", "c_boot", "c_original", "optimism"]], outputs["resamples"])
    write_csv(pd.DataFrame(rows), outputs["optimism"])
