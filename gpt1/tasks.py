"""The fine-tuning tasks: one table of specifications and one code path that turns any row into data and inputs.

The paper (section 3.3, Fig. 1) fine-tunes one pretrained model on every task by re-arranging the input, never the
network: a linear layer reads the final hidden state at `_classify_`. The four arrangements are the `TRANSFORMS`:

- classification:   `_start_ text _classify_`
- entailment:       `_start_ premise _delimiter_ hypothesis _classify_`
- similarity:       both orders, `[_start_ a _delimiter_ b _classify_, _start_ b _delimiter_ a _classify_]`, whose
                    final states the model sums before the linear layer
- multiple_choice:  `_start_ context _delimiter_ answer _classify_` per answer, a softmax over the answers

The framing itself is done by the tokenizer (`GPT1Tokenizer` with `add_fine_tuning_framing`), the one place special
tokens are inserted; this module only picks the texts and checks the result. Adding a task is adding a row to
`TASKS` (a loader for local files when the Hub copy cannot be used); `custom_task` builds a row for a user's CSV or
JSON files.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from datasets import ClassLabel, Dataset, DatasetDict, Value, load_dataset
from datasets.exceptions import DatasetGenerationError

logger = logging.getLogger(__name__)

TRANSFORMS = ("classification", "entailment", "similarity", "multiple_choice")

# The authors' `datasets.py` split the Story Cloze 2016 validation set with this seed: 1,497 train / 374 valid.
STORY_CLOZE_SEED = 3535999445
STORY_CLOZE_VALID = 374

# Bundled with the package (gpt1/demo_data, package data), so it is found after a non-editable install too.
DEMO_DATA = Path(__file__).resolve().parent / "demo_data" / "classification"


class TaskError(ValueError):
    """A user mistake in a task or its data (unknown task, missing column, bad label): one line, naming it."""


class MissingDataError(TaskError, FileNotFoundError):
    """A data file or folder that does not exist (also a `FileNotFoundError`, what callers caught before)."""


@dataclass(frozen=True)
class TaskSpec:
    """One fine-tuning task: where its data is, which columns hold what, how the input is arranged, how it is scored.

    Attributes:
        name: The task's name on the command line (`--task`).
        transform: One of `TRANSFORMS`.
        text_columns: classification: `(text,)`; entailment/similarity: `(first, second)`; multiple_choice:
            `(context, answer_1, ..., answer_k)`.
        label_column: The label: a class id, a class name from `label_names`, or a float for regression.
        label_names: The classes in id order; `None` for regression (a single output, MSE).
        label_range: For regression, the closed interval labels must lie in (`None`: unchecked).
        metrics: `evaluate` modules (see `gpt1.metrics`), the first one's first key is the headline figure.
        hub: `(path, config)` for `datasets.load_dataset`; `None` when the data only exists as local files.
        local_dir: The task's folder under a data root laid out like `../shared/data` (e.g. `glue/SST-2`).
        load_local: Reads that folder into a `DatasetDict` with the same columns as the Hub copy.
        paper: The paper's figure for the headline metric (in %), `None` where the paper gives none.
        paper_metric: What that figure is (e.g. `"accuracy"`, `"matthews_correlation"`).
        train_split, eval_split: Split names; `train_split=None` for evaluation-only tasks.
    """

    name: str
    transform: str
    text_columns: tuple[str, ...]
    label_column: str = "label"
    label_names: tuple[str, ...] | None = None
    label_range: tuple[float, float] | None = None
    metrics: tuple[str, ...] = ("accuracy",)
    hub: tuple[str, str | None] | None = None
    local_dir: str | None = None
    load_local: Callable[[Path], DatasetDict] | None = None
    paper: float | None = None
    paper_metric: str | None = None
    train_split: str | None = "train"
    eval_split: str = "validation"
    data_files: dict[str, str] | None = None

    def __post_init__(self) -> None:
        if self.transform not in TRANSFORMS:
            raise TaskError(f"task {self.name!r}: unknown transform {self.transform!r}; choose from {TRANSFORMS}")
        wanted = {"classification": 1, "entailment": 2, "similarity": 2}.get(self.transform)
        if wanted is not None and len(self.text_columns) != wanted:
            raise TaskError(
                f"task {self.name!r}: the {self.transform} transform takes {wanted} text column(s), "
                f"got {list(self.text_columns)}"
            )
        if self.transform == "multiple_choice" and len(self.text_columns) < 3:
            raise TaskError(
                f"task {self.name!r}: multiple_choice takes a context column and at least two answer columns, "
                f"got {list(self.text_columns)}"
            )

    @property
    def is_regression(self) -> bool:
        return self.transform != "multiple_choice" and self.label_names is None

    @property
    def num_labels(self) -> int:
        """Outputs of the linear head: classes, 1 for regression, answers for multiple choice."""
        if self.transform == "multiple_choice":
            return len(self.text_columns) - 1
        return 1 if self.label_names is None else len(self.label_names)

    @property
    def main_metric(self) -> str:
        return self.metrics[0]

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.text_columns, self.label_column)


# --- local loaders: the GLUE download script's TSVs and the Story Cloze CSV ---------------------------------------


def read_tsv(path: Path, header: bool = True, names: Sequence[str] | None = None) -> pd.DataFrame:
    """A GLUE TSV as strings. Quotes are literal text in GLUE (QUOTE_NONE, as the GLUE loaders read them)."""
    if not path.is_file():
        raise MissingDataError(f"missing data file {path}")
    return pd.read_csv(
        path,
        sep="\t",
        quoting=csv.QUOTE_NONE,
        dtype=str,
        keep_default_na=False,
        encoding="utf-8-sig",  # MRPC's files start with a byte-order mark
        header=0 if header else None,
        names=names,
    )


def _frame(df: pd.DataFrame, columns: dict[str, str]) -> Dataset:
    """Select and rename `columns` (file name -> Hub name); labels stay text until `normalize_labels`."""
    return Dataset.from_pandas(df[list(columns)].rename(columns=columns).reset_index(drop=True), preserve_index=False)


def _glue_loader(columns: dict[str, str], header: bool = True, names=None) -> Callable[[Path], DatasetDict]:
    """A loader for a GLUE folder holding `train.tsv` and `dev.tsv` (dev only is allowed: evaluation-only tasks)."""

    def load(folder: Path) -> DatasetDict:
        splits = {}
        for split, filename in (("train", "train.tsv"), ("validation", "dev.tsv")):
            path = folder / filename
            if path.is_file() or split == "validation":
                df = read_tsv(path, header=header, names=names)
                missing = [c for c in columns if c not in df.columns]
                if missing:
                    raise TaskError(f"{path} lacks column(s) {missing}; it has {list(df.columns)}")
                splits[split] = _frame(df, columns)
        return DatasetDict(splits)

    return load


def load_mrpc(folder: Path) -> DatasetDict:
    """MRPC: `train.tsv` of the GLUE script lacks one pair, so train is rebuilt as `msr_paraphrase_train.txt` minus
    the pairs listed in `dev_ids.tsv` (3,668 pairs, the official count); dev is `dev.tsv`."""
    columns = {"#1 String": "sentence1", "#2 String": "sentence2", "Quality": "label"}
    full = read_tsv(folder / "msr_paraphrase_train.txt")
    dev_ids = read_tsv(folder / "dev_ids.tsv", header=False, names=["#1 ID", "#2 ID"])
    dev_pairs = set(zip(dev_ids["#1 ID"], dev_ids["#2 ID"]))
    train = full[[pair not in dev_pairs for pair in zip(full["#1 ID"], full["#2 ID"])]]
    dev = read_tsv(folder / "dev.tsv")
    return DatasetDict(train=_frame(train, columns), validation=_frame(dev, columns))


def load_story_cloze(folder: Path) -> DatasetDict:
    """Story Cloze 2016: the authors fine-tuned on the validation set, split 1,497 / 374 with their seed.

    As their `datasets.py`: the story is the four sentences joined by spaces, the label is `AnswerRightEnding - 1`,
    and `sklearn.model_selection.train_test_split(..., test_size=374, random_state=3535999445)` splits the rows.
    """
    from sklearn.model_selection import train_test_split

    path = folder / "storycloze_val_2016.csv"
    if not path.is_file():
        raise MissingDataError(f"missing data file {path}")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    sentences = [f"InputSentence{i}" for i in range(1, 5)]
    needed = [*sentences, "RandomFifthSentenceQuiz1", "RandomFifthSentenceQuiz2", "AnswerRightEnding"]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise TaskError(f"{path} lacks column(s) {missing}; it has {list(df.columns)}")
    if len(df) <= STORY_CLOZE_VALID:
        raise TaskError(f"{path} has {len(df)} rows; the authors' split needs more than {STORY_CLOZE_VALID}")
    stories = [" ".join(row) for row in df[sentences].itertuples(index=False)]
    endings1, endings2 = df["RandomFifthSentenceQuiz1"].tolist(), df["RandomFifthSentenceQuiz2"].tolist()
    labels = story_cloze_labels(df["AnswerRightEnding"].tolist(), path)
    tr_s, va_s, tr_1, va_1, tr_2, va_2, tr_y, va_y = train_test_split(
        stories, endings1, endings2, labels, test_size=STORY_CLOZE_VALID, random_state=STORY_CLOZE_SEED
    )

    def dataset(s, e1, e2, y) -> Dataset:
        return Dataset.from_dict({"story": s, "ending1": e1, "ending2": e2, "label": y})

    return DatasetDict(train=dataset(tr_s, tr_1, tr_2, tr_y), validation=dataset(va_s, va_1, va_2, va_y))


def story_cloze_labels(answers: Sequence[str], path: Path) -> list[int]:
    """`AnswerRightEnding` (1 or 2) as the choice index 0 or 1; any other value is an error naming its row."""
    bad = [i for i, answer in enumerate(answers) if answer.strip() not in ("1", "2")]
    if bad:
        more = f" ({len(bad)} rows in all)" if len(bad) > 1 else ""
        raise TaskError(
            f"{path}, row {bad[0] + 1} after the header: AnswerRightEnding must be 1 or 2, got {answers[bad[0]]!r}{more}"
        )
    return [int(answer) - 1 for answer in answers]


def _files_loader(train: str, validation: str) -> Callable[[Path], DatasetDict]:
    """A loader for a folder holding `train` and `validation` CSV files (the bundled demo sample)."""

    def load(folder: Path) -> DatasetDict:
        return load_files({"train": str(folder / train), "validation": str(folder / validation)})

    return load


# --- the table --------------------------------------------------------------------------------------------------

_ENT = ("entailment", "not_entailment")
_PAIR = {"sentence1": "sentence1", "sentence2": "sentence2", "label": "label"}
# Figures: Tables 2-4 of the paper (GLUE dev/test as reported there; Story Cloze on its 2016 test set).
TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in [
        TaskSpec(
            "sst2", "classification", ("sentence",), label_names=("negative", "positive"),
            hub=("nyu-mll/glue", "sst2"), local_dir="glue/SST-2",
            load_local=_glue_loader({"sentence": "sentence", "label": "label"}),
            paper=91.3, paper_metric="accuracy",
        ),
        TaskSpec(
            "cola", "classification", ("sentence",), label_names=("unacceptable", "acceptable"),
            metrics=("matthews_correlation", "accuracy"), hub=("nyu-mll/glue", "cola"), local_dir="glue/CoLA",
            load_local=_glue_loader(
                {"sentence": "sentence", "label": "label"}, header=False,
                names=["source", "label", "original_label", "sentence"],
            ),
            paper=45.4, paper_metric="matthews_correlation",
        ),
        TaskSpec(
            "mrpc", "similarity", ("sentence1", "sentence2"), label_names=("not_equivalent", "equivalent"),
            metrics=("f1", "accuracy"), hub=("nyu-mll/glue", "mrpc"), local_dir="glue/MRPC", load_local=load_mrpc,
            paper=82.3, paper_metric="f1",
        ),
        TaskSpec(
            "stsb", "similarity", ("sentence1", "sentence2"), label_range=(0.0, 5.0),
            metrics=("pearsonr", "spearmanr"), hub=("nyu-mll/glue", "stsb"), local_dir="glue/STS-B",
            load_local=_glue_loader({"sentence1": "sentence1", "sentence2": "sentence2", "score": "label"}),
            paper=82.0, paper_metric="pearsonr",
        ),
        TaskSpec(
            "rte", "entailment", ("sentence1", "sentence2"), label_names=_ENT,
            hub=("nyu-mll/glue", "rte"), local_dir="glue/RTE",
            load_local=_glue_loader(_PAIR),
            paper=56.0, paper_metric="accuracy",
        ),
        TaskSpec(
            "wnli", "entailment", ("sentence1", "sentence2"), label_names=("not_entailment", "entailment"),
            hub=("nyu-mll/glue", "wnli"), local_dir="glue/WNLI",
            load_local=_glue_loader(_PAIR),
        ),
        TaskSpec(
            # Only the dev set is staged here: evaluate a model fine-tuned elsewhere (`--do_train false`).
            "qnli", "entailment", ("question", "sentence"), label_names=_ENT,
            hub=("nyu-mll/glue", "qnli"), local_dir="glue/QNLI",
            load_local=_glue_loader({"question": "question", "sentence": "sentence", "label": "label"}),
            paper=88.1, paper_metric="accuracy",
        ),
        TaskSpec(
            # The Hub copy (LSDSem/story_cloze) needs a manual download, so the CSV is read directly.
            "story_cloze", "multiple_choice", ("story", "ending1", "ending2"),
            local_dir="storycloze", load_local=load_story_cloze, paper=86.5, paper_metric="accuracy",
        ),
        TaskSpec(
            # The bundled sample (gpt1/demo_data/classification): movie-review sentences, CC BY 4.0.
            "demo", "classification", ("sentence",), label_names=("negative", "positive"),
            local_dir=str(DEMO_DATA), load_local=_files_loader("train.csv", "validation.csv"),
        ),
    ]
}  # fmt: skip


def get_task(name: str) -> TaskSpec:
    """The task called `name` (case and `-`/`_` insensitive: `SST-2`, `sst2`, `story-cloze` all work)."""
    key = name.lower().replace("-", "").replace("_", "")
    for task in TASKS.values():
        if task.name.replace("_", "") == key:
            return task
    raise TaskError(f"unknown task {name!r}; choose from {', '.join(TASKS)} (or pass --train_file for your own)")


def custom_task(
    transform: str,
    text_columns: Sequence[str],
    label_column: str = "label",
    label_names: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    data_files: dict[str, str] | None = None,
    name: str = "custom",
) -> TaskSpec:
    """A task over a user's CSV/JSON files (`data_files`: split -> path) with the given columns.

    `label_names=None` makes it a regression task (float labels, Pearson/Spearman) unless the transform is
    multiple choice; class labels may be ids or names from `label_names`.
    """
    if metrics is None:
        regression = transform != "multiple_choice" and label_names is None
        metrics = ("pearsonr", "spearmanr") if regression else ("accuracy",)
    return TaskSpec(
        name, transform, tuple(text_columns), label_column=label_column,
        label_names=tuple(label_names) if label_names is not None else None, metrics=tuple(metrics),
        data_files=data_files,
    )  # fmt: skip


def load_files(data_files: dict[str, str]) -> DatasetDict:
    """CSV, TSV or JSON(-lines) files through `datasets` (the format is taken from the first file's suffix)."""
    for split, path in data_files.items():
        if not Path(path).is_file():
            raise MissingDataError(f"missing {split} file {path}")
    suffix = Path(next(iter(data_files.values()))).suffix.lower()
    if suffix in (".json", ".jsonl"):
        kwargs: dict[str, Any] = {}
    elif suffix in (".csv", ".tsv"):
        # keep_default_na=False: a cell is what the file says ("NA", "None", "null" are text), an empty one is "".
        kwargs = {"delimiter": "\t" if suffix == ".tsv" else ",", "keep_default_na": False}
    else:
        raise TaskError(f"unsupported data file type {suffix!r} (use .csv, .tsv, .json or .jsonl)")
    try:
        return load_dataset("json" if not kwargs else "csv", data_files=data_files, **kwargs)
    except DatasetGenerationError as err:
        cause = err.__cause__ or err
        raise TaskError(f"cannot read {', '.join(data_files.values())}: {' '.join(str(cause).split())}") from None


def load_task_data(task: TaskSpec, data_dir: str | Path | None = None) -> DatasetDict:
    """The task's splits, checked: from `task.data_files`, else from `data_dir` (a root laid out like
    `../shared/data`, or the task's own folder), else from the Hub. Labels become ids (or floats) and are checked."""
    if task.data_files is not None:
        data = load_files(task.data_files)
    elif task.load_local is not None and (data_dir is not None or task.hub is None):
        root = Path(data_dir) if data_dir is not None else Path(task.local_dir)
        folder = root / task.local_dir if task.local_dir and (root / task.local_dir).is_dir() else root
        if not folder.is_dir():
            raise MissingDataError(
                f"task {task.name!r}: data folder {folder} does not exist (pass --data_dir: a folder laid out like "
                f"../shared/data, holding {task.local_dir}/, or the task's own folder)"
            )
        data = task.load_local(folder)
    elif task.hub is not None:
        try:
            data = load_dataset(*task.hub)
        except OSError as err:  # offline, or no such dataset: say how to use local files instead
            raise TaskError(
                f"task {task.name!r}: cannot load {task.hub[0]} from the Hub ({' '.join(str(err).split())}); pass "
                "--data_dir with its local files"
            ) from None
    else:
        raise TaskError(f"task {task.name!r} has no Hub copy: pass --data_dir with its local files")
    for split, dataset in data.items():
        missing = [c for c in task.columns if c not in dataset.column_names]
        if missing:
            hint = " (set --text_columns / --label_column)" if task.data_files is not None else ""
            raise TaskError(f"{_where(task, split)} lacks column(s) {missing}; it has {dataset.column_names}{hint}")
    return DatasetDict(
        {
            split: normalize_labels(task, fill_missing_texts(task, dataset, split), split)
            for split, dataset in data.items()
        }
    )


def _where(task: TaskSpec, split: str, row: int | None = None) -> str:
    """Where data came from, for messages: the user's file, else the task's split; `row` (0-based) is named
    counting from 1 (after the header row for CSV/TSV files)."""
    path = (task.data_files or {}).get(split)
    place = str(path) if path is not None else f"task {task.name!r}: the {split} split"
    if row is None:
        return place
    after = " after the header" if path is not None and Path(path).suffix.lower() in (".csv", ".tsv") else ""
    return f"{place}, row {row + 1}{after}"


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def as_text(value: Any) -> str:
    """A text cell as a string: a missing one (None, NaN) is empty text, never the word "None" or "nan"."""
    return "" if _is_missing(value) else value if isinstance(value, str) else str(value)


def fill_missing_texts(task: TaskSpec, dataset: Dataset, split: str = "data") -> Dataset:
    """Text columns as strings: a missing cell (JSON null or absent key, NaN) becomes empty text "", what the file
    says. Empty cells are kept (a row may legitimately lack text) but a warning names the column and the count."""
    for column in task.text_columns:
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
    """Labels as class ids (names in `task.label_names` are mapped) or floats, every one inside the task's label
    set; the error names the bad values. A split with all labels missing or -1 (GLUE test sets) is left as is."""
    values = dataset.select_columns([task.label_column]).to_dict()[task.label_column]  # columnar: fast
    if values and all(v is None or v == -1 for v in values):
        return dataset  # an unlabelled test split
    if task.is_regression:
        floats = [_as_float(v) for v in values]
        _refuse_bad_labels(task, split, values, [f is None for f in floats], "is not a number (a regression task)")
        lo, hi = task.label_range if task.label_range is not None else (float("-inf"), float("inf"))
        _refuse_bad_labels(
            task, split, values, [not lo <= f <= hi for f in floats], f"lies outside the range [{lo}, {hi}]"
        )
        return dataset.remove_columns(task.label_column).add_column(task.label_column, floats, feature=Value("float32"))
    allowed = list(task.label_names) if task.label_names is not None else [str(i) for i in range(task.num_labels)]

    def to_id(v: Any) -> int | None:
        if isinstance(v, str) and v in allowed:
            return allowed.index(v)
        try:
            i = int(v)
        except (TypeError, ValueError):
            return None
        return i if 0 <= i < len(allowed) and i == float(v) else None

    ids = [to_id(v) for v in values]
    outside = f"is outside the task's label set {allowed} (ids 0..{len(allowed) - 1} or these names)"
    _refuse_bad_labels(task, split, values, [i is None for i in ids], outside)
    if isinstance(dataset.features[task.label_column], ClassLabel):
        return dataset
    return dataset.remove_columns(task.label_column).add_column(
        task.label_column, ids, feature=ClassLabel(names=allowed)
    )


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


# --- inputs ------------------------------------------------------------------------------------------------------


def text_pairs(task: TaskSpec, batch: dict[str, list]) -> list[list[tuple[str, str | None]]]:
    """Per example, the `(text, text_pair)` of each sequence the transform makes (1 view, 2 orders, k answers)."""
    cols = [batch[c] for c in task.text_columns]
    n = len(cols[0])
    if task.transform == "classification":
        return [[(cols[0][i], None)] for i in range(n)]
    if task.transform == "entailment":
        return [[(cols[0][i], cols[1][i])] for i in range(n)]
    if task.transform == "similarity":
        return [[(cols[0][i], cols[1][i]), (cols[1][i], cols[0][i])] for i in range(n)]
    return [[(cols[0][i], answers[i]) for answers in cols[1:]] for i in range(n)]


def encode_batch(task: TaskSpec, tokenizer: Any, batch: dict[str, list], max_length: int) -> dict[str, list]:
    """Tokenize a batch of examples into the task's framed sequences (a `datasets.map` function).

    `input_ids` is one list per example for classification and entailment, and a list of views/answers for
    similarity and multiple choice. The tokenizer frames and truncates (longest text first, from its end, so
    `_classify_` always survives); padding is left to `pad_collate`.
    """
    views = text_pairs(task, batch)
    flat = [pair for example in views for pair in example]
    firsts = [as_text(a) for a, _ in flat]
    seconds = [as_text(b) for _, b in flat] if task.transform != "classification" else None
    ids = tokenizer(firsts, seconds, truncation=True, max_length=max_length)["input_ids"]
    classify = tokenizer.classify_token_id
    if classify is None or any(not seq or seq[-1] != classify for seq in ids):
        raise ValueError(
            "the tokenizer does not frame inputs with _start_ ... _classify_: use tokenization.GPT1Tokenizer "
            "prepared with tokenization.prepare_for_finetuning (add_fine_tuning_framing=True)"
        )
    out: dict[str, list] = {}
    if task.transform in ("classification", "entailment"):
        out["input_ids"] = ids
    else:
        k = len(views[0])
        out["input_ids"] = [ids[i : i + k] for i in range(0, len(ids), k)]
    out["labels"] = batch[task.label_column]
    return out


def pad_collate(features: list[dict[str, Any]], pad_token_id: int = 0) -> dict[str, Any]:
    """Pad `(T,)` or `(k, T)` id lists to the longest sequence in the batch; the attention mask marks real tokens."""
    import torch

    rows = [f["input_ids"] for f in features]
    nested = isinstance(rows[0][0], list)
    seqs = [s for r in rows for s in r] if nested else rows
    T = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), T), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), T), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    if nested:
        ids, mask = ids.view(len(rows), -1, T), mask.view(len(rows), -1, T)
    batch = {"input_ids": ids, "attention_mask": mask}
    if "labels" in features[0]:
        labels = [f["labels"] for f in features]
        batch["labels"] = torch.tensor(labels, dtype=torch.float if isinstance(labels[0], float) else torch.long)
    return batch


def with_fields(task: TaskSpec, **changes: Any) -> TaskSpec:
    """A copy of `task` with some fields changed (e.g. other `data_files`)."""
    return dataclasses.replace(task, **changes)


def subsample(dataset: Any, n: int | None, seed: int = 0) -> Any:
    """`n` examples drawn with `seed` (`--max_train_samples` / `--max_eval_samples`), or all of them for None."""
    return dataset if n is None or n >= len(dataset) else dataset.shuffle(seed=seed).select(range(n))


__all__ = [
    "DEMO_DATA",
    "STORY_CLOZE_SEED",
    "TASKS",
    "TRANSFORMS",
    "MissingDataError",
    "TaskError",
    "TaskSpec",
    "as_text",
    "custom_task",
    "encode_batch",
    "fill_missing_texts",
    "get_task",
    "load_files",
    "load_mrpc",
    "load_story_cloze",
    "load_task_data",
    "normalize_labels",
    "pad_collate",
    "read_tsv",
    "story_cloze_labels",
    "subsample",
    "text_pairs",
    "with_fields",
]
