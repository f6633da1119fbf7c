/* Tests for the tokenizer (fp8q_tokenizer_*) against Hugging Face tokenizers.
   Usage: test_tokenizer [fixture_dir]  (default tests/fixtures/tokenizer)
   The fixtures (tools/gen_tokenizer_fixtures.py) hold tokenizers, a corpus,
   and for each tokenizer the ids tokenizers 0.23.3 gives for every corpus
   text with each flag combination, its decodes, transformers' encode and
   chat template renderings. Also: the SmolLM2 and SentencePiece tokenizers
   built from GGUF-style arrays, malformed files, API edge cases, and a
   speed line (tokens/s, printed, not asserted). */
#define FP8Q_IMPLEMENTATION
#include "fp8q.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

static const char *g_dir = "tests/fixtures/tokenizer";

/* ---- fixture files */

typedef struct bytes {
    char *p;
    size_t n;
} bytes;

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    if (!f) return NULL;
    do {
        if (n == cap) {
            char *nb = (char *)realloc(buf, cap = cap ? 2 * cap : 1 << 16);
            if (!nb) break;
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    if (buf) buf[n < cap ? n : cap - 1] = 0;
    if (len) *len = n;
    return buf;
}

static char *fixture_path(const char *name)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    (void)snprintf(path[k], sizeof path[k], "%s/%s", g_dir, name);
    return path[k];
}

/* Undoes the fixture escapes (\\ \n \r \t \xHH) of s (up to the end of the line) into a malloc'd buffer. */
static bytes unescape(const char *s)
{
    bytes b;
    size_t n = strcspn(s, "\n"), i, o = 0;
    b.p = (char *)malloc(n + 1);
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            char e = s[++i];
            if (e == 'n')
                c = '\n';
            else if (e == 'r')
                c = '\r';
            else if (e == 't')
                c = '\t';
            else if (e == 'x' && i + 2 < n) {
                char h[3] = {s[i + 1], s[i + 2], 0};
                c = (char)strtol(h, NULL, 16);
                i += 2;
            } else
                c = e;
        }
        b.p[o++] = c;
    }
    b.p[o] = 0;
    b.n = o;
    return b;
}

/* The lines of a file, split in place (the header's '#' comment lines kept out). */
typedef struct lines {
    char *text;
    char **line;
    size_t n;
} lines;

static lines read_lines(const char *path)
{
    lines l = {NULL, NULL, 0};
    size_t len, cap = 0;
    char *p;
    l.text = read_file(path, &len);
    if (!l.text) return l;
    for (p = l.text; *p;) {
        char *e = strchr(p, '\n');
        if (e) *e = 0;
        if (*p != '#' || l.n > 0) {
            if (l.n == cap) l.line = (char **)realloc(l.line, (cap = cap ? 2 * cap : 1024) * sizeof *l.line);
            l.line[l.n++] = p;
        }
        if (!e) break;
        p = e + 1;
    }
    return l;
}

static void free_lines(lines *l)
{
    free(l->text);
    free(l->line);
}

#define MAX_CASES 512
static bytes g_case[MAX_CASES];
static size_t g_ncases;

static int load_corpus(void)
{
    lines l = read_lines(fixture_path("corpus.txt"));
    size_t i;
    for (i = 0; i < l.n && g_ncases < MAX_CASES; i++) {
        char *sp = strchr(l.line[i] + 2, ' ');
        if (l.line[i][0] != 'C' || !sp) continue;
        g_case[g_ncases++] = unescape(sp + 1);
    }
    free_lines(&l);
    return g_ncases > 0;
}

/* "E <case> <flags> ids..." etc.: the numbers after the tag. */
static size_t parse_ids(const char *s, int32_t *ids, size_t cap)
{
    size_t n = 0;
    char *e;
    for (;;) {
        long v = strtol(s, &e, 10);
        if (e == s) break;
        if (n < cap) ids[n] = (int32_t)v;
        n++;
        s = e;
    }
    return n;
}

#define MAX_IDS 65536
static int32_t g_want[MAX_IDS], g_got[MAX_IDS];
static int32_t g_by_flags[4][MAX_IDS]; /* the current case's expected ids for each flag combination */
static size_t g_by_flags_n[4];

static int show_ids(char *out, size_t cap, const int32_t *ids, size_t n)
{
    size_t i, o = 0;
    out[0] = 0;
    for (i = 0; i < n && i < 12 && o + 16 < cap; i++) o += (size_t)snprintf(out + o, cap - o, " %ld", (long)ids[i]);
    if (n > 12 && o + 8 < cap) snprintf(out + o, cap - o, " ...");
    return 0;
}

