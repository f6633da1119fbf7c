/* fp8q JSON parser tests (`make test` builds this next to test_fp8q.c). Number conversion is checked bit for bit
   against glibc's strtod (correctly rounded) and against exact halfway points built in long double; the parser against
   hand-written valid and invalid documents, nesting limits, random mutations and the real INC files. Ends with the line
   "N passed, N failed"; exit status 1 on any failure. */
#define FP8Q_IMPLEMENTATION
#include "../fp8q.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------- harness */

#include "harness.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}
static unsigned rndn(unsigned n) { return (unsigned)(rnd() % n); }

static uint64_t dbits(double x)
{
    uint64_t u;
    memcpy(&u, &x, 8);
    return u;
}

static double dfrom(uint64_t u)
{
    double x;
    memcpy(&x, &u, 8);
    return x;
}

static int parse(fp8q_json *j, const char *s, int flags, fp8q_error *e)
{
    return (int)fp8q_json_parse(j, s, strlen(s), flags, e);
}

/* Structural invariants of a parsed document. */
static int well_formed(const fp8q_json *j)
{
    size_t t, c, n;
    if (j->count == 0 || j->tok[0].next != j->count) return 0;
    for (t = 0; t < j->count; t++) {
        const fp8q_json_token *k = &j->tok[t];
        if (k->start > k->end || k->end > j->len || k->next <= t || k->next > j->count) return 0;
        if (k->type != FP8Q_JSON_ARRAY && k->type != FP8Q_JSON_OBJECT) {
            if (k->next != t + 1 || k->size != 0) return 0;
            continue;
        }
        for (c = t + 1, n = 0; c < k->next; n++) {
            if (k->type == FP8Q_JSON_OBJECT) {
                if (j->tok[c].type != FP8Q_JSON_STRING || j->tok[c].next != c + 1 || c + 1 >= k->next) return 0;
                c = j->tok[c + 1].next;
            } else {
                c = j->tok[c].next;
            }
        }
        if (c != k->next || n != k->size) return 0;
    }
    return 1;
}

/* -------------------------------------------------------------- valid */

static void test_valid(void)
{
    static const char *ok[] = {"0",
                               "-0",
                               "1",
                               "-1",
                               "1.5",
                               "1e5",
                               "1E+5",
                               "1e-5",
                               "-0.0e-0",
                               "0e0",
                               "123456789012345678901234567890",
                               "1.000000000000000000000000000000000000001",
                               "\"\"",
                               "\"abc\"",
                               "\"\\u0000\"",
                               "\"\\ud83d\\ude00\"",
                               "\"\\/\\\\\\\"\\b\\f\\n\\r\\t\"",
                               "\"\xc3\xa9\"",
                               "\"\xf0\x9f\x98\x80\"",
                               "\"\xef\xbf\xbf\"",
                               "\"\xf4\x8f\xbf\xbf\"",
                               "\"\xed\x9f\xbf\"",
                               "\"\xee\x80\x80\"",
                               "\"\xe0\xa0\x80\"",
                               "\"\xf0\x90\x80\x80\"",
                               "\"\\uDBFF\\uDFFF\"",
                               "\"\\uFFFF\"",
                               "\"a\x7f\"",
                               "true",
                               "false",
                               "null",
                               "[]",
                               "{}",
                               " [ ] ",
                               "\t\n\r {}\n",
                               "[1,2,3]",
                               "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
                               "[[[]]]",
                               "{\"\":0}",
                               "{\"a\":1,\"A\":2}",
                               "{\"a\":1,\"a \":2}",
                               "[{}, {}]",
                               "{\"a\":{\"a\":{\"a\":1}}}",
                               "{\"x\":1, \"y\":{\"x\":2}}",
                               "[\"a\",\"a\"]",
                               "{\"a\\u0000\":1,\"a\":2}",
                               "{\"\\u00e9\":1,\"e\":2}",
                               "[-1.5e-7, 0.0, 1E9]",
                               "{ \"k\" : [ 1 , { } , [ ] ] }"};
    size_t i;
    fp8q_json j;
    fp8q_error e;
    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int r = parse(&j, ok[i], 0, &e);
        CHECK(r == 0 && e.code == 0 && e.message[0] == 0, "valid #%u %s -> %d %s", (unsigned)i, ok[i], r, e.message);
        if (r == 0) CHECK(well_formed(&j), "structure of %s", ok[i]);
        fp8q_json_free(&j);
    }
    /* token layout */
    {
        const char *s = "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}";
        static const fp8q_json_type ty[12] = {FP8Q_JSON_OBJECT, FP8Q_JSON_STRING, FP8Q_JSON_NUMBER, FP8Q_JSON_STRING,
                                              FP8Q_JSON_ARRAY,  FP8Q_JSON_TRUE,   FP8Q_JSON_FALSE,  FP8Q_JSON_NULL,
                                              FP8Q_JSON_STRING, FP8Q_JSON_OBJECT, FP8Q_JSON_STRING, FP8Q_JSON_STRING};
        CHECK(parse(&j, s, 0, &e) == 0, "%s", e.message);
        CHECK(j.count == 12, "count %u", (unsigned)j.count);
        for (i = 0; i < 12 && i < j.count; i++) CHECK(j.tok[i].type == ty[i], "type of token %u", (unsigned)i);
        if (j.count == 12) {
            CHECK(j.tok[0].size == 3 && j.tok[0].next == 12 && j.tok[0].start == 0 && j.tok[0].end == strlen(s),
                  "root");
            CHECK(j.tok[1].start == 2 && j.tok[1].end == 3, "key a span");
            CHECK(j.tok[4].size == 3 && j.tok[4].next == 8, "array b");
            CHECK(j.tok[4].start == 11 && j.tok[4].end == 28, "array span %u %u", (unsigned)j.tok[4].start,
                  (unsigned)j.tok[4].end);
            CHECK(j.tok[9].size == 1 && j.tok[9].next == 12, "object c");
            CHECK(j.tok[2].start == 5 && j.tok[2].end == 6, "number span");
            CHECK(fp8q_json_get(&j, 0, "b") == 4 && fp8q_json_get(&j, 0, "c") == 9 && fp8q_json_get(&j, 0, "z") == 0,
                  "get");
            CHECK(fp8q_json_at(&j, 4, 2) == 7 && fp8q_json_at(&j, 4, 3) == 0 && fp8q_json_at(&j, 0, 0) == 0, "at");
            CHECK(fp8q_json_get(&j, 9, "d") == 11 && fp8q_json_get(&j, 4, "d") == 0, "get nested");
        }
        fp8q_json_free(&j);
        fp8q_json_free(&j); /* twice is fine */
        fp8q_json_free(NULL);
    }
    /* text need not be NUL-terminated: parse a prefix */
    CHECK((int)fp8q_json_parse(&j, "[1,2]garbage", 5, 0, &e) == 0 && j.count == 3, "prefix %s", e.message);
    fp8q_json_free(&j);
}

/* ------------------------------------------------------------ invalid */

typedef struct bad_case {
    const char *text;
    size_t len; /* 0: strlen */
    int flags;
    int code;
    const char *frag;
    long offset; /* -1: not checked */
} bad_case;

