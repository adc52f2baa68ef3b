"""Generative pretraining (the paper's first stage) with `accelerate`: one loop from a laptop CPU to many GPUs.

    python scripts/pretrain.py                                   # the bundled demo: minutes on a CPU
    python scripts/pretrain.py --recipe paper --dataset DIR      # the paper's recipe on your corpus
    accelerate launch scripts/pretrain.py --recipe paper ...     # the same on every GPU/node accelerate knows of

The loop is nanoGPT's (micro-batches with gradient accumulation, clip, step, schedule), with `accelerate` supplying
devices, processes (DDP, or FSDP via `accelerate launch --use_fsdp`), bf16 autocast and checkpoint state. Data order
is a function of (seed, epoch) only and every RNG is checkpointed, so `--resume_from_checkpoint last` continues a
killed run exactly.

Two recipes (`RECIPES`): `paper` holds the paper's hyper-parameters and is what a full pretraining run uses; `demo`
(the default, so that the script runs with no arguments) is a small model on the bundled corpus. Any option given
on the command line overrides the recipe.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import pickle
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, DistributedType, broadcast_object_list, set_seed
from datasets import Dataset
from filelock import FileLock, Timeout
from safetensors import SafetensorError
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    HfArgumentParser,
    get_cosine_schedule_with_warmup,
)

import modeling_gpt1  # noqa: F401  (registers GPT-1 with the Auto classes)
from modeling_gpt1 import GPT1Config, GPT1ForCausalLM
from tokenization import fit_to_model

from .cli import user_error
from .data import PACK_BATCH, CorpusError, StreamedCorpus, load_corpus_of, pack_corpus, split_blocks
from .hub import HubError, MissingTokenizerError, push_folder
from .io import atomic_directory, atomic_write_json, recover_interrupted
from .logging_utils import JsonlTracker, plot_loss_curve, read_jsonl
from .prepared import is_prepared, load_tokenizer, open_prepared, prepared_splits
from .training import (
    CHECKPOINT_PREFIX,
    MODEL_DIR,
    STATE_FILE,
    checkpoint_dir,
    complete_checkpoints,
    latest_checkpoint,
    param_groups,
    trainer_option,
)

DEMO_CORPUS = Path(__file__).resolve().parent / "demo_data" / "books"  # package data: present after any install
RUN_LOCK = ".gpt1-run.lock"  # in output_dir; held (flock) by the run writing there
TRACKER_PROJECT = "gpt1-pretraining"  # the trackers' project name: TensorBoard writes to output_dir/<this>

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

# Dense bf16 tensor-core peak per device (vendor data sheets, without sparsity). Names are matched in order, so the
# more specific ones come first. Devices not listed get a measured matmul peak instead.
PEAK_BF16_FLOPS: list[tuple[str, float]] = [
    ("H200", 989e12),
    ("H100 NVL", 835e12),
    ("H100 PCIe", 756e12),
    ("H100", 989e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("L4", 121e12),
    ("A10", 125e12),
    ("RTX 4090", 165e12),
    ("RTX 3090", 71e12),
]


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
    # --- data
    dataset: str | None = field(
        default=None,
        metadata={
            "help": "Corpus: a file, folder, glob (.txt, .json/.jsonl, .parquet) or a Hub dataset name. "
            "demo: the bundled books; paper: required."
        },
    )
    dataset_config: str | None = field(default=None, metadata={"help": "Config name of a Hub dataset."})
    text_column: str = field(default="text", metadata={"help": "Column holding the text in JSON/parquet/Hub data."})
    unwrap_lines: bool = field(
        default=True, metadata={"help": "Join hard-wrapped lines inside a paragraph of plain text (off for verse)."}
    )
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
    preprocessing_num_workers: int | None = field(default=None, metadata={"help": "Processes for tokenisation."})
    cache_dir: str | None = field(default=None, metadata={"help": "datasets cache folder."})
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

    def resolved(self) -> PretrainArguments:
        """A copy with every unset option filled from the recipe, checked for consistency."""
        if self.recipe not in RECIPES:
            raise PretrainError(f"unknown recipe {self.recipe!r}; choose from {', '.join(RECIPES)}")
        recipe = dict(RECIPES[self.recipe])
        if self.model_name_or_path:
            # Continued pretraining reads the checkpoint's own token ids: a recipe's new vocabulary would assign
            # its embeddings to different strings (same size, so nothing would fail - the loss would just jump).
            if self.vocab_size:
                raise PretrainError(
                    f"--vocab_size {self.vocab_size} with --model_name_or_path: a new vocabulary would not match the "
                    "checkpoint's embeddings; continue with its own tokenizer (the default) or pass --vocab_size 0"
                )
            recipe.update(vocab_size=0, tokenizer_name=self.model_name_or_path)
        if self.streaming:
            self.check_streaming(recipe)
        if is_prepared(self.dataset):
            self.check_prepared()
            recipe.update(vocab_size=0)  # its ids are written: the vocabulary is the prepared corpus's own
        filled = replace(self, **{k: v for k, v in recipe.items() if getattr(self, k) is None})
        if filled.dataset is None:
            raise PretrainError(
                f"the {self.recipe} recipe needs a corpus: pass --dataset (a file, folder, glob or Hub dataset; the "
                "paper's BooksCorpus is not redistributable, e.g. use ../shared/data/corpus/books)"
            )
        if filled.resume_from_checkpoint not in (None, "last"):
            raise PretrainError(
                f"--resume_from_checkpoint {filled.resume_from_checkpoint}: pretraining continues the run in "
                "--output_dir from its newest intact checkpoint; pass `last`"
            )
        if filled.push_to_hub and not filled.hub_model_id:
            raise PretrainError("--push_to_hub needs --hub_model_id (the Hub repo to push the model to)")
        if filled.max_steps is None and filled.num_train_epochs is None:
            raise PretrainError("set --max_steps or --num_train_epochs")
        for name in (
            "block_size",
            "total_batch_size",
            "per_device_train_batch_size",
            "eval_steps",
            "save_steps",
            "logging_steps",
            "save_total_limit",
        ):
            if getattr(filled, name) < 1:
                raise PretrainError(f"--{name} must be a positive integer, got {getattr(filled, name)}")
        if filled.max_steps is not None and filled.max_steps < 1:  # 0 or less would save an untrained model
            raise PretrainError(f"--max_steps must be a positive integer, got {filled.max_steps}")
        for name in ("num_train_epochs", "learning_rate"):
            if getattr(filled, name) is not None and not getattr(filled, name) > 0:
                raise PretrainError(f"--{name} must be positive, got {getattr(filled, name)}")
        if filled.time_budget_minutes is not None and filled.time_budget_minutes < 0:
            raise PretrainError(
                f"--time_budget_minutes must be positive (or 0: no budget), got {filled.time_budget_minutes}"
            )
        if filled.time_budget_minutes == 0:  # "no budget", not "stop before the first update"
            filled = replace(filled, time_budget_minutes=None)
        prepared_block = open_prepared(filled.dataset).block_size if is_prepared(filled.dataset) else None
        if prepared_block not in (None, filled.block_size):
            raise PretrainError(
                f"--block_size {filled.block_size} differs from the {prepared_block} tokens of the blocks prepared in "
                f"{filled.dataset}; pass --block_size to match, or prepare the corpus again"
            )
        return filled

    def check_streaming(self, recipe: dict[str, Any]) -> None:
        """Refuse what a stream cannot do: count its epochs, learn a vocabulary from it, be a prepared corpus."""
        if is_prepared(self.dataset or recipe["dataset"]):
            raise PretrainError(f"--streaming reads text; {self.dataset} is a prepared corpus: drop --streaming")
        if (self.max_steps or recipe["max_steps"]) is None:
            raise PretrainError("--streaming needs --max_steps: the length of a stream, and so an epoch, is unknown")
        vocab_size = recipe["vocab_size"] if self.vocab_size is None else self.vocab_size
        if vocab_size:
            raise PretrainError(
                f"--streaming cannot learn a vocabulary (--vocab_size {vocab_size}) from text it has not read yet; "
                "pass --vocab_size 0 (and --tokenizer_name, or the bundled GPT-1 one is used)"
            )
        if self.validation_records < 1:
            raise PretrainError(f"--validation_records must be a positive integer, got {self.validation_records}")

    def check_prepared(self) -> None:
        """Refuse the options a prepared corpus fixes already: its tokenizer wrote the ids."""
        if self.vocab_size or self.tokenizer_name:
            option = "--vocab_size" if self.vocab_size else "--tokenizer_name"
            raise PretrainError(
                f"{option} with the prepared corpus {self.dataset}: its token ids were written by its own tokenizer "
                f"({Path(self.dataset) / 'tokenizer'}); prepare the corpus again with the tokenizer you want"
            )


# --- pieces of the run -------------------------------------------------------------------------------------------


def train_vocabulary(tokenizer: Any, corpus: Any, vocab_size: int) -> Any:
    """A new BPE vocabulary of `vocab_size` learnt on `corpus`, keeping `tokenizer`'s normalisation and pre-split."""
    if not getattr(tokenizer, "is_fast", False):
        raise PretrainError(f"--vocab_size needs a fast (tokenizers-backed) tokenizer, got {type(tokenizer).__name__}")
    batches = (corpus[i : i + 1000]["text"] for i in range(0, len(corpus), 1000))
    return tokenizer.train_new_from_iterator(batches, vocab_size=vocab_size, length=len(corpus))


