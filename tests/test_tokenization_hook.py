"""`GPT1Tokenizer` runs ftfy, the chunk cache and the reference mode from `_encode_plus`, a private method of
transformers' `TokenizersBackend` (there is no public hook for a custom encoding path). These tests pin what that
relies on: every public way to encode text reaches `GPT1Tokenizer._encode_plus`, on the transformers versions in
`CHECKED_ON`."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import transformers
from packaging.version import Version

from tokenization import GPT1Tokenizer

# The transformers versions on which every public encoding call was checked to go through the private hook. A new
# transformers minor release must be checked (this file passes on it, CALLS covering its public encoding API) and
# added here before the transformers range in setup.cfg is widened to include it.
CHECKED_ON = ("5.4.0", "5.24.0")

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


def test_transformers_version_was_checked():
    installed = Version(transformers.__version__).release[:2]
    low, high = (Version(v).release[:2] for v in CHECKED_ON)
    assert low <= installed <= high, (
        f"transformers {transformers.__version__} is outside {CHECKED_ON}, the versions GPT1Tokenizer._encode_plus "
        "(a private hook) was checked on: check this file's tests pass on it, then widen CHECKED_ON"
    )
