"""`gpt1.ablations`: the paper's Table 5 grid as fine-tuning runs with one changed setting each, and its CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from transformers import HfArgumentParser

from gpt1.ablations import AblationArguments, run_ablations
from gpt1.ablations import main as ablations_main
from gpt1.finetune_args import FinetuneArguments, PaperTrainingArguments
from tests.conftest import cli_error
from tests.test_finetuning import split_args


def test_ablation_runs_are_the_parsed_arguments_with_one_change(tmp_path):
    """Every fine-tuning and Trainer flag reaches every run of the grid; each run changes only its setting."""
    from gpt1.ablations import ABLATION_DEFAULTS
    from gpt1.finetune_runs import plan_runs

    parser = HfArgumentParser((AblationArguments, FinetuneArguments, PaperTrainingArguments))
    parser.set_defaults(**ABLATION_DEFAULTS)
    argv = ["--model_name_or_path", "ckpt", "--output_dir", str(tmp_path), "--transfer_layers", "1",
            "--gradient_accumulation_steps", "2", "--learning_rate", "1e-4", "--max_train_samples", "100"]  # fmt: skip
    grid, finetune_args, training_args = parser.parse_args_into_dataclasses(args=argv)
    assert finetune_args.task == "sst2" and finetune_args.add_special_tokens
    assert training_args.save_strategy == "no" and training_args.eval_strategy == "no"
    plan = plan_runs(finetune_args, training_args, grid.variants(), ABLATION_DEFAULTS["output_dir"])
    runs = [(group.runs[0].args, group.runs[0].training_args) for group in plan.groups]
    names = [t.run_name for _, t in runs]
    assert names == [group.name for group in plan.groups] == ["full", "no_aux_lm", "no_pretraining", "transfer_1"]
    assert plan.root == tmp_path and all(len(group.runs) == 1 for group in plan.groups)
    for (run, run_training), name in zip(runs, names):
        assert run_training.output_dir == str(tmp_path / name)
        assert run_training.gradient_accumulation_steps == 2 and run_training.learning_rate == 1e-4
        assert run.max_train_samples == 100 and run.model_name_or_path == "ckpt"
    assert [(r.lm_coef, r.from_scratch, r.n_transfer_layers) for r, _ in runs] == [
        (0.5, False, None), (0.0, False, None), (0.5, True, None), (0.5, False, 1)
    ]  # fmt: skip


def test_ablations_table_puts_table5_beside_ours(sample_data, tiny_lm, tmp_path):
    finetune_args, training_args = split_args(
        model_name_or_path=str(tiny_lm), task="sst2", data_dir=str(sample_data), output_dir=str(tmp_path),
        add_special_tokens=True, max_train_samples=8, max_eval_samples=8, num_train_epochs=1, max_length=16,
        per_device_train_batch_size=8, save_strategy="no", eval_strategy="no",
    )  # fmt: skip
    results = run_ablations(AblationArguments(settings=["full", "no_pretraining"]), finetune_args, training_args)
    assert [r["run"] for r in results] == ["full", "no_pretraining"]
    table = (tmp_path / "ablations.md").read_text()
    assert "| full | sst2 | accuracy |" in table and "| 91.3 |" in table and "| 84.0 |" in table


ABLATION_MISTAKES = [
    (["--settings", "full", "fulll"], r"unknown ablation setting\(s\) \['fulll'\]; choose from full"),
    (["--task", "nope"], "unknown task 'nope'; choose from"),
    (["--seeds", "1", "2"], "--seeds 1 2: the grid runs each setting once"),
    (["--per_device_train_batch_size", "0"], "--per_device_train_batch_size must be a positive integer, got 0"),
    (["--max_train_samples", "0"], "--max_train_samples must be a positive integer, got 0"),
    (["--max_length", "-5"], "--max_length must be a positive integer, got -5"),
    (["--num_train_epochs", "0"], "--num_train_epochs must be positive, got 0.0"),
    (["--learning_rate=-1e-4"], "--learning_rate must be positive, got -0.0001"),
    (["--transfer_layers", "1", "-1"], r"--transfer_layers must be block counts from 0 to 2 \(.*\), got -1"),
    (["--transfer_layers", "9"], r"--transfer_layers must be block counts from 0 to 2 \(.*\), got 9"),
    (["--output_dir", "{a_file}"], "output folder .*a_file is a file"),
    (["--model_name_or_path", "{tmp}/nothing"], "--model_name_or_path .*nothing: no such checkpoint folder"),
    (["--model_name_or_path", "nobody/no-such-lm"], "cannot load a GPT-1 checkpoint from 'nobody/no-such-lm'"),
    (["--data_dir", "{tmp}/no-data"], "task 'sst2': data folder .*no-data does not exist"),
]


@pytest.mark.parametrize(("extra", "message"), ABLATION_MISTAKES, ids=[" ".join(m[0]) for m in ABLATION_MISTAKES])
def test_ablations_cli_refuses_user_mistakes_before_the_first_run(tiny_lm, tmp_path: Path, capsys, extra, message):
    """Each of these used to end in a traceback, several only after a fine-tuning run (--num_train_epochs 0 ran
    the grid untrained and exited 0). The grid is checked as a whole before its first run."""
    (tmp_path / "a_file").write_text("not a folder")
    places = {"tmp": tmp_path, "a_file": tmp_path / "a_file"}
    extra = [arg.format(**places) for arg in extra]
    base = ["--model_name_or_path", str(tiny_lm), "--data_dir", str(tmp_path), "--settings", "full"]
    base += ["--output_dir", str(tmp_path / "out")]  # a later flag wins: `extra` overrides these
    assert re.search(message, cli_error(ablations_main, [*base, *extra], capsys))
    assert not (tmp_path / "out").exists()


def test_one_seed_is_the_seed_of_every_setting(tmp_path):
    """`--seeds 7` in a grid is `--seed 7` for every setting, as in `scripts/finetune.py` (it used to be ignored:
    the runs took `--seed`'s default)."""
    from gpt1.ablations import ABLATION_DEFAULTS
    from gpt1.finetune_runs import plan_runs

    parser = HfArgumentParser((AblationArguments, FinetuneArguments, PaperTrainingArguments))
    parser.set_defaults(**ABLATION_DEFAULTS)
    argv = ["--output_dir", str(tmp_path), "--settings", "full", "no_aux_lm", "--seeds", "7"]
    grid, finetune_args, training_args = parser.parse_args_into_dataclasses(args=argv)
    plan = plan_runs(finetune_args, training_args, grid.variants(), ABLATION_DEFAULTS["output_dir"])
    assert [(g.name, [r.training_args.seed for r in g.runs]) for g in plan.groups] == [
        ("full", [7]),
        ("no_aux_lm", [7]),
    ]
