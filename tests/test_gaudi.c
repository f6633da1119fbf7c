/* Intel Gaudi FP8 numerics (fp8q_gaudi_*), fast checks for `make test`:
   decoding of every byte of every format, round trips, the rounding modes
   on a structured sample against the independent reference in gaudi_ref.h,
   stochastic rounding for given random bits, equalities with fp8q's OCP
   encoders, PTB's saturation anchors, the bulk functions, device support,
   HW-aligned scales and bias absorption. all 2^32 inputs: check_gaudi.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Invalid arguments are programming errors: count the assertions instead of
   aborting, so the defined fallback results can be checked. */
static int g_asserts;
#define FP8Q_ASSERT(x) ((x) ? (void)0 : (void)g_asserts++)
#define FP8Q_IMPLEMENTATION
#include "fp8q.h"

#include "harness.h"
#include "gaudi_ref.h"

static const fp8q_gaudi_rounding k_modes[7] = {FP8Q_GAUDI_RNE, FP8Q_GAUDI_RZ,   FP8Q_GAUDI_RU,  FP8Q_GAUDI_RD,
                                               FP8Q_GAUDI_SR,  FP8Q_GAUDI_RHAZ, FP8Q_GAUDI_SRNE};
static const fp8q_gaudi_clip k_clips[3] = {FP8Q_GAUDI_NO_CLIP, FP8Q_GAUDI_SATURATE, FP8Q_GAUDI_CLIP_FINITE};

static fp8q_gaudi_fp8 fmt(int flavor, int bias, int mode)
{
    fp8q_gaudi_fp8 f;
    f.flavor = (fp8q_gaudi_flavor)flavor;
    f.bias = bias;
    f.infnan = (fp8q_gaudi_infnan)mode;
    return f;
}

static uint32_t bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* Gaudi2's formats plus Gaudi3 biases 0, 1, 7, 15, 31, 62, 63 in each mode
   and flavour: 47 formats. */
static int sample_formats(fp8q_gaudi_fp8 *out)
{
    static const int g2_biases[4] = {3, 7, 11, 15}, g3_biases[7] = {0, 1, 7, 15, 31, 62, 63};
    int n = 0, i, mode, flavor;
    for (i = 0; i < 4; i++) out[n++] = fmt(0, g2_biases[i], 0);
    out[n++] = fmt(1, 15, 0);
    for (flavor = 0; flavor < 2; flavor++)
        for (mode = 0; mode < 3; mode++)
            for (i = 0; i < 7; i++) out[n++] = fmt(flavor, g3_biases[i], mode);
    return n;
}

/* Same float, NaNs compared as the canonical NaN bits, zeros by sign. */
static int same_float(float got, double want)
{
    if (isnan(want)) return bits(got) == 0x7FFFFFFFu;
    return (double)got == want && !signbit(got) == !signbit(want);
}

/* ------------------------------------------------------------- decoding */

typedef struct {
    int flavor, bias, mode, byte;
    double value; /* INFINITY, -INFINITY or NAN for the special codes */
} decode_case;

static void test_decode_anchors(void)
{
    /* Written from GAUDI.md 1.1-1.3. */
    const decode_case cases[] = {
        {0, 7, 0, 0x00, 0.0},
        {0, 7, 0, 0x80, -0.0},
        {0, 7, 0, 0x01, 0.001953125}, /* 2^-9 */
        {0, 7, 0, 0x07, 7 * 0.001953125},
        {0, 7, 0, 0x08, 0.015625}, /* 2^-6 */
        {0, 7, 0, 0x38, 1.0},
        {0, 7, 0, 0x77, 240.0},
        {0, 7, 0, 0xF7, -240.0},
        {0, 7, 0, 0x78, INFINITY},
        {0, 7, 0, 0xF8, -INFINITY},
        {0, 7, 0, 0x79, NAN},
        {0, 7, 0, 0x7F, NAN},
        {0, 7, 0, 0xFF, NAN},
        {0, 3, 0, 0x77, 3840.0},
        {0, 3, 0, 0x01, 0.03125},
        {0, 11, 0, 0x77, 15.0},
        {0, 11, 0, 0x01, 1.0 / 8192},
        {0, 15, 0, 0x77, 0.9375},
        {0, 15, 0, 0x01, 1.0 / 131072}, /* 2^-17 */
        {0, 7, 2, 0x7E, 448.0},
        {0, 7, 2, 0xFE, -448.0},
        {0, 7, 2, 0x78, 256.0},
        {0, 7, 2, 0x7F, NAN},
        {0, 7, 2, 0xFF, NAN},
        {0, 7, 1, 0x7F, 480.0},
        {0, 7, 1, 0xFF, -480.0},
        {0, 7, 1, 0x78, 256.0},
        {0, 0, 0, 0x77, 30720.0},
        {0, 63, 0, 0x01, 0x1p-65},
        {0, 63, 1, 0x7F, 1.875 * 0x1p-48},
        {1, 15, 0, 0x7B, 57344.0},
        {1, 15, 0, 0x7C, INFINITY},
        {1, 15, 0, 0xFC, -INFINITY},
        {1, 15, 0, 0x7D, NAN},
        {1, 15, 0, 0x7F, NAN},
        {1, 15, 0, 0x01, 0x1p-16},
        {1, 15, 0, 0x04, 0x1p-14},
        {1, 15, 2, 0x7C, 65536.0},
        {1, 15, 2, 0x7E, 98304.0},
        {1, 15, 2, 0x7F, NAN},
        {1, 15, 2, 0x7B, 57344.0},
        {1, 15, 1, 0x7F, 114688.0},
        {1, 15, 1, 0x7C, 65536.0},
        {1, 0, 0, 0x7B, 1.75 * 0x1p30},
        {1, 63, 0, 0x01, 0x1p-64},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const decode_case *c = &cases[i];
        const fp8q_gaudi_fp8 f = fmt(c->flavor, c->bias, c->mode);
        const float got = fp8q_gaudi_to_f32((uint8_t)c->byte, &f);
        CHECK(same_float(got, c->value), "flavor %d bias %d mode %d byte %02X: %a, want %a", c->flavor, c->bias,
              c->mode, c->byte, (double)got, c->value);
    }
    {
        fp8q_gaudi_fp8 f = fmt(0, 7, 0);
        CHECK(fp8q_gaudi_max(&f) == 240.0f, "143 bias 7 max %g", (double)fp8q_gaudi_max(&f));
        f.bias = 3;
        CHECK(fp8q_gaudi_max(&f) == 3840.0f, "143 bias 3 max %g", (double)fp8q_gaudi_max(&f));
        f.bias = 15;
        CHECK(fp8q_gaudi_max(&f) == 0.9375f, "143 bias 15 max %g", (double)fp8q_gaudi_max(&f));
        f = fmt(0, 7, 2);
        CHECK(fp8q_gaudi_max(&f) == 448.0f, "FN max %g", (double)fp8q_gaudi_max(&f));
        f = fmt(0, 7, 1);
        CHECK(fp8q_gaudi_max(&f) == 480.0f, "NONE max %g", (double)fp8q_gaudi_max(&f));
        f = fmt(1, 15, 0);
        CHECK(fp8q_gaudi_max(&f) == 57344.0f, "152 max %g", (double)fp8q_gaudi_max(&f));
    }
}

