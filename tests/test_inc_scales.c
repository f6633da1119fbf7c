/* fp8q INC measurement / scale file and scale-math tests. Checks every INC scale (13 methods x Gaudi2/Gaudi3:
   activations, weights per tensor and per channel, MAXABS / FIXED / OPT, dynamic per-token) bit for bit against
   tests/fixtures/inc_scales.txt (written by tools/gen_inc_fixtures.py from INC's own formulas with torch, never from
   fp8q), INC.md 3.7's worked numbers, Python float repr, scale files, the calibration steps 3 and 5 against
   Python re-implementations of the published scripts, the real measurement files (skipped without ../shared, except
   under CI=true) with byte-identical round trips, and hostile files. Ends with "N passed, N failed, N skipped". */
#define FP8Q_IMPLEMENTATION
#include "../fp8q.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#ifndef FP8Q_INC_FIXTURES
#define FP8Q_INC_FIXTURES "tests/fixtures/inc_scales.txt"
#endif
#define MEAS_DIR  "../shared/data/inc-measurements/"
#define REAL_FILE MEAS_DIR "gpt_oss_20b_inc_output_hooks_maxabs_0_1.json"
#define MOD_LIST  MEAS_DIR "gpt_oss_20b_inc_output_hooks_maxabs_0_1_mod_list.json"

static int g_skipped;

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
static int same_float(float got, float want) { return (got != got && want != want) || f32_bits(got) == f32_bits(want); }

/* ------------------------------------------------------------ fixture file */

typedef struct {
    char *text; /* whole file, lines NUL-terminated in place */
    char **line;
    size_t n;
} fixture;

static fixture g_fx;

