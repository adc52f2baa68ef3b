"""Train a GPT-1 BPE vocabulary (the authors' normalisation and word splitting) on text files or a dataset.

    python scripts/train_tokenizer.py --files ../shared/data/corpus/books --num_merges 40000 --output_dir runs/tok
    python scripts/train_tokenizer.py --dataset wikitext --dataset_config wikitext-103-raw-v1 --output_dir runs/tok

Writes vocab.json + merges.txt (the authors' format) and a saved GPT1Tokenizer to --output_dir.
"""

from tokenization.training import main

if __name__ == "__main__":
    raise SystemExit(main())
