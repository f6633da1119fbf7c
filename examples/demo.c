/* fp8q demo (`make run`): the format table, a few conversions in every
   format and saturation mode, and a scaled bulk round trip. */
#define FP8Q_IMPLEMENTATION
#include "../fp8q.h"

#include <math.h>
#include <stdio.h>

static void print_format_table(void)
{
    int f;
    printf("%-9s %-12s %3s %3s %4s %10s %11s %13s  %-6s %-3s %-3s\n", "format", "safetensors", "E", "M", "bias", "max",
           "min normal", "min subnormal", "specials", "max", "NaN");
    for (f = 0; f < FP8Q_FORMAT_COUNT; f++) {
        const fp8q_format_info *i = fp8q_format_get((fp8q_format)f);
        static const char *specials[] = {"fn", "ieee", "fnuz"};
        printf("%-9s %-12s %3d %3d %4d %10g %11g %13g  %-8s %02X  %02X\n", i->name, i->safetensors_dtype,
               i->exponent_bits, i->mantissa_bits, i->bias, i->max_finite, i->min_normal, i->min_subnormal,
               specials[i->specials], i->max_code, i->nan_code);
    }
}

static void print_conversions(void)
{
    static const float xs[] = {1.0f,   0.1f,     4.25f, 240.0f, 300.0f,   464.0f,
                               500.0f, 61440.0f, 1e-3f, -1e-5f, INFINITY, NAN};
    int f, i;
    printf("\nfloat32 -> FP8 (round to nearest even) -> float32; SATFINITE | NOSAT\n%-10s", "x");
    for (f = 0; f < FP8Q_FORMAT_COUNT; f++) printf(" %-22s", fp8q_format_get((fp8q_format)f)->name);
    printf("\n");
    for (i = 0; i < (int)(sizeof xs / sizeof xs[0]); i++) {
        printf("%-10g", xs[i]);
        for (f = 0; f < FP8Q_FORMAT_COUNT; f++) {
            uint8_t s = fp8q_from_f32(xs[i], (fp8q_format)f, FP8Q_SATFINITE);
            uint8_t n = fp8q_from_f32(xs[i], (fp8q_format)f, FP8Q_NOSAT);
            char cell[40];
            snprintf(cell, sizeof cell, "%02X=%g|%02X=%g", s, fp8q_to_f32(s, (fp8q_format)f), n,
                     fp8q_to_f32(n, (fp8q_format)f));
            printf(" %-22s", cell);
        }
        printf("\n");
    }
}

/* Per-tensor dynamic quantization of a small vector, vLLM style:
   s = amax / 448, q = fp8(x / s), x_hat = q * s. */
static void print_scaled_round_trip(void)
{
    float x[8] = {0.02f, -1.5f, 3.14159f, 7.0f, -0.0003f, 12.5f, -9.75f, 0.5f}, back[8], amax = 0, s;
    uint8_t q[8];
    int i;
    for (i = 0; i < 8; i++) amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
    s = amax / 448.0f;
    fp8q_encode_f32(q, x, 8, FP8Q_E4M3, FP8Q_SATFINITE, FP8Q_SCALE_DIV, s);
    fp8q_decode_f32(back, q, 8, FP8Q_E4M3, FP8Q_SCALE_MUL, s);
    printf("\nper-tensor E4M3 quantization, scale = amax/448 = %g (bulk path: %s)\n", s, fp8q_simd_name());
    for (i = 0; i < 8; i++)
        printf("  %10g -> %02X -> %-10g (rel. error %.2g)\n", x[i], q[i], back[i],
               x[i] != 0 ? fabsf(back[i] - x[i]) / fabsf(x[i]) : 0.0);
}

int main(void)
{
    printf("fp8q %s: bit-exact FP8 formats\n\n", fp8q_version());
    print_format_table();
    print_conversions();
    print_scaled_round_trip();
    return 0;
}
