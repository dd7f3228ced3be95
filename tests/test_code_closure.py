"""radsnake.core.code_closure on a made-up layered package: subpackages, relative imports,
imports inside functions and job targets named in strings all count; nothing else does."""

from radsnake.core.code_closure import CodeBase

FILES = {
    "pkg/__init__.py": "",
    "pkg/core/__init__.py": "from .errors import Problem\n",
    "pkg/core/errors.py": "class Problem(Exception):\n    pass\n",
    "pkg/ml/__init__.py": "",
    "pkg/ml/select.py": "import numpy as np\nfrom ..core import errors\n\ndef fit():\n    import sklearn.linear_model\n",
    "pkg/ml/unused.py": "import torch\n",
    "pkg/jobs/__init__.py": "",
    "pkg/jobs/run.py": "import importlib\nTARGET = 'pkg.ml.select:fit'\nimportlib.import_module('yaml')\n",
    "job.py": "import os, json\nfrom pkg.jobs import run\n",
}


def write(root):
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return CodeBase(root)


def test_closure_follows_every_kind_of_import(tmp_path):
    closure = write(tmp_path).closure(tmp_path / "job.py")
    assert set(closure.modules) == {
        "pkg", "pkg.jobs", "pkg.jobs.run", "pkg.ml", "pkg.ml.select", "pkg.core", "pkg.core.errors"
    }
    assert set(closure.third_party) == {"numpy", "sklearn", "yaml"}  # not os/json/importlib, not torch
    assert closure.chain("sklearn") == "job.py -> pkg.jobs.run -> pkg.ml.select -> sklearn"


def test_code_hash_changes_with_an_imported_module_only(tmp_path):
    code = write(tmp_path)
    before = code.code_hash([tmp_path / "job.py"])
    (tmp_path / "pkg/ml/unused.py").write_text("import torch  # edited\n")
    assert write(tmp_path).code_hash([tmp_path / "job.py"]) == before
    (tmp_path / "pkg/ml/select.py").write_text(FILES["pkg/ml/select.py"] + "    return 1\n")
    assert CodeBase(tmp_path).code_hash([tmp_path / "job.py"]) != before


def test_store_keeps_imports_by_content(tmp_path):
    write(tmp_path)
    store = tmp_path / "store.json"
    first = CodeBase(tmp_path, store=store)
    expected = first.closure(tmp_path / "job.py")
    first.save()
    again = CodeBase(tmp_path, store=store)
    assert again.closure(tmp_path / "job.py") == expected
    assert first.parses > 0 and again.parses == 0