/* Checks every E/D/T line of an expected file against tokenizer t; returns the number of ids compared. */
static size_t check_expected(const fp8q_tokenizer *t, const char *name, const char *file)
{
    lines l = read_lines(fixture_path(file));
    size_t i, compared = 0, nd = 0, nround = 0;
    static char text[1 << 18];
    CHECK(l.n > 0, "%s: no lines in %s", name, file);
    for (i = 0; i < l.n; i++) {
        const char *ln = l.line[i];
        char tag = ln[0], *rest;
        long c = strtol(ln + 2, &rest, 10);
        fp8q_error err;
        size_t n = 0, want_n;
        fp8q_result r;
        if (c < 0 || (size_t)c >= g_ncases) continue;
        if (tag == 'E' || tag == 'T') {
            long flags = tag == 'T' ? 3 : strtol(rest, &rest, 10);
            char a[256], b[256];
            if (tag == 'E' && rest[0] == ' ' && rest[1] == '=') { /* "=k": the ids of flags k */
                long k = strtol(rest + 2, NULL, 10) & 3;
                want_n = g_by_flags_n[k];
                memcpy(g_want, g_by_flags[k], want_n * sizeof *g_want);
            } else
                want_n = parse_ids(rest, g_want, MAX_IDS);
            if (tag == 'E' && want_n <= MAX_IDS) {
                memcpy(g_by_flags[flags & 3], g_want, want_n * sizeof *g_want);
                g_by_flags_n[flags & 3] = want_n;
            }
            r = fp8q_tokenizer_encode(t, g_case[c].p, g_case[c].n, (int)flags, g_got, MAX_IDS, &n, &err);
            CHECK(r == FP8Q_OK, "%s case %ld flags %ld: %s", name, c, flags, err.message);
            show_ids(a, sizeof a, g_got, n);
            show_ids(b, sizeof b, g_want, want_n);
            CHECK(n == want_n && memcmp(g_got, g_want, n * sizeof *g_got) == 0,
                  "%s %c case %ld flags %ld: got %lu ids%s, want %lu%s", name, tag, c, flags, (unsigned long)n, a,
                  (unsigned long)want_n, b);
            compared += want_n;
        } else if (tag == 'D') {
            long skip = strtol(rest, &rest, 10);
            bytes want = unescape(*rest ? rest + 1 : rest);
            size_t len = 0;
            r = fp8q_tokenizer_encode(t, g_case[c].p, g_case[c].n, 3, g_got, MAX_IDS, &n, &err);
            r = r == FP8Q_OK ? fp8q_tokenizer_decode(t, g_got, n, (int)skip, text, sizeof text, &len, &err) : r;
            CHECK(r == FP8Q_OK && len == want.n && memcmp(text, want.p, len) == 0,
                  "%s decode case %ld skip %ld: got %lu bytes '%.60s' (%s), want %lu '%.60s'", name, c, skip,
                  (unsigned long)len, text, r == FP8Q_OK ? "ok" : err.message, (unsigned long)want.n, want.p);
            nd++;
            if (skip && want.n == g_case[c].n && memcmp(want.p, g_case[c].p, want.n) == 0) /* HF round-trips it */
                nround += len == want.n && memcmp(text, g_case[c].p, len) == 0;
            free(want.p);
        }
    }
    printf("    %s: %lu ids and %lu decodes compared, %lu texts round-trip as in HF (%s)\n", name,
           (unsigned long)compared, (unsigned long)nd, (unsigned long)nround, file);
    free_lines(&l);
    return compared;
}

static fp8q_tokenizer *load_named(const char *name)
{
    char path[512];
    fp8q_tokenizer *t = NULL;
    fp8q_error err;
    (void)snprintf(path, sizeof path, "%s/%s/tokenizer.json", g_dir, name);
    CHECK(fp8q_tokenizer_load_json(&t, path, &err) == FP8Q_OK, "load %s: %s", path, err.message);
    return t;
}

/* ---- cases: each tokenizer.json against tokenizers */

static void expect_json(const char *name)
{
    char file[64];
    fp8q_tokenizer *t = load_named(name);
    if (!t) return;
    (void)snprintf(file, sizeof file, "%s.expected", name);
    CHECK(check_expected(t, name, file) > 1000, "%s: too few ids compared", name);
    fp8q_tokenizer_free(t);
}

static void test_smollm2(void) { expect_json("smollm2"); }
static void test_spm(void) { expect_json("spm"); }
static void test_bytebpe(void) { expect_json("bytebpe"); }
static void test_llama3(void) { expect_json("llama3"); }
static void test_spm_unk(void) { expect_json("spm_unk"); }
static void test_metaspace(void) { expect_json("metaspace"); }
static void test_metaspace_split(void) { expect_json("metaspace_split"); }

/* ---- the GGUF-style spec, from a text dump */

typedef struct spec_file {
    fp8q_tokenizer_spec spec;
    bytes *tok, *merge, tmpl;
    char **tokp, **mergep;
    size_t *tokl, *mergel;
    float *scores;
    int32_t *types;
    char model[16], pre[32];
} spec_file;

