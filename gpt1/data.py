"""Pretraining data: a corpus from local files or the Hub, tokenised and packed into contiguous blocks.

As in the paper, the model is trained on contiguous runs of `block_size` tokens cut from the concatenated corpus
(no padding, no document boundaries inside the loss), so every position of every block is a training target.

    corpus = load_corpus("../shared/data/corpus/books")            # a Dataset with one "text" column
    blocks = pack_corpus(corpus, tokenizer, block_size=512)         # a Dataset of "input_ids" rows of 512 tokens
    splits = split_blocks(blocks, validation_fraction=0.01, seed=0)  # DatasetDict: train / validation

Tokenisation runs through `datasets.map` (batched, optionally in several processes) and is cached next to the
corpus's Arrow files, so a second run over the same corpus with the same tokenizer starts at once. The commands name a
corpus with `CorpusArguments` (read by `load_corpus_of`) and its tokenizer with `load_corpus_tokenizer`;
`StreamedCorpus` packs a corpus by the same rule as it is read.
"""

from __future__ import annotations

import codecs
import collections
import glob
import itertools
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import (
    Dataset,
    DatasetDict,
    Features,
    IterableDataset,
    List,
    Value,
    concatenate_datasets,
    load_dataset,
)
from transformers import AutoTokenizer

from tokenization import GPT1Tokenizer

from .hub import load_tokenizer

# File suffix -> the `datasets` builder that reads it.
BUILDERS: dict[str, str] = {
    ".txt": "text",
    ".text": "text",
    ".md": "text",
    ".json": "json",
    ".jsonl": "json",
    ".parquet": "parquet",
}
GLOB_CHARS = set("*?[")
PACK_BATCH = 1000  # records packed together (`pack_texts`); each batch drops under one block


class CorpusError(ValueError):
    """The corpus cannot be used for pretraining; the message names the problem and the input at fault."""


def _looks_local(source: str) -> bool:
    """A path-like source is never sent to the Hub: a typo in a path should say 'no such file', not 'no such repo'.

    Hub names are `name` or `owner/name`; anything existing, globbed, rooted, relative (`./`, `../`), deeper than
    one slash or ending in a corpus suffix is a local path.
    """
    return (
        os.path.exists(source)
        or bool(GLOB_CHARS & set(source))
        or source.startswith((".", "/", "~"))
        or source.count("/") > 1
        or Path(source).suffix.lower() in BUILDERS
    )


def resolve_corpus_files(source: str | Path | Sequence[str | Path]) -> dict[str, list[str]]:
    """The files a local corpus consists of, grouped by builder (`text`, `json`, `parquet`).

    `source` is a file, a folder (searched recursively for supported suffixes; other files such as a
    `MANIFEST.tsv` are ignored), a glob (`books/a*.txt`, `data/**/*.jsonl`), or a list of these. Files are sorted, so
    the corpus (and hence the packed blocks) is the same on every run and machine.
    """
    sources = [source] if isinstance(source, str | Path) else list(source)
    if not sources:
        raise CorpusError("no corpus given: pass a file, folder, glob or Hub dataset name")
    files: list[Path] = []
    for item in sources:
        item = os.path.expanduser(str(item))
        if GLOB_CHARS & set(item):
            matched = [Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file()]
            if not matched:
                raise CorpusError(f"the glob {item!r} matched no files")
            files += matched
        elif os.path.isdir(item):
            found = [p for p in Path(item).rglob("*") if p.is_file() and p.suffix.lower() in BUILDERS]
            if not found:
                raise CorpusError(
                    f"the folder {item!r} holds no corpus files (looked for {', '.join(sorted(BUILDERS))})"
                )
            files += found
        elif os.path.isfile(item):
            files.append(Path(item))
        else:
            raise CorpusError(f"no such file or folder: {item!r}")
    groups: dict[str, list[str]] = {}
    for path in sorted(set(files)):
        builder = BUILDERS.get(path.suffix.lower())
        if builder is None:
            raise CorpusError(
                f"cannot read {str(path)!r}: unsupported suffix {path.suffix!r} (use {', '.join(sorted(BUILDERS))})"
            )
        groups.setdefault(builder, []).append(str(path))
    return groups


