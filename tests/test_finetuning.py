"""Fine-tuning through Trainer on real data slices with a tiny GPT-1: every task, resume, reload, bad input, ablations."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from transformers import (
    AutoModelForMultipleChoice,
    AutoModelForSequenceClassification,
    TrainingArguments,
)

from gpt1.ablations import main as ablations_main
from gpt1.finetuning import (
    FinetuneArguments,
    FinetuneError,
    PaperTrainingArguments,
    finetune,
    finetune_parser,
    load_model,
    load_tokenizer,
    main,
    reinit_layers,
)
from gpt1.tasks import TASKS
from modeling_gpt1 import GPT1Config, GPT1ForCausalLM, GPT1ForMultipleChoice, GPT1ForSequenceClassification
from tests.conftest import cli_error
from tests.test_finetuning_metrics import check_reported_metrics
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
    assert set(saved["metrics"]) == set(task.metrics)
    check_reported_metrics(task, results, tmp_path)  # the saved predictions scored by hand
    table = (tmp_path / "results.md").read_text()
    assert f"| {name} | {name} | {task.main_metric} |" in table
    assert (f"| {task.paper:.1f} |" if task.paper is not None else "| - |") in table
    auto = AutoModelForMultipleChoice if task.transform == "multiple_choice" else AutoModelForSequenceClassification
    model = auto.from_pretrained(tmp_path / "model")
    expected = GPT1ForMultipleChoice if task.transform == "multiple_choice" else GPT1ForSequenceClassification
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


def test_missing_special_tokens_is_an_error_unless_added(tiny_lm, tmp_path):
    with pytest.raises(ValueError, match="pass --add_special_tokens"):
        finetune(*quick_args(tiny_lm, tmp_path, task="demo", add_special_tokens=False))
    model, tokenizer = load_model(quick_args(tiny_lm, tmp_path, task="demo")[0], TASKS["demo"])
    assert model.config.vocab_size == len(tokenizer) == 40481 and tokenizer.add_fine_tuning_framing
    assert model.lm_head.weight is model.transformer.tokens_embed.weight  # still tied after growing


def test_evaluation_only_task(sample_data, tiny_lm, tmp_path):
    args, training_args = quick_args(tiny_lm, tmp_path, task="qnli", data_dir=str(sample_data))
    with pytest.raises(ValueError, match="no training split"):
        finetune(args, training_args)
    results = finetune(args, dataclasses.replace(training_args, do_train=False))
    assert results["eval_examples"] == 8 and "accuracy" in results["metrics"]


@pytest.fixture(scope="module")
def trained_lm(tmp_path_factory) -> Path:
    """A tiny GPT-1 LM whose weights look trained, unlike any fresh init: every tensor ~ N(0.1, 0.3) (LayerNorm gains
    far from 1, biases far from 0, matrices 3x wider than the init's `initializer_range`), with its tokenizer."""
    folder = tmp_path_factory.mktemp("trained_lm")
    torch.manual_seed(0)
    model = GPT1ForCausalLM(GPT1Config.from_preset("tiny", vocab_size=40478))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.1, 0.3)
    model.save_pretrained(folder)
    GPT1Tokenizer().save_pretrained(folder)
    return folder


def model_finetune_starts_from(checkpoint: Path, tmp_path: Path, monkeypatch, **options) -> torch.nn.Module:
    """The model `finetune` hands to the Trainer (caught on its way there) for the demo task, evaluating only."""
    import gpt1.finetuning as finetuning

    seen = {}
    make_trainer = finetuning.make_trainer

    def catch(training_args, output_dir, model, *rest):
        seen["model"] = model
        return make_trainer(training_args, output_dir, model, *rest)

    monkeypatch.setattr(finetuning, "make_trainer", catch)
    args = FinetuneArguments(task="demo", model_name_or_path=str(checkpoint), add_special_tokens=True,
                             max_eval_samples=2, max_length=16, **options)  # fmt: skip
    finetune(args, PaperTrainingArguments(output_dir=str(tmp_path / "out"), do_train=False, report_to="none"))
    return seen["model"]


