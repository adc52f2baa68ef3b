"""Push a saved GPT-1 model folder with a generated model card to the Hub (see `gpt1.hub`): `python scripts/hub.py --help`."""

from gpt1.hub import main

if __name__ == "__main__":
    raise SystemExit(main())
