"""Internal validation of a whole modelling procedure on the training set.

Every estimate here refits the *entire* procedure that produced the final model (the
grid search of radsnake.ml.models.build_search: scaling, selection steps, any sampler,
the classifier and the tuning itself) on each fold or resample, and scores it only
on cases that fit did not see (or, for Harrell's bootstrap, compares both):

* repeated stratified k-fold CV: AUC per fold, mean and SD, one value per repeat;
* nested CV: outer stratified folds around the inner grid search, with the
  hyper-parameters each outer fold chose;
* Harrell's optimism-corrected bootstrap: apparent AUC minus the mean optimism;
* learning curves: CV AUC against the number of training cases.

docs/validation.md explains the methods and why the apparent AUC is optimistic.
Results do not depend on ``n_jobs`` nor on how the fits are split into jobs
(radsnake.ml.validation_runs): every split and resample is drawn up front from the seed,
and each fit depends only on its own rows.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, RepeatedStratifiedKFold

from radsnake.core.errors import InputError
from radsnake.ml.fitcache import FitCache
from radsnake.ml.models import params_text
from radsnake.stats.signature import read_message
from radsnake.core.tables import write_csv

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = [
    "model", "n_train", "n_positive", "apparent_auc", "optimism", "optimism_low", "optimism_high",
    "corrected_auc", "cv_auc_mean", "cv_auc_sd", "cv_auc_repeat_sd", "nested_auc", "nested_auc_sd",
    "bootstrap_resamples", "cv_folds", "cv_repeats", "nested_folds",
    # Why the optimism interval has no width; the model's no-signature message (its model.json).
    "optimism_reason", "no_signature",
]


@dataclass(frozen=True)
class Settings:
    """The config's ``validation`` block (defaults as in the schema)."""

    folds: int = 5
    repeats: int = 10
    nested_outer_folds: int = 5
    bootstrap: int = 40
    learning_curve_sizes: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    learning_curve_repeats: int = 3

    @classmethod
    def from_config(cls, block: dict) -> Settings:
        known = {key: value for key, value in block.items() if key in cls.__dataclass_fields__}
        if "learning_curve_sizes" in known:
            known["learning_curve_sizes"] = tuple(float(size) for size in known["learning_curve_sizes"])
        return cls(**known)


@dataclass
class Task:
    """One fit of the procedure on rows ``train``, scored on each row set of ``score``."""

    train: np.ndarray
    score: tuple[np.ndarray, ...]
    what: str
    # The design it belongs to (repeated_cv, nested_cv, bootstrap, learning_curve), for timings.
    stage: str = ""

    def key(self) -> str:
        digest = hashlib.sha256()
        for rows in (self.train, *self.score):
            # Each array's length first, so that different splits never hash alike.
            digest.update(np.int64(rows.size).tobytes() + rows.astype(np.int64).tobytes())
        return digest.hexdigest()


@dataclass
class Result:
    aucs: list[float]
    params: str = ""
    inner_auc: float = float("nan")
    # Why the fit was not run (a learning-curve subset too small to tune on), '' when it was.
    skipped: str = ""


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """AUC with higher scores for label 1 (never flipped); NaN when a class is missing."""
    labels = np.asarray(labels)
    if np.unique(labels).size < 2:
        return float("nan")
    return float(roc_auc_score(labels, scores))


def with_cache(estimator: BaseEstimator, cache: FitCache) -> BaseEstimator:
    """A clone whose Pipeline takes its fitted selection steps from ``cache``.

    Within a grid search the cache saves refitting a fold's selection once per grid
    point; shared by the models fitted on the same rows, it saves refitting it per model.
    """
    fitted = clone(estimator)
    pipeline = fitted.estimator if isinstance(fitted, GridSearchCV) else fitted
    if "memory" in pipeline.get_params(deep=False):
        pipeline.set_params(memory=cache)
    return fitted


