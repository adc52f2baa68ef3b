"""Corpus loading, tokenisation and packing (gpt1.data) on the bundled books and the shared corpus."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from datasets import Dataset
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from gpt1.data import CorpusError, load_corpus, pack_corpus, resolve_corpus_files, split_blocks
from gpt1.pretraining import main as pretrain_main
from tests.conftest import SHARED_DATA, needs_shared

DEMO = Path(__file__).resolve().parents[1] / "gpt1" / "demo_data" / "books"
BOOK = DEMO / "carroll_through_the_looking_glass.txt"


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    """A 200-token byte-level BPE learnt on a slice of a bundled book: real merges, fast to apply."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator([BOOK.read_text()[:40_000]], trainers.BpeTrainer(vocab_size=200, special_tokens=["<unk>"]))
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<unk>")


def test_resolve_folder_glob_and_list(tmp_path: Path) -> None:
    files = resolve_corpus_files(DEMO)
    assert list(files) == ["text"] and len(files["text"]) == 4  # MANIFEST.tsv is not a corpus file
    assert files["text"] == sorted(files["text"])
    assert resolve_corpus_files(str(DEMO / "b*.txt"))["text"] == files["text"][:3]
    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n')
    mixed = resolve_corpus_files([BOOK, tmp_path / "a.jsonl"])
    assert mixed == {"text": [str(BOOK)], "json": [str(tmp_path / "a.jsonl")]}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("./no/such/corpus.txt", "no such file or folder"),
        ("missing_dir/sub/", "no such file or folder"),
        (str(DEMO / "*.parquet"), "matched no files"),
    ],
)
def test_missing_input_is_named(source: str, message: str) -> None:
    with pytest.raises(CorpusError, match=message):
        load_corpus(source)


def test_folder_without_corpus_files_and_unsupported_suffix(tmp_path: Path) -> None:
    (tmp_path / "notes.tsv").write_text("a\tb\n")
    with pytest.raises(CorpusError, match="holds no corpus files"):
        load_corpus(tmp_path)
    with pytest.raises(CorpusError, match="unsupported suffix '.tsv'"):
        load_corpus(tmp_path / "notes.tsv")


def test_plain_text_paragraphs_are_unwrapped(tmp_path: Path) -> None:
    path = tmp_path / "book.txt"
    path.write_text("It was a dark\nand stormy night.\n\n\nThe end.\n")
    assert list(load_corpus(path)["text"]) == ["It was a dark and stormy night.\n", "The end.\n"]
    kept = load_corpus(path, unwrap_lines=False)["text"]
    assert kept[0].startswith("It was a dark\nand stormy")


def test_jsonl_and_parquet_use_the_text_column(tmp_path: Path) -> None:
    rows = [{"id": i, "body": f"document number {i}."} for i in range(3)]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    Dataset.from_list(rows).to_parquet(str(tmp_path / "b.parquet"))
    corpus = load_corpus(tmp_path, text_column="body")
    assert corpus.column_names == ["text"]
    assert sorted(corpus["text"]) == sorted(r["body"] for r in rows * 2)  # three rows from each file
    with pytest.raises(CorpusError, match=r"no column 'text' \(its columns: id, body\).*--text_column"):
        load_corpus(tmp_path / "a.jsonl")
    with pytest.raises(CorpusError, match="not text"):
        load_corpus(tmp_path / "a.jsonl", text_column="id")


