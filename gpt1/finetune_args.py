"""The fine-tuning commands' arguments: `FinetuneArguments` (task, checkpoint, data) and `PaperTrainingArguments`
(every `TrainingArguments` flag, the paper's recipe as defaults), each checking its own fields when it is made.

As in transformers' `run_glue.py`, the command line is these two dataclasses (`finetune_parser`); a command that
runs several fine-tunings (ablations, the paper's tables) puts its own arguments before them. A value out of range
is a `FinetuneError` at parse time, one line naming the option (`parse_arguments` turns it into exit status 2).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import HfArgumentParser, TrainingArguments
from transformers.trainer_utils import IntervalStrategy, SaveStrategy

from tokenization.tokenization_gpt1 import HUB_ID

from .cli import user_error
from .training import trainer_option


class FinetuneError(ValueError):
    """A user mistake in the options or the checkpoint; `main` prints it as one `error:` line and exits 2."""


Rule = tuple[str, Callable[[Any], bool], str]  # (option, test, what it must be)


def _positive(v: float | None) -> bool:
    return v is not None and math.isfinite(v) and v > 0


def _positive_or_none(v: int | None) -> bool:
    return v is None or v > 0


# Checked when the arguments are made (parsed), so a typo costs nothing.
FINETUNE_RULES: tuple[Rule, ...] = (
    ("max_length", _positive_or_none, "a positive integer"),
    ("max_train_samples", _positive_or_none, "a positive integer"),
    ("max_eval_samples", _positive_or_none, "a positive integer"),
    ("lm_coef", lambda v: v >= 0, "zero (no auxiliary LM loss) or positive"),
    ("classifier_dropout", lambda v: 0 <= v < 1, "in [0, 1)"),
    ("n_transfer_layers", lambda v: v is None or v >= 0, "zero or a positive integer"),
)
TRAINING_RULES: tuple[Rule, ...] = (
    ("learning_rate", _positive, "positive"),
    ("per_device_train_batch_size", _positive, "a positive integer"),
    ("per_device_eval_batch_size", _positive, "a positive integer"),
    ("gradient_accumulation_steps", _positive, "a positive integer"),
    ("num_train_epochs", _positive, "positive"),
    ("max_steps", lambda v: v == -1 or v > 0, "a positive integer, or -1 to train for --num_train_epochs"),
    ("warmup_steps", lambda v: v >= 0, "zero, a fraction of the steps below 1, or a number of steps"),
    ("weight_decay", lambda v: v >= 0, "zero or positive"),
    ("max_grad_norm", lambda v: v >= 0, "zero (no clipping) or positive"),
    ("logging_steps", _positive, "positive"),
    ("save_steps", _positive, "positive"),
    ("save_total_limit", _positive_or_none, "a positive integer"),
)


def check_rules(arguments: Any, rules: tuple[Rule, ...]) -> None:
    """Refuse the first out-of-range option of `arguments` with one message naming it and its value."""
    for name, ok, requirement in rules:
        value = getattr(arguments, name)
        if not ok(value):
            raise FinetuneError(f"--{name} must be {requirement}, got {value}")


@dataclass
class FinetuneArguments:
    """The task, the checkpoint and the data: what `finetune` needs besides the Trainer's own options.

    Each field is a `scripts/finetune.py` flag; every other flag is a `TrainingArguments` one (`PaperTrainingArguments`:
    the paper's values as defaults), as in transformers' `run_glue.py`.
    """

    task: str = field(
        default="demo", metadata={"help": "A task of gpt1.tasks.TASKS (sst2, cola, mrpc, stsb, qqp, mnli_m, mnli_mm, "
                                          "rte, wnli, qnli, snli, scitail, story_cloze, race_m, race_h, race, demo), "
                                          "or 'custom' with --train_file."}
    )  # fmt: skip
    model_name_or_path: str = field(
        default="openai-community/openai-gpt",
        metadata={"help": "A GPT-1 checkpoint: ours (pretraining output), one converted from openai-gpt, or a "
                          "fine-tuned one (to evaluate or continue)."},
    )  # fmt: skip
    tokenizer_name: str | None = field(
        default=None,
        metadata={"help": "Tokenizer folder or Hub id; default: the checkpoint's own (a checkpoint folder without "
                          f"tokenizer files needs this; {HUB_ID} is the original GPT-1 vocabulary, bundled)."},
    )  # fmt: skip
    data_dir: str | None = field(
        default=None, metadata={"help": "Local data: a root laid out like ../shared/data, or the task's folder. "
                                        "Default: the Hub (GLUE) or the bundled sample (demo)."}
    )  # fmt: skip
    train_file: str | None = field(default=None, metadata={"help": "Custom task: CSV/TSV/JSON(L) training file."})
    validation_file: str | None = field(default=None, metadata={"help": "Custom task: the evaluation file."})
    test_file: str | None = field(
        default=None,
        metadata={"help": "A test set in the task's local format (GLUE's test.tsv, the Story Cloze 2016 test CSV, "
                          "RACE's test/ folder, ...): with labels, test_* metrics; without, predictions (and GLUE's "
                          "submission file <Task>.tsv)."},
    )  # fmt: skip
    transform: str = field(
        default="classification",
        metadata={"help": "Custom task: classification, entailment, similarity or multiple_choice."},
    )
    text_columns: list[str] = field(
        default_factory=lambda: ["sentence"],
        metadata={"help": "Custom task: the text columns (context first, then the answers, for multiple choice)."},
    )
    label_column: str = field(default="label", metadata={"help": "Custom task: the label column."})
    label_names: list[str] | None = field(
        default=None, metadata={"help": "Custom task: class names in id order; none = regression."}
    )
    lm_coef: float = field(default=0.5, metadata={"help": "Weight of the auxiliary LM loss; 0 turns it off."})
    classifier_dropout: float = field(default=0.1, metadata={"help": "Dropout before the linear head."})
    max_length: int | None = field(
        default=None, metadata={"help": "Tokens per sequence (framing included); default: the model's context."}
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Fine-tune on a random slice."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Evaluate on a random slice."})
    add_special_tokens: bool = field(
        default=False,
        metadata={"help": "Grow the vocabulary with _start_/_delimiter_/_classify_ when the checkpoint lacks them "
                          "(new rows ~ N(0, 0.02)); without it such a checkpoint is an error."},
    )  # fmt: skip
    from_scratch: bool = field(
        default=False, metadata={"help": "Random init with the checkpoint's config (Table 5: no pretraining)."}
    )
    n_transfer_layers: int | None = field(
        default=None, metadata={"help": "Keep only the first N pretrained blocks, re-initialise the rest (Fig. 2)."}
    )
    seeds: list[int] | None = field(
        default=None,
        metadata={"help": "Run the same fine-tuning once per seed (in <output_dir>/seed-<S>) and report each "
                          "metric's mean, sample std and median; one seed (default: --seed) is one run, as without "
                          "this flag."},
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_rules(self, FINETUNE_RULES)
        if self.seeds is not None:
            seeds = self.seeds
            if not seeds or any(s < 0 for s in seeds):
                raise FinetuneError(f"--seeds must be one or more non-negative integers, got {seeds}")
            repeated = sorted({s for s in seeds if seeds.count(s) > 1})
            if repeated:
                raise FinetuneError(
                    f"--seeds lists {repeated} more than once: each seed is one run, pass each seed once"
                )


@dataclass
class PaperTrainingArguments(TrainingArguments):
    """`TrainingArguments` with the paper's fine-tuning recipe (section 4.1) as defaults: lr 6.25e-5, batch 32,
    3 epochs, linear warmup over 0.2% of training then linear decay, weight decay 0.01 (off biases and LayerNorm
    gains, the authors' code) and gradient clipping at 1 (`TrainingArguments`' own default).

    Every Trainer flag applies (`--gradient_accumulation_steps`, `--bf16`, `--fsdp`, `--deepspeed`, ...). Without
    `--output_dir` the run writes to `outputs/finetune/<task>` (`output_dir` stays None until the run list knows the task).
    `--push_to_hub` pushes the saved `<output_dir>/model` to `--hub_model_id` once, at the end (never the Trainer's
    checkpoints).
    """

    output_dir: str | None = trainer_option("output_dir", None, "Default here: outputs/finetune/<task>.")
    do_train: bool = trainer_option("do_train", True, "Default here: True; false only evaluates the checkpoint.")
    eval_strategy: IntervalStrategy | str = trainer_option("eval_strategy", "epoch")
    per_device_train_batch_size: int = trainer_option("per_device_train_batch_size", 32)
    per_device_eval_batch_size: int = trainer_option("per_device_eval_batch_size", 64)
    learning_rate: float = trainer_option("learning_rate", 6.25e-5)
    weight_decay: float = trainer_option("weight_decay", 0.01)
    num_train_epochs: float = trainer_option("num_train_epochs", 3.0)
    warmup_steps: float = trainer_option("warmup_steps", 0.002, "Default here: 0.002 (0.2%% of the steps).")
    logging_steps: float = trainer_option("logging_steps", 10)
    save_strategy: SaveStrategy | str = trainer_option("save_strategy", "epoch")
    save_total_limit: int | None = trainer_option("save_total_limit", 1)
    disable_tqdm: bool | None = trainer_option("disable_tqdm", True)
    remove_unused_columns: bool = trainer_option(
        "remove_unused_columns", False, "Default here: False (the collator builds exactly the model's inputs)."
    )

    run_name: str | None = trainer_option(
        "run_name", None, "Here also the row's name in the results table (default: the task)."
    )
    push_to_hub: bool = field(
        default=False,
        metadata={"help": "Push the fine-tuned model (<output_dir>/model, with its tokenizer) to --hub_model_id once, "
                          "after training; the Trainer's checkpoints are never pushed."},
    )  # fmt: skip
    # Not a flag: `--label_names` is the custom task's class names (`FinetuneArguments`); the Trainer's label keys
    # are its default, `labels`, for every GPT-1 head.
    label_names: list[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        unset = self.output_dir is None
        super().__post_init__()
        if unset:  # not `TrainingArguments`' "trainer_output": the run list names the folder after the task
            self.output_dir = None
        check_rules(self, TRAINING_RULES)
        resume = self.resume_from_checkpoint
        if resume not in (None, "last") and not Path(resume).is_dir():
            raise FinetuneError(f"--resume_from_checkpoint {resume}: no such checkpoint folder")
        if self.push_to_hub and not self.hub_model_id:
            raise FinetuneError("--push_to_hub needs --hub_model_id (the Hub repo to push the model to)")


def finetune_parser(*before: type, defaults: dict[str, Any] | None = None) -> HfArgumentParser:
    """`scripts/finetune.py`'s parser: `FinetuneArguments` and every Trainer flag, the paper's values as defaults.

    A command that runs several fine-tunings (ablations, the paper's tables) puts its own arguments dataclasses
    `before` these and its `defaults` over them."""
    parser = HfArgumentParser((*before, FinetuneArguments, PaperTrainingArguments))
    parser.set_defaults(**(defaults or {}))
    return parser


def parse_arguments(parser: HfArgumentParser, argv: list[str] | None) -> tuple[Any, ...] | int:
    """`parser`'s dataclasses from `argv`; an option a dataclass refuses (`FinetuneError`, or `TrainingArguments`'
    own checks: an unknown strategy, --load_best_model_at_end with unmatched strategies, ...) is a user error:
    exit status 2."""
    try:
        return tuple(parser.parse_args_into_dataclasses(args=argv))
    except ValueError as e:
        return user_error(e)


__all__ = [
    "FINETUNE_RULES",
    "TRAINING_RULES",
    "FinetuneArguments",
    "FinetuneError",
    "PaperTrainingArguments",
    "check_rules",
    "finetune_parser",
    "parse_arguments",
]
