"""Command line for `gpt1.ablations` (run with --help for the flags)."""

from gpt1.ablations import main

if __name__ == "__main__":
    raise SystemExit(main())
