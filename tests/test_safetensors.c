/* fp8q safetensors tests: hostile headers (each must fail with the expected code and message), limits, open() on
   directories and missing files, write -> parse round trips for every dtype, file round trips through mmap with
   read_f32, and the writer's bytes against a header built by hand from the format description. Build a second time
   with -DFP8Q_MAX_TENSORS=5 -DFP8Q_MAX_HEADER_SIZE=4096 to exercise the limits. Ends with "N passed, N failed". */
#define FP8Q_IMPLEMENTATION
#include "../fp8q.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__unix__) || defined(__APPLE__)
#include <sys/stat.h>
#include <unistd.h>
#define HAVE_POSIX 1
#endif

/* ------------------------------------------------------------- harness */

#include "harness.h"

/* ------------------------------------------------------------- helpers */

static void put_le64(unsigned char *p, uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* 8-byte LE length + header text + data bytes (0, 1, 2, ...). Caller frees. */
static unsigned char *build(const char *json, size_t jlen, uint64_t hlen_field, size_t data, size_t *len)
{
    unsigned char *b = (unsigned char *)malloc(8 + jlen + data + 1);
    size_t i;
    put_le64(b, hlen_field);
    memcpy(b + 8, json, jlen);
    for (i = 0; i < data; i++) b[8 + jlen + i] = (unsigned char)i;
    *len = 8 + jlen + data;
    return b;
}

static int zeroed(const fp8q_safetensors *st)
{
    return st->n_tensors == 0 && !st->tensors && st->n_metadata == 0 && !st->meta_keys && !st->meta_values &&
           !st->data && st->data_size == 0 && !st->fp8q__owned;
}

static const char *tmpdir(void)
{
    const char *d = getenv("TMPDIR");
    return d && *d ? d : "/tmp";
}

static void tmp_path(char *buf, size_t cap, const char *name)
{
#ifdef HAVE_POSIX
    snprintf(buf, cap, "%s/fp8q_st_test_%ld_%s", tmpdir(), (long)getpid(), name);
#else
    snprintf(buf, cap, "%s/fp8q_st_test_%s", tmpdir(), name);
#endif
}

#define T1(name, dt, shape, offs) "\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":" offs "}"

/* ------------------------------------------------------- hostile table */

enum { NORMAL, CUT, HLEN, HLEN_PLUS, NUL_AT };

typedef struct hrow {
    const char *json;
    size_t data; /* data bytes after the header */
    int mode; /* CUT: keep the first arg bytes; HLEN: length field = arg; HLEN_PLUS: strlen + arg; NUL_AT: '@' -> 0 */
    uint64_t arg;
    int code;
    const char *frag;
} hrow;

static const hrow g_rows[] = {
    /* length prefix */
    {"", 0, CUT, 0, FP8Q_ERR_PARSE, "file is 0 bytes, too short"},
    {"", 0, CUT, 7, FP8Q_ERR_PARSE, "file is 7 bytes, too short"},
    {"{" T1("a", "U8", "[1]", "[0,1]") "}", 1, CUT, 20, FP8Q_ERR_PARSE, "exceeds the 12 bytes after it"},
    {"{}", 0, HLEN, (uint64_t)1 << 63, FP8Q_ERR_PARSE, "header length 9223372036854775808 (little-endian u64"},
    {"{}", 0, HLEN, UINT64_MAX, FP8Q_ERR_PARSE, "header length 18446744073709551615"},
    {"{}", 4, HLEN_PLUS, 5, FP8Q_ERR_PARSE, "header length 7 (little-endian u64 at byte 0) exceeds the 6 bytes"},
    /* not JSON, not an object, not UTF-8 */
    {"hello", 0, NORMAL, 0, FP8Q_ERR_PARSE, "JSON header: "},
    {"", 0, NORMAL, 0, FP8Q_ERR_PARSE, "JSON header: expected a JSON value"},
    {"[]", 0, NORMAL, 0, FP8Q_ERR_PARSE, "the header is an array, not an object"},
    {"\"x\"", 0, NORMAL, 0, FP8Q_ERR_PARSE, "the header is a string, not an object"},
    {"{\"a\xff\":{}}", 0, NORMAL, 0, FP8Q_ERR_PARSE, "UTF-8"},
    {"{\"\xc0\xaf\":{}}", 0, NORMAL, 0, FP8Q_ERR_PARSE, "overlong"},
    {"{\"\xed\xa0\x80\":{}}", 0, NORMAL, 0, FP8Q_ERR_PARSE, "UTF-8"},
    {"{}@   ", 0, NUL_AT, 0, FP8Q_ERR_PARSE, "JSON header: "},
    {"{} x", 0, NORMAL, 0, FP8Q_ERR_PARSE, "JSON header: "},
    {"\xEF\xBB\xBF{}", 0, NORMAL, 0, FP8Q_ERR_PARSE, "byte order mark"},
    {"{\"a\":{\"dtype\":\"F32\",}}", 0, NORMAL, 0, FP8Q_ERR_PARSE, "JSON header: "},
    {"{" T1("a", "U8", "[Infinity]", "[0,1]") "}", 1, NORMAL, 0, FP8Q_ERR_PARSE, "JSON header: "},
    /* tensor entries */
    {"{\"a\":[1]}", 0, NORMAL, 0, FP8Q_ERR_PARSE,
     "tensor 'a': expected an object with dtype, shape and data_offsets, got an array"},
    {"{" T1("a", "F7", "[1]", "[0,1]") "}", 1, NORMAL, 0, FP8Q_ERR_PARSE, "tensor 'a': unknown dtype 'F7'"},
    {"{" T1("a", "f32", "[1]", "[0,4]") "}", 4, NORMAL, 0, FP8Q_ERR_PARSE, "unknown dtype 'f32'"},
    {"{" T1("a", "F8_E4M3_AND_MORE_STUFF", "[1]", "[0,1]") "}", 1, NORMAL, 0, FP8Q_ERR_PARSE,
     "unknown dtype 'F8_E4M3_AND_MOR' (cut)"},
    {"{\"a\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,1]}}", 1, NORMAL, 0, FP8Q_ERR_PARSE,
     "tensor 'a': dtype is a number, not a string"},
    {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1, NORMAL, 0, FP8Q_ERR_PARSE,
     "tensor 'a': missing field 'dtype'"},
    {"{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1, NORMAL, 0, FP8Q_ERR_PARSE,
     "tensor 'a': missing field 'shape'"},
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1, NORMAL, 0, FP8Q_ERR_PARSE,
     "tensor 'a': missing field 'data_offsets'"},
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"extra\":0}}", 1, NORMAL, 0, FP8Q_ERR_PARSE,
     "tensor 'a': unknown field 'extra'"},
    {"{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, NORMAL, 0, FP8Q_ERR_PARSE,
     "duplicate key"},
    {"{" T1("a", "U8", "[-1]", "[0,1]") "}", 1, NORMAL, 0, FP8Q_ERR_PARSE, "tensor 'a': shape[0] is negative"},
    {"{" T1("a", "U8", "[-0]", "[0,0]") "}", 0, NORMAL, 0, FP8Q_ERR_PARSE, "shape[0] is negative"},
    {"{" T1("a", "U8", "[1,1.5]", "[0,1]") "}", 1, NORMAL, 0, FP8Q_ERR_PARSE, "tensor 'a': shape[1] is not an integer"},
    {"{" T1("a", "U8", "[1e0]", "[0,1]") "}", 1, NORMAL, 0, FP8Q_ERR_PARSE, "shape[0] is not an integer"},
    {"{" T1("a", "U8", "[9223372036854775808]", "[0,1]") "}", 1, NORMAL, 0, FP8Q_ERR_LIMIT,
     "shape[0] does not fit in int64"},
    {"{" T1("a", "U8", "[123456789012345678901234567890]", "[0,1]") "}", 1, NORMAL, 0, FP8Q_ERR_LIMIT,
     "does not fit in int64"},
    {"{" T1("a", "U8", "[\"1\"]", "[0,1]") "}", 1, NORMAL, 0, FP8Q_ERR_PARSE,
     "shape[0] is a string, not a non-negative integer"},
    {"{" T1("a", "U8", "4", "[0,4]") "}", 4, NORMAL, 0, FP8Q_ERR_PARSE, "tensor 'a': shape is a number, not an array"},
    {"{" T1("a", "U8", "[1,1,1,1,1,1,1,1,1]", "[0,1]") "}", 1, NORMAL, 0, FP8Q_ERR_LIMIT, "shape has 9 dimensions"},
    {"{" T1("a", "U8", "[1099511627776,1099511627776]", "[0,1]") "}", 1, NORMAL, 0, FP8Q_ERR_PARSE,
     "shape [1099511627776, 1099511627776] has more than 2^64 - 1 elements"},
    {"{" T1("a", "F64", "[2305843009213693952]", "[0,1]") "}", 1, NORMAL, 0, FP8Q_ERR_PARSE,
     "of F64 needs more than 2^64 - 1 bits"},
    {"{" T1("a", "U8", "[4]", "[4,0]") "}", 4, NORMAL, 0, FP8Q_ERR_PARSE,
     "tensor 'a': data_offsets [4, 0] end before they begin"},
    {"{" T1("a", "U8", "[4]", "[0,4,8]") "}", 4, NORMAL, 0, FP8Q_ERR_PARSE,
     "data_offsets must be an array of 2 integers, got an array of 3"},
    {"{" T1("a", "U8", "[4]", "\"0,4\"") "}", 4, NORMAL, 0, FP8Q_ERR_PARSE,
     "data_offsets must be an array of 2 integers, got a string"},
    {"{" T1("a", "U8", "[4]", "[-4,0]") "}", 4, NORMAL, 0, FP8Q_ERR_PARSE, "data_offsets[0] is negative"},
    {"{" T1("a", "U8", "[4]", "[0,4.0]") "}", 4, NORMAL, 0, FP8Q_ERR_PARSE, "data_offsets[1] is not an integer"},
    {"{" T1("a", "U8", "[4]", "[0,null]") "}", 4, NORMAL, 0, FP8Q_ERR_PARSE, "data_offsets[1] is null"},
    {"{" T1("a", "U8", "[1]", "[0,18446744073709551616]") "}", 1, NORMAL, 0, FP8Q_ERR_LIMIT,
     "data_offsets[1] does not fit in int64"},
    /* layout */
    {"{" T1("a", "U8", "[8]", "[0,8]") "," T1("b", "U8", "[8]", "[4,12]") "}", 12, NORMAL, 0, FP8Q_ERR_PARSE,
     "tensor 'a' ends at byte 8 but tensor 'b' starts at byte 4 (overlap)"},
    {"{" T1("a", "U8", "[8]", "[0,8]") "," T1("b", "U8", "[8]", "[0,8]") "}", 8, NORMAL, 0, FP8Q_ERR_PARSE,
     "(overlap)"},
    {"{" T1("b", "U8", "[8]", "[48,56]") "," T1("a", "U8", "[40]", "[0,40]") "}", 56, NORMAL, 0, FP8Q_ERR_PARSE,
     "tensor 'a' ends at byte 40 but tensor 'b' starts at byte 48 (gap)"},
    {"{" T1("a", "U8", "[4]", "[4,8]") "}", 8, NORMAL, 0, FP8Q_ERR_PARSE,
     "tensor 'a': the first tensor starts at byte 4, not 0 (gap)"},
    {"{" T1("a", "U8", "[4]", "[0,4]") "}", 8, NORMAL, 0, FP8Q_ERR_PARSE,
     "the tensors end at byte 4 but the data section has 8 bytes"},
    {"{}", 3, NORMAL, 0, FP8Q_ERR_PARSE, "no tensors but the data section has 3 bytes"},
    {"{" T1("a", "U8", "[8]", "[0,8]") "}", 4, NORMAL, 0, FP8Q_ERR_PARSE,
     "tensor 'a': ends at byte 8, beyond the data section of 4 bytes"},
    {"{" T1("a", "U8", "[8]", "[0,8]") "," T1("z", "U8", "[0]", "[4,4]") "}", 8, NORMAL, 0, FP8Q_ERR_PARSE,
     "(overlap)"},
    {"{" T1("model.layers.0.mlp.up_proj.weight", "F8_E4M3", "[10,20]", "[0,100]") "}", 100, NORMAL, 0, FP8Q_ERR_PARSE,
     "tensor 'model.layers.0.mlp.up_proj.weight': data_offsets [0, 100] hold 100 bytes but shape [10, 20] of F8_E4M3 "
     "needs 200"},
    {"{" T1("a", "F32", "[]", "[0,8]") "}", 8, NORMAL, 0, FP8Q_ERR_PARSE, "hold 8 bytes but shape [] of F32 needs 4"},
    {"{" T1("a", "F4", "[3]", "[0,2]") "}", 2, NORMAL, 0, FP8Q_ERR_PARSE,
     "tensor 'a': shape [3] of F4 is 12 bits, not a whole number of bytes"},
    {"{" T1("a", "F6_E2M3", "[1]", "[0,1]") "}", 1, NORMAL, 0, FP8Q_ERR_PARSE, "of F6_E2M3 is 6 bits"},
    /* names */
    {"{" T1("a", "U8", "[1]", "[0,1]") "," T1("a", "U8", "[1]", "[1,2]") "}", 2, NORMAL, 0, FP8Q_ERR_PARSE,
     "duplicate key"},
    {"{" T1("a", "U8", "[1]", "[0,1]") "," T1("\\u0061", "U8", "[1]", "[1,2]") "}", 2, NORMAL, 0, FP8Q_ERR_PARSE,
     "duplicate key"},
    {"{" T1("a\\u0000b", "U8", "[1]", "[0,1]") "}", 1, NORMAL, 0, FP8Q_ERR_PARSE,
     "tensor name 'a' contains a NUL character"},
    /* metadata */
    {"{\"__metadata__\":{\"k\":1}}", 0, NORMAL, 0, FP8Q_ERR_PARSE,
     "__metadata__ value for 'k' is a number, not a string"},
    {"{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", 0, NORMAL, 0, FP8Q_ERR_PARSE,
     "__metadata__ value for 'k' is an object"},
    {"{\"__metadata__\":\"pt\"}", 0, NORMAL, 0, FP8Q_ERR_PARSE, "__metadata__ is a string, not an object of strings"},
    {"{\"__metadata__\":[]}", 0, NORMAL, 0, FP8Q_ERR_PARSE, "__metadata__ is an array"},
    {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, NORMAL, 0, FP8Q_ERR_PARSE, "duplicate key"},
    {"{\"__metadata__\":{\"k\":\"a\\u0000\"}}", 0, NORMAL, 0, FP8Q_ERR_PARSE,
     "__metadata__ value for 'k' contains a NUL"},
    {"{\"__metadata__\":{\"k\\u0000\":\"a\"}}", 0, NORMAL, 0, FP8Q_ERR_PARSE, "__metadata__ key 'k' contains a NUL"},
};

