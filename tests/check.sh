#!/bin/sh
# `make check`: everything `make test` does not cover (it runs after it).
# Each step prints "ok", "FAIL" or "skipped"; a step whose tool is missing is
# skipped, except under CI=true, where it fails. Ends with
# "N passed, N failed, N skipped" over the steps.
# Environment: CC (host compiler), CUDA_INC (CUDA include dir, may be empty).
set -u
BUILD=build
STRICT="-std=c99 -pedantic -Wall -Wextra -Werror"
passed=0 failed=0 skipped=0
mkdir -p $BUILD

ok() { passed=$((passed + 1)); echo "ok      $1"; }
fail() { failed=$((failed + 1)); echo "FAIL    $1"; }
missing() { # step, tool
    if [ "${CI:-}" = true ]; then fail "$1: '$2' not installed (required under CI=true)"
    else skipped=$((skipped + 1)); echo "skipped $1: '$2' not installed"; fi
}
have() { command -v "$1" >/dev/null 2>&1; }

# step NAME COMMAND...: run, keep the log, show it on failure
step() {
    name=$1; shift
    log=$BUILD/check_$(echo "$name" | tr -c 'a-zA-Z0-9\n' '_').log
    if "$@" >"$log" 2>&1; then ok "$name"
    else fail "$name"; sed 's/^/    /' "$log" | tail -n 40; fi
}

echo "== exhaustive: all 2^32 floats, all halfs/bf16, doubles, decodes vs CUDA and every SIMD level"
if CI=${CI:-} ./$BUILD/check_exhaustive 2 >$BUILD/check_exhaustive.log 2>&1; then
    ok "exhaustive comparison ($(tail -n 1 $BUILD/check_exhaustive.log))"
else
    fail "exhaustive comparison"
fi
grep -v '^ok ' $BUILD/check_exhaustive.log | sed 's/^/    /'

echo "== Gaudi numerics: RNE on all 2^32 floats for every Gaudi2 format and Gaudi3 biases 0/7/63 (143), 0/15/63 (152) per inf/NaN mode; other roundings on all 384 formats"
step "Gaudi numerics vs an independent reference (tests/check_gaudi.c; --all for every Gaudi3 bias)" sh -c "make -s $BUILD/check_gaudi && ./$BUILD/check_gaudi"

echo "== conformance vectors (fp8q vectors) vs CUDA's host conversions"
if [ -n "${CUDA_INC:-}" ]; then
    step "every E4M3/E5M2/E8M0 vector line equals cuda_fp8.h's host code" sh -c "rm -rf $BUILD/vectors_cuda && ./$BUILD/fp8q vectors $BUILD/vectors_cuda >/dev/null && $CC -std=c99 -O2 -isystem $CUDA_INC tests/check_vectors_cuda.c -o $BUILD/check_vectors_cuda -lm && ./$BUILD/check_vectors_cuda $BUILD/vectors_cuda"
else missing "vectors vs CUDA" "CUDA headers (cuda_fp8.h)"; fi

echo "== compilers and build modes"
if have clang; then
    step "clang $STRICT, run" sh -c "clang $STRICT -O2 tests/test_fp8q.c -lm -pthread -o $BUILD/test_clang && sh tests/run_tests.sh $BUILD/test_clang"
    step "clang -mavx2 -mf16c -mfma (contraction available), run: conversions and model" sh -c "clang $STRICT -O2 -mavx2 -mf16c -mfma tests/test_fp8q.c -lm -pthread -o $BUILD/test_clang_avx2 && clang $STRICT -O2 -mavx2 -mf16c -mfma tests/test_model.c -lm -pthread -o $BUILD/test_model_clang_fma && sh tests/run_tests.sh $BUILD/test_clang_avx2 $BUILD/test_model_clang_fma"
else missing "clang build" clang; fi
if have g++; then
    step "C++: g++ -std=c++11 -pedantic -Wall -Wextra -Werror, run" sh -c "g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O2 tests/test_cpp.cpp -o $BUILD/test_cpp && sh tests/run_tests.sh $BUILD/test_cpp"
    step "C++: g++ -std=c++11 -Werror with AVX-512, AVX2, F16C, FMA, run" sh -c "g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O2 -mavx512f -mavx2 -mf16c -mfma tests/test_cpp.cpp -o $BUILD/test_cpp_avx512 && sh tests/run_tests.sh $BUILD/test_cpp_avx512"