static int load_fixture(void)
{
    FILE *f;
    long sz;
    size_t i, cap = 0;
    if (g_fx.text) return 1;
    f = fopen(FP8Q_INC_FIXTURES, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    g_fx.text = (char *)malloc((size_t)sz + 1);
    if (!g_fx.text || fread(g_fx.text, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f);
        return 0;
    }
    fclose(f);
    g_fx.text[sz] = 0;
    for (i = 0; i < (size_t)sz; i++) {
        if (i == 0 || g_fx.text[i - 1] == 0) {
            if (g_fx.n == cap) {
                cap = cap ? cap * 2 : 4096;
                g_fx.line = (char **)realloc(g_fx.line, cap * sizeof(char *));
            }
            g_fx.line[g_fx.n++] = g_fx.text + i;
        }
        if (g_fx.text[i] == '\n') g_fx.text[i] = 0;
    }
    return 1;
}

static int starts(const char *s, const char *w) { return strncmp(s, w, strlen(w)) == 0 && s[strlen(w)] == ' '; }

/* The JSON text of `file <name> <n>` (malloc'd), or NULL. */
static char *fixture_file(const char *name, size_t *len)
{
    size_t i, k, n, total = 0;
    char hdr[128];
    char *out;
    snprintf(hdr, sizeof hdr, "file %s ", name);
    for (i = 0; i < g_fx.n; i++) {
        if (strncmp(g_fx.line[i], hdr, strlen(hdr)) != 0) continue;
        n = strtoul(g_fx.line[i] + strlen(hdr), NULL, 10);
        for (k = 1; k <= n; k++) total += strlen(g_fx.line[i + k]) - 2 + 1;
        out = (char *)malloc(total + 1);
        total = 0;
        for (k = 1; k <= n; k++) {
            size_t l = strlen(g_fx.line[i + k]) - 2;
            memcpy(out + total, g_fx.line[i + k] + 2, l);
            total += l;
            if (k < n) out[total++] = '\n';
        }
        out[total] = 0;
        if (len) *len = total;
        return out;
    }
    return NULL;
}

/* Hex words after the first `skip` words of a line. */
static size_t hex_words(const char *line, int skip, uint64_t *out, size_t cap)
{
    const char *p = line;
    size_t n = 0;
    int k;
    for (k = 0; k < skip && p; k++) {
        p = strchr(p, ' ');
        if (p) p++;
    }
    while (p && *p && n < cap) {
        char *end;
        unsigned long long v = strtoull(p, &end, 16);
        if (end == p) break;
        out[n++] = v;
        p = end;
        while (*p == ' ') p++;
    }
    return n;
}

static fp8q_gaudi dev_of(const char *s) { return strcmp(s, "gaudi2") == 0 ? FP8Q_GAUDI2 : FP8Q_GAUDI3; }

/* The float matrix of `wmat <id>` / `tmat <id>` (malloc'd). */
static float *fixture_matrix(const char *kind, int id, size_t *rows, size_t *cols)
{
    size_t i, r, c, k;
    char hdr[64];
    uint64_t *vals;
    float *m;
    snprintf(hdr, sizeof hdr, "%s %d ", kind, id);
    for (i = 0; i < g_fx.n; i++) {
        if (strncmp(g_fx.line[i], hdr, strlen(hdr)) != 0) continue;
        if (sscanf(g_fx.line[i] + strlen(hdr), "%zu %zu", rows, cols) != 2) return NULL;
        m = (float *)malloc(*rows * *cols * sizeof(float));
        vals = (uint64_t *)malloc(*cols * sizeof(uint64_t));
        for (r = 0; r < *rows; r++) {
            c = hex_words(g_fx.line[i + 1 + r], 1, vals, *cols);
            for (k = 0; k < c; k++) m[r * *cols + k] = f32_from_bits((uint32_t)vals[k] << 16);
        }
        free(vals);
        return m;
    }
    return NULL;
}

/* ------------------------------------------------------------ helpers */

static int parse_str(fp8q_inc_measure *m, const char *s, fp8q_error *e)
{
    return (int)fp8q_inc_measure_parse(m, s, strlen(s), e);
}

static char *write_str(const fp8q_inc_measure *m, int indent)
{
    char *out = NULL;
    size_t len;
    fp8q_error e;
    if (fp8q_inc_measure_write_mem(&out, &len, m, indent, &e) != FP8Q_OK) {
        printf("    write failed: %s\n", e.message);
        return NULL;
    }
    return out;
}

/* First differing line of got vs want, for messages. */
static void show_diff(const char *what, const char *got, const char *want)
{
    size_t i = 0, line = 1, ls = 0;
    while (got[i] && got[i] == want[i]) {
        if (got[i] == '\n') line++, ls = i + 1;
        i++;
    }
    printf("    %s: first difference at line %zu:\n      got:  %.70s\n      want: %.70s\n", what, line, got + ls,
           want + ls);
}

static int shared_data_missing(void)
{
    FILE *f = fopen(REAL_FILE, "rb");
    const char *ci = getenv("CI");
    if (f) {
        fclose(f);
        return 0;
    }
    return !(ci && strcmp(ci, "true") == 0);
}

/* ------------------------------------------------------------ fixture cases */

static void test_repr(void)
{
    fp8q_inc_measure m;
    fp8q_inc_node nd;
    fp8q_error e;
    size_t i, n = 0, cap = 8192, k;
    char **want = (char **)malloc(cap * sizeof(char *));
    double *v = (double *)malloc(cap * sizeof(double));
    char *out, *p;
    for (i = 0; i < g_fx.n; i++) {
        uint64_t b;
        if (!starts(g_fx.line[i], "repr") || n == cap) continue;
        if (hex_words(g_fx.line[i], 1, &b, 1) != 1) continue;
        v[n] = f64_from_bits(b);
        want[n++] = strchr(g_fx.line[i] + 5, ' ') + 1;
    }
    CHECK(n > 3000, "only %zu repr vectors", n);
    fp8q_inc_measure_init(&m, FP8Q_INC_MEASURE_SCALE);
    memset(&nd, 0, sizeof nd);
    nd.name = (char *)malloc(2);
    strcpy(nd.name, "r");
    nd.has_inputs = 1;
    nd.n_inputs = 1;
    nd.inputs = (fp8q_inc_entry *)calloc(1, sizeof(fp8q_inc_entry));
    nd.inputs[0].rank = 1;
    nd.inputs[0].rows = 1;
    nd.inputs[0].cols = n;
    nd.inputs[0].v = v;
    CHECK(fp8q_inc_measure_add_node(&m, &nd, &e) == FP8Q_OK, "%s", e.message);
    out = write_str(&m, FP8Q_INC_INDENT_NONE);
    CHECK(out != NULL, "write");
    if (out) {
        p = strstr(out, "\"inputs\": [[");
        CHECK(p != NULL, "layout");
        if (p) p += 12;
        for (k = 0; p && k < n; k++) {
            size_t l = strlen(want[k]);
            CHECK(strncmp(p, want[k], l) == 0 && (p[l] == ',' || p[l] == ']'), "repr(%.17g) = '%.30s...', want %s",
                  v[k], p, want[k]);
            p = strpbrk(p, ",]");
            if (p && *p == ',') p += 2;
        }
        free(out);
    }
    fp8q_inc_measure_free(&m);
    free(want);
    printf("    %zu values written as Python's repr\n", n);
}

/* POW2 and HW_ALIGNED for every positive finite BF16 s: torch's results (exceptions listed) or the exact rule. */
static void test_pow2_exhaustive(void)
{
    static uint32_t exc[32768][3];
    static unsigned char has[32768];
    size_t i, listed = 0, bad = 0;
    uint32_t b;
    fp8q_inc_scale_cfg cfg;
    fp8q_inc_entry e;
    double v;
    memset(has, 0, sizeof has);
    for (i = 0; i < g_fx.n; i++) {
        uint64_t w[4];
        if (!starts(g_fx.line[i], "pow2x") || hex_words(g_fx.line[i], 1, w, 4) != 4) continue;
        has[w[0]] = 1;
        exc[w[0]][0] = (uint32_t)w[1], exc[w[0]][1] = (uint32_t)w[2], exc[w[0]][2] = (uint32_t)w[3];
        listed++;
    }
    CHECK(listed > 1000, "only %zu pow2x lines", listed);
    memset(&e, 0, sizeof e);
    e.rank = 2, e.rows = e.cols = 1, e.v = &v;
    cfg.granularity = FP8Q_INC_PTS, cfg.value_type = FP8Q_INC_MAXABS;
    for (b = 1; b < 0x7F80; b++) {
        const float s = f32_from_bits(b << 16);
        int k = 0, d;
        float want[3], got[3];
        /* exact: 2^ceil(log2 s) from the bits */
        uint32_t u = b << 16;
        if (u >> 23) {
            k = (int)(u >> 23) - 127 + ((u & 0x7FFFFFu) != 0);
        } else {
            int top = 22;
            while (!((u >> top) & 1u)) top--;
            k = top - 149 + ((u & ((1u << top) - 1u)) != 0);
        }
        want[0] = k > 127 ? f32_from_bits(0x7F800000u) : (float)ldexp(1.0, k);
        for (d = 0; d < 2; d++) {
            const int f = d == 0 ? 4 : 1;
            const float lo = d == 0 ? 0.00390625f : (float)ldexp(1.0, -55), hi = d == 0 ? 16.0f : 128.0f;
            int kk = (int)ceil((double)k / f) * f;
            float p = kk > 127 ? f32_from_bits(0x7F800000u) : (float)ldexp(1.0, kk);
            want[1 + d] = p < lo ? lo : p > hi ? hi : p;
        }
        if (has[b])
            want[0] = f32_from_bits(exc[b][0]), want[1] = f32_from_bits(exc[b][1]), want[2] = f32_from_bits(exc[b][2]);
        v = (double)s;
        /* divisor fullscale * backoff = exactly 1.0f: s passes through unchanged */
        cfg.rounding = FP8Q_INC_POW2, cfg.backoff = 1.0f / 240.0f;
        fp8q_inc_act_scale(&got[0], &e, &cfg, FP8Q_GAUDI2);
        cfg.rounding = FP8Q_INC_HW_ALIGNED;
        fp8q_inc_act_scale(&got[1], &e, &cfg, FP8Q_GAUDI2);
        cfg.backoff = 1.0f / 448.0f;
        fp8q_inc_act_scale(&got[2], &e, &cfg, FP8Q_GAUDI3);
        for (d = 0; d < 3; d++)
            if (!same_float(got[d], want[d])) {
                bad++;
                CHECK(0, "bf16 %04X (%g) %s: %08X want %08X", b, s,
                      d == 0   ? "POW2"
                      : d == 1 ? "HW G2"
                               : "HW G3",
                      f32_bits(got[d]), f32_bits(want[d]));
            }
    }
    printf("    32639 BF16 values x (POW2, HW G2, HW G3), %zu listed exceptions, %zu mismatches\n", listed, bad);
}

static void test_act_fixture(void)
{
    static double vals[256][64];
    static size_t nvals[256];
    size_t i, n = 0, ne = 0;
    for (i = 0; i < g_fx.n; i++) {
        uint64_t w[70];
        size_t k, c;
        int id;
        if (!starts(g_fx.line[i], "entry")) continue;
        id = atoi(g_fx.line[i] + 6);
        c = hex_words(g_fx.line[i], 3, w, 70);
        if (id < 0 || id >= 256) continue;
        for (k = 0; k < c && k < 64; k++) vals[id][k] = f64_from_bits(w[k]);
        nvals[id] = c;
        ne++;
    }
    CHECK(ne > 50, "only %zu entries", ne);
    for (i = 0; i < g_fx.n; i++) {
        char meth[64], dev[16];
        int id;
        unsigned want;
        const fp8q_inc_method *m;
        fp8q_inc_entry e;
        float got = 0;
        fp8q_result r;
        if (!starts(g_fx.line[i], "act")) continue;
        if (sscanf(g_fx.line[i], "act %63s %15s %d %x", meth, dev, &id, &want) != 4 || id < 0 || id >= 256) continue;
        m = fp8q_inc_method_get(meth);
        CHECK(m != NULL, "method %s", meth);
        if (!m) continue;
        memset(&e, 0, sizeof e);
        e.rank = 2, e.rows = nvals[id], e.cols = 1, e.v = vals[id];
        r = fp8q_inc_act_scale(&got, &e, &m->activation, dev_of(dev));
        CHECK(r == FP8Q_OK && same_float(got, f32_from_bits(want)), "act %s %s entry %d (%.17g...): %08X want %08X",
              meth, dev, id, vals[id][0], f32_bits(got), want);
        n++;
    }
    CHECK(n > 3000, "only %zu act lines", n);
    printf("    %zu activation scales (11 static methods x 2 devices x %zu entries)\n", n, ne);
}

static void test_weight_fixture(void)
{
    size_t i, lines = 0, vals = 0;
    for (i = 0; i < g_fx.n; i++) {
        char meth[64], dev[16];
        int id, off;
        size_t rows, cols, n, k, got_n;
        uint64_t want[64];
        float *w, got[64];
        const fp8q_inc_method *m;
        fp8q_error e;
        fp8q_result r;
        if (!starts(g_fx.line[i], "wscale")) continue;
        if (sscanf(g_fx.line[i], "wscale %63s %15s %d %zu%n", meth, dev, &id, &n, &off) != 4 || n > 64) continue;
        m = fp8q_inc_method_get(meth);
        w = fixture_matrix("wmat", id, &rows, &cols);
        CHECK(m && w, "%s / wmat %d", meth, id);
        if (!m || !w) {
            free(w);
            continue;
        }
        got_n = hex_words(g_fx.line[i], 5, want, 64);
        r = fp8q_inc_weight_scales(got, w, rows, cols, &m->weight, NULL, 0, dev_of(dev), &e);
        CHECK(r == FP8Q_OK, "%s: %s", meth, e.message);
        CHECK(got_n == n && n == (m->weight.granularity == FP8Q_INC_PCS ? rows : 1), "%s %s wmat %d: %zu scales", meth,
              dev, id, n);
        for (k = 0; r == FP8Q_OK && k < n && k < got_n; k++)
            CHECK(same_float(got[k], f32_from_bits((uint32_t)want[k])),
                  "%s %s wmat %d (%zux%zu) scale %zu: %08X want %08X", meth, dev, id, rows, cols, k, f32_bits(got[k]),
                  (unsigned)want[k]);
        vals += n;
        lines++;
        free(w);
    }
    CHECK(lines > 700, "only %zu wscale lines", lines);
    /* OPT with explicit candidates (INC's dict form params weight_scales) */
    for (i = 0; i < g_fx.n; i++) {
        char meth[64], dev[16];
        int id;
        uint64_t words[64];
        double cand[16];
        size_t nw, k, nc, n, rows, cols;
        float *w, got[64];
        const fp8q_inc_method *m;
        fp8q_error e;
        if (!starts(g_fx.line[i], "wscalec")) continue;
        if (sscanf(g_fx.line[i], "wscalec %63s %15s %d", meth, dev, &id) != 3) continue;
        nw = hex_words(g_fx.line[i], 4, words, 64); /* k, cands, n, scales; k and n are decimal */
        {
            const char *p = g_fx.line[i];
            int sp;
            for (sp = 0; sp < 4 && p; sp++) p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL;
            nc = p ? strtoul(p, NULL, 10) : 0;
            for (sp = 0; sp < (int)nc + 1 && p; sp++) p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL;
            n = p ? strtoul(p, NULL, 10) : 0;
        }
        for (k = 0; k < nc && k < 16; k++) cand[k] = f64_from_bits(words[1 + k]);
        m = fp8q_inc_method_get(meth);
        w = fixture_matrix("wmat", id, &rows, &cols);
        CHECK(m && w && nw == 2 + nc + n && n <= 32, "wscalec line");
        if (m && w && nw == 2 + nc + n && n <= 32) {
            CHECK(fp8q_inc_weight_scales(got, w, rows, cols, &m->weight, cand, nc, dev_of(dev), &e) == FP8Q_OK, "%s",
                  e.message);
            for (k = 0; k < n; k++)
                CHECK(same_float(got[k], f32_from_bits((uint32_t)words[2 + nc + k])),
                      "%s %s wmat %d with %zu candidates, scale %zu: %08X want %08X", meth, dev, id, nc, k,
                      f32_bits(got[k]), (unsigned)words[2 + nc + k]);
            lines++;
            vals += n;
        }
        free(w);
    }
    printf("    %zu weight scale sets, %zu scales (13 methods x 2 devices)\n", lines, vals);
}

static void test_token_fixture(void)
{
    size_t i, n = 0;
    for (i = 0; i < g_fx.n; i++) {
        char dev[16];
        unsigned bo;
        int id;
        size_t rows, cols, cnt, k;
        uint64_t want[64];
        float *x, got[64];
        fp8q_inc_scale_cfg cfg;
        if (!starts(g_fx.line[i], "token")) continue;
        if (sscanf(g_fx.line[i], "token %15s %x %d %zu", dev, &bo, &id, &cnt) != 4 || cnt > 64) continue;
        x = fixture_matrix("tmat", id, &rows, &cols);
        CHECK(x && rows == cnt, "tmat %d", id);
        if (!x || rows != cnt) {
            free(x);
            continue;
        }
        hex_words(g_fx.line[i], 5, want, 64);
        cfg.granularity = FP8Q_INC_PCS, cfg.value_type = FP8Q_INC_MAXABS, cfg.rounding = FP8Q_INC_POW2;
        cfg.backoff = f32_from_bits(bo);
        CHECK(fp8q_inc_token_scales(got, x, rows, cols, &cfg, dev_of(dev)) == FP8Q_OK, "token scales");
        for (k = 0; k < cnt; k++)
            CHECK(same_float(got[k], f32_from_bits((uint32_t)want[k])),
                  "token %s backoff %g tmat %d row %zu: %08X want %08X", dev, cfg.backoff, id, k, f32_bits(got[k]),
                  (unsigned)want[k]);
        n += cnt;
        free(x);
    }
    CHECK(n >= 80, "only %zu token scales", n);
    /* the dynamic methods' own activation configuration */
    {
        const fp8q_inc_method *m = fp8q_inc_method_get("maxabs_pcs_pow2");
        float x[4] = {1.0f, -120.0f, 0.0f, 0.0f}, s[2] = {0, 0};
        CHECK(m && m->dynamic_only && m->activation.granularity == FP8Q_INC_PCS, "MAXABS_PCS_POW2");
        if (m) {
            CHECK(fp8q_inc_token_scales(s, x, 2, 2, &m->activation, FP8Q_GAUDI2) == FP8Q_OK, "token");
            CHECK(s[0] == 1.0f && s[1] == f32_from_bits(0x00800000u), "per token: %g %g", s[0], s[1]);
        }
    }
    printf("    %zu per-token scales\n", n);
}

static void test_scale_files(void)
{
    size_t i, len, files = 0;
    char *meas_text = fixture_file("meas", &len);
    fp8q_inc_measure meas;
    fp8q_error e;
    CHECK(meas_text != NULL, "fixture file 'meas'");
    if (!meas_text) return;
    CHECK(fp8q_inc_measure_parse(&meas, meas_text, len, &e) == FP8Q_OK, "%s", e.message);
    {
        char *back = write_str(&meas, 4);
        CHECK(back && strcmp(back, meas_text) == 0, "round trip of the fixture measurement file");
        free(back);
    }
    for (i = 0; i < g_fx.n; i++) {
        char meth[64], dev[16], fname[64];
        const fp8q_inc_method *m;
        fp8q_inc_measure sm;
        size_t k;
        char *want, *got;
        if (!starts(g_fx.line[i], "scalefile")) continue;
        if (sscanf(g_fx.line[i], "scalefile %63s %15s %63s", meth, dev, fname) != 3) continue;
        m = fp8q_inc_method_get(meth);
        want = fixture_file(fname, NULL);
        CHECK(m && want, "%s %s", meth, fname);
        if (!m || !want) {
            free(want);
            continue;
        }
        fp8q_inc_measure_init(&sm, FP8Q_INC_MEASURE_SCALE);
        sm.local_rank_null = 0;
        sm.local_rank = 0;
        for (k = 0; k < g_fx.n; k++) {
            char name[128], ops[16], wid[16];
            fp8q_inc_op op;
            fp8q_inc_node nd;
            float ws[64];
            size_t nw = 0, rows = 0, cols = 0;
            fp8q_result r;
            if (!starts(g_fx.line[k], "snode")) continue;
            if (sscanf(g_fx.line[k], "snode %127s %15s %15s", name, ops, wid) != 3) continue;
            op = !strcmp(ops, "linear")     ? FP8Q_INC_OP_LINEAR
                 : !strcmp(ops, "matmul")   ? FP8Q_INC_OP_MATMUL
                 : !strcmp(ops, "kv_cache") ? FP8Q_INC_OP_KV_CACHE
                                            : FP8Q_INC_OP_SOFTMAX;
            if (op == FP8Q_INC_OP_LINEAR) {
                float *w = fixture_matrix("wmat", atoi(wid), &rows, &cols);
                CHECK(w && fp8q_inc_weight_scales(ws, w, rows, cols, &m->weight, NULL, 0, dev_of(dev), &e) == FP8Q_OK,
                      "weight scales");
                nw = m->weight.granularity == FP8Q_INC_PCS && m->weight.value_type != FP8Q_INC_FIXED_VALUE ? rows : 1;
                free(w);
            }
            r = fp8q_inc_node_scales(&nd, name, op, fp8q_inc_measure_find(&meas, name), ws, nw, cols, &m->weight,
                                     &m->activation, dev_of(dev), 0, &e);
            CHECK(r == FP8Q_OK, "%s %s %s: %s", meth, dev, name, e.message);
            if (r == FP8Q_OK) CHECK(fp8q_inc_measure_add_node(&sm, &nd, &e) == FP8Q_OK, "add");
        }
        got = write_str(&sm, 4);
        CHECK(got && strcmp(got, want) == 0, "scale file %s %s differs", meth, dev);
        if (got && strcmp(got, want) != 0 && g_case_failures < 3) show_diff(meth, got, want);
        /* and it parses back as a Scale file with the same text */
        if (got) {
            fp8q_inc_measure back;
            char *again;
            CHECK(parse_str(&back, got, &e) == FP8Q_OK && back.mode == FP8Q_INC_MEASURE_SCALE, "reparse: %s",
                  e.message);
            again = write_str(&back, 4);
            CHECK(again && strcmp(again, got) == 0, "scale file round trip");
            free(again);
            fp8q_inc_measure_free(&back);
        }
        free(got);
        free(want);
        fp8q_inc_measure_free(&sm);
        files++;
    }
    CHECK(files == 22, "%zu scale files (want 11 static methods x 2 devices)", files);
    fp8q_inc_measure_free(&meas);
    free(meas_text);
    printf("    %zu scale files byte-identical to INC's (json.dump indent=4)\n", files);
}

/* ------------------------------------------------------------ INC.md 3.7 */

static void test_worked_numbers(void)
{
    /* maxabs, is weight, G2 raw s, G2 POW2, G2 HW, G3 raw s, G3 HW */
    static const struct {
        double maxabs;
        int weight;
        double g2raw, g2pow2, g2hw, g3raw, g3hw;
    } t[] = {
        {1.0, 0, 1.0 / 60, 1.0 / 32, 1.0 / 16, 1.0 / 112, 1.0 / 64},
        {3.4, 0, 0.0567, 1.0 / 16, 1.0 / 16, 0.0304, 1.0 / 32},
        {11.06, 0, 0.184, 0.25, 1, 0.0988, 0.125},
        {40.75, 0, 0.679, 1, 1, 0.364, 0.5},
        {95.5, 0, 1.59, 2, 16, 0.853, 1},
        {1000, 0, 16.7, 32, 16, 8.93, 16},
        {2.0, 1, 1.0 / 60, 1.0 / 32, 1.0 / 16, 1.0 / 112, 1.0 / 64},
        {3.156, 1, 0.0263, 1.0 / 32, 1.0 / 16, 0.0141, 1.0 / 64},
    };
    const fp8q_inc_method *hw = fp8q_inc_method_get("MAXABS_HW"), *p2 = fp8q_inc_method_get("MAXABS_POW2"),
                          *ar = fp8q_inc_method_get("MAXABS_ARBITRARY");
    size_t i;
    int d;
    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        for (d = 0; d < 2; d++) {
            const fp8q_gaudi dev = d ? FP8Q_GAUDI3 : FP8Q_GAUDI2;
            float s_hw, s_p2, s_ar;
            if (t[i].weight) {
                float w = (float)t[i].maxabs;
                fp8q_inc_weight_scales(&s_hw, &w, 1, 1, &hw->weight, NULL, 0, dev, NULL);
                fp8q_inc_weight_scales(&s_p2, &w, 1, 1, &p2->weight, NULL, 0, dev, NULL);
                fp8q_inc_weight_scales(&s_ar, &w, 1, 1, &ar->weight, NULL, 0, dev, NULL);
            } else {
                double v = t[i].maxabs;
                fp8q_inc_entry e;
                memset(&e, 0, sizeof e);
                e.rank = 2, e.rows = e.cols = 1, e.v = &v;
                fp8q_inc_act_scale(&s_hw, &e, &hw->activation, dev);
                fp8q_inc_act_scale(&s_p2, &e, &p2->activation, dev);
                fp8q_inc_act_scale(&s_ar, &e, &ar->activation, dev);
            }
            CHECK(s_hw == (float)(d ? t[i].g3hw : t[i].g2hw), "%s %g G%d HW: %g", t[i].weight ? "weight" : "act",
                  t[i].maxabs, d + 2, s_hw);
            CHECK(fabs(s_ar / (d ? t[i].g3raw : t[i].g2raw) - 1) < 0.01, "%g G%d raw: %g", t[i].maxabs, d + 2, s_ar);
            if (!d) CHECK(s_p2 == (float)t[i].g2pow2, "%g G2 POW2: %g", t[i].maxabs, s_p2);
        }
    }
}

