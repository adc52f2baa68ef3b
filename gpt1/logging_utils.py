"""Training logs: a JSON-lines tracker for `accelerate`, and the loss-curve plot drawn from it.

`JsonlTracker` plugs into `Accelerator(log_with=[...])` beside TensorBoard or W&B, so one `accelerator.log(...)` call
feeds every sink. The log is the run's record: `plot_loss_curve` draws from it, and a resumed run first truncates it
to the checkpoint it resumes from, so the file never holds two versions of a step.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from accelerate.tracking import GeneralTracker

from .io import atomic_write_json, atomic_write_text


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file; a torn last line (a run killed mid-write) is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


class JsonlTracker(GeneralTracker):
    """An `accelerate` tracker appending one JSON object per `log` call to `<folder>/log.jsonl`.

    The run configuration goes to `<folder>/run_config.json`. Records are appended and flushed line by line (a log
    is a stream; rewriting it per step would be quadratic), and `truncate_after` rewrites it atomically on resume.
    """

    name = "jsonl"
    requires_logging_directory = False
    main_process_only = True

    def __init__(self, folder: str | Path):
        super().__init__()
        self.folder = Path(folder)
        self.path = self.folder / "log.jsonl"

    @property
    def tracker(self) -> Path:
        return self.path

    def store_init_configuration(self, values: dict[str, Any]) -> None:
        atomic_write_json(self.folder / "run_config.json", values)

    def log(self, values: dict[str, Any], step: int | None = None, **kwargs: Any) -> None:
        record = {"step": step, **{k: _plain(v) for k, v in values.items()}}
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()

    def reset(self) -> None:
        """Empty the log (a fresh run in a folder that held an earlier one)."""
        atomic_write_text(self.path, "")

    def truncate_after(self, step: int) -> None:
        """Drop records logged after `step` (the steps a resumed run is about to redo)."""
        kept = [r for r in read_jsonl(self.path) if r.get("step") is None or r["step"] <= step]
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))


def _plain(value: Any) -> Any:
    """Tensors and numpy scalars as Python numbers; NaN/inf as strings so the file stays valid JSON."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def plot_loss_curve(records: list[dict[str, Any]], path: str | Path) -> Path | None:
    """Training loss and validation loss against tokens seen, as a PNG; None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed; also safe in worker processes
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    train = [(r["tokens"], r["loss"]) for r in records if "loss" in r and "tokens" in r]
    val = [(r["tokens"], r["val_loss"]) for r in records if "val_loss" in r and "tokens" in r]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    if train:
        ax.plot(*zip(*train), label="train loss", linewidth=1)
    if val:
        ax.plot(*zip(*val), "o-", label="validation loss", linewidth=1.5, markersize=3)
    ax.set_xlabel("tokens seen")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title("GPT-1 pretraining")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)  # `path` lies in a folder being written through gpt1.io.atomic_directory
    plt.close(fig)
    return path


__all__ = ["JsonlTracker", "plot_loss_curve", "read_jsonl"]
