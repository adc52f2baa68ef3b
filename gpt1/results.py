"""Results files: the run's figures as JSON, and a Markdown table with the paper's figure beside ours."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .io import atomic_write_json, atomic_write_text


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
        "test": results.get("test_metrics", {}).get(main),  # a labelled --test_file's headline figure
        "paper": results.get("paper"),
        "others": {k: v for k, v in metrics.items() if k != main},
    }


def markdown_table(runs: Sequence[dict[str, Any]], title: str | None = None) -> str:
    """A Markdown table, one row per run: task, metric, our figure (validation), our test figure when a run has one,
    the paper's figure (its test sets), the other metrics."""
    rows = [result_row(results) for results in runs]
    tested = any(row["test"] is not None for row in rows)  # the test column only where there is a figure for it
    lines = [f"## {title}", ""] if title else []
    lines += [
        f"| run | task | metric | ours |{' test |' if tested else ''} paper | other metrics |",
        f"|---|---|---|---:|{'---:|' if tested else ''}---:|---|",
    ]
    for row in rows:
        paper = "-" if row["paper"] is None else f"{row['paper']:.1f}"
        others = ", ".join(f"{k} {percent(v)}" for k, v in row["others"].items()) or "-"
        test = f" {percent(row['test'])} |" if tested else ""
        lines.append(
            f"| {row['run']} | {row['task']} | {row['metric']} | {percent(row['ours'])} |{test} {paper} | {others} |"
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


def seed_summary(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The summary of one fine-tuning repeated with several seeds (`finetuning.finetune_seeds`): every seed's
    metrics, and per metric the mean, the sample standard deviation (ddof=1, `statistics.stdev`; None for fewer
    than two seeds) and the median. `runs` are `finetune`'s results, one per seed, all of one task; a labelled
    test set's figures (`test_metrics`) are summarised too, as `test_<metric>`."""
    first = runs[0]
    per_seed = [
        {
            "seed": r["settings"]["seed"],
            "metrics": {**r["metrics"], **{f"test_{k}": v for k, v in r.get("test_metrics", {}).items()}},
            "output_dir": r["settings"]["output_dir"],
        }
        for r in runs
    ]
    values = {name: [float(s["metrics"][name]) for s in per_seed] for name in per_seed[0]["metrics"]}
    return {
        "run": first["run"],
        "task": first["task"],
        "main_metric": first["main_metric"],
        "paper": first["paper"],
        "paper_metric": first["paper_metric"],
        "eval_examples": first["eval_examples"],
        "seeds": [s["seed"] for s in per_seed],
        "per_seed": per_seed,
        "mean": {k: statistics.fmean(v) for k, v in values.items()},
        "std": {k: statistics.stdev(v) if len(v) > 1 else None for k, v in values.items()},
        "std_ddof": 1,
        "median": {k: statistics.median(v) for k, v in values.items()},
    }


def seed_summary_markdown(summary: dict[str, Any]) -> str:
    """`seed_summary` as a Markdown table: a row per seed, then the mean, the sample std and the median."""
    names = list(summary["mean"])
    lines = [
        f"## Fine-tuning: {summary['task']}, {len(summary['seeds'])} seeds",
        "",
        "| seed | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for run in summary["per_seed"]:
        lines.append(f"| {run['seed']} | " + " | ".join(percent(run["metrics"][k]) for k in names) + " |")
    for stat, label in (("mean", "mean"), ("std", "std (sample, ddof=1)"), ("median", "median")):
        lines.append(f"| **{label}** | " + " | ".join(percent(summary[stat][k]) for k in names) + " |")
    paper = "-" if summary["paper"] is None else f"{summary['paper']:.1f}"
    lines += ["", f"Paper ({summary['paper_metric'] or summary['main_metric']}): {paper}. Figures in %."]
    return "\n".join(lines) + "\n"


def write_seed_summary(output_dir: str | Path, summary: dict[str, Any]) -> tuple[Path, Path]:
    """Write `results.json` (the `seed_summary`) and `results.md` (its table) in `output_dir`, atomically."""
    output_dir = Path(output_dir)
    json_path = atomic_write_json(output_dir / "results.json", summary)
    md_path = atomic_write_text(output_dir / "results.md", seed_summary_markdown(summary))
    return json_path, md_path


__all__ = [
    "markdown_table",
    "percent",
    "result_row",
    "seed_summary",
    "seed_summary_markdown",
    "write_results",
    "write_seed_summary",
]
