"""The Hub's `accuracy`, `f1`, `matthews_correlation`, `pearsonr` and `spearmanr` modules as one `evaluate` module.

`evaluate.load(<this folder>, config_name=NAME)` gives the metric NAME, with the keys and defaults of the Hub module of
that name, so the offline fallback of `gpt1.metrics.load_metric` returns what `evaluate.load(NAME)` would. Each metric
is a row of `METRICS`: the scikit-learn or SciPy function, the input type and the keyword arguments it passes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import datasets
import evaluate
import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef


@dataclass(frozen=True)
class BundledMetric:
    """One metric: `score(references, predictions, **kwargs)` and the type its inputs take."""

    score: Callable[..., Any]
    dtype: str  # "int32" (class ids) or "float32" (similarity scores)
    description: str
    reference_url: str
    correlation: bool = False  # SciPy returns (statistic, p-value); `return_pvalue=True` adds the latter


_SKLEARN = "https://scikit-learn.org/stable/modules/generated/sklearn.metrics."
_SCIPY = "https://docs.scipy.org/doc/scipy/reference/generated/scipy.stats."
METRICS: dict[str, BundledMetric] = {
    "accuracy": BundledMetric(
        accuracy_score, "int32", "Accuracy = (TP + TN) / (TP + TN + FP + FN).", _SKLEARN + "accuracy_score.html"
    ),
    "f1": BundledMetric(
        f1_score,
        "int32",
        "F1 = 2 * precision * recall / (precision + recall); binary by default (positive label 1).",
        _SKLEARN + "f1_score.html",
    ),
    "matthews_correlation": BundledMetric(
        matthews_corrcoef,
        "int32",
        "Matthews correlation coefficient (CoLA's metric).",
        _SKLEARN + "matthews_corrcoef.html",
    ),
    "pearsonr": BundledMetric(
        pearsonr, "float32", "Pearson correlation coefficient (STS-B's metric).", _SCIPY + "pearsonr.html", True
    ),
    "spearmanr": BundledMetric(
        spearmanr, "float32", "Spearman rank correlation coefficient.", _SCIPY + "spearmanr.html", True
    ),
}


class Bundled(evaluate.Metric):
    """The metric named by `config_name`, one of `METRICS`."""

    def _info(self) -> evaluate.MetricInfo:
        if self.config_name not in METRICS:
            raise ValueError(f"unknown metric {self.config_name!r}; the bundled ones are {', '.join(METRICS)}")
        metric = METRICS[self.config_name]
        value = datasets.Value(metric.dtype)
        return evaluate.MetricInfo(
            description=metric.description,
            citation="",
            inputs_description=f"predictions and references: lists of {metric.dtype} values.",
            features=datasets.Features({"predictions": value, "references": value}),
            reference_urls=[metric.reference_url],
        )

    def _compute(self, predictions, references, return_pvalue: bool = False, **kwargs: Any) -> dict[str, Any]:
        metric = METRICS[self.config_name]
        if not metric.correlation:
            score = metric.score(references, predictions, **kwargs)
            return {self.config_name: float(score) if np.ndim(score) == 0 else score}
        statistic, pvalue = metric.score(references, predictions, **kwargs)
        return {self.config_name: float(statistic), **({"p-value": float(pvalue)} if return_pvalue else {})}
