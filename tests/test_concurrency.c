/* Concurrency and determinism (issue "reliability"):
   (a) two different models (tests/fixtures/llama/tiny-f32 with fp8-dynamic,
       tiny-gqa-fp8-static-kv with auto and an E4M3 KV cache) and a larger
       random model using fp8q's own threads, shared read-only by several
       threads that each run them repeatedly with their own fp8q_state, give
       bit-identical logits to a single-threaded run;
   (b) many threads doing bulk conversions (every format, SATFINITE/NOSAT,
       every scale operation, f32/f16/bf16), every quantization recipe and
       the three GEMM modes at once give the single-threaded bytes;
   (c) REFERENCE and EXACT model logits are identical across opts.threads
       1, 2, 3, 4, a caller's parallel-for that runs the tasks backwards,
       and runs; FAST is identical across runs for a fixed thread count;
   (d) a model loaded twice, or by two threads at once, holds identical
       weights (FP8 codes, scales, norms, embeddings: memcmp).
   The rules relied on (fp8q.h, "Thread safety"): no global or static
   mutable state; fp8q_forward takes the model const, so one loaded model
   may serve any number of threads, each with its own fp8q_state; no object
   is used by two threads at once unless it is const.
   Scratch files live in build/test_concurrency_tmp.<pid>/ and are removed
   at the end. Build with -pthread; also run under -fsanitize=thread. Run
   from the repository root. POSIX threads. */
#define _POSIX_C_SOURCE        200809L
#define FP8Q_PARALLEL_MIN_WORK (1 << 19) /* the small models here must still run in parallel */
#define FP8Q_IMPLEMENTATION
#include "../fp8q.h"
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <math.h>
#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness.h"

#define FIX     "tests/fixtures/llama/"
#define NTOK    12 /* tokens per run: PREFILL in one call, the rest one by one */
#define PREFILL 8
#define BIG_TOK 16 /* the random model: enough rows for fp8q's threads to start */

static char g_root[128], g_big[192];
static int32_t g_tokens[BIG_TOK];

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static fp8q_model_options opts(const char *quant, fp8q_kv_cache kv, fp8q_gemm_mode gemm, int threads)
{
    fp8q_model_options o;
    memset(&o, 0, sizeof o);
    if (!fp8q_quant_from_name(quant, &o.quant)) printf("    unknown quant %s\n", quant);
    o.kv_cache = kv, o.gemm = gemm, o.threads = threads;
    return o;
}

/* The logits of tokens[0, n): prefill tokens in one forward call, then one
   token per call; [n][vocab], malloc'd. s is reset first. NULL on error. */
static float *run_model(const fp8q_model *m, fp8q_state *s, const int32_t *tokens, int n, int prefill, char *why,
                        size_t why_cap)
{
    size_t vocab = (size_t)m->config.vocab_size;
    float *out = (float *)malloc((size_t)n * vocab * sizeof(float));
    fp8q_error e;
    int t;
    if (!out) return NULL;
    fp8q_state_reset(s);
    if (fp8q_forward(m, s, tokens, prefill, out, &e) != FP8Q_OK) goto fail;
    for (t = prefill; t < n; t++)
        if (fp8q_forward(m, s, tokens + t, 1, out + (size_t)t * vocab, &e) != FP8Q_OK) goto fail;
    return out;
fail:
    (void)snprintf(why, why_cap, "forward: %s", e.message);
    free(out);
    return NULL;
}

/* Loads dir, runs it once on the calling thread, frees it. */
static float *logits_of(const char *dir, const fp8q_model_options *o, int n, int prefill)
{
    fp8q_model m;
    fp8q_state s;
    fp8q_error e;
    char why[256];
    float *out;
    if (fp8q_model_load(&m, dir, o, &e) != FP8Q_OK) {
        printf("    load %s: %s\n", dir, e.message);
        return NULL;
    }
    if (fp8q_state_init(&s, &m, n, n, &e) != FP8Q_OK) {
        printf("    state: %s\n", e.message);
        fp8q_model_free(&m);
        return NULL;
    }
    out = run_model(&m, &s, g_tokens, n, prefill, why, sizeof why);
    if (!out) printf("    %s: %s\n", dir, why);
    fp8q_state_free(&s);
    fp8q_model_free(&m);
    return out;
}

