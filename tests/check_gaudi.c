/* Exhaustive checks of the Gaudi FP8 converter for `make check`:
   - RNE over all 2^32 float32 inputs against an independent reference (the
     127 positive rounding thresholds of the format, computed exactly from
     gaudi_ref.h's values, swept in increasing order: O(1) per input), the
     clip mode cycling NO_CLIP / SATURATE / CLIP_FINITE from one block of
     4096 inputs to the next; the bulk encoder on every input, the scalar
     one on every 16th. By default every Gaudi2 format (143 biases 3, 7, 11,
     15; 152 bias 15) and Gaudi3 biases 0, 7, 63 (143) and 0, 15, 63 (152)
     in each inf/NaN mode: 21 formats (Gaudi3's LEGACY formats at Gaudi2
     biases are Gaudi2's), about 6 CPU minutes; --all: every Gaudi3 format,
     384 (about 100 CPU minutes).
   - RZ, RU, RD, RHAZ, SR and SRNE at every format (2 flavours x 64 biases x
     3 modes): every float whose low 13 bits are 0 (2^19 inputs) plus the
     neighbourhood (+-3 ulps) of every value and midpoint, SR and SRNE with a
     pseudo-random value, D and D + 1 (D: the input's discarded bits), against
     gaudi_ref.h.
   Usage: check_gaudi [--all] [--threads N] (default 2 threads). Prints the
   time and coverage; ends with "N passed, N failed". */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FP8Q_IMPLEMENTATION
#include "fp8q.h"

#include "gaudi_ref.h"

static int g_passed, g_failed;

static const fp8q_gaudi_clip k_clips[3] = {FP8Q_GAUDI_NO_CLIP, FP8Q_GAUDI_SATURATE, FP8Q_GAUDI_CLIP_FINITE};
static const char *const k_mode_names[3] = {"LEGACY", "NONE", "FN"};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* CPU seconds of all threads: with other jobs on the machine the wall time
   says little. */
static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static float from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static uint32_t bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static fp8q_gaudi_fp8 fmt(int flavor, int bias, int mode)
{
    fp8q_gaudi_fp8 f;
    f.flavor = (fp8q_gaudi_flavor)flavor;
    f.bias = bias;
    f.infnan = (fp8q_gaudi_infnan)mode;
    return f;
}

/* Counts and prints one check; t0, c0: its start (now(), cpu_now()). */
static void report(const char *what, unsigned long long mismatches, unsigned long long checked, double t0, double c0)
{
    if (mismatches)
        g_failed++;
    else
        g_passed++;
    printf("%-4s %-52s %llu mismatches in %llu (%.1f s, %.1f s CPU)\n", mismatches ? "FAIL" : "ok", what, mismatches,
           checked, now() - t0, cpu_now() - c0);
    fflush(stdout);
}

/* Runs fn(arg_i) on n threads, arg_i = base + i * size. */
static void run_threads(int n, void *(*fn)(void *), void *base, size_t size)
{
    pthread_t th[64];
    int i;
    for (i = 0; i < n; i++)
        if (pthread_create(&th[i], NULL, fn, (char *)base + (size_t)i * size) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            exit(2);
        }
    for (i = 0; i < n; i++) pthread_join(th[i], NULL);
}

/* ------------------------------------------------------ RNE, all inputs */

/* RNE of a positive finite float with bits a < 0x7F800000 is the number of
   thresholds t[c] <= a, c = 0..maxc: t[c] is the first float that rounds to
   code c + 1 or above (c + 1 = maxc + 1 means overflow). Midpoints of FP8
   values have at most 6 significant bits, so they are floats; a tie goes to
   the even code. */
typedef struct rne_table {
    gref_fmt g;
    uint32_t t[0x80];
    uint8_t ovf[3][2]; /* [clip][sign]: the overflow byte */
} rne_table;

static void rne_table_init(rne_table *rt, const fp8q_gaudi_fp8 *f)
{
    int c, k;
    gref_init(&rt->g, f->flavor, f->bias, f->infnan);
    for (c = 0; c <= rt->g.maxc; c++) {
        const double mid = (rt->g.v[c] + rt->g.v[c + 1]) / 2;
        const uint32_t mb = bits((float)mid);
        if ((double)(float)mid != mid) {
            fprintf(stderr, "midpoint %a is not a float\n", mid);
            exit(2);
        }
        rt->t[c] = (c + 1) % 2 == 0 ? mb : mb + 1;
    }
    for (k = 0; k < 3; k++) {
        rt->ovf[k][0] = gref_encode(&rt->g, 3.0e38f, 0, k, 0);
        rt->ovf[k][1] = gref_encode(&rt->g, -3.0e38f, 0, k, 0);
    }
}