def too_small(y: np.ndarray, task: Task, least: int) -> str:
    """Why a learning-curve subset cannot be tuned on, '' when it can.

    The full-size fits were checked before (radsnake.ml.fit_checks); a smaller share of a
    training fold may hold fewer than ``least`` cases of a label, and a stratified tuning
    CV then has folds without that label (or scikit-learn refuses to split at all)."""
    if task.stage != "learning_curve" or not least:
        return ""
    positives = int(y[task.train].sum())
    negatives = task.train.size - positives
    if min(positives, negatives) >= least:
        return ""
    return (f"{positives} with label 1 and {negatives} with label 0 in the training subset; "
            f"the tuning needs {least} of each label")


def fit_and_score(estimator: BaseEstimator, X: pd.DataFrame, y: np.ndarray, task: Task,
                  cache: FitCache | None = None, least: int = 0) -> Result:
    """Fit the procedure on the task's training rows and score it on each of its row sets.

    least: the cases of each label its tuning needs (radsnake.ml.fit_checks.least_per_label);
    a learning-curve task with fewer is not fitted, its AUCs NaN and the reason kept."""
    reason = too_small(y, task, least)
    if reason:
        return Result([float("nan")] * len(task.score), skipped=reason)
    fitted = with_cache(estimator, cache if cache is not None else FitCache())
    try:
        # Scoring too: the SVM's Platt map is fitted on first use (radsnake.ml.platt).
        fitted.fit(X.iloc[task.train], y[task.train])
        aucs = [auc(y[rows], fitted.predict_proba(X.iloc[rows])[:, 1]) for rows in task.score]
    except ValueError as err:
        n_pos = int(y[task.train].sum())
        raise InputError(
            f"internal validation, {task.what}: fitting on {task.train.size} training cases "
            f"({n_pos} with label 1, {task.train.size - n_pos} with label 0) failed: {err}. "
            "Use fewer validation or tuning folds, larger learning_curve_sizes, or more cases."
        ) from None
    if isinstance(fitted, GridSearchCV):
        return Result(aucs, params_text(fitted.best_params_), float(fitted.best_score_))
    return Result(aucs)


def unique_tasks(tasks: list[Task]) -> list[Task]:
    """Each distinct fit once, in the order first asked for."""
    unique: dict[str, Task] = {}
    for task in tasks:
        unique.setdefault(task.key(), task)
    return list(unique.values())


def run_tasks(estimator: BaseEstimator, X: pd.DataFrame, y: np.ndarray, tasks: list[Task],
              n_jobs: int = 1, least: int = 0) -> list[Result]:
    """Fit and score every task, each identical task once, in parallel; results in task order.

    least: as fit_and_score's (the chunked runs of radsnake.ml.validation_runs pass it too)."""
    unique = unique_tasks(tasks)
    log.info("internal validation: %d fits (%d requested), %d job(s)", len(unique), len(tasks), n_jobs)
    # Each fit is single-threaded inside: the parallelism is across fits.
    results = Parallel(n_jobs=n_jobs)(delayed(fit_and_score)(estimator, X, y, task, least=least) for task in unique)
    by_key = {task.key(): result for task, result in zip(unique, results)}
    return [by_key[task.key()] for task in tasks]


def _check_folds(y: np.ndarray, folds: int, what: str) -> None:
    smallest = int(min(np.sum(y == 0), np.sum(y == 1)))
    if smallest < folds:
        raise InputError(
            f"internal validation: validation.{what} = {folds} needs at least {folds} training cases of each "
            f"label, but the training set has {int(np.sum(y == 1))} with label 1 and "
            f"{int(np.sum(y == 0))} with label 0. Lower validation.{what} or add cases."
        )


# --- the four designs: tasks from the seed, then tables from the results --------------

def repeated_cv_tasks(y: np.ndarray, folds: int, repeats: int, random_state: int) -> tuple[pd.DataFrame, list[Task]]:
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=random_state)
    rows, tasks = [], []
    for i, (train, test) in enumerate(splitter.split(np.zeros(y.size), y)):
        repeat, fold = divmod(i, folds)
        rows.append({"repeat": repeat + 1, "fold": fold + 1, "n_train": train.size, "n_test": test.size})
        tasks.append(Task(train, (train, test), f"repeated CV repeat {repeat + 1} fold {fold + 1}", "repeated_cv"))
    return pd.DataFrame(rows), tasks


