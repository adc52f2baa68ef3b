"""`gpt1.results`: the Markdown tables and seed statistics users publish, checked by hand."""

from __future__ import annotations

import pytest

from gpt1.results import markdown_table, seed_summary, seed_summary_markdown


def test_markdown_table_row_by_hand() -> None:
    """Guards `result_row`/`markdown_table` (gpt1/results.py): the headline metric in `ours`, every other metric (and
    only those) under "other metrics", the test column only when a run has a test figure, the paper's figure."""
    runs = [
        {"run": "mrpc", "task": "mrpc", "main_metric": "f1", "paper": 82.3,
         "metrics": {"f1": 0.8123, "accuracy": 0.75}, "test_metrics": {"f1": 0.8}},
        {"task": "rte", "main_metric": "accuracy", "paper": None, "metrics": {"accuracy": 0.5}},
    ]  # fmt: skip
    assert markdown_table(runs, "T").splitlines() == [
        "## T",
        "",
        "| run | task | metric | ours | test | paper | other metrics |",
        "|---|---|---|---:|---:|---:|---|",
        "| mrpc | mrpc | f1 | 81.2 | 80.0 | 82.3 | accuracy 75.0 |",
        "| rte | rte | accuracy | 50.0 | - | - | - |",
    ]
    assert markdown_table(runs[1:]).splitlines()[:2] == [
        "| run | task | metric | ours | paper | other metrics |",
        "|---|---|---|---:|---:|---|",
    ]


def test_seed_summary_statistics_by_hand() -> None:
    """Guards `seed_summary`/`seed_summary_markdown` (gpt1/results.py): mean, sample std (ddof=1) and median per
    metric, test figures as `test_<metric>`, one seed's std is None, and the table prints them in %."""

    def run(seed: int, acc: float, test_acc: float) -> dict:
        return {"run": "rte", "task": "rte", "main_metric": "accuracy", "paper": 56.0, "paper_metric": None,
                "eval_examples": 4, "settings": {"seed": seed, "output_dir": f"o/{seed}"},
                "metrics": {"accuracy": acc}, "test_metrics": {"accuracy": test_acc}}  # fmt: skip

    summary = seed_summary([run(1, 0.5, 0.4), run(2, 0.6, 0.4), run(3, 0.9, 0.7)])
    assert summary["seeds"] == [1, 2, 3] and summary["per_seed"][2]["output_dir"] == "o/3"
    assert summary["mean"] == pytest.approx({"accuracy": 2.0 / 3, "test_accuracy": 0.5})
    # ddof=1: accuracy deviations -1/6, -1/15, 7/30 -> sum of squares 13/150 -> var 13/300; test: 0.06 / 2 = 0.03.
    assert summary["std"] == pytest.approx({"accuracy": (13 / 300) ** 0.5, "test_accuracy": 0.03**0.5})
    assert summary["median"] == pytest.approx({"accuracy": 0.6, "test_accuracy": 0.4})
    assert seed_summary([run(1, 0.5, 0.4)])["std"] == {"accuracy": None, "test_accuracy": None}
    lines = seed_summary_markdown(summary).splitlines()
    assert lines[0] == "## Fine-tuning: rte, 3 seeds"
    assert lines[2:5] == ["| seed | accuracy | test_accuracy |", "|---|---:|---:|", "| 1 | 50.0 | 40.0 |"]
    assert lines[7:10] == [
        "| **mean** | 66.7 | 50.0 |",
        "| **std (sample, ddof=1)** | 20.8 | 17.3 |",
        "| **median** | 60.0 | 40.0 |",
    ]
    assert lines[-1] == "Paper (accuracy): 56.0. Figures in %."
