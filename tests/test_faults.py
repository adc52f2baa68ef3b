"""Fault injection: SIGKILL pretraining, conversion and the fine-tuning save at random instants, and check that the
user never has less than before and that `--resume_from_checkpoint last` ends where an uninterrupted run does.

Kills land at random file-system writes (tests/kill_at.py: inside checkpoint writes, between the renames of a folder
swap, inside pruning) and at random times (inside the writes that C code makes: safetensors, torch.save). Minutes
long, so not in the default suite: `.ci/run` runs it with `pytest -m faults`.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gpt1.io import is_partial
from tests.test_pretraining import write_corpus_and_tokenizer, write_lines_corpus

pytestmark = pytest.mark.faults

REPO = Path(__file__).resolve().parents[1]
STEPS = 16


def env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def kill_at(folder: Path, n: int, module: str, *argv: str) -> list[str]:
    return [sys.executable, str(REPO / "tests" / "kill_at.py"), str(folder), str(n), module, *argv]


@pytest.fixture(scope="module")
def pretrain_argv(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """A tiny run that checkpoints every update, logs every 3 (so resumes fall inside a log window)."""
    corpus, tokenizer = write_corpus_and_tokenizer(tmp_path_factory.mktemp("data"))
    return ["--dataset", str(corpus), "--tokenizer_name", str(tokenizer), "--vocab_size", "0",
            "--model_preset", "tiny",
            "--block_size", "32", "--per_device_train_batch_size", "4", "--total_batch_size", "8",
            "--max_steps", str(STEPS), "--warmup_steps", "3", "--eval_steps", "5", "--save_steps", "1",
            "--logging_steps", "3", "--max_eval_batches", "2", "--sample_tokens", "0", "--resume_from_checkpoint", "last"]  # fmt: skip


def newest_complete(out: Path) -> int:
    """The step a resume must continue from: the newest complete checkpoint, counting one renamed aside."""
    steps = [0]
    for p in out.glob("*checkpoint-*") if out.is_dir() else []:
        name = p.name[1:].split(".old-")[0] if is_partial(p) and ".old-" in p.name else p.name
        if name.startswith("checkpoint-") and (p / "trainer_state.json").exists():
            steps.append(int(name.split("-")[1]))
    return max(steps)


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def launch_and_kill(cmd: list[str], rng: random.Random) -> subprocess.CompletedProcess:
    """Run `cmd`; once it reports its plan (the model is built, training starts), kill it after a random delay."""
    child = subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in child.stdout:
        lines.append(line)
        if line.startswith("GPT-1 pretraining"):
            time.sleep(rng.uniform(0.0, 0.6))
            child.send_signal(signal.SIGKILL)
            break
    lines += child.stdout.read()
    child.wait()
    child.stdout.close()
    return subprocess.CompletedProcess(cmd, child.returncode, "".join(lines), "")


def curve(out: Path) -> list[tuple[int, str, float]]:
    """The logged training and validation losses, by step (timings left out)."""
    keys = ("loss", "val_loss")
    return [(r["step"], k, r[k]) for r in records(out) for k in keys if k in r]


def pretrain_cmd(pretrain_argv: list[str], out: Path, kill: int) -> list[str]:
    return kill_at(out, kill, "gpt1.pretraining", *pretrain_argv, "--output_dir", str(out))


@pytest.fixture(scope="module")
def reference(pretrain_argv: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run."""
    out = tmp_path_factory.mktemp("reference") / "run"
    done = subprocess.run(pretrain_cmd(pretrain_argv, out, 0), env=env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def test_pretraining_survives_kills_anywhere(pretrain_argv: list[str], reference: Path, tmp_path: Path) -> None:
    rng = random.Random(20181)
    kills, timed, chain = 0, 0, 0
    while kills < 24 or timed < 4:
        chain += 1
        out = tmp_path / f"run{chain}"
        for attempt in range(200):
            before = newest_complete(out)
            if attempt % 4 == 3:
                result = launch_and_kill(pretrain_cmd(pretrain_argv, out, 0), rng)  # at a random instant
            else:  # at a random write, a few updates' worth in: a run then takes many kills to finish
                cmd = pretrain_cmd(pretrain_argv, out, rng.randint(1, 60))
                result = subprocess.run(cmd, env=env(), capture_output=True, text=True)
            output = result.stdout + result.stderr
            if resumed := re.search(r"resumed from \S+ at step (\d+)", output):
                assert int(resumed[1]) == before, output[-3000:]  # from the newest complete checkpoint
            if "starting from scratch" in output:
                assert before == 0, output[-3000:]
            if result.returncode == 0:
                break
            assert result.returncode == -signal.SIGKILL, output[-3000:]
            kills, timed = kills + 1, timed + (attempt % 4 == 3)
            assert newest_complete(out) >= before  # a kill never takes a checkpoint away
        assert same(weights(out / "model"), weights(reference / "model")), f"chain {chain}: final weights differ"
        assert curve(out) == curve(reference), f"chain {chain}: the log differs"
    print(f"{kills} kills ({timed} at random instants) over {chain} runs")


def test_a_streamed_run_killed_and_resumed_ends_as_an_uninterrupted_one(pretrain_argv, tmp_path: Path) -> None:
    # The stream is read again from its start on resume and the micro-batches used are dropped: the same blocks,
    # in the same order, as the uninterrupted run.
    lines = write_lines_corpus(tmp_path)
    argv = [*pretrain_argv, "--streaming", "true"]
    argv[argv.index("--dataset") + 1] = str(lines)
    done = subprocess.run(pretrain_cmd(argv, tmp_path / "reference", 0), env=env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rng, out, kills = random.Random(1871), tmp_path / "killed", 0
    while True:
        result = subprocess.run(pretrain_cmd(argv, out, rng.randint(5, 60)), env=env(), capture_output=True, text=True)
        if result.returncode == 0:
            break
        assert result.returncode == -signal.SIGKILL, (result.stdout + result.stderr)[-3000:]
        kills += 1
    assert kills >= 3
    assert same(weights(out / "model"), weights(tmp_path / "reference" / "model"))
    assert curve(out) == curve(tmp_path / "reference")


def test_a_kill_while_replacing_the_model_keeps_a_model(
    pretrain_argv: list[str], reference: Path, tmp_path: Path
) -> None:
    """`--resume_from_checkpoint last` on a finished run rewrites `model/`: killed at any of its last writes (the new folder's files, the
    removal of the old one after the swap), a whole model remains. (tests/test_io.py kills every write of a swap.)"""
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    done = subprocess.run(pretrain_cmd(pretrain_argv, out, 0), env=env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    events = int(re.search(r"events: (\d+)", done.stdout)[1])
    for n in range(events - 7, events + 1):
        result = subprocess.run(pretrain_cmd(pretrain_argv, out, n), env=env(), capture_output=True, text=True)
        assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]
        assert same(weights(out / "model"), weights(reference / "model")), n
        assert curve(out) == curve(reference), n


# --- conversion and the fine-tuning save: the user's folder is the old one or the new one, never less ------------


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def kill_everywhere(cmd: list[str], folder: Path, *, first: str | None = None, at_most: int = 12) -> list[int]:
    """The write events of `cmd` under `folder` to kill at: from the first whose path contains `first` (all if
    None) to the last, `at_most` of them spread evenly. Runs `cmd` once, to completion, to count them."""
    trace = folder.parent / f".{folder.name}.trace"
    result = subprocess.run(cmd, env={**env(), "KILL_AT_TRACE": str(trace)}, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    events = [line.split(" ", 2) for line in trace.read_text().splitlines()]
    trace.unlink()
    start = next(int(n) for n, _, path in events if first is None or first in path)
    chosen = range(start, len(events) + 1)
    return sorted({chosen[i * len(chosen) // min(at_most, len(chosen))] for i in range(min(at_most, len(chosen)))})


def test_conversion_killed_at_any_write_leaves_the_old_or_the_new_folder(tmp_path: Path) -> None:
    from tests.test_convert import VOCAB, authors_shapes, random_params, write_release

    shapes = authors_shapes(n_layer=2, n_embd=16, n_inner=64, n_positions=32, vocab=VOCAB)
    old_source = write_release(tmp_path / "old", random_params(shapes, seed=0))
    new_source = write_release(tmp_path / "new", random_params(shapes, seed=1))
    project = tmp_path / "project"

    def convert(source: Path, kill: int, where: Path = project) -> subprocess.CompletedProcess:
        argv = ["--source", str(source), "--output_dir", str(where), "--n_head", "2", "--overwrite_output_dir"]
        cmd = kill_at(where.parent, kill, "gpt1.convert", *argv)
        return subprocess.run(cmd, env=env(), capture_output=True, text=True)

    assert convert(new_source, 0).returncode == 0
    (project / "notes.txt").write_text("the user's own file")
    new = tree(project)
    assert convert(old_source, 0).returncode == 0
    old = tree(project)
    rehearsal = tmp_path / "rehearsal"
    shutil.copytree(project, rehearsal)
    argv = ["--source", str(new_source), "--output_dir", str(rehearsal), "--n_head", "2", "--overwrite_output_dir"]
    kills = kill_everywhere(kill_at(tmp_path, 0, "gpt1.convert", *argv), rehearsal, at_most=20)
    outcomes = []
    for n in kills:
        result = convert(new_source, n)
        assert result.returncode == -signal.SIGKILL, (n, result.stderr[-3000:])
        now = tree(project)
        assert now in (old, new), n
        outcomes.append("new" if now == new else "old")
        if now == new:  # start each kill from the old folder again
            assert convert(old_source, 0).returncode == 0
    assert "old" in outcomes, outcomes
    assert convert(new_source, 0).returncode == 0 and tree(project) == new
    leftovers = sorted(p.name for p in tmp_path.iterdir() if is_partial(p))
    assert leftovers == [], leftovers  # the next conversion cleared what the kills left


def test_fine_tuning_killed_while_saving_keeps_a_whole_model(tmp_path: Path) -> None:
    from modeling_gpt1 import GPT1Config, GPT1ForCausalLM
    from tokenization import GPT1Tokenizer

    torch.manual_seed(0)
    GPT1ForCausalLM(GPT1Config.from_preset("tiny", vocab_size=40478)).save_pretrained(tmp_path / "lm")
    GPT1Tokenizer().save_pretrained(tmp_path / "lm")
    rows = "text,label\n" + "".join(f"{'great fun' if i % 2 else 'dull and slow'} {i},{i % 2}\n" for i in range(16))
    (tmp_path / "train.csv").write_text(rows)
    out = tmp_path / "out"

    def finetune(seed: int, kill: int, where: Path = out) -> list[str]:
        return kill_at(where, kill, "gpt1.finetuning",
                       "--train_file", str(tmp_path / "train.csv"), "--validation_file", str(tmp_path / "train.csv"),
                       "--text_columns", "text", "--label_names", "neg", "pos", "--model_name_or_path",
                       str(tmp_path / "lm"), "--output_dir", str(where), "--add_special_tokens", "--num_train_epochs",
                       "1", "--max_length", "16", "--save_strategy", "no", "--eval_strategy", "no", "--lm_coef", "0",
                       "--seed", str(seed))  # fmt: skip

    assert subprocess.run(finetune(0, 0), env=env(), capture_output=True).returncode == 0
    old = weights(out / "model")
    kills = kill_everywhere(finetune(1, 0, tmp_path / "rehearsal"), tmp_path / "rehearsal", first="/.model.")
    new = weights(tmp_path / "rehearsal" / "model")
    assert not same(old, new)
    outcomes = []
    for n in kills:
        result = subprocess.run(finetune(1, n), env=env(), capture_output=True, text=True)
        assert result.returncode == -signal.SIGKILL, (n, result.stderr[-3000:])
        now = weights(out / "model")
        assert same(now, old) or same(now, new), n
        outcomes.append("new" if same(now, new) else "old")
        assert (out / "model" / "config.json").is_file() and (out / "model" / "tokenizer_config.json").is_file()
    assert "old" in outcomes, outcomes
