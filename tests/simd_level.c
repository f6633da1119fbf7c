/* One copy of the fp8q implementation per SIMD level, for tests that compare
   every level against the reference in one process. Compiled several times
   with -DLEVEL=<name> and that level's target flags (see Makefile); each copy
   is static (FP8Q_STATIC) and exported under level-specific names. */
#define FP8Q_STATIC
#define FP8Q_IMPLEMENTATION
#include "../fp8q.h"
#include "simd_level.h"

#define CAT2(a, b) a##_##b
#define CAT(a, b)  CAT2(a, b)

const char *CAT(level_name, LEVEL)(void) { return fp8q_simd_name(); }

void CAT(level_encode_f32, LEVEL)(uint8_t *dst, const float *src, size_t n, int fmt, int sat)
{
    fp8q_encode_f32(dst, src, n, (fp8q_format)fmt, (fp8q_saturation)sat, FP8Q_SCALE_NONE, 0.0f);
}

void CAT(level_encode_f16, LEVEL)(uint8_t *dst, const uint16_t *src, size_t n, int fmt, int sat)
{
    fp8q_encode_f16(dst, src, n, (fp8q_format)fmt, (fp8q_saturation)sat, FP8Q_SCALE_NONE, 0.0f);
}

void CAT(level_encode_bf16, LEVEL)(uint8_t *dst, const uint16_t *src, size_t n, int fmt, int sat)
{
    fp8q_encode_bf16(dst, src, n, (fp8q_format)fmt, (fp8q_saturation)sat, FP8Q_SCALE_NONE, 0.0f);
}

void CAT(level_decode_f16, LEVEL)(uint16_t *dst, const uint8_t *src, size_t n, int fmt)
{
    fp8q_decode_f16(dst, src, n, (fp8q_format)fmt, FP8Q_SCALE_NONE, 0.0f);
}