static void test_invalid(void)
{
    static const bad_case bad[] = {
        {"", 0, 0, FP8Q_ERR_PARSE,
         "expected a JSON value (object, array, string, number, true, false or null), got end of input at line 1, "
         "column 1 (byte 0)",
         0},
        {"   ", 0, 0, FP8Q_ERR_PARSE, "got end of input at line 1, column 4", 3},
        {"[1,]", 0, 0, FP8Q_ERR_PARSE, "trailing comma", 3},
        {"{\"a\":1,}", 0, 0, FP8Q_ERR_PARSE, "trailing comma: expected a string key after ','", 7},
        {"[1 2]", 0, 0, FP8Q_ERR_PARSE, "expected ',' or ']' after array element, got '2'", 3},
        {"{\"a\":1 \"b\":2}", 0, 0, FP8Q_ERR_PARSE, "expected ',' or '}' after object member, got '\"'", 7},
        {"{\"a\" 1}", 0, 0, FP8Q_ERR_PARSE, "expected ':' after object key, got '1'", 5},
        {"{1:2}", 0, 0, FP8Q_ERR_PARSE, "expected a string key or '}' after '{', got '1'", 1},
        {"{'a':1}", 0, 0, FP8Q_ERR_PARSE, "single-quoted strings are not allowed", 1},
        {"['a']", 0, 0, FP8Q_ERR_PARSE, "single-quoted strings are not allowed", 1},
        {"// c\n1", 0, 0, FP8Q_ERR_PARSE, "comments are not allowed", 0},
        {"[1, /* c */ 2]", 0, 0, FP8Q_ERR_PARSE, "comments are not allowed", 4},
        {"{/*x*/}", 0, 0, FP8Q_ERR_PARSE, "comments are not allowed", 1},
        {"[1]//", 0, 0, FP8Q_ERR_PARSE, "unexpected data after the JSON value (expected end of input), got '/'", 3},
        {"01", 0, 0, FP8Q_ERR_PARSE, "leading zeros are not allowed", 0},
        {"-01", 0, 0, FP8Q_ERR_PARSE, "leading zeros are not allowed", 0},
        {"[00]", 0, 0, FP8Q_ERR_PARSE, "leading zeros are not allowed", 1},
        {"1.", 0, 0, FP8Q_ERR_PARSE, "expected a digit after the decimal point, got end of input", 2},
        {"1.e5", 0, 0, FP8Q_ERR_PARSE, "expected a digit after the decimal point, got 'e'", 2},
        {".5", 0, 0, FP8Q_ERR_PARSE, "numbers need a digit before '.'", 0},
        {"+1", 0, 0, FP8Q_ERR_PARSE, "numbers may not start with '+'", 0},
        {"-", 0, 0, FP8Q_ERR_PARSE, "expected a digit after '-', got end of input", 1},
        {"-a", 0, 0, FP8Q_ERR_PARSE, "expected a digit after '-', got 'a'", 1},
        {"1e", 0, 0, FP8Q_ERR_PARSE, "expected a digit in the exponent", 2},
        {"1e+", 0, 0, FP8Q_ERR_PARSE, "expected a digit in the exponent", 3},
        {"1E-x", 0, 0, FP8Q_ERR_PARSE, "expected a digit in the exponent, got 'x'", 3},
        {"0x10", 0, 0, FP8Q_ERR_PARSE, "unexpected data after the JSON value (expected end of input), got 'x'", 1},
        {"1 2", 0, 0, FP8Q_ERR_PARSE, "unexpected data after the JSON value", 2},
        {"[1] [2]", 0, 0, FP8Q_ERR_PARSE, "unexpected data after the JSON value", 4},
        {"tru", 0, 0, FP8Q_ERR_PARSE, "invalid literal (expected 'true')", 0},
        {"True", 0, 0, FP8Q_ERR_PARSE, "expected a JSON value", 0},
        {"[nul]", 0, 0, FP8Q_ERR_PARSE, "invalid literal (expected 'null')", 1},
        {"fals", 0, 0, FP8Q_ERR_PARSE, "invalid literal (expected 'false')", 0},
        {"truex", 0, 0, FP8Q_ERR_PARSE, "unexpected data after the JSON value", 4},
        {"NaN", 0, 0, FP8Q_ERR_PARSE, "NaN is not valid JSON", 0},
        {"Infinity", 0, 0, FP8Q_ERR_PARSE, "Infinity is not valid JSON", 0},
        {"[1, -Infinity]", 0, 0, FP8Q_ERR_PARSE, "FP8Q_JSON_ALLOW_NONFINITE", 4},
        {"-NaN", 0, FP8Q_JSON_ALLOW_NONFINITE, FP8Q_ERR_PARSE, "expected a digit after '-', got 'N'", 1},
        {"infinity", 0, FP8Q_JSON_ALLOW_NONFINITE, FP8Q_ERR_PARSE, "expected a JSON value", 0},
        {"Inf", 0, FP8Q_JSON_ALLOW_NONFINITE, FP8Q_ERR_PARSE, "expected a JSON value", 0},
        {"nan", 0, FP8Q_JSON_ALLOW_NONFINITE, FP8Q_ERR_PARSE, "invalid literal (expected 'null')", 0},
        {"\"abc", 0, 0, FP8Q_ERR_PARSE, "unterminated string", 0},
        {"[\"abc\\", 0, 0, FP8Q_ERR_PARSE, "unterminated string", 1},
        {"\"a\nb\"", 0, 0, FP8Q_ERR_PARSE, "control character in string", 2},
        {"\"a\tb\"", 0, 0, FP8Q_ERR_PARSE,
         "control character in string (must be escaped as \\n, \\t, \\u00XX, ...), got byte 0x09", 2},
        {"\"\\x\"", 0, 0, FP8Q_ERR_PARSE, "invalid escape in string", 2},
        {"\"\\'\"", 0, 0, FP8Q_ERR_PARSE, "invalid escape in string", 2},
        {"\"\\U0041\"", 0, 0, FP8Q_ERR_PARSE, "invalid escape in string", 2},
        {"\"\\u12\"", 0, 0, FP8Q_ERR_PARSE, "expected 4 hex digits after \\u, got '\"'", 5},
        {"\"\\u12G4\"", 0, 0, FP8Q_ERR_PARSE, "expected 4 hex digits after \\u, got 'G'", 5},
        {"\"\\ud800\"", 0, 0, FP8Q_ERR_PARSE, "unpaired high surrogate", 1},
        {"\"\\ud800\\u0041\"", 0, 0, FP8Q_ERR_PARSE, "unpaired high surrogate", 1},
        {"\"\\ud800\\ud800\"", 0, 0, FP8Q_ERR_PARSE, "unpaired high surrogate", 1},
        {"\"\\udc00\"", 0, 0, FP8Q_ERR_PARSE, "unpaired low surrogate", 1},
        {"\"\\ude00\\ud83d\"", 0, 0, FP8Q_ERR_PARSE, "unpaired low surrogate", 1},
        {"\"\x80\"", 0, 0, FP8Q_ERR_PARSE, "invalid UTF-8 in string: unexpected continuation byte, got byte 0x80", 1},
        {"\"\xc0\xaf\"", 0, 0, FP8Q_ERR_PARSE, "overlong encoding", 1},
        {"\"\xc1\xbf\"", 0, 0, FP8Q_ERR_PARSE, "overlong encoding", 1},
        {"\"\xe0\x80\xaf\"", 0, 0, FP8Q_ERR_PARSE, "overlong encoding", 2},
        {"\"\xf0\x80\x80\xaf\"", 0, 0, FP8Q_ERR_PARSE, "overlong encoding", 2},
        {"\"\xed\xa0\x80\"", 0, 0, FP8Q_ERR_PARSE, "encoded surrogate", 2},
        {"\"\xed\xbf\xbf\"", 0, 0, FP8Q_ERR_PARSE, "encoded surrogate", 2},
        {"\"\xf4\x90\x80\x80\"", 0, 0, FP8Q_ERR_PARSE, "beyond U+10FFFF", 2},
        {"\"\xf5\x80\x80\x80\"", 0, 0, FP8Q_ERR_PARSE, "beyond U+10FFFF", 1},
        {"\"\xff\"", 0, 0, FP8Q_ERR_PARSE, "beyond U+10FFFF, got byte 0xFF", 1},
        {"\"\xc3\"", 0, 0, FP8Q_ERR_PARSE, "expected a continuation byte", 2},
        {"\"\xe2\x82\"", 0, 0, FP8Q_ERR_PARSE, "expected a continuation byte", 3},
        {"\"\xe2\x28\xa1\"", 0, 0, FP8Q_ERR_PARSE, "expected a continuation byte, got '('", 2},
        {"\"\xf0\x9f\x98\"", 0, 0, FP8Q_ERR_PARSE, "expected a continuation byte", 4},
        {"\xef\xbb\xbf{}", 0, 0, FP8Q_ERR_PARSE, "byte order mark", 0},
        {"{\"a\":1,\"a\":2}", 0, 0, FP8Q_ERR_PARSE,
         "duplicate key in object (keys must be unique, as safetensors and INC files require) at line 1, column 8 "
         "(byte 7)",
         7},
        {"{\"a\":1,\"\\u0061\":2}", 0, 0, FP8Q_ERR_PARSE, "duplicate key", 7},
        {"{\"x\":{\"a\":[],\"b\":1,\"a\":{}}}", 0, 0, FP8Q_ERR_PARSE, "duplicate key", 19},
        {"{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", 0, 0, FP8Q_ERR_PARSE, "duplicate key", 18},
        {"[1,2", 0, 0, FP8Q_ERR_PARSE, "expected ',' or ']' after array element, got end of input", 4},
        {"{\"a\":1", 0, 0, FP8Q_ERR_PARSE, "expected ',' or '}' after object member, got end of input", 6},
        {"{\"a\":", 0, 0, FP8Q_ERR_PARSE, "expected a value after ':', got end of input", 5},
        {"{\"a\"", 0, 0, FP8Q_ERR_PARSE, "expected ':' after object key, got end of input", 4},
        {"{", 0, 0, FP8Q_ERR_PARSE, "expected a string key or '}' after '{', got end of input", 1},
        {"[", 0, 0, FP8Q_ERR_PARSE, "expected a value or ']' after '[', got end of input", 1},
        {"[,1]", 0, 0, FP8Q_ERR_PARSE, "expected a value or ']' after '[', got ','", 1},
        {"[1,,2]", 0, 0, FP8Q_ERR_PARSE, "expected a value after ',' in array, got ','", 3},
        {"{,}", 0, 0, FP8Q_ERR_PARSE, "expected a string key or '}' after '{', got ','", 1},
        {"{\"a\":1,,}", 0, 0, FP8Q_ERR_PARSE, "expected a string key after ',' in object, got ','", 7},
        {"]", 0, 0, FP8Q_ERR_PARSE, "expected a JSON value", 0},
        {"}", 0, 0, FP8Q_ERR_PARSE, "expected a JSON value", 0},
        {"[1]]", 0, 0, FP8Q_ERR_PARSE, "unexpected data after the JSON value (expected end of input), got ']'", 3},
        {"{\"a\":1}}", 0, 0, FP8Q_ERR_PARSE, "unexpected data after the JSON value", 7},
        {"\"a\" : 1", 0, 0, FP8Q_ERR_PARSE, "got ':' at line 1, column 5 (byte 4)", 4},
        {"[1\0]", 4, 0, FP8Q_ERR_PARSE, "expected ',' or ']' after array element, got byte 0x00", 2},
        {"\0", 1, 0, FP8Q_ERR_PARSE, "expected a JSON value", 0},
        {"[\"a\0\"]", 6, 0, FP8Q_ERR_PARSE, "control character in string", 3},
        {"1\x0b", 0, 0, FP8Q_ERR_PARSE, "got byte 0x0B", 1},
        {"\xc2\xa0 1", 0, 0, FP8Q_ERR_PARSE, "expected a JSON value", 0},
        {"[1,\n  2,\n  ]", 0, 0, FP8Q_ERR_PARSE,
         "trailing comma: expected a value after ',', got ']' at line 3, column 3 (byte 11)", 11},
        {"{\n  \"a\": 1,\n  \"b\": 2\n  ]", 0, 0, FP8Q_ERR_PARSE,
         "expected ',' or '}' after object member, got ']' at line 4, column 3 (byte 23)", 23},
        {"{\"a\":[1,2}", 0, 0, FP8Q_ERR_PARSE, "expected ',' or ']' after array element, got '}'", 9},
        {"[1}", 0, 0, FP8Q_ERR_PARSE, "expected ',' or ']'", 2},
        {"\"\\", 0, 0, FP8Q_ERR_PARSE, "unterminated string", 0},
        {"\"\\u00", 0, 0, FP8Q_ERR_PARSE, "expected 4 hex digits after \\u, got end of input", 5},
        {"[1]", 0, 2, FP8Q_ERR_ARG, "unknown flags", -1},
    };
    size_t i, n;
    fp8q_json j;
    fp8q_error e;
    int r;
    printf("    %u invalid documents\n", (unsigned)(sizeof bad / sizeof bad[0]));
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = bad[i].len ? bad[i].len : strlen(bad[i].text);
        memset(&e, 0x55, sizeof e);
        j.count = 99;
        r = (int)fp8q_json_parse(&j, bad[i].text, n, bad[i].flags, &e);
        CHECK(r == bad[i].code && e.code == r, "#%u %s: code %d (want %d)", (unsigned)i, bad[i].text, r, bad[i].code);
        CHECK(strstr(e.message, bad[i].frag) != NULL, "#%u message \"%s\" lacks \"%s\"", (unsigned)i, e.message,
              bad[i].frag);
        CHECK(bad[i].offset < 0 || e.offset == (size_t)bad[i].offset, "#%u offset %u want %ld (%s)", (unsigned)i,
              (unsigned)e.offset, bad[i].offset, e.message);
        CHECK(bad[i].code == FP8Q_ERR_ARG || strstr(e.message, " at line ") != NULL, "#%u no location: %s", (unsigned)i,
              e.message);
        CHECK(j.count == 0 && j.tok == NULL, "#%u output not emptied", (unsigned)i);
        fp8q_json_free(&j);
        /* err may be NULL */
        r = (int)fp8q_json_parse(&j, bad[i].text, n, bad[i].flags, NULL);
        CHECK(r == bad[i].code, "#%u without err: %d", (unsigned)i, r);
    }
    /* argument errors */
    CHECK((int)fp8q_json_parse(NULL, "1", 1, 0, &e) == FP8Q_ERR_ARG && e.code == FP8Q_ERR_ARG, "out NULL");
    CHECK((int)fp8q_json_parse(&j, NULL, 1, 0, &e) == FP8Q_ERR_ARG && strstr(e.message, "text is NULL"), "text NULL");
    CHECK((int)fp8q_json_parse(&j, NULL, 0, 0, &e) == FP8Q_ERR_PARSE, "empty NULL text is an empty document");
    /* messages are truncated safely and the location survives in offset */
    {
        fp8q_json jj;
        CHECK((int)fp8q_json_parse(&jj, "[1,\n\n\n\n\n\n\n\n\n\n\n\n                                  x]", 51, 0, &e) ==
                      FP8Q_ERR_PARSE &&
                  strstr(e.message, "line 13, column 35 (byte 49)") && strlen(e.message) < sizeof e.message,
              "%s", e.message);
    }
}

