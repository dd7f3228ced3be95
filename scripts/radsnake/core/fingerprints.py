"""Reruns by content: the SHA-256 of each input file (image, mask, DICOM folder, params
file), so that a replaced file reruns its cases whatever its modification time, and a
touched one reruns nothing (docs/design.md#reruns-by-content).

The per-case rules take these files as `ancient()` inputs (their times trigger nothing)
and the hash of their contents as a job param, which Snakemake's params trigger
compares with the one recorded when the job last ran. Hashing every image at every
planning would read the whole study, so each file's hash is kept in the study's
.snakemake/radsnake-fingerprints.json with the file's size, modification and change
times and inode: a file is read again only when one of those moved. The change time
(ctime) is set by the kernel on every write, rename onto the name and `touch`, and no
copy tool can set it back, so a `cp -p` of a corrected mask is always read again.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from radsnake.core.hashing import file_sha256

STORE = os.path.join(".snakemake", "radsnake-fingerprints.json")
STORE_VERSION = 1
# hashlib releases the GIL while it digests, so reading several files at once pays.
HASH_THREADS = 4
# Announce the one-off reading of a new study's files above this many files.
ANNOUNCE_FILES = 200


def signature(path: str) -> str:
    """What moves whenever a file's bytes may have changed; for a folder (a DICOM series),
    every file in it, so that one replaced slice is seen."""
    if not os.path.isdir(path):
        info = os.stat(path)
        return f"{info.st_size} {info.st_mtime_ns} {info.st_ctime_ns} {info.st_ino}"
    entries = []
    for root, folders, files in os.walk(path):
        folders.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            info = os.stat(full)
            times = f"{info.st_mtime_ns} {info.st_ctime_ns}"
            entries.append(f"{os.path.relpath(full, path)} {info.st_size} {times} {info.st_ino}")
    return "folder " + hashlib.sha256("\n".join(entries).encode()).hexdigest()


def content_sha256(path: str) -> str:
    """A file's SHA-256; for a folder, the SHA-256 of its files' names and hashes."""
    if not os.path.isdir(path):
        return file_sha256(path)
    digest = hashlib.sha256()
    for root, folders, files in os.walk(path):
        folders.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            digest.update(f"{os.path.relpath(full, path)}\0{file_sha256(full)}\n".encode())
    return digest.hexdigest()


class Fingerprints:
    """The content hashes of a study's input files, read again only when a file moved."""

    def __init__(self, store: str = STORE):
        self.store = store
        self.known: dict[str, list[str]] = {}
        try:
            with open(store) as handle:
                saved = json.load(handle)
            if saved.get("version") == STORE_VERSION:
                self.known = saved["files"]
        except (OSError, ValueError, KeyError, AttributeError):
            pass  # no store yet, or a damaged one: every file is read once more
        self.current: dict[str, list[str]] = {}

    def update(self, paths: Iterable[str]) -> int:
        """Hash every file of `paths` that is new or moved since it was last hashed;
        returns how many were read."""
        stale = []
        for path in dict.fromkeys(os.path.abspath(path) for path in paths):
            mark = signature(path)
            entry = self.known.get(path)
            if entry is not None and entry[0] == mark:
                self.current[path] = entry
            else:
                stale.append((path, mark))
        if len(stale) > ANNOUNCE_FILES:
            print(f"radsnake: reading {len(stale)} new or changed input files once, to rerun by content "
                  "(docs/design.md#reruns-by-content)", file=sys.stderr)
        with ThreadPoolExecutor(HASH_THREADS) as pool:
            hashes = list(pool.map(content_sha256, [path for path, _ in stale]))
        for (path, mark), sha in zip(stale, hashes):
            self.current[path] = [mark, sha]
        return len(stale)

    def of(self, paths: Iterable[str]) -> str:
        """One hash of the contents of `paths` (in order); a file not given to update()
        before (a job asked for by name) is hashed now."""
        paths = [os.path.abspath(path) for path in paths]
        self.update(path for path in paths if path not in self.current)
        digest = hashlib.sha256()
        for path in paths:
            digest.update(self.current[path][1].encode() + b"\n")
        return digest.hexdigest()

    def save(self) -> None:
        """Keep this planning's files (written only when something changed). A store that
        cannot be written (a full or read-only disk) costs only time: the files are read
        again next time."""
        if self.current == self.known:
            return
        partial = f"{self.store}.{os.getpid()}.partial"
        try:
            os.makedirs(os.path.dirname(self.store) or ".", exist_ok=True)
            with open(partial, "w") as handle:
                json.dump({"version": STORE_VERSION, "files": self.current}, handle, sort_keys=True)
            os.replace(partial, self.store)
        except OSError:
            if os.path.exists(partial):
                os.remove(partial)
