/* libFuzzer target: safetensors parsing from memory; on success every tensor
   must lie inside the buffer, be findable by name, and decode (float dtypes)
   without reading outside its bytes. Built by `make fuzz`. */
#define FP8Q_IMPLEMENTATION
#include "../../fp8q.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fp8q_safetensors st;
    fp8q_error err;
    size_t i;
    if (fp8q_safetensors_parse(&st, data, size, &err) != FP8Q_OK) return 0;
    for (i = 0; i < st.n_tensors; i++) {
        const fp8q_tensor_info *t = &st.tensors[i];
        if (t->offset > st.data_size || t->size > st.data_size - t->offset) abort();
        if (fp8q_safetensors_find(&st, t->name) == NULL) abort();
        if (t->numel <= 4096) {
            float *out = (float *)malloc((size_t)t->numel * sizeof(float) + 1);
            if (out) (void)fp8q_safetensors_read_f32(&st, t, out, &err);
            free(out);
        }
    }
    fp8q_safetensors_close(&st);
    return 0;
}
