/* bench_convert.c - throughput of fp8q's bulk FP8 E4M3 conversions: scalar vs SIMD, compared with memcpy.

   An example program, not a test: it prints a table and always exits 0. The two throughput targets below are
   reported as PASS/MISS, never as a failure.

   Build and run from the repository root:

       gcc -std=c99 -O2 -march=native -Wall -Wextra -pedantic -Werror -I. bench/bench_convert.c -o bench_convert
       ./bench_convert            full run: 64 Mi elements out of cache, >= 0.3 s per in-cache measurement
       ./bench_convert --quick    CI smoke run: 16 Mi elements out of cache, shorter timing

   What is measured, single-threaded, for the format FP8Q_E4M3:
     encode  f32 -> E4M3, FP8Q_SATFINITE, FP8Q_SCALE_NONE (plus one SIMD row with FP8Q_SCALE_DIV)
     decode  E4M3 -> f32, FP8Q_SCALE_NONE
   on two sizes: 4096 elements (a 4 KiB fp8 array, in cache) and 64 Mi elements (64 MiB of fp8 and 256 MiB of
   floats, out of cache; 16 Mi elements with --quick).

   Paths:
     scalar ref    the scalar reference called once per element (fp8q_from_f32 / fp8q_to_f32). This is what the
                   library's bulk functions do internally when built with FP8Q_NO_SIMD.
     scalar table  decode only: a 256-entry float table built once with fp8q_to_f32, then one lookup per byte
                   (the classic CPU decoder).
     simd <isa>    fp8q_encode_f32 / fp8q_decode_f32 of this build (the ISA is what fp8q_simd_name() reports;
                   it follows the compiler's target flags, e.g. -march=native).

   Both paths live in this one binary: the implementation is compiled here with FP8Q_STATIC, and the scalar rows
   call the per-element reference functions directly instead of a second FP8Q_NO_SIMD build.

   Traffic and the memcpy baseline: converting N elements moves 5N bytes for both directions (encode reads 4N
   bytes of floats and writes N bytes of fp8; decode reads N and writes 4N). The baseline is memcpy of 2.5N bytes
   from one buffer to another (2.5N read + 2.5N written = 5N bytes), measured in the same run on buffers of the
   same size class, so "x memcpy" = conversion bandwidth / memcpy bandwidth. Write-allocate traffic (reading a
   destination line before writing it) is not counted for either side; glibc's memcpy may avoid it for large
   copies with non-temporal stores, which makes the baseline a demanding one.

   Targets (one core, out of cache): SIMD decode >= 0.8 x memcpy, SIMD encode (SCALE_NONE) >= 0.5 x memcpy. */

#define _POSIX_C_SOURCE 200112L /* clock_gettime (199309L) and posix_memalign (200112L) */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_common.h"

#define FP8Q_STATIC
#define FP8Q_IMPLEMENTATION
#include "../fp8q.h"

#define SMALL_N        ((size_t)4096)     /* 4 KiB of fp8: in L1/L2 */
#define LARGE_N        ((size_t)64 << 20) /* 64 Mi elements: 64 MiB fp8 + 256 MiB f32, far beyond the LLC */
#define LARGE_N_QUICK  ((size_t)16 << 20) /* --quick: 16 MiB fp8 + 64 MiB f32, still beyond a 32 MiB LLC */
#define BYTES_PER_ELEM 5.0                /* traffic per converted element, see the top comment */
#define DIV_SCALE      1.75f              /* per-tensor scale of the FP8Q_SCALE_DIV row: q = fp8(x / 1.75) */
#define BATCH_ELEMS    ((size_t)1 << 20)  /* in cache, call the kernel for ~1 Mi elements between clock reads */

/* Keeps the compiler from merging or dropping repeated calls that write the same buffer. */
#if defined(__GNUC__) || defined(__clang__)
#define COMPILER_BARRIER(p) __asm__ __volatile__("" : : "r"(p) : "memory")
#else
#define COMPILER_BARRIER(p) ((void)(p))
#endif

/* ------------------------------------------------------------------ timing */

typedef struct timing {
    int runs;     /* best of this many runs */
    double min_s; /* each run repeats the kernel until this many seconds elapsed; 0: one call per run */
} timing;

/* ----------------------------------------------------------------- kernels */

/* Every measured operation has this shape: convert (or copy the equivalent of) n elements from src to dst. */
typedef void (*kernel_fn)(void *dst, const void *src, size_t n);

