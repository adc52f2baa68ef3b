"""Each task's files in their original release format, read into the task table's columns.

Six release formats: GLUE's TSV files (`TsvFormat`, one per layout, and MRPC's rebuilt training set), the Story
Cloze 2016 CSV (with the authors' split), SNLI 1.0 (JSON lines or TSV), SciTail's header-less TSV, RACE's one JSON
article per file; and a user's CSV/TSV/JSON files (`load_files`). A folder reader (`Source.load_local` of a task
row) takes the task's folder and returns a `DatasetDict`; a file reader (`Source.read_file`, the `--test_file`
reader) takes one file and returns a `Dataset`. Labels stay as the files spell them: `gpt1.task_data` maps them to
class ids and checks them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from datasets import Dataset, DatasetDict, load_dataset
from datasets.exceptions import DatasetGenerationError

from .task_errors import MissingDataError, TaskError

# The authors' `datasets.py` split the Story Cloze 2016 validation set with this seed: 1,497 train / 374 valid.
STORY_CLOZE_SEED = 3535999445
STORY_CLOZE_VALID = 374


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


def _frame(df: pd.DataFrame, columns: Mapping[str, str]) -> Dataset:
    """Select and rename `columns` (file name -> Hub name); labels stay text until `normalize_labels`."""
    return Dataset.from_pandas(df[list(columns)].rename(columns=columns).reset_index(drop=True), preserve_index=False)


# --- GLUE and other TSV layouts ----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TsvFormat:
    """One TSV layout, a reader of one file in it: `columns` (file name -> table name) are selected; the label may
    be absent (GLUE's test files), and the row id (`index`, or QQP's `id`) is kept as `index`.

    Attributes:
        columns: The file's columns to keep, each with its name in the task table.
        header: Whether the first line names the columns; without one, `names` does, and a row of another width
            is an error (pandas would silently re-align it).
        names: The columns of a header-less file, in order.
        what: The layout in words, for messages.
    """

    columns: Mapping[str, str]
    header: bool = True
    names: tuple[str, ...] | None = None
    what: str = "a GLUE TSV file"

    def __call__(self, path: Path) -> Dataset:
        _check_suffix(path, (".tsv",), self.what)
        df = read_tsv(path, header=self.header)
        if not self.header:
            if df.shape[1] != len(self.names):
                raise TaskError(
                    f"{path} has {df.shape[1]} tab-separated fields per row; {self.what} has {list(self.names)}"
                )
            df.columns = list(self.names)
        missing = [c for c, name in self.columns.items() if c not in df.columns and name != "label"]
        if missing:
            raise TaskError(f"{path} lacks column(s) {missing}; it has {list(df.columns)}")
        kept = {c: name for c, name in self.columns.items() if c in df.columns}
        row_id = next((c for c in ("index", "id") if c in df.columns and c not in kept), None)
        return _frame(df, {**kept, **({row_id: "index"} if row_id else {})})


@dataclass(frozen=True, eq=False)
class SplitFiles:
    """A folder holding one file per split (`files`: split -> file name), each read by `read`. A missing training
    file is allowed (evaluation-only tasks)."""

    read: Callable[[Path], Dataset]
    files: Mapping[str, str]

    def __call__(self, folder: Path) -> DatasetDict:
        return DatasetDict(
            {
                split: self.read(folder / name)
                for split, name in self.files.items()
                if split != "train" or (folder / name).exists()
            }
        )


GLUE_FILES = {"train": "train.tsv", "validation": "dev.tsv"}
GLUE_SENTENCE = TsvFormat({"sentence": "sentence", "label": "label"})  # SST-2; CoLA's test.tsv (it has a header)
COLA_TRAIN_DEV = TsvFormat(
    {"sentence": "sentence", "label": "label"}, header=False, names=("source", "label", "original_label", "sentence"),
    what="CoLA's train/dev TSV (no header)",
)  # fmt: skip
GLUE_PAIR = TsvFormat({"sentence1": "sentence1", "sentence2": "sentence2", "label": "label"})  # RTE, WNLI
STSB = TsvFormat({"sentence1": "sentence1", "sentence2": "sentence2", "score": "label"})
QQP = TsvFormat({"question1": "question1", "question2": "question2", "is_duplicate": "label"})
MNLI = TsvFormat({"sentence1": "premise", "sentence2": "hypothesis", "gold_label": "label"})
QNLI = TsvFormat({"question": "question", "sentence": "sentence", "label": "label"})
MRPC = TsvFormat({"#1 String": "sentence1", "#2 String": "sentence2", "Quality": "label"})


def load_mrpc(folder: Path) -> DatasetDict:
    """MRPC: `train.tsv` of the GLUE script lacks one pair, so train is rebuilt as `msr_paraphrase_train.txt` minus
    the pairs listed in `dev_ids.tsv` (3,668 pairs, the official count); dev is `dev.tsv`."""
    full = read_tsv(folder / "msr_paraphrase_train.txt")
    dev_ids = read_tsv(folder / "dev_ids.tsv", header=False, names=["#1 ID", "#2 ID"])
    dev_pairs = set(zip(dev_ids["#1 ID"], dev_ids["#2 ID"]))
    train = full[[pair not in dev_pairs for pair in zip(full["#1 ID"], full["#2 ID"])]]
    return DatasetDict(train=_frame(train, MRPC.columns), validation=MRPC(folder / "dev.tsv"))


SCITAIL_NAMES = ("premise", "hypothesis", "label")
SCITAIL = TsvFormat({n: n for n in SCITAIL_NAMES}, header=False, names=SCITAIL_NAMES,
                    what="SciTail's tsv_format (no header)")  # fmt: skip


def load_scitail(folder: Path) -> DatasetDict:
    """SciTail 1.1's `tsv_format/` (the folder itself, or `SciTailV1.1/` holding it): premise, hypothesis, label."""
    folder = folder / "tsv_format" if (folder / "tsv_format").is_dir() else folder
    return SplitFiles(SCITAIL, {"train": "scitail_1.0_train.tsv", "validation": "scitail_1.0_dev.tsv"})(folder)