typedef struct rne_job {
    const rne_table *rt;
    fp8q_gaudi_fp8 f;
    uint32_t lo, hi; /* magnitudes a in [lo, hi) */
    unsigned long long mismatches, ref_disagreements;
    uint32_t first_bad;
} rne_job;

/* Compares one result; remembers the first mismatch. */
static void tally(rne_job *j, uint8_t got, uint8_t want, uint32_t u)
{
    if (got == want) return;
    if (!j->mismatches) j->first_bad = u;
    j->mismatches++;
}

/* Blocks of 4096 magnitudes, each encoded positive and negative with the
   bulk encoder (every 16th input also with the scalar one); the clip mode
   cycles from block to block, so each covers a third of every region. */
static void *rne_sweep(void *arg)
{
    enum { B = 4096 };
    rne_job *j = (rne_job *)arg;
    const rne_table *rt = j->rt;
    const int nt = rt->g.maxc + 1;
    float xp[B], xn[B];
    uint8_t qp[B], qn[B];
    int idx = 0;
    uint32_t base;
    while (idx < nt && rt->t[idx] <= j->lo) idx++;
    for (base = j->lo; base < j->hi; base += B) {
        const uint32_t n = j->hi - base < B ? j->hi - base : B;
        const fp8q_gaudi_clip cp = k_clips[(base / B) % 3], cn = k_clips[(base / B + 1) % 3];
        uint32_t i;
        for (i = 0; i < n; i++) {
            xp[i] = from_bits(base + i);
            xn[i] = from_bits((base + i) | 0x80000000u);
        }
        fp8q_gaudi_encode_f32(qp, xp, n, &j->f, FP8Q_GAUDI_RNE, cp, 1.0f, NULL);
        fp8q_gaudi_encode_f32(qn, xn, n, &j->f, FP8Q_GAUDI_RNE, cn, 1.0f, NULL);
        for (i = 0; i < n; i++) {
            const uint32_t a = base + i;
            uint8_t wp, wn;
            while (idx < nt && a >= rt->t[idx]) idx++;
            if (a < 0x7F800000u) {
                wp = idx >= nt ? rt->ovf[cp][0] : (uint8_t)idx;
                wn = idx >= nt ? rt->ovf[cn][1] : (uint8_t)(idx | 0x80);
                if ((a & 0xFFFu) == 0) /* the two references agree */
                    j->ref_disagreements += (wp != gref_encode(&rt->g, xp[i], 0, (int)cp, 0)) +
                                            (wn != gref_encode(&rt->g, xn[i], 0, (int)cn, 0));
            } else { /* inf, NaN */
                wp = gref_encode(&rt->g, xp[i], 0, (int)cp, 0);
                wn = gref_encode(&rt->g, xn[i], 0, (int)cn, 0);
            }
            tally(j, qp[i], wp, a);
            tally(j, qn[i], wn, a | 0x80000000u);
            if (i % 16 == 0) {
                tally(j, fp8q_gaudi_from_f32(xp[i], &j->f, FP8Q_GAUDI_RNE, cp, 0), wp, a);
                tally(j, fp8q_gaudi_from_f32(xn[i], &j->f, FP8Q_GAUDI_RNE, cn, 0), wn, a | 0x80000000u);
            }
        }
    }
    return NULL;
}

