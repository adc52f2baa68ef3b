"""Fine-tuning through Trainer on real data slices with a tiny GPT-1: every task, resume, reload, bad input, ablations."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForMultipleChoice, AutoModelForSequenceClassification

from gpt1.ablations import AblationArguments, run_ablations
from gpt1.finetuning import FinetuneArguments, finetune, load_model, main, reinit_layers
from gpt1.tasks import TASKS
from modeling_gpt1 import GPT1Config, GPT1ForCausalLM, GPT1ForMultipleChoice, GPT1ForSequenceClassification
from tokenization import GPT1Tokenizer


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    """A tiny GPT-1 language model over the authors' 40,478-token vocabulary, saved with its tokenizer: the shape
    of a checkpoint from `scripts/pretrain.py` (no fine-tuning tokens yet)."""
    folder = tmp_path_factory.mktemp("tiny_lm")
    torch.manual_seed(0)
    GPT1ForCausalLM(GPT1Config.from_preset("tiny", vocab_size=40478)).save_pretrained(folder)
    GPT1Tokenizer().save_pretrained(folder)
    return folder


def quick_args(tiny_lm: Path, out: Path, **overrides) -> FinetuneArguments:
    """A few steps on a handful of examples: the head overfits them, so the task loss must fall."""
    settings = dict(
        model_name_or_path=str(tiny_lm), output_dir=str(out), add_special_tokens=True, max_train_samples=8,
        max_eval_samples=8, per_device_train_batch_size=8, per_device_eval_batch_size=8, num_train_epochs=6,
        learning_rate=3e-2, warmup_ratio=0.0, lm_coef=0.0, max_length=24, logging_steps=1, save_strategy="no",
        eval_strategy="no",
    )  # fmt: skip
    return FinetuneArguments(**{**settings, **overrides})


@pytest.mark.parametrize("name", ["sst2", "cola", "mrpc", "stsb", "rte", "wnli", "story_cloze"])
def test_each_task_trains_and_lands_in_the_results_file(shared_data, tiny_lm, tmp_path, name):
    task = TASKS[name]
    results = finetune(quick_args(tiny_lm, tmp_path, task=name, data_dir=str(shared_data)))
    losses = results["train_losses"]
    assert results["global_step"] == 6 and len(losses) == 6
    assert sum(losses[-2:]) < sum(losses[:2]), losses
    saved = json.loads((tmp_path / "results.json").read_text())["runs"][0]
    assert set(saved["metrics"]) == set(task.metrics)
    assert all(-1.0 <= v <= 1.0 for v in saved["metrics"].values())
    table = (tmp_path / "results.md").read_text()
    assert f"| {name} | {name} | {task.main_metric} |" in table
    assert (f"| {task.paper:.1f} |" if task.paper is not None else "| - |") in table
    auto = AutoModelForMultipleChoice if task.transform == "multiple_choice" else AutoModelForSequenceClassification
    model = auto.from_pretrained(tmp_path / "model")
    expected = GPT1ForMultipleChoice if task.transform == "multiple_choice" else GPT1ForSequenceClassification
    assert isinstance(model, expected) and model.config.classify_token_id == 40480


def test_resume_and_reload_reproduce_the_metrics(tiny_lm, tmp_path):
    """Trainer checkpoints resume to the same model; the saved model reloads and scores the same."""
    args = quick_args(
        tiny_lm, tmp_path, task="demo", max_train_samples=16, num_train_epochs=2, lm_coef=0.5, save_strategy="epoch",
        save_total_limit=None, learning_rate=1e-3,
    )  # fmt: skip
    first = finetune(args)
    assert first["global_step"] == 4 and (tmp_path / "checkpoint-2").is_dir()
    resumed = finetune(dataclasses.replace(args, resume_from_checkpoint=str(tmp_path / "checkpoint-2")))
    assert resumed["global_step"] == 4
    assert resumed["eval"]["eval_loss"] == pytest.approx(first["eval"]["eval_loss"], abs=1e-4)
    reloaded = finetune(
        FinetuneArguments(task="demo", model_name_or_path=str(tmp_path / "model"), output_dir=str(tmp_path / "eval"),
                          do_train=False, max_eval_samples=8, max_length=24)
    )  # fmt: skip
    assert reloaded["metrics"] == pytest.approx(resumed["metrics"])
    assert reloaded["eval"]["eval_loss"] == pytest.approx(resumed["eval"]["eval_loss"], abs=1e-5)


def test_missing_special_tokens_is_an_error_unless_added(tiny_lm, tmp_path):
    with pytest.raises(ValueError, match="pass --add_special_tokens"):
        finetune(quick_args(tiny_lm, tmp_path, task="demo", add_special_tokens=False))
    model, tokenizer = load_model(quick_args(tiny_lm, tmp_path, task="demo"), TASKS["demo"])
    assert model.config.vocab_size == len(tokenizer) == 40481 and tokenizer.add_fine_tuning_framing
    assert model.lm_head.weight is model.transformer.tokens_embed.weight  # still tied after growing


def test_evaluation_only_task(shared_data, tiny_lm, tmp_path):
    args = quick_args(tiny_lm, tmp_path, task="qnli", data_dir=str(shared_data))
    with pytest.raises(ValueError, match="no training split"):
        finetune(args)
    results = finetune(dataclasses.replace(args, do_train=False))
    assert results["eval_examples"] == 8 and "accuracy" in results["metrics"]


def test_transferred_layers_keep_pretrained_blocks(tiny_lm):
    pretrained = GPT1ForCausalLM.from_pretrained(tiny_lm)
    model, _ = load_model(
        FinetuneArguments(task="demo", model_name_or_path=str(tiny_lm), add_special_tokens=True, n_transfer_layers=1),
        TASKS["demo"],
    )
    same = [
        torch.equal(a.attn.c_attn.weight, b.attn.c_attn.weight)
        for a, b in zip(model.transformer.h, pretrained.transformer.h)
    ]
    assert same == [True, False]
    with pytest.raises(ValueError, match="n_transfer_layers must be in 0..2"):
        reinit_layers(model, 3)


def test_cli_on_a_custom_csv_task(tiny_lm, tmp_path, capsys):
    rows = "text,label\n" + "".join(f"{'great fun' if i % 2 else 'dull and slow'} {i},{i % 2}\n" for i in range(16))
    (tmp_path / "train.csv").write_text(rows)
    (tmp_path / "dev.csv").write_text(rows)
    argv = [
        "--train_file", str(tmp_path / "train.csv"), "--validation_file", str(tmp_path / "dev.csv"),
        "--text_columns", "text", "--label_names", "neg", "pos", "--model_name_or_path", str(tiny_lm),
        "--output_dir", str(tmp_path / "out"), "--add_special_tokens", "--num_train_epochs", "1", "--max_length", "16",
        "--save_strategy", "no", "--eval_strategy", "no", "--lm_coef", "0",
    ]  # fmt: skip
    assert main(argv) == 0
    assert "| custom | custom | accuracy |" in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['sentence'\]"):
        main([a if a != "text" else "sentence" for a in argv])


def test_ablations_table_puts_table5_beside_ours(shared_data, tiny_lm, tmp_path):
    args = AblationArguments(
        model_name_or_path=str(tiny_lm), task="sst2", data_dir=str(shared_data), output_dir=str(tmp_path),
        settings=["full", "no_pretraining"], max_train_samples=8, max_eval_samples=8, num_train_epochs=1,
        max_length=16, per_device_train_batch_size=8,
    )  # fmt: skip
    results = run_ablations(args)
    assert [r["run"] for r in results] == ["full", "no_pretraining"]
    table = (tmp_path / "ablations.md").read_text()
    assert "| full | sst2 | accuracy |" in table and "| 91.3 |" in table and "| 84.0 |" in table
