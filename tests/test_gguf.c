/* Tests for the GGUF reader and the GGUF -> Hugging Face import: the tiny
   GGUF fixtures of tools/gen_gguf_fixtures.py (written by gguf-py from
   tests/fixtures/llama; expected values from gguf-py's dequantize and
   transformers' logits), hand-made files with known values, a table of
   malformed files, and the errors of the Llama import. Run from the
   repository root. POSIX (mkdir, mkfifo, rmdir). */
#define _POSIX_C_SOURCE 200809L
#define FP8Q_IMPLEMENTATION
#include "fp8q.h"
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <math.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include "harness.h"

#define FIX  "tests/fixtures/gguf/"
#define HFIX "tests/fixtures/llama/"

static const char *const g_fixtures[3] = {"tiny-f32.F32.gguf", "tiny-f32.mixed.gguf", "tiny-gqa.Q4_1.gguf"};
static char g_root[128];

/* ------------------------------------------------------------ utilities */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (p = (char *)malloc((size_t)n + 1)) != NULL) {
        if (fread(p, 1, (size_t)n, f) != (size_t)n) {
            free(p);
            p = NULL;
        } else {
            p[n] = 0;
            *len = (size_t)n;
        }
    }
    fclose(f);
    return p;
}

/* FNV-1a 64 of n floats as little-endian bytes (tools/gen_gguf_fixtures.py fnv1a64). */
static uint64_t fnv_f32(const float *x, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ull;
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        for (k = 0; k < 4; k++) h = (h ^ ((u >> (8 * k)) & 0xFFu)) * 0x100000001B3ull;
    }
    return h;
}

static uint64_t hex64(const char *s)
{
    uint64_t v = 0;
    for (; *s; s++) v = v * 16u + (uint64_t)(*s <= '9' ? *s - '0' : (*s | 0x20) - 'a' + 10);
    return v;
}

static double max_abs(const float *a, size_t n)
{
    double m = 0;
    size_t i;
    for (i = 0; i < n; i++) m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double m = 0, d;
    size_t i;
    for (i = 0; i < n; i++) {
        d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d;
    }
    return m;
}

static size_t numel_of(const fp8q_gguf_tensor *t) { return (size_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]); }

/* The directory g_root/name for a converted checkpoint. */
static void out_dir(char *buf, size_t cap, const char *name)
{
    (void)snprintf(buf, cap, "%s/%s", g_root, name);
    (void)mkdir(buf, 0755);
}

static void rm_dir(const char *dir)
{
    char p[512];
    (void)snprintf(p, sizeof p, "%s/config.json", dir);
    (void)remove(p);
    (void)snprintf(p, sizeof p, "%s/model.safetensors", dir);
    (void)remove(p);
    (void)rmdir(dir);
}

/* expected.json of the fixtures (parsed once). */
static char *g_exp_text;
static fp8q_json g_exp;

static size_t exp_fixture(const char *name) { return fp8q_json_get(&g_exp, 0, name); }

/* The string member key of object t, as a C string in buf. */
static const char *exp_str(size_t t, const char *key, char *buf, size_t cap)
{
    (void)fp8q_json_string(&g_exp, fp8q_json_get(&g_exp, t, key), buf, cap);
    return buf;
}

static double exp_num(size_t t, const char *key)
{
    double v = -1;
    size_t k = fp8q_json_get(&g_exp, t, key);
    if (k && g_exp.tok[k].type == FP8Q_JSON_NUMBER) (void)fp8q_json_number(&g_exp, k, &v);
    if (k && g_exp.tok[k].type == FP8Q_JSON_TRUE) v = 1;
    if (k && g_exp.tok[k].type == FP8Q_JSON_FALSE) v = 0;
    return v;
}

/* ------------------------------------------------- a GGUF file builder */

typedef struct gbuf {
    uint8_t *p;
    size_t n, cap;
} gbuf;