/* Every byte of every format (2 flavours x 64 biases x 3 modes). */
static void test_decode_every_byte(void)
{
    int flavor, bias, mode, v;
    for (flavor = 0; flavor < 2; flavor++)
        for (bias = 0; bias <= 63; bias++)
            for (mode = 0; mode < 3; mode++) {
                const fp8q_gaudi_fp8 f = fmt(flavor, bias, mode);
                gref_fmt g;
                gref_init(&g, flavor, bias, mode);
                CHECK(fp8q_gaudi_max(&f) == (float)g.v[g.maxc], "max flavor %d bias %d mode %d", flavor, bias, mode);
                for (v = 0; v < 256; v++) {
                    const float got = fp8q_gaudi_to_f32((uint8_t)v, &f);
                    CHECK(same_float(got, gref_decode(&g, v)), "flavor %d bias %d mode %d byte %02X: %a, want %a",
                          flavor, bias, mode, v, (double)got, gref_decode(&g, v));
                }
            }
}

/* GAUDI.md 1.2: the same bytes as OCP where the values agree. */
static void test_decode_vs_ocp(void)
{
    const fp8q_gaudi_fp8 g2 = fmt(0, 7, 0), fn = fmt(0, 7, 2), e5 = fmt(1, 15, 0);
    int v;
    for (v = 0; v < 256; v++) {
        const uint32_t ocp4 = bits(fp8q_to_f32((uint8_t)v, FP8Q_E4M3)), ocp5 = bits(fp8q_to_f32((uint8_t)v, FP8Q_E5M2));
        if ((v & 0x7F) <= 0x77)
            CHECK(bits(fp8q_gaudi_to_f32((uint8_t)v, &g2)) == ocp4, "Gaudi2 143 byte %02X differs from OCP", v);
        CHECK(bits(fp8q_gaudi_to_f32((uint8_t)v, &fn)) == ocp4, "FN byte %02X differs from OCP E4M3", v);
        CHECK(bits(fp8q_gaudi_to_f32((uint8_t)v, &e5)) == ocp5, "152 byte %02X differs from OCP E5M2", v);
    }
}

/* ------------------------------------------------------------- encoding */

/* Every finite byte of every format encodes back to itself in every mode,
   clip and random value (an exact input never rounds, not even with SR and
   random 0). */
static void test_round_trip(void)
{
    static const uint32_t randoms[4] = {0, 1, 0x80000000u, 0xFFFFFFFFu};
    int flavor, bias, mode, v, r, c, k;
    for (flavor = 0; flavor < 2; flavor++)
        for (bias = 0; bias <= 63; bias++)
            for (mode = 0; mode < 3; mode++) {
                const fp8q_gaudi_fp8 f = fmt(flavor, bias, mode);
                for (v = 0; v < 256; v++) {
                    const float x = fp8q_gaudi_to_f32((uint8_t)v, &f);
                    if (!isfinite(x)) continue;
                    for (r = 0; r < 7; r++)
                        for (c = 0; c < 3; c++)
                            for (k = 0; k < 4; k++) {
                                const uint8_t got = fp8q_gaudi_from_f32(x, &f, k_modes[r], k_clips[c], randoms[k]);
                                CHECK(got == v,
                                      "flavor %d bias %d mode %d byte %02X rounding %d clip %d random %08X: %02X",
                                      flavor, bias, mode, v, (int)k_modes[r], c, randoms[k], got);
                            }
                }
            }
}

/* The floats of the structured sample around one value y >= 0: y and its
   neighbours +-1..3 float ulps (as bit patterns). */
static int neighbours(uint32_t *out, double y)
{
    const uint32_t b = bits((float)y);
    int n = 0, d;
    for (d = -3; d <= 3; d++)
        if ((int64_t)b + d >= 0 && (int64_t)b + d < 0x7F800000) out[n++] = (uint32_t)((int64_t)b + d);
    return n;
}

