"""The paper's ablations at small scale, from one pretrained checkpoint (section 5, Table 5 and Fig. 2 left).

Each setting is one `finetune` run with one thing changed:

- `full`:            pretrained, auxiliary LM loss on (lm_coef 0.5), the paper's method
- `no_aux_lm`:       pretrained, lm_coef 0
- `no_pretraining`:  the same network from a random init (Table 5, "w/o pre-training")
- `transfer_<k>`:    embeddings and the first k blocks pretrained, the rest re-initialised (Fig. 2 left)

    python scripts/ablations.py --model_name_or_path outputs/pretrain/model --task sst2 --data_dir ../shared/data \
        --max_train_samples 4000 --transfer_layers 0 2 4

Every `scripts/finetune.py` flag (task, data, and every `TrainingArguments` one) applies to all the runs; each run
is `dataclasses.replace` of the parsed arguments with its setting's change.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import TrainingArguments

from .cli import user_error
from .finetuning import (
    FinetuneArguments,
    FinetuneError,
    PaperTrainingArguments,
    check_arguments,
    check_max_length,
    finetune,
    finetune_parser,
    load_config_and_tokenizer,
    parse_arguments,
    resolve_task,
)
from .io import OutputDirError, check_output_dir
from .results import PAPER_ABLATIONS, markdown_table, write_results
from .tasks import TaskError, load_task_data

logger = logging.getLogger(__name__)

SETTINGS: dict[str, dict[str, Any]] = {
    "full": {},
    "no_aux_lm": {"lm_coef": 0.0},
    "no_pretraining": {"from_scratch": True},
}


class AblationError(ValueError):
    """A user mistake in the grid (unknown setting, transferred blocks the model lacks); one line, naming it."""


@dataclass
class AblationArguments:
    """The ablation grid. The fine-tuning options are `FinetuneArguments`' and the Trainer's (`PaperTrainingArguments`),
    shared by every run; `scripts/ablations.py` defaults them to `ABLATION_DEFAULTS`."""

    settings: list[str] = field(
        default_factory=lambda: list(SETTINGS), metadata={"help": f"Any of {', '.join(SETTINGS)}."}
    )
    transfer_layers: list[int] = field(
        default_factory=list, metadata={"help": "Fig. 2 left: a run per number of transferred blocks."}
    )


# The command line's defaults where they differ from `scripts/finetune.py`'s: SST-2, the fine-tuning tokens added
# to a pretraining checkpoint, no checkpoints or evaluation during training (comparisons only: models not kept).
ABLATION_DEFAULTS: dict[str, Any] = {
    "task": "sst2",
    "output_dir": "outputs/ablations",
    "add_special_tokens": True,
    "save_strategy": "no",
    "eval_strategy": "no",
}


def _root(training_args: TrainingArguments) -> Path:
    return Path(training_args.output_dir or ABLATION_DEFAULTS["output_dir"])


def ablation_runs(
    args: AblationArguments, finetune_args: FinetuneArguments, training_args: TrainingArguments
) -> list[tuple[FinetuneArguments, TrainingArguments]]:
    """One `(FinetuneArguments, TrainingArguments)` per setting: the shared ones with the setting's change, each
    writing under `<output_dir>/<setting>` and named after it in the table."""
    unknown = [s for s in args.settings if s not in SETTINGS]
    if unknown:
        raise AblationError(f"unknown ablation setting(s) {unknown}; choose from {', '.join(SETTINGS)}")
    if not args.settings and not args.transfer_layers:
        raise AblationError("nothing to run: pass --settings and/or --transfer_layers")
    runs = {name: SETTINGS[name] for name in args.settings}
    runs.update({f"transfer_{k}": {"n_transfer_layers": k} for k in args.transfer_layers})
    root = _root(training_args)
    return [
        (
            dataclasses.replace(finetune_args, **changes),
            dataclasses.replace(training_args, output_dir=str(root / name), run_name=name),
        )
        for name, changes in runs.items()
    ]


def check_grid(
    args: AblationArguments, finetune_args: FinetuneArguments, training_args: TrainingArguments
) -> list[tuple[FinetuneArguments, TrainingArguments]]:
    """The runs, once every option, the checkpoint, the task's data and the output folders are known to be usable.

    A grid is hours of fine-tuning: a mistake that only the third run would meet is found before the first starts.
    The checks are `finetune`'s own, applied to every run; the checkpoint and the data are read once.
    """
    if finetune_args.seeds and len(finetune_args.seeds) > 1:
        raise AblationError(
            f"--seeds {' '.join(map(str, finetune_args.seeds))}: the grid runs each setting once (--seed); run "
            "scripts/finetune.py --seeds for one setting's spread over seeds"
        )
    runs = ablation_runs(args, finetune_args, training_args)
    check_output_dir(_root(training_args), overwrite=True)  # named as given, before the per-setting folders under it
    task = resolve_task(finetune_args)
    check_arguments(finetune_args, training_args)
    check_max_length(finetune_args, task)
    config, _ = load_config_and_tokenizer(finetune_args, task)
    wrong = [k for k in args.transfer_layers if not 0 <= k <= config.n_layer]
    if wrong:
        raise AblationError(
            f"--transfer_layers must be block counts from 0 to {config.n_layer} (the model's n_layer), got {wrong[0]}"
        )
    for run, run_training in runs:
        check_arguments(run, run_training)
        check_output_dir(run_training.output_dir, overwrite=True)
    data = load_task_data(task, finetune_args.data_dir)
    if task.train_split not in data:
        raise AblationError(f"task {task.name!r} has no training split here (only {list(data)}): nothing to fine-tune")
    return runs


def run_ablations(
    args: AblationArguments,
    finetune_args: FinetuneArguments,
    training_args: TrainingArguments | None = None,
) -> list[dict[str, Any]]:
    """Fine-tune every setting, then write `<output_dir>/ablations.{json,md}` with Table 5's figures beside ours.

    `training_args` default: `PaperTrainingArguments` with `ABLATION_DEFAULTS`' output folder and strategies.
    """
    if training_args is None:
        defaults = {k: v for k, v in ABLATION_DEFAULTS.items() if k in ("output_dir", "save_strategy", "eval_strategy")}
        training_args = PaperTrainingArguments(**defaults)
    results = []
    for run, run_training in check_grid(args, finetune_args, training_args):
        logger.info("ablation %s", run_training.run_name)
        result = finetune(run, run_training)
        result["paper"] = PAPER_ABLATIONS.get(run_training.run_name, {}).get(result["task"])
        results.append(result)
        # Rewritten after each run, so an interrupted grid still leaves a table of what finished.
        write_results(_root(training_args), results, title=f"Ablations: {result['task']}", name="ablations")
    return results


def main(argv: list[str] | None = None) -> int:
    """`scripts/ablations.py`: run the grid, print the table. Bad input exits 2 with one `error:` line.

    The flags are the grid's (`AblationArguments`), `scripts/finetune.py`'s and every Trainer flag, with
    `ABLATION_DEFAULTS` where they differ.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    parsed = parse_arguments(finetune_parser(AblationArguments, defaults=ABLATION_DEFAULTS), argv)
    if isinstance(parsed, int):
        return parsed
    args, finetune_args, training_args = parsed
    try:
        results = run_ablations(args, finetune_args, training_args)
    except (AblationError, FinetuneError, TaskError, OutputDirError) as e:
        return user_error(e)
    print(markdown_table(results, title=f"Ablations: {finetune_args.task}"))
    return 0


__all__ = [
    "ABLATION_DEFAULTS",
    "SETTINGS",
    "AblationArguments",
    "AblationError",
    "ablation_runs",
    "check_grid",
    "main",
    "run_ablations",
]