static int g_api_errors;   /* non-zero if a bulk call returned an error (reported, then the run goes on) */
static float g_table[256]; /* E4M3 byte -> float, for the table decoder */

/* Baseline: 2.5 n bytes copied = 5 n bytes of traffic, the same as converting n elements. */
static void k_memcpy(void *dst, const void *src, size_t n) { memcpy(dst, src, n * 5 / 2); }

/* Scalar encode: the reference once per element (the FP8Q_NO_SIMD bulk path). */
static void k_encode_scalar(void *dst, const void *src, size_t n)
{
    uint8_t *q = (uint8_t *)dst;
    const float *x = (const float *)src;
    size_t i;
    for (i = 0; i < n; i++) q[i] = fp8q_from_f32(x[i], FP8Q_E4M3, FP8Q_SATFINITE);
}

static void k_encode_simd(void *dst, const void *src, size_t n)
{
    if (fp8q_encode_f32((uint8_t *)dst, (const float *)src, n, FP8Q_E4M3, FP8Q_SATFINITE, FP8Q_SCALE_NONE, 1.0f))
        g_api_errors++;
}

static void k_encode_simd_div(void *dst, const void *src, size_t n)
{
    if (fp8q_encode_f32((uint8_t *)dst, (const float *)src, n, FP8Q_E4M3, FP8Q_SATFINITE, FP8Q_SCALE_DIV, DIV_SCALE))
        g_api_errors++;
}

/* Scalar decode: the reference once per element (the FP8Q_NO_SIMD bulk path). */
static void k_decode_scalar(void *dst, const void *src, size_t n)
{
    float *y = (float *)dst;
    const uint8_t *q = (const uint8_t *)src;
    size_t i;
    for (i = 0; i < n; i++) y[i] = fp8q_to_f32(q[i], FP8Q_E4M3);
}

/* Classic CPU decode: one lookup in a 1 KiB table per byte. */
static void k_decode_table(void *dst, const void *src, size_t n)
{
    float *y = (float *)dst;
    const uint8_t *q = (const uint8_t *)src;
    size_t i;
    for (i = 0; i < n; i++) y[i] = g_table[q[i]];
}

static void k_decode_simd(void *dst, const void *src, size_t n)
{
    if (fp8q_decode_f32((float *)dst, (const uint8_t *)src, n, FP8Q_E4M3, FP8Q_SCALE_NONE, 1.0f)) g_api_errors++;
}

/* Seconds per call of fn on n elements: the best of t->runs runs. A run calls fn in batches of about
   BATCH_ELEMS elements (so reading the clock costs nothing measurable) until t->min_s seconds have passed. */
static double seconds_per_call(kernel_fn fn, void *dst, const void *src, size_t n, const timing *t)
{
    const size_t batch = t->min_s > 0 ? 1 + BATCH_ELEMS / n : 1;
    double best = 1e30;
    int run;
    for (run = 0; run < t->runs; run++) {
        size_t calls = 0, b;
        const double t0 = now_s();
        double elapsed;
        do {
            for (b = 0; b < batch; b++) {
                fn(dst, src, n);
                COMPILER_BARRIER(dst);
            }
            calls += batch;
            elapsed = now_s() - t0;
        } while (elapsed < t->min_s);
        if (elapsed / (double)calls < best) best = elapsed / (double)calls;
    }
    return best;
}

/* ----------------------------------------------------------------- buffers */

/* All buffers of one size class. The references are computed with the scalar reference before any timing. */
typedef struct buffers {
    size_t n;
    float *f_in;    /* 4n: encode input */
    uint8_t *q_ref; /* n: scalar encode of f_in = decode input and reference for the encode rows */
    uint8_t *q_div; /* n: scalar encode of f_in / DIV_SCALE, reference for the SCALE_DIV row */
    uint8_t *q_out; /* n: encode output */
    float *f_ref;   /* 4n: scalar decode of q_ref, reference for the decode rows */
    float *f_out;   /* 4n: decode output */
    uint8_t *m_src; /* 2.5n: memcpy source */
    uint8_t *m_dst; /* 2.5n: memcpy destination */
} buffers;

/* Roughly normal (Irwin-Hall: sum of 12 uniforms - 6, sd 1) times 2^k with k uniform in -14..8: subnormal,
   normal and saturating (|x| > 464) E4M3 results all occur. */
