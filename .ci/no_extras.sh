#!/usr/bin/env bash
# CI: what a plain user gets from `pip install .` (no extras, not editable) works end to end.
#
# In a fresh venv (cached under $GPT1_CI_CACHE, rebuilt when setup.cfg, $TORCH or the Python version change): torch
# first, then this package WITHOUT extras and NOT editable, built from a clean copy of the source tree (the files git
# tracks or would track, so stale build/ or *.egg-info folders cannot hide a packaging mistake). Then, from a
# temporary folder outside the source tree, offline:
#   1. `gpt1-pretrain` on its bundled default corpus (package data, not the checkout);
#   2. `gpt1-finetune --task demo` (the bundled sentiment sample, the bundled metrics: scikit-learn) on that model;
#   3. the saved tokenizer loads with `trust_remote_code=True` in a process that cannot import `tokenization`,
#      `modeling_gpt1`, `gpt1` or spaCy, and gives the same ids as the package's tokenizer.
#
# Environment: PYTHON (default python3), TORCH (default torch==2.13.0, as the Makefile), GPT1_CI_CACHE (default
# ~/.cache/gpt1-ci), KEEP_TMP=1 keeps the temporary folder (it is always kept on failure).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # REPO, PYTHON, CACHE
TORCH="${TORCH:-torch==2.13.0}"
VENV="$CACHE/venv-noextras"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_EVALUATE_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 TOKENIZERS_PARALLELISM=false

START=$SECONDS
log() { printf '[no_extras %4ds] %s\n' $((SECONDS - START)) "$*"; }
fail() { printf '[no_extras] FAIL: %s\n' "$*" >&2; exit 1; }
run() {  # run NAME LOG CMD...: the command's output goes to LOG, shown (its end) only when it fails
    local name=$1 out=$2 rc=0
    shift 2
    "$@" >"$out" 2>&1 || rc=$?
    if ((rc)); then tail -n 40 "$out" >&2; fail "$name exited $rc (log: $out)"; fi
}

TMP="$(mktemp -d "${TMPDIR:-/tmp}/gpt1-noextras.XXXXXX")"
cleanup() {
    local rc=$?
    if [[ $rc -eq 0 && -z "${KEEP_TMP:-}" ]]; then rm -rf "$TMP"; else echo "[no_extras] kept $TMP" >&2; fi
}
trap cleanup EXIT
# Every cache the run writes lives in $TMP: nothing from an earlier run (datasets cache, remote-code modules) is reused.
export HF_HOME="$TMP/hf" MPLCONFIGDIR="$TMP/mpl"

# --- a clean copy of the source tree -------------------------------------------------------------------------------
SRC="$TMP/src"
mkdir -p "$SRC"
if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (
        cd "$REPO"
        git ls-files -z --cached --others --exclude-standard |
            while IFS= read -r -d '' f; do if [[ -e "$f" ]]; then printf '%s\0' "$f"; fi; done |
            tar --null -T - -cf -
    ) | tar -C "$SRC" -xf -
else
    tar -C "$REPO" --exclude=.git --exclude=build --exclude=dist --exclude='*.egg-info' --exclude=__pycache__ \
        --exclude=runs --exclude=outputs -cf - . | tar -C "$SRC" -xf -
fi

# --- the venv: dependencies cached, the package always reinstalled ----------------------------------------------------
KEY="$( { cat "$REPO/setup.cfg"; echo "$TORCH"; "$PYTHON" -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-16)"
if [[ -x "$VENV/bin/python" && "$(cat "$VENV/.gpt1-ci-key" 2>/dev/null)" == "$KEY" ]]; then
    log "venv cached ($VENV, key $KEY): reinstalling the package only"
    run "pip install --force-reinstall --no-deps" "$TMP/pip.log" \
        "$VENV/bin/python" -m pip install --force-reinstall --no-deps "$SRC"
else
    log "creating $VENV (key $KEY): $TORCH first, then the package without extras"
    rm -rf "$VENV"
    mkdir -p "$CACHE"
    "$PYTHON" -m venv "$VENV"
    run "pip install $TORCH" "$TMP/pip-torch.log" "$VENV/bin/python" -m pip install "$TORCH"
    run "pip install ." "$TMP/pip.log" "$VENV/bin/python" -m pip install "$SRC"  # no extras, not editable
    echo "$KEY" >"$VENV/.gpt1-ci-key"  # written last: a half-built venv is rebuilt next time
fi
PY="$VENV/bin/python"
"$PY" -m pip check >/dev/null || { "$PY" -m pip check; fail "pip check: broken requirements"; }
log "installed: $("$PY" -m pip list 2>/dev/null | grep -Ei '^(gpt1|torch|transformers) ' | tr -s ' ' | paste -sd, -)"