/* ------------------------------------------------------------ real files */

static void test_real_files(void)
{
    fp8q_inc_measure m;
    fp8q_error e;
    FILE *f = fopen(REAL_FILE, "rb");
    char *text = NULL, *out;
    long sz = 0;
    size_t i, n_inf = 0, n_vals = 0, n_params = 0, n_outputs = 0, changed, expect = 0;
    fp8q_inc_node *nd;
    fp8q_json j;
    CHECK(f != NULL, "cannot open %s", REAL_FILE);
    if (!f) return;
    fseek(f, 0, SEEK_END);
    sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    text = (char *)malloc((size_t)sz + 1);
    CHECK(fread(text, 1, (size_t)sz, f) == (size_t)sz, "read");
    fclose(f);
    text[sz] = 0;
    CHECK(fp8q_inc_measure_load(&m, REAL_FILE, &e) == FP8Q_OK, "%s", e.message);
    CHECK(m.n_nodes == 1800 && m.mode == FP8Q_INC_MEASURE_DYNAMIC_RANGE, "%zu nodes", m.n_nodes);
    CHECK(!m.has_num_samples && m.has_global_rank && m.global_rank_null && m.has_local_rank && !m.local_rank_null &&
              m.local_rank == 0 && strcmp(m.order, "glmN") == 0,
          "header fields (order %s)", m.order);
    for (i = 0; i < m.n_nodes; i++) {
        size_t k, c;
        const fp8q_inc_node *x = &m.nodes[i];
        for (k = 0; k < x->n_inputs; k++)
            for (c = 0; c < x->inputs[k].rows * x->inputs[k].cols; c++, n_vals++)
                n_inf += isinf(x->inputs[k].v[c]) != 0;
        for (k = 0; k < x->n_outputs; k++, n_outputs++)
            for (c = 0; c < x->outputs[k].rows * x->outputs[k].cols; c++, n_vals++)
                n_inf += isinf(x->outputs[k].v[c]) != 0;
        n_params += x->has_params;
        for (k = 0; k < x->n_params; k++) n_vals += x->params[k].entries[0].rows;
    }
    CHECK(n_params == 1608 && n_vals == 2760 + 1608, "%zu params, %zu values", n_params, n_vals);
    CHECK(n_inf > 0, "Infinity values");
    printf("    %zu nodes, %zu values (%zu Infinity), %zu params, %zu output entries\n", m.n_nodes, n_vals, n_inf,
           n_params, n_outputs);
    nd = fp8q_inc_measure_find(&m, "model.layers.0.attn.qkv");
    CHECK(nd && nd == &m.nodes[0] && nd->n_inputs == 1 && nd->inputs[0].v[0] == 40.75 && nd->n_params == 1 &&
              strcmp(nd->params[0].name, "weight") == 0 && nd->params[0].entries[0].v[0] == 2.0 &&
              strcmp(nd->order, "ip") == 0,
          "qkv");
    nd = fp8q_inc_measure_find(&m, "model.layers.0.attn.o_proj");
    CHECK(nd && nd->n_outputs == 2 && nd->outputs[0].v[0] == 68.0 && nd->outputs[1].v[0] == 113279762432.0 &&
              nd->inputs[0].v[0] == 11.0625 && nd->params[0].entries[0].v[0] == 3.15625 &&
              strcmp(nd->order, "iop") == 0,
          "o_proj");
    nd = fp8q_inc_measure_find(&m, "model.layers.0.attn.attn.impl.softmax");
    CHECK(nd && isinf(nd->inputs[0].v[0]) && nd->inputs[0].v[0] > 0 && nd->outputs[0].v[0] == 1.0, "softmax");
    nd = fp8q_inc_measure_find(&m, "model.layers.0.attn.attn.impl.matmul_qk");
    CHECK(nd && nd->n_inputs == 2 && nd->inputs[0].v[0] == 2.640625 && nd->inputs[1].v[0] == 95.5, "matmul_qk");
    {
        const fp8q_inc_method *hw = fp8q_inc_method_get("maxabs_hw");
        float s2 = 0, s3 = 0;
        nd = fp8q_inc_measure_find(&m, "model.layers.0.attn.qkv");
        fp8q_inc_act_scale(&s2, &nd->inputs[0], &hw->activation, FP8Q_GAUDI2);
        fp8q_inc_act_scale(&s3, &nd->inputs[0], &hw->activation, FP8Q_GAUDI3);
        CHECK(s2 == 1.0f && s3 == 0.5f, "qkv input scales %g %g", s2, s3);
    }
    out = write_str(&m, 4);
    CHECK(out && strlen(out) == (size_t)sz && strcmp(out, text) == 0, "write is not byte-identical");
    if (out && strcmp(out, text) != 0) show_diff("round trip", out, text);
    free(out);
    /* step 3 on gpt-oss names ("model.layers.N.attn.attn.impl.*"): INC's names do not match them */
    for (i = 0; i < 24; i++) {
        char a[128], b[128];
        const fp8q_inc_node *mm, *cc;
        snprintf(a, sizeof a, "model.layers.%zu.attn.attn.impl.matmul_qk", i);
        snprintf(b, sizeof b, "model.layers.%zu.attn.attn.impl.k_cache", i);
        mm = fp8q_inc_measure_find(&m, a), cc = fp8q_inc_measure_find(&m, b);
        if (mm && cc) expect += mm->inputs[1].v[0] != cc->inputs[0].v[0];
        snprintf(a, sizeof a, "model.layers.%zu.attn.attn.impl.matmul_av", i);
        snprintf(b, sizeof b, "model.layers.%zu.attn.attn.impl.v_cache", i);
        mm = fp8q_inc_measure_find(&m, a), cc = fp8q_inc_measure_find(&m, b);
        if (mm && cc) expect += mm->inputs[1].v[0] != cc->inputs[0].v[0];
    }
    CHECK(fp8q_inc_postprocess_kv(&m, FP8Q_INC_KV_STRICT, &changed, &e) == FP8Q_OK && changed == 0, "strict: %zu",
          changed);
    CHECK(fp8q_inc_postprocess_kv(&m, 0, &changed, &e) == FP8Q_OK && changed == expect, "kv: %zu changed, want %zu",
          changed, expect);
    CHECK(fp8q_inc_postprocess_kv(&m, 0, &changed, &e) == FP8Q_OK && changed == 0, "kv twice: %zu", changed);
    printf("    step 3 on the real file: %zu entries changed\n", expect);
    /* the mod list: an array of names; every measured node is in it */
    {
        fp8q_inc_measure ml;
        char *lt;
        size_t ll = 0, t, found = 0;
        int r = (int)fp8q_inc_measure_load(&ml, MOD_LIST, &e);
        CHECK(r == FP8Q_ERR_PARSE && strstr(e.message, "_mod_list.json: INC measurement file: the root"),
              "mod list: %s", e.message);
        f = fopen(MOD_LIST, "rb");
        CHECK(f != NULL, "mod list");
        if (f) {
            fseek(f, 0, SEEK_END);
            ll = (size_t)ftell(f);
            fseek(f, 0, SEEK_SET);
            lt = (char *)malloc(ll + 1);
            CHECK(fread(lt, 1, ll, f) == ll, "read");
            fclose(f);
            CHECK(fp8q_json_parse(&j, lt, ll, 0, &e) == FP8Q_OK && j.tok[0].size == 1848, "mod list size");
            for (i = 0; i < m.n_nodes; i++)
                for (t = 1; t < j.count; t++)
                    if (fp8q_json_string_eq(&j, t, m.nodes[i].name)) {
                        found++;
                        break;
                    }
            CHECK(found == m.n_nodes, "%zu of %zu nodes in the mod list", found, m.n_nodes);
            fp8q_json_free(&j);
            free(lt);
        }
    }
    fp8q_inc_measure_free(&m);
    free(text);
}

