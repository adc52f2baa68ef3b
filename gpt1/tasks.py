"""The fine-tuning tasks: one table of specifications and one code path that turns any row into data and inputs.

The paper (section 3.3, Fig. 1) fine-tunes one pretrained model on every task by re-arranging the input, never the
network: a linear layer reads the final hidden state at `_classify_`. The four arrangements are the `TRANSFORMS`:

- classification:   `_start_ text _classify_`
- entailment:       `_start_ premise _delimiter_ hypothesis _classify_`
- similarity:       both orders, `[_start_ a _delimiter_ b _classify_, _start_ b _delimiter_ a _classify_]`, whose
                    final states the model sums before the linear layer
- multiple_choice:  `_start_ context _delimiter_ answer _classify_` per answer, a softmax over the answers

Each is a `Transform` object owning all that differs between them (texts per sequence, truncation, head class,
zero-shot heuristic), so no code branches on a transform's name. The framing itself is done by the tokenizer
(`GPT1Tokenizer` with `add_fine_tuning_framing`), the one place special tokens are inserted; this module picks the
texts, cuts them to fit and checks the result. Adding a task is adding a row to `TASKS` (a loader for local files
in the release's format when the Hub copy cannot be used); `custom_task` builds a row for a user's CSV or JSON files.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from datasets import ClassLabel, Dataset, DatasetDict, Value, load_dataset
from datasets.exceptions import DatasetGenerationError

from modeling_gpt1 import GPT1ForMultipleChoice, GPT1ForSequenceClassification

from .cli import one_line

logger = logging.getLogger(__name__)


class TaskError(ValueError):
    """A user mistake in a task or its data (unknown task, missing column, bad label): one line, naming it."""


class MissingDataError(TaskError, FileNotFoundError):
    """A data file or folder that does not exist (also a `FileNotFoundError`, what callers caught before)."""


# --- the paper's input transformations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Transform:
    """One of the paper's input transformations (Fig. 1): how a row becomes framed sequences, and what reads them.

    Each sequence is `(first, second)`: `first` a list of text segments (concatenated; only multiple choice has more
    than one, e.g. RACE's passage and question) and `second` the text after `_delimiter_`, or None. The tokenizer's
    `build_inputs_with_special_tokens` adds the framing; `truncate` makes room for it, never at `_classify_`'s cost.

    Attributes:
        name: The name on the command line (`--transform`) and in `results.json`.
        framing: The sequence it builds, for messages and documentation.
        texts: Text columns it takes (multiple choice: the least, a context and two answers).
        model_class: The head that reads the sequences.
        zero_shot: The zero-shot heuristic (`gpt1.zero_shot.HEURISTICS`) for any task of this transform, if any.
        card_task: The Hub's task type for a model card's results (`model-index`).
    """

    name: str
    framing: str
    texts: int
    model_class: type
    zero_shot: str | None = None
    card_task: str = "text-classification"

    def check(self, task: TaskSpec) -> None:
        """Refuse a task whose columns do not fit the transform."""
        if len(task.text_columns) != self.texts:
            raise TaskError(
                f"task {task.name!r}: the {self.name} transform takes {self.texts} text column(s), "
                f"got {list(task.text_columns)}"
            )

    def num_labels(self, task: TaskSpec) -> int:
        """Outputs of the linear head: the classes, or 1 for regression (no `label_names`)."""
        return 1 if task.label_names is None else len(task.label_names)

    def is_regression(self, task: TaskSpec) -> bool:
        return task.label_names is None

    def head_config(self, task: TaskSpec) -> dict[str, Any]:
        """`GPT1Config` attributes the head needs: its outputs, the loss (`problem_type`) and the class names."""
        config: dict[str, Any] = {
            "num_labels": self.num_labels(task),
            "problem_type": "regression" if self.is_regression(task) else "single_label_classification",
        }
        if task.label_names is not None:
            config["id2label"] = dict(enumerate(task.label_names))
            config["label2id"] = {name: i for i, name in enumerate(task.label_names)}
        return config

    def min_length(self, task: TaskSpec) -> int:
        """The shortest `max_length` that holds the framing tokens and one token of each text."""
        return 2 * self.texts + 1 if self.texts > 1 else 3  # _start_ a [_delimiter_ b] _classify_

    def sequences(self, task: TaskSpec, texts: Sequence[str]) -> list[tuple[list[str], str | None]]:
        """One example's sequences, from its text cells in `task.text_columns` order."""
        return [(list(texts[:1]), texts[1] if len(texts) > 1 else None)]

    def truncate(
        self, first: list[list[int]], second: list[int] | None, max_length: int
    ) -> tuple[list[int], list[int] | None]:
        """Token ids cut to fit `max_length` with the framing, ends cut (the authors released no rule for these
        transforms): the `tokenizers` library's `longest_first`, which keeps the shorter text (the first, on a tie)
        whole up to half the budget and gives the other the rest."""
        a = [t for segment in first for t in segment]
        budget = max_length - (3 if second is not None else 2)
        if second is None:
            return a[:budget], None
        b = list(second)
        if len(a) + len(b) > budget:
            if len(a) > len(b):  # a tie caps the first text
                b = b[: budget // 2]
                a = a[: budget - len(b)]
            else:
                a = a[: budget // 2]
                b = b[: budget - len(a)]
        return a, b


@dataclass(frozen=True)
class Similarity(Transform):
    """Both orders of the pair: the model sums their final states, since similarity has no inherent order."""

    def sequences(self, task: TaskSpec, texts: Sequence[str]) -> list[tuple[list[str], str | None]]:
        return [([texts[0]], texts[1]), ([texts[1]], texts[0])]


@dataclass(frozen=True)
class MultipleChoice(Transform):
    """`_start_ context _delimiter_ answer _classify_` per answer; the head takes a softmax over the answers.

    The context is the first `task.context_columns` text columns (Story Cloze: the story; RACE: passage, question).
    Truncation: the authors' Story Cloze rule, each segment cut to `max_length // 2 - 2` tokens keeping its head;
    with a passage (two context columns or more) the answer and the question keep that cap and the passage takes
    what is left, cut from its end (see `truncate`).
    """

    def check(self, task: TaskSpec) -> None:
        answers = len(task.text_columns) - task.context_columns
        if task.context_columns < 1 or answers < 2:
            raise TaskError(
                f"task {task.name!r}: multiple_choice takes {max(task.context_columns, 1)} context column(s) and at "
                f"least two answer columns, got {list(task.text_columns)}"
            )
        if task.label_names is not None and len(task.label_names) != answers:
            raise TaskError(f"task {task.name!r}: {len(task.label_names)} label names for {answers} answers")

    def num_labels(self, task: TaskSpec) -> int:
        return len(task.text_columns) - task.context_columns

    def is_regression(self, task: TaskSpec) -> bool:
        return False

    def head_config(self, task: TaskSpec) -> dict[str, Any]:
        return {}  # one score per answer sequence, whatever the number of answers: nothing to size

    def min_length(self, task: TaskSpec) -> int:
        return 6  # the authors' cap, max_length // 2 - 2, must leave one token per segment

    def sequences(self, task: TaskSpec, texts: Sequence[str]) -> list[tuple[list[str], str | None]]:
        context = list(texts[: task.context_columns])
        return [(context, answer) for answer in texts[task.context_columns :]]

    def truncate(
        self, first: list[list[int]], second: list[int] | None, max_length: int
    ) -> tuple[list[int], list[int] | None]:
        """The authors' rule (their `transform_roc`): each segment at most `max_length // 2 - 2` tokens, head kept.

        A passage (the first of several context segments, RACE's article, often longer than the model's context)
        instead takes whatever the capped question and answer leave, and loses its END: the question and answer are
        what the choice is about and are kept whole; the head of the passage is kept as the authors keep heads, and
        it is where RACE's articles set out their subject.
        """
        half = max_length // 2 - 2
        answer = list(second or [])[:half]
        if len(first) == 1:
            return first[0][:half], answer
        question = [t for segment in first[1:] for t in segment][:half]
        passage = first[0][: max(max_length - 3 - len(question) - len(answer), 0)]
        return passage + question, answer


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("classification", "_start_ text _classify_", 1, GPT1ForSequenceClassification),
        Transform("entailment", "_start_ premise _delimiter_ hypothesis _classify_", 2, GPT1ForSequenceClassification),
        Similarity(
            "similarity", "_start_ a _delimiter_ b _classify_ and _start_ b _delimiter_ a _classify_", 2,
            GPT1ForSequenceClassification,
        ),
        MultipleChoice(
            "multiple_choice", "_start_ context _delimiter_ answer _classify_ per answer", 3, GPT1ForMultipleChoice,
            zero_shot="answer_logprob", card_task="multiple-choice",
        ),
    )
}  # fmt: skip


# The authors' `datasets.py` split the Story Cloze 2016 validation set with this seed: 1,497 train / 374 valid.
STORY_CLOZE_SEED = 3535999445
STORY_CLOZE_VALID = 374

# Bundled with the package (gpt1/demo_data, package data), so it is found after a non-editable install too.
DEMO_DATA = Path(__file__).resolve().parent / "demo_data" / "classification"


@dataclass(frozen=True)
class TaskSpec:
    """One fine-tuning task: where its data is, which columns hold what, how the input is arranged, how it is scored.

    Attributes:
        name: The task's name on the command line (`--task`).
        transform: A key of `TRANSFORMS` (what `--transform` and `results.json` say); `transformation` is the object.
        text_columns: classification: `(text,)`; entailment/similarity: `(first, second)`; multiple_choice:
            `(context..., answer_1, ..., answer_k)` with `context_columns` context columns.
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
        data_files: A custom task's files, split -> path (`custom_task`).
        context_columns: Multiple choice: how many leading text columns form the context (RACE: passage, question).
        drop_labels: Label values that mean "no gold label" (SNLI's `-`): those rows are dropped, the count logged.
        read_file: Reads one file (or folder) in the task's local format: the `--test_file` reader. Its result has
            the text columns, the label when the file has one, and `index` when the file numbers its rows.
        test_file: A `--test_file` to evaluate on (labelled) or predict for (unlabelled) as the `test` split.
        submission: The GLUE submission file's name (`SST-2` for `SST-2.tsv`) for predictions on unlabelled tests.
        label_format: How predictions spell classes: `names`, or `ids` where the task's files use ids (and GLUE's
            submission format expects them).
        zero_shot: The zero-shot heuristic (`gpt1.zero_shot.HEURISTICS`); default: the transform's, if any.
        from_hub: Reshapes the Hub copy's splits into the table's columns, where they differ.
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
    context_columns: int = 1
    drop_labels: tuple[Any, ...] = ()
    read_file: Callable[[Path], Dataset] | None = None
    test_file: str | None = None
    submission: str | None = None
    label_format: str = "names"
    zero_shot: str | None = None
    from_hub: Callable[[DatasetDict], DatasetDict] | None = None

    def __post_init__(self) -> None:
        if self.transform not in TRANSFORMS:
            raise TaskError(
                f"task {self.name!r}: unknown transform {self.transform!r}; choose from {', '.join(TRANSFORMS)}"
            )
        self.transformation.check(self)

    @property
    def transformation(self) -> Transform:
        """The input transformation object that `transform` names."""
        return TRANSFORMS[self.transform]

    @property
    def is_regression(self) -> bool:
        return self.transformation.is_regression(self)

    @property
    def num_labels(self) -> int:
        """Outputs of the linear head: classes, 1 for regression, answers for multiple choice."""
        return self.transformation.num_labels(self)

    @property
    def heuristic(self) -> str | None:
        """The zero-shot heuristic that scores this task (Fig. 2 right), or None where the paper has none."""
        return self.zero_shot or self.transformation.zero_shot

    @property
    def main_metric(self) -> str:
        return self.metrics[0]

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.text_columns, self.label_column)


# --- local loaders: each task's files in their original release format --------------------------------------------


def read_tsv(path: Path, header: bool = True, names: Sequence[str] | None = None) -> pd.DataFrame:
    """A GLUE TSV as strings. Quotes are literal text in GLUE (QUOTE_NONE, as the GLUE loaders read them)."""
    if not path.is_file():
        raise MissingDataError(f"missing data file {path}")
    try:
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
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise TaskError(f"cannot read {path} as a tab-separated file: {' '.join(str(err).split())}") from None


def _check_suffix(path: Path, suffixes: Sequence[str], what: str) -> None:
    if path.suffix.lower() not in suffixes:
        raise TaskError(f"{path}: expected {what} ({' or '.join(suffixes)}), got a {path.suffix or 'suffix-less'} file")


def _frame(df: pd.DataFrame, columns: dict[str, str]) -> Dataset:
    """Select and rename `columns` (file name -> Hub name); labels stay text until `normalize_labels`."""
    return Dataset.from_pandas(df[list(columns)].rename(columns=columns).reset_index(drop=True), preserve_index=False)


def tsv_reader(
    columns: dict[str, str], header: bool = True, names: Sequence[str] | None = None, what: str = "a GLUE TSV file"
) -> Callable[[Path], Dataset]:
    """A reader of one TSV in a task's format: `columns` (file name -> table name) are selected; the label may be
    absent (GLUE's test files), and the row id (`index`, or QQP's `id`) is kept as `index`."""

    def read(path: Path) -> Dataset:
        _check_suffix(path, (".tsv",), what)
        df = read_tsv(path, header=header)
        if not header:  # a row of another width would be silently re-aligned by pandas: refuse it instead
            if df.shape[1] != len(names):
                raise TaskError(f"{path} has {df.shape[1]} tab-separated fields per row; {what} has {list(names)}")
            df.columns = list(names)
        missing = [c for c, name in columns.items() if c not in df.columns and name != "label"]
        if missing:
            raise TaskError(f"{path} lacks column(s) {missing}; it has {list(df.columns)}")
        kept = {c: name for c, name in columns.items() if c in df.columns}
        row_id = next((c for c in ("index", "id") if c in df.columns and c not in kept), None)
        return _frame(df, {**kept, **({row_id: "index"} if row_id else {})})

    return read


def _files_loader(read: Callable[[Path], Dataset], files: dict[str, str]) -> Callable[[Path], DatasetDict]:
    """A loader for a folder holding one file per split (`files`: split -> name), each read by `read`. A missing
    training file is allowed (evaluation-only tasks)."""

    def load(folder: Path) -> DatasetDict:
        return DatasetDict(
            {
                split: read(folder / name)
                for split, name in files.items()
                if split != "train" or (folder / name).exists()
            }
        )

    return load


GLUE_FILES = {"train": "train.tsv", "validation": "dev.tsv"}


def _glue(columns: dict[str, str], files: dict[str, str] = GLUE_FILES, **layout: Any) -> dict[str, Any]:
    """A GLUE row's readers: its folder (`train.tsv`, `dev.tsv`, as `files`) and a `--test_file` (GLUE's test.tsv,
    which always has a header row, even CoLA's)."""
    return {"load_local": _files_loader(tsv_reader(columns, **layout), files), "read_file": tsv_reader(columns)}


def load_mrpc(folder: Path) -> DatasetDict:
    """MRPC: `train.tsv` of the GLUE script lacks one pair, so train is rebuilt as `msr_paraphrase_train.txt` minus
    the pairs listed in `dev_ids.tsv` (3,668 pairs, the official count); dev is `dev.tsv`."""
    full = read_tsv(folder / "msr_paraphrase_train.txt")
    dev_ids = read_tsv(folder / "dev_ids.tsv", header=False, names=["#1 ID", "#2 ID"])
    dev_pairs = set(zip(dev_ids["#1 ID"], dev_ids["#2 ID"]))
    train = full[[pair not in dev_pairs for pair in zip(full["#1 ID"], full["#2 ID"])]]
    return DatasetDict(train=_frame(train, MRPC_COLUMNS), validation=read_mrpc(folder / "dev.tsv"))


MRPC_COLUMNS = {"#1 String": "sentence1", "#2 String": "sentence2", "Quality": "label"}
read_mrpc = tsv_reader(MRPC_COLUMNS)


def read_story_cloze(path: Path) -> Dataset:
    """A Story Cloze 2016 CSV (validation or test: the same columns): the story is the four sentences joined by
    spaces, as the authors' `datasets.py`, and the label is `AnswerRightEnding - 1`."""
    _check_suffix(path, (".csv",), "a Story Cloze 2016 CSV file")
    if not path.is_file():
        raise MissingDataError(f"missing data file {path}")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    sentences = [f"InputSentence{i}" for i in range(1, 5)]
    needed = [*sentences, "RandomFifthSentenceQuiz1", "RandomFifthSentenceQuiz2", "AnswerRightEnding"]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise TaskError(f"{path} lacks column(s) {missing}; it has {list(df.columns)}")
    return Dataset.from_dict(
        {
            "story": [" ".join(row) for row in df[sentences].itertuples(index=False)],
            "ending1": df["RandomFifthSentenceQuiz1"].tolist(),
            "ending2": df["RandomFifthSentenceQuiz2"].tolist(),
            "label": story_cloze_labels(df["AnswerRightEnding"].tolist(), path),
            "index": df["InputStoryid"].tolist() if "InputStoryid" in df.columns else [str(i) for i in range(len(df))],
        }
    )


def load_story_cloze(folder: Path) -> DatasetDict:
    """Story Cloze 2016: the authors fine-tuned on the validation set, split 1,497 / 374 with their seed
    (`sklearn.model_selection.train_test_split(..., test_size=374, random_state=3535999445)`, as their
    `datasets.py`); the 2016 test set is a `--test_file`."""
    from sklearn.model_selection import train_test_split

    path = folder / "storycloze_val_2016.csv"
    rows = read_story_cloze(path)
    if len(rows) <= STORY_CLOZE_VALID:
        raise TaskError(f"{path} has {len(rows)} rows; the authors' split needs more than {STORY_CLOZE_VALID}")
    columns = ["story", "ending1", "ending2", "label", "index"]
    cells = rows.to_dict()
    split = train_test_split(*(cells[c] for c in columns), test_size=STORY_CLOZE_VALID, random_state=STORY_CLOZE_SEED)
    train, valid = split[0::2], split[1::2]
    return DatasetDict(
        train=Dataset.from_dict(dict(zip(columns, train))), validation=Dataset.from_dict(dict(zip(columns, valid)))
    )


def story_cloze_labels(answers: Sequence[str], path: Path) -> list[int]:
    """`AnswerRightEnding` (1 or 2) as the choice index 0 or 1; any other value is an error naming its row."""
    bad = [i for i, answer in enumerate(answers) if answer.strip() not in ("1", "2")]
    if bad:
        more = f" ({len(bad)} rows in all)" if len(bad) > 1 else ""
        raise TaskError(
            f"{path}, row {bad[0] + 1} after the header: AnswerRightEnding must be 1 or 2, got {answers[bad[0]]!r}{more}"
        )
    return [int(answer) - 1 for answer in answers]


SNLI_COLUMNS = {"sentence1": "premise", "sentence2": "hypothesis", "gold_label": "label", "pairID": "index"}


def read_snli(path: Path) -> Dataset:
    """One file of the SNLI 1.0 release: `snli_1.0_<split>.jsonl` (one JSON object a line) or the `.txt` (a TSV with
    a header row), as the Hub's columns (`premise`, `hypothesis`, `label`); `pairID` is the row's `index`."""
    _check_suffix(path, (".jsonl", ".txt"), "an SNLI 1.0 file")
    if path.suffix.lower() == ".txt":
        df = read_tsv(path)
    else:
        if not path.is_file():
            raise MissingDataError(f"missing data file {path}")
        records = []
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                try:
                    record = json.loads(line) if line.strip() else None
                except json.JSONDecodeError as err:
                    raise TaskError(f"{path}, line {number}: not JSON ({err.msg})") from None
                if record is not None and not isinstance(record, dict):
                    raise TaskError(f"{path}, line {number}: a JSON object per line expected")
                if record is not None:
                    records.append(record)
        df = pd.DataFrame.from_records(records, columns=sorted({k for r in records for k in r}) or list(SNLI_COLUMNS))
    missing = [c for c in SNLI_COLUMNS if c not in df.columns]
    if missing:
        raise TaskError(f"{path} lacks column(s) {missing}; it has {list(df.columns)}")
    return _frame(df.astype({c: str for c in SNLI_COLUMNS}), SNLI_COLUMNS)


def load_snli(folder: Path) -> DatasetDict:
    """The SNLI 1.0 release folder (`snli_1.0/`): train and dev, the `.jsonl` files, else the `.txt` ones."""
    splits = {}
    for split, name in (("train", "train"), ("validation", "dev")):
        jsonl = folder / f"snli_1.0_{name}.jsonl"
        splits[split] = read_snli(jsonl if jsonl.is_file() else folder / f"snli_1.0_{name}.txt")
    return DatasetDict(splits)


SCITAIL_NAMES = ("premise", "hypothesis", "label")
read_scitail = tsv_reader(
    {n: n for n in SCITAIL_NAMES}, header=False, names=SCITAIL_NAMES, what="SciTail's tsv_format (no header)"
)


def load_scitail(folder: Path) -> DatasetDict:
    """SciTail 1.1's `tsv_format/` (the folder itself, or `SciTailV1.1/` holding it): premise, hypothesis, label."""
    folder = folder / "tsv_format" if (folder / "tsv_format").is_dir() else folder
    return _files_loader(read_scitail, {"train": "scitail_1.0_train.tsv", "validation": "scitail_1.0_dev.tsv"})(folder)


RACE_COLUMNS = ("article", "question", "option1", "option2", "option3", "option4")


def read_race(path: Path, levels: Sequence[str] = ("middle", "high")) -> Dataset:
    """RACE: one JSON article per `.txt` file (`article`, `questions`, `options`, `answers` A-D, `id`), one row per
    question. `path` is a file, or a folder: its `levels` subfolders (`middle`, `high`) where it has them (a split
    folder such as `RACE/test`), else every `.txt` file under it."""
    if path.is_dir():
        subfolders = [path / level for level in levels if (path / level).is_dir()]
        files = sorted(f for folder in (subfolders or [path]) for f in folder.rglob("*.txt"))
        if not files:
            raise MissingDataError(f"no RACE .txt files under {path}")
    elif path.is_file():
        files = [path]
    else:
        raise MissingDataError(f"missing data file {path}")
    rows: dict[str, list] = {c: [] for c in (*RACE_COLUMNS, "label", "index")}
    for file in files:
        try:
            item = json.loads(file.read_text(encoding="utf-8"))
            questions, options, answers = item["questions"], item["options"], item["answers"]
            article, name = item["article"], item.get("id", file.name)
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError, KeyError) as err:
            raise TaskError(f"{file}: not a RACE article (a JSON object with article, questions, options, answers: "
                            f"{' '.join(str(err).split())})") from None  # fmt: skip
        if not len(questions) == len(options) == len(answers) or any(len(o) != 4 for o in options):
            raise TaskError(f"{file}: every question needs 4 options and an answer")
        for q, (question, choices, answer) in enumerate(zip(questions, options, answers)):
            for column, value in zip(RACE_COLUMNS, (article, question, *choices)):
                rows[column].append(value)
            rows["label"].append(answer)
            rows["index"].append(f"{name}-{q}")
    return Dataset.from_dict(rows)


