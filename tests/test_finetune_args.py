"""`gpt1.finetune_args`: the command line is the task's options plus every Trainer flag, the paper's recipe as
defaults, and each arguments dataclass refuses its own out-of-range fields when it is made."""

from __future__ import annotations

import dataclasses
import re

import pytest
from transformers import TrainingArguments

from gpt1.ablations import main as ablations_main
from gpt1.finetune_args import (
    FINETUNE_RULES,
    TRAINING_RULES,
    FinetuneArguments,
    FinetuneError,
    PaperTrainingArguments,
    finetune_parser,
)
from gpt1.finetuning import main
from tests.conftest import cli_error


def test_no_flags_give_the_papers_recipe():
    """Section 4.1: lr 6.25e-5, batch 32, 3 epochs, linear warmup over 0.2% of training, weight decay 0.01,
    lm_coef 0.5, classifier dropout 0.1; parsed into a real `TrainingArguments`."""
    args, training_args = finetune_parser().parse_args_into_dataclasses(args=[])
    assert isinstance(training_args, TrainingArguments)
    assert training_args.learning_rate == 6.25e-5
    assert training_args.per_device_train_batch_size == 32 and training_args.gradient_accumulation_steps == 1
    assert training_args.num_train_epochs == 3
    assert training_args.warmup_steps == 0.002  # a float below 1: a fraction of the training steps
    assert training_args.lr_scheduler_type == "linear"
    assert training_args.weight_decay == 0.01 and training_args.max_grad_norm == 1.0
    assert training_args.per_device_eval_batch_size == 64 and training_args.logging_steps == 10
    assert training_args.save_strategy == "epoch" and training_args.eval_strategy == "epoch"
    assert training_args.save_total_limit == 1 and training_args.seed == 42 and training_args.do_train
    assert training_args.output_dir is None  # finetune() names it after the task: outputs/finetune/<task>
    assert args.lm_coef == 0.5 and args.classifier_dropout == 0.1
    assert (args.task, args.model_name_or_path) == ("demo", "openai-community/openai-gpt")
    # The programmatic defaults are the same recipe.
    assert dataclasses.asdict(PaperTrainingArguments()) == dataclasses.asdict(training_args)


TRAINER_FLAGS = ["--gradient_accumulation_steps", "--bf16", "--fp16", "--fsdp", "--deepspeed", "--torch_compile",
                 "--load_best_model_at_end", "--lr_scheduler_type", "--report_to"]  # fmt: skip


@pytest.mark.parametrize("cli", [main, ablations_main], ids=["finetune", "ablations"])
def test_help_lists_the_trainer_flags(cli, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli(["--help"])
    assert exit_info.value.code == 0
    shown = capsys.readouterr().out
    flags = set(re.findall(r"--[a-z_0-9]+", shown))
    assert set(TRAINER_FLAGS) <= flags, set(TRAINER_FLAGS) - flags
    # The task's own options and the README's Trainer flags keep their names.
    assert {"--task", "--label_names", "--lm_coef", "--learning_rate", "--num_train_epochs", "--output_dir",
            "--per_device_train_batch_size", "--save_strategy", "--eval_strategy", "--seed"} <= flags  # fmt: skip
    assert "0.2% of the steps" in shown and "6.25e-05" in shown


def test_trainer_options_it_refuses_are_user_errors(tiny_lm, tmp_path, capsys):
    """What `TrainingArguments` itself refuses, and --push_to_hub without a repo: exit 2 with one line."""
    base = ["--model_name_or_path", str(tiny_lm), "--output_dir", str(tmp_path / "out"), "--add_special_tokens"]
    message = cli_error(main, [*base, "--load_best_model_at_end", "--save_strategy", "steps"], capsys)
    assert "load_best_model_at_end" in message
    message = cli_error(main, [*base, "--push_to_hub"], capsys)
    assert message == "error: --push_to_hub needs --hub_model_id (the Hub repo to push the model to)"
    message = cli_error(main, [*base, "--gradient_accumulation_steps", "0"], capsys)
    assert "--gradient_accumulation_steps must be a positive integer, got 0" in message
    assert not (tmp_path / "out").exists()


def test_each_arguments_dataclass_checks_its_own_fields():
    """An out-of-range option is refused when its dataclass is made (parsed, or built in code), by that dataclass
    alone: `FinetuneArguments` checks its rules, `PaperTrainingArguments` the Trainer's; neither reads the other."""
    fields = {dataclass: {f.name for f in dataclasses.fields(dataclass)} for dataclass in (FinetuneArguments,
              PaperTrainingArguments)}  # fmt: skip
    assert {name for name, *_ in FINETUNE_RULES} <= fields[FinetuneArguments] - fields[PaperTrainingArguments]
    assert {name for name, *_ in TRAINING_RULES} <= fields[PaperTrainingArguments] - fields[FinetuneArguments]
    with pytest.raises(FinetuneError, match=r"^--lm_coef must be zero \(no auxiliary LM loss\) or positive, got -1"):
        FinetuneArguments(lm_coef=-1)
    with pytest.raises(FinetuneError, match=r"^--classifier_dropout must be in \[0, 1\), got 1.0"):
        FinetuneArguments(classifier_dropout=1.0)
    with pytest.raises(FinetuneError, match=r"^--seeds lists \[3\] more than once"):
        FinetuneArguments(seeds=[3, 1, 3])
    with pytest.raises(FinetuneError, match=r"^--weight_decay must be zero or positive, got -0.5"):
        PaperTrainingArguments(weight_decay=-0.5)
    with pytest.raises(FinetuneError, match=r"^--save_total_limit must be a positive integer, got 0"):
        PaperTrainingArguments(save_total_limit=0)
    args = FinetuneArguments(lm_coef=0.0, max_length=16)  # the edges that are allowed
    with pytest.raises(FinetuneError, match=r"^--max_length must be a positive integer, got 0"):
        dataclasses.replace(args, max_length=0)  # a changed copy is checked too (the grids' runs are such copies)
