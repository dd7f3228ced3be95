"""CSV output: full precision, Excel-friendly, written atomically."""

from __future__ import annotations

import os
import tempfile

import pandas as pd


def write_csv(frame: pd.DataFrame, path: str) -> None:
    """Write without the index; floats round-trip exactly (shortest repr), '.' decimals.

    The file appears only when complete, so a killed job never leaves a partial table
    that looks finished.
    """
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".csv")
    try:
        with os.fdopen(handle, "w", newline="") as out:
            frame.to_csv(out, index=False, lineterminator="\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