/* ------------------------------------------------------------ nesting */

static void test_depth(void)
{
    size_t d, n, i;
    char *s;
    fp8q_json j;
    fp8q_error e;
    /* exactly at the limit, then one beyond */
    for (d = FP8Q_MAX_JSON_DEPTH; d <= FP8Q_MAX_JSON_DEPTH + 1; d++) {
        s = (char *)malloc(2 * d + 1);
        for (i = 0; i < d; i++) {
            s[i] = '[';
            s[2 * d - 1 - i] = ']';
        }
        s[2 * d] = 0;
        if (d == FP8Q_MAX_JSON_DEPTH) {
            CHECK(parse(&j, s, 0, &e) == 0 && j.count == d && well_formed(&j), "depth %u: %s", (unsigned)d, e.message);
            CHECK(j.tok[d - 1].size == 0 && j.tok[d - 2].size == 1, "innermost sizes");
        } else {
            CHECK(parse(&j, s, 0, &e) == FP8Q_ERR_LIMIT && strstr(e.message, "FP8Q_MAX_JSON_DEPTH") &&
                      e.offset == FP8Q_MAX_JSON_DEPTH,
                  "depth %u: %d %s", (unsigned)d, e.code, e.message);
        }
        fp8q_json_free(&j);
        free(s);
    }
    /* objects and arrays mixed: {"a":[{"a":[ ... 1 ... ]}]} */
    {
        size_t pairs = FP8Q_MAX_JSON_DEPTH / 2, k = 0;
        s = (char *)malloc(pairs * 12 + 8);
        for (i = 0; i < pairs; i++) {
            memcpy(s + k, "{\"a\":[", 6);
            k += 6;
        }
        s[k++] = '1';
        for (i = 0; i < pairs; i++) {
            memcpy(s + k, "]}", 2);
            k += 2;
        }
        s[k] = 0;
        CHECK(parse(&j, s, 0, &e) == 0 && well_formed(&j) && j.count == pairs * 3 + 1, "mixed depth %s", e.message);
        fp8q_json_free(&j);
        s[k - 1] = 0; /* unclosed: a parse error, not a limit */
        CHECK(parse(&j, s, 0, &e) == FP8Q_ERR_PARSE && strstr(e.message, "got end of input"), "unclosed: %s",
              e.message);
        free(s);
    }
    /* a hostile megabyte of '[' stops at the limit without recursion */
    n = 1u << 20;
    s = (char *)malloc(n + 1);
    memset(s, '[', n);
    s[n] = 0;
    CHECK(parse(&j, s, 0, &e) == FP8Q_ERR_LIMIT && e.offset == FP8Q_MAX_JSON_DEPTH, "deep [: %s", e.message);
    for (i = 0; i < n; i += 5) memcpy(s + i, "{\"\":", n - i >= 4 ? 4 : n - i);
    s[n] = 0;
    CHECK(parse(&j, s, 0, &e) == FP8Q_ERR_LIMIT, "deep {: %s", e.message);
    free(s);
}

