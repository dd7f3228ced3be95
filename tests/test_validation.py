"""Internal validation estimators on small synthetic data (radsnake.ml.validation)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from radsnake.ml import validation
from radsnake.core.errors import InputError
from radsnake.ml.models import build_search
from radsnake.ml.validation import Settings, Task, bootstrap_samples, run_tasks, validate

# Scaling and a supervised filter: enough to leak if anything were fitted outside the folds.
SELECTION = [{"step": "zscore"}, {"step": "univariate", "p_threshold": 0.2}]


def data(n=60, p=10, shift=0.0, seed=0):
    """Balanced labels; with ``shift`` the first two features carry the signal, else pure noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.standard_normal((n, p))
    X[:, :2] += shift * y[:, None]
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(p)], index=[f"c{i}" for i in range(n)]), y


def search(cv_folds=3):
    return build_search("logistic", SELECTION, {"C": [0.1, 1.0]}, cv_folds, random_state=0)


def test_overfitting_model_on_noise_is_corrected_to_chance():
    X, y = data(n=80, p=10, seed=1)
    settings = Settings(folds=4, repeats=2, nested_outer_folds=4, bootstrap=40,
                        learning_curve_sizes=(1.0,), learning_curve_repeats=1)
    # Nearly unpenalised logistic regression on ten noise features: it fits noise.
    result = validate(LogisticRegression(C=100.0, max_iter=5000), X, y, settings, random_state=3)
    summary = result.summary("logistic", y, settings).iloc[0]
    assert summary["apparent_auc"] > 0.65
    assert summary["optimism"] > 0.1 and (result.bootstrap["optimism"] > 0).mean() > 0.9
    assert abs(summary["corrected_auc"] - 0.5) < 0.1, summary
    assert summary["corrected_auc"] == pytest.approx(summary["apparent_auc"] - summary["optimism"])
    assert summary["optimism_low"] <= summary["optimism"] <= summary["optimism_high"]
    assert abs(summary["cv_auc_mean"] - 0.5) < 0.1
    assert abs(summary["nested_auc"] - 0.5) < 0.1


def test_memorising_model_has_large_optimism():
    X, y = data(n=80, seed=1)
    settings = Settings(folds=4, repeats=1, nested_outer_folds=4, bootstrap=20,
                        learning_curve_sizes=(1.0,), learning_curve_repeats=1)
    result = validate(DecisionTreeClassifier(random_state=0), X, y, settings, random_state=3)
    summary = result.summary("tree", y, settings).iloc[0]
    assert summary["apparent_auc"] == 1.0
    assert (result.bootstrap["optimism"] > 0).all()
    # Harrell's correction is known to fall short for a model that memorises its
    # training set (docs/validation.md); the CV estimates are the honest ones there.
    assert summary["corrected_auc"] > summary["cv_auc_mean"]
    assert abs(summary["cv_auc_mean"] - 0.5) < 0.12


def test_nested_cv_of_noise_is_near_chance_with_tuning_inside():
    X, y = data(n=80, p=30, seed=2)
    result = validate(search(), X, y, Settings(folds=3, repeats=1, nested_outer_folds=5, bootstrap=1,
                                                learning_curve_sizes=(1.0,), learning_curve_repeats=1),
                      random_state=0)
    nested = result.nested_cv
    assert nested["fold"].tolist() == [1, 2, 3, 4, 5]
    assert nested["n_train"].sum() == 4 * len(y) and nested["n_test"].sum() == len(y)
    assert abs(nested["auc"].mean() - 0.5) < 0.15, nested
    # Every outer fold ran its own grid search.
    assert nested["params"].str.startswith('{"C": ').all()
    assert nested["inner_cv_auc"].between(0, 1).all()


SIGNAL_SETTINGS = Settings(folds=3, repeats=2, nested_outer_folds=3, bootstrap=3,
                           learning_curve_sizes=(0.4, 0.7, 1.0), learning_curve_repeats=2)


@pytest.fixture(scope="module")
def signal():
    X, y = data(n=60, shift=2.0, seed=3)
    return X, y, validate(search(), X, y, SIGNAL_SETTINGS, random_state=7, n_jobs=1)


