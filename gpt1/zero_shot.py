"""The paper's zero-shot heuristics (section 5, Fig. 2 right): task performance of a language model never fine-tuned.

- SST-2: append "very" to the text and compare the LM's next-token probability of "positive" and "negative".
- CoLA: the average token log-probability of the sentence, thresholded (the threshold that maximises Matthews
  correlation on training sentences).
- RACE (and any multiple-choice task, Story Cloze included): the answer with the highest average token
  log-probability given the context (RACE: the passage and the question).

Which heuristic scores a task is the task's (`TaskSpec.heuristic`: its own, else its transform's); `HEURISTICS` maps
those names to the functions here. Entailment and similarity tasks (MNLI, SNLI, QQP, ...) have none in the paper.

Inputs are plain text, without the fine-tuning tokens: the model is scored as it was pretrained.

    python scripts/zero_shot.py --model_name_or_path outputs/pretrain/model --data_dir ../shared/data
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from datasets import DatasetDict
from transformers import HfArgumentParser

from modeling_gpt1 import GPT1ForCausalLM
from tokenization import GPT1Tokenizer

from .cli import one_line, user_error
from .hub import HubError, MissingTokenizerError, hub_errors, is_local_path, load_tokenizer
from .io import OutputDirError, check_output_dir
from .metrics import load_metric
from .results import markdown_table, write_results
from .task_data import load_task_data, subsample
from .task_errors import TaskError
from .tasks import TASKS, TaskSpec, get_task

logger = logging.getLogger(__name__)

# Every task of the table that has a heuristic; the command's default is those whose data `../shared/data` holds.
ZERO_SHOT_TASKS = tuple(name for name, task in TASKS.items() if task.heuristic is not None and name != "demo")
DEFAULT_TASKS = ("sst2", "cola", "story_cloze")


class ZeroShotError(ValueError):
    """A user mistake in the options, the model or a task; `main` prints it as one `error:` line and exits 2."""


def _ids(tokenizer: GPT1Tokenizer, texts: Sequence[str]) -> list[list[int]]:
    return tokenizer(list(texts), add_special_tokens=False)["input_ids"] if texts else []


def _batched_forward(model: GPT1ForCausalLM, rows: list[list[int]], batch_size: int):
    """Yield `(batch rows, log-probabilities (B, T, V))` for right-padded batches of id lists."""
    if batch_size < 1:  # a negative step would yield nothing, and every score would be silently missing
        raise ZeroShotError(f"batch_size must be a positive integer, got {batch_size}")
    device = next(model.parameters()).device
    for i in range(0, len(rows), batch_size):
        chunk = rows[i : i + batch_size]
        T = max(len(r) for r in chunk)
        ids = torch.zeros((len(chunk), T), dtype=torch.long)
        mask = torch.zeros((len(chunk), T), dtype=torch.long)
        for j, r in enumerate(chunk):
            ids[j, : len(r)] = torch.tensor(r)
            mask[j, : len(r)] = 1
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        yield chunk, F.log_softmax(logits.float(), dim=-1)


@torch.no_grad()
def continuation_logprobs(
    model: GPT1ForCausalLM,
    tokenizer: GPT1Tokenizer,
    contexts: Sequence[str | None],
    continuations: Sequence[str],
    batch_size: int = 16,
    max_length: int | None = None,
    prefix_token_id: int | None = None,
) -> list[tuple[float, int]]:
    """`(sum of log p(token | prefix), token count)` of each continuation after its context.

    Without a context the first token has no prediction and is not scored, unless `prefix_token_id` stands in for
    the missing context: then every token is scored. With `tokenizer.eos_token_id` (the newline) that is what
    lm-evaluation-harness computes for an empty context and for `loglikelihood_rolling` (docs/tokenizer.md). Over-long
    inputs lose the start of the context (the continuation, the part being scored, is kept whole where it fits).
    """
    max_length = max_length or model.config.n_positions
    ctx_ids = _ids(tokenizer, [c or "" for c in contexts])
    cont_ids = _ids(tokenizer, continuations)
    rows, starts = [], []
    for ctx, cont in zip(ctx_ids, cont_ids):
        if not ctx and prefix_token_id is not None:
            ctx = [prefix_token_id]
        cont = cont[:max_length]
        row = (ctx + cont)[-max_length:]
        rows.append(row)
        starts.append(max(len(row) - len(cont), 1))  # index of the first scored token
    out = []
    for chunk_rows, logprobs in _batched_forward(model, rows, batch_size):
        for j, row in enumerate(chunk_rows):
            k = len(out)
            targets = torch.tensor(row[starts[k] :], device=logprobs.device)
            scored = logprobs[j, starts[k] - 1 : len(row) - 1].gather(-1, targets[:, None])
            out.append((float(scored.sum()), len(targets)))
    return out


@torch.no_grad()
def next_token_logprobs(
    model: GPT1ForCausalLM, tokenizer: GPT1Tokenizer, texts: Sequence[str], words: Sequence[str], batch_size: int = 16
) -> np.ndarray:
    """`(len(texts), len(words))` log-probabilities of each word's first token right after each text."""
    word_ids = [ids[0] for ids in _ids(tokenizer, words)]
    max_length = model.config.n_positions
    rows = [r[-max_length:] for r in _ids(tokenizer, texts)]
    out = []
    for chunk_rows, logprobs in _batched_forward(model, rows, batch_size):
        last = torch.tensor([len(r) - 1 for r in chunk_rows], device=logprobs.device)
        out.append(logprobs[torch.arange(len(chunk_rows)), last][:, word_ids].cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(words)))


