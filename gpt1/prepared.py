"""Tokenise once, train many times: a corpus stored as token blocks in one memory-mapped file.

    python scripts/prepare_corpus.py --dataset ../shared/data/corpus/books --block_size 512 --output_dir books-512
    python scripts/pretrain.py --recipe paper --dataset books-512     # any number of runs and ranks map the file

The folder holds `tokens.bin` (`n_blocks x block_size` little-endian token ids, `uint16` when the vocabulary fits in
it, else `uint32`: nanoGPT's `train.bin`), `prepared.json` (the shape and what made it) and `tokenizer/`, the
tokenizer that wrote the ids, which every run on the corpus uses. Blocks are cut by the rule of
`data.pack_corpus` (`data.pack_texts` over batches of `PACK_BATCH` records), so a run on a prepared corpus sees
exactly the blocks, and the split, of a run on the raw text with the same tokenizer. Nothing is loaded into memory:
the operating system pages in the blocks a batch reads, shared between the processes of a machine.
"""

from __future__ import annotations

import collections
import json
import multiprocessing
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import HfArgumentParser

from .cli import user_error
from .data import (
    PACK_BATCH,
    CorpusArguments,
    CorpusError,
    check_block_size,
    load_corpus_of,
    load_corpus_tokenizer,
    pack_texts,
    split_indices,
)
from .hub import HubError, MissingTokenizerError
from .io import OutputDirError, atomic_directory, atomic_write_json, check_output_dir, is_partial

FORMAT = "gpt1-prepared-corpus/1"
META, TOKENS, TOKENIZER = "prepared.json", "tokens.bin", "tokenizer"


def token_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned type that holds every id: 2 bytes a token for GPT-1's 40,478, 4 beyond 65,536."""
    return np.dtype("<u2") if vocab_size <= 1 << 16 else np.dtype("<u4")


@dataclass(frozen=True)
class PreparedCorpus:
    """A prepared corpus folder: its blocks (memory-mapped on first use) and the tokenizer that wrote them."""

    path: Path
    block_size: int
    n_blocks: int
    dtype: str
    meta: dict[str, Any] = field(compare=False, repr=False)

    @cached_property
    def blocks(self) -> np.ndarray:
        """`(n_blocks, block_size)` token ids, read-only, mapped from `tokens.bin`."""
        shape = (self.n_blocks, self.block_size)
        return np.memmap(self.path / TOKENS, dtype=np.dtype(self.dtype), mode="r", shape=shape)

    @property
    def tokenizer_dir(self) -> Path:
        return self.path / TOKENIZER


def is_prepared(path: str | Path | None) -> bool:
    """Whether `path` is a prepared corpus folder (it holds `prepared.json`)."""
    return path is not None and (Path(path) / META).is_file()


