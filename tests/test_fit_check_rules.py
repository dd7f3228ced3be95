"""The counting rules of radsnake.ml.fit_checks and radsnake.ml.plausibility, against what
scikit-learn's splitters really do; the workflow tests are in tests/test_fit_checks.py."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedKFold

from radsnake.core.errors import InputError
from radsnake.ml.fit_checks import Level, cases_needed, chain_fits, check_job_size
from radsnake.ml.modelling import Design, control_positives, training_labels
from radsnake.ml.plausibility import (
    chance_separators,
    identical_rows,
    outcome_copies,
    plausibility,
    separating,
)
from radsnake.ml.selection import LassoSelector


def every_fold_has_both_labels(y: np.ndarray, folds: list[int]) -> bool:
    """Nested stratified CVs as the workflow runs them: each level on each training part."""
    if not folds:
        return True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        splitter = StratifiedKFold(folds[0], shuffle=True, random_state=0)
        try:
            splits = list(splitter.split(np.zeros(y.size), y))
        except ValueError:
            return False
    for train, test in splits:
        if np.unique(y[test]).size < 2 or not every_fold_has_both_labels(y[train], folds[1:]):
            return False
    return True


@pytest.mark.parametrize("folds", [[2], [3], [5], [3, 3], [5, 5], [5, 3], [3, 3, 3], [5, 5, 5]])
def test_the_cases_needed_are_exactly_what_stratified_folds_need(folds):
    chain = [Level(f"level{i}", folds=k) for i, k in enumerate(folds)]
    need = cases_needed(chain)
    # The smaller label decides; the larger one has more than enough.
    assert every_fold_has_both_labels(np.array([1] * need + [0] * (need + 7)), folds)
    assert not every_fold_has_both_labels(np.array([1] * (need - 1) + [0] * (need + 7)), folds)
    assert chain_fits(need, chain) and not chain_fits(need - 1, chain)


def test_known_needs():
    assert cases_needed([Level("a", folds=5), Level("b", folds=5)]) == 7
    assert cases_needed([Level("v", folds=5), Level("m", folds=5), Level("l", folds=5)]) == 9
    # Platt scaling is no setting: it only needs both labels in its training parts.
    assert cases_needed([Level("m", folds=3), Level("platt", folds=5, least=2)]) == 3


def test_control_labels_keep_the_count_of_each_label():
    for n0, n1 in itertools.product(range(0, 12), range(1, 12)):
        labels = np.array([0] * n0 + [1] * n1)
        from_negatives, from_positives = control_positives(labels)
        assert from_negatives + from_positives == n1 and from_negatives <= n0 and from_positives <= n1
        design = Design(pd.DataFrame(index=range(labels.size)), labels, np.array(["train"] * labels.size))
        assert training_labels(design, permute=True, seed=3).sum() == n1


def test_a_lasso_fold_without_a_label_is_named_not_called_multiclass():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 4))
    y = np.array([1] + [0] * 11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="a training part of its 3-fold CV holds only one label") as raised:
            LassoSelector(cv_folds=3, n_lambdas=5).fit(X, y)
    assert "multiclass" not in str(raised.value)


def test_a_fitting_job_checks_its_own_cvs():
    y = np.array([1] * 6 + [0] * 20)
    steps = [{"step": "zscore"}, {"step": "lasso", "cv_folds": 5}]
    check_job_size(y, "select_features", steps, "selection.steps")
    with pytest.raises(InputError, match=r"^fit_model svm: the training set is too small .*: it has 6 case\(s\) with label 1 "
                       r"and 20 with label 0.* fit_model svm needs 7 \(models.cv_folds=5 > selection.steps\[1\].cv_folds=5\)"):
        check_job_size(y, "fit_model svm", steps, "selection.steps", "svm", 5)


def test_plausibility_rules():
    y = np.array([0, 1] * 6)
    X = pd.DataFrame({"a": y * 3.0 + 1, "b": np.arange(12.0), "c": y + np.linspace(0, 0.5, 12)},
                     index=[f"p{i}" for i in range(12)])
    assert outcome_copies(X, y) == ["a"]
    assert separating(X, y) == ["a", "c"]
    # 6 + 6 cases: a noise feature separates them with probability 2 / C(12, 6).
    assert chance_separators(1, 6, 6) == pytest.approx(2 / 924)
    twins = X.copy()
    twins.loc["p3"] = twins.loc["p1"]
    sets = pd.Series("train", index=X.index)
    assert identical_rows(twins, sets) == [["p1 (train)", "p3 (train)"]]
    # Separation on 6 + 6 cases is a caution; allowed columns and cases are not reported.
    stops, cautions, _ = plausibility(X[["b", "c"]], y, np.ones(12, bool), sets, [], "t.csv")
    assert stops == [] and len(cautions) == 1 and cautions[0].startswith("feature(s) c in t.csv separate")
    stops, cautions, _ = plausibility(twins, y, np.ones(12, bool), sets, ["a", "c", "p1", "p3"], "t.csv")
    assert stops == [] and cautions == []