/* ------------------------------------------------------------ hostile files */

static void test_hostile(void)
{
    static const struct {
        const char *doc;
        int code;
        const char *frag;
    } t[] = {
        {"[\"a\", \"b\"]", FP8Q_ERR_PARSE, "_mod_list.json"},
        {"{\"GlobalRank\": null, \"Mode\": \"DynamicRange\"}", FP8Q_ERR_PARSE, "missing \"Nodes\""},
        {"{\"Nodes\": {}}", FP8Q_ERR_PARSE, "missing \"Mode\""},
        {"{\"Mode\": \"dynamicrange\", \"Nodes\": {}}", FP8Q_ERR_PARSE, "exact case"},
        {"{\"Mode\": \"Shape\", \"Nodes\": {}}", FP8Q_ERR_UNSUPPORTED, "Shape"},
        {"{\"Mode\": 3, \"Nodes\": {}}", FP8Q_ERR_PARSE,
         "\"Mode\": expected \"DynamicRange\" or \"Scale\", got a number"},
        {"{\"Mode\": \"DynamicRange\", \"Nodes\": []}", FP8Q_ERR_PARSE, "\"Nodes\": expected an object of nodes"},
        {"{\"Mode\": \"DynamicRange\", \"Nodes\": {\"a\": 1}}", FP8Q_ERR_PARSE, "node 'a': a node must be an object"},
        {"{\"Mode\": \"DynamicRange\", \"Nodes\": {\"a\": {\"inputs\": {}}}}", FP8Q_ERR_PARSE,
         "node 'a': \"inputs\": expected an array of entries, got an object"},
        {"{\"Mode\": \"DynamicRange\", \"Nodes\": {\"a\": {\"inputs\": [1.5]}}}", FP8Q_ERR_PARSE,
         "node 'a': \"inputs\"[0]: expected an array of channels ([[v], ...]), got a number at line 1"},
        {"{\"Mode\": \"DynamicRange\", \"Nodes\": {\"a\": {\"inputs\": [[1.5]]}}}", FP8Q_ERR_PARSE,
         "\"inputs\"[0]: expected a channel array [v, ...], got a number"},
        {"{\"Mode\": \"DynamicRange\", \"Nodes\": {\"a\": {\"inputs\": [[[]]]}}}", FP8Q_ERR_PARSE,
         "empty channel array"},
        {"{\"Mode\": \"DynamicRange\", \"Nodes\": {\"a\": {\"inputs\": [[]]}}}", FP8Q_ERR_PARSE, "empty array"},
        {"{\"Mode\": \"DynamicRange\", \"Nodes\": {\"a\": {\"inputs\": [[[1], [2, 3]]]}}}", FP8Q_ERR_PARSE,
         "channel arrays of different lengths"},
        {"{\"Mode\": \"DynamicRange\", \"Nodes\": {\"a\": {\"inputs\": [[[[1]]]]}}}", FP8Q_ERR_PARSE,
         "nested too deep"},
        {"{\"Mode\": \"DynamicRange\", \"Nodes\": {\"a\": {\"inputs\": [[[\"1\"]]]}}}", FP8Q_ERR_PARSE,
         "expected a number, got a string"},
        {"{\"Mode\": \"DynamicRange\", \"Nodes\": {\"a\": {\"inputs\": [[[1]]]}, \"a\": {\"inputs\": [[[2]]]}}}",
         FP8Q_ERR_PARSE, "duplicate"},
        {"{\"Mode\": \"DynamicRange\", \"Nodes\": {\"a\": {\"input\": [[[1]]]}}}", FP8Q_ERR_PARSE,
         "node 'a': unknown key"},
        {"{\"Mode\": \"DynamicRange\", \"Nodes\": {\"a\": {\"outputs\": [[[1]]]}}}", FP8Q_ERR_PARSE,
         "node 'a': missing \"inputs\""},
        {"{\"NumSamples\": 1.5, \"Mode\": \"DynamicRange\", \"Nodes\": {}}", FP8Q_ERR_PARSE, "\"NumSamples\""},
        {"{\"NumSamples\": 2.0, \"Mode\": \"DynamicRange\", \"Nodes\": {}}", FP8Q_ERR_PARSE, "integer literal"},
        {"{\"NumSamples\": -1, \"Mode\": \"DynamicRange\", \"Nodes\": {}}", FP8Q_ERR_PARSE, ">= 0"},
        {"{\"NumSamples\": 1000000000000000000000, \"Mode\": \"DynamicRange\", \"Nodes\": {}}", FP8Q_ERR_LIMIT,
         "int64"},
        {"{\"LocalRank\": \"0\", \"Mode\": \"DynamicRange\", \"Nodes\": {}}", FP8Q_ERR_PARSE,
         "\"LocalRank\": expected an integer or null, got a string"},
        {"{\"Mode\": \"DynamicRange\", \"Nodes\": {\"a\": {\"inputs\": [[[123456789012345678901]]]}}}", FP8Q_ERR_LIMIT,
         "2^53"},
        {"{\"Mode\": \"DynamicRange\", \"Nodes\": {\"a\": {\"inputs\": [[[nan]]]}}}", FP8Q_ERR_PARSE, "line 1"},
        {"{\"Mode\": \"DynamicRange\", \"Nodes\": {\"a\": {\"inputs\": [], \"params\": {\"weight\": {\"0\": [1]}}}}}",
         FP8Q_ERR_PARSE, "\"Scale\" files"},
        {"{\"Mode\": \"Scale\", \"Nodes\": {\"a\": {\"inputs\": [], \"params\": [1]}}}", FP8Q_ERR_PARSE,
         "\"params\": expected an object"},
        {"{\"Mode\": \"Scale\", \"Nodes\": {\"a\": {\"inputs\": [null]}}}", FP8Q_ERR_PARSE,
         "expected a number or an array, got null"},
        {"{\"Mode\": \"Scale\", \"Nodes\": {\"a\": {\"inputs\": [[1, [2]]]}}}", FP8Q_ERR_PARSE,
         "a 1-D entry holds numbers"},
        {"{\"Mode\": \"Scale\", \"Nodes\": {\"a\\u0000b\": {\"inputs\": []}}}", FP8Q_ERR_PARSE, "NUL"},
        {"{\"Mode\": \"Scale\", \"Nodes\": {}, \"Extra\": 1}", FP8Q_ERR_PARSE, "unknown top-level key"},
        {"{\"Mode\": \"Scale\", \"Nodes\": {}} x", FP8Q_ERR_PARSE, "INC measurement file: "},
        {"", FP8Q_ERR_PARSE, "INC measurement file: "},
        {"{\"Mode\": \"Scale\", \"Nodes\": {\"a\": {\"inputs\": [1,]}}}", FP8Q_ERR_PARSE, "line 1"},
    };
    size_t i;
    char *deep;
    fp8q_inc_measure m;
    fp8q_error e;
    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        int r = parse_str(&m, t[i].doc, &e);
        CHECK(r == t[i].code && e.code == r && strstr(e.message, t[i].frag) != NULL,
              "doc %zu: %d (want %d) '%s' lacks '%s'", i, r, t[i].code, e.message, t[i].frag);
        CHECK(m.nodes == NULL && m.n_nodes == 0, "doc %zu: not emptied", i);
        fp8q_inc_measure_free(&m);
    }
    /* nesting beyond FP8Q_MAX_JSON_DEPTH */
    deep = (char *)malloc(4096);
    strcpy(deep, "{\"Mode\": \"Scale\", \"Nodes\": {\"a\": {\"inputs\": ");
    for (i = 0; i < 1000; i++) strcat(deep, "[");
    CHECK(parse_str(&m, deep, &e) == FP8Q_ERR_LIMIT, "deep nesting: %s", e.message);
    free(deep);
    /* a large finite literal beyond double range reads as Infinity, like Python's float() */
    CHECK(parse_str(&m, "{\"Mode\": \"DynamicRange\", \"Nodes\": {\"a\": {\"inputs\": [[[1e400]]]}}}", &e) == FP8Q_OK &&
              isinf(m.nodes[0].inputs[0].v[0]),
          "1e400");
    fp8q_inc_measure_free(&m);
    CHECK(fp8q_inc_measure_parse(NULL, "{}", 2, &e) == FP8Q_ERR_ARG, "NULL m");
    CHECK(fp8q_inc_measure_load(&m, "/nonexistent/x.json", &e) == FP8Q_ERR_IO && strstr(e.message, "/nonexistent"),
          "io: %s", e.message);
    printf("    %zu hostile documents + nesting, IO, NULL\n", sizeof t / sizeof t[0]);
}