# --- Story Cloze 2016 --------------------------------------------------------------------------------------------


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


# --- SNLI 1.0 ----------------------------------------------------------------------------------------------------

SNLI_COLUMNS = {"sentence1": "premise", "sentence2": "hypothesis", "gold_label": "label", "pairID": "index"}


def _json_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines file, blank lines skipped; a line of anything else is an error naming it."""
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
    return records


def read_snli(path: Path) -> Dataset:
    """One file of the SNLI 1.0 release: `snli_1.0_<split>.jsonl` (one JSON object a line) or the `.txt` (a TSV with
    a header row), as the Hub's columns (`premise`, `hypothesis`, `label`); `pairID` is the row's `index`."""
    _check_suffix(path, (".jsonl", ".txt"), "an SNLI 1.0 file")
    if path.suffix.lower() == ".txt":
        df = read_tsv(path)
    else:
        records = _json_lines(path)
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


# --- RACE --------------------------------------------------------------------------------------------------------

RACE_COLUMNS = ("article", "question", "option1", "option2", "option3", "option4")


def _race_files(path: Path, levels: Sequence[str]) -> list[Path]:
    """The article files at `path`: the file itself, or under a folder its `levels` subfolders (where it has them)
    or else the folder itself."""
    if path.is_dir():
        subfolders = [path / level for level in levels if (path / level).is_dir()]
        files = sorted(f for folder in (subfolders or [path]) for f in folder.rglob("*.txt"))
        if not files:
            raise MissingDataError(f"no RACE .txt files under {path}")
        return files
    if path.is_file():
        return [path]
    raise MissingDataError(f"missing data file {path}")


def read_race(path: Path, levels: Sequence[str] = ("middle", "high")) -> Dataset:
    """RACE: one JSON article per `.txt` file (`article`, `questions`, `options`, `answers` A-D, `id`), one row per
    question. `path` is a file, or a folder: its `levels` subfolders (`middle`, `high`) where it has them (a split
    folder such as `RACE/test`), else every `.txt` file under it."""
    rows: dict[str, list] = {c: [] for c in (*RACE_COLUMNS, "label", "index")}
    for file in _race_files(path, levels):
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


def load_race(folder: Path, levels: Sequence[str]) -> DatasetDict:
    """The RACE release folder for `levels`: `train/` and `dev/`, each holding `middle/` and `high/`."""
    return DatasetDict(train=read_race(folder / "train", levels), validation=read_race(folder / "dev", levels))


def race_from_hub(data: DatasetDict) -> DatasetDict:
    """`ehovy/race` (`options` a list of four, `answer` a letter) in the table's columns."""

    def flatten(batch: dict[str, list]) -> dict[str, list]:
        out = {f"option{i + 1}": [options[i] for options in batch["options"]] for i in range(4)}
        return {**out, "label": batch["answer"], "index": batch["example_id"]}

    return data.map(flatten, batched=True, remove_columns=["options", "answer", "example_id"])


# --- a user's CSV/TSV/JSON files ---------------------------------------------------------------------------------


def load_files(data_files: Mapping[str, str]) -> DatasetDict:
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
        return load_dataset("json" if not kwargs else "csv", data_files=dict(data_files), **kwargs)
    except DatasetGenerationError as err:
        cause = err.__cause__ or err
        raise TaskError(f"cannot read {', '.join(data_files.values())}: {' '.join(str(cause).split())}") from None


@dataclass(frozen=True, eq=False)
class DataFiles:
    """A folder's CSV/TSV/JSON files (`files`: split -> file name), read together by `load_files`."""

    files: Mapping[str, str]

    def __call__(self, folder: Path) -> DatasetDict:
        return load_files({split: str(folder / name) for split, name in self.files.items()})


def read_custom(path: Path) -> Dataset:
    """A CSV/TSV/JSON(L) file, read as a custom task's (the demo's `--test_file`)."""
    return load_files({"test": str(path)})["test"]


__all__ = [
    "COLA_TRAIN_DEV",
    "GLUE_FILES",
    "GLUE_PAIR",
    "GLUE_SENTENCE",
    "MNLI",
    "MRPC",
    "QNLI",
    "QQP",
    "RACE_COLUMNS",
    "SCITAIL",
    "STORY_CLOZE_SEED",
    "STORY_CLOZE_VALID",
    "STSB",
    "DataFiles",
    "SplitFiles",
    "TsvFormat",
    "load_files",
    "load_mrpc",
    "load_race",
    "load_scitail",
    "load_snli",
    "load_story_cloze",
    "race_from_hub",
    "read_custom",
    "read_race",
    "read_snli",
    "read_story_cloze",
    "read_tsv",
    "story_cloze_labels",
]
