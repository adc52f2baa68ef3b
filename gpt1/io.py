"""The one place files and folders are written: atomically, so an interrupted run never leaves half a file.

A file is written to a temporary sibling and renamed over the target (`os.replace` is atomic on POSIX and Windows
within one filesystem). A folder (a checkpoint, a saved model) is filled under a temporary sibling name and swapped
into place when complete: one atomic exchange on Linux; elsewhere two renames, whose gap `recover_interrupted`
closes on the next start. A kill at any instant leaves either the old folder or the new one.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
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
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if is_no_room(err, path.parent):
            raise no_room(path.parent, err, len(text.encode("utf-8"))) from err
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


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100
_renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None) if os.name == "posix" else None


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux `renameat2(RENAME_EXCHANGE)`); False where unsupported."""
    if _renameat2 is None:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):  # old kernel, or a filesystem without it
        return False
    raise OSError(err, os.strerror(err), str(b))


def _aside_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.old-{os.getpid()}")


@contextlib.contextmanager
def atomic_directory(path: str | Path, expected_bytes: int | None = None) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; on success it replaces `path` whole, on error it is removed.

    Readers see either the old folder or the new one, never a partial one or none: the new folder is complete
    before it is swapped in. The swap is one atomic exchange where the system has it; otherwise the old folder is
    renamed aside first, and a kill in the gap between the two renames is undone by `recover_interrupted`.

    A write the filesystem refuses (full, quota, read-only) is a `NoRoomError` naming the folder, the bytes needed
    and the free space; with `expected_bytes` (e.g. the size of the last checkpoint) a save that cannot fit is
    refused before anything is written.
    """
    path = Path(path)
    try:
        check_room(path.parent, expected_bytes)
        tmp = _sibling_tmpdir(path)
    except OSError as err:
        if is_no_room(err):
            raise no_room(path.parent, err, expected_bytes) from err
        raise
    try:
        yield tmp
        if path.exists() and _exchange(tmp, path):
            shutil.rmtree(tmp, ignore_errors=True)  # now the old contents, under a name `is_partial` knows
            return
        old = None
        if path.exists():
            old = _aside_name(path)
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as err:
        written = folder_bytes(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        if is_no_room(err, path.parent) and not isinstance(err, NoRoomError):
            if expected_bytes:
                raise no_room(path.parent, err, expected_bytes) from err
            raise no_room(path.parent, err, written or None, at_least=True) from err
        raise


class OutputDirError(ValueError):
    """An output folder that cannot be written without losing what the user has there."""


class NoRoomError(OutputDirError):
    """A save that the filesystem refused (no space left, quota exceeded, read-only, no permission). Whatever was
    complete before is untouched and nothing partial is left: the message names the folder, the bytes the save
    needed where known and the free space."""


# What a filesystem answers when it will not take a write: full disk, quota, read-only mount, permission.
_NO_ROOM_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}
# The same, as libraries written in Rust report it (safetensors: "I/O error: No space left on device (os error 28)").
_NO_ROOM_TEXT = ("No space left on device", "Disk quota exceeded", "Read-only file system", "Permission denied")


# Below this much free space, a write error that says nothing clear (PyTorch's zip writer: "iostream error",
# "unexpected pos") is taken for a full disk.
_NEARLY_FULL = 1 << 20


def is_no_room(error: BaseException, folder: str | Path | None = None) -> bool:
    """Whether `error` (or what it was raised from) is a filesystem refusing a write; with `folder`, also an
    unexplained write error while that folder's filesystem is (nearly) full."""
    if folder is not None and isinstance(error, OSError | RuntimeError) and free_bytes(folder) < _NEARLY_FULL:
        return True
    while error is not None:
        if isinstance(error, OSError) and error.errno in _NO_ROOM_ERRNOS:
            return True
        if any(text in str(error) for text in _NO_ROOM_TEXT):
            return True
        error = error.__cause__ or error.__context__
    return False


def free_bytes(folder: str | Path) -> int:
    """Free bytes for an unprivileged writer on the filesystem of `folder` (or of its nearest existing parent)."""
    folder = Path(folder).resolve()
    while not folder.exists():
        folder = folder.parent
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize


def folder_bytes(folder: str | Path) -> int:
    """Bytes in the files under `folder` (0 when it does not exist)."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file() and not p.is_symlink())


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def no_room(
    folder: str | Path, error: BaseException | None, needed: int | None = None, at_least: bool = False
) -> NoRoomError:
    """The one-line error for a save into `folder` that the filesystem refused (or would refuse: `error` None);
    `needed` is the save's size in bytes, or with `at_least` what it had written when it was refused."""
    reason = "not enough free space" if error is None else _reason(error)
    need = f"it needs {'more than' if at_least else 'about'} {_mb(needed)}, " if needed else ""
    return NoRoomError(
        f"cannot save to {folder}: {reason} ({need}{_mb(free_bytes(folder))} free); the last complete save there "
        "is untouched and nothing partial was left. Free some space (or choose another folder) and run again."
    )


def _reason(error: BaseException) -> str:
    first = error
    while error is not None:
        if isinstance(error, OSError) and error.errno in _NO_ROOM_ERRNOS:
            return os.strerror(error.errno)
        for text in _NO_ROOM_TEXT:
            if text in str(error):
                return text
        error = error.__cause__ or error.__context__
    return f"No space left on device ({type(first).__name__}: {' '.join(str(first).split())[:80]})"


def check_room(folder: str | Path, needed: int | None) -> None:
    """Refuse, before writing anything, a save of about `needed` bytes into `folder` that cannot fit."""
    if needed and free_bytes(folder) < needed:
        raise no_room(folder, None, needed)


def check_output_dir(path: str | Path, overwrite: bool) -> Path:
    """Refuse an output folder that cannot be written, or whose contents would be lost: a file, a folder under a
    file, a folder without write permission, or a non-empty folder unless `overwrite`.

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
    existing = path
    while not existing.exists():  # the folder is created later, in its nearest existing ancestor
        existing = existing.parent
    if not existing.is_dir():
        raise OutputDirError(f"output folder {path} cannot be created: {existing} is a file")
    try:  # permissions alone do not tell (root, ACLs, read-only mounts): try it, with a file that has no name
        with tempfile.TemporaryFile(dir=existing):  # (O_TMPFILE where there is one: a kill leaves nothing behind)
            pass
    except OSError as err:
        raise OutputDirError(f"output folder {path} is not writable ({err.strerror}: {existing})") from None
    return path


@contextlib.contextmanager
def atomic_output_files(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder to fill; on success `path` holds its files, and whatever else it held before.

    The files `path` already has that the command does not write (a user's notes, another tool's outputs) are
    hard-linked (copied where links are impossible) into the new folder, which then replaces `path` in one swap
    (`atomic_directory`): a kill at any instant leaves the old folder or the new one, never a mix of the two.
    """
    path = Path(path).resolve()
    recover_interrupted(path.parent, only=path.name)
    with atomic_directory(path) as tmp:
        yield tmp
        if path.is_dir():
            shutil.copymode(path, tmp)
            _link_missing(path, tmp)


def _link_missing(source: Path, target: Path) -> None:
    """Give `target` every file of `source` it lacks (at the same relative path) as a hard link, else a copy."""
    for root, dirs, files in os.walk(source):
        here = target / Path(root).relative_to(source)
        for name in dirs:
            (here / name).mkdir(exist_ok=True)
        for name in files:
            src, dst = Path(root) / name, here / name
            if dst.exists() or dst.is_symlink():
                continue  # the command wrote this one
            try:
                os.link(src, dst, follow_symlinks=False)
            except OSError:
                shutil.copy2(src, dst, follow_symlinks=False)


def is_partial(path: str | Path) -> bool:
    """True for the temporary names used above (a run killed mid-write leaves only these behind)."""
    name = Path(path).name
    return name.startswith(".") and (name.endswith(".tmp") or ".old-" in name)


def recover_interrupted(folder: str | Path, only: str | None = None) -> None:
    """Undo what a killed `atomic_directory` left in `folder` (for the entry named `only`, or all): a complete
    folder renamed aside whose replacement never arrived gets its name back, then temporary leftovers are deleted.

    Only one process may call it for a folder at a time (a run holding the folder's lock).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return
    ours = [p for p in folder.iterdir() if is_partial(p) and (only is None or p.name.startswith(f".{only}."))]
    for aside in sorted(p for p in ours if ".old-" in p.name):
        original = folder / aside.name[1:].rsplit(".old-", 1)[0]
        if not original.exists():
            os.replace(aside, original)
    for leftover in filter(Path.exists, ours):
        shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)