static int read_spec(const char *file, spec_file *sf)
{
    lines l = read_lines(fixture_path(file));
    size_t i = 0, k;
    memset(sf, 0, sizeof *sf);
    sf->spec.bos = sf->spec.eos = sf->spec.unk = sf->spec.pad = -1;
    sf->spec.add_bos = sf->spec.add_eos = sf->spec.add_space_prefix = -1;
    for (; i < l.n; i++) {
        char *ln = l.line[i], *v = strchr(ln, ' ');
        if (!v) continue;
        *v++ = 0;
        if (!strcmp(ln, "model")) snprintf(sf->model, sizeof sf->model, "%s", v);
        if (!strcmp(ln, "pre")) snprintf(sf->pre, sizeof sf->pre, "%s", v);
        if (!strcmp(ln, "bos")) sf->spec.bos = atoi(v);
        if (!strcmp(ln, "eos")) sf->spec.eos = atoi(v);
        if (!strcmp(ln, "unk")) sf->spec.unk = atoi(v);
        if (!strcmp(ln, "pad")) sf->spec.pad = atoi(v);
        if (!strcmp(ln, "add_bos")) sf->spec.add_bos = atoi(v);
        if (!strcmp(ln, "add_eos")) sf->spec.add_eos = atoi(v);
        if (!strcmp(ln, "add_space_prefix")) sf->spec.add_space_prefix = atoi(v);
        if (!strcmp(ln, "chat_template")) sf->tmpl = unescape(v);
        if (!strcmp(ln, "tokens")) {
            int with_scores = strstr(v, "noscores") == NULL;
            size_t n = (size_t)atol(v);
            sf->tok = (bytes *)calloc(n, sizeof *sf->tok);
            sf->tokp = (char **)calloc(n, sizeof *sf->tokp);
            sf->tokl = (size_t *)calloc(n, sizeof *sf->tokl);
            sf->types = (int32_t *)calloc(n, sizeof *sf->types);
            sf->scores = with_scores ? (float *)calloc(n, sizeof *sf->scores) : NULL;
            for (k = 0; k < n && i + 1 < l.n; k++) {
                char *t = l.line[++i], *e;
                sf->types[k] = (int32_t)strtol(t, &e, 10);
                if (with_scores) sf->scores[k] = strtof(e, &e);
                sf->tok[k] = unescape(e + 1);
                sf->tokp[k] = sf->tok[k].p;
                sf->tokl[k] = sf->tok[k].n;
            }
            sf->spec.n_tokens = n;
        }
        if (!strcmp(ln, "merges")) {
            size_t n = (size_t)atol(v);
            sf->merge = (bytes *)calloc(n + 1, sizeof *sf->merge);
            sf->mergep = (char **)calloc(n + 1, sizeof *sf->mergep);
            sf->mergel = (size_t *)calloc(n + 1, sizeof *sf->mergel);
            for (k = 0; k < n && i + 1 < l.n; k++) {
                sf->merge[k] = unescape(l.line[++i]);
                sf->mergep[k] = sf->merge[k].p;
                sf->mergel[k] = sf->merge[k].n;
            }
            sf->spec.n_merges = n;
        }
    }
    free_lines(&l);
    sf->spec.model = sf->model;
    sf->spec.pre = sf->pre[0] ? sf->pre : NULL;
    sf->spec.tokens = (const char *const *)sf->tokp;
    sf->spec.token_lens = sf->tokl;
    sf->spec.token_types = sf->types;
    sf->spec.scores = sf->scores;
    sf->spec.merges = (const char *const *)sf->mergep;
    sf->spec.merge_lens = sf->mergel;
    sf->spec.chat_template = sf->tmpl.p;
    return sf->spec.n_tokens > 0;
}

static void free_spec(spec_file *sf)
{
    size_t i;
    for (i = 0; i < sf->spec.n_tokens; i++) free(sf->tok[i].p);
    for (i = 0; i < sf->spec.n_merges; i++) free(sf->merge[i].p);
    free(sf->tok);
    free(sf->merge);
    free(sf->tokp);
    free(sf->mergep);
    free(sf->tokl);
    free(sf->mergel);
    free(sf->scores);
    free(sf->types);
    free(sf->tmpl.p);
}

static void expect_spec(const char *spec_name, const char *expected, const char *chat_name)
{
    spec_file sf;
    fp8q_tokenizer *t = NULL, *j = NULL;
    fp8q_error err;
    CHECK(read_spec(spec_name, &sf), "cannot read %s", spec_name);
    CHECK(fp8q_tokenizer_from_spec(&t, &sf.spec, &err) == FP8Q_OK, "from_spec %s: %s", spec_name, err.message);
    if (t) {
        char a[4096], b[4096];
        size_t la = 0, lb = 0;
        CHECK(check_expected(t, spec_name, expected) > 1000, "%s: too few ids compared", spec_name);
        CHECK(fp8q_tokenizer_bos(t) == sf.spec.bos && fp8q_tokenizer_eos(t) == sf.spec.eos, "%s: bos/eos", spec_name);
        CHECK(fp8q_tokenizer_vocab_size(t) == (int)sf.spec.n_tokens, "%s: vocab size %d", spec_name,
              fp8q_tokenizer_vocab_size(t));
        j = load_named(chat_name);
        if (j) { /* the template came through the spec: same rendering as from the tokenizer_config.json */
            CHECK(fp8q_tokenizer_chat(t, NULL, "Hi", a, sizeof a, &la, &err) == FP8Q_OK, "%s chat: %s", spec_name,
                  err.message);
            CHECK(fp8q_tokenizer_chat(j, NULL, "Hi", b, sizeof b, &lb, &err) == FP8Q_OK, "%s chat: %s", chat_name,
                  err.message);
            CHECK(la == lb && memcmp(a, b, la) == 0, "%s chat differs: '%s' vs '%s'", spec_name, a, b);
        }
    }
    fp8q_tokenizer_free(t);
    fp8q_tokenizer_free(j);
    free_spec(&sf);
}

static void test_smollm2_spec(void) { expect_spec("smollm2.spec", "smollm2.expected", "smollm2"); }
static void test_spm_spec(void) { expect_spec("spm.spec", "spm_spec.expected", "spm"); }

/* SmolLM2's tokenizer read by fp8q_gguf_tokenizer from a GGUF file's metadata
   (tests/fixtures/gguf/vocab-smollm2.gguf, the tokenizer.* keys of the real
   model's GGUF; tools/gen_gguf_vocab.py) against tokenizers' ids. */
