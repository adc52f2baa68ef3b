"""Pretraining data: a corpus from local files or the Hub, tokenised and packed into contiguous blocks.

As in the paper, the model is trained on contiguous runs of `block_size` tokens cut from the concatenated corpus
(no padding, no document boundaries inside the loss), so every position of every block is a training target.

    corpus = load_corpus("../shared/data/corpus/books")            # a Dataset with one "text" column
    blocks = pack_corpus(corpus, tokenizer, block_size=512)         # a Dataset of "input_ids" rows of 512 tokens
    splits = split_blocks(blocks, validation_fraction=0.01, seed=0)  # DatasetDict: train / validation

Tokenisation runs through `datasets.map` (batched, optionally in several processes) and is cached next to the
corpus's Arrow files, so a second run over the same corpus with the same tokenizer starts at once.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from datasets import (
    Dataset,
    DatasetDict,
    Features,
    List,
    Value,
    concatenate_datasets,
    load_dataset,
)

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
) -> Dataset:
    """A corpus as a `Dataset` with one column, `text`, one record per paragraph (plain text) or document.

    `source` is local (see `resolve_corpus_files`) or, when it is no local path, a Hub dataset name loaded with
    `load_dataset(source, dataset_config, split=split)`. Plain-text files are read one paragraph per record
    (paragraphs are separated by blank lines), with hard line wraps inside a paragraph joined unless
    `unwrap_lines=False` (verse, code); JSON-lines and parquet files are read from their `text_column`.
    Empty records are dropped; a corpus without any text is an error.
    """
    if isinstance(source, str | Path) and not _looks_local(str(source)):
        try:
            corpus = load_dataset(str(source), dataset_config, split=split, cache_dir=cache_dir)
        except Exception as e:  # the Hub, offline mode or the dataset script can fail in many ways; name the input
            raise CorpusError(
                f"{str(source)!r} is no local file, folder or glob, and loading it as a Hub dataset failed: {e}"
            ) from e
        parts = [_text_column(corpus, text_column, str(source))]
    else:
        parts = []
        for builder, files in resolve_corpus_files(source).items():
            kwargs: dict[str, Any] = {"sample_by": "paragraph"} if builder == "text" else {}
            try:
                data = load_dataset(builder, data_files=files, split="train", cache_dir=cache_dir, **kwargs)
            except Exception as e:  # malformed JSON, unreadable parquet, bad encoding
                raise CorpusError(
                    f"cannot read the {builder} files {files[:3]}{' ...' if len(files) > 3 else ''}: {e}"
                ) from e
            if builder == "text":
                if unwrap_lines:
                    data = data.map(_unwrap, batched=True, desc="joining wrapped lines")
                parts.append(data)
            else:
                parts.append(_text_column(data, text_column, ", ".join(files[:3])))
    corpus = concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    corpus = corpus.filter(
        lambda batch: [bool(t and t.strip()) for t in batch["text"]], batched=True, desc="dropping empty records"
    )
    if len(corpus) == 0:
        raise CorpusError(f"the corpus {source!r} is empty: it holds no text")
    return corpus


def _text_column(data: Dataset, text_column: str, where: str) -> Dataset:
    """`data` reduced to its text column, renamed `text`; a missing or non-text column is named in the error."""
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


def pack_corpus(
    corpus: Dataset,
    tokenizer: Any,
    block_size: int,
    *,
    num_proc: int | None = None,
    batch_size: int = 1000,
) -> Dataset:
    """Tokenise `corpus` and cut the token stream into rows of exactly `block_size` tokens (`input_ids`).

    Records are tokenised without special tokens (pretraining sees plain text; the fine-tuning tokens are added
    later) and concatenated in order. Each `map` batch of `batch_size` records is packed on its own and its last
    partial block dropped, which costs under one block per batch and lets batches run in parallel processes.
    """
    if block_size < 2:
        raise CorpusError(f"block_size must be at least 2 tokens (one input, one target), got {block_size}")

    def tokenize_and_pack(batch: dict[str, list[str]]) -> dict[str, list[list[int]]]:
        ids = tokenizer(batch["text"], add_special_tokens=False, verbose=False)["input_ids"]
        stream = [token for record in ids for token in record]
        usable = len(stream) - len(stream) % block_size
        return {"input_ids": [stream[i : i + block_size] for i in range(0, usable, block_size)]}

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
    if not 0.0 < validation_fraction < 1.0:
        raise CorpusError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    if len(blocks) < 2:
        raise CorpusError(
            f"the corpus makes only {len(blocks)} block(s); at least 2 are needed (one to train on, one held out)"
        )
    n_val = min(len(blocks) - 1, max(1, round(validation_fraction * len(blocks))))
    parts = blocks.train_test_split(test_size=n_val, seed=seed, shuffle=True)
    return DatasetDict(train=parts["train"], validation=parts["test"])


def build_pretraining_data(
    source: str | Path | Sequence[str | Path],
    tokenizer: Any,
    block_size: int,
    *,
    text_column: str = "text",
    dataset_config: str | None = None,
    validation_fraction: float = 0.01,
    seed: int = 0,
    unwrap_lines: bool = True,
    num_proc: int | None = None,
    cache_dir: str | None = None,
) -> DatasetDict:
    """`load_corpus` -> `pack_corpus` -> `split_blocks`: train and validation blocks of `block_size` tokens."""
    corpus = load_corpus(
        source, text_column=text_column, dataset_config=dataset_config, unwrap_lines=unwrap_lines, cache_dir=cache_dir
    )
    blocks = pack_corpus(corpus, tokenizer, block_size, num_proc=num_proc)
    return split_blocks(blocks, validation_fraction, seed)


__all__ = [
    "BUILDERS",
    "CorpusError",
    "build_pretraining_data",
    "load_corpus",
    "pack_corpus",
    "resolve_corpus_files",
    "split_blocks",
]
