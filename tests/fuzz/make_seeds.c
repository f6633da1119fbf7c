/* Writes a small seed corpus for fuzz_safetensors (valid files of every
   float dtype, zero-size and 0-dim tensors, metadata) into the directory
   given as argv[1]. Run by `make fuzz`; the JSON corpus is the INC files in
   ../shared/data plus tests/fuzz/json_seeds. */
#define FP8Q_IMPLEMENTATION
#include "../../fp8q.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    static const uint8_t bytes[64] = {0x38, 0x40, 0x7E, 0x7F, 0x80, 0x01, 0xFF, 0x3C};
    static const fp8q_dtype types[] = {FP8Q_F32,     FP8Q_BF16,    FP8Q_F16, FP8Q_F8_E4M3,
                                       FP8Q_F8_E5M2, FP8Q_F8_E8M0, FP8Q_I32};
    const char *keys[1] = {"format"}, *vals[1] = {"pt"};
    char path[512];
    size_t i;
    if (argc < 2) return 2;
    for (i = 0; i < sizeof types / sizeof types[0]; i++) {
        uint64_t shape[2] = {2, 2}, zero[1] = {0};
        fp8q_tensor_out t[3];
        fp8q_error err;
        t[0].name = "model.layers.0.mlp.up_proj.weight", t[0].dtype = types[i], t[0].ndim = 2, t[0].shape = shape;
        t[0].data = bytes;
        t[1].name = "empty", t[1].dtype = types[i], t[1].ndim = 1, t[1].shape = zero, t[1].data = bytes;
        t[2].name = "scalar", t[2].dtype = FP8Q_F32, t[2].ndim = 0, t[2].shape = shape, t[2].data = bytes;
        snprintf(path, sizeof path, "%s/seed_%zu.safetensors", argv[1], i);
        if (fp8q_safetensors_write(path, t, 3, keys, vals, i % 2, &err) != FP8Q_OK) {
            fprintf(stderr, "make_seeds: %s\n", err.message);
            return 1;
        }
    }
    return 0;
}
