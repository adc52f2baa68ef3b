"""The errors of the task layer: a user's mistake in a task or its data, said in one line that names it.

Every module that reads, checks or frames a task's data raises these; each command's `main` turns them into one
`error:` line (`gpt1.cli.user_error`).
"""

from __future__ import annotations


class TaskError(ValueError):
    """A user mistake in a task or its data (unknown task, missing column, bad label): one line, naming it."""


class MissingDataError(TaskError, FileNotFoundError):
    """A data file or folder that does not exist (also a `FileNotFoundError`, what callers caught before)."""


__all__ = ["MissingDataError", "TaskError"]