def _unwrap(batch: dict[str, list[str]]) -> dict[str, list[str]]:
    # Plain-text books are hard-wrapped at ~70 columns; a line break inside a paragraph is layout, not text, and
    # would otherwise become a newline token every dozen words. Paragraph breaks survive as one "\n" per record.
    return {"text": [" ".join(p.split()) + "\n" for p in batch["text"]]}


def load_corpus(
    source: str | Path | Sequence[str | Path],
    *,
    text_column: str = "text",
    dataset_config: str | None = None,
    split: str = "train",
    unwrap_lines: bool = True,
    cache_dir: str | None = None,
    streaming: bool = False,
) -> Dataset | IterableDataset:
    """A corpus as a `Dataset` with one column, `text`, one record per paragraph (plain text) or document; with
    `streaming`, an `IterableDataset` of the same records in the same order, read as it is iterated (a corpus
    larger than the disk's cache, or a Hub dataset never downloaded whole), whose unreadable files and missing
    columns surface only when iterated.

    `source` is local (see `resolve_corpus_files`) or, when it is no local path, a Hub dataset name loaded with
    `load_dataset(source, dataset_config, split=split)`. Plain-text files are read one paragraph per record
    (paragraphs are separated by blank lines), with hard line wraps inside a paragraph joined unless
    `unwrap_lines=False` (verse, code); JSON-lines and parquet files are read from their `text_column`.
    Empty records and zero-byte files are dropped; a corpus without any text is an error. A file that cannot be
    read is named in the `CorpusError` with where and why (not UTF-8 from line N, invalid JSON on line N, no
    parquet file).
    """
    if isinstance(source, str | Path) and not _looks_local(str(source)):
        try:
            corpus = load_dataset(str(source), dataset_config, split=split, cache_dir=cache_dir, streaming=streaming)
        except Exception as e:  # the Hub, offline mode or the dataset script can fail in many ways; name the input
            raise CorpusError(
                f"{str(source)!r} is no local file, folder or glob, and loading it as a Hub dataset failed: {e}"
            ) from e
        parts, groups = [_text_column(corpus, text_column, str(source))], {}
    else:
        groups = _drop_empty_files(resolve_corpus_files(source), source)
        parts = [
            _load_files(builder, files, text_column, unwrap_lines, cache_dir, streaming)
            for builder, files in groups.items()
        ]
    corpus = concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    try:
        corpus = corpus.filter(
            lambda batch: [bool(t and t.strip()) for t in batch["text"]],
            batched=True,
            **_desc(corpus, "dropping empty records"),
        )
    except UnicodeDecodeError as e:  # the JSON reader stores invalid UTF-8 as is; the first read of the text fails
        raise _unreadable(groups, e) from e
    if streaming:
        return corpus
    if len(corpus) == 0:
        raise CorpusError(f"the corpus {source!r} is empty: it holds no text")
    return corpus


def _load_files(
    builder: str, files: list[str], text_column: str, unwrap_lines: bool, cache_dir: str | None, streaming: bool
) -> Dataset | IterableDataset:
    """The `text` records of local files read by one `datasets` builder (`load_corpus`)."""
    kwargs: dict[str, Any] = {"sample_by": "paragraph"} if builder == "text" else {}
    try:
        data = load_dataset(
            builder, data_files=files, split="train", cache_dir=cache_dir, streaming=streaming, **kwargs
        )
    except Exception as e:  # malformed JSON, unreadable parquet, bad encoding: find the file and the line
        raise _unreadable({builder: files}, e) from e
    if builder != "text":
        return _text_column(data, text_column, ", ".join(files[:3]))
    return data.map(_unwrap, batched=True, **_desc(data, "joining wrapped lines")) if unwrap_lines else data


