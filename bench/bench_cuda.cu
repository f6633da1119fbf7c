/* bench_cuda.cu - speed of fp8q's CUDA backend (fp8q_cuda.cu) against the device's peaks and cuBLASLt.

   An example program, not a test: it prints a table and exits 0 (also without a device: "skipped: no CUDA
   device"). Targets are reported as PASS/MISS, never as a failure.

   Build and run from the repository root (fp8q's implementation comes from a C object):

       gcc -std=c99 -O2 -x c -DFP8Q_IMPLEMENTATION -c fp8q.h -o build/fp8q_impl.o
       nvcc -std=c++17 -O3 -gencode arch=compute_80,code=sm_80 -gencode arch=compute_89,code=sm_89 \
            -gencode arch=compute_90,code=sm_90 -I. bench/bench_cuda.cu fp8q_cuda.cu build/fp8q_impl.o \
            -o build/bench_cuda -lcublasLt
       ./build/bench_cuda            full run
       ./build/bench_cuda --quick    smaller buffers and fewer repetitions

   Everything runs device-resident (the fp8q_cuda_*_dev entry points on device buffers, timed with CUDA events
   on the backend's stream, after warm-up runs); host copies are not included.

   Peak memory bandwidth = 2 x memory clock x bus width (cudaDevAttrMemoryClockRate, ..GlobalMemoryBusWidth;
   CUDA 13's cudaDeviceProp has no clock fields), e.g. H100 SXM 2 x 2619 MHz x 640 B = 3.35 TB/s. A
   device-to-device cudaMemcpyAsync is measured in the same run as the achievable reference.
   Conversion / quantization bandwidth = bytes read + written / time, with the bytes an ideal kernel moves
   (f32 -> fp8: 5 per element; f16/bf16 -> fp8: 3). The per-tensor quantization reads x twice (amax pass,
   then cast): its DRAM traffic is 9 bytes per element, printed as "traffic".

   FP8 dense peak = SMs x boost clock (cudaDevAttrClockRate) x dense FP8 FLOP per clock per SM (FP32
   accumulation), from NVIDIA's published dense FP8 TFLOPS divided by SMs x boost clock:
     sm_89  2048 (L40S 733 TFLOPS = 142 SMs x 2.52 GHz x 2048); GeForce Ada 1024 (RTX 4090 330 TFLOPS with
            FP32 accumulation = 128 x 2.52 GHz x 1024)
     sm_90  8192 (H100 SXM 1979 TFLOPS = 132 x 1.83 GHz x 8192; NUMERICS.md 4.2)
     sm_100 16384 (B200 4.5 PFLOPS; unconfirmed)   sm_120 GeForce 1024, others 2048 (unconfirmed)
   The attribute clock is the maximum boost (H100 SXM: 1980 MHz, above the 1830 MHz of the datasheet
   figure), so the ratio is if anything pessimistic. GEMM: 8192^3, E4M3 x E4M3 -> BF16, per-tensor scales,
   through fp8q_cuda_gemm_dev and through a direct cuBLASLt call with the same settings (TN, FP32 compute,
   fast accumulation off, 32 MiB workspace, the heuristic's first algorithm); also per-token x per-channel
   scales and fp8q's SIMT engine (smaller) for reference.

   Decode: batch-1 tokens/s of fp8q_forward on a device state (fp8q_state_init_backend) for a synthetic
   Llama-3-8B-shaped model (32 layers, hidden 4096, FFN 14336, 32 heads, 8 KV heads, vocab 128256): random E4M3
   weights with per-tensor scales, dynamic per-token activations (vLLM's fp8-dynamic), E4M3 KV cache, BF16
   embeddings and lm_head, built in host memory (the layers share one set of host buffers; each gets its own
   device copy). Timed on the host clock over 64 tokens after 8 warm-up tokens (each call ends with the logits'
   download). Roofline = peak bandwidth / bytes one token must read (the FP8 weights, the BF16 lm_head, norms,
   and the KV cache at the mean position). --quick: 4 layers.

   Targets (issue 6): conversion >= 80 % of peak bandwidth; GEMM >= 65 % of the FP8 dense peak; decode >= 60 %
   of the roofline. */
#include "fp8q.h"

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <math.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vector>