static int start_threads(pthread_t *tid, int n, void *(*fn)(void *), void *jobs, size_t job_size)
{
    int i, started = 0;
    for (i = 0; i < n; i++) {
        int rc = pthread_create(&tid[i], NULL, fn, (char *)jobs + (size_t)i * job_size);
        if (rc != 0) {
            printf("    pthread_create: %s\n", strerror(rc));
            break;
        }
        started++;
    }
    return started;
}

static void join_threads(pthread_t *tid, int n)
{
    int i;
    for (i = 0; i < n; i++) (void)pthread_join(tid[i], NULL);
}

/* ------------------------------------ (a) shared models, parallel runs */

#define N_MODELS      3
#define N_FWD_THREADS 4
#define FWD_ITERS     3

typedef struct shared_model {
    const char *label;
    fp8q_model m;
    int n_tok, prefill;
    float *want; /* single-threaded logits */
} shared_model;

typedef struct fwd_job {
    shared_model *models; /* read only */
    int thread;
    int runs, mismatches, errors;
    char why[256];
} fwd_job;

static void *fwd_main(void *arg)
{
    fwd_job *j = (fwd_job *)arg;
    fp8q_state s[N_MODELS];
    fp8q_error e;
    int it, k, ok[N_MODELS];
    for (k = 0; k < N_MODELS; k++) {
        ok[k] = fp8q_state_init(&s[k], &j->models[k].m, j->models[k].n_tok, j->models[k].n_tok, &e) == FP8Q_OK;
        if (!ok[k]) {
            j->errors++;
            (void)snprintf(j->why, sizeof j->why, "state_init: %s", e.message);
        }
    }
    for (it = 0; it < FWD_ITERS; it++)
        for (k = 0; k < N_MODELS; k++) {
            const shared_model *sm = &j->models[(k + j->thread) % N_MODELS]; /* each thread its own order */
            int idx = (int)(sm - j->models);
            float *got;
            if (!ok[idx]) continue;
            got = run_model(&sm->m, &s[idx], g_tokens, sm->n_tok, sm->prefill, j->why, sizeof j->why);
            j->runs++;
            if (!got)
                j->errors++;
            else if (memcmp(got, sm->want, (size_t)sm->n_tok * (size_t)sm->m.config.vocab_size * sizeof(float)) != 0)
                j->mismatches++, (void)snprintf(j->why, sizeof j->why, "%s: logits differ", sm->label);
            free(got);
        }
    for (k = 0; k < N_MODELS; k++) fp8q_state_free(&s[k]);
    return NULL;
}

