"""How a run ends: one line per failed job and per excluded case, after Snakemake's own
summary, and the same lines in logs/failures.txt (docs/troubleshooting.md#how-a-run-ends).

A study of hundreds of cases prints thousands of lines; the one line that says what a
bad case needs ("case P12: … no voxel with label 1 (labels present: 255), set
mask_label") would be somewhere in the middle. The Snakefile's onsuccess/onerror
handlers call :func:`report` with the jobs Snakemake saw fail; each job's log ends with
its radsnake line (radsnake.core.runtime.job), which is repeated here.
"""

from __future__ import annotations

import csv
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

FAILURES_FILE = os.path.join("logs", "failures.txt")
# A log record as radsnake.core.runtime.job writes it: "<date> <time>,<ms> ERROR <logger>: <message>".
ERROR_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (?:ERROR|CRITICAL) [^:]+: (.*)$")
# What radsnake.core.runtime.job logs above a traceback it keeps: not a message for the user.
TRACEBACK_HEADER = "job failed"


@dataclass(frozen=True)
class FailedJob:
    rule: str
    wildcards: tuple[tuple[str, str], ...]
    logs: tuple[str, ...]

    @property
    def name(self) -> str:
        where = ", ".join(f"{key} {value}" for key, value in self.wildcards)
        return f"{self.rule} ({where})" if where else self.rule


def job_message(job: FailedJob) -> str:
    """The failed job's own radsnake line (its log's last error record); else the last
    line of its log (a traceback's exception line); else where to look."""
    for log in job.logs:
        try:
            with open(log, errors="replace") as handle:
                lines = handle.read().splitlines()
        except OSError:
            continue
        records = [match.group(1) for match in map(ERROR_RECORD.match, lines) if match]
        if records and records[-1] != TRACEBACK_HEADER:
            return f"failed job {job.name}: {records[-1]}"
        last = next((line.strip() for line in reversed(lines) if line.strip()), "")
        if last:
            return f"failed job {job.name}: {last} (traceback in {os.path.abspath(log)})"
    logs = ", ".join(os.path.abspath(log) for log in job.logs) or "none"
    return f"failed job {job.name}: no message in its log ({logs}); Snakemake's error for it is above"


def excluded_cases(qc_rows: Mapping[str, str]) -> dict[str, str]:
    """Cases whose QC row (written in qc.on_fail: exclude mode) failed, with the reasons."""
    excluded = {}
    for case, path in qc_rows.items():
        try:
            with open(path, newline="") as handle:
                rows = list(csv.DictReader(handle))
        except OSError:  # not checked yet (or its QC job failed: listed as a failed job)
            continue
        if rows and rows[0].get("qc_pass") == "False":
            excluded[case] = rows[0].get("qc_reasons", "")
    return excluded


def excluded_message(case: str, stage: str, reasons: str, files: str) -> str:
    fix = (
        "fix the file or the sheet row, then rerun: the case is checked again"
        if stage == "input QC"
        else "review the mask and set mask_status to accepted in the sheet, then rerun"
    )
    return f"excluded case {case} ({stage}): {reasons}{files}; {fix}"


def summary_lines(
    failed: list[FailedJob], qc_rows: Mapping[str, str], pending: Mapping[str, str], files_of: Callable[[str], str]
) -> list[str]:
    """The lines of the run's end: failed jobs first, then excluded cases by case id."""
    lines = [job_message(job) for job in sorted(failed, key=lambda job: (job.rule, job.wildcards))]
    excluded = {case: ("input QC", reasons) for case, reasons in excluded_cases(qc_rows).items()}
    excluded.update({case: ("mask review", reason) for case, reason in pending.items()})
    for case in sorted(excluded):
        stage, reasons = excluded[case]
        lines.append(excluded_message(case, stage, reasons, files_of(case)))
    return lines


def count(number: int, what: str) -> str:
    return f"{number} {what}{'' if number == 1 else 's'}"


def report(
    failed: list[FailedJob],
    qc_rows: Mapping[str, str],
    pending: Mapping[str, str],
    files_of: Callable[[str], str],
    out=None,
) -> list[str]:
    """Print the run's failed jobs and excluded cases last, and write them to
    logs/failures.txt (relative to the study folder); a run with neither removes the file,
    so it never describes an older run."""
    out = out or sys.stderr
    lines = summary_lines(failed, qc_rows, pending, files_of)
    if not lines:
        if os.path.exists(FAILURES_FILE):
            os.remove(FAILURES_FILE)
        return lines
    n_excluded = sum(line.startswith("excluded case") for line in lines)
    counts = [(len(lines) - n_excluded, "failed job"), (n_excluded, "excluded case")]
    what = " and ".join(count(number, name) for number, name in counts if number)
    heading = f"this run ended with {what} (also in {os.path.abspath(FAILURES_FILE)}):"
    text = "".join(f"radsnake: {line}\n" for line in [heading, *lines])
    try:
        os.makedirs(os.path.dirname(FAILURES_FILE), exist_ok=True)
        with open(FAILURES_FILE, "w") as handle:
            handle.write(text)
    except OSError as err:  # a full or read-only disk must not hide the list itself
        text += f"radsnake: (could not write {os.path.abspath(FAILURES_FILE)}: {err.strerror})\n"
    out.write(text)
    out.flush()
    return lines
