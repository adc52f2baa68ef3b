"""Pretraining (gpt1.pretraining): the paper's recipe, an end-to-end run, exact resume after SIGKILL, two-process
parity through `accelerate launch`, and the errors bad input gets. Tiny model on a slice of a bundled book."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from filelock import FileLock
from safetensors.torch import load_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast

from gpt1.checkpointing import RUN_LOCK, CheckpointError
from gpt1.data import CorpusArguments
from gpt1.logging_utils import read_jsonl
from gpt1.prepared import main as prepare_main
from gpt1.pretraining import TRACKER_PROJECT, main, pretrain
from gpt1.pretraining_args import PretrainArguments, PretrainError, check_arguments, resolve_arguments
from gpt1.training import latest_checkpoint, param_groups
from modeling_gpt1 import GPT1Config, GPT1ForCausalLM

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "gpt1" / "demo_data" / "books" / "carroll_through_the_looking_glass.txt"


@pytest.fixture(scope="module")
def corpus_and_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_corpus_and_tokenizer(tmp_path_factory.mktemp("pretrain-data"))


def write_corpus_and_tokenizer(folder: Path) -> tuple[Path, Path]:
    """A 40 kB slice of a bundled book and a 99-token byte-level BPE learnt on it (the tiny preset's vocab size).

    The vocabulary is learnt once and shared by the runs compared: `tokenizers`' BPE trainer numbers end-of-word
    symbols in hash-map order, which changes from process to process.
    """
    text = BOOK.read_text()[:40_000]
    (folder / "corpus.txt").write_text(text)
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator([text], trainers.BpeTrainer(vocab_size=99, special_tokens=["<unk>"]))
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<unk>").save_pretrained(folder / "tok")
    return folder / "corpus.txt", folder / "tok"


CORPUS_FIELDS = {f.name for f in dataclasses.fields(CorpusArguments)}


@dataclasses.dataclass(frozen=True)
class Options:
    """What `main` parses: the pretraining options and the corpus options. `pretrain(*options)` runs them; reading an
    option reads it from whichever of the two holds it, as on the command line."""

    args: PretrainArguments
    corpus: CorpusArguments

    @classmethod
    def of(cls, **values: Any) -> Options:
        corpus = {k: v for k, v in values.items() if k in CORPUS_FIELDS}
        return cls(PretrainArguments(**{k: v for k, v in values.items() if k not in corpus}), CorpusArguments(**corpus))

    def __iter__(self):
        return iter((self.args, self.corpus))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.corpus if name in CORPUS_FIELDS else self.args, name)

    def values(self) -> dict[str, Any]:
        return {f.name: getattr(part, f.name) for part in self for f in dataclasses.fields(part)}

    def replace(self, **changes: Any) -> Options:
        return Options.of(**{**self.values(), **changes})

    def resolved(self) -> Options:
        """The options as a one-process run takes them: filled (`resolve_arguments`), then checked."""
        args, corpus = resolve_arguments(self.args, self.corpus)
        check_arguments(args, corpus, num_processes=1)
        return Options(args, corpus)


def tiny(corpus_and_tokenizer: tuple[Path, Path], output_dir: Path, **overrides) -> Options:
    corpus, tokenizer = corpus_and_tokenizer
    options = dict(
        dataset=str(corpus),
        tokenizer_name=str(tokenizer),
        vocab_size=0,
        model_preset="tiny",
        block_size=32,
        per_device_train_batch_size=4,
        total_batch_size=8,
        learning_rate=3e-3,
        warmup_steps=3,
        max_steps=16,
        eval_steps=8,
        save_steps=4,
        logging_steps=1,
        max_eval_batches=4,
        sample_tokens=0,
        seed=0,
        output_dir=str(output_dir),
    )
    return Options.of(**{**options, **overrides})


def argv(options: Options) -> list[str]:
    """The command line that gives `options`."""
    out = []
    for part in options:
        for f in dataclasses.fields(part):
            value = getattr(part, f.name)
            if value is not None and value != f.default:
                out += [f"--{f.name}", str(value).lower() if isinstance(value, bool) else str(value)]
    return out


def losses(run_dir: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in read_jsonl(run_dir / "log.jsonl") if "loss" in r}


def subprocess_env() -> dict[str, str]:
    # `scripts/` is sys.path[0] of the child; the checkout must be importable whether or not it is pip-installed.
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}


# --- the recipe -----------------------------------------------------------------------------------------------------


def test_paper_recipe_is_the_papers() -> None:
    args = Options.of(recipe="paper", dataset="corpus/").resolved()
    assert (args.model_preset, args.block_size, args.total_batch_size) == ("gpt1", 512, 64)
    assert (args.learning_rate, args.warmup_steps, args.num_train_epochs) == (2.5e-4, 2000, 100.0)
    assert (args.adam_beta1, args.adam_beta2, args.weight_decay, args.dropout) == (0.9, 0.999, 0.01, 0.1)
    assert args.vocab_size is None  # the original 40,478-token BPE
    with pytest.raises(PretrainError, match="paper recipe needs a corpus: pass --dataset"):
        Options.of(recipe="paper").resolved()
    # Options given explicitly win over the recipe.
    assert Options.of(recipe="paper", dataset="x", learning_rate=1e-3).resolved().learning_rate == 1e-3
    demo = Options.of().resolved()
    assert demo.recipe == "demo" and Path(demo.dataset).is_dir() and demo.model_preset == "mini"


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("max_steps", -3, "--max_steps must be a positive integer, got -3"),
        ("max_steps", 0, "--max_steps must be a positive integer, got 0"),
        ("learning_rate", 0.0, "--learning_rate must be positive, got 0.0"),
        ("learning_rate", -1e-4, "--learning_rate must be positive, got -0.0001"),
        ("num_train_epochs", 0.0, "--num_train_epochs must be positive"),
        ("time_budget_minutes", -1.0, "--time_budget_minutes must be positive"),
        ("per_device_train_batch_size", 0, "--per_device_train_batch_size must be a positive integer, got 0"),
        ("block_size", 0, "--block_size must be a positive integer, got 0"),
    ],
)
def test_options_that_would_train_nothing_or_backwards_are_refused(option, value, message) -> None:
    """Each of these used to run and exit 0 (an untrained model saved, lr 0, or a TypeError for max_steps 0)."""
    with pytest.raises(PretrainError, match=message):
        Options.of(**{option: value}).resolved()


def test_a_time_budget_of_zero_means_no_budget() -> None:
    assert Options.of(time_budget_minutes=0).resolved().time_budget_minutes is None
    assert Options.of().resolved().time_budget_minutes == 4.0  # the demo recipe's


def test_resolving_fills_copies_and_leaves_the_given_options_alone() -> None:
    """`resolve_arguments` is pure: the recipe fills copies, the options given stay as they were."""
    args, corpus = PretrainArguments(time_budget_minutes=0, learning_rate=1e-3), CorpusArguments()
    filled, filled_corpus = resolve_arguments(args, corpus)
    assert (filled.time_budget_minutes, filled.learning_rate, filled.max_steps) == (None, 1e-3, 600)
    assert filled_corpus.dataset == str(REPO / "gpt1" / "demo_data" / "books")
    assert args == PretrainArguments(time_budget_minutes=0, learning_rate=1e-3) and corpus == CorpusArguments()


def test_every_problem_is_reported_at_once(capsys) -> None:
    """Three mistakes make one error naming all three (one `error:` line from the command), not three runs."""
    with pytest.raises(PretrainError) as refused:
        Options.of(max_steps=0, learning_rate=0.0, block_size=256).resolved()
    assert str(refused.value) == (
        "3 problems: (1) --max_steps must be a positive integer, got 0 (2) --learning_rate must be positive, got 0.0 "
        "(3) --block_size 256 exceeds the model's n_positions 128"
    )
    assert main(["--max_steps", "0", "--learning_rate", "0", "--num_proc", "0"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert errors == ["error: 3 problems: (1) --preprocessing_num_workers (--num_proc) must be a positive integer, "
                      "got 0 (2) --max_steps must be a positive integer, got 0 (3) --learning_rate must be positive, "
                      "got 0.0"]  # fmt: skip


def test_weight_decay_on_matrices_only() -> None:
    model = GPT1ForCausalLM(GPT1Config.from_preset("tiny"))
    decay, no_decay = param_groups(model, 0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in decay["params"]}
    assert {"transformer.tokens_embed.weight", "transformer.positions_embed.weight"} <= decayed
    assert "transformer.h.0.attn.c_attn.weight" in decayed and "transformer.h.1.mlp.c_proj.weight" in decayed
    assert all(n.endswith(".bias") or ".ln_" in n for n in (names[id(p)] for p in no_decay["params"]))
    assert (decay["weight_decay"], no_decay["weight_decay"]) == (0.01, 0.0)
    # Every parameter exactly once (the LM head is tied to the token embeddings).
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


# --- an end-to-end run --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished_run(corpus_and_tokenizer, tmp_path_factory) -> tuple[Options, Path]:
    """A tiny run that also learns its own 300-token vocabulary (the `--vocab_size` path)."""
    torch.set_num_threads(1)  # module-scoped: runs outside the function-scoped fixture above
    args = tiny(corpus_and_tokenizer, tmp_path_factory.mktemp("run"), vocab_size=300, max_steps=24, sample_tokens=8)
    return args, pretrain(*args)


def test_run_learns_saves_and_loads(finished_run) -> None:
    args, model_dir = finished_run
    out = Path(args.output_dir)
    assert model_dir == out / "model"
    records = read_jsonl(out / "log.jsonl")
    val = [r["val_loss"] for r in records if "val_loss" in r]
    assert val[0] > 5.0 and val[-1] < val[0] - 0.5  # from ~ln(300) down
    train = [r for r in records if "loss" in r]
    assert [r["step"] for r in train] == list(range(1, 25))
    assert all(r["tokens_per_s"] > 0 and "mfu" not in r for r in train)  # MFU is a GPU figure
    # The logged lr is transformers' linear warmup + cosine to 0 (the step's lr, before the scheduler steps).
    for r in train:
        s = r["step"] - 1
        expected = s / 3 if s < 3 else 0.5 * (1 + math.cos(math.pi * (s - 3) / (24 - 3)))
        assert r["lr"] == pytest.approx(3e-3 * expected)
    # Checkpoints: the newest two, complete.
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-20", "checkpoint-24"]
    assert (model_dir / "loss_curve.png").stat().st_size > 1000
    assert (model_dir / "model.safetensors").exists()

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert isinstance(model, GPT1ForCausalLM) and model.config.vocab_size == len(tokenizer) == 300
    ids = tokenizer("Alice said", return_tensors="pt").input_ids
    generated = model.generate(ids, max_new_tokens=5, do_sample=False, pad_token_id=0)
    assert generated.shape == (1, ids.size(1) + 5)


def test_resume_from_another_config_is_refused(finished_run) -> None:
    args, _ = finished_run
    with pytest.raises(CheckpointError, match=r"different configuration \(.*block_size: checkpoint 32 vs now 16"):
        pretrain(*args.replace(block_size=16, resume_from_checkpoint="last"))
    with pytest.raises(CheckpointError, match="already holds checkpoints.*pass --resume_from_checkpoint last"):
        pretrain(*args)


def test_continued_pretraining_keeps_the_checkpoints_vocabulary(finished_run, tmp_path: Path) -> None:
    """`--model_name_or_path` under the demo recipe (whose default learns a new 4,096-token vocabulary) reads the
    checkpoint's own tokenizer: the first validation loss is the finished run's last one on the same blocks."""
    args, model_dir = finished_run
    cont = args.replace(
        output_dir=str(tmp_path / "cont"),
        model_name_or_path=str(model_dir),
        tokenizer_name=None,
        vocab_size=None,
        max_steps=2,
        sample_tokens=0,
    )
    assert (cont.resolved().tokenizer_name, cont.resolved().vocab_size) == (str(model_dir), 0)
    pretrain(*cont)
    last = [r["val_loss"] for r in read_jsonl(Path(args.output_dir) / "log.jsonl") if "val_loss" in r][-1]
    first = next(r for r in read_jsonl(tmp_path / "cont" / "log.jsonl") if "val_loss" in r)
    assert first["step"] == 0 and first["val_loss"] == pytest.approx(last, abs=1e-4)
    assert AutoTokenizer.from_pretrained(tmp_path / "cont" / "model").get_vocab() == (
        AutoTokenizer.from_pretrained(model_dir).get_vocab()
    )
    with pytest.raises(PretrainError, match="would not match the checkpoint's embeddings"):
        cont.replace(vocab_size=300).resolved()


# --- host syncs -----------------------------------------------------------------------------------------------------


def test_the_loop_reads_the_device_only_at_the_log_interval(corpus_and_tokenizer, tmp_path: Path, monkeypatch) -> None:
    # Every read of a float tensor's value to the host (`item`, `float`, `tolist`) while `train` runs is counted:
    # on a GPU each one waits for all queued work. Per log record: the window's losses and the gradient norm.
    # Reads inside torch itself are not ours: CPU AdamW reads its step counters, which live on the host by design.
    import gpt1.pretraining as pretraining

    reads, inside, torch_dir = [], [False], str(Path(torch.__file__).parent)

    def counted(name):
        original = getattr(torch.Tensor, name)

        def read(self, *a, **k):
            caller = sys._getframe(1).f_code.co_filename
            if inside[0] and self.is_floating_point() and not caller.startswith(torch_dir):
                reads.append(name)
            return original(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, read)

    for name in ("item", "__float__", "tolist"):
        counted(name)
    original_train = pretraining.train

    def train(*a, **k):
        inside[0] = True
        try:
            return original_train(*a, **k)
        finally:
            inside[0] = False

    monkeypatch.setattr(pretraining, "train", train)
    pretrain(
        *tiny(corpus_and_tokenizer, tmp_path / "run", max_steps=12, logging_steps=6, eval_steps=100, save_steps=100)
    )
    assert sorted(reads) == ["__float__", "__float__", "tolist", "tolist"]  # 2 records, not 12 loss reads
    assert list(losses(tmp_path / "run")) == [6, 12]


# --- a prepared corpus -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prepared_corpus(corpus_and_tokenizer, tmp_path_factory) -> Path:
    corpus, tokenizer = corpus_and_tokenizer
    folder = tmp_path_factory.mktemp("prepared") / "corpus"
    assert prepare_main(["--dataset", str(corpus), "--tokenizer_name", str(tokenizer), "--block_size", "32",
                         "--output_dir", str(folder)]) == 0  # fmt: skip
    return folder


def test_a_prepared_corpus_trains_as_its_text_and_resumes(corpus_and_tokenizer, prepared_corpus, tmp_path) -> None:
    text = tiny(corpus_and_tokenizer, tmp_path / "text", max_steps=12, eval_steps=6, save_total_limit=3)
    pretrain(*text)
    prepared = text.replace(dataset=str(prepared_corpus), tokenizer_name=None, vocab_size=None,
                                   output_dir=str(tmp_path / "prepared"))  # fmt: skip
    pretrain(*prepared)
    assert losses(tmp_path / "prepared") == losses(tmp_path / "text")  # the same blocks, split and order
    val = [
        [r["val_loss"] for r in read_jsonl(tmp_path / d / "log.jsonl") if "val_loss" in r] for d in ("text", "prepared")
    ]
    assert val[0] == val[1]
    # Resume from step 8 (the last checkpoint gone, as if killed before it): the same run to the end.
    expected = load_file(tmp_path / "prepared" / "model" / "model.safetensors")
    shutil.rmtree(tmp_path / "prepared" / "checkpoint-12")
    pretrain(*prepared.replace(resume_from_checkpoint="last"))
    assert losses(tmp_path / "prepared") == losses(tmp_path / "text")
    resumed = load_file(tmp_path / "prepared" / "model" / "model.safetensors")
    assert all(torch.equal(expected[k], resumed[k]) for k in expected)


def test_a_prepared_corpus_fixes_the_vocabulary_and_block(corpus_and_tokenizer, prepared_corpus, tmp_path) -> None:
    args = tiny(
        corpus_and_tokenizer, tmp_path / "x", dataset=str(prepared_corpus), tokenizer_name=None, vocab_size=None
    )
    assert args.resolved().vocab_size == 0  # the demo recipe's 4,096 would relearn what the ids mean
    with pytest.raises(PretrainError, match="--vocab_size with the prepared corpus"):
        args.replace(vocab_size=300).resolved()
    with pytest.raises(PretrainError, match="--tokenizer_name with the prepared corpus"):
        args.replace(tokenizer_name="gpt2").resolved()
    with pytest.raises(PretrainError, match="--block_size 16 differs from the 32 tokens of the blocks prepared"):
        args.replace(block_size=16).resolved()


# --- a streamed corpus ---------------------------------------------------------------------------------------------


def write_lines_corpus(folder: Path) -> Path:
    """The whole bundled book as JSON lines, one record per line of text: 2,861 records, 3 packing batches."""
    path = folder / "lines.jsonl"
    lines = [line for line in BOOK.read_text().splitlines() if line.strip()]
    path.write_text("".join(json.dumps({"text": line + "\n"}) + "\n" for line in lines))
    return path


def test_streamed_two_processes_match_one_and_resume_exactly(corpus_and_tokenizer, tmp_path: Path) -> None:
    # Without dropout, 2 processes x 4 blocks must be the same update as 1 process x 2 micro-batches x 4: each
    # micro-batch slot of an update reads its own shard of the stream, whatever process it is on.
    lines = write_lines_corpus(tmp_path)
    one = tiny((lines, corpus_and_tokenizer[1]), tmp_path / "one", streaming=True, dropout=0.0, max_steps=8,
               eval_steps=4, max_eval_batches=None, save_total_limit=3)  # fmt: skip
    pretrain(*one)
    launch_two_processes(one.replace(output_dir=str(tmp_path / "two")))
    assert list(losses(tmp_path / "two").values()) == pytest.approx(list(losses(tmp_path / "one").values()), rel=1e-5)
    val = [[r["val_loss"] for r in read_jsonl(tmp_path / d / "log.jsonl") if "val_loss" in r] for d in ("one", "two")]
    assert len(val[0]) == 3 and val[1] == pytest.approx(val[0], rel=1e-5)
    # Resume from step 4 (the later checkpoint gone, as if killed before it): the stream continues where it was.
    expected, weights = losses(tmp_path / "one"), load_file(tmp_path / "one" / "model" / "model.safetensors")
    shutil.rmtree(tmp_path / "one" / "checkpoint-8")
    pretrain(*one.replace(resume_from_checkpoint="last"))
    assert losses(tmp_path / "one") == expected
    resumed = load_file(tmp_path / "one" / "model" / "model.safetensors")
    assert all(torch.equal(weights[k], resumed[k]) for k in weights)


def test_streaming_refuses_what_a_stream_cannot_do(corpus_and_tokenizer, prepared_corpus, tmp_path) -> None:
    args = tiny(corpus_and_tokenizer, tmp_path / "x", streaming=True)
    with pytest.raises(PretrainError, match="--streaming needs --max_steps"):
        args.replace(recipe="paper", max_steps=None).resolved()  # 100 epochs of unknown length
    with pytest.raises(PretrainError, match="cannot learn a vocabulary \\(--vocab_size 4096\\)"):
        args.replace(vocab_size=None).resolved()  # the demo recipe's
    with pytest.raises(PretrainError, match="is a prepared corpus: drop --streaming"):
        args.replace(dataset=str(prepared_corpus), tokenizer_name=None).resolved()
    with pytest.raises(PretrainError, match="--validation_records must be a positive integer"):
        args.replace(validation_records=0).resolved()


# --- exact resume after SIGKILL -----------------------------------------------------------------------------------


def test_resume_after_sigkill_continues_exactly(corpus_and_tokenizer, tmp_path: Path) -> None:
    steps = 40
    reference = tiny(corpus_and_tokenizer, tmp_path / "reference", max_steps=steps)
    pretrain(*reference)
    expected = losses(tmp_path / "reference")

    killed = reference.replace(output_dir=str(tmp_path / "killed"))
    child = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "pretrain.py"), *argv(killed)],
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 90
    # Kill between checkpoints (every 4 steps), once a few steps past the second one.
    while not any(s >= 10 for s in losses(tmp_path / "killed")):
        assert child.poll() is None, child.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, "the child run made no progress"
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stderr.close()
    logged_before_kill = max(losses(tmp_path / "killed"))
    assert 10 <= logged_before_kill < steps
    checkpoint = latest_checkpoint(tmp_path / "killed")
    assert checkpoint is not None and int(checkpoint.name.split("-")[1]) % 4 == 0
    # What a save killed halfway leaves behind is a temporary folder, which resume ignores and removes.
    partial = tmp_path / "killed" / ".checkpoint-999.x1y2.tmp"
    partial.mkdir()

    pretrain(*killed.replace(resume_from_checkpoint="last"))
    resumed = losses(tmp_path / "killed")
    assert not partial.exists()
    assert list(resumed) == list(range(1, steps + 1))  # the steps redone after the checkpoint are logged once
    assert resumed == expected  # bit-for-bit: same data order, same dropout masks, same optimizer state


def copy_run(finished_run, folder: Path) -> Options:
    """A copy of the finished run's folder, and its arguments with `--resume_from_checkpoint last`."""
    args, _ = finished_run
    shutil.copytree(args.output_dir, folder)
    return args.replace(output_dir=str(folder), resume_from_checkpoint="last")


def test_resuming_a_finished_run_changes_nothing(finished_run, tmp_path: Path) -> None:
    args = copy_run(finished_run, tmp_path / "again")
    before = (tmp_path / "again" / "log.jsonl").read_text()
    weights = load_file(tmp_path / "again" / "model" / "model.safetensors")
    pretrain(*args)
    assert (tmp_path / "again" / "log.jsonl").read_text() == before  # no second final validation record
    after = load_file(tmp_path / "again" / "model" / "model.safetensors")
    assert all(torch.equal(weights[k], after[k]) for k in weights)


def test_a_damaged_latest_checkpoint_falls_back_to_the_previous_one(finished_run, tmp_path: Path, capsys) -> None:
    args = copy_run(finished_run, tmp_path / "damaged")
    expected = losses(tmp_path / "damaged")
    latest = tmp_path / "damaged" / "checkpoint-24"
    weights = latest / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a truncated copy
    pretrain(*args)
    assert f"warning: checkpoint {latest} is damaged (SafetensorError" in capsys.readouterr().out
    assert (latest.parent / "damaged-checkpoint-24" / "model.safetensors").exists()  # kept for inspection
    assert losses(tmp_path / "damaged") == expected  # steps 21-24 redone from step 20, exactly
    assert latest_checkpoint(latest.parent) == latest  # and saved afresh
    assert load_file(weights).keys() == load_file(tmp_path / "damaged" / "model" / "model.safetensors").keys()


def test_no_loadable_checkpoint_is_one_error(finished_run, tmp_path: Path, capsys) -> None:
    args = copy_run(finished_run, tmp_path / "ruined")
    for weights in (tmp_path / "ruined").glob("checkpoint-*/model.safetensors"):
        weights.write_bytes(b"")
    assert main(argv(args)) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == (f"error: no checkpoint in {tmp_path / 'ruined'} could be loaded; pass "
                     "--overwrite_output_dir to start afresh")  # fmt: skip


def test_resume_loads_data_never_pickled_code(finished_run, tmp_path: Path) -> None:
    """A run folder from someone else must not run their code: every file `--resume_from_checkpoint` reads is loaded
    as data."""
    args = copy_run(finished_run, tmp_path / "planted")
    marker = tmp_path / "pwned"

    class Planted:
        def __reduce__(self):
            return (Path.touch, (marker,))

    latest = tmp_path / "planted" / "checkpoint-24"
    # What accelerate unpickles for objects registered for checkpointing: never read, so the checkpoint is damaged.
    for name in ("custom_checkpoint_0.pkl", "scheduler.bin"):
        torch.save(Planted(), latest / name)
    pretrain(*args)
    assert not marker.exists() and (latest.parent / "damaged-checkpoint-24").is_dir()
    # The tensors' files are loaded with weights_only, which refuses objects: damaged too.
    torch.save({"state": Planted()}, latest / "optimizer.bin")
    pretrain(*args)
    assert not marker.exists() and (latest.parent / "damaged-checkpoint-24-2").is_dir()
    assert latest_checkpoint(latest.parent) == latest


def test_a_resumed_log_window_averages_the_same_updates(corpus_and_tokenizer, tmp_path: Path) -> None:
    """With `--logging_steps 3` and a resume from step 4, the record of step 6 still averages steps 4-6."""
    reference = tiny(corpus_and_tokenizer, tmp_path / "reference", max_steps=12, logging_steps=3, save_total_limit=10)
    pretrain(*reference)
    expected = losses(tmp_path / "reference")
    shutil.copytree(tmp_path / "reference", tmp_path / "resumed")
    for late in ("checkpoint-8", "checkpoint-12"):  # as if killed between steps 4 and 8
        shutil.rmtree(tmp_path / "resumed" / late)
    pretrain(*reference.replace(output_dir=str(tmp_path / "resumed"), resume_from_checkpoint="last"))
    assert losses(tmp_path / "resumed") == expected


def test_a_second_run_on_a_busy_output_dir_is_refused(corpus_and_tokenizer, tmp_path: Path, capsys) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    base = argv(tiny(corpus_and_tokenizer, out, max_steps=2))
    with FileLock(out / RUN_LOCK):  # what a running run holds
        for extra in ([], ["--resume_from_checkpoint", "last"], ["--overwrite_output_dir", "true"]):
            assert main([*base, *extra]) == 2
            errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
            assert errors == [f"error: {out} is in use by another pretraining run (it holds {out / RUN_LOCK}); "
                              "wait for it to finish or choose another --output_dir"]  # fmt: skip
    assert [p.name for p in out.iterdir()] == [RUN_LOCK]  # nothing written
    # A run killed while holding the lock does not leave it stuck.
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import filelock, time; lock = filelock.FileLock({str(out / RUN_LOCK)!r}); "
         "lock.acquire(); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    assert main(base) == 2  # held by another process
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    holder.stdout.close()
    assert main(base) == 0


# --- two processes through accelerate ----------------------------------------------------------------------------


def launch_two_processes(args: Options, *launch_options: str) -> None:
    """`accelerate launch` of `scripts/pretrain.py` with `args` on 2 CPU processes (gloo)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--num_machines", "1",
              "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(port),
              *(launch_options or ["--multi_gpu"])]  # fmt: skip
    result = subprocess.run(
        [*launch, str(REPO / "scripts" / "pretrain.py"), *argv(args)],
        env={**subprocess_env(), "ACCELERATE_USE_CPU": "1"},  # `--cpu --num_processes 2` would start one process
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-4000:]


def test_two_processes_match_one_with_the_same_effective_batch(corpus_and_tokenizer, tmp_path: Path) -> None:
    # Without dropout, 2 ranks x 4 sequences must be the same update as 1 process x 2 micro-batches x 4.
    single = tiny(
        corpus_and_tokenizer, tmp_path / "one", dropout=0.0, max_steps=8, save_steps=100, eval_steps=4,
        max_eval_batches=None,  # a cap is per process: with one, the two runs would score different blocks
    )  # fmt: skip
    pretrain(*single)
    launch_two_processes(single.replace(output_dir=str(tmp_path / "two")))
    config = json.loads((tmp_path / "two" / "run_config.json").read_text())
    assert (config["num_processes"], config["gradient_accumulation_steps"]) == (2, 1)
    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert list(one) == list(two) == list(range(1, 9))
    assert list(two.values()) == pytest.approx(list(one.values()), rel=1e-5)
    val = [[r["val_loss"] for r in read_jsonl(tmp_path / d / "log.jsonl") if "val_loss" in r] for d in ("one", "two")]
    assert val[1] == pytest.approx(val[0], rel=1e-5)


def test_fsdp_that_accelerate_would_ignore_is_refused(corpus_and_tokenizer, tmp_path: Path, monkeypatch, capsys):
    # accelerate 1.x runs FSDP only on GPU-like devices: `--use_fsdp` on CPU processes would quietly be DDP.
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    assert main(argv(tiny(corpus_and_tokenizer, tmp_path / "x"))) == 2
    assert "error: `accelerate launch --use_fsdp` on cpu processes: accelerate runs FSDP only on GPUs" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "x").exists()


# --- bad input ------------------------------------------------------------------------------------------------------


def test_bad_input_gets_one_clear_error(corpus_and_tokenizer, tmp_path: Path, capsys) -> None:
    corpus, tokenizer = corpus_and_tokenizer
    base = argv(tiny(corpus_and_tokenizer, tmp_path / "x"))

    def fails(*extra: str) -> str:
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err  # also holds the datasets progress bars
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and "Traceback" not in err
        return errors[0]

    assert "no such file or folder: './nowhere/books'" in fails("--dataset", "./nowhere/books")
    (tmp_path / "empty.txt").write_text("\n \n")
    assert "is empty" in fails("--dataset", str(tmp_path / "empty.txt"))
    (tmp_path / "short.txt").write_text("A short text.\n")
    assert "smaller than one block" in fails("--dataset", str(tmp_path / "short.txt"))
    (tmp_path / "docs.jsonl").write_text('{"body": "some text"}\n')
    assert "no column 'text'" in fails("--dataset", str(tmp_path / "docs.jsonl"))
    assert "not a multiple of --per_device_train_batch_size 3" in fails("--per_device_train_batch_size", "3")
    assert "exceeds the model's n_positions 64" in fails("--block_size", "128")
    assert "unknown GPT-1 preset 'huge'" in fails("--model_preset", "huge")
    assert "nowhere/tok has no tokenizer files" in fails("--tokenizer_name", "./nowhere/tok")
    assert not (tmp_path / "x").exists()  # nothing was written


def test_options_fine_tuning_has_too_are_named_as_in_training_arguments():
    """One name per option across the two commands: each is `TrainingArguments`' field of that name (help included),
    and the names pretraining used before (`--eval_every`, `--resume`, `--tokenizer`...) are gone."""
    from transformers import TrainingArguments

    ours = {f.name: f for f in dataclasses.fields(PretrainArguments)}
    trainer = {f.name: f for f in dataclasses.fields(TrainingArguments)}
    shared = {"learning_rate", "warmup_steps", "max_steps", "num_train_epochs", "weight_decay", "max_grad_norm",
              "per_device_train_batch_size", "eval_steps", "save_steps", "save_total_limit", "logging_steps",
              "resume_from_checkpoint", "output_dir", "seed", "report_to", "push_to_hub", "hub_model_id"}  # fmt: skip
    assert shared <= set(ours) & set(trainer)
    for name in shared:
        assert ours[name].metadata["help"].startswith(trainer[name].metadata["help"]), name
    assert not {"eval_every", "save_every", "log_every", "keep_checkpoints", "resume", "tokenizer"} & set(ours)
    assert "tokenizer_name" in ours  # as fine-tuning's --tokenizer_name


def test_checkpoints_are_laid_out_as_the_trainers(finished_run):
    """`checkpoint-<step>/` with `trainer_state.json` beside the final `model/`: transformers' own
    `get_last_checkpoint` finds the newest, as it does for a fine-tuning run."""
    from transformers.trainer_utils import get_last_checkpoint

    args, model_dir = finished_run
    out = Path(args.output_dir)
    assert Path(get_last_checkpoint(str(out))) == latest_checkpoint(out) == out / "checkpoint-24"
    assert (out / "checkpoint-24" / "trainer_state.json").is_file() and model_dir == out / "model"
    with pytest.raises(PretrainError, match="--resume_from_checkpoint newest: .*pass `last`"):
        args.replace(resume_from_checkpoint="newest").resolved()


# --- options: --report_to, --push_to_hub, --overwrite_output_dir, --gradient_checkpointing --------------------------


def test_report_to_tensorboard_logs_the_values_of_the_jsonl_log(corpus_and_tokenizer, tmp_path: Path) -> None:
    """`--report_to tensorboard` writes event files whose scalars are log.jsonl's records, step for step."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    pretrain(*tiny(corpus_and_tokenizer, out, max_steps=6, eval_steps=3, save_steps=100, report_to="tensorboard"))
    folder = out / TRACKER_PROJECT
    assert len(list(folder.glob("events.out.tfevents.*"))) == 1
    events = EventAccumulator(str(folder))
    events.Reload()
    records = read_jsonl(out / "log.jsonl")
    for tag in ("loss", "grad_norm", "lr", "val_loss"):
        expected = [(r["step"], r[tag]) for r in records if tag in r]
        assert len(expected) == (6 if tag != "val_loss" else 3)  # steps 1-6; validation at 0, 3 and 6
        # TensorBoard stores a scalar as a float32: the JSON value rounded to float32 is what it must hold, exactly.
        got = [(e.step, e.value) for e in events.Scalars(tag)]
        assert got == [(step, float(np.float32(value))) for step, value in expected], tag


def test_push_to_hub_publishes_the_final_model(corpus_and_tokenizer, tmp_path: Path, loopback_hub, capsys) -> None:
    """`--push_to_hub` pushes `output_dir/model` once, at the end: every file comes back from the Hub byte for byte
    and the pulled model is the local one."""
    from huggingface_hub import HfApi, hf_hub_download

    from gpt1.hub import load_model

    repo = "alice/gpt1-pretrained-tiny"
    out = tmp_path / "run"
    model_dir = pretrain(*tiny(corpus_and_tokenizer, out, max_steps=2, push_to_hub=True, hub_model_id=repo))
    assert f"pushed to {loopback_hub.url}/{repo}/commit/" in capsys.readouterr().out
    local = {p.relative_to(model_dir).as_posix(): p.read_bytes() for p in model_dir.rglob("*") if p.is_file()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "loss_curve.png"} <= set(local)
    remote = set(HfApi().list_repo_files(repo))
    assert remote == set(local) | {".gitattributes", "README.md"}  # the card is generated, as `scripts/hub.py` does
    assert [c.title for c in HfApi().list_repo_commits(repo)] == ["GPT-1 pretraining", "initial commit"]  # once
    for name, content in local.items():
        assert Path(hf_hub_download(repo, name)).read_bytes() == content, name
    pulled = load_model(repo).state_dict()
    saved = load_file(model_dir / "model.safetensors")
    assert all(torch.equal(pulled[k], saved[k]) for k in saved)


def _files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _layout(folder: Path) -> list[str]:
    """A run folder's files, with the names TensorBoard makes unique (event files, the hparams subfolder) generic."""
    names = []
    for path in _files_of(folder):
        parts = path.split("/")
        if parts[0] == TRACKER_PROJECT:
            parts = [p if not p.startswith("events.out.tfevents.") else "<events>" for p in parts]
            parts = [p if not p.replace(".", "").isdigit() else "<hparams>" for p in parts]
        names.append("/".join(parts))
    return sorted(names)


def test_overwrite_output_dir_replaces_the_old_run_entirely(corpus_and_tokenizer, tmp_path: Path, capsys) -> None:
    """A folder holding a run is refused (one error line, nothing touched) unless `--overwrite_output_dir`; with it,
    the folder ends up as a fresh run's would, the user's own files kept and nothing of the old run left: no old
    checkpoint, log record or TensorBoard event (TensorBoard would draw both runs over each other)."""
    out = tmp_path / "run"
    old = tiny(corpus_and_tokenizer, out, max_steps=8, save_steps=4, eval_steps=4, report_to="tensorboard", seed=1)
    pretrain(*old)
    (out / "notes.txt").write_text("mine")
    new = old.replace(max_steps=6, save_steps=3, eval_steps=3, seed=0)
    before = _files_of(out)
    assert main(argv(new)) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: {out} already holds checkpoints of a run (latest checkpoint-8); pass "
                      "--resume_from_checkpoint last to continue it, --overwrite_output_dir to start afresh, or "
                      "choose another --output_dir"]  # fmt: skip
    assert _files_of(out) == before

    assert main([*argv(new), "--overwrite_output_dir", "true"]) == 0
    fresh = tmp_path / "fresh"
    pretrain(*new.replace(output_dir=str(fresh)))
    assert _layout(out) == sorted([*_layout(fresh), "notes.txt"])
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in out.glob("*checkpoint-*")) == ["checkpoint-3", "checkpoint-6"]
    assert losses(out) == losses(fresh) and list(losses(out)) == list(range(1, 7))
    expected = load_file(fresh / "model" / "model.safetensors")
    weights = load_file(out / "model" / "model.safetensors")
    assert expected.keys() == weights.keys() and all(torch.equal(expected[k], weights[k]) for k in expected)
    configs = [json.loads((d / "run_config.json").read_text()) for d in (out, fresh)]
    assert configs[0].pop("overwrite_output_dir") and configs[0].pop("output_dir") == str(out)
    assert configs[0] == {k: v for k, v in configs[1].items() if k not in ("overwrite_output_dir", "output_dir")}
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / TRACKER_PROJECT))
    events.Reload()
    assert [e.step for e in events.Scalars("loss")] == list(range(1, 7))  # the old run's steps 1-8 are gone


