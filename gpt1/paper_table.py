"""The paper's results tables (Tables 2, 3 and 4) in one command: every task with local data, fine-tuned from one
checkpoint, our figure beside the paper's.

    python scripts/paper_table.py --model_name_or_path outputs/pretrain/model --data_dir ../shared/data \
        [--tasks rte story_cloze ...] [--seeds 1 2 3] [--max_train_samples 2000 --max_steps 200 ...]

The layout is data (`PAPER_COLUMNS`): one row per figure of the paper, naming its table, its column, the task of
`gpt1.tasks.TASKS` that produces it, the metric and the paper's figure. Each task runs once (`finetune_seeds`, so
`--seeds` and every `scripts/finetune.py` and Trainer flag apply to all of them), in `<output_dir>/<task>`. A column
whose task has no row in `TASKS` is listed as not available; one whose data is absent under `--data_dir` (or that
has no training split there) is listed as skipped, with the reason. The tables go to `<output_dir>/paper_table.md`
and `paper_table.json`, rewritten after each task.

The paper's figures are on the test sets (PAPER.md); ours are on each task's evaluation split (GLUE: the dev sets;
Story Cloze: the authors' 374-story split of the 2016 validation set), named per row with its size. With several
seeds, ours is the median (the authors report the median of 10 runs for Story Cloze), the mean and sample std beside.
"""

from __future__ import annotations

import dataclasses
import logging
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import TrainingArguments

from .cli import user_error
from .finetuning import (
    FinetuneArguments,
    FinetuneError,
    PaperTrainingArguments,
    finetune_parser,
    finetune_seeds,
    load_config_and_tokenizer,
    parse_arguments,
    seed_runs,
)
from .io import OutputDirError, atomic_write_json, atomic_write_text, check_output_dir
from .results import percent
from .tasks import TASKS, MissingDataError, TaskError, TaskSpec, load_task_data

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaperColumn:
    """One figure of the paper's results tables: where it is printed, which task and metric give ours.

    Attributes:
        table: The paper's table ("Table 2").
        column: The column's heading there ("MNLI-m").
        task: The `gpt1.tasks.TASKS` row that produces our figure.
        metric: The key of our figure in that task's results (`finetune`'s `metrics`, else its `eval_<metric>`).
        paper: The paper's figure (%, test set).
        glue: Whether the column is a GLUE task, i.e. part of `glue_average`.
    """

    table: str
    column: str
    task: str
    metric: str
    paper: float
    glue: bool = False


TABLE_TITLES: dict[str, str] = {
    "Table 2": "Natural language inference",
    "Table 3": "Question answering and commonsense reasoning",
    "Table 4": "Semantic similarity and classification",
}

# The figures of PAPER.md's results (the paper's Tables 2-4, test sets), in the paper's column order.
PAPER_COLUMNS: tuple[PaperColumn, ...] = (
    PaperColumn("Table 2", "MNLI-m", "mnli_m", "accuracy", 82.1, glue=True),
    PaperColumn("Table 2", "MNLI-mm", "mnli_mm", "accuracy", 81.4, glue=True),
    PaperColumn("Table 2", "SNLI", "snli", "accuracy", 89.9),
    PaperColumn("Table 2", "SciTail", "scitail", "accuracy", 88.3),
    PaperColumn("Table 2", "QNLI", "qnli", "accuracy", 88.1, glue=True),
    PaperColumn("Table 2", "RTE", "rte", "accuracy", 56.0, glue=True),
    PaperColumn("Table 3", "Story Cloze", "story_cloze", "accuracy", 86.5),
    PaperColumn("Table 3", "RACE-m", "race_m", "accuracy", 62.9),
    PaperColumn("Table 3", "RACE-h", "race_h", "accuracy", 57.4),
    PaperColumn("Table 3", "RACE", "race", "accuracy", 59.0),
    PaperColumn("Table 4", "CoLA", "cola", "matthews_correlation", 45.4, glue=True),
    PaperColumn("Table 4", "SST-2", "sst2", "accuracy", 91.3, glue=True),
    PaperColumn("Table 4", "MRPC", "mrpc", "f1", 82.3, glue=True),
    PaperColumn("Table 4", "STS-B", "stsb", "pearsonr", 82.0, glue=True),
    PaperColumn("Table 4", "QQP", "qqp", "f1", 70.3, glue=True),
)
# The paper's GLUE score (Table 4): the official benchmark score on the test server, over all nine GLUE tasks
# (WNLI included, F1/accuracy and Pearson/Spearman pairs averaged). Ours cannot be that; see `glue_average`.
PAPER_GLUE_SCORE = 72.8


class PaperTableError(ValueError):
    """A user mistake in the table's options (an unknown task, no data folder); one line, naming it."""


