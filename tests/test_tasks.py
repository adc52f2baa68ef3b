"""`gpt1.tasks`: the task table as data: every row's transform, columns, splits and the paper's figures."""

from __future__ import annotations

from gpt1.task_data import load_task_data
from gpt1.tasks import DEMO_DATA, TASKS, get_task
from gpt1.transforms import TRANSFORMS
from tests.samples import write_mnli


def test_table_covers_the_papers_transforms():
    assert {t.transform.name for t in TASKS.values()} == set(TRANSFORMS)
    assert get_task("SST-2") is TASKS["sst2"] and get_task("story-cloze") is TASKS["story_cloze"]
    assert TASKS["stsb"].is_regression and TASKS["stsb"].num_labels == 1
    assert TASKS["story_cloze"].num_labels == 2 and not TASKS["story_cloze"].is_regression


def test_demo_sample_is_bundled():
    data = load_task_data(get_task("demo"))
    assert (len(data["train"]), len(data["validation"])) == (1600, 400)
    assert sum(data["train"]["label"]) == 800  # balanced
    assert "CC BY 4.0" in (DEMO_DATA / "README.md").read_text()


def test_mnli_is_two_rows_with_one_training_set(tmp_path):
    write_mnli(tmp_path / "glue" / "MNLI")
    matched, mismatched = (load_task_data(TASKS[n], tmp_path) for n in ("mnli_m", "mnli_mm"))
    assert set(matched) == {"train", "validation_matched"} and set(mismatched) == {"train", "validation_mismatched"}
    assert matched["train"]["label"] == mismatched["train"]["label"] == [0, 1, 2] * 4  # entailment, neutral, ...
    assert matched["validation_matched"]["premise"][0] == "A man 0 walks in the park ."


def test_paper_results_are_on_the_task_rows():
    """The paper's figures (Tables 2-4) and Table 5's ablations, each written once, on its task's row: the headline
    metric is the figure's, and the full method's Table 5 figure is the Table 2-4 one."""
    assert [(TASKS[n].paper.column, TASKS[n].paper.figure) for n in ("mnli_m", "mnli_mm")] == [
        ("MNLI-m", 82.1), ("MNLI-mm", 81.4),
    ]  # fmt: skip
    assert TASKS["qqp"].main_metric == TASKS["qqp"].paper.metric == "f1" and TASKS["qqp"].paper.figure == 70.3
    assert [TASKS[n].paper.figure for n in ("race_m", "race_h", "race")] == [62.9, 57.4, 59.0]
    assert all(t.paper is None or t.paper.metric == t.main_metric for t in TASKS.values())
    assert TASKS["wnli"].paper is None and TASKS["demo"].paper is None
    sst2, cola = TASKS["sst2"].paper, TASKS["cola"].paper
    assert [sst2.ablation(s) for s in ("full", "no_pretraining", "no_aux_lm", "transfer_2")] == [91.3, 84.0, 92.0, None]
    assert [cola.ablation(s) for s in ("full", "no_pretraining", "no_aux_lm")] == [45.4, 18.9, 47.9]
    assert TASKS["qqp"].paper.ablation("full") is None  # Table 5 here has no QQP column


def test_rows_are_data_without_lambdas():
    """Every reader a row names is a named function, a `functools.partial` of one or a reader object: a row reads
    as data, and its readers can be found and tested by name."""
    for task in TASKS.values():
        for reader in (task.source.load_local, task.source.read_file, task.source.from_hub):
            name = getattr(getattr(reader, "func", reader), "__name__", type(reader).__name__)
            assert name != "<lambda>", task.name
