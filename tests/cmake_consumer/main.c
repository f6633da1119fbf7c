/* Consumer of the fp8q::fp8q CMake target. */
#define FP8Q_IMPLEMENTATION
#include <fp8q.h>

#include <stdio.h>

int main(void)
{
    int ok = fp8q_from_f32(448.0f, FP8Q_E4M3, FP8Q_SATFINITE) == 0x7E;
    printf("fp8q %s via CMake: %s\n", fp8q_version(), ok ? "ok" : "FAIL");
    return !ok;
}
