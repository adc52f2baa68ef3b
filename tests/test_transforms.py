"""`gpt1.transforms`: the paper's four input transformations, their truncation rules, and batching."""

from __future__ import annotations

import pytest
import torch

from gpt1.tasks import TASKS, Columns, custom_task
from gpt1.transforms import TRANSFORMS, as_text, encode_batch, pad_collate
from tokenization import GPT1Tokenizer


@pytest.fixture(scope="module")
def tokenizer() -> GPT1Tokenizer:
    return GPT1Tokenizer(add_fine_tuning_framing=True)


def ids_to_tokens(tokenizer, ids):
    return tokenizer.convert_ids_to_tokens(ids)


def test_each_transform_frames_inputs_as_the_paper(tokenizer):
    batch = {"a": ["the cat sat"], "b": ["a dog ran"], "c": ["it was red"], "label": [1]}
    cls = encode_batch(custom_task("classification", ["a"], label_names=["n", "p"]), tokenizer, batch, 64)
    assert ids_to_tokens(tokenizer, cls["input_ids"][0]) == ["_start_", "the</w>", "cat</w>", "sat</w>", "_classify_"]
    ent = encode_batch(custom_task("entailment", ["a", "b"], label_names=["n", "p"]), tokenizer, batch, 64)
    tokens = ids_to_tokens(tokenizer, ent["input_ids"][0])
    assert tokens[0] == "_start_" and tokens[4] == "_delimiter_" and tokens[-1] == "_classify_"
    sim = encode_batch(custom_task("similarity", ["a", "b"]), tokenizer, batch, 64)
    first, second = (ids_to_tokens(tokenizer, ids) for ids in sim["input_ids"][0])
    assert first[1:4] == second[5:8] and first[5:8] == second[1:4]  # both orders
    mc = encode_batch(custom_task("multiple_choice", ["a", "b", "c"]), tokenizer, batch, 64)
    answers = [ids_to_tokens(tokenizer, ids) for ids in mc["input_ids"][0]]
    assert [a[5] for a in answers] == ["a</w>", "it</w>"] and all(a[-1] == "_classify_" for a in answers)


def test_truncation_keeps_classify_token(tokenizer):
    batch = {"a": ["word " * 100], "b": ["short pair"], "label": [0]}
    out = encode_batch(custom_task("entailment", ["a", "b"], label_names=["x", "y"]), tokenizer, batch, 16)
    tokens = ids_to_tokens(tokenizer, out["input_ids"][0])
    assert len(tokens) == 16 and tokens[-1] == "_classify_"
    assert tokens[-4:-1] == ["_delimiter_", "short</w>", "pair</w>"]  # the longest part was cut


def test_unframed_tokenizer_is_refused():
    plain = GPT1Tokenizer()
    with pytest.raises(ValueError, match="does not frame"):
        encode_batch(
            custom_task("classification", ["a"], label_names=["x", "y"]), plain, {"a": ["hi"], "label": [0]}, 8
        )


def test_a_tokenizer_that_holds_the_framing_tokens_but_does_not_frame_is_refused():
    """A fine-tuning tokenizer with framing switched off (`add_fine_tuning_framing=False` on a saved one) still has a
    `_classify_` id, but its sequences do not end with it: the head would read the wrong position."""
    tokenizer = GPT1Tokenizer(add_fine_tuning_framing=True)
    tokenizer.add_fine_tuning_framing = False
    assert tokenizer.classify_token_id is not None
    task = custom_task("classification", ["a"], label_names=["x", "y"])
    with pytest.raises(ValueError, match="does not frame"):
        encode_batch(task, tokenizer, {"a": ["hi there"], "label": [0]}, 8)


@pytest.mark.parametrize(
    ("text", "context", "takes"), [(("a", "b", "c"), 0, 1), (("a", "b"), 1, 1), (("p", "q", "a"), 2, 2)]
)
def test_multiple_choice_check_says_how_many_context_columns_it_takes(text, context, takes):
    """No context column, or one answer: refused, the message saying how many context columns the task takes."""
    message = TRANSFORMS["multiple_choice"].check(Columns(text=text, context=context))
    assert message == (
        f"multiple_choice takes {takes} context column(s) and at least two answer columns, got {list(text)}"
    )
    assert TRANSFORMS["multiple_choice"].check(Columns(text=(*text, "d", "e"), context=max(context, 1))) is None


