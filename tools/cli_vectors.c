/* fp8q vectors - writes fp8q's conformance test vectors, in the text format
   specified in vectors/README.md, into a directory:

       fp8q vectors OUT_DIR [--count N]

   One file per (operation, format, saturation, rounding): '#' header lines,
   then one case per line with inputs and expected outputs as hexadecimal bit
   patterns (recipes and GEMMs: one record per line, see the README). Only
   integers and hex bit patterns are printed, and the pseudo-random inputs
   come from a fixed integer generator seeded by the file name, so the files
   are byte-identical on every run and every machine.

   Part of the fp8q command-line tool: tools/fp8q.c calls fp8q_cli_vectors
   with argv[0] = "vectors". This file uses only fp8q.h's declarations.

   Contents (the tables below are the single list of what is written):
     encode  k_encode_rows (OCP/FNUZ formats, E8M0) for their source types:
             f16 and bf16 exhaustively (all 65536 inputs); f32 and f64 from
             special values, every representable value and every midpoint
             between neighbours (and above the largest finite) at +-0..2
             source ulps, powers of two around the format's range, and N
             pseudo-random inputs (--count); k_gaudi_formats x k_gaudi_modes
             (Intel Gaudi's converter) from f32 the same way with N/8 random
             inputs, stochastic modes with 2 random words per input;
     decode  every byte to each destination type of the format's rows;
     recipe  every recipe of fp8q_recipe_at() on the shapes of recipe_shape();
     gemm    the cases of k_gemm_cases, FP8Q_GEMM_EXACT, outputs f32, bf16, f16. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* mkdir */
#endif
#include "fp8q.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(_WIN32)
#include <direct.h>
#else
#include <sys/stat.h>
#include <sys/types.h>
#endif

int fp8q_cli_vectors(int argc, char **argv);

#define VEC_DEFAULT_COUNT 4096
#define VEC_MAX_COUNT     10000000L
#define VEC_PATH_MAX      4096
#define VEC_SEED          0x6670387176656373ull /* "fp8qvecs" */

enum { VEC_OK = 0, VEC_ERR = 1, VEC_USAGE = 2 };

static const char *const k_usage = "usage: fp8q vectors OUT_DIR [--count N]\n"
                                   "  Writes fp8q's FP8 conformance test vectors (format: vectors/README.md)\n"
                                   "  into OUT_DIR (created if missing): encode/decode for E4M3FN, E5M2,\n"
                                   "  E4M3FNUZ, E5M2FNUZ, E8M0 and Intel Gaudi's formats, the scaled-\n"
                                   "  quantization recipes and exact GEMMs. Deterministic: reruns give\n"
                                   "  byte-identical files.\n"
                                   "  --count N   pseudo-random f32/f64 inputs per encode file (default 4096;\n"
                                   "              Gaudi files get N/8)\n";

static void vec_error(const char *fmt, ...)
{
    va_list ap;
    fputs("fp8q: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ============================================================ utilities */

static uint32_t f32_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float f32_from(uint32_t u)
{
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static uint64_t f64_bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, 8);
    return u;
}

static double f64_from(uint64_t u)
{
    double x;
    memcpy(&x, &u, 8);
    return x;
}

/* 2^e as a float for -126 <= e <= 127, from the bits. */
static float pow2f(int e) { return f32_from((uint32_t)(e + 127) << 23); }

/* 2^e as a double for -1074 <= e <= 1023, from the bits. */
static double pow2(int e)
{
    if (e >= -1022) return f64_from((uint64_t)(e + 1023) << 52);
    return f64_from((uint64_t)1 << (e + 1074));
}

/* floor(log2 v) for a finite v > 0. */
static int ilog2(double v)
{
    int e = (int)((f64_bits(v) >> 52) & 0x7FF) - 1023;
    if (e == -1023) /* subnormal */
        for (e = -1022; pow2(e) > v; e--) {
        }
    return e;
}

/* splitmix64: a fixed, portable integer generator. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A seed per file: FNV-1a of its name mixed with VEC_SEED. */
static uint64_t rng_seed(const char *name)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (; *name; name++) h = (h ^ (unsigned char)*name) * 0x100000001B3ull;
    return h ^ VEC_SEED;
}

/* A growable list of 64-bit values (input bit patterns, value grids). */
typedef struct u64_list {
    uint64_t *v;
    size_t n, cap;
    int nomem;
} u64_list;

static void list_push(u64_list *l, uint64_t x)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 1024;
        uint64_t *v = (uint64_t *)realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->nomem = 1;
            return;
        }
        l->v = v, l->cap = cap;
    }
    l->v[l->n++] = x;
}