def test_repeated_cv_finds_signal_and_reports_every_fold(signal):
    X, y, result = signal
    cv = result.repeated_cv
    pairs = list(cv[["repeat", "fold"]].itertuples(index=False, name=None))
    assert pairs == [(r, f) for r in (1, 2) for f in (1, 2, 3)]
    assert (cv["n_train"] + cv["n_test"] == len(y)).all()
    assert cv["auc"].mean() > 0.85
    summary = result.summary("logistic", y, SIGNAL_SETTINGS)
    assert list(summary.columns) == validation.SUMMARY_COLUMNS
    row = summary.iloc[0]
    assert row["cv_auc_mean"] == pytest.approx(cv["auc"].mean())
    assert row["cv_auc_sd"] == pytest.approx(cv["auc"].std(ddof=1))
    assert row["nested_auc"] == pytest.approx(result.nested_cv["auc"].mean())
    # Same fold count and seed: the nested CV's partition is the first repeat's.
    np.testing.assert_array_equal(result.nested_cv["auc"], cv.loc[cv["repeat"] == 1, "auc"])
    assert result.nested_cv["params"].tolist() == cv.loc[cv["repeat"] == 1, "params"].tolist()
    repeats = validation.per_repeat(cv)
    assert repeats["repeat"].tolist() == [1, 2] and (repeats["n_folds"] == 3).all()
    assert repeats["auc"].tolist() == pytest.approx([cv.loc[cv["repeat"] == r, "auc"].mean() for r in (1, 2)])
    assert row["cv_auc_repeat_sd"] == pytest.approx(repeats["auc"].std(ddof=1))


def test_learning_curve_grows_and_its_full_size_point_is_the_repeated_cv(signal):
    X, y, result = signal
    curve = result.learning_curve
    assert len(curve) == 2 * 3 * 3
    sizes = curve.groupby("size")["n_train"].mean()
    assert sizes.is_monotonic_increasing and sizes.loc[1.0] == 40
    # Stratified subsets keep the label balance.
    assert (curve["n_positive"] / curve["n_train"]).between(0.4, 0.6).all()
    full = curve[curve["size"] == 1.0].reset_index(drop=True)
    np.testing.assert_array_equal(full["validation_auc"], result.repeated_cv["auc"])
    assert curve["validation_auc"].between(0, 1).all() and curve["train_auc"].between(0, 1).all()


def test_results_do_not_depend_on_n_jobs(signal):
    X, y, one = signal
    two = validate(search(), X, y, SIGNAL_SETTINGS, random_state=7, n_jobs=2)
    for name in ("repeated_cv", "nested_cv", "bootstrap", "learning_curve"):
        pd.testing.assert_frame_equal(getattr(one, name), getattr(two, name), check_exact=True)
    assert one.apparent_auc == two.apparent_auc


def test_apparent_auc_is_that_of_the_model_fitted_on_all_training_cases(signal):
    X, y, result = signal
    fitted = search().fit(X, y)
    assert result.apparent_auc == validation.auc(y, fitted.predict_proba(X)[:, 1])
    # Harrell's optimism: the resample's own AUC minus its AUC on the original set.
    boot = result.bootstrap
    np.testing.assert_allclose(boot["optimism"], boot["auc_bootstrap"] - boot["auc_original"])


def test_bootstrap_samples_are_stratified_and_seeded():
    y = np.array([0] * 12 + [1] * 5)
    samples = bootstrap_samples(y, 20, random_state=1)
    assert all(np.sum(y[s] == 1) == 5 and s.size == y.size for s in samples)
    assert any(np.unique(s).size < y.size for s in samples)  # drawn with replacement
    again = bootstrap_samples(y, 20, random_state=1)
    assert all((a == b).all() for a, b in zip(samples, again))
    assert not all((a == b).all() for a, b in zip(samples, bootstrap_samples(y, 20, random_state=2)))


class CountingLogistic(LogisticRegression):
    fits = 0

    def fit(self, X, y, sample_weight=None):
        type(self).fits += 1
        return super().fit(X, y, sample_weight)


def test_identical_fits_run_once():
    X, y = data(n=30, shift=1.0)
    rows = np.arange(20)
    tasks = [Task(rows, (rows,), "a"), Task(rows, (rows,), "b"), Task(rows[:15], (rows,), "c")]
    CountingLogistic.fits = 0
    results = run_tasks(CountingLogistic(), X, y, tasks)
    assert CountingLogistic.fits == 2
    assert results[0].aucs == results[1].aucs


def test_too_few_cases_for_the_folds_is_an_input_error():
    X, y = data(n=12)
    with pytest.raises(InputError, match=r"validation.folds = 8 .*6 with label 1"):
        validate(search(), X, y, Settings(folds=8), random_state=0)


