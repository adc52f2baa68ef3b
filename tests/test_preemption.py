"""Stopping when asked (gpt1.preemption): a real SIGTERM, SIGINT or SIGUSR1 to a real pretraining or fine-tuning
process finishes the update, writes a checkpoint of it, logs one line naming the signal and the checkpoint, exits
128 + the signal; `--resume_from_checkpoint last` then ends exactly as an uninterrupted run."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gpt1.io import is_partial
from gpt1.preemption import StopSignals
from gpt1.pretraining import pretrain
from gpt1.training import latest_checkpoint
from tests.conftest import cli_error
from tests.test_pretraining import REPO, argv, losses, subprocess_env, tiny
from tests.test_pretraining import corpus_and_tokenizer as corpus_and_tokenizer  # noqa: F401  (a fixture)

STEPS = 24


def wait_for_step(run_dir: Path, child: subprocess.Popen, step: int, what: str) -> None:
    deadline = time.monotonic() + 120
    while not any(s >= step for s in what_is_logged(run_dir, what)):
        assert child.poll() is None, child.stderr.read()[-3000:]
        assert time.monotonic() < deadline, "the child run made no progress"
        time.sleep(0.01)


def what_is_logged(run_dir: Path, what: str) -> list[int]:
    if what == "pretraining":
        return list(losses(run_dir))
    state = sorted(run_dir.glob("checkpoint-*/trainer_state.json"))  # fine-tuning: Trainer's checkpoints
    return [json.loads(p.read_text())["global_step"] for p in state]


def stop_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "stopped by SIG" in line]


def test_a_second_signal_is_noted_and_ignored():
    with StopSignals() as signals:
        signal.raise_signal(signal.SIGUSR1)
        signal.raise_signal(signal.SIGTERM)  # would end the process without the handler
        assert signals.signum == signal.SIGUSR1 and signals.should_stop()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGUSR1], ids=lambda s: s.name)
def test_pretraining_stops_on_a_signal_with_a_checkpoint_and_resumes_exactly(corpus_and_tokenizer, tmp_path, sig):
    reference = tiny(corpus_and_tokenizer, tmp_path / "reference", max_steps=STEPS, save_steps=100)
    pretrain(*reference)
    expected = losses(tmp_path / "reference")

    stopped = reference.replace(output_dir=str(tmp_path / "stopped"))
    child = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "pretrain.py"), *argv(stopped)],
        env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    at = random.Random(sig).randrange(3, STEPS - 6)  # a random update, not a multiple of --save_steps
    wait_for_step(tmp_path / "stopped", child, at, "pretraining")
    child.send_signal(sig)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 128 + sig, err[-3000:]
    (line,) = stop_lines(out + err)
    step = int(line.split("after update ")[1].split(":")[0])
    assert at <= step < STEPS
    checkpoint = tmp_path / "stopped" / f"checkpoint-{step}"
    assert latest_checkpoint(tmp_path / "stopped") == checkpoint
    assert f"stopped by {sig.name} after update {step}: checkpoint {checkpoint} saved" in line
    assert "Traceback" not in err and not (tmp_path / "stopped" / "model").exists()

    pretrain(*stopped.replace(resume_from_checkpoint="last"))
    assert losses(tmp_path / "stopped") == expected  # every update once, bit for bit
    final = [load_file(p / "model" / "model.safetensors") for p in (tmp_path / "reference", tmp_path / "stopped")]
    assert final[0].keys() == final[1].keys() and all(torch.equal(final[0][k], final[1][k]) for k in final[0])


# One epoch of 64 updates, a checkpoint every 4: the signal lands inside the epoch, between two checkpoints.
FINETUNE = dict(task="demo", max_train_samples=256, max_eval_samples=16, max_length=32, num_train_epochs=1,
                per_device_train_batch_size=4, save_strategy="steps", save_steps=4, save_total_limit=1,
                logging_steps=1, seed=0)  # fmt: skip


def finetune_argv(model: Path, out: Path, **extra) -> list[str]:
    flags = {**FINETUNE, "model_name_or_path": model, "output_dir": out, **extra}
    return [*(f"--{k}={v}" for k, v in flags.items()), "--add_special_tokens"]


def test_fine_tuning_stops_on_sigterm_with_trainers_checkpoint_and_resumes_exactly(tiny_lm, tmp_path):
    from gpt1.finetuning import main

    assert main(finetune_argv(tiny_lm, tmp_path / "reference")) == 0
    expected = json.loads((tmp_path / "reference" / "results.json").read_text())["runs"][0]

    child = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "finetune.py"), *finetune_argv(tiny_lm, tmp_path / "stopped")],
        env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for_step(tmp_path / "stopped", child, 4, "finetuning")  # after the first periodic checkpoint
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 128 + signal.SIGTERM, err[-3000:]
    (line,) = stop_lines(out + err)
    step = int(line.split("after update ")[1].split(":")[0])
    assert step >= 4 and (tmp_path / "stopped" / f"checkpoint-{step}" / "trainer_state.json").is_file()
    assert not (tmp_path / "stopped" / "model").exists() and "Traceback" not in err

    resume = finetune_argv(tiny_lm, tmp_path / "stopped", resume_from_checkpoint="last")
    assert main(resume) == 0
    resumed = json.loads((tmp_path / "stopped" / "results.json").read_text())["runs"][0]
    assert resumed["metrics"] == expected["metrics"] and resumed["global_step"] == expected["global_step"]
    assert resumed["train_losses"] == expected["train_losses"]
    final = [load_file(p / "model" / "model.safetensors") for p in (tmp_path / "reference", tmp_path / "stopped")]
    assert all(torch.equal(final[0][k], final[1][k]) for k in final[0])


# --- a full disk during a checkpoint: one error line, the previous checkpoint intact -------------------------------


def test_a_checkpoint_that_cannot_fit_is_refused_with_one_line_and_the_last_stays(
    corpus_and_tokenizer, small_disk, monkeypatch, capsys
):
    from gpt1 import checkpointing
    from gpt1.pretraining import main

    out = small_disk(40) / "run"
    original = checkpointing.Checkpointer.save

    def fill_the_disk_first(self, state):
        if state["step"] == 8:  # after checkpoint-4: leave less room than a checkpoint takes
            free = __import__("shutil").disk_usage(out).free
            (out.parent / "filler").write_bytes(b"\0" * max(free - 64_000, 0))
        return original(self, state)

    monkeypatch.setattr(checkpointing.Checkpointer, "save", fill_the_disk_first)
    assert main(argv(tiny(corpus_and_tokenizer, out, max_steps=12, save_steps=4))) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert errors[0].startswith(f"error: cannot save to {out}: not enough free space (it needs about ")
    assert " MB free); the last complete save there is untouched" in errors[0]
    assert latest_checkpoint(out) == out / "checkpoint-4"
    assert not [p for p in out.iterdir() if is_partial(p)]  # nothing partial
    (out.parent / "filler").unlink()  # room again: the run resumes from checkpoint-4
    monkeypatch.setattr(checkpointing.Checkpointer, "save", original)
    assert (
        main([*argv(tiny(corpus_and_tokenizer, out, max_steps=12, save_steps=4)), "--resume_from_checkpoint", "last"])
        == 0
    )


def test_two_processes_stopped_by_sigterm_to_the_launcher_resume_exactly(corpus_and_tokenizer, tmp_path):
    """SIGTERM to `accelerate launch` (what `scancel` does): the launcher passes it to both ranks, which agree on
    the update to stop after; the checkpoint is whole, and a 2-process resume ends as the uninterrupted 2-process run."""
    import socket

    from tests.test_pretraining import launch_two_processes

    reference = tiny(corpus_and_tokenizer, tmp_path / "reference", max_steps=STEPS, save_steps=100, dropout=0.0)
    launch_two_processes(reference)
    expected = losses(tmp_path / "reference")

    stopped = reference.replace(output_dir=str(tmp_path / "stopped"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    child = subprocess.Popen(
        [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(port), "--multi_gpu",
         str(REPO / "scripts" / "pretrain.py"), *argv(stopped)],
        env={**subprocess_env(), "ACCELERATE_USE_CPU": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for_step(tmp_path / "stopped", child, 4, "pretraining")
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=180)
    lines = stop_lines(out + err)
    assert lines, err[-4000:]
    step = int(lines[0].split("after update ")[1].split(":")[0])
    assert 4 <= step < STEPS and latest_checkpoint(tmp_path / "stopped") == tmp_path / "stopped" / f"checkpoint-{step}"
    assert not (tmp_path / "stopped" / "model").exists()

    launch_two_processes(stopped.replace(resume_from_checkpoint="last"))
    assert losses(tmp_path / "stopped") == pytest.approx(expected, rel=1e-6)


def test_fine_tuning_on_a_full_disk_is_one_line_and_the_earlier_checkpoint_stays(tiny_lm, small_disk, capsys):
    """`Trainer`'s checkpoint that the filesystem refuses: one `error:` line, exit 2; the partial checkpoint is
    removed and the earlier complete one is untouched."""
    from gpt1.finetuning import main

    probe = small_disk(200) / "probe"
    assert main(finetune_argv(tiny_lm, probe, max_train_samples=16, save_total_limit=5)) == 0
    size = sum(p.stat().st_size for p in (probe / "checkpoint-4").rglob("*") if p.is_file())
    out = small_disk(1.6 * size / 1e6) / "run"  # room for one checkpoint, not two
    assert main(finetune_argv(tiny_lm, out, max_train_samples=32, save_total_limit=5)) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert errors[0].startswith(f"error: cannot save to {out}: No space left on device")
    checkpoints = sorted(p.name for p in out.iterdir() if p.name.startswith("checkpoint-"))
    assert checkpoints == ["checkpoint-4"]
    whole = sorted(p.name for p in (probe / "checkpoint-4").iterdir())
    assert sorted(p.name for p in (out / "checkpoint-4").iterdir()) == whole and not (out / "model").exists()
    assert (
        load_file(out / "checkpoint-4" / "model.safetensors").keys()
        == load_file(probe / "checkpoint-4" / "model.safetensors").keys()
    )  # complete: it loads
    assert json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())["global_step"] == 4


def fill_the_disk_before_the_final_save(monkeypatch, module, out: Path):
    """Patch `module.atomic_directory` so that the final `model/` save finds the disk under `out` full (a filler file
    beside `out`); returns the original, to undo it with."""
    import shutil

    original = module.atomic_directory

    def fill_the_disk_first(path, *args, **kwargs):
        if Path(path).name == "model":  # the final save: leave no room for it
            (out.parent / "filler").write_bytes(b"\0" * max(shutil.disk_usage(out).free - 16_000, 0))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(module, "atomic_directory", fill_the_disk_first)
    return original


def test_pretraining_s_final_model_on_a_full_disk_is_one_line_and_the_checkpoint_stays(
    corpus_and_tokenizer, small_disk, monkeypatch, capsys
):
    from gpt1 import pretraining

    out = small_disk(40) / "run"
    original = fill_the_disk_before_the_final_save(monkeypatch, pretraining, out)
    options = tiny(corpus_and_tokenizer, out, max_steps=8, save_steps=4)
    assert cli_error(pretraining.main, argv(options), capsys).startswith(
        f"error: cannot save to {out}: No space left on device"
    )
    assert latest_checkpoint(out) == out / "checkpoint-8" and not (out / "model").exists()
    assert not [p for p in out.iterdir() if is_partial(p)]
    (out.parent / "filler").unlink()
    monkeypatch.setattr(pretraining, "atomic_directory", original)
    assert pretraining.main([*argv(options), "--resume_from_checkpoint", "last"]) == 0  # finishes from the checkpoint
    assert (out / "model" / "model.safetensors").is_file()


def test_fine_tuning_s_final_model_on_a_full_disk_is_one_line(tiny_lm, small_disk, monkeypatch, capsys):
    from gpt1 import finetuning

    out = small_disk(200) / "run"
    fill_the_disk_before_the_final_save(monkeypatch, finetuning, out)
    args = finetune_argv(tiny_lm, out, max_train_samples=16, save_total_limit=5)
    assert cli_error(finetuning.main, args, capsys).startswith(f"error: cannot save to {out}: No space left on device")
    assert (out / "checkpoint-4" / "model.safetensors").is_file() and not (out / "model").exists()
    assert not [p for p in out.iterdir() if is_partial(p)]