/* ---- fp8q_cuda.cu's device-pointer API (declared there until fp8q.h has it) */
extern "C" {
typedef enum fp8q_cuda_gemm_engine { FP8Q_CUDA_GEMM_AUTO = 0, FP8Q_CUDA_GEMM_SIMT = 1 } fp8q_cuda_gemm_engine;
typedef enum fp8q_cuda_gemm_path {
    FP8Q_CUDA_PATH_NONE = 0,
    FP8Q_CUDA_PATH_CUBLASLT = 1,
    FP8Q_CUDA_PATH_SIMT = 2
} fp8q_cuda_gemm_path;
fp8q_result fp8q_cuda_set_gemm_engine(fp8q_backend *b, fp8q_cuda_gemm_engine engine, fp8q_error *err);
fp8q_cuda_gemm_path fp8q_cuda_last_gemm_path(const fp8q_backend *b);
int fp8q_cuda_compute_capability(const fp8q_backend *b);
void *fp8q_cuda_stream(fp8q_backend *b);
fp8q_result fp8q_cuda_encode_dev(fp8q_backend *b, uint8_t *dst, const void *src, fp8q_dtype src_type, size_t n,
                                 fp8q_format fmt, fp8q_saturation sat, fp8q_scale_op op, float scale, fp8q_error *err);
fp8q_result fp8q_cuda_quantize_dev(fp8q_backend *b, uint8_t *q, float *scales, const float *x, size_t rows, size_t cols,
                                   const fp8q_recipe *r, int dynamic, fp8q_error *err);
fp8q_result fp8q_cuda_gemm_dev(fp8q_backend *b, const fp8q_gemm *g, fp8q_error *err);
}

static int g_quick;

