/* Checks fp8q's conformance test vectors (written by `fp8q vectors DIR`,
   format: vectors/README.md) line by line against CUDA's host conversion
   functions from cuda_fp8.h, which compile as plain C (nothing is linked):

       check_vectors_cuda DIR

   Files checked (a missing one is a failure):
     encode-{f32,f64,f16,bf16}-{e4m3fn,e5m2}-{satfinite,nosat}-rne.txt
         __nv_cvt_float_to_fp8, __nv_cvt_double_to_fp8,
         __nv_cvt_halfraw_to_fp8, __nv_cvt_bfloat16raw_to_fp8
     encode-{f32,bf16}-e8m0-{satfinite,nosat}-{rz,ru}.txt
         __nv_cvt_float_to_e8m0, __nv_cvt_bfloat16raw_to_e8m0
         (cudaRoundZero, cudaRoundPosInf)
     decode-f16-{e4m3fn,e5m2}.txt   __nv_cvt_fp8_to_halfraw
     decode-f32-{e4m3fn,e5m2}.txt   what __nv_fp8_e4m3/e5m2::operator float computes
                                    (__internal_halfraw_to_float of the above)
     decode-bf16-e8m0.txt           __nv_cvt_e8m0_to_bf16raw
     decode-f32-e8m0.txt            what __nv_fp8_e8m0::operator float computes
                                    (bf16 << 16); its NaN is 7fff0000 where fp8q
                                    writes 7fffffff, so there NaN matches any NaN
   The FNUZ formats, decode to f64 / bf16 of E4M3 and E5M2, and the recipe and
   GEMM files have no CUDA host counterpart and are not read.

   Build (CUDA_INC: the CUDA include directory, e.g.
   $(dirname $(command -v nvcc))/../include):
       cc -std=c99 -O2 -isystem $CUDA_INC tests/check_vectors_cuda.c -o build/check_vectors_cuda
   One case per file; ends with "N passed, N failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_fp8.h>

#include "harness.h"

#define LINE_MAX_BYTES 256

/* ------------------------------------------------------------ references */

typedef enum wide_type { W_F32, W_F64, W_F16, W_BF16 } wide_type;

static const char *const k_wide_names[4] = {"f32", "f64", "f16", "bf16"};

typedef struct vec_spec {
    int encode;     /* 1 encode, 0 decode */
    wide_type wide; /* source (encode) or destination (decode) */
    int e8m0;       /* E8M0 instead of an FP8 format */
    __nv_fp8_interpretation_t interp;
    __nv_saturation_t sat;
    enum cudaRoundMode round; /* E8M0 encode */
    const char *file;
} vec_spec;

static float f32_from(unsigned long long u)
{
    const unsigned int v = (unsigned int)u;
    float x;
    memcpy(&x, &v, 4);
    return x;
}

static double f64_from(unsigned long long u)
{
    double x;
    memcpy(&x, &u, 8);
    return x;
}

static unsigned long long f32_bits(float x)
{
    unsigned int v;
    memcpy(&v, &x, 4);
    return v;
}

static unsigned long long cuda_encode(const vec_spec *s, unsigned long long in)
{
    __half_raw h;
    __nv_bfloat16_raw b;
    h.x = (unsigned short)in, b.x = (unsigned short)in;
    if (s->e8m0)
        return s->wide == W_F32 ? __nv_cvt_float_to_e8m0(f32_from(in), s->sat, s->round)
                                : __nv_cvt_bfloat16raw_to_e8m0(b, s->sat, s->round);
    switch (s->wide) {
    case W_F32: return __nv_cvt_float_to_fp8(f32_from(in), s->sat, s->interp);
    case W_F64: return __nv_cvt_double_to_fp8(f64_from(in), s->sat, s->interp);
    case W_F16: return __nv_cvt_halfraw_to_fp8(h, s->sat, s->interp);
    default: return __nv_cvt_bfloat16raw_to_fp8(b, s->sat, s->interp);
    }
}

static unsigned long long cuda_decode(const vec_spec *s, unsigned long long in)
{
    const __nv_fp8_storage_t v = (__nv_fp8_storage_t)in;
    if (s->e8m0) {
        const unsigned long long b = __nv_cvt_e8m0_to_bf16raw(v).x;
        return s->wide == W_BF16 ? b : b << 16;
    }
    if (s->wide == W_F16) return __nv_cvt_fp8_to_halfraw(v, s->interp).x;
    return f32_bits(__internal_halfraw_to_float(__nv_cvt_fp8_to_halfraw(v, s->interp)));
}

static int is_f32_nan(unsigned long long u) { return (u & 0x7FFFFFFFu) > 0x7F800000u; }

/* ------------------------------------------------------------- the files */

#define N_SPECS 30
static vec_spec g_specs[N_SPECS];
static int g_n_specs;
static const char *g_dir;
static const vec_spec *g_spec; /* the file being checked */
static unsigned long g_lines;  /* cases checked in all files */

