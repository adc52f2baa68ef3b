"""The options of `scripts/pretrain.py` (`PretrainArguments`, beside the corpus's `data.CorpusArguments`), the
recipes that fill what is left unset, and the checks: resolved once, checked once.

    args, corpus = resolve_arguments(args, corpus)      # unset options from the recipe and what the run reads
    check_arguments(args, corpus, num_processes)        # every problem in one `PretrainError`

Two recipes (`RECIPES`): `paper` holds the paper's hyper-parameters and is what a full pretraining run uses; `demo`
(the default, so that the script runs with no arguments) is a small model on the bundled corpus. Any option given
on the command line overrides the recipe. A new recipe is an entry of `RECIPES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from transformers import AutoConfig

from modeling_gpt1 import GPT1Config

from .data import CorpusArguments, CorpusError
from .prepared import is_prepared, open_prepared
from .training import trainer_option

DEMO_CORPUS = Path(__file__).resolve().parent / "demo_data" / "books"  # package data: present after any install

# Hyper-parameters by recipe; `None` in PretrainArguments means "take it from the recipe".
# Section 4.1 of the paper: 12-layer 768-wide model, 512-token contiguous blocks, minibatches of 64, Adam with max lr
# 2.5e-4 warmed up linearly over 2,000 updates then annealed to 0 on a cosine, 100 epochs, dropout 0.1, L2
# (decoupled, as in AdamW) w=0.01 on non-bias/gain weights; the authors' code also clips gradients at 1.
PAPER_RECIPE: dict[str, Any] = dict(
    dataset=None,
    model_preset="gpt1",
    block_size=512,
    vocab_size=None,
    dropout=0.1,
    total_batch_size=64,
    per_device_train_batch_size=8,
    learning_rate=2.5e-4,
    warmup_steps=2000,
    num_train_epochs=100.0,
    max_steps=None,
    weight_decay=0.01,
    max_grad_norm=1.0,
    validation_fraction=0.001,
    eval_steps=1000,
    save_steps=1000,
    logging_steps=10,
    time_budget_minutes=None,
)
RECIPES: dict[str, dict[str, Any]] = {
    "paper": PAPER_RECIPE,
    # The bundled default, the paper's recipe scaled down: a 4-layer, 128-wide model with a 4,096-token BPE
    # vocabulary learnt on the bundled ~1 MB of books: ~600k tokens, about 2.5 minutes on 2 idle CPU cores; the time
    # budget bounds it on a slow or busy machine. The larger lr and short warmup suit the tiny model; small batches
    # give it more updates in the same time.
    "demo": PAPER_RECIPE
    | dict(
        dataset=str(DEMO_CORPUS),
        model_preset="mini",
        block_size=128,
        vocab_size=4096,
        total_batch_size=8,
        learning_rate=2e-3,
        warmup_steps=40,
        num_train_epochs=None,
        max_steps=600,
        validation_fraction=0.02,
        eval_steps=100,
        save_steps=200,
        time_budget_minutes=4.0,
    ),
}


class PretrainError(ValueError):
    """A pretraining run cannot start as asked; the message says why and what to change."""


@dataclass
class PretrainArguments:
    """Options of `scripts/pretrain.py`. Options left unset (None) take the value of the chosen `--recipe`."""

    recipe: str = field(
        default="demo",
        metadata={
            "help": "Defaults for everything unset: 'paper' (the paper's recipe) or 'demo' (a small model on the "
            "bundled corpus, minutes on a CPU).",
            "choices": list(RECIPES),
        },
    )
    # --- data (the corpus itself: `data.CorpusArguments`)
    validation_fraction: float | None = field(default=None, metadata={"help": "Share of blocks held out."})
    streaming: bool = field(
        default=False,
        metadata={
            "help": "Read, tokenise and pack the corpus (files or a Hub dataset) as training goes, never storing it: "
            "for corpora too large to prepare. Needs --max_steps and a tokenizer (--vocab_size 0)."
        },
    )
    validation_records: int = field(
        default=1000,
        metadata={"help": "With --streaming: records at the head of the stream held out (whole batches of 1,000)."},
    )
    # --- tokenizer and model
    tokenizer_name: str | None = field(
        default=None,
        metadata={
            "help": "Tokenizer folder or Hub name (the name fine-tuning uses too); default: the checkpoint's with "
            "--model_name_or_path, else the bundled GPT-1 BPE tokenizer."
        },
    )
    vocab_size: int | None = field(
        default=None,
        metadata={
            "help": "Train a new BPE vocabulary of this size on the corpus (demo: 4096); 0 keeps the tokenizer's own "
            "(paper: the original 40,478)."
        },
    )
    model_preset: str | None = field(default=None, metadata={"help": "GPT1Config preset: gpt1, small, mini, tiny."})
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "Continue pretraining these weights instead of a fresh model."}
    )
    block_size: int | None = field(default=None, metadata={"help": "Tokens per training sequence (n_ctx)."})
    dropout: float | None = field(default=None, metadata={"help": "Residual, embedding and attention dropout."})
    # --- optimisation
    total_batch_size: int | None = field(
        default=None, metadata={"help": "Sequences per update = per-device batch x accumulation x processes."}
    )
    # Options fine-tuning has too are declared as `TrainingArguments`' fields of the same name (`trainer_option`).
    per_device_train_batch_size: int | None = trainer_option(
        "per_device_train_batch_size", None, "Default here: the recipe's."
    )
    learning_rate: float | None = trainer_option(
        "learning_rate", None, "Here the peak of the cosine. Default here: the recipe's."
    )
    warmup_steps: int | None = trainer_option(
        "warmup_steps", None, "Here a number of updates. Default here: the recipe's."
    )
    max_steps: int | None = trainer_option("max_steps", None, "Default here: the recipe's.")
    num_train_epochs: float | None = trainer_option("num_train_epochs", None, "Default here: the recipe's.")
    weight_decay: float | None = trainer_option(
        "weight_decay", None, "Here on weight matrices only (`gpt1.training.decays`). Default here: the recipe's."
    )
    adam_beta1: float = trainer_option("adam_beta1", 0.9)
    adam_beta2: float = trainer_option("adam_beta2", 0.999)
    adam_epsilon: float = trainer_option("adam_epsilon", 1e-8)
    max_grad_norm: float | None = trainer_option("max_grad_norm", None, "0: no clipping. Default here: the recipe's.")
    # --- speed
    mixed_precision: str = field(
        default="auto",
        metadata={
            "help": "'bf16', 'fp16', 'no', or 'auto' (bf16 on a GPU that has it, else no).",
            "choices": ["auto", "bf16", "fp16", "no"],
        },
    )
    torch_compile: bool = trainer_option("torch_compile", False)
    gradient_checkpointing: bool = trainer_option("gradient_checkpointing", False)
    peak_tflops: float | None = field(
        default=None, metadata={"help": "Device peak for MFU; default: a table by GPU name, else a measured matmul."}
    )
    # --- run
    output_dir: str = trainer_option(
        "output_dir", "runs/pretrain", "Here: checkpoint-<step>/, log.jsonl, tokenizer/ and the final model/."
    )
    seed: int = trainer_option("seed", 42)
    resume_from_checkpoint: str | None = trainer_option(
        "resume_from_checkpoint",
        None,
        "Here `last`: continue the run in output_dir from its newest intact checkpoint, exactly (pretraining "
        "always resumes the newest one that loads).",
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "Start afresh in an output_dir that holds a run (its checkpoints or model): the old run's files "
            "are deleted first, the user's own files kept."
        },
    )
    eval_steps: int | None = trainer_option(
        "eval_steps", None, "Here updates between validation passes. Default here: the recipe's."
    )
    max_eval_batches: int | None = field(default=None, metadata={"help": "Cap on validation batches (per process)."})
    save_steps: int | None = trainer_option(
        "save_steps", None, "Here updates between checkpoints. Default here: the recipe's."
    )
    save_total_limit: int = trainer_option("save_total_limit", 2, "Default here: 2 (the newest).")
    logging_steps: int | None = trainer_option(
        "logging_steps", None, "Here updates between log records. Default here: the recipe's."
    )
    time_budget_minutes: float | None = field(
        default=None,
        metadata={
            "help": "Stop (evaluate, checkpoint, save) after this much training time (demo: 4; paper: none; 0: none)."
        },
    )
    report_to: str = trainer_option(
        "report_to", "none", "Here besides the JSON-lines log: tensorboard, wandb, all, none. Default here: none."
    )
    sample_prompt: str = field(default="The garden was", metadata={"help": "Prompt of the sample printed at the end."})
    sample_tokens: int = field(default=48, metadata={"help": "Tokens generated for the sample (0: none)."})
    push_to_hub: bool = trainer_option("push_to_hub", False, "Here the final model, once, at the end.")
    hub_model_id: str | None = trainer_option("hub_model_id", None)


# --- the arguments, resolved once and checked once ----------------------------------------------------------------


def resolve_arguments(args: PretrainArguments, corpus: CorpusArguments) -> tuple[PretrainArguments, CorpusArguments]:
    """Copies of `args` and `corpus` with every unset option filled, first from what the run reads (a checkpoint to
    continue: its tokenizer and vocabulary; a prepared corpus: its vocabulary), then from the recipe. Checks
    nothing (`check_arguments` does) and changes nothing in place."""
    recipe = dict(RECIPES.get(args.recipe, {}))  # an unknown recipe fills nothing; `check_arguments` says so
    dataset = recipe.pop("dataset", None)
    corpus = replace(corpus, dataset=dataset if corpus.dataset is None else corpus.dataset)
    prepared = is_prepared(corpus.dataset)
    if args.model_name_or_path:
        # Continued pretraining reads the checkpoint's own token ids: a recipe's new vocabulary would assign its
        # embeddings to different strings (same size, so nothing would fail - the loss would just jump).
        recipe.update(vocab_size=0, **({} if prepared else {"tokenizer_name": args.model_name_or_path}))
    if prepared:
        recipe.update(vocab_size=0)  # its ids are written: the vocabulary is the prepared corpus's own
    filled = replace(args, **{k: v for k, v in recipe.items() if getattr(args, k) is None})
    if filled.time_budget_minutes == 0:  # "no budget", not "stop before the first update"
        filled = replace(filled, time_budget_minutes=None)
    return filled, corpus


def check_arguments(args: PretrainArguments, corpus: CorpusArguments, num_processes: int) -> None:
    """Refuse resolved options that cannot run on `num_processes` processes: one `PretrainError` naming every
    problem, before any data is read or anything is written."""
    if args.recipe not in RECIPES:
        raise PretrainError(f"unknown recipe {args.recipe!r}; choose from {', '.join(RECIPES)}")
    problems = [
        *corpus.problems(),
        *run_problems(args, corpus),
        *number_problems(args),
        *source_problems(args, corpus),
        *shape_problems(args, num_processes),
    ]
    if len(problems) == 1:
        raise PretrainError(problems[0])
    if problems:
        raise PretrainError(f"{len(problems)} problems: " + " ".join(f"({i}) {p}" for i, p in enumerate(problems, 1)))


def run_problems(args: PretrainArguments, corpus: CorpusArguments) -> list[str]:
    """What the run as a whole lacks or contradicts: a corpus, a length, a resumable or pushable target."""
    problems = []
    if corpus.dataset is None:
        problems.append(
            f"the {args.recipe} recipe needs a corpus: pass --dataset (a file, folder, glob or Hub dataset; the "
            "paper's BooksCorpus is not redistributable, e.g. use ../shared/data/corpus/books)"
        )
    if args.model_name_or_path and args.vocab_size:
        problems.append(
            f"--vocab_size {args.vocab_size} with --model_name_or_path: a new vocabulary would not match the "
            "checkpoint's embeddings; continue with its own tokenizer (the default) or pass --vocab_size 0"
        )
    if args.resume_from_checkpoint not in (None, "last"):
        problems.append(
            f"--resume_from_checkpoint {args.resume_from_checkpoint}: pretraining continues the run in "
            "--output_dir from its newest intact checkpoint; pass `last`"
        )
    if args.push_to_hub and not args.hub_model_id:
        problems.append("--push_to_hub needs --hub_model_id (the Hub repo to push the model to)")
    if args.max_steps is None and args.num_train_epochs is None:
        problems.append("set --max_steps or --num_train_epochs")
    return problems


POSITIVE_INTEGERS = ("block_size", "total_batch_size", "per_device_train_batch_size", "eval_steps", "save_steps",
                     "logging_steps", "save_total_limit")  # fmt: skip


def number_problems(args: PretrainArguments) -> list[str]:
    """Numbers that would train nothing, or backwards."""
    problems = [f"--{name} must be a positive integer, got {getattr(args, name)}"
                for name in POSITIVE_INTEGERS if getattr(args, name) < 1]  # fmt: skip
    if args.max_steps is not None and args.max_steps < 1:  # 0 or less would save an untrained model
        problems.append(f"--max_steps must be a positive integer, got {args.max_steps}")
    for name in ("num_train_epochs", "learning_rate"):
        if getattr(args, name) is not None and not getattr(args, name) > 0:
            problems.append(f"--{name} must be positive, got {getattr(args, name)}")
    if args.time_budget_minutes is not None and args.time_budget_minutes < 0:
        problems.append(f"--time_budget_minutes must be positive (or 0: no budget), got {args.time_budget_minutes}")
    return problems


def source_problems(args: PretrainArguments, corpus: CorpusArguments) -> list[str]:
    """What the corpus's form rules out: a stream cannot count its epochs or learn a vocabulary; a prepared
    corpus fixes the tokenizer and the block size."""
    problems, prepared = [], is_prepared(corpus.dataset)
    if args.streaming:
        if prepared:
            problems.append(f"--streaming reads text; {corpus.dataset} is a prepared corpus: drop --streaming")
        if args.max_steps is None:
            problems.append("--streaming needs --max_steps: the length of a stream, and so an epoch, is unknown")
        if args.vocab_size:
            problems.append(
                f"--streaming cannot learn a vocabulary (--vocab_size {args.vocab_size}) from text it has not read "
                "yet; pass --vocab_size 0 (and --tokenizer_name, or the bundled GPT-1 one is used)"
            )
        if args.validation_records < 1:
            problems.append(f"--validation_records must be a positive integer, got {args.validation_records}")
    if prepared and (args.vocab_size or args.tokenizer_name):
        option = "--vocab_size" if args.vocab_size else "--tokenizer_name"
        problems.append(
            f"{option} with the prepared corpus {corpus.dataset}: its token ids were written by its own tokenizer "
            f"({Path(corpus.dataset) / 'tokenizer'}); prepare the corpus again with the tokenizer you want"
        )
    if prepared:
        try:
            block = open_prepared(corpus.dataset).block_size
        except CorpusError as e:
            return [*problems, str(e)]
        if block != args.block_size:
            problems.append(
                f"--block_size {args.block_size} differs from the {block} tokens of the blocks prepared in "
                f"{corpus.dataset}; pass --block_size to match, or prepare the corpus again"
            )
    return problems


def shape_problems(args: PretrainArguments, num_processes: int) -> list[str]:
    """An unknown preset, a block longer than the model's context, a batch the processes cannot split."""
    problems = []
    if args.model_name_or_path:
        n_positions = AutoConfig.from_pretrained(args.model_name_or_path).n_positions
    else:
        try:
            n_positions = GPT1Config.from_preset(args.model_preset).n_positions
        except ValueError as e:
            n_positions = None
            problems.append(str(e))
    if n_positions is not None and args.block_size > n_positions:
        problems.append(f"--block_size {args.block_size} exceeds the model's n_positions {n_positions}")
    micro_per_step = args.per_device_train_batch_size * num_processes
    if micro_per_step > 0 and args.total_batch_size % micro_per_step:
        problems.append(
            f"--total_batch_size {args.total_batch_size} is not a multiple of --per_device_train_batch_size "
            f"{args.per_device_train_batch_size} x {num_processes} process(es)"
        )
    return problems


__all__ = [
    "DEMO_CORPUS",
    "RECIPES",
    "PretrainArguments",
    "PretrainError",
    "check_arguments",
    "resolve_arguments",
]