static void test_shared_models(void)
{
    shared_model sm[N_MODELS];
    fwd_job jobs[N_FWD_THREADS];
    pthread_t tid[N_FWD_THREADS];
    fp8q_model_options o[N_MODELS];
    const char *dirs[N_MODELS];
    fp8q_error e;
    int k, i, started, loaded = 1;
    o[0] = opts("fp8-dynamic", FP8Q_KV_AUTO, FP8Q_GEMM_REFERENCE, 0), dirs[0] = FIX "tiny-f32";
    o[1] = opts("auto", FP8Q_KV_E4M3, FP8Q_GEMM_REFERENCE, 0), dirs[1] = FIX "tiny-gqa-fp8-static-kv";
    o[2] = opts("fp8-dynamic", FP8Q_KV_E4M3, FP8Q_GEMM_FAST, 2), dirs[2] = g_big; /* nested: fp8q's own threads */
    memset(sm, 0, sizeof sm);
    sm[0].label = "tiny-f32 fp8-dynamic", sm[1].label = "tiny-gqa-fp8-static-kv auto, e4m3 KV",
    sm[2].label = "random 256-wide fp8-dynamic FAST, 2 threads";
    for (k = 0; k < N_MODELS; k++) {
        fp8q_state s;
        char why[256];
        sm[k].n_tok = k == 2 ? BIG_TOK : NTOK, sm[k].prefill = k == 2 ? BIG_TOK - 2 : PREFILL;
        if (fp8q_model_load(&sm[k].m, dirs[k], &o[k], &e) != FP8Q_OK) {
            CHECK(0, "load %s: %s", dirs[k], e.message);
            loaded = 0;
            continue;
        }
        if (fp8q_state_init(&s, &sm[k].m, sm[k].n_tok, sm[k].n_tok, &e) != FP8Q_OK) {
            CHECK(0, "state %s: %s", dirs[k], e.message);
            loaded = 0;
            continue;
        }
        sm[k].want = run_model(&sm[k].m, &s, g_tokens, sm[k].n_tok, sm[k].prefill, why, sizeof why);
        CHECK(sm[k].want != NULL, "%s: %s", sm[k].label, why);
        loaded &= sm[k].want != NULL;
        fp8q_state_free(&s);
    }
    if (loaded) {
        memset(jobs, 0, sizeof jobs);
        for (i = 0; i < N_FWD_THREADS; i++) jobs[i].models = sm, jobs[i].thread = i;
        started = start_threads(tid, N_FWD_THREADS, fwd_main, jobs, sizeof jobs[0]);
        join_threads(tid, started);
        CHECK(started == N_FWD_THREADS, "started %d threads", started);
        for (i = 0; i < started; i++)
            CHECK(jobs[i].runs == FWD_ITERS * N_MODELS && jobs[i].mismatches == 0 && jobs[i].errors == 0,
                  "thread %d: %d runs, %d mismatches, %d errors (%s)", i, jobs[i].runs, jobs[i].mismatches,
                  jobs[i].errors, jobs[i].why);
        printf("    %d threads x %d iterations x %d models, %d or %d tokens a run (a batch, then one by one)\n",
               started, FWD_ITERS, N_MODELS, NTOK, BIG_TOK);
    }
    for (k = 0; k < N_MODELS; k++) {
        free(sm[k].want);
        fp8q_model_free(&sm[k].m);
    }
}

/* ------------------------------------------ (b) conversions, recipes, GEMM */

#define CONV_N         8192
#define Q_ROWS         48
#define Q_COLS         160
#define G_M            5
#define G_N            40
#define G_K            96
#define N_CONV_THREADS 8
#define CONV_ITERS     2
#define N_SCALES       4
#define MAX_RECIPES    32

static const float SCALES[N_SCALES] = {1.0f, 0.3712f, 3.5f, 1e-3f};

/* Everything one pass computes; the single-threaded pass is the reference. */
typedef struct conv_out {
    uint8_t enc[FP8Q_FORMAT_COUNT][2][3][N_SCALES][CONV_N]; /* fmt, sat, op, scale: from f32 */
    uint8_t enc16[FP8Q_FORMAT_COUNT][2][2][CONV_N];         /* fmt, sat, f16/bf16 input (op DIV, scale 0.75) */
    float dec[FP8Q_FORMAT_COUNT][3][256];                   /* fmt, op (scale 0.3712) */
    uint16_t dec16[FP8Q_FORMAT_COUNT][2][256];              /* fmt, f16/bf16 (op MUL 3.5) */
    float scales[MAX_RECIPES][Q_ROWS * Q_COLS];
    uint8_t q[MAX_RECIPES][Q_ROWS * Q_COLS];
    float deq[MAX_RECIPES][Q_ROWS * Q_COLS];
    float gemm[3][G_M * G_N];
    int failures;
} conv_out;

