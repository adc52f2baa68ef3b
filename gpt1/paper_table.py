"""The paper's results tables (Tables 2, 3 and 4) in one command: every task with local data, fine-tuned from one
checkpoint, our figure beside the paper's.

    python scripts/paper_table.py --model_name_or_path outputs/pretrain/model --data_dir ../shared/data \
        [--tasks rte story_cloze ...] [--seeds 1 2 3] [--max_train_samples 2000 --max_steps 200 ...]

The layout is the task table's: every row of `gpt1.tasks.TASKS` with a `PaperResult` is a figure of the paper (its
table, its column and place there, the metric and the figure). Each task runs once (`finetune_runs.plan_runs`, so
`--seeds` and every `scripts/finetune.py` and Trainer flag apply to all of them), in `<output_dir>/<task>`. A column
whose data is absent under `--data_dir` (or that has no training split there) is listed as skipped, with the
reason. The tables go to `<output_dir>/paper_table.md` and `paper_table.json`, rewritten after each task.

The paper's figures are on the test sets (PAPER.md); ours are on each task's evaluation split (GLUE: the dev sets;
Story Cloze: the authors' 374-story split of the 2016 validation set), named per row with its size. With several
seeds, ours is the median (the authors report the median of 10 runs for Story Cloze), the mean and sample std beside.
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cli import user_error
from .finetune_args import FinetuneArguments, FinetuneError, PaperTrainingArguments, finetune_parser, parse_arguments
from .finetune_runs import Plan, plan_runs
from .finetuning import finetune_group
from .io import OutputDirError, atomic_write_json, atomic_write_text
from .results import percent
from .task_data import load_task_data
from .task_errors import MissingDataError, TaskError
from .task_model import load_config_and_tokenizer
from .tasks import TASKS, TaskSpec

logger = logging.getLogger(__name__)

TABLE_TITLES: dict[str, str] = {
    "Table 2": "Natural language inference",
    "Table 3": "Question answering and commonsense reasoning",
    "Table 4": "Semantic similarity and classification",
}
# The paper's GLUE score (Table 4): the official benchmark score on the test server, over all nine GLUE tasks
# (WNLI included, F1/accuracy and Pearson/Spearman pairs averaged). Ours cannot be that; see `glue_average`.
PAPER_GLUE_SCORE = 72.8


def paper_tasks() -> list[TaskSpec]:
    """The task rows the paper reports a figure for (`TaskSpec.paper`), in the paper's order: by table, then by
    column."""
    reported = [task for task in TASKS.values() if task.paper is not None]
    return sorted(reported, key=lambda task: (task.paper.table, task.paper.position))


class PaperTableError(ValueError):
    """A user mistake in the table's options (an unknown task, no data folder); one line, naming it."""


@dataclass
class PaperTableArguments:
    """Which of the paper's tasks to run. The fine-tuning options are `FinetuneArguments`' and the Trainer's,
    shared by every task (`--task` is replaced by each column's task); `scripts/paper_table.py` defaults them to
    `PAPER_TABLE_DEFAULTS`."""

    tasks: list[str] | None = field(
        default=None,
        metadata={"help": "Tasks to run, of " + ", ".join(task.name for task in paper_tasks()) + " "
                          "(default: all); the others are listed as not selected."},
    )  # fmt: skip

    def __post_init__(self) -> None:
        known = [task.name for task in paper_tasks()]
        unknown = [t for t in self.tasks or () if t not in known]
        if unknown:
            raise PaperTableError(f"--tasks: {unknown} not in the paper's tables; choose from {', '.join(known)}")


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


def task_status(task: TaskSpec, data_dir: str | None) -> tuple[str, int | None]:
    """The status "ok" and the size of the task's evaluation split when it can be fine-tuned from `data_dir`; else
    why not ("skipped: ...", without its data or a training split) and None."""
    try:
        data = load_task_data(task, data_dir)
    except MissingDataError as err:
        if task.source.local_dir and not (Path(data_dir or ".") / task.source.local_dir).is_dir():
            return f"skipped: no {task.source.local_dir}/ under {data_dir}", None
        return f"skipped: {err}", None
    if task.source.train_split not in data:
        return f"skipped: no training split in its data under {data_dir} (only {', '.join(data)})", None
    return "ok", len(data[task.source.eval_split])


