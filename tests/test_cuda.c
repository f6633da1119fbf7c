/* The CUDA backend (fp8q_cuda.cu) against fp8q's CPU definitions.

   Without a device (any machine): fp8q_cuda_open's error path; the host-side
   plans (argument checks with the CPU's result codes, what runs where);
   the device kernels' element code run on the host (fp8q_cuda_emulate_*,
   with CUDA's software FP8 routine in place of the sm_89+ instruction)
   against fp8q_encode_* and fp8q_compute_scales + fp8q_quantize, bit for
   bit; the dispatchers' fallback; the device-pointer API refusing a
   backend that is not an open CUDA one. Every device case is then counted
   as skipped after the line "skipped: no CUDA device (...)".

   With a device (make gpu-test): conversions against the CPU bit for bit
   (all 2^16 half and bfloat16 inputs, sampled float32 inputs; all 2^32
   with --exhaustive), every scale operation and saturation mode, aligned
   and misaligned device pointers; dynamic and static quantization (bytes
   and scales bit for bit) for every built-in recipe and a few custom ones
   on inputs with NaN, Inf, zero and -0 rows; GEMMs: the SIMT engine equal
   to FP8Q_GEMM_REFERENCE bit for bit, every engine within
   fp8q_gemm_tolerance of FP8Q_GEMM_EXACT (the largest error / tolerance
   ratio is printed), for odd shapes, each scale granularity, the three
   output types, bias, W8A16 and non-finite inputs; requests the backend
   declines running on the CPU with the CPU's bytes; error paths; the model
   kernels against double-precision references.

   Options: --exhaustive (all 2^32 floats on the device, each format and
   saturation mode: about a minute), --emulate-exhaustive (all 2^32 floats
   through the host emulation: several minutes).
   Build: gcc -std=c99 ... tests/test_cuda.c build/fp8q_cuda.o -lcudart -lcublasLt -lstdc++ -lm */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#define FP8Q_IMPLEMENTATION
#include "../fp8q.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

/* ---- fp8q_cuda.cu's device-pointer API (declared there until fp8q.h has it) */
typedef enum fp8q_cuda_gemm_engine { FP8Q_CUDA_GEMM_AUTO = 0, FP8Q_CUDA_GEMM_SIMT = 1 } fp8q_cuda_gemm_engine;
typedef enum fp8q_cuda_gemm_path {
    FP8Q_CUDA_PATH_NONE = 0,
    FP8Q_CUDA_PATH_CUBLASLT = 1,
    FP8Q_CUDA_PATH_SIMT = 2
} fp8q_cuda_gemm_path;
typedef struct fp8q_cuda_gemm_plan {
    fp8q_cuda_gemm_path path;
    size_t group, n_groups;
    int a_vec, b_vec;
    size_t Kp, Np;
} fp8q_cuda_gemm_plan;
fp8q_result fp8q_cuda_plan_encode(const uint8_t *dst, const void *src, fp8q_dtype src_type, size_t n, fp8q_format fmt,
                                  fp8q_saturation sat, fp8q_scale_op op, fp8q_error *err);
fp8q_result fp8q_cuda_plan_quantize(const uint8_t *q, const float *scales, const float *x, size_t rows, size_t cols,
                                    const fp8q_recipe *r, fp8q_error *err);
fp8q_result fp8q_cuda_plan_gemm(const fp8q_gemm *g, fp8q_gemm_mode mode, int cc, fp8q_cuda_gemm_engine engine,
                                fp8q_cuda_gemm_plan *plan, fp8q_error *err);
fp8q_result fp8q_cuda_emulate_encode(uint8_t *dst, const void *src, fp8q_dtype src_type, size_t n, fp8q_format fmt,
                                     fp8q_saturation sat, fp8q_scale_op op, float scale);
fp8q_result fp8q_cuda_emulate_quantize(uint8_t *q, float *scales, const float *x, size_t rows, size_t cols,
                                       const fp8q_recipe *r, int dynamic);
fp8q_result fp8q_cuda_set_gemm_engine(fp8q_backend *b, fp8q_cuda_gemm_engine engine, fp8q_error *err);
fp8q_cuda_gemm_path fp8q_cuda_last_gemm_path(const fp8q_backend *b);
int fp8q_cuda_compute_capability(const fp8q_backend *b);
void *fp8q_cuda_stream(fp8q_backend *b);
fp8q_result fp8q_cuda_alloc(fp8q_backend *b, void **dev, size_t bytes, fp8q_error *err);
void fp8q_cuda_free(fp8q_backend *b, void *dev);
fp8q_result fp8q_cuda_upload(fp8q_backend *b, void *dev, const void *host, size_t bytes, fp8q_error *err);
fp8q_result fp8q_cuda_download(fp8q_backend *b, void *host, const void *dev, size_t bytes, fp8q_error *err);
fp8q_result fp8q_cuda_sync(fp8q_backend *b, fp8q_error *err);
fp8q_result fp8q_cuda_encode_dev(fp8q_backend *b, uint8_t *dst, const void *src, fp8q_dtype src_type, size_t n,
                                 fp8q_format fmt, fp8q_saturation sat, fp8q_scale_op op, float scale, fp8q_error *err);
fp8q_result fp8q_cuda_quantize_dev(fp8q_backend *b, uint8_t *q, float *scales, const float *x, size_t rows, size_t cols,
                                   const fp8q_recipe *r, int dynamic, fp8q_error *err);
fp8q_result fp8q_cuda_gemm_dev(fp8q_backend *b, const fp8q_gemm *g, fp8q_error *err);
fp8q_result fp8q_cuda_rmsnorm(fp8q_backend *b, float *y, const float *x, const float *w, size_t rows, size_t dim,
                              float eps, fp8q_error *err);
fp8q_result fp8q_cuda_rope(fp8q_backend *b, float *x, size_t n_tokens, size_t n_heads, size_t head_dim,
                           size_t row_stride, int pos0, const float *inv_freq, fp8q_error *err);
fp8q_result fp8q_cuda_swiglu(fp8q_backend *b, float *out, const float *gate, const float *up, size_t n,
                             fp8q_error *err);
fp8q_result fp8q_cuda_attention_decode(fp8q_backend *b, float *out, const float *q, const uint8_t *k_cache,
                                       const uint8_t *v_cache, fp8q_format kv_format, float k_scale, float v_scale,
                                       size_t n_heads, size_t n_kv_heads, size_t head_dim, size_t seq_len,
                                       size_t kv_stride, fp8q_error *err);
fp8q_result fp8q_cuda_plan_model(const fp8q_model *m, fp8q_error *err);

static fp8q_backend *g_cuda; /* the device under test, or NULL */
static int g_skipped, g_exhaustive, g_emulate_exhaustive;

/* ---------------------------------------------------------------- helpers */

static uint64_t g_rng = 0x243F6A8885A308D3ull;
static uint32_t rnd32(void)
{
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float rnd_uniform(float lo, float hi) { return lo + (hi - lo) * (float)(rnd32() >> 8) / 16777216.0f; }

/* A float with uniform random bits, or a finite one with its exponent near e. */
static float rnd_float_near(int e)
{
    return ldexpf(1.0f + (float)(rnd32() >> 9) / 8388608.0f, e + (int)(rnd32() % 9) - 4) * (rnd32() & 1 ? -1 : 1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        printf("out of memory\n");
        exit(2);
    }
    return p;
}

/* Interesting float inputs: zeros, subnormals, the rounding and overflow
   thresholds of both formats and their neighbours, Inf, NaNs. */
static size_t special_floats(float *out)
{
    static const uint32_t bits[] = {
        0x00000000u, 0x80000000u, 0x00000001u, 0x80000001u, 0x007FFFFFu, 0x00800000u, 0x3A800000u, 0x3A800001u,
        0xBA800000u, 0xBA800001u, 0x3A7FFFFFu, 0x3B000000u, 0x37000000u, 0x37000001u, 0xB7000000u, 0xB7000001u,
        0x36FFFFFFu, 0x37800000u, 0x43E00000u, 0x43E80000u, 0x43E80001u, 0xC3E80000u, 0xC3E80001u, 0x43E7FFFFu,
        0x47600000u, 0x476FFFFFu, 0x47700000u, 0xC7700000u, 0xC76FFFFFu, 0x47800000u, 0x7F7FFFFFu, 0xFF7FFFFFu,
        0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC00000u, 0x7F800001u, 0xFF800001u, 0x7FFFFFFFu, 0xFFFFFFFFu,
        0x3F800000u, 0x3F880000u, 0x3F900000u, 0x40880000u, 0x3C800000u, 0x3C000000u, 0x3B800000u, 0x3A800000u};
    size_t i, n = sizeof bits / sizeof bits[0];
    for (i = 0; i < n; i++) out[i] = from_bits(bits[i]);
    return n;
}

/* Scale operations and scales every conversion test runs (incl. 0, Inf, NaN). */
static const float g_scales[] = {1.0f, 0.37f, 1.0f / 448.0f, 3e-3f, 2.5e4f, 0.0f, INFINITY, NAN, -2.0f};
#define N_SCALES (sizeof g_scales / sizeof g_scales[0])

static size_t count_diff(const uint8_t *a, const uint8_t *b, size_t n, size_t *first)
{
    size_t i, d = 0;
    *first = n;
    for (i = 0; i < n; i++)
        if (a[i] != b[i] && d++ == 0) *first = i;
    return d;
}

typedef fp8q_result (*encode_fn)(uint8_t *dst, const void *src, fp8q_dtype t, size_t n, fp8q_format fmt,
                                 fp8q_saturation sat, fp8q_scale_op op, float scale);

static fp8q_result cpu_encode(uint8_t *dst, const void *src, fp8q_dtype t, size_t n, fp8q_format fmt,
                              fp8q_saturation sat, fp8q_scale_op op, float scale)
{
    return t == FP8Q_F32   ? fp8q_encode_f32(dst, (const float *)src, n, fmt, sat, op, scale)
           : t == FP8Q_F16 ? fp8q_encode_f16(dst, (const uint16_t *)src, n, fmt, sat, op, scale)
                           : fp8q_encode_bf16(dst, (const uint16_t *)src, n, fmt, sat, op, scale);
}

/* Through the dispatcher on the device (checks that it ran there). */
static fp8q_result device_encode(uint8_t *dst, const void *src, fp8q_dtype t, size_t n, fp8q_format fmt,
                                 fp8q_saturation sat, fp8q_scale_op op, float scale)
{
    fp8q_backend_kind ran = FP8Q_BACKEND_CPU;
    fp8q_error err;
    fp8q_result r = fp8q_backend_encode(g_cuda, dst, src, t, n, fmt, sat, op, scale, &ran, &err);
    if (r != FP8Q_OK) printf("    device encode: %s\n", err.message);
    CHECK(r != FP8Q_OK || ran == FP8Q_BACKEND_CUDA, "encode ran on %s", fp8q_backend_kind_name(ran));
    return r;
}

/* src[n] of type t under every format, saturation, op and scale: fn's bytes
   equal the CPU's. */
static void compare_encoders(encode_fn fn, const char *what, const void *src, fp8q_dtype t, size_t n)
{
    uint8_t *want = (uint8_t *)xmalloc(n), *got = (uint8_t *)xmalloc(n);
    int f, sat, op;
    size_t s, first, d;
    for (f = 0; f < 2; f++)
        for (sat = 0; sat < 2; sat++)
            for (op = 0; op < 3; op++)
                for (s = 0; s < (op ? N_SCALES : 1); s++) {
                    const fp8q_format fmt = (fp8q_format)f;
                    const float sc = g_scales[s];
                    cpu_encode(want, src, t, n, fmt, (fp8q_saturation)sat, (fp8q_scale_op)op, sc);
                    memset(got, 0xA5, n);
                    CHECK(fn(got, src, t, n, fmt, (fp8q_saturation)sat, (fp8q_scale_op)op, sc) == FP8Q_OK, "%s fails",
                          what);
                    d = count_diff(got, want, n, &first);
                    CHECK(d == 0,
                          "%s type %d fmt %d sat %d op %d scale %g: %zu differ, first %zu (in %08X) %02X want %02X",
                          what, (int)t, f, sat, op, (double)sc, d, first,
                          t == FP8Q_F32 ? f32_bits(((const float *)src)[first < n ? first : 0])
                                        : ((const uint16_t *)src)[first < n ? first : 0],
                          first < n ? got[first] : 0, first < n ? want[first] : 0);
                }
    free(want), free(got);
}

/* 2^20 random bit patterns, 2^20 floats near the FP8 ranges, the specials,
   and every 4099th bit pattern. */
static float *sample_floats(size_t *n)
{
    const size_t nr = (size_t)1 << 20, stride = 4099, ns = ((size_t)1 << 32) / stride;
    float *x = (float *)xmalloc((2 * nr + 64 + ns) * sizeof(float));
    size_t i, k = special_floats(x);
    for (i = 0; i < nr; i++) x[k++] = from_bits(rnd32());
    for (i = 0; i < nr; i++) x[k++] = rnd_float_near((int)(rnd32() % 50) - 25);
    for (i = 0; i < ns; i++) x[k++] = from_bits((uint32_t)(i * stride));
    *n = k;
    return x;
}

/* Matrices for quantization: kind 0 random normal-ish, 1 with NaN/Inf
   sprinkled, 2 zero and -0 rows, 3 wide dynamic range and subnormals. */
static float *make_matrix(size_t rows, size_t cols, int kind)
{
    float *x = (float *)xmalloc(rows * cols * sizeof(float));
    size_t i, j;
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++) {
            float v = rnd_uniform(-1, 1) * ldexpf(1, (int)(i % 7) * 3 - 9);
            if (kind == 1 && rnd32() % 17 == 0) v = (float[]){NAN, -NAN, INFINITY, -INFINITY}[rnd32() % 4];
            if (kind == 2 && i % 3 == 1) v = (i % 2) ? -0.0f : 0.0f;
            if (kind == 3)
                v = rnd32() % 5 == 0 ? from_bits(rnd32() & 0x807FFFFFu) : rnd_float_near((int)(rnd32() % 80) - 40);
            x[i * cols + j] = v;
        }
    return x;
}

