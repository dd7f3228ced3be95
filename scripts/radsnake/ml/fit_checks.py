"""Outcome and size checks of the training and held-out sets, before any model is fitted.

Every cross-validation in the study is stratified: a CV with k folds puts both labels in
each validation fold only when each label has at least k cases where it runs, and a
nested CV runs on the training part of the outer fold, which holds
``m - ceil(m / k)`` of a label's m cases (scikit-learn's StratifiedKFold spreads each
label as evenly as it can). So the cases a study needs are counted per label, along
each chain of nested CVs the configuration builds (docs/design.md, "Checks before
fitting"):

* selection: each lasso step's ``cv_folds``;
* model tuning: ``models.cv_folds``, then the selection's lasso inside each tuning fold,
  and for the SVM its Platt scaling (radsnake.ml.platt.PLATT_FOLDS stratified folds; not a setting,
  so it only needs both labels in each of its training parts);
* the comparison: the same for every alternative selection;
* the negative control: the same chains as the main models (its training labels keep
  the training set's counts per label, radsnake.ml.modelling.training_labels);
* internal validation: ``validation.folds`` and ``validation.nested_outer_folds`` around
  the model tuning; the bootstrap keeps the counts; the learning curves' smaller shares
  only warn: a point whose training subset cannot fill its model's tuning chain is
  skipped, with its reason in the table (``least_per_label``, radsnake.ml.validation).

A chain that the training set cannot fill stops the run with one message naming the
counts and the settings; a held-out set with one label, and few events per parameter
of the clinical models, are warnings that say what is still computed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from radsnake.core.errors import InputError
from radsnake.ml.platt import PLATT_FOLDS  # the SVM's probabilities: Platt scaling on its own folds

# The settings that turn a job off, for a training set too small for it even at 2 folds.
SWITCHES = {"validate_model": "validation.enabled: false", "comparison_fit_model": "comparison.selections: {}"}
# Peduzzi et al. (1996): fewer than 10 events per parameter biases logistic coefficients.
EVENTS_PER_PARAMETER = 10


@dataclass(frozen=True)
class Level:
    """One CV (``folds``) or stratified subsample (``share``) in a chain, and its setting.

    ``least``: the cases of a label the CV needs where it runs, when not ``folds``.
    """

    setting: str
    folds: int = 0
    share: float = 0.0
    least: int = 0


def fold_training_count(count: int, folds: int) -> int:
    """A label's cases in the smallest training part of a stratified k-fold split."""
    return count - math.ceil(count / folds)


def chain_fits(count: int, chain: list[Level]) -> bool:
    """Whether ``count`` cases of a label put that label in every fold of every CV of the chain."""
    for level in chain:
        if level.share:
            count = max(1, int(round(level.share * count)))
            continue
        if count < (level.least or level.folds):
            return False
        count = fold_training_count(count, level.folds)
    return True


def cases_needed(chain: list[Level]) -> int:
    """The fewest cases of a label the chain needs."""
    count = 1
    while not chain_fits(count, chain):
        count += 1
    return count


def with_two_folds(level: Level) -> Level:
    """The level at the smallest fold count a setting allows (fixed CVs stay as they are)."""
    if level.share or level.least:
        return level
    return Level(level.setting, folds=2)


def describe(chain: list[Level]) -> str:
    parts = []
    for level in chain:
        parts.append(f"{level.setting}={level.share:g}" if level.share else f"{level.setting}={level.folds}")
    return " > ".join(parts)


def lasso_levels(steps: list[dict], where: str) -> list[Level]:
    """The lasso steps of a selection, each a CV level (its cv_folds, default 5)."""
    return [
        Level(f"{where}[{position}].cv_folds", folds=int(step.get("cv_folds", 5)))
        for position, step in enumerate(steps)
        if step.get("step") == "lasso"
    ]


def model_chains(steps: list[dict], where: str, models: list[str], outer: list[Level], cv_folds: int) -> list[list[Level]]:
    """The chains of one tuning of every model on one selection, inside ``outer`` levels."""
    tuning = Level("models.cv_folds", folds=cv_folds)
    chains = [outer + [tuning, *lasso_levels(steps, where)]]
    if "svm" in models:
        chains.append(outer + [tuning, Level("the svm's Platt scaling (fixed)", folds=PLATT_FOLDS, least=2)])
    return chains


@dataclass
class Plan:
    """What the configuration fits on the training set, as chains of CVs."""

    stops: list[tuple[str, list[Level]]]
    warns: list[tuple[str, list[Level]]]


