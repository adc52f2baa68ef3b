"""What a pretraining run reads: its tokenizer and token blocks, behind one interface (`PretrainingData`) that each
source implements, built by `open_pretraining_data`, the one place that tells the sources apart.

| source | when | class |
|---|---|---|
| text packed in memory (`data.pack_corpus`, cached by `datasets`) | `--dataset` names text | `Blocks` |
| a prepared corpus (`prepared`: blocks memory-mapped from `tokens.bin`) | `--dataset` is a prepared folder | `Blocks` |
| a stream, tokenised and packed as it is read (`data.StreamedCorpus`) | `--streaming` | `Stream` |

A new source is a builder (`text_blocks`, `prepared_blocks`, `streamed_blocks`) returning one of these (or a new
`PretrainingData`) and its line in `open_pretraining_data`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from datasets import Dataset
from torch.utils.data import DataLoader

from .data import (
    PACK_BATCH,
    CorpusArguments,
    CorpusError,
    StreamedCorpus,
    load_corpus_of,
    load_corpus_tokenizer,
    pack_corpus,
    split_blocks,
)
from .io import atomic_directory
from .prepared import is_prepared, open_prepared, prepared_splits
from .pretraining_args import PretrainArguments

TOKENIZER_DIR = "tokenizer"  # in output_dir: the run's tokenizer, saved by a fresh run, read back by a resumed one


class PretrainingData(ABC):
    """The tokenizer, the validation blocks (map-style rows `{"input_ids": LongTensor}`) and the training
    micro-batches of a run, from any position. Every process holds one; `prepare` readies it for `accelerate`."""

    def __init__(self, tokenizer: Any, validation: Any) -> None:
        self.tokenizer, self.validation = tokenizer, validation

    @property
    @abstractmethod
    def train_size(self) -> int | str:
        """Training blocks, or a word when their number is unknown."""

    @abstractmethod
    def steps_per_epoch(self, total_batch_size: int) -> int:
        """Updates of `total_batch_size` blocks in one pass over the training blocks (0: unknown)."""

    @abstractmethod
    def known_by(self) -> Any:
        """Rows the data is recognised by in the run's signature (read before training)."""

    @abstractmethod
    def prepare(self, accelerator: Accelerator, batch_size: int, seed: int) -> DataLoader:
        """Ready the training reader for `batch_size` blocks per micro-batch and order `seed`; returns the
        validation loader, prepared by `accelerator` (shards over processes)."""

    @abstractmethod
    def micro_batches(self, accelerator: Accelerator, accum: int, consumed: int) -> Iterator[dict[str, torch.Tensor]]:
        """This process's training micro-batches forever, after the first `consumed` of them (`accum` per update):
        where an interrupted run with `consumed` micro-batches done continues, exactly."""

    def validation_loader(self, accelerator: Accelerator, batch_size: int) -> DataLoader:
        # Own generator: the loader must not draw on the global RNG (dropout's), which a resume restores.
        return accelerator.prepare(DataLoader(self.validation, batch_size=batch_size, generator=torch.Generator()))

    def describe(self) -> str:
        return f"{self.train_size} train / {len(self.validation)} validation blocks"

    def signature(self) -> dict[str, Any]:
        """What a checkpoint records of the data, to refuse resuming on other data: its size and first blocks."""
        known = self.known_by()
        sample = [known[i]["input_ids"].tolist() for i in range(min(4, len(known)))]
        return {
            "train_blocks": self.train_size,
            "data_digest": hashlib.sha256(json.dumps(sample).encode()).hexdigest()[:16],
        }


class Blocks(PretrainingData):
    """Training blocks in a map-style dataset (packed text or a prepared corpus), shuffled each epoch in an order
    that is a function of (seed, epoch) alone: the run's accelerator has the seedable sampler
    (`DataLoaderConfiguration(use_seedable_sampler=True)`)."""

    def __init__(self, tokenizer: Any, train: Any, validation: Any) -> None:
        super().__init__(tokenizer, validation)
        self.train, self.loader = train, None

    @property
    def train_size(self) -> int:
        return len(self.train)

    def steps_per_epoch(self, total_batch_size: int) -> int:
        return len(self.train) // total_batch_size

    def known_by(self) -> Any:
        return self.train

    def prepare(self, accelerator: Accelerator, batch_size: int, seed: int) -> DataLoader:
        micro_per_step = batch_size * accelerator.num_processes
        if len(self.train) < micro_per_step:
            raise CorpusError(
                f"the training split has {len(self.train)} blocks, fewer than one step's {micro_per_step} "
                "(per-device batch x processes); use more text, a smaller block or batch size"
            )
        loader = DataLoader(self.train, batch_size=batch_size, shuffle=True, drop_last=True,
                            generator=torch.Generator().manual_seed(seed))  # fmt: skip
        self.loader = accelerator.prepare(loader)  # before the validation loader: its sampler state is `sampler.bin`
        return self.validation_loader(accelerator, batch_size)

    def micro_batches(self, accelerator: Accelerator, accum: int, consumed: int) -> Iterator[dict[str, torch.Tensor]]:
        # Skipping the consumed batches of the current epoch puts a resumed run exactly where the interrupted one was.
        epoch, skip = divmod(consumed, len(self.loader))
        while True:
            self.loader.set_epoch(epoch)
            yield from accelerator.skip_first_batches(self.loader, skip) if skip else self.loader
            epoch, skip = epoch + 1, 0