def build_optimizer(
    model: torch.nn.Module,
    *,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    device: torch.device | None = None,
) -> torch.optim.AdamW:
    """AdamW with decoupled weight decay on `param_groups`; the fused kernel on CUDA."""
    return torch.optim.AdamW(
        param_groups(model, weight_decay),
        lr=lr,
        betas=betas,
        eps=eps,
        fused=device is not None and device.type == "cuda",  # one kernel for all parameters, not several per tensor
    )


def flops_per_token(model: torch.nn.Module, block_size: int) -> float:
    """Training FLOPs per token: 6N for the matmuls forward and backward, plus attention's 12 * L * d * T (PaLM,
    appendix B). N counts the token embedding once (it is the LM head's matmul) and not the position lookup."""
    config = model.config
    n = sum(p.numel() for p in model.parameters()) - config.n_positions * config.n_embd
    return 6 * n + 12 * config.n_layer * config.n_embd * block_size


def measure_matmul_flops(device: torch.device, dtype: torch.dtype = torch.bfloat16, size: int = 8192) -> float:
    """Achieved FLOP/s of a large square matmul on `device`: a peak for devices the table lacks."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize(device)
    start, iters = time.perf_counter(), 20
    for _ in range(iters):
        a @ b
    torch.cuda.synchronize(device)
    return 2 * size**3 * iters / (time.perf_counter() - start)


def table_peak_flops(device_name: str) -> float | None:
    """The data-sheet dense bf16 peak of a GPU by its name (`torch.cuda.get_device_name`), if the table has it."""
    return next((flops for key, flops in PEAK_BF16_FLOPS if key in device_name), None)


def peak_flops(device: torch.device, override_tflops: float | None = None) -> float | None:
    """bf16 peak FLOP/s of one device: the override, the data-sheet table, or a measured matmul; None off-GPU."""
    if override_tflops:
        return override_tflops * 1e12
    if device.type != "cuda":
        return None
    return table_peak_flops(torch.cuda.get_device_name(device)) or measure_matmul_flops(device)


def save_checkpoint(accelerator: Accelerator, folder: Path, state: dict[str, Any], keep: int) -> Path:
    """`accelerator.save_state` plus `trainer_state.json` into `folder/checkpoint-N`, atomically: every rank writes into
    one temporary folder that the main process swaps into place only when all are done; then all but the newest
    `keep` are deleted.

    Everything a resume reads is data: tensors in safetensors or `torch.load(weights_only=True)` files written by
    accelerate, and the schedule and counters in `state` as JSON (a registered custom object would be pickled).
    """
    target = checkpoint_dir(folder, state["step"])
    with atomic_directory(target) if accelerator.is_main_process else contextlib.nullcontext() as tmp:
        tmp = broadcast_object_list([str(tmp) if tmp else None])[0]
        accelerator.save_state(tmp)
        if accelerator.is_main_process:
            atomic_write_json(Path(tmp) / STATE_FILE, state)
        accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        for stale in complete_checkpoints(folder)[:-keep]:
            shutil.rmtree(stale, ignore_errors=True)
    accelerator.wait_for_everyone()
    return target


def on_every_rank(accelerator: Accelerator, ok: bool) -> bool:
    """True when `ok` holds on every process (so that all of them take the same branch)."""
    flags = accelerator.gather(torch.tensor([float(ok)], device=accelerator.device))
    return bool(flags.min().item())


# What a damaged checkpoint raises while loading: truncated or garbled safetensors, torch.load or JSON files, and
# pickles that `weights_only` refuses (objects other than tensors and plain data).
DAMAGE = (OSError, EOFError, RuntimeError, KeyError, SafetensorError, ValueError, pickle.UnpicklingError)


def resume_state(
    accelerator: Accelerator, folder: Path, signature: dict[str, Any], scheduler: Any, log: Callable[[str], Any]
) -> dict[str, Any]:
    """Load the newest checkpoint that loads and return its `trainer_state.json`.

    A damaged one (a disk error, a truncated copy) is renamed `damaged-checkpoint-N`, kept for inspection and out of the
    way of pruning, and the next older one is tried, with a warning. A checkpoint of a run with other settings is
    an error, not damage.
    """
    for checkpoint in reversed(complete_checkpoints(folder)):
        try:
            saved = json.loads((checkpoint / STATE_FILE).read_text(encoding="utf-8"))
            check_resumable(saved["signature"], signature, checkpoint)
            accelerator.load_state(str(checkpoint))  # its torch.load is weights_only (accelerate >= 1.3)
            scheduler.load_state_dict(saved["scheduler"])
            problem = None
        except PretrainError:
            raise
        except DAMAGE as e:
            problem = f"{type(e).__name__}: {e}".splitlines()[0]
        if on_every_rank(accelerator, problem is None):
            return saved
        log(f"warning: checkpoint {checkpoint} is damaged ({problem or 'on another process'}); trying an older one")
        if accelerator.is_main_process:
            set_aside(checkpoint)
        accelerator.wait_for_everyone()
    raise PretrainError(f"no checkpoint in {folder} could be loaded; pass --overwrite_output_dir to start afresh")


def set_aside(checkpoint: Path) -> Path:
    """Rename a damaged checkpoint `damaged-checkpoint-N` (`-2`, `-3`... if taken): kept, but never resumed or pruned."""
    for n in itertools.count(1):
        aside = checkpoint.with_name(f"damaged-{checkpoint.name}{f'-{n}' if n > 1 else ''}")
        if not aside.exists():
            return checkpoint.rename(aside)
    raise AssertionError("unreachable")


@contextlib.contextmanager
def output_dir_lock(out: Path, accelerator: Accelerator) -> Iterator[None]:
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
                lock, refusal = (
                    None,
                    (
                        f"{out} is in use by another pretraining run (it holds {out / RUN_LOCK}); wait for it to finish "
                        "or choose another --output_dir"
                    ),
                )
    refusal = broadcast_object_list([refusal])[0]  # every process refuses together
    if refusal:
        raise PretrainError(refusal)
    try:
        yield
    finally:
        if lock is not None:
            lock.release()
            if created and [p.name for p in out.iterdir()] == [RUN_LOCK]:  # refused before writing anything:
                shutil.rmtree(out, ignore_errors=True)  # leave no trace of the folder we made


def run_signature(args: PretrainArguments, config: GPT1Config, splits: Any, total_steps: int) -> dict[str, Any]:
    """What must not change between a run and its resumption: the model, the data and the optimisation schedule.
    The data is known by its first training blocks (a stream's: its validation blocks, read before training)."""
    streamed = isinstance(splits["train"], StreamedCorpus)
    known = splits["validation" if streamed else "train"]
    sample = [known[i]["input_ids"].tolist() for i in range(min(4, len(known)))]
    digest = hashlib.sha256(json.dumps(sample).encode()).hexdigest()[:16]
    keys = ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "n_inner", "afn", "resid_pdrop")
    return {
        "model": {k: getattr(config, k) for k in keys},
        "block_size": args.block_size,
        "train_blocks": "streamed" if streamed else len(splits["train"]),
        "data_digest": digest,
        "total_batch_size": args.total_batch_size,
        "seed": args.seed,
        "learning_rate": args.learning_rate,
        "warmup_steps": args.warmup_steps,
        "total_steps": total_steps,
        "weight_decay": args.weight_decay,
        "max_grad_norm": args.max_grad_norm,
    }


