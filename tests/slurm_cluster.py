"""A throwaway one-node SLURM cluster on localhost, for tests that submit real jobs.

Needs root and Debian's `slurm-wlm` and `munge` (`bash envs/install.sh --test`). Nothing is
started through systemd: munged, slurmctld and slurmd run in the foreground as children of
the test, with their state, spool, sockets and logs in a temporary folder. Only the
configuration has to live in the system folder (/etc/slurm/slurm.conf), because the SLURM
executor plugin clears SLURM_CONF inside jobs; the file carries a marker line so that a
foreign configuration is never overwritten and a leftover of ours is recognised.

Every wait is bounded, and leaving the context always stops the daemons and removes the
configuration: with the file present and no slurmctld, every snakemake command that loads
the plugin stalls for about 10 s.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# radsnake test cluster: written by tests/slurm_cluster.py, removed when its test ends"
PARTITION = "radsnake"
NODE = "localhost"
PORTS = (6817, 6818)  # slurmctld, slurmd: SLURM's defaults, which clients find without help
DAEMONS = ("munged", "slurmctld", "slurmd")
TOOLS = DAEMONS + ("mungekey", "sinfo", "sbatch", "squeue", "scancel", "srun", "scontrol")


class ClusterUnavailable(RuntimeError):
    """The cluster cannot be started here (not root, missing packages, port or file taken)."""


class LocalSlurm:
    """State of a running cluster: its scratch folder and daemon processes."""

    def __init__(self, scratch: Path):
        self.scratch = scratch
        self.processes: dict[str, subprocess.Popen] = {}
        self.cpus = 0
        self.memory_mb = 0

    def log_tail(self, lines: int = 15) -> str:
        """The end of every daemon log, for failure messages."""
        parts = []
        for path in sorted(self.scratch.glob("*/*.log")) + sorted(self.scratch.glob("log/*.out")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path}\n" + "\n".join(text))
        return "\n".join(parts)


def _run(args: list[str], timeout: float = 10) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def _tool(name: str) -> str | None:
    # The daemons live in /usr/sbin, which a non-login root shell may leave out of PATH.
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def _check_prerequisites() -> None:
    if os.geteuid() != 0:
        raise ClusterUnavailable("starting SLURM daemons needs root")
    missing = [tool for tool in TOOLS if not _tool(tool)]
    if missing:
        raise ClusterUnavailable(f"SLURM/munge programs not found: {', '.join(missing)} (Debian: slurm-wlm munge)")
    try:
        import pwd

        pwd.getpwnam("munge")
    except KeyError:
        raise ClusterUnavailable("there is no 'munge' user (Debian package munge creates it)") from None


def _ports_free() -> None:
    for port in PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # SO_REUSEADDR: ignore TIME_WAIT leftovers of a previous run; only a listener counts.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("0.0.0.0", port))
            except OSError:
                raise ClusterUnavailable(
                    f"port {port} is taken: another SLURM is running on this machine; stop it first"
                ) from None


def _stop_pid(pid: int, name: str, wait: float = 5) -> None:
    """Stop one process by its id, only if it still is the named daemon (ids get reused)."""
    try:
        if Path(f"/proc/{pid}/comm").read_text().strip() != name:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    except (FileNotFoundError, ProcessLookupError):
        pass


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _clear_leftover_conf() -> None:
    """Refuse a foreign slurm.conf or one in use; stop the daemons of a dead run's leftover."""
    if not CONF.exists():
        return
    text = CONF.read_text(errors="replace")
    if not text.startswith(MARKER):
        raise ClusterUnavailable(
            f"{CONF} exists and was not written by the radsnake tests: not overwriting it "
            "(move it away to run the SLURM test on this machine)"
        )
    owner = re.search(r"^# owner (\d+)$", text, re.MULTILINE)
    if owner and _alive(int(owner.group(1))):
        raise ClusterUnavailable(
            f"another test run (process {owner.group(1)}) is using the local SLURM cluster "
            f"(if no such run exists, remove {CONF})"
        )
    for name in DAEMONS:
        match = re.search(rf"^# pid {name} (\d+)$", text, re.MULTILINE)
        if match:
            _stop_pid(int(match.group(1)), name)
    state = re.search(r"^StateSaveLocation=(.+)$", text, re.MULTILINE)
    if state and Path(state.group(1)).parent.name.startswith("radsnake-slurm-"):
        shutil.rmtree(Path(state.group(1)).parent, ignore_errors=True)
    CONF.unlink()


