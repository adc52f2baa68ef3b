"""Command line for `gpt1.finetuning` (run with --help for the flags)."""

from gpt1.finetuning import main

if __name__ == "__main__":
    raise SystemExit(main())
