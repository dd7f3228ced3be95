"""A workaround for a Snakemake scheduler bug that made the main process cost CPU per finished job.

Snakemake 9's job scheduler (``--max-jobs-per-timespan``, default ``100/1s``) ends every
pass of its loop by starting a ``threading.Timer`` that wakes the loop again one
timespan later. Every wake-up is itself a pass that starts another timer, and every
finished job adds a pass, so after n finished jobs n timer chains wake the scheduler
n times a second (upstream: snakemake/snakemake#3744, #3804). With 100 running cases
that is 100 scheduler passes a second: on the extraction benchmark Snakemake's own
process used 0.45 of a core of the two the jobs needed (docs/benchmarks.md).

The timer's only purpose is to look again once the rate-limit window has passed, so
one pending timer is enough. ``apply()`` keeps at most one pending timer per scheduler
and makes it a daemon thread (a pending timer must not delay the end of a run).
Scheduling decisions are unchanged.

Both patches are written against one Snakemake version, the one envs/requirements.lock
pins. Under any other version the workflow stops at once with one line
(``unsupported_version``) instead of running unpatched or patching code it was never
checked against (tests/test_snakemake_fixes.py).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading

# Checked against this version's source (the lock's pin); the workflow refuses others.
FIXED_VERSIONS = ("9.27.1",)


def unsupported_version(snakemake_version: str) -> str:
    """The one-line refusal for a Snakemake these patches were not checked against, or ""."""
    if snakemake_version in FIXED_VERSIONS:
        return ""
    return (
        f"radsnake: Snakemake {snakemake_version} is running, but radsnake is checked against Snakemake "
        f"{' or '.join(FIXED_VERSIONS)} only (envs/requirements.lock; its scheduler and run-log fixes, "
        "radsnake.core.snakemake_fixes, are written for that version): run `make install` and start the workflow "
        "with .venv/bin/snakemake"
    )


def apply(snakemake_version: str) -> bool:
    """Patch the scheduler of the pinned Snakemake; returns False (patching nothing) for another."""
    if unsupported_version(snakemake_version):
        return False
    from snakemake.scheduling.job_scheduler import JobScheduler

    if getattr(JobScheduler, "_radsnake_single_timer", False):
        return True

    def schedule_reevaluation(self, delay) -> None:
        # Only the scheduler loop's thread calls this, so check-then-set does not race.
        if getattr(self, "_radsnake_timer", None) is not None:
            return

        def wake() -> None:
            # Cleared before the wake-up, so the pass it triggers can arm the next timer.
            self._radsnake_timer = None
            self._open_jobs.release()

        timer = threading.Timer(delay, wake)
        timer.daemon = True
        self._radsnake_timer = timer
        timer.start()

    JobScheduler._schedule_reevalutation = schedule_reevaluation
    JobScheduler._radsnake_single_timer = True
    return True


def move_run_log(logger_manager, study_dir: str) -> list[str]:
    """Write Snakemake's own run log into the study folder's .snakemake/log/.

    Snakemake opens its run log in the folder it was started from, before the Snakefile
    sets the study folder as the working directory; so every study run from the clone
    would log into the clone. The log's first lines (parsing) are carried over. Returns
    the new log paths. Version-pinned like ``apply``; other versions are left alone.
    """
    from snakemake import __version__

    if __version__ not in FIXED_VERSIONS:
        return []
    moved = []
    log_dir = os.path.join(study_dir, ".snakemake", "log")
    for handler, old_path in list(logger_manager.logfile_handlers.items()):
        if not isinstance(handler, logging.FileHandler) or os.path.dirname(old_path) == log_dir:
            continue
        new_path = os.path.join(log_dir, os.path.basename(old_path))
        os.makedirs(log_dir, exist_ok=True)
        handler.acquire()
        try:
            handler.flush()
            handler.close()
            shutil.move(old_path, new_path)
            handler.baseFilename = new_path
        finally:
            handler.release()
        logger_manager.logfile_handlers[handler] = new_path
        moved.append(new_path)
        _remove_empty(os.path.dirname(old_path))
    return moved


def _remove_empty(folder: str) -> None:
    """Drop the .snakemake/log folders a study run left empty in the start folder."""
    for path in (folder, os.path.dirname(folder)):
        try:
            os.rmdir(path)
        except OSError:
            return


def remember_signatures(rules) -> int:
    """Give every function of the rules' input, params and resources its signature once.

    Snakemake inspects a function's signature (``inspect.signature``) every time it calls
    it, to pass only the arguments it takes: at 2,000 cases that was 26,000 inspections,
    a seventh of a dry run's time (docs/benchmarks.md, planning). Snakemake's public
    ``overwrite_function_params`` records a function's parameters on it; they are the
    same parameters, so the calls are unchanged. Returns how many functions it marked.
    """
    import inspect
    import types

    from snakemake.common import overwrite_function_params

    marked = set()

    def mark(value) -> None:
        for candidate in (value, getattr(value, "callable", None), getattr(getattr(value, "_file", None), "callable", None),
                          getattr(value, "_evaluator", None)):
            if isinstance(candidate, types.FunctionType) and id(candidate) not in marked:
                overwrite_function_params(candidate, inspect.signature(candidate).parameters)
                marked.add(id(candidate))

    for rule in rules:
        for value in [*rule.input, *rule.output, *rule.log, *rule.params, *(rule.resources or {}).values()]:
            mark(value)
    return len(marked)