else missing "C++ build" g++; fi
if have tcc; then
    step "tcc build, run" sh -c "tcc -Wall -Werror tests/test_fp8q.c -lm -o $BUILD/test_tcc && sh tests/run_tests.sh $BUILD/test_tcc"
else missing "tcc build" tcc; fi
step "FP8Q_STATIC: two copies linked into one program" sh -c "$CC $STRICT -O2 -c tests/static_a.c -o $BUILD/static_a.o && $CC $STRICT -O2 -c tests/static_b.c -o $BUILD/static_b.o && $CC $BUILD/static_a.o $BUILD/static_b.o -o $BUILD/test_static -lm -pthread && sh tests/run_tests.sh $BUILD/test_static"
step "host freestanding build (-ffreestanding -nostdlib): no undefined symbols" sh -c "$CC $STRICT -ffreestanding -nostdlib -O2 -c tests/freestanding.c -o $BUILD/fs_host.o && test -z \"\$(nm -u $BUILD/fs_host.o)\""
if have arm-none-eabi-gcc; then
    FS="$STRICT -ffreestanding -nostdlib -Os -mthumb"
    if arm-none-eabi-gcc $FS -mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16 -c tests/freestanding.c -o $BUILD/fs_m4.o >$BUILD/fs.log 2>&1 &&
        [ -z "$(arm-none-eabi-nm -u $BUILD/fs_m4.o)" ]; then
        ok "freestanding arm-none-eabi Cortex-M4F -Os: no undefined symbols, $(arm-none-eabi-size $BUILD/fs_m4.o | awk 'NR==2 {print $1}') bytes of code, $(arm-none-eabi-size $BUILD/fs_m4.o | awk 'NR==2 {print $2+$3}') bytes of data"
    else fail "freestanding arm-none-eabi Cortex-M4F"; cat $BUILD/fs.log; arm-none-eabi-nm -u $BUILD/fs_m4.o; fi
    # Soft-float, no 64-bit shifter: the core needs the compiler runtime
    # (libgcc's __aeabi_ helpers for 64-bit shifts and the bulk scale's float
    # arithmetic), never libc.
    if arm-none-eabi-gcc $FS -mcpu=cortex-m0 -c tests/freestanding.c -o $BUILD/fs_m0.o >$BUILD/fs.log 2>&1 &&
        [ -z "$(arm-none-eabi-nm -u $BUILD/fs_m0.o | grep -v ' __aeabi_')" ]; then
        ok "freestanding arm-none-eabi Cortex-M0 soft-float -Os: $(arm-none-eabi-size $BUILD/fs_m0.o | awk 'NR==2 {print $1}') bytes of code, needs only the compiler runtime: $(arm-none-eabi-nm -u $BUILD/fs_m0.o | awk '{print $2}' | tr '\n' ' ')"
    else fail "freestanding arm-none-eabi Cortex-M0"; cat $BUILD/fs.log; arm-none-eabi-nm -u $BUILD/fs_m0.o; fi
else missing "freestanding arm-none-eabi build" arm-none-eabi-gcc; fi

