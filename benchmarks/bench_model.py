"""Speed of GPT-1 against transformers' `OpenAIGPTLMHeadModel` on the same weights, measured so that it holds on a
shared machine.

Workloads:
- `train`: one training step (forward with labels, backward, AdamW update) on `batch x seq` tokens, dropout on;
  the reference against ours with SDPA (and with eager attention: `--eager`).
- `decode`: batch-1 greedy generation with the KV cache, each step's time against the memory floor: the time to
  read the model's weight bytes once (the best of a few sums over one fp32 buffer of the same size), measured in
  the same run, between the decoding runs.
- `generate` (opt-in): whole `generate()` calls, ours with the cache against the reference, which has none.

The method. Other processes come and go during a run, so a single time, or a median of a few, says more about the
load than about the model. Every figure here is a ratio taken **per round**: one round times each contender once,
back to back, and the order reverses every other round (A B, B A, A B, ...), so a burst of load or a slow drift
lands on both sides of a ratio. A warm-up round is not counted. What stays fixed for a process's life is not
cancelled by rounds inside it, so the whole measurement runs in several fresh processes in turn (`--processes`)
and their rounds are pooled. The record gives, per ratio, the median over all rounds, the spread (lowest and
highest round), and the ratio of the fastest times beside it; a ratio whose spread crosses 1.0 is "no measurable
difference". Every timing reads two clocks: the wall clock, and the process's CPU
time, which leaves out the time other processes held the cores. The thread count is pinned (`--threads`, default
1: on a loaded 2-core machine a second OpenMP thread waits at every barrier for a core, and timings scatter
several-fold) and the load average is read before and after each workload.

    python benchmarks/bench_model.py                              # GPT-1 size: train 1 x 512, decode; ~6 min
    python benchmarks/bench_model.py --processes 5 --rounds 4     # more rounds, a truer spread
    python benchmarks/bench_model.py --profile train              # where the time goes, by operator
    python benchmarks/bench_model.py --preset mini --seq 32 --processes 2 --rounds 2   # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import LogitsProcessor, LogitsProcessorList, OpenAIGPTLMHeadModel

from gpt1.convert import openai_gpt_config
from gpt1.io import atomic_write_json
from modeling_gpt1 import GPT1Config, GPT1ForCausalLM


def build_models(preset: str, device: str, dtype: torch.dtype) -> dict[str, torch.nn.Module]:
    """The reference with random weights, and ours (SDPA and eager attention) holding exactly those weights."""
    config = GPT1Config.from_preset(preset)
    if config.n_inner not in (None, 4 * config.n_embd):
        raise SystemExit(f"error: preset {preset!r} has n_inner={config.n_inner}; the reference's MLP is 4 x n_embd")
    torch.manual_seed(0)
    models: dict[str, torch.nn.Module] = {"reference": OpenAIGPTLMHeadModel(openai_gpt_config(config))}
    for attn in ("sdpa", "eager"):
        ours = GPT1ForCausalLM(GPT1Config.from_preset(preset, attn_implementation=attn))
        ours.load_state_dict(models["reference"].state_dict())
        models[f"gpt1-{attn}"] = ours
    return {name: model.to(device, dtype) for name, model in models.items()}


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def train_step_fn(model: torch.nn.Module, ids: torch.Tensor) -> Callable[[], None]:
    """One training step: forward with labels, backward, AdamW (torch's default implementation, which is what
    `gpt1.pretraining` builds on the CPU)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()

    def step() -> None:
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


# Both clocks are read for every timing. Wall time is what a user waits; the process's CPU time leaves out the
# time the scheduler gave the cores to other processes, which on a loaded machine is most of the scatter in wall
# time (with one thread there is no OpenMP spin-waiting to inflate it). Ratios are given on each clock.
CLOCKS = ("cpu", "wall")
WORKLOADS = ("train", "decode", "generate")
Timing = dict[str, float]


def now() -> Timing:
    return {"cpu": time.process_time(), "wall": time.perf_counter()}


