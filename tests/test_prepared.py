"""Corpus preparation (gpt1.prepared, `scripts/prepare_corpus.py`): what `--overwrite_output_dir` replaces and keeps.

How a prepared corpus is packed, mapped and split is tested with the data (tests/test_data.py) and with the runs that
read one (tests/test_pretraining.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from gpt1.prepared import META, TOKENIZER, main, open_prepared
from tests.conftest import cli_error

BOOK = Path(__file__).resolve().parents[1] / "gpt1" / "demo_data" / "books" / "carroll_through_the_looking_glass.txt"


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` by its relative path, with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def byte_level_bpe(folder: Path, text: str) -> Path:
    """A 120-token byte-level BPE learnt on `text`, saved as a fast tokenizer only (no vocab.json or merges.txt)."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator([text], trainers.BpeTrainer(vocab_size=120, special_tokens=["<unk>"]))
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<unk>").save_pretrained(folder)
    return folder


def test_overwrite_output_dir_replaces_the_corpus_and_keeps_the_users_files(tmp_path: Path, capsys) -> None:
    """Over an earlier corpus (another text, tokenizer and block size), `--overwrite_output_dir` leaves exactly what
    preparing into an empty folder gives, plus the user's own files: nothing of the old corpus remains (the old
    tokenizer's vocab.json/merges.txt beside the new tokenizer.json would make a different tokenizer load). Without
    the flag the folder is refused with one error line and left as it was."""
    text = BOOK.read_text()
    (tmp_path / "old.txt").write_text(text[:20_000])
    (tmp_path / "new.txt").write_text(text[20_000:40_000])
    tokenizer = byte_level_bpe(tmp_path / "tok", text[:40_000])
    out, fresh = tmp_path / "corpus", tmp_path / "fresh"
    # The old corpus: the bundled GPT-1 tokenizer (vocab.json, merges.txt and its code files), blocks of 32.
    assert main(["--dataset", str(tmp_path / "old.txt"), "--block_size", "32", "--output_dir", str(out)]) == 0
    assert {"vocab.json", "merges.txt"} <= {p.name for p in (out / TOKENIZER).iterdir()}
    (out / "NOTES.md").write_text("mine")
    (out / "stats").mkdir()
    (out / "stats" / "lengths.csv").write_text("1,2\n")
    before = tree(out)

    new = ["--dataset", str(tmp_path / "new.txt"), "--tokenizer_name", str(tokenizer), "--block_size", "16"]
    error = cli_error(main, [*new, "--output_dir", str(out)], capsys)
    assert error == (f"error: output folder {out} is not empty; choose another or pass --overwrite_output_dir (only "
                     "the files this command writes are replaced)")  # fmt: skip
    assert tree(out) == before

    assert main([*new, "--output_dir", str(out), "--overwrite_output_dir", "true"]) == 0
    assert main([*new, "--output_dir", str(fresh)]) == 0
    got, expected = tree(out), tree(fresh)
    metas = [json.loads(files.pop(META)) for files in (got, expected)]
    assert got == {**expected, "NOTES.md": b"mine", "stats/lengths.csv": b"1,2\n"}
    assert metas[0].pop("seconds") >= 0 and metas[1].pop("seconds") >= 0  # the one field that may differ
    assert metas[0] == metas[1]
    assert not {"vocab.json", "merges.txt"} & {p.name for p in (out / TOKENIZER).iterdir()}
    prepared = open_prepared(out)
    assert (prepared.block_size, prepared.meta["vocab_size"]) == (16, 120)
    assert np.array_equal(prepared.blocks, open_prepared(fresh).blocks)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "fresh", "new.txt", "old.txt", "tok"]  # no temp


def test_a_full_disk_is_one_error_line_and_the_old_corpus_stays(tmp_path: Path, small_disk, capsys) -> None:
    """A corpus folder (mostly its tokenizer's ~3 MB of files) on a filesystem with room for one: replacing it needs
    room for the new one beside the old until the swap, so it is refused, and the old corpus stays whole."""
    disk = small_disk(6)
    (tmp_path / "small.txt").write_text(BOOK.read_text()[:2_000])
    (tmp_path / "large.txt").write_text(BOOK.read_text()[:20_000])
    out = disk / "corpus"
    assert main(["--dataset", str(tmp_path / "small.txt"), "--block_size", "32", "--output_dir", str(out)]) == 0
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    large = ["--dataset", str(tmp_path / "large.txt"), "--block_size", "32", "--output_dir", str(out)]
    assert main([*large, "--overwrite_output_dir", "true"]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert errors[0].startswith(f"error: cannot save to {disk}: No space left on device")
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before  # the old corpus, whole
    assert sorted(p.name for p in disk.iterdir()) == ["corpus"]
