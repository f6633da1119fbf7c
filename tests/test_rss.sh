#!/bin/sh
# Peak memory of an FP8 run against the FP32 run on the same model: a random
# Llama of SmolLM2-135M's shape (134.5M parameters, BF16 file, written by
# `fp8q synth`), 8 tokens through `fp8q logits --stats`. Weights are converted
# tensor by tensor while the file stays mapped and converted pages are
# released, so the FP8 peak must stay <= 0.35 x the FP32 peak (issue
# acceptance). Linux only (peak RSS from getrusage); skipped elsewhere.
# Usage: tests/test_rss.sh [BUILD_DIR]   Ends with "N passed, N failed[, N skipped]".
BUILD=${1:-$(dirname "$0")/../build}
BIN=$BUILD/fp8q
if [ "$(uname -s 2>/dev/null)" != Linux ] || [ ! -x "$BIN" ]; then
    echo "skip - peak RSS needs Linux and $BIN"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/fp8q-rss.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
passed=0 failed=0

# rss QUANT: peak RSS in MiB of one logits run
rss() {
    "$BIN" logits "$TMP/m" --tokens 1,2,3,4,5,6,7,8 --out "$TMP/l.bin" --quant "$1" --stats --threads 2 2>"$TMP/err" >/dev/null
    sed -n 's/^peak RSS: *\([0-9.]*\) MiB.*/\1/p' "$TMP/err"
}

if "$BIN" synth "$TMP/m" --preset smollm2-135m --dtype bf16 >/dev/null 2>"$TMP/err"; then
    fp32=$(rss none)
    fp8=$(rss fp8-dynamic)
    fp8c=$(rss fp8-channel)
    if [ -n "$fp32" ] && [ -n "$fp8" ] && [ -n "$fp8c" ] &&
        awk -v a="$fp8" -v b="$fp8c" -v f="$fp32" 'BEGIN { exit !(a <= 0.35 * f && b <= 0.35 * f) }'; then
        passed=1
        echo "ok - peak RSS: FP32 $fp32 MiB, fp8-dynamic $fp8 MiB, fp8-channel $fp8c MiB (<= 0.35 x FP32)"
    else
        failed=1
        echo "FAIL - peak RSS: FP32 '$fp32' MiB, fp8-dynamic '$fp8' MiB, fp8-channel '$fp8c' MiB (want <= 0.35 x FP32)"
        cat "$TMP/err"
    fi
else
    failed=1
    echo "FAIL - fp8q synth: $(cat "$TMP/err")"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
