"""What code a rule runs: its script and every local module the script imports, transitively.

Two users: ``tests/test_envs.py`` checks each rule's conda env against the third-party
packages its code imports, and ``rules/code.smk`` gives each rule a param holding the
hash of its code, so that a rule reruns when the code it runs changes
(docs/design.md#reruns-when-code-changes).

The local modules are found on disk under one folder (``scripts/``): a ``.py`` file is a
module when every folder between that root and it has an ``__init__.py``, so any package
layout works. Imports are read from the syntax tree, function-level ones included
(``ast.walk``); ``import a.b``, ``from a.b import c`` (``a.b.c`` when that is a module)
and relative imports are resolved the way Python resolves them. Two dynamic forms count
as imports too: ``importlib.import_module("literal")`` and a string naming a local
module (``"radsnake.jobs.inputs:run_qc"``, ``"radsnake.imaging.extract"``), as job targets and the warm
worker's preload list are written. Nothing is imported or run.

A rule's code hash is the SHA-256 of the bytes of its script and those modules: any edit
counts, a comment too (a touch does not).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path

# "radsnake.jobs.inputs" or "radsnake.jobs.inputs:run_qc": a module (and function) named in a string.
MODULE_STRING = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?::[A-Za-z_]\w*)?$")
NOT_THIRD_PARTY = frozenset(sys.stdlib_module_names) | {"__future__", "__main__"}
STORE_VERSION = 1


@dataclass(frozen=True)
class Closure:
    """A script's local modules and third-party imports, each with the import chain that
    reaches it (script first, then module names)."""

    script: Path
    modules: dict[str, tuple[str, ...]]
    third_party: dict[str, tuple[str, ...]]

    def chain(self, name: str) -> str:
        """'select_features.py -> radsnake.ml.modelling -> sklearn', for messages."""
        return " -> ".join((self.script.name, *self.third_party[name][1:], name))


@dataclass(frozen=True)
class ParsedModule:
    name: str
    path: Path
    imports: tuple[str, ...]  # absolute dotted names, as requested
    digest: str  # SHA-256 of the file


class CodeBase:
    """The local modules under ``root``, each read once (per process).

    With ``store`` (a JSON file), what each file's syntax tree asks to import is kept by
    the SHA-256 of its bytes, so a later process parses only the files that changed."""

    def __init__(self, root: Path | str, store: Path | str | None = None):
        self.root = Path(root).resolve()
        self.files = discover_modules(self.root)
        self.tops = {name.split(".")[0] for name in self.files}
        self.names = {path: name for name, path in self.files.items()}
        self.store = Path(store) if store else None
        self._requests: dict[str, list] = self._load_store()
        self.parses = 0  # files parsed by this process (the store spares the others)
        self._parsed: dict[Path, ParsedModule] = {}
        self._closures: dict[Path, Closure] = {}

    def _load_store(self) -> dict[str, list]:
        try:
            data = json.loads(self.store.read_text()) if self.store else {}
        except (OSError, ValueError):
            return {}
        return data.get("requests", {}) if data.get("version") == STORE_VERSION else {}

    def save(self) -> None:
        """Keep the import requests of the files read, when there are new ones. A store that
        cannot be written (a read-only or full disk) costs only time."""
        if not self.store or not self.parses:
            return
        used = {module.digest for module in self._parsed.values()}
        kept = {digest: value for digest, value in self._requests.items() if digest in used}
        partial = self.store.with_name(f"{self.store.name}.{os.getpid()}.partial")
        try:
            self.store.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps({"version": STORE_VERSION, "requests": kept}, sort_keys=True))
            os.replace(partial, self.store)
        except OSError:
            partial.unlink(missing_ok=True)

    def parsed(self, path: Path, name: str) -> ParsedModule:
        if path not in self._parsed:
            source = path.read_bytes()
            digest = hashlib.sha256(source).hexdigest()
            if digest not in self._requests:
                self._requests[digest] = import_requests(ast.parse(source, filename=str(path)))
                self.parses += 1
            imports = resolve_requests(self._requests[digest], name, path.name == "__init__.py", self.tops)
            self._parsed[path] = ParsedModule(name, path, tuple(imports), digest)
        return self._parsed[path]

    def module_name(self, script: Path) -> str:
        """A script's name as a module when it lies under the root, else its stem."""
        return self.names.get(script, script.stem)

    def closure(self, script: Path | str) -> Closure:
        script = Path(script).resolve()
        if script in self._closures:
            return self._closures[script]
        start = self.parsed(script, self.module_name(script))
        chains: dict[str, tuple[str, ...]] = {}
        third_party: dict[str, tuple[str, ...]] = {}
        queue = deque([(start, (script.name,))])
        while queue:
            module, chain = queue.popleft()
            for requested in module.imports:
                top = requested.split(".")[0]
                if top in self.tops:
                    for local in self.local_modules(requested):
                        if local not in chains and local != start.name:
                            chains[local] = (*chain, local)
                            queue.append((self.parsed(self.files[local], local), chains[local]))
                elif top not in NOT_THIRD_PARTY and top not in third_party:
                    third_party[top] = chain
        result = Closure(script, dict(sorted(chains.items())), dict(sorted(third_party.items())))
        self._closures[script] = result
        return result

    def local_modules(self, dotted: str) -> list[str]:
        """Every module Python runs for ``import dotted``: its packages, then itself."""
        parts = dotted.split(".")
        prefixes = [".".join(parts[: i + 1]) for i in range(len(parts))]
        return [name for name in prefixes if name in self.files]

    def code_hash(self, scripts) -> str:
        """The SHA-256 of the scripts and of every local module they import (their bytes)."""
        digests = {}
        for script in scripts:
            script = Path(script).resolve()
            closure = self.closure(script)
            digests[f"script {script.name}"] = self.parsed(script, self.module_name(script)).digest
            for name in closure.modules:
                digests[name] = self.parsed(self.files[name], name).digest
        text = "\n".join(f"{name} {digest}" for name, digest in sorted(digests.items()))
        return hashlib.sha256(text.encode()).hexdigest()


