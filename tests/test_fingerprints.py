"""Content fingerprints (radsnake.core.fingerprints) and disk-fault messages (radsnake.core.faults),
on real files: what `touch` and `cp -p` do to a file and to a DICOM-like folder."""

from __future__ import annotations

import errno
import os
import subprocess
import time

from radsnake.core.faults import disk_fault_message
from radsnake.core.fingerprints import Fingerprints


def older_copy(source, target) -> None:
    """`cp -p` of a file whose time is a month old."""
    old = time.time() - 30 * 86400
    os.utime(source, (old, old))
    subprocess.run(["cp", "-p", str(source), str(target)], check=True)


def test_touch_keeps_and_a_replaced_slice_changes_a_folders_fingerprint(tmp_path):
    series = tmp_path / "series"
    series.mkdir()
    for number in range(3):
        (series / f"slice{number}.dcm").write_bytes(bytes([number]) * 1000)
    store = str(tmp_path / "store.json")
    first = Fingerprints(store)
    assert first.update([str(series)]) == 1
    before = first.of([str(series)])
    first.save()

    subprocess.run(["touch", *map(str, series.iterdir())], check=True)
    touched = Fingerprints(store)
    assert touched.update([str(series)]) == 1  # read again: its times moved
    assert touched.of([str(series)]) == before
    touched.save()
    unchanged = Fingerprints(store)
    assert unchanged.update([str(series)]) == 0  # nothing moved: nothing read
    assert unchanged.of([str(series)]) == before

    corrected = tmp_path / "corrected.dcm"
    corrected.write_bytes(b"\x09" * 1000)  # same size, other bytes
    older_copy(corrected, series / "slice1.dcm")
    replaced = Fingerprints(store)
    assert replaced.update([str(series)]) == 1
    assert replaced.of([str(series)]) != before


def test_a_file_copied_over_with_an_older_time_is_read_again(tmp_path):
    mask = tmp_path / "mask.nii.gz"
    mask.write_bytes(b"first mask")
    store = str(tmp_path / "store.json")
    fingerprints = Fingerprints(store)
    fingerprints.update([str(mask)])
    before = fingerprints.of([str(mask)])
    fingerprints.save()
    corrected = tmp_path / "corrected.nii.gz"
    corrected.write_bytes(b"other mask")
    older_copy(corrected, mask)
    again = Fingerprints(store)
    assert again.update([str(mask)]) == 1
    assert again.of([str(mask)]) != before


def test_a_damaged_store_costs_a_reading_not_a_failure(tmp_path):
    (tmp_path / "image.nii.gz").write_bytes(b"image")
    store = tmp_path / "store.json"
    store.write_text("{not json")
    fingerprints = Fingerprints(str(store))
    assert fingerprints.update([str(tmp_path / "image.nii.gz")]) == 1


def test_disk_faults_name_the_cause_the_file_and_the_folder(tmp_path):
    partial = str(tmp_path / "results" / "features" / ".partial-P3.csv")
    full = disk_fault_message(OSError(errno.ENOSPC, "No space left on device", partial), "case P3: feature extraction")
    folder = tmp_path / "results" / "features"
    assert full == (
        f"case P3: feature extraction could not write {folder / 'P3.csv'} (No space left on device): the disk "
        f"holding {folder} is full. Free space there (or move the study folder to a larger disk), then rerun the "
        "same command: finished jobs are kept."
    )
    read_only = disk_fault_message(OSError(errno.EROFS, "Read-only file system", partial))
    opening = f"could not write {folder / 'P3.csv'} (Read-only file system): {folder} is on a read-only"
    assert read_only.startswith(opening)
    assert disk_fault_message(OSError(errno.ENOENT, "No such file", partial)) is None
    assert disk_fault_message(ValueError("not a fault")) is None