def elapsed(start: Timing) -> Timing:
    end = now()
    return {clock: end[clock] - start[clock] for clock in CLOCKS}


def rounds(fns: dict[str, Callable[[], Timing]], n: int) -> dict[str, dict[str, list[float]]]:
    """Seconds (per clock) of each contender in `n` rounds after one uncounted warm-up round; the order reverses
    every other round (A B, B A, ...) so that a drift in the machine's speed lands on both sides of each ratio."""
    names = list(fns)
    for name in names:
        fns[name]()
    times = {name: {clock: [] for clock in CLOCKS} for name in names}
    for i in range(n):
        for name in names if i % 2 == 0 else reversed(names):
            timing = fns[name]()
            for clock in CLOCKS:
                times[name][clock].append(timing[clock])
    return times


def compare(num: dict[str, list[float]], den: dict[str, list[float]]) -> dict[str, dict]:
    """`ratio_summary` on each clock."""
    return {clock: ratio_summary(num[clock], den[clock]) for clock in CLOCKS}


def medians(times: dict[str, list[float]], scale: float = 1.0) -> dict[str, float]:
    return {clock: scale * statistics.median(values) for clock, values in times.items()}


def ratio_summary(num: list[float], den: list[float]) -> dict[str, float | str]:
    """Per-round ratios `num / den`: their median and spread (lowest, highest round), the middle half of the
    rounds (quartiles, which unlike the spread do not widen as rounds are added), the ratio of the two fastest
    times beside them, and whether the spread excludes 1.0."""
    per_round = sorted(a / b for a, b in zip(num, den, strict=True))
    low, high = per_round[0], per_round[-1]
    verdict = "no measurable difference" if low <= 1.0 <= high else ("above 1" if low > 1.0 else "below 1")
    return {
        "median": statistics.median(per_round),
        "low": low,
        "high": high,
        "quartiles": statistics.quantiles(per_round, n=4)[::2] if len(per_round) > 1 else [low, high],
        "ratio_of_minima": min(num) / min(den),
        "rounds": len(per_round),
        "verdict": verdict,
    }


def timed(fn: Callable[[], object], device: str) -> Callable[[], Timing]:
    def run() -> Timing:
        sync(device)
        start = now()
        fn()
        sync(device)
        return elapsed(start)

    return run


def bench_train(models: dict[str, torch.nn.Module], args: argparse.Namespace) -> dict:
    """Training-step speed-up of ours over the reference, per round (reference time / ours)."""
    ids = torch.randint(0, models["reference"].config.vocab_size, (args.batch, args.seq), device=args.device)
    names = ["reference", "gpt1-sdpa"] + (["gpt1-eager"] if args.eager else [])
    fns = {name: timed(train_step_fn(models[name], ids), args.device) for name in names}
    load_before = os.getloadavg()
    times = rounds(fns, args.rounds)
    return {"tokens_per_step": ids.numel(), "load_before_after": [[load_before, os.getloadavg()]], "rounds": times}


class StepClock(LogitsProcessor):
    """Records the time at every decoding step: `generate()` calls its logits processors once per new token, after
    that step's forward, so consecutive stamps bracket one whole step (forward, cache, selection, bookkeeping)."""

    def __init__(self) -> None:
        self.stamps: list[Timing] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        self.stamps.append(now())
        return scores

    def median_step(self) -> Timing:
        steps = list(zip(self.stamps, self.stamps[1:]))
        return {clock: statistics.median(b[clock] - a[clock] for a, b in steps) for clock in CLOCKS}


def memory_floor_fn(model: torch.nn.Module, repeats: int = 3) -> Callable[[], Timing]:
    """The time to read the model's weight bytes once: the best of `repeats` sums over one buffer of that size."""
    buffer = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def floor() -> Timing:
        best = {clock: float("inf") for clock in CLOCKS}
        for _ in range(repeats):
            start = now()
            buffer.sum()
            best = {clock: min(best[clock], t) for clock, t in elapsed(start).items()}
        return best

    return floor