def _race(levels: Sequence[str], hub_config: str) -> dict[str, Any]:
    """A RACE row's columns and readers for its `levels`: the release folder (`train/` and `dev/`, each holding
    `middle/` and `high/`), a `--test_file` (`RACE/test`, a level's folder or one article) and the Hub copy."""

    def load(folder: Path) -> DatasetDict:
        return DatasetDict(train=read_race(folder / "train", levels), validation=read_race(folder / "dev", levels))

    return {
        "text_columns": RACE_COLUMNS, "context_columns": 2, "label_names": ("A", "B", "C", "D"), "local_dir": "RACE",
        "load_local": load, "read_file": functools.partial(read_race, levels=levels), "hub": ("ehovy/race", hub_config),
        "from_hub": race_from_hub, "paper_metric": "accuracy",
    }  # fmt: skip


def race_from_hub(data: DatasetDict) -> DatasetDict:
    """`ehovy/race` (`options` a list of four, `answer` a letter) in the table's columns."""

    def flatten(batch: dict[str, list]) -> dict[str, list]:
        out = {f"option{i + 1}": [options[i] for options in batch["options"]] for i in range(4)}
        return {**out, "label": batch["answer"], "index": batch["example_id"]}

    return data.map(flatten, batched=True, remove_columns=["options", "answer", "example_id"])


