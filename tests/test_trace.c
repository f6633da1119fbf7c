/* Tests for traces (fp8q_trace_*) and their comparison (fp8q_diff_*): the
   trace format on the fixture models, determinism, and the acceptance test
   of fp8q diff: one layer deliberately broken (a weight scale, a static
   activation scale one float32 ulp off) is found and named, in forward
   order, from two real runs of the same model. Run from the repository
   root (tests/fixtures/llama). */
#if defined(__unix__) || defined(__APPLE__)
#define _POSIX_C_SOURCE 200809L
#include <unistd.h>
#define HAVE_POSIX 1
#endif
#define FP8Q_IMPLEMENTATION
#include "fp8q.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

#define FIX "tests/fixtures/llama/"

static const int32_t PROMPT[5] = {3, 1, 4, 1, 5};

/* ------------------------------------------------------------ utilities */

static void tmp_path(char *buf, size_t cap, const char *name)
{
    const char *d = getenv("TMPDIR");
#ifdef HAVE_POSIX
    (void)snprintf(buf, cap, "%s/fp8q_trace_test_%ld_%s", d && *d ? d : "/tmp", (long)getpid(), name);
#else
    (void)snprintf(buf, cap, "%s/fp8q_trace_test_%s", d && *d ? d : ".", name);
#endif
}

static int load(fp8q_model *m, const char *dir)
{
    fp8q_model_options mo;
    fp8q_error e;
    memset(&mo, 0, sizeof mo);
    mo.gemm = FP8Q_GEMM_REFERENCE, mo.threads = 1;
    if (fp8q_model_load(m, dir, &mo, &e) == FP8Q_OK) return 1;
    printf("    %s: %s\n", dir, e.message);
    return 0;
}

/* Runs PROMPT in one forward call, then one decode step (token 2), with a
   trace written to path. */
static int run_traced(const fp8q_model *m, const char *path)
{
    static const int32_t next = 2;
    fp8q_state s;
    fp8q_trace t;
    fp8q_error e;
    const char *k[1] = {"checkpoint"}, *v[1] = {"test"};
    fp8q_result r;
    memset(&s, 0, sizeof s);
    r = fp8q_trace_init(&t, m, NULL, &e);
    if (r == FP8Q_OK) r = fp8q_state_init(&s, m, 8, 5, &e);
    if (r == FP8Q_OK) {
        s.observer = fp8q_trace_observe, s.observer_ctx = &t;
        r = fp8q_forward(m, &s, PROMPT, 5, NULL, &e);
    }
    if (r == FP8Q_OK) r = fp8q_forward(m, &s, &next, 1, NULL, &e);
    if (r == FP8Q_OK) r = fp8q_trace_write(&t, path, k, v, 1, &e);
    if (r != FP8Q_OK) printf("    trace %s: %s\n", path, e.message);
    fp8q_state_free(&s);
    fp8q_trace_free(&t);
    return r == FP8Q_OK;
}

/* Diffs two files (auto tolerance unless opt); 0 if either cannot be read. */
static int diff_paths(fp8q_diff *d, fp8q_safetensors *a, fp8q_safetensors *b, const char *pa, const char *pb,
                      const fp8q_diff_options *opt)
{
    fp8q_error e;
    memset(d, 0, sizeof *d);
    if (fp8q_safetensors_open(a, pa, &e) != FP8Q_OK || fp8q_safetensors_open(b, pb, &e) != FP8Q_OK ||
        fp8q_diff_files(d, a, b, opt, &e) != FP8Q_OK) {
        printf("    %s\n", e.message);
        return 0;
    }
    return 1;
}

static void diff_close(fp8q_diff *d, fp8q_safetensors *a, fp8q_safetensors *b)
{
    fp8q_diff_free(d);
    fp8q_safetensors_close(a);
    fp8q_safetensors_close(b);
}

static const fp8q_diff_entry *entry(const fp8q_diff *d, const char *name)
{
    size_t i;
    for (i = 0; i < d->n_entries; i++)
        if (strcmp(d->entries[i].name, name) == 0) return &d->entries[i];
    return NULL;
}