def check_resumable(saved: dict[str, Any], current: dict[str, Any], checkpoint: Path) -> None:
    """One error naming every setting in which the checkpoint's run differs from this one."""
    diffs = [f"{k}: checkpoint {saved.get(k)!r} vs now {v!r}" for k, v in current.items() if saved.get(k) != v]
    if diffs:
        raise PretrainError(
            f"cannot resume from {checkpoint}: it was written by a run with a different configuration "
            f"({'; '.join(diffs)}). Use the original options, or another --output_dir / --overwrite_output_dir."
        )


@torch.no_grad()
def evaluate(accelerator: Accelerator, model: torch.nn.Module, loader: DataLoader, max_batches: int | None) -> float:
    """Mean next-token cross-entropy over the validation blocks (every block has the same length, so the mean of
    per-block means is the per-token mean), gathered over processes without the padding of uneven shards."""
    model.eval()
    losses = []
    for i, batch in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        ids = batch["input_ids"].long()
        logits = model(input_ids=ids, use_cache=False).logits.float()
        per_token = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.size(-1)), ids[:, 1:].reshape(-1), reduction="none"
        )
        losses.append(accelerator.gather_for_metrics(per_token.view(ids.size(0), -1).mean(1)))
    model.train()
    return torch.cat(losses).mean().item()


