"""The check of issue 18's 'done when', shared by the weak-signal and demo study tests: no
interval whose bounds are equal is shown as an interval, and every table row whose bounds
are equal says why."""

import base64
import binascii
import re
from pathlib import Path

import pandas as pd

# "0.85 (0.85–0.85)": an interval printed with equal bounds.
PRINTED_INTERVAL = re.compile(r"(\d+\.\d+)\s*\u2013\s*(\d+\.\d+)")


# Interval-looking column pairs: x_low/x_high, x_lower/x_upper, x_lo/x_hi, or the bare names.
BOUND_NAMES = (("low", "high"), ("lower", "upper"), ("lo", "hi"))


def interval_columns(columns) -> list[tuple[str, str, str]]:
    """(lower bound, upper bound, reason) column names of every interval in a table's
    columns: the reason of x_low/x_high is x_reason, of bare low/high it is reason."""
    found = []
    for column in columns:
        for low, high in BOUND_NAMES:
            if column == low:
                found.append((column, high, "reason"))
            elif column.endswith(f"_{low}"):
                stem = column[: -len(low) - 1]
                found.append((column, f"{stem}_{high}", f"{stem}_reason"))
    return [pair for pair in found if pair[1] in columns]


def equal_bound_rows_without_reason(results: Path) -> list[str]:
    """Rows of any table under results/ whose interval bounds are equal and whose reason is
    empty (interval_columns names them)."""
    bad = []
    for path in sorted(results.rglob("*.csv")):
        table = pd.read_csv(path, low_memory=False)
        for low, high, reason in interval_columns(list(table.columns)):
            lower, upper = (pd.to_numeric(table[c], errors="coerce") for c in (low, high))
            equal = lower.notna() & (lower == upper)
            reasons = table[reason] if reason in table else pd.Series(pd.NA, index=table.index)
            missing = equal & reasons.map(lambda value: pd.isna(value) or not str(value).strip())
            if missing.any():
                bad.append(f"{path.relative_to(results)} {low}: {int(missing.sum())} row(s)")
    return bad


def tables_scanned(results: Path) -> dict[str, list[str]]:
    """Each table under results/ with intervals, and their lower-bound columns (for reports)."""
    found = {}
    for path in sorted(results.rglob("*.csv")):
        pairs = interval_columns(list(pd.read_csv(path, nrows=0).columns))
        if pairs:
            found[str(path.relative_to(results))] = [low for low, _, _ in pairs]
    return found


def intervals_shown_with_equal_bounds(text: str) -> list[str]:
    return [m.group(0) for m in PRINTED_INTERVAL.finditer(text) if m.group(1) == m.group(2)]


def report_texts(html: str) -> list[str]:
    """The report's own text and every text file it embeds (tables, summary.md are base64)."""
    texts = [html]
    for blob in re.findall(r"base64,([A-Za-z0-9+/=]+)", html):
        try:
            texts.append(base64.b64decode(blob).decode("utf-8"))
        except (binascii.Error, UnicodeDecodeError):
            continue  # an image
    return texts


def check_no_zero_width_interval_shown(study: Path, report: Path | None = None) -> str:
    results = study / "results"
    assert equal_bound_rows_without_reason(results) == []
    summary = (results / "evaluation" / "summary.md").read_text()
    assert intervals_shown_with_equal_bounds(summary) == []
    if report is not None:
        texts = report_texts(report.read_text(errors="replace"))
        assert any("Verdicts." in text for text in texts)
        assert [shown for text in texts for shown in intervals_shown_with_equal_bounds(text)] == []
    return summary