def plan_chains(settings: dict) -> Plan:
    """Every chain of nested CVs the config runs on the training set, by the job that runs it."""
    steps = list(settings["selection_steps"])
    models = list(settings["models"])
    cv_folds = int(settings["cv_folds"])
    stops = [("select_features", lasso_levels(steps, "selection.steps"))]
    stops += [("fit_model", chain) for chain in model_chains(steps, "selection.steps", models, [], cv_folds)]
    for name, alternative in settings.get("comparison", {}).items():
        where = f"comparison.selections.{name}"
        stops += [("comparison_fit_model", c) for c in model_chains(list(alternative), where, models, [], cv_folds)]
    warns = []
    validation = settings.get("validation") or {}
    if validation.get("enabled"):
        folds = Level("validation.folds", folds=int(validation.get("folds", 5)))
        nested = Level("validation.nested_outer_folds", folds=int(validation.get("nested_outer_folds", 5)))
        for outer in ([folds], [nested]):
            stops += [("validate_model", c) for c in model_chains(steps, "selection.steps", models, outer, cv_folds)]
        smallest = min(float(size) for size in validation.get("learning_curve_sizes", [1.0]))
        if smallest < 1:
            share = [folds, Level("validation.learning_curve_sizes", share=smallest)]
            warns += [("validate_model", c) for c in model_chains(steps, "selection.steps", models, share, cv_folds)]
    return Plan([(job, chain) for job, chain in stops if chain], warns)


def label_counts(labels: np.ndarray) -> tuple[int, int]:
    labels = np.asarray(labels, dtype=int)
    return int(np.sum(labels == 1)), int(np.sum(labels == 0))


def size_problems(train_labels: np.ndarray, plan: Plan) -> tuple[str, list[str]]:
    """The stop message (empty when the training set fills every chain) and the cautions."""
    positives, negatives = label_counts(train_labels)
    smallest = min(positives, negatives)
    worst: dict[str, tuple[int, list[Level]]] = {}  # per job, its most demanding chain
    at_two: dict[str, int] = {}  # per job, what it would need with every fold count at 2
    for job, chain in plan.stops:
        need = cases_needed(chain)
        if need > worst.get(job, (0, []))[0]:
            worst[job] = (need, chain)
        at_two[job] = max(at_two.get(job, 0), cases_needed([with_two_folds(level) for level in chain]))
    failing = {job: found for job, found in worst.items() if smallest < found[0]}
    cautions = []
    curves = [(cases_needed(chain), chain) for _, chain in plan.warns]
    if curves and "validate_model" not in failing:
        need, chain = max(curves, key=lambda found: found[0])
        if smallest < need:
            cautions.append(
                f"learning curves: a share of {chain[1].share:g} of a training fold leaves too few cases of a label "
                f"for {describe(chain)} ({need} of each label needed in the training set, which has {positives} "
                f"with label 1 and {negatives} with label 0): points whose subsets have fewer are skipped, with the reason "
                "in learning_curve.csv. Raise the smallest validation.learning_curve_sizes or lower the folds."
            )
    if not failing:
        return "", cautions
    listed = "; ".join(f"{job} needs {need} ({describe(chain)})" for job, (need, chain) in failing.items())
    fixable = [job for job in failing if at_two[job] <= smallest]
    hopeless = [job for job in failing if at_two[job] > smallest]
    fixes = []
    if fixable:
        fixes.append(f"lower the fold counts named for {', '.join(fixable)} (2 is the smallest)")
    if hopeless:
        off = [f"{SWITCHES[job]} for {job}" for job in hopeless if job in SWITCHES]
        fixes.append(
            "even with 2 folds " + ", ".join(f"{job} needs {at_two[job]}" for job in hopeless)
            + " of each label: add cases or lower split.test_fraction" + (f", or turn off {', '.join(off)}" if off else "")
        )
    stop = (
        f"the training set is too small for the configured cross-validation: it has {positives} case(s) with "
        f"label 1 and {negatives} with label 0, and a stratified CV needs each label in every fold (nested CVs run "
        f"inside each other's training folds). Cases of each label needed: {listed}. To fix: "
        f"{'; '.join(fixes)}. No model was fitted."
    )
    return stop, cautions


def least_per_label(steps: list[dict], model: str, cv_folds: int) -> int:
    """The fewest cases of each label a training set needs for one tuning of ``model``
    (its tuning CV, the selection's lasso CVs inside it, the SVM's Platt folds)."""
    return max(cases_needed(chain) for chain in model_chains(steps, "selection.steps", [model], [], cv_folds))


