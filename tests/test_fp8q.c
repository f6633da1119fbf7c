/* fp8q test suite: `make test`.
   Every expected value here comes from an independent reference written in
   this file (a decoder from the format definition, an encoder that searches
   for the nearest representable value) or from published golden vectors
   (NUMERICS.md section 2.3, CUDA 13.0 host code), never from fp8q itself.
   Ends with the line "N passed, N failed"; exit status 1 on any failure. */
#define FP8Q_IMPLEMENTATION
#include "../fp8q.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- harness */

#include "harness.h"

static uint32_t f32_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float f32_from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static double f64_from_bits(uint64_t u)
{
    double x;
    memcpy(&x, &u, 8);
    return x;
}

static float f_inf(void) { return f32_from_bits(0x7F800000u); }
static float f_nan(void) { return f32_from_bits(0x7FC00000u); }

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd32(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}

static const fp8q_format k_formats[] = {FP8Q_E4M3, FP8Q_E5M2, FP8Q_E4M3FNUZ, FP8Q_E5M2FNUZ};
#define N_FORMATS (int)(sizeof k_formats / sizeof k_formats[0])
static const fp8q_saturation k_sats[] = {FP8Q_SATFINITE, FP8Q_NOSAT};

/* ------------------------------------------- independent format model */

/* What each format is, written from the OCP / AMD definitions, not from
   fp8q's table. */
typedef struct {
    int e_bits, m_bits, bias;
    int fnuz;    /* 0x80 is NaN, no -0, no Inf, all exponents finite */
    int has_inf; /* IEEE-style: top exponent reserved */
} model;

static model model_of(fp8q_format fmt)
{
    model m;
    memset(&m, 0, sizeof m);
    switch (fmt) {
    case FP8Q_E4M3: m.e_bits = 4, m.m_bits = 3, m.bias = 7; break;
    case FP8Q_E5M2: m.e_bits = 5, m.m_bits = 2, m.bias = 15, m.has_inf = 1; break;
    case FP8Q_E4M3FNUZ: m.e_bits = 4, m.m_bits = 3, m.bias = 8, m.fnuz = 1; break;
    default: m.e_bits = 5, m.m_bits = 2, m.bias = 16, m.fnuz = 1; break;
    }
    return m;
}

static int model_is_nan(model m, unsigned v)
{
    unsigned mag = v & 0x7F, e = mag >> m.m_bits, man = mag & ((1u << m.m_bits) - 1);
    if (m.fnuz) return v == 0x80;
    if (m.has_inf) return e == (1u << m.e_bits) - 1 && man != 0;
    return mag == 0x7F; /* E4M3FN */
}

static int model_is_inf(model m, unsigned v)
{
    unsigned mag = v & 0x7F;
    return m.has_inf && mag == (((1u << m.e_bits) - 1) << m.m_bits);
}

/* The value of code v as a double (NaN for NaN codes). */
static double model_decode(model m, unsigned v)
{
    unsigned mag = v & 0x7F, e = mag >> m.m_bits, man = mag & ((1u << m.m_bits) - 1);
    double sign = (v & 0x80) ? -1.0 : 1.0, frac = (double)man / (double)(1u << m.m_bits);
    if (model_is_nan(m, v)) return NAN;
    if (model_is_inf(m, v)) return sign * INFINITY;
    if (e == 0) return sign * ldexp(frac, 1 - m.bias);
    return sign * ldexp(1.0 + frac, (int)e - m.bias);
}

/* Sorted positive finite values and their codes (index = code magnitude
   order, which is value order for sign-magnitude formats). */
typedef struct {
    double value[128];
    unsigned code[128];
    int count;
} value_list;

static value_list model_values(model m)
{
    value_list l;
    unsigned c;
    l.count = 0;
    for (c = 0; c < 0x80; c++) {
        if (model_is_nan(m, c) || model_is_inf(m, c)) continue;
        l.value[l.count] = model_decode(m, c);
        l.code[l.count] = c;
        l.count++;
    }
    return l;
}

/* Reference encoder: the nearest representable value, ties to the even
   code; a magnitude beyond max + half an ulp (or at it, when max's code is
   odd) overflows. NaN: nan_byte (caller decides per input type). */
static unsigned model_encode(model m, const value_list *l, double x, fp8q_saturation sat, unsigned nan_byte)
{
    unsigned sign = signbit(x) ? 0x80u : 0u, mag;
    double a = fabs(x), max = l->value[l->count - 1], ulp = max - l->value[l->count - 2];
    int lo = 0, hi = l->count - 1, overflow;
    if (isnan(x)) return nan_byte;
    overflow = isinf(x) || a > max + ulp / 2 || (a == max + ulp / 2 && (l->code[l->count - 1] & 1));
    if (overflow) {
        if (sat == FP8Q_SATFINITE) return l->code[l->count - 1] | sign;
        if (m.has_inf) return (((1u << m.e_bits) - 1) << m.m_bits) | sign;
        return m.fnuz ? 0x80u : (0x7Fu | sign);
    }
    if (a >= max) {
        mag = l->code[l->count - 1];
    } else { /* largest index with value <= a */
        while (hi - lo > 1) {
            int mid = (lo + hi) / 2;
            if (l->value[mid] <= a)
                lo = mid;
            else
                hi = mid;
        }
        if (a - l->value[lo] < l->value[hi] - a)
            mag = l->code[lo];
        else if (a - l->value[lo] > l->value[hi] - a)
            mag = l->code[hi];
        else
            mag = (l->code[lo] & 1) ? l->code[hi] : l->code[lo];
    }
    if (mag == 0 && m.fnuz) return 0;
    return mag | sign;
}

/* The NaN byte fp8q documents for float/half/bf16 NaN inputs. */
static unsigned float_nan_byte(fp8q_format fmt) { return model_of(fmt).fnuz ? 0x80u : 0x7Fu; }

/* ------------------------------------------------------- sample inputs */

/* A structured float32 sample: every exponent with many mantissas, both
   signs; every rounding boundary of every format (exact midpoints and
   neighbours); zeros, Inf, NaNs with payloads. */
typedef struct {
    float *x;
    size_t n, cap;
} sample;

static void sample_add(sample *s, float x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 4096;
        s->x = (float *)realloc(s->x, s->cap * sizeof *s->x);
        if (!s->x) abort();
    }
    s->x[s->n++] = x;
}

static void sample_add_pm(sample *s, uint32_t bits)
{
    sample_add(s, f32_from_bits(bits & 0x7FFFFFFFu));
    sample_add(s, f32_from_bits(bits | 0x80000000u));
}

static void sample_add_near(sample *s, double v)
{
    uint32_t b = f32_bits((float)v);
    int d;
    for (d = -3; d <= 3; d++) sample_add_pm(s, b + (uint32_t)d);
}

static sample build_sample(void)
{
    sample s = {NULL, 0, 0};
    uint32_t e, k;
    int f, i;
    for (e = 0; e < 256; e++) {
        for (k = 0; k < 23; k++) {
            sample_add_pm(&s, e << 23 | 1u << k);
            sample_add_pm(&s, e << 23 | ((1u << k) - 1));
            sample_add_pm(&s, e << 23 | (0x7FFFFFu ^ ((1u << k) - 1)));
        }
        sample_add_pm(&s, e << 23 | 0x7FFFFFu);
        for (i = 0; i < 48; i++) sample_add_pm(&s, e << 23 | (rnd32() & 0x7FFFFFu));
    }
    for (f = 0; f < N_FORMATS; f++) { /* every boundary between neighbours */
        value_list l = model_values(model_of(k_formats[f]));
        double ulp = l.value[l.count - 1] - l.value[l.count - 2];
        for (i = 0; i + 1 < l.count; i++) sample_add_near(&s, (l.value[i] + l.value[i + 1]) / 2);
        for (i = 0; i < l.count; i++) sample_add_near(&s, l.value[i]);
        sample_add_near(&s, l.value[l.count - 1] + ulp / 2);
        sample_add_near(&s, l.value[l.count - 1] + ulp);
        sample_add_near(&s, l.value[1] / 4);
    }
    sample_add_pm(&s, 0x7F800000u);                                 /* Inf */
    sample_add_pm(&s, 0x7FC00000u), sample_add_pm(&s, 0x7F800001u); /* NaNs */
    sample_add_pm(&s, 0x7FFFFFFFu), sample_add_pm(&s, 0x7FA00000u);
    sample_add_pm(&s, 0x7F7FFFFFu), sample_add_pm(&s, 0x00000001u); /* FLT_MAX, min subnormal */
    for (i = 0; i < 20000; i++) sample_add(&s, f32_from_bits(rnd32() | (rnd32() & 1u) << 31));
    return s;
}

static sample g_sample;

/* --------------------------------------------------------------- tests */

