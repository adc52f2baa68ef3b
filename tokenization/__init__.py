"""GPT-1's tokenizer: the authors' BPE and preprocessing at Rust speed, fine-tuning helpers, vocabulary training.

Importing this package registers `GPT1Tokenizer` with `AutoTokenizer` (for `model_type="gpt1"` when the
`modeling_gpt1` package is importable, and by class name for `tokenizer_config.json` files saying
`"tokenizer_class": "GPT1Tokenizer"`), and marks it for `save_pretrained` to copy its (self-contained) modules next
to the files with an `auto_map`, so the saved folder loads with `trust_remote_code=True` where this package is not
installed.
"""

import sys

from transformers import AutoTokenizer

from .finetuning import fit_to_model, prepare_for_finetuning
from .reference import ReferenceEncoder, fix_text_if_needed, text_standardize
from .tokenization_gpt1 import (
    CLASSIFY_TOKEN,
    DELIMITER_TOKEN,
    FINE_TUNING_TOKENS,
    START_TOKEN,
    UNK_TOKEN,
    GPT1Tokenizer,
    read_vocab_and_merges,
)
from .training import train_tokenizer


def register_auto_classes() -> None:
    """Register `GPT1Tokenizer` with `AutoTokenizer` (idempotent; run on import)."""
    # By config class when the model package is already loaded (importing it here would cost seconds of torch
    # and model code for tokenizer-only users); by class name, which `tokenizer_config.json` files use, always.
    # `modeling_gpt1` may call this again after its own registration.
    config = getattr(sys.modules.get("modeling_gpt1"), "GPT1Config", None)
    AutoTokenizer.register(config if config is not None else "gpt1", GPT1Tokenizer, exist_ok=True)
    GPT1Tokenizer.register_for_auto_class("AutoTokenizer")


register_auto_classes()

__all__ = [
    "CLASSIFY_TOKEN",
    "DELIMITER_TOKEN",
    "FINE_TUNING_TOKENS",
    "START_TOKEN",
    "UNK_TOKEN",
    "GPT1Tokenizer",
    "ReferenceEncoder",
    "fit_to_model",
    "fix_text_if_needed",
    "prepare_for_finetuning",
    "read_vocab_and_merges",
    "register_auto_classes",
    "text_standardize",
    "train_tokenizer",
]