/* Positive inputs near every boundary of g: each value, each midpoint
   (and the overflow value and midpoint), +-1..3 ulps; float subnormals,
   the largest float, half the smallest subnormal, zero, inf, NaNs. */
static int structured_inputs(uint32_t *out, const gref_fmt *g)
{
    static const uint32_t extra[] = {0x00000000u, 0x00000001u, 0x00400000u, 0x007FFFFFu, 0x00800000u,
                                     0x7F7FFFFFu, 0x7F800000u, 0x7F800001u, 0x7FC00000u, 0x7FFFFFFFu};
    int n = 0, c;
    size_t i;
    for (c = 0; c <= g->maxc + 1; c++) {
        n += neighbours(out + n, g->v[c]);
        if (c <= g->maxc) n += neighbours(out + n, (g->v[c] + g->v[c + 1]) / 2);
    }
    n += neighbours(out + n, g->v[1] / 2);
    n += neighbours(out + n, g->v[1] / 4);
    n += neighbours(out + n, g->v[g->maxc + 1] * 2);
    for (i = 0; i < sizeof extra / sizeof extra[0]; i++) out[n++] = extra[i];
    return n;
}

/* Every rounding mode, clip and (for SR) random value, both signs, on the
   structured sample of 47 formats, against gaudi_ref.h. */
static void test_rounding_structured(void)
{
    static uint32_t in[0x81 * 2 * 7 + 64];
    fp8q_gaudi_fp8 formats[64];
    const int nf = sample_formats(formats);
    int i, j, r, c, s, k;
    for (i = 0; i < nf; i++) {
        const fp8q_gaudi_fp8 *f = &formats[i];
        gref_fmt g;
        int n;
        gref_init(&g, f->flavor, f->bias, f->infnan);
        n = structured_inputs(in, &g);
        for (j = 0; j < n; j++)
            for (s = 0; s < 2; s++) {
                const float x = from_bits(in[j] | (s ? 0x80000000u : 0));
                const uint32_t d = isfinite(x) ? gref_discarded(&g, fabs((double)x)) : 0;
                const uint32_t randoms[7] = {0, 1, 0x80000000u, 0xFFFFFFFFu, d, d + 1, d - 1};
                for (r = 0; r < 7; r++)
                    for (c = 0; c < 3; c++)
                        for (k = 0; k < (k_modes[r] == FP8Q_GAUDI_SR || k_modes[r] == FP8Q_GAUDI_SRNE ? 7 : 1); k++) {
                            const uint8_t got = fp8q_gaudi_from_f32(x, f, k_modes[r], k_clips[c], randoms[k]);
                            const uint8_t want = gref_encode(&g, x, (int)k_modes[r], c, randoms[k]);
                            CHECK(got == want,
                                  "flavor %d bias %d mode %d x %a (%08X) rounding %d clip %d random %08X: "
                                  "%02X, want %02X",
                                  f->flavor, f->bias, f->infnan, (double)x, bits(x), (int)k_modes[r], c, randoms[k],
                                  got, want);
                        }
            }
    }
}

/* Hand-computed stochastic rounding cases at 143 bias 7 (steps 1/8 in [1, 2)). */
static void test_stochastic_exact(void)
{
    const fp8q_gaudi_fp8 f = fmt(0, 7, 0);
    const fp8q_gaudi_rounding sr = FP8Q_GAUDI_SR, srne = FP8Q_GAUDI_SRNE;
    const float quarter = 1.03125f; /* 1 + 1/4 of a step: discarded bits 0x40000000 */
    CHECK(fp8q_gaudi_from_f32(quarter, &f, sr, FP8Q_GAUDI_NO_CLIP, 0x40000000u) == 0x39, "D == random rounds up");
    CHECK(fp8q_gaudi_from_f32(quarter, &f, sr, FP8Q_GAUDI_NO_CLIP, 0x40000001u) == 0x38, "D < random rounds down");
    CHECK(fp8q_gaudi_from_f32(quarter, &f, sr, FP8Q_GAUDI_NO_CLIP, 0) == 0x39, "random 0 rounds inexact up");
    CHECK(fp8q_gaudi_from_f32(quarter, &f, sr, FP8Q_GAUDI_NO_CLIP, 0xFFFFFFFFu) == 0x38, "random max never rounds up");
    CHECK(fp8q_gaudi_from_f32(-quarter, &f, sr, FP8Q_GAUDI_NO_CLIP, 0x3FFFFFFFu) == 0xB9, "negative: magnitude up");
    CHECK(fp8q_gaudi_from_f32(1.0f, &f, sr, FP8Q_GAUDI_NO_CLIP, 0) == 0x38, "exact input, random 0: no change");
    /* 143 discards 20 bits in a normal binade: at most 0xFFFFF000 once
       left-aligned, which random 0xFFFFF000 still rounds up. */
    CHECK(fp8q_gaudi_from_f32(from_bits(0x3F8FFFFFu), &f, sr, FP8Q_GAUDI_NO_CLIP, 0xFFFFF000u) == 0x39,
          "D = 0xFFFFF000 >= random");
    CHECK(fp8q_gaudi_from_f32(from_bits(0x3F8FFFFFu), &f, sr, FP8Q_GAUDI_NO_CLIP, 0xFFFFF001u) == 0x38,
          "D = 0xFFFFF000 < random");
    /* Subnormal: 1.5 * 2^-9 is half-way between 01 and 02 (D = 0x80000000). */
    CHECK(fp8q_gaudi_from_f32(0x1.8p-9f, &f, sr, FP8Q_GAUDI_NO_CLIP, 0x80000000u) == 0x02, "subnormal SR up");
    CHECK(fp8q_gaudi_from_f32(0x1.8p-9f, &f, sr, FP8Q_GAUDI_NO_CLIP, 0x80000001u) == 0x01, "subnormal SR down");
    /* [2^-10, 2^-9): discarded bits include the leading one (D >= 0x80000000). */
    CHECK(fp8q_gaudi_from_f32(0x1.8p-10f, &f, sr, FP8Q_GAUDI_NO_CLIP, 0xC0000000u) == 0x01, "3/4 of min subnormal up");
    CHECK(fp8q_gaudi_from_f32(0x1.8p-10f, &f, sr, FP8Q_GAUDI_NO_CLIP, 0xC0000001u) == 0x00, "3/4 min subnormal down");
    /* Below half the min subnormal: D = 0, never up, even with random 0. */
    CHECK(fp8q_gaudi_from_f32(0x1.fp-11f, &f, sr, FP8Q_GAUDI_NO_CLIP, 0) == 0x00, "tiny SR gives 0");
    CHECK(fp8q_gaudi_from_f32(-0x1.fp-11f, &f, sr, FP8Q_GAUDI_NO_CLIP, 0) == 0x80, "tiny SR gives -0");
    /* SRNE: RNE below the min normal (2^-6), SR from it on. */
    CHECK(fp8q_gaudi_from_f32(0x1.4p-9f, &f, srne, FP8Q_GAUDI_NO_CLIP, 0) == 0x01, "SRNE subnormal is RNE");
    CHECK(fp8q_gaudi_from_f32(quarter, &f, srne, FP8Q_GAUDI_NO_CLIP, 0) == 0x39, "SRNE normal is SR");
    /* Overflow: SR past 240 gives inf, or 240 when the random says down. */
    CHECK(fp8q_gaudi_from_f32(244.0f, &f, sr, FP8Q_GAUDI_NO_CLIP, 0x40000000u) == 0x78, "SR overflow to inf");
    CHECK(fp8q_gaudi_from_f32(244.0f, &f, sr, FP8Q_GAUDI_NO_CLIP, 0x40000001u) == 0x77, "SR stays at 240");
    CHECK(fp8q_gaudi_from_f32(300.0f, &f, sr, FP8Q_GAUDI_NO_CLIP, 0xFFFFFFFFu) == 0x78, "SR beyond 256 is inf");
}

