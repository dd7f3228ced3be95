"""What made a study's results: results/provenance.json (and its report page), and the
stamp every per-case feature file carries.

The record holds radsnake's version and git commit (and whether the checkout had local
changes), Python's and every locked library's installed version, the PyRadiomics params
file (SHA-256 and text) or the bring-your-own features table's SHA-256, the cohort
sheet's SHA-256, the resolved config (schema defaults applied) and the command line of
the Snakemake run. It holds no date: the same study run twice gives the same bytes
(the file's own modification time says when). docs/reproducibility.md describes it.
"""

from __future__ import annotations

import html
import importlib.metadata
import json
import logging
import os
import platform
import re
import shlex
import subprocess
import sys

import radsnake
from radsnake.io.cohort_sheet import PROVENANCE_PREFIX
from radsnake.core.hashing import file_sha256

log = logging.getLogger(__name__)

# Per-case feature files: which params made the row and which radsnake. source_* columns
# are never features; aggregation checks these two and leaves them out of features.csv.
PARAMS_HASH_COLUMN = f"{PROVENANCE_PREFIX}params_sha256"
VERSION_COLUMN = f"{PROVENANCE_PREFIX}radsnake_version"
STAMP_COLUMNS = (PARAMS_HASH_COLUMN, VERSION_COLUMN)
# The Snakemake process's sys.argv, set by rules/provenance.smk at parse time. An
# environment variable, not a rule param: a new command line alone must rerun nothing.
COMMAND_LINE_VARIABLE = "RADSNAKE_COMMAND_LINE"
# Always recorded, also when the lock file is missing: the libraries results depend on.
KEY_LIBRARIES = (
    "pyradiomics", "SimpleITK", "numpy", "scipy", "scikit-learn", "statsmodels", "pandas", "snakemake",
    "matplotlib", "seaborn", "imbalanced-learn", "joblib", "PyWavelets", "pydicom", "highdicom", "pykwalify",
    "PyYAML", "threadpoolctl",
)  # fmt: skip
MAX_LISTED_CHANGES = 50
_LOCK_LINE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


def case_stamp(params_path: str) -> dict:
    """The two provenance columns of a per-case feature file."""
    return {PARAMS_HASH_COLUMN: file_sha256(params_path), VERSION_COLUMN: radsnake.__version__}


def git_state(folder: str) -> dict:
    """Commit of the checkout holding `folder` and its tracked local changes; None (and
    the reason) when it is not a git checkout or git is missing."""
    state = {"git_commit": None, "git_dirty": None, "git_changes": [], "git_note": ""}

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "--no-optional-locks", "-C", folder, *args], capture_output=True, text=True, check=True, timeout=60
        ).stdout

    try:
        state["git_commit"] = git("rev-parse", "HEAD").strip()
        # Untracked files (a study's own config kept in the clone) are not code changes.
        changes = git("status", "--porcelain=v1", "--untracked-files=no").splitlines()
    except FileNotFoundError:
        state["git_note"] = "git is not installed"
        return state
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
        stderr = err.stderr.decode(errors="replace") if isinstance(err.stderr, bytes) else err.stderr or ""
        said = " ".join(stderr.split())[:300]
        state["git_commit"] = None
        # e.g. an unpacked archive; or a clone owned by another user (git's safe.directory)
        state["git_note"] = "not a git checkout" if "not a git repository" in said else f"git failed: {said}"
        return state
    state["git_dirty"] = bool(changes)
    state["git_changes"] = [line.strip() for line in changes[:MAX_LISTED_CHANGES]]
    if len(changes) > MAX_LISTED_CHANGES:
        state["git_changes"].append(f"... and {len(changes) - MAX_LISTED_CHANGES} more")
    return state


def locked_versions(lock_path: str) -> dict[str, str]:
    """name -> version of every `name==version` line of envs/requirements.lock."""
    if not lock_path or not os.path.isfile(lock_path):
        return {}
    found = {}
    with open(lock_path) as handle:
        for line in handle:
            match = _LOCK_LINE.match(line)
            if match:
                found[match[1]] = match[2]
    return found


def installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def library_versions(lock_path: str) -> tuple[dict, dict]:
    """(installed version of every locked and every key library, {name: {locked, installed}}
    for those that differ from the lock). Names as the lock spells them."""
    locked = locked_versions(lock_path)
    known = {name.lower().replace("_", "-"): name for name in locked}
    names = list(locked) + [n for n in KEY_LIBRARIES if n.lower().replace("_", "-") not in known]
    installed = {name: installed_version(name) for name in sorted(names, key=str.lower)}
    differing = {
        name: {"locked": locked[name], "installed": installed[name]}
        for name in sorted(locked, key=str.lower)
        if installed[name] != locked[name]
    }
    return installed, differing


