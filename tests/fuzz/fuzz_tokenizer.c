/* libFuzzer target: the tokenizer. The first byte chooses what the rest is:
     0 mod 3  a tokenizer.json: parsed; when accepted, a fixed sample text
              (special tokens, digits, white space, emoji, invalid UTF-8) is
              encoded with each flag combination, decoded, and each id's
              piece taken;
     1 mod 3  text, encoded by four built-in tokenizers (GPT-2 byte-level,
              Llama-3 regex, SentencePiece normalizer with byte fallback,
              Digits + Metaspace split with lstrip/rstrip added tokens) with
              flags 0 and flags (first byte / 3) % 4;
     2 mod 3  GGUF-style arrays: NUL-separated tokens (the second byte picks
              "gpt2" or "llama", scores -index), merges "a b" after an empty
              token; when accepted, the input is encoded.
   Invariants (abort on violation): a measuring call (cap 0) gives the same
   count as the full call, ids are in the vocabulary, decode's output is
   valid UTF-8, and decode(encode(x)) equals x (invalid UTF-8 replaced by
   U+FFFD) for the byte-level and SentencePiece tokenizers without parsed
   special tokens (x without "▁" for the latter). Built by `make fuzz`. */
#define FP8Q_IMPLEMENTATION
#include "../../fp8q.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char g_sample[] = "Hello <|s|> world<m>  12345 \xF0\x9F\xA6\x99 caf\xC3\xA9\r\n\t 'll 'S \xC5\xBF x\xff"
                               "<s> </s> \xE2\x96\x81 <0x41>";

/* ---- built-in tokenizers */

/* Appends the JSON string literal of s (escaping quotes, backslashes and control bytes). */
static size_t put_json_string(char *out, const char *s)
{
    size_t o = 0;
    out[o++] = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            out[o++] = '\\', out[o++] = (char)c;
        else if (c < 0x20)
            o += (size_t)sprintf(out + o, "\\u%04x", c);
        else
            out[o++] = (char)c;
    }
    out[o++] = '"';
    return o;
}

/* GPT-2's character for byte b, as UTF-8. */
static void byte_char(unsigned b, char *out)
{
    unsigned k, n = 0, cp;
    int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b != 0xAD);
    for (k = 0; k < b; k++) n += !((k >= 0x21 && k <= 0x7E) || (k >= 0xA1 && k != 0xAD));
    cp = printable ? b : 256 + n;
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        out[2] = 0;
    }
}

/* A tokenizer.json: byte-level (256 byte characters and a few merges) or SentencePiece-style (specials, 256 byte
   tokens, a few pieces), with the given pipeline members (JSON text) appended. */
