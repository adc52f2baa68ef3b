"""Fine-tuning runs (the paper's section 3.2) through `transformers.Trainer`: each planned run of any task of
`gpt1.tasks` on any GPT-1 checkpoint is trained, scored and recorded.

The model computes the paper's objective itself (`loss = L_task + lm_coef * L_lm`), so the stock `Trainer` trains it:
AdamW with decay 0.01 off biases and LayerNorm gains (the authors' code), linear warmup over 0.2% of the steps then
linear decay, gradient clipping at 1. The defaults are the paper's (`gpt1.finetune_args`): lr 6.25e-5, batch 32,
3 epochs, classifier dropout 0.1, lm_coef 0.5.

A run: the checkpoint and tokenizer (`gpt1.task_model`), the task's data (`gpt1.task_data`) framed by its transform
(`gpt1.transforms`), the Trainer, then the predictions files and `results.json` (`gpt1.results`). The runs and their
folders come checked from `gpt1.finetune_runs`.

    python scripts/finetune.py --task sst2 --model_name_or_path outputs/pretrain/model --data_dir ../shared/data \
        --add_special_tokens
"""

from __future__ import annotations

import functools
import logging
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
from transformers import EvalPrediction, Trainer, set_seed

from tokenization import GPT1Tokenizer, fit_to_model

from .cli import user_error
from .finetune_args import FinetuneArguments, FinetuneError, PaperTrainingArguments, finetune_parser, parse_arguments
from .finetune_runs import Run, RunGroup, plan_runs
from .hub import HubError, push_folder
from .io import OutputDirError, atomic_directory, atomic_write_text, is_no_room, no_room
from .metrics import load_metric
from .preemption import StopOnSignal, Stopped, StopSignals, signal_name
from .results import markdown_table, seed_summary, seed_summary_markdown, write_results, write_seed_summary
from .task_data import has_labels, load_task_data, subsample, with_index
from .task_errors import TaskError
from .task_model import build_task_model, load_config_and_tokenizer
from .tasks import TaskSpec
from .training import MODEL_DIR, decays
from .transforms import encode_batch, pad_collate

logger = logging.getLogger(__name__)

# The Trainer's options kept in `results.json` beside the `FinetuneArguments` (the recipe; the rest is in the
# Trainer's own `training_args.bin` when it saves checkpoints).
RECORDED_TRAINING_ARGS = (
    "learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps", "per_device_eval_batch_size",
    "num_train_epochs", "max_steps", "warmup_steps", "lr_scheduler_type", "weight_decay", "max_grad_norm", "seed",
    "bf16", "fp16", "do_train", "output_dir", "run_name", "resume_from_checkpoint",
)  # fmt: skip

# The `--max_*_samples` slices are drawn with this seed (or `--data_seed`), not `--seed`: every seed of `--seeds` and
# every ablation then trains and is scored on the same examples. 42 is `--seed`'s default, so a plain run is unchanged.
SAMPLE_SEED = 42


# --- one run -----------------------------------------------------------------------------------------------------


def encode_splits(run: Run, data: Any, tokenizer: GPT1Tokenizer, max_length: int) -> dict[str, Any]:
    """The training (when training), evaluation and `--test_file` splits, sampled (`--max_*_samples`; a test set is
    scored whole) and framed by the task's transformation; each keeps its `index` column for the predictions files."""
    args, task = run.args, run.task
    seed = SAMPLE_SEED if run.training_args.data_seed is None else run.training_args.data_seed
    encode = functools.partial(encode_batch, task, tokenizer, max_length=max_length)
    train, evaluation = task.source.train_split, task.source.eval_split
    splits = {}
    for split, n in ((train, args.max_train_samples), (evaluation, args.max_eval_samples), ("test", None)):
        if split == "test" and args.test_file is None:
            continue  # only a --test_file is a test set here (a Hub copy's test split is not scored unasked)
        if split in data and (split != train or run.training_args.do_train):
            subset = subsample(with_index(data[split]), n, seed)
            if not has_labels(task, subset) and task.columns.label in subset.column_names:
                subset = subset.remove_columns(task.columns.label)  # a test set labelled -1 throughout: none
            drop = [c for c in subset.column_names if c != "index"]  # the row ids stay for the predictions files
            splits[split] = subset.map(encode, batched=True, remove_columns=drop, desc="encode")
    return splits


class GPT1Trainer(Trainer):
    """`Trainer` with the paper's weight-decay rule, the one pretraining uses (`gpt1.training.decays`): every
    matrix, embeddings included; no bias or LayerNorm parameter."""

    def get_decay_parameter_names(self, model: torch.nn.Module) -> list[str]:
        return [name for name, param in model.named_parameters() if decays(param)]