@dataclass
class PaperTableArguments:
    """Which of the paper's tasks to run. The fine-tuning options are `FinetuneArguments`' and the Trainer's,
    shared by every task (`--task` is replaced by each column's task); `scripts/paper_table.py` defaults them to
    `PAPER_TABLE_DEFAULTS`."""

    tasks: list[str] | None = field(
        default=None,
        metadata={"help": "Tasks to run, of " + ", ".join(dict.fromkeys(c.task for c in PAPER_COLUMNS)) + " "
                          "(default: all); the others are listed as not selected."},
    )  # fmt: skip


# The command line's defaults where they differ from `scripts/finetune.py`'s: the fine-tuning tokens added to a
# pretraining checkpoint, no checkpoints or evaluation during training (only the final figure goes in the table).
PAPER_TABLE_DEFAULTS: dict[str, Any] = {
    "output_dir": "outputs/paper_table",
    "add_special_tokens": True,
    "save_strategy": "no",
    "eval_strategy": "no",
}


# `scripts/finetune.py` options that point at one task's files: meaningless for a table of many tasks.
ONE_TASK_OPTIONS = ("train_file", "validation_file", "test_file")


def paper_tasks() -> list[str]:
    """The tasks of `PAPER_COLUMNS`, each once, in the paper's order."""
    return list(dict.fromkeys(c.task for c in PAPER_COLUMNS))


def task_status(name: str, data_dir: str | None) -> tuple[TaskSpec | None, str, int | None]:
    """The task, "ok" and the size of its evaluation split when it can be fine-tuned from `data_dir`; else None, why
    not ("not available: ..." without a `TASKS` row, "skipped: ..." without its data or a training split) and None."""
    task = TASKS.get(name)
    if task is None:
        return None, f"not available: gpt1.tasks.TASKS has no task {name!r}", None
    try:
        data = load_task_data(task, data_dir)
    except MissingDataError as err:
        if task.local_dir and not (Path(data_dir or ".") / task.local_dir).is_dir():
            return None, f"skipped: no {task.local_dir}/ under {data_dir}", None
        return None, f"skipped: {err}", None
    if task.train_split not in data:
        return None, f"skipped: no training split in its data under {data_dir} (only {', '.join(data)})", None
    return task, "ok", len(data[task.eval_split])


def _root(training_args: TrainingArguments) -> Path:
    return Path(training_args.output_dir or PAPER_TABLE_DEFAULTS["output_dir"])


def plan_runs(
    args: PaperTableArguments, finetune_args: FinetuneArguments, training_args: TrainingArguments
) -> tuple[list[tuple[str, FinetuneArguments, TrainingArguments]], dict[str, str], dict[str, int]]:
    """The runs (`(task, FinetuneArguments, TrainingArguments)`, each writing to `<output_dir>/<task>`) and the
    status of every paper task, and the size of each runnable task's evaluation split. Every run is checked (options, seeds, output folders, the checkpoint) before the
    first starts: a table is hours of fine-tuning, and the last task must not fail on a typo."""
    known = paper_tasks()
    selected = known if args.tasks is None else args.tasks
    unknown = [t for t in selected if t not in known]
    if unknown:
        raise PaperTableError(f"--tasks: {unknown} not in the paper's tables; choose from {', '.join(known)}")
    if finetune_args.data_dir is None:
        raise PaperTableError("--data_dir is required: a folder laid out like ../shared/data with the tasks' files")
    one_task = [f"--{name}" for name in ONE_TASK_OPTIONS if getattr(finetune_args, name, None) is not None]
    if one_task:
        raise PaperTableError(
            f"{', '.join(one_task)} name one task's files; the paper table reads every task's files from --data_dir"
        )
    check_output_dir(_root(training_args), overwrite=True)
    status: dict[str, str] = {}
    eval_sizes: dict[str, int] = {}
    runs = []
    for name in known:
        if name not in selected:
            status[name] = "not selected (--tasks)"
            continue
        task, status[name], size = task_status(name, finetune_args.data_dir)
        if task is None:
            continue
        eval_sizes[name] = size
        run = dataclasses.replace(finetune_args, task=name)
        run_training = dataclasses.replace(training_args, output_dir=str(_root(training_args) / name), run_name=name)
        seed_runs(run, run_training)  # the checks of `finetune` (and of --seeds), for each task
        runs.append((name, run, run_training))
    if runs:
        load_config_and_tokenizer(runs[0][1], TASKS[runs[0][0]])  # the checkpoint and tokenizer load
    return runs, status, eval_sizes


