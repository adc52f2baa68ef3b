"""Results files: the run's figures as JSON, and a Markdown table with the paper's figure beside ours."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .io import atomic_write_json, atomic_write_text

# Table 5 of the paper (GLUE dev/test as reported there), for the ablation settings that have a figure.
PAPER_ABLATIONS: dict[str, dict[str, float]] = {
    "full": {"cola": 45.4, "sst2": 91.3, "mrpc": 82.3, "stsb": 82.0, "qnli": 88.1, "rte": 56.0},
    "no_pretraining": {"cola": 18.9, "sst2": 84.0, "mrpc": 79.4, "stsb": 30.9, "qnli": 71.2, "rte": 53.8},
    "no_aux_lm": {"cola": 47.9, "sst2": 92.0, "mrpc": 84.9, "stsb": 83.2, "qnli": 86.9, "rte": 54.4},
}


def percent(value: float | None) -> str:
    """A 0..1 score as the paper prints it (`91.3`), or `-` when there is none."""
    return "-" if value is None else f"{100 * value:.1f}"


def result_row(results: dict[str, Any]) -> dict[str, Any]:
    """The fields of one run that a table shows (see `finetune` for the full results dict)."""
    metrics = results.get("metrics", {})
    main = results.get("main_metric")
    return {
        "run": results.get("run", results.get("task")),
        "task": results.get("task"),
        "metric": main,
        "ours": metrics.get(main),
        "paper": results.get("paper"),
        "others": {k: v for k, v in metrics.items() if k != main},
    }


def markdown_table(runs: Sequence[dict[str, Any]], title: str | None = None) -> str:
    """A Markdown table, one row per run: task, metric, our figure, the paper's figure, the other metrics."""
    lines = [f"## {title}", ""] if title else []
    lines += ["| run | task | metric | ours | paper | other metrics |", "|---|---|---|---:|---:|---|"]
    for results in runs:
        row = result_row(results)
        paper = "-" if row["paper"] is None else f"{row['paper']:.1f}"
        others = ", ".join(f"{k} {percent(v)}" for k, v in row["others"].items()) or "-"
        lines.append(
            f"| {row['run']} | {row['task']} | {row['metric']} | {percent(row['ours'])} | {paper} | {others} |"
        )
    return "\n".join(lines) + "\n"


def write_results(
    output_dir: str | Path, runs: Sequence[dict[str, Any]], title: str | None = None, name: str = "results"
) -> tuple[Path, Path]:
    """Write `<name>.json` (`{"title", "runs"}`: every run's full results) and `<name>.md` (the table), atomically."""
    output_dir = Path(output_dir)
    json_path = atomic_write_json(output_dir / f"{name}.json", {"title": title, "runs": list(runs)})
    md_path = atomic_write_text(output_dir / f"{name}.md", markdown_table(runs, title))
    return json_path, md_path


__all__ = ["PAPER_ABLATIONS", "markdown_table", "percent", "result_row", "write_results"]
