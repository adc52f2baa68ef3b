"""Metrics through `evaluate`: the Hub modules when they can be fetched, else the copies bundled here.

`evaluate.load("accuracy")` needs the Hub; offline (or when the Hub cannot be reached) `bundled/bundled.py` is loaded
by path instead, with the metric's name as its `config_name`: one module whose table holds every metric a task row
may name, with the same outputs as the Hub module of that name.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import evaluate

logger = logging.getLogger(__name__)

BUNDLED = Path(__file__).resolve().parent / "bundled"
METRIC_NAMES = ("accuracy", "f1", "matthews_correlation", "pearsonr", "spearmanr")  # the rows of bundled.METRICS


@functools.cache  # a module is stateless between compute() calls: load each once per process
def load_metric(name: str) -> evaluate.EvaluationModule:
    """`evaluate.load(name)` from the Hub, falling back to the bundled module when offline or unreachable."""
    if name not in METRIC_NAMES:
        raise ValueError(f"unknown metric {name!r}; the bundled ones are {', '.join(METRIC_NAMES)}")
    if not evaluate.config.HF_EVALUATE_OFFLINE:
        try:
            return evaluate.load(name)
        except Exception as err:  # no network, Hub down, proxy: any failure means use the local copy
            logger.info("evaluate.load(%r) failed (%s); using the bundled module", name, err)
    return evaluate.load(str(BUNDLED), config_name=name)


__all__ = ["BUNDLED", "METRIC_NAMES", "load_metric"]
