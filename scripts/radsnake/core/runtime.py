"""What every rule script does first: log to its log file and obey its thread count."""

from __future__ import annotations

import contextlib
import logging
import os
import sys

from radsnake.core.errors import InputError
from radsnake.core.faults import disk_fault_message

# Every job log's records; radsnake.core.run_end reads the last ERROR record back.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS",
)


def limit_threads(threads: int) -> None:
    """Keep BLAS/OpenMP pools at the job's thread count, so parallel jobs don't oversubscribe."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    # numpy may already be loaded with its pools sized; resize them too.
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
    # ITK sizes its filters' thread pool by the machine's cores, not by the variables above.
    itk = sys.modules.get("SimpleITK")
    if itk is not None:
        itk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)


# The console's stderr while a job's descriptors point at its log (console_to_log).
_console_fd: int | None = None


def tell_console(message: str) -> None:
    """One line for the user on the console (and in the log), from a job that goes on."""
    logging.warning("%s", message)
    line = f"radsnake: {message}\n".encode()
    os.write(_console_fd if _console_fd is not None else 2, line)


@contextlib.contextmanager
def console_to_log(log_path: str):
    """Send this process's stdout and stderr (file descriptors 1 and 2) to the job's log.

    Libraries talk on the console in ways logging does not see: SimpleITK/ITK write to
    std::cerr, PyRadiomics adds its own stderr handler, joblib's workers print their
    warnings. Redirecting the descriptors catches all of it, and processes started
    meanwhile inherit the log as their stderr.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    global _console_fd
    saved = (os.dup(1), os.dup(2))
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        _console_fd = saved[1]
        yield
    finally:
        _console_fd = None
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (log_fd, *saved):
            os.close(fd)


@contextlib.contextmanager
def job(log_path: str, threads: int = 1, what: str = ""):
    """Run a job's body with logging to log_path and thread limits.

    Everything the body or its libraries print goes to the log too (console_to_log), so
    the console shows Snakemake's progress only. An InputError ends the job with its
    message alone (no traceback) on stderr and in the log, and so does a full disk or an
    unwritable folder (radsnake.core.faults; `what`, e.g. "case P3: feature extraction",
    opens that line); any other error keeps its traceback in the log.
    """
    open(log_path, "w").close()
    # Appends, like the redirected descriptors: the two never overwrite each other.
    handler = logging.FileHandler(log_path, mode="a")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    try:
        with console_to_log(log_path):
            limit_threads(threads)
            yield
    except InputError as err:
        logging.error("%s", err)
        print(f"radsnake: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    except Exception as err:
        fault = disk_fault_message(err, what)
        if fault is None:
            logging.exception("job failed")
            raise
        logging.error("%s", fault)
        print(f"radsnake: {fault}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        handler.flush()


def append_error(log_path: str, message: str) -> None:
    """Add an ERROR record to a job's log from outside the job (it was killed before it
    could); a log that cannot be written is left as it is."""
    record = logging.LogRecord("radsnake", logging.ERROR, __file__, 0, "%s", (message,), None)
    try:
        with open(log_path, "a") as handle:
            handle.write(logging.Formatter(LOG_FORMAT).format(record) + "\n")
    except OSError:
        pass
