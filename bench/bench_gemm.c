/* bench_gemm.c - fp8q's W8A8 GEMM (FP8Q_GEMM_FAST) against OpenBLAS float32 at the same thread count.

   An example program, not a test: it prints a table and always exits 0 (2 on bad arguments). The targets below are
   reported as met/missed, never as a failure.

   Build and run from the repository root (Debian: libopenblas-dev):

       gcc -std=c99 -O2 -march=native -Wall -Wextra -pedantic -Werror -I. \
           -I/usr/include/x86_64-linux-gnu/openblas-pthread bench/bench_gemm.c -o build/bench_gemm \
           -lopenblas -lm -pthread
       ./build/bench_gemm             full run (~0.2 s per timed repetition)
       ./build/bench_gemm --quick     smoke run (shorter repetitions)
       ./build/bench_gemm --threads T both libraries use T threads (default 2)

   What is measured: C[M][N] = A[M][K] . W[N][K]^T, W row-major [out][in] as checkpoints store it.
     fp8   fp8q_gemm_run(FP8Q_GEMM_FAST): A and W are random FP8 E4M3 bytes (never the NaN codes 7F/FF), per-token
           scales for A (a_tile_rows = 1, a_tile_cols = 0) and per-channel scales for W (b_tile_rows = 1,
           b_tile_cols = 0), float32 output.
     blas  OpenBLAS on the dequantized float32 operands (decoded FP8 value times its scale), i.e. the float32 model
           the FP8 one replaces: cblas_sgemv(RowMajor, NoTrans) y = W x for the GEMV rows, cblas_sgemm(RowMajor,
           NoTrans, Trans) for the GEMM rows.
   GFLOP/s = 2 M N K / time for both; ratio = fp8 GFLOP/s / blas GFLOP/s (> 1: fp8q is faster).

   Cases:
     1. GEMV (M = 1) at LLM shapes (K, N) = (4096, 4096), (4096, 14336), (14336, 4096). Weights are read cold: each
        timed call uses the next of several identical copies of W, enough copies that the rotation spans
        >= COLD_BYTES (well beyond a 32 MiB LLC) for the FP8 bytes and for the float32 weights alike.
     2. GEMM M in {1, 16, 64, 256, 512} at (K, N) = (4096, 4096), and at the small shape (576, 1536). One copy of W,
        reused by every call (it may stay cache-resident where it fits).

   Timing: CLOCK_MONOTONIC; one warm-up call, then the best of REPS repetitions, each repeating the call until it
   has run >= MIN_S seconds; time per call = repetition time / calls.

   Check: once per shape, the fp8 output of the last timed call must match the OpenBLAS output within
   CHECK_REL * max |C_blas| (the float32 baseline rounds the scaled operands, so the two differ by rounding only).

   Targets (2 threads): FP8 GEMV >= 3x SGEMV on every GEMV shape (it reads 1 byte per weight instead of 4);
   FP8 GEMM at M = 256, (K, N) = (4096, 4096) >= 1.0x SGEMM. */

#define _POSIX_C_SOURCE 200112L /* clock_gettime (199309L), posix_memalign and sysconf (200112L) */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>

#include "bench_common.h"

#define FP8Q_IMPLEMENTATION
#include "../fp8q.h"

#define DEFAULT_THREADS 2
#define MIN_S           0.2                 /* seconds per timed repetition */
#define MIN_S_QUICK     0.03                /* --quick */
#define REPS            3                   /* best of this many repetitions */
#define COLD_BYTES      ((size_t)128 << 20) /* GEMV weight rotation spans at least this many bytes */
#define CHECK_REL       1e-3                /* check: max |C_fp8 - C_blas| <= CHECK_REL * max |C_blas| */
#define GEMV_TARGET     3.0                 /* fp8 GEMV / sgemv */
#define GEMM_TARGET     1.0                 /* fp8 GEMM / sgemm at M = GEMM_TARGET_M, K = N = 4096 */
#define GEMM_TARGET_M   256

/* ------------------------------------------------------------------ timing */

/* ----------------------------------------------------------------- buffers */