static const char *meta(const fp8q_safetensors *st, const char *key)
{
    size_t i;
    for (i = 0; i < st->n_metadata; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
    return NULL;
}

/* t exists with dtype and shape {d0, d1[, d2]} (0 ends the shape). */
static int has_shape(const fp8q_safetensors *st, const char *name, fp8q_dtype dt, uint64_t d0, uint64_t d1, uint64_t d2)
{
    const fp8q_tensor_info *t = fp8q_safetensors_find(st, name);
    const int nd = d1 ? (d2 ? 3 : 2) : 1;
    return t && t->dtype == dt && t->ndim == nd && t->shape[0] == d0 && (nd < 2 || t->shape[1] == d1) &&
           (nd < 3 || t->shape[2] == d2);
}

static float *read_f32(const fp8q_safetensors *st, const char *name)
{
    const fp8q_tensor_info *t = fp8q_safetensors_find(st, name);
    float *x = t ? (float *)malloc((size_t)t->numel * sizeof *x) : NULL;
    fp8q_error e;
    if (x && fp8q_safetensors_read_f32(st, t, x, &e) != FP8Q_OK) free(x), x = NULL;
    return x;
}

static int same_files(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int ca = 0, cb = 0, same = fa && fb;
    while (same && ca != EOF) {
        ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

/* ------------------------------------------------------------------ cases */

static char g_a[512], g_a2[512], g_b[512], g_c[512], g_s[512], g_s2[512], g_f[512], g_f2[512], g_x[512], g_y[512];
static int g_have_a; /* the reference trace of tiny-fp8-dynamic was written */

/* The trace of the FP8_DYNAMIC fixture (per-channel weights, per-token
   activations): names, dtypes, shapes, metadata; the codes and the fused
   output are the model's own. */
static void test_trace_format(void)
{
    fp8q_model m;
    fp8q_safetensors st;
    fp8q_error e;
    const char *q = "model.layers.0.self_attn.qkv_proj";
    char name[160];
    float *x = NULL, *sc = NULL, *y = NULL, *ref = NULL;
    const uint8_t *codes;
    uint8_t *want = NULL;
    const fp8q_linear *lq;
    fp8q_gemm g;
    int i;
    memset(&m, 0, sizeof m), memset(&st, 0, sizeof st);
    if (!load(&m, FIX "tiny-fp8-dynamic")) {
        CHECK(0, "fixture tiny-fp8-dynamic");
        return;
    }
    CHECK(run_traced(&m, g_a), "trace A");
    g_have_a = fp8q_safetensors_open(&st, g_a, &e) == FP8Q_OK;
    CHECK(g_have_a, "open %s: %s", g_a, e.message);
    if (!g_have_a) goto out;
    CHECK(meta(&st, "format") && strcmp(meta(&st, "format"), "fp8q-trace-1") == 0, "format metadata");
    CHECK(meta(&st, "steps") && strcmp(meta(&st, "steps"), "2") == 0, "two forward calls");
    CHECK(meta(&st, "gemm") && strcmp(meta(&st, "gemm"), "reference") == 0, "gemm metadata");
    CHECK(meta(&st, "checkpoint") && strcmp(meta(&st, "checkpoint"), "test") == 0, "the caller's metadata");
    CHECK(meta(&st, "scheme") && strcmp(meta(&st, "scheme"), m.scheme) == 0, "scheme metadata");
#define HAS(nm, dt, a0, a1, a2) CHECK(has_shape(&st, nm, dt, a0, a1, a2), "%s: dtype or shape", nm)
    HAS("model.layers.0.self_attn.qkv_proj.input.0", FP8Q_F32, 5, 64, 0);
    HAS("model.layers.0.self_attn.qkv_proj.input.0.fp8", FP8Q_F8_E4M3, 5, 64, 0);
    HAS("model.layers.0.self_attn.qkv_proj.input.0.scale", FP8Q_F32, 5, 0, 0);
    HAS("model.layers.0.self_attn.qkv_proj.output.0", FP8Q_F32, 5, 192, 0);
    HAS("model.layers.0.self_attn.qkv_proj.weight.scale", FP8Q_F32, 192, 0, 0);
    HAS("model.layers.1.mlp.gate_up_proj.output.0", FP8Q_F32, 5, 192, 0);
    HAS("model.layers.1.mlp.down_proj.input.0.fp8", FP8Q_F8_E4M3, 5, 96, 0);
    HAS("model.layers.0.self_attn.attn.impl.k_cache.input.0", FP8Q_F32, 5, 64, 0);
    HAS("model.layers.0.self_attn.attn.impl.matmul_qk.output.0", FP8Q_F32, 4, 5, 5);
    HAS("model.layers.0.self_attn.attn.impl.matmul_av.input.1", FP8Q_F32, 4, 5, 16);
    HAS("lm_head.output.0", FP8Q_F32, 1, 128, 0);
    HAS("step1.model.layers.1.self_attn.attn.impl.softmax.output.0", FP8Q_F32, 4, 1, 6);
    HAS("step1.model.layers.0.self_attn.qkv_proj.input.0.fp8", FP8Q_F8_E4M3, 1, 64, 0);
#undef HAS
    CHECK(!fp8q_safetensors_find(&st, "lm_head.weight.scale"), "lm_head is not quantized (ignored): no weight scale");
    CHECK(!fp8q_safetensors_find(&st, "step1.model.layers.0.self_attn.qkv_proj.weight.scale"), "parameters once");
    CHECK(!fp8q_safetensors_find(&st, "model.layers.0.self_attn.qkv_proj.weight.fp8"), "no weight codes by default");
    /* the codes are the input quantized with the recorded per-token scales */
    lq = &m.layers[0].mod[FP8Q_MOD_Q];
    (void)snprintf(name, sizeof name, "%s.input.0", q);
    x = read_f32(&st, name);
    (void)snprintf(name, sizeof name, "%s.input.0.scale", q);
    sc = read_f32(&st, name);
    (void)snprintf(name, sizeof name, "%s.input.0.fp8", q);
    codes = fp8q_safetensors_bytes(&st, fp8q_safetensors_find(&st, name));
    want = (uint8_t *)malloc(5 * 64);
    CHECK(x && sc && codes && want && lq->act_recipe, "read the input, its scales and codes");
    if (x && sc && codes && want && lq->act_recipe) {
        (void)fp8q_quantize(want, x, 5, 64, sc, lq->act_recipe);
        CHECK(memcmp(want, codes, 5 * 64) == 0, "recorded codes = quantize(recorded input, recorded scales)");
        /* q's output, the first 64 of qkv_proj's 192 columns: the GEMM of the recorded codes */
        (void)snprintf(name, sizeof name, "%s.output.0", q);
        y = read_f32(&st, name);
        ref = (float *)malloc(5 * 64 * sizeof *ref);
        memset(&g, 0, sizeof g);
        g.M = 5, g.N = 64, g.K = 64, g.a = codes, g.a_format = FP8Q_E4M3, g.a_scales = sc, g.a_tile_rows = 1;
        g.b = lq->q, g.b_format = FP8Q_E4M3, g.b_scales = lq->w_scale, g.b_tile_rows = lq->w_per_channel;
        g.c = ref, g.c_type = FP8Q_F32;
        CHECK(y && ref && fp8q_gemm_run(&g, FP8Q_GEMM_REFERENCE) == FP8Q_OK, "GEMM of the recorded codes");
        for (i = 0; y && ref && i < 5 * 64; i++)
            if (memcmp(&y[(i / 64) * 192 + i % 64], &ref[i], 4) != 0) break;
        CHECK(y && ref && i == 5 * 64, "qkv_proj.output.0[:, :64] is q_proj's output (element %d differs)", i);
    }
out:
    free(x), free(sc), free(y), free(ref), free(want);
    fp8q_safetensors_close(&st);
    fp8q_model_free(&m);
}

/* Two runs give the same bytes; a file compared with itself or its twin has
   no differences, with either tolerance. */
static void test_identical(void)
{
    fp8q_model m;
    fp8q_safetensors a, b;
    fp8q_diff d;
    fp8q_diff_options o;
    memset(&m, 0, sizeof m);
    if (!g_have_a || !load(&m, FIX "tiny-fp8-dynamic")) {
        CHECK(0, "needs trace A and the fixture");
        return;
    }
    CHECK(run_traced(&m, g_a2), "trace A again");
    CHECK(same_files(g_a, g_a2), "two runs write the same trace bytes");
    fp8q_model_free(&m);
    if (diff_paths(&d, &a, &b, g_a, g_a2, NULL)) {
        CHECK(d.n_differ == 0 && d.first == d.n_entries && d.n_compared == d.n_entries && d.n_entries > 100,
              "auto: %lu of %lu differ", (unsigned long)d.n_differ, (unsigned long)d.n_entries);
        CHECK(d.flip == d.n_entries, "no FP8 code flipped");
    } else
        CHECK(0, "diff A A'");
    diff_close(&d, &a, &b);
    memset(&o, 0, sizeof o);
    o.mode = FP8Q_DIFF_EXACT;
    if (diff_paths(&d, &a, &b, g_a, g_a, &o))
        CHECK(d.n_differ == 0 && d.n_outside == 0, "exact: a file against itself");
    else
        CHECK(0, "diff A A");
    diff_close(&d, &a, &b);
}

/* Checks the diff of a reference trace against a broken run: the first
   difference is `tensor` of `module` (one float32 ulp off if one_ulp),
   nothing in layer 0 differs, and the JSON report parses and names the
   same module. */
static void check_named(const char *ref, const char *broken, const char *module, const char *tensor, int one_ulp)
{
    fp8q_safetensors a, b;
    fp8q_diff d;
    fp8q_json j;
    fp8q_error e;
    char *json = NULL, buf[160];
    size_t len = 0, i, fd, t;
    if (!diff_paths(&d, &a, &b, ref, broken, NULL)) {
        CHECK(0, "diff");
        return;
    }
    CHECK(d.n_differ >= 1 && d.first < d.n_entries, "the broken run differs (%lu)", (unsigned long)d.n_differ);
    if (d.first < d.n_entries) {
        CHECK(strcmp(d.entries[d.first].module, module) == 0, "first difference: %s, expected %s",
              d.entries[d.first].module, module);
        CHECK(strcmp(d.entries[d.first].name, tensor) == 0, "first tensor: %s, expected %s", d.entries[d.first].name,
              tensor);
        CHECK(d.entries[d.first].status == FP8Q_DIFF_OUTSIDE && (!one_ulp || d.entries[d.first].cmp.max_ulp == 1),
              "one float32 ulp (status %d, %g ulp)", (int)d.entries[d.first].status, d.entries[d.first].cmp.max_ulp);
    }
    for (i = 0; i < d.n_entries; i++)
        if (d.entries[i].layer == 0 && d.entries[i].step == 0)
            CHECK(d.entries[i].status == FP8Q_DIFF_OK, "layer 0 is untouched: %s", d.entries[i].name);
    CHECK(fp8q_diff_json(&d, ref, broken, &json, &len, &e) == FP8Q_OK, "json: %s", e.message);
    if (json) {
        CHECK(strlen(json) == len, "json length");
        CHECK(fp8q_json_parse(&j, json, len, 0, &e) == FP8Q_OK, "the JSON parses: %s", e.message);
        fd = fp8q_json_get(&j, 0, "first_difference");
        t = fd ? fp8q_json_get(&j, fd, "module") : 0;
        CHECK(t && fp8q_json_string(&j, t, buf, sizeof buf) < sizeof buf && strcmp(buf, module) == 0,
              "JSON first_difference.module");
        t = fp8q_json_get(&j, 0, "tensors");
        CHECK(t && j.tok[t].type == FP8Q_JSON_ARRAY && j.tok[t].size == d.n_entries, "JSON: one row per name");
        fp8q_json_free(&j);
        free(json);
    }
    diff_close(&d, &a, &b);
}

/* Acceptance: layer 1's q_proj weight scale (of 64 per-channel scales,
   the first) one float32 ulp up, through the model struct. */
static void test_broken_weight_scale(void)
{
    fp8q_model m;
    float *w;
    memset(&m, 0, sizeof m);
    if (!g_have_a || !load(&m, FIX "tiny-fp8-dynamic")) {
        CHECK(0, "needs trace A and the fixture");
        return;
    }
    w = &m.layers[1].mod[FP8Q_MOD_Q].w_scale[0];
    *w = nextafterf(*w, INFINITY);
    CHECK(run_traced(&m, g_b), "trace B (broken)");
    fp8q_model_free(&m);
    check_named(g_a, g_b, "model.layers.1.self_attn.qkv_proj", "model.layers.1.self_attn.qkv_proj.weight.scale", 1);
}

/* Acceptance: layer 1's down_proj static activation scale one ulp down, on
   the static FP8 fixture (per-tensor weights and input scales). */
static void test_broken_activation_scale(void)
{
    fp8q_model m;
    fp8q_safetensors st;
    fp8q_error e;
    float *s;
    memset(&m, 0, sizeof m);
    if (!load(&m, FIX "tiny-fp8-static")) {
        CHECK(0, "fixture tiny-fp8-static");
        return;
    }
    CHECK(run_traced(&m, g_s), "trace of the static model");
    if (fp8q_safetensors_open(&st, g_s, &e) == FP8Q_OK) {
        CHECK(has_shape(&st, "model.layers.1.mlp.down_proj.input_scale", FP8Q_F32, 1, 0, 0), "static input_scale");
        CHECK(has_shape(&st, "model.layers.1.mlp.down_proj.input.0.scale", FP8Q_F32, 1, 0, 0), "per-tensor scale");
        CHECK(has_shape(&st, "model.layers.0.mlp.gate_up_proj.weight.scale", FP8Q_F32, 2, 0, 0), "2 shard scales");
        CHECK(has_shape(&st, "model.layers.0.self_attn.qkv_proj.input_scale", FP8Q_F32, 3, 0, 0), "3 input scales");
        fp8q_safetensors_close(&st);
    } else
        CHECK(0, "open %s", g_s);
    s = &m.layers[1].mod[FP8Q_MOD_DOWN].input_scale;
    *s = nextafterf(*s, 0.0f);
    CHECK(run_traced(&m, g_s2), "trace of the broken static model");
    fp8q_model_free(&m);
    check_named(g_s, g_s2, "model.layers.1.mlp.down_proj", "model.layers.1.mlp.down_proj.input_scale", 1);
}

/* Acceptance, without a parameter to point at: on the float32 fixture, layer
   1's o_proj computes with its weights rounded to bfloat16 (what a kernel
   that loads them as bf16 does); its output is caught by the float
   tolerance (2^-10 of max|a|). */
static void test_broken_bf16_layer(void)
{
    fp8q_model m;
    fp8q_linear *o;
    float *w;
    int i;
    memset(&m, 0, sizeof m);
    if (!load(&m, FIX "tiny-f32")) {
        CHECK(0, "fixture tiny-f32");
        return;
    }
    CHECK(run_traced(&m, g_f), "trace of the float model");
    o = &m.layers[1].mod[FP8Q_MOD_O];
    CHECK(o->w.dtype == FP8Q_F32 && !o->q, "float32 weights");
    for (i = 0, w = (float *)o->w.data; o->w.dtype == FP8Q_F32 && i < o->out * o->in; i++)
        w[i] = fp8q_bf16_to_f32(fp8q_f32_to_bf16(w[i]));
    CHECK(run_traced(&m, g_f2), "trace of the bf16 layer");
    fp8q_model_free(&m);
    check_named(g_f, g_f2, "model.layers.1.self_attn.o_proj", "model.layers.1.self_attn.o_proj.output.0", 0);
}

/* A fused shard that quantizes its input unlike the first (k_proj with its
   own static scale) is recorded under its own name. */
static void test_shard_codes(void)
{
    fp8q_model m;
    fp8q_safetensors st;
    fp8q_error e;
    memset(&m, 0, sizeof m);
    if (!load(&m, FIX "tiny-fp8-static")) {
        CHECK(0, "fixture tiny-fp8-static");
        return;
    }
    m.layers[0].mod[FP8Q_MOD_K].input_scale *= 2.0f;
    CHECK(run_traced(&m, g_f), "trace");
    fp8q_model_free(&m);
    if (fp8q_safetensors_open(&st, g_f, &e) == FP8Q_OK) {
        CHECK(has_shape(&st, "model.layers.0.self_attn.qkv_proj.k_proj.input.0.fp8", FP8Q_F8_E4M3, 5, 64, 0),
              "k_proj's own codes");
        CHECK(has_shape(&st, "model.layers.0.self_attn.qkv_proj.k_proj.input.0.scale", FP8Q_F32, 1, 0, 0),
              "k_proj's own scale");
        CHECK(!fp8q_safetensors_find(&st, "model.layers.0.self_attn.qkv_proj.v_proj.input.0.fp8"),
              "v_proj quantized like q_proj: nothing of its own");
        CHECK(!fp8q_safetensors_find(&st, "model.layers.1.self_attn.qkv_proj.k_proj.input.0.fp8"), "layer 1: none");
        fp8q_safetensors_close(&st);
    } else
        CHECK(0, "open: %s", e.message);
}

/* A tensor missing from B is a difference (not with common_only); a dtype or
   shape that differs is a mismatch. */
static void test_missing_and_mismatch(void)
{
    fp8q_safetensors a, b;
    fp8q_diff d;
    fp8q_diff_options o;
    fp8q_tensor_out *t;
    fp8q_error e;
    const char *drop = "model.layers.0.self_attn.o_proj.output.0";
    size_t i, n = 0;
    uint64_t shape1[1] = {3};
    if (!g_have_a || fp8q_safetensors_open(&a, g_a, &e) != FP8Q_OK) {
        CHECK(0, "needs trace A");
        return;
    }
    t = (fp8q_tensor_out *)calloc(a.n_tensors + 1, sizeof *t);
    for (i = 0; t && i < a.n_tensors; i++) {
        const fp8q_tensor_info *ti = &a.tensors[i];
        if (strcmp(ti->name, drop) == 0) continue;
        t[n].name = ti->name, t[n].dtype = ti->dtype, t[n].ndim = ti->ndim, t[n].shape = ti->shape;
        t[n].data = fp8q_safetensors_bytes(&a, ti);
        if (strcmp(ti->name, "lm_head.input.0") == 0) t[n].dtype = FP8Q_I32; /* same bytes, other dtype */
        if (strcmp(ti->name, "model.layers.1.mlp.down_proj.input.0.scale") == 0) t[n].shape = shape1, t[n].ndim = 1;
        n++;
    }
    CHECK(t && fp8q_safetensors_write(g_c, t, n, NULL, NULL, 0, &e) == FP8Q_OK, "write C: %s", e.message);
    free(t);
    fp8q_safetensors_close(&a);
    if (diff_paths(&d, &a, &b, g_a, g_c, NULL)) {
        const fp8q_diff_entry *x = entry(&d, drop), *y = entry(&d, "lm_head.input.0"),
                              *z = entry(&d, "model.layers.1.mlp.down_proj.input.0.scale");
        CHECK(x && x->status == FP8Q_DIFF_ONLY_A && x->differs && x->b == NULL, "the dropped tensor: only in A");
        CHECK(y && y->status == FP8Q_DIFF_DTYPE && y->differs, "dtype mismatch");
        CHECK(z && z->status == FP8Q_DIFF_SHAPE && z->differs, "shape mismatch");
        CHECK(d.n_only_a == 1 && d.n_only_b == 0 && d.n_mismatch == 2 && d.n_differ == 3, "counts: %lu %lu %lu %lu",
              (unsigned long)d.n_only_a, (unsigned long)d.n_only_b, (unsigned long)d.n_mismatch,
              (unsigned long)d.n_differ);
        CHECK(d.first < d.n_entries && strcmp(d.entries[d.first].name, drop) == 0, "first difference: the missing one");
    } else
        CHECK(0, "diff A C");
    diff_close(&d, &a, &b);
    memset(&o, 0, sizeof o);
    o.common_only = 1;
    if (diff_paths(&d, &a, &b, g_c, g_a, &o)) {
        const fp8q_diff_entry *x = entry(&d, drop);
        CHECK(x && x->status == FP8Q_DIFF_ONLY_B && !x->differs, "common_only: listed, not a difference");
        CHECK(d.n_differ == 2, "common_only: the two mismatches remain (%lu)", (unsigned long)d.n_differ);
    } else
        CHECK(0, "diff C A");
    diff_close(&d, &a, &b);
}

/* Writes two files X and Y of hand-made tensors and diffs them. */
static int diff_made(fp8q_diff *d, fp8q_safetensors *a, fp8q_safetensors *b, const fp8q_tensor_out *x,
                     const fp8q_tensor_out *y, size_t n, const fp8q_diff_options *o)
{
    fp8q_error e;
    if (fp8q_safetensors_write(g_x, x, n, NULL, NULL, 0, &e) != FP8Q_OK ||
        fp8q_safetensors_write(g_y, y, n, NULL, NULL, 0, &e) != FP8Q_OK) {
        printf("    %s\n", e.message);
        return 0;
    }
    return diff_paths(d, a, b, g_x, g_y, o);
}

static void put_f32(uint8_t *b, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    b[0] = (uint8_t)u, b[1] = (uint8_t)(u >> 8), b[2] = (uint8_t)(u >> 16), b[3] = (uint8_t)(u >> 24);
}

/* FP8 code distances, NaN, the budget; the flip rule; floats normwise. */
static void test_metrics_and_flip_rule(void)
{
    static const uint8_t ca[5] = {0x38, 0x38, 0xB8, 0x7F, 0x00}, cb[5] = {0x39, 0x3A, 0xB9, 0x7F, 0x80};
    static const uint8_t pa[1] = {0x40}, pb[1] = {0x41};
    uint8_t fa[16], fb[16];
    uint64_t s5[1] = {5}, s4[1] = {4}, s1[1] = {1};
    fp8q_tensor_out x[4], y[4];
    fp8q_safetensors a, b;
    fp8q_diff d;
    fp8q_diff_options o;
    const fp8q_diff_entry *c, *f, *w;
    int i;
    for (i = 0; i < 4; i++) put_f32(fa + 4 * i, (float)(i + 1)), put_f32(fb + 4 * i, (float)(i + 1));
    put_f32(fb + 12, 4.0f + 4.0f * 0.002f); /* 2e-3 of max|a| = 4: outside 2^-10 */
    memset(x, 0, sizeof x), memset(y, 0, sizeof y);
    x[0].name = "model.layers.0.self_attn.o_proj.input.0.fp8", x[0].dtype = FP8Q_F8_E4M3, x[0].ndim = 1;
    x[0].shape = s5, x[0].data = ca;
    x[1].name = "model.layers.0.self_attn.o_proj.output.0", x[1].dtype = FP8Q_F32, x[1].ndim = 1, x[1].shape = s4;
    x[1].data = fa;
    x[2].name = "model.layers.1.mlp.down_proj.weight.fp8", x[2].dtype = FP8Q_F8_E4M3, x[2].ndim = 1, x[2].shape = s1;
    x[2].data = pa;
    memcpy(y, x, sizeof y);
    y[0].data = cb, y[1].data = fb, y[2].data = pb;
    memset(&o, 0, sizeof o);
    if (!diff_made(&d, &a, &b, x, y, 3, &o)) {
        CHECK(0, "diff made files");
        return;
    }
    c = entry(&d, x[0].name), f = entry(&d, x[1].name), w = entry(&d, x[2].name);
    CHECK(c && c->kind == FP8Q_DIFF_CODES && c->cmp.max_ulp == 2 && c->cmp.outside == 1 && c->cmp.first_outside == 1,
          "codes: 1, 2, 1 apart, NaN = NaN, -0 = +0: max 2, one outside 1 code (%g, %lu)", c ? c->cmp.max_ulp : -1,
          c ? (unsigned long)c->cmp.outside : 0);
    CHECK(c && c->status == FP8Q_DIFF_OUTSIDE && d.flip == (size_t)(c - d.entries), "the codes start the flip zone");
    CHECK(f && f->status == FP8Q_DIFF_AFTER_FLIP && !f->differs && f->cmp.outside == 1, "float after the flip");
    CHECK(w && w->kind == FP8Q_DIFF_PARAMETER && w->status == FP8Q_DIFF_OUTSIDE && w->differs,
          "a parameter after the flip still counts");
    CHECK(d.n_differ == 2 && d.n_after_flip == 1, "counts %lu %lu", (unsigned long)d.n_differ,
          (unsigned long)d.n_after_flip);
    diff_close(&d, &a, &b);
    o.set_fp8_codes = 1, o.fp8_codes = 2; /* codes within budget: a flip, still allowed */
    if (diff_made(&d, &a, &b, x, y, 3, &o)) {
        c = entry(&d, x[0].name), f = entry(&d, x[1].name);
        CHECK(c && c->status == FP8Q_DIFF_OK && f && f->status == FP8Q_DIFF_AFTER_FLIP && d.n_differ == 1,
              "budget 2: codes ok, the float after them not counted");
    }
    diff_close(&d, &a, &b);
    o.fp8_codes = 0; /* no flip rule */
    if (diff_made(&d, &a, &b, x, y, 3, &o)) {
        f = entry(&d, x[1].name);
        CHECK(f && f->status == FP8Q_DIFF_OUTSIDE && f->differs && d.n_differ == 3, "budget 0: every difference");
    }
    diff_close(&d, &a, &b);
    memset(&o, 0, sizeof o);
    o.set_atol = 1, o.atol = 0.01; /* the float alone, before any flip: 0.008 <= 0.01 */
    if (diff_made(&d, &a, &b, &x[1], &y[1], 1, &o)) {
        f = entry(&d, x[1].name);
        CHECK(f && f->status == FP8Q_DIFF_OK && f->atol == 0.01, "--atol 0.01: within");
    }
    diff_close(&d, &a, &b);
    memset(&o, 0, sizeof o);
    if (diff_made(&d, &a, &b, &x[1], &y[1], 1, &o)) {
        f = entry(&d, x[1].name);
        CHECK(f && f->status == FP8Q_DIFF_OUTSIDE && f->atol == 4.0 * FP8Q_DIFF_NORM_TOL && f->cmp.first_outside == 3,
              "default: 2^-10 of max|a| = 4");
    }
    diff_close(&d, &a, &b);
}

/* Codes next to their float input and scales: a code may move by one only
   where the input or the scale differs between the runs. */
static void test_codes_against_inputs(void)
{
    static const uint8_t qa[4] = {0x40, 0x48, 0x50, 0x58}, qb[4] = {0x41, 0x48, 0x50, 0x59};
    uint8_t xa[16], xb[16], sc[4];
    uint64_t s14[2] = {1, 4}, s1[1] = {1};
    fp8q_tensor_out x[3], y[3];
    fp8q_safetensors a, b;
    fp8q_diff d;
    const fp8q_diff_entry *c;
    int i;
    for (i = 0; i < 4; i++) put_f32(xa + 4 * i, (float)(i + 1) * 0.02f), put_f32(xb + 4 * i, (float)(i + 1) * 0.02f);
    put_f32(xb + 12, 0.0801f), put_f32(sc, 0.01f);
    memset(x, 0, sizeof x);
    x[0].name = "m.input.0", x[0].dtype = FP8Q_F32, x[0].ndim = 2, x[0].shape = s14, x[0].data = xa;
    x[1].name = "m.input.0.scale", x[1].dtype = FP8Q_F32, x[1].ndim = 1, x[1].shape = s1, x[1].data = sc;
    x[2].name = "m.input.0.fp8", x[2].dtype = FP8Q_F8_E4M3, x[2].ndim = 2, x[2].shape = s14, x[2].data = qa;
    memcpy(y, x, sizeof y);
    y[0].data = xb, y[2].data = qb;
    if (diff_made(&d, &a, &b, x, y, 3, NULL)) {
        c = entry(&d, "m.input.0.fp8");
        CHECK(c && c->cmp.max_ulp == 1 && c->cmp.outside == 1 && c->cmp.first_outside == 0 &&
                  c->status == FP8Q_DIFF_OUTSIDE && c->local_outside == 1,
              "code 0 moved with the same input and scale: outside; code 3 (input differs): allowed");
    } else
        CHECK(0, "diff made files");
    diff_close(&d, &a, &b);
    x[1].name = y[1].name = "m.input.0.scales"; /* no source: the budget alone */
    if (diff_made(&d, &a, &b, x, y, 3, NULL)) {
        c = entry(&d, "m.input.0.fp8");
        CHECK(c && c->cmp.outside == 0 && c->status == FP8Q_DIFF_OK, "without the scales: one code apart is allowed");
    }
    diff_close(&d, &a, &b);
}

/* Tensors longer than one chunk (64Ki elements), integers, f16 ULPs. */
static void test_chunks_and_types(void)
{
    enum { N = 100000 };
    uint8_t *fa = (uint8_t *)malloc(4 * N), *fb = (uint8_t *)malloc(4 * N);
    static const uint8_t ia[8] = {1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF}, ib[8] = {1, 0, 0, 0, 2, 0, 0, 0};
    static const uint8_t ha[4] = {0x00, 0x3C, 0x00, 0x40}, hb[4] = {0x01, 0x3C, 0x00, 0x40}; /* f16 1.0, 2.0 */
    uint64_t sn[1] = {N}, s2[1] = {2};
    fp8q_tensor_out x[3], y[3];
    fp8q_safetensors a, b;
    fp8q_diff d;
    const fp8q_diff_entry *e;
    int i;
    if (!fa || !fb) {
        CHECK(0, "out of memory");
        free(fa), free(fb);
        return;
    }
    for (i = 0; i < N; i++) put_f32(fa + 4 * (size_t)i, 1.0f), put_f32(fb + 4 * (size_t)i, 1.0f);
    put_f32(fb + 4 * 70000, 1.5f), put_f32(fb + 4 * 99999, 1.25f);
    memset(x, 0, sizeof x);
    x[0].name = "big", x[0].dtype = FP8Q_F32, x[0].ndim = 1, x[0].shape = sn, x[0].data = fa;
    x[1].name = "ids", x[1].dtype = FP8Q_I32, x[1].ndim = 1, x[1].shape = s2, x[1].data = ia;
    x[2].name = "half", x[2].dtype = FP8Q_F16, x[2].ndim = 1, x[2].shape = s2, x[2].data = ha;
    memcpy(y, x, sizeof y);
    y[0].data = fb, y[1].data = ib, y[2].data = hb;
    if (diff_made(&d, &a, &b, x, y, 3, NULL)) {
        e = entry(&d, "big");
        CHECK(e && e->cmp.count == N && e->cmp.outside == 2 && e->cmp.first_outside == 70000 &&
                  e->cmp.max_abs_err == 0.5,
              "two differences past the first chunk (%lu at %lu)", e ? (unsigned long)e->cmp.outside : 0,
              e ? (unsigned long)e->cmp.first_outside : 0);
        e = entry(&d, "ids");
        CHECK(e && e->kind == FP8Q_DIFF_INTEGER && e->cmp.outside == 1 && e->cmp.first_outside == 1 &&
                  e->cmp.max_abs_err == 3,
              "I32: -1 vs 2 is 3 apart");
        e = entry(&d, "half");
        CHECK(e && e->cmp.max_ulp == 1 && e->cmp.outside == 0 && e->status == FP8Q_DIFF_OK,
              "F16: one f16 ulp (a subnormal against 0), within 2^-10 of max|a|");
        CHECK(d.n_differ == 2 && d.first < d.n_entries && strcmp(d.entries[d.first].name, "big") == 0,
              "other names: file order");
    } else
        CHECK(0, "diff made files");
    diff_close(&d, &a, &b);
    free(fa), free(fb);
}

/* Module names and forward order of trace names and Hugging Face names. */
static void test_module_names(void)
{
    static const struct {
        const char *name, *module;
        int step, layer, rank;
    } rows[] = {
        {"step3.model.layers.12.mlp.gate_up_proj.input.0.fp8", "model.layers.12.mlp.gate_up_proj", 3, 12, 12},
        {"model.layers.0.self_attn.qkv_proj.k_proj.input.0.scale", "model.layers.0.self_attn.qkv_proj.k_proj", 0, 0, 1},
        {"model.layers.0.self_attn.attn.impl.matmul_av.output.0", "model.layers.0.self_attn.attn.impl.matmul_av", 0, 0,
         8},
        {"model.layers.4.self_attn.q_proj", "model.layers.4.self_attn.q_proj", 0, 4, 1},
        {"model.layers.4.input_layernorm.weight", "model.layers.4.input_layernorm", 0, 4, 0},
        {"model.layers.4", "model.layers.4", 0, 4, 17},
        {"model.embed_tokens.weight", "model.embed_tokens", 0, -1, 0},
        {"lm_head.output.0", "lm_head", 0, FP8Q_TRACE_LAYER_END + 1, 0},
        {"model.norm.weight", "model.norm", 0, FP8Q_TRACE_LAYER_END, 0},
        {"step.x", "step.x", 0, FP8Q_TRACE_LAYER_END + 2, 0},
        {"model.layers.12345678901.x", "model.layers.12345678901.x", 0, FP8Q_TRACE_LAYER_END + 2, 0},
        {"x.input.0.fp8.y", "x.input.0.fp8.y", 0, FP8Q_TRACE_LAYER_END + 2, 0},
        {"", "", 0, FP8Q_TRACE_LAYER_END + 2, 0},
    };
    char buf[96];
    size_t i, n;
    int st, ly, rk;
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        n = fp8q_trace_module(rows[i].name, buf, sizeof buf, &st, &ly, &rk);
        CHECK(n == strlen(rows[i].module) && strcmp(buf, rows[i].module) == 0 && st == rows[i].step &&
                  ly == rows[i].layer && rk == rows[i].rank,
              "%s: '%s' step %d layer %d rank %d", rows[i].name, buf, st, ly, rk);
    }
    n = fp8q_trace_module("model.layers.3.mlp.down_proj.output.0", buf, 8, NULL, NULL, NULL);
    CHECK(n == 28 && strcmp(buf, "model.l") == 0, "truncated like snprintf");
}

/* Errors: a foreign observation, metadata that repeats a standard key,
   NULL arguments, a negative tolerance. */
static void test_errors(void)
{
    fp8q_model m;
    fp8q_trace t;
    fp8q_observation o;
    fp8q_error e;
    fp8q_diff d;
    fp8q_safetensors st;
    fp8q_diff_options opt;
    float x[4] = {0, 0, 0, 0};
    const char *k[1] = {"format"}, *v[1] = {"mine"};
    char path[512];
    memset(&m, 0, sizeof m), memset(&st, 0, sizeof st);
    CHECK(fp8q_trace_init(&t, NULL, NULL, &e) == FP8Q_ERR_ARG, "init without a model");
    fp8q_trace_free(&t);
    if (!load(&m, FIX "tiny-f32")) {
        CHECK(0, "fixture tiny-f32");
        return;
    }
    tmp_path(path, sizeof path, "err.safetensors");
    CHECK(fp8q_trace_init(&t, &m, NULL, &e) == FP8Q_OK, "init");
    CHECK(fp8q_trace_write(&t, path, k, v, 1, &e) == FP8Q_ERR_ARG && strstr(e.message, "format"),
          "a repeated metadata key: %s", e.message);
    memset(&o, 0, sizeof o);
    o.layer = 7, o.mod = FP8Q_MOD_Q, o.x = x, o.rows = 1, o.cols = 4; /* the model has 2 layers */
    fp8q_trace_observe(&t, &o);
    CHECK(t.status == FP8Q_ERR_ARG, "an observation of layer 7");
    CHECK(fp8q_trace_write(&t, path, NULL, NULL, 0, &e) == FP8Q_ERR_ARG && strstr(e.message, "layer 7"),
          "the recording error is returned: %s", e.message);
    fp8q_trace_free(&t);
    fp8q_model_free(&m);
    (void)remove(path);
    memset(&opt, 0, sizeof opt);
    opt.set_atol = 1, opt.atol = -1;
    CHECK(fp8q_diff_files(&d, &st, &st, &opt, &e) == FP8Q_ERR_ARG, "negative atol");
    CHECK(fp8q_diff_files(&d, NULL, &st, NULL, &e) == FP8Q_ERR_ARG, "NULL file");
    CHECK(fp8q_diff_files(&d, &st, &st, NULL, &e) == FP8Q_OK && d.n_entries == 0 && d.first == 0, "two empty files");
    fp8q_diff_free(&d);
    fp8q_diff_free(&d);
}

int main(void)
{
    tmp_path(g_a, sizeof g_a, "a.safetensors");
    tmp_path(g_a2, sizeof g_a2, "a2.safetensors");
    tmp_path(g_b, sizeof g_b, "b.safetensors");
    tmp_path(g_c, sizeof g_c, "c.safetensors");
    tmp_path(g_s, sizeof g_s, "s.safetensors");
    tmp_path(g_s2, sizeof g_s2, "s2.safetensors");
    tmp_path(g_f, sizeof g_f, "f.safetensors");
    tmp_path(g_f2, sizeof g_f2, "f2.safetensors");
    tmp_path(g_x, sizeof g_x, "x.safetensors");
    tmp_path(g_y, sizeof g_y, "y.safetensors");
    run_case("trace format (tiny-fp8-dynamic)", test_trace_format);
    run_case("identical runs: no differences", test_identical);
    run_case("broken layer: weight scale 1 ulp (named)", test_broken_weight_scale);
    run_case("broken layer: static activation scale 1 ulp (named)", test_broken_activation_scale);
    run_case("broken layer: bf16 weights in a float32 model (named)", test_broken_bf16_layer);
    run_case("fused shards with their own input scale", test_shard_codes);
    run_case("missing tensor, dtype and shape mismatches", test_missing_and_mismatch);
    run_case("FP8 code metrics, flip rule, float tolerance", test_metrics_and_flip_rule);
    run_case("FP8 codes judged against their inputs and scales", test_codes_against_inputs);
    run_case("chunks, integers, f16", test_chunks_and_types);
    run_case("module names and forward order", test_module_names);
    run_case("errors", test_errors);
    (void)remove(g_a), (void)remove(g_a2), (void)remove(g_b), (void)remove(g_c);
    (void)remove(g_s), (void)remove(g_s2), (void)remove(g_f), (void)remove(g_f2), (void)remove(g_x), (void)remove(g_y);
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed != 0;
}