static fp8q_tokenizer *build(int byte_level, const char *rest)
{
    static const char *const bl_merges[][2] = {{"\xC4\xA0", "t"},        {"h", "e"}, {"\xC4\xA0t", "he"}, {"i", "n"},
                                               {"\xC4\xA0", "\xC4\xA0"}, {"1", "2"}, {"'", "s"}};
    static const char *const spm_pieces[] = {"\xE2\x96\x81",
                                             "a",
                                             "b",
                                             "c",
                                             "\xE2\x96\x81"
                                             "a",
                                             "ab",
                                             "\xE2\x96\x81"
                                             "ab",
                                             "1",
                                             "2"};
    static const char *const spm_merges[][2] = {{"\xE2\x96\x81", "a"},
                                                {"a", "b"},
                                                {"\xE2\x96\x81"
                                                 "a",
                                                 "b"}};
    char *j = (char *)malloc(1 << 16), tok[8];
    size_t o = 0, i, id = 0;
    fp8q_tokenizer *t = NULL;
    o += (size_t)sprintf(j + o, "{\"model\":{\"type\":\"BPE\",%s\"vocab\":{",
                         byte_level ? (strstr(rest, "Split") ? "\"ignore_merges\":true," : "")
                                    : "\"byte_fallback\":true,\"fuse_unk\":true,\"unk_token\":\"<unk>\",");
    if (!byte_level) o += (size_t)sprintf(j + o, "\"<unk>\":0,\"<s>\":1,\"</s>\":2,"), id = 3;
    for (i = 0; i < 256; i++, id++) {
        if (byte_level)
            byte_char((unsigned)i, tok);
        else
            sprintf(tok, "<0x%02X>", (unsigned)i);
        o += put_json_string(j + o, tok);
        o += (size_t)sprintf(j + o, ":%lu,", (unsigned long)id);
    }
    if (byte_level)
        for (i = 0; i < sizeof bl_merges / sizeof bl_merges[0]; i++, id++) {
            char m[16];
            sprintf(m, "%s%s", bl_merges[i][0], bl_merges[i][1]);
            o += put_json_string(j + o, m);
            o += (size_t)sprintf(j + o, ":%lu,", (unsigned long)id);
        }
    else
        for (i = 0; i < sizeof spm_pieces / sizeof spm_pieces[0]; i++, id++) {
            o += put_json_string(j + o, spm_pieces[i]);
            o += (size_t)sprintf(j + o, ":%lu,", (unsigned long)id);
        }
    o--; /* the last comma */
    o += (size_t)sprintf(j + o, "},\"merges\":[");
    if (byte_level)
        for (i = 0; i < sizeof bl_merges / sizeof bl_merges[0]; i++)
            o += (size_t)sprintf(j + o, "%s[\"%s\",\"%s\"]", i ? "," : "", bl_merges[i][0], bl_merges[i][1]);
    else
        for (i = 0; i < sizeof spm_merges / sizeof spm_merges[0]; i++)
            o += (size_t)sprintf(j + o, "%s\"%s %s\"", i ? "," : "", spm_merges[i][0], spm_merges[i][1]);
    o += (size_t)sprintf(j + o, "]},%s}", rest);
    if (fp8q_tokenizer_parse_json(&t, j, o, NULL) != FP8Q_OK) abort(); /* the built-in files are valid */
    free(j);
    return t;
}

static fp8q_tokenizer *g_tok[4];
static const int g_roundtrip[4] = {1, 1, 2, 0}; /* 1: exact; 2: exact unless the text holds U+2581 */

