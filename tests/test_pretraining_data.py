"""What a pretraining run reads (gpt1.pretraining_data), without a run: packed text and its prepared corpus are the
same data through the one interface, every source continues from a position exactly, the tokenizer rule (saved
fresh, read back on resume), and the data problems only reading finds."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration
from transformers import AutoTokenizer

from gpt1.data import CorpusArguments, CorpusError, load_corpus_tokenizer
from gpt1.prepared import main as prepare_main
from gpt1.pretraining_args import PretrainArguments, resolve_arguments
from gpt1.pretraining_data import (
    TOKENIZER_DIR,
    PretrainingData,
    open_pretraining_data,
    prepared_blocks,
    streamed_blocks,
    text_blocks,
)
from tests.test_pretraining import write_corpus_and_tokenizer, write_lines_corpus


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 40 kB text, its 99-token tokenizer, the text prepared in blocks of 32, and a book as JSON lines."""
    folder = tmp_path_factory.mktemp("sources")
    text, tokenizer = write_corpus_and_tokenizer(folder)
    prepared = folder / "prepared"
    assert prepare_main(["--dataset", str(text), "--tokenizer_name", str(tokenizer), "--block_size", "32",
                         "--output_dir", str(prepared)]) == 0  # fmt: skip
    return {"text": text, "tokenizer": tokenizer, "prepared": prepared, "lines": write_lines_corpus(folder)}


def options(dataset: Path, output_dir: Path, **values) -> tuple[PretrainArguments, CorpusArguments]:
    args = PretrainArguments(model_preset="tiny", block_size=32, vocab_size=0, seed=3, output_dir=str(output_dir),
                             max_steps=4, validation_fraction=0.05, **values)  # fmt: skip
    return resolve_arguments(args, CorpusArguments(dataset=str(dataset)))


def run_accelerator() -> Accelerator:
    """A CPU accelerator with the run's data order: a function of (seed, epoch) alone (`make_accelerator`'s)."""
    return Accelerator(cpu=True, dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=3))


def ids(data: PretrainingData, accelerator: Accelerator, accum: int, consumed: int, n: int) -> list[list[list[int]]]:
    """`n` micro-batches of `data` from position `consumed`, as lists."""
    return [b["input_ids"].tolist() for b in itertools.islice(data.micro_batches(accelerator, accum, consumed), n)]


def test_packed_text_and_its_prepared_corpus_are_the_same_data(sources, tmp_path: Path) -> None:
    """The same validation rows, signature, epoch length and micro-batches through `PretrainingData`, and from any
    position (inside an epoch, past its end) the micro-batches an uninterrupted read gives there; each epoch is
    shuffled anew."""
    tokenizer = load_corpus_tokenizer(str(sources["tokenizer"]))
    accelerator = run_accelerator()
    text = text_blocks(*options(sources["text"], tmp_path), tokenizer, 0)
    prepared = prepared_blocks(*options(sources["prepared"], tmp_path), tokenizer, 0)
    for data in (text, prepared):
        data.prepare(accelerator, batch_size=4, seed=3)
    epoch = text.steps_per_epoch(4)
    assert epoch == prepared.steps_per_epoch(4) == text.train_size // 4 > 10
    assert text.signature() == prepared.signature() and text.describe() == prepared.describe()
    assert [r["input_ids"].tolist() for r in text.validation] == [r["input_ids"].tolist() for r in prepared.validation]
    whole = ids(text, accelerator, 1, 0, epoch + 5)
    assert ids(prepared, accelerator, 1, 0, epoch + 5) == whole
    assert ids(text, accelerator, 1, 7, 5) == whole[7:12]
    assert ids(prepared, accelerator, 1, epoch + 2, 3) == whole[epoch + 2 : epoch + 5]
    assert whole[epoch : epoch + 5] != whole[:5]  # the next epoch in another order


def test_a_stream_continues_from_a_position(sources, tmp_path: Path) -> None:
    """A stream's micro-batch slots of one update alternate (`accum` 2 on one process), and a resumed read from
    position k gives what the uninterrupted read gave from k; its validation is its held-out head."""
    tokenizer = load_corpus_tokenizer(str(sources["tokenizer"]))
    accelerator = run_accelerator()
    stream = streamed_blocks(*options(sources["lines"], tmp_path, streaming=True), tokenizer, 0)
    stream.prepare(accelerator, batch_size=4, seed=3)
    assert stream.steps_per_epoch(8) == 0 and stream.signature()["train_blocks"] == "streamed"
    assert stream.describe() == f"streamed train / {len(stream.validation)} validation blocks"
    assert stream.validation[0]["input_ids"].tolist() == stream.stream.validation_blocks()[0]
    whole = ids(stream, accelerator, 2, 0, 8)
    assert ids(stream, accelerator, 2, 3, 5) == whole[3:8]
    slot0 = [ids.tolist() for ids in itertools.islice(stream.stream.micro_batches(4, [0], 2), 4)]
    assert whole[0::2] == slot0  # the even micro-batches are slot 0's


def test_the_tokenizer_is_saved_by_a_fresh_run_and_read_back_on_resume(sources, tmp_path: Path) -> None:
    """A fresh run learns its vocabulary (`--vocab_size`) and saves it; a resumed run reads that one, whatever
    `--tokenizer_name` and `--vocab_size` say now. A prepared corpus's run takes the prepared corpus's tokenizer."""
    accelerator = run_accelerator()
    args, corpus = options(sources["text"], tmp_path / "run", tokenizer_name=str(sources["tokenizer"]))
    args.vocab_size = 300
    fresh = open_pretraining_data(args, corpus, accelerator, resuming=False)
    saved = AutoTokenizer.from_pretrained(tmp_path / "run" / TOKENIZER_DIR)
    assert len(fresh.tokenizer) == len(saved) == 300 and saved.get_vocab() == fresh.tokenizer.get_vocab()
    args.tokenizer_name = None  # the bundled GPT-1 tokenizer, if it were read
    resumed = open_pretraining_data(args, corpus, accelerator, resuming=True)
    assert resumed.tokenizer.get_vocab() == saved.get_vocab()
    assert resumed.signature() == fresh.signature()

    args, corpus = options(sources["prepared"], tmp_path / "prepared-run")
    data = open_pretraining_data(args, corpus, accelerator, resuming=False)
    expected = AutoTokenizer.from_pretrained(sources["prepared"] / "tokenizer").get_vocab()
    assert data.tokenizer.get_vocab() == expected
    assert AutoTokenizer.from_pretrained(tmp_path / "prepared-run" / TOKENIZER_DIR).get_vocab() == expected


def test_problems_that_only_reading_finds(sources, tmp_path: Path) -> None:
    tokenizer = load_corpus_tokenizer(str(sources["tokenizer"]))
    accelerator = run_accelerator()
    blocks = prepared_blocks(*options(sources["prepared"], tmp_path), tokenizer, 0)
    n = blocks.train_size
    with pytest.raises(CorpusError, match=f"the training split has {n} blocks, fewer than one step's {n + 1}"):
        blocks.prepare(accelerator, batch_size=n + 1, seed=0)
    args, corpus = options(sources["lines"], tmp_path, streaming=True, validation_records=1)
    args.block_size = 100_000  # more tokens than the held-out head has
    with pytest.raises(CorpusError, match="the first 1000 records of the stream .* make no block of 100000 tokens"):
        streamed_blocks(args, corpus, tokenizer, 0)
    assert torch.is_tensor(blocks.validation[0]["input_ids"])
