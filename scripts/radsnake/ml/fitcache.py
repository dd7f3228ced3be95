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

import inspect
import time

import joblib

# Pipeline's logging arguments: they name the step's position ("step 2 of 7"), which
# differs between pipelines with and without a sampler, and change nothing fitted.
_LOGGING_ARGUMENTS = ("message_clsname", "message")


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
            key = joblib.hash((func.__module__, func.__qualname__, kept))
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