static void test_smollm2_gguf(void)
{
    char path[600];
    fp8q_gguf g;
    fp8q_tokenizer *t = NULL, *j = load_named("smollm2");
    fp8q_error err;
    char a[4096], b[4096];
    size_t la = 0, lb = 0;
    memset(&g, 0, sizeof g);
    (void)snprintf(path, sizeof path, "%s/../gguf/vocab-smollm2.gguf", g_dir);
    CHECK(fp8q_gguf_open(&g, path, &err) == FP8Q_OK, "open %s: %s", path, err.message);
    CHECK(fp8q_gguf_tokenizer(&g, &t, &err) == FP8Q_OK, "fp8q_gguf_tokenizer: %s", err.message);
    fp8q_gguf_close(&g); /* the tokenizer keeps its own copies */
    if (t && j) {
        CHECK(check_expected(t, "smollm2 (GGUF)", "smollm2.expected") > 1000, "too few ids compared");
        CHECK(fp8q_tokenizer_vocab_size(t) == 49152 && fp8q_tokenizer_eos(t) == fp8q_tokenizer_eos(j), "vocab, eos");
        CHECK(fp8q_tokenizer_chat(t, NULL, "Hi", a, sizeof a, &la, &err) == FP8Q_OK, "chat: %s", err.message);
        CHECK(fp8q_tokenizer_chat(j, NULL, "Hi", b, sizeof b, &lb, &err) == FP8Q_OK, "chat: %s", err.message);
        CHECK(la == lb && memcmp(a, b, la) == 0, "chat differs: '%s' vs '%s'", a, b);
    }
    fp8q_tokenizer_free(t);
    t = NULL;
    memset(&g, 0, sizeof g);
    CHECK(fp8q_gguf_open(&g, "tests/fixtures/gguf/tiny-f32.F32.gguf", &err) != FP8Q_OK ||
              (fp8q_gguf_tokenizer(&g, &t, &err) == FP8Q_ERR_UNSUPPORTED && !t &&
               strstr(err.message, "tokenizer.ggml.model")),
          "a GGUF without a tokenizer: %s", err.message);
    fp8q_gguf_close(&g);
    fp8q_tokenizer_free(t);
    fp8q_tokenizer_free(j);
}

/* ---- chat templates */

static void test_chat(void)
{
    lines l = read_lines(fixture_path("chat.txt"));
    size_t i, n = 0;
    char name[64] = "";
    fp8q_tokenizer *t = NULL;
    static char out[8192];
    for (i = 0; i + 3 < l.n; i += 4) {
        bytes sys = {NULL, 0}, user, want;
        size_t len = 0;
        fp8q_error err;
        fp8q_result r;
        if (l.line[i][0] != 'X') continue;
        if (strcmp(name, l.line[i] + 2) != 0) {
            fp8q_tokenizer_free(t);
            snprintf(name, sizeof name, "%s", l.line[i] + 2);
            t = load_named(name);
        }
        if (l.line[i + 1][0] == 'S') sys = unescape(l.line[i + 1] + 2);
        user = unescape(l.line[i + 2] + 2);
        want = unescape(l.line[i + 3] + 2);
        r = fp8q_tokenizer_chat(t, sys.p, user.p, out, sizeof out, &len, &err);
        CHECK(r == FP8Q_OK && len == want.n && memcmp(out, want.p, len) == 0,
              "%s chat (system %s, user '%s'): got '%s' (%s), want '%s'", name, sys.p ? sys.p : "NULL", user.p, out,
              err.message, want.p);
        n++;
        free(sys.p);
        free(user.p);
        free(want.p);
    }
    fp8q_tokenizer_free(t);
    free_lines(&l);
    printf("    %lu renderings compared\n", (unsigned long)n);
    CHECK(n >= 64, "only %lu chat cases", (unsigned long)n);
}

static void test_chat_unsupported(void)
{
    static const char *json = "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}";
    fp8q_tokenizer *t = NULL;
    fp8q_error err;
    char out[64];
    size_t len = 7;
    CHECK(fp8q_tokenizer_parse_json(&t, json, strlen(json), &err) == FP8Q_OK, "%s", err.message);
    CHECK(fp8q_tokenizer_chat(t, NULL, "hi", out, sizeof out, &len, &err) == FP8Q_ERR_UNSUPPORTED &&
              strstr(err.message, "no chat template"),
          "no template: %s", err.message);
    CHECK(fp8q_tokenizer_chat(t, NULL, "\xff", out, sizeof out, &len, &err) == FP8Q_ERR_ARG &&
              strstr(err.message, "UTF-8"),
          "invalid UTF-8: %s", err.message);
    fp8q_tokenizer_free(t);
}

/* ---- pieces, lookups, API edges */