def make_trainer(run: Run, model: torch.nn.Module, tokenizer: GPT1Tokenizer, splits: dict[str, Any]) -> GPT1Trainer:
    """The `Trainer` of a run: the user's options as given, in the run's folder; no training-time evaluation or
    checkpoints when only evaluating; the Hub push is ours (the saved model, once), not the Trainer's; no pinned
    memory without a GPU. The logits become predictions once, per batch (`task_predictions`)."""
    training_args, task = run.training_args, run.task
    changes: dict[str, Any] = {
        "push_to_hub": False,
        "dataloader_pin_memory": training_args.dataloader_pin_memory and torch.cuda.is_available(),
    }
    if not training_args.do_train:
        changes.update(eval_strategy="no", save_strategy="no", load_best_model_at_end=False)
    trainer = GPT1Trainer(
        model=model,
        args=replace(training_args, **changes),
        train_dataset=splits.get(task.source.train_split),
        eval_dataset=splits[task.source.eval_split],
        data_collator=functools.partial(pad_collate, pad_token_id=tokenizer.pad_token_id),
        processing_class=tokenizer,
        compute_metrics=compute_metrics_fn(task),
        preprocess_logits_for_metrics=functools.partial(task_predictions, task),
    )
    # The heads' loss is a mean over their micro-batch (they take **kwargs, but not `num_items_in_batch`): it must be
    # divided by --gradient_accumulation_steps exactly once. transformers 5.4 has accelerate's `backward` do it;
    # later versions leave it to the Trainer, which does it only for a model that takes no loss kwargs.
    # (`test_gradient_accumulation_gives_the_same_first_update_as_the_whole_batch` runs on the oldest and newest.)
    if trainer.accelerator.gradient_accumulation_steps == 1:
        trainer.model_accepts_loss_kwargs = False
    return trainer


def task_predictions(task: TaskSpec, logits: Any, labels: Any = None) -> Any:
    """One prediction per example from a head's output (`Trainer`'s `preprocess_logits_for_metrics`: the logits,
    or a tuple starting with them when the model returns more): the score of a regression head (`(N, 1)` or
    `(N,)`), else the argmax over the class or answer axis of `(N, num_labels)` logits."""
    logits = logits[0] if isinstance(logits, tuple) else logits
    return logits.reshape(len(logits)) if task.is_regression else logits.argmax(-1)


def compute_metrics_fn(task: TaskSpec):
    """`Trainer`'s `compute_metrics`: every metric of the task via `evaluate`, on the predictions
    (`task_predictions`)."""
    modules = {name: load_metric(name) for name in task.scoring.metrics}
    f1_average = "binary" if task.num_labels <= 2 else "macro"

    def compute(prediction: EvalPrediction) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, module in modules.items():
            kwargs = {"average": f1_average} if name == "f1" else {}
            out.update(module.compute(predictions=prediction.predictions, references=prediction.label_ids, **kwargs))
        return out

    return compute


def evaluate_and_predict(
    trainer: Trainer, task: TaskSpec, splits: dict[str, Any], output_dir: Path
) -> dict[str, float]:
    """Score the validation split (`eval_*` metrics) and a `--test_file` (`test_*`, when it has labels) with the
    trainer's model, and save every split's predictions as `predictions_<split>.tsv` (index, prediction, label when
    known); an unlabelled test set of a GLUE task also gets GLUE's submission file, `<submission>.tsv`."""
    metrics: dict[str, float] = {}
    submission = task.scoring.submission
    for split, prefix in ((task.source.eval_split, "eval"), ("test", "test")):
        if split not in splits:
            continue
        dataset = splits[split]
        output = trainer.predict(dataset, metric_key_prefix=prefix)
        trainer.log(output.metrics)  # into the log history and the trackers, as `Trainer.evaluate` would
        metrics.update(output.metrics)
        labels = dataset["labels"] if "labels" in dataset.column_names else None
        write_predictions(output_dir / f"predictions_{split}.tsv", task, dataset["index"], output.predictions, labels)
        if split == "test" and labels is None and submission is not None:
            write_predictions(output_dir / f"{submission}.tsv", task, dataset["index"], output.predictions)
    return metrics


def prediction_text(task: TaskSpec, value: Any) -> str:
    """A prediction or label as the task's files spell it: a float (regression), a class name, or an id."""
    if task.is_regression:
        return f"{float(value):.6g}"
    if task.columns.label_names is not None and task.scoring.label_format == "names":
        return task.columns.label_names[int(value)]
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