# --- the corpus options of the commands ----------------------------------------------------------------------------


@dataclass
class CorpusArguments:
    """Where a corpus is and how it is read and tokenised: the options `scripts/pretrain.py` and
    `scripts/prepare_corpus.py` share (each parser takes this dataclass beside its own)."""

    _argument_group_name = "corpus"  # the heading of these options in --help

    dataset: str | None = field(
        default=None,
        metadata={
            "help": "Corpus: a file, folder, glob (.txt, .json/.jsonl, .parquet) or a Hub dataset name; for "
            "pretraining also a prepared corpus folder (scripts/prepare_corpus.py). Required, except by "
            "pretraining's demo recipe (the bundled books)."
        },
    )
    dataset_config: str | None = field(default=None, metadata={"help": "Config name of a Hub dataset."})
    text_column: str = field(default="text", metadata={"help": "Column holding the text in JSON/parquet/Hub data."})
    unwrap_lines: bool = field(
        default=True, metadata={"help": "Join hard-wrapped lines inside a paragraph of plain text (off for verse)."}
    )
    cache_dir: str | None = field(default=None, metadata={"help": "datasets cache folder."})
    preprocessing_num_workers: int | None = field(
        default=None,
        metadata={"help": "Processes tokenising in parallel (default: one).", "aliases": ["--num_proc", "--num-proc"]},
    )

    def problems(self) -> list[str]:
        """What is wrong with these options, whatever the command (each command adds its own checks)."""
        workers = self.preprocessing_num_workers
        if workers is not None and workers < 1:
            return [f"--preprocessing_num_workers (--num_proc) must be a positive integer, got {workers}"]
        return []


def load_corpus_of(options: CorpusArguments, streaming: bool = False) -> Dataset | IterableDataset:
    """`load_corpus` of the corpus `options` name (`options.dataset` must be set)."""
    return load_corpus(
        options.dataset,
        text_column=options.text_column,
        dataset_config=options.dataset_config,
        unwrap_lines=options.unwrap_lines,
        cache_dir=options.cache_dir,
        streaming=streaming,
    )


def load_corpus_tokenizer(name_or_path: str | None) -> Any:
    """The tokenizer a corpus is tokenised with: any tokenizer in a folder or Hub repo (`hub.load_tokenizer`), or
    (None) the bundled GPT-1 one."""
    if name_or_path is None:
        return GPT1Tokenizer()
    return load_tokenizer(name_or_path, tokenizer_class=AutoTokenizer)


# --- why a corpus file cannot be read ---------------------------------------------------------------------------
# `datasets` reports a bad file as "An error occurred while generating the dataset", without the file or the line.
# Only after a load has failed are the files scanned (streaming, stopping at the first fault), so a good corpus is
# read once.


def _drop_empty_files(groups: dict[str, list[str]], source: Any) -> dict[str, list[str]]:
    """`groups` without zero-byte files, which hold no text and which `datasets` cannot infer a schema from."""
    kept = {b: [f for f in files if os.path.getsize(f) > 0] for b, files in groups.items()}
    kept = {b: files for b, files in kept.items() if files}
    if not kept:
        files = [f for group in groups.values() for f in group]
        if len(files) == 1:
            raise CorpusError(f"the corpus file {files[0]!r} is empty (0 bytes)")
        raise CorpusError(f"all {len(files)} corpus files of {str(source)!r} are empty (0 bytes)")
    return kept