/* Structured floats: every u with low 16 bits in {0, 1, 7FFF, 8000, 8001, FFFF}. */
static float sample_float(uint32_t i) /* i < 6 * 65536 */
{
    static const uint32_t lows[6] = {0, 1, 0x7FFF, 0x8000, 0x8001, 0xFFFF};
    return from_bits(((i % 65536u) << 16) | lows[i / 65536u]);
}

/* GAUDI.md 1.2, 3: where Gaudi's converter equals fp8q's OCP encoders. */
static void test_ocp_equalities(void)
{
    const fp8q_gaudi_fp8 g2 = fmt(0, 7, 0), fn = fmt(0, 7, 2), e5 = fmt(1, 15, 0);
    const fp8q_gaudi_rounding rne = FP8Q_GAUDI_RNE;
    uint32_t i;
    for (i = 0; i < 6u * 65536u; i++) {
        const float x = sample_float(i);
        const int neg_nan = isnan(x) && signbit(x);
        if (!(fabsf(x) > 240.0f))
            CHECK(fp8q_gaudi_from_f32(x, &g2, rne, FP8Q_GAUDI_SATURATE, 0) ==
                      fp8q_from_f32(x, FP8Q_E4M3, FP8Q_SATFINITE),
                  "Gaudi2 vs OCP E4M3 at %a", (double)x);
        CHECK(fp8q_gaudi_from_f32(x, &fn, rne, FP8Q_GAUDI_NO_CLIP, 0) ==
                  (neg_nan ? 0xFF : fp8q_from_f32(x, FP8Q_E4M3, FP8Q_NOSAT)),
              "FN vs OCP E4M3 NOSAT at %a", (double)x);
        CHECK(fp8q_gaudi_from_f32(x, &fn, rne, FP8Q_GAUDI_SATURATE, 0) ==
                  (neg_nan ? 0xFF : fp8q_from_f32(x, FP8Q_E4M3, FP8Q_SATFINITE)),
              "FN vs OCP E4M3 SATFINITE at %a", (double)x);
        CHECK(fp8q_gaudi_from_f32(x, &e5, rne, FP8Q_GAUDI_NO_CLIP, 0) == fp8q_from_f32(x, FP8Q_E5M2, FP8Q_NOSAT),
              "152 vs OCP E5M2 NOSAT at %a", (double)x);
        CHECK(fp8q_gaudi_from_f32(x, &e5, rne, FP8Q_GAUDI_SATURATE, 0) == fp8q_from_f32(x, FP8Q_E5M2, FP8Q_SATFINITE),
              "152 vs OCP E5M2 SATFINITE at %a", (double)x);
    }
}