static void init(void)
{
    if (g_tok[0]) return;
    g_tok[0] = build(1, "\"added_tokens\":[{\"id\":300,\"content\":\"<|s|>\",\"special\":true,\"normalized\":false}],"
                        "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false},"
                        "\"decoder\":{\"type\":\"ByteLevel\"}");
    g_tok[1] =
        build(1, "\"added_tokens\":[{\"id\":300,\"content\":\"<|s|>\",\"special\":true,\"normalized\":false}],"
                 "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":"
                 "{\"Regex\":\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}|"
                 " ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},"
                 "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
                 "\"use_regex\":false}]},\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":["
                 "{\"SpecialToken\":{\"id\":\"<|s|>\"}},{\"Sequence\":{\"id\":\"A\"}}],\"special_tokens\":"
                 "{\"<|s|>\":{\"ids\":[300]}}},\"decoder\":{\"type\":\"ByteLevel\"}");
    g_tok[2] = build(0, "\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true,\"normalized\":false},"
                        "{\"id\":1,\"content\":\"<s>\",\"special\":true,\"normalized\":false},"
                        "{\"id\":2,\"content\":\"</s>\",\"special\":true,\"normalized\":false}],"
                        "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":"
                        "\"\xE2\x96\x81\"},{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":"
                        "\"\xE2\x96\x81\"}]},\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\","
                        "\"pattern\":{\"String\":\"\xE2\x96\x81\"},\"content\":\" \"},{\"type\":\"ByteFallback\"},"
                        "{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]}");
    g_tok[3] = build(0, "\"added_tokens\":[{\"id\":1,\"content\":\"<s>\",\"special\":true,\"normalized\":false},"
                        "{\"id\":300,\"content\":\"<m>\",\"lstrip\":true,\"rstrip\":true,\"normalized\":false},"
                        "{\"id\":301,\"content\":\"ab\",\"normalized\":true}],"
                        "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\","
                        "\"individual_digits\":true},{\"type\":\"Metaspace\",\"replacement\":\"\xE2\x96\x81\","
                        "\"prepend_scheme\":\"first\",\"split\":true}]},\"decoder\":{\"type\":\"Metaspace\","
                        "\"replacement\":\"\xE2\x96\x81\",\"prepend_scheme\":\"first\"}");
}

/* ---- checks */

static int contains(const char *s, size_t n, const char *what, size_t wl)
{
    size_t i;
    for (i = 0; i + wl <= n; i++)
        if (memcmp(s + i, what, wl) == 0) return 1;
    return 0;
}

static int valid_utf8(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80                 ? 1
                   : c >= 0xC2 && c <= 0xDF ? 2
                   : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xF0 && c <= 0xF4 ? 4
                                            : 0;
        size_t j;
        if (!k || i + k > n) return 0;
        for (j = 1; j < k; j++)
            if (((unsigned char)s[i + j] & 0xC0) != 0x80) return 0;
        if ((c == 0xE0 && (unsigned char)s[i + 1] < 0xA0) || (c == 0xED && (unsigned char)s[i + 1] > 0x9F) ||
            (c == 0xF0 && (unsigned char)s[i + 1] < 0x90) || (c == 0xF4 && (unsigned char)s[i + 1] > 0x8F))
            return 0;
        i += k;
    }
    return 1;
}

/* s with ill-formed UTF-8 replaced the way the tokenizer does it, via a tokenizer-independent route: the
   byte-level tokenizer's decode of its own encoding is compared against this. */
static size_t lossy(const char *s, size_t n, char *out)
{
    size_t i = 0, o = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        unsigned lo = 0x80, hi = 0xBF;
        size_t need = c < 0x80                 ? 1
                      : c >= 0xC2 && c <= 0xDF ? 2
                      : c >= 0xE0 && c <= 0xEF ? 3
                      : c >= 0xF0 && c <= 0xF4 ? 4
                                               : 0;
        size_t k = 1;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
        for (; need && k < need && i + k < n; k++) {
            unsigned d = (unsigned char)s[i + k];
            if (d < lo || d > hi) break;
            lo = 0x80, hi = 0xBF;
        }
        if (need && k == need) {
            memcpy(out + o, s + i, need);
            o += need;
            i += need;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += need ? k : 1;
        }
    }
    return o;
}

/* Encodes text with flags 0 and with more_flags (when not 0) and checks the invariants; roundtrip: 1 exact, 2 exact
   unless the text holds U+2581. */
static void exercise(const fp8q_tokenizer *t, const char *text, size_t len, int roundtrip, int more_flags)
{
    int pass, flags;
    for (pass = 0; pass < 2; pass++) {
        flags = pass ? more_flags : 0;
        if (pass && !flags) break;
        size_t n = 0, m = 0, i, dl = 0, pl;
        int32_t *ids;
        char *dec, piece[64];
        fp8q_result r = fp8q_tokenizer_encode(t, text, len, flags, NULL, 0, &m, NULL);
        if (r == FP8Q_ERR_NOMEM) return;
        if (r != FP8Q_OK && r != FP8Q_ERR_LIMIT) abort();
        ids = (int32_t *)malloc((m + 1) * sizeof *ids);
        if (fp8q_tokenizer_encode(t, text, len, flags, ids, m + 1, &n, NULL) != FP8Q_OK || n != m) abort();
        for (i = 0; i < n; i++) {
            if (ids[i] < 0 || ids[i] >= fp8q_tokenizer_vocab_size(t)) abort();
            pl = fp8q_tokenizer_piece(t, ids[i], piece, sizeof piece);
            (void)pl;
        }
        if (fp8q_tokenizer_decode(t, ids, n, flags & 1, NULL, 0, &dl, NULL) != FP8Q_ERR_LIMIT && dl != 0) abort();
        dec = (char *)malloc(dl + 1);
        if (fp8q_tokenizer_decode(t, ids, n, flags & 1, dec, dl + 1, &dl, NULL) != FP8Q_OK) abort();
        if (!valid_utf8(dec, dl)) abort();
        if (roundtrip && flags == 0 && !(roundtrip == 2 && contains(text, len, "\xE2\x96\x81", 3))) {
            char *want = (char *)malloc(3 * len + 1);
            size_t wl = lossy(text, len, want);
            if (wl != dl || memcmp(want, dec, dl) != 0) abort();
            free(want);
        }
        free(dec);
        free(ids);
    }
}

