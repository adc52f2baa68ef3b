"""Fine-tuning (the paper's section 3.2) through `transformers.Trainer`: any task of `gpt1.tasks`, any GPT-1 checkpoint.

The model computes the paper's objective itself (`loss = L_task + lm_coef * L_lm`), so the stock `Trainer` trains it:
AdamW with decay 0.01 off biases and LayerNorm gains (the authors' code), linear warmup over 0.2% of the steps then
linear decay, gradient clipping at 1. The defaults are the paper's: lr 6.25e-5, batch 32, 3 epochs, classifier
dropout 0.1, lm_coef 0.5.

As in transformers' `run_glue.py`, the command line is `FinetuneArguments` (task, checkpoint, data) plus every
`TrainingArguments` flag (`--gradient_accumulation_steps`, `--bf16`, `--fsdp`, `--deepspeed`, `--torch_compile`,
`--load_best_model_at_end`, ...), whose defaults here are the paper's (`PaperTrainingArguments`).

    python scripts/finetune.py --task sst2 --model_name_or_path outputs/pretrain/model --data_dir ../shared/data \
        --add_special_tokens
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import EvalPrediction, HfArgumentParser, Trainer, TrainingArguments, set_seed
from transformers.trainer_utils import IntervalStrategy, SaveStrategy

from modeling_gpt1 import GPT1Config
from modeling_gpt1.modeling_gpt1 import GPT1ChoiceHead
from tokenization import FINE_TUNING_TOKENS, GPT1Tokenizer, fit_to_model, prepare_for_finetuning
from tokenization.tokenization_gpt1 import HUB_ID

from .cli import one_line, user_error
from .hub import HubError, MissingTokenizerError, is_local_path
from .hub import load_tokenizer as load_saved_tokenizer
from .io import OutputDirError, atomic_directory, atomic_write_text, check_output_dir
from .metrics import load_metric
from .results import markdown_table, seed_summary, seed_summary_markdown, write_results, write_seed_summary
from .tasks import (
    TaskError,
    TaskSpec,
    custom_task,
    encode_batch,
    get_task,
    has_labels,
    load_task_data,
    pad_collate,
    subsample,
    with_fields,
    with_index,
)
from .training import MODEL_DIR, decays, latest_checkpoint, trainer_option

logger = logging.getLogger(__name__)


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


@dataclass
class PaperTrainingArguments(TrainingArguments):
    """`TrainingArguments` with the paper's fine-tuning recipe (section 4.1) as defaults: lr 6.25e-5, batch 32,
    3 epochs, linear warmup over 0.2% of training then linear decay, weight decay 0.01 (off biases and LayerNorm
    gains, the authors' code) and gradient clipping at 1 (`TrainingArguments`' own default).

    Every Trainer flag applies (`--gradient_accumulation_steps`, `--bf16`, `--fsdp`, `--deepspeed`, ...). Without
    `--output_dir` the run writes to `outputs/finetune/<task>` (`output_dir` stays None until `finetune` knows the task).
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
        if unset:  # not `TrainingArguments`' "trainer_output": `finetune` names the folder after the task
            self.output_dir = None


class FinetuneError(ValueError):
    """A user mistake in the options or the checkpoint; `main` prints it as one `error:` line and exits 2."""


def _positive(v: float | None) -> bool:
    return v is not None and math.isfinite(v) and v > 0


def _fraction(v: float) -> bool:
    return 0 <= v < 1


# (option, test, what it must be): checked before anything is read, so a typo costs nothing. The Trainer's own
# options are read from the `TrainingArguments`, the others from the `FinetuneArguments`.
OPTION_RULES: tuple[tuple[str, Callable[[Any], bool], str], ...] = (
    ("learning_rate", _positive, "positive"),
    ("per_device_train_batch_size", _positive, "a positive integer"),
    ("per_device_eval_batch_size", _positive, "a positive integer"),
    ("gradient_accumulation_steps", _positive, "a positive integer"),
    ("num_train_epochs", _positive, "positive"),
    ("max_steps", lambda v: v == -1 or v > 0, "a positive integer, or -1 to train for --num_train_epochs"),
    ("max_length", lambda v: v is None or v > 0, "a positive integer"),
    ("max_train_samples", lambda v: v is None or v > 0, "a positive integer"),
    ("max_eval_samples", lambda v: v is None or v > 0, "a positive integer"),
    ("warmup_steps", lambda v: v >= 0, "zero, a fraction of the steps below 1, or a number of steps"),
    ("weight_decay", lambda v: v >= 0, "zero or positive"),
    ("max_grad_norm", lambda v: v >= 0, "zero (no clipping) or positive"),
    ("lm_coef", lambda v: v >= 0, "zero (no auxiliary LM loss) or positive"),
    ("classifier_dropout", _fraction, "in [0, 1)"),
    ("logging_steps", _positive, "positive"),
    ("save_steps", _positive, "positive"),
    ("save_total_limit", lambda v: v is None or v > 0, "a positive integer"),
    ("n_transfer_layers", lambda v: v is None or v >= 0, "zero or a positive integer"),
)


