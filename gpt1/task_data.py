"""A task's data, loaded and checked: its splits from the user's files, its folder or the Hub, every text a string
and every label a class id (or a float for regression) inside the task's label set.

`load_task_data` is the one way a command reads a task (`gpt1.tasks.TaskSpec`); the errors name the file, the row
and the bad value (`gpt1.task_errors.TaskError`).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from datasets import ClassLabel, Dataset, DatasetDict, Value, load_dataset

from .cli import one_line
from .readers import load_files
from .task_errors import MissingDataError, TaskError
from .tasks import TaskSpec
from .transforms import as_text

logger = logging.getLogger(__name__)


def load_task_data(task: TaskSpec, data_dir: str | Path | None = None) -> DatasetDict:
    """The task's splits, checked: from `task.source.data_files`, else from `data_dir` (a root laid out like
    `../shared/data`, or the task's own folder), else from the Hub. Labels become ids (or floats) and are checked."""
    data = _read_splits(task, data_dir)
    source = task.source
    if source.test_file is not None and source.data_files is None:
        data["test"] = read_test_file(task)
    for split, dataset in data.items():
        # A test split may come without labels (GLUE's hidden test sets): predictions only.
        needed = [c for c in task.needed_columns if split != "test" or c != task.columns.label]
        missing = [c for c in needed if c not in dataset.column_names]
        if missing:
            hint = " (set --text_columns / --label_column)" if source.data_files is not None else ""
            raise TaskError(f"{_where(task, split)} lacks column(s) {missing}; it has {dataset.column_names}{hint}")
    return DatasetDict(
        {
            split: normalize_labels(task, fill_missing_texts(task, drop_unlabelled(task, dataset, split), split), split)
            for split, dataset in data.items()
        }
    )


def _read_splits(task: TaskSpec, data_dir: str | Path | None) -> DatasetDict:
    """The task's splits as its files or the Hub give them (`load_task_data` checks them)."""
    source = task.source
    if source.data_files is not None:
        return load_files(source.data_files)
    if source.load_local is not None and (data_dir is not None or source.hub is None):
        root = Path(data_dir) if data_dir is not None else Path(source.local_dir)
        local = source.local_dir
        folder = root / local if local and (root / local).is_dir() else root
        if not folder.is_dir():
            raise MissingDataError(
                f"task {task.name!r}: data folder {folder} does not exist (pass --data_dir: a folder laid out like "
                f"../shared/data, holding {local}/, or the task's own folder)"
            )
        return source.load_local(folder)
    if source.hub is None:
        raise TaskError(f"task {task.name!r} has no Hub copy: pass --data_dir with its local files")
    try:
        data = load_dataset(*source.hub)
    except OSError as err:  # offline, or no such dataset: say how to use local files instead
        raise TaskError(
            f"task {task.name!r}: cannot load {source.hub[0]} from the Hub ({' '.join(str(err).split())}); pass "
            "--data_dir with its local files"
        ) from None
    return source.from_hub(data) if source.from_hub is not None else data


def read_test_file(task: TaskSpec) -> Dataset:
    """`task.source.test_file` read in the task's local format; a file of another format or task is a `TaskError`."""
    if task.source.read_file is None:
        raise TaskError(f"task {task.name!r} has no reader for a --test_file")
    path = Path(task.source.test_file)
    if not path.exists():
        raise MissingDataError(f"missing test file {path}")
    try:
        return task.source.read_file(path)
    except MissingDataError:
        raise
    except TaskError as err:
        raise TaskError(f"--test_file for task {task.name!r}: {one_line(err)}") from None


def has_labels(task: TaskSpec, dataset: Dataset) -> bool:
    """Whether `dataset` carries labels: a label column with at least one label (GLUE's Hub test sets say -1)."""
    if task.columns.label not in dataset.column_names:
        return False
    values = dataset.select_columns([task.columns.label]).to_dict()[task.columns.label]
    return not values or any(v is not None and v != -1 for v in values)


def drop_unlabelled(task: TaskSpec, dataset: Dataset, split: str) -> Dataset:
    """Rows whose label is one of `task.columns.drop_labels` (no gold label: SNLI's `-`) dropped, the count logged;
    never mapped to a class."""
    drop, label = task.columns.drop_labels, task.columns.label
    if not drop or label not in dataset.column_names:
        return dataset
    values = dataset.select_columns([label]).to_dict()[label]
    keep = [i for i, v in enumerate(values) if v not in drop]
    if len(keep) < len(values):
        logger.info(
            "%s: dropped %d of %d rows with no gold label (%s)",
            _where(task, split), len(values) - len(keep), len(values), "/".join(map(str, drop)),
        )  # fmt: skip
        dataset = dataset.select(keep)
    return dataset


