"""Tokenise + pack throughput of a prepared corpus (`gpt1.prepared.prepare_corpus`), in MB of text per second,
with 1 and more processes, and the time that projects to for larger corpora.

    python benchmarks/bench_prepare.py --dataset ../shared/data/corpus/books --num_proc 1 2 --output prepare.json

The corpus is read first (`data.load_corpus`, cached by `datasets` after the first run) and not timed: the figure
is what tokenising and packing the text into `uint16` blocks on disk costs, the part that grows with the corpus.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from gpt1.data import load_corpus, load_corpus_tokenizer
from gpt1.io import atomic_write_json
from gpt1.prepared import prepare_corpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="../shared/data/corpus/books")
    parser.add_argument("--tokenizer_name", default=None, help="default: the bundled GPT-1 BPE tokenizer")
    parser.add_argument("--block_size", type=int, default=512)
    parser.add_argument("--num_proc", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--project_gb", type=float, nargs="+", default=[5.0, 50.0])
    parser.add_argument("--output", default=None, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    corpus = load_corpus(args.dataset)
    tokenizer = load_corpus_tokenizer(args.tokenizer_name)
    results = {"dataset": args.dataset, "records": len(corpus), "cpu_count": os.cpu_count(), "runs": []}
    for num_proc in args.num_proc:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            prepared = prepare_corpus(corpus, tokenizer, args.block_size, f"{tmp}/prepared", num_proc=num_proc)
            seconds = time.perf_counter() - start
            size = (prepared.path / "tokens.bin").stat().st_size
        mb = prepared.meta["text_bytes"] / 1e6
        run = {
            "num_proc": num_proc,
            "text_mb": round(mb, 2),
            "seconds": round(seconds, 2),
            "mb_per_s": round(mb / seconds, 3),
            "tokens": prepared.n_blocks * prepared.block_size,
            "tokens_bin_mb": round(size / 1e6, 2),
            "projected_minutes": {f"{gb:g} GB": round(gb * 1e3 / (mb / seconds) / 60, 1) for gb in args.project_gb},
        }
        results["runs"].append(run)
        print(json.dumps(run), flush=True)
    results["load_average"] = os.getloadavg()
    if args.output:
        atomic_write_json(args.output, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