def check_arguments(args: FinetuneArguments, training_args: TrainingArguments) -> None:
    """Refuse out-of-range options (`OPTION_RULES`) with one message naming the option and its value."""
    for name, ok, requirement in OPTION_RULES:
        value = getattr(args if hasattr(args, name) else training_args, name)
        if not ok(value):
            raise FinetuneError(f"--{name} must be {requirement}, got {value}")
    resume = training_args.resume_from_checkpoint
    if resume not in (None, "last") and not Path(resume).is_dir():
        raise FinetuneError(f"--resume_from_checkpoint {resume}: no such checkpoint folder")
    if training_args.push_to_hub and not training_args.hub_model_id:
        raise FinetuneError("--push_to_hub needs --hub_model_id (the Hub repo to push the model to)")


def check_max_length(args: FinetuneArguments, task: TaskSpec) -> None:
    """A sequence must hold the framing tokens and at least one token of each text (shorter is never truncated)."""
    needed = task.transformation.min_length(task)
    if args.max_length is not None and args.max_length < needed:
        raise FinetuneError(
            f"--max_length must be at least {needed} for the {task.transform} transform (its framing tokens and one "
            f"token of each text), got {args.max_length}"
        )


def resolve_task(args: FinetuneArguments) -> TaskSpec:
    """The table's task, or a custom one over `--train_file`/`--validation_file`."""
    if args.train_file is not None or args.validation_file is not None or args.task == "custom":
        files = {"train": args.train_file, "validation": args.validation_file, "test": args.test_file}
        files = {k: v for k, v in files.items() if v is not None}
        if "validation" not in files:
            raise FinetuneError("a custom task needs --validation_file (and --train_file to fine-tune)")
        name = args.task if args.task not in ("custom", "demo") else "custom"
        return custom_task(
            args.transform, args.text_columns, args.label_column, args.label_names, data_files=files, name=name
        )
    task = get_task(args.task)
    return task if args.test_file is None else with_fields(task, test_file=args.test_file)


def load_tokenizer(args: FinetuneArguments) -> GPT1Tokenizer:
    """`--tokenizer_name`, else the tokenizer saved with the checkpoint (`gpt1.hub.load_tokenizer`): a place without
    tokenizer files is an error, since guessing the bundled vocabulary for it would silently pair the embeddings
    with another vocabulary (the original GPT-1's own vocabulary is the one exception)."""
    source = args.tokenizer_name or args.model_name_or_path
    try:
        return load_saved_tokenizer(source)
    except MissingTokenizerError:
        if args.tokenizer_name is not None:
            raise FinetuneError(
                f"--tokenizer_name {source}: no tokenizer files there (tokenizer.json, or vocab.json + merges.txt)"
            ) from None
        raise FinetuneError(
            f"the checkpoint {source} has no tokenizer files (tokenizer.json, or vocab.json + merges.txt): pass "
            f"--tokenizer_name with the tokenizer it was trained with (a folder, or {HUB_ID} for the original "
            "vocabulary)"
        ) from None
    except (HubError, OSError, ValueError) as err:
        raise FinetuneError(f"cannot load the tokenizer in {source}: {one_line(err)}") from None


