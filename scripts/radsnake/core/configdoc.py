"""The config reference (docs/config.md) and the study config template, both written
from config/schemas/config.schema.yaml, so that the schema is the one place a key, its
default and its meaning are defined.

    python -m radsnake.core.configdoc            # print docs/config.md
    python -m radsnake.core.configdoc --write    # rewrite docs/config.md (`make config-doc`)
"""

from __future__ import annotations

import argparse
import html
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import yaml

from radsnake.core import study

REPO = Path(__file__).resolve().parents[3]
CONFIG_SCHEMA = REPO / "config" / "schemas" / "config.schema.yaml"
COHORT_SCHEMA = REPO / "config" / "schemas" / "cohort.schema.yaml"
CONFIG_DOC = REPO / "docs" / "config.md"

DOC_HEADER = """\
# Config reference

<!-- Generated from config/schemas/config.schema.yaml by `make config-doc`
     (python -m radsnake.core.configdoc --write). Edit the schema's descriptions, not this
     file: tests/test_config_doc.py fails when the two differ. -->

{schema_description}

A study's config holds only the keys it changes: every key left out takes the
default below, which comes from the schema and nowhere else. `make new-study
DIR=<folder>` writes a config with every key listed and commented
([config/README.md](../config/README.md)). Mistyped keys and values of the wrong type
stop the run before any job starts.

Keys are written here with dots for nesting: `split.method` is

```yaml
split:
  method: center
```
"""


@dataclass
class Key:
    """One key of the schema: its dotted name, its schema node and its depth (0 = top)."""

    name: str
    node: dict
    depth: int

    @property
    def is_section(self) -> bool:
        return "properties" in self.node


def load_schema(path: Path = CONFIG_SCHEMA) -> dict:
    return study.load_schema(str(path))


def walk(schema: dict, prefix: str = "", depth: int = 0):
    """Every key of the schema, parents before their children, in schema order."""
    for name, node in schema.get("properties", {}).items():
        key = Key(prefix + name, node, depth)
        yield key
        if key.is_section:
            yield from walk(node, key.name + ".", depth + 1)


def flow(value) -> str:
    """A value as one line of YAML (flow style), the way it would be written in a config."""
    if value is None:
        return "null"
    if value == "":
        return '""'
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6, sort_keys=False).strip()
    return text[: -len("\n...")].strip() if text.endswith("\n...") else text.removesuffix("...").strip()


def setting_lines(name: str, value, indent: str = "", width: int = 80) -> list[str]:
    """``name: value`` as YAML lines: one line when short, else a block of one-line items."""
    line = f"{indent}{name}: {flow(value)}"
    if len(line) <= width or not isinstance(value, (list, dict)) or not value:
        return [line]
    lines = [f"{indent}{name}:"]
    if isinstance(value, list):
        return lines + [f"{indent}  - {flow(item)}" for item in value]
    for key, item in value.items():
        lines += setting_lines(str(key), item, indent + "  ", width)
    return lines


def type_name(node: dict) -> str:
    """The schema type in words, e.g. 'list of strings' or 'integer or null'."""
    if "enum" in node and "type" not in node:
        return "string"
    types = node.get("type", "any")
    types = types if isinstance(types, list) else [types]
    words = []
    for kind in types:
        if kind == "array":
            items = node.get("items", {})
            inner = "string" if "enum" in items else items.get("type", "")
            inner = {"object": "mapping", "number": "number", "string": "string"}.get(inner, inner)
            words.append(f"list of {inner}s" if inner else "list")
        elif kind == "object":
            extra = node.get("additionalProperties")
            if isinstance(extra, dict) and "enum" in extra:
                words.append("mapping of name to " + " or ".join(f"`{v}`" for v in extra["enum"]))
            elif isinstance(extra, dict) and extra.get("type") == "array":
                words.append("mapping of name to a list")
            elif isinstance(extra, dict) and "type" in extra:
                words.append(f"mapping of name to {extra['type']}")
            else:
                words.append("mapping")
        else:
            words.append(kind)
    return " or ".join(words)


def allowed_values(node: dict) -> str:
    """What the schema accepts beyond the type: choices, bounds, name patterns."""
    parts = []
    if "enum" in node:
        parts.append(", ".join(f"`{v}`" for v in node["enum"]))
    items = node.get("items", {})
    if "enum" in items:
        parts.append("each one of " + ", ".join(f"`{v}`" for v in items["enum"]))
    for source, what in ((node, ""), (items, "each ")):
        bounds = []
        if "minimum" in source:
            bounds.append(f"≥ {source['minimum']}")
        if "exclusiveMinimum" in source:
            bounds.append(f"> {source['exclusiveMinimum']}")
        if "maximum" in source:
            bounds.append(f"≤ {source['maximum']}")
        if "exclusiveMaximum" in source:
            bounds.append(f"< {source['exclusiveMaximum']}")
        if bounds:
            parts.append(what + ", ".join(bounds))
        if "pattern" in source:
            parts.append(f"{what}matching `{source['pattern']}`")
        if "not" in source and "enum" in source["not"]:
            parts.append(what + "not " + ", ".join(f"`{v}`" for v in source["not"]["enum"]))
    if "minItems" in node:
        parts.append(f"at least {node['minItems']} item{'s' if node['minItems'] != 1 else ''}")
    if node.get("uniqueItems"):
        parts.append("no repeats")
    names = node.get("propertyNames", {})
    if "pattern" in names:
        parts.append(f"names matching `{names['pattern']}`")
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and extra.get("type") == "array":
        steps = extra.get("items", {}).get("properties", {}).get("step", {}).get("enum")
        if steps:
            parts.append("steps " + ", ".join(f"`{v}`" for v in steps))
    if node.get("type") == "array" and "properties" in items:
        steps = items["properties"].get("step", {}).get("enum")
        if steps:
            parts.append("steps " + ", ".join(f"`{v}`" for v in steps))
    return "; ".join(parts)


