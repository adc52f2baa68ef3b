"""Run a module's `main()` and SIGKILL the process at its Nth file-system write under a folder (fault injection).

    python tests/kill_at.py FOLDER N MODULE [ARGS...]

Python's audit hooks see every `open` for writing, `mkdir`, rename/replace, `remove`, `rmdir` and `rmtree` that
Python code makes, so a kill can land exactly inside a checkpoint write, between the renames of a folder swap, or
in the middle of pruning, which a kill at a random instant would rarely hit. N = 0 counts instead: the run
completes and the number of events is printed last, as `events: K`; with KILL_AT_TRACE=FILE set, each event is
also written to FILE as `N EVENT PATH`.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _path(value: object) -> str | None:
    if isinstance(value, int) or value is None:  # a file descriptor: opened for writing earlier, already counted
        return None
    return os.path.realpath(os.fsdecode(value))


def _writes(event: str, args: tuple) -> str | None:
    """The path a write event changes, or None for events that change nothing on disk."""
    if event == "open":
        path, mode, flags = args
        writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(flags & WRITE_FLAGS)
        return _path(path) if writing else None
    if event in ("os.rename", "os.mkdir", "os.remove", "os.rmdir", "shutil.rmtree", "os.truncate"):
        return _path(args[0])
    return None


def install(folder: str, target: int) -> list[int]:
    """SIGKILL this process at its `target`-th write under `folder` (never for 0); returns the live event count."""
    folder = os.path.realpath(folder)
    seen = [0]
    trace = os.environ.get("KILL_AT_TRACE")

    def hook(event: str, args: tuple) -> None:
        path = _writes(event, args)
        if path is None or not (path == folder or path.startswith(folder + os.sep)) or path == trace:
            return
        seen[0] += 1
        if trace:
            with open(trace, "a", encoding="utf-8") as f:
                f.write(f"{seen[0]} {event} {path}\n")
        if seen[0] == target:
            os.kill(os.getpid(), signal.SIGKILL)

    sys.addaudithook(hook)
    return seen


def main() -> None:
    folder, target, module, *argv = sys.argv[1:]
    seen = install(folder, int(target))
    code = importlib.import_module(module).main(argv)
    print(f"events: {seen[0]}", flush=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