def load_config(args: FinetuneArguments, task: TaskSpec) -> GPT1Config:
    """The checkpoint's config with the task's head settings (labels, problem type, dropout, lm_coef)."""
    source = args.model_name_or_path
    if is_local_path(source) and not Path(source).expanduser().is_dir():
        raise FinetuneError(f"--model_name_or_path {source}: no such checkpoint folder")
    try:
        config = GPT1Config.from_pretrained(source)
    except (OSError, ValueError) as err:  # no such folder or repo, no config.json, an invalid config
        raise FinetuneError(
            f"cannot load a GPT-1 checkpoint from {args.model_name_or_path!r} ({one_line(err)}); pass "
            "--model_name_or_path a local folder from scripts/pretrain.py or scripts/convert.py when the Hub is "
            "unreachable"
        ) from None
    config.lm_coef = args.lm_coef
    config.summary_first_dropout = args.classifier_dropout
    for name, value in task.transformation.head_config(task).items():
        setattr(config, name, value)
    if args.n_transfer_layers is not None and args.n_transfer_layers > config.n_layer:
        raise FinetuneError(f"--n_transfer_layers must be in 0..{config.n_layer}, got {args.n_transfer_layers}")
    return config


def check_vocabulary(args: FinetuneArguments, config: GPT1Config, tokenizer: GPT1Tokenizer) -> None:
    """The tokenizer must fit the checkpoint's embedding; only the fine-tuning tokens may be added to it."""
    vocab = tokenizer.get_vocab()
    has_tokens = all(t in vocab for t in FINE_TUNING_TOKENS)
    base = len(tokenizer) - sum(t in vocab for t in FINE_TUNING_TOKENS)
    if base > config.vocab_size and not args.from_scratch:
        raise FinetuneError(
            f"the tokenizer ({args.tokenizer_name or args.model_name_or_path}) has {base} tokens but the checkpoint "
            f"{args.model_name_or_path} embeds only {config.vocab_size} (vocab_size): they were not trained together; "
            "pass --tokenizer_name with the checkpoint's own tokenizer"
        )
    if not (has_tokens and config.vocab_size >= len(tokenizer)) and not (args.add_special_tokens or args.from_scratch):
        raise FinetuneError(
            f"the checkpoint {args.model_name_or_path} has no embeddings for the fine-tuning tokens "
            f"{', '.join(FINE_TUNING_TOKENS)} (vocab_size {config.vocab_size}, tokenizer {len(tokenizer)} tokens); "
            "pass --add_special_tokens to append them (new rows drawn from N(0, 0.02), as the paper)"
        )


def load_config_and_tokenizer(args: FinetuneArguments, task: TaskSpec) -> tuple[GPT1Config, GPT1Tokenizer]:
    """The cheap half of `load_model`: everything that can be wrong with the checkpoint short of its weights."""
    config = load_config(args, task)
    tokenizer = load_tokenizer(args)
    check_vocabulary(args, config, tokenizer)
    return config, tokenizer


# Every fine-tuning head's weights: a checkpoint fine-tuned under another transform holds one, which is dropped.
FINETUNING_HEADS = ("score.", "multiple_choice_head.")


def head_prefixes(model: torch.nn.Module) -> tuple[str, ...]:
    """The model's task head (the paper's linear layer): the only weights a checkpoint may lack or hold in another
    shape (a head trained for another label count)."""
    return tuple(f"{name}." for name, module in model.named_modules() if isinstance(module, GPT1ChoiceHead))


def _names(keys: list[str], shapes: dict[str, str] | None = None, most: int = 4) -> str:
    shown = [f"{k} {shapes[k]}" if shapes else k for k in keys[:most]]
    return ", ".join(shown) + (f" and {len(keys) - most} more" if len(keys) > most else "")


def check_loading_info(model: torch.nn.Module, info: dict[str, Any], source: str) -> None:
    """Refuse a checkpoint whose weights do not fill the model: only the task head may be initialised afresh.

    `from_pretrained(..., ignore_mismatched_sizes=True)` re-initialises EVERY tensor of another shape, so a
    config.json that does not describe its weights (no `n_embd`, a wrong `vocab_size` or `n_layer`) would
    otherwise train a random model and report it as fine-tuned.
    """
    head = head_prefixes(model)
    order = {k: i for i, k in enumerate(model.state_dict())}  # embeddings first, then the blocks in order

    def in_order(k: str) -> tuple[int, str]:
        return order.get(k, len(order)), k

    shapes = {k: f"(checkpoint {list(ckpt)}, config {list(mine)})" for k, ckpt, mine in info["mismatched_keys"]}
    mismatched = sorted((k for k in shapes if not k.startswith(head)), key=in_order)
    missing = sorted((k for k in info["missing_keys"] if not k.startswith(head)), key=in_order)
    unexpected = sorted(k for k in info["unexpected_keys"] if not k.startswith(FINETUNING_HEADS))
    problems = [
        f"{len(mismatched)} tensor(s) of another shape: {_names(mismatched, shapes)}" if mismatched else "",
        f"{len(missing)} tensor(s) missing: {_names(missing)}" if missing else "",
        f"{len(unexpected)} tensor(s) the config has no place for: {_names(unexpected)}" if unexpected else "",
    ]
    if any(problems):
        raise FinetuneError(
            f"the checkpoint {source} does not match its config.json ({'; '.join(p for p in problems if p)}); only "
            f"the task head ({', '.join(p + '*' for p in head)}) may be initialised afresh: fix config.json "
            "(n_embd, n_layer, n_head, vocab_size, n_positions) to describe the weights"
        )


