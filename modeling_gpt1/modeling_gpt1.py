"""GPT-1 (Radford et al., 2018, "Improving Language Understanding by Generative Pre-Training") for Transformers 5.x.

Read top to bottom: attention, MLP, block, the base model, then the heads. The network is the paper's: post-LN
decoder blocks (`x = ln_1(x + attn(x)); x = ln_2(x + mlp(x))`, no final LayerNorm), learned positions, tanh-GELU,
LM head tied to the token embeddings. Weight names match transformers' `OpenAIGPT*` (`tokens_embed`,
`positions_embed`, `h.{i}.attn.c_attn`, ...), so their checkpoints load here unchanged and give the same logits;
what this file adds is a KV cache, SDPA/flash attention through the attention interface, gradient checkpointing
and the paper's fine-tuning heads with the auxiliary LM loss.

This file imports only torch, transformers and its sibling `configuration_gpt1.py`, because `save_pretrained`
copies both next to the weights for `trust_remote_code=True` loading.
"""

from __future__ import annotations

import inspect
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from transformers import initialization as init
from transformers.cache_utils import Cache, DynamicCache
from transformers.generation import GenerationMixin
from transformers.loss.loss_utils import ForCausalLMLoss, ForSequenceClassificationLoss
from transformers.masking_utils import create_causal_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS, PreTrainedModel
from transformers.pytorch_utils import Conv1D
from transformers.utils import ModelOutput, can_return_tuple
from transformers.utils.deprecation import deprecate_kwarg
from transformers.utils.generic import merge_with_config_defaults
from transformers.utils.output_capturing import OutputRecorder, capture_outputs

from .configuration_gpt1 import GPT1Config

# transformers 5.24 renamed the KV cache from `past_key_values` to `cache`: the keyword `generate()` passes to
# forwards, the field of every model output and the argument of `create_causal_mask` (the old names go in 5.40).
# A checkpoint's copy of this file runs under whatever transformers its user has, so it speaks both: the forwards
# take the cache under either keyword (`cache_argument`), and outputs and the mask helper get the installed
# release's name.
CACHE_NAME = "cache" if "cache" in CausalLMOutputWithPast.__dataclass_fields__ else "past_key_values"
_MASK_CACHE_KEYWORD = "cache" if "cache" in inspect.signature(create_causal_mask).parameters else "past_key_values"


def old_cache_keyword(forward: Callable) -> Callable:
    """Where the installed transformers calls the cache `cache`, `past_key_values` still works but is deprecated as in
    its own models (GPT-2's `deprecate_kwarg`: a FutureWarning, then renamed). On older releases it stays the normal
    keyword, the one their `generate()` passes, and says nothing."""
    if CACHE_NAME == "cache":
        return deprecate_kwarg("past_key_values", "5.40.0", new_name="cache", raise_if_both_names=True)(forward)
    return forward


# Written into every saved config: transformers' `register_for_auto_class` would map only the class being saved, but
# a GPT-1 checkpoint should open with any of the Auto classes (the weights of every head share one layout).
AUTO_MAP = {
    "AutoConfig": "configuration_gpt1.GPT1Config",
    "AutoModel": "modeling_gpt1.GPT1Model",
    "AutoModelForCausalLM": "modeling_gpt1.GPT1ForCausalLM",
    "AutoModelForSequenceClassification": "modeling_gpt1.GPT1ForSequenceClassification",
    "AutoModelForMultipleChoice": "modeling_gpt1.GPT1ForMultipleChoice",
}


def cache_argument(cache: Cache | None, kwargs: dict) -> Cache | None:
    """The cache a forward was given: as `cache` (transformers >= 5.24) or as `past_key_values` (earlier releases,
    and callers written for them), popped from `kwargs` so it is not passed on twice."""
    old = kwargs.pop("past_key_values", None)
    if old is not None and cache is not None:
        raise ValueError("got both `cache` and `past_key_values`: pass the cache once (as `cache`)")
    return cache if cache is not None else old


def check_not_empty(shape: torch.Size) -> None:
    """An empty batch or sequence fails later in a reshape (or inside `generate`) that cannot say what is wrong."""
    if 0 in shape:
        raise ValueError(f"input of shape {tuple(shape)} is empty: pass at least one sequence of one token")