/* ------------------------------------------------------------ writer */

static void test_writer(void)
{
    static const char *doc =
        "{\"NumSamples\": 3, \"Mode\": \"Scale\", \"LocalRank\": -2, \"Nodes\": {\"n\": {\"params\": {\"weight\": "
        "{\"0\": [0.5, 0.25], \"1\": [1.0, 1.0]}, \"b\": 7}, \"outputs\": [[1, -0, 2.50, 1E2]], \"inputs\": [0.1, "
        "[[1e-5], [1.5e16]]]}}}";
    static const char *want4 =
        "{\n    \"NumSamples\": 3,\n    \"Mode\": \"Scale\",\n    \"LocalRank\": -2,\n    \"Nodes\": {\n        \"n\": "
        "{\n            \"params\": {\n                \"weight\": {\n                    \"0\": [\n                   "
        " "
        "    0.5,\n                        0.25\n                    ],\n                    \"1\": [\n              "
        "          1.0,\n                        1.0\n                    ]\n                },\n                "
        "\"b\": "
        "7\n            },\n            \"outputs\": [\n                [\n                    1,\n                    "
        "0,\n                    2.5,\n                    100.0\n                ]\n            ],\n            "
        "\"inputs\": [\n                0.1,\n                [\n                    [\n                        "
        "1e-05\n                    ],\n                    [\n                        1.5e+16\n                    "
        "]\n                ]\n            ]\n        }\n    }\n}";
    static const char *want_none =
        "{\"NumSamples\": 3, \"Mode\": \"Scale\", \"LocalRank\": -2, \"Nodes\": {\"n\": {\"params\": {\"weight\": "
        "{\"0\": [0.5, 0.25], \"1\": [1.0, 1.0]}, \"b\": 7}, \"outputs\": [[1, 0, 2.5, 100.0]], \"inputs\": [0.1, "
        "[[1e-05], [1.5e+16]]]}}}";
    fp8q_inc_measure m;
    fp8q_inc_node nd;
    fp8q_error e;
    char *out;
    size_t len;
    CHECK(parse_str(&m, doc, &e) == FP8Q_OK, "%s", e.message);
    CHECK(strcmp(m.order, "nmlN") == 0 && !m.has_global_rank && m.local_rank == -2 && m.num_samples == 3, "header");
    CHECK(m.n_nodes == 1 && strcmp(m.nodes[0].order, "poi") == 0 && m.nodes[0].params[0].is_dict &&
              m.nodes[0].params[0].count == 2 && m.nodes[0].inputs[0].rank == 0 && m.nodes[0].inputs[1].rank == 2 &&
              m.nodes[0].outputs[0].rank == 1 && m.nodes[0].outputs[0].isint && m.nodes[0].outputs[0].isint[1],
          "structure");
    out = write_str(&m, 4);
    CHECK(out && strcmp(out, want4) == 0, "indent 4");
    if (out && strcmp(out, want4)) show_diff("indent 4", out, want4);
    free(out);
    out = write_str(&m, FP8Q_INC_INDENT_NONE);
    CHECK(out && strcmp(out, want_none) == 0, "no indent: %s", out ? out : "");
    free(out);
    out = write_str(&m, 0);
    CHECK(out && strncmp(out, "{\n\"NumSamples\": 3,\n\"Mode\"", 25) == 0, "indent 0");
    free(out);
    CHECK(fp8q_inc_measure_write_mem(&out, &len, &m, 65, &e) == FP8Q_ERR_ARG, "indent 65");
    /* ensure_ascii escapes, duplicate names, bad UTF-8 */
    fp8q_inc_measure_free(&m);
    fp8q_inc_measure_init(&m, FP8Q_INC_MEASURE_DYNAMIC_RANGE);
    memset(&nd, 0, sizeof nd);
    nd.name = (char *)malloc(32);
    strcpy(nd.name, "q\"\\\n\x01\x7f\xc3\xa9\xf0\x9f\x98\x80/");
    CHECK(fp8q_inc_measure_add_node(&m, &nd, &e) == FP8Q_OK, "add");
    out = write_str(&m, FP8Q_INC_INDENT_NONE);
    CHECK(out && strcmp(out, "{\"GlobalRank\": null, \"LocalRank\": null, \"Mode\": \"DynamicRange\", \"Nodes\": "
                             "{\"q\\\"\\\\\\n\\u0001\\u007f\\u00e9\\ud83d\\ude00/\": {}}}") == 0,
          "escapes: %s", out ? out : "");
    if (out) {
        fp8q_inc_measure back;
        CHECK(parse_str(&back, out, &e) == FP8Q_ERR_PARSE && strstr(e.message, "missing \"inputs\""), "no inputs");
    }
    free(out);
    memset(&nd, 0, sizeof nd);
    nd.name = (char *)malloc(32);
    strcpy(nd.name, m.nodes[0].name);
    fp8q_inc_measure_add_node(&m, &nd, &e);
    CHECK(fp8q_inc_measure_write_mem(&out, &len, &m, 4, &e) == FP8Q_ERR_ARG && strstr(e.message, "duplicate"), "dup");
    m.nodes[1].name[0] = (char)0xC0;
    CHECK(fp8q_inc_measure_write_mem(&out, &len, &m, 4, &e) == FP8Q_ERR_ARG && strstr(e.message, "UTF-8"), "utf8");
    m.nodes[1].name[0] = 'z';
    m.nodes[1].has_inputs = 1, m.nodes[1].n_inputs = 1;
    m.nodes[1].inputs = (fp8q_inc_entry *)calloc(1, sizeof(fp8q_inc_entry));
    m.nodes[1].inputs[0].rank = 2, m.nodes[1].inputs[0].rows = 1, m.nodes[1].inputs[0].cols = 1;
    m.nodes[1].inputs[0].v = (double *)malloc(sizeof(double));
    m.nodes[1].inputs[0].v[0] = 0.5;
    m.nodes[1].inputs[0].isint = (unsigned char *)calloc(1, 1);
    m.nodes[1].inputs[0].isint[0] = 1;
    CHECK(fp8q_inc_measure_write_mem(&out, &len, &m, 4, &e) == FP8Q_ERR_ARG && strstr(e.message, "integer"),
          "isint on 0.5");
    m.nodes[1].inputs[0].v[0] = -0.0;
    CHECK(fp8q_inc_measure_write_mem(&out, &len, &m, FP8Q_INC_INDENT_NONE, &e) == FP8Q_OK &&
              strstr(out, "\"inputs\": [[[0]]]"),
          "integer -0: %s", out ? out : e.message);
    free(out);
    fp8q_inc_measure_free(&m);
    /* file writer */
    CHECK(parse_str(&m, doc, &e) == FP8Q_OK, "reparse");
    CHECK(fp8q_inc_measure_write("/nonexistent/dir/x.json", &m, 4, &e) == FP8Q_ERR_IO, "write io");
    fp8q_inc_measure_free(&m);
}