/* Recipes to test: the built-ins and custom ones covering the other rules,
   ub, precisions, ops and saturation modes. */
static int test_recipes(fp8q_recipe *out)
{
    int i, n = 0;
    for (i = 0; i < fp8q_recipe_count(); i++) out[n++] = *fp8q_recipe_at(i);
    out[n] = *fp8q_recipe_get("vllm-per-token"), out[n].name = "pow2-token-e5m2", out[n].rule = FP8Q_RULE_POW2;
    out[n].format = FP8Q_E5M2, out[n].qmax = 57344.0f, out[n].clamp = 0, out[n++].sat = FP8Q_SATFINITE;
    out[n] = *fp8q_recipe_get("ct-tensor-bf16"), out[n].name = "bf16-mul-ub-group16", out[n].op = FP8Q_SCALE_MUL;
    out[n].amax_ub = 2.0f, out[n].tile_rows = 1, out[n++].tile_cols = 16;
    out[n] = *fp8q_recipe_get("vllm-per-tensor"), out[n].name = "noclamp-nosat-block3x5", out[n].clamp = 0;
    out[n].tile_rows = 3, out[n++].tile_cols = 5;
    out[n] = *fp8q_recipe_get("deepseek-group128"), out[n].name = "satfinite-pow2-min", out[n].rule = FP8Q_RULE_POW2;
    out[n].min_scale = 1e-3f, out[n].sat = FP8Q_SATFINITE, out[n++].clamp = 0;
    return n;
}

static const size_t g_qshapes[][2] = {{1, 1}, {3, 5}, {7, 130}, {16, 256}, {5, 1001}, {2, 4096}};
#define N_QSHAPES (sizeof g_qshapes / sizeof g_qshapes[0])

typedef fp8q_result (*quantize_fn)(uint8_t *q, float *scales, const float *x, size_t rows, size_t cols,
                                   const fp8q_recipe *r, int dynamic);

static fp8q_result device_quantize(uint8_t *q, float *scales, const float *x, size_t rows, size_t cols,
                                   const fp8q_recipe *r, int dynamic)
{
    fp8q_backend_kind ran = FP8Q_BACKEND_CPU;
    fp8q_error err;
    fp8q_result res = fp8q_backend_quantize(g_cuda, q, scales, x, rows, cols, r, dynamic, &ran, &err);
    if (res != FP8Q_OK) printf("    device quantize: %s\n", err.message);
    CHECK(res != FP8Q_OK || ran == FP8Q_BACKEND_CUDA, "quantize ran on %s", fp8q_backend_kind_name(ran));
    return res;
}

/* fn's bytes and scales equal fp8q_compute_scales + fp8q_quantize for every
   test recipe, shape and matrix kind, dynamic and static (static scales:
   the dynamic ones times a factor, and 0, Inf, NaN). */
static void compare_quantizers(quantize_fn fn, const char *what)
{
    fp8q_recipe rs[32];
    const int nr = test_recipes(rs);
    int ri, kind, dyn;
    size_t si, i;
    for (ri = 0; ri < nr; ri++)
        for (si = 0; si < N_QSHAPES; si++)
            for (kind = 0; kind < 4; kind++)
                for (dyn = 1; dyn >= 0; dyn--) {
                    const fp8q_recipe *r = &rs[ri];
                    const size_t rows = g_qshapes[si][0], cols = g_qshapes[si][1], ns = fp8q_scale_count(r, rows, cols);
                    float *x = make_matrix(rows, cols, kind);
                    float *ws = (float *)xmalloc(ns * sizeof(float)), *gs = (float *)xmalloc(ns * sizeof(float));
                    uint8_t *wq = (uint8_t *)xmalloc(rows * cols), *gq = (uint8_t *)xmalloc(rows * cols);
                    size_t first, d, sd = 0;
                    fp8q_compute_scales(ws, x, rows, cols, r);
                    if (!dyn)
                        for (i = 0; i < ns; i++)
                            ws[i] = i % 7 == 3 ? (float[]){0.0f, INFINITY, NAN}[i % 3] : ws[i] * 1.37f;
                    fp8q_quantize(wq, x, rows, cols, ws, r);
                    memcpy(gs, ws, ns * sizeof(float));
                    if (dyn) memset(gs, 0xA5, ns * sizeof(float));
                    memset(gq, 0xA5, rows * cols);
                    CHECK(fn(gq, gs, x, rows, cols, r, dyn) == FP8Q_OK, "%s %s fails", what, r->name);
                    for (i = 0; i < ns; i++) sd += f32_bits(gs[i]) != f32_bits(ws[i]);
                    d = count_diff(gq, wq, rows * cols, &first);
                    CHECK(sd == 0 && d == 0,
                          "%s %s %zux%zu kind %d dynamic %d: %zu scales, %zu bytes differ (first %zu: x %08X %02X "
                          "want %02X)",
                          what, r->name, rows, cols, kind, dyn, sd, d, first,
                          first < rows * cols ? f32_bits(x[first]) : 0, first < rows * cols ? gq[first] : 0,
                          first < rows * cols ? wq[first] : 0);
                    free(x), free(ws), free(gs), free(wq), free(gq);
                }
}

/* ------------------------------------------------- cases without a device */

static void test_open_errors(void)
{
    fp8q_error err;
    fp8q_backend *b = (fp8q_backend *)&err;
    fp8q_result r;
    CHECK(fp8q_cuda_open(NULL, 0, &err) == FP8Q_ERR_ARG && err.code == FP8Q_ERR_ARG, "NULL out");
    CHECK(fp8q_cuda_open(&b, -1, &err) == FP8Q_ERR_ARG && b == NULL && strstr(err.message, "-1"), "device -1: %s",
          err.message);
    b = (fp8q_backend *)&err;
    r = fp8q_cuda_open(&b, 1 << 20, &err);
    CHECK(r == FP8Q_ERR_DEVICE && b == NULL && strstr(err.message, "no CUDA device"), "device 2^20: %d %s", (int)r,
          err.message);
    r = fp8q_cuda_open(&b, 0, &err);
    if (r == FP8Q_OK) {
        CHECK(b && b->kind == FP8Q_BACKEND_CUDA && strcmp(b->name, "cuda") == 0 && b->device[0] && b->close,
              "backend fields");
        fp8q_backend_close(b);
    } else
        CHECK(r == FP8Q_ERR_DEVICE && b == NULL && strncmp(err.message, "fp8q_cuda_open: no CUDA device", 30) == 0,
              "no device: %d %s", (int)r, err.message);
    CHECK(fp8q_cuda_open(&b, 0, NULL) == r, "NULL err");
    if (b) fp8q_backend_close(b);
}

