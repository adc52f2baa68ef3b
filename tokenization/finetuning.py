"""Make a GPT-1 tokenizer + model pair ready for fine-tuning in one call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .tokenization_gpt1 import GPT1Tokenizer

if TYPE_CHECKING:  # torch is imported only when a model is prepared: the tokenizer alone does not need it
    from transformers import PreTrainedModel


def prepare_for_finetuning(model: PreTrainedModel, tokenizer: GPT1Tokenizer) -> tuple[PreTrainedModel, GPT1Tokenizer]:
    """Add `_start_`, `_delimiter_`, `_classify_` to the tokenizer, frame its inputs, and grow the model to match.

    As the authors' code: the new embedding rows are drawn from N(0, initializer_range) (their
    `np.random.randn(n_special, n_embd) * 0.02`), the LM head stays tied, and the ids are recorded on the config
    (`start_token_id`, `delimiter_token_id`, `classify_token_id`; `pad_token_id` is `<unk>` = 0, as they padded with
    zeros). Works on any `PreTrainedModel` head (generic `resize_token_embeddings` / `get_input_embeddings` only).
    Idempotent: a second call changes nothing. Returns the same `(model, tokenizer)`, modified in place.
    """
    import torch

    tokenizer.add_fine_tuning_tokens()
    tokenizer.add_fine_tuning_framing = True
    old_rows = model.get_input_embeddings().weight.shape[0]
    new_rows = len(tokenizer)
    if new_rows > old_rows:
        # mean_resizing=False: the paper initialised the new rows like every other weight, not at the mean.
        model.resize_token_embeddings(new_rows, mean_resizing=False)
        std = getattr(model.config, "initializer_range", 0.02)
        with torch.no_grad():
            model.get_input_embeddings().weight[old_rows:].normal_(mean=0.0, std=std)
        model.tie_weights()
    config = model.config
    config.start_token_id = tokenizer.start_token_id
    config.delimiter_token_id = tokenizer.delimiter_token_id
    config.classify_token_id = tokenizer.classify_token_id
    config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer
