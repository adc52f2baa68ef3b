"""GPT-1 configuration: the paper's hyper-parameters as defaults, plus named presets.

This file is self-contained (it imports only transformers and huggingface_hub) because `save_pretrained` copies it
next to the weights, so that `AutoConfig.from_pretrained(dir, trust_remote_code=True)` works where this package is
not installed.
"""

from __future__ import annotations

from typing import Any

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig


# Named sizes. "gpt1" is the paper's model; the others are for laptops, tests and quick experiments.
#
# The smaller presets scale the init with width, std = 0.02 * sqrt(768 / n_embd): N(0, 0.02) is tuned for the
# paper's 768-wide model. At 128 wide it makes every block's contribution ~4x smaller relative to the post-LN
# residual than in GPT-1, and small models then sit on the unigram plateau: measured on the bundled books, the
# `mini` demo run stayed at validation loss 6.25 for 600 updates with 0.02, and reached 5.24 by 300 with 0.06.
def _width_scaled_init(n_embd: int) -> float:
    return round(0.02 * (768 / n_embd) ** 0.5, 4)


PRESETS: dict[str, dict[str, Any]] = {
    "gpt1": dict(n_layer=12, n_embd=768, n_head=12, n_inner=3072, n_positions=512),  # init: the default N(0, 0.02)
    # ~20M parameters with the 40,478-token vocabulary (13M of them the embedding), 64-wide heads as in GPT-1: a
    # CPU-trainable GPT-1 in minutes to hours.
    "small": dict(
        n_layer=6, n_embd=320, n_head=5, n_inner=1280, n_positions=256, initializer_range=_width_scaled_init(320)
    ),
    # ~6M parameters with the 40,478-token vocabulary (~1.3M with a 4k one): the bundled demo, quick experiments.
    "mini": dict(
        n_layer=4, n_embd=128, n_head=4, n_inner=512, n_positions=128, initializer_range=_width_scaled_init(128)
    ),
    # Unit tests: every code path, milliseconds per step.
    "tiny": dict(
        vocab_size=99,
        n_layer=2,
        n_embd=32,
        n_head=4,
        n_inner=37,
        n_positions=64,
        initializer_range=_width_scaled_init(32),
    ),
}


@strict(accept_kwargs=True)
class GPT1Config(PreTrainedConfig):
    r"""Configuration of a GPT-1 model (Radford et al., 2018).

    The defaults are the paper's: 12 post-LN decoder blocks of width 768 with 12 heads and a 3072-wide MLP, a
    512-token context with learned positions, tanh-GELU, dropout 0.1 everywhere, N(0, 0.02) init and an LM head tied
    to the token embeddings. Weight names and the meaning of every field shared with transformers'
    `OpenAIGPTConfig` are the same, so checkpoints move between the two unchanged.

    Args:
        vocab_size: Token embeddings. 40,478 for the original BPE vocabulary; 40,481 once the fine-tuning tokens
            `_start_`, `_delimiter_` and `_classify_` are added.
        n_positions: Context length (learned position embeddings).
        n_embd: Width of the residual stream (`hidden_size`).
        n_layer: Number of decoder blocks (`num_hidden_layers`).
        n_head: Attention heads (`num_attention_heads`); must divide `n_embd`.
        n_inner: MLP width; `None` means `4 * n_embd`.
        afn: MLP activation. `"gelu"` is the tanh approximation, as in the paper's code and transformers'
            `OpenAIGPT*` (which also calls it `"gelu"`); `"gelu_exact"`, `"relu"`, `"silu"` are also accepted.
        resid_pdrop, embd_pdrop, attn_pdrop: Dropout on residual branches, embeddings and attention weights.
        layer_norm_epsilon: LayerNorm epsilon.
        initializer_range: Standard deviation of the normal init of every weight matrix.
        summary_first_dropout: Dropout before the classifier heads (the paper's classifier dropout, 0.1).
        lm_coef: Weight of the auxiliary language-modelling loss during fine-tuning (the paper's lambda, 0.5);
            0 turns the auxiliary loss off.
        classify_token_id: Id of `_classify_`. The classifier heads read the final hidden state there.
        start_token_id, delimiter_token_id: Ids of `_start_` and `_delimiter_` (recorded for tokenizers and tasks).
        summary_type, summary_use_proj, summary_activation, summary_proj_to_labels: kept for checkpoint and config
            compatibility with `OpenAIGPTDoubleHeadsModel`, whose multiple-choice head they describe.
    """

    model_type = "gpt1"
    # Left out of `Trainer`'s predictions: the cache (named `cache` from transformers 5.24 on) and the parts of the
    # fine-tuning objective, so that `EvalPrediction.predictions` is the task's logits, as `compute_metrics` expects.
    keys_to_ignore_at_inference = ["cache", "past_key_values", "task_loss", "mc_loss", "lm_loss"]
    attribute_map = {
        "hidden_size": "n_embd",
        "max_position_embeddings": "n_positions",
        "num_attention_heads": "n_head",
        "num_hidden_layers": "n_layer",
        "intermediate_size": "n_inner",
    }

    vocab_size: int = 40478
    n_positions: int = 512
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    n_inner: int | None = None
    afn: str = "gelu"
    resid_pdrop: float | int = 0.1
    embd_pdrop: float | int = 0.1
    attn_pdrop: float | int = 0.1
    layer_norm_epsilon: float = 1e-5
    initializer_range: float = 0.02
    summary_type: str = "cls_index"
    summary_use_proj: bool = True
    summary_activation: str | None = None
    summary_proj_to_labels: bool = True
    summary_first_dropout: float | int = 0.1
    lm_coef: float | int = 0.5
    classify_token_id: int | None = None
    start_token_id: int | None = None
    delimiter_token_id: int | None = None
    use_cache: bool = True
    pad_token_id: int | None = None
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    tie_word_embeddings: bool = True

    def validate_architecture(self) -> None:
        """Reject shapes the network cannot be built with, naming the offending fields.

        Runs when the config is constructed (huggingface_hub's `@strict` calls every `validate_*` method), so a bad
        config fails before any weight is allocated.
        """
        for name in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "n_inner"):
            value = getattr(self, name)
            if name == "n_inner" and value is None:
                continue
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"GPT1Config.{name} must be a positive integer, got {value!r}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"GPT1Config.n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}): "
                "each head gets n_embd // n_head dimensions"
            )
        if self.afn not in ("gelu", "gelu_new", "gelu_exact", "relu", "silu", "swish"):
            raise ValueError(f"GPT1Config.afn must be one of gelu, gelu_exact, relu, silu; got {self.afn!r}")
        for name in ("resid_pdrop", "embd_pdrop", "attn_pdrop", "summary_first_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"GPT1Config.{name} must be in [0, 1), got {getattr(self, name)!r}")
        if self.lm_coef < 0:
            raise ValueError(f"GPT1Config.lm_coef must be >= 0, got {self.lm_coef!r}")

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> GPT1Config:
        """A config for a named size (`"gpt1"`, `"small"`, `"mini"`, `"tiny"`), with any field overridden."""
        if name not in PRESETS:
            raise ValueError(f"unknown GPT-1 preset {name!r}; choose from {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})


__all__ = ["GPT1Config", "PRESETS"]
