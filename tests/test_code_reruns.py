"""Code is an input (issue 15, item 4): editing a function reruns the rules whose code
imports it and everything downstream, and nothing upstream (rules/code.smk)."""

import ast
import os
import shutil
import subprocess

import pytest

from conftest import FAST_CONFIG, REPO, make_study, study_command
from test_envs import workflow_rules

pytestmark = pytest.mark.workflow

N_CASES = 14
CONFIG = dict(
    FAST_CONFIG,
    split={"method": "random", "test_fraction": 0.25},
    selection={"steps": [*FAST_CONFIG["selection"]["steps"][:-1], {"step": "lasso", "cv_folds": 2, "n_lambdas": 10}]},
    models={"enabled": ["logistic"], "cv_folds": 2, "param_grid": {"logistic": {"C": [1.0]}}},
    clinical={},
)
# The image steps, the selection and one figure drawn from it: enough to see what reruns
# without fitting models.
TARGETS = ("results/qc/qc.csv", "results/selection/selected_features.csv", "results/figures/lasso_path.png")
# The per-case image rules: they run none of the selection code.
ENV = dict(os.environ, PYTHONHASHSEED="0")
IMAGE_RULES = {"qc_case", "qc_table", "extract_features", "aggregate_features"}
TARGET_RULES = IMAGE_RULES | {"split_cases", "select_features", "plot_lasso"}


def copy_of_repository(folder):
    """A throwaway checkout to edit: the code, not the studies, logs or git history."""
    ignore = shutil.ignore_patterns(".git", ".snakemake", "results", "logs", "benchmarks", ".pytest_cache", "__pycache__")
    shutil.copytree(REPO, folder, symlinks=True, ignore=ignore)
    return folder


def planned_rules(repo, study, *args):
    """The rules a dry run from `repo` would run, read from Snakemake's job-stats table."""
    result = subprocess.run(
        study_command(study, "-n", *args), cwd=repo, capture_output=True, text=True, env=ENV, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    if "Job stats:" not in lines:
        return set()
    rules = set()
    for line in lines[lines.index("Job stats:") + 3 :]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        rules.add(parts[0])
    return rules


def edit_first_function(module):
    """Add a statement to the first function of the module (what a bug fix would do)."""
    source = module.read_text()
    function = next(node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef))
    first = function.body[0]
    lines = source.splitlines(keepends=True)
    lines.insert(first.lineno - 1, " " * first.col_offset + "edited_by_test = True\n")
    module.write_text("".join(lines))
    return function.name


def test_editing_selection_code_reruns_selection_and_downstream_only(tmp_path):
    from radsnake.core.code_closure import CodeBase

    repo, study = copy_of_repository(tmp_path / "radsnake"), tmp_path / "study"
    make_study(study, N_CASES, CONFIG)
    done = subprocess.run(study_command(study, *TARGETS), cwd=repo, capture_output=True, text=True, env=ENV, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert planned_rules(repo, study, *TARGETS) == set(), "a second planning of unchanged code plans jobs"

    selection = next((repo / "scripts").rglob("selection.py"))
    edit = edit_first_function(selection)
    planned = planned_rules(repo, study, *TARGETS)
    print(f"edited {selection.relative_to(repo)}: {edit}(); planned: {sorted(planned)}")

    # Rules whose own code imports the edited module (the closure test_envs.py checks).
    code = CodeBase(repo / "scripts")
    edited = next(name for name, path in code.files.items() if path == selection)
    importers = {
        rule.name
        for rule in workflow_rules().values()
        if any(edited in code.closure(repo / "scripts" / script.name).modules for script in rule.scripts)
    }
    # Selection and the figure drawn from it rerun, and any other rule of these targets
    # whose code imports the selection module (today split_cases, through fit_checks).
    assert not importers & IMAGE_RULES, importers & IMAGE_RULES
    assert planned == ({"select_features", "plot_lasso"} | importers) & TARGET_RULES

    # The case job is a shell command naming its script in a param (its settings):
    # editing code only it reaches (the overlay) reruns every case, and what gathers them.
    overlay = next((repo / "scripts").rglob("overlay.py"))
    edit_first_function(overlay)
    assert {"extract_features", "qc_table", "aggregate_features"} <= planned_rules(repo, study, *TARGETS)