/* A uniformly random E4M3 byte other than the NaN codes 7F and FF (254 choices). */
static uint8_t random_e4m3(void)
{
    unsigned v = (unsigned)(next_u64() >> 32) % 254u;
    return (uint8_t)(v >= 0x7Fu ? v + 1u : v); /* 0..7E stay, 7F..FD -> 80..FE */
}

/* A scale in [base, 2 base). */
static float random_scale(float base) { return base * (1.0f + (float)(next_u64() >> 40) * (1.0f / 16777216.0f)); }

static float g_e4m3[256]; /* E4M3 byte -> float */

/* --------------------------------------------------------------- problems */

/* One shape with both libraries' operands. W has `copies` identical copies (cold GEMV rotation). */
typedef struct problem {
    size_t M, N, K;
    int gemv;   /* OpenBLAS side: cblas_sgemv (M = 1) instead of cblas_sgemm */
    int copies; /* copies of W, rotated between calls */
    int threads;
    uint8_t *a8;  /* [M][K] E4M3 */
    float *sa;    /* [M] per-token scales */
    uint8_t **w8; /* copies x [N][K] E4M3 */
    float *sw;    /* [N] per-channel scales */
    float *af;    /* [M][K] = e4m3(a8) * sa */
    float **wf;   /* copies x [N][K] = e4m3(w8) * sw */
    float *c_fp8; /* [M][N] */
    float *c_blas;
    int fp8_errors; /* fp8q_gemm_run calls that did not return FP8Q_OK */
} problem;

static int copies_for(size_t bytes, int cold)
{
    if (!cold) return 1;
    return (int)((COLD_BYTES + bytes - 1) / bytes);
}

static void problem_init(problem *p, size_t M, size_t K, size_t N, int gemv, int cold, int threads)
{
    size_t i, k;
    int c;
    memset(p, 0, sizeof *p);
    p->M = M, p->N = N, p->K = K, p->gemv = gemv, p->threads = threads;
    p->copies = copies_for(N * K, cold);
    if (copies_for(N * K * sizeof(float), cold) > p->copies) p->copies = copies_for(N * K * sizeof(float), cold);
    p->a8 = (uint8_t *)alloc_touched(M * K);
    p->sa = (float *)alloc_touched(M * sizeof(float));
    p->af = (float *)alloc_touched(M * K * sizeof(float));
    p->sw = (float *)alloc_touched(N * sizeof(float));
    p->w8 = (uint8_t **)alloc_touched((size_t)p->copies * sizeof(uint8_t *));
    p->wf = (float **)alloc_touched((size_t)p->copies * sizeof(float *));
    p->c_fp8 = (float *)alloc_touched(M * N * sizeof(float));
    p->c_blas = (float *)alloc_touched(M * N * sizeof(float));
    for (c = 0; c < p->copies; c++) {
        p->w8[c] = (uint8_t *)alloc_touched(N * K);
        p->wf[c] = (float *)alloc_touched(N * K * sizeof(float));
    }
    /* Scales of the order a dynamic quantizer would pick: |x| <= 448 * s. */
    for (i = 0; i < M; i++) p->sa[i] = random_scale(1.0f / 256.0f);
    for (i = 0; i < N; i++) p->sw[i] = random_scale(1.0f / 1024.0f);
    for (i = 0; i < M * K; i++) p->a8[i] = random_e4m3();
    for (i = 0; i < N * K; i++) p->w8[0][i] = random_e4m3();
    for (i = 0; i < M; i++)
        for (k = 0; k < K; k++) p->af[i * K + k] = g_e4m3[p->a8[i * K + k]] * p->sa[i];
    for (i = 0; i < N; i++)
        for (k = 0; k < K; k++) p->wf[0][i * K + k] = g_e4m3[p->w8[0][i * K + k]] * p->sw[i];
    for (c = 1; c < p->copies; c++) {
        memcpy(p->w8[c], p->w8[0], N * K);
        memcpy(p->wf[c], p->wf[0], N * K * sizeof(float));
    }
}