def _node_line(memory_margin: float = 0.95) -> tuple[str, int, int]:
    """This machine's node definition as slurmd detects it, named localhost."""
    detected = _run([_tool("slurmd"), "-C"]).stdout.splitlines()[0]
    fields = dict(item.split("=", 1) for item in detected.split())
    # A configured memory above the detected one drains the node: stay a little below.
    memory = int(int(fields["RealMemory"]) * memory_margin)
    cpus = int(fields["CPUs"])
    topology = " ".join(
        f"{key}={fields[key]}" for key in ("Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore") if key in fields
    )
    return f"NodeName={NODE} NodeAddr=127.0.0.1 CPUs={cpus} {topology} RealMemory={memory} State=UNKNOWN", cpus, memory


def _write_conf(scratch: Path, node_line: str) -> None:
    socket_path = scratch / "munge" / "munge.socket"
    # Settings follow /work/shared/notes/slurm-localhost.md; each says why.
    lines = [
        MARKER,
        # The process that owns this cluster: while it lives, nobody else may take the file over.
        f"# owner {os.getpid()}",
        "ClusterName=radsnake-test",
        f"SlurmctldHost={NODE}",
        # Root runs everything: no slurm user or folders to set up on a fresh machine.
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        # Our own munged on a private socket, so that a system munge is never touched.
        f"AuthInfo=socket={socket_path}",
        # No cgroups in containers: track processes by parentage, no task binding.
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        # Cores and memory are consumable per CPU, so two 1-CPU jobs share the node.
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU_Memory",
        # A node that was down (slurmd restarted) becomes usable again by itself.
        "ReturnToService=2",
        # Finished jobs stay visible to squeue (the status command without accounting) for an hour.
        "MinJobAge=3600",
        # Plain first-in first-out scheduling: one node, nothing to backfill.
        "SchedulerType=sched/builtin",
        "MpiDefault=none",
        f"SlurmctldPort={PORTS[0]}",
        f"SlurmdPort={PORTS[1]}",
        f"StateSaveLocation={scratch / 'state'}",
        f"SlurmdSpoolDir={scratch / 'spool'}",
        f"SlurmctldPidFile={scratch / 'run' / 'slurmctld.pid'}",
        f"SlurmdPidFile={scratch / 'run' / 'slurmd.pid'}",
        f"SlurmctldLogFile={scratch / 'log' / 'slurmctld.log'}",
        f"SlurmdLogFile={scratch / 'log' / 'slurmd.log'}",
        node_line,
        f"PartitionName={PARTITION} Nodes={NODE} Default=YES MaxTime=INFINITE State=UP",
    ]
    CONF.parent.mkdir(parents=True, exist_ok=True)
    tmp = CONF.with_name(CONF.name + ".radsnake-tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(CONF)


def _record_pid(name: str, pid: int) -> None:
    """Note a daemon's id in our conf, so that a later run can stop it if this one is killed."""
    with open(CONF, "a") as handle:
        handle.write(f"# pid {name} {pid}\n")


def _start(cluster: LocalSlurm, name: str, args: list[str], **kwargs) -> None:
    log = open(cluster.scratch / "log" / f"{name}.out", "w")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, **kwargs)
    log.close()
    cluster.processes[name] = process
    _record_pid(name, process.pid)


def _start_munge(cluster: LocalSlurm) -> None:
    folder = cluster.scratch / "munge"
    # Clients need to reach the socket; the key inside stays readable by munge only.
    folder.mkdir()
    folder.chmod(0o755)
    key = folder / "munge.key"
    made = _run([_tool("mungekey"), "--create", f"--keyfile={key}"])
    if made.returncode != 0:
        raise ClusterUnavailable(f"mungekey failed: {made.stderr.strip()}")
    shutil.chown(folder, "munge", "munge")
    shutil.chown(key, "munge", "munge")
    key.chmod(0o600)
    _start(
        cluster,
        "munged",
        [
            _tool("munged"), "--foreground", f"--socket={folder / 'munge.socket'}", f"--key-file={key}",
            f"--pid-file={folder / 'munged.pid'}", f"--seed-file={folder / 'munged.seed'}",
            f"--log-file={folder / 'munged.log'}",
        ],
        user="munge",
        group="munge",
    )
    _wait(cluster, lambda: (folder / "munge.socket").exists(), 10, "munged to open its socket")


