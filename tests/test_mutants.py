"""Tests that kill mutants which survived the mirrored tests (docs/testing.md lists each mutant and its test)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from sklearn.metrics import f1_score

from gpt1 import metrics as gpt1_metrics
from gpt1.metrics import BUNDLED, load_metric
from gpt1.metrics.bundled.bundled import METRICS
from gpt1.results import markdown_table, seed_summary, seed_summary_markdown
from gpt1.training import param_groups
from modeling_gpt1 import GPT1Config, GPT1ForCausalLM
from modeling_gpt1.modeling_gpt1 import auxiliary_lm_loss


@pytest.fixture
def fresh_load_metric():
    """`load_metric` is cached per process: clear it around a test that changes where it loads from."""
    load_metric.cache_clear()
    yield
    load_metric.cache_clear()


@pytest.mark.parametrize("offline", [True, False])
def test_load_metric_tries_the_hub_only_when_online(monkeypatch, fresh_load_metric, offline: bool) -> None:
    """Guards `if not HF_EVALUATE_OFFLINE` in `load_metric` (gpt1/metrics/__init__.py): offline it must go straight to
    the bundled module, online it must return the Hub module when the Hub answers."""
    calls: list[tuple] = []

    def fake_load(path: str, config_name: str | None = None) -> tuple:
        calls.append((path, config_name))
        return ("module", path, config_name)

    monkeypatch.setattr(gpt1_metrics.evaluate.config, "HF_EVALUATE_OFFLINE", offline)
    monkeypatch.setattr(gpt1_metrics.evaluate, "load", fake_load)
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


def test_biases_and_layernorm_are_exactly_the_undecayed_group() -> None:
    """Guards `decays` (`param.dim() >= 2`, gpt1/training.py): the no-decay group is every bias and LayerNorm
    parameter and nothing else, never empty (an `all(...)` over an empty group passes vacuously)."""
    config = GPT1Config.from_preset("tiny")
    model = GPT1ForCausalLM(config)
    decay, no_decay = param_groups(model, 0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    expected = {n for n, p in model.named_parameters() if n.endswith(".bias") or ".ln_" in n}
    assert len(expected) == 8 * config.n_layer  # per block: 4 Conv1D biases, 2 LayerNorms x (weight, bias)
    assert {names[id(p)] for p in no_decay["params"]} == expected
    assert {names[id(p)] for p in decay["params"]} == set(names.values()) - expected


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


def test_markdown_table_row_by_hand() -> None:
    """Guards `result_row`/`markdown_table` (gpt1/results.py): the headline metric in `ours`, every other metric (and
    only those) under "other metrics", the test column only when a run has a test figure, the paper's figure."""
    runs = [
        {"run": "mrpc", "task": "mrpc", "main_metric": "f1", "paper": 82.3,
         "metrics": {"f1": 0.8123, "accuracy": 0.75}, "test_metrics": {"f1": 0.8}},
        {"task": "rte", "main_metric": "accuracy", "paper": None, "metrics": {"accuracy": 0.5}},
    ]  # fmt: skip
    assert markdown_table(runs, "T").splitlines() == [
        "## T",
        "",
        "| run | task | metric | ours | test | paper | other metrics |",
        "|---|---|---|---:|---:|---:|---|",
        "| mrpc | mrpc | f1 | 81.2 | 80.0 | 82.3 | accuracy 75.0 |",
        "| rte | rte | accuracy | 50.0 | - | - | - |",
    ]
    assert markdown_table(runs[1:]).splitlines()[:2] == [
        "| run | task | metric | ours | paper | other metrics |",
        "|---|---|---|---:|---:|---|",
    ]


def test_seed_summary_statistics_by_hand() -> None:
    """Guards `seed_summary`/`seed_summary_markdown` (gpt1/results.py): mean, sample std (ddof=1) and median per
    metric, test figures as `test_<metric>`, one seed's std is None, and the table prints them in %."""

    def run(seed: int, acc: float, test_acc: float) -> dict:
        return {"run": "rte", "task": "rte", "main_metric": "accuracy", "paper": 56.0, "paper_metric": None,
                "eval_examples": 4, "settings": {"seed": seed, "output_dir": f"o/{seed}"},
                "metrics": {"accuracy": acc}, "test_metrics": {"accuracy": test_acc}}  # fmt: skip

    summary = seed_summary([run(1, 0.5, 0.4), run(2, 0.6, 0.4), run(3, 0.9, 0.7)])
    assert summary["seeds"] == [1, 2, 3] and summary["per_seed"][2]["output_dir"] == "o/3"
    assert summary["mean"] == pytest.approx({"accuracy": 2.0 / 3, "test_accuracy": 0.5})
    # ddof=1: accuracy deviations -1/6, -1/15, 7/30 -> sum of squares 13/150 -> var 13/300; test: 0.06 / 2 = 0.03.
    assert summary["std"] == pytest.approx({"accuracy": (13 / 300) ** 0.5, "test_accuracy": 0.03**0.5})
    assert summary["median"] == pytest.approx({"accuracy": 0.6, "test_accuracy": 0.4})
    assert seed_summary([run(1, 0.5, 0.4)])["std"] == {"accuracy": None, "test_accuracy": None}
    lines = seed_summary_markdown(summary).splitlines()
    assert lines[0] == "## Fine-tuning: rte, 3 seeds"
    assert lines[2:5] == ["| seed | accuracy | test_accuracy |", "|---|---:|---:|", "| 1 | 50.0 | 40.0 |"]
    assert lines[7:10] == [
        "| **mean** | 66.7 | 50.0 |",
        "| **std (sample, ddof=1)** | 20.8 | 17.3 |",
        "| **median** | 60.0 | 40.0 |",
    ]
    assert lines[-1] == "Paper (accuracy): 56.0. Figures in %."


def test_auxiliary_lm_loss_of_a_sequence_with_one_predicted_token() -> None:
    """Guards `.clamp(min=1)` in `auxiliary_lm_loss` (modeling_gpt1): a sequence with two real tokens has one
    prediction, and its loss is that token's cross-entropy (not half of it); an all-padding row counts as 0."""
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 7)
    ids = torch.tensor([[3, 5, 0, 0], [1, 2, 3, 4]])
    mask = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]])
    one = torch.nn.functional.cross_entropy(logits[0, 0:1], ids[0, 1:2])  # predict token 5 from token 3
    assert auxiliary_lm_loss(logits, ids, mask).item() == pytest.approx((one.item() + 0.0) / 2, rel=1e-6)