static void add_spec(int encode, wide_type w, int e8m0, __nv_fp8_interpretation_t interp, __nv_saturation_t sat,
                     enum cudaRoundMode round)
{
    static char names[N_SPECS][96];
    vec_spec *s = &g_specs[g_n_specs];
    const char *fmt = e8m0 ? "e8m0" : interp == __NV_E4M3 ? "e4m3fn" : "e5m2";
    if (encode)
        snprintf(names[g_n_specs], sizeof names[0], "encode-%s-%s-%s-%s.txt", k_wide_names[w], fmt,
                 sat == __NV_SATFINITE ? "satfinite" : "nosat",
                 !e8m0                    ? "rne"
                 : round == cudaRoundZero ? "rz"
                                          : "ru");
    else
        snprintf(names[g_n_specs], sizeof names[0], "decode-%s-%s.txt", k_wide_names[w], fmt);
    s->encode = encode, s->wide = w, s->e8m0 = e8m0, s->interp = interp, s->sat = sat, s->round = round;
    s->file = names[g_n_specs++];
}

/* The table of checked files (see the top comment). */
static void build_specs(void)
{
    static const __nv_fp8_interpretation_t interps[2] = {__NV_E4M3, __NV_E5M2};
    static const __nv_saturation_t sats[2] = {__NV_SATFINITE, __NV_NOSAT};
    static const enum cudaRoundMode rounds[2] = {cudaRoundZero, cudaRoundPosInf};
    int f, s, w, r;
    for (f = 0; f < 2; f++)
        for (w = W_F32; w <= W_BF16; w++)
            for (s = 0; s < 2; s++) add_spec(1, (wide_type)w, 0, interps[f], sats[s], cudaRoundZero);
    for (w = W_F32; w <= W_BF16; w += W_BF16 - W_F32)
        for (s = 0; s < 2; s++)
            for (r = 0; r < 2; r++) add_spec(1, (wide_type)w, 1, __NV_E4M3, sats[s], rounds[r]);
    for (f = 0; f < 2; f++) {
        add_spec(0, W_F16, 0, interps[f], __NV_SATFINITE, cudaRoundZero);
        add_spec(0, W_F32, 0, interps[f], __NV_SATFINITE, cudaRoundZero);
    }
    add_spec(0, W_BF16, 1, __NV_E4M3, __NV_SATFINITE, cudaRoundZero);
    add_spec(0, W_F32, 1, __NV_E4M3, __NV_SATFINITE, cudaRoundZero);
}

/* Parses "IN OUT" (hex); 0 when the line is not a case. */
static int parse_case(const char *line, unsigned long long *in, unsigned long long *out)
{
    char *end;
    *in = strtoull(line, &end, 16);
    if (end == line || *end != ' ') return 0;
    line = end + 1;
    *out = strtoull(line, &end, 16);
    return end != line && (*end == '\n' || *end == 0);
}

static void check_file(void)
{
    const vec_spec *s = g_spec;
    const int nan_any = s->e8m0 && !s->encode && s->wide == W_F32;
    char path[4096], line[LINE_MAX_BYTES];
    unsigned long long in = 0, want = 0, got;
    unsigned long cases = 0, declared = 0, lineno = 0;
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", g_dir, s->file);
    f = fopen(path, "rb");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '#') {
            sscanf(line, "# cases: %lu", &declared);
            continue;
        }
        if (!parse_case(line, &in, &want)) {
            CHECK(0, "%s:%lu: not a case line", s->file, lineno);
            continue;
        }
        got = s->encode ? cuda_encode(s, in) : cuda_decode(s, in);
        if (nan_any && is_f32_nan(got) && is_f32_nan(want)) got = want;
        CHECK(got == want, "%s:%lu: input %llx: vector %llx, CUDA %llx", s->file, lineno, in, want, got);
        cases++;
    }
    fclose(f);
    CHECK(cases > 0 && cases == declared, "%s: %lu cases, header says %lu", s->file, cases, declared);
    g_lines += cases;
}

int main(int argc, char **argv)
{
    int i;
    if (argc != 2) {
        fprintf(stderr, "usage: check_vectors_cuda DIR   (DIR written by `fp8q vectors DIR`)\n");
        return 2;
    }
    g_dir = argv[1];
    build_specs();
    for (i = 0; i < g_n_specs; i++) {
        g_spec = &g_specs[i];
        run_case(g_specs[i].file, check_file);
    }
#ifdef CUDART_VERSION
    printf("%lu vector lines checked against CUDA %d.%d host code\n", g_lines, CUDART_VERSION / 1000,
           CUDART_VERSION % 1000 / 10);
#else
    printf("%lu vector lines checked against CUDA host code\n", g_lines);
#endif
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed != 0;
}