def build_model(
    args: FinetuneArguments, task: TaskSpec, config: GPT1Config, tokenizer: GPT1Tokenizer
) -> tuple[torch.nn.Module, GPT1Tokenizer]:
    """The task's head on the checkpoint's weights (or a random init), with the fine-tuning tokens in place."""
    model_class = task.transformation.model_class
    if args.from_scratch:
        model = model_class(config)
    else:
        # A head trained for another task (other label count) is dropped and re-initialised, never reused; the
        # loading report shows that nothing else was.
        model, info = model_class.from_pretrained(
            args.model_name_or_path, config=config, ignore_mismatched_sizes=True, output_loading_info=True
        )
        check_loading_info(model, info, args.model_name_or_path)
        if args.n_transfer_layers is not None:
            reinit_layers(model, args.n_transfer_layers)
    # The embedding grows here (after loading) for the fine-tuning tokens when the checkpoint lacks them.
    return prepare_for_finetuning(model, tokenizer)


def load_model(args: FinetuneArguments, task: TaskSpec) -> tuple[torch.nn.Module, GPT1Tokenizer]:
    """The task's head on the checkpoint (or a random init of its config), with the fine-tuning tokens in place."""
    return build_model(args, task, *load_config_and_tokenizer(args, task))


def reinit_layers(model: torch.nn.Module, n_transfer_layers: int) -> None:
    """Keep the embeddings and the first `n_transfer_layers` blocks; draw the others afresh (the paper's Fig. 2)."""
    blocks = model.transformer.h
    if not 0 <= n_transfer_layers <= len(blocks):
        raise FinetuneError(f"n_transfer_layers must be in 0..{len(blocks)}, got {n_transfer_layers}")
    # The blocks of a freshly built model carry the model's own init (transformers 5 skips re-initialising
    # weights it has already loaded, so `_init_weights` on loaded blocks would be a no-op).
    fresh = type(model)(model.config).transformer.h
    for i in range(n_transfer_layers, len(blocks)):
        blocks[i].load_state_dict(fresh[i].state_dict())


def task_predictions(task: TaskSpec, gathered: np.ndarray | tuple) -> np.ndarray:
    """What `Trainer` gathered (the logits, or a tuple starting with them when the model returns more) as one
    prediction per example: the score of a regression head (`(N, 1)` or `(N,)`), else the argmax over the class or
    answer axis of `(N, num_labels)` logits."""
    logits = gathered[0] if isinstance(gathered, tuple) else gathered
    return logits.reshape(len(logits)) if task.is_regression else np.argmax(logits, axis=-1)


def compute_metrics_fn(task: TaskSpec):
    """`Trainer`'s `compute_metrics`: predictions from the logits, then every metric of the task via `evaluate`."""
    modules = {name: load_metric(name) for name in task.metrics}
    f1_average = "binary" if task.num_labels <= 2 else "macro"

    def compute(prediction: EvalPrediction) -> dict[str, float]:
        preds = task_predictions(task, prediction.predictions)
        out: dict[str, float] = {}
        for name, module in modules.items():
            kwargs = {"average": f1_average} if name == "f1" else {}
            out.update(module.compute(predictions=preds, references=prediction.label_ids, **kwargs))
        return out

    return compute


