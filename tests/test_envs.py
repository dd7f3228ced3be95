"""The conda envs and the pip lock must pin the same versions."""

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "envs" / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonical(name)] = version
    return pins


def test_every_conda_pin_matches_the_lock():
    pins = lock_pins()
    envs = sorted((REPO / "envs").glob("*.yaml"))
    assert envs, "no conda envs found"
    for env in envs:
        spec = yaml.safe_load(env.read_text())
        assert spec["channels"] == ["conda-forge", "nodefaults"], env.name
        for dependency in spec["dependencies"]:
            name, version = dependency.split("=")
            if name == "python":
                assert version == "3.11", env.name
                continue
            assert canonical(name) in pins, f"{env.name}: {name} is not in the pip lock"
            assert pins[canonical(name)] == version, f"{env.name}: {name}={version}, lock has {pins[canonical(name)]}"


def test_every_rule_names_an_existing_env():
    for rules in (REPO / "rules").glob("*.smk"):
        for env in re.findall(r'conda:\s*\n\s*"\.\./(envs/[^"]+)"', rules.read_text()):
            assert (REPO / env).exists(), f"{rules.name}: {env} missing"


def test_installed_versions_are_the_locked_ones():
    from importlib.metadata import PackageNotFoundError, version

    pins = lock_pins()
    for name in ("numpy", "pandas", "scikit-learn", "pyradiomics", "simpleitk", "snakemake", "matplotlib"):
        try:
            assert version(name) == pins[name], name
        except PackageNotFoundError:
            raise AssertionError(f"{name} is not installed; run make install") from None