def test_a_failing_fit_names_the_design_and_the_fix():
    X, y = data(n=40)
    with pytest.raises(InputError, match="learning curve at 0.1 .*failed.*learning_curve_sizes"):
        validate(search(), X, y, Settings(folds=2, repeats=1, nested_outer_folds=2, bootstrap=1,
                                           learning_curve_sizes=(0.1,), learning_curve_repeats=1),
                 random_state=0)


def test_settings_from_config_ignores_the_switch():
    settings = Settings.from_config({"enabled": True, "bootstrap": 50, "learning_curve_sizes": [0.5, 1]})
    assert settings.bootstrap == 50 and settings.learning_curve_sizes == (0.5, 1.0)
    assert settings.folds == Settings().folds


def test_figures_are_deterministic(tmp_path):
    from radsnake.figures.validation_figures import learning_curves_figure, validation_auc_figure

    summary = pd.DataFrame({
        "model": ["logistic", "random_forest"], "apparent_auc": [0.9, 1.0], "optimism": [0.05, 0.2],
        "optimism_low": [0.0, 0.1], "optimism_high": [0.1, 0.3], "corrected_auc": [0.85, 0.8],
        "cv_auc_mean": [0.84, 0.7], "cv_auc_sd": [0.05, float("nan")], "nested_auc": [0.83, 0.72],
        "nested_auc_sd": [0.06, 0.1],
    })
    curve = pd.DataFrame({
        "size": [0.5, 0.5, 1.0, 1.0], "n_train": [20, 20, 40, 40],
        "train_auc": [0.95, 0.9, 0.9, 0.88], "validation_auc": [0.6, 0.7, 0.75, 0.8],
    })
    outputs = []
    for run in (1, 2):
        paths = [tmp_path / f"{name}{run}.{ext}" for name in ("auc", "curves") for ext in ("png", "pdf")]
        validation_auc_figure(summary, paths[0], paths[1])
        learning_curves_figure({"logistic": curve, "random_forest": curve, "svm": curve}, paths[2], paths[3])
        outputs.append([path.read_bytes() for path in paths])
    assert outputs[0] == outputs[1]
    assert all(data.startswith(b"%PDF") for data in outputs[0][1::2])


def counting_lasso_fits(monkeypatch) -> list:
    """Every LassoSelector.fit call, appended to the returned list."""
    from radsnake.ml.selection import LassoSelector

    calls, fit = [], LassoSelector.fit

    def counted(self, X, y):
        calls.append(len(y))
        return fit(self, X, y)

    monkeypatch.setattr(LassoSelector, "fit", counted)
    return calls


CHUNK_SETTINGS = Settings(folds=3, repeats=1, nested_outer_folds=3, bootstrap=2,
                          learning_curve_sizes=(0.5, 1.0), learning_curve_repeats=1)
CHUNK_STEPS = [{"step": "zscore"}, {"step": "lasso", "cv_folds": 3, "n_lambdas": 8}]
CHUNK_GRIDS = {"logistic": {"C": [0.1, 1.0, 10.0]}, "decision_tree": {"max_depth": [2, 3]}}