/* PTB test_cast_to_fp8_v2_out_of_range (GAUDI.md 3) with the default formats. */
static void test_ptb_anchors(void)
{
    static const float e4_in[4] = {500.0f, -500.0f, 1000.0f, -1000.0f},
                       e5_in[4] = {60000.0f, -60000.0f, 100000.0f, -100000.0f};
    static const fp8q_gaudi devices[2] = {FP8Q_GAUDI2, FP8Q_GAUDI3};
    int d, i;
    for (d = 0; d < 2; d++) {
        const fp8q_gaudi_fp8 f4 = fp8q_gaudi_fp8_default(devices[d], FP8Q_GAUDI_143);
        const fp8q_gaudi_fp8 f5 = fp8q_gaudi_fp8_default(devices[d], FP8Q_GAUDI_152);
        const float max4 = devices[d] == FP8Q_GAUDI2 ? 240.0f : 448.0f;
        uint8_t q4[4], q5[4];
        CHECK(fp8q_gaudi_encode_f32(q4, e4_in, 4, &f4, FP8Q_GAUDI_RNE, FP8Q_GAUDI_SATURATE, 1.0f, NULL) == FP8Q_OK,
              "encode");
        CHECK(fp8q_gaudi_encode_f32(q5, e5_in, 4, &f5, FP8Q_GAUDI_RNE, FP8Q_GAUDI_SATURATE, 1.0f, NULL) == FP8Q_OK,
              "encode");
        for (i = 0; i < 4; i++) {
            const float s = i % 2 ? -1.0f : 1.0f;
            CHECK(fp8q_gaudi_to_f32(q4[i], &f4) == s * max4, "device %d E4M3 %g -> %g", (int)devices[d],
                  (double)e4_in[i], (double)fp8q_gaudi_to_f32(q4[i], &f4));
            CHECK(fp8q_gaudi_to_f32(q5[i], &f5) == s * 57344.0f, "device %d E5M2 %g -> %g", (int)devices[d],
                  (double)e5_in[i], (double)fp8q_gaudi_to_f32(q5[i], &f5));
        }
        /* INC's fullscale is the default format's maximum. */
        CHECK(fp8q_inc_fullscale(devices[d]) == fp8q_gaudi_max(&f4), "INC fullscale of device %d", (int)devices[d]);
    }
}

/* ------------------------------------------------------------------ bulk */

static uint32_t lcg(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state;
}

static void test_bulk_matches_scalar(void)
{
    enum { N = 4099 };
    static float src[N];
    static uint16_t src16[N];
    static uint32_t rnd[N];
    static uint8_t q[N], q16[N];
    static float y[N];
    static const float inv_scales[5] = {1.0f, 3.7f, 1.0f / 448.0f, 0x1p-20f, 1e30f};
    const fp8q_gaudi_fp8 formats[4] = {fmt(0, 7, 0), fmt(0, 11, 2), fmt(1, 15, 0), fmt(0, 40, 1)};
    uint32_t state = 12345u;
    int i, fi, si, r, c;
    for (i = 0; i < N; i++) {
        uint32_t u = lcg(&state);
        if (i % 16 == 0) u = (u & 0x80000000u) | 0x7F800000u | (i % 32 == 0 ? 0 : 0x1234u); /* inf, NaN */
        if (i % 16 == 1) u &= 0x80FFFFFFu;                                                  /* tiny, subnormal */
        if (i % 4 == 2) u = (u & 0x87FFFFFFu) | 0x38000000u;                                /* near 1 */
        if (i % 64 == 3) u &= 0x80000000u;                                                  /* +-0 */
        src[i] = from_bits(u);
        src16[i] = (uint16_t)(u >> 16);
        rnd[i] = lcg(&state);
    }
    for (fi = 0; fi < 4; fi++)
        for (si = 0; si < 5; si++)
            for (r = 0; r < 7; r++)
                for (c = 0; c < 3; c++) {
                    const fp8q_gaudi_fp8 *f = &formats[fi];
                    const float inv = inv_scales[si];
                    CHECK(fp8q_gaudi_encode_f32(q, src, N, f, k_modes[r], k_clips[c], inv, rnd) == FP8Q_OK, "f32");
                    CHECK(fp8q_gaudi_encode_bf16(q16, src16, N, f, k_modes[r], k_clips[c], inv, rnd) == FP8Q_OK,
                          "bf16");
                    for (i = 0; i < N; i++) {
                        const float x = inv == 1.0f ? src[i] : src[i] * inv;
                        const float x16 = inv == 1.0f ? fp8q_bf16_to_f32(src16[i]) : fp8q_bf16_to_f32(src16[i]) * inv;
                        CHECK(q[i] == fp8q_gaudi_from_f32(x, f, k_modes[r], k_clips[c], rnd[i]),
                              "encode_f32 format %d inv %g rounding %d clip %d element %d", fi, (double)inv,
                              (int)k_modes[r], c, i);
                        CHECK(q16[i] == fp8q_gaudi_from_f32(x16, f, k_modes[r], k_clips[c], rnd[i]),
                              "encode_bf16 format %d inv %g rounding %d clip %d element %d", fi, (double)inv,
                              (int)k_modes[r], c, i);
                    }
                }
    for (fi = 0; fi < 4; fi++)
        for (si = 0; si < 5; si++) {
            for (i = 0; i < 256; i++) q[i] = (uint8_t)i;
            CHECK(fp8q_gaudi_decode_f32(y, q, 256, &formats[fi], inv_scales[si]) == FP8Q_OK, "decode");
            for (i = 0; i < 256; i++) {
                const float want = fp8q_gaudi_to_f32((uint8_t)i, &formats[fi]) * inv_scales[si];
                CHECK(isnan(want) ? bits(y[i]) == 0x7FFFFFFFu : bits(y[i]) == bits(want), "decode format %d byte %02X",
                      fi, i);
            }
        }
}

