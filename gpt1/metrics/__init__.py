"""Metrics through `evaluate`: the Hub modules when they can be fetched, else the copies bundled here.

`evaluate.load("accuracy")` needs the Hub; offline (or when the Hub cannot be reached) the module of the same name
in this folder is loaded by path instead, with the same outputs. Each folder holds one script named like it, the
layout `evaluate.load(<folder>)` expects.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import evaluate

logger = logging.getLogger(__name__)

LOCAL_METRICS = Path(__file__).resolve().parent
METRIC_NAMES = ("accuracy", "f1", "matthews_correlation", "pearsonr", "spearmanr")


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
    return evaluate.load(str(LOCAL_METRICS / name))


__all__ = ["LOCAL_METRICS", "METRIC_NAMES", "load_metric"]
