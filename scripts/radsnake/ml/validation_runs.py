"""Internal validation run in chunks: the fits dealt into chunks, combined per model.

radsnake.ml.validation plans every fit of the four designs from the seed. Here the distinct
fits are dealt into ``validation.chunks`` chunks (fit i goes to chunk i mod chunks, so
each chunk gets a share of every design), one validate_chunk job per chunk, so that
``--cores`` and a cluster profile spread them. A chunk fits every model on each of its
training sets in turn, with one radsnake.ml.fitcache.FitCache per training set: the
selection steps are fitted once per distinct set of rows and shared by every grid point
and every model. The validate_model job of each model then reads all chunks and writes
the same tables as one job doing every fit would: each fit depends only on its own rows
and the seed, never on the chunk it ran in, and the chunk files keep every number at
full precision (JSON floats round-trip exactly).
"""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from radsnake.core.errors import InputError
from radsnake.ml.fitcache import FitCache
from radsnake.ml.models import build_search
from radsnake.core.tables import write_text
from radsnake.ml.validation import Result, Task, fit_and_score

log = logging.getLogger(__name__)

# Seconds between two progress lines of a chunk job.
PROGRESS_EVERY = 30.0


def chunk_tasks(tasks: list[Task], chunk: int, n_chunks: int) -> list[Task]:
    """Chunk ``chunk`` (1-based) of ``n_chunks``: every n_chunks-th fit, so that each chunk
    gets the same mix of small (learning-curve) and large (bootstrap) training sets."""
    return tasks[chunk - 1 :: n_chunks]


def duration(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


class Progress:
    """Progress lines in the job's log: fits done, time so far and an estimate of the rest."""

    def __init__(self, what: str, total: int, every: float = PROGRESS_EVERY):
        self.what, self.total, self.every = what, total, every
        self.start = self.last = time.monotonic()

    def done(self, count: int) -> None:
        now = time.monotonic()
        if now - self.last < self.every and count < self.total:
            return
        self.last = now
        elapsed = now - self.start
        left = elapsed / count * (self.total - count) if count else float("nan")
        log.info("%s: %d of %d resamples fitted in %s, about %s left", self.what, count, self.total,
                 duration(elapsed), duration(left))


def fit_models(searches: dict[str, BaseEstimator], X: pd.DataFrame, y: np.ndarray, task: Task,
               cache: FitCache, least: dict[str, int] | None = None) -> tuple[dict[str, Result], list[dict]]:
    """Every model's procedure on one training set, sharing ``cache``; with the CPU and
    wall seconds of each model, the selection fits (the cache's misses) counted apart.

    least: per model, the cases of each label its tuning needs (fit_and_score)."""
    results, timings = {}, []
    for model, search in searches.items():
        cpu, wall, selection_cpu = time.process_time(), time.perf_counter(), cache.fit_seconds
        results[model] = fit_and_score(search, X, y, task, cache, (least or {}).get(model, 0))
        selection = cache.fit_seconds - selection_cpu
        timings.append({"stage": task.stage, "model": model, "cpu_s": time.process_time() - cpu - selection,
                        "wall_s": time.perf_counter() - wall - selection})
        timings.append({"stage": task.stage, "model": "(selection steps)", "cpu_s": selection, "wall_s": selection})
    return results, timings


def run_chunk(searches: dict[str, BaseEstimator], X: pd.DataFrame, y: np.ndarray, tasks: list[Task],
              what: str, least: dict[str, int] | None = None) -> tuple[dict[str, dict[str, Result]], pd.DataFrame]:
    """Results by task key and model, and the seconds per stage and model."""
    progress = Progress(what, len(tasks))
    results, timings = {}, []
    for count, task in enumerate(tasks, start=1):
        # One cache per training set: nothing fitted on other rows could be reused, and
        # dropping it keeps the memory to one set's fitted steps.
        results[task.key()], seconds = fit_models(searches, X, y, task, FitCache(), least)
        timings += seconds
        progress.done(count)
    columns = ["stage", "model", "cpu_s", "wall_s"]
    table = pd.DataFrame(timings, columns=columns).groupby(["stage", "model"], as_index=False, sort=True).sum()
    return results, table


def write_json(content, path: str) -> None:
    write_text(path, json.dumps(content, sort_keys=True))


def chunk_content(results: dict[str, dict[str, Result]]) -> dict:
    return {key: {model: {"aucs": r.aucs, "params": r.params, "inner_auc": r.inner_auc, "skipped": r.skipped}
                  for model, r in by_model.items()} for key, by_model in results.items()}


def read_chunks(paths: list[str], model: str) -> dict[str, Result]:
    """One model's results by task key, from every chunk file."""
    found = {}
    for path in paths:
        with open(path) as handle:
            for key, by_model in json.load(handle).items():
                if model not in by_model:
                    raise InputError(f"{path} has no results of model {model}; rerun the validate_chunk jobs.")
                entry = by_model[model]
                found[key] = Result(list(entry["aucs"]), entry["params"], float(entry["inner_auc"]),
                                    entry.get("skipped", ""))
    return found


def model_searches(models: list[str], steps: list[dict], param_grids: dict, cv_folds: int, imbalance: str,
                   seed: int, harmonisation: dict | None) -> dict[str, BaseEstimator]:
    """The unfitted grid search of each model, exactly as fit_model tunes it."""
    return {
        model: build_search(model, steps, (param_grids or {}).get(model), cv_folds, random_state=seed, n_jobs=1,
                            imbalance=imbalance, harmonisation=harmonisation)
        for model in models
    }
