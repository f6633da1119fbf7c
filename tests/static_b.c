/* Second translation unit of the FP8Q_STATIC test, built without SIMD. */
#define FP8Q_STATIC
#define FP8Q_NO_SIMD
#define FP8Q_IMPLEMENTATION
#include "../fp8q.h"

#include <stdio.h>

unsigned char static_a_encode(float x);

int main(void)
{
    int failed = static_a_encode(464.1f) != 0x7E || fp8q_from_f32(464.1f, FP8Q_E4M3, FP8Q_SATFINITE) != 0x7E ||
                 fp8q_from_f32(300.0f, FP8Q_E5M2, FP8Q_NOSAT) != 0x5D;
    printf("static build, second copy's bulk path %s\n%d passed, %d failed\n", fp8q_simd_name(), !failed, failed);
    return failed;
}
