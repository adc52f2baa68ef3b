"""Training throughput: FLOPs per token, the devices' peak FLOP/s, and model FLOPs utilisation (MFU).

    flops = flops_per_token(model, block_size)          # 6N + attention (PaLM, appendix B)
    peak = peak_flops(device)                            # data sheet, else a measured matmul; None off-GPU
    meter = Throughput(tokens_per_step, flops, peak, n_devices)
    meter.count(); ...; meter.read()                     # tokens/s since the last read, seconds since the start

`scripts/pretrain.py` logs these figures; the benchmarks (`benchmarks/bench_pretrain.py`, `benchmarks/gpu_bench.py`)
compute theirs with the same functions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

# Dense bf16 tensor-core peak per device (vendor data sheets, without sparsity). Names are matched in order, so the
# more specific ones come first. Devices not listed get a measured matmul peak instead.
PEAK_BF16_FLOPS: list[tuple[str, float]] = [
    ("H200", 989e12),
    ("H100 NVL", 835e12),
    ("H100 PCIe", 756e12),
    ("H100", 989e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("L4", 121e12),
    ("A10", 125e12),
    ("RTX 4090", 165e12),
    ("RTX 3090", 71e12),
]


def flops_per_token(model: torch.nn.Module, block_size: int) -> float:
    """Training FLOPs per token: 6N for the matmuls forward and backward, plus attention's 12 * L * d * T (PaLM,
    appendix B). N counts the token embedding once (it is the LM head's matmul) and not the position lookup."""
    config = model.config
    n = sum(p.numel() for p in model.parameters()) - config.n_positions * config.n_embd
    return 6 * n + 12 * config.n_layer * config.n_embd * block_size


def measure_matmul_flops(device: torch.device, dtype: torch.dtype = torch.bfloat16, size: int = 8192) -> float:
    """Achieved FLOP/s of a large square matmul on `device`: a peak for devices the table lacks."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize(device)
    start, iters = time.perf_counter(), 20
    for _ in range(iters):
        a @ b
    torch.cuda.synchronize(device)
    return 2 * size**3 * iters / (time.perf_counter() - start)


def table_peak_flops(device_name: str) -> float | None:
    """The data-sheet dense bf16 peak of a GPU by its name (`torch.cuda.get_device_name`), if the table has it."""
    return next((flops for key, flops in PEAK_BF16_FLOPS if key in device_name), None)


def peak_flops(device: torch.device, override_tflops: float | None = None) -> float | None:
    """bf16 peak FLOP/s of one device: the override, the data-sheet table, or a measured matmul; None off-GPU."""
    if override_tflops:
        return override_tflops * 1e12
    if device.type != "cuda":
        return None
    return table_peak_flops(torch.cuda.get_device_name(device)) or measure_matmul_flops(device)


def mfu(flops_per_token: float, tokens_per_s: float, peak: float, n_devices: int = 1) -> float:
    """Model FLOPs utilisation: the FLOP/s the tokens took over the peak of all `n_devices` devices."""
    return flops_per_token * tokens_per_s / (peak * n_devices)


@dataclass
class Throughput:
    """Tokens per second (and MFU, given a peak) over the updates counted since the last `read`, and the time since
    the meter was made. Created when training starts."""

    tokens_per_step: int  # tokens of one update, over all devices
    flops_per_token: float
    peak: float | None  # one device's peak FLOP/s; None: no MFU
    n_devices: int = 1
    start: float = field(default_factory=lambda: time.perf_counter())
    steps: int = 0  # updates since the last read
    window_start: float | None = None  # the last read (or `start`)

    def count(self) -> None:
        """One more update done."""
        self.steps += 1

    def elapsed(self) -> float:
        """Seconds since the meter was made."""
        return time.perf_counter() - self.start

    def read(self) -> tuple[float, float]:
        """(tokens per second over the updates since the last read, seconds since the meter was made)."""
        now = time.perf_counter()
        return self.steps * self.tokens_per_step / (now - (self.window_start or self.start)), now - self.start

    def mfu(self, tokens_per_s: float) -> float | None:
        """The MFU of `tokens_per_s` over all devices, or None when the peak is unknown (off-GPU)."""
        return mfu(self.flops_per_token, tokens_per_s, self.peak, self.n_devices) if self.peak else None

    def restart(self) -> None:
        """Begin the next window now (after the record of the last one is written)."""
        self.steps, self.window_start = 0, time.perf_counter()


__all__ = [
    "PEAK_BF16_FLOPS",
    "Throughput",
    "flops_per_token",
    "measure_matmul_flops",
    "mfu",
    "peak_flops",
    "table_peak_flops",
]
