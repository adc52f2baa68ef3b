"""The bundled `evaluate` metrics (the offline fallback): the Hub modules' keys, and values checked by hand."""

from __future__ import annotations

import dataclasses
import math

import pytest
from sklearn.metrics import f1_score

from gpt1 import metrics as gpt1_metrics
from gpt1.metrics import BUNDLED, METRIC_NAMES, load_metric
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


@pytest.fixture
def fresh_load_metric():
    """`load_metric` is cached per process: clear it around a test that changes where it loads from."""
    load_metric.cache_clear()
    yield
    load_metric.cache_clear()


def fake_evaluate_load(monkeypatch, offline: bool, unreachable: tuple[str, ...] = ()) -> list[tuple]:
    """`evaluate.load` replaced by one that records its calls and returns `("module", path, config_name)`, failing
    like an unreachable Hub for the metrics in `unreachable`; returns the calls."""
    calls: list[tuple] = []

    def fake_load(path: str, config_name: str | None = None) -> tuple:
        calls.append((path, config_name))
        if path in unreachable:
            raise ConnectionError("no route to host")
        return ("module", path, config_name)

    monkeypatch.setattr(gpt1_metrics.evaluate.config, "HF_EVALUATE_OFFLINE", offline)
    monkeypatch.setattr(gpt1_metrics.evaluate, "load", fake_load)
    return calls


@pytest.mark.parametrize("offline", [True, False])
def test_load_metric_tries_the_hub_only_when_online(monkeypatch, fresh_load_metric, offline: bool) -> None:
    """Guards `if not HF_EVALUATE_OFFLINE` in `load_metric` (gpt1/metrics/__init__.py): offline it must go straight to
    the bundled module, online it must return the Hub module when the Hub answers."""
    calls = fake_evaluate_load(monkeypatch, offline)
    got = load_metric("f1")
    if offline:
        assert calls == [(str(BUNDLED), "f1")] and got == ("module", str(BUNDLED), "f1")
    else:
        assert calls == [("f1", None)] and got == ("module", "f1", None)


def test_bundled_metric_rows_are_frozen() -> None:
    """Guards `@dataclass(frozen=True)` on `BundledMetric`: the table every task's metric comes from cannot be
    changed by a caller (a row edited in place would change every later score in the process)."""
    row = METRICS["f1"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.correlation = True  # type: ignore[misc]
    assert row.correlation is False and row.score is f1_score


def test_bundled_module_info_names_its_source(monkeypatch, fresh_load_metric) -> None:
    """Guards `Bundled._info` (gpt1/metrics/bundled/bundled.py): the offline module documents which function scores
    it and what it takes, as the Hub module does (a model card or `evaluate` listing reads these fields)."""
    monkeypatch.setattr(gpt1_metrics.evaluate.config, "HF_EVALUATE_OFFLINE", True)
    for name, row in METRICS.items():
        module = load_metric(name)
        assert module.reference_urls == [row.reference_url]
        assert module.description == row.description
        assert module.inputs_description == f"predictions and references: lists of {row.dtype} values."


def test_bundled_scores_are_python_floats_and_per_class_scores_stay_arrays(monkeypatch, fresh_load_metric) -> None:
    """Guards `float(score) if np.ndim(score) == 0 else score` in `Bundled._compute`: a scalar score is a plain
    `float` (JSON-serialisable in results.json, like the Hub module's), and `average=None` still gives one F1 per class."""
    monkeypatch.setattr(gpt1_metrics.evaluate.config, "HF_EVALUATE_OFFLINE", True)
    predictions, references = [1, 1, 0, 1, 0, 0, 1, 0], [1, 0, 0, 1, 1, 0, 1, 0]  # TP 3, FP 1, FN 1, TN 3
    out = load_metric("f1").compute(predictions=predictions, references=references)
    assert type(out["f1"]) is float and out["f1"] == pytest.approx(6 / 8)
    per_class = load_metric("f1").compute(predictions=predictions, references=references, average=None)["f1"]
    assert list(per_class) == pytest.approx([6 / 8, 6 / 8])  # class 0: TP 3, FP 1, FN 1 as well


def test_load_metric_falls_back_to_the_bundled_module_when_the_hub_fails(monkeypatch, fresh_load_metric) -> None:
    """Online, any failure of the Hub load (no network, proxy, Hub down) gives the bundled module, not the error."""
    calls = fake_evaluate_load(monkeypatch, offline=False, unreachable=("accuracy",))
    assert load_metric("accuracy") == ("module", str(BUNDLED), "accuracy")
    assert calls == [("accuracy", None), (str(BUNDLED), "accuracy")]
