"""The paper's ablations at small scale, from one pretrained checkpoint (section 5, Table 5 and Fig. 2 left).

Each setting is one `finetune` run with one thing changed:

- `full`:            pretrained, auxiliary LM loss on (lm_coef 0.5), the paper's method
- `no_aux_lm`:       pretrained, lm_coef 0
- `no_pretraining`:  the same network from a random init (Table 5, "w/o pre-training")
- `transfer_<k>`:    embeddings and the first k blocks pretrained, the rest re-initialised (Fig. 2 left)

    python scripts/ablations.py --model_name_or_path outputs/pretrain/model --task sst2 --data_dir ../shared/data \
        --max_train_samples 4000 --transfer_layers 0 2 4

Every `scripts/finetune.py` flag (task, data, and every `TrainingArguments` one) applies to all the runs; each run
is the parsed arguments with its setting's change (`AblationArguments.variants`, planned by `finetune_runs.plan_runs`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from .cli import user_error
from .finetune_args import FinetuneArguments, FinetuneError, PaperTrainingArguments, finetune_parser, parse_arguments
from .finetune_runs import Plan, plan_runs, resolve_task
from .finetuning import finetune_run
from .io import OutputDirError
from .results import markdown_table, write_results
from .task_data import load_task_data
from .task_errors import TaskError
from .task_model import load_config_and_tokenizer

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

    def __post_init__(self) -> None:
        unknown = [s for s in self.settings if s not in SETTINGS]
        if unknown:
            raise AblationError(f"unknown ablation setting(s) {unknown}; choose from {', '.join(SETTINGS)}")
        if not self.settings and not self.transfer_layers:
            raise AblationError("nothing to run: pass --settings and/or --transfer_layers")

    def variants(self) -> dict[str, dict[str, Any]]:
        """The grid's runs: each setting's name and its change to the shared `FinetuneArguments`."""
        runs = {name: SETTINGS[name] for name in self.settings}
        runs.update({f"transfer_{k}": {"n_transfer_layers": k} for k in self.transfer_layers})
        return runs


# The command line's defaults where they differ from `scripts/finetune.py`'s: SST-2, the fine-tuning tokens added
# to a pretraining checkpoint, no checkpoints or evaluation during training (comparisons only: models not kept).
ABLATION_DEFAULTS: dict[str, Any] = {
    "task": "sst2",
    "output_dir": "outputs/ablations",
    "add_special_tokens": True,
    "save_strategy": "no",
    "eval_strategy": "no",
}


def check_grid(
    args: AblationArguments, finetune_args: FinetuneArguments, training_args: PaperTrainingArguments
) -> Plan:
    """The grid's runs (`finetune_runs.plan_runs`: the shared arguments with each setting's change, in
    `<output_dir>/<setting>`, named after it), once every option, the checkpoint, the task's data and the output
    folders are known to be usable.

    A grid is hours of fine-tuning: a mistake that only the third run would meet is found before the first starts.
    The checkpoint and the data are read once.
    """
    if finetune_args.seeds and len(finetune_args.seeds) > 1:
        raise AblationError(
            f"--seeds {' '.join(map(str, finetune_args.seeds))}: the grid runs each setting once (--seed); run "
            "scripts/finetune.py --seeds for one setting's spread over seeds"
        )
    task = resolve_task(finetune_args)
    config, _ = load_config_and_tokenizer(finetune_args, task)
    wrong = [k for k in args.transfer_layers if not 0 <= k <= config.n_layer]
    if wrong:
        raise AblationError(
            f"--transfer_layers must be block counts from 0 to {config.n_layer} (the model's n_layer), got {wrong[0]}"
        )
    plan = plan_runs(finetune_args, training_args, args.variants(), ABLATION_DEFAULTS["output_dir"])
    data = load_task_data(task, finetune_args.data_dir)
    if task.source.train_split not in data:
        raise AblationError(f"task {task.name!r} has no training split here (only {list(data)}): nothing to fine-tune")
    return plan


def run_ablations(
    args: AblationArguments,
    finetune_args: FinetuneArguments,
    training_args: PaperTrainingArguments | None = None,
) -> list[dict[str, Any]]:
    """Fine-tune every setting, then write `<output_dir>/ablations.{json,md}` with Table 5's figures beside ours.

    `training_args` default: `PaperTrainingArguments` with `ABLATION_DEFAULTS`' output folder and strategies.
    """
    if training_args is None:
        defaults = {k: v for k, v in ABLATION_DEFAULTS.items() if k in ("output_dir", "save_strategy", "eval_strategy")}
        training_args = PaperTrainingArguments(**defaults)
    plan = check_grid(args, finetune_args, training_args)
    results = []
    for group in plan.groups:
        logger.info("ablation %s", group.name)
        run = group.runs[0]  # one seed: the grid refuses several
        result = finetune_run(run)
        result["paper"] = run.task.paper.ablation(group.name) if run.task.paper is not None else None
        results.append(result)
        # Rewritten after each run, so an interrupted grid still leaves a table of what finished.
        write_results(plan.root, results, title=f"Ablations: {result['task']}", name="ablations")
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
    "check_grid",
    "main",
    "run_ablations",
]
