"""Tokenise a corpus once into a prepared corpus folder (see `gpt1.prepared`) that `scripts/pretrain.py --dataset`
reads without tokenising again: `python scripts/prepare_corpus.py --help`."""

from gpt1.prepared import main

if __name__ == "__main__":
    raise SystemExit(main())
