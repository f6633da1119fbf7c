/* test_hpu.c - fp8q_hpu.c without a Synapse runtime, and against the fake one
   (tests/fake_synapse.c) on Gaudi2 and Gaudi3: results equal the Gaudi
   numerics, declined requests run on the CPU, the Synapse call sequence and
   arguments, injected failures, the recipe cache and leaks.
   Usage: test_hpu [libfake_synapse.so]   (default $FAKE_SYNAPSE_PATH, else
   build/libfake_synapse.so). POSIX (dlopen, setenv). */
#define _POSIX_C_SOURCE 200809L
#define FP8Q_IMPLEMENTATION
#include "fp8q.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* ---------------------------------------------------------------- setup */

static struct {
    const char *path;
    void *lib;
    const char *(*log)(void);
    void (*log_clear)(void);
    long (*live)(void);
    const char *(*live_report)(void);
} fake;

static const char *g_device = "gaudi2"; /* FAKE_SYNAPSE_DEVICE of the current pass */

/* *fn = the fake's function name (POSIX: function and object pointers convert). */
static void symbol(void *fn, size_t size, const char *name)
{
    void *p = dlsym(fake.lib, name);
    memcpy(fn, &p, size);
}

static int load_fake(const char *path)
{
    fake.path = path;
    fake.lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!fake.lib) {
        printf("cannot load the fake Synapse %s: %s\n", path, dlerror());
        return 0;
    }
    symbol(&fake.log, sizeof fake.log, "fake_synapse_log");
    symbol(&fake.log_clear, sizeof fake.log_clear, "fake_synapse_log_clear");
    symbol(&fake.live, sizeof fake.live, "fake_synapse_live");
    symbol(&fake.live_report, sizeof fake.live_report, "fake_synapse_live_report");
    return fake.log && fake.log_clear && fake.live && fake.live_report;
}

static fp8q_result open_fake(fp8q_backend **b, int device, fp8q_error *err)
{
    fp8q_hpu_options opt;
    opt.library = fake.path;
    opt.device = device;
    return fp8q_hpu_open(b, &opt, err);
}

/* Opens the fake's device or records why not. */
static fp8q_backend *must_open(void)
{
    fp8q_backend *b = NULL;
    fp8q_error err;
    memset(&err, 0, sizeof err);
    CHECK(open_fake(&b, 0, &err) == FP8Q_OK && b, "open: %s", err.message);
    return b;
}

static void close_and_check_leaks(fp8q_backend *b)
{
    fp8q_backend_close(b);
    CHECK(fake.live() == 0, "after close the fake still has: %s", fake.live_report());
}

static fp8q_gaudi device_chip(void) { return strcmp(g_device, "gaudi2") == 0 ? FP8Q_GAUDI2 : FP8Q_GAUDI3; }

static uint32_t g_rng = 0x12345678u;
static uint32_t rnd(void)
{
    g_rng ^= g_rng << 13, g_rng ^= g_rng >> 17, g_rng ^= g_rng << 5;
    return g_rng;
}

static float f32_of_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Lines of the fake's log that start with "name ". */
static int count_calls(const char *name)
{
    const char *p = fake.log();
    const size_t k = strlen(name);
    int n = 0;
    while (*p) {
        if (strncmp(p, name, k) == 0 && p[k] == ' ') n++;
        p = strchr(p, '\n');
        if (!p) break;
        p++;
    }
    return n;
}

/* The call names of the log, comma-separated, into out. */
static void call_names(char *out, size_t cap)
{
    const char *p = fake.log();
    size_t k = 0;
    out[0] = '\0';
    while (*p && k + 1 < cap) {
        const size_t len = strcspn(p, " \n");
        if (k + len + 2 >= cap) break;
        if (k) out[k++] = ',';
        memcpy(out + k, p, len);
        k += len;
        out[k] = '\0';
        p = strchr(p, '\n');
        if (!p) break;
        p++;
    }
}

/* ------------------------------------------------- no runtime: the CPU */

static void case_missing_library(void)
{
    const char *path = "/nonexistent/fp8q-test/libSynapse.so";
    fp8q_hpu_options opt;
    static fp8q_backend dummy;
    fp8q_backend *b = &dummy; /* must become NULL */
    fp8q_error err;
    memset(&err, 0, sizeof err);
    opt.library = path, opt.device = 0;
    CHECK(fp8q_hpu_open(&b, &opt, &err) == FP8Q_ERR_DEVICE, "missing library: not FP8Q_ERR_DEVICE");
    CHECK(b == NULL && err.code == FP8Q_ERR_DEVICE, "missing library: backend or code");
    CHECK(strstr(err.message, path) != NULL, "message lacks the path: %s", err.message);

    setenv("FP8Q_SYNAPSE_LIBRARY", "/nonexistent/env-dir/libSynapse.so", 1);
    CHECK(fp8q_hpu_open(&b, NULL, &err) == FP8Q_ERR_DEVICE && strstr(err.message, "/nonexistent/env-dir/"),
          "$FP8Q_SYNAPSE_LIBRARY: %s", err.message);
    unsetenv("FP8Q_SYNAPSE_LIBRARY");
    if (fp8q_hpu_open(&b, NULL, &err) == FP8Q_OK)
        fp8q_backend_close(b); /* a machine with Gaudi software */
    else
        CHECK(strstr(err.message, "libSynapse.so") != NULL, "default search: %s", err.message);

    opt.device = 7;
    CHECK(fp8q_hpu_open(&b, &opt, &err) == FP8Q_ERR_ARG && b == NULL, "device 7 accepted");
    CHECK(fp8q_hpu_open(NULL, NULL, &err) == FP8Q_ERR_ARG, "out NULL accepted");
}

static void case_missing_symbol(void)
{
    fp8q_hpu_options opt;
    fp8q_backend *b = NULL;
    fp8q_error err;
    void *libm = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
    if (!libm) return; /* not glibc */
    dlclose(libm);
    opt.library = "libm.so.6", opt.device = 0;
    CHECK(fp8q_hpu_open(&b, &opt, &err) == FP8Q_ERR_DEVICE && b == NULL, "a library without Synapse opened");
    CHECK(strstr(err.message, "has no synInitialize") != NULL, "missing symbol: %s", err.message);
}