/* ---------------------------------------------------- number conversion */

/* Parses one JSON number text and converts it. */
static int conv(const char *s, double *out, int flags)
{
    fp8q_json j;
    fp8q_error e;
    int r = parse(&j, s, flags, &e);
    if (r) {
        printf("    parse of %.60s failed: %s\n", s, e.message);
        return r;
    }
    r = (int)fp8q_json_number(&j, 0, out);
    fp8q_json_free(&j);
    return r;
}

/* Whether the C library's strtod is a trustworthy reference for very long
   inputs: glibc's is correctly rounded; msvcrt's (mingw) is not. */
static int strtod_is_exact(void)
{
#if defined(__GLIBC__)
    return 1;
#else
    return 0;
#endif
}

static void test_number_cases(void)
{
    static const char *cases[] = {
        "0",
        "-0",
        "0.0",
        "-0.0",
        "0e-5",
        "-0e999999999999",
        "1",
        "-1",
        "0.1",
        "0.2",
        "0.3",
        "1.5",
        "123.456",
        "9007199254740992",
        "9007199254740993",
        "9007199254740994",
        "9007199254740995",
        "18014398509481987",
        "9007199254740993.00000000000000000000000000000000000000001",
        "1.7976931348623157e308",
        "1.7976931348623158e308",
        "1.7976931348623159e308",
        "1.797693134862315807937289714053e308",
        "1.797693134862315807937289714054e308",
        "1.7976931348623158079372897140530341507993e308",
        "2e308",
        "1e309",
        "2.4703282292062327e-324",
        "2.4703282292062328e-324",
        "2."
        "47032822920623272088284396434110686182529901307162382212792841250337753635104375932649918180817996189898282347"
        "72285886546332835517796989819938739800539093906315035659515570226392290858392449105184435931802849936536152500"
        "31937045767824921936562366986365848075700158576926990370631192827955855133292783433840935197801553124659726357"
        "95746227664652728272200563740064854999770965994704540208281662262378573934507363390079677619305775067401763246"
        "73600968951340535537458516661134223766678604162159680461914467291840300530057530849048765391711386591646239524"
        "91262365388187963623937328042389101867234849766823508986338858792562830275599565752445550725518931369083625477"
        "9186948667994968324049705821028513185451396213837722826145437693412532098591327667236328125e-324",
        "2."
        "47032822920623272088284396434110686182529901307162382212792841250337753635104375932649918180817996189898282347"
        "72285886546332835517796989819938739800539093906315035659515570226392290858392449105184435931802849936536152500"
        "31937045767824921936562366986365848075700158576926990370631192827955855133292783433840935197801553124659726357"
        "95746227664652728272200563740064854999770965994704540208281662262378573934507363390079677619305775067401763246"
        "73600968951340535537458516661134223766678604162159680461914467291840300530057530849048765391711386591646239524"
        "91262365388187963623937328042389101867234849766823508986338858792562830275599565752445550725518931369083625477"
        "91869486679949683240497058210285131854513962138377228261454376934125320985913276672363281250000000000000000000"
        "00000000001e-324",
        "4.9406564584124654e-324",
        "5e-324",
        "3e-324",
        "2e-324",
        "1e-324",
        "7.4109846876186982e-324",
        "2.2250738585072011e-308",
        "2.2250738585072012e-308",
        "2.2250738585072014e-308",
        "2.225073858507201136057409796709131975934819546351645648e-308",
        "4.4501477170144023e-308",
        "1e-999999999",
        "1e999999999",
        "-1e-999999999",
        "-1e999999999",
        "1e99999999999999999999999999999",
        "1e-99999999999999999999999999999",
        "0.000001e-999999999999999999",
        "1e+0000000000000000000000000000000001",
        "123456789012345678901234567890e-30",
        "1e23",
        "8.589973e9",
        "3.4028235e38",
        "1.401298464324817e-45",
        "5e-310",
        "1e-310",
        "2.5e-323",
        "1e-322",
        "4.9e-324",
        "9.9e-324",
        "179769313486231570814527423731704356798070567525844996598917476803157260776e233",
        "0.5",
        "0.25",
        "72057594037927945",
        "7.2057594037927945e16",
        "9214843084008499",
        "30078505129381147446200",
        "1.0000000000000002",
        "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124",
        "1.00000000000000011102230246251565404236316680908203126",
        "2.2250738585072011e-308",
        "6.631236846766476e-316",
        "3.2378839133029012e+80",
        "5.0216813883093446e-149"};
    size_t i;
    double got, want;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        want = strtod(cases[i], NULL);
        CHECK(conv(cases[i], &got, 0) == 0 && dbits(got) == dbits(want), "%.70s: %.17g (%016llx) want %.17g (%016llx)",
              cases[i], got, (unsigned long long)dbits(got), want, (unsigned long long)dbits(want));
    }
    /* hand-checked bits, independent of strtod */
    CHECK(conv("-0", &got, 0) == 0 && dbits(got) == 0x8000000000000000ull, "-0");
    CHECK(conv("9007199254740993", &got, 0) == 0 && dbits(got) == 0x4340000000000000ull, "2^53+1 -> 2^53");
    CHECK(conv("9007199254740995", &got, 0) == 0 && dbits(got) == 0x4340000000000002ull, "2^53+3 -> 2^53+4");
    CHECK(conv("1.7976931348623158e308", &got, 0) == 0 && dbits(got) == 0x7FEFFFFFFFFFFFFFull, "DBL_MAX");
    CHECK(conv("1.7976931348623159e308", &got, 0) == 0 && dbits(got) == 0x7FF0000000000000ull, "overflow");
    CHECK(conv("2.4703282292062327e-324", &got, 0) == 0 && dbits(got) == 0, "below half min subnormal");
    CHECK(conv("2.4703282292062328e-324", &got, 0) == 0 && dbits(got) == 1, "above half min subnormal");
    CHECK(conv(cases[29], &got, 0) == 0 && dbits(got) == 0, "exact half min subnormal -> 0 (even)");
    CHECK(conv(cases[30], &got, 0) == 0 && dbits(got) == 1, "half + 10^-1100 -> min subnormal");
    CHECK(conv("-1e999999999", &got, 0) == 0 && dbits(got) == 0xFFF0000000000000ull, "-inf");
    CHECK(conv("-1e-999999999", &got, 0) == 0 && dbits(got) == 0x8000000000000000ull, "-0 underflow");
    CHECK(conv("0.1", &got, 0) == 0 && dbits(got) == 0x3FB999999999999Aull, "0.1");
    /* non-finite tokens */
    CHECK(conv("Infinity", &got, 1) == 0 && dbits(got) == 0x7FF0000000000000ull, "Infinity");
    CHECK(conv("-Infinity", &got, 1) == 0 && dbits(got) == 0xFFF0000000000000ull, "-Infinity");
    CHECK(conv("NaN", &got, 1) == 0 && got != got, "NaN");
    /* long inputs: 100000 digits */
    {
        size_t n = 100000, k;
        char *s = (char *)malloc(n + 64);
        /* 1 followed by zeros then e-N: exactly 1 */
        s[0] = '1';
        memset(s + 1, '0', n - 1);
        sprintf(s + n, "e-%u", (unsigned)(n - 1));
        CHECK(conv(s, &got, 0) == 0 && got == 1.0, "10^(n-1) e-(n-1)");
        sprintf(s + n, "e0");
        CHECK(conv(s, &got, 0) == 0 && dbits(got) == 0x7FF0000000000000ull, "10^99999 -> inf");
        /* 0.000...0001 */
        memcpy(s, "0.", 2);
        memset(s + 2, '0', n - 3);
        s[n - 1] = '1';
        s[n] = 0;
        CHECK(conv(s, &got, 0) == 0 && dbits(got) == 0, "10^-99998 -> 0");
        sprintf(s + n, "e%u", (unsigned)(n - 2));
        CHECK(conv(s, &got, 0) == 0 && got == 1.0, "0.0..01e(n-2) = 1");
        /* random long mantissas against strtod: only where strtod is known to
           round 100000-digit inputs correctly (glibc; msvcrt's does not) */
        for (k = 0; k < 20 && strtod_is_exact(); k++) {
            size_t m;
            s[0] = (char)('1' + rndn(9));
            for (m = 1; m < n; m++) s[m] = (char)('0' + rndn(10));
            sprintf(s + n, "e%d", -(int)n + 1 + (int)rndn(600) - 300);
            want = strtod(s, NULL);
            CHECK(conv(s, &got, 0) == 0 && dbits(got) == dbits(want), "long #%u %s", (unsigned)k, s + n);
        }
        free(s);
    }
}