echo "== other machines"
if have s390x-linux-gnu-gcc && have qemu-s390x; then
    step "big-endian s390x (qemu-s390x), full suite" sh -c "s390x-linux-gnu-gcc $STRICT -O2 -static tests/test_fp8q.c -lm -o $BUILD/test_s390x && s390x-linux-gnu-gcc $STRICT -O2 -static tests/test_json.c -lm -o $BUILD/test_json_s390x && s390x-linux-gnu-gcc $STRICT -O2 -static tests/test_safetensors.c -lm -o $BUILD/test_st_s390x && RUNNER=qemu-s390x sh tests/run_tests.sh $BUILD/test_s390x $BUILD/test_json_s390x $BUILD/test_st_s390x && qemu-s390x $BUILD/test_s390x | grep -q big-endian"
    # The model computes in float32; s390x GCC evaluates float expressions in
    # double under -std=c99 (FLT_EVAL_METHOD 1), which moves results by ulps
    # and can flip an FP8 activation code: -fexcess-precision=fast gives
    # float32 arithmetic (README, "Model numerics").
    step "big-endian s390x (qemu-s390x): model, checkpoint writer, regex, CLI" sh -c "s390x-linux-gnu-gcc $STRICT -fexcess-precision=fast -O2 -static tests/test_model.c -lm -pthread -o $BUILD/test_model_s390x && s390x-linux-gnu-gcc $STRICT -O2 -static tests/test_regex.c -lm -pthread -o $BUILD/test_regex_s390x && mkdir -p $BUILD/s390x && s390x-linux-gnu-gcc $STRICT -O2 -static -I. tools/fp8q.c tools/cli_vectors.c -lm -pthread -o $BUILD/s390x/fp8q && RUNNER=qemu-s390x sh tests/run_tests.sh $BUILD/test_model_s390x $BUILD/test_regex_s390x && RUNNER=qemu-s390x sh tests/test_cli.sh $BUILD/s390x"
else missing "big-endian s390x" "s390x-linux-gnu-gcc/qemu-s390x"; fi
if have aarch64-linux-gnu-gcc && have qemu-aarch64; then
    step "AArch64 NEON (qemu-aarch64), full suite" sh -c "aarch64-linux-gnu-gcc $STRICT -O2 -static tests/test_fp8q.c -lm -o $BUILD/test_aarch64 && RUNNER=qemu-aarch64 sh tests/run_tests.sh $BUILD/test_aarch64 && qemu-aarch64 $BUILD/test_aarch64 | grep -q 'bulk path: neon'"
else missing "AArch64 NEON" "aarch64-linux-gnu-gcc/qemu-aarch64"; fi
if have x86_64-w64-mingw32-gcc && have wine; then
    export WINEDEBUG=-all WINEPREFIX="${WINEPREFIX:-$(pwd)/$BUILD/wineprefix}"
    step "Windows x86-64 (mingw-w64, wine), full suite" sh -c "x86_64-w64-mingw32-gcc $STRICT -O2 tests/test_fp8q.c -o $BUILD/test_win.exe && x86_64-w64-mingw32-gcc $STRICT -O2 tests/test_json.c -o $BUILD/test_json_win.exe && x86_64-w64-mingw32-gcc $STRICT -O2 tests/test_safetensors.c -o $BUILD/test_st_win.exe && RUNNER=wine sh tests/run_tests.sh $BUILD/test_win.exe $BUILD/test_json_win.exe $BUILD/test_st_win.exe"
    step "Windows x86-64 (mingw-w64, wine): regex, command-line tool" sh -c "x86_64-w64-mingw32-gcc $STRICT -O2 tests/test_regex.c -o $BUILD/test_regex_win.exe && mkdir -p $BUILD/win && x86_64-w64-mingw32-gcc $STRICT -O2 -I. tools/fp8q.c tools/cli_vectors.c -o $BUILD/win/fp8q.exe && RUNNER=wine sh tests/run_tests.sh $BUILD/test_regex_win.exe && RUNNER=wine sh tests/test_cli.sh $BUILD/win"
else missing "Windows mingw-w64/wine" "x86_64-w64-mingw32-gcc/wine"; fi