static int cmp_u64(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts ascending and drops duplicates. */
static void list_sort_unique(u64_list *l)
{
    size_t i, n = 0;
    if (!l->n) return;
    qsort(l->v, l->n, sizeof *l->v, cmp_u64);
    for (i = 1; i < l->n; i++)
        if (l->v[i] != l->v[n]) l->v[++n] = l->v[i];
    l->n = n + 1;
}

static void list_free(u64_list *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ================================================================ output */

typedef struct vec_file {
    FILE *f;
    char path[VEC_PATH_MAX];
} vec_file;

typedef struct vec_totals {
    const char *dir;
    unsigned long files, cases;
    unsigned long long bytes;
} vec_totals;

static int vec_open(vec_file *vf, const vec_totals *t, const char *name)
{
    if ((size_t)snprintf(vf->path, sizeof vf->path, "%s/%s", t->dir, name) >= sizeof vf->path) {
        vec_error("output path too long: %s/%s", t->dir, name);
        return VEC_ERR;
    }
    vf->f = fopen(vf->path, "wb"); /* "\n" line ends everywhere */
    if (!vf->f) {
        vec_error("cannot create %s: %s", vf->path, strerror(errno));
        return VEC_ERR;
    }
    fprintf(vf->f, "# fp8q conformance test vectors, format: vectors/README.md\n# fp8q: %s\n", fp8q_version());
    return VEC_OK;
}

static int vec_close(vec_file *vf, vec_totals *t, unsigned long cases)
{
    long size;
    int bad = ferror(vf->f);
    size = ftell(vf->f);
    bad |= fclose(vf->f) != 0;
    if (bad) {
        vec_error("cannot write %s", vf->path);
        return VEC_ERR;
    }
    t->files++, t->cases += cases, t->bytes += size > 0 ? (unsigned long long)size : 0;
    return VEC_OK;
}

/* v as `digits` lowercase hex digits (the only number format in the files). */
static void put_hex(FILE *f, uint64_t v, int digits)
{
    char buf[17];
    int i;
    for (i = digits - 1; i >= 0; i--, v >>= 4) buf[i] = "0123456789abcdef"[v & 15];
    buf[digits] = 0;
    fputs(buf, f);
}

/* "key v0 v1 ..." as one line: n elements of width_bytes (1, 2, 4) bytes each
   at data, as 2 * width_bytes hex digits. */
static void put_array(FILE *f, const char *key, const void *data, size_t n, int width_bytes)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t i;
    fputs(key, f);
    for (i = 0; i < n; i++) {
        uint8_t v8;
        uint16_t v16;
        uint32_t v32;
        uint64_t v;
        if (width_bytes == 1)
            memcpy(&v8, p + i, 1), v = v8;
        else if (width_bytes == 2)
            memcpy(&v16, p + 2 * i, 2), v = v16;
        else
            memcpy(&v32, p + 4 * i, 4), v = v32;
        fputc(' ', f);
        put_hex(f, v, 2 * width_bytes);
    }
    fputc('\n', f);
}

/* ========================================================= type tables */

/* The wide types on the other side of a conversion. */
typedef enum src_type { SRC_F32 = 0, SRC_F64 = 1, SRC_F16 = 2, SRC_BF16 = 3, SRC_COUNT } src_type;

static const struct src_info {
    const char *name;
    const char *what;
    int digits; /* hex digits of a bit pattern */
} k_src[SRC_COUNT] = {
    {"f32", "IEEE binary32", 8},
    {"f64", "IEEE binary64", 16},
    {"f16", "IEEE binary16", 4},
    {"bf16", "bfloat16", 4},
};

#define SRC_BIT(s)   (1u << (s))
#define SRC_ALL      (SRC_BIT(SRC_F32) | SRC_BIT(SRC_F64) | SRC_BIT(SRC_F16) | SRC_BIT(SRC_BF16))
#define SRC_F32_BF16 (SRC_BIT(SRC_F32) | SRC_BIT(SRC_BF16))

static const char *const k_sat_names[2] = {"satfinite", "nosat"};      /* by fp8q_saturation */
static const char *const k_specials_names[3] = {"fn", "ieee", "fnuz"}; /* by fp8q_specials */

/* ============================================================== encode */

/* One (format, saturation, rounding) row: its names (file names and
   headers), the library's enum values, and how to encode and decode. */
typedef struct enc_row enc_row;
struct enc_row {
    const char *format;          /* file-name token */
    const char *saturation;      /* satfinite, nosat; Gaudi's clip: noclip, saturate, clipfinite */
    const char *rounding;        /* rne, rz, ru; Gaudi also rd, rhaz, sr, srne */
    int fmt, sat, rnd;           /* fp8q_format, fp8q_saturation, fp8q_e8m0_rounding; Gaudi: -, clip, rounding */
    const fp8q_gaudi_fp8 *gaudi; /* Gaudi rows: the format */
    unsigned sources;            /* SRC_BIT() of the encode source types */
    unsigned destinations;       /* SRC_BIT() of the decode destination types */
    int stochastic;              /* each case has 32 random bits (SR, SRNE) */
    uint8_t (*encode)(const enc_row *r, src_type s, uint64_t bits, uint32_t random);
    uint64_t (*decode)(const enc_row *r, src_type d, unsigned code); /* the byte as d's bit pattern */
    void (*describe)(const enc_row *r, FILE *f);                     /* the "# format:" line's parameters */
};

static uint8_t encode_ocp(const enc_row *r, src_type s, uint64_t bits, uint32_t random)
{
    const fp8q_format fmt = (fp8q_format)r->fmt;
    const fp8q_saturation sat = (fp8q_saturation)r->sat;
    (void)random;
    switch (s) {
    case SRC_F32: return fp8q_from_f32(f32_from((uint32_t)bits), fmt, sat);
    case SRC_F64: return fp8q_from_f64(f64_from(bits), fmt, sat);
    case SRC_F16: return fp8q_from_f16((uint16_t)bits, fmt, sat);
    default: return fp8q_from_bf16((uint16_t)bits, fmt, sat);
    }
}

static uint64_t decode_ocp(const enc_row *r, src_type d, unsigned code)
{
    const uint8_t v = (uint8_t)code;
    const fp8q_format fmt = (fp8q_format)r->fmt;
    switch (d) {
    case SRC_F32: return f32_bits(fp8q_to_f32(v, fmt));
    case SRC_F64: return f64_bits(fp8q_to_f64(v, fmt));
    case SRC_F16: return fp8q_to_f16(v, fmt);
    default: return fp8q_to_bf16(v, fmt);
    }
}

static void describe_ocp(const enc_row *r, FILE *f)
{
    const fp8q_format_info *fi = fp8q_format_get((fp8q_format)r->fmt);
    fprintf(f, "exponent_bits %d mantissa_bits %d bias %d specials %s max_finite ", fi->exponent_bits,
            fi->mantissa_bits, fi->bias, k_specials_names[fi->specials]);
    put_hex(f, f32_bits(fi->max_finite), 8);
}

static uint8_t encode_e8m0(const enc_row *r, src_type s, uint64_t bits, uint32_t random)
{
    const fp8q_saturation sat = (fp8q_saturation)r->sat;
    const fp8q_e8m0_rounding rnd = (fp8q_e8m0_rounding)r->rnd;
    (void)random;
    if (s == SRC_F32) return fp8q_e8m0_from_f32(f32_from((uint32_t)bits), sat, rnd);
    return fp8q_e8m0_from_bf16((uint16_t)bits, sat, rnd);
}

static uint64_t decode_e8m0(const enc_row *r, src_type d, unsigned code)
{
    (void)r;
    return d == SRC_F32 ? f32_bits(fp8q_e8m0_to_f32((uint8_t)code)) : fp8q_e8m0_to_bf16((uint8_t)code);
}

static void describe_e8m0(const enc_row *r, FILE *f)
{
    (void)r;
    fputs("exponent_bits 8 mantissa_bits 0 bias 127 specials e8m0 max_finite 7f000000", f);
}

#define OCP_ROW(name, fmt, sat_name, sat)                                                                              \
    {                                                                                                                  \
        name, sat_name, "rne", fmt, sat, 0, NULL, SRC_ALL, SRC_ALL, 0, encode_ocp, decode_ocp, describe_ocp            \
    }
#define E8M0_ROW(sat_name, sat, rnd_name, rnd)                                                                         \
    {                                                                                                                  \
        "e8m0", sat_name, rnd_name, -1, sat, rnd, NULL, SRC_F32_BF16, SRC_F32_BF16, 0, encode_e8m0, decode_e8m0,       \
            describe_e8m0                                                                                              \
    }

/* fp8q's own conversions: the OCP and FNUZ formats round to nearest even;
   E8M0 has CUDA's two roundings. */
static const enc_row k_encode_rows[] = {
    OCP_ROW("e4m3fn", FP8Q_E4M3, "satfinite", FP8Q_SATFINITE),
    OCP_ROW("e4m3fn", FP8Q_E4M3, "nosat", FP8Q_NOSAT),
    OCP_ROW("e5m2", FP8Q_E5M2, "satfinite", FP8Q_SATFINITE),
    OCP_ROW("e5m2", FP8Q_E5M2, "nosat", FP8Q_NOSAT),
    OCP_ROW("e4m3fnuz", FP8Q_E4M3FNUZ, "satfinite", FP8Q_SATFINITE),
    OCP_ROW("e4m3fnuz", FP8Q_E4M3FNUZ, "nosat", FP8Q_NOSAT),
    OCP_ROW("e5m2fnuz", FP8Q_E5M2FNUZ, "satfinite", FP8Q_SATFINITE),
    OCP_ROW("e5m2fnuz", FP8Q_E5M2FNUZ, "nosat", FP8Q_NOSAT),
    E8M0_ROW("satfinite", FP8Q_SATFINITE, "rz", FP8Q_E8M0_ROUND_ZERO),
    E8M0_ROW("nosat", FP8Q_NOSAT, "rz", FP8Q_E8M0_ROUND_ZERO),
    E8M0_ROW("satfinite", FP8Q_SATFINITE, "ru", FP8Q_E8M0_ROUND_UP),
    E8M0_ROW("nosat", FP8Q_NOSAT, "ru", FP8Q_E8M0_ROUND_UP),
};
#define N_ENCODE_ROWS (sizeof k_encode_rows / sizeof k_encode_rows[0])

/* ---- Intel Gaudi's converter (fp8q_gaudi_*): float32 input only (bfloat16
   is widened exactly to float32 first, so the f32 files cover it). */

static const struct gaudi_format {
    const char *name;
    fp8q_gaudi_fp8 f;
} k_gaudi_formats[] = {
    {"gaudi143_b7_legacy", {FP8Q_GAUDI_143, 7, FP8Q_GAUDI_INFNAN_LEGACY}},   /* Gaudi2 default: max 240 */
    {"gaudi143_b3_legacy", {FP8Q_GAUDI_143, 3, FP8Q_GAUDI_INFNAN_LEGACY}},   /* Gaudi2: max 3840 */
    {"gaudi143_b15_legacy", {FP8Q_GAUDI_143, 15, FP8Q_GAUDI_INFNAN_LEGACY}}, /* Gaudi2: max 0.9375 */
    {"gaudi152_b15_legacy", {FP8Q_GAUDI_152, 15, FP8Q_GAUDI_INFNAN_LEGACY}}, /* both: OCP E5M2 values */
    {"gaudi143_b7_fn", {FP8Q_GAUDI_143, 7, FP8Q_GAUDI_INFNAN_FN}},           /* Gaudi3 default: max 448 */
    {"gaudi143_b7_none", {FP8Q_GAUDI_143, 7, FP8Q_GAUDI_INFNAN_NONE}},       /* Gaudi3: max 480 */
    {"gaudi152_b15_none", {FP8Q_GAUDI_152, 15, FP8Q_GAUDI_INFNAN_NONE}},     /* Gaudi3: max 114688 */
    {"gaudi143_b63_fn", {FP8Q_GAUDI_143, 63, FP8Q_GAUDI_INFNAN_FN}},         /* Gaudi3: the largest bias */
};
#define N_GAUDI_FORMATS (sizeof k_gaudi_formats / sizeof k_gaudi_formats[0])

/* Every rounding without clipping, and the two clips with RNE. */
static const struct gaudi_mode {
    const char *clip_name, *rounding_name;
    fp8q_gaudi_clip clip;
    fp8q_gaudi_rounding rounding;
    int stochastic;
} k_gaudi_modes[] = {
    {"noclip", "rne", FP8Q_GAUDI_NO_CLIP, FP8Q_GAUDI_RNE, 0},
    {"noclip", "rz", FP8Q_GAUDI_NO_CLIP, FP8Q_GAUDI_RZ, 0},
    {"noclip", "ru", FP8Q_GAUDI_NO_CLIP, FP8Q_GAUDI_RU, 0},
    {"noclip", "rd", FP8Q_GAUDI_NO_CLIP, FP8Q_GAUDI_RD, 0},
    {"noclip", "rhaz", FP8Q_GAUDI_NO_CLIP, FP8Q_GAUDI_RHAZ, 0},
    {"noclip", "sr", FP8Q_GAUDI_NO_CLIP, FP8Q_GAUDI_SR, 1},
    {"noclip", "srne", FP8Q_GAUDI_NO_CLIP, FP8Q_GAUDI_SRNE, 1},
    {"saturate", "rne", FP8Q_GAUDI_SATURATE, FP8Q_GAUDI_RNE, 0},
    {"clipfinite", "rne", FP8Q_GAUDI_CLIP_FINITE, FP8Q_GAUDI_RNE, 0},
};
#define N_GAUDI_MODES (sizeof k_gaudi_modes / sizeof k_gaudi_modes[0])

static uint8_t encode_gaudi(const enc_row *r, src_type s, uint64_t bits, uint32_t random)
{
    (void)s;
    return fp8q_gaudi_from_f32(f32_from((uint32_t)bits), r->gaudi, (fp8q_gaudi_rounding)r->rnd, (fp8q_gaudi_clip)r->sat,
                               random);
}

static uint64_t decode_gaudi(const enc_row *r, src_type d, unsigned code)
{
    (void)d;
    return f32_bits(fp8q_gaudi_to_f32((uint8_t)code, r->gaudi));
}

static void describe_gaudi(const enc_row *r, FILE *f)
{
    static const char *const infnan[3] = {"legacy", "none", "fn"}; /* by fp8q_gaudi_infnan */
    const int e4m3 = r->gaudi->flavor == FP8Q_GAUDI_143;
    fprintf(f, "exponent_bits %d mantissa_bits %d bias %d specials %s max_finite ", e4m3 ? 4 : 5, e4m3 ? 3 : 2,
            r->gaudi->bias, infnan[r->gaudi->infnan]);
    put_hex(f, f32_bits(fp8q_gaudi_max(r->gaudi)), 8);
}

#define N_ROWS (N_ENCODE_ROWS + N_GAUDI_FORMATS * N_GAUDI_MODES)

/* All rows: k_encode_rows, then every Gaudi format with every Gaudi mode. */
static size_t build_rows(enc_row *rows)
{
    size_t n = 0, i, j;
    for (i = 0; i < N_ENCODE_ROWS; i++) rows[n++] = k_encode_rows[i];
    for (i = 0; i < N_GAUDI_FORMATS; i++)
        for (j = 0; j < N_GAUDI_MODES; j++) {
            enc_row *r = &rows[n++];
            const struct gaudi_mode *m = &k_gaudi_modes[j];
            memset(r, 0, sizeof *r);
            r->format = k_gaudi_formats[i].name, r->gaudi = &k_gaudi_formats[i].f;
            r->saturation = m->clip_name, r->rounding = m->rounding_name;
            r->fmt = -1, r->sat = (int)m->clip, r->rnd = (int)m->rounding, r->stochastic = m->stochastic;
            r->sources = SRC_BIT(SRC_F32), r->destinations = SRC_BIT(SRC_F32);
            r->encode = encode_gaudi, r->decode = decode_gaudi, r->describe = describe_gaudi;
        }
    return n;
}

/* Bit patterns of special f32 / f64 inputs: zeros, NaNs (quiet, signalling,
   payloads, both signs), Infs, the extremes and subnormal boundaries. */
static const uint32_t k_f32_specials[] = {
    0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC00000u, 0x7F800001u,
    0xFF800001u, 0x7FA00000u, 0xFFA00000u, 0x7FFFFFFFu, 0xFFFFFFFFu, 0x7FC00001u, 0x00000001u,
    0x80000001u, 0x007FFFFFu, 0x807FFFFFu, 0x00800000u, 0x80800000u, 0x7F7FFFFFu, 0xFF7FFFFFu,
};
static const uint64_t k_f64_specials[] = {
    0x0000000000000000ull, 0x8000000000000000ull, 0x7FF0000000000000ull, 0xFFF0000000000000ull, 0x7FF8000000000000ull,
    0xFFF8000000000000ull, 0x7FF0000000000001ull, 0xFFF0000000000001ull, 0x7FF4000000000000ull, 0xFFF4000000000000ull,
    0x7FFC000000000000ull, 0xFFFC000000000000ull, 0x7FFFFFFFFFFFFFFFull, 0xFFFFFFFFFFFFFFFFull, 0x7FF8000000000001ull,
    0x0000000000000001ull, 0x8000000000000001ull, 0x000FFFFFFFFFFFFFull, 0x0010000000000000ull, 0x7FEFFFFFFFFFFFFFull,
    0xFFEFFFFFFFFFFFFFull, 0x47EFFFFFE0000000ull, 0x47EFFFFFF0000000ull, 0x47F0000000000000ull, 0x36A0000000000000ull,
    0x3690000000000000ull, 0x7E37E43C8800759Cull, 0x0000000000001000ull,
};

/* v >= 0 (finite or +Inf) as a source bit pattern. */
static uint64_t src_bits(src_type s, double v)
{
    if (s == SRC_F64) return f64_bits(v);
    return v > 3.4028234663852886e38 ? 0x7F800000u : f32_bits((float)v); /* exact for the grid */
}

static uint64_t sign_bit(src_type s) { return s == SRC_F64 ? 0x8000000000000000ull : 0x80000000u; }

/* Adds v (>= 0) and its neighbours at +-1, +-2 source ulps, both signs. */
static void add_near(u64_list *l, src_type s, double v)
{
    const uint64_t b = src_bits(s, v), mask = s == SRC_F64 ? ~0ull : 0xFFFFFFFFull;
    int d;
    for (d = -2; d <= 2; d++) {
        const uint64_t u = (b + (uint64_t)(int64_t)d) & mask;
        list_push(l, u);
        list_push(l, u ^ sign_bit(s));
    }
}

/* The format's finite positive values, ascending, with 0 first and the
   value one ulp above the largest finite last (where rounding overflows). */
static void value_grid(const enc_row *r, u64_list *grid)
{
    unsigned code;
    double top, prev;
    for (code = 0; code < 256; code++) {
        const double v = (double)f32_from((uint32_t)r->decode(r, SRC_F32, code));
        if (v > 0 && v - v == 0) list_push(grid, f64_bits(v));
    }
    list_sort_unique(grid);
    top = f64_from(grid->v[grid->n - 1]);
    prev = grid->n > 1 ? f64_from(grid->v[grid->n - 2]) : top / 2;
    list_push(grid, f64_bits(top + (ilog2(top) == ilog2(prev) ? top - prev : top)));
    list_push(grid, 0); /* sorts first */
    list_sort_unique(grid);
}

/* A random input near the format's range: sign, exponent in [lo, hi],
   random significand, built from the bits (subnormals included). */
static uint64_t random_in_range(src_type s, uint64_t *rng, int lo, int hi)
{
    const uint64_t r = rng_next(rng);
    const int e = lo + (int)(rng_next(rng) % (uint64_t)(hi - lo + 1));
    const int mbits = s == SRC_F64 ? 52 : 23, bias = s == SRC_F64 ? 1023 : 127;
    const uint64_t m = r & (((uint64_t)1 << mbits) - 1), sign = (r >> 63) ? sign_bit(s) : 0;
    if (e >= 1 - bias) return sign | ((uint64_t)(e + bias) << mbits) | m;
    if (1 - bias - e > mbits) return sign;
    return sign | ((m | (uint64_t)1 << mbits) >> (1 - bias - e));
}

/* count pseudo-random inputs: half in the format's range, a quarter near a
   midpoint of the grid (+-16 ulps), a quarter any bit pattern. */
static void add_random(u64_list *l, src_type s, const u64_list *grid, unsigned long count, uint64_t seed)
{
    const double lo_v = f64_from(grid->v[1]), hi_v = f64_from(grid->v[grid->n - 1]);
    const int lo = ilog2(lo_v) - 3, hi_wanted = ilog2(hi_v) + 2, top = s == SRC_F64 ? 1023 : 127;
    const int hi = hi_wanted < top ? hi_wanted : top;
    const uint64_t mask = s == SRC_F64 ? ~0ull : 0xFFFFFFFFull;
    unsigned long i;
    uint64_t rng = seed;
    for (i = 0; i < count; i++) {
        switch (i % 4) {
        case 0:
        case 1: list_push(l, random_in_range(s, &rng, lo, hi)); break;
        case 2: {
            const size_t k = (size_t)(rng_next(&rng) % (grid->n - 1));
            const double mid = (f64_from(grid->v[k]) + f64_from(grid->v[k + 1])) / 2;
            const uint64_t r = rng_next(&rng), off = (uint64_t)((int64_t)(r % 33) - 16);
            list_push(l, ((src_bits(s, mid) + off) & mask) ^ ((r >> 63) ? sign_bit(s) : 0));
            break;
        }
        default: list_push(l, rng_next(&rng) & mask);
        }
    }
}

/* The inputs of one encode file, sorted by bit pattern, without duplicates. */
static void encode_inputs(const enc_row *r, src_type s, unsigned long count, uint64_t seed, u64_list *in)
{
    u64_list grid = {0};
    size_t i;
    int e, lo, hi;
    if (s == SRC_F16 || s == SRC_BF16) { /* exhaustive */
        for (i = 0; i < 65536; i++) list_push(in, i);
        return;
    }
    value_grid(r, &grid);
    if (grid.nomem) {
        in->nomem = 1;
        return;
    }
    if (s == SRC_F32)
        for (i = 0; i < sizeof k_f32_specials / sizeof k_f32_specials[0]; i++) list_push(in, k_f32_specials[i]);
    else
        for (i = 0; i < sizeof k_f64_specials / sizeof k_f64_specials[0]; i++) list_push(in, k_f64_specials[i]);
    lo = ilog2(f64_from(grid.v[1])) - 4, hi = ilog2(f64_from(grid.v[grid.n - 1])) + 4;
    for (e = lo > -149 ? lo : -149; e <= (hi < 127 ? hi : 127); e++) add_near(in, s, pow2(e)); /* f32 range */
    for (i = 0; i < grid.n; i++) {
        add_near(in, s, f64_from(grid.v[i]));
        if (i + 1 < grid.n) add_near(in, s, (f64_from(grid.v[i]) + f64_from(grid.v[i + 1])) / 2);
    }
    add_random(in, s, &grid, count, seed);
    in->nomem |= grid.nomem;
    list_free(&grid);
    list_sort_unique(in);
}

static void encode_header(FILE *f, const enc_row *r, src_type s, size_t cases)
{
    fprintf(f, "# operation: encode\n# source: %s (%s bit pattern, %d hex digits)\n# format: %s ", k_src[s].name,
            k_src[s].what, k_src[s].digits, r->format);
    r->describe(r, f);
    fprintf(f, "\n# saturation: %s\n# rounding: %s\n# columns: %s\n# cases: %lu\n", r->saturation, r->rounding,
            r->stochastic ? "input random output" : "input output", (unsigned long)cases);
}

/* The random bits of a stochastic row's cases for one input: 2^31 (rounds
   up from the midpoint on) and a pseudo-random value, ascending, distinct. */
static size_t case_randoms(uint32_t *out, uint64_t *rng)
{
    const uint32_t v = (uint32_t)(rng_next(rng) >> 32);
    size_t n = 0;
    if (v < 0x80000000u) out[n++] = v;
    out[n++] = 0x80000000u;
    if (v > 0x80000000u) out[n++] = v;
    return n;
}

static void encode_line(FILE *f, const enc_row *r, src_type s, uint64_t in, int with_random, uint32_t random)
{
    put_hex(f, in, k_src[s].digits);
    fputc(' ', f);
    if (with_random) {
        put_hex(f, random, 8);
        fputc(' ', f);
    }
    put_hex(f, r->encode(r, s, in, random), 2);
    fputc('\n', f);
}

static int write_encode(vec_totals *t, const enc_row *r, src_type s, unsigned long count)
{
    char name[160];
    vec_file vf;
    u64_list in = {0};
    uint32_t randoms[2];
    uint64_t rng;
    size_t i, j, n_random, cases = 0;
    int rc;
    snprintf(name, sizeof name, "encode-%s-%s-%s-%s.txt", k_src[s].name, r->format, r->saturation, r->rounding);
    encode_inputs(r, s, r->gaudi ? count / 8 : count, rng_seed(name), &in);
    if (in.nomem) {
        list_free(&in);
        vec_error("out of memory");
        return VEC_ERR;
    }
    if ((rc = vec_open(&vf, t, name)) != VEC_OK) {
        list_free(&in);
        return rc;
    }
    rng = rng_seed(name) ^ 0x5354; /* the random bits' own stream */
    for (i = 0; r->stochastic && i < in.n; i++) cases += case_randoms(randoms, &rng);
    encode_header(vf.f, r, s, r->stochastic ? cases : in.n);
    rng = rng_seed(name) ^ 0x5354;
    for (i = 0; i < in.n; i++) {
        if (!r->stochastic) {
            encode_line(vf.f, r, s, in.v[i], 0, 0);
            continue;
        }
        n_random = case_randoms(randoms, &rng);
        for (j = 0; j < n_random; j++) encode_line(vf.f, r, s, in.v[i], 1, randoms[j]);
    }
    cases = r->stochastic ? cases : in.n;
    list_free(&in);
    return vec_close(&vf, t, (unsigned long)cases);
}

/* ============================================================== decode */

static int write_decode(vec_totals *t, const enc_row *r, src_type d)
{
    char name[128];
    vec_file vf;
    unsigned code;
    int rc;
    snprintf(name, sizeof name, "decode-%s-%s.txt", k_src[d].name, r->format);
    if ((rc = vec_open(&vf, t, name)) != VEC_OK) return rc;
    fprintf(vf.f, "# operation: decode\n# destination: %s (%s bit pattern, %d hex digits)\n# format: %s ",
            k_src[d].name, k_src[d].what, k_src[d].digits, r->format);
    r->describe(r, vf.f);
    fputs("\n# saturation: none\n# rounding: exact\n# columns: input output\n# cases: 256\n", vf.f);
    for (code = 0; code < 256; code++) {
        put_hex(vf.f, code, 2);
        fputc(' ', vf.f);
        put_hex(vf.f, r->decode(r, d, code), k_src[d].digits);
        fputc('\n', vf.f);
    }
    return vec_close(&vf, t, 256);
}

/* ============================================================= recipes */

/* Values of the special-values matrix (4 x 8, row-major): signed zeros,
   the E4M3 overflow boundary, NaN, +-Inf, an all-zero row, values above
   fbgemm's 1200 bound, tiny values at vLLM's minimum scale, a subnormal. */
static const uint32_t k_recipe_specials[32] = {
    0x00000000u, 0x80000000u, 0x3F800000u, 0xBF800000u, 0x43E00000u, 0xC3E00000u, 0x43E80000u, 0x43FA0000u,
    0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x80000000u,
    0x7FC00000u, 0x3F800000u, 0x40000000u, 0x7F800000u, 0xC0400000u, 0x0DA24260u, 0xFF800000u, 0x40C00000u,
    0x44960000u, 0x44FA0000u, 0xC9742400u, 0x7F61B1E6u, 0x322BCC77u, 0xB22BCC77u, 0x00000400u, 0x40E00000u,
};

/* Matrix shapes per recipe, from its tiling: a single element, a ragged
   shape (edge tiles partial in both dimensions where the recipe tiles them)
   and the special-values matrix. tile 0 = whole extent. */
typedef enum shape_kind { SHAPE_SINGLE, SHAPE_RAGGED, SHAPE_SPECIALS, SHAPE_COUNT } shape_kind;

static void recipe_shape(const fp8q_recipe *r, shape_kind k, size_t *rows, size_t *cols)
{
    switch (k) {
    case SHAPE_SINGLE: *rows = 1, *cols = 1; return;
    case SHAPE_RAGGED:
        *rows = r->tile_rows > 1 ? (size_t)r->tile_rows + 2 : 3;
        *cols = r->tile_cols > 0 ? (size_t)r->tile_cols + 3 : 5;
        return;
    default: *rows = 4, *cols = 8; return;
    }
}

/* Element (i, j) of the ragged matrix: magnitudes 2^-14 .. 2^10 varying
   along both dimensions; odd rows are bfloat16 values (7-bit significands). */
static uint32_t ragged_value(size_t i, size_t j, uint64_t *rng)
{
    const uint64_t r = rng_next(rng);
    const int e = (int)((i * 3 + j % 5 + (r >> 40) % 3) % 25) - 14;
    uint32_t m = (uint32_t)r & 0x7FFFFFu;
    if (i & 1) m &= 0x7F0000u;
    return (uint32_t)((r >> 63) << 31) | (uint32_t)(e + 127) << 23 | m;
}

static void recipe_matrix(shape_kind k, size_t rows, size_t cols, float *x, uint64_t seed)
{
    size_t i, j;
    uint64_t rng = seed;
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++)
            x[i * cols + j] = f32_from(k == SHAPE_SINGLE     ? 0x40490FDBu /* pi */
                                       : k == SHAPE_SPECIALS ? k_recipe_specials[i * cols + j]
                                                             : ragged_value(i, j, &rng));
}

