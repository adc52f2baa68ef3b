"""Run Python in a child process where this project's packages cannot be imported.

The repo is usually pip-installed in editable mode, which puts it on `sys.path` through a `.pth` file or an import
finder in site-packages. The child therefore starts with `-I -S` (no environment paths, no site processing), then
adds the site-packages folders back as plain paths, so every installed library imports while the editable hooks
are never run. The child asserts the isolation itself before running the code.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

PROJECT_PACKAGES = ("modeling_gpt1", "tokenization", "gpt1")

_BOOTSTRAP = """
import importlib.util, sys
sys.path[:0] = {paths!r}
for _name in {packages!r}:
    assert importlib.util.find_spec(_name) is None, f"{{_name}} is importable: the isolation failed"
"""


def run_without_package(code: str, cwd: str | Path, env: dict[str, str] | None = None, timeout: float = 300):
    """Run `code` in a fresh interpreter without the project importable; return the CompletedProcess.

    Raises AssertionError with the child's output when it exits non-zero.
    """
    paths = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    paths = [p for i, p in enumerate(paths) if p not in paths[:i]]
    program = _BOOTSTRAP.format(paths=paths, packages=PROJECT_PACKAGES) + textwrap.dedent(code)
    child_env = {**os.environ, **(env or {})}
    child_env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", program],
        cwd=cwd,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"child failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result
