"""`gpt1.tasks`: the task table as data: every row's transform, columns, splits and the paper's figures."""

from __future__ import annotations

from gpt1.task_data import load_task_data
from gpt1.tasks import DEMO_DATA, TASKS, custom_task, get_task
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


# The paper's figures, transcribed from it (Tables 2-4: the test-set results, columns in the paper's order; Table 5:
# the dev-set ablations "w/o pre-training" and "w/o aux LM"), independently of gpt1/tasks.py. GLUE: the columns of
# the GLUE benchmark. Table 5's MNLI column is the mean of MNLI-m and -mm, so neither MNLI row carries it.
PAPER = {
    # task: (table, position, column, metric, figure, glue, no_pretraining, no_aux_lm)
    "mnli_m": ("Table 2", 1, "MNLI-m", "accuracy", 82.1, True, None, None),
    "mnli_mm": ("Table 2", 2, "MNLI-mm", "accuracy", 81.4, True, None, None),
    "snli": ("Table 2", 3, "SNLI", "accuracy", 89.9, False, None, None),
    "scitail": ("Table 2", 4, "SciTail", "accuracy", 88.3, False, None, None),
    "qnli": ("Table 2", 5, "QNLI", "accuracy", 88.1, True, 71.2, 86.9),
    "rte": ("Table 2", 6, "RTE", "accuracy", 56.0, True, 53.8, 54.4),
    "story_cloze": ("Table 3", 1, "Story Cloze", "accuracy", 86.5, False, None, None),
    "race_m": ("Table 3", 2, "RACE-m", "accuracy", 62.9, False, None, None),
    "race_h": ("Table 3", 3, "RACE-h", "accuracy", 57.4, False, None, None),
    "race": ("Table 3", 4, "RACE", "accuracy", 59.0, False, None, None),
    "cola": ("Table 4", 1, "CoLA", "matthews_correlation", 45.4, True, 18.9, 47.9),
    "sst2": ("Table 4", 2, "SST-2", "accuracy", 91.3, True, 84.0, 92.0),
    "mrpc": ("Table 4", 3, "MRPC", "f1", 82.3, True, 79.4, 84.9),
    "stsb": ("Table 4", 4, "STS-B", "pearsonr", 82.0, True, 30.9, 83.2),
    "qqp": ("Table 4", 5, "QQP", "f1", 70.3, True, 65.5, 69.8),
}


def test_paper_results_are_on_the_task_rows():
    """Every figure the paper reports, on its task's row, as the paper prints it (a figure, a column's place, the GLUE
    flag or an ablation changed in the table turns this red); the headline metric is the figure's; Table 5's row for
    the full method is the Tables 2-4 figure; WNLI (not reported) and the demo carry none."""
    rows = {n: t.paper for n, t in TASKS.items() if t.paper is not None}
    assert set(rows) == set(PAPER)
    for name, (table, position, column, metric, figure, glue, no_pretraining, no_aux_lm) in PAPER.items():
        paper = rows[name]
        got = (paper.table, paper.position, paper.column, paper.metric, paper.figure, paper.glue)
        assert got == (table, position, column, metric, figure, glue), name
        assert TASKS[name].main_metric == metric, name
        expected = [figure, no_pretraining, no_aux_lm] if no_aux_lm is not None else [None, None, None]
        assert [paper.ablation(s) for s in ("full", "no_pretraining", "no_aux_lm")] == expected, name
        assert paper.ablation("transfer_2") is None
    assert TASKS["wnli"].paper is None and TASKS["demo"].paper is None


def test_rows_are_data_without_lambdas():
    """Every reader a row names is a named function, a `functools.partial` of one or a reader object: a row reads
    as data, and its readers can be found and tested by name."""
    for task in TASKS.values():
        for reader in (task.source.load_local, task.source.read_file, task.source.from_hub):
            name = getattr(getattr(reader, "func", reader), "__name__", type(reader).__name__)
            assert name != "<lambda>", task.name


def test_custom_task_metrics_follow_its_labels():
    """Scores by default: Pearson then Spearman for a regression task (no label names), accuracy for classes and for
    multiple choice; `metrics` overrides."""
    assert custom_task("similarity", ["a", "b"]).scoring.metrics == ("pearsonr", "spearmanr")
    assert custom_task("similarity", ["a", "b"]).main_metric == "pearsonr"
    assert custom_task("entailment", ["a", "b"], label_names=["n", "p"]).scoring.metrics == ("accuracy",)
    assert custom_task("multiple_choice", ["c", "a1", "a2"]).scoring.metrics == ("accuracy",)
    assert custom_task("classification", ["a"], label_names=["n", "p"], metrics=["f1"]).scoring.metrics == ("f1",)