static float g_src[CONV_N], g_x[Q_ROWS * Q_COLS];
static uint16_t g_src16[2][CONV_N];
static uint8_t g_codes[256], g_ga[G_M * G_K], g_gb[G_N * G_K];
static float g_gsa[G_M], g_gsb[G_N], g_gbias[G_N];

static void conv_inputs(void)
{
    uint64_t s = 12345;
    int i;
    for (i = 0; i < CONV_N; i++) {
        uint64_t r = splitmix(&s);
        uint32_t bits = (uint32_t)r;
        float f;
        if (i % 4 == 0) { /* a finite value of a useful size; the rest are any bit pattern (NaN, Inf, subnormals) */
            f = (float)((double)(int32_t)bits / 2147483648.0 * 600.0);
            memcpy(&bits, &f, 4);
        }
        memcpy(&g_src[i], &bits, 4);
        g_src16[0][i] = (uint16_t)(r >> 32), g_src16[1][i] = (uint16_t)(r >> 48);
    }
    for (i = 0; i < Q_ROWS * Q_COLS; i++)
        g_x[i] = (float)((double)(int64_t)splitmix(&s) / 9223372036854775808.0 * (i % 7 == 0 ? 2000.0 : 3.0));
    g_x[77] = NAN, g_x[500] = INFINITY;
    for (i = 0; i < 256; i++) g_codes[i] = (uint8_t)i;
    for (i = 0; i < G_M * G_K; i++) g_ga[i] = (uint8_t)(splitmix(&s) & 0x7E);
    for (i = 0; i < G_N * G_K; i++) g_gb[i] = (uint8_t)(splitmix(&s) & 0xFE);
    for (i = 0; i < G_M; i++) g_gsa[i] = 0.01f * (float)(i + 1);
    for (i = 0; i < G_N; i++) g_gsb[i] = 0.002f * (float)(i + 3), g_gbias[i] = 0.5f * (float)(i % 5) - 1.0f;
}

static void conv_pass(conv_out *o, int gemm_threads)
{
    static const fp8q_scale_op OPS[3] = {FP8Q_SCALE_NONE, FP8Q_SCALE_MUL, FP8Q_SCALE_DIV};
    static const fp8q_gemm_mode MODES[3] = {FP8Q_GEMM_REFERENCE, FP8Q_GEMM_EXACT, FP8Q_GEMM_FAST};
    int f, sat, op, sc, k, i, nr = fp8q_recipe_count();
    o->failures = 0;
    for (f = 0; f < FP8Q_FORMAT_COUNT; f++) {
        for (sat = 0; sat < 2; sat++) {
            for (op = 0; op < 3; op++)
                for (sc = 0; sc < N_SCALES; sc++)
                    o->failures += fp8q_encode_f32(o->enc[f][sat][op][sc], g_src, CONV_N, (fp8q_format)f,
                                                   (fp8q_saturation)sat, OPS[op], SCALES[sc]) != FP8Q_OK;
            o->failures += fp8q_encode_f16(o->enc16[f][sat][0], g_src16[0], CONV_N, (fp8q_format)f,
                                           (fp8q_saturation)sat, FP8Q_SCALE_DIV, 0.75f) != FP8Q_OK;
            o->failures += fp8q_encode_bf16(o->enc16[f][sat][1], g_src16[1], CONV_N, (fp8q_format)f,
                                            (fp8q_saturation)sat, FP8Q_SCALE_DIV, 0.75f) != FP8Q_OK;
        }
        for (op = 0; op < 3; op++)
            o->failures += fp8q_decode_f32(o->dec[f][op], g_codes, 256, (fp8q_format)f, OPS[op], 0.3712f) != FP8Q_OK;
        o->failures += fp8q_decode_f16(o->dec16[f][0], g_codes, 256, (fp8q_format)f, FP8Q_SCALE_MUL, 3.5f) != FP8Q_OK;
        o->failures += fp8q_decode_bf16(o->dec16[f][1], g_codes, 256, (fp8q_format)f, FP8Q_SCALE_MUL, 3.5f) != FP8Q_OK;
    }
    for (k = 0; k < nr && k < MAX_RECIPES; k++) {
        const fp8q_recipe *r = fp8q_recipe_at(k);
        o->failures += fp8q_compute_scales(o->scales[k], g_x, Q_ROWS, Q_COLS, r) != FP8Q_OK;
        o->failures += fp8q_quantize(o->q[k], g_x, Q_ROWS, Q_COLS, o->scales[k], r) != FP8Q_OK;
        o->failures += fp8q_dequantize(o->deq[k], o->q[k], Q_ROWS, Q_COLS, o->scales[k], r) != FP8Q_OK;
    }
    for (i = 0; i < 3; i++) {
        fp8q_gemm g;
        memset(&g, 0, sizeof g);
        g.M = G_M, g.N = G_N, g.K = G_K;
        g.a = g_ga, g.a_format = FP8Q_E4M3, g.a_scales = g_gsa, g.a_tile_rows = 1;
        g.b = g_gb, g.b_format = FP8Q_E5M2, g.b_scales = g_gsb, g.b_tile_rows = 1;
        g.bias = g_gbias, g.c = o->gemm[i], g.c_type = FP8Q_F32, g.threads = gemm_threads;
        o->failures += fp8q_gemm_run(&g, MODES[i]) != FP8Q_OK;
    }
}

