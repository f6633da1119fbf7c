#!/bin/sh
# The Python bridge (python/fp8q.py over build/libfp8q.so) against the C
# library's conformance vectors and independent Python references. Needs
# python3 with numpy; without them it reports itself skipped (a failure
# under CI=true). Usage: tests/test_python.sh [BUILD_DIR]
B=${1:-build}
if ! python3 -c "import numpy" >/dev/null 2>&1; then
    if [ "${CI:-}" = true ]; then echo "FAIL python bridge: python3 with numpy not available"; echo "0 passed, 1 failed"; exit 1; fi
    echo "skipped: python bridge (python3 with numpy not available)"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
rm -rf "$B/vectors"
if ! "$B/fp8q" vectors "$B/vectors" >"$B/vectors.log" 2>&1; then
    echo "FAIL fp8q vectors $B/vectors:"; sed 's/^/    /' "$B/vectors.log"; echo "0 passed, 1 failed"; exit 1
fi
exec python3 tests/test_python.py "$B/libfp8q.so" --vectors "$B/vectors"
