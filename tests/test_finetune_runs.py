"""`gpt1.finetune_runs`: the run list of every fine-tuning command, each run with its folder, checked once."""

from __future__ import annotations

from pathlib import Path

import pytest

import gpt1.finetune_runs as finetune_runs
from gpt1.finetune_args import FinetuneArguments, FinetuneError, PaperTrainingArguments
from gpt1.finetune_runs import plan_runs
from gpt1.finetuning import finetune_seeds


def test_one_run_is_in_the_output_folder_named_after_the_task_by_default(tmp_path, monkeypatch):
    """Without `--output_dir` the run writes to `outputs/finetune/<task>`; `--seeds 7` is the one run with seed 7
    (in the folder itself); the arguments reach the run as given."""
    monkeypatch.chdir(tmp_path)
    args = FinetuneArguments(task="rte", max_length=32)
    [group] = plan_runs(args, PaperTrainingArguments()).groups
    [run] = group.runs
    assert run.output_dir == tmp_path / "outputs" / "finetune" / "rte" == group.output_dir.resolve()
    assert run.task.name == "rte" and run.args == args and run.training_args.seed == 42
    assert group.name is None and run.training_args.run_name is None
    [group] = plan_runs(FinetuneArguments(seeds=[7]), PaperTrainingArguments(output_dir=str(tmp_path / "one"))).groups
    assert [(r.training_args.seed, r.output_dir, r.args.seeds) for r in group.runs] == [(7, tmp_path / "one", [7])]


def test_grid_settings_and_seeds_each_get_their_folder(tmp_path):
    """A grid's settings in `<output_dir>/<setting>`, named after it; with several seeds one run per seed in
    `<setting>/seed-<S>`, each with its seed and without the others; `per_seed=False` is the arguments' one run."""
    args = FinetuneArguments(task="sst2", seeds=[3, 1])
    variants = {"full": {}, "no_aux_lm": {"lm_coef": 0.0}}
    plan = plan_runs(args, PaperTrainingArguments(output_dir=str(tmp_path)), variants, "unused")
    assert plan.root == tmp_path and [g.name for g in plan.groups] == ["full", "no_aux_lm"]
    for group in plan.groups:
        assert group.output_dir == tmp_path / group.name
        assert [(r.output_dir, r.training_args.seed) for r in group.runs] == [
            (tmp_path / group.name / "seed-3", 3), (tmp_path / group.name / "seed-1", 1),
        ]  # fmt: skip
        assert all(r.training_args.run_name == group.name and r.args.seeds is None for r in group.runs)
        assert {r.args.lm_coef for r in group.runs} == ({0.0} if group.name == "no_aux_lm" else {0.5})
    [group] = plan_runs(args, PaperTrainingArguments(output_dir=str(tmp_path)), per_seed=False).groups
    assert [(r.output_dir, r.training_args.seed, r.args.seeds) for r in group.runs] == [(tmp_path, 42, [3, 1])]


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"push_to_hub": True, "hub_model_id": "a/b"}, "--push_to_hub takes one run"),
        ({"resume_from_checkpoint": "."}, "--resume_from_checkpoint with several --seeds: pass 'last'"),
    ],
)
def test_several_seeds_refuse_what_only_one_run_can_do(tmp_path, changes, message):
    with pytest.raises(FinetuneError, match=message):
        plan_runs(FinetuneArguments(seeds=[1, 2]), PaperTrainingArguments(output_dir=str(tmp_path), **changes))


def test_each_run_is_checked_once(tiny_lm, tmp_path, monkeypatch):
    """`--seeds 1 2`: the output folder and each seed's folder are checked once each, before the first run; running
    a planned run checks nothing again (it used to: every seed's folder twice, and the root as a run)."""
    checked: list[Path] = []
    check_output_dir = finetune_runs.check_output_dir

    def counting(path, overwrite):
        checked.append(Path(path))
        return check_output_dir(path, overwrite)

    monkeypatch.setattr(finetune_runs, "check_output_dir", counting)
    args = FinetuneArguments(
        task="demo", model_name_or_path=str(tiny_lm), add_special_tokens=True, max_eval_samples=4, max_length=16,
        seeds=[1, 2],
    )  # fmt: skip
    training_args = PaperTrainingArguments(output_dir=str(tmp_path), do_train=False, report_to="none")
    summary = finetune_seeds(args, training_args)
    assert summary["seeds"] == [1, 2]
    assert checked == [tmp_path, tmp_path / "seed-1", tmp_path / "seed-2"]
