"""Rows of a sheet that point to the same image: the same patient entered twice.

Checked at parse time for every case, so it must stay cheap for 10,000 cases: one
``os.stat`` per file; files are read only when another file has exactly the same size,
first 64 KiB at each end, then the whole file (SHA-256) for those still alike. A DICOM
folder is compared by identity only (the same folder, through any path or link).
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict

SAMPLE_BYTES = 64 * 1024


def _ends_digest(path: str, size: int) -> bytes:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read(SAMPLE_BYTES))
        if size > 2 * SAMPLE_BYTES:
            handle.seek(size - SAMPLE_BYTES)
            digest.update(handle.read(SAMPLE_BYTES))
    return digest.digest()


def _full_digest(path: str) -> bytes:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


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
        if os.path.isfile(path):
            size_of[key] = status.st_size
    # One file per identity; equal sizes are the only candidates to read.
    first_of = {}
    for key in size_of:
        first_of.setdefault(identity[key], key)
    by_size = defaultdict(list)
    for key in first_of.values():
        by_size[size_of[key]].append(key)
    candidates = [same for same in by_size.values() if len(same) > 1]
    candidates = _refine(candidates, lambda key: _ends_digest(paths[key], size_of[key]))
    # Identities holding the same bytes share one name: the first key's identity.
    alias = {}
    for same in _refine(candidates, lambda key: _full_digest(paths[key])):
        for key in same[1:]:
            alias[identity[key]] = identity[same[0]]
    groups = defaultdict(list)
    for key in paths:
        if key in identity:
            groups[alias.get(identity[key], identity[key])].append(key)
    return [same for same in groups.values() if len(same) > 1]