def file_record(path: str | None, with_content: bool = False) -> dict | None:
    if not path:
        return None
    record = {"path": path, "sha256": file_sha256(path)}
    if with_content:
        with open(path, encoding="utf-8", errors="replace") as handle:
            record["content"] = handle.read()
    return record


def command_line() -> list[str] | None:
    value = os.environ.get(COMMAND_LINE_VARIABLE)
    return json.loads(value) if value else None


def rerun_command(extra: list[str]) -> str:
    """The user's own Snakemake command with `extra` arguments added, for messages that
    say how to rerun something; a generic one when the command line is not known."""
    argv = command_line()
    if not argv:
        return shlex.join(["snakemake", "--cores", "N", "--configfile", "<your config>", *extra])
    program = "snakemake" if os.path.basename(argv[0]) == "snakemake" else argv[0]
    return shlex.join([program, *argv[1:], *extra])


def build_record(
    config: dict,
    sheet_path: str,
    params_path: str | None,
    features_table: str | None,
    workflow_dir: str,
    lock_path: str,
    deployment: str,
    conda_envs: list[str] | None = None,
) -> dict:
    """The provenance record (plain JSON types). params_path is None in bring-your-own-features
    mode, where features_table is recorded instead."""
    libraries, differing = library_versions(lock_path)
    argv = command_line()
    return {
        "radsnake": {"version": radsnake.__version__, "workflow_dir": workflow_dir, **git_state(workflow_dir)},
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
            "platform": platform.platform(),
            "machine": platform.machine(),
        },
        "deployment": {
            "method": deployment,
            "conda_envs": {path: file_sha256(path) for path in conda_envs or []},
        },
        "libraries": libraries,
        "libraries_differing_from_lock": differing,
        "pyradiomics_params": file_record(params_path, with_content=True),
        "features_table": file_record(features_table),
        "cohort_sheet": file_record(sheet_path),
        "config": config,
        "command_line": {"argv": argv, "command": shlex.join(argv) if argv else None},
    }


def record_json(record: dict) -> str:
    return json.dumps(record, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _rows_html(rows: list[tuple[str, str]]) -> str:
    return "\n".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows)


def _code(text) -> str:
    return f"<code>{html.escape(str(text))}</code>"


def _pre(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"


def record_html(record: dict) -> str:
    """The record as one static page for `snakemake --report` (no scripts, no external files)."""
    rad, py = record["radsnake"], record["python"]
    if rad["git_commit"] is None:
        commit = html.escape(rad["git_note"] or "unknown")
    else:
        commit = _code(rad["git_commit"]) + (" (local changes)" if rad["git_dirty"] else " (clean)")
    changes = _pre("\n".join(rad["git_changes"])) if rad["git_changes"] else "none"
    params, table, sheet = record["pyradiomics_params"], record["features_table"], record["cohort_sheet"]
    rows = [
        ("radsnake version", _code(rad["version"])),
        ("git commit", commit),
        ("local changes to tracked files", changes),
        ("workflow folder", _code(rad["workflow_dir"])),
        ("command line", _code(record["command_line"]["command"] or "not recorded")),
        ("Python", f"{_code(py['version'])} ({html.escape(py['implementation'])}, {_code(py['executable'])})"),
        ("platform", _code(py["platform"])),
        ("software deployment", html.escape(record["deployment"]["method"])),
        ("cohort sheet", f"{_code(sheet['path'])}<br>SHA-256 {_code(sheet['sha256'])}"),
    ]
    if params:
        rows.append(
            (
                "PyRadiomics params",
                f"{_code(params['path'])}<br>SHA-256 {_code(params['sha256'])}{_pre(params['content'])}",
            )
        )
    else:
        rows.append(("PyRadiomics params", "none: features came from the features table"))
    if table:
        rows.append(("features table", f"{_code(table['path'])}<br>SHA-256 {_code(table['sha256'])}"))
    differing = record["libraries_differing_from_lock"]
    libraries = "\n".join(
        f"<tr><td>{html.escape(name)}</td><td>{_code(version or 'not installed')}</td>"
        f"<td>{html.escape(differing[name]['locked']) if name in differing else ''}</td></tr>"
        for name, version in record["libraries"].items()
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>radsnake provenance</title>
<style>
body {{ font-family: sans-serif; font-size: 14px; margin: 1em; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }}
pre {{ background: #f6f6f6; padding: 6px; max-height: 30em; overflow: auto; }}
</style>
</head>
<body>
<h1>Provenance of this study's results</h1>
<p>The same record as <code>results/provenance.json</code>, written by the run that last
updated the results.</p>
<table>
{_rows_html(rows)}
</table>
<h2>Libraries (installed; third column: the locked version where it differs)</h2>
<table>
<tr><th>library</th><th>installed</th><th>locked</th></tr>
{libraries}
</table>
<h2>Resolved config (schema defaults applied)</h2>
{_pre(json.dumps(record["config"], sort_keys=True, indent=2, ensure_ascii=False))}
</body>
</html>
"""