/* ------------------------------------------------------------ node scales */

static void test_node_scales(void)
{
    fp8q_inc_node nd, meas;
    fp8q_inc_entry in[2];
    double v0 = 40.75, v1 = 95.5;
    fp8q_error e;
    const fp8q_inc_method *hw = fp8q_inc_method_get("MAXABS_HW"), *unit = fp8q_inc_method_get("UNIT_SCALE"),
                          *dyn = fp8q_inc_method_get("MAXABS_PCS_POW2");
    float ws = 0.0625f;
    int r;
    r = (int)fp8q_inc_node_scales(&nd, "model.layers.3.mlp.down_proj", FP8Q_INC_OP_LINEAR, NULL, &ws, 1, 0, &hw->weight,
                                  &hw->activation, FP8Q_GAUDI2, 0, &e);
    CHECK(r == FP8Q_ERR_PARSE &&
              strcmp(e.message, "Error - Layer 'model.layers.3.mlp.down_proj' was called but was not "
                                "quantized because no measures were supplied.") == 0,
          "missing: %s", e.message);
    r = (int)fp8q_inc_node_scales(&nd, "x", FP8Q_INC_OP_LINEAR, NULL, &ws, 1, 0, &hw->weight, &hw->activation,
                                  FP8Q_GAUDI2, FP8Q_INC_IGNORE_MISSING, &e);
    CHECK(r == FP8Q_OK && nd.name == NULL, "ignore missing");
    r = (int)fp8q_inc_node_scales(&nd, "x", FP8Q_INC_OP_MATMUL, NULL, NULL, 0, 0, &unit->weight, &unit->activation,
                                  FP8Q_GAUDI3, 0, &e);
    CHECK(r == FP8Q_OK && nd.name && nd.n_inputs == 2 && nd.inputs[0].v[0] == 1.0 && nd.outputs[0].v[0] == 1.0,
          "unit scale without measurements");
    fp8q_inc_node_free(&nd);
    r = (int)fp8q_inc_node_scales(&nd, "x", FP8Q_INC_OP_LINEAR, NULL, &ws, 1, 0, &dyn->weight, &dyn->activation,
                                  FP8Q_GAUDI3, 0, &e);
    CHECK(r == FP8Q_ERR_UNSUPPORTED, "dynamic: %d", r);
    memset(&meas, 0, sizeof meas);
    memset(in, 0, sizeof in);
    in[0].rank = in[1].rank = 2, in[0].rows = in[0].cols = in[1].rows = in[1].cols = 1;
    in[0].v = &v0, in[1].v = &v1;
    meas.name = (char *)"m";
    meas.has_inputs = 1, meas.n_inputs = 1, meas.inputs = in;
    r = (int)fp8q_inc_node_scales(&nd, "m", FP8Q_INC_OP_MATMUL, &meas, NULL, 0, 0, &hw->weight, &hw->activation,
                                  FP8Q_GAUDI2, 0, &e);
    CHECK(r == FP8Q_ERR_PARSE && strstr(e.message, "\"inputs\"[1]"), "one input: %s", e.message);
    r = (int)fp8q_inc_node_scales(&nd, "m", FP8Q_INC_OP_SOFTMAX, &meas, NULL, 0, 0, &hw->weight, &hw->activation,
                                  FP8Q_GAUDI2, 0, &e);
    CHECK(r == FP8Q_ERR_PARSE && strstr(e.message, "\"outputs\"[0]"), "softmax: %s", e.message);
    meas.n_inputs = 2;
    r = (int)fp8q_inc_node_scales(&nd, "m", FP8Q_INC_OP_MATMUL, &meas, NULL, 0, 0, &hw->weight, &hw->activation,
                                  FP8Q_GAUDI3, 0, &e);
    CHECK(r == FP8Q_OK && nd.inputs[0].v[0] == 0.5 && nd.inputs[1].v[0] == 1.0 && nd.outputs[0].v[0] == 0.5 &&
              nd.n_params == 0 && nd.has_params,
          "matmul G3");
    fp8q_inc_node_free(&nd);
    r = (int)fp8q_inc_node_scales(&nd, "m", FP8Q_INC_OP_KV_CACHE, &meas, NULL, 0, 0, &hw->weight, &hw->activation,
                                  FP8Q_GAUDI2, 0, &e);
    CHECK(r == FP8Q_OK && nd.inputs[0].v[0] == 1.0 && nd.outputs[0].v[0] == 1.0, "kv G2");
    fp8q_inc_node_free(&nd);
    r = (int)fp8q_inc_node_scales(&nd, "m", FP8Q_INC_OP_LINEAR, &meas, NULL, 0, 0, &hw->weight, &hw->activation,
                                  FP8Q_GAUDI2, 0, &e);
    CHECK(r == FP8Q_ERR_ARG, "linear without weight scales");
    {
        float w = 1.0f;
        fp8q_inc_scale_cfg bad = hw->weight;
        bad.value_type = FP8Q_INC_OPT, bad.rounding = FP8Q_INC_IDENTITY;
        CHECK(fp8q_inc_weight_scales(&w, &w, 1, 1, &bad, NULL, 0, FP8Q_GAUDI2, &e) == FP8Q_ERR_UNSUPPORTED,
              "opt identity");
        CHECK(fp8q_inc_weight_scales(&w, &w, 0, 1, &hw->weight, NULL, 0, FP8Q_GAUDI2, &e) == FP8Q_ERR_ARG, "rows 0");
        CHECK(fp8q_inc_weight_scales(&w, &w, 1, 1, &hw->weight, NULL, 0, (fp8q_gaudi)1, &e) == FP8Q_ERR_ARG, "device");
        CHECK(fp8q_inc_act_scale(&w, NULL, &hw->activation, FP8Q_GAUDI2) == FP8Q_ERR_ARG, "NULL entry");
        CHECK(fp8q_inc_act_scale(&w, NULL, &unit->activation, FP8Q_GAUDI2) == FP8Q_OK && w == 1.0f, "unit");
        CHECK(fp8q_inc_act_scale(&w, NULL, &dyn->activation, FP8Q_GAUDI2) == FP8Q_ERR_UNSUPPORTED, "pcs act");
    }
}