/* The plans' result codes equal the CPU functions' for bad arguments. */
static void test_plan_encode(void)
{
    static const struct {
        int dst, src, type, fmt, sat, op;
        size_t n;
        fp8q_result want;
    } cases[] = {
        {1, 1, FP8Q_F32, FP8Q_E4M3, FP8Q_SATFINITE, FP8Q_SCALE_NONE, 4, FP8Q_OK},
        {1, 1, FP8Q_BF16, FP8Q_E5M2, FP8Q_NOSAT, FP8Q_SCALE_DIV, 4, FP8Q_OK},
        {0, 0, FP8Q_F16, FP8Q_E4M3, FP8Q_NOSAT, FP8Q_SCALE_MUL, 0, FP8Q_OK},
        {0, 1, FP8Q_F32, FP8Q_E4M3, FP8Q_SATFINITE, FP8Q_SCALE_NONE, 4, FP8Q_ERR_ARG},
        {1, 0, FP8Q_F32, FP8Q_E4M3, FP8Q_SATFINITE, FP8Q_SCALE_NONE, 4, FP8Q_ERR_ARG},
        {1, 1, FP8Q_F32, 9, FP8Q_SATFINITE, FP8Q_SCALE_NONE, 4, FP8Q_ERR_ARG},
        {1, 1, FP8Q_F32, FP8Q_E4M3, 7, FP8Q_SCALE_NONE, 4, FP8Q_ERR_ARG},
        {1, 1, FP8Q_F32, FP8Q_E4M3, FP8Q_SATFINITE, 5, 4, FP8Q_ERR_ARG},
        {1, 1, FP8Q_F64, FP8Q_E4M3, FP8Q_SATFINITE, FP8Q_SCALE_NONE, 4, FP8Q_ERR_ARG},
        {1, 1, FP8Q_F32, FP8Q_E4M3FNUZ, FP8Q_SATFINITE, FP8Q_SCALE_NONE, 4, FP8Q_ERR_UNSUPPORTED},
        {1, 1, FP8Q_F16, FP8Q_E5M2FNUZ, FP8Q_NOSAT, FP8Q_SCALE_MUL, 4, FP8Q_ERR_UNSUPPORTED},
    };
    float src[4] = {1, 2, 3, 4};
    uint8_t dst[4];
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fp8q_error err;
        const void *s = cases[i].src ? (const void *)src : NULL;
        uint8_t *d = cases[i].dst ? dst : NULL;
        fp8q_result r;
        memset(&err, 0, sizeof err);
        r = fp8q_cuda_plan_encode(d, s, (fp8q_dtype)cases[i].type, cases[i].n, (fp8q_format)cases[i].fmt,
                                  (fp8q_saturation)cases[i].sat, (fp8q_scale_op)cases[i].op, &err);
        CHECK(r == cases[i].want && (r == FP8Q_OK || (err.code == (int)r && err.message[0])), "case %zu: %d (%s)", i,
              (int)r, err.message);
        if (cases[i].want != FP8Q_ERR_UNSUPPORTED) /* the CPU agrees */
            CHECK(fp8q_backend_encode(NULL, d, s, (fp8q_dtype)cases[i].type, cases[i].n, (fp8q_format)cases[i].fmt,
                                      (fp8q_saturation)cases[i].sat, (fp8q_scale_op)cases[i].op, 1.0f, NULL,
                                      NULL) == cases[i].want,
                  "case %zu: the CPU differs", i);
    }
}

static void test_plan_quantize(void)
{
    fp8q_recipe bad = *fp8q_recipe_get("vllm-per-token"), fnuz = bad;
    float x[6] = {1, 2, 3, 4, 5, 6}, s[6] = {0};
    uint8_t q[6] = {0};
    fp8q_error err;
    int i;
    bad.op = FP8Q_SCALE_NONE, fnuz.format = FP8Q_E4M3FNUZ, fnuz.qmax = 240.0f;
    CHECK(fp8q_cuda_plan_quantize(q, s, x, 2, 3, NULL, &err) == FP8Q_ERR_ARG && err.message[0], "NULL recipe");
    CHECK(fp8q_cuda_plan_quantize(q, s, x, 2, 3, &bad, &err) == FP8Q_ERR_ARG, "op NONE");
    CHECK(fp8q_backend_quantize(NULL, q, s, x, 2, 3, &bad, 1, NULL, NULL) == FP8Q_ERR_ARG, "CPU: op NONE");
    CHECK(fp8q_cuda_plan_quantize(q, s, x, (size_t)1 << 40, (size_t)1 << 40, &fnuz, &err) == FP8Q_ERR_ARG, "overflow");
    CHECK(fp8q_cuda_plan_quantize(q, s, NULL, 2, 3, &fnuz, &err) == FP8Q_ERR_ARG, "NULL x");
    CHECK(fp8q_cuda_plan_quantize(q, NULL, x, 2, 3, fp8q_recipe_get("mx-e4m3"), &err) == FP8Q_ERR_ARG, "NULL scales");
    CHECK(fp8q_cuda_plan_quantize(NULL, NULL, NULL, 0, 3, fp8q_recipe_get("mx-e4m3"), &err) == FP8Q_OK, "empty");
    CHECK(fp8q_cuda_plan_quantize(q, s, x, 2, 3, &fnuz, &err) == FP8Q_ERR_UNSUPPORTED &&
              strstr(err.message, "e4m3fnuz"),
          "FNUZ: %s", err.message);
    for (i = 0; i < fp8q_recipe_count(); i++)
        CHECK(fp8q_cuda_plan_quantize(q, s, x, 2, 3, fp8q_recipe_at(i), &err) == FP8Q_OK, "recipe %s: %s",
              fp8q_recipe_at(i)->name, err.message);
}

static fp8q_gemm plain_gemm(size_t M, size_t N, size_t K, const uint8_t *a, const uint8_t *b, float *c)
{
    fp8q_gemm g;
    memset(&g, 0, sizeof g);
    g.M = M, g.N = N, g.K = K, g.a = a, g.b = b, g.c = c, g.a_format = g.b_format = FP8Q_E4M3, g.c_type = FP8Q_F32;
    return g;
}

static void test_plan_gemm(void)
{
    static uint8_t a[64 * 300], b[64 * 300];
    static float c[64 * 64], sa[64 * 3], sb[64 * 3], af[64 * 300];
    fp8q_gemm g = plain_gemm(5, 70, 130, a, b, c);
    fp8q_cuda_gemm_plan p;
    fp8q_error err;
    /* bad arguments: the CPU's codes */
    CHECK(fp8q_cuda_plan_gemm(NULL, FP8Q_GEMM_FAST, 90, FP8Q_CUDA_GEMM_AUTO, &p, &err) == FP8Q_ERR_ARG, "NULL");
    g.K = 0;
    CHECK(fp8q_cuda_plan_gemm(&g, FP8Q_GEMM_FAST, 90, FP8Q_CUDA_GEMM_AUTO, &p, &err) == FP8Q_ERR_ARG &&
              fp8q_gemm_run(&g, FP8Q_GEMM_FAST) == FP8Q_ERR_ARG,
          "K 0");
    g.K = 9, g.a_scales = sa, g.a_tile_cols = 4, g.b_scales = sb, g.b_tile_cols = 6;
    CHECK(fp8q_cuda_plan_gemm(&g, FP8Q_GEMM_FAST, 90, FP8Q_CUDA_GEMM_AUTO, &p, &err) == FP8Q_ERR_ARG &&
              fp8q_gemm_run(&g, FP8Q_GEMM_FAST) == FP8Q_ERR_ARG && strstr(err.message, "nest"),
          "K tiles 4 and 6: %s", err.message);
    g = plain_gemm(5, 70, 130, a, b, c), g.c_type = FP8Q_F64;
    CHECK(fp8q_cuda_plan_gemm(&g, FP8Q_GEMM_FAST, 90, FP8Q_CUDA_GEMM_AUTO, &p, &err) == FP8Q_ERR_ARG, "c_type F64");
    g = plain_gemm(5, 70, 130, a, b, c), g.b_format = (fp8q_format)7;
    CHECK(fp8q_cuda_plan_gemm(&g, FP8Q_GEMM_FAST, 90, FP8Q_CUDA_GEMM_AUTO, &p, &err) == FP8Q_ERR_ARG, "format 7");
    g = plain_gemm(5, 70, 130, a, b, c);
    CHECK(fp8q_cuda_plan_gemm(&g, (fp8q_gemm_mode)3, 90, FP8Q_CUDA_GEMM_AUTO, &p, &err) == FP8Q_ERR_ARG, "mode 3");
    /* REFERENCE and EXACT stay on the CPU */
    CHECK(fp8q_cuda_plan_gemm(&g, FP8Q_GEMM_EXACT, 90, FP8Q_CUDA_GEMM_AUTO, &p, &err) == FP8Q_ERR_UNSUPPORTED &&
              fp8q_cuda_plan_gemm(&g, FP8Q_GEMM_REFERENCE, 90, FP8Q_CUDA_GEMM_AUTO, &p, &err) == FP8Q_ERR_UNSUPPORTED,
          "REFERENCE / EXACT");
    /* where FAST runs */
    CHECK(fp8q_cuda_plan_gemm(&g, FP8Q_GEMM_FAST, 90, FP8Q_CUDA_GEMM_AUTO, &p, &err) == FP8Q_OK &&
              p.path == FP8Q_CUDA_PATH_CUBLASLT && p.Kp == 144 && p.Np == 80 && !p.a_vec && !p.b_vec && p.n_groups == 1,
          "sm_90 per tensor: path %d Kp %zu Np %zu", (int)p.path, p.Kp, p.Np);
    CHECK(fp8q_cuda_plan_gemm(&g, FP8Q_GEMM_FAST, 89, FP8Q_CUDA_GEMM_AUTO, &p, &err) == FP8Q_OK &&
              p.path == FP8Q_CUDA_PATH_CUBLASLT,
          "sm_89");
    CHECK(fp8q_cuda_plan_gemm(&g, FP8Q_GEMM_FAST, 80, FP8Q_CUDA_GEMM_AUTO, &p, &err) == FP8Q_OK &&
              p.path == FP8Q_CUDA_PATH_SIMT,
          "sm_80");
    CHECK(fp8q_cuda_plan_gemm(&g, FP8Q_GEMM_FAST, 90, FP8Q_CUDA_GEMM_SIMT, &p, &err) == FP8Q_OK &&
              p.path == FP8Q_CUDA_PATH_SIMT,
          "engine SIMT");
    g.a_scales = sa, g.a_tile_rows = 1, g.b_scales = sb, g.b_tile_rows = 0;
    CHECK(fp8q_cuda_plan_gemm(&g, FP8Q_GEMM_FAST, 90, FP8Q_CUDA_GEMM_AUTO, &p, &err) == FP8Q_OK &&
              p.path == FP8Q_CUDA_PATH_CUBLASLT && p.a_vec && !p.b_vec,
          "per token x per tensor");
    g.b_tile_rows = 1;
    CHECK(fp8q_cuda_plan_gemm(&g, FP8Q_GEMM_FAST, 90, FP8Q_CUDA_GEMM_AUTO, &p, &err) == FP8Q_OK && p.a_vec && p.b_vec,
          "per token x per channel");
    g.a_tile_cols = 128, g.b_tile_rows = 128, g.b_tile_cols = 128;
    CHECK(fp8q_cuda_plan_gemm(&g, FP8Q_GEMM_FAST, 90, FP8Q_CUDA_GEMM_AUTO, &p, &err) == FP8Q_OK &&
              p.path == FP8Q_CUDA_PATH_SIMT && p.group == 128 && p.n_groups == 2,
          "block scales: path %d group %zu", (int)p.path, p.group);
    g = plain_gemm(5, 70, 130, a, b, c), g.a_format = g.b_format = FP8Q_E5M2;
    CHECK(fp8q_cuda_plan_gemm(&g, FP8Q_GEMM_FAST, 90, FP8Q_CUDA_GEMM_AUTO, &p, &err) == FP8Q_OK &&
              p.path == FP8Q_CUDA_PATH_SIMT,
          "E5M2 x E5M2");
    g.a_format = FP8Q_E4M3;
    CHECK(fp8q_cuda_plan_gemm(&g, FP8Q_GEMM_FAST, 90, FP8Q_CUDA_GEMM_AUTO, &p, &err) == FP8Q_OK &&
              p.path == FP8Q_CUDA_PATH_CUBLASLT,
          "E4M3 x E5M2");
    g.b_format = FP8Q_E4M3FNUZ;
    CHECK(fp8q_cuda_plan_gemm(&g, FP8Q_GEMM_FAST, 90, FP8Q_CUDA_GEMM_AUTO, &p, &err) == FP8Q_OK &&
              p.path == FP8Q_CUDA_PATH_SIMT,
          "FNUZ");
    g = plain_gemm(5, 70, 130, NULL, b, c), g.a_f32 = af;
    CHECK(fp8q_cuda_plan_gemm(&g, FP8Q_GEMM_FAST, 90, FP8Q_CUDA_GEMM_AUTO, &p, &err) == FP8Q_OK &&
              p.path == FP8Q_CUDA_PATH_SIMT,
          "W8A16");
}

