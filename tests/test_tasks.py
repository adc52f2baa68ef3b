"""The task table: loaders on the real GLUE / Story Cloze files, the four input transformations, and bad input."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from gpt1.tasks import (
    DEMO_DATA,
    TASKS,
    TRANSFORMS,
    TaskError,
    TaskSpec,
    custom_task,
    encode_batch,
    get_task,
    load_task_data,
    normalize_labels,
    pad_collate,
    read_tsv,
    with_fields,
)
from tests import samples
from tests.conftest import SHARED_DATA, needs_shared
from tests.samples import write_mnli, write_qqp, write_race, write_scitail, write_snli, write_story_cloze, write_tsv
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


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=needs_shared(TASKS[n].local_dir, f"its official sizes {SIZES[n]}")) for n in SIZES]
)
def test_local_files_load_with_official_sizes(name):
    """The real release files (the sizes are the releases'): every row read, no header lost or gained."""
    task = TASKS[name]
    data = load_task_data(task, SHARED_DATA)
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


@pytest.mark.parametrize("name", ["sst2", "cola", "mrpc", "stsb", "rte", "wnli", "qnli"])
def test_glue_sample_loads_row_for_row(sample_data, name):
    """Each GLUE loader on files in the release's format: every row, in order, each text column from the right
    column of the file (quotes kept as text), each label the right class id (or STS-B's score); nothing more."""
    task = TASKS[name]
    data = load_task_data(task, sample_data)
    expected = samples.expected_rows(name)
    assert set(data) == set(expected)
    for split, rows in expected.items():
        got = data[split].select_columns(list(rows[0])).to_list()
        if task.is_regression:
            assert [r["label"] for r in got] == pytest.approx([r["label"] for r in rows], abs=1e-6)
            got = [{**r, "label": None} for r in got]
            rows = [{**r, "label": None} for r in rows]
        assert got == rows, split


def test_cola_has_no_header_row(sample_data):
    """CoLA's train and dev have no header: the first line is a sentence (the last column), not column names."""
    data = load_task_data(TASKS["cola"], sample_data)
    assert data["train"][0]["sentence"] == samples.COLA["train"][0][3] == "The children laughed at the clown."
    assert len(data["validation"]) == len(samples.COLA["dev"])  # its last line has no newline: still a row


def test_mrpc_train_is_rebuilt_from_the_msr_files(sample_data):
    """MRPC's train is `msr_paraphrase_train.txt` minus the pairs of `dev_ids.tsv`, not the GLUE script's train.tsv
    (which lacks a pair)."""
    data = load_task_data(TASKS["mrpc"], sample_data)
    glue_train = read_tsv(sample_data / "glue/MRPC/train.tsv")
    dev = set(zip(data["validation"]["sentence1"], data["validation"]["sentence2"]))
    train = set(zip(data["train"]["sentence1"], data["train"]["sentence2"]))
    assert not train & dev and len(train) + len(dev) == len(samples.MRPC_TRAIN)
    assert set(zip(glue_train["#1 String"], glue_train["#2 String"])) < train  # the GLUE script's file lacks a pair
    lacking = next(r for r in samples.MRPC_TRAIN if r[1:3] == samples.MRPC_GLUE_TRAIN_LACKS)
    assert (lacking[3], lacking[4]) in train


@pytest.mark.parametrize("name", ["sst2", "cola", "mrpc", "stsb", "rte", "wnli"])
def test_glue_test_files_are_read_as_unlabelled_test_splits(sample_data, name):
    """GLUE's `test.tsv` (a header even for CoLA; no label) as `--test_file`: its texts and its `index` column."""
    task = TASKS[name]
    folder = sample_data / task.local_dir
    test = load_task_data(with_fields(task, test_file=str(folder / "test.tsv")), sample_data)["test"]
    rows = samples.MRPC_TEST if name == "mrpc" else samples.GLUE_SAMPLES[name]["test"]
    texts = [r[-2:] for r in rows] if name in ("mrpc", "stsb") else rows
    assert "label" not in test.column_names and test["index"] == [str(i) for i in range(len(rows))]
    assert list(zip(*(test[c] for c in task.text_columns))) == [tuple(t) for t in texts]


@pytest.mark.parametrize(
    "source", ["sample", pytest.param("shared", marks=needs_shared("storycloze", "its 1,871 real stories"))]
)
def test_story_cloze_is_the_authors_split(request, source):
    """Rebuilt independently here: the csv module, then sklearn's split with the authors' seed."""
    from sklearn.model_selection import train_test_split

    root = request.getfixturevalue("sample_data") if source == "sample" else SHARED_DATA
    with open(root / "storycloze/storycloze_val_2016.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))[1:]
    stories = [" ".join(r[1:5]) for r in rows]
    tr, va = train_test_split(rows, test_size=374, random_state=3535999445)  # the authors' datasets.py, written out
    data = load_task_data(TASKS["story_cloze"], root)
    for split, chosen in (("train", tr), ("validation", va)):
        assert data[split]["story"] == [" ".join(r[1:5]) for r in chosen]
        assert data[split]["ending1"] == [r[5] for r in chosen] and data[split]["ending2"] == [r[6] for r in chosen]
        assert data[split]["label"] == [int(r[7]) - 1 for r in chosen]
        assert data[split]["index"] == [r[0] for r in chosen]
    assert len(rows) == 1871 if source == "shared" else len(rows) == len(set(stories)) == 400
    assert set(data["train"]["label"]) == {0, 1}


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


def test_story_cloze_small_file_in_the_release_format(tmp_path):
    write_story_cloze(tmp_path / "storycloze", answers=["1", "2"] * 200)
    data = load_task_data(TASKS["story_cloze"], tmp_path)
    assert (len(data["train"]), len(data["validation"])) == (26, 374)
    assert set(data["train"]["label"]) | set(data["validation"]["label"]) == {0, 1}


@pytest.mark.parametrize("answer", ["", "3", "0", "one", "1.5"])
def test_story_cloze_answer_must_be_1_or_2(tmp_path, answer):
    answers = ["1", "2"] * 200
    answers[6] = answer
    write_story_cloze(tmp_path / "storycloze", answers=answers)
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


# --- the paper's other tasks, each in its release's own file format (written by tests/samples.py) ----------------


def test_mnli_is_two_rows_with_one_training_set(tmp_path):
    write_mnli(tmp_path / "glue" / "MNLI")
    matched, mismatched = (load_task_data(TASKS[n], tmp_path) for n in ("mnli_m", "mnli_mm"))
    assert set(matched) == {"train", "validation_matched"} and set(mismatched) == {"train", "validation_mismatched"}
    assert matched["train"]["label"] == mismatched["train"]["label"] == [0, 1, 2] * 4  # entailment, neutral, ...
    assert matched["validation_matched"]["premise"][0] == "A man 0 walks in the park ."
    assert (TASKS["mnli_m"].paper, TASKS["mnli_mm"].paper) == (82.1, 81.4)


def test_qqp_reads_the_glue_files(tmp_path):
    write_qqp(tmp_path / "glue" / "QQP")
    data = load_task_data(TASKS["qqp"], tmp_path / "glue" / "QQP")  # the task's own folder works too
    assert data["train"]["label"] == [0, 1] * 6 and data["train"]["question1"][1] == "How do I learn 1 ?"
    assert TASKS["qqp"].main_metric == "f1" and TASKS["qqp"].paper == 70.3


@pytest.mark.parametrize("fmt", ["jsonl", "txt"])
def test_snli_drops_pairs_without_a_gold_label_and_counts_them(tmp_path, caplog, fmt):
    write_snli(tmp_path / "snli_1.0", n=12, unlabelled=3, fmt=fmt)
    with caplog.at_level("INFO", logger="gpt1.tasks"):
        data = load_task_data(TASKS["snli"], tmp_path)  # a root holding snli_1.0/
    assert len(data["train"]) == len(data["validation"]) == 9
    assert set(data["train"]["label"]) == {0, 1, 2}
    assert "dropped 3 of 12 rows with no gold label" in caplog.text and "train split" in caplog.text
    assert load_task_data(TASKS["snli"], tmp_path / "snli_1.0")["train"]["premise"] == data["train"]["premise"]


def test_scitail_reads_the_headerless_tsv(tmp_path):
    write_scitail(tmp_path / "SciTailV1.1")
    for place in (tmp_path, tmp_path / "SciTailV1.1", tmp_path / "SciTailV1.1" / "tsv_format"):
        data = load_task_data(TASKS["scitail"], place)
        assert len(data["train"]) == 12 and data["train"]["label"][:2] == [0, 1]  # entails, neutral


def test_race_rows_are_questions_of_each_level(tmp_path):
    write_race(tmp_path / "RACE", per_level=3)
    sizes = {name: len(load_task_data(TASKS[name], tmp_path)["train"]) for name in ("race_m", "race_h", "race")}
    assert sizes == {"race_m": 6, "race_h": 6, "race": 12}  # 3 articles x 2 questions per level
    row = load_task_data(TASKS["race_m"], tmp_path)["validation"][1]
    assert row["question"] == "What is said in part 1 ?" and row["label"] == 1  # answer "B"
    assert [TASKS[n].paper for n in ("race_m", "race_h", "race")] == [62.9, 57.4, 59.0]


def test_race_truncation_keeps_question_option_and_framing(tokenizer):
    """A 2,000-token passage: every sequence fits the context, ends `_delimiter_ option _classify_` and holds the
    whole question right before it; the passage loses its end, never its start."""
    task = TASKS["race"]
    article = " ".join(f"w{k}" for k in range(2000))
    assert len(tokenizer(article, add_special_tokens=False)["input_ids"]) >= 2000
    batch = {"article": [article], "question": ["which word comes first in the text ?"], "label": ["C"],
             **{f"option{i}": [f"the answer number {i}"] for i in range(1, 5)}}  # fmt: skip
    out = encode_batch(task, tokenizer, batch, 512)
    question = tokenizer("which word comes first in the text ?", add_special_tokens=False)["input_ids"]
    head = tokenizer(article, add_special_tokens=False)["input_ids"][:10]
    for i, seq in enumerate(out["input_ids"][0], 1):
        option = tokenizer(f"the answer number {i}", add_special_tokens=False)["input_ids"]
        assert len(seq) == 512  # the passage fills what is left
        assert seq[-len(option) - 2 :] == [tokenizer.delimiter_token_id, *option, tokenizer.classify_token_id]
        assert seq[-len(option) - 2 - len(question) : -len(option) - 2] == question
        assert seq[:11] == [tokenizer.start_token_id, *head]


def test_story_cloze_segments_follow_the_authors_cap(tokenizer):
    """The authors' `transform_roc`: story and ending each cut to `n_ctx // 2 - 2` tokens, their heads kept."""
    story, ending = " ".join(f"s{k}" for k in range(300)), " ".join(f"e{k}" for k in range(300))
    batch = {"story": [story], "ending1": [ending], "ending2": ["short"], "label": [0]}
    out = encode_batch(TASKS["story_cloze"], tokenizer, batch, 512)
    long, short = out["input_ids"][0]
    ids = {t: tokenizer(t, add_special_tokens=False)["input_ids"] for t in (story, ending, "short")}
    start, delim, cls = tokenizer.start_token_id, tokenizer.delimiter_token_id, tokenizer.classify_token_id
    assert long == [start, *ids[story][:254], delim, *ids[ending][:254], cls]
    assert short == [start, *ids[story][:254], delim, *ids["short"], cls]


@pytest.mark.parametrize("transform", ["classification", "entailment"])
def test_pair_truncation_is_the_tokenizers_own(tokenizer, transform):
    """Without an authors' rule, the transform cuts as the tokenizer's `longest_first` does (its own framing is the
    reference), for lengths on either side of the budget."""
    columns = ["a"] if transform == "classification" else ["a", "b"]
    task = custom_task(transform, columns, label_names=["n", "p"])
    for n_a, n_b, max_length in [(30, 3, 16), (3, 30, 16), (9, 9, 16), (10, 9, 16), (4, 4, 64), (40, 41, 31)]:
        batch = {"a": [" ".join(["cat"] * n_a)], "b": [" ".join(["dog"] * n_b)], "label": [0]}
        ours = encode_batch(task, tokenizer, batch, max_length)["input_ids"][0]
        second = batch["b"] if transform == "entailment" else None
        reference = tokenizer(batch["a"], second, truncation=True, max_length=max_length)["input_ids"][0]
        assert ours == reference, (n_a, n_b, max_length)


def test_transforms_are_objects_named_as_on_the_command_line():
    from modeling_gpt1 import GPT1ForMultipleChoice, GPT1ForSequenceClassification

    assert TRANSFORMS["multiple_choice"].model_class is GPT1ForMultipleChoice
    assert TRANSFORMS["similarity"].model_class is GPT1ForSequenceClassification
    assert TASKS["race"].transformation is TRANSFORMS["multiple_choice"] and TASKS["race"].num_labels == 4
    assert custom_task("similarity", ["a", "b"]).transformation is TRANSFORMS["similarity"]
    # Which zero-shot heuristic scores a task: the task's, else its transform's; none for entailment (MNLI, SNLI).
    assert [TASKS[n].heuristic for n in ("sst2", "cola", "race", "story_cloze", "mnli_m", "snli", "qqp")] == [
        "very", "threshold", "answer_logprob", "answer_logprob", None, None, None,
    ]  # fmt: skip


def test_test_files_are_read_in_each_tasks_format(tmp_path):
    write_mnli(tmp_path / "glue" / "MNLI")
    task = with_fields(TASKS["mnli_m"], test_file=str(tmp_path / "glue" / "MNLI" / "test_matched.tsv"))
    test = load_task_data(task, tmp_path)["test"]
    assert "label" not in test.column_names and test["index"][:2] == ["0", "1"]
    write_race(tmp_path / "RACE")
    task = with_fields(TASKS["race_h"], test_file=str(tmp_path / "RACE" / "test"))
    assert len(load_task_data(task, tmp_path)["test"]) == 6  # only the high-school articles


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
    return with_fields(TASKS[task_name], test_file=str(path))


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


def test_race_hub_copy_is_reshaped_into_the_tables_columns():
    """`ehovy/race` keeps the options as a list and the answer as a letter: `race_from_hub` makes them the row's."""
    from datasets import Dataset, DatasetDict

    from gpt1.tasks import race_from_hub

    hub = DatasetDict(validation=Dataset.from_dict({
        "example_id": ["high1.txt"], "article": ["A text ."], "answer": ["C"], "question": ["Why ?"],
        "options": [["w", "x", "y", "z"]]}))  # fmt: skip
    row = normalize_labels(TASKS["race"], race_from_hub(hub)["validation"])[0]
    assert [row[c] for c in TASKS["race"].text_columns] == ["A text .", "Why ?", "w", "x", "y", "z"]
    assert row["label"] == 2 and row["index"] == "high1.txt"