#define CHECK_CUDA(call)                                                                                               \
    do {                                                                                                               \
        cudaError_t e_ = (call);                                                                                       \
        if (e_ != cudaSuccess) {                                                                                       \
            printf("benchmark: %s failed: %s\n", #call, cudaGetErrorString(e_));                                       \
            exit(0);                                                                                                   \
        }                                                                                                              \
    } while (0)

#define CHECK_LT(call)                                                                                                 \
    do {                                                                                                               \
        cublasStatus_t s_ = (call);                                                                                    \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                                             \
            printf("benchmark: %s failed: %s\n", #call, cublasLtGetStatusName(s_));                                    \
            exit(0);                                                                                                   \
        }                                                                                                              \
    } while (0)

static void check_fp8q(fp8q_result r, const fp8q_error &err, const char *what)
{
    if (r != FP8Q_OK) {
        printf("benchmark: %s failed: %s\n", what, err.message);
        exit(0);
    }
}

/* Mean milliseconds of one call of f on stream s: warm-up, then iters timed together. */
template <class F> static double time_ms(cudaStream_t s, int iters, F f)
{
    cudaEvent_t t0, t1;
    float ms = 0;
    for (int i = 0; i < 2; i++) f();
    CHECK_CUDA(cudaStreamSynchronize(s));
    CHECK_CUDA(cudaEventCreate(&t0));
    CHECK_CUDA(cudaEventCreate(&t1));
    CHECK_CUDA(cudaEventRecord(t0, s));
    for (int i = 0; i < iters; i++) f();
    CHECK_CUDA(cudaEventRecord(t1, s));
    CHECK_CUDA(cudaEventSynchronize(t1));
    CHECK_CUDA(cudaEventElapsedTime(&ms, t0, t1));
    CHECK_CUDA(cudaEventDestroy(t0));
    CHECK_CUDA(cudaEventDestroy(t1));
    return (double)ms / iters;
}

static void *dev_alloc(size_t bytes)
{
    void *p = NULL;
    CHECK_CUDA(cudaMalloc(&p, bytes));
    return p;
}

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint32_t next_u32(void)
{
    g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}

/* Device buffer of n floats, uniform in [-2, 2) with a few larger values. */
static float *dev_floats(size_t n)
{
    std::vector<float> h(n);
    for (size_t i = 0; i < n; i++) h[i] = ((float)(next_u32() % 65536) - 32768.0f) / 16384.0f * (i % 97 ? 1 : 100);
    float *d = (float *)dev_alloc(n * sizeof(float));
    CHECK_CUDA(cudaMemcpy(d, h.data(), n * sizeof(float), cudaMemcpyHostToDevice));
    return d;
}

/* n finite E4M3 codes (NaN bytes 7F/FF turned into 78/F8). */
static std::vector<uint8_t> random_e4m3(size_t n)
{
    std::vector<uint8_t> h(n);
    for (size_t i = 0; i < n; i++) {
        uint8_t v = (uint8_t)next_u32();
        h[i] = (v & 0x7F) == 0x7F ? (uint8_t)(v & 0xF8) : v;
    }
    return h;
}

/* Device buffer of n finite E4M3 codes. */
static uint8_t *dev_e4m3(size_t n)
{
    const std::vector<uint8_t> h = random_e4m3(n);
    uint8_t *d = (uint8_t *)dev_alloc(n);
    CHECK_CUDA(cudaMemcpy(d, h.data(), n, cudaMemcpyHostToDevice));
    return d;
}

static const char *verdict(double ratio, double target) { return ratio >= target ? "PASS" : "MISS"; }

/* Dense FP8 FLOP per clock per SM (FP32 accumulation), 0 when unknown or absent. */
static double fp8_flop_per_clock_sm(int cc, const char *name)
{
    const int geforce = strstr(name, "GeForce") != NULL;
    if (cc == 89) return geforce ? 1024 : 2048;
    if (cc == 90) return 8192;
    if (cc == 100 || cc == 103) return 16384;
    if (cc == 120 || cc == 121) return geforce ? 1024 : 2048;
    return 0;
}

struct device_info {
    int sm, clock_khz, mem_khz, bus_bits;
    double peak_bw, peak_fp8;
};

static device_info query_device(int cc, const char *name)
{
    device_info d;
    int dev = 0;
    CHECK_CUDA(cudaGetDevice(&dev));
    CHECK_CUDA(cudaDeviceGetAttribute(&d.sm, cudaDevAttrMultiProcessorCount, dev));
    CHECK_CUDA(cudaDeviceGetAttribute(&d.clock_khz, cudaDevAttrClockRate, dev));
    CHECK_CUDA(cudaDeviceGetAttribute(&d.mem_khz, cudaDevAttrMemoryClockRate, dev));
    CHECK_CUDA(cudaDeviceGetAttribute(&d.bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev));
    d.peak_bw = 2.0 * d.mem_khz * 1e3 * (d.bus_bits / 8.0);
    d.peak_fp8 = d.sm * (d.clock_khz * 1e3) * fp8_flop_per_clock_sm(cc, name);
    return d;
}

static void bench_bandwidth(fp8q_backend *b, cudaStream_t s, const device_info &di)
{
    const size_t n = g_quick ? (size_t)1 << 26 : (size_t)1 << 28; /* 256 MiB / 1 GiB of floats: far above L2 */
    const int iters = g_quick ? 5 : 20;
    float *x = dev_floats(n);
    uint8_t *q = (uint8_t *)dev_alloc(n);
    float *scales = (float *)dev_alloc((n / 4096 + 1) * sizeof(float));
    void *copy_dst = dev_alloc(n * sizeof(float));
    fp8q_error err;
    double ms, copy_bw;
    printf("\nbandwidth (%zu elements, %d runs): GB/s and fraction of the %.0f GB/s peak\n", n, iters,
           di.peak_bw / 1e9);
    ms = time_ms(s, iters, [&] { CHECK_CUDA(cudaMemcpyAsync(copy_dst, x, n * 4, cudaMemcpyDeviceToDevice, s)); });
    copy_bw = 2.0 * n * 4 / (ms * 1e-3);
    printf("  %-44s %8.1f GB/s  %5.1f %% of peak (reference)\n", "cudaMemcpy device to device", copy_bw / 1e9,
           100 * copy_bw / di.peak_bw);
    struct conv {
        const char *name;
        fp8q_dtype t;
        fp8q_format f;
        fp8q_saturation sat;
        fp8q_scale_op op;
    } convs[] = {{"encode f32 -> e4m3 satfinite", FP8Q_F32, FP8Q_E4M3, FP8Q_SATFINITE, FP8Q_SCALE_NONE},
                 {"encode f32 -> e4m3 nosat, x / s", FP8Q_F32, FP8Q_E4M3, FP8Q_NOSAT, FP8Q_SCALE_DIV},
                 {"encode f32 -> e5m2 satfinite, x * s", FP8Q_F32, FP8Q_E5M2, FP8Q_SATFINITE, FP8Q_SCALE_MUL},
                 {"encode bf16 -> e4m3 satfinite", FP8Q_BF16, FP8Q_E4M3, FP8Q_SATFINITE, FP8Q_SCALE_NONE},
                 {"encode f16 -> e4m3 satfinite", FP8Q_F16, FP8Q_E4M3, FP8Q_SATFINITE, FP8Q_SCALE_NONE}};
    for (const conv &c : convs) {
        const size_t es = c.t == FP8Q_F32 ? 4 : 2;
        ms = time_ms(s, iters, [&] {
            check_fp8q(fp8q_cuda_encode_dev(b, q, x, c.t, n, c.f, c.sat, c.op, 0.37f, &err), err, c.name);
        });
        const double bw = (double)n * (es + 1) / (ms * 1e-3); /* 16-bit rows read the first half of x */
        printf("  %-44s %8.1f GB/s  %5.1f %% of peak  %4.2f x copy  target 80 %%: %s\n", c.name, bw / 1e9,
               100 * bw / di.peak_bw, bw / copy_bw, verdict(bw / di.peak_bw, 0.8));
    }
    struct quant {
        const char *recipe;
        size_t cols;
        double traffic; /* DRAM bytes per element of this implementation */
    } quants[] = {{"vllm-per-tensor", n, 9}, {"vllm-per-token", 4096, 5}, {"ct-token-bf16", 4096, 5}};
    for (const quant &qq : quants) {
        const fp8q_recipe *r = fp8q_recipe_get(qq.recipe);
        const size_t rows = n / qq.cols;
        ms = time_ms(s, iters, [&] {
            check_fp8q(fp8q_cuda_quantize_dev(b, q, scales, x, rows, qq.cols, r, 1, &err), err, qq.recipe);
        });
        const double bw = (double)rows * qq.cols * 5 / (ms * 1e-3);
        printf("  quantize %-35s %8.1f GB/s  %5.1f %% of peak  (traffic %.0f B/elem: %5.1f %%)\n", qq.recipe, bw / 1e9,
               100 * bw / di.peak_bw, qq.traffic, 100 * bw * qq.traffic / 5 / di.peak_bw);
    }
    CHECK_CUDA(cudaFree(x));
    CHECK_CUDA(cudaFree(q));
    CHECK_CUDA(cudaFree(scales));
    CHECK_CUDA(cudaFree(copy_dst));
}

/* The same GEMM as fp8q's cuBLASLt engine, called directly: D^T[N][M] = B[N][K] . A[M][K]^T. */
static double direct_cublaslt_ms(cudaStream_t s, size_t M, size_t N, size_t K, const uint8_t *a, const uint8_t *b,
                                 const float *sa, const float *sb, void *c, int iters)
{
    cublasLtHandle_t lt;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, ld;
    cublasLtMatmulPreference_t pref;
    cublasLtMatmulHeuristicResult_t res;
    const cublasOperation_t op_t = CUBLAS_OP_T, op_n = CUBLAS_OP_N;
    const int8_t fast = 0;
    const uint64_t ws_size = (uint64_t)32 << 20;
    const float alpha = 1, beta = 0;
    void *ws = dev_alloc(ws_size);
    int found = 0;
    CHECK_LT(cublasLtCreate(&lt));
    CHECK_LT(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    CHECK_LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_t, sizeof op_t));
    CHECK_LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_n, sizeof op_n));
    CHECK_LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof fast));
    CHECK_LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &sb, sizeof sb));
    CHECK_LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &sa, sizeof sa));
    CHECK_LT(cublasLtMatrixLayoutCreate(&la, CUDA_R_8F_E4M3, K, N, (int64_t)K));
    CHECK_LT(cublasLtMatrixLayoutCreate(&lb, CUDA_R_8F_E4M3, K, M, (int64_t)K));
    CHECK_LT(cublasLtMatrixLayoutCreate(&ld, CUDA_R_16BF, N, M, (int64_t)N));
    CHECK_LT(cublasLtMatmulPreferenceCreate(&pref));
    CHECK_LT(
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_size, sizeof ws_size));
    CHECK_LT(cublasLtMatmulAlgoGetHeuristic(lt, desc, la, lb, ld, ld, pref, 1, &res, &found));
    if (!found) {
        printf("benchmark: cuBLASLt has no FP8 algorithm\n");
        exit(0);
    }
    const double ms = time_ms(s, iters, [&] {
        CHECK_LT(cublasLtMatmul(lt, desc, &alpha, b, la, a, lb, &beta, c, ld, c, ld, &res.algo, ws, ws_size, s));
    });
    cublasLtMatmulPreferenceDestroy(pref);
    cublasLtMatrixLayoutDestroy(la), cublasLtMatrixLayoutDestroy(lb), cublasLtMatrixLayoutDestroy(ld);
    cublasLtMatmulDescDestroy(desc);
    cublasLtDestroy(lt);
    CHECK_CUDA(cudaFree(ws));
    return ms;
}

