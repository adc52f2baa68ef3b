"""The task table: loaders on the real GLUE / Story Cloze files, the four input transformations, and bad input."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from gpt1.tasks import (
    DEMO_DATA,
    STORY_CLOZE_SEED,
    TASKS,
    TRANSFORMS,
    TaskError,
    custom_task,
    encode_batch,
    get_task,
    load_task_data,
    normalize_labels,
    pad_collate,
    read_tsv,
)
from tokenization import GPT1Tokenizer


@pytest.fixture(scope="module")
def tokenizer() -> GPT1Tokenizer:
    return GPT1Tokenizer(add_fine_tuning_framing=True)


# GLUE's official sizes (MRPC train = 3,668 once rebuilt) and the authors' Story Cloze split.
SIZES = {
    "sst2": (67349, 872),
    "cola": (8551, 1043),
    "mrpc": (3668, 408),
    "stsb": (5749, 1500),
    "rte": (2490, 277),
    "wnli": (635, 71),
    "qnli": (None, 5463),
    "story_cloze": (1497, 374),
}


def test_table_covers_the_papers_transforms():
    assert {t.transform for t in TASKS.values()} == set(TRANSFORMS)
    assert get_task("SST-2") is TASKS["sst2"] and get_task("story-cloze") is TASKS["story_cloze"]
    assert TASKS["stsb"].is_regression and TASKS["stsb"].num_labels == 1
    assert TASKS["story_cloze"].num_labels == 2 and not TASKS["story_cloze"].is_regression


@pytest.mark.parametrize("name", list(SIZES))
def test_local_files_load_with_official_sizes(shared_data, name):
    task = TASKS[name]
    data = load_task_data(task, shared_data)
    n_train, n_dev = SIZES[name]
    assert len(data["validation"]) == n_dev
    assert ("train" in data) == (n_train is not None)
    if n_train is not None:
        assert len(data["train"]) == n_train
    for split in data.values():
        assert set(task.columns) <= set(split.column_names)
        labels = split[task.label_column]
        if task.is_regression:
            assert 0.0 <= min(labels) and max(labels) <= 5.0
        else:
            assert set(labels) == set(range(task.num_labels))


def test_cola_has_no_header_row(shared_data):
    data = load_task_data(TASKS["cola"], shared_data)
    assert data["train"][0]["sentence"] == read_tsv(shared_data / "glue/CoLA/train.tsv", header=False).iloc[0, 3]


def test_mrpc_train_is_rebuilt_from_the_msr_files(shared_data):
    data = load_task_data(TASKS["mrpc"], shared_data)
    glue_train = read_tsv(shared_data / "glue/MRPC/train.tsv")
    dev = set(zip(data["validation"]["sentence1"], data["validation"]["sentence2"]))
    train = set(zip(data["train"]["sentence1"], data["train"]["sentence2"]))
    assert not train & dev
    assert set(zip(glue_train["#1 String"], glue_train["#2 String"])) < train  # the GLUE script's file lacks a pair


def test_story_cloze_is_the_authors_split(shared_data):
    """Rebuilt independently here: the csv module, then sklearn's split with the authors' seed."""
    from sklearn.model_selection import train_test_split

    with open(shared_data / "storycloze/storycloze_val_2016.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))[1:]
    stories = [" ".join(r[1:5]) for r in rows]
    tr, va = train_test_split(stories, test_size=374, random_state=STORY_CLOZE_SEED)
    data = load_task_data(TASKS["story_cloze"], shared_data)
    assert data["train"]["story"] == tr and data["validation"]["story"] == va
    assert len(rows) == 1871 and set(data["train"]["label"]) == {0, 1}


def test_demo_sample_is_bundled():
    data = load_task_data(get_task("demo"))
    assert (len(data["train"]), len(data["validation"])) == (1600, 400)
    assert sum(data["train"]["label"]) == 800  # balanced
    assert "CC BY 4.0" in (DEMO_DATA / "README.md").read_text()


def ids_to_tokens(tokenizer, ids):
    return tokenizer.convert_ids_to_tokens(ids)


def test_each_transform_frames_inputs_as_the_paper(tokenizer):
    batch = {"a": ["the cat sat"], "b": ["a dog ran"], "c": ["it was red"], "label": [1]}
    cls = encode_batch(custom_task("classification", ["a"], label_names=["n", "p"]), tokenizer, batch, 64)
    assert ids_to_tokens(tokenizer, cls["input_ids"][0]) == ["_start_", "the</w>", "cat</w>", "sat</w>", "_classify_"]
    ent = encode_batch(custom_task("entailment", ["a", "b"], label_names=["n", "p"]), tokenizer, batch, 64)
    tokens = ids_to_tokens(tokenizer, ent["input_ids"][0])
    assert tokens[0] == "_start_" and tokens[4] == "_delimiter_" and tokens[-1] == "_classify_"
    sim = encode_batch(custom_task("similarity", ["a", "b"]), tokenizer, batch, 64)
    first, second = (ids_to_tokens(tokenizer, ids) for ids in sim["input_ids"][0])
    assert first[1:4] == second[5:8] and first[5:8] == second[1:4]  # both orders
    mc = encode_batch(custom_task("multiple_choice", ["a", "b", "c"]), tokenizer, batch, 64)
    answers = [ids_to_tokens(tokenizer, ids) for ids in mc["input_ids"][0]]
    assert [a[5] for a in answers] == ["a</w>", "it</w>"] and all(a[-1] == "_classify_" for a in answers)


def test_truncation_keeps_classify_token(tokenizer):
    batch = {"a": ["word " * 100], "b": ["short pair"], "label": [0]}
    out = encode_batch(custom_task("entailment", ["a", "b"], label_names=["x", "y"]), tokenizer, batch, 16)
    tokens = ids_to_tokens(tokenizer, out["input_ids"][0])
    assert len(tokens) == 16 and tokens[-1] == "_classify_"
    assert tokens[-4:-1] == ["_delimiter_", "short</w>", "pair</w>"]  # the longest part was cut


def test_unframed_tokenizer_is_refused():
    plain = GPT1Tokenizer()
    with pytest.raises(ValueError, match="does not frame"):
        encode_batch(
            custom_task("classification", ["a"], label_names=["x", "y"]), plain, {"a": ["hi"], "label": [0]}, 8
        )


def test_pad_collate_pads_views_and_masks():
    batch = pad_collate([{"input_ids": [[1, 2, 3], [4]], "labels": 0}, {"input_ids": [[5], [6, 7]], "labels": 1}])
    assert batch["input_ids"].shape == (2, 2, 3) and batch["labels"].dtype == torch.long
    assert batch["attention_mask"][0, 1].tolist() == [1, 0, 0]
    flat = pad_collate([{"input_ids": [1, 2], "labels": 0.5}, {"input_ids": [3], "labels": 2.0}], pad_token_id=0)
    assert flat["input_ids"].tolist() == [[1, 2], [3, 0]] and flat["labels"].dtype == torch.float


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
    wrong = custom_task("classification", ["text"], label_names=["neg", "pos"], data_files=task.data_files)
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


# --- reliability: missing text cells, Story Cloze answers -------------------------------------------------------


def test_missing_text_cells_are_empty_text_with_a_warning(tmp_path, tokenizer, caplog):
    """An empty CSV cell or a JSON null is empty text, never the word "none"; a cell that says NA or None is text."""
    (tmp_path / "train.csv").write_text("text,label\ngood film,1\n,0\nNA,1\nNone,0\n")
    lines = [{"text": None, "label": 0}, {"text": "fine", "label": 1}, {"label": 1}]
    (tmp_path / "dev.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    task = custom_task("classification", ["text"], label_names=["neg", "pos"], data_files={
        "train": str(tmp_path / "train.csv")})  # fmt: skip
    with caplog.at_level("WARNING", logger="gpt1.tasks"):
        data = load_task_data(task)
    assert data["train"]["text"] == ["good film", "", "NA", "None"]
    assert "'text'" in caplog.text and "1 row" in caplog.text and "train.csv" in caplog.text
    out = encode_batch(task, tokenizer, data["train"][:], 16)
    assert ids_to_tokens(tokenizer, out["input_ids"][1]) == ["_start_", "_classify_"]
    assert ids_to_tokens(tokenizer, out["input_ids"][3])[1] == "none</w>"  # the file says None
    task = custom_task("classification", ["text"], label_names=["neg", "pos"], data_files={
        "validation": str(tmp_path / "dev.jsonl")})  # fmt: skip
    caplog.clear()
    with caplog.at_level("WARNING", logger="gpt1.tasks"):
        assert load_task_data(task)["validation"]["text"] == ["", "fine", ""]
    assert "'text'" in caplog.text and "2 rows" in caplog.text


def test_encode_batch_reads_a_missing_text_as_empty(tokenizer):
    task = custom_task("entailment", ["a", "b"], label_names=["n", "p"])
    out = encode_batch(task, tokenizer, {"a": ["the cat"], "b": [None], "label": [0]}, 16)
    assert ids_to_tokens(tokenizer, out["input_ids"][0]) == [
        "_start_",
        "the</w>",
        "cat</w>",
        "_delimiter_",
        "_classify_",
    ]
    out = encode_batch(task, tokenizer, {"a": [float("nan")], "b": ["a dog"], "label": [0]}, 16)
    assert "nan</w>" not in ids_to_tokens(tokenizer, out["input_ids"][0])


def write_story_cloze(folder, answers) -> None:
    """`storycloze_val_2016.csv` in the release's exact format (header, quoted cells where needed), one row per
    answer; 400 rows or more so the authors' 374-row validation split fits."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "storycloze_val_2016.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["InputStoryid", *[f"InputSentence{i}" for i in range(1, 5)], "RandomFifthSentenceQuiz1",
                         "RandomFifthSentenceQuiz2", "AnswerRightEnding"])  # fmt: skip
        for i, answer in enumerate(answers):
            story = [f"Sam woke up on day {i}.", "He was hungry, so he ate.", "Then he went out.", "It rained."]
            writer.writerow([f"id-{i}", *story, "He got wet.", "He flew to the moon.", answer])


