"""radsnake.ml.platt: Platt probabilities that never reverse the SVM's ranking."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import SVC

from radsnake.ml.platt import PlattSVC, platt_targets
from radsnake.stats.discrimination import auc_delong


def anti_feature(labels: np.ndarray, rng) -> np.ndarray:
    """One feature whose 5-fold out-of-fold SVM decision values anti-correlate with the labels.

    Per class, the cases fall in StratifiedKFold's five unshuffled folds in order; the folds
    sit at +2, -2, +1, -1 and 0 (mirrored for the other class), so both classes have mean 0
    and each held-out fold lies on the side its training folds point away from.
    """
    x = np.empty(len(labels))
    for value in (0, 1):
        members = np.flatnonzero(labels == value)
        sizes = np.full(5, len(members) // 5)
        sizes[: len(members) % 5] += 1
        levels = np.repeat([2.0, -2.0, 1.0, -1.0, 0.0], sizes)
        x[members] = levels * (1 if value else -1) + 0.1 * rng.normal(size=len(members))
    return x


def svm(**kwargs):
    return PlattSVC(SVC(kernel="linear", class_weight="balanced", random_state=0, **kwargs), random_state=0)


def test_wrong_sign_is_detected_and_the_ranking_kept():
    rng = np.random.default_rng(3)
    y = rng.permutation(np.r_[[1] * 44, [0] * 36])
    X = pd.DataFrame({"x": anti_feature(y, rng)})
    model = svm().fit(X, y)
    assert model.wrong_sign_ and model.unconstrained_slope_ < -1 and model.slope_ == 0.0
    p, d = model.predict_proba(X)[:, 1], model.decision_function(X)
    # Flat at the smoothed prevalence to 6 decimals, ordered exactly as the decision values.
    assert np.abs(p - platt_targets(y).mean()).max() < 1e-6
    assert (np.argsort(p, kind="stable") == np.argsort(d, kind="stable")).all()
    assert auc_delong(y, p)["auc"] == auc_delong(y, d)["auc"]


def test_right_sign_is_platts_map_as_sklearn_fits_it():
    rng = np.random.default_rng(4)
    y = rng.permutation(np.r_[[1] * 40, [0] * 60])
    X = pd.DataFrame({"a": y + rng.normal(size=100), "b": rng.normal(size=100)})
    model = svm().fit(X, y)
    assert not model.wrong_sign_ and model.slope_ == pytest.approx(model.unconstrained_slope_, abs=1e-9)
    reference = CalibratedClassifierCV(
        SVC(kernel="linear", class_weight="balanced", random_state=0), method="sigmoid", ensemble=False
    ).fit(X, y)
    np.testing.assert_allclose(model.predict_proba(X), reference.predict_proba(X), atol=1e-4)
    assert (model.predict(X) == (model.predict_proba(X)[:, 1] >= 0.5)).all()


def test_is_an_sklearn_estimator():
    model = svm(C=2.0)
    assert "estimator__C" in model.get_params() and clone(model).get_params()["estimator__C"] == 2.0
    assert not hasattr(clone(model), "slope_")  # learned state appears only in fit


def test_the_map_is_fitted_on_first_use_with_the_same_numbers(monkeypatch):
    """A grid search scores its candidates by the decision function: their Platt maps
    (5 more SVC fits each) are never fitted; the refitted model's map is the one fitting
    it straight away gives, and a pickled model holds the map, not the training data."""
    import pickle

    from sklearn.model_selection import GridSearchCV

    from radsnake.ml import platt

    rng = np.random.default_rng(5)
    y = rng.permutation(np.r_[[1] * 30, [0] * 45])
    X = pd.DataFrame({"a": y + rng.normal(size=75), "b": rng.normal(size=75)})
    calls = []
    real = platt.cross_val_predict
    monkeypatch.setattr(platt, "cross_val_predict", lambda *a, **k: calls.append(1) or real(*a, **k))
    search = GridSearchCV(svm(), {"estimator__C": [0.1, 1.0, 10.0]}, cv=3, scoring="roc_auc").fit(X, y)
    assert calls == []  # 3 grid points x 3 folds + the refit, no map fitted
    saved = pickle.loads(pickle.dumps(search.best_estimator_))
    assert len(calls) == 1 and saved._uncalibrated is None
    eager = svm(C=search.best_params_["estimator__C"]).fit(X, y)
    eager_map = (eager.slope_, eager.intercept_, eager.unconstrained_slope_, eager.wrong_sign_, eager.decision_sd_)
    assert (saved.slope_, saved.intercept_, saved.unconstrained_slope_, saved.wrong_sign_,
            saved.decision_sd_) == eager_map
    assert (saved.predict_proba(X) == eager.predict_proba(X)).all() and len(calls) == 2
