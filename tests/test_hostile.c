/* The hostile-input matrix: ONE table, one row per malformed or adversarial
   input, fed to a parser through its public entry point (files and
   directories through the file-level one: fp8q_safetensors_open,
   fp8q_checkpoint_open, fp8q_model_load, fp8q_llama_config_load,
   fp8q_inc_config_load, fp8q_inc_measure_load; JSON text through
   fp8q_json_parse; the INC missing-measurement rule through
   fp8q_inc_node_scales on a loaded measurement file). Every row checks the
   exact fp8q_result, that err->code agrees, that the message contains the
   row's fragment, that a file-level message names the file or directory,
   and that the output structure is left empty.

   Memory stays bounded by the input's real size (no allocation sized by an
   unchecked header field). fp8q has no allocator hooks, so on Linux, outside
   sanitizer builds, each row runs with its address space capped
   (setrlimit RLIMIT_AS) at the current size + 8 x the input's real size +
   64 MiB: an allocation sized from a number read from the input fails there
   and turns into FP8Q_ERR_NOMEM, a code mismatch. The rows marked H_RSS
   (huge header lengths, overflowing shapes and offsets on tiny files) run
   first, while the process is small, and must also raise the peak RSS
   (getrusage ru_maxrss) by less than 4 MiB and return within a second.
   Elsewhere these two checks are skipped (reported, not failed).

   Scratch files live in build/test_hostile_tmp.<pid>/ and are removed at the
   end. Run from the repository root. POSIX (symlink, ftruncate, rlimits);
   also passes with -DFP8Q_NO_MMAP (fread's wording for odd paths). Set
   HOSTILE_VERBOSE=1 to print every row's time, RSS growth and message. */
#define _POSIX_C_SOURCE 200809L
#define FP8Q_IMPLEMENTATION
#include "../fp8q.h"
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <math.h>
#include <errno.h>
#include <time.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/time.h>
#include <sys/resource.h>
#include <unistd.h>
#include "harness.h"

#define FIX "tests/fixtures/llama/"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HOSTILE_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define HOSTILE_SANITIZED 1
#endif
#endif
#if defined(__linux__) && !defined(HOSTILE_SANITIZED)
#define HOSTILE_MEMCHECK 1
#endif

/* ------------------------------------------------------------- buffers */

typedef struct hbuf {
    char *p;
    size_t n, cap;
} hbuf;

static void hb_putn(hbuf *b, const void *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->n + n + 1) c *= 2;
        b->p = (char *)realloc(b->p, c);
        if (!b->p) {
            printf("out of memory\n");
            exit(2);
        }
        b->cap = c;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void hb_put(hbuf *b, const char *s) { hb_putn(b, s, strlen(s)); }

static void hb_rep(hbuf *b, const char *s, size_t times)
{
    size_t i;
    for (i = 0; i < times; i++) hb_put(b, s);
}

static void hb_fill(hbuf *b, char c, size_t n)
{
    hb_putn(b, "", 0);
    while (n--) hb_putn(b, &c, 1);
}

static void hb_le64(hbuf *b, uint64_t v)
{
    unsigned char x[8];
    int i;
    for (i = 0; i < 8; i++) x[i] = (unsigned char)(v >> (8 * i));
    hb_putn(b, x, 8);
}

/* A safetensors file: the header's length, the header, data_len zero bytes. */
static void st_file(hbuf *b, const char *header, size_t data_len)
{
    size_t i;
    hb_le64(b, (uint64_t)strlen(header));
    hb_put(b, header);
    for (i = 0; i < data_len; i++) hb_putn(b, "\0", 1);
}

/* ------------------------------------------------------ file utilities */

static char g_root[128];

static int write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    int ok;
    if (!f) return 0;
    ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static int write_text(const char *path, const char *s) { return write_bytes(path, s, strlen(s)); }

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    hbuf b = {NULL, 0, 0};
    char tmp[65536];
    size_t got;
    if (!f) return NULL;
    hb_putn(&b, "", 0);
    while ((got = fread(tmp, 1, sizeof tmp, f)) > 0) hb_putn(&b, tmp, got);
    fclose(f);
    *len = b.n;
    return b.p;
}

static long copy_file(const char *from, const char *to)
{
    size_t n;
    char *p = read_all(from, &n);
    long r = p && write_bytes(to, p, n) ? (long)n : -1;
    free(p);
    return r;
}

static void rm_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *de;
        char p[1024];
        while (d && (de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
            (void)snprintf(p, sizeof p, "%s/%s", path, de->d_name);
            rm_tree(p);
        }
        if (d) closedir(d);
        (void)rmdir(path);
    } else {
        (void)unlink(path);
    }
}

static void join(char *out, size_t cap, const char *dir, const char *name)
{
    (void)snprintf(out, cap, "%s/%s", dir, name);
}

/* ------------------------------------------- editable checkpoints */

#define CK_MAX 128
typedef struct edit_ck {
    size_t n;
    char name[CK_MAX][128];
    fp8q_dtype dtype[CK_MAX];
    int ndim[CK_MAX];
    uint64_t shape[CK_MAX][FP8Q_SAFETENSORS_MAX_DIMS];
    uint8_t *data[CK_MAX];
    char *config;
} edit_ck;

static int ck_load(edit_ck *c, const char *fixture)
{
    fp8q_safetensors st;
    fp8q_error e;
    char p[512];
    size_t i, len;
    memset(c, 0, sizeof *c);
    (void)snprintf(p, sizeof p, FIX "%s/model.safetensors", fixture);
    if (fp8q_safetensors_open(&st, p, &e) != FP8Q_OK || st.n_tensors > CK_MAX) {
        printf("    fixture %s: %s\n", fixture, e.message);
        fp8q_safetensors_close(&st);
        return 0;
    }
    for (i = 0; i < st.n_tensors; i++) {
        const fp8q_tensor_info *t = &st.tensors[i];
        (void)snprintf(c->name[i], sizeof c->name[i], "%s", t->name);
        c->dtype[i] = t->dtype, c->ndim[i] = t->ndim;
        memcpy(c->shape[i], t->shape, sizeof c->shape[i]);
        c->data[i] = (uint8_t *)malloc((size_t)t->size + 1);
        memcpy(c->data[i], fp8q_safetensors_bytes(&st, t), (size_t)t->size);
    }
    c->n = st.n_tensors;
    fp8q_safetensors_close(&st);
    (void)snprintf(p, sizeof p, FIX "%s/config.json", fixture);
    c->config = read_all(p, &len);
    return c->config != NULL;
}

static int ck_find(const edit_ck *c, const char *name)
{
    size_t i;
    for (i = 0; i < c->n; i++)
        if (strcmp(c->name[i], name) == 0) return (int)i;
    printf("    edit: no tensor '%s'\n", name);
    return -1;
}

static void ck_drop(edit_ck *c, const char *name)
{
    int i = ck_find(c, name);
    if (i < 0) return;
    free(c->data[i]);
    c->n--;
    memmove(c->name[i], c->name[i + 1], (c->n - (size_t)i) * sizeof c->name[0]);
    memmove(&c->dtype[i], &c->dtype[i + 1], (c->n - (size_t)i) * sizeof c->dtype[0]);
    memmove(&c->ndim[i], &c->ndim[i + 1], (c->n - (size_t)i) * sizeof c->ndim[0]);
    memmove(c->shape[i], c->shape[i + 1], (c->n - (size_t)i) * sizeof c->shape[0]);
    memmove(&c->data[i], &c->data[i + 1], (c->n - (size_t)i) * sizeof c->data[0]);
}

static void ck_put_f32(edit_ck *c, const char *name, float v)
{
    int i = ck_find(c, name);
    uint32_t b;
    if (i < 0) return;
    memcpy(&b, &v, 4);
    c->data[i][0] = (uint8_t)b, c->data[i][1] = (uint8_t)(b >> 8), c->data[i][2] = (uint8_t)(b >> 16),
    c->data[i][3] = (uint8_t)(b >> 24);
}

/* Replaces the first occurrence of `from` in config.json. */
static void ck_config(edit_ck *c, const char *from, const char *to)
{
    char *at = strstr(c->config, from), *n;
    size_t a, lf = strlen(from), lt = strlen(to), len = strlen(c->config);
    if (!at) {
        printf("    config edit: '%s' not found\n", from);
        return;
    }
    a = (size_t)(at - c->config);
    n = (char *)malloc(len - lf + lt + 1);
    memcpy(n, c->config, a);
    memcpy(n + a, to, lt);
    memcpy(n + a + lt, at + lf, len - a - lf + 1);
    free(c->config);
    c->config = n;
}

/* Writes DIR/<weights> and DIR/config.json; returns the bytes written. */
static long ck_save(const edit_ck *c, const char *dir, const char *weights)
{
    fp8q_tensor_out t[CK_MAX];
    fp8q_error e;
    char p[512];
    size_t i;
    struct stat sb;
    (void)mkdir(dir, 0755);
    for (i = 0; i < c->n; i++)
        t[i].name = c->name[i], t[i].dtype = c->dtype[i], t[i].ndim = c->ndim[i], t[i].shape = c->shape[i],
        t[i].data = c->data[i];
    join(p, sizeof p, dir, weights);
    if (fp8q_safetensors_write(p, t, c->n, NULL, NULL, 0, &e) != FP8Q_OK || stat(p, &sb) != 0) {
        printf("    write: %s\n", e.message);
        return -1;
    }
    join(p, sizeof p, dir, "config.json");
    if (!write_text(p, c->config)) return -1;
    return (long)sb.st_size + (long)strlen(c->config);
}