static void case_dispatch_without_backend(void)
{
    float x[4] = {1.0f, -300.0f, 500.0f, 0.001f};
    uint8_t got[4], want[4], a[6] = {0x38, 0x40, 0xB8, 0x30, 0x44, 0x3C}, w[6] = {0x38, 0x38, 0x38, 0x40, 0x40, 0x40};
    uint16_t c[4], c_want[4];
    fp8q_backend_kind ran = FP8Q_BACKEND_HPU;
    fp8q_gemm g;
    fp8q_error err;
    fp8q_encode_f32(want, x, 4, FP8Q_E4M3, FP8Q_SATFINITE, FP8Q_SCALE_NONE, 1.0f);
    CHECK(fp8q_backend_encode(NULL, got, x, FP8Q_F32, 4, FP8Q_E4M3, FP8Q_SATFINITE, FP8Q_SCALE_NONE, 1.0f, &ran,
                              &err) == FP8Q_OK,
          "encode without backend");
    CHECK(ran == FP8Q_BACKEND_CPU && memcmp(got, want, 4) == 0, "encode without backend: ran %d", (int)ran);
    memset(&g, 0, sizeof g);
    g.M = 2, g.N = 2, g.K = 3, g.a = a, g.b = w, g.c = c_want, g.c_type = FP8Q_BF16;
    fp8q_gemm_run(&g, FP8Q_GEMM_EXACT);
    g.c = c, ran = FP8Q_BACKEND_HPU;
    CHECK(fp8q_backend_gemm(NULL, &g, FP8Q_GEMM_EXACT, &ran, &err) == FP8Q_OK && ran == FP8Q_BACKEND_CPU,
          "gemm without backend");
    CHECK(memcmp(c, c_want, sizeof c) == 0, "gemm without backend: result");
}

/* --------------------------------------------------------------- encode */

static float inverse_scale(fp8q_scale_op op, float scale)
{
    return op == FP8Q_SCALE_NONE ? 1.0f : op == FP8Q_SCALE_MUL ? scale : 1.0f / scale;
}

/* Encodes src on b and checks ran == HPU and the bytes against fp8q_gaudi_encode_*. */
static void check_hpu_encode(fp8q_backend *b, const void *src, fp8q_dtype type, size_t n, fp8q_format fmt,
                             fp8q_scale_op op, float scale)
{
    const fp8q_gaudi_fp8 f = fp8q_gaudi_fp8_default(device_chip(), fmt == FP8Q_E4M3 ? FP8Q_GAUDI_143 : FP8Q_GAUDI_152);
    uint8_t *got = (uint8_t *)malloc(n), *want = (uint8_t *)malloc(n);
    fp8q_backend_kind ran = FP8Q_BACKEND_CPU;
    fp8q_error err;
    fp8q_result r;
    size_t i;
    if (!got || !want) {
        CHECK(0, "out of memory");
        free(got), free(want);
        return;
    }
    memset(got, 0xAA, n);
    if (type == FP8Q_F32)
        fp8q_gaudi_encode_f32(want, (const float *)src, n, &f, FP8Q_GAUDI_RNE, FP8Q_GAUDI_SATURATE,
                              inverse_scale(op, scale), NULL);
    else
        fp8q_gaudi_encode_bf16(want, (const uint16_t *)src, n, &f, FP8Q_GAUDI_RNE, FP8Q_GAUDI_SATURATE,
                               inverse_scale(op, scale), NULL);
    r = fp8q_backend_encode(b, got, src, type, n, fmt, FP8Q_SATFINITE, op, scale, &ran, &err);
    CHECK(r == FP8Q_OK && ran == FP8Q_BACKEND_HPU, "encode type %d fmt %d op %d scale %g: result %d ran %d (%s)",
          (int)type, (int)fmt, (int)op, (double)scale, (int)r, (int)ran, r == FP8Q_OK ? "" : err.message);
    for (i = 0; i < n; i++)
        if (got[i] != want[i]) {
            CHECK(0, "encode type %d fmt %d op %d scale %g: [%lu] got %02X want %02X", (int)type, (int)fmt, (int)op,
                  (double)scale, (unsigned long)i, got[i], want[i]);
            break;
        }
    free(got), free(want);
}

static void case_encode_bf16_every_value(void)
{
    static const struct {
        fp8q_scale_op op;
        float scale;
    } scales[] = {{FP8Q_SCALE_NONE, 0.0f}, {FP8Q_SCALE_MUL, 0.37f}, {FP8Q_SCALE_MUL, 16.0f}, {FP8Q_SCALE_DIV, 0.25f}};
    static uint16_t all[65536];
    fp8q_backend *b = must_open();
    size_t i;
    if (!b) return;
    for (i = 0; i < 65536; i++) all[i] = (uint16_t)i;
    for (i = 0; i < sizeof scales / sizeof scales[0]; i++) {
        check_hpu_encode(b, all, FP8Q_BF16, 65536, FP8Q_E4M3, scales[i].op, scales[i].scale);
        check_hpu_encode(b, all, FP8Q_BF16, 65536, FP8Q_E5M2, scales[i].op, scales[i].scale);
    }
    close_and_check_leaks(b);
}

/* Specials, the format edges, every E4M3 midpoint and its neighbours, random values. */
static size_t varied_f32(float *x, size_t cap)
{
    static const uint32_t specials[] = {0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u,
                                        0xFFC00000u, 0x7F800001u, 0x7F7FFFFFu, 0xFF7FFFFFu, 0x00000001u,
                                        0x80000001u, 0x007FFFFFu, 0x00800000u};
    static const float edges[] = {240.0f,   241.0f,    247.99f,      248.0f,        256.0f,   448.0f,
                                  464.0f,   480.0f,    500.0f,       1000.0f,       57344.0f, 60000.0f,
                                  61440.0f, 100000.0f, 0.001953125f, 0.0009765625f, 1e-3f,    1e-8f};
    size_t n = 0, i;
    int c, s;
    for (i = 0; i < sizeof specials / sizeof specials[0]; i++) x[n++] = f32_of_bits(specials[i]);
    for (i = 0; i < sizeof edges / sizeof edges[0]; i++) x[n++] = edges[i], x[n++] = -edges[i];
    for (c = 0; c < 0x7E; c++) { /* ties between neighbouring E4M3 codes, and one ulp either side */
        const float lo = fp8q_to_f32((uint8_t)c, FP8Q_E4M3), hi = fp8q_to_f32((uint8_t)(c + 1), FP8Q_E4M3);
        const float mid = (lo + hi) / 2;
        uint32_t u;
        memcpy(&u, &mid, sizeof u);
        for (s = -1; s <= 1; s++) {
            x[n++] = f32_of_bits(u + (uint32_t)s);
            x[n++] = -f32_of_bits(u + (uint32_t)s);
        }
    }
    while (n < cap) { /* sign, exponent 2^-24 .. 2^20, random mantissa */
        const uint32_t e = 103 + rnd() % 45;
        x[n++] = f32_of_bits((rnd() & 0x80000000u) | e << 23 | (rnd() & 0x7FFFFFu));
    }
    return n;
}

