/* libFuzzer target: the JSON parser, with and without the non-finite
   extension, then every accessor on every token (they must never read out of
   bounds or disagree with the parse). Built by `make fuzz`. */
#define FP8Q_IMPLEMENTATION
#include "../../fp8q.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int flags;
    for (flags = 0; flags <= FP8Q_JSON_ALLOW_NONFINITE; flags++) {
        fp8q_json j;
        fp8q_error err;
        size_t t;
        if (fp8q_json_parse(&j, (const char *)data, size, flags, &err) != FP8Q_OK) continue;
        for (t = 0; t < j.count; t++) {
            char buf[16];
            double d;
            int64_t i;
            if (j.tok[t].next > j.count || j.tok[t].end > size) abort(); /* structure invariants */
            (void)fp8q_json_number(&j, t, &d);
            (void)fp8q_json_int64(&j, t, &i);
            (void)fp8q_json_string(&j, t, buf, sizeof buf);
            (void)fp8q_json_string_eq(&j, t, "dtype");
            if (j.tok[t].type == FP8Q_JSON_OBJECT) (void)fp8q_json_get(&j, t, "shape");
            if (j.tok[t].type == FP8Q_JSON_ARRAY) (void)fp8q_json_at(&j, t, 1);
        }
        fp8q_json_free(&j);
    }
    return 0;
}
