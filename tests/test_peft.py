"""LoRA (peft) on GPT-1 with the target modules the README documents: peft maps target modules by `model_type` and
does not know `gpt1`, so they are named (`c_attn`, `c_proj`, `c_fc`: the `Conv1D` layers of every block, GPT-2's
names). Training moves only the adapters, merging gives a plain GPT-1 with the same outputs, and the merged weight
is the base weight plus the low-rank update, computed here independently of peft."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model  # a development extra: `make install` installs it

from modeling_gpt1 import GPT1Config, GPT1ForCausalLM

# The README's "Fine-tuning with LoRA" list.
TARGET_MODULES = ["c_attn", "c_proj", "c_fc"]
TINY = dict(vocab_size=99, n_positions=32, n_embd=32, n_layer=2, n_head=4)

# peft (0.21) reads `is_gradient_checkpointing`, which transformers 5.24 deprecated: peft's warning, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")


def base_model() -> GPT1ForCausalLM:
    torch.manual_seed(0)
    return GPT1ForCausalLM(GPT1Config(**TINY)).eval()


def lora(model: GPT1ForCausalLM) -> PeftModel:
    # fan_in_fan_out: Conv1D keeps its weight as (in, out); peft would set it itself, with a warning.
    config = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=TARGET_MODULES, fan_in_fan_out=True)
    return get_peft_model(model, config)


def batch() -> torch.Tensor:
    return torch.randint(0, TINY["vocab_size"], (4, 16), generator=torch.Generator().manual_seed(1))


def train(model: PeftModel, steps: int = 5) -> list[float]:
    ids = batch()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    losses = []
    for _ in range(steps):
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses


def test_lora_without_target_modules_is_refused_by_peft():
    """Why the README names the modules: peft knows GPT-2's `model_type`, not `gpt1`."""
    with pytest.raises(ValueError, match="target_modules"):
        get_peft_model(base_model(), LoraConfig(r=8))


def test_lora_wraps_every_conv1d_and_trains_only_the_adapters():
    model = lora(base_model())
    wrapped = {name.rsplit(".", 1)[0] for name, _ in model.named_parameters() if "lora_A" in name}
    # Every block's c_attn, attn.c_proj, c_fc and mlp.c_proj: 4 per layer.
    assert len(wrapped) == 4 * TINY["n_layer"], sorted(wrapped)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name for name in trainable), sorted(trainable)
    frozen_before = {name: p.detach().clone() for name, p in model.named_parameters() if not p.requires_grad}
    losses = train(model)
    assert losses[-1] < losses[0], losses  # it learns the batch ...
    for name, p in model.named_parameters():  # ... through the adapters alone
        if name in frozen_before:
            assert torch.equal(p, frozen_before[name]), f"{name} moved"


def test_merged_model_is_a_plain_gpt1_with_the_adapted_outputs(tmp_path):
    model = lora(base_model())
    train(model)
    model.eval()
    ids = batch()
    with torch.no_grad():
        adapted = model(input_ids=ids).logits
        base_logits = base_model()(input_ids=ids).logits
    assert not torch.allclose(adapted, base_logits, atol=1e-4), "training changed nothing"

    # The adapter alone saves and reloads onto a fresh base.
    model.save_pretrained(tmp_path / "adapter")
    reloaded = PeftModel.from_pretrained(base_model(), tmp_path / "adapter").eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(input_ids=ids).logits, adapted, atol=1e-5, rtol=1e-5)

    # The merged weight of one Conv1D, by the LoRA formula: W (in, out) + (B A)^T * alpha / r.
    layer = model.base_model.model.transformer.h[0].attn.c_attn
    delta = (layer.lora_B["default"].weight @ layer.lora_A["default"].weight).T * (16 / 8)
    expected_weight = layer.base_layer.weight.detach() + delta.detach()

    merged = model.merge_and_unload()
    assert type(merged) is GPT1ForCausalLM
    torch.testing.assert_close(merged.transformer.h[0].attn.c_attn.weight, expected_weight, atol=1e-6, rtol=1e-6)
    with torch.no_grad():
        torch.testing.assert_close(merged(input_ids=ids).logits, adapted, atol=1e-5, rtol=1e-5)
    merged.save_pretrained(tmp_path / "merged")
    again = GPT1ForCausalLM.from_pretrained(tmp_path / "merged").eval()
    with torch.no_grad():
        torch.testing.assert_close(again(input_ids=ids).logits, adapted, atol=1e-5, rtol=1e-5)
