#!/bin/sh
# `make fuzz`: builds the libFuzzer targets (clang, with ASan and UBSan) for
# the JSON, safetensors, GGUF, tokenizer, regex and INC (QUANT_CONFIG, measurement) parsers and
# the round trips (safetensors parse -> write -> parse; encode -> decode),
# prepares seed corpora and runs each target for FUZZ_SECONDS (default 60).
# Any crash, leak, sanitizer report or abort() fails the run. Prints the
# number of executions per target and ends with "N passed, N failed".
set -u
SECONDS_EACH=${FUZZ_SECONDS:-60}
B=build/fuzz
FLAGS="-std=c99 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
passed=0 failed=0
mkdir -p $B/corpus_json $B/corpus_safetensors $B/corpus_regex $B/corpus_inc $B/corpus_roundtrip $B/corpus_gguf $B/corpus_tokenizer $B/artifacts
if ! command -v clang >/dev/null 2>&1; then
    echo "FAIL fuzz: clang not installed"; echo "0 passed, 1 failed"; exit 1
fi
clang $FLAGS tests/fuzz/fuzz_json.c -o $B/fuzz_json -lm || failed=$((failed + 1))
clang $FLAGS tests/fuzz/fuzz_safetensors.c -o $B/fuzz_safetensors -lm || failed=$((failed + 1))
clang $FLAGS tests/fuzz/fuzz_regex.c -o $B/fuzz_regex -lm -pthread || failed=$((failed + 1))
clang $FLAGS tests/fuzz/fuzz_inc.c -o $B/fuzz_inc -lm -pthread || failed=$((failed + 1))
clang $FLAGS tests/fuzz/fuzz_roundtrip.c -o $B/fuzz_roundtrip -lm -pthread || failed=$((failed + 1))
clang $FLAGS tests/fuzz/fuzz_gguf.c -o $B/fuzz_gguf -lm || failed=$((failed + 1))
clang $FLAGS tests/fuzz/fuzz_tokenizer.c -o $B/fuzz_tokenizer -lm || failed=$((failed + 1))
# tokenizer seeds: first byte 0 = a tokenizer.json, 1 = text for the built-in tokenizers, 2 = a NUL-separated spec
i=0
while IFS= read -r line && [ $i -lt 40 ]; do printf '\001%s' "$line" >$B/corpus_tokenizer/text$i; i=$((i + 1)); done <tests/fixtures/tokenizer/corpus.txt
printf '\002\000a\000b\000ab\000\000a b' >$B/corpus_tokenizer/spec
for f in tests/fixtures/tokenizer/bytebpe/tokenizer.json tests/fixtures/tokenizer/spm/tokenizer.json; do
    [ -f "$f" ] && { printf '\000'; cat "$f"; } >$B/corpus_tokenizer/json_$(basename "$(dirname "$f")")
done
cp tests/fixtures/gguf/*.gguf $B/corpus_gguf/
# INC seeds: first byte even = QUANT_CONFIG, odd = measurement / scale file
for f in ../shared/data/inc-configs/*.json; do [ -f "$f" ] && { printf '\000'; cat "$f"; } >$B/corpus_inc/cfg_$(basename "$f"); done
printf '\001{"GlobalRank": null, "LocalRank": null, "Mode": "DynamicRange", "Nodes": {"model.layers.0.self_attn.qkv_proj": {"inputs": [[[12.5]]], "outputs": [[[3.25]]], "params": {"weight": [[0.125]]}}, "model.layers.0.self_attn.attn.impl.matmul_qk": {"inputs": [[[1.5]], [[2.0]]], "outputs": [[[3.0]]]}, "model.layers.0.self_attn.attn.impl.k_cache": {"inputs": [[[7.25]]]}, "model.layers.0.self_attn.attn.impl.matmul_av": {"inputs": [[[1.0]], [[Infinity]]], "outputs": [[[NaN]]]}, "model.layers.0.self_attn.attn.impl.v_cache": {"inputs": [[[0.5], [0.25]]]}}}' >$B/corpus_inc/measure_dr
printf '\003{"NumSamples": 3, "Mode": "Scale", "LocalRank": -2, "Nodes": {"n": {"params": {"weight": {"0": [0.5, 0.25], "1": [1.0, 1.0]}, "b": 7}, "outputs": [[1, -0, 2.50, 1E2]], "inputs": [0.1, [[1e-5], [1.5e16]]]}}}' >$B/corpus_inc/measure_scale
# regex seeds: pattern NUL text, from names real configs use
i=0
for p in 'lm_head' 're:.*lm_head' '.*mlp\.down_proj$' 'model\.layers\.(0|1|31)\.self_attn' '(?:gate|up)_proj' \
    '^model\.layers\.\d{1,2}\.' '[^.]+_proj' 'a(?=b)' '(a*)*b' 'x{2,1}'; do
    printf '%s\000model.layers.12.mlp.down_proj' "$p" >$B/corpus_regex/seed$i
    i=$((i + 1))
done
cc -std=c99 -O2 tests/fuzz/make_seeds.c -o $B/make_seeds -lm && $B/make_seeds $B/corpus_safetensors || failed=$((failed + 1))
cp tests/fuzz/json_seeds/*.json $B/corpus_json/
# round-trip seeds: first byte even = a safetensors file, odd = float32 values
for f in $B/corpus_safetensors/*; do [ -f "$f" ] && { printf '\000'; cat "$f"; } >$B/corpus_roundtrip/st_$(basename "$f"); done
printf '\001\000\000\200\077\000\000\300\177\000\000\200\177\001\000\000\000\000\000\340\103' >$B/corpus_roundtrip/floats
for f in ../shared/data/inc-configs/*.json; do [ -f "$f" ] && cp "$f" $B/corpus_json/; done
[ "$failed" -eq 0 ] || { echo "$passed passed, $failed failed"; exit 1; }

run() { # target corpus extra-args
    log=$B/$1.log
    if ./$B/$1 $B/$2 -max_total_time="$SECONDS_EACH" -print_final_stats=1 -artifact_prefix=$B/artifacts/ $3 >"$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        echo "ok   $1: ${execs:-?} executions in ${SECONDS_EACH} s, no findings"
        passed=$((passed + 1))
    else
        echo "FAIL $1: finding (input saved in $B/artifacts/):"
        grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" | head -n 10 | sed 's/^/    /'
        failed=$((failed + 1))
    fi
}
run fuzz_json corpus_json "-dict=tests/fuzz/json.dict -max_len=65536"
run fuzz_safetensors corpus_safetensors "-max_len=65536"
run fuzz_regex corpus_regex "-dict=tests/fuzz/regex.dict -max_len=4096 -timeout=20"
run fuzz_inc corpus_inc "-dict=tests/fuzz/json.dict -max_len=65536"
run fuzz_roundtrip corpus_roundtrip "-max_len=65536"
run fuzz_gguf corpus_gguf "-max_len=65536"
run fuzz_tokenizer corpus_tokenizer "-dict=tests/fuzz/json.dict -max_len=65536"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
