import logging

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from radsnake.ml import selection
from radsnake.ml.selection import (
    CorrelationFilter,
    LassoSelector,
    PrincipalComponents,
    UnivariateFilter,
    VarianceFilter,
    build_selection,
)


def shifted_groups(n=80, p=20, n_informative=3, shift=1.5, seed=0):
    """Two groups; the first n_informative columns are shifted in cases."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    X = rng.standard_normal((n, p))
    X[:, :n_informative] += shift * y[:, None]
    columns = [f"f{i}" for i in range(p)]
    return pd.DataFrame(X, columns=columns), y


def logistic_data(n=120, p=200, seed=0):
    """X standard normal; logit(P(y=1)) driven by columns 0-3 only."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    beta = np.zeros(p)
    beta[:4] = [2.0, -2.0, 1.5, -1.5]
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ beta))).astype(int)
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(p)]), y


ALL_SELECTORS = [
    VarianceFilter(),
    UnivariateFilter(),
    UnivariateFilter(test="ttest", fdr=True),
    CorrelationFilter(),
    CorrelationFilter(method="pearson"),
    LassoSelector(n_lambdas=15, cv_folds=3),
]


# --- shared sklearn conventions -------------------------------------------------------

@pytest.mark.parametrize("selector", ALL_SELECTORS, ids=lambda s: type(s).__name__)
def test_selectors_follow_sklearn_conventions(selector):
    X, y = shifted_groups()
    with pytest.raises(NotFittedError):
        check_is_fitted(selector)
    fresh = clone(selector)
    assert fresh.get_params() == selector.get_params()

    fitted = clone(selector).fit(X, y)
    check_is_fitted(fitted)
    mask = fitted.get_support()
    assert mask.dtype == bool and mask.shape == (X.shape[1],) and mask.any()
    assert list(fitted.get_feature_names_out()) == list(X.columns[mask])
    # Fitting does not touch the unfitted template (clone gave an independent copy).
    with pytest.raises(NotFittedError):
        check_is_fitted(selector)

    as_frame = clone(selector).set_output(transform="pandas").fit(X, y).transform(X)
    assert isinstance(as_frame, pd.DataFrame)
    assert list(as_frame.columns) == list(X.columns[mask])
    np.testing.assert_array_equal(as_frame.to_numpy(), X.to_numpy()[:, mask])

    from_numpy = clone(selector).fit(X.to_numpy(), y)
    np.testing.assert_array_equal(from_numpy.get_support(), mask)
    assert from_numpy.transform(X.to_numpy()).shape == (X.shape[0], mask.sum())


@pytest.mark.parametrize("selector", ALL_SELECTORS[1:], ids=lambda s: type(s).__name__)
def test_supervised_selectors_refuse_non_binary_outcome(selector):
    X, y = shifted_groups()
    y3 = np.arange(len(y)) % 3
    with pytest.raises(ValueError, match="binary"):
        clone(selector).fit(X, y3)


# --- VarianceFilter -------------------------------------------------------------------

def test_variance_filter_drops_constant_keeps_rest():
    X, y = shifted_groups()
    X["constant"] = 3.0
    X["near_constant"] = 3.0 + 1e-5 * (np.arange(len(X)) % 2)  # variance 2.5e-11
    fitted = VarianceFilter(threshold=1e-8).fit(X)
    kept = set(fitted.get_feature_names_out())
    assert "constant" not in kept and "near_constant" not in kept
    assert kept == {f"f{i}" for i in range(20)}


def test_variance_filter_all_constant_raises():
    with pytest.raises(ValueError, match="variance"):
        VarianceFilter().fit(np.ones((10, 3)))


# --- UnivariateFilter -----------------------------------------------------------------

@pytest.mark.parametrize("test", ["mannwhitney", "ttest"])
def test_univariate_keeps_informative(test):
    X, y = shifted_groups(n=100, p=50)
    fitted = UnivariateFilter(test=test, p_threshold=0.001).fit(X, y)
    kept = set(fitted.get_feature_names_out())
    assert {"f0", "f1", "f2"} <= kept
    assert len(kept) <= 5


