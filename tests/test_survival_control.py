"""The survival negative control's outcomes (radsnake.jobs.survival.permuted_outcomes): the
training (time, event) pairs permuted among training cases, the permutation least
correlated with the truth, held-out outcomes untouched, the same for the same seed."""

import numpy as np
import pandas as pd

from radsnake.jobs.survival import null_martingale_residuals, permuted_outcomes


def outcomes(n=120, seed=0):
    rng = np.random.default_rng(seed)
    time = np.round(rng.exponential(20, n), 1)
    return pd.DataFrame({"case_id": [f"c{i}" for i in range(n)],
                         "set": np.where(np.arange(n) < 80, "train", np.where(np.arange(n) < 100, "test", "external")),
                         "time": time, "event": (rng.uniform(size=n) < 0.7).astype(int)})


def correlation(frame, permuted):
    train = frame["set"] == "train"
    truth = null_martingale_residuals(frame.loc[train, "time"].to_numpy(), frame.loc[train, "event"].to_numpy())
    other = null_martingale_residuals(permuted.loc[train, "time"].to_numpy(), permuted.loc[train, "event"].to_numpy())
    return np.corrcoef(truth, other)[0, 1]


def test_control_outcomes_are_a_permutation_uncorrelated_with_the_truth():
    frame = outcomes()
    control = permuted_outcomes(frame, seed=42)
    train = (frame["set"] == "train").to_numpy()
    held_out = ~train
    assert control.loc[held_out, ["time", "event"]].equals(frame.loc[held_out, ["time", "event"]])
    pairs = sorted(zip(frame.loc[train, "time"], frame.loc[train, "event"]))
    assert sorted(zip(control.loc[train, "time"], control.loc[train, "event"])) == pairs
    assert not control.loc[train, "time"].equals(frame.loc[train, "time"])
    # Plain permutations are correlated with the truth by chance, |r| ~ 1/sqrt(80) ~ 0.11;
    # the chosen one is not.
    rng = np.random.default_rng(1)
    plain = []
    for _ in range(50):
        shuffled = frame.copy()
        order = rng.permutation(np.flatnonzero(train))
        shuffled.loc[train, ["time", "event"]] = frame.loc[order, ["time", "event"]].to_numpy()
        plain.append(abs(correlation(frame, shuffled)))
    assert abs(correlation(frame, control)) < 0.005 < np.median(plain)
    assert permuted_outcomes(frame, seed=42).equals(control)
    assert not permuted_outcomes(frame, seed=43).equals(control)
