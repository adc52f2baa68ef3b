"""Benchmark GPT1Tokenizer: speed against the reference pipeline and transformers' OpenAIGPTTokenizer, agreement
on every line of the real text, and training 40,000 merges on the books corpus. Writes benchmarks/tokenizer.md.

    python benchmarks/bench_tokenizer.py                      # speed only (a few minutes)
    python benchmarks/bench_tokenizer.py --agreement --train  # everything (about 20 minutes on 2 busy cores)

Speed: the three tokenizers encode the same documents (books, 100 lines each); the reference runs on 2 processes
(as the authors' encoder would be parallelised), the Rust tokenizers use their own threads. MB/s are megabytes of
UTF-8 book text per wall-clock second; tokens/s count the ids produced.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tokenization import GPT1Tokenizer, ReferenceEncoder, train_tokenizer  # noqa: E402
from tokenization.agreement import CORPORA, compare, fast_ids, reference_ids  # noqa: E402
from tokenization.tokenization_gpt1 import bundled_files, read_vocab_and_merges  # noqa: E402

RECORD = REPO / "benchmarks" / "tokenizer.md"
BEGIN, END = "<!-- results: written by benchmarks/bench_tokenizer.py -->", "<!-- end of results -->"

_ENCODER = None


def _init() -> None:
    global _ENCODER
    _ENCODER = ReferenceEncoder(*read_vocab_and_merges(*bundled_files()))


def _reference_encode(doc: str) -> int:
    return len(_ENCODER.encode(doc))


def book_documents(data_dir: Path, megabytes: float, lines_per_doc: int = 100) -> list[str]:
    """The first `megabytes` of the books corpus, as documents of `lines_per_doc` lines."""
    docs, size = [], 0
    for path in sorted((data_dir / "corpus" / "books").glob("*.txt")):
        lines = path.read_text(encoding="utf-8").split("\n")
        for i in range(0, len(lines), lines_per_doc):
            doc = "\n".join(lines[i : i + lines_per_doc])
            docs.append(doc)
            size += len(doc.encode("utf-8"))
            if size >= megabytes * 1e6:
                return docs
    return docs


def speed(data_dir: Path, megabytes: float, reference_megabytes: float) -> list[tuple[str, float, float, float]]:
    """(name, MB, MB/s, tokens/s) for the fast tokenizer, OpenAIGPTTokenizer and the reference."""
    from transformers import OpenAIGPTTokenizer

    vocab_file, merges_file = bundled_files()
    fast = GPT1Tokenizer()
    openai = OpenAIGPTTokenizer(vocab=str(vocab_file), merges=str(merges_file))
    docs = book_documents(data_dir, megabytes)
    mb = sum(len(d.encode("utf-8")) for d in docs) / 1e6
    rows = []
    for name, tok in (("GPT1Tokenizer (fast)", fast), ("OpenAIGPTTokenizer", openai)):
        tok(docs[:50])  # warm-up
        start = time.perf_counter()
        n = sum(len(ids) for ids in tok(docs, verbose=False)["input_ids"])
        seconds = time.perf_counter() - start
        rows.append((name, mb, mb / seconds, n / seconds))
    ref_docs = book_documents(data_dir, reference_megabytes)
    ref_mb = sum(len(d.encode("utf-8")) for d in ref_docs) / 1e6
    with get_context("fork").Pool(2, initializer=_init) as pool:
        pool.map(_reference_encode, ref_docs[:4])  # warm-up (spaCy, BPE cache)
        start = time.perf_counter()
        n = sum(pool.map(_reference_encode, ref_docs, chunksize=4))
        seconds = time.perf_counter() - start
    rows.append(("reference (ftfy + spaCy, 2 processes)", ref_mb, ref_mb / seconds, n / seconds))
    return rows


def _openai_ids(lines: list[str]) -> list[list[int]]:
    from transformers import OpenAIGPTTokenizer

    vocab_file, merges_file = bundled_files()
    backend = OpenAIGPTTokenizer(vocab=str(vocab_file), merges=str(merges_file)).backend_tokenizer
    return [e.ids for i in range(0, len(lines), 10_000) for e in backend.encode_batch(lines[i : i + 10_000])]


# Why OpenAIGPTTokenizer's ids differ, by what the line contains (a line can count in several rows).
REASONS = {
    "apostrophes (BERT splits `don't` -> `don ' t`, spaCy `do n't`)": re.compile(r"\w['’]\w|\w'"),
    "curly quotes / dashes / ellipsis (no ftfy, no text_standardize)": re.compile("[‘’“”—–…]"),
    "accents (BertNormalizer strips them: café -> cafe)": re.compile(r"[À-ÖØ-öø-ÿ]"),
    "abbreviations and initials (`Mr.`, `U.S.`: one token for spaCy)": re.compile(r"\b[A-Z][a-z]?\.|\b[A-Z]\.[A-Z]"),
    "runs of punctuation (`--`, `...`: one token for the authors)": re.compile(r"--|\.\.|~~|\*\*"),
}


def agreement(data_dir: Path, report_dir: Path) -> list[tuple]:
    """Per corpus: lines, fast agreement, differing lines, OpenAIGPT agreement, and OpenAIGPT's reasons."""
    fast = GPT1Tokenizer()
    rows = []
    for name, read in CORPORA.items():
        lines = read(data_dir)
        start = time.perf_counter()
        ids = fast_ids(fast, lines)
        fast_seconds = time.perf_counter() - start
        start = time.perf_counter()
        reference = reference_ids(lines, processes=2)
        ref_seconds = time.perf_counter() - start
        rate, differ = compare(lines, ids, reference, report_dir / f"{name}.txt")
        openai = _openai_ids(lines)
        openai_rate, openai_differ = compare(lines, openai, reference, report_dir / f"{name}.openai.txt")
        bad = [line for line, a, b in zip(lines, openai, reference) if a != b]
        reasons = {k: sum(1 for line in bad if rx.search(line)) for k, rx in REASONS.items()}
        rows.append((name, len(lines), rate, differ, openai_rate, openai_differ, reasons, fast_seconds, ref_seconds))
        print(name, rows[-1], flush=True)
    return rows