static void bench_gemm(fp8q_backend *b, cudaStream_t s, int cc, const device_info &di)
{
    const size_t M = g_quick ? 4096 : 8192, N = M, K = M, Ms = 2048;
    const int iters = g_quick ? 5 : 20;
    const double flop = 2.0 * M * N * K;
    uint8_t *a = dev_e4m3(M * K), *w = dev_e4m3(N * K);
    std::vector<float> hs(N > M ? N : M);
    for (size_t i = 0; i < hs.size(); i++) hs[i] = 1e-3f * (1 + (float)(i % 7));
    float *sa = (float *)dev_alloc(hs.size() * 4), *sb = (float *)dev_alloc(hs.size() * 4);
    CHECK_CUDA(cudaMemcpy(sa, hs.data(), hs.size() * 4, cudaMemcpyHostToDevice));
    CHECK_CUDA(cudaMemcpy(sb, hs.data(), hs.size() * 4, cudaMemcpyHostToDevice));
    void *c = dev_alloc(M * N * 2);
    fp8q_gemm g;
    fp8q_error err;
    memset(&g, 0, sizeof g);
    g.M = M, g.N = N, g.K = K, g.a = a, g.b = w, g.a_format = g.b_format = FP8Q_E4M3, g.a_scales = sa;
    g.b_scales = sb, g.c = c, g.c_type = FP8Q_BF16;
    printf("\nGEMM %zu x %zu x %zu, E4M3 x E4M3 -> BF16, %d runs", M, N, K, iters);
    if (di.peak_fp8 > 0)
        printf(": FP8 dense peak %.0f TFLOP/s (%d SMs x %.0f MHz)\n", di.peak_fp8 / 1e12, di.sm, di.clock_khz / 1e3);
    else
        printf(": no FP8 tensor cores on compute capability %d.%d (W8A8 runs on the SIMT engine)\n", cc / 10, cc % 10);
    if (cc >= 89) {
        double ms = time_ms(s, iters, [&] { check_fp8q(fp8q_cuda_gemm_dev(b, &g, &err), err, "gemm"); });
        const double ours = flop / (ms * 1e-3);
        const int path = fp8q_cuda_last_gemm_path(b);
        const double direct = flop / (direct_cublaslt_ms(s, M, N, K, a, w, sa, sb, c, iters) * 1e-3);
        printf("  %-44s %8.1f TFLOP/s  %5.1f %% of peak  target 65 %%: %s  (%s)\n", "fp8q per tensor", ours / 1e12,
               100 * ours / di.peak_fp8, verdict(ours / di.peak_fp8, 0.65),
               path == FP8Q_CUDA_PATH_CUBLASLT ? "cuBLASLt" : "SIMT: cuBLASLt refused");
        printf("  %-44s %8.1f TFLOP/s  %5.1f %% of peak  fp8q / direct = %.3f\n", "direct cuBLASLt, same settings",
               direct / 1e12, 100 * direct / di.peak_fp8, ours / direct);
        g.a_tile_rows = 1, g.b_tile_rows = 1;
        ms = time_ms(s, iters, [&] { check_fp8q(fp8q_cuda_gemm_dev(b, &g, &err), err, "gemm"); });
        printf("  %-44s %8.1f TFLOP/s  %5.1f %% of peak\n", "fp8q per token x per channel", flop / (ms * 1e-3) / 1e12,
               100 * flop / (ms * 1e-3) / di.peak_fp8);
        g.a_tile_rows = 0, g.b_tile_rows = 0;
    }
    g.M = Ms, g.N = Ms, g.K = Ms;
    check_fp8q(fp8q_cuda_set_gemm_engine(b, FP8Q_CUDA_GEMM_SIMT, &err), err, "engine");
    const double ms = time_ms(s, 3, [&] { check_fp8q(fp8q_cuda_gemm_dev(b, &g, &err), err, "gemm"); });
    printf("  %-44s %8.2f TFLOP/s  (%zu^3, float32 FMA)\n", "fp8q SIMT engine", 2.0 * Ms * Ms * Ms / (ms * 1e-3) / 1e12,
           Ms);
    check_fp8q(fp8q_cuda_set_gemm_engine(b, FP8Q_CUDA_GEMM_AUTO, &err), err, "engine");
    CHECK_CUDA(cudaFree(a));
    CHECK_CUDA(cudaFree(w));
    CHECK_CUDA(cudaFree(sa));
    CHECK_CUDA(cudaFree(sb));
    CHECK_CUDA(cudaFree(c));
}

