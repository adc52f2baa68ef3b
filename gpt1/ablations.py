"""The paper's ablations at small scale, from one pretrained checkpoint (section 5, Table 5 and Fig. 2 left).

Each setting is one `finetune` run with one thing changed:

- `full`:            pretrained, auxiliary LM loss on (lm_coef 0.5), the paper's method
- `no_aux_lm`:       pretrained, lm_coef 0
- `no_pretraining`:  the same network from a random init (Table 5, "w/o pre-training")
- `transfer_<k>`:    embeddings and the first k blocks pretrained, the rest re-initialised (Fig. 2 left)

    python scripts/ablations.py --model_name_or_path outputs/pretrain/model --task sst2 --data_dir ../shared/data \
        --max_train_samples 4000 --transfer_layers 0 2 4
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import HfArgumentParser

from .cli import user_error
from .finetuning import (
    FinetuneArguments,
    FinetuneError,
    check_arguments,
    check_max_length,
    finetune,
    load_config_and_tokenizer,
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
    """The ablation grid; every fine-tuning flag not listed here keeps `FinetuneArguments`' default."""

    model_name_or_path: str = field(metadata={"help": "The pretrained GPT-1 checkpoint every setting starts from."})
    task: str = "sst2"
    data_dir: str | None = None
    output_dir: str = "outputs/ablations"
    settings: list[str] = field(
        default_factory=lambda: list(SETTINGS), metadata={"help": f"Any of {', '.join(SETTINGS)}."}
    )
    transfer_layers: list[int] = field(
        default_factory=list, metadata={"help": "Fig. 2 left: a run per number of transferred blocks."}
    )
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    num_train_epochs: float = 3.0
    max_length: int | None = None
    per_device_train_batch_size: int = 32
    learning_rate: float = 6.25e-5
    seed: int = 42


def _base_run(args: AblationArguments) -> FinetuneArguments:
    """The fine-tuning options every setting shares."""
    return FinetuneArguments(
        task=args.task,
        model_name_or_path=args.model_name_or_path,
        data_dir=args.data_dir,
        max_train_samples=args.max_train_samples,
        max_eval_samples=args.max_eval_samples,
        num_train_epochs=args.num_train_epochs,
        max_length=args.max_length,
        per_device_train_batch_size=args.per_device_train_batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
        add_special_tokens=True,
        save_strategy="no",  # comparisons only: the models are not kept
        eval_strategy="no",
    )


def ablation_runs(args: AblationArguments) -> list[FinetuneArguments]:
    """One `FinetuneArguments` per setting, each writing under `<output_dir>/<setting>`."""
    unknown = [s for s in args.settings if s not in SETTINGS]
    if unknown:
        raise AblationError(f"unknown ablation setting(s) {unknown}; choose from {', '.join(SETTINGS)}")
    if not args.settings and not args.transfer_layers:
        raise AblationError("nothing to run: pass --settings and/or --transfer_layers")
    base = _base_run(args)
    runs = {name: SETTINGS[name] for name in args.settings}
    runs.update({f"transfer_{k}": {"n_transfer_layers": k} for k in args.transfer_layers})
    return [
        dataclasses.replace(base, output_dir=str(Path(args.output_dir) / name), run_name=name, **changes)
        for name, changes in runs.items()
    ]


def check_grid(args: AblationArguments) -> list[FinetuneArguments]:
    """The runs, once every option, the checkpoint, the task's data and the output folders are known to be usable.

    A grid is hours of fine-tuning: a mistake that only the third run would meet is found before the first starts.
    The checks are `finetune`'s own, applied to every run; the checkpoint and the data are read once.
    """
    runs = ablation_runs(args)
    check_output_dir(args.output_dir, overwrite=True)  # named as given, before the per-setting folders under it
    base = _base_run(args)
    task = resolve_task(base)
    check_arguments(base)
    check_max_length(base, task)
    config, _ = load_config_and_tokenizer(base, task)
    wrong = [k for k in args.transfer_layers if not 0 <= k <= config.n_layer]
    if wrong:
        raise AblationError(
            f"--transfer_layers must be block counts from 0 to {config.n_layer} (the model's n_layer), got {wrong[0]}"
        )
    for run in runs:
        check_arguments(run)
        check_output_dir(run.output_dir, overwrite=True)
    data = load_task_data(task, args.data_dir)
    if task.train_split not in data:
        raise AblationError(f"task {task.name!r} has no training split here (only {list(data)}): nothing to fine-tune")
    return runs


def run_ablations(args: AblationArguments) -> list[dict[str, Any]]:
    """Fine-tune every setting, then write `<output_dir>/ablations.{json,md}` with Table 5's figures beside ours."""
    results = []
    for run in check_grid(args):
        logger.info("ablation %s", run.run_name)
        result = finetune(run)
        result["paper"] = PAPER_ABLATIONS.get(run.run_name, {}).get(result["task"])
        results.append(result)
        # Rewritten after each run, so an interrupted grid still leaves a table of what finished.
        write_results(args.output_dir, results, title=f"Ablations: {args.task}", name="ablations")
    return results


def main(argv: list[str] | None = None) -> int:
    """`scripts/ablations.py`: run the grid, print the table. Bad input exits 2 with one `error:` line."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    (args,) = HfArgumentParser(AblationArguments).parse_args_into_dataclasses(args=argv)
    try:
        results = run_ablations(args)
    except (AblationError, FinetuneError, TaskError, OutputDirError) as e:
        return user_error(e)
    print(markdown_table(results, title=f"Ablations: {args.task}"))
    return 0


__all__ = ["SETTINGS", "AblationArguments", "AblationError", "ablation_runs", "check_grid", "main", "run_ablations"]