static const char *const k_rule_names[3] = {"amax", "mx", "pow2"};
static const char *const k_hp_names[2] = {"f32", "bf16"};
static const char *const k_op_names[3] = {"none", "mul", "div"};

static void recipe_header(FILE *f, const fp8q_recipe *r)
{
    const fp8q_format_info *fi = fp8q_format_get(r->format);
    fprintf(f, "# operation: recipe\n# recipe: %s\n# source: %s\n# format: %s\n# tile: %d %d\n# rule: %s\n# qmax: ",
            r->name, r->source, fi->name, r->tile_rows, r->tile_cols, k_rule_names[r->rule]);
    put_hex(f, f32_bits(r->qmax), 8);
    fputs("\n# amax_ub: ", f);
    put_hex(f, f32_bits(r->amax_ub), 8);
    fputs("\n# min_scale: ", f);
    put_hex(f, f32_bits(r->min_scale), 8);
    fprintf(f, "\n# precision: %s\n# scale_op: %s\n# clamp: %d\n# saturation: %s\n# rounding: rne\n", k_hp_names[r->hp],
            k_op_names[r->op], r->clamp, k_sat_names[r->sat]);
    fprintf(f, "# records: case ROWS COLS / x / scales / q / dq\n# cases: %d\n", (int)SHAPE_COUNT);
}