def check_job_size(train_labels: np.ndarray, job: str, steps: list[dict], selection_setting: str, model: str = "",
                   cv_folds: int = 0, validation: dict | None = None) -> None:
    """The same check inside one fitting job, for its own CVs: InputError before it fits.

    check_training_set counts the whole configuration once, before the first fit; it
    does not rerun when only a fold count changes (docs/design.md), so each job checks
    its own chains again."""
    if not model:
        chains = [lasso_levels(steps, selection_setting)]
    else:
        outers = [[]]
        if validation:
            outers = [[Level("validation.folds", folds=int(validation.get("folds", 5)))],
                      [Level("validation.nested_outer_folds", folds=int(validation.get("nested_outer_folds", 5)))]]
        chains = [c for outer in outers for c in model_chains(steps, selection_setting, [model], outer, cv_folds)]
    positives, negatives = label_counts(train_labels)
    if not positives or not negatives:
        raise InputError(
            f"{job}: the training labels are {positives} case(s) with label 1 and {negatives} with label 0; "
            "every model needs both labels. No model was fitted."
        )
    stop, _ = size_problems(train_labels, Plan([(job, chain) for chain in chains if chain], []))
    if stop:
        raise InputError(f"{job}: {stop}")


def settings_from_config(config: dict) -> dict:
    """What check_training_set counts against, read from the study's config."""
    return {
        "selection_steps": config["selection"]["steps"],
        "models": config["models"]["enabled"],
        "cv_folds": config["models"]["cv_folds"],
        "comparison": config["comparison"]["selections"],
        "validation": config["validation"],
        "penalty": config["clinical_model"]["penalty"],
    }


def held_out_warnings(sets: dict[str, np.ndarray]) -> list[str]:
    """A held-out set with one label: what is undefined on it, what is still computed."""
    lines = []
    for name, labels in sets.items():
        positives, negatives = label_counts(labels)
        if positives and negatives:
            continue
        if not positives and not negatives:
            lines.append(f"the {name} set has no cases; nothing is evaluated on it.")
            continue
        present = "label 1" if positives else "label 0"
        still = "sensitivity" if positives else "specificity"
        lines.append(
            f"the {name} set has {positives} case(s) with label 1 and {negatives} with label 0 (only {present}): "
            f"AUC, its DeLong CI and tests, calibration and decision curves are undefined on it; {still} and "
            "accuracy are still computed. Change split.test_fraction or split.seed, or give it cases of both "
            "labels (split.locked, or the sheet's cohort/center for external sets)."
        )
    return lines


def clinical_parameters(clinical: dict[str, str], levels: dict[str, int]) -> int:
    """Coefficients of the combined model (besides the intercept): each numeric column,
    each categorical column's levels minus one, and the rad-score."""
    return 1 + sum(1 if kind == "numeric" else max(levels.get(name, 2) - 1, 1) for name, kind in clinical.items())


def events_warning(train_labels: np.ndarray, clinical: dict[str, str], levels: dict[str, int], penalty: str) -> str:
    """Too few events per coefficient of the clinical + rad-score logistic model (Peduzzi's 10)."""
    if not clinical:
        return ""
    positives, negatives = label_counts(train_labels)
    events = min(positives, negatives)
    parameters = clinical_parameters(clinical, levels)
    if events >= EVENTS_PER_PARAMETER * parameters:
        return ""
    advice = (
        "it is fitted with the penalty already set"
        if penalty != "none"
        else "set clinical_model.penalty: firth (penalised, less biased with few events)"
    )
    return (
        f"the training set has {events} events (cases of its smaller label: {positives} with label 1, {negatives} "
        f"with label 0) for the {parameters} coefficient(s) of the combined clinical + rad-score model, "
        f"{events / parameters:.1f} per coefficient (fewer than {EVENTS_PER_PARAMETER} biases logistic "
        f"coefficients and odds ratios): {advice}, declare fewer clinical columns, or add cases."
    )


def check_sizes(train_labels: np.ndarray, held_out: dict[str, np.ndarray], settings: dict,
                clinical_levels: dict[str, int]) -> list[str]:
    """The warnings; InputError with the one stop message when the training set cannot be fitted."""
    positives, negatives = label_counts(train_labels)
    if not positives or not negatives:
        raise InputError(
            f"the training set has {positives} case(s) with label 1 and {negatives} with label 0: every model "
            "needs both labels to learn from. Lower split.test_fraction, change split.external_centers or "
            "split.locked, or add cases of the missing label. No model was fitted."
        )
    stop, warnings = size_problems(train_labels, plan_chains(settings))
    if stop:
        raise InputError(stop)
    warnings += held_out_warnings(held_out)
    events = events_warning(train_labels, settings.get("clinical", {}), clinical_levels, settings.get("penalty", "none"))
    return warnings + ([events] if events else [])