static void gb_put(gbuf *b, const void *s, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = (uint8_t *)realloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void gb_le(gbuf *b, uint64_t v, int bytes)
{
    uint8_t x[8];
    int i;
    for (i = 0; i < bytes; i++) x[i] = (uint8_t)(v >> (8 * i));
    gb_put(b, x, (size_t)bytes);
}

static void gb_str(gbuf *b, const char *s)
{
    gb_le(b, strlen(s), 8);
    gb_put(b, s, strlen(s));
}

typedef struct gg {
    gbuf kv, info, data;
    uint64_t n_kv, n_t;
    uint32_t version, align;
} gg;

static void gg_init(gg *g)
{
    memset(g, 0, sizeof *g);
    g->version = 3, g->align = 32;
}

static void gg_free(gg *g) { free(g->kv.p), free(g->info.p), free(g->data.p); }

/* A scalar KV of type t whose value is the low `bytes` bytes of v. */
static void kv_raw(gg *g, const char *key, uint32_t t, uint64_t v, int bytes)
{
    gb_str(&g->kv, key);
    gb_le(&g->kv, t, 4);
    gb_le(&g->kv, v, bytes);
    g->n_kv++;
}

static void kv_u32(gg *g, const char *key, uint32_t v) { kv_raw(g, key, FP8Q_GGUF_UINT32, v, 4); }

static void kv_f32(gg *g, const char *key, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    kv_raw(g, key, FP8Q_GGUF_FLOAT32, u, 4);
}

static void kv_str(gg *g, const char *key, const char *s)
{
    gb_str(&g->kv, key);
    gb_le(&g->kv, FP8Q_GGUF_STRING, 4);
    gb_str(&g->kv, s);
    g->n_kv++;
}

/* A tensor's info and data (nbytes of data; padded to the alignment). */
static void tensor(gg *g, const char *name, int nd, const uint64_t *ne, uint32_t type, const void *data, size_t nbytes)
{
    int d;
    gb_str(&g->info, name);
    gb_le(&g->info, (uint64_t)nd, 4);
    for (d = 0; d < nd; d++) gb_le(&g->info, ne[d], 8);
    gb_le(&g->info, type, 4);
    gb_le(&g->info, g->data.n, 8);
    gb_put(&g->data, data, nbytes);
    while (g->data.n % g->align) gb_put(&g->data, "", 1);
    g->n_t++;
}

static void tensor_f32(gg *g, const char *name, uint64_t ne0, uint64_t ne1, const float *x)
{
    const uint64_t ne[2] = {ne0, ne1};
    gbuf b = {NULL, 0, 0};
    uint64_t i;
    for (i = 0; i < ne0 * ne1; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        gb_le(&b, u, 4);
    }
    tensor(g, name, ne1 > 1 ? 2 : 1, ne, FP8Q_GGML_F32, b.p, b.n);
    free(b.p);
}

/* The whole file: header, KVs, tensor infos, padding, data. */
static uint8_t *gg_finish(gg *g, size_t *len)
{
    gbuf f = {NULL, 0, 0};
    gb_put(&f, "GGUF", 4);
    gb_le(&f, g->version, 4);
    gb_le(&f, g->n_t, 8);
    gb_le(&f, g->n_kv, 8);
    gb_put(&f, g->kv.p, g->kv.n);
    gb_put(&f, g->info.p, g->info.n);
    if (g->n_t)
        while (f.n % g->align) gb_put(&f, "", 1);
    gb_put(&f, g->data.p, g->data.n);
    *len = f.n;
    return f.p;
}

static int write_bytes(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(p, 1, n, f) == n;
    if (f && fclose(f) != 0) ok = 0;
    return ok;
}

/* ------------------------------------- a tiny synthetic Llama (builder) */

/* 1 layer, dim 32, 2 heads, 1 kv head, head_dim 16, ffn 32, vocab 32, F32. */
enum { T_DIM = 32, T_HEADS = 2, T_KV = 1, T_HD = 16, T_FF = 32, T_VOCAB = 32 };

typedef struct tiny {
    const char *arch;                                    /* default "llama" */
    const char *rope_type;                               /* llama.rope.scaling.type, or NULL */
    int no_eps, experts, key_len, value_len, rope_freqs; /* rope_freqs: 0 none, 1 all ones, 2 one factor 8 */
    int extra, drop_v, bad_shape, untied, q4k;
} tiny;

static float tiny_val(size_t i, int salt)
{
    return (float)((int)((i * 2654435761u + (unsigned)salt * 97u) % 2001u) - 1000) / 1024.0f;
}

static void tiny_matrix(gg *g, const char *name, int rows, int cols, int salt)
{
    float *x = (float *)malloc((size_t)rows * (size_t)cols * sizeof *x);
    size_t i;
    for (i = 0; i < (size_t)rows * (size_t)cols; i++) x[i] = tiny_val(i, salt);
    tensor_f32(g, name, (uint64_t)cols, (uint64_t)rows, x);
    free(x);
}

static uint8_t *tiny_llama(const tiny *o, size_t *len)
{
    static const char *const mats[7] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
    const int rows[7] = {T_HEADS * T_HD, T_KV * T_HD, T_KV * T_HD, T_DIM, T_FF, T_FF, T_DIM};
    const int cols[7] = {T_DIM, T_DIM, T_DIM, T_HEADS * T_HD, T_DIM, T_DIM, T_FF};
    char name[64];
    uint8_t *p;
    gg g;
    int k;
    gg_init(&g);
    kv_str(&g, "general.architecture", o->arch ? o->arch : "llama");
    kv_u32(&g, "llama.block_count", 1);
    kv_u32(&g, "llama.context_length", 64);
    kv_u32(&g, "llama.embedding_length", T_DIM);
    kv_u32(&g, "llama.feed_forward_length", T_FF);
    kv_u32(&g, "llama.attention.head_count", T_HEADS);
    kv_u32(&g, "llama.attention.head_count_kv", T_KV);
    kv_f32(&g, "llama.rope.freq_base", 5000.0f);
    if (!o->no_eps) kv_f32(&g, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    if (o->key_len) kv_u32(&g, "llama.attention.key_length", (uint32_t)o->key_len);
    if (o->value_len) kv_u32(&g, "llama.attention.value_length", (uint32_t)o->value_len);
    if (o->experts) kv_u32(&g, "llama.expert_count", (uint32_t)o->experts);
    if (o->rope_type) kv_str(&g, "llama.rope.scaling.type", o->rope_type);
    kv_u32(&g, "llama.vocab_size", T_VOCAB);
    tiny_matrix(&g, "token_embd.weight", T_VOCAB, T_DIM, 1);
    tiny_matrix(&g, "blk.0.attn_norm.weight", 1, T_DIM, 2);
    for (k = 0; k < 7; k++) {
        if (o->drop_v && k == 2) continue;
        (void)snprintf(name, sizeof name, "blk.0.%s.weight", mats[k]);
        if (o->q4k && k == 5) {
            const uint64_t ne[2] = {256, (uint64_t)rows[k]};
            uint8_t *zero = (uint8_t *)calloc((size_t)rows[k], 144);
            tensor(&g, name, 2, ne, 12 /* Q4_K */, zero, (size_t)rows[k] * 144);
            free(zero);
            continue;
        }
        tiny_matrix(&g, name, rows[k] + (o->bad_shape && k == 0 ? 2 : 0), cols[k], 10 + k);
    }
    tiny_matrix(&g, "blk.0.ffn_norm.weight", 1, T_DIM, 3);
    tiny_matrix(&g, "output_norm.weight", 1, T_DIM, 4);
    if (o->untied) tiny_matrix(&g, "output.weight", T_VOCAB, T_DIM, 5);
    if (o->extra) tiny_matrix(&g, "blk.0.attn_q.bias", 1, T_HEADS * T_HD, 6);
    if (o->rope_freqs) {
        float f[T_HD / 2];
        for (k = 0; k < T_HD / 2; k++) f[k] = o->rope_freqs == 2 && k == T_HD / 2 - 1 ? 8.0f : 1.0f;
        tensor_f32(&g, "rope_freqs.weight", T_HD / 2, 1, f);
    }
    p = gg_finish(&g, len);
    gg_free(&g);
    return p;
}

/* ---------------------------------------------- fixtures: reading */

static void test_fixture_metadata(void)
{
    fp8q_gguf g;
    fp8q_error e;
    const fp8q_gguf_kv *kv;
    const char *s;
    size_t n;
    int64_t iv;
    double dv;
    CHECK(fp8q_gguf_open(&g, FIX "tiny-gqa.Q4_1.gguf", &e) == FP8Q_OK, "%s", e.message);
    if (!g.fp8q__owned) return;
    CHECK(g.version == 3 && g.alignment == 32 && g.n_tensors == 20, "v%u align %zu tensors %zu", g.version, g.alignment,
          g.n_tensors);
    CHECK(g.data_offset % 32 == 0 && g.data_offset < g.size, "data offset %zu", g.data_offset);
    kv = fp8q_gguf_find_kv(&g, "general.architecture");
    CHECK(kv && fp8q_gguf_kv_string(kv, &s, &n) == FP8Q_OK && n == 5 && !memcmp(s, "llama", 5), "architecture");
    kv = fp8q_gguf_find_kv(&g, "llama.attention.head_count_kv");
    CHECK(kv && kv->type == FP8Q_GGUF_UINT32 && fp8q_gguf_kv_int(kv, &iv) == FP8Q_OK && iv == 2, "head_count_kv");
    CHECK(kv && fp8q_gguf_kv_float(kv, &dv) == FP8Q_OK && dv == 2.0, "an integer read as a float");
    CHECK(kv && fp8q_gguf_kv_string(kv, &s, &n) == FP8Q_ERR_ARG, "an integer is not a string");
    kv = fp8q_gguf_find_kv(&g, "llama.attention.layer_norm_rms_epsilon");
    CHECK(kv && fp8q_gguf_kv_float(kv, &dv) == FP8Q_OK && dv == (double)(float)1e-5, "eps %.9g", dv);
    CHECK(kv && fp8q_gguf_kv_int(kv, &iv) == FP8Q_ERR_ARG, "a float is not an integer");
    CHECK(fp8q_gguf_find_kv(&g, "llama.vocab_size") == NULL, "this fixture has no llama.vocab_size");
    CHECK(fp8q_gguf_find_kv(&g, "llama.attention") == NULL && fp8q_gguf_find_kv(&g, "") == NULL, "prefixes");
    kv = fp8q_gguf_find_kv(&g, "tokenizer.ggml.tokens");
    CHECK(kv && kv->type == FP8Q_GGUF_ARRAY && kv->array_type == FP8Q_GGUF_STRING && kv->count == 160, "tokens");
    CHECK(kv && fp8q_gguf_kv_array_string(kv, 137, &s, &n) == FP8Q_OK && n == 6 && !memcmp(s, "<t137>", 6),
          "token 137");
    CHECK(kv && fp8q_gguf_kv_array_string(kv, 0, &s, &n) == FP8Q_OK && n == 4 && !memcmp(s, "<t0>", 4), "token 0");
    CHECK(kv && fp8q_gguf_kv_array_string(kv, 160, &s, &n) == FP8Q_ERR_ARG, "token 160 is out of range");
    CHECK(kv && fp8q_gguf_kv_array_number(kv, 0, &dv) == FP8Q_ERR_ARG, "strings are not numbers");
    kv = fp8q_gguf_find_kv(&g, "tokenizer.ggml.token_type");
    CHECK(kv && kv->array_type == FP8Q_GGUF_INT32 && fp8q_gguf_kv_array_number(kv, 159, &dv) == FP8Q_OK && dv == 1.0,
          "token_type");
    CHECK(kv && fp8q_gguf_kv_array_string(kv, 0, &s, &n) == FP8Q_ERR_ARG && fp8q_gguf_kv_int(kv, &iv) == FP8Q_ERR_ARG,
          "an array is not a string or a scalar");
    {
        const fp8q_gguf_tensor *t = fp8q_gguf_find_tensor(&g, "blk.1.attn_k.weight");
        CHECK(t && t->n_dims == 2 && t->ne[0] == 64 && t->ne[1] == 32 && t->ne[2] == 1 && t->type == FP8Q_GGML_Q4_1 &&
                  t->nbytes == 32u * 2u * 20u && t->offset % 32 == 0,
              "blk.1.attn_k.weight");
        CHECK(t && fp8q_gguf_bytes(&g, t) == g.base + g.data_offset + t->offset, "bytes");
        CHECK(fp8q_gguf_find_tensor(&g, "output.weight") == NULL, "tied: no output.weight");
        t = fp8q_gguf_find_tensor(&g, "token_embd.weight");
        CHECK(t && t->type == FP8Q_GGML_Q8_0 && !strcmp(fp8q_ggml_type_name(t->type), "Q8_0"), "token_embd type");
    }
    CHECK(fp8q_ggml_type_name(4) == NULL && fp8q_ggml_type_name(43) == NULL &&
              !strcmp(fp8q_ggml_type_name(12), "Q4_K") && !strcmp(fp8q_ggml_type_name(30), "BF16"),
          "type names");
    fp8q_gguf_close(&g);
    fp8q_gguf_close(&g); /* twice is fine */
    CHECK(g.kv == NULL && g.n_tensors == 0, "close zeroes");
}

/* read_f32 of every tensor == gguf-py's dequantize (FNV of the float bits). */
static void test_fixture_dequantize(void)
{
    int f;
    char buf[80], path[160];
    for (f = 0; f < 3; f++) {
        fp8q_gguf g;
        fp8q_error e;
        size_t fx = exp_fixture(g_fixtures[f]), ts = fp8q_json_get(&g_exp, fx, "tensors"), k, seen = 0;
        (void)snprintf(path, sizeof path, FIX "%s", g_fixtures[f]);
        CHECK(fx && ts, "expected.json has no %s", g_fixtures[f]);
        CHECK(fp8q_gguf_open(&g, path, &e) == FP8Q_OK, "%s", e.message);
        if (!fx || !ts || !g.fp8q__owned) continue;
        for (k = ts + 1; k < g_exp.tok[ts].next; k = g_exp.tok[k].next, seen++) {
            const fp8q_gguf_tensor *t = fp8q_gguf_find_tensor(&g, exp_str(k, "gguf", buf, sizeof buf));
            float *x;
            CHECK(t != NULL, "%s: no tensor %s", path, buf);
            if (!t) continue;
            CHECK(!strcmp(fp8q_ggml_type_name(t->type), exp_str(k, "type", buf, sizeof buf)), "%s: %s type", path,
                  t->name);
            x = (float *)malloc(numel_of(t) * sizeof *x);
            CHECK(fp8q_gguf_read_f32(&g, t, x, &e) == FP8Q_OK, "%s", e.message);
            CHECK(fnv_f32(x, numel_of(t)) == hex64(exp_str(k, "fnv_gguf", buf, sizeof buf)),
                  "%s: %s (%s) differs from gguf.quants.dequantize", path, t->name, fp8q_ggml_type_name(t->type));
            free(x);
        }
        CHECK(seen == g.n_tensors, "%s: %zu expected tensors, the file has %zu", path, seen, g.n_tensors);
        fp8q_gguf_close(&g);
    }
}

/* Known blocks: nibble order, signs, d and m, the f16 widening. */
static void test_block_layouts(void)
{
    static const uint64_t ne[1] = {32};
    uint8_t q8[34], q40[18], q41[20];
    float y[3][32];
    const fp8q_gguf_tensor *t;
    fp8q_gguf g;
    fp8q_error e;
    gg b;
    uint8_t *file;
    size_t len;
    int j, i;
    q8[0] = 0x00, q8[1] = 0x38;                                  /* d = 0.5 (f16 0x3800) */
    for (j = 0; j < 32; j++) q8[2 + j] = (uint8_t)(j * 8 - 128); /* -128, -120, ..., 120 */
    q40[0] = 0x00, q40[1] = 0xC0;                                /* d = -2 */
    q41[0] = 0x00, q41[1] = 0x34;                                /* d = 0.25 */
    q41[2] = 0x00, q41[3] = 0xBC;                                /* m = -1 */
    for (j = 0; j < 16; j++) q40[2 + j] = q41[4 + j] = (uint8_t)(j | (15 - j) << 4);
    gg_init(&b);
    tensor(&b, "q8", 1, ne, FP8Q_GGML_Q8_0, q8, 34);
    tensor(&b, "q40", 1, ne, FP8Q_GGML_Q4_0, q40, 18);
    tensor(&b, "q41", 1, ne, FP8Q_GGML_Q4_1, q41, 20);
    file = gg_finish(&b, &len);
    gg_free(&b);
    CHECK(fp8q_gguf_parse(&g, file, len, &e) == FP8Q_OK, "%s", e.message);
    for (i = 0; i < 3 && g.fp8q__owned; i++) {
        t = &g.tensors[i];
        CHECK(fp8q_gguf_read_f32(&g, t, y[i], &e) == FP8Q_OK, "%s", e.message);
    }
    for (j = 0; j < 32 && g.fp8q__owned; j++) {
        const int nib = j < 16 ? j : 15 - (j - 16); /* element j: low nibble of byte j, j + 16: high nibble of byte j */
        CHECK(y[0][j] == (float)(j * 8 - 128) * 0.5f, "Q8_0[%d] = %g", j, (double)y[0][j]);
        CHECK(y[1][j] == (float)(nib - 8) * -2.0f, "Q4_0[%d] = %g", j, (double)y[1][j]);
        CHECK(y[2][j] == (float)nib * 0.25f - 1.0f, "Q4_1[%d] = %g", j, (double)y[2][j]);
    }
    fp8q_gguf_close(&g);
    free(file);
}

/* ------------------------------------------------ fixtures: the import */

static void check_config(const char *what, const fp8q_llama_config *c, size_t exp)
{
    CHECK(c->hidden_size == (int)exp_num(exp, "hidden_size") &&
              c->intermediate_size == (int)exp_num(exp, "intermediate_size") &&
              c->num_hidden_layers == (int)exp_num(exp, "num_hidden_layers") &&
              c->num_attention_heads == (int)exp_num(exp, "num_attention_heads") &&
              c->num_key_value_heads == (int)exp_num(exp, "num_key_value_heads") &&
              c->head_dim == (int)exp_num(exp, "head_dim") && c->vocab_size == (int)exp_num(exp, "vocab_size") &&
              c->max_position_embeddings == (int)exp_num(exp, "max_position_embeddings") &&
              c->tie_word_embeddings == (int)exp_num(exp, "tie_word_embeddings"),
          "%s: sizes differ from the HF config", what);
    /* GGUF stores eps and theta as FLOAT32 */
    CHECK((float)c->rms_norm_eps == (float)exp_num(exp, "rms_norm_eps") &&
              c->rope_theta == (double)(float)exp_num(exp, "rope_theta") && !c->rope_llama3,
          "%s: eps %.9g theta %g", what, c->rms_norm_eps, c->rope_theta);
    CHECK(!strcmp(c->architecture, "LlamaForCausalLM"), "%s: architecture %s", what, c->architecture);
}

static void test_fixture_config(void)
{
    int f;
    char path[160];
    fp8q_llama_config hf, c;
    fp8q_error e;
    for (f = 0; f < 3; f++) {
        fp8q_gguf g;
        (void)snprintf(path, sizeof path, FIX "%s", g_fixtures[f]);
        CHECK(fp8q_gguf_open(&g, path, &e) == FP8Q_OK, "%s", e.message);
        CHECK(fp8q_gguf_llama_config(&g, &c, &e) == FP8Q_OK, "%s: %s", path, e.message);
        check_config(path, &c, fp8q_json_get(&g_exp, exp_fixture(g_fixtures[f]), "config"));
        fp8q_gguf_close(&g);
    }
    /* and the HF fixture's own config.json */
    CHECK(fp8q_llama_config_load(&hf, HFIX "tiny-f32/config.json", &e) == FP8Q_OK, "%s", e.message);
    {
        fp8q_gguf g;
        CHECK(fp8q_gguf_open(&g, FIX "tiny-f32.F32.gguf", &e) == FP8Q_OK, "%s", e.message);
        CHECK(fp8q_gguf_llama_config(&g, &c, &e) == FP8Q_OK, "%s", e.message);
        CHECK(c.hidden_size == hf.hidden_size && c.num_key_value_heads == hf.num_key_value_heads &&
                  c.head_dim == hf.head_dim && c.vocab_size == hf.vocab_size &&
                  c.max_position_embeddings == hf.max_position_embeddings &&
                  c.tie_word_embeddings == hf.tie_word_embeddings && (float)c.rms_norm_eps == (float)hf.rms_norm_eps &&
                  c.rope_theta == hf.rope_theta,
              "tiny-f32 GGUF config differs from tiny-f32/config.json");
        fp8q_gguf_close(&g);
    }
}

/* fp8q_gguf_to_hf: every HF tensor == gguf-py's dequantize un-permuted;
   the F32 file gives the HF checkpoint back bit for bit. */
static void test_import_tensors(void)
{
    int f;
    char path[160], dir[256], st_path[300], buf[96];
    fp8q_safetensors hf;
    fp8q_error e;
    CHECK(fp8q_safetensors_open(&hf, HFIX "tiny-f32/model.safetensors", &e) == FP8Q_OK, "%s", e.message);
    for (f = 0; f < 3; f++) {
        fp8q_safetensors st;
        fp8q_llama_config c;
        size_t fx = exp_fixture(g_fixtures[f]), ts = fp8q_json_get(&g_exp, fx, "tensors"), k;
        (void)snprintf(path, sizeof path, FIX "%s", g_fixtures[f]);
        out_dir(dir, sizeof dir, g_fixtures[f]);
        CHECK(fp8q_gguf_to_hf(path, dir, FP8Q_F32, &e) == FP8Q_OK, "%s: %s", path, e.message);
        (void)snprintf(st_path, sizeof st_path, "%s/config.json", dir);
        CHECK(fp8q_llama_config_load(&c, st_path, &e) == FP8Q_OK, "%s", e.message);
        check_config(st_path, &c, fp8q_json_get(&g_exp, fx, "config"));
        (void)snprintf(st_path, sizeof st_path, "%s/model.safetensors", dir);
        CHECK(fp8q_safetensors_open(&st, st_path, &e) == FP8Q_OK, "%s", e.message);
        if (!st.fp8q__owned || !ts) continue;
        CHECK(st.n_tensors == g_exp.tok[ts].size, "%s: %zu tensors, expected %zu", st_path, st.n_tensors,
              g_exp.tok[ts].size);
        for (k = ts + 1; k < g_exp.tok[ts].next; k = g_exp.tok[k].next) {
            const fp8q_tensor_info *t = fp8q_safetensors_find(&st, exp_str(k, "hf", buf, sizeof buf)), *h;
            float *x;
            CHECK(t && t->dtype == FP8Q_F32, "%s: no F32 tensor %s", st_path, buf);
            if (!t) continue;
            x = (float *)malloc((size_t)t->numel * sizeof *x);
            (void)fp8q_safetensors_read_f32(&st, t, x, &e);
            CHECK(fnv_f32(x, (size_t)t->numel) == hex64(exp_str(k, "fnv_hf", buf, sizeof buf)),
                  "%s: %s differs from gguf-py's dequantize, un-permuted", st_path, t->name);
            free(x);
            if (f == 0) { /* F32: the HF checkpoint's bytes */
                h = fp8q_safetensors_find(&hf, t->name);
                CHECK(h && h->size == t->size && h->ndim == t->ndim && h->shape[0] == t->shape[0] &&
                          h->shape[1] == t->shape[1] &&
                          !memcmp(fp8q_safetensors_bytes(&hf, h), fp8q_safetensors_bytes(&st, t), (size_t)t->size),
                      "%s: not the HF tensor bit for bit", t->name);
            }
        }
        fp8q_safetensors_close(&st);
    }
    fp8q_safetensors_close(&hf);
}

/* BF16 output: each value is the F32 import rounded to BF16. */
static void test_import_bf16(void)
{
    char dir[256], p32[300], p16[300];
    fp8q_safetensors a, b;
    fp8q_error e;
    size_t i, k, bad = 0;
    out_dir(dir, sizeof dir, "mixed-bf16");
    CHECK(fp8q_gguf_to_hf(FIX "tiny-f32.mixed.gguf", dir, FP8Q_BF16, &e) == FP8Q_OK, "%s", e.message);
    (void)snprintf(p16, sizeof p16, "%s/model.safetensors", dir);
    (void)snprintf(p32, sizeof p32, "%s/tiny-f32.mixed.gguf/model.safetensors", g_root);
    CHECK(fp8q_safetensors_open(&a, p32, &e) == FP8Q_OK, "%s", e.message);
    CHECK(fp8q_safetensors_open(&b, p16, &e) == FP8Q_OK, "%s", e.message);
    for (i = 0; i < b.n_tensors && a.fp8q__owned; i++) {
        const fp8q_tensor_info *t = &b.tensors[i], *s = fp8q_safetensors_find(&a, t->name);
        const uint8_t *pb = fp8q_safetensors_bytes(&b, t);
        float *x;
        CHECK(t->dtype == FP8Q_BF16 && s && s->numel == t->numel, "%s", t->name);
        if (!s) continue;
        x = (float *)malloc((size_t)s->numel * sizeof *x);
        (void)fp8q_safetensors_read_f32(&a, s, x, &e);
        for (k = 0; k < (size_t)s->numel; k++)
            bad += fp8q_f32_to_bf16(x[k]) != (uint16_t)(pb[2 * k] | pb[2 * k + 1] << 8);
        free(x);
    }
    CHECK(bad == 0, "%zu values are not the BF16 rounding of the F32 import", bad);
    fp8q_safetensors_close(&a);
    fp8q_safetensors_close(&b);
    rm_dir(dir);
}

/* The acceptance: fp8q's FP32 forward on the imported checkpoint vs
   transformers on the GGUF (the committed logits): max |diff| <= 1e-4 x max |logit|. */
static void test_import_logits(void)
{
    int f;
    for (f = 0; f < 3; f++) {
        char ref[200], dir[256];
        fp8q_safetensors st;
        fp8q_model m;
        fp8q_state s;
        fp8q_error e;
        fp8q_model_options o;
        const fp8q_tensor_info *tt, *tl;
        int32_t tok[64];
        float *want, *got;
        int n, i;
        double d, mx;
        (void)snprintf(ref, sizeof ref, FIX "%s.ref.safetensors", g_fixtures[f]);
        (void)snprintf(dir, sizeof dir, "%s/%s", g_root, g_fixtures[f]);
        CHECK(fp8q_safetensors_open(&st, ref, &e) == FP8Q_OK, "%s", e.message);
        tt = fp8q_safetensors_find(&st, "tokens"), tl = fp8q_safetensors_find(&st, "logits");
        CHECK(tt && tl && tt->dtype == FP8Q_I32 && tt->shape[0] <= 64 && tl->ndim == 2, "%s: tokens, logits", ref);
        if (!tt || !tl) {
            fp8q_safetensors_close(&st);
            continue;
        }
        n = (int)tt->shape[0];
        for (i = 0; i < n; i++) {
            const uint8_t *b = fp8q_safetensors_bytes(&st, tt) + 4 * i;
            tok[i] = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
        }
        want = (float *)malloc((size_t)tl->numel * sizeof *want);
        got = (float *)calloc((size_t)tl->numel, sizeof *got);
        (void)fp8q_safetensors_read_f32(&st, tl, want, &e);
        memset(&o, 0, sizeof o);
        o.quant = FP8Q_QUANT_NONE;
        CHECK(fp8q_model_load(&m, dir, &o, &e) == FP8Q_OK, "%s: %s", dir, e.message);
        if (m.layers) {
            CHECK((uint64_t)m.config.vocab_size == tl->shape[1], "vocab");
            CHECK(fp8q_state_init(&s, &m, n, n, &e) == FP8Q_OK, "%s", e.message);
            CHECK(fp8q_forward(&m, &s, tok, n, got, &e) == FP8Q_OK, "%s", e.message);
            fp8q_state_free(&s);
            d = max_diff(got, want, (size_t)tl->numel), mx = max_abs(want, (size_t)tl->numel);
            CHECK(d <= 1e-4 * mx, "%s: max |diff| %.3g > 1e-4 x max |logit| %.3g", g_fixtures[f], d, mx);
            printf("    %-22s fp8q (imported) vs transformers (GGUF): max|diff| / max|logit| = %.2g\n", g_fixtures[f],
                   d / mx);
        }
        fp8q_model_free(&m);
        free(want), free(got);
        fp8q_safetensors_close(&st);
        rm_dir(dir);
    }
}

/* ------------------------------------------------- synthetic imports */

static void tiny_to_file(const tiny *o, const char *path)
{
    size_t len;
    uint8_t *p = tiny_llama(o, &len);
    CHECK(write_bytes(path, p, len), "cannot write %s", path);
    free(p);
}

/* Un-permutation written from convert_hf_to_gguf's reshape(n_head, 2, hd/2,
   cols).swapaxes(1, 2): HF row h*hd + j*hd/2 + i went to GGUF row h*hd + 2i + j. */
static void test_import_unpermute(void)
{
    tiny o;
    char gpath[300], dir[256], sp[300];
    fp8q_gguf g;
    fp8q_safetensors st;
    fp8q_error e;
    fp8q_llama_config c;
    int k, h, j, i, col;
    memset(&o, 0, sizeof o);
    o.untied = 1, o.rope_freqs = 1; /* all-one factors are plain RoPE and are dropped */
    (void)snprintf(gpath, sizeof gpath, "%s/tiny.gguf", g_root);
    tiny_to_file(&o, gpath);
    out_dir(dir, sizeof dir, "tiny");
    CHECK(fp8q_gguf_to_hf(gpath, dir, FP8Q_F32, &e) == FP8Q_OK, "%s", e.message);
    (void)snprintf(sp, sizeof sp, "%s/model.safetensors", dir);
    CHECK(fp8q_safetensors_open(&st, sp, &e) == FP8Q_OK, "%s", e.message);
    CHECK(fp8q_gguf_open(&g, gpath, &e) == FP8Q_OK, "%s", e.message);
    CHECK(st.n_tensors == 12 && fp8q_safetensors_find(&st, "lm_head.weight"), "12 tensors, untied");
    CHECK(fp8q_gguf_llama_config(&g, &c, &e) == FP8Q_OK && c.head_dim == T_HD && c.num_key_value_heads == T_KV &&
              c.rope_theta == 5000.0 && !c.tie_word_embeddings && c.max_position_embeddings == 64,
          "config: %s", e.message);
    for (k = 0; k < 2 && st.fp8q__owned && g.fp8q__owned; k++) {
        const char *hn = k ? "model.layers.0.self_attn.k_proj.weight" : "model.layers.0.self_attn.q_proj.weight";
        const fp8q_tensor_info *t = fp8q_safetensors_find(&st, hn);
        const fp8q_gguf_tensor *s = fp8q_gguf_find_tensor(&g, k ? "blk.0.attn_k.weight" : "blk.0.attn_q.weight");
        const int heads = k ? T_KV : T_HEADS;
        float *x = (float *)malloc((size_t)heads * T_HD * T_DIM * sizeof *x),
              *y = x ? (float *)malloc((size_t)heads * T_HD * T_DIM * sizeof *y) : NULL;
        int bad = 0;
        CHECK(t && s && t->shape[0] == (uint64_t)(heads * T_HD) && t->shape[1] == T_DIM, "%s", hn);
        if (!t || !s || !y) {
            free(x), free(y);
            continue;
        }
        (void)fp8q_safetensors_read_f32(&st, t, x, &e);
        (void)fp8q_gguf_read_f32(&g, s, y, &e);
        for (h = 0; h < heads; h++)
            for (j = 0; j < 2; j++)
                for (i = 0; i < T_HD / 2; i++)
                    for (col = 0; col < T_DIM; col++)
                        bad += x[(size_t)(h * T_HD + j * T_HD / 2 + i) * T_DIM + col] !=
                               y[(size_t)(h * T_HD + 2 * i + j) * T_DIM + col];
        CHECK(bad == 0, "%s: %d values not un-permuted", hn, bad);
        free(x), free(y);
    }
    {
        const fp8q_tensor_info *t = fp8q_safetensors_find(&st, "model.layers.0.self_attn.v_proj.weight");
        const fp8q_gguf_tensor *s = fp8q_gguf_find_tensor(&g, "blk.0.attn_v.weight");
        CHECK(t && s && !memcmp(fp8q_safetensors_bytes(&st, t), fp8q_gguf_bytes(&g, s), (size_t)t->size),
              "v_proj: the GGUF bytes, untouched");
    }
    fp8q_gguf_close(&g);
    fp8q_safetensors_close(&st);
    rm_dir(dir);
    (void)remove(gpath);
}

/* Llama configuration and import errors: code and message. */
static void test_import_errors(void)
{
    typedef struct ecase {
        tiny o;
        int code;
        const char *frag;
    } ecase;
    static const ecase cases[] = {
        {{"qwen2", NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, FP8Q_ERR_UNSUPPORTED, "architecture 'qwen2' is not supported"},
        {{NULL, NULL, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0},
         FP8Q_ERR_PARSE,
         "'llama.attention.layer_norm_rms_epsilon' is missing"},
        {{NULL, NULL, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0}, FP8Q_ERR_UNSUPPORTED, "'llama.expert_count' is set"},
        {{NULL, "linear", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, FP8Q_ERR_UNSUPPORTED, "'llama.rope.scaling.type' is not"},
        {{NULL, NULL, 0, 0, 16, 8, 0, 0, 0, 0, 0, 0},
         FP8Q_ERR_UNSUPPORTED,
         "differs from 'llama.attention.value_length'"},
        {{NULL, NULL, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0}, FP8Q_ERR_UNSUPPORTED, "'rope_freqs.weight' holds per-frequency"},
        {{NULL, NULL, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, FP8Q_ERR_UNSUPPORTED, "'blk.0.attn_q.bias' has no counterpart"},
        {{NULL, NULL, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0},
         FP8Q_ERR_PARSE,
         "'blk.0.attn_v.weight' (for model.layers.0.self_attn.v_proj.weight) is missing"},
        {{NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0},
         FP8Q_ERR_PARSE,
         "'blk.0.attn_q.weight' has ne [32, 34, 1, 1], expected [32, rows]"},
        {{NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, FP8Q_ERR_UNSUPPORTED, "'blk.0.ffn_up.weight' has ggml type Q4_K"},
    };
    char gpath[300], dir[256];
    size_t i;
    fp8q_error e;
    (void)snprintf(gpath, sizeof gpath, "%s/bad.gguf", g_root);
    out_dir(dir, sizeof dir, "bad");
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fp8q_result r;
        tiny_to_file(&cases[i].o, gpath);
        r = fp8q_gguf_to_hf(gpath, dir, FP8Q_F32, &e);
        CHECK((int)r == cases[i].code && strstr(e.message, cases[i].frag) && strstr(e.message, "bad.gguf: GGUF: "),
              "case %zu: got %d \"%s\", want %d \"...%s...\"", i, (int)r, e.message, cases[i].code, cases[i].frag);
    }
    {
        tiny ok;
        memset(&ok, 0, sizeof ok);
        tiny_to_file(&ok, gpath);
        CHECK(fp8q_gguf_to_hf(gpath, dir, FP8Q_I8, &e) == FP8Q_ERR_ARG, "dtype I8");
        CHECK(fp8q_gguf_to_hf(gpath, "no/such/dir", FP8Q_F32, &e) == FP8Q_ERR_IO && strstr(e.message, "cannot create"),
              "missing output directory: %s", e.message);
        CHECK(fp8q_gguf_to_hf(FIX "nothing.gguf", dir, FP8Q_F32, &e) == FP8Q_ERR_IO &&
                  strstr(e.message, "nothing.gguf: cannot open"),
              "missing input: %s", e.message);
        CHECK(fp8q_gguf_to_hf(gpath, dir, FP8Q_F32, &e) == FP8Q_OK, "tied tiny model: %s", e.message);
    }
    rm_dir(dir);
    (void)remove(gpath);
}

/* ---------------------------------------------------- malformed files */

/* A valid small file: 3 KVs (a string array among them), 2 F32 tensors whose
   sizes are multiples of the alignment (so every shorter prefix is invalid). */
static uint8_t *valid_small(size_t *len)
{
    static const char *const toks[3] = {"a", "bc", ""};
    float x[16];
    gg g;
    uint8_t *p;
    int i;
    gg_init(&g);
    for (i = 0; i < 16; i++) x[i] = (float)i;
    kv_str(&g, "general.architecture", "llama");
    gb_str(&g.kv, "tokenizer.ggml.tokens");
    gb_le(&g.kv, FP8Q_GGUF_ARRAY, 4);
    gb_le(&g.kv, FP8Q_GGUF_STRING, 4);
    gb_le(&g.kv, 3, 8);
    for (i = 0; i < 3; i++) gb_str(&g.kv, toks[i]);
    g.n_kv++;
    kv_raw(&g, "b", FP8Q_GGUF_BOOL, 1, 1);
    tensor_f32(&g, "t0", 8, 1, x);
    tensor_f32(&g, "t1", 8, 2, x);
    p = gg_finish(&g, len);
    gg_free(&g);
    return p;
}

static void test_truncated_everywhere(void)
{
    size_t len, n, bad = 0;
    uint8_t *p = valid_small(&len);
    fp8q_gguf g;
    fp8q_error e;
    CHECK(fp8q_gguf_parse(&g, p, len, &e) == FP8Q_OK, "the whole file: %s", e.message);
    fp8q_gguf_close(&g);
    for (n = 0; n < len; n++) {
        uint8_t *q = (uint8_t *)malloc(n ? n : 1); /* exactly n bytes: ASan sees a read past the end */
        fp8q_result r;
        memcpy(q, p, n);
        r = fp8q_gguf_parse(&g, q, n, &e);
        if (r != FP8Q_ERR_PARSE || !(strstr(e.message, "the file ends inside") || strstr(e.message, "past the end") ||
                                     strstr(e.message, "bytes are left") || strstr(e.message, "does not fit"))) {
            if (bad++ < 5) printf("    prefix %zu: %d %s\n", n, (int)r, e.message);
        }
        CHECK(g.kv == NULL && g.fp8q__owned == NULL, "prefix %zu: g not zeroed", n);
        free(q);
    }
    CHECK(bad == 0, "%zu of %zu truncations not refused as truncated", bad, len);
    free(p);
}

/* The malformed files: each built by one function from the valid pieces. */
typedef void (*build_fn)(gbuf *f);

static void hdr(gbuf *f, const char *magic, uint32_t version, uint64_t n_t, uint64_t n_kv)
{
    gb_put(f, magic, 4);
    gb_le(f, version, 4);
    gb_le(f, n_t, 8);
    gb_le(f, n_kv, 8);
}

static void pad(gbuf *f, size_t n) /* n zero bytes */
{
    while (n--) gb_put(f, "", 1);
}

static void b_empty(gbuf *f) { (void)f; }
static void b_magic(gbuf *f) { hdr(f, "GGUG", 3, 0, 0); }
static void b_v1(gbuf *f) { hdr(f, "GGUF", 1, 0, 0); }
static void b_v0(gbuf *f) { hdr(f, "GGUF", 0, 0, 0); }
static void b_v4(gbuf *f) { hdr(f, "GGUF", 4, 0, 0); }
static void b_big_endian(gbuf *f) { hdr(f, "GGUF", 0x03000000u, 0, 0); }
static void b_kv_many(gbuf *f) { hdr(f, "GGUF", 3, 0, 1000000), pad(f, 100); }
static void b_kv_huge(gbuf *f) { hdr(f, "GGUF", 3, 0, (uint64_t)1 << 40), pad(f, 100); }
static void b_kv_negative(gbuf *f) { hdr(f, "GGUF", 3, 0, ~(uint64_t)0), pad(f, 100); }
static void b_t_huge(gbuf *f) { hdr(f, "GGUF", 3, (uint64_t)1 << 40, 0), pad(f, 100); }
static void b_t_many(gbuf *f) { hdr(f, "GGUF", 3, 1000, 0), pad(f, 1000); }

static void kv_head(gbuf *f, uint64_t n_kv, const char *key, uint32_t type)
{
    hdr(f, "GGUF", 3, 0, n_kv);
    gb_str(f, key);
    gb_le(f, type, 4);
}

static void b_key_len_huge(gbuf *f)
{
    hdr(f, "GGUF", 3, 0, 1);
    gb_le(f, (uint64_t)1 << 62, 8);
    pad(f, 40);
}
static void b_key_long(gbuf *f)
{
    hdr(f, "GGUF", 3, 0, 1);
    gb_le(f, 70000, 8);
    pad(f, 70010);
}
static void b_key_empty(gbuf *f) { kv_head(f, 1, "", FP8Q_GGUF_UINT8), pad(f, 8); }
static void b_key_nul(gbuf *f)
{
    hdr(f, "GGUF", 3, 0, 1);
    gb_le(f, 3, 8);
    gb_put(f, "a\0b", 3);
    gb_le(f, FP8Q_GGUF_UINT8, 4), pad(f, 1);
}
static void b_value_type(gbuf *f) { kv_head(f, 1, "k", 13), pad(f, 8); }
static void b_string_past_end(gbuf *f) { kv_head(f, 1, "k", FP8Q_GGUF_STRING), gb_le(f, 100, 8), pad(f, 10); }
static void b_array_overflow(gbuf *f)
{
    kv_head(f, 1, "k", FP8Q_GGUF_ARRAY);
    gb_le(f, FP8Q_GGUF_UINT32, 4), gb_le(f, (uint64_t)1 << 62, 8), pad(f, 16); /* 2^62 x 4 bytes wraps to 0 */
}
static void b_string_array_huge(gbuf *f)
{
    kv_head(f, 1, "k", FP8Q_GGUF_ARRAY);
    gb_le(f, FP8Q_GGUF_STRING, 4), gb_le(f, (uint64_t)1 << 61, 8), pad(f, 16);
}
static void b_nested(gbuf *f)
{
    kv_head(f, 1, "k", FP8Q_GGUF_ARRAY);
    gb_le(f, FP8Q_GGUF_ARRAY, 4), gb_le(f, 1, 8), pad(f, 16);
}
static void b_bool(gbuf *f) { kv_head(f, 1, "flag", FP8Q_GGUF_BOOL), gb_le(f, 2, 1); }
static void b_dup_key(gbuf *f)
{
    kv_head(f, 2, "general.name", FP8Q_GGUF_UINT8), gb_le(f, 1, 1);
    gb_str(f, "general.name"), gb_le(f, FP8Q_GGUF_UINT8, 4), gb_le(f, 2, 1);
}
static void b_align_odd(gbuf *f) { kv_head(f, 1, "general.alignment", FP8Q_GGUF_UINT32), gb_le(f, 48, 4); }
static void b_align_type(gbuf *f) { kv_head(f, 1, "general.alignment", FP8Q_GGUF_UINT64), gb_le(f, 32, 8); }
static void b_align_big(gbuf *f) { kv_head(f, 1, "general.alignment", FP8Q_GGUF_UINT32), gb_le(f, 1u << 24, 4); }

/* One tensor info with the given fields (ne: nd values), then 64 data bytes at a 32 alignment. */
static void one_tensor(gbuf *f, const char *name, uint32_t nd, const uint64_t *ne, uint32_t type, uint64_t off)
{
    uint32_t d;
    hdr(f, "GGUF", 3, 1, 0);
    gb_str(f, name);
    gb_le(f, nd, 4);
    for (d = 0; d < nd; d++) gb_le(f, ne[d], 8);
    gb_le(f, type, 4);
    gb_le(f, off, 8);
    while (f->n % 32) pad(f, 1);
    pad(f, 64);
}
static const uint64_t ne_ok[5] = {8, 2, 1, 1, 1};
static void b_ndims5(gbuf *f) { one_tensor(f, "t", 5, ne_ok, 0, 0); }
static void b_dim_zero(gbuf *f)
{
    const uint64_t ne[2] = {8, 0};
    one_tensor(f, "t", 2, ne, 0, 0);
}
static void b_dim_negative(gbuf *f)
{
    const uint64_t ne[2] = {8, (uint64_t)-5};
    one_tensor(f, "t", 2, ne, 0, 0);
}
static void b_dim_product(gbuf *f)
{
    const uint64_t ne[2] = {(uint64_t)1 << 40, (uint64_t)1 << 40};
    one_tensor(f, "t", 2, ne, 0, 0);
}
static void b_type_unknown(gbuf *f) { one_tensor(f, "t", 2, ne_ok, 99, 0); }
static void b_type_removed(gbuf *f) { one_tensor(f, "t", 2, ne_ok, 4, 0); }
static void b_block(gbuf *f)
{
    const uint64_t ne[1] = {33};
    one_tensor(f, "t", 1, ne, FP8Q_GGML_Q8_0, 0);
}
static void b_misaligned(gbuf *f) { one_tensor(f, "t", 1, ne_ok, 0, 16); }
static void b_gap(gbuf *f) { one_tensor(f, "t", 1, ne_ok, 0, 32); }
static void b_past_end(gbuf *f)
{
    const uint64_t ne[2] = {8, 3}; /* 96 bytes, 64 in the file */
    one_tensor(f, "t", 2, ne, 0, 0);
}
static void b_name_long(gbuf *f)
{
    one_tensor(f, "0123456789012345678901234567890123456789012345678901234567890123", 1, ne_ok, 0, 0);
}
static void b_dup_tensor(gbuf *f)
{
    hdr(f, "GGUF", 3, 2, 0);
    gb_str(f, "w"), gb_le(f, 1, 4), gb_le(f, 8, 8), gb_le(f, 0, 4), gb_le(f, 0, 8);
    gb_str(f, "w"), gb_le(f, 1, 4), gb_le(f, 8, 8), gb_le(f, 0, 4), gb_le(f, 32, 8);
    while (f->n % 32) pad(f, 1);
    pad(f, 64);
}
static void b_data_start(gbuf *f) /* the infos end at byte 57; the data section would start at 64 */
{
    hdr(f, "GGUF", 3, 1, 0);
    gb_str(f, "t"), gb_le(f, 1, 4), gb_le(f, 1, 8), gb_le(f, 0, 4), gb_le(f, 0, 8);
    pad(f, 3);
}

static void test_hostile_table(void)
{
    typedef struct hcase {
        const char *what;
        build_fn build;
        int code;
        const char *frag;
        long offset; /* err->offset, or -1: not checked */
    } hcase;
    static const hcase cases[] = {
        {"empty file", b_empty, FP8Q_ERR_PARSE, "the file ends inside the magic 'GGUF'", 0},
        {"bad magic", b_magic, FP8Q_ERR_PARSE, "not a GGUF file: it starts with 'GGUG'", 0},
        {"version 1", b_v1, FP8Q_ERR_UNSUPPORTED, "GGUF version 1 is not supported", 4},
        {"version 0", b_v0, FP8Q_ERR_PARSE, "GGUF version 0 is invalid", 4},
        {"version 4", b_v4, FP8Q_ERR_UNSUPPORTED, "is newer than this reader", 4},
        {"big-endian", b_big_endian, FP8Q_ERR_UNSUPPORTED, "a big-endian GGUF file", 4},
        {"n_kv too many for the file", b_kv_many, FP8Q_ERR_PARSE,
         "the KV count is 1000000 (at byte 16), but each takes at least 14 bytes and only 100", 16},
        {"n_kv huge", b_kv_huge, FP8Q_ERR_LIMIT, "above FP8Q_MAX_GGUF_KV", 16},
        {"n_kv negative", b_kv_negative, FP8Q_ERR_PARSE, "negative as the int64", 16},
        {"n_tensors huge", b_t_huge, FP8Q_ERR_LIMIT,
         "the tensor count is 1099511627776 (at byte 8), above FP8Q_MAX_TENSORS", 8},
        {"n_tensors too many for the file", b_t_many, FP8Q_ERR_PARSE, "each takes at least 25 bytes", 8},
        {"key length huge", b_key_len_huge, FP8Q_ERR_PARSE,
         "KV #0: the file ends inside the key: 4611686018427387904 bytes", 32},
        {"key longer than 65535", b_key_long, FP8Q_ERR_LIMIT, "the key is longer than 65535 bytes", 24},
        {"empty key", b_key_empty, FP8Q_ERR_PARSE, "KV #0: the key is empty (at byte 24)", 24},
        {"NUL in a key", b_key_nul, FP8Q_ERR_PARSE, "KV #0: the key contains a NUL byte (at byte 24)", 24},
        {"value type 13", b_value_type, FP8Q_ERR_PARSE, "KV 'k': value type 13 (at byte 33) is not a GGUF value type",
         33},
        {"string past the end", b_string_past_end, FP8Q_ERR_PARSE,
         "KV 'k': the file ends inside the string value: 100 bytes needed", 45},
        {"array size overflows", b_array_overflow, FP8Q_ERR_PARSE,
         "an array of 4611686018427387904 UINT32 values does not fit", 49},
        {"string array huge", b_string_array_huge, FP8Q_ERR_PARSE,
         "an array of 2305843009213693952 STRING (at least 8 bytes each) does not fit", 49},
        {"nested array", b_nested, FP8Q_ERR_UNSUPPORTED, "KV 'k': arrays of arrays are not supported", 37},
        {"BOOL 2", b_bool, FP8Q_ERR_PARSE, "KV 'flag': BOOL value 2 (at byte 40) is not 0 or 1", 40},
        {"duplicate key", b_dup_key, FP8Q_ERR_PARSE, "KV 'general.name' appears twice (the second at byte 49)", 49},
        {"alignment 48", b_align_odd, FP8Q_ERR_PARSE, "KV 'general.alignment' (at byte 24) is 48, not a power of two",
         24},
        {"alignment UINT64", b_align_type, FP8Q_ERR_PARSE,
         "'general.alignment' (at byte 24) must be a UINT32, not UINT64", 24},
        {"alignment 2^24", b_align_big, FP8Q_ERR_LIMIT, "is 16777216, above FP8Q_GGUF_MAX_ALIGNMENT", 24},
        {"n_dims 5", b_ndims5, FP8Q_ERR_PARSE, "tensor 't': n_dims is 5 (at byte 33); ggml tensors have at most 4", 33},
        {"a zero dimension", b_dim_zero, FP8Q_ERR_PARSE, "tensor 't': ne[1] is 0 (at byte 45)", 45},
        {"a negative dimension", b_dim_negative, FP8Q_ERR_PARSE, "tensor 't': ne[1] is negative", 45},
        {"element count overflow", b_dim_product, FP8Q_ERR_LIMIT,
         "ne[1] = 1099511627776 (at byte 45) makes the element count exceed", 45},
        {"unknown type 99", b_type_unknown, FP8Q_ERR_UNSUPPORTED, "tensor 't': unknown ggml type 99 (at byte 53)", 53},
        {"removed type 4", b_type_removed, FP8Q_ERR_UNSUPPORTED, "unknown ggml type 4", 53},
        {"row not whole blocks", b_block, FP8Q_ERR_PARSE, "ne[0] = 33 is not a multiple of the block size of Q8_0 (32)",
         45},
        {"misaligned offset", b_misaligned, FP8Q_ERR_PARSE,
         "tensor 't': offset 16 (at byte 49) is not a multiple of the alignment 32", 49},
        {"offset with a gap", b_gap, FP8Q_ERR_PARSE,
         "offset 32 (at byte 49) should be 0: tensors are stored in file order", 49},
        {"data past the end", b_past_end, FP8Q_ERR_PARSE,
         "its 96 bytes from byte 96 run past the end of the file (160 bytes)", 57},
        {"name of 64 bytes", b_name_long, FP8Q_ERR_LIMIT, "the name is longer than 63 bytes", 24},
        {"duplicate tensor", b_dup_tensor, FP8Q_ERR_PARSE, "tensor 'w' appears twice (the second at byte 57)", 57},
        {"data section past the end", b_data_start, FP8Q_ERR_PARSE,
         "the data section would start at byte 64 (the tensor infos end at byte 57", 57},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gbuf f = {NULL, 0, 0};
        uint8_t *exact;
        fp8q_gguf g;
        fp8q_error e;
        fp8q_result r;
        cases[i].build(&f);
        exact = (uint8_t *)malloc(f.n ? f.n : 1); /* exactly the file: ASan sees any read past it */
        if (f.n) memcpy(exact, f.p, f.n);
        r = fp8q_gguf_parse(&g, exact, f.n, &e);
        CHECK((int)r == cases[i].code && strstr(e.message, cases[i].frag) != NULL &&
                  (cases[i].offset < 0 || e.offset == (size_t)cases[i].offset),
              "%s: got %d \"%s\" at %zu, want %d \"...%s...\" at %ld", cases[i].what, (int)r, e.message, e.offset,
              cases[i].code, cases[i].frag, cases[i].offset);
        CHECK(g.fp8q__owned == NULL, "%s: not zeroed", cases[i].what);
        free(exact);
        free(f.p);
    }
    printf("    %zu malformed files refused with the expected code, message and offset\n", i);
}

/* Values and accessors on hand-made KVs. */
static void test_values(void)
{
    gg b;
    uint8_t *file;
    size_t len, n;
    fp8q_gguf g;
    fp8q_error e;
    int64_t iv;
    double dv;
    const char *s;
    gg_init(&b);
    kv_raw(&b, "i8", FP8Q_GGUF_INT8, 0x80, 1);
    kv_raw(&b, "i16", FP8Q_GGUF_INT16, 0xFFFE, 2);
    kv_raw(&b, "i64", FP8Q_GGUF_INT64, (uint64_t)1 << 63, 8);
    kv_raw(&b, "u64", FP8Q_GGUF_UINT64, ~(uint64_t)0, 8);
    kv_raw(&b, "f64", FP8Q_GGUF_FLOAT64, 0x3FF8000000000000ull, 8); /* 1.5 */
    kv_raw(&b, "bool", FP8Q_GGUF_BOOL, 1, 1);
    kv_str(&b, "s", "x\0y");
    gb_str(&b.kv, "arr");
    gb_le(&b.kv, FP8Q_GGUF_ARRAY, 4), gb_le(&b.kv, FP8Q_GGUF_INT16, 4), gb_le(&b.kv, 2, 8);
    gb_le(&b.kv, 0x8000, 2), gb_le(&b.kv, 7, 2);
    b.n_kv++;
    file = gg_finish(&b, &len);
    gg_free(&b);
    CHECK(fp8q_gguf_parse(&g, file, len, &e) == FP8Q_OK, "%s", e.message);
    CHECK(fp8q_gguf_kv_int(fp8q_gguf_find_kv(&g, "i8"), &iv) == FP8Q_OK && iv == -128, "INT8 -128");
    CHECK(fp8q_gguf_kv_int(fp8q_gguf_find_kv(&g, "i16"), &iv) == FP8Q_OK && iv == -2, "INT16 -2");
    CHECK(fp8q_gguf_kv_int(fp8q_gguf_find_kv(&g, "i64"), &iv) == FP8Q_OK && iv == INT64_MIN, "INT64 min");
    CHECK(fp8q_gguf_kv_int(fp8q_gguf_find_kv(&g, "u64"), &iv) == FP8Q_ERR_LIMIT, "UINT64 max is beyond int64");
    CHECK(fp8q_gguf_kv_float(fp8q_gguf_find_kv(&g, "u64"), &dv) == FP8Q_OK && dv == 18446744073709551616.0,
          "UINT64 max as a double");
    CHECK(fp8q_gguf_kv_float(fp8q_gguf_find_kv(&g, "f64"), &dv) == FP8Q_OK && dv == 1.5, "FLOAT64");
    CHECK(fp8q_gguf_kv_int(fp8q_gguf_find_kv(&g, "bool"), &iv) == FP8Q_OK && iv == 1, "BOOL");
    CHECK(fp8q_gguf_kv_float(fp8q_gguf_find_kv(&g, "bool"), &dv) == FP8Q_ERR_ARG, "BOOL is not a float");
    CHECK(fp8q_gguf_kv_string(fp8q_gguf_find_kv(&g, "s"), &s, &n) == FP8Q_OK && n == 1 && s[0] == 'x',
          "strings stop at their length (kv_str wrote \"x\")");
    CHECK(fp8q_gguf_kv_array_number(fp8q_gguf_find_kv(&g, "arr"), 0, &dv) == FP8Q_OK && dv == -32768.0 &&
              fp8q_gguf_kv_array_number(fp8q_gguf_find_kv(&g, "arr"), 1, &dv) == FP8Q_OK && dv == 7.0 &&
              fp8q_gguf_kv_array_number(fp8q_gguf_find_kv(&g, "arr"), 2, &dv) == FP8Q_ERR_ARG,
          "INT16 array");
    CHECK(fp8q_gguf_kv_int(NULL, &iv) == FP8Q_ERR_ARG && fp8q_gguf_find_kv(NULL, "x") == NULL, "NULL");
    CHECK(g.n_tensors == 0 && fp8q_gguf_find_tensor(&g, "x") == NULL, "no tensors");
    fp8q_gguf_close(&g);
    free(file);
    CHECK(fp8q_gguf_parse(NULL, "", 0, &e) == FP8Q_ERR_ARG && fp8q_gguf_parse(&g, NULL, 4, &e) == FP8Q_ERR_ARG,
          "NULL arguments");
}

/* read_f32 of an unconverted type names it; a forged tensor is refused. */
static void test_read_errors(void)
{
    static const uint64_t ne[1] = {256};
    uint8_t blk[144] = {0}, *file;
    gg b;
    size_t len;
    fp8q_gguf g;
    fp8q_error e;
    float y[256];
    fp8q_gguf_tensor forged;
    gg_init(&b);
    tensor(&b, "blk.3.ffn_up.weight", 1, ne, 12, blk, sizeof blk);
    file = gg_finish(&b, &len);
    gg_free(&b);
    CHECK(fp8q_gguf_parse(&g, file, len, &e) == FP8Q_OK, "%s", e.message);
    if (g.fp8q__owned) {
        CHECK(fp8q_gguf_read_f32(&g, &g.tensors[0], y, &e) == FP8Q_ERR_UNSUPPORTED &&
                  strstr(e.message, "tensor 'blk.3.ffn_up.weight': read_f32 does not convert ggml type Q4_K"),
              "%s", e.message);
        forged = g.tensors[0];
        forged.nbytes = 1u << 20;
        CHECK(fp8q_gguf_read_f32(&g, &forged, y, &e) == FP8Q_ERR_ARG, "a tensor outside the file");
        forged = g.tensors[0];
        forged.type = FP8Q_GGML_F32;
        CHECK(fp8q_gguf_read_f32(&g, &forged, y, &e) == FP8Q_ERR_ARG, "type and nbytes disagree");
        CHECK(fp8q_gguf_read_f32(&g, &g.tensors[0], NULL, &e) == FP8Q_ERR_ARG, "dst NULL");
    }
    fp8q_gguf_close(&g);
    free(file);
}

/* open: FIFOs (without blocking), directories and missing files. */
static void test_open_errors(void)
{
    char fifo[200];
    fp8q_gguf g;
    fp8q_error e;
    (void)snprintf(fifo, sizeof fifo, "%s/fifo.gguf", g_root);
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
    CHECK(fp8q_gguf_open(&g, fifo, &e) == FP8Q_ERR_IO && strstr(e.message, "fifo.gguf: is not a regular file"), "%s",
          e.message);
    (void)remove(fifo);
    CHECK(fp8q_gguf_open(&g, g_root, &e) == FP8Q_ERR_IO &&
              (strstr(e.message, "is a directory") || strstr(e.message, "is not a regular file")),
          "%s", e.message);
    CHECK(fp8q_gguf_open(&g, FIX "missing.gguf", &e) == FP8Q_ERR_IO && strstr(e.message, "missing.gguf: cannot open"),
          "%s", e.message);
    CHECK(fp8q_gguf_open(&g, HFIX "tiny-f32/config.json", &e) == FP8Q_ERR_PARSE &&
              strstr(e.message, "config.json: not a GGUF file: it starts with '{\\x0A  '"),
          "%s", e.message);
    CHECK(fp8q_gguf_open(NULL, FIX "tiny-f32.F32.gguf", &e) == FP8Q_ERR_ARG, "NULL");
}

int main(void)
{
    size_t n = 0;
    fp8q_error e;
    (void)snprintf(g_root, sizeof g_root, "build/test_gguf_tmp.%ld", (long)getpid());
    (void)mkdir("build", 0755);
    (void)mkdir(g_root, 0755);
    g_exp_text = read_file(FIX "expected.json", &n);
    if (!g_exp_text || fp8q_json_parse(&g_exp, g_exp_text, n, 0, &e) != FP8Q_OK) {
        printf("FAIL cannot read " FIX "expected.json (run from the repository root)\n0 passed, 1 failed\n");
        return 1;
    }
    run_case("fixtures: metadata, KVs, string arrays, tensor infos", test_fixture_metadata);
    run_case("fixtures: read_f32 == gguf.quants.dequantize (F32 F16 BF16 Q8_0 Q4_0 Q4_1)", test_fixture_dequantize);
    run_case("Q8_0 / Q4_0 / Q4_1 block layouts, known values", test_block_layouts);
    run_case("fixtures: Llama config == the HF config", test_fixture_config);
    run_case("fixtures: to_hf tensors == dequantize un-permuted; F32 == HF bytes", test_import_tensors);
    run_case("to_hf BF16 output == BF16(F32 output)", test_import_bf16);
    run_case("fixtures: imported FP32 logits vs transformers on the GGUF", test_import_logits);
    run_case("q/k un-permutation (convert_hf_to_gguf's permute inverted)", test_import_unpermute);
    run_case("Llama import errors: code and message", test_import_errors);
    run_case("truncated at every byte: refused", test_truncated_everywhere);
    run_case("malformed files: code, message, offset", test_hostile_table);
    run_case("KV values: signs, 64-bit, arrays, NULL", test_values);
    run_case("read_f32 errors", test_read_errors);
    run_case("open: FIFO, directory, missing, not GGUF", test_open_errors);
    {
        int f;
        char dir[300];
        for (f = 0; f < 3; f++) {
            (void)snprintf(dir, sizeof dir, "%s/%s", g_root, g_fixtures[f]);
            rm_dir(dir);
        }
    }
    (void)rmdir(g_root);
    fp8q_json_free(&g_exp);
    free(g_exp_text);
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed != 0;
}
