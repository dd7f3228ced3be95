"""CSV output: full precision, Excel-friendly, written atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable

import pandas as pd


def write_csv(frame: pd.DataFrame, path: str) -> None:
    """Write without the index; floats round-trip exactly (shortest repr), '.' decimals.

    The file appears only when complete, so a killed job never leaves a partial table
    that looks finished.
    """
    write_csv_chunks([frame], path)


def write_csv_chunks(chunks: Iterable[pd.DataFrame], path: str) -> None:
    """write_csv for a table made a block of rows at a time (same bytes as one frame), so
    a large table is never held twice in memory."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".csv")
    try:
        with os.fdopen(handle, "w", newline="") as out:
            for number, frame in enumerate(chunks):
                frame.to_csv(out, index=False, header=number == 0, lineterminator="\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