/* ---- batch-1 decode on a synthetic Llama-3-8B-shaped model */

/* bfloat16 bits of small random values (|x| < 0.05). */
static std::vector<uint16_t> random_bf16(size_t n)
{
    std::vector<uint16_t> h(n);
    for (size_t i = 0; i < n; i++) {
        const float x = ((float)(next_u32() % 65536) - 32768.0f) / 655360.0f;
        uint32_t u;
        memcpy(&u, &x, 4);
        h[i] = (uint16_t)(u >> 16);
    }
    return h;
}

struct synthetic_model {
    fp8q_model m;
    std::vector<fp8q_layer> layers;
    std::vector<uint8_t> q_attn, q_kv, q_ffn, q_down; /* [4096][4096], [1024][4096], [14336][4096], [4096][14336] */
    std::vector<uint16_t> embed, lm_head;
    std::vector<float> ones, inv_freq, w_scale;
    double weight_bytes; /* what one decode step reads of the weights */
};

static void set_linear(fp8q_linear *l, int out, int in, uint8_t *q, float *w_scale)
{
    memset(l, 0, sizeof *l);
    l->out = out, l->in = in, l->q = q, l->w_scale = w_scale, l->act = FP8Q_ACT_DYNAMIC_TOKEN;
    l->act_recipe = fp8q_recipe_get("vllm-per-token");
}