def _wait(cluster: LocalSlurm, ready, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        for name, process in cluster.processes.items():
            if process.poll() is not None:
                raise ClusterUnavailable(f"{name} exited with code {process.returncode} while waiting for {what}\n{cluster.log_tail()}")
        time.sleep(0.2)
    raise ClusterUnavailable(f"timed out after {seconds:.0f} s waiting for {what}\n{cluster.log_tail()}")


def node_state() -> str:
    """The node's state as sinfo reports it ('' when slurmctld does not answer)."""
    try:
        result = _run(["sinfo", "-h", "-N", "-n", NODE, "-o", "%T"], timeout=5)
    except subprocess.TimeoutExpired:
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def _controller_up() -> bool:
    try:
        return " is UP" in _run(["scontrol", "ping"], timeout=5).stdout
    except subprocess.TimeoutExpired:
        return False


def _stop(cluster: LocalSlurm) -> None:
    """Cancel every job, then stop the daemons (SIGTERM, then SIGKILL), slurmd first."""
    if "slurmctld" in cluster.processes and cluster.processes["slurmctld"].poll() is None:
        with contextlib.suppress(subprocess.TimeoutExpired, OSError):
            _run(["scancel", f"--partition={PARTITION}"], timeout=10)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                queue = _run(["squeue", "-h", "-t", "PENDING,RUNNING,COMPLETING,CONFIGURING", "-o", "%i"], timeout=5)
                if queue.returncode != 0 or not queue.stdout.strip():
                    break
                time.sleep(0.5)
    for name in ("slurmd", "slurmctld", "munged"):
        process = cluster.processes.get(name)
        if process is None or process.poll() is not None:
            continue
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)


def _raise_on_sigterm(signum, frame):
    raise SystemExit(f"terminated by signal {signum}")


@contextlib.contextmanager
def local_slurm(ready_seconds: float = 30) -> Iterator[LocalSlurm]:
    """Start munged, slurmctld and slurmd; yield once the node is idle; always tear down."""
    _check_prerequisites()
    _clear_leftover_conf()
    _ports_free()
    scratch = Path(tempfile.mkdtemp(prefix="radsnake-slurm-"))
    # munged runs as the munge user and must reach its folder inside.
    scratch.chmod(0o755)
    for sub in ("state", "spool", "run", "log"):
        (scratch / sub).mkdir()
    cluster = LocalSlurm(scratch)
    # A plain `kill` of pytest must still tear down: turn SIGTERM into an exception
    # (possible in the main thread only).
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous_handler = signal.signal(signal.SIGTERM, _raise_on_sigterm) if in_main_thread else None
    wrote_conf = False
    try:
        node_line, cluster.cpus, cluster.memory_mb = _node_line()
        _write_conf(scratch, node_line)
        wrote_conf = True
        _start_munge(cluster)
        # -c: start from an empty state, never a previous run's jobs.
        _start(cluster, "slurmctld", [_tool("slurmctld"), "-D", "-c"])
        _wait(cluster, _controller_up, ready_seconds, "slurmctld to answer")
        # -N: the node is called localhost in the conf, whatever the machine's hostname.
        _start(cluster, "slurmd", [_tool("slurmd"), "-D", "-N", NODE])
        _wait(cluster, lambda: node_state() == "idle", ready_seconds, f"node {NODE} to become idle in sinfo")
        yield cluster
    finally:
        try:
            _stop(cluster)
        finally:
            if wrote_conf and CONF.exists() and f"# owner {os.getpid()}\n" in CONF.read_text(errors="replace"):
                CONF.unlink()
            shutil.rmtree(scratch, ignore_errors=True)
            if in_main_thread:
                signal.signal(signal.SIGTERM, previous_handler)
