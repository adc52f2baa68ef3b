"""Command line for `gpt1.paper_table` (run with --help for the flags)."""

from gpt1.paper_table import main

if __name__ == "__main__":
    raise SystemExit(main())