static void test_format_table(void)
{
    int f;
    for (f = 0; f < N_FORMATS; f++) {
        const fp8q_format_info *info = fp8q_format_get(k_formats[f]);
        model m = model_of(k_formats[f]);
        value_list l = model_values(m);
        CHECK(info != NULL && info->format == k_formats[f], "row %d", f);
        if (!info) continue;
        CHECK(info->exponent_bits == m.e_bits && info->mantissa_bits == m.m_bits && info->bias == m.bias, "%s widths",
              info->name);
        CHECK(info->max_code == l.code[l.count - 1], "%s max_code %02X", info->name, info->max_code);
        CHECK(info->max_finite == (float)l.value[l.count - 1], "%s max_finite", info->name);
        CHECK(info->min_subnormal == (float)l.value[1], "%s min_subnormal", info->name);
        CHECK(info->min_normal == (float)model_decode(m, 1u << m.m_bits), "%s min_normal", info->name);
        CHECK(info->nan_code == float_nan_byte(k_formats[f]), "%s nan_code", info->name);
        CHECK(m.has_inf ? model_is_inf(m, info->inf_code) : info->inf_code == 0, "%s inf_code", info->name);
    }
    CHECK(fp8q_format_get(FP8Q_FORMAT_COUNT) == NULL, "out of range format");
    CHECK(fp8q_format_get((fp8q_format)-1) == NULL, "negative format");
    CHECK(strcmp(fp8q_format_get(FP8Q_E4M3)->safetensors_dtype, "F8_E4M3") == 0, "F8_E4M3 means E4M3FN");
    CHECK(strcmp(fp8q_version(), FP8Q_VERSION_STRING) == 0, "version");
}

/* All 256 codes of every format, to float, double, half and bfloat16. */
static void test_decode_all_codes(void)
{
    int f;
    unsigned v;
    for (f = 0; f < N_FORMATS; f++) {
        model m = model_of(k_formats[f]);
        for (v = 0; v < 256; v++) {
            double want = model_decode(m, v);
            float got = fp8q_to_f32((uint8_t)v, k_formats[f]);
            uint16_t h = fp8q_to_f16((uint8_t)v, k_formats[f]), b = fp8q_to_bf16((uint8_t)v, k_formats[f]);
            if (isnan(want)) {
                CHECK(f32_bits(got) == 0x7FFFFFFFu, "fmt %d code %02X: NaN bits %08X", f, v, f32_bits(got));
                CHECK(h == 0x7FFF && b == 0x7FFF, "fmt %d code %02X: NaN half %04X bf16 %04X", f, v, h, b);
                CHECK(isnan(fp8q_to_f64((uint8_t)v, k_formats[f])), "f64 NaN");
                continue;
            }
            CHECK((double)got == want && !signbit(got) == !signbit(want), "fmt %d code %02X: %.9g want %.9g", f, v, got,
                  want);
            CHECK(fp8q_to_f64((uint8_t)v, k_formats[f]) == want, "f64 of %02X", v);
            CHECK(f32_bits(fp8q_f16_to_f32(h)) == f32_bits(got), "fmt %d code %02X: half %04X", f, v, h);
            CHECK(((uint32_t)b << 16) == f32_bits(got), "fmt %d code %02X: bf16 %04X", f, v, b);
        }
    }
}

/* Spot values of NUMERICS.md 1.3/1.4 and the CUDA half decodes of 2.3. */
static void test_decode_spot_values(void)
{
    CHECK(fp8q_to_f32(0x01, FP8Q_E4M3) == 0.001953125f, "E4M3 01");
    CHECK(fp8q_to_f32(0x08, FP8Q_E4M3) == 0.015625f, "E4M3 08");
    CHECK(fp8q_to_f32(0x38, FP8Q_E4M3) == 1.0f, "E4M3 38");
    CHECK(fp8q_to_f32(0x7E, FP8Q_E4M3) == 448.0f, "E4M3 7E");
    CHECK(fp8q_to_f32(0x6D, FP8Q_E4M3) == 104.0f, "E4M3 6D");
    CHECK(fp8q_to_f32(0x03, FP8Q_E5M2) == 1.5f * ldexpf(1, -15), "E5M2 03");
    CHECK(fp8q_to_f32(0x7B, FP8Q_E5M2) == 57344.0f, "E5M2 7B");
    CHECK(isinf(fp8q_to_f32(0xFC, FP8Q_E5M2)) && fp8q_to_f32(0xFC, FP8Q_E5M2) < 0, "E5M2 FC");
    CHECK(fp8q_to_f32(0x7F, FP8Q_E4M3FNUZ) == 240.0f, "FNUZ 7F = 240");
    CHECK(fp8q_to_f32(0x40, FP8Q_E4M3FNUZ) == 1.0f, "FNUZ 40 = 1 (half of FN's 2)");
    CHECK(fp8q_to_f32(0x7F, FP8Q_E5M2FNUZ) == 57344.0f, "E5M2FNUZ 7F");
    CHECK(fp8q_to_f16(0x7F, FP8Q_E4M3) == 0x7FFF && fp8q_to_f16(0xFF, FP8Q_E4M3) == 0x7FFF, "half NaN");
    CHECK(fp8q_to_f16(0x01, FP8Q_E4M3) == 0x1800 && fp8q_to_f16(0x7E, FP8Q_E4M3) == 0x5F00, "half 01/7E");
    CHECK(fp8q_to_f16(0x7D, FP8Q_E5M2) == 0x7FFF && fp8q_to_f16(0xFD, FP8Q_E5M2) == 0x7FFF, "E5M2 NaN");
    CHECK(fp8q_to_f16(0x7C, FP8Q_E5M2) == 0x7C00, "E5M2 Inf");
}

/* NUMERICS.md 2.3: CUDA 13.0 host outputs, columns E4M3 NOSAT, E4M3
   SATFINITE, E5M2 NOSAT, E5M2 SATFINITE. */
static void test_cuda_golden_vectors(void)
{
    const struct {
        float x;
        unsigned char b[4];
    } v[] = {
        {0.0f, {0x00, 0x00, 0x00, 0x00}},     {-0.0f, {0x80, 0x80, 0x80, 0x80}},
        {1.0f, {0x38, 0x38, 0x3C, 0x3C}},     {-2.0f, {0xC0, 0xC0, 0xC0, 0xC0}},
        {240.0f, {0x77, 0x77, 0x5C, 0x5C}},   {248.0f, {0x78, 0x78, 0x5C, 0x5C}},
        {448.0f, {0x7E, 0x7E, 0x5F, 0x5F}},   {449.0f, {0x7E, 0x7E, 0x5F, 0x5F}},
        {463.9f, {0x7E, 0x7E, 0x5F, 0x5F}},   {464.0f, {0x7E, 0x7E, 0x5F, 0x5F}},
        {464.1f, {0x7F, 0x7E, 0x5F, 0x5F}},   {480.0f, {0x7F, 0x7E, 0x60, 0x60}},
        {1e6f, {0x7F, 0x7E, 0x7C, 0x7B}},     {65504.0f, {0x7F, 0x7E, 0x7C, 0x7B}},
        {65536.0f, {0x7F, 0x7E, 0x7C, 0x7B}}, {57344.0f, {0x7F, 0x7E, 0x7B, 0x7B}},
        {61439.0f, {0x7F, 0x7E, 0x7B, 0x7B}}, {61440.0f, {0x7F, 0x7E, 0x7C, 0x7B}},
        {f_inf(), {0x7F, 0x7E, 0x7C, 0x7B}},  {-f_inf(), {0xFF, 0xFE, 0xFC, 0xFB}},
        {f_nan(), {0x7F, 0x7F, 0x7F, 0x7F}},  {-f_nan(), {0x7F, 0x7F, 0x7F, 0x7F}},
        {0x1p-9f, {0x01, 0x01, 0x18, 0x18}},  {0x1p-10f, {0x00, 0x00, 0x14, 0x14}},
        {9.8e-4f, {0x01, 0x01, 0x14, 0x14}},  {1.0625f, {0x38, 0x38, 0x3C, 0x3C}},
        {1.1875f, {0x3A, 0x3A, 0x3D, 0x3D}},  {1.5f * 0x1p-9f, {0x02, 0x02, 0x1A, 0x1A}},
        {4.25f, {0x48, 0x48, 0x44, 0x44}},    {-1e-5f, {0x80, 0x80, 0x81, 0x81}},
    };
    size_t i;
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        unsigned got[4];
        got[0] = fp8q_from_f32(v[i].x, FP8Q_E4M3, FP8Q_NOSAT);
        got[1] = fp8q_from_f32(v[i].x, FP8Q_E4M3, FP8Q_SATFINITE);
        got[2] = fp8q_from_f32(v[i].x, FP8Q_E5M2, FP8Q_NOSAT);
        got[3] = fp8q_from_f32(v[i].x, FP8Q_E5M2, FP8Q_SATFINITE);
        CHECK(got[0] == v[i].b[0] && got[1] == v[i].b[1] && got[2] == v[i].b[2] && got[3] == v[i].b[3],
              "%g: %02X %02X %02X %02X want %02X %02X %02X %02X", v[i].x, got[0], got[1], got[2], got[3], v[i].b[0],
              v[i].b[1], v[i].b[2], v[i].b[3]);
    }
    /* double NaN keeps its sign (and E5M2 payload bit 50) */
    CHECK(fp8q_from_f64(f64_from_bits(0xFFF8000000000000ull), FP8Q_E4M3, FP8Q_NOSAT) == 0xFF, "f64 -NaN E4M3");
    CHECK(fp8q_from_f64(f64_from_bits(0xFFF8000000000000ull), FP8Q_E5M2, FP8Q_SATFINITE) == 0xFE, "f64 -NaN E5M2");
    CHECK(fp8q_from_f64(f64_from_bits(0x7FF8000000000000ull), FP8Q_E4M3, FP8Q_SATFINITE) == 0x7F, "f64 +NaN E4M3");
    CHECK(fp8q_from_f64(f64_from_bits(0x7FF8000000000000ull), FP8Q_E5M2, FP8Q_NOSAT) == 0x7E, "f64 +NaN E5M2");
    CHECK(fp8q_from_f64(f64_from_bits(0x7FFC000000000000ull), FP8Q_E5M2, FP8Q_NOSAT) == 0x7F, "f64 NaN bit 50");
}

