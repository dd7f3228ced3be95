"""radsnake.stats.feature_stats: per-feature tests, FDR, effect sizes, AUC and the volcano plot,
checked against R (wilcox.test, t.test, p.adjust) run once per module via
tests/r/clinical.R. Without Rscript the R comparisons are skipped locally, but fail when
the CI environment variable is set."""

import shutil
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from conftest import r_unavailable
from radsnake.stats import feature_stats as fs
from radsnake.figures.volcano import volcano_figure

R_SCRIPT = Path(__file__).parent / "r" / "clinical.R"
TOL = 1e-8


def _data(n: int = 130, seed: int = 20240918) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    cols = {
        "original_shape_Sphericity": 0.8 * y + rng.normal(size=n),
        "original_firstorder_Entropy": np.round(0.5 * y + rng.normal(size=n), 1),  # many ties
        "wavelet-LLH_glcm_Correlation": rng.normal(size=n),
        "log-sigma-3-0-mm-3D_glszm_ZoneEntropy": rng.exponential(1 + y, n),  # unequal variances
        "original_glrlm_RunEntropy": np.round(rng.normal(size=n)),  # heavy ties
        "original_firstorder_Constant": np.full(n, 3.0),  # constant: p = NaN in R too
        "original_ngtdm_Busyness": np.where(y == 1, 5.0, rng.normal(size=n)),  # constant in group 1
        "original_firstorder_Extreme": 4.0 * y + rng.normal(size=n),  # p far below 1e-10
        "original_gldm_Reversed": -0.6 * y + rng.normal(size=n),
        "original_firstorder_Binary": (rng.random(n) < 0.3 + 0.3 * y).astype(float),
        "original_glcm_Tiny": 1e-9 * (0.3 * y + rng.normal(size=n)),
        "original_glcm_Huge": 1e9 + 1e3 * (0.3 * y + rng.normal(size=n)),
    }
    return pd.DataFrame(cols), y


X, Y = _data()


@pytest.fixture(scope="module")
def r_ref(tmp_path_factory) -> dict[str, float]:
    rscript = shutil.which("Rscript")
    if rscript is None:
        r_unavailable("Rscript not found on PATH", "r-base-core")
    tmp = tmp_path_factory.mktemp("r_features")
    X.assign(y=Y)[["y", *X.columns]].to_csv(tmp / "data.csv", index=False, float_format="%.17g")
    proc = subprocess.run(
        [rscript, "--vanilla", str(R_SCRIPT), "features", str(tmp / "data.csv"), str(tmp / "out.csv")],
        capture_output=True, text=True, timeout=300,
    )
    if proc.returncode != 0:
        raise RuntimeError("clinical.R features failed:\n" + proc.stderr)
    out = pd.read_csv(tmp / "out.csv", dtype=str, keep_default_na=False)
    # R writes NA (t.test refused) and NaN (wilcox.test of a constant) as text
    return {k: float("nan") if v == "NA" else float(v) for k, v in zip(out.key, out.value)}


def _ref(r_ref, feature, key):
    return r_ref[f"{feature.replace('-', '.')}|{key}"]  # read.csv makes names syntactic


@pytest.mark.r_reference
@pytest.mark.parametrize("test,prefix", [("mannwhitney", "wilcox"), ("ttest", "t")])
def test_p_values_and_fdr_match_r(r_ref, test, prefix):
    tab = fs.feature_table(X, Y, test=test)
    worst = 0.0
    for r in tab.itertuples():
        for col, key in (("p_value", "p"), ("p_fdr", "fdr")):
            ref = _ref(r_ref, r.feature, f"{prefix}_{key}")
            ours = getattr(r, col)
            if np.isnan(ref):
                assert np.isnan(ours), (r.feature, col, ours)
                continue
            err = abs(ours - ref) / max(ref, 1e-300)
            worst = max(worst, err)
            assert err < TOL, (test, r.feature, col, ours, ref)
    print(f"{test}: max relative difference vs R {worst:.2e}")


