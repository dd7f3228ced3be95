"""The conda envs and the pip lock must pin the same versions."""

import ast
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import cache
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


# --- Each rule's env holds what its code imports (issue 15, item 3) ---------------------
# Static: Snakemake's own parser turns each rules/*.smk into Python, whose decorators name
# every rule's conda env, script (or, for shell rules, the script a param passes) and the
# rule a `use rule` derives from; radsnake.core.code_closure walks each script's imports.


@dataclass
class RuleCode:
    name: str
    source: str
    env: str | None = None
    scripts: list[Path] = field(default_factory=list)
    parent: str | None = None  # `use rule parent as name with:`
    overrides_env: bool = False
    overrides_scripts: bool = False


def compiled_rule_files() -> list[tuple[Path, ast.Module]]:
    from snakemake import parser
    from snakemake.sourcecache import LocalSourceFile, SourceCache

    class ParsingOnly:  # all that snakemake.parser.parse asks of a workflow
        sourcecache = SourceCache(Path(tempfile.mkdtemp()))

    compiled = []
    for path in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        code, _ = parser.parse(LocalSourceFile(str(path)), ParsingOnly(), {})
        compiled.append((path, ast.parse(code)))
    return compiled


def string_constants(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def script_paths(compiled) -> dict[str, Path]:
    """Module-level names bound to a script path, e.g. QC_SCRIPT = os.path.join(..., "scripts", "qc_case.py")."""
    paths = {}
    for _, tree in compiled:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                parts = string_constants(node.value)
                if parts and parts[-1].endswith(".py") and REPO.joinpath(*parts).is_file():
                    paths[node.targets[0].id] = REPO.joinpath(*parts)
    return paths


def functions_naming_scripts(compiled, named_scripts: dict[str, Path]) -> dict[str, list[Path]]:
    """Plain functions whose body names a script path, e.g. case_job_settings() -> EXTRACT_SCRIPT."""
    found = {}
    for _, tree in compiled:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and not node.decorator_list:
                names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
                scripts = [named_scripts[name] for name in sorted(names) if name in named_scripts]
                if scripts:
                    found[node.name] = scripts
    return found


def workflow_rules() -> dict[str, RuleCode]:
    compiled = compiled_rule_files()
    named_scripts = script_paths(compiled)
    named_scripts_of = functions_naming_scripts(compiled, named_scripts)
    rules = {}
    for path, tree in compiled:
        for node in ast.walk(tree):  # rules inside `if` blocks too
            if not isinstance(node, ast.FunctionDef):
                continue
            calls = {
                d.func.attr: d
                for d in node.decorator_list
                if isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute)
            }
            if "rule" not in calls and "userule" not in calls:
                continue  # a plain function
            keywords = {k.arg: ast.literal_eval(k.value) for k in calls.get("rule", calls.get("userule")).keywords}
            if "rule" in calls:
                code = RuleCode(keywords["name"], path.name)
            else:
                assert len(keywords["rules"]) == 1 and "*" not in keywords["name_modifier"], path
                code = RuleCode(keywords["name_modifier"], path.name, parent=keywords["rules"][0])
            if "conda" in calls:
                code.env, code.overrides_env = string_constants(calls["conda"])[0], True
            if "script" in calls:
                code.scripts = [(path.parent / string_constants(calls["script"])[0]).resolve()]
            for directive in ("params", "shellcmd"):
                if directive in calls:
                    names = [n.id for n in ast.walk(calls[directive]) if isinstance(n, ast.Name)]
                    code.scripts += [named_scripts[name] for name in names if name in named_scripts]
                    code.scripts += [path for name in names for path in named_scripts_of.get(name, [])]
            code.overrides_scripts = bool(code.scripts)
            rules[code.name] = code
    for code in rules.values():
        if code.parent:
            parent = rules[code.parent]
            code.env = code.env if code.overrides_env else parent.env
            code.scripts = code.scripts if code.overrides_scripts else parent.scripts
    return rules


def env_dependencies(env: str) -> dict[str, str]:
    """Canonical package name -> pinned version, conda and pip sections alike."""
    spec = yaml.safe_load((REPO / "envs" / Path(env).name).read_text())
    pins = {}
    for dependency in spec["dependencies"]:
        entries = dependency["pip"] if isinstance(dependency, dict) else [dependency]
        for entry in entries:
            name, version = re.split(r"==?", entry, maxsplit=1)
            pins[canonical(name)] = version
    return pins


@cache
def installed_distributions() -> dict[str, list[str]]:
    from importlib.metadata import packages_distributions

    return packages_distributions()


def distribution_of(import_name: str) -> str | None:
    names = installed_distributions().get(import_name)
    return canonical(names[0]) if names else None


@cache
def requirements_of(distribution: str) -> set[str]:
    """The installed distribution's requirements, transitively (extras left out)."""
    from importlib.metadata import PackageNotFoundError, requires

    seen, todo = set(), [distribution]
    while todo:
        name = todo.pop()
        try:
            requirements = requires(name) or []
        except PackageNotFoundError:
            continue
        for requirement in requirements:
            if "extra ==" in requirement.replace(" ", "").replace("==", " == "):
                continue
            dependency = canonical(re.split(r"[ ;<>=!~\[(]", requirement.strip(), maxsplit=1)[0])
            if dependency not in seen:
                seen.add(dependency)
                todo.append(dependency)
    return seen


def test_snakemake_lists_no_rule_the_parser_missed():
    listed = subprocess.run(
        [str(Path(sys.executable).with_name("snakemake")), "--list-rules", "--configfile", "config/demo/config.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    parsed = workflow_rules()
    assert listed and set(listed) <= set(parsed), sorted(set(listed) - set(parsed))


def test_every_env_holds_what_its_rules_import_and_nothing_else():
    from radsnake.core.code_closure import CodeBase

    code = CodeBase(REPO / "scripts")
    rules = workflow_rules()
    problems, needed_by_env, users = [], {}, {}
    for rule in sorted(rules.values(), key=lambda r: r.name):
        if rule.env is None:
            assert not rule.scripts, f"rule {rule.name} ({rule.source}) runs radsnake code but has no conda env"
            continue
        pins = env_dependencies(rule.env)
        users.setdefault(rule.env, []).append(rule.name)
        needed = needed_by_env.setdefault(rule.env, set())
        assert rule.scripts, f"rule {rule.name}: no script found"
        for script in rule.scripts:
            closure = code.closure(script)
            for name in closure.third_party:
                distribution = distribution_of(name)
                if distribution is None:
                    problems.append(f"rule {rule.name}: no installed distribution provides {name} ({closure.chain(name)})")
                    continue
                needed.add(distribution)
                if distribution not in pins:
                    problems.append(f"rule {rule.name} ({rule.env}): {distribution} missing, needed by {closure.chain(name)}")
    for env, needed in needed_by_env.items():
        allowed = needed | {dep for name in needed for dep in requirements_of(name)}
        for name in env_dependencies(env):
            if name != "python" and name not in allowed:
                problems.append(f"{env}: {name} is needed by none of its rules ({', '.join(users[env])})")
    unused = {f"../envs/{p.name}" for p in (REPO / "envs").glob("*.yaml")} - set(needed_by_env)
    problems += [f"{env}: no rule uses it" for env in sorted(unused)]
    assert not problems, "\n".join(problems)