/* The structured float sample against the reference encoder, every format
   and saturation mode. */
static void test_encode_f32_sample(void)
{
    int f, s;
    size_t i;
    for (f = 0; f < N_FORMATS; f++) {
        model m = model_of(k_formats[f]);
        value_list l = model_values(m);
        for (s = 0; s < 2; s++)
            for (i = 0; i < g_sample.n; i++) {
                float x = g_sample.x[i];
                unsigned want = model_encode(m, &l, x, k_sats[s], float_nan_byte(k_formats[f]));
                unsigned got = fp8q_from_f32(x, k_formats[f], k_sats[s]);
                CHECK(got == want, "fmt %d sat %d x=%a (%08X): %02X want %02X", f, s, x, f32_bits(x), got, want);
            }
    }
}

/* Double inputs: the boundaries at double precision (which float cannot
   express), huge and tiny magnitudes, NaN sign and payload rules. */
static void test_encode_f64_edges(void)
{
    int f, s, i, d;
    for (f = 0; f < N_FORMATS; f++) {
        model m = model_of(k_formats[f]);
        value_list l = model_values(m);
        double ulp = l.value[l.count - 1] - l.value[l.count - 2];
        double pts[512];
        int n = 0;
        for (i = 0; i + 1 < l.count; i++) pts[n++] = (l.value[i] + l.value[i + 1]) / 2;
        pts[n++] = l.value[l.count - 1] + ulp / 2;
        pts[n++] = l.value[1] / 2;
        pts[n++] = 1e300, pts[n++] = 1e-300, pts[n++] = 4.9e-324, pts[n++] = 1.7976931348623157e308;
        for (s = 0; s < 2; s++)
            for (i = 0; i < n; i++)
                for (d = -2; d <= 2; d++) {
                    double x = d < 0 ? nextafter(pts[i], 0) : d > 0 ? nextafter(pts[i], INFINITY) : pts[i];
                    double xs[2];
                    int k;
                    xs[0] = x, xs[1] = -x;
                    for (k = 0; k < 2; k++) {
                        unsigned want = model_encode(m, &l, xs[k], k_sats[s], 0);
                        unsigned got = fp8q_from_f64(xs[k], k_formats[f], k_sats[s]);
                        CHECK(got == want, "fmt %d sat %d x=%a: %02X want %02X", f, s, xs[k], got, want);
                    }
                }
        for (s = 0; s < 2; s++) { /* NaN: FNUZ 80; FN 7F|sign; E5M2 7E|bit50|sign */
            unsigned pos = fp8q_from_f64(f64_from_bits(0x7FF8000000000001ull), k_formats[f], k_sats[s]);
            unsigned neg = fp8q_from_f64(f64_from_bits(0xFFF4000000000000ull), k_formats[f], k_sats[s]);
            unsigned want_pos = m.fnuz ? 0x80 : m.has_inf ? 0x7E : 0x7F;
            unsigned want_neg = m.fnuz ? 0x80 : m.has_inf ? 0xFF : 0xFF;
            CHECK(pos == want_pos && neg == want_neg, "fmt %d NaN %02X %02X", f, pos, neg);
        }
    }
}

/* All 65536 half and bfloat16 inputs against the reference encoder. */
static void test_encode_all_16bit(void)
{
    int f, s;
    uint32_t h;
    for (f = 0; f < N_FORMATS; f++) {
        model m = model_of(k_formats[f]);
        value_list l = model_values(m);
        for (s = 0; s < 2; s++)
            for (h = 0; h < 65536; h++) {
                double xh = fp8q_f16_to_f32((uint16_t)h), xb = f32_from_bits(h << 16);
                unsigned nb = float_nan_byte(k_formats[f]);
                unsigned gh = fp8q_from_f16((uint16_t)h, k_formats[f], k_sats[s]);
                unsigned gb = fp8q_from_bf16((uint16_t)h, k_formats[f], k_sats[s]);
                CHECK(gh == model_encode(m, &l, xh, k_sats[s], nb), "fmt %d sat %d half %04X: %02X", f, s, h, gh);
                CHECK(gb == model_encode(m, &l, xb, k_sats[s], nb), "fmt %d sat %d bf16 %04X: %02X", f, s, h, gb);
            }
    }
}

/* Half/bfloat16 helpers: every half widened exactly; narrowing rounds to
   nearest even at every midpoint; overflow and NaN rules. */
static void test_16bit_helpers(void)
{
    uint32_t h;
    for (h = 0; h < 65536; h++) {
        unsigned e = (h >> 10) & 31, man = h & 1023;
        double want = e == 31 ? (man ? NAN : INFINITY) : e == 0 ? ldexp(man, -24) : ldexp(1024 + man, (int)e - 25);
        float x = fp8q_f16_to_f32((uint16_t)h);
        if (h & 0x8000) want = -want;
        if (isnan(want)) {
            CHECK(isnan(x) && ((f32_bits(x) >> 13) & 0x3FF) == man && (f32_bits(x) >> 31) == (h >> 15), "nan %04X", h);
            CHECK(fp8q_f32_to_f16(x) == (h | 0x200), "half NaN round trip %04X", h);
            continue;
        }
        CHECK((double)x == want && !signbit(x) == !signbit(want), "half %04X -> %g want %g", h, x, want);
        CHECK(fp8q_f32_to_f16(x) == h, "half round trip %04X", h);
        if (e < 30 || (e == 30 && man < 1023)) { /* midpoint with the next half up */
            float next = fp8q_f16_to_f32((uint16_t)(h + 1)), mid = (x + next) / 2;
            uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
            CHECK(fp8q_f32_to_f16(mid) == even, "half mid %04X", h);
            CHECK(fp8q_f32_to_f16(nextafterf(mid, next)) == h + 1, "half above mid %04X", h);
            CHECK(fp8q_f32_to_f16(nextafterf(mid, x)) == h, "half below mid %04X", h);
        }
        CHECK(fp8q_f32_to_bf16(f32_from_bits(h << 16)) == h, "bf16 round trip");
    }
    CHECK(fp8q_f32_to_f16(65519.99f) == 0x7BFF && fp8q_f32_to_f16(65520.0f) == 0x7C00, "half overflow");
    CHECK(fp8q_f32_to_f16(0x1p-25f) == 0 && fp8q_f32_to_f16(nextafterf(0x1p-25f, 1)) == 1, "half underflow");
    CHECK(fp8q_f32_to_f16(f32_from_bits(0x7FFFFFFFu)) == 0x7FFF, "canonical NaN to half");
    CHECK(fp8q_f32_to_bf16(f32_from_bits(0x3F808000u)) == 0x3F80, "bf16 tie to even");
    CHECK(fp8q_f32_to_bf16(f32_from_bits(0x3F818000u)) == 0x3F82, "bf16 tie to even up");
    CHECK(fp8q_f32_to_bf16(f32_from_bits(0x7F7FFFFFu)) == 0x7F80, "bf16 overflow");
    CHECK(fp8q_f32_to_bf16(f32_from_bits(0xFF800001u)) == 0xFFC0, "bf16 sNaN quieted");
}

/* ------------------------------------------------- bulk vs scalar paths */

static float scaled(float x, fp8q_scale_op op, float s)
{
    volatile float r = op == FP8Q_SCALE_MUL ? x * s : op == FP8Q_SCALE_DIV ? x / s : x;
    return r;
}

/* Filled in main (tcc takes no INFINITY in a static initializer). */
static struct {
    fp8q_scale_op op;
    float scale;
} k_scales[] = {{FP8Q_SCALE_NONE, 0.0f}, {FP8Q_SCALE_MUL, 0.013f},         {FP8Q_SCALE_DIV, 0.013f},
                {FP8Q_SCALE_MUL, 3e4f},  {FP8Q_SCALE_DIV, 1e-30f},         {FP8Q_SCALE_MUL, 0.0f},
                {FP8Q_SCALE_DIV, 0.0f},  {FP8Q_SCALE_MUL, 0.0f /* Inf */}, {FP8Q_SCALE_DIV, 0.0f /* NaN */}};
#define N_SCALES (int)(sizeof k_scales / sizeof k_scales[0])

/* The bulk encoder (SIMD where built) equals the scalar definition on the
   whole sample, at every length 0..70 and offset 0..3 (tails and
   misalignment), every format, saturation and scale. */
