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


def equal_bound_rows_without_reason(results: Path) -> list[str]:
    """Rows of any table under results/ whose bounds (x_low, x_high) are equal and whose
    reason (x_reason) is empty."""
    bad = []
    for path in sorted(results.rglob("*.csv")):
        table = pd.read_csv(path, low_memory=False)
        for low in [c for c in table.columns if c.endswith("_low")]:
            stem = low[: -len("_low")]
            high, reason = f"{stem}_high", f"{stem}_reason"
            if high not in table:
                continue
            equal = table[low].notna() & (table[low] == table[high])
            reasons = table[reason] if reason in table else pd.Series(pd.NA, index=table.index)
            missing = equal & reasons.map(lambda value: pd.isna(value) or not str(value).strip())
            if missing.any():
                bad.append(f"{path.relative_to(results)} {low}: {int(missing.sum())} row(s)")
    return bad


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
