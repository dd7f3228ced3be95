"""A study's config: the user's file is the whole truth, checked with one line per mistake.

The study folder is the folder of the config file (or its ``study_dir``); results, logs
and Snakemake's own state live there. Paths in the config resolve against the config
file's folder, so a study folder can sit anywhere and be moved whole.
"""

from __future__ import annotations

import difflib
import os

import jsonschema
import yaml

# Config keys that hold paths. A preset name is allowed for the PyRadiomics params.
PATH_KEYS = (
    ("cohort",),
    ("features_table",),
    ("pyradiomics", "params"),
    ("split", "locked"),
    ("apply", "cohort"),
    ("apply", "features_table"),
    ("apply", "bundle"),
)
PARAMS_PRESETS = ("ct", "mr", "original", "ibsi", "demo")


def study_folder(config: dict, config_file: str) -> str:
    """The absolute study folder: ``study_dir`` relative to the config file's folder."""
    config_dir = os.path.dirname(os.path.abspath(config_file))
    return os.path.normpath(os.path.join(config_dir, config.get("study_dir") or "."))


# libyaml's safe loader when PyYAML has it: the same documents, parsed about 10x faster
# (every Snakemake start reads the schemas).
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_schema(path: str) -> dict:
    with open(path) as handle:
        return yaml.load(handle, Loader=SAFE_LOADER)  # noqa: S506 - a safe loader


def params_file(value: str, base_dir: str, workflow_dir: str) -> str:
    """A pyradiomics.params value as a file: a shipped preset by name, else relative to base_dir."""
    if value in PARAMS_PRESETS:
        return os.path.join(workflow_dir, "config", "pyradiomics", f"{value}.yaml")
    return os.path.join(base_dir, value)


def resolve_path(value: str, base_dir: str, study_dir: str) -> str:
    """A config path as the workflow uses it: relative to the study folder when inside it
    (so it matches the rules' relative outputs), else absolute."""
    path = os.path.normpath(os.path.join(base_dir, os.path.expanduser(value)))
    inside = os.path.commonpath([path, study_dir]) == study_dir
    return os.path.relpath(path, study_dir) if inside else path


def _get(config: dict, keys: tuple[str, ...]):
    node = config
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _set(config: dict, keys: tuple[str, ...], value) -> None:
    node = config
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value


def given_paths(config: dict) -> set[tuple[str, ...]]:
    """Path keys the user's config sets (before schema defaults fill the rest)."""
    return {keys for keys in PATH_KEYS if isinstance(_get(config, keys), str)}


def resolve_paths(config: dict, given: set, config_dir: str, study_dir: str, workflow_dir: str) -> None:
    """Resolve every non-empty path key in place. Given paths resolve against the config's
    folder; defaults against the study folder, except the params preset, which is shipped."""
    for keys in PATH_KEYS:
        value = _get(config, keys)
        if not isinstance(value, str) or not value:
            continue
        if keys == ("pyradiomics", "params") and value in PARAMS_PRESETS:
            _set(config, keys, params_file(value, config_dir, workflow_dir))
            continue
        base = config_dir if keys in given else study_dir
        _set(config, keys, resolve_path(value, base, study_dir))


def _where(path) -> str:
    return ".".join(str(part) for part in path) or "the top level"


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


TYPE_NAMES = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping (key: value lines)",
    "array": "a list",
    "null": "empty (null)",
}


def _error_line(error: jsonschema.ValidationError) -> list[str]:
    """One line per mistake, in the user's words: key, value, what is expected."""
    if error.context:
        error = jsonschema.exceptions.best_match(error.context)
    where = _where(error.absolute_path)
    kind = error.validator
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        known = list(error.schema.get("properties", {}))
        lines = []
        for key in error.instance:
            if key in known:
                continue
            scope = f" under `{where}`" if error.absolute_path else ""
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f"did you mean `{close[0]}`?" if close else f"valid keys: {', '.join(known)}"
            lines.append(f"`{key}` is not a config key{scope}; {hint}")
        return lines
    if kind == "type":
        expected = error.validator_value
        expected = [expected] if isinstance(expected, str) else expected
        names = " or ".join(TYPE_NAMES.get(name, name) for name in expected)
        return [f"`{where}` is {_short(error.instance)}, but must be {names}"]
    if kind == "enum":
        allowed = ", ".join(str(value) for value in error.validator_value)
        return [f"`{where}` is {_short(error.instance)}; allowed values: {allowed}"]
    if kind == "required":
        return [f"`{where}`: {error.message}"]
    message = error.message.splitlines()[0]
    if len(message) > 160:
        message = message[:157] + "..."
    return [f"`{where}` is {_short(error.instance)}: {message.replace(repr(error.instance), 'it')}"]


def config_problems(config: dict, schema: dict) -> list[str]:
    """Every schema violation of the config, one line each, in the config's order."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda err: [str(part) for part in err.absolute_path])
    lines = []
    for error in errors:
        lines += _error_line(error)
    return list(dict.fromkeys(lines))
