/* Checking your own FP8 GEMM kernel against fp8q.

   A W8A8 GEMM C = (A . B^T) * scales, as vLLM runs a linear layer: A the
   activations quantized per token, B the weights quantized per output
   channel (both E4M3). Two "user" kernels are checked against fp8q's
   golden FP8Q_GEMM_EXACT (every product exact, one rounding):
     naive_f32   float32 accumulation in k order: a correct kernel
     sloppy_bf16 the running sum rounded to bfloat16 after every add (what a
                 kernel accumulating in a 16-bit register does): wrong
   The criterion is the one fp8q documents for a correct float32-accumulating
   backend: |c - exact| <= fp8q_gemm_tolerance(K, sum_k |terms|) for every
   element, with the terms' magnitude computed from the same codes and
   scales; fp8q_compare_f32 reports how far off the worst element is.

   Build and run (from the repository root):
       cc -std=c99 -O2 -I. examples/check_gemm_kernel.c -o build/check_gemm_kernel -lm -pthread
       ./build/check_gemm_kernel
   Exit status 0 when the naive kernel passes and the sloppy one is caught. */
#define FP8Q_IMPLEMENTATION
#include "fp8q.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { M = 16, N = 96, K = 1024 }; /* tokens, output features, input features */

/* The problem: codes and their dequantization scales. */
typedef struct problem {
    uint8_t a[M * K], b[N * K]; /* E4M3: A [M][K] activations, B [N][K] weights */
    float sa[M], sb[N];         /* per-token and per-channel scales */
} problem;

typedef void (*kernel_fn)(const problem *p, float *c);

/* A user kernel: float32 products and sum in k order, then the scales. */
static void naive_f32(const problem *p, float *c)
{
    int m, n, k;
    for (m = 0; m < M; m++)
        for (n = 0; n < N; n++) {
            float acc = 0.0f;
            for (k = 0; k < K; k++)
                acc += fp8q_to_f32(p->a[m * K + k], FP8Q_E4M3) * fp8q_to_f32(p->b[n * K + k], FP8Q_E4M3);
            c[m * N + n] = (acc * p->sb[n]) * p->sa[m];
        }
}

/* A sloppy one: the running sum kept in bfloat16. */
static void sloppy_bf16(const problem *p, float *c)
{
    int m, n, k;
    for (m = 0; m < M; m++)
        for (n = 0; n < N; n++) {
            float acc = 0.0f;
            for (k = 0; k < K; k++) {
                acc += fp8q_to_f32(p->a[m * K + k], FP8Q_E4M3) * fp8q_to_f32(p->b[n * K + k], FP8Q_E4M3);
                acc = fp8q_bf16_to_f32(fp8q_f32_to_bf16(acc));
            }
            c[m * N + n] = (acc * p->sb[n]) * p->sa[m];
        }
}

/* Uniform in [-1, 1) from a fixed generator (xorshift64). */
static float uniform(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return (float)((double)(*s >> 11) / 4503599627370496.0 - 1.0);
}

/* Random activations (a few outliers, as real ones have) and weights,
   quantized with vLLM's recipes: per-token activations, per-channel
   weights (compressed-tensors' channel strategy). */
static int make_problem(problem *p)
{
    static float x[M * K], w[N * K];
    uint64_t s = 42;
    int i;
    for (i = 0; i < M * K; i++) x[i] = uniform(&s) * (i % 97 == 0 ? 20.0f : 1.0f);
    for (i = 0; i < N * K; i++) w[i] = uniform(&s) * 0.05f;
    return fp8q_compute_scales(p->sa, x, M, K, fp8q_recipe_get("vllm-per-token")) == FP8Q_OK &&
           fp8q_quantize(p->a, x, M, K, p->sa, fp8q_recipe_get("vllm-per-token")) == FP8Q_OK &&
           fp8q_compute_scales(p->sb, w, N, K, fp8q_recipe_get("ct-channel-f32")) == FP8Q_OK &&
           fp8q_quantize(p->b, w, N, K, p->sb, fp8q_recipe_get("ct-channel-f32")) == FP8Q_OK;
}

/* The golden result: fp8q's exact GEMM of the same codes and scales. */
static int exact_gemm(const problem *p, float *c)
{
    fp8q_gemm g;
    memset(&g, 0, sizeof g);
    g.M = M, g.N = N, g.K = K;
    g.a = p->a, g.a_format = FP8Q_E4M3, g.a_scales = p->sa, g.a_tile_rows = 1;
    g.b = p->b, g.b_format = FP8Q_E4M3, g.b_scales = p->sb, g.b_tile_rows = 1;
    g.c = c, g.c_type = FP8Q_F32;
    return fp8q_gemm_run(&g, FP8Q_GEMM_EXACT) == FP8Q_OK;
}

/* Elements of c outside fp8q_gemm_tolerance of the exact result. */
static int count_outside(const problem *p, const float *c, const float *exact)
{
    int m, n, k, outside = 0;
    for (m = 0; m < M; m++)
        for (n = 0; n < N; n++) {
            double sum_abs = 0.0; /* sum over k of |a * sa * b * sb| */
            for (k = 0; k < K; k++)
                sum_abs += fabs((double)fp8q_to_f32(p->a[m * K + k], FP8Q_E4M3) * p->sa[m] *
                                (double)fp8q_to_f32(p->b[n * K + k], FP8Q_E4M3) * p->sb[n]);
            outside += fabs((double)c[m * N + n] - (double)exact[m * N + n]) > fp8q_gemm_tolerance(K, sum_abs);
        }
    return outside;
}

/* Runs one kernel and prints its verdict; returns 1 if it passed. */
static int check(const char *name, kernel_fn kernel, const problem *p, const float *exact)
{
    static float c[M * N];
    fp8q_compare cmp;
    int outside;
    kernel(p, c);
    cmp = fp8q_compare_f32(c, exact, M * N, FP8Q_F32, 0.0, 0.0);
    outside = count_outside(p, c, exact);
    printf("%-12s %-4s  %4d of %d outside the tolerance; max abs %.3g, max rel %.3g, max %.0f float32 ulp\n", name,
           outside ? "FAIL" : "pass", outside, M * N, cmp.max_abs_err, cmp.max_rel_err, cmp.max_ulp);
    return outside == 0;
}

int main(void)
{
    static problem p;
    static float exact[M * N];
    int naive_ok, sloppy_ok;
    if (!make_problem(&p) || !exact_gemm(&p, exact)) {
        fprintf(stderr, "check_gemm_kernel: fp8q failed to set up the problem\n");
        return 2;
    }
    printf("W8A8 GEMM [%d x %d] . [%d x %d]^T, per-token x per-channel E4M3, against FP8Q_GEMM_EXACT\n", M, K, N, K);
    printf("tolerance: |c - exact| <= fp8q_gemm_tolerance(K = %d, sum |terms|) per element\n\n", K);
    naive_ok = check("naive_f32", naive_f32, &p, exact);
    sloppy_ok = check("sloppy_bf16", sloppy_bf16, &p, exact);
    printf("\n%s\n", naive_ok && !sloppy_ok ? "as expected: the float32 kernel passes, the bf16 accumulator is caught"
                                            : "unexpected verdicts");
    return naive_ok && !sloppy_ok ? 0 : 1;
}
