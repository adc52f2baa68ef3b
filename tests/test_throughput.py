"""Throughput figures (gpt1.throughput): FLOPs per token against the paper's parameter count, the data-sheet peaks by
device name, and the tokens/s and MFU of a window of updates against a hand computation on a fixed clock."""

from __future__ import annotations

import pytest

from gpt1 import throughput
from gpt1.throughput import Throughput, flops_per_token, mfu, table_peak_flops
from modeling_gpt1 import GPT1Config, GPT1ForCausalLM


def test_flops_and_peaks() -> None:
    config = GPT1Config.from_preset("gpt1")
    model = GPT1ForCausalLM(config)
    n = 116_534_784 - 512 * 768  # the paper's parameter count, less the position lookup
    assert flops_per_token(model, 512) == 6 * n + 12 * 12 * 768 * 512
    assert table_peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert table_peak_flops("NVIDIA H100 PCIe") == 756e12
    assert table_peak_flops("NVIDIA A100-SXM4-80GB") == 312e12
    assert table_peak_flops("NVIDIA A10") == 125e12
    assert table_peak_flops("Tesla V100-SXM2-16GB") is None  # no bf16 tensor cores: measured instead


def test_a_window_of_updates_gives_its_tokens_per_second_and_mfu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Guards the window arithmetic the log records: tokens/s counts only the updates since the last read over the
    time since then, elapsed time runs from the start, and MFU divides by the peak of every device."""
    clock = iter([100.0, 104.0, 110.0, 116.0])  # made, first read, restart, second read
    monkeypatch.setattr(throughput.time, "perf_counter", lambda: next(clock))
    meter = Throughput(tokens_per_step=1024, flops_per_token=6e6, peak=1e12, n_devices=2)
    for _ in range(3):
        meter.count()
    assert meter.read() == (3 * 1024 / 4.0, 4.0)
    assert meter.mfu(768.0) == 6e6 * 768.0 / (1e12 * 2) == mfu(6e6, 768.0, 1e12, 2)
    meter.restart()  # at 110
    meter.count()
    assert meter.read() == (1024 / 6.0, 16.0)
    assert Throughput(1024, 6e6, peak=None, start=0.0).mfu(768.0) is None  # off-GPU: no peak, no MFU
