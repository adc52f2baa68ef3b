"""Fine-tuning options through `scripts/finetune.py`'s entry point (gpt1.finetuning.main): `--push_to_hub` to the
suite's loopback Hub (tests/hub_server.py), and `--resume_from_checkpoint last` after a run interrupted mid-epoch.
A tiny GPT-1 (the `tiny_lm` fixture) on a handful of the bundled demo sentences: seconds each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

import gpt1.finetuning as finetuning
from gpt1.finetuning import main
from tests.conftest import (
    HUB_TOKEN,  # noqa: E402
    cli_error,
)


def flags(tiny_lm: Path, out: Path, **overrides: object) -> list[str]:
    """The command line of a short demo-task run: 16 training sentences in batches of 4, 2 epochs (8 updates), the
    paper's auxiliary LM loss and dropout on, so that the data order and the RNG both matter."""
    settings = dict(
        task="demo", model_name_or_path=tiny_lm, add_special_tokens=True, output_dir=out, max_train_samples=16,
        max_eval_samples=8, max_length=24, per_device_train_batch_size=4, per_device_eval_batch_size=8,
        num_train_epochs=2, learning_rate=1e-3, lm_coef=0.5, logging_steps=1, eval_strategy="no",
        save_strategy="no", seed=7,
    )  # fmt: skip
    settings |= overrides
    return [part for name, value in settings.items() for part in (f"--{name}", str(value).lower() if isinstance(value, bool) else str(value))]  # fmt: skip


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "model" / "model.safetensors")


def results(run: Path) -> dict:
    return json.loads((run / "results.json").read_text())["runs"][0]


# --- --resume_from_checkpoint ---------------------------------------------------------------------------------------


class Interrupted(Exception):
    """Stands for a kill: raised right after the Trainer saved the checkpoint of one step."""


