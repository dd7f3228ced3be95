"""Check a PyRadiomics params file against PyRadiomics' own schema before any job runs.

PyRadiomics validates its params only when an extractor is built, i.e. inside every
extraction job: a misspelt key would fail every case mid-run. The workflow calls
:func:`check_params` at parse time instead, with the same schema and custom checks
(``radiomics/schemas/paramSchema.yaml`` and ``schemaFuncs.py``, through pykwalify).
"""

from __future__ import annotations

import difflib
import logging
import os

import yaml

from radsnake.core.errors import InputError


def check_params(path: str, mask_label: int | None = None) -> dict:
    """The validated params; InputError naming the file, every bad key and the fix.

    ``mask_label`` is the config's pyradiomics.mask_label: a params ``label`` that differs
    from it would be silently overridden (extraction passes the config's label).
    """
    if not os.path.isfile(path):
        raise InputError(
            f"PyRadiomics params file {path} does not exist. Set pyradiomics.params in the config "
            "to one of the presets in config/pyradiomics/ or to your own file."
        )
    try:
        with open(path) as handle:
            data = yaml.safe_load(handle)
    except yaml.YAMLError as err:
        raise InputError(f"PyRadiomics params file {path} is not valid YAML: {err}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(
            f"PyRadiomics params file {path} must be a mapping with imageType, featureClass and "
            "setting sections. Compare it with the presets in config/pyradiomics/."
        )
    meaning = params_meaning_problems(data, mask_label)
    if meaning:
        listed = "\n  ".join(meaning)
        raise InputError(
            f"PyRadiomics params file {os.path.abspath(path)} has {len(meaning)} problem(s) (no job has run):\n  {listed}"
        )
    import pykwalify.core
    from pykwalify.errors import PyKwalifyException
    from radiomics import getParameterValidationFiles

    schema, functions = getParameterValidationFiles()
    # pykwalify logs each problem at ERROR as well; the message below carries them all.
    logging.getLogger("pykwalify").setLevel(logging.CRITICAL)
    try:
        core = None
        core = pykwalify.core.Core(source_data=data, schema_files=[schema], extensions=[functions])
        return core.validate(raise_exception=True)
    except Exception as err:  # pykwalify's errors, or the ValueError/TypeError of PyRadiomics' checks
        found = getattr(core, "validation_errors", None) if isinstance(err, PyKwalifyException) else None
        problems = found or [str(getattr(err, "msg", None) or err)]
        listed = "\n  ".join(str(p) for p in problems)
        raise InputError(
            f"PyRadiomics params file {path} is invalid ({len(problems)} problem(s)):\n  {listed}\n"
            "Correct the spelling or value of these keys (compare with the presets in "
            "config/pyradiomics/ and PyRadiomics' parameter documentation); no job has run."
        ) from None


def _section(data: dict, name: str) -> dict:
    section = data.get(name)
    return section if isinstance(section, dict) else {}


def _unknown_name(kind: str, key: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`?" if close else f"PyRadiomics knows {', '.join(known)}"
    return f"{key}: `{name}` is not a {kind} PyRadiomics knows; {hint}"


def params_meaning_problems(data: dict, mask_label: int | None = None) -> list[str]:
    """Settings PyRadiomics' schema accepts but that do not mean what they say (or that
    extraction would reject only inside every job): one line each, naming the fix."""
    from radiomics import getFeatureClasses, getImageTypes

    image_types, feature_classes = _section(data, "imageType"), _section(data, "featureClass")
    setting = _section(data, "setting")
    known_types = sorted(getImageTypes())
    problems = [
        _unknown_name("filter (image type)", "imageType", str(name), known_types)
        for name in image_types
        if name not in known_types
    ]
    known_classes = sorted(getFeatureClasses())
    problems += [
        _unknown_name("feature class", "featureClass", str(name), known_classes)
        for name in feature_classes
        if name not in known_classes
    ]
    if "binWidth" in setting and "binCount" in setting:
        # PyRadiomics uses binCount and ignores binWidth without a word.
        problems.append(
            f"setting has both binWidth ({setting['binWidth']}) and binCount ({setting['binCount']}), "
            "and PyRadiomics would silently use binCount only. Keep one: binWidth for CT (fixed HU "
            "bins), binCount only for images without a fixed intensity scale"
        )
    if "shape2D" in feature_classes and not setting.get("force2D", False):
        problems.append(
            "featureClass shape2D needs setting force2D: true (PyRadiomics computes 2D shape only "
            "slice by slice). Add force2D: true (and force2DDimension) to setting, or remove shape2D"
        )
    spacing = setting.get("resampledPixelSpacing")
    if isinstance(spacing, (list, tuple)) and len(spacing) != 3:
        problems.append(
            f"setting resampledPixelSpacing is {list(spacing)} ({len(spacing)} value(s)), but it needs "
            "3 (x, y, z in mm; 0 keeps that axis' spacing), e.g. [1, 1, 1]; or remove it to keep "
            "the images' own spacing"
        )
    label = setting.get("label")
    if label is not None and mask_label is not None and label != mask_label:
        problems.append(
            f"setting label is {label}, but radsnake extracts the label of pyradiomics.mask_label "
            f"({mask_label}) or the sheet's mask_label column, so this label would be ignored. "
            f"Remove label from the params file and set pyradiomics.mask_label: {label} in the config"
        )
    return problems