typedef struct conv_job {
    const conv_out *want;
    conv_out *got; /* this thread's own */
    int gemm_threads, mismatches, failures;
} conv_job;

static void *conv_main(void *arg)
{
    conv_job *j = (conv_job *)arg;
    int it;
    for (it = 0; it < CONV_ITERS; it++) {
        memset(j->got, 0xCD, sizeof *j->got);
        conv_pass(j->got, j->gemm_threads);
        j->failures += j->got->failures;
        j->mismatches += memcmp(j->got, j->want, sizeof *j->got) != 0;
    }
    return NULL;
}

static void test_conversions(void)
{
    conv_out *want = (conv_out *)calloc(1, sizeof *want), *got = (conv_out *)calloc(N_CONV_THREADS, sizeof *got);
    conv_job jobs[N_CONV_THREADS];
    pthread_t tid[N_CONV_THREADS];
    int i, started;
    if (!want || !got) {
        CHECK(0, "out of memory");
        free(want), free(got);
        return;
    }
    CHECK(fp8q_recipe_count() <= MAX_RECIPES, "%d recipes, MAX_RECIPES %d", fp8q_recipe_count(), MAX_RECIPES);
    conv_inputs();
    memset(want, 0xCD, sizeof *want); /* as the threads poison theirs: padding and unused rows compare equal */
    conv_pass(want, 2);               /* FAST with 2 threads: deterministic for a given count */
    CHECK(want->failures == 0, "%d calls failed single-threaded", want->failures);
    memset(jobs, 0, sizeof jobs);
    for (i = 0; i < N_CONV_THREADS; i++) jobs[i].want = want, jobs[i].got = &got[i], jobs[i].gemm_threads = 2;
    started = start_threads(tid, N_CONV_THREADS, conv_main, jobs, sizeof jobs[0]);
    join_threads(tid, started);
    CHECK(started == N_CONV_THREADS, "started %d threads", started);
    for (i = 0; i < started; i++)
        CHECK(jobs[i].mismatches == 0 && jobs[i].failures == 0, "thread %d: %d of %d passes differ, %d calls failed", i,
              jobs[i].mismatches, CONV_ITERS, jobs[i].failures);
    printf("    %d threads x %d passes of %d conversions, %d recipes on %dx%d, 3 GEMM modes (%s)\n", started,
           CONV_ITERS, FP8Q_FORMAT_COUNT * (2 * (3 * N_SCALES * CONV_N + 2 * CONV_N) + 5 * 256), fp8q_recipe_count(),
           Q_ROWS, Q_COLS, fp8q_simd_name());
    free(want), free(got);
}

/* ------------------------------------------ (c) thread counts and runs */

