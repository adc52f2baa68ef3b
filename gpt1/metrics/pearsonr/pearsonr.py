"""Pearson correlation, STS-B's metric (a local copy of the Hub's `pearsonr` module)."""

import datasets
import evaluate
from scipy.stats import pearsonr


class Pearsonr(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="Pearson correlation coefficient between predictions and references.",
            citation="",
            inputs_description="predictions and references: lists of floats.",
            features=datasets.Features(
                {"predictions": datasets.Value("float32"), "references": datasets.Value("float32")}
            ),
            reference_urls=["https://docs.scipy.org/doc/scipy/reference/generated/scipy.stats.pearsonr.html"],
        )

    def _compute(self, predictions, references, return_pvalue=False):
        result = pearsonr(references, predictions)
        out = {"pearsonr": float(result[0])}
        if return_pvalue:
            out["p-value"] = float(result[1])
        return out