static void problem_free(problem *p)
{
    int c;
    for (c = 0; c < p->copies; c++) {
        free(p->w8[c]);
        free(p->wf[c]);
    }
    free(p->w8);
    free(p->wf);
    free(p->a8);
    free(p->sa);
    free(p->af);
    free(p->sw);
    free(p->c_fp8);
    free(p->c_blas);
}

/* ----------------------------------------------------------------- kernels */

typedef void (*kernel_fn)(problem *p, int copy);

/* fp8q fast path: per-token A scales, per-channel W scales, float32 C. */
static void run_fp8(problem *p, int copy)
{
    fp8q_gemm g;
    memset(&g, 0, sizeof g);
    g.M = p->M, g.N = p->N, g.K = p->K;
    g.a = p->a8, g.a_format = FP8Q_E4M3, g.a_scales = p->sa, g.a_tile_rows = 1, g.a_tile_cols = 0;
    g.b = p->w8[copy], g.b_format = FP8Q_E4M3, g.b_scales = p->sw, g.b_tile_rows = 1, g.b_tile_cols = 0;
    g.c = p->c_fp8, g.c_type = FP8Q_F32;
    g.threads = p->threads;
    if (fp8q_gemm_run(&g, FP8Q_GEMM_FAST) != FP8Q_OK) p->fp8_errors++;
}

/* OpenBLAS on the dequantized float32 operands. */
static void run_blas(problem *p, int copy)
{
    const int M = (int)p->M, N = (int)p->N, K = (int)p->K;
    if (p->gemv)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, p->wf[copy], K, p->af, 1, 0.0f, p->c_blas, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, p->af, K, p->wf[copy], K, 0.0f, p->c_blas,
                    N);
}

/* Seconds per call: one warm-up call, then the best of `reps` repetitions of >= min_s seconds each. Calls rotate
   through the copies of W. */
static double seconds_per_call(kernel_fn fn, problem *p, int reps, double min_s)
{
    double best = 1e30;
    int rep, copy = 0;
    fn(p, copy);
    for (rep = 0; rep < reps; rep++) {
        const double t0 = now_s();
        double elapsed;
        long calls = 0;
        do {
            copy = (copy + 1) % p->copies;
            fn(p, copy);
            calls++;
            elapsed = now_s() - t0;
        } while (elapsed < min_s);
        if (elapsed / (double)calls < best) best = elapsed / (double)calls;
    }
    return best;
}

/* max |C_fp8 - C_blas| / max |C_blas|; a NaN or Inf in C_fp8 gives HUGE_VAL (a failed check). */
static double relative_error(const problem *p)
{
    double max_ref = 0, max_diff = 0;
    size_t i;
    for (i = 0; i < p->M * p->N; i++) {
        const double ref = fabs((double)p->c_blas[i]);
        double diff = fabs((double)p->c_fp8[i] - (double)p->c_blas[i]);
        if (!(diff <= HUGE_VAL / 2)) diff = HUGE_VAL; /* NaN or Inf */
        if (ref > max_ref) max_ref = ref;
        if (diff > max_diff) max_diff = diff;
    }
    return max_ref > 0 ? max_diff / max_ref : max_diff;
}

/* -------------------------------------------------------------------- rows */

typedef struct options {
    int threads;
    int reps;
    double min_s;
} options;

/* Builds one shape, times both libraries, checks, prints a row and returns the ratio fp8 / blas. */
static double bench_shape(const char *label, size_t M, size_t K, size_t N, int gemv, const options *o, int *fails)
{
    problem p;
    double t_fp8, t_blas, flop, rel;
    int ok;
    problem_init(&p, M, K, N, gemv, gemv, o->threads);
    t_blas = seconds_per_call(run_blas, &p, o->reps, o->min_s);
    t_fp8 = seconds_per_call(run_fp8, &p, o->reps, o->min_s);
    flop = 2.0 * (double)M * (double)N * (double)K;
    rel = relative_error(&p);
    ok = rel <= CHECK_REL && p.fp8_errors == 0;
    if (!ok) (*fails)++;
    printf("%-5s %4zu %6zu %6zu %3d %9.3f %9.2f %9.3f %9.2f %7.2fx  check %s (%.1e)%s\n", label, M, K, N, p.copies,
           t_fp8 * 1e3, flop / t_fp8 * 1e-9, t_blas * 1e3, flop / t_blas * 1e-9, t_blas / t_fp8, ok ? "ok" : "FAIL",
           rel, p.fp8_errors ? " fp8q_gemm_run error" : "");
    fflush(stdout);
    problem_free(&p);
    return t_blas / t_fp8;
}