def discover_modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file for every importable ``.py`` under root (packages need ``__init__.py``)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        folders = relative.parts[:-1]
        if "__pycache__" in folders:
            continue
        if not all((root.joinpath(*folders[: i + 1]) / "__init__.py").exists() for i in range(len(folders))):
            continue
        parts = list(folders) if path.name == "__init__.py" else [*folders, path.stem]
        if parts:
            modules[".".join(parts)] = path
    return modules


def import_requests(tree: ast.AST) -> list:
    """What a syntax tree asks to import, before resolution (JSON-able, for the store):
    ["import", name], ["from", level, module, names] or ["string", "pkg.module[:function]"]."""
    requests: list = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            requests += [["import", alias.name] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            requests.append(["from", node.level, node.module or "", [a.name for a in node.names if a.name != "*"]])
        elif isinstance(node, ast.Call) and is_import_module(node.func) and node.args:
            argument = node.args[0]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                requests.append(["import", argument.value])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_STRING.match(node.value):
            requests.append(["string", node.value])
    return requests


def resolve_requests(requests: list, module: str, is_package: bool, local_tops: set[str]) -> list[str]:
    """Absolute dotted names, relative imports resolved against the module's package."""
    names: list[str] = []
    package = module.split(".") if is_package else module.split(".")[:-1]
    for request in requests:
        if request[0] == "import":
            names.append(request[1])
        elif request[0] == "from":
            _, level, target, imported = request
            if level:
                base = package[: len(package) - (level - 1)]
                target = ".".join([*base, *(target.split(".") if target else [])])
            if target:
                names += [target, *(f"{target}.{name}" for name in imported)]
        else:
            # A string names a module only when it names a local one with a dot or a function.
            dotted = request[1].split(":")[0]
            if dotted.split(".")[0] in local_tops and ("." in dotted or ":" in request[1]):
                names.append(dotted)
    return names


def is_import_module(func: ast.expr) -> bool:
    return (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id in {"import_module", "__import__"}
    )
