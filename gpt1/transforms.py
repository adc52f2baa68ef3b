"""The paper's input transformations (section 3.3, Fig. 1): how a task's example becomes framed token sequences, and
how those are batched.

The paper fine-tunes one pretrained model on every task by re-arranging the input, never the network: a linear
layer reads the final hidden state at `_classify_`. The four arrangements are the `TRANSFORMS`:

- classification:   `_start_ text _classify_`
- entailment:       `_start_ premise _delimiter_ hypothesis _classify_`
- similarity:       both orders, `[_start_ a _delimiter_ b _classify_, _start_ b _delimiter_ a _classify_]`, whose
                    final states the model sums before the linear layer
- multiple_choice:  `_start_ context _delimiter_ answer _classify_` per answer, a softmax over the answers

Each is a `Transform` object owning all that differs between them (texts per sequence, truncation, head class,
zero-shot heuristic), so no code branches on a transform's name. The framing itself is done by the tokenizer
(`GPT1Tokenizer` with `add_fine_tuning_framing`), the one place special tokens are inserted; this module picks the
texts, cuts them to fit (`encode_batch`) and pads them into batches (`pad_collate`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modeling_gpt1 import GPT1ForMultipleChoice, GPT1ForSequenceClassification

if TYPE_CHECKING:
    from .tasks import Columns, TaskSpec

Framed = list[tuple[list[str], str | None]]  # an example's sequences: (text segments, text after _delimiter_)


@dataclass(frozen=True)
class Transform:
    """One of the paper's input transformations (Fig. 1): how a row becomes framed sequences, and what reads them.

    Each sequence is `(first, second)`: `first` a list of text segments (concatenated; only multiple choice has more
    than one, e.g. RACE's passage and question) and `second` the text after `_delimiter_`, or None. The tokenizer's
    `build_inputs_with_special_tokens` adds the framing; `truncate` makes room for it, never at `_classify_`'s cost.

    Attributes:
        name: The name on the command line (`--transform`) and in `results.json`.
        framing: The sequence it builds, for messages and documentation.
        texts: Text columns it takes (multiple choice: the least, a context and two answers).
        model_class: The head that reads the sequences.
        zero_shot: The zero-shot heuristic (`gpt1.zero_shot.HEURISTICS`) for any task of this transform, if any.
        card_task: The Hub's task type for a model card's results (`model-index`).
    """

    name: str
    framing: str
    texts: int
    model_class: type
    zero_shot: str | None = None
    card_task: str = "text-classification"

    def check(self, columns: Columns) -> str | None:
        """What is wrong with a task's columns for this transform, or None when they fit."""
        if len(columns.text) != self.texts:
            return f"the {self.name} transform takes {self.texts} text column(s), got {list(columns.text)}"
        return None

    def num_labels(self, columns: Columns) -> int:
        """Outputs of the linear head: the classes, or 1 for regression (no `label_names`)."""
        return 1 if columns.label_names is None else len(columns.label_names)

    def is_regression(self, columns: Columns) -> bool:
        return columns.label_names is None

    def head_config(self, columns: Columns) -> dict[str, Any]:
        """`GPT1Config` attributes the head needs: its outputs, the loss (`problem_type`) and the class names."""
        config: dict[str, Any] = {
            "num_labels": self.num_labels(columns),
            "problem_type": "regression" if self.is_regression(columns) else "single_label_classification",
        }
        if columns.label_names is not None:
            config["id2label"] = dict(enumerate(columns.label_names))
            config["label2id"] = {name: i for i, name in enumerate(columns.label_names)}
        return config

    def min_length(self, columns: Columns) -> int:
        """The shortest `max_length` that holds the framing tokens and one token of each text."""
        return 2 * self.texts + 1  # _start_ a _classify_, or _start_ a _delimiter_ b _classify_

    def sequences(self, columns: Columns, texts: Sequence[str]) -> Framed:
        """One example's sequences, from its text cells in `columns.text` order."""
        return [(list(texts[:1]), texts[1] if len(texts) > 1 else None)]

    def truncate(
        self, first: list[list[int]], second: list[int] | None, max_length: int
    ) -> tuple[list[int], list[int] | None]:
        """Token ids cut to fit `max_length` with the framing, ends cut (the authors released no rule for these
        transforms): the `tokenizers` library's `longest_first`, which keeps the shorter text (the first, on a tie)
        whole up to half the budget and gives the other the rest."""
        a = [t for segment in first for t in segment]
        budget = max_length - (3 if second is not None else 2)
        if second is None:
            return a[:budget], None
        b = list(second)
        if len(a) + len(b) > budget:
            if len(a) > len(b):  # a tie caps the first text
                b = b[: budget // 2]
                a = a[: budget - len(b)]
            else:
                a = a[: budget // 2]
                b = b[: budget - len(a)]
        return a, b


class Similarity(Transform):
    """Both orders of the pair: the model sums their final states, since similarity has no inherent order."""

    def sequences(self, columns: Columns, texts: Sequence[str]) -> Framed:
        return [([texts[0]], texts[1]), ([texts[1]], texts[0])]


class MultipleChoice(Transform):
    """`_start_ context _delimiter_ answer _classify_` per answer; the head takes a softmax over the answers.

    The context is the first `columns.context` text columns (Story Cloze: the story; RACE: passage, question).
    Truncation: the authors' Story Cloze rule, each segment cut to `max_length // 2 - 2` tokens keeping its head;
    with a passage (two context columns or more) the answer and the question keep that cap and the passage takes
    what is left, cut from its end (see `truncate`).
    """

    def check(self, columns: Columns) -> str | None:
        answers = len(columns.text) - columns.context
        if columns.context < 1 or answers < 2:
            return (
                f"multiple_choice takes {max(columns.context, 1)} context column(s) and at least two answer "
                f"columns, got {list(columns.text)}"
            )
        if columns.label_names is not None and len(columns.label_names) != answers:
            return f"{len(columns.label_names)} label names for {answers} answers"
        return None

    def num_labels(self, columns: Columns) -> int:
        return len(columns.text) - columns.context

    def is_regression(self, columns: Columns) -> bool:
        return False

    def head_config(self, columns: Columns) -> dict[str, Any]:
        return {}  # one score per answer sequence, whatever the number of answers: nothing to size

    def min_length(self, columns: Columns) -> int:
        return 6  # the authors' cap, max_length // 2 - 2, must leave one token per segment

    def sequences(self, columns: Columns, texts: Sequence[str]) -> Framed:
        context = list(texts[: columns.context])
        return [(context, answer) for answer in texts[columns.context :]]

    def truncate(
        self, first: list[list[int]], second: list[int] | None, max_length: int
    ) -> tuple[list[int], list[int] | None]:
        """The authors' rule (their `transform_roc`): each segment at most `max_length // 2 - 2` tokens, head kept.

        A passage (the first of several context segments, RACE's article, often longer than the model's context)
        instead takes whatever the capped question and answer leave, and loses its END: the question and answer are
        what the choice is about and are kept whole; the head of the passage is kept as the authors keep heads, and
        it is where RACE's articles set out their subject.
        """
        half = max_length // 2 - 2
        answer = list(second or [])[:half]
        if len(first) == 1:
            return first[0][:half], answer
        question = [t for segment in first[1:] for t in segment][:half]
        passage = first[0][: max(max_length - 3 - len(question) - len(answer), 0)]
        return passage + question, answer


CLASSIFICATION = Transform("classification", "_start_ text _classify_", 1, GPT1ForSequenceClassification)
ENTAILMENT = Transform(
    "entailment", "_start_ premise _delimiter_ hypothesis _classify_", 2, GPT1ForSequenceClassification
)
SIMILARITY = Similarity(
    "similarity", "_start_ a _delimiter_ b _classify_ and _start_ b _delimiter_ a _classify_", 2,
    GPT1ForSequenceClassification,
)  # fmt: skip
MULTIPLE_CHOICE = MultipleChoice(
    "multiple_choice", "_start_ context _delimiter_ answer _classify_ per answer", 3, GPT1ForMultipleChoice,
    zero_shot="answer_logprob", card_task="multiple-choice",
)  # fmt: skip
TRANSFORMS: dict[str, Transform] = {t.name: t for t in (CLASSIFICATION, ENTAILMENT, SIMILARITY, MULTIPLE_CHOICE)}


# --- inputs ------------------------------------------------------------------------------------------------------


def as_text(value: Any) -> str:
    """A text cell as a string: a missing one (None, NaN) is empty text, never the word "None" or "nan"."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return "" if missing else value if isinstance(value, str) else str(value)


def text_pairs(task: TaskSpec, batch: dict[str, list]) -> list[Framed]:
    """Per example, the `(texts, text_pair)` of each sequence the transform makes (1 view, 2 orders, k answers)."""
    columns = [[as_text(v) for v in batch[c]] for c in task.columns.text]
    return [task.transform.sequences(task.columns, row) for row in zip(*columns)]


def encode_batch(task: TaskSpec, tokenizer: Any, batch: dict[str, list], max_length: int) -> dict[str, list]:
    """Tokenize a batch of examples into the task's framed sequences (a `datasets.map` function).

    `input_ids` is one list per example for classification and entailment, and a list of views/answers for
    similarity and multiple choice. Each text is tokenized once; the transform cuts the ids to fit (`truncate`)
    and the tokenizer frames them (`build_inputs_with_special_tokens`), so `_classify_` always ends a sequence.
    `labels` come with the batch's label column, when it has one (an unlabelled test set has none).
    """
    views = text_pairs(task, batch)
    texts = sorted({t for example in views for first, second in example for t in (*first, second) if t is not None})
    ids = dict(zip(texts, tokenizer(texts, add_special_tokens=False)["input_ids"])) if texts else {}
    classify = tokenizer.classify_token_id
    encoded = []
    for example in views:
        rows = []
        for first, second in example:
            a, b = task.transform.truncate([ids[t] for t in first], ids[second] if second is not None else None,
                                           max_length)  # fmt: skip
            rows.append(tokenizer.build_inputs_with_special_tokens(a, b))
        encoded.append(rows)
    if classify is None or any(not seq or seq[-1] != classify for rows in encoded for seq in rows):
        raise ValueError(
            "the tokenizer does not frame inputs with _start_ ... _classify_: use tokenization.GPT1Tokenizer "
            "prepared with tokenization.prepare_for_finetuning (add_fine_tuning_framing=True)"
        )
    # One sequence per example is a flat list; views and answers are a list per example (`pad_collate`).
    out: dict[str, list] = {"input_ids": [rows if len(rows) > 1 else rows[0] for rows in encoded]}
    if task.columns.label in batch:
        out["labels"] = batch[task.columns.label]
    return out


def pad_collate(features: list[dict[str, Any]], pad_token_id: int = 0) -> dict[str, Any]:
    """Pad `(T,)` or `(k, T)` id lists to the longest sequence in the batch; the attention mask marks real tokens."""
    import torch

    rows = [f["input_ids"] for f in features]
    nested = isinstance(rows[0][0], list)
    seqs = [s for r in rows for s in r] if nested else rows
    T = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), T), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), T), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    if nested:
        ids, mask = ids.view(len(rows), -1, T), mask.view(len(rows), -1, T)
    batch = {"input_ids": ids, "attention_mask": mask}
    if "labels" in features[0]:
        labels = [f["labels"] for f in features]
        batch["labels"] = torch.tensor(labels, dtype=torch.float if isinstance(labels[0], float) else torch.long)
    return batch


__all__ = [
    "CLASSIFICATION",
    "ENTAILMENT",
    "MULTIPLE_CHOICE",
    "SIMILARITY",
    "TRANSFORMS",
    "MultipleChoice",
    "Similarity",
    "Transform",
    "as_text",
    "encode_batch",
    "pad_collate",
    "text_pairs",
]
