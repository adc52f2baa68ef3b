"""The GPU figures of `benchmarks/gpu_check.sh`: training-step and generation speed, ours against transformers'
`OpenAIGPTLMHeadModel` in the same process, and the Markdown record of everything the check measured.

    python benchmarks/gpu_bench.py train --out gpu_check.json        # step matrix: attention x compile, MFU, memory
    python benchmarks/gpu_bench.py generate --out gpu_check.json     # 256 new tokens, batch 1 and 32, caches
    python benchmarks/gpu_bench.py report --out gpu_check.json --md gpu_check.md [--run runs/gpu]
    GPU_CHECK_TINY=1 python benchmarks/gpu_bench.py train ...          # CPU rehearsal: tiny model, a few steps

Each figure is written to the JSON file as soon as it is measured, so a part cut short by its time limit keeps
what it had; a configuration that fails is recorded with its error instead of stopping the rest. MFU is training
FLOPs per token (`gpt1.throughput.flops_per_token`) x tokens/s over the bf16 peak, both the data-sheet figure and
a bf16 matmul measured on the device in the same run (the one the issue asks for).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from transformers import OpenAIGPTLMHeadModel

from gpt1.convert import openai_gpt_config
from gpt1.io import atomic_write_text
from gpt1.logging_utils import read_jsonl
from gpt1.pretraining import build_optimizer
from gpt1.throughput import flops_per_token, measure_matmul_flops, table_peak_flops
from modeling_gpt1 import GPT1Config, GPT1ForCausalLM

TINY = os.environ.get("GPU_CHECK_TINY", "0") == "1"
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
# (preset, block, batch, timed steps) of the step matrix; the rehearsal's keeps the CPU run to seconds.
SHAPE = ("tiny", 64, 2, 2) if TINY else ("gpt1", 512, 8, 20)
COMPILE = os.environ.get("GPU_CHECK_COMPILE", "1") == "1"  # 0: a rehearsal of the plumbing alone


def record(path: Path, section: str, key: str, value: Any) -> None:
    """Add `value` under `section/key` of the JSON record at `path` (rewritten whole, atomically)."""
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault(section, {})[key] = value
    atomic_write_text(path, json.dumps(data, indent=1))
    print(f"{section}/{key}: {json.dumps(value)}", flush=True)


def sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def build(kind: str, config: GPT1Config, attn: str) -> torch.nn.Module:
    """Ours with `attn` ("eager", "sdpa"; "flash" is SDPA held to its flash kernel), or the reference."""
    if kind == "gpt1":
        config._attn_implementation = "sdpa" if attn == "flash" else attn
        return GPT1ForCausalLM(config).to(DEVICE)
    return OpenAIGPTLMHeadModel(openai_gpt_config(config)).to(DEVICE)


def attention_kernel(attn: str) -> contextlib.AbstractContextManager:
    """SDPA restricted to FlashAttention-2's kernel for "flash" (the image has no `flash_attn` package)."""
    if attn != "flash":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel(SDPBackend.FLASH_ATTENTION)


def autocast() -> contextlib.AbstractContextManager:
    return torch.autocast(DEVICE.type, dtype=torch.bfloat16) if DEVICE.type == "cuda" else contextlib.nullcontext()