static float random_input(void)
{
    float g = -6.0f, scale = 1.0f;
    int i, k;
    for (i = 0; i < 12; i++) g += (float)(next_u64() >> 40) * (1.0f / 16777216.0f);
    k = (int)(next_u64() % 23) - 14;
    for (; k > 0; k--) scale *= 2.0f;
    for (; k < 0; k++) scale *= 0.5f;
    return g * scale;
}

static void buffers_init(buffers *b, size_t n)
{
    size_t i;
    b->n = n;
    b->f_in = (float *)alloc_touched(4 * n);
    b->q_ref = (uint8_t *)alloc_touched(n);
    b->q_div = (uint8_t *)alloc_touched(n);
    b->q_out = (uint8_t *)alloc_touched(n);
    b->f_ref = (float *)alloc_touched(4 * n);
    b->f_out = (float *)alloc_touched(4 * n);
    b->m_src = (uint8_t *)alloc_touched(n * 5 / 2);
    b->m_dst = (uint8_t *)alloc_touched(n * 5 / 2);
    for (i = 0; i < n; i++) b->f_in[i] = random_input();
    for (i = 0; i < n; i++) b->q_div[i] = fp8q_from_f32(b->f_in[i] / DIV_SCALE, FP8Q_E4M3, FP8Q_SATFINITE);
    k_encode_scalar(b->q_ref, b->f_in, n);
    k_decode_scalar(b->f_ref, b->q_ref, n);
}

static void buffers_free(buffers *b)
{
    free(b->f_in);
    free(b->q_ref);
    free(b->q_div);
    free(b->q_out);
    free(b->f_ref);
    free(b->f_out);
    free(b->m_src);
    free(b->m_dst);
}

/* Sum of the output as 64-bit words: printed at the end, so no conversion can be optimised away. */
static uint64_t checksum(const void *p, size_t bytes)
{
    const unsigned char *c = (const unsigned char *)p;
    uint64_t sum = 0, w;
    size_t i;
    for (i = 0; i + 8 <= bytes; i += 8) {
        memcpy(&w, c + i, 8);
        sum += w;
    }
    for (; i < bytes; i++) sum += c[i];
    return sum;
}

/* -------------------------------------------------------------------- rows */

typedef struct row {
    const char *op;   /* "encode", "decode" or "memcpy" */
    const char *path; /* which implementation */
    kernel_fn fn;
    void *dst;
    const void *src;
    const void *ref;  /* expected output (bit-exact), NULL for memcpy */
    size_t out_bytes; /* size of dst (and ref) */
    double target;    /* out-of-cache target as a fraction of memcpy bandwidth, 0: none */
} row;

typedef struct totals {
    uint64_t checksum;
    int mismatches; /* rows whose output differs from the scalar reference */
    int misses;     /* targets missed */
    int targets;    /* targets checked */
} totals;

static void print_row(const row *r, const char *size, size_t n, double sec, double memcpy_sec, totals *tot)
{
    const double melem = (double)n / sec * 1e-6;
    const double gbs = (double)n * BYTES_PER_ELEM / sec * 1e-9;
    const double ratio = memcpy_sec / sec; /* same traffic per call, so the ratio of times is the ratio of GB/s */
    printf("%-7s %-5s %-17s %10.1f %8.2f %9.2f", r->op, size, r->path, melem, gbs, ratio);
    if (r->ref && memcmp(r->dst, r->ref, r->out_bytes) != 0) {
        printf("  OUTPUT DIFFERS FROM SCALAR REFERENCE");
        tot->mismatches++;
    }
    if (r->target > 0) {
        const int pass = ratio >= r->target;
        printf("  >= %.1f x memcpy: %s", r->target, pass ? "PASS" : "MISS");
        tot->targets++;
        if (!pass) tot->misses++;
    }
    printf("\n");
    fflush(stdout);
}

