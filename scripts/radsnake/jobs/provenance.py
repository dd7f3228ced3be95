"""Job of rules/provenance.smk: results/provenance.json and its report page."""

from __future__ import annotations

import logging

from radsnake.core.tables import write_text
from radsnake.io.provenance import build_record, record_html, record_json

log = logging.getLogger(__name__)


def write_provenance(output_json: str, output_html: str, **inputs) -> dict:
    """The provenance job: build the record and write it as JSON and as the report's page."""
    record = build_record(**inputs)
    rad = record["radsnake"]
    if rad["git_commit"] is None:
        log.warning("radsnake %s: no git commit recorded: %s", rad["version"], rad["git_note"])
    elif rad["git_dirty"]:
        log.warning("radsnake checkout %s has local changes: %s", rad["workflow_dir"], rad["git_changes"][:5])
    for name, versions in record["libraries_differing_from_lock"].items():
        log.warning("%s %s is installed; envs/requirements.lock has %s", name, versions["installed"], versions["locked"])
    write_text(output_json, record_json(record))
    write_text(output_html, record_html(record))
    log.info("provenance of the results -> %s", output_json)
    return record