static void test_bulk_encode_f32(void)
{
    size_t n = g_sample.n, i;
    uint8_t *got = (uint8_t *)malloc(n + 4);
    int f, s, c, off;
    for (f = 0; f < N_FORMATS; f++)
        for (s = 0; s < 2; s++)
            for (c = 0; c < N_SCALES; c++) {
                fp8q_result r =
                    fp8q_encode_f32(got, g_sample.x, n, k_formats[f], k_sats[s], k_scales[c].op, k_scales[c].scale);
                CHECK(r == FP8Q_OK, "result %d", r);
                for (i = 0; i < n; i++) {
                    unsigned want = fp8q_from_f32(scaled(g_sample.x[i], k_scales[c].op, k_scales[c].scale),
                                                  k_formats[f], k_sats[s]);
                    CHECK(got[i] == want, "fmt %d sat %d scale %d i=%zu x=%a: %02X want %02X", f, s, c, i,
                          g_sample.x[i], got[i], want);
                }
            }
    for (off = 0; off < 4; off++)
        for (n = 0; n <= 70; n++) {
            memset(got, 0xAA, n + 4);
            fp8q_encode_f32(got + off, g_sample.x + 1000 + off, n, FP8Q_E4M3, FP8Q_SATFINITE, FP8Q_SCALE_NONE, 0);
            for (i = 0; i < n; i++)
                CHECK(got[off + i] == fp8q_from_f32(g_sample.x[1000 + off + i], FP8Q_E4M3, FP8Q_SATFINITE),
                      "len %zu off %d i %zu", n, off, i);
            CHECK(got[off + n] == 0xAA && (off == 0 || got[off - 1] == 0xAA), "wrote outside len %zu", n);
        }
    free(got);
}

static void test_bulk_encode_16bit(void)
{
    uint16_t *src = (uint16_t *)malloc(65536 * sizeof *src);
    uint8_t *gh = (uint8_t *)malloc(65536), *gb = (uint8_t *)malloc(65536);
    uint32_t h;
    int f, s, c;
    for (h = 0; h < 65536; h++) src[h] = (uint16_t)(h * 40503u); /* a permutation: mix neighbours */
    for (f = 0; f < N_FORMATS; f++)
        for (s = 0; s < 2; s++)
            for (c = 0; c < N_SCALES; c += 2) {
                fp8q_scale_op op = k_scales[c].op;
                float sc = k_scales[c].scale;
                CHECK(fp8q_encode_f16(gh, src, 65536, k_formats[f], k_sats[s], op, sc) == FP8Q_OK, "f16 result");
                CHECK(fp8q_encode_bf16(gb, src, 65536, k_formats[f], k_sats[s], op, sc) == FP8Q_OK, "bf16 result");
                for (h = 0; h < 65536; h++) {
                    unsigned wh = fp8q_from_f32(scaled(fp8q_f16_to_f32(src[h]), op, sc), k_formats[f], k_sats[s]);
                    unsigned wb = fp8q_from_f32(scaled(fp8q_bf16_to_f32(src[h]), op, sc), k_formats[f], k_sats[s]);
                    CHECK(gh[h] == wh, "fmt %d half %04X: %02X want %02X", f, src[h], gh[h], wh);
                    CHECK(gb[h] == wb, "fmt %d bf16 %04X: %02X want %02X", f, src[h], gb[h], wb);
                }
            }
    free(src), free(gh), free(gb);
}

/* Bulk decoders equal the scalar definition for all codes, scales
   (including ones that overflow or underflow half), lengths and offsets. */
static void test_bulk_decode(void)
{
    enum { N_MAX = 256 * 5 + 13 };
    static const int lengths[2] = {N_MAX, 300}; /* table path (>= 1024) and arithmetic path */
    uint8_t src[N_MAX + 4];
    float got[N_MAX + 4];
    uint16_t gh[N_MAX + 4], gb[N_MAX + 4];
    int f, c, i, off, len, N;
    for (i = 0; i < N_MAX + 4; i++) src[i] = (uint8_t)(i * 37 + (i >> 8));
    for (len = 0; len < 2; len++)
        for (f = 0; f < N_FORMATS; f++)
            for (c = 0; c < N_SCALES; c++)
                for (off = 0; off < 4; off += 3) {
                    N = lengths[len];
                    fp8q_scale_op op = k_scales[c].op;
                    float sc = k_scales[c].scale;
                    CHECK(fp8q_decode_f32(got + off, src + off, N, k_formats[f], op, sc) == FP8Q_OK, "result");
                    fp8q_decode_f16(gh + off, src + off, N, k_formats[f], op, sc);
                    fp8q_decode_bf16(gb + off, src + off, N, k_formats[f], op, sc);
                    for (i = off; i < N + off; i++) {
                        float want = scaled(fp8q_to_f32(src[i], k_formats[f]), op, sc);
                        uint32_t wbits = isnan(want) ? 0x7FFFFFFFu : f32_bits(want);
                        CHECK(f32_bits(got[i]) == wbits, "fmt %d scale %d code %02X: %08X want %08X", f, c, src[i],
                              f32_bits(got[i]), wbits);
                        CHECK(gh[i] == fp8q_f32_to_f16(f32_from_bits(wbits)), "f16 fmt %d code %02X", f, src[i]);
                        CHECK(gb[i] == fp8q_f32_to_bf16(f32_from_bits(wbits)), "bf16 fmt %d code %02X", f, src[i]);
                    }
                }
}

static void test_bulk_arguments(void)
{
    uint8_t q[4];
    float x[4] = {0};
    CHECK(fp8q_encode_f32(NULL, x, 4, FP8Q_E4M3, FP8Q_SATFINITE, FP8Q_SCALE_NONE, 0) == FP8Q_ERR_ARG, "NULL dst");
    CHECK(fp8q_encode_f32(q, NULL, 4, FP8Q_E4M3, FP8Q_SATFINITE, FP8Q_SCALE_NONE, 0) == FP8Q_ERR_ARG, "NULL src");
    CHECK(fp8q_encode_f32(NULL, NULL, 0, FP8Q_E4M3, FP8Q_SATFINITE, FP8Q_SCALE_NONE, 0) == FP8Q_OK, "n = 0");
    CHECK(fp8q_encode_f32(q, x, 4, FP8Q_FORMAT_COUNT, FP8Q_SATFINITE, FP8Q_SCALE_NONE, 0) == FP8Q_ERR_ARG, "fmt");
    CHECK(fp8q_encode_f32(q, x, 4, FP8Q_E4M3, (fp8q_saturation)7, FP8Q_SCALE_NONE, 0) == FP8Q_ERR_ARG, "sat");
    CHECK(fp8q_encode_f32(q, x, 4, FP8Q_E4M3, FP8Q_SATFINITE, (fp8q_scale_op)9, 0) == FP8Q_ERR_ARG, "op");
    CHECK(fp8q_decode_f32(x, NULL, 4, FP8Q_E4M3, FP8Q_SCALE_NONE, 0) == FP8Q_ERR_ARG, "decode NULL");
    CHECK(fp8q_decode_f16(NULL, q, 4, FP8Q_E4M3, FP8Q_SCALE_NONE, 0) == FP8Q_ERR_ARG, "decode16 NULL");
    CHECK(fp8q_encode_bf16(q, NULL, 1, FP8Q_E4M3, FP8Q_NOSAT, FP8Q_SCALE_NONE, 0) == FP8Q_ERR_ARG, "bf16 NULL");
    CHECK(strcmp(fp8q_result_string(FP8Q_ERR_ARG), "invalid argument") == 0, "result string");
    CHECK(fp8q_result_string((fp8q_result)-99) != NULL, "unknown result string");
}

/* ------------------------------------------------------ E8M0, recipes, INC */

/* NUMERICS.md 2.8 (CUDA host code) and 1.6. */
static void test_e8m0_vectors(void)
{
    static const struct {
        float x;
        unsigned rz_sat, rz_nosat, rp_sat, rp_nosat;
    } v[] = {
        {1.5f, 0x7F, 0x7F, 0x80, 0x80},   {3.0f, 0x80, 0x80, 0x81, 0x81},      {-2.0f, 0x80, 0x80, 0x80, 0x80},
        {1.0f, 0x7F, 0x7F, 0x7F, 0x7F},   {0.0f, 0x00, 0x00, 0x00, 0x00},      {3e38f, 0xFE, 0xFE, 0xFE, 0xFF},
        {448.0f, 0x87, 0x87, 0x88, 0x88}, {0x1p-127f, 0x00, 0x00, 0x00, 0x00}, {0x1p-126f, 0x01, 0x01, 0x01, 0x01},
    };
    size_t i;
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        unsigned a = fp8q_e8m0_from_f32(v[i].x, FP8Q_SATFINITE, FP8Q_E8M0_ROUND_ZERO);
        unsigned b = fp8q_e8m0_from_f32(v[i].x, FP8Q_NOSAT, FP8Q_E8M0_ROUND_ZERO);
        unsigned c = fp8q_e8m0_from_f32(v[i].x, FP8Q_SATFINITE, FP8Q_E8M0_ROUND_UP);
        unsigned d = fp8q_e8m0_from_f32(v[i].x, FP8Q_NOSAT, FP8Q_E8M0_ROUND_UP);
        CHECK(a == v[i].rz_sat && b == v[i].rz_nosat && c == v[i].rp_sat && d == v[i].rp_nosat,
              "e8m0(%g): %02X %02X %02X %02X", v[i].x, a, b, c, d);
    }
    CHECK(fp8q_e8m0_from_f32(f_inf(), FP8Q_SATFINITE, FP8Q_E8M0_ROUND_ZERO) == 0xFE, "Inf sat");
    CHECK(fp8q_e8m0_from_f32(f_inf(), FP8Q_NOSAT, FP8Q_E8M0_ROUND_UP) == 0xFF, "Inf nosat");
    CHECK(fp8q_e8m0_from_f32(f_nan(), FP8Q_SATFINITE, FP8Q_E8M0_ROUND_UP) == 0xFF, "NaN");
    CHECK(fp8q_e8m0_to_bf16(0x7F) == 0x3F80 && fp8q_e8m0_to_bf16(0x00) == 0x0040 && fp8q_e8m0_to_bf16(0xFF) == 0x7FFF,
          "e8m0 to bf16");
    CHECK(fp8q_e8m0_to_f32(0x88) == 512.0f && fp8q_e8m0_to_f32(0x00) == 0x1p-127f && isnan(fp8q_e8m0_to_f32(0xFF)),
          "e8m0 to f32");
}

