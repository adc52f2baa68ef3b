"""Make a GPT-1 tokenizer + model pair ready for fine-tuning in one call, and fit a tokenizer to its model."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from .tokenization_gpt1 import GPT1Tokenizer

if TYPE_CHECKING:  # torch is imported only when a model is prepared: the tokenizer alone does not need it
    from transformers import PreTrainedConfig, PreTrainedModel

TokenizerT = TypeVar("TokenizerT", bound=PreTrainedTokenizerBase)


def fit_to_model(tokenizer: TokenizerT, model_or_config: PreTrainedModel | PreTrainedConfig) -> TokenizerT:
    """Make `tokenizer` agree with the model it is saved with: `model_max_length` becomes the model's context.

    Call it before `tokenizer.save_pretrained` next to a model. `model_max_length` is saved in
    `tokenizer_config.json` and is what `truncation=True` truncates to; left at GPT-1's 512 for a model with fewer
    positions, truncated inputs would still be too long for its position embedding. The context is the config's
    `n_positions` (`max_position_embeddings` for configs that name it so). Any tokenizer and model work.

    Raises `ValueError` when the tokenizer has more tokens than the model embeds (`config.vocab_size`): its ids
    would index past the embedding, and no tokenizer setting repairs that (`prepare_for_finetuning` grows the model
    for the fine-tuning tokens). Returns the same tokenizer, modified in place; calling it again changes nothing.
    """
    config = getattr(model_or_config, "config", model_or_config)  # a model carries its config
    n_positions = getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)
    if not n_positions:
        raise ValueError(f"{type(config).__name__} has neither n_positions nor max_position_embeddings")
    vocab_size = getattr(config, "vocab_size", None)
    if vocab_size is not None and len(tokenizer) > vocab_size:
        raise ValueError(
            f"the tokenizer has {len(tokenizer)} tokens but the model's vocab_size is {vocab_size}: its ids would not "
            "fit the embedding (resize the model, e.g. with prepare_for_finetuning)"
        )
    tokenizer.model_max_length = n_positions
    return tokenizer


def prepare_for_finetuning(model: PreTrainedModel, tokenizer: GPT1Tokenizer) -> tuple[PreTrainedModel, GPT1Tokenizer]:
    """Add `_start_`, `_delimiter_`, `_classify_` to the tokenizer, frame its inputs, and grow the model to match.

    As the authors' code: the new embedding rows are drawn from N(0, initializer_range) (their
    `np.random.randn(n_special, n_embd) * 0.02`), the LM head stays tied, and the ids are recorded on the config
    (`start_token_id`, `delimiter_token_id`, `classify_token_id`; `pad_token_id` is `<unk>` = 0, as they padded with
    zeros). The tokenizer is fitted to the model (`fit_to_model`: it truncates to the model's `n_positions`).
    Works on any `PreTrainedModel` head (generic `resize_token_embeddings` / `get_input_embeddings` only).
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
    fit_to_model(tokenizer, model)
    return model, tokenizer