# --- from a folder outside the source tree -----------------------------------------------------------------------------
cd "$TMP"
"$PY" -I - <<'EOF' || fail "the installed package is not the one in site-packages, or spaCy is installed"
import importlib.util, pathlib, sys, sysconfig
assert importlib.util.find_spec("spacy") is None, "spaCy is installed: it must stay an optional extra"
import gpt1, gpt1.pretraining_args, gpt1.tasks
site = pathlib.Path(sysconfig.get_paths()["purelib"]).resolve()
for path in (pathlib.Path(gpt1.__file__), gpt1.pretraining_args.DEMO_CORPUS, gpt1.tasks.DEMO_DATA):
    assert path.resolve().is_relative_to(site), f"{path} is not under {site}"
assert gpt1.pretraining_args.DEMO_CORPUS.is_dir() and gpt1.tasks.DEMO_DATA.is_dir()
EOF
BIN="$VENV/bin"

log "gpt1-pretrain --max_steps 5 (the bundled default corpus)"
run gpt1-pretrain "$TMP/pretrain.log" "$BIN/gpt1-pretrain" --max_steps 5 --output_dir "$TMP/pt"
for f in model/config.json model/model.safetensors model/tokenizer.json model/tokenizer_config.json \
    model/loss_curve.png log.jsonl run_config.json; do
    [[ -s "$TMP/pt/$f" ]] || fail "gpt1-pretrain wrote no $f"
done
"$PY" -I - "$TMP/pt/run_config.json" <<'EOF' || fail "gpt1-pretrain did not train on the installed demo corpus"
import json, pathlib, sys, gpt1.pretraining_args
used = pathlib.Path(json.load(open(sys.argv[1]))["dataset"])
assert used.resolve() == gpt1.pretraining_args.DEMO_CORPUS.resolve(), used
print(f"  corpus: {used}")
EOF

log "gpt1-finetune --task demo --max_steps 5"
# The pretrained vocabulary has no _start_/_delimiter_/_classify_: --add_special_tokens appends them.
run gpt1-finetune "$TMP/finetune.log" "$BIN/gpt1-finetune" --task demo --model_name_or_path "$TMP/pt/model" \
    --output_dir "$TMP/ft" --max_steps 5 --add_special_tokens
[[ -s "$TMP/ft/model/config.json" && -s "$TMP/ft/model/model.safetensors" ]] || fail "gpt1-finetune wrote no model"
"$PY" -I - "$TMP/ft/results.json" <<'EOF' || fail "results.json is missing or incomplete"
import json, math, sys
(r,) = json.load(open(sys.argv[1]))["runs"]
assert r["task"] == "demo" and r["global_step"] == 5, r
value = r["metrics"][r["main_metric"]]
assert isinstance(value, float) and math.isfinite(value), r["metrics"]
print(f"  demo {r['main_metric']} = {value:.3f} after {r['global_step']} steps")
EOF

log "remote-code tokenizer without tokenization/modeling_gpt1/gpt1/spaCy"
# The ids the package's own tokenizer gives for the two folders it saved (pretrained; + fine-tuning tokens) ...
"$PY" -I - "$TMP/pt/model" "$TMP/ft/model" >"$TMP/ids.json" <<'EOF'
import json, sys
from tokenization import GPT1Tokenizer
texts = ["The garden was quiet.", "Mr. Darcy can't come -- he's \u201cbusy\u201d\u2026", "  a   caf\u00e9\tNO.5  ",
         "\u00e2\u20ac\u0153mojibake\u00e2\u20ac\u009d"]
out = {}
for folder in sys.argv[1:]:
    tok = GPT1Tokenizer.from_pretrained(folder)
    out[folder] = [tok(t)["input_ids"] for t in texts]
    if "_classify_" in tok.get_vocab():
        out[folder].append(tok("a premise", "a hypothesis")["input_ids"])
json.dump({"texts": texts, "ids": out}, sys.stdout)
EOF
# ... and the same from the folders alone, in a process where the package and spaCy cannot be imported.
"$PY" -I - "$TMP/ids.json" <<'EOF' || fail "a saved tokenizer does not load as remote code on its own"
import importlib.abc, importlib.util, json, sys
assert importlib.util.find_spec("spacy") is None, "spaCy is installed in the no-extras venv"
BLOCKED = ("tokenization", "modeling_gpt1", "gpt1", "spacy")

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked: the saved folder must load on its own")
        return None

sys.meta_path.insert(0, Blocker())
from transformers import AutoTokenizer
expected = json.load(open(sys.argv[1]))
texts = expected["texts"]
for folder, want in expected["ids"].items():
    tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
    assert type(tok).__module__.startswith("transformers_modules"), f"not remote code: {type(tok)}"
    got = [tok(t)["input_ids"] for t in texts]
    if len(want) > len(texts):
        got.append(tok("a premise", "a hypothesis")["input_ids"])
    assert got == want, (folder, got, want)
    print(f"  {folder}: {type(tok).__module__}.{type(tok).__name__}, {sum(map(len, got))} ids identical")
leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
assert not leaked, leaked
EOF

log "done in $((SECONDS - START))s"
echo "no-extras install: pretrain ok, finetune ok, remote tokenizer ok"