def summarize(
    run: Run, trainer: Trainer, metrics: dict[str, float], splits: dict[str, Any], model_dir: Path | None,
    max_length: int, seconds: float,
) -> dict[str, Any]:  # fmt: skip
    """The run's row for `results.json`: the headline and every metric, the paper's figure, the losses, the
    settings and where the model is."""
    task, names = run.task, run.task.scoring.metrics
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    recorded = trainer.args.to_dict()  # enums as strings, tokens redacted
    do_train = model_dir is not None
    tested = f"test_{task.main_metric}" in metrics  # a labelled --test_file
    return {
        "run": run.training_args.run_name or task.name,
        "task": task.name,
        "transform": task.transform.name,
        "main_metric": task.main_metric,
        "metrics": {name: metrics[f"eval_{name}"] for name in names},  # each module returns its own name
        "eval": {k: v for k, v in metrics.items() if k.startswith("eval_")},
        **({"test_metrics": {name: metrics[f"test_{name}"] for name in names}} if tested else {}),
        **({"test": {k: v for k, v in metrics.items() if k.startswith("test_")}} if tested else {}),
        "paper": task.paper.figure if task.paper is not None else None,
        "paper_metric": task.paper.metric if task.paper is not None else None,
        "train_examples": len(splits[task.source.train_split]) if do_train else 0,
        "eval_examples": len(splits[task.source.eval_split]),
        "test_examples": len(splits["test"]) if "test" in splits else 0,
        "train_loss_first": losses[0] if losses else None,
        "train_loss_last": losses[-1] if losses else None,
        "train_losses": losses,
        "global_step": trainer.state.global_step,
        "model_dir": str(model_dir) if do_train else None,
        "seconds": round(seconds, 1),
        "settings": {
            **asdict(run.args),
            **{name: recorded[name] for name in RECORDED_TRAINING_ARGS if name in recorded},
            "max_length": max_length,
            "parameters": trainer.model.num_parameters(),
        },
    }


def train_and_save(run: Run, trainer: Trainer, tokenizer: GPT1Tokenizer) -> Path:
    """Train (resuming `--resume_from_checkpoint`), then save the model and its tokenizer to `<run>/model`.

    SIGTERM, SIGINT and SIGUSR1 stop training after the update in progress, with `Trainer`'s own checkpoint of it
    (`StopOnSignal`), and raise `Stopped`. A filesystem that refuses a checkpoint is a `NoRoomError`; the partial
    checkpoint `Trainer` was writing is removed (the earlier ones are untouched)."""
    resume = run.training_args.resume_from_checkpoint
    with StopSignals() as signals:
        stopper = StopOnSignal(signals)
        trainer.add_callback(stopper)
        before = set(run.output_dir.glob("checkpoint-*"))
        try:
            trainer.train(resume_from_checkpoint=True if resume == "last" else resume)
        except Exception as err:
            if not is_no_room(err, run.output_dir):
                raise
            new = set(run.output_dir.glob("checkpoint-*")) - before
            if new:  # the one being written when the disk refused: the newest (the earlier ones are complete)
                partial = max(new, key=lambda p: int(p.name.rsplit("-", 1)[-1]))
                shutil.rmtree(partial, ignore_errors=True)
            raise no_room(run.output_dir, err) from err
    if stopper.stopped_at is not None:
        checkpoint = run.output_dir / f"checkpoint-{stopper.stopped_at}"
        message = (
            f"stopped by {signal_name(signals.signum)} after update {stopper.stopped_at}: checkpoint {checkpoint} "
            f"saved; continue with --resume_from_checkpoint last (exit status {128 + signals.signum})"
        )
        logger.warning(message)
        raise Stopped(signals.signum, message)
    model_dir = run.output_dir / MODEL_DIR
    with atomic_directory(model_dir) as tmp:
        trainer.model.save_pretrained(tmp)
        fit_to_model(tokenizer, trainer.model).save_pretrained(tmp)
    return model_dir