static void print_header(const options *o)
{
    printf("fp8q %s W8A8 GEMM benchmark: FP8Q_GEMM_FAST (E4M3, simd %s) vs OpenBLAS float32\n", fp8q_version(),
           fp8q_simd_name());
    printf("machine: %ld online CPUs; threads: fp8q %d, OpenBLAS %d (%s, core %s)\n", sysconf(_SC_NPROCESSORS_ONLN),
           o->threads, openblas_get_num_threads(), openblas_get_config(), openblas_get_corename());
    printf("C[M][N] = A[M][K] . W[N][K]^T; per-token A scales, per-channel W scales, float32 C;\n");
    printf("OpenBLAS runs on the dequantized float32 operands (sgemv for GEMV rows, sgemm NoTrans/Trans otherwise)\n");
    printf("timing: warm-up, then best of %d repetitions of >= %.2f s; GFLOP/s = 2MNK / time; ratio = fp8 / blas\n",
           o->reps, o->min_s);
    printf("GEMV rows rotate W over 'cp' identical copies (>= %zu MiB per rotation: cold weights); GEMM rows reuse "
           "one copy\n",
           COLD_BYTES >> 20);
    printf("check: max|C_fp8 - C_blas| <= %.0e * max|C_blas| (value in parentheses)\n\n", CHECK_REL);
    printf("%-5s %4s %6s %6s %3s %9s %9s %9s %9s %8s\n", "case", "M", "K", "N", "cp", "fp8 ms", "fp8 GF/s", "blas ms",
           "blas GF/s", "ratio");
    printf("---------------------------------------------------------------------------------\n");
}

/* -------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    static const size_t gemv_shapes[3][2] = {{4096, 4096}, {4096, 14336}, {14336, 4096}}; /* (K, N) */
    static const size_t gemm_shapes[2][2] = {{4096, 4096}, {576, 1536}};
    static const size_t gemm_m[5] = {1, 16, 64, 256, 512};
    options o;
    double gemv_min = 1e30, gemm_target = 0, t0;
    int i, j, fails = 0;

    o.threads = DEFAULT_THREADS, o.reps = REPS, o.min_s = MIN_S;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            o.min_s = MIN_S_QUICK;
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc && atoi(argv[i + 1]) > 0) {
            o.threads = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--quick] [--threads T]\n", argv[0]);
            return 2;
        }
    }
    openblas_set_num_threads(o.threads);
    for (i = 0; i < 256; i++) g_e4m3[i] = fp8q_to_f32((uint8_t)i, FP8Q_E4M3);
    t0 = now_s();
    print_header(&o);

    for (i = 0; i < 3; i++) {
        const double r = bench_shape("gemv", 1, gemv_shapes[i][0], gemv_shapes[i][1], 1, &o, &fails);
        if (r < gemv_min) gemv_min = r;
    }
    for (j = 0; j < 2; j++)
        for (i = 0; i < 5; i++) {
            const size_t K = gemm_shapes[j][0], N = gemm_shapes[j][1];
            const double r = bench_shape("gemm", gemm_m[i], K, N, 0, &o, &fails);
            if (j == 0 && gemm_m[i] == GEMM_TARGET_M) gemm_target = r;
        }

    printf("\nchecks: %s; total %.1f s\n", fails ? "FAIL (see rows above)" : "all ok", now_s() - t0);
    printf("targets: GEMV >=%.0fx: %s (%.2fx, worst shape), GEMM M=%d >=%.1fx: %s (%.2fx, K=N=4096)\n", GEMV_TARGET,
           gemv_min >= GEMV_TARGET ? "met" : "missed", gemv_min, GEMM_TARGET_M, GEMM_TARGET,
           gemm_target >= GEMM_TARGET ? "met" : "missed", gemm_target);
    return 0;
}