def micro_batches(accelerator: Accelerator, loader: Any, consumed: int):
    """Micro-batches forever, epoch after epoch, starting after the first `consumed` ones.

    The order within an epoch is a function of (seed, epoch) alone (accelerate's seedable sampler), so skipping the
    consumed batches of the current epoch puts a resumed run exactly where the interrupted one was.
    """
    epoch, skip = divmod(consumed, len(loader))
    while True:
        loader.set_epoch(epoch)
        yield from accelerator.skip_first_batches(loader, skip) if skip else loader
        epoch, skip = epoch + 1, 0


def streamed_micro_batches(run: Run, consumed: int) -> Iterator[dict[str, torch.Tensor]]:
    """A streamed corpus's micro-batches for this process, after the first `consumed`: its shards are the
    micro-batch slots `process_index * accum ... + accum - 1` of every update (`StreamedCorpus`). A resume reads
    the consumed ones again and drops them: the text up to there is tokenised again, never trained on twice."""
    accelerator, accum = run.accelerator, run.accum
    first = accelerator.process_index * accum
    stream = run.train_loader.micro_batches(
        run.args.per_device_train_batch_size, range(first, first + accum), accum * accelerator.num_processes
    )
    for ids in itertools.islice(stream, consumed, None):
        yield {"input_ids": ids.to(accelerator.device)}


def generate_sample(model: Any, tokenizer: Any, prompt: str, max_new_tokens: int, seed: int) -> str:
    """A sampled continuation of `prompt` (top-k 40, temperature 0.8), decoded."""
    device = next(model.parameters()).device
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(device)
    max_new_tokens = min(max_new_tokens, model.config.n_positions - inputs["input_ids"].size(1))
    torch.manual_seed(seed)
    model.eval()
    out = model.generate(
        **inputs,
        max_new_tokens=max_new_tokens,
        do_sample=True,
        top_k=40,
        temperature=0.8,
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
    )
    return tokenizer.decode(out[0], skip_special_tokens=True)


def check_model_shape(args: PretrainArguments) -> None:
    """Reject an unknown preset or a block longer than the model's context before any data is read."""
    if args.model_name_or_path:
        n_positions = AutoConfig.from_pretrained(args.model_name_or_path).n_positions
    else:
        try:
            n_positions = GPT1Config.from_preset(args.model_preset).n_positions
        except ValueError as e:
            raise PretrainError(str(e)) from e
    if args.block_size > n_positions:
        raise PretrainError(f"--block_size {args.block_size} exceeds the model's n_positions {n_positions}")


# --- the run -----------------------------------------------------------------------------------------------------


def pretrain(args: PretrainArguments) -> Path:
    """Pretrain a GPT-1 language model as `args` say; returns the folder of the final model (`output_dir/model`).

    The folder holds safetensors weights, config, tokenizer and the loss curve, and loads with
    `AutoModelForCausalLM.from_pretrained` / `AutoTokenizer.from_pretrained`. Checkpoints go to
    `output_dir/checkpoints`, the log to `output_dir/log.jsonl`.
    """
    args = args.resolved()
    out = Path(args.output_dir)
    check_model_shape(args)
    accelerator, tracker = make_accelerator(args, out)
    with output_dir_lock(out, accelerator):
        return run_pretraining(args, accelerator, tracker)


def make_accelerator(args: PretrainArguments, out: Path) -> tuple[Accelerator, JsonlTracker]:
    """The `Accelerator` of a run (precision, trackers, the seedable data order) and its `log.jsonl` tracker."""
    mixed_precision = args.mixed_precision
    if mixed_precision == "auto":
        mixed_precision = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    trackers: list[Any] = [JsonlTracker(out)]
    if args.report_to != "none":
        trackers += ["tensorboard", "wandb"] if args.report_to == "all" else args.report_to.split(",")
    accelerator = Accelerator(
        mixed_precision=mixed_precision,
        log_with=trackers,
        project_dir=str(out),
        dynamo_backend="inductor" if args.torch_compile else None,
        # The shuffle order depends only on (seed, epoch), the same on every rank and after a resume.
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=args.seed),
    )
    if os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true" and not is_fsdp(accelerator):
        # accelerate enables FSDP only on GPUs and other accelerators; on CPU processes it quietly runs DDP.
        raise PretrainError(
            f"`accelerate launch --use_fsdp` on {accelerator.device.type} processes: accelerate runs FSDP only on "
            "GPUs (and other accelerators) and would train with DDP instead; drop --use_fsdp, or launch on GPUs"
        )
    return accelerator, trackers[0]


