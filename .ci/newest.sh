#!/usr/bin/env bash
# CI: bring this environment to the NEWEST releases that setup.cfg admits, as a user installing today gets them, and
# fetch transformers' common model tests for the transformers that results (tests/hf_common.py).
#
# `make install` leaves installed packages alone when they satisfy setup.cfg; here every dependency setup.cfg names
# (with the dev extras) is upgraded to its newest admitted release, except torch: the installed build is held (the
# Makefile's CPU build; a newer torch from the registry is a CUDA build of several GB). A new upstream release is therefore tested on the first CI run after
# it is out, with no commit here, and one that breaks GPT-1 turns CI red.
#
# Environment: PYTHON (default python3), TORCH (default torch==2.13.0, as the Makefile).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
TORCH="${TORCH:-torch==2.13.0}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
cd "$REPO"

"$PYTHON" -m pip install -q "$TORCH"
HOLD="$(mktemp)"
trap 'rm -f "$HOLD"' EXIT
"$PYTHON" -c 'import torch; print(f"torch=={torch.__version__}")' >"$HOLD"
# The direct dependencies, by name, from setup.cfg.
mapfile -t DEPS < <("$PYTHON" - <<'PY'
import configparser, re

cfg = configparser.ConfigParser()
cfg.read("setup.cfg")
lines = cfg["options"]["install_requires"].splitlines() + cfg["options.extras_require"]["dev"].splitlines()
for line in lines:
    m = re.match(r"\s*([A-Za-z0-9_.-]+)", line.split("#")[0])
    if m and m[1].lower() != "torch":
        print(line.split("#")[0].strip())
PY
)
"$PYTHON" -m pip install -q --upgrade -c "$HOLD" -e ".[dev]" "${DEPS[@]}"
"$PYTHON" - <<'PY'
from importlib.metadata import version

names = ["torch", "transformers", "tokenizers", "safetensors", "huggingface_hub", "datasets", "evaluate", "accelerate",
         "kernels", "peft", "lm_eval"]
installed = []
for name in names:
    try:
        installed.append(f"{name} {version(name)}")
    except Exception:
        pass
print("newest:", ", ".join(installed))
PY
"$PYTHON" -m tests.hf_common