def finetune_run(run: Run) -> dict[str, Any]:
    """Fine-tune one checked run (or, with `do_train` false, only evaluate) and write its `results.json` /
    `results.md`, pushing the model when asked; returns the results (`summarize`)."""
    start = time.time()
    args, training_args, task = run.args, run.training_args, run.task
    config, tokenizer = load_config_and_tokenizer(args, task)
    data = load_task_data(task, args.data_dir)
    if training_args.do_train and task.source.train_split not in data:
        raise FinetuneError(
            f"task {task.name!r} has no training split here (only {list(data)}): evaluate a model fine-tuned "
            "elsewhere with --do_train false"
        )
    set_seed(training_args.seed)
    model, tokenizer = build_task_model(args, task, config, tokenizer)
    max_length = min(args.max_length or model.config.n_positions, model.config.n_positions)
    splits = encode_splits(run, data, tokenizer, max_length)
    trainer = make_trainer(run, model, tokenizer, splits)
    model_dir = train_and_save(run, trainer, tokenizer) if training_args.do_train else None
    metrics = evaluate_and_predict(trainer, task, splits, run.output_dir)
    results = summarize(run, trainer, metrics, splits, model_dir, max_length, time.time() - start)
    write_results(run.output_dir, [results], title=f"Fine-tuning: {task.name}")
    if training_args.push_to_hub and model_dir is not None:
        results["hub_url"] = push_folder(
            model_dir,
            training_args.hub_model_id,
            private=bool(training_args.hub_private_repo),
            revision=training_args.hub_revision,
            token=training_args.hub_token,
            commit_message=f"Fine-tuned on {task.name}",
        )
        write_results(run.output_dir, [results], title=f"Fine-tuning: {task.name}")  # now with the URL
    return results


def finetune_group(group: RunGroup) -> dict[str, Any]:
    """A setting's runs: one run's results, or with several seeds `results.seed_summary` (every seed's metrics,
    and each metric's mean, sample standard deviation (ddof=1) and median), written to the group's folder."""
    if len(group.runs) == 1:
        return finetune_run(group.runs[0])
    seeds = [run.training_args.seed for run in group.runs]
    results = []
    for run in group.runs:
        logger.info("seed %d of %s", run.training_args.seed, seeds)
        results.append(finetune_run(run))
        # Rewritten after each seed, so an interrupted series still leaves the summary of the seeds that finished.
        summary = seed_summary(results)
        write_seed_summary(group.output_dir, summary)
    return summary


# --- the entry points --------------------------------------------------------------------------------------------


def finetune(args: FinetuneArguments, training_args: PaperTrainingArguments | None = None) -> dict[str, Any]:
    """Fine-tune once (or, with `training_args.do_train` false, only evaluate) and write `results.json` /
    `results.md`; `args.seeds` are `finetune_seeds`'.

    `training_args` are the Trainer's (default: `PaperTrainingArguments()`, the paper's recipe); its `output_dir`
    defaults to `outputs/finetune/<task>` and its `run_name` names the row of the results table (default: the task).
    Returns the results: task, headline metric, every `eval_*` metric, the paper's figure, the training losses,
    the settings, and where the model was saved (`<output_dir>/model`, loadable with the Auto classes).
    """
    plan = plan_runs(args, PaperTrainingArguments() if training_args is None else training_args, per_seed=False)
    return finetune_run(plan.groups[0].runs[0])


def finetune_seeds(args: FinetuneArguments, training_args: PaperTrainingArguments | None = None) -> dict[str, Any]:
    """`finetune` once per seed of `args.seeds`, every run checked before the first; the summary goes to
    `<output_dir>/results.{json,md}` (`finetune_group`).

    Without `--seeds`, or with one, this is `finetune` itself (with that seed) and returns its results. With several,
    each seed's run keeps its own results and model in `<output_dir>/seed-<S>/` (the authors report the median of
    10 runs for Story Cloze).
    """
    plan = plan_runs(args, PaperTrainingArguments() if training_args is None else training_args)
    return finetune_group(plan.groups[0])


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
    except (FinetuneError, TaskError, OutputDirError, HubError) as e:  # OutputDirError includes NoRoomError
        return user_error(e)
    except Stopped as stopped:  # its line is logged: the status tells a scheduler "interrupted, resumable"
        return stopped.exit_status
    if "seeds" in results:  # several seeds: the summary
        print(seed_summary_markdown(results))
        headline = results["median"].get(results["main_metric"], float("nan"))
    else:
        print(markdown_table([results], title=f"Fine-tuning: {results['task']}"))
        headline = results["metrics"].get(results["main_metric"], float("nan"))
    return 1 if math.isnan(float(headline)) else 0


__all__ = [
    "GPT1Trainer",
    "compute_metrics_fn",
    "encode_splits",
    "evaluate_and_predict",
    "finetune",
    "finetune_group",
    "finetune_run",
    "finetune_seeds",
    "main",
    "make_trainer",
    "summarize",
    "task_predictions",
    "write_predictions",
]
