#!/bin/sh
# Builds llama.cpp (llama-bench, llama-quantize, llama-perplexity) from the
# source distribution of the PyPI package llama-cpp-python, which carries
# llama.cpp under vendor/, into a cache folder, and prints the bin directory.
# Needs cmake and a C++ compiler. Usage: sh tools/build_llamacpp.sh [CACHE_DIR]
set -u
cache=${1:-${FP8Q_CACHE:-build/cache}}
version=0.3.36
src=$cache/llama_cpp_python-$version/vendor/llama.cpp
bin=$src/build/bin
if [ -x "$bin/llama-bench" ] && [ -x "$bin/llama-quantize" ] && [ -x "$bin/llama-perplexity" ]; then echo "$bin"; exit 0; fi
mkdir -p "$cache" || exit 1
if [ ! -d "$src" ]; then
    if ! python3 -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$cache" >"$cache/pip-llamacpp.log" 2>&1; then
        echo "build_llamacpp: cannot download llama-cpp-python $version (offline?); see $cache/pip-llamacpp.log" >&2
        exit 1
    fi
    tar xzf "$cache/llama_cpp_python-$version.tar.gz" -C "$cache" "llama_cpp_python-$version/vendor/llama.cpp" || exit 1
    rm -f "$cache/llama_cpp_python-$version.tar.gz"
fi
(cd "$src" && cmake -B build -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DBUILD_SHARED_LIBS=OFF >build-cmake.log 2>&1 &&
    cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target llama-bench llama-quantize llama-perplexity \
        >build.log 2>&1) || { echo "build_llamacpp: build failed; see $src/build.log" >&2; exit 1; }
echo "$bin"