def config_doc(schema: dict | None = None) -> str:
    """The text of docs/config.md."""
    schema = schema or load_schema()
    keys = list(walk(schema))
    out = [DOC_HEADER.format(schema_description=fill(markdown(schema["description"]), 88))]
    out.append("## Contents\n")
    for key in keys:
        if key.depth == 0:
            out.append(f"- [`{key.name}`](#{anchor(key.name)})")
    out.append("")
    for key in keys:
        level = "#" * min(2 + key.depth, 4)
        out.append(f"{level} `{key.name}`\n")
        facts = [f"- type: {type_name(key.node)}"]
        default = key.node.get("default")
        long_default = len(flow(default)) > 60
        if not key.is_section:
            facts.append("- default:" if long_default else f"- default: `{flow(default)}`")
        allowed = allowed_values(key.node)
        if allowed:
            facts.append(f"- allowed: {allowed}")
        out.append("\n".join(facts) + "\n")
        if not key.is_section and long_default:
            leaf = key.name.rsplit(".", 1)[-1]
            out.append("```yaml\n" + "\n".join(setting_lines(leaf, default, width=0)) + "\n```\n")
        out.append(fill(markdown(key.node.get("description", "")), 88) + "\n")
    return "\n".join(out).rstrip() + "\n"


def anchor(name: str) -> str:
    """GitHub's anchor of a heading that is the key in backticks."""
    return "".join(c for c in name.lower() if c.isalnum() or c in "-_")


def markdown(text: str) -> str:
    """Schema text for Markdown: placeholders such as external_<name> are not HTML tags."""
    return html.escape(text, quote=False)


def fill(text: str, width: int, indent: str = "") -> str:
    """Wrap a (folded) schema description to the width, each line starting with indent."""
    return textwrap.fill(" ".join(text.split()), width=width, initial_indent=indent, subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False)


def config_template(active: dict[str, object], schema: dict | None = None, header: str = "") -> str:
    """A commented config: every key with its description above it; the ``active`` keys
    (dotted name -> value) are written as settings, every other key commented out at its
    default.

    A section is a setting when any key under it is active; otherwise the whole section
    is commented out at its own indentation, so that deleting that one '# ' from each of
    its lines turns it on with every default.
    """
    schema = schema or load_schema()

    def live(dotted: str) -> bool:
        return any(name == dotted or name.startswith(dotted + ".") for name in active)

    def render(node: dict, prefix: str, indent: str, everything: bool) -> list[str]:
        lines = []
        for name, sub in node.get("properties", {}).items():
            dotted = prefix + name
            lines += [f"{indent}# {text}" for text in fill(sub.get("description", ""), 86 - len(indent)).splitlines()]
            if "properties" in sub:
                on = everything or live(dotted)
                body = [f"{indent}{name}:"] + render(sub, dotted + ".", indent + "  ", everything or not on)
                lines += body if on else [f"{indent}# {line[len(indent):]}" for line in body]
            elif everything:
                lines += setting_lines(name, sub.get("default"), indent)
            elif dotted in active:
                lines += setting_lines(name, active[dotted], indent)
            else:
                lines += [f"{indent}# {line[len(indent):]}" for line in setting_lines(name, sub.get("default"), indent)]
            if not prefix:
                lines.append("")
        return lines

    lines = ([header.rstrip(), ""] if header else []) + render(schema, "", "", False)
    return "\n".join(lines).rstrip() + "\n"


def cohort_doc(schema: dict | None = None) -> str:
    """Every column of the cohort sheet, from config/schemas/cohort.schema.yaml."""
    schema = schema or load_schema(COHORT_SCHEMA)
    required = set(schema.get("required", []))
    out = [
        "# The cohort sheet: cohort.csv",
        "",
        fill(
            "One row per case, comma-separated, UTF-8, with a header row. Paths (image, mask, "
            "mask_repeat) are relative to this sheet's folder, or absolute. The sheet written by "
            "new-study has the columns most studies need (case_id, image, mask, label, center); add "
            "any other column below when you need it, and one column per clinical variable declared "
            "under `clinical` in config.yaml (e.g. age, sex). Multi-modality studies add an "
            "image_<name> column per further name in `modalities` (docs/inputs.md in radsnake).",
            88,
        ),
        "",
        fill("The columns, from radsnake's sheet schema (config/schemas/cohort.schema.yaml): "
             + schema["description"], 88),
        "",
    ]
    for name, node in schema["properties"].items():
        if name in required:
            need = "required"
        elif name in ("image", "mask"):
            need = "required unless config.yaml sets features_table"
        else:
            need = "optional"
        out += [f"## {name}", "", f"- {need}"]
        allowed = allowed_values(node)
        if allowed:
            out.append(f"- allowed: {allowed}")
        out += ["", fill(node.get("description", ""), 88), ""]
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write docs/config.md from the config schema.")
    parser.add_argument("--write", action="store_true", help=f"rewrite {CONFIG_DOC.relative_to(REPO)}")
    args = parser.parse_args(argv)
    text = config_doc()
    if args.write:
        CONFIG_DOC.write_text(text)
        print(f"wrote {CONFIG_DOC.relative_to(REPO)}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
