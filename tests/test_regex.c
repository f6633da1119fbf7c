/* Tests for fp8q_regex / fp8q_regex_check.
   Usage: test_regex [regex_vectors.txt]  (default FP8Q_REGEX_VECTORS, if present)
   A table of (pattern, text, expected search/match/fullmatch), an error
   table, pathological patterns that must finish fast, API edge cases and,
   given the file written by gen_regex_vectors.py, the golden cross-check
   against Python's re. Prints each failure and ends with "N passed, N failed". */
#define FP8Q_IMPLEMENTATION
#include "../fp8q.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* the golden vectors read when no argument is given */
#ifndef FP8Q_REGEX_VECTORS
#define FP8Q_REGEX_VECTORS "tests/fixtures/regex_vectors.txt"
#endif

static int passed, failed;

/* prints s escaped, at most 120 bytes of it (the pathological patterns are 4 KiB) */
static void show(const char *s)
{
    const char *end = s + 120;
    for (; *s; s++) {
        if (s == end) {
            printf("...(%lu bytes)", (unsigned long)(strlen(end) + 120));
            break;
        }
        unsigned c = (unsigned char)*s;
        if (c == '\\')
            printf("\\\\");
        else if (c >= 0x20 && c < 0x7F)
            putchar((int)c);
        else
            printf("\\x%02X", c);
    }
}

static void fail_case(const char *what, const char *pattern, const char *text)
{
    failed++;
    printf("FAIL %s: pattern '", what);
    show(pattern);
    printf("'");
    if (text) {
        printf(" text '");
        show(text);
        printf("'");
    }
    printf("\n");
}

/* All three hows; want is "smf" with '1'/'0'. Also checks fp8q_regex_check. */
static void expect_match(const char *pattern, const char *text, const char *want)
{
    int h, ok = 1;
    char got[4] = "???";
    fp8q_error err;
    for (h = 0; h < 3; h++) {
        int m = -1;
        fp8q_result r = fp8q_regex(pattern, text, (fp8q_regex_how)h, &m, &err);
        if (r != FP8Q_OK) {
            failed++;
            printf("FAIL pattern '");
            show(pattern);
            printf("': refused (%d): %s\n", (int)r, err.message);
            return;
        }
        got[h] = (char)('0' + m);
        if (err.code != FP8Q_OK || err.message[0]) ok = 0;
    }
    if (fp8q_regex_check(pattern, &err) != FP8Q_OK) ok = 0;
    if (!ok || strcmp(got, want) != 0) {
        fail_case("match", pattern, text);
        printf("    search/match/fullmatch want %s got %s\n", want, got);
        return;
    }
    passed++;
}

/* pattern must be refused with code, a message containing frag, at offset off
   ((size_t)-1: any), by fp8q_regex (all hows) and fp8q_regex_check alike. */
static void expect_error(const char *pattern, fp8q_result code, const char *frag, size_t off)
{
    fp8q_error e1, e2;
    int m = 7;
    fp8q_result r1 = fp8q_regex(pattern, "text", FP8Q_REGEX_SEARCH, &m, &e1);
    fp8q_result r2 = fp8q_regex_check(pattern, &e2);
    if (r1 != code || r2 != code || e1.code != (int)code || m != 0 || strcmp(e1.message, e2.message) != 0 ||
        e1.offset != e2.offset || !strstr(e1.message, frag) || (off != (size_t)-1 && e1.offset != off) ||
        strlen(e1.message) >= sizeof e1.message) {
        fail_case("error", pattern, NULL);
        printf("    want code %d '%s' at %ld, got %d/%d at %lu: %s\n", (int)code, frag, (long)off, (int)r1, (int)r2,
               (unsigned long)e1.offset, e1.message);
        return;
    }
    passed++;
}

typedef struct {
    const char *pattern, *text, *smf;
} match_case;