/* ------------------------------------------------------------ steps 3 and 5 */

static void test_postprocess(void)
{
    size_t len, changed;
    char *in = fixture_file("pp_in", &len), *want = fixture_file("pp_out", NULL), *out;
    fp8q_inc_measure m;
    fp8q_error e;
    int flags;
    CHECK(in && want, "fixture files pp_in / pp_out");
    if (!in || !want) {
        free(in), free(want);
        return;
    }
    for (flags = 0; flags <= FP8Q_INC_KV_STRICT; flags++) {
        CHECK(fp8q_inc_measure_parse(&m, in, len, &e) == FP8Q_OK, "%s", e.message);
        CHECK(fp8q_inc_postprocess_kv(&m, flags, &changed, &e) == FP8Q_OK && changed == 5, "changed %zu", changed);
        out = write_str(&m, FP8Q_INC_INDENT_NONE);
        CHECK(out && strcmp(out, want) == 0, "step 3 (flags %d) differs from INC's script", flags);
        if (out && strcmp(out, want)) show_diff("step 3", out, want);
        free(out);
        fp8q_inc_measure_free(&m);
    }
    /* MLA, FSDPA, other prefixes, missing sources, errors */
    {
        static const char *d =
            "{\"Mode\": \"DynamicRange\", \"Nodes\": {"
            "\"language_model.model.layers.0.self_attn.mla_attn.impl.matmul_qk\": {\"inputs\": [[[1.0]], [[2.0]]]},"
            "\"language_model.model.layers.0.self_attn.mla_attn.impl.matmul_av\": {\"inputs\": [[[1.0]], [[3.0]]]},"
            "\"language_model.model.layers.0.self_attn.mla_attn.impl.latent_cache_k\": {\"inputs\": [[[8.0]]]},"
            "\"model.layers.1.attn.attn.impl.matmul_qk\": {\"inputs\": [[[1.0]], [[2.0]]]},"
            "\"model.layers.1.attn.attn.impl.fused_scaled_dot_product_attention\": {\"inputs\": [[[1.0]]], "
            "\"outputs\": [[[5.0]], [[1.0]]]},"
            "\"model.layers.1.attn.o_proj\": {\"inputs\": [[[6.5]]]}}}";
        const fp8q_inc_node *n;
        CHECK(parse_str(&m, d, &e) == FP8Q_OK, "%s", e.message);
        CHECK(fp8q_inc_postprocess_kv(&m, 0, &changed, &e) == FP8Q_OK && changed == 0, "no sources: %zu", changed);
        CHECK(fp8q_inc_postprocess_kv(&m, FP8Q_INC_KV_STRICT | FP8Q_INC_KV_MLA, &changed, &e) == FP8Q_OK &&
                  changed == 0,
              "strict: other prefix");
        CHECK(fp8q_inc_postprocess_kv(&m, FP8Q_INC_KV_MLA | FP8Q_INC_KV_FSDPA, &changed, &e) == FP8Q_OK && changed == 3,
              "mla + fsdpa: %zu", changed);
        n = fp8q_inc_measure_find(&m, "language_model.model.layers.0.self_attn.mla_attn.impl.matmul_av");
        CHECK(n && n->inputs[1].v[0] == 8.0, "mla av");
        n = fp8q_inc_measure_find(&m, "model.layers.1.attn.attn.impl.fused_scaled_dot_product_attention");
        CHECK(n && n->outputs[0].v[0] == 6.5 && n->outputs[1].v[0] == 1.0, "fsdpa");
        fp8q_inc_measure_free(&m);
        CHECK(parse_str(&m,
                        "{\"Mode\": \"DynamicRange\", \"Nodes\": {\"p.matmul_qk\": {\"inputs\": [[[1.0]]]}, "
                        "\"p.k_cache\": {\"inputs\": [[[2.0]]]}}}",
                        &e) == FP8Q_OK,
              "parse");
        CHECK(fp8q_inc_postprocess_kv(&m, 0, &changed, &e) == FP8Q_ERR_PARSE && strstr(e.message, "'p.matmul_qk'"),
              "one input: %s", e.message);
        CHECK(fp8q_inc_postprocess_kv(&m, 8, &changed, &e) == FP8Q_ERR_ARG, "flags");
        fp8q_inc_measure_free(&m);
    }
    free(in);
    free(want);
}

