/* libFuzzer target: round trips. The first byte selects:
   even  safetensors: a file that parses is written again with the same
         tensors (in file order) and metadata; the new file must parse, and
         every tensor must have the same name, dtype, shape and bytes, and
         every metadata pair the same key and value;
   odd   conversions: the rest of the input as float32 values (little-endian)
         encoded to every FP8 format in both saturation modes and decoded:
         every decoded byte must equal the scalar fp8q_to_f32 of the scalar
         encode, the bulk encode must equal the scalar one, and a decoded
         finite value must encode back to the same byte (each FP8 value is
         exactly representable in float32).
   Built by `make fuzz`. */
#define FP8Q_IMPLEMENTATION
#include "../../fp8q.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void safetensors_round_trip(const uint8_t *data, size_t size)
{
    fp8q_safetensors a, b;
    fp8q_error err;
    fp8q_tensor_out *t;
    void *out = NULL;
    size_t out_len = 0, i;
    if (fp8q_safetensors_parse(&a, data, size, &err) != FP8Q_OK) return;
    t = (fp8q_tensor_out *)calloc(a.n_tensors + 1, sizeof *t);
    if (!t) abort();
    for (i = 0; i < a.n_tensors; i++) {
        const fp8q_tensor_info *x = &a.tensors[i];
        t[i].name = x->name, t[i].dtype = x->dtype, t[i].ndim = x->ndim, t[i].shape = x->shape;
        t[i].data = fp8q_safetensors_bytes(&a, x);
    }
    if (fp8q_safetensors_write_mem(&out, &out_len, t, a.n_tensors, a.meta_keys, a.meta_values, a.n_metadata, &err) !=
        FP8Q_OK)
        abort(); /* anything the reader accepts, the writer writes */
    if (fp8q_safetensors_parse(&b, out, out_len, &err) != FP8Q_OK) abort();
    if (b.n_tensors != a.n_tensors || b.n_metadata != a.n_metadata) abort();
    for (i = 0; i < a.n_tensors; i++) {
        const fp8q_tensor_info *x = &a.tensors[i], *y = fp8q_safetensors_find(&b, x->name);
        if (!y || y->dtype != x->dtype || y->ndim != x->ndim || memcmp(y->shape, x->shape, sizeof x->shape) != 0 ||
            y->size != x->size ||
            (x->size && memcmp(fp8q_safetensors_bytes(&a, x), fp8q_safetensors_bytes(&b, y), (size_t)x->size) != 0))
            abort();
    }
    for (i = 0; i < a.n_metadata; i++)
        if (strcmp(a.meta_keys[i], b.meta_keys[i]) != 0 || strcmp(a.meta_values[i], b.meta_values[i]) != 0) abort();
    fp8q_safetensors_close(&b);
    free(out);
    free(t);
    fp8q_safetensors_close(&a);
}

static void conversion_round_trip(const uint8_t *data, size_t size)
{
    enum { MAXN = 1024 };
    static float x[MAXN], back[MAXN];
    static uint8_t q[MAXN];
    size_t n = size / 4 < MAXN ? size / 4 : MAXN, i;
    int f, s;
    for (i = 0; i < n; i++) {
        uint32_t u = (uint32_t)data[4 * i] | (uint32_t)data[4 * i + 1] << 8 | (uint32_t)data[4 * i + 2] << 16 |
                     (uint32_t)data[4 * i + 3] << 24;
        memcpy(&x[i], &u, 4);
    }
    for (f = 0; f < 4; f++)
        for (s = 0; s < 2; s++) {
            const fp8q_format fmt = (fp8q_format)f;
            const fp8q_saturation sat = s ? FP8Q_NOSAT : FP8Q_SATFINITE;
            if (fp8q_encode_f32(q, x, n, fmt, sat, FP8Q_SCALE_NONE, 1.0f) != FP8Q_OK) abort();
            if (fp8q_decode_f32(back, q, n, fmt, FP8Q_SCALE_NONE, 1.0f) != FP8Q_OK) abort();
            for (i = 0; i < n; i++) {
                const uint8_t want = fp8q_from_f32(x[i], fmt, sat);
                const float v = fp8q_to_f32(want, fmt);
                uint32_t a, b;
                if (q[i] != want) abort(); /* bulk == scalar */
                memcpy(&a, &back[i], 4), memcpy(&b, &v, 4);
                if (a != b) abort(); /* bulk decode == scalar decode */
                if (v == v && v - v == 0 && fp8q_from_f32(v, fmt, sat) != want) abort(); /* exact values re-encode */
            }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    if (data[0] & 1)
        conversion_round_trip(data + 1, size - 1);
    else
        safetensors_round_trip(data + 1, size - 1);
    return 0;
}