static void case_encode_f32_varied(void)
{
    static float x[20000];
    fp8q_backend *b = must_open();
    const size_t n = varied_f32(x, sizeof x / sizeof x[0]);
    if (!b) return;
    check_hpu_encode(b, x, FP8Q_F32, n, FP8Q_E4M3, FP8Q_SCALE_NONE, 0.0f);
    check_hpu_encode(b, x, FP8Q_F32, n, FP8Q_E4M3, FP8Q_SCALE_MUL, 1.0f / 3.0f);
    check_hpu_encode(b, x, FP8Q_F32, n, FP8Q_E4M3, FP8Q_SCALE_DIV, 0.0625f);
    check_hpu_encode(b, x, FP8Q_F32, n, FP8Q_E5M2, FP8Q_SCALE_MUL, 3.0f);
    check_hpu_encode(b, x, FP8Q_F32, 1, FP8Q_E4M3, FP8Q_SCALE_NONE, 0.0f);
    close_and_check_leaks(b);
}

/* A request the device declines runs on the CPU, with fp8q's OCP numerics. */
static void check_cpu_encode(fp8q_backend *b, const void *src, fp8q_dtype type, size_t n, fp8q_format fmt,
                             fp8q_saturation sat, fp8q_scale_op op, float scale)
{
    uint8_t got[64], want[64];
    fp8q_backend_kind ran = FP8Q_BACKEND_HPU;
    fp8q_error err;
    const int calls = count_calls("synLaunchExt");
    if (type == FP8Q_F32) fp8q_encode_f32(want, (const float *)src, n, fmt, sat, op, scale);
    if (type == FP8Q_F16) fp8q_encode_f16(want, (const uint16_t *)src, n, fmt, sat, op, scale);
    if (type == FP8Q_BF16) fp8q_encode_bf16(want, (const uint16_t *)src, n, fmt, sat, op, scale);
    CHECK(fp8q_backend_encode(b, got, src, type, n, fmt, sat, op, scale, &ran, &err) == FP8Q_OK &&
              ran == FP8Q_BACKEND_CPU,
          "type %d fmt %d sat %d op %d scale %g did not run on the CPU", (int)type, (int)fmt, (int)sat, (int)op,
          (double)scale);
    CHECK(memcmp(got, want, n) == 0, "type %d fmt %d: CPU bytes differ", (int)type, (int)fmt);
    CHECK(count_calls("synLaunchExt") == calls, "a declined encode launched on the device");
}

static void case_encode_declined(void)
{
    float x[40];
    uint16_t h[40];
    fp8q_backend *b = must_open();
    size_t i;
    if (!b) return;
    for (i = 0; i < 40; i++) x[i] = ((float)i - 20.0f) * 13.7f, h[i] = fp8q_f32_to_f16(x[i]);
    check_cpu_encode(b, h, FP8Q_F16, 40, FP8Q_E4M3, FP8Q_SATFINITE, FP8Q_SCALE_NONE, 1.0f);
    check_cpu_encode(b, x, FP8Q_F32, 40, FP8Q_E4M3FNUZ, FP8Q_SATFINITE, FP8Q_SCALE_NONE, 1.0f);
    check_cpu_encode(b, x, FP8Q_F32, 40, FP8Q_E5M2FNUZ, FP8Q_SATFINITE, FP8Q_SCALE_NONE, 1.0f);
    check_cpu_encode(b, x, FP8Q_F32, 40, FP8Q_E4M3, FP8Q_NOSAT, FP8Q_SCALE_NONE, 1.0f);
    check_cpu_encode(b, x, FP8Q_F32, 40, FP8Q_E4M3, FP8Q_SATFINITE, FP8Q_SCALE_DIV, 3.0f);
    check_cpu_encode(b, x, FP8Q_F32, 40, FP8Q_E4M3, FP8Q_SATFINITE, FP8Q_SCALE_DIV, f32_of_bits(1)); /* 1/s = inf */
    check_cpu_encode(b, x, FP8Q_F32, 40, FP8Q_E4M3, FP8Q_SATFINITE, FP8Q_SCALE_MUL, f32_of_bits(0x7FC00000u));
    close_and_check_leaks(b);
}

/* ----------------------------------------------------------------- gemm */

/* Random E4M3 bytes the device reads as fp8q does, no NaN. */
static void random_operand(uint8_t *q, size_t n)
{
    const fp8q_gaudi_fp8 f = fp8q_gaudi_fp8_default(device_chip(), FP8Q_GAUDI_143);
    size_t i;
    for (i = 0; i < n; i++) {
        uint8_t v;
        do v = (uint8_t)rnd();
        while (fp8q_gaudi_to_f32(v, &f) != fp8q_to_f32(v, FP8Q_E4M3));
        q[i] = v;
    }
}

typedef struct gemm_case {
    size_t M, N, K;
    uint8_t *a, *b;
    float sa, sb;
    float *bias;
    uint16_t *got, *want;
} gemm_case;

static int gemm_case_new(gemm_case *t, size_t M, size_t N, size_t K, float sa, float sb, int with_bias)
{
    size_t n;
    memset(t, 0, sizeof *t);
    t->M = M, t->N = N, t->K = K, t->sa = sa, t->sb = sb;
    t->a = (uint8_t *)malloc(M * K), t->b = (uint8_t *)malloc(N * K);
    t->got = (uint16_t *)malloc(M * N * 2), t->want = (uint16_t *)malloc(M * N * 2);
    t->bias = with_bias ? (float *)malloc(N * sizeof(float)) : NULL;
    if (!t->a || !t->b || !t->got || !t->want || (with_bias && !t->bias)) return 0;
    random_operand(t->a, M * K), random_operand(t->b, N * K);
    for (n = 0; with_bias && n < N; n++)
        t->bias[n] = fp8q_bf16_to_f32((uint16_t)(0x3C00 + rnd() % 0x1000)) * (rnd() & 1 ? -1.0f : 1.0f);
    return 1;
}

