"""Rows of a sheet that point to the same image: the same patient entered twice.

Checked at parse time for every case, so it must stay cheap for 10,000 cases: one
``os.stat`` per file; a file is read only when another one has exactly the same size
(compressed images almost never do), first 16 blocks of 4 KiB spread over the file
(uncompressed images of one geometry share their size and their air-filled ends, never
their middle), then the whole file (SHA-256) for the few still alike. Empty files are
not compared (QC reports them). A DICOM folder is compared by identity only (the same
folder, through any path or link).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections import defaultdict

from radsnake.core.hashing import file_sha256

SAMPLE_BLOCKS = 16
SAMPLE_BYTES = 4096


def _sample_digest(path: str, size: int) -> bytes:
    """SHA-256 of SAMPLE_BLOCKS blocks spread evenly over the file, both ends included."""
    digest = hashlib.sha256()
    last = max(size - SAMPLE_BYTES, 0)
    with open(path, "rb") as handle:
        for block in range(SAMPLE_BLOCKS):
            handle.seek(last * block // (SAMPLE_BLOCKS - 1))
            digest.update(handle.read(SAMPLE_BYTES))
    return digest.digest()


def whole_file_digest(path: str) -> str:
    return file_sha256(path)


def _refine(groups, key) -> list[list]:
    refined = []
    for members in groups:
        by_key = defaultdict(list)
        for member in members:
            by_key[key(member)].append(member)
        refined += [same for same in by_key.values() if len(same) > 1]
    return refined


def same_content_groups(paths: dict[str, str]) -> list[list[str]]:
    """Groups (of two or more keys) of ``paths`` whose files hold the same bytes, or that
    are the same file or folder. Keys are in the order given; missing paths are skipped."""
    identity, size_of = {}, {}
    for key, path in paths.items():
        try:
            status = os.stat(path)
        except OSError:
            continue
        identity[key] = (status.st_dev, status.st_ino)
        if stat.S_ISREG(status.st_mode) and status.st_size > 0:
            size_of[key] = status.st_size
    # One file per identity; equal sizes are the only candidates to read.
    first_of = {}
    for key in size_of:
        first_of.setdefault(identity[key], key)
    by_size = defaultdict(list)
    for key in first_of.values():
        by_size[size_of[key]].append(key)
    candidates = [same for same in by_size.values() if len(same) > 1]
    candidates = _refine(candidates, lambda key: _sample_digest(paths[key], size_of[key]))
    # Identities holding the same bytes share one name: the first key's identity.
    alias = {}
    for same in _refine(candidates, lambda key: whole_file_digest(paths[key])):
        for key in same[1:]:
            alias[identity[key]] = identity[same[0]]
    groups = defaultdict(list)
    for key in paths:
        if key in identity:
            groups[alias.get(identity[key], identity[key])].append(key)
    return [same for same in groups.values() if len(same) > 1]