static void test_hostile(void)
{
    size_t r, nrows = sizeof g_rows / sizeof g_rows[0];
    CHECK(nrows >= 40, "only %d rows", (int)nrows);
    for (r = 0; r < nrows; r++) {
        const hrow *w = &g_rows[r];
        size_t jlen = strlen(w->json), len, i;
        uint64_t hl = w->mode == HLEN ? w->arg : w->mode == HLEN_PLUS ? jlen + w->arg : jlen;
        unsigned char *b = build(w->json, jlen, hl, w->data, &len);
        fp8q_safetensors st;
        fp8q_error err;
        fp8q_result res;
        if (w->mode == CUT) len = (size_t)w->arg;
        if (w->mode == NUL_AT)
            for (i = 8; i < 8 + jlen; i++)
                if (b[i] == '@') b[i] = 0;
        memset(&st, 0x55, sizeof st);
        memset(&err, 0x55, sizeof err);
        res = fp8q_safetensors_parse(&st, b, len, &err);
        CHECK((int)res == w->code && err.code == w->code, "row %d (%s): code %d/%d, want %d: %s", (int)r, w->json,
              (int)res, err.code, w->code, err.message);
        CHECK(strstr(err.message, w->frag) != NULL, "row %d: message \"%s\" lacks \"%s\"", (int)r, err.message,
              w->frag);
        CHECK(strlen(err.message) < sizeof err.message, "row %d: message not terminated", (int)r);
        CHECK(err.offset <= len, "row %d: offset %d beyond the file (%d)", (int)r, (int)err.offset, (int)len);
        CHECK(zeroed(&st), "row %d: st not zeroed on failure", (int)r);
        fp8q_safetensors_close(&st);
        fp8q_safetensors_close(&st);
        /* NULL err must work too */
        CHECK((int)fp8q_safetensors_parse(&st, b, len, NULL) == w->code, "row %d: code differs with err NULL", (int)r);
        free(b);
    }
}