static void check_rne_all(const fp8q_gaudi_fp8 *f, const char *device, int threads)
{
    rne_table rt;
    rne_job jobs[64];
    unsigned long long mismatches = 0, disagreements = 0;
    uint32_t first_bad = 0;
    const uint32_t step = 0x80000000u / (uint32_t)threads;
    const double t0 = now(), c0 = cpu_now();
    char what[128];
    int i;
    rne_table_init(&rt, f);
    for (i = 0; i < threads; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].rt = &rt;
        jobs[i].f = *f;
        jobs[i].lo = (uint32_t)i * step;
        jobs[i].hi = i == threads - 1 ? 0x80000000u : (uint32_t)(i + 1) * step;
    }
    run_threads(threads, rne_sweep, jobs, sizeof jobs[0]);
    for (i = 0; i < threads; i++) {
        if (jobs[i].mismatches && !mismatches) first_bad = jobs[i].first_bad;
        mismatches += jobs[i].mismatches;
        disagreements += jobs[i].ref_disagreements;
    }
    snprintf(what, sizeof what, "RNE all 2^32: %s %s bias %d %s", device, f->flavor ? "152" : "143", f->bias,
             k_mode_names[f->infnan]);
    report(what, mismatches + disagreements, 1ull << 32, t0, c0);
    if (mismatches) {
        const int clip = (int)(((first_bad & 0x7FFFFFFFu) / 4096 + (first_bad >> 31)) % 3);
        printf("    first mismatch at %08X: got %02X, want %02X (clip %d)\n", first_bad,
               fp8q_gaudi_from_f32(from_bits(first_bad), f, FP8Q_GAUDI_RNE, k_clips[clip], 0),
               gref_encode(&rt.g, from_bits(first_bad), 0, clip, 0), clip);
    }
    if (disagreements) printf("    the threshold and search references disagree %llu times\n", disagreements);
}

/* --------------------------------------------------------------- decoding */

static void check_decode_all(void)
{
    unsigned long long bad = 0;
    int flavor, bias, mode, v;
    const double t0 = now(), c0 = cpu_now();
    for (flavor = 0; flavor < 2; flavor++)
        for (bias = 0; bias <= 63; bias++)
            for (mode = 0; mode < 3; mode++) {
                const fp8q_gaudi_fp8 f = fmt(flavor, bias, mode);
                gref_fmt g;
                gref_init(&g, flavor, bias, mode);
                for (v = 0; v < 256; v++) {
                    const double want = gref_decode(&g, v);
                    const float got = fp8q_gaudi_to_f32((uint8_t)v, &f);
                    bad += isnan(want) ? bits(got) != 0x7FFFFFFFu : bits(got) != bits((float)want);
                }
            }
    report("decode: every byte of all 384 formats", bad, 2ull * 64 * 3 * 256, t0, c0);
}

/* ------------------------------------------ other modes, structured sample */

typedef struct other_job {
    const fp8q_gaudi_fp8 *formats;
    int count;
    int *next; /* shared: the next format to take */
    pthread_mutex_t *lock;
    unsigned long long *mismatches; /* per format */
    unsigned long long checked;
} other_job;

static uint32_t hash32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    return x ^ (x >> 16);
}

/* The six non-RNE modes at input x; returns mismatches, adds to *checked. */
static unsigned long long check_other_modes(const fp8q_gaudi_fp8 *f, const gref_fmt *g, uint32_t u,
                                            unsigned long long *checked)
{
    static const fp8q_gaudi_rounding plain[4] = {FP8Q_GAUDI_RZ, FP8Q_GAUDI_RU, FP8Q_GAUDI_RD, FP8Q_GAUDI_RHAZ};
    static const fp8q_gaudi_rounding stochastic[2] = {FP8Q_GAUDI_SR, FP8Q_GAUDI_SRNE};
    const float x = from_bits(u);
    const fp8q_gaudi_clip clip = k_clips[hash32(u) % 3];
    const uint32_t d = isfinite(x) ? gref_discarded(g, fabs((double)x)) : 0;
    const uint32_t randoms[3] = {hash32(u ^ 0x9E3779B9u), d, d + 1};
    unsigned long long bad = 0;
    int r, k;
    for (r = 0; r < 4; r++)
        bad += fp8q_gaudi_from_f32(x, f, plain[r], clip, 0) != gref_encode(g, x, (int)plain[r], (int)clip, 0);
    for (r = 0; r < 2; r++)
        for (k = 0; k < 3; k++)
            bad += fp8q_gaudi_from_f32(x, f, stochastic[r], clip, randoms[k]) !=
                   gref_encode(g, x, (int)stochastic[r], (int)clip, randoms[k]);
    *checked += 10;
    return bad;
}

