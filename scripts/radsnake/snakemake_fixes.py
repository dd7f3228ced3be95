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
"""

from __future__ import annotations

import threading

# Checked against this version's source; other versions are left alone.
FIXED_VERSIONS = ("9.27.1",)


def apply(snakemake_version: str) -> bool:
    """Patch the scheduler of a known Snakemake version; returns whether it did."""
    if snakemake_version not in FIXED_VERSIONS:
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