def test_selection_is_fitted_once_per_training_set_for_every_grid_point_and_model(monkeypatch, caplog):
    from radsnake.ml import validation_runs as validation_jobs

    X, y = data(n=48, p=6, shift=1.0, seed=4)
    designs = validation.plan(y, CHUNK_SETTINGS, random_state=5)
    distinct = validation.unique_tasks(designs.tasks)
    # 3 CV folds (the nested CV's outer folds are the same), the apparent fit, 2 bootstrap
    # resamples, 3 learning-curve fits at half size (the full size is the CV's).
    assert len(designs.tasks) == 3 + 3 + 1 + 2 + 6 and len(distinct) == 3 + 1 + 2 + 3
    searches = validation_jobs.model_searches(["logistic", "decision_tree"], CHUNK_STEPS, CHUNK_GRIDS, 3, "class_weight",
                                              5, None)
    calls = counting_lasso_fits(monkeypatch)
    monkeypatch.setattr(validation_jobs, "PROGRESS_EVERY", 0.0)
    caplog.set_level("INFO", logger="radsnake.ml.validation_runs")
    results, timings = validation_jobs.run_chunk(searches, X, y, distinct, "chunk 1 of 1")
    # Per training set: 3 tuning folds + the refit on all of it, shared by the 3 + 2 grid
    # points of both models (without the cache: (3 x 3 + 1) + (2 x 3 + 1) per set).
    assert len(calls) == len(distinct) * (3 + 1)
    assert "9 of 9 resamples fitted" in caplog.text and "left" in caplog.text
    assert set(timings["model"]) == {"logistic", "decision_tree", "(selection steps)"}
    assert set(timings["stage"]) == {"repeated_cv", "apparent", "bootstrap", "learning_curve"}

    # The same numbers as each model validated on its own, without any sharing, and
    # whatever the chunking (the run above is the one chunk).
    in_four = {}
    for chunk in range(1, 5):
        in_four.update(validation_jobs.run_chunk(searches, X, y, validation_jobs.chunk_tasks(distinct, chunk, 4),
                                                 "chunk")[0])
    for model, search in searches.items():
        alone = validate(search, X, y, CHUNK_SETTINGS, random_state=5)
        for found in (results, in_four):
            shared = designs.assemble([found[task.key()][model] for task in designs.tasks])
            for name in ("repeated_cv", "nested_cv", "bootstrap", "learning_curve"):
                pd.testing.assert_frame_equal(getattr(alone, name), getattr(shared, name), check_exact=True)
            assert alone.apparent_auc == shared.apparent_auc


def test_optimism_interval_without_width_has_its_reason():
    assert validation.optimism_reason(np.zeros(5)).startswith("every bootstrap resample gives the same optimism (0)")
    assert validation.optimism_reason(np.array([0.0, 0.1, 0.05])) == ""


def test_learning_curve_subsets_too_small_to_tune_on_are_skipped_with_their_reason():
    """A 0.25 share of a 5-fold training fold holds 3 of the 16 label-1 cases: too few for
    3 tuning folds with a 3-fold lasso inside (5 of each label needed). Fitted, they would be
    tuned on folds without a label (or, with both labels short, scikit-learn stops: "n_splits=5
    cannot be greater than the number of members in each class"); those points are skipped and say why, the rest are unchanged."""
    from radsnake.ml import validation_runs as validation_jobs
    from radsnake.ml.fit_checks import least_per_label

    X, y = data(n=48, p=6, shift=1.0, seed=4)
    y = np.zeros(48, dtype=int)
    y[::3] = 1  # 16 with label 1, 32 with label 0
    settings = Settings(folds=5, repeats=1, nested_outer_folds=5, bootstrap=1,
                        learning_curve_sizes=(0.25, 1.0), learning_curve_repeats=1)
    least = {model: least_per_label(CHUNK_STEPS, model, 3) for model in CHUNK_GRIDS}
    assert least == {"logistic": 5, "decision_tree": 5}
    searches = validation_jobs.model_searches(list(CHUNK_GRIDS), CHUNK_STEPS, CHUNK_GRIDS, 3, "class_weight", 5, None)
    designs = validation.plan(y, settings, random_state=5)
    distinct = validation.unique_tasks(designs.tasks)
    found, _ = validation_jobs.run_chunk(searches, X, y, distinct, "chunk", least)
    # Two fits of other designs, run without the check, for the comparison below.
    unchecked, _ = validation_jobs.run_chunk(searches, X, y, [t for t in distinct if t.stage != "learning_curve"][:2],
                                             "chunk")
    for model in CHUNK_GRIDS:
        result = designs.assemble([found[task.key()][model] for task in designs.tasks])
        curve = result.learning_curve
        small = curve[curve["size"] == 0.25]
        assert (small["n_positive"] < 5).all() and small["validation_auc"].isna().all()
        assert small["skipped"].str.fullmatch(r"\d with label 1 and \d+ with label 0 in the training subset; "
                                              r"the tuning needs 5 of each label").all()
        full = curve[curve["size"] == 1.0]
        assert (full["skipped"] == "").all() and full["validation_auc"].notna().all()
        line = validation.skipped_points(curve)
        assert line.startswith("5 of 10 learning-curve points skipped (size 0.25): ")
        assert "learning_curve.csv" in line
        # Everything else is what it is without the check.
        for task in distinct:
            if task.key() in unchecked:
                assert found[task.key()][model] == unchecked[task.key()][model]
    # Without the check the same subsets are tuned on folds lacking label 1.
    with pytest.warns(UserWarning, match="least populated class in y has only"):
        validation.fit_and_score(searches["logistic"], X, y, next(t for t in distinct if "at 0.25" in t.what))