static void *other_worker(void *arg)
{
    other_job *j = (other_job *)arg;
    for (;;) {
        int i, c, d, s;
        uint32_t k;
        gref_fmt g;
        unsigned long long bad = 0;
        pthread_mutex_lock(j->lock);
        i = (*j->next)++;
        pthread_mutex_unlock(j->lock);
        if (i >= j->count) return NULL;
        gref_init(&g, j->formats[i].flavor, j->formats[i].bias, j->formats[i].infnan);
        for (k = 0; k < (1u << 19); k++) bad += check_other_modes(&j->formats[i], &g, k << 13, &j->checked);
        for (c = 0; c <= g.maxc + 1; c++) /* each value and midpoint (overflow ones too), +-3 ulps */
            for (d = -3; d <= 3; d++)
                for (s = 0; s < 2; s++) {
                    const uint32_t sign = s ? 0x80000000u : 0;
                    bad += check_other_modes(&j->formats[i], &g, ((uint32_t)bits((float)g.v[c]) + (uint32_t)d) | sign,
                                             &j->checked);
                    if (c <= g.maxc) {
                        const float mid = (float)((g.v[c] + g.v[c + 1]) / 2);
                        bad += check_other_modes(&j->formats[i], &g, (bits(mid) + (uint32_t)d) | sign, &j->checked);
                    }
                }
        j->mismatches[i] = bad;
    }
}

static void check_other_modes_all(int threads)
{
    static fp8q_gaudi_fp8 formats[2 * 64 * 3];
    static unsigned long long mismatches[2 * 64 * 3];
    other_job jobs[64];
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    unsigned long long checked = 0, total_bad = 0;
    int n = 0, next = 0, flavor, bias, mode, i;
    const double t0 = now(), c0 = cpu_now();
    for (flavor = 0; flavor < 2; flavor++)
        for (bias = 0; bias <= 63; bias++)
            for (mode = 0; mode < 3; mode++) formats[n++] = fmt(flavor, bias, mode);
    for (i = 0; i < threads; i++) {
        jobs[i].formats = formats;
        jobs[i].count = n;
        jobs[i].next = &next;
        jobs[i].lock = &lock;
        jobs[i].mismatches = mismatches;
        jobs[i].checked = 0;
    }
    run_threads(threads, other_worker, jobs, sizeof jobs[0]);
    for (i = 0; i < threads; i++) checked += jobs[i].checked;
    for (i = 0; i < n; i++) {
        total_bad += mismatches[i];
        if (mismatches[i])
            printf("    %s bias %d %s: %llu mismatches\n", formats[i].flavor ? "152" : "143", formats[i].bias,
                   k_mode_names[formats[i].infnan], mismatches[i]);
    }
    report("RZ RU RD RHAZ SR SRNE, structured, all 384 formats", total_bad, checked, t0, c0);
}

int main(int argc, char **argv)
{
    static const int g2_143[4] = {3, 7, 11, 15}, g3_143[3] = {0, 7, 63}, g3_152[3] = {0, 15, 63};
    int threads = 2, all = 0, i, mode, flavor, bias, formats = 0;
    const double t0 = now(), c0 = cpu_now();
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--all") == 0)
            all = 1;
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--all] [--threads N]\n", argv[0]);
            return 2;
        }
    }
    if (threads < 1 || threads > 64) threads = 2;
    printf("Gaudi FP8 converter, exhaustive (%d threads, %s)\n", threads,
           all ? "--all: every Gaudi3 bias" : "Gaudi3 biases 0, 7|15, 63");
    check_decode_all();
    for (i = 0; i < 4; i++) {
        const fp8q_gaudi_fp8 f = fmt(0, g2_143[i], 0);
        check_rne_all(&f, "Gaudi2", threads);
        formats++;
    }
    {
        const fp8q_gaudi_fp8 f = fmt(1, 15, 0);
        check_rne_all(&f, "Gaudi2", threads);
        formats++;
    }
    for (flavor = 0; flavor < 2; flavor++)
        for (mode = 0; mode < 3; mode++)
            for (bias = 0; bias <= 63; bias++) {
                const int *subset = flavor ? g3_152 : g3_143;
                const fp8q_gaudi_fp8 f = fmt(flavor, bias, mode);
                if (!all && bias != subset[0] && bias != subset[1] && bias != subset[2]) continue;
                if (fp8q_gaudi_fp8_check(&f, FP8Q_GAUDI2) == FP8Q_OK) continue; /* checked as a Gaudi2 format */
                check_rne_all(&f, "Gaudi3", threads);
                formats++;
            }
    check_other_modes_all(threads);
    printf("covered: RNE on all 2^32 inputs for %d formats; 6 other modes on 2^19 + boundary inputs for all 384 "
           "formats; %.0f s, %.0f s CPU\n",
           formats, now() - t0, cpu_now() - c0);
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