static void test_pieces(void)
{
    fp8q_tokenizer *s = load_named("smollm2"), *p = load_named("spm");
    char buf[64];
    size_t n, i, len = 0, total = 0;
    int32_t id;
    fp8q_error err;
    static char dec[1 << 16], cat[1 << 16];
    if (!s || !p) goto done;
    id = fp8q_tokenizer_find(s, "\xC4\xA0the"); /* "Ġthe" */
    CHECK(id >= 0, "smollm2 has no 'Ġthe'");
    n = fp8q_tokenizer_piece(s, id, buf, sizeof buf);
    CHECK(n == 4 && memcmp(buf, " the", 4) == 0, "piece of Ġthe: %lu '%.*s'", (unsigned long)n, (int)n, buf);
    CHECK(fp8q_tokenizer_piece(s, 1, buf, sizeof buf) == 12 && memcmp(buf, "<|im_start|>", 12) == 0, "special piece");
    CHECK(fp8q_tokenizer_piece(s, 1, buf, 3) == 12 && memcmp(buf, "<|i", 3) == 0, "piece with a short buffer");
    CHECK(fp8q_tokenizer_piece(s, -1, buf, sizeof buf) == 0 && fp8q_tokenizer_piece(s, 49152, buf, sizeof buf) == 0,
          "unknown ids give 0");
    CHECK(fp8q_tokenizer_find(s, "<|im_end|>") == 2 && fp8q_tokenizer_find(s, "no such token at all") == -1, "find");
    CHECK(fp8q_tokenizer_vocab_size(s) == 49152 && fp8q_tokenizer_bos(s) == 1 && fp8q_tokenizer_eos(s) == 2,
          "smollm2 vocab %d bos %d eos %d", fp8q_tokenizer_vocab_size(s), fp8q_tokenizer_bos(s), fp8q_tokenizer_eos(s));
    /* byte-level pieces of an emoji are its UTF-8 bytes split across tokens; concatenated they give decode */
    CHECK(fp8q_tokenizer_encode(s, "Hi \xF0\x9F\xA6\x99 caf\xC3\xA9!", 12, 2, g_got, 64, &n, &err) == FP8Q_OK, "%s",
          err.message);
    for (i = 0; i < n; i++) total += fp8q_tokenizer_piece(s, g_got[i], cat + total, sizeof cat - total);
    CHECK(fp8q_tokenizer_decode(s, g_got, n, 0, dec, sizeof dec, &len, &err) == FP8Q_OK && len == total &&
              memcmp(dec, cat, len) == 0,
          "pieces '%.*s' vs decode '%s'", (int)total, cat, dec);
    /* SentencePiece pieces: "▁" is a space, <0x0A> a newline byte */
    id = fp8q_tokenizer_find(p, "<0x0A>");
    CHECK(id >= 0 && fp8q_tokenizer_piece(p, id, buf, sizeof buf) == 1 && buf[0] == '\n', "piece of <0x0A>");
    id = fp8q_tokenizer_find(p, "\xE2\x96\x81the");
    CHECK(id >= 0 && fp8q_tokenizer_piece(p, id, buf, sizeof buf) == 4 && memcmp(buf, " the", 4) == 0, "piece of ▁the");
    CHECK(fp8q_tokenizer_bos(p) == 1 && fp8q_tokenizer_eos(p) == 2, "spm bos/eos");
done:
    fp8q_tokenizer_free(s);
    fp8q_tokenizer_free(p);
}

static void test_api_edges(void)
{
    fp8q_tokenizer *t = load_named("spm");
    fp8q_error err;
    size_t n = 99, len = 99;
    int32_t ids[4];
    char out[8];
    if (!t) return;
    CHECK(fp8q_tokenizer_encode(t, "hello world", 11, 3, NULL, 0, &n, &err) == FP8Q_ERR_LIMIT && n > 2,
          "measure: %lu %s", (unsigned long)n, err.message);
    CHECK(fp8q_tokenizer_encode(t, "hello world", 11, 3, ids, 2, &n, &err) == FP8Q_ERR_LIMIT && n > 2 && ids[0] == 1,
          "short cap: full count %lu, first id %ld", (unsigned long)n, (long)ids[0]);
    CHECK(fp8q_tokenizer_encode(t, "", 0, 3, ids, 4, &n, &err) == FP8Q_OK && n == 1 && ids[0] == 1,
          "empty text gives BOS only");
    CHECK(fp8q_tokenizer_encode(t, NULL, 0, 0, ids, 4, &n, &err) == FP8Q_OK && n == 0, "NULL empty text");
    CHECK(fp8q_tokenizer_encode(t, NULL, 1, 0, ids, 4, &n, &err) == FP8Q_ERR_ARG, "NULL text");
    CHECK(fp8q_tokenizer_encode(t, "a", 1, 4, ids, 4, &n, &err) == FP8Q_ERR_ARG && strstr(err.message, "flags"),
          "bad flags");
    CHECK(fp8q_tokenizer_encode(NULL, "a", 1, 0, ids, 4, &n, &err) == FP8Q_ERR_ARG, "NULL tokenizer");
    CHECK(fp8q_tokenizer_encode(t, "a", 1, 0, ids, 4, NULL, &err) == FP8Q_ERR_ARG, "NULL n_ids");
    ids[0] = 1000;
    ids[1] = 1001;
    CHECK(fp8q_tokenizer_decode(t, ids, 2, 0, out, sizeof out, &len, &err) == FP8Q_OK ||
              fp8q_tokenizer_decode(t, ids, 2, 0, out, sizeof out, &len, &err) == FP8Q_ERR_LIMIT,
          "decode");
    CHECK(fp8q_tokenizer_decode(t, ids, 2, 0, out, 1, &len, &err) == FP8Q_ERR_LIMIT && len > 0 && out[0] == 0,
          "decode into a 1-byte buffer");
    ids[0] = -5;
    ids[1] = 1 << 30;
    CHECK(fp8q_tokenizer_decode(t, ids, 2, 0, out, sizeof out, &len, &err) == FP8Q_OK && len == 0,
          "unknown ids are skipped");
    CHECK(fp8q_tokenizer_decode(t, NULL, 1, 0, out, sizeof out, &len, &err) == FP8Q_ERR_ARG, "NULL ids");
    CHECK(fp8q_tokenizer_vocab_size(NULL) == 0 && fp8q_tokenizer_bos(NULL) == -1 &&
              fp8q_tokenizer_find(NULL, "a") == -1,
          "NULL tokenizer accessors");
    fp8q_tokenizer_free(t);
    CHECK(fp8q_tokenizer_load_json(&t, NULL, &err) == FP8Q_ERR_ARG && t == NULL, "NULL path");
    CHECK(fp8q_tokenizer_load_json(&t, "/nonexistent/tokenizer.json", &err) == FP8Q_ERR_IO &&
              strstr(err.message, "/nonexistent/tokenizer.json"),
          "missing file: %s", err.message);
    fp8q_tokenizer_free(NULL);
}

