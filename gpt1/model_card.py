"""Model cards for GPT-1 checkpoints: the `README.md` a Hub repo shows, with metadata the Hub indexes.

The metadata block (`library_name`, `license`, `tags`, `datasets`, `base_model`, `pipeline_tag` and a `model-index`
with the evaluation results) is built with `huggingface_hub.ModelCardData`, the body rendered from the template
below with `huggingface_hub.ModelCard.from_template`: what the model is, its size, a results table and how to load it
with and without this package.

Results files. `load_results` reads a JSON file in either of two forms:
- the `Trainer`'s own (`eval_results.json` / `all_results.json`): a flat mapping like `{"eval_accuracy": 0.61,
  "eval_loss": 1.2, "epoch": 3.0}`; the metrics are the numbers left after dropping the `eval_`/`test_` prefix and
  the bookkeeping keys (loss, runtime, throughput, epoch). Which task and dataset they belong to is given separately
  (`dataset=...` or the file's own `"task"`/`"dataset"` keys).
- explicit entries: `{"task": {"type": "text-classification", "name": "RTE"}, "dataset": {"type": "nyu-mll/glue",
  "name": "GLUE RTE", "config": "rte", "split": "validation"}, "metrics": {"accuracy": 0.56}}`, a list of them, or
  `{"results": [...]}`.
- `gpt1.finetuning`'s `results.json` (`{"title", "runs": [{"task": "rte", "metrics": {...}, "model_dir": ...}]}`):
  the dataset, split and task type come from the task table (`gpt1.tasks`).
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

BASE_MODEL = "openai-community/openai-gpt"
PAPER_URL = "https://cdn.openai.com/research-covers/language-unsupervised/language_understanding_paper.pdf"
# Trainer bookkeeping that is not a result.
NOT_METRICS = (
    "loss",
    "runtime",
    "samples_per_second",
    "steps_per_second",
    "epoch",
    "total_flos",
    "model_preparation_time",
)

# What each head is, its Hub pipeline/task type, and how to load it without this package (Python expression).
HEADS: dict[str, tuple[str, str, str]] = {
    "GPT1Model": ("the bare decoder (final hidden states)", "feature-extraction", "AutoModel"),
    "GPT1ForCausalLM": ("the language model", "text-generation", "AutoModelForCausalLM"),
    "GPT1LMHeadModel": ("the language model", "text-generation", "AutoModelForCausalLM"),
    "GPT1ForSequenceClassification": (
        "a classifier at the `_classify_` token (the paper's fine-tuning head)",
        "text-classification",
        "AutoModelForSequenceClassification",
    ),
    "GPT1ForMultipleChoice": (
        "a multiple-choice scorer at the `_classify_` token (the paper's fine-tuning head)",
        "multiple-choice",
        "AutoModelForMultipleChoice",
    ),
    "GPT1DoubleHeads": (
        "the language model plus a multiple-choice head at the `_classify_` token",
        "multiple-choice",
        "GPT1DoubleHeads",
    ),
}

TEMPLATE = """---
{{ card_data }}
---

# {{ model_name }}

