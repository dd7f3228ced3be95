"""A quiet console: a dry run of the demo prints no warning. (That a real run sends the
libraries' chatter to the jobs' logs is checked on the first run of
tests/test_robustness_workflow.py, a study of the same shape.)"""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import REPO, SNAKEMAKE

pytestmark = pytest.mark.workflow

# Snakemake prints its own warnings without the word "warning" (e.g. "localrules directive
# specifies rules that are not present"), so the dry run also records every log record
# of level WARNING or above, from any logger, through this module on PYTHONPATH.
WARNING_RECORDER = """
import logging
import os

_handle = logging.Logger.handle


def _record(self, record):
    if record.levelno >= logging.WARNING:
        with open(os.environ["RADSNAKE_TEST_WARNINGS"], "a") as out:
            out.write(f"{record.name} {record.levelname}: {record.getMessage()}\\n")
    return _handle(self, record)


logging.Logger.handle = _record
"""

def lines_with_warning(text: str) -> list[str]:
    return [line for line in text.splitlines() if "warning" in line.lower()]


# The demo's two documented commands (README, Makefile), from the repository root.
@pytest.mark.xdist_group("clone")
@pytest.mark.parametrize(
    "args", [["-n"], ["--cores", "2", "--configfile", "config/demo/config.yaml", "-n"]], ids=["plain", "make_demo"]
)
def test_dry_run_of_the_demo_prints_no_warning(tmp_path, args):
    (tmp_path / "sitecustomize.py").write_text(WARNING_RECORDER)
    recorded = tmp_path / "warnings.txt"
    env = dict(os.environ, PYTHONPATH=str(tmp_path), RADSNAKE_TEST_WARNINGS=str(recorded))
    result = subprocess.run([SNAKEMAKE, *args], cwd=REPO, capture_output=True, text=True, env=env, timeout=300)
    console = result.stdout + result.stderr
    assert result.returncode == 0, console[-4000:]
    assert "Building DAG of jobs" in console
    assert lines_with_warning(console) == []
    assert (recorded.read_text() if recorded.exists() else "") == ""