/* INC.md 3.7: worked numbers, activations backoff 0.25, weights 0.5. */
static void test_inc_worked_numbers(void)
{
    static const struct {
        float maxabs, backoff, g2_pow2, g2_hw, g3_hw;
    } v[] = {
        {1.0f, 0.25f, 1 / 32.0f, 1 / 16.0f, 1 / 64.0f},
        {3.4f, 0.25f, 1 / 16.0f, 1 / 16.0f, 1 / 32.0f},
        {11.06f, 0.25f, 1 / 4.0f, 1.0f, 1 / 8.0f},
        {40.75f, 0.25f, 1.0f, 1.0f, 1 / 2.0f},
        {95.5f, 0.25f, 2.0f, 16.0f, 1.0f},
        {1000.0f, 0.25f, 32.0f, 16.0f, 16.0f},
        {2.0f, 0.5f, 1 / 32.0f, 1 / 16.0f, 1 / 64.0f},
        {3.156f, 0.5f, 1 / 32.0f, 1 / 16.0f, 1 / 64.0f},
    };
    size_t i;
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        float p2 = fp8q_inc_scale(v[i].maxabs, FP8Q_INC_POW2, FP8Q_GAUDI2, v[i].backoff);
        float h2 = fp8q_inc_scale(v[i].maxabs, FP8Q_INC_HW_ALIGNED, FP8Q_GAUDI2, v[i].backoff);
        float h3 = fp8q_inc_scale(v[i].maxabs, FP8Q_INC_HW_ALIGNED, FP8Q_GAUDI3, v[i].backoff);
        CHECK(p2 == v[i].g2_pow2 && h2 == v[i].g2_hw && h3 == v[i].g3_hw, "maxabs %g: G2 pow2 %g hw %g, G3 hw %g",
              v[i].maxabs, p2, h2, h3);
    }
    CHECK(fp8q_inc_scale(1.0f, FP8Q_INC_IDENTITY, FP8Q_GAUDI2, 0.25f) == fp8q_bf16_to_f32(fp8q_f32_to_bf16(1 / 60.0f)),
          "identity is bf16(1/60)");
    CHECK(fp8q_inc_scale(0.0f, FP8Q_INC_HW_ALIGNED, FP8Q_GAUDI2, 0.25f) == 0.00390625f, "maxabs 0 -> lo");
    CHECK(fp8q_inc_scale(0.0f, FP8Q_INC_POW2, FP8Q_GAUDI3, 0.25f) == 0.0f, "maxabs 0 pow2 -> 0");
    CHECK(fp8q_inc_scale(5.0f, FP8Q_INC_HW_ALIGNED_FIXED, FP8Q_GAUDI2, 0.25f) == 16.0f &&
              fp8q_inc_scale(5.0f, FP8Q_INC_HW_ALIGNED_FIXED, FP8Q_GAUDI3, 0.25f) == 128.0f &&
              fp8q_inc_scale(5.0f, FP8Q_INC_UNIT, FP8Q_GAUDI3, 0.25f) == 1.0f,
          "fixed and unit");
    CHECK(fp8q_inc_fullscale(FP8Q_GAUDI2) == 240.0f && fp8q_inc_fullscale(FP8Q_GAUDI3) == 448.0f, "fullscale");
}

/* The libm-free log2 behind INC's POW2, rounded to bf16 as INC does, agrees
   with libm's log2 on every positive finite bfloat16. */
static void test_inc_log2(void)
{
    uint32_t h;
    for (h = 1; h < 0x7F80; h++) {
        float s = fp8q_bf16_to_f32((uint16_t)h);
        CHECK(fp8q_f32_to_bf16((float)fp8q__log2(s)) == fp8q_f32_to_bf16((float)log2((double)s)), "bf16 %04X", h);
    }
}

/* The engines' defined edge behaviour (NUMERICS.md 3.2) and the argument checks. */
static void test_recipe_edges(void)
{
    const fp8q_recipe *pt = fp8q_recipe_get("vllm-per-tensor"), *tok = fp8q_recipe_get("vllm-per-token");
    const fp8q_recipe *mx = fp8q_recipe_get("mx-e4m3");
    float zeros[4] = {0, 0, 0, 0}, s[4], x[4], back[4], min_scale;
    uint8_t q[64];
    int i;
    CHECK(pt && tok && mx && fp8q_recipe_get("no-such-recipe") == NULL, "recipe lookup");
    if (!pt || !tok || !mx) return;
    for (i = 0; i < fp8q_recipe_count(); i++)
        CHECK(fp8q_recipe_get(fp8q_recipe_at(i)->name) == fp8q_recipe_at(i), "%d", i);
    fp8q_compute_scales(s, zeros, 1, 4, pt);
    fp8q_quantize(q, zeros, 1, 4, s, pt);
    fp8q_dequantize(back, q, 1, 4, s, pt);
    CHECK(s[0] == 0 && q[0] == 0x7E && q[3] == 0x7E && back[0] == 0, "all-zero tensor: s 0, codes 7E, dequant 0");
    x[0] = 1.0f, x[1] = f_nan(), x[2] = f_inf(), x[3] = -f_inf();
    s[0] = 0.5f;
    fp8q_quantize(q, x, 1, 4, s, pt);
    CHECK(q[0] == 0x40 && q[1] == 0x7E && q[2] == 0x7E && q[3] == 0xFE, "static: NaN -> +448, Inf -> +-448");
    fp8q_compute_scales(s, zeros, 2, 2, tok);
    min_scale = 1.0f / 229376.0f; /* assigned: rounds away excess precision (s390x C99 has FLT_EVAL_METHOD 1) */
    CHECK(s[0] == min_scale && s[1] == s[0], "per-token min scale 1/(448*512)");
    CHECK(fp8q_scale_count(pt, 5, 7) == 1 && fp8q_scale_count(tok, 5, 7) == 5 && fp8q_scale_count(mx, 2, 70) == 6,
          "scale counts");
    CHECK(fp8q_scale_count(fp8q_recipe_get("deepseek-block128"), 200, 300) == 6, "block scale count");
    CHECK(fp8q_quantize(q, x, 1, 4, NULL, pt) == FP8Q_ERR_ARG, "NULL scales");
    CHECK(fp8q_quantize(NULL, NULL, 0, 4, NULL, pt) == FP8Q_OK, "empty");
    CHECK(fp8q_compute_scales(s, x, 1, 4, NULL) == FP8Q_ERR_ARG, "NULL recipe");
    CHECK(fp8q_compute_scales(s, x, (size_t)-1, 3, pt) == FP8Q_ERR_ARG, "rows * cols overflow");
}

/* ---------------------------------------------------------------- GEMM */

/* A code of fmt whose magnitude lies in [2^lo, 2^hi] (or zero), random sign. */
static uint8_t random_code(fp8q_format fmt, int lo, int hi)
{
    for (;;) {
        uint8_t v = (uint8_t)rnd32();
        float x = fp8q_to_f32(v, fmt);
        if (x != x || x - x != 0) continue;
        if (x == 0 || (fabsf(x) >= ldexpf(1, lo) && fabsf(x) <= ldexpf(1, hi))) return v;
    }
}

/* Independent rounding of an exact long double to bf16 / f16 (RNE). */
static uint16_t ld_to_16(long double x, int bf16)
{
    const int p = bf16 ? 8 : 11, emin = bf16 ? -126 : -14;
    long double a = fabsl(x), q;
    int e;
    uint16_t sign = signbit(x) ? 0x8000 : 0;
    if (a == 0) return sign;
    e = ilogbl(a);
    if (e < emin) e = emin;
    q = ldexpl(nearbyintl(ldexpl(a, p - 1 - e)), e - (p - 1)); /* default rounding mode: RNE */
    return (uint16_t)((bf16 ? fp8q_f32_to_bf16((float)q) : fp8q_f32_to_f16((float)q)) | sign);
}