A GPT-1 model ([Radford et al., 2018, *Improving Language Understanding by Generative Pre-Training*]({{ paper_url }})):
a {{ n_layer }}-layer post-LN Transformer decoder, {{ n_embd }} wide with {{ n_head }} heads, a {{ n_positions }}-token
context and a {{ vocab_size }}-token BPE vocabulary ({{ parameters }} parameters), as `{{ architecture }}`:
{{ head_description }}.{% if base_model %} Started from [`{{ base_model }}`](https://huggingface.co/{{ base_model }}).{% endif %}
{% if datasets %}
Trained/evaluated on: {{ datasets | join(", ") }}.
{% endif %}
## Results
{% if results %}
| Task | Dataset | Split | Metric | Value |
|---|---|---|---|---|
{% for row in result_rows -%}
| {{ row | join(" | ") }} |
{% endfor %}
{% else %}
No evaluation results were recorded for this checkpoint.
{% endif %}
## How to load

With the `gpt1` package installed (no remote code):

```python
from modeling_gpt1 import {{ architecture }}
from tokenization import GPT1Tokenizer

model = {{ architecture }}.from_pretrained("{{ repo_id }}")
tokenizer = GPT1Tokenizer.from_pretrained("{{ repo_id }}")
```

With `transformers` alone, the code stored in this repo (`modeling_gpt1.py`, `configuration_gpt1.py`,
`tokenization_gpt1.py` and the tokenizer modules it imports) is used:

```python
from transformers import AutoTokenizer{% if auto_class != architecture %}, {{ auto_class }}{% endif %}
{% if auto_class == architecture %}from transformers.dynamic_module_utils import get_class_from_dynamic_module

# GPT1DoubleHeads has no Auto class (its labels are LM labels, mc_labels the choices): fetch the class itself.
{{ architecture }} = get_class_from_dynamic_module("modeling_gpt1.{{ architecture }}", "{{ repo_id }}")
model = {{ architecture }}.from_pretrained("{{ repo_id }}")
# AutoModelForMultipleChoice.from_pretrained("{{ repo_id }}", trust_remote_code=True) loads the same weights
# and gives the same choice scores.
{% else %}
model = {{ auto_class }}.from_pretrained("{{ repo_id }}", trust_remote_code=True)
{% endif %}tokenizer = AutoTokenizer.from_pretrained("{{ repo_id }}", trust_remote_code=True)
```
{% if fine_tuned %}
Inputs are framed as in the paper: `tokenizer(text)` gives `_start_ text _classify_`, `tokenizer(a, b)` gives
`_start_ a _delimiter_ b _classify_`; the head reads the final hidden state at `_classify_`.
{% endif %}"""


@dataclass
class ResultsError(ValueError):
    """A results file that cannot be read as evaluation results."""

    path: str
    problem: str

    def __str__(self) -> str:
        return f"results file {self.path}: {self.problem}"


def _metrics(values: Mapping[str, Any]) -> dict[str, float]:
    """The metrics of a Trainer-style flat mapping: numbers, prefix dropped, bookkeeping removed."""
    out = {}
    for key, value in values.items():
        name = key.removeprefix("eval_").removeprefix("test_")
        if isinstance(value, bool) or not isinstance(value, int | float) or name in NOT_METRICS:
            continue
        out[name] = value
    return out


def _is_run_of(run: Any, model_dir: str | Path | None) -> bool:
    saved = run.get("model_dir") if isinstance(run, Mapping) else None
    return model_dir is None or saved is None or Path(saved).resolve() == Path(model_dir).resolve()


def _from_run(run: Any) -> Any:
    """An explicit entry from a `gpt1.finetuning` run, its dataset looked up in the task table."""
    if not isinstance(run, Mapping) or "task" not in run or "metrics" not in run:
        return run
    from .tasks import get_task  # here: the task table imports `datasets`, which rendering a card does not need

    try:
        task = get_task(run["task"])
    except ValueError:  # a custom task: the caller says what the data was
        return {"metrics": run["metrics"]}
    path, config = task.source.hub or (task.name, None)
    split = task.source.eval_split
    dataset = {"type": path, "name": f"{path.split('/')[-1].upper()} {config.upper()}" if config else task.name}
    dataset |= {"config": config, "split": split} if config else {"split": split}
    return {
        "task": {"type": task.transform.card_task, "name": task.name},
        "dataset": dataset,
        "metrics": run["metrics"],
    }


def load_results(
    path: str | Path,
    *,
    task_type: str = "text-classification",
    task_name: str | None = None,
    dataset: Mapping[str, str] | None = None,
    model_dir: str | Path | None = None,
) -> list[EvalResult]:
    """Read a results JSON file (see the module docstring) into one `EvalResult` per metric.

    `task_type`, `task_name` and `dataset` (keys `type`, `name`, optional `config`, `split`) describe results that
    do not say themselves what they were measured on (the Trainer's flat files). With `model_dir`, runs of a
    fine-tuning results file that saved another model are left out.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"results file {path} does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ResultsError(str(path), f"not valid JSON ({e})") from e
    if isinstance(data, Mapping) and "results" in data:
        data = data["results"]
    if isinstance(data, Mapping) and isinstance(data.get("runs"), list):
        data = [_from_run(run) for run in data["runs"] if _is_run_of(run, model_dir)]
    entries = data if isinstance(data, list) else [data]
    results = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ResultsError(str(path), f"entry {i} is a {type(entry).__name__}, expected a JSON object")
        metrics = entry["metrics"] if "metrics" in entry else _metrics(entry)
        if not isinstance(metrics, Mapping) or not metrics:
            raise ResultsError(
                str(path), f"entry {i} has no metrics (numbers like 'eval_accuracy' or a 'metrics' object)"
            )
        task = entry.get("task") or {}
        task = {"type": task} if isinstance(task, str) else task
        where = entry.get("dataset") or dataset
        where = {"name": where, "type": where} if isinstance(where, str) else where
        if not where or not where.get("name") or not where.get("type"):
            raise ResultsError(
                str(path),
                f"entry {i} does not say which dataset it was measured on: add a 'dataset' object with 'type' and "
                "'name' to the file, or pass the dataset (--dataset_type/--dataset_name)",
            )
        for metric, value in metrics.items():
            results.append(
                EvalResult(
                    task_type=task.get("type", task_type),
                    task_name=task.get("name", task_name),
                    dataset_type=where["type"],
                    dataset_name=where["name"],
                    dataset_config=where.get("config"),
                    dataset_split=where.get("split"),
                    metric_type=metric,
                    metric_value=round(value, 4) if isinstance(value, float) else value,
                )
            )
    return results


def make_model_card(
    repo_id: str,
    config: Mapping[str, Any],
    *,
    results: Iterable[EvalResult] = (),
    datasets: list[str] | None = None,
    base_model: str | None = BASE_MODEL,
    tags: list[str] | None = None,
    license: str = "mit",
    parameters: int | None = None,
) -> ModelCard:
    """The card of a GPT-1 checkpoint: `config` is the saved `config.json` (a dict), `results` its evaluations."""
    architecture = (config.get("architectures") or ["GPT1ForCausalLM"])[0]
    description, pipeline_tag, auto_class = HEADS.get(architecture, HEADS["GPT1ForCausalLM"])
    results = list(results)
    model_name = repo_id.split("/")[-1]
    card_data = ModelCardData(
        library_name="transformers",
        license=license,
        language="en",
        pipeline_tag=pipeline_tag,
        tags=sorted({"gpt1", "openai-gpt", "custom_code", *(tags or [])}),
        datasets=datasets or None,
        base_model=base_model,
        model_name=model_name,
        eval_results=results or None,
    )
    n_embd, n_layer, vocab = config["n_embd"], config["n_layer"], config["vocab_size"]
    if parameters is None:  # embeddings + per block: attention 4C^2+4C, MLP 2C*I+I+C, two LayerNorms 4C
        inner = config.get("n_inner") or 4 * n_embd
        block = 4 * n_embd * n_embd + 4 * n_embd + 2 * n_embd * inner + inner + n_embd + 4 * n_embd
        parameters = (vocab + config["n_positions"]) * n_embd + n_layer * block
    return ModelCard.from_template(
        card_data,
        template_str=TEMPLATE,
        model_name=model_name,
        repo_id=repo_id,
        paper_url=PAPER_URL,
        architecture=architecture,
        auto_class=auto_class,
        head_description=description,
        n_layer=n_layer,
        n_embd=n_embd,
        n_head=config["n_head"],
        n_positions=config["n_positions"],
        vocab_size=vocab,
        parameters=f"{parameters / 1e6:.1f}M" if parameters >= 1e5 else f"{parameters:,}",
        base_model=base_model,
        datasets=datasets or [],
        results=results,
        result_rows=[
            [markdown_cell(cell) for cell in (r.task_name or r.task_type, r.dataset_name, r.dataset_split or "")]
            + [markdown_cell(r.metric_name or r.metric_type), markdown_cell(r.metric_value)]
            for r in results
        ],
        fine_tuned=config.get("classify_token_id") is not None,
    )


def markdown_cell(value: Any) -> str:
    """`value` as the text of one Markdown table cell: one line, no markup, no cell breaks.

    Results files are user data (a task or dataset name can hold `|`, a newline or HTML): raw, they would split the
    row, end the table or render as HTML on the Hub page.
    """
    return html.escape(" ".join(str(value).split())).replace("|", "\\|")


def card_for_folder(
    folder: str | Path, repo_id: str, *, results_file: str | Path | None = None, **kwargs: Any
) -> ModelCard:
    """The card of a saved model folder, from its `config.json` and (if given or present) a results file.

    Without `results_file`, the first readable of the folder's `results.json`/`eval_results.json`/`all_results.json`
    and its parent's `results.json` (where `gpt1.finetuning` writes it, beside `model/`) is used; a Trainer file
    needs a `dataset` to say what it was measured on.
    """
    folder = Path(folder)
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{folder} has no config.json: not a saved model (save it with save_pretrained)")
    config = json.loads(config_file.read_text(encoding="utf-8"))
    loader_keys = ("task_type", "task_name", "dataset")
    loader_kwargs = {k: kwargs.pop(k) for k in loader_keys if k in kwargs}
    results: list[EvalResult] = []
    if results_file is not None:
        results = load_results(results_file, **loader_kwargs)
    else:
        names = ("results.json", "eval_results.json", "all_results.json")
        for candidate in [folder / name for name in names] + [folder.parent / "results.json"]:
            if candidate.is_file():
                try:
                    results = load_results(candidate, model_dir=folder, **loader_kwargs)
                except ResultsError:
                    continue
                if results:
                    break
    return make_model_card(repo_id, config, results=results, **kwargs)


__all__ = ["BASE_MODEL", "ResultsError", "card_for_folder", "load_results", "make_model_card"]
