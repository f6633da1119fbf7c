#!/bin/sh
# Runs test binaries, shows their output, and sums their closing lines
# "N passed, N failed[, N skipped]" into one closing line of the same form.
# A binary that crashes or prints no closing line counts as one failure.
# Usage: run_tests.sh BINARY... (a RUNNER prefix such as "qemu-s390x" may be
# given in $RUNNER).
passed=0 failed=0 skipped=0
for bin in "$@"; do
    echo "== $bin"
    out=$($RUNNER "$bin" 2>&1)
    status=$?
    out=$(printf '%s\n' "$out" | tr -d '\r')
    printf '%s\n' "$out" | grep -v '^ok ' # failures, notes and the summary
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ]; then
        echo "FAIL $bin: exit status $status and no summary line"
        failed=$((failed + 1))
        continue
    fi
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + ${s:-0}))
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $bin: exit status $status"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
