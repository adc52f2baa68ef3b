"""Command line for `gpt1.zero_shot` (run with --help for the flags)."""

from gpt1.zero_shot import main

if __name__ == "__main__":
    raise SystemExit(main())