# "gelu" is the tanh approximation, as in the paper's code (and what transformers' OpenAIGPT calls "gelu").
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu": nn.GELU(approximate="tanh"),
    "gelu_new": nn.GELU(approximate="tanh"),
    "gelu_exact": nn.GELU(),
    "relu": nn.ReLU(),
    "silu": nn.SiLU(),
    "swish": nn.SiLU(),
}


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain softmax attention; the additive `attention_mask` already holds causality and padding."""
    att = torch.matmul(query, key.transpose(-1, -2)) * scaling  # (B, nh, T, S)
    if attention_mask is not None:
        att = att + attention_mask
    att = F.softmax(att, dim=-1).to(value.dtype)
    att = F.dropout(att, p=dropout, training=module.training)
    y = torch.matmul(att, value)  # (B, nh, T, hs)
    return y.transpose(1, 2), att  # (B, T, nh, hs)


class GPT1Attention(nn.Module):
    """Causal multi-head self-attention with one fused q/k/v projection."""

    def __init__(self, config: GPT1Config, layer_idx: int):
        super().__init__()
        self.config = config
        self.layer_idx = layer_idx
        self.n_head = config.n_head
        self.head_dim = config.n_embd // config.n_head
        self.scaling = self.head_dim**-0.5
        self.is_causal = True  # lets SDPA/flash use their causal kernels when no padding mask is needed
        # Conv1D (a Linear with its weight stored (in, out)) keeps the OpenAI/transformers checkpoint layout.
        self.c_attn = Conv1D(3 * config.n_embd, config.n_embd)
        self.c_proj = Conv1D(config.n_embd, config.n_embd)
        self.attn_dropout = nn.Dropout(config.attn_pdrop)
        self.resid_dropout = nn.Dropout(config.resid_pdrop)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        **kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T, C = hidden_states.shape
        q, k, v = self.c_attn(hidden_states).split(C, dim=2)
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, nh, T, hs)
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx)  # (B, nh, S, hs), S = past + T

        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        y, att = attention_interface(
            self,
            q,
            k,
            v,
            attention_mask,
            dropout=self.attn_dropout.p if self.training else 0.0,
            scaling=self.scaling,
            **kwargs,
        )
        y = y.reshape(B, T, C)  # re-assemble all head outputs side by side
        y = self.resid_dropout(self.c_proj(y))
        return y, att


class GPT1MLP(nn.Module):
    def __init__(self, config: GPT1Config):
        super().__init__()
        n_inner = config.n_inner or 4 * config.n_embd
        self.c_fc = Conv1D(n_inner, config.n_embd)
        self.c_proj = Conv1D(config.n_embd, n_inner)
        self.act = ACTIVATIONS[config.afn]
        self.dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class GPT1Block(GradientCheckpointingLayer):
    """A post-LN decoder block: the LayerNorms come after each residual sum, as in the paper (GPT-2 moved them)."""

    def __init__(self, config: GPT1Config, layer_idx: int):
        super().__init__()
        self.attn = GPT1Attention(config, layer_idx)
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.mlp = GPT1MLP(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        **kwargs,
    ) -> torch.Tensor:
        a, _ = self.attn(hidden_states, attention_mask, cache=cache, **kwargs)
        x = self.ln_1(hidden_states + a)
        return self.ln_2(x + self.mlp(x))


class GPT1PreTrainedModel(PreTrainedModel):
    config: GPT1Config
    config_class = GPT1Config
    base_model_prefix = "transformer"
    supports_gradient_checkpointing = True
    _no_split_modules = ["GPT1Block"]
    _skip_keys_device_placement = ["cache", "past_key_values"]
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_attention_backend = True
    _can_compile_fullgraph = True
    _can_record_outputs = {
        "hidden_states": GPT1Block,
        "attentions": OutputRecorder(GPT1Attention, index=1),
    }
    # Old transformers checkpoints stored the causal-mask buffer; the mask is built on the fly here.
    _keys_to_ignore_on_load_unexpected = [r"\.attn\.bias$", r"position_ids$"]

    def save_pretrained(self, save_directory: str | Path, *args, **kwargs) -> None:
        """`PreTrainedModel.save_pretrained`, plus this file and the config's next to the weights and an `auto_map`
        for every Auto class, so `AutoModel*.from_pretrained(dir, trust_remote_code=True)` works where this package
        is not installed."""
        self.config.auto_map = dict(AUTO_MAP)
        if kwargs.get("is_main_process", True):
            Path(save_directory).mkdir(parents=True, exist_ok=True)
            here = Path(__file__)
            for source in (here, here.with_name("configuration_gpt1.py")):
                shutil.copyfile(source, Path(save_directory) / source.name)
        super().save_pretrained(save_directory, *args, **kwargs)

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """N(0, initializer_range) for every weight matrix (the paper's N(0, 0.02)), zero biases, unit gains."""
        super()._init_weights(module)
        if isinstance(module, Conv1D):
            init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
            init.zeros_(module.bias)


@dataclass
class GPT1DoubleHeadsOutput(CausalLMOutputWithPast):
    """Output of `GPT1DoubleHeads`: the causal-LM output (whose cache field has the installed transformers' name)
    plus the multiple-choice head's parts.

    Args:
        loss: `mc_loss + lm_coef * lm_loss` when both labels are given, else whichever part was computed.
        logits: LM logits, `(batch, num_choices, seq, vocab)` (or `(batch, seq, vocab)` for 2-D input).
        mc_loss: Cross-entropy of the multiple-choice head over the choices.
        lm_loss: Language-modelling loss (token mean over the labels that are not -100).
        mc_logits: One score per choice, `(batch, num_choices)`.
    """

    mc_loss: torch.Tensor | None = None
    lm_loss: torch.Tensor | None = None
    mc_logits: torch.Tensor | None = None


@dataclass
class GPT1ClassifierOutput(ModelOutput):
    """Output of the fine-tuning heads: the paper's objective `L_task + lm_coef * L_lm`, with both parts visible.

    Args:
        loss: `task_loss + lm_coef * lm_loss` (just `task_loss` when `lm_coef` is 0).
        task_loss: Cross-entropy over classes/choices, or MSE for a single-output regression head.
        lm_loss: The auxiliary LM loss on the input tokens (per-sequence mean over non-padding tokens, then the
            mean over sequences, as in the authors' code).
        logits: `(batch, num_labels)` for classification, `(batch, num_choices)` for multiple choice.
    """

    loss: torch.Tensor | None = None
    task_loss: torch.Tensor | None = None
    lm_loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class GPT1Model(GPT1PreTrainedModel):
    """The bare GPT-1 decoder: token + position embeddings, then `n_layer` post-LN blocks (no final LayerNorm).

    Accepts `input_ids` of shape `(batch, seq)` or `(batch, num_choices, seq)`; extra leading dimensions are folded
    into the batch and restored on the output, as transformers' `OpenAIGPTModel` does.
    """

    def __init__(self, config: GPT1Config):
        super().__init__(config)
        self.tokens_embed = nn.Embedding(config.vocab_size, config.n_embd)
        self.positions_embed = nn.Embedding(config.n_positions, config.n_embd)
        self.drop = nn.Dropout(config.embd_pdrop)
        self.h = nn.ModuleList([GPT1Block(config, layer_idx=i) for i in range(config.n_layer)])
        self.gradient_checkpointing = False
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.tokens_embed

    def set_input_embeddings(self, new_embeddings: nn.Embedding) -> None:
        self.tokens_embed = new_embeddings

    def _check_inputs(
        self,
        input_ids: torch.Tensor | None,
        input_shape: torch.Size,
        attention_mask: torch.Tensor | None,
        position_ids: torch.Tensor | None,
        past_length: int | torch.Tensor,
    ) -> None:
        """One clear error for inputs the model cannot take (an IndexError deep inside torch, or a mask silently cut
        to fit, otherwise).

        Shapes are always checked. Values only when already on the host: reading a tensor back from an accelerator
        stalls it on every forward, and under `torch.compile` a branch on tensor data breaks the graph. So ids and
        positions are checked on the CPU (the tokenizer and `prepare_for_finetuning` keep them in range elsewhere),
        and a static cache, which counts its length on the device, is checked only there too.
        """
        readable = not torch.compiler.is_compiling()
        T = input_shape[-1]
        known = not isinstance(past_length, torch.Tensor) or (readable and past_length.device.type == "cpu")
        past_length = int(past_length) if known else 0  # unknown: at least 0
        if past_length + T > self.config.n_positions:
            raise ValueError(
                f"sequence length {past_length + T} (past {past_length} + new {T}) exceeds the model's "
                f"context of n_positions={self.config.n_positions} tokens; truncate the input"
            )
        # A 2-D (or choices) mask has one entry per cached and new token of each sequence; 4-D masks are the caller's.
        if attention_mask is not None and attention_mask.dim() < 4:
            length = past_length + T if known else max(attention_mask.shape[-1], T)  # unknown past: any length >= T
            expected = (*input_shape[:-1], length)
            if tuple(attention_mask.shape) != expected:
                after = f" after {past_length} cached tokens" if past_length else ""
                raise ValueError(
                    f"attention_mask has shape {tuple(attention_mask.shape)} but input_ids has shape "
                    f"{tuple(input_shape)}{after}: expected {expected}, 1 for each real token and 0 for padding"
                )
        # Positions index the position embeddings: one per token, broadcast over the batch or given per sequence.
        if position_ids is not None:
            rows = position_ids.numel() // T
            if position_ids.shape[-1] != T or rows not in (1, input_shape[:-1].numel()):
                raise ValueError(
                    f"position_ids has shape {tuple(position_ids.shape)} but input_ids has shape {tuple(input_shape)}: "
                    f"expected (1, {T}) or {tuple(input_shape)}"
                )
            if readable and position_ids.device.type == "cpu":
                low, high = int(position_ids.min()), int(position_ids.max())
                if low < 0 or high >= self.config.n_positions:
                    raise ValueError(
                        f"position id {low if low < 0 else high} is outside the model's {self.config.n_positions} "
                        f"positions (0..{self.config.n_positions - 1}); truncate the input"
                    )
        if readable and input_ids is not None and input_ids.device.type == "cpu":
            low, high = int(input_ids.min()), int(input_ids.max())
            if low < 0 or high >= self.config.vocab_size:
                bad = low if low < 0 else high
                raise ValueError(
                    f"token id {bad} is outside the vocabulary (vocab_size={self.config.vocab_size}); "
                    "were special tokens added to the tokenizer without resizing the model's embeddings?"
                )

    @merge_with_config_defaults
    @capture_outputs
    @old_cache_keyword
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPast:
        r"""
        Args:
            input_ids: Token ids, `(batch, seq)` or `(batch, num_choices, seq)`.
            cache: A `Cache` of earlier keys/values; only the new tokens are then passed. Also accepted as
                `past_key_values`, its name before transformers 5.24.
            attention_mask: 1 for real tokens, 0 for padding; covers past + new tokens.
            token_type_ids: Optional extra ids embedded with the token embeddings (as in `OpenAIGPTModel`).
            position_ids: Positions of the tokens, in `0..n_positions - 1`; default `past_length + arange(seq)`.
        """
        cache = cache_argument(cache, kwargs)
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        input_shape = input_ids.shape if input_ids is not None else inputs_embeds.shape[:-1]
        check_not_empty(input_shape)
        T = input_shape[-1]
        if use_cache and cache is None:
            cache = DynamicCache(config=self.config)
        past_length = cache.get_seq_length() if cache is not None else 0
        self._check_inputs(input_ids, input_shape, attention_mask, position_ids, past_length)

        # Fold choice dimensions into the batch: every sequence is an independent row for the decoder.
        if input_ids is not None:
            input_ids = input_ids.reshape(-1, T)
        else:
            inputs_embeds = inputs_embeds.reshape(-1, T, inputs_embeds.size(-1))
        if attention_mask is not None and attention_mask.dim() < 4:
            attention_mask = attention_mask.reshape(-1, attention_mask.size(-1))
        if token_type_ids is not None:
            token_type_ids = token_type_ids.reshape(-1, T)
        if position_ids is not None:
            position_ids = position_ids.reshape(-1, T)

        if inputs_embeds is None:
            inputs_embeds = self.tokens_embed(input_ids)  # (B, T, C)
        if position_ids is None:
            position_ids = (torch.arange(T, device=inputs_embeds.device) + past_length).unsqueeze(0)  # (1, T)
        hidden_states = inputs_embeds + self.positions_embed(position_ids)
        if token_type_ids is not None:
            hidden_states = hidden_states + self.tokens_embed(token_type_ids)
        hidden_states = self.drop(hidden_states)

        # None when SDPA/flash can run their causal kernel directly (no padding); else an additive/bool mask.
        causal_mask = create_causal_mask(
            config=self.config,
            inputs_embeds=hidden_states,
            attention_mask=attention_mask,
            position_ids=position_ids,
            **{_MASK_CACHE_KEYWORD: cache},
        )
        for block in self.h:
            hidden_states = block(hidden_states, causal_mask, cache=cache, position_ids=position_ids, **kwargs)

        hidden_states = hidden_states.view(*input_shape, hidden_states.size(-1))
        return BaseModelOutputWithPast(last_hidden_state=hidden_states, **{CACHE_NAME: cache if use_cache else None})


class GPT1GenerationMixin(GenerationMixin):
    """`GenerationMixin` with the forward's error for an empty prompt: `generate` reads the prompt's last token
    before any forward runs, and would fail there with a bare IndexError."""

    def generate(self, inputs: torch.Tensor | None = None, *args, **kwargs) -> torch.LongTensor | ModelOutput:
        prompt = inputs if inputs is not None else kwargs.get("input_ids", kwargs.get("inputs_embeds"))
        if isinstance(prompt, torch.Tensor):
            check_not_empty(prompt.shape[:2])
        return super().generate(inputs, *args, **kwargs)


class GPT1ForCausalLM(GPT1PreTrainedModel, GPT1GenerationMixin):
    """GPT-1 with its language-modelling head (a linear layer tied to the token embeddings): pretraining and
    generation. Also importable as `GPT1LMHeadModel`, the name transformers uses for GPT-1/GPT-2."""

    _tied_weights_keys = {"lm_head.weight": "transformer.tokens_embed.weight"}

    def __init__(self, config: GPT1Config):
        super().__init__(config)
        self.transformer = GPT1Model(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.post_init()

    @can_return_tuple
    @old_cache_keyword
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        **kwargs,
    ) -> CausalLMOutputWithPast:
        r"""
        Args:
            labels: LM targets, usually `input_ids` (shifted inside); -100 marks positions to ignore.
            logits_to_keep: Compute logits for only the last N positions (generation needs just one).
        """
        out = self.transformer(
            input_ids,
            cache=cache_argument(cache, kwargs),
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            **kwargs,
        )
        hidden_states = out.last_hidden_state
        keep = slice(-logits_to_keep, None) if isinstance(logits_to_keep, int) else logits_to_keep
        logits = self.lm_head(hidden_states[..., keep, :])
        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, vocab_size=self.config.vocab_size, **kwargs)
        return CausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            hidden_states=out.hidden_states,
            attentions=out.attentions,
            **{CACHE_NAME: getattr(out, CACHE_NAME)},
        )