static void gemm_case_free(gemm_case *t) { free(t->a), free(t->b), free(t->bias), free(t->got), free(t->want); }

static fp8q_gemm gemm_of(const gemm_case *t, void *c)
{
    fp8q_gemm g;
    memset(&g, 0, sizeof g);
    g.M = t->M, g.N = t->N, g.K = t->K;
    g.a = t->a, g.a_format = FP8Q_E4M3, g.a_scales = &t->sa;
    g.b = t->b, g.b_format = FP8Q_E4M3, g.b_scales = &t->sb;
    g.bias = t->bias, g.c = c, g.c_type = FP8Q_BF16;
    return g;
}

/* Runs t on b; checks where it ran and that it equals FP8Q_GEMM_EXACT on the CPU bit for bit. */
static void check_gemm(fp8q_backend *b, gemm_case *t, fp8q_backend_kind expect)
{
    fp8q_gemm g = gemm_of(t, t->want);
    fp8q_backend_kind ran = FP8Q_BACKEND_CUDA;
    fp8q_error err;
    fp8q_result r;
    size_t i;
    fp8q_gemm_run(&g, FP8Q_GEMM_EXACT);
    memset(t->got, 0xA5, t->M * t->N * 2);
    g.c = t->got;
    r = fp8q_backend_gemm(b, &g, FP8Q_GEMM_EXACT, &ran, &err);
    CHECK(r == FP8Q_OK && ran == expect, "gemm %lux%lux%lu: result %d ran %d (%s)", (unsigned long)t->M,
          (unsigned long)t->N, (unsigned long)t->K, (int)r, (int)ran, r == FP8Q_OK ? "" : err.message);
    for (i = 0; i < t->M * t->N; i++)
        if (t->got[i] != t->want[i]) {
            CHECK(0, "gemm %lux%lux%lu: C[%lu][%lu] got %04X want %04X", (unsigned long)t->M, (unsigned long)t->N,
                  (unsigned long)t->K, (unsigned long)(i / t->N), (unsigned long)(i % t->N), t->got[i], t->want[i]);
            break;
        }
}

static void case_gemm_matches_exact(void)
{
    static const struct {
        size_t M, N, K;
        float sa, sb;
        int bias;
    } shapes[] = {{1, 1, 1, 1.0f, 1.0f, 0},      {5, 7, 33, 0.37f, 1.5f, 0},  {16, 24, 64, 0.0625f, 2.0f, 1},
                  {3, 130, 17, 1e-3f, 3e-2f, 1}, {2, 3, 300, 3e35f, 2e3f, 0}, {4, 4, 8, -0.5f, 1.25f, 1}};
    fp8q_backend *b = must_open();
    gemm_case t;
    size_t i;
    if (!b) return;
    for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        if (gemm_case_new(&t, shapes[i].M, shapes[i].N, shapes[i].K, shapes[i].sa, shapes[i].sb, shapes[i].bias))
            check_gemm(b, &t, FP8Q_BACKEND_HPU);
        else
            CHECK(0, "out of memory");
        if (i == 1) { /* a NaN byte (7F on both devices and in OCP) */
            t.a[3] = 0x7F;
            check_gemm(b, &t, FP8Q_BACKEND_HPU);
            CHECK(t.got[0] == 0x7FFF, "NaN byte: C[0][0] = %04X", t.got[0]);
        }
        gemm_case_free(&t);
    }
    if (gemm_case_new(&t, 3, 5, 7, 1.0f, 1.0f, 0)) { /* NULL scales and whole-matrix tiles */
        fp8q_gemm g = gemm_of(&t, t.want);
        fp8q_backend_kind ran;
        fp8q_error err;
        g.a_scales = NULL, g.b_tile_rows = 5, g.b_tile_cols = 7;
        fp8q_gemm_run(&g, FP8Q_GEMM_EXACT);
        g.c = t.got;
        CHECK(fp8q_backend_gemm(b, &g, FP8Q_GEMM_REFERENCE, &ran, &err) == FP8Q_OK && ran == FP8Q_BACKEND_HPU &&
                  memcmp(t.got, t.want, 3 * 5 * 2) == 0,
              "NULL scales / whole tiles");
    }
    gemm_case_free(&t);
    close_and_check_leaks(b);
}

/* Gaudi2 reads E4M3 bytes 0x78-0x7E (256..448) as inf/NaN: refused. Gaudi3's FN format reads them as fp8q does. */
static void case_gemm_large_bytes(void)
{
    fp8q_backend *b = must_open();
    gemm_case t;
    fp8q_error err;
    if (!b) return;
    if (gemm_case_new(&t, 2, 3, 4, 1.0f, 1.0f, 0)) {
        fp8q_gemm g = gemm_of(&t, t.got);
        fp8q_backend_kind ran;
        t.a[1 * 4 + 2] = 0x7C; /* A[1][2] = 384 */
        if (device_chip() == FP8Q_GAUDI2) {
            CHECK(fp8q_backend_gemm(b, &g, FP8Q_GEMM_EXACT, &ran, &err) == FP8Q_ERR_ARG, "A byte 0x7C accepted");
            CHECK(strstr(err.message, "A[1][2] = 0x7C") && strstr(err.message, "Gaudi2"), "message: %s", err.message);
            t.a[1 * 4 + 2] = 0x10, t.b[2 * 4 + 3] = 0xF9; /* B[2][3] = -288 */
            CHECK(fp8q_backend_gemm(b, &g, FP8Q_GEMM_EXACT, &ran, &err) == FP8Q_ERR_ARG &&
                      strstr(err.message, "B[2][3] = 0xF9"),
                  "B byte 0xF9: %s", err.message);
        } else {
            t.b[2 * 4 + 3] = 0xF9;
            check_gemm(b, &t, FP8Q_BACKEND_HPU);
        }
    } else {
        CHECK(0, "out of memory");
    }
    gemm_case_free(&t);
    close_and_check_leaks(b);
}