/* ---- malformed input */

typedef struct bad_json {
    const char *json;
    fp8q_result code;
    const char *message; /* a fragment of the error message */
} bad_json;

#define BPE_HEAD "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\"]"

static const bad_json g_bad[] = {
    {"{", FP8Q_ERR_PARSE, "tokenizer.json: "},
    {"[]", FP8Q_ERR_PARSE, "the root is not an object"},
    {"{}", FP8Q_ERR_PARSE, "model: expected an object"},
    {"{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}", FP8Q_ERR_UNSUPPORTED, "model: type 'WordPiece'"},
    {"{\"model\":{\"type\":\"BPE\",\"merges\":[]}}", FP8Q_ERR_PARSE, "model.vocab: expected an object"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-1},\"merges\":[]}}", FP8Q_ERR_PARSE, "model.vocab[0]"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":\"0\"},\"merges\":[]}}", FP8Q_ERR_PARSE, "expected an integer"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":99999999},\"merges\":[]}}", FP8Q_ERR_PARSE, "model.vocab[0]"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":0},\"merges\":[]}}", FP8Q_ERR_PARSE,
     "id 0 is used by two tokens"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"a\":1},\"merges\":[]}}", FP8Q_ERR_PARSE, "duplicate"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a c\"]}}", FP8Q_ERR_PARSE,
     "model.merges[0]: 'a c': 'c' is not in the vocabulary"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"c\":1},\"merges\":[[\"a\",\"c\"]]}}", FP8Q_ERR_PARSE,
     "the merged token is not in the vocabulary"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a a a\"]}}", FP8Q_ERR_PARSE, "exactly one space"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[1]}}", FP8Q_ERR_PARSE, "model.merges[0]: expected"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":{}}}", FP8Q_ERR_PARSE, "model.merges: expected"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[],\"unk_token\":\"<unk>\"}}", FP8Q_ERR_PARSE,
     "model.unk_token: '<unk>' is not in model.vocab"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[],\"dropout\":0.1}}", FP8Q_ERR_UNSUPPORTED,
     "model.dropout"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[],\"continuing_subword_prefix\":\"##\"}}",
     FP8Q_ERR_UNSUPPORTED, "continuing_subword_prefix"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[],\"byte_fallback\":1}}", FP8Q_ERR_PARSE,
     "model.byte_fallback: expected true or false"},
    {BPE_HEAD "},\"normalizer\":{\"type\":\"NFC\"}}", FP8Q_ERR_UNSUPPORTED, "normalizer: type 'NFC' is not supported"},
    {BPE_HEAD "},\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFKC\"}]}}", FP8Q_ERR_UNSUPPORTED,
     "normalizer.normalizers[0]: type 'NFKC'"},
    {BPE_HEAD "},\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" +\"},\"content\":\" \"}}",
     FP8Q_ERR_UNSUPPORTED, "Regex patterns are not supported"},
    {BPE_HEAD "},\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"String\":\"\"},\"content\":\" \"}}",
     FP8Q_ERR_PARSE, "non-empty"},
    {BPE_HEAD "},\"pre_tokenizer\":{\"type\":\"Whitespace\"}}", FP8Q_ERR_UNSUPPORTED, "type 'Whitespace'"},
    {BPE_HEAD "},\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\w+\"},\"behavior\":\"Isolated\","
              "\"invert\":false}}",
     FP8Q_ERR_UNSUPPORTED, "is not supported (only GPT-2's and Llama-3's)"},
    {BPE_HEAD "},\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"'s|'t|'re|'ve|'m|'ll|'d| ?\\\\p{L}+| "
              "?\\\\p{N}+| ?[^\\\\s\\\\p{L}\\\\p{N}]+|\\\\s+(?!\\\\S)|\\\\s+\"},\"behavior\":\"Removed\"}}",
     FP8Q_ERR_UNSUPPORTED, "only \"Isolated\""},
    {BPE_HEAD "},\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"ByteLevel\"},{\"type\":"
              "\"Digits\"}]}}",
     FP8Q_ERR_UNSUPPORTED, "after ByteLevel"},
    {BPE_HEAD "},\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"ab\"}}", FP8Q_ERR_PARSE,
     "expected one character"},
    {BPE_HEAD "},\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Sequence\",\"pretokenizers\":"
              "[{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":"
              "\"Sequence\",\"pretokenizers\":[{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Sequence\","
              "\"pretokenizers\":[{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Sequence\","
              "\"pretokenizers\":[]}]}]}]}]}]}]}]}]}}",
     FP8Q_ERR_LIMIT, "nested deeper"},
    {BPE_HEAD ",\"unk_token\":null},\"added_tokens\":[{\"id\":3,\"content\":\"<s>\",\"special\":true},{\"id\":4,"
              "\"content\":\"<s>\",\"special\":true}]}",
     FP8Q_ERR_PARSE, "added_tokens[1]: content '<s>' repeats added_tokens[0]"},
    {BPE_HEAD "},\"added_tokens\":[{\"id\":3,\"content\":\"<s>\"},{\"id\":3,\"content\":\"</s>\"}]}", FP8Q_ERR_PARSE,
     "added_tokens[1]: id 3 repeats added_tokens[0]"},
    {BPE_HEAD "},\"added_tokens\":[{\"id\":3,\"content\":\"<s>\",\"single_word\":true}]}", FP8Q_ERR_UNSUPPORTED,
     "single_word"},
    {BPE_HEAD "},\"added_tokens\":[{\"id\":3,\"content\":\"\"}]}", FP8Q_ERR_PARSE, "added_tokens[0]: empty content"},
    {BPE_HEAD "},\"added_tokens\":[{\"content\":\"<s>\"}]}", FP8Q_ERR_PARSE, "added_tokens[0]: expected an integer"},
    {BPE_HEAD "},\"truncation\":{\"max_length\":4}}", FP8Q_ERR_UNSUPPORTED, "truncation"},
    {BPE_HEAD "},\"post_processor\":{\"type\":\"RobertaProcessing\"}}", FP8Q_ERR_UNSUPPORTED, "RobertaProcessing"},
    {BPE_HEAD "},\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\"}},"
              "{\"Sequence\":{\"id\":\"A\"}}],\"special_tokens\":{}}}",
     FP8Q_ERR_PARSE, "special_tokens[\"<s>\"].ids"},
    {BPE_HEAD "},\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\"}},"
              "{\"Sequence\":{\"id\":\"A\"}}],\"special_tokens\":{\"<s>\":{\"ids\":[7]}}}}",
     FP8Q_ERR_PARSE, "id 7 is not in the vocabulary"},
    {BPE_HEAD "},\"decoder\":{\"type\":\"WordPiece\"}}", FP8Q_ERR_UNSUPPORTED, "decoder: type 'WordPiece'"},
    {BPE_HEAD "},\"decoder\":{\"type\":\"Strip\",\"content\":\" \",\"start\":-1,\"stop\":0}}", FP8Q_ERR_PARSE,
     "decoder.start"},
};

