"""Fine-tuning the paper's other tasks (MNLI, QQP, SNLI, SciTail, RACE) on samples written in their release formats,
and `--test_file`: test metrics for labelled test sets, predictions and GLUE's submission files for the others."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from pathlib import Path

import pytest

from gpt1.finetune_args import FinetuneArguments, PaperTrainingArguments
from gpt1.finetuning import finetune, main
from gpt1.tasks import TASKS
from tests.conftest import cli_error
from tests.samples import write_mnli, write_qqp, write_race, write_scitail, write_snli, write_story_cloze

QUICK = dict(
    add_special_tokens=True, max_train_samples=8, max_eval_samples=8, per_device_train_batch_size=8,
    per_device_eval_batch_size=8, num_train_epochs=2, learning_rate=3e-2, warmup_steps=0.0, lm_coef=0.0,
    max_length=24, logging_steps=1, save_strategy="no", eval_strategy="no",
)  # fmt: skip
FINETUNE_FIELDS = {f.name for f in dataclasses.fields(FinetuneArguments)}


def quick_args(tiny_lm: Path, out: Path, **overrides) -> tuple[FinetuneArguments, PaperTrainingArguments]:
    """Two steps on eight examples: enough to run every stage of the generic path."""
    settings = {**QUICK, "model_name_or_path": str(tiny_lm), "output_dir": str(out), **overrides}
    ours = {k: v for k, v in settings.items() if k in FINETUNE_FIELDS}
    return FinetuneArguments(**ours), PaperTrainingArguments(**{k: v for k, v in settings.items() if k not in ours})


def as_argv(settings: dict) -> list[str]:
    return [token for key, value in settings.items() for token in (f"--{key}", str(value))]


WRITERS = {
    "mnli_m": lambda root: write_mnli(root / "glue" / "MNLI"),
    "mnli_mm": lambda root: write_mnli(root / "glue" / "MNLI"),
    "qqp": lambda root: write_qqp(root / "glue" / "QQP"),
    "snli": lambda root: write_snli(root / "snli_1.0", n=12, unlabelled=2, fmt="txt"),
    "scitail": lambda root: write_scitail(root / "SciTailV1.1"),
    "race_m": lambda root: write_race(root / "RACE"),
    "race_h": lambda root: write_race(root / "RACE"),
    "race": lambda root: write_race(root / "RACE"),
}


@pytest.mark.parametrize("name", list(WRITERS))
def test_each_new_task_trains_and_evaluates(tiny_lm, tmp_path, name):
    """Through the same `finetune` as the GLUE rows: files in the release format -> head -> results and tables."""
    task = TASKS[name]
    WRITERS[name](tmp_path / "data")
    results = finetune(*quick_args(tiny_lm, tmp_path / "out", task=name, data_dir=str(tmp_path / "data")))
    assert results["global_step"] == 2 and results["transform"] == task.transform.name
    saved = json.loads((tmp_path / "out" / "results.json").read_text())["runs"][0]
    assert set(saved["metrics"]) == set(task.scoring.metrics) and saved["paper"] == task.paper.figure
    assert saved["paper_metric"] == task.paper.metric == task.main_metric
    assert f"| {name} | {name} | {task.main_metric} |" in (tmp_path / "out" / "results.md").read_text()
    predictions = (tmp_path / "out" / f"predictions_{task.source.eval_split}.tsv").read_text().splitlines()
    assert predictions[0] == "index\tprediction\tlabel" and len(predictions) == 1 + results["eval_examples"]
    model = task.transform.model_class.from_pretrained(tmp_path / "out" / "model")
    assert model.config.classify_token_id == 40480


STORY_CLOZE_TEST = "cloze_test_test__spring2016 - cloze_test_ALL_test.csv"


def test_story_cloze_reports_validation_and_test_accuracy(sample_data, tiny_lm, tmp_path, capsys):
    """The 2016 test set (the validation CSV's columns) as `--test_file`: test accuracy beside validation accuracy,
    and the predictions of both splits."""
    write_story_cloze(tmp_path, n=12, name=STORY_CLOZE_TEST)  # 12 stories, written as the test release
    with open(tmp_path / STORY_CLOZE_TEST, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    settings = {**QUICK, "task": "story_cloze", "data_dir": sample_data, "test_file": tmp_path / STORY_CLOZE_TEST,
                "model_name_or_path": tiny_lm, "output_dir": tmp_path / "out"}  # fmt: skip
    settings.pop("add_special_tokens")
    assert main([*as_argv(settings), "--add_special_tokens"]) == 0
    run = json.loads((tmp_path / "out" / "results.json").read_text())["runs"][0]
    assert 0 <= run["metrics"]["accuracy"] <= 1 and 0 <= run["test_metrics"]["accuracy"] <= 1
    assert run["test_examples"] == 12 and "test_loss" in run["test"]
    assert "| ours | test | paper |" in capsys.readouterr().out
    test = (tmp_path / "out" / "predictions_test.tsv").read_text().splitlines()
    assert test[0] == "index\tprediction\tlabel" and len(test) == 13
    assert [line.split("\t")[0] for line in test[1:]] == [row[0] for row in rows[1:]]  # InputStoryid
    assert [line.split("\t")[2] for line in test[1:]] == [str(int(row[-1]) - 1) for row in rows[1:]]
    assert len((tmp_path / "out" / "predictions_validation.tsv").read_text().splitlines()) == 9


GLUE_TESTS = {  # task -> (its test file in the sample, the submission file, the predictions GLUE expects)
    "rte": ("RTE/test.tsv", "RTE", {"entailment", "not_entailment"}),
    "sst2": ("SST-2/test.tsv", "SST-2", {"0", "1"}),
    "cola": ("CoLA/test.tsv", "CoLA", {"0", "1"}),
    "mrpc": ("MRPC/test.tsv", "MRPC", {"0", "1"}),
    "wnli": ("WNLI/test.tsv", "WNLI", {"0", "1"}),
    "mnli_m": ("MNLI/test_matched.tsv", "MNLI-m", {"entailment", "neutral", "contradiction"}),
    "qqp": ("QQP/test.tsv", "QQP", {"0", "1"}),
}


@pytest.mark.parametrize("name", list(GLUE_TESTS))
def test_glue_test_set_gives_the_submission_file(sample_data, tiny_lm, tmp_path, name):
    test_file, submission, labels = GLUE_TESTS[name]
    test_file = sample_data / "glue" / test_file
    results = finetune(*quick_args(tiny_lm, tmp_path / "out", task=name, data_dir=str(sample_data),
                                   test_file=str(test_file)))  # fmt: skip
    assert "test_metrics" not in results and results["test_examples"] == len(test_file.read_text().splitlines()) - 1
    lines = (tmp_path / "out" / f"{submission}.tsv").read_text().splitlines()
    assert lines[0] == "index\tprediction" and len(lines) == 1 + results["test_examples"]
    assert [line.split("\t")[0] for line in lines[1:]] == [str(i) for i in range(len(lines) - 1)]
    assert {line.split("\t")[1] for line in lines[1:]} <= labels
    assert (tmp_path / "out" / "predictions_test.tsv").read_text().splitlines()[0] == "index\tprediction"


def test_stsb_submission_is_a_score(sample_data, tiny_lm, tmp_path):
    """STS-B end to end on its release format: trained as a regression, its test file's rows predicted as scores."""
    test_file = sample_data / "glue" / "STS-B" / "test.tsv"
    finetune(*quick_args(tiny_lm, tmp_path / "out", task="stsb", data_dir=str(sample_data), test_file=str(test_file)))
    lines = (tmp_path / "out" / "STS-B.tsv").read_text().splitlines()
    assert lines[0] == "index\tprediction" and [line.split("\t")[0] for line in lines[1:]] == ["0", "1"]
    assert all(isinstance(float(line.split("\t")[1]), float) for line in lines[1:])


TEST_FILE_MISTAKES = {
    "wrong format": ("sst2", "test.csv", "sentence,label\na film,1\n", r"test\.csv: expected a GLUE TSV file"),
    "another task's columns": ("rte", "test.tsv", "index\tsentence\n0\ta film\n",
                               r"test\.tsv lacks column\(s\) \['sentence1', 'sentence2'\]"),
    "labels outside the set": ("rte", "dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tneutral\n",
                               r"dev\.tsv, example 1: label 'neutral' is outside the task's label set"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(TEST_FILE_MISTAKES))
def test_bad_test_file_is_one_error_line(sample_data, tiny_lm, tmp_path, capsys, case):
    name, filename, text, message = TEST_FILE_MISTAKES[case]
    (tmp_path / filename).write_text(text)
    settings = {"task": name, "data_dir": sample_data, "test_file": tmp_path / filename, "model_name_or_path": tiny_lm,
                "output_dir": tmp_path / "out", "max_length": 24}  # fmt: skip
    error = cli_error(main, [*as_argv(settings), "--add_special_tokens"], capsys)
    assert str(tmp_path / filename) in error and re.search(message, error), error


def test_missing_test_file_is_refused_before_any_work(tiny_lm, tmp_path, capsys):
    argv = ["--task", "sst2", "--test_file", str(tmp_path / "none.tsv"), "--model_name_or_path", str(tiny_lm),
            "--output_dir", str(tmp_path / "out")]  # fmt: skip
    assert re.search(r"--test_file .*none\.tsv: no such file or folder", cli_error(main, argv, capsys))
    assert not (tmp_path / "out").exists()