def is_fsdp(accelerator: Accelerator) -> bool:
    """Whether the model is sharded (FSDP 1 or 2): every process must then take part in each forward."""
    return accelerator.distributed_type == DistributedType.FSDP


@dataclass
class Progress:
    """Where a run is: what a checkpoint records besides the tensors, and what `--resume_from_checkpoint` restores."""

    step: int = 0
    tokens: int = 0
    validated_at: int | None = None  # the step of the last validation record
    window_loss: float = 0.0  # summed loss of the updates since the last `logging_steps` record...
    window_steps: int = 0  # ...and their number: a resumed run's first record averages the same updates
    # Losses of the window's updates still on the device (this process's): `settle` reads them all in one go.
    unread: list[torch.Tensor] = field(default_factory=list, repr=False)

    def settle(self, accelerator: Accelerator) -> None:
        """Move the unread losses into `window_loss`: one reduction over processes and one host read for the whole
        window instead of one per update (each read waits for the device to finish all the work queued so far)."""
        if self.unread:
            for loss in accelerator.reduce(torch.stack(self.unread), "mean").tolist():
                self.window_loss += loss  # in update order, as a per-update read would have summed them
            self.unread.clear()

    def state(self, scheduler: Any, signature: dict[str, Any]) -> dict[str, Any]:
        """`trainer_state.json`: this progress, the schedule's state and the run's signature, all plain JSON (call
        `settle` first)."""
        assert not self.unread, "settle() the unread losses before saving"
        return {
            "step": self.step,
            "tokens": self.tokens,
            "validated_at": self.validated_at,
            "log_window": [self.window_loss, self.window_steps],
            "scheduler": scheduler.state_dict(),
            "signature": signature,
        }

    @classmethod
    def from_state(cls, saved: dict[str, Any]) -> Progress:
        return cls(saved["step"], saved["tokens"], saved["validated_at"], *saved["log_window"])


@dataclass
class Run:
    """A pretraining run once built: what the stages below (`train_step`, `validate`, `save`, `finish`) share."""

    args: PretrainArguments
    accelerator: Accelerator
    tracker: JsonlTracker
    tokenizer: Any
    model: torch.nn.Module  # as prepared by accelerate (wrapped for DDP/FSDP)
    optimizer: torch.optim.Optimizer
    scheduler: Any
    train_loader: Any
    val_loader: Any
    accum: int  # micro-batches per update on each process
    total_steps: int
    steps_per_epoch: int
    signature: dict[str, Any]

    @property
    def out(self) -> Path:
        return Path(self.args.output_dir)

    @property
    def raw_model(self) -> torch.nn.Module:
        return self.accelerator.unwrap_model(self.model)

    def log(self, message: str) -> None:
        if self.accelerator.is_main_process:
            tqdm.write(message)


def accumulation_steps(args: PretrainArguments, num_processes: int) -> int:
    """Micro-batches per update on each process, so that an update is `--total_batch_size` sequences."""
    micro_per_step = args.per_device_train_batch_size * num_processes
    if args.total_batch_size % micro_per_step:
        raise PretrainError(
            f"--total_batch_size {args.total_batch_size} is not a multiple of --per_device_train_batch_size "
            f"{args.per_device_train_batch_size} x {num_processes} process(es)"
        )
    return args.total_batch_size // micro_per_step


def prepare_run_folder(args: PretrainArguments, accelerator: Accelerator) -> Path | None:
    """Undo what a killed save left, apply `--resume_from_checkpoint` / `--overwrite_output_dir`; return the
    checkpoint to resume, if any."""
    out, main = Path(args.output_dir), accelerator.is_main_process
    if main:  # we hold the folder's lock, so no other run is writing here
        recover_interrupted(out)
    accelerator.wait_for_everyone()
    resume_from = latest_checkpoint(out)
    finished = out / MODEL_DIR
    if (resume_from is not None or finished.is_dir()) and not args.resume_from_checkpoint:
        if not args.overwrite_output_dir:
            if resume_from is None:  # its checkpoints deleted (to save space): the model would be replaced at the end
                raise PretrainError(
                    f"{out} already holds the model of a finished run ({finished}); pass --overwrite_output_dir to "
                    "replace it, or choose another --output_dir"
                )
            raise PretrainError(
                f"{out} already holds checkpoints of a run (latest {resume_from.name}); pass "
                "--resume_from_checkpoint last to continue it, --overwrite_output_dir to start afresh, or choose another --output_dir"
            )
        if main:
            remove_run_files(out)
        resume_from = None
    if args.resume_from_checkpoint and resume_from is None and main:
        tqdm.write(f"no checkpoint in {out}: starting from scratch")
    return resume_from


def remove_run_files(out: Path) -> None:
    """Delete what an earlier run wrote to `out` (`--overwrite_output_dir`): its checkpoints (damaged ones too), model,
    tokenizer, log, configuration and TensorBoard events, so that nothing of it is left beside the new run's files
    (a user's own files stay)."""
    for old in out.glob(f"*{CHECKPOINT_PREFIX}-*"):  # checkpoint-N and damaged-checkpoint-N
        shutil.rmtree(old)
    for name in (MODEL_DIR, "tokenizer", TRACKER_PROJECT):
        shutil.rmtree(out / name, ignore_errors=True)
    for name in ("log.jsonl", "run_config.json"):
        (out / name).unlink(missing_ok=True)