def with_aucs(design: pd.DataFrame, results: list[Result], held_out: str) -> pd.DataFrame:
    """The design rows with each fit's training AUC and its held-out AUC (named held_out)."""
    table = design.copy()
    table["train_auc"] = [r.aucs[0] for r in results]
    table[held_out] = [r.aucs[1] for r in results]
    return table


def repeated_cv_table(design: pd.DataFrame, results: list[Result]) -> pd.DataFrame:
    table = with_aucs(design, results, "auc")
    table["params"] = [r.params for r in results]
    return table


def per_repeat(repeated_cv: pd.DataFrame) -> pd.DataFrame:
    """One value per repeat: the mean AUC of its folds (what one k-fold CV would report)."""
    grouped = repeated_cv.groupby("repeat", sort=True)["auc"]
    return pd.DataFrame({"repeat": grouped.mean().index, "n_folds": grouped.size().to_numpy(),
                         "auc": grouped.mean().to_numpy()})


def nested_cv_tasks(y: np.ndarray, outer_folds: int, random_state: int) -> tuple[pd.DataFrame, list[Task]]:
    """Outer folds around the tuning CV.

    The partition is the first repeat of repeated_cv_tasks with the same seed (when the
    fold counts agree), so those fits are shared rather than run twice.
    """
    splitter = RepeatedStratifiedKFold(n_splits=outer_folds, n_repeats=1, random_state=random_state)
    rows, tasks = [], []
    for fold, (train, test) in enumerate(splitter.split(np.zeros(y.size), y), start=1):
        rows.append({"fold": fold, "n_train": train.size, "n_test": test.size})
        tasks.append(Task(train, (train, test), f"nested CV outer fold {fold}", "nested_cv"))
    return pd.DataFrame(rows), tasks


def nested_cv_table(design: pd.DataFrame, results: list[Result]) -> pd.DataFrame:
    table = design.copy()
    table["auc"] = [r.aucs[1] for r in results]
    table["inner_cv_auc"] = [r.inner_auc for r in results]
    table["params"] = [r.params for r in results]
    return table


def bootstrap_samples(y: np.ndarray, n_boot: int, random_state: int) -> list[np.ndarray]:
    """Stratified bootstrap resamples (each label resampled within itself, so every
    resample keeps the training set's counts and the tuning CV can always stratify)."""
    rng = np.random.default_rng(random_state)
    groups = [np.flatnonzero(y == value) for value in (0, 1)]
    return [np.sort(np.concatenate([rng.choice(g, size=g.size, replace=True) for g in groups])) for _ in range(n_boot)]


def bootstrap_tasks(y: np.ndarray, n_boot: int, random_state: int) -> tuple[Task, list[Task]]:
    everyone = np.arange(y.size)
    apparent = Task(everyone, (everyone,), "apparent fit on the whole training set", "apparent")
    tasks = [
        Task(sample, (sample, everyone), f"bootstrap resample {b}", "bootstrap")
        for b, sample in enumerate(bootstrap_samples(y, n_boot, random_state), start=1)
    ]
    return apparent, tasks


def bootstrap_table(results: list[Result]) -> pd.DataFrame:
    """Harrell's optimism per resample: AUC of the resample's model on the resample (its
    apparent AUC) minus its AUC on the original training set."""
    table = pd.DataFrame({
        "resample": np.arange(1, len(results) + 1),
        "auc_bootstrap": [r.aucs[0] for r in results],
        "auc_original": [r.aucs[1] for r in results],
        "params": [r.params for r in results],
    })
    table.insert(3, "optimism", table["auc_bootstrap"] - table["auc_original"])
    return table