# The Trainer's options kept in `results.json` beside the `FinetuneArguments` (the recipe; the rest is in the
# Trainer's own `training_args.bin` when it saves checkpoints).
RECORDED_TRAINING_ARGS = (
    "learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps", "per_device_eval_batch_size",
    "num_train_epochs", "max_steps", "warmup_steps", "lr_scheduler_type", "weight_decay", "max_grad_norm", "seed",
    "bf16", "fp16", "do_train", "output_dir", "run_name", "resume_from_checkpoint",
)  # fmt: skip


def check_run(args: FinetuneArguments, training_args: TrainingArguments) -> tuple[TaskSpec, Path]:
    """Every check that can fail on the user's options, before any long work: the options, the task, the output
    folder (a non-empty one is fine: resuming reads the Trainer checkpoints there, and a new run replaces only its
    own files) and what `--resume_from_checkpoint last` would resume. Returns the task and the output folder."""
    check_arguments(args, training_args)
    task = resolve_task(args)
    check_max_length(args, task)
    if args.test_file is not None and not Path(args.test_file).exists():
        raise FinetuneError(f"--test_file {args.test_file}: no such file or folder")
    output_dir = check_output_dir(training_args.output_dir or f"outputs/finetune/{task.name}", overwrite=True)
    last = training_args.resume_from_checkpoint == "last"
    if training_args.do_train and last and latest_checkpoint(output_dir) is None:
        raise FinetuneError(f"--resume_from_checkpoint last: no Trainer checkpoint in {output_dir} to resume from")
    return task, output_dir


# The `--max_*_samples` slices are drawn with this seed (or `--data_seed`), not `--seed`: every seed of `--seeds` and
# every ablation then trains and is scored on the same examples. 42 is `--seed`'s default, so a plain run is unchanged.
SAMPLE_SEED = 42


def encode_splits(
    args: FinetuneArguments, task: TaskSpec, data: Any, tokenizer: GPT1Tokenizer, max_length: int, do_train: bool,
    seed: int,
) -> dict[str, Any]:  # fmt: skip
    """The training (when training), evaluation and `--test_file` splits, sampled (`--max_*_samples`; a test set is
    scored whole) and framed by the task's transformation; each keeps its `index` column for the predictions files."""
    encode = functools.partial(encode_batch, task, tokenizer, max_length=max_length)
    splits = {}
    sizes = ((task.train_split, args.max_train_samples), (task.eval_split, args.max_eval_samples), ("test", None))
    for split, n in sizes:
        if split == "test" and args.test_file is None:
            continue  # only a --test_file is a test set here (a Hub copy's test split is not scored unasked)
        if split in data and (split != task.train_split or do_train):
            subset = subsample(with_index(data[split]), n, seed)
            if not has_labels(task, subset) and task.label_column in subset.column_names:
                subset = subset.remove_columns(task.label_column)  # a test set labelled -1 throughout: none
            drop = [c for c in subset.column_names if c != "index"]  # the row ids stay for the predictions files
            splits[split] = subset.map(encode, batched=True, remove_columns=drop, desc="encode")
    return splits


def make_trainer(
    training_args: TrainingArguments, output_dir: Path, model: torch.nn.Module, tokenizer: GPT1Tokenizer,
    task: TaskSpec, splits: dict[str, Any],
) -> GPT1Trainer:  # fmt: skip
    """The `Trainer` of a run: the user's options as given, but this run's folder; no training-time evaluation or
    checkpoints when only evaluating; the Hub push is ours (the saved model, once), not the Trainer's; no pinned
    memory without a GPU."""
    changes: dict[str, Any] = {
        "output_dir": str(output_dir),
        "push_to_hub": False,
        "dataloader_pin_memory": training_args.dataloader_pin_memory and torch.cuda.is_available(),
    }
    if not training_args.do_train:
        changes.update(eval_strategy="no", save_strategy="no", load_best_model_at_end=False)
    trainer = GPT1Trainer(
        model=model,
        args=replace(training_args, **changes),
        train_dataset=splits.get(task.train_split),
        eval_dataset=splits[task.eval_split],
        data_collator=functools.partial(pad_collate, pad_token_id=tokenizer.pad_token_id),
        processing_class=tokenizer,
        compute_metrics=compute_metrics_fn(task),
    )
    # The heads' loss is a mean over their micro-batch (they take **kwargs, but not `num_items_in_batch`): it must be
    # divided by --gradient_accumulation_steps exactly once. transformers 5.4 has accelerate's `backward` do it;
    # later versions leave it to the Trainer, which does it only for a model that takes no loss kwargs.
    # (`test_gradient_accumulation_gives_the_same_first_update_as_the_whole_batch` runs on the oldest and newest.)
    if trainer.accelerator.gradient_accumulation_steps == 1:
        trainer.model_accepts_loss_kwargs = False
    return trainer