static void test_unify(void)
{
    fp8q_inc_measure in[4], out[2];
    const fp8q_inc_measure *pin[4];
    fp8q_error e;
    char name[16], *t, *o;
    size_t len;
    int r, k;
    for (r = 0; r < 4; r++) {
        snprintf(name, sizeof name, "u_in%d", r);
        t = fixture_file(name, &len);
        CHECK(t && fp8q_inc_measure_parse(&in[r], t, len, &e) == FP8Q_OK, "%s", name);
        free(t);
        pin[r] = &in[r];
    }
    CHECK(fp8q_inc_unify(pin, 4, 2, out, &e) == FP8Q_OK, "%s", e.message);
    for (k = 0; k < 2; k++) {
        snprintf(name, sizeof name, "u_out%d", k);
        t = fixture_file(name, NULL);
        o = write_str(&out[k], 4);
        CHECK(t && o && strcmp(o, t) == 0, "unified group %d differs from the script's", k);
        if (t && o && strcmp(o, t)) show_diff(name, o, t);
        free(t), free(o);
        fp8q_inc_measure_free(&out[k]);
    }
    /* errors */
    CHECK(fp8q_inc_unify(pin, 4, 4, out, &e) == FP8Q_ERR_ARG && strstr(e.message, "larger"), "R = W");
    CHECK(fp8q_inc_unify(pin, 4, 3, out, &e) == FP8Q_ERR_ARG && strstr(e.message, "divisible"), "W %% R");
    CHECK(fp8q_inc_unify(pin, 4, 0, out, &e) == FP8Q_ERR_ARG, "R = 0");
    in[3].nodes[0].inputs[0].rows = 2;
    CHECK(fp8q_inc_unify(pin, 4, 2, out, &e) == FP8Q_ERR_PARSE && strstr(e.message, "rank 3") &&
              strstr(e.message, "shapes"),
          "shape: %s", e.message);
    CHECK(out[0].nodes == NULL && out[1].nodes == NULL, "outputs emptied");
    in[3].nodes[0].inputs[0].rows = 3;
    in[3].nodes[0].name[0] = 'X';
    CHECK(fp8q_inc_unify(pin, 4, 2, out, &e) == FP8Q_ERR_PARSE && strstr(e.message, "rank 3") &&
              strstr(e.message, "missing"),
          "missing node: %s", e.message);
    in[3].nodes[0].name[0] = 'm';
    in[1].mode = FP8Q_INC_MEASURE_SCALE;
    CHECK(fp8q_inc_unify(pin, 4, 2, out, &e) == FP8Q_ERR_PARSE && strstr(e.message, "Mode"), "mode");
    in[1].mode = FP8Q_INC_MEASURE_DYNAMIC_RANGE;
    CHECK(fp8q_inc_unify(pin, 4, 1, out, &e) == FP8Q_OK && out[0].local_rank == -1, "R = 1");
    fp8q_inc_measure_free(&out[0]);
    for (r = 0; r < 4; r++) fp8q_inc_measure_free(&in[r]);
    /* scale files, W = 2 -> R = 1 */
    for (r = 0; r < 2; r++) {
        snprintf(name, sizeof name, "s_in%d", r);
        t = fixture_file(name, &len);
        CHECK(t && fp8q_inc_measure_parse(&in[r], t, len, &e) == FP8Q_OK, "%s", name);
        free(t);
    }
    CHECK(fp8q_inc_unify(pin, 2, 1, out, &e) == FP8Q_OK, "%s", e.message);
    t = fixture_file("s_out0", NULL);
    o = write_str(&out[0], 4);
    CHECK(t && o && strcmp(o, t) == 0, "unified scale file differs");
    if (t && o && strcmp(o, t)) show_diff("s_out0", o, t);
    free(t), free(o);
    fp8q_inc_measure_free(&out[0]);
    for (r = 0; r < 2; r++) fp8q_inc_measure_free(&in[r]);
}

int main(void)
{
    if (!load_fixture()) {
        printf("FAIL cannot open %s (run from the repository root)\n", FP8Q_INC_FIXTURES);
        g_failed++;
    } else {
        run_case("Python float repr (fixture)", test_repr);
        run_case("POW2 / HW_ALIGNED, every BF16 value (fixture)", test_pow2_exhaustive);
        run_case("activation scales, 13 methods x 2 devices (fixture)", test_act_fixture);
        run_case("weight scales: MAXABS, FIXED, OPT PTS/PCS (fixture)", test_weight_fixture);
        run_case("dynamic per-token scales (fixture)", test_token_fixture);
        run_case("scale files per method and device (fixture)", test_scale_files);
        run_case("step 3 KV post-processing (fixture)", test_postprocess);
        run_case("step 5 rank unification (fixture)", test_unify);
    }
    run_case("INC.md 3.7 worked numbers", test_worked_numbers);
    run_case("writer: layout, escapes, errors", test_writer);
    run_case("node scales: errors and special cases", test_node_scales);
    run_case("hostile measurement files", test_hostile);
    if (shared_data_missing()) {
        printf("skipped: real INC measurement files (../shared/data not found beside the repository)\n");
        g_skipped++;
    } else {
        run_case("real measurement files: parse, values, round trip, step 3", test_real_files);
    }
    free(g_fx.text);
    free(g_fx.line);
    printf("%d passed, %d failed, %d skipped\n", g_passed, g_failed, g_skipped);
    return g_failed ? 1 : 0;
}