static void test_bulk_arguments(void)
{
    const fp8q_gaudi_fp8 ok = fmt(0, 7, 0), bad_bias = fmt(0, 64, 0), bad_mode = fmt(0, 7, 3),
                         bad_flavor = fmt(2, 7, 0);
    const float x = 1.0f;
    const uint16_t h = 0x3F80u;
    const uint32_t rnd = 0;
    uint8_t q = 0;
    float y;
    CHECK(fp8q_gaudi_encode_f32(&q, &x, 1, &ok, FP8Q_GAUDI_RNE, FP8Q_GAUDI_NO_CLIP, 1.0f, NULL) == FP8Q_OK && q == 0x38,
          "encode 1.0");
    CHECK(fp8q_gaudi_encode_f32(NULL, NULL, 0, &ok, FP8Q_GAUDI_SR, FP8Q_GAUDI_NO_CLIP, 1.0f, NULL) == FP8Q_OK, "n = 0");
    CHECK(fp8q_gaudi_encode_f32(NULL, &x, 1, &ok, FP8Q_GAUDI_RNE, FP8Q_GAUDI_NO_CLIP, 1.0f, NULL) == FP8Q_ERR_ARG,
          "NULL dst");
    CHECK(fp8q_gaudi_encode_f32(&q, NULL, 1, &ok, FP8Q_GAUDI_RNE, FP8Q_GAUDI_NO_CLIP, 1.0f, NULL) == FP8Q_ERR_ARG,
          "NULL src");
    CHECK(fp8q_gaudi_encode_f32(&q, &x, 1, &ok, FP8Q_GAUDI_SR, FP8Q_GAUDI_NO_CLIP, 1.0f, NULL) == FP8Q_ERR_ARG,
          "SR without random");
    CHECK(fp8q_gaudi_encode_bf16(&q, &h, 1, &ok, FP8Q_GAUDI_SRNE, FP8Q_GAUDI_NO_CLIP, 1.0f, NULL) == FP8Q_ERR_ARG,
          "SRNE without random");
    CHECK(fp8q_gaudi_encode_f32(&q, &x, 1, &ok, FP8Q_GAUDI_SR, FP8Q_GAUDI_NO_CLIP, 1.0f, &rnd) == FP8Q_OK, "SR");
    CHECK(fp8q_gaudi_encode_f32(&q, &x, 1, &ok, (fp8q_gaudi_rounding)5, FP8Q_GAUDI_NO_CLIP, 1.0f, NULL) == FP8Q_ERR_ARG,
          "rounding 5");
    CHECK(fp8q_gaudi_encode_f32(&q, &x, 1, &ok, FP8Q_GAUDI_RNE, (fp8q_gaudi_clip)3, 1.0f, NULL) == FP8Q_ERR_ARG,
          "clip 3");
    CHECK(fp8q_gaudi_encode_bf16(&q, &h, 1, &bad_bias, FP8Q_GAUDI_RNE, FP8Q_GAUDI_NO_CLIP, 1.0f, NULL) == FP8Q_ERR_ARG,
          "bias 64");
    CHECK(fp8q_gaudi_encode_f32(&q, &x, 1, NULL, FP8Q_GAUDI_RNE, FP8Q_GAUDI_NO_CLIP, 1.0f, NULL) == FP8Q_ERR_ARG,
          "NULL format");
    CHECK(fp8q_gaudi_decode_f32(&y, &q, 1, &bad_mode, 1.0f) == FP8Q_ERR_ARG, "decode mode 3");
    CHECK(fp8q_gaudi_decode_f32(NULL, &q, 1, &ok, 1.0f) == FP8Q_ERR_ARG, "decode NULL dst");
    CHECK(fp8q_gaudi_decode_f32(NULL, NULL, 0, &ok, 1.0f) == FP8Q_OK, "decode n = 0");
    /* The scalar functions assert on invalid arguments, then give 0 / NaN. */
    g_asserts = 0;
    CHECK(fp8q_gaudi_from_f32(1.0f, &bad_flavor, FP8Q_GAUDI_RNE, FP8Q_GAUDI_NO_CLIP, 0) == 0, "invalid flavour");
    CHECK(fp8q_gaudi_from_f32(1.0f, &ok, (fp8q_gaudi_rounding)5, FP8Q_GAUDI_NO_CLIP, 0) == 0, "rounding 5");
    CHECK(fp8q_gaudi_from_f32(1.0f, &ok, FP8Q_GAUDI_RNE, (fp8q_gaudi_clip)3, 0) == 0, "clip 3");
    CHECK(isnan(fp8q_gaudi_to_f32(0x38, &bad_bias)), "decode with bias 64");
    CHECK(isnan(fp8q_gaudi_max(NULL)), "max of NULL");
    CHECK(g_asserts == 5, "%d assertions, want 5", g_asserts);
}

/* ------------------------------------------------ devices, scales, biases */