/* err->offset points into the file at the offending value. */
static void test_offsets(void)
{
    static const struct {
        const char *json, *at;
        size_t data;
    } rows[] = {
        {"{" T1("a", "F7", "[1]", "[0,1]") "}", "\"F7\"", 1},
        {"{" T1("a", "U8", "[1,-1]", "[0,1]") "}", "-1]", 1},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"extra\":0}}", "\"extra\"", 1},
        {"{" T1("a", "U8", "[4]", "[0,4]") "," T1("b", "U8", "[4]", "[8,12]") "}", "[8,12]", 12},
        {"{\n\"__metadata__\": {\"k\": 1}}", "1}}", 0},
        {"{\n  \"a\": tru}", "tru}", 0},
    };
    size_t r;
    for (r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        size_t jlen = strlen(rows[r].json), len, want = 8 + (size_t)(strstr(rows[r].json, rows[r].at) - rows[r].json);
        unsigned char *b = build(rows[r].json, jlen, jlen, rows[r].data, &len);
        fp8q_safetensors st;
        fp8q_error err;
        CHECK(fp8q_safetensors_parse(&st, b, len, &err) != FP8Q_OK && err.offset == want,
              "row %d: offset %d, want %d (%s)", (int)r, (int)err.offset, (int)want, err.message);
        free(b);
    }
}

/* Valid oddities the reader must accept. */
static void test_valid_headers(void)
{
    static const struct {
        const char *json;
        size_t data;
        size_t nt, nm;
    } ok[] = {
        {"{}", 0, 0, 0},
        {"{}      ", 0, 0, 0},
        {" \n\t{ } \r\n", 0, 0, 0},
        {"{\"__metadata__\":{}}", 0, 0, 0},
        {"{\"__metadata__\":{\"format\":\"pt\",\"x\":\"\\u00e9\\n\"}}", 0, 0, 2},
        {"{" T1("a", "U8", "[0]", "[0,0]") "," T1("b", "U8", "[0,5]", "[0,0]") "}", 0, 2, 0},
        {"{" T1("e", "F32", "[0]", "[4,4]") "," T1("a", "F32", "[]", "[0,4]") "," T1("z", "F32", "[0]", "[4,4]") "}", 4,
         3, 0},
        {"{" T1("e", "F32", "[0]", "[0,0]") "," T1("a", "F32", "[1]", "[0,4]") "," T1("z", "BF16", "[2]", "[4,8]") "}",
         8, 3, 0},
        {"{\"data_offsets\":{\"shape\":[2],\"data_offsets\":[0,1],\"dtype\":\"F4\"}}", 1, 1, 0},
        {"{" T1("\\u00e9\\ud83d\\ude00", "F6_E3M2", "[4]", "[0,3]") "}", 3, 1, 0},
        {"{" T1("a", "U8", "[1,1,1,1,1,1,1,1]", "[0,1]") "}", 1, 1, 0},
        {"{" T1("a", "U8", "[9223372036854775807,0]", "[0,0]") "}", 0, 1, 0},
    };
    size_t r;
    for (r = 0; r < sizeof ok / sizeof ok[0]; r++) {
        size_t jlen = strlen(ok[r].json), len;
        unsigned char *b = build(ok[r].json, jlen, jlen, ok[r].data, &len);
        fp8q_safetensors st;
        fp8q_error err;
        fp8q_result res = fp8q_safetensors_parse(&st, b, len, &err);
        CHECK(res == FP8Q_OK && err.code == 0 && err.message[0] == 0, "ok row %d: %s", (int)r, err.message);
        if (res == FP8Q_OK) {
            CHECK(st.n_tensors == ok[r].nt && st.n_metadata == ok[r].nm, "ok row %d: counts %d %d", (int)r,
                  (int)st.n_tensors, (int)st.n_metadata);
            CHECK(st.data == b + 8 + jlen && st.data_size == ok[r].data, "ok row %d: data", (int)r);
        }
        fp8q_safetensors_close(&st);
        CHECK(zeroed(&st), "close zeroes");
        free(b);
    }
    {
        /* details of one: unicode name, metadata strings unescaped, find */
        const char *json = "{\"__metadata__\":{\"format\":\"pt\",\"x\":\"\\u00e9\\n\"}," T1(
            "\\u00e9\\ud83d\\ude00", "F6_E3M2", "[4]", "[0,3]") "}";
        size_t len;
        unsigned char *b = build(json, strlen(json), strlen(json), 3, &len);
        fp8q_safetensors st;
        const fp8q_tensor_info *t;
        CHECK(fp8q_safetensors_parse(&st, b, len, NULL) == FP8Q_OK, "parse");
        CHECK(st.n_metadata == 2 && strcmp(st.meta_keys[0], "format") == 0 && strcmp(st.meta_values[0], "pt") == 0 &&
                  strcmp(st.meta_keys[1], "x") == 0 && strcmp(st.meta_values[1], "\xc3\xa9\n") == 0,
              "metadata");
        t = fp8q_safetensors_find(&st, "\xc3\xa9\xf0\x9f\x98\x80");
        CHECK(t && t == &st.tensors[0] && (int)t->dtype == FP8Q_F6_E3M2 && t->numel == 4 && t->size == 3,
              "unicode name");
        CHECK(fp8q_safetensors_bytes(&st, t) == st.data, "bytes");
        {
            float f[4];
            fp8q_error err;
            CHECK(fp8q_safetensors_read_f32(&st, t, f, &err) == FP8Q_ERR_UNSUPPORTED && strstr(err.message, "F6_E3M2"),
                  "F6 read_f32 unsupported: %s", err.message);
        }
        fp8q_safetensors_close(&st);
        free(b);
    }
}