/* Appends a random JSON number to b; returns its length. */
static int gen_number(char *b, int maxdig)
{
    int k = 0, nd, i, dot;
    unsigned kind = rndn(10);
    if (rndn(2)) b[k++] = '-';
    if (kind < 2) { /* a random double printed in shortest-ish forms */
        double x;
        do x = dfrom(rnd());
        while (x != x || x - x != 0);
        if (x < 0) x = -x;
        k += sprintf(b + k, "%.*e", 14 + (int)rndn(4), x);
        return k;
    }
    nd = 1 + (int)rndn((unsigned)maxdig);
    if (kind < 5 && nd > 20) nd = 1 + (int)rndn(20);
    dot = rndn(3) ? (int)rndn((unsigned)nd + 1) : nd;
    if (dot == 0) {
        b[k++] = '0';
        b[k++] = '.';
        for (i = (int)rndn(4); i > 0; i--) b[k++] = '0';
        for (i = 0; i < nd; i++) b[k++] = (char)('0' + rndn(10));
        if (b[k - 1] == '.') b[k++] = '5';
    } else {
        b[k++] = (char)('1' + rndn(9));
        for (i = 1; i < nd; i++) {
            if (i == dot) b[k++] = '.';
            b[k++] = (char)('0' + (rndn(4) ? rndn(10) : 9 * rndn(2))); /* runs of 0s and 9s */
        }
        if (dot < nd && dot > 0 && b[k - 1] == '.') b[k++] = '0';
    }
    if (rndn(4)) {
        int ex;
        unsigned r = rndn(8);
        if (r == 0)
            ex = (int)rndn(700) - 350 - nd;
        else if (r == 1)
            ex = -300 - (int)rndn(40) - nd; /* the subnormal range */
        else if (r == 2)
            ex = 300 - nd + (int)rndn(12); /* the overflow boundary */
        else
            ex = (int)rndn(80) - 40;
        k += sprintf(b + k, "%c%s%d", rndn(2) ? 'e' : 'E', ex >= 0 && rndn(2) ? "+" : "", ex);
    }
    return k;
}

/* Builds "[n, n, ...]" with count numbers, parses it and compares each
   element with strtod. */
static void check_batch(int count, int maxdig, unsigned *n_checked)
{
    size_t cap = (size_t)count * ((size_t)maxdig + 32) + 16, k = 0, t;
    char *b = (char *)malloc(cap);
    fp8q_json j;
    fp8q_error e;
    int i, r;
    b[k++] = '[';
    for (i = 0; i < count; i++) {
        if (i) b[k++] = rndn(2) ? ',' : ' ', b[k - 1] == ' ' ? (void)(b[k++] = ',') : (void)0;
        k += (size_t)gen_number(b + k, maxdig);
    }
    b[k++] = ']';
    b[k] = 0;
    r = fp8q_json_parse(&j, b, k, 0, &e);
    CHECK(r == 0, "batch parse: %s", e.message);
    if (r == 0) {
        CHECK(j.tok[0].size == (size_t)count, "batch size");
        for (t = 1; t < j.count; t++) {
            double got, want;
            char *end;
            want = strtod(b + j.tok[t].start, &end);
            CHECK(end == b + j.tok[t].end, "strtod span %.40s", b + j.tok[t].start);
            CHECK(fp8q_json_number(&j, t, &got) == 0 && dbits(got) == dbits(want), "%.*s: got %016llx want %016llx",
                  (int)(j.tok[t].end - j.tok[t].start > 120 ? 120 : j.tok[t].end - j.tok[t].start), b + j.tok[t].start,
                  (unsigned long long)dbits(got), (unsigned long long)dbits(want));
            (*n_checked)++;
        }
    }
    fp8q_json_free(&j);
    free(b);
}

static void test_number_random(void)
{
    unsigned n = 0, i;
    clock_t t0 = clock();
    for (i = 0; i < 40; i++) check_batch(10000, 20, &n); /* short: typical literals */
    for (i = 0; i < 10; i++) check_batch(2000, 120, &n); /* medium */
    for (i = 0; i < 4; i++) check_batch(500, 1200, &n);  /* beyond the 800 kept digits */
    printf("    %u random literals equal to strtod (%.2f s)\n", n, (double)(clock() - t0) / CLOCKS_PER_SEC);
}

/* Exact decimal expansions of halfway points between adjacent doubles (from
   long double, exact when it has >= 64 bits), and the same nudged by one
   unit far beyond the 800th digit up or down. */
static void test_number_halfway(void)
{
#if LDBL_MANT_DIG >= 64
    static char s[1200], v[1400];
    unsigned i, n = 0;
    if (getenv("FP8Q_TEST_VALGRIND")) { /* valgrind computes long double with 64-bit precision: no midpoints */
        printf("    halfway cases not run under valgrind (its long double has 53-bit precision)\n");
        return;
    }
    for (i = 0; i < 6000; i++) {
        double x, y, got, want;
        long double mid;
        char *e, *mant_end;
        size_t k, z;
        uint64_t u;
        unsigned cls = i % 4;
        /* normal, subnormal, near the top, integers near 2^53..2^64 */
        if (cls == 0)
            u = rnd() & 0x7FEFFFFFFFFFFFFEull;
        else if (cls == 1)
            u = rnd() & 0x000FFFFFFFFFFFFFull;
        else if (cls == 2)
            u = 0x7FEFFFFFFFFFFFFEull - (rnd() & 0xFFFFF);
        else
            u = (0x4340000000000000ull + ((uint64_t)rndn(11) << 52)) | (rnd() & 0xFFFFFFFFFFFFFull);
        x = dfrom(u);
        y = dfrom(u + 1);
        mid = ((long double)x + (long double)y) / 2;
        sprintf(s, "%.780Le", mid);
        e = strchr(s, 'e');
        /* exact halfway -> even */
        want = (u & 1) ? y : x;
        CHECK(conv(s, &got, 0) == 0 && dbits(got) == dbits(want) && dbits(got) == dbits(strtod(s, NULL)),
              "half %016llx: got %016llx", (unsigned long long)u, (unsigned long long)dbits(got));
        /* up: append ...0001 past digit 800 */
        mant_end = e;
        k = (size_t)(mant_end - s);
        memcpy(v, s, k);
        memset(v + k, '0', 100);
        v[k + 100] = '1';
        strcpy(v + k + 101, e);
        CHECK(conv(v, &got, 0) == 0 && dbits(got) == dbits(y) && dbits(strtod(v, NULL)) == dbits(y), "half+ %016llx",
              (unsigned long long)u);
        /* down: subtract one unit at digit ~900 */
        memcpy(v, s, k);
        z = k;
        while (z > 0 && (v[z - 1] == '0' || v[z - 1] == '.')) z--;
        if (z == 0) continue; /* a midpoint always has a nonzero digit; this keeps the index provably valid */
        v[z - 1]--;           /* the last nonzero digit */
        for (; z < k; z++)
            if (v[z] != '.') v[z] = '9';
        memset(v + k, '9', 100);
        strcpy(v + k + 100, e);
        CHECK(conv(v, &got, 0) == 0 && dbits(got) == dbits(x) && dbits(strtod(v, NULL)) == dbits(x), "half- %016llx",
              (unsigned long long)u);
        /* the exact decimal of x itself */
        sprintf(s, "%.780e", x);
        CHECK(conv(s, &got, 0) == 0 && dbits(got) == dbits(x), "exact %016llx", (unsigned long long)u);
        n += 4;
    }
    printf("    %u halfway / exact cases\n", n);
#else
    printf("    skipped: long double has fewer than 64 bits\n");
#endif
}

