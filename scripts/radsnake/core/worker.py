"""The warm worker: one process per study folder that imports once and forks a child per job.

A fresh Python that imports the libraries of a job (PyRadiomics and SimpleITK for a case;
pandas, scikit-learn, SciPy and matplotlib for a fit, a table or a figure) spends about
2 s of CPU before the job's own work, and most of the workflow's jobs are shorter than
that. The first job of a study starts a worker; every job then hands itself to it, and
the worker forks one child per job. The child takes the job's working directory,
environment and stdout/stderr, runs the same code the job would run itself, and reports
the exit status. Results are the same either way: the child runs the same code in a copy
of a process that has done nothing but import it (tests/test_worker.py,
tests/test_resume.py). docs/benchmarks.md has what it saves; docs/design.md why it stays.

Two kinds of job use it:
- a per-case job (scripts/extract_features.py, a shell command) calls ``run`` with a
  radsnake function ("module:function") and its arguments, plus the modules to import
  and the extractor to build ahead of its jobs;
- a rule script (a Snakemake ``script:``) calls ``hand_to_worker(snakemake)`` first: the
  child runs the same script file (Snakemake's preamble and all), and the call returns
  there, so the script goes on exactly as in its own process.
Before forking, the worker imports what the job asks for (the modules a script imports,
read from its syntax tree), once: later jobs of that kind fork with it imported. It
names no module itself, so a rule's code (rules/code.smk) does not grow by using it.

Safety:
- Private: the socket lives under the study folder (the job's working directory), in
  .snakemake/radsnake-worker/, which must be this user's with mode 0700. Its name is a
  hash of the interpreter, this checkout's path, this package's source and the
  installed distributions (name, version, install time), so a second checkout, another
  study, a code change or a `pip install -U` never runs in a stale worker.
- Honest: an error in a job ends that job with its message (one line naming the case,
  its files and the library's message for a case; traceback in the job's log); a child
  killed by a signal (the out-of-memory killer, say) is reported as such for its job.
  Neither touches other jobs: every job is its own forked child. A killed worker is
  replaced by the next job.
- A child dies with its job: when the job's process goes (Snakemake killed, Ctrl-C),
  the socket closes and the child exits at once.
- The worker exits after IDLE_SECONDS without a job. Inside a cluster job, or with
  RADSNAKE_WORKER=0 or resources.warm_worker: false, jobs run in their own process.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import json
import logging
import os
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time

IDLE_SECONDS = 60
START_TIMEOUT_SECONDS = 60
# Relative to the study folder, which is every job's working directory.
WORKER_DIR = os.path.join(".snakemake", "radsnake-worker")
# A lingering worker would hold a cluster job open (or be killed with it): not there.
CLUSTER_JOB_VARIABLES = ("SLURM_JOB_ID", "JOB_ID", "LSB_JOBID", "PBS_JOBID", "_CONDOR_JOB_AD")
# Set in the environment of a worker's child that runs a rule script (and of whatever it
# starts): there hand_to_worker returns, and the script runs on.
CHILD_VARIABLE = "RADSNAKE_WORKER_CHILD"
# How long the worker waits for a connected job's request before dropping it.
REQUEST_TIMEOUT_SECONDS = 30
ACCEPTED = b"A"
HEADER = struct.Struct("!I")
# The reply: what ended the job, and its exit status or signal number.
REPLY = struct.Struct("!BI")
EXITED, KILLED, ENDED_UNREPORTED = 0, 1, 2


def distributions_key() -> str:
    """The installed distributions: every *.dist-info / *.egg-info on sys.path, with its
    install time. The folder names carry name and version; these are the entries
    importlib.metadata reads (tests/test_worker.py checks that), without parsing each
    METADATA file, which costs about 0.2 s a job."""
    entries = set()
    # Each folder once, by its real path: a rule script's sys.path names the same
    # site-packages again (Snakemake's preamble adds its own search paths), and a job of
    # either kind must find the same worker.
    for folder in {os.path.realpath(folder or ".") for folder in sys.path}:
        try:
            with os.scandir(folder) as found:
                for entry in found:
                    if entry.name.endswith((".dist-info", ".egg-info")):
                        entries.add(f"{folder}/{entry.name} {entry.stat().st_mtime_ns}")
        except OSError:  # a zip file or a missing folder on sys.path
            continue
    return "\n".join(sorted(entries))


def code_key() -> str:
    """Identifies the interpreter, the installed distributions, this checkout and its code."""
    digest = hashlib.sha256()
    package = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # radsnake/, above core/
    for part in (sys.executable, sys.prefix, package, distributions_key()):
        digest.update(part.encode() + b"\0")
    for folder, _, names in sorted(os.walk(package)):
        for name in sorted(names):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, package).encode())
                with open(path, "rb") as handle:
                    digest.update(handle.read())
    return digest.hexdigest()[:20]


def private_folder() -> str | None:
    """This study's worker folder (relative to the study folder), or None if it is not
    ours alone: a worker runs code as whoever started it."""
    os.makedirs(WORKER_DIR, mode=0o700, exist_ok=True)
    info = os.lstat(WORKER_DIR)
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and info.st_mode & 0o077:
        os.chmod(WORKER_DIR, 0o700)  # ours, made under a permissive umask
        info = os.lstat(WORKER_DIR)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        print(
            f"radsnake: not using the warm worker: {os.path.abspath(WORKER_DIR)} is not a folder "
            "that only you can open (mode 0700); each job runs in its own process.",
            file=sys.stderr,
        )
        return None
    return WORKER_DIR


def socket_path() -> str | None:
    """The socket, relative to the study folder (an absolute path may pass AF_UNIX's 107 bytes)."""
    folder = private_folder()
    return None if folder is None else os.path.join(folder, f"{code_key()}.sock")


def warm_worker_allowed() -> bool:
    """Not turned off, not inside a cluster job, and not in a worker's child (which never
    hands a job on)."""
    if os.environ.get("RADSNAKE_WORKER", "1") == "0" or os.environ.get(CHILD_VARIABLE):
        return False
    return not any(name in os.environ for name in CLUSTER_JOB_VARIABLES)


def files_of(kwargs: dict) -> str:
    """' on image X with mask Y': a case job's input files (absolute), for messages."""
    spec = kwargs.get("spec")
    if not isinstance(spec, dict):
        return ""
    images = [os.path.abspath(entry["path"]) for entry in spec.get("images", []) if entry.get("path")]
    text = f" on image {', '.join(images)}" if images else ""
    return text + (f" with mask {os.path.abspath(spec['mask'])}" if spec.get("mask") else "")


def run_here(target: str, kwargs: dict, log_path: str, threads: int, what: str = "") -> int:
    """The job in this process: what a Snakemake script job would do.

    An error the job did not turn into a radsnake message (a library's exception, a
    corrupt file) ends it with one line naming the job (`what`, e.g. "case c1: feature
    extraction"), its files and the cause; the traceback is in the log
    (radsnake.core.runtime.job).
    """
    from radsnake.core.runtime import job

    what = what or target
    module, function = target.split(":")
    try:
        with job(log_path, threads, what):
            getattr(importlib.import_module(module), function)(**kwargs)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1
    except Exception as err:
        cause = f"{type(err).__name__}: {err}".rstrip(": ")
        message = (
            f"{what} failed{files_of(kwargs)}: {cause} "
            f"(traceback in {log_path}; docs/troubleshooting.md lists known causes)"
        )
        logging.error("%s", message)  # the log's last line, under the traceback
        print(f"radsnake: {message}", file=sys.stderr)
        return 1
    return 0


def run(target: str, kwargs: dict, log_path: str, threads: int = 1, warm: bool = True, what: str = "",
        preload: tuple = (), warm_up: list | None = None) -> int:
    """Run radsnake function `target` ("module:function") for one job; returns its exit status.

    `what` names the job in messages ("case c1: feature extraction"). In the warm worker,
    the modules in `preload` are imported, and ``warm_up`` ([function, file]) is run,
    once before forking, for every later job that asks for them too."""
    if warm and warm_worker_allowed():
        request = {"target": target, "kwargs": kwargs, "preload": list(preload), "warm_up": warm_up}
        status = submit(request, log_path, threads, what or target)
        if status is not None:
            return status
    return run_here(target, kwargs, log_path, threads, what)


def hand_to_worker(snakemake) -> None:
    """A rule script's first call: run this script in the study's warm worker and exit
    with its status; returns (and the script runs here) in the worker's child, or when
    no worker can take it (turned off, inside a cluster job, or no private folder)."""
    if not snakemake.config.get("resources", {}).get("warm_worker", True) or not warm_worker_allowed():
        return
    wildcards = ", ".join(f"{name}={value}" for name, value in snakemake.wildcards.items())
    what = f"rule {snakemake.rule}" + (f" ({wildcards})" if wildcards else "")
    # The file Python runs: Snakemake's copy of the script with its preamble.
    request = {"script": os.path.abspath(sys.argv[0])}
    status = submit(request, snakemake.log[0], snakemake.threads, what)
    if status is not None:
        sys.exit(status)


def run_script_here(path: str) -> int:
    """A rule script run as `python path` would run it, in this (forked) process."""
    import runpy
    import traceback

    os.environ[CHILD_VARIABLE] = "1"
    sys.argv = [path]
    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            return stop.code or 0
        print(stop.code, file=sys.stderr)
        return 1
    except BaseException:  # noqa: BLE001 - as Python does: the traceback on stderr, status 1
        traceback.print_exc()
        return 1
    return 0


# Client side -------------------------------------------------------------------------


def connect(path: str) -> socket.socket | None:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.connect(path)
    except OSError:
        client.close()
        return None
    return client


def start_worker(path: str) -> None:
    """Start the worker unless another job is starting it; wait until it listens."""
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        probe = connect(path)
        if probe is not None:
            probe.close()
            return
        # A socket nobody listens on is a killed worker's: remove it, to wait for the new one.
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        scripts = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ, PYTHONPATH=scripts, PYTHONHASHSEED="0")
        # Imported libraries size their thread pools at import; jobs resize them.
        env.update({name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
        folder, name = os.path.split(os.path.abspath(path))
        worker = subprocess.Popen(
            [sys.executable, "-m", "radsnake.core.worker", folder, name],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            # A worker that could not start (no space for its socket, say) is not waited for.
            if os.path.exists(path) or worker.poll() is not None:
                return
            time.sleep(0.02)


def submit(request: dict, log_path: str, threads: int, what: str) -> int | None:
    """The job's exit status from the warm worker, or None if no worker took it.
    `request` says what to run (a target and its kwargs, or a script); `what` names the
    job in messages."""
    path = socket_path()
    if path is None:
        return None
    payload = json.dumps(
        {
            **request,
            "log": os.path.abspath(log_path),
            "threads": threads,
            "what": what,
            "cwd": os.getcwd(),
            "env": dict(os.environ),
        }
    ).encode()
    for _ in range(3):
        client = connect(path)
        if client is None:
            start_worker(path)
            client = connect(path)
            if client is None:
                continue
        with client:
            sys.stdout.flush()
            sys.stderr.flush()
            try:
                socket.send_fds(client, [HEADER.pack(len(payload))], [1, 2])
                client.sendall(payload)
            except OSError:  # the worker went (exiting, or killed) before it read the job
                continue
            if receive_exactly(client, 1) != ACCEPTED:
                # The worker was exiting (or was killed) before it took the job: start another.
                continue
            return report(receive_exactly(client, REPLY.size), what + files_of(request.get("kwargs") or {}), log_path)
    return None


def report(reply: bytes, job: str, log_path: str) -> int:
    """The job's exit status; a job that did not end by itself gets a line saying how it
    ended, on the console and at the end of its log (where the run's end finds it)."""
    if len(reply) < REPLY.size:
        # The worker and the job's child both went: something killed them from outside.
        return say_how_it_ended(
            f"{job} was stopped before it finished: the warm worker running it (in "
            f"{os.path.abspath(WORKER_DIR)}) was killed. Rerun the same command: finished jobs are kept; "
            f"the job's log is {log_path}.",
            log_path,
            1,
        )
    kind, value = REPLY.unpack(reply)
    if kind == EXITED:
        return value
    if kind == KILLED:
        name = signal.Signals(value).name if value in signal.valid_signals() else f"signal {value}"
        hint = (
            " That is usually the kernel's out-of-memory killer (see `dmesg`): run fewer jobs at once "
            "(--cores N, or --resources mem_mb=M with resources.extract_mem_mb per job)."
            if value == signal.SIGKILL
            else " Rerun it in its own process to see where: RADSNAKE_WORKER=0."
        )
        message = f"{job} was killed by {name} before it finished (log: {log_path}).{hint}"
        return say_how_it_ended(message, log_path, 128 + value)
    return say_how_it_ended(
        f"{job} ended with exit status {value} without reporting why (log: {log_path}).", log_path, value or 1
    )


def say_how_it_ended(message: str, log_path: str, status: int) -> int:
    from radsnake.core.runtime import append_error

    append_error(log_path, message)
    print(f"radsnake: {message}", file=sys.stderr)
    return status


def receive_exactly(connection: socket.socket, size: int) -> bytes:
    """Up to `size` bytes; fewer when the other end went (closed, or killed: a reset)."""
    data = b""
    while len(data) < size:
        try:
            chunk = connection.recv(size - len(data))
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


# Worker side -------------------------------------------------------------------------


def serve(folder: str, name: str) -> None:
    os.chdir(folder)  # the socket's name is relative: AF_UNIX paths are short
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    staging = f"{name}.{os.getpid()}"
    listener.bind(staging)
    listener.listen(128)
    os.replace(staging, name)  # clients see the socket only once it listens
    listener.settimeout(1.0)
    # Each child's connection stays open here too, to tell the job if its child is killed.
    children: dict[int, socket.socket] = {}
    prepared: set = set()
    last_job = time.monotonic()
    try:
        while True:
            reap(children)
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                if not children and time.monotonic() - last_job > IDLE_SECONDS:
                    break
                continue
            last_job = time.monotonic()
            taken = take_request(connection)
            if taken is None:
                connection.close()
                continue
            request, fds = taken
            prepare(request, prepared)
            pid = os.fork()
            if pid == 0:
                listener.close()
                for other in children.values():
                    other.close()
                run_child(connection, request, fds)  # never returns
            for fd in fds:
                os.close(fd)
            children[pid] = connection
    finally:
        # Another worker may have replaced ours after a crash; remove only our own.
        try:
            if os.stat(name).st_ino == os.fstat(listener.fileno()).st_ino:
                os.remove(name)
        except OSError:
            pass
        listener.close()


def take_request(connection: socket.socket) -> tuple[dict, list[int]] | None:
    """The job's request and its stdout/stderr, acknowledged; None for a connection that
    sends no whole request in time (the job went)."""
    fds: list[int] = []
    try:
        connection.settimeout(REQUEST_TIMEOUT_SECONDS)
        header, fds, _, _ = socket.recv_fds(connection, HEADER.size, 2)
        body = receive_exactly(connection, HEADER.unpack(header)[0]) if len(header) == HEADER.size else b""
        request = json.loads(body)
        if len(fds) != 2:
            raise ValueError("no stdout/stderr")
        connection.sendall(ACCEPTED)
    except (OSError, ValueError, struct.error):
        for fd in fds:
            os.close(fd)
        return None
    connection.settimeout(None)
    return request, fds


def prepare(request: dict, prepared: set) -> None:
    """Import, in the worker, what the job will import (its preload list, or the modules
    its script imports), and run its warm-up: once, so that later children have it. A
    failure is left for the job itself to meet and report."""
    modules = list(request.get("preload") or [])
    if "script" in request:
        modules += script_imports(request["script"])
    if "target" in request:
        modules.append(request["target"].split(":")[0])
    for module in modules:
        if module in prepared:
            continue
        prepared.add(module)
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 - the job meets it and reports it
            pass
    warm_up = request.get("warm_up")
    if warm_up and tuple(warm_up) not in prepared:
        prepared.add(tuple(warm_up))
        module, function = warm_up[0].split(":")
        try:
            getattr(importlib.import_module(module), function)(warm_up[1])
        except Exception:  # noqa: BLE001 - the job itself meets the problem and reports it
            pass


def script_imports(path: str) -> list[str]:
    """The modules a script imports (Snakemake's preamble, its own imports, at any depth)."""
    import ast

    try:
        with open(path, "rb") as handle:
            tree = ast.parse(handle.read())
    except (OSError, SyntaxError, ValueError):
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return names


def reap(children: dict[int, socket.socket]) -> None:
    """Collect ended children; tell the job how its child ended if the child could not.

    A child that reported its status has sent it before exiting, so it reaches the job
    first and the job ignores this second reply."""
    for pid, connection in list(children.items()):
        done, status = os.waitpid(pid, os.WNOHANG)
        if not done:
            continue
        del children[pid]
        if os.WIFSIGNALED(status):
            reply = REPLY.pack(KILLED, os.WTERMSIG(status))
        else:
            reply = REPLY.pack(ENDED_UNREPORTED, os.waitstatus_to_exitcode(status))
        try:
            connection.sendall(reply)
        except OSError:  # the job has gone already
            pass
        connection.close()


def run_child(connection: socket.socket, request: dict, fds: list[int]) -> None:
    status = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        for target_fd, fd in zip((1, 2), fds):
            os.dup2(fd, target_fd)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        threading.Thread(target=exit_when_client_leaves, args=(connection,), daemon=True).start()
        if "script" in request:
            status = run_script_here(request["script"])
        else:
            status = run_here(request["target"], request["kwargs"], request["log"], request["threads"], request["what"])
        sys.stdout.flush()
        sys.stderr.flush()
        connection.sendall(REPLY.pack(EXITED, status))
    finally:
        os._exit(status)


def exit_when_client_leaves(connection: socket.socket) -> None:
    try:
        connection.recv(1)
    finally:
        os._exit(1)


if __name__ == "__main__":
    # Serve from the module as imported, not from this __main__ copy: the children's scripts
    # import radsnake.core.worker: one copy of the module, not two.
    from radsnake.core import worker

    worker.serve(sys.argv[1], sys.argv[2])
