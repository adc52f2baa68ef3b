"""Pretrain GPT-1 (see `gpt1.pretraining`): `python scripts/pretrain.py --help`; no arguments runs the bundled demo."""

from gpt1.pretraining import main

if __name__ == "__main__":
    raise SystemExit(main())