static void case_gemm_declined(void)
{
    fp8q_backend *b = must_open();
    gemm_case t;
    float row_scales[4] = {0.5f, 1.0f, 2.0f, 4.0f}, a_f32[4 * 8];
    uint16_t c16[4 * 5];
    float c32[4 * 5], c32_want[4 * 5];
    int launches;
    size_t i;
    if (!b) return;
    if (!gemm_case_new(&t, 4, 5, 8, 0.5f, 0.25f, 1)) CHECK(0, "out of memory");
    launches = count_calls("synLaunchExt");
    {
        fp8q_gemm g = gemm_of(&t, c16);
        fp8q_backend_kind ran;
        fp8q_error err;
        g.a_scales = row_scales, g.a_tile_rows = 1; /* per-row A scales */
        check_gemm(b, &t, FP8Q_BACKEND_HPU);        /* warm: the same shape runs on the device */
        CHECK(fp8q_backend_gemm(b, &g, FP8Q_GEMM_EXACT, &ran, &err) == FP8Q_OK && ran == FP8Q_BACKEND_CPU,
              "per-row scales ran on %d", (int)ran);
        g = gemm_of(&t, c32), g.c_type = FP8Q_F32;
        CHECK(fp8q_backend_gemm(b, &g, FP8Q_GEMM_EXACT, &ran, &err) == FP8Q_OK && ran == FP8Q_BACKEND_CPU,
              "F32 output ran on %d", (int)ran);
        g.c = c32_want;
        fp8q_gemm_run(&g, FP8Q_GEMM_EXACT);
        CHECK(memcmp(c32, c32_want, sizeof c32) == 0, "F32 output: CPU result differs");
        g = gemm_of(&t, c16), g.b_format = FP8Q_E5M2;
        CHECK(fp8q_backend_gemm(b, &g, FP8Q_GEMM_EXACT, &ran, &err) == FP8Q_OK && ran == FP8Q_BACKEND_CPU,
              "E5M2 weights ran on %d", (int)ran);
        for (i = 0; i < 4 * 8; i++) a_f32[i] = (float)i * 0.1f;
        g = gemm_of(&t, c16), g.a = NULL, g.a_f32 = a_f32;
        CHECK(fp8q_backend_gemm(b, &g, FP8Q_GEMM_EXACT, &ran, &err) == FP8Q_OK && ran == FP8Q_BACKEND_CPU,
              "W8A16 ran on %d", (int)ran);
        t.bias[2] = 0.1f; /* not a bfloat16 */
        check_gemm(b, &t, FP8Q_BACKEND_CPU);
        t.sb = f32_of_bits(0x7F800000u); /* an infinite scale */
        t.bias[2] = 1.0f;
        check_gemm(b, &t, FP8Q_BACKEND_CPU);
    }
    CHECK(count_calls("synLaunchExt") == launches + 1, "declined GEMMs launched on the device");
    gemm_case_free(&t);
    close_and_check_leaks(b);
}

/* ------------------------------------------------------------ call log */

static const char *const open_sequence = "synInitialize,synDeviceAcquire,synDeviceGetAttribute,synStreamCreateGeneric";
#define PERSISTENT_TENSOR                                                                                              \
    "synTensorHandleCreate,synTensorSetGeometry,synTensorSetDeviceDataType,synSectionCreate,synTensorAssignToSection"
#define CONST_TENSOR "synTensorHandleCreate,synTensorSetGeometry,synTensorSetDeviceDataType,synTensorSetHostPtr"
static const char *const gemm_sequence =
    "synGraphCreate," PERSISTENT_TENSOR "," PERSISTENT_TENSOR "," CONST_TENSOR "," CONST_TENSOR "," PERSISTENT_TENSOR
    ",synNodeCreate,synGraphCompile,synTensorRetrieveIds,synWorkspaceGetSize"
    ",synDeviceMalloc,synHostMalloc,synDeviceMalloc,synHostMalloc,synDeviceMalloc,synHostMalloc,synDeviceMalloc"
    ",synMemCopyAsync,synMemCopyAsync,synLaunchExt,synMemCopyAsync,synStreamSynchronize"
    ",synHostFree,synHostFree,synHostFree,synDeviceFree,synDeviceFree,synDeviceFree,synDeviceFree";
static const char *const close_sequence =
    "synRecipeDestroy,synTensorDestroy,synTensorDestroy,synTensorDestroy,synTensorDestroy,synTensorDestroy"
    ",synSectionDestroy,synSectionDestroy,synSectionDestroy,synGraphDestroy,synStreamDestroy,synDeviceRelease,"
    "synDestroy";

/* Whether every line of the log ends with " = 0" (synSuccess). */
static int all_calls_succeeded(void)
{
    const char *p = fake.log();
    while (*p) {
        const char *end = strchr(p, '\n');
        if (!end || end - p < 4 || strncmp(end - 4, " = 0", 4) != 0) return 0;
        p = end + 1;
    }
    return 1;
}

/* Each of lines (NULL-terminated) appears in the log, in this order. */
static void check_log_lines(const char *const *lines)
{
    const char *p = fake.log();
    for (; *lines; lines++) {
        const char *at = strstr(p, *lines);
        CHECK(at != NULL, "log lacks (in order) \"%s\"; log:\n%s", *lines, fake.log());
        if (!at) return;
        p = at + strlen(*lines);
    }
}

static void case_call_log_gemm(void)
{
    char names[4096], want[4096];
    const char *lines[16];
    fp8q_backend *b;
    gemm_case t;
    fake.log_clear();
    b = must_open();
    if (!b) return;
    call_names(names, sizeof names);
    CHECK(strcmp(names, open_sequence) == 0, "open calls:\n  got  %s\n  want %s", names, open_sequence);
    if (!gemm_case_new(&t, 3, 5, 7, 0.375f, 2.5f, 0)) CHECK(0, "out of memory");
    fake.log_clear();
    check_gemm(b, &t, FP8Q_BACKEND_HPU);
    call_names(names, sizeof names);
    CHECK(strcmp(names, gemm_sequence) == 0, "GEMM calls:\n  got  %s\n  want %s", names, gemm_sequence);
    lines[0] = "synGraphCreate type=";
    lines[1] = "synTensorSetGeometry name=a dims=2 sizes=7,3 = 0";
    lines[2] = "synTensorSetDeviceDataType name=a type=8192 = 0";
    lines[3] = "synTensorSetGeometry name=w dims=2 sizes=7,5 = 0";
    lines[4] = "synTensorSetDeviceDataType name=w type=8192 = 0";
    lines[5] = "synTensorSetHostPtr name=a_scale size=4 type=4 value=0.375 copy=1 = 0";
    lines[6] = "synTensorSetHostPtr name=w_scale size=4 type=4 value=2.5 copy=1 = 0";
    lines[7] = "synTensorSetGeometry name=y dims=2 sizes=5,3 = 0";
    lines[8] = "synTensorSetDeviceDataType name=y type=2 = 0";
    lines[9] = "synNodeCreate guid=fp8_gemm_bf16 name=fp8_gemm_bf16 inputs=a,w,a_scale,w_scale,-,-,- outputs=y "
               "params=ta0,tb1 = 0";
    lines[10] = "synLaunchExt n=3 flags=0 tensors= a:7,3 w:7,5 y:5,3 = 0";
    lines[11] = NULL;
    check_log_lines(lines);
    CHECK(all_calls_succeeded(), "a call failed:\n%s", fake.log());
    snprintf(want, sizeof want, "%s", close_sequence);
    fake.log_clear();
    fp8q_backend_close(b);
    call_names(names, sizeof names);
    CHECK(strcmp(names, want) == 0, "close calls:\n  got  %s\n  want %s", names, want);
    CHECK(fake.live() == 0, "after close the fake still has: %s", fake.live_report());
    gemm_case_free(&t);
}