static void test_limits(void)
{
    /* header length above FP8Q_MAX_HEADER_SIZE, and FP8Q_MAX_TENSORS + 1 tensors: only with small limits */
#if FP8Q_MAX_HEADER_SIZE <= 1000000
    {
        size_t jlen = (size_t)FP8Q_MAX_HEADER_SIZE + 1, len;
        char *json = (char *)malloc(jlen + 1);
        unsigned char *b;
        fp8q_safetensors st;
        fp8q_error err;
        memset(json, ' ', jlen);
        json[0] = '{';
        json[1] = '}';
        b = build(json, jlen, jlen, 0, &len);
        CHECK(fp8q_safetensors_parse(&st, b, len, &err) == FP8Q_ERR_LIMIT &&
                  strstr(err.message, "FP8Q_MAX_HEADER_SIZE"),
              "header size limit: %s", err.message);
        free(b);
        b = build(json, jlen - 1, jlen - 1, 0, &len);
        CHECK(fp8q_safetensors_parse(&st, b, len, &err) == FP8Q_OK, "header at the limit: %s", err.message);
        fp8q_safetensors_close(&st);
        free(b);
        free(json);
    }
#else
    printf("    (header size limit not exercised: build with -DFP8Q_MAX_HEADER_SIZE=4096)\n");
#endif
#if FP8Q_MAX_TENSORS <= 100000
    {
        size_t n, k;
        for (n = FP8Q_MAX_TENSORS; n <= (size_t)FP8Q_MAX_TENSORS + 1; n++) {
            char *json = (char *)malloc(n * 80 + 8), *p = json;
            unsigned char *b;
            size_t len;
            fp8q_safetensors st;
            fp8q_error err;
            fp8q_result r;
            *p++ = '{';
            for (k = 0; k < n; k++)
                p += sprintf(p, "%s\"t%d\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[%d,%d]}", k ? "," : "",
                             (int)k, (int)k, (int)k + 1);
            *p++ = '}';
            b = build(json, (size_t)(p - json), (uint64_t)(p - json), n, &len);
            r = fp8q_safetensors_parse(&st, b, len, &err);
            if (n == FP8Q_MAX_TENSORS)
                CHECK(r == FP8Q_OK && st.n_tensors == n, "%d tensors (the limit): %s", (int)n, err.message);
            else
                CHECK(r == FP8Q_ERR_LIMIT && strstr(err.message, "tensors exceed FP8Q_MAX_TENSORS"), "%d tensors: %s",
                      (int)n, err.message);
            fp8q_safetensors_close(&st);
            free(b);
            free(json);
        }
    }
#else
    printf("    (tensor count limit not exercised: build with -DFP8Q_MAX_TENSORS=5)\n");
#endif
}

/* ------------------------------------------------------- dtype table */

