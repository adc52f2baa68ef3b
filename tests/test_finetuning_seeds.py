"""`--seeds`: one fine-tuning per seed in its own folder, and the mean / sample std / median of each metric."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from gpt1.finetune_args import FinetuneArguments, PaperTrainingArguments
from gpt1.finetuning import finetune_seeds, main
from tests.conftest import cli_error


def demo_args(tiny_lm: Path, out: Path, **changes) -> tuple[FinetuneArguments, PaperTrainingArguments]:
    """A few steps of the bundled demo task: seconds per run."""
    args = FinetuneArguments(
        task="demo", model_name_or_path=str(tiny_lm), add_special_tokens=True, max_train_samples=16,
        max_eval_samples=32, max_length=24, seeds=changes.pop("seeds", None),
    )  # fmt: skip
    training_args = PaperTrainingArguments(
        output_dir=str(out), per_device_train_batch_size=8, num_train_epochs=1, learning_rate=1e-3,
        save_strategy="no", eval_strategy="no", **changes,
    )  # fmt: skip
    return args, training_args


def test_each_seed_runs_in_its_folder_and_the_summary_is_their_statistics(tiny_lm, tmp_path):
    summary = finetune_seeds(*demo_args(tiny_lm, tmp_path, seeds=[1, 2]))
    runs = [json.loads((tmp_path / f"seed-{s}" / "results.json").read_text())["runs"][0] for s in (1, 2)]
    assert [r["settings"]["seed"] for r in runs] == [1, 2]
    assert all((tmp_path / f"seed-{s}" / "model" / "config.json").is_file() for s in (1, 2))
    # Different seeds are different runs (head init, data order), not one run reported twice ...
    assert runs[0]["eval"]["eval_loss"] != runs[1]["eval"]["eval_loss"]
    # ... scored on the same examples: the --max_eval_samples slice does not move with the seed.
    rows = [(tmp_path / f"seed-{s}" / "predictions_validation.tsv").read_text().splitlines() for s in (1, 2)]
    assert [r.split("\t")[0] for r in rows[0]] == [r.split("\t")[0] for r in rows[1]] and len(rows[0]) == 33

    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved == json.loads(json.dumps(summary))  # what is returned is what is written
    assert saved["seeds"] == [1, 2] and saved["std_ddof"] == 1
    assert [s["metrics"] for s in saved["per_seed"]] == [r["metrics"] for r in runs]
    for name in runs[0]["metrics"]:
        values = np.array([r["metrics"][name] for r in runs])
        assert saved["mean"][name] == pytest.approx(values.mean())
        assert saved["std"][name] == pytest.approx(values.std(ddof=1))
        assert saved["median"][name] == pytest.approx(np.median(values))
    table = (tmp_path / "results.md").read_text()
    accuracy = [f"{100 * r['metrics']['accuracy']:.1f}" for r in runs]
    assert f"| 1 | {accuracy[0]} |" in table and f"| 2 | {accuracy[1]} |" in table
    assert "| **std (sample, ddof=1)** |" in table and "| **median** |" in table


def test_one_seed_is_the_plain_run(tiny_lm, tmp_path):
    """`--seeds 7` is `--seed 7`: the same figures, in the output folder itself, in today's results format."""
    plain = finetune_seeds(*demo_args(tiny_lm, tmp_path / "plain", seed=7))
    one = finetune_seeds(*demo_args(tiny_lm, tmp_path / "one", seeds=[7]))
    assert one["settings"]["seed"] == 7 and one["eval"]["eval_loss"] == plain["eval"]["eval_loss"]
    assert not list((tmp_path / "one").glob("seed-*")) and (tmp_path / "one" / "model" / "config.json").is_file()
    assert json.loads((tmp_path / "one" / "results.json").read_text())["runs"][0]["settings"]["seed"] == 7


@pytest.mark.parametrize(
    "seeds, message",
    [
        (["1", "2", "1"], r"--seeds lists \[1\] more than once: each seed is one run, pass each seed once"),
        (["3", "-1"], r"--seeds must be one or more non-negative integers, got \[3, -1\]"),
    ],
)
def test_bad_seeds_are_one_error_before_any_run(tiny_lm, tmp_path, capsys, seeds, message):
    argv = ["--task", "demo", "--model_name_or_path", str(tiny_lm), "--add_special_tokens"]
    argv += ["--output_dir", str(tmp_path / "out"), "--seeds", *seeds]
    assert re.search(message, cli_error(main, argv, capsys))
    assert not (tmp_path / "out").exists()
