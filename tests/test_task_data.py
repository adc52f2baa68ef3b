"""`gpt1.task_data`: a task's data loaded and checked: texts as strings, labels as class ids inside the task's label
set, and one clear error naming the file, row and value for bad input."""

from __future__ import annotations

import json

import pytest

from gpt1.task_data import load_task_data, normalize_labels
from gpt1.task_errors import TaskError
from gpt1.tasks import TASKS, TaskSpec, custom_task, get_task
from gpt1.transforms import encode_batch
from tests.samples import write_scitail, write_tsv
from tokenization import GPT1Tokenizer


def test_custom_csv_and_json_tasks(tmp_path):
    (tmp_path / "train.csv").write_text("text,label\ngood film,pos\nbad film,neg\n")
    (tmp_path / "dev.jsonl").write_text(json.dumps({"text": "fine", "label": 1}) + "\n")
    task = custom_task("classification", ["text"], label_names=["neg", "pos"], data_files={
        "train": str(tmp_path / "train.csv")})  # fmt: skip
    assert load_task_data(task)["train"]["label"] == [1, 0]
    task = custom_task("classification", ["text"], label_names=["neg", "pos"], data_files={
        "validation": str(tmp_path / "dev.jsonl")})  # fmt: skip
    assert load_task_data(task)["validation"]["label"] == [1]


def test_bad_input_gets_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown task 'mnli'"):
        get_task("mnli")
    (tmp_path / "train.csv").write_text("sentence,label\ngood,maybe\n")
    task = custom_task("classification", ["sentence"], label_names=["neg", "pos"], data_files={
        "train": str(tmp_path / "train.csv")})  # fmt: skip
    with pytest.raises(ValueError, match=r"label .maybe. is outside the task.s label set"):
        load_task_data(task)
    wrong = custom_task("classification", ["text"], label_names=["neg", "pos"], data_files=task.source.data_files)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['text'\]"):
        load_task_data(wrong)
    with pytest.raises(FileNotFoundError, match="missing train file"):
        load_task_data(custom_task("classification", ["a"], data_files={"train": str(tmp_path / "none.csv")}))
    from datasets import Dataset

    stsb = Dataset.from_dict({"sentence1": ["a"], "sentence2": ["b"], "label": [7.0]})
    with pytest.raises(ValueError, match=r"outside the range \[0.0, 5.0\]"):
        normalize_labels(TASKS["stsb"], stsb)
    with pytest.raises(ValueError, match="takes 2 text column"):
        custom_task("entailment", ["a"])


def test_missing_text_cells_are_empty_text_with_a_warning(tmp_path, caplog):
    """An empty CSV cell or a JSON null is empty text, never the word "none"; a cell that says NA or None is text."""
    (tmp_path / "train.csv").write_text("text,label\ngood film,1\n,0\nNA,1\nNone,0\n")
    lines = [{"text": None, "label": 0}, {"text": "fine", "label": 1}, {"label": 1}]
    (tmp_path / "dev.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    task = custom_task("classification", ["text"], label_names=["neg", "pos"], data_files={
        "train": str(tmp_path / "train.csv")})  # fmt: skip
    with caplog.at_level("WARNING", logger="gpt1.task_data"):
        data = load_task_data(task)
    assert data["train"]["text"] == ["good film", "", "NA", "None"]
    assert "'text'" in caplog.text and "1 row" in caplog.text and "train.csv" in caplog.text
    tokenizer = GPT1Tokenizer(add_fine_tuning_framing=True)
    out = encode_batch(task, tokenizer, data["train"][:], 16)
    assert tokenizer.convert_ids_to_tokens(out["input_ids"][1]) == ["_start_", "_classify_"]
    assert tokenizer.convert_ids_to_tokens(out["input_ids"][3])[1] == "none</w>"  # the file says None
    task = custom_task("classification", ["text"], label_names=["neg", "pos"], data_files={
        "validation": str(tmp_path / "dev.jsonl")})  # fmt: skip
    caplog.clear()
    with caplog.at_level("WARNING", logger="gpt1.task_data"):
        assert load_task_data(task)["validation"]["text"] == ["", "fine", ""]
    assert "'text'" in caplog.text and "2 rows" in caplog.text