static void test_malformed(void)
{
    size_t i;
    for (i = 0; i < sizeof g_bad / sizeof g_bad[0]; i++) {
        fp8q_tokenizer *t = (fp8q_tokenizer *)&g_bad; /* must be reset to NULL */
        fp8q_error err;
        fp8q_result r = fp8q_tokenizer_parse_json(&t, g_bad[i].json, strlen(g_bad[i].json), &err);
        CHECK(r == g_bad[i].code && t == NULL && err.code == (int)r && strstr(err.message, g_bad[i].message),
              "bad json %lu: got %d '%s', want %d '...%s...'", (unsigned long)i, (int)r, err.message,
              (int)g_bad[i].code, g_bad[i].message);
        if (r == FP8Q_OK) fp8q_tokenizer_free(t);
    }
    {
        fp8q_tokenizer *t = NULL;
        fp8q_error err;
        static const char *ok = BPE_HEAD "}}";
        CHECK(fp8q_tokenizer_parse_json(&t, ok, strlen(ok), &err) == FP8Q_OK, "the minimal file: %s", err.message);
        fp8q_tokenizer_free(t);
        CHECK(fp8q_tokenizer_parse_json(&t, ok, strlen(ok), NULL) == FP8Q_OK, "NULL err");
        fp8q_tokenizer_free(t);
        CHECK(fp8q_tokenizer_parse_json(&t, "{\"model\":{}", 11, NULL) == FP8Q_ERR_PARSE, "NULL err on failure");
    }
}