def test_univariate_pvalues_match_scipy_column_by_column():
    X, y = shifted_groups()
    fitted = UnivariateFilter().fit(X, y)
    for j in (0, 7):
        expected = stats.mannwhitneyu(X.iloc[y == 1, j], X.iloc[y == 0, j], alternative="two-sided").pvalue
        assert fitted.pvalues_[j] == pytest.approx(expected)
    welch = UnivariateFilter(test="ttest").fit(X, y)
    expected = stats.ttest_ind(X.iloc[y == 1, 3], X.iloc[y == 0, 3], equal_var=False).pvalue
    assert welch.pvalues_[3] == pytest.approx(expected)


def test_univariate_fdr_is_stricter_than_raw():
    X, y = shifted_groups(n=60, p=400, n_informative=5, shift=0.9, seed=3)
    raw = UnivariateFilter(p_threshold=0.05, fdr=False).fit(X, y).get_support()
    fdr = UnivariateFilter(p_threshold=0.05, fdr=True).fit(X, y).get_support()
    assert fdr.sum() < raw.sum()
    assert not (fdr & ~raw).any()  # every FDR-kept feature also passes the raw test


def test_univariate_min_features_fallback_warns(caplog):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 30))
    y = np.repeat([0, 1], 20)
    X[:, 4] += 0.4 * y  # weak: the smallest p but not below 1e-6
    with caplog.at_level(logging.WARNING, logger=selection.__name__):
        fitted = UnivariateFilter(p_threshold=1e-6, min_features=3).fit(X, y)
    assert fitted.get_support().sum() == 3
    np.testing.assert_array_equal(np.flatnonzero(fitted.get_support()), np.sort(np.argsort(fitted.pvalues_)[:3]))
    assert "smallest-p" in caplog.text


def test_univariate_constant_column_gets_p_one():
    X, y = shifted_groups()
    X["constant"] = 1.0
    fitted = UnivariateFilter().fit(X, y)
    assert fitted.pvalues_[-1] == 1.0
    assert "constant" not in fitted.get_feature_names_out()


def test_univariate_unknown_test_raises():
    X, y = shifted_groups()
    with pytest.raises(ValueError, match="mannwhitney"):
        UnivariateFilter(test="anova").fit(X, y)


# --- CorrelationFilter ----------------------------------------------------------------

@pytest.mark.parametrize("method", ["spearman", "pearson"])
@pytest.mark.parametrize("duplicate_first", [False, True])
def test_correlation_keeps_the_more_related_of_a_pair(method, duplicate_first):
    X, y = shifted_groups(n=100, p=6, n_informative=1, shift=1.5)
    rng = np.random.default_rng(5)
    # A noisy copy of f0: correlated ~0.97 with it but less related to y.
    duplicate = X["f0"] + 0.25 * rng.standard_normal(len(X))
    X.insert(0 if duplicate_first else X.shape[1], "dup", duplicate)
    fitted = CorrelationFilter(threshold=0.9, method=method).fit(X, y)
    assert fitted.relevance_[list(X.columns).index("f0")] > fitted.relevance_[list(X.columns).index("dup")]
    kept = set(fitted.get_feature_names_out())
    assert kept == {f"f{i}" for i in range(6)}


def test_correlation_exact_tie_keeps_first_column_and_constant_survives():
    X, y = shifted_groups(p=4)
    X["copy_of_f1"] = X["f1"]
    X["constant"] = 2.0
    fitted = CorrelationFilter(threshold=0.9).fit(X, y)
    kept = list(fitted.get_feature_names_out())
    assert "f1" in kept and "copy_of_f1" not in kept
    assert "constant" in kept  # no correlation defined, so nothing to be redundant with


