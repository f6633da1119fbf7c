#!/bin/sh
# `make check` step: the test suite under valgrind memcheck (scalar and
# default builds of every test program, and the command-line tool through
# tests/test_cli.sh). Any error or definitely/indirectly lost block fails.
# Ends with "N passed, N failed".
B=${1:-build}/valgrind
export FP8Q_TEST_VALGRIND=1 # tests/test_json.c skips what needs 80-bit long double
VG="valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite,indirect"
mkdir -p "$B"
passed=0 failed=0
CFLAGS_VG="-std=c99 -pedantic -Wall -Wextra -Werror -O1 -g"
for t in fp8q json safetensors config regex inc_config inc_scales model hostile gguf trace gaudi tokenizer; do
    flags=""
    [ "$t" = fp8q ] && flags="-DFP8Q_NO_SIMD"
    if cc $CFLAGS_VG -I. $flags "tests/test_$t.c" -o "$B/test_$t" -lm -pthread && $VG "$B/test_$t" >"$B/test_$t.log" 2>&1; then
        passed=$((passed + 1))
        echo "ok   valgrind test_$t: $(tail -n 1 "$B/test_$t.log")"
    else
        failed=$((failed + 1))
        echo "FAIL valgrind test_$t"
        grep -E "==[0-9]+==|FAIL" "$B/test_$t.log" | head -n 20 | sed 's/^/    /'
    fi
done
if cc $CFLAGS_VG -I. tools/fp8q.c tools/cli_vectors.c -o "$B/fp8q" -lm -pthread && RUNNER="$VG" sh tests/test_cli.sh "$B" >"$B/cli.log" 2>&1; then
    passed=$((passed + 1))
    echo "ok   valgrind fp8q CLI: $(tail -n 1 "$B/cli.log")"
else
    failed=$((failed + 1))
    echo "FAIL valgrind fp8q CLI"
    grep -E "FAIL|==[0-9]+==" "$B/cli.log" | head -n 20 | sed 's/^/    /'
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
