"""`gpt1.training`: the optimizer rule shared by pretraining and fine-tuning (checkpoint helpers: test_checkpointing)."""

from __future__ import annotations

from gpt1.training import param_groups
from modeling_gpt1 import GPT1Config, GPT1ForCausalLM


def test_biases_and_layernorm_are_exactly_the_undecayed_group() -> None:
    """Guards `decays` (`param.dim() >= 2`, gpt1/training.py): the no-decay group is every bias and LayerNorm
    parameter and nothing else, never empty (an `all(...)` over an empty group passes vacuously)."""
    config = GPT1Config.from_preset("tiny")
    model = GPT1ForCausalLM(config)
    decay, no_decay = param_groups(model, 0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    expected = {n for n, p in model.named_parameters() if n.endswith(".bias") or ".ln_" in n}
    assert len(expected) == 8 * config.n_layer  # per block: 4 Conv1D biases, 2 LayerNorms x (weight, bias)
    assert {names[id(p)] for p in no_decay["params"]} == expected
    assert {names[id(p)] for p in decay["params"]} == set(names.values()) - expected
