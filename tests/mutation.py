"""Mutation testing of the code behind published figures, with cosmic-ray (docs/testing.md says what it found).

    python3 -m tests.mutation gpt1/transforms.py [--work DIR]     # one target of TARGETS
    python3 -m tests.mutation --list                                # the targets and their tests

cosmic-ray changes the file on disk, one mutant at a time, and runs the target's tests; so each run works in a copy of
the checkout under DIR (default `outputs/mutation/`), never in the tree you test in. A `../shared` beside the checkout is
linked beside the copy, so the tests that read the shared corpora run there too. The session (`<name>.sqlite`) is kept:
running the same target again resumes it. The summary and every surviving mutant with its diff are written to
`<name>.txt`.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Operators left out, and why:
# - binary operators turned into bitwise or shift ones, `%`, `//` and `**` as targets: on the floats and lists here
#   they raise at once (killed by any test that runs the line) and only multiply the run time; `a + b -> a - b`,
#   `a * b -> a / b` and the like stay in;
# - every mutation *of* `|`: in these modules `|` occurs only in type annotations (`int | None`), where any change is
#   equivalent;
# - comparison replacements other than negation and boundary (`==` -> `<`, `>` -> `is`, ...): they are killed whenever
#   the negation or the boundary one is;
# - VariableReplacer / VariableInserter: random, so a run could not be repeated.
EXCLUDED_OPERATORS = [
    r"core/ReplaceBinaryOperator_.*_(Pow|RShift|LShift|BitOr|BitAnd|BitXor|Mod|FloorDiv)$",
    r"core/ReplaceBinaryOperator_(RShift|LShift|BitOr|BitAnd|BitXor)_.*",
    r"core/ReplaceComparisonOperator_Eq_(Lt|LtE|Gt|GtE|Is|IsNot)$",
    r"core/ReplaceComparisonOperator_NotEq_(Lt|LtE|Gt|GtE|Is|IsNot)$",
    r"core/ReplaceComparisonOperator_(Lt|LtE|Gt|GtE)_(Eq|NotEq|Is|IsNot)$",
    r"core/ReplaceComparisonOperator_Lt_Gt$",
    r"core/ReplaceComparisonOperator_Gt_Lt$",
    r"core/ReplaceComparisonOperator_LtE_GtE$",
    r"core/ReplaceComparisonOperator_GtE_LtE$",
    r"core/ReplaceComparisonOperator_(Is|IsNot)_(Eq|NotEq|Lt|LtE|Gt|GtE)$",
    r"core/VariableReplacer",
    r"core/VariableInserter",
]


@dataclass(frozen=True)
class Target:
    """One module under mutation: the tests that mirror it (fastest and most telling first: pytest stops at the first
    failure) and, where only part of the module is behind a figure, the functions mutated (`Class.method` allowed)."""

    module: str
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.module.removesuffix(".py").replace("/", ".")


_TASK_TESTS = ("tests/test_transforms.py", "tests/test_tasks.py", "tests/test_task_data.py", "tests/test_readers.py")
_METRIC_TESTS = ("tests/test_metrics.py", "tests/test_finetuning_metrics.py")
_FIGURES = ("encode_splits", "task_predictions", "compute_metrics_fn", "evaluate_and_predict", "prediction_text",
            "write_predictions", "summarize")  # fmt: skip
_LOSS = ("auxiliary_lm_loss", "GPT1ClassifierBase._objective", "GPT1ClassifierBase._combine")

TARGETS = {
    t.module: t
    for t in (
        Target("gpt1/transforms.py", (*_TASK_TESTS, "tests/test_finetuning_metrics.py")),
        Target("gpt1/readers.py", ("tests/test_readers.py", "tests/test_task_data.py")),
        Target("gpt1/task_data.py", ("tests/test_task_data.py", "tests/test_readers.py", "tests/test_tasks.py")),
        Target("gpt1/tasks.py", (*_TASK_TESTS, *_METRIC_TESTS)),
        Target("gpt1/task_model.py", ("tests/test_task_model.py",)),
        Target("gpt1/finetuning.py", ("tests/test_finetuning_metrics.py", "tests/test_finetuning.py"), _FIGURES),
        Target(
            "gpt1/results.py",
            (
                "tests/test_results.py",
                "tests/test_paper_table.py",
                "tests/test_finetuning_seeds.py",
                "tests/test_ablations.py",
            ),
        ),  # fmt: skip
        Target(
            "gpt1/training.py",
            (
                "tests/test_training.py",
                "tests/test_checkpointing.py",
                "tests/test_finetune_args.py",
                "tests/test_finetuning.py",
            ),
        ),  # fmt: skip
        Target("gpt1/metrics/__init__.py", _METRIC_TESTS),
        Target("gpt1/metrics/bundled/bundled.py", _METRIC_TESTS),
        Target(
            "modeling_gpt1/modeling_gpt1.py", ("tests/test_finetuning_metrics.py", "tests/test_modeling_gpt1.py"), _LOSS
        ),
    )
}


def line_ranges(path: Path, functions: tuple[str, ...]) -> list[str]:
    """`start-end` line ranges of the named functions (`name` or `Class.name`) in a module."""
    tree = ast.parse(path.read_text())
    found: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            found.update({f"{node.name}.{m.name}": m for m in node.body if isinstance(m, ast.FunctionDef)})
    missing = [f for f in functions if f not in found]
    if missing:
        raise SystemExit(f"error: {path}: no function {', '.join(missing)}")
    return [f"{found[f].lineno}-{found[f].end_lineno}" for f in functions]


def config_toml(target: Target, ranges: list[str]) -> str:
    """The cosmic-ray configuration of one target (TOML)."""
    tests = " ".join(target.tests)
    lines = [
        "[cosmic-ray]",
        f'module-path = "{target.module}"',
        "timeout = 300.0",
        "excluded-modules = []",
        f'test-command = "{sys.executable} -m pytest -x -q -p no:cacheprovider {tests}"',
        "[cosmic-ray.distributor]",
        'name = "local"',
        "[cosmic-ray.filters.operators-filter]",
        "exclude-operators = [" + ", ".join(f"'{op}'" for op in EXCLUDED_OPERATORS) + "]",
    ]
    if ranges:
        lines += ["[cosmic-ray.filters.line-filter]", f'lines = {{ "{target.module}" = {ranges} }}'.replace("'", '"')]
    return "\n".join(lines) + "\n"


def copy_checkout(work: Path) -> Path:
    """A fresh copy of the checkout (no .git, outputs or caches) at `work/repo`, with `../shared` linked beside it.
    Copied again on every run, so a resumed session tests today's tests and code (and never a mutant an interrupted
    run left in the copy)."""
    repo = work / "repo"
    if repo.exists():
        shutil.rmtree(repo)
    ignore = shutil.ignore_patterns(".git", "outputs", "__pycache__", ".pytest_cache", ".ruff_cache", "*.egg-info")
    shutil.copytree(ROOT, repo, ignore=ignore, symlinks=True)
    shared = ROOT.parent / "shared"
    if shared.exists() and not (work / "shared").exists():
        (work / "shared").symlink_to(shared.resolve())
    return repo


def summary(db: Path, module: str) -> str:
    """Counts per outcome and every survivor (line, operator, diff) from a finished cosmic-ray session."""
    con = sqlite3.connect(db)
    rows = con.execute(
        "select m.start_pos_row, m.operator_name, m.definition_name, r.worker_outcome, r.test_outcome, r.diff, r.output "
        "from mutation_specs m join work_results r on m.job_id = r.job_id order by m.start_pos_row"
    ).fetchall()
    rows = [
        (line, op, where, (worker or "").lower(), (test or "").lower(), diff or "", output or "")
        for line, op, where, worker, test, diff, output in rows
    ]
    pending = con.execute("select count(*) from work_items where job_id not in (select job_id from work_results)")
    run = [r for r in rows if r[3] != "skipped"]
    killed = [r for r in run if r[4] == "killed" and r[6] != "timeout"]
    timeouts = [r for r in run if r[6] == "timeout"]
    survived = [r for r in run if r[4] == "survived"]
    other = [r for r in run if r[4] not in ("killed", "survived")]
    score = 100.0 * (len(killed) + len(timeouts)) / max(1, len(run))
    out = [
        f"{module}: {len(run)} mutants run, {len(killed)} killed, {len(timeouts)} timed out, "
        f"{len(survived)} survived, {len(other)} incompetent/other, {pending.fetchone()[0]} pending; "
        f"score {score:.1f}%",
    ]
    for line, op, where, *_, diff, _ in survived:
        out += ["", f"--- survived: line {line} ({where}), {op}", diff.strip()]
    return "\n".join(out) + "\n"


def run_target(target: Target, work: Path, survivors: bool = False) -> str:
    """Initialise (once), filter, baseline and run one target's cosmic-ray session; return its summary. With
    `survivors`, the surviving mutants are run again too (against today's tests)."""
    work.mkdir(parents=True, exist_ok=True)
    db = work / f"{target.name}.sqlite"
    # The session's mutants are positions in the module as it was at `init`: resuming on a changed module would
    # mutate the wrong lines.
    stamp = work / f"{target.name}.sha256"
    digest = hashlib.sha256((ROOT / target.module).read_bytes()).hexdigest()
    if db.exists() and (not stamp.exists() or stamp.read_text() != digest):
        raise SystemExit(f"error: {target.module} changed since {db} was started; delete {work} to start again")
    repo = copy_checkout(work)
    if survivors:
        with sqlite3.connect(db) as con:
            con.execute("delete from work_results where test_outcome = 'SURVIVED'")
    ranges = line_ranges(repo / target.module, target.functions) if target.functions else []
    config = work / f"{target.name}.toml"
    config.write_text(config_toml(target, ranges))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_EVALUATE_OFFLINE": "1"}
    env.setdefault("OMP_NUM_THREADS", "1")

    def cr(*args: str) -> None:
        subprocess.run([*args], cwd=repo, env=env, check=True)

    if not db.exists():
        stamp.write_text(digest)
        cr("cosmic-ray", "init", str(config), str(db))
        cr("cr-filter-operators", str(db), str(config))
        if ranges:
            cr("cr-filter-lines", "--config", str(config), str(db))
        cr("cosmic-ray", "baseline", str(config))  # the unmutated module must pass its tests
    cr("cosmic-ray", "exec", str(config), str(db))
    text = summary(db, target.module)
    (work / f"{target.name}.txt").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module", nargs="?", choices=sorted(TARGETS), help="the module to mutate")
    parser.add_argument("--work", type=Path, default=ROOT / "outputs" / "mutation", help="where copies and sessions go")
    parser.add_argument("--list", action="store_true", help="list the targets and their tests")
    parser.add_argument("--survivors", action="store_true", help="run the survivors again, against today's tests")
    args = parser.parse_args(argv)
    if args.list or not args.module:
        for t in TARGETS.values():
            print(f"{t.module}  [{', '.join(t.functions) or 'whole module'}]  <- {' '.join(t.tests)}")
        return 0
    print(run_target(TARGETS[args.module], args.work / TARGETS[args.module].name, args.survivors), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