def summarize(
    args: FinetuneArguments, run_name: str | None, task: TaskSpec, trainer: Trainer, metrics: dict[str, float],
    splits: dict[str, Any], model_dir: Path | None, max_length: int, seconds: float,
) -> dict[str, Any]:  # fmt: skip
    """The run's row for `results.json`: the headline and every metric, the paper's figure, the losses, the
    settings and where the model is."""
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    recorded = trainer.args.to_dict()  # enums as strings, tokens redacted
    do_train = model_dir is not None
    tested = f"test_{task.main_metric}" in metrics  # a labelled --test_file
    return {
        "run": run_name or task.name,
        "task": task.name,
        "transform": task.transform,
        "main_metric": task.main_metric,
        "metrics": {name: metrics[f"eval_{name}"] for name in task.metrics},  # each module returns its own name
        "eval": {k: v for k, v in metrics.items() if k.startswith("eval_")},
        **({"test_metrics": {name: metrics[f"test_{name}"] for name in task.metrics}} if tested else {}),
        **({"test": {k: v for k, v in metrics.items() if k.startswith("test_")}} if tested else {}),
        "paper": task.paper,
        "paper_metric": task.paper_metric,
        "train_examples": len(splits[task.train_split]) if do_train else 0,
        "eval_examples": len(splits[task.eval_split]),
        "test_examples": len(splits["test"]) if "test" in splits else 0,
        "train_loss_first": losses[0] if losses else None,
        "train_loss_last": losses[-1] if losses else None,
        "train_losses": losses,
        "global_step": trainer.state.global_step,
        "model_dir": str(model_dir) if do_train else None,
        "seconds": round(seconds, 1),
        "settings": {
            **asdict(args),
            **{name: recorded[name] for name in RECORDED_TRAINING_ARGS if name in recorded},
            "max_length": max_length,
            "parameters": trainer.model.num_parameters(),
        },
    }


def evaluate_and_predict(
    trainer: Trainer, task: TaskSpec, splits: dict[str, Any], output_dir: Path
) -> dict[str, float]:
    """Score the validation split (`eval_*` metrics) and a `--test_file` (`test_*`, when it has labels) with the
    trainer's model, and save every split's predictions as `predictions_<split>.tsv` (index, prediction, label when
    known); an unlabelled test set of a GLUE task also gets GLUE's submission file, `<task.submission>.tsv`."""
    metrics: dict[str, float] = {}
    for split, prefix in ((task.eval_split, "eval"), ("test", "test")):
        if split not in splits:
            continue
        dataset = splits[split]
        output = trainer.predict(dataset, metric_key_prefix=prefix)
        trainer.log(output.metrics)  # into the log history and the trackers, as `Trainer.evaluate` would
        metrics.update(output.metrics)
        predictions = task_predictions(task, output.predictions)
        labels = dataset["labels"] if "labels" in dataset.column_names else None
        write_predictions(output_dir / f"predictions_{split}.tsv", task, dataset["index"], predictions, labels)
        if split == "test" and labels is None and task.submission is not None:
            write_predictions(output_dir / f"{task.submission}.tsv", task, dataset["index"], predictions)
    return metrics


def prediction_text(task: TaskSpec, value: Any) -> str:
    """A prediction or label as the task's files spell it: a float (regression), a class name, or an id."""
    if task.is_regression:
        return f"{float(value):.6g}"
    if task.label_names is not None and task.label_format == "names":
        return task.label_names[int(value)]
    return str(int(value))


def write_predictions(
    path: Path, task: TaskSpec, index: Sequence[Any], predictions: Sequence[Any], labels: Sequence[Any] | None = None
) -> Path:
    """`index\tprediction[\tlabel]` per row with a header, written atomically (GLUE's submission format without
    labels)."""
    header = ["index", "prediction", *(["label"] if labels is not None else [])]
    rows = [[str(i), prediction_text(task, p)] for i, p in zip(index, predictions)]
    if labels is not None:
        rows = [[*row, prediction_text(task, y)] for row, y in zip(rows, labels)]
    return atomic_write_text(path, "".join("\t".join(row) + "\n" for row in [header, *rows]))


