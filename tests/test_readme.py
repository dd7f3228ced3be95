"""The README is the front door: the two commands first, short, the own-study steps,
and every config key documented (in docs/config.md, generated from the schema)."""

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def keys(schema, prefix=""):
    for name, sub in schema.get("properties", {}).items():
        if "properties" in sub:
            yield from keys(sub, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def test_every_config_key_is_documented():
    schema = yaml.safe_load((REPO / "config" / "schemas" / "config.schema.yaml").read_text())
    reference = (REPO / "docs" / "config.md").read_text()
    missing = [key for key in keys(schema) if f"`{key}`" not in reference]
    assert not missing, f"docs/config.md lacks {missing}"
    # ... and the README sends readers there.
    assert "(docs/config.md)" in (REPO / "README.md").read_text()


def test_every_schema_key_has_description_and_default():
    schema = yaml.safe_load((REPO / "config" / "schemas" / "config.schema.yaml").read_text())

    def walk(node, path):
        for name, sub in node.get("properties", {}).items():
            assert "description" in sub, f"{path}{name} has no description"
            assert "default" in sub, f"{path}{name} has no default"
            walk(sub, f"{path}{name}.")

    walk(schema, "")


def test_readme_opens_with_the_two_commands():
    readme = (REPO / "README.md").read_text()
    first_block = readme.split("```")[1]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()[1:] if line.strip()]
    assert commands == ["make demo", "make test"]
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_readme_is_short_and_its_links_resolve():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    assert "docs/config.md" in targets and "config/README.md" in targets
    broken = [t for t in targets if "://" not in t and not (REPO / t).exists()]
    assert not broken, f"README links to missing files: {broken}"
    # Every page of docs/ is reachable from the README.
    pages = {f"docs/{p.name}" for p in (REPO / "docs").glob("*.md")}
    assert not pages - set(targets), f"README does not link {sorted(pages - set(targets))}"


def test_docs_links_resolve():
    broken = []
    for page in [*(REPO / "docs").glob("*.md"), REPO / "config" / "README.md"]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(REPO)} -> {target}")
    assert not broken, broken


def test_own_study_is_at_most_six_steps_each_one_command_or_one_edit():
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Your own study\n", 1)[1].split("\n## ", 1)[0]
    steps = re.findall(r"^(\d+)\. (.*)$", section, re.M)
    assert 1 <= len(steps) <= 6
    assert [int(n) for n, _ in steps] == list(range(1, len(steps) + 1))
    for _, text in steps:
        if text.startswith("Edit "):
            assert len(re.findall(r"^Edit `([^`]+)`", text)) == 1, text
        else:
            assert text.startswith("`"), f"step is neither one command nor one edit: {text}"
