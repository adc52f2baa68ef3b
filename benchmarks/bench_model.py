"""Throughput of GPT-1 against transformers' `OpenAIGPTLMHeadModel`, measured in one run on the same weights.

Two workloads, as in issue 2:
- a training step (forward, backward, AdamW update) on `batch x seq` tokens, the paper's dropout on;
- greedy generation of `--gen-tokens` new tokens: ours with the KV cache, the reference re-reads the whole prefix
  at every step because it has no cache.

Timings alternate between the models (A, B, A, B, ...) so that load from other processes hits both alike; the
median of the repeats is reported. Usage:

    python benchmarks/bench_model.py                      # GPT-1 size, seq 512, CPU
    python benchmarks/bench_model.py --preset mini --seq 128 --gen-tokens 64   # quick look
    python benchmarks/bench_model.py --device cuda --dtype bfloat16            # on a GPU
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable

import torch
from transformers import OpenAIGPTConfig, OpenAIGPTLMHeadModel

from modeling_gpt1 import GPT1Config, GPT1ForCausalLM


def build_pair(preset: str, attn: str, device: str, dtype: torch.dtype) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The reference with random weights, and ours holding the same weights."""
    config = GPT1Config.from_preset(preset, attn_implementation=attn)
    torch.manual_seed(0)
    ref_config = OpenAIGPTConfig(
        **{k: getattr(config, k) for k in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head")}
    )
    ref = OpenAIGPTLMHeadModel(ref_config)
    ours = GPT1ForCausalLM(config)
    ours.load_state_dict(ref.state_dict())
    return ref.to(device, dtype), ours.to(device, dtype)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Callable[[], None], device: str) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def train_step_fn(model: torch.nn.Module, ids: torch.Tensor) -> Callable[[], None]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()

    def step() -> None:
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def generate_fn(model: torch.nn.Module, prompt: torch.Tensor, new_tokens: int, use_cache: bool) -> Callable[[], None]:
    model.eval()

    def run() -> None:
        with torch.no_grad():
            out = model.generate(
                prompt,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                do_sample=False,
                use_cache=use_cache,
                pad_token_id=0,
            )
        assert out.shape[1] == prompt.shape[1] + new_tokens

    return run


def alternate(fns: dict[str, Callable[[], None]], repeats: int, warmup: int, device: str) -> dict[str, float]:
    """Median seconds per call of each function, timed in alternation after `warmup` untimed rounds."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(timed(fn, device))
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="gpt1")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--gen-tokens", type=int, default=256)
    parser.add_argument("--prompt", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--compile", action="store_true", help="also time our model under torch.compile")
    parser.add_argument("--skip", choices=["train", "generate"], help="leave one workload out")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)

    ref, ours = build_pair(args.preset, "sdpa", args.device, dtype)
    _, ours_eager = build_pair(args.preset, "eager", args.device, dtype)
    vocab = ours.config.vocab_size
    ids = torch.randint(0, vocab, (args.batch, args.seq), device=args.device)
    tokens = ids.numel()

    train_s: dict[str, float] = {}
    gen_s: dict[str, float] = {}
    train = {
        "reference": train_step_fn(ref, ids),
        "gpt1-sdpa": train_step_fn(ours, ids),
        "gpt1-eager": train_step_fn(ours_eager, ids),
    }
    if args.compile:
        compiled = torch.compile(ours)
        train["gpt1-sdpa-compiled"] = train_step_fn(compiled, ids)
    if args.skip != "train":
        train_s = alternate(train, args.repeats, warmup=1, device=args.device)

    prompt = torch.randint(0, vocab, (1, args.prompt), device=args.device)
    gen = {
        "reference": generate_fn(ref, prompt, args.gen_tokens, use_cache=False),
        "gpt1-sdpa-cache": generate_fn(ours, prompt, args.gen_tokens, use_cache=True),
    }
    if args.skip != "generate":
        gen_s = alternate(gen, max(1, args.repeats - 1), warmup=0, device=args.device)

    figures = {
        "setup": {
            "preset": args.preset,
            "parameters": ours.num_parameters(),
            "device": args.device,
            "dtype": args.dtype,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(),
            "train_tokens_per_step": tokens,
            "gen": f"{args.gen_tokens} new tokens after a {args.prompt}-token prompt, batch 1, greedy",
        },
        "train_tokens_per_s": {k: tokens / v for k, v in train_s.items()},
        "generate_tokens_per_s": {k: args.gen_tokens / v for k, v in gen_s.items()},
    }
    for workload in ("train", "generate"):
        rates = figures[f"{workload}_tokens_per_s"]
        if rates:
            figures[f"{workload}_speedup"] = {k: v / rates["reference"] for k, v in rates.items()}
    print(json.dumps(figures, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
