/* libFuzzer target: GGUF parsing from memory; on success every tensor must
   lie inside the buffer and be findable by name, every KV findable and
   readable (scalars, strings, every array element through the accessors,
   string elements inside the buffer), small tensors of the converted types
   must decode, and the Llama configuration must be derivable or refused
   cleanly. Built by `make fuzz`. */
#define FP8Q_IMPLEMENTATION
#include "../../fp8q.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const uint8_t *data, size_t size, const void *p, size_t n)
{
    const uint8_t *q = (const uint8_t *)p;
    if (q < data || n > size || (size_t)(q - data) > size - n) abort();
}

static void read_kv(const uint8_t *data, size_t size, const fp8q_gguf_kv *kv)
{
    const char *s;
    size_t n;
    int64_t iv;
    double dv;
    uint64_t i;
    (void)fp8q_gguf_kv_int(kv, &iv);
    (void)fp8q_gguf_kv_float(kv, &dv);
    if (fp8q_gguf_kv_string(kv, &s, &n) == FP8Q_OK) inside(data, size, s, n);
    for (i = 0; kv->type == FP8Q_GGUF_ARRAY && i < kv->count; i++) {
        if (kv->array_type == FP8Q_GGUF_STRING) {
            if (fp8q_gguf_kv_array_string(kv, i, &s, &n) != FP8Q_OK) abort();
            inside(data, size, s, n);
        } else if (fp8q_gguf_kv_array_number(kv, i, &dv) != FP8Q_OK) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fp8q_gguf g;
    fp8q_error err;
    fp8q_llama_config cfg;
    size_t i;
    if (fp8q_gguf_parse(&g, data, size, &err) != FP8Q_OK) return 0;
    for (i = 0; i < g.n_kv; i++) {
        if (fp8q_gguf_find_kv(&g, g.kv[i].key) != &g.kv[i]) abort();
        read_kv(data, size, &g.kv[i]);
    }
    for (i = 0; i < g.n_tensors; i++) {
        const fp8q_gguf_tensor *t = &g.tensors[i];
        const uint8_t *p = fp8q_gguf_bytes(&g, t);
        const uint64_t numel = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
        if (!p || fp8q_gguf_find_tensor(&g, t->name) != t) abort();
        inside(data, size, p, (size_t)t->nbytes);
        if (t->offset % g.alignment != 0) abort();
        if (numel <= 4096) {
            float *out = (float *)malloc((size_t)numel * sizeof(float) + 1);
            fp8q_result r = out ? fp8q_gguf_read_f32(&g, t, out, &err) : FP8Q_OK;
            if (r != FP8Q_OK && r != FP8Q_ERR_UNSUPPORTED) abort();
            free(out);
        }
    }
    (void)fp8q_gguf_llama_config(&g, &cfg, &err);
    fp8q_gguf_close(&g);
    return 0;
}
