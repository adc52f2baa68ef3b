"""Checkpoints and the run folder (gpt1.checkpointing) on a one-layer model, without a pretraining run: the save
cadence and pruning, what `trainer_state.json` holds, restoring the newest checkpoint that loads, refusing another
run's, the folder lock, and what `--overwrite_output_dir` deletes. End-to-end resumes are in tests/test_pretraining.py
and tests/test_faults.py."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator
from filelock import FileLock

from gpt1.checkpointing import RUN_LOCK, Checkpointer, CheckpointError, prepare_run_folder, run_lock
from gpt1.training import complete_checkpoints


class Schedule:
    """A scheduler stand-in: its state is a number the checkpoint keeps as JSON."""

    def __init__(self) -> None:
        self.last_epoch = 0

    def state_dict(self) -> dict[str, int]:
        return {"last_epoch": self.last_epoch}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.last_epoch = state["last_epoch"]


def checkpointer(folder: Path, signature: dict | None = None, **options) -> tuple[Checkpointer, torch.nn.Module]:
    """A `Checkpointer` over a prepared 2x2 linear layer, and the layer."""
    accelerator = Accelerator(cpu=True)
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 2)
    model, _ = accelerator.prepare(model, torch.optim.SGD(model.parameters(), lr=0.1))
    options = {"every": 2, "keep": 2, "last_step": 6, **options}
    sig = signature or {"seed": 0, "block_size": 32}
    return Checkpointer(accelerator, folder, scheduler=Schedule(), signature=sig, **options), model


def steps(folder: Path) -> list[int]:
    return [int(p.name.split("-")[1]) for p in complete_checkpoints(folder)]


def test_maybe_save_keeps_the_cadence_and_the_newest(tmp_path: Path) -> None:
    """Every `every` updates but not the last one (the run's end saves it), the newest `keep` kept, and the state
    file holding the loop's state, the schedule's and the signature, in that order."""
    saver, _ = checkpointer(tmp_path)
    saved = [step for step in range(1, 7) if saver.maybe_save(step, lambda step=step: {"step": step}) is not None]
    assert saved == [2, 4] and steps(tmp_path) == [2, 4]
    saver.scheduler.last_epoch = 6
    saver.save({"step": 6, "tokens": 60})
    assert steps(tmp_path) == [4, 6] and saver.has(6) and not saver.has(4)
    state = json.loads((tmp_path / "checkpoint-6" / "trainer_state.json").read_text())
    assert list(state.items()) == [("step", 6), ("tokens", 60), ("scheduler", {"last_epoch": 6}),
                                   ("signature", {"seed": 0, "block_size": 32})]  # fmt: skip


def test_restore_takes_the_newest_that_loads(tmp_path: Path) -> None:
    """The newest checkpoint's tensors and schedule come back; a damaged newest one is set aside (renamed, kept)
    and the one before it restored instead, with a warning."""
    saver, model = checkpointer(tmp_path)
    weights = {}
    for step in (2, 4):
        with torch.no_grad():
            model.weight.fill_(float(step))
        saver.scheduler.last_epoch = step
        saver.save({"step": step, "tokens": 10 * step})
        weights[step] = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.zero_()
    warnings: list[str] = []
    assert saver.restore(warnings.append) == {"step": 4, "tokens": 40}
    assert torch.equal(model.weight, weights[4]) and saver.scheduler.last_epoch == 4 and warnings == []

    damaged = tmp_path / "checkpoint-4" / "model.safetensors"
    damaged.write_bytes(damaged.read_bytes()[:10])
    assert saver.restore(warnings.append) == {"step": 2, "tokens": 20}
    assert torch.equal(model.weight, weights[2]) and saver.scheduler.last_epoch == 2
    assert len(warnings) == 1 and warnings[0].startswith(f"warning: checkpoint {tmp_path / 'checkpoint-4'} is damaged")
    assert (tmp_path / "damaged-checkpoint-4" / "model.safetensors").is_file() and steps(tmp_path) == [2]
    (tmp_path / "checkpoint-2" / "model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="no checkpoint in .* could be loaded; pass --overwrite_output_dir"):
        saver.restore(warnings.append)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged-checkpoint-2", "damaged-checkpoint-4"]


def test_another_runs_checkpoint_is_refused_naming_every_difference(tmp_path: Path) -> None:
    saver, _ = checkpointer(tmp_path, signature={"seed": 0, "block_size": 32, "total_steps": 6})
    saver.save({"step": 2})
    other, _ = checkpointer(tmp_path, signature={"seed": 1, "block_size": 32, "total_steps": 8})
    with pytest.raises(CheckpointError) as refused:
        other.restore(print)
    assert "different configuration (seed: checkpoint 0 vs now 1; total_steps: checkpoint 6 vs now 8)" in str(
        refused.value
    )
    assert steps(tmp_path) == [2]  # refused, not set aside as damaged


def test_the_run_lock_refuses_a_second_run_and_dies_with_its_holder(tmp_path: Path) -> None:
    accelerator = Accelerator(cpu=True)
    out = tmp_path / "run"
    with run_lock(out, accelerator):
        with pytest.raises(CheckpointError, match=f"{out} is in use by another pretraining run"):
            with run_lock(out, accelerator):
                pass
    assert not out.exists()  # made for the run, which wrote nothing: removed
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import filelock, time, os; os.makedirs({str(out)!r}); "
         f"lock = filelock.FileLock({str(out / RUN_LOCK)!r}); lock.acquire(); "
         "print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(CheckpointError, match="in use"), run_lock(out, accelerator):
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    holder.stdout.close()
    with run_lock(out, accelerator):  # a killed holder leaves nothing stuck
        assert FileLock(out / RUN_LOCK).is_locked is False


def test_overwrite_deletes_the_old_runs_files_only(tmp_path: Path) -> None:
    """`--overwrite_output_dir` deletes the old run's checkpoints (damaged ones too) and the files a run writes; a
    folder holding a run is refused without it, or resumed with `resume`."""
    accelerator = Accelerator(cpu=True)
    for name in ("checkpoint-3", "damaged-checkpoint-2", "model", "tokenizer"):
        (tmp_path / name).mkdir()
    (tmp_path / "checkpoint-3" / "trainer_state.json").write_text("{}")
    for name in ("log.jsonl", "notes.txt"):
        (tmp_path / name).write_text("x")
    run_files = ("model", "tokenizer", "log.jsonl", "run_config.json")
    with pytest.raises(CheckpointError, match="already holds checkpoints of a run \\(latest checkpoint-3\\)"):
        prepare_run_folder(tmp_path, accelerator, resume=False, overwrite=False, run_files=run_files)
    assert prepare_run_folder(tmp_path, accelerator, resume=True, overwrite=False, run_files=run_files) is True
    assert prepare_run_folder(tmp_path, accelerator, resume=False, overwrite=True, run_files=run_files) is False
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