def build_data(args: PretrainArguments, accelerator: Accelerator, resuming: bool) -> tuple[Any, Any]:
    """The tokenizer and the train/validation blocks (map-style datasets of `{"input_ids": tensor}` rows), built
    once by the main process and read from its files and cache by the others, or mapped from a prepared corpus
    (`gpt1.prepared`). A fresh run saves its tokenizer (learnt with `--vocab_size`) to `output_dir/tokenizer`;
    a resumed one reads it back, so the vocabulary never changes under a run."""
    tokenizer_dir = Path(args.output_dir) / "tokenizer"
    if is_prepared(args.dataset):  # tokenised already: map the blocks, take the tokenizer that wrote them
        prepared = open_prepared(args.dataset)
        tokenizer = load_tokenizer(str(tokenizer_dir if resuming else prepared.tokenizer_dir))
        if not resuming and accelerator.is_main_process:
            with atomic_directory(tokenizer_dir) as tmp:
                tokenizer.save_pretrained(tmp)
        accelerator.wait_for_everyone()
        return tokenizer, prepared_splits(prepared, args.validation_fraction, args.seed)
    if args.streaming:
        return build_streamed_data(args, accelerator, resuming)
    with accelerator.main_process_first():
        corpus = load_corpus_of(args)
        fresh_vocabulary = not resuming and accelerator.is_main_process
        if fresh_vocabulary:
            tokenizer = load_tokenizer(args.tokenizer_name)
            if args.vocab_size:
                tokenizer = train_vocabulary(tokenizer, corpus, args.vocab_size)
        else:
            tokenizer = load_tokenizer(str(tokenizer_dir))
        blocks = pack_corpus(corpus, tokenizer, args.block_size, num_proc=args.preprocessing_num_workers)
        splits = split_blocks(blocks, args.validation_fraction, args.seed)
        if fresh_vocabulary:  # written once the data is known to be usable, before the other ranks read it
            with atomic_directory(tokenizer_dir) as tmp:
                tokenizer.save_pretrained(tmp)
    return tokenizer, {name: split.with_format("torch") for name, split in splits.items()}


def build_streamed_data(args: PretrainArguments, accelerator: Accelerator, resuming: bool) -> tuple[Any, Any]:
    """`--streaming`: the tokenizer (saved, or read back on resume, as `build_data` does), the corpus as a
    `StreamedCorpus` and its held-out head as the validation blocks."""
    tokenizer_dir = Path(args.output_dir) / "tokenizer"
    tokenizer = load_tokenizer(str(tokenizer_dir) if resuming else args.tokenizer_name)
    records = load_corpus_of(args, streaming=True)
    held_out = math.ceil(args.validation_records / PACK_BATCH)
    stream = StreamedCorpus(records, tokenizer, args.block_size, held_out)
    validation = stream.validation_blocks()
    if not validation:
        raise PretrainError(
            f"the first {held_out * PACK_BATCH} records of the stream (--validation_records) make no block of "
            f"{args.block_size} tokens to validate on; hold out more records"
        )
    if not resuming and accelerator.is_main_process:
        with atomic_directory(tokenizer_dir) as tmp:
            tokenizer.save_pretrained(tmp)
    accelerator.wait_for_everyone()
    return tokenizer, {"train": stream, "validation": Dataset.from_dict({"input_ids": validation}).with_format("torch")}


def build_model(args: PretrainArguments, tokenizer: Any) -> torch.nn.Module:
    """The checkpoint to continue (`--model_name_or_path`), or a new model of the preset sized to the tokenizer."""
    if args.model_name_or_path:
        model = AutoModelForCausalLM.from_pretrained(args.model_name_or_path)
        if model.config.vocab_size < len(tokenizer):
            raise PretrainError(
                f"{args.model_name_or_path} embeds {model.config.vocab_size} tokens, the tokenizer has {len(tokenizer)}"
            )
    else:
        dropout = dict(resid_pdrop=args.dropout, embd_pdrop=args.dropout, attn_pdrop=args.dropout)
        config = GPT1Config.from_preset(
            args.model_preset, vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **dropout
        )
        model = GPT1ForCausalLM(config)
    if args.gradient_checkpointing:
        # transformers 5.23 renamed it activation_checkpointing_enable (the old name warns); older ones lack it.
        enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
        enable()
    return model