GPT1LMHeadModel = GPT1ForCausalLM


# --- fine-tuning heads ------------------------------------------------------------------------------------------------


def classify_positions(
    config: GPT1Config,
    input_ids: torch.Tensor | None,
    attention_mask: torch.Tensor | None,
    shape: torch.Size,
    device: torch.device,
) -> torch.Tensor:
    """Index of the token each sequence is classified at, of shape `shape[:-1]`.

    The paper reads the final hidden state at `_classify_`: when the config names `classify_token_id`, that is the
    last occurrence of it in each sequence (a sequence without one is an error). Otherwise it is the last real
    token according to the attention mask, so left- and right-padded batches both work.
    """
    T = shape[-1]
    weights = torch.arange(T, device=device)
    if config.classify_token_id is not None and input_ids is not None:
        is_cls = input_ids == config.classify_token_id
        missing = ~is_cls.any(-1)
        if missing.any():
            rows = missing.reshape(-1).nonzero().flatten().tolist()
            raise ValueError(
                f"the classification token (_classify_, id {config.classify_token_id}) is absent from "
                f"{len(rows)} sequence(s) (flattened rows {rows[:10]}); frame inputs as `_start_ ... _classify_` "
                "(the tokenizer does this when framing is on) or pass the classification positions"
            )
        return (is_cls * weights).argmax(-1)
    if attention_mask is not None:
        return (attention_mask.reshape(*shape[:-1], -1)[..., -T:].bool() * weights).argmax(-1)
    return torch.full(shape[:-1], T - 1, dtype=torch.long, device=device)


