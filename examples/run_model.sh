#!/bin/sh
# Part of `make run`: the reference model on a built-in default. Writes a
# random Llama of SmolLM2-135M's shape once (build/demo-smollm2-shape, BF16,
# `fp8q synth`), then generates 16 tokens greedily from the same prompt in
# FP32 and in FP8 W8A8 (vLLM's online fp8) with an FP8 KV cache, with speed
# and peak memory. Random weights: the tokens mean nothing; the point is the
# FP8 path agreeing with FP32 at a third of the memory. Real checkpoints:
# build/fp8q generate DIR --tokens ...
set -e
BUILD=${1:-build}
M=$BUILD/demo-smollm2-shape
[ -f "$M/model.safetensors" ] || "$BUILD/fp8q" synth "$M" --preset smollm2-135m --dtype bf16
P=1,504,2210,314,1730,30,2001,4301
for q in none fp8-dynamic; do
    kv=auto
    [ "$q" = none ] || kv=e4m3
    echo "== fp8q generate --quant $q --kv-cache $kv --tokens $P -n 16"
    "$BUILD/fp8q" generate "$M" --tokens "$P" -n 16 --quant "$q" --kv-cache "$kv" --threads 2 --stats
done