static int recipe_case(FILE *f, const fp8q_recipe *r, shape_kind k, uint64_t seed)
{
    size_t rows, cols, n, ns;
    float *x, *s, *dq;
    uint8_t *q;
    fp8q_result res = FP8Q_ERR_NOMEM;
    recipe_shape(r, k, &rows, &cols);
    n = rows * cols, ns = fp8q_scale_count(r, rows, cols);
    x = (float *)malloc(n * 4), s = (float *)malloc(ns * 4), dq = (float *)malloc(n * 4);
    q = (uint8_t *)malloc(n);
    if (x && s && dq && q) {
        recipe_matrix(k, rows, cols, x, seed);
        res = fp8q_compute_scales(s, x, rows, cols, r);
        if (res == FP8Q_OK) res = fp8q_quantize(q, x, rows, cols, s, r);
        if (res == FP8Q_OK) res = fp8q_dequantize(dq, q, rows, cols, s, r);
    }
    if (res == FP8Q_OK) {
        fprintf(f, "case %lu %lu\n", (unsigned long)rows, (unsigned long)cols);
        put_array(f, "x", x, n, 4);
        put_array(f, "scales", s, ns, 4);
        put_array(f, "q", q, n, 1);
        put_array(f, "dq", dq, n, 4);
    } else {
        vec_error("recipe %s: %s", r->name, fp8q_result_string(res));
    }
    free(x), free(s), free(dq), free(q);
    return res == FP8Q_OK ? VEC_OK : VEC_ERR;
}

