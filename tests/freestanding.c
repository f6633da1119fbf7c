/* The conversion core built freestanding: only <stddef.h> and <stdint.h>,
   no libc, no malloc. `make check` compiles this with -ffreestanding
   -nostdlib, checks that the object has no undefined symbols, and reports
   its code size. The two functions keep the whole core reachable. */
#define FP8Q_FREESTANDING
#define FP8Q_IMPLEMENTATION
#include "../fp8q.h"

uint8_t fs_encode(float x, int fmt, int sat) { return fp8q_from_f32(x, (fp8q_format)fmt, (fp8q_saturation)sat); }

float fs_decode(uint8_t v, int fmt) { return fp8q_to_f32(v, (fp8q_format)fmt); }