static void test_fp8_check(void)
{
    typedef struct {
        int device, flavor, bias, mode;
        fp8q_result want;
    } check_case;
    static const check_case cases[] = {
        {2, 0, 3, 0, FP8Q_OK},       {2, 0, 7, 0, FP8Q_OK},       {2, 0, 11, 0, FP8Q_OK},
        {2, 0, 15, 0, FP8Q_OK},      {2, 0, 0, 0, FP8Q_ERR_ARG},  {2, 0, 5, 0, FP8Q_ERR_ARG},
        {2, 0, 8, 0, FP8Q_ERR_ARG},  {2, 0, 16, 0, FP8Q_ERR_ARG}, {2, 0, 63, 0, FP8Q_ERR_ARG},
        {2, 0, 7, 1, FP8Q_ERR_ARG},  {2, 0, 7, 2, FP8Q_ERR_ARG},  {2, 1, 15, 0, FP8Q_OK},
        {2, 1, 14, 0, FP8Q_ERR_ARG}, {2, 1, 16, 0, FP8Q_ERR_ARG}, {2, 1, 7, 0, FP8Q_ERR_ARG},
        {2, 1, 15, 2, FP8Q_ERR_ARG}, {3, 0, 0, 0, FP8Q_OK},       {3, 0, 63, 2, FP8Q_OK},
        {3, 1, 0, 1, FP8Q_OK},       {3, 1, 63, 0, FP8Q_OK},      {3, 0, -1, 0, FP8Q_ERR_ARG},
        {3, 0, 64, 0, FP8Q_ERR_ARG}, {3, 1, 64, 2, FP8Q_ERR_ARG}, {3, 2, 7, 0, FP8Q_ERR_ARG},
        {3, 0, 7, 3, FP8Q_ERR_ARG},  {4, 0, 7, 0, FP8Q_ERR_ARG},  {1, 0, 7, 0, FP8Q_ERR_ARG},
    };
    size_t i;
    int flavor, bias, mode;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const check_case *c = &cases[i];
        const fp8q_gaudi_fp8 f = fmt(c->flavor, c->bias, c->mode);
        CHECK(fp8q_gaudi_fp8_check(&f, (fp8q_gaudi)c->device) == c->want, "device %d flavor %d bias %d mode %d",
              c->device, c->flavor, c->bias, c->mode);
    }
    for (flavor = 0; flavor < 2; flavor++)
        for (bias = 0; bias <= 63; bias++)
            for (mode = 0; mode < 3; mode++) {
                const fp8q_gaudi_fp8 f = fmt(flavor, bias, mode);
                CHECK(fp8q_gaudi_fp8_check(&f, FP8Q_GAUDI3) == FP8Q_OK, "Gaudi3 %d %d %d", flavor, bias, mode);
            }
    CHECK(fp8q_gaudi_fp8_check(NULL, FP8Q_GAUDI3) == FP8Q_ERR_ARG, "NULL");
}

static void test_defaults(void)
{
    const fp8q_gaudi_fp8 a = fp8q_gaudi_fp8_default(FP8Q_GAUDI2, FP8Q_GAUDI_143);
    const fp8q_gaudi_fp8 b = fp8q_gaudi_fp8_default(FP8Q_GAUDI2, FP8Q_GAUDI_152);
    const fp8q_gaudi_fp8 c = fp8q_gaudi_fp8_default(FP8Q_GAUDI3, FP8Q_GAUDI_143);
    const fp8q_gaudi_fp8 d = fp8q_gaudi_fp8_default(FP8Q_GAUDI3, FP8Q_GAUDI_152);
    fp8q_gaudi_fp8 e;
    CHECK(a.flavor == FP8Q_GAUDI_143 && a.bias == 7 && a.infnan == FP8Q_GAUDI_INFNAN_LEGACY, "Gaudi2 143");
    CHECK(b.flavor == FP8Q_GAUDI_152 && b.bias == 15 && b.infnan == FP8Q_GAUDI_INFNAN_LEGACY, "Gaudi2 152");
    CHECK(c.flavor == FP8Q_GAUDI_143 && c.bias == 7 && c.infnan == FP8Q_GAUDI_INFNAN_FN, "Gaudi3 143");
    CHECK(d.flavor == FP8Q_GAUDI_152 && d.bias == 15 && d.infnan == FP8Q_GAUDI_INFNAN_LEGACY, "Gaudi3 152");
    CHECK(fp8q_gaudi_fp8_check(&a, FP8Q_GAUDI2) == FP8Q_OK && fp8q_gaudi_fp8_check(&b, FP8Q_GAUDI2) == FP8Q_OK &&
              fp8q_gaudi_fp8_check(&c, FP8Q_GAUDI3) == FP8Q_OK && fp8q_gaudi_fp8_check(&d, FP8Q_GAUDI3) == FP8Q_OK,
          "defaults are supported");
    g_asserts = 0;
    e = fp8q_gaudi_fp8_default((fp8q_gaudi)1, FP8Q_GAUDI_152);
    CHECK(g_asserts == 1 && e.flavor == FP8Q_GAUDI_143 && e.bias == 7 && e.infnan == FP8Q_GAUDI_INFNAN_LEGACY,
          "unknown device");
}

static void test_hw_scales(void)
{
    float s[70];
    size_t n, i;
    const fp8q_gaudi_fp8 g2 = fmt(0, 7, 0), g3 = fmt(0, 7, 2);
    n = fp8q_gaudi_hw_scales(FP8Q_GAUDI2, s, 70);
    CHECK(n == 4 && s[0] == 16.0f && s[1] == 1.0f && s[2] == 0.0625f && s[3] == 0.00390625f, "Gaudi2 set (%d)", (int)n);
    n = fp8q_gaudi_hw_scales(FP8Q_GAUDI3, s, 70);
    CHECK(n == 64, "Gaudi3 count %d", (int)n);
    for (i = 0; i < n; i++) CHECK(s[i] == ldexpf(1.0f, 7 - (int)i), "Gaudi3 scale %d: %a", (int)i, (double)s[i]);
    s[2] = -1.0f;
    CHECK(fp8q_gaudi_hw_scales(FP8Q_GAUDI3, s, 2) == 64 && s[0] == 128.0f && s[1] == 64.0f && s[2] == -1.0f, "cap 2");
    CHECK(fp8q_gaudi_hw_scales(FP8Q_GAUDI2, NULL, 0) == 4, "count only");
    CHECK(fp8q_gaudi_hw_scales((fp8q_gaudi)4, s, 70) == 0, "unknown device");
    /* Every HW-aligned scale is absorbed into a bias, INC's HW_ALIGNED
       scales are HW-aligned. */
    for (i = 0; i < fp8q_gaudi_hw_scales(FP8Q_GAUDI2, s, 70); i++) {
        fp8q_gaudi_fp8 out;
        CHECK(fp8q_gaudi_absorb_scale(s[i], &g2, FP8Q_GAUDI2, &out), "Gaudi2 scale %g", (double)s[i]);
    }
    for (i = 0; i < fp8q_gaudi_hw_scales(FP8Q_GAUDI3, s, 70); i++) {
        fp8q_gaudi_fp8 out;
        CHECK(fp8q_gaudi_absorb_scale(s[i], &g3, FP8Q_GAUDI3, &out), "Gaudi3 scale %a", (double)s[i]);
    }
    {
        static const fp8q_gaudi devices[2] = {FP8Q_GAUDI2, FP8Q_GAUDI3};
        int d, e;
        for (d = 0; d < 2; d++) {
            const size_t count = fp8q_gaudi_hw_scales(devices[d], s, 70);
            for (e = -80; e <= 80; e++) {
                const float inc = fp8q_inc_scale(ldexpf(1.3f, e), FP8Q_INC_HW_ALIGNED, devices[d], 0.25f);
                int found = 0;
                for (i = 0; i < count; i++) found |= s[i] == inc;
                CHECK(found, "INC HW_ALIGNED scale %a of device %d is not in the set", (double)inc, (int)devices[d]);
            }
        }
    }
}

