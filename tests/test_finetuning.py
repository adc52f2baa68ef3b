"""Fine-tuning through Trainer on real data slices with a tiny GPT-1: every task, resume, reload, bad input."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForMultipleChoice, AutoModelForSequenceClassification

from gpt1.finetune_args import FinetuneArguments, PaperTrainingArguments
from gpt1.finetuning import finetune, main
from gpt1.tasks import TASKS
from modeling_gpt1 import GPT1Config, GPT1ForCausalLM, GPT1ForMultipleChoice, GPT1ForSequenceClassification
from tests.test_finetuning_metrics import check_reported_metrics
from tests.test_task_model import task_model
from tokenization import GPT1Tokenizer

FINETUNE_FIELDS = {f.name for f in dataclasses.fields(FinetuneArguments)}


def split_args(**settings) -> tuple[FinetuneArguments, PaperTrainingArguments]:
    """`settings` as `finetune` takes them: the task's and data's options, and the Trainer's."""
    ours = {k: v for k, v in settings.items() if k in FINETUNE_FIELDS}
    trainer = {k: v for k, v in settings.items() if k not in FINETUNE_FIELDS}
    return FinetuneArguments(**ours), PaperTrainingArguments(**trainer)


def quick_args(tiny_lm: Path, out: Path, **overrides) -> tuple[FinetuneArguments, PaperTrainingArguments]:
    """A few steps on a handful of examples: the head overfits them, so the task loss must fall."""
    settings = dict(
        model_name_or_path=str(tiny_lm), output_dir=str(out), add_special_tokens=True, max_train_samples=8,
        max_eval_samples=8, per_device_train_batch_size=8, per_device_eval_batch_size=8, num_train_epochs=6,
        learning_rate=3e-2, warmup_steps=0.0, lm_coef=0.0, max_length=24, logging_steps=1, save_strategy="no",
        eval_strategy="no",
    )  # fmt: skip
    return split_args(**{**settings, **overrides})


@pytest.mark.parametrize("name", ["sst2", "cola", "mrpc", "stsb", "rte", "wnli", "story_cloze"])
def test_each_task_trains_and_lands_in_the_results_file(sample_data, tiny_lm, tmp_path, name):
    task = TASKS[name]
    results = finetune(*quick_args(tiny_lm, tmp_path, task=name, data_dir=str(sample_data)))
    losses = results["train_losses"]
    assert results["global_step"] == 6 and len(losses) == 6
    assert sum(losses[-2:]) < sum(losses[:2]), losses
    saved = json.loads((tmp_path / "results.json").read_text())["runs"][0]
    assert set(saved["metrics"]) == set(task.scoring.metrics)
    check_reported_metrics(task, results, tmp_path)  # the saved predictions scored by hand
    table = (tmp_path / "results.md").read_text()
    assert f"| {name} | {name} | {task.main_metric} |" in table
    assert (f"| {task.paper.figure:.1f} |" if task.paper is not None else "| - |") in table
    auto = (
        AutoModelForMultipleChoice if task.transform.name == "multiple_choice" else AutoModelForSequenceClassification
    )
    model = auto.from_pretrained(tmp_path / "model")
    expected = GPT1ForMultipleChoice if task.transform.name == "multiple_choice" else GPT1ForSequenceClassification
    assert isinstance(model, expected) and model.config.classify_token_id == 40480


def test_resume_and_reload_reproduce_the_metrics(tiny_lm, tmp_path):
    """Trainer checkpoints resume to the same model; the saved model reloads and scores the same."""
    args, training_args = quick_args(
        tiny_lm, tmp_path, task="demo", max_train_samples=16, num_train_epochs=2, lm_coef=0.5, save_strategy="epoch",
        save_total_limit=None, learning_rate=1e-3,
    )  # fmt: skip
    first = finetune(args, training_args)
    assert first["global_step"] == 4 and (tmp_path / "checkpoint-2").is_dir()
    resume = dataclasses.replace(training_args, resume_from_checkpoint=str(tmp_path / "checkpoint-2"))
    resumed = finetune(args, resume)
    assert resumed["global_step"] == 4
    assert resumed["eval"]["eval_loss"] == pytest.approx(first["eval"]["eval_loss"], abs=1e-4)
    reloaded = finetune(
        FinetuneArguments(task="demo", model_name_or_path=str(tmp_path / "model"), max_eval_samples=8, max_length=24),
        PaperTrainingArguments(output_dir=str(tmp_path / "eval"), do_train=False),
    )  # fmt: skip
    assert reloaded["metrics"] == pytest.approx(resumed["metrics"])
    assert reloaded["eval"]["eval_loss"] == pytest.approx(resumed["eval"]["eval_loss"], abs=1e-5)