def time_steps(model: torch.nn.Module, attn: str, compile_: bool, batch: int, block: int, steps: int) -> dict:
    """tokens/s of full training steps (bf16 forward + backward, clip, fused AdamW) and the peak memory."""
    optimizer = build_optimizer(model, lr=2.5e-4, weight_decay=0.01, device=DEVICE)
    forward = torch.compile(model) if compile_ else model
    ids = torch.randint(0, model.config.vocab_size, (batch, block), device=DEVICE)
    model.train()

    def step() -> None:
        with autocast(), attention_kernel(attn):
            loss = forward(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    start = time.perf_counter()
    for _ in range(3):  # the first steps compile and tune; not timed
        step()
    sync()
    warmup_s = time.perf_counter() - start
    if DEVICE.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**30 if DEVICE.type == "cuda" else None
    return {"tokens_per_s": steps * batch * block / seconds, "warmup_s": warmup_s, "peak_mem_gib": peak}


def bench_train(out: Path) -> None:
    """The step matrix: ours eager / SDPA / flash and the reference without `torch.compile`, peak memory with and
    without gradient checkpointing, then the compiled configurations (each compiles for tens of seconds: the most
    telling first, in case the part's time limit cuts the list short)."""
    preset, block, batch, steps = SHAPE
    name = torch.cuda.get_device_name() if DEVICE.type == "cuda" else "cpu"
    peaks = {"table": table_peak_flops(name), "measured_matmul": None}
    if DEVICE.type == "cuda":
        peaks["measured_matmul"] = measure_matmul_flops(DEVICE)
    record(out, "setup", "train", {"device": name, "torch": torch.__version__, "preset": preset, "block": block,
                                   "batch": batch, "timed_steps": steps, "peak_flops": peaks})  # fmt: skip
    plain = [("gpt1", "eager"), ("gpt1", "sdpa"), ("gpt1", "flash"), ("openai-gpt", "eager")]
    for kind, attn in plain:
        record(out, "train", f"{kind} {attn}", train_config(kind, attn, False, peaks))
    for checkpointing in (False, True):
        torch.manual_seed(0)
        model = build("gpt1", GPT1Config.from_preset(preset), "sdpa")
        if checkpointing:  # transformers 5.23 renamed it (the old name warns); older ones lack the new name
            (getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable)()
        record(out, "memory", f"gradient checkpointing {'on' if checkpointing else 'off'}",
               time_steps(model, "sdpa", False, batch, block, max(2, steps // 4)))  # fmt: skip
        model = None
        if DEVICE.type == "cuda":
            torch.cuda.empty_cache()
    for kind, attn in [("gpt1", "sdpa"), ("openai-gpt", "eager"), ("gpt1", "flash"), ("gpt1", "eager")]:
        if COMPILE:
            record(out, "train", f"{kind} {attn} compiled", train_config(kind, attn, True, peaks))


def train_config(kind: str, attn: str, compile_: bool, peaks: dict[str, float | None]) -> dict:
    """`time_steps` of one configuration with its MFU, or the error it raised (e.g. no flash kernel on a CPU)."""
    preset, block, batch, steps = SHAPE
    torch.manual_seed(0)
    try:
        model = build(kind, GPT1Config.from_preset(preset), attn)
        result = time_steps(model, attn, compile_, batch, block, steps)
        flops = flops_per_token(model, block) * result["tokens_per_s"]
        result["mfu"] = {k: flops / v for k, v in peaks.items() if v}
    except Exception as e:  # recorded; the other configurations still run
        result = {"error": f"{type(e).__name__}: {e}".splitlines()[0][:300]}
    model = None
    torch._dynamo.reset()
    if DEVICE.type == "cuda":
        torch.cuda.empty_cache()
    return result


def bench_generate(out: Path) -> None:
    """Seconds and tokens/s of `generate` (greedy, exactly N new tokens) at batch 1 and 32: ours with the dynamic
    cache, the static cache, and the static cache compiled (transformers compiles the decoding step when the cache
    is static unless told not to); the reference, which has no KV cache, recomputes the prefix every step."""
    preset, new_tokens, batches = ("tiny", 8, (1, 4)) if TINY else ("gpt1", 256, (1, 32))
    prompt_len = 16
    record(out, "setup", "generate", {"preset": preset, "new_tokens": new_tokens, "prompt": prompt_len})
    contenders: list[tuple[str, str, dict]] = [
        ("openai-gpt (no cache)", "openai-gpt", {"disable_compile": True}),
        ("gpt1 dynamic cache", "gpt1", {"disable_compile": True}),
        ("gpt1 static cache", "gpt1", {"cache_implementation": "static", "disable_compile": True}),
    ]
    if COMPILE:  # last: compiling takes the most of the part's time
        contenders += [
            ("gpt1 static cache compiled", "gpt1", {"cache_implementation": "static"}),
            ("gpt1 dynamic cache compiled", "gpt1", {"compile": True}),
        ]
    for label, kind, options in contenders:
        torch.manual_seed(0)
        model = build(kind, GPT1Config.from_preset(preset), "sdpa").eval()
        if DEVICE.type == "cuda":
            model = model.to(torch.bfloat16)
        for batch in batches:
            try:
                result = time_generate(model, dict(options), batch, prompt_len, new_tokens)
            except Exception as e:
                result = {"error": f"{type(e).__name__}: {e}".splitlines()[0][:300]}
            record(out, "generate", f"{label}, batch {batch}", result)
        model = None
        torch._dynamo.reset()


def time_generate(model: torch.nn.Module, options: dict, batch: int, prompt_len: int, new_tokens: int) -> dict:
    """The better of 2 timed `generate` calls after one untimed one (which compiles, if anything does)."""
    if options.pop("compile", False):  # the dynamic cache's shapes grow every step: compile with dynamic shapes
        model.forward = torch.compile(model.forward, dynamic=True)
    ids = torch.randint(0, model.config.vocab_size, (batch, prompt_len), device=DEVICE)
    kwargs = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, pad_token_id=0, **options)

    def run() -> float:
        sync()
        start = time.perf_counter()
        with torch.no_grad():
            generated = model.generate(ids, **kwargs)
        sync()
        assert generated.shape == (batch, prompt_len + new_tokens)
        return time.perf_counter() - start

    first = run()
    best = min(run() for _ in range(2))
    return {"first_call_s": first, "seconds": best, "tokens_per_s": batch * new_tokens / best}


def report(out: Path, md: Path, runs: list[Path]) -> None:
    """The Markdown record of the JSON record (and of the pretraining run's log, if given)."""
    data = json.loads(out.read_text()) if out.exists() else {}
    lines = ["# GPU check", ""]
    setup = data.get("setup", {})
    if "train" in setup:
        s = setup["train"]
        peaks = {k: f"{v / 1e12:.0f} TFLOP/s" if v else "n/a" for k, v in s["peak_flops"].items()}
        lines += [f"Device: {s['device']}, torch {s['torch']}. bf16 peak: data sheet {peaks['table']}, measured "
                  f"matmul {peaks['measured_matmul']}.", "",
                  f"## Training step: {s['preset']} preset, {s['batch']} x {s['block']} tokens, bf16 autocast, "
                  "fused AdamW", "",
                  "| configuration | tokens/s | MFU (measured peak) | MFU (data sheet) | peak memory | first steps |",
                  "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
        for key, r in {**data.get("train", {}), **data.get("memory", {})}.items():
            lines.append(row(key, r))
    if "generate" in data:
        g = setup.get("generate", {})
        lines += ["", f"## Generation: {g.get('new_tokens')} new tokens after a {g.get('prompt')}-token prompt, "
                  "greedy, bf16 weights", "", "| configuration | tokens/s | seconds (best of 2) | first call |",
                  "|---|---:|---:|---:|"]  # fmt: skip
        for key, r in data["generate"].items():
            if "error" in r:
                lines.append(f"| {key} | failed: {r['error']} | | |")
            else:
                lines.append(f"| {key} | {r['tokens_per_s']:,.0f} | {r['seconds']:.2f} | {r['first_call_s']:.2f} s |")
    for run_dir in runs:
        if (run_dir / "log.jsonl").exists():
            lines += ["", *pretraining_section(run_dir)]
    atomic_write_text(md, "\n".join(lines) + "\n")
    print(f"wrote {md}")


def row(key: str, r: dict) -> str:
    if "error" in r:
        return f"| {key} | failed: {r['error']} | | | | |"
    mfu = r.get("mfu", {})
    cells = [f"{mfu[k]:.1%}" if mfu.get(k) else "n/a" for k in ("measured_matmul", "table")]
    memory = f"{r['peak_mem_gib']:.1f} GiB" if r.get("peak_mem_gib") is not None else "n/a"
    return f"| {key} | {r['tokens_per_s']:,.0f} | {cells[0]} | {cells[1]} | {memory} | {r['warmup_s']:.1f} s |"


def pretraining_section(run_dir: Path) -> list[str]:
    """The pretraining run's log: the training records (loss falling, tokens/s, MFU, memory) and validation."""
    records = read_jsonl(run_dir / "log.jsonl")
    train = [r for r in records if "loss" in r]
    val = [(r["step"], r["val_loss"]) for r in records if "val_loss" in r]
    lines = [f"## Pretraining through scripts/pretrain.py ({run_dir})", "",
             "| step | loss | tokens/s | MFU | peak memory | elapsed |", "|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in train:
        mfu = f"{r['mfu']:.1%}" if "mfu" in r else "n/a"
        memory = f"{r['peak_mem_gib']:.1f} GiB" if "peak_mem_gib" in r else "n/a"
        lines.append(f"| {r['step']} | {r['loss']:.3f} | {r['tokens_per_s']:,.0f} | {mfu} | {memory} | "
                     f"{r['elapsed_s']:.0f} s |")  # fmt: skip
    lines += ["", "Validation loss by step: " + ", ".join(f"{s}: {v:.3f}" for s, v in val)]
    if len(train) >= 2:
        lines.append(f"Loss fell from {train[0]['loss']:.3f} to {train[-1]['loss']:.3f}.")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=["train", "generate", "report"])
    parser.add_argument("--out", type=Path, required=True, help="the JSON record (added to)")
    parser.add_argument("--md", type=Path, help="report: the Markdown record to write")
    parser.add_argument("--run", type=Path, action="append", default=[], help="report: pretraining run folders")
    args = parser.parse_args(argv)
    parts: dict[str, Callable[[], None]] = {
        "train": lambda: bench_train(args.out),
        "generate": lambda: bench_generate(args.out),
        "report": lambda: report(args.out, args.md or args.out.with_suffix(".md"), args.run),
    }
    parts[args.part]()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
