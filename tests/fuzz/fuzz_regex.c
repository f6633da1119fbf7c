/* libFuzzer target: the regex matcher. The input is split at its first NUL
   byte into pattern and text (no NUL: all pattern, empty text). Checks that
   fp8q_regex_check and fp8q_regex agree on accepting the pattern and on the
   error, that fullmatch implies match implies search, and two identities
   of Python's semantics on accepted patterns:
     search(p, t)    == match("(?:.|\n)*(?:" p ")", t)
     fullmatch(p, t) == match("(?:" p ")\Z", t)
   (skipped when the wrapped pattern exceeds a limit). Any violation aborts. */
#define FP8Q_IMPLEMENTATION
#include "../../fp8q.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_regex_one(const char *pattern, const char *text, fp8q_regex_how how)
{
    int m = -1;
    fp8q_result r = fp8q_regex(pattern, text, how, &m, NULL);
    if (r == FP8Q_ERR_NOMEM || r == FP8Q_ERR_LIMIT) return -1;
    if (r != FP8Q_OK || (m != 0 && m != 1)) abort();
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = (char *)malloc(size + 2), *wrap;
    const char *pattern, *text;
    fp8q_error ec, e;
    fp8q_result rc, r;
    int got[3], h, w;
    size_t plen;
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    buf[size] = 0;
    buf[size + 1] = 0;
    pattern = buf;
    plen = strlen(pattern);
    text = buf + plen + 1; /* "" when the input has no NUL */
    rc = fp8q_regex_check(pattern, &ec);
    if (ec.code != (int)rc || memchr(ec.message, 0, sizeof ec.message) == NULL) abort();
    if (rc != FP8Q_OK && (ec.message[0] == 0 || ec.offset > plen)) abort();
    for (h = 0; h < 3; h++) {
        int m = -1;
        r = fp8q_regex(pattern, text, (fp8q_regex_how)h, &m, &e);
        if (r == FP8Q_ERR_NOMEM || rc == FP8Q_ERR_NOMEM) continue;
        if (r != rc || e.code != ec.code || e.offset != ec.offset || strcmp(e.message, ec.message) != 0) abort();
        if (r == FP8Q_OK ? (m != 0 && m != 1) : m != 0) abort();
        got[h] = m;
    }
    if (rc == FP8Q_OK) {
        if (got[FP8Q_REGEX_FULLMATCH] > got[FP8Q_REGEX_MATCH] || got[FP8Q_REGEX_MATCH] > got[FP8Q_REGEX_SEARCH])
            abort();
        wrap = (char *)malloc(plen + 16);
        if (wrap) {
            memcpy(wrap, "(?:.|\n)*(?:", 11);
            memcpy(wrap + 11, pattern, plen);
            memcpy(wrap + 11 + plen, ")", 2);
            w = fuzz_regex_one(wrap, text, FP8Q_REGEX_MATCH);
            if (w >= 0 && w != got[FP8Q_REGEX_SEARCH]) abort();
            memcpy(wrap, "(?:", 3);
            memcpy(wrap + 3, pattern, plen);
            memcpy(wrap + 3 + plen, ")\\Z", 4);
            w = fuzz_regex_one(wrap, text, FP8Q_REGEX_MATCH);
            if (w >= 0 && w != got[FP8Q_REGEX_FULLMATCH]) abort();
            free(wrap);
        }
    }
    free(buf);
    return 0;
}
