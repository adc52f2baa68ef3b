"""Atomic writes (gpt1.io): a folder swap killed at any write leaves the old folder or the new one, whole."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gpt1.io import atomic_directory, is_partial, recover_interrupted

REPO = Path(__file__).resolve().parents[1]

# Replaces `folder/ckpt` through `writer`, SIGKILLed at its N-th write under `folder` (tests/kill_at.py).
SWAP = """
import sys
sys.path[:0] = [{repo!r}, {tests!r}]
import kill_at
from gpt1 import io
if {fallback}:  # a system without renameat2(RENAME_EXCHANGE): two renames
    io._exchange = lambda a, b: False
seen = kill_at.install({folder!r}, int(sys.argv[1]))
with io.{writer}({target!r}) as tmp:
    for i in range(3):
        (tmp / f"part{{i}}").write_text("new" * 1000)
print(seen[0])
"""


def contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("writer", ["atomic_directory", "atomic_output_files"])
@pytest.mark.parametrize("fallback", [False, True], ids=["exchange", "two-renames"])
def test_a_folder_swap_killed_at_any_write_leaves_old_or_new(tmp_path: Path, fallback: bool, writer: str) -> None:
    target = tmp_path / "ckpt"
    old = {"notes": "a user's file", "part0": "old", "part1": "old", "part2": "old"}
    new = {f"part{i}": "new" * 1000 for i in range(3)}
    if writer == "atomic_output_files":  # files the command does not write stay
        new = {"notes": old["notes"], **new}
    script = SWAP.format(repo=str(REPO), tests=str(REPO / "tests"), fallback=fallback, folder=str(tmp_path),
                         target=str(target), writer=writer)  # fmt: skip

    def swap(kill_at: int) -> subprocess.CompletedProcess:
        target.mkdir(exist_ok=True)
        for name, text in old.items():
            (target / name).write_text(text)
        return subprocess.run([sys.executable, "-c", script, str(kill_at)], capture_output=True, text=True)

    done = swap(0)
    assert done.returncode == 0, done.stderr
    events = int(done.stdout)
    assert contents(target) == new and [p.name for p in tmp_path.iterdir()] == ["ckpt"]
    assert events >= 5  # the temporary folder, three files, a rename or the removal of the old copy
    outcomes = []
    for n in range(1, events + 1):
        for p in tmp_path.iterdir():
            shutil.rmtree(p)
        killed = swap(n)
        assert killed.returncode == -9, (n, killed.stderr)
        recover_interrupted(tmp_path, only="ckpt")
        assert [p.name for p in tmp_path.iterdir()] == ["ckpt"], n  # no leftovers, no missing folder
        outcomes.append("new" if contents(target) == new else "old" if contents(target) == old else "mixed")
    assert "mixed" not in outcomes and outcomes[0] == "old" and "new" in outcomes, outcomes


def test_recovery_keeps_what_is_not_its_own(tmp_path: Path) -> None:
    (tmp_path / "step-0000001").mkdir()
    (tmp_path / ".step-0000001.old-123").mkdir()  # its replacement arrived: a leftover
    (tmp_path / ".step-0000002.old-123").mkdir()  # its replacement never arrived: restored
    (tmp_path / ".model.x7.tmp").mkdir()  # an unfinished write
    (tmp_path / ".hidden-notes").write_text("mine")
    recover_interrupted(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden-notes", "step-0000001", "step-0000002"]
    assert not any(is_partial(p) for p in tmp_path.iterdir())


def test_an_error_inside_leaves_the_old_folder(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights").write_text("old")
    with pytest.raises(RuntimeError), atomic_directory(tmp_path / "model") as tmp:
        (tmp / "weights").write_text("new")
        raise RuntimeError("failed halfway")
    assert contents(tmp_path / "model") == {"weights": "old"} and len(list(tmp_path.iterdir())) == 1


# --- a full disk: one clear error, the previous save untouched, nothing partial ------------------------------------


def test_a_full_disk_is_one_error_naming_the_folder_and_the_old_folder_stays(small_disk):
    from gpt1.io import NoRoomError

    disk = small_disk(1)
    target = disk / "ckpt"
    with atomic_directory(target) as tmp:
        (tmp / "weights").write_bytes(b"old" * 100_000)  # 300 kB
    with pytest.raises(NoRoomError) as raised:
        with atomic_directory(target) as tmp:
            (tmp / "weights").write_bytes(b"new" * 400_000)  # 1.2 MB: does not fit
    message = str(raised.value)
    assert message.startswith(f"cannot save to {disk}: No space left on device (it needs more than ")
    assert "free)" in message and "\n" not in message
    assert (target / "weights").read_bytes() == b"old" * 100_000
    assert sorted(p.name for p in disk.iterdir()) == ["ckpt"]  # no temporary folder left


def test_a_save_that_cannot_fit_is_refused_before_writing(small_disk):
    from gpt1.io import NoRoomError

    disk = small_disk(1)
    with pytest.raises(NoRoomError, match=r"not enough free space \(it needs about 2.0 MB, 1.0 MB free\)"):
        with atomic_directory(disk / "ckpt", expected_bytes=2_000_000):
            raise AssertionError("the write must not start")
    assert list(disk.iterdir()) == []


def test_a_full_disk_during_a_file_write_keeps_the_old_file(small_disk):
    from gpt1.io import NoRoomError, atomic_write_text

    disk = small_disk(1)
    atomic_write_text(disk / "log.json", "old")
    with pytest.raises(NoRoomError, match=f"cannot save to {disk}: No space left on device"):
        atomic_write_text(disk / "log.json", "x" * 2_000_000)
    assert (disk / "log.json").read_text() == "old"
    assert sorted(p.name for p in disk.iterdir()) == ["log.json"]


def test_a_read_only_folder_is_the_same_error(tmp_path, monkeypatch):
    """A read-only mount or a permission error (injected: root writes anywhere) reads the same way."""
    import errno
    import os

    from gpt1.io import NoRoomError

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr("gpt1.io.tempfile.mkdtemp", refuse)
    with pytest.raises(NoRoomError, match="Read-only file system"):
        with atomic_directory(tmp_path / "model"):
            pass


def test_a_rust_library_s_disk_full_message_is_recognised():
    """safetensors reports a full disk as text ("... (os error 28)"), not as an OSError."""
    from gpt1.io import is_no_room

    assert is_no_room(RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)"))
    assert not is_no_room(RuntimeError("shape mismatch"))