def test_empty_corpus(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("\n\n   \n")
    with pytest.raises(CorpusError, match="is empty"):
        load_corpus(tmp_path / "empty.txt")


# Before, these gave "cannot read the text files [...]: An error occurred while generating the dataset" (or a bare
# datasets/arrow message, or for Latin-1 JSON Lines a UnicodeDecodeError traceback): no line, no reason.
UNREADABLE = [
    (
        "latin1.txt",
        "first line\ncafé au lait\n".encode("latin-1"),
        r"latin1\.txt': not UTF-8 text: byte 0xe9 at offset 14 \(line 2\)",
    ),
    (
        "noise.txt",
        b"ok\n" + random.Random(0).randbytes(300),
        r"noise\.txt': not UTF-8 text: byte 0x.. at offset \d+ \(line 2\)",
    ),
    ("docs.jsonl", b'{"text": "fine"}\n\n{"text": broken}\n', r"docs\.jsonl': line 3 is not valid JSON"),
    ("list.json", b'[{"text": "a"},\n {"text": "b"\n]', r"list\.json': line 3 is not valid JSON"),
    (
        "latin1.jsonl",
        '{"text": "café"}\n'.encode("latin-1"),
        r"latin1\.jsonl': not UTF-8 text: byte 0xe9 at offset 13 \(line 1\)",
    ),
    ("blank.jsonl", b"\n  \n", r"blank\.jsonl': it holds no JSON records"),
    ("strings.jsonl", b'"a"\n"b"\n', r"strings\.jsonl': line 1 holds a JSON str, not an object"),
    ("empty.txt", b"", r"empty\.txt' is empty \(0 bytes\)"),
    ("empty.jsonl", b"", r"empty\.jsonl' is empty \(0 bytes\)"),
    ("broken.parquet", b"not parquet at all", r"broken\.parquet': not a parquet file"),
]


@pytest.mark.parametrize(("name", "content", "message"), UNREADABLE, ids=[u[0] for u in UNREADABLE])
def test_unreadable_file_is_named_with_line_and_reason(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    """The file at fault, where in it, and why; also when it is one of several files of its kind."""
    (tmp_path / name).write_bytes(content)
    with pytest.raises(CorpusError, match=message) as caught:
        load_corpus(tmp_path / name)
    assert "\n" not in str(caught.value) and "An error occurred" not in str(caught.value)
    suffix = Path(name).suffix
    good = {".txt": b"Some text.\n", ".jsonl": b'{"text": "x"}\n', ".json": b'{"text": "x"}\n'}.get(suffix)
    if good is not None and content.strip():  # a file without records beside others is merely skipped
        (tmp_path / f"a_good{suffix}").write_bytes(good)  # sorted first, read fine
        with pytest.raises(CorpusError, match=message):
            load_corpus(tmp_path)


def test_empty_files_beside_text_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "book.txt").write_text("Some text.\n")
    assert list(load_corpus(tmp_path)["text"]) == ["Some text.\n"]
    (tmp_path / "book.txt").write_bytes(b"")
    with pytest.raises(CorpusError, match=r"all 2 corpus files .* are empty \(0 bytes\)"):
        load_corpus(tmp_path)


def test_pretraining_cli_names_the_bad_corpus_file_before_training(tmp_path: Path, capsys) -> None:
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    argv = ["--dataset", str(tmp_path / "latin1.txt"), "--output_dir", str(tmp_path / "run"), "--max_steps", "1"]
    assert pretrain_main(argv) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err
    assert "latin1.txt': not UTF-8 text: byte 0xe9 at offset 3 (line 1)" in errors[0]
    assert not (tmp_path / "run" / "model").exists()


def test_hub_name_that_cannot_load_is_named() -> None:
    # conftest forces offline mode: the name is sent to the Hub loader, which fails, and the error says so.
    with pytest.raises(CorpusError, match="'nobody-here/no-such-corpus' is no local file.*Hub dataset"):
        load_corpus("nobody-here/no-such-corpus")


def test_packing_is_the_contiguous_token_stream(tokenizer: PreTrainedTokenizerFast) -> None:
    corpus = load_corpus(BOOK).select(range(300))
    blocks = pack_corpus(corpus, tokenizer, block_size=64)
    stream = [t for text in list(corpus["text"]) for t in tokenizer(text, add_special_tokens=False)["input_ids"]]
    assert len(blocks) == len(stream) // 64  # one map batch: only the final partial block is dropped
    assert all(len(row) == 64 for row in blocks["input_ids"])
    assert [t for row in blocks["input_ids"] for t in row] == stream[: len(blocks) * 64]


def test_corpus_smaller_than_one_block(tmp_path: Path, tokenizer: PreTrainedTokenizerFast) -> None:
    (tmp_path / "short.txt").write_text("Only a few words here.\n")
    with pytest.raises(CorpusError, match=r"smaller than one block: \d+ tokens in 1 records.*block_size=64"):
        pack_corpus(load_corpus(tmp_path / "short.txt"), tokenizer, 64)


def test_split_is_seeded_disjoint_and_needs_two_blocks(tokenizer: PreTrainedTokenizerFast) -> None:
    blocks = pack_corpus(load_corpus(BOOK).select(range(400)), tokenizer, block_size=32)
    blocks = blocks.map(lambda _, i: {"row": i}, with_indices=True)
    a, b = split_blocks(blocks, 0.1, seed=1), split_blocks(blocks, 0.1, seed=1)
    assert a["validation"]["row"] == b["validation"]["row"]
    assert len(a["validation"]) == round(0.1 * len(blocks))
    assert not set(a["train"]["row"]) & set(a["validation"]["row"])
    assert len(a["train"]) + len(a["validation"]) == len(blocks)
    with pytest.raises(CorpusError, match="only 1 block"):
        split_blocks(blocks.select([0]), 0.1, seed=1)


@needs_shared("corpus/books", "over 2,000 lines of real books to pack in parallel")
def test_books_corpus_glob_in_parallel_and_cached(tokenizer: PreTrainedTokenizerFast) -> None:
    corpus = load_corpus(str(SHARED_DATA / "corpus" / "books" / "ba*.txt"))
    assert len(corpus) > 2000
    blocks = pack_corpus(corpus, tokenizer, block_size=128, num_proc=2)
    assert len(blocks) > 1000 and {len(r) for r in blocks.select(range(50))["input_ids"]} == {128}
    again = pack_corpus(corpus, tokenizer, block_size=128, num_proc=2)
    assert again._fingerprint == blocks._fingerprint and again.cache_files == blocks.cache_files  # from the cache


def test_bundled_tokenizer_packs_the_demo_corpus() -> None:
    from tokenization import GPT1Tokenizer  # a plain import: a broken package fails this test, never skips it

    tok = GPT1Tokenizer()
    corpus = load_corpus(BOOK).select(range(200))
    blocks = pack_corpus(corpus, tok, block_size=64)
    ids = [t for row in blocks["input_ids"] for t in row]
    assert len(blocks) > 10 and max(ids) < 40478  # plain text: no fine-tuning tokens


# --- prepared corpora (gpt1.prepared) -------------------------------------------------------------------------------


def test_split_indices_are_datasets_train_test_split() -> None:
    # The split a prepared corpus gets must be the one `datasets` gives packed text (runs before it split so too).
    from gpt1.data import split_indices

    rows = Dataset.from_dict({"i": list(range(1003))})
    for fraction, seed in [(0.01, 0), (0.3, 7), (0.999, 42)]:
        train, validation = split_indices(len(rows), fraction, seed)
        n_val = min(len(rows) - 1, max(1, round(fraction * len(rows))))
        parts = rows.train_test_split(test_size=n_val, seed=seed, shuffle=True)
        assert list(train) == parts["train"]["i"] and list(validation) == parts["test"]["i"]


@pytest.mark.parametrize("num_proc", [1, 2])
def test_a_prepared_corpus_holds_the_packed_blocks(tmp_path: Path, tokenizer, num_proc: int) -> None:
    import numpy as np

    from gpt1.data import PACK_BATCH
    from gpt1.prepared import open_prepared, prepare_corpus

    corpus = load_corpus(DEMO)
    assert len(corpus) > 2 * PACK_BATCH  # several batches, so that their order across processes matters
    prepared = prepare_corpus(corpus, tokenizer, 64, tmp_path / "prepared", num_proc=num_proc)
    assert prepared.dtype == "<u2" and (tmp_path / "prepared" / "tokens.bin").stat().st_size == prepared.blocks.nbytes
    assert np.array_equal(prepared.blocks, np.asarray(pack_corpus(corpus, tokenizer, 64)["input_ids"]))
    assert open_prepared(tmp_path / "prepared") == prepared
    assert PreTrainedTokenizerFast.from_pretrained(prepared.tokenizer_dir).get_vocab() == tokenizer.get_vocab()
    with open(tmp_path / "prepared" / "tokens.bin", "r+b") as f:
        f.truncate(1000)
    with pytest.raises(CorpusError, match="holds 1000 bytes, not the .* \\(truncated or replaced\\)"):
        open_prepared(tmp_path / "prepared")


def test_token_dtype_fits_the_vocabulary() -> None:
    from gpt1.prepared import token_dtype

    assert token_dtype(40_478).itemsize == 2 and token_dtype(65_536).itemsize == 2
    assert token_dtype(65_537).itemsize == 4 and token_dtype(100_000).itemsize == 4


# --- streamed corpora ------------------------------------------------------------------------------------------------


def test_a_streamed_corpus_yields_the_packed_blocks_dealt_to_shards(tmp_path: Path, tokenizer) -> None:
    import itertools

    from gpt1.data import PACK_BATCH, StreamedCorpus, pack_texts

    lines = [line for line in BOOK.read_text().splitlines() if line.strip()]  # 2,861 records: 3 packing batches
    (tmp_path / "lines.jsonl").write_text("".join(json.dumps({"text": line}) + "\n" for line in lines))
    records = load_corpus(tmp_path / "lines.jsonl", streaming=True)
    assert list(itertools.islice((r["text"] for r in records), 5)) == lines[:5]
    packed = pack_corpus(load_corpus(tmp_path / "lines.jsonl"), tokenizer, 32)["input_ids"]
    batches = [pack_texts(lines[i : i + PACK_BATCH], tokenizer, 32) for i in range(0, len(lines), PACK_BATCH)]
    assert [block for batch in batches for block in batch] == packed  # the rule pack_corpus applies

    stream = StreamedCorpus(records, tokenizer, 32, held_out=1)
    assert stream.validation_blocks() == batches[0]
    one_shard = stream.micro_batches(1, [0], 1)
    train = len(packed) - len(batches[0])
    assert [ids.tolist()[0] for ids in itertools.islice(one_shard, train)] == packed[len(batches[0]) :]
    assert next(one_shard).tolist()[0] == batches[1][0]  # then the stream starts over, after the held-out head
    # Two shards (micro-batch slots): batches 1 and 2 of the stream, each read only by its own shard's reader.
    for shard in (0, 1):
        reader = stream.micro_batches(4, [shard], 2)
        blocks = [row for ids in itertools.islice(reader, len(batches[1 + shard]) // 4) for row in ids.tolist()]
        assert blocks == batches[1 + shard][: len(blocks)]
    with pytest.raises(CorpusError, match="cannot fill a micro-batch of 4 blocks for shard 2 of 3"):
        next(StreamedCorpus(records, tokenizer, 32, held_out=1).micro_batches(4, [2], 3))


def test_prepare_corpus_command_answers_mistakes_in_one_line(tmp_path: Path, capsys) -> None:
    from gpt1.prepared import main as prepare_main

    def fails(*argv: str) -> str:
        assert prepare_main(list(argv)) == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1
        return errors[0]

    assert "no such file or folder: './nowhere'" in fails("--dataset", "./nowhere", "--output_dir", str(tmp_path / "a"))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert "is not empty" in fails("--dataset", str(BOOK), "--output_dir", str(tmp_path / "full"))
    assert "--preprocessing_num_workers (--num_proc) must be a positive integer, got 0" in fails(
        "--dataset", str(BOOK), "--output_dir", str(tmp_path / "b"), "--num_proc", "0"
    )
    assert "--dataset is required" in fails("--output_dir", str(tmp_path / "c"))
    assert not any((tmp_path / name).exists() for name in "abc")
