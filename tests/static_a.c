/* FP8Q_STATIC: two translation units (static_a.c, static_b.c) each embed
   their own copy of the implementation; linking them together must not clash. */
#define FP8Q_STATIC
#define FP8Q_IMPLEMENTATION
#include "../fp8q.h"

unsigned char static_a_encode(float x) { return fp8q_from_f32(x, FP8Q_E4M3, FP8Q_SATFINITE); }