def test_reference_data_cover_the_edge_cases():
    tab = fs.feature_table(X, Y).set_index("feature")
    assert np.isnan(tab.loc["original_firstorder_Constant", "p_value"])
    assert np.isnan(tab.loc["original_firstorder_Constant", "p_fdr"])
    assert tab.loc["original_firstorder_Extreme", "p_value"] < 1e-10
    assert tab.loc["original_gldm_Reversed", "auc"] < 0.5


def test_auc_and_effect_sizes_by_definition():
    tab = fs.feature_table(X, Y).set_index("feature")
    tt = fs.feature_table(X, Y, test="ttest").set_index("feature")
    for f in ["original_firstorder_Entropy", "original_glrlm_RunEntropy", "original_gldm_Reversed"]:
        x1, x0 = X.loc[Y == 1, f].to_numpy(), X.loc[Y == 0, f].to_numpy()
        diff = x1[:, None] - x0[None, :]
        auc = (diff > 0).mean() + 0.5 * (diff == 0).mean()
        assert tab.loc[f, "auc"] == pytest.approx(auc, abs=1e-12)
        assert tab.loc[f, "effect_size"] == pytest.approx(2 * auc - 1, abs=1e-12)
        n1, n0 = len(x1), len(x0)
        pooled = np.sqrt(((n1 - 1) * x1.var(ddof=1) + (n0 - 1) * x0.var(ddof=1)) / (n1 + n0 - 2))
        assert tt.loc[f, "effect_size"] == pytest.approx((x1.mean() - x0.mean()) / pooled, rel=1e-12)
        assert tab.loc[f, "median_1"] == np.median(x1) and tab.loc[f, "mean_0"] == pytest.approx(x0.mean())
    assert list(tab.reset_index().columns) == fs.COLUMNS
    assert list(tab.index) == list(X.columns)


def test_matches_scipy_reference_implementations():
    tab = fs.feature_table(X, Y)
    tt = fs.feature_table(X, Y, test="ttest")
    ok = np.isfinite(tab.p_value.to_numpy())
    A1, A0 = X.loc[Y == 1].to_numpy(), X.loc[Y == 0].to_numpy()
    ref = sps.mannwhitneyu(A1, A0, axis=0, method="asymptotic", use_continuity=True).pvalue
    np.testing.assert_allclose(tab.p_value.to_numpy()[ok], ref[ok], rtol=1e-10)
    ok = np.isfinite(tt.p_value.to_numpy())
    with warnings.catch_warnings():  # scipy warns about the "Huge" feature's cancellation
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = sps.ttest_ind(A1, A0, axis=0, equal_var=False).pvalue
    np.testing.assert_allclose(tt.p_value.to_numpy()[ok], ref[ok], rtol=1e-8)  # "Huge": cancellation


def test_bh_adjust_matches_r_p_adjust():
    # R 4: p.adjust(c(0.01, 0.04, 0.03, 0.2, 0.5, 0.0001, 0.04, 0.9), "BH"), printed with %.17g
    p = np.array([0.01, 0.04, 0.03, 0.2, 0.5, 0.0001, 0.04, 0.9])
    r = np.array([0.04, 0.064, 0.064, 0.26666666666666666, 0.5714285714285714, 0.0008, 0.064, 0.9])
    np.testing.assert_allclose(fs.bh_adjust(p), r, rtol=1e-15, atol=0)
    adj = fs.bh_adjust(np.r_[p[:3], np.nan, p[3:]])
    assert np.isnan(adj[3])
    # NaN does not count as a test (R's p.adjust drops it before n = length(p))
    np.testing.assert_allclose(np.delete(adj, 3), r, rtol=1e-15, atol=0)
    assert fs.bh_adjust([]).size == 0
    assert np.isnan(fs.bh_adjust([np.nan])).all()