def subsample(rows: np.ndarray, y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A stratified subset of ``rows`` holding ``fraction`` of each label (all of them at 1)."""
    if fraction >= 1.0:
        return rows
    picked = []
    for value in (0, 1):
        members = rows[y[rows] == value]
        size = max(1, int(round(fraction * members.size)))
        picked.append(rng.choice(members, size=size, replace=False))
    return np.sort(np.concatenate(picked))


def learning_curve_tasks(y: np.ndarray, sizes: tuple[float, ...], folds: int, repeats: int,
                         random_state: int) -> tuple[pd.DataFrame, list[Task]]:
    """For each repeat and fold: fit on growing stratified shares of the training fold,
    always scored on the same whole validation fold.

    The folds are those of repeated_cv_tasks with the same seed, so the full-size point
    reuses those fits and equals the repeated-CV AUC of the first repeats.
    """
    for size in sizes:
        if not 0 < size <= 1:
            raise InputError(f"validation.learning_curve_sizes: {size} is not a share of the training fold in (0, 1].")
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=random_state)
    rng = np.random.default_rng([random_state, 2])
    rows, tasks = [], []
    for i, (train, test) in enumerate(splitter.split(np.zeros(y.size), y)):
        repeat, fold = divmod(i, folds)
        for size in sorted(sizes):
            part = subsample(train, y, size, rng)
            rows.append({
                "repeat": repeat + 1, "fold": fold + 1, "size": size,
                "n_train": part.size, "n_positive": int(y[part].sum()), "n_validation": test.size,
            })
            tasks.append(Task(part, (part, test), f"learning curve at {size:g} of repeat {repeat + 1} fold {fold + 1}",
                              "learning_curve"))
    return pd.DataFrame(rows), tasks


def learning_curve_table(design: pd.DataFrame, results: list[Result]) -> pd.DataFrame:
    table = with_aucs(design, results, "validation_auc")
    table["skipped"] = [r.skipped for r in results]
    return table


def skipped_points(curve: pd.DataFrame) -> str:
    """The console line for a learning curve with skipped points, '' when none was."""
    skipped = curve[curve["skipped"] != ""]
    if skipped.empty:
        return ""
    sizes = ", ".join(f"{size:g}" for size in sorted(skipped["size"].unique()))
    return (f"{len(skipped)} of {len(curve)} learning-curve points skipped (size {sizes}): "
            f"{skipped['skipped'].iloc[0]} (the first; every reason is in learning_curve.csv). "
            "At those sizes the curves average the fitted points only (no point where none was). Raise the smallest "
            "validation.learning_curve_sizes, lower models.cv_folds or the lasso's cv_folds, or add cases.")


# --- everything for one model ---------------------------------------------------------

@dataclass
class Validation:
    repeated_cv: pd.DataFrame
    nested_cv: pd.DataFrame
    bootstrap: pd.DataFrame
    learning_curve: pd.DataFrame
    apparent_auc: float

    def summary(self, model: str, y: np.ndarray, settings: Settings) -> pd.DataFrame:
        optimism = self.bootstrap["optimism"].to_numpy()
        return pd.DataFrame([{
            "model": model,
            "n_train": int(y.size),
            "n_positive": int(y.sum()),
            "apparent_auc": self.apparent_auc,
            "optimism": float(optimism.mean()),
            "optimism_low": float(np.percentile(optimism, 2.5)),
            "optimism_high": float(np.percentile(optimism, 97.5)),
            "corrected_auc": self.apparent_auc - float(optimism.mean()),
            "cv_auc_mean": float(self.repeated_cv["auc"].mean()),
            "cv_auc_sd": float(self.repeated_cv["auc"].std(ddof=1)),
            "cv_auc_repeat_sd": float(per_repeat(self.repeated_cv)["auc"].std(ddof=1)),
            "nested_auc": float(self.nested_cv["auc"].mean()),
            "nested_auc_sd": float(self.nested_cv["auc"].std(ddof=1)),
            "bootstrap_resamples": settings.bootstrap,
            "cv_folds": settings.folds,
            "cv_repeats": settings.repeats,
            "nested_folds": settings.nested_outer_folds,
            "optimism_reason": optimism_reason(optimism),
        }], columns=SUMMARY_COLUMNS)


def optimism_reason(optimism: np.ndarray) -> str:
    """Why the bootstrap optimism's percentile interval has no width, '' when it has."""
    if np.percentile(optimism, 2.5) != np.percentile(optimism, 97.5):
        return ""
    return (f"every bootstrap resample gives the same optimism ({float(np.median(optimism)):g}), "
            "e.g. a model that ranks the cases the same way in every resample")


@dataclass
class Plan:
    """Every fit of the four designs, drawn from the seed, and their tables' rows."""

    cv_design: pd.DataFrame
    nested_design: pd.DataFrame
    lc_design: pd.DataFrame
    groups: list[list[Task]]

    @property
    def tasks(self) -> list[Task]:
        return [task for group in self.groups for task in group]

    def assemble(self, results: list[Result]) -> Validation:
        """The tables, from one result per task of ``tasks`` (in that order)."""
        parts, start = [], 0
        for group in self.groups:
            parts.append(results[start : start + len(group)])
            start += len(group)
        cv_results, nested_results, (apparent,), boot_results, lc_results = parts
        return Validation(
            repeated_cv=repeated_cv_table(self.cv_design, cv_results),
            nested_cv=nested_cv_table(self.nested_design, nested_results),
            bootstrap=bootstrap_table(boot_results),
            learning_curve=learning_curve_table(self.lc_design, lc_results),
            apparent_auc=apparent.aucs[0],
        )


def plan(y: np.ndarray, settings: Settings, random_state: int) -> Plan:
    """The fits of all four designs; depends only on the labels, settings and seed."""
    y = np.asarray(y, dtype=int)
    _check_folds(y, settings.folds, "folds")
    _check_folds(y, settings.nested_outer_folds, "nested_outer_folds")
    cv_design, cv_tasks = repeated_cv_tasks(y, settings.folds, settings.repeats, random_state)
    nested_design, nested_tasks = nested_cv_tasks(y, settings.nested_outer_folds, random_state)
    apparent_task, boot_tasks = bootstrap_tasks(y, settings.bootstrap, random_state)
    lc_design, lc_tasks = learning_curve_tasks(
        y, settings.learning_curve_sizes, settings.folds, settings.learning_curve_repeats, random_state
    )
    return Plan(cv_design, nested_design, lc_design, [cv_tasks, nested_tasks, [apparent_task], boot_tasks, lc_tasks])


def validate(estimator: BaseEstimator, X: pd.DataFrame, y: np.ndarray, settings: Settings, *,
             random_state: int, n_jobs: int = 1, least: int = 0) -> Validation:
    """All four designs for one unfitted procedure (e.g. a GridSearchCV), in one batch of fits."""
    y = np.asarray(y, dtype=int)
    designs = plan(y, settings, random_state)
    return designs.assemble(run_tasks(estimator, X, y, designs.tasks, n_jobs=n_jobs, least=least))


def write_validation(result: Validation, model: str, y: np.ndarray, settings: Settings, repeated_cv_csv: str,
                     repeats_csv: str, nested_cv_csv: str, bootstrap_csv: str, learning_curve_csv: str,
                     summary_csv: str, model_json: str = "") -> None:
    """One model's tables (results/validation/{model}/) and its line in the log.

    model_json: the model's results/models/<model>/model.json; its no-signature message
    marks every table written here (radsnake.stats.signature)."""
    summary = result.summary(model, y, settings)
    row = summary.iloc[0]
    log.info(
        "%s: apparent AUC %.3f, optimism %.3f, corrected %.3f, repeated CV %.3f (SD %.3f), nested CV %.3f",
        model, row["apparent_auc"], row["optimism"], row["corrected_auc"], row["cv_auc_mean"],
        row["cv_auc_sd"], row["nested_auc"],
    )
    message = read_message(model_json) if model_json else ""
    for table, path in ((result.repeated_cv, repeated_cv_csv), (per_repeat(result.repeated_cv), repeats_csv),
                        (result.nested_cv, nested_cv_csv), (result.bootstrap, bootstrap_csv),
                        (result.learning_curve, learning_curve_csv), (summary, summary_csv)):
        write_csv(table.assign(no_signature=message), path)