def test_pad_collate_pads_views_and_masks():
    batch = pad_collate([{"input_ids": [[1, 2, 3], [4]], "labels": 0}, {"input_ids": [[5], [6, 7]], "labels": 1}])
    assert batch["input_ids"].shape == (2, 2, 3) and batch["labels"].dtype == torch.long
    assert batch["attention_mask"][0, 1].tolist() == [1, 0, 0]
    flat = pad_collate([{"input_ids": [1, 2], "labels": 0.5}, {"input_ids": [3], "labels": 2.0}], pad_token_id=0)
    assert flat["input_ids"].tolist() == [[1, 2], [3, 0]] and flat["labels"].dtype == torch.float


def test_encode_batch_reads_a_missing_text_as_empty(tokenizer):
    task = custom_task("entailment", ["a", "b"], label_names=["n", "p"])
    out = encode_batch(task, tokenizer, {"a": ["the cat"], "b": [None], "label": [0]}, 16)
    assert ids_to_tokens(tokenizer, out["input_ids"][0]) == [
        "_start_",
        "the</w>",
        "cat</w>",
        "_delimiter_",
        "_classify_",
    ]
    out = encode_batch(task, tokenizer, {"a": [float("nan")], "b": ["a dog"], "label": [0]}, 16)
    assert "nan</w>" not in ids_to_tokens(tokenizer, out["input_ids"][0])


def test_race_truncation_keeps_question_option_and_framing(tokenizer):
    """A 2,000-token passage: every sequence fits the context, ends `_delimiter_ option _classify_` and holds the
    whole question right before it; the passage loses its end, never its start."""
    task = TASKS["race"]
    article = " ".join(f"w{k}" for k in range(2000))
    assert len(tokenizer(article, add_special_tokens=False)["input_ids"]) >= 2000
    batch = {"article": [article], "question": ["which word comes first in the text ?"], "label": ["C"],
             **{f"option{i}": [f"the answer number {i}"] for i in range(1, 5)}}  # fmt: skip
    out = encode_batch(task, tokenizer, batch, 512)
    question = tokenizer("which word comes first in the text ?", add_special_tokens=False)["input_ids"]
    head = tokenizer(article, add_special_tokens=False)["input_ids"][:10]
    for i, seq in enumerate(out["input_ids"][0], 1):
        option = tokenizer(f"the answer number {i}", add_special_tokens=False)["input_ids"]
        assert len(seq) == 512  # the passage fills what is left
        assert seq[-len(option) - 2 :] == [tokenizer.delimiter_token_id, *option, tokenizer.classify_token_id]
        assert seq[-len(option) - 2 - len(question) : -len(option) - 2] == question
        assert seq[:11] == [tokenizer.start_token_id, *head]


def test_story_cloze_segments_follow_the_authors_cap(tokenizer):
    """The authors' `transform_roc`: story and ending each cut to `n_ctx // 2 - 2` tokens, their heads kept."""
    story, ending = " ".join(f"s{k}" for k in range(300)), " ".join(f"e{k}" for k in range(300))
    batch = {"story": [story], "ending1": [ending], "ending2": ["short"], "label": [0]}
    out = encode_batch(TASKS["story_cloze"], tokenizer, batch, 512)
    long, short = out["input_ids"][0]
    ids = {t: tokenizer(t, add_special_tokens=False)["input_ids"] for t in (story, ending, "short")}
    start, delim, cls = tokenizer.start_token_id, tokenizer.delimiter_token_id, tokenizer.classify_token_id
    assert long == [start, *ids[story][:254], delim, *ids[ending][:254], cls]
    assert short == [start, *ids[story][:254], delim, *ids["short"], cls]


