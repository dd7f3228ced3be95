"""Check a PyRadiomics params file against PyRadiomics' own schema before any job runs.

PyRadiomics validates its params only when an extractor is built, i.e. inside every
extraction job: a misspelt key would fail every case mid-run. The workflow calls
:func:`check_params` at parse time instead, with the same schema and custom checks
(``radiomics/schemas/paramSchema.yaml`` and ``schemaFuncs.py``, through pykwalify).
"""

from __future__ import annotations

import logging
import os

import yaml

from radsnake.errors import InputError


def check_params(path: str) -> dict:
    """The validated params; InputError naming the file, every bad key and the fix."""
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
