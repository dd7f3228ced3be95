"""SMOTE oversampling that fits the small training folds of radiomics studies.

The sampler sits inside imbalanced-learn's Pipeline (radsnake.ml.models.build_pipeline),
which calls it while fitting only: synthetic cases are made from the rows of the
training fold being fitted, and validation, test and external rows pass through
predict untouched.
"""

from __future__ import annotations

import logging

import numpy as np
from imblearn.over_sampling import SMOTE
from sklearn.neighbors import NearestNeighbors

log = logging.getLogger(__name__)


class FoldSMOTE(SMOTE):
    """SMOTE whose neighbour count shrinks to what the minority class of a fold allows.

    Nested CV and bootstrap resamples give training folds with only a handful of
    minority cases; plain SMOTE then stops with an error when ``k_neighbors`` is not
    below that count. Here the fold uses ``min(k_neighbors, n_minority - 1)``
    neighbours (recorded as ``k_neighbors_``); a fold with fewer than two minority
    cases has nothing to interpolate between and is returned unchanged.
    """

    def _fit_resample(self, X, y):
        targets = [label for label, n_new in self.sampling_strategy_.items() if n_new > 0]
        if not targets:
            self.k_neighbors_ = 0
            return X, y
        smallest = min(int(np.sum(y == label)) for label in targets)
        if smallest < 2:
            log.warning("SMOTE: a training fold has %d case(s) of its minority class; not oversampled", smallest)
            self.k_neighbors_ = 0
            return X, y
        self.k_neighbors_ = min(int(self.k_neighbors), smallest - 1)
        return super()._fit_resample(X, y)

    def _validate_estimator(self):
        # SMOTE asks for k + 1 neighbours because each point is its own nearest neighbour.
        self.nn_k_ = NearestNeighbors(n_neighbors=self.k_neighbors_ + 1)