static void test_absorb_scale(void)
{
    fp8q_gaudi_fp8 formats[64];
    const int nf = sample_formats(formats);
    static const fp8q_gaudi devices[2] = {FP8Q_GAUDI2, FP8Q_GAUDI3};
    int i, d, k, v;
    for (i = 0; i < nf; i++)
        for (d = 0; d < 2; d++)
            for (k = -70; k <= 70; k++) {
                const fp8q_gaudi_fp8 *f = &formats[i];
                const float s = ldexpf(1.0f, k);
                fp8q_gaudi_fp8 want = *f, out = fmt(1, 99, 1);
                const int ok = fp8q_gaudi_absorb_scale(s, f, devices[d], &out);
                want.bias = f->bias - k;
                CHECK(ok == (fp8q_gaudi_fp8_check(&want, devices[d]) == FP8Q_OK), "absorb 2^%d into bias %d", k,
                      f->bias);
                if (!ok) {
                    CHECK(out.bias == 99, "out written on failure");
                    continue;
                }
                CHECK(out.flavor == f->flavor && out.bias == want.bias && out.infnan == f->infnan, "absorbed format");
                for (v = 0; v < 256; v++) {
                    const float a = fp8q_gaudi_to_f32((uint8_t)v, f), b = fp8q_gaudi_to_f32((uint8_t)v, &out);
                    if (isfinite(a))
                        CHECK((double)b == (double)a * s, "byte %02X: %a * 2^%d != %a", v, (double)a, k, (double)b);
                    else
                        CHECK(bits(a) == bits(b), "special byte %02X", v);
                }
            }
    {
        static const float not_pow2[] = {3.0f, 0.75f, 0.0f, -0.0f, -1.0f, -0.5f, 1.0000001f, 0x1.8p-140f};
        const fp8q_gaudi_fp8 f = fmt(0, 7, 0);
        fp8q_gaudi_fp8 out;
        size_t j;
        for (j = 0; j < sizeof not_pow2 / sizeof not_pow2[0]; j++)
            CHECK(!fp8q_gaudi_absorb_scale(not_pow2[j], &f, FP8Q_GAUDI3, &out), "%a is not absorbable",
                  (double)not_pow2[j]);
        CHECK(!fp8q_gaudi_absorb_scale(NAN, &f, FP8Q_GAUDI3, &out), "NaN");
        CHECK(!fp8q_gaudi_absorb_scale(INFINITY, &f, FP8Q_GAUDI3, &out), "inf");
        CHECK(!fp8q_gaudi_absorb_scale(0x1p-140f, &f, FP8Q_GAUDI3, &out), "2^-140: bias 147");
        CHECK(fp8q_gaudi_absorb_scale(0x1p-56f, &f, FP8Q_GAUDI3, &out) && out.bias == 63, "2^-56: bias 63");
        CHECK(!fp8q_gaudi_absorb_scale(1.0f, &f, FP8Q_GAUDI3, NULL), "NULL out");
        CHECK(!fp8q_gaudi_absorb_scale(1.0f, NULL, FP8Q_GAUDI3, &out), "NULL format");
        CHECK(!fp8q_gaudi_absorb_scale(2.0f, &f, FP8Q_GAUDI2, &out), "Gaudi2 has no bias 6");
        CHECK(fp8q_gaudi_absorb_scale(16.0f, &f, FP8Q_GAUDI2, &out) && out.bias == 3, "Gaudi2 16 -> bias 3");
    }
}

int main(void)
{
    run_case("decode: spec anchors", test_decode_anchors);
    run_case("decode: every byte of every format", test_decode_every_byte);
    run_case("decode: same bytes as OCP E4M3/E5M2", test_decode_vs_ocp);
    run_case("encode: every finite byte round-trips in every mode", test_round_trip);
    run_case("encode: every rounding mode on a structured sample vs reference", test_rounding_structured);
    run_case("encode: stochastic rounding for given random bits", test_stochastic_exact);
    run_case("encode: equalities with fp8q's OCP encoders", test_ocp_equalities);
    run_case("encode: PTB saturation anchors, INC fullscale", test_ptb_anchors);
    run_case("bulk: equal to the scalar functions, with scaling", test_bulk_matches_scalar);
    run_case("bulk and scalar: invalid arguments", test_bulk_arguments);
    run_case("devices: fp8_check accept/reject", test_fp8_check);
    run_case("devices: default formats", test_defaults);
    run_case("scales: HW-aligned sets", test_hw_scales);
    run_case("scales: absorbing a power of two into the bias", test_absorb_scale);
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
