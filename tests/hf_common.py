"""transformers' own common model tests (`ModelTesterMixin`, `ConfigTester`), for the installed release.

They ship in transformers' source distribution on the package registry, not in its wheel. `python3 -m
tests.hf_common` (a `.ci/run` step, the only one that touches the network) downloads the source distribution of the
installed version once and unpacks `tests/test_modeling_common.py` and `tests/test_configuration_common.py` into a
package `hf_tests` under the cache (`$GPT1_CI_CACHE`, default `~/.cache/gpt1-ci`); `tests/test_modeling_gpt1_common.py`
imports them from there, and skips, saying so, when the cache has none for the installed version.

The source distribution leaves out three helper modules those files import relatively; they are written here as
stand-ins, and the tests that need the real ones are skipped with that reason (see STAND_INS). A new relative
import that is neither shipped nor known here fails the download step: a new helper is something to look at.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "hf_tests"
FILES = ("test_modeling_common.py", "test_configuration_common.py")
# Helper modules the source distribution does not ship, as `from .x.y import name` in FILES, and what stands in.
STAND_INS = {
    "exporters/test_export.py": (
        "class ExportTesterMixin:\n"
        '    """Stand-in: the export tests are not in the source distribution (no tests are added)."""\n'
    ),
    "generation/test_utils.py": (
        "class GenerationTesterMixin:\n"
        '    """Stand-in, never inherited: the generate tests are not in the source distribution."""\n'
    ),
    "utils/test_configuration_utils.py": (
        "# Stand-in: the real list of common config kwargs is not in the source distribution; the one check that\n"
        "# reads it (ConfigTester.check_config_arguments_init) is skipped.\n"
        "config_common_kwargs: dict = {}\n"
    ),
}


def cache_root() -> Path:
    return Path(os.environ.get("GPT1_CI_CACHE", Path.home() / ".cache" / "gpt1-ci")) / "transformers-tests"


def folder_for(version: str) -> Path:
    """The folder to put on `sys.path` to import `hf_tests` of transformers `version`."""
    return cache_root() / version


def relative_imports(source: str) -> set[str]:
    """The modules a file imports as `from .a.b import ...`, as paths `a/b.py`."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            found.add(node.module.replace(".", "/") + ".py")
    return found


def unpack(sdist: Path, version: str, into: Path) -> None:
    """Write the package `hf_tests` from the source distribution `sdist` into the folder `into`."""
    package = into / PACKAGE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    needed: set[str] = set()
    with tarfile.open(sdist) as tar:
        for name in FILES:
            member = tar.extractfile(f"transformers-{version}/tests/{name}")
            if member is None:
                raise SystemExit(f"error: {sdist.name} has no tests/{name}")
            source = member.read().decode()
            (package / name).write_text(source)
            needed |= relative_imports(source)
    for module in sorted(needed - set(FILES)):
        if module not in STAND_INS:
            raise SystemExit(
                f"error: transformers {version}'s common tests import .{module}, which is neither in "
                "the source distribution nor a known stand-in (tests/hf_common.py STAND_INS)"
            )
        path = package / module
        for parent in reversed(path.relative_to(package).parents[:-1]):
            (package / parent).mkdir(exist_ok=True)
            (package / parent / "__init__.py").touch()
        path.write_text(STAND_INS[module])


def fetch(version: str) -> Path:
    """Download transformers `version`'s source distribution (once) and unpack its common tests; return the folder."""
    folder = folder_for(version)
    if (folder / PACKAGE / FILES[0]).is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        tmp = Path(tmp)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps",
             "-d", str(tmp / "dl"), f"transformers=={version}"],
            check=True,
        )  # fmt: skip
        (sdist,) = (tmp / "dl").glob("transformers-*.tar.gz")
        unpack(sdist, version, tmp / "out")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp / "out", folder)  # whole or not at all
    return folder


if __name__ == "__main__":
    import transformers

    print(f"transformers {transformers.__version__}: common tests in {fetch(transformers.__version__)}")
