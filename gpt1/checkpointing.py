"""A pretraining run's folder and its checkpoints: the folder's lock, what a new run does with an old run's files,
and the `Checkpointer` that saves, prunes and restores `checkpoint-<step>/` (falling back past damaged ones).

    with run_lock(out, accelerator):                                 # one run per folder
        resuming = prepare_run_folder(out, accelerator, resume=..., overwrite=..., run_files=...)
        checkpointer = Checkpointer(accelerator, out, every=..., keep=..., last_step=..., scheduler=..., signature=...)
        saved = checkpointer.restore(log) if resuming else None      # the newest checkpoint that loads
        ...
        checkpointer.maybe_save(step, progress_state)                # each update; saves every `every` updates

A checkpoint is `accelerator.save_state` (model, optimiser, RNG and sampler states) plus `trainer_state.json` (the
run's progress, the schedule's state and the run's signature), written atomically (`io.atomic_directory`).
Everything a resume reads is data: tensors in safetensors or `torch.load(weights_only=True)` files, the rest JSON.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import pickle
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import broadcast_object_list
from filelock import FileLock, Timeout
from safetensors import SafetensorError
from tqdm.auto import tqdm

from .io import atomic_directory, atomic_write_json, folder_bytes, recover_interrupted
from .training import CHECKPOINT_PREFIX, MODEL_DIR, STATE_FILE, checkpoint_dir, complete_checkpoints, latest_checkpoint

RUN_LOCK = ".gpt1-run.lock"  # in output_dir; held (flock) by the run writing there

# What a damaged checkpoint raises while loading: truncated or garbled safetensors, torch.load or JSON files, and
# pickles that `weights_only` refuses (objects other than tensors and plain data).
DAMAGE = (OSError, EOFError, RuntimeError, KeyError, SafetensorError, ValueError, pickle.UnpicklingError)


class CheckpointError(ValueError):
    """The run folder cannot be used as asked (busy, holding another run, no loadable checkpoint); says what to do."""


# --- the run folder --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def run_lock(out: Path, accelerator: Accelerator) -> Iterator[None]:
    """Hold `out`'s run lock while the run lasts: a second run on the same folder is refused with one message.

    The lock is an OS file lock (`filelock`), released when its process ends however it ends, so a crashed or
    killed run never leaves it stuck.
    """
    lock, refusal, created = None, None, not out.exists()
    if accelerator.is_main_process:
        if out.exists() and not out.is_dir():
            refusal = f"--output_dir {out} is a file"
        else:
            out.mkdir(parents=True, exist_ok=True)
            lock = FileLock(out / RUN_LOCK)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                lock = None
                refusal = (
                    f"{out} is in use by another pretraining run (it holds {out / RUN_LOCK}); wait for it to finish "
                    "or choose another --output_dir"
                )
    refusal = broadcast_object_list([refusal])[0]  # every process refuses together
    if refusal:
        raise CheckpointError(refusal)
    try:
        yield
    finally:
        if lock is not None:
            lock.release()
            if created and [p.name for p in out.iterdir()] == [RUN_LOCK]:  # refused before writing anything:
                shutil.rmtree(out, ignore_errors=True)  # leave no trace of the folder we made


def prepare_run_folder(
    out: Path, accelerator: Accelerator, *, resume: bool, overwrite: bool, run_files: Iterable[str]
) -> bool:
    """Undo what a killed save left, then apply `--resume_from_checkpoint last` (`resume`) or
    `--overwrite_output_dir` (`overwrite`, which deletes the old run's checkpoints and `run_files`); returns whether
    the run resumes from a checkpoint. A folder holding a run is refused without either."""
    main = accelerator.is_main_process
    if main:  # we hold the folder's lock, so no other run is writing here
        recover_interrupted(out)
    accelerator.wait_for_everyone()
    latest = latest_checkpoint(out)
    finished = out / MODEL_DIR
    if (latest is not None or finished.is_dir()) and not resume:
        if not overwrite:
            if latest is None:  # its checkpoints deleted (to save space): the model would be replaced at the end
                raise CheckpointError(
                    f"{out} already holds the model of a finished run ({finished}); pass --overwrite_output_dir to "
                    "replace it, or choose another --output_dir"
                )
            raise CheckpointError(
                f"{out} already holds checkpoints of a run (latest {latest.name}); pass --resume_from_checkpoint last "
                "to continue it, --overwrite_output_dir to start afresh, or choose another --output_dir"
            )
        if main:
            remove_run_files(out, run_files)
        latest = None
    if resume and latest is None and main:
        tqdm.write(f"no checkpoint in {out}: starting from scratch")
    return latest is not None


def remove_run_files(out: Path, run_files: Iterable[str]) -> None:
    """Delete what an earlier run wrote to `out` (`--overwrite_output_dir`): its checkpoints (damaged ones too) and
    `run_files` (files or folders), so that nothing of it is left beside the new run's files (a user's own files
    stay)."""
    for old in out.glob(f"*{CHECKPOINT_PREFIX}-*"):  # checkpoint-N and damaged-checkpoint-N
        shutil.rmtree(old)
    for name in run_files:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


# --- checkpoints -------------------------------------------------------------------------------------------------


class Checkpointer:
    """Saves a run's checkpoints every `every` updates (before `last_step`, which the run saves at its end), keeps
    the newest `keep`, and restores the newest one that loads.

    `trainer_state.json` holds the state the loop passes in (its progress), the `scheduler`'s state (stepped by hand,
    so not registered with accelerate, which would pickle it) and the run's `signature`: what must not change
    between a run and its resumption. A checkpoint of a run with another signature is refused, not resumed.
    """

    def __init__(
        self,
        accelerator: Accelerator,
        folder: Path,
        *,
        every: int,
        keep: int,
        last_step: int,
        scheduler: Any,
        signature: dict[str, Any],
    ) -> None:
        self.accelerator, self.folder, self.every, self.keep, self.last_step = (
            accelerator,
            folder,
            every,
            keep,
            last_step,
        )
        self.scheduler, self.signature = scheduler, signature

    def maybe_save(self, step: int, state: Callable[[], dict[str, Any]]) -> Path | None:
        """`save(state())` when `step` is a multiple of `every` and not the last step (the run's end saves that)."""
        if step % self.every == 0 and step < self.last_step:
            return self.save(state())
        return None

    def save(self, state: dict[str, Any]) -> Path:
        """`accelerator.save_state` plus `trainer_state.json` into `checkpoint-<state["step"]>`, atomically: every
        rank writes into one temporary folder that the main process swaps into place only when all are done; then
        all but the newest `keep` checkpoints are deleted. Every process calls it."""
        accelerator = self.accelerator
        target = checkpoint_dir(self.folder, state["step"])
        trainer_state = {**state, "scheduler": self.scheduler.state_dict(), "signature": self.signature}
        latest = latest_checkpoint(self.folder)  # a checkpoint is about the size of the last: refuse what cannot fit
        expected = folder_bytes(latest) if latest is not None and accelerator.is_main_process else None
        with atomic_directory(target, expected) if accelerator.is_main_process else contextlib.nullcontext() as tmp:
            tmp = broadcast_object_list([str(tmp) if tmp else None])[0]
            accelerator.save_state(tmp)
            if accelerator.is_main_process:
                atomic_write_json(Path(tmp) / STATE_FILE, trainer_state)
            accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            for stale in complete_checkpoints(self.folder)[: -self.keep]:
                shutil.rmtree(stale, ignore_errors=True)
        accelerator.wait_for_everyone()
        return target

    def has(self, step: int) -> bool:
        """Whether the newest checkpoint is the one of `step` (a resumed finished run need not save it again)."""
        return latest_checkpoint(self.folder) == checkpoint_dir(self.folder, step)

    def restore(self, log: Callable[[str], Any]) -> dict[str, Any]:
        """Load the newest checkpoint that loads (model, optimiser, RNG, schedule) and return the state the loop
        saved in it.

        A damaged one (a disk error, a truncated copy) is renamed `damaged-checkpoint-N`, kept for inspection and out
        of the way of pruning, and the next older one is tried, with a warning (`log`). A checkpoint of a run with
        other settings is an error, not damage.
        """
        accelerator = self.accelerator
        for checkpoint in reversed(complete_checkpoints(self.folder)):
            try:
                saved = json.loads((checkpoint / STATE_FILE).read_text(encoding="utf-8"))
                check_resumable(saved["signature"], self.signature, checkpoint)
                accelerator.load_state(str(checkpoint))  # its torch.load is weights_only (accelerate >= 1.3)
                self.scheduler.load_state_dict(saved["scheduler"])
                problem = None
            except CheckpointError:
                raise
            except DAMAGE as e:
                problem = f"{type(e).__name__}: {e}".splitlines()[0]
            if on_every_rank(accelerator, problem is None):
                return {k: v for k, v in saved.items() if k not in ("scheduler", "signature")}
            log(f"warning: checkpoint {checkpoint} is damaged ({problem or 'on another process'}); trying an older one")
            if accelerator.is_main_process:
                set_aside(checkpoint)
            accelerator.wait_for_everyone()
        raise CheckpointError(
            f"no checkpoint in {self.folder} could be loaded; pass --overwrite_output_dir to start afresh"
        )


def check_resumable(saved: dict[str, Any], current: dict[str, Any], checkpoint: Path) -> None:
    """One error naming every setting in which the checkpoint's run differs from this one."""
    diffs = [f"{k}: checkpoint {saved.get(k)!r} vs now {v!r}" for k, v in current.items() if saved.get(k) != v]
    if diffs:
        raise CheckpointError(
            f"cannot resume from {checkpoint}: it was written by a run with a different configuration "
            f"({'; '.join(diffs)}). Use the original options, or another --output_dir / --overwrite_output_dir."
        )


def on_every_rank(accelerator: Accelerator, ok: bool) -> bool:
    """True when `ok` holds on every process (so that all of them take the same branch)."""
    flags = accelerator.gather(torch.tensor([float(ok)], device=accelerator.device))
    return bool(flags.min().item())


def set_aside(checkpoint: Path) -> Path:
    """Rename a damaged checkpoint `damaged-checkpoint-N` (`-2`, `-3`... if taken): kept, never resumed or pruned."""
    for n in itertools.count(1):
        aside = checkpoint.with_name(f"damaged-{checkpoint.name}{f'-{n}' if n > 1 else ''}")
        if not aside.exists():
            return checkpoint.rename(aside)
    raise AssertionError("unreachable")


__all__ = [
    "RUN_LOCK",
    "CheckpointError",
    "Checkpointer",
    "prepare_run_folder",
    "run_lock",
]