def _where(task: TaskSpec, split: str, row: int | None = None) -> str:
    """Where data came from, for messages: the user's file, else the task's split; `row` (0-based) is named
    counting from 1 (after the header row for a custom task's CSV/TSV files; as examples in a task's own format)."""
    files = task.source.data_files or {}
    path = files.get(split) or (task.source.test_file if split == "test" else None)
    place = str(path) if path is not None else f"task {task.name!r}: the {split} split"
    if row is None:
        return place
    if split not in files:  # a task's own format: rows are examples (RACE: one per question)
        return f"{place}, example {row + 1}"
    after = " after the header" if Path(path).suffix.lower() in (".csv", ".tsv") else ""
    return f"{place}, row {row + 1}{after}"


def fill_missing_texts(task: TaskSpec, dataset: Dataset, split: str = "data") -> Dataset:
    """Text columns as strings: a missing cell (JSON null or absent key, NaN) becomes empty text "", what the file
    says. Empty cells are kept (a row may legitimately lack text) but a warning names the column and the count."""
    for column in task.columns.text:
        values = dataset.select_columns([column]).to_dict()[column]  # columnar: fast
        texts = [as_text(v) for v in values]
        empty = sum(1 for t in texts if not t.strip())
        if empty:
            rows = f"{empty} row{'s' if empty != 1 else ''}"
            logger.warning("%s: %s with no text in column %r (read as empty text)", _where(task, split), rows, column)
        if texts != values:
            dataset = dataset.remove_columns(column).add_column(column, texts, feature=Value("string"))
    return dataset


def normalize_labels(task: TaskSpec, dataset: Dataset, split: str = "data") -> Dataset:
    """Labels as class ids (names in `task.columns.label_names` are mapped) or floats, every one inside the task's
    label set; the error names the bad values. A split with all labels missing or -1 (GLUE test sets) is left as
    is."""
    if not has_labels(task, dataset):
        return dataset  # an unlabelled test split
    label = task.columns.label
    values = dataset.select_columns([label]).to_dict()[label]  # columnar: fast
    if task.is_regression:
        floats = [_as_float(v) for v in values]
        _refuse_bad_labels(task, split, values, [f is None for f in floats], "is not a number (a regression task)")
        lo, hi = task.columns.label_range or (float("-inf"), float("inf"))
        _refuse_bad_labels(
            task, split, values, [not lo <= f <= hi for f in floats], f"lies outside the range [{lo}, {hi}]"
        )
        return dataset.remove_columns(label).add_column(label, floats, feature=Value("float32"))
    names = task.columns.label_names
    allowed = list(names) if names is not None else [str(i) for i in range(task.num_labels)]
    ids = [_class_id(v, allowed) for v in values]
    outside = f"is outside the task's label set {allowed} (ids 0..{len(allowed) - 1} or these names)"
    _refuse_bad_labels(task, split, values, [i is None for i in ids], outside)
    if isinstance(dataset.features[label], ClassLabel):
        return dataset
    return dataset.remove_columns(label).add_column(label, ids, feature=ClassLabel(names=allowed))


def _class_id(value: Any, allowed: list[str]) -> int | None:
    """A label's class id: a name of `allowed`, or an integral id in range; None for anything else."""
    if isinstance(value, str) and value in allowed:
        return allowed.index(value)
    try:
        i = int(value)
    except (TypeError, ValueError):
        return None
    return i if 0 <= i < len(allowed) and i == float(value) else None


def _as_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _refuse_bad_labels(task: TaskSpec, split: str, values: list, bad: list[bool], problem: str) -> None:
    """One error naming the first bad label's row and value, and how many rows are bad."""
    rows = [i for i, b in enumerate(bad) if b]
    if rows:
        more = (
            f" ({len(rows)} rows in all; values {sorted({str(values[i]) for i in rows})[:5]})" if len(rows) > 1 else ""
        )
        raise TaskError(f"{_where(task, split, rows[0])}: label {values[rows[0]]!r} {problem}{more}")


def with_index(dataset: Dataset) -> Dataset:
    """`dataset` with an `index` column naming each row for the predictions files: the file's own ids (`index`, the
    Hub's `idx`), else the row number in the split."""
    if "index" in dataset.column_names:
        return dataset
    if "idx" in dataset.column_names:
        return dataset.rename_column("idx", "index")
    return dataset.add_column("index", [str(i) for i in range(len(dataset))])


def subsample(dataset: Any, n: int | None, seed: int = 0) -> Any:
    """`n` examples drawn with `seed` (`--max_train_samples` / `--max_eval_samples`), or all of them for None."""
    return dataset if n is None or n >= len(dataset) else dataset.shuffle(seed=seed).select(range(n))


__all__ = [
    "drop_unlabelled",
    "fill_missing_texts",
    "has_labels",
    "load_task_data",
    "normalize_labels",
    "read_test_file",
    "subsample",
    "with_index",
]