static void build_llama3_8b(synthetic_model &sm, int layers)
{
    fp8q_llama_config &c = sm.m.config;
    memset(&sm.m, 0, sizeof sm.m);
    snprintf(c.architecture, sizeof c.architecture, "LlamaForCausalLM");
    c.hidden_size = 4096, c.intermediate_size = 14336, c.num_hidden_layers = layers, c.num_attention_heads = 32;
    c.num_key_value_heads = 8, c.head_dim = 128, c.vocab_size = 128256, c.max_position_embeddings = 8192;
    c.rms_norm_eps = 1e-5, c.rope_theta = 500000.0;
    sm.m.opt.quant = FP8Q_QUANT_FP8_DYNAMIC, sm.m.opt.kv_cache = FP8Q_KV_E4M3, sm.m.opt.gemm = FP8Q_GEMM_FAST;
    snprintf(sm.m.scheme, sizeof sm.m.scheme, "synthetic fp8-dynamic");
    const size_t D = 4096, F = 14336, KV = 1024, V = 128256;
    sm.q_attn = random_e4m3(D * D), sm.q_kv = random_e4m3(KV * D), sm.q_ffn = random_e4m3(F * D);
    sm.q_down = random_e4m3(D * F), sm.embed = random_bf16(V * D), sm.lm_head = random_bf16(V * D);
    sm.ones.assign(D, 1.0f), sm.w_scale.assign(1, 1.0f / 4096.0f), sm.inv_freq.resize(64);
    for (int i = 0; i < 64; i++) sm.inv_freq[i] = (float)pow(500000.0, -2.0 * i / 128.0);
    sm.m.embed.dtype = FP8Q_BF16, sm.m.embed.rows = (int)V, sm.m.embed.cols = (int)D, sm.m.embed.data = sm.embed.data();
    sm.layers.resize((size_t)layers);
    for (fp8q_layer &ly : sm.layers) {
        memset(&ly, 0, sizeof ly);
        ly.attn_norm = ly.ffn_norm = sm.ones.data(), ly.k_scale = ly.v_scale = 0.05f;
        set_linear(&ly.mod[FP8Q_MOD_Q], (int)D, (int)D, sm.q_attn.data(), sm.w_scale.data());
        set_linear(&ly.mod[FP8Q_MOD_K], (int)KV, (int)D, sm.q_kv.data(), sm.w_scale.data());
        set_linear(&ly.mod[FP8Q_MOD_V], (int)KV, (int)D, sm.q_kv.data(), sm.w_scale.data());
        set_linear(&ly.mod[FP8Q_MOD_O], (int)D, (int)D, sm.q_attn.data(), sm.w_scale.data());
        set_linear(&ly.mod[FP8Q_MOD_GATE], (int)F, (int)D, sm.q_ffn.data(), sm.w_scale.data());
        set_linear(&ly.mod[FP8Q_MOD_UP], (int)F, (int)D, sm.q_ffn.data(), sm.w_scale.data());
        set_linear(&ly.mod[FP8Q_MOD_DOWN], (int)D, (int)F, sm.q_down.data(), sm.w_scale.data());
    }
    sm.m.layers = sm.layers.data(), sm.m.final_norm = sm.ones.data(), sm.m.rope_inv_freq = sm.inv_freq.data();
    sm.m.lm_head.out = (int)V, sm.m.lm_head.in = (int)D;
    sm.m.lm_head.w.dtype = FP8Q_BF16, sm.m.lm_head.w.rows = (int)V, sm.m.lm_head.w.cols = (int)D;
    sm.m.lm_head.w.data = sm.lm_head.data();
    sm.weight_bytes = (double)layers * ((2.0 * D * D + 2.0 * KV * D + 3.0 * F * D) + 2.0 * D * 4) + 2.0 * V * D + D * 4;
}