/* A caller's parallel-for that runs the tasks backwards on the calling
   thread: a schedule no thread count produces. */
static void backwards_for(void *ctx, void (*fn)(void *arg, size_t i), void *arg, size_t n)
{
    ++*(int *)ctx; /* calls: fp8q hands work to threads only above a size, so count that it did */
    while (n > 0) fn(arg, --n);
}

static void test_thread_counts(void)
{
    static const char *const quants[2] = {"fp8-dynamic", "none"};
    static const fp8q_gemm_mode modes[2] = {FP8Q_GEMM_REFERENCE, FP8Q_GEMM_EXACT};
    int qi, mi, t, run, fast_threads;
    for (qi = 0; qi < 2; qi++)
        for (mi = 0; mi < (qi == 0 ? 2 : 1); mi++) { /* "none" has no FP8 GEMM */
            /* EXACT costs ~4 ms per token here: 3 tokens (the lm_head still runs threaded), one run per count */
            const int ntok = mi ? 3 : BIG_TOK, runs = mi ? 1 : 2;
            const size_t n = (size_t)ntok * 1024;
            fp8q_model_options o = opts(quants[qi], qi == 0 ? FP8Q_KV_E4M3 : FP8Q_KV_AUTO, modes[mi], 1);
            float *base = logits_of(g_big, &o, ntok, ntok - 1), *x;
            int parallel_calls = 0;
            CHECK(base != NULL, "%s: no logits", quants[qi]);
            if (!base) continue;
            for (t = 1; t <= 5; t++)
                for (run = 0; run < runs; run++) {
                    o.threads = t == 5 ? 3 : t;
                    o.parallel_for = t == 5 ? backwards_for : NULL; /* 5: the backwards schedule */
                    o.parallel_ctx = &parallel_calls;
                    x = logits_of(g_big, &o, ntok, ntok - 1);
                    CHECK(x && memcmp(x, base, n * sizeof(float)) == 0, "%s %s: threads %d%s run %d differs",
                          quants[qi], mi ? "EXACT" : "REFERENCE", o.threads, t == 5 ? " (backwards)" : "", run);
                    free(x);
                }
            CHECK(parallel_calls > 0, "%s: no work was large enough to be run in parallel", quants[qi]);
            free(base);
        }
    for (fast_threads = 1; fast_threads <= 4; fast_threads += 3) {
        const size_t n = (size_t)BIG_TOK * 1024;
        fp8q_model_options o = opts("fp8-dynamic", FP8Q_KV_AUTO, FP8Q_GEMM_FAST, fast_threads);
        float *a = logits_of(g_big, &o, BIG_TOK, BIG_TOK / 2), *b = logits_of(g_big, &o, BIG_TOK, BIG_TOK / 2),
              *c = logits_of(g_big, &o, BIG_TOK, BIG_TOK / 2);
        CHECK(a && b && c && memcmp(a, b, n * sizeof(float)) == 0 && memcmp(a, c, n * sizeof(float)) == 0,
              "FAST with %d threads: runs differ", fast_threads);
        free(a), free(b), free(c);
    }
    printf("    REFERENCE, EXACT and float: threads 1-4 and a backwards parallel-for, 2-3 runs; FAST 1 and 4 threads, "
           "3 runs\n");
}

/* ---------------------------------------------- (d) the same weights */

static int same(const void *a, const void *b, size_t n) { return n == 0 || (a && b && memcmp(a, b, n) == 0); }

static size_t matrix_bytes(const fp8q_matrix *w)
{
    const fp8q_dtype_info *d = fp8q_dtype_get(w->dtype);
    return w->data && d ? (size_t)w->rows * (size_t)w->cols * (size_t)(d->bits / 8) : 0;
}