def assert_fresh(name: str, tensor: torch.Tensor, std: float) -> None:
    """A tensor as `GPT1PreTrainedModel._init_weights` draws it: LayerNorm gain 1 and bias 0, Conv1D bias 0, every
    matrix N(0, initializer_range) (mean and std within a few standard errors of a few thousand draws)."""
    if ".ln_" in name:
        assert torch.all(tensor == (1.0 if name.endswith(".weight") else 0.0)), name
    elif name.endswith(".bias"):
        assert torch.all(tensor == 0), name
    else:
        assert abs(tensor.mean().item()) < 0.1 * std, (name, tensor.mean().item())
        assert abs(tensor.std().item() - std) < 0.15 * std, (name, tensor.std().item(), std)


def body(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The decoder's tensors (`transformer.*`), without the task head (always new) or the tied LM head."""
    return {k: v for k, v in model.state_dict().items() if k.startswith("transformer.")}


@pytest.mark.parametrize("k", [0, 1, 2])
def test_transfer_layers_keeps_the_first_k_blocks_and_draws_the_rest_afresh(trained_lm, tmp_path, monkeypatch, k):
    """Fig. 2 (left), `--n_transfer_layers k`: the embeddings and blocks < k are the checkpoint's, bit for bit; every
    tensor of the blocks >= k differs from it and has the init's statistics."""
    checkpoint = body(GPT1ForCausalLM.from_pretrained(trained_lm))
    model = model_finetune_starts_from(trained_lm, tmp_path, monkeypatch, n_transfer_layers=k)
    std = model.config.initializer_range
    for name, tensor in body(model).items():
        if name == "transformer.tokens_embed.weight":  # the checkpoint's rows, then the three fine-tuning tokens
            assert torch.equal(tensor[:40478], checkpoint[name]) and tensor.shape[0] == 40481
        elif not name.startswith("transformer.h.") or int(name.split(".")[2]) < k:
            assert torch.equal(tensor, checkpoint[name]), name
        else:
            assert not torch.isclose(tensor, checkpoint[name]).any(), name
            assert_fresh(name, tensor, std)
    with pytest.raises(ValueError, match="n_transfer_layers must be in 0..2"):
        reinit_layers(model, 3)


def test_from_scratch_keeps_nothing_of_the_checkpoint_but_its_shape(trained_lm, tmp_path, monkeypatch):
    """Table 5's "no pretraining" row: the checkpoint's config, none of its weights; every tensor as the init
    draws it (the embeddings included)."""
    checkpoint = body(GPT1ForCausalLM.from_pretrained(trained_lm))
    model = model_finetune_starts_from(trained_lm, tmp_path, monkeypatch, from_scratch=True)
    config = GPT1Config.from_pretrained(trained_lm)
    for field in ("n_layer", "n_embd", "n_head", "n_inner", "n_positions", "initializer_range"):
        assert getattr(model.config, field) == getattr(config, field), field
    std = config.initializer_range
    for name, tensor in body(model).items():
        reference = checkpoint[name][: tensor.shape[0]]
        assert not torch.isclose(tensor[: reference.shape[0]], reference).any(), name
        assert_fresh(name, tensor, std)


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


# --- the command line: the task's options plus every Trainer flag, the paper's recipe as defaults -------------------


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


# --- reliability: checkpoints that do not match their config or lack a tokenizer, and user errors at the CLI ------


def weights_only(checkpoint: Path, folder: Path, **config_changes) -> Path:
    """A copy of `checkpoint` without its tokenizer files; `config_changes` edit config.json (None drops a key)."""
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(checkpoint / name, folder / name)
    config = json.loads((folder / "config.json").read_text())
    for key, value in config_changes.items():
        config.pop(key) if value is None else config.update({key: value})
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize(
    "changes, tensor",
    [
        ({"n_embd": None}, "transformer.tokens_embed.weight"),  # the default width 768 != the weights' 32
        ({"vocab_size": 40481}, "transformer.tokens_embed.weight"),  # 40,481 rows in config, 40,478 in the weights
        ({"n_layer": 1}, "transformer.h.1."),  # a block the config has no place for
    ],
    ids=["no_n_embd", "vocab_size", "n_layer"],
)
def test_checkpoint_that_disagrees_with_its_config_is_refused(tiny_lm, tmp_path, capsys, changes, tensor):
    """Only the task head may be (re)initialised: any other tensor missing, mismatched or left over is an error."""
    checkpoint = weights_only(tiny_lm, tmp_path / "ckpt", **changes)
    GPT1Tokenizer().save_pretrained(checkpoint)
    out = tmp_path / "out"
    argv = [
        "--task", "demo", "--model_name_or_path", str(checkpoint), "--output_dir", str(out), "--add_special_tokens",
        "--max_train_samples", "4", "--max_eval_samples", "4", "--num_train_epochs", "1", "--max_length", "16",
        "--save_strategy", "no", "--eval_strategy", "no",
    ]  # fmt: skip
    assert main(argv) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and tensor in errors[0] and "config.json" in errors[0], errors
    assert not (out / "results.json").exists()


def test_only_the_task_head_is_reinitialised(tiny_lm, tmp_path):
    """A fine-tuned checkpoint loads under another head (other label count, other transform): the body is kept."""
    model, tokenizer = load_model(FinetuneArguments(task="demo", model_name_or_path=str(tiny_lm),
                                                    add_special_tokens=True), TASKS["demo"])  # fmt: skip
    model.save_pretrained(tmp_path / "tuned")
    tokenizer.save_pretrained(tmp_path / "tuned")
    body = model.transformer.h[1].attn.c_attn.weight
    three = FinetuneArguments(task="custom", validation_file="unused.csv", text_columns=["a"], label_names=["x", "y", "z"],
                              model_name_or_path=str(tmp_path / "tuned"))  # fmt: skip
    from gpt1.finetuning import resolve_task

    for args, task in ((three, resolve_task(three)), (FinetuneArguments(model_name_or_path=str(tmp_path / "tuned")),
                                                      TASKS["story_cloze"])):  # fmt: skip
        other, _ = load_model(args, task)
        assert torch.equal(other.transformer.h[1].attn.c_attn.weight, body)
        assert other.config.vocab_size == 40481


def test_checkpoint_folder_without_tokenizer_files_needs_tokenizer_name(tiny_lm, tmp_path):
    torch.manual_seed(0)
    small = tmp_path / "small"
    GPT1ForCausalLM(GPT1Config.from_preset("tiny", vocab_size=512)).save_pretrained(small)
    with pytest.raises(FinetuneError, match=r"no tokenizer files.*--tokenizer_name"):
        load_model(
            FinetuneArguments(task="demo", model_name_or_path=str(small), add_special_tokens=True), TASKS["demo"]
        )
    # Named explicitly, a tokenizer must still fit the embedding: 40,478 tokens do not fit 512 rows.
    args = FinetuneArguments(task="demo", model_name_or_path=str(small), tokenizer_name=str(tiny_lm),
                             add_special_tokens=True)  # fmt: skip
    with pytest.raises(FinetuneError, match=r"40478 tokens.*512"):
        load_model(args, TASKS["demo"])
    bare = weights_only(tiny_lm, tmp_path / "bare")
    args = dataclasses.replace(args, model_name_or_path=str(bare))
    model, tokenizer = load_model(args, TASKS["demo"])
    assert model.config.vocab_size == len(tokenizer) == 40481
    # The original GPT-1's Hub id names the bundled vocabulary (its own) when the Hub is unreachable; others do not.
    assert len(load_tokenizer(dataclasses.replace(args, tokenizer_name="openai-community/openai-gpt"))) == 40478
    with pytest.raises(FinetuneError, match="--tokenizer_name someone/elsewhere: no tokenizer files"):
        load_tokenizer(dataclasses.replace(args, tokenizer_name="someone/elsewhere"))


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


# (name, changes to a good command line, what the one error line must say); "early": found before reading data.
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
    from gpt1.finetuning import GPT1Trainer, PaperTrainingArguments
    from gpt1.training import param_groups

    model, _ = load_model(FinetuneArguments(task="demo", model_name_or_path=str(tiny_lm), add_special_tokens=True),
                          TASKS["demo"])  # fmt: skip
    args = PaperTrainingArguments(output_dir=str(tmp_path), report_to="none", eval_strategy="no")
    trainer = GPT1Trainer(model=model, args=args)
    optimizer = trainer.create_optimizer()
    by_decay = {g["weight_decay"]: {id(p) for p in g["params"]} for g in optimizer.param_groups}
    expected = {g["weight_decay"]: {id(p) for p in g["params"]} for g in param_groups(model, 0.01)}
    assert by_decay == expected
    assert id(model.transformer.positions_embed.weight) in by_decay[0.01]  # the authors' rule: embeddings decay