def finetune(args: FinetuneArguments, training_args: TrainingArguments | None = None) -> dict[str, Any]:
    """Fine-tune (or, with `training_args.do_train` false, only evaluate) and write `results.json` / `results.md`.

    `training_args` are the Trainer's (default: `PaperTrainingArguments()`, the paper's recipe); its `output_dir`
    defaults to `outputs/finetune/<task>` and its `run_name` names the row of the results table (default: the task).
    Returns the results: task, headline metric, every `eval_*` metric, the paper's figure, the training losses,
    the settings, and where the model was saved (`<output_dir>/model`, loadable with the Auto classes).
    """
    start = time.time()
    training_args = PaperTrainingArguments() if training_args is None else training_args
    do_train = training_args.do_train
    task, output_dir = check_run(args, training_args)
    config, tokenizer = load_config_and_tokenizer(args, task)
    data = load_task_data(task, args.data_dir)
    if do_train and task.train_split not in data:
        raise FinetuneError(
            f"task {task.name!r} has no training split here (only {list(data)}): evaluate a model fine-tuned "
            "elsewhere with --do_train false"
        )
    set_seed(training_args.seed)
    model, tokenizer = build_model(args, task, config, tokenizer)
    max_length = min(args.max_length or model.config.n_positions, model.config.n_positions)
    sample_seed = SAMPLE_SEED if training_args.data_seed is None else training_args.data_seed
    splits = encode_splits(args, task, data, tokenizer, max_length, do_train, sample_seed)
    trainer = make_trainer(training_args, output_dir, model, tokenizer, task, splits)
    model_dir = None
    if do_train:
        resume = training_args.resume_from_checkpoint
        trainer.train(resume_from_checkpoint=True if resume == "last" else resume)
        model_dir = output_dir / MODEL_DIR
        with atomic_directory(model_dir) as tmp:
            trainer.model.save_pretrained(tmp)
            fit_to_model(tokenizer, trainer.model).save_pretrained(tmp)
    metrics = evaluate_and_predict(trainer, task, splits, output_dir)
    seconds = time.time() - start
    results = summarize(args, training_args.run_name, task, trainer, metrics, splits, model_dir, max_length, seconds)
    write_results(output_dir, [results], title=f"Fine-tuning: {task.name}")
    if training_args.push_to_hub and model_dir is not None:
        from .hub import push_folder

        results["hub_url"] = push_folder(
            model_dir,
            training_args.hub_model_id,
            private=bool(training_args.hub_private_repo),
            revision=training_args.hub_revision,
            token=training_args.hub_token,
            commit_message=f"Fine-tuned on {task.name}",
        )
        write_results(output_dir, [results], title=f"Fine-tuning: {task.name}")  # now with the URL
    return results


class GPT1Trainer(Trainer):
    """`Trainer` with the paper's weight-decay rule, the one pretraining uses (`gpt1.training.decays`): every
    matrix, embeddings included; no bias or LayerNorm parameter."""

    def get_decay_parameter_names(self, model: torch.nn.Module) -> list[str]:
        return [name for name, param in model.named_parameters() if decays(param)]


def seed_runs(
    args: FinetuneArguments, training_args: TrainingArguments
) -> list[tuple[FinetuneArguments, TrainingArguments]]:
    """One `(FinetuneArguments, TrainingArguments)` per seed of `args.seeds`, each checked (`check_run`) before any
    runs: the parsed arguments with that `seed`, writing to `<output_dir>/seed-<S>`. One seed, or none, is the one
    run the arguments describe (`--seed` taken from `--seeds`), in `output_dir` itself."""
    seeds = args.seeds
    if seeds is not None:
        if not seeds or any(s < 0 for s in seeds):
            raise FinetuneError(f"--seeds must be one or more non-negative integers, got {seeds}")
        repeated = sorted({s for s in seeds if seeds.count(s) > 1})
        if repeated:
            raise FinetuneError(f"--seeds lists {repeated} more than once: each seed is one run, pass each seed once")
    if seeds is None or len(seeds) == 1:
        single = training_args if seeds is None else replace(training_args, seed=seeds[0])
        check_run(args, single)
        return [(args, single)]
    if training_args.push_to_hub:
        raise FinetuneError("--push_to_hub takes one run: with several --seeds every run would push to the same repo")
    if training_args.resume_from_checkpoint not in (None, "last"):
        raise FinetuneError("--resume_from_checkpoint with several --seeds: pass 'last' (each seed's own folder)")
    _, root = check_run(args, training_args)
    one = replace(args, seeds=None)
    runs = [(one, replace(training_args, seed=s, output_dir=str(root / f"seed-{s}"))) for s in seeds]
    for run, run_training in runs:  # every seed's folder is usable before the first run starts
        check_run(run, run_training)
    return runs