def build_run(
    args: PretrainArguments, accelerator: Accelerator, tracker: JsonlTracker, tokenizer: Any, splits: Any, accum: int
) -> Run:
    """Model, optimiser, schedule and loaders, prepared by accelerate; `accum` micro-batches per update."""
    train_set, val_set = splits["train"], splits["validation"]
    streamed = isinstance(train_set, StreamedCorpus)
    micro_per_step = args.per_device_train_batch_size * accelerator.num_processes
    if not streamed and len(train_set) < micro_per_step:
        raise PretrainError(
            f"the training split has {len(train_set)} blocks, fewer than one step's {micro_per_step} "
            "(per-device batch x processes); use more text, a smaller block or batch size"
        )
    set_seed(args.seed)
    model = build_model(args, tokenizer)
    steps_per_epoch = 0 if streamed else len(train_set) // args.total_batch_size  # 0: a stream's length is unknown
    total_steps = args.max_steps or max(1, math.ceil(args.num_train_epochs * steps_per_epoch))
    optimizer = build_optimizer(
        model,
        lr=args.learning_rate,
        weight_decay=args.weight_decay,
        betas=(args.adam_beta1, args.adam_beta2),
        eps=args.adam_epsilon,
        device=accelerator.device,
    )
    # Stepped by hand once per update (accelerate would step a prepared scheduler once per process), and not
    # registered for checkpointing (accelerate would pickle it): its state goes in trainer_state.json.
    scheduler = get_cosine_schedule_with_warmup(optimizer, args.warmup_steps, total_steps)
    # Own generators keep the loaders from drawing on the global RNG (dropout's), which a resume restores.
    val_loader = DataLoader(val_set, batch_size=args.per_device_train_batch_size, generator=torch.Generator())
    if streamed:  # each process reads its own shards of the stream (`streamed_micro_batches`): nothing to split
        train_loader = train_set
        model, optimizer, val_loader = accelerator.prepare(model, optimizer, val_loader)
    else:
        train_loader = DataLoader(
            train_set,
            batch_size=args.per_device_train_batch_size,
            shuffle=True,
            drop_last=True,
            generator=torch.Generator().manual_seed(args.seed),
        )
        model, optimizer, train_loader, val_loader = accelerator.prepare(model, optimizer, train_loader, val_loader)
    signature = run_signature(args, accelerator.unwrap_model(model).config, splits, total_steps)
    return Run(args, accelerator, tracker, tokenizer, model, optimizer, scheduler, train_loader, val_loader,
               accum, total_steps, steps_per_epoch, signature)  # fmt: skip


def restore(run: Run, resume_from: Path | None) -> Progress:
    """The progress of the newest loadable checkpoint (model, optimiser, RNG and schedule restored), or a new run's;
    the log is cut back to match."""
    if resume_from is None:
        if run.accelerator.is_main_process:
            run.tracker.reset()
        return Progress()
    progress = Progress.from_state(resume_state(run.accelerator, run.out, run.signature, run.scheduler, run.log))
    if run.accelerator.is_main_process:
        run.tracker.truncate_after(progress.step)
    run.log(f"resumed from {checkpoint_dir(run.out, progress.step)} at step {progress.step}")
    return progress


def describe(run: Run) -> str:
    """The run's plan in one line: model, data, updates and how they are split over devices."""
    args, accelerator = run.args, run.accelerator
    n_params = sum(p.numel() for p in run.raw_model.parameters())
    n_train = "streamed" if isinstance(run.train_loader, StreamedCorpus) else len(run.train_loader.dataset)
    n_val = len(run.val_loader.dataset)
    return (
        f"GPT-1 pretraining ({args.recipe} recipe): {n_params / 1e6:.2f}M parameters, {len(run.tokenizer)} tokens "
        f"vocab; {n_train} train / {n_val} validation blocks of {args.block_size}; {run.total_steps} updates of "
        f"{args.total_batch_size} x {args.block_size} tokens ({args.per_device_train_batch_size} per device x "
        f"{run.accum} accumulation x {accelerator.num_processes} process(es)); {accelerator.device}, mixed "
        f"precision {accelerator.mixed_precision}"
    )


def validate(run: Run, progress: Progress) -> None:
    """Score the validation blocks and log the loss and perplexity at the current step."""
    progress.validated_at = progress.step
    val_loss = evaluate(run.accelerator, run.model, run.val_loader, run.args.max_eval_batches)
    record = {"val_loss": val_loss, "val_ppl": math.exp(min(val_loss, 50.0)), "tokens": progress.tokens}
    run.accelerator.log(record, step=progress.step)
    run.log(f"step {progress.step}: validation loss {val_loss:.4f}, perplexity {record['val_ppl']:.2f}")


def save(run: Run, progress: Progress) -> None:
    """A checkpoint of the current step (see `save_checkpoint`)."""
    progress.settle(run.accelerator)
    state = progress.state(run.scheduler, run.signature)
    save_checkpoint(run.accelerator, run.out, state, run.args.save_total_limit)