static void case_call_log_encode(void)
{
    static const struct {
        fp8q_dtype type;
        fp8q_format fmt;
        const char *guid, *x_type, *y_type;
    } cases[] = {{FP8Q_BF16, FP8Q_E4M3, "convert_to_fp8_bf16", "type=2", "type=8192"},
                 {FP8Q_F32, FP8Q_E4M3, "convert_to_fp8_f32", "type=4", "type=8192"},
                 {FP8Q_BF16, FP8Q_E5M2, "convert_to_fp8_bf16", "type=2", "type=16384"}};
    float x[10] = {0};
    fp8q_backend *b = must_open();
    size_t i;
    if (!b) return;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char guid[128], x_type[128], y_type[128];
        const char *lines[8];
        fake.log_clear();
        check_hpu_encode(b, x, cases[i].type, 10, cases[i].fmt, FP8Q_SCALE_MUL, 0.125f);
        snprintf(x_type, sizeof x_type, "synTensorSetDeviceDataType name=x %s = 0", cases[i].x_type);
        snprintf(y_type, sizeof y_type, "synTensorSetDeviceDataType name=y %s = 0", cases[i].y_type);
        snprintf(guid, sizeof guid, "synNodeCreate guid=%s name=%s inputs=x,inv_scale outputs=y params=cast = 0",
                 cases[i].guid, cases[i].guid);
        lines[0] = "synTensorSetGeometry name=x dims=1 sizes=10 = 0";
        lines[1] = x_type;
        lines[2] = "synTensorSetHostPtr name=inv_scale size=4 type=4 value=0.125 copy=1 = 0";
        lines[3] = "synTensorSetGeometry name=y dims=1 sizes=10 = 0";
        lines[4] = y_type;
        lines[5] = guid;
        lines[6] = "synLaunchExt n=2 flags=0 tensors= x:10 y:10 = 0";
        lines[7] = NULL;
        check_log_lines(lines);
    }
    close_and_check_leaks(b);
}

/* ---------------------------------------------------------------- cache */

static void case_recipe_cache(void)
{
    fp8q_backend *b = must_open();
    gemm_case t;
    size_t i;
    if (!b) return;
    if (!gemm_case_new(&t, 4, 6, 10, 0.5f, 0.75f, 0)) CHECK(0, "out of memory");
    fake.log_clear();
    check_gemm(b, &t, FP8Q_BACKEND_HPU);
    check_gemm(b, &t, FP8Q_BACKEND_HPU);
    random_operand(t.a, 4 * 10); /* new data, same recipe */
    check_gemm(b, &t, FP8Q_BACKEND_HPU);
    CHECK(count_calls("synGraphCompile") == 1 && count_calls("synLaunchExt") == 3, "same shape: %d compiles",
          count_calls("synGraphCompile"));
    t.sa = 0.25f; /* a new constant scale: a new recipe */
    check_gemm(b, &t, FP8Q_BACKEND_HPU);
    CHECK(count_calls("synGraphCompile") == 2, "new A scale: %d compiles", count_calls("synGraphCompile"));
    t.sb = 0.125f;
    check_gemm(b, &t, FP8Q_BACKEND_HPU);
    CHECK(count_calls("synGraphCompile") == 3, "new B scale: %d compiles", count_calls("synGraphCompile"));
    t.bias = (float *)calloc(6, sizeof(float)); /* a bias input: another graph */
    check_gemm(b, &t, FP8Q_BACKEND_HPU);
    CHECK(count_calls("synGraphCompile") == 4, "bias: %d compiles", count_calls("synGraphCompile"));
    gemm_case_free(&t);
    for (i = 1; i <= 20; i++) { /* more shapes than the cache holds: the oldest go */
        if (gemm_case_new(&t, i, 2, 3, 1.0f, 1.0f, 0)) check_gemm(b, &t, FP8Q_BACKEND_HPU);
        gemm_case_free(&t);
    }
    CHECK(count_calls("synGraphCompile") == 24 && count_calls("synRecipeDestroy") == 24 - 16,
          "eviction: %d compiles, %d recipes destroyed", count_calls("synGraphCompile"),
          count_calls("synRecipeDestroy"));
    close_and_check_leaks(b);
    CHECK(count_calls("synRecipeDestroy") == 24, "close destroyed %d recipes in all", count_calls("synRecipeDestroy"));
}

/* ------------------------------------------------------------- failures */

/* Opening with FAKE_SYNAPSE_FAIL=fail gives FP8Q_ERR_DEVICE naming call and text, and leaves nothing behind. */
static void check_open_fails(const char *fail, const char *call, const char *text)
{
    fp8q_backend *b = NULL;
    fp8q_error err;
    setenv("FAKE_SYNAPSE_FAIL", fail, 1);
    CHECK(open_fake(&b, 0, &err) == FP8Q_ERR_DEVICE && b == NULL, "FAKE_SYNAPSE_FAIL=%s: open succeeded", fail);
    unsetenv("FAKE_SYNAPSE_FAIL");
    CHECK(strstr(err.message, call) && strstr(err.message, text), "FAKE_SYNAPSE_FAIL=%s: message %s", fail,
          err.message);
    CHECK(fake.live() == 0, "failed open left: %s", fake.live_report());
}

