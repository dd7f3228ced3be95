"""The package's layers (docs/design.md, "Package layers") and its hygiene: import-linter's
contracts in pyproject.toml hold, an upward import breaks them, no module is over 650
lines and no module imports another module's private name."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "scripts" / "radsnake"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
MAX_LINES = 650


def lint_imports(folder: Path, config: Path) -> subprocess.CompletedProcess:
    """lint-imports on the radsnake package found in ``folder`` (it is put first on the path)."""
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", str(config)], cwd=folder, capture_output=True, text=True)


def test_import_contracts_hold():
    run = lint_imports(REPO / "scripts", REPO / "pyproject.toml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Contracts: 4 kept, 0 broken." in run.stdout


def test_an_upward_import_breaks_the_layers_contract(tmp_path):
    """core importing ml: lint-imports fails and names the import and its line."""
    shutil.copytree(PACKAGE, tmp_path / "radsnake", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    errors = tmp_path / "radsnake" / "core" / "errors.py"
    lines = errors.read_text().count("\n")
    errors.write_text(errors.read_text() + "from radsnake.ml import models  # an upward import\n")
    run = lint_imports(tmp_path, tmp_path / "pyproject.toml")
    assert run.returncode == 1
    assert "radsnake layers: jobs > figures > ml > stats > imaging > cohort > io > core BROKEN" in run.stdout
    assert "radsnake.core is not allowed to import radsnake.ml:" in run.stdout
    assert f"- radsnake.core.errors -> radsnake.ml.models (l.{lines + 1})" in run.stdout


def package_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_over_650_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in package_files() if (n := p.read_text().count("\n")) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them): {long}"


def private_uses(path: Path) -> list[str]:
    """Private names (``_x``) this file takes from another radsnake module: imported by
    name, or read through an imported module (``from radsnake.figures.style import style``;
    ``style._x``)."""
    tree = ast.parse(path.read_text())
    found, modules = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("radsnake"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"l.{node.lineno}: from {node.module} import {alias.name}")
                else:
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            modules.update(a.asname for a in node.names if a.name.startswith("radsnake.") and a.asname)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            found.append(f"l.{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_no_private_name_is_used_across_modules():
    # Rule scripts, tests and benches too: a test of a private helper would pin a name
    # the module is free to change.
    others = [path for folder in ("scripts", "tests", "bench") for path in sorted((REPO / folder).glob("*.py"))]
    found = {str(p.relative_to(REPO)): uses for p in package_files() + others if (uses := private_uses(p))}
    assert not found, found


def test_the_private_name_check_finds_one(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from radsnake.figures.style import style\nfrom radsnake.stats.calibration import _wilson\n"
                     "style._PDF_METADATA\n")
    assert private_uses(probe) == ["l.2: from radsnake.stats.calibration import _wilson", "l.3: style._PDF_METADATA"]