def gather_positions(hidden_states: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """`hidden_states[..., index, :]` per sequence: `(..., T, C)` and `(...)` -> `(..., C)`."""
    index = index[..., None, None].expand(*index.shape, 1, hidden_states.size(-1))
    return hidden_states.gather(-2, index).squeeze(-2)


def auxiliary_lm_loss(
    logits: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor | None
) -> torch.Tensor:
    """The fine-tuning auxiliary objective L_lm: predict each input token from its prefix, padding excluded, as the
    authors' code does: each sequence's masked token mean first, then the mean over sequences (every choice of a
    multiple-choice row is a sequence), so a short sequence in a padded batch weighs as much as a long one."""
    ids = input_ids.reshape(-1, input_ids.size(-1))  # (N, T), N = batch (* choices)
    logits = logits.reshape(*ids.shape, -1)  # (N, T, vocab)
    mask = attention_mask.reshape(ids.shape) if attention_mask is not None else torch.ones_like(ids)
    losses = F.cross_entropy(logits[:, :-1].transpose(1, 2).float(), ids[:, 1:], reduction="none")  # (N, T-1)
    predicted = mask[:, 1:].to(losses.dtype)  # M[:, 1:] in the authors' code: every real token after the first
    return ((losses * predicted).sum(1) / predicted.sum(1).clamp(min=1)).mean()


def check_choice_shapes(
    shape: torch.Size,
    mc_token_ids: torch.Tensor | None,
    mc_labels: torch.Tensor | None,
) -> None:
    """Name the mismatch in multiple-choice inputs instead of failing later inside a gather or the loss (the
    attention mask's shape is the decoder's to check, `GPT1Model._check_inputs`)."""
    if len(shape) != 3:
        raise ValueError(f"multiple-choice input_ids must be (batch, num_choices, seq), got shape {tuple(shape)}")
    if mc_token_ids is not None and tuple(mc_token_ids.shape) != tuple(shape[:2]):
        raise ValueError(
            f"classification positions have shape {tuple(mc_token_ids.shape)} but input_ids has "
            f"(batch, num_choices) = {tuple(shape[:2])}"
        )
    if mc_labels is not None:
        if tuple(mc_labels.shape) != (shape[0],):
            raise ValueError(f"choice labels have shape {tuple(mc_labels.shape)}, expected (batch,) = ({shape[0]},)")
        if not torch.compiler.is_compiling() and ((mc_labels < 0) | (mc_labels >= shape[1])).any():
            raise ValueError(f"choice labels must index one of the {shape[1]} choices, got {mc_labels.tolist()}")


class GPT1ChoiceHead(nn.Module):
    """The paper's classifier: dropout, then a linear layer on the final hidden state at the classification token.

    Named like transformers' `OpenAIGPTSequenceSummary` (`summary` is the linear layer), so multiple-choice heads
    load from `OpenAIGPTDoubleHeadsModel` checkpoints.
    """

    def __init__(self, config: GPT1Config, num_outputs: int):
        super().__init__()
        if config.summary_type != "cls_index" or config.summary_activation is not None or not config.summary_use_proj:
            raise ValueError(
                "GPT-1 heads are a linear layer at the classification token: summary_type='cls_index', "
                "summary_use_proj=True, summary_activation=None"
            )
        self.first_dropout = nn.Dropout(config.summary_first_dropout)
        self.summary = nn.Linear(config.n_embd, num_outputs)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.summary(self.first_dropout(features))


class GPT1ClassifierBase(GPT1PreTrainedModel):
    """What the paper's fine-tuning heads share: the decoder, a tied LM head for the auxiliary loss, and the
    objective `L_task + lm_coef * L_lm` (the LM head costs no parameters: it is the token embedding matrix).
    `GPT1DoubleHeads` is built on it too, with the LM loss from explicit `labels`."""

    _tied_weights_keys = {"lm_head.weight": "transformer.tokens_embed.weight"}

    def __init__(self, config: GPT1Config):
        super().__init__(config)
        self.transformer = GPT1Model(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)

    def _classify(
        self,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
        cls_index: torch.Tensor | None,
        kwargs: dict,
    ) -> tuple[torch.Tensor, torch.Tensor, BaseModelOutputWithPast]:
        """Run the decoder; return the final hidden states at the classification tokens, `(B, k, C)` for
        `(B, k, T)` inputs, together with all hidden states and the decoder output."""
        shape = input_ids.shape if input_ids is not None else inputs_embeds.shape[:-1]
        # The decoder checks the mask's sizes; a head also reads it per sequence, so it takes no 4-D mask.
        if attention_mask is not None and attention_mask.dim() != len(shape):
            raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)} but input_ids has {tuple(shape)}")
        out = self.transformer(
            input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds, use_cache=False, **kwargs
        )
        hidden_states = out.last_hidden_state  # (B, [k,] T, C)
        if cls_index is None:
            cls_index = classify_positions(self.config, input_ids, attention_mask, shape, hidden_states.device)
        elif tuple(cls_index.shape) != tuple(shape[:-1]):
            raise ValueError(f"cls_index has shape {tuple(cls_index.shape)}, expected {tuple(shape[:-1])}")
        return gather_positions(hidden_states, cls_index), hidden_states, out

    def _objective(
        self,
        task_loss: torch.Tensor | None,
        hidden_states: torch.Tensor,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """`(loss, lm_loss)`: the auxiliary LM loss is computed only with a task loss and `lm_coef > 0`."""
        if task_loss is None or self.config.lm_coef == 0 or input_ids is None:
            return task_loss, None
        lm_loss = auxiliary_lm_loss(self.lm_head(hidden_states), input_ids, attention_mask)
        return self._combine(task_loss, lm_loss), lm_loss

    def _combine(self, task_loss: torch.Tensor | None, lm_loss: torch.Tensor | None) -> torch.Tensor | None:
        """The paper's objective `L_task + lm_coef * L_lm`; either part alone when the other is absent."""
        if task_loss is None or lm_loss is None:
            return task_loss if task_loss is not None else lm_loss
        return task_loss + self.config.lm_coef * lm_loss


class GPT1DoubleHeads(GPT1ClassifierBase, GPT1GenerationMixin):
    """GPT-1 with the LM head and a multiple-choice head on the final hidden state at the classification token.

    The contract of transformers' `OpenAIGPTDoubleHeadsModel` (same weights; `labels` are LM labels, `mc_labels`
    choice labels) with the paper's objective: given both, `loss = mc_loss + lm_coef * lm_loss`, and `mc_loss` and
    `lm_loss` stay in the output, so `Trainer` trains it with no custom loop. With 2-D `input_ids` and no
    `mc_token_ids`/`mc_labels` it is a plain LM (the choice head is skipped), so `generate()` works.
    """

    def __init__(self, config: GPT1Config):
        super().__init__(config)
        self.multiple_choice_head = GPT1ChoiceHead(config, num_outputs=1)
        self.post_init()

    @can_return_tuple
    @old_cache_keyword
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        mc_token_ids: torch.LongTensor | None = None,
        labels: torch.LongTensor | None = None,
        mc_labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> GPT1DoubleHeadsOutput:
        r"""
        Args:
            input_ids: `(batch, num_choices, seq)`, one sequence per answer:
                `_start_ context _delimiter_ answer _classify_`.
            mc_token_ids: `(batch, num_choices)` index of the classification token; found from
                `config.classify_token_id` (or the last real token) when omitted.
            labels: LM labels shaped like `input_ids` (-100 = ignore), shifted inside.
            mc_labels: `(batch,)` index of the right choice.
        """
        shape = input_ids.shape if input_ids is not None else inputs_embeds.shape[:-1]
        multiple_choice = len(shape) == 3 or mc_token_ids is not None or mc_labels is not None
        if multiple_choice:
            check_choice_shapes(shape, mc_token_ids, mc_labels)
        out = self.transformer(
            input_ids,
            cache=cache_argument(cache, kwargs),
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            **kwargs,
        )
        hidden_states = out.last_hidden_state  # (B, nc, T, C)
        lm_logits = self.lm_head(hidden_states)  # (B, nc, T, V)

        mc_logits = mc_loss = lm_loss = None
        if multiple_choice:
            if mc_token_ids is None:
                mc_token_ids = classify_positions(self.config, input_ids, attention_mask, shape, lm_logits.device)
            mc_logits = self.multiple_choice_head(gather_positions(hidden_states, mc_token_ids)).squeeze(-1)
            if mc_labels is not None:
                mc_loss = F.cross_entropy(mc_logits, mc_labels)
        if labels is not None:
            T = shape[-1]
            lm_loss = ForCausalLMLoss(
                lm_logits.reshape(-1, T, lm_logits.size(-1)), labels.reshape(-1, T), vocab_size=lm_logits.size(-1)
            )
        return GPT1DoubleHeadsOutput(
            loss=self._combine(mc_loss, lm_loss),
            mc_loss=mc_loss,
            lm_loss=lm_loss,
            logits=lm_logits,
            mc_logits=mc_logits,
            hidden_states=out.hidden_states,
            attentions=out.attentions,
            **{CACHE_NAME: getattr(out, CACHE_NAME)},
        )


class GPT1ForSequenceClassification(GPT1ClassifierBase):
    """The paper's classifier for classification, entailment and similarity tasks: a linear layer on the final
    hidden state at `_classify_`, trained with `L_task + lm_coef * L_lm`.

    `input_ids` is `(batch, seq)` for classification and entailment (`_start_ premise _delimiter_ hypothesis
    _classify_`), or `(batch, k, seq)` for the paper's similarity transform: both orders of the pair as k=2 views,
    whose final states are summed before the linear layer. `num_labels=1` is a regression head (MSE).
    """

    def __init__(self, config: GPT1Config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.score = GPT1ChoiceHead(config, num_outputs=config.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        cls_index: torch.LongTensor | None = None,
        **kwargs,
    ) -> GPT1ClassifierOutput:
        r"""
        Args:
            input_ids: `(batch, seq)`, or `(batch, k, seq)` whose k views are summed (similarity).
            labels: `(batch,)` class ids, or floats for regression (`num_labels=1`).
            cls_index: Positions of the classification tokens (`input_ids.shape[:-1]`); found when omitted.
        """
        features, hidden_states, out = self._classify(input_ids, attention_mask, inputs_embeds, cls_index, kwargs)
        if features.dim() == 3:
            features = features.sum(1)  # similarity: the views' final states summed before the linear layer
        logits = self.score(features)  # (B, num_labels)
        task_loss = None
        if labels is not None:
            task_loss = ForSequenceClassificationLoss(labels, logits, self.config)
        loss, lm_loss = self._objective(task_loss, hidden_states, input_ids, attention_mask)
        return GPT1ClassifierOutput(
            loss=loss,
            task_loss=task_loss,
            lm_loss=lm_loss,
            logits=logits,
            hidden_states=out.hidden_states,
            attentions=out.attentions,
        )


class GPT1ForMultipleChoice(GPT1ClassifierBase):
    """The paper's multiple-choice transform under the `AutoModelForMultipleChoice` contract: one sequence per
    answer (`_start_ context _delimiter_ answer _classify_`), one score each, softmax over the answers;
    `labels` are choice indices and the loss is `L_task + lm_coef * L_lm`. Shares its head's weight names with
    `GPT1DoubleHeads` (and `OpenAIGPTDoubleHeadsModel`), so their checkpoints load here.
    """

    def __init__(self, config: GPT1Config):
        super().__init__(config)
        self.multiple_choice_head = GPT1ChoiceHead(config, num_outputs=1)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        cls_index: torch.LongTensor | None = None,
        **kwargs,
    ) -> GPT1ClassifierOutput:
        r"""
        Args:
            input_ids: `(batch, num_choices, seq)`.
            labels: `(batch,)` index of the right choice.
            cls_index: `(batch, num_choices)` positions of the classification tokens; found when omitted.
        """
        shape = input_ids.shape if input_ids is not None else inputs_embeds.shape[:-1]
        check_choice_shapes(shape, cls_index, labels)
        features, hidden_states, out = self._classify(input_ids, attention_mask, inputs_embeds, cls_index, kwargs)
        logits = self.multiple_choice_head(features).squeeze(-1)  # (B, nc)
        task_loss = F.cross_entropy(logits, labels) if labels is not None else None
        loss, lm_loss = self._objective(task_loss, hidden_states, input_ids, attention_mask)
        return GPT1ClassifierOutput(
            loss=loss,
            task_loss=task_loss,
            lm_loss=lm_loss,
            logits=logits,
            hidden_states=out.hidden_states,
            attentions=out.attentions,
        )


__all__ = [
    "GPT1DoubleHeads",
    "GPT1DoubleHeadsOutput",
    "GPT1ClassifierOutput",
    "GPT1ForCausalLM",
    "GPT1ForMultipleChoice",
    "GPT1ForSequenceClassification",
    "GPT1LMHeadModel",
    "GPT1Model",
    "GPT1PreTrainedModel",
]