/* The device element code on the host equals the CPU encoders. */
static void test_emulate_encode(void)
{
    size_t n, i;
    float *x = sample_floats(&n);
    uint16_t *h = (uint16_t *)xmalloc(65536 * sizeof(uint16_t));
    compare_encoders(fp8q_cuda_emulate_encode, "emulation", x, FP8Q_F32, n);
    for (i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    compare_encoders(fp8q_cuda_emulate_encode, "emulation", h, FP8Q_F16, 65536);
    compare_encoders(fp8q_cuda_emulate_encode, "emulation", h, FP8Q_BF16, 65536);
    CHECK(fp8q_cuda_emulate_encode(NULL, x, FP8Q_F32, 1, FP8Q_E4M3, FP8Q_NOSAT, FP8Q_SCALE_NONE, 1) == FP8Q_ERR_ARG,
          "NULL dst");
    free(x), free(h);
}

/* All 2^32 float inputs through the emulation, each format and saturation. */
static void test_emulate_encode_all(void)
{
    const size_t chunk = (size_t)1 << 24;
    float *x = (float *)xmalloc(chunk * sizeof(float));
    uint8_t *want = (uint8_t *)xmalloc(chunk), *got = (uint8_t *)xmalloc(chunk);
    uint64_t base;
    size_t i, first, d, bad = 0;
    int f, sat;
    for (base = 0; base < ((uint64_t)1 << 32); base += chunk) {
        for (i = 0; i < chunk; i++) x[i] = from_bits((uint32_t)(base + i));
        for (f = 0; f < 2; f++)
            for (sat = 0; sat < 2; sat++) {
                fp8q_encode_f32(want, x, chunk, (fp8q_format)f, (fp8q_saturation)sat, FP8Q_SCALE_NONE, 0);
                fp8q_cuda_emulate_encode(got, x, FP8Q_F32, chunk, (fp8q_format)f, (fp8q_saturation)sat, FP8Q_SCALE_NONE,
                                         0);
                d = count_diff(got, want, chunk, &first);
                if (d && bad++ < 8)
                    printf("    fmt %d sat %d: %zu differ from %08X\n", f, sat, d, (uint32_t)(base + first));
            }
    }
    CHECK(bad == 0, "%zu chunks differ", bad);
    free(x), free(want), free(got);
}

static void test_emulate_quantize(void) { compare_quantizers(fp8q_cuda_emulate_quantize, "emulation"); }

/* A backend whose operations always return one result. */
static fp8q_result g_fake_result;
static fp8q_result fake_encode(fp8q_backend *b, uint8_t *dst, const void *src, fp8q_dtype t, size_t n, fp8q_format f,
                               fp8q_saturation s, fp8q_scale_op op, float sc, fp8q_error *err)
{
    (void)b, (void)dst, (void)src, (void)t, (void)n, (void)f, (void)s, (void)op, (void)sc, (void)err;
    return g_fake_result;
}

/* The dispatchers' fallback, and the CUDA entry points refusing a backend
   that fp8q_cuda_open did not return, before any CUDA call. */
static void test_dispatch_and_refusals(void)
{
    fp8q_backend fake;
    fp8q_backend_kind ran = FP8Q_BACKEND_HPU;
    float x[5] = {1, -2, 500, 1e-9f, NAN}, y[5];
    uint8_t want[5], got[5];
    fp8q_error err;
    fp8q_gemm g;
    void *dev = &fake;
    memset(&fake, 0, sizeof fake);
    fake.kind = FP8Q_BACKEND_CUDA, fake.name = "cuda", fake.encode = fake_encode;
    fp8q_encode_f32(want, x, 5, FP8Q_E4M3, FP8Q_NOSAT, FP8Q_SCALE_NONE, 0);
    CHECK(fp8q_backend_encode(NULL, got, x, FP8Q_F32, 5, FP8Q_E4M3, FP8Q_NOSAT, FP8Q_SCALE_NONE, 0, &ran, &err) ==
                  FP8Q_OK &&
              ran == FP8Q_BACKEND_CPU && memcmp(got, want, 5) == 0,
          "no backend");
    g_fake_result = FP8Q_ERR_UNSUPPORTED, memset(got, 0, 5);
    CHECK(fp8q_backend_encode(&fake, got, x, FP8Q_F32, 5, FP8Q_E4M3, FP8Q_NOSAT, FP8Q_SCALE_NONE, 0, &ran, &err) ==
                  FP8Q_OK &&
              ran == FP8Q_BACKEND_CPU && memcmp(got, want, 5) == 0,
          "declined");
    g_fake_result = FP8Q_ERR_DEVICE;
    CHECK(fp8q_backend_encode(&fake, got, x, FP8Q_F32, 5, FP8Q_E4M3, FP8Q_NOSAT, FP8Q_SCALE_NONE, 0, &ran, &err) ==
                  FP8Q_ERR_DEVICE &&
              ran == FP8Q_BACKEND_CPU,
          "device error without fallback");
    fake.flags = FP8Q_BACKEND_FALLBACK_ON_ERROR, memset(got, 0, 5);
    CHECK(fp8q_backend_encode(&fake, got, x, FP8Q_F32, 5, FP8Q_E4M3, FP8Q_NOSAT, FP8Q_SCALE_NONE, 0, &ran, &err) ==
                  FP8Q_OK &&
              memcmp(got, want, 5) == 0,
          "device error with fallback");
    /* fake.impl is NULL: not an open CUDA backend */
    CHECK(fp8q_cuda_encode_dev(&fake, got, x, FP8Q_F32, 5, FP8Q_E4M3, FP8Q_NOSAT, FP8Q_SCALE_NONE, 0, &err) ==
                  FP8Q_ERR_ARG &&
              strstr(err.message, "fp8q_cuda_open"),
          "encode_dev: %s", err.message);
    CHECK(fp8q_cuda_encode_dev(NULL, got, x, (fp8q_dtype)9, 5, FP8Q_E4M3, FP8Q_NOSAT, FP8Q_SCALE_NONE, 0, &err) ==
                  FP8Q_ERR_ARG &&
              strstr(err.message, "source type"),
          "encode_dev type: %s", err.message);
    CHECK(fp8q_cuda_quantize_dev(NULL, got, y, x, 1, 5, fp8q_recipe_get("vllm-per-token"), 1, &err) == FP8Q_ERR_ARG,
          "quantize_dev");
    g = plain_gemm(1, 1, 5, got, got, y);
    CHECK(fp8q_cuda_gemm_dev(&fake, &g, &err) == FP8Q_ERR_ARG, "gemm_dev");
    CHECK(fp8q_cuda_alloc(NULL, &dev, 16, &err) == FP8Q_ERR_ARG && dev == NULL, "alloc");
    CHECK(fp8q_cuda_upload(&fake, y, x, 4, &err) == FP8Q_ERR_ARG && fp8q_cuda_sync(NULL, &err) == FP8Q_ERR_ARG,
          "upload, sync");
    CHECK(fp8q_cuda_set_gemm_engine(&fake, FP8Q_CUDA_GEMM_SIMT, &err) == FP8Q_ERR_ARG, "engine");
    CHECK(fp8q_cuda_last_gemm_path(&fake) == FP8Q_CUDA_PATH_NONE && fp8q_cuda_compute_capability(NULL) == 0 &&
              fp8q_cuda_stream(&fake) == NULL,
          "queries");
    CHECK(fp8q_cuda_rmsnorm(NULL, y, x, x, 1, 0, 1e-5f, &err) == FP8Q_ERR_ARG &&
              fp8q_cuda_rope(NULL, y, 1, 1, 3, 3, 0, x, &err) == FP8Q_ERR_ARG &&
              fp8q_cuda_attention_decode(NULL, y, x, got, got, FP8Q_E4M3, 1, 1, 3, 2, 4, 1, 8, &err) == FP8Q_ERR_ARG &&
              fp8q_cuda_swiglu(NULL, y, x, x, 5, &err) == FP8Q_ERR_ARG,
          "model kernels");
    fp8q_cuda_free(NULL, y); /* no effect */
}

/* -------------------------------------------------------- device cases */

static void test_device_identity(void)
{
    const int cc = fp8q_cuda_compute_capability(g_cuda);
    printf("    device: %s, compute capability %d.%d\n", g_cuda->device, cc / 10, cc % 10);
    CHECK(cc >= 80 && g_cuda->kind == FP8Q_BACKEND_CUDA && fp8q_cuda_stream(g_cuda) != NULL, "cc %d", cc);
}

static void test_device_encode_16bit(void)
{
    uint16_t *h = (uint16_t *)xmalloc(65536 * sizeof(uint16_t));
    size_t i;
    for (i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    compare_encoders(device_encode, "device", h, FP8Q_F16, 65536);
    compare_encoders(device_encode, "device", h, FP8Q_BF16, 65536);
    free(h);
}

static void test_device_encode_f32(void)
{
    size_t n;
    float *x = sample_floats(&n);
    compare_encoders(device_encode, "device", x, FP8Q_F32, n);
    free(x);
}

/* The device-pointer entry on misaligned pointers and lengths around 16. */
static void test_device_encode_misaligned(void)
{
    const size_t n = 1000;
    float *x = (float *)xmalloc((n + 4) * sizeof(float));
    uint8_t *want = (uint8_t *)xmalloc(n), *got = (uint8_t *)xmalloc(n);
    void *dx = NULL, *dq = NULL;
    fp8q_error err;
    size_t i, len, first;
    int off;
    special_floats(x);
    for (i = 48; i < n + 4; i++) x[i] = rnd_float_near((int)(rnd32() % 40) - 20);
    CHECK(fp8q_cuda_alloc(g_cuda, &dx, (n + 4) * sizeof(float), &err) == FP8Q_OK &&
              fp8q_cuda_alloc(g_cuda, &dq, n + 4, &err) == FP8Q_OK,
          "alloc: %s", err.message);
    CHECK(fp8q_cuda_upload(g_cuda, dx, x, (n + 4) * sizeof(float), &err) == FP8Q_OK, "upload");
    for (off = 0; off < 4; off++)
        for (len = 1; len < 40; len += 7) {
            const size_t cnt = len * 23 % n + 1;
            fp8q_encode_f32(want, x + off, cnt, FP8Q_E5M2, FP8Q_NOSAT, FP8Q_SCALE_DIV, 0.37f);
            CHECK(fp8q_cuda_encode_dev(g_cuda, (uint8_t *)dq + (3 - off), (float *)dx + off, FP8Q_F32, cnt, FP8Q_E5M2,
                                       FP8Q_NOSAT, FP8Q_SCALE_DIV, 0.37f, &err) == FP8Q_OK,
                  "encode_dev: %s", err.message);
            CHECK(fp8q_cuda_download(g_cuda, got, (uint8_t *)dq + (3 - off), cnt, &err) == FP8Q_OK, "download");
            CHECK(count_diff(got, want, cnt, &first) == 0, "offset %d n %zu: first difference at %zu", off, cnt, first);
        }
    fp8q_cuda_free(g_cuda, dx), fp8q_cuda_free(g_cuda, dq);
    free(x), free(want), free(got);
}

/* All 2^32 float inputs on the device (--exhaustive). */
static void test_device_encode_all(void)
{
    const size_t chunk = (size_t)1 << 26;
    float *x = (float *)xmalloc(chunk * sizeof(float));
    uint8_t *want = (uint8_t *)xmalloc(chunk), *got = (uint8_t *)xmalloc(chunk);
    uint64_t base;
    size_t i, first, d, bad = 0;
    int f, sat;
    for (base = 0; base < ((uint64_t)1 << 32); base += chunk) {
        for (i = 0; i < chunk; i++) x[i] = from_bits((uint32_t)(base + i));
        for (f = 0; f < 2; f++)
            for (sat = 0; sat < 2; sat++) {
                fp8q_encode_f32(want, x, chunk, (fp8q_format)f, (fp8q_saturation)sat, FP8Q_SCALE_NONE, 0);
                device_encode(got, x, FP8Q_F32, chunk, (fp8q_format)f, (fp8q_saturation)sat, FP8Q_SCALE_NONE, 0);
                d = count_diff(got, want, chunk, &first);
                if (d && bad++ < 8)
                    printf("    fmt %d sat %d: %zu differ, first input %08X: %02X want %02X\n", f, sat, d,
                           (uint32_t)(base + first), got[first], want[first]);
            }
    }
    CHECK(bad == 0, "%zu chunk conversions differ", bad);
    free(x), free(want), free(got);
}

static void test_device_quantize(void) { compare_quantizers(device_quantize, "device"); }

/* Bigger matrices: several blocks per tensor (atomics), per-token rows
   with cols % 4 != 0, through the device-pointer entry at an odd offset. */
static void test_device_quantize_large(void)
{
    static const char *names[] = {"vllm-per-tensor", "vllm-per-token", "ct-tensor-bf16", "mx-e4m3",
                                  "deepseek-block128"};
    const size_t rows = 37, cols = 50003;
    float *x = make_matrix(rows, cols, 1);
    uint8_t *want = (uint8_t *)xmalloc(rows * cols), *got = (uint8_t *)xmalloc(rows * cols);
    float *ws = (float *)xmalloc(rows * cols * sizeof(float)), *gs = (float *)xmalloc(rows * cols * sizeof(float));
    void *dx = NULL, *dq = NULL, *ds = NULL;
    fp8q_error err;
    size_t k, i, first, sd, d;
    CHECK(fp8q_cuda_alloc(g_cuda, &dx, (rows * cols + 1) * sizeof(float), &err) == FP8Q_OK &&
              fp8q_cuda_alloc(g_cuda, &dq, rows * cols + 1, &err) == FP8Q_OK &&
              fp8q_cuda_alloc(g_cuda, &ds, rows * cols * sizeof(float), &err) == FP8Q_OK,
          "alloc");
    CHECK(fp8q_cuda_upload(g_cuda, (float *)dx + 1, x, rows * cols * sizeof(float), &err) == FP8Q_OK, "upload");
    for (k = 0; k < sizeof names / sizeof names[0]; k++) {
        const fp8q_recipe *r = fp8q_recipe_get(names[k]);
        const size_t ns = fp8q_scale_count(r, rows, cols);
        fp8q_compute_scales(ws, x, rows, cols, r);
        fp8q_quantize(want, x, rows, cols, ws, r);
        CHECK(fp8q_cuda_quantize_dev(g_cuda, (uint8_t *)dq + 1, (float *)ds, (float *)dx + 1, rows, cols, r, 1, &err) ==
                  FP8Q_OK,
              "%s: %s", names[k], err.message);
        CHECK(fp8q_cuda_download(g_cuda, got, (uint8_t *)dq + 1, rows * cols, &err) == FP8Q_OK &&
                  fp8q_cuda_download(g_cuda, gs, ds, ns * sizeof(float), &err) == FP8Q_OK,
              "download");
        for (sd = 0, i = 0; i < ns; i++) sd += f32_bits(gs[i]) != f32_bits(ws[i]);
        d = count_diff(got, want, rows * cols, &first);
        CHECK(sd == 0 && d == 0, "%s: %zu scales and %zu bytes differ, first byte %zu", names[k], sd, d, first);
    }
    fp8q_cuda_free(g_cuda, dx), fp8q_cuda_free(g_cuda, dq), fp8q_cuda_free(g_cuda, ds);
    free(x), free(want), free(got), free(ws), free(gs);
}

/* ---- GEMM */

typedef struct gemm_case {
    size_t M, N, K;
    uint8_t *a, *b;
    float *a_f32, *sa, *sb, *bias, *c, *c_ref;
} gemm_case;

static uint8_t finite_code(fp8q_format f)
{
    uint8_t v;
    do v = (uint8_t)rnd32();
    while (!isfinite(fp8q_to_f32(v, f)));
    return v;
}

static gemm_case gemm_case_new(size_t M, size_t N, size_t K, fp8q_format fa, fp8q_format fb)
{
    gemm_case t;
    size_t i;
    t.M = M, t.N = N, t.K = K;
    t.a = (uint8_t *)xmalloc(M * K), t.b = (uint8_t *)xmalloc(N * K), t.a_f32 = (float *)xmalloc(M * K * 4);
    t.sa = (float *)xmalloc(M * K * 4), t.sb = (float *)xmalloc(N * K * 4), t.bias = (float *)xmalloc(N * 4);
    t.c = (float *)xmalloc(M * N * 4), t.c_ref = (float *)xmalloc(M * N * 4);
    for (i = 0; i < M * K; i++) t.a[i] = finite_code(fa), t.a_f32[i] = rnd_uniform(-3, 3);
    for (i = 0; i < N * K; i++) t.b[i] = finite_code(fb);
    for (i = 0; i < M * K; i++) t.sa[i] = 0.001f + (float)(rnd32() % 1000) * 1e-4f;
    for (i = 0; i < N * K; i++) t.sb[i] = 0.002f + (float)(rnd32() % 1000) * 3e-6f;
    for (i = 0; i < N; i++) t.bias[i] = (float)(int)(rnd32() % 200) * 0.01f - 1.0f;
    return t;
}

static void gemm_case_free(gemm_case *t)
{
    free(t->a), free(t->b), free(t->a_f32), free(t->sa), free(t->sb), free(t->bias), free(t->c), free(t->c_ref);
}

/* Scale granularities: tiles (a_rows, a_cols, b_rows, b_cols), -1 = NULL scales. */
static const int g_grans[][4] = {{-1, -1, -1, -1}, {0, 0, 0, 0},       {1, 0, 1, 0}, {0, 0, 1, 0},
                                 {1, 0, 0, 0},     {1, 128, 128, 128}, {1, 4, 1, 4}, {3, 0, 7, 0}};
#define N_GRANS (sizeof g_grans / sizeof g_grans[0])

static void set_gran(fp8q_gemm *g, gemm_case *t, const int *gr)
{
    g->a_scales = gr[0] < 0 ? NULL : t->sa, g->b_scales = gr[2] < 0 ? NULL : t->sb;
    g->a_tile_rows = gr[0] < 0 ? 0 : gr[0], g->a_tile_cols = gr[1] < 0 ? 0 : gr[1];
    g->b_tile_rows = gr[2] < 0 ? 0 : gr[2], g->b_tile_cols = gr[3] < 0 ? 0 : gr[3];
}

/* Float value of output element i of c (c_type). */
static float out_value(const void *c, fp8q_dtype t, size_t i)
{
    if (t == FP8Q_F32) return ((const float *)c)[i];
    return t == FP8Q_BF16 ? fp8q_bf16_to_f32(((const uint16_t *)c)[i]) : fp8q_f16_to_f32(((const uint16_t *)c)[i]);
}

/* One unit in the last place of the 16-bit output type at |y|. */
static double ulp16(double y, fp8q_dtype t)
{
    int e;
    const int mant = t == FP8Q_BF16 ? 7 : 10, emin = t == FP8Q_BF16 ? -126 : -14;
    (void)frexp(fabs(y), &e);
    e = y == 0 || e - 1 < emin ? emin : e - 1;
    return ldexp(1.0, e - mant);
}

static double g_worst_ratio[3]; /* largest |got - exact| / tolerance per path (index = fp8q_cuda_gemm_path) */

/* What the device must match for the float32 request g: EXACT, REFERENCE
   (float32; the 16-bit outputs are their RNE roundings) and each output's
   fp8q_gemm_tolerance. */
typedef struct gemm_want {
    float *exact, *ref;
    double *tol;
} gemm_want;

static gemm_want gemm_want_new(fp8q_gemm g)
{
    const size_t M = g.M, N = g.N, K = g.K;
    gemm_want w;
    fp8q__gemm_plan plan;
    size_t m, n, k;
    w.exact = (float *)xmalloc(M * N * 4), w.ref = (float *)xmalloc(M * N * 4);
    w.tol = (double *)xmalloc(M * N * sizeof(double));
    g.c_type = FP8Q_F32, g.c = w.exact;
    fp8q_gemm_run(&g, FP8Q_GEMM_EXACT);
    g.c = w.ref;
    fp8q_gemm_run(&g, FP8Q_GEMM_REFERENCE);
    (void)fp8q__gemm_check(&g, &plan);
    for (m = 0; m < M; m++)
        for (n = 0; n < N; n++) {
            double sum_abs = g.bias ? fabs(g.bias[n]) : 0;
            for (k = 0; k < K; k++) {
                const double av = g.a ? fp8q_to_f32(g.a[m * K + k], g.a_format) : g.a_f32[m * K + k];
                sum_abs += fabs(av * fp8q_to_f32(g.b[n * K + k], g.b_format) *
                                fp8q__scale_at(g.a_scales, plan.a_tr, plan.a_tc, plan.a_ncols, m, k) *
                                fp8q__scale_at(g.b_scales, plan.b_tr, plan.b_tc, plan.b_ncols, n, k));
            }
            w.tol[m * N + n] = fp8q_gemm_tolerance(K, sum_abs);
        }
    return w;
}

static void gemm_want_free(gemm_want *w) { free(w->exact), free(w->ref), free(w->tol); }

/* Runs g (its c_type) on the device and checks it against EXACT (tolerance,
   plus one 16-bit ulp for 16-bit outputs) and, when the SIMT engine ran,
   against REFERENCE bit for bit. */
static void check_gemm(gemm_case *t, fp8q_gemm g, const gemm_want *w, const char *label)
{
    const size_t M = t->M, N = t->N;
    const fp8q_dtype ct = g.c_type;
    fp8q_backend_kind ran = FP8Q_BACKEND_CPU;
    fp8q_error err;
    size_t i, bad_tol = 0, bad_ref = 0;
    fp8q_cuda_gemm_path path;
    double worst = 0;
    g.c = t->c;
    memset(t->c, 0xA5, M * N * 4);
    CHECK(fp8q_backend_gemm(g_cuda, &g, FP8Q_GEMM_FAST, &ran, &err) == FP8Q_OK && ran == FP8Q_BACKEND_CUDA, "%s: %s",
          label, err.message);
    path = fp8q_cuda_last_gemm_path(g_cuda);
    for (i = 0; i < M * N; i++) {
        const double y = w->exact[i], got = out_value(t->c, ct, i);
        const double tol = w->tol[i] + (ct == FP8Q_F32 ? 0 : ulp16(y, ct));
        const uint32_t want_ref = ct == FP8Q_F32    ? f32_bits(w->ref[i])
                                  : ct == FP8Q_BF16 ? fp8q_f32_to_bf16(w->ref[i])
                                                    : fp8q_f32_to_f16(w->ref[i]);
        const uint32_t got_bits = ct == FP8Q_F32 ? f32_bits(t->c[i]) : ((const uint16_t *)t->c)[i];
        /* Inf is right in half when y is within the tolerance of half's overflow threshold */
        const int inf_ok = ct == FP8Q_F16 && isinf(got) && (got > 0) == (y > 0) && fabs(y) + w->tol[i] >= 65520.0;
        if (!inf_ok && !(fabs(got - y) <= tol)) bad_tol++;
        if (!inf_ok && fabs(got - y) / tol > worst) worst = fabs(got - y) / tol;
        if (path == FP8Q_CUDA_PATH_SIMT && got_bits != want_ref) bad_ref++;
    }
    if (worst > g_worst_ratio[path]) g_worst_ratio[path] = worst;
    CHECK(bad_tol == 0, "%s (%s): %zu of %zu outside fp8q_gemm_tolerance (worst ratio %.3g)", label,
          path == FP8Q_CUDA_PATH_SIMT ? "SIMT" : "cuBLASLt", bad_tol, M * N, worst);
    CHECK(bad_ref == 0, "%s (SIMT): %zu differ from REFERENCE", label, bad_ref);
}

/* Every shape x scale granularity x bias x output type x engine. */
static void test_device_gemm(void)
{
    static const size_t shapes[][3] = {{1, 7, 33},   {5, 70, 130},  {9, 131, 64},   {3, 64, 300}, {17, 5, 1},
                                       {64, 64, 64}, {64, 96, 512}, {33, 40, 1000}, {1, 512, 64}, {70, 24, 2048}};
    const int cc = fp8q_cuda_compute_capability(g_cuda);
    size_t s, gi;
    int e, ct, bias;
    char label[160];
    fp8q_error err;
    for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const fp8q_format fb = s == 2 ? FP8Q_E5M2 : FP8Q_E4M3;
        gemm_case t = gemm_case_new(shapes[s][0], shapes[s][1], shapes[s][2], FP8Q_E4M3, fb);
        for (gi = 0; gi < N_GRANS; gi++)
            for (bias = 0; bias < 2; bias++) {
                fp8q_gemm g = plain_gemm(t.M, t.N, t.K, t.a, t.b, t.c);
                gemm_want w;
                g.b_format = fb, g.bias = bias ? t.bias : NULL;
                set_gran(&g, &t, g_grans[gi]);
                w = gemm_want_new(g);
                for (e = 0; e < 2; e++) {
                    CHECK(fp8q_cuda_set_gemm_engine(g_cuda, (fp8q_cuda_gemm_engine)e, &err) == FP8Q_OK, "engine");
                    for (ct = 0; ct < 3; ct++) {
                        g.c_type = (fp8q_dtype)ct;
                        (void)snprintf(label, sizeof label, "engine %d %zux%zux%zu scales %zu c_type %d bias %d", e,
                                       t.M, t.N, t.K, gi, ct, bias);
                        check_gemm(&t, g, &w, label);
                        if (e == 0 && cc >= 89 && gi < 2)
                            CHECK(fp8q_cuda_last_gemm_path(g_cuda) == FP8Q_CUDA_PATH_CUBLASLT,
                                  "%s: ran SIMT, cuBLASLt refused", label);
                    }
                }
                gemm_want_free(&w);
            }
        gemm_case_free(&t);
    }
    CHECK(fp8q_cuda_set_gemm_engine(g_cuda, FP8Q_CUDA_GEMM_AUTO, &err) == FP8Q_OK, "engine");
    printf("    largest |device - EXACT| / fp8q_gemm_tolerance: cuBLASLt %.3g, SIMT %.3g\n",
           g_worst_ratio[FP8Q_CUDA_PATH_CUBLASLT], g_worst_ratio[FP8Q_CUDA_PATH_SIMT]);
}

/* W8A16 and FNUZ operands (SIMT), and NaN / Inf inputs on the SIMT engine. */
static void test_device_gemm_w8a16_specials(void)
{
    gemm_case t = gemm_case_new(7, 45, 77, FP8Q_E4M3, FP8Q_E4M3FNUZ);
    fp8q_gemm g = plain_gemm(t.M, t.N, t.K, NULL, t.b, t.c);
    fp8q_error err;
    size_t i;
    gemm_want w;
    g.a_f32 = t.a_f32, g.b_format = FP8Q_E4M3FNUZ, g.bias = t.bias;
    set_gran(&g, &t, g_grans[3]);
    w = gemm_want_new(g);
    check_gemm(&t, g, &w, "W8A16 x FNUZ per channel");
    g.c_type = FP8Q_BF16;
    check_gemm(&t, g, &w, "W8A16 bf16");
    gemm_want_free(&w);
    gemm_case_free(&t);
    t = gemm_case_new(3, 40, 50, FP8Q_E5M2, FP8Q_E5M2);
    for (i = 0; i < 12; i++) t.a[rnd32() % (3 * 50)] = (uint8_t[]){0x7C, 0xFC, 0x7F, 0xFE}[i % 4];
    for (i = 0; i < 12; i++) t.b[rnd32() % (40 * 50)] = (uint8_t[]){0x7C, 0xFD, 0x00}[i % 3];
    CHECK(fp8q_cuda_set_gemm_engine(g_cuda, FP8Q_CUDA_GEMM_SIMT, &err) == FP8Q_OK, "engine");
    g = plain_gemm(t.M, t.N, t.K, t.a, t.b, t.c), g.a_format = g.b_format = FP8Q_E5M2;
    set_gran(&g, &t, g_grans[2]);
    {
        fp8q_gemm ge = g;
        ge.c = t.c_ref;
        fp8q_gemm_run(&ge, FP8Q_GEMM_REFERENCE);
        CHECK(fp8q_backend_gemm(g_cuda, &g, FP8Q_GEMM_FAST, NULL, &err) == FP8Q_OK, "%s", err.message);
        CHECK(memcmp(t.c, t.c_ref, t.M * t.N * 4) == 0, "non-finite inputs: SIMT differs from REFERENCE");
    }
    CHECK(fp8q_cuda_set_gemm_engine(g_cuda, FP8Q_CUDA_GEMM_AUTO, &err) == FP8Q_OK, "engine");
    gemm_case_free(&t);
}

/* What the backend declines runs on the CPU, with the CPU's results. */
static void test_device_fallbacks(void)
{
    gemm_case t = gemm_case_new(4, 9, 20, FP8Q_E4M3, FP8Q_E4M3);
    fp8q_gemm g = plain_gemm(t.M, t.N, t.K, t.a, t.b, t.c);
    fp8q_backend_kind ran = FP8Q_BACKEND_CUDA;
    fp8q_recipe fnuz = *fp8q_recipe_get("vllm-per-token");
    float x[6] = {1, -2, 300, 1e-9f, NAN, 7}, s1[2], s2[2];
    uint8_t q1[6], q2[6];
    int mode;
    for (mode = 0; mode < 2; mode++) { /* REFERENCE, EXACT */
        fp8q_gemm gc = g;
        gc.c = t.c_ref;
        fp8q_gemm_run(&gc, (fp8q_gemm_mode)mode);
        CHECK(fp8q_backend_gemm(g_cuda, &g, (fp8q_gemm_mode)mode, &ran, NULL) == FP8Q_OK && ran == FP8Q_BACKEND_CPU &&
                  memcmp(t.c, t.c_ref, t.M * t.N * 4) == 0,
              "mode %d ran on %s", mode, fp8q_backend_kind_name(ran));
    }
    fp8q_encode_f32(q1, x, 6, FP8Q_E4M3FNUZ, FP8Q_NOSAT, FP8Q_SCALE_MUL, 0.5f);
    CHECK(fp8q_backend_encode(g_cuda, q2, x, FP8Q_F32, 6, FP8Q_E4M3FNUZ, FP8Q_NOSAT, FP8Q_SCALE_MUL, 0.5f, &ran,
                              NULL) == FP8Q_OK &&
              ran == FP8Q_BACKEND_CPU && memcmp(q1, q2, 6) == 0,
          "FNUZ encode");
    fnuz.format = FP8Q_E5M2FNUZ;
    fp8q_compute_scales(s1, x, 2, 3, &fnuz), fp8q_quantize(q1, x, 2, 3, s1, &fnuz);
    CHECK(fp8q_backend_quantize(g_cuda, q2, s2, x, 2, 3, &fnuz, 1, &ran, NULL) == FP8Q_OK && ran == FP8Q_BACKEND_CPU &&
              memcmp(q1, q2, 6) == 0 && memcmp(s1, s2, sizeof s1) == 0,
          "FNUZ recipe");
    gemm_case_free(&t);
}

/* Error paths on a live device. */
static void test_device_errors(void)
{
    float host[16] = {0}, *dev = NULL;
    uint8_t q[16];
    fp8q_error err;
    fp8q_gemm g = plain_gemm(1, 1, 0, q, q, host);
    fp8q_backend_kind ran;
    CHECK(fp8q_cuda_alloc(g_cuda, (void **)&dev, sizeof host, &err) == FP8Q_OK, "alloc");
    CHECK(fp8q_cuda_encode_dev(g_cuda, q, dev, FP8Q_F32, 16, FP8Q_E4M3, FP8Q_NOSAT, FP8Q_SCALE_NONE, 0, &err) ==
                  FP8Q_ERR_ARG &&
              strstr(err.message, "dst is not device memory"),
          "host dst: %s", err.message);
    CHECK(fp8q_cuda_quantize_dev(g_cuda, (uint8_t *)dev, host, dev, 1, 4, fp8q_recipe_get("vllm-per-token"), 1, &err) ==
                  FP8Q_ERR_ARG &&
              strstr(err.message, "scales"),
          "host scales: %s", err.message);
    CHECK(fp8q_backend_gemm(g_cuda, &g, FP8Q_GEMM_FAST, &ran, &err) == FP8Q_ERR_ARG && err.message[0], "K 0");
    CHECK(fp8q_backend_encode(g_cuda, q, host, FP8Q_F64, 4, FP8Q_E4M3, FP8Q_NOSAT, FP8Q_SCALE_NONE, 0, &ran, &err) ==
              FP8Q_ERR_ARG,
          "F64 source");
    CHECK(fp8q_cuda_sync(g_cuda, &err) == FP8Q_OK, "the device is still healthy: %s", err.message);
    fp8q_cuda_free(g_cuda, dev);
}

/* ---- model kernels against double-precision references */

static float *dev_copy(const float *h, size_t n)
{
    void *d = NULL;
    fp8q_error err;
    CHECK(fp8q_cuda_alloc(g_cuda, &d, n * sizeof(float), &err) == FP8Q_OK &&
              fp8q_cuda_upload(g_cuda, d, h, n * sizeof(float), &err) == FP8Q_OK,
          "dev_copy: %s", err.message);
    return (float *)d;
}

static size_t count_far(const float *got, const double *want, size_t n, double rtol, double atol)
{
    size_t i, bad = 0;
    for (i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= atol + rtol * fabs(want[i]))) bad++;
    return bad;
}