static void test_int64(void)
{
    static const struct {
        const char *s;
        int code;
        long long v;
    } c[] = {{"0", 0, 0},
             {"-0", 0, 0},
             {"-0.0e5", 0, 0},
             {"1", 0, 1},
             {"-17", 0, -17},
             {"9223372036854775807", 0, 9223372036854775807LL},
             {"9223372036854775808", FP8Q_ERR_LIMIT, 0},
             {"-9223372036854775808", 0, -9223372036854775807LL - 1},
             {"-9223372036854775809", FP8Q_ERR_LIMIT, 0},
             {"92233720368547758070", FP8Q_ERR_LIMIT, 0},
             {"1e18", 0, 1000000000000000000LL},
             {"1e19", FP8Q_ERR_LIMIT, 0},
             {"9.223372036854775807e18", 0, 9223372036854775807LL},
             {"1.0", 0, 1},
             {"1.5", FP8Q_ERR_ARG, 0},
             {"1500e-2", 0, 15},
             {"1501e-2", FP8Q_ERR_ARG, 0},
             {"1e-3", FP8Q_ERR_ARG, 0},
             {"0.000", 0, 0},
             {"100000000000000000000e-2", 0, 1000000000000000000LL},
             {"12345678901234567890123", FP8Q_ERR_LIMIT, 0},
             {"1e999999999999999999999", FP8Q_ERR_LIMIT, 0},
             {"1e-999999999999999999999", FP8Q_ERR_ARG, 0},
             {"Infinity", FP8Q_ERR_LIMIT, 0},
             {"-Infinity", FP8Q_ERR_LIMIT, 0},
             {"NaN", FP8Q_ERR_ARG, 0},
             {"\"12\"", FP8Q_ERR_ARG, 0},
             {"true", FP8Q_ERR_ARG, 0}};
    size_t i;
    fp8q_json j;
    fp8q_error e;
    int64_t v;
    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        int r;
        CHECK(parse(&j, c[i].s, 1, &e) == 0, "%s: %s", c[i].s, e.message);
        v = 12345;
        r = (int)fp8q_json_int64(&j, 0, &v);
        CHECK(r == c[i].code, "%s: code %d want %d", c[i].s, r, c[i].code);
        CHECK(r != 0 || v == c[i].v, "%s: %lld", c[i].s, (long long)v);
        CHECK(r == 0 || v == 12345, "%s: written on error", c[i].s);
        fp8q_json_free(&j);
    }
    /* long literal: 1 then 900 zeros then e-900 */
    {
        char s[1000];
        s[0] = '1';
        memset(s + 1, '0', 900);
        strcpy(s + 901, "e-900");
        CHECK(parse(&j, s, 0, &e) == 0 && fp8q_json_int64(&j, 0, &v) == 0 && v == 1, "long 1");
        fp8q_json_free(&j);
        s[899] = '1'; /* a nonzero digit beyond the kept 800: fraction */
        CHECK(parse(&j, s, 0, &e) == 0 && fp8q_json_int64(&j, 0, &v) == FP8Q_ERR_ARG, "long fraction");
        fp8q_json_free(&j);
    }
    CHECK(fp8q_json_int64(NULL, 0, &v) == FP8Q_ERR_ARG, "NULL doc");
}

/* ----------------------------------------------------------- accessors */