class Stream(PretrainingData):
    """A `StreamedCorpus`: its held-out head validates, and each process reads its own micro-batch slots of every
    update (`StreamedCorpus.micro_batches`), so nothing is split by `accelerate`. A resume reads the consumed
    micro-batches again and drops them: the text up to there is tokenised again, never trained on twice."""

    def __init__(self, tokenizer: Any, stream: StreamedCorpus, validation: Any) -> None:
        super().__init__(tokenizer, validation)
        self.stream, self.batch_size = stream, 0

    @property
    def train_size(self) -> str:
        return "streamed"

    def steps_per_epoch(self, total_batch_size: int) -> int:
        return 0

    def known_by(self) -> Any:
        return self.validation  # the training blocks are not read before training

    def prepare(self, accelerator: Accelerator, batch_size: int, seed: int) -> DataLoader:
        self.batch_size = batch_size
        return self.validation_loader(accelerator, batch_size)

    def micro_batches(self, accelerator: Accelerator, accum: int, consumed: int) -> Iterator[dict[str, torch.Tensor]]:
        first = accelerator.process_index * accum
        shards = range(first, first + accum)
        blocks = self.stream.micro_batches(self.batch_size, shards, accum * accelerator.num_processes)
        for ids in itertools.islice(blocks, consumed, None):
            yield {"input_ids": ids.to(accelerator.device)}


# --- the sources -------------------------------------------------------------------------------------------------


def text_blocks(args: PretrainArguments, corpus: CorpusArguments, tokenizer: Any, vocab_size: int) -> Blocks:
    """The corpus packed into blocks by `data.pack_corpus` and split by `data.split_blocks`, with a new vocabulary
    of `vocab_size` learnt on it first (0: `tokenizer`'s own)."""
    text = load_corpus_of(corpus)
    if vocab_size:
        tokenizer = train_vocabulary(tokenizer, text, vocab_size)
    blocks = pack_corpus(text, tokenizer, args.block_size, num_proc=corpus.preprocessing_num_workers)
    splits = split_blocks(blocks, args.validation_fraction, args.seed)
    return Blocks(tokenizer, splits["train"].with_format("torch"), splits["validation"].with_format("torch"))


def prepared_blocks(args: PretrainArguments, corpus: CorpusArguments, tokenizer: Any, vocab_size: int) -> Blocks:
    """A prepared corpus's blocks, mapped, split as `text_blocks` splits packed text (`vocab_size` is 0: its ids are
    written)."""
    splits = prepared_splits(open_prepared(corpus.dataset), args.validation_fraction, args.seed)
    return Blocks(tokenizer, splits["train"], splits["validation"])


def streamed_blocks(args: PretrainArguments, corpus: CorpusArguments, tokenizer: Any, vocab_size: int) -> Stream:
    """The corpus read as a stream; its first `--validation_records` records (whole packing batches) validate
    (`vocab_size` is 0: a vocabulary cannot be learnt from text not read yet)."""
    held_out = math.ceil(args.validation_records / PACK_BATCH)
    stream = StreamedCorpus(load_corpus_of(corpus, streaming=True), tokenizer, args.block_size, held_out)
    validation = stream.validation_blocks()
    if not validation:
        raise CorpusError(
            f"the first {held_out * PACK_BATCH} records of the stream (--validation_records) make no block of "
            f"{args.block_size} tokens to validate on; hold out more records"
        )
    return Stream(tokenizer, stream, Dataset.from_dict({"input_ids": validation}).with_format("torch"))


def train_vocabulary(tokenizer: Any, corpus: Any, vocab_size: int) -> Any:
    """A new BPE vocabulary of `vocab_size` learnt on `corpus`, keeping `tokenizer`'s normalisation and pre-split."""
    if not getattr(tokenizer, "is_fast", False):
        raise CorpusError(f"--vocab_size needs a fast (tokenizers-backed) tokenizer, got {type(tokenizer).__name__}")
    batches = (corpus[i : i + 1000]["text"] for i in range(0, len(corpus), 1000))
    return tokenizer.train_new_from_iterator(batches, vocab_size=vocab_size, length=len(corpus))


def open_pretraining_data(
    args: PretrainArguments, corpus: CorpusArguments, accelerator: Accelerator, resuming: bool
) -> PretrainingData:
    """The data of a run with the resolved options `args`, from the source `corpus` names.

    The tokenizer rule, for every source: the main process of a fresh run takes the source's tokenizer
    (`--tokenizer_name`, or the one a prepared corpus was written with), learns a new vocabulary of `--vocab_size`
    on the text when asked, and saves it to `output_dir/tokenizer` once the data is known to be usable; the other
    processes, and every process of a resumed run, read that one back, so the vocabulary never changes under a run.
    The main process builds first, so the others find its tokenizer and its `datasets` cache.
    """
    if is_prepared(corpus.dataset):
        build, tokenizer_name = prepared_blocks, str(open_prepared(corpus.dataset).tokenizer_dir)
    elif args.streaming:
        build, tokenizer_name = streamed_blocks, args.tokenizer_name
    else:
        build, tokenizer_name = text_blocks, args.tokenizer_name
    saved = Path(args.output_dir) / TOKENIZER_DIR
    fresh = not resuming and accelerator.is_main_process
    with accelerator.main_process_first():
        tokenizer = load_corpus_tokenizer(tokenizer_name if fresh else str(saved))
        data = build(args, corpus, tokenizer, (args.vocab_size or 0) if fresh else 0)
        if fresh:
            with atomic_directory(saved) as tmp:
                data.tokenizer.save_pretrained(tmp)
    return data


__all__ = [
    "TOKENIZER_DIR",
    "Blocks",
    "PretrainingData",
    "Stream",
    "open_pretraining_data",
    "train_vocabulary",
]