static void test_malformed_spec(void)
{
    const char *tok[4] = {"a", "b", "ab", "a"}, *merges[2] = {"a b", "a  b"}, *bad_utf8[2] = {"a", "\xC3"};
    size_t lens[4] = {1, 1, 2, 1};
    int32_t types[4] = {1, 1, 1, 9};
    fp8q_tokenizer_spec s;
    fp8q_tokenizer *t = NULL;
    fp8q_error err;
    memset(&s, 0, sizeof s);
    s.model = "gpt2";
    s.tokens = tok;
    s.token_lens = lens;
    s.n_tokens = 3;
    s.merges = merges;
    s.n_merges = 1;
    s.bos = s.eos = s.unk = s.pad = -1;
    s.add_bos = s.add_eos = s.add_space_prefix = -1;
    CHECK(fp8q_tokenizer_from_spec(&t, &s, &err) == FP8Q_OK, "minimal spec: %s", err.message);
    if (t) {
        size_t n = 0;
        CHECK(fp8q_tokenizer_encode(t, "abab", 4, 3, g_got, 8, &n, &err) == FP8Q_OK && n == 2 && g_got[0] == 2 &&
                  g_got[1] == 2,
              "minimal spec encodes 'abab' as [2 2], got %lu ids", (unsigned long)n);
    }
    fp8q_tokenizer_free(t);
    s.n_tokens = 4;
    CHECK(fp8q_tokenizer_from_spec(&t, &s, &err) == FP8Q_ERR_PARSE && t == NULL &&
              strstr(err.message, "tokenizer spec: tokens: token 'a' appears twice (ids 0 and 3)"),
          "duplicate token: %s", err.message);
    s.n_tokens = 3;
    s.token_types = types;
    s.n_tokens = 4;
    tok[3] = "c";
    CHECK(fp8q_tokenizer_from_spec(&t, &s, &err) == FP8Q_ERR_PARSE && strstr(err.message, "token_types[3]: 9"),
          "bad type: %s", err.message);
    s.token_types = NULL;
    s.n_merges = 2;
    CHECK(fp8q_tokenizer_from_spec(&t, &s, &err) == FP8Q_ERR_PARSE && strstr(err.message, "merges[1]"),
          "two spaces: %s", err.message);
    s.n_merges = 1;
    s.bos = 4;
    CHECK(fp8q_tokenizer_from_spec(&t, &s, &err) == FP8Q_ERR_PARSE && strstr(err.message, "bos id 4"),
          "bos out of range: %s", err.message);
    s.bos = -1;
    s.pre = "qwen2";
    CHECK(fp8q_tokenizer_from_spec(&t, &s, &err) == FP8Q_ERR_UNSUPPORTED && strstr(err.message, "pre 'qwen2'"),
          "unsupported pre: %s", err.message);
    s.pre = NULL;
    s.model = "bert";
    CHECK(fp8q_tokenizer_from_spec(&t, &s, &err) == FP8Q_ERR_UNSUPPORTED && strstr(err.message, "model 'bert'"),
          "unsupported model: %s", err.message);
    s.model = "llama";
    s.n_merges = 0;
    CHECK(fp8q_tokenizer_from_spec(&t, &s, &err) == FP8Q_ERR_PARSE && strstr(err.message, "needs scores"),
          "llama without scores: %s", err.message);
    s.model = "gpt2";
    s.tokens = bad_utf8;
    s.token_lens = NULL;
    s.n_tokens = 2;
    CHECK(fp8q_tokenizer_from_spec(&t, &s, &err) == FP8Q_ERR_PARSE && strstr(err.message, "tokens[1] is not valid"),
          "invalid UTF-8: %s", err.message);
    CHECK(fp8q_tokenizer_from_spec(&t, NULL, &err) == FP8Q_ERR_ARG, "NULL spec");
}

/* ---- speed */

static void test_speed(void)
{
    fp8q_tokenizer *t = load_named("smollm2");
    char *text;
    size_t len = 0, i = 0, n = 0;
    int32_t *ids;
    clock_t c0;
    double s;
    fp8q_error err;
    if (!t) return;
    text = (char *)malloc(1 << 21);
    while (len < (1 << 20)) { /* the corpus, repeated to 1 MiB */
        const bytes *b = &g_case[i++ % g_ncases];
        if (len + b->n + 1 > (1 << 21)) break;
        memcpy(text + len, b->p, b->n);
        len += b->n;
        text[len++] = '\n';
    }
    ids = (int32_t *)malloc(len * sizeof *ids);
    c0 = clock();
    CHECK(fp8q_tokenizer_encode(t, text, len, 2, ids, len, &n, &err) == FP8Q_OK, "%s", err.message);
    s = (double)(clock() - c0) / CLOCKS_PER_SEC;
    printf("    speed: smollm2 encodes %lu bytes into %lu tokens in %.3f s: %.0f tokens/s, %.1f MB/s\n",
           (unsigned long)len, (unsigned long)n, s, s > 0 ? n / s : 0.0, s > 0 ? len / s / 1e6 : 0.0);
    /* catches quadratic merging, not speed: 100x wider under valgrind */
    CHECK(s < (getenv("FP8Q_TEST_VALGRIND") ? 500.0 : 5.0), "encoding 1 MiB took %.2f s", s);
    free(text);
    free(ids);
    fp8q_tokenizer_free(t);
}

int main(int argc, char **argv)
{
    size_t i;
    if (argc > 1) g_dir = argv[1];
    if (!load_corpus()) {
        printf("cannot read %s/corpus.txt\n", g_dir);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    run_case("smollm2 tokenizer.json vs tokenizers", test_smollm2);
    run_case("spm (Llama-2 style) vs tokenizers", test_spm);
    run_case("bytebpe (GPT-2 style, added tokens) vs tokenizers", test_bytebpe);
    run_case("llama3 (Llama-3 regex) vs tokenizers", test_llama3);
    run_case("spm_unk (fused <unk>, normalized added token) vs tokenizers", test_spm_unk);
    run_case("metaspace (Metaspace first) vs tokenizers", test_metaspace);
    run_case("metaspace_split (Metaspace split) vs tokenizers", test_metaspace_split);
    run_case("smollm2 from GGUF arrays", test_smollm2_spec);
    run_case("spm from GGUF arrays (merges from scores)", test_spm_spec);
    run_case("smollm2 from a GGUF file's metadata (fp8q_gguf_tokenizer)", test_smollm2_gguf);
    run_case("chat templates vs transformers", test_chat);
    run_case("chat: unsupported and invalid", test_chat_unsupported);
    run_case("pieces and lookups", test_pieces);
    run_case("API edge cases", test_api_edges);
    run_case("malformed tokenizer.json", test_malformed);
    run_case("malformed specs", test_malformed_spec);
    run_case("speed", test_speed);
    for (i = 0; i < g_ncases; i++) free(g_case[i].p);
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed != 0;
}
