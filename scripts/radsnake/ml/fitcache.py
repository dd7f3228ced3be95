"""Fitted selection steps shared across grid points and models, in memory.

Internal validation refits the whole procedure (selection steps, classifier, tuning) on
hundreds of training sets, for every model. On one training set the selection steps are
the same for every grid point and every model (same rows, same settings, same seed), so
their fit is the same too: :class:`FitCache` fits each step once per distinct input and
hands the fitted step to every Pipeline that asks for it again.

It has the interface of ``joblib.Memory`` that scikit-learn's (and imbalanced-learn's)
``Pipeline(memory=...)`` uses: ``cache(func)`` returns a memoised ``func``. The Pipeline
calls it with a fresh clone of each step (so its settings, seed included), the step's
input rows and the labels; the key is a hash of exactly those, so two calls share a fit
only when a fresh fit would give the same result. Unlike a joblib.Memory folder nothing
goes to disk: the cache lives as long as the caller keeps it (radsnake.ml.validation keeps
one per training set and drops it after that set's fits).
"""

from __future__ import annotations

import hashlib
import inspect
import time

import joblib
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

# Pipeline's logging arguments: they name the step's position ("step 2 of 7"), which
# differs between pipelines with and without a sampler, and change nothing fitted.
_LOGGING_ARGUMENTS = ("message_clsname", "message")


def array_digest(values: np.ndarray, *labels) -> str:
    digest = hashlib.sha256(repr((values.dtype.str, values.shape, *labels)).encode())
    digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()


def digestible(value):
    """A stand-in for ``value`` in the key, cheaper to hash than the value (joblib.hash
    pickles it: most of a cache hit's time on a training set's frame or an estimator):

    * a numeric array, or a numeric frame of one dtype: the SHA-256 of its bytes, shape,
      dtype (and the frame's column names and index);
    * an unfitted estimator (the Pipeline's fresh clone of a step): its class and
      parameters, which are all a clone is;
    * nested dicts of plain values (the routed fit parameters, mostly empty): their repr.

    Anything else is kept as it is, for joblib.hash.
    """
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return ("array", array_digest(value))
    if isinstance(value, pd.DataFrame) and value.shape[1] and value.dtypes.nunique() == 1 \
            and value.dtypes.iloc[0].kind in "biuf":
        index = value.index.to_numpy()
        index_key = array_digest(index) if index.dtype.kind in "biuf" else joblib.hash(value.index)
        return ("frame", array_digest(value.to_numpy(), tuple(value.columns), index_key))
    if isinstance(value, BaseEstimator) and not any(
            name.endswith("_") and not name.startswith("_") for name in vars(value)):
        return ("estimator", type(value).__module__, type(value).__qualname__,
                {name: digestible(param) for name, param in value.get_params(deep=False).items()})
    if isinstance(value, dict) and plain(value):
        return ("dict", repr(value))
    return value


def plain(value) -> bool:
    """Nested dicts, lists and tuples of str, int, float, bool and None, whose repr is exact."""
    if isinstance(value, dict):
        return all(isinstance(key, str) and plain(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return all(plain(item) for item in value)
    return value is None or isinstance(value, (str, int, float, bool))


class FitCache:
    """An in-memory ``joblib.Memory`` stand-in for ``Pipeline(memory=FitCache())``.

    ``fits`` counts the calls that ran (misses), ``hits`` those answered from the cache,
    ``fit_seconds`` is the CPU time of the calls that ran.
    The Pipeline treats the fitted step and its output as read-only, as it does with
    joblib.Memory's (which it loads fresh, but never changes either).
    """

    def __init__(self):
        self.store = {}
        self.fits = 0
        self.hits = 0
        self.fit_seconds = 0.0

    def cache(self, func, ignore=None):
        # As joblib.Memory: arguments named in ``ignore`` (e.g. scikit-learn's callback
        # context, new in every fit) are not part of the key.
        left_out = set(ignore or ()) | set(_LOGGING_ARGUMENTS)
        signature = inspect.signature(func)

        def cached(*args, **kwargs):
            bound = signature.bind(*args, **kwargs).arguments
            kept = {name: value for name, value in bound.items() if name not in left_out}
            key = joblib.hash((func.__module__, func.__qualname__,
                               {name: digestible(value) for name, value in kept.items()}))
            if key in self.store:
                self.hits += 1
            else:
                self.fits += 1
                start = time.process_time()
                self.store[key] = func(*args, **kwargs)
                self.fit_seconds += time.process_time() - start
            return self.store[key]

        return cached

    def clear(self) -> None:
        self.store.clear()

    # scikit-learn's clone() deep-copies parameters that are not estimators: a copy of the
    # cache would share nothing, so the copy is the cache itself (like a folder's name).
    def __deepcopy__(self, memo):
        return self

    def __repr__(self) -> str:
        return f"FitCache({len(self.store)} entries)"