static void test_strings(void)
{
    const char *s = "{\"plain\":\"hello\",\"esc\":\"a\\\"b\\\\c\\/"
                    "d\\be\\ff\\ng\\rh\\ti\",\"uni\":\"\\u00e9\\u20AC\\ud83d\\ude00\\u0041\","
                    "\"nul\":\"x\\u0000y\",\"utf8\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",\"k\\u0065y\":1,\"n\":5,"
                    "\"arr\":[10,20,30]}";
    fp8q_json j;
    fp8q_error e;
    char buf[64];
    size_t t, n;
    double d;
    CHECK(parse(&j, s, 0, &e) == 0, "%s", e.message);
    t = fp8q_json_get(&j, 0, "plain");
    CHECK(t && fp8q_json_string(&j, t, buf, sizeof buf) == 5 && strcmp(buf, "hello") == 0, "plain");
    CHECK(fp8q_json_string(&j, t, buf, 3) == 5 && strcmp(buf, "he") == 0, "truncated");
    CHECK(fp8q_json_string(&j, t, buf, 1) == 5 && buf[0] == 0, "cap 1");
    CHECK(fp8q_json_string(&j, t, NULL, 0) == 5, "length only");
    CHECK(fp8q_json_string_eq(&j, t, "hello") && !fp8q_json_string_eq(&j, t, "hell") &&
              !fp8q_json_string_eq(&j, t, "hello!"),
          "eq plain");
    t = fp8q_json_get(&j, 0, "esc");
    n = fp8q_json_string(&j, t, buf, sizeof buf);
    CHECK(n == 17 && memcmp(buf, "a\"b\\c/d\be\ff\ng\rh\ti", 18) == 0, "escapes: %u", (unsigned)n);
    CHECK(fp8q_json_string_eq(&j, t, "a\"b\\c/d\be\ff\ng\rh\ti"), "eq escapes");
    t = fp8q_json_get(&j, 0, "uni");
    n = fp8q_json_string(&j, t, buf, sizeof buf);
    CHECK(n == 2 + 3 + 4 + 1 && strcmp(buf, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                                            "A") == 0,
          "unicode escapes");
    CHECK(fp8q_json_string_eq(&j, t,
                              "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                              "A"),
          "eq unicode");
    CHECK(fp8q_json_string(&j, t, buf, 4) == 10 && strcmp(buf, "\xc3\xa9\xe2") == 0, "truncation is bytewise");
    t = fp8q_json_get(&j, 0, "nul");
    CHECK(fp8q_json_string(&j, t, buf, sizeof buf) == 3 && memcmp(buf, "x\0y", 4) == 0, "embedded NUL");
    CHECK(!fp8q_json_string_eq(&j, t, "x"), "NUL is not the end");
    t = fp8q_json_get(&j, 0, "utf8");
    CHECK(fp8q_json_string_eq(&j, t, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), "raw utf8");
    CHECK(fp8q_json_get(&j, 0, "key") != 0 && fp8q_json_get(&j, 0, "k\\u0065y") == 0, "escaped key matched unescaped");
    t = fp8q_json_get(&j, 0, "n");
    CHECK(fp8q_json_string(&j, t, buf, sizeof buf) == 0 && buf[0] == 0 && !fp8q_json_string_eq(&j, t, "5"),
          "not a string");
    CHECK(fp8q_json_number(&j, t, &d) == 0 && d == 5.0, "number");
    CHECK(fp8q_json_number(&j, 1, &d) == FP8Q_ERR_ARG && fp8q_json_number(&j, 999, &d) == FP8Q_ERR_ARG,
          "number of non-number");
    t = fp8q_json_get(&j, 0, "arr");
    CHECK(fp8q_json_number(&j, fp8q_json_at(&j, t, 2), &d) == 0 && d == 30.0, "at 2");
    CHECK(fp8q_json_at(&j, t, 3) == 0 && fp8q_json_at(&j, 0, 0) == 0 && fp8q_json_at(&j, 9999, 0) == 0, "at range");
    CHECK(fp8q_json_get(&j, t, "x") == 0 && fp8q_json_get(&j, 0, NULL) == 0 && fp8q_json_get(NULL, 0, "n") == 0,
          "get misuse");
    fp8q_json_free(&j);
}

/* ------------------------------------------------- big objects, dup keys */

static void test_big_objects(void)
{
    size_t n = 200000, i, k = 0;
    char *s = (char *)malloc(n * 24 + 64);
    fp8q_json j;
    fp8q_error e;
    clock_t t0;
    s[k++] = '{';
    for (i = 0; i < n; i++)
        k += (size_t)sprintf(s + k, "%s\"key%u\":%u", i ? "," : "", (unsigned)((i * 7919u) % n), (unsigned)i);
    s[k++] = '}';
    s[k] = 0;
    t0 = clock();
    CHECK((int)fp8q_json_parse(&j, s, k, 0, &e) == 0 && j.tok[0].size == n, "%s", e.message);
    printf("    %u-member object with the duplicate check: %.3f s\n", (unsigned)n,
           (double)(clock() - t0) / CLOCKS_PER_SEC);
    CHECK(fp8q_json_get(&j, 0, "key199999") != 0 && fp8q_json_get(&j, 0, "key200000") == 0, "get in big object");
    fp8q_json_free(&j);
    /* add a duplicate of an early key at the end, and one in the middle: the first repeat in text order is reported */
    k--;
    k += (size_t)sprintf(s + k, ",\"key%u\":1}", (unsigned)((5 * 7919u) % n));
    CHECK((int)fp8q_json_parse(&j, s, k, 0, &e) == FP8Q_ERR_PARSE && strstr(e.message, "duplicate key") &&
              e.offset == k - 13,
          "dup at end: %s (offset %u, k %u)", e.message, (unsigned)e.offset, (unsigned)k);
    /* duplicates through escapes in a sorted (>8 member) object */
    {
        const char *d = "{\"a\":0,\"b\":0,\"c\":0,\"d\":0,\"e\":0,\"f\":0,\"g\":0,\"h\":0,\"i\":0,\"\\u0063\":0}";
        CHECK(parse(&j, d, 0, &e) == FP8Q_ERR_PARSE && strstr(e.message, "duplicate key") && e.offset == 55, "%s",
              e.message);
        d = "{\"a\":0,\"b\":0,\"c\":0,\"d\":0,\"e\":0,\"f\":0,\"g\":0,\"h\":0,\"i\":0,\"ab\":0,\"\":0,\"a\\u0000\":0}";
        CHECK(parse(&j, d, 0, &e) == 0, "prefixes are distinct: %s", e.message);
        fp8q_json_free(&j);
    }
    free(s);
}

/* ------------------------------------------------------------ throughput */

static void test_throughput(void)
{
    size_t cap = 10u << 20, k = 0, t, count = 0;
    char *s = (char *)malloc(cap + 64);
    fp8q_json j;
    fp8q_error e;
    clock_t t0;
    double secs, sum = 0;
    s[k++] = '[';
    while (k < cap - 40) {
        if (count++) s[k++] = ',';
        switch (rndn(3)) {
        case 0: k += (size_t)sprintf(s + k, "%u", (unsigned)rndn(100000)); break;
        case 1: k += (size_t)sprintf(s + k, "%.6g", (double)(rnd() >> 11) * 1e-9 - 4e6); break;
        default:
            k += (size_t)sprintf(s + k, "%.17g", dfrom((rnd() & 0x3FFFFFFFFFFFFFFFull) | 0x3000000000000000ull));
            break;
        }
        if (rndn(8) == 0) s[k++] = '\n';
    }
    s[k++] = ']';
    s[k] = 0;
    t0 = clock();
    CHECK((int)fp8q_json_parse(&j, s, k, 0, &e) == 0 && j.tok[0].size == count, "%s", e.message);
    secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("    parse %.1f MB, %u numbers: %.3f s, %.0f MB/s\n", k / 1e6, (unsigned)count, secs,
           k / 1e6 / (secs > 0 ? secs : 1e-9));
    /* catches quadratic parsing, not speed: wide under sanitizers and valgrind */
    CHECK(secs < (SANITIZED ? 5.0 : getenv("FP8Q_TEST_VALGRIND") ? 50.0 : 0.5), "parse took %.3f s", secs);
    t0 = clock();
    for (t = 1; t < j.count; t++) {
        double d;
        fp8q_json_number(&j, t, &d);
        sum += d;
    }
    secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("    convert %u numbers: %.3f s, %.2f M/s (checksum %g)\n", (unsigned)count, secs,
           count / 1e6 / (secs > 0 ? secs : 1e-9), sum);
    /* spot check the conversions against strtod */
    for (t = 1; t < j.count; t += 97) {
        double d;
        fp8q_json_number(&j, t, &d);
        CHECK(dbits(d) == dbits(strtod(s + j.tok[t].start, NULL)), "token %u", (unsigned)t);
    }
    fp8q_json_free(&j);
    free(s);
}

/* ------------------------------------------------------------ real files */

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *b;
    long sz;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = (char *)malloc((size_t)sz + 1);
    *n = fread(b, 1, (size_t)sz, f);
    b[*n] = 0;
    fclose(f);
    return b;
}

/* Real files written by INC and vLLM's Gaudi tooling, from the shared data
   folder beside the repository. Without it the case is skipped, except under
   CI=true, where the folder is always present and a missing file fails. */
#define CFG_DIR  "../shared/data/inc-configs/"
#define MEAS_DIR "../shared/data/inc-measurements/"

static int g_skipped;

static int shared_data_missing(void)
{
    FILE *f = fopen(CFG_DIR "maxabs_quant.json", "rb");
    const char *ci = getenv("CI");
    if (f) {
        fclose(f);
        return 0;
    }
    return !(ci && strcmp(ci, "true") == 0);
}