static void test_dtypes(void)
{
    static const char *names[] = {"F32",     "BF16",        "F16",         "F64",     "I8",      "U8",      "I16",
                                  "U16",     "I32",         "U32",         "I64",     "U64",     "BOOL",    "F8_E4M3",
                                  "F8_E5M2", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4"};
    static const int bits[] = {32, 16, 16, 64, 8, 8, 16, 16, 32, 32, 64, 64, 8, 8, 8, 8, 8, 8, 6, 6, 4};
    int i;
    fp8q_dtype d;
    CHECK(FP8Q_DTYPE_COUNT == 21 && FP8Q_F64 == 3 && FP8Q_F4 == 20, "enum values");
    for (i = 0; i < FP8Q_DTYPE_COUNT; i++) {
        const fp8q_dtype_info *di = fp8q_dtype_get((fp8q_dtype)i);
        CHECK(di && (int)di->dtype == i && strcmp(di->name, names[i]) == 0 && di->bits == bits[i], "row %d", i);
        CHECK(fp8q_dtype_from_name(names[i], strlen(names[i]), &d) && (int)d == i, "from_name %s", names[i]);
        CHECK(!fp8q_dtype_from_name(names[i], strlen(names[i]) - 1, NULL) || i == 0 ||
                  strcmp(names[i], "F8_E4M3FNUZ") == 0,
              "prefix of %s", names[i]);
        CHECK(di && di->is_float == (i <= 3 || i >= 13), "is_float %d", i);
    }
    CHECK(!fp8q_dtype_get((fp8q_dtype)FP8Q_DTYPE_COUNT) && !fp8q_dtype_get((fp8q_dtype)-1), "out of range");
    CHECK(!fp8q_dtype_from_name("F8_E4M3FNUZX", 12, NULL) && !fp8q_dtype_from_name("", 0, NULL) &&
              !fp8q_dtype_from_name(NULL, 0, NULL),
          "unknown names");
    CHECK(fp8q_dtype_from_name("F8_E4M3FNUZ", 7, &d) && (int)d == FP8Q_F8_E4M3, "length respected");
    /* the FP8 rows agree with the formats table */
    CHECK(strcmp(fp8q_format_get(FP8Q_E4M3)->safetensors_dtype, names[FP8Q_F8_E4M3]) == 0 &&
              strcmp(fp8q_format_get(FP8Q_E5M2)->safetensors_dtype, names[FP8Q_F8_E5M2]) == 0 &&
              strcmp(fp8q_format_get(FP8Q_E4M3FNUZ)->safetensors_dtype, names[FP8Q_F8_E4M3FNUZ]) == 0 &&
              strcmp(fp8q_format_get(FP8Q_E5M2FNUZ)->safetensors_dtype, names[FP8Q_F8_E5M2FNUZ]) == 0,
          "format names");
}

/* ------------------------------------------------------- round trips */

static void test_roundtrip_mem(void)
{
    static const uint64_t shapes[][3] = {{2, 4, 0}, {4, 1, 0}, {8, 0, 0}};
    fp8q_tensor_out t[3 * FP8Q_DTYPE_COUNT + 2];
    char names[3 * FP8Q_DTYPE_COUNT + 2][32];
    unsigned char *data[3 * FP8Q_DTYPE_COUNT + 2];
    uint64_t zero_shape[2] = {0, 7}, sizes[3 * FP8Q_DTYPE_COUNT + 2];
    const char *mk[2] = {"format", "quote\"d\\"}, *mv[2] = {"pt", "line\nbreak \xe2\x82\xac"};
    size_t n = 0, i, len;
    void *out;
    fp8q_safetensors st;
    fp8q_error err;
    int d, k;
    for (d = 0; d < FP8Q_DTYPE_COUNT; d++)
        for (k = 0; k < 3; k++) {
            int bits = fp8q_dtype_get((fp8q_dtype)d)->bits;
            uint64_t numel = 1;
            int nd = k == 0 ? 2 : k == 1 ? 2 : 1;
            if (k == 2 && bits % 8 == 0) nd = 0; /* a 0-dim scalar where a whole byte count allows */
            for (i = 0; i < (size_t)nd; i++) numel *= shapes[k][i];
            sizes[n] = numel * (uint64_t)bits / 8;
            sprintf(names[n], "layer.%d.%s", k, fp8q_dtype_get((fp8q_dtype)d)->name);
            data[n] = (unsigned char *)malloc(sizes[n] + 1);
            for (i = 0; i < sizes[n]; i++) data[n][i] = (unsigned char)(i * 31 + (size_t)d * 7 + (size_t)k);
            t[n].name = names[n];
            t[n].dtype = (fp8q_dtype)d;
            t[n].ndim = nd;
            t[n].shape = shapes[k];
            t[n].data = data[n];
            n++;
        }
    /* a zero-size tensor in the middle of the data, and one at the end */
    memmove(&t[11], &t[10], sizeof t[0] * (n - 10));
    memmove(&sizes[11], &sizes[10], sizeof sizes[0] * (n - 10));
    memmove(&data[11], &data[10], sizeof data[0] * (n - 10));
    strcpy(names[n], "empty.middle");
    t[10].name = names[n];
    t[10].dtype = (fp8q_dtype)FP8Q_BF16;
    t[10].ndim = 2;
    t[10].shape = zero_shape;
    t[10].data = NULL;
    sizes[10] = 0;
    data[10] = NULL;
    n++;
    strcpy(names[n], "empty.end");
    t[n].name = names[n];
    t[n].dtype = (fp8q_dtype)FP8Q_F4;
    t[n].ndim = 1;
    t[n].shape = zero_shape;
    t[n].data = NULL;
    sizes[n] = 0;
    data[n] = NULL;
    n++;

    CHECK(fp8q_safetensors_write_mem(&out, &len, t, n, mk, mv, 2, &err) == FP8Q_OK, "write_mem: %s", err.message);
    if (!out) return;
    CHECK(len >= 8 && fp8q__st_le((const uint8_t *)out, 8) % 8 == 0, "header padded to 8");
    if (n > FP8Q_MAX_TENSORS) { /* the small-limits build */
        CHECK(fp8q_safetensors_parse(&st, out, len, &err) == FP8Q_ERR_LIMIT, "limit: %s", err.message);
        free(out);
        for (i = 0; i < n; i++) free(data[i]);
        return;
    }
    CHECK(fp8q_safetensors_parse(&st, out, len, &err) == FP8Q_OK, "parse: %s", err.message);
    CHECK(st.n_tensors == n && st.n_metadata == 2, "counts");
    CHECK(st.n_metadata == 2 && strcmp(st.meta_keys[0], mk[0]) == 0 && strcmp(st.meta_values[0], mv[0]) == 0 &&
              strcmp(st.meta_keys[1], mk[1]) == 0 && strcmp(st.meta_values[1], mv[1]) == 0,
          "metadata");
    {
        uint64_t off = 0;
        for (i = 0; i < n && i < st.n_tensors; i++) {
            const fp8q_tensor_info *r = &st.tensors[i];
            uint64_t numel = 1;
            for (d = 0; d < t[i].ndim; d++) numel *= t[i].shape[d];
            CHECK(strcmp(r->name, t[i].name) == 0, "name %d", (int)i);
            CHECK(r->dtype == t[i].dtype && r->ndim == t[i].ndim && r->numel == numel, "tensor %s fields", t[i].name);
            for (d = 0; d < FP8Q_SAFETENSORS_MAX_DIMS; d++)
                CHECK(r->shape[d] == (d < t[i].ndim ? t[i].shape[d] : 0), "tensor %s shape[%d]", t[i].name, d);
            CHECK(r->offset == off && r->size == sizes[i], "tensor %s offset/size", t[i].name);
            CHECK(sizes[i] == 0 || memcmp(fp8q_safetensors_bytes(&st, r), t[i].data, (size_t)sizes[i]) == 0,
                  "tensor %s bytes", t[i].name);
            CHECK(fp8q_safetensors_find(&st, t[i].name) == r, "find %s", t[i].name);
            off += sizes[i];
        }
        CHECK(st.data_size == off, "data size");
        CHECK(fp8q_safetensors_find(&st, "layer.0") == NULL && fp8q_safetensors_find(&st, "") == NULL &&
                  fp8q_safetensors_find(&st, "zzz") == NULL && fp8q_safetensors_find(&st, NULL) == NULL,
              "find absent");
    }
    fp8q_safetensors_close(&st);
    free(out);
    for (i = 0; i < n; i++) free(data[i]);
}

static void test_writer_reference_bytes(void)
{
    /* the format, by hand: LE u64 length N, N bytes of compact JSON padded with spaces to a multiple of 8, data */
    static const float a[2] = {1.0f, -2.0f};
    static const unsigned char a_le[8] = {0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0};
    static const unsigned char b_le[6] = {0x00, 0x3C, 0x00, 0x40, 0x00, 0xC2};
    const char *json = "{\"__metadata__\":{\"format\":\"pt\"},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"F16\",\"shape\":[1,3],\"data_offsets\":[8,14]}}";
    uint64_t sa[1] = {2}, sb[2] = {1, 3};
    fp8q_tensor_out t[2];
    const char *mk[1] = {"format"}, *mv[1] = {"pt"};
    size_t jl = strlen(json), pl = (jl + 7) / 8 * 8, len, i;
    unsigned char *want = (unsigned char *)malloc(8 + pl + 14);
    void *out;
    fp8q_error err;
    put_le64(want, pl);
    memcpy(want + 8, json, jl);
    for (i = jl; i < pl; i++) want[8 + i] = ' ';
    memcpy(want + 8 + pl, a_le, 8);
    memcpy(want + 8 + pl + 8, b_le, 6);
    t[0].name = "a";
    t[0].dtype = FP8Q_F32;
    t[0].ndim = 1;
    t[0].shape = sa;
    t[0].data = a_le;
    t[1].name = "b";
    t[1].dtype = FP8Q_F16;
    t[1].ndim = 2;
    t[1].shape = sb;
    t[1].data = b_le;
    (void)a;
    CHECK(jl % 8 != 0, "the example should need padding (%d)", (int)jl);
    CHECK(fp8q_safetensors_write_mem(&out, &len, t, 2, mk, mv, 1, &err) == FP8Q_OK, "write: %s", err.message);
    CHECK(out && len == 8 + pl + 14 && memcmp(out, want, len) == 0, "bytes differ from the hand-built file (%d vs %d)",
          (int)len, (int)(8 + pl + 14));
    free(out);
    /* without metadata: no __metadata__ key at all */
    CHECK(fp8q_safetensors_write_mem(&out, &len, t, 1, NULL, NULL, 0, &err) == FP8Q_OK, "write: %s", err.message);
    {
        const char *j2 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        size_t l2 = strlen(j2), p2 = (l2 + 7) / 8 * 8;
        CHECK(out && len == 8 + p2 + 8 && fp8q__st_le((const uint8_t *)out, 8) == p2 &&
                  memcmp((char *)out + 8, j2, l2) == 0 && ((char *)out)[8 + p2 - 1] == (p2 == l2 ? '}' : ' '),
              "no-metadata header");
    }
    free(out);
    /* no tensors at all */
    CHECK(fp8q_safetensors_write_mem(&out, &len, NULL, 0, NULL, NULL, 0, &err) == FP8Q_OK && len == 16 &&
              memcmp(out, "\x08\0\0\0\0\0\0\0{}      ", 16) == 0,
          "empty file");
    free(out);
    /* escaping as serde_json: \" \\ \n \t \b \f \r, other controls \u00xx lowercase, UTF-8 and DEL as is */
    {
        static const char *name = "q\"\\\n\t\b\f\r\x01\x1f\x7f\xc3\xa9/";
        const char *esc = "\"q\\\"\\\\\\n\\t\\b\\f\\r\\u0001\\u001f\x7f\xc3\xa9/\"";
        uint64_t s0[1] = {0};
        fp8q_tensor_out e;
        fp8q_safetensors st;
        e.name = name;
        e.dtype = FP8Q_F32;
        e.ndim = 1;
        e.shape = s0;
        e.data = NULL;
        CHECK(fp8q_safetensors_write_mem(&out, &len, &e, 1, NULL, NULL, 0, &err) == FP8Q_OK, "%s", err.message);
        CHECK(out && memcmp((char *)out + 9, esc, strlen(esc)) == 0, "escaped name: %.40s", (char *)out + 8);
        CHECK(fp8q_safetensors_parse(&st, out, len, &err) == FP8Q_OK && st.n_tensors == 1 &&
                  strcmp(st.tensors[0].name, name) == 0,
              "escaped name round trip: %s", err.message);
        fp8q_safetensors_close(&st);
        free(out);
    }
    free(want);
}

static void test_writer_rejects(void)
{
    uint64_t s1[1] = {3}, s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, sbig[2] = {(uint64_t)1 << 40, (uint64_t)1 << 40};
    unsigned char d[16] = {0};
    fp8q_tensor_out t[2];
    const char *mk[2] = {"k", "k"}, *mv[2] = {"a", "b"}, *badutf[1] = {"\xff"};
    void *out = (void *)1;
    size_t len = 1;
    fp8q_error err;
    t[0].name = "a";
    t[0].dtype = FP8Q_F32;
    t[0].ndim = 1;
    t[0].shape = s1;
    t[0].data = d;
    t[1] = t[0];
#define REJECT(n_, mk_, mv_, nm_, frag)                                                                                \
    do {                                                                                                               \
        fp8q_result r_ = fp8q_safetensors_write_mem(&out, &len, t, n_, mk_, mv_, nm_, &err);                           \
        CHECK(r_ == FP8Q_ERR_ARG && err.code == FP8Q_ERR_ARG && strstr(err.message, frag) && !out && len == 0,         \
              "reject %s: %d %s", frag, (int)r_, err.message);                                                         \
        free(out);                                                                                                     \
    } while (0)
    REJECT(2, NULL, NULL, 0, "duplicate tensor name 'a'");
    t[1].name = ""; /* an empty name is a name (the reader accepts it too) */
    CHECK(fp8q_safetensors_write_mem(&out, &len, t, 2, NULL, NULL, 0, &err) == FP8Q_OK, "empty name: %s", err.message);
    free(out);
    out = NULL, len = 0;
    t[1].name = "__metadata__";
    REJECT(2, NULL, NULL, 0, "reserved");
    t[1].name = "\xc0\x80";
    REJECT(2, NULL, NULL, 0, "not valid UTF-8");
    t[1].name = "\xed\xa0\x80";
    REJECT(2, NULL, NULL, 0, "not valid UTF-8");
    t[1].name = NULL;
    REJECT(2, NULL, NULL, 0, "name is NULL");
    t[1].name = "b";
    REJECT(2, mk, mv, 2, "duplicate metadata key 'k'");
    REJECT(2, badutf, mv, 1, "not valid UTF-8");
    REJECT(2, mk, badutf, 1, "not valid UTF-8");
    REJECT(2, NULL, mv, 1, "NULL");
    t[1].dtype = (fp8q_dtype)99;
    REJECT(2, NULL, NULL, 0, "unknown dtype 99");
    t[1].dtype = (fp8q_dtype)FP8Q_F4;
    REJECT(2, NULL, NULL, 0, "shape [3] of F4 is not a whole number of bytes");
    t[1].dtype = FP8Q_F32;
    t[1].ndim = 9;
    t[1].shape = s9;
    REJECT(2, NULL, NULL, 0, "ndim must be 0 to 8");
    t[1].ndim = -1;
    REJECT(2, NULL, NULL, 0, "ndim must be 0 to 8");
    t[1].ndim = 2;
    t[1].shape = sbig;
    REJECT(2, NULL, NULL, 0, "too large");
    t[1].shape = NULL;
    REJECT(2, NULL, NULL, 0, "shape array");
    t[1].shape = s1;
    t[1].data = NULL;
    t[1].ndim = 1;
    REJECT(2, NULL, NULL, 0, "data is NULL");
    CHECK(fp8q_safetensors_write_mem(&out, &len, t, 1, NULL, NULL, 0, &err) == FP8Q_OK && out && len > 8,
          "the first alone is fine: %s", err.message);
    free(out);
#undef REJECT
}

static void test_file_roundtrip(void)
{
    static const float vals[8] = {0.0f, 1.0f, -2.0f, 0.5f, 448.0f, -0.001953125f, 240.0f, -57344.0f};
    unsigned char f32[32], f16[16], bf16[16], f64[64], e4[8], e5[8], e8[8], i32[32];
    uint64_t s8[1] = {8}, s24[2] = {2, 4};
    fp8q_tensor_out t[8];
    char path[512];
    fp8q_safetensors st;
    fp8q_error err;
    float got[8], want;
    int i, k;
    for (i = 0; i < 8; i++) {
        uint32_t u;
        uint64_t v;
        uint16_t h = fp8q_f32_to_f16(vals[i]), b = fp8q_f32_to_bf16(vals[i]);
        double dv = (double)vals[i] + (i == 3 ? 1e-12 : 0.0); /* rounds back to 0.5 */
        memcpy(&u, &vals[i], 4);
        memcpy(&v, &dv, 8);
        for (k = 0; k < 4; k++) f32[4 * i + k] = (unsigned char)(u >> (8 * k));
        for (k = 0; k < 8; k++) f64[8 * i + k] = (unsigned char)(v >> (8 * k));
        f16[2 * i] = (unsigned char)h;
        f16[2 * i + 1] = (unsigned char)(h >> 8);
        bf16[2 * i] = (unsigned char)b;
        bf16[2 * i + 1] = (unsigned char)(b >> 8);
        e4[i] = fp8q_from_f32(vals[i], FP8Q_E4M3, FP8Q_SATFINITE);
        e5[i] = fp8q_from_f32(vals[i], FP8Q_E5M2, FP8Q_SATFINITE);
        e8[i] = (unsigned char)(120 + i);
        for (k = 0; k < 4; k++) i32[4 * i + k] = (unsigned char)(i + k);
    }
    for (i = 0; i < 8; i++) {
        t[i].ndim = i % 2 ? 2 : 1;
        t[i].shape = i % 2 ? s24 : s8;
    }
    t[0].name = "f32", t[0].dtype = FP8Q_F32, t[0].data = f32;
    t[1].name = "f16", t[1].dtype = FP8Q_F16, t[1].data = f16;
    t[2].name = "bf16", t[2].dtype = FP8Q_BF16, t[2].data = bf16;
    t[3].name = "f64", t[3].dtype = (fp8q_dtype)FP8Q_F64, t[3].data = f64;
    t[4].name = "e4m3", t[4].dtype = (fp8q_dtype)FP8Q_F8_E4M3, t[4].data = e4;
    t[5].name = "e5m2", t[5].dtype = (fp8q_dtype)FP8Q_F8_E5M2, t[5].data = e5;
    t[6].name = "e8m0", t[6].dtype = (fp8q_dtype)FP8Q_F8_E8M0, t[6].data = e8;
    t[7].name = "i32", t[7].dtype = (fp8q_dtype)FP8Q_I32, t[7].data = i32;
    tmp_path(path, sizeof path, "rt.safetensors");
    CHECK(fp8q_safetensors_write(path, t, 8, NULL, NULL, 0, &err) == FP8Q_OK, "write: %s", err.message);
    if (FP8Q_MAX_TENSORS < 8) { /* the small-limits build */
        CHECK(fp8q_safetensors_open(&st, path, &err) == FP8Q_ERR_LIMIT, "open: %s", err.message);
        CHECK(fp8q_safetensors_write(path, t, 5, NULL, NULL, 0, &err) == FP8Q_OK, "write: %s", err.message);
    }
    CHECK(fp8q_safetensors_open(&st, path, &err) == FP8Q_OK, "open: %s", err.message);
    CHECK(st.n_tensors == (FP8Q_MAX_TENSORS < 8 ? 5 : 8), "count");
    for (i = 0; i < 7 && (size_t)i < st.n_tensors; i++) {
        const fp8q_tensor_info *ti = fp8q_safetensors_find(&st, t[i].name);
        CHECK(ti && fp8q_safetensors_read_f32(&st, ti, got, &err) == FP8Q_OK, "read %s: %s", t[i].name, err.message);
        for (k = 0; k < 8; k++) {
            switch (i) {
            case 0:
            case 1:
            case 2:
            case 3: want = vals[k]; break;
            case 4: want = fp8q_to_f32(e4[k], FP8Q_E4M3); break;
            case 5: want = fp8q_to_f32(e5[k], FP8Q_E5M2); break;
            default: want = fp8q_e8m0_to_f32(e8[k]); break;
            }
            if (i == 4 && k == 7) want = -448.0f; /* saturated */
            CHECK(memcmp(&got[k], &want, 4) == 0, "%s[%d]: %g want %g", t[i].name, k, (double)got[k], (double)want);
        }
    }
    CHECK(st.n_tensors != 8 ||
              fp8q_safetensors_read_f32(&st, fp8q_safetensors_find(&st, "i32"), got, &err) == FP8Q_ERR_UNSUPPORTED,
          "int read_f32");
    CHECK(fp8q_safetensors_read_f32(&st, NULL, got, &err) == FP8Q_ERR_ARG, "NULL t");
    if (st.n_tensors) {
        fp8q_tensor_info fake = st.tensors[0];
        fake.offset = st.data_size;
        CHECK(fp8q_safetensors_read_f32(&st, &fake, got, &err) == FP8Q_ERR_ARG && !fp8q_safetensors_bytes(&st, &fake),
              "outside data");
        fake = st.tensors[0];
        fake.numel = 9;
        CHECK(fp8q_safetensors_read_f32(&st, &fake, got, &err) == FP8Q_ERR_ARG, "numel/size disagree");
    }
#ifdef FP8Q__ST_MMAP
    CHECK(st.fp8q__owned && ((fp8q__st_owned *)st.fp8q__owned)->mapped, "file was mapped");
#endif
    fp8q_safetensors_close(&st);
    fp8q_safetensors_close(&st);

    /* a corrupted file: the message names the path */
    {
        FILE *f = fopen(path, "r+b");
        CHECK(f != NULL, "reopen");
        if (f) {
            fseek(f, 7, SEEK_SET);
            fputc(0xFF, f);
            fclose(f);
        }
        CHECK(fp8q_safetensors_open(&st, path, &err) == FP8Q_ERR_PARSE && strstr(err.message, path) == err.message &&
                  strstr(err.message, "exceeds the"),
              "corrupt: %s", err.message);
        CHECK(zeroed(&st), "zeroed");
    }
    /* a tiny file and an empty file */
    {
        FILE *f = fopen(path, "wb");
        if (f) {
            fputs("abc", f);
            fclose(f);
        }
        CHECK(fp8q_safetensors_open(&st, path, &err) == FP8Q_ERR_PARSE && strstr(err.message, "3 bytes, too short"),
              "tiny: %s", err.message);
        f = fopen(path, "wb");
        if (f) fclose(f);
        CHECK(fp8q_safetensors_open(&st, path, &err) == FP8Q_ERR_PARSE && strstr(err.message, "0 bytes, too short"),
              "empty: %s", err.message);
    }
    remove(path);
    /* missing file, directory */
    CHECK(fp8q_safetensors_open(&st, path, &err) == FP8Q_ERR_IO && strstr(err.message, path) &&
              strstr(err.message, "cannot open"),
          "missing: %s", err.message);
    CHECK(zeroed(&st), "zeroed");
    CHECK(fp8q_safetensors_open(&st, tmpdir(), &err) == FP8Q_ERR_IO, "directory: %s", err.message);
#ifdef FP8Q__ST_MMAP
    CHECK(strstr(err.message, "is a directory") != NULL, "directory message: %s", err.message);
    CHECK(fp8q_safetensors_open(&st, "/dev/null", &err) == FP8Q_ERR_IO && strstr(err.message, "not a regular file"),
          "/dev/null: %s", err.message);
#endif
    CHECK(fp8q_safetensors_open(NULL, path, &err) == FP8Q_ERR_ARG &&
              fp8q_safetensors_open(&st, NULL, &err) == FP8Q_ERR_ARG,
          "NULL args");
    /* writing into a missing directory */
    {
        char bad[600];
        snprintf(bad, sizeof bad, "%s/no/such/dir/x.safetensors", tmpdir());
        CHECK(fp8q_safetensors_write(bad, t, 1, NULL, NULL, 0, &err) == FP8Q_ERR_IO &&
                  strstr(err.message, "cannot create"),
              "write to missing dir: %s", err.message);
    }
}

static void test_f64_narrowing(void)
{
    /* integer RNE narrowing equals the hardware conversion (default rounding mode) */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    int i;
    static const uint64_t edge[] = {0,
                                    0x8000000000000000ull,
                                    0x7FF0000000000000ull,
                                    0xFFF0000000000000ull,
                                    0x0000000000000001ull,
                                    0x36A0000000000000ull,
                                    0x36A0000000000001ull,
                                    0x3690000000000000ull,
                                    0x47EFFFFFE0000000ull,
                                    0x47EFFFFFDFFFFFFFull,
                                    0x47EFFFFFFFFFFFFFull,
                                    0x380FFFFFF0000000ull,
                                    0x3810000000000000ull,
                                    0x3FF0000010000000ull,
                                    0x3FF0000030000000ull,
                                    0x3FF0000010000001ull};
    for (i = 0; i < (int)(sizeof edge / sizeof edge[0]) + 2000000; i++) {
        uint64_t b;
        double dv;
        float f;
        uint32_t want, got;
        if (i < (int)(sizeof edge / sizeof edge[0]))
            b = edge[i];
        else {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b = x;
            if (i % 4 == 1) b = (b & 0x800FFFFFFFFFFFFFull) | ((uint64_t)(0x380 + (b >> 52) % 0x100) << 52);
            if (i % 4 == 2) b = (b & 0x800FFFFFFFFFFFFFull) | ((uint64_t)(0x368 + (b >> 52) % 0x20) << 52);
        }
        memcpy(&dv, &b, 8);
        if (dv != dv) continue;
        f = (float)dv;
        memcpy(&want, &f, 4);
        got = fp8q__st_f64_to_f32_bits(b);
        if (got != want) {
            CHECK(0, "f64 %016llx: got %08x want %08x", (unsigned long long)b, (unsigned)got, (unsigned)want);
        }
    }
    CHECK(fp8q__st_f64_to_f32_bits(0x7FF8000000000001ull) == 0x7FFFFFFFu &&
              fp8q__st_f64_to_f32_bits(0xFFF0000000000001ull) == 0x7FFFFFFFu,
          "NaN canonical");
}

static void test_fuzz(void)
{
    /* mutate a valid file byte by byte: parse must never crash, and success must mean a consistent layout */
    uint64_t s[2] = {2, 3};
    unsigned char d[24];
    fp8q_tensor_out t[3];
    const char *mk[1] = {"format"}, *mv[1] = {"pt"};
    void *out;
    size_t len, i, k;
    uint64_t x = 12345;
    memset(d, 7, sizeof d);
    t[0].name = "w", t[0].dtype = (fp8q_dtype)FP8Q_F8_E4M3, t[0].ndim = 2, t[0].shape = s, t[0].data = d;
    t[1].name = "s", t[1].dtype = FP8Q_F32, t[1].ndim = 1, t[1].shape = s + 1, t[1].data = d;
    t[2].name = "z", t[2].dtype = (fp8q_dtype)FP8Q_F4, t[2].ndim = 1, t[2].shape = s, t[2].data = d;
    if (fp8q_safetensors_write_mem(&out, &len, t, 3, mk, mv, 1, NULL) != FP8Q_OK) {
        CHECK(0, "write");
        return;
    }
    for (i = 0; i < 200000; i++) {
        unsigned char *b = (unsigned char *)malloc(len);
        size_t l = len;
        fp8q_safetensors st;
        memcpy(b, out, len);
        for (k = 0; k < 1 + i % 3; k++) {
            size_t pos;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            pos = (size_t)(x % len);
            b[pos] =
                (x >> 32) % 4 == 0 ? (unsigned char)(x >> 40) : (unsigned char)"0123456789[]{},:\"-e. "[(x >> 40) % 21];
        }
        if (i % 16 == 0) l = (size_t)((x >> 20) % (len + 1));
        if (fp8q_safetensors_parse(&st, b, l, NULL) == FP8Q_OK) {
            uint64_t sum = 0;
            for (k = 0; k < st.n_tensors; k++) {
                CHECK(fp8q_safetensors_bytes(&st, &st.tensors[k]) != NULL, "bytes in range");
                CHECK(fp8q_safetensors_find(&st, st.tensors[k].name) == &st.tensors[k], "find");
                sum += st.tensors[k].size;
            }
            CHECK(sum == st.data_size && st.data + st.data_size == b + l, "layout");
        }
        fp8q_safetensors_close(&st);
        free(b);
    }
    free(out);
}

int main(void)
{
    run_case("dtype table", test_dtypes);
    run_case("hostile headers", test_hostile);
    run_case("error offsets", test_offsets);
    run_case("valid headers", test_valid_headers);
    run_case("limits", test_limits);
    run_case("write_mem -> parse, every dtype", test_roundtrip_mem);
    run_case("writer bytes vs hand-built reference", test_writer_reference_bytes);
    run_case("writer rejects", test_writer_rejects);
    run_case("file -> open (mmap) -> read_f32, open errors", test_file_roundtrip);
    run_case("f64 -> f32 narrowing", test_f64_narrowing);
    run_case("fuzz", test_fuzz);
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
