"""Pretraining throughput: tokens/s and MFU of a training step, this package's GPT-1 against transformers'
`OpenAIGPTLMHeadModel` with the same shapes, in the same process.

    python benchmarks/bench_pretrain.py                           # GPU: the paper's model, bf16, 8 x 512 tokens
    python benchmarks/bench_pretrain.py --preset tiny --steps 5    # CPU smoke run

A step is what `gpt1.pretraining` does per micro-batch: forward with labels, backward, clip, fused AdamW, under
bf16 autocast on GPU. MFU = FLOPs per token (6N + attention, `gpt1.throughput.flops_per_token`) x tokens/s over
the device's peak: the data-sheet bf16 figure and a measured bf16 matmul peak (the issue's target: >= 50% of the
latter).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time

import torch
from transformers import OpenAIGPTLMHeadModel

from gpt1.convert import openai_gpt_config
from gpt1.io import atomic_write_json
from gpt1.pretraining import build_optimizer
from gpt1.throughput import flops_per_token, measure_matmul_flops, table_peak_flops
from modeling_gpt1 import GPT1Config, GPT1ForCausalLM


def build(name: str, config: GPT1Config, attn: str) -> torch.nn.Module:
    if name == "gpt1":
        config._attn_implementation = attn
        return GPT1ForCausalLM(config)
    return OpenAIGPTLMHeadModel(openai_gpt_config(config))


def bench(model: torch.nn.Module, batch: int, block: int, steps: int, warmup: int, compile_: bool) -> float:
    """Training tokens/s over `steps` timed steps after `warmup` untimed ones."""
    device = next(model.parameters()).device
    optimizer = build_optimizer(model, lr=2.5e-4, weight_decay=0.01, device=device)
    step_model = torch.compile(model) if compile_ else model
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
    ids = torch.randint(0, model.config.vocab_size, (batch, block), device=device)
    model.train()

    def step() -> None:
        with autocast:
            loss = step_model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return steps * batch * block / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="gpt1", help="GPT1Config preset (gpt1 = the paper's 117M model)")
    parser.add_argument("--batch", type=int, default=8, help="sequences per step")
    parser.add_argument("--block", type=int, default=None, help="tokens per sequence (default: n_positions)")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--attn", default="sdpa", help="attention implementation of GPT1 (eager, sdpa, ...)")
    parser.add_argument("--compile", action="store_true", help="torch.compile both models")
    parser.add_argument("--output", default=None, help="also write the results as JSON here")
    args = parser.parse_args(argv)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    config = GPT1Config.from_preset(args.preset)
    block = args.block or config.n_positions
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peaks = {}
    if device.type == "cuda":
        peaks = {"table": table_peak_flops(name), "measured_matmul": measure_matmul_flops(device)}
    results = {"device": name, "preset": args.preset, "batch": args.batch, "block": block, "compile": args.compile,
               "peak_flops": peaks, "models": {}}  # fmt: skip
    print(f"{name}: {args.preset} preset, {args.batch} x {block} tokens per step, compile={args.compile}")
    print("| model | params | tokens/s | MFU (data sheet) | MFU (measured matmul peak) |")
    print("|---|---|---|---|---|")
    for model_name in ("gpt1", "openai-gpt (transformers)"):
        torch.manual_seed(0)
        model = build("gpt1" if model_name == "gpt1" else "openai", config, args.attn).to(device)
        tokens_per_s = bench(model, args.batch, block, args.steps, args.warmup, args.compile)
        flops = flops_per_token(model, block) * tokens_per_s
        mfu = {k: flops / v for k, v in peaks.items() if v}
        n = sum(p.numel() for p in model.parameters())
        results["models"][model_name] = {"params": n, "tokens_per_s": tokens_per_s, "mfu": mfu}
        cells = [f"{mfu[k]:.1%}" if k in mfu else "n/a (no GPU)" for k in ("table", "measured_matmul")]
        print(f"| {model_name} | {n / 1e6:.1f}M | {tokens_per_s:,.0f} | {cells[0]} | {cells[1]} |")
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    if args.output:
        atomic_write_json(args.output, results)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
