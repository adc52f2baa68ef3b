"""The runs a fine-tuning command makes, each with its folder, all checked before the first one starts.

`plan_runs` is the one place the list is built and the folders are named: one run (`scripts/finetune.py`, in
`--output_dir`, default `outputs/finetune/<task>`), one per seed of `--seeds` (`<output_dir>/seed-<S>`), one per
setting of a grid (`scripts/ablations.py`: `<output_dir>/<setting>`; `scripts/paper_table.py`: `<output_dir>/<task>`,
each again per seed). `check_run` is every check of one run that can fail on the user's input (the task, its
sequence length, the test file, the folder, what to resume); it runs once per run, and a `Run` is what passed it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .finetune_args import FinetuneArguments, FinetuneError, PaperTrainingArguments
from .io import check_output_dir
from .tasks import TaskSpec, custom_task, get_task
from .training import latest_checkpoint


@dataclass(frozen=True)
class Run:
    """One fine-tuning run, checked: its arguments, the Trainer's (`output_dir` is the run's folder) and its task."""

    args: FinetuneArguments
    training_args: PaperTrainingArguments
    task: TaskSpec

    @property
    def output_dir(self) -> Path:
        return Path(self.training_args.output_dir)


@dataclass(frozen=True)
class RunGroup:
    """One setting's runs: one run, or one per seed of `--seeds`, whose summary goes to `output_dir`.

    Attributes:
        name: The setting (an ablation setting, a paper task), the row's name in the results tables; None for the
            one setting of `scripts/finetune.py`.
        output_dir: The setting's folder: the run's own, or the one holding the seeds' `seed-<S>` folders.
        runs: The runs, in the order given.
    """

    name: str | None
    output_dir: Path
    runs: tuple[Run, ...]


@dataclass(frozen=True)
class Plan:
    """What a command will run: its output folder (`root`) and one group of runs per setting."""

    root: Path
    groups: tuple[RunGroup, ...]


def plan_runs(
    args: FinetuneArguments,
    training_args: PaperTrainingArguments,
    variants: Mapping[str, Mapping[str, Any]] | None = None,
    default_dir: str | None = None,
    per_seed: bool = True,
) -> Plan:
    """The runs the arguments describe, every one checked (`check_run`) before any starts.

    Without `variants`, the one setting of the arguments, in `--output_dir` (default `outputs/finetune/<task>`).
    With them (name -> changes to `FinetuneArguments`), one setting each, in `<output_dir>/<name>` (`--output_dir`
    defaulting to `default_dir`), named after it in the results tables. A setting is one run, or with several
    `--seeds` (and `per_seed`) one per seed in `<its folder>/seed-<S>`; one seed is the one run with that `--seed`.
    """
    seeds = args.seeds if per_seed else None
    several = seeds is not None and len(seeds) > 1
    if several and training_args.push_to_hub:
        raise FinetuneError("--push_to_hub takes one run: with several --seeds every run would push to the same repo")
    if several and training_args.resume_from_checkpoint not in (None, "last"):
        raise FinetuneError("--resume_from_checkpoint with several --seeds: pass 'last' (each seed's own folder)")
    if variants is None:
        root = Path(training_args.output_dir or f"outputs/finetune/{resolve_task(args).name}")
        settings: dict[str | None, FinetuneArguments] = {None: args}
    else:
        root = Path(training_args.output_dir or default_dir)
        settings = {name: dataclasses.replace(args, **changes) for name, changes in variants.items()}
    if variants is not None or several:  # named as given, before the folders under it
        check_output_dir(root, overwrite=True)
    groups = []
    for name, setting in settings.items():
        folder = root if name is None else root / name
        named = training_args if name is None else dataclasses.replace(training_args, run_name=name)
        groups.append(RunGroup(name, folder, tuple(_seed_runs(setting, named, folder, seeds))))
    return Plan(root, tuple(groups))


def _seed_runs(
    args: FinetuneArguments, training_args: PaperTrainingArguments, folder: Path, seeds: Sequence[int] | None
) -> list[Run]:
    """One setting's runs, checked: the one run in `folder` (with `--seed` the one seed given, if any), or one per
    seed in `folder/seed-<S>`."""
    if seeds is None or len(seeds) == 1:
        seed = training_args.seed if seeds is None else seeds[0]
        return [check_run(args, dataclasses.replace(training_args, seed=seed, output_dir=str(folder)))]
    one = dataclasses.replace(args, seeds=None)
    return [
        check_run(one, dataclasses.replace(training_args, seed=s, output_dir=str(folder / f"seed-{s}"))) for s in seeds
    ]


def check_run(args: FinetuneArguments, training_args: PaperTrainingArguments) -> Run:
    """Every check of one run that can fail on the user's input, before any long work: the task, its sequence
    length, the test file, the output folder (a non-empty one is fine: resuming reads the Trainer checkpoints there,
    and a new run replaces only its own files) and what `--resume_from_checkpoint last` would resume."""
    task = resolve_task(args)
    check_max_length(args, task)
    if args.test_file is not None and not Path(args.test_file).exists():
        raise FinetuneError(f"--test_file {args.test_file}: no such file or folder")
    output_dir = check_output_dir(training_args.output_dir, overwrite=True)
    last = training_args.resume_from_checkpoint == "last"
    if training_args.do_train and last and latest_checkpoint(output_dir) is None:
        raise FinetuneError(f"--resume_from_checkpoint last: no Trainer checkpoint in {output_dir} to resume from")
    return Run(args, dataclasses.replace(training_args, output_dir=str(output_dir)), task)


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
    return task if args.test_file is None else task.with_test_file(args.test_file)


def check_max_length(args: FinetuneArguments, task: TaskSpec) -> None:
    """A sequence must hold the framing tokens and at least one token of each text (shorter is never truncated)."""
    needed = task.transform.min_length(task.columns)
    if args.max_length is not None and args.max_length < needed:
        raise FinetuneError(
            f"--max_length must be at least {needed} for the {task.transform.name} transform (its framing tokens "
            f"and one token of each text), got {args.max_length}"
        )


__all__ = ["Plan", "Run", "RunGroup", "check_max_length", "check_run", "plan_runs", "resolve_task"]
