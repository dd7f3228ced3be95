"""A warm worker for the many short per-case jobs.

A fresh Python that imports PyRadiomics, SimpleITK, numpy and pandas costs about as much
as extracting a small ROI, and the workflow starts one per case. The first per-case job
on a machine starts a worker that imports all of that once and then forks one child per
job. The child takes the job's working directory, environment and stdout/stderr, runs
the same radsnake function the job would run itself, and reports the exit status.
Results are the same either way: the child runs the same code in a copy of a process
that has done nothing but import it.

Safety:
- The worker's socket name is a hash of the Python environment and of this package's
  source, so a code upgrade never runs in a stale worker.
- A child dies with its job: when the job's process goes (Snakemake killed, Ctrl-C),
  the socket closes and the child exits at once.
- The worker exits after IDLE_SECONDS without a job. Inside a cluster job, or with
  RADSNAKE_WORKER=0, jobs run in their own process as before.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

IDLE_SECONDS = 60
START_TIMEOUT_SECONDS = 60
# A lingering worker would hold a cluster job open (or be killed with it): not there.
CLUSTER_JOB_VARIABLES = ("SLURM_JOB_ID", "JOB_ID", "LSB_JOBID", "PBS_JOBID", "_CONDOR_JOB_AD")
PRELOAD = (
    "radsnake.extract",
    "radiomics.featureextractor",
    "radsnake.tables",
    "pandas",
    # per-case QC jobs: image readers and the overlay's matplotlib
    "radsnake.inputs",
    "radsnake.imageio",
    "radsnake.qc",
    "pydicom",
    # feature robustness jobs: the mask perturbations
    "radsnake.robustness",
    "scipy.ndimage",
)
ACCEPTED = b"A"
HEADER = struct.Struct("!I")


def code_key() -> str:
    """Identifies the interpreter, its packages and this package's code."""
    digest = hashlib.sha256()
    digest.update(sys.executable.encode())
    digest.update(sys.prefix.encode())
    package = os.path.dirname(os.path.abspath(__file__))
    for name in sorted(os.listdir(package)):
        if name.endswith(".py"):
            digest.update(name.encode())
            with open(os.path.join(package, name), "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()[:20]


def socket_path() -> str:
    folder = os.path.join(tempfile.gettempdir(), f"radsnake-worker-{os.getuid()}")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return os.path.join(folder, f"{code_key()}.sock")


def warm_worker_allowed() -> bool:
    if os.environ.get("RADSNAKE_WORKER", "1") == "0":
        return False
    return not any(name in os.environ for name in CLUSTER_JOB_VARIABLES)


def run_here(target: str, kwargs: dict, log_path: str, threads: int) -> int:
    """The job in this process: what a Snakemake script job would do."""
    from radsnake.runtime import job

    module, function = target.split(":")
    try:
        with job(log_path, threads):
            getattr(importlib.import_module(module), function)(**kwargs)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1
    return 0


def run(target: str, kwargs: dict, log_path: str, threads: int = 1, warm: bool = True) -> int:
    """Run radsnake function `target` ("module:function") for one job; returns its exit status."""
    if warm and warm_worker_allowed():
        status = submit(target, kwargs, log_path, threads)
        if status is not None:
            return status
    return run_here(target, kwargs, log_path, threads)


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
        scripts = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=scripts, PYTHONHASHSEED="0")
        # Imported libraries size their thread pools at import; jobs resize them.
        env.update({name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
        subprocess.Popen(
            [sys.executable, "-m", "radsnake.worker", path],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if os.path.exists(path):
                return
            time.sleep(0.02)


def submit(target: str, kwargs: dict, log_path: str, threads: int) -> int | None:
    """The job's exit status from the warm worker, or None if no worker took it."""
    path = socket_path()
    request = json.dumps(
        {
            "target": target,
            "kwargs": kwargs,
            "log": os.path.abspath(log_path),
            "threads": threads,
            "cwd": os.getcwd(),
            "env": dict(os.environ),
        }
    ).encode()
    for attempt in range(3):
        client = connect(path)
        if client is None:
            start_worker(path)
            client = connect(path)
            if client is None:
                continue
        with client:
            sys.stdout.flush()
            sys.stderr.flush()
            socket.send_fds(client, [HEADER.pack(len(request))], [1, 2])
            client.sendall(request)
            if receive_exactly(client, 1) != ACCEPTED:
                # The worker was exiting when we connected: start another.
                continue
            reply = receive_exactly(client, HEADER.size)
            if len(reply) < HEADER.size:
                print(
                    f"radsnake: the warm worker died while running this job (see {log_path}). "
                    "Rerun; if it recurs, set RADSNAKE_WORKER=0 to run each job in its own process.",
                    file=sys.stderr,
                )
                return 1
            return HEADER.unpack(reply)[0]
    return None


def receive_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


# Worker side -------------------------------------------------------------------------


def serve(path: str) -> None:
    for module in PRELOAD:
        importlib.import_module(module)
    import radiomics

    # PyRadiomics imports its feature classes lazily; do it once here.
    radiomics.getFeatureClasses()
    radiomics.getImageTypes()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    staging = f"{path}.{os.getpid()}"
    listener.bind(staging)
    listener.listen(128)
    os.replace(staging, path)  # clients see the socket only once it listens
    listener.settimeout(1.0)
    children: set[int] = set()
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
            pid = os.fork()
            if pid == 0:
                listener.close()
                run_child(connection)  # never returns
            children.add(pid)
            connection.close()
    finally:
        # Another worker may have replaced ours after a crash; remove only our own.
        try:
            if os.stat(path).st_ino == os.fstat(listener.fileno()).st_ino:
                os.remove(path)
        except OSError:
            pass
        listener.close()


def reap(children: set[int]) -> None:
    for pid in list(children):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            children.discard(pid)


def run_child(connection: socket.socket) -> None:
    status = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        connection.settimeout(None)
        header, fds, _, _ = socket.recv_fds(connection, HEADER.size, 2)
        request = json.loads(receive_exactly(connection, HEADER.unpack(header)[0]))
        connection.sendall(ACCEPTED)
        for target_fd, fd in zip((1, 2), fds):
            os.dup2(fd, target_fd)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        threading.Thread(target=exit_when_client_leaves, args=(connection,), daemon=True).start()
        status = run_here(request["target"], request["kwargs"], request["log"], request["threads"])
        sys.stdout.flush()
        sys.stderr.flush()
        connection.sendall(HEADER.pack(status))
    finally:
        os._exit(status)


def exit_when_client_leaves(connection: socket.socket) -> None:
    try:
        connection.recv(1)
    finally:
        os._exit(1)


if __name__ == "__main__":
    serve(sys.argv[1])
