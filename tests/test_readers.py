"""`gpt1.readers`: each task's files in their release format, read row for row (through the task table's
loading), on the real releases when `../shared/data` holds them and on samples written in each format."""

from __future__ import annotations

import csv
import dataclasses
import json

import pytest

from gpt1.readers import (
    COLA_TRAIN_DEV,
    GLUE_SENTENCE,
    load_files,
    race_from_hub,
    read_race,
    read_snli,
    read_tsv,
)
from gpt1.task_data import load_task_data, normalize_labels
from gpt1.task_errors import TaskError
from gpt1.tasks import TASKS
from tests import samples
from tests.conftest import SHARED_DATA, needs_shared
from tests.samples import write_mnli, write_qqp, write_race, write_scitail, write_snli, write_story_cloze

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


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=needs_shared(TASKS[n].source.local_dir, f"its official sizes {SIZES[n]}")) for n in SIZES],
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
        assert set(task.needed_columns) <= set(split.column_names)
        labels = split[task.columns.label]
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
    folder = sample_data / task.source.local_dir
    test = load_task_data(task.with_test_file(str(folder / "test.tsv")), sample_data)["test"]
    rows = samples.MRPC_TEST if name == "mrpc" else samples.GLUE_SAMPLES[name]["test"]
    texts = [r[-2:] for r in rows] if name in ("mrpc", "stsb") else rows
    assert "label" not in test.column_names and test["index"] == [str(i) for i in range(len(rows))]
    assert list(zip(*(test[c] for c in task.columns.text))) == [tuple(t) for t in texts]


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
    assert "rows in all" not in message  # one bad row: no count


def test_qqp_reads_the_glue_files(tmp_path):
    write_qqp(tmp_path / "glue" / "QQP")
    data = load_task_data(TASKS["qqp"], tmp_path / "glue" / "QQP")  # the task's own folder works too
    assert data["train"]["label"] == [0, 1] * 6 and data["train"]["question1"][1] == "How do I learn 1 ?"


@pytest.mark.parametrize("fmt", ["jsonl", "txt"])
def test_snli_drops_pairs_without_a_gold_label_and_counts_them(tmp_path, caplog, fmt):
    write_snli(tmp_path / "snli_1.0", n=12, unlabelled=3, fmt=fmt)
    with caplog.at_level("INFO", logger="gpt1.task_data"):
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


def test_test_files_are_read_in_each_tasks_format(tmp_path):
    write_mnli(tmp_path / "glue" / "MNLI")
    task = TASKS["mnli_m"].with_test_file(str(tmp_path / "glue" / "MNLI" / "test_matched.tsv"))
    test = load_task_data(task, tmp_path)["test"]
    assert "label" not in test.column_names and test["index"][:2] == ["0", "1"]
    write_race(tmp_path / "RACE")
    task = TASKS["race_h"].with_test_file(str(tmp_path / "RACE" / "test"))
    assert len(load_task_data(task, tmp_path)["test"]) == 6  # only the high-school articles


def test_race_hub_copy_is_reshaped_into_the_tables_columns():
    """`ehovy/race` keeps the options as a list and the answer as a letter: `race_from_hub` makes them the row's."""
    from datasets import Dataset, DatasetDict

    hub = DatasetDict(validation=Dataset.from_dict({
        "example_id": ["high1.txt"], "article": ["A text ."], "answer": ["C"], "question": ["Why ?"],
        "options": [["w", "x", "y", "z"]]}))  # fmt: skip
    row = normalize_labels(TASKS["race"], race_from_hub(hub)["validation"])[0]
    assert [row[c] for c in TASKS["race"].columns.text] == ["A text .", "Why ?", "w", "x", "y", "z"]
    assert row["label"] == 2 and row["index"] == "high1.txt"


