"""docs/config.md is generated from the config schema, and `make new-study` writes a
config template from the same schema: both must stay in step with it."""

import copy
import re
import subprocess
import sys
from pathlib import Path

import yaml
from snakemake.utils import validate

from radsnake.core import configdoc, scaffold

REPO = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO / "config" / "schemas" / "config.schema.yaml"


def schema():
    return yaml.safe_load(SCHEMA_PATH.read_text())


def leaf_keys(node, prefix=""):
    for name, sub in node.get("properties", {}).items():
        if "properties" in sub:
            yield from leaf_keys(sub, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", sub


def test_config_doc_is_what_the_schema_generates():
    generated = configdoc.config_doc(schema())
    written = (REPO / "docs" / "config.md").read_text()
    assert written == generated, "docs/config.md differs from the schema: run `make config-doc` and commit it"


def test_config_doc_follows_a_changed_description():
    # The drift check above can fail: any edit of a description changes the generated page.
    changed = copy.deepcopy(schema())
    changed["properties"]["seed"]["description"] = "A different description of the seed."
    assert configdoc.config_doc(changed) != (REPO / "docs" / "config.md").read_text()
    assert "A different description of the seed." in configdoc.config_doc(changed)


def test_config_doc_has_every_key_type_default_and_description():
    doc = (REPO / "docs" / "config.md").read_text()
    sections = {m.group(1): m.start() for m in re.finditer(r"^#{2,4} `([a-z_.]+)`$", doc, re.M)}
    for key, node in leaf_keys(schema()):
        assert key in sections, f"docs/config.md has no heading for {key}"
        entry = doc[sections[key]:].split("\n#", 1)[0]
        assert "- type: " in entry, key
        block = re.search(r"^- default:\n.*?```yaml\n(.*?)```", entry, re.M | re.S)
        if block:  # a long default is written as a YAML block
            assert yaml.safe_load(block.group(1)) == {key.rsplit(".", 1)[-1]: node["default"]}, key
        else:
            line = re.search(r"^- default: `(.*)`$", entry, re.M)
            assert line and yaml.safe_load(line.group(1)) == node["default"], key
        first_words = " ".join(node["description"].split()[:4])
        assert configdoc.markdown(first_words) in " ".join(entry.split()), key
        for value in node.get("enum", []):
            assert f"`{value}`" in entry, (key, value)


def test_config_doc_command_prints_the_page():
    result = subprocess.run(
        [sys.executable, "-m", "radsnake.core.configdoc"], capture_output=True, text=True, cwd=REPO / "scripts", check=True
    )
    assert result.stdout == (REPO / "docs" / "config.md").read_text()


def all_key_names(node):
    for name, sub in node.get("properties", {}).items():
        yield name
        yield from all_key_names(sub)


def uncomment_everything(template: str, key_names: set[str]) -> str:
    """The template with every commented-out key and section switched on: a line
    '# key: ...' at some indentation loses its '# ', and so do the lines of its block
    (those with more indentation after the same '# ')."""
    out = []
    block = None  # the prefix ('<indent># ') of the commented key being switched on
    for line in template.splitlines():
        if block is not None and line.startswith(block + " "):
            out.append(line[: len(block) - 2] + line[len(block):])
            continue
        block = None
        match = re.match(r"^( *)# ([a-z_]+):", line)
        if match and match.group(2) in key_names:
            block = match.group(1) + "# "
            out.append(match.group(1) + line[len(block):])
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def test_new_study_writes_a_valid_commented_template(tmp_path):
    folder = scaffold.new_study(tmp_path / "studies" / "lung")
    assert sorted(p.name for p in folder.iterdir()) == ["cohort.csv", "cohort.md", "config.yaml", "params.yaml"]
    text = (folder / "config.yaml").read_text()
    config = yaml.safe_load(text)
    # Only the keys a study usually sets are settings; the rest falls back to the schema.
    assert config == {
        "cohort": "cohort.csv",
        "clinical": {},
        "pyradiomics": {"params": "params.yaml"},
        "split": {"method": "random", "test_fraction": 0.3, "external_centers": []},
        "models": {"enabled": ["logistic", "svm", "random_forest", "decision_tree"]},
        "validation": {"enabled": True},
    }
    validate(copy.deepcopy(config), str(SCHEMA_PATH))
    # Every key is in the template with its description, and switching every commented key
    # on gives exactly the schema's defaults (apart from the study's own file names).
    for key, node in leaf_keys(schema()):
        name = key.rsplit(".", 1)[-1]
        assert re.search(rf"^[ #]*{name}:", text, re.M), f"{key} missing from the template"
        first_words = " ".join(node["description"].split()[:3])
        assert first_words in " ".join(line.lstrip(" #") for line in text.splitlines()), key
    everything = yaml.safe_load(uncomment_everything(text, set(all_key_names(schema()))))
    defaults = {}
    validate(defaults, str(SCHEMA_PATH), set_default=True)
    defaults["cohort"] = "cohort.csv"
    defaults["pyradiomics"]["params"] = "params.yaml"
    assert everything == defaults
    # The sheet, its column guide and the params file named by the schema's default.
    assert (folder / "cohort.csv").read_text() == "case_id,image,mask,label,center\n"
    columns = yaml.safe_load((REPO / "config" / "schemas" / "cohort.schema.yaml").read_text())["properties"]
    guide = (folder / "cohort.md").read_text()
    for column in columns:
        assert f"\n## {column}\n" in guide, column
    default_params = schema()["properties"]["pyradiomics"]["properties"]["params"]["default"]
    shipped = REPO / "config" / "pyradiomics" / f"{default_params}.yaml"
    assert (folder / "params.yaml").read_bytes() == shipped.read_bytes()


def test_new_study_refuses_a_folder_that_holds_files(tmp_path):
    folder = tmp_path / "lung"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    result = subprocess.run(
        [sys.executable, "-m", "radsnake.core.scaffold", str(folder)], capture_output=True, text=True, cwd=REPO / "scripts"
    )
    assert result.returncode == 1
    assert "is not empty" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    # An empty folder is fine, and the next command is printed.
    empty = tmp_path / "kidney"
    empty.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "radsnake.core.scaffold", str(empty)], capture_output=True, text=True, cwd=REPO / "scripts"
    )
    assert result.returncode == 0, result.stderr
    assert f".venv/bin/snakemake --cores all --configfile {empty}/config.yaml" in result.stdout