def plan_table(
    args: PaperTableArguments, finetune_args: FinetuneArguments, training_args: PaperTrainingArguments
) -> tuple[Plan, dict[str, str], dict[str, int]]:
    """The runs (`finetune_runs.plan_runs`: one setting per task whose data is there, in `<output_dir>/<task>`),
    the status of every paper task, and the size of each runnable task's evaluation split. Every run is checked
    (options, seeds, output folders, the checkpoint) before the first starts: a table is hours of fine-tuning, and
    the last task must not fail on a typo."""
    if finetune_args.data_dir is None:
        raise PaperTableError("--data_dir is required: a folder laid out like ../shared/data with the tasks' files")
    one_task = [f"--{name}" for name in ONE_TASK_OPTIONS if getattr(finetune_args, name) is not None]
    if one_task:
        raise PaperTableError(
            f"{', '.join(one_task)} name one task's files; the paper table reads every task's files from --data_dir"
        )
    status: dict[str, str] = {}
    eval_sizes: dict[str, int] = {}
    for task in paper_tasks():
        if args.tasks is not None and task.name not in args.tasks:
            status[task.name] = "not selected (--tasks)"
            continue
        status[task.name], size = task_status(task, finetune_args.data_dir)
        if size is not None:
            eval_sizes[task.name] = size
    variants = {name: {"task": name} for name in eval_sizes}
    plan = plan_runs(finetune_args, training_args, variants, PAPER_TABLE_DEFAULTS["output_dir"])
    if plan.groups:
        first = plan.groups[0].runs[0]
        load_config_and_tokenizer(first.args, first.task)  # the checkpoint and tokenizer load
    return plan, status, eval_sizes


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
    """One row per figure of the paper (`paper_tasks`): the paper's figure from the task row, ours from the task's
    results (`done`, by task) with the split it is on (and how much of it, given the split's full size
    `eval_sizes`), or why there is none."""
    rows = []
    for task in paper_tasks():
        paper = task.paper
        row: dict[str, Any] = {
            "table": paper.table, "column": paper.column, "task": task.name, "metric": paper.metric,
            "paper": paper.figure, "glue": paper.glue, "ours": None, "mean": None, "std": None, "seeds": None,
        }  # fmt: skip
        results = done.get(task.name)
        if results is not None:
            row.update(our_figure(results, paper.metric))
            size = (eval_sizes or {}).get(task.name)
            row["split"] = split_note(task.source.eval_split, results["eval_examples"], size)
            row["status"] = "ran" if row["ours"] is not None else f"no {paper.metric!r} in the task's results"
        else:
            row["split"] = None
            row["status"] = status.get(task.name, "not run yet")
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
                f"| GLUE avg | {len(glue['columns'])} of {sum(t.paper.glue for t in paper_tasks())} GLUE columns | "
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
        "skipped: its data is absent under the data folder, or it has no training split there.",
    ]


def write_tables(
    root: Path, finetune_args: FinetuneArguments, training_args: PaperTrainingArguments,
    done: dict[str, dict[str, Any]], status: dict[str, str], eval_sizes: dict[str, int],
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
    args: PaperTableArguments, finetune_args: FinetuneArguments, training_args: PaperTrainingArguments | None = None
) -> dict[str, Any]:
    """Fine-tune every available paper task (`plan_table`) and write the tables; returns `paper_table.json`'s
    content.

    `training_args` default: `PaperTrainingArguments` with `PAPER_TABLE_DEFAULTS`' output folder and strategies.
    """
    if training_args is None:
        defaults = {
            k: v for k, v in PAPER_TABLE_DEFAULTS.items() if k in ("output_dir", "save_strategy", "eval_strategy")
        }
        training_args = PaperTrainingArguments(**defaults)
    plan, status, eval_sizes = plan_table(args, finetune_args, training_args)
    done: dict[str, dict[str, Any]] = {}
    table = write_tables(plan.root, finetune_args, training_args, done, status, eval_sizes)
    for group in plan.groups:
        logger.info("paper table: %s", group.name)
        done[group.name] = finetune_group(group)
        # Rewritten after each task, so an interrupted table still shows what finished.
        table = write_tables(plan.root, finetune_args, training_args, done, status, eval_sizes)
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
    "PAPER_GLUE_SCORE",
    "PAPER_TABLE_DEFAULTS",
    "TABLE_TITLES",
    "PaperTableArguments",
    "PaperTableError",
    "glue_average",
    "main",
    "paper_tasks",
    "plan_table",
    "run_paper_table",
    "table_rows",
    "tables_markdown",
    "task_status",
]
