"""The job functions of the survival rules (rules/survival.smk): each reads its inputs,
fits on the training cases only, and writes its tables (docs/survival.md)."""

from __future__ import annotations

import json
import logging

import joblib
import numpy as np
import pandas as pd

from radsnake.io.cohort_sheet import load_cohort
from radsnake.core.errors import InputError
from radsnake.io.clinical_data import usable_clinical
from radsnake.io.survival_cohort import outcomes_table
from radsnake.stats.clinical import comparison_frame
from radsnake.stats.survival_clinical import comparison_predictors, fit_cox, nomogram_layout, nomogram_table
from radsnake.stats.survival_evaluation import calibration_table, decision_curve, evaluate, horizon_name
from radsnake.ml.survival_models import survival_at, survival_data, tune
from radsnake.ml.survival_selection import CoxSelector
from radsnake.stats.survival_stats import brier_grid, cox_table, kaplan_meier, structured, univariate_cox
from radsnake.core.tables import write_csv

log = logging.getLogger(__name__)


def write_outcomes(sheet_path: str, schema_path: str, clinical: dict, endpoint: dict, output_csv: str) -> None:
    cohort = load_cohort(sheet_path, schema_path, clinical, need_images=False, endpoint=endpoint)
    write_csv(outcomes_table(cohort, endpoint), output_csv)


CONTROL_CANDIDATES = 1000