def test_overwrite_output_dir_also_guards_a_finished_model(corpus_and_tokenizer, tmp_path, capsys, monkeypatch) -> None:
    """A folder whose checkpoints were deleted to save space still holds a finished model: a new run there is
    refused rather than replacing it at its end; with `--overwrite_output_dir` the old model goes at the start, so
    a new run that stops early never leaves it beside its own checkpoints."""
    out = tmp_path / "run"
    args = tiny(corpus_and_tokenizer, out, max_steps=4, eval_steps=4)
    pretrain(*args)
    for checkpoint in out.glob("checkpoint-*"):
        shutil.rmtree(checkpoint)
    before = _files_of(out)
    assert main(argv(args)) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: {out} already holds the model of a finished run ({out / 'model'}); pass "
                      "--overwrite_output_dir to replace it, or choose another --output_dir"]  # fmt: skip
    assert _files_of(out) == before

    import gpt1.pretraining as pretraining

    def interrupted(run, progress, signals=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(pretraining, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pretrain(*args.replace(overwrite_output_dir=True, seed=1))
    assert not (out / "model").exists()
    assert [r["step"] for r in read_jsonl(out / "log.jsonl")] == [0]  # the new run's first validation only


def test_gradient_checkpointing_recomputes_and_trains_the_same(corpus_and_tokenizer, tmp_path, monkeypatch) -> None:
    """`--gradient_checkpointing` engages on every block (each one's forward runs again in the backward pass) and
    changes nothing the run computes: the same losses, gradient norms and weights."""
    import gpt1.pretraining as pretraining

    calls = {"on": 0, "off": 0}
    original = pretraining.build_model

    def counting_model(args, tokenizer):
        model = original(args, tokenizer)
        key = "on" if args.gradient_checkpointing else "off"
        assert [block.gradient_checkpointing for block in model.transformer.h] == [args.gradient_checkpointing] * 2

        def count(module, inputs, output):
            if module.training and torch.is_grad_enabled():
                calls[key] += 1

        for block in model.transformer.h:
            block.attn.register_forward_hook(count)  # inside the block: runs again when the block is recomputed
        return model

    monkeypatch.setattr(pretraining, "build_model", counting_model)
    runs = {}
    for key, flag in (("off", False), ("on", True)):
        out = tmp_path / key
        pretrain(*tiny(corpus_and_tokenizer, out, max_steps=3, eval_steps=3, save_steps=3, gradient_checkpointing=flag))
        runs[key] = (read_jsonl(out / "log.jsonl"), load_file(out / "model" / "model.safetensors"))
    micro_batches = 3 * 2  # 3 updates of total batch 8 in micro-batches of 4
    assert calls == {"off": 2 * micro_batches, "on": 2 * 2 * micro_batches}  # tiny: 2 blocks; recomputed once each
    # The recompute replays the same operations on the same inputs, with the RNG state (dropout masks) restored: on
    # the CPU every loss, gradient norm and weight comes out bit for bit the same, so there is no tolerance to allow.
    (log_off, weights_off), (log_on, weights_on) = runs["off"], runs["on"]
    for tag in ("loss", "grad_norm", "val_loss"):
        assert [r[tag] for r in log_on if tag in r] == [r[tag] for r in log_off if tag in r], tag
    assert all(torch.equal(weights_on[k], weights_off[k]) for k in weights_off)
