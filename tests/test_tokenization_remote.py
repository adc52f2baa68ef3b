"""Issue 3, "done when" 6: `AutoTokenizer.from_pretrained(dir)` returns GPT1Tokenizer for a saved directory, with
the package importable (registration) and without it (`trust_remote_code=True` runs the copied module).

The child process runs isolated (`python -I`: no cwd, PYTHONPATH or user site on sys.path) and additionally drops
every sys.path entry under the repository and every meta-path finder of an editable install, then checks that
neither `tokenization` nor `modeling_gpt1` can be imported, before loading the folder. It can also hide installed
packages (spaCy: a user of the saved folder need not have the `reference` extra), and the copied module's imports are
checked the way transformers checks them before running remote code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import AutoTokenizer
from transformers.dynamic_module_utils import get_imports, get_relative_imports

from tokenization import GPT1Tokenizer

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import importlib.util, json, os, sys
repo = os.path.realpath(sys.argv[1])
sys.path[:] = [p for p in sys.path if not os.path.realpath(p or ".").startswith(repo)]
# An editable install (pip install -e .) resolves the repo's packages through a finder on sys.meta_path.
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in (getattr(f, "__module__", "") + repr(f)).lower()]
for name in ("tokenization", "modeling_gpt1"):
    assert importlib.util.find_spec(name) is None, f"{name} is importable in the child: {importlib.util.find_spec(name)}"
for name in sys.argv[3:]:  # as if not installed: `import name` raises ModuleNotFoundError
    sys.modules[name] = None
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[2], trust_remote_code=True)
print(json.dumps({
    "class": type(tok).__name__,
    "module": type(tok).__module__,
    "ids": tok("Mr. Smith didn't go.", "An ending!")["input_ids"],
    "len": len(tok),
    "framing": tok.add_fine_tuning_framing,
    "in_modules": sorted(m for m in sys.modules if m.split(".")[0] in ("tokenization", "modeling_gpt1")),
}))
"""


def test_auto_tokenizer_with_package(tmp_path):
    GPT1Tokenizer().save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert type(loaded) is GPT1Tokenizer and loaded("x y")["input_ids"] == GPT1Tokenizer()("x y")["input_ids"]


@pytest.mark.parametrize("hidden", [(), ("spacy",)], ids=["all-installed", "without-spacy"])
def test_auto_tokenizer_remote_code_without_package(tmp_path, hidden):
    saved = tmp_path / "saved"
    tok = GPT1Tokenizer(add_fine_tuning_framing=True)
    tok.save_pretrained(saved)
    expected = tok("Mr. Smith didn't go.", "An ending!")["input_ids"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["HF_MODULES_CACHE"] = str(tmp_path / "modules")  # the copied module lands here, not in ~/.cache
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    result = subprocess.run(
        [sys.executable, "-I", "-c", CHILD, str(REPO), str(saved), *hidden],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["class"] == "GPT1Tokenizer" and out["module"].startswith("transformers_modules")
    assert out["ids"] == expected and out["len"] == 40481 and out["framing"] is True
    assert out["in_modules"] == []


# What the saved folder may require of its user: the package's runtime dependencies and the standard library.
# transformers refuses to run a remote-code module when any module it imports is missing, even one imported inside
# a function; only imports inside `try: ... except ImportError` are exempt (ftfy's and spaCy's, where optional).
RUNTIME_MODULES = {"transformers", "tokenizers", "torch", "safetensors", "ftfy", "huggingface_hub", "numpy"}


def test_copied_module_needs_only_runtime_dependencies(tmp_path):
    GPT1Tokenizer().save_pretrained(tmp_path)
    # tokenization_gpt1.py and, recursively, the sibling modules it imports relatively (reference.py, ...).
    checked, todo = set(), ["tokenization_gpt1"]
    while todo:
        name = todo.pop()
        checked.add(name)
        copied, source = tmp_path / f"{name}.py", REPO / "tokenization" / f"{name}.py"
        assert copied.is_file(), f"save_pretrained did not copy {name}.py"
        assert copied.read_bytes() == source.read_bytes()
        extra = set(get_imports(copied)) - RUNTIME_MODULES - set(sys.stdlib_module_names)
        assert not extra, f"the remote-code tokenizer ({name}.py) would need {sorted(extra)} installed"
        todo += [imported for imported in get_relative_imports(copied) if imported not in checked]
    assert {"tokenization_gpt1", "reference", "normalizer", "chunk_cache"} <= checked