/* Measures memcpy first, then every conversion of one size class, and prints their rows. */
static void bench_size(size_t n, const char *size, const timing *t, int out_of_cache, totals *tot)
{
    char simd[32], simd_div[32];
    buffers b;
    row rows[7];
    double memcpy_sec = 0;
    size_t i, nrows = 0;

    snprintf(simd, sizeof simd, "simd %s", fp8q_simd_name());
    snprintf(simd_div, sizeof simd_div, "simd %s DIV", fp8q_simd_name());
    buffers_init(&b, n);

    /* op, path, kernel, dst, src, reference, output bytes, target (out of cache only) */
    {
        const row all[7] = {
            {"memcpy", "2.5 B/elem", k_memcpy, b.m_dst, b.m_src, NULL, n * 5 / 2, 0},
            {"encode", "scalar ref", k_encode_scalar, b.q_out, b.f_in, b.q_ref, n, 0},
            {"encode", simd, k_encode_simd, b.q_out, b.f_in, b.q_ref, n, out_of_cache ? 0.5 : 0},
            {"encode", simd_div, k_encode_simd_div, b.q_out, b.f_in, b.q_div, n, 0},
            {"decode", "scalar ref", k_decode_scalar, b.f_out, b.q_ref, b.f_ref, 4 * n, 0},
            {"decode", "scalar table", k_decode_table, b.f_out, b.q_ref, b.f_ref, 4 * n, 0},
            {"decode", simd, k_decode_simd, b.f_out, b.q_ref, b.f_ref, 4 * n, out_of_cache ? 0.8 : 0},
        };
        memcpy(rows, all, sizeof rows);
        nrows = sizeof all / sizeof all[0];
    }

    for (i = 0; i < nrows; i++) {
        const row *r = &rows[i];
        double sec;
        if (!out_of_cache) r->fn(r->dst, r->src, n); /* warm-up: brings the buffers into cache */
        memset(r->dst, 0, r->out_bytes);             /* a row must produce its own output to pass the check */
        sec = seconds_per_call(r->fn, r->dst, r->src, n, t);
        if (i == 0) memcpy_sec = sec;
        print_row(r, size, n, sec, memcpy_sec, tot);
        tot->checksum = tot->checksum * 31 + checksum(r->dst, r->out_bytes);
    }
    buffers_free(&b);
}

/* -------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    int quick = 0, i;
    size_t large_n;
    timing in_cache, out_cache;
    totals tot = {0, 0, 0, 0};
    char large_label[16];

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else {
            fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
            return 2;
        }
    }
    large_n = quick ? LARGE_N_QUICK : LARGE_N;
    in_cache.runs = 3;
    in_cache.min_s = quick ? 0.05 : 0.3;
    out_cache.runs = quick ? 2 : 3;
    out_cache.min_s = 0;
    snprintf(large_label, sizeof large_label, "%zuMi", large_n >> 20);

    for (i = 0; i < 256; i++) g_table[i] = fp8q_to_f32((uint8_t)i, FP8Q_E4M3);

    printf("fp8q %s bulk conversion benchmark, FP8 E4M3, SATFINITE, one thread%s\n", fp8q_version(),
           quick ? " (--quick)" : "");
    printf("simd path of this build: %s; scalar rows call the reference per element (= the FP8Q_NO_SIMD path)\n",
           fp8q_simd_name());
    printf("sizes: 4Ki  = 4096 elements (4 KiB fp8 + 16 KiB f32), in cache\n");
    printf("       %-4s = %zu elements (%zu MiB fp8 + %zu MiB f32), out of cache\n", large_label, large_n,
           large_n >> 20, (4 * large_n) >> 20);
    printf("traffic: N elements = 5N bytes (encode reads 4N, writes N; decode reads N, writes 4N);\n");
    printf("         memcpy row = copying 2.5N bytes (2.5N read + 2.5N written = 5N), measured in this run\n");
    printf("timing: best of %d; in cache each run repeats >= %.2f s; out of cache one pass per run\n", in_cache.runs,
           in_cache.min_s);
    printf("encode: SCALE_NONE unless marked DIV (FP8Q_SCALE_DIV, q = fp8(x / %.2f)); decode: SCALE_NONE\n\n",
           (double)DIV_SCALE);
    printf("%-7s %-5s %-17s %10s %8s %9s\n", "op", "size", "path", "Melem/s", "GB/s", "x memcpy");
    printf("-------------------------------------------------------------\n");

    bench_size(SMALL_N, "4Ki", &in_cache, 0, &tot);
    bench_size(large_n, large_label, &out_cache, 1, &tot);

    printf("\ntargets (one core, out of cache): %d of %d met\n", tot.targets - tot.misses, tot.targets);
    printf("outputs bit-identical to the scalar reference: %s\n",
           tot.mismatches || g_api_errors ? "NO (see rows above)" : "yes");
    printf("checksum: %016llx\n", (unsigned long long)tot.checksum);
    return 0;
}