typedef struct {
    size_t M, N, K;
    uint8_t *a, *b;
    float *a_f32, *sa, *sb, *bias, *c, *c2;
    uint16_t *c16;
} gemm_case;

static void gemm_case_free(gemm_case *t)
{
    free(t->a), free(t->b), free(t->a_f32), free(t->sa), free(t->sb), free(t->bias), free(t->c), free(t->c2);
    free(t->c16);
}

static gemm_case gemm_case_new(size_t M, size_t N, size_t K)
{
    gemm_case t;
    t.M = M, t.N = N, t.K = K;
    t.a = (uint8_t *)calloc(M * K, 1), t.b = (uint8_t *)calloc(N * K, 1);
    t.a_f32 = (float *)calloc(M * K, sizeof(float));
    t.sa = (float *)calloc(M * K, sizeof(float)), t.sb = (float *)calloc(N * K, sizeof(float));
    t.bias = (float *)calloc(N, sizeof(float)), t.c = (float *)calloc(M * N, sizeof(float));
    t.c2 = (float *)calloc(M * N, sizeof(float)), t.c16 = (uint16_t *)calloc(M * N, 2);
    if (!t.a || !t.b || !t.a_f32 || !t.sa || !t.sb || !t.bias || !t.c || !t.c2 || !t.c16) abort();
    return t;
}

static fp8q_gemm gemm_desc(gemm_case *t, fp8q_format fa, fp8q_format fb, int a_tc, int b_tc)
{
    fp8q_gemm g;
    memset(&g, 0, sizeof g);
    g.M = t->M, g.N = t->N, g.K = t->K;
    g.a = t->a, g.a_format = fa, g.a_scales = t->sa, g.a_tile_rows = 1, g.a_tile_cols = a_tc;
    g.b = t->b, g.b_format = fb, g.b_scales = t->sb, g.b_tile_rows = 1, g.b_tile_cols = b_tc;
    g.bias = t->bias, g.c = t->c, g.c_type = FP8Q_F32;
    return g;
}

/* Exact mode against long double sums that are exact by construction:
   power-of-two scales, operands in a bounded exponent range, K <= 16, so
   every partial sum fits a 64-bit significand; then one rounding. Covers
   E4M3 and E5M2 operands, per-row and per-group scales, cancellation,
   bias, and f32 / bf16 / f16 outputs. */
static void test_gemm_exact_vs_long_double(void)
{
    int trial;
    for (trial = 0; trial < 300; trial++) {
        const int e5 = trial % 3 == 1, group = (trial % 4 == 0) ? 4 : 0;
        const fp8q_format fa = e5 ? FP8Q_E5M2 : FP8Q_E4M3, fb = trial % 3 == 2 ? FP8Q_E5M2 : FP8Q_E4M3;
        const size_t M = 1 + rnd32() % 3, N = 1 + rnd32() % 3, K = 1 + rnd32() % 16;
        gemm_case t = gemm_case_new(M, N, K);
        fp8q_gemm g = gemm_desc(&t, fa, fb, group, group);
        size_t m, n, k, i, ng = group ? (K + 3) / 4 : 1;
        int dt;
        for (i = 0; i < M * K; i++) t.a[i] = random_code(fa, -9, 9); /* E4M3: min subnormal to max */
        for (i = 0; i < N * K; i++) t.b[i] = random_code(fb, -9, 9);
        if (trial % 5 == 0) /* cancellation: b's second half mirrors its first with the sign flipped */
            for (n = 0; n < N; n++)
                for (k = 0; k + K / 2 < K && k < K / 2; k++) t.b[n * K + K / 2 + k] = t.b[n * K + k] ^ 0x80;
        for (i = 0; i < M * ng; i++) t.sa[i] = ldexpf(1, (int)(rnd32() % 9) - 4);
        for (i = 0; i < N * ng; i++) t.sb[i] = ldexpf(1, (int)(rnd32() % 9) - 4);
        for (n = 0; n < N; n++) t.bias[n] = trial % 2 ? ldexpf((float)(int)(rnd32() % 64) - 32, -3) : 0;
        for (dt = 0; dt < 3; dt++) {
            g.c_type = (fp8q_dtype)dt, g.c = dt ? (void *)t.c16 : (void *)t.c;
            CHECK(fp8q_gemm_run(&g, FP8Q_GEMM_EXACT) == FP8Q_OK, "exact run");
            for (m = 0; m < M; m++)
                for (n = 0; n < N; n++) {
                    long double sum = t.bias[n];
                    for (k = 0; k < K; k++) {
                        size_t gi = group ? k / 4 : 0;
                        sum += (long double)fp8q_to_f32(t.a[m * K + k], fa) * fp8q_to_f32(t.b[n * K + k], fb) *
                               t.sa[m * ng + gi] * t.sb[n * ng + gi];
                    }
                    if (dt == 0)
                        CHECK(f32_bits(t.c[m * N + n]) == f32_bits((float)sum) || (sum == 0 && t.c[m * N + n] == 0),
                              "trial %d (%zu,%zu): %a want %a", trial, m, n, t.c[m * N + n], (float)sum);
                    else
                        CHECK(t.c16[m * N + n] == ld_to_16(sum, dt == 1) || (sum == 0 && !(t.c16[m * N + n] & 0x7FFF)),
                              "trial %d type %d (%zu,%zu): %04X want %04X", trial, dt, m, n, t.c16[m * N + n],
                              ld_to_16(sum, dt == 1));
                }
        }
        gemm_case_free(&t);
    }
}

/* Extremes: K = 1 (one exact product), the whole range of both formats and
   scales from 2^-60 to 2^60, so results overflow and underflow the output
   types: exact mode must round the exact product once, like the long double. */
static void test_gemm_exact_extremes(void)
{
    int trial, dt;
    for (trial = 0; trial < 2000; trial++) {
        const fp8q_format fa = trial & 1 ? FP8Q_E5M2 : FP8Q_E4M3, fb = trial & 2 ? FP8Q_E5M2 : FP8Q_E4M3;
        gemm_case t = gemm_case_new(1, 1, 1);
        fp8q_gemm g = gemm_desc(&t, fa, fb, 0, 0);
        long double want;
        t.a[0] = random_code(fa, -20, 20), t.b[0] = random_code(fb, -20, 20);
        t.sa[0] = ldexpf(1, (int)(rnd32() % 121) - 60), t.sb[0] = ldexpf(1, (int)(rnd32() % 121) - 60);
        want = (long double)fp8q_to_f32(t.a[0], fa) * fp8q_to_f32(t.b[0], fb) * t.sa[0] * t.sb[0];
        for (dt = 0; dt < 3; dt++) {
            g.c_type = (fp8q_dtype)dt, g.c = dt ? (void *)t.c16 : (void *)t.c;
            fp8q_gemm_run(&g, FP8Q_GEMM_EXACT);
            if (dt == 0) {
                float wf = fabsl(want) > 3.4028235677973366e38L ? (want > 0 ? f_inf() : -f_inf()) : (float)want;
                CHECK(f32_bits(t.c[0]) == f32_bits(wf) || (want == 0 && t.c[0] == 0), "trial %d: %a want %a", trial,
                      t.c[0], wf);
            } else {
                uint16_t w16 = ld_to_16(want, dt == 1);
                if (dt == 2 && fabsl(want) >= 65520.0L) w16 = (uint16_t)(want > 0 ? 0x7C00 : 0xFC00);
                if (dt == 1 && fabsl(want) > 3.3961e38L) w16 = (uint16_t)(want > 0 ? 0x7F80 : 0xFF80);
                CHECK(t.c16[0] == w16 || (want == 0 && !(t.c16[0] & 0x7FFF)), "trial %d type %d: %04X want %04X", trial,
                      dt, t.c16[0], w16);
            }
        }
        gemm_case_free(&t);
    }
}

/* The documented reference order, written again here independently. */
static float reference_by_hand(const gemm_case *t, fp8q_format fa, fp8q_format fb, size_t group, size_t m, size_t n)
{
    size_t ng = (t->K + group - 1) / group, gi, k;
    volatile float c = 0;
    for (gi = 0; gi < ng; gi++) {
        volatile float acc = 0;
        for (k = gi * group; k < t->K && k < (gi + 1) * group; k++) {
            volatile float prod = fp8q_to_f32(t->a[m * t->K + k], fa) * fp8q_to_f32(t->b[n * t->K + k], fb);
            acc = acc + prod;
        }
        acc = acc * t->sb[n * ng + gi];
        acc = acc * t->sa[m * ng + gi];
        c = c + acc;
    }
    c = c + t->bias[n];
    return c;
}

/* Reference mode equals the documented order bit for bit; reference and
   fast are within fp8q_gemm_tolerance of exact; fast is bit-identical for
   1, 2 and 5 threads and through a caller parallel-for. */
static size_t g_parallel_calls;
static void serial_parallel_for(void *ctx, void (*fn)(void *, size_t), void *arg, size_t n)
{
    size_t i;
    (void)ctx;
    g_parallel_calls++;
    for (i = n; i-- > 0;) fn(arg, i); /* reverse order: results must not care */
}

