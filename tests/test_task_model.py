"""`gpt1.task_model`: a checkpoint under a task's head: only the head may be new, the transferred blocks are the
checkpoint's and the others fresh, the tokenizer must be the checkpoint's own, and a config that does not describe its
weights is refused."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch

from gpt1 import task_model as task_model_module
from gpt1.finetune_args import FinetuneArguments, FinetuneError, PaperTrainingArguments
from gpt1.finetune_runs import resolve_task
from gpt1.finetuning import finetune, main
from gpt1.hub import HubError
from gpt1.task_model import _names, build_task_model, load_config, load_config_and_tokenizer, reinit_layers
from gpt1.tasks import TASKS, TaskSpec
from modeling_gpt1 import GPT1Config, GPT1ForCausalLM
from tokenization import GPT1Tokenizer


def task_model(args: FinetuneArguments, task: TaskSpec) -> tuple[torch.nn.Module, GPT1Tokenizer]:
    """The task's head on the checkpoint (or a random init of its config), with the fine-tuning tokens in place: what
    `finetune` hands the Trainer, built the way it builds it."""
    return build_task_model(args, task, *load_config_and_tokenizer(args, task))


def test_missing_special_tokens_is_an_error_unless_added(tiny_lm, tmp_path):
    args = FinetuneArguments(task="demo", model_name_or_path=str(tiny_lm), max_length=24)
    with pytest.raises(ValueError, match="pass --add_special_tokens"):
        finetune(args, PaperTrainingArguments(output_dir=str(tmp_path), do_train=False))
    model, tokenizer = task_model(dataclasses.replace(args, add_special_tokens=True), TASKS["demo"])
    assert model.config.vocab_size == len(tokenizer) == 40481 and tokenizer.add_fine_tuning_framing
    assert model.lm_head.weight is model.transformer.tokens_embed.weight  # still tied after growing


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

    def catch(run, model, *rest):
        seen["model"] = model
        return make_trainer(run, model, *rest)

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
    model, tokenizer = task_model(FinetuneArguments(task="demo", model_name_or_path=str(tiny_lm),
                                                    add_special_tokens=True), TASKS["demo"])  # fmt: skip
    model.save_pretrained(tmp_path / "tuned")
    tokenizer.save_pretrained(tmp_path / "tuned")
    body = model.transformer.h[1].attn.c_attn.weight
    three = FinetuneArguments(task="custom", validation_file="unused.csv", text_columns=["a"], label_names=["x", "y", "z"],
                              model_name_or_path=str(tmp_path / "tuned"))  # fmt: skip
    for args, task in ((three, resolve_task(three)), (FinetuneArguments(model_name_or_path=str(tmp_path / "tuned")),
                                                      TASKS["story_cloze"])):  # fmt: skip
        other, _ = task_model(args, task)
        assert torch.equal(other.transformer.h[1].attn.c_attn.weight, body)
        assert other.config.vocab_size == 40481


def test_checkpoint_folder_without_tokenizer_files_needs_tokenizer_name(tiny_lm, tmp_path):
    torch.manual_seed(0)
    small = tmp_path / "small"
    GPT1ForCausalLM(GPT1Config.from_preset("tiny", vocab_size=512)).save_pretrained(small)
    with pytest.raises(FinetuneError, match=r"no tokenizer files.*--tokenizer_name"):
        task_model(
            FinetuneArguments(task="demo", model_name_or_path=str(small), add_special_tokens=True), TASKS["demo"]
        )
    # Named explicitly, a tokenizer must still fit the embedding: 40,478 tokens do not fit 512 rows.
    args = FinetuneArguments(task="demo", model_name_or_path=str(small), tokenizer_name=str(tiny_lm),
                             add_special_tokens=True)  # fmt: skip
    with pytest.raises(FinetuneError, match=r"40478 tokens.*512"):
        task_model(args, TASKS["demo"])
    bare = weights_only(tiny_lm, tmp_path / "bare")
    args = dataclasses.replace(args, model_name_or_path=str(bare))
    model, tokenizer = task_model(args, TASKS["demo"])
    assert model.config.vocab_size == len(tokenizer) == 40481
    # The original GPT-1's Hub id names the bundled vocabulary (its own) when the Hub is unreachable; others do not.
    original = dataclasses.replace(args, tokenizer_name="openai-community/openai-gpt")
    assert len(load_config_and_tokenizer(original, TASKS["demo"])[1]) == 40478
    with pytest.raises(FinetuneError, match="--tokenizer_name someone/elsewhere: no tokenizer files"):
        load_config_and_tokenizer(dataclasses.replace(args, tokenizer_name="someone/elsewhere"), TASKS["demo"])


@pytest.mark.parametrize("error", [HubError("repo not found"), OSError("disk"), ValueError("bad vocab.json")])
def test_a_tokenizer_that_cannot_load_is_one_finetune_error(tiny_lm, monkeypatch, error):
    def fail(source):
        raise error

    monkeypatch.setattr(task_model_module, "load_tokenizer", fail)
    args = FinetuneArguments(task="rte", model_name_or_path=str(tiny_lm))
    with pytest.raises(FinetuneError, match=rf"cannot load the tokenizer in {tiny_lm}: .*{error}"):
        load_config_and_tokenizer(args, TASKS["rte"])


@pytest.mark.parametrize("error", [OSError("404 Client Error"), ValueError("not a GPT-1 config")])
def test_a_hub_checkpoint_that_cannot_load_is_one_finetune_error(monkeypatch, error):
    """A Hub id is not checked as a folder; a failure to load it says how to run offline."""

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(GPT1Config, "from_pretrained", fail)
    args = FinetuneArguments(task="rte", model_name_or_path="someone/gpt1-books")
    with pytest.raises(FinetuneError, match=rf"from 'someone/gpt1-books' \({error}\); pass --model_name_or_path"):
        load_config_and_tokenizer(args, TASKS["rte"])
    missing = FinetuneArguments(task="rte", model_name_or_path="./no-such-checkpoint")
    with pytest.raises(FinetuneError, match=r"--model_name_or_path ./no-such-checkpoint: no such checkpoint folder"):
        load_config_and_tokenizer(missing, TASKS["rte"])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("stsb", {"num_labels": 1, "problem_type": "regression"}),
        ("rte", {"num_labels": 2, "problem_type": "single_label_classification",
                 "id2label": {0: "entailment", 1: "not_entailment"}}),
    ],
)  # fmt: skip
def test_the_checkpoints_config_gets_the_tasks_head_settings(tiny_lm, name, expected):
    args = FinetuneArguments(task=name, model_name_or_path=str(tiny_lm), lm_coef=0.25, classifier_dropout=0.2)
    config = load_config(args, TASKS[name])
    assert {k: getattr(config, k) for k in expected} == expected
    assert (config.lm_coef, config.summary_first_dropout) == (0.25, 0.2)


def test_a_tokenizer_larger_than_the_embedding_is_named(tiny_lm, tmp_path):
    big = tmp_path / "big"
    shutil.copytree(tiny_lm, big)
    config = json.loads((big / "config.json").read_text())
    (big / "config.json").write_text(json.dumps({**config, "vocab_size": 100}))
    with pytest.raises(FinetuneError, match=rf"the tokenizer \({big}\) has 40478 tokens but the checkpoint {big}"):
        load_config_and_tokenizer(FinetuneArguments(task="rte", model_name_or_path=str(big)), TASKS["rte"])


def test_key_lists_in_messages_show_four_and_count_the_rest():
    assert _names(["a", "b", "c", "d"]) == "a, b, c, d"
    assert _names(list("abcdef")) == "a, b, c, d and 2 more"
    assert _names(["a", "b"], {"a": "(2, 3)", "b": "(4,)"}) == "a (2, 3), b (4,)"


@pytest.mark.parametrize("k", [-1, 3])
def test_transfer_layers_outside_the_blocks_is_refused(k):
    model = GPT1ForCausalLM(GPT1Config.from_preset("tiny"))  # 2 blocks
    assert len(model.transformer.h) == 2
    with pytest.raises(FinetuneError, match=rf"n_transfer_layers must be in 0..2, got {k}"):
        reinit_layers(model, k)