static void test_device_model_kernels(void)
{
    enum { ROWS = 3, DIM = 1000, HD = 64, NH = 8, NKV = 2, LEN = 300, NT = 3 };
    float *x = (float *)xmalloc(ROWS * DIM * 4), *w = (float *)xmalloc(DIM * 4), *y = (float *)xmalloc(ROWS * DIM * 4);
    double *ref = (double *)xmalloc(ROWS * DIM * sizeof(double));
    float inv_freq[HD / 2], q[NH * HD], out[NH * HD];
    uint8_t *kc = (uint8_t *)xmalloc(LEN * NKV * HD), *vc = (uint8_t *)xmalloc(LEN * NKV * HD);
    float *dx, *dw, *dy, *df, *dq, *dout;
    void *dk = NULL, *dv = NULL;
    const float ks = 0.02f, vs = 0.5f;
    fp8q_error err;
    size_t i, j, t, h, p, d;
    for (i = 0; i < ROWS * DIM; i++) x[i] = rnd_uniform(-4, 4);
    for (i = 0; i < DIM; i++) w[i] = rnd_uniform(0.5f, 1.5f);
    dx = dev_copy(x, ROWS * DIM), dw = dev_copy(w, DIM), dy = dev_copy(x, ROWS * DIM);
    /* RMSNorm */
    CHECK(fp8q_cuda_rmsnorm(g_cuda, dy, dx, dw, ROWS, DIM, 1e-5f, &err) == FP8Q_OK, "rmsnorm: %s", err.message);
    fp8q_cuda_download(g_cuda, y, dy, ROWS * DIM * 4, &err);
    for (i = 0; i < ROWS; i++) {
        double ss = 0;
        for (j = 0; j < DIM; j++) ss += (double)x[i * DIM + j] * x[i * DIM + j];
        for (j = 0; j < DIM; j++) ref[i * DIM + j] = w[j] * (x[i * DIM + j] / sqrt(ss / DIM + 1e-5));
    }
    CHECK(count_far(y, ref, ROWS * DIM, 4e-6, 1e-6) == 0, "rmsnorm differs");
    /* SwiGLU: out = x0 / (1 + exp(-x0)) * x1 on rows 0 and 1 */
    CHECK(fp8q_cuda_swiglu(g_cuda, dy, dx, dx + DIM, DIM, &err) == FP8Q_OK, "swiglu: %s", err.message);
    fp8q_cuda_download(g_cuda, y, dy, DIM * 4, &err);
    for (j = 0; j < DIM; j++) ref[j] = x[j] / (1.0 + exp(-(double)x[j])) * x[DIM + j];
    CHECK(count_far(y, ref, DIM, 2e-6, 1e-7) == 0, "swiglu differs");
    /* RoPE on NT tokens of NH heads at positions 5.., row stride DIM */
    for (i = 0; i < HD / 2; i++) inv_freq[i] = (float)pow(500000.0, -2.0 * (double)i / HD) / (i > 20 ? 8.0f : 1.0f);
    df = dev_copy(inv_freq, HD / 2);
    fp8q_cuda_upload(g_cuda, dy, x, ROWS * DIM * 4, &err);
    CHECK(fp8q_cuda_rope(g_cuda, dy, NT, NH, HD, DIM, 5, df, &err) == FP8Q_OK, "rope: %s", err.message);
    fp8q_cuda_download(g_cuda, y, dy, ROWS * DIM * 4, &err);
    for (i = 0; i < ROWS * DIM; i++) ref[i] = x[i];
    for (t = 0; t < NT; t++)
        for (h = 0; h < NH; h++)
            for (i = 0; i < HD / 2; i++) {
                const size_t o = t * DIM + h * HD;
                const double ang = (float)(5 + t) * inv_freq[i], a = x[o + i], b = x[o + i + HD / 2];
                ref[o + i] = a * cos(ang) - b * sin(ang), ref[o + i + HD / 2] = b * cos(ang) + a * sin(ang);
            }
    CHECK(count_far(y, ref, ROWS * DIM, 1e-6, 2e-6) == 0, "rope differs");
    /* decode attention over an E4M3 cache */
    for (i = 0; i < NH * HD; i++) q[i] = rnd_uniform(-1, 1);
    for (i = 0; i < LEN * NKV * HD; i++) kc[i] = finite_code(FP8Q_E4M3) & 0xBF, vc[i] = finite_code(FP8Q_E4M3);
    dq = dev_copy(q, NH * HD), dout = dev_copy(q, NH * HD);
    fp8q_cuda_alloc(g_cuda, &dk, LEN * NKV * HD, &err), fp8q_cuda_alloc(g_cuda, &dv, LEN * NKV * HD, &err);
    fp8q_cuda_upload(g_cuda, dk, kc, LEN * NKV * HD, &err), fp8q_cuda_upload(g_cuda, dv, vc, LEN * NKV * HD, &err);
    CHECK(fp8q_cuda_attention_decode(g_cuda, dout, dq, (uint8_t *)dk, (uint8_t *)dv, FP8Q_E4M3, ks, vs, NH, NKV, HD,
                                     LEN, NKV * HD, &err) == FP8Q_OK,
          "attention: %s", err.message);
    fp8q_cuda_download(g_cuda, out, dout, NH * HD * 4, &err);
    {
        double vmax = 0, sc[LEN];
        for (i = 0; i < LEN * NKV * HD; i++)
            if (fabs(fp8q_to_f32(vc[i], FP8Q_E4M3) * vs) > vmax) vmax = fabs(fp8q_to_f32(vc[i], FP8Q_E4M3) * vs);
        for (h = 0; h < NH; h++) {
            const size_t kvh = h / (NH / NKV);
            double mx = -1e300, sum = 0;
            for (p = 0; p < LEN; p++) {
                double dot = 0;
                for (d = 0; d < HD; d++)
                    dot += (double)q[h * HD + d] * (fp8q_to_f32(kc[p * NKV * HD + kvh * HD + d], FP8Q_E4M3) * ks);
                sc[p] = dot / sqrt((double)HD), mx = sc[p] > mx ? sc[p] : mx;
            }
            for (p = 0; p < LEN; p++) sum += (sc[p] = exp(sc[p] - mx));
            for (d = 0; d < HD; d++) {
                double o = 0;
                for (p = 0; p < LEN; p++)
                    o += sc[p] / sum * (fp8q_to_f32(vc[p * NKV * HD + kvh * HD + d], FP8Q_E4M3) * vs);
                ref[h * HD + d] = o;
            }
        }
        CHECK(count_far(out, ref, NH * HD, 0, 1e-5 * vmax) == 0, "attention differs");
    }
    fp8q_cuda_free(g_cuda, dx), fp8q_cuda_free(g_cuda, dw), fp8q_cuda_free(g_cuda, dy), fp8q_cuda_free(g_cuda, df);
    fp8q_cuda_free(g_cuda, dq), fp8q_cuda_free(g_cuda, dout), fp8q_cuda_free(g_cuda, dk), fp8q_cuda_free(g_cuda, dv);
    free(x), free(w), free(y), free(ref), free(kc), free(vc);
}