def test_tsv_cells_are_the_text_written(tmp_path):
    """ "NA", "null", "nan", "None" are sentences in GLUE files (pandas' default would read them as missing values,
    and the loader would then see an empty or missing text)."""
    path = tmp_path / "dev.tsv"
    path.write_text("sentence\tlabel\nNA\t1\nnull\t0\nnan\t1\nNone\t0\n\t1\n", encoding="utf-8")
    assert read_tsv(path)["sentence"].tolist() == ["NA", "null", "nan", "None", ""]


def test_task_rows_and_their_readers_are_immutable_values():
    """Every task row is hashable (usable as a key) and its reader cannot be changed in place: the readers compare
    by identity because their column maps are dicts (field-wise equality would make them unhashable)."""
    assert len({TASKS[name] for name in TASKS}) == len(TASKS)
    readers = {TASKS[n].source.load_local for n in TASKS} | {TASKS[n].source.read_file for n in TASKS}
    readers |= {getattr(r, "read", None) for r in readers}
    readers = {r for r in readers if dataclasses.is_dataclass(r)}
    assert len(readers) >= 8
    for reader in readers:
        hash(reader)
        for field in dataclasses.fields(reader):
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(reader, field.name, getattr(reader, field.name))


def test_story_cloze_error_names_the_first_bad_row_and_the_count(tmp_path):
    answers = ["1", "2"] * 200
    answers[6], answers[9] = "3", "x"
    write_story_cloze(tmp_path / "storycloze", answers=answers)
    with pytest.raises(TaskError, match=r"row 7 after the header: .* got '3' \(2 rows in all\)"):
        load_task_data(TASKS["story_cloze"], tmp_path)


def test_snli_jsonl_without_a_needed_field_is_refused(tmp_path):
    """A JSON-lines file lacking `sentence2` is named as such (not read as the text "nan")."""
    path = tmp_path / "snli_1.0_dev.jsonl"
    path.write_text('{"gold_label": "neutral", "sentence1": "A man.", "pairID": "1"}\n', encoding="utf-8")
    with pytest.raises(TaskError, match=r"lacks column\(s\) \['sentence2'\]"):
        read_snli(path)


@pytest.mark.parametrize("content", [b"\xff\xfe\x00not utf-8", b"[1, 2]", b'{"article": "a"}', b"{not json"])
def test_race_file_that_is_not_an_article_is_refused(tmp_path, content):
    """Not UTF-8, JSON of another shape (a list, missing keys) or not JSON: one TaskError naming the file."""
    path = tmp_path / "1.txt"
    path.write_bytes(content)
    with pytest.raises(TaskError, match=r"1\.txt: not a RACE article"):
        read_race(path)


@pytest.mark.parametrize(("name", "text", "reason"), [
    ("train.jsonl", '{"text": "a", "label": 0}\n{not json\n', "JSON parse error: Missing a name for object member."),
    ("train.csv", "text,label\na,0\nb,1,2,3\n", "Error tokenizing data. C error: Expected 2 fields in line 3, saw 4"),
])  # fmt: skip
def test_unreadable_data_file_is_one_task_error(tmp_path, name, text, reason):
    """One TaskError naming the file, with the parser's reason (not `datasets`' generic "error while generating")."""
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(TaskError, match=rf"cannot read .*{name}: ") as info:
        load_files({"train": str(tmp_path / name)})
    assert reason in str(info.value)


@pytest.mark.parametrize(("content", "reason"), [
    (b"sentence\tlabel\n\xff\xfe latin-1 text\t1\n", "'utf-8' codec can't decode byte 0xff"),
    (b"sentence\tlabel\na\t1\nb\t0\textra\tcells\n", "Error tokenizing data. C error: Expected 2 fields in line 3, saw 4"),
])  # fmt: skip
def test_an_unreadable_tsv_is_one_task_error(tmp_path, content, reason):
    """Not UTF-8, or a row wider than the header: one TaskError naming the file and the reason."""
    path = tmp_path / "dev.tsv"
    path.write_bytes(content)
    with pytest.raises(TaskError, match=r"cannot read .*dev\.tsv as a tab-separated file: ") as info:
        read_tsv(path)
    assert reason in str(info.value)