def train(data_dir: Path, num_merges: int) -> tuple[float, int, float]:
    """Train `num_merges` merges on all of corpus/books; (seconds, vocabulary size, MB)."""
    books = sorted((data_dir / "corpus" / "books").glob("*.txt"))
    mb = sum(p.stat().st_size for p in books) / 1e6
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        tok = train_tokenizer(books, num_merges=num_merges, output_dir=out)
        return time.perf_counter() - start, len(tok), mb


def write_record(lines: list[str]) -> None:
    text = RECORD.read_text(encoding="utf-8") if RECORD.exists() else f"# GPT-1 tokenizer benchmark\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    RECORD.write_text(head + BEGIN + "\n" + "\n".join(lines) + "\n" + END + tail, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--mb", type=float, default=16, help="megabytes of books for the two fast tokenizers")
    parser.add_argument("--reference-mb", type=float, default=2, help="megabytes of books for the reference")
    parser.add_argument("--agreement", action="store_true", help="check every line of books, GLUE, Story Cloze")
    parser.add_argument("--train", type=int, nargs="?", const=40_000, default=0, help="train N merges on books")
    parser.add_argument("--no-write", action="store_true", help="print, do not update benchmarks/tokenizer.md")
    args = parser.parse_args()

    out = [
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()}, {os.cpu_count()} CPU "
        f"cores (load average {os.getloadavg()[0]:.1f} at the start: the machine is shared, absolute numbers vary).",
        "",
        "| tokenizer | MB of books | MB/s | tokens/s |",
        "|---|---:|---:|---:|",
    ]
    rows = speed(args.data, args.mb, args.reference_mb)
    for name, mb, mbs, tps in rows:
        out.append(f"| {name} | {mb:.1f} | {mbs:.2f} | {tps:,.0f} |")
    fast_mbs, openai_mbs, ref_mbs = (r[2] for r in rows)
    out += [
        "",
        f"Fast / reference: **{fast_mbs / ref_mbs:.1f}x**; fast / OpenAIGPTTokenizer: **{fast_mbs / openai_mbs:.2f}x**.",
    ]
    print("\n".join(out), flush=True)
    if args.agreement:
        report_dir = REPO / "outputs" / "tokenizer_agreement"
        out += [
            "",
            "Agreement with the reference, every line (ids equal; differing lines in "
            "`outputs/tokenizer_agreement/<corpus>.txt` and `<corpus>.openai.txt`):",
            "",
            "| corpus | lines | GPT1Tokenizer = reference | differ | OpenAIGPTTokenizer = reference | differ |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        results = agreement(args.data, report_dir)
        for name, n, rate, differ, o_rate, o_differ, _, _, _ in results:
            out.append(f"| {name} | {n:,} | {rate:.4%} | {differ} | {o_rate:.2%} | {o_differ:,} |")
        out += ["", "Lines where OpenAIGPTTokenizer differs, by what they contain:", ""]
        out += ["| reason | " + " | ".join(r[0] for r in results) + " |", "|---|" + "---:|" * len(results)]
        for reason in REASONS:
            out.append(f"| {reason} | " + " | ".join(f"{r[6][reason]:,}" for r in results) + " |")
        out += [
            "",
            "Time to check every line: "
            + "; ".join(f"{r[0]}: fast {r[7]:.0f} s, reference {r[8]:.0f} s" for r in results)
            + ".",
        ]
    if args.train:
        seconds, size, mb = train(args.data, args.train)
        out += [
            "",
            f"Training {args.train:,} merges on all of corpus/books ({mb:.0f} MB): **{seconds:.0f} s** "
            f"(vocabulary of {size:,} tokens).",
        ]
    print("\n".join(out))
    if not args.no_write:
        write_record(out)


if __name__ == "__main__":
    main()
