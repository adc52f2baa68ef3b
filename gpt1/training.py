"""What pretraining and fine-tuning share, defined once: the weight-decay rule, the options' names, the run folder.

The two stacks differ on purpose (pretraining runs its own `accelerate` loop for atomic, bit-exact resume;
fine-tuning is `transformers.Trainer`), but a user meets the same things in both:

- **the optimizer rule**: `decays` (what gets weight decay) and `param_groups`; `GPT1Trainer` uses `decays` too;
- **option names**: an option both have is `TrainingArguments`' field of that name, help text included
  (`trainer_option`), so `--learning_rate`, `--warmup_steps`, `--save_steps`, `--save_total_limit`,
  `--logging_steps`, `--resume_from_checkpoint` ... mean one thing everywhere;
- **the run folder**: `<output_dir>/checkpoint-<step>/` (the Trainer's name, each with its `trainer_state.json`) and
  the final `<output_dir>/model/`, so `transformers.trainer_utils.get_last_checkpoint` finds either's checkpoints.
"""

from __future__ import annotations

import re
from dataclasses import field, fields
from pathlib import Path
from typing import Any

import torch
from transformers import TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from .io import is_partial

CHECKPOINT_PREFIX = PREFIX_CHECKPOINT_DIR  # "checkpoint"
STATE_FILE = "trainer_state.json"  # the Trainer's TRAINER_STATE_NAME; pretraining writes its own state there
MODEL_DIR = "model"  # the final model, with its tokenizer and code, ready for from_pretrained / the Hub
_CHECKPOINT = re.compile(rf"^{CHECKPOINT_PREFIX}-(\d+)$")


# --- the optimizer rule ------------------------------------------------------------------------------------------


def decays(param: torch.Tensor) -> bool:
    """The paper's weight-decay rule, for pretraining and fine-tuning alike: decay every matrix (ndim >= 2), not
    biases or LayerNorm gains/biases (ndim 1).

    It is the authors' code (`len(shape) > 1`): besides the attention and MLP weights it decays the token AND
    position embeddings, which in their code were one matrix.
    """
    return param.dim() >= 2


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups by `decays`. Tied parameters appear once."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if decays(p)], "weight_decay": weight_decay},
        {"params": [p for p in params if not decays(p)], "weight_decay": 0.0},
    ]


# --- option names ------------------------------------------------------------------------------------------------

_TRAINER_FIELDS = {f.name: f for f in fields(TrainingArguments)}


def trainer_option(name: str, default: Any, note: str = "") -> Any:
    """A dataclass field declaring `TrainingArguments.<name>` with another default: its help is kept, followed by
    `note` (by default, the default). An option pretraining and fine-tuning share is declared this way in both."""
    metadata = dict(_TRAINER_FIELDS[name].metadata)
    metadata["help"] = f"{metadata.get('help', '')} {note or f'Default here: {default}.'}".strip()
    return field(default=default, metadata=metadata)


# --- the run folder ----------------------------------------------------------------------------------------------


def checkpoint_dir(output_dir: str | Path, step: int) -> Path:
    """Where the checkpoint of update `step` lives: `<output_dir>/checkpoint-<step>`."""
    return Path(output_dir) / f"{CHECKPOINT_PREFIX}-{step}"


def checkpoint_step(checkpoint: Path) -> int:
    """The update a checkpoint folder was saved at."""
    return int(_CHECKPOINT.match(checkpoint.name).group(1))


def complete_checkpoints(output_dir: str | Path) -> list[Path]:
    """The complete checkpoints of a run, oldest first: `checkpoint-<step>` folders holding `trainer_state.json`
    (the last file a save writes), not the temporary folder of an interrupted save."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return []
    done = [
        p for p in folder.iterdir() if _CHECKPOINT.match(p.name) and not is_partial(p) and (p / STATE_FILE).is_file()
    ]
    return sorted(done, key=checkpoint_step)


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest complete checkpoint of a run, if any."""
    return next(reversed(complete_checkpoints(output_dir)), None)


__all__ = [
    "CHECKPOINT_PREFIX",
    "MODEL_DIR",
    "STATE_FILE",
    "checkpoint_dir",
    "checkpoint_step",
    "complete_checkpoints",
    "decays",
    "latest_checkpoint",
    "param_groups",
    "trainer_option",
]