static void ck_free(edit_ck *c)
{
    size_t i;
    for (i = 0; i < c->n; i++) free(c->data[i]);
    free(c->config);
}

/* A model directory: the fixture with edit applied (NULL: unchanged). */
static long mk_model(const char *dir, const char *fixture, void (*edit)(edit_ck *))
{
    edit_ck c;
    long r;
    if (!ck_load(&c, fixture)) return -1;
    if (edit) edit(&c);
    r = ck_save(&c, dir, "model.safetensors");
    ck_free(&c);
    return r;
}

/* ===================================================== input generators */

/* ---- safetensors files built byte by byte */
static void g_empty(hbuf *b) { hb_putn(b, "", 0); }
static void g_prefix5(hbuf *b) { hb_putn(b, "\x10\0\0\0\0", 5); }
static void g_prefix_only(hbuf *b) { hb_le64(b, 0); }
/* a 100-byte file whose header length field is 2^63, 2^40, 2^64 - 1 */
static void g_hlen_2p63(hbuf *b)
{
    hb_le64(b, (uint64_t)1 << 63);
    hb_fill(b, ' ', 92);
}
static void g_hlen_2p40(hbuf *b)
{
    hb_le64(b, (uint64_t)1 << 40);
    hb_fill(b, ' ', 92);
}
static void g_hlen_max(hbuf *b)
{
    hb_le64(b, UINT64_MAX);
    hb_fill(b, ' ', 92);
}
static void g_hlen_plus1(hbuf *b)
{
    hb_le64(b, 93);
    hb_put(b, "{}");
    hb_fill(b, ' ', 90);
}
static void g_hdr_nul(hbuf *b)
{
    hb_le64(b, 4);
    hb_putn(b, "{\0}}", 4);
}
/* invalid UTF-8 in a tensor name: an overlong '/' (C0 AF) */
static void g_name_utf8(hbuf *b)
{
    st_file(b, "{\"a\xC0\xAF\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
}
/* a name that is not valid UTF-8 as a lone continuation byte */
static void g_name_cont(hbuf *b)
{
    st_file(b, "{\"\x80\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
}
/* a 16 MiB tensor name with an unknown dtype: the message must stay short */
static void g_name_16m(hbuf *b)
{
    hbuf h = {NULL, 0, 0};
    hb_put(&h, "{\"");
    hb_rep(&h, "nnnnnnnnnnnnnnnn", 1 << 20);
    hb_put(&h, "\":{\"dtype\":\"F8_E4M3FN\",\"shape\":[1],\"data_offsets\":[0,1]}}");
    st_file(b, h.p, 1);
    free(h.p);
}
static void g_deep_hdr(hbuf *b)
{
    hbuf h = {NULL, 0, 0};
    hb_rep(&h, "{\"a\":", 100000);
    st_file(b, h.p, 0);
    free(h.p);
}

/* ---- JSON texts */
static void g_deep_arrays(hbuf *b)
{
    hb_rep(b, "[", 100000);
    hb_rep(b, "]", 100000);
}
static void g_deep_objects(hbuf *b)
{
    hb_rep(b, "{\"a\":", 100000);
    hb_put(b, "1");
    hb_rep(b, "}", 100000);
}
static void g_deep_unclosed(hbuf *b) { hb_rep(b, "[{\"k\":", 50000); }
/* a 16 MiB string with no closing quote */
static void g_str_16m_open(hbuf *b)
{
    hb_put(b, "{\"key\": \"");
    hb_rep(b, "xxxxxxxxxxxxxxxx", 1 << 20);
}
/* a 16 MiB string that ends in an invalid byte */
static void g_str_16m_bad(hbuf *b)
{
    hb_put(b, "[\"");
    hb_rep(b, "xxxxxxxxxxxxxxxx", 1 << 20);
    hb_put(b, "\xFF\"]");
}
static void g_nul_in_string(hbuf *b) { hb_putn(b, "{\"a\": \"x\0y\"}", 12); }
static void g_nul_after(hbuf *b) { hb_putn(b, "{\"a\": 1}\0", 9); }

/* ---- config.json: a 16 MiB architecture name */
static void g_cfg_16m_arch(hbuf *b)
{
    hb_put(b, "{\"architectures\": [\"");
    hb_rep(b, "ArchArchArchArch", 1 << 20);
    hb_put(b, "\"], \"hidden_size\": 64, \"intermediate_size\": 96, \"num_hidden_layers\": 2, "
              "\"num_attention_heads\": 4, \"vocab_size\": 128}");
}

/* ---- INC config: a 16 MiB mode value */
static void g_inc_16m_mode(hbuf *b)
{
    hb_put(b, "{\"mode\": \"");
    hb_rep(b, "QUANTIZEQUANTIZE", 1 << 20);
    hb_put(b, "\"}");
}
static void g_inc_deep(hbuf *b)
{
    hb_put(b, "{\"blocklist\": ");
    hb_rep(b, "[", 100000);
}

/* ---- INC measurements: 100000 nodes of which the last is a duplicate */
static void g_meas_dup_far(hbuf *b)
{
    char name[64];
    int i;
    hb_put(b, "{\"GlobalRank\": null, \"LocalRank\": null, \"Mode\": \"DynamicRange\", \"Nodes\": {");
    for (i = 0; i < 100000; i++) {
        (void)snprintf(name, sizeof name, "%s\"n%d\": {\"inputs\": [[[1.5]]]}", i ? ", " : "", i);
        hb_put(b, name);
    }
    hb_put(b, ", \"n7\": {\"inputs\": [[[2.0]]]}}}");
}

/* ---- paths (make: builds the input at path; returns its real size in
   bytes, or -1 when this system cannot build it: the row is skipped) */

static long mk_dir(const char *path) { return mkdir(path, 0755) == 0 ? 0 : -1; }
static long mk_nothing(const char *path)
{
    (void)path;
    return 0;
}
static long mk_fifo(const char *path) { return mkfifo(path, 0644) == 0 ? 0 : -1; }
static long mk_devzero(const char *path) { return symlink("/dev/zero", path) == 0 ? 0 : -1; }
static long mk_link_dir(const char *path) { return symlink(".", path) == 0 ? 0 : -1; }
static long mk_dangling(const char *path) { return symlink("no-such-target", path) == 0 ? 0 : -1; }
/* a sparse file of 100 MB + 16 bytes whose header length is 10^8 + 1: over
   FP8Q_MAX_HEADER_SIZE and within the file. Nothing is read or allocated. */
static long mk_sparse_hlen(const char *path)
{
    unsigned char p[8];
    uint64_t h = (uint64_t)FP8Q_MAX_HEADER_SIZE + 1u;
    off_t size = (off_t)FP8Q_MAX_HEADER_SIZE + 16;
    int i, fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644), ok;
    if (fd < 0) return -1;
    for (i = 0; i < 8; i++) p[i] = (unsigned char)(h >> (8 * i));
    ok = write(fd, p, 8) == 8 && ftruncate(fd, size) == 0;
    ok = close(fd) == 0 && ok;
    return ok ? (long)size : -1;
}

/* model directories */
static long with_file(const char *dir, const char *fixture, const char *name, long (*make)(const char *))
{
    char p[512];
    long n = mk_model(dir, fixture, NULL);
    join(p, sizeof p, dir, name);
    if (n < 0) return -1;
    (void)unlink(p);
    return make(p) < 0 ? -1 : n;
}
static long m_no_config(const char *d) { return with_file(d, "tiny-f32", "config.json", mk_nothing); }
static long m_config_dir(const char *d) { return with_file(d, "tiny-f32", "config.json", mk_dir); }
static long m_config_devzero(const char *d) { return with_file(d, "tiny-f32", "config.json", mk_devzero); }
static long m_config_dangling(const char *d) { return with_file(d, "tiny-f32", "config.json", mk_dangling); }
static long m_weights_missing(const char *d) { return with_file(d, "tiny-f32", "model.safetensors", mk_nothing); }
static long m_weights_dir(const char *d) { return with_file(d, "tiny-f32", "model.safetensors", mk_dir); }
static long m_weights_devzero(const char *d) { return with_file(d, "tiny-f32", "model.safetensors", mk_devzero); }
static long m_weights_link_dir(const char *d) { return with_file(d, "tiny-f32", "model.safetensors", mk_link_dir); }
static long m_weights_dangling(const char *d) { return with_file(d, "tiny-f32", "model.safetensors", mk_dangling); }
static long m_weights_fifo(const char *d) { return with_file(d, "tiny-f32", "model.safetensors", mk_fifo); }
static long m_config_fifo(const char *d) { return with_file(d, "tiny-f32", "config.json", mk_fifo); }

static long m_weights_truncated(const char *d)
{
    char p[512], *buf;
    size_t n;
    long r = mk_model(d, "tiny-f32", NULL);
    join(p, sizeof p, d, "model.safetensors");
    buf = read_all(p, &n);
    if (r < 0 || !buf || !write_bytes(p, buf, n / 2)) r = -1;
    free(buf);
    return r;
}
static long m_weights_hlen(const char *d)
{
    char p[512], *buf;
    size_t n;
    long r = mk_model(d, "tiny-f32", NULL);
    join(p, sizeof p, d, "model.safetensors");
    buf = read_all(p, &n);
    if (buf) buf[5] = 0x01; /* header length += 2^40 */
    if (r < 0 || !buf || !write_bytes(p, buf, n)) r = -1;
    free(buf);
    return r;
}

static void e_cfg_inter(edit_ck *c) { ck_config(c, "\"intermediate_size\": 96", "\"intermediate_size\": 80"); }
static void e_cfg_layers(edit_ck *c) { ck_config(c, "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3"); }
static void e_cfg_vocab(edit_ck *c) { ck_config(c, "\"vocab_size\": 128", "\"vocab_size\": 129"); }
/* config.json claims the largest model the limits allow; the weights are tiny */
static void e_cfg_huge(edit_ck *c)
{
    ck_config(c, "\"hidden_size\": 64", "\"hidden_size\": 1048576");
    ck_config(c, "\"intermediate_size\": 96", "\"intermediate_size\": 1048576");
    ck_config(c, "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 4096");
    ck_config(c, "\"vocab_size\": 128", "\"vocab_size\": 4194304");
    ck_config(c, "\"head_dim\": 16", "\"head_dim\": 512");
    ck_config(c, "\"num_attention_heads\": 4", "\"num_attention_heads\": 2048");
    ck_config(c, "\"num_key_value_heads\": 4", "\"num_key_value_heads\": 2048");
}
static void e_cfg_over_limit(edit_ck *c) { ck_config(c, "\"hidden_size\": 64", "\"hidden_size\": 2097152"); }
static void e_cfg_negative(edit_ck *c) { ck_config(c, "\"vocab_size\": 128", "\"vocab_size\": -128"); }
static void e_cfg_nan_eps(edit_ck *c) { ck_config(c, "\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": NaN"); }
static void e_cfg_truncated(edit_ck *c) { c->config[strlen(c->config) / 2] = 0; }
static void e_cfg_not_object(edit_ck *c)
{
    free(c->config);
    c->config = (char *)malloc(8);
    strcpy(c->config, "[64]");
}
static void e_shape(edit_ck *c)
{
    int i = ck_find(c, "model.layers.0.mlp.gate_proj.weight");
    if (i >= 0) c->shape[i][0] = 48, c->shape[i][1] = 128; /* the same bytes, the wrong shape */
}
static void e_dtype_i32(edit_ck *c)
{
    int i = ck_find(c, "model.layers.0.self_attn.q_proj.weight");
    if (i >= 0) c->dtype[i] = FP8Q_I32;
}
static void e_dtype_f8(edit_ck *c)
{
    int i = ck_find(c, "model.layers.1.mlp.up_proj.weight_scale");
    if (i >= 0) c->dtype[i] = FP8Q_I32;
}
static void e_drop_norm(edit_ck *c) { ck_drop(c, "model.layers.1.post_attention_layernorm.weight"); }
static void e_drop_embed(edit_ck *c) { ck_drop(c, "model.embed_tokens.weight"); }
static void e_drop_iscale(edit_ck *c) { ck_drop(c, "model.layers.1.self_attn.o_proj.input_scale"); }
static void e_nan_wscale(edit_ck *c) { ck_put_f32(c, "model.layers.0.self_attn.k_proj.weight_scale", NAN); }
static void e_inf_wscale(edit_ck *c) { ck_put_f32(c, "model.layers.0.mlp.gate_proj.weight_scale", INFINITY); }
static void e_zero_wscale(edit_ck *c) { ck_put_f32(c, "model.layers.1.self_attn.q_proj.weight_scale", 0.0f); }
static void e_neg_wscale(edit_ck *c) { ck_put_f32(c, "model.layers.1.mlp.down_proj.weight_scale", -0.5f); }
static void e_nan_iscale(edit_ck *c) { ck_put_f32(c, "model.layers.0.self_attn.o_proj.input_scale", NAN); }
static void e_inf_iscale(edit_ck *c) { ck_put_f32(c, "model.layers.0.self_attn.v_proj.input_scale", INFINITY); }
static void e_zero_iscale(edit_ck *c) { ck_put_f32(c, "model.layers.1.mlp.down_proj.input_scale", 0.0f); }
static void e_neg_iscale(edit_ck *c) { ck_put_f32(c, "model.layers.0.mlp.up_proj.input_scale", -1.0f); }
static void e_sub_iscale(edit_ck *c) { ck_put_f32(c, "model.layers.0.mlp.up_proj.input_scale", -0.0f); }

static long m_cfg_inter(const char *d) { return mk_model(d, "tiny-f32", e_cfg_inter); }
static long m_cfg_layers(const char *d) { return mk_model(d, "tiny-f32", e_cfg_layers); }
static long m_cfg_vocab(const char *d) { return mk_model(d, "tiny-f32", e_cfg_vocab); }
static long m_cfg_huge(const char *d) { return mk_model(d, "tiny-f32", e_cfg_huge); }
static long m_cfg_over_limit(const char *d) { return mk_model(d, "tiny-f32", e_cfg_over_limit); }
static long m_cfg_negative(const char *d) { return mk_model(d, "tiny-f32", e_cfg_negative); }
static long m_cfg_nan_eps(const char *d) { return mk_model(d, "tiny-f32", e_cfg_nan_eps); }
static long m_cfg_truncated(const char *d) { return mk_model(d, "tiny-f32", e_cfg_truncated); }
static long m_cfg_not_object(const char *d) { return mk_model(d, "tiny-f32", e_cfg_not_object); }
static long m_shape(const char *d) { return mk_model(d, "tiny-f32", e_shape); }
static long m_dtype_i32(const char *d) { return mk_model(d, "tiny-f32", e_dtype_i32); }
static long m_dtype_scale(const char *d) { return mk_model(d, "tiny-fp8-static", e_dtype_f8); }
static long m_drop_norm(const char *d) { return mk_model(d, "tiny-f32", e_drop_norm); }
static long m_drop_embed(const char *d) { return mk_model(d, "tiny-f32", e_drop_embed); }
static long m_drop_iscale(const char *d) { return mk_model(d, "tiny-fp8-static", e_drop_iscale); }
static long m_nan_wscale(const char *d) { return mk_model(d, "tiny-fp8-static", e_nan_wscale); }
static long m_inf_wscale(const char *d) { return mk_model(d, "tiny-fp8-static", e_inf_wscale); }
static long m_zero_wscale(const char *d) { return mk_model(d, "tiny-fp8-static", e_zero_wscale); }
static long m_neg_wscale(const char *d) { return mk_model(d, "tiny-fp8-static", e_neg_wscale); }
static long m_nan_iscale(const char *d) { return mk_model(d, "tiny-fp8-static", e_nan_iscale); }
static long m_inf_iscale(const char *d) { return mk_model(d, "tiny-fp8-static", e_inf_iscale); }
static long m_zero_iscale(const char *d) { return mk_model(d, "tiny-fp8-static", e_zero_iscale); }
static long m_neg_iscale(const char *d) { return mk_model(d, "tiny-fp8-static", e_neg_iscale); }
static long m_negzero_iscale(const char *d) { return mk_model(d, "tiny-fp8-static", e_sub_iscale); }

/* sharded checkpoints: the tiny-f32 weights in shard.safetensors and an
   index.json whose weight_map maps every tensor there except as edited */
static long sharded(const char *dir, const char *bad_name, const char *bad_shard, const char *raw_index)
{
    edit_ck c;
    hbuf ix = {NULL, 0, 0};
    char p[512];
    size_t i;
    long n;
    if (!ck_load(&c, "tiny-f32")) return -1;
    n = ck_save(&c, dir, "shard.safetensors");
    hb_put(&ix, "{\"metadata\": {\"total_size\": 1}, \"weight_map\": {");
    for (i = 0; i < c.n; i++) {
        hb_put(&ix, i ? ", \"" : "\"");
        hb_put(&ix, c.name[i]);
        hb_put(&ix, "\": \"");
        hb_put(&ix, bad_name && strcmp(c.name[i], bad_name) == 0 ? bad_shard : "shard.safetensors");
        hb_put(&ix, "\"");
    }
    hb_put(&ix, "}}");
    join(p, sizeof p, dir, "model.safetensors.index.json");
    if (n < 0 || !write_text(p, raw_index ? raw_index : ix.p)) n = -1;
    n = n < 0 ? -1 : n + (long)strlen(raw_index ? raw_index : ix.p);
    free(ix.p);
    ck_free(&c);
    return n;
}
static long k_dotdot(const char *d) { return sharded(d, "model.norm.weight", "../x.safetensors", NULL); }
static long k_dotdot_mid(const char *d) { return sharded(d, "lm_head.weight", "a..b", NULL); }
static long k_absolute(const char *d) { return sharded(d, "model.norm.weight", "/etc/passwd", NULL); }
static long k_subdir(const char *d) { return sharded(d, "model.norm.weight", "sub/shard.safetensors", NULL); }
static long k_backslash(const char *d) { return sharded(d, "model.norm.weight", "..\\\\x", NULL); }
static long k_nul(const char *d) { return sharded(d, "model.norm.weight", "shard\\u0000.safetensors", NULL); }
static long k_missing_shard(const char *d) { return sharded(d, "model.norm.weight", "other.safetensors", NULL); }
static long k_empty_map(const char *d) { return sharded(d, NULL, NULL, "{\"weight_map\": {}}"); }
static long k_not_json(const char *d)
{
    return sharded(d, NULL, NULL, "{\"weight_map\": {\"a\": \"shard.safetensors\"");
}
static long k_not_in_shard(const char *d)
{
    return sharded(d, NULL, NULL, "{\"weight_map\": {\"no.such.tensor\": \"shard.safetensors\"}}");
}
static long k_index_dir(const char *d)
{
    char p[512];
    long n = sharded(d, NULL, NULL, "{}");
    join(p, sizeof p, d, "model.safetensors.index.json");
    (void)unlink(p);
    return n < 0 || mkdir(p, 0755) != 0 ? -1 : n;
}
static long k_shard_devzero(const char *d)
{
    char p[512];
    long n = sharded(d, NULL, NULL, NULL);
    join(p, sizeof p, d, "shard.safetensors");
    (void)unlink(p);
    return n < 0 || symlink("/dev/zero", p) != 0 ? -1 : n;
}
static long m_index_dotdot(const char *d)
{
    char p[512];
    long n = sharded(d, "model.norm.weight", "../x", NULL);
    join(p, sizeof p, d, "config.json");
    return n < 0 || copy_file(FIX "tiny-f32/config.json", p) < 0 ? -1 : n;
}

/* ============================================================ the table */

typedef enum hostile_kind {
    K_ST,       /* fp8q_safetensors_open on a file: text is the JSON header (+ n zero data bytes) */
    K_CKPT,     /* fp8q_checkpoint_open on a directory */
    K_MODEL,    /* fp8q_model_load on a directory (quant auto) */
    K_CONFIG,   /* fp8q_llama_config_load on a file */
    K_JSON,     /* fp8q_json_parse (flags 0) on the bytes */
    K_INC_CFG,  /* fp8q_inc_config_load on a file */
    K_INC_MEAS, /* fp8q_inc_measure_load on a file */
    K_INC_NODE  /* fp8q_inc_measure_load, then fp8q_inc_node_scales (MAXABS_HW, Gaudi2) of op n */
} hostile_kind;

static const char *const KIND_NAME[] = {"safetensors", "checkpoint", "model",           "config.json",
                                        "json",        "INC config", "INC measurement", "INC node scales"};

#define H_RSS   1u /* run first; peak RSS growth < 4 MiB, < 1 s */
#define H_NOCAP 2u /* not under the address-space cap (the reason is next to the row) */

typedef struct hostile_row {
    const char *what;
    hostile_kind kind;
    const char *text;            /* the input's bytes (K_ST: the header), or NULL */
    void (*gen)(hbuf *b);        /* or a generator of the bytes */
    long (*make)(const char *p); /* or a builder of the file or directory at p */
    size_t n;                    /* K_ST text: data bytes after the header; K_INC_NODE: 0 linear, 1 matmul */
    fp8q_result code;            /* expected result */
    const char *frag;            /* expected message fragment */
    unsigned flags;
} hostile_row;

#define TXT(s)      s, NULL, NULL, 0
#define HDR(s, n)   s, NULL, NULL, n
#define NODE(s, op) s, NULL, NULL, op /* K_INC_NODE: the measurement file; op 0 linear, 1 matmul */
#define GEN(f)      NULL, f, NULL, 0
#define MK(f)       NULL, NULL, f, 0

/* fp8q_safetensors_open's words for paths that are not regular files (it
   maps files on POSIX; with FP8Q_NO_MMAP it reads them whole with fread) */
#ifdef FP8Q_NO_MMAP
#define ST_ISDIR   "is not a regular file"
#define ST_NOTREG  "is not a regular file"
#define ST_NOENT   "cannot open"
#define SPARSE_RSS 0 /* read whole: its memory is the file's size */
#else
#define ST_ISDIR   "is a directory, not a safetensors file"
#define ST_NOTREG  "is not a regular file"
#define ST_NOENT   "cannot open (no such file or directory)"
#define SPARSE_RSS H_RSS
#endif

#define U8T(o0, o1) "{\"dtype\":\"U8\",\"shape\":[" #o1 "],\"data_offsets\":[" #o0 "," #o1 "]}"
#define MEAS(nodes) "{\"GlobalRank\": null, \"LocalRank\": null, \"Mode\": \"DynamicRange\", \"Nodes\": {" nodes "}}"

static const hostile_row ROWS[] = {
    /* ---------------------------------------------------- safetensors */
    {"empty file", K_ST, GEN(g_empty), FP8Q_ERR_PARSE, "file is 0 bytes, too short for the 8-byte header length",
     H_RSS},
    {"truncated length prefix (5 bytes)", K_ST, GEN(g_prefix5), FP8Q_ERR_PARSE, "file is 5 bytes, too short", H_RSS},
    {"header length 0: empty header", K_ST, GEN(g_prefix_only), FP8Q_ERR_PARSE,
     "JSON header: expected a JSON value (object, array, string, number, true, false or null), got end of input",
     H_RSS},
    {"header length 2^63 on a 100-byte file", K_ST, GEN(g_hlen_2p63), FP8Q_ERR_PARSE,
     "header length 9223372036854775808 (little-endian u64 at byte 0) exceeds the 92 bytes after it", H_RSS},
    {"header length 2^40 on a 100-byte file", K_ST, GEN(g_hlen_2p40), FP8Q_ERR_PARSE,
     "header length 1099511627776 (little-endian u64 at byte 0) exceeds the 92 bytes after it", H_RSS},
    {"header length 2^64 - 1", K_ST, GEN(g_hlen_max), FP8Q_ERR_PARSE, "header length 18446744073709551615", H_RSS},
    {"header one byte longer than the file", K_ST, GEN(g_hlen_plus1), FP8Q_ERR_PARSE,
     "header length 93 (little-endian u64 at byte 0) exceeds the 92 bytes after it", H_RSS},
    {"header length 10^8 + 1 in a sparse 100 MB file", K_ST, MK(mk_sparse_hlen), FP8Q_ERR_LIMIT,
     "header length 100000001 exceeds FP8Q_MAX_HEADER_SIZE (100000000)", SPARSE_RSS},
    {"header is not JSON", K_ST, HDR("hello, world", 0), FP8Q_ERR_PARSE, "JSON header: expected a JSON value", H_RSS},
    {"header is an array", K_ST, HDR("[1, 2]", 0), FP8Q_ERR_PARSE, "the header is an array, not an object", H_RSS},
    {"header holds a NUL byte", K_ST, GEN(g_hdr_nul), FP8Q_ERR_PARSE,
     "JSON header: expected a string key or '}' after '{', got byte 0x00", H_RSS},
    {"invalid UTF-8 in a name (overlong)", K_ST, GEN(g_name_utf8), FP8Q_ERR_PARSE,
     "JSON header: invalid UTF-8 in string: overlong encoding", H_RSS},
    {"invalid UTF-8 in a name (lone continuation byte)", K_ST, GEN(g_name_cont), FP8Q_ERR_PARSE,
     "JSON header: invalid UTF-8 in string: unexpected continuation byte", H_RSS},
    {"NUL (\\u0000) in a tensor name", K_ST,
     HDR("{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1), FP8Q_ERR_PARSE,
     "tensor name 'a' contains a NUL character (\\u0000)", H_RSS},
    {"shape product overflows u64 ([2^32, 2^32])", K_ST,
     HDR("{\"w\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 0), FP8Q_ERR_PARSE,
     "shape [4294967296, 4294967296] has more than 2^64 - 1 elements", H_RSS},
    {"shape product overflows u64 (8 dims of 2^8 + 1 dim 2^9)", K_ST,
     HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[256,256,256,256,256,256,256,512],\"data_offsets\":[0,4]}}", 4),
     FP8Q_ERR_PARSE, "has more than 2^64 - 1 elements", H_RSS},
    {"shape x dtype bits overflow u64 (2^61 F32)", K_ST,
     HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[2305843009213693952],\"data_offsets\":[0,8]}}", 8), FP8Q_ERR_PARSE,
     "needs more than 2^64 - 1 bits", H_RSS},
    {"shape entry 2^63 (beyond int64)", K_ST,
     HDR("{\"w\":{\"dtype\":\"U8\",\"shape\":[9223372036854775808],\"data_offsets\":[0,1]}}", 1), FP8Q_ERR_LIMIT,
     "'w': shape[0] does not fit in int64", H_RSS},
    {"shape entry negative", K_ST, HDR("{\"w\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}}", 1),
     FP8Q_ERR_PARSE, "'w': shape[0] is negative", H_RSS},
    {"shape entry 1.5", K_ST, HDR("{\"w\":{\"dtype\":\"U8\",\"shape\":[1.5],\"data_offsets\":[0,1]}}", 1),
     FP8Q_ERR_PARSE, "'w': shape[0] is not an integer", H_RSS},
    {"shape with 9 dimensions", K_ST,
     HDR("{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1), FP8Q_ERR_LIMIT,
     "shape has 9 dimensions, more than FP8Q_SAFETENSORS_MAX_DIMS (8)", H_RSS},
    {"data_offsets end 2^64 - 1", K_ST,
     HDR("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,18446744073709551615]}}", 1), FP8Q_ERR_LIMIT,
     "'w': data_offsets[1] does not fit in int64", H_RSS},
    {"data_offsets begin 2^40, end 2^40 + 1 on a tiny file", K_ST,
     HDR("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1099511627776,1099511627777]}}", 1), FP8Q_ERR_PARSE,
     "the first tensor starts at byte 1099511627776, not 0 (gap)", H_RSS},
    {"data_offsets end before begin", K_ST, HDR("{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8),
     FP8Q_ERR_PARSE, "data_offsets [8, 4] end before they begin", H_RSS},
    {"data_offsets of 3 integers", K_ST, HDR("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 1),
     FP8Q_ERR_PARSE, "data_offsets must be an array of 2 integers, got an array of 3", H_RSS},
    {"overlapping tensors", K_ST,
     HDR("{\"a\":" U8T(0, 8) ",\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[4,12]}}", 12), FP8Q_ERR_PARSE,
     "tensor 'a' ends at byte 8 but tensor 'b' starts at byte 4 (overlap)", H_RSS},
    {"two tensors on the same bytes", K_ST, HDR("{\"a\":" U8T(0, 8) ",\"b\":" U8T(0, 8) "}", 8), FP8Q_ERR_PARSE,
     "(overlap)", H_RSS},
    {"gap between tensors", K_ST,
     HDR("{\"a\":" U8T(0, 4) ",\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,12]}}", 12), FP8Q_ERR_PARSE,
     "tensor 'a' ends at byte 4 but tensor 'b' starts at byte 8 (gap)", H_RSS},
    {"first tensor not at offset 0", K_ST, HDR("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}", 8),
     FP8Q_ERR_PARSE, "the first tensor starts at byte 4, not 0 (gap)", H_RSS},
    {"tensor past the end of the file", K_ST, HDR("{\"a\":" U8T(0, 64) "}", 16), FP8Q_ERR_PARSE,
     "'a': ends at byte 64, beyond the data section of 16 bytes", H_RSS},
    {"bytes after the last tensor", K_ST, HDR("{\"a\":" U8T(0, 4) "}", 6), FP8Q_ERR_PARSE,
     "the tensors end at byte 4 but the data section has 6 bytes (the rest belongs to no tensor)", H_RSS},
    {"unknown dtype", K_ST, HDR("{\"w\":{\"dtype\":\"F8_E4M3FN\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1),
     FP8Q_ERR_PARSE, "'w': unknown dtype 'F8_E4M3FN'", H_RSS},
    {"dtype in lower case", K_ST, HDR("{\"w\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
     FP8Q_ERR_PARSE, "unknown dtype 'f32'", H_RSS},
    {"dtype is a number", K_ST, HDR("{\"w\":{\"dtype\":8,\"shape\":[1],\"data_offsets\":[0,1]}}", 1), FP8Q_ERR_PARSE,
     "'w': dtype is a number, not a string", H_RSS},
    {"size != shape x dtype (F32 [2] in 4 bytes)", K_ST,
     HDR("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4), FP8Q_ERR_PARSE,
     "'w': data_offsets [0, 4] hold 4 bytes but shape [2] of F32 needs 8", H_RSS},
    {"F4 with an odd element count", K_ST, HDR("{\"w\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2),
     FP8Q_ERR_PARSE, "'w': shape [3] of F4 is 12 bits, not a whole number of bytes", H_RSS},
    {"unknown tensor field", K_ST,
     HDR("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"offset\":0}}", 1), FP8Q_ERR_PARSE,
     "'w': unknown field 'offset' (allowed: dtype, shape, data_offsets)", H_RSS},
    {"missing data_offsets", K_ST, HDR("{\"w\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1), FP8Q_ERR_PARSE,
     "'w': missing field 'data_offsets'", H_RSS},
    {"duplicate tensor name", K_ST, HDR("{\"a\":" U8T(0, 1) ",\"a\":" U8T(1, 2) "}", 2), FP8Q_ERR_PARSE,
     "JSON header: duplicate key in object", H_RSS},
    {"__metadata__ value not a string", K_ST, HDR("{\"__metadata__\":{\"format\":1}}", 0), FP8Q_ERR_PARSE,
     "__metadata__ value for 'format' is a number, not a string", H_RSS},
    {"header nested 100000 deep", K_ST, GEN(g_deep_hdr), FP8Q_ERR_LIMIT,
     "JSON header: nesting deeper than FP8Q_MAX_JSON_DEPTH", 0},
    {"16 MiB tensor name with an unknown dtype", K_ST, GEN(g_name_16m), FP8Q_ERR_PARSE, "unknown dtype 'F8_E4M3FN'", 0},
    {"path is a directory", K_ST, MK(mk_dir), FP8Q_ERR_IO, ST_ISDIR, H_RSS},
    {"path is a symlink to /dev/zero", K_ST, MK(mk_devzero), FP8Q_ERR_IO, ST_NOTREG, H_RSS},
    {"path is a dangling symlink", K_ST, MK(mk_dangling), FP8Q_ERR_IO, ST_NOENT, H_RSS},
    {"path does not exist", K_ST, MK(mk_nothing), FP8Q_ERR_IO, ST_NOENT, H_RSS},

    /* -------------------------------------------------- model directories */
    {"config.json missing", K_MODEL, MK(m_no_config), FP8Q_ERR_IO, "config.json: cannot open", 0},
    {"config.json is a directory", K_MODEL, MK(m_config_dir), FP8Q_ERR_IO, "config.json: is not a regular file", 0},
    {"config.json is a dangling symlink", K_MODEL, MK(m_config_dangling), FP8Q_ERR_IO, "config.json: cannot open", 0},
    /* a device is refused before anything is read */
    {"config.json is a symlink to /dev/zero", K_MODEL, MK(m_config_devzero), FP8Q_ERR_IO,
     "config.json: is not a regular file", 0},
    {"config.json truncated", K_MODEL, MK(m_cfg_truncated), FP8Q_ERR_PARSE, "config.json: unterminated string", 0},
    {"config.json is an array", K_MODEL, MK(m_cfg_not_object), FP8Q_ERR_PARSE,
     "config.json: the top level must be an object, got an array", 0},
    {"config.json rms_norm_eps NaN (not JSON)", K_MODEL, MK(m_cfg_nan_eps), FP8Q_ERR_PARSE,
     "config.json: NaN is not valid JSON", 0},
    {"config.json vocab_size negative", K_MODEL, MK(m_cfg_negative), FP8Q_ERR_PARSE,
     "'vocab_size' must be a positive integer", 0},
    {"config.json hidden_size 2^21 (over the limit)", K_MODEL, MK(m_cfg_over_limit), FP8Q_ERR_LIMIT,
     "'hidden_size' is above the limit 1048576, got 2097152", 0},
    {"config.json claims the largest model, weights are tiny", K_MODEL, MK(m_cfg_huge), FP8Q_ERR_PARSE,
     "'model.embed_tokens.weight' has shape [128, 64], expected [4194304, 1048576]", 0},
    {"config/weights mismatch: intermediate_size", K_MODEL, MK(m_cfg_inter), FP8Q_ERR_PARSE, "expected [80, 64]", 0},
    {"config/weights mismatch: num_hidden_layers", K_MODEL, MK(m_cfg_layers), FP8Q_ERR_PARSE,
     "missing tensor 'model.layers.2.", 0},
    {"config/weights mismatch: vocab_size", K_MODEL, MK(m_cfg_vocab), FP8Q_ERR_PARSE,
     "'model.embed_tokens.weight' has shape [128, 64], expected [129, 64]", 0},
    {"weight shape vs config", K_MODEL, MK(m_shape), FP8Q_ERR_PARSE, "has shape [48, 128], expected [96, 64]", 0},
    {"weight of dtype I32", K_MODEL, MK(m_dtype_i32), FP8Q_ERR_PARSE, "has dtype I32, expected F32, BF16 or F16", 0},
    {"weight_scale of dtype I32", K_MODEL, MK(m_dtype_scale), FP8Q_ERR_PARSE,
     "'model.layers.1.mlp.up_proj.weight_scale' has dtype I32", 0},
    {"missing tensor (norm)", K_MODEL, MK(m_drop_norm), FP8Q_ERR_PARSE,
     "missing tensor 'model.layers.1.post_attention_layernorm.weight'", 0},
    {"missing tensor (embeddings)", K_MODEL, MK(m_drop_embed), FP8Q_ERR_PARSE,
     "missing tensor 'model.embed_tokens.weight'", 0},
    {"missing input_scale (static)", K_MODEL, MK(m_drop_iscale), FP8Q_ERR_PARSE,
     "missing tensor 'model.layers.1.self_attn.o_proj.input_scale'", 0},
    {"weight_scale NaN", K_MODEL, MK(m_nan_wscale), FP8Q_ERR_PARSE,
     "'model.layers.0.self_attn.k_proj.weight_scale' element 0 is nan; scales must be finite and > 0", 0},
    {"weight_scale Inf", K_MODEL, MK(m_inf_wscale), FP8Q_ERR_PARSE,
     "'model.layers.0.mlp.gate_proj.weight_scale' element 0 is inf", 0},
    {"weight_scale 0", K_MODEL, MK(m_zero_wscale), FP8Q_ERR_PARSE,
     "'model.layers.1.self_attn.q_proj.weight_scale' element 0 is 0", 0},
    {"weight_scale negative", K_MODEL, MK(m_neg_wscale), FP8Q_ERR_PARSE,
     "'model.layers.1.mlp.down_proj.weight_scale' element 0 is -0.5", 0},
    {"input_scale NaN", K_MODEL, MK(m_nan_iscale), FP8Q_ERR_PARSE,
     "'model.layers.0.self_attn.o_proj.input_scale' element 0 is nan", 0},
    {"input_scale Inf", K_MODEL, MK(m_inf_iscale), FP8Q_ERR_PARSE,
     "'model.layers.0.self_attn.v_proj.input_scale' element 0 is inf", 0},
    {"input_scale 0", K_MODEL, MK(m_zero_iscale), FP8Q_ERR_PARSE,
     "'model.layers.1.mlp.down_proj.input_scale' element 0 is 0", 0},
    {"input_scale negative", K_MODEL, MK(m_neg_iscale), FP8Q_ERR_PARSE,
     "'model.layers.0.mlp.up_proj.input_scale' element 0 is -1", 0},
    {"input_scale -0", K_MODEL, MK(m_negzero_iscale), FP8Q_ERR_PARSE,
     "'model.layers.0.mlp.up_proj.input_scale' element 0 is -0", 0},
    {"model.safetensors missing", K_MODEL, MK(m_weights_missing), FP8Q_ERR_IO,
     "no model.safetensors or model.safetensors.index.json in", 0},
    {"model.safetensors is a directory", K_MODEL, MK(m_weights_dir), FP8Q_ERR_IO, "model.safetensors: " ST_ISDIR, 0},
    {"model.safetensors is a symlink to /dev/zero", K_MODEL, MK(m_weights_devzero), FP8Q_ERR_IO,
     "model.safetensors: " ST_NOTREG, 0},
    {"model.safetensors is a symlink to a directory", K_MODEL, MK(m_weights_link_dir), FP8Q_ERR_IO,
     "model.safetensors: " ST_ISDIR, 0},
    {"model.safetensors is a dangling symlink", K_MODEL, MK(m_weights_dangling), FP8Q_ERR_IO,
     "no model.safetensors or model.safetensors.index.json in", 0},
    {"model.safetensors truncated to half", K_MODEL, MK(m_weights_truncated), FP8Q_ERR_PARSE,
     ", beyond the data section of ", 0},
    {"model.safetensors header length + 2^40", K_MODEL, MK(m_weights_hlen), FP8Q_ERR_PARSE,
     "model.safetensors: header length", 0},
    {"index.json maps a tensor to \"../x\" (model)", K_MODEL, MK(m_index_dotdot), FP8Q_ERR_PARSE,
     "model.safetensors.index.json: weight_map: shard name \"../x\" of tensor \"model.norm.weight\" must be a plain "
     "file name",
     0},

    /* -------------------------------------------- sharded checkpoints */
    {"index.json shard \"../x.safetensors\"", K_CKPT, MK(k_dotdot), FP8Q_ERR_PARSE,
     "model.safetensors.index.json: weight_map: shard name \"../x.safetensors\" of tensor \"model.norm.weight\" "
     "must be a plain file name",
     0},
    {"index.json shard \"a..b\"", K_CKPT, MK(k_dotdot_mid), FP8Q_ERR_PARSE, "must be a plain file name", 0},
    {"index.json shard \"/etc/passwd\"", K_CKPT, MK(k_absolute), FP8Q_ERR_PARSE, "must be a plain file name", 0},
    {"index.json shard in a subdirectory", K_CKPT, MK(k_subdir), FP8Q_ERR_PARSE, "must be a plain file name", 0},
    {"index.json shard with a backslash", K_CKPT, MK(k_backslash), FP8Q_ERR_PARSE, "must be a plain file name", 0},
    {"index.json shard with a NUL", K_CKPT, MK(k_nul), FP8Q_ERR_PARSE, "must be a plain file name", 0},
    {"index.json shard that does not exist", K_CKPT, MK(k_missing_shard), FP8Q_ERR_IO, "other.safetensors: " ST_NOENT,
     0},
    {"index.json shard is a symlink to /dev/zero", K_CKPT, MK(k_shard_devzero), FP8Q_ERR_IO,
     "shard.safetensors: " ST_NOTREG, 0},
    {"index.json tensor not in its shard", K_CKPT, MK(k_not_in_shard), FP8Q_ERR_PARSE,
     "weight_map: tensor 'no.such.tensor' is not in its shard 'shard.safetensors'", 0},
    {"index.json weight_map empty", K_CKPT, MK(k_empty_map), FP8Q_ERR_PARSE, "'weight_map' is empty", 0},
    {"index.json not JSON", K_CKPT, MK(k_not_json), FP8Q_ERR_PARSE,
     "model.safetensors.index.json: expected ',' or '}' after object member, got end of input", 0},
    {"index.json is a directory", K_CKPT, MK(k_index_dir), FP8Q_ERR_IO, "is not a regular file", 0},

    /* ----------------------------------------------------------- JSON */
    {"arrays nested 100000 deep", K_JSON, GEN(g_deep_arrays), FP8Q_ERR_LIMIT, "nesting deeper than FP8Q_MAX_JSON_DEPTH",
     0},
    {"objects nested 100000 deep", K_JSON, GEN(g_deep_objects), FP8Q_ERR_LIMIT,
     "nesting deeper than FP8Q_MAX_JSON_DEPTH", 0},
    {"100000 open containers, never closed", K_JSON, GEN(g_deep_unclosed), FP8Q_ERR_LIMIT,
     "nesting deeper than FP8Q_MAX_JSON_DEPTH", 0},
    {"16 MiB string without its closing quote", K_JSON, GEN(g_str_16m_open), FP8Q_ERR_PARSE,
     "unterminated string (no closing '\"' before end of input) starting at line 1, column 9 (byte 8)", 0},
    {"16 MiB string ending in byte 0xFF", K_JSON, GEN(g_str_16m_bad), FP8Q_ERR_PARSE,
     "invalid UTF-8 in string: byte beyond U+10FFFF, got byte 0xFF at line 1, column 16777219 (byte 16777218)", 0},
    {"invalid UTF-8: overlong NUL (C0 80)", K_JSON, TXT("[\"\xC0\x80\"]"), FP8Q_ERR_PARSE,
     "invalid UTF-8 in string: overlong encoding, got byte 0xC0", 0},
    {"invalid UTF-8: truncated sequence", K_JSON, TXT("[\"\xE2\x82\"]"), FP8Q_ERR_PARSE,
     "invalid UTF-8 in string: expected a continuation byte", 0},
    {"invalid UTF-8: encoded surrogate (ED A0 80)", K_JSON, TXT("[\"\xED\xA0\x80\"]"), FP8Q_ERR_PARSE,
     "invalid UTF-8 in string: encoded surrogate U+D800-U+DFFF", 0},
    {"invalid UTF-8: above U+10FFFF (F4 90 80 80)", K_JSON, TXT("[\"\xF4\x90\x80\x80\"]"), FP8Q_ERR_PARSE,
     "invalid UTF-8 in string: code point beyond U+10FFFF", 0},
    {"invalid UTF-8 outside a string", K_JSON, TXT("[1, \xC3\xA9]"), FP8Q_ERR_PARSE,
     "expected a value after ',' in array, got byte 0xC3", 0},
    {"lone high surrogate escape", K_JSON, TXT("[\"\\ud800\"]"), FP8Q_ERR_PARSE,
     "unpaired high surrogate escape in string", 0},
    {"lone low surrogate escape", K_JSON, TXT("[\"\\udc00x\"]"), FP8Q_ERR_PARSE, "unpaired low surrogate", 0},
    {"high surrogate followed by a non-surrogate escape", K_JSON, TXT("[\"\\ud800\\u0041\"]"), FP8Q_ERR_PARSE,
     "unpaired high surrogate escape in string", 0},
    {"NUL byte inside a string", K_JSON, GEN(g_nul_in_string), FP8Q_ERR_PARSE,
     "control character in string (must be escaped as \\n, \\t, \\u00XX, ...), got byte 0x00", 0},
    {"NUL byte after the value", K_JSON, GEN(g_nul_after), FP8Q_ERR_PARSE,
     "unexpected data after the JSON value (expected end of input), got byte 0x00", 0},
    {"Infinity without FP8Q_JSON_ALLOW_NONFINITE", K_JSON, TXT("{\"s\": Infinity}"), FP8Q_ERR_PARSE,
     "Infinity is not valid JSON (Python writes it for inf; parse with FP8Q_JSON_ALLOW_NONFINITE to accept it)", 0},
    {"NaN without FP8Q_JSON_ALLOW_NONFINITE", K_JSON, TXT("[NaN]"), FP8Q_ERR_PARSE, "NaN is not valid JSON", 0},
    {"-Infinity without FP8Q_JSON_ALLOW_NONFINITE", K_JSON, TXT("[-Infinity]"), FP8Q_ERR_PARSE,
     "Infinity is not valid JSON", 0},
    {"byte order mark", K_JSON, TXT("\xEF\xBB\xBF{}"), FP8Q_ERR_PARSE, "a byte order mark (U+FEFF) is not allowed", 0},
    {"duplicate key after unescaping", K_JSON, TXT("{\"a\": 1, \"\\u0061\": 2}"), FP8Q_ERR_PARSE,
     "duplicate key in object", 0},
    {"trailing comma", K_JSON, TXT("[1, 2,]"), FP8Q_ERR_PARSE, "trailing comma: expected a value after ','", 0},
    {"two values", K_JSON, TXT("{} {}"), FP8Q_ERR_PARSE,
     "unexpected data after the JSON value (expected end of input), got '{'", 0},
    {"empty input", K_JSON, TXT(""), FP8Q_ERR_PARSE,
     "expected a JSON value (object, array, string, number, true, false or null), got end of input", 0},
    {"bare control character in a string", K_JSON, TXT("[\"a\tb\"]"), FP8Q_ERR_PARSE,
     "control character in string (must be escaped as \\n, \\t, \\u00XX, ...), got byte 0x09", 0},

    /* ---------------------------------------------------- config.json */
    {"config.json: 16 MiB architecture name", K_CONFIG, GEN(g_cfg_16m_arch), FP8Q_ERR_UNSUPPORTED,
     "...\" is not supported (LlamaForCausalLM or MistralForCausalLM)", 0},
    {"config.json: nested 100000 deep", K_CONFIG, GEN(g_deep_arrays), FP8Q_ERR_LIMIT,
     "nesting deeper than FP8Q_MAX_JSON_DEPTH", 0},
    /* FIFOs and devices are refused before they are opened (a FIFO would block
       the open, a device can be endless) */
    {"model.safetensors is a FIFO", K_MODEL, MK(m_weights_fifo), FP8Q_ERR_IO,
     "model.safetensors: is not a regular file", 0},
    {"config.json is a FIFO", K_MODEL, MK(m_config_fifo), FP8Q_ERR_IO, "config.json: is not a regular file", 0},
    {"safetensors path is a FIFO", K_ST, MK(mk_fifo), FP8Q_ERR_IO, "is not a regular file", 0},
    {"config.json: a FIFO", K_CONFIG, MK(mk_fifo), FP8Q_ERR_IO, "is not a regular file", 0},
    {"INC config: a FIFO", K_INC_CFG, MK(mk_fifo), FP8Q_ERR_IO, "QUANT PACKAGE: Can't open ", 0},
    /* 2^53 + 1 would round to 2^53 as a double: refused, checked exactly */
    {"INC measurement: integer 2^53 + 1", K_INC_MEAS, TXT(MEAS("\"a\": {\"inputs\": [[[9007199254740993]]]}")),
     FP8Q_ERR_LIMIT, "integer literal beyond +-2^53", 0},
    {"INC measurement: a FIFO", K_INC_MEAS, MK(mk_fifo), FP8Q_ERR_IO, "is not a regular file", 0},
    {"INC measurement: a symlink to /dev/zero", K_INC_MEAS, MK(mk_devzero), FP8Q_ERR_IO, "is not a regular file", 0},

    {"config.json: missing file", K_CONFIG, MK(mk_nothing), FP8Q_ERR_IO, "cannot open", 0},
    {"config.json: a directory", K_CONFIG, MK(mk_dir), FP8Q_ERR_IO, "is not a regular file", 0},

    /* ----------------------------------------------------- INC config */
    {"INC config: not an object", K_INC_CFG, TXT("[\"QUANTIZE\"]"), FP8Q_ERR_PARSE,
     "QUANT_CONFIG must hold a JSON object, got an array", 0},
    {"INC config: wrong enum value", K_INC_CFG, TXT("{\"mode\": \"QUANTISE\"}"), FP8Q_ERR_PARSE,
     "Invalid 'mode' value in custom config ('QUANTISE'). Enter one of ['NONE', 'QUANTIZE', 'MEASURE'", 0},
    {"INC config: number for an enum", K_INC_CFG, TXT("{\"fp8_config\": 143}"), FP8Q_ERR_PARSE,
     "Invalid 'fp8_config' value in custom config ('143')", 0},
    {"INC config: unsupported regex (lookahead)", K_INC_CFG, TXT("{\"blocklist\": {\"names\": [\"lm_head(?=x)\"]}}"),
     FP8Q_ERR_UNSUPPORTED, "(?=", 0},
    {"INC config: invalid regex", K_INC_CFG, TXT("{\"allowlist\": {\"names\": [\"a**\"]}}"), FP8Q_ERR_PARSE,
     "multiple repeat", 0},
    {"INC config: scale_method dict without default", K_INC_CFG, TXT("{\"scale_method\": {\"nodes\": {}}}"),
     FP8Q_ERR_PARSE, "Scale method config should contain a default scale method.", 0},
    {"INC config: unknown key with an object", K_INC_CFG, TXT("{\"Foo\": {\"a\": 1}}"), FP8Q_ERR_PARSE,
     "unknown key 'Foo' with an object value: INC raises KeyError merging it into its defaults", 0},
    {"INC config: not JSON", K_INC_CFG, TXT("{\"mode\": \"QUANTIZE\",}"), FP8Q_ERR_PARSE, "QUANT PACKAGE: Can't load ",
     0},
    {"INC config: 16 MiB enum value", K_INC_CFG, GEN(g_inc_16m_mode), FP8Q_ERR_PARSE,
     "Invalid 'mode' value in custom config ('QUANTIZEQUANTIZE", 0},
    {"INC config: nested 100000 deep", K_INC_CFG, GEN(g_inc_deep), FP8Q_ERR_LIMIT,
     "nesting deeper than FP8Q_MAX_JSON_DEPTH", 0},
    {"INC config: a directory", K_INC_CFG, MK(mk_dir), FP8Q_ERR_IO, "QUANT PACKAGE: Can't open ", 0},
    {"INC config: missing file", K_INC_CFG, MK(mk_nothing), FP8Q_ERR_IO, "QUANT PACKAGE: Can't open ", 0},

    /* ----------------------------------------------- INC measurements */
    {"INC measurement: missing Nodes", K_INC_MEAS, TXT("{\"Mode\": \"DynamicRange\"}"), FP8Q_ERR_PARSE,
     "INC measurement file: missing \"Nodes\"", 0},
    {"INC measurement: missing Mode", K_INC_MEAS, TXT("{\"Nodes\": {}}"), FP8Q_ERR_PARSE,
     "INC measurement file: missing \"Mode\"", 0},
    {"INC measurement: Mode Shape", K_INC_MEAS, TXT("{\"Mode\": \"Shape\", \"Nodes\": {}}"), FP8Q_ERR_UNSUPPORTED,
     "\"Mode\": \"Shape\" files (observer shape) are not supported", 0},
    {"INC measurement: ragged channels", K_INC_MEAS, TXT(MEAS("\"a\": {\"inputs\": [[[1], [1, 2]]]}")), FP8Q_ERR_PARSE,
     "channel arrays of different lengths", 0},
    {"INC measurement: entry not [[v]]", K_INC_MEAS, TXT(MEAS("\"a\": {\"inputs\": [1.5]}")), FP8Q_ERR_PARSE,
     "node 'a': \"inputs\"[0]: expected an array of channels", 0},
    {"INC measurement: empty entry", K_INC_MEAS, TXT(MEAS("\"a\": {\"inputs\": [[]]}")), FP8Q_ERR_PARSE,
     "node 'a': \"inputs\"[0]: empty array", 0},
    {"INC measurement: nested too deep", K_INC_MEAS, TXT(MEAS("\"a\": {\"inputs\": [[[[1]]]]}")), FP8Q_ERR_PARSE,
     "nested too deep", 0},
    {"INC measurement: duplicate node", K_INC_MEAS,
     TXT(MEAS("\"a\": {\"inputs\": [[[1]]]}, \"b\": {\"inputs\": [[[1]]]}, \"a\": {\"inputs\": [[[2]]]}")),
     FP8Q_ERR_PARSE, "INC measurement file: duplicate key in object", 0},
    {"INC measurement: duplicate among 100000 nodes", K_INC_MEAS, GEN(g_meas_dup_far), FP8Q_ERR_PARSE,
     "INC measurement file: duplicate key in object", 0},
    {"INC measurement: node without inputs", K_INC_MEAS, TXT(MEAS("\"a\": {\"outputs\": [[[1]]]}")), FP8Q_ERR_PARSE,
     "node 'a': missing \"inputs\"", 0},
    {"INC measurement: integer 2^53 + 2", K_INC_MEAS, TXT(MEAS("\"a\": {\"inputs\": [[[9007199254740994]]]}")),
     FP8Q_ERR_LIMIT, "integer literal beyond +-2^53 (a double cannot keep it exactly)", 0},
    {"INC measurement: NumSamples negative", K_INC_MEAS,
     TXT("{\"NumSamples\": -1, \"Mode\": \"DynamicRange\", \"Nodes\": {}}"), FP8Q_ERR_PARSE,
     "\"NumSamples\": expected an integer >= 0", 0},
    {"INC measurement: unknown top-level key", K_INC_MEAS, TXT("{\"Mode\": \"Scale\", \"Nodes\": {}, \"X\": 1}"),
     FP8Q_ERR_PARSE, "unknown top-level key", 0},
    {"INC measurement: string value", K_INC_MEAS, TXT(MEAS("\"a\": {\"inputs\": [[[\"1.5\"]]]}")), FP8Q_ERR_PARSE,
     "expected a number, got a string", 0},
    {"INC measurement: NUL in a node name", K_INC_MEAS, TXT(MEAS("\"a\\u0000b\": {\"inputs\": [[[1]]]}")),
     FP8Q_ERR_PARSE, "name contains a NUL character (\\u0000)", 0},
    {"INC measurement: a directory", K_INC_MEAS, MK(mk_dir), FP8Q_ERR_IO, "is not a regular file", 0},

    /* ------------------------------------- INC: missing measurements */
    {"INC node scales: linear without measurements", K_INC_NODE,
     NODE(MEAS("\"model.layers.0.mlp.down_proj\": {\"inputs\": [[[1.5]]], \"outputs\": [[[2.0]]]}"), 0), FP8Q_ERR_PARSE,
     "Error - Layer 'model.layers.3.mlp.down_proj' was called but was not quantized because no measures were "
     "supplied.",
     0},
    {"INC node scales: matmul without measurements", K_INC_NODE, NODE(MEAS(""), 1), FP8Q_ERR_PARSE,
     "was called but was not quantized because no measures were supplied", 0},
    {"INC node scales: matmul measured with one input", K_INC_NODE,
     NODE(MEAS("\"model.layers.0.self_attn.attn.impl.matmul_qk\": {\"inputs\": [[[3.0]]]}"), 1), FP8Q_ERR_PARSE,
     "\"inputs\"[1]", 0},
};

/* =========================================================== the runner */

#ifdef HOSTILE_MEMCHECK
static size_t vm_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1) pages = 0;
        fclose(f);
    }
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}
#endif

static long peak_rss_kib(void)
{
    struct rusage u;
    return getrusage(RUSAGE_SELF, &u) == 0 ? (long)u.ru_maxrss : 0; /* KiB on Linux */
}

static double now_s(void)
{
    struct timespec t;
    (void)clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int g_rows_run, g_rows_skipped, g_capped, g_verbose;
static const char *g_skip_why = "";

static const char *const NODE_NAME[2] = {"model.layers.3.mlp.down_proj",
                                         "model.layers.0.self_attn.attn.impl.matmul_qk"};

/* Calls the row's parser on path (or on the bytes); returns the result and
   whether the output structure was left empty. */
static fp8q_result call_parser(const hostile_row *row, const char *path, const hbuf *in, fp8q_error *e, int *empty)
{
    fp8q_result r = FP8Q_ERR_ARG;
    switch (row->kind) {
    case K_ST: {
        fp8q_safetensors st;
        r = fp8q_safetensors_open(&st, path, e);
        *empty = st.tensors == NULL && st.n_tensors == 0 && st.data == NULL;
        fp8q_safetensors_close(&st);
        break;
    }
    case K_CKPT: {
        fp8q_checkpoint ck;
        r = fp8q_checkpoint_open(&ck, path, e);
        *empty = ck.files == NULL && ck.n_files == 0 && ck.fp8q__owned == NULL;
        fp8q_checkpoint_close(&ck);
        break;
    }
    case K_MODEL: {
        fp8q_model m;
        r = fp8q_model_load(&m, path, NULL, e);
        *empty = m.layers == NULL && m.embed.data == NULL && m.final_norm == NULL;
        fp8q_model_free(&m);
        break;
    }
    case K_CONFIG: {
        fp8q_llama_config c;
        r = fp8q_llama_config_load(&c, path, e);
        *empty = c.hidden_size == 0 && c.architecture[0] == 0;
        break;
    }
    case K_JSON: {
        fp8q_json j;
        r = fp8q_json_parse(&j, in->p ? in->p : "", in->n, 0, e);
        *empty = j.tok == NULL && j.count == 0;
        fp8q_json_free(&j);
        break;
    }
    case K_INC_CFG: {
        fp8q_inc_config c;
        r = fp8q_inc_config_load(&c, path, e);
        *empty = c.fp8q__owned == NULL && c.n_warnings == 0;
        fp8q_inc_config_free(&c);
        break;
    }
    case K_INC_MEAS: {
        fp8q_inc_measure m;
        r = fp8q_inc_measure_load(&m, path, e);
        *empty = m.nodes == NULL && m.n_nodes == 0;
        fp8q_inc_measure_free(&m);
        break;
    }
    case K_INC_NODE: {
        fp8q_inc_measure m;
        fp8q_inc_node out;
        const fp8q_inc_method *hw = fp8q_inc_method_get("MAXABS_HW");
        const char *name = NODE_NAME[row->n ? 1 : 0];
        float ws = 0.0625f;
        if (fp8q_inc_measure_load(&m, path, e) != FP8Q_OK) {
            printf("    %s: the measurement file does not load: %s\n", row->what, e->message);
            *empty = 0;
            return FP8Q_ERR_ARG;
        }
        memset(&out, 0xA5, sizeof out);
        r = fp8q_inc_node_scales(&out, name, row->n ? FP8Q_INC_OP_MATMUL : FP8Q_INC_OP_LINEAR,
                                 fp8q_inc_measure_find(&m, name), row->n ? NULL : &ws, row->n ? 0 : 1, 0, &hw->weight,
                                 &hw->activation, FP8Q_GAUDI2, 0, e);
        *empty = out.name == NULL && out.inputs == NULL && out.outputs == NULL && out.params == NULL;
        if (r == FP8Q_OK) fp8q_inc_node_free(&out);
        fp8q_inc_measure_free(&m);
        break;
    }
    }
    return r;
}

/* Runs row i; 0 when its input cannot be built here (skipped). */
static int run_row(size_t i)
{
    const hostile_row *row = &ROWS[i];
    char path[256];
    hbuf in = {NULL, 0, 0};
    long size = 0, rss0, rss1;
    fp8q_error e;
    fp8q_result r;
    int empty = 0, terminated, file_level = row->kind != K_JSON && row->kind != K_INC_NODE;
    double t0, t1;
#ifdef HOSTILE_MEMCHECK
    struct rlimit old, cap;
    int capped = 0;
#endif
    (void)snprintf(path, sizeof path, "%s/row%03u%s", g_root, (unsigned)i,
                   row->kind == K_ST                             ? ".safetensors"
                   : row->kind == K_MODEL || row->kind == K_CKPT ? ""
                                                                 : ".json");
    /* the input */
    if (row->make) {
        size = row->make(path);
        if (size < 0) {
            g_skip_why = strerror(errno);
            rm_tree(path);
            return 0;
        }
    } else {
        if (row->gen)
            row->gen(&in);
        else if (row->kind == K_ST)
            st_file(&in, row->text, row->n);
        else
            hb_put(&in, row->text);
        size = (long)in.n;
        if (row->kind != K_JSON && !write_bytes(path, in.p ? in.p : "", in.n)) {
            CHECK(0, "%s: cannot write %s", row->what, path);
            free(in.p);
            return 1;
        }
    }
    /* the call, under the address-space cap */
    memset(&e, 0x5A, sizeof e);
    rss0 = peak_rss_kib();
#ifdef HOSTILE_MEMCHECK
    if (!(row->flags & H_NOCAP) && getrlimit(RLIMIT_AS, &old) == 0) {
        cap = old;
        cap.rlim_cur = (rlim_t)(vm_bytes() + 8u * (size_t)size + ((size_t)64 << 20));
        if (old.rlim_max == RLIM_INFINITY || cap.rlim_cur <= old.rlim_max) capped = setrlimit(RLIMIT_AS, &cap) == 0;
    }
#endif
    t0 = now_s();
    r = call_parser(row, path, &in, &e, &empty);
    t1 = now_s();
#ifdef HOSTILE_MEMCHECK
    if (capped) {
        (void)setrlimit(RLIMIT_AS, &old);
        g_capped++;
    }
#endif
    rss1 = peak_rss_kib();
    g_rows_run++;
    terminated = memchr(e.message, 0, sizeof e.message) != NULL;
    e.message[sizeof e.message - 1] = 0; /* printable either way */

    /* the checks */
    CHECK(r == row->code && e.code == (int)r, "%s (%s): got %d (err.code %d) '%s', want %d", row->what,
          KIND_NAME[row->kind], (int)r, e.code, e.message, (int)row->code);
    CHECK(terminated && strstr(e.message, row->frag) != NULL, "%s: message '%s' lacks '%s'", row->what, e.message,
          row->frag);
    /* the file or directory: its last component (fp8q keeps the end of a long path) */
    CHECK(!file_level || strstr(e.message, strrchr(path, '/') + 1) != NULL, "%s: message '%s' does not name %s",
          row->what, e.message, path);
    CHECK(empty, "%s: the output is not empty after the failure", row->what);
    if (row->flags & H_RSS) {
        CHECK(t1 - t0 < 1.0, "%s: took %.3f s", row->what, t1 - t0);
#ifdef HOSTILE_MEMCHECK
        CHECK(rss1 - rss0 < 4096, "%s: peak RSS grew by %ld KiB", row->what, rss1 - rss0);
#endif
    }
    if (g_verbose)
        printf("    [%3u] %-16s %.3f s, +%ld KiB peak RSS: %d %s\n", (unsigned)i, KIND_NAME[row->kind], t1 - t0,
               rss1 - rss0, (int)r, e.message);
    rm_tree(path);
    free(in.p);
    return 1;
}

/* The table itself: enough rows, every parser kind, one input per row. */
static void test_table(void)
{
    size_t i, n = sizeof ROWS / sizeof ROWS[0];
    int per_kind[8] = {0}, k;
    CHECK(n >= 60, "only %u rows", (unsigned)n);
    for (i = 0; i < n; i++) {
        const hostile_row *r = &ROWS[i];
        CHECK((r->text != NULL) + (r->gen != NULL) + (r->make != NULL) == 1, "row %u: one input", (unsigned)i);
        CHECK(r->frag && r->frag[0] && r->code != FP8Q_OK, "row %u: expected code and fragment", (unsigned)i);
        per_kind[r->kind]++;
    }
    for (k = 0; k < 8; k++) CHECK(per_kind[k] > 0, "no row for %s", KIND_NAME[k]);
}

/* Each row is one case (as run_case counts them, plus skipped). Pass 0: the
   H_RSS rows, while the process is small; pass 1: the rest. */
static void run_rows(int pass)
{
    size_t i;
    for (i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
        const hostile_row *row = &ROWS[i];
        if (((row->flags & H_RSS) != 0) != (pass == 0)) continue;
        g_case_failures = 0;
        if (!run_row(i)) {
            g_rows_skipped++;
            printf("skip [%s] %s: this system cannot build the input (%s)\n", KIND_NAME[row->kind], row->what,
                   g_skip_why);
        } else if (g_case_failures) {
            g_failed++;
            printf("FAIL [%s] %s (%d mismatches)\n", KIND_NAME[row->kind], row->what, g_case_failures);
        } else {
            g_passed++;
            printf("ok   [%s] %s\n", KIND_NAME[row->kind], row->what);
        }
    }
}

int main(void)
{
    size_t nrows = sizeof ROWS / sizeof ROWS[0];
    int skipped;
    g_verbose = getenv("HOSTILE_VERBOSE") != NULL;
    (void)snprintf(g_root, sizeof g_root, "build/test_hostile_tmp.%ld", (long)getpid());
    (void)mkdir("build", 0755);
    if (mkdir(g_root, 0755) != 0) {
        printf("cannot create %s: %s\n0 passed, 1 failed\n", g_root, strerror(errno));
        return 1;
    }
    run_case("the table: >= 60 rows, every parser", test_table);
    run_rows(0);
    run_rows(1);
    rm_tree(g_root);
    skipped = g_rows_skipped;
#ifndef HOSTILE_MEMCHECK
    printf("skip memory checks: address-space cap and RSS need Linux without sanitizers\n");
    skipped++;
#endif
    printf("hostile matrix: %u rows (%d run, %d skipped, %d under the address-space cap)\n", (unsigned)nrows,
           g_rows_run, g_rows_skipped, g_capped);
    if (skipped)
        printf("%d passed, %d failed, %d skipped\n", g_passed, g_failed, skipped);
    else
        printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed != 0;
}