static void case_open_failures(void)
{
    fp8q_backend *b = NULL;
    fp8q_error err;
    const int other = device_chip() == FP8Q_GAUDI2 ? FP8Q_GAUDI3 : FP8Q_GAUDI2;
    check_open_fails("synInitialize", "synInitialize failed", "Fail");
    check_open_fails("synDeviceAcquire*", "synDeviceAcquire failed", "No device found");
    check_open_fails("synDeviceGetAttribute", "synDeviceGetAttribute failed", "Fail");
    check_open_fails("synStreamCreateGeneric", "synStreamCreateGeneric failed", "Fail");
    CHECK(open_fake(&b, other, &err) == FP8Q_ERR_DEVICE && strstr(err.message, "synDeviceAcquireByDeviceType"),
          "other device type: %s", err.message);
    CHECK(open_fake(&b, (int)device_chip(), &err) == FP8Q_OK && b &&
              strcmp(b->device, device_chip() == FP8Q_GAUDI2 ? "Gaudi2" : "Gaudi3") == 0,
          "by type: %s", err.message);
    if (b) CHECK(b->kind == FP8Q_BACKEND_HPU && strcmp(b->name, "hpu") == 0, "kind or name");
    close_and_check_leaks(b);
    setenv("FAKE_SYNAPSE_DEVICE", "none", 1);
    check_open_fails("", "synDeviceAcquire failed", "No device found");
    setenv("FAKE_SYNAPSE_DEVICE", g_device, 1);
}

/* A GEMM with FAKE_SYNAPSE_FAIL=fail gives FP8Q_ERR_DEVICE naming the call and
   the status text, frees what it made, and the next call works. warm: compile
   the recipe first (the failure is in the launch phase). */
static void check_gemm_fails(fp8q_backend *b, gemm_case *t, const char *fail, const char *text, int warm)
{
    fp8q_gemm g = gemm_of(t, t->got);
    fp8q_backend_kind ran;
    fp8q_error err;
    long live;
    char call[64];
    if (warm) check_gemm(b, t, FP8Q_BACKEND_HPU);
    live = fake.live();
    snprintf(call, sizeof call, "%s failed", fail);
    setenv("FAKE_SYNAPSE_FAIL", fail, 1);
    CHECK(fp8q_backend_gemm(b, &g, FP8Q_GEMM_EXACT, &ran, &err) == FP8Q_ERR_DEVICE, "%s: no error", fail);
    unsetenv("FAKE_SYNAPSE_FAIL");
    CHECK(strstr(err.message, call) && strstr(err.message, text), "%s: message %s", fail, err.message);
    CHECK(fake.live() == live, "%s: %ld objects more (%s)", fail, fake.live() - live, fake.live_report());
    check_gemm(b, t, FP8Q_BACKEND_HPU);
}

static void case_gemm_failures(void)
{
    static const struct {
        const char *call, *text;
        int warm;
    } fails[] = {{"synGraphCreate", "Fail", 0},      {"synTensorSetHostPtr", "Fail", 0},
                 {"synNodeCreate", "Fail", 0},       {"synGraphCompile", "Fail", 0},
                 {"synWorkspaceGetSize", "Fail", 0}, {"synDeviceMalloc", "Out of device memory", 1},
                 {"synHostMalloc", "Fail", 1},       {"synMemCopyAsync", "Fail", 1},
                 {"synLaunchExt", "Fail", 1}};
    fp8q_backend *b = must_open();
    gemm_case t;
    size_t i;
    if (!b) return;
    for (i = 0; i < sizeof fails / sizeof fails[0]; i++) {
        if (gemm_case_new(&t, 2 + i, 3, 5, 1.0f, 1.0f, 0))
            check_gemm_fails(b, &t, fails[i].call, fails[i].text, fails[i].warm);
        else
            CHECK(0, "out of memory");
        gemm_case_free(&t);
    }
    if (gemm_case_new(&t, 3, 3, 3, 2.0f, 1.0f, 1)) { /* FALLBACK_ON_ERROR: the CPU reruns it */
        setenv("FAKE_SYNAPSE_FAIL", "synLaunchExt", 1);
        b->flags = FP8Q_BACKEND_FALLBACK_ON_ERROR;
        check_gemm(b, &t, FP8Q_BACKEND_CPU);
        b->flags = 0;
        unsetenv("FAKE_SYNAPSE_FAIL");
    }
    gemm_case_free(&t);
    close_and_check_leaks(b);
}

/* ---------------------------------------------- the fake's own checks */

/* The fake rejects what real Synapse would (so the cases above can fail):
   GEMM geometry, GUID length, input count, addresses, DMA directions. */
