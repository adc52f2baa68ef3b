#!/usr/bin/env bash
# The GPU figures of the pretraining-at-scale issue, in one run of under 8 minutes on one H100/H200:
#   1. training step at GPT-1 size (8 x 512 tokens, bf16 autocast, fused AdamW): ours with eager / SDPA / flash
#      (SDPA held to its FlashAttention kernel) attention and transformers' OpenAIGPTLMHeadModel, each with and
#      without torch.compile; tokens/s, MFU against the bf16 matmul peak measured in the same run; peak memory
#      with and without gradient checkpointing                                   (benchmarks/gpu_bench.py train)
#   2. generation of 256 tokens at batch 1 and 32: dynamic and static cache, with and without compile
#                                                                                (benchmarks/gpu_bench.py generate)
#   3. two minutes of real pretraining through scripts/pretrain.py: the paper recipe at GPT-1 size, bf16, compiled,
#      on the books (a prepared corpus, if carried) or else the bundled books; tokens/s, MFU, memory, loss in the log
# and writes $OUT/gpu_check.json (each figure as it is measured) and $OUT/gpu_check.md. Each part has its own time
# limit (PART_S below), so a slow or failing part cannot take the others' time; what it measured is kept.
#
# Prepare here, on the CPU machine (the device image has no `datasets`, which gpt1.data imports, and no
# ../shared/data):
#   echo /.whl/ >> .git/info/exclude; echo /.gpu_corpus/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
#     datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19
#   python scripts/prepare_corpus.py --dataset ../shared/data/corpus/books --block_size 512 \
#     --output_dir .gpu_corpus/books-512 --num_proc 2                       # 45 MB of uint16 blocks
# then run it with the device tool: command `bash benchmarks/gpu_check.sh`, carry [".whl", ".gpu_corpus"],
# timeout_s 540. Rehearsal on a CPU, seconds-sized: `GPU_CHECK_TINY=1 bash benchmarks/gpu_check.sh`
# (GPU_CHECK_COMPILE=0 leaves torch.compile out, for a rehearsal that only checks the plumbing).
set -u
cd "$(dirname "$0")/.."
OUT_DIR=${OUT:-${GPU_CHECK_OUT:-runs/gpu_check}}
mkdir -p "$OUT_DIR"
JSON=$OUT_DIR/gpu_check.json
RUN_DIR=${GPU_CHECK_RUN_DIR:-/tmp/gpu_check_pretrain}  # checkpoints of GPT-1 size: not sent back
rm -rf "$JSON" "$RUN_DIR"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}

if ! python3 -c "import datasets" 2>/dev/null; then
  if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
      && export PYTHONPATH=$PYTHONPATH:/tmp/site
  else
    echo "gpu_check: no 'datasets' and no .whl/ to install it from: the pretraining part will fail (see the header)"
  fi
fi

if [ "${GPU_CHECK_TINY:-0}" = 1 ]; then
  TRAIN_S=240 GENERATE_S=240 PRETRAIN_S=240
  PRETRAIN=(--recipe demo --model_preset tiny --block_size 64 --vocab_size 0 --max_steps 12 --logging_steps 4
            --eval_steps 8 --max_eval_batches 2 --time_budget_minutes 1 --sample_tokens 8)
else
  TRAIN_S=190 GENERATE_S=100 PRETRAIN_S=160  # + ~15 s for the rest (pip, report): under 8 minutes in all
  PRETRAIN=(--recipe paper --mixed_precision bf16 --time_budget_minutes 2 --logging_steps 25 --eval_steps 300
            --max_eval_batches 8 --save_steps 1000000 --sample_tokens 32)
fi
[ "${GPU_CHECK_COMPILE:-1}" = 1 ] && PRETRAIN+=(--torch_compile true)
CORPUS=${GPU_CHECK_CORPUS:-.gpu_corpus/books-512}
if [ ! -f "$CORPUS/prepared.json" ] || [ "${GPU_CHECK_TINY:-0}" = 1 ]; then
  CORPUS=gpt1/demo_data/books  # the bundled books (~1 MB): the loss falls, then the run overfits them
  [ "${GPU_CHECK_TINY:-0}" = 1 ] || PRETRAIN+=(--vocab_size 0)
fi

part() {  # part NAME SECONDS COMMAND...: run with its time limit, and say how it ended
  local name=$1 limit=$2 start=$SECONDS
  shift 2
  timeout --kill-after=10 "$limit" "$@" > "$OUT_DIR/$name.log" 2>&1
  echo "gpu_check: $name ended with status $? after $((SECONDS - start)) s (limit $limit s)" | tee -a "$OUT_DIR/parts.txt"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT_DIR/device.txt" 2>&1 || true
part train "$TRAIN_S" python3 benchmarks/gpu_bench.py train --out "$JSON"
part generate "$GENERATE_S" python3 benchmarks/gpu_bench.py generate --out "$JSON"
part pretrain "$PRETRAIN_S" python3 scripts/pretrain.py --dataset "$CORPUS" --output_dir "$RUN_DIR" "${PRETRAIN[@]}"
mkdir -p "$OUT_DIR/pretrain" && cp "$RUN_DIR/log.jsonl" "$RUN_DIR/run_config.json" "$OUT_DIR/pretrain/" 2>/dev/null
python3 benchmarks/gpu_bench.py report --out "$JSON" --md "$OUT_DIR/gpu_check.md" --run "$OUT_DIR/pretrain"
tail -n 5 "$OUT_DIR"/*.log
cat "$OUT_DIR/parts.txt"
