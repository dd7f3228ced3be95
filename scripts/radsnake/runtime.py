"""What every rule script does first: log to its log file and obey its thread count."""

from __future__ import annotations

import contextlib
import logging
import os
import sys

from radsnake.errors import InputError

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "GOTO_NUM_THREADS",
)


def limit_threads(threads: int) -> None:
    """Keep BLAS/OpenMP pools at the job's thread count, so parallel jobs don't oversubscribe."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    # numpy may already be loaded with its pools sized; resize them too.
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)


@contextlib.contextmanager
def job(log_path: str, threads: int = 1):
    """Run a job's body with logging to log_path and thread limits.

    An InputError ends the job with its message alone (no traceback) on stderr and in
    the log; any other error keeps its traceback in the log.
    """
    limit_threads(threads)
    handler = logging.FileHandler(log_path, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    try:
        yield
    except InputError as err:
        logging.error("%s", err)
        print(f"radsnake: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    except Exception:
        logging.exception("job failed")
        raise
    finally:
        handler.flush()