def test_correlation_greedy_chain_is_not_pairwise():
    # a~b and b~c above threshold but a~c below: greedy keeps a (most relevant) and c,
    # whereas dropping one of every too-close pair would lose c as well.
    rng = np.random.default_rng(0)
    n = 200
    y = np.repeat([0, 1], n // 2)
    u = y + 0.6 * rng.standard_normal(n)
    u = (u - u.mean()) / np.linalg.norm(u - u.mean())
    v = rng.standard_normal(n)
    v -= v.mean() + (v @ u) * u
    v /= np.linalg.norm(v)
    angle = np.arccos(0.95)  # corr(a, b) = corr(b, c) = 0.95, corr(a, c) = cos(2 angle) = 0.805
    a, b, c = u, np.cos(angle) * u + np.sin(angle) * v, np.cos(2 * angle) * u + np.sin(2 * angle) * v
    X = np.column_stack([c, b, a])
    fitted = CorrelationFilter(threshold=0.9, method="pearson").fit(X, y)
    assert fitted.relevance_[2] > max(fitted.relevance_[:2])
    np.testing.assert_array_equal(fitted.get_support(), [True, False, True])


def test_correlation_is_fast_on_radiomics_size():
    import time

    rng = np.random.default_rng(0)
    latent = rng.standard_normal((100, 150))
    X = np.repeat(latent, 10, axis=1) + 0.1 * rng.standard_normal((100, 1500))
    y = np.repeat([0, 1], 50)
    start = time.process_time()
    fitted = CorrelationFilter(threshold=0.9).fit(X, y)
    assert time.process_time() - start < 3.0
    assert 100 <= fitted.get_support().sum() <= 200  # about one per block of 10 copies


# --- LassoSelector --------------------------------------------------------------------

@pytest.fixture(scope="module")
def fitted_lasso():
    X, y = logistic_data(p=100)
    Xz = pd.DataFrame(StandardScaler().fit_transform(X), columns=X.columns)
    return LassoSelector(random_state=0).fit(Xz, y), Xz, y


def test_lasso_1se_is_sparser_and_finds_planted_signal(fitted_lasso):
    lasso, X, y = fitted_lasso
    assert lasso.lambda_1se_ >= lasso.lambda_min_
    assert lasso.lambda_ == lasso.lambda_1se_
    assert {"f0", "f1", "f2", "f3"} <= set(lasso.get_feature_names_out())
    assert lasso.get_support().sum() <= 15
    np.testing.assert_array_equal(lasso.support_, lasso.coef_ != 0)
    # Signs follow the planted coefficients (+, -, +, -).
    np.testing.assert_array_equal(np.sign(lasso.coef_[:4]), [1, -1, 1, -1])


def test_lasso_grid_starts_at_all_zero_lambda_max(fitted_lasso):
    lasso, _, _ = fitted_lasso
    assert lasso.lambdas_.shape == (50,)
    assert np.all(np.diff(lasso.lambdas_) < 0)
    assert lasso.lambdas_[-1] == pytest.approx(lasso.lambdas_[0] * 1e-3)
    assert np.all(lasso.coef_path_[0] == 0)
    assert np.any(lasso.coef_path_[2] != 0)
    assert lasso.coef_path_.shape == (50, 100)


def test_lasso_1se_rule_definition(fitted_lasso):
    lasso, _, _ = fitted_lasso
    i_min = np.argmin(lasso.cv_mean_)
    assert lasso.lambda_min_ == lasso.lambdas_[i_min]
    within = lasso.cv_mean_ <= lasso.cv_mean_[i_min] + lasso.cv_se_[i_min]
    assert lasso.lambda_1se_ == lasso.lambdas_[within].max()


def test_lasso_rule_min_keeps_more(fitted_lasso):
    lasso_1se, X, y = fitted_lasso
    lasso_min = clone(lasso_1se).set_params(rule="min").fit(X, y)
    assert lasso_min.lambda_ == lasso_min.lambda_min_ == lasso_1se.lambda_min_
    assert lasso_min.get_support().sum() >= lasso_1se.get_support().sum()


def test_lasso_is_deterministic():
    X, y = logistic_data(p=40)
    lasso = LassoSelector(n_lambdas=20, random_state=0).fit(X, y)
    again = clone(lasso).fit(X, y)
    np.testing.assert_array_equal(again.coef_path_, lasso.coef_path_)
    np.testing.assert_array_equal(again.cv_mean_, lasso.cv_mean_)
    other_seed = clone(lasso).set_params(random_state=1).fit(X, y)
    assert not np.array_equal(other_seed.cv_mean_, lasso.cv_mean_)  # folds depend on the seed


def test_lasso_decision_function_and_frames(fitted_lasso):
    lasso, X, y = fitted_lasso
    score = lasso.decision_function(X)
    np.testing.assert_allclose(score, lasso.intercept_ + X.to_numpy() @ lasso.coef_)
    assert np.corrcoef(score, y)[0, 1] > 0.5

    path = lasso.path_frame()
    assert list(path.columns) == ["lambda", "feature", "coefficient"]
    assert len(path) == 50 * 100
    row = path[(path["lambda"] == lasso.lambda_) & (path["feature"] == "f0")]
    assert row["coefficient"].item() == pytest.approx(lasso.coef_[0])

    cv = lasso.cv_frame()
    assert list(cv.columns) == ["lambda", "cv_mean_deviance", "cv_se", "n_nonzero", "is_min", "is_1se", "is_used"]
    assert cv["is_min"].sum() == 1 and cv["is_1se"].sum() == 1
    assert cv.loc[cv["is_1se"], "lambda"].item() == lasso.lambda_1se_
    assert cv.loc[cv["is_used"], "lambda"].item() == lasso.lambda_
    assert cv["n_nonzero"].iloc[0] == 0


def test_lasso_does_not_need_prescaled_input():
    X, y = logistic_data(p=30)
    scaled = LassoSelector(n_lambdas=20).fit(StandardScaler().fit_transform(X), y)
    raw_X = X.to_numpy() * 50 + 7
    raw = LassoSelector(n_lambdas=20).fit(raw_X, y)
    np.testing.assert_array_equal(raw.get_support(), scaled.get_support())
    np.testing.assert_allclose(raw.lambdas_, scaled.lambdas_)
    # Coefficients come back on the input scale, so the rad-score is unchanged.
    np.testing.assert_allclose(raw.decision_function(raw_X), scaled.decision_function(StandardScaler().fit_transform(X)),
                               atol=1e-6)


def test_lasso_empty_selection_keeps_first_entering_feature(caplog):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((60, 40))
    y = np.repeat([0, 1], 30)
    with caplog.at_level(logging.WARNING, logger=selection.__name__):
        lasso = LassoSelector(n_lambdas=20, random_state=0).fit(X, y)
    assert lasso.lambda_ == lasso.lambdas_[0]  # pure noise: 1-SE rule lands on lambda_max
    assert lasso.get_support().sum() == 1
    kept = np.flatnonzero(lasso.get_support())[0]
    first_row_with_any = np.flatnonzero((lasso.coef_path_ != 0).any(axis=1))[0]
    assert lasso.coef_path_[first_row_with_any, kept] != 0
    assert "first feature to enter" in caplog.text


@pytest.mark.parametrize("order", ["C", "F"])
def test_lasso_path_fits_are_logistic_regressions_bit_for_bit(order):
    """The path calls LogisticRegression's liblinear fit directly (selection.l1_logistic_fit):
    the same coefficients and intercept, to the last bit, on either memory order."""
    from sklearn.linear_model import LogisticRegression

    X, y = logistic_data(n=80, p=30)
    Z = np.asarray(StandardScaler().fit_transform(X), order=order)
    for C in (0.05, 0.5, 5.0):
        reference = LogisticRegression(l1_ratio=1.0, solver="liblinear", C=C, intercept_scaling=100.0,
                                       tol=1e-4, max_iter=1000, random_state=3).fit(Z, y)
        coef, intercept = selection.l1_logistic_fit(Z, y, C, 1e-4, 1000, 3)
        assert np.array_equal(coef, reference.coef_[0]) and intercept == reference.intercept_[0]
        assert (coef != 0).any() or C < 0.5  # the smallest C may keep nothing


def test_lasso_fast_enough():
    import time

    X, y = logistic_data(n=120, p=300)
    start = time.process_time()
    LassoSelector().fit(StandardScaler().fit_transform(X), y)
    assert time.process_time() - start < 6.0  # ~1.5 s CPU on a quiet laptop


# --- PCA and build_selection ----------------------------------------------------------

def test_principal_components_named_pc():
    X, y = shifted_groups()
    pca = PrincipalComponents(n_components=3, random_state=0).set_output(transform="pandas").fit(X)
    assert list(pca.transform(X).columns) == ["PC1", "PC2", "PC3"]
    assert isinstance(clone(pca), PCA)


FULL_CONFIG = [
    {"step": "zscore"},
    {"step": "variance", "threshold": 1e-8},
    {"step": "univariate", "test": "mannwhitney", "p_threshold": 0.05, "fdr": False},
    {"step": "correlation", "threshold": 0.9, "method": "spearman"},
    {"step": "lasso", "cv_folds": 5, "n_lambdas": 50, "rule": "1se"},
    {"step": "pca", "n_components": 0.95},
]


def test_build_selection_names_types_and_order():
    steps = build_selection(FULL_CONFIG, random_state=7)
    assert [name for name, _ in steps] == ["zscore", "variance", "univariate", "correlation", "lasso", "pca"]
    assert [type(est) for _, est in steps] == [
        StandardScaler, VarianceFilter, UnivariateFilter, CorrelationFilter, LassoSelector, PrincipalComponents,
    ]
    lasso, pca = steps[4][1], steps[5][1]
    assert lasso.random_state == 7 and lasso.rule == "1se" and lasso.n_lambdas == 50
    assert pca.random_state == 7 and pca.n_components == 0.95
    assert steps[2][1].fdr is False


def test_build_selection_keeps_given_order_and_dedupes_names():
    steps = build_selection([{"step": "variance"}, {"step": "zscore"}, {"step": "zscore"}], random_state=0)
    assert [name for name, _ in steps] == ["variance", "zscore", "zscore_2"]
    assert build_selection([], random_state=0) == []


def test_build_selection_does_not_mutate_config():
    config = [{"step": "lasso", "rule": "min"}]
    build_selection(config, random_state=0)
    assert config == [{"step": "lasso", "rule": "min"}]


def test_build_selection_unknown_step():
    with pytest.raises(ValueError, match=r"'boruta'.*allowed steps.*lasso"):
        build_selection([{"step": "zscore"}, {"step": "boruta"}], random_state=0)
    with pytest.raises(ValueError, match="unknown step None"):
        build_selection([{"threshold": 0.9}], random_state=0)


def test_build_selection_unknown_key():
    with pytest.raises(ValueError, match=r"'correlation'.*\['cutoff'\].*allowed keys.*'threshold'.*'method'"):
        build_selection([{"step": "correlation", "cutoff": 0.8}], random_state=0)
    with pytest.raises(ValueError, match="random_state"):
        build_selection([{"step": "lasso", "random_state": 3}], random_state=0)


def test_full_selection_pipeline_runs_and_outputs_pcs():
    X, y = logistic_data(n=100, p=120)
    pipe = Pipeline(build_selection(FULL_CONFIG, random_state=0)).set_output(transform="pandas")
    out = pipe.fit_transform(X, y)
    assert list(out.columns) == [f"PC{i + 1}" for i in range(out.shape[1])]
    assert out.shape[0] == 100