def open_prepared(path: str | Path) -> PreparedCorpus:
    """The prepared corpus in `path`, checked: a truncated or foreign `tokens.bin` is a `CorpusError`."""
    path = Path(path)
    try:
        meta = json.loads((path / META).read_text(encoding="utf-8"))
        block_size, n_blocks, dtype = meta["block_size"], meta["n_blocks"], meta["dtype"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CorpusError(f"{path / META} is not a prepared corpus description ({type(e).__name__}: {e})") from e
    if meta.get("format") != FORMAT:
        raise CorpusError(f"{path} holds format {meta.get('format')!r}; this version reads {FORMAT!r}")
    tokens = path / TOKENS
    expected = n_blocks * block_size * np.dtype(dtype).itemsize
    actual = tokens.stat().st_size if tokens.is_file() else None
    if actual != expected:
        raise CorpusError(
            f"{tokens} holds {actual} bytes, not the {expected} of {n_blocks} blocks of {block_size} {dtype} tokens "
            "(truncated or replaced); prepare the corpus again"
        )
    return PreparedCorpus(path, block_size, n_blocks, dtype, meta)


class TokenBlocks(torch.utils.data.Dataset):
    """Some blocks of a prepared corpus (`indices` into it) as `{"input_ids": LongTensor}` rows, like the rows
    of a `datasets` split in torch format."""

    def __init__(self, corpus: PreparedCorpus, indices: np.ndarray) -> None:
        self.corpus, self.indices = corpus, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": torch.from_numpy(self.corpus.blocks[self.indices[i]].astype(np.int64))}


def prepared_splits(corpus: PreparedCorpus, validation_fraction: float, seed: int) -> dict[str, TokenBlocks]:
    """Train and validation blocks of a prepared corpus, split as `data.split_blocks` splits packed text."""
    train, validation = split_indices(corpus.n_blocks, validation_fraction, seed)
    return {"train": TokenBlocks(corpus, train), "validation": TokenBlocks(corpus, validation)}


# --- writing -------------------------------------------------------------------------------------------------------

_worker: dict[str, Any] = {}  # the tokenizer and block size of a pool process, set once by `_start_worker`


def _start_worker(tokenizer: Any, block_size: int) -> None:
    _worker.update(tokenizer=tokenizer, block_size=block_size)


def _pack_in_worker(texts: list[str]) -> list[list[int]]:
    return pack_texts(texts, _worker["tokenizer"], _worker["block_size"])


def packed_batches(
    texts: Iterable[list[str]], tokenizer: Any, block_size: int, num_proc: int = 1
) -> Iterator[list[list[int]]]:
    """`pack_texts` of each batch of texts, in order, over `num_proc` processes. At most a few batches per process
    are in flight, so memory stays flat however large the corpus (`Pool.imap` would read it all ahead)."""
    if num_proc <= 1:
        yield from (pack_texts(batch, tokenizer, block_size) for batch in texts)
        return
    # fork: the workers inherit the tokenizer instead of unpickling one each.
    with multiprocessing.get_context("fork").Pool(num_proc, _start_worker, (tokenizer, block_size)) as pool:
        pending: collections.deque = collections.deque()
        for batch in texts:
            pending.append(pool.apply_async(_pack_in_worker, (batch,)))
            if len(pending) >= 4 * num_proc:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def prepare_corpus(
    corpus: Any, tokenizer: Any, block_size: int, output_dir: str | Path, *, num_proc: int = 1, source: str = ""
) -> PreparedCorpus:
    """Tokenise and pack `corpus` (a `Dataset` with a `text` column, e.g. `data.load_corpus`'s) into a prepared
    corpus folder at `output_dir`, written whole or not at all (`io.atomic_directory`). A corpus already there is
    replaced entirely (no file of its tokenizer is left beside the new one's); the folder's other files are kept."""
    check_block_size(block_size)
    dtype = token_dtype(len(tokenizer))
    start, n_blocks, text_bytes = time.perf_counter(), 0, 0

    def batches() -> Iterator[list[str]]:
        nonlocal text_bytes
        for i in range(0, len(corpus), PACK_BATCH):
            texts = corpus[i : i + PACK_BATCH]["text"]
            text_bytes += sum(len(text.encode("utf-8")) for text in texts)
            yield texts

    with atomic_directory(output_dir) as tmp:
        tmp.mkdir(parents=True, exist_ok=True)
        with open(tmp / TOKENS, "wb") as f:
            for blocks in packed_batches(batches(), tokenizer, block_size, num_proc):
                np.asarray(blocks, dtype=dtype).tofile(f)
                n_blocks += len(blocks)
        if n_blocks == 0:
            raise CorpusError(f"the corpus is smaller than one block of {block_size} tokens")
        tokenizer.save_pretrained(tmp / TOKENIZER)
        meta = {
            "format": FORMAT,
            "block_size": block_size,
            "n_blocks": n_blocks,
            "dtype": dtype.str,
            "vocab_size": len(tokenizer),
            "source": source,
            "records": len(corpus),
            "text_bytes": text_bytes,
            "seconds": round(time.perf_counter() - start, 3),
            "num_proc": num_proc,
        }
        atomic_write_json(tmp / META, meta)
        keep_other_files(Path(output_dir), tmp)
    return open_prepared(output_dir)


def keep_other_files(old: Path, new: Path) -> None:
    """Give `new` every entry of the folder `old` that is not part of a prepared corpus (a user's notes, another
    tool's files), as hard links where possible (copies elsewhere), before `new` replaces `old`."""
    if not old.is_dir():
        return
    for entry in old.iterdir():
        if entry.name in (META, TOKENS, TOKENIZER) or is_partial(entry):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, new / entry.name, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry, new / entry.name)


def _link_or_copy(source: str | Path, target: str | Path) -> None:
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)


# --- the command ---------------------------------------------------------------------------------------------------


@dataclass
class PrepareArguments:
    """Options of `scripts/prepare_corpus.py` besides the corpus's own (`data.CorpusArguments`)."""

    output_dir: str = field(metadata={"help": "The prepared corpus folder to write."})
    block_size: int = field(default=512, metadata={"help": "Tokens per block: the runs' --block_size."})
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "Tokenizer folder or Hub name; default: the bundled GPT-1 BPE tokenizer."}
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "Write into a non-empty output_dir: a prepared corpus there is replaced, other files kept."},
    )


def main(argv: list[str] | None = None) -> int:
    """`scripts/prepare_corpus.py`: write a prepared corpus and print its size. Bad input exits 2 with one line."""
    parser = HfArgumentParser((CorpusArguments, PrepareArguments), description=__doc__.split("\n\n")[0])
    corpus, args = parser.parse_args_into_dataclasses(args=argv)
    try:
        problems = corpus.problems() + ([] if corpus.dataset else ["--dataset is required: the corpus to prepare"])
        if problems:
            raise CorpusError("; ".join(problems))
        check_output_dir(args.output_dir, args.overwrite_output_dir)
        num_proc = corpus.preprocessing_num_workers or 1
        prepared = prepare_corpus(
            load_corpus_of(corpus),
            load_corpus_tokenizer(args.tokenizer_name),
            args.block_size,
            args.output_dir,
            num_proc=num_proc,
            source=corpus.dataset,
        )
    except (CorpusError, OutputDirError, HubError, MissingTokenizerError) as e:
        return user_error(e)
    meta = prepared.meta
    print(
        f"{prepared.n_blocks} blocks of {prepared.block_size} {prepared.dtype} tokens from "
        f"{meta['text_bytes'] / 1e6:.1f} MB of text in {meta['seconds']:.1f} s -> {prepared.path}"
    )
    return 0


__all__ = [
    "PrepareArguments",
    "PreparedCorpus",
    "TokenBlocks",
    "is_prepared",
    "main",
    "open_prepared",
    "prepare_corpus",
    "prepared_splits",
    "token_dtype",
]