static double host_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static void bench_decode(fp8q_backend *b, const device_info &di)
{
    const int layers = g_quick ? 4 : 32, warm = 8, timed = 64;
    synthetic_model sm;
    fp8q_state s;
    fp8q_error err;
    fp8q_backend_kind ran = FP8Q_BACKEND_CPU;
    int32_t tok = 1;
    build_llama3_8b(sm, layers);
    check_fp8q(fp8q_state_init_backend(&s, &sm.m, b, warm + timed + 1, 1, &ran, &err), err, "device state");
    if (ran != FP8Q_BACKEND_CUDA) {
        printf("\ndecode: the CUDA backend declined the model (%s)\n", err.message);
        fp8q_state_free(&s);
        return;
    }
    for (int i = 0; i < warm; i++) check_fp8q(fp8q_forward(&sm.m, &s, &tok, 1, NULL, &err), err, "decode");
    const double t0 = host_seconds();
    for (int i = 0; i < timed; i++) {
        check_fp8q(fp8q_forward(&sm.m, &s, &tok, 1, NULL, &err), err, "decode");
        tok = (int32_t)((tok * 7919 + 13) % 128256);
    }
    const double sec = (host_seconds() - t0) / timed;
    const double kv = (double)layers * (warm + timed / 2.0) * 1024 * 2; /* E4M3 K and V at the mean position */
    const double bytes = sm.weight_bytes + kv, roof = di.peak_bw / bytes;
    printf("\nbatch-1 decode, Llama-3-8B-shaped (%d layers), FP8 W8A8 per-token, E4M3 KV cache\n", layers);
    printf("  %.2f ms/token, %.1f tokens/s; reads %.2f GB/token; roofline %.1f tokens/s at %.0f GB/s: %.0f %% %s "
           "(target 60 %%)\n",
           sec * 1e3, 1.0 / sec, bytes / 1e9, roof, di.peak_bw / 1e9, 100.0 / sec / roof,
           verdict(1.0 / sec / roof, 0.60));
    fp8q_state_free(&s);
}

int main(int argc, char **argv)
{
    fp8q_backend *b = NULL;
    fp8q_error err;
    g_quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    if (fp8q_cuda_open(&b, 0, &err) != FP8Q_OK) {
        printf("skipped: no CUDA device (%s)\n", err.message);
        return 0;
    }
    const int cc = fp8q_cuda_compute_capability(b);
    cudaStream_t s = (cudaStream_t)fp8q_cuda_stream(b);
    const device_info di = query_device(cc, b->device);
    printf("%s, compute capability %d.%d, %d SMs, %.0f MHz, memory %.0f MHz x %d bits\n", b->device, cc / 10, cc % 10,
           di.sm, di.clock_khz / 1e3, di.mem_khz / 1e3, di.bus_bits);
    bench_bandwidth(b, s, di);
    bench_gemm(b, s, cc, di);
    bench_decode(b, di);
    fp8q_backend_close(b);
    return 0;
}