@pytest.mark.parametrize("transform", ["classification", "entailment"])
def test_pair_truncation_is_the_tokenizers_own(tokenizer, transform):
    """Without an authors' rule, the transform cuts as the tokenizer's `longest_first` does (its own framing is the
    reference), for lengths on either side of the budget."""
    columns = ["a"] if transform == "classification" else ["a", "b"]
    task = custom_task(transform, columns, label_names=["n", "p"])
    for n_a, n_b, max_length in [(30, 3, 16), (3, 30, 16), (9, 9, 16), (10, 9, 16), (4, 4, 64), (40, 41, 31)]:
        batch = {"a": [" ".join(["cat"] * n_a)], "b": [" ".join(["dog"] * n_b)], "label": [0]}
        ours = encode_batch(task, tokenizer, batch, max_length)["input_ids"][0]
        second = batch["b"] if transform == "entailment" else None
        reference = tokenizer(batch["a"], second, truncation=True, max_length=max_length)["input_ids"][0]
        assert ours == reference, (n_a, n_b, max_length)


def test_transforms_are_objects_named_as_on_the_command_line():
    from modeling_gpt1 import GPT1ForMultipleChoice, GPT1ForSequenceClassification

    assert TRANSFORMS["multiple_choice"].model_class is GPT1ForMultipleChoice
    assert TRANSFORMS["similarity"].model_class is GPT1ForSequenceClassification
    assert TASKS["race"].transform is TRANSFORMS["multiple_choice"] and TASKS["race"].num_labels == 4
    assert custom_task("similarity", ["a", "b"]).transform is TRANSFORMS["similarity"]
    # Which zero-shot heuristic scores a task: the task's, else its transform's; none for entailment (MNLI, SNLI).
    assert [TASKS[n].heuristic for n in ("sst2", "cola", "race", "story_cloze", "mnli_m", "snli", "qqp")] == [
        "very", "threshold", "answer_logprob", "answer_logprob", None, None, None,
    ]  # fmt: skip


@pytest.mark.parametrize("name", ["classification", "entailment", "similarity"])
def test_min_length_is_the_framing_of_one_token_texts(tokenizer, name):
    """`min_length` (what `--max_length` is checked against) is exactly a sequence of one-token texts, framed."""
    columns = ["a", "b"][: TRANSFORMS[name].texts]
    task = custom_task(name, columns, label_names=None if name == "similarity" else ["n", "p"])
    encoded = encode_batch(task, tokenizer, {c: ["cat"] for c in columns}, 64)["input_ids"][0]
    sequences = encoded if isinstance(encoded[0], list) else [encoded]
    assert {len(s) for s in sequences} == {task.transform.min_length(task.columns)}


def test_pad_collate_pads_with_id_0_by_default():
    flat = pad_collate([{"input_ids": [5, 6], "labels": 0}, {"input_ids": [7], "labels": 1}])
    assert flat["input_ids"].tolist() == [[5, 6], [7, 0]] and flat["attention_mask"].tolist() == [[1, 1], [1, 0]]


def test_pair_truncation_cuts_when_the_sum_exceeds_the_budget():
    """One token and a text exactly the budget: 11 > 10, so the longer text gives up one token."""
    a, b = TRANSFORMS["entailment"].truncate([[1]], list(range(10)), max_length=13)  # budget 13 - 3 = 10
    assert (a, b) == ([1], list(range(9)))


def test_multiple_choice_needs_a_context_and_two_answers_and_length_6():
    """At `min_length` (6) the authors' cap (`max_length // 2 - 2`) leaves each segment one token; below, none."""
    with pytest.raises(ValueError, match="at least two answer columns"):
        custom_task("multiple_choice", ["c", "a1"])
    task = custom_task("multiple_choice", ["c", "a1", "a2"])
    assert task.transform.min_length(task.columns) == 6
    assert TRANSFORMS["multiple_choice"].truncate([[1, 2]], [3, 4], max_length=6) == ([1], [3])
    assert TRANSFORMS["multiple_choice"].truncate([[1, 2]], [3, 4], max_length=5) == ([], [])


def test_as_text_spells_cells_as_strings():
    assert [as_text(v) for v in ("a", 5, 2.5, None, float("nan"), "")] == ["a", "5", "2.5", "", "", ""]


def test_pad_collate_takes_a_batch_of_one():
    one = pad_collate([{"input_ids": [5], "labels": 1}])
    assert one["input_ids"].tolist() == [[5]] and one["labels"].tolist() == [1]
    views = pad_collate([{"input_ids": [[5], [6, 7]], "labels": 0.5}])
    assert views["input_ids"].shape == (1, 2, 2) and views["labels"].dtype == torch.float