static void test_gemm_modes_agree(void)
{
    static const size_t shapes[][4] = {
        {1, 7, 33, 0}, {5, 70, 130, 32}, {9, 131, 64, 0}, {3, 64, 300, 128}, {17, 5, 1, 0}};
    size_t s;
    for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const size_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], group = shapes[s][3] ? shapes[s][3] : K;
        const size_t ng = (K + group - 1) / group;
        gemm_case t = gemm_case_new(M, N, K);
        fp8q_gemm g = gemm_desc(&t, FP8Q_E4M3, s == 2 ? FP8Q_E5M2 : FP8Q_E4M3, (int)shapes[s][3], (int)shapes[s][3]);
        float *exact = (float *)malloc(M * N * sizeof(float)), *fast1 = (float *)malloc(M * N * sizeof(float));
        size_t i, m, n, k, bad_ref = 0, bad_fast = 0, bad_order = 0;
        int th;
        for (i = 0; i < M * K; i++) t.a[i] = (uint8_t)rnd32();
        for (i = 0; i < N * K; i++) t.b[i] = (uint8_t)rnd32();
        for (i = 0; i < M * K; i++) /* no NaN/Inf codes here */
            while (isnan(fp8q_to_f32(t.a[i], FP8Q_E4M3))) t.a[i] = (uint8_t)rnd32();
        for (i = 0; i < N * K; i++)
            while (!isfinite(fp8q_to_f32(t.b[i], g.b_format))) t.b[i] = (uint8_t)rnd32();
        for (i = 0; i < M * ng; i++) t.sa[i] = 0.001f + (float)(rnd32() % 1000) * 1e-4f;
        for (i = 0; i < N * ng; i++) t.sb[i] = 0.002f + (float)(rnd32() % 1000) * 3e-6f;
        for (n = 0; n < N; n++) t.bias[n] = (float)(int)(rnd32() % 200) * 0.01f - 1.0f;
        g.c = exact, fp8q_gemm_run(&g, FP8Q_GEMM_EXACT);
        g.c = t.c, fp8q_gemm_run(&g, FP8Q_GEMM_REFERENCE);
        g.c = fast1, g.threads = 1, fp8q_gemm_run(&g, FP8Q_GEMM_FAST);
        for (m = 0; m < M; m++)
            for (n = 0; n < N; n++) {
                double sum_abs = fabs(t.bias[n]), tol;
                for (k = 0; k < K; k++)
                    sum_abs +=
                        fabs((double)fp8q_to_f32(t.a[m * K + k], FP8Q_E4M3) * fp8q_to_f32(t.b[n * K + k], g.b_format) *
                             t.sa[m * ng + k / group] * t.sb[n * ng + k / group]);
                tol = fp8q_gemm_tolerance(K, sum_abs);
                bad_ref += fabs((double)t.c[m * N + n] - exact[m * N + n]) > tol;
                bad_fast += fabs((double)fast1[m * N + n] - exact[m * N + n]) > tol;
                bad_order +=
                    f32_bits(t.c[m * N + n]) != f32_bits(reference_by_hand(&t, FP8Q_E4M3, g.b_format, group, m, n));
            }
        CHECK(bad_ref == 0 && bad_fast == 0, "shape %zu: %zu reference, %zu fast outside tolerance", s, bad_ref,
              bad_fast);
        CHECK(bad_order == 0, "shape %zu: reference differs from the documented order in %zu", s, bad_order);
        for (th = 2; th <= 5; th += 3) {
            g.c = t.c2, g.threads = th, fp8q_gemm_run(&g, FP8Q_GEMM_FAST);
            CHECK(memcmp(t.c2, fast1, M * N * sizeof(float)) == 0, "shape %zu: %d threads differ", s, th);
        }
        g.parallel_for = serial_parallel_for, g_parallel_calls = 0;
        fp8q_gemm_run(&g, FP8Q_GEMM_FAST);
        CHECK(g_parallel_calls == 1 && memcmp(t.c2, fast1, M * N * sizeof(float)) == 0, "parallel_for hook");
        free(exact), free(fast1);
        gemm_case_free(&t);
    }
}

/* NaN and Inf: NaN codes, Inf * 0, Inf - Inf -> NaN; a lone Inf -> Inf;
   W8A16 exact against long double. */
static void test_gemm_specials_and_w8a16(void)
{
    gemm_case t = gemm_case_new(1, 4, 2);
    fp8q_gemm g = gemm_desc(&t, FP8Q_E5M2, FP8Q_E5M2, 0, 0);
    size_t i, n, k;
    int mode;
    g.a_scales = g.b_scales = NULL, g.bias = NULL;
    t.a[0] = 0x3C, t.a[1] = 0x7C; /* a = [1, +Inf] */
    t.b[0] = 0x3C, t.b[1] = 0x3C; /* n0: 1 + Inf = Inf */
    t.b[2] = 0x3C, t.b[3] = 0x00; /* n1: Inf * 0 = NaN */
    t.b[4] = 0x7F, t.b[5] = 0x3C; /* n2: NaN code */
    t.b[6] = 0xFC, t.b[7] = 0x3C; /* n3: -Inf + Inf = NaN */
    for (mode = 0; mode < 3; mode++) {
        fp8q_gemm_run(&g, (fp8q_gemm_mode)mode);
        CHECK(isinf(t.c[0]) && t.c[0] > 0, "mode %d: Inf", mode);
        for (n = 1; n < 4; n++)
            CHECK(f32_bits(t.c[n]) == 0x7FFFFFFFu, "mode %d n %zu: NaN %08X", mode, n, f32_bits(t.c[n]));
    }
    gemm_case_free(&t);
    t = gemm_case_new(2, 3, 9);
    g = gemm_desc(&t, FP8Q_E4M3, FP8Q_E4M3, 0, 0);
    g.a = NULL, g.a_f32 = t.a_f32, g.a_scales = NULL;
    for (i = 0; i < 2 * 9; i++) t.a_f32[i] = ldexpf((float)(int)(rnd32() % 0xFFFFFF) - 0x7FFFFF, -20);
    for (i = 0; i < 3 * 9; i++) t.b[i] = random_code(FP8Q_E4M3, -4, 4);
    for (i = 0; i < 3; i++) t.sb[i] = ldexpf(1, (int)i - 1), t.bias[i] = 0.25f;
    fp8q_gemm_run(&g, FP8Q_GEMM_EXACT);
    for (i = 0; i < 2; i++)
        for (n = 0; n < 3; n++) {
            long double sum = t.bias[n];
            for (k = 0; k < 9; k++)
                sum += (long double)t.a_f32[i * 9 + k] * fp8q_to_f32(t.b[n * 9 + k], FP8Q_E4M3) * t.sb[n];
            CHECK(f32_bits(t.c[i * 3 + n]) == f32_bits((float)sum), "W8A16 (%zu,%zu): %a want %a", i, n, t.c[i * 3 + n],
                  (float)sum);
        }
    CHECK(fp8q_gemm_run(NULL, FP8Q_GEMM_EXACT) == FP8Q_ERR_ARG, "NULL desc");
    g.K = 0;
    CHECK(fp8q_gemm_run(&g, FP8Q_GEMM_EXACT) == FP8Q_ERR_ARG, "K = 0");
    g.K = 9, g.a_tile_cols = 4, g.a_scales = t.sa, g.b_tile_cols = 6;
    CHECK(fp8q_gemm_run(&g, FP8Q_GEMM_EXACT) == FP8Q_ERR_ARG, "K groups 4 and 6 do not nest");
    gemm_case_free(&t);
}

static void test_compare_metrics(void)
{
    float want[5] = {1.0f, 2.0f, -3.0f, 0.0f, 0.0f}, got[5];
    fp8q_compare c;
    memcpy(got, want, sizeof want);
    got[1] = nextafterf(2.0f, 3.0f), got[3] = f_nan(), want[3] = f_nan(), got[4] = 1e-3f;
    c = fp8q_compare_f32(got, want, 5, FP8Q_F32, 1e-6, 1e-6);
    CHECK(c.count == 5 && c.max_ulp >= 1 && c.outside == 1 && c.first_outside == 4, "outside %zu first %zu", c.outside,
          c.first_outside);
    CHECK(fabs(c.max_abs_err - 1e-3) < 1e-9, "max abs %g", c.max_abs_err);
    got[4] = 0, got[1] = 2.0f + 1.0f / 64;
    c = fp8q_compare_f32(got, want, 5, FP8Q_BF16, 0, 0.01);
    CHECK(c.outside == 0 && c.max_ulp == 1, "bf16 ulp %g", c.max_ulp);
    got[0] = f_inf();
    CHECK(fp8q_compare_f32(got, want, 5, FP8Q_F32, 1, 1).outside == 1, "Inf vs finite");
    CHECK(fp8q_gemm_tolerance(1, 1.0) > 5.9e-8 && fp8q_gemm_tolerance(1024, 1.0) > 1024.0 / 16777216.0, "tolerance");
}

/* ----------------------------------------------- golden fixture (Python) */