def train_step(run: Run, batches: Iterator[dict[str, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One update: `accum` micro-batches of forward and backward, clip, step. Returns this process's mean loss of
    the update and the gradient norm before clipping (None when clipping is off), both still on the device: reading
    them would wait for the GPU to finish the step, so `train` reads them only at the log interval."""
    accelerator, model = run.accelerator, run.model
    step_loss = torch.zeros((), device=accelerator.device)
    for micro in range(run.accum):
        ids = next(batches)["input_ids"].long()
        # Gradients are averaged across processes only on the last micro-batch of the update.
        with accelerator.no_sync(model) if micro < run.accum - 1 else contextlib.nullcontext():
            loss = model(input_ids=ids, labels=ids, use_cache=False).loss
            accelerator.backward(loss / run.accum)
        step_loss += loss.detach() / run.accum
    max_norm = run.args.max_grad_norm
    grad_norm = accelerator.clip_grad_norm_(model.parameters(), max_norm) if max_norm else None
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    return step_loss, grad_norm


def train(run: Run, progress: Progress) -> None:
    """The loop: updates until `total_steps` (or the time budget), logging, validating and checkpointing as asked."""
    args, accelerator = run.args, run.accelerator
    tokens_per_step = args.total_batch_size * args.block_size
    flops_token = flops_per_token(run.raw_model, args.block_size)
    peak = peak_flops(accelerator.device, args.peak_tflops)
    consumed = progress.step * run.accum
    if isinstance(run.train_loader, StreamedCorpus):
        batches = streamed_micro_batches(run, consumed)
    else:
        batches = micro_batches(accelerator, run.train_loader, consumed)
    bar = tqdm(total=run.total_steps, initial=progress.step, desc="pretraining",
               disable=not accelerator.is_main_process, dynamic_ncols=True)  # fmt: skip
    run.model.train()
    start = last_log = time.perf_counter()
    timed_steps = 0  # updates since `last_log` in this process, for the throughput
    while progress.step < run.total_steps:
        if args.time_budget_minutes is not None and time.perf_counter() - start > 60 * args.time_budget_minutes:
            run.log(f"time budget of {args.time_budget_minutes} min reached at step {progress.step}")
            break
        lr = run.scheduler.get_last_lr()[0]
        loss, grad_norm = train_step(run, batches)
        progress.step += 1
        progress.tokens += tokens_per_step
        progress.unread.append(loss)
        progress.window_steps += 1
        timed_steps += 1
        bar.update(1)
        step = progress.step
        if step % args.logging_steps == 0 or step == run.total_steps:
            progress.settle(accelerator)  # the one host sync of the window: the time below includes its work
            now = time.perf_counter()
            tokens_per_s = timed_steps * tokens_per_step / (now - last_log)
            record = {
                "loss": progress.window_loss / progress.window_steps,
                "lr": lr,
                "tokens": progress.tokens,
                "tokens_per_s": tokens_per_s,
                "elapsed_s": now - start,
            }
            if run.steps_per_epoch:
                record["epoch"] = step / run.steps_per_epoch
            if grad_norm is not None:
                record["grad_norm"] = float(grad_norm)
            if peak:
                record["mfu"] = flops_token * tokens_per_s / (peak * accelerator.num_processes)
            if accelerator.device.type == "cuda":  # the allocator's own count: no device sync
                record["peak_mem_gib"] = torch.cuda.max_memory_allocated(accelerator.device) / 2**30
            accelerator.log(record, step=step)
            bar.set_postfix(loss=f"{record['loss']:.3f}", lr=f"{lr:.2e}", tok_s=f"{tokens_per_s:,.0f}")
            progress.window_loss, progress.window_steps = 0.0, 0
            timed_steps, last_log = 0, time.perf_counter()
        if step % args.eval_steps == 0 and step < run.total_steps:
            validate(run, progress)
        if step % args.save_steps == 0 and step < run.total_steps:
            save(run, progress)
    bar.close()


def finish(run: Run, progress: Progress) -> Path:
    """Final validation and checkpoint, then `output_dir/model` (weights, config, tokenizer, loss curve), a sample
    and the push. A resumed finished run (or a time budget that ended right after a periodic save) has the
    validation and checkpoint already: repeating them would duplicate log records and re-save for nothing."""
    args, accelerator = run.args, run.accelerator
    if progress.validated_at != progress.step:
        validate(run, progress)
    if latest_checkpoint(run.out) != checkpoint_dir(run.out, progress.step):
        save(run, progress)
    model_dir = run.out / MODEL_DIR
    state_dict = accelerator.get_state_dict(run.model)  # gathers FSDP shards; every rank takes part
    if accelerator.is_main_process:
        with atomic_directory(model_dir) as tmp:
            run.raw_model.save_pretrained(tmp, state_dict=state_dict)
            fit_to_model(run.tokenizer, run.raw_model).save_pretrained(tmp)
            plot_loss_curve(read_jsonl(run.tracker.path), tmp / "loss_curve.png")
    accelerator.wait_for_everyone()
    if args.sample_tokens > 0 and (accelerator.is_main_process or is_fsdp(accelerator)):  # sharded: all ranks
        sample = generate_sample(run.raw_model, run.tokenizer, args.sample_prompt, args.sample_tokens, args.seed)
        run.log(f"sample: {sample}")
    run.log(f"saved the model to {model_dir}")
    if args.push_to_hub and accelerator.is_main_process:
        run.log(f"pushed to {push_folder(model_dir, args.hub_model_id, commit_message='GPT-1 pretraining')}")
    return model_dir


def run_pretraining(args: PretrainArguments, accelerator: Accelerator, tracker: JsonlTracker) -> Path:
    """The body of `pretrain`, run while this process holds the output folder's lock: the stages in order."""
    accum = accumulation_steps(args, accelerator.num_processes)  # a batch that does not divide: before any data
    resume_from = prepare_run_folder(args, accelerator)
    tokenizer, splits = build_data(args, accelerator, resuming=resume_from is not None)
    run = build_run(args, accelerator, tracker, tokenizer, splits, accum)
    progress = restore(run, resume_from)
    config = {k: v for k, v in asdict(args).items() if isinstance(v, int | float | str | bool)}
    config |= {"num_processes": accelerator.num_processes, "gradient_accumulation_steps": run.accum}
    accelerator.init_trackers(TRACKER_PROJECT, config=config)
    run.log(describe(run))
    if resume_from is None:
        validate(run, progress)
    train(run, progress)
    model_dir = finish(run, progress)
    accelerator.end_training()  # closes the trackers and, with several processes, the process group
    return model_dir


def main(argv: list[str] | None = None) -> int:
    """`scripts/pretrain.py`: parse options, pretrain, print where the model is. Bad input exits 2 with one line."""
    parser = HfArgumentParser(PretrainArguments, description=__doc__.split("\n\n")[0])
    (args,) = parser.parse_args_into_dataclasses(args=argv)
    try:
        pretrain(args)
    except (PretrainError, CorpusError, HubError, MissingTokenizerError) as e:
        return user_error(e)
    return 0


__all__ = [
    "DEMO_CORPUS",
    "PEAK_BF16_FLOPS",
    "RECIPES",
    "TRACKER_PROJECT",
    "PretrainArguments",
    "PretrainError",
    "build_optimizer",
    "flops_per_token",
    "load_tokenizer",
    "main",
    "peak_flops",
    "pretrain",
    "save_checkpoint",
    "table_peak_flops",
    "train_vocabulary",
]
