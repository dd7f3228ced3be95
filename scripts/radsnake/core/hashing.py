"""SHA-256 of files: provenance stamps, reruns by content and sheet identity use the same
function, so one file has one hash everywhere."""

from __future__ import annotations

import hashlib


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
