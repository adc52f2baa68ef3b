#!/usr/bin/env bash
# CI: the suite on the OLDEST releases setup.cfg allows, torch included (`make test` covers the newest).
#
# The floors in setup.cfg are pinned in .ci/oldest.txt; this script first checks that the two agree, then, in a venv
# cached under $GPT1_CI_CACHE (rebuilt when .ci/oldest.txt, setup.cfg or the Python version change), installs the
# pinned torch first and then this package (editable, with the dev extras) under those pins, fetches the test files
# of that transformers release (tests/hf_common.py) and runs the suite, transformers' own model tests included.
#
# Left out: tests/test_hub.py. huggingface_hub 1.5's `ModelCard.push_to_hub` validates the card against the
# hard-coded https://huggingface.co (not the configured endpoint), which the loopback Hub of the tests cannot stand
# in for; the Hub code is covered by `make test` on the newest releases.
#
# Environment: PYTHON (default python3), GPT1_CI_CACHE (default ~/.cache/gpt1-ci).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # REPO, PYTHON, CACHE
VENV="$CACHE/venv-oldest"
PINS="$REPO/.ci/oldest.txt"
cd "$REPO"

# 1. The pins are setup.cfg's lower bounds, package for package.
"$PYTHON" - "$PINS" <<'EOF'
import configparser, re, sys

def name(s):
    return re.sub(r"[-_.]+", "-", s).lower()

cfg = configparser.ConfigParser()
cfg.read("setup.cfg")
lower = {}  # the fast-moving ones: torch, and those capped at their next major (the Hugging Face libraries)
for line in cfg["options"]["install_requires"].splitlines():
    m = re.match(r"\s*([A-Za-z0-9_.-]+)\s*>=\s*([0-9][^,\s#]*)\s*(,\s*<)?", line)
    if m and (m[3] or name(m[1]) == "torch"):
        lower[name(m[1])] = m[2]
pins = {}
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        package, version = line.split("==")
        pins[name(package)] = version.strip()
if pins != lower:
    sys.exit(f"error: .ci/oldest.txt {pins} does not pin setup.cfg's lower bounds {lower}")
print("oldest: pins = setup.cfg floors:", ", ".join(f"{k} {v}" for k, v in sorted(pins.items())))
EOF

# 2. The venv: the pinned torch first, then the package under the pins.
TORCH="$(grep -E '^torch==' "$PINS")"
KEY="$( { cat "$PINS" setup.cfg; "$PYTHON" -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-16)"
if [[ ! -x "$VENV/bin/python" || "$(cat "$VENV/.gpt1-ci-key" 2>/dev/null)" != "$KEY" ]]; then
    echo "oldest: creating $VENV (key $KEY)"
    rm -rf "$VENV"
    mkdir -p "$CACHE"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q "$TORCH"
    "$VENV/bin/python" -m pip install -q -c "$PINS" -e ".[dev]"
    echo "$KEY" >"$VENV/.gpt1-ci-key"  # written last: a half-built venv is rebuilt next time
else
    "$VENV/bin/python" -m pip install -q --no-deps -e .  # this checkout, not the one the venv was built from
fi
"$VENV/bin/python" -m pip check
"$VENV/bin/python" - "$PINS" <<'EOF'
import sys
from importlib.metadata import version

for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        package, pinned = line.split("==")
        if version(package) != pinned:
            sys.exit(f"error: {package} {version(package)} is installed, {pinned} is pinned")
print("oldest: installed", ", ".join(l.split("#")[0].strip() for l in open(sys.argv[1]) if l.split("#")[0].strip()))
EOF

# 3. transformers' common model tests of that release (downloaded once into the cache), then the suite (offline).
"$VENV/bin/python" -m tests.hf_common
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_EVALUATE_OFFLINE=1
"$VENV/bin/python" -m pytest -q -p no:cacheprovider --ignore=tests/test_hub.py
