// The implementation compiled as C++ (g++ -std=c++11 -Wall -Wextra -pedantic
// -Werror) and a few results checked. Ends with "N passed, N failed".
#define FP8Q_IMPLEMENTATION
#include "../fp8q.h"

#include <cstdio>

int main()
{
    int passed = 0, failed = 0;
    const float xs[4] = {1.0f, 464.1f, -1e-5f, 4.25f};
    const unsigned char want[4] = {0x38, 0x7E, 0x80, 0x48};
    unsigned char got[4];
    fp8q_encode_f32(got, xs, 4, FP8Q_E4M3, FP8Q_SATFINITE, FP8Q_SCALE_NONE, 0.0f);
    for (int i = 0; i < 4; i++) {
        bool ok = got[i] == want[i] && fp8q_from_f32(xs[i], FP8Q_E4M3, FP8Q_SATFINITE) == want[i];
        ok ? passed++ : failed++;
        if (!ok) std::printf("FAIL %g -> %02X want %02X\n", xs[i], got[i], want[i]);
    }
    (fp8q_to_f32(0x7E, FP8Q_E4M3) == 448.0f) ? passed++ : failed++;
    (fp8q_to_f16(0x7F, FP8Q_E4M3) == 0x7FFF) ? passed++ : failed++;
    std::printf("C++ build, bulk path %s\n%d passed, %d failed\n", fp8q_simd_name(), passed, failed);
    return failed != 0;
}