def our_figure(results: dict[str, Any], metric: str) -> dict[str, Any]:
    """Our figure for `metric` from `finetune_seeds`' results: the run's, or with several seeds their median, with
    the mean, the sample std and the seeds. Figures are fractions, as the metrics return them."""
    if "seeds" in results:  # `results.seed_summary`
        return {
            "ours": results["median"].get(metric),
            "mean": results["mean"].get(metric),
            "std": results["std"].get(metric),
            "seeds": results["seeds"],
        }
    value = results["metrics"].get(metric, results.get("eval", {}).get(f"eval_{metric}"))
    return {"ours": value, "mean": None, "std": None, "seeds": [results["settings"]["seed"]]}


def split_note(split: str, used: int, size: int | None) -> str:
    """Which examples our figure is on: `validation, all 277` or `validation, random 400 of 1,043`."""
    if size is None or used >= size:
        return f"{split}, all {used:,}" if size is not None else f"{split}, {used:,} examples"
    return f"{split}, random {used:,} of {size:,}"


def table_rows(
    done: dict[str, dict[str, Any]], status: dict[str, str], eval_sizes: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    """One row per `PAPER_COLUMNS` entry: the paper's figure from the layout, ours from the task's results (`done`,
    by task) with the split it is on (and how much of it, given the split's full size `eval_sizes`), or why there is
    none."""
    rows = []
    for column in PAPER_COLUMNS:
        row: dict[str, Any] = {**dataclasses.asdict(column), "ours": None, "mean": None, "std": None, "seeds": None}
        results = done.get(column.task)
        if results is not None:
            row.update(our_figure(results, column.metric))
            task = TASKS[column.task]
            row["split"] = split_note(task.eval_split, results["eval_examples"], (eval_sizes or {}).get(column.task))
            row["status"] = "ran" if row["ours"] is not None else f"no {column.metric!r} in the task's results"
        else:
            row["split"] = None
            row["status"] = status.get(column.task, "not run yet")
        rows.append(row)
    return rows


def glue_average(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The unweighted mean, in %, of the headline figure of each GLUE column that has one of ours (MNLI-m and
    MNLI-mm, QNLI, RTE: accuracy; CoLA: Matthews correlation; SST-2: accuracy; MRPC, QQP: F1; STS-B: Pearson),
    over the columns present only, with the paper's figures averaged over the same columns beside it. Not the
    official GLUE score (`PAPER_GLUE_SCORE`: all nine tasks on the test server, pairs of metrics averaged)."""
    present = [r for r in rows if r["glue"] and r["ours"] is not None]
    if not present:
        return None
    return {
        "ours": statistics.fmean(100 * r["ours"] for r in present),
        "paper_same_columns": statistics.fmean(r["paper"] for r in present),
        "columns": [r["column"] for r in present],
        "metrics": {r["column"]: r["metric"] for r in present},
        "paper_glue_score": PAPER_GLUE_SCORE,
    }


def _cell(row: dict[str, Any]) -> str:
    """Our figure as the paper prints it; with several seeds the median, then `mean ± std` of the seeds."""
    if row["ours"] is None:
        return "-"
    if row["mean"] is None:
        return percent(row["ours"])
    std = f" ± {percent(row['std'])}" if row["std"] is not None else ""
    return f"{percent(row['ours'])} (mean {percent(row['mean'])}{std})"


def tables_markdown(table: dict[str, Any]) -> str:
    """The three tables as Markdown, a row per paper figure, then the notes (splits, seeds, the GLUE average)."""
    seeds = table["seeds"]
    lines = [
        "# GPT-1's results tables (Tables 2-4): ours beside the paper's",
        "",
        f"Checkpoint `{table['model_name_or_path']}`{' (random init of its config)' if table['from_scratch'] else ''}"
        f"; data `{table['data_dir']}`; seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}.",
    ]
    for name, title in TABLE_TITLES.items():
        lines += ["", f"## {name}: {title}", ""]
        lines += ["| column | task | metric | ours | paper | ours on | status |", "|---|---|---|---:|---:|---|---|"]
        for row in (r for r in table["rows"] if r["table"] == name):
            lines.append(
                f"| {row['column']} | {row['task']} | {row['metric']} | {_cell(row)} | {row['paper']:.1f} | "
                f"{row['split'] or '-'} | {row['status']} |"
            )
        glue = table["glue_average"]
        if name == "Table 4" and glue is not None:
            lines.append(
                f"| GLUE avg | {len(glue['columns'])} of {sum(c.glue for c in PAPER_COLUMNS)} GLUE columns | "
                f"mean of the above | {glue['ours']:.1f} | {glue['paper_same_columns']:.1f} | "
                f"{', '.join(glue['columns'])} | paper's GLUE score: {glue['paper_glue_score']:.1f} |"
            )
    lines += ["", "Notes:", *(f"- {note}" for note in table["notes"])]
    return "\n".join(lines) + "\n"


def table_notes(seeds: list[int]) -> list[str]:
    """What the figures are: the splits, the seeds, the GLUE average."""
    many = len(seeds) > 1
    return [
        "The paper's figures are its test-set results (PAPER.md, Tables 2-4). Ours are on the split named in "
        "'ours on' (the task's evaluation split and how many of its examples; GLUE: the dev sets, whose test labels "
        "are hidden; Story Cloze: the authors' 374-story split of the 2016 validation set, the other 1,497 stories "
        "being its training set), so the two are not the same examples.",
        "Figures in %; Matthews and Pearson correlations x 100."
        + (f" Ours is the median of {len(seeds)} seeds (mean ± sample std, ddof=1, in brackets)." if many else ""),
        "GLUE avg: the unweighted mean of the headline metric of the GLUE columns that ran (MNLI-m/mm, QNLI, RTE, "
        "SST-2: accuracy; CoLA: Matthews corr.; MRPC, QQP: F1; STS-B: Pearson), the paper's figures averaged over "
        f"the same columns beside it. The paper's GLUE score ({PAPER_GLUE_SCORE}) is the official benchmark "
        "score over all nine tasks on the test server and does not compare with a partial average.",
        "not available: the package has no task row for it yet; skipped: its data is absent under the data folder, "
        "or it has no training split there.",
    ]


def write_tables(
    root: Path, finetune_args: FinetuneArguments, training_args: TrainingArguments, done: dict[str, dict[str, Any]],
    status: dict[str, str], eval_sizes: dict[str, int],
) -> dict[str, Any]:  # fmt: skip
    """`<root>/paper_table.json` (the rows, the GLUE average, the notes) and `paper_table.md`, atomically."""
    rows = table_rows(done, status, eval_sizes)
    seeds = finetune_args.seeds or [training_args.seed]
    table = {
        "model_name_or_path": finetune_args.model_name_or_path,
        "from_scratch": finetune_args.from_scratch,
        "data_dir": finetune_args.data_dir,
        "seeds": seeds,
        "rows": rows,
        "glue_average": glue_average(rows),
        "notes": table_notes(seeds),
        "runs": {name: str(root / name) for name in done},
    }
    atomic_write_json(root / "paper_table.json", table)
    atomic_write_text(root / "paper_table.md", tables_markdown(table))
    return table


def run_paper_table(
    args: PaperTableArguments, finetune_args: FinetuneArguments, training_args: TrainingArguments | None = None
) -> dict[str, Any]:
    """Fine-tune every available paper task (`plan_runs`) and write the tables; returns `paper_table.json`'s content.

    `training_args` default: `PaperTrainingArguments` with `PAPER_TABLE_DEFAULTS`' output folder and strategies.
    """
    if training_args is None:
        defaults = {
            k: v for k, v in PAPER_TABLE_DEFAULTS.items() if k in ("output_dir", "save_strategy", "eval_strategy")
        }
        training_args = PaperTrainingArguments(**defaults)
    runs, status, eval_sizes = plan_runs(args, finetune_args, training_args)
    root = _root(training_args)
    done: dict[str, dict[str, Any]] = {}
    table = write_tables(root, finetune_args, training_args, done, status, eval_sizes)
    for name, run, run_training in runs:
        logger.info("paper table: %s", name)
        done[name] = finetune_seeds(run, run_training)
        # Rewritten after each task, so an interrupted table still shows what finished.
        table = write_tables(root, finetune_args, training_args, done, status, eval_sizes)
    return table


def main(argv: list[str] | None = None) -> int:
    """`scripts/paper_table.py`: run the paper's tasks, print the tables. Bad input exits 2 with one `error:` line.

    The flags are `PaperTableArguments`', `scripts/finetune.py`'s (`--seeds` included) and every Trainer flag, with
    `PAPER_TABLE_DEFAULTS` where they differ.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    parsed = parse_arguments(finetune_parser(PaperTableArguments, defaults=PAPER_TABLE_DEFAULTS), argv)
    if isinstance(parsed, int):
        return parsed
    try:
        table = run_paper_table(*parsed)
    except (PaperTableError, FinetuneError, TaskError, OutputDirError) as e:
        return user_error(e)
    print(tables_markdown(table))
    return 0


__all__ = [
    "PAPER_COLUMNS",
    "PAPER_GLUE_SCORE",
    "PAPER_TABLE_DEFAULTS",
    "TABLE_TITLES",
    "PaperColumn",
    "PaperTableArguments",
    "PaperTableError",
    "glue_average",
    "main",
    "paper_tasks",
    "plan_runs",
    "run_paper_table",
    "table_rows",
    "tables_markdown",
    "task_status",
]