def greedy(model: torch.nn.Module, prompt: torch.Tensor, new_tokens: int, **kwargs) -> None:
    """Exactly `new_tokens` greedy tokens after `prompt`, without gradients."""
    with torch.no_grad():
        model.generate(
            prompt, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, pad_token_id=0, **kwargs
        )


def decode_step_fn(model: torch.nn.Module, prompt: torch.Tensor, new_tokens: int) -> Callable[[], Timing]:
    """Median seconds per decoding step (the prompt's forward excluded) over one greedy `generate()` call."""
    model.eval()

    def run() -> Timing:
        clock = StepClock()
        greedy(model, prompt, new_tokens, logits_processor=LogitsProcessorList([clock]))
        return clock.median_step()

    return run


def bench_decode(models: dict[str, torch.nn.Module], args: argparse.Namespace) -> dict:
    """Our batch-1 greedy decoding step against the memory floor, per round (step time / floor)."""
    ours = models["gpt1-sdpa"]
    prompt = torch.randint(0, ours.config.vocab_size, (1, args.prompt), device=args.device)
    fns = {"floor": memory_floor_fn(ours), "gpt1-step": decode_step_fn(ours, prompt, args.decode_tokens)}
    load_before = os.getloadavg()
    times = rounds(fns, args.decode_rounds)
    return {
        "prompt_tokens": args.prompt,
        "new_tokens_per_round": args.decode_tokens,
        "weight_bytes": sum(p.numel() * p.element_size() for p in ours.parameters()),
        "load_before_after": [[load_before, os.getloadavg()]],
        "rounds": times,
    }


def generate_fn(model: torch.nn.Module, prompt: torch.Tensor, new_tokens: int, use_cache: bool) -> Callable[[], None]:
    model.eval()

    def run() -> None:
        greedy(model, prompt, new_tokens, use_cache=use_cache)

    return run


def bench_generate(models: dict[str, torch.nn.Module], args: argparse.Namespace) -> dict:
    """Whole `generate()` calls: ours with the KV cache against the reference, which re-reads the prefix."""
    prompt = torch.randint(0, models["reference"].config.vocab_size, (1, args.prompt), device=args.device)
    fns = {
        "reference": timed(generate_fn(models["reference"], prompt, args.gen_tokens, False), args.device),
        "gpt1-sdpa-cache": timed(generate_fn(models["gpt1-sdpa"], prompt, args.gen_tokens, True), args.device),
    }
    load_before = os.getloadavg()
    times = rounds(fns, args.gen_rounds)
    return {"new_tokens": args.gen_tokens, "load_before_after": [[load_before, os.getloadavg()]], "rounds": times}


def summarize(workload: str, result: dict) -> dict:
    """The figures of one workload from its rounds (one process's, or pooled over several), in seconds per round
    of each contender: `result["rounds"][name][clock]`."""
    times = result["rounds"]
    if workload == "decode":
        return {
            "floor_ms_median": medians(times["floor"], 1e3),
            "floor_gb_per_s_best": result["weight_bytes"] / min(times["floor"]["wall"]) / 1e9,
            "step_ms_median": medians(times["gpt1-step"], 1e3),
            "step_over_floor": compare(times["gpt1-step"], times["floor"]),
        }
    reference, *others = times  # train and generate time the reference first
    return {
        "seconds_median": {name: medians(t) for name, t in times.items()},
        "speedup_vs_reference": {name: compare(times[reference], times[name]) for name in others},
    }