def test_task_errors_are_value_errors_with_one_line(tmp_path):
    """Every user mistake the task layer finds is a `TaskError` (a ValueError) that `main` turns into `error:`."""
    with pytest.raises(TaskError, match="unknown task 'mnli'"):
        get_task("mnli")
    with pytest.raises(TaskError, match="unknown transform"):
        custom_task("regression", ["a"])
    (tmp_path / "train.csv").write_text("sentence,label\ngood,pos\nfine,pos\nbad,maybe\n")
    task = custom_task("classification", ["sentence"], label_names=["neg", "pos"], data_files={
        "train": str(tmp_path / "train.csv")})  # fmt: skip
    with pytest.raises(TaskError, match=r"train\.csv.*row 3.*'maybe'"):
        load_task_data(task)
    with pytest.raises(TaskError, match=r"train\.csv lacks column\(s\) \['text'\]"):
        load_task_data(
            custom_task("classification", ["text"], label_names=["n", "p"], data_files=task.source.data_files)
        )
    (tmp_path / "scores.csv").write_text("a,b,label\nx,y,1.5\nx,y,high\n")
    task = custom_task("similarity", ["a", "b"], data_files={"train": str(tmp_path / "scores.csv")})
    with pytest.raises(TaskError, match=r"scores\.csv.*row 2.*'high'"):
        load_task_data(task)
    with pytest.raises(TaskError, match="missing train file"):
        load_task_data(custom_task("classification", ["a"], data_files={"train": str(tmp_path / "none.csv")}))


def bad_test_file(tmp_path, task_name: str, case: str) -> TaskSpec:
    """`task_name` with a `--test_file` that is wrong in one way: its format, another task's columns, a label."""
    path = {
        "format": tmp_path / "test.jsonl",
        "columns": tmp_path / "test.tsv",
        "labels": tmp_path / "scitail_1.0_test.tsv",
    }[case]
    if case == "format":
        path.write_text(json.dumps({"sentence": "a film", "label": 1}) + "\n")
    elif case == "columns":
        write_tsv(path, ["index", "sentence"], [["0", "a fine film"]])  # SST-2's test set
    else:
        write_tsv(path, None, [["A man sleeps .", "A man rests .", "entails"], ["A cat .", "A dog .", "contradiction"]])
    return TASKS[task_name].with_test_file(str(path))


@pytest.mark.parametrize(
    ("task_name", "case", "message"),
    [
        ("sst2", "format", r"test\.jsonl: expected a GLUE TSV file \(\.tsv\), got a \.jsonl file"),
        ("rte", "columns", r"test\.tsv lacks column\(s\) \['sentence1', 'sentence2'\]"),
        ("scitail", "columns", r"test\.tsv has 2 tab-separated fields per row; SciTail's tsv_format"),
        ("scitail", "labels", r"scitail_1\.0_test\.tsv, example 2: label 'contradiction' is outside"),
    ],
)
def test_bad_test_files_get_one_clear_error(tmp_path, task_name, case, message):
    (tmp_path / "glue" / "SST-2").mkdir(parents=True)
    write_tsv(tmp_path / "glue" / "SST-2" / "dev.tsv", ["sentence", "label"], [["good", "1"]])
    write_tsv(tmp_path / "glue" / "RTE" / "dev.tsv", ["index", "sentence1", "sentence2", "label"],
              [["0", "a", "b", "entailment"]])  # fmt: skip
    write_scitail(tmp_path / "SciTailV1.1", n=2)
    with pytest.raises(TaskError, match=message) as info:
        load_task_data(bad_test_file(tmp_path, task_name, case), tmp_path)
    assert "\n" not in str(info.value)
