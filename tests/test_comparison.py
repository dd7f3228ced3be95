"""Negative-control and model x selection comparison tables and figures (package imported directly)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from radsnake.stats import comparison, discrimination as stats
from radsnake.jobs.comparison import compare_models
from radsnake.stats.comparison import Fit, held_out_sets, model_comparison_table, negative_control_table

SIZES = {"train": 60, "test": 40, "external_B": 30, "external_A": 30}


def predictions(signal: float, seed: int, sizes=SIZES) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for set_name, n in sizes.items():
        y = np.r_[0, 1, rng.integers(0, 2, n - 2)]
        score = 1 / (1 + np.exp(-(rng.normal(size=n) + signal * (y - 0.5))))
        frames.append(pd.DataFrame({"case_id": [f"{set_name}{i:03d}" for i in range(n)], "set": set_name,
                                    "label": y, "probability": score}))
    return pd.concat(frames, ignore_index=True)


def cv_results(scores, sds=None) -> pd.DataFrame:
    sds = sds or [0.05] * len(scores)
    ranks = pd.Series(scores).rank(method="min", ascending=False).astype(int)
    return pd.DataFrame({"model": "m", "params": [json.dumps({"C": i}) for i in range(len(scores))],
                         "mean_test_score": scores, "std_test_score": sds, "rank": ranks})


def test_held_out_sets_in_report_order():
    frames = [pd.DataFrame({"set": ["train", "external_B", "test"]}), pd.DataFrame({"set": ["external_A", "external"]})]
    assert held_out_sets(frames) == ["test", "external_A", "external_B", "external"]


def test_planned_sets_win_and_may_add_the_pool():
    frames = [pd.DataFrame({"set": ["train", "test", "external_A", "external_B"]})]
    planned = ["train", "test", "external_A", "external_B", "external"]
    assert held_out_sets(frames, planned) == planned[1:]


def test_negative_control_table_pairs_real_and_permuted_per_set():
    real = {"logistic": predictions(3.0, 1), "svm": predictions(3.0, 2)}
    control = {"logistic": predictions(0.0, 3), "svm": predictions(0.0, 4)}
    table = negative_control_table(real, control, level=0.95)
    assert list(table.columns) == comparison.CONTROL_COLUMNS
    # Every held-out set, never train; grouped by set, then model, real before permuted.
    assert list(dict.fromkeys(table["set"])) == ["test", "external_A", "external_B"]
    assert table[["model", "branch"]].head(4).values.tolist() == [
        ["logistic", "real"], ["logistic", "permuted"], ["svm", "real"], ["svm", "permuted"]]
    for row in table.itertuples():
        frame = (real if row.branch == "real" else control)[row.model]
        part = frame[frame["set"] == row.set]
        expected = stats.auc_delong(part["label"], part["probability"])
        assert row.n == len(part)
        assert (row.auc, row.auc_ci_low, row.auc_ci_high) == (expected["auc"], expected["ci_low"], expected["ci_high"])
        assert row.ci_contains_chance == (expected["ci_low"] <= 0.5 <= expected["ci_high"])
    # With a strong signal the real CIs exclude chance; the control's mostly contain it.
    assert not table.loc[table["branch"] == "real", "ci_contains_chance"].any()


def test_negative_control_one_class_set_gives_nan_not_error():
    real = {"logistic": predictions(2.0, 1, sizes={"train": 20, "test": 20})}
    control = {"logistic": predictions(0.0, 2, sizes={"train": 20, "test": 20})}
    real["logistic"].loc[real["logistic"]["set"] == "test", "label"] = 1
    table = negative_control_table(real, control, level=0.95)
    row = table[table["branch"] == "real"].iloc[0]
    assert np.isnan(row["auc"]) and not row["ci_contains_chance"]


def fits():
    out = []
    for model, cv_scores in (("logistic", [0.70, 0.82]), ("random_forest", [0.75])):
        for selection, shift in (("main", 0.0), ("lasso", -0.03)):
            info = {"selected_features": ["a", "b", "c"][: 2 if selection == "main" else 3]}
            out.append(Fit(model, selection, predictions(2.0, len(out)), cv_results([s + shift for s in cv_scores]), info))
    return out


def test_model_comparison_table_one_row_per_combination():
    table = model_comparison_table(fits(), level=0.95)
    assert table[["model", "selection"]].values.tolist() == [
        ["logistic", "main"], ["logistic", "lasso"], ["random_forest", "main"], ["random_forest", "lasso"]]
    assert list(table.columns[:9]) == comparison.COMPARISON_LEAD_COLUMNS
    assert table["main"].tolist() == [True, False, True, False]
    assert table["n_features"].tolist() == [2, 3, 2, 3]
    # CV AUC is the refitted (rank 1) grid point; the ranks order the combinations by it.
    assert table["cv_auc"].tolist() == pytest.approx([0.82, 0.79, 0.75, 0.72])
    assert table["cv_rank"].tolist() == [1, 2, 3, 4]
    assert table["best_params"].iloc[0] == json.dumps({"C": 1})
    assert comparison.comparison_set_names(table) == ["test", "external_A", "external_B"]
    for fit, row in zip(fits(), table.itertuples(index=False)):
        part = fit.predictions[fit.predictions["set"] == "external_B"]
        expected = stats.auc_delong(part["label"], part["probability"])
        assert row._asdict()["auc_external_B"] == expected["auc"]
        assert row._asdict()["auc_external_B_ci_low"] == expected["ci_low"]
        assert row._asdict()["n_external_B"] == len(part)


def test_tied_cv_ranks_share_the_best_rank():
    two = [Fit("logistic", name, predictions(1.0, 0), cv_results([0.8]), {}) for name in ("main", "other")]
    assert model_comparison_table(two, level=0.95)["cv_rank"].tolist() == [1, 1]


def test_compare_models_reads_files_in_selection_major_order(tmp_path):
    files = {"predictions": [], "cv_results": [], "model_info": []}
    made = {}
    for selection in ("main", "lasso"):
        for model in ("logistic", "svm"):
            fit = Fit(model, selection, predictions(2.0, len(made)), cv_results([0.6 + 0.05 * len(made)]),
                      {"selected_features": ["x"] * (len(made) + 1)})
            made[(selection, model)] = fit
            stem = tmp_path / f"{selection}_{model}"
            fit.predictions.to_csv(f"{stem}_pred.csv", index=False)
            fit.cv_results.to_csv(f"{stem}_cv.csv", index=False)
            (tmp_path / f"{selection}_{model}.json").write_text(json.dumps(fit.info))
            files["predictions"].append(f"{stem}_pred.csv")
            files["cv_results"].append(f"{stem}_cv.csv")
            files["model_info"].append(str(tmp_path / f"{selection}_{model}.json"))
    out = tmp_path / "comparison.csv"
    compare_models(["logistic", "svm"], ["main", "lasso"], ci_level=0.95, table_csv=str(out), **files)
    table = pd.read_csv(out)
    assert table[["model", "selection"]].values.tolist() == [
        ["logistic", "main"], ["logistic", "lasso"], ["svm", "main"], ["svm", "lasso"]]
    assert table["n_features"].tolist() == [1, 3, 2, 4]
    assert table["cv_auc"].tolist() == pytest.approx([0.6, 0.7, 0.65, 0.75])
    with pytest.raises(ValueError, match="one predictions"):
        compare_models(["logistic"], ["main"], ci_level=0.95, table_csv=str(out),
                                  predictions=files["predictions"], cv_results=files["cv_results"][:1],
                                  model_info=files["model_info"][:1])


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("kind", ["negative_control", "model_comparison"])
def test_figures_are_written_and_byte_identical(tmp_path, kind):
    if kind == "negative_control":
        table = negative_control_table({"logistic": predictions(3.0, 1)}, {"logistic": predictions(0.0, 2)}, 0.95)
        from radsnake.figures.comparison_figures import negative_control_figure as draw
    else:
        table = model_comparison_table(fits(), level=0.95)
        from radsnake.figures.comparison_figures import model_comparison_figure as draw
    paths = []
    for run in range(2):
        png, pdf = tmp_path / f"{run}.png", tmp_path / f"{run}.pdf"
        draw(table, png, pdf)
        paths.append((png, pdf))
    with Image.open(paths[0][0]) as image:
        assert round(image.info["dpi"][0]) == 300
        assert len(set(image.convert("L").getdata())) > 2
    assert paths[0][1].read_bytes().startswith(b"%PDF")
    assert digest(paths[0][0]) == digest(paths[1][0]) and digest(paths[0][1]) == digest(paths[1][1])


def test_empty_tables_give_a_message_figure(tmp_path):
    from radsnake.figures.comparison_figures import model_comparison_figure, negative_control_figure

    negative_control_figure(pd.DataFrame(columns=comparison.CONTROL_COLUMNS), tmp_path / "a.png", tmp_path / "a.pdf")
    model_comparison_figure(pd.DataFrame(columns=comparison.COMPARISON_LEAD_COLUMNS), tmp_path / "b.png",
                            tmp_path / "b.pdf")
    assert (tmp_path / "a.png").exists() and (tmp_path / "b.pdf").exists()