static int write_recipe(vec_totals *t, const fp8q_recipe *r)
{
    char name[128];
    vec_file vf;
    int k, rc;
    snprintf(name, sizeof name, "recipe-%s.txt", r->name);
    if ((rc = vec_open(&vf, t, name)) != VEC_OK) return rc;
    recipe_header(vf.f, r);
    for (k = 0; k < SHAPE_COUNT && rc == VEC_OK; k++) rc = recipe_case(vf.f, r, (shape_kind)k, rng_seed(name) + k);
    if (rc != VEC_OK) {
        fclose(vf.f);
        return rc;
    }
    return vec_close(&vf, t, SHAPE_COUNT);
}

/* ================================================================ GEMM */

typedef enum gemm_data {
    DATA_RANDOM,    /* finite random operands, scales 2^-8..2^4, bias in +-2^4 */
    DATA_CANCEL,    /* 448*448 + 2^-18 - 448*448: float32 accumulation loses what EXACT keeps */
    DATA_NONFINITE, /* E5M2 +-Inf and NaN codes with zeros: Inf, -Inf, Inf*0 and Inf-Inf */
    DATA_EXTREME    /* scales 2^100 x 2^20 and 2^-110 x 2^-40: f32 overflow, f16 underflow, f32 subnormals */
} gemm_data;

