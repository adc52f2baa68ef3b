"""`tokenization.training`: learning a vocabulary in the authors' format, and `scripts/train_tokenizer.py`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from tests.conftest import needs_shared
from tests.test_tokenization import _tiny_model
from tokenization import GPT1Tokenizer, train_tokenizer
from tokenization.training import main as train_tokenizer_main


@needs_shared("corpus/books", "a real book to train a vocabulary on")
def test_train_small_vocabulary_and_a_model_on_it(tmp_path, shared_data):
    import torch

    books = sorted((shared_data / "corpus" / "books").glob("*.txt"))[:1]
    tok = train_tokenizer(books, num_merges=300, output_dir=tmp_path)
    merges = (tmp_path / "merges.txt").read_text().split("\n")
    assert merges[0] == "#version: 0.2" and len([m for m in merges[1:] if m]) == 300
    vocab = json.loads((tmp_path / "vocab.json").read_text())
    assert vocab["<unk>"] == 0 and vocab["\n</w>"] == len(vocab) - 1 and len(tok) == len(vocab)
    reloaded = GPT1Tokenizer(vocab_file=tmp_path / "vocab.json", merges_file=tmp_path / "merges.txt")
    text = "It was the best of times, it was the worst of times. Don't panic!"
    assert reloaded(text)["input_ids"] == tok(text)["input_ids"]
    assert type(AutoTokenizer.from_pretrained(tmp_path)) is GPT1Tokenizer
    # Same normalisation and splitting as the original: the words are the same, only the pieces differ.
    assert tok.normalize_text(text) == GPT1Tokenizer().normalize_text(text)
    # One training step of a tiny model on the new ids lowers the loss on that batch.
    torch.manual_seed(0)
    model = _tiny_model(len(tok))
    ids = torch.tensor([tok(Path(books[0]).read_text(encoding="utf-8")[:5000])["input_ids"][:64]])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(3):
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_training_from_a_dataset():
    datasets = pytest.importorskip("datasets")
    rows = datasets.Dataset.from_dict({"text": ["the cat sat on the mat .", "the dog sat on the log ."] * 20})
    tok = train_tokenizer(rows, num_merges=10, min_frequency=1)
    assert len(json.loads(tok.backend_tokenizer.to_str())["model"]["merges"]) == 10
    assert tok.convert_ids_to_tokens(tok("the cat")["input_ids"])[0] == "the</w>"


# --- scripts/train_tokenizer.py: a corpus into a vocabulary, and the user mistakes it refuses ----------------------


def test_train_tokenizer_cli_refuses_user_mistakes(tmp_path: Path, capsys) -> None:
    """Each used to end in a traceback, exit 1 without `error:`, or (a missing file, a folder without .txt files)
    exit 0 with a vocabulary learnt from the path's own characters or from nothing."""
    (tmp_path / "book.txt").write_text("the cat sat on the mat. the cat ran.\n" * 20)
    (tmp_path / "latin1.txt").write_bytes("first line\ncafé au lait\n".encode("latin-1"))
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "no_txt").mkdir()
    (tmp_path / "no_txt" / "notes.md").write_text("not read: only *.txt files of a folder are\n")
    (tmp_path / "rows").mkdir()
    (tmp_path / "rows" / "a.jsonl").write_text('{"body": "some text"}\n')
    (tmp_path / "a_file").write_text("x")
    out = ["--output_dir", str(tmp_path / "tok")]
    book = ["--files", str(tmp_path / "book.txt")]
    cases = [
        ([], "give --files .* or --dataset"),
        ([*book, "--dataset", "wikitext"], "give --files .* or --dataset, not both"),
        (["--files", str(tmp_path / "missing.txt")], "--files .*missing.txt: no such file or folder"),
        (["--files", str(tmp_path / "no_txt")], "--files .*no_txt: the folder holds no .txt files"),
        (["--files", str(tmp_path / "empty.txt")], "no text to learn from: .*empty.txt is empty"),
        (["--files", str(tmp_path / "latin1.txt")], r"latin1.txt: line 2 is not UTF-8 \(byte 0xe9 at column 4\)"),
        ([*book, "--num_merges", "0"], "--num_merges must be a positive integer, got 0"),
        ([*book, "--num_merges", "-1"], "--num_merges must be a positive integer, got -1"),
        ([*book, "--min_frequency", "-3"], "--min_frequency must be a positive integer, got -3"),
        ([*book, "--output_dir", str(tmp_path / "a_file" / "tok")], "--output_dir .*: .*a_file is a file"),
        (["--dataset", "nobody/no-such-corpus"], "cannot load the dataset 'nobody/no-such-corpus'"),
        (["--dataset", str(tmp_path / "rows")], r"has no column 'text' \(its columns: body\); pass --text_column"),
    ]
    for extra, message in cases:
        assert train_tokenizer_main([*out, *extra]) == 2, extra
        err = capsys.readouterr().err
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and "Traceback" not in err, (extra, err)
        assert re.search(message, errors[0]), (extra, errors[0])
    assert not (tmp_path / "tok").exists()
    assert train_tokenizer_main([*out, *book, "--num_merges", "5", "--min_frequency", "1"]) == 0
    assert (tmp_path / "tok" / "vocab.json").is_file()


def test_a_full_disk_is_one_error_line_and_the_folder_is_left_as_it_was(tmp_path: Path, small_disk, capsys) -> None:
    text = tmp_path / "text.txt"
    text.write_text("the garden was quiet and the road was long . " * 200)
    disk = small_disk(0.06)  # 60 kB: less than the saved tokenizer and its code files
    out = disk / "tok"
    out.mkdir()
    (out / "NOTES.md").write_text("mine")
    assert train_tokenizer_main(["--output_dir", str(out), "--files", str(text), "--num_merges", "50"]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert errors[0].startswith(f"error: cannot save to {out}: No space left on device (")
    assert sorted(p.name for p in out.iterdir()) == ["NOTES.md"] and sorted(p.name for p in disk.iterdir()) == ["tok"]