static void from_json(const uint8_t *data, size_t size)
{
    fp8q_tokenizer *t = NULL;
    fp8q_error err;
    char out[256];
    size_t len;
    if (fp8q_tokenizer_parse_json(&t, (const char *)data, size, &err) != FP8Q_OK) {
        if (t != NULL || err.code == FP8Q_OK) abort();
        return;
    }
    exercise(t, g_sample, sizeof g_sample - 1, 0, 3);
    exercise(t, g_sample, sizeof g_sample - 1, 0, 2);
    (void)fp8q_tokenizer_chat(t, NULL, "hi", out, sizeof out, &len, NULL);
    (void)fp8q_tokenizer_find(t, "a");
    fp8q_tokenizer_free(t);
}

static void from_spec(const uint8_t *data, size_t size)
{
    const char **tok = (const char **)malloc((size + 1) * sizeof *tok);
    size_t *len = (size_t *)malloc((size + 1) * sizeof *len), n = 0, i = 1, start = 1, merges_at = 0;
    float *scores = (float *)malloc((size + 1) * sizeof *scores);
    fp8q_tokenizer_spec sp;
    fp8q_tokenizer *t = NULL;
    for (; i <= size; i++)
        if (i == size || data[i] == 0) {
            if (i == start && !merges_at)
                merges_at = n; /* an empty token: merges follow */
            else {
                tok[n] = (const char *)data + start;
                len[n] = i - start;
                scores[n] = -(float)n;
                n++;
            }
            start = i + 1;
        }
    memset(&sp, 0, sizeof sp);
    sp.model = size && (data[0] & 4) ? "llama" : "gpt2";
    sp.pre = size && (data[0] & 8) ? "llama-bpe" : size && (data[0] & 16) ? "smollm" : NULL;
    sp.n_tokens = merges_at ? merges_at : n;
    sp.tokens = tok;
    sp.token_lens = len;
    sp.scores = scores;
    sp.n_merges = merges_at ? n - merges_at : 0;
    sp.merges = tok + sp.n_tokens;
    sp.merge_lens = len + sp.n_tokens;
    sp.bos = sp.eos = sp.unk = sp.pad = -1;
    if (sp.n_tokens > 1) sp.unk = 0, sp.bos = 1;
    sp.add_bos = sp.add_eos = sp.add_space_prefix = -1;
    if (fp8q_tokenizer_from_spec(&t, &sp, NULL) == FP8Q_OK) {
        exercise(t, (const char *)data, size, 0, 3);
        fp8q_tokenizer_free(t);
    } else if (t)
        abort();
    free(tok);
    free(len);
    free(scores);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int k;
    if (size == 0) return 0;
    init();
    switch (data[0] % 3) {
    case 0: from_json(data + 1, size - 1); break;
    case 1:
        for (k = 0; k < 4; k++) exercise(g_tok[k], (const char *)data + 1, size - 1, g_roundtrip[k], data[0] / 3 % 4);
        break;
    default: from_spec(data + 1, size - 1);
    }
    return 0;
}
