"""Issue 3, "done when" 3: round trip over arbitrary text (hypothesis). No input crashes the tokenizer; when every
piece is in the vocabulary, `decode(encode(x))` is the normalised text (`normalize_text(x)`: repaired,
standardized, split into lower-cased words joined by spaces); the ftfy shortcut equals ftfy."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenization import GPT1Tokenizer, fix_text_if_needed

# Any code point, lone surrogates and control characters included; and text made of the characters that matter
# to the pipeline (quotes, dashes, dots, apostrophes, whitespace of every kind, letters of both cases).
ANY_TEXT = st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=60)
TRICKY = "aAbBzZ019 .,'\"`-—–…‘’“”!?:;()[]{}_~*/\\|+&<>=%$£#@^\t\n\r\x0b\x0c\x00\x1f\x85\xa0\u2028é🎉°"
TRICKY_TEXT = st.text(st.sampled_from(TRICKY), max_size=80)
WORDS = st.lists(st.sampled_from(["don't", "Mr.", "I", "can't", "U.S.", "it's", "'em", "...", "--", "x"]), max_size=20)


def _vocabulary_alphabet() -> str:
    """The characters the authors' vocabulary holds both inside a word (`c`) and ending one (`c</w>`): any word made
    of them is encoded without `<unk>`, so the round trip's equality is checked on (nearly) every such text."""
    vocab = GPT1Tokenizer().get_vocab()
    return "".join(sorted(c for c in vocab if len(c) == 1 and f"{c}</w>" in vocab))


# Text the equality is checked on: the vocabulary's characters, upper-case letters (lower-cased by the pipeline),
# spaces and newlines; and the tricky characters except the emoji (outside the vocabulary: always `<unk>`).
KNOWN_TEXT = st.text(st.sampled_from(_vocabulary_alphabet() + "ABCDEFGHIJKLMNOPQRSTUVWXYZ  \n"), max_size=60)
TRICKY_KNOWN_TEXT = st.text(st.sampled_from(TRICKY.replace("🎉", "")), max_size=80)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def tokenizer() -> GPT1Tokenizer:
    return GPT1Tokenizer(add_fine_tuning_framing=False)


def _round_trip(tokenizer: GPT1Tokenizer, text: str) -> bool:
    """Ids in range for any text; `decode(encode(x)) == normalize_text(x)` where no piece is `<unk>`. Whether the
    equality was checked."""
    ids = tokenizer(text)["input_ids"]
    size = len(tokenizer)  # once: in transformers 5.4 len() builds the whole vocabulary (~4 ms)
    assert all(isinstance(i, int) and 0 <= i < size for i in ids)
    decoded = tokenizer.decode(ids)
    if 0 not in ids and "</w>" not in text:  # <unk> loses the piece; a literal "</w>" reads as an end of word
        assert decoded == tokenizer.normalize_text(text)
        return True
    return False


def _checked_share(tokenizer: GPT1Tokenizer, strategy: st.SearchStrategy[str]) -> float:
    """Run the round trip on `strategy`'s examples; the share of them on which the equality was asserted."""
    checked: Counter[bool] = Counter()

    @SETTINGS
    @given(strategy)
    def run(text: str) -> None:
        checked[_round_trip(tokenizer, text)] += 1

    run()
    return checked[True] / sum(checked.values())


def test_round_trip_any_text(tokenizer):
    """Any code point: never a crash, ids in range (the equality is rarely checkable: most code points are `<unk>`)."""
    _checked_share(tokenizer, ANY_TEXT)


@pytest.mark.parametrize(
    ("strategy", "share"),
    [(KNOWN_TEXT, 0.9), (TRICKY_KNOWN_TEXT, 0.9), (WORDS.map(" ".join), 0.99)],
    ids=["vocabulary", "tricky", "exception_words"],
)
def test_round_trip_is_the_normalised_text(tokenizer, strategy, share):
    """`decode(encode(x)) == normalize_text(x)`, asserted on at least `share` of the examples (counted: text that
    comes out as `<unk>` cannot be compared, and would make the test pass without checking anything)."""
    assert _checked_share(tokenizer, strategy) >= share


@pytest.mark.parametrize("text", ["", " ", "\n", "\ud800", "a\udfffb", "\x00" * 10, "x" * 100_000, "word " * 20_000])
def test_edge_cases(tokenizer, text):
    _round_trip(tokenizer, text)


def test_framed_round_trip():
    framed = GPT1Tokenizer(add_fine_tuning_framing=True)
    ids = framed("Hello there.", "General Kenobi!")["input_ids"]
    assert framed.decode(ids, skip_special_tokens=True) == "hello there . general kenobi !"


@SETTINGS
@given(st.one_of(ANY_TEXT, TRICKY_TEXT))
def test_ftfy_shortcut_equals_ftfy(text):
    ftfy = pytest.importorskip("ftfy")
    assert fix_text_if_needed(text) == ftfy.fix_text(text)


@pytest.fixture(scope="module")
def pipeline_only() -> GPT1Tokenizer:
    return GPT1Tokenizer(chunk_cache_size=0)


@SETTINGS
@given(st.lists(st.one_of(ANY_TEXT, TRICKY_TEXT, WORDS.map(" ".join)), min_size=1, max_size=4))
def test_chunk_cache_gives_the_pipelines_ids(tokenizer, pipeline_only, texts):
    # A plain call is answered chunk by chunk from the cache; the same texts through the whole Rust pipeline (and
    # the batch joined into one multi-line text) must give the same ids.
    assert tokenizer(texts) == pipeline_only(texts)
    joined = "\n".join(texts)
    assert tokenizer(joined)["input_ids"] == pipeline_only(joined)["input_ids"]
