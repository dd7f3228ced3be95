"""The README's "Your own study" steps, walked exactly as written.

The steps are read from README.md, so this test breaks when the README changes. They run
from a clean copy of the repository (the files git knows about, no results/ or
.snakemake/), with HOME set to a temporary folder so that ~/studies/lung lands there.
Commands run in bash as a user types them; the "Edit" steps are done here, on the keys
and columns the step names: a small study of real NIfTI cases made by the demo
generator (radsnake.imaging.demo.make_cohort), kept small through the keys the step names
(two quick models, validation off).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
N_CASES = 30

pytestmark = pytest.mark.workflow

# What this test writes for each key the README's config step names. The test fails when
# the README names other keys, so that it always edits exactly those.
CONFIG_EDITS = {
    "clinical": {"age": "numeric", "sex": "categorical"},
    # 30 cases: a test set of 0.4 gives each label at least 4 test cases (DeLong needs 2).
    "split": {"method": "random", "test_fraction": 0.4, "external_centers": []},
    # One quick model: each further one adds a tuning job per selection compared.
    "models.enabled": ["logistic"],
    # The internal validation refits every model hundreds of times: off in a test.
    "validation.enabled": False,
}


def readme_steps() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Your own study\n", 1)[1].split("\n## ", 1)[0]
    return [text for _, text in re.findall(r"^(\d+)\. (.*)$", section, re.M)]


def code_spans(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def clean_copy(dest: Path) -> None:
    """The repository's tracked (and new, not ignored) files, as in a fresh clone."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO, capture_output=True, text=True, check=True,
        ).stdout.split("\0")
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (e.g. a tarball)
        leftovers = (".git", ".venv", "results", "logs", "benchmarks", ".snakemake", "split", "__pycache__", ".pytest_cache")
        shutil.copytree(REPO, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*leftovers))
        return
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def set_key(config: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    node = config
    for name in parents:
        node = node.setdefault(name, {})
    node[leaf] = value


def has_key(config: dict, dotted: str) -> bool:
    node = config
    for name in dotted.split("."):
        if not isinstance(node, dict) or name not in node:
            return False
        node = node[name]
    return True


def test_own_study_steps_from_the_readme(tmp_path):
    steps = readme_steps()
    assert len(steps) <= 6
    home, clone = tmp_path / "home", tmp_path / "radsnake"
    home.mkdir()
    clone.mkdir()
    clean_copy(clone)
    env = dict(os.environ, HOME=str(home), PYTHONHASHSEED="0")
    env.pop("RADSNAKE_WORKER", None)

    def user_path(spelled: str) -> Path:
        return Path(spelled.replace("~", str(home), 1) if spelled.startswith("~") else clone / spelled)

    done = []
    for text in steps:
        spans = code_spans(text)
        if text.startswith("Edit "):
            target, named = user_path(spans[0]), spans[1:]
            assert target.exists(), f"step '{text[:60]}...': {target} was not written by an earlier step"
            if target.name == "cohort.csv":
                fill_sheet(target, named)
            elif target.name == "config.yaml":
                edit_config(target, named)
            else:
                pytest.fail(f"the test does not know how to do this README step: {text}")
            done.append(f"edit {target.name}")
            continue
        command = spans[0]
        if command == "make install" and (Path(sys.prefix) / ".installed").exists():
            # This test runs inside the virtualenv that `make install` built (its stamp is
            # there): running it again would only re-check that venv. The copy gets it as
            # its .venv, which is what the step leaves behind.
            (clone / ".venv").symlink_to(sys.prefix, target_is_directory=True)
            done.append("make install (the running venv)")
            continue
        result = subprocess.run(["bash", "-c", command], cwd=clone, env=env, capture_output=True, text=True, timeout=1200)
        assert result.returncode == 0, f"README step `{command}` failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
        done.append(command)

    study = home / "studies" / "lung"
    # The study's outputs are in its own folder, and the clone got none.
    report = study / "results" / "report.html"
    assert report.is_file() and report.stat().st_size > 100_000, done
    assert "<html" in report.read_text(errors="replace")[:2000].lower()
    metrics = pd.read_csv(study / "results" / "evaluation" / "metrics.csv")
    assert set(metrics["model"]) >= set(CONFIG_EDITS["models.enabled"])
    assert set(metrics["set"]) == {"train", "test"}
    split = pd.read_csv(study / "results" / "split.csv")
    assert len(split) == N_CASES
    features = pd.read_csv(study / "results" / "features.csv")
    assert {"age", "sex"} <= set(features.columns)
    assert (study / "logs").is_dir() and (study / ".snakemake").is_dir()
    assert not any((clone / name).exists() for name in ("results", "logs", "benchmarks", ".snakemake", "split"))


def fill_sheet(sheet_path: Path, named_columns: list[str]) -> None:
    """Step "Edit cohort.csv": one row per case with the columns the step names (the
    header new-study wrote) plus the clinical columns the config step declares."""
    from radsnake.imaging.demo import make_cohort

    header = sheet_path.read_text().strip().split(",")
    assert header == named_columns, f"the README names columns {named_columns}, the scaffold wrote {header}"
    made = make_cohort(str(sheet_path.parent / "images"), n_cases=N_CASES, seed=7, image_dir_relative="images")
    clinical = list(CONFIG_EDITS["clinical"])
    made[header + clinical].to_csv(sheet_path, index=False)


def edit_config(config_path: Path, named_keys: list[str]) -> None:
    """Step "Edit config.yaml": set exactly the keys the step names."""
    assert sorted(named_keys) == sorted(CONFIG_EDITS), (
        f"the README's config step names {named_keys}; this test edits {sorted(CONFIG_EDITS)}"
    )
    config = yaml.safe_load(config_path.read_text())
    for key in named_keys:
        assert has_key(config, key), f"{key} is not a setting in the config new-study wrote"
        set_key(config, key, CONFIG_EDITS[key])
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
