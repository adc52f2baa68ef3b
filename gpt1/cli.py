"""How every command-line entry point answers a user mistake: one `error: ...` line on stderr, exit status 2.

Tracebacks are kept for bugs; each `main` lists the error types that mean "the input was wrong" and hands them here.
"""

from __future__ import annotations

import sys


def one_line(error: BaseException) -> str:
    """The error's message on one line (messages that quote a file or a library's error may span several)."""
    return " ".join(str(error).split())


def user_error(error: BaseException) -> int:
    """Print `error` as the one line `error: <message>` on stderr and return the exit status for bad input, 2."""
    print(f"error: {one_line(error)}", file=sys.stderr, flush=True)
    return 2


__all__ = ["one_line", "user_error"]
