"""The fine-tuning tasks as data: one row of `TASKS` per task, and `custom_task` for a user's CSV or JSON files.

A row (`TaskSpec`) is a name, one of the paper's input transformations (`gpt1.transforms`) and four records:

- `Columns`: which columns hold the texts and the label, and what the labels may be;
- `Source`: where the data is (the Hub copy, the task's folder in its release format, a `--test_file`) and which
  splits it is trained and scored on; the readers of each release format are `gpt1.readers`;
- `Scoring`: its metrics (headline first), its zero-shot heuristic, how its predictions are written;
- `PaperResult`: what the paper reports for it (Tables 2-5), the one place the paper's figures are written.

Adding a task is adding a row to `TASKS`, written out keyword by keyword (and a reader in `gpt1.readers` when its
files are in a format none of them reads). Loading and checking a task's data is `gpt1.task_data`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict

from .readers import (
    COLA_TRAIN_DEV,
    GLUE_FILES,
    GLUE_PAIR,
    GLUE_SENTENCE,
    MNLI,
    MRPC,
    QNLI,
    QQP,
    RACE_COLUMNS,
    SCITAIL,
    STSB,
    DataFiles,
    SplitFiles,
    load_mrpc,
    load_race,
    load_scitail,
    load_snli,
    load_story_cloze,
    race_from_hub,
    read_custom,
    read_race,
    read_snli,
    read_story_cloze,
)
from .task_errors import TaskError
from .transforms import CLASSIFICATION, ENTAILMENT, MULTIPLE_CHOICE, SIMILARITY, TRANSFORMS, Transform

# Bundled with the package (gpt1/demo_data, package data), so it is found after a non-editable install too.
DEMO_DATA = Path(__file__).resolve().parent / "demo_data" / "classification"


@dataclass(frozen=True)
class Columns:
    """Which columns of a task's data hold what, and what its labels may be.

    Attributes:
        text: classification: `(text,)`; entailment/similarity: `(first, second)`; multiple_choice:
            `(context..., answer_1, ..., answer_k)`, the first `context` of them the context.
        context: Multiple choice: how many leading text columns form the context (RACE: passage, question).
        label: The label: a class id, a class name from `label_names`, or a float for regression.
        label_names: The classes in id order; `None` for regression (a single output, MSE).
        label_range: For regression, the closed interval labels must lie in (`None`: unchecked).
        drop_labels: Label values that mean "no gold label" (SNLI's `-`): those rows are dropped, the count logged.
    """

    text: tuple[str, ...]
    context: int = 1
    label: str = "label"
    label_names: tuple[str, ...] | None = None
    label_range: tuple[float, float] | None = None
    drop_labels: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Source:
    """Where a task's data comes from, and the splits it is trained and scored on.

    Attributes:
        hub: `(path, config)` for `datasets.load_dataset`; `None` when the data only exists as local files.
        from_hub: Reshapes the Hub copy's splits into the table's columns, where they differ.
        local_dir: The task's folder under a data root laid out like `../shared/data` (e.g. `glue/SST-2`).
        load_local: Reads that folder into a `DatasetDict` with the same columns as the Hub copy (`gpt1.readers`).
        read_file: Reads one file (or folder) in the task's local format: the `--test_file` reader. Its result has
            the text columns, the label when the file has one, and `index` when the file numbers its rows.
        data_files: A custom task's files, split -> path (`custom_task`).
        test_file: A `--test_file` to evaluate on (labelled) or predict for (unlabelled) as the `test` split.
        train_split, eval_split: Split names; `train_split=None` for evaluation-only tasks.
    """

    hub: tuple[str, str | None] | None = None
    from_hub: Callable[[DatasetDict], DatasetDict] | None = None
    local_dir: str | None = None
    load_local: Callable[[Path], DatasetDict] | None = None
    read_file: Callable[[Path], Dataset] | None = None
    data_files: Mapping[str, str] | None = None
    test_file: str | None = None
    train_split: str | None = "train"
    eval_split: str = "validation"


@dataclass(frozen=True)
class Scoring:
    """How a task is scored, and how its predictions are written.

    Attributes:
        metrics: `evaluate` modules (see `gpt1.metrics`); the first one's first key is the headline figure.
        zero_shot: The zero-shot heuristic (`gpt1.zero_shot.HEURISTICS`); default: the transform's, if any.
        submission: The GLUE submission file's name (`SST-2` for `SST-2.tsv`) for predictions on unlabelled tests.
        label_format: How predictions spell classes: `names`, or `ids` where the task's files use ids (and GLUE's
            submission format expects them).
    """

    metrics: tuple[str, ...] = ("accuracy",)
    zero_shot: str | None = None
    submission: str | None = None
    label_format: str = "names"


@dataclass(frozen=True)
class PaperResult:
    """What the paper reports for a task: its figure in the results tables (Tables 2-4, test sets), and Table 5's
    ablations where it has them.

    Attributes:
        table: The results table that prints the figure ("Table 2").
        position: Its column's place in that table, from 1 (the paper's order).
        column: The column's heading ("MNLI-m").
        metric: What the figure is: a metric of the task's results ("accuracy", "matthews_correlation", ...).
        figure: The figure, in %.
        glue: Whether the column is a GLUE task (part of `gpt1.paper_table.glue_average`).
        no_pretraining, no_aux_lm: Table 5's figures for those ablation settings; where it has them, its row for the
            full method (`full`) is `figure`.
    """

    table: str
    position: int
    column: str
    metric: str
    figure: float
    glue: bool = False
    no_pretraining: float | None = None
    no_aux_lm: float | None = None

    def ablation(self, setting: str) -> float | None:
        """Table 5's figure for an ablation setting (`gpt1.ablations.SETTINGS`), or None where it has none."""
        if self.no_aux_lm is None:
            return None
        return {"full": self.figure, "no_pretraining": self.no_pretraining, "no_aux_lm": self.no_aux_lm}.get(setting)