static int linear_equal(const fp8q_linear *a, const fp8q_linear *b)
{
    size_t nw = a->w_per_channel ? (size_t)a->out : 1;
    if (a->out != b->out || a->in != b->in || a->act != b->act || a->act_recipe != b->act_recipe ||
        a->w_per_channel != b->w_per_channel || memcmp(&a->input_scale, &b->input_scale, 4) != 0 ||
        (a->q == NULL) != (b->q == NULL) || (a->bias == NULL) != (b->bias == NULL) || a->w.dtype != b->w.dtype ||
        a->w.rows != b->w.rows || a->w.cols != b->w.cols || (a->w.data == NULL) != (b->w.data == NULL) ||
        (a->w_scale == NULL) != (b->w_scale == NULL))
        return 0;
    return (!a->q || same(a->q, b->q, (size_t)a->out * (size_t)a->in)) &&
           (!a->w_scale || same(a->w_scale, b->w_scale, nw * sizeof(float))) &&
           (!a->bias || same(a->bias, b->bias, (size_t)a->out * sizeof(float))) &&
           same(a->w.data, b->w.data, matrix_bytes(&a->w));
}

/* NULL when a and b hold the same weights, else what differs. */
static const char *model_diff(const fp8q_model *a, const fp8q_model *b)
{
    const fp8q_llama_config *c = &a->config;
    size_t dim = (size_t)c->hidden_size * sizeof(float);
    int l, k;
    if (memcmp(&a->config, &b->config, sizeof a->config) != 0) return "config";
    if (strcmp(a->scheme, b->scheme) != 0 || strcmp(a->warnings, b->warnings) != 0) return "scheme or warnings";
    if (a->weight_bytes != b->weight_bytes) return "weight_bytes";
    if (a->embed.dtype != b->embed.dtype || !same(a->embed.data, b->embed.data, matrix_bytes(&a->embed)))
        return "embeddings";
    if (!same(a->final_norm, b->final_norm, dim)) return "final norm";
    if (!same(a->rope_inv_freq, b->rope_inv_freq, (size_t)c->head_dim / 2 * sizeof(float))) return "RoPE";
    if (!linear_equal(&a->lm_head, &b->lm_head)) return "lm_head";
    for (l = 0; l < c->num_hidden_layers; l++) {
        const fp8q_layer *x = &a->layers[l], *y = &b->layers[l];
        if (!same(x->attn_norm, y->attn_norm, dim) || !same(x->ffn_norm, y->ffn_norm, dim)) return "layer norms";
        if (memcmp(&x->k_scale, &y->k_scale, 4) != 0 || memcmp(&x->v_scale, &y->v_scale, 4) != 0)
            return "KV-cache scales";
        for (k = 0; k <= FP8Q_MOD_DOWN; k++)
            if (!linear_equal(&x->mod[k], &y->mod[k])) return fp8q_module_name((fp8q_module)k);
    }
    return NULL;
}

typedef struct load_job {
    const char *dir;
    fp8q_model_options o;
    fp8q_model m;
    fp8q_result r;
    fp8q_error e;
} load_job;

static void *load_main(void *arg)
{
    load_job *j = (load_job *)arg;
    j->r = fp8q_model_load(&j->m, j->dir, &j->o, &j->e);
    return NULL;
}

