"""Convert the authors' TensorFlow release or a transformers OpenAIGPT checkpoint (see `gpt1.convert`):
`python scripts/convert.py --source DIR --output_dir DIR`."""

from gpt1.convert import main

if __name__ == "__main__":
    raise SystemExit(main())
