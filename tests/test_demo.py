"""`scripts/demo.py`, which the README's first command (`make demo`) runs: its default runs are the `demo` recipe
(unchanged by the test knob), and `--smoke_test` goes through the three stages in seconds, writing and printing what
the demo does: the pretrained model, both fine-tuned arms, and a results table whose figures are the predictions'."""

from __future__ import annotations

import csv
import json
import re
import runpy
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

from gpt1.data import CorpusArguments
from gpt1.finetune_args import FinetuneArguments
from gpt1.logging_utils import read_jsonl
from gpt1.pretraining_args import DEMO_CORPUS, PretrainArguments, resolve_arguments
from gpt1.results import percent

DEMO = runpy.run_path(str(Path(__file__).resolve().parents[1] / "scripts" / "demo.py"))  # its functions, not run


def test_the_default_runs_are_the_demo_recipe(tmp_path: Path) -> None:
    """Without `--smoke_test`: the bundled recipe (mini model, 4,096-token vocabulary learnt on the four bundled
    books, 600 updates within 4 minutes), then the whole sentiment sample at lr 5e-4 for the paper's 3 epochs,
    from the pretrained model and from random init."""
    pretraining, corpus = DEMO["pretrain_arguments"](tmp_path)
    assert pretraining == PretrainArguments(output_dir=str(tmp_path / "pretrain"), overwrite_output_dir=True)
    assert corpus == CorpusArguments()
    recipe, corpus = resolve_arguments(pretraining, corpus)
    assert (recipe.recipe, corpus.dataset, recipe.model_preset, recipe.vocab_size) == ("demo", str(DEMO_CORPUS),
                                                                                       "mini", 4096)  # fmt: skip
    assert (recipe.max_steps, recipe.block_size, recipe.time_budget_minutes) == (600, 128, 4.0)
    model_dir = tmp_path / "pretrain" / "model"
    runs = DEMO["finetune_arguments"](tmp_path, model_dir)
    expected = FinetuneArguments(task="demo", model_name_or_path=str(model_dir), add_special_tokens=True)
    assert [args for args, _ in runs] == [expected, FinetuneArguments(**{**vars(expected), "from_scratch": True})]
    for (_, training), name in zip(runs, ("finetune-pretrained", "finetune-scratch")):
        assert training.output_dir == str(tmp_path / name)
        assert (training.learning_rate, training.num_train_epochs) == (5e-4, 3)
        assert (training.per_device_train_batch_size, training.max_steps) == (32, -1)
        assert (training.eval_strategy, training.save_strategy) == ("no", "no")
    assert [training.run_name for _, training in runs] == ["GPT-1 demo (pretrained)", "same model, no pretraining"]
    assert len(DEMO["finetune_arguments"](tmp_path, model_dir, skip_baseline=True)) == 1


def test_smoke_test_runs_the_three_stages_and_reports_them(tmp_path: Path, capsys) -> None:
    """`scripts/demo.py --smoke_test`: a tiny pretraining (4 updates, a 300-token vocabulary), both fine-tuning arms
    on 32 sentences (4 updates each), and the table it prints is `results.md`, each accuracy that of the arm's
    saved predictions."""
    assert DEMO["main"](["--smoke_test", "--output_dir", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    stages = ["== 1/3 generative pretraining", "== 2/3 fine-tuning", "== 3/3 results =="]
    assert [printed.index(stage) for stage in stages] == sorted(printed.index(stage) for stage in stages)

    pretrained = tmp_path / "pretrain" / "model"
    log = read_jsonl(tmp_path / "pretrain" / "log.jsonl")
    assert [r["step"] for r in log if "val_loss" in r] == [0, 4] and [r["step"] for r in log if "loss" in r] == [4]
    assert AutoModelForCausalLM.from_pretrained(pretrained).config.vocab_size == 300
    # The sample's words vary between processes: `tokenizers` numbers a learnt vocabulary in hash-map order.
    assert re.search(r"^sample: the garden \S+ \S", printed, re.MULTILINE)

    table = (tmp_path / "results.md").read_text()
    assert table in printed and printed.rstrip().endswith(
        f"models: {pretrained} and {tmp_path}/finetune-*/model; results: {tmp_path / 'results.md'} (+ .json)"
    )
    runs = json.loads((tmp_path / "results.json").read_text())["runs"]
    arms = [("finetune-pretrained", "GPT-1 demo (pretrained)", False), ("finetune-scratch", "same model, no "
            "pretraining", True)]  # fmt: skip
    assert [(r["run"], r["settings"]["from_scratch"]) for r in runs] == [(name, scratch) for _, name, scratch in arms]
    for run, (folder, name, _) in zip(runs, arms):
        assert run["settings"]["model_name_or_path"] == str(pretrained)
        assert (run["global_step"], run["train_examples"], run["eval_examples"]) == (4, 32, 32)
        with open(tmp_path / folder / "predictions_validation.tsv", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        accuracy = sum(row["prediction"] == row["label"] for row in rows) / len(rows)
        assert len(rows) == 32 and run["metrics"] == {"accuracy": accuracy}
        assert f"| {name} | demo | accuracy | {percent(accuracy)} | - | - |" in table
        model = AutoModelForSequenceClassification.from_pretrained(tmp_path / folder / "model")
        assert model.config.vocab_size == 303  # the pretrained vocabulary and _start_, _delimiter_, _classify_
