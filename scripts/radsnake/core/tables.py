"""CSV and text output, written atomically; CSV at full precision, Excel-friendly."""

from __future__ import annotations

import os
from collections.abc import Iterable

import pandas as pd


def partial_path(path: str) -> str:
    """Where `path` is written before it is renamed into place. The name is fixed (and
    keeps the extension that picks a file format), so when a killed job is rerun its
    leftover partial file is overwritten and renamed, never left behind."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, ".partial-" + os.path.basename(path))


def write_csv(frame: pd.DataFrame, path: str) -> None:
    """Write without the index; floats round-trip exactly (shortest repr), '.' decimals.

    The file appears only when complete, so a killed job never leaves a partial table
    that looks finished.
    """
    write_csv_chunks([frame], path)


def write_csv_chunks(chunks: Iterable[pd.DataFrame], path: str) -> None:
    """write_csv for a table made a block of rows at a time (same bytes as one frame), so
    a large table is never held twice in memory."""
    tmp = partial_path(path)
    try:
        with open(tmp, "w", newline="") as out:
            for number, frame in enumerate(chunks):
                frame.to_csv(out, index=False, header=number == 0, lineterminator="\n")
        os.replace(tmp, path)
    except OSError as err:
        # A write that fails after open (a full disk) names no file: name the table's.
        if err.filename is None:
            err.filename = tmp
        remove_partial(tmp)
        raise
    except BaseException:
        remove_partial(tmp)
        raise


def write_text(path: str, text: str) -> None:
    """Write a text file (UTF-8, '\\n' line ends) that appears only when complete."""
    tmp = partial_path(path)
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        remove_partial(tmp)
        raise


def remove_partial(tmp: str) -> None:
    try:
        os.remove(tmp)
    except OSError:  # never written (read-only folder), or already gone
        pass
