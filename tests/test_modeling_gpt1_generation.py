"""Generation with the KV cache, compared per step against transformers' `OpenAIGPTLMHeadModel` (which has no cache
and recomputes the whole sequence every step) and against a full forward over the generated sequence.

Why per-step logits and a context-sensitive model: a tiny model with the default init predicts mostly from the
last token, so greedy ids agree even when the cache is ignored and each step sees one token without its context.
Here every weight matrix is drawn wide (N(0, 0.5)), which makes attention peaky and the next-token distribution depend on
the context; `context_matters` checks that for every model the tests use, so a test here cannot pass with a cache
that is dropped, misaligned or fed the wrong positions.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from transformers import OpenAIGPTConfig, OpenAIGPTLMHeadModel
from transformers.modeling_outputs import CausalLMOutputWithPast

from modeling_gpt1 import GPT1Config, GPT1DoubleHeads, GPT1ForCausalLM

ATTN = ["eager", "sdpa"]
TINY = dict(vocab_size=99, n_positions=48, n_embd=32, n_layer=2, n_head=4)
PROMPT_LEN, NEW = 6, 12
# Where the installed transformers puts the cache in an output (5.24 renamed `past_key_values` to `cache`).
CACHE_FIELD = "cache" if "cache" in CausalLMOutputWithPast.__dataclass_fields__ else "past_key_values"


def models(attn: str, seed: int = 0) -> tuple[OpenAIGPTLMHeadModel, GPT1ForCausalLM]:
    """The reference with random wide weights, and ours holding exactly those weights (strict load)."""
    torch.manual_seed(seed)
    ref = OpenAIGPTLMHeadModel(OpenAIGPTConfig(**TINY)).eval()
    with torch.no_grad():
        for weight in (p for p in ref.parameters() if p.dim() == 2):
            weight.normal_(0.0, 0.5)
    ours = GPT1ForCausalLM(GPT1Config(**TINY, attn_implementation=attn)).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    context_matters(ref)
    return ref, ours


def context_matters(model) -> None:
    """The model's prediction after a token must depend on the tokens before it (else these tests prove nothing)."""
    ids = torch.randint(0, TINY["vocab_size"], (4, 10), generator=torch.Generator().manual_seed(11))
    with torch.no_grad():
        with_context = model(ids).logits[:, -1]
        alone = model(ids[:, -1:]).logits[:, -1]
    # Positions differ too, so compare against the same token at the same position after other context.
    other = torch.cat([ids[:, :-1].flip(0), ids[:, -1:]], 1)
    with torch.no_grad():
        other_context = model(other).logits[:, -1]
    assert (with_context - alone).abs().max() > 1.0
    assert (with_context - other_context).abs().max() > 1.0


def prompts(batch: int = 2, seed: int = 3) -> torch.Tensor:
    return torch.randint(1, TINY["vocab_size"], (batch, PROMPT_LEN), generator=torch.Generator().manual_seed(seed))


def generate(model, prompt: torch.Tensor, seed: int = 0, **kwargs):
    """`generate` with the raw logits of every step; the seed makes sampling reproducible across models."""
    torch.manual_seed(seed)
    with torch.no_grad():
        return model.generate(
            prompt,
            max_new_tokens=NEW,
            min_new_tokens=NEW,
            pad_token_id=0,
            output_logits=True,
            output_scores=True,
            return_dict_in_generate=True,
            **kwargs,
        )


def assert_steps_close(got, expected, what: str) -> None:
    assert len(got) == len(expected) == NEW, what
    for step, (a, b) in enumerate(zip(got, expected)):
        torch.testing.assert_close(a, b, atol=2e-4, rtol=1e-4, msg=lambda m, s=step: f"{what}, step {s}: {m}")


def full_recomputation(model, sequences: torch.Tensor, attention_mask: torch.Tensor | None = None) -> list:
    """The logits each step should have produced: one forward over the whole generated sequence, no cache."""
    with torch.no_grad():
        logits = model(sequences, attention_mask=attention_mask, use_cache=False).logits
    return [logits[:, PROMPT_LEN - 1 + t] for t in range(NEW)]


@pytest.mark.parametrize("attn", ATTN)
@pytest.mark.parametrize("cache_implementation", [None, "static"], ids=["dynamic", "static"])
def test_greedy_steps_match_reference_and_full_recomputation(attn, cache_implementation):
    ref, ours = models(attn)
    prompt = prompts()
    expected = generate(ref, prompt, do_sample=False)
    got = generate(ours, prompt, do_sample=False, use_cache=True, cache_implementation=cache_implementation)
    assert torch.equal(got.sequences, expected.sequences)
    assert_steps_close(got.logits, expected.logits, "cached vs OpenAIGPTLMHeadModel")
    assert_steps_close(got.logits, full_recomputation(ref, got.sequences), "cached vs full forward")
    uncached = generate(ours, prompt, do_sample=False, use_cache=False)
    assert_steps_close(uncached.logits, expected.logits, "no cache vs OpenAIGPTLMHeadModel")


@pytest.mark.parametrize("attn", ATTN)
def test_sampling_steps_match_reference_with_a_fixed_seed(attn):
    ref, ours = models(attn)
    prompt = prompts()
    kwargs = dict(do_sample=True, top_k=0, top_p=1.0, temperature=1.0, seed=7)
    expected = generate(ref, prompt, **kwargs)
    got = generate(ours, prompt, use_cache=True, **kwargs)
    assert torch.equal(got.sequences, expected.sequences)
    assert_steps_close(got.logits, expected.logits, "sampled, cached vs OpenAIGPTLMHeadModel")
    assert_steps_close(got.logits, full_recomputation(ref, got.sequences), "sampled, cached vs full forward")