@dataclass(frozen=True)
class TaskSpec:
    """One fine-tuning task: its name, its input transformation, and the records that say where its data is, which
    columns hold what, how it is scored and what the paper reports for it."""

    name: str
    transform: Transform
    columns: Columns
    source: Source = Source()
    scoring: Scoring = Scoring()
    paper: PaperResult | None = None

    def __post_init__(self) -> None:
        problem = self.transform.check(self.columns)
        if problem is not None:
            raise TaskError(f"task {self.name!r}: {problem}")

    @property
    def is_regression(self) -> bool:
        return self.transform.is_regression(self.columns)

    @property
    def num_labels(self) -> int:
        """Outputs of the linear head: classes, 1 for regression, answers for multiple choice."""
        return self.transform.num_labels(self.columns)

    @property
    def heuristic(self) -> str | None:
        """The zero-shot heuristic that scores this task (Fig. 2 right), or None where the paper has none."""
        return self.scoring.zero_shot or self.transform.zero_shot

    @property
    def main_metric(self) -> str:
        return self.scoring.metrics[0]

    @property
    def needed_columns(self) -> tuple[str, ...]:
        """The columns every split must have (a test split may lack the label)."""
        return (*self.columns.text, self.columns.label)

    def with_test_file(self, path: str) -> TaskSpec:
        """This task with `path` as its `--test_file`."""
        return dataclasses.replace(self, source=dataclasses.replace(self.source, test_file=path))


# --- the table ---------------------------------------------------------------------------------------------------

