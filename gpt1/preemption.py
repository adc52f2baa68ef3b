"""Stopping when asked: a scheduler's SIGTERM (SLURM, Kubernetes, spot instances), SIGUSR1 (SLURM's
`--signal=USR1@90`) or Ctrl-C (SIGINT) lets the current update finish, has a checkpoint written, and ends the run
with the status 128 + the signal's number, which schedulers read as "interrupted" and `--resume_from_checkpoint
last` continues exactly.

`StopSignals` catches the three signals while a run trains; the loop asks `should_stop()` after each update. In a
multi-process run every process asks together (one all-reduce of a flag), so all stop after the same update even
when the signal reaches them at different instants. A second signal while the checkpoint is written is noted and
ignored: the save completes (and were the process killed outright, the save is atomic: the previous checkpoint
stays). `StopOnSignal` is the same for `transformers.Trainer` (fine-tuning), through its `TrainerControl`.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

import torch
import torch.distributed as dist
from transformers import TrainerCallback

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)


class Stopped(Exception):
    """Raised by a training function that stopped on a signal after saving; `exit_status` is 128 + the signal."""

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.signum = signum
        self.exit_status = 128 + signum


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


class StopSignals:
    """A context manager that turns SIGTERM, SIGINT and SIGUSR1 into a request to stop after the current update.

    `signum` is the first signal received (None until then). Outside the main thread (where handlers cannot be
    installed) it catches nothing and never asks to stop.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}
        self._group = None  # a gloo group: the flag is a CPU tensor, so asking never waits on an accelerator

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum  # the run says so once, when it has saved (the one line a user needs)
        else:
            print(f"{signal_name(signum)} received again: already stopping, the checkpoint being written completes",
                  file=sys.stderr, flush=True)  # fmt: skip

    def should_stop(self) -> bool:
        """Whether to stop after this update: in every process alike when several train together."""
        local = self.signum is not None
        if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return local
        if self._group is None:  # every process reaches this call at the same update: a collective is safe
            self._group = dist.new_group(backend="gloo") if dist.get_backend() != "gloo" else dist.group.WORLD
        # The signal number itself is shared, so every process reports the same one.
        flag = torch.tensor([self.signum or 0], dtype=torch.int64)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX, group=self._group)
        if flag.item() and self.signum is None:
            self.signum = int(flag.item())
        return bool(flag.item())


class StopOnSignal(TrainerCallback):
    """`Trainer` (fine-tuning) stops on the same signals: after the update in progress, `Trainer` writes its own
    checkpoint (`control.should_save`) and ends training (`control.should_training_stop`)."""

    def __init__(self, signals: StopSignals):
        self.signals = signals
        self.stopped_at: int | None = None

    def on_step_end(self, args, state, control, **kwargs):
        if self.signals.should_stop():
            control.should_save = True
            control.should_training_stop = True
            self.stopped_at = state.global_step
        return control


__all__ = ["STOP_SIGNALS", "StopOnSignal", "StopSignals", "Stopped", "signal_name"]