def run_processes(args: argparse.Namespace) -> dict:
    """Run the whole measurement in `args.processes` fresh processes, one after another, and pool their rounds.

    Rounds inside one process cannot cancel what stays fixed for the process's life (where its tensors landed in
    memory, perhaps): single-process runs of the same training step gave medians of 1.05x and 1.11x, each with a
    spread narrower than the gap. Pooling rounds from several processes puts that in the spread."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.processes):
            out = Path(tmp) / f"{i}.json"
            # The last occurrence of an option wins, so the child reruns this command line as one process.
            child = [sys.executable, __file__, *sys.argv[1:], "--processes", "1", "--json", str(out)]
            subprocess.run(child, check=True, stdout=subprocess.DEVNULL)
            results.append(json.loads(out.read_text()))
    pooled: dict = {"setup": {**results[0]["setup"], "processes": args.processes}}
    for workload in WORKLOADS:
        if workload in results[0]:
            first = results[0][workload]
            pooled[workload] = {
                **first,
                "load_before_after": [pair for r in results for pair in r[workload]["load_before_after"]],
                "rounds": {
                    name: {clock: [t for r in results for t in r[workload]["rounds"][name][clock]] for clock in CLOCKS}
                    for name in first["rounds"]
                },
            }
    return pooled


def profile(models: dict[str, torch.nn.Module], args: argparse.Namespace) -> None:
    """Print where one training step (each model) or one decoding step (ours) spends its time, by operator."""
    from torch.profiler import profile as torch_profile

    if args.profile == "train":
        ids = torch.randint(0, models["reference"].config.vocab_size, (args.batch, args.seq), device=args.device)
        work = {name: train_step_fn(model, ids) for name, model in models.items()}
    else:
        prompt = torch.randint(0, models["reference"].config.vocab_size, (1, args.prompt), device=args.device)
        ours = decode_step_fn(models["gpt1-sdpa"], prompt, args.decode_tokens)
        work = {f"gpt1-sdpa, {args.decode_tokens} decoding steps": ours}
    for name, fn in work.items():
        fn()  # warm-up, outside the profile
        with torch_profile() as prof:
            fn()
        print(f"\n## {name}\n")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.profile_rows))


def measure(args: argparse.Namespace) -> dict:
    """Every workload asked for, in this process: the setup and each workload's rounds."""
    models = build_models(args.preset, args.device, getattr(torch, args.dtype))
    torch.manual_seed(0)
    figures: dict = {
        "setup": {
            "preset": args.preset,
            "parameters": models["gpt1-sdpa"].num_parameters(),
            "device": args.device,
            "dtype": args.dtype,
            "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "torch": torch.__version__,
        }
    }
    if "train" not in args.skip:
        figures["train"] = bench_train(models, args)
    if "decode" not in args.skip:
        figures["decode"] = bench_decode(models, args)
    if args.generate:
        figures["generate"] = bench_generate(models, args)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="gpt1")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads, pinned for the whole run")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--processes", type=int, default=3, help="fresh processes, run one after another, pooled")
    parser.add_argument("--rounds", type=int, default=3, help="counted training-step rounds per process")
    parser.add_argument("--eager", action="store_true", help="also time our eager attention in the training rounds")
    parser.add_argument("--prompt", type=int, default=16)
    parser.add_argument("--decode-tokens", type=int, default=32, help="new tokens per decoding round")
    parser.add_argument("--decode-rounds", type=int, default=5, help="counted decoding rounds per process")
    parser.add_argument("--generate", action="store_true", help="also time whole generate() against the reference")
    parser.add_argument("--gen-tokens", type=int, default=64)
    parser.add_argument("--gen-rounds", type=int, default=3)
    parser.add_argument("--skip", choices=["train", "decode"], action="append", default=[], help="leave one out")
    parser.add_argument("--profile", choices=["train", "decode"], help="print an operator profile instead of timing")
    parser.add_argument("--profile-rows", type=int, default=25)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.profile:
        profile(build_models(args.preset, args.device, getattr(torch, args.dtype)), args)
        return

    figures = run_processes(args) if args.processes > 1 else measure(args)
    for workload in WORKLOADS:
        if workload in figures:
            figures[workload] |= summarize(workload, figures[workload])
    shown = {k: {f: v for f, v in w.items() if f != "rounds"} if k in WORKLOADS else w for k, w in figures.items()}
    print(json.dumps(shown, indent=2))
    if args.json:
        atomic_write_json(args.json, figures)


if __name__ == "__main__":
    main()