def null_martingale_residuals(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """event - H(time), H the Nelson-Aalen cumulative hazard: each case's outcome as one
    number (the log-rank / Cox score test's), used to measure a permutation's correlation."""
    km = kaplan_meier(time, event)
    hazard = np.cumsum(km["n_event"].to_numpy() / km["n_risk"].to_numpy())
    return event - hazard[np.searchsorted(km["time"].to_numpy(), time)]


def permuted_outcomes(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The negative control: training (time, event) pairs shuffled among the training cases;
    held-out outcomes stay real.

    A plain permutation is correlated with the true outcomes by chance (|r| ~ 1/sqrt(n)):
    the control's model learns that correlation, and with a strong signal it gives C-indices
    away from 0.5 on every set (one seed gave 0.38 on the real training outcomes). So of
    CONTROL_CANDIDATES seeded permutations the one least correlated with the truth is used
    (|Pearson r| of the null martingale residuals), as the binary control draws labels
    uncorrelated with the true ones (radsnake.ml.modelling.training_labels)."""
    frame = frame.copy()
    train = np.flatnonzero(frame["set"].to_numpy() == "train")
    time, event = frame["time"].to_numpy()[train], frame["event"].to_numpy()[train]
    score = null_martingale_residuals(time, event)
    score = (score - score.mean()) / (score.std() or 1.0)
    rng = np.random.default_rng(seed)
    candidates = np.array([rng.permutation(train.size) for _ in range(CONTROL_CANDIDATES)])
    correlation = score[candidates] @ score / train.size
    best = candidates[int(np.argmin(np.abs(correlation)))]
    log.warning("negative control: training outcomes permuted (correlation with the truth %.4f)",
                correlation[int(np.argmin(np.abs(correlation)))])
    order = train[best]
    for column in ("time", "event"):
        frame.iloc[train, frame.columns.get_loc(column)] = frame[column].to_numpy()[order]
    return frame


def curve_times(frame: pd.DataFrame, horizons: list[float], points: int = 60) -> np.ndarray:
    """Where predicted survival is written: the horizons and the training event times up to the
    last horizon (the IBS grid of every set is taken from these)."""
    train = frame[frame["set"] == "train"]
    grid = brier_grid(train["time"], train["event"], max(horizons), points)
    return np.unique(np.r_[grid, np.asarray(horizons, float)])


def select_survival_features(features_csv, split_csv, outcomes_csv, clinical, settings, seed, outputs) -> None:
    """The Cox-LASSO signature and rad-score on the training cases (the same steps as every
    model's Pipeline, fitted once to be reported)."""
    from sklearn.preprocessing import StandardScaler

    X, frame = survival_data(features_csv, split_csv, outcomes_csv, clinical)
    train = (frame["set"] == "train").to_numpy()
    y = structured(frame["time"][train], frame["event"][train])
    scaler = StandardScaler().fit(X[train])
    Z = scaler.transform(X)
    selector = CoxSelector(settings["fdr"], settings["correlation_threshold"], True, settings["cv_folds"],
                           settings["n_alphas"], settings["lasso_rule"], None, seed).fit(Z[train], y)
    names = np.asarray(X.columns)
    lasso = selector.lasso_
    candidates = names[selector.screened_]
    coefficients = pd.DataFrame({"feature": names, "univariate_p": selector.p_values_,
                                 "fdr_q": selector.q_values_, "screened": np.isin(names, candidates),
                                 "coefficient": selector.lasso_coef_})
    write_csv(coefficients, outputs["coefficients"])
    write_csv(pd.DataFrame({"feature": names[selector.support_]}), outputs["selected"])
    path = pd.DataFrame(lasso["coef_path"].T, columns=candidates).assign(alpha=lasso["alphas"])
    write_csv(path[["alpha", *candidates]], outputs["path"])
    write_csv(pd.DataFrame({"alpha": lasso["alphas"], "cv_deviance": lasso["cv_mean"], "cv_se": lasso["cv_se"],
                            "chosen": np.arange(lasso["alphas"].size) == lasso["index"],
                            "minimum": np.arange(lasso["alphas"].size) == lasso["index_min"]}), outputs["cv"])
    radscore = Z @ selector.lasso_coef_
    write_csv(frame.assign(radscore=radscore), outputs["radscore"])
    if selector.no_signal_:
        log.warning("no signal: the Cox-LASSO kept no feature at the chosen penalty; the rad-score is 0")


def fit_survival_model(features_csv, split_csv, outcomes_csv, clinical, model, settings, endpoint, seed,
                       permute, outputs) -> None:
    X, frame = survival_data(features_csv, split_csv, outcomes_csv, clinical)
    fitted_on = permuted_outcomes(frame, seed) if permute else frame
    train = (frame["set"] == "train").to_numpy()
    y = structured(fitted_on["time"][train], fitted_on["event"][train])
    search = tune(X.to_numpy()[train], y, model, settings, endpoint["min_events_per_variable"], seed)
    pipeline = search.best_estimator_
    frame = frame.assign(risk=pipeline.predict(X.to_numpy()))
    write_csv(frame[["case_id", "set", "time", "event", "risk"]], outputs["predictions"])
    times = curve_times(fitted_on, endpoint["horizons"])
    curves = pd.DataFrame(survival_at(pipeline, X.to_numpy(), times), columns=[f"{t:.17g}" for t in times])
    write_csv(curves.assign(case_id=frame["case_id"].to_numpy())[["case_id", *curves.columns]], outputs["curves"])
    cv = pd.DataFrame(search.cv_results_)
    write_csv(cv[["params", "mean_test_score", "std_test_score", "rank_test_score"]].astype({"params": str}),
              outputs["cv_results"])
    selector = pipeline.named_steps["select"]
    card = {"model": model, "best_params": {k: v for k, v in search.best_params_.items()},
            "cv_c_index": float(search.best_score_), "permuted_outcomes": bool(permute),
            "features": list(np.asarray(X.columns)[selector.support_]), "no_signal": bool(selector.no_signal_),
            "seed": seed}
    joblib.dump(pipeline, outputs["model"])
    with open(outputs["model_info"], "w") as handle:
        json.dump(card, handle, indent=2, sort_keys=True, default=str)
        handle.write("\n")


def read_curves(path: str) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"case_id": str}).set_index("case_id")


def evaluate_survival(prediction_files, curve_files, models, sets, horizons, outputs) -> None:
    predictions = {m: pd.read_csv(p, dtype={"case_id": str, "set": str}) for m, p in zip(models, prediction_files)}
    curves = {m: read_curves(p) for m, p in zip(models, curve_files)}
    tables = evaluate(predictions, curves, sets, horizons)
    for name in ("metrics", "risk_groups", "km"):
        write_csv(tables[name], outputs[name])
    write_csv(calibration_table(predictions, curves, sets, horizons), outputs["calibration"])
    curves_at = []
    for model, frame in predictions.items():
        column = [c for c in curves[model].columns if np.isclose(float(c), horizons[0])][0]
        for set_name in ["train", *[s for s in sets if s != "train"]]:
            from radsnake.io.external import in_set

            members = in_set(frame, set_name)
            if members.empty:
                continue
            surv = curves[model].loc[members["case_id"], column].to_numpy()
            curves_at.append(decision_curve(members["time"], members["event"], surv, horizons[0])
                             .assign(model=model, set=set_name, horizon=horizons[0]))
    dca = pd.concat(curves_at, ignore_index=True)
    write_csv(dca[["model", "set", "horizon", "threshold", "net_benefit", "net_benefit_all"]], outputs["decision_curve"])
    failing = tables["metrics"][tables["metrics"]["set"] != "train"]
    for row in failing.itertuples():
        if row.c_index_ci_low <= 0.5:
            log.warning("no signal shown: %s on %s: C-index CI [%.3f, %.3f] contains 0.5",
                        row.model, row.set, row.c_index_ci_low, row.c_index_ci_high)


def cox_tables(radscore_csv, features_csv, clinical: dict, outputs) -> None:
    """Univariate and multivariable Cox models of the rad-score and the clinical variables on
    the training cases (HR per unit; categorical variables against their first category)."""
    scores = pd.read_csv(radscore_csv, dtype={"case_id": str, "set": str})
    table = pd.read_csv(features_csv, dtype={"case_id": str}).set_index("case_id")
    train = scores[scores["set"] == "train"].set_index("case_id")
    covariates = pd.DataFrame({"radscore": train["radscore"]}, index=train.index)
    for name, kind in clinical.items():
        values = table.loc[train.index, name]
        if kind == "numeric":
            covariates[name] = values.astype(float)
        else:
            dummies = pd.get_dummies(values.astype(str), prefix=name, drop_first=True, dtype=float)
            covariates = covariates.join(dummies)
    time, event = train["time"].to_numpy(), train["event"].to_numpy()
    if covariates["radscore"].nunique() < 2:
        covariates = covariates.drop(columns="radscore")
        log.warning("no signal: the rad-score is constant on the training set; left out of the Cox tables")
    if covariates.empty:
        raise InputError("no covariate for the Cox tables: the rad-score is constant and no clinical column is set")
    write_csv(univariate_cox(covariates, time, event), outputs["univariate"])
    write_csv(cox_table(covariates, time, event), outputs["multivariable"])


__all__ = ["write_outcomes", "select_survival_features", "fit_survival_model", "evaluate_survival", "cox_tables",
           "horizon_name"]


def draw_nomogram(axes: dict, png: str, pdf: str) -> None:
    from radsnake.figures.nomogram import nomogram_figure

    nomogram_figure(axes, png, pdf, title="Nomogram of the combined Cox model (training cases)")


def compare_clinical_models(features_csv, split_csv, radscore_csv, clinical: dict, missing_policy: str, sheet: str,
                            horizons: list[float], unit: str, outputs: dict) -> None:
    """The clinical, radscore and combined Cox models: predictions.csv and survival_curves.csv
    of each (evaluated with the other models by survival_evaluate), their coefficients, and
    the combined model's nomogram (table and figure)."""
    scores = pd.read_csv(radscore_csv, dtype={"case_id": str, "set": str})
    frame = comparison_frame(features_csv, split_csv, radscore_csv, clinical).drop(columns="label")
    frame, imputed = usable_clinical(frame, clinical, missing_policy, sheet)
    if imputed is not None:
        log.info("clinical_missing impute: %d cell(s) filled from the training cases", len(imputed))
    frame = frame.merge(scores[["case_id", "time", "event"]], on="case_id")
    frame = frame.set_index("case_id").loc[scores["case_id"]].reset_index()
    train = frame[frame["set"] == "train"]
    informative = train["radscore"].nunique() > 1
    if not informative:
        log.warning("no signal: the rad-score is constant on the training set; the radscore model is the "
                    "null model and the combined model the clinical one")
    times = curve_times(frame, horizons)
    coefficients = []
    fits = {}
    for model, predictors in comparison_predictors(clinical, informative).items():
        fit = fits[model] = fit_cox(train, predictors)
        prediction = frame[["case_id", "set", "time", "event"]].assign(risk=fit.linear_predictor(frame))
        write_csv(prediction, outputs[f"{model}_predictions"])
        curves = pd.DataFrame(fit.survival(frame, times), columns=[f"{t:.17g}" for t in times])
        write_csv(curves.assign(case_id=frame["case_id"].to_numpy())[["case_id", *curves.columns]],
                  outputs[f"{model}_curves"])
        if not fit.table.empty:
            coefficients.append(fit.table.assign(model=model))
    columns = ["model", "variable", "coef", "se", "hr", "hr_ci_low", "hr_ci_high", "p_value"]
    write_csv(pd.concat(coefficients, ignore_index=True)[columns], outputs["coefficients"])
    axes = nomogram_layout(fits["combined"], train, horizons, unit)
    write_csv(nomogram_table(axes), outputs["nomogram"])
    draw_nomogram(axes, outputs["nomogram_png"], outputs["nomogram_pdf"])
