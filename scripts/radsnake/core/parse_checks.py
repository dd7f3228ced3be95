"""Parse-time checks remembered per study, so that an unchanged config or params file is
not checked again at every planning.

Every `snakemake` command parses the workflow: the config is checked against its schema
(which also fills in the defaults) and the PyRadiomics params file against PyRadiomics'
schema. On this machine that is about 0.35 s of CPU per command, a tenth of a dry run
of a small study, repeated for every dry run, `--report` and rerun although nothing
changed. A check that passed is recorded in the study's .snakemake/radsnake-checks/,
under a key that hashes everything its outcome depends on: the checked content, the
schema file, the code doing the check and the versions of the libraries it uses. A
changed byte in any of them gives another key, so the check runs again; a check that
fails is never recorded. A folder that cannot be written only means no record.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

from radsnake.core.hashing import file_sha256
from radsnake.core.tables import write_text

FOLDER = os.path.join(".snakemake", "radsnake-checks")


def key(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()[:32]


def versions(*distributions: str) -> str:
    """Python's version and the installed versions of the libraries a check runs (without
    importing them)."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in distributions:
        try:
            found.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} missing")
    return ";".join([sys.version, *found])


def as_json(value) -> str | None:
    """``value`` as JSON text when JSON gives it back exactly (same types, same key order,
    string keys only), else None: such a config is checked every time."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        return None
    back = json.loads(text)
    return text if back == value and same_types(back, value) else None


def same_types(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_types(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return all(same_types(x, y) for x, y in zip(a, b))
    return True


def recall(study_dir: str, name: str) -> str | None:
    """The content recorded under ``name`` in the study folder, or None (also for a
    record that cannot be read as text: the check then runs again)."""
    try:
        with open(os.path.join(study_dir, FOLDER, name), encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def remember(study_dir: str, name: str, content: str = "") -> None:
    try:
        write_text(os.path.join(study_dir, FOLDER, name), content)
    except OSError:  # an unwritable folder only means no record
        pass


def recorded_config(text: str | None) -> dict | None:
    """A recorded config, or None for none or a damaged record (edited, truncated)."""
    if text is None:
        return None
    try:
        filled = json.loads(text)
    except ValueError:
        return None
    return filled if isinstance(filled, dict) and filled else None


def checked_config(config: dict, schema_path: str, code: list[str], versions: str, study_dir: str, check) -> None:
    """Run ``check(config)`` (validation that fills in the defaults, in place) unless the
    same config passed it before in this study; then fill in the recorded result."""
    text = as_json(config)
    if text is None or not study_dir or not os.path.isdir(study_dir):
        check(config)
        return
    name = "config-" + key(text, file_sha256(schema_path), versions, *(file_sha256(path) for path in code))
    filled = recorded_config(recall(study_dir, name))
    if filled is not None:
        config.clear()
        config.update(filled)
        return
    check(config)
    filled = as_json(config)
    if filled is not None:
        remember(study_dir, name, filled)


def checked_params(path: str, mask_label, code: list[str], versions: str, check) -> None:
    """Run ``check(path, mask_label)`` unless the same params file passed it before in
    this study (the working directory)."""
    try:
        content = file_sha256(path)
    except OSError:
        check(path, mask_label)  # it names the missing file
        return
    name = "params-" + key(content, repr(mask_label), versions, *(file_sha256(p) for p in code))
    if os.path.isfile(os.path.join(FOLDER, name)):
        return
    check(path, mask_label)
    remember(".", name)
