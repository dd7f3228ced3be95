"""The README's config reference must list every config key the schema knows."""

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
    readme = (REPO / "README.md").read_text()
    missing = [key for key in keys(schema) if f"`{key}`" not in readme]
    assert not missing, f"README config reference lacks {missing}"


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
