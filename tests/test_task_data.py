"""`gpt1.task_data`: a task's data loaded and checked: texts as strings, labels as class ids inside the task's label
set, and one clear error naming the file, row and value for bad input."""

from __future__ import annotations

import json

import pytest

from gpt1.task_data import drop_unlabelled, has_labels, load_task_data, normalize_labels, subsample, with_index
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
    assert "'text'" in caplog.text and "1 row with no text" in caplog.text and "train.csv" in caplog.text
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


def _two_class_csv(tmp_path, name: str, text: str) -> TaskSpec:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return custom_task(
        "classification", ["text"], label_names=["neg", "pos"], data_files={"train": str(tmp_path / name)}
    )


def test_a_training_file_without_labels_is_refused_a_test_file_is_not(tmp_path):
    """Only a test split may lack the label column (GLUE's hidden test sets); the custom-task error says which
    options name the columns."""
    task = _two_class_csv(tmp_path, "train.csv", "text\ngood film\n")
    with pytest.raises(TaskError, match=r"train.csv lacks column\(s\) \['label'\]; .* \(set --text_columns"):
        load_task_data(task)
    test = custom_task("classification", ["text"], label_names=["neg", "pos"], data_files={
        "test": str(tmp_path / "train.csv")})  # fmt: skip
    assert load_task_data(test)["test"].column_names == ["text"]


def test_built_in_tasks_come_from_the_hub_without_a_data_dir(monkeypatch):
    """No `--data_dir`: the task's Hub copy (GLUE's test split, labelled -1, stays unlabelled; SNLI's pairs labelled -1
    are dropped); RACE's is reshaped."""
    from datasets import Dataset, DatasetDict

    calls = []

    def fake_load_dataset(*args):
        calls.append(args)
        if args[0] == "ehovy/race":
            row = {"example_id": ["m1"], "article": ["A."], "question": ["Q?"], "options": [["a", "b", "c", "d"]],
                   "answer": ["C"]}  # fmt: skip
            return DatasetDict(validation=Dataset.from_dict(row))
        if args[0] == "stanfordnlp/snli":  # -1: no gold label (the Hub's spelling of the release's "-")
            snli = {"premise": ["a", "b", "c"], "hypothesis": ["d", "e", "f"], "label": [0, -1, 2]}
            return DatasetDict(validation=Dataset.from_dict(snli))
        pair = {"sentence1": ["a", "b"], "sentence2": ["c", "d"], "idx": [0, 1]}
        return DatasetDict(
            train=Dataset.from_dict({**pair, "label": [1, 0]}), test=Dataset.from_dict({**pair, "label": [-1, -1]})
        )

    monkeypatch.setattr("gpt1.task_data.load_dataset", fake_load_dataset)
    data = load_task_data(TASKS["rte"])
    assert calls == [("nyu-mll/glue", "rte")]
    assert data["train"]["label"] == [1, 0] and data["test"]["label"] == [-1, -1]
    race = load_task_data(TASKS["race_m"])["validation"]
    assert calls[-1] == ("ehovy/race", "middle")
    assert (race["option3"], race["label"], race["index"]) == (["c"], [2], ["m1"])
    snli = load_task_data(TASKS["snli"])["validation"]
    assert calls[-1] == ("stanfordnlp/snli", None)
    assert (snli["premise"], snli["label"]) == (["a", "c"], [0, 2])


@pytest.mark.parametrize(
    ("labels", "expected"), [([-1, -1], False), ([None, None], False), ([], True), ([0, 0], True), ([1, -1], True)]
)
def test_has_labels(labels, expected):
    """A label column with no label but -1 or None (GLUE's Hub test sets) is no labels; class 0 or 1 is a label."""
    from datasets import Dataset

    assert has_labels(TASKS["rte"], Dataset.from_dict({"label": labels})) is expected


@pytest.mark.parametrize(("name", "where"), [("bad.csv", "row 2 after the header"), ("bad.jsonl", "row 2:")])
def test_bad_label_names_its_row_its_value_and_the_label_set(tmp_path, name, where):
    labels = ["pos", "7", "1.5", "x", "2", "-1", "1"]  # 2: one past the last id; -1: not an id in a labelled split
    text = "text,label\n" + "".join(f"t,{v}\n" for v in labels)
    if name.endswith(".jsonl"):
        text = "".join(json.dumps({"text": "t", "label": v}) + "\n" for v in labels)
    with pytest.raises(TaskError) as info:
        load_task_data(_two_class_csv(tmp_path, name, text))
    message = str(info.value)
    assert f"{name}, {where}" in message and "label '7' is outside" in message
    assert "(ids 0..1 or these names) (5 rows in all; values ['-1', '1.5', '2', '7', 'x'])" in message


def test_many_bad_labels_show_five_values_and_one_shows_no_count(tmp_path):
    rows = "".join(f"t,{v}\n" for v in ["2", "3", "4", "5", "6", "7", "8"])
    with pytest.raises(TaskError, match=r"\(7 rows in all; values \['2', '3', '4', '5', '6'\]\)$"):
        load_task_data(_two_class_csv(tmp_path, "many.csv", "text,label\n" + rows))
    with pytest.raises(TaskError) as info:
        load_task_data(_two_class_csv(tmp_path, "one.csv", "text,label\nt,pos\nt,9\n"))
    assert str(info.value).endswith("(ids 0..1 or these names)")


def test_with_index_keeps_the_files_ids_else_numbers_rows():
    from datasets import Dataset

    assert with_index(Dataset.from_dict({"index": ["q7"], "idx": [3]}))["index"] == ["q7"]
    assert with_index(Dataset.from_dict({"idx": [3, 4]}))["index"] == [3, 4]
    assert with_index(Dataset.from_dict({"text": ["a", "b"]}))["index"] == ["0", "1"]


def test_subsample_draws_n_with_the_seed_else_keeps_all():
    from datasets import Dataset

    data = Dataset.from_dict({"i": list(range(10))})
    assert subsample(data, None)["i"] == subsample(data, 10)["i"] == subsample(data, 12)["i"] == list(range(10))
    drawn = subsample(data, 4, seed=3)["i"]
    assert drawn == data.shuffle(seed=3)["i"][:4] and drawn != data.shuffle(seed=4)["i"][:4]
    assert subsample(data, 4)["i"] == data.shuffle(seed=0)["i"][:4] != data.shuffle(seed=1)["i"][:4]


def test_drop_unlabelled_leaves_a_split_without_labels_alone():
    from datasets import Dataset

    test = Dataset.from_dict({"premise": ["a"], "hypothesis": ["b"]})  # SNLI's drop labels, no label column
    assert drop_unlabelled(TASKS["snli"], test, "test") is test