def read_custom(path: Path) -> Dataset:
    """A CSV/TSV/JSON(L) file, read as a custom task's (the demo's `--test_file`)."""
    return load_files({"test": str(path)})["test"]


# --- the table --------------------------------------------------------------------------------------------------

_ENT = ("entailment", "not_entailment")
_NLI = ("entailment", "neutral", "contradiction")
_PAIR = {"sentence1": "sentence1", "sentence2": "sentence2", "label": "label"}
_MNLI = {"sentence1": "premise", "sentence2": "hypothesis", "gold_label": "label"}
_QQP = {"question1": "question1", "question2": "question2", "is_duplicate": "label"}
# Figures: Tables 2-4 of the paper (GLUE test sets as reported there; Story Cloze on its 2016 test set). MNLI is two
# rows sharing one training set, one per evaluation set (matched, mismatched), as the paper reports two figures.
TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in [
        TaskSpec(
            "sst2", "classification", ("sentence",), label_names=("negative", "positive"),
            hub=("nyu-mll/glue", "sst2"), local_dir="glue/SST-2", **_glue({"sentence": "sentence", "label": "label"}),
            paper=91.3, paper_metric="accuracy", submission="SST-2", label_format="ids", zero_shot="very",
        ),
        TaskSpec(
            "cola", "classification", ("sentence",), label_names=("unacceptable", "acceptable"),
            metrics=("matthews_correlation", "accuracy"), hub=("nyu-mll/glue", "cola"), local_dir="glue/CoLA",
            **_glue({"sentence": "sentence", "label": "label"}, header=False,
                    names=["source", "label", "original_label", "sentence"], what="CoLA's train/dev TSV (no header)"),
            paper=45.4, paper_metric="matthews_correlation", submission="CoLA", label_format="ids",
            zero_shot="threshold",
        ),
        TaskSpec(
            "mrpc", "similarity", ("sentence1", "sentence2"), label_names=("not_equivalent", "equivalent"),
            metrics=("f1", "accuracy"), hub=("nyu-mll/glue", "mrpc"), local_dir="glue/MRPC", load_local=load_mrpc,
            read_file=read_mrpc, paper=82.3, paper_metric="f1", submission="MRPC", label_format="ids",
        ),
        TaskSpec(
            "stsb", "similarity", ("sentence1", "sentence2"), label_range=(0.0, 5.0),
            metrics=("pearsonr", "spearmanr"), hub=("nyu-mll/glue", "stsb"), local_dir="glue/STS-B",
            **_glue({"sentence1": "sentence1", "sentence2": "sentence2", "score": "label"}),
            paper=82.0, paper_metric="pearsonr", submission="STS-B",
        ),
        TaskSpec(
            "qqp", "similarity", ("question1", "question2"), label_names=("not_duplicate", "duplicate"),
            metrics=("f1", "accuracy"), hub=("nyu-mll/glue", "qqp"), local_dir="glue/QQP", **_glue(_QQP),
            paper=70.3, paper_metric="f1", submission="QQP", label_format="ids",
        ),
        TaskSpec(
            "mnli_m", "entailment", ("premise", "hypothesis"), label_names=_NLI, hub=("nyu-mll/glue", "mnli"),
            local_dir="glue/MNLI", **_glue(_MNLI, {"train": "train.tsv", "validation_matched": "dev_matched.tsv"}),
            eval_split="validation_matched", paper=82.1, paper_metric="accuracy", submission="MNLI-m",
        ),
        TaskSpec(
            "mnli_mm", "entailment", ("premise", "hypothesis"), label_names=_NLI, hub=("nyu-mll/glue", "mnli"),
            local_dir="glue/MNLI",
            **_glue(_MNLI, {"train": "train.tsv", "validation_mismatched": "dev_mismatched.tsv"}),
            eval_split="validation_mismatched", paper=81.4, paper_metric="accuracy", submission="MNLI-mm",
        ),
        TaskSpec(
            "rte", "entailment", ("sentence1", "sentence2"), label_names=_ENT,
            hub=("nyu-mll/glue", "rte"), local_dir="glue/RTE", **_glue(_PAIR),
            paper=56.0, paper_metric="accuracy", submission="RTE",
        ),
        TaskSpec(
            "wnli", "entailment", ("sentence1", "sentence2"), label_names=("not_entailment", "entailment"),
            hub=("nyu-mll/glue", "wnli"), local_dir="glue/WNLI", **_glue(_PAIR), submission="WNLI",
            label_format="ids",
        ),
        TaskSpec(
            # Only the dev set is staged here: evaluate a model fine-tuned elsewhere (`--do_train false`).
            "qnli", "entailment", ("question", "sentence"), label_names=_ENT,
            hub=("nyu-mll/glue", "qnli"), local_dir="glue/QNLI",
            **_glue({"question": "question", "sentence": "sentence", "label": "label"}),
            paper=88.1, paper_metric="accuracy", submission="QNLI",
        ),
        TaskSpec(
            # `-` (no annotator majority, -1 on the Hub) is no class: those pairs are dropped.
            "snli", "entailment", ("premise", "hypothesis"), label_names=_NLI, hub=("stanfordnlp/snli", None),
            local_dir="snli_1.0", load_local=load_snli, read_file=read_snli, drop_labels=("-", -1),
            paper=89.9, paper_metric="accuracy",
        ),
        TaskSpec(
            "scitail", "entailment", ("premise", "hypothesis"), label_names=("entails", "neutral"),
            hub=("allenai/scitail", "tsv_format"), local_dir="SciTailV1.1/tsv_format", load_local=load_scitail,
            read_file=read_scitail, paper=88.3, paper_metric="accuracy",
        ),
        TaskSpec(
            # The Hub copy (LSDSem/story_cloze) needs a manual download, so the CSV is read directly.
            "story_cloze", "multiple_choice", ("story", "ending1", "ending2"), local_dir="storycloze",
            load_local=load_story_cloze, read_file=read_story_cloze, paper=86.5, paper_metric="accuracy",
        ),
        TaskSpec("race_m", "multiple_choice", **_race(["middle"], "middle"), paper=62.9),
        TaskSpec("race_h", "multiple_choice", **_race(["high"], "high"), paper=57.4),
        TaskSpec("race", "multiple_choice", **_race(["middle", "high"], "all"), paper=59.0),
        TaskSpec(
            # The bundled sample (gpt1/demo_data/classification): movie-review sentences, CC BY 4.0.
            "demo", "classification", ("sentence",), label_names=("negative", "positive"),
            local_dir=str(DEMO_DATA), read_file=read_custom,
            load_local=lambda folder: load_files({"train": str(folder / "train.csv"),
                                                  "validation": str(folder / "validation.csv")}),
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
    task = TaskSpec(
        name, transform, tuple(text_columns), label_column=label_column,
        label_names=tuple(label_names) if label_names is not None else None,
        metrics=tuple(metrics) if metrics is not None else ("accuracy",), data_files=data_files, read_file=read_custom,
    )  # fmt: skip
    return with_fields(task, metrics=("pearsonr", "spearmanr")) if metrics is None and task.is_regression else task


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
        data = task.from_hub(data) if task.from_hub is not None else data
    else:
        raise TaskError(f"task {task.name!r} has no Hub copy: pass --data_dir with its local files")
    if task.test_file is not None and task.data_files is None:
        data["test"] = read_test_file(task)
    for split, dataset in data.items():
        # A test split may come without labels (GLUE's hidden test sets): predictions only.
        needed = [c for c in task.columns if split != "test" or c != task.label_column]
        missing = [c for c in needed if c not in dataset.column_names]
        if missing:
            hint = " (set --text_columns / --label_column)" if task.data_files is not None else ""
            raise TaskError(f"{_where(task, split)} lacks column(s) {missing}; it has {dataset.column_names}{hint}")
    return DatasetDict(
        {
            split: normalize_labels(task, fill_missing_texts(task, drop_unlabelled(task, dataset, split), split), split)
            for split, dataset in data.items()
        }
    )


def read_test_file(task: TaskSpec) -> Dataset:
    """`task.test_file` read in the task's local format; a file of another format or task is a `TaskError`."""
    if task.read_file is None:
        raise TaskError(f"task {task.name!r} has no reader for a --test_file")
    path = Path(task.test_file)
    if not path.exists():
        raise MissingDataError(f"missing test file {path}")
    try:
        return task.read_file(path)
    except MissingDataError:
        raise
    except TaskError as err:
        raise TaskError(f"--test_file for task {task.name!r}: {one_line(err)}") from None


def has_labels(task: TaskSpec, dataset: Dataset) -> bool:
    """Whether `dataset` carries labels: a label column with at least one label (GLUE's Hub test sets say -1)."""
    if task.label_column not in dataset.column_names:
        return False
    values = dataset.select_columns([task.label_column]).to_dict()[task.label_column]
    return not values or any(v is not None and v != -1 for v in values)


def drop_unlabelled(task: TaskSpec, dataset: Dataset, split: str) -> Dataset:
    """Rows whose label is one of `task.drop_labels` (no gold label: SNLI's `-`) dropped, the count logged; never
    mapped to a class."""
    if not task.drop_labels or task.label_column not in dataset.column_names:
        return dataset
    values = dataset.select_columns([task.label_column]).to_dict()[task.label_column]
    keep = [i for i, v in enumerate(values) if v not in task.drop_labels]
    if len(keep) < len(values):
        logger.info(
            "%s: dropped %d of %d rows with no gold label (%s)",
            _where(task, split), len(values) - len(keep), len(values), "/".join(map(str, task.drop_labels)),
        )  # fmt: skip
        dataset = dataset.select(keep)
    return dataset


def _where(task: TaskSpec, split: str, row: int | None = None) -> str:
    """Where data came from, for messages: the user's file, else the task's split; `row` (0-based) is named
    counting from 1 (after the header row for a custom task's CSV/TSV files; as examples in a task's own format)."""
    path = (task.data_files or {}).get(split) or (task.test_file if split == "test" else None)
    place = str(path) if path is not None else f"task {task.name!r}: the {split} split"
    if row is None:
        return place
    if split not in (task.data_files or {}):  # a task's own format: rows are examples (RACE: one per question)
        return f"{place}, example {row + 1}"
    after = " after the header" if Path(path).suffix.lower() in (".csv", ".tsv") else ""
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
    if not has_labels(task, dataset):
        return dataset  # an unlabelled test split
    values = dataset.select_columns([task.label_column]).to_dict()[task.label_column]  # columnar: fast
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


def text_pairs(task: TaskSpec, batch: dict[str, list]) -> list[list[tuple[list[str], str | None]]]:
    """Per example, the `(texts, text_pair)` of each sequence the transform makes (1 view, 2 orders, k answers)."""
    columns = [[as_text(v) for v in batch[c]] for c in task.text_columns]
    return [task.transformation.sequences(task, row) for row in zip(*columns)]


def encode_batch(task: TaskSpec, tokenizer: Any, batch: dict[str, list], max_length: int) -> dict[str, list]:
    """Tokenize a batch of examples into the task's framed sequences (a `datasets.map` function).

    `input_ids` is one list per example for classification and entailment, and a list of views/answers for
    similarity and multiple choice. Each text is tokenized once; the transform cuts the ids to fit (`truncate`)
    and the tokenizer frames them (`build_inputs_with_special_tokens`), so `_classify_` always ends a sequence.
    `labels` come with the batch's label column, when it has one (an unlabelled test set has none).
    """
    views = text_pairs(task, batch)
    texts = sorted({t for example in views for first, second in example for t in (*first, second) if t is not None})
    ids = dict(zip(texts, tokenizer(texts, add_special_tokens=False)["input_ids"])) if texts else {}
    classify = tokenizer.classify_token_id
    encoded = []
    for example in views:
        rows = []
        for first, second in example:
            a, b = task.transformation.truncate([ids[t] for t in first], ids[second] if second is not None else None,
                                                max_length)  # fmt: skip
            rows.append(tokenizer.build_inputs_with_special_tokens(a, b))
        encoded.append(rows)
    if classify is None or any(not seq or seq[-1] != classify for rows in encoded for seq in rows):
        raise ValueError(
            "the tokenizer does not frame inputs with _start_ ... _classify_: use tokenization.GPT1Tokenizer "
            "prepared with tokenization.prepare_for_finetuning (add_fine_tuning_framing=True)"
        )
    # One sequence per example is a flat list; views and answers are a list per example (`pad_collate`).
    out: dict[str, list] = {"input_ids": [rows if len(rows) > 1 else rows[0] for rows in encoded]}
    if task.label_column in batch:
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


def with_index(dataset: Dataset) -> Dataset:
    """`dataset` with an `index` column naming each row for the predictions files: the file's own ids (`index`, the
    Hub's `idx`), else the row number in the split."""
    if "index" in dataset.column_names:
        return dataset
    if "idx" in dataset.column_names:
        return dataset.rename_column("idx", "index")
    return dataset.add_column("index", [str(i) for i in range(len(dataset))])


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
    "MultipleChoice",
    "Similarity",
    "TaskError",
    "TaskSpec",
    "Transform",
    "as_text",
    "custom_task",
    "drop_unlabelled",
    "encode_batch",
    "fill_missing_texts",
    "get_task",
    "has_labels",
    "load_files",
    "load_mrpc",
    "load_scitail",
    "load_snli",
    "load_story_cloze",
    "load_task_data",
    "normalize_labels",
    "pad_collate",
    "race_from_hub",
    "read_race",
    "read_snli",
    "read_story_cloze",
    "read_test_file",
    "read_tsv",
    "story_cloze_labels",
    "subsample",
    "text_pairs",
    "tsv_reader",
    "with_fields",
    "with_index",
]