#define A_F32 (-1) /* gemm_case.a_format of a W8A16 case: A is float32 */

typedef struct gemm_case {
    const char *what;
    int M, N, K;
    int a_format; /* fp8q_format or A_F32 */
    fp8q_format b_format;
    int a_tile_rows, a_tile_cols, b_tile_rows, b_tile_cols;
    int bias;
    gemm_data data;
} gemm_case;

static const gemm_case k_gemm_cases[] = {
    {"1x1x1, per-tensor scales", 1, 1, 1, FP8Q_E4M3, FP8Q_E4M3, 0, 0, 0, 0, 0, DATA_RANDOM},
    {"per-tensor scales, bias", 3, 4, 5, FP8Q_E4M3, FP8Q_E4M3, 0, 0, 0, 0, 1, DATA_RANDOM},
    {"per-token x per-channel, bias", 4, 5, 16, FP8Q_E4M3, FP8Q_E4M3, 1, 0, 1, 0, 1, DATA_RANDOM},
    {"1x4 groups x 4x4 blocks, ragged K and N", 3, 6, 10, FP8Q_E4M3, FP8Q_E4M3, 1, 4, 4, 4, 0, DATA_RANDOM},
    {"1x8 activation groups, per-tensor weight", 2, 3, 20, FP8Q_E4M3, FP8Q_E4M3, 1, 8, 0, 0, 1, DATA_RANDOM},
    {"per-tensor activation, 1x16 weight groups", 2, 3, 40, FP8Q_E4M3, FP8Q_E4M3, 0, 0, 1, 16, 0, DATA_RANDOM},
    {"1x32 blocks both (MX-like)", 2, 2, 64, FP8Q_E4M3, FP8Q_E4M3, 1, 32, 1, 32, 0, DATA_RANDOM},
    {"E4M3 x E5M2, bias", 3, 3, 12, FP8Q_E4M3, FP8Q_E5M2, 1, 0, 1, 0, 1, DATA_RANDOM},
    {"E5M2 x E5M2", 2, 3, 9, FP8Q_E5M2, FP8Q_E5M2, 0, 0, 1, 0, 0, DATA_RANDOM},
    {"E4M3FNUZ x E5M2FNUZ, bias", 2, 4, 7, FP8Q_E4M3FNUZ, FP8Q_E5M2FNUZ, 1, 0, 0, 0, 1, DATA_RANDOM},
    {"cancellation", 2, 2, 3, FP8Q_E4M3, FP8Q_E4M3, 0, 0, 0, 0, 0, DATA_CANCEL},
    {"cancellation, bias and per-row scales", 2, 2, 3, FP8Q_E4M3, FP8Q_E4M3, 1, 0, 1, 0, 1, DATA_CANCEL},
    {"non-finite operands (E5M2 Inf, NaN)", 4, 4, 2, FP8Q_E5M2, FP8Q_E5M2, 0, 0, 0, 0, 0, DATA_NONFINITE},
    {"extreme scales: overflow and subnormal outputs", 3, 4, 6, FP8Q_E4M3, FP8Q_E4M3, 1, 0, 1, 0, 0, DATA_EXTREME},
    {"W8A16: float32 activations, bias", 3, 4, 8, A_F32, FP8Q_E4M3, 1, 0, 1, 0, 1, DATA_RANDOM},
    {"1x32 groups x 32x32 blocks, bias", 5, 7, 96, FP8Q_E4M3, FP8Q_E4M3, 1, 32, 32, 32, 1, DATA_RANDOM},
};
#define N_GEMM_CASES (sizeof k_gemm_cases / sizeof k_gemm_cases[0])