def _utf8_fault(path: str, chunk_size: int = 1 << 20) -> str | None:
    """Where `path` stops being UTF-8 ('byte 0xe9 at offset 14 (line 2)'), or None if it is UTF-8 throughout."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = newlines = 0  # bytes and line breaks before the current chunk
    with open(path, "rb") as f:
        while True:
            chunk = f.read(chunk_size)
            pending = len(decoder.getstate()[0])  # the start of a character split across chunks
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as e:
                position = offset - pending + e.start
                line = newlines + chunk[: max(0, e.start - pending)].count(b"\n") + 1
                return f"byte 0x{e.object[e.start]:02x} at offset {position} (line {line})"
            if not chunk:
                return None
            offset, newlines = offset + len(chunk), newlines + chunk.count(b"\n")


def _json_fault(path: str) -> str | None:
    """What makes a UTF-8 `.json`/`.jsonl` file unreadable as records, or None if nothing is found."""
    with open(path, encoding="utf-8-sig", newline="\n") as f:  # lines as the JSON Lines reader counts them
        seen = False
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            if not seen and line.lstrip().startswith("["):
                break  # one JSON document (a list of records), not JSON Lines
            seen = True
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                if number == 1 and line.lstrip().startswith("{") and not line.rstrip().endswith("}"):
                    break  # a pretty-printed document
                return f"line {number} is not valid JSON ({e.msg}, column {e.colno})"
            if not isinstance(record, dict):
                return f"line {number} holds a JSON {type(record).__name__}, not an object (one record per line)"
        else:
            return None if seen else "it holds no JSON records (only blank lines)"
    try:  # a whole document is parsed at once, as datasets itself does with it
        json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as e:
        return f"line {e.lineno} is not valid JSON ({e.msg}, column {e.colno})"
    return None


def _parquet_fault(path: str) -> str | None:
    """Why `path` is not a readable parquet file (from its footer alone), or None."""
    import pyarrow.parquet as pq

    try:
        pq.read_metadata(path)
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError and others for a damaged file
        return f"not a parquet file, or a damaged one ({str(e).split('. ')[0]})"
    return None


def _file_fault(builder: str, path: str) -> str | None:
    """Why one corpus file cannot be read ('line 3 is not valid JSON (...)'), or None if no fault is found."""
    try:
        if builder in ("text", "json"):
            where = _utf8_fault(path)
            if where is not None:
                return (
                    f"not UTF-8 text: {where} is invalid; convert it to UTF-8 (from Latin-1: iconv -f latin1 -t utf-8)"
                )
        return {"json": _json_fault, "parquet": _parquet_fault}.get(builder, lambda _: None)(path)
    except OSError as e:
        return e.strerror or str(e)


def _unreadable(groups: dict[str, list[str]], error: BaseException) -> CorpusError:
    """The error for a failed load: the first faulty file with the line and reason, else the underlying cause."""
    for builder, files in groups.items():
        for path in files:
            fault = _file_fault(builder, path)
            if fault is not None:
                return CorpusError(f"cannot read {path!r}: {fault}")
    cause, seen = error, {id(error)}
    # datasets wraps the reader's error (DatasetGenerationError from ArrowInvalid ...): the innermost one says most.
    while (inner := cause.__cause__ or cause.__context__) is not None and id(inner) not in seen:
        cause, seen = inner, seen | {id(inner)}
    files = [f for group in groups.values() for f in group]
    listing = f"{files[:3]}{' ...' if len(files) > 3 else ''}" if files else "the corpus"
    return CorpusError(f"cannot read {listing}: {type(cause).__name__}: {cause}".rstrip(": "))


def _desc(data: Dataset | IterableDataset, desc: str) -> dict[str, str]:
    """`map`/`filter`'s progress-bar label, which only a `Dataset` takes (a stream is processed as it is read)."""
    return {"desc": desc} if isinstance(data, Dataset) else {}


def _text_column(data: Dataset | IterableDataset, text_column: str, where: str) -> Dataset | IterableDataset:
    """`data` reduced to its text column, renamed `text`; a missing or non-text column is named in the error (for
    a stream whose columns are not known before reading, when it is read)."""
    if data.features is None:
        return data.map(lambda record: {"text": record[text_column]}, remove_columns=list(data.column_names or []))
    if text_column not in data.column_names:
        raise CorpusError(
            f"{where} has no column {text_column!r} (its columns: {', '.join(data.column_names) or 'none'}); "
            "pass the column holding the text with --text_column"
        )
    feature = data.features[text_column]
    if getattr(feature, "dtype", None) not in ("string", "large_string"):
        raise CorpusError(f"column {text_column!r} of {where} holds {feature}, not text")
    data = data.select_columns([text_column])
    return data.rename_column(text_column, "text") if text_column != "text" else data