_ENT = ("entailment", "not_entailment")
_NLI = ("entailment", "neutral", "contradiction")
_RACE = Columns(text=RACE_COLUMNS, context=2, label_names=("A", "B", "C", "D"))  # passage and question, 4 options
# Figures: Tables 2-5 of the paper (GLUE test sets as reported there; Story Cloze on its 2016 test set). MNLI is two
# rows sharing one training set, one per evaluation set (matched, mismatched), as the paper reports two figures.
# Table 5's MNLI column (full 81.8, no pre-training 75.7, no aux LM 81.1) is neither row's figure (it is their mean,
# rounded), so neither row carries it.
TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in [
        TaskSpec(
            name="sst2",
            transform=CLASSIFICATION,
            columns=Columns(text=("sentence",), label_names=("negative", "positive")),
            source=Source(
                hub=("nyu-mll/glue", "sst2"), local_dir="glue/SST-2",
                load_local=SplitFiles(GLUE_SENTENCE, GLUE_FILES), read_file=GLUE_SENTENCE,
            ),
            scoring=Scoring(zero_shot="very", submission="SST-2", label_format="ids"),
            paper=PaperResult(
                table="Table 4", position=2, column="SST-2", metric="accuracy", figure=91.3, glue=True,
                no_pretraining=84.0, no_aux_lm=92.0,
            ),
        ),
        TaskSpec(
            name="cola",
            transform=CLASSIFICATION,
            columns=Columns(text=("sentence",), label_names=("unacceptable", "acceptable")),
            source=Source(
                hub=("nyu-mll/glue", "cola"), local_dir="glue/CoLA",
                load_local=SplitFiles(COLA_TRAIN_DEV, GLUE_FILES), read_file=GLUE_SENTENCE,
            ),
            scoring=Scoring(
                metrics=("matthews_correlation", "accuracy"), zero_shot="threshold", submission="CoLA",
                label_format="ids",
            ),
            paper=PaperResult(
                table="Table 4", position=1, column="CoLA", metric="matthews_correlation", figure=45.4, glue=True,
                no_pretraining=18.9, no_aux_lm=47.9,
            ),
        ),
        TaskSpec(
            name="mrpc",
            transform=SIMILARITY,
            columns=Columns(text=("sentence1", "sentence2"), label_names=("not_equivalent", "equivalent")),
            source=Source(hub=("nyu-mll/glue", "mrpc"), local_dir="glue/MRPC", load_local=load_mrpc, read_file=MRPC),
            scoring=Scoring(metrics=("f1", "accuracy"), submission="MRPC", label_format="ids"),
            paper=PaperResult(
                table="Table 4", position=3, column="MRPC", metric="f1", figure=82.3, glue=True,
                no_pretraining=79.4, no_aux_lm=84.9,
            ),
        ),
        TaskSpec(
            name="stsb",
            transform=SIMILARITY,
            columns=Columns(text=("sentence1", "sentence2"), label_range=(0.0, 5.0)),
            source=Source(
                hub=("nyu-mll/glue", "stsb"), local_dir="glue/STS-B", load_local=SplitFiles(STSB, GLUE_FILES),
                read_file=STSB,
            ),
            scoring=Scoring(metrics=("pearsonr", "spearmanr"), submission="STS-B"),
            paper=PaperResult(
                table="Table 4", position=4, column="STS-B", metric="pearsonr", figure=82.0, glue=True,
                no_pretraining=30.9, no_aux_lm=83.2,
            ),
        ),
        TaskSpec(
            name="qqp",
            transform=SIMILARITY,
            columns=Columns(text=("question1", "question2"), label_names=("not_duplicate", "duplicate")),
            source=Source(
                hub=("nyu-mll/glue", "qqp"), local_dir="glue/QQP", load_local=SplitFiles(QQP, GLUE_FILES),
                read_file=QQP,
            ),
            scoring=Scoring(metrics=("f1", "accuracy"), submission="QQP", label_format="ids"),
            paper=PaperResult(
                table="Table 4", position=5, column="QQP", metric="f1", figure=70.3, glue=True,
                no_pretraining=65.5, no_aux_lm=69.8,
            ),  # fmt: skip
        ),
        TaskSpec(
            name="mnli_m",
            transform=ENTAILMENT,
            columns=Columns(text=("premise", "hypothesis"), label_names=_NLI),
            source=Source(
                hub=("nyu-mll/glue", "mnli"), local_dir="glue/MNLI",
                load_local=SplitFiles(MNLI, {"train": "train.tsv", "validation_matched": "dev_matched.tsv"}),
                read_file=MNLI, eval_split="validation_matched",
            ),
            scoring=Scoring(submission="MNLI-m"),
            paper=PaperResult(table="Table 2", position=1, column="MNLI-m", metric="accuracy", figure=82.1, glue=True),
        ),
        TaskSpec(
            name="mnli_mm",
            transform=ENTAILMENT,
            columns=Columns(text=("premise", "hypothesis"), label_names=_NLI),
            source=Source(
                hub=("nyu-mll/glue", "mnli"), local_dir="glue/MNLI",
                load_local=SplitFiles(MNLI, {"train": "train.tsv", "validation_mismatched": "dev_mismatched.tsv"}),
                read_file=MNLI, eval_split="validation_mismatched",
            ),
            scoring=Scoring(submission="MNLI-mm"),
            paper=PaperResult(
                table="Table 2", position=2, column="MNLI-mm", metric="accuracy", figure=81.4, glue=True
            ),
        ),
        TaskSpec(
            name="rte",
            transform=ENTAILMENT,
            columns=Columns(text=("sentence1", "sentence2"), label_names=_ENT),
            source=Source(
                hub=("nyu-mll/glue", "rte"), local_dir="glue/RTE", load_local=SplitFiles(GLUE_PAIR, GLUE_FILES),
                read_file=GLUE_PAIR,
            ),
            scoring=Scoring(submission="RTE"),
            paper=PaperResult(
                table="Table 2", position=6, column="RTE", metric="accuracy", figure=56.0, glue=True,
                no_pretraining=53.8, no_aux_lm=54.4,
            ),
        ),
        TaskSpec(
            name="wnli",
            transform=ENTAILMENT,
            columns=Columns(text=("sentence1", "sentence2"), label_names=("not_entailment", "entailment")),
            source=Source(
                hub=("nyu-mll/glue", "wnli"), local_dir="glue/WNLI", load_local=SplitFiles(GLUE_PAIR, GLUE_FILES),
                read_file=GLUE_PAIR,
            ),
            scoring=Scoring(submission="WNLI", label_format="ids"),
        ),
        TaskSpec(
            # Only the dev set is staged here: evaluate a model fine-tuned elsewhere (`--do_train false`).
            name="qnli",
            transform=ENTAILMENT,
            columns=Columns(text=("question", "sentence"), label_names=_ENT),
            source=Source(
                hub=("nyu-mll/glue", "qnli"), local_dir="glue/QNLI", load_local=SplitFiles(QNLI, GLUE_FILES),
                read_file=QNLI,
            ),
            scoring=Scoring(submission="QNLI"),
            paper=PaperResult(
                table="Table 2", position=5, column="QNLI", metric="accuracy", figure=88.1, glue=True,
                no_pretraining=71.2, no_aux_lm=86.9,
            ),
        ),
        TaskSpec(
            # `-` (no annotator majority, -1 on the Hub) is no class: those pairs are dropped.
            name="snli",
            transform=ENTAILMENT,
            columns=Columns(text=("premise", "hypothesis"), label_names=_NLI, drop_labels=("-", -1)),
            source=Source(
                hub=("stanfordnlp/snli", None), local_dir="snli_1.0", load_local=load_snli, read_file=read_snli
            ),
            paper=PaperResult(table="Table 2", position=3, column="SNLI", metric="accuracy", figure=89.9),
        ),
        TaskSpec(
            name="scitail",
            transform=ENTAILMENT,
            columns=Columns(text=("premise", "hypothesis"), label_names=("entails", "neutral")),
            source=Source(
                hub=("allenai/scitail", "tsv_format"), local_dir="SciTailV1.1/tsv_format", load_local=load_scitail,
                read_file=SCITAIL,
            ),
            paper=PaperResult(table="Table 2", position=4, column="SciTail", metric="accuracy", figure=88.3),
        ),
        TaskSpec(
            # The Hub copy (LSDSem/story_cloze) needs a manual download, so the CSV is read directly.
            name="story_cloze",
            transform=MULTIPLE_CHOICE,
            columns=Columns(text=("story", "ending1", "ending2")),
            source=Source(local_dir="storycloze", load_local=load_story_cloze, read_file=read_story_cloze),
            paper=PaperResult(table="Table 3", position=1, column="Story Cloze", metric="accuracy", figure=86.5),
        ),
        TaskSpec(
            name="race_m",
            transform=MULTIPLE_CHOICE,
            columns=_RACE,
            source=Source(
                hub=("ehovy/race", "middle"), from_hub=race_from_hub, local_dir="RACE",
                load_local=functools.partial(load_race, levels=("middle",)),
                read_file=functools.partial(read_race, levels=("middle",)),
            ),
            paper=PaperResult(table="Table 3", position=2, column="RACE-m", metric="accuracy", figure=62.9),
        ),
        TaskSpec(
            name="race_h",
            transform=MULTIPLE_CHOICE,
            columns=_RACE,
            source=Source(
                hub=("ehovy/race", "high"), from_hub=race_from_hub, local_dir="RACE",
                load_local=functools.partial(load_race, levels=("high",)),
                read_file=functools.partial(read_race, levels=("high",)),
            ),
            paper=PaperResult(table="Table 3", position=3, column="RACE-h", metric="accuracy", figure=57.4),
        ),
        TaskSpec(
            name="race",
            transform=MULTIPLE_CHOICE,
            columns=_RACE,
            source=Source(
                hub=("ehovy/race", "all"), from_hub=race_from_hub, local_dir="RACE",
                load_local=functools.partial(load_race, levels=("middle", "high")),
                read_file=functools.partial(read_race, levels=("middle", "high")),
            ),
            paper=PaperResult(table="Table 3", position=4, column="RACE", metric="accuracy", figure=59.0),
        ),
        TaskSpec(
            # The bundled sample (gpt1/demo_data/classification): movie-review sentences, CC BY 4.0.
            name="demo",
            transform=CLASSIFICATION,
            columns=Columns(text=("sentence",), label_names=("negative", "positive")),
            source=Source(
                local_dir=str(DEMO_DATA), load_local=DataFiles({"train": "train.csv", "validation": "validation.csv"}),
                read_file=read_custom,
            ),
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
    data_files: Mapping[str, str] | None = None,
    name: str = "custom",
) -> TaskSpec:
    """A task over a user's CSV/JSON files (`data_files`: split -> path) with the given columns.

    `label_names=None` makes it a regression task (float labels, Pearson/Spearman) unless the transform is
    multiple choice; class labels may be ids or names from `label_names`.
    """
    if transform not in TRANSFORMS:
        raise TaskError(f"task {name!r}: unknown transform {transform!r}; choose from {', '.join(TRANSFORMS)}")
    names = tuple(label_names) if label_names is not None else None
    columns = Columns(text=tuple(text_columns), label=label_column, label_names=names)
    if metrics is None:
        metrics = ("pearsonr", "spearmanr") if TRANSFORMS[transform].is_regression(columns) else ("accuracy",)
    return TaskSpec(
        name=name,
        transform=TRANSFORMS[transform],
        columns=columns,
        source=Source(data_files=data_files, read_file=read_custom),
        scoring=Scoring(metrics=tuple(metrics)),
    )


__all__ = [
    "DEMO_DATA",
    "TASKS",
    "Columns",
    "PaperResult",
    "Scoring",
    "Source",
    "TaskSpec",
    "custom_task",
    "get_task",
]
