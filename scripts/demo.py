"""The paper's two stages in minutes on a CPU, on data bundled with the project (the README's first command).

1. Generative pretraining of a small GPT-1 on the bundled public-domain books (`gpt1/demo_data/books`), with a sample.
2. Fine-tuning with the paper's recipe (`_start_ text _classify_`, linear head on `_classify_`, L_task + 0.5 L_lm;
   the lr scaled to the small model) on the bundled sentiment sample (`gpt1/demo_data/classification`), and the same from random init for comparison.
3. The results table (ours beside the paper's figure for the closest task).

Every stage is the library call behind its script (`scripts/pretrain.py`, `scripts/finetune.py`), so the options
shown by `--help` there are the knobs for real runs. `--smoke_test` runs the same stages in seconds, tiny.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from gpt1.data import CorpusArguments
from gpt1.finetune_args import FinetuneArguments, PaperTrainingArguments
from gpt1.finetuning import finetune
from gpt1.pretraining import pretrain
from gpt1.pretraining_args import DEMO_CORPUS, PretrainArguments
from gpt1.results import write_results

# `--smoke_test`: the same three stages in seconds, to check an install or the pipeline (its figures mean nothing): a
# tiny model pretrained for a few updates on one bundled book, fine-tuned on slices of the sample.
SMOKE_CORPUS = CorpusArguments(dataset=str(DEMO_CORPUS / "carroll_through_the_looking_glass.txt"))
SMOKE_PRETRAIN: dict[str, Any] = dict(
    model_preset="tiny",
    vocab_size=300,
    block_size=32,
    total_batch_size=8,
    per_device_train_batch_size=8,
    warmup_steps=1,
    max_steps=4,
    eval_steps=4,
    save_steps=4,
    max_eval_batches=2,
    sample_tokens=8,
)
SMOKE_FINETUNE: dict[str, Any] = dict(max_train_samples=32, max_eval_samples=32, max_length=32)
SMOKE_TRAINER: dict[str, Any] = dict(num_train_epochs=1, per_device_train_batch_size=8, per_device_eval_batch_size=32)


def pretrain_arguments(out: Path, smoke_test: bool = False) -> tuple[PretrainArguments, CorpusArguments]:
    """Stage 1: the `demo` recipe of `scripts/pretrain.py` into `out/pretrain` (replacing an earlier demo's), on the
    recipe's corpus (or, for the smoke test, one book)."""
    smoke = SMOKE_PRETRAIN if smoke_test else {}
    args = PretrainArguments(output_dir=str(out / "pretrain"), overwrite_output_dir=True, **smoke)
    return args, SMOKE_CORPUS if smoke_test else CorpusArguments()


def finetune_arguments(
    out: Path, model_dir: Path, skip_baseline: bool = False, smoke_test: bool = False
) -> list[tuple[FinetuneArguments, PaperTrainingArguments]]:
    """Stage 2: fine-tune the pretrained `model_dir` on the demo task, and the same from random init (the baseline)."""
    # The pretrained vocabulary has no _start_/_delimiter_/_classify_ yet: add them (new rows ~ N(0, 0.02)).
    # Evaluation and checkpoints only at the end keep the demo to minutes. The paper's lr (6.25e-5) is a quarter of
    # its pretraining lr; the same ratio for this model (pretrained at 2e-3) is 5e-4: at 6.25e-5 neither arm leaves
    # chance in 150 updates (benchmarks/finetuning.md).
    common = dict(task="demo", model_name_or_path=str(model_dir), add_special_tokens=True)
    trainer_common = dict(learning_rate=5e-4, eval_strategy="no", save_strategy="no")
    if smoke_test:
        common |= SMOKE_FINETUNE
        trainer_common |= SMOKE_TRAINER
    settings = [("finetune-pretrained", "GPT-1 demo (pretrained)", False)]
    if not skip_baseline:
        settings.append(("finetune-scratch", "same model, no pretraining", True))
    return [
        (
            FinetuneArguments(**common, from_scratch=scratch),
            PaperTrainingArguments(**trainer_common, output_dir=str(out / name), run_name=run_name),
        )
        for name, run_name, scratch in settings
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", default="runs/demo", help="Where the models, logs and results go.")
    parser.add_argument("--skip_baseline", action="store_true", help="Do not fine-tune from random init too.")
    parser.add_argument(
        "--smoke_test",
        action="store_true",
        help="Seconds instead of minutes: a tiny model, a few updates, slices of the data (checks the pipeline; "
        "the figures mean nothing).",
    )
    args = parser.parse_args(argv)
    out = Path(args.output_dir)
    start = time.time()

    print("== 1/3 generative pretraining on the bundled books ==", flush=True)
    model_dir = pretrain(*pretrain_arguments(out, args.smoke_test))

    print("\n== 2/3 fine-tuning on the bundled sentiment sample ==", flush=True)
    runs = [finetune(*run) for run in finetune_arguments(out, model_dir, args.skip_baseline, args.smoke_test)]

    print("\n== 3/3 results ==", flush=True)
    _, table = write_results(out, runs, title=f"Bundled demo ({time.time() - start:.0f} s on this machine)")
    print(table.read_text())
    print(f"models: {model_dir} and {out}/finetune-*/model; results: {table} (+ .json)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