/* ------------------------------------------------------------ whole model */

#define MODEL_FIX "tests/fixtures/llama/"

static int load_fixture(fp8q_model *m, const char *name, fp8q_quant quant, fp8q_kv_cache kv)
{
    char dir[256];
    fp8q_model_options o;
    fp8q_error err;
    memset(&o, 0, sizeof o);
    o.quant = quant, o.kv_cache = kv, o.gemm = FP8Q_GEMM_FAST;
    (void)snprintf(dir, sizeof dir, MODEL_FIX "%s", name);
    if (fp8q_model_load(m, dir, &o, &err) == FP8Q_OK) return 1;
    CHECK(0, "%s: %s", dir, err.message);
    return 0;
}

/* fp8q_cuda_plan_model decides on the host which models the device runs. */
static void test_plan_model(void)
{
    fp8q_model m;
    fp8q_error err;
    memset(&m, 0, sizeof m);
    CHECK(fp8q_cuda_plan_model(NULL, &err) == FP8Q_ERR_ARG, "NULL model");
    if (!load_fixture(&m, "tiny-gqa-bf16", FP8Q_QUANT_FP8_DYNAMIC, FP8Q_KV_E4M3)) return;
    CHECK(fp8q_cuda_plan_model(&m, &err) == FP8Q_OK, "fp8-dynamic, FAST: %s", err.message);
    m.opt.gemm = FP8Q_GEMM_REFERENCE;
    CHECK(fp8q_cuda_plan_model(&m, &err) == FP8Q_ERR_UNSUPPORTED && strstr(err.message, "FAST"), "REFERENCE: %s",
          err.message);
    m.opt.gemm = FP8Q_GEMM_FAST;
    m.layers[1].inc_qk[0] = 0.5f;
    CHECK(fp8q_cuda_plan_model(&m, &err) == FP8Q_ERR_UNSUPPORTED && strstr(err.message, "layer 1"), "INC attention: %s",
          err.message);
    m.layers[1].inc_qk[0] = 0.0f;
    m.layers[0].mod[FP8Q_MOD_GATE].inc_dynamic = 1;
    CHECK(fp8q_cuda_plan_model(&m, &err) == FP8Q_ERR_UNSUPPORTED && strstr(err.message, "gate_proj"), "INC dynamic: %s",
          err.message);
    m.layers[0].mod[FP8Q_MOD_GATE].inc_dynamic = 0;
    m.kv_qmax = 240.0f;
    CHECK(fp8q_cuda_plan_model(&m, &err) == FP8Q_ERR_UNSUPPORTED && strstr(err.message, "fp8_inc"), "INC KV: %s",
          err.message);
    m.kv_qmax = 0.0f;
    {
        float *norm = m.final_norm;
        m.final_norm = NULL; /* a model built by hand without it */
        CHECK(fp8q_cuda_plan_model(&m, &err) == FP8Q_ERR_ARG && strstr(err.message, "final norm"), "no norm: %s",
              err.message);
        m.final_norm = norm;
    }
    CHECK(fp8q_cuda_plan_model(&m, &err) == FP8Q_OK, "restored: %s", err.message);
    fp8q_model_free(&m);
}

