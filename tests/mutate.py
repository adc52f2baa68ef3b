"""Tiny AST mutation runner: mutate one file of a COPY of the repo, one mutant at a time, run test stages, restore.

usage: python3 tests/mutate.py ROOT FILE FUNCS(comma list or '*') TIMEOUT OUT.jsonl -- STAGE1 [;; STAGE2 ...]
Each stage is a pytest argument list; a mutant is killed by the first stage that fails (rc != 0).
Operators (applied only inside the named functions, never in annotations, docstrings or logger.* calls):
  CMP  comparison flip: == <-> !=, < <-> >=, > <-> <=, in <-> not in, is <-> is not
  BIN  arithmetic swap: + <-> -, * <-> /, // -> /, % -> /, ** -> *   (also in augmented assignment)
  NUM  numeric constant: n -> n + 1, and n -> 0 when n != 0
  BOOL True <-> False, None in a comparison untouched
  AND  and <-> or
  NOT  `not x` -> `x`; `-x` -> `x`
  KW   drop one keyword argument of a call
  SLC  drop one bound of a slice (x[a:b] -> x[:b] / x[a:])
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time

CMP = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
BIN = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.Div,
    ast.Pow: ast.Mult,
}


def skip_ids(tree: ast.AST) -> set[int]:
    """ids of nodes never mutated: annotations, docstrings, logger calls."""
    out: set[int] = set()

    def mark(n):
        for m in ast.walk(n):
            out.add(id(m))

    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if n.returns:
                mark(n.returns)
            for a in n.args.args + n.args.kwonlyargs + n.args.posonlyargs + [n.args.vararg, n.args.kwarg]:
                if a is not None and a.annotation is not None:
                    mark(a.annotation)
        if isinstance(n, ast.AnnAssign):
            mark(n.annotation)
        if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Module)) and n.body:
            b = n.body[0]
            if isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant) and isinstance(b.value.value, str):
                mark(b)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name):
            if n.func.value.id in ("logger", "logging", "warnings"):
                mark(n)
        if isinstance(n, ast.JoinedStr):  # f-strings: message text, not mutated
            mark(n)
    return out


def targets(tree: ast.Module, funcs: str):
    """Root nodes to mutate."""
    if funcs == "*":
        return [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    if funcs == "ALL":
        return [n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom))]
    names = set(funcs.split(","))
    found = []
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name in names:
            found.append(n)
    assert {f.name for f in found} == names, (names, [f.name for f in found])
    return found


def mutations(tree: ast.Module, funcs: str):
    """Yield (node_index, kind, apply_fn, description, lineno) in a deterministic order."""
    skip = skip_ids(tree)
    idx = 0
    for root in targets(tree, funcs):
        for n in ast.walk(root):
            idx += 1
            if id(n) in skip:
                continue
            line = getattr(n, "lineno", None)
            if isinstance(n, ast.Compare):
                for i, op in enumerate(n.ops):
                    if type(op) in CMP:
                        yield (
                            idx,
                            "CMP",
                            ("ops", i, CMP[type(op)]),
                            f"{type(op).__name__}->{CMP[type(op)].__name__}",
                            line,
                        )
            elif isinstance(n, (ast.BinOp, ast.AugAssign)) and type(n.op) in BIN:
                yield idx, "BIN", ("op", BIN[type(n.op)]), f"{type(n.op).__name__}->{BIN[type(n.op)].__name__}", line
            elif isinstance(n, ast.Constant) and type(n.value) is bool:
                yield idx, "BOOL", ("value", not n.value), f"{n.value}->{not n.value}", line
            elif isinstance(n, ast.Constant) and type(n.value) in (int, float):
                yield idx, "NUM", ("value", n.value + 1), f"{n.value!r}->{n.value + 1!r}", line
                if n.value != 0:
                    yield idx, "NUM", ("value", type(n.value)(0)), f"{n.value!r}->0", line
            elif isinstance(n, ast.BoolOp):
                new = ast.Or if isinstance(n.op, ast.And) else ast.And
                yield idx, "AND", ("op", new), f"{type(n.op).__name__}->{new.__name__}", line
            elif isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.Not, ast.USub)):
                yield idx, "NOT", ("unwrap",), f"drop unary {type(n.op).__name__}", line
            elif isinstance(n, ast.Call):
                for i, kw in enumerate(n.keywords):
                    if kw.arg is not None:
                        yield idx, "KW", ("dropkw", i), f"drop keyword {kw.arg}=", line
            elif isinstance(n, ast.Slice):
                if n.lower is not None:
                    yield idx, "SLC", ("slice", "lower"), "drop slice lower bound", line
                if n.upper is not None:
                    yield idx, "SLC", ("slice", "upper"), "drop slice upper bound", line


def apply(src: str, funcs: str, k: int) -> tuple[str, str, int]:
    tree = ast.parse(src)
    muts = list(mutations(tree, funcs))
    target_idx, kind, action, desc, line = muts[k]
    idx = 0
    parent = {}
    for root in targets(tree, funcs):
        for p in ast.walk(root):
            for c in ast.iter_child_nodes(p):
                parent[id(c)] = p
    node = None
    for root in targets(tree, funcs):
        for n in ast.walk(root):
            idx += 1
            if idx == target_idx:
                node = n
    assert node is not None
    if action[0] == "ops":
        node.ops[action[1]] = action[2]()
    elif action[0] == "op":
        node.op = action[1]()
    elif action[0] == "value":
        node.value = action[1]
    elif action[0] == "unwrap":
        par = parent[id(node)]
        for field, val in ast.iter_fields(par):
            if val is node:
                setattr(par, field, node.operand)
            elif isinstance(val, list):
                for i, v in enumerate(val):
                    if v is node:
                        val[i] = node.operand
    elif action[0] == "dropkw":
        del node.keywords[action[1]]
    elif action[0] == "slice":
        setattr(node, action[1], None)
    return ast.unparse(ast.fix_missing_locations(tree)), f"{kind} {desc}", line


def main() -> None:
    if len(sys.argv) < 8 or "--" not in sys.argv:
        raise SystemExit(__doc__)
    root, file, funcs, timeout, out = sys.argv[1:6]
    rest = sys.argv[sys.argv.index("--") + 1 :]
    stages, cur = [], []
    for a in rest:
        if a == ";;":
            stages.append(cur)
            cur = []
        else:
            cur.append(a)
    stages.append(cur)
    path = os.path.join(root, file)
    with open(path, encoding="utf-8") as fh:
        original = fh.read()
    n = len(list(mutations(ast.parse(original), funcs)))
    only = os.environ.get("MUT_ONLY")
    todo = [int(x) for x in only.split(",")] if only else [-1, *range(n)]
    print(f"{file} [{funcs}]: {n} mutants", flush=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_EVALUATE_OFFLINE="1")
    with open(out, "a", encoding="utf-8") as log:
        for k in todo:
            if k < 0:  # baseline: the file round-tripped through ast.unparse, unmutated; must survive
                mutated, desc, line = ast.unparse(ast.parse(original)), "BASELINE", 0
            else:
                mutated, desc, line = apply(original, funcs, k)
            status, by = "survived", None
            t0 = time.time()
            try:
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(mutated)
                for st in stages:
                    cmd = [
                        "nice",
                        "-n",
                        "19",
                        sys.executable,
                        "-m",
                        "pytest",
                        "-x",
                        "-q",
                        "-p",
                        "no:cacheprovider",
                        *st,
                    ]
                    try:
                        r = subprocess.run(cmd, cwd=root, env=env, capture_output=True, timeout=float(timeout))
                    except subprocess.TimeoutExpired:
                        status, by = "timeout", " ".join(st)
                        break
                    if r.returncode != 0:
                        status, by = "killed", " ".join(st)
                        break
            finally:
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(original)
            rec = {
                "file": file,
                "k": k,
                "line": line,
                "mutation": desc,
                "status": status,
                "by": by,
                "secs": round(time.time() - t0, 1),
            }
            log.write(json.dumps(rec) + "\n")
            log.flush()
            print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
