"""Measure how often the fast tokenizer gives the authors' ids: every line of real text, against the reference.

The reference (`ReferenceEncoder`: ftfy, `text_standardize`, spaCy, lower-case, BPE) costs seconds per megabyte,
so on a whole corpus it is computed through an exact decomposition: spaCy's tokenizer splits on spaces first and
tokenizes each space-separated chunk on its own (its exceptions and merges never span a space), so the reference
tokens of a line are the concatenated reference tokens of its chunks, which are computed once per distinct chunk.
ftfy and `text_standardize` still run on every line. `check_decomposition` verifies the identity on a sample.

`export_spacy_exceptions` reads the spaCy exception tables that the fast pipeline carries as text, for the tests to
compare.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from multiprocessing import get_context
from pathlib import Path

from .reference import ReferenceEncoder, text_standardize
from .tokenization_gpt1 import GPT1Tokenizer, bundled_files, read_vocab_and_merges


def books_lines(data_dir: str | os.PathLike) -> list[str]:
    """Every non-empty line of every book in `corpus/books` (without its newline)."""
    lines = []
    for path in sorted(Path(data_dir, "corpus", "books").glob("*.txt")):
        with open(path, encoding="utf-8") as f:
            lines.extend(line.rstrip("\n") for line in f if line.strip())
    return lines


def glue_lines(data_dir: str | os.PathLike) -> list[str]:
    """Every sentence of every GLUE tsv file here: the text cells (the ones with a space and a letter)."""
    lines = []
    for path in sorted(Path(data_dir, "glue").glob("*/*.tsv")):
        with open(path, encoding="utf-8") as f:
            for row in f:
                lines.extend(c for c in row.rstrip("\n").split("\t") if " " in c and any(ch.isalpha() for ch in c))
    return lines


def storycloze_lines(data_dir: str | os.PathLike) -> list[str]:
    """Every sentence of the Story Cloze validation set (four story sentences and two endings per row)."""
    with open(Path(data_dir, "storycloze", "storycloze_val_2016.csv"), encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))[1:]
    return [cell for row in rows for cell in row[1:7]]


CORPORA = {"books": books_lines, "glue": glue_lines, "storycloze": storycloze_lines}

# One reference encoder per worker process (spaCy and the BPE cache are per process).
_ENCODER: ReferenceEncoder | None = None


def _init_worker(vocab_file: str, merges_file: str) -> None:
    global _ENCODER
    _ENCODER = ReferenceEncoder(*read_vocab_and_merges(vocab_file, merges_file))


def _standardize(lines: Sequence[str]) -> list[str]:
    return [text_standardize(_ENCODER.fix_text(line)) for line in lines]


def _chunk_ids(chunks: Sequence[str]) -> list[list[int]]:
    enc, out = _ENCODER, []
    for chunk in chunks:
        words = [t.text.lower() for t in enc.nlp.tokenizer(chunk)]
        out.append([enc.encoder.get(p, 0) for w in words for p in enc.bpe(w).split(" ")])
    return out


def _literal_ids(lines: Sequence[str]) -> list[list[int]]:
    return [_ENCODER.encode(line) for line in lines]


def _pool(processes: int, vocab_file, merges_file):
    return get_context("fork" if os.name == "posix" else "spawn").Pool(
        processes, initializer=_init_worker, initargs=(str(vocab_file), str(merges_file))
    )


def _parallel(pool, fn, items: Sequence, pieces: int) -> list:
    size = max(1, -(-len(items) // pieces))
    parts = pool.map(fn, [items[i : i + size] for i in range(0, len(items), size)])
    return [x for part in parts for x in part]


def reference_ids(lines: Sequence[str], vocab_file=None, merges_file=None, processes: int = 2) -> list[list[int]]:
    """The reference ids of every line (ftfy + text_standardize per line, spaCy + BPE once per distinct chunk)."""
    if vocab_file is None:
        vocab_file, merges_file = bundled_files()
    with _pool(processes, vocab_file, merges_file) as pool:
        standardized = _parallel(pool, _standardize, lines, 8 * processes)
        chunks = sorted({c for s in standardized for c in s.split(" ") if c})
        ids = dict(zip(chunks, _parallel(pool, _chunk_ids, chunks, 8 * processes)))
    return [[i for c in s.split(" ") if c for i in ids[c]] for s in standardized]


def literal_reference_ids(lines: Sequence[str], vocab_file=None, merges_file=None, processes: int = 2):
    """The reference ids of every line, the slow literal way (`ReferenceEncoder.encode` per line)."""
    if vocab_file is None:
        vocab_file, merges_file = bundled_files()
    with _pool(processes, vocab_file, merges_file) as pool:
        return _parallel(pool, _literal_ids, lines, 8 * processes)


def fast_ids(tokenizer: GPT1Tokenizer, lines: Sequence[str], batch_size: int = 10_000) -> list[list[int]]:
    """The fast tokenizer's ids of every line (plain, no framing): `tokenizer(lines, add_special_tokens=False)`."""
    out: list[list[int]] = []
    for i in range(0, len(lines), batch_size):
        batch = tokenizer(list(lines[i : i + batch_size]), add_special_tokens=False, return_attention_mask=False)
        out.extend(batch["input_ids"])
    return out


def compare(
    lines: Sequence[str], ids: Sequence[list[int]], reference: Sequence[list[int]], report: str | os.PathLike | None
) -> tuple[float, int]:
    """Agreement rate and number of differing lines; the differing lines (with both id lists) go to `report`."""
    differ = [(i, a, b) for i, (a, b) in enumerate(zip(ids, reference)) if a != b]
    if report is not None:
        Path(report).parent.mkdir(parents=True, exist_ok=True)
        with open(report, "w", encoding="utf-8") as f:
            f.write(f"# {len(differ)} of {len(lines)} lines differ\n")
            for i, a, b in differ:
                f.write(f"line {i}: {lines[i]!r}\n  fast:      {a}\n  reference: {b}\n")
    return 1 - len(differ) / max(1, len(lines)), len(differ)


def export_spacy_exceptions() -> tuple[list[list[str]], list[str]]:
    """spaCy's English tokenizer exceptions that can survive `text_standardize`: (splits, keeps). Needs spaCy.

    The source of `_SPLIT_EXCEPTIONS` and `_KEEP_EXCEPTIONS` in `normalizer`. It lives here, not there:
    `save_pretrained` copies that module for `trust_remote_code=True`, and transformers refuses to load a copied
    module that imports anything missing where it is loaded, spaCy included, even inside a function.
    """
    import spacy
    from spacy.symbols import ORTH

    isolated = set('-~!";?+,)(\\/*[]{}|_') | set("‘’“”´—–…")
    splits, keeps = [], []
    for key, tokens in spacy.blank("en").tokenizer.rules.items():
        if any(c.isspace() or c in isolated for c in key):
            continue
        if len(tokens) > 1:
            splits.append([t[ORTH] for t in tokens])
        elif re.search(r"[^\w]", key):
            keeps.append(key)
    return sorted(splits, key="".join), sorted(keeps)
