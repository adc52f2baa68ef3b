"""A tokenizer saved next to a model truncates to the model's context: `fit_to_model` (and `prepare_for_finetuning`,
which calls it) set `model_max_length` from the config's `n_positions`, so `truncation=True` never gives a sequence
longer than the position embedding after `AutoTokenizer.from_pretrained`."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from modeling_gpt1 import GPT1Config, GPT1ForCausalLM
from tokenization import GPT1Tokenizer, fit_to_model, prepare_for_finetuning

LONG_TEXT = "a fairly long sentence that goes on and on. " * 20


def test_fit_to_model_truncates_to_the_models_context(tmp_path):
    config = GPT1Config.from_preset("tiny", n_positions=16, vocab_size=40481)
    tok = fit_to_model(GPT1Tokenizer(add_fine_tuning_framing=True), config)
    assert tok.model_max_length == 16
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded.model_max_length == 16
    assert len(loaded(LONG_TEXT, truncation=True)["input_ids"]) == 16
    assert len(loaded(LONG_TEXT, "and a second one", truncation=True)["input_ids"]) == 16


def test_fit_to_model_takes_a_model_and_refuses_a_too_small_embedding():
    model = GPT1ForCausalLM(GPT1Config.from_preset("tiny", n_positions=32, vocab_size=40478))
    assert fit_to_model(GPT1Tokenizer(), model).model_max_length == 32
    # Ids past the embedding would fail (or, on GPU, read garbage) at the first forward pass: refuse the pair now.
    with pytest.raises(ValueError, match="vocab_size"):
        fit_to_model(GPT1Tokenizer(), GPT1Config.from_preset("tiny"))  # 99 tokens


def test_prepare_for_finetuning_fits_the_tokenizer_to_the_model():
    model = GPT1ForCausalLM(GPT1Config.from_preset("tiny", n_positions=32, vocab_size=40478))
    model, tok = prepare_for_finetuning(model, GPT1Tokenizer())
    assert tok.model_max_length == model.config.n_positions == 32