echo "== sanitizers and layout"
if have clang; then
    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1"
    step "ASan+UBSan (clang), scalar" sh -c "clang $STRICT $SAN -DFP8Q_NO_SIMD tests/test_fp8q.c -lm -pthread -o $BUILD/test_asan && sh tests/run_tests.sh $BUILD/test_asan"
    step "ASan+UBSan (clang), avx2" sh -c "clang $STRICT $SAN -mavx2 -mf16c -mfma tests/test_fp8q.c -lm -pthread -o $BUILD/test_asan_avx2 && sh tests/run_tests.sh $BUILD/test_asan_avx2"
    step "ASan+UBSan (clang), JSON parser" sh -c "clang $STRICT $SAN tests/test_json.c -lm -o $BUILD/test_json_asan && sh tests/run_tests.sh $BUILD/test_json_asan"
    step "ASan+UBSan (clang), safetensors" sh -c "clang $STRICT $SAN tests/test_safetensors.c -lm -o $BUILD/test_st_asan && clang $STRICT $SAN -DFP8Q_NO_MMAP -DFP8Q_MAX_TENSORS=5 -DFP8Q_MAX_HEADER_SIZE=4096 tests/test_safetensors.c -lm -o $BUILD/test_st_asan_limits && sh tests/run_tests.sh $BUILD/test_st_asan $BUILD/test_st_asan_limits"
    step "ASan+UBSan (clang), config.json and checkpoints" sh -c "clang $STRICT $SAN tests/test_config.c -lm -o $BUILD/test_config_asan && sh tests/run_tests.sh $BUILD/test_config_asan"
    step "ASan+UBSan (clang), model, writer, regex, INC config and scales" sh -c "clang $STRICT $SAN tests/test_model.c -lm -pthread -o $BUILD/test_model_asan && clang $STRICT $SAN tests/test_regex.c -lm -pthread -o $BUILD/test_regex_asan && clang $STRICT $SAN tests/test_inc_config.c -lm -pthread -o $BUILD/test_inc_config_asan && clang $STRICT $SAN tests/test_inc_scales.c -lm -pthread -o $BUILD/test_inc_scales_asan && sh tests/run_tests.sh $BUILD/test_model_asan $BUILD/test_regex_asan $BUILD/test_inc_config_asan $BUILD/test_inc_scales_asan"
    step "ASan+UBSan (clang), Gaudi numerics and the Gaudi backend on the fake Synapse runtime" sh -c "clang $STRICT $SAN -I. tests/test_gaudi.c -lm -o $BUILD/test_gaudi_asan && clang $STRICT $SAN -fPIC -shared -I. tests/fake_synapse.c -lm -o $BUILD/libfake_synapse_asan.so && clang $STRICT $SAN -I. tests/test_hpu.c fp8q_hpu.c -ldl -lm -pthread -o $BUILD/test_hpu_asan && FAKE_SYNAPSE_PATH=$BUILD/libfake_synapse_asan.so sh tests/run_tests.sh $BUILD/test_gaudi_asan $BUILD/test_hpu_asan"
    step "ASan+UBSan (clang), GGUF (mmap and fread), traces and diff, tokenizer" sh -c "clang $STRICT $SAN -I. tests/test_gguf.c -lm -pthread -o $BUILD/test_gguf_asan && clang $STRICT $SAN -I. -DFP8Q_NO_MMAP tests/test_gguf.c -lm -pthread -o $BUILD/test_gguf_nommap_asan && clang $STRICT $SAN -I. tests/test_trace.c -lm -pthread -o $BUILD/test_trace_asan && clang $STRICT $SAN -I. tests/test_tokenizer.c -lm -o $BUILD/test_tokenizer_asan && sh tests/run_tests.sh $BUILD/test_gguf_asan $BUILD/test_gguf_nommap_asan $BUILD/test_trace_asan $BUILD/test_tokenizer_asan"
    step "ASan+UBSan (clang), hostile inputs (mmap and fread) and concurrency" sh -c "clang $STRICT $SAN tests/test_hostile.c -lm -pthread -o $BUILD/test_hostile_asan && clang $STRICT $SAN -DFP8Q_NO_MMAP tests/test_hostile.c -lm -pthread -o $BUILD/test_hostile_nommap_asan && clang $STRICT $SAN tests/test_concurrency.c -lm -pthread -o $BUILD/test_concurrency_asan && sh tests/run_tests.sh $BUILD/test_hostile_asan $BUILD/test_hostile_nommap_asan $BUILD/test_concurrency_asan"
    step "TSan (clang): concurrency, sse2 and avx2" sh -c "clang $STRICT -fsanitize=thread -g -O1 tests/test_concurrency.c -lm -pthread -o $BUILD/test_concurrency_tsan && clang $STRICT -fsanitize=thread -g -O1 -mavx2 -mf16c -mfma tests/test_concurrency.c -lm -pthread -o $BUILD/test_concurrency_tsan_avx2 && sh tests/run_tests.sh $BUILD/test_concurrency_tsan $BUILD/test_concurrency_tsan_avx2"
    step "ASan+UBSan (clang), command-line tool" sh -c "mkdir -p $BUILD/asan && clang $STRICT $SAN -I. tools/fp8q.c tools/cli_vectors.c -lm -pthread -o $BUILD/asan/fp8q && sh tests/test_cli.sh $BUILD/asan"
    step "ASan+UBSan (clang), avx512" sh -c "clang $STRICT $SAN -mavx512f tests/test_fp8q.c -lm -pthread -o $BUILD/test_asan_avx512 && sh tests/run_tests.sh $BUILD/test_asan_avx512"