static void test_load_twice(void)
{
    static const char *const quants[4] = {"auto", "fp8-dynamic", "fp8-channel", "auto"};
    const char *dirs[4];
    int i, k, started, n_fp8 = 0;
    dirs[0] = FIX "tiny-gqa-fp8-static-kv", dirs[1] = FIX "tiny-f32", dirs[2] = g_big, dirs[3] = FIX "tiny-fp8-static";
    for (i = 0; i < 4; i++) {
        load_job j[3];
        pthread_t tid[2];
        const char *d;
        memset(j, 0, sizeof j);
        for (k = 0; k < 3; k++) j[k].dir = dirs[i], j[k].o = opts(quants[i], FP8Q_KV_E4M3, FP8Q_GEMM_REFERENCE, 2);
        (void)load_main(&j[0]);                                         /* once alone */
        started = start_threads(tid, 2, load_main, &j[1], sizeof j[0]); /* twice at once */
        join_threads(tid, started);
        CHECK(started == 2, "started %d threads", started);
        for (k = 0; k < 1 + started; k++) CHECK(j[k].r == FP8Q_OK, "load %s (%d): %s", dirs[i], k, j[k].e.message);
        if (j[0].r == FP8Q_OK && j[1].r == FP8Q_OK && j[2].r == FP8Q_OK) {
            CHECK((d = model_diff(&j[0].m, &j[1].m)) == NULL, "%s %s: loads differ in %s", dirs[i], quants[i], d);
            CHECK((d = model_diff(&j[0].m, &j[2].m)) == NULL, "%s %s: loads differ in %s", dirs[i], quants[i], d);
            n_fp8 += j[0].m.layers[0].mod[FP8Q_MOD_Q].q != NULL;
        }
        for (k = 0; k < 3; k++) fp8q_model_free(&j[k].m);
    }
    CHECK(n_fp8 == 4, "only %d of the 4 models hold FP8 weights", n_fp8);
}

/* ------------------------------------------------------------------ main */

static int make_big_model(void)
{
    fp8q_llama_config c;
    fp8q_error e;
    memset(&c, 0, sizeof c);
    (void)snprintf(c.architecture, sizeof c.architecture, "LlamaForCausalLM");
    c.hidden_size = 256, c.intermediate_size = 512, c.num_hidden_layers = 2, c.num_attention_heads = 8;
    c.num_key_value_heads = 4, c.head_dim = 32, c.vocab_size = 1024, c.max_position_embeddings = 256;
    c.rms_norm_eps = 1e-5, c.rope_theta = 10000.0;
    (void)snprintf(c.torch_dtype, sizeof c.torch_dtype, "bfloat16");
    (void)snprintf(g_big, sizeof g_big, "%s/big", g_root);
    if (mkdir(g_big, 0755) != 0 || fp8q_write_random_llama(g_big, &c, FP8Q_BF16, 7, &e) != FP8Q_OK) {
        printf("cannot write %s: %s\n", g_big, e.message);
        return 0;
    }
    return 1;
}

static void rm_big_model(void)
{
    char p[256];
    (void)snprintf(p, sizeof p, "%s/config.json", g_big);
    (void)remove(p);
    (void)snprintf(p, sizeof p, "%s/model.safetensors", g_big);
    (void)remove(p);
    (void)rmdir(g_big);
    (void)rmdir(g_root);
}

int main(void)
{
    uint64_t s = 99;
    int i;
    for (i = 0; i < BIG_TOK; i++) g_tokens[i] = (int32_t)(splitmix(&s) % 128); /* every model's vocab >= 128 */
    (void)snprintf(g_root, sizeof g_root, "build/test_concurrency_tmp.%ld", (long)getpid());
    (void)mkdir("build", 0755);
    if (mkdir(g_root, 0755) != 0 || !make_big_model()) {
        printf("cannot create the scratch model in %s: %s\n0 passed, 1 failed\n", g_root, strerror(errno));
        rm_big_model();
        return 1;
    }
    if (getenv("CONC_ONLY")) {
        int only = atoi(getenv("CONC_ONLY"));
        void (*fns[4])(void) = {test_shared_models, test_conversions, test_thread_counts, test_load_twice};
        if (only >= 0 && only < 4) run_case("only", fns[only]);
        rm_big_model();
        printf("%d passed, %d failed\n", g_passed, g_failed);
        return g_failed != 0;
    }
    run_case("(a) three models shared by 4 threads == one thread, bit for bit", test_shared_models);
    run_case("(b) conversions, recipes and GEMMs on 8 threads == one thread", test_conversions);
    run_case("(c) REFERENCE/EXACT logits: any thread count, schedule and run; FAST: any run", test_thread_counts);
    run_case("(d) a model loaded twice, and by two threads at once: identical weights", test_load_twice);
    rm_big_model();
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed != 0;
}
