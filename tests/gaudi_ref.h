/* An independent reference for Gaudi FP8 numerics, shared by
   tests/test_gaudi.c and tests/check_gaudi.c. Written from GAUDI.md 1-3 and
   the RTL model's rules (see fp8q_gaudi_from_f32), it shares no code with
   fp8q.h: it lists a format's values in double precision from the value
   formula and rounds by searching them, with double arithmetic (every
   operation here is exact). Plain ints stand for the enums:
     flavor 0 = 143 (E4M3), 1 = 152 (E5M2); mode 0 LEGACY, 1 NONE, 2 FN;
     rounding 0 RNE, 1 RZ, 2 RU, 3 RD, 4 SR, 6 RHAZ, 7 SRNE;
     clip 0 none, 1 saturate (also +-inf inputs), 2 finite overflow only.
   Include after <math.h>, <stdint.h> and <string.h>. */
#ifndef FP8Q_TEST_GAUDI_REF_H
#define FP8Q_TEST_GAUDI_REF_H

typedef struct gref_fmt {
    int m, bias, mode;
    int maxc;       /* largest finite magnitude code */
    int inf_code;   /* LEGACY's +inf code */
    double v[0x81]; /* v[c]: value of magnitude code c by the formula, c = 0..maxc + 1 */
} gref_fmt;

/* The value formula of GAUDI.md 1.1 with no special codes. */
static double gref_code_value(int m, int bias, int c)
{
    const int e = c >> m, man = c & ((1 << m) - 1);
    return e == 0 ? ldexp((double)man, 1 - bias - m) : ldexp((double)((1 << m) + man), e - bias - m);
}

static void gref_init(gref_fmt *g, int flavor, int bias, int mode)
{
    int c;
    g->m = flavor == 0 ? 3 : 2;
    g->bias = bias;
    g->mode = mode;
    g->inf_code = flavor == 0 ? 0x78 : 0x7C;
    g->maxc = mode == 0 ? g->inf_code - 1 : mode == 2 ? 0x7E : 0x7F;
    for (c = 0; c <= g->maxc + 1; c++) g->v[c] = gref_code_value(g->m, bias, c);
}

/* What byte v is: 0 a number, 1 an infinity, 2 NaN. */
static int gref_kind(const gref_fmt *g, int v)
{
    const int mag = v & 0x7F;
    if (g->mode == 0 && (mag >> g->m) == (g->inf_code >> g->m)) return (mag & ((1 << g->m) - 1)) ? 2 : 1;
    if (g->mode == 2 && mag == 0x7F) return 2;
    return 0;
}

/* The exact value of byte v (NaN for NaN codes). */
static double gref_decode(const gref_fmt *g, int v)
{
    const int kind = gref_kind(g, v);
    const double s = (v & 0x80) ? -1.0 : 1.0;
    if (kind == 2) return NAN;
    if (kind == 1) return s * INFINITY;
    return s * gref_code_value(g->m, g->bias, v & 0x7F);
}

static int gref_toward_zero(int r, int neg) { return r == 1 || (r == 2 && neg) || (r == 3 && !neg); }

/* Largest code c <= maxc with v[c] <= a (a >= 0). */
static int gref_floor_code(const gref_fmt *g, double a)
{
    int lo = 0, hi = g->maxc;
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (g->v[mid] <= a)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* SR's discarded bits left-aligned to 32 bits: the fraction of the way from
   the code below a to the one above, times 2^32; 0 below half the smallest
   subnormal (the model treats those as discarding nothing). */
static uint32_t gref_discarded(const gref_fmt *g, double a)
{
    int lo;
    if (a < g->v[1] / 2 || a >= g->v[g->maxc + 1]) return 0;
    lo = gref_floor_code(g, a);
    return (uint32_t)((a - g->v[lo]) / (g->v[lo + 1] - g->v[lo]) * 4294967296.0);
}

/* The rounded magnitude code of a > 0, maxc + 1 meaning overflow. */
static int gref_round(const gref_fmt *g, double a, int neg, int r, uint32_t random)
{
    int lo, hi;
    double frac;
    if (a >= g->v[g->maxc + 1]) return gref_toward_zero(r, neg) ? g->maxc : g->maxc + 1;
    lo = gref_floor_code(g, a);
    if (g->v[lo] == a) return lo;
    hi = lo + 1;
    frac = (a - g->v[lo]) / (g->v[hi] - g->v[lo]);
    if (r == 7) r = a < g->v[1 << g->m] ? 0 : 4; /* SRNE: RNE below the smallest normal */
    switch (r) {
    case 0: return frac > 0.5 || (frac == 0.5 && hi % 2 == 0) ? hi : lo;
    case 1: return lo;
    case 2: return neg ? lo : hi;
    case 3: return neg ? hi : lo;
    case 6: return frac >= 0.5 ? hi : lo;
    default: {
        const uint32_t d = gref_discarded(g, a);
        return d != 0 && d >= random ? hi : lo;
    }
    }
}

static uint8_t gref_encode(const gref_fmt *g, float x, int r, int clip, uint32_t random)
{
    uint32_t u, sign;
    int c;
    memcpy(&u, &x, 4);
    sign = (u >> 24) & 0x80u;
    if (isnan(x)) return (uint8_t)(g->mode == 2 ? 0x7Fu | sign : 0x7Fu);
    if (isinf(x)) {
        if (g->mode == 1 || clip == 1) return (uint8_t)(g->maxc | (int)sign);
        return (uint8_t)((g->mode == 0 ? g->inf_code : 0x7F) | (int)sign);
    }
    if (x == 0) return (uint8_t)sign;
    c = gref_round(g, fabs((double)x), sign != 0, r, random);
    if (c > g->maxc)
        c = g->mode == 1 || clip != 0 || gref_toward_zero(r, sign != 0) ? g->maxc : g->mode == 0 ? g->inf_code : 0x7F;
    return (uint8_t)(c | (int)sign);
}

#endif
