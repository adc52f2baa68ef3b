"""The bundled `evaluate` metrics (the offline fallback): the Hub modules' keys, and values checked by hand."""

from __future__ import annotations

import math

import pytest

from gpt1.metrics import METRIC_NAMES, load_metric
from gpt1.metrics.bundled.bundled import METRICS
from gpt1.tasks import TASKS

PREDICTIONS = [1, 1, 0, 1, 0, 0, 1, 0]
REFERENCES = [1, 0, 0, 1, 1, 0, 1, 0]  # TP 3, FP 1, FN 1, TN 3


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setattr("evaluate.config.HF_EVALUATE_OFFLINE", True)  # always the bundled module, never the Hub


def test_every_task_metric_is_bundled():
    assert set(METRIC_NAMES) == set(METRICS)
    assert {m for task in TASKS.values() for m in task.scoring.metrics} <= set(METRIC_NAMES)


def test_class_metrics_from_the_confusion_matrix():
    tp, fp, fn, tn = 3, 1, 1, 3
    mcc = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    expected = {"accuracy": 6 / 8, "f1": 2 * tp / (2 * tp + fp + fn), "matthews_correlation": mcc}
    for name, value in expected.items():
        assert load_metric(name).compute(predictions=PREDICTIONS, references=REFERENCES) == {name: pytest.approx(value)}


def test_correlations_by_hand():
    x, y = [1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 5.0]
    mx, my = sum(x) / 4, sum(y) / 4
    cov = sum((a - mx) * (b - my) for a, b in zip(x, y))
    pearson = cov / math.sqrt(sum((a - mx) ** 2 for a in x) * sum((b - my) ** 2 for b in y))
    # Ranks of y are 1, 3, 2, 4: Spearman's rho = 1 - 6 * sum(d^2) / (n (n^2 - 1)) with d = 0, 1, 1, 0.
    spearman = 1 - 6 * 2 / (4 * 15)
    assert load_metric("pearsonr").compute(predictions=y, references=x)["pearsonr"] == pytest.approx(pearson, abs=1e-6)
    out = load_metric("spearmanr").compute(predictions=y, references=x, return_pvalue=True)
    assert out["spearmanr"] == pytest.approx(spearman) and 0.0 < out["p-value"] < 1.0


def test_unknown_metric_is_named():
    with pytest.raises(ValueError, match="unknown metric 'bleu'"):
        load_metric("bleu")
