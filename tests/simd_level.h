/* Entry points of tests/simd_level.c, one set per SIMD level. */
#ifndef SIMD_LEVEL_H
#define SIMD_LEVEL_H
#include <stddef.h>
#include <stdint.h>

#define DECLARE_LEVEL(L)                                                                                               \
    const char *level_name_##L(void);                                                                                  \
    void level_encode_f32_##L(uint8_t *dst, const float *src, size_t n, int fmt, int sat);                             \
    void level_encode_f16_##L(uint8_t *dst, const uint16_t *src, size_t n, int fmt, int sat);                          \
    void level_encode_bf16_##L(uint8_t *dst, const uint16_t *src, size_t n, int fmt, int sat);                         \
    void level_decode_f16_##L(uint16_t *dst, const uint8_t *src, size_t n, int fmt);

DECLARE_LEVEL(scalar)
DECLARE_LEVEL(sse2)
DECLARE_LEVEL(sse41)
DECLARE_LEVEL(avx2)
DECLARE_LEVEL(avx512)
#endif