static const struct {
    fp8q_dtype type;
    const char *name;
    int bytes;
} k_gemm_outputs[] = {{FP8Q_F32, "f32", 4}, {FP8Q_BF16, "bf16", 2}, {FP8Q_F16, "f16", 2}};

/* A random finite FP8 byte of fmt. */
static uint8_t random_finite_code(fp8q_format fmt, uint64_t *rng)
{
    for (;;) {
        const uint8_t c = (uint8_t)rng_next(rng);
        const float v = fp8q_to_f32(c, fmt);
        if (v - v == 0) return c;
    }
}

/* A float 2^e * (1 + m/8), e in [lo, hi], positive (scales) or signed. */
static float random_f32(uint64_t *rng, int lo, int hi, int sign)
{
    const uint64_t r = rng_next(rng);
    const int e = lo + (int)(r % (uint64_t)(hi - lo + 1));
    return f32_from((sign && (r >> 63) ? 0x80000000u : 0) | (uint32_t)(e + 127) << 23 |
                    (uint32_t)((r >> 20) & 7) << 20);
}

static size_t tiles(int tile, size_t extent) { return tile > 0 ? (extent + (size_t)tile - 1) / (size_t)tile : 1; }

/* The operands of one case (owned by the caller: free with gemm_data_free). */
typedef struct gemm_operands {
    uint8_t *a, *b;
    float *a_f32, *sa, *sb, *bias;
    size_t n_sa, n_sb;
} gemm_operands;

static void gemm_operands_free(gemm_operands *o)
{
    free(o->a), free(o->b), free(o->a_f32), free(o->sa), free(o->sb), free(o->bias);
}

static void fill_cancel(const gemm_case *c, gemm_operands *o)
{
    static const uint8_t a_row[3] = {0x7E, 0x01, 0x7E}, b_row[3] = {0x7E, 0x01, 0xFE}; /* 448*448 + 2^-18 - 448*448 */
    int i, k;
    for (i = 0; i < c->M; i++)
        for (k = 0; k < 3; k++) o->a[i * 3 + k] = i ? (uint8_t)(a_row[k] ^ (k == 1 ? 0x80 : 0)) : a_row[k];
    for (i = 0; i < c->N; i++)
        for (k = 0; k < 3; k++) o->b[i * 3 + k] = i ? (uint8_t)(b_row[k] ^ (k == 0 ? 0x09 : 0)) : b_row[k];
}

static void fill_nonfinite(const gemm_case *c, gemm_operands *o)
{
    /* rows: (+Inf, 1), (-Inf, 2), (NaN, 1), (0, 1); columns: (1, 1), (0, 0), (1, -Inf), (2, 0) */
    static const uint8_t a[8] = {0x7C, 0x3C, 0xFC, 0x40, 0x7E, 0x3C, 0x00, 0x3C};
    static const uint8_t b[8] = {0x3C, 0x3C, 0x00, 0x00, 0x3C, 0xFC, 0x40, 0x00};
    (void)c;
    memcpy(o->a, a, 8), memcpy(o->b, b, 8);
}

static int gemm_fill(const gemm_case *c, gemm_operands *o, uint64_t seed)
{
    const size_t M = (size_t)c->M, N = (size_t)c->N, K = (size_t)c->K;
    uint64_t rng = seed;
    size_t i;
    memset(o, 0, sizeof *o);
    o->n_sa = tiles(c->a_tile_rows, M) * tiles(c->a_tile_cols, K);
    o->n_sb = tiles(c->b_tile_rows, N) * tiles(c->b_tile_cols, K);
    o->b = (uint8_t *)malloc(N * K), o->sa = (float *)malloc(o->n_sa * 4), o->sb = (float *)malloc(o->n_sb * 4);
    o->bias = (float *)malloc(N * 4);
    if (c->a_format == A_F32)
        o->a_f32 = (float *)malloc(M * K * 4);
    else
        o->a = (uint8_t *)malloc(M * K);
    if (!o->b || !o->sa || !o->sb || !o->bias || (!o->a && !o->a_f32)) return VEC_ERR;
    for (i = 0; i < M * K; i++)
        if (o->a)
            o->a[i] = random_finite_code((fp8q_format)c->a_format, &rng);
        else
            o->a_f32[i] =
                f32_from(((uint32_t)rng_next(&rng) & 0x807FFFFFu) | (uint32_t)(120 + rng_next(&rng) % 12) << 23);
    for (i = 0; i < N * K; i++) o->b[i] = random_finite_code(c->b_format, &rng);
    for (i = 0; i < o->n_sa; i++) o->sa[i] = random_f32(&rng, -8, 4, 0);
    for (i = 0; i < o->n_sb; i++) o->sb[i] = random_f32(&rng, -8, 4, 0);
    for (i = 0; i < N; i++) o->bias[i] = random_f32(&rng, -6, 4, 1);
    if (c->data == DATA_CANCEL) fill_cancel(c, o);
    if (c->data == DATA_NONFINITE) fill_nonfinite(c, o);
    if (c->data == DATA_EXTREME) {
        for (i = 0; i < o->n_sa; i++) o->sa[i] = pow2f(i % 2 ? -110 : 100);
        for (i = 0; i < o->n_sb; i++) o->sb[i] = pow2f(i % 2 ? -40 : 20);
    }
    return VEC_OK;
}

