"""Train a new GPT-1 vocabulary: the authors' normalisation and word splitting, BPE merges with `</w>`.

The result is saved in the authors' format (`vocab.json` token -> id with `<unk>` = 0, and `merges.txt` with a
`#version: 0.2` header) and loads with the same class: `GPT1Tokenizer(vocab_file=..., merges_file=...)`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokenizers.trainers import BpeTrainer

from .reference import fix_text_if_needed
from .tokenization_gpt1 import END_OF_WORD, UNK_TOKEN, GPT1Tokenizer, build_backend

# The authors' vocabulary ends with the newline word; a corpus read line by line never shows it to the trainer.
NEWLINE_TOKEN = "\n" + END_OF_WORD


def _texts(source: Any, text_column: str) -> Iterator[str]:
    """Texts from a path / list of paths (read line by line) or a `datasets.Dataset` / iterable of dicts or str."""
    if isinstance(source, (str, os.PathLike)):
        source = [source]
    for item in source:
        if isinstance(item, (str, os.PathLike)) and Path(item).is_file():
            with open(item, encoding="utf-8") as f:
                yield from f
        elif isinstance(item, (str, os.PathLike)) and Path(item).is_dir():
            for path in sorted(Path(item).rglob("*.txt")):
                with open(path, encoding="utf-8") as f:
                    yield from f
        elif isinstance(item, dict):
            yield item[text_column]
        elif isinstance(item, str):
            yield item
        else:
            raise ValueError(f"cannot read training text from {item!r} (expected a file, a folder, text or a row)")


def _batches(texts: Iterable[str], size: int = 1000) -> Iterator[list[str]]:
    batch = []
    for text in texts:
        batch.append(fix_text_if_needed(text))  # ftfy is the one Python step of the pipeline
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def train_tokenizer(
    source: Any,
    num_merges: int = 40_000,
    output_dir: str | os.PathLike | None = None,
    *,
    text_column: str = "text",
    min_frequency: int = 2,
    limit_alphabet: int | None = 1_000,
    show_progress: bool = False,
) -> GPT1Tokenizer:
    """Learn `num_merges` BPE merges (the paper: 40,000) on text, with GPT-1's normalisation and word splitting.

    Args:
        source: A text file, a folder of `*.txt` files, a list of either, a `datasets.Dataset` (or any iterable of
            rows) with a `text_column`, or an iterable of strings.
        num_merges: Number of merges; the vocabulary is `<unk>`, the characters (with and without `</w>`), one token
            per merge, and `"\\n</w>"` as in the authors' vocabulary. Fewer merges result when the text runs out of
            pairs seen `min_frequency` times.
        output_dir: If given, write `vocab.json` + `merges.txt` (the authors' format) and the saved tokenizer there.
        min_frequency: Pairs seen fewer times are never merged.
        limit_alphabet: Keep at most this many distinct characters (the rarest become `<unk>`); None keeps all.

    Returns:
        A `GPT1Tokenizer` using the new vocabulary.
    """
    if num_merges < 0:
        raise ValueError(f"num_merges must be >= 0, got {num_merges}")
    # The trainer stops at a vocabulary size, not a number of merges: ask for enough room, then keep the first
    # `num_merges` merges (tokenizers numbers <unk>, then the alphabet, then merge results in merge order).
    room = 2 * (limit_alphabet or 100_000) + 2
    backend = build_backend({UNK_TOKEN: 0}, [])
    trainer = BpeTrainer(
        vocab_size=num_merges + room,
        min_frequency=min_frequency,
        special_tokens=[UNK_TOKEN],
        limit_alphabet=limit_alphabet,
        end_of_word_suffix=END_OF_WORD,
        show_progress=show_progress,
    )
    backend.train_from_iterator((t for batch in _batches(_texts(source, text_column)) for t in batch), trainer)
    model = json.loads(backend.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    vocab: dict[str, int] = model["vocab"]
    first_merge_id = len(vocab) - len(merges)
    merges = merges[:num_merges]
    vocab = {token: i for token, i in vocab.items() if i < first_merge_id + len(merges)}
    if NEWLINE_TOKEN not in vocab:
        vocab[NEWLINE_TOKEN] = len(vocab)
    tokenizer = GPT1Tokenizer(vocab=vocab, merges=merges)
    if output_dir is not None:
        _save(tokenizer, Path(output_dir))
    return tokenizer


def _save(tokenizer: GPT1Tokenizer, output_dir: Path) -> None:
    """Save into a temporary sibling folder, then move each file into `output_dir`: a write the filesystem refuses
    (full, quota, read-only) leaves `output_dir` as it was and no partial folder, and is a `TrainTokenizerError`
    naming the folder and the free space. (`tokenization` stands alone, so not `gpt1.io`.)"""
    output_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.", suffix=".tmp", dir=output_dir.parent))
    try:
        tokenizer.save_pretrained(tmp)
        for path in tmp.iterdir():
            os.replace(path, output_dir / path.name)
    except OSError as err:
        free = shutil.disk_usage(output_dir).free
        raise TrainTokenizerError(
            f"cannot save to {output_dir}: {err.strerror or err} ({free / 1e6:,.1f} MB free); nothing was changed there"
        ) from err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class TrainTokenizerArguments:
    """Command line of `scripts/train_tokenizer.py` / `gpt1-train-tokenizer`."""

    output_dir: str = field(metadata={"help": "folder for vocab.json, merges.txt and the saved tokenizer"})
    files: list[str] = field(default_factory=list, metadata={"help": "text files or folders of *.txt files"})
    dataset: str | None = field(default=None, metadata={"help": "a `datasets` name or local path instead of files"})
    dataset_config: str | None = field(default=None, metadata={"help": "the dataset's configuration name"})
    split: str = field(default="train", metadata={"help": "dataset split"})
    text_column: str = field(default="text", metadata={"help": "dataset column holding the text"})
    num_merges: int = field(default=40_000, metadata={"help": "number of BPE merges (the paper: 40,000)"})
    min_frequency: int = field(default=2, metadata={"help": "pairs seen fewer times are never merged"})


class TrainTokenizerError(ValueError):
    """A user mistake on the command line of `scripts/train_tokenizer.py`; `main` prints it as one `error:` line."""


def _text_files(items: list[str]) -> list[Path]:
    """The files `--files` names, as `train_tokenizer` reads them (a folder: its `*.txt` files, recursively)."""
    files: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(path.rglob("*.txt"))
            if not found:
                raise TrainTokenizerError(f"--files {item}: the folder holds no .txt files")
            files += found
        elif path.is_file():
            files.append(path)
        else:  # train_tokenizer would take the path itself for text to learn from
            raise TrainTokenizerError(f"--files {item}: no such file or folder")
    if all(f.stat().st_size == 0 for f in files):
        raise TrainTokenizerError(f"no text to learn from: {', '.join(map(str, files[:3]))} is empty")
    return files


def _first_undecodable(files: list[Path]) -> str | None:
    """'<file>: line N is not UTF-8 (...)' for the first such line, or None. Read only after a decode failed."""
    for path in files:
        with open(path, "rb") as f:
            for number, line in enumerate(f, 1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as e:
                    return (
                        f"{path}: line {number} is not UTF-8 (byte 0x{line[e.start]:02x} at column {e.start + 1}); "
                        "convert the file (from Latin-1: iconv -f latin1 -t utf-8)"
                    )
    return None


def _load_rows(args: TrainTokenizerArguments) -> Any:
    """`--dataset` as a `datasets.Dataset` holding `--text_column`."""
    from datasets import load_dataset

    try:
        data = load_dataset(args.dataset, args.dataset_config, split=args.split)
    except Exception as e:  # offline, no such dataset, config or split: the loader fails in many ways
        raise TrainTokenizerError(f"cannot load the dataset {args.dataset!r}: {' '.join(str(e).split())}") from None
    if args.text_column not in data.column_names:
        raise TrainTokenizerError(
            f"the dataset {args.dataset!r} has no column {args.text_column!r} (its columns: "
            f"{', '.join(data.column_names)}); pass --text_column"
        )
    return data


def _check_arguments(args: TrainTokenizerArguments) -> None:
    """Refuse options that cannot give a vocabulary, before any text is read."""
    if bool(args.files) == bool(args.dataset):
        raise TrainTokenizerError("give --files (text files / folders) or --dataset, not both")
    for name in ("num_merges", "min_frequency"):
        if getattr(args, name) < 1:
            raise TrainTokenizerError(f"--{name} must be a positive integer, got {getattr(args, name)}")
    output = Path(args.output_dir).expanduser().absolute()
    existing = next(p for p in (output, *output.parents) if p.exists())
    if not existing.is_dir():  # found now rather than after the training
        raise TrainTokenizerError(f"--output_dir {args.output_dir}: {existing} is a file, not a folder")


def main(argv: list[str] | None = None) -> int:
    """Train a GPT-1 vocabulary from the command line; prints the size and the time. Bad input exits 2 with one
    `error:` line."""
    import sys

    from transformers import HfArgumentParser

    (args,) = HfArgumentParser(TrainTokenizerArguments).parse_args_into_dataclasses(args=argv)
    try:
        _check_arguments(args)
        files = _text_files(args.files) if args.files else []
        source = _load_rows(args) if args.dataset else args.files
        start = time.perf_counter()
        try:
            tok = train_tokenizer(
                source,
                args.num_merges,
                args.output_dir,
                text_column=args.text_column,
                min_frequency=args.min_frequency,
                show_progress=True,
            )
        except UnicodeDecodeError as e:  # the error names no file: find it (only now, so good text is read once)
            raise TrainTokenizerError(_first_undecodable(files) or f"the text is not UTF-8 ({e})") from None
    except TrainTokenizerError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 2
    print(
        f"{len(tok):,} tokens ({args.num_merges:,} merges) in {time.perf_counter() - start:.0f} s -> {args.output_dir}"
    )
    return 0