def test_story_cloze_small_file_in_the_release_format(tmp_path):
    write_story_cloze(tmp_path / "storycloze", ["1", "2"] * 200)
    data = load_task_data(TASKS["story_cloze"], tmp_path)
    assert (len(data["train"]), len(data["validation"])) == (26, 374)
    assert set(data["train"]["label"]) | set(data["validation"]["label"]) == {0, 1}


@pytest.mark.parametrize("answer", ["", "3", "0", "one", "1.5"])
def test_story_cloze_answer_must_be_1_or_2(tmp_path, answer):
    answers = ["1", "2"] * 200
    answers[6] = answer
    write_story_cloze(tmp_path / "storycloze", answers)
    with pytest.raises(TaskError) as info:
        load_task_data(TASKS["story_cloze"], tmp_path)
    message = str(info.value)
    assert "storycloze_val_2016.csv" in message and "row 7" in message and "AnswerRightEnding" in message
    assert f"got {answer!r}" in message and "1 or 2" in message and "\n" not in message


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
        load_task_data(custom_task("classification", ["text"], label_names=["n", "p"], data_files=task.data_files))
    (tmp_path / "scores.csv").write_text("a,b,label\nx,y,1.5\nx,y,high\n")
    task = custom_task("similarity", ["a", "b"], data_files={"train": str(tmp_path / "scores.csv")})
    with pytest.raises(TaskError, match=r"scores\.csv.*row 2.*'high'"):
        load_task_data(task)
    with pytest.raises(TaskError, match="missing train file"):
        load_task_data(custom_task("classification", ["a"], data_files={"train": str(tmp_path / "none.csv")}))
