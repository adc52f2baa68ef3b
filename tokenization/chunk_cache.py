"""The chunk cache: plain ids at the speed of a dictionary, each distinct chunk through the Rust pipeline once.

Owns `ChunkCache` (`chunk -> ids`, filled in bulk, emptied when full), which `GPT1Tokenizer` answers plain calls
from, and the split of a text into the chunks it caches.

`save_pretrained` copies this module beside `tokenization_gpt1.py` (which imports it relatively) for
`trust_remote_code=True`, so it imports only the standard library, `tokenizers` and its sibling `normalizer.py`.
"""

from __future__ import annotations

import gc
import re
from bisect import bisect_left
from contextlib import contextmanager
from itertools import accumulate, chain, pairwise

from tokenizers import Tokenizer

from .normalizer import _WS

# Every rule of the normalizer (`normalizer.py`) acts inside a chunk of non-whitespace characters (spaCy tokenizes
# each space-separated chunk on its own, and no regex looks across whitespace; `[ \n]` and `\z` both end a word),
# and whitespace becomes no token except that a run of it holding a newline becomes the one word "\n". So the ids
# of a text are the ids of its chunks in order, with the newline's ids between lines, and a chunk needs the Rust
# pipeline only the first time it is seen. Running text repeats its words: on books this skips most of the regex
# passes and the BPE.

# What tokenizers' `Strip()` removes (Unicode White_Space): Python's whitespace less \x1c-\x1f, which the rules turn
# into spaces instead. Python's `str.split()` splits on exactly `_WS` (the normalizer's whitespace).
_STRIP = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"  # noqa: E501


# Stands for the newline word among a text's chunks: a key no text can spell.
_NEWLINE = ("\n",)
# From the first to the last newline of a run of whitespace (the run becomes one newline word).
_NEWLINES = re.compile(f"\n(?:[{_WS}]*\n)+")


def _chunks(text: str) -> list:
    """A text's chunks in order, `_NEWLINE` where a run of whitespace holds a newline (after `Strip()`)."""
    text = text.strip(_STRIP)
    if "\n" not in text:
        return text.split()
    lines = _NEWLINES.sub("\n", text).split("\n")
    chunks = lines[0].split()
    for line in lines[1:]:
        chunks.append(_NEWLINE)
        chunks += line.split()
    return chunks


@contextmanager
def _gc_paused():
    """Pause Python's cyclic garbage collector: a call builds millions of small lists (of strings and ints: no
    cycles to collect), and the collections their allocation triggers cost ~15% of the call."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class ChunkCache(dict):
    """Ids of distinct chunks (`chunk -> ids`), filled from the Rust pipeline in bulk, emptied when it is full.

    Pickles empty: it is a cache, and `datasets` hashes the tokenizer to fingerprint a `map`, which must not depend
    on what the tokenizer has seen.
    """

    def __init__(self, max_size: int):
        super().__init__()
        self.max_size = max_size

    def __reduce__(self):
        return type(self), (self.max_size,)

    @_gc_paused()
    def encode(self, backend: Tokenizer, texts: list[str]) -> list[list[int]]:
        """The pipeline's ids of `texts` (already through ftfy), without special tokens."""
        docs = [_chunks(text) for text in texts]
        seen = set(chain.from_iterable(docs))
        new = seen.difference(self)
        if len(self) + len(new) > self.max_size:
            self.clear()
            new = seen
        self._add(backend, new)
        lookup = self.__getitem__
        out = [list(chain.from_iterable(map(lookup, doc))) for doc in docs]
        if len(self) > self.max_size:  # this call alone had more distinct chunks than the cache holds
            self.clear()
        return out

    def _add(self, backend: Tokenizer, chunks: set) -> None:
        if _NEWLINE not in self:  # (new chunks hold `_NEWLINE` only when it is not cached)
            # The word "\n" that a run of whitespace holding a newline becomes, through the BPE model.
            self[_NEWLINE] = [token.id for token in backend.model.tokenize("\n")]
        chunks = list(chunks - {_NEWLINE})
        # A few thousand chunks joined by spaces per text (the Rust side encodes a batch on all cores); a chunk's
        # tokens are those whose first character lies in it (tokens come in order and never span a space).
        groups = [chunks[i : i + 2048] for i in range(0, len(chunks), 2048)]
        encodings = backend.encode_batch([" ".join(group) for group in groups], add_special_tokens=False)
        for group, encoding in zip(groups, encodings):
            ids, begins = encoding.ids, [begin for begin, _ in encoding.offsets]
            starts = accumulate((len(c) + 1 for c in group[:-1]), initial=0)
            bounds = [bisect_left(begins, start) for start in starts] + [len(ids)]
            self.update(zip(group, (ids[i:j] for i, j in pairwise(bounds))))


__all__ = ["ChunkCache"]