static void case_fake_validates(void)
{
    typedef int (*graph_create_fn)(void **, int);
    typedef int (*handle_fn)(void *);
    typedef int (*tensor_create_fn)(void **, void *, int, const char *);
    typedef int (*geometry_fn)(void *, const void *, int);
    typedef int (*type_fn)(void *, int);
    typedef int (*host_ptr_fn)(void *, void *, uint64_t, int, _Bool);
    typedef int (*node_fn)(void *, void *const *, void *const *, uint32_t, uint32_t, const void *, unsigned,
                           const char *, const char *, const char **, const char **);
    typedef int (*acquire_fn)(uint32_t *, const char *);
    typedef int (*malloc_fn)(uint32_t, uint64_t, uint64_t, uint32_t, uint64_t *);
    typedef int (*free_fn)(uint32_t, uint64_t, uint32_t);
    typedef int (*stream_fn)(void **, uint32_t, uint32_t);
    typedef int (*copy_fn)(void *, uint64_t, uint64_t, uint64_t, int);
    typedef int (*void_fn)(void);
    static const uint64_t sizes[5][2] = {{7, 3}, {7, 5}, {1, 0}, {1, 0}, {3, 5}}; /* y should be {5, 3} */
    static const int types[5] = {1 << 13, 1 << 13, 4, 4, 2};
    static const char *const names[5] = {"a", "w", "sa", "sb", "y"};
    graph_create_fn graph_create;
    handle_fn graph_destroy, stream_destroy;
    tensor_create_fn tensor_create;
    geometry_fn geometry;
    type_fn set_type;
    host_ptr_fn host_ptr;
    node_fn node;
    acquire_fn acquire;
    free_fn device_free;
    malloc_fn device_malloc;
    stream_fn stream_create;
    copy_fn copy;
    void_fn init, destroy;
    int (*release)(uint32_t);
    const unsigned char params[2] = {0, 1};
    void *g = NULL, *t[7] = {0}, *in[7] = {0}, *stream = NULL;
    struct {
        uint64_t sizes[25];
        uint32_t dims;
    } geo; /* synTensorGeometry */
    uint64_t addr = 0;
    uint32_t dev = 9;
    float one = 1.0f;
    int i;
    symbol(&init, sizeof init, "synInitialize"), symbol(&destroy, sizeof destroy, "synDestroy");
    symbol(&graph_create, sizeof graph_create, "synGraphCreate");
    symbol(&graph_destroy, sizeof graph_destroy, "synGraphDestroy");
    symbol(&tensor_create, sizeof tensor_create, "synTensorHandleCreate");
    symbol(&geometry, sizeof geometry, "synTensorSetGeometry");
    symbol(&set_type, sizeof set_type, "synTensorSetDeviceDataType");
    symbol(&host_ptr, sizeof host_ptr, "synTensorSetHostPtr"), symbol(&node, sizeof node, "synNodeCreate");
    symbol(&acquire, sizeof acquire, "synDeviceAcquire"), symbol(&release, sizeof release, "synDeviceRelease");
    symbol(&device_malloc, sizeof device_malloc, "synDeviceMalloc");
    symbol(&device_free, sizeof device_free, "synDeviceFree");
    symbol(&stream_create, sizeof stream_create, "synStreamCreateGeneric");
    symbol(&stream_destroy, sizeof stream_destroy, "synStreamDestroy"), symbol(&copy, sizeof copy, "synMemCopyAsync");
    CHECK(graph_create(&g, 4) == 28, "a call before synInitialize succeeded");
    CHECK(init() == 0 && graph_create(&g, 4) == 0, "graph");
    for (i = 0; i < 5; i++) {
        memset(&geo, 0, sizeof geo);
        geo.sizes[0] = sizes[i][0], geo.sizes[1] = sizes[i][1], geo.dims = sizes[i][1] ? 2 : 1;
        CHECK(tensor_create(&t[i], g, 0, names[i]) == 0 && geometry(t[i], &geo, 1) == 0 &&
                  set_type(t[i], types[i]) == 0,
              "tensor %s", names[i]);
        if (i == 2 || i == 3) CHECK(host_ptr(t[i], &one, 4, 4, 1) == 0, "host ptr");
        if (i < 4) in[i] = t[i]; /* {a, w, sa, sb, no bias, no D, no output scale} */
    }
    CHECK(node(g, in, &t[4], 7, 1, params, 2, "fp8_gemm_bf16", "n", NULL, NULL) == 1, "output {3,5} accepted");
    CHECK(node(g, in, &t[4], 4, 1, params, 2, "fp8_gemm_bf16", "n", NULL, NULL) == 1, "4 inputs accepted");
    CHECK(node(g, in, &t[4], 7, 1, params, 2, "fp8_gemm_bf16_and_thirty_one_chars", "n", NULL, NULL) == 1,
          "a 34-character GUID accepted");
    CHECK(node(g, in, &t[4], 7, 1, params, 1, "fp8_gemm_bf16", "n", NULL, NULL) == 1, "1-byte params accepted");
    geo.sizes[0] = 5, geo.sizes[1] = 3;
    CHECK(geometry(t[4], &geo, 1) == 0 && node(g, in, &t[4], 7, 1, params, 2, "fp8_gemm_bf16", "n", NULL, NULL) == 0,
          "the right GEMM was refused");
    CHECK(graph_destroy(g) == 0 && graph_destroy(g) == 1, "graph destroyed twice");
    CHECK(acquire(&dev, NULL) == 0 && dev == 0 && device_malloc(dev, 256, 0, 0, &addr) == 0, "device memory");
    CHECK(device_malloc(dev, 256, 64, 0, &addr) == 1, "an unaligned address hint accepted");
    CHECK(stream_create(&stream, dev, 0) == 0, "stream");
    CHECK(copy(stream, addr + 200, 100, addr, 2) == 1, "a copy past the allocation accepted");
    CHECK(copy(stream, addr, 100, addr + 128, 5) == 1, "DMA direction 5 accepted");
    CHECK(copy(stream, addr, 100, (uint64_t)(uintptr_t)&one, 1) == 1, "a copy to unmapped host memory accepted");
    CHECK(device_free(dev, addr + 8, 0) == 1 && device_free(dev, addr, 0) == 0, "device free");
    CHECK(stream_destroy(stream) == 0 && release(dev) == 0 && destroy() == 0, "teardown");
    CHECK(fake.live() == 0, "left: %s", fake.live_report());
}

/* ----------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    static const char *const devices[] = {"gaudi2", "gaudi3"};
    const char *path = argc > 1 ? argv[1] : getenv("FAKE_SYNAPSE_PATH");
    int fake_ok;
    size_t i;
    unsetenv("FAKE_SYNAPSE_FAIL");
    run_case("missing library: FP8Q_ERR_DEVICE naming the path", case_missing_library);
    run_case("missing symbol: FP8Q_ERR_DEVICE naming it", case_missing_symbol);
    run_case("dispatchers without a backend run on the CPU", case_dispatch_without_backend);
    fake_ok = load_fake(path && *path ? path : "build/libfake_synapse.so");
    if (!fake_ok) {
        g_failed++;
        printf("FAIL the fake Synapse library could not be loaded\n");
    }
    for (i = 0; fake_ok && i < sizeof devices / sizeof devices[0]; i++) {
        char name[128];
        g_device = devices[i];
        setenv("FAKE_SYNAPSE_DEVICE", g_device, 1);
        printf("-- fake Synapse, %s\n", g_device);
#define RUN(title, fn) (snprintf(name, sizeof name, "%s: %s", g_device, title), run_case(name, fn))
        RUN("the fake validates like Synapse", case_fake_validates);
        RUN("open failures and device type", case_open_failures);
        RUN("encode: every bfloat16 equals fp8q_gaudi_encode_bf16", case_encode_bf16_every_value);
        RUN("encode: varied float32 equals fp8q_gaudi_encode_f32", case_encode_f32_varied);
        RUN("encode: declined requests run on the CPU", case_encode_declined);
        RUN("gemm: equals FP8Q_GEMM_EXACT bit for bit", case_gemm_matches_exact);
        RUN("gemm: bytes above 240", case_gemm_large_bytes);
        RUN("gemm: declined requests run on the CPU", case_gemm_declined);
        RUN("call log: open, GEMM, close", case_call_log_gemm);
        RUN("call log: encode", case_call_log_encode);
        RUN("recipe cache", case_recipe_cache);
        RUN("injected GEMM failures", case_gemm_failures);
#undef RUN
    }
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed != 0;
}
