"""Scaffold a new study folder: ``make new-study DIR=~/studies/lung``
(``python -m radsnake.core.scaffold ~/studies/lung``).

Writes a commented config.yaml generated from the config schema, a header-only
cohort.csv with cohort.md explaining every column, and params.yaml, a copy of the
PyRadiomics params file the schema's default names. Refuses a folder that holds
anything, so it never overwrites a study.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from radsnake.core.configdoc import REPO, cohort_doc, config_template, load_schema
from radsnake.core.study import PARAMS_PRESETS, params_file

# The sheet's columns in the scaffold: those most studies need (every other column is
# optional and explained in cohort.md).
SHEET_COLUMNS = ["case_id", "image", "mask", "label", "center"]

CONFIG_HEADER = """\
# radsnake study config, written by `make new-study` from radsnake's config schema
# (config/schemas/config.schema.yaml; every key is also in docs/config.md).
#
# Run the study from the radsnake folder (the clone):
#   .venv/bin/snakemake --cores all --configfile {config}
# This folder is the study folder: results/, logs/ and Snakemake's own state go here,
# and relative paths below (cohort, pyradiomics.params, ...) are relative to it.
#
# The uncommented keys are the ones a study usually sets. Every other key is listed,
# commented out, at its default: a key left out takes the schema's default, so you may
# delete any commented line. To change one, uncomment it (for a whole section, remove
# one "# " from each of its lines)."""


class StudyFolderError(Exception):
    """The folder cannot become a new study (it holds files already)."""


def active_settings(schema: dict) -> dict[str, object]:
    """The keys written uncommented, with their values: the study's own files, and the
    choices every study makes (clinical columns, split, models, internal validation)."""
    properties = schema["properties"]
    return {
        "cohort": "cohort.csv",
        "clinical": properties["clinical"]["default"],
        "pyradiomics.params": "params.yaml",
        "split.method": properties["split"]["properties"]["method"]["default"],
        "split.test_fraction": properties["split"]["properties"]["test_fraction"]["default"],
        "split.external_centers": properties["split"]["properties"]["external_centers"]["default"],
        "models.enabled": properties["models"]["properties"]["enabled"]["default"],
        "validation.enabled": properties["validation"]["properties"]["enabled"]["default"],
    }


def default_params_file(schema: dict, repo: Path = REPO) -> Path:
    """The PyRadiomics params file the schema's default names (a preset, or a path in the clone)."""
    default = schema["properties"]["pyradiomics"]["properties"]["params"]["default"]
    return Path(params_file(default, str(repo), str(repo)))


def new_study(folder: str | os.PathLike) -> Path:
    """Write a study folder's starting files; returns the folder's absolute path."""
    folder = Path(os.path.expanduser(str(folder))).absolute()
    if folder.exists() and not folder.is_dir():
        raise StudyFolderError(f"{folder} is a file, not a folder. Choose a new folder name.")
    if folder.is_dir() and any(folder.iterdir()):
        raise StudyFolderError(
            f"{folder} is not empty; new-study never overwrites files. Choose a new or empty folder, "
            f"or run your existing study with: .venv/bin/snakemake --cores all --configfile {folder}/config.yaml"
        )
    schema = load_schema()
    params = default_params_file(schema)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(params, folder / "params.yaml")
    (folder / "cohort.csv").write_text(",".join(SHEET_COLUMNS) + "\n")
    (folder / "cohort.md").write_text(cohort_doc())
    header = CONFIG_HEADER.format(config=folder / "config.yaml")
    header += (
        f"\n#\n# params.yaml is a copy of radsnake's {params.relative_to(REPO)}, this study's own to edit.\n"
        "# pyradiomics.params may instead name a preset radsnake ships: "
        + ", ".join(PARAMS_PRESETS) + "."
    )
    (folder / "config.yaml").write_text(config_template(active_settings(schema), schema, header))
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make new-study DIR=", description="Write a new study folder: config.yaml, cohort.csv, cohort.md, params.yaml."
    )
    parser.add_argument("folder", help="the study folder to create, e.g. ~/studies/lung")
    args = parser.parse_args(argv)
    if not args.folder.strip():
        print("radsnake: name the study folder: make new-study DIR=~/studies/lung", file=sys.stderr)
        return 2
    try:
        folder = new_study(args.folder)
    except StudyFolderError as err:
        print(f"radsnake: {err}", file=sys.stderr)
        return 1
    print(f"New study in {folder}: config.yaml, cohort.csv (columns explained in cohort.md), params.yaml.")
    print(f"Next: list your cases in {folder}/cohort.csv, edit {folder}/config.yaml, then run:")
    print(f"  .venv/bin/snakemake --cores all --configfile {folder}/config.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