def check_block_size(block_size: int) -> None:
    """Refuse a block that holds no (input, target) pair."""
    if block_size < 2:
        raise CorpusError(f"block_size must be at least 2 tokens (one input, one target), got {block_size}")


def pack_texts(texts: list[str], tokenizer: Any, block_size: int) -> list[list[int]]:
    """The packing rule every path shares (`pack_corpus`, prepared and streamed corpora): tokenise `texts` without
    special tokens, concatenate them in order and cut the stream into blocks of `block_size`, dropping the last
    partial block. Callers pack batches of `PACK_BATCH` records, so that all paths cut the same blocks."""
    ids = tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
    stream = [token for record in ids for token in record]
    usable = len(stream) - len(stream) % block_size
    return [stream[i : i + block_size] for i in range(0, usable, block_size)]


def pack_corpus(
    corpus: Dataset,
    tokenizer: Any,
    block_size: int,
    *,
    num_proc: int | None = None,
    batch_size: int = PACK_BATCH,  # another size cuts other blocks than the prepared and streamed paths
) -> Dataset:
    """Tokenise `corpus` and cut the token stream into rows of exactly `block_size` tokens (`input_ids`).

    Records are tokenised without special tokens (pretraining sees plain text; the fine-tuning tokens are added
    later) and concatenated in order. Each `map` batch of `batch_size` records is packed on its own and its last
    partial block dropped, which costs under one block per batch and lets batches run in parallel processes.
    """
    check_block_size(block_size)

    def tokenize_and_pack(batch: dict[str, list[str]]) -> dict[str, list[list[int]]]:
        return {"input_ids": pack_texts(batch["text"], tokenizer, block_size)}

    # int32 halves the cache against datasets' default int64; every vocabulary here is far below 2**31.
    features = Features({"input_ids": List(Value("int32"))})
    blocks = corpus.map(
        tokenize_and_pack,
        batched=True,
        batch_size=batch_size,
        num_proc=num_proc if num_proc and num_proc > 1 and len(corpus) >= 2 * batch_size else None,
        remove_columns=corpus.column_names,
        features=features,
        desc=f"tokenising and packing into blocks of {block_size}",
    )
    if len(blocks) == 0:
        n_tokens = sum(map(len, tokenizer(list(corpus["text"]), add_special_tokens=False, verbose=False)["input_ids"]))
        raise CorpusError(
            f"the corpus is smaller than one block: {n_tokens} tokens in {len(corpus)} records, fewer than "
            f"block_size={block_size} (use more text or a smaller block size)"
        )
    return blocks


def split_blocks(blocks: Dataset, validation_fraction: float, seed: int) -> DatasetDict:
    """A seeded random hold-out of `validation_fraction` of the blocks (at least one) as the `validation` split.

    Blocks rather than documents are held out so that even a one-book corpus has a validation set; neighbouring
    blocks share no tokens, so no validation token is ever trained on.
    """
    train, validation = split_indices(len(blocks), validation_fraction, seed)
    return DatasetDict(train=blocks.select(train), validation=blocks.select(validation))