class InterruptAfterSave(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise Interrupted(f"interrupted after saving step {self.step}")


class CountSteps(TrainerCallback):
    def __init__(self) -> None:
        self.steps: list[int] = []

    def on_step_end(self, args, state, control, **kwargs):
        self.steps.append(state.global_step)


def with_callback(monkeypatch, callback: TrainerCallback) -> None:
    """Add `callback` to the Trainer that `finetune` builds."""
    original = finetuning.make_trainer

    def make_trainer(*args, **kwargs):
        trainer = original(*args, **kwargs)
        trainer.add_callback(callback)
        return trainer

    monkeypatch.setattr(finetuning, "make_trainer", make_trainer)


def test_resume_from_checkpoint_last_ends_as_an_uninterrupted_run(tiny_lm: Path, tmp_path: Path, monkeypatch) -> None:
    """A run stopped after its step-3 checkpoint (mid-epoch: 4 steps an epoch) and continued with
    `--resume_from_checkpoint last` ends with the weights, losses and metrics of the same run uninterrupted: the
    Trainer restores the optimizer, schedule, RNG and data position, so on the CPU they are equal bit for bit. The
    resumed process runs only the 5 updates left (a run started over would end the same, having redone them all)."""
    checkpointed = dict(save_strategy="steps", save_steps=3, save_total_limit=1)
    assert main(flags(tiny_lm, tmp_path / "whole", **checkpointed)) == 0

    run = tmp_path / "interrupted"
    with_callback(monkeypatch, InterruptAfterSave(3))
    with pytest.raises(Interrupted):
        main(flags(tiny_lm, run, **checkpointed))
    monkeypatch.undo()
    assert sorted(p.name for p in run.iterdir() if p.name.startswith("checkpoint-")) == ["checkpoint-3"]
    assert not (run / "model").exists()

    counted = CountSteps()
    with_callback(monkeypatch, counted)
    assert main([*flags(tiny_lm, run, **checkpointed), "--resume_from_checkpoint", "last"]) == 0
    assert counted.steps == [4, 5, 6, 7, 8]
    expected, got = weights(tmp_path / "whole"), weights(run)
    assert expected.keys() == got.keys() and all(torch.equal(expected[k], got[k]) for k in expected)
    whole, resumed = results(tmp_path / "whole"), results(run)
    assert resumed["global_step"] == whole["global_step"] == 8
    assert resumed["train_losses"] == whole["train_losses"] and len(whole["train_losses"]) == 8
    assert resumed["metrics"] == whole["metrics"]
    assert resumed["eval"]["eval_loss"] == whole["eval"]["eval_loss"]


# --- --push_to_hub --------------------------------------------------------------------------------------------------


def test_push_to_hub_publishes_the_fine_tuned_model(tiny_lm: Path, tmp_path: Path, loopback_hub) -> None:
    """`--push_to_hub` pushes `output_dir/model` (weights, config, tokenizer, code) once, after training, and never
    a Trainer checkpoint: every file comes back byte for byte and the pulled model is the local one."""
    from huggingface_hub import HfApi, hf_hub_download

    from gpt1.hub import load_model, load_tokenizer

    repo = "alice/gpt1-demo-tiny"
    out = tmp_path / "run"
    argv = flags(tiny_lm, out, num_train_epochs=1, save_strategy="epoch", push_to_hub=True, hub_model_id=repo)
    assert main(argv) == 0
    model_dir = out / "model"
    local = {p.relative_to(model_dir).as_posix(): p.read_bytes() for p in model_dir.rglob("*") if p.is_file()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "modeling_gpt1.py"} <= set(local)
    assert (out / "checkpoint-4").is_dir()  # saved locally, not pushed
    api = HfApi()
    assert set(api.list_repo_files(repo)) == set(local) | {".gitattributes", "README.md"}
    assert [c.title for c in api.list_repo_commits(repo)] == ["Fine-tuned on demo", "initial commit"]  # pushed once
    for name, content in local.items():
        assert Path(hf_hub_download(repo, name)).read_bytes() == content, name
    pulled = load_model(repo).state_dict()
    saved = load_file(model_dir / "model.safetensors")
    assert all(torch.equal(pulled[k], saved[k]) for k in saved)
    assert load_tokenizer(repo).get_vocab() == load_tokenizer(str(model_dir)).get_vocab()


# Both fail on gpt1/finetuning.py as it is (strict: once fixed, they pass and the markers must go): `finetune` calls
# `push_folder(model_dir, hub_model_id, commit_message=...)` without `token=training_args.hub_token` (nor
# `private=training_args.hub_private_repo`, `revision=training_args.hub_revision`), and `main` does not list `HubError`
# among the user errors, so a refused push ends in a traceback after the model was trained and saved.
def test_push_to_hub_uses_the_hub_token_given(tiny_lm: Path, tmp_path: Path, loopback_hub, monkeypatch) -> None:
    """`--hub_token` (a `TrainingArguments` flag the command accepts) is the token the push uses."""
    from huggingface_hub import HfApi

    monkeypatch.delenv("HF_TOKEN")  # nobody logged in: only the flag gives the token
    repo = "alice/gpt1-demo-token"
    argv = flags(tiny_lm, tmp_path / "run", max_train_samples=4, num_train_epochs=1, push_to_hub=True)
    assert main([*argv, "--hub_model_id", repo, "--hub_token", HUB_TOKEN]) == 0
    assert "model.safetensors" in HfApi(token=HUB_TOKEN).list_repo_files(repo)


def test_a_refused_push_is_one_error_line(tiny_lm: Path, tmp_path: Path, loopback_hub, monkeypatch, capsys) -> None:
    """No token at all: exit 2 with one `error:` line naming the repo, the fine-tuned model still saved locally."""
    monkeypatch.delenv("HF_TOKEN")
    argv = flags(tiny_lm, tmp_path / "run", max_train_samples=4, num_train_epochs=1, push_to_hub=True)
    error = cli_error(main, [*argv, "--hub_model_id", "alice/gpt1-demo-refused"], capsys)
    assert error.startswith("error: 'alice/gpt1-demo-refused' on ") and "token with write access" in error
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