/* The largest |gpu - cpu| over rows x vocab logits, relative to max |cpu|. */
static double logits_error(const float *gpu, const float *cpu, size_t n)
{
    double diff = 0, top = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        const double d = fabs((double)gpu[i] - cpu[i]);
        diff = d > diff || d != d ? d : diff;
        top = fabs(cpu[i]) > top ? fabs(cpu[i]) : top;
    }
    return top > 0 ? diff / top : diff;
}

/* One fixture: prefill of `prefill` tokens with every row's logits, then
   four single-token decodes, on a CPU state and a device state side by
   side; returns the worst relative error (negative when a call failed). */
static double model_run(const fp8q_model *m, int prefill)
{
    static const int32_t prompt[12] = {1, 17, 33, 5, 99, 64, 2, 120, 7, 45, 88, 3};
    fp8q_state cpu, gpu;
    fp8q_backend_kind ran = FP8Q_BACKEND_CPU;
    fp8q_error err;
    const size_t V = (size_t)m->config.vocab_size;
    float *all_cpu = (float *)xmalloc((size_t)prefill * V * 4), *all_gpu = (float *)xmalloc((size_t)prefill * V * 4);
    double worst = -1;
    int i;
    memset(&cpu, 0, sizeof cpu), memset(&gpu, 0, sizeof gpu);
    if (fp8q_state_init(&cpu, m, 32, prefill, &err) != FP8Q_OK ||
        fp8q_state_init_backend(&gpu, m, g_cuda, 32, prefill, &ran, &err) != FP8Q_OK || ran != FP8Q_BACKEND_CUDA ||
        fp8q_state_backend(&gpu) != FP8Q_BACKEND_CUDA) {
        CHECK(0, "state: %s (ran %s)", err.message, fp8q_backend_kind_name(ran));
        goto out;
    }
    if (fp8q_forward(m, &cpu, prompt, prefill, all_cpu, &err) != FP8Q_OK ||
        fp8q_forward(m, &gpu, prompt, prefill, all_gpu, &err) != FP8Q_OK) {
        CHECK(0, "prefill: %s", err.message);
        goto out;
    }
    worst = logits_error(all_gpu, all_cpu, (size_t)prefill * V);
    for (i = 0; i < 4; i++) {
        const int32_t tok = (int32_t)fp8q_sample(cpu.logits, (int)V, 0.0f, 0.0f, NULL);
        double e;
        if (fp8q_forward(m, &cpu, &tok, 1, NULL, &err) != FP8Q_OK ||
            fp8q_forward(m, &gpu, &tok, 1, NULL, &err) != FP8Q_OK) {
            CHECK(0, "decode %d: %s", i, err.message);
            worst = -1;
            goto out;
        }
        e = logits_error(gpu.logits, cpu.logits, V);
        worst = e > worst ? e : worst;
    }
    CHECK(gpu.pos == cpu.pos, "positions %d and %d", gpu.pos, cpu.pos);
out:
    fp8q_state_free(&cpu), fp8q_state_free(&gpu);
    free(all_cpu), free(all_gpu);
    return worst;
}