def split_indices(n_blocks: int, validation_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (train, validation) block indices of `split_blocks`, for any corpus of `n_blocks` blocks: a seeded
    permutation whose first `validation_fraction` (at least one block) is held out. It is the split
    `Dataset.train_test_split(test_size=n_val, seed=seed)` makes, so runs split as they did before."""
    if not 0.0 < validation_fraction < 1.0:
        raise CorpusError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    if n_blocks < 2:
        raise CorpusError(
            f"the corpus makes only {n_blocks} block(s); at least 2 are needed (one to train on, one held out)"
        )
    n_val = min(n_blocks - 1, max(1, round(validation_fraction * n_blocks)))
    permutation = np.random.default_rng(seed).permutation(n_blocks)
    return permutation[n_val:], permutation[:n_val]


# --- streamed corpora ----------------------------------------------------------------------------------------------


def record_batches(records: Iterable[dict[str, Any]]) -> Iterator[list[str]]:
    """The texts of a stream of records in packing batches of `PACK_BATCH` (the last one may be shorter)."""
    batch: list[str] = []
    for record in records:
        batch.append(record["text"])
        if len(batch) == PACK_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class StreamedCorpus:
    """A corpus tokenised and packed as it is read (`load_corpus(..., streaming=True)`), never stored.

    The stream is cut into packing batches of `PACK_BATCH` records, each packed by `pack_texts`, so the blocks are
    those of `pack_corpus` on the same records. The first `held_out` batches are the validation blocks; the rest are
    dealt in turn to `n_shards` shards, one per micro-batch slot of an update (micro-batches per process x
    processes). The data of an update therefore depends on the batch sizes alone, not on how many processes share
    it, and each process tokenises only its own shards' batches (1 / processes of the text). Not
    `datasets.distributed.split_dataset_by_node`: it deals whole files to processes when their number divides,
    which would make the blocks depend on the process count.
    """

    records: Iterable[dict[str, Any]]  # an `IterableDataset` with a `text` column: iterable again for each pass
    tokenizer: Any
    block_size: int
    held_out: int  # packing batches at the head of the stream kept for validation

    def validation_blocks(self) -> list[list[int]]:
        """The blocks of the held-out batches."""
        head = itertools.islice(record_batches(self.records), self.held_out)
        return [block for texts in head for block in pack_texts(texts, self.tokenizer, self.block_size)]

    def _training_batches(self, shards: set[int], n_shards: int) -> Iterator[tuple[int | None, list[str]]]:
        """(shard, texts) of the training batches of `shards`, pass after pass, with (None, []) after each pass."""
        while True:
            for b, texts in enumerate(record_batches(self.records)):
                if b >= self.held_out and (b - self.held_out) % n_shards in shards:
                    yield (b - self.held_out) % n_shards, texts
            yield None, []

    def micro_batches(self, batch_size: int, shards: Sequence[int], n_shards: int) -> Iterator[torch.Tensor]:
        """`(batch_size, block_size)` token ids forever, one from each of `shards` in turn (a process's micro-batch
        slots, in order), starting over at the end of the stream. Deterministic, so a resume skips what was used."""
        buffers: dict[int, collections.deque] = {shard: collections.deque() for shard in shards}
        source = self._training_batches(set(shards), n_shards)
        while True:
            for shard in shards:
                passes = 0
                while len(buffers[shard]) < batch_size:
                    owner, texts = next(source)
                    if owner is None and (passes := passes + 1) > 1:
                        raise CorpusError(
                            f"the streamed corpus cannot fill a micro-batch of {batch_size} blocks for shard {shard} "
                            f"of {n_shards}: after the {self.held_out * PACK_BATCH} held-out records it needs at least "
                            f"{n_shards} more batches of {PACK_BATCH} records; use more text or fewer held-out records"
                        )
                    if owner is not None:
                        buffers[owner].extend(pack_texts(texts, self.tokenizer, self.block_size))
                yield torch.tensor([buffers[shard].popleft() for _ in range(batch_size)])


__all__ = [
    "BUILDERS",
    "PACK_BATCH",
    "CorpusError",
    "CorpusArguments",
    "StreamedCorpus",
    "load_corpus",
    "load_corpus_of",
    "load_corpus_tokenizer",
    "pack_corpus",
    "pack_texts",
    "resolve_corpus_files",
    "split_blocks",
    "split_indices",
]
