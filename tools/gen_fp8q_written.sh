#!/bin/sh
# The checkpoints `fp8q quantize` writes, run by transformers + compressed-tensors:
# quantizes the fixture models with fp8q (FP8_DYNAMIC; static FP8 and static FP8
# + FP8 KV cache, calibrated on llm-compressor's own calibration tokens), loads
# each result with tools/gen_model_fixtures.py check-checkpoint (transformers,
# float32, eager) and stores its logits in tests/fixtures/llama/fp8q-written/.
# tests/test_model.c writes the same checkpoints again (the writer is
# deterministic) and compares fp8q's logits on them with these.
# Usage: PYTHON=/path/to/venv/bin/python sh tools/gen_fp8q_written.sh
#   (the venv of tools/requirements-fixtures.txt)
set -eu
PY=${PYTHON:-python3}
F=tests/fixtures/llama
make -s build/fp8q
T=$(mktemp -d "${TMPDIR:-/tmp}/fp8q-written.XXXXXX")
trap 'rm -rf "$T"' EXIT
build/fp8q quantize $F/tiny-f32 "$T/tiny-fp8-dynamic" --scheme fp8-dynamic
build/fp8q quantize $F/tiny-f32 "$T/tiny-fp8-static" --scheme fp8 --calib $F/tiny-fp8-static/ref.safetensors
build/fp8q quantize $F/tiny-gqa-bf16 "$T/tiny-gqa-fp8-static-kv" --scheme fp8 --kv-cache \
    --calib $F/tiny-gqa-fp8-static-kv/ref.safetensors
mkdir -p $F/fp8q-written
for n in tiny-fp8-dynamic tiny-fp8-static tiny-gqa-fp8-static-kv; do
    "$PY" tools/gen_model_fixtures.py check-checkpoint "$T/$n" "$F/fp8q-written/$n.safetensors" \
        --tokens-from "$F/$n/ref.safetensors"
done
