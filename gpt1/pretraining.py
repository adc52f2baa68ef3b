"""Generative pretraining (the paper's first stage) with `accelerate`: the run, from a laptop CPU to many GPUs.

    python scripts/pretrain.py                                   # the bundled demo: minutes on a CPU
    python scripts/pretrain.py --recipe paper --dataset DIR      # the paper's recipe on your corpus
    accelerate launch scripts/pretrain.py --recipe paper ...     # the same on every GPU/node accelerate knows of

The loop is nanoGPT's (micro-batches with gradient accumulation, clip, step, schedule), with `accelerate` supplying
devices, processes (DDP, or FSDP via `accelerate launch --use_fsdp`), bf16 autocast and checkpoint state. Data order
is a function of (seed, epoch) only and every RNG is checkpointed, so `--resume_from_checkpoint last` continues a
killed run exactly. The stages of `pretrain`, in order: options resolved and checked (`pretraining_args`), the run
folder locked and prepared, the data opened (`pretraining_data`), model, optimiser and `checkpointing.Checkpointer`
built, the newest checkpoint restored, `train` (each update: step, maybe log, maybe validate, maybe save), `finish`.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, DistributedType, set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, HfArgumentParser, get_cosine_schedule_with_warmup

import modeling_gpt1  # noqa: F401  (registers GPT-1 with the Auto classes)
from modeling_gpt1 import GPT1Config, GPT1ForCausalLM
from tokenization import fit_to_model

from .checkpointing import Checkpointer, CheckpointError, prepare_run_folder, run_lock
from .cli import user_error
from .data import CorpusArguments, CorpusError
from .hub import HubError, MissingTokenizerError, push_folder
from .io import NoRoomError, atomic_directory
from .logging_utils import JsonlTracker, plot_loss_curve, read_jsonl
from .preemption import Stopped, StopSignals, signal_name
from .pretraining_args import PretrainArguments, PretrainError, check_arguments, resolve_arguments
from .pretraining_data import TOKENIZER_DIR, PretrainingData, open_pretraining_data
from .throughput import Throughput, flops_per_token, peak_flops
from .training import MODEL_DIR, checkpoint_dir, param_groups

TRACKER_PROJECT = "gpt1-pretraining"  # the trackers' project name: TensorBoard writes to output_dir/<this>
# What a run writes to output_dir besides its checkpoints: `--overwrite_output_dir` deletes these of an older run.
RUN_FILES = (MODEL_DIR, TOKENIZER_DIR, TRACKER_PROJECT, "log.jsonl", "run_config.json")


# --- pieces of the run -------------------------------------------------------------------------------------------


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


def run_signature(args: PretrainArguments, config: GPT1Config, data: PretrainingData, total_steps: int) -> dict:
    """What must not change between a run and its resumption: the model, the data and the optimisation schedule."""
    keys = ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "n_inner", "afn", "resid_pdrop")
    return {
        "model": {k: getattr(config, k) for k in keys},
        "block_size": args.block_size,
        **data.signature(),
        "total_batch_size": args.total_batch_size,
        "seed": args.seed,
        "learning_rate": args.learning_rate,
        "warmup_steps": args.warmup_steps,
        "total_steps": total_steps,
        "weight_decay": args.weight_decay,
        "max_grad_norm": args.max_grad_norm,
    }


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


# --- the run -----------------------------------------------------------------------------------------------------


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

    def advance(self, loss: torch.Tensor, tokens: int) -> None:
        """One update done: its loss (still on the device) joins the window."""
        self.step, self.tokens = self.step + 1, self.tokens + tokens
        self.unread.append(loss)
        self.window_steps += 1

    def settle(self, accelerator: Accelerator) -> None:
        """Move the unread losses into `window_loss`: one reduction over processes and one host read for the whole
        window instead of one per update (each read waits for the device to finish all the work queued so far)."""
        if self.unread:
            for loss in accelerator.reduce(torch.stack(self.unread), "mean").tolist():
                self.window_loss += loss  # in update order, as a per-update read would have summed them
            self.unread.clear()

    def state(self, accelerator: Accelerator) -> dict[str, Any]:
        """What `trainer_state.json` records of the progress (the window's losses settled first), as plain JSON."""
        self.settle(accelerator)
        log_window = [self.window_loss, self.window_steps]
        return {"step": self.step, "tokens": self.tokens, "validated_at": self.validated_at, "log_window": log_window}

    @classmethod
    def from_state(cls, saved: dict[str, Any]) -> Progress:
        return cls(saved["step"], saved["tokens"], saved["validated_at"], *saved["log_window"])


@dataclass
class PretrainingRun:
    """A pretraining run once built: what the stages below (`train_step`, `validate`, `finish`) share."""

    args: PretrainArguments
    accelerator: Accelerator
    tracker: JsonlTracker
    data: PretrainingData
    model: torch.nn.Module  # as prepared by accelerate (wrapped for DDP/FSDP)
    optimizer: torch.optim.Optimizer
    scheduler: Any
    val_loader: Any
    checkpointer: Checkpointer
    accum: int  # micro-batches per update on each process
    total_steps: int
    steps_per_epoch: int  # 0: unknown (a stream)

    @property
    def out(self) -> Path:
        return Path(self.args.output_dir)

    @property
    def raw_model(self) -> torch.nn.Module:
        return self.accelerator.unwrap_model(self.model)

    def log(self, message: str) -> None:
        if self.accelerator.is_main_process:
            tqdm.write(message)


def pretrain(args: PretrainArguments, corpus: CorpusArguments | None = None) -> Path:
    """Pretrain a GPT-1 language model as `args` say on the corpus `corpus` names (default: the recipe's); returns
    the folder of the final model (`output_dir/model`).

    The folder holds safetensors weights, config, tokenizer and the loss curve, and loads with
    `AutoModelForCausalLM.from_pretrained` / `AutoTokenizer.from_pretrained`. Checkpoints go to
    `output_dir/checkpoint-<step>`, the log to `output_dir/log.jsonl`.
    """
    args, corpus = resolve_arguments(args, corpus or CorpusArguments())
    out = Path(args.output_dir)
    accelerator, tracker = make_accelerator(args, out)
    check_arguments(args, corpus, accelerator.num_processes)
    with run_lock(out, accelerator):
        return run_pretraining(args, corpus, accelerator, tracker)


def run_pretraining(
    args: PretrainArguments, corpus: CorpusArguments, accelerator: Accelerator, tracker: JsonlTracker
) -> Path:
    """The body of `pretrain`, run while this process holds the output folder's lock: the stages in order."""
    resuming = prepare_run_folder(
        Path(args.output_dir),
        accelerator,
        resume=args.resume_from_checkpoint == "last",
        overwrite=args.overwrite_output_dir,
        run_files=RUN_FILES,
    )
    data = open_pretraining_data(args, corpus, accelerator, resuming)
    run = build_run(args, accelerator, tracker, data)
    progress = restore(run, resuming)
    config = {"recipe": args.recipe} | asdict(corpus) | asdict(args)
    config = {k: v for k, v in config.items() if isinstance(v, int | float | str | bool)}
    config |= {"num_processes": accelerator.num_processes, "gradient_accumulation_steps": run.accum}
    accelerator.init_trackers(TRACKER_PROJECT, config=config)
    run.log(describe(run))
    if not resuming:
        validate(run, progress)
    with StopSignals() as signals:  # SIGTERM, SIGINT, SIGUSR1: finish the update, checkpoint, exit 128 + signal
        if train(run, progress, signals):
            stop(run, progress, signals.signum)
        model_dir = finish(run, progress)
    accelerator.end_training()  # closes the trackers and, with several processes, the process group
    return model_dir


def stop(run: PretrainingRun, progress: Progress, signum: int) -> None:
    """After a stop signal: the checkpoint of the update just done (unless the loop has just written it), one line
    naming the signal and the checkpoint, then `Stopped` (the command exits 128 + the signal's number)."""
    if not run.checkpointer.has(progress.step):
        run.checkpointer.save(progress.state(run.accelerator))
    message = (
        f"stopped by {signal_name(signum)} after update {progress.step}: checkpoint "
        f"{checkpoint_dir(run.out, progress.step)} saved; continue with --resume_from_checkpoint last "
        f"(exit status {128 + signum})"
    )
    run.log(message)
    run.accelerator.end_training()
    raise Stopped(signum, message)


def build_run(
    args: PretrainArguments, accelerator: Accelerator, tracker: JsonlTracker, data: PretrainingData
) -> PretrainingRun:
    """Model, optimiser, schedule, the data's loaders and the checkpointer, prepared by accelerate."""
    set_seed(args.seed)
    model = build_model(args, data.tokenizer)
    steps_per_epoch = data.steps_per_epoch(args.total_batch_size)
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
    # registered for checkpointing (accelerate would pickle it): the checkpointer keeps its state as JSON.
    scheduler = get_cosine_schedule_with_warmup(optimizer, args.warmup_steps, total_steps)
    model, optimizer = accelerator.prepare(model, optimizer)
    val_loader = data.prepare(accelerator, args.per_device_train_batch_size, args.seed)
    signature = run_signature(args, accelerator.unwrap_model(model).config, data, total_steps)
    checkpointer = Checkpointer(
        accelerator,
        Path(args.output_dir),
        every=args.save_steps,
        keep=args.save_total_limit,
        last_step=total_steps,
        scheduler=scheduler,
        signature=signature,
    )
    accum = args.total_batch_size // (args.per_device_train_batch_size * accelerator.num_processes)
    return PretrainingRun(
        args,
        accelerator,
        tracker,
        data,
        model,
        optimizer,
        scheduler,
        val_loader,
        checkpointer,
        accum,
        total_steps,
        steps_per_epoch,
    )


def restore(run: PretrainingRun, resuming: bool) -> Progress:
    """The progress of the newest loadable checkpoint (model, optimiser, RNG and schedule restored), or a new run's;
    the log is cut back to match."""
    if not resuming:
        if run.accelerator.is_main_process:
            run.tracker.reset()
        return Progress()
    progress = Progress.from_state(run.checkpointer.restore(run.log))
    if run.accelerator.is_main_process:
        run.tracker.truncate_after(progress.step)
    run.log(f"resumed from {checkpoint_dir(run.out, progress.step)} at step {progress.step}")
    return progress


def describe(run: PretrainingRun) -> str:
    """The run's plan in one line: model, data, updates and how they are split over devices."""
    args, accelerator = run.args, run.accelerator
    n_params = sum(p.numel() for p in run.raw_model.parameters())
    return (
        f"GPT-1 pretraining ({args.recipe} recipe): {n_params / 1e6:.2f}M parameters, {len(run.data.tokenizer)} "
        f"tokens vocab; {run.data.describe()} of {args.block_size}; {run.total_steps} updates of "
        f"{args.total_batch_size} x {args.block_size} tokens ({args.per_device_train_batch_size} per device x "
        f"{run.accum} accumulation x {accelerator.num_processes} process(es)); {accelerator.device}, mixed "
        f"precision {accelerator.mixed_precision}"
    )


def validate(run: PretrainingRun, progress: Progress) -> None:
    """Score the validation blocks and log the loss and perplexity at the current step."""
    progress.validated_at = progress.step
    val_loss = evaluate(run.accelerator, run.model, run.val_loader, run.args.max_eval_batches)
    record = {"val_loss": val_loss, "val_ppl": math.exp(min(val_loss, 50.0)), "tokens": progress.tokens}
    run.accelerator.log(record, step=progress.step)
    run.log(f"step {progress.step}: validation loss {val_loss:.4f}, perplexity {record['val_ppl']:.2f}")


def train_step(
    run: PretrainingRun, batches: Iterator[dict[str, torch.Tensor]]
) -> tuple[torch.Tensor, torch.Tensor | None]:
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


def log_window(
    run: PretrainingRun, progress: Progress, meter: Throughput, lr: float, grad_norm: torch.Tensor | None
) -> dict:
    """Log the record of the updates since the last one: mean loss, the lr of the last update, throughput (and MFU
    on a GPU), gradient norm, peak memory. Returns the record."""
    accelerator = run.accelerator
    progress.settle(accelerator)  # the one host sync of the window: the time below includes its work
    tokens_per_s, elapsed_s = meter.read()
    record = {
        "loss": progress.window_loss / progress.window_steps,
        "lr": lr,
        "tokens": progress.tokens,
        "tokens_per_s": tokens_per_s,
        "elapsed_s": elapsed_s,
    }
    if run.steps_per_epoch:
        record["epoch"] = progress.step / run.steps_per_epoch
    if grad_norm is not None:
        record["grad_norm"] = float(grad_norm)
    if (mfu := meter.mfu(tokens_per_s)) is not None:
        record["mfu"] = mfu
    if accelerator.device.type == "cuda":  # the allocator's own count: no device sync
        record["peak_mem_gib"] = torch.cuda.max_memory_allocated(accelerator.device) / 2**30
    accelerator.log(record, step=progress.step)
    progress.window_loss, progress.window_steps = 0.0, 0
    return record


def train(run: PretrainingRun, progress: Progress, signals: StopSignals | None = None) -> bool:
    """The loop: updates until `total_steps` (or the time budget); at each step maybe log, maybe validate, maybe
    save, and stop when `signals` asks (every process after the same update). Returns whether it was stopped."""
    args, accelerator = run.args, run.accelerator
    batches = run.data.micro_batches(accelerator, run.accum, progress.step * run.accum)
    peak = peak_flops(accelerator.device, args.peak_tflops)
    bar = tqdm(
        total=run.total_steps,
        initial=progress.step,
        desc="pretraining",
        disable=not accelerator.is_main_process,
        dynamic_ncols=True,
    )
    run.model.train()
    meter = Throughput(
        args.total_batch_size * args.block_size,
        flops_per_token(run.raw_model, args.block_size),
        peak,
        accelerator.num_processes,
    )
    budget = args.time_budget_minutes
    with bar:  # closed (its line ended) however the loop ends, so an error that follows starts a line
        while progress.step < run.total_steps:
            if budget is not None and meter.elapsed() > 60 * budget:
                run.log(f"time budget of {budget} min reached at step {progress.step}")
                break
            lr = run.scheduler.get_last_lr()[0]
            loss, grad_norm = train_step(run, batches)
            progress.advance(loss, meter.tokens_per_step)
            meter.count()
            bar.update(1)
            step = progress.step
            if step % args.logging_steps == 0 or step == run.total_steps:
                record = log_window(run, progress, meter, lr, grad_norm)
                bar.set_postfix(loss=f"{record['loss']:.3f}", lr=f"{lr:.2e}", tok_s=f"{record['tokens_per_s']:,.0f}")
                meter.restart()
            if step % args.eval_steps == 0 and step < run.total_steps:
                validate(run, progress)
            run.checkpointer.maybe_save(step, lambda: progress.state(accelerator))
            if signals is not None and signals.should_stop():
                return True
    return False


def finish(run: PretrainingRun, progress: Progress) -> Path:
    """Final validation and checkpoint, then `output_dir/model` (weights, config, tokenizer, loss curve), a sample
    and the push. A resumed finished run (or a time budget that ended right after a periodic save) has the
    validation and checkpoint already: repeating them would duplicate log records and re-save for nothing."""
    args, accelerator, tokenizer = run.args, run.accelerator, run.data.tokenizer
    if progress.validated_at != progress.step:
        validate(run, progress)
    if not run.checkpointer.has(progress.step):
        run.checkpointer.save(progress.state(accelerator))
    model_dir = run.out / MODEL_DIR
    state_dict = accelerator.get_state_dict(run.model)  # gathers FSDP shards; every rank takes part
    if accelerator.is_main_process:
        with atomic_directory(model_dir) as tmp:
            run.raw_model.save_pretrained(tmp, state_dict=state_dict)
            fit_to_model(tokenizer, run.raw_model).save_pretrained(tmp)
            plot_loss_curve(read_jsonl(run.tracker.path), tmp / "loss_curve.png")
    accelerator.wait_for_everyone()
    if args.sample_tokens > 0 and (accelerator.is_main_process or is_fsdp(accelerator)):  # sharded: all ranks
        sample = generate_sample(run.raw_model, tokenizer, args.sample_prompt, args.sample_tokens, args.seed)
        run.log(f"sample: {sample}")
    run.log(f"saved the model to {model_dir}")
    if args.push_to_hub and accelerator.is_main_process:
        run.log(f"pushed to {push_folder(model_dir, args.hub_model_id, commit_message='GPT-1 pretraining')}")
    return model_dir


def main(argv: list[str] | None = None) -> int:
    """`scripts/pretrain.py`: parse options, pretrain, print where the model is. Bad input exits 2 with one line."""
    parser = HfArgumentParser((PretrainArguments, CorpusArguments), description=__doc__.split("\n\n")[0])
    args, corpus = parser.parse_args_into_dataclasses(args=argv)
    try:
        pretrain(args, corpus)
    except (PretrainError, CorpusError, CheckpointError, HubError, MissingTokenizerError, NoRoomError) as e:
        return user_error(e)
    except Stopped as stopped:  # its line is logged: the status tells a scheduler "interrupted, resumable"
        return stopped.exit_status
    return 0


__all__ = [
    "RUN_FILES",
    "TRACKER_PROJECT",
    "build_optimizer",
    "main",
    "pretrain",
]