else missing "ASan+UBSan" clang; fi
if have clang; then
    step "libFuzzer (ASan+UBSan): JSON, safetensors, regex, INC parsers and round trips, ${FUZZ_SECONDS:-60} s each" sh -c "FUZZ_SECONDS=${FUZZ_SECONDS:-60} sh tests/fuzz/run.sh"
else missing "libFuzzer" clang; fi
if have valgrind; then
    step "valgrind memcheck: every test program and the CLI" sh tests/valgrind.sh "$BUILD"
else missing "valgrind" valgrind; fi
if have clang-format; then
    step "clang-format --dry-run -Werror" clang-format --dry-run -Werror fp8q.h fp8q_hpu.c fp8q_cuda.cu examples/*.c tools/*.c tests/*.c tests/*.h tests/*.cpp tests/fuzz/*.c bench/*.c bench/*.h bench/*.cu
else missing "clang-format" clang-format; fi

echo "== CUDA backend: compiled and linked (runs on a GPU with make gpu-test)"
if have nvcc; then
    for a in 80 89 90; do
        step "nvcc fp8q_cuda.cu for sm_$a, -Werror all-warnings" sh -c "nvcc -std=c++17 -O3 -Xcompiler -Wall,-Wextra -Werror all-warnings -gencode arch=compute_$a,code=sm_$a -I. -c fp8q_cuda.cu -o $BUILD/fp8q_cuda_sm$a.o"
    done
    step "CUDA test program (host parts; GPU parts say skipped without a device)" sh -c "make -s $BUILD/test_cuda && sh tests/run_tests.sh $BUILD/test_cuda"
    step "the CLI linked with the CUDA backend (build/fp8q-cuda): its tests, --device cuda without a device" sh -c "make -s $BUILD/fp8q-cuda && mkdir -p $BUILD/cli-cuda && cp $BUILD/fp8q-cuda $BUILD/cli-cuda/fp8q && sh tests/test_cli.sh $BUILD/cli-cuda"
else missing "CUDA backend" nvcc; fi

echo "== examples"
step "examples/check_gemm_kernel.c: a float32 kernel passes, a bf16-accumulating one is caught" sh -c "$CC $STRICT -O2 -I. examples/check_gemm_kernel.c -o $BUILD/check_gemm_kernel -lm -pthread && ./$BUILD/check_gemm_kernel"

echo "== consumers"
step "make install PREFIX=... then compile against it" sh -c "rm -rf $BUILD/prefix && make -s install PREFIX=$(pwd)/$BUILD/prefix && $CC $STRICT -I$BUILD/prefix/include examples/demo.c -lm -o $BUILD/demo_installed && ./$BUILD/demo_installed >/dev/null"
if have cmake; then
    step "CMake: add_subdirectory + target_link_libraries(fp8q::fp8q)" sh -c "rm -rf $BUILD/cmake && cmake -S tests/cmake_consumer -B $BUILD/cmake >/dev/null && cmake --build $BUILD/cmake >/dev/null && ./$BUILD/cmake/consumer"
    step "CMake: install, then find_package(fp8q)" sh -c "rm -rf $BUILD/cmake_inst $BUILD/cmake_prefix $BUILD/cmake_fp && cmake -S . -B $BUILD/cmake_inst -DCMAKE_INSTALL_PREFIX=$(pwd)/$BUILD/cmake_prefix >/dev/null && cmake --install $BUILD/cmake_inst >/dev/null && cmake -S tests/cmake_consumer -B $BUILD/cmake_fp -DUSE_FIND_PACKAGE=ON -DCMAKE_PREFIX_PATH=$(pwd)/$BUILD/cmake_prefix >/dev/null && cmake --build $BUILD/cmake_fp >/dev/null && ./$BUILD/cmake_fp/consumer"
else missing "CMake consumer" cmake; fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