static const match_case match_cases[] = {
    /* INC (re.search) and compressed-tensors (re.match) style names */
    {"lm_head", "lm_head", "111"},
    {"lm_head", "model.lm_head", "100"},
    {".*lm_head", "model.lm_head", "111"},
    {".*mlp.down_proj$", "model.layers.3.mlp.down_proj", "111"},
    {".*mlp.down_proj$", "model.layers.3.mlp.down_proj.weight", "000"},
    {".*mlp.down_proj$", "model.layers.3.mlp.down_proj\n", "110"},
    {"model.layers.(0|1|31).self_attn", "model.layers.31.self_attn.q_proj", "110"},
    {"model.layers.(0|1|31).self_attn", "model.layers.3.self_attn.q_proj", "000"},
    {".*self_attn.(q|k|v)_proj$", "model.layers.0.self_attn.k_proj", "111"},
    {".*self_attn.(q|k|v)_proj$", "model.layers.0.self_attn.o_proj", "000"},
    {"layers\\.[0-9]+\\.mlp", "model.layers.12.mlp.up_proj", "100"},
    {"layers\\.[0-9]+\\.mlp", "model.layers.x.mlp.up_proj", "000"},
    {"^model\\.layers\\.\\d{1,2}\\.", "model.layers.31.mlp", "110"},
    {"^model\\.layers\\.\\d{1,2}\\.", "model.layers.100.mlp", "000"},
    {"[^.]+_proj", "model.layers.0.mlp.gate_proj", "100"},
    {"(?:gate|up)_proj", "model.layers.0.mlp.up_proj", "100"},
    {"(?:gate|up)_proj", "gate_proj", "111"},
    {"re", "model.layers.0.mlp", "000"},
    /* literals, dot, anchors */
    {"", "", "111"},
    {"", "abc", "110"},
    {"a", "", "000"},
    {"abc", "xabcx", "100"},
    {".", "\n", "000"},
    {".", "a", "111"},
    {"a.c", "a\nc", "000"},
    {"^a", "ba", "000"},
    {"a$", "a\n", "110"},
    {"a$", "a\n\n", "000"},
    {"a$\n", "a\n", "111"},
    {"$", "", "111"},
    {"^$", "\n", "110"},
    {"\\Aa\\Z", "a\n", "000"},
    {"a\\Z", "ba", "100"},
    {"^^a$$", "a", "111"},
    /* classes */
    {"[abc]+", "cab", "111"},
    {"[^abc]", "\n", "111"},
    {"[a-c]+", "abd", "110"},
    {"[]a]+", "]a]", "111"},
    {"[^]a]", "]", "000"},
    {"[a-]+", "-a-", "111"},
    {"[-a]", "-", "111"},
    {"[a\\-z]+", "a-z", "111"},
    {"[a\\-z]", "b", "000"},
    {"[\\]]", "]", "111"},
    {"[\\\\]", "\\", "111"},
    {"[\\d.]+", "1.5", "111"},
    {"[\\w]+", "a_1", "111"},
    {"[^\\w]", "a", "000"},
    {"[\\s]", "\x0b", "111"},
    {"[\\b]", "\b", "111"},
    {"[a-b-c]+", "a-c", "111"},
    {"[[]", "[", "111"},
    {"[.]", "a", "000"},
    {"[\\x41-\\x43]+", "ABC", "111"},
    {"[\\101]", "A", "111"},
    /* escapes */
    {"\\d+", "a12", "100"},
    {"\\D", "1", "000"},
    {"\\w+", "a_1", "111"},
    {"\\W", "_", "000"},
    {"\\s", "\x1c", "111"},
    {"\\s", "\x1b", "000"},
    {"\\S+", "ab", "111"},
    {"\\.", "a", "000"},
    {"\\.", ".", "111"},
    {"\\n", "\n", "111"},
    {"\\t\\r\\f\\v\\a", "\t\r\f\v\a", "111"},
    {"\\\\", "\\", "111"},
    {"\\x61\\u0062\\U00000063", "abc", "111"},
    {"\\141", "a", "111"},
    {"\\0", "", "000"},
    {"\\07", "\a", "111"},
    {"\\-\\_\\ \\#", "-_ #", "111"},
    {"caf\\xe9", "caf\xc3\xa9", "111"},
    {"caf\\u00e9", "caf\xc3\xa9", "111"},
    {"\\u20ac", "\xe2\x82\xac", "111"},
    {"\\U0001F600", "\xf0\x9f\x98\x80", "111"},
    {"\\\xc3\xa9", "\xc3\xa9", "111"},
    /* word boundaries */
    {"\\bmlp\\b", "model.mlp.up", "100"},
    {"\\bmlp\\b", "model.mlpx", "000"},
    {"\\Bmlp", "xmlp", "100"},
    {"\\b", "", "000"}, /* Python <= 3.13 */
    {"\\B", "", "000"}, /* Python <= 3.13 */
    {"\\b", "a", "110"},
    {"\\B", "a", "000"},
    {"\\B", ".", "110"},
    {"a\\b", "a", "111"},
    {"\\bcaf\xc3\xa9\\b", "caf\xc3\xa9", "111"},
    /* groups and alternation */
    {"(a|)", "", "111"},
    {"(a|)+b", "aab", "111"},
    {"(|a)", "a", "111"},
    {"a|", "b", "110"},
    {"|", "", "111"},
    {"((a)(b))", "ab", "111"},
    {"(?:(?:(?:a)))", "a", "111"},
    {"(a(b(c(d))))", "abcd", "111"},
    {"()", "", "111"},
    {"(?:)*", "", "111"},
    {"(a*)*", "aaa", "111"},
    {"(a*)+b", "aab", "111"},
    {"(?:a|ab)(?:c|bcd)", "abcd", "111"},
    {"a|ab", "ab", "111"},
    {"(?:^)*a", "a", "111"},
    {"(^a|b)+", "ab", "111"},
    {"(^a|b)+", "ba", "110"},
    {"a(?#comment)b", "ab", "111"},
    {"a(?#x)*", "aaa", "111"},
    /* quantifiers */
    {"a*", "", "111"},
    {"a+", "", "000"},
    {"a?b", "b", "111"},
    {"a*?b", "aab", "111"},
    {"a+?", "aa", "111"},
    {"a??", "a", "111"},
    {"a{2}", "aa", "111"},
    {"a{2}", "a", "000"},
    {"a{2,}", "aaaa", "111"},
    {"a{1,2}", "aaa", "110"},
    {"a{,2}", "aaa", "110"},
    {"a{,}", "aaa", "111"},
    {"a{0}", "", "111"},
    {"a{0}b", "b", "111"},
    {"a{2}?", "aa", "111"},
    {"a{1,3}?$", "aaa", "111"},
    {"(ab){2}", "abab", "111"},
    {"(ab){0,2}$", "ababab", "100"},
    {"(a{2}){2}", "aaaa", "111"},
    {"(a{1,2}){2,3}", "aaaaaaa", "110"},
    {"[ab]{2,3}", "abab", "110"},
    {"\\d{1,2}\\.", "123.", "100"},
    {"x{3}y{0,1}z*", "xxxz", "111"},
    /* '{' that is not a quantifier is a literal */
    {"a{", "a{", "111"},
    {"a{}", "a{}", "111"},
    {"a{x}", "a{x}", "111"},
    {"a{1", "a{1", "111"},
    {"a{1,", "a{1,", "111"},
    {"a{ 1}", "a{ 1}", "111"},
    {"{", "{", "111"},
    {"a*{", "aa{", "111"},
    {"}", "}", "111"},
    {"]", "]", "111"},
    /* non-ASCII literals are whole characters */
    {"\xc3\xa9+", "\xc3\xa9\xc3\xa9", "111"},
    {"\xc3\xa9{2}", "\xc3\xa9\xc3\xa9", "111"},
    {"caf\xc3\xa9", "un caf\xc3\xa9", "100"},
    {"\\w+", "caf\xc3\xa9", "111"},
    /* characters, not bytes */
    {"^.$", "\xc3\xa9", "111"},
    {"^..$", "\xc3\xa9", "000"},
    {"^.{3}$", "\xe2\x82\xac\xc3\xa9!", "111"},
    {"^[^a]$", "\xf0\x9f\x98\x80", "111"},
    {"^\\D\\S\\w$", "\xc3\xa9\xc3\xa9\xc3\xa9", "111"},
    {"\\B", "\xc3\xa9", "000"},
    {"x.y", "x\xc3y", "111"},      /* a stray lead byte is one character */
    {"x..y", "x\xe2\x82y", "111"}, /* a truncated sequence is bytes */
    {"x.y", "x\xa9y", "111"},      /* a stray continuation byte too */
    {"\xc3\xa9", "\xc3\xa9", "111"},
    {"\xc3", "\xc3\xa9", "000"}, /* a lone lead byte in the pattern is not part of a character */
    /* documented differences from Python's Unicode categories (Python says 111, 111, 000) */
    {"\\W", "\xe2\x80\x94", "000"}, /* U+2014 */
    {"\\s", "\xc2\xa0", "000"},     /* U+00A0 */
    {"\\D", "\xd9\xa3", "111"},     /* U+0663 */
    /* pathological for backtracking matchers (also timed below) */
    {"(a*)*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "000"},
    {"(a|a)*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "000"},
    {"(a|aa)+$", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", "000"},
    {"(.*){30}x", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "000"},
    {"(x+x+)+y", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "000"},
};

typedef struct {
    const char *pattern;
    fp8q_result code;
    const char *frag;
    long off; /* -1: any */
} error_case;

static const error_case error_cases[] = {
    /* Python's syntax errors */
    {"a**", FP8Q_ERR_PARSE, "multiple repeat", 2},
    {"a*?*", FP8Q_ERR_PARSE, "multiple repeat", 3},
    {"a{2}{3}", FP8Q_ERR_PARSE, "multiple repeat", 4},
    {"a{1,2}*", FP8Q_ERR_PARSE, "multiple repeat", 6},
    {"*a", FP8Q_ERR_PARSE, "nothing to repeat", 0},
    {"+", FP8Q_ERR_PARSE, "nothing to repeat", 0},
    {"{1}", FP8Q_ERR_PARSE, "nothing to repeat", 0},
    {"a|*", FP8Q_ERR_PARSE, "nothing to repeat", 2},
    {"(*)", FP8Q_ERR_PARSE, "nothing to repeat", 1},
    {"^*", FP8Q_ERR_PARSE, "nothing to repeat", 1},
    {"$?", FP8Q_ERR_PARSE, "nothing to repeat", 1},
    {"\\b+", FP8Q_ERR_PARSE, "nothing to repeat", 2},
    {"\\A{2}", FP8Q_ERR_PARSE, "nothing to repeat", 2},
    {"(?#c)*", FP8Q_ERR_PARSE, "nothing to repeat", 5},
    {"x{2,1}", FP8Q_ERR_PARSE, "min repeat greater than max repeat", 1},
    {"x{4294967295}", FP8Q_ERR_PARSE, "the repetition number is too large", 2},
    {"x{1,99999999999999999999}", FP8Q_ERR_PARSE, "the repetition number is too large", 4},
    {"(a", FP8Q_ERR_PARSE, "missing ), unterminated subpattern", 0},
    {"a(b(c)", FP8Q_ERR_PARSE, "missing ), unterminated subpattern", 1},
    {"a)", FP8Q_ERR_PARSE, "unbalanced parenthesis", 1},
    {")", FP8Q_ERR_PARSE, "unbalanced parenthesis", 0},
    {"[a", FP8Q_ERR_PARSE, "unterminated character set", 0},
    {"x[]", FP8Q_ERR_PARSE, "unterminated character set", 1},
    {"[a-", FP8Q_ERR_PARSE, "unterminated character set", 0},
    {"[z-a]", FP8Q_ERR_PARSE, "bad character range z-a", 1},
    {"[\\w-a]", FP8Q_ERR_PARSE, "bad character range \\w-a", 1},
    {"[a-\\d]", FP8Q_ERR_PARSE, "bad character range a-\\d", 1},
    {"\\", FP8Q_ERR_PARSE, "bad escape (end of pattern)", 0},
    {"ab\\", FP8Q_ERR_PARSE, "bad escape (end of pattern)", 2},
    {"[\\", FP8Q_ERR_PARSE, "bad escape (end of pattern)", 1},
    {"\\q", FP8Q_ERR_PARSE, "bad escape \\q", 0},
    {"[\\A]", FP8Q_ERR_PARSE, "bad escape \\A", 1},
    {"[\\8]", FP8Q_ERR_PARSE, "bad escape \\8", 1},
    {"\\x4", FP8Q_ERR_PARSE, "incomplete escape \\x4", 0},
    {"\\u12g", FP8Q_ERR_PARSE, "incomplete escape \\u12", 0},
    {"\\U00110000", FP8Q_ERR_PARSE, "bad escape \\U00110000", 0},
    {"\\400", FP8Q_ERR_PARSE, "octal escape value \\400 outside of range 0-0o377", 0},
    {"[\\777]", FP8Q_ERR_PARSE, "octal escape value \\777", 1},
    {"\\1", FP8Q_ERR_PARSE, "invalid group reference 1", 0},
    {"(a)\\2", FP8Q_ERR_PARSE, "invalid group reference 2", 3},
    {"(a\\1)", FP8Q_ERR_PARSE, "cannot refer to an open group", 2},
    {"(?", FP8Q_ERR_PARSE, "unexpected end of pattern", 2},
    {"(?<", FP8Q_ERR_PARSE, "unexpected end of pattern", 3},
    {"(?<x)", FP8Q_ERR_PARSE, "unknown extension ?<x", 1},
    {"(?Px)", FP8Q_ERR_PARSE, "unknown extension ?Px", 1},
    {"(?z)", FP8Q_ERR_PARSE, "unknown extension ?z", 1},
    {"(?#abc", FP8Q_ERR_PARSE, "missing ), unterminated comment", 0},
    /* outside the subset */
    {"a(?=b)", FP8Q_ERR_UNSUPPORTED, "regex 'a(?=b)': lookahead '(?=' at offset 1 is not supported", 1},
    {"a(?!b)", FP8Q_ERR_UNSUPPORTED, "negative lookahead '(?!'", 1},
    {"(?<=a)b", FP8Q_ERR_UNSUPPORTED, "lookbehind '(?<='", 0},
    {"(?<!a)b", FP8Q_ERR_UNSUPPORTED, "negative lookbehind '(?<!'", 0},
    {"(?P<n>a)", FP8Q_ERR_UNSUPPORTED, "named group '(?P<'", 0},
    {"(?P=n)", FP8Q_ERR_UNSUPPORTED, "named backreference '(?P='", 0},
    {"(a)\\1", FP8Q_ERR_UNSUPPORTED, "backreference '\\1' at offset 3 is not supported", 3},
    {"(a)(?(1)b)", FP8Q_ERR_UNSUPPORTED, "conditional group '(?('", 3},
    {"(?>a)", FP8Q_ERR_UNSUPPORTED, "atomic group '(?>'", 0},
    {"(?i)a", FP8Q_ERR_UNSUPPORTED, "inline flags '(?i'", 0},
    {"x(?-i:a)", FP8Q_ERR_UNSUPPORTED, "inline flags '(?-'", 1},
    {"a*+", FP8Q_ERR_UNSUPPORTED, "possessive quantifier '*+'", 1},
    {"a{1,2}+", FP8Q_ERR_UNSUPPORTED, "possessive quantifier '{1,2}+'", 1},
    {"\\N{EM DASH}", FP8Q_ERR_UNSUPPORTED, "named character escape '\\N'", 0},
    {"[\xc3\xa9]", FP8Q_ERR_UNSUPPORTED, "non-ASCII character '\\xC3' in a character class", 1},
    {"[\\xe9]", FP8Q_ERR_UNSUPPORTED, "non-ASCII character '\\xe9' in a character class", 1},
    /* limits */
    {"a{10001}", FP8Q_ERR_LIMIT, "FP8Q_MAX_REGEX_PROGRAM", 1},
    {"x(a{100}){101}", FP8Q_ERR_LIMIT, "after expanding the repetition at offset 9", 9},
    {"((a{10}){10}){101}", FP8Q_ERR_LIMIT, "FP8Q_MAX_REGEX_PROGRAM", 13},
    {"a{4294967294}", FP8Q_ERR_LIMIT, "FP8Q_MAX_REGEX_PROGRAM", 1},
};

/* ---- golden vectors */

static int unescape(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    while (*s) {
        unsigned v;
        if (n + 1 >= cap) return -1;
        if (s[0] == '\\' && s[1] == '\\') {
            out[n++] = '\\';
            s += 2;
        } else if (s[0] == '\\' && s[1] == 'x' && s[2] && s[3] && sscanf(s + 2, "%2x", &v) == 1) {
            out[n++] = (char)v;
            s += 4;
        } else {
            out[n++] = *s++;
        }
    }
    out[n] = 0;
    return (int)n;
}

static void golden(const char *path)
{
    FILE *f = fopen(path, "rb");
    static char line[65536], pat[16384], text[16384];
    long lines = 0, v = 0, e = 0, u = 0, l = 0, bad = 0;
    int before = failed;
    if (!f) {
        failed++;
        printf("FAIL golden: cannot open %s\n", path);
        return;
    }
    while (fgets(line, sizeof line, f)) {
        char *fld[4] = {0, 0, 0, 0}, *p = line;
        int nf = 0;
        fp8q_error err;
        fp8q_result r;
        size_t k = strlen(line);
        lines++;
        if (k && line[k - 1] == '\n') line[--k] = 0;
        if (line[0] == '#' || !line[0]) continue;
        while (nf < 4) {
            fld[nf++] = p;
            p = strchr(p, '\t');
            if (!p) break;
            *p++ = 0;
        }
        if (nf < 2 || unescape(fld[1], pat, sizeof pat) < 0 || (nf > 2 && unescape(fld[2], text, sizeof text) < 0)) {
            bad++;
            continue;
        }
        if (line[0] == 'V' && nf == 4 && strlen(fld[3]) == 3) {
            char got[4] = "???";
            int h, agree = 1;
            v++;
            for (h = 0; h < 3; h++) {
                int m = -1;
                r = fp8q_regex(pat, text, (fp8q_regex_how)h, &m, &err);
                if (r != FP8Q_OK) {
                    fail_case("golden (Python accepts)", pat, text);
                    printf("    line %ld: refused (%d): %s\n", lines, (int)r, err.message);
                    agree = -1;
                    break;
                }
                got[h] = (char)('0' + m);
            }
            if (agree < 0) continue;
            if (strcmp(got, fld[3]) != 0) {
                fail_case("golden", pat, text);
                printf("    line %ld: Python search/match/fullmatch %s, fp8q %s\n", lines, fld[3], got);
                continue;
            }
            passed++;
        } else if (line[0] == 'E' || line[0] == 'U' || line[0] == 'L') {
            fp8q_result want = line[0] == 'U' ? FP8Q_ERR_UNSUPPORTED : FP8Q_ERR_LIMIT;
            r = fp8q_regex_check(pat, &err);
            if (line[0] == 'E') {
                e++;
                if (r != FP8Q_ERR_PARSE && r != FP8Q_ERR_UNSUPPORTED) {
                    fail_case("golden (Python refuses)", pat, NULL);
                    printf("    line %ld: Python: %s; fp8q: %d %s\n", lines, nf > 2 ? fld[2] : "", (int)r, err.message);
                    continue;
                }
            } else {
                if (line[0] == 'U')
                    u++;
                else
                    l++;
                if (r != want) {
                    fail_case(line[0] == 'U' ? "golden (want UNSUPPORTED)" : "golden (want LIMIT)", pat, NULL);
                    printf("    line %ld: fp8q: %d %s\n", lines, (int)r, err.message);
                    continue;
                }
            }
            passed++;
        } else {
            bad++;
        }
    }
    fclose(f);
    if (bad) {
        failed++;
        printf("FAIL golden: %ld malformed lines in %s\n", bad, path);
    }
    printf("golden %s: %ld match cases, %ld Python errors, %ld unsupported, %ld limits; %d failures\n", path, v, e, u,
           l, failed - before);
}

/* ---- pathological patterns, timed */

/* The limits catch exponential backtracking (which would take years), not speed: under
   valgrind (FP8Q_TEST_VALGRIND set by tests/valgrind.sh, ~50x slower) they are 100x wider. */
static double time_limit_scale(void) { return getenv("FP8Q_TEST_VALGRIND") ? 100.0 : 1.0; }

static void timed(const char *pattern, const char *text, fp8q_regex_how how, int want, double max_s)
{
    int m = -1;
    max_s *= time_limit_scale();
    clock_t t0 = clock();
    fp8q_result r = fp8q_regex(pattern, text, how, &m, NULL);
    double s = (double)(clock() - t0) / CLOCKS_PER_SEC;
    if (r != FP8Q_OK || m != want || s > max_s) {
        fail_case("pathological", pattern, NULL);
        printf("    text of %lu bytes: r=%d matched=%d (want %d) in %.3f s (max %.1f)\n", (unsigned long)strlen(text),
               (int)r, m, want, s, max_s);
        return;
    }
    passed++;
}

static void pathological(void)
{
    size_t n = 10000;
    char *a = (char *)malloc(n + 2);
    char *big = (char *)malloc(4097);
    if (!a || !big) {
        failed++;
        printf("FAIL pathological: out of memory\n");
        free(a);
        free(big);
        return;
    }
    memset(a, 'a', n);
    a[n] = 0;
    timed("(a*)*b", a, FP8Q_REGEX_SEARCH, 0, 2.0);
    timed("(a*)*b", a, FP8Q_REGEX_MATCH, 0, 2.0);
    timed("(a|a)*b", a, FP8Q_REGEX_SEARCH, 0, 2.0);
    timed("(a|aa)*$", a, FP8Q_REGEX_FULLMATCH, 1, 2.0);
    timed("(.*){30}", a, FP8Q_REGEX_FULLMATCH, 1, 2.0);
    timed("(.*){30}b", a, FP8Q_REGEX_SEARCH, 0, 2.0);
    timed("(a+)+b", a, FP8Q_REGEX_SEARCH, 0, 2.0);
    timed("(?:a?){500}a{500}", a + n - 500, FP8Q_REGEX_FULLMATCH, 1, 2.0);
    timed("(\\w+\\.?)*!", a, FP8Q_REGEX_SEARCH, 0, 2.0);
    timed(".*.*.*.*.*.*.*.*=.*", a, FP8Q_REGEX_SEARCH, 0, 2.0);
    /* the biggest program on a long text */
    memset(big, '(', 64);
    memset(big + 64, 'a', 4096 - 128);
    memset(big + 4096 - 64, ')', 64);
    big[4096] = 0;
    timed(big, a, FP8Q_REGEX_SEARCH, 1, 5.0);
    big[4096 - 65] = 'b';
    timed(big, a, FP8Q_REGEX_SEARCH, 0, 5.0);
    timed("(?:a|b|c|d|e|f|g|h){0,400}z", a, FP8Q_REGEX_SEARCH, 0, 5.0);
    timed("(?:.?){4990}", a, FP8Q_REGEX_SEARCH, 1, 5.0);
    a[n - 1] = 'b';
    timed("(a*)*b", a, FP8Q_REGEX_FULLMATCH, 1, 2.0);
    timed("(a|a)*b", a, FP8Q_REGEX_SEARCH, 1, 2.0);
    free(a);
    free(big);
}

/* ---- API */

static void api(void)
{
    fp8q_error err;
    int m = 5;
    char deep[200];
    int k;
    if (fp8q_regex(NULL, "a", FP8Q_REGEX_SEARCH, &m, &err) != FP8Q_ERR_ARG || m != 0 || err.code != FP8Q_ERR_ARG)
        fail_case("NULL pattern", "", NULL);
    else
        passed++;
    if (fp8q_regex("a", NULL, FP8Q_REGEX_SEARCH, &m, &err) != FP8Q_ERR_ARG || !strstr(err.message, "text"))
        fail_case("NULL text", "a", NULL);
    else
        passed++;
    if (fp8q_regex("a", "a", FP8Q_REGEX_SEARCH, NULL, &err) != FP8Q_ERR_ARG)
        fail_case("NULL matched", "a", NULL);
    else
        passed++;
    if (fp8q_regex("a", "a", (fp8q_regex_how)3, &m, &err) != FP8Q_ERR_ARG || m != 0)
        fail_case("bad how", "a", NULL);
    else
        passed++;
    if (fp8q_regex_check(NULL, &err) != FP8Q_ERR_ARG)
        fail_case("check NULL", "", NULL);
    else
        passed++;
    if (fp8q_regex("a(", "a", FP8Q_REGEX_SEARCH, &m, NULL) != FP8Q_ERR_PARSE ||
        fp8q_regex_check("a(", NULL) != FP8Q_ERR_PARSE ||
        fp8q_regex("a", "a", FP8Q_REGEX_SEARCH, &m, NULL) != FP8Q_OK || m != 1 ||
        fp8q_regex_check("a", NULL) != FP8Q_OK)
        fail_case("err NULL", "a(", NULL);
    else
        passed++;
    /* the error of a previous call is cleared */
    (void)fp8q_regex_check("(", &err);
    if (fp8q_regex("a", "a", FP8Q_REGEX_MATCH, &m, &err) != FP8Q_OK || err.code != 0 || err.offset != 0 ||
        err.message[0])
        fail_case("err cleared", "a", NULL);
    else
        passed++;
    /* nesting: 64 deep is fine, 65 is FP8Q_ERR_LIMIT */
    for (k = 0; k < 64; k++) deep[k] = '(';
    deep[64] = 'a';
    for (k = 0; k < 64; k++) deep[65 + k] = ')';
    deep[129] = 0;
    expect_match(deep, "a", "111");
    for (k = 0; k < 65; k++) deep[k] = '(';
    deep[65] = 'a';
    for (k = 0; k < 65; k++) deep[66 + k] = ')';
    deep[131] = 0;
    expect_error(deep, FP8Q_ERR_LIMIT, "groups nested deeper than FP8Q_MAX_REGEX_DEPTH (64)", 64);
    /* length: FP8Q_MAX_REGEX bytes are fine, one more is FP8Q_ERR_LIMIT */
    {
        char *p = (char *)malloc(FP8Q_MAX_REGEX + 2);
        if (!p) {
            failed++;
            return;
        }
        memset(p, 'a', FP8Q_MAX_REGEX);
        p[FP8Q_MAX_REGEX] = 0;
        expect_match(p, p, "111");
        p[FP8Q_MAX_REGEX] = 'a';
        p[FP8Q_MAX_REGEX + 1] = 0;
        expect_error(p, FP8Q_ERR_LIMIT, "pattern longer than FP8Q_MAX_REGEX (4096) bytes", FP8Q_MAX_REGEX);
        free(p);
    }
    /* a long pattern is cut in the message, which stays NUL-terminated */
    expect_error("0123456789012345678901234567890123456789012345678901234567890123456789\\q", FP8Q_ERR_PARSE,
                 "...': bad escape \\q at offset 70", 70);
    expect_error("\x01\xff(", FP8Q_ERR_PARSE, "regex '\\x01\\xFF(': missing ), unterminated subpattern at offset 2", 2);
}

int main(int argc, char **argv)
{
    size_t i;
    for (i = 0; i < sizeof match_cases / sizeof match_cases[0]; i++)
        expect_match(match_cases[i].pattern, match_cases[i].text, match_cases[i].smf);
    for (i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++)
        expect_error(error_cases[i].pattern, error_cases[i].code, error_cases[i].frag,
                     error_cases[i].off < 0 ? (size_t)-1 : (size_t)error_cases[i].off);
    pathological();
    api();
    if (argc > 1) {
        golden(argv[1]);
    } else {
        FILE *f = fopen(FP8Q_REGEX_VECTORS, "rb");
        if (f) {
            fclose(f);
            golden(FP8Q_REGEX_VECTORS);
        } else {
            printf("note: no golden vectors (give the file written by gen_regex_vectors.py as argument)\n");
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
