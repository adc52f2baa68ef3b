"""`GPT1Tokenizer` runs ftfy, the chunk cache and the reference mode from `_encode_plus`, a private method of
transformers' `TokenizersBackend` (there is no public hook for a custom encoding path). These tests check, on the
installed transformers release whatever it is, what that relies on: every public way to encode text reaches
`GPT1Tokenizer._encode_plus`, and what the hook answers (ids, masks, offsets, pairs, truncation, padding, overflow)
is what transformers' own path gives for the same `tokenizer.json`."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from transformers.tokenization_utils_tokenizers import TokenizersBackend

from tokenization import GPT1Tokenizer

# Text that only ftfy repairs (mojibake of "don't"): a call that skips `_encode_plus` skips ftfy, and gives other ids.
BROKEN, FIXED = "I donâ€™t know.", "I don't know."

# Each public way to encode text: (tokenizer, text) -> the ids (or tokens) it gives for the text.
CALLS: dict[str, Callable[[GPT1Tokenizer, str], object]] = {
    "call": lambda tok, text: tok(text)["input_ids"],
    "call-batch": lambda tok, text: tok([text, text])["input_ids"][1],
    "call-pair": lambda tok, text: tok(text, text)["input_ids"],
    "call-batch-of-pairs": lambda tok, text: tok([[text, text]])["input_ids"][0],
    "call-target": lambda tok, text: tok(text_target=text)["input_ids"],
    "call-tensors": lambda tok, text: tok([text], return_tensors="pt", padding=True)["input_ids"][0].tolist(),
    "encode": lambda tok, text: tok.encode(text),
    "encode-pair": lambda tok, text: tok.encode(text, text),
    "tokenize": lambda tok, text: tok.tokenize(text),
}


@pytest.fixture
def counted(monkeypatch) -> list[int]:
    """Count the calls of `GPT1Tokenizer._encode_plus` (one list entry per call)."""
    calls: list[int] = []
    original = GPT1Tokenizer._encode_plus

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(GPT1Tokenizer, "_encode_plus", counting)
    return calls


@pytest.mark.parametrize("framing", [False, True])
@pytest.mark.parametrize("name", list(CALLS))
def test_public_encoding_goes_through_the_private_hook(name, framing, counted):
    tok = GPT1Tokenizer(add_fine_tuning_framing=framing)
    call = CALLS[name]
    broken = call(tok, BROKEN)
    assert counted, f"{name} did not call GPT1Tokenizer._encode_plus"
    assert broken == call(tok, FIXED), f"{name} skipped ftfy"


def test_no_other_public_encoding_api():
    # transformers 4's other entry points; transformers 5 removed them. Should one come back, it must join CALLS.
    for name in ("encode_plus", "batch_encode_plus", "prepare_for_model"):
        assert not hasattr(GPT1Tokenizer, name), f"transformers has {name} again: add it to CALLS"


# Text ftfy leaves alone (so transformers' path, which has no ftfy, must give the same ids), long enough to truncate.
TEXT = "Mr. Darcy can't come -- he's busy. The garden was quiet, and the road (long) was empty!"
PAIR = 'He said: "no." Nobody came.'

# Each case: the arguments of one public call. Single texts and batches of them are what the chunk cache answers;
# the rest go to transformers' path through the hook.
CASES: dict[str, tuple[tuple, dict]] = {
    "text": ((TEXT,), {}),
    "batch": (([TEXT, PAIR, "a"],), {}),
    "pair": ((TEXT, PAIR), {}),
    "batch-of-pairs": (([[TEXT, PAIR], [PAIR, "a"]],), {}),
    "offsets": ((TEXT,), dict(return_offsets_mapping=True)),
    "offsets-pair": ((TEXT, PAIR), dict(return_offsets_mapping=True)),
    "truncate": ((TEXT,), dict(truncation=True, max_length=9)),
    "truncate-batch": (([TEXT, PAIR],), dict(truncation=True, max_length=9)),
    "truncate-longest-first": ((TEXT, PAIR), dict(truncation="longest_first", max_length=14)),
    "truncate-only-first": ((TEXT, PAIR), dict(truncation="only_first", max_length=20)),
    "truncate-only-second": ((PAIR, TEXT), dict(truncation="only_second", max_length=16)),
    "pad-longest": (([TEXT, PAIR, "a"],), dict(padding=True)),
    "pad-max-length-left": (([TEXT, "a"],), dict(padding="max_length", max_length=40, padding_side="left")),
    "pad-multiple-of": (([PAIR, "a"],), dict(padding=True, pad_to_multiple_of=8)),
    "no-special-tokens": ((TEXT, PAIR), dict(add_special_tokens=False)),
    "special-tokens-mask": ((TEXT, PAIR), dict(return_special_tokens_mask=True, return_token_type_ids=True)),
    "length": (([TEXT, PAIR],), dict(return_length=True)),
    "overflow": ((TEXT,), dict(truncation=True, max_length=8, stride=2, return_overflowing_tokens=True)),
    "tensors": (([TEXT, PAIR],), dict(padding=True, return_tensors="pt")),
}


def plain_twin(tok: GPT1Tokenizer, folder) -> TokenizersBackend:
    """transformers' own tokenizer class over the same saved `tokenizer.json` and special tokens: no hook."""
    tok.save_pretrained(folder)
    return TokenizersBackend.from_pretrained(folder)


def as_lists(encoding) -> dict:
    return {k: v.tolist() if hasattr(v, "tolist") else v for k, v in encoding.items()}


@pytest.mark.parametrize("framing", [False, True])
@pytest.mark.parametrize("case", list(CASES))
def test_the_hook_answers_what_transformers_public_path_answers(case, framing, counted, tmp_path):
    tok = GPT1Tokenizer(add_fine_tuning_framing=framing)
    plain = plain_twin(tok, tmp_path)
    args, kwargs = CASES[case]
    got = as_lists(tok(*args, **kwargs))
    assert counted, "the call did not go through GPT1Tokenizer._encode_plus"
    want = as_lists(plain(*args, **kwargs))
    assert sorted(got) == sorted(want)
    for key in want:
        assert got[key] == want[key], f"{case}: {key} differs from transformers' path"


def test_the_chunk_cache_answers_plain_calls():
    """The comparison above must cover the hook's own answer, not only its hand-over to transformers: plain calls of
    single texts are answered from the chunk cache, which asks the `tokenizers` backend only for chunks it has not
    seen (here: none, the second time)."""
    tok = GPT1Tokenizer()
    backend = tok._tokenizer
    asked: list[int] = []

    class Spy:
        def __getattr__(self, name):
            return getattr(backend, name)

        def encode_batch(self, texts, *args, **kwargs):
            asked.append(len(texts))
            return backend.encode_batch(texts, *args, **kwargs)

    tok._tokenizer = Spy()
    try:
        first = tok([TEXT, PAIR])["input_ids"]
        assert sum(asked) > 0
        asked.clear()
        assert tok([TEXT, PAIR])["input_ids"] == first
        assert tok(TEXT)["input_ids"] == first[0]
    finally:
        tok._tokenizer = backend
    assert sum(asked) == 0, asked
