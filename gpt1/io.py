"""The one place files and folders are written: atomically, so an interrupted run never leaves half a file.

A file is written to a temporary sibling and renamed over the target (`os.replace` is atomic on POSIX and Windows
within one filesystem). A folder (a checkpoint, a saved model) is filled under a temporary sibling name and renamed
into place when complete; a previous version is swapped out only after the new one is whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp/mkdtemp create private (0600/0700) entries; saved models and logs should get the usual permissions.
_FILE_MODE = 0o666 & ~_umask()
_DIR_MODE = 0o777 & ~_umask()


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write `text` to `path` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, _FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write `obj` as indented JSON, atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def _sibling_tmpdir(path: Path) -> Path:
    """A new temporary folder beside `path` (same filesystem, so a rename moves it), with the usual permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, _DIR_MODE)
    return tmp


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; on success it replaces `path` whole, on error it is removed.

    Readers see either the old folder or the new one, never a partial one: the new folder is complete before
    the rename, and the old one is moved aside (then deleted) only once the new one exists.
    """
    path = Path(path)
    tmp = _sibling_tmpdir(path)
    try:
        yield tmp
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class OutputDirError(ValueError):
    """An output folder that cannot be written without losing what the user has there."""


def check_output_dir(path: str | Path, overwrite: bool) -> Path:
    """Refuse an output folder whose contents would be lost: a file, or a non-empty folder unless `overwrite`.

    Call it before any long work, so a mistake costs nothing. Returns the resolved path (`proj/.` is `proj`).
    """
    path = Path(path).resolve()
    if path.exists() and not path.is_dir():
        raise OutputDirError(f"output folder {path} is a file")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise OutputDirError(
            f"output folder {path} is not empty; choose another or pass --overwrite_output_dir "
            "(only the files this command writes are replaced)"
        )
    return path


@contextlib.contextmanager
def atomic_output_files(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder to fill; on success its files land in `path`, and nothing else there is touched.

    An absent or empty `path` receives the folder whole, by one rename (see `atomic_directory`). A folder holding
    other files keeps them: each written file replaces its namesake by its own rename, so a file is always whole,
    and files the command does not write (a user's notes, another tool's outputs) are never deleted.
    """
    path = Path(path).resolve()
    if not path.is_dir() or not any(path.iterdir()):
        with contextlib.suppress(FileNotFoundError):
            path.rmdir()  # an empty folder: replaced whole
        with atomic_directory(path) as tmp:
            yield tmp
        return
    tmp = _sibling_tmpdir(path)
    try:
        yield tmp
        for source in sorted(p for p in tmp.rglob("*") if p.is_file()):
            target = path / source.relative_to(tmp)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def is_partial(path: str | Path) -> bool:
    """True for the temporary names used above (a run killed mid-write leaves only these behind)."""
    name = Path(path).name
    return name.startswith(".") and (name.endswith(".tmp") or ".old-" in name)
