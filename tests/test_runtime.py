import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from threadpoolctl import threadpool_info

from radsnake.core.errors import InputError
from radsnake.core.runtime import job
from radsnake.core.tables import write_csv


def test_job_logs_to_file_and_limits_threads(tmp_path):
    log = tmp_path / "job.log"
    with job(str(log), threads=1):
        logging.getLogger("radsnake.test").info("hello from the job")
        assert os.environ["OMP_NUM_THREADS"] == "1"
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    assert "hello from the job" in log.read_text()


def test_job_limits_itk_threads_to_its_thread_count(tmp_path):
    """ITK sizes its filters' pool by the machine's cores, whatever the BLAS variables say:
    a one-thread case job in the warm worker (SimpleITK already imported) would use them all."""
    import SimpleITK as sitk

    before = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    try:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(3)
        with job(str(tmp_path / "job.log"), threads=1):
            assert sitk.ProcessObject.GetGlobalDefaultNumberOfThreads() == 1
            assert os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] == "1"
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(before)


CHATTY_JOB = """
import logging, os, subprocess, sys, warnings
from radsnake.core.runtime import job

with job(sys.argv[1]):
    logging.getLogger("radsnake.test").info("logged line")
    os.write(2, b"WARNING: In itkImageIO.cxx: written by C++\\n")
    print("printed by a library")
    print("printed to stderr", file=sys.stderr)
    warnings.warn("a library's warning", UserWarning)
    subprocess.run([sys.executable, "-c", "import sys; print('child stderr', file=sys.stderr)"], check=True)
print("after the job")
"""


def test_library_chatter_goes_to_the_log_not_the_console(tmp_path):
    """What libraries print below logging (ITK's std::cerr, stray prints, warnings, child
    processes) lands in the job's log, in a real process; the console stays empty."""
    log = tmp_path / "job.log"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "scripts"))
    result = subprocess.run([sys.executable, "-c", CHATTY_JOB, str(log)], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("after the job\n", "")
    text = log.read_text()
    for line in ("logged line", "written by C++", "printed by a library", "printed to stderr",
                 "a library's warning", "child stderr"):
        assert line in text


def test_input_error_exits_with_its_message_only(tmp_path, capsys):
    log = tmp_path / "job.log"
    with pytest.raises(SystemExit) as stop:
        with job(str(log)):
            raise InputError("case p7: mask m.nii.gz is empty")
    assert stop.value.code == 1
    assert "radsnake: case p7: mask m.nii.gz is empty" in capsys.readouterr().err
    assert "Traceback" not in log.read_text()


def test_other_errors_keep_traceback(tmp_path):
    log = tmp_path / "job.log"
    with pytest.raises(ZeroDivisionError):
        with job(str(log)):
            raise ZeroDivisionError("division by zero")
    assert "Traceback" in log.read_text()


def test_write_csv_is_atomic(tmp_path):
    import pandas as pd

    class Exploding:
        def to_csv(self, out, **kwargs):
            out.write("half a tab")
            raise RuntimeError("killed")

    target = tmp_path / "t.csv"
    with pytest.raises(RuntimeError):
        write_csv(Exploding(), str(target))
    assert not target.exists() and os.listdir(tmp_path) == []
    write_csv(pd.DataFrame({"a": [1]}), str(target))
    assert target.read_text() == "a\n1\n"