static int gemm_case_write(FILE *f, const gemm_case *c, int index, fp8q_dtype out, int out_bytes, uint64_t seed)
{
    gemm_operands o;
    fp8q_gemm g;
    void *cbuf = malloc((size_t)c->M * (size_t)c->N * 4);
    fp8q_result res = FP8Q_ERR_NOMEM;
    if (gemm_fill(c, &o, seed) == VEC_OK && cbuf) {
        memset(&g, 0, sizeof g);
        g.M = (size_t)c->M, g.N = (size_t)c->N, g.K = (size_t)c->K;
        g.a = o.a, g.a_f32 = o.a_f32, g.a_format = o.a ? (fp8q_format)c->a_format : FP8Q_E4M3;
        g.a_scales = o.sa, g.a_tile_rows = c->a_tile_rows, g.a_tile_cols = c->a_tile_cols;
        g.b = o.b, g.b_format = c->b_format, g.b_scales = o.sb;
        g.b_tile_rows = c->b_tile_rows, g.b_tile_cols = c->b_tile_cols;
        g.bias = c->bias ? o.bias : NULL, g.c = cbuf, g.c_type = out;
        res = fp8q_gemm_run(&g, FP8Q_GEMM_EXACT);
    }
    if (res == FP8Q_OK) {
        fprintf(f, "# %s\ncase %d M %d N %d K %d a_format %s b_format %s a_tile %d %d b_tile %d %d\n", c->what, index,
                c->M, c->N, c->K, c->a_format == A_F32 ? "f32" : fp8q_format_get((fp8q_format)c->a_format)->name,
                fp8q_format_get(c->b_format)->name, c->a_tile_rows, c->a_tile_cols, c->b_tile_rows, c->b_tile_cols);
        if (o.a)
            put_array(f, "a", o.a, (size_t)c->M * (size_t)c->K, 1);
        else
            put_array(f, "a", o.a_f32, (size_t)c->M * (size_t)c->K, 4);
        put_array(f, "b", o.b, (size_t)c->N * (size_t)c->K, 1);
        put_array(f, "a_scales", o.sa, o.n_sa, 4);
        put_array(f, "b_scales", o.sb, o.n_sb, 4);
        put_array(f, "bias", o.bias, c->bias ? (size_t)c->N : 0, 4);
        put_array(f, "c", cbuf, (size_t)c->M * (size_t)c->N, out_bytes);
    } else {
        vec_error("GEMM case %d (%s): %s", index, c->what, fp8q_result_string(res));
    }
    gemm_operands_free(&o);
    free(cbuf);
    return res == FP8Q_OK ? VEC_OK : VEC_ERR;
}

static int write_gemm(vec_totals *t, int out)
{
    char name[64];
    vec_file vf;
    size_t i;
    int rc;
    snprintf(name, sizeof name, "gemm-exact-%s.txt", k_gemm_outputs[out].name);
    if ((rc = vec_open(&vf, t, name)) != VEC_OK) return rc;
    fprintf(vf.f,
            "# operation: gemm-exact\n# output: %s\n# saturation: none\n# rounding: rne\n"
            "# records: case ... / a / b / a_scales / b_scales / bias / c\n# cases: %d\n",
            k_gemm_outputs[out].name, (int)N_GEMM_CASES);
    for (i = 0; i < N_GEMM_CASES && rc == VEC_OK; i++) /* same operands in every output's file */
        rc = gemm_case_write(vf.f, &k_gemm_cases[i], (int)i, k_gemm_outputs[out].type, k_gemm_outputs[out].bytes,
                             rng_seed("gemm") + i);
    if (rc != VEC_OK) {
        fclose(vf.f);
        return rc;
    }
    return vec_close(&vf, t, N_GEMM_CASES);
}

/* ================================================================ main */

static int make_dir(const char *dir)
{
#if defined(_WIN32)
    int r = _mkdir(dir);
#else
    int r = mkdir(dir, 0777);
#endif
    if (r != 0 && errno != EEXIST) {
        vec_error("cannot create directory %s: %s", dir, strerror(errno));
        return VEC_ERR;
    }
    return VEC_OK;
}

static int parse_count(const char *s, unsigned long *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > VEC_MAX_COUNT) {
        vec_error("--count needs an integer from 0 to %ld, got '%s'", VEC_MAX_COUNT, s);
        return VEC_USAGE;
    }
    *out = (unsigned long)v;
    return VEC_OK;
}

static int parse_vectors_args(int argc, char **argv, const char **dir, unsigned long *count)
{
    int i;
    *dir = NULL, *count = VEC_DEFAULT_COUNT;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0) {
            if (i + 1 >= argc) {
                vec_error("--count needs a value");
                return VEC_USAGE;
            }
            if (parse_count(argv[++i], count) != VEC_OK) return VEC_USAGE;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            vec_error("unknown option %s (see fp8q vectors --help)", argv[i]);
            return VEC_USAGE;
        } else if (*dir) {
            vec_error("one output directory expected, got '%s' and '%s'", *dir, argv[i]);
            return VEC_USAGE;
        } else {
            *dir = argv[i];
        }
    }
    if (!*dir) {
        vec_error("missing OUT_DIR (usage: fp8q vectors OUT_DIR [--count N])");
        return VEC_USAGE;
    }
    return VEC_OK;
}

static int write_all(vec_totals *t, unsigned long count)
{
    enc_row rows[N_ROWS];
    const size_t n_rows = build_rows(rows);
    size_t r;
    int s, i, rc = VEC_OK;
    for (r = 0; r < n_rows && rc == VEC_OK; r++)
        for (s = 0; s < SRC_COUNT && rc == VEC_OK; s++)
            if (rows[r].sources & SRC_BIT(s)) rc = write_encode(t, &rows[r], (src_type)s, count);
    for (r = 0; r < n_rows && rc == VEC_OK; r++) { /* one decode set per format: its first row's */
        if (r > 0 && strcmp(rows[r].format, rows[r - 1].format) == 0) continue;
        for (s = 0; s < SRC_COUNT && rc == VEC_OK; s++)
            if (rows[r].destinations & SRC_BIT(s)) rc = write_decode(t, &rows[r], (src_type)s);
    }
    for (i = 0; i < fp8q_recipe_count() && rc == VEC_OK; i++) rc = write_recipe(t, fp8q_recipe_at(i));
    for (i = 0; i < (int)(sizeof k_gemm_outputs / sizeof k_gemm_outputs[0]) && rc == VEC_OK; i++) rc = write_gemm(t, i);
    return rc;
}

int fp8q_cli_vectors(int argc, char **argv)
{
    vec_totals t;
    unsigned long count;
    int rc, i;
    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(k_usage, stdout);
            return VEC_OK;
        }
    memset(&t, 0, sizeof t);
    if ((rc = parse_vectors_args(argc, argv, &t.dir, &count)) != VEC_OK) return rc;
    if ((rc = make_dir(t.dir)) != VEC_OK) return rc;
    if ((rc = write_all(&t, count)) != VEC_OK) return rc;
    fprintf(stderr, "wrote %lu files, %lu cases, %.1f MiB to %s\n", t.files, t.cases, (double)t.bytes / 1048576.0,
            t.dir);
    return VEC_OK;
}