def test_evaluation_only_task(sample_data, tiny_lm, tmp_path):
    args, training_args = quick_args(tiny_lm, tmp_path, task="qnli", data_dir=str(sample_data))
    with pytest.raises(ValueError, match="no training split"):
        finetune(args, training_args)
    results = finetune(args, dataclasses.replace(training_args, do_train=False))
    assert results["eval_examples"] == 8 and "accuracy" in results["metrics"]


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


def test_gradient_accumulation_gives_the_same_first_update_as_the_whole_batch(tmp_path):
    """`--gradient_accumulation_steps 4 --per_device_train_batch_size 8` is one update on 32 examples, the same as
    batch 32: same weights after exactly one optimizer step (dropout off); batch 8 alone is another update."""
    torch.manual_seed(0)
    lm = tmp_path / "lm"
    no_dropout = dict(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    GPT1ForCausalLM(GPT1Config.from_preset("tiny", vocab_size=40478, **no_dropout)).save_pretrained(lm)
    GPT1Tokenizer().save_pretrained(lm)
    rows = "text,label\n" + "".join(
        f"{'great fun' if i % 3 else 'dull and slow'} {i},{i % 3 > 0:d}\n" for i in range(32)
    )
    (tmp_path / "data.csv").write_text(rows)
    common = [
        "--train_file", str(tmp_path / "data.csv"), "--validation_file", str(tmp_path / "data.csv"),
        "--text_columns", "text", "--label_names", "neg", "pos", "--model_name_or_path", str(lm),
        "--add_special_tokens", "--max_length", "16", "--lm_coef", "0", "--classifier_dropout", "0",
        "--max_eval_samples", "4", "--max_steps", "1", "--warmup_steps", "0", "--learning_rate", "1e-1",
        "--optim", "sgd",  # the update is the gradient (Adam's first step is its sign: float noise near 0 flips it)
        "--max_grad_norm", "0",  # clipping would hide a gradient N times too large
        "--logging_steps", "1", "--save_strategy", "no", "--eval_strategy", "no",
    ]  # fmt: skip
    runs = {
        "whole": ["--per_device_train_batch_size", "32"],
        "accumulated": ["--per_device_train_batch_size", "8", "--gradient_accumulation_steps", "4"],
        "small": ["--per_device_train_batch_size", "8"],
    }
    weights = {}
    for name, flags in runs.items():
        assert main([*common, *flags, "--output_dir", str(tmp_path / name)]) == 0
        results = json.loads((tmp_path / name / "results.json").read_text())["runs"][0]
        assert results["global_step"] == 1
        weights[name] = GPT1ForSequenceClassification.from_pretrained(tmp_path / name / "model").state_dict()
    assert results["settings"]["gradient_accumulation_steps"] == 1
    start = GPT1ForCausalLM.from_pretrained(lm).state_dict()
    key = "transformer.h.0.attn.c_attn.weight"
    assert not torch.equal(weights["whole"][key], start[key])  # one real update happened
    for name, tensor in weights["whole"].items():
        torch.testing.assert_close(weights["accumulated"][name], tensor, rtol=1e-5, atol=1e-6, msg=name)
    assert not torch.allclose(weights["small"][key], weights["whole"][key], rtol=1e-5, atol=1e-6)


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot write in: a read-only one, or /sys for root (whom permissions do not stop)."""
    if os.geteuid() != 0:
        folder = tmp_path / "read_only"
        folder.mkdir(mode=0o500)
        return folder
    try:
        os.close(tempfile.mkstemp(dir="/sys")[0])
    except OSError:
        return Path("/sys")
    pytest.skip("no unwritable folder here: running as root and /sys is writable")


CLI_ERRORS = [
    ("unknown_task", {"--task": "mnli", "--train_file": None, "--validation_file": None}, "unknown task 'mnli'", 1),
    ("missing_column", {"--text_columns": "sentence"}, "lacks column(s) ['sentence']", 0),
    ("label_outside_set", {"--label_names": ["neg", "good"]}, "train.csv, row 1 after the header: label 'pos'", 0),
    ("no_special_tokens", {"--add_special_tokens": None}, "pass --add_special_tokens", 1),
    ("output_dir_is_a_file", {"--output_dir": "{tmp}/train.csv"}, "is a file", 1),
    ("output_dir_under_a_file", {"--output_dir": "{tmp}/train.csv/out"}, "train.csv is a file", 1),
    ("output_dir_unwritable", {"--output_dir": "{ro}/out"}, "is not writable", 1),
    ("learning_rate_zero", {"--learning_rate": "0"}, "--learning_rate must be positive, got 0.0", 1),
    ("learning_rate_negative", {"--learning_rate": "-0.0001"}, "--learning_rate must be positive", 1),
    ("batch_size_zero", {"--per_device_train_batch_size": "0"}, "--per_device_train_batch_size must be", 1),
    ("max_length_zero", {"--max_length": "0"}, "--max_length must be", 1),
    ("epochs_zero", {"--num_train_epochs": "0"}, "--num_train_epochs must be positive", 1),
    ("epochs_negative", {"--num_train_epochs": "-2"}, "--num_train_epochs must be positive", 1),
]


@pytest.mark.parametrize("changes, expected, early", [c[1:] for c in CLI_ERRORS], ids=[c[0] for c in CLI_ERRORS])
def test_cli_user_errors_exit_2_with_one_line(tiny_lm, tmp_path, capsys, monkeypatch, changes, expected, early):
    """Each user mistake: exit status 2, one `error:` line naming it, no traceback, found before any tokenising or
    model loading (and, for options and the output folder, before reading the data)."""
    (tmp_path / "train.csv").write_text("text,label\ngreat fun,pos\ndull,neg\n")

    def fail(*args, **kwargs):
        raise AssertionError("long work started before the input was checked")

    monkeypatch.setattr("gpt1.finetuning.encode_batch", fail)
    monkeypatch.setattr(GPT1ForSequenceClassification, "from_pretrained", fail)
    if early:
        monkeypatch.setattr("gpt1.finetuning.load_task_data", fail)
    ro = unwritable_folder(tmp_path) if "{ro}" in str(changes) else None
    options = {
        "--train_file": str(tmp_path / "train.csv"), "--validation_file": str(tmp_path / "train.csv"),
        "--text_columns": "text", "--label_names": ["neg", "pos"], "--model_name_or_path": str(tiny_lm),
        "--output_dir": str(tmp_path / "out"), "--add_special_tokens": [], "--max_length": "16",
        "--save_strategy": "no", "--eval_strategy": "no",
    }  # fmt: skip
    options.update(changes)
    argv = []
    for flag, value in options.items():
        if value is not None:
            values = value if isinstance(value, list) else [value]
            argv += [flag, *(v.format(tmp=tmp_path, ro=ro) for v in values)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expected in errors[0], err
    assert "Traceback" not in err


def test_fine_tuning_decays_what_pretraining_decays(tiny_lm, tmp_path):
    """One weight-decay rule (`gpt1.training.decays`): the Trainer's optimizer groups are pretraining's."""
    from gpt1.finetuning import GPT1Trainer
    from gpt1.training import param_groups

    model, _ = task_model(FinetuneArguments(task="demo", model_name_or_path=str(tiny_lm), add_special_tokens=True),
                          TASKS["demo"])  # fmt: skip
    args = PaperTrainingArguments(output_dir=str(tmp_path), report_to="none", eval_strategy="no")
    trainer = GPT1Trainer(model=model, args=args)
    optimizer = trainer.create_optimizer()
    by_decay = {g["weight_decay"]: {id(p) for p in g["params"]} for g in optimizer.param_groups}
    expected = {g["weight_decay"]: {id(p) for p in g["params"]} for g in param_groups(model, 0.01)}
    assert by_decay == expected
    assert id(model.transformer.positions_embed.weight) in by_decay[0.01]  # the authors' rule: embeddings decay