def finetune_seeds(args: FinetuneArguments, training_args: TrainingArguments | None = None) -> dict[str, Any]:
    """`finetune` once per seed of `args.seeds` (`seed_runs`); the summary goes to `<output_dir>/results.{json,md}`.

    Without `--seeds`, or with one, this is `finetune` itself and returns its results. With several, each seed's run
    keeps its own results and model in `<output_dir>/seed-<S>/`, and the return value is `results.seed_summary`:
    every seed's metrics, and each metric's mean, sample standard deviation (ddof=1) and median (the authors report
    the median of 10 runs for Story Cloze).
    """
    training_args = PaperTrainingArguments() if training_args is None else training_args
    runs = seed_runs(args, training_args)
    if len(runs) == 1:
        return finetune(*runs[0])
    root = Path(runs[0][1].output_dir).parent
    results = []
    for run, run_training in runs:
        logger.info("seed %d of %s", run_training.seed, args.seeds)
        results.append(finetune(run, run_training))
        # Rewritten after each seed, so an interrupted series still leaves the summary of the seeds that finished.
        summary = seed_summary(results)
        write_seed_summary(root, summary)
    return summary


def finetune_parser(*before: type, defaults: dict[str, Any] | None = None) -> HfArgumentParser:
    """`scripts/finetune.py`'s parser: `FinetuneArguments` and every Trainer flag, the paper's values as defaults.

    A command that runs several fine-tunings (ablations, the paper's tables) puts its own arguments dataclasses
    `before` these and its `defaults` over them."""
    parser = HfArgumentParser((*before, FinetuneArguments, PaperTrainingArguments))
    parser.set_defaults(**(defaults or {}))
    return parser


def parse_arguments(parser: HfArgumentParser, argv: list[str] | None) -> tuple[Any, ...] | int:
    """`parser`'s dataclasses from `argv`; an option `TrainingArguments` itself refuses (its `__post_init__`: an
    unknown strategy, --load_best_model_at_end with unmatched strategies, ...) is a user error: exit status 2."""
    try:
        return tuple(parser.parse_args_into_dataclasses(args=argv))
    except ValueError as e:
        return user_error(e)


def main(argv: list[str] | None = None) -> int:
    """`scripts/finetune.py`: fine-tune (once per seed with `--seeds`), print the results table, or with several
    seeds the per-seed figures and their mean/std/median. Bad input exits 2 with one `error:` line.

    The flags are `FinetuneArguments`' and every `TrainingArguments` one, with the paper's values as defaults
    (`PaperTrainingArguments`).
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    parsed = parse_arguments(finetune_parser(), argv)
    if isinstance(parsed, int):
        return parsed
    args, training_args = parsed
    try:
        results = finetune_seeds(args, training_args)
    except (FinetuneError, TaskError, OutputDirError, HubError) as e:
        return user_error(e)
    if "seeds" in results:  # several seeds: the summary
        print(seed_summary_markdown(results))
        headline = results["median"].get(results["main_metric"], float("nan"))
    else:
        print(markdown_table([results], title=f"Fine-tuning: {results['task']}"))
        headline = results["metrics"].get(results["main_metric"], float("nan"))
    return 1 if math.isnan(float(headline)) else 0


__all__ = [
    "FinetuneArguments",
    "FinetuneError",
    "GPT1Trainer",
    "PaperTrainingArguments",
    "build_model",
    "check_arguments",
    "check_loading_info",
    "compute_metrics_fn",
    "finetune",
    "finetune_parser",
    "finetune_seeds",
    "head_prefixes",
    "load_config_and_tokenizer",
    "load_model",
    "load_tokenizer",
    "main",
    "parse_arguments",
    "resolve_task",
    "seed_runs",
]