@pytest.mark.parametrize(("header", "rows", "columns"), [
    (["sentence", "label"], [["a b", "1"], ["c", "0"]], ["sentence", "label"]),
    (["index", "sentence"], [["7", "a b"], ["8", "c"]], ["sentence", "index"]),  # GLUE's test file: its row ids
])  # fmt: skip
def test_a_tsv_is_read_into_the_tables_columns_and_nothing_else(tmp_path, header, rows, columns):
    """The file's own columns and pandas' row numbers stay out: the table's columns, in order, and the file's
    row ids as `index` where it has them."""
    samples.write_tsv(tmp_path / "dev.tsv", header, rows)
    data = GLUE_SENTENCE(tmp_path / "dev.tsv")
    assert data.column_names == columns
    assert data["sentence"] == ["a b", "c"]
    if "index" in columns:
        assert data["index"] == ["7", "8"]


def test_a_headerless_tsv_of_another_width_is_refused_with_its_width(tmp_path):
    samples.write_tsv(tmp_path / "dev.tsv", None, [["gj04", "1", "a sentence ."]])  # CoLA has 4 fields
    with pytest.raises(TaskError, match=r"has 3 tab-separated fields per row; CoLA's .* has \['source', 'label'"):
        COLA_TRAIN_DEV(tmp_path / "dev.tsv")


def test_story_cloze_needs_more_rows_than_the_authors_validation_split(tmp_path):
    write_story_cloze(tmp_path / "storycloze", n=374)
    with pytest.raises(TaskError, match=r"has 374 rows; the authors' split needs more than 374"):
        load_task_data(TASKS["story_cloze"], tmp_path)
    write_story_cloze(tmp_path / "storycloze", n=375)
    data = load_task_data(TASKS["story_cloze"], tmp_path)
    assert (len(data["train"]), len(data["validation"])) == (1, 374)


PAIR = '{"gold_label": "neutral", "sentence1": "A man.", "sentence2": "A person.", "pairID": "1"}'


@pytest.mark.parametrize(("lines", "message"), [
    ([PAIR, "{not json"], r"line 2: not JSON \("),
    (["", PAIR, "[1, 2]"], r"line 3: a JSON object per line expected"),
])  # fmt: skip
def test_snli_jsonl_line_that_is_not_an_object_is_named(tmp_path, lines, message):
    path = tmp_path / "snli_1.0_dev.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(TaskError, match=r"snli_1\.0_dev\.jsonl, " + message):
        read_snli(path)


def test_snli_jsonl_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "snli_1.0_dev.jsonl"
    path.write_text(f"\n{PAIR}\n\n{PAIR.replace('1', '2')}\n\n", encoding="utf-8")
    assert read_snli(path)["index"] == ["1", "2"]


@pytest.mark.parametrize(("questions", "options", "answers"), [
    (["Q1 ?", "Q2 ?"], [["a", "b", "c", "d"]] * 2, ["A"]),  # an answer missing
    (["Q1 ?"], [["a", "b", "c", "d"]], ["A", "B"]),  # an answer too many
    (["Q1 ?"], [["a", "b", "c"]], ["A"]),  # three options
])  # fmt: skip
def test_race_question_without_four_options_and_an_answer_is_refused(tmp_path, questions, options, answers):
    path = tmp_path / "1.txt"
    article = {"article": "A text .", "questions": questions, "options": options, "answers": answers, "id": "1.txt"}
    path.write_text(json.dumps(article), encoding="utf-8")
    with pytest.raises(TaskError, match=r"1\.txt: every question needs 4 options and an answer"):
        read_race(path)


def test_the_demo_task_reads_its_bundled_csv_files(tmp_path):
    data = load_task_data(TASKS["demo"], tmp_path)  # its folder is the package's, wherever --data_dir points
    assert (len(data["train"]), len(data["validation"])) == (1600, 400)
    assert set(data["train"]["label"]) == {0, 1} and data["train"]["sentence"][1].startswith("so , if robots")
