"""`scripts/paper_table.py`: the paper's Tables 2-4 from one checkpoint, ours beside the paper's figures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gpt1.finetune_args import FinetuneArguments, PaperTrainingArguments
from gpt1.paper_table import (
    PAPER_GLUE_SCORE,
    PaperTableArguments,
    main,
    paper_tasks,
    run_paper_table,
    table_rows,
)
from tests.conftest import SHARED_DATA, cli_error


def data_root(source: Path, folder: Path, tasks: list[str]) -> Path:
    """A data folder laid out like ../shared/data holding only `tasks`' GLUE folders (links to those of `source`)."""
    (folder / "glue").mkdir(parents=True)
    for name in tasks:
        (folder / "glue" / name).symlink_to(source / "glue" / name, target_is_directory=True)
    return folder


# The paper's columns in its order: Table 2, then 3, then 4, each left to right.
PAPER_ORDER = ["MNLI-m", "MNLI-mm", "SNLI", "SciTail", "QNLI", "RTE", "Story Cloze", "RACE-m", "RACE-h", "RACE", "CoLA",
               "SST-2", "MRPC", "STS-B", "QQP"]  # fmt: skip


def test_tables_hold_every_paper_figure_ours_where_the_data_is(sample_data, tiny_lm, tmp_path):
    data = data_root(sample_data, tmp_path / "data", ["RTE", "CoLA", "QNLI"])  # no SST-2 folder; QNLI: dev only
    finetune_args = FinetuneArguments(
        model_name_or_path=str(tiny_lm), data_dir=str(data), add_special_tokens=True, max_train_samples=8,
        max_eval_samples=4, max_length=24,
    )  # fmt: skip
    training_args = PaperTrainingArguments(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=8, max_steps=2, save_strategy="no",
        eval_strategy="no",
    )  # fmt: skip
    selected = ["rte", "cola", "sst2", "qnli"]
    table = run_paper_table(PaperTableArguments(tasks=selected), finetune_args, training_args)
    assert table == json.loads((tmp_path / "out" / "paper_table.json").read_text())
    rows = {row["column"]: row for row in table["rows"]}
    assert list(rows) == PAPER_ORDER  # every figure of the paper, in its order
    for task in paper_tasks():  # the paper's figure, metric and table of every row are the task row's
        row = rows[task.paper.column]
        assert (row["table"], row["task"], row["metric"], row["paper"], row["glue"]) == (
            task.paper.table, task.name, task.paper.metric, task.paper.figure, task.paper.glue,
        )  # fmt: skip
        if task.name in ("rte", "cola"):
            saved = json.loads((tmp_path / "out" / task.name / "results.json").read_text())["runs"][0]
            assert row["status"] == "ran" and row["ours"] == saved["metrics"][task.paper.metric]
            assert row["split"] == "validation, random 4 of 6"  # the sample's dev sets have 6 rows
        elif task.name == "sst2":
            assert row["status"].startswith("skipped: ") and "SST-2" in row["status"] and row["ours"] is None
        elif task.name == "qnli":
            assert row["status"] == f"skipped: no training split in its data under {data} (only validation)"
        else:
            assert row["status"] == "not selected (--tasks)"
    glue = table["glue_average"]
    assert glue["columns"] == ["RTE", "CoLA"]
    assert glue["ours"] == pytest.approx(50 * (rows["RTE"]["ours"] + rows["CoLA"]["ours"]))
    assert glue["paper_same_columns"] == pytest.approx((56.0 + 45.4) / 2)

    markdown = (tmp_path / "out" / "paper_table.md").read_text()
    for heading in ("## Table 2: Natural language inference", "## Table 3: Question answering and commonsense",
                    "## Table 4: Semantic similarity and classification"):  # fmt: skip
        assert heading in markdown
    rte = f"| RTE | rte | accuracy | {100 * rows['RTE']['ours']:.1f} | 56.0 | validation, random 4 of 6 | ran |"
    assert rte in markdown and "| Story Cloze | story_cloze | accuracy | - | 86.5 | - | not selected" in markdown
    assert f"| GLUE avg | 2 of 9 GLUE columns | mean of the above | {glue['ours']:.1f} | 50.7 |" in markdown
    assert "test-set results" in markdown and "nine tasks" in markdown


def test_with_seeds_ours_is_the_median():
    summary = {
        "seeds": [1, 2, 3], "median": {"accuracy": 0.6}, "mean": {"accuracy": 0.55}, "std": {"accuracy": 0.05},
        "eval_examples": 277,
    }  # fmt: skip
    row = next(r for r in table_rows({"rte": summary}, {}) if r["task"] == "rte")
    assert (row["ours"], row["mean"], row["std"], row["seeds"]) == (0.6, 0.55, 0.05, [1, 2, 3])


def paper_md_figures(text: str) -> dict[str, float]:
    """PAPER.md's results table as {column: figure}: `MNLI-m / mm (acc) | 82.1 / 81.4` is MNLI-m and MNLI-mm,
    `RACE-m / h / all` is RACE-m, RACE-h and RACE."""
    section = text.split("## Results", 1)[1].split("\n## ", 1)[0]
    figures = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        for label, values in zip(cells[::2], cells[1::2]):
            if not re.fullmatch(r"[\d. /]+", values):
                continue
            first, *more = [p.strip() for p in label.split(" (")[0].split("/")]
            base = first.rsplit("-", 1)[0]
            names = [first, *(base if p == "all" else f"{base}-{p}" for p in more)]
            figures.update(zip(names, (float(v) for v in values.split("/")), strict=True))
    return figures


def test_layout_figures_are_the_papers():
    """The task rows' figures compared with PAPER.md (a summary of the paper nobody here wrote for this code)."""
    paper_md = SHARED_DATA.parent / "PAPER.md"  # ../shared/PAPER.md, beside the data folder
    if not paper_md.is_file():
        pytest.skip(f"needs ../shared/PAPER.md (the paper's figures to compare the layout with); absent at {paper_md}")
    text = paper_md.read_text()
    assert {task.paper.column: task.paper.figure for task in paper_tasks()} == paper_md_figures(text)
    assert f"GLUE score {PAPER_GLUE_SCORE}" in text


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--tasks", "rte", "wnli"], r"--tasks: \['wnli'\] not in the paper's tables; choose from .*rte"),
        (["--seeds", "1", "1"], r"--seeds lists \[1\] more than once"),
        (["--data_dir", None], "--data_dir is required"),
        (["--max_steps", "0"], "--max_steps must be a positive integer"),
        (["--train_file", "x.csv"], "--train_file name one task's files; the paper table reads every task's files"),
    ],
)
def test_cli_mistakes_are_one_error_before_any_run(sample_data, tiny_lm, tmp_path, capsys, extra, message):
    options = {"--model_name_or_path": [str(tiny_lm)], "--data_dir": [str(sample_data)], "--tasks": ["rte"]}
    options |= {"--output_dir": [str(tmp_path / "out")], extra[0]: extra[1:]}
    argv = [a for flag, values in options.items() if values != [None] for a in (flag, *values)]
    assert re.search(message, cli_error(main, argv, capsys))
    assert not (tmp_path / "out").exists()