def test_input_checks():
    with pytest.raises(ValueError, match="test must be"):
        fs.feature_table(X, Y, test="anova")
    with pytest.raises(ValueError, match="0/1"):
        fs.feature_table(X, Y * 2)
    with pytest.raises(ValueError, match="missing"):
        fs.feature_table(X.assign(original_shape_Sphericity=np.r_[np.nan, X.iloc[1:, 0]]), Y)
    with pytest.raises(ValueError, match="non-numeric"):
        fs.feature_table(X.assign(site="A"), Y)
    with pytest.raises(ValueError, match="rows"):
        fs.feature_table(X, Y[:-1])
    # a Series label is aligned on the index
    shuffled = pd.Series(Y, index=X.index).sample(frac=1, random_state=0)
    pd.testing.assert_frame_equal(fs.feature_table(X, shuffled), fs.feature_table(X, Y))


def test_fast_enough_for_a_radiomics_table():
    rng = np.random.default_rng(5)
    big = pd.DataFrame(np.round(rng.normal(size=(500, 1500)), 2), columns=[f"f{i}" for i in range(1500)])
    y = (rng.random(500) < 0.4).astype(int)
    for test in ("mannwhitney", "ttest"):
        t0 = time.perf_counter()
        tab = fs.feature_table(big, y, test=test)
        assert time.perf_counter() - t0 < 2.0
        assert len(tab) == 1500 and tab.p_value.notna().all()


def test_volcano_figure_deterministic(tmp_path):
    tab = fs.feature_table(X, Y)
    paths = [(tmp_path / d / "volcano.png", tmp_path / d / "volcano.pdf") for d in ("a", "b")]
    for png, pdf in paths:
        volcano_figure(tab, png, pdf, fdr_threshold=0.05)
    assert paths[0][0].read_bytes() == paths[1][0].read_bytes()
    assert paths[0][1].read_bytes() == paths[1][1].read_bytes()
    assert paths[0][0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # nothing significant, and nothing testable: still a figure
    none_sig = tab.assign(p_fdr=1.0)
    volcano_figure(none_sig, tmp_path / "n.png", tmp_path / "n.pdf")
    volcano_figure(tab.assign(p_value=np.nan), tmp_path / "e.png", tmp_path / "e.pdf")
    assert (tmp_path / "e.png").stat().st_size > 0


def test_volcano_labels_do_not_overlap(tmp_path, monkeypatch):
    """Run the placement on crowded data and check the boxes of the drawn labels."""
    import matplotlib.text

    rng = np.random.default_rng(2)
    y = (rng.random(200) < 0.5).astype(int)
    # 12 nearly identical strong features: their points sit on top of each other
    base = 1.5 * y + rng.normal(size=200)
    cols = {f"wavelet-HHL_glcm_ClusterShade{i}": base + 0.02 * rng.normal(size=200) for i in range(12)}
    cols.update({f"original_firstorder_Noise{i}": rng.normal(size=200) for i in range(100)})
    tab = fs.feature_table(pd.DataFrame(cols), y)
    seen = {}
    from radsnake.figures import style as rf

    orig = rf.save_figure

    def capture(fig, png, pdf):
        renderer = fig.canvas.get_renderer()
        ax = fig.axes[0]
        texts = [t for t in ax.texts if t.get_text()]
        # Text's own extent: an Annotation's would include its leader line
        for t in texts:
            t.update_positions(renderer)
        seen["boxes"] = [matplotlib.text.Text.get_window_extent(t, renderer) for t in texts]
        seen["axes"] = ax.get_window_extent(renderer)
        orig(fig, png, pdf)

    monkeypatch.setattr(rf, "save_figure", capture)
    volcano_figure(tab, tmp_path / "v.png", tmp_path / "v.pdf")
    boxes = seen["boxes"]
    assert 4 <= len(boxes) <= 8
    for i in range(len(boxes)):
        assert boxes[i].x0 >= seen["axes"].x0 - 1 and boxes[i].x1 <= seen["axes"].x1 + 1
        for j in range(i):
            assert not boxes[i].overlaps(boxes[j]), (i, j)