@pytest.mark.parametrize("attn", ATTN)
def test_beam_search_steps_match_reference(attn):
    ref, ours = models(attn)
    prompt = prompts()
    kwargs = dict(do_sample=False, num_beams=3, num_return_sequences=3, early_stopping=False)
    expected = generate(ref, prompt, **kwargs)
    got = generate(ours, prompt, use_cache=True, **kwargs)
    assert torch.equal(got.sequences, expected.sequences)
    # Beam scores per step ((batch * beams, vocab) log-probabilities plus each beam's running score): a cache that
    # is not reordered with the beams gives other scores from the second step on.
    assert_steps_close(got.scores, expected.scores, "beam scores, cached vs OpenAIGPTLMHeadModel")
    torch.testing.assert_close(got.sequences_scores, expected.sequences_scores, atol=2e-4, rtol=1e-4)


@pytest.mark.parametrize("attn", ATTN)
@pytest.mark.parametrize("cache_implementation", [None, "static"], ids=["dynamic", "static"])
def test_left_padded_batch_steps_match_each_prompt_alone_in_the_reference(attn, cache_implementation):
    ref, ours = models(attn)
    lengths = [PROMPT_LEN, PROMPT_LEN - 2, PROMPT_LEN - 4]
    rows = [prompts(1, seed=20 + i)[0, :n] for i, n in enumerate(lengths)]
    batch = torch.zeros(len(rows), PROMPT_LEN, dtype=torch.long)
    mask = torch.zeros_like(batch)
    for i, row in enumerate(rows):  # left padding: the prompts end where generation starts
        batch[i, PROMPT_LEN - len(row) :] = row
        mask[i, PROMPT_LEN - len(row) :] = 1
    kwargs = dict(do_sample=False, use_cache=True, cache_implementation=cache_implementation)
    got = generate(ours, batch, attention_mask=mask, **kwargs)
    for i, row in enumerate(rows):
        alone = generate(ref, row[None], do_sample=False)  # the reference, one prompt, no padding, no cache
        assert torch.equal(got.sequences[i, PROMPT_LEN:], alone.sequences[0, len(row) :]), f"row {i}"
        assert_steps_close([s[i : i + 1] for s in got.logits], alone.logits, f"row {i} in a padded batch vs alone")


@pytest.mark.parametrize("attn", ATTN)
@pytest.mark.parametrize("keyword", ["cache", "past_key_values"])
def test_forward_takes_the_cache_under_either_keyword(attn, keyword):
    """transformers >= 5.24 passes the cache as `cache`, older releases (and older user code) as
    `past_key_values`: both must feed the same cache, and the output returns it under the installed release's name.
    Where the cache is called `cache`, the old keyword gives transformers' own deprecation warning (as GPT-2 does);
    where it is still `past_key_values`, that is the normal keyword and says nothing."""
    ref, ours = models(attn)
    ids = torch.randint(0, TINY["vocab_size"], (2, 10), generator=torch.Generator().manual_seed(4))
    deprecated = keyword == "past_key_values" and CACHE_FIELD == "cache"
    with torch.no_grad():
        expected = ref(ids).logits
        out = ours(ids[:, :4], use_cache=True)
        cache = out[CACHE_FIELD]
        steps = [out.logits]
        for t in range(4, 10):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                out = ours(ids[:, t : t + 1], use_cache=True, **{keyword: cache})
            said = [w for w in caught if "is deprecated" in str(w.message)]
            if deprecated:
                assert len(said) == 1 and str(said[0].message).startswith("`past_key_values` is deprecated"), said
                assert issubclass(said[0].category, FutureWarning)
            else:
                assert said == []
            assert out[CACHE_FIELD] is cache
            steps.append(out.logits)
    torch.testing.assert_close(torch.cat(steps, 1), expected, atol=1e-5, rtol=1e-5)
    assert cache.get_seq_length() == 10
    with pytest.raises(ValueError, match="(?i)both `(cache|past_key_values)` and `(cache|past_key_values)`"):
        ours(ids[:, :1], cache=cache, past_key_values=cache)


@pytest.mark.parametrize("model_class", [GPT1ForCausalLM, GPT1DoubleHeads])
def test_generate_never_uses_the_deprecated_cache_keyword(model_class):
    """`generate()` feeds the cache back under the installed release's name: no deprecation warning, on any release."""
    torch.manual_seed(0)
    model = model_class(GPT1Config(**TINY)).eval()
    with warnings.catch_warnings(record=True) as caught, torch.no_grad():
        warnings.simplefilter("always")
        out = model.generate(prompts(), max_new_tokens=4, do_sample=False, pad_token_id=0)
    assert out.shape[1] == PROMPT_LEN + 4
    assert [str(w.message) for w in caught if "is deprecated" in str(w.message)] == []


@pytest.mark.parametrize("cache_implementation", [None, "static"], ids=["dynamic", "static"])
def test_generating_past_the_context_is_a_clear_error(cache_implementation):
    _, ours = models("sdpa")
    kwargs = dict(do_sample=False, pad_token_id=0, cache_implementation=cache_implementation)
    # The last token is never fed back, so n_positions + 1 tokens in all fit; one more does not.
    fits = TINY["n_positions"] + 1 - PROMPT_LEN
    with torch.no_grad():
        out = ours.generate(prompts(), max_new_tokens=fits, min_new_tokens=fits, **kwargs)
        assert out.shape == (2, TINY["n_positions"] + 1)
        with pytest.raises(
            ValueError, match=r"sequence length 49 \(past 48 \+ new 1\) exceeds the model's context of n_positions=48"
        ):
            ours.generate(prompts(), max_new_tokens=fits + 1, min_new_tokens=fits + 1, **kwargs)