/* tests/fixtures/quant_recipes.txt, written by tools/gen_quant_fixtures.py
   from the engines' formulas with numpy and ml_dtypes (never from fp8q):
   every recipe's scales, bytes and dequantized values, and INC scales. */
#ifndef FP8Q_FIXTURES
#define FP8Q_FIXTURES "tests/fixtures/quant_recipes.txt"
#endif

typedef struct {
    char recipe[64];
    size_t rows, cols, nx, nscales, nq, ndq;
    int has_static;
    float *x, *scales, *dq, static_scale;
    uint8_t *q;
} fixture_case;

/* Appends the hex values after the keyword on one line. */
static void parse_hex_values(const char *line, float *fvals, uint8_t *bvals, size_t *n, size_t cap)
{
    const char *p = strchr(line, ' ');
    unsigned v;
    int used;
    while (p && sscanf(p, " %x%n", &v, &used) == 1 && *n < cap) {
        if (fvals)
            fvals[(*n)++] = f32_from_bits(v);
        else
            bvals[(*n)++] = (uint8_t)v;
        p += used;
    }
}

static int same_float(float got, float want) { return (isnan(got) && isnan(want)) || f32_bits(got) == f32_bits(want); }

static void run_fixture_case(const fixture_case *c)
{
    const fp8q_recipe *r = fp8q_recipe_get(c->has_static ? "vllm-per-tensor" : c->recipe);
    size_t n = c->rows * c->cols, ns, i;
    float *s, *dq;
    uint8_t *q;
    CHECK(r != NULL, "unknown recipe %s", c->recipe);
    if (!r) return;
    ns = fp8q_scale_count(r, c->rows, c->cols);
    CHECK(c->nx == n && c->nq == n && c->ndq == n && c->nscales == ns, "%s: fixture sizes", c->recipe);
    if (c->nx != n || c->nq != n || c->ndq != n || c->nscales != ns) return;
    s = (float *)malloc(ns * sizeof(float)), dq = (float *)malloc(n * sizeof(float)), q = (uint8_t *)malloc(n);
    if (c->has_static)
        s[0] = c->static_scale;
    else
        fp8q_compute_scales(s, c->x, c->rows, c->cols, r);
    for (i = 0; i < ns; i++)
        CHECK(same_float(s[i], c->scales[i]), "%s %zux%zu scale %zu: %08X want %08X", c->recipe, c->rows, c->cols, i,
              f32_bits(s[i]), f32_bits(c->scales[i]));
    fp8q_quantize(q, c->x, c->rows, c->cols, c->scales, r);
    fp8q_dequantize(dq, q, c->rows, c->cols, c->scales, r);
    for (i = 0; i < n; i++) {
        CHECK(q[i] == c->q[i], "%s %zux%zu q[%zu] (x %08X): %02X want %02X", c->recipe, c->rows, c->cols, i,
              f32_bits(c->x[i]), q[i], c->q[i]);
        CHECK(same_float(dq[i], c->dq[i]), "%s dq[%zu]: %08X want %08X", c->recipe, i, f32_bits(dq[i]),
              f32_bits(c->dq[i]));
    }
    free(s), free(dq), free(q);
}

static fp8q_inc_rounding inc_method(const char *m)
{
    if (!strcmp(m, "identity")) return FP8Q_INC_IDENTITY;
    if (!strcmp(m, "pow2")) return FP8Q_INC_POW2;
    if (!strcmp(m, "hw_aligned")) return FP8Q_INC_HW_ALIGNED;
    if (!strcmp(m, "hw_aligned_fixed")) return FP8Q_INC_HW_ALIGNED_FIXED;
    return FP8Q_INC_UNIT;
}

static void test_python_fixtures(void)
{
    FILE *f = fopen(FP8Q_FIXTURES, "r");
    char line[4096], word[32], dev[32];
    fixture_case c;
    size_t cases = 0, incs = 0, cap = 0;
    memset(&c, 0, sizeof c);
    CHECK(f != NULL, "cannot open %s (run from the repository root)", FP8Q_FIXTURES);
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        unsigned b, m, want;
        if (sscanf(line, "case %63s %zu %zu", c.recipe, &c.rows, &c.cols) == 3) {
            cap = c.rows * c.cols + 16;
            c.x = (float *)realloc(c.x, cap * sizeof(float)),
            c.scales = (float *)realloc(c.scales, cap * sizeof(float));
            c.dq = (float *)realloc(c.dq, cap * sizeof(float)), c.q = (uint8_t *)realloc(c.q, cap);
            c.nx = c.nscales = c.nq = c.ndq = 0, c.has_static = 0;
        } else if (!strncmp(line, "x ", 2))
            parse_hex_values(line, c.x, NULL, &c.nx, cap);
        else if (!strncmp(line, "scales ", 7))
            parse_hex_values(line, c.scales, NULL, &c.nscales, cap);
        else if (!strncmp(line, "q ", 2))
            parse_hex_values(line, NULL, c.q, &c.nq, cap);
        else if (!strncmp(line, "dq ", 3))
            parse_hex_values(line, c.dq, NULL, &c.ndq, cap);
        else if (sscanf(line, "static_scale %x", &b) == 1)
            c.has_static = 1, c.static_scale = f32_from_bits(b);
        else if (!strncmp(line, "end", 3))
            run_fixture_case(&c), cases++;
        else if (sscanf(line, "inc %31s %31s %x %x %x", word, dev, &b, &m, &want) == 5) {
            float got = fp8q_inc_scale(f32_from_bits(m), inc_method(word),
                                       strcmp(dev, "gaudi2") ? FP8Q_GAUDI3 : FP8Q_GAUDI2, f32_from_bits(b));
            CHECK(same_float(got, f32_from_bits(want)), "inc %s %s backoff %g maxabs %08X: %08X want %08X", word, dev,
                  f32_from_bits(b), m, f32_bits(got), want);
            incs++;
        }
    }
    fclose(f);
    free(c.x), free(c.scales), free(c.dq), free(c.q);
    CHECK(cases >= 80 && incs >= 2000, "fixture read %zu cases, %zu inc lines", cases, incs);
}

/* A binary built for a SIMD level this CPU lacks reports itself skipped. */
static int cpu_lacks_build_level(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(__clang__)
    __builtin_cpu_init();
#endif
#if defined(__GNUC__) && defined(__AVX512F__)
    if (!__builtin_cpu_supports("avx512f")) return 1;
#endif
#if defined(__GNUC__) && defined(__AVX2__)
    if (!__builtin_cpu_supports("avx2")) return 1;
#endif
#if defined(__GNUC__) && defined(__FMA__)
    if (!__builtin_cpu_supports("fma")) return 1;
#endif
#if defined(__GNUC__) && defined(__SSE4_1__)
    if (!__builtin_cpu_supports("sse4.1")) return 1;
#endif
#if defined(__GNUC__) && defined(__F16C__) && !defined(__clang__) /* clang 14 lacks "f16c" here */
    if (!__builtin_cpu_supports("f16c")) return 1;
#endif
    return 0;
}

static const char *byte_order(void)
{
    const uint32_t one = 1;
    return *(const unsigned char *)&one ? "little-endian" : "big-endian";
}

int main(void)
{
    printf("fp8q %s tests, bulk path: %s, %s\n", fp8q_version(), fp8q_simd_name(), byte_order());
    if (cpu_lacks_build_level()) {
        printf(
            "skipped: this CPU lacks the instruction set this binary was built for\n0 passed, 0 failed, 1 skipped\n");
        return 0;
    }
    k_scales[N_SCALES - 2].scale = f_inf();
    k_scales[N_SCALES - 1].scale = f_nan();
    g_sample = build_sample();
    run_case("format table", test_format_table);
    run_case("decode all codes", test_decode_all_codes);
    run_case("decode spot values", test_decode_spot_values);
    run_case("CUDA golden vectors", test_cuda_golden_vectors);
    run_case("encode f32 structured sample", test_encode_f32_sample);
    run_case("encode f64 edges", test_encode_f64_edges);
    run_case("encode all half and bf16", test_encode_all_16bit);
    run_case("half/bf16 helpers", test_16bit_helpers);
    run_case("bulk encode f32 vs scalar", test_bulk_encode_f32);
    run_case("bulk encode half/bf16 vs scalar", test_bulk_encode_16bit);
    run_case("bulk decode vs scalar", test_bulk_decode);
    run_case("bulk arguments", test_bulk_arguments);
    run_case("E8M0 vectors", test_e8m0_vectors);
    run_case("INC worked numbers", test_inc_worked_numbers);
    run_case("INC log2 vs libm on all bf16", test_inc_log2);
    run_case("recipe edge cases", test_recipe_edges);
    run_case("GEMM exact vs long double", test_gemm_exact_vs_long_double);
    run_case("GEMM exact extremes (overflow, underflow, subnormal outputs)", test_gemm_exact_extremes);
    run_case("GEMM reference, fast, exact agree; determinism", test_gemm_modes_agree);
    run_case("GEMM NaN/Inf, W8A16, arguments", test_gemm_specials_and_w8a16);
    run_case("compare metrics", test_compare_metrics);
    run_case("engine recipes vs Python fixtures", test_python_fixtures);
    free(g_sample.x);
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
