"""Firth's penalised logistic regression for the clinical and combined models
(config clinical_model.penalty: firth), through the maintained firthmodels package."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special


def firth_logit(Xc: np.ndarray, y01: np.ndarray, names: list[str], what: str) -> tuple[pd.Series, pd.Series]:
    """Firth's bias-reduced logit of y01 on Xc (its first column the intercept's ones):
    (coefficients, Wald SEs), both named by ``names``. R: ``glm(..., family = binomial,
    method = brglm2::brglmFit, type = "AS_mean")``.

    Fitted on z-scored columns: Firth's penalty (Jeffreys' prior) is invariant to affine
    changes of the predictors, so the estimates map back exactly, and on that scale the
    Newton steps reach tolerances far below the printed precision (with raw ages of
    about 60 the gradient stalls above them). The SEs are those of the inverse Fisher
    information at the estimate, as brglm2's summary reports.
    """
    from firthmodels import FirthLogisticRegression

    X = Xc[:, 1:]
    centre, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    model = FirthLogisticRegression(backend="numpy", max_iter=200, gtol=1e-6, xtol=1e-8, fit_intercept=True)
    model.fit((X - centre) / scale, y01)
    if not model.converged_:
        raise ValueError(f"{what}: the Firth logistic model did not converge")
    slopes = np.asarray(model.coef_, dtype=float) / scale
    beta = np.concatenate([[float(model.intercept_) - centre @ slopes], slopes])
    p = special.expit(Xc @ beta)
    information = Xc.T @ (Xc * (p * (1 - p))[:, None])
    se = np.sqrt(np.diag(np.linalg.inv(information)))
    return pd.Series(beta, index=names), pd.Series(se, index=names)