/* The whole forward on the device against the CPU's FAST forward: the
   prefill of 12 rows goes through the GEMM engines, the one of 5 rows and
   the decodes through the GEMV kernel; FP8 KV caches and float ones. FP8
   models: a code that rounds the other way moves a logit by a few 1e-3 of
   the largest, hence 2e-2; float32: 1e-4. */
/* Every FP8 module as W8A16 (float32 activations), on the CPU and the device. */
static void make_w8a16(fp8q_model *m)
{
    int l, i;
    for (l = 0; l < m->config.num_hidden_layers; l++)
        for (i = 0; i <= FP8Q_MOD_DOWN; i++)
            if (m->layers[l].mod[i].q) m->layers[l].mod[i].act = FP8Q_ACT_NONE;
    if (m->lm_head.q) m->lm_head.act = FP8Q_ACT_NONE;
}

/* A random model whose widths are not multiples of 16 (the GEMV's
   element-wise path) written into a temporary directory. */
static int load_odd_model(fp8q_model *m, char *dir)
{
    fp8q_llama_config c;
    fp8q_model_options o;
    fp8q_error err;
    char path[300];
    int ok;
    memset(&c, 0, sizeof c), memset(&o, 0, sizeof o);
    (void)snprintf(c.architecture, sizeof c.architecture, "LlamaForCausalLM");
    c.hidden_size = 72, c.intermediate_size = 100, c.num_hidden_layers = 2, c.num_attention_heads = 4;
    c.num_key_value_heads = 2, c.head_dim = 18, c.vocab_size = 130, c.max_position_embeddings = 64;
    c.rms_norm_eps = 1e-5, c.rope_theta = 10000.0;
    o.quant = FP8Q_QUANT_FP8_DYNAMIC, o.kv_cache = FP8Q_KV_E4M3, o.gemm = FP8Q_GEMM_FAST;
    ok = fp8q_write_random_llama(dir, &c, FP8Q_F32, 7, &err) == FP8Q_OK && fp8q_model_load(m, dir, &o, &err) == FP8Q_OK;
    CHECK(ok, "random model in %s: %s", dir, err.message);
    (void)snprintf(path, sizeof path, "%s/config.json", dir), (void)remove(path);
    (void)snprintf(path, sizeof path, "%s/model.safetensors", dir), (void)remove(path);
    return ok;
}

static void test_device_model(void)
{
    static const struct {
        const char *fixture; /* NULL: the odd-width random model */
        fp8q_quant quant;
        fp8q_kv_cache kv;
        int w8a16;
        double tol;
    } cases[] = {
        {"tiny-f32", FP8Q_QUANT_NONE, FP8Q_KV_AUTO, 0, 1e-4},
        {"tiny-gqa-bf16", FP8Q_QUANT_FP8_DYNAMIC, FP8Q_KV_E4M3, 0, 2e-2},
        {"tiny-gqa-bf16", FP8Q_QUANT_FP8_DYNAMIC_TENSOR, FP8Q_KV_E5M2, 0, 2e-2},
        {"tiny-f16", FP8Q_QUANT_FP8_CHANNEL, FP8Q_KV_AUTO, 0, 2e-2},
        {"tiny-fp8-dynamic", FP8Q_QUANT_AUTO, FP8Q_KV_AUTO, 0, 2e-2},
        {"tiny-fp8-dynamic", FP8Q_QUANT_AUTO, FP8Q_KV_AUTO, 1, 1e-4}, /* W8A16: no activation codes to flip */
        {"tiny-fp8-static", FP8Q_QUANT_AUTO, FP8Q_KV_E4M3, 0, 2e-2},
        {"tiny-gqa-fp8-static-kv", FP8Q_QUANT_AUTO, FP8Q_KV_AUTO, 0, 2e-2},
        {NULL, FP8Q_QUANT_FP8_DYNAMIC, FP8Q_KV_E4M3, 0, 2e-2},
    };
    char tmp[] = "/tmp/fp8q-cuda-model-XXXXXX";
    size_t i;
    if (!mkdtemp(tmp)) {
        CHECK(0, "mkdtemp failed");
        return;
    }
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fp8q_model m;
        int prefill;
        memset(&m, 0, sizeof m);
        if (cases[i].fixture ? !load_fixture(&m, cases[i].fixture, cases[i].quant, cases[i].kv)
                             : !load_odd_model(&m, tmp))
            continue;
        if (cases[i].w8a16) make_w8a16(&m);
        for (prefill = 12; prefill >= 5; prefill -= 7) {
            const double e = model_run(&m, prefill);
            const char *name = cases[i].fixture ? cases[i].fixture : "random, widths 72/100/18";
            printf("    %-24s %-40s%s prefill %2d: max |gpu - cpu| = %.2e x max |logit|\n", name, m.scheme,
                   cases[i].w8a16 ? " W8A16" : "", prefill, e);
            CHECK(e >= 0 && e <= cases[i].tol, "%s (%s), prefill %d: error %.3e > %.1e", name, m.scheme, prefill, e,
                  cases[i].tol);
        }
        fp8q_model_free(&m);
    }
    (void)remove(tmp);
}

/* ------------------------------------------------------------------ main */

static void run_device_case(const char *name, void (*fn)(void))
{
    if (!g_cuda) {
        g_skipped++;
        return;
    }
    run_case(name, fn);
}

int main(int argc, char **argv)
{
    fp8q_error err;
    int i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--exhaustive") == 0)
            g_exhaustive = 1;
        else if (strcmp(argv[i], "--emulate-exhaustive") == 0)
            g_emulate_exhaustive = 1;
        else {
            printf("usage: %s [--exhaustive] [--emulate-exhaustive]\n", argv[0]);
            return 2;
        }
    }
    run_case("open_errors", test_open_errors);
    run_case("plan_encode", test_plan_encode);
    run_case("plan_quantize", test_plan_quantize);
    run_case("plan_gemm", test_plan_gemm);
    run_case("emulate_encode", test_emulate_encode);
    if (g_emulate_exhaustive) run_case("emulate_encode_all_2^32", test_emulate_encode_all);
    run_case("emulate_quantize", test_emulate_quantize);
    run_case("dispatch_and_refusals", test_dispatch_and_refusals);
    run_case("plan_model", test_plan_model);
    if (fp8q_cuda_open(&g_cuda, 0, &err) != FP8Q_OK) printf("skipped: no CUDA device (%s)\n", err.message);
    run_device_case("device_identity", test_device_identity);
    run_device_case("device_encode_16bit_all", test_device_encode_16bit);
    run_device_case("device_encode_f32_sampled", test_device_encode_f32);
    run_device_case("device_encode_misaligned", test_device_encode_misaligned);
    if (g_exhaustive) run_device_case("device_encode_f32_all_2^32", test_device_encode_all);
    run_device_case("device_quantize", test_device_quantize);
    run_device_case("device_quantize_large", test_device_quantize_large);
    run_device_case("device_gemm", test_device_gemm);
    run_device_case("device_gemm_w8a16_specials", test_device_gemm_w8a16_specials);
    run_device_case("device_fallbacks", test_device_fallbacks);
    run_device_case("device_errors", test_device_errors);
    run_device_case("device_model_kernels", test_device_model_kernels);
    run_device_case("device_model", test_device_model);
    fp8q_backend_close(g_cuda);
    printf("%d passed, %d failed, %d skipped\n", g_passed, g_failed, g_skipped);
    return g_failed ? 1 : 0;
}
