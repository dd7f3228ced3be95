"""Faults of the machine rather than of the input: a full disk, a read-only or unwritable
folder. A job that meets one ends with one line naming the cause, the file and its
folder, and what to do (docs/troubleshooting.md#faults-full-disk-read-only-folder-killed-worker).
Every table is written to a partial file and renamed (radsnake.core.tables), so a job
stopped by one of these leaves nothing that looks finished: a rerun after the fix
redoes exactly the jobs that failed."""

from __future__ import annotations

import errno
import os

# The advice per cause; {folder} is the folder of the file that could not be written.
ADVICE = {
    errno.ENOSPC: "the disk holding {folder} is full. Free space there (or move the study folder to a larger disk)",
    errno.EDQUOT: "your disk quota for {folder} is used up. Free space in your quota (or ask for a larger one)",
    errno.EFBIG: (
        "the file is larger than this file system or your file-size limit (`ulimit -f`) allows in {folder}. "
        "Raise the limit or move the study folder"
    ),
    errno.EROFS: "{folder} is on a read-only file system. Remount it writable (or move the study folder)",
    errno.EACCES: "you may not write in {folder}. Make it writable for you (`chmod u+w`)",
    errno.EPERM: "you may not write in {folder}. Make it writable for you (`chmod u+w`)",
}
# A table's partial file (radsnake.core.tables.partial_path) is named after the table.
PARTIAL_PREFIX = ".partial-"


def final_name(path: str) -> str:
    """The table a partial file becomes: the name the user knows."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, name.removeprefix(PARTIAL_PREFIX))


def disk_fault_message(err: BaseException, job: str = "") -> str | None:
    """One line for an OSError that is a fault of the disk or folder, else None.

    `job` ("case P3: feature extraction") opens the line. A write failing after open
    names no file (radsnake.core.tables adds its table's); then the folder named is the
    job's working directory, the study folder, which holds everything a job writes."""
    if not isinstance(err, OSError) or err.errno not in ADVICE:
        return None
    if err.filename:
        path = final_name(os.fsdecode(err.filename))
        folder = path if os.path.isdir(path) else os.path.dirname(path)
        what = f"could not write {path}"
    else:
        folder = os.getcwd()
        what = "could not write its output"
    advice = ADVICE[err.errno].format(folder=folder)
    opening = f"{job} {what}" if job else what
    return f"{opening} ({os.strerror(err.errno)}): {advice}, then rerun the same command: finished jobs are kept."


def folders_to_write(study_dir: str) -> list[str]:
    """Where the jobs will write, as far as it exists: the study folder, .snakemake/
    (Snakemake's state; not its subfolders, such as another user's warm-worker folder,
    which radsnake.core.worker tolerates), logs/ and its folders, results/ and the folders
    two levels down."""
    folders = [study_dir]
    for top, depth in ((".snakemake", 0), ("logs", 1), ("results", 2)):
        level = [os.path.join(study_dir, top)]
        for _ in range(depth + 1):
            level = [folder for folder in level if os.path.isdir(folder)]
            folders += level
            level = [entry for folder in level for entry in subfolders(folder)]
    return folders


def subfolders(folder: str) -> list[str]:
    with os.scandir(folder) as entries:
        return sorted(entry.path for entry in entries if entry.is_dir(follow_symlinks=False))


def study_folder_fault(study_dir: str) -> str | None:
    """Before any job runs: the first folder of the study that cannot be written (a
    read-only file system, no write permission) or whose disk is full, as one line."""
    for folder in folders_to_write(study_dir):
        if not os.access(folder, os.W_OK):
            code = errno.EROFS if os.statvfs(folder).f_flag & os.ST_RDONLY else errno.EACCES
        elif free_blocks(folder) == 0:
            code = errno.ENOSPC
        else:
            continue
        advice = ADVICE[code].format(folder=folder)
        return f"nothing can be written in {folder} ({os.strerror(code)}): {advice}, then rerun the same command."
    return None


def free_blocks(folder: str) -> int:
    """Blocks this user may still write (root may use the blocks kept back for it)."""
    info = os.statvfs(folder)
    return info.f_bfree if os.getuid() == 0 else info.f_bavail