static void test_real_files(void)
{
    static const char *cfg[] = {"act_maxabs_pow2_weights_pcs_opt_pow2_quant.json",
                                "inc_unit_scales_config.json",
                                "maxabs_measure.json",
                                "maxabs_measure_include_outputs.json",
                                "maxabs_quant.json",
                                "maxabs_quant_arbitrary.json",
                                "maxabs_quant_dynamic_quantization.json",
                                "maxabs_quant_gemma.json",
                                "maxabs_quant_mixtral.json",
                                "maxabs_quant_phi.json",
                                "maxabs_quant_qdq.json",
                                "maxabs_quant_scalar_scales.json",
                                "pow2_quant.json",
                                "unit_scale_quant.json",
                                "weight_opt_quant.json"};
    char path[512], buf[128];
    size_t i, n, t, p, last;
    char *s;
    fp8q_json j;
    fp8q_error e;
    double d;
    for (i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        sprintf(path, CFG_DIR "%s", cfg[i]);
        s = read_file(path, &n);
        CHECK(s != NULL, "cannot read %s", path);
        if (!s) continue;
        CHECK((int)fp8q_json_parse(&j, s, n, 0, &e) == 0 && well_formed(&j) && j.tok[0].type == FP8Q_JSON_OBJECT,
              "%s: %s", cfg[i], e.message);
        t = fp8q_json_get(&j, 0, "mode");
        CHECK(t == 0 || j.tok[t].type == FP8Q_JSON_STRING, "%s: mode", cfg[i]);
        fp8q_json_free(&j);
        /* every proper prefix fails cleanly (the text is a single object) */
        for (last = n; last > 0 && (s[last - 1] == '\n' || s[last - 1] == ' ' || s[last - 1] == '\r');) last--;
        for (p = 0; p < last; p += 1 + n / 300)
            CHECK((int)fp8q_json_parse(&j, s, p, 0, &e) != 0, "%s prefix %u parsed", cfg[i], (unsigned)p);
        free(s);
    }
    s = read_file(CFG_DIR "maxabs_quant.json", &n);
    if (s) {
        CHECK((int)fp8q_json_parse(&j, s, n, 0, &e) == 0, "%s", e.message);
        t = fp8q_json_get(&j, 0, "mode");
        CHECK(fp8q_json_string_eq(&j, t, "QUANTIZE"), "maxabs_quant mode");
        t = fp8q_json_get(&j, 0, "scale_method");
        CHECK(fp8q_json_string(&j, t, buf, sizeof buf) == 9 && strcmp(buf, "maxabs_hw") == 0, "scale_method");
        fp8q_json_free(&j);
        free(s);
    }

    /* the measurement dump: Python wrote Infinity */
    s = read_file(MEAS_DIR "gpt_oss_20b_inc_output_hooks_maxabs_0_1.json", &n);
    CHECK(s != NULL, "cannot read the measurement file");
    if (s) {
        clock_t t0;
        CHECK((int)fp8q_json_parse(&j, s, n, 0, &e) == FP8Q_ERR_PARSE &&
                  strstr(e.message, "Infinity is not valid JSON") && strstr(e.message, "FP8Q_JSON_ALLOW_NONFINITE") &&
                  strstr(e.message, "line 68, column 25"),
              "without the flag: %d %s", e.code, e.message);
        printf("    without the flag: %s\n", e.message);
        t0 = clock();
        CHECK((int)fp8q_json_parse(&j, s, n, FP8Q_JSON_ALLOW_NONFINITE, &e) == 0 && well_formed(&j),
              "with the flag: %s", e.message);
        printf("    with the flag: %u tokens in %.4f s\n", (unsigned)j.count, (double)(clock() - t0) / CLOCKS_PER_SEC);
        if (e.code == 0) {
            size_t nodes = fp8q_json_get(&j, 0, "Nodes"), node, inp, ninf = 0;
            CHECK(fp8q_json_string_eq(&j, fp8q_json_get(&j, 0, "Mode"), "DynamicRange"), "Mode");
            CHECK(j.tok[fp8q_json_get(&j, 0, "GlobalRank")].type == FP8Q_JSON_NULL, "GlobalRank null");
            node = fp8q_json_get(&j, nodes, "model.layers.0.attn.attn.impl.softmax");
            inp = fp8q_json_get(&j, node, "inputs");
            t = fp8q_json_at(&j, fp8q_json_at(&j, fp8q_json_at(&j, inp, 0), 0), 0);
            CHECK(t && fp8q_json_number(&j, t, &d) == 0 && d > DBL_MAX, "softmax input maxabs = inf");
            t = fp8q_json_get(&j, fp8q_json_get(&j, 0, "Nodes"), "model.layers.0.attn.qkv");
            t = fp8q_json_at(&j, fp8q_json_at(&j, fp8q_json_at(&j, fp8q_json_get(&j, t, "inputs"), 0), 0), 0);
            CHECK(fp8q_json_number(&j, t, &d) == 0 && d == 40.75, "qkv input maxabs 40.75");
            for (t = 0; t < j.count; t++)
                if (j.tok[t].type == FP8Q_JSON_NUMBER && fp8q_json_number(&j, t, &d) == 0 && d > DBL_MAX) ninf++;
            CHECK(ninf == 24, "%u infinities", (unsigned)ninf);
            CHECK(j.tok[nodes].size > 10, "nodes %u", (unsigned)j.tok[nodes].size);
        }
        fp8q_json_free(&j);
        free(s);
    }
    s = read_file(MEAS_DIR "gpt_oss_20b_inc_output_hooks_maxabs_0_1_mod_list.json", &n);
    CHECK(s != NULL, "cannot read the module list");
    if (s) {
        CHECK((int)fp8q_json_parse(&j, s, n, 0, &e) == 0 && j.tok[0].type == FP8Q_JSON_ARRAY, "%s", e.message);
        CHECK(fp8q_json_string_eq(&j, fp8q_json_at(&j, 0, 0), "model.layers.0.attn.qkv"), "first module");
        fp8q_json_free(&j);
        free(s);
    }
}

/* ------------------------------------------------------------------ fuzz */

static void test_fuzz(void)
{
    static const char *seeds[] = {
        ("{\"a\":[1,2.5e-3,-0,true,false,null],\"b\":{\"c\":\"d\\u00e9\\ud83d\\ude00\\n\",\"e\":[]},\"f\":"
         "\"\xc3\xa9\xf0\x9f\x98\x80\"}"),
        "[[[[1]]],{\"x\":{\"y\":{}}},\"\\\"\",123456789e300,-1.5E-400]",
        "{\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,\"k10\":10}",
        "[NaN, Infinity, -Infinity, 1e5]"};
    static const char alphabet[] = "{}[]\":,.-+eE0123456789 \n\\utrfalsenNIy\x80\xc3\xed\xf4\x00";
    char buf[512];
    unsigned it, ok = 0, bad = 0;
    for (it = 0; it < 300000; it++) {
        const char *seed = seeds[it % 4];
        size_t n = strlen(seed), m, k;
        int flags = (int)rndn(2), r;
        fp8q_json j;
        fp8q_error e;
        memcpy(buf, seed, n);
        for (m = 1 + rndn(4); m > 0; m--) {
            unsigned op = rndn(3);
            k = rndn((unsigned)n + 1);
            if (op == 0 && k < n) {
                buf[k] = rndn(4) ? alphabet[rndn(sizeof alphabet - 1)] : (char)rnd();
            } else if (op == 1 && n < sizeof buf - 1) {
                memmove(buf + k + 1, buf + k, n - k);
                buf[k] = alphabet[rndn(sizeof alphabet - 1)];
                n++;
            } else if (n > 0 && k < n) {
                memmove(buf + k, buf + k + 1, n - k - 1);
                n--;
            }
        }
        r = (int)fp8q_json_parse(&j, buf, n, flags, &e);
        if (r == 0) {
            size_t t;
            double d;
            int64_t v;
            char sb[600];
            ok++;
            CHECK(well_formed(&j), "fuzz #%u malformed tokens", it);
            for (t = 0; t < j.count; t++) {
                if (j.tok[t].type == FP8Q_JSON_NUMBER) {
                    CHECK(fp8q_json_number(&j, t, &d) == 0, "number");
                    (void)fp8q_json_int64(&j, t, &v);
                } else if (j.tok[t].type == FP8Q_JSON_STRING) {
                    size_t len = fp8q_json_string(&j, t, sb, sizeof sb);
                    CHECK(len < sizeof sb && len <= j.tok[t].end - j.tok[t].start, "unescaped length");
                    CHECK(memchr(sb, 0, len) != NULL || fp8q_json_string_eq(&j, t, sb), "eq self");
                } else if (j.tok[t].type == FP8Q_JSON_OBJECT) {
                    (void)fp8q_json_get(&j, t, "k5");
                }
            }
        } else {
            bad++;
            CHECK(r == FP8Q_ERR_PARSE || r == FP8Q_ERR_LIMIT, "fuzz code %d", r);
            CHECK(e.offset <= n && strstr(e.message, " at line ") && strlen(e.message) < sizeof e.message,
                  "fuzz message");
        }
        fp8q_json_free(&j);
    }
    printf("    300000 mutations: %u valid, %u rejected\n", ok, bad);
    /* random bytes */
    for (it = 0; it < 100000; it++) {
        size_t n = rndn(64), k;
        fp8q_json j;
        for (k = 0; k < n; k++) buf[k] = rndn(2) ? alphabet[rndn(sizeof alphabet - 1)] : (char)rnd();
        if (fp8q_json_parse(&j, buf, n, 1, NULL) == 0) CHECK(well_formed(&j), "random bytes");
        fp8q_json_free(&j);
    }
}

int main(void)
{
    run_case("valid documents", test_valid);
    run_case("invalid documents", test_invalid);
    run_case("nesting depth", test_depth);
    run_case("number special cases", test_number_cases);
    run_case("numbers vs strtod (random)", test_number_random);
    run_case("numbers at halfway points", test_number_halfway);
    run_case("int64", test_int64);
    run_case("strings and accessors", test_strings);
    run_case("big objects, duplicate keys", test_big_objects);
    run_case("throughput", test_throughput);
    if (shared_data_missing()) {
        printf("skipped: INC files (../shared/data not found beside the repository)\n");
        g_skipped++;
    } else {
        run_case("INC files", test_real_files);
    }
    run_case("fuzz", test_fuzz);
    printf("%d passed, %d failed, %d skipped\n", g_passed, g_failed, g_skipped);
    return g_failed ? 1 : 0;
}