def multiple_choice_scores(
    model: GPT1ForCausalLM,
    tokenizer: GPT1Tokenizer,
    contexts: Sequence[str],
    choices: Sequence[Sequence[str]],
    batch_size: int = 16,
) -> np.ndarray:
    """`(examples, choices)` average log-probability of each answer given its context: the multiple-choice scorer."""
    k = len(choices[0])
    flat_ctx = [c for c in contexts for _ in range(k)]
    flat_ans = [a for answers in choices for a in answers]
    scored = continuation_logprobs(model, tokenizer, flat_ctx, flat_ans, batch_size)
    return np.array([total / max(n, 1) for total, n in scored]).reshape(len(contexts), k)


def sentence_scores(
    model: GPT1ForCausalLM, tokenizer: GPT1Tokenizer, texts: Sequence[str], batch_size: int = 16
) -> np.ndarray:
    """Average token log-probability of each text (CoLA's heuristic score)."""
    scored = continuation_logprobs(model, tokenizer, [None] * len(texts), texts, batch_size)
    return np.array([total / max(n, 1) for total, n in scored])


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold on `scores` (predict 1 above it) that maximises Matthews correlation with `labels`."""
    from sklearn.metrics import matthews_corrcoef

    candidates = np.unique(scores)
    if len(candidates) > 200:
        candidates = np.quantile(scores, np.linspace(0.01, 0.99, 99))
    mcc = [matthews_corrcoef(labels, (scores > t).astype(int)) for t in candidates]
    return float(candidates[int(np.argmax(mcc))])


Scored = tuple[np.ndarray, str, dict[str, Any]]  # predictions, the heuristic in words, details for the results


def very_heuristic(model, tokenizer, task: TaskSpec, data: DatasetDict, evaluation: dict, **kw: Any) -> Scored:
    """SST-2: the text followed by "very", then p("positive") against p("negative") as the next token."""
    texts = [f"{t.strip()} very" for t in evaluation[task.columns.text[0]]]
    logprobs = next_token_logprobs(model, tokenizer, texts, ["negative", "positive"], kw["batch_size"])
    return logprobs.argmax(-1), 'text + "very": p("positive") vs p("negative") as the next token', {}


def threshold_heuristic(model, tokenizer, task: TaskSpec, data: DatasetDict, evaluation: dict, **kw: Any) -> Scored:
    """CoLA: the average token log-probability above a threshold fitted (Matthews correlation) on training rows."""
    if task.source.train_split not in data:
        raise ZeroShotError(f"the {task.name} heuristic fits its threshold on training sentences: no train split")
    train = subsample(data[task.source.train_split], kw["max_train_samples"]).to_dict()
    text = task.columns.text[0]
    threshold = best_threshold(
        sentence_scores(model, tokenizer, train[text], kw["batch_size"]), np.array(train[task.columns.label])
    )
    scores = sentence_scores(model, tokenizer, evaluation[text], kw["batch_size"])
    heuristic = "average token log-probability above a threshold fitted on training sentences"
    return (scores > threshold).astype(int), heuristic, {"threshold": threshold}


def answer_heuristic(model, tokenizer, task: TaskSpec, data: DatasetDict, evaluation: dict, **kw: Any) -> Scored:
    """Multiple choice: the answer with the highest average token log-probability given the context (its context
    columns joined by spaces: RACE's passage then question, so the question sits right before the answer)."""
    texts, context = task.columns.text, task.columns.context
    context_columns, answer_columns = texts[:context], texts[context:]
    contexts = [" ".join(parts) for parts in zip(*(evaluation[c] for c in context_columns))]
    choices = list(zip(*(evaluation[a] for a in answer_columns)))
    preds = multiple_choice_scores(model, tokenizer, contexts, choices, kw["batch_size"]).argmax(-1)
    return preds, "highest average log-probability of the answer given the context", {}


HEURISTICS = {"very": very_heuristic, "threshold": threshold_heuristic, "answer_logprob": answer_heuristic}


def zero_shot(
    model: GPT1ForCausalLM,
    tokenizer: GPT1Tokenizer,
    task: TaskSpec,
    data_dir: str | Path | None = None,
    max_eval_samples: int | None = None,
    max_train_samples: int | None = 2000,
    batch_size: int = 16,
    data: DatasetDict | None = None,
) -> dict[str, Any]:
    """Evaluate the LM on `task` with the paper's heuristic for it; the results dict `gpt1.results` tabulates.

    `data` is the task's splits when already loaded (`load_task_data`); otherwise they are read from `data_dir`.
    """
    if task.heuristic not in HEURISTICS:
        raise ZeroShotError(_no_heuristic(task))
    data = load_task_data(task, data_dir) if data is None else data
    evaluation = subsample(data[task.source.eval_split], max_eval_samples).to_dict()  # plain lists, columnar
    labels = np.array(evaluation[task.columns.label])
    preds, heuristic, details = HEURISTICS[task.heuristic](
        model, tokenizer, task, data, evaluation, batch_size=batch_size, max_train_samples=max_train_samples
    )
    metrics: dict[str, float] = {}
    for name in task.scoring.metrics:
        metrics.update(load_metric(name).compute(predictions=preds, references=labels))
    return {
        "run": f"{task.name} (zero-shot)",
        "task": task.name,
        "main_metric": task.main_metric,
        "metrics": metrics,
        "paper": None,  # Fig. 2 (right) plots these only as curves over pretraining
        "heuristic": heuristic,
        "eval_examples": len(labels),
        **details,
    }


@dataclass
class ZeroShotArguments:
    """What `scripts/zero_shot.py` needs; each field is also a flag."""

    model_name_or_path: str = field(metadata={"help": "A GPT-1 language-model checkpoint (folder or Hub id)."})
    tasks: list[str] = field(
        default_factory=lambda: list(DEFAULT_TASKS),
        metadata={"help": f"Tasks to score, of {', '.join(ZERO_SHOT_TASKS)}; default: those in ../shared/data."},
    )
    data_dir: str | None = field(default=None, metadata={"help": "Local data root laid out like ../shared/data."})
    output_dir: str = field(default="outputs/zero_shot", metadata={"help": "Where results.json/.md go."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Evaluate on a random slice."})
    max_train_samples: int | None = field(default=2000, metadata={"help": "CoLA: sentences to fit the threshold."})
    batch_size: int = 16


def _no_heuristic(task: TaskSpec) -> str:
    return f"no zero-shot heuristic for task {task.name!r}; have {', '.join(ZERO_SHOT_TASKS)}"


def check_zero_shot_arguments(args: ZeroShotArguments) -> list[TaskSpec]:
    """The tasks to score, once the options are known to be usable; before any model or data is read."""
    try:
        tasks = [get_task(name) for name in args.tasks]
    except TaskError as e:
        raise ZeroShotError(str(e)) from None
    for task in tasks:
        if task.heuristic not in HEURISTICS:
            raise ZeroShotError(_no_heuristic(task))
    for name in ("batch_size", "max_eval_samples", "max_train_samples"):
        value = getattr(args, name)
        if value is not None and value < 1:  # 0 would score nothing; a negative batch size too, silently
            raise ZeroShotError(f"--{name} must be a positive integer, got {value}")
    check_output_dir(args.output_dir, overwrite=True)  # a file there is found now, not after every task has run
    check_model_location(args.model_name_or_path)
    return tasks


def load_task(task: TaskSpec, data_dir: str | None) -> DatasetDict:
    """The task's data, with a missing folder or file, or an unreadable one, as a `ZeroShotError` naming the task."""
    try:
        return load_task_data(task, data_dir)
    except TaskError as e:
        message = one_line(e)
        raise ZeroShotError(message if message.startswith("task ") else f"task {task.name!r}: {message}") from None


def check_model_location(name: str) -> None:
    """Refuse a model path that is no saved model's folder; a name that is no path is left to the Hub."""
    if not is_local_path(name):
        return  # `name` or `owner/name`: a Hub repo id
    path = Path(name).expanduser()
    if not path.exists():
        raise ZeroShotError(f"--model_name_or_path: no such model folder: {name!r}")
    if not path.is_dir():
        raise ZeroShotError(f"--model_name_or_path {name!r} is a file, not a model folder")
    if not (path / "config.json").is_file():
        raise ZeroShotError(f"--model_name_or_path {name!r} has no config.json: not a saved model folder")


def load_language_model(name: str) -> tuple[GPT1ForCausalLM, GPT1Tokenizer]:
    """The GPT-1 LM in the folder (or Hub repo) `name` and its tokenizer, else the bundled GPT-1 tokenizer."""
    check_model_location(name)
    try:
        with hub_errors(name):
            model = GPT1ForCausalLM.from_pretrained(name).eval()
    except OSError as e:  # no weights, unreadable weights or config
        raise ZeroShotError(f"cannot load a GPT-1 language model from {name!r}: {one_line(e)}") from None
    try:
        tokenizer = load_tokenizer(name)
    except MissingTokenizerError as e:
        raise ZeroShotError(f"{e}: save the model with the tokenizer it was trained with") from None
    if len(tokenizer) > model.config.vocab_size:  # ids past the embedding would fail deep inside the forward pass
        raise ZeroShotError(
            f"the tokenizer used with {name!r} has {len(tokenizer)} tokens but the model embeds only "
            f"{model.config.vocab_size}: save the model with the tokenizer it was trained with"
        )
    tokenizer.add_fine_tuning_framing = False  # score plain text, as pretrained
    return model, tokenizer


def run(args: ZeroShotArguments) -> list[dict[str, Any]]:
    """Check everything the user gave, then score every task and write `results.json` / `results.md`."""
    tasks = check_zero_shot_arguments(args)
    data = {task.name: load_task(task, args.data_dir) for task in tasks}  # before the model: cheaper to fail on
    model, tokenizer = load_language_model(args.model_name_or_path)
    runs = []
    for task in tasks:
        start = time.time()
        result = zero_shot(
            model, tokenizer, task, args.data_dir, args.max_eval_samples, args.max_train_samples, args.batch_size,
            data=data[task.name],
        )  # fmt: skip
        result["seconds"] = round(time.time() - start, 1)
        result["model"] = args.model_name_or_path
        runs.append(result)
    write_results(args.output_dir, runs, title="Zero-shot")
    return runs


def main(argv: list[str] | None = None) -> int:
    """`scripts/zero_shot.py`: the zero-shot heuristics on a language model, results table printed and saved.

    Bad input (options, model, tasks, data, output folder) exits 2 with one `error:` line.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    (args,) = HfArgumentParser(ZeroShotArguments).parse_args_into_dataclasses(args=argv)
    try:
        runs = run(args)
    except (ZeroShotError, OutputDirError, HubError) as e:
        return user_error(e)
    print(markdown_table(runs, title="Zero-shot"))
    return 0


__all__ = [
    "DEFAULT_TASKS",
    "HEURISTICS",
    "ZERO_SHOT_TASKS",
    "ZeroShotArguments",
    "ZeroShotError",
    "best_threshold",
    "check_zero_shot_arguments",
    "check_model_location",
    "continuation_logprobs",
    "load_language_model",
    "main",
    "multiple_choice_scores",
    "next_token_logprobs",
    "run",
    "sentence_scores",
    "zero_shot",
]
