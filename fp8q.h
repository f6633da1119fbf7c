/* fp8q.h - v0.3.0 - bit-exact FP8 numerics, quantization and W8A8 GEMM for C99 and C++
   public domain or MIT, your choice: see the end of this file.

   fp8q is the reference FP8 library: exact conversions between float32/float64/
   half/bfloat16 and the 8-bit float formats that real hardware uses, scalar and
   SIMD, equal bit for bit to NVIDIA CUDA's own host conversion code; E8M0
   (OCP MX) scales; scaled quantization with the exact recipes of vLLM,
   compressed-tensors, fbgemm, DeepSeek, OCP MX and Intel Neural Compressor;
   and a W8A8/W8A16 GEMM in reference, exact and fast modes.

   USAGE
     This is a single-header library. In exactly ONE C or C++ file write

         #define FP8Q_IMPLEMENTATION
         #include "fp8q.h"

     and include "fp8q.h" without the define wherever you only need the
     declarations. Example:

         uint8_t q = fp8q_from_f32(300.0f, FP8Q_E4M3, FP8Q_SATFINITE); // 0x79 = 288
         float   x = fp8q_to_f32(q, FP8Q_E4M3);                       // 288.0f
         fp8q_encode_f32(bytes, floats, n, FP8Q_E4M3, FP8Q_SATFINITE,
                         FP8Q_SCALE_DIV, scale);                       // q = fp8(x / s)

   CONFIGURATION MACROS (define before the #include that has FP8Q_IMPLEMENTATION)
     FP8Q_STATIC         every function gets internal linkage (static), so two
                         translation units can embed different fp8q builds.
     FP8QDEF             override the linkage of public functions yourself.
     FP8Q_NO_SIMD        use the scalar reference for the bulk functions.
     FP8Q_FREESTANDING   the conversion core only (formats, FP8, E8M0, bulk
                         conversions), including only <stddef.h> and
                         <stdint.h>: no libc, no malloc.
     FP8Q_MAX_HEADER_SIZE  largest safetensors header accepted (default 1e8 bytes)
     FP8Q_MAX_TENSORS    most tensors in one safetensors file (default 1e6)
     FP8Q_MAX_JSON_DEPTH most JSON containers open at once (default 512)
     FP8Q_MAX_CONFIG_SIZE  largest config.json / index.json read (default 64 MiB)
     FP8Q_NO_MMAP        fp8q_safetensors_open reads files with fread even where
                         it could map them (POSIX)
     FP8Q_NO_THREADS     no built-in threads for the fast GEMM (it then runs on
                         the calling thread, or through your parallel-for).
     FP8Q_ASSERT(x)      your assert; default assert() (nothing when freestanding).
   Linking: the conversion, quantization and GEMM core needs no libm; the
   Llama model and the INC model flows use expf, sqrtf, sin, cos and pow:
   link with -lm. The fast GEMM's built-in threads use POSIX threads on
   Unix-like systems (glibc >= 2.34 has them in libc; older ones need
   -pthread); on other systems it runs single-threaded unless given a
   parallel-for. Quantization and GEMM allocate scratch with malloc and free
   it before returning.

   SIMD is chosen at compile time from the compiler's target flags (like stb):
     x86: AVX-512F (-mavx512f), AVX2 (-mavx2), SSE4.1 (-msse4.1), SSE2 (the
     x86-64 baseline); F16C (-mf16c) widens/narrows half precision; the fast
     GEMM kernels need AVX-512F or AVX2 + FMA + F16C. AArch64: NEON.
     fp8q_simd_name() says which one a build uses. Every conversion fast path
     is tested to reproduce the scalar reference bit for bit for all 2^32
     float inputs.

   NUMERICS CONTRACT (details next to each function below)
     - Decoding is exact. Every NaN code decodes to the positive canonical NaN
       0x7FFFFFFF (float) / 0x7FFF (half, bfloat16), the sign is dropped; this
       is what CUDA's host decoders do.
     - Encoding rounds to nearest, ties to even, in one step from the exact
       input value (no double rounding). For FP8Q_E4M3 and FP8Q_E5M2 every
       encoder returns exactly the byte of CUDA's __nv_cvt_*_to_fp8 for every
       input, NaN inputs included. The FNUZ formats follow the same rules.
     - Pure integer arithmetic: independent of the FPU rounding mode and of
       -ffast-math in the caller's code. The bulk paths apply an optional scale
       with one IEEE float32 multiply or divide; SIMD fast paths assume the
       default MXCSR/FPCR (no flush-to-zero, no denormals-are-zero) for that
       step and for the half-precision narrowing.
     - Quantization recipes and INC scales reproduce their engines' formulas
       step by step (precision of every intermediate included); GEMM has a
       fixed-order float32 reference, an exact mode rounded once, and a fast
       mode bounded by fp8q_gemm_tolerance(). Every float operation is a single
       operation assigned to a float, so targets that evaluate float
       expressions in double (x87, s390x in ISO C mode, FLT_EVAL_METHOD 1/2)
       give the same bits.

   WHAT IS VALIDATED, WHAT IS TRUSTED
     The conversion functions take plain numbers and cannot fail on any input
     value; an unknown fp8q_format is a programming error (FP8Q_ASSERT, then a
     defined result: 0 or NaN). Bulk functions return FP8Q_ERR_ARG for NULL
     pointers with n > 0, an unknown format or scale operation.
     Files are untrusted: JSON (fp8q_json_parse) and safetensors
     (fp8q_safetensors_parse) are validated completely, sizes are
     overflow-checked, and no allocation is sized by an unchecked field.
     Thread safety: there is no global or static mutable state; every function
     may be called from any number of threads at once, on different objects.
     Objects passed as const are only read: a loaded fp8q_model serves any
     number of threads calling fp8q_forward at once, each with its own
     fp8q_state. A non-const object (state, checkpoint, parsed JSON, INC
     configuration or measurement being edited) must not be used by two
     threads at once. parallel_for and observer callbacks run on fp8q's
     worker threads or on the calling thread (observers: the calling thread
     only). tests/test_concurrency.c checks this under ThreadSanitizer.
     Results do not depend on thread counts, except the FAST GEMM's, which
     are fixed for a given count.

   REVISION HISTORY
     0.3.0 (2026-11-22) Llama model (FP32, vLLM/llm-compressor FP8 modes and
                        checkpoints, FP8 KV cache), compressed-tensors writer,
                        Python-re subset, INC QUANT_CONFIG / measurements /
                        scales / MEASURE / QUANTIZE, streaming safetensors.
     0.2.0 (2026-11-22) E8M0; scales, recipes, quantize/dequantize; INC scale
                        rules; W8A8/W8A16 GEMM (reference, exact, fast); metrics.
     0.1.0 (2026-11-22) formats table, scalar and SIMD conversions.
*/
#ifndef FP8Q_H
#define FP8Q_H

#include <stddef.h>
#include <stdint.h>

#define FP8Q_VERSION_MAJOR  0
#define FP8Q_VERSION_MINOR  3
#define FP8Q_VERSION_PATCH  0
#define FP8Q_VERSION_STRING "0.3.0"

#ifndef FP8QDEF
#if defined(FP8Q_STATIC) && (defined(__GNUC__) || defined(__clang__))
#define FP8QDEF static __attribute__((unused))
#elif defined(FP8Q_STATIC)
#define FP8QDEF static
#else
#define FP8QDEF extern
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- results */

/* Every fallible function returns one of these. Values are stable. */
typedef enum fp8q_result {
    FP8Q_OK = 0,
    FP8Q_ERR_ARG = -1,         /* invalid argument (NULL pointer, bad enum, bad size) */
    FP8Q_ERR_NOMEM = -2,       /* an allocation failed */
    FP8Q_ERR_UNSUPPORTED = -3, /* valid request this build or backend cannot do */
    FP8Q_ERR_PARSE = -4,       /* malformed input: the fp8q_error message says what and where */
    FP8Q_ERR_LIMIT = -5,       /* valid input beyond a limit (nesting depth, integer range, sizes) */
    FP8Q_ERR_IO = -6,          /* a file could not be opened, read, mapped or written */
    FP8Q_ERR_DEVICE = -7       /* a backend's runtime or device is missing or failed (the message has its text) */
} fp8q_result;
#define FP8Q_ERR_PARSE_DEFINED 1

/* A fixed English sentence for a result code; never NULL. */
FP8QDEF const char *fp8q_result_string(fp8q_result r);

/* Version of the implementation that was linked (compare with the macros). */
FP8QDEF const char *fp8q_version(void);

/* ---------------------------------------------------------------- formats */

/* The 8-bit formats. Values are stable; new formats are appended. */
typedef enum fp8q_format {
    FP8Q_E4M3 = 0,     /* OCP E4M3 = E4M3FN: bias 7, max 448, NaN 7F/FF, no Inf.
                          torch.float8_e4m3fn, __NV_E4M3, safetensors F8_E4M3 */
    FP8Q_E5M2 = 1,     /* OCP E5M2: bias 15, max 57344, Inf 7C/FC, NaN 7D-7F/FD-FF.
                          torch.float8_e5m2, __NV_E5M2, safetensors F8_E5M2 */
    FP8Q_E4M3FNUZ = 2, /* AMD MI300 / Graphcore: bias 8, max 240, NaN 80 only,
                          no Inf, no -0. safetensors F8_E4M3FNUZ */
    FP8Q_E5M2FNUZ = 3, /* bias 16, max 57344, NaN 80 only, no Inf, no -0.
                          safetensors F8_E5M2FNUZ */
    FP8Q_FORMAT_COUNT
} fp8q_format;
#define FP8Q_E4M3FN FP8Q_E4M3

/* Where a format keeps its special values. */
typedef enum fp8q_specials {
    FP8Q_SPECIALS_FN = 0,   /* finite: only S.1111.111 is NaN (E4M3FN) */
    FP8Q_SPECIALS_IEEE = 1, /* top exponent reserved: M=0 is Inf, M!=0 is NaN (E5M2) */
    FP8Q_SPECIALS_FNUZ = 2  /* finite, unsigned zero: 0x80 is the only NaN */
} fp8q_specials;

/* One row per format: everything the code knows about a format lives here. */
typedef struct fp8q_format_info {
    fp8q_format format;            /* equals the row's index */
    const char *name;              /* "e4m3fn", "e5m2", "e4m3fnuz", "e5m2fnuz" */
    const char *safetensors_dtype; /* "F8_E4M3", ... */
    int exponent_bits;             /* E */
    int mantissa_bits;             /* M (E + M = 7) */
    int bias;                      /* value = 2^(e - bias) * 1.m */
    fp8q_specials specials;
    uint8_t max_code; /* largest finite positive code */
    uint8_t inf_code; /* +Inf code, 0 when the format has no Inf */
    uint8_t nan_code; /* the NaN encoders return for float/half/bf16 NaN input */
    float max_finite;
    float min_normal;
    float min_subnormal;
} fp8q_format_info;

/* The row for fmt, or NULL when fmt is not a valid format. */
FP8QDEF const fp8q_format_info *fp8q_format_get(fp8q_format fmt);

/* ----------------------------------------------------- scalar conversions */

/* Saturation, named as in CUDA:
   FP8Q_SATFINITE  a result whose rounded magnitude exceeds the largest finite
                   value, and +-Inf, become +-max (E4M3 +-448, E5M2 +-57344,
                   E4M3FNUZ +-240, E5M2FNUZ +-57344). NaN stays NaN.
   FP8Q_NOSAT      overflow and +-Inf become +-Inf where the format has Inf
                   (E5M2 7C/FC), else NaN: E4M3 7F/FF (sign kept, as CUDA),
                   FNUZ 80. */
typedef enum fp8q_saturation { FP8Q_SATFINITE = 0, FP8Q_NOSAT = 1 } fp8q_saturation;

/* float32 -> FP8, round to nearest even (RNE), equal to CUDA's
   __nv_cvt_float_to_fp8(x, sat, fmt) for E4M3 and E5M2, for every input.
   - Ties go to the even code: 4.25 -> 4.0 (48), 1.0625 -> 1.0 (38),
     464 -> 448 (7E), 2^-10 -> 0 (00); E5M2: 61440 overflows (57344's mantissa
     is odd, the tie goes up).
   - Underflow keeps the sign: -1e-5 -> E4M3 80 (-0). FNUZ formats have no -0:
     they return 00.
   - Overflow thresholds: E4M3 |x| > 464, E5M2 |x| >= 61440, E4M3FNUZ
     |x| >= 248, E5M2FNUZ |x| >= 61440; result per fp8q_saturation.
   - NaN inputs, whatever their sign and payload, give the format's nan_code:
     7F for E4M3 and E5M2 (CUDA canonicalises float NaN to 0x7FFFFFFF first),
     80 for FNUZ.
   Differences from other libraries (all on overflow, Inf and NaN bytes only;
   every finite in-range input rounds identically everywhere):
   - ml_dtypes astype (non-saturating): like FP8Q_NOSAT, but NaN keeps its
     sign (-NaN -> FF for E4M3, FE for E5M2; E5M2 +NaN -> 7E not 7F).
     ml_dtypes' saturating cast does not clamp Inf (E4M3(+Inf) -> 7F NaN),
     FP8Q_SATFINITE does (-> 7E).
   - PyTorch <= 2.11 Tensor.to(float8_e4m3fn / e5m2): equals FP8Q_NOSAT except
     negative NaN (torch FF, CUDA and fp8q 7F). torch >= 2.12 saturates E4M3
     finite overflow like FP8Q_SATFINITE.
   - ONNX Cast saturate=1 maps +-Inf to NaN for the FNUZ types; fp8q's
     SATFINITE maps them to +-max, as for E4M3/E5M2.
   - vLLM's quantization kernels clamp with fminf/fmaxf first, so a NaN
     activation becomes +448 there (a recipe choice, not a cast). */
FP8QDEF uint8_t fp8q_from_f32(float x, fp8q_format fmt, fp8q_saturation sat);

/* float64 -> FP8 in one rounding from the double (never via float), equal to
   CUDA's __nv_cvt_double_to_fp8. Unlike the float path, a double NaN keeps
   its sign, and for E5M2 the top payload bits: E4M3 7F/FF; E5M2
   7E | (mantissa bit 50) | sign, i.e. the default quiet -NaN gives FE. */
FP8QDEF uint8_t fp8q_from_f64(double x, fp8q_format fmt, fp8q_saturation sat);

/* IEEE half (bit pattern) -> FP8: widened exactly to float, then
   fp8q_from_f32 (one rounding). Equal to __nv_cvt_halfraw_to_fp8. */
FP8QDEF uint8_t fp8q_from_f16(uint16_t h, fp8q_format fmt, fp8q_saturation sat);

/* bfloat16 (bit pattern) -> FP8: widened exactly to float (bits << 16), then
   fp8q_from_f32. Equal to __nv_cvt_bfloat16raw_to_fp8. */
FP8QDEF uint8_t fp8q_from_bf16(uint16_t b, fp8q_format fmt, fp8q_saturation sat);

/* FP8 -> float32, exact. NaN codes give 0x7FFFFFFF (sign dropped, as CUDA's
   __nv_fp8_e4m3::operator float); E5M2 7C/FC give +-Inf; E4M3 80 gives -0. */
FP8QDEF float fp8q_to_f32(uint8_t v, fp8q_format fmt);

/* FP8 -> float64, exact; NaN codes give the double quiet NaN (positive). */
FP8QDEF double fp8q_to_f64(uint8_t v, fp8q_format fmt);

/* FP8 -> IEEE half bits, exact (every FP8 value is a half); NaN codes give
   7FFF. Equal to CUDA's __nv_cvt_fp8_to_halfraw for E4M3 and E5M2. */
FP8QDEF uint16_t fp8q_to_f16(uint8_t v, fp8q_format fmt);

/* FP8 -> bfloat16 bits, exact; NaN codes give 7FFF. */
FP8QDEF uint16_t fp8q_to_bf16(uint8_t v, fp8q_format fmt);

/* 16-bit float helpers. Widening is exact (half NaN keeps sign and payload).
   Narrowing rounds to nearest even; overflow gives +-Inf; a NaN keeps its
   sign and top payload bits and is made quiet (0x7FFFFFFF -> 7FFF), as x86
   F16C and Arm FCVT do. */
FP8QDEF float fp8q_f16_to_f32(uint16_t h);
FP8QDEF uint16_t fp8q_f32_to_f16(float x);
FP8QDEF float fp8q_bf16_to_f32(uint16_t b);
FP8QDEF uint16_t fp8q_f32_to_bf16(float x);

/* ------------------------------------------------------- bulk conversions */

/* How a bulk conversion applies its per-tensor scale, in float32 (one IEEE
   operation, round to nearest even). With dequantized value x = q * s:
     encode  FP8Q_SCALE_MUL  q = fp8(x * scale)   pass scale = 1/s (vLLM static
                                                  per-tensor: x * inv_scale)
             FP8Q_SCALE_DIV  q = fp8(x / scale)   pass scale = s (vLLM per-token
                                                  since 2025, FBGEMM, KV cache)
     decode  FP8Q_SCALE_MUL  y = float(q) * scale (dequantize with s)
             FP8Q_SCALE_DIV  y = float(q) / scale
   x * (1/s) and x / s differ in rare last-bit cases that can flip an FP8
   rounding: use the engine's variant to reproduce its bytes. The scale is not
   validated: 0, Inf and NaN scales follow IEEE arithmetic, and any NaN result
   becomes the format's NaN (encode) or 0x7FFFFFFF (decode). */
typedef enum fp8q_scale_op {
    FP8Q_SCALE_NONE = 0, /* the scale argument is ignored */
    FP8Q_SCALE_MUL = 1,
    FP8Q_SCALE_DIV = 2
} fp8q_scale_op;

/* dst[i] = fp8q_from_f32(op(src[i], scale), fmt, sat) for i < n. Any n, any
   alignment; src and dst must not overlap. */
FP8QDEF fp8q_result fp8q_encode_f32(uint8_t *dst, const float *src, size_t n, fp8q_format fmt, fp8q_saturation sat,
                                    fp8q_scale_op op, float scale);
/* Same with half / bfloat16 input: the value is widened exactly to float first. */
FP8QDEF fp8q_result fp8q_encode_f16(uint8_t *dst, const uint16_t *src, size_t n, fp8q_format fmt, fp8q_saturation sat,
                                    fp8q_scale_op op, float scale);
FP8QDEF fp8q_result fp8q_encode_bf16(uint8_t *dst, const uint16_t *src, size_t n, fp8q_format fmt, fp8q_saturation sat,
                                     fp8q_scale_op op, float scale);

/* dst[i] = op(fp8q_to_f32(src[i], fmt), scale), NaN results as 0x7FFFFFFF. */
FP8QDEF fp8q_result fp8q_decode_f32(float *dst, const uint8_t *src, size_t n, fp8q_format fmt, fp8q_scale_op op,
                                    float scale);
/* Same, then rounded to half / bfloat16 with fp8q_f32_to_f16 / _bf16 (exact
   when op is FP8Q_SCALE_NONE). */
FP8QDEF fp8q_result fp8q_decode_f16(uint16_t *dst, const uint8_t *src, size_t n, fp8q_format fmt, fp8q_scale_op op,
                                    float scale);
FP8QDEF fp8q_result fp8q_decode_bf16(uint16_t *dst, const uint8_t *src, size_t n, fp8q_format fmt, fp8q_scale_op op,
                                     float scale);

/* "avx512", "avx2", "sse4.1", "sse2", "neon" or "scalar": the bulk path of this build. */
FP8QDEF const char *fp8q_simd_name(void);

/* Intel Gaudi generations (GAUDI.md): their FP8 numerics, INC's scale rules
   and measurement files differ between the two. */
typedef enum fp8q_gaudi { FP8Q_GAUDI2 = 2, FP8Q_GAUDI3 = 3 } fp8q_gaudi;

/* ------------------------------------------------------------------ E8M0 */

/* E8M0, the OCP MX shared block scale: value 2^(e - 127) for e = 00..FE,
   FF is NaN; no sign, no zero (00 is 2^-127), no Inf. Conversions equal
   CUDA's __nv_cvt_float_to_e8m0 / __nv_cvt_bfloat16raw_to_e8m0 for every
   input (host code; CUDA accepts exactly these two roundings):
   - the sign is ignored (-2 -> 80); NaN -> FF;
   - ROUND_ZERO: 2^floor(log2|x|); |x| < 2^-126 (zero, subnormals) -> 00;
   - ROUND_UP: 2^ceil(log2|x|), computed by first rounding |x| up to
     bfloat16, so 1.5 -> 80, 3 -> 81, and |x| <= 2^-127 -> 00;
   - results above 2^127 (Inf, or rounding up past FE): FF with FP8Q_NOSAT,
     FE with FP8Q_SATFINITE.
   ml_dtypes' float8_e8m0fnu rounds to nearest even instead and maps zero
   and negatives to NaN. */
typedef enum fp8q_e8m0_rounding { FP8Q_E8M0_ROUND_ZERO = 0, FP8Q_E8M0_ROUND_UP = 1 } fp8q_e8m0_rounding;

FP8QDEF uint8_t fp8q_e8m0_from_f32(float x, fp8q_saturation sat, fp8q_e8m0_rounding rnd);
FP8QDEF uint8_t fp8q_e8m0_from_bf16(uint16_t b, fp8q_saturation sat, fp8q_e8m0_rounding rnd);
/* E8M0 -> bfloat16 bits, exact: e << 7, 00 -> 0040 (a bf16 subnormal), FF -> 7FFF. */
FP8QDEF uint16_t fp8q_e8m0_to_bf16(uint8_t e);
/* E8M0 -> float, exact (00 is the float subnormal 2^-127); FF -> 0x7FFFFFFF. */
FP8QDEF float fp8q_e8m0_to_f32(uint8_t e);

/* ------------------------------------------------------ Intel Gaudi FP8 */

/* Gaudi's FP8 formats and its float32 -> FP8 converter, exact on any CPU.
   "GAUDI.md n" names the section of the spec this follows; every rule of the
   converter comes from the RTL-verification models GAUDI.md 2 cites (G3SW
   coral-sim/src/gaudi{2,3}/fs_core/fs_fma.cpp, fp32_to_fp8 and fp8_to_fp32).

   A format is a flavour, an exponent bias and (Gaudi3) an inf/NaN mode.
   flavour 143 = E4M3 (syn_type_fp8_143), 152 = E5M2 (syn_type_fp8_152).
   Normal (e >= 1): (-1)^s * 2^(e - bias) * (1 + m/2^M); subnormal (e = 0):
   (-1)^s * 2^(1 - bias) * m/2^M; M = 3 (143) or 2 (152). GAUDI.md 1.1. */
typedef enum fp8q_gaudi_flavor {
    FP8Q_GAUDI_143 = 0 /* E4M3 fp8_143 */,
    FP8Q_GAUDI_152 = 1 /* E5M2 fp8_152 */
} fp8q_gaudi_flavor;

/* What the all-ones exponent field means: Gaudi3 MME/TPC infNanMode 0/1/2
   (GAUDI.md 1.3; the converter register has one mode per flavour). Gaudi2
   has only LEGACY (GAUDI.md 1.1). Largest finite values at the default bias
   (143: 7, 152: 15):
     LEGACY  e = all ones is reserved: m = 0 is +-inf (143: 78/F8, 152: 7C/FC),
             m != 0 NaN. IEEE style; 143 max 1.875 * 2^(14 - bias) = 240,
             152 max 57344 (= OCP E5M2, GAUDI.md 1.2).
     NONE    no inf, no NaN: every code is a number; 143 max 0x7F =
             1.875 * 2^(15 - bias) = 480 (inferred, unconfirmed: GAUDI.md 1.3),
             152 max 1.75 * 2^(31 - bias) = 114688.
     FN      "fp8_nvidia": only 7F/FF are NaN, no inf; 143 max 0x7E = 448
             (= OCP E4M3FN); 152 max 0x7E = 1.5 * 2^(31 - bias) = 98304.
   The 152 rows of NONE and FN follow the RTL model, which applies the mode
   to both flavours; GAUDI.md's table lists E4M3 only (unconfirmed). */
typedef enum fp8q_gaudi_infnan {
    FP8Q_GAUDI_INFNAN_LEGACY = 0,
    FP8Q_GAUDI_INFNAN_NONE = 1,
    FP8Q_GAUDI_INFNAN_FN = 2
} fp8q_gaudi_infnan;

/* One FP8 tensor format. bias: the tensor's exponent bias, 0..63 (the 6-bit
   field of Gaudi3, GAUDI.md 1.3); which ones a device accepts:
   fp8q_gaudi_fp8_check. */
typedef struct fp8q_gaudi_fp8 {
    fp8q_gaudi_flavor flavor;
    int bias;
    fp8q_gaudi_infnan infnan;
} fp8q_gaudi_fp8;

/* The hardware rounding codes (GAUDI.md 2; value 5 is "default", not a mode):
     RNE   to nearest, ties to even;  RZ toward zero;  RU toward +inf;
     RD    toward -inf;  RHAZ to nearest, ties away from zero;
     SR    stochastic: round the magnitude up when the discarded bits,
           left-aligned to 32 bits (D), are >= random, except that D = 0 (an
           exact input) never rounds up. The RTL model compares D >= random
           alone, so with random = 0 it also moves exact values up one code;
           a hardware LFSR never holds 0, so for every value an LFSR can give
           the two agree (the random = 0 case is fp8q's choice). Inputs below
           half the smallest subnormal have D = 0 in the model (only the
           separate SFTZ mode, not provided here, rounds them stochastically),
           so SR gives +-0 for them. How a cast kernel's seed becomes these
           values is unconfirmed (GAUDI.md 2, 9).
     SRNE  SR for inputs >= the smallest normal, RNE below it (chosen by the
           input's magnitude, as the model does). */
typedef enum fp8q_gaudi_rounding {
    FP8Q_GAUDI_RNE = 0,
    FP8Q_GAUDI_RZ = 1,
    FP8Q_GAUDI_RU = 2,
    FP8Q_GAUDI_RD = 3,
    FP8Q_GAUDI_SR = 4,
    FP8Q_GAUDI_RHAZ = 6,
    FP8Q_GAUDI_SRNE = 7
} fp8q_gaudi_rounding;

/* The converter's clip_fp / clip_fp_inf_input switches (GAUDI.md 2, 3):
     NO_CLIP      the hardware default: overflow per rounding mode (below).
     SATURATE     clip_fp with clip_fp_inf_input (the register default): finite
                  overflow and +-inf inputs give +-max. The framework's
                  cast_to_fp8_v2 behaves so (PTB, GAUDI.md 3). Gaudi2's
                  converter has no inf-input switch and clips this way.
     CLIP_FINITE  clip_fp without clip_fp_inf_input (Gaudi3): finite overflow
                  gives +-max, +-inf inputs keep their code (LEGACY +-inf,
                  FN NaN 7F/FF). Exact CLIP vs SAT semantics of the TPC cast
                  kernels are unconfirmed (GAUDI.md 2, 9).
   NaN inputs are never clipped; mode NONE saturates whatever the clip. */
typedef enum fp8q_gaudi_clip {
    FP8Q_GAUDI_NO_CLIP = 0,
    FP8Q_GAUDI_SATURATE = 1,
    FP8Q_GAUDI_CLIP_FINITE = 2
} fp8q_gaudi_clip;

/* FP8Q_OK when device supports format f, else FP8Q_ERR_ARG (also for NULL,
   an unknown device, flavour or mode):
     Gaudi2  143 with bias 3, 7, 11 or 15 (GAUDI.md 1.1, expBiasTableFp8143);
             152 with bias 15 only (INC's rule; Synapse lists 0..31, which the
             hardware may accept: unconfirmed, GAUDI.md 1.2); LEGACY only.
     Gaudi3  both flavours with any bias 0..63 (the 6-bit bias field of each
             MME operand, GAUDI.md 1.3) and any of the three modes. Synapse's
             list for 152 (0..31, GAUDI.md 1.2) may be narrower: unconfirmed. */
FP8QDEF fp8q_result fp8q_gaudi_fp8_check(const fp8q_gaudi_fp8 *f, fp8q_gaudi device);

/* The format the framework uses on device (bias 7 for 143, 15 for 152):
   Gaudi2 LEGACY; Gaudi3 143 FN and 152 LEGACY. The Gaudi3 modes are inferred
   from PTB's test_cast_to_fp8_v2_out_of_range (E4M3 saturates at 448, which
   only FN has; E5M2 at 57344, which only LEGACY has) and INC's fullscale 448;
   which mode the MME uses is unconfirmed (GAUDI.md 1.3, 3). The 143 maximum
   is fp8q_inc_fullscale(device) (240, 448). An unknown device or flavour
   asserts and gives Gaudi2 143. */
FP8QDEF fp8q_gaudi_fp8 fp8q_gaudi_fp8_default(fp8q_gaudi device, fp8q_gaudi_flavor flavor);

/* Largest finite value of f (table at fp8q_gaudi_infnan): 143 LEGACY
   1.875 * 2^(14 - bias): 3840, 240, 15, 0.9375 at bias 3, 7, 11, 15. */
FP8QDEF float fp8q_gaudi_max(const fp8q_gaudi_fp8 *f);

/* FP8 -> float32, exact, with the value formula above (GAUDI.md 1.1, 2):
   00/80 are +0/-0; e = 0 codes are subnormals; LEGACY: all-ones exponent
   with m = 0 is +-inf, with m != 0 NaN; FN: 7F/FF NaN; NONE: no specials.
   NaN gives 0x7FFFFFFF (sign dropped, as the RTL model). E.g. 143 bias 7
   LEGACY: 77 = 240, 78 = +inf, 79..7F NaN, 08 = 2^-6, 01 = 2^-9; bias 3:
   77 = 3840; FN: 7E = 448, 78 = 256; NONE: 7F = 480.
   Relation to OCP (GAUDI.md 1.2): 143 bias 7 LEGACY has the same byte as
   OCP E4M3 (fp8q's FP8Q_E4M3) for every value |v| <= 240 (subnormals, +-0
   included); OCP's 78..7E mean 256..448, which Gaudi2 reads as inf/NaN. 143
   bias 7 FN decodes every byte as OCP E4M3, 152 bias 15 LEGACY as OCP E5M2.
   Not E4M3FNUZ (bias 8, NaN 80, no -0). An invalid f asserts, gives NaN. */
FP8QDEF float fp8q_gaudi_to_f32(uint8_t v, const fp8q_gaudi_fp8 *f);

/* float32 -> FP8 in format f with rounding r, as Gaudi's converter (the RTL
   model of GAUDI.md 2); random is used by SR and SRNE only.
   - One rounding from the exact input; subnormals are produced (gradual
     underflow), the sign of a result that rounds to zero is kept (-0).
   - +-0 -> 00/80. NaN: LEGACY gives the canonical 0x7F, the sign forced to
     0; FN keeps the sign: 7F/FF (GAUDI.md 2); NONE gives 0x7F = +max, as
     the RTL model does (its "NaN"; unconfirmed on hardware).
   - +-inf: LEGACY +-inf, FN NaN 7F/FF, NONE +-max; SATURATE gives +-max.
   - Overflow (a rounded magnitude above max): +-max when rounding toward
     zero (RZ, RU for negative x, RD for positive x), else LEGACY +-inf and
     FN 7F/FF (so RNE, RU, RD away from zero, RHAZ, SR and SRNE overflow);
     NONE always +-max; SATURATE and CLIP_FINITE give +-max.
   E.g. 143 bias 7 LEGACY RNE: 247.9 -> 240 (77), 248 -> +inf (a tie; 240's
   code 77 is odd, so it goes up), 1e-3 -> 2^-9 (01), -9e-4 -> -0 (80); FN:
   464 -> 448 (7E, a tie to even), 464.1 -> NaN 7F, with SATURATE 448.
   Equalities (tested): at 143 bias 7 LEGACY, SATURATE, RNE this is
   fp8q_from_f32(x, FP8Q_E4M3, FP8Q_SATFINITE) for |x| <= 240 (fp8q's host
   reference for Gaudi2, GAUDI.md 1.2, 3); 143 bias 7 FN RNE equals
   fp8q_from_f32(x, FP8Q_E4M3, NOSAT / SATFINITE for NO_CLIP / SATURATE)
   except that a negative NaN gives FF; 152 bias 15 LEGACY RNE equals
   fp8q_from_f32(x, FP8Q_E5M2, same mapping) for every input.
   That the device converts like the model for every input is unconfirmed
   (GAUDI.md 3, 9). An invalid f, r or clip asserts and gives 0. */
FP8QDEF uint8_t fp8q_gaudi_from_f32(float x, const fp8q_gaudi_fp8 *f, fp8q_gaudi_rounding r, fp8q_gaudi_clip clip,
                                    uint32_t random);

/* cast_to_fp8_v2: dst[i] = fp8q_gaudi_from_f32(src[i] * inv_scale, ...),
   the multiplier applied before rounding (GAUDI.md 6.2: pass 1/s for a
   dequant scale s), one float32 multiply rounded to nearest even; with
   inv_scale == 1 the input is used as is (no multiply). A NaN made by the
   multiply has the sign the CPU gives it (matters for FN only).
   random[i] is element i's SR value; random may be NULL unless r is SR or
   SRNE. FP8Q_ERR_ARG for NULL pointers with n > 0, an invalid f, r or clip. */
FP8QDEF fp8q_result fp8q_gaudi_encode_f32(uint8_t *dst, const float *src, size_t n, const fp8q_gaudi_fp8 *f,
                                          fp8q_gaudi_rounding r, fp8q_gaudi_clip clip, float inv_scale,
                                          const uint32_t *random);
/* The same with bfloat16 input (bit patterns), widened exactly first. */
FP8QDEF fp8q_result fp8q_gaudi_encode_bf16(uint8_t *dst, const uint16_t *src, size_t n, const fp8q_gaudi_fp8 *f,
                                           fp8q_gaudi_rounding r, fp8q_gaudi_clip clip, float inv_scale,
                                           const uint32_t *random);

/* cast_from_fp8: dst[i] = fp8q_gaudi_to_f32(src[i], f) * scale (one float32
   multiply, GAUDI.md 6.1); NaN results are 0x7FFFFFFF. FP8Q_ERR_ARG for NULL
   pointers with n > 0 or an invalid f. */
FP8QDEF fp8q_result fp8q_gaudi_decode_f32(float *dst, const uint8_t *src, size_t n, const fp8q_gaudi_fp8 *f,
                                          float scale);

/* The HW-aligned 143 dequant scales of device: 2^(7 - b) for every bias b
   the device's 143 format supports, b ascending, i.e. exactly the scales
   fp8q_gaudi_absorb_scale can absorb into a 143 bias-7 format. This is the
   HAL's MME scale-input table hwAlignedScalesFp8143 (GAUDI.md 4): Gaudi2
   {16, 1, 1/16, 1/256} (4), Gaudi3 2^7, 2^6, ..., 2^-56 (64, one per bias
   0..63). INC's sets are the same on Gaudi2 and one shorter on Gaudi3
   (2^7..2^-55, biases 0..62; INC.md 3.2): fp8q_inc_scale keeps INC's
   clamp. Writes min(count, cap) scales to out (NULL when cap is 0) and
   returns count; 0 for an unknown device. */
FP8QDEF size_t fp8q_gaudi_hw_scales(fp8q_gaudi device, float *out, size_t cap);

/* Absorbs a power-of-two dequant scale s = 2^k into the exponent bias
   (GAUDI.md 4, inferred): reading a byte with bias b - k multiplies its
   value by 2^k. Returns 1 and sets *out = *f with bias f->bias - k when s is
   exactly a power of two and that format passes fp8q_gaudi_fp8_check for
   device; else 0 (*out untouched). Then for every byte v with a finite
   value, fp8q_gaudi_to_f32(v, out) == fp8q_gaudi_to_f32(v, f) * s exactly,
   and inf/NaN codes stay inf/NaN. */
FP8QDEF int fp8q_gaudi_absorb_scale(float scale, const fp8q_gaudi_fp8 *f, fp8q_gaudi device, fp8q_gaudi_fp8 *out);

#ifndef FP8Q_FREESTANDING
#include <stdlib.h> /* malloc, free: GEMM scratch */
/* ---------------------------------------------------- scaled quantization */

/* A matrix X[rows][cols] (row-major; for a weight rows = output channels,
   for activations rows = tokens, cols = K) is quantized with one float32
   scale per tile of tile_rows x tile_cols elements (0 = the whole extent;
   edge tiles may be partial). Scales are dequantization multipliers,
   x ~= q * s, stored row-major as [ceil(rows/tile_rows)][ceil(cols/tile_cols)]:
     per-tensor (0, 0)  per-channel / per-token (1, 0)  per-group (1, 128)
     2-D block (128, 128)  MX block (1, 32), scales powers of two (E8M0).
   A recipe fixes everything else, so that one engine is reproduced bit for
   bit. fp8q_recipe_get() lists the built-in ones; a caller may fill its own. */
typedef enum fp8q_scale_rule {
    FP8Q_RULE_AMAX = 0, /* s = max(min(amax, amax_ub) / qmax, min_scale) */
    FP8Q_RULE_MX = 1,   /* s = 2^(floor(log2 amax) - emax), emax = 8 (E4M3) or 15 (E5M2), amax 0 -> 2^-127 */
    FP8Q_RULE_POW2 = 2  /* s = 2^ceil(log2(amax / qmax)) (UE8M0 scales rounded up) */
} fp8q_scale_rule;

/* Precision of the scale arithmetic and of x/s: FP8Q_HP_BF16 rounds amax,
   s and x/s (or x * (1/s)) to bfloat16 after each step, as PyTorch code
   does on BF16 tensors (compressed-tensors, INC). */
typedef enum fp8q_precision { FP8Q_HP_F32 = 0, FP8Q_HP_BF16 = 1 } fp8q_precision;

typedef struct fp8q_recipe {
    const char *name;         /* e.g. "vllm-per-token" */
    const char *source;       /* engine and where its formula lives */
    fp8q_format format;       /* FP8 format of q */
    int tile_rows, tile_cols; /* scale granularity (0 = whole extent) */
    fp8q_scale_rule rule;
    float qmax;      /* amax is mapped to this (448 for E4M3) */
    float amax_ub;   /* 0 or an upper bound applied to amax first */
    float min_scale; /* 0 or a lower bound applied to s */
    fp8q_precision hp;
    fp8q_scale_op op;    /* FP8Q_SCALE_MUL: x * (1/s); FP8Q_SCALE_DIV: x / s */
    int clamp;           /* clamp to +-qmax with fminf/fmaxf before the cast: NaN -> +qmax */
    fp8q_saturation sat; /* of the final cast */
} fp8q_recipe;

/* The built-in recipe called name, or NULL; fp8q_recipe_at(i) for
   i = 0 .. fp8q_recipe_count()-1 lists them (their formulas are documented
   at the table in the implementation and in README). */
FP8QDEF const fp8q_recipe *fp8q_recipe_get(const char *name);
FP8QDEF int fp8q_recipe_count(void);
FP8QDEF const fp8q_recipe *fp8q_recipe_at(int i);

/* Number of scales for a rows x cols matrix under r's tiling. */
FP8QDEF size_t fp8q_scale_count(const fp8q_recipe *r, size_t rows, size_t cols);

/* Dynamic scales: scales[fp8q_scale_count()] from the data. amax ignores
   NaN (fmaxf semantics, as vLLM's kernels); MX tiles with a NaN or Inf get
   a NaN scale. */
FP8QDEF fp8q_result fp8q_compute_scales(float *scales, const float *x, size_t rows, size_t cols, const fp8q_recipe *r);
/* q = cast(clamp(x op s)) per r, with the given (static or dynamic) scales. */
FP8QDEF fp8q_result fp8q_quantize(uint8_t *q, const float *x, size_t rows, size_t cols, const float *scales,
                                  const fp8q_recipe *r);
/* x = float(q) * s (rounded to bfloat16 when r->hp is FP8Q_HP_BF16). */
FP8QDEF fp8q_result fp8q_dequantize(float *x, const uint8_t *q, size_t rows, size_t cols, const float *scales,
                                    const fp8q_recipe *r);

/* ------------------------------------------------- Intel Neural Compressor */

/* INC's scale rule, s = round(maxabs / (fullscale * backoff)), with every
   step rounded to bfloat16 (INC's hp_dtype), as INC computes it
   (neural_compressor/torch/algorithms/fp8_quant/_core/fp_utils.py):
     IDENTITY   s
     POW2       2^ceil(bf16(log2 s))   (log2 of a BF16 tensor is BF16)
     HW_ALIGNED p = POW2(s); clamp(2^(ceil(log2 p / f) * f), lo, hi) with
                Gaudi2 f = 4, [2^-8, 2^4]; Gaudi3 f = 1, [2^-55, 2^7]
     HW_ALIGNED_FIXED  16 (Gaudi2) / 128 (Gaudi3);  UNIT  1.
   fullscale: Gaudi2 240, Gaudi3 448. Backoff: 0.25 for activations, 0.5
   for weights in INC's static methods. maxabs 0 gives 0 (IDENTITY, POW2)
   or lo (HW_ALIGNED); NaN propagates. */
typedef enum fp8q_inc_rounding {
    FP8Q_INC_IDENTITY = 0,
    FP8Q_INC_POW2 = 1,
    FP8Q_INC_HW_ALIGNED = 2,
    FP8Q_INC_HW_ALIGNED_FIXED = 3,
    FP8Q_INC_UNIT = 4
} fp8q_inc_rounding;

FP8QDEF float fp8q_inc_fullscale(fp8q_gaudi device);
FP8QDEF float fp8q_inc_scale(float maxabs, fp8q_inc_rounding rounding, fp8q_gaudi device, float backoff);

/* INC's scale configuration of one tensor kind (INC.md 2.4, 3.4): the
   granularity (per tensor, or per channel: weight rows / activation
   tokens), where the value comes from, its rounding and the backoff. */
typedef enum fp8q_inc_granularity { FP8Q_INC_PTS = 0, FP8Q_INC_PCS = 1 } fp8q_inc_granularity;
typedef enum fp8q_inc_value_type {
    FP8Q_INC_MAXABS = 0,      /* from measured / actual max |x| */
    FP8Q_INC_FIXED_VALUE = 1, /* a constant (UNIT_SCALE, HW_ALIGNED_SINGLE_SCALE) */
    FP8Q_INC_OPT = 2,         /* minimum-MSE search over candidate scales (weights) */
    FP8Q_INC_DUMMY_SCALES = 3
} fp8q_inc_value_type;
typedef struct fp8q_inc_scale_cfg {
    fp8q_inc_granularity granularity;
    fp8q_inc_value_type value_type;
    fp8q_inc_rounding rounding;
    float backoff;
} fp8q_inc_scale_cfg;

/* The 13 predefined INC scale methods (INC.md 3.4), in its table order:
   weight and activation configurations, and whether the method exists only
   with dynamic_quantization. */
typedef struct fp8q_inc_method {
    const char *name; /* upper case, e.g. "MAXABS_HW" */
    fp8q_inc_scale_cfg weight, activation;
    int dynamic_only;
} fp8q_inc_method;

FP8QDEF int fp8q_inc_method_count(void);
FP8QDEF const fp8q_inc_method *fp8q_inc_method_at(int i);
/* By name, case-insensitive ASCII ("maxabs_hw" finds MAXABS_HW); NULL if unknown. */
FP8QDEF const fp8q_inc_method *fp8q_inc_method_get(const char *name);
/* ------------------------------------------------------------ W8A8 GEMM */

/* Element types. The first three are also the GEMM output types; the rest
   (appended; values are stable) are the other safetensors dtypes, described
   in fp8q_dtype_get()'s table. */
typedef enum fp8q_dtype {
    FP8Q_F32 = 0,
    FP8Q_BF16 = 1,
    FP8Q_F16 = 2,
    FP8Q_F64 = 3,
    FP8Q_I8,
    FP8Q_U8,
    FP8Q_I16,
    FP8Q_U16,
    FP8Q_I32,
    FP8Q_U32,
    FP8Q_I64,
    FP8Q_U64,
    FP8Q_BOOL,
    FP8Q_F8_E4M3,
    FP8Q_F8_E5M2,
    FP8Q_F8_E4M3FNUZ,
    FP8Q_F8_E5M2FNUZ,
    FP8Q_F8_E8M0,
    FP8Q_F6_E2M3,
    FP8Q_F6_E3M2,
    FP8Q_F4,
    FP8Q_DTYPE_COUNT
} fp8q_dtype;
#define FP8Q_DTYPE_COUNT_DEFINED 1

/* Three implementations of one definition:
   FP8Q_GEMM_REFERENCE  float32 accumulation in a fixed, documented order:
       for each K group g (see below), in ascending g:
         p_g = sum over k in g, ascending, of a[m,k] * b[n,k]   (float32; each
               FP8 x FP8 product is exact, so FMA contraction cannot change it)
         c  += (p_g * sb[n,g]) * sa[m,g]                          (float32)
       c = c + bias[n], then rounded to the output type (RNE).
       With per-tensor/per-row scales there is one group and this is vLLM's
       CUTLASS epilogue: D = s_x * (s_w * acc) + bias.
   FP8Q_GEMM_EXACT  the mathematically exact value of
       sum_g sa[m,g] * sb[n,g] * sum_k a[m,k] * b[n,k] + bias[n]
       rounded once to the output type: the golden definition, independent of
       summation order (a wide fixed-point accumulator holds every term).
   FP8Q_GEMM_FAST  SIMD, cache-blocked, multi-threaded; float32 accumulation
       in another order. Within fp8q_gemm_tolerance() of EXACT; deterministic
       for a given thread count.
   Non-finite values: a NaN anywhere in a term, Inf * 0, or Inf - Inf give NaN
   (0x7FFFFFFF / 7FFF); otherwise an Inf term gives Inf. */
typedef enum fp8q_gemm_mode { FP8Q_GEMM_REFERENCE = 0, FP8Q_GEMM_EXACT = 1, FP8Q_GEMM_FAST = 2 } fp8q_gemm_mode;

/* Runs fn(arg, i) for every i in [0, n) and returns when all are done; the
   calls may run concurrently. Lets an engine use its own job system. */
typedef void (*fp8q_parallel_for_fn)(void *ctx, void (*fn)(void *arg, size_t i), void *arg, size_t n);

/* C[M][N] = (A[M][K] . B[N][K]^T) with scales (+ bias). Scales are
   dequantization multipliers with the tiling of fp8q_recipe: a_scales is
   [ceil(M/a_tile_rows)][ceil(K/a_tile_cols)], b_scales [ceil(N/b_tile_rows)]
   [ceil(K/b_tile_cols)] (tile 0 = whole extent; NULL scales = 1). The K
   group size is the smaller non-zero of a_tile_cols and b_tile_cols, and
   the other must be 0 or a multiple of it. W8A16: set a = NULL and a_f32 to
   float activations (then the reference rounds each product to float32). */
typedef struct fp8q_gemm {
    size_t M, N, K;
    const uint8_t *a;   /* A8 [M][K] row-major, or NULL (W8A16) */
    const float *a_f32; /* W8A16 activations [M][K] when a is NULL */
    fp8q_format a_format;
    const float *a_scales;
    int a_tile_rows, a_tile_cols;
    const uint8_t *b; /* B8 [N][K] row-major: weights [out][in], as checkpoints store them */
    fp8q_format b_format;
    const float *b_scales;
    int b_tile_rows, b_tile_cols;
    const float *bias; /* [N] float32, or NULL */
    void *c;           /* C [M][N] row-major, of c_type */
    fp8q_dtype c_type;
    int threads;                       /* FAST: worker threads (0 or 1 = calling thread only) */
    fp8q_parallel_for_fn parallel_for; /* FAST: optional; used instead of fp8q's own threads */
    void *parallel_ctx;
} fp8q_gemm;

FP8QDEF fp8q_result fp8q_gemm_run(const fp8q_gemm *g, fp8q_gemm_mode mode);

/* ------------------------------------------------- golden-test metrics */

typedef struct fp8q_compare {
    size_t count;         /* elements compared */
    double max_abs_err;   /* max |got - want| over finite pairs */
    double max_rel_err;   /* max |got - want| / |want| over want != 0 */
    double max_ulp;       /* max distance in units in the last place of the compared type */
    size_t outside;       /* elements with |got - want| > atol + rtol * |want|, or non-finite mismatch */
    size_t first_outside; /* index of the first such element (count when none) */
} fp8q_compare;

/* Compares got against want (both float32 arrays, e.g. outputs widened from
   bf16/f16: ulp is then measured in `type`, which must be FP8Q_F32,
   FP8Q_BF16 or FP8Q_F16). NaN equals NaN; an Inf must
   match exactly. */
FP8QDEF fp8q_compare fp8q_compare_f32(const float *got, const float *want, size_t n, fp8q_dtype type, double atol,
                                      double rtol);

/* The error bound a correct float32-accumulating backend must meet, for an
   output element whose exact value is y = sum of K terms t_k (including the
   scales): |computed - y| <= fp8q_gemm_tolerance(K, sum_abs) where sum_abs =
   sum |t_k|. Standard recursive-summation bound gamma_K = K u / (1 - K u)
   with u = 2^-24 (any order, FMA or not), plus the epilogue's three
   roundings (two scale products and the bias add, <= 3u of |y| + sum_abs),
   plus the output rounding is not included (compare in float32). */
FP8QDEF double fp8q_gemm_tolerance(size_t K, double sum_abs);

/* ------------------------------------------------------------------- JSON */
/* Error detail in caller-owned storage: the code (an fp8q_result), the byte
   offset into the input where the problem was found, and an English sentence
   naming what was expected and where, e.g.
     "expected ',' or '}' after object member, got ']' at line 3, column 17 (byte 45)"
   Columns count bytes from 1. The message is always NUL-terminated. */
typedef struct fp8q_error {
    int code;
    size_t offset;
    char message[200];
} fp8q_error;

/* A strict RFC 8259 JSON parser for configuration and metadata files
   (safetensors headers, Intel Neural Compressor configs and measurements).

   The parser validates the whole text and produces a flat array of tokens in
   document order; values are converted on demand by the accessors below.
   Strict: no comments, trailing commas, single quotes, leading zeros, '+'
   signs, bare control characters in strings or non-standard escapes; \u
   escapes must pair surrogates correctly; strings must be valid UTF-8 (no
   overlong forms, no encoded surrogates, nothing above U+10FFFF); the input
   must be exactly one value with optional surrounding whitespace (space, tab,
   CR, LF; a byte order mark is rejected). Duplicate keys in one object are an
   error (compared after unescaping): safetensors and INC files must not have
   them. Nesting deeper than FP8Q_MAX_JSON_DEPTH containers is FP8Q_ERR_LIMIT.

   Robust against hostile input: no recursion (the stack of open containers is
   linked through the token array), memory O(len) (at most one token per input
   byte, the array grown by doubling with overflow-checked sizes), time
   O(len log len)
   (duplicate keys are found by sorting each object's keys). */
typedef enum fp8q_json_type {
    FP8Q_JSON_NULL,
    FP8Q_JSON_FALSE,
    FP8Q_JSON_TRUE,
    FP8Q_JSON_NUMBER,
    FP8Q_JSON_STRING,
    FP8Q_JSON_ARRAY,
    FP8Q_JSON_OBJECT
} fp8q_json_type;

typedef struct fp8q_json_token {
    fp8q_json_type type;
    size_t start, end; /* bytes [start, end) of the value in the text; strings without their quotes */
    size_t size;       /* ARRAY: elements; OBJECT: members (key/value pairs); otherwise 0 */
    size_t next;       /* index of the token after this value's whole subtree */
} fp8q_json_token;

/* A parsed document. Token 0 is the root value. Object members are stored as
   a key token (a STRING) followed by the value's subtree; array elements are
   consecutive subtrees. The text is borrowed: it must outlive the fp8q_json. */
typedef struct fp8q_json {
    const char *text;
    size_t len;
    fp8q_json_token *tok;
    size_t count;
} fp8q_json;

#define FP8Q_JSON_ALLOW_NONFINITE 1 /* accept Python's Infinity, -Infinity, NaN as numbers */

#ifndef FP8Q_MAX_JSON_DEPTH
#define FP8Q_MAX_JSON_DEPTH 512 /* most containers open at once */
#endif

/* Parses text[0, len) (it need not be NUL-terminated; a NUL byte is an
   error). flags: 0 or FP8Q_JSON_ALLOW_NONFINITE. On success *out holds the
   tokens (free with fp8q_json_free) and err, if not NULL, gets code FP8Q_OK
   and an empty message. On failure *out is empty (safe to free) and err, if
   not NULL, says what and where. Returns FP8Q_OK, FP8Q_ERR_PARSE,
   FP8Q_ERR_LIMIT (nesting too deep), FP8Q_ERR_NOMEM, or FP8Q_ERR_ARG (out
   NULL, text NULL with len > 0, unknown flags). */
FP8QDEF fp8q_result fp8q_json_parse(fp8q_json *out, const char *text, size_t len, int flags, fp8q_error *err);

/* Frees the tokens and empties *j (text is borrowed, not freed). NULL and
   an already freed or failed document are fine. */
FP8QDEF void fp8q_json_free(fp8q_json *j);

/* The value token of member `key` (compared after unescaping) of the OBJECT
   token `object`; 0 when absent or when `object` is not an object (token 0
   is the root, so it is never a member value). */
FP8QDEF size_t fp8q_json_get(const fp8q_json *j, size_t object, const char *key);

/* The token of element i of the ARRAY token `array`; 0 when out of range or
   not an array. O(i): iterate with tok[t].next for a whole array. */
FP8QDEF size_t fp8q_json_at(const fp8q_json *j, size_t array, size_t i);

/* The NUMBER token t as a double, correctly rounded (to nearest, ties to
   even) for any number of digits, as a correct strtod in the C locale would
   give, independent of the locale and of the FPU rounding mode (integer
   arithmetic only). Literals beyond the double range give +-Inf, those below
   half the smallest subnormal +-0; -0 keeps its sign; Infinity, -Infinity and
   NaN tokens (FP8Q_JSON_ALLOW_NONFINITE) give +-Inf and a quiet NaN.
   FP8Q_ERR_ARG if t is not a number token. */
FP8QDEF fp8q_result fp8q_json_number(const fp8q_json *j, size_t t, double *out);

/* The NUMBER token t as an exact int64_t. The literal may have a fraction or
   exponent as long as its value is an integer (2.0, 1e3, 1500e-2). -0 gives
   0. FP8Q_ERR_LIMIT if the integer is outside [-2^63, 2^63) (and for
   +-Infinity); FP8Q_ERR_ARG if t is not a number token, is NaN or is not an
   integer (1.5, 1e-3). *out is written only on FP8Q_OK. */
FP8QDEF fp8q_result fp8q_json_int64(const fp8q_json *j, size_t t, int64_t *out);

/* The STRING token t unescaped to UTF-8 (\uXXXX escapes including surrogate
   pairs; \u0000 gives a NUL byte) into buf, snprintf-like: at most cap - 1
   bytes and a NUL are written when cap > 0 (buf may be NULL when cap is 0);
   returns the full unescaped length, so a return >= cap means truncation.
   Returns 0 (and writes "" when cap > 0) if t is not a string token. */
FP8QDEF size_t fp8q_json_string(const fp8q_json *j, size_t t, char *buf, size_t cap);

/* 1 if the STRING token t unescapes to exactly the NUL-terminated s, else 0
   (also when t is not a string). Allocates nothing. */
FP8QDEF int fp8q_json_string_eq(const fp8q_json *j, size_t t, const char *s);

/* ------------------------------------------------------------ safetensors */
/* Tensor element types, named as in safetensors. fp8q_dtype's first three
   values (F32, BF16, F16) are shared with the GEMM output types.
     FP8Q_F64 = 3 "F64" 64 bits    FP8Q_BOOL          "BOOL"        8 bits
     FP8Q_I8      "I8"   8         FP8Q_F8_E4M3       "F8_E4M3"     8 (= FP8Q_E4M3)
     FP8Q_U8      "U8"   8         FP8Q_F8_E5M2       "F8_E5M2"     8 (= FP8Q_E5M2)
     FP8Q_I16     "I16" 16         FP8Q_F8_E4M3FNUZ   "F8_E4M3FNUZ" 8
     FP8Q_U16     "U16" 16         FP8Q_F8_E5M2FNUZ   "F8_E5M2FNUZ" 8
     FP8Q_I32     "I32" 32         FP8Q_F8_E8M0       "F8_E8M0"     8 (OCP MX scale)
     FP8Q_U32     "U32" 32         FP8Q_F6_E2M3       "F6_E2M3"     6 (packed)
     FP8Q_I64     "I64" 64         FP8Q_F6_E3M2       "F6_E3M2"     6 (packed)
     FP8Q_U64     "U64" 64         FP8Q_F4            "F4"          4 (packed)
   FP8Q_F32 "F32" 32, FP8Q_BF16 "BF16" 16, FP8Q_F16 "F16" 16. */
/* One row per dtype, in enum order (row i has dtype i). */
typedef struct fp8q_dtype_info {
    fp8q_dtype dtype;
    const char *name; /* safetensors dtype string: "F32", "F8_E4M3", ... */
    int bits;         /* bits per element: 64, 32, 16, 8, 6 or 4 */
    int is_float;     /* 1 for the floating-point types (E8M0 included), 0 for integers and BOOL */
} fp8q_dtype_info;

/* The row for dtype, or NULL when dtype is not a valid fp8q_dtype. */
FP8QDEF const fp8q_dtype_info *fp8q_dtype_get(fp8q_dtype dtype);

/* Looks up the safetensors dtype string s[0, len) (exact, case-sensitive;
   s need not be NUL-terminated). Returns 1 and sets *out (if not NULL) when
   known, else 0. */
FP8QDEF int fp8q_dtype_from_name(const char *s, size_t len, fp8q_dtype *out);

/* safetensors (https://github.com/huggingface/safetensors): an 8-byte
   little-endian u64 N, an N-byte JSON header, then the data section:

     {"__metadata__": {"format": "pt"},
      "w": {"dtype": "F8_E4M3", "shape": [2, 3], "data_offsets": [0, 6]}, ...}

   WHAT THE READER VALIDATES (every file is untrusted; the checks of the
   reference reader, huggingface/safetensors tensor.rs, and more):
     - the file has at least 8 bytes; N <= the bytes after the prefix
       (FP8Q_ERR_PARSE) and N <= FP8Q_MAX_HEADER_SIZE (FP8Q_ERR_LIMIT);
     - the header is strict JSON (fp8q_json_parse: valid UTF-8, no duplicate
       keys, nothing after the value except whitespace; the reference writer
       pads with spaces) and an object;
     - "__metadata__", if present, is an object of strings;
     - every other member is a tensor: an object with exactly the fields
       "dtype" (a known dtype string), "shape" (an array of at most
       FP8Q_SAFETENSORS_MAX_DIMS non-negative integers) and "data_offsets"
       (an array of two non-negative integers, begin <= end); unknown fields
       are an error; integers are plain digits as the reference's serde
       usize accepts them (no '-', fraction or exponent: -0, 1.0, 1e2 are
       errors);
     - element count and byte size are computed with overflow checks; the
       size in bits must be a whole number of bytes (F4, F6) and equal
       end - begin;
     - sorted by offset, the tensors tile the data section exactly: the first
       starts at 0, each starts where the previous one ended (no gap, no
       overlap; empty tensors may share an offset), the last ends at the end
       of the file;
     - at most FP8Q_MAX_TENSORS tensors (FP8Q_ERR_LIMIT); shape entries must
       fit in int64 (FP8Q_ERR_LIMIT); names, metadata keys and values must not
       contain NUL (U+0000), which C strings cannot hold.
   Every allocation is sized from the number of JSON tokens or the header's
   real length, never from a number read from the file. Errors are
   FP8Q_ERR_PARSE or FP8Q_ERR_LIMIT with a sentence naming the tensor and the
   field, e.g. "tensor 'a' ends at byte 40 but tensor 'b' starts at byte 48
   (gap)"; err->offset is the byte in the file (for the JSON parser's own
   messages, which start "JSON header: ", line/column/byte count from the
   start of the header, 8 bytes into the file). */
#define FP8Q_SAFETENSORS_MAX_DIMS 8
#ifndef FP8Q_MAX_HEADER_SIZE
#define FP8Q_MAX_HEADER_SIZE 100000000 /* as the reference implementation */
#endif
#ifndef FP8Q_MAX_TENSORS
#define FP8Q_MAX_TENSORS 1000000
#endif

typedef struct fp8q_tensor_info {
    const char *name; /* NUL-terminated, owned by the fp8q_safetensors */
    fp8q_dtype dtype;
    int ndim;
    uint64_t shape[FP8Q_SAFETENSORS_MAX_DIMS]; /* entries past ndim are 0 */
    uint64_t numel;                            /* product of shape (1 for ndim 0) */
    uint64_t offset, size;                     /* bytes, relative to the start of the data section */
} fp8q_tensor_info;

typedef struct fp8q_safetensors {
    size_t n_tensors;
    fp8q_tensor_info *tensors; /* in file order */
    size_t n_metadata;
    const char **meta_keys, **meta_values; /* __metadata__, in file order */
    const uint8_t *data;                   /* the data section (no alignment promised) */
    uint64_t data_size;
    void *fp8q__owned; /* internal: allocations, mapping */
} fp8q_safetensors;

/* Parses and validates a whole safetensors file held in buf[0, len). The
   data section is borrowed: buf must outlive *st; names and metadata are
   copied. On success returns FP8Q_OK; release with fp8q_safetensors_close.
   On failure *st is zeroed (close is still safe) and err, if not NULL, says
   why. Returns FP8Q_OK, FP8Q_ERR_PARSE, FP8Q_ERR_LIMIT, FP8Q_ERR_NOMEM or
   FP8Q_ERR_ARG (st NULL, or buf NULL with len > 0). */
FP8QDEF fp8q_result fp8q_safetensors_parse(fp8q_safetensors *st, const void *buf, size_t len, fp8q_error *err);

/* Opens and validates the file at path: mapped read-only and private on
   POSIX systems (unless FP8Q_NO_MMAP), otherwise read whole with fread.
   The mapping or buffer lives until fp8q_safetensors_close. Messages start
   with the path. Directories, devices and other non-regular files are
   refused (a FIFO is refused without blocking). A path that cannot be
   opened or read is FP8Q_ERR_IO; otherwise as fp8q_safetensors_parse. */
FP8QDEF fp8q_result fp8q_safetensors_open(fp8q_safetensors *st, const char *path, fp8q_error *err);

/* Frees everything parse/open allocated (and unmaps) and zeroes *st. Safe on
   NULL, a zeroed struct, a failed parse/open and a second call. */
FP8QDEF void fp8q_safetensors_close(fp8q_safetensors *st);

/* The tensor named name (exact bytes), or NULL. O(log n). */
FP8QDEF const fp8q_tensor_info *fp8q_safetensors_find(const fp8q_safetensors *st, const char *name);

/* The first byte of t's data (t->size bytes, little-endian, unaligned), or
   NULL when st or t is NULL or t does not lie inside st's data section. */
FP8QDEF const uint8_t *fp8q_safetensors_bytes(const fp8q_safetensors *st, const fp8q_tensor_info *t);

/* Decodes tensor t into dst[0, t->numel) as float32. F32 is copied bit for
   bit; F16, BF16, F64 and the 8-bit float formats are converted exactly or
   rounded to nearest even (F64: integer arithmetic, a NaN becomes the
   canonical 0x7FFFFFFF; F16/BF16/F8 as fp8q_f16_to_f32, fp8q_bf16_to_f32,
   fp8q_to_f32, E8M0 as fp8q_e8m0_to_f32). Bytes are read little-endian one by
   one, so big-endian hosts give the same result. FP8Q_ERR_UNSUPPORTED for
   integer, BOOL and sub-byte (F6, F4) dtypes; FP8Q_ERR_ARG for NULL
   arguments or a t that does not describe data inside st. */
FP8QDEF fp8q_result fp8q_safetensors_read_f32(const fp8q_safetensors *st, const fp8q_tensor_info *t, float *dst,
                                              fp8q_error *err);

/* One tensor to write. data holds the little-endian bytes, numel * bits / 8
   of them (copied as they are; NULL is fine when that is 0). */
typedef struct fp8q_tensor_out {
    const char *name;
    fp8q_dtype dtype;
    int ndim; /* 0 .. FP8Q_SAFETENSORS_MAX_DIMS */
    const uint64_t *shape;
    const void *data;
} fp8q_tensor_out;

/* Writes a safetensors file as the reference writer lays it out: compact
   JSON with "__metadata__" first (when n_meta > 0, keys in the given order),
   then the tensors in the given order, their data stored in that order
   without gaps; keys and strings escaped as serde_json does; the header
   padded with spaces to a multiple of 8 bytes so the data starts 8-aligned.
   Refused with FP8Q_ERR_ARG and a message: NULL pointers, a name that is
   "__metadata__", not valid UTF-8 or a duplicate (an empty name is
   allowed, as the reader and the reference implementation allow it); duplicate metadata
   keys; an unknown dtype; ndim outside 0..8; a shape whose size overflows or
   is not a whole number of bytes. FP8Q_ERR_NOMEM, and FP8Q_ERR_ARG when the
   file cannot be created or written (a partial file is removed). */
FP8QDEF fp8q_result fp8q_safetensors_write(const char *path, const fp8q_tensor_out *t, size_t n,
                                           const char *const *meta_keys, const char *const *meta_values, size_t n_meta,
                                           fp8q_error *err);

/* The same file in memory: *out is malloc'd (free it with free()), *out_len
   its length. On failure *out is NULL and *out_len 0. */
FP8QDEF fp8q_result fp8q_safetensors_write_mem(void **out, size_t *out_len, const fp8q_tensor_out *t, size_t n,
                                               const char *const *meta_keys, const char *const *meta_values,
                                               size_t n_meta, fp8q_error *err);

/* --------------------------------------------------- Llama config.json */
/* Reads a Hugging Face config.json of the Llama family (Llama 1/2/3.x,
   TinyLlama, SmolLM, Mistral without sliding window) into plain numbers.

   Architecture: "architectures" must be an array whose first element is
   "LlamaForCausalLM" or "MistralForCausalLM" (copied as given); when
   "architectures" is absent or null, "model_type" "llama" or "mistral" is
   accepted and the canonical class name is filled in. Anything else is
   FP8Q_ERR_UNSUPPORTED naming the value. A non-null "sliding_window" is
   FP8Q_ERR_UNSUPPORTED (this reader only describes full attention).
   Required positive integers: hidden_size, intermediate_size,
   num_hidden_layers, num_attention_heads, vocab_size. Optional (absent or
   null gives the default): num_key_value_heads (num_attention_heads),
   head_dim (hidden_size / num_attention_heads, which must then divide
   exactly; always even), max_position_embeddings (2048, as transformers'
   LlamaConfig), rms_norm_eps (1e-6, must be > 0), rope_theta (10000, must be
   > 0), tie_word_embeddings (a boolean, default 0), torch_dtype (or the newer
   "dtype"; "bfloat16", "float16", "float32", else FP8Q_ERR_UNSUPPORTED),
   rope_scaling (or transformers 5's "rope_parameters", whose "rope_theta"
   then wins) (null, {"rope_type"|"type": "default"} for plain RoPE, or
   "llama3" with factor, low_freq_factor, high_freq_factor (numbers > 0,
   high > low) and original_max_position_embeddings (a positive integer);
   other rope types are FP8Q_ERR_UNSUPPORTED naming them).
   num_attention_heads must be a multiple of num_key_value_heads.
   Limits (FP8Q_ERR_LIMIT): every dimension, head count and position count
   <= 2^20, num_hidden_layers <= 4096, vocab_size <= 2^22.
   Integers may be written 4096, 4096.0 or 4.096e3; a fraction is an error.
   Wrong types and values are FP8Q_ERR_PARSE with a sentence naming the key,
   e.g. "config.json: 'num_key_value_heads' must be a positive integer, got
   \"8\"". Unknown keys are ignored. The JSON is strict (fp8q_json_parse
   without FP8Q_JSON_ALLOW_NONFINITE). quantization_config is not
   interpreted: has_quantization_config only says whether it is present and
   not null (the parsed JSON is freed before returning, so no token index
   into it is kept; re-parse the text to read it). */
typedef struct fp8q_llama_config {
    char architecture[64]; /* "LlamaForCausalLM" or "MistralForCausalLM" */
    int hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads, head_dim;
    int vocab_size, max_position_embeddings;
    double rms_norm_eps, rope_theta;
    int tie_word_embeddings; /* default 0 */
    int rope_llama3; /* rope_scaling with rope_type (or legacy "type") "llama3"; else 0 and the rope_ fields 0 */
    double rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_max_position;
    char torch_dtype[16];        /* "bfloat16", "float16", "float32" or "" when absent */
    int has_quantization_config; /* 1 when "quantization_config" is present and not null */
} fp8q_llama_config;

#ifndef FP8Q_MAX_CONFIG_SIZE
#define FP8Q_MAX_CONFIG_SIZE 67108864 /* largest config.json or index.json read from a file (bytes) */
#endif

/* Parses text[0, len). On success FP8Q_OK and *cfg filled; on failure *cfg
   is zeroed and err, if not NULL, has a message starting "config.json: ".
   FP8Q_ERR_ARG for cfg NULL or text NULL with len > 0. */
FP8QDEF fp8q_result fp8q_llama_config_parse(fp8q_llama_config *cfg, const char *text, size_t len, fp8q_error *err);

/* Reads the file at path (at most FP8Q_MAX_CONFIG_SIZE bytes, else
   FP8Q_ERR_LIMIT) and parses it; messages start with the path. A file that
   cannot be opened or read is FP8Q_ERR_IO. */
FP8QDEF fp8q_result fp8q_llama_config_load(fp8q_llama_config *cfg, const char *path, fp8q_error *err);

/* ---------------------------------------------------------- checkpoints */
/* A checkpoint directory as Hugging Face saves it. If
   DIR/model.safetensors.index.json exists it is read (strict JSON, at most
   FP8Q_MAX_CONFIG_SIZE bytes): its "weight_map" object maps every tensor
   name to a shard file name in DIR. Shard names must be non-empty and
   contain no '/', '\\' or ".."; each distinct shard is opened once with
   fp8q_safetensors_open (files[] in byte order of the shard names). Every
   tensor in the map must be in its shard, and every tensor of every shard
   must be in the map and mapped to that shard (so a tensor stored in two
   shards is an error). Otherwise DIR/model.safetensors is opened as the
   only file. Neither present: FP8Q_ERR_IO, "no model.safetensors or
   model.safetensors.index.json in DIR". Index errors are FP8Q_ERR_PARSE
   with messages starting with the index path; shard errors are those of
   fp8q_safetensors_open. On failure *ck is zeroed (close is still safe). */
typedef struct fp8q_checkpoint {
    size_t n_files;
    fp8q_safetensors *files; /* shards, or one file */
    size_t n_tensors;        /* total */
    void *fp8q__owned;       /* internal: name index, name -> (file, tensor) */
} fp8q_checkpoint;

FP8QDEF fp8q_result fp8q_checkpoint_open(fp8q_checkpoint *ck, const char *dir, fp8q_error *err);

/* Closes every file and frees the index; zeroes *ck. Safe on NULL, a zeroed
   struct, a failed open and a second call. */
FP8QDEF void fp8q_checkpoint_close(fp8q_checkpoint *ck);

/* The tensor named name, or NULL when absent. If file is not NULL, *file is
   set to the fp8q_safetensors that holds it (NULL when absent); use it with
   fp8q_safetensors_bytes / fp8q_safetensors_read_f32. O(log n). */
FP8QDEF const fp8q_tensor_info *fp8q_checkpoint_find(const fp8q_checkpoint *ck, const char *name,
                                                     const fp8q_safetensors **file);

/* ------------------------------------------------------------------ regex */
/* Regular expressions as quantization configs use them: Intel Neural
   Compressor QUANT_CONFIG allowlist/blocklist names (INC applies re.search)
   and compressed-tensors "re:<pattern>" targets/ignore entries (re.match).
   The answer equals Python's re.search / re.match / re.fullmatch (no flags)
   for the syntax below; anything else is refused, never guessed.

   Supported syntax (Python's meaning throughout):
     literals        any character except the specials below
     .               any character except '\n' (no DOTALL)
     ^ \A            start of the text (no MULTILINE: ^ is \A)
     $               end of the text, or before a '\n' that ends it
     \Z              end of the text
     \b \B           word boundary / not a boundary. On an empty text both
                     fail (Python <= 3.13; 3.14 lets \B match there)
     [...] [^...]    classes: ranges a-z, escapes, a ']' first is literal,
                     '-' first or last is literal, [^...] matches '\n';
                     ASCII members only (a non-ASCII member is unsupported)
     \d \D           [0-9] and its complement
     \s \S           [ \t\n\r\f\v\x1c-\x1f] (Python's ASCII whitespace) and
                     its complement
     \w \W           [A-Za-z0-9_] plus every non-ASCII character, and its
                     complement
     escapes         \. \* \\ \( \[ ... (any escaped punctuation or non-ASCII
                     character is literal), \a \f \n \r \t \v, \xhh, \uhhhh,
                     \Uhhhhhhhh, octal \0, \0oo, \ooo (<= \377); \b in a
                     class is backspace
     (...) (?:...)   groups (nothing is captured: the answer is yes/no)
     (?#...)         comment
     a|b|            alternation; an empty branch matches the empty string
     * + ? {m} {m,} {m,n} {,n} {,}   quantifiers (m, n < 2^32), each with a
                     lazy form (*? +? ?? {m,n}? ...): laziness cannot change
                     whether a match exists, so it is accepted and ignored;
                     '{' not starting a well-formed quantifier is a literal
   Refused with FP8Q_ERR_UNSUPPORTED (message names the construct and its
   byte offset): lookahead (?= (?!, lookbehind (?<= (?<!, named groups
   (?P<name>, named backreferences (?P=, backreferences \1..\99,
   conditional groups (?(, atomic groups (?>, possessive quantifiers *+ ++
   ?+ {m,n}+, inline flags (?i) (?aiLmsux-imsx:...), \N{name}, non-ASCII
   members of a class. Python's syntax errors (unbalanced or unterminated
   parentheses, nothing to repeat, multiple repeat, bad range z-a,
   unterminated class, trailing or unknown backslash escape, {m,n} with
   m > n, a count >= 2^32, ...) are FP8Q_ERR_PARSE with Python's wording and
   the byte offset, e.g. "regex 'a**': multiple repeat at offset 2".

   Characters: pattern and text are NUL-terminated UTF-8 and are matched
   character by character, as Python matches a str: '.', a class or an
   escape like \W consumes one whole character, {m,n} counts characters.
   A byte that does not begin a well-formed UTF-8 sequence counts as one
   character. Where Python's Unicode categories differ from the ASCII ones
   above, so does the answer: non-ASCII digits (U+0663) are \d in Python,
   non-ASCII spaces (U+00A0, U+3000) are \s, non-ASCII non-letters (U+2014,
   U+20AC) are \W; here all of them are \w, \D and \S, and \b sees them as
   word characters. Config patterns and module names are ASCII.

   Resources: the pattern is compiled into a Thompson NFA (counted
   repetition expanded) and simulated one text character at a time over the
   set of live states (Pike VM): time O(len(text) x program), no
   backtracking, so (a*)*b or (a|a)*b cannot blow up; memory O(program), two
   mallocs, freed before returning; recursion only as deep as the group
   nesting. Beyond these limits, FP8Q_ERR_LIMIT: */
#ifndef FP8Q_MAX_REGEX
#define FP8Q_MAX_REGEX 4096 /* longest pattern, bytes */
#endif
#ifndef FP8Q_MAX_REGEX_DEPTH
#define FP8Q_MAX_REGEX_DEPTH 64 /* groups nested at most this deep */
#endif
/* NFA instructions after expanding {m,n}: one per literal character, class
   or anchor, two per '|' and per *, one per + and per optional copy (?, the
   n - m of {m,n}); \d{1,3} takes 5, .{0,1000} 2000, (ab){1000} 2000.
   Matching costs at most this many steps per text character. */
#ifndef FP8Q_MAX_REGEX_PROGRAM
#define FP8Q_MAX_REGEX_PROGRAM 10000
#endif

typedef enum fp8q_regex_how {
    FP8Q_REGEX_SEARCH = 0,   /* Python re.search: anywhere in text */
    FP8Q_REGEX_MATCH = 1,    /* re.match: at the start of text */
    FP8Q_REGEX_FULLMATCH = 2 /* re.fullmatch: the whole text */
} fp8q_regex_how;

/* Does pattern match text the way `how` says? On FP8Q_OK *matched is 1 or 0
   and err, if not NULL, has code FP8Q_OK and an empty message. Otherwise
   *matched is 0 (when matched is not NULL) and err says what and where:
   FP8Q_ERR_PARSE (Python would raise re.error), FP8Q_ERR_UNSUPPORTED,
   FP8Q_ERR_LIMIT, FP8Q_ERR_NOMEM, or FP8Q_ERR_ARG (pattern, text or
   matched NULL, unknown how). The error depends on the pattern only. */
FP8QDEF fp8q_result fp8q_regex(const char *pattern, const char *text, fp8q_regex_how how, int *matched,
                               fp8q_error *err);

/* Compiles pattern and discards it: FP8Q_OK exactly when fp8q_regex would
   accept it, else the same error fp8q_regex would give (FP8Q_ERR_ARG for
   a NULL pattern). Use it to validate configs up front. */
FP8QDEF fp8q_result fp8q_regex_check(const char *pattern, fp8q_error *err);

/* Tells the system that the bytes of tensor t are not needed for now: on a
   mapped file, whole pages inside t are dropped from memory (madvise
   MADV_DONTNEED; they are read from the file again if touched later), so a
   loader that converts tensors one by one keeps its resident memory near
   the converted size. A no-op for read (unmapped) files and other systems. */
FP8QDEF void fp8q_safetensors_release(const fp8q_safetensors *st, const fp8q_tensor_info *t);

/* ------------------------------------------------------------ Llama model */
/* A Llama-family decoder (Llama 1/2/3.x, Mistral without sliding window,
   SmolLM, TinyLlama) as Hugging Face transformers computes it, in float32:

     x = embed[token]
     for each layer:                                     (shapes for n tokens)
       h = rmsnorm(x) * attn_norm                        [n][dim]
       q, k, v = h . Wq^T, h . Wk^T, h . Wv^T            [n][heads*hd], [n][kv_heads*hd] x 2
       q, k = rope(q, k, position)                       half-split rotation, rope_theta, llama3 scaling
       K/V cache[position] = k, v                        (FP8 when the KV cache is FP8)
       a = softmax(q . K^T / sqrt(hd), causal) . V       per head, GQA: head h reads kv head h / (heads/kv_heads)
       x = x + a . Wo^T
       h = rmsnorm(x) * ffn_norm
       x = x + (silu(h . Wgate^T) * (h . Wup^T)) . Wdown^T
     logits = (rmsnorm(x) * final_norm) . Wlm^T          lm_head, or embed when tied

   rmsnorm(x) = x / sqrt(mean(x^2) + eps); silu(z) = z / (1 + e^-z). Every
   linear ("module": q_proj ... down_proj, lm_head) runs either in float32
   (unquantized) or as a W8A8 / W8A16 FP8 GEMM, per the precision mode: */
typedef enum fp8q_quant {
    FP8Q_QUANT_AUTO = 0, /* "auto": the checkpoint's own scheme; NONE for an unquantized checkpoint */
    FP8Q_QUANT_NONE = 1, /* "none": float32 everywhere; FP8 checkpoint weights are dequantized (q * s) */
    /* "fp8-dynamic": vLLM's online quantization="fp8" on a BF16/F16/F32
       checkpoint. Weights per tensor, s = amax/448 over the fused parameter
       as vLLM fuses it (q/k/v share one scale, gate/up share one),
       q = cast(clamp(w * (1/s))) (recipe vllm-per-tensor); activations
       dynamic per token (vllm-per-token, as vLLM on sm_89+ since v0.7). */
    FP8Q_QUANT_FP8_DYNAMIC = 2,
    FP8Q_QUANT_FP8_DYNAMIC_TENSOR =
        3, /* "fp8-dynamic-tensor": the same with dynamic per-tensor activations (vllm-per-tensor) */
    /* "fp8-channel": llm-compressor's FP8_DYNAMIC scheme applied at load:
       per-channel weights max(amax/448, 2^-23), q = cast(clamp(w / s))
       (ct-channel-f32), dynamic per-token activations. */
    FP8Q_QUANT_FP8_CHANNEL = 4
} fp8q_quant;

/* "auto", "none", "fp8-dynamic", ...; NULL for an unknown value. */
FP8QDEF const char *fp8q_quant_name(fp8q_quant q);
/* 1 and *out set if s names a mode (exactly as fp8q_quant_name spells it). */
FP8QDEF int fp8q_quant_from_name(const char *s, fp8q_quant *out);

/* KV cache storage. FP8: q = cast_satfinite(x / s), x^ = float(q) * s, with
   the layer's k_scale / v_scale (vLLM quant_utils.cuh); keys are stored
   after RoPE. Scales come from the checkpoint: self_attn.k_scale/v_scale,
   else the older self_attn.k_proj.output_scale/v_proj.output_scale, else a
   single self_attn.kv_scale for both; else 1.0 and a warning. */
typedef enum fp8q_kv_cache {
    FP8Q_KV_AUTO = 0, /* "auto": float32, as the compute */
    FP8Q_KV_E4M3 = 1, /* "e4m3" (vLLM's "fp8" and "fp8_e4m3") */
    FP8Q_KV_E5M2 = 2  /* "e5m2" */
} fp8q_kv_cache;

/* Whose run-time activation arithmetic to reproduce on FP8 checkpoints:
   VLLM (default): dynamic per-token vllm-per-token (x / s_t, s_t >=
   1/(448*512)); static per-tensor x * (1/s) (vllm-per-tensor); fused
   per-tensor shards (q/k/v, gate/up) re-quantized to the largest shard
   scale and the largest input_scale (vLLM requantize_with_max_scale).
   COMPRESSED_TENSORS: llm-compressor's fake-quantized forward: per token
   max(amax/448, 2^-23) and x / s (ct-token-f32), static x / s, no fusing. */
typedef enum fp8q_engine { FP8Q_ENGINE_VLLM = 0, FP8Q_ENGINE_COMPRESSED_TENSORS = 1 } fp8q_engine;

/* Zero-initialise, then set what you need. */
typedef struct fp8q_model_options {
    fp8q_quant quant;
    fp8q_kv_cache kv_cache;
    fp8q_engine engine;
    fp8q_gemm_mode gemm;   /* FP8 GEMMs: REFERENCE (default), EXACT or FAST */
    int keep_shard_scales; /* VLLM engine: do not fuse q/k/v and gate/up shard scales (shows their effect) */
    int threads;           /* worker threads for GEMMs and float matmuls (0 or 1: the calling thread) */
    fp8q_parallel_for_fn parallel_for; /* optional: the caller's job system instead of fp8q's threads */
    void *parallel_ctx;
} fp8q_model_options;

/* The modules of one layer, in order, then lm_head; their Hugging Face
   names are model.layers.N.self_attn.q_proj ... model.layers.N.mlp.down_proj
   and lm_head. The rest are seen only by observers: K_CACHE / V_CACHE, the
   rows written to the KV cache (after RoPE); QK, SOFTMAX and AV, the
   attention's q.K^T, softmax and probs.V (see fp8q_observation). */
typedef enum fp8q_module {
    FP8Q_MOD_Q = 0,
    FP8Q_MOD_K,
    FP8Q_MOD_V,
    FP8Q_MOD_O,
    FP8Q_MOD_GATE,
    FP8Q_MOD_UP,
    FP8Q_MOD_DOWN,
    FP8Q_MOD_LM_HEAD,
    FP8Q_MOD_K_CACHE,
    FP8Q_MOD_V_CACHE,
    FP8Q_MOD_QK,
    FP8Q_MOD_SOFTMAX,
    FP8Q_MOD_AV,
    FP8Q_MOD_COUNT
} fp8q_module;

/* "q_proj", "k_proj", ..., "lm_head", "k_cache", "v_cache", "matmul_qk",
   "softmax", "matmul_av". */
FP8QDEF const char *fp8q_module_name(fp8q_module mod);

/* The module names vLLM gives fp8q's modules on Intel Gaudi (vllm-gaudi's
   Llama with the HPU attention backend), as INC names and selects them
   (INC.md 4.1), with the bare class names INC's allowlist/blocklist "types"
   match:
     Q, K, V   model.layers.N.self_attn.qkv_proj             QKVParallelLinear (one fused module)
     O         model.layers.N.self_attn.o_proj               RowParallelLinear
     GATE, UP  model.layers.N.mlp.gate_up_proj               MergedColumnParallelLinear
     DOWN      model.layers.N.mlp.down_proj                  RowParallelLinear
     LM_HEAD   lm_head                                       ParallelLMHead
     K_CACHE   model.layers.N.self_attn.attn.impl.k_cache    VLLMKVCache   (V_CACHE: v_cache)
     QK        model.layers.N.self_attn.attn.impl.matmul_qk  Matmul        (AV: matmul_av)
     SOFTMAX   model.layers.N.self_attn.attn.impl.softmax    Softmax
   The "attn.impl" path follows the real gpt-oss measurement file (its
   attention module is called "attn"; Llama's is "self_attn"). Writes the
   name snprintf-like (returns its full length; layer is ignored for
   LM_HEAD). */
FP8QDEF size_t fp8q_inc_module_name(int layer, fp8q_module mod, char *buf, size_t cap);
FP8QDEF const char *fp8q_inc_module_class(fp8q_module mod);

/* How a linear's input is quantized. */
typedef enum fp8q_act {
    FP8Q_ACT_NONE = 0,           /* float32 input: float matmul, or W8A16 when the weight is FP8 */
    FP8Q_ACT_DYNAMIC_TOKEN = 1,  /* one scale per row (token), from the data */
    FP8Q_ACT_DYNAMIC_TENSOR = 2, /* one scale for all rows of the call, from the data */
    FP8Q_ACT_STATIC = 3          /* input_scale from the checkpoint */
} fp8q_act;

/* An unquantized weight matrix kept in its checkpoint type (F32, BF16 or
   F16) or converted to F32. */
typedef struct fp8q_matrix {
    fp8q_dtype dtype;
    int rows, cols;
    void *data; /* [rows][cols] */
} fp8q_matrix;

/* y[M][out] = x[M][in] . W^T (+ bias). */
typedef struct fp8q_linear {
    int out, in;
    fp8q_matrix w;     /* the float weight, or data NULL when quantized */
    uint8_t *q;        /* [out][in] FP8 E4M3 codes, or NULL */
    float *w_scale;    /* [1] (per tensor) or [out] (per channel) dequantization multipliers */
    int w_per_channel; /* 1: w_scale has out entries */
    fp8q_act act;      /* activation quantization (FP8 weights only) */
    const fp8q_recipe *act_recipe;
    float input_scale; /* FP8Q_ACT_STATIC */
    float *bias;       /* [out] or NULL */
    /* INC dynamic quantization: per-token scales by INC's rule (fp8q_inc_token_scales) on inc_device */
    int inc_dynamic, inc_device;
    fp8q_inc_scale_cfg inc_act;
} fp8q_linear;

typedef struct fp8q_layer {
    float *attn_norm, *ffn_norm;        /* [dim] */
    fp8q_linear mod[FP8Q_MOD_DOWN + 1]; /* indexed by fp8q_module: q, k, v, o, gate, up, down */
    float k_scale, v_scale;             /* KV cache scales */
    /* INC QUANTIZE (fp8q_model_apply_inc): FP8 attention matmuls; 0 when not quantized */
    float inc_qk[2], inc_av[2]; /* matmul_qk / matmul_av input scales (query or probabilities, key or value) */
    float inc_softmax;          /* softmax output scale */
} fp8q_layer;

typedef struct fp8q_model {
    fp8q_llama_config config;
    fp8q_model_options opt; /* as given; quant AUTO becomes NONE on an unquantized checkpoint */
    char scheme[128];       /* e.g. "none", "fp8-dynamic", "compressed-tensors FP8_DYNAMIC (channel/token)" */
    fp8q_matrix embed;      /* [vocab][dim], in the checkpoint's type */
    fp8q_layer *layers;     /* [num_hidden_layers] */
    float *final_norm;      /* [dim] */
    fp8q_linear lm_head;    /* w.data == embed.data when tied */
    float *rope_inv_freq;   /* [head_dim / 2], after llama3 scaling */
    size_t weight_bytes;    /* bytes of weights held (embeddings, FP8 codes, scales, norms) */
    char warnings[512];     /* '\n'-separated notes for the caller (e.g. missing KV scales), "" if none */
    int n_warnings;
    float kv_qmax; /* INC: the KV cache clamps x * (1/s) to +-kv_qmax before the cast (0: vLLM's x / s, SATFINITE) */
    fp8q_recipe inc_recipe; /* INC: q = cast(clamp(x * (1/s), +-fullscale)) for activations and weights */
} fp8q_model;

/* Loads DIR (config.json and model.safetensors or a sharded index) into
   *m with options opt (NULL: all defaults). Weights are converted one
   tensor at a time while the file stays mapped and each tensor's pages
   are released after conversion, so peak memory is near the model's final
   size plus one tensor. Unquantized modes convert every weight to F32;
   FP8 modes keep embeddings and an unquantized lm_head in the checkpoint
   type (as vLLM keeps them in the model dtype). Checkpoint quantization
   (config.json "quantization_config"):
     compressed-tensors (llm-compressor): format "float-quantized" or
       "naive-quantized", config_groups with 8-bit symmetric float weights
       of strategy "tensor" or "channel" (static) and input_activations null
       (W8A16), dynamic "token"/"tensor" or static "tensor"; "targets" and
       "ignore" (names, class "Linear", "re:" prefixes, matched with Python
       re.match); kv_cache_scheme null or 8-bit float "tensor".
     fp8 (AutoFP8, vLLM serialized fp8): per-tensor weight_scale,
       activation_scheme "dynamic" or "static", ignored_layers.
     fbgemm_fp8: per-channel weight_scale [out, 1], dynamic per-token
       activations with activation_scale_ub, modules_to_not_convert.
   Anything else is FP8Q_ERR_UNSUPPORTED naming the key and value. The
   tensors must agree with config.json and the scheme (names, dtypes,
   shapes, finite positive scales): FP8Q_ERR_PARSE naming the tensor. On
   failure *m is zeroed (fp8q_model_free is still safe). */
FP8QDEF fp8q_result fp8q_model_load(fp8q_model *m, const char *dir, const fp8q_model_options *opt, fp8q_error *err);
FP8QDEF void fp8q_model_free(fp8q_model *m);

/* What an observer sees: one input or output tensor of one module, rows x
   cols float32, row-major, valid during the call. For calibration (INC
   MEASURE, static scales) and traces.
     linear modules   input 0 [n][in], output 0 [n][out]; layer -1 is lm_head.
                      The input is observed after the module ran, with the
                      E4M3 codes its GEMM read and their scales (below)
     K_CACHE/V_CACHE  input 0: the n new rows [n][kv_heads*head_dim], after
                      RoPE for K, observed after they are stored: with an
                      FP8 cache, the codes stored (the cache's format, E4M3
                      or E5M2) and the layer's k_scale / v_scale
     QK, SOFTMAX, AV  one call per attention head (head >= 0), rows = the n
                      query tokens, len = positions attended (pos + n):
       QK       input 0 q * head_dim^-0.5 [n][hd] (the query is scaled first,
                as vLLM's HPU attention does: unconfirmed), input 1 the keys
                as read from the cache [len][hd], output 0 [n][len]
       SOFTMAX  input 0 the scores with the causal mask applied as -Inf
                [n][len], output 0 the probabilities [n][len]
       AV       input 0 the probabilities [n][len], input 1 the values as
                read from the cache [len][hd], output 0 [n][hd]
   Attention internals are recomputed for observers only when one is set
   (the same arithmetic as the forward; its results do not change). */
typedef enum fp8q_io { FP8Q_IO_INPUT = 0, FP8Q_IO_OUTPUT = 1 } fp8q_io;
typedef struct fp8q_observation {
    int layer; /* 0 .. layers - 1, or -1 for lm_head */
    fp8q_module mod;
    fp8q_io io;
    int index; /* which input or output */
    int head;  /* attention internals: the query head; else -1 */
    const float *x;
    int rows, cols;
    /* A linear module's input 0 when it was quantized (W8A8), K_CACHE and
       V_CACHE with an FP8 cache: the FP8 codes [rows][cols] and their
       dequantization multipliers, n_scales of them (1: per tensor, static or
       dynamic; rows: per token); else NULL and 0. */
    const uint8_t *fp8;
    const float *scales;
    int n_scales;
} fp8q_observation;
typedef void (*fp8q_observer_fn)(void *ctx, const fp8q_observation *o);

/* Run state: the KV cache for up to max_seq positions and the scratch of
   one forward call of up to max_batch tokens. */
typedef struct fp8q_state {
    int max_seq, max_batch;
    int pos;       /* tokens already in the cache */
    float *logits; /* [vocab]: the last position of the last forward call */
    fp8q_observer_fn observer;
    void *observer_ctx;
    void *fp8q__owned; /* internal: buffers and the cache */
} fp8q_state;

FP8QDEF fp8q_result fp8q_state_init(fp8q_state *s, const fp8q_model *m, int max_seq, int max_batch, fp8q_error *err);
FP8QDEF void fp8q_state_free(fp8q_state *s);
/* Empties the KV cache (pos = 0). */
FP8QDEF void fp8q_state_reset(fp8q_state *s);

/* Runs tokens[0, n) at positions s->pos .. s->pos + n - 1 (one batch: the
   dynamic per-tensor activation scales span these n rows), appends them to
   the KV cache and advances s->pos. logits_all, if not NULL, receives
   [n][vocab] (else only the last row is computed, into s->logits).
   FP8Q_ERR_ARG for a token outside [0, vocab), n outside [1, max_batch] or
   past max_seq; FP8Q_ERR_NOMEM. */
FP8QDEF fp8q_result fp8q_forward(const fp8q_model *m, fp8q_state *s, const int32_t *tokens, int n, float *logits_all,
                                 fp8q_error *err);

/* Sampling from logits[vocab]: greedy (argmax, the lowest index on ties)
   when temperature <= 0, else softmax(logits / temperature), restricted to
   the smallest set of most likely tokens whose probability reaches top_p
   (0 or >= 1: all), drawn with *rng (xorshift64*, any non-zero seed; the
   same seed gives the same tokens on every platform). */
FP8QDEF int fp8q_sample(const float *logits, int vocab, float temperature, float top_p, uint64_t *rng);

/* ---------------------------------------------- writing checkpoints */

/* Streaming safetensors writer: like fp8q_safetensors_write, but a tensor
   whose data is NULL (and whose size is not 0) is produced on demand by
   fill(ctx, i, dst, bytes, err), called once per such tensor in order with
   a buffer of exactly its byte size, so only one tensor is in memory at a
   time. A fill that returns an error aborts the write (the partial file is
   removed) and its error is returned. */
typedef fp8q_result (*fp8q_tensor_fill_fn)(void *ctx, size_t i, void *dst, size_t bytes, fp8q_error *err);
FP8QDEF fp8q_result fp8q_safetensors_write_stream(const char *path, const fp8q_tensor_out *t, size_t n,
                                                  const char *const *meta_keys, const char *const *meta_values,
                                                  size_t n_meta, fp8q_tensor_fill_fn fill, void *ctx, fp8q_error *err);

/* Writes DIR/config.json and DIR/model.safetensors: a Llama model of shape
   cfg with weights from a fixed generator (splitmix64 seeded per tensor
   from seed: the same bytes on every platform): linear weights uniform in
   +-sqrt(3/in) (o_proj and down_proj divided by sqrt(2 layers)),
   embeddings in +-1, norm weights in 1 +- 0.1; dtype F32,
   BF16 or F16; tensors streamed one at a time. For tests, benchmarks and
   the offline demo. DIR must exist. */
FP8QDEF fp8q_result fp8q_write_random_llama(const char *dir, const fp8q_llama_config *cfg, fp8q_dtype dtype,
                                            uint64_t seed, fp8q_error *err);

/* Quantizes the float checkpoint in_dir into a compressed-tensors FP8
   checkpoint in out_dir as llm-compressor's oneshot + save_pretrained
   writes it (the same tensor names, dtypes, shapes and config.json
   quantization_config), loadable by vLLM and by transformers with
   compressed-tensors. Weights stream from the input one tensor at a time. */
typedef enum fp8q_ct_scheme {
    FP8Q_CT_FP8_DYNAMIC = 0, /* "fp8-dynamic": per-channel weights, dynamic per-token activations */
    FP8Q_CT_FP8 = 1          /* "fp8": per-tensor weights, static per-tensor input_scale (needs calibration) */
} fp8q_ct_scheme;

typedef struct fp8q_quantize_options {
    fp8q_ct_scheme scheme;
    int kv_cache;                /* 1: calibrate FP8 KV-cache scales (k_scale / v_scale, kv_cache_scheme) */
    const int32_t *calib_tokens; /* FP8 / kv_cache: n_calib sequences of calib_len token ids, row-major */
    int n_calib, calib_len;
    const char *const *ignore; /* modules left unquantized; NULL: {"lm_head"} */
    int n_ignore;
    int threads;
    void (*progress)(void *ctx, uint64_t done, uint64_t total); /* weight bytes processed, or NULL */
    void *progress_ctx;
} fp8q_quantize_options;

FP8QDEF fp8q_result fp8q_quantize_checkpoint(const char *in_dir, const char *out_dir, const fp8q_quantize_options *opt,
                                             fp8q_error *err);

/* ------------------------------------------------ INC QUANT_CONFIG files */
/* Intel Neural Compressor's FP8 configuration (the JSON file vLLM on Gaudi
   reads from the QUANT_CONFIG environment variable), parsed as INC's
   Fp8cfg.parse does it (INC.md 2; neural_compressor/torch/algorithms/
   fp8_quant/_quant_common/quant_config.py, v3.5+):

     {"mode": "QUANTIZE", "observer": "maxabs", "scale_method": "maxabs_hw",
      "blocklist": {"types": [], "names": ["lm_head", "mlp\\.gate\\b"]},
      "dump_stats_path": "./hqt_output/measure"}

   Keys are visited in document order over INC's defaults:
   - Enum keys (mode, measure_exclude, fp8_config, hp_dtype, scale_method,
     recalc_scales, ignore_modules_wo_measures, use_qdq, fake_quant,
     scale_format, device_for_scales, measure_on_hpu, dynamic_quantization):
     the value is stringified as Python's str() does (true -> "True",
     null -> "None", 1.0 -> "1.0", ["a"] -> "['a']"), upper-cased as
     Python's str.upper() does, and must name a member; so "maxabs_hw",
     "True", "true" and JSON true are all fine, null is the member NONE of
     mode and measure_exclude, and a number is never valid. Otherwise
     FP8Q_ERR_PARSE with INC's text
       Invalid 'use_qdq' value in custom config ('yes'). Enter one of ['TRUE', 'FALSE']
     (the member list is cut with "..." where it does not fit the message).
   - An object "scale_method" is INC's dict form (fp8q_inc_scale_entry) and sets
     recalc_scales to true at that point of the document (a later
     "recalc_scales" key still overrides it, as in INC).
   - allowlist / blocklist (and their legacy aliases whitelist / blacklist)
     are merged one sub-key ("names", "types") at a time, in document order:
     a later sub-key wins whichever spelling it came under.
   - Unknown keys are accepted and reported as warnings (INC ignores them
     silently); legacy and misspelt keys get a specific warning. An unknown
     key whose value is a non-empty object is an error: INC raises KeyError
     merging it into its defaults (an empty object merges nothing).

   Deviations from INC, all towards reporting a mistake earlier:
   - values INC would store and only fail on later (or silently misuse) are
     checked here: observer and dump_stats_path must be strings,
     calibration_sample_interval an integer or a string holding one,
     allowlist / blocklist / whitelist / blacklist objects (a non-object
     would replace the whole list in INC, which then fails selecting
     modules) with arrays of strings ("names" must be patterns fp8q_regex
     supports: the error names the key and the pattern),
     mod_dict an empty object, a dict scale_method's sections objects and
     its backoffs finite positive numbers;
   - checks that depend on the machine are left to the caller: CPU devices
     (fp8q is not one in INC's sense: none of INC's CPU rules apply), the
     current Gaudi (fp8q_inc_config_check_device), the rank and world size
     (fp8q_inc_file_name), the dump directory (created and backed up by
     INC in MEASURE), the fallback to INC's own custom_config/ folder;
   - the JSON is strict (fp8q_json_parse flags 0): duplicate keys are an
     error, where Python keeps the last.

   Lifetime: *cfg owns all its strings and arrays; release them with
   fp8q_inc_config_free. */

/* INC's QuantMode, with its values. */
typedef enum fp8q_inc_mode {
    FP8Q_INC_MODE_NONE = 0,
    FP8Q_INC_MODE_QUANTIZE = 1,
    FP8Q_INC_MODE_MEASURE = 2,
    FP8Q_INC_MODE_SHAPE = 3,
    FP8Q_INC_MODE_LOAD = 4
} fp8q_inc_mode;

/* INC's MeasureExclude flag values. Only OUTPUT and ALL have an effect:
   outputs are not measured, except for ops that always need them. */
typedef enum fp8q_inc_measure_exclude {
    FP8Q_INC_EXCLUDE_NONE = 1,
    FP8Q_INC_EXCLUDE_INPUT = 2,
    FP8Q_INC_EXCLUDE_OUTPUT = 4,
    FP8Q_INC_EXCLUDE_PARAMS = 8,
    FP8Q_INC_EXCLUDE_ALL = 16
} fp8q_inc_measure_exclude;

/* INC's ScaleFormat: CONST passes scales to the device ops as device
   tensors, SCALAR as host floats. */
typedef enum fp8q_inc_scale_format { FP8Q_INC_SCALE_CONST = 1, FP8Q_INC_SCALE_SCALAR = 2 } fp8q_inc_scale_format;

/* allowlist / blocklist (INC.md 2.3). */
typedef struct fp8q_inc_list {
    const char *const *names; /* regex patterns (Python syntax), searched anywhere in the module name */
    size_t n_names;
    const char *const *types; /* bare class names, compared exactly ("Linear", "VLLMKVCache") */
    size_t n_types;
} fp8q_inc_list;

/* One (weight, activation) scale configuration of the scale method: the
   default, or a nodes / layers / layer_types override (INC.md 2.4). For the
   string form of scale_method the default is the predefined method itself
   with its backoffs (fp8q_inc_method_get). For the dict form, fields missing
   from the default are PTS / MAXABS / IDENTITY / backoff 1.0, and fields
   missing from an override come from the default. Every entry equals a
   predefined method on granularity, value type and rounding (backoffs and
   params are not compared). */
typedef struct fp8q_inc_scale_entry {
    const char *key;               /* "" for the default; the node name, layer index (as written) or class name */
    fp8q_inc_scale_cfg weight;     /* the weight configuration */
    fp8q_inc_scale_cfg activation; /* the activation (inputs and outputs) configuration */
    const fp8q_inc_method *method; /* the predefined method the entry equals */
    const double *weight_scales;   /* the weight's "params": {"weight_scales": [...]}, or NULL: the method's own */
    size_t n_weight_scales;        /*   candidates (OPT: HW set, 2^-10..2^9, or multipliers 2^-3..2^4) */
} fp8q_inc_scale_entry;

typedef struct fp8q_inc_config {
    fp8q_inc_mode mode;    /* "mode", default QUANTIZE */
    int mode_vllm_ok;      /* 1 when "mode" is exactly the string "MEASURE" or "QUANTIZE", as vLLM requires */
    const char *mode_text; /* "mode" stringified as INC sees it ("measure", "None", ...), NULL when absent */
    const char *observer;  /* "observer", default "maxabs" (maxabs, maxabs_per_channel, save, shape) */
    /* "scale_method": the predefined method it names, or that the dict's
       default equals (the scale file name uses it); default MAXABS_HW */
    const fp8q_inc_method *method;
    int scale_method_dict;                   /* 1 when "scale_method" was given in the dict form */
    fp8q_inc_scale_entry scale_default;      /* the default entry (the method's own for the string form) */
    const fp8q_inc_scale_entry *scale_nodes; /* dict overrides by full module name, in document order */
    size_t n_scale_nodes;
    const fp8q_inc_scale_entry *scale_layers; /* dict overrides by layer index as written ("12") */
    size_t n_scale_layers;
    const fp8q_inc_scale_entry *scale_layer_types; /* dict overrides by bare class name */
    size_t n_scale_layer_types;
    fp8q_format fp8_config;      /* "fp8_config": E4M3 (default) -> FP8Q_E4M3, E5M2 -> FP8Q_E5M2 */
    fp8q_dtype hp_dtype;         /* "hp_dtype": BF16 (default) -> FP8Q_BF16, FP16 -> FP8Q_F16, FP32 -> FP8Q_F32 */
    const char *dump_stats_path; /* "dump_stats_path", default "stats" */
    const char *dump_dir;        /* its directory, Python's os.path.dirname ("./hqt_output"; "" for "stats") */
    const char *dump_prefix;     /* its last component, os.path.basename ("measure") */
    fp8q_inc_list allowlist;     /* "allowlist" merged with "whitelist"; both arrays empty by default */
    fp8q_inc_list blocklist;     /* "blocklist" merged with "blacklist" */
    fp8q_inc_measure_exclude measure_exclude; /* "measure_exclude", default OUTPUT */
    /* "scale_format", default SCALAR, after INC's reductions to CONST (each
       with a warning): a per-channel entry, fake_quant, dynamic_quantization */
    fp8q_inc_scale_format scale_format;
    int has_device_for_scales;                      /* 1 when "device_for_scales" was given */
    fp8q_gaudi device_for_scales;                   /* then GAUDI2 or GAUDI3 (else INC uses the current device) */
    int dynamic_quantization;                       /* "dynamic_quantization", default 0 */
    int use_qdq;                                    /* "use_qdq", default 0 */
    int fake_quant;                                 /* "fake_quant", default 0 */
    int recalc_scales;                              /* "recalc_scales", default 0; set to 1 by a dict scale_method */
    int ignore_modules_wo_measures;                 /* "ignore_modules_wo_measures", default 0 */
    int measure_on_hpu;                             /* "measure_on_hpu", default 1 */
    int seperate_measure_files;                     /* (sic) Python truthiness of the raw value, default 1 */
    int row_parallel_linear_allreduce_quantization; /* Python truthiness of the raw value, default 0 */
    int64_t calibration_sample_interval;            /* default 0; > 0: measurements are dumped every N calls */
    /* 0 when INC reads and writes no statistics files: QUANTIZE or LOAD with
       dynamic quantization, or with FIXED_VALUE weights and activations in
       every entry (unit scale); else 1 */
    int use_stats_files;
    /* fp8q_inc_config_warning(cfg, 0 .. n_warnings-1); at most 65 (the 65th
       says that further warnings were omitted) */
    size_t n_warnings;
    void *fp8q__owned; /* internal: the memory behind the pointers above */
} fp8q_inc_config;

/* Parses the QUANT_CONFIG text[0, len) into *cfg (overwritten, not freed:
   free a previous result first). On success err, if not NULL, gets
   FP8Q_OK; the warnings (unknown and legacy keys, INC's scale_format
   reductions) are in cfg. On failure *cfg is zeroed (fp8q_inc_config_free
   is still safe) and err names the key and the value:
   FP8Q_ERR_PARSE for invalid JSON, a root that is not an object, a wrong
   value (INC's texts where INC has one: the enum message above,
   "Scale method config should contain a default scale method.",
   "Invalid input 'x' for ScaleRoundMethod. Enter one of [...]",
   "Unsupported config: scale method config for CfgStr.DEFAULT = ... is not
   supported.", "Custom modules are not supported: dict_keys([...]). Please
   add it in the code.", and the dynamic_quantization conflicts of INC.md
   2.5); FP8Q_ERR_UNSUPPORTED or FP8Q_ERR_LIMIT for a names pattern
   fp8q_regex rejects; FP8Q_ERR_NOMEM; FP8Q_ERR_ARG for NULL arguments. */
FP8QDEF fp8q_result fp8q_inc_config_parse(fp8q_inc_config *cfg, const char *text, size_t len, fp8q_error *err);

/* Reads and parses the file at path (at most FP8Q_MAX_CONFIG_SIZE bytes).
   Messages include INC's own: "QUANT PACKAGE: Can't open <path>!"
   (FP8Q_ERR_IO: missing, unreadable, a directory), "QUANT PACKAGE: Can't
   load <path>!" followed by the JSON error (FP8Q_ERR_PARSE); other errors
   are those of fp8q_inc_config_parse prefixed with "<path>: ". */
FP8QDEF fp8q_result fp8q_inc_config_load(fp8q_inc_config *cfg, const char *path, fp8q_error *err);

/* fp8q_inc_config_load on the path in the environment variable
   QUANT_CONFIG, as vLLM does; FP8Q_ERR_ARG when it is unset or empty. */
FP8QDEF fp8q_result fp8q_inc_config_load_env(fp8q_inc_config *cfg, fp8q_error *err);

/* Releases what *cfg owns and zeroes it. NULL, a zeroed or failed config,
   and a second call are fine. */
FP8QDEF void fp8q_inc_config_free(fp8q_inc_config *cfg);

/* Warning i (0 .. cfg->n_warnings-1), a sentence naming the key, or NULL. */
FP8QDEF const char *fp8q_inc_config_warning(const fp8q_inc_config *cfg, size_t i);

/* vLLM's own check (INC.md 1): FP8Q_OK when mode_vllm_ok, else
   FP8Q_ERR_UNSUPPORTED with "Unknown quantization config mode, please
   validate quantization config file" and the value found. */
FP8QDEF fp8q_result fp8q_inc_config_check_vllm(const fp8q_inc_config *cfg, fp8q_error *err);

/* INC's device_for_scales rule for a run on `device`: scales of another
   device are allowed only as GAUDI2 scales on a GAUDI3 with every entry
   MAXABS_HW. FP8Q_OK or FP8Q_ERR_UNSUPPORTED with INC's text. */
FP8QDEF fp8q_result fp8q_inc_config_check_device(const fp8q_inc_config *cfg, fp8q_gaudi device, fp8q_error *err);

/* The scale entry of module module_name (its full name, e.g.
   "model.layers.3.self_attn.qkv_proj") whose bare class name is
   class_name (may be NULL): nodes[module_name], else layers[idx] with idx
   the digits of the first match of layers\.(\d+) (else layers/(\d+)) in the
   name, else layer_types[class_name], else the default. NULL only for NULL
   arguments. */
FP8QDEF const fp8q_inc_scale_entry *fp8q_inc_config_scale_entry(const fp8q_inc_config *cfg, const char *module_name,
                                                                const char *class_name);

/* The same lookup, copying the weight and activation configurations
   (either output may be NULL). FP8Q_ERR_ARG for a NULL cfg or module_name. */
FP8QDEF fp8q_result fp8q_inc_config_scale_cfg(const fp8q_inc_config *cfg, const char *module_name,
                                              const char *class_name, fp8q_inc_scale_cfg *weight,
                                              fp8q_inc_scale_cfg *activation);

/* INC's module selection (INC.md 2.3; should_quantize): *yes = 1 when
   class_name is not in blocklist.types; and the allowlist is empty, or
   class_name is in allowlist.types, or an allowlist.names pattern matches
   module_name; and no blocklist.names pattern matches module_name; and,
   with dynamic_quantization, supports_dynamic is non-zero (whether the op
   type supports dynamic quantization: INC.md 4.1). Types compare exactly;
   patterns are searched anywhere (Python re.search), so "self_attn" blocks
   every module under a self_attn. Whether class_name is a type INC patches
   at all (INC.md 4.1) is the caller's check. Errors are fp8q_regex's
   (FP8Q_ERR_NOMEM; the patterns were checked by the parser); FP8Q_ERR_ARG
   for NULL arguments. */
FP8QDEF fp8q_result fp8q_inc_should_quantize(const fp8q_inc_config *cfg, const char *module_name,
                                             const char *class_name, int supports_dynamic, int *yes, fp8q_error *err);

/* The files of INC.md 5.1, P = dump_stats_path, R = "_<rank>_<world>"
   (world <= 0 is written "None", as INC writes an unknown world size), or
   "" when rank < 0 or seperate_measure_files is falsy. */
typedef enum fp8q_inc_file {
    FP8Q_INC_FILE_MEASURE = 0, /* P_hooks_<observer>R.json (measurements; MEASURE writes them) */
    FP8Q_INC_FILE_MEASURE_NPZ, /* P_hooks_<observer>R.npz (what INC's QUANTIZE reads) */
    FP8Q_INC_FILE_MOD_LIST,    /* P_hooks_<observer>R_mod_list.json */
    FP8Q_INC_FILE_SCALE,       /* P_hooks_<observer>_<METHOD>R.json (scales; METHOD = cfg->method->name) */
    FP8Q_INC_FILE_SCALE_NPZ,   /* P_hooks_<observer>_<METHOD>R.npz (the scale cache) */
    FP8Q_INC_FILE_SHAPE,       /* P_hooks_shapeR.json (SHAPE mode) */
    FP8Q_INC_FILE_SHAPE_NPZ    /* P_hooks_shapeR.npz */
} fp8q_inc_file;

/* Writes the name of file `kind` into buf, snprintf-like: at most cap - 1
   bytes and a NUL when cap > 0 (buf may be NULL when cap is 0); returns the
   full length, so a return >= cap means truncation. Returns 0 (and ""
   when cap > 0) for a NULL or unparsed cfg or an unknown kind. E.g.
   "./hqt_output/measure_hooks_maxabs_MAXABS_HW_0_8.json". */
FP8QDEF size_t fp8q_inc_file_name(const fp8q_inc_config *cfg, fp8q_inc_file kind, int rank, int world, char *buf,
                                  size_t cap);

/* ------------------------------------- INC measurement and scale files */

/* Intel Neural Compressor's measurement and scale files (INC.md 5.2, 5.3),
   the calibration steps that edit them (INC.md 7: step 3 KV post-processing,
   step 5 rank unification), and the scales INC computes from them for every
   predefined method and both Gaudi devices (INC.md 3, 4.2).

   THE FILE (INC fq/_core/common.py save_file / save_json: Python
   json.dump(obj, f, indent=4)):

     {"NumSamples": n,          optional (calibration_sample_interval > 0)
      "GlobalRank": null,       INC always writes null
      "LocalRank": 0,           an integer or null (-1 after unification to R = 1)
      "Mode": "DynamicRange",   measurements; "Scale" in scale files
      "Nodes": {"<module>": {"inputs": [E, ...], "outputs": [E, ...],
                             "params": {"weight": E}}, ...}}

   A measurement entry E is [[v]] for the maxabs observer, or [[c0], [c1],
   ...] for maxabs_per_channel: rows x cols numbers (cols is 1 in INC's files).
   Values are BF16 numbers widened to double; Python's json writes the
   non-standard tokens Infinity, -Infinity and NaN (a masked softmax input
   measures Infinity; RowParallel outputs[1] is garbage at TP=1). In "Scale"
   files an entry is a plain number, a 1-D array ([s] for OPT per-tensor
   weights, per-channel vectors), or rows x cols arrays, and a per-channel
   weight is a dict {"0": [out-channel scales], "1": [1.0 x in_features]}.

   WHAT THE READER ACCEPTS (fp8q_inc_measure_parse): strict JSON (fp8q_json_
   parse with FP8Q_JSON_ALLOW_NONFINITE: Infinity, -Infinity, NaN; duplicate
   keys, node names included, are errors); a root object with only the keys
   NumSamples (integer >= 0), GlobalRank and LocalRank (integer or null),
   Mode ("DynamicRange" or "Scale", exact case; "Shape" is
   FP8Q_ERR_UNSUPPORTED) and Nodes (object), Mode and Nodes required, any
   order; nodes with only "inputs" (required), "outputs", "params" (an
   object; each member an entry or, in Scale files, a dict of entries).
   DynamicRange entries must be non-empty rectangular [[...], ...] arrays of
   numbers; Scale entries a number or a non-empty 1-D or rectangular 2-D
   array of numbers. Integer literals stay integers (written back without
   ".0"); one beyond +-2^53 is FP8Q_ERR_LIMIT (a double cannot hold it).
   Errors name the node and key and give the line and column, e.g.
     node 'model.layers.0.attn.qkv': "inputs"[0]: expected an array of
     channels ([[v], ...]), got a number at line 7, column 17 (byte 130)

   Key order (top level and nodes) and which keys were present are kept,
   so that writing reproduces the file. Names are UTF-8 (JSON escapes
   resolved). Every pointer in these structures is owned by the structure
   and freed by fp8q_inc_measure_free / fp8q_inc_node_free; callers may
   edit values in place, replace malloc'd members, or build structures
   themselves (fp8q_inc_measure_init, fp8q_inc_measure_add_node). */
typedef enum fp8q_inc_measure_mode {
    FP8Q_INC_MEASURE_DYNAMIC_RANGE = 0, /* "DynamicRange": measurements */
    FP8Q_INC_MEASURE_SCALE = 1          /* "Scale": scales */
} fp8q_inc_measure_mode;

/* One entry: rank 0 a plain number (Scale files), rank 1 [v0, v1, ...]
   (1 x cols), rank 2 [[...], [...]] (rows x cols, row-major). */
typedef struct fp8q_inc_entry {
    int rank;             /* 0, 1 or 2 */
    size_t rows, cols;    /* rank 0: 1 x 1; rank 1: 1 x cols */
    double *v;            /* rows * cols values (malloc'd) */
    unsigned char *isint; /* NULL, or rows * cols flags: 1 = written as an integer literal (malloc'd) */
} fp8q_inc_entry;

/* One member of a node's "params" (INC writes only "weight"). */
typedef struct fp8q_inc_param {
    char *name;              /* "weight" */
    int is_dict;             /* 0: entries[0] is the value; 1: {"<keys[i]>": entries[i], ...} (Scale files, PCS) */
    size_t count;            /* dict members (1 when !is_dict) */
    char **keys;             /* dict keys, NULL when !is_dict */
    fp8q_inc_entry *entries; /* count entries */
} fp8q_inc_param;

typedef struct fp8q_inc_node {
    char *name; /* module name, e.g. "model.layers.0.self_attn.qkv_proj" */
    int has_inputs, has_outputs, has_params;
    size_t n_inputs, n_outputs, n_params;
    fp8q_inc_entry *inputs, *outputs;
    fp8q_inc_param *params;
    char order[4]; /* present keys in file order: 'i' inputs, 'o' outputs, 'p' params ("iop" for INC);
                      keys missing from it are written after it in that canonical order */
} fp8q_inc_node;

typedef struct fp8q_inc_measure {
    fp8q_inc_measure_mode mode;
    int has_num_samples;
    int64_t num_samples;
    int has_global_rank, global_rank_null; /* present; null */
    int64_t global_rank;
    int has_local_rank, local_rank_null;
    int64_t local_rank;
    char order[6];             /* top-level keys in file order: 'n' NumSamples, 'g' GlobalRank, 'l' LocalRank, 'm' Mode,
                                  'N' Nodes; present keys missing from it are written after it in this order */
    fp8q_inc_node *nodes;      /* in file order */
    size_t n_nodes, cap_nodes; /* nodes used, allocated (fp8q_inc_measure_add_node grows it) */
} fp8q_inc_measure;

#ifndef FP8Q_MAX_MEASURE_SIZE
#define FP8Q_MAX_MEASURE_SIZE 2147483647 /* largest measurement / scale file fp8q_inc_measure_load reads (bytes) */
#endif

/* An empty structure of the given mode with "GlobalRank": null,
   "LocalRank": null, as INC's save_file writes them (set has_num_samples,
   local_rank, ... as needed). */
FP8QDEF void fp8q_inc_measure_init(fp8q_inc_measure *m, fp8q_inc_measure_mode mode);

/* Parses text[0, len) (see above). On failure *m is empty (safe to free)
   and err says what and where. FP8Q_ERR_PARSE, FP8Q_ERR_LIMIT (nesting
   deeper than FP8Q_MAX_JSON_DEPTH, integers out of range),
   FP8Q_ERR_UNSUPPORTED (Mode "Shape"), FP8Q_ERR_NOMEM, FP8Q_ERR_ARG. */
FP8QDEF fp8q_result fp8q_inc_measure_parse(fp8q_inc_measure *m, const char *text, size_t len, fp8q_error *err);
/* Reads and parses the file (at most FP8Q_MAX_MEASURE_SIZE bytes); the
   message starts with the path. FP8Q_ERR_IO when it cannot be read. */
FP8QDEF fp8q_result fp8q_inc_measure_load(fp8q_inc_measure *m, const char *path, fp8q_error *err);

/* Which device a measurement or scale file was computed for, from the
   evidence fp8q can see (INC's files do not record it):
   - the path: the innermost directory named g2/g3/gaudi2/gaudi3 (any case;
     VHE's calibrate_model.sh writes <out>/<model>/<g2|g3>/inc_output_...),
     else a file name holding "gaudi2"/"gaudi3" or "g2"/"g3" as a word
     (delimited by non-alphanumerics);
   - a Scale file (m not NULL) whose activation scales are HW-aligned by
     cfg's default method (MAXABS_HW...) but outside Gaudi2's set {16, 1,
     1/16, 1/256}: Gaudi3 (its set 2^7 ... 2^-55 holds Gaudi2's, so the
     other direction cannot be seen in the values).
   Returns FP8Q_GAUDI2 or FP8Q_GAUDI3 and a short reason in why (may be
   NULL), or 0 when nothing tells. */
FP8QDEF int fp8q_inc_file_device(const char *path, const fp8q_inc_measure *m, const fp8q_inc_config *cfg, char *why,
                                 size_t why_cap);

/* Refuses (FP8Q_ERR_UNSUPPORTED, message naming the file, the evidence and
   both devices) a measurement or scale file that fp8q_inc_file_device says
   was computed for another device than the one the scales are for
   (cfg->device_for_scales when set, else device): INC.md 9.7, scales are
   device-specific (fullscale 240 vs 448, HW set) and measurements should
   come from the serving device. Files with no evidence pass. Callers offer
   an override (fp8q's CLI: --allow-other-device). */
FP8QDEF fp8q_result fp8q_inc_check_file_device(const char *path, const fp8q_inc_measure *m, const fp8q_inc_config *cfg,
                                               fp8q_gaudi device, fp8q_error *err);
/* The node called name, or NULL. A linear scan (O(nodes)). */
FP8QDEF fp8q_inc_node *fp8q_inc_measure_find(const fp8q_inc_measure *m, const char *name);
/* Appends *node, taking ownership of everything it points to (*node is
   zeroed); FP8Q_ERR_ARG for a NULL name, FP8Q_ERR_NOMEM (nothing taken).
   O(1): duplicate names are not checked here; fp8q_inc_measure_write
   rejects them. */
FP8QDEF fp8q_result fp8q_inc_measure_add_node(fp8q_inc_measure *m, fp8q_inc_node *node, fp8q_error *err);
FP8QDEF void fp8q_inc_node_free(fp8q_inc_node *node);
/* Frees everything and zeroes *m; NULL and empty structures are fine. */
FP8QDEF void fp8q_inc_measure_free(fp8q_inc_measure *m);

/* The text Python's json.dump(obj, f, indent=indent) writes for the file,
   byte for byte: indent 4 is INC's own files (and VHE's unified files);
   FP8Q_INC_INDENT_NONE is json.dump(obj, f) as the step-3 post-processing
   scripts write it (one line, ", " and ": "). With an indent: each item on
   its own line, indented by indent spaces per level, "," at line ends, ": "
   after keys, empty containers as [] and {}; no trailing newline. Numbers:
   integer literals as integers; floats as Python's repr (the shortest
   digits that read back to the same double, nearest first; exponent form
   when the decimal exponent is < -4 or >= 16: 2.640625, 113279762432.0,
   1e-05, 1.5e+16, 0.0, -0.0); Infinity, -Infinity, NaN (sign dropped).
   Strings as ensure_ascii: \" \\ \n \r \t \b \f, other bytes below 0x20,
   0x7F and non-ASCII as \uXXXX (lowercase hex, surrogate pairs).
   Independent of the C locale. FP8Q_ERR_ARG for names that are not UTF-8
   or inconsistent entries. indent: FP8Q_INC_INDENT_NONE or 0..64. */
#define FP8Q_INC_INDENT_NONE (-1)
FP8QDEF fp8q_result fp8q_inc_measure_write(const char *path, const fp8q_inc_measure *m, int indent, fp8q_error *err);
/* The same in memory: *out is malloc'd (free it with free()), NUL-terminated, *out_len bytes. */
FP8QDEF fp8q_result fp8q_inc_measure_write_mem(char **out, size_t *out_len, const fp8q_inc_measure *m, int indent,
                                               fp8q_error *err);

/* Calibration step 3 (INC.md 7): makes the attention matmuls requantize
   K and V with the KV cache's scale, so that the second rounding in decode
   is lossless (INC.md 4.2). For every node named P.matmul_qk:
   inputs[1] := P.k_cache's inputs[0]; for P.matmul_av: inputs[1] :=
   P.v_cache's inputs[0] (P is everything before the last '.', e.g.
   "model.layers.0.self_attn.attn.impl"); a copy, in measurement and scale
   files alike. Pairs whose source node is absent are left alone (INC's
   script would write null into the matmul, or fail with KeyError); a
   matmul with fewer than 2 inputs, or a cache node without inputs, is
   FP8Q_ERR_PARSE.
   Matching: INC's fq/scripts/postprocessing_vllm_measurements.py (and
   VHE's step-3 script) match "model.layers.<i>.self_attn.attn.impl.<op>"
   as a substring for i in 0 .. len(Nodes)-1 and write to exactly that key;
   VHE's newer script uses exact keys "model.layers.<i>.self_attn.<attn>
   .impl.<op>" with <attn> "attn" (or "mla_attn" with -d). Both therefore
   do nothing on gpt-oss-style names ("model.layers.0.attn.attn.impl.*").
   fp8q pairs by the common prefix P instead: the same result on every name
   those scripts handle, and it also covers other prefixes (unconfirmed
   that vLLM-Gaudi needs them; INC's own loaders only read the NPZ).
   flags:
     FP8Q_INC_KV_STRICT  only names exactly "model.layers.<i>.self_attn.attn
                         .impl.<op>" (<i> decimal), INC's script's names.
     FP8Q_INC_KV_MLA     MLA (VHE -d): both matmuls take P.latent_cache_k's
                         inputs[0] (there is one latent cache).
     FP8Q_INC_KV_FSDPA   also VHE PR #367: for X.attn.impl.fused_scaled_dot_
                         product_attention, outputs[0] := X.o_proj's
                         inputs[0] (derived from INC.md 7; VHE's exact name
                         list is unconfirmed: only the "o_proj" alias).
   *n_changed (if not NULL) gets the number of entries whose value changed. */
#define FP8Q_INC_KV_STRICT 1
#define FP8Q_INC_KV_MLA    2
#define FP8Q_INC_KV_FSDPA  4
FP8QDEF fp8q_result fp8q_inc_postprocess_kv(fp8q_inc_measure *m, int flags, size_t *n_changed, fp8q_error *err);

/* Calibration step 5 (INC.md 7; VHE/VG step-5-unify_measurements.py -r R):
   in[0 .. world-1] are the files of ranks 0 .. world-1 (one kind: all
   measurements or all scales). Requires 1 <= R < world and world % R == 0,
   else FP8Q_ERR_ARG. Group g holds the contiguous ranks g*world/R ..
   (g+1)*world/R - 1; out[g] (R structures, each initialised here) is a copy
   of the group's first file with LocalRank = g (-1 when R == 1; appended
   as the last key if the file had none) and every value of every input,
   output and params entry replaced by the element-wise maximum over the
   group, in rank order as Python's max(file, running): running = running
   > v ? running : v (so a NaN in a later file wins, a NaN running value is
   replaced). Every file must have the same mode, the same node names (any
   order) and the same entry shapes: FP8Q_ERR_PARSE naming the rank, node
   and key otherwise. Deviations from the script: it maxes only channel 0
   of each output entry and takes Python's lexicographic list max for scale
   files (fp8q: element-wise everywhere, as INC.md 7 states); it ignores
   nodes missing from the first file and extra channels (fp8q: errors);
   expert-parallel renaming (-u) is not implemented. On failure every
   out[g] is empty (out is not touched when world or R is invalid). */
FP8QDEF fp8q_result fp8q_inc_unify(const fp8q_inc_measure *const in[], int world, int R, fp8q_inc_measure out[],
                                   fp8q_error *err);

/* ----------------------------------------------------- INC scale math */

/* Activation scale of a static method from a measurement entry (INC.md
   3.3-3.5; INC MaxAbsPts.calc_scale_from_measurement): every value is
   converted to BF16 as torch.tensor(values, dtype=bfloat16) does (double
   -> float -> bfloat16, both RNE), max() is taken (NaN propagates), then
   s = bf16(max / D) with D = float(fullscale * backoff) (torch divides a
   BF16 tensor by a Python float in float32: D is not rounded to BF16; for
   INC's backoffs 0.25, 0.5, 1 D is 60, 120, 240 / 112, 224, 448, equal to
   fp8q_inc_scale's BF16 divisor), and the rounding of cfg (fp8q_inc_scale's
   rules: log2 rounded to BF16; a negative maxabs gives NaN under POW2 and
   HW_ALIGNED, as torch.log2 does). FIXED_VALUE gives 1 (UNIT) or 16 / 128
   (HW_ALIGNED_FIXED) without reading e (may be NULL). FP8Q_ERR_ARG for a
   NULL or empty entry or a bad device; FP8Q_ERR_UNSUPPORTED for PCS
   (dynamic per-token: fp8q_inc_token_scales) and OPT activations. */
FP8QDEF fp8q_result fp8q_inc_act_scale(float *scale, const fp8q_inc_entry *e, const fp8q_inc_scale_cfg *cfg,
                                       fp8q_gaudi device);

/* Weight scales of cfg for the weight W[rows][cols] (rows = output
   channels), as INC computes them from the actual weight at quantize time
   (INC.md 3.4-3.6, 4.2). W is taken as INC holds it: each element rounded
   to BF16 (RNE) first. scales gets 1 value (PTS) or rows values (PCS).
     FIXED_VALUE  1 (UNIT) or 16 / 128 (HW_ALIGNED_FIXED).
     MAXABS PTS   s = round(bf16(max|W| / D))  (D as above)
                  (max|W| propagates NaN, as torch.max).
     MAXABS PCS   per row: bf16(max|W[o,:]| / D),
                  floored at BF16 tiny 2^-126 (INC MaxAbsPcs; NaN stays
                  NaN), then rounded: a zero row gives 2^-126 under POW2.
     OPT PTS      (INC fp_utils.mmse_scale) for each candidate c in order:
                  MAXABS_HW_OPT_WEIGHT the HW set of device (Gaudi2 16, 1,
                  1/16, 1/256; Gaudi3 2^7 ... 2^-55), MAXABS_POW2_OPT_WEIGHT
                  2^-10 ... 2^9:
                    y = bf16(w / c); q = fp8(y); d = bf16(w - bf16(q * c))
                    err = bf16(sqrt(sum d^2))       (torch.norm of BF16)
                  keep c when err <= best (the later candidate wins ties);
                  then round(c). No candidate kept (NaN errors): NaN.
     OPT PCS      (INC OptScalesPcs / mmse_scale_multi) reference r_o = the
                  MAXABS PCS POW2 scale of row o (backoff 0.5); for each
                  multiplier m = 2^-3 ... 2^4, with c = bf16(m * r_o):
                    y, q, d as above per element;
                    err_o = bf16(sum_i bf16(d_i^2))  ((x - y)**2 in BF16, then sum)
                  keep m only when err_o < best (the smallest m wins ties);
                  result POW2(bf16(m * r_o)); none kept: NaN.
   fp8(): INC's cast_to_fp8_v2 to float8_e4m3fn on the device, emulated as
   GAUDI.md 3's host reference: RNE, saturating to +-240 on Gaudi2 (fp8_143
   bias 7: the OCP E4M3 bytes up to 240, GAUDI.md 1.2) and +-448 on Gaudi3
   (PTB test_cast_to_fp8_v2_out_of_range, GAUDI.md 3), subnormals kept, NaN
   stays NaN; +-Inf inputs are clamped to +-max (unconfirmed: GAUDI.md 2
   says the legacy converter keeps Inf). That the device convert equals
   this for every input is unconfirmed (GAUDI.md 9), as is Gaudi3's inf/NaN
   mode. Errors: INC computes them on the device in BF16; fp8q rounds every
   element-wise step to BF16 as torch does on BF16 tensors and accumulates
   the sums in double, index order, then rounds the total (after sqrt for
   PTS) to float and then to BF16, as torch's CPU float32 accumulation
   followed by the BF16 result (equal except when a float32 partial sum
   rounds across a BF16 rounding boundary). The device's reduction order,
   and so which candidate wins a near-tie, is unconfirmed (INC.md 3.6, 10).
   FP8Q_ERR_ARG (NULL, rows or cols 0, bad device), FP8Q_ERR_UNSUPPORTED
   (OPT with a rounding no predefined method pairs with it and no
   candidates given, DUMMY_SCALES).
   candidates (OPT only; NULL: the method's own list above): the dict
   form's "params": {"weight_scales": [...]} (fp8q_inc_scale_entry's
   weight_scales), absolute scales for PTS (used as float, as torch divides
   by a Python float) or multipliers for PCS (rounded to BF16 first, as
   torch.ones(n, bfloat16) * s does). */
FP8QDEF fp8q_result fp8q_inc_weight_scales(float *scales, const float *w, size_t rows, size_t cols,
                                           const fp8q_inc_scale_cfg *cfg, const double *candidates, size_t n_candidates,
                                           fp8q_gaudi device, fp8q_error *err);

/* Dynamic per-token activation scales (INC.md 3.8; INC MaxAbsDynamicPcs):
   for each row t of x[rows][cols] (each element rounded to BF16 first),
   scales[t] = round(max(bf16(max|x[t,:]| / D), 2^-126)) with D =
   float(fullscale * backoff), NaN propagating, with cfg's rounding (POW2
   in the predefined methods) and cfg's backoff. fp8q's method table uses
   0.5 (INC.md 3.4); note that INC's ScaleMethodFactory (the versions read)
   passes backoff 1.0 for dynamic scales, and that on the device the scale
   may come from a fused calculate_scale_for_cast kernel whose rounding is
   unconfirmed. FP8Q_ERR_ARG (NULL, cols 0, bad device),
   FP8Q_ERR_UNSUPPORTED (not MAXABS). */
FP8QDEF fp8q_result fp8q_inc_token_scales(float *scales, const float *x, size_t rows, size_t cols,
                                          const fp8q_inc_scale_cfg *cfg, fp8q_gaudi device);

/* The op types of fp8q's Llama (INC.md 4.1/4.2; INC ops_quantizer.py). */
typedef enum fp8q_inc_op {
    FP8Q_INC_OP_LINEAR = 0,   /* Linear, QKV/MergedColumn/RowParallelLinear, ParallelLMHead */
    FP8Q_INC_OP_MATMUL = 1,   /* Matmul (matmul_qk, matmul_av) */
    FP8Q_INC_OP_KV_CACHE = 2, /* VLLMKVCache (k_cache, v_cache) */
    FP8Q_INC_OP_SOFTMAX = 3,  /* Softmax */
    /* ops of other models, for scale files from any measurement file (INC.md 4.2):
       DYNAMIC_MOE  VllmMixtureOfExpertsOp: inputs [s_h, s_0 .. s_{E-1}] from inputs[0] and the
                    experts' intermediate outputs[1 + e]; outputs [s_out] from outputs[0]
       FUSED_SDPA   ModuleFusedSDPA: inputs [s_q, s_k, s_v, s_amax] from inputs[0..2] and
                    outputs[1] (the softmax amax); outputs [s_o] from outputs[0] */
    FP8Q_INC_OP_DYNAMIC_MOE = 4,
    FP8Q_INC_OP_FUSED_SDPA = 5
} fp8q_inc_op;

#define FP8Q_INC_IGNORE_MISSING 1 /* ignore_modules_wo_measures: a module without measurements stays BF16 */

/* Builds the Scale-file node INC writes for module name of type op under a
   static method (its weight and activation configurations: &m->weight,
   &m->activation of a predefined method, or an fp8q_inc_scale_entry's), on
   device, from its measurement node meas (NULL when the module has none)
   and, for linear ops, its weight scales w_scales (from
   fp8q_inc_weight_scales: 1 value, or out_features values for PCS;
   in_features is needed for PCS only). The node has "inputs", "outputs",
   "params" in that order (INC ModuleConfig), values as float32 widened:
     linear      inputs [s_x] (s_x from meas inputs[0]); params {"weight": s_w};
                 outputs [bf16(s_w * s_x)]. OPT PTS weights are 1-element
                 tensors in INC: "weight": [s_w], outputs [[s_w * s_x]]
                 (float32 product). PCS: "weight": {"0": [s_w per row],
                 "1": [1.0 x in_features]}, outputs [[bf16(s_w[o] * s_x)...]].
                 FIXED_VALUE methods: the output is the fixed value too (INC's
                 factory picks FixedScale before MulAdditionalScales).
     matmul      inputs [s0, s1] from inputs[0], inputs[1]; outputs
                 [bf16(s0 * s1)]; params {}.
     kv_cache    inputs [s] from inputs[0]; outputs [s]; params {}.
     softmax     inputs []; outputs [s] from outputs[0]; params {}.
   Methods with FIXED_VALUE activations need no measurements. Otherwise a
   missing meas fails with INC's text (INC.md 6) "Error - Layer '<name>' was
   called but was not quantized because no measures were supplied."
   (FP8Q_ERR_PARSE), unless flags has FP8Q_INC_IGNORE_MISSING: then FP8Q_OK
   and *out is left empty (out->name NULL: the module stays BF16). A meas
   lacking the entry an op reads is FP8Q_ERR_PARSE naming node and key.
   Dynamic methods (per-token activations: activation granularity PCS) have
   no scale-file node: FP8Q_ERR_UNSUPPORTED.
   Free *out with fp8q_inc_node_free (or move it into a measure with
   fp8q_inc_measure_add_node). */
FP8QDEF fp8q_result fp8q_inc_node_scales(fp8q_inc_node *out, const char *name, fp8q_inc_op op,
                                         const fp8q_inc_node *meas, const float *w_scales, size_t n_w_scales,
                                         size_t in_features, const fp8q_inc_scale_cfg *weight,
                                         const fp8q_inc_scale_cfg *activation, fp8q_gaudi device, int flags,
                                         fp8q_error *err);

/* ------------------------------------------------ INC MEASURE on the model */
/* INC's MEASURE flow (INC.md 6) on fp8q's Llama: runs the calibration
   sequences (n_seq of seq_len tokens, each from position 0) through the
   float model m (load it with quant "none") and records, per module that
   cfg selects (fp8q_inc_should_quantize with the vLLM names and classes of
   fp8q_inc_module_name), the running maximum of |x| of every input, of the
   outputs where INC always measures them (RowParallelLinear: o_proj,
   down_proj; Softmax) or measure_exclude asks for them, and max|W| of the
   weights once (q/k/v and gate/up as the fused modules vLLM has). Values
   are rounded to bfloat16 as INC's BF16 statistics hold them; NaN
   propagates as torch.maximum does; the masked softmax input measures
   Infinity as on Gaudi. Observer "maxabs" gives [[v]] entries,
   "maxabs_per_channel" one value per channel of the last dimension (weights:
   per output row). RowParallelLinear's second output (uninitialised memory
   at TP=1 on Gaudi) is recorded equal to the first, the all-reduce of one
   rank. Nodes are in vLLM's module order: per layer qkv_proj, o_proj,
   matmul_qk, softmax, matmul_av, k_cache, v_cache, gate_up_proj, down_proj;
   lm_head last. LocalRank = rank (null when rank < 0). *out must be empty;
   on failure it is left empty. cfg->observer other than the two above:
   FP8Q_ERR_UNSUPPORTED. */
FP8QDEF fp8q_result fp8q_inc_measure_model(fp8q_inc_measure *out, const fp8q_model *m, const fp8q_inc_config *cfg,
                                           const int32_t *tokens, int n_seq, int seq_len, int rank, fp8q_error *err);

/* The "_mod_list.json" INC writes beside a measurement: the node names as
   a JSON array, json.dump(names, f, indent=4). */
FP8QDEF fp8q_result fp8q_inc_write_mod_list(const char *path, const fp8q_inc_measure *m, fp8q_error *err);

/* INC's QUANTIZE on fp8q's Llama (INC.md 4.2, 6): m must be loaded with
   quant "none" from a float checkpoint. For every module cfg selects
   (vLLM's names, fp8q_inc_module_name) scales come from its measurement
   node in meas (INC's or fp8q's file) and the method cfg gives it
   (fp8q_inc_config_scale_cfg), on device:
     linear (qkv_proj, o_proj, gate_up_proj, down_proj, lm_head): the input
       is quantized statically with s_x from inputs[0]; the weight scale
       comes from the actual weight (BF16, the fused q/k/v or gate/up
       parameter as one tensor; per tensor or per output row) and the
       weight is replaced by its FP8 codes; y = (x8 . W8) * s_x * s_w.
     k_cache / v_cache: the KV cache becomes FP8 (fp8_inc) with s from
       inputs[0]; a cache cfg does not select keeps scale 1.0 (as fp8_inc
       without QUANT_CONFIG; INC.md 9.13).
     matmul_qk / matmul_av: both inputs cast with their own scales
       (inputs[0], inputs[1]); softmax: its output cast with s from
       outputs[0] and taken back (INC's kernel gets 1/s; where the
       dequantization happens is unconfirmed).
   Every cast is INC's cast_to_fp8_v2: q = cast(clamp(x * (1/s),
   +-fullscale)), RNE, E4M3 (fullscale 240 on Gaudi2, whose E4M3 grid below
   240 is OCP E4M3's, 448 on Gaudi3; GAUDI.md). GEMM outputs stay float32
   (INC: hp_dtype BF16). A selected module without measurements is INC's
   error "Error - Layer '<name>' was called but was not quantized because
   no measures were supplied." unless cfg->ignore_modules_wo_measures (then
   it stays float). scales, if not NULL, receives the Scale-mode file INC
   writes for these modules (must be empty). Methods with FIXED_VALUE
   activations (UNIT_SCALE, HW_ALIGNED_SINGLE_SCALE) need no measurements.
   meas may be NULL when nothing needs it. dynamic_quantization: only the linear layers are
   quantized, inputs with per-token scales by INC's rule
   (fp8q_inc_token_scales) at every call, weights as above; attention ops
   stay float (fp8q has no dynamic versions of them) and no scale file is
   written. Not yet supported: fp8_config E5M2 (FP8Q_ERR_UNSUPPORTED). */
FP8QDEF fp8q_result fp8q_model_apply_inc(fp8q_model *m, const fp8q_inc_config *cfg, const fp8q_inc_measure *meas,
                                         fp8q_gaudi device, fp8q_inc_measure *scales, fp8q_error *err);

/* --------------------------------------------------------------- backends */

/* A backend runs fp8q operations on an accelerator behind the same
   definitions as the CPU code. The CPU is always there (backend NULL); the
   others come from companion translation units linked in by the
   application: fp8q_cuda.cu (fp8q_cuda_open) and fp8q_hpu.c
   (fp8q_hpu_open; both always extern, also under FP8Q_STATIC). Each open
   function returns FP8Q_ERR_DEVICE with the runtime's message when its
   runtime or device is missing, so the caller can go on with the CPU.

   The dispatchers below run an operation on the backend when it has it for
   these arguments, else on the CPU, and say in *ran (if not NULL) which one
   ran. A backend declines with FP8Q_ERR_UNSUPPORTED (e.g. a scale
   granularity its GEMM lacks); any other error is returned as is, unless
   the backend's flags have FP8Q_BACKEND_FALLBACK_ON_ERROR.

   Numerics: a CUDA result equals the CPU's bit for bit for conversions and
   is within fp8q_gemm_tolerance of FP8Q_GEMM_EXACT for GEMMs. A Gaudi device
   computes with Gaudi numerics (the fp8q_gaudi_* functions; e.g. Gaudi2's
   E4M3 saturates at 240), which the HPU backend documents per operation.

   A backend object is used by one thread at a time. */
typedef enum fp8q_backend_kind { FP8Q_BACKEND_CPU = 0, FP8Q_BACKEND_CUDA = 1, FP8Q_BACKEND_HPU = 2 } fp8q_backend_kind;

#define FP8Q_BACKEND_FALLBACK_ON_ERROR 1 /* fp8q_backend.flags: a failed device operation reruns on the CPU */

typedef struct fp8q_backend fp8q_backend;
struct fp8q_backend {
    fp8q_backend_kind kind;
    const char *name; /* "cpu", "cuda", "hpu" */
    char device[96];  /* the device, e.g. "NVIDIA H100 80GB HBM3", "Gaudi2" */
    int flags;        /* FP8Q_BACKEND_* */
    void *impl;       /* the backend's own state */
    /* Operations, with the arguments of the CPU functions named at the
       dispatchers below; a NULL entry means the CPU does it. */
    fp8q_result (*encode)(fp8q_backend *b, uint8_t *dst, const void *src, fp8q_dtype src_type, size_t n,
                          fp8q_format fmt, fp8q_saturation sat, fp8q_scale_op op, float scale, fp8q_error *err);
    fp8q_result (*quantize)(fp8q_backend *b, uint8_t *q, float *scales, const float *x, size_t rows, size_t cols,
                            const fp8q_recipe *r, int dynamic, fp8q_error *err);
    fp8q_result (*gemm)(fp8q_backend *b, const fp8q_gemm *g, fp8q_gemm_mode mode, fp8q_error *err);
    void (*close)(fp8q_backend *b); /* frees the device memory and the object */
};

/* fp8q_encode_f32 / _f16 / _bf16 (src_type FP8Q_F32, FP8Q_F16, FP8Q_BF16). */
FP8QDEF fp8q_result fp8q_backend_encode(fp8q_backend *b, uint8_t *dst, const void *src, fp8q_dtype src_type, size_t n,
                                        fp8q_format fmt, fp8q_saturation sat, fp8q_scale_op op, float scale,
                                        fp8q_backend_kind *ran, fp8q_error *err);
/* Fused quantization of x [rows][cols] with recipe r: dynamic != 0 computes
   the scales first (fp8q_compute_scales into scales, then fp8q_quantize:
   amax, scale and cast in one pass on a device); dynamic == 0 uses the
   given static scales (fp8q_quantize). */
FP8QDEF fp8q_result fp8q_backend_quantize(fp8q_backend *b, uint8_t *q, float *scales, const float *x, size_t rows,
                                          size_t cols, const fp8q_recipe *r, int dynamic, fp8q_backend_kind *ran,
                                          fp8q_error *err);
/* fp8q_gemm_run. */
FP8QDEF fp8q_result fp8q_backend_gemm(fp8q_backend *b, const fp8q_gemm *g, fp8q_gemm_mode mode, fp8q_backend_kind *ran,
                                      fp8q_error *err);
/* "cpu", "cuda" or "hpu". */
FP8QDEF const char *fp8q_backend_kind_name(fp8q_backend_kind kind);
/* Closes b (NULL is allowed). */
FP8QDEF void fp8q_backend_close(fp8q_backend *b);

/* NVIDIA GPUs through the CUDA runtime and cuBLASLt (fp8q_cuda.cu, built
   with nvcc and linked with -lcudart -lcublasLt). device: the CUDA device
   ordinal. */
extern fp8q_result fp8q_cuda_open(fp8q_backend **out, int device, fp8q_error *err);

/* Intel Gaudi through the Synapse runtime, loaded at run time (fp8q_hpu.c;
   link with -ldl on older glibc). library NULL: $FP8Q_SYNAPSE_LIBRARY, else
   "libSynapse.so", else "/usr/lib/habanalabs/libSynapse.so". */
typedef struct fp8q_hpu_options {
    const char *library;
    int device; /* 0: the first device; FP8Q_GAUDI2 or FP8Q_GAUDI3: one of that type */
} fp8q_hpu_options;
extern fp8q_result fp8q_hpu_open(fp8q_backend **out, const fp8q_hpu_options *opt, fp8q_error *err);

/* ------------------------------------------------------------------- GGUF */
/* GGUF, llama.cpp's model file (ggml/include/gguf.h, docs/gguf.md), version
   2 or 3, little-endian:

     "GGUF" u32 version  u64 n_tensors  u64 n_kv
     n_kv x      { string key, u32 value type, value }
     n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset }
     padding to general.alignment (default 32), then the data section

   A string is a u64 byte length and the bytes (no NUL). An ARRAY value is a
   u32 element type, a u64 count and the elements. ne[0] is the fastest
   dimension: a PyTorch [out][in] weight is stored as ne = {in, out}, bytes
   row-major [out][in], so HF's layout needs no transposition.

   WHAT THE READER VALIDATES (every file is untrusted; the checks of ggml's
   reader, ggml/src/gguf.cpp gguf_init_from_file_impl, and more). FP8Q_ERR_PARSE
   unless said otherwise:
     - the magic "GGUF"; version 2 or 3 (version 1, with 32-bit counts and
       lengths, is FP8Q_ERR_UNSUPPORTED, as llama.cpp refuses it; so are
       versions above 3 and big-endian files, whose version reads as
       0x03000000);
     - n_kv <= FP8Q_MAX_GGUF_KV and n_tensors <= FP8Q_MAX_TENSORS
       (FP8Q_ERR_LIMIT), and both must fit in the file at their smallest
       encoding (14 bytes per KV, 25 per tensor) before anything is
       allocated: a huge count in a small file is an error, not an
       allocation;
     - every length and count is checked against the bytes left, with
       overflow-checked arithmetic (a string, array or name that runs past
       the end of the file is an error naming it and its byte offset);
     - keys: 1 to 65535 bytes (docs/gguf.md), no NUL byte, no duplicates;
       value types 0..12; arrays of arrays are FP8Q_ERR_UNSUPPORTED (ggml's
       reader refuses them too); BOOL bytes must be 0 or 1;
     - "general.alignment", if present, is a UINT32 power of two between 1
       and FP8Q_GGUF_MAX_ALIGNMENT;
     - tensors: names of 0 to 63 bytes (ggml's GGML_MAX_NAME is 64 with the
       NUL; longer is FP8Q_ERR_LIMIT), no NUL byte, no duplicates; n_dims
       0..4; every ne[i] > 0 (a zero or negative dimension is an error) and
       their product < 2^63 (FP8Q_ERR_LIMIT); the ggml type known (else
       FP8Q_ERR_UNSUPPORTED: its size cannot be computed); ne[0] a multiple
       of the type's block size; nbytes computed with overflow checks;
     - the data section starts at the end of the tensor infos padded to the
       alignment; tensor offsets are as ggml's reader demands: in file order,
       each equal to the previous offset plus the previous nbytes padded to
       the alignment (so aligned, without overlap or gaps), and every tensor
       must end inside the file.
   Padding bytes are not inspected; string values are returned as stored
   (GGUF says UTF-8; not validated). Errors carry the byte offset in
   err->offset and a message naming the field, KV key or tensor, e.g.
   "tensor 'blk.0.attn_q.weight': offset 96 (at byte 1210) is not a multiple
   of the alignment 64". Memory: the KV and tensor tables, the keys and names,
   and one size_t per element of string arrays (each element takes at least
   8 bytes of the file), all sized after the counting pass; nothing is sized
   by an unchecked number. No recursion. */
#ifndef FP8Q_MAX_GGUF_KV
#define FP8Q_MAX_GGUF_KV 1000000 /* most metadata key-value pairs in one GGUF file */
#endif
#define FP8Q_GGUF_MAX_ALIGNMENT 1048576 /* largest general.alignment accepted */

/* Metadata value types, numbered as in the file (gguf_type). */
typedef enum fp8q_gguf_type {
    FP8Q_GGUF_UINT8 = 0,
    FP8Q_GGUF_INT8 = 1,
    FP8Q_GGUF_UINT16 = 2,
    FP8Q_GGUF_INT16 = 3,
    FP8Q_GGUF_UINT32 = 4,
    FP8Q_GGUF_INT32 = 5,
    FP8Q_GGUF_FLOAT32 = 6,
    FP8Q_GGUF_BOOL = 7, /* one byte, 0 or 1 */
    FP8Q_GGUF_STRING = 8,
    FP8Q_GGUF_ARRAY = 9,
    FP8Q_GGUF_UINT64 = 10,
    FP8Q_GGUF_INT64 = 11,
    FP8Q_GGUF_FLOAT64 = 12
} fp8q_gguf_type;

/* Tensor element types (ggml_type) that fp8q_gguf_read_f32 converts; every
   other type of ggml (Q4_K, IQ2_XXS, ...) is parsed and sized but not
   converted. fp8q_ggml_type_name names all of them. */
enum {
    FP8Q_GGML_F32 = 0,
    FP8Q_GGML_F16 = 1,
    FP8Q_GGML_Q4_0 = 2, /* blocks of 32: f16 d, 16 bytes of nibbles; x = (nibble - 8) * d */
    FP8Q_GGML_Q4_1 = 3, /* blocks of 32: f16 d, f16 m, 16 bytes of nibbles; x = nibble * d + m */
    FP8Q_GGML_Q8_0 = 8, /* blocks of 32: f16 d, 32 int8; x = q * d */
    FP8Q_GGML_BF16 = 30
};

/* "F32", "Q4_1", "IQ2_XXS", ... for a ggml type this reader knows (0..42
   without the removed 4, 5, 31..33, 36..38), else NULL. */
FP8QDEF const char *fp8q_ggml_type_name(uint32_t type);

/* One metadata pair. key is a NUL-terminated copy (key_len bytes) owned by
   the fp8q_gguf. data points into the file:
     scalar  the value's bytes (little-endian), count 1
     STRING  the string's bytes (not NUL-terminated), count = its length
     ARRAY   the first element, count = elements, array_type = their type
             (string elements: read them with fp8q_gguf_kv_array_string) */
typedef struct fp8q_gguf_kv {
    const char *key;
    size_t key_len;
    fp8q_gguf_type type;
    fp8q_gguf_type array_type; /* ARRAY only; else equal to type */
    uint64_t count;
    const uint8_t *data;
    const size_t *fp8q__offsets; /* internal: string arrays, byte offset of each element from data */
} fp8q_gguf_kv;

typedef struct fp8q_gguf_tensor {
    char *name; /* NUL-terminated copy, owned by the fp8q_gguf */
    int n_dims;
    uint64_t ne[4];  /* ggml order, ne[0] fastest; entries past n_dims are 1 */
    uint32_t type;   /* ggml_type */
    uint64_t offset; /* bytes from the start of the data section */
    uint64_t nbytes;
} fp8q_gguf_tensor;

typedef struct fp8q_gguf {
    uint32_t version;
    size_t n_kv;
    fp8q_gguf_kv *kv; /* in file order */
    size_t n_tensors;
    fp8q_gguf_tensor *tensors; /* in file order */
    size_t alignment;
    size_t data_offset;  /* where the data section starts in the file */
    const uint8_t *base; /* the whole file: the buffer given to parse, or the mapping */
    size_t size;
    void *fp8q__owned; /* internal: tables, strings, mapping */
} fp8q_gguf;

/* Parses and validates a GGUF file held in buf[0, len) (see above). buf is
   borrowed: it must outlive *g. On failure *g is zeroed (close is still
   safe). Returns FP8Q_OK, FP8Q_ERR_PARSE, FP8Q_ERR_LIMIT,
   FP8Q_ERR_UNSUPPORTED, FP8Q_ERR_NOMEM or FP8Q_ERR_ARG (g NULL, or buf NULL
   with len > 0). */
FP8QDEF fp8q_result fp8q_gguf_parse(fp8q_gguf *g, const void *buf, size_t len, fp8q_error *err);

/* Opens the file at path as fp8q_safetensors_open does: mapped read-only
   (POSIX, unless FP8Q_NO_MMAP), else read whole; directories, FIFOs (without
   blocking) and devices are refused with FP8Q_ERR_IO; messages start with
   the path. */
FP8QDEF fp8q_result fp8q_gguf_open(fp8q_gguf *g, const char *path, fp8q_error *err);

/* Frees and unmaps; zeroes *g. Safe on NULL, zeroed, failed and closed. */
FP8QDEF void fp8q_gguf_close(fp8q_gguf *g);

/* The pair whose key is exactly key, or NULL. O(log n). */
FP8QDEF const fp8q_gguf_kv *fp8q_gguf_find_kv(const fp8q_gguf *g, const char *key);

/* Value accessors; FP8Q_ERR_ARG for NULL arguments or a value of another
   type, and *out is written only on FP8Q_OK.
   _int: any integer type or BOOL (0/1); a UINT64 above INT64_MAX is
   FP8Q_ERR_LIMIT. _float: FLOAT32 (exact), FLOAT64, or an integer type
   (converted to the nearest double). _string: a STRING; *s points into the
   file, *len bytes, not NUL-terminated. */
FP8QDEF fp8q_result fp8q_gguf_kv_int(const fp8q_gguf_kv *kv, int64_t *out);
FP8QDEF fp8q_result fp8q_gguf_kv_float(const fp8q_gguf_kv *kv, double *out);
FP8QDEF fp8q_result fp8q_gguf_kv_string(const fp8q_gguf_kv *kv, const char **s, size_t *len);

/* Element i of an ARRAY of STRING, in O(1) (element offsets are computed
   at parse time); FP8Q_ERR_ARG when kv is not such an array or i >= count. */
FP8QDEF fp8q_result fp8q_gguf_kv_array_string(const fp8q_gguf_kv *kv, uint64_t i, const char **s, size_t *len);

/* Element i of an ARRAY of a number type (integers, BOOL, FLOAT32, FLOAT64)
   as a double (64-bit integers rounded to nearest). FP8Q_ERR_ARG otherwise. */
FP8QDEF fp8q_result fp8q_gguf_kv_array_number(const fp8q_gguf_kv *kv, uint64_t i, double *out);

/* The tensor named name (exact bytes), or NULL. O(log n). */
FP8QDEF const fp8q_gguf_tensor *fp8q_gguf_find_tensor(const fp8q_gguf *g, const char *name);

/* The first byte of t's data (t->nbytes bytes), or NULL when g or t is NULL
   or t does not lie inside g's file. */
FP8QDEF const uint8_t *fp8q_gguf_bytes(const fp8q_gguf *g, const fp8q_gguf_tensor *t);

/* Tensor t as float32 into dst[0, ne[0] * ne[1] * ne[2] * ne[3]), element
   order as stored (ne[0] fastest). Bit-exact with ggml's
   dequantize_row_* (ggml/src/ggml-quants.c) and gguf-py's
   gguf.quants.dequantize: half-precision d and m are widened exactly
   (fp8q_f16_to_f32), then
     F32   copied bit for bit        F16, BF16  widened exactly
     Q8_0  x = float(q) * d          Q4_0  x = float(nibble - 8) * d
     Q4_1  x = float(nibble) * d + m
   The products are exact in float32 (d has 11 significant bits, q at most
   8), so every value is one rounding of the exact result, whether or not a
   compiler contracts q * d + m into an FMA.
   Nibbles: byte j of a block's 16 holds element j in its low 4 bits and
   element j + 16 in its high 4 bits. Bytes are read little-endian one by
   one (big-endian hosts agree). Other types are FP8Q_ERR_UNSUPPORTED naming
   the type and the tensor; FP8Q_ERR_ARG for NULL arguments or a t that is
   not inside g; FP8Q_ERR_LIMIT when the element count exceeds size_t. */
FP8QDEF fp8q_result fp8q_gguf_read_f32(const fp8q_gguf *g, const fp8q_gguf_tensor *t, float *dst, fp8q_error *err);

/* The Llama configuration of a GGUF file with general.architecture "llama",
   the fields fp8q_llama_config_parse reads from config.json, as
   transformers' GGUF loader (integrations/ggml.py) maps them:
     llama.block_count                       num_hidden_layers      required
     llama.embedding_length                  hidden_size            required
     llama.feed_forward_length               intermediate_size      required
     llama.attention.head_count              num_attention_heads    required
     llama.attention.head_count_kv           num_key_value_heads    default: head_count
     llama.context_length                    max_position_embeddings default 2048
     llama.attention.layer_norm_rms_epsilon  rms_norm_eps           required (> 0)
     llama.rope.freq_base                    rope_theta             default 10000 (> 0)
     llama.attention.key_length              head_dim, else .value_length, else
                                             llama.rope.dimension_count, else
                                             embedding_length / head_count
     llama.vocab_size                        vocab_size, else the length of
                                             tokenizer.ggml.tokens, else ne[1] of
                                             token_embd.weight
   tie_word_embeddings = 1 when the file has no output.weight. Integers may
   have any integer type, floats FLOAT32/FLOAT64 (or an integer). The limits
   and consistency rules of fp8q_llama_config_parse apply (FP8Q_ERR_LIMIT /
   FP8Q_ERR_PARSE naming the key); token_embd.weight, when present, must
   have ne[1] == vocab_size. Refused with
   FP8Q_ERR_UNSUPPORTED, naming the key or tensor: another architecture;
   llama.expert_count > 0 (Mixtral); llama.rope.scaling.type other than
   "none", or llama.rope.scale_linear / llama.rope.scaling.factor other than
   1 (linear, YaRN); key_length != value_length; rope.dimension_count !=
   head_dim (partial rotary); a rope_freqs.weight tensor (llama3 scaling as
   per-frequency factors) with a factor other than 1, because config.json's
   rope_scaling parameters cannot be recovered from it uniquely.
   architecture is "LlamaForCausalLM"; torch_dtype "" (the file's types are
   per tensor). Messages start "GGUF: ". */
FP8QDEF fp8q_result fp8q_gguf_llama_config(const fp8q_gguf *g, fp8q_llama_config *cfg, fp8q_error *err);

/* Converts the Llama GGUF file at gguf_path into a Hugging Face checkpoint
   in the existing directory out_dir: config.json (as fp8q_write_random_llama
   writes it, from fp8q_gguf_llama_config; torch_dtype from dtype) and
   model.safetensors with dtype FP8Q_F32, FP8Q_BF16 or FP8Q_F16 (values from
   fp8q_gguf_read_f32, rounded to nearest even for BF16/F16), metadata
   {"format": "pt"}, streamed one tensor at a time (the GGUF stays mapped and
   each tensor's pages are released after use: peak memory is about one
   tensor in float32 plus its output bytes). Tensor names, HF order:
     token_embd.weight        model.embed_tokens.weight
     blk.N.attn_norm.weight   model.layers.N.input_layernorm.weight
     blk.N.ffn_norm.weight    model.layers.N.post_attention_layernorm.weight
     blk.N.attn_q / attn_k / attn_v / attn_output.weight
                              model.layers.N.self_attn.q_proj / k_proj / v_proj / o_proj.weight
     blk.N.ffn_gate / ffn_up / ffn_down.weight
                              model.layers.N.mlp.gate_proj / up_proj / down_proj.weight
     output_norm.weight       model.norm.weight
     output.weight            lm_head.weight (absent: tied embeddings)
   rope_freqs.weight (all factors 1) is dropped; any other tensor is
   FP8Q_ERR_UNSUPPORTED, a missing one or a wrong shape FP8Q_ERR_PARSE.
   Weights keep their bytes' order (ne = {in, out} is HF's [out][in]), except
   that the rows of q_proj and k_proj are un-permuted: llama.cpp's
   convert_hf_to_gguf.py (conversion/llama.py LlamaModel.permute) stores
     w.reshape(n_head, 2, rows / n_head / 2, cols).swapaxes(1, 2).reshape(rows, cols)
   with n_head = num_attention_heads for q and num_key_value_heads for k
   (interleaved RoPE pairs), so HF row h * hd + j * hd/2 + i is GGUF row
   h * hd + 2 * i + j (hd = rows / n_head, j in {0, 1}, i < hd/2).
   Tokenizer metadata (tokenizer.ggml.*) is not converted: read it with
   fp8q_gguf_find_kv / fp8q_gguf_kv_array_string (the hook for a tokenizer
   is marked in the implementation). Errors: those of fp8q_gguf_open and
   fp8q_gguf_llama_config, FP8Q_ERR_ARG (NULL, other dtype), FP8Q_ERR_IO for
   the output files (a partial model.safetensors is removed). */
FP8QDEF fp8q_result fp8q_gguf_to_hf(const char *gguf_path, const char *out_dir, fp8q_dtype dtype, fp8q_error *err);

/* ----------------------------------------------------------------- traces */
/* A trace records what every module of a model computed in its forward
   calls, as one safetensors file, so that two runs (two GEMM modes, two
   builds, fp8q and another engine) can be compared tensor by tensor with
   fp8q_diff. Set s.observer = fp8q_trace_observe, s.observer_ctx = &trace
   on the state, run fp8q_forward, then fp8q_trace_write.

   NAMES. Modules carry vLLM's names on Intel Gaudi (fp8q_inc_module_name):
   model.layers.N.self_attn.qkv_proj (q, k and v fused), ...o_proj,
   model.layers.N.mlp.gate_up_proj (gate and up fused), ...down_proj,
   lm_head, and the attention's model.layers.N.self_attn.attn.impl.k_cache,
   v_cache, matmul_qk, softmax, matmul_av. Forward call k >= 1 prefixes its
   activations with "step<k>." (the first call, e.g. the prompt, has no
   prefix; in generation call k is decode step k). For a module M:
     M.input.I        F32 input I [n][in] (n = the call's tokens)
     M.output.0       F32 output [n][out]; fused modules: the shards'
                      outputs side by side (q|k|v, gate|up), as vLLM's fused
                      GEMM writes them; q and k before RoPE
     M.input.0.scale  F32 the input's dequantization scales: [1] per tensor
                      (static or dynamic), [n] per token
     M.input.0.fp8    the FP8 codes made with them [n][in]: F8_E4M3 for a
                      W8A8 GEMM's input; k_cache/v_cache with an FP8 cache:
                      the codes stored (F8_E4M3 or F8_E5M2)
     M.weight.scale   F32, FP8 weights: [shards] per tensor, else one per
                      output row [out]; once, without step prefix
     M.weight.fp8     F8_E4M3 [out][in] weight codes (opt.weights only)
     M.input_scale    F32 static activation scales [shards] (per-tensor
                      static W8A8, INC), KV-cache scales [1] on k_cache and
                      v_cache when the cache is FP8, INC matmul_qk /
                      matmul_av input scales [2]; once
     M.output_scale   F32 [1]: INC's softmax output scale; once
   Attention internals (matmul_qk, softmax, matmul_av) stack the heads:
   [heads][n][len] and [heads][len][head_dim] (keys and values as read from
   the cache, per query head). k_cache/v_cache record input 0, the new rows
   (K after RoPE). A fused shard that quantized its input unlike the first
   shard (static scales without vLLM's fusing) adds M.<shard>.input.0.scale
   and .fp8 (e.g. qkv_proj.k_proj.input.0.scale); shards that mix FP8 and
   float weights record their weights as M.<shard>.weight.*. Tensors are
   written in forward order: step, layer, module, then parameters, inputs
   (float, scale, codes), output. The FP8 codes of the attention matmuls
   under INC are not recorded (their float inputs and outputs are).
   METADATA (__metadata__, strings): format "fp8q-trace-1", fp8q_version,
   simd, quant, scheme, kv_cache (auto, e4m3, e5m2, fp8_inc), engine, gemm,
   threads, layers, heads, steps, weights ("scales" or "codes"), then the
   caller's keys (the CLI adds command, checkpoint, tokens, and generated or
   batch). All data is little-endian on every host. The trace is held in
   memory until written (about 4 bytes per recorded element). */
typedef struct fp8q_trace_options {
    int weights; /* 1: also M.weight.fp8 (as big as the model's FP8 weights) */
} fp8q_trace_options;

typedef struct fp8q_trace {
    const fp8q_model *model;
    fp8q_trace_options opt;
    int steps;          /* forward calls seen */
    size_t n_tensors;   /* tensors recorded so far */
    uint64_t bytes;     /* their data */
    fp8q_result status; /* FP8Q_OK, or the first error while recording */
    fp8q_error error;   /* its message */
    void *fp8q__owned;  /* internal */
} fp8q_trace;

/* Starts an empty trace of model m (which must outlive it); opt may be
   NULL. FP8Q_ERR_ARG for NULL t or m, FP8Q_ERR_NOMEM. */
FP8QDEF fp8q_result fp8q_trace_init(fp8q_trace *t, const fp8q_model *m, const fp8q_trace_options *opt, fp8q_error *err);
/* The observer (ctx: the fp8q_trace). A forward call starts at layer 0's
   q_proj input. Errors (FP8Q_ERR_NOMEM; FP8Q_ERR_LIMIT: a size beyond
   size_t, more than FP8Q_MAX_TENSORS tensors; FP8Q_ERR_ARG: an observation
   that does not fit the model) stop the recording and are kept in
   t->status / t->error for fp8q_trace_write. */
FP8QDEF void fp8q_trace_observe(void *ctx, const fp8q_observation *o);
/* Writes the trace to path with the standard metadata and n_meta more
   key/value pairs (keys must not repeat the standard ones: FP8Q_ERR_ARG).
   Returns t->status first when recording failed; otherwise as
   fp8q_safetensors_write. */
FP8QDEF fp8q_result fp8q_trace_write(const fp8q_trace *t, const char *path, const char *const *meta_keys,
                                     const char *const *meta_values, size_t n_meta, fp8q_error *err);
FP8QDEF void fp8q_trace_free(fp8q_trace *t);

/* Where a trace tensor name sits in forward order, and its module: skips a
   "step<k>." prefix (*step = k, else 0) and the tensor suffix (.input.I,
   .output.I with optional .fp8 / .scale, .weight, .weight.fp8,
   .weight.scale, .input_scale, .output_scale); writes the module name
   snprintf-like into buf (the whole name without the prefix when no suffix
   matches) and returns its length. *layer: -1 for model.embed_tokens, N
   for model.layers.N..., FP8Q_TRACE_LAYER_END for model.norm, + 1 for
   lm_head, + 2 for other names. *rank: the module's place inside its
   layer (input_layernorm, qkv_proj / q_proj / k_proj / v_proj, k_cache,
   v_cache, matmul_qk, softmax, matmul_av, o_proj, self_attn,
   post_attention_layernorm, gate_up_proj / gate_proj, up_proj, act_fn,
   down_proj, mlp, the layer itself; unknown paths after them). Hugging
   Face's names (q_proj, ...) are ranked too, so hooks on a transformers
   model order the same way. Any pointer but name may be NULL. */
#define FP8Q_TRACE_LAYER_END (1 << 30)
FP8QDEF size_t fp8q_trace_module(const char *name, char *buf, size_t cap, int *step, int *layer, int *rank);

/* ------------------------------------------------------------------ diff */
/* fp8q_diff compares two safetensors files (traces or any other) tensor by
   tensor, by name: file A is the reference ("want"), B the run compared with
   it ("got"). Each name in both files is compared element by element with
   fp8q_compare_f32's metrics (max abs, max rel relative to |A|, max ULP in
   the tensor's own type: float32/bf16/f16 ULPs, for the 8-bit float types
   the distance in codes in their own value order, so 1 = the neighbouring
   FP8 value; F64 is compared after rounding to float32). A shape or dtype
   that differs is a mismatch (not compared); a name in one file only is a
   difference unless common_only. NaN equals NaN; an Inf must match
   exactly; a NaN or Inf against a finite value is outside.

   FP8Q_DIFF_AUTO, the tolerance a correct engine must meet:
     parameter   names ending .weight, .weight.fp8, .weight.scale,
                 .input_scale, .output_scale: equal (the checkpoint's values
                 or a deterministic function of them)
     FP8 codes   other F8_E4M3/E5M2/E4M3FNUZ/E5M2FNUZ/E8M0 tensors: at most
                 fp8_codes codes apart (default 1: a last-bit difference in
                 the float input can cross one rounding boundary), and equal
                 where both runs quantized the same input with the same
                 scale (P.input.I.fp8 next to F32 P.input.I and
                 P.input.I.scale in both files): a rounding or saturation
                 bug that moves codes by one is still caught
     float       other F32/BF16/F16/F64: |b - a| <= atol + rtol * |a|;
                 default atol = FP8Q_DIFF_NORM_TOL * max|A| (over the
                 tensor), rtol 0
     integer     I*, U*, BOOL, F6_*, F4 (packed bytes): equal
   and the flip rule: in forward order, once an FP8 codes tensor differs
   (a code moved to its neighbour, which is allowed), activations after it
   (later modules, later steps) that are outside the tolerance are
   FP8Q_DIFF_AFTER_FLIP, listed but not differences: one flipped code moves
   its module's output by an FP8 step (2^-3 relative for E4M3) times a
   weight, and that spreads through every later layer, far beyond any float
   tolerance (measured on a 30-layer SmolLM2-shaped random model, fast vs
   exact GEMM: 4e-7 of max|A| before the first flip, 1e-3 right after it,
   0.1 twenty layers on). Parameters, and codes that differ where both
   runs had the same input and scale, are judged everywhere. fp8_codes = 0
   turns the rule off (every flipped code is a difference).
   FP8Q_DIFF_EXACT: every tensor equal (floats as values: -0 equals +0),
   no flip rule. */
typedef enum fp8q_diff_mode { FP8Q_DIFF_AUTO = 0, FP8Q_DIFF_EXACT = 1 } fp8q_diff_mode;

/* The default float tolerance, normwise: 2^-10 of the tensor's max|A|. A
   correct float32 GEMM is within fp8q_gemm_tolerance(K, sum|terms|) ~
   (K + 4) 2^-24 sum|terms| of the exact one: below 2^-10 of the output's
   magnitude for K up to ~16000 even when sum|terms| is a few times max|y|
   (measured before the first flip: <= 4e-7, 30 layers, K <= 1536); a layer
   accumulating in bfloat16 (8-bit mantissa) is off by about 2^-9 of its
   outputs and more. */
#define FP8Q_DIFF_NORM_TOL 0.0009765625

typedef struct fp8q_diff_options {
    fp8q_diff_mode mode;
    int set_atol, set_rtol; /* 1: atol / rtol (absolute; relative to |A|) replace the default */
    double atol, rtol;
    int set_fp8_codes; /* 1: fp8_codes replaces the FP8-code budget (1) */
    int fp8_codes;
    int common_only; /* 1: names in one file only are listed but are not differences */
} fp8q_diff_options;

typedef enum fp8q_diff_status {
    FP8Q_DIFF_OK = 0,        /* within tolerance */
    FP8Q_DIFF_OUTSIDE = 1,   /* elements outside the tolerance */
    FP8Q_DIFF_SHAPE = 2,     /* shapes differ */
    FP8Q_DIFF_DTYPE = 3,     /* dtypes differ */
    FP8Q_DIFF_ONLY_A = 4,    /* the name is in A only */
    FP8Q_DIFF_ONLY_B = 5,    /* in B only */
    FP8Q_DIFF_AFTER_FLIP = 6 /* outside, after an FP8 code flipped (the flip rule): not a difference */
} fp8q_diff_status;

typedef enum fp8q_diff_class {
    FP8Q_DIFF_PARAMETER = 0,
    FP8Q_DIFF_CODES = 1,
    FP8Q_DIFF_FLOAT = 2,
    FP8Q_DIFF_INTEGER = 3
} fp8q_diff_class;

typedef struct fp8q_diff_entry {
    const char *name;   /* the tensor */
    const char *module; /* fp8q_trace_module's module name */
    int step, layer, rank;
    fp8q_diff_status status;
    fp8q_diff_class kind;
    const fp8q_tensor_info *a, *b; /* NULL when absent */
    fp8q_compare cmp;              /* compared tensors: metrics and the count outside */
    double atol, rtol;             /* float tolerance applied (atol after the normwise default) */
    int codes;                     /* FP8 code budget applied */
    size_t local_outside;          /* FP8 codes that differ where both runs had the same input and scale */
    int differs;                   /* counts as a difference (see fp8q_diff_status, common_only) */
} fp8q_diff_entry;

typedef struct fp8q_diff {
    fp8q_diff_entry *entries;      /* forward order (fp8q_trace_module: step, layer, rank), then file order */
    size_t n_entries;              /* names in A or B */
    size_t first;                  /* the first entry that differs, n_entries if none */
    size_t flip;                   /* the first FP8 codes entry that differs, n_entries if none */
    size_t n_compared, n_outside;  /* names in both files; of them, outside the tolerance */
    size_t n_only_a, n_only_b;     /* names in one file only */
    size_t n_mismatch;             /* shape or dtype mismatches */
    size_t n_after_flip;           /* FP8Q_DIFF_AFTER_FLIP entries */
    size_t n_differ;               /* entries that differ */
    const fp8q_safetensors *a, *b; /* the files compared (borrowed: names point into them) */
    fp8q_diff_options opt;         /* as given */
} fp8q_diff;

/* Compares a (reference) with b. On FP8Q_OK *d holds every name of both
   files (free with fp8q_diff_free; a and b must outlive it); tensors are
   read in chunks of 64Ki elements, so memory stays small whatever their
   size. FP8Q_ERR_ARG for NULL pointers, an unknown mode or a negative
   fp8_codes / atol / rtol; FP8Q_ERR_NOMEM. */
FP8QDEF fp8q_result fp8q_diff_files(fp8q_diff *d, const fp8q_safetensors *a, const fp8q_safetensors *b,
                                    const fp8q_diff_options *opt, fp8q_error *err);
FP8QDEF void fp8q_diff_free(fp8q_diff *d);

/* The diff as JSON (ASCII, Python-repr numbers, null where a value does not
   apply), malloc'd into *out (NUL-terminated; free()) and *out_len:
     {"format": "fp8q-diff-1", "a": PATH_A, "b": PATH_B,
      "tolerance": {"mode": "auto"|"exact", "atol": X|null, "rtol": X|null,
                    "fp8_codes": N|null, "norm_tol": FP8Q_DIFF_NORM_TOL,
                    "common_only": BOOL},
      "summary": {"names", "compared", "outside", "mismatch", "only_a",
                  "only_b", "after_flip", "differ"},
      "first_flip": {"module", "tensor", "step"} | null,
      "first_difference": {"module", "tensor", "step"} | null,
      "metadata": [{"key", "a": S|null, "b": S|null}],  (values that differ)
      "tensors": [{"name", "module", "step", "status", "kind", "differs",
                   "dtype_a", "dtype_b", "shape_a", "shape_b", "count",
                   "outside", "first_outside", "max_abs", "max_rel",
                   "max_ulp", "atol", "rtol", "fp8_codes", "local_outside"},
                  ...]}
   in the entries' order. Paths that are not UTF-8 are written with '?'
   for their non-ASCII bytes. FP8Q_ERR_ARG, FP8Q_ERR_NOMEM. */
FP8QDEF fp8q_result fp8q_diff_json(const fp8q_diff *d, const char *path_a, const char *path_b, char **out,
                                   size_t *out_len, fp8q_error *err);

/* "ok", "outside", "shape", "dtype", "only_a", "only_b", "after_flip";
   "parameter", "fp8_codes", "float", "integer". NULL for other values. */
FP8QDEF const char *fp8q_diff_status_name(fp8q_diff_status s);
FP8QDEF const char *fp8q_diff_class_name(fp8q_diff_class c);

/* -------------------------------------------------------------- tokenizer */
/* A BPE tokenizer equal to Hugging Face `tokenizers` (tested against 0.23.3)
   token for token: the ids of fp8q_tokenizer_encode are those of
   Tokenizer.encode(text, add_special_tokens=...).ids, and
   fp8q_tokenizer_decode gives Tokenizer.decode(ids, skip_special_tokens)
   (tokenizers' own decode, without transformers'
   clean_up_tokenization_spaces).

   What a tokenizer.json may use (anything else is refused with
   FP8Q_ERR_UNSUPPORTED and a message naming the component, never guessed):
     model          BPE: vocab, merges (["a", "b"] pairs or "a b" strings),
                    unk_token, fuse_unk, byte_fallback (<0xNN> tokens),
                    ignore_merges; dropout null or 0, no
                    continuing_subword_prefix / end_of_word_suffix.
                    (WordPiece, Unigram, WordLevel: refused.)
     added_tokens   special and non-special, matched leftmost-longest as HF
                    does, with lstrip, rstrip and normalized; single_word
                    true is refused.
     normalizer     null, Sequence, Prepend, Replace with a String pattern
                    (the Llama 2 / SentencePiece pipeline). NFC, NFD, NFKC,
                    NFKD, Lowercase, Strip, BertNormalizer, Precompiled,
                    Replace with a Regex...: refused (no Unicode
                    normalization tables here).
     pre_tokenizer  null, Sequence, ByteLevel (add_prefix_space, use_regex:
                    the GPT-2 regex), Split with the GPT-2 or the Llama-3
                    regex (exactly those patterns; behavior Isolated, invert
                    false), Digits (individual_digits true or false),
                    Metaspace (prepend_scheme always/first/never, split
                    false). ByteLevel must come last.
     post_processor null, ByteLevel, TemplateProcessing (its "single"
                    template: special tokens around $A), Sequence of those.
     decoder        null, Sequence, ByteLevel, ByteFallback, Fuse, Replace
                    (String pattern), Strip, Metaspace.
     truncation and padding must be null.
   The regexes are implemented by hand with Oniguruma's semantics (the
   engine tokenizers uses): \p{L}, \p{N} and \s come from a Unicode 16.0
   class table (tools/gen_unicode_tables.py, checked against tokenizers for
   every code point); Digits uses Rust's char::is_numeric (Unicode 17.0,
   13 more code points), (?i:'s) also matches U+017F, as Oniguruma does.

   Text and UTF-8: encode takes bytes. Valid UTF-8 is tokenized as is
   (NUL bytes included); a byte sequence that is not valid UTF-8 is first
   replaced by U+FFFD per maximal ill-formed subpart, exactly as Python's
   bytes.decode("utf-8", "replace") does (tokenizers itself only accepts
   str), so the ids equal tokenizers' on the replaced text. Decode always
   produces valid UTF-8 when the decoder does (ByteLevel and ByteFallback
   replace invalid bytes with U+FFFD as tokenizers does).

   Limits and safety: files are untrusted; every field is type-checked,
   ids must be in [0, FP8Q_MAX_TOKENIZER_VOCAB), a token string may appear
   once in model.vocab and once in added_tokens, an id once in each, merges
   must name tokens of model.vocab whose concatenation is in it (HF keeps
   the last of duplicated merges; so does fp8q). Errors name the field and
   index, e.g. "tokenizer.json: model.merges[17]: 'x y': 'x y' is not in
   model.vocab". Encoding allocates scratch memory proportional to the text
   and frees it before returning; time is O(n log n) in the longest piece.
   A loaded tokenizer is immutable: any number of threads may encode and
   decode with it at once. */
#ifndef FP8Q_MAX_TOKENIZER_VOCAB
#define FP8Q_MAX_TOKENIZER_VOCAB 16777216 /* ids (and token counts) stay below this */
#endif

typedef struct fp8q_tokenizer fp8q_tokenizer; /* opaque */

/* Builds a tokenizer from the text of a tokenizer.json (len bytes, need not
   be NUL-terminated; copied, so text may be freed afterwards). BOS/EOS are
   unknown (-1) unless the post-processor's template starts with a special
   token (then that is the BOS). Errors: FP8Q_ERR_PARSE (not JSON, wrong
   types, missing fields, inconsistent vocabulary), FP8Q_ERR_UNSUPPORTED,
   FP8Q_ERR_LIMIT, FP8Q_ERR_NOMEM, FP8Q_ERR_ARG; *out is NULL on failure. */
FP8QDEF fp8q_result fp8q_tokenizer_parse_json(fp8q_tokenizer **out, const char *text, size_t len, fp8q_error *err);

/* Loads path (a tokenizer.json, at most FP8Q_MAX_CONFIG_SIZE bytes) and,
   when present in the same directory, tokenizer_config.json (bos_token,
   eos_token: a string or {"content": ...}; chat_template: a string or the
   entry named "default" of a list) and chat_template.jinja (preferred over
   the config's chat_template, as transformers 5 does). add_bos_token and
   add_eos_token in tokenizer_config.json do not change encoding: like
   transformers 5's AutoTokenizer on a tokenizer.json, the post-processor
   alone decides what FP8Q_TOK_ADD_SPECIAL adds. Messages start with the
   file's path. */
FP8QDEF fp8q_result fp8q_tokenizer_load_json(fp8q_tokenizer **out, const char *path, fp8q_error *err);

/* The tokenizer arrays a GGUF file stores (llama.cpp's tokenizer.ggml.*
   keys), borrowed for the call only (everything is copied).
   model "gpt2": byte-level BPE with tokens and merges ("a b": exactly one
     space). pre selects the pre-tokenizer as llama.cpp does: NULL,
     "default", "gpt-2", "gpt2": the GPT-2 regex; "smollm", "starcoder":
     Digits(individual_digits) then the GPT-2 regex; "llama-bpe", "llama3",
     "llama-v3": the Llama-3 regex with ignore_merges; any other value is
     FP8Q_ERR_UNSUPPORTED. add_bos default: 1 for the Llama-3 ones, else 0.
   model "llama": SentencePiece-style BPE with byte fallback: normalizer
     Prepend "▁" (when add_space_prefix, default 1) and Replace " " -> "▁",
     decoder Replace, ByteFallback, Fuse, Strip (one leading space, when
     add_space_prefix), unk = the unk token (fused). Without merges they are
     derived from the scores exactly as transformers does for a GGUF
     (integrations/ggml.py GGUFTokenizerSkeleton: every split of every token
     into two tokens, ordered by the whole token's score, descending). pre
     must be NULL or "default". add_bos default 1, add_eos default 0.
   token_types (llama.cpp's): 1 normal, 2 unknown, 3 control, 4
   user-defined, 5 unused, 6 byte (0 is read as normal). Types 2 and 3
   become special added tokens, 4 non-special added tokens (all matched in
   text, normalized false), the rest plain vocabulary. Tokens must be
   non-empty, valid UTF-8 and unique; scores finite. bos/eos/unk/pad are
   ids or -1; add_* are 0, 1 or -1 (the model's default). */
typedef struct fp8q_tokenizer_spec {
    const char *model; /* "gpt2" (byte-level BPE) or "llama" (SentencePiece) */
    const char *pre;   /* tokenizer.ggml.pre, e.g. "smollm", "llama-bpe", "gpt-2", "default"; NULL = default */
    size_t n_tokens;
    const char *const *tokens;
    const size_t *token_lens;   /* not NUL-terminated in GGUF; NULL: the tokens are NUL-terminated */
    const float *scores;        /* may be NULL (required for "llama" without merges) */
    const int32_t *token_types; /* may be NULL (all normal) */
    size_t n_merges;
    const char *const *merges;
    const size_t *merge_lens;               /* NULL: NUL-terminated */
    int32_t bos, eos, unk, pad;             /* -1 when absent */
    int add_bos, add_eos, add_space_prefix; /* -1 = the model's default */
    const char *chat_template;              /* NUL-terminated, may be NULL */
} fp8q_tokenizer_spec;

/* Builds a tokenizer from GGUF-style arrays (see fp8q_tokenizer_spec). The
   result encodes like the model's Hugging Face tokenizer.json (tested on
   SmolLM2-135M-Instruct's GGUF). Errors name the array and index, e.g.
   "tokenizer spec: tokens[5] ('ab') duplicates tokens[3]". */
FP8QDEF fp8q_result fp8q_tokenizer_from_spec(fp8q_tokenizer **out, const fp8q_tokenizer_spec *spec, fp8q_error *err);

#define FP8Q_TOK_ADD_SPECIAL 1 /* add the post-processor's tokens (BOS/EOS) around the ids */
#define FP8Q_TOK_PARSE_SPECIAL                                                                                         \
    2 /* special added tokens in the text become their ids (HF's default); without it                                  \
         they are tokenized as text (HF's split_special_tokens / encode_special_tokens).                               \
         Non-special added tokens are always matched, as in HF. */

/* Tokenizes text[0, len) (text may be NULL when len is 0). ids (may be NULL
   when cap is 0) receives at most cap ids; *n_ids is always the full count,
   and FP8Q_ERR_LIMIT is returned when it exceeds cap (the first cap ids are
   written), so a call with cap 0 measures. flags: FP8Q_TOK_* bits. Errors:
   FP8Q_ERR_ARG (NULL tokenizer or n_ids, text NULL with len > 0, unknown
   flags), FP8Q_ERR_LIMIT (also: one pre-token longer than 2^31 - 1 bytes),
   FP8Q_ERR_NOMEM. */
FP8QDEF fp8q_result fp8q_tokenizer_encode(const fp8q_tokenizer *t, const char *text, size_t len, int flags,
                                          int32_t *ids, size_t cap, size_t *n_ids, fp8q_error *err);

/* Decodes ids to UTF-8 text like tokenizers' decode: unknown ids are
   skipped, as are special added tokens when skip_special is non-zero; the
   decoder pipeline runs over the token strings (none: joined with ' ').
   Writes at most cap bytes including a NUL terminator when it fits; *len is
   the full length without the NUL (the text may itself contain NUL bytes);
   FP8Q_ERR_LIMIT when len + 1 > cap (out may be NULL when cap is 0). */
FP8QDEF fp8q_result fp8q_tokenizer_decode(const fp8q_tokenizer *t, const int32_t *ids, size_t n, int skip_special,
                                          char *out, size_t cap, size_t *len, fp8q_error *err);

/* One token's text for streaming output: the decoder's per-token steps
   (Replace, ByteFallback, ByteLevel, Metaspace) applied to this token alone,
   with raw bytes: a byte-fallback token <0xNN> gives its byte, a byte-level
   token its bytes (possibly part of a UTF-8 character: buffer until the
   character is complete), "▁" gives ' ', an added token its content (a
   normalized one its normalized content, as HF decodes it). Steps
   that look at the whole sequence are left out: Strip (SentencePiece's
   removal of the first leading space) and Metaspace's first-token rule, so
   concatenated pieces may differ from decode by that leading space and by
   U+FFFD replacements. Writes min(len, cap) bytes (no NUL) and returns len;
   0 for an unknown id. */
FP8QDEF size_t fp8q_tokenizer_piece(const fp8q_tokenizer *t, int32_t id, char *buf, size_t cap);

/* Largest id + 1 (model vocabulary and added tokens); 0 for NULL. */
FP8QDEF int fp8q_tokenizer_vocab_size(const fp8q_tokenizer *t);
/* BOS / EOS id or -1 (from tokenizer_config.json, the GGUF spec, or the
   post-processor template's leading special token). */
FP8QDEF int32_t fp8q_tokenizer_bos(const fp8q_tokenizer *t);
FP8QDEF int32_t fp8q_tokenizer_eos(const fp8q_tokenizer *t);
/* The id of the token whose text is exactly token (an added token's
   content first, then model.vocab), or -1. */
FP8QDEF int32_t fp8q_tokenizer_find(const fp8q_tokenizer *t, const char *token);

/* Renders one turn of the model's chat template: an optional system message
   (NULL = none; "" is an empty one) and a user message, with the generation
   prompt, equal to transformers' apply_chat_template(messages,
   add_generation_prompt=True, tokenize=False). fp8q has no Jinja engine: it
   recognises the template's family by its markers and renders that family:
     ChatML       "<|im_start|>" (SmolLM2, Qwen): a default system prompt
                  written literally in the template ("<|im_start|>system\n
                  ...<|im_end|>") is used when system is NULL
     Llama-2      "[INST]" with "<<SYS>>": bos + "[INST] " + strip(<<SYS>>
                  block + user) + " [/INST]"
     Llama-3      "<|start_header_id|>" (not 3.1's "Cutting Knowledge
                  Date" preamble): bos, header blocks, contents trimmed
     Zephyr       "<|user|>" (TinyLlama chat)
   Anything else, or no template, is FP8Q_ERR_UNSUPPORTED saying why. Strip
   and trim remove Python's str.isspace() characters. Encode the result with
   FP8Q_TOK_PARSE_SPECIAL and without FP8Q_TOK_ADD_SPECIAL (as transformers
   does when it tokenizes a rendered template). Output as for decode: NUL
   added when it fits, *len the full length, FP8Q_ERR_LIMIT when too small. */
FP8QDEF fp8q_result fp8q_tokenizer_chat(const fp8q_tokenizer *t, const char *system, const char *user, char *out,
                                        size_t cap, size_t *len, fp8q_error *err);

/* Frees the tokenizer; NULL is fine. */
FP8QDEF void fp8q_tokenizer_free(fp8q_tokenizer *t);

#endif /* FP8Q_FREESTANDING */

#ifdef __cplusplus
}
#endif
#endif /* FP8Q_H */

/* ======================================================================= */
/*                              IMPLEMENTATION                             */
/* ======================================================================= */
#ifdef FP8Q_IMPLEMENTATION
#ifndef FP8Q__IMPLEMENTATION_DONE
#define FP8Q__IMPLEMENTATION_DONE

/* GCC's own AVX-512 intrinsics self-initialise their "undefined" temporaries
   (__Y = __Y), which -Wmaybe-uninitialized reports at every inlining site in
   C++ builds; the warning is GCC's, so it is silenced here only. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

/* ------------------------------------------------- portability and config */

#ifdef FP8Q_FREESTANDING
#ifndef FP8Q_ASSERT
#define FP8Q_ASSERT(x) ((void)0)
#endif
#if defined(__GNUC__) || defined(__clang__)
#define FP8Q__MEMCPY(d, s, n) __builtin_memcpy((d), (s), (n))
#else
static void fp8q__bytecopy(void *d, const void *s, size_t n)
{
    unsigned char *dd = (unsigned char *)d;
    const unsigned char *ss = (const unsigned char *)s;
    while (n--) *dd++ = *ss++;
}
#define FP8Q__MEMCPY(d, s, n) fp8q__bytecopy((d), (s), (n))
#endif
#else
#include <string.h>
#define FP8Q__MEMCPY(d, s, n) memcpy((d), (s), (n))
#ifndef FP8Q_ASSERT
#include <assert.h>
#define FP8Q_ASSERT(x) assert(x)
#endif
#endif

/* Compile-time assumption checks (negative array size on failure). */
#define FP8Q__STATIC_ASSERT(name, cond) typedef char fp8q__static_assert_##name[(cond) ? 1 : -1]
FP8Q__STATIC_ASSERT(float_is_32_bits, sizeof(float) == 4);
FP8Q__STATIC_ASSERT(double_is_64_bits, sizeof(double) == 8);

/* SIMD selection: the widest instruction set the compiler targets. */
#if !defined(FP8Q_NO_SIMD) && !defined(FP8Q_FREESTANDING)
#if defined(__AVX512F__)
#define FP8Q__AVX512 1
#include <immintrin.h>
#elif defined(__AVX2__)
#define FP8Q__AVX2 1
#include <immintrin.h>
#elif defined(__SSE2__)
#define FP8Q__SSE2 1
#include <emmintrin.h>
#if defined(__SSE4_1__)
#define FP8Q__SSE41 1
#include <smmintrin.h>
#endif
#elif defined(__aarch64__) && defined(__ARM_NEON)
#define FP8Q__NEON 1
#include <arm_neon.h>
#endif
#if defined(FP8Q__AVX512) || defined(FP8Q__AVX2) || defined(FP8Q__SSE2) || defined(FP8Q__NEON)
#define FP8Q__HAVE_SIMD 1
#endif
/* The fast GEMM's vector kernels: FMA and half-precision conversion. */
#if defined(FP8Q__AVX512) || (defined(FP8Q__AVX2) && defined(__FMA__) && defined(__F16C__))
#define FP8Q__VGEMM 1
#endif
#if defined(__F16C__) && (defined(FP8Q__AVX2) || defined(FP8Q__SSE2))
#define FP8Q__F16C 1
#include <immintrin.h>
#endif
#endif

/* Small SIMD helpers must be inlined into their loops (their constants are
   then hoisted out of the loop). */
#if defined(__GNUC__) || defined(__clang__)
#define FP8Q__FORCE_INLINE static __inline__ __attribute__((always_inline))
#elif defined(_MSC_VER)
#define FP8Q__FORCE_INLINE static __forceinline
#else
#define FP8Q__FORCE_INLINE static
#endif

static uint32_t fp8q__f32_bits(float x)
{
    uint32_t u;
    FP8Q__MEMCPY(&u, &x, 4);
    return u;
}

static float fp8q__f32_from_bits(uint32_t u)
{
    float x;
    FP8Q__MEMCPY(&x, &u, 4);
    return x;
}

static uint64_t fp8q__f64_bits(double x)
{
    uint64_t u;
    FP8Q__MEMCPY(&u, &x, 8);
    return u;
}

static double fp8q__f64_from_bits(uint64_t u)
{
    double x;
    FP8Q__MEMCPY(&x, &u, 8);
    return x;
}

#define FP8Q__F32_CANONICAL_NAN 0x7FFFFFFFu

/* ----------------------------------------------------------------- errors */

FP8QDEF const char *fp8q_result_string(fp8q_result r)
{
    switch (r) {
    case FP8Q_OK: return "ok";
    case FP8Q_ERR_ARG: return "invalid argument";
    case FP8Q_ERR_NOMEM: return "out of memory";
    case FP8Q_ERR_UNSUPPORTED: return "unsupported";
    case FP8Q_ERR_PARSE: return "parse error";
    case FP8Q_ERR_LIMIT: return "limit exceeded";
    case FP8Q_ERR_IO: return "file input/output error";
    case FP8Q_ERR_DEVICE: return "device or runtime unavailable or failed";
    }
    return "unknown fp8q result code";
}

FP8QDEF const char *fp8q_version(void) { return FP8Q_VERSION_STRING; }

/* ----------------------------------------------------------- format table */

/* Rows in enum order (C++ has no array designators); a test checks
   fp8q__formats[i].format == i and recomputes every number from the bits. */
/* clang-format off */
static const fp8q_format_info fp8q__formats[FP8Q_FORMAT_COUNT] = {
/*   format         name        safetensors    E  M  bias specials             max   inf   nan   max_finite  min_normal          min_subnormal */
    {FP8Q_E4M3,     "e4m3fn",   "F8_E4M3",     4, 3, 7,   FP8Q_SPECIALS_FN,   0x7E, 0x00, 0x7F, 448.0f,     0.015625f,          0.001953125f},
    {FP8Q_E5M2,     "e5m2",     "F8_E5M2",     5, 2, 15,  FP8Q_SPECIALS_IEEE, 0x7B, 0x7C, 0x7F, 57344.0f,   6.103515625e-05f,   1.52587890625e-05f},
    {FP8Q_E4M3FNUZ, "e4m3fnuz", "F8_E4M3FNUZ", 4, 3, 8,   FP8Q_SPECIALS_FNUZ, 0x7F, 0x00, 0x80, 240.0f,     0.0078125f,         0.0009765625f},
    {FP8Q_E5M2FNUZ, "e5m2fnuz", "F8_E5M2FNUZ", 5, 2, 16,  FP8Q_SPECIALS_FNUZ, 0x7F, 0x00, 0x80, 57344.0f,   3.0517578125e-05f,  7.62939453125e-06f},
};
/* clang-format on */

FP8QDEF const fp8q_format_info *fp8q_format_get(fp8q_format fmt)
{
    if ((unsigned)fmt >= (unsigned)FP8Q_FORMAT_COUNT) return NULL;
    return &fp8q__formats[fmt];
}

/* The row for fmt; an invalid format asserts and falls back to row 0 so that
   release builds still return a defined value. */
static const fp8q_format_info *fp8q__format(fp8q_format fmt)
{
    const fp8q_format_info *f = fp8q_format_get(fmt);
    FP8Q_ASSERT(f != NULL);
    return f ? f : &fp8q__formats[0];
}

/* ------------------------------------------------------ scalar reference */

#define FP8Q__OVERFLOW 0x100u /* round_magnitude: not finite in the format */

/* Rounds a magnitude sig * 2^(exp - frac_bits) to the format's magnitude code
   (7 bits), round to nearest even, as if the exponent range were unbounded
   above; returns FP8Q__OVERFLOW when the rounded value exceeds max_code.
   Normal inputs have the leading one of sig at bit frac_bits (frac_bits is 23
   for float, 52 for double); subnormal inputs have it lower.
   Exponent field and mantissa are concatenated, so a carry out of the
   mantissa bumps the exponent (and a subnormal becomes the min normal). */
static uint32_t fp8q__round_magnitude(const fp8q_format_info *f, int exp, uint64_t sig, int frac_bits)
{
    const int m = f->mantissa_bits;
    const int e_field = exp + f->bias;
    uint64_t code, rem, half;
    int shift;
    if (e_field > (1 << f->exponent_bits)) return FP8Q__OVERFLOW;
    if (e_field >= 1) {
        shift = frac_bits - m;
        code = ((uint64_t)e_field << m) | ((sig >> shift) & ((1u << m) - 1u));
    } else {
        shift = frac_bits - m + 1 - e_field; /* denormalise */
        if (shift > frac_bits + 1) return 0; /* below half the min subnormal */
        code = sig >> shift;
    }
    rem = sig & ((((uint64_t)1) << shift) - 1u);
    half = ((uint64_t)1) << (shift - 1);
    if (rem > half || (rem == half && (code & 1u))) code++;
    return code > f->max_code ? FP8Q__OVERFLOW : (uint32_t)code;
}

/* The byte for a finite result of magnitude mag and sign (0 or 0x80). */
static uint8_t fp8q__with_sign(const fp8q_format_info *f, uint32_t mag, uint32_t sign)
{
    if (mag == 0 && f->specials == FP8Q_SPECIALS_FNUZ) return 0; /* no -0 */
    return (uint8_t)(mag | sign);
}

/* The byte for an overflow or an infinite input. */
static uint8_t fp8q__overflow_code(const fp8q_format_info *f, uint32_t sign, fp8q_saturation sat)
{
    if (sat == FP8Q_SATFINITE) return (uint8_t)(f->max_code | sign);
    switch (f->specials) {
    case FP8Q_SPECIALS_IEEE: return (uint8_t)(f->inf_code | sign);
    case FP8Q_SPECIALS_FN: return (uint8_t)(0x7Fu | sign);
    default: return 0x80u;
    }
}

/* The byte for a NaN input with sign and its top M payload bits (double path;
   the float path passes the canonical NaN: sign 0, payload all ones). */
static uint8_t fp8q__nan_code(const fp8q_format_info *f, uint32_t sign, uint32_t payload)
{
    const uint32_t m = (uint32_t)f->mantissa_bits;
    switch (f->specials) {
    case FP8Q_SPECIALS_IEEE: /* quiet bit forced, payload truncated */
        return (uint8_t)(sign | f->inf_code | (1u << (m - 1u)) | (payload & ((1u << m) - 1u)));
    case FP8Q_SPECIALS_FN: return (uint8_t)(0x7Fu | sign);
    default: return 0x80u;
    }
}

static uint8_t fp8q__encode_finite(const fp8q_format_info *f, uint32_t sign, int exp, uint64_t sig, int frac_bits,
                                   fp8q_saturation sat)
{
    uint32_t mag = fp8q__round_magnitude(f, exp, sig, frac_bits);
    if (mag == FP8Q__OVERFLOW) return fp8q__overflow_code(f, sign, sat);
    return fp8q__with_sign(f, mag, sign);
}

FP8QDEF uint8_t fp8q_from_f32(float x, fp8q_format fmt, fp8q_saturation sat)
{
    const fp8q_format_info *f = fp8q__format(fmt);
    const uint32_t u = fp8q__f32_bits(x);
    const uint32_t sign = (u >> 24) & 0x80u;
    const uint32_t a = u & 0x7FFFFFFFu;
    const int e = (int)(a >> 23);
    const uint64_t frac = a & 0x7FFFFFu;
    if (a > 0x7F800000u) return f->nan_code; /* CUDA: any float NaN -> 0x7FFFFFFF first */
    if (a == 0x7F800000u) return fp8q__overflow_code(f, sign, sat);
    if (e == 0) return fp8q__encode_finite(f, sign, -126, frac, 23, sat); /* float subnormal */
    return fp8q__encode_finite(f, sign, e - 127, frac | (1u << 23), 23, sat);
}

FP8QDEF uint8_t fp8q_from_f64(double x, fp8q_format fmt, fp8q_saturation sat)
{
    const fp8q_format_info *f = fp8q__format(fmt);
    const uint64_t u = fp8q__f64_bits(x);
    const uint32_t sign = (uint32_t)(u >> 56) & 0x80u;
    const uint64_t a = u & 0x7FFFFFFFFFFFFFFFull;
    const int e = (int)(a >> 52);
    const uint64_t frac = a & 0xFFFFFFFFFFFFFull;
    if (a > 0x7FF0000000000000ull) return fp8q__nan_code(f, sign, (uint32_t)(frac >> (52 - f->mantissa_bits)));
    if (a == 0x7FF0000000000000ull) return fp8q__overflow_code(f, sign, sat);
    if (e == 0) return fp8q__encode_finite(f, sign, -1022, frac, 52, sat);
    return fp8q__encode_finite(f, sign, e - 1023, frac | (1ull << 52), 52, sat);
}

FP8QDEF uint8_t fp8q_from_f16(uint16_t h, fp8q_format fmt, fp8q_saturation sat)
{
    return fp8q_from_f32(fp8q_f16_to_f32(h), fmt, sat);
}

FP8QDEF uint8_t fp8q_from_bf16(uint16_t b, fp8q_format fmt, fp8q_saturation sat)
{
    return fp8q_from_f32(fp8q_bf16_to_f32(b), fmt, sat);
}

static int fp8q__is_nan_code(const fp8q_format_info *f, uint32_t v)
{
    const uint32_t mag = v & 0x7Fu;
    switch (f->specials) {
    case FP8Q_SPECIALS_FN: return mag == 0x7Fu;
    case FP8Q_SPECIALS_IEEE: return mag > f->inf_code;
    default: return v == 0x80u;
    }
}

/* FP8 -> float32 bits, exact; the reference decoder. */
static uint32_t fp8q__decode_bits(const fp8q_format_info *f, uint8_t v)
{
    const int m = f->mantissa_bits;
    const uint32_t sign = ((uint32_t)v & 0x80u) << 24;
    const uint32_t mag = v & 0x7Fu;
    int e = (int)(mag >> m);
    uint32_t man = mag & ((1u << m) - 1u);
    if (fp8q__is_nan_code(f, v)) return FP8Q__F32_CANONICAL_NAN;
    if (f->specials == FP8Q_SPECIALS_IEEE && mag == f->inf_code) return sign | 0x7F800000u;
    if (mag == 0) return sign;
    if (e == 0) { /* subnormal: normalise */
        e = 1;
        while (!(man & (1u << m))) {
            man <<= 1;
            e--;
        }
        man &= (1u << m) - 1u;
    }
    return sign | ((uint32_t)(e - f->bias + 127) << 23) | (man << (23 - m));
}

FP8QDEF float fp8q_to_f32(uint8_t v, fp8q_format fmt)
{
    return fp8q__f32_from_bits(fp8q__decode_bits(fp8q__format(fmt), v));
}

/* Widens with integers only (no float->double instruction or soft-float
   helper): decoded values are zero, normal floats (every FP8 subnormal is a
   normal float), Inf or the canonical NaN. */
FP8QDEF double fp8q_to_f64(uint8_t v, fp8q_format fmt)
{
    const uint32_t u = fp8q__decode_bits(fp8q__format(fmt), v);
    const uint64_t sign = (uint64_t)(u & 0x80000000u) << 32;
    const uint32_t a = u & 0x7FFFFFFFu;
    if (a == 0) return fp8q__f64_from_bits(sign);
    if (a == 0x7F800000u) return fp8q__f64_from_bits(sign | 0x7FF0000000000000ull);
    if (a > 0x7F800000u) return fp8q__f64_from_bits(0x7FF8000000000000ull);
    return fp8q__f64_from_bits(sign | ((uint64_t)((a >> 23) - 127u + 1023u) << 52) | ((uint64_t)(a & 0x7FFFFFu) << 29));
}

FP8QDEF uint16_t fp8q_to_f16(uint8_t v, fp8q_format fmt) { return fp8q_f32_to_f16(fp8q_to_f32(v, fmt)); }

FP8QDEF uint16_t fp8q_to_bf16(uint8_t v, fp8q_format fmt) { return fp8q_f32_to_bf16(fp8q_to_f32(v, fmt)); }

/* ------------------------------------------------------ half and bfloat16 */

FP8QDEF float fp8q_f16_to_f32(uint16_t h)
{
    const uint32_t sign = ((uint32_t)h & 0x8000u) << 16;
    const uint32_t e = (h >> 10) & 0x1Fu;
    uint32_t man = h & 0x3FFu;
    int exp;
    if (e == 0x1Fu) return fp8q__f32_from_bits(sign | 0x7F800000u | (man << 13));
    if (e == 0) {
        if (man == 0) return fp8q__f32_from_bits(sign);
        exp = -14; /* subnormal: normalise */
        while (!(man & 0x400u)) {
            man <<= 1;
            exp--;
        }
        man &= 0x3FFu;
        return fp8q__f32_from_bits(sign | ((uint32_t)(exp + 127) << 23) | (man << 13));
    }
    return fp8q__f32_from_bits(sign | ((e - 15u + 127u) << 23) | (man << 13));
}

FP8QDEF uint16_t fp8q_f32_to_f16(float x)
{
    const uint32_t u = fp8q__f32_bits(x);
    const uint32_t sign = (u >> 16) & 0x8000u;
    const uint32_t a = u & 0x7FFFFFFFu;
    const int e = (int)(a >> 23) - 127 + 15; /* half exponent field */
    uint32_t sig, shift, code, rem, half;
    if (a > 0x7F800000u) return (uint16_t)(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
    if (a >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u); /* >= 65520 rounds to Inf */
    if (e >= 1) {
        code = ((uint32_t)e << 10) | ((a >> 13) & 0x3FFu);
        shift = 13;
        sig = a;
    } else {
        if (e < -10) return (uint16_t)sign; /* below half the min subnormal (2^-25) */
        sig = (a & 0x7FFFFFu) | 0x800000u;
        shift = (uint32_t)(14 - e);
        code = sig >> shift;
    }
    rem = sig & ((1u << shift) - 1u);
    half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (code & 1u))) code++;
    return (uint16_t)(sign | code);
}

FP8QDEF float fp8q_bf16_to_f32(uint16_t b) { return fp8q__f32_from_bits((uint32_t)b << 16); }

FP8QDEF uint16_t fp8q_f32_to_bf16(float x)
{
    const uint32_t u = fp8q__f32_bits(x);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

/* ------------------------------------------------------ bulk conversions */

static int fp8q__bulk_args_ok(const void *dst, const void *src, size_t n, fp8q_format fmt, fp8q_scale_op op)
{
    if (n > 0 && (dst == NULL || src == NULL)) return 0;
    if (fp8q_format_get(fmt) == NULL) return 0;
    return op == FP8Q_SCALE_NONE || op == FP8Q_SCALE_MUL || op == FP8Q_SCALE_DIV;
}

static float fp8q__apply_scale(float x, fp8q_scale_op op, float scale)
{
    if (op == FP8Q_SCALE_MUL) return x * scale;
    if (op == FP8Q_SCALE_DIV) return x / scale;
    return x;
}

#ifdef FP8Q__HAVE_SIMD
/* Everything a vector encoder needs, derived once per call from the table
   row and the saturation mode (so every lane follows the scalar rules):
     |x| >= minnorm:  mag = (a - rebias + round + ((a >> shift) & 1)) >> shift
                      (the integer RNE trick on the float's bits)
     |x| <  minnorm:  mag = RNE(|x| / min_subnormal), where the division is
                      the exact product |x| * sub_mul (a power of two) and
                      RNE an instruction with the rounding mode in its
                      immediate (SSE4.1, AVX, AVX-512, NEON), or on SSE2 an
                      exact truncation plus a comparison of the remainder
                      with 1/2: independent of MXCSR either way. |x| is
                      clamped to minnorm first, so no lane raises a flag.
     |x| >= ovf:      mag = ovf_code;   NaN: nan_code, sign dropped.  */
typedef struct fp8q__enc_kernel {
    uint32_t rebias;      /* (127 - bias) << 23 */
    uint32_t round;       /* (1 << (shift - 1)) - 1 */
    uint32_t shift;       /* 23 - M */
    uint32_t minnorm;     /* float bits of the min normal */
    uint32_t ovf;         /* float bits of the smallest magnitude that overflows */
    uint32_t ovf_code;    /* magnitude code for overflow and Inf */
    uint32_t nan_code;    /* byte for NaN */
    uint32_t zero_signed; /* 1 when the format has -0 */
    float sub_mul;        /* 1 / min_subnormal = 2^(bias - 1 + M) */
} fp8q__enc_kernel;

static void fp8q__enc_kernel_init(fp8q__enc_kernel *k, const fp8q_format_info *f, fp8q_saturation sat)
{
    const int m = f->mantissa_bits;
    const float max = fp8q_to_f32(f->max_code, f->format);
    const float half_ulp = (max - fp8q_to_f32((uint8_t)(f->max_code - 1u), f->format)) * 0.5f;
    const uint32_t mid = fp8q__f32_bits(max + half_ulp); /* exact: few significant bits */
    k->shift = (uint32_t)(23 - m);
    k->rebias = (uint32_t)(127 - f->bias) << 23;
    k->round = (1u << (k->shift - 1u)) - 1u;
    k->minnorm = fp8q__f32_bits(f->min_normal);
    k->ovf = (f->max_code & 1u) ? mid : mid + 1u; /* an odd max sends the tie up */
    k->ovf_code = fp8q__overflow_code(f, 0, sat);
    k->nan_code = f->nan_code;
    k->zero_signed = f->specials != FP8Q_SPECIALS_FNUZ;
    k->sub_mul = 1.0f / f->min_subnormal; /* exact: a power of two */
}

/* Everything a vector decoder needs: mag = b & 0x7F;
   mag >= 2^M:  bits = (mag << shift) + rebias;  else  float(mag) * sub_scale;
   then Inf and NaN codes are patched in and the sign ORed. */
typedef struct fp8q__dec_kernel {
    uint32_t shift, rebias, n_sub;
    float sub_scale;   /* min subnormal */
    uint32_t inf_mag;  /* 0x80 (never) when the format has no Inf */
    uint32_t nan_mag;  /* mag >= nan_mag is NaN; 0x80 (never) for FNUZ */
    uint32_t nan_byte; /* the whole byte == nan_byte is NaN; 0x100 (never) unless FNUZ */
} fp8q__dec_kernel;

static void fp8q__dec_kernel_init(fp8q__dec_kernel *k, const fp8q_format_info *f)
{
    k->shift = (uint32_t)(23 - f->mantissa_bits);
    k->rebias = (uint32_t)(127 - f->bias) << 23;
    k->n_sub = 1u << f->mantissa_bits;
    k->sub_scale = f->min_subnormal;
    k->inf_mag = f->specials == FP8Q_SPECIALS_IEEE ? f->inf_code : 0x80u;
    k->nan_mag = f->specials == FP8Q_SPECIALS_IEEE ? f->inf_code + 1u : f->specials == FP8Q_SPECIALS_FN ? 0x7Fu : 0x80u;
    k->nan_byte = f->specials == FP8Q_SPECIALS_FNUZ ? 0x80u : 0x100u;
}

#endif /* FP8Q__HAVE_SIMD */

#if defined(FP8Q__AVX512)
#define FP8Q__SIMD_NAME "avx512"
#define FP8Q__ENC_BLOCK 16
FP8Q__FORCE_INLINE __m512i fp8q__encode16_avx512(__m512 x, const fp8q__enc_kernel *k)
{
    const __m512i u = _mm512_castps_si512(x);
    const __m512i a = _mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF));
    const __m512i sign = _mm512_and_si512(_mm512_srli_epi32(u, 24), _mm512_set1_epi32(0x80));
    const __m128i sh = _mm_cvtsi32_si128((int)k->shift);
    __m512i lsb = _mm512_and_si512(_mm512_srl_epi32(a, sh), _mm512_set1_epi32(1));
    __m512i mag = _mm512_sub_epi32(a, _mm512_set1_epi32((int)k->rebias));
    /* clamped to minnorm first, so no lane overflows or raises a flag */
    const __m512 t = _mm512_mul_ps(_mm512_castsi512_ps(_mm512_min_epi32(a, _mm512_set1_epi32((int)k->minnorm))),
                                   _mm512_set1_ps(k->sub_mul));
    const __m512i sub = _mm512_cvttps_epi32(_mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    __m512i out;
    __mmask16 has_sign;
    mag = _mm512_add_epi32(mag, _mm512_add_epi32(lsb, _mm512_set1_epi32((int)k->round)));
    mag = _mm512_srl_epi32(mag, sh);
    mag = _mm512_mask_mov_epi32(mag, _mm512_cmplt_epi32_mask(a, _mm512_set1_epi32((int)k->minnorm)), sub);
    mag = _mm512_mask_mov_epi32(mag, _mm512_cmpgt_epi32_mask(a, _mm512_set1_epi32((int)(k->ovf - 1u))),
                                _mm512_set1_epi32((int)k->ovf_code));
    has_sign = k->zero_signed ? (__mmask16)0xFFFF : _mm512_test_epi32_mask(mag, mag);
    out = _mm512_mask_or_epi32(mag, has_sign, mag, sign);
    return _mm512_mask_mov_epi32(out, _mm512_cmpgt_epi32_mask(a, _mm512_set1_epi32(0x7F800000)),
                                 _mm512_set1_epi32((int)k->nan_code));
}

static size_t fp8q__encode_f32_simd(uint8_t *dst, const float *src, size_t n, const fp8q__enc_kernel *kernel,
                                    fp8q_scale_op op, float scale)
{
    const fp8q__enc_kernel local = *kernel, *k = &local; /* byte stores cannot alias a local */
    const __m512 s = _mm512_set1_ps(scale);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 x = _mm512_loadu_ps(src + i);
        if (op == FP8Q_SCALE_MUL) x = _mm512_mul_ps(x, s);
        if (op == FP8Q_SCALE_DIV) x = _mm512_div_ps(x, s);
        _mm_storeu_si128((__m128i *)(dst + i), _mm512_cvtepi32_epi8(fp8q__encode16_avx512(x, k)));
    }
    return i;
}

static size_t fp8q__decode_f32_simd(float *dst, const uint8_t *src, size_t n, const fp8q__dec_kernel *kernel,
                                    fp8q_scale_op op, float scale)
{
    const fp8q__dec_kernel local = *kernel, *k = &local; /* float stores cannot alias a local */
    const __m512 s = _mm512_set1_ps(scale);
    const __m128i sh = _mm_cvtsi32_si128((int)k->shift);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
        const __m512i mag = _mm512_and_si512(b, _mm512_set1_epi32(0x7F));
        const __m512i sign = _mm512_slli_epi32(_mm512_and_si512(b, _mm512_set1_epi32(0x80)), 24);
        __m512i v = _mm512_add_epi32(_mm512_sll_epi32(mag, sh), _mm512_set1_epi32((int)k->rebias));
        const __m512 sub = _mm512_mul_ps(_mm512_cvtepi32_ps(mag), _mm512_set1_ps(k->sub_scale));
        __mmask16 nan;
        __m512 x;
        v = _mm512_mask_mov_epi32(v, _mm512_cmplt_epi32_mask(mag, _mm512_set1_epi32((int)k->n_sub)),
                                  _mm512_castps_si512(sub));
        v = _mm512_mask_mov_epi32(v, _mm512_cmpeq_epi32_mask(mag, _mm512_set1_epi32((int)k->inf_mag)),
                                  _mm512_set1_epi32(0x7F800000));
        v = _mm512_or_si512(v, sign);
        nan = _mm512_cmpge_epi32_mask(mag, _mm512_set1_epi32((int)k->nan_mag)) |
              _mm512_cmpeq_epi32_mask(b, _mm512_set1_epi32((int)k->nan_byte));
        x = _mm512_castsi512_ps(v);
        if (op == FP8Q_SCALE_MUL) x = _mm512_mul_ps(x, s);
        if (op == FP8Q_SCALE_DIV) x = _mm512_div_ps(x, s);
        nan |= _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
        x = _mm512_mask_mov_ps(x, nan, _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF)));
        _mm512_storeu_ps(dst + i, x);
    }
    return i;
}

#elif defined(FP8Q__AVX2) || defined(FP8Q__SSE2)
/* AVX2 and SSE2 share one algorithm written with these small wrappers. */
#if defined(FP8Q__AVX2)
#define FP8Q__SIMD_NAME       "avx2"
#define FP8Q__ENC_BLOCK       32
typedef __m256i fp8q__vi;
typedef __m256 fp8q__vf;
#define FP8Q__LANES           8
#define fp8q__set1(x)         _mm256_set1_epi32((int)(x))
#define fp8q__set1f(x)        _mm256_set1_ps(x)
#define fp8q__and(a, b)       _mm256_and_si256(a, b)
#define fp8q__or(a, b)        _mm256_or_si256(a, b)
#define fp8q__add(a, b)       _mm256_add_epi32(a, b)
#define fp8q__sub(a, b)       _mm256_sub_epi32(a, b)
#define fp8q__srl(a, c)       _mm256_srl_epi32(a, c)
#define fp8q__sll(a, c)       _mm256_sll_epi32(a, c)
#define fp8q__srli(a, c)      _mm256_srli_epi32(a, c)
#define fp8q__slli(a, c)      _mm256_slli_epi32(a, c)
#define fp8q__cmpgt(a, b)     _mm256_cmpgt_epi32(a, b)
#define fp8q__cmpeq(a, b)     _mm256_cmpeq_epi32(a, b)
#define fp8q__select(m, a, b) _mm256_blendv_epi8(b, a, m) /* m ? a : b */
#define fp8q__loadf(p)        _mm256_loadu_ps(p)
#define fp8q__storef(p, x)    _mm256_storeu_ps(p, x)
#define fp8q__mulf(a, b)      _mm256_mul_ps(a, b)
#define fp8q__divf(a, b)      _mm256_div_ps(a, b)
#define fp8q__unord(a)        _mm256_castps_si256(_mm256_cmp_ps(a, a, _CMP_UNORD_Q))
#define fp8q__cvtf(a)         _mm256_cvtepi32_ps(a)
#define fp8q__f2i(a)          _mm256_castps_si256(a)
#define fp8q__i2f(a)          _mm256_castsi256_ps(a)
#define fp8q__load_bytes(p)   _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p)))
/* 32 codes (each <= 255) in four vectors -> 32 bytes in order. */
FP8Q__FORCE_INLINE void fp8q__store_bytes32(uint8_t *d, fp8q__vi a, fp8q__vi b, fp8q__vi c, fp8q__vi e)
{
    __m256i ab = _mm256_packs_epi32(a, b); /* a0-3 b0-3 | a4-7 b4-7 */
    __m256i ce = _mm256_packs_epi32(c, e);
    __m256i bytes = _mm256_packus_epi16(ab, ce); /* a0-3 b0-3 c0-3 e0-3 | a4-7 b4-7 c4-7 e4-7 */
    bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)d, bytes);
}
#else
#if defined(FP8Q__SSE41)
#define FP8Q__SIMD_NAME "sse4.1"
#else
#define FP8Q__SIMD_NAME "sse2"
#endif
#define FP8Q__ENC_BLOCK       16
typedef __m128i fp8q__vi;
typedef __m128 fp8q__vf;
#define FP8Q__LANES           4
#define fp8q__set1(x)         _mm_set1_epi32((int)(x))
#define fp8q__set1f(x)        _mm_set1_ps(x)
#define fp8q__and(a, b)       _mm_and_si128(a, b)
#define fp8q__or(a, b)        _mm_or_si128(a, b)
#define fp8q__add(a, b)       _mm_add_epi32(a, b)
#define fp8q__sub(a, b)       _mm_sub_epi32(a, b)
#define fp8q__srl(a, c)       _mm_srl_epi32(a, c)
#define fp8q__sll(a, c)       _mm_sll_epi32(a, c)
#define fp8q__srli(a, c)      _mm_srli_epi32(a, c)
#define fp8q__slli(a, c)      _mm_slli_epi32(a, c)
#define fp8q__cmpgt(a, b)     _mm_cmpgt_epi32(a, b)
#define fp8q__cmpeq(a, b)     _mm_cmpeq_epi32(a, b)
#define fp8q__select(m, a, b) _mm_or_si128(_mm_and_si128(m, a), _mm_andnot_si128(m, b))
#define fp8q__loadf(p)        _mm_loadu_ps(p)
#define fp8q__storef(p, x)    _mm_storeu_ps(p, x)
#define fp8q__mulf(a, b)      _mm_mul_ps(a, b)
#define fp8q__divf(a, b)      _mm_div_ps(a, b)
#define fp8q__unord(a)        _mm_castps_si128(_mm_cmpunord_ps(a, a))
#define fp8q__cvtf(a)         _mm_cvtepi32_ps(a)
#define fp8q__f2i(a)          _mm_castps_si128(a)
#define fp8q__i2f(a)          _mm_castsi128_ps(a)
FP8Q__FORCE_INLINE __m128i fp8q__load_bytes(const uint8_t *p)
{
    int32_t w;
    __m128i v;
    FP8Q__MEMCPY(&w, p, 4);
    v = _mm_unpacklo_epi8(_mm_cvtsi32_si128(w), _mm_setzero_si128());
    return _mm_unpacklo_epi16(v, _mm_setzero_si128());
}
FP8Q__FORCE_INLINE void fp8q__store_bytes16(uint8_t *d, fp8q__vi a, fp8q__vi b, fp8q__vi c, fp8q__vi e)
{
    _mm_storeu_si128((__m128i *)d, _mm_packus_epi16(_mm_packs_epi32(a, b), _mm_packs_epi32(c, e)));
}
#endif

#if defined(FP8Q__AVX2)
FP8Q__FORCE_INLINE fp8q__vi fp8q__subnormal_codes(fp8q__vi a, const fp8q__enc_kernel *k)
{
    const __m256 t =
        _mm256_mul_ps(_mm256_castsi256_ps(_mm256_min_epi32(a, fp8q__set1(k->minnorm))), _mm256_set1_ps(k->sub_mul));
    return _mm256_cvttps_epi32(_mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
#elif defined(FP8Q__SSE41)
FP8Q__FORCE_INLINE fp8q__vi fp8q__subnormal_codes(fp8q__vi a, const fp8q__enc_kernel *k)
{
    const __m128 t = _mm_mul_ps(_mm_castsi128_ps(_mm_min_epi32(a, fp8q__set1(k->minnorm))), _mm_set1_ps(k->sub_mul));
    return _mm_cvttps_epi32(_mm_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
#else
/* SSE2 has no instruction with its own rounding mode: truncate (exact,
   mode-independent), then compare the exact remainder with one half. */
FP8Q__FORCE_INLINE fp8q__vi fp8q__subnormal_codes(fp8q__vi a, const fp8q__enc_kernel *k)
{
    const fp8q__vi minnorm = fp8q__set1(k->minnorm);
    const __m128 t =
        _mm_mul_ps(_mm_castsi128_ps(fp8q__select(fp8q__cmpgt(a, minnorm), minnorm, a)), _mm_set1_ps(k->sub_mul));
    const __m128i whole = _mm_cvttps_epi32(t);
    const __m128 frac = _mm_sub_ps(t, _mm_cvtepi32_ps(whole)), half = _mm_set1_ps(0.5f);
    const __m128i odd = fp8q__cmpeq(fp8q__and(whole, fp8q__set1(1)), fp8q__set1(1));
    const __m128i up = _mm_or_si128(_mm_castps_si128(_mm_cmpgt_ps(frac, half)),
                                    _mm_and_si128(_mm_castps_si128(_mm_cmpeq_ps(frac, half)), odd));
    return fp8q__sub(whole, up); /* up is -1 where rounding goes up */
}
#endif

FP8Q__FORCE_INLINE fp8q__vi fp8q__encode_vec(fp8q__vf x, const fp8q__enc_kernel *k)
{
    const fp8q__vi u = fp8q__f2i(x);
    const fp8q__vi a = fp8q__and(u, fp8q__set1(0x7FFFFFFF));
    const fp8q__vi sign = fp8q__and(fp8q__srli(u, 24), fp8q__set1(0x80));
    const __m128i sh = _mm_cvtsi32_si128((int)k->shift);
    const fp8q__vi lsb = fp8q__and(fp8q__srl(a, sh), fp8q__set1(1));
    fp8q__vi mag = fp8q__srl(fp8q__add(fp8q__sub(a, fp8q__set1(k->rebias)), fp8q__add(lsb, fp8q__set1(k->round))), sh);
    const fp8q__vi sub = fp8q__subnormal_codes(a, k);
    fp8q__vi has_sign;
    mag = fp8q__select(fp8q__cmpgt(fp8q__set1(k->minnorm), a), sub, mag);
    mag = fp8q__select(fp8q__cmpgt(a, fp8q__set1(k->ovf - 1u)), fp8q__set1(k->ovf_code), mag);
    has_sign = k->zero_signed ? fp8q__set1(0xFFFFFFFFu) : fp8q__cmpgt(mag, fp8q__set1(0));
    mag = fp8q__or(mag, fp8q__and(sign, has_sign));
    return fp8q__select(fp8q__cmpgt(a, fp8q__set1(0x7F800000)), fp8q__set1(k->nan_code), mag);
}

FP8Q__FORCE_INLINE fp8q__vf fp8q__scale_vec(fp8q__vf x, fp8q_scale_op op, fp8q__vf s)
{
    if (op == FP8Q_SCALE_MUL) return fp8q__mulf(x, s);
    if (op == FP8Q_SCALE_DIV) return fp8q__divf(x, s);
    return x;
}

static size_t fp8q__encode_f32_simd(uint8_t *dst, const float *src, size_t n, const fp8q__enc_kernel *kernel,
                                    fp8q_scale_op op, float scale)
{
    const fp8q__enc_kernel local = *kernel, *k = &local; /* byte stores cannot alias a local */
    const fp8q__vf s = fp8q__set1f(scale);
    size_t i = 0;
    for (; i + 4 * FP8Q__LANES <= n; i += 4 * FP8Q__LANES) {
        const float *p = src + i;
        fp8q__vi c0 = fp8q__encode_vec(fp8q__scale_vec(fp8q__loadf(p), op, s), k);
        fp8q__vi c1 = fp8q__encode_vec(fp8q__scale_vec(fp8q__loadf(p + FP8Q__LANES), op, s), k);
        fp8q__vi c2 = fp8q__encode_vec(fp8q__scale_vec(fp8q__loadf(p + 2 * FP8Q__LANES), op, s), k);
        fp8q__vi c3 = fp8q__encode_vec(fp8q__scale_vec(fp8q__loadf(p + 3 * FP8Q__LANES), op, s), k);
#if defined(FP8Q__AVX2)
        fp8q__store_bytes32(dst + i, c0, c1, c2, c3);
#else
        fp8q__store_bytes16(dst + i, c0, c1, c2, c3);
#endif
    }
    return i;
}

static size_t fp8q__decode_f32_simd(float *dst, const uint8_t *src, size_t n, const fp8q__dec_kernel *kernel,
                                    fp8q_scale_op op, float scale)
{
    const fp8q__dec_kernel local = *kernel, *k = &local; /* float stores cannot alias a local */
    const fp8q__vf s = fp8q__set1f(scale);
    const __m128i sh = _mm_cvtsi32_si128((int)k->shift);
    size_t i = 0;
    for (; i + FP8Q__LANES <= n; i += FP8Q__LANES) {
        const fp8q__vi b = fp8q__load_bytes(src + i);
        const fp8q__vi mag = fp8q__and(b, fp8q__set1(0x7F));
        const fp8q__vi sign = fp8q__slli(fp8q__and(b, fp8q__set1(0x80)), 24);
        const fp8q__vi sub = fp8q__f2i(fp8q__mulf(fp8q__cvtf(mag), fp8q__set1f(k->sub_scale)));
        fp8q__vi v = fp8q__add(fp8q__sll(mag, sh), fp8q__set1(k->rebias));
        fp8q__vi nan;
        fp8q__vf x;
        v = fp8q__select(fp8q__cmpgt(fp8q__set1(k->n_sub), mag), sub, v);
        v = fp8q__select(fp8q__cmpeq(mag, fp8q__set1(k->inf_mag)), fp8q__set1(0x7F800000), v);
        v = fp8q__or(v, sign);
        nan = fp8q__or(fp8q__cmpgt(mag, fp8q__set1(k->nan_mag - 1u)), fp8q__cmpeq(b, fp8q__set1(k->nan_byte)));
        x = fp8q__scale_vec(fp8q__i2f(v), op, s);
        nan = fp8q__or(nan, fp8q__unord(x));
        fp8q__storef(dst + i, fp8q__i2f(fp8q__select(nan, fp8q__set1(0x7FFFFFFF), fp8q__f2i(x))));
    }
    return i;
}

#elif defined(FP8Q__NEON)
#define FP8Q__SIMD_NAME "neon"
#define FP8Q__ENC_BLOCK 16
FP8Q__FORCE_INLINE uint32x4_t fp8q__encode4_neon(float32x4_t x, const fp8q__enc_kernel *k)
{
    const uint32x4_t u = vreinterpretq_u32_f32(x);
    const uint32x4_t a = vandq_u32(u, vdupq_n_u32(0x7FFFFFFFu));
    const uint32x4_t sign = vandq_u32(vshrq_n_u32(u, 24), vdupq_n_u32(0x80u));
    const int32x4_t rsh = vdupq_n_s32(-(int32_t)k->shift);
    const uint32x4_t lsb = vandq_u32(vshlq_u32(a, rsh), vdupq_n_u32(1));
    uint32x4_t mag =
        vshlq_u32(vaddq_u32(vsubq_u32(a, vdupq_n_u32(k->rebias)), vaddq_u32(lsb, vdupq_n_u32(k->round))), rsh);
    const float32x4_t t = vmulq_n_f32(vreinterpretq_f32_u32(vminq_u32(a, vdupq_n_u32(k->minnorm))), k->sub_mul);
    const uint32x4_t sub = vcvtq_u32_f32(vrndnq_f32(t)); /* RNE by the instruction, then exact */
    uint32x4_t has_sign;
    mag = vbslq_u32(vcltq_u32(a, vdupq_n_u32(k->minnorm)), sub, mag);
    mag = vbslq_u32(vcgeq_u32(a, vdupq_n_u32(k->ovf)), vdupq_n_u32(k->ovf_code), mag);
    has_sign = k->zero_signed ? vdupq_n_u32(0xFFFFFFFFu) : vtstq_u32(mag, mag);
    mag = vorrq_u32(mag, vandq_u32(sign, has_sign));
    return vbslq_u32(vcgtq_u32(a, vdupq_n_u32(0x7F800000u)), vdupq_n_u32(k->nan_code), mag);
}

FP8Q__FORCE_INLINE float32x4_t fp8q__scale_neon(float32x4_t x, fp8q_scale_op op, float32x4_t s)
{
    if (op == FP8Q_SCALE_MUL) return vmulq_f32(x, s);
    if (op == FP8Q_SCALE_DIV) return vdivq_f32(x, s);
    return x;
}

static size_t fp8q__encode_f32_simd(uint8_t *dst, const float *src, size_t n, const fp8q__enc_kernel *kernel,
                                    fp8q_scale_op op, float scale)
{
    const fp8q__enc_kernel local = *kernel, *k = &local; /* byte stores cannot alias a local */
    const float32x4_t s = vdupq_n_f32(scale);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        uint32x4_t c0 = fp8q__encode4_neon(fp8q__scale_neon(vld1q_f32(src + i), op, s), k);
        uint32x4_t c1 = fp8q__encode4_neon(fp8q__scale_neon(vld1q_f32(src + i + 4), op, s), k);
        uint32x4_t c2 = fp8q__encode4_neon(fp8q__scale_neon(vld1q_f32(src + i + 8), op, s), k);
        uint32x4_t c3 = fp8q__encode4_neon(fp8q__scale_neon(vld1q_f32(src + i + 12), op, s), k);
        uint16x8_t lo = vcombine_u16(vmovn_u32(c0), vmovn_u32(c1));
        uint16x8_t hi = vcombine_u16(vmovn_u32(c2), vmovn_u32(c3));
        vst1q_u8(dst + i, vcombine_u8(vmovn_u16(lo), vmovn_u16(hi)));
    }
    return i;
}

static size_t fp8q__decode_f32_simd(float *dst, const uint8_t *src, size_t n, const fp8q__dec_kernel *kernel,
                                    fp8q_scale_op op, float scale)
{
    const fp8q__dec_kernel local = *kernel, *k = &local; /* float stores cannot alias a local */
    const float32x4_t s = vdupq_n_f32(scale);
    const int32x4_t lsh = vdupq_n_s32((int32_t)k->shift);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const uint16x8_t b16 = vmovl_u8(vld1_u8(src + i));
        int half;
        for (half = 0; half < 2; half++) {
            const uint32x4_t b = half ? vmovl_high_u16(b16) : vmovl_u16(vget_low_u16(b16));
            const uint32x4_t mag = vandq_u32(b, vdupq_n_u32(0x7F));
            const uint32x4_t sign = vshlq_n_u32(vandq_u32(b, vdupq_n_u32(0x80)), 24);
            const uint32x4_t sub = vreinterpretq_u32_f32(vmulq_n_f32(vcvtq_f32_u32(mag), k->sub_scale));
            uint32x4_t v = vaddq_u32(vshlq_u32(mag, lsh), vdupq_n_u32(k->rebias));
            uint32x4_t nan;
            float32x4_t x;
            v = vbslq_u32(vcltq_u32(mag, vdupq_n_u32(k->n_sub)), sub, v);
            v = vbslq_u32(vceqq_u32(mag, vdupq_n_u32(k->inf_mag)), vdupq_n_u32(0x7F800000u), v);
            v = vorrq_u32(v, sign);
            nan = vorrq_u32(vcgeq_u32(mag, vdupq_n_u32(k->nan_mag)), vceqq_u32(b, vdupq_n_u32(k->nan_byte)));
            x = fp8q__scale_neon(vreinterpretq_f32_u32(v), op, s);
            nan = vorrq_u32(nan, vmvnq_u32(vceqq_f32(x, x)));
            vst1q_f32(dst + i + 4 * half,
                      vreinterpretq_f32_u32(vbslq_u32(nan, vdupq_n_u32(0x7FFFFFFFu), vreinterpretq_u32_f32(x))));
        }
    }
    return i;
}
#endif

#ifndef FP8Q__SIMD_NAME
#define FP8Q__SIMD_NAME "scalar"
#endif

FP8QDEF const char *fp8q_simd_name(void) { return FP8Q__SIMD_NAME; }

/* Scalar tails (and the whole array without SIMD) use the reference itself. */
static void fp8q__encode_f32_ref(uint8_t *dst, const float *src, size_t n, fp8q_format fmt, fp8q_saturation sat,
                                 fp8q_scale_op op, float scale)
{
    size_t i;
    for (i = 0; i < n; i++) dst[i] = fp8q_from_f32(fp8q__apply_scale(src[i], op, scale), fmt, sat);
}

FP8QDEF fp8q_result fp8q_encode_f32(uint8_t *dst, const float *src, size_t n, fp8q_format fmt, fp8q_saturation sat,
                                    fp8q_scale_op op, float scale)
{
    size_t done = 0;
    if (!fp8q__bulk_args_ok(dst, src, n, fmt, op) || (sat != FP8Q_SATFINITE && sat != FP8Q_NOSAT)) return FP8Q_ERR_ARG;
    if (n == 0) return FP8Q_OK; /* dst and src may be NULL */
#ifdef FP8Q__HAVE_SIMD
    if (n >= FP8Q__ENC_BLOCK) {
        fp8q__enc_kernel k;
        fp8q__enc_kernel_init(&k, &fp8q__formats[fmt], sat);
        done = fp8q__encode_f32_simd(dst, src, n, &k, op, scale);
    }
#endif
    fp8q__encode_f32_ref(dst + done, src + done, n - done, fmt, sat, op, scale);
    return FP8Q_OK;
}

/* The 16-bit paths go through a float buffer of this many elements on the
   stack: widen exactly, then the float32 path (so the bits cannot differ). */
#define FP8Q__CHUNK 256

static void fp8q__widen_f16(float *dst, const uint16_t *src, size_t n)
{
    size_t i = 0;
#if defined(FP8Q__AVX512)
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
#elif defined(FP8Q__F16C) && defined(FP8Q__AVX2)
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
#elif defined(FP8Q__F16C)
    for (; i + 4 <= n; i += 4) _mm_storeu_ps(dst + i, _mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)(src + i))));
#elif defined(FP8Q__NEON)
    for (; i + 4 <= n; i += 4) {
        uint16x4_t h = vld1_u16(src + i);
        vst1q_f32(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(h)));
    }
#endif
    for (; i < n; i++) dst[i] = fp8q_f16_to_f32(src[i]);
}

static void fp8q__narrow_f16(uint16_t *dst, const float *src, size_t n)
{
    size_t i = 0;
#if defined(FP8Q__AVX512)
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#elif defined(FP8Q__F16C) && defined(FP8Q__AVX2)
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#elif defined(FP8Q__F16C)
    for (; i + 4 <= n; i += 4)
        _mm_storel_epi64((__m128i *)(dst + i),
                         _mm_cvtps_ph(_mm_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#elif defined(FP8Q__NEON)
    for (; i + 4 <= n; i += 4) vst1_u16(dst + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(src + i))));
#endif
    for (; i < n; i++) dst[i] = fp8q_f32_to_f16(src[i]);
}

static void fp8q__widen_bf16(float *dst, const uint16_t *src, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) dst[i] = fp8q_bf16_to_f32(src[i]);
}

static void fp8q__narrow_bf16(uint16_t *dst, const float *src, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) dst[i] = fp8q_f32_to_bf16(src[i]);
}

typedef void (*fp8q__widen_fn)(float *, const uint16_t *, size_t);
typedef void (*fp8q__narrow_fn)(uint16_t *, const float *, size_t);

static fp8q_result fp8q__encode_16(uint8_t *dst, const uint16_t *src, size_t n, fp8q_format fmt, fp8q_saturation sat,
                                   fp8q_scale_op op, float scale, fp8q__widen_fn widen)
{
    float tmp[FP8Q__CHUNK];
    size_t i;
    if (!fp8q__bulk_args_ok(dst, src, n, fmt, op) || (sat != FP8Q_SATFINITE && sat != FP8Q_NOSAT)) return FP8Q_ERR_ARG;
    if (n == 0) return FP8Q_OK; /* dst and src may be NULL */
    for (i = 0; i < n; i += FP8Q__CHUNK) {
        size_t len = n - i < FP8Q__CHUNK ? n - i : FP8Q__CHUNK;
        widen(tmp, src + i, len);
        fp8q_encode_f32(dst + i, tmp, len, fmt, sat, op, scale);
    }
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_encode_f16(uint8_t *dst, const uint16_t *src, size_t n, fp8q_format fmt, fp8q_saturation sat,
                                    fp8q_scale_op op, float scale)
{
    return fp8q__encode_16(dst, src, n, fmt, sat, op, scale, fp8q__widen_f16);
}

FP8QDEF fp8q_result fp8q_encode_bf16(uint8_t *dst, const uint16_t *src, size_t n, fp8q_format fmt, fp8q_saturation sat,
                                     fp8q_scale_op op, float scale)
{
    return fp8q__encode_16(dst, src, n, fmt, sat, op, scale, fp8q__widen_bf16);
}

/* The scalar decode definition for one code: op(float(v), scale), NaN canonical. */
static float fp8q__decode_one(const fp8q_format_info *f, uint8_t v, fp8q_scale_op op, float scale)
{
    float x = fp8q__apply_scale(fp8q__f32_from_bits(fp8q__decode_bits(f, v)), op, scale);
    return x != x ? fp8q__f32_from_bits(FP8Q__F32_CANONICAL_NAN) : x;
}

/* Without 256-bit or NEON vectors a table lookup beats arithmetic decoding;
   the table holds the definition for all 256 codes, scale included, so
   results are the same bits by construction. */
#if !defined(FP8Q__AVX512) && !defined(FP8Q__AVX2) && !defined(FP8Q__NEON)
#define FP8Q__DECODE_BY_TABLE 1
#endif
#define FP8Q__TABLE_MIN 1024 /* elements from which a table pays for itself */

FP8QDEF fp8q_result fp8q_decode_f32(float *dst, const uint8_t *src, size_t n, fp8q_format fmt, fp8q_scale_op op,
                                    float scale)
{
    const fp8q_format_info *f;
    size_t i = 0;
    if (!fp8q__bulk_args_ok(dst, src, n, fmt, op)) return FP8Q_ERR_ARG;
    if (n == 0) return FP8Q_OK; /* dst and src may be NULL */
    f = &fp8q__formats[fmt];
#ifdef FP8Q__DECODE_BY_TABLE
    if (n >= FP8Q__TABLE_MIN) {
        float table[256];
        int c;
        for (c = 0; c < 256; c++) table[c] = fp8q__decode_one(f, (uint8_t)c, op, scale);
        for (; i < n; i++) dst[i] = table[src[i]];
        return FP8Q_OK;
    }
#endif
#ifdef FP8Q__HAVE_SIMD
    {
        fp8q__dec_kernel k;
        fp8q__dec_kernel_init(&k, f);
        i = fp8q__decode_f32_simd(dst, src, n, &k, op, scale);
    }
#endif
    for (; i < n; i++) dst[i] = fp8q__decode_one(f, src[i], op, scale);
    return FP8Q_OK;
}

static fp8q_result fp8q__decode_16(uint16_t *dst, const uint8_t *src, size_t n, fp8q_format fmt, fp8q_scale_op op,
                                   float scale, fp8q__narrow_fn narrow)
{
    float tmp[FP8Q__CHUNK];
    size_t i;
    if (!fp8q__bulk_args_ok(dst, src, n, fmt, op)) return FP8Q_ERR_ARG;
    if (n == 0) return FP8Q_OK; /* dst and src may be NULL */
    for (i = 0; i < n; i += FP8Q__CHUNK) {
        size_t len = n - i < FP8Q__CHUNK ? n - i : FP8Q__CHUNK;
        fp8q_decode_f32(tmp, src + i, len, fmt, op, scale);
        narrow(dst + i, tmp, len);
    }
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_decode_f16(uint16_t *dst, const uint8_t *src, size_t n, fp8q_format fmt, fp8q_scale_op op,
                                    float scale)
{
    return fp8q__decode_16(dst, src, n, fmt, op, scale, fp8q__narrow_f16);
}

FP8QDEF fp8q_result fp8q_decode_bf16(uint16_t *dst, const uint8_t *src, size_t n, fp8q_format fmt, fp8q_scale_op op,
                                     float scale)
{
    return fp8q__decode_16(dst, src, n, fmt, op, scale, fp8q__narrow_bf16);
}

/* ------------------------------------------------------------------ E8M0 */

/* CUDA's host algorithm: the bfloat16 exponent field is the RZ result. */
FP8QDEF uint8_t fp8q_e8m0_from_bf16(uint16_t b, fp8q_saturation sat, fp8q_e8m0_rounding rnd)
{
    const uint32_t mag = b & 0x7FFFu;
    uint32_t e = (b >> 7) & 0xFFu;
    if (rnd == FP8Q_E8M0_ROUND_UP && (b & 0x7Fu) && mag > 0x0040u && mag < 0x7F80u) e++; /* > 2^-127, finite */
    if (sat == FP8Q_SATFINITE && mag <= 0x7F80u && e == 0xFFu) e = 0xFEu;                /* non-NaN overflow */
    return (uint8_t)e;
}

FP8QDEF uint8_t fp8q_e8m0_from_f32(float x, fp8q_saturation sat, fp8q_e8m0_rounding rnd)
{
    const uint32_t u = fp8q__f32_bits(x), a = u & 0x7FFFFFFFu;
    uint32_t b;
    if (a > 0x7F800000u) return fp8q_e8m0_from_bf16(0x7FFFu, sat, rnd);
    if (rnd == FP8Q_E8M0_ROUND_ZERO) return fp8q_e8m0_from_bf16((uint16_t)(u >> 16), sat, rnd);
    b = (a >> 16) + ((a < 0x7F800000u && (a & 0xFFFFu)) ? 1u : 0u); /* |x| rounded up to bfloat16 */
    return fp8q_e8m0_from_bf16((uint16_t)b, sat, rnd);
}

FP8QDEF uint16_t fp8q_e8m0_to_bf16(uint8_t e)
{
    if (e == 0xFFu) return 0x7FFFu;
    if (e == 0) return 0x0040u;
    return (uint16_t)((uint16_t)e << 7);
}

FP8QDEF float fp8q_e8m0_to_f32(uint8_t e)
{
    if (e == 0xFFu) return fp8q__f32_from_bits(FP8Q__F32_CANONICAL_NAN);
    if (e == 0) return fp8q__f32_from_bits(0x00400000u); /* 2^-127, a float subnormal */
    return fp8q__f32_from_bits((uint32_t)e << 23);
}

/* ------------------------------------------------------ Intel Gaudi FP8 */

#define FP8Q__GAUDI_BIAS_MAX 63 /* the 6-bit bias field (GAUDI.md 1.3) */

/* The four 143 biases of Gaudi2 (GAUDI.md 1.1), ascending. */
static const int fp8q__gaudi2_biases_143[4] = {3, 7, 11, 15};

/* A format's derived constants: one place that knows how flavour and mode
   map to bits. */
typedef struct fp8q__gaudi_fmt {
    uint32_t m; /* mantissa bits: 3 (143), 2 (152) */
    int bias;   /* exponent bias */
    fp8q_gaudi_infnan infnan;
    uint32_t max_code; /* largest finite magnitude code */
    uint32_t top_e;    /* the all-ones exponent field: 15 (143), 31 (152) */
    uint32_t ovf_code; /* magnitude code of an unclipped overflow: LEGACY inf, FN NaN 7F, NONE max */
    int min_normal_fe; /* float exponent field of the smallest normal, 2^(1 - bias) */
} fp8q__gaudi_fmt;

static int fp8q__gaudi_fp8_valid(const fp8q_gaudi_fp8 *f)
{
    return f != NULL && (unsigned)f->flavor <= 1u && (unsigned)f->bias <= FP8Q__GAUDI_BIAS_MAX &&
           (unsigned)f->infnan <= 2u;
}

/* Codes 0-4, 6, 7 (5 is "default", not a mode). */
static int fp8q__gaudi_rounding_valid(fp8q_gaudi_rounding r) { return (unsigned)r <= 7u && (0xDFu >> r) & 1u; }

static int fp8q__gaudi_clip_valid(fp8q_gaudi_clip c) { return (unsigned)c <= 2u; }

static int fp8q__gaudi_is_stochastic(fp8q_gaudi_rounding r) { return r == FP8Q_GAUDI_SR || r == FP8Q_GAUDI_SRNE; }

/* Largest finite magnitude code and unclipped overflow code, [flavour][mode]:
   LEGACY 77/7B (inf 78/7C), NONE 7F (overflow: max), FN 7E (overflow: NaN 7F). */
static const uint8_t fp8q__gaudi_max_codes[2][3] = {{0x77, 0x7F, 0x7E}, {0x7B, 0x7F, 0x7E}};
static const uint8_t fp8q__gaudi_ovf_codes[2][3] = {{0x78, 0x7F, 0x7F}, {0x7C, 0x7F, 0x7F}};

/* f must be valid. */
FP8Q__FORCE_INLINE fp8q__gaudi_fmt fp8q__gaudi_fmt_of(const fp8q_gaudi_fp8 *f)
{
    fp8q__gaudi_fmt k;
    k.m = 3u - (uint32_t)f->flavor;
    k.bias = f->bias;
    k.infnan = f->infnan;
    k.top_e = (1u << (7u - k.m)) - 1u;
    k.max_code = fp8q__gaudi_max_codes[f->flavor][f->infnan];
    k.ovf_code = fp8q__gaudi_ovf_codes[f->flavor][f->infnan];
    k.min_normal_fe = 128 - f->bias;
    return k;
}

/* ---- decoding */

static uint32_t fp8q__gaudi_decode_bits(const fp8q__gaudi_fmt *k, uint8_t v)
{
    const uint32_t sign = ((uint32_t)v & 0x80u) << 24;
    const uint32_t mag = v & 0x7Fu;
    const uint32_t mmask = (1u << k->m) - 1u;
    int e = (int)(mag >> k->m);
    uint32_t man = mag & mmask;
    if (k->infnan == FP8Q_GAUDI_INFNAN_LEGACY && (uint32_t)e == k->top_e)
        return man ? FP8Q__F32_CANONICAL_NAN : sign | 0x7F800000u;
    if (k->infnan == FP8Q_GAUDI_INFNAN_FN && mag == 0x7Fu) return FP8Q__F32_CANONICAL_NAN;
    if (mag == 0) return sign;
    if (e == 0) { /* subnormal: normalise (every one is a normal float) */
        e = 1;
        while (!(man & (1u << k->m))) {
            man <<= 1;
            e--;
        }
        man &= mmask;
    }
    return sign | ((uint32_t)(e - k->bias + 127) << 23) | (man << (23u - k->m));
}

FP8QDEF float fp8q_gaudi_to_f32(uint8_t v, const fp8q_gaudi_fp8 *f)
{
    fp8q__gaudi_fmt k;
    FP8Q_ASSERT(fp8q__gaudi_fp8_valid(f));
    if (!fp8q__gaudi_fp8_valid(f)) return fp8q__f32_from_bits(FP8Q__F32_CANONICAL_NAN);
    k = fp8q__gaudi_fmt_of(f);
    return fp8q__f32_from_bits(fp8q__gaudi_decode_bits(&k, v));
}

FP8QDEF float fp8q_gaudi_max(const fp8q_gaudi_fp8 *f)
{
    fp8q__gaudi_fmt k;
    FP8Q_ASSERT(fp8q__gaudi_fp8_valid(f));
    if (!fp8q__gaudi_fp8_valid(f)) return fp8q__f32_from_bits(FP8Q__F32_CANONICAL_NAN);
    k = fp8q__gaudi_fmt_of(f);
    return fp8q__f32_from_bits(fp8q__gaudi_decode_bits(&k, (uint8_t)k.max_code));
}

/* ---- encoding (GAUDI.md 2; the RTL model's fp32_to_fp8) */

/* Whether rounding r moves magnitudes toward zero for this sign: then an
   overflow gives max, not inf/NaN. */
FP8Q__FORCE_INLINE int fp8q__gaudi_toward_zero(fp8q_gaudi_rounding r, uint32_t sign)
{
    return r == FP8Q_GAUDI_RZ || (r == FP8Q_GAUDI_RU && sign) || (r == FP8Q_GAUDI_RD && !sign);
}

/* The rounding increment (0 or 1) for a truncated code with discarded bits
   rem (s of them, 20 <= s <= 24) under r (SRNE already resolved). No switch:
   small targets would need a jump-table helper from the compiler runtime. */
FP8Q__FORCE_INLINE uint32_t fp8q__gaudi_increment(fp8q_gaudi_rounding r, uint32_t code, uint32_t rem, uint32_t s,
                                                  uint32_t sign, uint32_t random)
{
    const uint32_t half = 1u << (s - 1u);
    if (r == FP8Q_GAUDI_RNE) return (rem + half - 1u + (code & 1u)) >> s; /* above half, or a tie with code odd */
    if (r == FP8Q_GAUDI_RHAZ) return (rem + half) >> s;
    if (r == FP8Q_GAUDI_SR) return rem && (rem << (32u - s)) >= random;      /* left-aligned discarded bits */
    return rem && (r == FP8Q_GAUDI_RU ? !sign : r == FP8Q_GAUDI_RD && sign); /* RZ: 0 */
}

/* The rounded magnitude code of a finite nonzero float with bits a (sign
   removed) as if the exponent range had no top; may exceed 0x7F. */
FP8Q__FORCE_INLINE uint32_t fp8q__gaudi_round(const fp8q__gaudi_fmt *k, uint32_t a, uint32_t sign,
                                              fp8q_gaudi_rounding r, uint32_t random)
{
    const int fe = (int)(a >> 23);
    uint32_t code, rem, s;
    if (fe >= k->min_normal_fe) { /* normal result: the float's bits rebiased */
        s = 23u - k->m;
        code = (a - ((uint32_t)(127 - k->bias) << 23)) >> s;
        rem = a & ((1u << s) - 1u);
        if (r == FP8Q_GAUDI_SRNE) r = FP8Q_GAUDI_SR;
    } else if (fe >= k->min_normal_fe - (int)k->m - 1) { /* subnormal result, |x| >= min subnormal / 2 */
        const uint32_t sig = (a & 0x7FFFFFu) | 0x800000u;
        s = 23u - k->m + (uint32_t)(k->min_normal_fe - fe); /* up to 24 */
        code = sig >> s;
        rem = sig & ((1u << s) - 1u);
        if (r == FP8Q_GAUDI_SRNE) r = FP8Q_GAUDI_RNE;
    } else { /* below half the min subnormal, float subnormals included */
        return (r == FP8Q_GAUDI_RU && !sign) || (r == FP8Q_GAUDI_RD && sign);
    }
    return code + fp8q__gaudi_increment(r, code, rem, s, sign, random);
}

FP8Q__FORCE_INLINE uint8_t fp8q__gaudi_encode(const fp8q__gaudi_fmt *k, uint32_t u, fp8q_gaudi_rounding r,
                                              fp8q_gaudi_clip clip, uint32_t random)
{
    const uint32_t sign = (u >> 24) & 0x80u;
    const uint32_t a = u & 0x7FFFFFFFu;
    uint32_t code;
    if (a > 0x7F800000u) return (uint8_t)(k->infnan == FP8Q_GAUDI_INFNAN_FN ? 0x7Fu | sign : 0x7Fu); /* NaN */
    if (a == 0x7F800000u)                                                                            /* inf */
        return (uint8_t)((clip == FP8Q_GAUDI_SATURATE ? k->max_code : k->ovf_code) | sign);
    if (a == 0) return (uint8_t)sign;
    code = fp8q__gaudi_round(k, a, sign, r, random);
    if (code > k->max_code) /* overflow */
        code = clip != FP8Q_GAUDI_NO_CLIP || fp8q__gaudi_toward_zero(r, sign) ? k->max_code : k->ovf_code;
    return (uint8_t)(code | sign);
}

FP8QDEF uint8_t fp8q_gaudi_from_f32(float x, const fp8q_gaudi_fp8 *f, fp8q_gaudi_rounding r, fp8q_gaudi_clip clip,
                                    uint32_t random)
{
    fp8q__gaudi_fmt k;
    const int ok = fp8q__gaudi_fp8_valid(f) && fp8q__gaudi_rounding_valid(r) && fp8q__gaudi_clip_valid(clip);
    FP8Q_ASSERT(ok);
    if (!ok) return 0;
    k = fp8q__gaudi_fmt_of(f);
    return fp8q__gaudi_encode(&k, fp8q__f32_bits(x), r, clip, random);
}

/* ---- bulk */

static int fp8q__gaudi_encode_args_ok(const void *dst, const void *src, size_t n, const fp8q_gaudi_fp8 *f,
                                      fp8q_gaudi_rounding r, fp8q_gaudi_clip clip, const uint32_t *random)
{
    if (n > 0 && (dst == NULL || src == NULL || (random == NULL && fp8q__gaudi_is_stochastic(r)))) return 0;
    return fp8q__gaudi_fp8_valid(f) && fp8q__gaudi_rounding_valid(r) && fp8q__gaudi_clip_valid(clip);
}

/* x * inv_scale as one float32 operation; inv_scale 1 leaves x untouched. */
FP8Q__FORCE_INLINE uint32_t fp8q__gaudi_scaled_bits(float x, float inv_scale)
{
    float y;
    if (inv_scale == 1.0f) return fp8q__f32_bits(x);
    y = x * inv_scale;
    return fp8q__f32_bits(y);
}

FP8QDEF fp8q_result fp8q_gaudi_encode_f32(uint8_t *dst, const float *src, size_t n, const fp8q_gaudi_fp8 *f,
                                          fp8q_gaudi_rounding r, fp8q_gaudi_clip clip, float inv_scale,
                                          const uint32_t *random)
{
    fp8q__gaudi_fmt k;
    const int sr = fp8q__gaudi_is_stochastic(r);
    size_t i;
    if (!fp8q__gaudi_encode_args_ok(dst, src, n, f, r, clip, random)) return FP8Q_ERR_ARG;
    k = fp8q__gaudi_fmt_of(f);
    if (r == FP8Q_GAUDI_RNE) /* the same function with the rounding known at compile time */
        for (i = 0; i < n; i++)
            dst[i] = fp8q__gaudi_encode(&k, fp8q__gaudi_scaled_bits(src[i], inv_scale), FP8Q_GAUDI_RNE, clip, 0);
    else
        for (i = 0; i < n; i++)
            dst[i] = fp8q__gaudi_encode(&k, fp8q__gaudi_scaled_bits(src[i], inv_scale), r, clip, sr ? random[i] : 0);
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_gaudi_encode_bf16(uint8_t *dst, const uint16_t *src, size_t n, const fp8q_gaudi_fp8 *f,
                                           fp8q_gaudi_rounding r, fp8q_gaudi_clip clip, float inv_scale,
                                           const uint32_t *random)
{
    fp8q__gaudi_fmt k;
    const int sr = fp8q__gaudi_is_stochastic(r);
    size_t i;
    if (!fp8q__gaudi_encode_args_ok(dst, src, n, f, r, clip, random)) return FP8Q_ERR_ARG;
    k = fp8q__gaudi_fmt_of(f);
    for (i = 0; i < n; i++) {
        const uint32_t u = fp8q__gaudi_scaled_bits(fp8q_bf16_to_f32(src[i]), inv_scale);
        dst[i] = fp8q__gaudi_encode(&k, u, r, clip, sr ? random[i] : 0);
    }
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_gaudi_decode_f32(float *dst, const uint8_t *src, size_t n, const fp8q_gaudi_fp8 *f,
                                          float scale)
{
    fp8q__gaudi_fmt k;
    size_t i;
    if ((n > 0 && (dst == NULL || src == NULL)) || !fp8q__gaudi_fp8_valid(f)) return FP8Q_ERR_ARG;
    k = fp8q__gaudi_fmt_of(f);
    for (i = 0; i < n; i++) {
        const float y = fp8q__f32_from_bits(fp8q__gaudi_decode_bits(&k, src[i])) * scale;
        dst[i] = y != y ? fp8q__f32_from_bits(FP8Q__F32_CANONICAL_NAN) : y;
    }
    return FP8Q_OK;
}

/* ---- devices, scales and biases (GAUDI.md 1.1, 1.3, 4) */

static int fp8q__gaudi2_has_bias_143(int bias)
{
    int i;
    for (i = 0; i < 4; i++)
        if (fp8q__gaudi2_biases_143[i] == bias) return 1;
    return 0;
}

FP8QDEF fp8q_result fp8q_gaudi_fp8_check(const fp8q_gaudi_fp8 *f, fp8q_gaudi device)
{
    if (!fp8q__gaudi_fp8_valid(f)) return FP8Q_ERR_ARG;
    if (device == FP8Q_GAUDI3) return FP8Q_OK;
    if (device != FP8Q_GAUDI2 || f->infnan != FP8Q_GAUDI_INFNAN_LEGACY) return FP8Q_ERR_ARG;
    if (f->flavor == FP8Q_GAUDI_143) return fp8q__gaudi2_has_bias_143(f->bias) ? FP8Q_OK : FP8Q_ERR_ARG;
    return f->bias == 15 ? FP8Q_OK : FP8Q_ERR_ARG;
}

FP8QDEF fp8q_gaudi_fp8 fp8q_gaudi_fp8_default(fp8q_gaudi device, fp8q_gaudi_flavor flavor)
{
    fp8q_gaudi_fp8 f;
    const int ok =
        (device == FP8Q_GAUDI2 || device == FP8Q_GAUDI3) && (flavor == FP8Q_GAUDI_143 || flavor == FP8Q_GAUDI_152);
    FP8Q_ASSERT(ok);
    f.flavor = ok ? flavor : FP8Q_GAUDI_143;
    f.bias = f.flavor == FP8Q_GAUDI_143 ? 7 : 15;
    f.infnan =
        ok && device == FP8Q_GAUDI3 && flavor == FP8Q_GAUDI_143 ? FP8Q_GAUDI_INFNAN_FN : FP8Q_GAUDI_INFNAN_LEGACY;
    return f;
}

/* 2^e for -126 <= e <= 127, exactly. */
static float fp8q__gaudi_pow2(int e) { return fp8q__f32_from_bits((uint32_t)(e + 127) << 23); }

FP8QDEF size_t fp8q_gaudi_hw_scales(fp8q_gaudi device, float *out, size_t cap)
{
    size_t n = 0;
    int b;
    if (device != FP8Q_GAUDI2 && device != FP8Q_GAUDI3) return 0;
    for (b = 0; b <= FP8Q__GAUDI_BIAS_MAX; b++) {
        if (device == FP8Q_GAUDI2 && !fp8q__gaudi2_has_bias_143(b)) continue;
        if (n < cap) out[n] = fp8q__gaudi_pow2(7 - b);
        n++;
    }
    return n;
}

/* k when s is exactly 2^k (s a positive normal or subnormal float), else
   a value outside every bias shift (1000). */
static int fp8q__gaudi_log2_exact(float s)
{
    const uint32_t u = fp8q__f32_bits(s);
    const uint32_t e = u >> 23;
    uint32_t man = u & 0x7FFFFFu;
    int k;
    if (e >= 0xFFu || (u & 0x80000000u) || u == 0) return 1000; /* inf, NaN, negative, +-0 */
    if (e > 0) return man ? 1000 : (int)e - 127;
    if (man & (man - 1u)) return 1000; /* a subnormal with more than one bit */
    for (k = -149; man > 1u; man >>= 1) k++;
    return k;
}

FP8QDEF int fp8q_gaudi_absorb_scale(float scale, const fp8q_gaudi_fp8 *f, fp8q_gaudi device, fp8q_gaudi_fp8 *out)
{
    fp8q_gaudi_fp8 g;
    const int k = fp8q__gaudi_log2_exact(scale);
    if (!fp8q__gaudi_fp8_valid(f) || out == NULL || k == 1000) return 0;
    g = *f;
    g.bias = f->bias - k;
    if (fp8q_gaudi_fp8_check(&g, device) != FP8Q_OK) return 0;
    *out = g;
    return 1;
}

#ifndef FP8Q_FREESTANDING
#include <stdlib.h> /* malloc, free: GEMM scratch */
/* ---------------------------------------------------- scaled quantization */

/* fminf/fmaxf without libm: a NaN operand yields the other operand. */
static float fp8q__fminf(float a, float b) { return a != a ? b : b != b ? a : (a < b ? a : b); }
static float fp8q__fmaxf(float a, float b) { return a != a ? b : b != b ? a : (a > b ? a : b); }

static float fp8q__round_hp(float x, fp8q_precision hp)
{
    return hp == FP8Q_HP_BF16 ? fp8q_bf16_to_f32(fp8q_f32_to_bf16(x)) : x;
}

#define FP8Q__MIN_SCALE_VLLM (1.0f / (448.0f * 512.0f)) /* csrc/quantization/fp8/common.cuh */
#define FP8Q__FLT_EPSILON    1.1920928955078125e-07f    /* 2^-23, torch.finfo(float32).eps */

/* The built-in recipes. Formulas (x: input, s: scale, q: FP8 byte):
   vllm-per-tensor   s = amax/448; q = cast(fmaxf(-448, fminf(x * (1/s), 448)))
                     vLLM online fp8 weights and dynamic per-tensor activations;
                     static input_scale uses the same quantization. amax = 0
                     gives s = 0, 1/s = Inf, 0 * Inf = NaN -> +448 (7E).
   vllm-per-token    s_t = max(amax_t/448, 1/(448*512)); q = cast(clamp(x / s_t))
   vllm-per-token-mul  same, q = cast(clamp(x * (1/s_t)))  (2024 kernels)
   fbgemm-per-row    s_t = max(min(amax_t, 1200)/448, 1/(448*512)); x / s_t
   ct-*-bf16         compressed-tensors on a BF16 model: s = max(bf16(amax/448), 2^-23),
                     q = cast(clamp(bf16(x / s))), dequant bf16(q * s); per tensor,
                     channel (weight rows) or token (activation rows)
   ct-*-f32          the same in float32
   deepseek-block128 128x128 weight blocks, s = amax/448 (weight_scale_inv, a
                     multiplier); q = cast(clamp(x / s))
   deepseek-group128 1x128 activation groups, same formula
   mx-e4m3, mx-e5m2  OCP MX v1.0 blocks of 32: s = 2^(floor(log2 amax) - emax),
                     q = cast_satfinite(x / s) */
static const fp8q_recipe fp8q__recipes[] = {
    {"vllm-per-tensor", "vLLM csrc/quantization/fp8/common.cu (dynamic and static per-tensor)", FP8Q_E4M3, 0, 0,
     FP8Q_RULE_AMAX, 448.0f, 0.0f, 0.0f, FP8Q_HP_F32, FP8Q_SCALE_MUL, 1, FP8Q_NOSAT},
    {"vllm-per-token", "vLLM csrc/quantization/fp8/common.cu dynamic_per_token (2025+: x / s)", FP8Q_E4M3, 1, 0,
     FP8Q_RULE_AMAX, 448.0f, 0.0f, FP8Q__MIN_SCALE_VLLM, FP8Q_HP_F32, FP8Q_SCALE_DIV, 1, FP8Q_NOSAT},
    {"vllm-per-token-mul", "vLLM dynamic_per_token, 2024 kernels (x * (1/s))", FP8Q_E4M3, 1, 0, FP8Q_RULE_AMAX, 448.0f,
     0.0f, FP8Q__MIN_SCALE_VLLM, FP8Q_HP_F32, FP8Q_SCALE_MUL, 1, FP8Q_NOSAT},
    {"fbgemm-per-row", "vLLM fbgemm_fp8.py: per-token, activation_scale_ub 1200", FP8Q_E4M3, 1, 0, FP8Q_RULE_AMAX,
     448.0f, 1200.0f, FP8Q__MIN_SCALE_VLLM, FP8Q_HP_F32, FP8Q_SCALE_DIV, 1, FP8Q_NOSAT},
    {"ct-tensor-bf16", "compressed-tensors calculate_qparams + _quantize, BF16 model, strategy tensor", FP8Q_E4M3, 0, 0,
     FP8Q_RULE_AMAX, 448.0f, 0.0f, FP8Q__FLT_EPSILON, FP8Q_HP_BF16, FP8Q_SCALE_DIV, 1, FP8Q_NOSAT},
    {"ct-channel-bf16", "compressed-tensors, BF16 model, strategy channel (FP8_DYNAMIC weights)", FP8Q_E4M3, 1, 0,
     FP8Q_RULE_AMAX, 448.0f, 0.0f, FP8Q__FLT_EPSILON, FP8Q_HP_BF16, FP8Q_SCALE_DIV, 1, FP8Q_NOSAT},
    {"ct-token-bf16", "compressed-tensors, BF16 model, strategy token (FP8_DYNAMIC activations)", FP8Q_E4M3, 1, 0,
     FP8Q_RULE_AMAX, 448.0f, 0.0f, FP8Q__FLT_EPSILON, FP8Q_HP_BF16, FP8Q_SCALE_DIV, 1, FP8Q_NOSAT},
    {"ct-tensor-f32", "compressed-tensors, F32 model, strategy tensor", FP8Q_E4M3, 0, 0, FP8Q_RULE_AMAX, 448.0f, 0.0f,
     FP8Q__FLT_EPSILON, FP8Q_HP_F32, FP8Q_SCALE_DIV, 1, FP8Q_NOSAT},
    {"ct-channel-f32", "compressed-tensors, F32 model, strategy channel", FP8Q_E4M3, 1, 0, FP8Q_RULE_AMAX, 448.0f, 0.0f,
     FP8Q__FLT_EPSILON, FP8Q_HP_F32, FP8Q_SCALE_DIV, 1, FP8Q_NOSAT},
    {"ct-token-f32", "compressed-tensors, F32 model, strategy token (dynamic activations)", FP8Q_E4M3, 1, 0,
     FP8Q_RULE_AMAX, 448.0f, 0.0f, FP8Q__FLT_EPSILON, FP8Q_HP_F32, FP8Q_SCALE_DIV, 1, FP8Q_NOSAT},
    {"deepseek-block128", "deepseek-ai/DeepSeek-V3 inference/kernel.py, 128x128 weight blocks", FP8Q_E4M3, 128, 128,
     FP8Q_RULE_AMAX, 448.0f, 0.0f, 0.0f, FP8Q_HP_F32, FP8Q_SCALE_DIV, 1, FP8Q_NOSAT},
    {"deepseek-group128", "deepseek-ai/DeepSeek-V3 inference/kernel.py act_quant, 1x128 groups", FP8Q_E4M3, 1, 128,
     FP8Q_RULE_AMAX, 448.0f, 0.0f, 0.0f, FP8Q_HP_F32, FP8Q_SCALE_DIV, 1, FP8Q_NOSAT},
    {"mx-e4m3", "OCP Microscaling Formats (MX) v1.0, MXFP8 E4M3, blocks of 32", FP8Q_E4M3, 1, 32, FP8Q_RULE_MX, 448.0f,
     0.0f, 0.0f, FP8Q_HP_F32, FP8Q_SCALE_DIV, 0, FP8Q_SATFINITE},
    {"mx-e5m2", "OCP Microscaling Formats (MX) v1.0, MXFP8 E5M2, blocks of 32", FP8Q_E5M2, 1, 32, FP8Q_RULE_MX,
     57344.0f, 0.0f, 0.0f, FP8Q_HP_F32, FP8Q_SCALE_DIV, 0, FP8Q_SATFINITE},
};
#define FP8Q__RECIPE_COUNT (int)(sizeof fp8q__recipes / sizeof fp8q__recipes[0])

FP8QDEF int fp8q_recipe_count(void) { return FP8Q__RECIPE_COUNT; }

FP8QDEF const fp8q_recipe *fp8q_recipe_at(int i) { return i >= 0 && i < FP8Q__RECIPE_COUNT ? &fp8q__recipes[i] : NULL; }

FP8QDEF const fp8q_recipe *fp8q_recipe_get(const char *name)
{
    int i;
    if (!name) return NULL;
    for (i = 0; i < FP8Q__RECIPE_COUNT; i++)
        if (strcmp(fp8q__recipes[i].name, name) == 0) return &fp8q__recipes[i];
    return NULL;
}

/* Tile extent along one dimension (0 = all of it, and never 0 for an empty one). */
static size_t fp8q__tile(int tile, size_t extent)
{
    if (tile > 0) return (size_t)tile;
    return extent ? extent : 1;
}

static size_t fp8q__div_up(size_t a, size_t b) { return (a + b - 1) / b; }

FP8QDEF size_t fp8q_scale_count(const fp8q_recipe *r, size_t rows, size_t cols)
{
    if (!r) return 0;
    return fp8q__div_up(rows, fp8q__tile(r->tile_rows, rows)) * fp8q__div_up(cols, fp8q__tile(r->tile_cols, cols));
}

static int fp8q__recipe_ok(const fp8q_recipe *r)
{
    return r && fp8q_format_get(r->format) && r->tile_rows >= 0 && r->tile_cols >= 0 &&
           (r->op == FP8Q_SCALE_MUL || r->op == FP8Q_SCALE_DIV) && (r->hp == FP8Q_HP_F32 || r->hp == FP8Q_HP_BF16) &&
           (r->sat == FP8Q_SATFINITE || r->sat == FP8Q_NOSAT) && r->rule >= FP8Q_RULE_AMAX && r->rule <= FP8Q_RULE_POW2;
}

static int fp8q__matrix_args_ok(const void *dst, const void *src, const float *scales, size_t rows, size_t cols,
                                const fp8q_recipe *r, int need_scales)
{
    if (!fp8q__recipe_ok(r)) return 0;
    if (cols != 0 && rows > (size_t)-1 / cols) return 0;
    if (rows * cols == 0) return 1;
    return dst && src && (!need_scales || scales);
}

/* 2^e as a float for -149 <= e <= 127, exactly (subnormals included). */
static float fp8q__pow2f(int e)
{
    if (e >= -126) return fp8q__f32_from_bits((uint32_t)(e + 127) << 23);
    return fp8q__f32_from_bits(1u << (e + 149));
}

/* floor(log2 a) for a finite a > 0, exactly from the bits. */
static int fp8q__ilog2f(float a)
{
    uint32_t u = fp8q__f32_bits(a) & 0x7FFFFFFFu;
    int e = (int)(u >> 23);
    if (e) return e - 127;
    e = -127; /* subnormal: position of the leading one */
    while (!(u & 0x400000u)) u <<= 1, e--;
    return e;
}

/* The scale of one tile from its amax (NaN-free unless nonfinite is set). */
static float fp8q__scale_from_amax(const fp8q_recipe *r, float amax, int nonfinite)
{
    const fp8q_format_info *f = &fp8q__formats[r->format];
    float s;
    if (r->rule == FP8Q_RULE_MX) {
        int emax = fp8q__ilog2f(f->max_finite), e;
        if (nonfinite) return fp8q__f32_from_bits(FP8Q__F32_CANONICAL_NAN);
        e = amax > 0 ? fp8q__ilog2f(amax) - emax : -127;
        return fp8q__pow2f(e < -127 ? -127 : e > 127 ? 127 : e);
    }
    amax = fp8q__round_hp(amax, r->hp);
    if (r->amax_ub > 0) amax = fp8q__fminf(amax, r->amax_ub);
    s = fp8q__round_hp(amax / r->qmax, r->hp);
    if (r->rule == FP8Q_RULE_POW2 && s > 0 && s < 3.4e38f) {
        int e = fp8q__ilog2f(s);
        s = fp8q__pow2f(s == fp8q__pow2f(e) || e >= 127 ? e : e + 1);
    }
    if (r->min_scale > 0) s = fp8q__fmaxf(s, r->min_scale);
    return s;
}

FP8QDEF fp8q_result fp8q_compute_scales(float *scales, const float *x, size_t rows, size_t cols, const fp8q_recipe *r)
{
    size_t tr, tc, n_tc, ti, tj, i, j;
    if (!fp8q__matrix_args_ok(scales, x, x, rows, cols, r, 0)) return FP8Q_ERR_ARG;
    if (rows * cols == 0) return FP8Q_OK;
    tr = fp8q__tile(r->tile_rows, rows), tc = fp8q__tile(r->tile_cols, cols), n_tc = fp8q__div_up(cols, tc);
    for (ti = 0; ti * tr < rows; ti++)
        for (tj = 0; tj * tc < cols; tj++) {
            float amax = 0.0f;
            int nonfinite = 0;
            for (i = ti * tr; i < rows && i < (ti + 1) * tr; i++)
                for (j = tj * tc; j < cols && j < (tj + 1) * tc; j++) {
                    float a = fp8q__f32_from_bits(fp8q__f32_bits(x[i * cols + j]) & 0x7FFFFFFFu); /* |-0| = +0 */
                    nonfinite |= !(a <= 3.40282347e38f);
                    amax = fp8q__fmaxf(amax, a);
                }
            scales[ti * n_tc + tj] = fp8q__scale_from_amax(r, amax, nonfinite);
        }
    return FP8Q_OK;
}

/* One element: q = cast(clamp(x op s)) in the recipe's precision. */
static uint8_t fp8q__quantize_one(const fp8q_recipe *r, float x, float s, float inv)
{
    float y = r->op == FP8Q_SCALE_MUL ? x * inv : x / s;
    y = fp8q__round_hp(y, r->hp);
    if (r->clamp) y = fp8q__fmaxf(-r->qmax, fp8q__fminf(y, r->qmax));
    return fp8q_from_f32(y, r->format, r->sat);
}

FP8QDEF fp8q_result fp8q_quantize(uint8_t *q, const float *x, size_t rows, size_t cols, const float *scales,
                                  const fp8q_recipe *r)
{
    size_t tr, tc, n_tc, i, j;
    if (!fp8q__matrix_args_ok(q, x, scales, rows, cols, r, 1)) return FP8Q_ERR_ARG;
    if (rows * cols == 0) return FP8Q_OK;
    tr = fp8q__tile(r->tile_rows, rows), tc = fp8q__tile(r->tile_cols, cols), n_tc = fp8q__div_up(cols, tc);
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j += tc) { /* one run of one tile's scale */
            const float s = scales[(i / tr) * n_tc + j / tc];
            const float inv = fp8q__round_hp(1.0f / s, r->hp);
            size_t k, end = j + tc < cols ? j + tc : cols;
            for (k = j; k < end; k++) q[i * cols + k] = fp8q__quantize_one(r, x[i * cols + k], s, inv);
        }
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_dequantize(float *x, const uint8_t *q, size_t rows, size_t cols, const float *scales,
                                    const fp8q_recipe *r)
{
    size_t tr, tc, n_tc, i, j;
    if (!fp8q__matrix_args_ok(x, q, scales, rows, cols, r, 1)) return FP8Q_ERR_ARG;
    if (rows * cols == 0) return FP8Q_OK;
    tr = fp8q__tile(r->tile_rows, rows), tc = fp8q__tile(r->tile_cols, cols), n_tc = fp8q__div_up(cols, tc);
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++) {
            const float s = scales[(i / tr) * n_tc + j / tc];
            x[i * cols + j] = fp8q__round_hp(fp8q_to_f32(q[i * cols + j], r->format) * s, r->hp);
        }
    return FP8Q_OK;
}

/* ------------------------------------------------- Intel Neural Compressor */

FP8QDEF float fp8q_inc_fullscale(fp8q_gaudi device) { return device == FP8Q_GAUDI2 ? 240.0f : 448.0f; }

static float fp8q__bf16(float x) { return fp8q__round_hp(x, FP8Q_HP_BF16); }

/* log2 of a finite float > 0 in double, without libm: the exponent plus
   log2 of the significand m in [1, 2) from ln m = 2 atanh((m-1)/(m+1)),
   whose series in z^2 < 1/9 reaches double precision in 18 terms. */
static double fp8q__log2(float a)
{
    const int e = fp8q__ilog2f(a);
    const double m = (double)a / ((double)fp8q__pow2f(e < -126 ? -126 : e) * (e < -126 ? fp8q__pow2f(e + 126) : 1.0));
    const double z = (m - 1.0) / (m + 1.0), z2 = z * z;
    double term = z, sum = 0.0;
    int k;
    for (k = 1; k < 40; k += 2, term *= z2) sum += term / k;
    return e + 2.0 * sum * 1.4426950408889634074; /* 1 / ln 2 */
}

/* INC's POW2 on a BF16 value: 2^ceil(bf16(log2 s)). log2 is computed in
   double and rounded once to bfloat16: s has 8 significant bits, so log2 s
   is either an integer (m = 1, computed exactly) or irrational, never a
   rounding tie. */
static float fp8q__inc_pow2(float s)
{
    float l;
    int e;
    if (!(s > 0)) return s == 0 ? 0.0f : s; /* 0 -> 2^-inf = 0; NaN stays */
    if (s > 3.4e38f) return s;              /* Inf */
    l = fp8q__bf16((float)fp8q__log2(s));
    e = (int)l;
    if ((float)e < l) e++; /* ceil */
    return e > 127 ? fp8q__f32_from_bits(0x7F800000u) : e < -149 ? 0.0f : fp8q__pow2f(e);
}

FP8QDEF float fp8q_inc_scale(float maxabs, fp8q_inc_rounding rounding, fp8q_gaudi device, float backoff)
{
    const int g2 = device == FP8Q_GAUDI2;
    const float lo = g2 ? 0.00390625f : fp8q__pow2f(-55), hi = g2 ? 16.0f : 128.0f;
    const float s = fp8q__bf16(fp8q__bf16(maxabs) / fp8q__bf16(fp8q_inc_fullscale(device) * backoff));
    float p;
    int e;
    switch (rounding) {
    case FP8Q_INC_IDENTITY: return s;
    case FP8Q_INC_POW2: return fp8q__inc_pow2(s);
    case FP8Q_INC_HW_ALIGNED_FIXED: return hi;
    case FP8Q_INC_UNIT: return 1.0f;
    case FP8Q_INC_HW_ALIGNED: break;
    }
    p = fp8q__inc_pow2(s);
    if (p != p) return p;
    if (p == 0) return lo;
    if (p > 3.4e38f) return hi;
    e = fp8q__ilog2f(p);
    if (g2) e = e >= 0 ? (e + 3) / 4 * 4 : -((-e) / 4 * 4); /* ceil(e / 4) * 4 */
    p = e > 127 ? hi : e < -149 ? 0.0f : fp8q__pow2f(e);
    return p < lo ? lo : p > hi ? hi : p;
}

/* INC.md 3.4. Backoffs: static weights 0.5, activations 0.25; dynamic 0.5;
   FIXED and OPT ignore theirs (OPT PCS uses 0.5 for its reference). */
#define FP8Q__IC(g, v, r, b)                                                                                           \
    {                                                                                                                  \
        FP8Q_INC_##g, FP8Q_INC_##v, FP8Q_INC_##r, b                                                                    \
    }
static const fp8q_inc_method fp8q__inc_methods[] = {
    {"UNIT_SCALE", FP8Q__IC(PTS, FIXED_VALUE, UNIT, 1.0f), FP8Q__IC(PTS, FIXED_VALUE, UNIT, 1.0f), 0},
    {"HW_ALIGNED_SINGLE_SCALE", FP8Q__IC(PTS, FIXED_VALUE, HW_ALIGNED_FIXED, 1.0f),
     FP8Q__IC(PTS, FIXED_VALUE, HW_ALIGNED_FIXED, 1.0f), 0},
    {"MAXABS_HW", FP8Q__IC(PTS, MAXABS, HW_ALIGNED, 0.5f), FP8Q__IC(PTS, MAXABS, HW_ALIGNED, 0.25f), 0},
    {"MAXABS_POW2", FP8Q__IC(PTS, MAXABS, POW2, 0.5f), FP8Q__IC(PTS, MAXABS, POW2, 0.25f), 0},
    {"MAXABS_ARBITRARY", FP8Q__IC(PTS, MAXABS, IDENTITY, 0.5f), FP8Q__IC(PTS, MAXABS, IDENTITY, 0.25f), 0},
    {"MAXABS_HW_OPT_WEIGHT", FP8Q__IC(PTS, OPT, HW_ALIGNED, 0.5f), FP8Q__IC(PTS, MAXABS, HW_ALIGNED, 0.25f), 0},
    {"MAXABS_POW2_OPT_WEIGHT", FP8Q__IC(PTS, OPT, POW2, 0.5f), FP8Q__IC(PTS, MAXABS, POW2, 0.25f), 0},
    {"ACT_MAXABS_HW_WEIGHTS_PCS_MAXABS_POW2", FP8Q__IC(PCS, MAXABS, POW2, 0.5f),
     FP8Q__IC(PTS, MAXABS, HW_ALIGNED, 0.25f), 0},
    {"ACT_MAXABS_HW_WEIGHTS_PCS_OPT_POW2", FP8Q__IC(PCS, OPT, POW2, 0.5f), FP8Q__IC(PTS, MAXABS, HW_ALIGNED, 0.25f), 0},
    {"ACT_MAXABS_POW2_WEIGHTS_PCS_MAXABS_POW2", FP8Q__IC(PCS, MAXABS, POW2, 0.5f), FP8Q__IC(PTS, MAXABS, POW2, 0.25f),
     0},
    {"ACT_MAXABS_POW2_WEIGHTS_PCS_OPT_POW2", FP8Q__IC(PCS, OPT, POW2, 0.5f), FP8Q__IC(PTS, MAXABS, POW2, 0.25f), 0},
    {"ACT_MAXABS_PCS_POW2_WEIGHT_MAXABS_PTS_POW2_HW", FP8Q__IC(PTS, MAXABS, HW_ALIGNED, 0.5f),
     FP8Q__IC(PCS, MAXABS, POW2, 0.5f), 1},
    {"MAXABS_PCS_POW2", FP8Q__IC(PCS, MAXABS, POW2, 0.5f), FP8Q__IC(PCS, MAXABS, POW2, 0.5f), 1},
};
#undef FP8Q__IC
#define FP8Q__INC_METHOD_COUNT (int)(sizeof fp8q__inc_methods / sizeof fp8q__inc_methods[0])

FP8QDEF int fp8q_inc_method_count(void) { return FP8Q__INC_METHOD_COUNT; }

FP8QDEF const fp8q_inc_method *fp8q_inc_method_at(int i)
{
    return i >= 0 && i < FP8Q__INC_METHOD_COUNT ? &fp8q__inc_methods[i] : NULL;
}

FP8QDEF const fp8q_inc_method *fp8q_inc_method_get(const char *name)
{
    int i;
    size_t k;
    for (i = 0; name && i < FP8Q__INC_METHOD_COUNT; i++) {
        const char *m = fp8q__inc_methods[i].name;
        for (k = 0; name[k] && m[k]; k++) {
            char c = name[k];
            if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
            if (c != m[k]) break;
        }
        if (!name[k] && !m[k]) return &fp8q__inc_methods[i];
    }
    return NULL;
}
/* ------------------------------------------------------------ W8A8 GEMM */

/* Shape of the K groups and where each operand's scale for (row, group) is. */
typedef struct fp8q__gemm_plan {
    size_t group; /* K extent of a group */
    size_t n_groups;
    size_t a_tr, a_tc, a_ncols; /* a_scales tiling: rows per tile, K per tile, tiles per row */
    size_t b_tr, b_tc, b_ncols;
} fp8q__gemm_plan;

static float fp8q__scale_at(const float *scales, size_t tr, size_t tc, size_t ncols, size_t row, size_t k)
{
    return scales ? scales[(row / tr) * ncols + k / tc] : 1.0f;
}

static fp8q_result fp8q__gemm_check(const fp8q_gemm *g, fp8q__gemm_plan *p)
{
    size_t ga, gb;
    if (!g || !g->c || !g->b || (!g->a && !g->a_f32)) return FP8Q_ERR_ARG;
    if (g->M == 0 || g->N == 0 || g->K == 0) return FP8Q_ERR_ARG;
    if (g->M > ((size_t)1 << 31) || g->N > ((size_t)1 << 31) || g->K > ((size_t)1 << 31)) return FP8Q_ERR_ARG;
    if ((g->a && !fp8q_format_get(g->a_format)) || !fp8q_format_get(g->b_format)) return FP8Q_ERR_ARG;
    if (g->c_type != FP8Q_F32 && g->c_type != FP8Q_BF16 && g->c_type != FP8Q_F16) return FP8Q_ERR_ARG;
    if (g->a_tile_rows < 0 || g->a_tile_cols < 0 || g->b_tile_rows < 0 || g->b_tile_cols < 0) return FP8Q_ERR_ARG;
    p->a_tr = fp8q__tile(g->a_tile_rows, g->M), p->a_tc = fp8q__tile(g->a_tile_cols, g->K);
    p->b_tr = fp8q__tile(g->b_tile_rows, g->N), p->b_tc = fp8q__tile(g->b_tile_cols, g->K);
    p->a_ncols = fp8q__div_up(g->K, p->a_tc), p->b_ncols = fp8q__div_up(g->K, p->b_tc);
    ga = g->a_scales ? p->a_tc : g->K, gb = g->b_scales ? p->b_tc : g->K;
    p->group = ga < gb ? ga : gb;
    if ((ga % p->group && ga != g->K) || (gb % p->group && gb != g->K)) return FP8Q_ERR_ARG;
    p->n_groups = fp8q__div_up(g->K, p->group);
    return FP8Q_OK;
}

static void fp8q__store_out(const fp8q_gemm *g, size_t i, uint32_t f32_bits, uint16_t bits16)
{
    if (g->c_type == FP8Q_F32)
        ((float *)g->c)[i] = fp8q__f32_from_bits(f32_bits);
    else
        ((uint16_t *)g->c)[i] = bits16;
}

/* float32 result -> output element (RNE; NaN canonical). */
static void fp8q__store_f32(const fp8q_gemm *g, size_t i, float c)
{
    if (c != c) c = fp8q__f32_from_bits(FP8Q__F32_CANONICAL_NAN);
    fp8q__store_out(g, i, fp8q__f32_bits(c), g->c_type == FP8Q_BF16 ? fp8q_f32_to_bf16(c) : fp8q_f32_to_f16(c));
}

/* The epilogue steps are separate volatile stores so that no compiler fuses
   them into an FMA (the reference's order must hold bit for bit). */
static float fp8q__mul_rn(float a, float b)
{
    volatile float r = a * b;
    return r;
}

static float fp8q__add_rn(float a, float b)
{
    volatile float r = a + b;
    return r;
}

static float fp8q__gemm_reference_one(const fp8q_gemm *g, const fp8q__gemm_plan *p, const float *a_row,
                                      const float *b_row, size_t m, size_t n)
{
    float c = 0.0f;
    size_t gi, k;
    for (gi = 0; gi < p->n_groups; gi++) {
        const size_t k0 = gi * p->group, k1 = k0 + p->group < g->K ? k0 + p->group : g->K;
        float acc = 0.0f;
        if (g->a)
            for (k = k0; k < k1; k++) acc += a_row[k] * b_row[k]; /* exact products */
        else
            for (k = k0; k < k1; k++) acc += (float)((double)a_row[k] * (double)b_row[k]); /* W8A16: product rounded */
        acc = fp8q__mul_rn(acc, fp8q__scale_at(g->b_scales, p->b_tr, p->b_tc, p->b_ncols, n, k0));
        acc = fp8q__mul_rn(acc, fp8q__scale_at(g->a_scales, p->a_tr, p->a_tc, p->a_ncols, m, k0));
        c = fp8q__add_rn(c, acc);
    }
    return g->bias ? fp8q__add_rn(c, g->bias[n]) : c;
}

/* Row r of an operand as float32 (decoded FP8, or the W8A16 floats). */
static void fp8q__operand_row(float *dst, const uint8_t *q, const float *f, fp8q_format fmt, size_t K, size_t r)
{
    if (q)
        fp8q_decode_f32(dst, q + r * K, K, fmt, FP8Q_SCALE_NONE, 0.0f);
    else
        FP8Q__MEMCPY(dst, f + r * K, K * sizeof(float));
}

static fp8q_result fp8q__gemm_reference(const fp8q_gemm *g, const fp8q__gemm_plan *p)
{
    float *a_row = (float *)malloc(g->K * sizeof(float)), *b_row = (float *)malloc(g->K * sizeof(float));
    size_t m, n;
    if (!a_row || !b_row) {
        free(a_row), free(b_row);
        return FP8Q_ERR_NOMEM;
    }
    for (n = 0; n < g->N; n++) {
        fp8q__operand_row(b_row, g->b, NULL, g->b_format, g->K, n);
        for (m = 0; m < g->M; m++) {
            fp8q__operand_row(a_row, g->a, g->a_f32, g->a_format, g->K, m);
            fp8q__store_f32(g, m * g->N + n, fp8q__gemm_reference_one(g, p, a_row, b_row, m, n));
        }
    }
    free(a_row), free(b_row);
    return FP8Q_OK;
}

/* ---- exact mode: a two's-complement fixed-point accumulator wide enough
   for every term: bit i weighs 2^(i - FP8Q__XACC_OFFSET). A term is a
   product of two float32 scales and the operands: its lowest bit is at
   2^-466 or above (three float32 subnormals and an FP8 subnormal in W8A16)
   and it stays below 2^420, so with K <= 2^31 terms 1024 bits suffice. */
#define FP8Q__XACC_LIMBS  32
#define FP8Q__XACC_OFFSET 480

typedef struct fp8q__xacc {
    uint32_t limb[FP8Q__XACC_LIMBS];
    int nan, pos_inf, neg_inf;
} fp8q__xacc;

/* acc += (neg ? -1 : 1) * mag * 2^exp */
static void fp8q__xacc_add(fp8q__xacc *x, int neg, uint64_t mag, int exp)
{
    const int pos = exp + FP8Q__XACC_OFFSET, sh = pos % 32;
    int i = pos / 32;
    uint64_t w0, w1, carry, chunk[3];
    int j;
    if (mag == 0) return;
    w0 = (mag & 0xFFFFFFFFu) << sh;
    w1 = ((mag >> 32) << sh) + (w0 >> 32);
    chunk[0] = w0 & 0xFFFFFFFFu, chunk[1] = w1 & 0xFFFFFFFFu, chunk[2] = w1 >> 32;
    if (!neg) {
        for (carry = 0, j = 0; i < FP8Q__XACC_LIMBS; i++, j++) {
            uint64_t s = (uint64_t)x->limb[i] + (j < 3 ? chunk[j] : 0) + carry;
            x->limb[i] = (uint32_t)s, carry = s >> 32;
            if (j >= 2 && !carry) break;
        }
    } else {
        for (carry = 0, j = 0; i < FP8Q__XACC_LIMBS; i++, j++) { /* carry is the borrow */
            uint64_t sub = (j < 3 ? chunk[j] : 0) + carry;
            carry = (uint64_t)x->limb[i] < sub;
            x->limb[i] = (uint32_t)((uint64_t)x->limb[i] - sub);
            if (j >= 2 && !carry) break;
        }
    }
}

/* A finite float as m * 2^e with m < 2^24 (m = 0 for zero). */
static void fp8q__f32_split(float v, int *neg, uint64_t *m, int *e)
{
    const uint32_t u = fp8q__f32_bits(v), ef = (u >> 23) & 0xFFu;
    *neg = (int)(u >> 31);
    *m = (u & 0x7FFFFFu) | (ef ? 0x800000u : 0u);
    *e = (ef ? (int)ef : 1) - 150;
}

/* Adds v1 * v2 * v3 * v4 exactly (each a float with at most 24 significant
   bits; the FP8 operands have at most 4, so the product fits 56 bits). */
static void fp8q__xacc_add_product(fp8q__xacc *x, float v1, float v2, float v3, float v4, int wide)
{
    const float v[4] = {v1, v2, v3, v4};
    uint64_t mag = 1, mm[4];
    int neg = 0, exp = 0, i, n, e, zero = 0, inf = 0;
    for (i = 0; i < 4; i++) {
        if (v[i] != v[i]) {
            x->nan = 1;
            return;
        }
        if (v[i] - v[i] != 0) inf = 1; /* Inf */
        if (v[i] == 0) zero = 1;
    }
    if (inf) {
        int sign = (fp8q__f32_bits(v1) ^ fp8q__f32_bits(v2) ^ fp8q__f32_bits(v3) ^ fp8q__f32_bits(v4)) >> 31;
        if (zero)
            x->nan = 1;
        else if (sign)
            x->neg_inf = 1;
        else
            x->pos_inf = 1;
        return;
    }
    if (zero) return;
    for (i = 0; i < 4; i++) {
        fp8q__f32_split(v[i], &n, &mm[i], &e);
        neg ^= n, exp += e;
        while (!(mm[i] & 1)) mm[i] >>= 1, exp++; /* strip trailing zeros: FP8 values shrink to <= 4 bits */
    }
    if (!wide) {
        for (i = 0; i < 4; i++) mag *= mm[i];
        fp8q__xacc_add(x, neg, mag, exp);
        return;
    }
    { /* W8A16: v1..v3 have up to 24 bits, v4 (FP8) up to 4: split the third */
        const uint64_t t = mm[0] * mm[3] * mm[1]; /* < 2^52 */
        fp8q__xacc_add(x, neg, t * (mm[2] & 0xFFFu), exp);
        fp8q__xacc_add(x, neg, t * (mm[2] >> 12), exp + 12);
    }
}

/* Rounds sig (MSB at bit 63, lower bits sticky) * 2^(E - 63) to an IEEE
   binary format with p significand bits, exponent bias `bias` and e_bits
   exponent bits; returns the bit pattern (sign applied). */
static uint32_t fp8q__round_ieee(uint32_t sign, int E, uint64_t sig, int p, int bias, int e_bits)
{
    const int emin = 1 - bias, max_field = (1 << e_bits) - 1;
    const uint32_t sign_bit = sign << (p - 1 + e_bits);
    int shift = 64 - p + (E < emin ? emin - E : 0);
    uint64_t q, rem, half;
    uint32_t bits;
    if (shift > 64) return sign_bit; /* below half the min subnormal */
    q = shift == 64 ? 0 : sig >> shift;
    rem = shift == 64 ? sig : sig & ((((uint64_t)1) << shift) - 1);
    half = ((uint64_t)1) << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    if (E < emin)
        bits = (uint32_t)q; /* subnormal (a carry makes it the min normal) */
    else
        bits = ((uint32_t)(E + bias - 1) << (p - 1)) + (uint32_t)q;
    if (bits >= ((uint32_t)max_field << (p - 1))) bits = (uint32_t)max_field << (p - 1); /* Inf */
    return sign_bit | bits;
}

/* The accumulator rounded to float32 and to the 16-bit output type. */
static void fp8q__xacc_round(const fp8q__xacc *x, uint32_t *f32, uint16_t *b16, fp8q_dtype type)
{
    uint32_t mag[FP8Q__XACC_LIMBS], sign = x->limb[FP8Q__XACC_LIMBS - 1] >> 31, top, nxt, low;
    int L, b, i, E, sticky = 0;
    uint64_t sig;
    if (x->nan || (x->pos_inf && x->neg_inf)) {
        *f32 = FP8Q__F32_CANONICAL_NAN, *b16 = 0x7FFFu;
        return;
    }
    if (x->pos_inf || x->neg_inf) {
        *f32 = x->neg_inf ? 0xFF800000u : 0x7F800000u;
        *b16 = (uint16_t)(type == FP8Q_BF16 ? *f32 >> 16 : (x->neg_inf ? 0xFC00u : 0x7C00u));
        return;
    }
    for (i = 0; i < FP8Q__XACC_LIMBS; i++) mag[i] = sign ? ~x->limb[i] : x->limb[i];
    for (i = 0; sign && i < FP8Q__XACC_LIMBS && ++mag[i] == 0; i++) {
    } /* negate: ~x + 1 */
    for (L = FP8Q__XACC_LIMBS - 1; L >= 0 && mag[L] == 0; L--) {
    }
    if (L < 0) { /* exact zero: +0 */
        *f32 = 0, *b16 = 0;
        return;
    }
    for (b = 31; !(mag[L] >> b); b--) {
    }
    top = mag[L], nxt = L >= 1 ? mag[L - 1] : 0, low = L >= 2 ? mag[L - 2] : 0;
    if (b == 31) {
        sig = ((uint64_t)top << 32) | nxt;
        sticky = low != 0;
    } else {
        sig = ((uint64_t)top << (63 - b)) | ((uint64_t)nxt << (31 - b)) | (low >> (b + 1));
        sticky = (low & ((1u << (b + 1)) - 1u)) != 0;
    }
    for (i = L - 3; i >= 0 && !sticky; i--) sticky = mag[i] != 0;
    sig |= (uint64_t)sticky;
    E = L * 32 + b - FP8Q__XACC_OFFSET;
    *f32 = fp8q__round_ieee(sign, E, sig, 24, 127, 8);
    *b16 = (uint16_t)(type == FP8Q_BF16 ? fp8q__round_ieee(sign, E, sig, 8, 127, 8)
                                        : fp8q__round_ieee(sign, E, sig, 11, 15, 5));
}

static fp8q_result fp8q__gemm_exact(const fp8q_gemm *g, const fp8q__gemm_plan *p)
{
    float *a_row = (float *)malloc(g->K * sizeof(float)), *b_row = (float *)malloc(g->K * sizeof(float));
    size_t m, n, k;
    if (!a_row || !b_row) {
        free(a_row), free(b_row);
        return FP8Q_ERR_NOMEM;
    }
    for (n = 0; n < g->N; n++) {
        fp8q__operand_row(b_row, g->b, NULL, g->b_format, g->K, n);
        for (m = 0; m < g->M; m++) {
            fp8q__xacc x;
            uint32_t f32;
            uint16_t b16;
            memset(&x, 0, sizeof x);
            fp8q__operand_row(a_row, g->a, g->a_f32, g->a_format, g->K, m);
            for (k = 0; k < g->K; k++) {
                const float sa = fp8q__scale_at(g->a_scales, p->a_tr, p->a_tc, p->a_ncols, m, k);
                const float sb = fp8q__scale_at(g->b_scales, p->b_tr, p->b_tc, p->b_ncols, n, k);
                fp8q__xacc_add_product(&x, sa, sb, a_row[k], b_row[k], g->a == NULL); /* b (FP8) last */
            }
            if (g->bias) fp8q__xacc_add_product(&x, g->bias[n], 1.0f, 1.0f, 1.0f, 0);
            fp8q__xacc_round(&x, &f32, &b16, g->c_type);
            fp8q__store_out(g, m * g->N + n, f32, b16);
        }
    }
    free(a_row), free(b_row);
    return FP8Q_OK;
}

/* ---- fast mode without the vector kernels (SSE, NEON, scalar, AVX2
   without FMA/F16C): A is decoded once to float32; N is cut into fixed
   blocks (the tasks), each decoding its B rows and computing MR x NR output
   tiles with dot products. A task's arithmetic does not depend on which
   thread runs it, so results are identical for every thread count. */
#ifndef FP8Q__VGEMM
#define FP8Q__FAST_NB 64 /* B rows per task */

#if defined(FP8Q__AVX2)
#define FP8Q__MR 2
#define FP8Q__NR 4
static void fp8q__dot_tile(const float *const *a, const float *const *b, size_t len, float *out)
{
    __m256 acc[FP8Q__MR * FP8Q__NR];
    size_t k;
    int i, j;
    for (i = 0; i < FP8Q__MR * FP8Q__NR; i++) acc[i] = _mm256_setzero_ps();
    for (k = 0; k + 8 <= len; k += 8) {
        __m256 bv[FP8Q__NR];
        for (j = 0; j < FP8Q__NR; j++) bv[j] = _mm256_loadu_ps(b[j] + k);
        for (i = 0; i < FP8Q__MR; i++) {
            const __m256 av = _mm256_loadu_ps(a[i] + k);
#ifdef __FMA__
            for (j = 0; j < FP8Q__NR; j++) acc[i * FP8Q__NR + j] = _mm256_fmadd_ps(av, bv[j], acc[i * FP8Q__NR + j]);
#else
            for (j = 0; j < FP8Q__NR; j++)
                acc[i * FP8Q__NR + j] = _mm256_add_ps(acc[i * FP8Q__NR + j], _mm256_mul_ps(av, bv[j]));
#endif
        }
    }
    for (i = 0; i < FP8Q__MR; i++)
        for (j = 0; j < FP8Q__NR; j++) {
            float lanes[8], s = 0;
            size_t t;
            int l;
            _mm256_storeu_ps(lanes, acc[i * FP8Q__NR + j]);
            for (l = 0; l < 8; l++) s += lanes[l];
            for (t = k; t < len; t++) s += a[i][t] * b[j][t];
            out[i * FP8Q__NR + j] = s;
        }
}
#else
#define FP8Q__MR 2
#define FP8Q__NR 2
static void fp8q__dot_tile(const float *const *a, const float *const *b, size_t len, float *out)
{
    int i, j;
    for (i = 0; i < FP8Q__MR; i++)
        for (j = 0; j < FP8Q__NR; j++) {
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            size_t k;
            for (k = 0; k + 4 <= len; k += 4) {
                s0 += a[i][k] * b[j][k], s1 += a[i][k + 1] * b[j][k + 1];
                s2 += a[i][k + 2] * b[j][k + 2], s3 += a[i][k + 3] * b[j][k + 3];
            }
            for (; k < len; k++) s0 += a[i][k] * b[j][k];
            out[i * FP8Q__NR + j] = (s0 + s1) + (s2 + s3);
        }
}
#endif

typedef struct fp8q__fast_job {
    const fp8q_gemm *g;
    const fp8q__gemm_plan *p;
    const float *a_dec; /* [M][K] */
    int failed;         /* a task could not allocate (set, never cleared) */
} fp8q__fast_job;

static void fp8q__fast_task(void *arg, size_t task)
{
    fp8q__fast_job *job = (fp8q__fast_job *)arg;
    const fp8q_gemm *g = job->g;
    const fp8q__gemm_plan *p = job->p;
    const size_t n0 = task * FP8Q__FAST_NB, n1 = n0 + FP8Q__FAST_NB < g->N ? n0 + FP8Q__FAST_NB : g->N;
    float *b_dec = (float *)malloc((n1 - n0) * g->K * sizeof(float));
    size_t m, n, n_local, gi;
    if (!b_dec) {
        job->failed = 1;
        return;
    }
    for (n = n0; n < n1; n++) fp8q__operand_row(b_dec + (n - n0) * g->K, g->b, NULL, g->b_format, g->K, n);
    for (m = 0; m < g->M; m += FP8Q__MR)
        for (n = n0; n < n1; n += FP8Q__NR) {
            const float *a_rows[FP8Q__MR], *b_rows[FP8Q__NR];
            float c[FP8Q__MR * FP8Q__NR] = {0}, dots[FP8Q__MR * FP8Q__NR];
            int i, j;
            for (gi = 0; gi < p->n_groups; gi++) {
                const size_t k0 = gi * p->group, len = (k0 + p->group < g->K ? k0 + p->group : g->K) - k0;
                for (i = 0; i < FP8Q__MR; i++) /* rows past the edge repeat the last one */
                    a_rows[i] = job->a_dec + (m + i < g->M ? m + i : g->M - 1) * g->K + k0;
                for (j = 0; j < FP8Q__NR; j++) b_rows[j] = b_dec + ((n + j < n1 ? n + j : n1 - 1) - n0) * g->K + k0;
                fp8q__dot_tile(a_rows, b_rows, len, dots);
                for (i = 0; i < FP8Q__MR && m + i < g->M; i++)
                    for (j = 0; j < FP8Q__NR && n + j < n1; j++) {
                        const float sb = fp8q__scale_at(g->b_scales, p->b_tr, p->b_tc, p->b_ncols, n + j, k0);
                        const float sa = fp8q__scale_at(g->a_scales, p->a_tr, p->a_tc, p->a_ncols, m + i, k0);
                        c[i * FP8Q__NR + j] += dots[i * FP8Q__NR + j] * sb * sa;
                    }
            }
            for (i = 0; i < FP8Q__MR && m + i < g->M; i++)
                for (j = 0, n_local = n; j < FP8Q__NR && n_local < n1; j++, n_local++) {
                    float v = c[i * FP8Q__NR + j];
                    if (g->bias) v += g->bias[n_local];
                    fp8q__store_f32(g, (m + i) * g->N + n_local, v);
                }
        }
    free(b_dec);
}
#endif /* !FP8Q__VGEMM */

#if !defined(FP8Q_NO_THREADS) && (defined(__unix__) || defined(__APPLE__))
#include <pthread.h>
#define FP8Q__PTHREADS 1
typedef struct fp8q__worker {
    void (*fn)(void *, size_t);
    void *arg;
    size_t first, step, n;
} fp8q__worker;

static void *fp8q__worker_main(void *w_)
{
    fp8q__worker *w = (fp8q__worker *)w_;
    size_t i;
    for (i = w->first; i < w->n; i += w->step) w->fn(w->arg, i);
    return NULL;
}
#endif

/* Runs the tasks: the caller's parallel-for, else up to `threads` POSIX
   threads (static round-robin), else a loop. */
static void fp8q__run_tasks(const fp8q_gemm *g, void (*fn)(void *, size_t), void *arg, size_t n)
{
    size_t i;
    if (g->parallel_for) {
        g->parallel_for(g->parallel_ctx, fn, arg, n);
        return;
    }
#ifdef FP8Q__PTHREADS
    if (g->threads > 1 && n > 1) {
        enum { MAX_THREADS = 256 };
        pthread_t tid[MAX_THREADS];
        fp8q__worker w[MAX_THREADS];
        size_t t, nt = (size_t)g->threads < n ? (size_t)g->threads : n, started = 1;
        if (nt > MAX_THREADS) nt = MAX_THREADS;
        for (t = 0; t < nt; t++) w[t].fn = fn, w[t].arg = arg, w[t].first = t, w[t].step = nt, w[t].n = n;
        for (t = 1; t < nt; t++, started++)
            if (pthread_create(&tid[t], NULL, fp8q__worker_main, &w[t]) != 0) break;
        if (started < nt) /* could not start them all: the caller's thread runs the rest */
            for (t = started; t < nt; t++) fp8q__worker_main(&w[t]);
        fp8q__worker_main(&w[0]);
        for (t = 1; t < started; t++) pthread_join(tid[t], NULL);
        return;
    }
#endif
    for (i = 0; i < n; i++) fn(arg, i);
}

/* ---- fast kernels on 256/512-bit vectors with FMA and half-precision
   conversion (AVX-512F; AVX2 + FMA + F16C). Other builds use the dot-tile
   path above. */
#ifdef FP8Q__VGEMM
#if defined(FP8Q__AVX512)
#define FP8Q__VL 16
typedef __m512 fp8q__vk;
#define fp8q__vk_zero()       _mm512_setzero_ps()
#define fp8q__vk_load(p)      _mm512_loadu_ps(p)
#define fp8q__vk_store(p, v)  _mm512_storeu_ps(p, v)
#define fp8q__vk_fma(a, b, c) _mm512_fmadd_ps(a, b, c)
#define fp8q__vk_bcast(p)     _mm512_set1_ps(*(p))
#define fp8q__vk_sum(v)       _mm512_reduce_add_ps(v)
typedef __m256i fp8q__vh; /* 16 x 16-bit lanes */
#define fp8q__vh_load_bytes(p) _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(p)))
#define fp8q__vh_set1(x)       _mm256_set1_epi16((short)(x))
#define fp8q__vh_and(a, b)     _mm256_and_si256(a, b)
#define fp8q__vh_or(a, b)      _mm256_or_si256(a, b)
#define fp8q__vh_shl(a, n)     _mm256_slli_epi16(a, n)
#define fp8q__vh_cmpeq(a, b)   _mm256_cmpeq_epi16(a, b)
#define fp8q__vh_max(a, b)     _mm256_max_epu16(a, b)
#define fp8q__vh_add(a, b)     _mm256_add_epi16(a, b)
#define fp8q__vh_any(a)        (!_mm256_testz_si256(a, a))
#define fp8q__vh_to_f32(h)     _mm512_cvtph_ps(h)
#else
#define FP8Q__VL               8
typedef __m256 fp8q__vk;
#define fp8q__vk_zero()        _mm256_setzero_ps()
#define fp8q__vk_load(p)       _mm256_loadu_ps(p)
#define fp8q__vk_store(p, v)   _mm256_storeu_ps(p, v)
#define fp8q__vk_fma(a, b, c)  _mm256_fmadd_ps(a, b, c)
#define fp8q__vk_bcast(p)      _mm256_broadcast_ss(p)
static float fp8q__vk_sum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}
typedef __m128i fp8q__vh; /* 8 x 16-bit lanes */
#define fp8q__vh_load_bytes(p) _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)(p)))
#define fp8q__vh_set1(x)       _mm_set1_epi16((short)(x))
#define fp8q__vh_and(a, b)     _mm_and_si128(a, b)
#define fp8q__vh_or(a, b)      _mm_or_si128(a, b)
#define fp8q__vh_shl(a, n)     _mm_slli_epi16(a, n)
#define fp8q__vh_cmpeq(a, b)   _mm_cmpeq_epi16(a, b)
#define fp8q__vh_max(a, b)     _mm_max_epu16(a, b)
#define fp8q__vh_add(a, b)     _mm_add_epi16(a, b)
#define fp8q__vh_any(a)        (!_mm_testz_si128(a, a))
#define fp8q__vh_to_f32(h)     _mm256_cvtph_ps(h)
#endif

/* How FP8 bytes become half-precision bits by shifting alone (NUMERICS.md
   3.5, the Marlin decode): E5M2 is the top byte of a half, exactly; E4M3
   shifted into half position reads as value * 2^-(bias_half - bias) (the
   factor is restored, exactly, after the sum); codes the half cannot
   express (E4M3 NaNs) are caught by a compare. E5M2FNUZ (whose top
   exponent is finite) has no such mapping. */
typedef struct fp8q__half_map {
    int ok;       /* the format can be decoded this way */
    int e4m3;     /* shift magnitude by 7 (else the whole byte by 8) */
    int nan_mode; /* 0: none to catch (E5M2); 1: max magnitude 7F (E4M3FN); 2: byte 80 (E4M3FNUZ) */
    float factor; /* true value = half value * factor */
} fp8q__half_map;

static fp8q__half_map fp8q__half_map_of(fp8q_format fmt)
{
    fp8q__half_map h;
    h.ok = fmt != FP8Q_E5M2FNUZ, h.e4m3 = fmt == FP8Q_E4M3 || fmt == FP8Q_E4M3FNUZ;
    h.nan_mode = fmt == FP8Q_E4M3 ? 1 : fmt == FP8Q_E4M3FNUZ ? 2 : 0;
    h.factor = fmt == FP8Q_E4M3 ? 256.0f : fmt == FP8Q_E4M3FNUZ ? 128.0f : 1.0f;
    return h;
}

/* VL codes -> floats (times 1/factor). *seen collects what reveals a NaN
   code: the max magnitude (mode 1) or a compare mask (mode 2). */
FP8Q__FORCE_INLINE fp8q__vk fp8q__decode_vl(const uint8_t *p, const fp8q__half_map *hm, fp8q__vh *seen)
{
    const fp8q__vh w = fp8q__vh_load_bytes(p);
    if (hm->e4m3) { /* t: magnitude in half position, sign at bit 14; adding it moves it to bit 15 */
        const fp8q__vh t = fp8q__vh_shl(w, 7);
        if (hm->nan_mode == 1)
            *seen = fp8q__vh_max(*seen, fp8q__vh_and(t, fp8q__vh_set1(0x3F80)));
        else
            *seen = fp8q__vh_or(*seen, fp8q__vh_cmpeq(w, fp8q__vh_set1(0x80)));
        return fp8q__vh_to_f32(fp8q__vh_add(t, fp8q__vh_and(t, fp8q__vh_set1(0x4000))));
    }
    return fp8q__vh_to_f32(fp8q__vh_shl(w, 8));
}

/* Whether the collected lanes saw a NaN code. */
FP8Q__FORCE_INLINE int fp8q__saw_nan(fp8q__vh seen, const fp8q__half_map *hm)
{
    if (hm->nan_mode == 1) return fp8q__vh_any(fp8q__vh_cmpeq(seen, fp8q__vh_set1(0x3F80)));
    return hm->nan_mode == 2 && fp8q__vh_any(seen);
}

/* M = 1 (decode-time GEMV): stream each weight row once, decode in
   registers, FMA with the activation row; bandwidth-bound on FP8 bytes. */
typedef struct fp8q__gemv_job {
    const fp8q_gemm *g;
    const fp8q__gemm_plan *p;
    const float *a_dec; /* [K] */
    fp8q__half_map hm;
} fp8q__gemv_job;

#define FP8Q__GEMV_NB  64   /* weight rows per task */
#define FP8Q__PREFETCH 1024 /* bytes ahead in the weight stream */

static void fp8q__gemv_task(void *arg, size_t task)
{
    const fp8q__gemv_job *job = (const fp8q__gemv_job *)arg;
    const fp8q_gemm *g = job->g;
    const fp8q__gemm_plan *p = job->p;
    const size_t n0 = task * FP8Q__GEMV_NB, n1 = n0 + FP8Q__GEMV_NB < g->N ? n0 + FP8Q__GEMV_NB : g->N;
    size_t n, gi, k;
    for (n = n0; n < n1; n++) {
        const uint8_t *brow = g->b + n * g->K;
        fp8q__vh nan = fp8q__vh_set1(0);
        float c = 0;
        for (gi = 0; gi < p->n_groups; gi++) {
            const size_t k0 = gi * p->group, k1 = k0 + p->group < g->K ? k0 + p->group : g->K;
            fp8q__vk acc0 = fp8q__vk_zero(), acc1 = fp8q__vk_zero(), acc2 = fp8q__vk_zero(), acc3 = fp8q__vk_zero();
            const float *a = job->a_dec;
            float part;
            for (k = k0; k + 4 * FP8Q__VL <= k1; k += 4 * FP8Q__VL) { /* four chains hide the FMA latency */
                _mm_prefetch((const char *)(brow + k + FP8Q__PREFETCH), _MM_HINT_T0); /* the weight stream */
                acc0 = fp8q__vk_fma(fp8q__vk_load(a + k), fp8q__decode_vl(brow + k, &job->hm, &nan), acc0);
                acc1 = fp8q__vk_fma(fp8q__vk_load(a + k + FP8Q__VL),
                                    fp8q__decode_vl(brow + k + FP8Q__VL, &job->hm, &nan), acc1);
                acc2 = fp8q__vk_fma(fp8q__vk_load(a + k + 2 * FP8Q__VL),
                                    fp8q__decode_vl(brow + k + 2 * FP8Q__VL, &job->hm, &nan), acc2);
                acc3 = fp8q__vk_fma(fp8q__vk_load(a + k + 3 * FP8Q__VL),
                                    fp8q__decode_vl(brow + k + 3 * FP8Q__VL, &job->hm, &nan), acc3);
            }
            for (; k + FP8Q__VL <= k1; k += FP8Q__VL)
                acc0 = fp8q__vk_fma(fp8q__vk_load(a + k), fp8q__decode_vl(brow + k, &job->hm, &nan), acc0);
            for (; k < k1; k += FP8Q__VL) { /* tail, zero-padded */
                uint8_t bt[FP8Q__VL] = {0};
                float at[FP8Q__VL] = {0};
                size_t t, len = k1 - k < FP8Q__VL ? k1 - k : FP8Q__VL;
                for (t = 0; t < len; t++) bt[t] = brow[k + t], at[t] = job->a_dec[k + t];
                acc0 = fp8q__vk_fma(fp8q__vk_load(at), fp8q__decode_vl(bt, &job->hm, &nan), acc0);
            }
            part = (fp8q__vk_sum(acc0) + fp8q__vk_sum(acc1)) + (fp8q__vk_sum(acc2) + fp8q__vk_sum(acc3));
            part *= job->hm.factor; /* exact: a power of two */
            c += (part * fp8q__scale_at(g->b_scales, p->b_tr, p->b_tc, p->b_ncols, n, k0)) *
                 fp8q__scale_at(g->a_scales, p->a_tr, p->a_tc, p->a_ncols, 0, k0);
        }
        if (fp8q__saw_nan(nan, &job->hm)) { /* a NaN code: the reference arithmetic gives the NaN semantics */
            float *b_row = (float *)malloc(g->K * sizeof(float));
            if (b_row) {
                fp8q__operand_row(b_row, g->b, NULL, g->b_format, g->K, n);
                c = fp8q__gemm_reference_one(g, p, job->a_dec, b_row, 0, n);
                free(b_row);
            } else
                c = fp8q__f32_from_bits(FP8Q__F32_CANONICAL_NAN);
            fp8q__store_f32(g, n, c);
            continue;
        }
        fp8q__store_f32(g, n, g->bias ? c + g->bias[n] : c);
    }
}

/* 2 <= M <= FP8Q__SMALL_M: like the GEMV kernel, but each decoded weight
   vector feeds 8 activation rows (one accumulator each); rows past M read
   a zero row and are discarded. No packing, so small batches stay cheap. */
#define FP8Q__SMALL_M 16

/* len (< VL) floats, zero-padded to a vector. */
FP8Q__FORCE_INLINE fp8q__vk fp8q__load_tail(const float *p, size_t len)
{
    float t[FP8Q__VL] = {0};
    FP8Q__MEMCPY(t, p, len * sizeof(float));
    return fp8q__vk_load(t);
}

#define FP8Q__SMALL_STEP(LOAD)                                                                                         \
    s0 = fp8q__vk_fma(LOAD(a[0]), w, s0), s1 = fp8q__vk_fma(LOAD(a[1]), w, s1);                                        \
    s2 = fp8q__vk_fma(LOAD(a[2]), w, s2), s3 = fp8q__vk_fma(LOAD(a[3]), w, s3);                                        \
    s4 = fp8q__vk_fma(LOAD(a[4]), w, s4), s5 = fp8q__vk_fma(LOAD(a[5]), w, s5);                                        \
    s6 = fp8q__vk_fma(LOAD(a[6]), w, s6), s7 = fp8q__vk_fma(LOAD(a[7]), w, s7)

static void fp8q__small_task(void *arg, size_t task)
{
    const fp8q__gemv_job *job = (const fp8q__gemv_job *)arg;
    const fp8q_gemm *g = job->g;
    const fp8q__gemm_plan *p = job->p;
    const size_t n0 = task * FP8Q__GEMV_NB, n1 = n0 + FP8Q__GEMV_NB < g->N ? n0 + FP8Q__GEMV_NB : g->N;
    const size_t K = g->K;
    float *zero = (float *)calloc(K, sizeof(float)), *b_row = (float *)malloc(K * sizeof(float));
    float c[FP8Q__SMALL_M];
    size_t n, gi, k, m0, i;
    for (n = n0; n < n1; n++) {
        const uint8_t *brow = g->b + n * K;
        fp8q__vh nan = fp8q__vh_set1(0);
        if (!zero || !b_row) { /* out of memory: report NaN rather than garbage */
            for (i = 0; i < g->M; i++) fp8q__store_f32(g, i * g->N + n, fp8q__f32_from_bits(FP8Q__F32_CANONICAL_NAN));
            continue;
        }
        for (i = 0; i < g->M; i++) c[i] = 0;
        for (gi = 0; gi < p->n_groups; gi++) {
            const size_t k0 = gi * p->group, k1 = k0 + p->group < K ? k0 + p->group : K;
            const float sb = fp8q__scale_at(g->b_scales, p->b_tr, p->b_tc, p->b_ncols, n, k0);
            for (m0 = 0; m0 < g->M; m0 += 8) {
                const float *a[8];
                fp8q__vk s0 = fp8q__vk_zero(), s1 = fp8q__vk_zero(), s2 = fp8q__vk_zero(), s3 = fp8q__vk_zero();
                fp8q__vk s4 = fp8q__vk_zero(), s5 = fp8q__vk_zero(), s6 = fp8q__vk_zero(), s7 = fp8q__vk_zero(), w;
                float part[8];
                for (i = 0; i < 8; i++) a[i] = m0 + i < g->M ? job->a_dec + (m0 + i) * K : zero;
                for (k = k0; k + FP8Q__VL <= k1; k += FP8Q__VL) {
                    w = fp8q__decode_vl(brow + k, &job->hm, &nan);
#define FP8Q__LOAD_FULL(row) fp8q__vk_load((row) + k)
                    FP8Q__SMALL_STEP(FP8Q__LOAD_FULL);
#undef FP8Q__LOAD_FULL
                }
                if (k < k1) { /* tail, zero-padded */
                    uint8_t bt[FP8Q__VL] = {0};
                    FP8Q__MEMCPY(bt, brow + k, k1 - k);
                    w = fp8q__decode_vl(bt, &job->hm, &nan);
#define FP8Q__LOAD_TAIL(row) fp8q__load_tail((row) + k, k1 - k)
                    FP8Q__SMALL_STEP(FP8Q__LOAD_TAIL);
#undef FP8Q__LOAD_TAIL
                }
                part[0] = fp8q__vk_sum(s0), part[1] = fp8q__vk_sum(s1), part[2] = fp8q__vk_sum(s2);
                part[3] = fp8q__vk_sum(s3), part[4] = fp8q__vk_sum(s4), part[5] = fp8q__vk_sum(s5);
                part[6] = fp8q__vk_sum(s6), part[7] = fp8q__vk_sum(s7);
                for (i = 0; i < 8 && m0 + i < g->M; i++)
                    c[m0 + i] += (part[i] * job->hm.factor * sb) *
                                 fp8q__scale_at(g->a_scales, p->a_tr, p->a_tc, p->a_ncols, m0 + i, k0);
            }
        }
        if (fp8q__saw_nan(nan, &job->hm)) { /* a NaN code: the reference arithmetic for this column */
            fp8q__operand_row(b_row, g->b, NULL, g->b_format, K, n);
            for (i = 0; i < g->M; i++)
                fp8q__store_f32(g, i * g->N + n, fp8q__gemm_reference_one(g, p, job->a_dec + i * K, b_row, i, n));
            continue;
        }
        for (i = 0; i < g->M; i++) fp8q__store_f32(g, i * g->N + n, g->bias ? c[i] + g->bias[n] : c[i]);
    }
    free(zero), free(b_row);
}
#undef FP8Q__SMALL_STEP

/* M > FP8Q__SMALL_M (or E5M2FNUZ weights): GotoBLAS-style. A is packed once as [M/6][K][6]; each task owns
   FP8Q__TW output columns, packs its B panel for one K block at a time as
   [panels][kc][2 * VL] (decoded through a 256-entry table built from the
   reference decoder, so NaN and Inf are exact), and runs a 6 x (2 * VL)
   register-blocked outer-product kernel. K groups get their own
   accumulator and the (p * sb) * sa epilogue. */
#define FP8Q__MR6 6
#define FP8Q__NRV (2 * FP8Q__VL)
#define FP8Q__TW  (8 * FP8Q__NRV) /* columns per task */
#define FP8Q__KC  256

FP8Q__FORCE_INLINE void fp8q__micro6(const float *ap, const float *bp, size_t kc, float *ct)
{
#define FP8Q__ROW(i)                                                                                                   \
    a = fp8q__vk_bcast(ap + k * FP8Q__MR6 + i);                                                                        \
    c##i##0 = fp8q__vk_fma(a, b0, c##i##0);                                                                            \
    c##i##1 = fp8q__vk_fma(a, b1, c##i##1)
    fp8q__vk c00 = fp8q__vk_load(ct), c01 = fp8q__vk_load(ct + FP8Q__VL);
    fp8q__vk c10 = fp8q__vk_load(ct + 2 * FP8Q__VL), c11 = fp8q__vk_load(ct + 3 * FP8Q__VL);
    fp8q__vk c20 = fp8q__vk_load(ct + 4 * FP8Q__VL), c21 = fp8q__vk_load(ct + 5 * FP8Q__VL);
    fp8q__vk c30 = fp8q__vk_load(ct + 6 * FP8Q__VL), c31 = fp8q__vk_load(ct + 7 * FP8Q__VL);
    fp8q__vk c40 = fp8q__vk_load(ct + 8 * FP8Q__VL), c41 = fp8q__vk_load(ct + 9 * FP8Q__VL);
    fp8q__vk c50 = fp8q__vk_load(ct + 10 * FP8Q__VL), c51 = fp8q__vk_load(ct + 11 * FP8Q__VL);
    size_t k;
    for (k = 0; k < kc; k++) {
        const fp8q__vk b0 = fp8q__vk_load(bp + k * FP8Q__NRV), b1 = fp8q__vk_load(bp + k * FP8Q__NRV + FP8Q__VL);
        fp8q__vk a;
        FP8Q__ROW(0);
        FP8Q__ROW(1);
        FP8Q__ROW(2);
        FP8Q__ROW(3);
        FP8Q__ROW(4);
        FP8Q__ROW(5);
    }
#undef FP8Q__ROW
    fp8q__vk_store(ct, c00), fp8q__vk_store(ct + FP8Q__VL, c01);
    fp8q__vk_store(ct + 2 * FP8Q__VL, c10), fp8q__vk_store(ct + 3 * FP8Q__VL, c11);
    fp8q__vk_store(ct + 4 * FP8Q__VL, c20), fp8q__vk_store(ct + 5 * FP8Q__VL, c21);
    fp8q__vk_store(ct + 6 * FP8Q__VL, c30), fp8q__vk_store(ct + 7 * FP8Q__VL, c31);
    fp8q__vk_store(ct + 8 * FP8Q__VL, c40), fp8q__vk_store(ct + 9 * FP8Q__VL, c41);
    fp8q__vk_store(ct + 10 * FP8Q__VL, c50), fp8q__vk_store(ct + 11 * FP8Q__VL, c51);
}

typedef struct fp8q__pack_job {
    const fp8q_gemm *g;
    const fp8q__gemm_plan *p;
    const float *a_pack; /* [mb][K][6] */
    size_t mb;           /* row blocks of 6 */
    float lut[256];      /* B code -> float */
    int failed;
} fp8q__pack_job;

static void fp8q__pack_task(void *arg, size_t task)
{
    fp8q__pack_job *job = (fp8q__pack_job *)arg;
    const fp8q_gemm *g = job->g;
    const fp8q__gemm_plan *p = job->p;
    const size_t n0 = task * FP8Q__TW, n1 = n0 + FP8Q__TW < g->N ? n0 + FP8Q__TW : g->N, tile = FP8Q__MR6 * FP8Q__NRV;
    const size_t panels = fp8q__div_up(n1 - n0, FP8Q__NRV), K = g->K;
    float *bp = (float *)malloc(panels * FP8Q__KC * FP8Q__NRV * sizeof(float));
    float *gacc = (float *)malloc(job->mb * panels * tile * sizeof(float));
    float *cacc = (float *)calloc(job->mb * panels * tile, sizeof(float));
    float *sb = (float *)malloc(FP8Q__TW * sizeof(float)), *sa = (float *)malloc(g->M * sizeof(float));
    size_t gi, kb, kc, pn, mb, k, j, i;
    if (!bp || !gacc || !cacc || !sb || !sa) {
        free(bp), free(gacc), free(cacc), free(sb), free(sa);
        job->failed = 1;
        return;
    }
    for (gi = 0; gi < p->n_groups; gi++) {
        const size_t k0 = gi * p->group, k1 = k0 + p->group < K ? k0 + p->group : K;
        memset(gacc, 0, job->mb * panels * tile * sizeof(float));
        for (kb = k0; kb < k1; kb += kc) {
            kc = k1 - kb < FP8Q__KC ? k1 - kb : FP8Q__KC;
            for (pn = 0; pn < panels; pn++) /* pack B: [kc][NRV] per panel */
                for (j = 0; j < FP8Q__NRV; j++) {
                    const size_t n = n0 + pn * FP8Q__NRV + j;
                    float *dst = bp + pn * FP8Q__KC * FP8Q__NRV + j;
                    if (n < n1)
                        for (k = 0; k < kc; k++) dst[k * FP8Q__NRV] = job->lut[g->b[n * K + kb + k]];
                    else
                        for (k = 0; k < kc; k++) dst[k * FP8Q__NRV] = 0.0f;
                }
            for (mb = 0; mb < job->mb; mb++)
                for (pn = 0; pn < panels; pn++)
                    fp8q__micro6(job->a_pack + (mb * K + kb) * FP8Q__MR6, bp + pn * FP8Q__KC * FP8Q__NRV, kc,
                                 gacc + (mb * panels + pn) * tile);
        }
        for (j = 0; j < n1 - n0; j++) sb[j] = fp8q__scale_at(g->b_scales, p->b_tr, p->b_tc, p->b_ncols, n0 + j, k0);
        for (i = 0; i < g->M; i++) sa[i] = fp8q__scale_at(g->a_scales, p->a_tr, p->a_tc, p->a_ncols, i, k0);
        for (mb = 0; mb < job->mb; mb++) /* epilogue of the group: c += (p * sb) * sa */
            for (pn = 0; pn < panels; pn++)
                for (i = 0; i < FP8Q__MR6 && mb * FP8Q__MR6 + i < g->M; i++)
                    for (j = 0; j < FP8Q__NRV && pn * FP8Q__NRV + j < n1 - n0; j++) {
                        const size_t at = (mb * panels + pn) * tile + i * FP8Q__NRV + j;
                        cacc[at] += (gacc[at] * sb[pn * FP8Q__NRV + j]) * sa[mb * FP8Q__MR6 + i];
                    }
    }
    for (mb = 0; mb < job->mb; mb++)
        for (pn = 0; pn < panels; pn++)
            for (i = 0; i < FP8Q__MR6 && mb * FP8Q__MR6 + i < g->M; i++)
                for (j = 0; j < FP8Q__NRV && n0 + pn * FP8Q__NRV + j < n1; j++) {
                    const size_t m = mb * FP8Q__MR6 + i, n = n0 + pn * FP8Q__NRV + j;
                    const float v = cacc[(mb * panels + pn) * tile + i * FP8Q__NRV + j];
                    fp8q__store_f32(g, m * g->N + n, g->bias ? v + g->bias[n] : v);
                }
    free(bp), free(gacc), free(cacc), free(sb), free(sa);
}

/* Vector fast path; returns FP8Q_ERR_UNSUPPORTED when it does not apply. */
static fp8q_result fp8q__gemm_fast_vec(const fp8q_gemm *g, const fp8q__gemm_plan *p, const float *a_dec)
{
    if (g->M <= FP8Q__SMALL_M && fp8q__half_map_of(g->b_format).ok) {
        fp8q__gemv_job job;
        job.g = g, job.p = p, job.a_dec = a_dec, job.hm = fp8q__half_map_of(g->b_format);
        fp8q__run_tasks(g, g->M == 1 ? fp8q__gemv_task : fp8q__small_task, &job, fp8q__div_up(g->N, FP8Q__GEMV_NB));
        return FP8Q_OK;
    }
    {
        fp8q__pack_job job;
        const size_t mb = fp8q__div_up(g->M, FP8Q__MR6);
        float *a_pack;
        size_t m, k, b;
        int c;
        if (mb * FP8Q__MR6 > ((size_t)-1 / sizeof(float)) / g->K) return FP8Q_ERR_ARG;
        a_pack = (float *)calloc(mb * FP8Q__MR6 * g->K, sizeof(float));
        if (!a_pack) return FP8Q_ERR_NOMEM;
        for (b = 0; b < mb; b++)
            for (m = b * FP8Q__MR6; m < g->M && m < (b + 1) * FP8Q__MR6; m++)
                for (k = 0; k < g->K; k++)
                    a_pack[(b * g->K + k) * FP8Q__MR6 + (m - b * FP8Q__MR6)] = a_dec[m * g->K + k];
        for (c = 0; c < 256; c++) job.lut[c] = fp8q_to_f32((uint8_t)c, g->b_format);
        job.g = g, job.p = p, job.a_pack = a_pack, job.mb = mb, job.failed = 0;
        fp8q__run_tasks(g, fp8q__pack_task, &job, fp8q__div_up(g->N, FP8Q__TW));
        free(a_pack);
        return job.failed ? FP8Q_ERR_NOMEM : FP8Q_OK;
    }
}
#endif

static fp8q_result fp8q__gemm_fast(const fp8q_gemm *g, const fp8q__gemm_plan *p)
{
    fp8q_result r = FP8Q_OK;
    float *a_dec;
    size_t m;
    if (g->M > ((size_t)-1 / sizeof(float)) / g->K) return FP8Q_ERR_ARG;
    a_dec = (float *)malloc(g->M * g->K * sizeof(float));
    if (!a_dec) return FP8Q_ERR_NOMEM;
    for (m = 0; m < g->M; m++) fp8q__operand_row(a_dec + m * g->K, g->a, g->a_f32, g->a_format, g->K, m);
#ifdef FP8Q__VGEMM
    r = fp8q__gemm_fast_vec(g, p, a_dec);
#else
    {
        fp8q__fast_job job;
        job.g = g, job.p = p, job.a_dec = a_dec, job.failed = 0;
        fp8q__run_tasks(g, fp8q__fast_task, &job, fp8q__div_up(g->N, FP8Q__FAST_NB));
        if (job.failed) r = FP8Q_ERR_NOMEM;
    }
#endif
    free(a_dec);
    return r;
}

FP8QDEF fp8q_result fp8q_gemm_run(const fp8q_gemm *g, fp8q_gemm_mode mode)
{
    fp8q__gemm_plan plan;
    fp8q_result r = fp8q__gemm_check(g, &plan);
    if (r != FP8Q_OK) return r;
    switch (mode) {
    case FP8Q_GEMM_REFERENCE: return fp8q__gemm_reference(g, &plan);
    case FP8Q_GEMM_EXACT: return fp8q__gemm_exact(g, &plan);
    case FP8Q_GEMM_FAST: return fp8q__gemm_fast(g, &plan);
    }
    return FP8Q_ERR_ARG;
}

/* ------------------------------------------------- golden-test metrics */

/* Distance in units in the last place of `type` between two finite values
   (through the ordered integer encoding of the type's bit patterns). */
static double fp8q__ulp_distance(float a, float b, fp8q_dtype type)
{
    int64_t ia, ib;
    if (type == FP8Q_F32) {
        uint32_t ua = fp8q__f32_bits(a), ub = fp8q__f32_bits(b);
        ia = (ua >> 31) ? -(int64_t)(ua & 0x7FFFFFFFu) : (int64_t)ua;
        ib = (ub >> 31) ? -(int64_t)(ub & 0x7FFFFFFFu) : (int64_t)ub;
    } else {
        uint16_t ua = type == FP8Q_BF16 ? fp8q_f32_to_bf16(a) : fp8q_f32_to_f16(a);
        uint16_t ub = type == FP8Q_BF16 ? fp8q_f32_to_bf16(b) : fp8q_f32_to_f16(b);
        ia = (ua >> 15) ? -(int64_t)(ua & 0x7FFFu) : (int64_t)ua;
        ib = (ub >> 15) ? -(int64_t)(ub & 0x7FFFu) : (int64_t)ub;
    }
    return (double)(ia > ib ? ia - ib : ib - ia);
}

FP8QDEF fp8q_compare fp8q_compare_f32(const float *got, const float *want, size_t n, fp8q_dtype type, double atol,
                                      double rtol)
{
    fp8q_compare c;
    size_t i;
    memset(&c, 0, sizeof c);
    c.count = n, c.first_outside = n;
    for (i = 0; i < n && got && want; i++) {
        const double g = got[i], w = want[i], d = g > w ? g - w : w - g, aw = w < 0 ? -w : w;
        int bad;
        if (g != g || w != w || g - g != 0 || w - w != 0) { /* NaN or Inf: must match exactly */
            bad = !((g != g && w != w) || g == w);
        } else {
            double u = fp8q__ulp_distance(got[i], want[i], type);
            if (d > c.max_abs_err) c.max_abs_err = d;
            if (aw > 0 && d / aw > c.max_rel_err) c.max_rel_err = d / aw;
            if (u > c.max_ulp) c.max_ulp = u;
            bad = d > atol + rtol * aw;
        }
        if (bad && c.outside++ == 0) c.first_outside = i;
    }
    return c;
}

FP8QDEF double fp8q_gemm_tolerance(size_t K, double sum_abs)
{
    const double u = 1.0 / 16777216.0, ku = (double)K * u;
    const double gamma = ku < 0.5 ? ku / (1.0 - ku) : 1.0;
    return (gamma + 4.0 * u) * sum_abs * 1.0000001 + 1e-45;
}

/* ------------------------------------------------------------------- JSON */
/* Strict RFC 8259 parser: one pass over the text, a flat token array grown by
   doubling, no recursion (open containers are linked through their tokens'
   `next` fields until they close), duplicate keys found by sorting each
   object's keys when it closes. Numbers are validated here and converted on
   demand with exact big-integer arithmetic (no strtod: locale-free, correctly
   rounded for any number of digits). */

#define FP8Q__JSON_NONE    ((size_t)-1)
#define FP8Q__JSON_MSG_MAX ((size_t)sizeof(((fp8q_error *)0)->message))

typedef struct fp8q__json_parser {
    const unsigned char *s;
    size_t len;
    int flags;
    fp8q_json_token *tok;
    size_t count, cap;
    struct fp8q__json_key *keys; /* scratch for the duplicate-key check */
    size_t keys_cap;
    fp8q_error *err;
} fp8q__json_parser;

/* ---- error messages (no printf: fixed pieces and decimal numbers) */

static size_t fp8q__json_msg_put(char *m, size_t n, const char *s)
{
    while (*s && n + 1 < FP8Q__JSON_MSG_MAX) m[n++] = *s++;
    m[n] = 0;
    return n;
}

static size_t fp8q__json_msg_num(char *m, size_t n, size_t v)
{
    char d[24];
    int k = 0;
    do {
        d[k++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v);
    while (k && n + 1 < FP8Q__JSON_MSG_MAX) m[n++] = d[--k];
    m[n] = 0;
    return n;
}

static size_t fp8q__json_msg_byte(char *m, size_t n, unsigned c)
{
    static const char hex[] = "0123456789ABCDEF";
    char b[5];
    b[0] = '0';
    b[1] = 'x';
    b[2] = hex[(c >> 4) & 15u];
    b[3] = hex[c & 15u];
    b[4] = 0;
    return fp8q__json_msg_put(m, n, b);
}

/* Describes the input at off: 'x', byte 0xNN, or end of input. */
static size_t fp8q__json_msg_got(char *m, size_t n, const unsigned char *s, size_t len, size_t off)
{
    char q[4];
    if (off >= len) return fp8q__json_msg_put(m, n, "end of input");
    if (s[off] >= 0x20 && s[off] < 0x7F) {
        q[0] = '\'';
        q[1] = (char)s[off];
        q[2] = '\'';
        q[3] = 0;
        return fp8q__json_msg_put(m, n, q);
    }
    n = fp8q__json_msg_put(m, n, "byte ");
    return fp8q__json_msg_byte(m, n, s[off]);
}

/* Fills err (if any): what [", got X"] " at line L, column C (byte B)". */
static fp8q_result fp8q__json_fail(fp8q__json_parser *p, int code, size_t off, const char *what, int got)
{
    size_t n, i, line = 1, col0 = 0;
    fp8q_error *e = p->err;
    if (e) {
        if (off > p->len) off = p->len;
        for (i = 0; i < off; i++)
            if (p->s[i] == '\n') {
                line++;
                col0 = i + 1;
            }
        e->code = code;
        e->offset = off;
        n = fp8q__json_msg_put(e->message, 0, what);
        if (got) {
            n = fp8q__json_msg_put(e->message, n, ", got ");
            n = fp8q__json_msg_got(e->message, n, p->s, p->len, off);
        }
        n = fp8q__json_msg_put(e->message, n, " at line ");
        n = fp8q__json_msg_num(e->message, n, line);
        n = fp8q__json_msg_put(e->message, n, ", column ");
        n = fp8q__json_msg_num(e->message, n, off - col0 + 1);
        n = fp8q__json_msg_put(e->message, n, " (byte ");
        n = fp8q__json_msg_num(e->message, n, off);
        (void)fp8q__json_msg_put(e->message, n, ")");
    }
    return (fp8q_result)code;
}

static void fp8q__json_set_err(fp8q_error *e, int code, const char *msg)
{
    if (e) {
        e->code = code;
        e->offset = 0;
        (void)fp8q__json_msg_put(e->message, 0, msg);
    }
}

/* ---- character classes (ASCII only, never the locale) */

#define FP8Q__JSON_DIGIT(c) ((unsigned)(c) - (unsigned)'0' < 10u)

static int fp8q__json_hex(unsigned c)
{
    if (c - '0' < 10u) return (int)(c - '0');
    if (c - 'a' < 6u) return (int)(c - 'a' + 10);
    if (c - 'A' < 6u) return (int)(c - 'A' + 10);
    return -1;
}

/* Four hex digits at s[i..i+3] (caller checked the bounds); -1 if not hex. */
static long fp8q__json_hex4(const unsigned char *s, size_t i)
{
    long v = 0;
    int k, h;
    for (k = 0; k < 4; k++) {
        h = fp8q__json_hex(s[i + (size_t)k]);
        if (h < 0) return -1 - k; /* -1 - index of the bad digit */
        v = v * 16 + h;
    }
    return v;
}

static size_t fp8q__json_ws(const unsigned char *s, size_t pos, size_t len)
{
    while (pos < len && (s[pos] == ' ' || s[pos] == '\n' || s[pos] == '\r' || s[pos] == '\t')) pos++;
    return pos;
}

static int fp8q__json_match(const unsigned char *s, size_t pos, size_t len, const char *lit)
{
    while (*lit) {
        if (pos >= len || s[pos] != (unsigned char)*lit) return 0;
        pos++;
        lit++;
    }
    return 1;
}

/* ---- tokens */

static size_t fp8q__json_push(fp8q__json_parser *p, fp8q_json_type type, size_t start)
{
    fp8q_json_token *t;
    if (p->count == p->cap) {
        size_t ncap = p->cap ? p->cap : 16;
        void *np;
        if (ncap > ((size_t)-1) / 2 / sizeof(fp8q_json_token)) return FP8Q__JSON_NONE;
        ncap *= 2;
        np = realloc(p->tok, ncap * sizeof(fp8q_json_token));
        if (!np) return FP8Q__JSON_NONE;
        p->tok = (fp8q_json_token *)np;
        p->cap = ncap;
    }
    t = &p->tok[p->count];
    t->type = type;
    t->start = start;
    t->end = start;
    t->size = 0;
    t->next = p->count + 1;
    return p->count++;
}

/* ---- unescaping (of text the parser validated) */

static size_t fp8q__json_utf8(unsigned long cp, unsigned char *o)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The next unescaped piece of a validated string at s[*i] (< end): 1-4 bytes. */
static size_t fp8q__json_unesc(const unsigned char *s, size_t *i, size_t end, unsigned char *o)
{
    unsigned c = s[*i];
    long cp, lo;
    if (c != '\\' || *i + 1 >= end) {
        o[0] = (unsigned char)c;
        (*i)++;
        return 1;
    }
    c = s[*i + 1];
    *i += 2;
    switch (c) {
    case 'b': o[0] = 8; return 1;
    case 'f': o[0] = 12; return 1;
    case 'n': o[0] = 10; return 1;
    case 'r': o[0] = 13; return 1;
    case 't': o[0] = 9; return 1;
    case 'u': break;
    default: o[0] = (unsigned char)c; return 1; /* " \ / */
    }
    if (*i + 4 > end || (cp = fp8q__json_hex4(s, *i)) < 0) {
        o[0] = '?';
        return 1;
    }
    *i += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF && *i + 6 <= end && s[*i] == '\\' && s[*i + 1] == 'u' &&
        (lo = fp8q__json_hex4(s, *i + 2)) >= 0xDC00 && lo <= 0xDFFF) {
        *i += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    return fp8q__json_utf8((unsigned long)cp, o);
}

/* Compares two validated STRING tokens by their unescaped bytes. */
static int fp8q__json_keycmp(const unsigned char *s, const fp8q_json_token *a, const fp8q_json_token *b)
{
    size_t i = a->start, j = b->start, na = 0, nb = 0, ka = 0, kb = 0;
    unsigned char ba[4], bb[4];
    for (;;) {
        if (ka == na) {
            if (i >= a->end) break;
            na = fp8q__json_unesc(s, &i, a->end, ba);
            ka = 0;
        }
        if (kb == nb) {
            if (j >= b->end) return 1; /* b is a proper prefix of a */
            nb = fp8q__json_unesc(s, &j, b->end, bb);
            kb = 0;
        }
        if (ba[ka] != bb[kb]) return ba[ka] < bb[kb] ? -1 : 1;
        ka++;
        kb++;
    }
    /* a is exhausted */
    return (kb == nb && j >= b->end) ? 0 : -1;
}

/* ---- duplicate keys */

typedef struct fp8q__json_key {
    uint64_t hash; /* FNV-1a of the unescaped bytes */
    size_t tok;
} fp8q__json_key;

static uint64_t fp8q__json_keyhash(const unsigned char *s, const fp8q_json_token *k)
{
    uint64_t h = 0xCBF29CE484222325ull;
    size_t i = k->start, n, b;
    unsigned char u[4];
    while (i < k->end) {
        n = fp8q__json_unesc(s, &i, k->end, u);
        for (b = 0; b < n; b++) h = (h ^ u[b]) * 0x100000001B3ull;
    }
    return h;
}

/* Order by hash, then unescaped content, then position. */
static int fp8q__json_key_less(const fp8q__json_parser *p, const fp8q__json_key *a, const fp8q__json_key *b)
{
    int c;
    if (a->hash != b->hash) return a->hash < b->hash;
    c = fp8q__json_keycmp(p->s, &p->tok[a->tok], &p->tok[b->tok]);
    return c < 0 || (c == 0 && a->tok < b->tok);
}

static void fp8q__json_sift(const fp8q__json_parser *p, fp8q__json_key *k, size_t root, size_t n)
{
    size_t child;
    fp8q__json_key t;
    while ((child = 2 * root + 1) < n) {
        if (child + 1 < n && fp8q__json_key_less(p, &k[child], &k[child + 1])) child++;
        if (!fp8q__json_key_less(p, &k[root], &k[child])) return;
        t = k[root];
        k[root] = k[child];
        k[child] = t;
        root = child;
    }
}

/* Returns 0 if the keys of object token `obj` are distinct, else the token
   index of the first key (in text order) that repeats an earlier one;
   FP8Q__JSON_NONE when out of memory. O(m log m) comparisons for m keys
   (heapsort: no recursion, no quadratic worst case). */
static size_t fp8q__json_dupkey(fp8q__json_parser *p, size_t obj)
{
    size_t m = p->tok[obj].size, a, b, t, best = 0;
    fp8q__json_key *k, tmp;
    if (m < 2) return 0;
    if (m <= 8) {
        size_t kt[8];
        for (a = 0, t = obj + 1; a < m; a++) {
            kt[a] = t;
            t = p->tok[t + 1].next;
        }
        for (b = 1; b < m; b++)
            for (a = 0; a < b; a++)
                if (fp8q__json_keycmp(p->s, &p->tok[kt[a]], &p->tok[kt[b]]) == 0) return kt[b];
        return 0;
    }
    if (m > p->keys_cap) {
        void *np;
        size_t ncap = p->keys_cap ? p->keys_cap : 32;
        while (ncap < m) ncap *= 2; /* m <= count / 2: no overflow (a token is larger than a key) */
        np = realloc(p->keys, ncap * sizeof(fp8q__json_key));
        if (!np) return FP8Q__JSON_NONE;
        p->keys = (fp8q__json_key *)np;
        p->keys_cap = ncap;
    }
    k = p->keys;
    for (a = 0, t = obj + 1; a < m; a++) {
        k[a].tok = t;
        k[a].hash = fp8q__json_keyhash(p->s, &p->tok[t]);
        t = p->tok[t + 1].next;
    }
    for (a = m / 2; a-- > 0;) fp8q__json_sift(p, k, a, m);
    for (b = m - 1; b > 0; b--) {
        tmp = k[0];
        k[0] = k[b];
        k[b] = tmp;
        fp8q__json_sift(p, k, 0, b);
    }
    /* equal neighbours are duplicates; report the earliest repeat */
    for (a = 0; a + 1 < m; a++)
        if (k[a].hash == k[a + 1].hash && fp8q__json_keycmp(p->s, &p->tok[k[a].tok], &p->tok[k[a + 1].tok]) == 0 &&
            (best == 0 || k[a + 1].tok < best))
            best = k[a + 1].tok;
    return best;
}

/* ---- strings */

/* Validates the string whose opening quote is at *pos and pushes its token;
 *pos ends after the closing quote. */
static fp8q_result fp8q__json_string(fp8q__json_parser *p, size_t *pos)
{
    const unsigned char *s = p->s;
    size_t len = p->len, q = *pos, i = *pos + 1, k, n;
    unsigned c, lo, hi;
    long cp, cp2;
    for (;;) {
        while (i < len && (c = s[i]) >= 0x20 && c < 0x80 && c != '"' && c != '\\') i++;
        if (i >= len)
            return fp8q__json_fail(p, FP8Q_ERR_PARSE, q,
                                   "unterminated string (no closing '\"' before end of input) starting", 0);
        c = s[i];
        if (c == '"') break;
        if (c < 0x20)
            return fp8q__json_fail(p, FP8Q_ERR_PARSE, i,
                                   "control character in string (must be escaped as \\n, \\t, \\u00XX, ...)", 1);
        if (c == '\\') {
            if (i + 1 >= len)
                return fp8q__json_fail(p, FP8Q_ERR_PARSE, q, "unterminated string (ends in '\\') starting", 0);
            c = s[i + 1];
            if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') {
                i += 2;
                continue;
            }
            if (c != 'u')
                return fp8q__json_fail(p, FP8Q_ERR_PARSE, i + 1,
                                       "invalid escape in string (allowed: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)",
                                       1);
            for (k = 2; k < 6; k++)
                if (i + k >= len || fp8q__json_hex(s[i + k]) < 0)
                    return fp8q__json_fail(p, FP8Q_ERR_PARSE, i + k, "expected 4 hex digits after \\u", 1);
            cp = fp8q__json_hex4(s, i + 2);
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return fp8q__json_fail(p, FP8Q_ERR_PARSE, i, "unpaired low surrogate \\uDC00-\\uDFFF escape in string",
                                       0);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (!(i + 12 <= len && s[i + 6] == '\\' && s[i + 7] == 'u' &&
                      (cp2 = fp8q__json_hex4(s, i + 8)) >= 0xDC00 && cp2 <= 0xDFFF))
                    return fp8q__json_fail(
                        p, FP8Q_ERR_PARSE, i,
                        "unpaired high surrogate escape in string (expected a \\uDC00-\\uDFFF escape to follow)", 0);
                i += 12;
            } else {
                i += 6;
            }
            continue;
        }
        /* UTF-8: the well-formed sequences of Unicode table 3-7 */
        lo = 0x80;
        hi = 0xBF;
        if (c < 0x80 + 0x40)
            return fp8q__json_fail(p, FP8Q_ERR_PARSE, i, "invalid UTF-8 in string: unexpected continuation byte", 1);
        if (c < 0xC2) return fp8q__json_fail(p, FP8Q_ERR_PARSE, i, "invalid UTF-8 in string: overlong encoding", 1);
        if (c < 0xE0) {
            n = 2;
        } else if (c < 0xF0) {
            n = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c < 0xF5) {
            n = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return fp8q__json_fail(p, FP8Q_ERR_PARSE, i, "invalid UTF-8 in string: byte beyond U+10FFFF", 1);
        }
        if (i + 1 >= len || s[i + 1] < lo || s[i + 1] > hi) {
            const char *why = "invalid UTF-8 in string: expected a continuation byte";
            if (i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0xBF) {
                if (c == 0xED)
                    why = "invalid UTF-8 in string: encoded surrogate U+D800-U+DFFF";
                else if (c == 0xF4)
                    why = "invalid UTF-8 in string: code point beyond U+10FFFF";
                else
                    why = "invalid UTF-8 in string: overlong encoding";
            }
            return fp8q__json_fail(p, FP8Q_ERR_PARSE, i + 1, why, 1);
        }
        for (k = 2; k < n; k++)
            if (i + k >= len || s[i + k] < 0x80 || s[i + k] > 0xBF)
                return fp8q__json_fail(p, FP8Q_ERR_PARSE, i + k,
                                       "invalid UTF-8 in string: expected a continuation byte", 1);
        i += n;
    }
    k = fp8q__json_push(p, FP8Q_JSON_STRING, q + 1);
    if (k == FP8Q__JSON_NONE) return fp8q__json_fail(p, FP8Q_ERR_NOMEM, q, "out of memory for tokens", 0);
    p->tok[k].end = i;
    *pos = i + 1;
    return FP8Q_OK;
}

/* ---- numbers (grammar only; conversion is on demand) */

static fp8q_result fp8q__json_number_tok(fp8q__json_parser *p, size_t *pos)
{
    const unsigned char *s = p->s;
    size_t len = p->len, start = *pos, i = *pos, k;
    if (s[i] == '-') i++;
    if (i < len && s[i] == 'I' && fp8q__json_match(s, i, len, "Infinity")) {
        if (!(p->flags & FP8Q_JSON_ALLOW_NONFINITE))
            return fp8q__json_fail(p, FP8Q_ERR_PARSE, start,
                                   "Infinity is not valid JSON (Python writes it for inf; parse with "
                                   "FP8Q_JSON_ALLOW_NONFINITE to accept it)",
                                   0);
        i += 8;
    } else {
        if (i >= len || !FP8Q__JSON_DIGIT(s[i]))
            return fp8q__json_fail(p, FP8Q_ERR_PARSE, i, "expected a digit after '-'", 1);
        if (s[i] == '0') {
            i++;
            if (i < len && FP8Q__JSON_DIGIT(s[i]))
                return fp8q__json_fail(p, FP8Q_ERR_PARSE, start, "leading zeros are not allowed in numbers", 0);
        } else {
            while (i < len && FP8Q__JSON_DIGIT(s[i])) i++;
        }
        if (i < len && s[i] == '.') {
            i++;
            if (i >= len || !FP8Q__JSON_DIGIT(s[i]))
                return fp8q__json_fail(p, FP8Q_ERR_PARSE, i, "expected a digit after the decimal point", 1);
            while (i < len && FP8Q__JSON_DIGIT(s[i])) i++;
        }
        if (i < len && (s[i] == 'e' || s[i] == 'E')) {
            i++;
            if (i < len && (s[i] == '+' || s[i] == '-')) i++;
            if (i >= len || !FP8Q__JSON_DIGIT(s[i]))
                return fp8q__json_fail(p, FP8Q_ERR_PARSE, i, "expected a digit in the exponent", 1);
            while (i < len && FP8Q__JSON_DIGIT(s[i])) i++;
        }
    }
    k = fp8q__json_push(p, FP8Q_JSON_NUMBER, start);
    if (k == FP8Q__JSON_NONE) return fp8q__json_fail(p, FP8Q_ERR_NOMEM, start, "out of memory for tokens", 0);
    p->tok[k].end = i;
    *pos = i;
    return FP8Q_OK;
}

/* ---- the parser */

FP8QDEF fp8q_result fp8q_json_parse(fp8q_json *out, const char *text, size_t len, int flags, fp8q_error *err)
{
    fp8q__json_parser p;
    fp8q_result r = FP8Q_OK;
    const unsigned char *s;
    size_t pos = 0, top = FP8Q__JSON_NONE, depth = 0, k, cap0;
    unsigned c;
    const char *want = "expected a JSON value (object, array, string, number, true, false or null)";
    int after_comma = 0;

    if (out) {
        out->text = 0;
        out->len = 0;
        out->tok = 0;
        out->count = 0;
    }
    if (err) {
        err->code = FP8Q_OK;
        err->offset = 0;
        err->message[0] = 0;
    }
    if (!out || (!text && len > 0) || (flags & ~FP8Q_JSON_ALLOW_NONFINITE)) {
        fp8q__json_set_err(err, FP8Q_ERR_ARG,
                           !out                 ? "fp8q_json_parse: out is NULL"
                           : (!text && len > 0) ? "fp8q_json_parse: text is NULL"
                                                : "fp8q_json_parse: unknown flags");
        return FP8Q_ERR_ARG;
    }
    s = (const unsigned char *)text;
    p.s = s;
    p.len = len;
    p.flags = flags;
    p.count = 0;
    p.keys = 0;
    p.keys_cap = 0;
    p.err = err;
    /* a first guess that avoids most regrowth for typical documents */
    cap0 = len / 16 + 16;
    if (cap0 > ((size_t)-1) / 4 / sizeof(fp8q_json_token)) cap0 = 16;
    p.tok = (fp8q_json_token *)malloc(cap0 * sizeof(fp8q_json_token));
    p.cap = p.tok ? cap0 : 0;

    if (len >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF) {
        r = fp8q__json_fail(&p, FP8Q_ERR_PARSE, 0, "a byte order mark (U+FEFF) is not allowed", 0);
        goto done;
    }

value:
    pos = fp8q__json_ws(s, pos, len);
    if (pos >= len) {
        r = fp8q__json_fail(&p, FP8Q_ERR_PARSE, pos, want, 1);
        goto done;
    }
    c = s[pos];
    switch (c) {
    case '[':
    case '{':
        if (depth >= FP8Q_MAX_JSON_DEPTH) {
            r = fp8q__json_fail(&p, FP8Q_ERR_LIMIT, pos, "nesting deeper than FP8Q_MAX_JSON_DEPTH", 0);
            goto done;
        }
        k = fp8q__json_push(&p, c == '[' ? FP8Q_JSON_ARRAY : FP8Q_JSON_OBJECT, pos);
        if (k == FP8Q__JSON_NONE) {
            r = fp8q__json_fail(&p, FP8Q_ERR_NOMEM, pos, "out of memory for tokens", 0);
            goto done;
        }
        p.tok[k].next = top; /* parent link while open */
        top = k;
        depth++;
        pos = fp8q__json_ws(s, pos + 1, len);
        if (c == '[') {
            if (pos < len && s[pos] == ']') {
                pos++;
                goto close;
            }
            want = "expected a value or ']' after '['";
            after_comma = 0;
            goto value;
        }
        if (pos < len && s[pos] == '}') {
            pos++;
            goto close;
        }
        after_comma = 0;
        goto key;
    case '"':
        r = fp8q__json_string(&p, &pos);
        if (r != FP8Q_OK) goto done;
        goto have_value;
    case 't':
    case 'f':
    case 'n': {
        const char *lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
        size_t n = c == 'f' ? 5 : 4;
        if (!fp8q__json_match(s, pos, len, lit)) {
            r = fp8q__json_fail(&p, FP8Q_ERR_PARSE, pos,
                                c == 't'   ? "invalid literal (expected 'true')"
                                : c == 'f' ? "invalid literal (expected 'false')"
                                           : "invalid literal (expected 'null')",
                                0);
            goto done;
        }
        k = fp8q__json_push(&p, c == 't' ? FP8Q_JSON_TRUE : c == 'f' ? FP8Q_JSON_FALSE : FP8Q_JSON_NULL, pos);
        if (k == FP8Q__JSON_NONE) {
            r = fp8q__json_fail(&p, FP8Q_ERR_NOMEM, pos, "out of memory for tokens", 0);
            goto done;
        }
        pos += n;
        p.tok[k].end = pos;
        goto have_value;
    }
    case 'N':
        if (fp8q__json_match(s, pos, len, "NaN")) {
            if (!(flags & FP8Q_JSON_ALLOW_NONFINITE)) {
                r = fp8q__json_fail(&p, FP8Q_ERR_PARSE, pos,
                                    "NaN is not valid JSON (Python writes it for nan; parse with "
                                    "FP8Q_JSON_ALLOW_NONFINITE to accept it)",
                                    0);
                goto done;
            }
            k = fp8q__json_push(&p, FP8Q_JSON_NUMBER, pos);
            if (k == FP8Q__JSON_NONE) {
                r = fp8q__json_fail(&p, FP8Q_ERR_NOMEM, pos, "out of memory for tokens", 0);
                goto done;
            }
            pos += 3;
            p.tok[k].end = pos;
            goto have_value;
        }
        break;
    case 'I':
    case '-':
        if (c == 'I' && !fp8q__json_match(s, pos, len, "Infinity")) break;
        r = fp8q__json_number_tok(&p, &pos);
        if (r != FP8Q_OK) goto done;
        goto have_value;
    default:
        if (FP8Q__JSON_DIGIT(c)) {
            r = fp8q__json_number_tok(&p, &pos);
            if (r != FP8Q_OK) goto done;
            goto have_value;
        }
        break;
    }
    /* not the start of any value */
    if (after_comma && (c == ']' || c == '}'))
        r = fp8q__json_fail(&p, FP8Q_ERR_PARSE, pos, "trailing comma: expected a value after ','", 1);
    else if (c == '/')
        r = fp8q__json_fail(&p, FP8Q_ERR_PARSE, pos, "comments are not allowed in JSON", 0);
    else if (c == '\'')
        r = fp8q__json_fail(&p, FP8Q_ERR_PARSE, pos, "single-quoted strings are not allowed; expected a value", 1);
    else if (c == '+')
        r = fp8q__json_fail(&p, FP8Q_ERR_PARSE, pos, "numbers may not start with '+'; expected a value", 1);
    else if (c == '.')
        r = fp8q__json_fail(&p, FP8Q_ERR_PARSE, pos, "numbers need a digit before '.'; expected a value", 1);
    else
        r = fp8q__json_fail(&p, FP8Q_ERR_PARSE, pos, want, 1);
    goto done;

have_value:
    if (top == FP8Q__JSON_NONE) goto finish;
    p.tok[top].size++;
    pos = fp8q__json_ws(s, pos, len);
    c = pos < len ? s[pos] : 0u;
    if (p.tok[top].type == FP8Q_JSON_ARRAY) {
        if (pos < len && c == ',') {
            pos++;
            want = "expected a value after ',' in array";
            after_comma = 1;
            goto value;
        }
        if (pos < len && c == ']') {
            pos++;
            goto close;
        }
        r = fp8q__json_fail(&p, FP8Q_ERR_PARSE, pos, "expected ',' or ']' after array element", 1);
        goto done;
    }
    if (pos < len && c == ',') {
        pos++;
        after_comma = 1;
        goto key;
    }
    if (pos < len && c == '}') {
        pos++;
        goto close;
    }
    r = fp8q__json_fail(&p, FP8Q_ERR_PARSE, pos, "expected ',' or '}' after object member", 1);
    goto done;

close:
    k = top;
    top = p.tok[k].next;
    p.tok[k].next = p.count;
    p.tok[k].end = pos;
    depth--;
    if (p.tok[k].type == FP8Q_JSON_OBJECT && p.tok[k].size > 1) {
        size_t d = fp8q__json_dupkey(&p, k);
        if (d == FP8Q__JSON_NONE) {
            r = fp8q__json_fail(&p, FP8Q_ERR_NOMEM, p.tok[k].start, "out of memory checking duplicate keys", 0);
            goto done;
        }
        if (d) {
            r = fp8q__json_fail(&p, FP8Q_ERR_PARSE, p.tok[d].start - 1,
                                "duplicate key in object (keys must be unique, as safetensors and INC files require)",
                                0);
            goto done;
        }
    }
    goto have_value;

key:
    pos = fp8q__json_ws(s, pos, len);
    if (pos >= len || s[pos] != '"') {
        if (pos < len && s[pos] == '}' && after_comma)
            r = fp8q__json_fail(&p, FP8Q_ERR_PARSE, pos, "trailing comma: expected a string key after ','", 1);
        else if (pos < len && s[pos] == '\'')
            r = fp8q__json_fail(&p, FP8Q_ERR_PARSE, pos, "single-quoted strings are not allowed; expected a string key",
                                1);
        else if (pos < len && s[pos] == '/')
            r = fp8q__json_fail(&p, FP8Q_ERR_PARSE, pos, "comments are not allowed in JSON", 0);
        else
            r = fp8q__json_fail(&p, FP8Q_ERR_PARSE, pos,
                                after_comma ? "expected a string key after ',' in object"
                                            : "expected a string key or '}' after '{'",
                                1);
        goto done;
    }
    r = fp8q__json_string(&p, &pos);
    if (r != FP8Q_OK) goto done;
    pos = fp8q__json_ws(s, pos, len);
    if (pos >= len || s[pos] != ':') {
        r = fp8q__json_fail(&p, FP8Q_ERR_PARSE, pos, "expected ':' after object key", 1);
        goto done;
    }
    pos++;
    want = "expected a value after ':'";
    after_comma = 0;
    goto value;

finish:
    pos = fp8q__json_ws(s, pos, len);
    if (pos < len) {
        r = fp8q__json_fail(&p, FP8Q_ERR_PARSE, pos, "unexpected data after the JSON value (expected end of input)", 1);
        goto done;
    }
    r = FP8Q_OK;

done:
    free(p.keys);
    if (r != FP8Q_OK) {
        free(p.tok);
        return r;
    }
    if (p.cap > p.count + p.count / 4 + 16) { /* give back the slack; keep the block if shrinking fails */
        void *np = realloc(p.tok, p.count * sizeof(fp8q_json_token));
        if (np) p.tok = (fp8q_json_token *)np;
    }
    out->text = text;
    out->len = len;
    out->tok = p.tok;
    out->count = p.count;
    return FP8Q_OK;
}

FP8QDEF void fp8q_json_free(fp8q_json *j)
{
    if (!j) return;
    free(j->tok);
    j->tok = 0;
    j->count = 0;
    j->text = 0;
    j->len = 0;
}

/* ---- accessors */

static int fp8q__json_is(const fp8q_json *j, size_t t, fp8q_json_type type)
{
    return j && j->tok && j->text && t < j->count && j->tok[t].type == type;
}

FP8QDEF size_t fp8q_json_get(const fp8q_json *j, size_t object, const char *key)
{
    size_t m, t;
    if (!key || !fp8q__json_is(j, object, FP8Q_JSON_OBJECT)) return 0;
    for (m = 0, t = object + 1; m < j->tok[object].size; m++) {
        if (fp8q_json_string_eq(j, t, key)) return t + 1;
        t = j->tok[t + 1].next;
    }
    return 0;
}

FP8QDEF size_t fp8q_json_at(const fp8q_json *j, size_t array, size_t i)
{
    size_t t, k;
    if (!fp8q__json_is(j, array, FP8Q_JSON_ARRAY) || i >= j->tok[array].size) return 0;
    for (k = 0, t = array + 1; k < i; k++) t = j->tok[t].next;
    return t;
}

FP8QDEF size_t fp8q_json_string(const fp8q_json *j, size_t t, char *buf, size_t cap)
{
    const unsigned char *s;
    size_t i, end, n = 0, m, b;
    unsigned char u[4];
    if (!buf) cap = 0;
    if (!fp8q__json_is(j, t, FP8Q_JSON_STRING)) {
        if (cap) buf[0] = 0;
        return 0;
    }
    s = (const unsigned char *)j->text;
    i = j->tok[t].start;
    end = j->tok[t].end;
    while (i < end) {
        m = fp8q__json_unesc(s, &i, end, u);
        for (b = 0; b < m; b++, n++)
            if (n + 1 < cap) buf[n] = (char)u[b];
    }
    if (cap) buf[n < cap ? n : cap - 1] = 0;
    return n;
}

FP8QDEF int fp8q_json_string_eq(const fp8q_json *j, size_t t, const char *str)
{
    const unsigned char *s, *q = (const unsigned char *)str;
    size_t i, end, m, b;
    unsigned char u[4];
    if (!str || !fp8q__json_is(j, t, FP8Q_JSON_STRING)) return 0;
    s = (const unsigned char *)j->text;
    i = j->tok[t].start;
    end = j->tok[t].end;
    while (i < end) {
        if (s[i] != '\\') { /* fast path for plain bytes */
            if (*q != s[i]) return 0;
            q++;
            i++;
            continue;
        }
        m = fp8q__json_unesc(s, &i, end, u);
        for (b = 0; b < m; b++, q++)
            if (*q != u[b] || u[b] == 0) return 0;
    }
    return *q == 0;
}

/* ---- number conversion: exact decimal to binary */

#define FP8Q__JSON_MAXDIG 800                /* significant digits kept (768 suffice for doubles) */
#define FP8Q__JSON_SAT    1000000000000000LL /* exponent and digit counts saturate here */
#define FP8Q__BIG_LIMBS   96                 /* 3072 bits; the largest intermediate uses 85 limbs */

typedef struct fp8q__json_dec {
    unsigned char d[FP8Q__JSON_MAXDIG]; /* significant digits, 0-9, no leading or trailing zeros */
    int nd;                             /* number of digits in d; 0 means the value is zero */
    int sticky;                         /* nonzero digits were dropped after d */
    int neg;
    int special;  /* 1 Infinity, 2 NaN */
    long long dp; /* value = 0.d[0]d[1]... * 10^dp (+ sticky) */
} fp8q__json_dec;

static void fp8q__json_decimal(const unsigned char *s, size_t i, size_t end, fp8q__json_dec *d)
{
    int nz = 0;
    long long ev = 0;
    int eneg = 0;
    unsigned c;
    d->nd = 0;
    d->sticky = 0;
    d->neg = 0;
    d->special = 0;
    d->dp = 0;
    if (i < end && s[i] == '-') {
        d->neg = 1;
        i++;
    }
    if (i < end && (s[i] == 'I' || s[i] == 'N')) {
        d->special = s[i] == 'I' ? 1 : 2;
        return;
    }
    for (; i < end && FP8Q__JSON_DIGIT(s[i]); i++) {
        c = s[i] - (unsigned)'0';
        if (!nz && c == 0) continue;
        nz = 1;
        if (d->dp < FP8Q__JSON_SAT) d->dp++;
        if (d->nd < FP8Q__JSON_MAXDIG)
            d->d[d->nd++] = (unsigned char)c;
        else if (c)
            d->sticky = 1;
    }
    if (i < end && s[i] == '.')
        for (i++; i < end && FP8Q__JSON_DIGIT(s[i]); i++) {
            c = s[i] - (unsigned)'0';
            if (!nz && c == 0) {
                if (d->dp > -FP8Q__JSON_SAT) d->dp--;
                continue;
            }
            nz = 1;
            if (d->nd < FP8Q__JSON_MAXDIG)
                d->d[d->nd++] = (unsigned char)c;
            else if (c)
                d->sticky = 1;
        }
    if (i < end && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < end && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
        for (; i < end && FP8Q__JSON_DIGIT(s[i]); i++)
            if (ev < FP8Q__JSON_SAT) ev = ev * 10 + (long long)(s[i] - '0');
    }
    while (d->nd > 0 && d->d[d->nd - 1] == 0) d->nd--;
    if (d->nd == 0) return;
    d->dp += eneg ? -ev : ev;
}

typedef struct fp8q__big {
    uint32_t w[FP8Q__BIG_LIMBS];
    int n; /* limbs in use, no leading zero limbs */
} fp8q__big;

static void fp8q__big_muladd(fp8q__big *a, uint32_t m, uint32_t add)
{
    uint64_t carry = add;
    int i;
    for (i = 0; i < a->n; i++) {
        uint64_t v = (uint64_t)a->w[i] * m + carry;
        a->w[i] = (uint32_t)v;
        carry = v >> 32;
    }
    if (carry && a->n < FP8Q__BIG_LIMBS) a->w[a->n++] = (uint32_t)carry;
}

static void fp8q__big_mulpow5(fp8q__big *a, int e)
{
    static const uint32_t p5[14] = {1u,     5u,      25u,      125u,     625u,      3125u,      15625u,
                                    78125u, 390625u, 1953125u, 9765625u, 48828125u, 244140625u, 1220703125u};
    for (; e >= 13; e -= 13) fp8q__big_muladd(a, p5[13], 0);
    if (e) fp8q__big_muladd(a, p5[e], 0);
}

static int fp8q__big_bits(const fp8q__big *a)
{
    uint32_t t;
    int b;
    if (!a->n) return 0;
    t = a->w[a->n - 1];
    for (b = 0; t; b++) t >>= 1;
    return (a->n - 1) * 32 + b;
}

static void fp8q__big_shl(fp8q__big *a, int bits)
{
    int limbs = bits / 32, sh = bits % 32, i, n;
    if (!a->n || bits <= 0) return;
    n = a->n + limbs + 1;
    if (n > FP8Q__BIG_LIMBS) n = FP8Q__BIG_LIMBS; /* not reached: operands are bounded (see above) */
    for (i = n - 1; i >= 0; i--) {
        uint32_t hi = (i - limbs < a->n && i - limbs >= 0) ? a->w[i - limbs] : 0u;
        uint32_t lo = (sh && i - limbs - 1 >= 0 && i - limbs - 1 < a->n) ? a->w[i - limbs - 1] : 0u;
        a->w[i] = sh ? (hi << sh) | (lo >> (32 - sh)) : hi;
    }
    a->n = n;
    while (a->n && !a->w[a->n - 1]) a->n--;
}

static void fp8q__big_shr1(fp8q__big *a)
{
    int i;
    for (i = 0; i < a->n; i++) a->w[i] = (a->w[i] >> 1) | (i + 1 < a->n ? a->w[i + 1] << 31 : 0u);
    while (a->n && !a->w[a->n - 1]) a->n--;
}

static int fp8q__big_cmp(const fp8q__big *a, const fp8q__big *b)
{
    int i;
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    for (i = a->n - 1; i >= 0; i--)
        if (a->w[i] != b->w[i]) return a->w[i] < b->w[i] ? -1 : 1;
    return 0;
}

static void fp8q__big_sub(fp8q__big *a, const fp8q__big *b) /* a -= b, a >= b */
{
    uint64_t borrow = 0;
    int i;
    for (i = 0; i < a->n; i++) {
        uint64_t v = (uint64_t)a->w[i] - (i < b->n ? b->w[i] : 0u) - borrow;
        a->w[i] = (uint32_t)v;
        borrow = (v >> 32) & 1u;
    }
    while (a->n && !a->w[a->n - 1]) a->n--;
}

/* The double nearest to the decimal (ties to even), as IEEE bits. */
static uint64_t fp8q__json_to_bits(const fp8q__json_dec *d)
{
    const uint64_t sign = (uint64_t)d->neg << 63;
    fp8q__big a, b;
    int e, s, i, b2, la, lb, L, u, sh, E;
    uint64_t q = 0, m, rem, half;
    int sticky;
    if (d->special == 1) return sign | 0x7FF0000000000000ull;
    if (d->special == 2) return 0x7FF8000000000000ull;
    if (d->nd == 0 || d->dp <= -324) return sign;          /* below 1e-324 < half the smallest subnormal */
    if (d->dp >= 310) return sign | 0x7FF0000000000000ull; /* at least 1e309 */
    /* value = D * 10^e, D the integer of the nd digits */
    e = (int)d->dp - d->nd;
    a.n = 0;
    for (i = 0; i < d->nd;) {
        uint32_t chunk = 0, mul = 1;
        int k;
        for (k = 0; k < 9 && i < d->nd; k++, i++) {
            chunk = chunk * 10u + d->d[i];
            mul *= 10u;
        }
        if (!a.n) {
            a.w[0] = chunk;
            a.n = chunk ? 1 : 0;
        } else {
            fp8q__big_muladd(&a, mul, chunk);
        }
    }
    b.w[0] = 1;
    b.n = 1;
    /* 10^e = 5^e 2^e: keep the power of two aside */
    if (e >= 0)
        fp8q__big_mulpow5(&a, e);
    else
        fp8q__big_mulpow5(&b, -e);
    b2 = e;
    /* scale so that q = floor(a / b) has 56 or 57 bits */
    la = fp8q__big_bits(&a);
    lb = fp8q__big_bits(&b);
    s = lb - la + 56;
    if (s > 0)
        fp8q__big_shl(&a, s);
    else
        fp8q__big_shl(&b, -s);
    fp8q__big_shl(&b, 57);
    for (i = 57; i >= 0; i--) {
        if (fp8q__big_cmp(&a, &b) >= 0) {
            fp8q__big_sub(&a, &b);
            q |= (uint64_t)1 << i;
        }
        fp8q__big_shr1(&b);
    }
    sticky = a.n != 0 || d->sticky;
    /* value = (q + frac) * 2^(b2 - s), q in [2^55, 2^57) */
    for (L = 0, m = q; m; L++) m >>= 1;
    E = L - 1 + b2 - s; /* 2^E <= value < 2^(E+1) */
    u = E - 52;         /* exponent of the unit in the last place */
    if (u < -1074) u = -1074;
    sh = u - (b2 - s); /* >= L - 53 >= 3 */
    if (sh > 60) return sign;
    m = q >> sh;
    rem = q & (((uint64_t)1 << sh) - 1);
    half = (uint64_t)1 << (sh - 1);
    if (rem > half || (rem == half && (sticky || (m & 1)))) m++;
    if (m == ((uint64_t)1 << 53)) {
        m >>= 1;
        u++;
    }
    if (m < ((uint64_t)1 << 52)) return sign | m; /* subnormal (or zero) */
    if (u + 1075 >= 2047) return sign | 0x7FF0000000000000ull;
    return sign | ((uint64_t)(u + 1075) << 52) | (m - ((uint64_t)1 << 52));
}

FP8QDEF fp8q_result fp8q_json_number(const fp8q_json *j, size_t t, double *out)
{
    fp8q__json_dec d;
    uint64_t bits;
    if (!out || !fp8q__json_is(j, t, FP8Q_JSON_NUMBER)) return FP8Q_ERR_ARG;
    fp8q__json_decimal((const unsigned char *)j->text, j->tok[t].start, j->tok[t].end, &d);
    bits = fp8q__json_to_bits(&d);
    FP8Q__MEMCPY(out, &bits, 8);
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_json_int64(const fp8q_json *j, size_t t, int64_t *out)
{
    fp8q__json_dec d;
    uint64_t v = 0;
    int i;
    if (!out || !fp8q__json_is(j, t, FP8Q_JSON_NUMBER)) return FP8Q_ERR_ARG;
    fp8q__json_decimal((const unsigned char *)j->text, j->tok[t].start, j->tok[t].end, &d);
    if (d.special == 2) return FP8Q_ERR_ARG;
    if (d.special == 1) return (fp8q_result)FP8Q_ERR_LIMIT;
    if (d.nd == 0) {
        *out = 0;
        return FP8Q_OK;
    }
    if (d.dp > 19) return (fp8q_result)FP8Q_ERR_LIMIT;
    if ((long long)d.nd > d.dp || d.sticky) return FP8Q_ERR_ARG;            /* a nonzero fraction */
    for (i = 0; i < (int)d.dp; i++) v = v * 10u + (i < d.nd ? d.d[i] : 0u); /* < 10^19: no overflow */
    if (v > (d.neg ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1)) return (fp8q_result)FP8Q_ERR_LIMIT;
    if (!d.neg)
        *out = (int64_t)v;
    else
        *out = -(int64_t)(v - 1u) - 1; /* v <= 2^63 */
    return FP8Q_OK;
}

/* ------------------------------------------------------------ safetensors */
/* Reader: one strict JSON parse of the header, two passes over its tokens
   (count and size the strings, then fill and validate), every allocation
   sized from token counts or the header's real length; the data layout is
   checked by sorting (begin, end) pairs. Writer: the header is built in
   memory (exact size computed first), then the data is appended or
   streamed to the file. Messages are assembled from fixed pieces and
   decimal numbers (no printf). */

#include <stdio.h> /* FILE, fopen, fread, fwrite, remove */
#if defined(__unix__) || defined(__APPLE__)
#define FP8Q__POSIX 1 /* stat(): readers refuse FIFOs, devices and directories before opening them */
#include <errno.h>
#include <sys/stat.h>
#include <sys/types.h>
#endif
#if !defined(FP8Q_NO_MMAP) && (defined(__unix__) || defined(__APPLE__))
#define FP8Q__ST_MMAP 1
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
/* madvise(MADV_DONTNEED) drops pages of a mapping that a loader has
   converted (fp8q_safetensors_release). Strict C99/POSIX builds hide it
   (glibc wants _DEFAULT_SOURCE, and posix_madvise's POSIX_MADV_DONTNEED is
   a no-op there), so on Linux it is declared here with the kernel's value. */
#if defined(MADV_DONTNEED)
#define FP8Q__MADV_DONTNEED MADV_DONTNEED
#elif defined(__linux__)
#define FP8Q__MADV_DONTNEED 4
extern int madvise(void *addr, size_t len, int advice);
#endif
#endif

/* 1 when path exists and is not a regular file: a FIFO would block the
   open, a device can be endless, a directory cannot be read. POSIX only
   (elsewhere 0: the read itself fails). */
static int fp8q__not_regular(const char *path)
{
#ifdef FP8Q__POSIX
    struct stat sb;
    return stat(path, &sb) == 0 && !S_ISREG(sb.st_mode);
#else
    (void)path;
    return 0;
#endif
}

/* The result for a path that cannot be opened, read or written. */
#define FP8Q__ST_ERR_IO FP8Q_ERR_IO

/* Rows in enum order (C++ has no array designators); a test checks row i has dtype i. */
static const fp8q_dtype_info fp8q__dtypes[FP8Q_DTYPE_COUNT] = {
    {(fp8q_dtype)FP8Q_F32, "F32", 32, 1},
    {(fp8q_dtype)FP8Q_BF16, "BF16", 16, 1},
    {(fp8q_dtype)FP8Q_F16, "F16", 16, 1},
    {(fp8q_dtype)FP8Q_F64, "F64", 64, 1},
    {(fp8q_dtype)FP8Q_I8, "I8", 8, 0},
    {(fp8q_dtype)FP8Q_U8, "U8", 8, 0},
    {(fp8q_dtype)FP8Q_I16, "I16", 16, 0},
    {(fp8q_dtype)FP8Q_U16, "U16", 16, 0},
    {(fp8q_dtype)FP8Q_I32, "I32", 32, 0},
    {(fp8q_dtype)FP8Q_U32, "U32", 32, 0},
    {(fp8q_dtype)FP8Q_I64, "I64", 64, 0},
    {(fp8q_dtype)FP8Q_U64, "U64", 64, 0},
    {(fp8q_dtype)FP8Q_BOOL, "BOOL", 8, 0},
    {(fp8q_dtype)FP8Q_F8_E4M3, "F8_E4M3", 8, 1},
    {(fp8q_dtype)FP8Q_F8_E5M2, "F8_E5M2", 8, 1},
    {(fp8q_dtype)FP8Q_F8_E4M3FNUZ, "F8_E4M3FNUZ", 8, 1},
    {(fp8q_dtype)FP8Q_F8_E5M2FNUZ, "F8_E5M2FNUZ", 8, 1},
    {(fp8q_dtype)FP8Q_F8_E8M0, "F8_E8M0", 8, 1},
    {(fp8q_dtype)FP8Q_F6_E2M3, "F6_E2M3", 6, 1},
    {(fp8q_dtype)FP8Q_F6_E3M2, "F6_E3M2", 6, 1},
    {(fp8q_dtype)FP8Q_F4, "F4", 4, 1},
};

FP8QDEF const fp8q_dtype_info *fp8q_dtype_get(fp8q_dtype dtype)
{
    unsigned i = (unsigned)dtype;
    return i < (unsigned)FP8Q_DTYPE_COUNT ? &fp8q__dtypes[i] : NULL;
}

FP8QDEF int fp8q_dtype_from_name(const char *s, size_t len, fp8q_dtype *out)
{
    int i;
    size_t k;
    if (!s) return 0;
    for (i = 0; i < (int)FP8Q_DTYPE_COUNT; i++) {
        const char *n = fp8q__dtypes[i].name;
        for (k = 0; k < len && n[k] && n[k] == s[k]; k++) {
        }
        if (k == len && !n[k]) {
            if (out) *out = fp8q__dtypes[i].dtype;
            return 1;
        }
    }
    return 0;
}

/* ---- messages */

#define FP8Q__ST_MSG_MAX  ((size_t)sizeof(((fp8q_error *)0)->message))
#define FP8Q__ST_NAME_MAX 64 /* bytes of a name quoted in a message */

typedef struct fp8q__st_msg {
    char m[FP8Q__ST_MSG_MAX];
    size_t n;
} fp8q__st_msg;

static void fp8q__st_put(fp8q__st_msg *m, const char *s)
{
    while (*s && m->n + 1 < FP8Q__ST_MSG_MAX) m->m[m->n++] = *s++;
    m->m[m->n] = 0;
}

static void fp8q__st_u64(fp8q__st_msg *m, uint64_t v)
{
    char d[24];
    int k = 0;
    do {
        d[k++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v);
    while (k && m->n + 1 < FP8Q__ST_MSG_MAX) m->m[m->n++] = d[--k];
    m->m[m->n] = 0;
}

/* 'name' with control bytes as \xNN, cut (at a UTF-8 boundary) after
   FP8Q__ST_NAME_MAX bytes with "...". */
static void fp8q__st_name(fp8q__st_msg *m, const char *name)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)name;
    size_t i = 0;
    char b[5];
    fp8q__st_put(m, "'");
    for (; s[i]; i++) {
        if (i >= FP8Q__ST_NAME_MAX && (s[i] & 0xC0u) != 0x80u) {
            fp8q__st_put(m, "...");
            break;
        }
        if (s[i] < 0x20 || s[i] == 0x7F) {
            b[0] = '\\';
            b[1] = 'x';
            b[2] = hex[s[i] >> 4];
            b[3] = hex[s[i] & 15u];
            b[4] = 0;
        } else {
            b[0] = (char)s[i];
            b[1] = 0;
        }
        fp8q__st_put(m, b);
    }
    fp8q__st_put(m, "'");
}

static void fp8q__st_tensor_prefix(fp8q__st_msg *m, const char *name)
{
    fp8q__st_put(m, "tensor ");
    fp8q__st_name(m, name);
    fp8q__st_put(m, ": ");
}

static void fp8q__st_shape(fp8q__st_msg *m, const uint64_t *shape, int ndim)
{
    int d;
    fp8q__st_put(m, "[");
    for (d = 0; d < ndim; d++) {
        if (d) fp8q__st_put(m, ", ");
        fp8q__st_u64(m, shape[d]);
    }
    fp8q__st_put(m, "]");
}

/* "a number", "an array", ... */
static const char *fp8q__st_type_name(fp8q_json_type t)
{
    switch (t) {
    case FP8Q_JSON_NULL: return "null";
    case FP8Q_JSON_FALSE:
    case FP8Q_JSON_TRUE: return "a boolean";
    case FP8Q_JSON_NUMBER: return "a number";
    case FP8Q_JSON_STRING: return "a string";
    case FP8Q_JSON_ARRAY: return "an array";
    case FP8Q_JSON_OBJECT: return "an object";
    }
    return "a value";
}

static fp8q_result fp8q__st_fail(fp8q_error *err, int code, uint64_t offset, const fp8q__st_msg *m)
{
    if (err) {
        err->code = code;
        err->offset = offset > (uint64_t)(size_t)-1 ? (size_t)-1 : (size_t)offset;
        FP8Q__MEMCPY(err->message, m->m, m->n + 1);
    }
    return (fp8q_result)code;
}

static fp8q_result fp8q__st_fail_str(fp8q_error *err, int code, uint64_t offset, const char *s)
{
    fp8q__st_msg m;
    m.n = 0;
    m.m[0] = 0;
    fp8q__st_put(&m, s);
    return fp8q__st_fail(err, code, offset, &m);
}

static void fp8q__st_err_ok(fp8q_error *err)
{
    if (err) {
        err->code = FP8Q_OK;
        err->offset = 0;
        err->message[0] = 0;
    }
}

/* Puts `prefix` in front of err's message (cut to fit). */
static void fp8q__st_prefix(fp8q_error *err, const char *prefix)
{
    fp8q__st_msg m;
    char old[FP8Q__ST_MSG_MAX];
    if (!err) return;
    FP8Q__MEMCPY(old, err->message, FP8Q__ST_MSG_MAX);
    old[FP8Q__ST_MSG_MAX - 1] = 0;
    m.n = 0;
    m.m[0] = 0;
    fp8q__st_put(&m, prefix);
    fp8q__st_put(&m, old);
    FP8Q__MEMCPY(err->message, m.m, m.n + 1);
}

/* ---- little helpers */

static uint64_t fp8q__st_le(const uint8_t *p, int nbytes)
{
    uint64_t v = 0;
    while (nbytes-- > 0) v = (v << 8) | p[nbytes];
    return v;
}

static void *fp8q__st_alloc(size_t n, size_t size) /* malloc(n * size), at least 1 byte, overflow-checked */
{
    if (n == 0) n = 1;
    if (n > ((size_t)-1) / size) return NULL;
    return malloc(n * size);
}

/* The private part of an fp8q_safetensors. */
typedef struct fp8q__st_owned {
    char *strings;                    /* names, metadata keys and values, NUL-terminated */
    fp8q_tensor_info *tensors;        /* n_tensors */
    const char **meta;                /* n_metadata keys, then n_metadata values */
    const fp8q_tensor_info **by_name; /* tensors sorted by name (strcmp) */
    void *file;                       /* the file: a mapping (mapped) or a malloc'd buffer */
    size_t file_len;
    int mapped;
} fp8q__st_owned;

static void fp8q__st_free_owned(fp8q__st_owned *o)
{
    if (!o) return;
    free(o->strings);
    free(o->tensors);
    free((void *)o->meta);
    free((void *)o->by_name);
    if (o->file) {
#ifdef FP8Q__ST_MMAP
        if (o->mapped)
            (void)munmap(o->file, o->file_len);
        else
#endif
            free(o->file);
    }
    free(o);
}

static void fp8q__st_zero(fp8q_safetensors *st)
{
    st->n_tensors = 0;
    st->tensors = NULL;
    st->n_metadata = 0;
    st->meta_keys = NULL;
    st->meta_values = NULL;
    st->data = NULL;
    st->data_size = 0;
    st->fp8q__owned = NULL;
}

FP8QDEF void fp8q_safetensors_close(fp8q_safetensors *st)
{
    if (!st) return;
    fp8q__st_free_owned((fp8q__st_owned *)st->fp8q__owned);
    fp8q__st_zero(st);
}

/* ---- reader */

typedef struct fp8q__st_span {
    uint64_t begin, end;
    size_t index; /* into tensors */
    size_t tok;   /* the data_offsets token, for error offsets */
} fp8q__st_span;

static int fp8q__st_span_cmp(const void *a_, const void *b_)
{
    const fp8q__st_span *a = (const fp8q__st_span *)a_, *b = (const fp8q__st_span *)b_;
    if (a->begin != b->begin) return a->begin < b->begin ? -1 : 1;
    if (a->end != b->end) return a->end < b->end ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index ? 1 : 0;
}

static int fp8q__st_name_cmp(const void *a_, const void *b_)
{
    const fp8q_tensor_info *const *a = (const fp8q_tensor_info *const *)a_;
    const fp8q_tensor_info *const *b = (const fp8q_tensor_info *const *)b_;
    return strcmp((*a)->name, (*b)->name);
}

/* A non-negative integer in int64 range from token e, or an error naming
   `field` (e.g. "shape[2]"). */
static int fp8q__st_uint(const fp8q_json *j, size_t e, const char *name, const char *field, size_t idx, uint64_t *out,
                         fp8q__st_msg *m)
{
    int64_t v = 0;
    int r;
    size_t i;
    const char *why = NULL;
    if (j->tok[e].type != FP8Q_JSON_NUMBER) {
        fp8q__st_tensor_prefix(m, name);
        fp8q__st_put(m, field);
        fp8q__st_put(m, "[");
        fp8q__st_u64(m, idx);
        fp8q__st_put(m, "] is ");
        fp8q__st_put(m, fp8q__st_type_name(j->tok[e].type));
        fp8q__st_put(m, ", not a non-negative integer");
        return FP8Q_ERR_PARSE;
    }
    /* digits only, as the reference (serde usize) accepts: no sign, fraction or exponent */
    for (i = j->tok[e].start; i < j->tok[e].end && FP8Q__JSON_DIGIT(j->text[i]); i++) {
    }
    r = FP8Q_OK;
    if (j->text[j->tok[e].start] == '-')
        why = "] is negative";
    else if (i < j->tok[e].end)
        why = "] is not an integer (no fraction or exponent allowed)";
    else if ((r = (int)fp8q_json_int64(j, e, &v)) != FP8Q_OK)
        why = "] does not fit in int64";
    if (why) {
        fp8q__st_tensor_prefix(m, name);
        fp8q__st_put(m, field);
        fp8q__st_put(m, "[");
        fp8q__st_u64(m, idx);
        fp8q__st_put(m, why);
        return r == FP8Q_OK ? FP8Q_ERR_PARSE : FP8Q_ERR_LIMIT;
    }
    *out = (uint64_t)v;
    return FP8Q_OK;
}

/* Validates the tensor object v (name already copied to t->name) and fills
   t and span (except index). Returns a result code; *bad is the token to
   blame. */
static int fp8q__st_tensor(const fp8q_json *j, size_t v, fp8q_tensor_info *t, fp8q__st_span *span, size_t *bad,
                           fp8q__st_msg *m)
{
    size_t kk, i, e, fd = 0, fs = 0, fo = 0, n;
    char buf[16];
    const fp8q_dtype_info *di;
    uint64_t numel = 1, off[2], val;
    int r, d;
    const char *missing;

    *bad = v;
    if (j->tok[v].type != FP8Q_JSON_OBJECT) {
        fp8q__st_tensor_prefix(m, t->name);
        fp8q__st_put(m, "expected an object with dtype, shape and data_offsets, got ");
        fp8q__st_put(m, fp8q__st_type_name(j->tok[v].type));
        return FP8Q_ERR_PARSE;
    }
    for (i = 0, kk = v + 1; i < j->tok[v].size; i++, kk = j->tok[kk + 1].next) {
        if (fp8q_json_string_eq(j, kk, "dtype"))
            fd = kk + 1;
        else if (fp8q_json_string_eq(j, kk, "shape"))
            fs = kk + 1;
        else if (fp8q_json_string_eq(j, kk, "data_offsets"))
            fo = kk + 1;
        else {
            char key[FP8Q__ST_NAME_MAX + 1];
            (void)fp8q_json_string(j, kk, key, sizeof key);
            *bad = kk;
            fp8q__st_tensor_prefix(m, t->name);
            fp8q__st_put(m, "unknown field ");
            fp8q__st_name(m, key);
            fp8q__st_put(m, " (allowed: dtype, shape, data_offsets)");
            return FP8Q_ERR_PARSE;
        }
    }
    missing = !fd ? "dtype" : !fs ? "shape" : !fo ? "data_offsets" : NULL;
    if (missing) {
        fp8q__st_tensor_prefix(m, t->name);
        fp8q__st_put(m, "missing field '");
        fp8q__st_put(m, missing);
        fp8q__st_put(m, "'");
        return FP8Q_ERR_PARSE;
    }

    /* dtype */
    *bad = fd;
    if (j->tok[fd].type != FP8Q_JSON_STRING) {
        fp8q__st_tensor_prefix(m, t->name);
        fp8q__st_put(m, "dtype is ");
        fp8q__st_put(m, fp8q__st_type_name(j->tok[fd].type));
        fp8q__st_put(m, ", not a string");
        return FP8Q_ERR_PARSE;
    }
    n = fp8q_json_string(j, fd, buf, sizeof buf);
    if (n >= sizeof buf || !fp8q_dtype_from_name(buf, n, &t->dtype)) {
        fp8q__st_tensor_prefix(m, t->name);
        fp8q__st_put(m, "unknown dtype ");
        fp8q__st_name(m, buf);
        if (n >= sizeof buf) fp8q__st_put(m, " (cut)");
        return FP8Q_ERR_PARSE;
    }
    di = &fp8q__dtypes[(int)t->dtype];

    /* shape */
    *bad = fs;
    if (j->tok[fs].type != FP8Q_JSON_ARRAY) {
        fp8q__st_tensor_prefix(m, t->name);
        fp8q__st_put(m, "shape is ");
        fp8q__st_put(m, fp8q__st_type_name(j->tok[fs].type));
        fp8q__st_put(m, ", not an array");
        return FP8Q_ERR_PARSE;
    }
    if (j->tok[fs].size > FP8Q_SAFETENSORS_MAX_DIMS) {
        fp8q__st_tensor_prefix(m, t->name);
        fp8q__st_put(m, "shape has ");
        fp8q__st_u64(m, j->tok[fs].size);
        fp8q__st_put(m, " dimensions, more than FP8Q_SAFETENSORS_MAX_DIMS (");
        fp8q__st_u64(m, FP8Q_SAFETENSORS_MAX_DIMS);
        fp8q__st_put(m, ")");
        return FP8Q_ERR_LIMIT;
    }
    t->ndim = (int)j->tok[fs].size;
    for (d = 0, e = fs + 1; d < t->ndim; d++, e = j->tok[e].next) {
        *bad = e;
        r = fp8q__st_uint(j, e, t->name, "shape", (size_t)d, &val, m);
        if (r != FP8Q_OK) return r;
        t->shape[d] = val;
    }
    for (d = 0; d < t->ndim; d++) {
        if (t->shape[d] && numel > UINT64_MAX / t->shape[d]) {
            *bad = fs;
            fp8q__st_tensor_prefix(m, t->name);
            fp8q__st_put(m, "shape ");
            fp8q__st_shape(m, t->shape, t->ndim);
            fp8q__st_put(m, " has more than 2^64 - 1 elements");
            return FP8Q_ERR_PARSE;
        }
        numel *= t->shape[d];
    }
    t->numel = numel;

    /* data_offsets */
    *bad = fo;
    if (j->tok[fo].type != FP8Q_JSON_ARRAY || j->tok[fo].size != 2) {
        fp8q__st_tensor_prefix(m, t->name);
        fp8q__st_put(m, "data_offsets must be an array of 2 integers, got ");
        if (j->tok[fo].type == FP8Q_JSON_ARRAY) {
            fp8q__st_put(m, "an array of ");
            fp8q__st_u64(m, j->tok[fo].size);
        } else {
            fp8q__st_put(m, fp8q__st_type_name(j->tok[fo].type));
        }
        return FP8Q_ERR_PARSE;
    }
    for (d = 0, e = fo + 1; d < 2; d++, e = j->tok[e].next) {
        *bad = e;
        r = fp8q__st_uint(j, e, t->name, "data_offsets", (size_t)d, &off[d], m);
        if (r != FP8Q_OK) return r;
    }
    *bad = fo;
    if (off[0] > off[1]) {
        fp8q__st_tensor_prefix(m, t->name);
        fp8q__st_put(m, "data_offsets [");
        fp8q__st_u64(m, off[0]);
        fp8q__st_put(m, ", ");
        fp8q__st_u64(m, off[1]);
        fp8q__st_put(m, "] end before they begin");
        return FP8Q_ERR_PARSE;
    }

    /* size: numel * bits / 8, exact */
    if (numel > UINT64_MAX / (uint64_t)di->bits || (numel * (uint64_t)di->bits) % 8u != 0) {
        fp8q__st_tensor_prefix(m, t->name);
        fp8q__st_put(m, "shape ");
        fp8q__st_shape(m, t->shape, t->ndim);
        fp8q__st_put(m, " of ");
        fp8q__st_put(m, di->name);
        if (numel > UINT64_MAX / (uint64_t)di->bits) {
            fp8q__st_put(m, " needs more than 2^64 - 1 bits");
        } else {
            fp8q__st_put(m, " is ");
            fp8q__st_u64(m, numel * (uint64_t)di->bits);
            fp8q__st_put(m, " bits, not a whole number of bytes");
        }
        return FP8Q_ERR_PARSE;
    }
    if (off[1] - off[0] != numel * (uint64_t)di->bits / 8u) {
        fp8q__st_tensor_prefix(m, t->name);
        fp8q__st_put(m, "data_offsets [");
        fp8q__st_u64(m, off[0]);
        fp8q__st_put(m, ", ");
        fp8q__st_u64(m, off[1]);
        fp8q__st_put(m, "] hold ");
        fp8q__st_u64(m, off[1] - off[0]);
        fp8q__st_put(m, " bytes but shape ");
        fp8q__st_shape(m, t->shape, t->ndim);
        fp8q__st_put(m, " of ");
        fp8q__st_put(m, di->name);
        fp8q__st_put(m, " needs ");
        fp8q__st_u64(m, numel * (uint64_t)di->bits / 8u);
        return FP8Q_ERR_PARSE;
    }
    t->offset = off[0];
    t->size = off[1] - off[0];
    span->begin = off[0];
    span->end = off[1];
    span->tok = fo;
    return FP8Q_OK;
}

/* Copies the unescaped string token k to *sp (room was counted); fails if it
   holds a NUL. */
static int fp8q__st_copy(const fp8q_json *j, size_t k, char **sp, const char **out)
{
    size_t n = fp8q_json_string(j, k, *sp, ((size_t)-1) / 2);
    *out = *sp;
    *sp += n + 1;
    return strlen(*out) == n;
}

FP8QDEF fp8q_result fp8q_safetensors_parse(fp8q_safetensors *st, const void *buf, size_t len, fp8q_error *err)
{
    const uint8_t *b = (const uint8_t *)buf;
    fp8q__st_msg m;
    fp8q_json j;
    fp8q__st_owned *own = NULL;
    fp8q__st_span *spans = NULL;
    uint64_t hlen, avail, data_size, expect, base;
    size_t i, k, v, kk, nt = 0, nm = 0, meta = 0, strbytes = 0, ti, bad = 0;
    char *sp;
    int r = FP8Q_OK;

    m.n = 0;
    m.m[0] = 0;
    j.text = NULL;
    j.len = 0;
    j.tok = NULL;
    j.count = 0;
    fp8q__st_err_ok(err);
    if (st) fp8q__st_zero(st);
    if (!st || (!buf && len > 0))
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0,
                                 !st ? "fp8q_safetensors_parse: st is NULL" : "fp8q_safetensors_parse: buf is NULL");

    /* the length prefix */
    if (len < 8) {
        fp8q__st_put(&m, "file is ");
        fp8q__st_u64(&m, len);
        fp8q__st_put(&m, " bytes, too short for the 8-byte header length");
        return fp8q__st_fail(err, FP8Q_ERR_PARSE, len, &m);
    }
    hlen = fp8q__st_le(b, 8);
    avail = (uint64_t)len - 8u;
    if (hlen > avail) {
        fp8q__st_put(&m, "header length ");
        fp8q__st_u64(&m, hlen);
        fp8q__st_put(&m, " (little-endian u64 at byte 0) exceeds the ");
        fp8q__st_u64(&m, avail);
        fp8q__st_put(&m, " bytes after it");
        return fp8q__st_fail(err, FP8Q_ERR_PARSE, 0, &m);
    }
    if (hlen > (uint64_t)FP8Q_MAX_HEADER_SIZE) {
        fp8q__st_put(&m, "header length ");
        fp8q__st_u64(&m, hlen);
        fp8q__st_put(&m, " exceeds FP8Q_MAX_HEADER_SIZE (");
        fp8q__st_u64(&m, (uint64_t)FP8Q_MAX_HEADER_SIZE);
        fp8q__st_put(&m, ")");
        return fp8q__st_fail(err, FP8Q_ERR_LIMIT, 0, &m);
    }
    data_size = avail - hlen;

    /* the header: strict JSON (valid UTF-8, no duplicate keys), an object */
    r = (int)fp8q_json_parse(&j, (const char *)b + 8, (size_t)hlen, 0, err);
    if (r != FP8Q_OK) {
        if (err) err->offset += 8;
        fp8q__st_prefix(err, "JSON header: ");
        return (fp8q_result)r;
    }
    if (j.tok[0].type != FP8Q_JSON_OBJECT) {
        fp8q__st_put(&m, "the header is ");
        fp8q__st_put(&m, fp8q__st_type_name(j.tok[0].type));
        fp8q__st_put(&m, ", not an object");
        bad = 0;
        r = FP8Q_ERR_PARSE;
        goto fail;
    }

    /* pass 1: find __metadata__, count tensors, size the strings */
    for (i = 0, k = 1; i < j.tok[0].size; i++, k = j.tok[k + 1].next) {
        v = k + 1;
        if (fp8q_json_string_eq(&j, k, "__metadata__")) {
            meta = v;
            bad = v;
            if (j.tok[v].type != FP8Q_JSON_OBJECT) {
                fp8q__st_put(&m, "__metadata__ is ");
                fp8q__st_put(&m, fp8q__st_type_name(j.tok[v].type));
                fp8q__st_put(&m, ", not an object of strings");
                r = FP8Q_ERR_PARSE;
                goto fail;
            }
            nm = j.tok[v].size;
            for (ti = 0, kk = v + 1; ti < nm; ti++, kk = j.tok[kk + 1].next) {
                if (j.tok[kk + 1].type != FP8Q_JSON_STRING) {
                    char key[FP8Q__ST_NAME_MAX + 1];
                    (void)fp8q_json_string(&j, kk, key, sizeof key);
                    bad = kk + 1;
                    fp8q__st_put(&m, "__metadata__ value for ");
                    fp8q__st_name(&m, key);
                    fp8q__st_put(&m, " is ");
                    fp8q__st_put(&m, fp8q__st_type_name(j.tok[kk + 1].type));
                    fp8q__st_put(&m, ", not a string");
                    r = FP8Q_ERR_PARSE;
                    goto fail;
                }
                strbytes += fp8q_json_string(&j, kk, NULL, 0) + 1; /* each <= hlen: no overflow */
                strbytes += fp8q_json_string(&j, kk + 1, NULL, 0) + 1;
            }
        } else {
            nt++;
            strbytes += fp8q_json_string(&j, k, NULL, 0) + 1;
        }
    }
    if (nt > (size_t)FP8Q_MAX_TENSORS) {
        fp8q__st_u64(&m, nt);
        fp8q__st_put(&m, " tensors exceed FP8Q_MAX_TENSORS (");
        fp8q__st_u64(&m, (uint64_t)FP8Q_MAX_TENSORS);
        fp8q__st_put(&m, ")");
        bad = 0;
        r = FP8Q_ERR_LIMIT;
        goto fail;
    }

    /* allocations: all bounded by the token count or the header length */
    own = (fp8q__st_owned *)calloc(1, sizeof *own);
    if (own) {
        own->strings = (char *)fp8q__st_alloc(strbytes, 1);
        own->tensors = (fp8q_tensor_info *)fp8q__st_alloc(nt, sizeof(fp8q_tensor_info));
        own->meta = (const char **)fp8q__st_alloc(nm, 2 * sizeof(const char *));
        own->by_name = (const fp8q_tensor_info **)fp8q__st_alloc(nt, sizeof(const fp8q_tensor_info *));
        spans = (fp8q__st_span *)fp8q__st_alloc(nt, sizeof(fp8q__st_span));
    }
    if (!own || !own->strings || !own->tensors || !own->meta || !own->by_name || !spans) {
        fp8q__st_put(&m, "out of memory for the header of ");
        fp8q__st_u64(&m, nt);
        fp8q__st_put(&m, " tensors");
        bad = 0;
        r = FP8Q_ERR_NOMEM;
        goto fail;
    }

    /* pass 2: copy the strings, validate each tensor */
    sp = own->strings;
    for (i = 0, k = 1, ti = 0; i < j.tok[0].size; i++, k = j.tok[k + 1].next) {
        fp8q_tensor_info *t;
        v = k + 1;
        if (v == meta) {
            for (kk = v + 1, nm = 0; nm < j.tok[v].size; nm++, kk = j.tok[kk + 1].next) {
                const char **key = &own->meta[nm], **val = &own->meta[j.tok[v].size + nm];
                bad = kk;
                if (!fp8q__st_copy(&j, kk, &sp, key)) {
                    fp8q__st_put(&m, "__metadata__ key ");
                    fp8q__st_name(&m, *key);
                    fp8q__st_put(&m, " contains a NUL character (\\u0000)");
                    r = FP8Q_ERR_PARSE;
                    goto fail;
                }
                bad = kk + 1;
                if (!fp8q__st_copy(&j, kk + 1, &sp, val)) {
                    fp8q__st_put(&m, "__metadata__ value for ");
                    fp8q__st_name(&m, *key);
                    fp8q__st_put(&m, " contains a NUL character (\\u0000)");
                    r = FP8Q_ERR_PARSE;
                    goto fail;
                }
            }
            continue;
        }
        t = &own->tensors[ti];
        t->dtype = (fp8q_dtype)FP8Q_F32;
        t->ndim = 0;
        for (kk = 0; kk < FP8Q_SAFETENSORS_MAX_DIMS; kk++) t->shape[kk] = 0;
        t->numel = t->offset = t->size = 0;
        bad = k;
        if (!fp8q__st_copy(&j, k, &sp, &t->name)) {
            fp8q__st_put(&m, "tensor name ");
            fp8q__st_name(&m, t->name);
            fp8q__st_put(&m, " contains a NUL character (\\u0000)");
            r = FP8Q_ERR_PARSE;
            goto fail;
        }
        r = fp8q__st_tensor(&j, v, t, &spans[ti], &bad, &m);
        if (r != FP8Q_OK) goto fail;
        spans[ti].index = ti;
        own->by_name[ti] = t;
        ti++;
    }

    /* names: the JSON parser rejects duplicate keys; check again on the C strings */
    qsort((void *)own->by_name, nt, sizeof *own->by_name, fp8q__st_name_cmp);
    for (i = 1; i < nt; i++)
        if (strcmp(own->by_name[i - 1]->name, own->by_name[i]->name) == 0) {
            fp8q__st_put(&m, "duplicate tensor name ");
            fp8q__st_name(&m, own->by_name[i]->name);
            bad = 0;
            r = FP8Q_ERR_PARSE;
            goto fail;
        }

    /* layout: sorted by (begin, end) the tensors tile [0, data_size) */
    qsort(spans, nt, sizeof *spans, fp8q__st_span_cmp);
    expect = 0;
    for (i = 0; i < nt; i++) {
        const fp8q__st_span *s = &spans[i];
        const char *name = own->tensors[s->index].name;
        bad = s->tok;
        if (s->begin != expect) {
            if (i == 0) {
                fp8q__st_tensor_prefix(&m, name);
                fp8q__st_put(&m, "the first tensor starts at byte ");
                fp8q__st_u64(&m, s->begin);
                fp8q__st_put(&m, ", not 0 (gap)");
            } else {
                fp8q__st_put(&m, "tensor ");
                fp8q__st_name(&m, own->tensors[spans[i - 1].index].name);
                fp8q__st_put(&m, " ends at byte ");
                fp8q__st_u64(&m, expect);
                fp8q__st_put(&m, " but tensor ");
                fp8q__st_name(&m, name);
                fp8q__st_put(&m, " starts at byte ");
                fp8q__st_u64(&m, s->begin);
                fp8q__st_put(&m, s->begin > expect ? " (gap)" : " (overlap)");
            }
            r = FP8Q_ERR_PARSE;
            goto fail;
        }
        if (s->end > data_size) {
            fp8q__st_tensor_prefix(&m, name);
            fp8q__st_put(&m, "ends at byte ");
            fp8q__st_u64(&m, s->end);
            fp8q__st_put(&m, ", beyond the data section of ");
            fp8q__st_u64(&m, data_size);
            fp8q__st_put(&m, " bytes");
            r = FP8Q_ERR_PARSE;
            goto fail;
        }
        expect = s->end;
    }
    if (expect != data_size) {
        if (nt) {
            fp8q__st_put(&m, "the tensors end at byte ");
            fp8q__st_u64(&m, expect);
            fp8q__st_put(&m, " but the data section has ");
        } else {
            fp8q__st_put(&m, "no tensors but the data section has ");
        }
        fp8q__st_u64(&m, data_size);
        fp8q__st_put(&m, " bytes (the rest belongs to no tensor)");
        free(spans);
        fp8q_json_free(&j);
        fp8q__st_free_owned(own);
        return fp8q__st_fail(err, FP8Q_ERR_PARSE, 8u + hlen + expect, &m);
    }

    free(spans);
    fp8q_json_free(&j);
    st->n_tensors = nt;
    st->tensors = own->tensors;
    st->n_metadata = nm;
    st->meta_keys = own->meta;
    st->meta_values = own->meta + nm;
    st->data = b + 8 + (size_t)hlen;
    st->data_size = data_size;
    st->fp8q__owned = own;
    return FP8Q_OK;

fail:
    base = 8u + (bad < j.count ? (uint64_t)j.tok[bad].start : 0u);
    if (bad < j.count && j.tok[bad].type == FP8Q_JSON_STRING && base > 8) base--; /* point at the quote */
    free(spans);
    fp8q_json_free(&j);
    fp8q__st_free_owned(own);
    return fp8q__st_fail(err, r, base, &m);
}

FP8QDEF const fp8q_tensor_info *fp8q_safetensors_find(const fp8q_safetensors *st, const char *name)
{
    const fp8q__st_owned *o;
    size_t lo = 0, hi, mid;
    int c;
    if (!st || !name || !st->fp8q__owned) return NULL;
    o = (const fp8q__st_owned *)st->fp8q__owned;
    hi = st->n_tensors;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = strcmp(name, o->by_name[mid]->name);
        if (c == 0) return o->by_name[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

FP8QDEF const uint8_t *fp8q_safetensors_bytes(const fp8q_safetensors *st, const fp8q_tensor_info *t)
{
    if (!st || !t || !st->data || t->size > st->data_size || t->offset > st->data_size - t->size) return NULL;
    return st->data + (size_t)t->offset;
}

/* double bits -> nearest float bits (ties to even), integer arithmetic only;
   NaN -> the canonical 0x7FFFFFFF. */
static uint32_t fp8q__st_f64_to_f32_bits(uint64_t d)
{
    const uint32_t sign = (uint32_t)(d >> 63) << 31;
    const int ex = (int)((d >> 52) & 0x7FFu);
    uint64_t sig = d & 0xFFFFFFFFFFFFFull, mant, rem, half;
    int e, len, u, sh;
    if (ex == 0x7FF) return sig ? FP8Q__F32_CANONICAL_NAN : sign | 0x7F800000u;
    if (ex == 0 && sig == 0) return sign;
    if (ex) {
        sig |= (uint64_t)1 << 52;
        e = ex - 1075;
    } else {
        e = -1074;
    }
    /* value = sig * 2^e; 2^(len-1+e) <= value */
    for (len = 0, mant = sig; mant; len++) mant >>= 1;
    u = len - 1 + e - 23; /* exponent of the float's last place */
    if (u < -149) u = -149;
    sh = u - e; /* > 0 for every double */
    if (sh > 63) return sign;
    mant = sig >> sh;
    rem = sig & (((uint64_t)1 << sh) - 1u);
    half = (uint64_t)1 << (sh - 1);
    if (rem > half || (rem == half && (mant & 1u))) mant++;
    if (mant == ((uint64_t)1 << 24)) {
        mant >>= 1;
        u++;
    }
    if (mant < ((uint64_t)1 << 23)) return sign | (uint32_t)mant; /* subnormal or zero */
    if (u + 150 >= 255) return sign | 0x7F800000u;
    return sign | ((uint32_t)(u + 150) << 23) | (uint32_t)(mant - ((uint64_t)1 << 23));
}

FP8QDEF fp8q_result fp8q_safetensors_read_f32(const fp8q_safetensors *st, const fp8q_tensor_info *t, float *dst,
                                              fp8q_error *err)
{
    const fp8q_dtype_info *di;
    const uint8_t *p;
    size_t i, n;
    uint64_t bytes;
    fp8q__st_msg m;
    fp8q__st_err_ok(err);
    if (!st || !t) return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0, "fp8q_safetensors_read_f32: st or t is NULL");
    di = fp8q_dtype_get(t->dtype);
    p = fp8q_safetensors_bytes(st, t);
    if (!di || !p)
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0, "fp8q_safetensors_read_f32: t does not describe data inside st");
    m.n = 0;
    m.m[0] = 0;
    if (!di->is_float || di->bits < 8) {
        fp8q__st_tensor_prefix(&m, t->name ? t->name : "?");
        fp8q__st_put(&m, "read_f32 does not convert ");
        fp8q__st_put(&m, di->name);
        return fp8q__st_fail(err, FP8Q_ERR_UNSUPPORTED, 0, &m);
    }
    bytes = (uint64_t)(di->bits / 8);
    if (t->size % bytes != 0 || t->size / bytes != t->numel)
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0, "fp8q_safetensors_read_f32: t's numel and size disagree");
    if (t->numel > (uint64_t)((size_t)-1 / sizeof(float)))
        return fp8q__st_fail_str(err, FP8Q_ERR_LIMIT, 0, "fp8q_safetensors_read_f32: tensor too large for memory");
    n = (size_t)t->numel;
    if (!dst && n) return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0, "fp8q_safetensors_read_f32: dst is NULL");
    switch ((int)t->dtype) {
    case FP8Q_F32:
        for (i = 0; i < n; i++) dst[i] = fp8q__f32_from_bits((uint32_t)fp8q__st_le(p + 4 * i, 4));
        break;
    case FP8Q_F16:
        for (i = 0; i < n; i++) dst[i] = fp8q_f16_to_f32((uint16_t)fp8q__st_le(p + 2 * i, 2));
        break;
    case FP8Q_BF16:
        for (i = 0; i < n; i++) dst[i] = fp8q_bf16_to_f32((uint16_t)fp8q__st_le(p + 2 * i, 2));
        break;
    case FP8Q_F64:
        for (i = 0; i < n; i++) dst[i] = fp8q__f32_from_bits(fp8q__st_f64_to_f32_bits(fp8q__st_le(p + 8 * i, 8)));
        break;
    case FP8Q_F8_E4M3: return fp8q_decode_f32(dst, p, n, FP8Q_E4M3, FP8Q_SCALE_NONE, 1.0f);
    case FP8Q_F8_E5M2: return fp8q_decode_f32(dst, p, n, FP8Q_E5M2, FP8Q_SCALE_NONE, 1.0f);
    case FP8Q_F8_E4M3FNUZ: return fp8q_decode_f32(dst, p, n, FP8Q_E4M3FNUZ, FP8Q_SCALE_NONE, 1.0f);
    case FP8Q_F8_E5M2FNUZ: return fp8q_decode_f32(dst, p, n, FP8Q_E5M2FNUZ, FP8Q_SCALE_NONE, 1.0f);
    case FP8Q_F8_E8M0:
        for (i = 0; i < n; i++) dst[i] = fp8q_e8m0_to_f32(p[i]);
        break;
    default:
        fp8q__st_tensor_prefix(&m, t->name ? t->name : "?");
        fp8q__st_put(&m, "read_f32 does not convert ");
        fp8q__st_put(&m, di->name);
        return fp8q__st_fail(err, FP8Q_ERR_UNSUPPORTED, 0, &m);
    }
    return FP8Q_OK;
}

/* ---- open */

/* "path: " in front of err's message, keeping the end of a long path. */
static void fp8q__st_path_prefix(fp8q_error *err, const char *path)
{
    char pre[FP8Q__ST_NAME_MAX + 8];
    size_t n = strlen(path), k = 0, i;
    if (!err) return;
    if (n > FP8Q__ST_NAME_MAX) {
        i = n - FP8Q__ST_NAME_MAX;
        while (i < n && ((unsigned char)path[i] & 0xC0u) == 0x80u) i++; /* a UTF-8 boundary */
        pre[k++] = '.';
        pre[k++] = '.';
        pre[k++] = '.';
    } else {
        i = 0;
    }
    for (; i < n; i++) pre[k++] = path[i];
    pre[k++] = ':';
    pre[k++] = ' ';
    pre[k] = 0;
    fp8q__st_prefix(err, pre);
}

static fp8q_result fp8q__st_open_fail(fp8q_error *err, const char *path, const char *what, int errnum)
{
    fp8q__st_msg m;
    m.n = 0;
    m.m[0] = 0;
    fp8q__st_put(&m, what);
    if (errnum) {
        /* strerror is not thread-safe everywhere: name the common cases */
#ifdef FP8Q__ST_MMAP
        const char *why = errnum == ENOENT    ? "no such file or directory"
                          : errnum == EACCES  ? "permission denied"
                          : errnum == EISDIR  ? "is a directory"
                          : errnum == ENOTDIR ? "a path component is not a directory"
                          : errnum == ENOMEM  ? "out of memory"
                                              : NULL;
        fp8q__st_put(&m, " (");
        if (why)
            fp8q__st_put(&m, why);
        else {
            fp8q__st_put(&m, "errno ");
            fp8q__st_u64(&m, (uint64_t)errnum);
        }
        fp8q__st_put(&m, ")");
#endif
    }
    (void)fp8q__st_fail(err, FP8Q__ST_ERR_IO, 0, &m);
    fp8q__st_path_prefix(err, path);
    return (fp8q_result)FP8Q__ST_ERR_IO;
}

FP8QDEF fp8q_result fp8q_safetensors_open(fp8q_safetensors *st, const char *path, fp8q_error *err)
{
    void *file = NULL;
    size_t len = 0;
    int mapped = 0;
    fp8q_result r;
    unsigned char empty[1];
    fp8q__st_err_ok(err);
    if (st) fp8q__st_zero(st);
    if (!st || !path)
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0,
                                 !st ? "fp8q_safetensors_open: st is NULL" : "fp8q_safetensors_open: path is NULL");
#ifdef FP8Q__ST_MMAP
    {
        struct stat sb;
        int fd = open(path, O_RDONLY | O_NONBLOCK); /* a FIFO must not block the open: fstat refuses it below */
        if (fd < 0) return fp8q__st_open_fail(err, path, "cannot open", errno);
        if (fstat(fd, &sb) != 0) {
            int e = errno;
            (void)close(fd);
            return fp8q__st_open_fail(err, path, "cannot stat", e);
        }
        if (!S_ISREG(sb.st_mode)) {
            (void)close(fd);
            return fp8q__st_open_fail(
                err, path, S_ISDIR(sb.st_mode) ? "is a directory, not a safetensors file" : "is not a regular file", 0);
        }
        if (sb.st_size < 0 || (uint64_t)sb.st_size > (uint64_t)((size_t)-1)) {
            (void)close(fd);
            r = fp8q__st_fail_str(err, FP8Q_ERR_LIMIT, 0, "file too large for the address space");
            fp8q__st_path_prefix(err, path);
            return r;
        }
        len = (size_t)sb.st_size;
        if (len > 0) {
            file = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
            if (file == MAP_FAILED) {
                int e = errno;
                (void)close(fd);
                return fp8q__st_open_fail(err, path, "cannot map", e);
            }
            mapped = 1;
        }
        (void)close(fd);
    }
#else
    {
        FILE *f;
        long long size;
        if (fp8q__not_regular(path)) /* a FIFO would block fopen; a device can be endless */
            return fp8q__st_open_fail(err, path, "is not a regular file", 0);
        f = fopen(path, "rb");
        if (!f) return fp8q__st_open_fail(err, path, "cannot open", 0);
        /* a directory opens on some systems but cannot be read: try one byte */
        if (fgetc(f) == EOF && ferror(f)) {
            fclose(f);
            return fp8q__st_open_fail(err, path, "cannot read (is it a directory?)", 0);
        }
#if defined(_WIN32)
        size = _fseeki64(f, 0, SEEK_END) == 0 ? (long long)_ftelli64(f) : -1;
        if (size >= 0 && _fseeki64(f, 0, SEEK_SET) != 0) size = -1;
#else
        size = fseek(f, 0, SEEK_END) == 0 ? (long long)ftell(f) : -1;
        if (size >= 0 && fseek(f, 0, SEEK_SET) != 0) size = -1;
#endif
        if (size < 0 || (unsigned long long)size > (unsigned long long)((size_t)-1) - 1u) {
            fclose(f);
            return fp8q__st_open_fail(err, path, "cannot read (not a regular file, or too large)", 0);
        }
        len = (size_t)size;
        file = malloc(len ? len : 1);
        if (!file) {
            fclose(f);
            r = fp8q__st_fail_str(err, FP8Q_ERR_NOMEM, 0, "out of memory for the file");
            fp8q__st_path_prefix(err, path);
            return r;
        }
        /* read one byte more than the size: a short read or a longer file are errors */
        if (fread(file, 1, len, f) != len || fgetc(f) != EOF || ferror(f)) {
            free(file);
            fclose(f);
            return fp8q__st_open_fail(err, path, "cannot read (a directory, or changed while reading?)", 0);
        }
        fclose(f);
    }
#endif
    r = fp8q_safetensors_parse(st, file ? file : (const void *)empty, len, err);
    if (r == FP8Q_OK) {
        fp8q__st_owned *o = (fp8q__st_owned *)st->fp8q__owned;
        o->file = file;
        o->file_len = len;
        o->mapped = mapped;
        return FP8Q_OK;
    }
    fp8q__st_path_prefix(err, path);
    if (file) {
#ifdef FP8Q__ST_MMAP
        if (mapped)
            (void)munmap(file, len);
        else
#endif
            free(file);
    }
    return r;
}

/* ---- writer */

/* Length of the valid UTF-8 string s (strict: no overlong forms, no
   surrogates, nothing above U+10FFFF), or (size_t)-1. */
static size_t fp8q__st_utf8_len(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    int k, n;
    while (s[i]) {
        unsigned c = s[i];
        unsigned long cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            n = 1, cp = c & 0x1Fu;
        else if (c >= 0xE0 && c <= 0xEF)
            n = 2, cp = c & 0x0Fu;
        else if (c >= 0xF0 && c <= 0xF4)
            n = 3, cp = c & 0x07u;
        else
            return (size_t)-1;
        for (k = 1; k <= n; k++) {
            if ((s[i + (size_t)k] & 0xC0u) != 0x80u) return (size_t)-1; /* also stops at the NUL */
            cp = (cp << 6) | (s[i + (size_t)k] & 0x3Fu);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return (size_t)-1;
        i += (size_t)n + 1;
    }
    return i;
}

/* Appends "s" escaped as serde_json does (\" \\ \b \f \n \r \t, other
   controls \u00xx, everything else as is) at h + *n; with h NULL only
   counts. */
static void fp8q__st_json_str(char *h, size_t *n, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t k = *n;
    if (h) h[k] = '"';
    k++;
    for (; *s; s++) {
        unsigned c = *s;
        char e = c == '"'    ? '"'
                 : c == '\\' ? '\\'
                 : c == '\b' ? 'b'
                 : c == '\f' ? 'f'
                 : c == '\n' ? 'n'
                 : c == '\r' ? 'r'
                 : c == '\t' ? 't'
                             : 0;
        if (e) {
            if (h) {
                h[k] = '\\';
                h[k + 1] = e;
            }
            k += 2;
        } else if (c < 0x20) {
            if (h) {
                h[k] = '\\';
                h[k + 1] = 'u';
                h[k + 2] = '0';
                h[k + 3] = '0';
                h[k + 4] = hex[c >> 4];
                h[k + 5] = hex[c & 15u];
            }
            k += 6;
        } else {
            if (h) h[k] = (char)c;
            k++;
        }
    }
    if (h) h[k] = '"';
    *n = k + 1;
}

static void fp8q__st_json_lit(char *h, size_t *n, const char *s)
{
    for (; *s; s++, (*n)++)
        if (h) h[*n] = *s;
}

static void fp8q__st_json_u64(char *h, size_t *n, uint64_t v)
{
    char d[24];
    int k = 0;
    do {
        d[k++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v);
    while (k) {
        --k;
        if (h) h[*n] = d[k];
        (*n)++;
    }
}

/* Writes (or with h NULL measures) the unpadded header; sizes[] are the
   tensors' byte sizes. */
static void fp8q__st_header(char *h, size_t *n, const fp8q_tensor_out *t, size_t nt, const uint64_t *sizes,
                            const char *const *mk, const char *const *mv, size_t nm)
{
    size_t i;
    int d;
    uint64_t off = 0;
    *n = 0;
    fp8q__st_json_lit(h, n, "{");
    if (nm) {
        fp8q__st_json_lit(h, n, "\"__metadata__\":{");
        for (i = 0; i < nm; i++) {
            if (i) fp8q__st_json_lit(h, n, ",");
            fp8q__st_json_str(h, n, mk[i]);
            fp8q__st_json_lit(h, n, ":");
            fp8q__st_json_str(h, n, mv[i]);
        }
        fp8q__st_json_lit(h, n, "}");
    }
    for (i = 0; i < nt; i++) {
        if (i || nm) fp8q__st_json_lit(h, n, ",");
        fp8q__st_json_str(h, n, t[i].name);
        fp8q__st_json_lit(h, n, ":{\"dtype\":\"");
        fp8q__st_json_lit(h, n, fp8q__dtypes[(int)t[i].dtype].name);
        fp8q__st_json_lit(h, n, "\",\"shape\":[");
        for (d = 0; d < t[i].ndim; d++) {
            if (d) fp8q__st_json_lit(h, n, ",");
            fp8q__st_json_u64(h, n, t[i].shape[d]);
        }
        fp8q__st_json_lit(h, n, "],\"data_offsets\":[");
        fp8q__st_json_u64(h, n, off);
        fp8q__st_json_lit(h, n, ",");
        off += sizes[i];
        fp8q__st_json_u64(h, n, off);
        fp8q__st_json_lit(h, n, "]}");
    }
    fp8q__st_json_lit(h, n, "}");
}

static int fp8q__st_strptr_cmp(const void *a_, const void *b_)
{
    return strcmp(*(const char *const *)a_, *(const char *const *)b_);
}

/* Validates the writer's arguments; on success *head is the malloc'd header
   with its 8-byte prefix (head_len bytes, a multiple of 8) and *data_len the
   data section's size. null_data_ok: a NULL data pointer is allowed (the
   streaming writer fills it). */
static fp8q_result fp8q__st_prepare(const fp8q_tensor_out *t, size_t nt, const char *const *mk, const char *const *mv,
                                    size_t nm, int null_data_ok, char **head, size_t *head_len, uint64_t *data_len,
                                    fp8q_error *err)
{
    fp8q__st_msg m;
    uint64_t *sizes = NULL, total = 0;
    const char **names = NULL;
    size_t i, hn, padded, hl, worst;
    int d;
    char *h;
    m.n = 0;
    m.m[0] = 0;
    *head = NULL;
    *head_len = 0;
    *data_len = 0;
    if ((!t && nt) || (nm && (!mk || !mv)))
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0, "fp8q_safetensors_write: tensors or metadata array is NULL");
    /* bound the header size before anything is allocated for it */
    worst = 64;
    for (i = 0; i < nm; i++) {
        size_t a, b;
        if (!mk[i] || !mv[i])
            return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0, "fp8q_safetensors_write: a metadata key or value is NULL");
        a = fp8q__st_utf8_len(mk[i]);
        b = fp8q__st_utf8_len(mv[i]);
        if (a == (size_t)-1 || b == (size_t)-1) {
            fp8q__st_put(&m, "metadata ");
            fp8q__st_put(&m, a == (size_t)-1 ? "key " : "value for ");
            fp8q__st_name(&m, mk[i]);
            fp8q__st_put(&m, a == (size_t)-1 ? " is not valid UTF-8" : " is not valid UTF-8");
            return fp8q__st_fail(err, FP8Q_ERR_ARG, 0, &m);
        }
        if (a > ((size_t)-1) / 16 || b > ((size_t)-1) / 16 || worst > ((size_t)-1) / 4 - 6 * (a + b) - 16)
            return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0, "fp8q_safetensors_write: header too large");
        worst += 6 * (a + b) + 16;
    }
    sizes = (uint64_t *)fp8q__st_alloc(nt, sizeof(uint64_t));
    names = (const char **)fp8q__st_alloc(nt + nm, sizeof(const char *));
    if (!sizes || !names) {
        free(sizes);
        free((void *)names);
        return fp8q__st_fail_str(err, FP8Q_ERR_NOMEM, 0, "out of memory");
    }
    for (i = 0; i < nt; i++) {
        const fp8q_dtype_info *di = fp8q_dtype_get(t[i].dtype);
        uint64_t numel = 1;
        size_t a;
        if (!t[i].name) {
            fp8q__st_put(&m, "tensor ");
            fp8q__st_u64(&m, i);
            fp8q__st_put(&m, ": name is NULL");
            goto fail;
        }
        a = fp8q__st_utf8_len(t[i].name);
        if (a == (size_t)-1 || strcmp(t[i].name, "__metadata__") == 0) { /* "" is a name, as the reader allows */
            fp8q__st_put(&m, "tensor ");
            fp8q__st_u64(&m, i);
            fp8q__st_put(&m, " ");
            fp8q__st_name(&m, t[i].name);
            fp8q__st_put(&m, a == (size_t)-1 ? ": the name is not valid UTF-8" : ": the name __metadata__ is reserved");
            goto fail;
        }
        if (!di) {
            fp8q__st_tensor_prefix(&m, t[i].name);
            fp8q__st_put(&m, "unknown dtype ");
            fp8q__st_u64(&m, (uint64_t)(unsigned)t[i].dtype);
            goto fail;
        }
        if (t[i].ndim < 0 || t[i].ndim > FP8Q_SAFETENSORS_MAX_DIMS || (t[i].ndim > 0 && !t[i].shape)) {
            fp8q__st_tensor_prefix(&m, t[i].name);
            fp8q__st_put(&m, "ndim must be 0 to 8, with a shape array when > 0");
            goto fail;
        }
        for (d = 0; d < t[i].ndim; d++) {
            if (t[i].shape[d] > (uint64_t)INT64_MAX || (t[i].shape[d] && numel > UINT64_MAX / t[i].shape[d])) {
                fp8q__st_tensor_prefix(&m, t[i].name);
                fp8q__st_put(&m, "shape ");
                fp8q__st_shape(&m, t[i].shape, t[i].ndim);
                fp8q__st_put(&m, " is too large");
                goto fail;
            }
            numel *= t[i].shape[d];
        }
        if (numel > UINT64_MAX / (uint64_t)di->bits || (numel * (uint64_t)di->bits) % 8u) {
            fp8q__st_tensor_prefix(&m, t[i].name);
            fp8q__st_put(&m, "shape ");
            fp8q__st_shape(&m, t[i].shape, t[i].ndim);
            fp8q__st_put(&m, " of ");
            fp8q__st_put(&m, di->name);
            fp8q__st_put(&m, " is not a whole number of bytes");
            goto fail;
        }
        sizes[i] = numel * (uint64_t)di->bits / 8u;
        if (sizes[i] && !t[i].data && !null_data_ok) {
            fp8q__st_tensor_prefix(&m, t[i].name);
            fp8q__st_put(&m, "data is NULL");
            goto fail;
        }
        if (sizes[i] > UINT64_MAX - total || a > ((size_t)-1) / 16 ||
            worst > ((size_t)-1) / 4 - 6 * a - 64 - 21 * (FP8Q_SAFETENSORS_MAX_DIMS + 2)) {
            fp8q__st_tensor_prefix(&m, t[i].name);
            fp8q__st_put(&m, "the file would be too large");
            goto fail;
        }
        total += sizes[i];
        worst += 6 * a + 64 + 21 * (FP8Q_SAFETENSORS_MAX_DIMS + 2);
        names[i] = t[i].name;
    }
    /* duplicates: tensor names, then metadata keys */
    qsort((void *)names, nt, sizeof *names, fp8q__st_strptr_cmp);
    for (i = 1; i < nt; i++)
        if (strcmp(names[i - 1], names[i]) == 0) {
            fp8q__st_put(&m, "duplicate tensor name ");
            fp8q__st_name(&m, names[i]);
            goto fail;
        }
    for (i = 0; i < nm; i++) names[i] = mk[i];
    qsort((void *)names, nm, sizeof *names, fp8q__st_strptr_cmp);
    for (i = 1; i < nm; i++)
        if (strcmp(names[i - 1], names[i]) == 0) {
            fp8q__st_put(&m, "duplicate metadata key ");
            fp8q__st_name(&m, names[i]);
            goto fail;
        }
    free((void *)names);
    names = NULL;

    fp8q__st_header(NULL, &hn, t, nt, sizes, mk, mv, nm);
    padded = hn + (8 - hn % 8) % 8; /* hn <= worst < SIZE_MAX / 4 */
    hl = 8 + padded;
    h = (char *)malloc(hl);
    if (!h) {
        free(sizes);
        return fp8q__st_fail_str(err, FP8Q_ERR_NOMEM, 0, "out of memory for the header");
    }
    for (d = 0; d < 8; d++) h[d] = (char)(unsigned char)(((uint64_t)padded >> (8 * d)) & 0xFFu);
    fp8q__st_header(h + 8, &hn, t, nt, sizes, mk, mv, nm);
    for (i = 8 + hn; i < hl; i++) h[i] = ' ';
    free(sizes);
    *head = h;
    *head_len = hl;
    *data_len = total;
    return FP8Q_OK;

fail:
    free(sizes);
    free((void *)names);
    return fp8q__st_fail(err, FP8Q_ERR_ARG, 0, &m);
}

FP8QDEF fp8q_result fp8q_safetensors_write_mem(void **out, size_t *out_len, const fp8q_tensor_out *t, size_t n,
                                               const char *const *meta_keys, const char *const *meta_values,
                                               size_t n_meta, fp8q_error *err)
{
    char *head, *buf;
    size_t hl, i, pos;
    uint64_t dl;
    fp8q_result r;
    fp8q__st_err_ok(err);
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (!out || !out_len)
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0, "fp8q_safetensors_write_mem: out or out_len is NULL");
    r = fp8q__st_prepare(t, n, meta_keys, meta_values, n_meta, 0, &head, &hl, &dl, err);
    if (r != FP8Q_OK) return r;
    if (dl > (uint64_t)((size_t)-1 - hl)) {
        free(head);
        return fp8q__st_fail_str(err, FP8Q_ERR_LIMIT, 0, "fp8q_safetensors_write_mem: file too large for memory");
    }
    buf = (char *)realloc(head, hl + (size_t)dl);
    if (!buf) {
        free(head);
        return fp8q__st_fail_str(err, FP8Q_ERR_NOMEM, 0, "out of memory for the file");
    }
    for (i = 0, pos = hl; i < n; i++) {
        const fp8q_dtype_info *di = fp8q_dtype_get(t[i].dtype);
        uint64_t numel = 1, size;
        int d;
        for (d = 0; d < t[i].ndim; d++) numel *= t[i].shape[d];
        size = numel * (uint64_t)di->bits / 8u;
        if (size) FP8Q__MEMCPY(buf + pos, t[i].data, (size_t)size);
        pos += (size_t)size;
    }
    *out = buf;
    *out_len = pos;
    return FP8Q_OK;
}

/* Writes bytes [0, size) of data, in chunks (size may exceed size_t on 32-bit hosts). */
static int fp8q__st_fwrite(FILE *f, const void *data, uint64_t size)
{
    uint64_t done = 0;
    while (done < size) {
        size_t c = size - done > ((uint64_t)1 << 30) ? (size_t)1 << 30 : (size_t)(size - done);
        if (fwrite((const char *)data + (size_t)done, 1, c, f) != c) return 0;
        done += c;
    }
    return 1;
}

FP8QDEF fp8q_result fp8q_safetensors_write_stream(const char *path, const fp8q_tensor_out *t, size_t n,
                                                  const char *const *meta_keys, const char *const *meta_values,
                                                  size_t n_meta, fp8q_tensor_fill_fn fill, void *ctx, fp8q_error *err)
{
    char *head;
    size_t hl, i;
    uint64_t dl;
    fp8q_result r;
    FILE *f;
    int ok;
    fp8q__st_err_ok(err);
    if (!path) return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0, "fp8q_safetensors_write: path is NULL");
    r = fp8q__st_prepare(t, n, meta_keys, meta_values, n_meta, fill != NULL, &head, &hl, &dl, err);
    if (r != FP8Q_OK) return r;
    f = fopen(path, "wb");
    if (!f) {
        free(head);
#ifdef FP8Q__ST_MMAP
        return fp8q__st_open_fail(err, path, "cannot create", errno);
#else
        return fp8q__st_open_fail(err, path, "cannot create", 0);
#endif
    }
    ok = fwrite(head, 1, hl, f) == hl;
    free(head);
    for (i = 0; ok && i < n; i++) {
        const fp8q_dtype_info *di = fp8q_dtype_get(t[i].dtype);
        uint64_t numel = 1, size;
        int d;
        for (d = 0; d < t[i].ndim; d++) numel *= t[i].shape[d];
        size = numel * (uint64_t)di->bits / 8u;
        if (t[i].data || !size) {
            ok = fp8q__st_fwrite(f, t[i].data, size);
        } else { /* produced on demand, one tensor in memory at a time */
            void *buf = size <= (uint64_t)((size_t)-1) ? malloc((size_t)size) : NULL;
            if (!buf) {
                r = fp8q__st_fail_str(err, FP8Q_ERR_NOMEM, 0, "out of memory for a tensor");
                fp8q__st_path_prefix(err, path);
                break;
            }
            r = fill(ctx, i, buf, (size_t)size, err);
            if (r == FP8Q_OK) ok = fp8q__st_fwrite(f, buf, size);
            free(buf);
            if (r != FP8Q_OK) break;
        }
    }
    if (fclose(f) != 0) ok = 0;
    if (r != FP8Q_OK) {
        (void)remove(path);
        return r;
    }
    if (!ok) {
        (void)remove(path);
        return fp8q__st_open_fail(err, path, "write failed (disk full?); the partial file was removed", 0);
    }
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_safetensors_write(const char *path, const fp8q_tensor_out *t, size_t n,
                                           const char *const *meta_keys, const char *const *meta_values, size_t n_meta,
                                           fp8q_error *err)
{
    return fp8q_safetensors_write_stream(path, t, n, meta_keys, meta_values, n_meta, NULL, NULL, err);
}

/* --------------------------------------------------- Llama config.json */
/* Messages are built with the safetensors fp8q__st_msg helpers (no printf). */

#include <errno.h> /* errno after fopen: ENOENT tells "absent" from "unreadable" */

/* The value token t as written, for "got ...": strings in double quotes as
   in the file, numbers and literals verbatim, containers by kind; cut at a
   UTF-8 boundary after 40 bytes with "...". */
static void fp8q__cfg_got(fp8q__st_msg *m, const fp8q_json *j, size_t t)
{
    const fp8q_json_token *k = &j->tok[t];
    size_t i, n = 0;
    char b[2];
    if (k->type == FP8Q_JSON_OBJECT || k->type == FP8Q_JSON_ARRAY) {
        fp8q__st_put(m, fp8q__st_type_name(k->type));
        return;
    }
    if (k->type == FP8Q_JSON_STRING) fp8q__st_put(m, "\"");
    b[1] = 0;
    for (i = k->start; i < k->end; i++, n++) {
        if (n >= 40 && ((unsigned char)j->text[i] & 0xC0u) != 0x80u) {
            fp8q__st_put(m, "...");
            break;
        }
        b[0] = j->text[i];
        fp8q__st_put(m, b);
    }
    if (k->type == FP8Q_JSON_STRING) fp8q__st_put(m, "\"");
}

static void fp8q__cfg_msg_init(fp8q__st_msg *m)
{
    m->n = 0;
    m->m[0] = 0;
}

/* "'key' must be WHAT, got VALUE" */
static fp8q_result fp8q__cfg_bad(fp8q_error *err, int code, const fp8q_json *j, size_t t, const char *key,
                                 const char *what)
{
    fp8q__st_msg m;
    fp8q__cfg_msg_init(&m);
    fp8q__st_put(&m, "'");
    fp8q__st_put(&m, key);
    fp8q__st_put(&m, "' ");
    fp8q__st_put(&m, what);
    fp8q__st_put(&m, ", got ");
    fp8q__cfg_got(&m, j, t);
    return fp8q__st_fail(err, code, j->tok[t].start, &m);
}

/* The value of member key of object obj; 0 when absent or null. */
static size_t fp8q__cfg_get(const fp8q_json *j, size_t obj, const char *key)
{
    size_t t = fp8q_json_get(j, obj, key);
    return t && j->tok[t].type != FP8Q_JSON_NULL ? t : 0;
}

/* A positive integer <= limit. Absent or null: *out = def, or an error when
   def is 0 (required). */
/* FP8Q_ERR_PARSE: "missing required key 'KEY' (WHAT)". */
static fp8q_result fp8q__cfg_missing(fp8q_error *err, const char *key, const char *what)
{
    fp8q__st_msg m;
    fp8q__cfg_msg_init(&m);
    fp8q__st_put(&m, "missing required key '");
    fp8q__st_put(&m, key);
    fp8q__st_put(&m, "' (");
    fp8q__st_put(&m, what);
    fp8q__st_put(&m, ")");
    return fp8q__st_fail(err, FP8Q_ERR_PARSE, 0, &m);
}

static fp8q_result fp8q__cfg_int(const fp8q_json *j, size_t obj, const char *key, int64_t limit, int def, int *out,
                                 fp8q_error *err)
{
    size_t t = fp8q__cfg_get(j, obj, key);
    int64_t v = 0;
    fp8q_result r;
    if (!t) {
        if (def > 0) {
            *out = def;
            return FP8Q_OK;
        }
        return fp8q__cfg_missing(err, key, "a positive integer");
    }
    if (j->tok[t].type != FP8Q_JSON_NUMBER)
        return fp8q__cfg_bad(err, FP8Q_ERR_PARSE, j, t, key, "must be a positive integer");
    r = fp8q_json_int64(j, t, &v);
    if (r == FP8Q_ERR_LIMIT && j->text[j->tok[t].start] != '-')
        v = INT64_MAX;
    else if (r != FP8Q_OK || v <= 0)
        return fp8q__cfg_bad(err, FP8Q_ERR_PARSE, j, t, key, "must be a positive integer");
    if (v > limit) {
        fp8q__st_msg m;
        fp8q__cfg_msg_init(&m);
        fp8q__st_put(&m, "'");
        fp8q__st_put(&m, key);
        fp8q__st_put(&m, "' is above the limit ");
        fp8q__st_u64(&m, (uint64_t)limit);
        fp8q__st_put(&m, ", got ");
        fp8q__cfg_got(&m, j, t);
        return fp8q__st_fail(err, FP8Q_ERR_LIMIT, j->tok[t].start, &m);
    }
    *out = (int)v;
    return FP8Q_OK;
}

/* A number > 0 (and finite: the parser has no non-finite literals, but a
   literal beyond the double range gives +Inf). Absent or null: def, or an
   error when def is 0 (required). */
static fp8q_result fp8q__cfg_pos(const fp8q_json *j, size_t obj, const char *key, double def, double *out,
                                 fp8q_error *err)
{
    size_t t = fp8q__cfg_get(j, obj, key);
    double v = 0.0;
    if (!t) {
        if (def > 0.0) {
            *out = def;
            return FP8Q_OK;
        }
        return fp8q__cfg_missing(err, key, "a positive number");
    }
    if (j->tok[t].type != FP8Q_JSON_NUMBER || fp8q_json_number(j, t, &v) != FP8Q_OK || !(v > 0.0) ||
        !(v <= 1.7976931348623157e308))
        return fp8q__cfg_bad(err, FP8Q_ERR_PARSE, j, t, key, "must be a finite positive number");
    *out = v;
    return FP8Q_OK;
}

#define FP8Q__CFG_DIM_MAX    ((int64_t)1 << 20)
#define FP8Q__CFG_LAYERS_MAX ((int64_t)4096)
#define FP8Q__CFG_VOCAB_MAX  ((int64_t)1 << 22)

static fp8q_result fp8q__cfg_parse(fp8q_llama_config *c, const fp8q_json *j, fp8q_error *err)
{
    const char *rkey;
    size_t t, a, rs;
    fp8q_result r;
    fp8q__st_msg m;
    fp8q__cfg_msg_init(&m);
    if (j->tok[0].type != FP8Q_JSON_OBJECT) {
        fp8q__st_put(&m, "the top level must be an object, got ");
        fp8q__cfg_got(&m, j, 0);
        return fp8q__st_fail(err, FP8Q_ERR_PARSE, 0, &m);
    }

    /* architecture */
    a = fp8q__cfg_get(j, 0, "architectures");
    if (a) {
        if (j->tok[a].type != FP8Q_JSON_ARRAY || j->tok[a].size == 0 || j->tok[a + 1].type != FP8Q_JSON_STRING)
            return fp8q__cfg_bad(err, FP8Q_ERR_PARSE, j, a, "architectures",
                                 "must be an array of strings with at least one element");
        t = a + 1;
        if (!fp8q_json_string_eq(j, t, "LlamaForCausalLM") && !fp8q_json_string_eq(j, t, "MistralForCausalLM")) {
            fp8q__st_put(&m, "architecture ");
            fp8q__cfg_got(&m, j, t);
            fp8q__st_put(&m, " is not supported (LlamaForCausalLM or MistralForCausalLM)");
            return fp8q__st_fail(err, FP8Q_ERR_UNSUPPORTED, j->tok[t].start, &m);
        }
        (void)fp8q_json_string(j, t, c->architecture, sizeof c->architecture);
    } else {
        t = fp8q__cfg_get(j, 0, "model_type");
        if (!t) return fp8q__st_fail_str(err, FP8Q_ERR_PARSE, 0, "neither 'architectures' nor 'model_type' is given");
        if (j->tok[t].type != FP8Q_JSON_STRING)
            return fp8q__cfg_bad(err, FP8Q_ERR_PARSE, j, t, "model_type", "must be a string");
        if (fp8q_json_string_eq(j, t, "llama"))
            FP8Q__MEMCPY(c->architecture, "LlamaForCausalLM", 17);
        else if (fp8q_json_string_eq(j, t, "mistral"))
            FP8Q__MEMCPY(c->architecture, "MistralForCausalLM", 19);
        else {
            fp8q__st_put(&m, "model_type ");
            fp8q__cfg_got(&m, j, t);
            fp8q__st_put(&m, " is not supported (llama or mistral)");
            return fp8q__st_fail(err, FP8Q_ERR_UNSUPPORTED, j->tok[t].start, &m);
        }
    }
    t = fp8q__cfg_get(j, 0, "sliding_window");
    if (t) {
        fp8q__st_put(&m, "sliding-window attention is not supported ('sliding_window' is ");
        fp8q__cfg_got(&m, j, t);
        fp8q__st_put(&m, "; only null or absent)");
        return fp8q__st_fail(err, FP8Q_ERR_UNSUPPORTED, j->tok[t].start, &m);
    }

    /* sizes */
    if ((r = fp8q__cfg_int(j, 0, "hidden_size", FP8Q__CFG_DIM_MAX, 0, &c->hidden_size, err)) != FP8Q_OK) return r;
    if ((r = fp8q__cfg_int(j, 0, "intermediate_size", FP8Q__CFG_DIM_MAX, 0, &c->intermediate_size, err)) != FP8Q_OK)
        return r;
    if ((r = fp8q__cfg_int(j, 0, "num_hidden_layers", FP8Q__CFG_LAYERS_MAX, 0, &c->num_hidden_layers, err)) != FP8Q_OK)
        return r;
    if ((r = fp8q__cfg_int(j, 0, "num_attention_heads", FP8Q__CFG_DIM_MAX, 0, &c->num_attention_heads, err)) != FP8Q_OK)
        return r;
    if ((r = fp8q__cfg_int(j, 0, "vocab_size", FP8Q__CFG_VOCAB_MAX, 0, &c->vocab_size, err)) != FP8Q_OK) return r;
    if ((r = fp8q__cfg_int(j, 0, "num_key_value_heads", FP8Q__CFG_DIM_MAX, c->num_attention_heads,
                           &c->num_key_value_heads, err)) != FP8Q_OK)
        return r;
    if ((r = fp8q__cfg_int(j, 0, "max_position_embeddings", FP8Q__CFG_DIM_MAX, 2048, &c->max_position_embeddings,
                           err)) != FP8Q_OK)
        return r;
    if (c->num_attention_heads % c->num_key_value_heads != 0) {
        fp8q__st_put(&m, "'num_attention_heads' (");
        fp8q__st_u64(&m, (uint64_t)c->num_attention_heads);
        fp8q__st_put(&m, ") must be a multiple of 'num_key_value_heads' (");
        fp8q__st_u64(&m, (uint64_t)c->num_key_value_heads);
        fp8q__st_put(&m, ")");
        return fp8q__st_fail(err, FP8Q_ERR_PARSE, 0, &m);
    }
    if (fp8q__cfg_get(j, 0, "head_dim")) {
        if ((r = fp8q__cfg_int(j, 0, "head_dim", FP8Q__CFG_DIM_MAX, 0, &c->head_dim, err)) != FP8Q_OK) return r;
    } else {
        if (c->hidden_size % c->num_attention_heads != 0) {
            fp8q__st_put(&m, "'hidden_size' (");
            fp8q__st_u64(&m, (uint64_t)c->hidden_size);
            fp8q__st_put(&m, ") is not a multiple of 'num_attention_heads' (");
            fp8q__st_u64(&m, (uint64_t)c->num_attention_heads);
            fp8q__st_put(&m, ") and 'head_dim' is not given");
            return fp8q__st_fail(err, FP8Q_ERR_PARSE, 0, &m);
        }
        c->head_dim = c->hidden_size / c->num_attention_heads;
    }
    if (c->head_dim % 2 != 0) {
        fp8q__st_put(&m, "the head dimension must be even for RoPE, got ");
        fp8q__st_u64(&m, (uint64_t)c->head_dim);
        return fp8q__st_fail(err, FP8Q_ERR_PARSE, 0, &m);
    }

    /* norms and RoPE */
    if ((r = fp8q__cfg_pos(j, 0, "rms_norm_eps", 1e-6, &c->rms_norm_eps, err)) != FP8Q_OK) return r;
    if ((r = fp8q__cfg_pos(j, 0, "rope_theta", 10000.0, &c->rope_theta, err)) != FP8Q_OK) return r;
    /* rope_scaling, or transformers 5's rope_parameters (which may also hold rope_theta) */
    rkey = "rope_scaling";
    rs = fp8q__cfg_get(j, 0, rkey);
    if (!rs && (rs = fp8q__cfg_get(j, 0, "rope_parameters")) != 0) {
        rkey = "rope_parameters";
        if (j->tok[rs].type == FP8Q_JSON_OBJECT && fp8q__cfg_get(j, rs, "rope_theta") &&
            (r = fp8q__cfg_pos(j, rs, "rope_theta", 10000.0, &c->rope_theta, err)) != FP8Q_OK) {
            fp8q__st_prefix(err, "rope_parameters: ");
            return r;
        }
    }
    if (rs) {
        size_t ty;
        char key[48];
        if (j->tok[rs].type != FP8Q_JSON_OBJECT)
            return fp8q__cfg_bad(err, FP8Q_ERR_PARSE, j, rs, rkey, "must be an object or null");
        ty = fp8q__cfg_get(j, rs, "rope_type");
        if (!ty) ty = fp8q__cfg_get(j, rs, "type");
        (void)snprintf(key, sizeof key, "%s.rope_type", rkey);
        if (!ty) {
            fp8q__st_put(&m, "'");
            fp8q__st_put(&m, rkey);
            fp8q__st_put(&m, "' has no 'rope_type'");
            return fp8q__st_fail(err, FP8Q_ERR_PARSE, j->tok[rs].start, &m);
        }
        if (j->tok[ty].type != FP8Q_JSON_STRING)
            return fp8q__cfg_bad(err, FP8Q_ERR_PARSE, j, ty, key, "must be a string");
        (void)snprintf(key, sizeof key, "%s: ", rkey);
        if (fp8q_json_string_eq(j, ty, "llama3")) {
            c->rope_llama3 = 1;
            if ((r = fp8q__cfg_pos(j, rs, "factor", 0.0, &c->rope_factor, err)) != FP8Q_OK ||
                (r = fp8q__cfg_pos(j, rs, "low_freq_factor", 0.0, &c->rope_low_freq_factor, err)) != FP8Q_OK ||
                (r = fp8q__cfg_pos(j, rs, "high_freq_factor", 0.0, &c->rope_high_freq_factor, err)) != FP8Q_OK ||
                (r = fp8q__cfg_int(j, rs, "original_max_position_embeddings", FP8Q__CFG_DIM_MAX, 0,
                                   &c->rope_original_max_position, err)) != FP8Q_OK) {
                fp8q__st_prefix(err, key);
                return r;
            }
            if (!(c->rope_high_freq_factor > c->rope_low_freq_factor)) {
                fp8q__st_put(&m, key);
                fp8q__st_put(&m, "'high_freq_factor' must be greater than 'low_freq_factor'");
                return fp8q__st_fail(err, FP8Q_ERR_PARSE, j->tok[rs].start, &m);
            }
        } else if (!fp8q_json_string_eq(j, ty, "default")) {
            fp8q__st_put(&m, rkey);
            fp8q__st_put(&m, " type ");
            fp8q__cfg_got(&m, j, ty);
            fp8q__st_put(&m, " is not supported (llama3 or default)");
            return fp8q__st_fail(err, FP8Q_ERR_UNSUPPORTED, j->tok[ty].start, &m);
        }
    }

    /* flags */
    t = fp8q__cfg_get(j, 0, "tie_word_embeddings");
    if (t) {
        if (j->tok[t].type != FP8Q_JSON_TRUE && j->tok[t].type != FP8Q_JSON_FALSE)
            return fp8q__cfg_bad(err, FP8Q_ERR_PARSE, j, t, "tie_word_embeddings", "must be true or false");
        c->tie_word_embeddings = j->tok[t].type == FP8Q_JSON_TRUE;
    }
    t = fp8q__cfg_get(j, 0, "torch_dtype");
    if (!t) t = fp8q__cfg_get(j, 0, "dtype");
    if (t) {
        if (j->tok[t].type != FP8Q_JSON_STRING)
            return fp8q__cfg_bad(err, FP8Q_ERR_PARSE, j, t, "torch_dtype", "must be a string");
        if (!fp8q_json_string_eq(j, t, "bfloat16") && !fp8q_json_string_eq(j, t, "float16") &&
            !fp8q_json_string_eq(j, t, "float32")) {
            fp8q__st_put(&m, "torch_dtype ");
            fp8q__cfg_got(&m, j, t);
            fp8q__st_put(&m, " is not supported (bfloat16, float16 or float32)");
            return fp8q__st_fail(err, FP8Q_ERR_UNSUPPORTED, j->tok[t].start, &m);
        }
        (void)fp8q_json_string(j, t, c->torch_dtype, sizeof c->torch_dtype);
    }
    c->has_quantization_config = fp8q__cfg_get(j, 0, "quantization_config") != 0;
    return FP8Q_OK;
}

static void fp8q__cfg_zero(fp8q_llama_config *c)
{
    size_t i;
    unsigned char *p = (unsigned char *)c;
    for (i = 0; i < sizeof *c; i++) p[i] = 0;
    c->rms_norm_eps = 0.0; /* all-zero bytes are 0.0 on IEEE hosts; say it for the others */
    c->rope_theta = 0.0;
    c->rope_factor = c->rope_low_freq_factor = c->rope_high_freq_factor = 0.0;
}

/* Parses without the "config.json: " prefix (the caller adds its own). */
static fp8q_result fp8q__cfg_parse_text(fp8q_llama_config *cfg, const char *text, size_t len, fp8q_error *err)
{
    fp8q_json j;
    fp8q_result r;
    fp8q__cfg_zero(cfg);
    r = fp8q_json_parse(&j, text, len, 0, err);
    if (r != FP8Q_OK) return r;
    r = fp8q__cfg_parse(cfg, &j, err);
    fp8q_json_free(&j);
    if (r != FP8Q_OK) fp8q__cfg_zero(cfg);
    return r;
}

FP8QDEF fp8q_result fp8q_llama_config_parse(fp8q_llama_config *cfg, const char *text, size_t len, fp8q_error *err)
{
    fp8q_result r;
    fp8q__st_err_ok(err);
    if (!cfg || (!text && len > 0))
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0,
                                 !cfg ? "fp8q_llama_config_parse: cfg is NULL"
                                      : "fp8q_llama_config_parse: text is NULL");
    r = fp8q__cfg_parse_text(cfg, text ? text : "", len, err);
    if (r != FP8Q_OK) fp8q__st_prefix(err, "config.json: ");
    return r;
}

/* Reads the whole file at path into a malloc'd buffer (at most
   FP8Q_MAX_CONFIG_SIZE bytes); works for files of unknown size. On failure
   the message starts with the path; *missing (if not NULL) is set when the
   file does not exist. */
static fp8q_result fp8q__read_file_too_large(const char *path, const char *limit_name, fp8q_error *err)
{
    char msg[64];
    fp8q_result r;
    (void)snprintf(msg, sizeof msg, "file larger than %s", limit_name);
    r = fp8q__st_fail_str(err, FP8Q_ERR_LIMIT, 0, msg);
    fp8q__st_path_prefix(err, path);
    return r;
}

/* Reads a whole regular file of at most limit bytes (limit_name names the
   limit in the message) into a malloc'd buffer; *missing (if not NULL) is set
   when the file does not exist. */
static fp8q_result fp8q__read_file(const char *path, size_t limit, const char *limit_name, char **out, size_t *out_len,
                                   int *missing, fp8q_error *err)
{
    FILE *f;
    char *buf = NULL, *nb;
    size_t n = 0, cap = 0, got;
    fp8q_result r;
    *out = NULL;
    *out_len = 0;
    if (missing) *missing = 0;
    if (fp8q__not_regular(path)) {
        r = fp8q__st_fail_str(err, FP8Q_ERR_IO, 0, "is not a regular file");
        fp8q__st_path_prefix(err, path);
        return r;
    }
    errno = 0;
    f = fopen(path, "rb");
    if (!f) {
#ifdef ENOENT
        if (missing && errno == ENOENT) *missing = 1;
#endif
        r = fp8q__st_fail_str(err, FP8Q_ERR_IO, 0, "cannot open");
        fp8q__st_path_prefix(err, path);
        return r;
    }
    for (;;) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 4096;
            if (cap >= limit + 1) {
                free(buf);
                fclose(f);
                r = fp8q__read_file_too_large(path, limit_name, err);
                return r;
            }
            if (nc > limit + 1) nc = limit + 1;
            nb = (char *)realloc(buf, nc);
            if (!nb) {
                free(buf);
                fclose(f);
                r = fp8q__st_fail_str(err, FP8Q_ERR_NOMEM, 0, "out of memory for the file");
                fp8q__st_path_prefix(err, path);
                return r;
            }
            buf = nb;
            cap = nc;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        r = fp8q__st_fail_str(err, FP8Q_ERR_IO, 0, "cannot read (is it a directory?)");
        fp8q__st_path_prefix(err, path);
        return r;
    }
    fclose(f);
    if (n > limit) {
        free(buf);
        r = fp8q__read_file_too_large(path, limit_name, err);
        return r;
    }
    *out = buf;
    *out_len = n;
    return FP8Q_OK;
}

static fp8q_result fp8q__cfg_read(const char *path, char **out, size_t *out_len, int *missing, fp8q_error *err)
{
    return fp8q__read_file(path, (size_t)FP8Q_MAX_CONFIG_SIZE, "FP8Q_MAX_CONFIG_SIZE", out, out_len, missing, err);
}

FP8QDEF fp8q_result fp8q_llama_config_load(fp8q_llama_config *cfg, const char *path, fp8q_error *err)
{
    char *buf;
    size_t len;
    fp8q_result r;
    fp8q__st_err_ok(err);
    if (cfg) fp8q__cfg_zero(cfg);
    if (!cfg || !path)
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0,
                                 !cfg ? "fp8q_llama_config_load: cfg is NULL" : "fp8q_llama_config_load: path is NULL");
    r = fp8q__cfg_read(path, &buf, &len, NULL, err);
    if (r != FP8Q_OK) return r;
    r = fp8q__cfg_parse_text(cfg, buf ? buf : "", len, err);
    free(buf);
    if (r != FP8Q_OK) fp8q__st_path_prefix(err, path);
    return r;
}

/* ---------------------------------------------------------- checkpoints */
/* The name index: one row per tensor, sorted by name (strcmp); names point
   into the fp8q_safetensors that own them. While an index.json is checked,
   rows hold the map's names and shard numbers instead (see open). */

typedef struct fp8q__ck_row {
    const char *name;
    size_t file;
    const fp8q_tensor_info *info;
} fp8q__ck_row;

typedef struct fp8q__ck_owned {
    size_t n;
    fp8q__ck_row *rows;
} fp8q__ck_owned;

static int fp8q__ck_row_cmp(const void *a_, const void *b_)
{
    const fp8q__ck_row *a = (const fp8q__ck_row *)a_, *b = (const fp8q__ck_row *)b_;
    return strcmp(a->name, b->name);
}

static const fp8q__ck_row *fp8q__ck_lookup(const fp8q__ck_row *rows, size_t n, const char *name)
{
    size_t lo = 0, hi = n, mid;
    int c;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = strcmp(name, rows[mid].name);
        if (c == 0) return &rows[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* dir + "/" + name (no second '/' when dir ends with one), malloc'd. */
static char *fp8q__ck_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    int slash = a > 0 && dir[a - 1] != '/'
#ifdef _WIN32
                && dir[a - 1] != '\\'
#endif
        ;
    char *p;
    if (a > (size_t)-1 - b - 2) return NULL;
    p = (char *)malloc(a + b + 2);
    if (!p) return NULL;
    FP8Q__MEMCPY(p, dir, a);
    if (slash) p[a++] = '/';
    FP8Q__MEMCPY(p + a, name, b + 1);
    return p;
}

FP8QDEF void fp8q_checkpoint_close(fp8q_checkpoint *ck)
{
    size_t i;
    fp8q__ck_owned *o;
    if (!ck) return;
    if (ck->files)
        for (i = 0; i < ck->n_files; i++) fp8q_safetensors_close(&ck->files[i]);
    free(ck->files);
    o = (fp8q__ck_owned *)ck->fp8q__owned;
    if (o) {
        free(o->rows);
        free(o);
    }
    ck->n_files = 0;
    ck->files = NULL;
    ck->n_tensors = 0;
    ck->fp8q__owned = NULL;
}

FP8QDEF const fp8q_tensor_info *fp8q_checkpoint_find(const fp8q_checkpoint *ck, const char *name,
                                                     const fp8q_safetensors **file)
{
    const fp8q__ck_owned *o;
    const fp8q__ck_row *row;
    if (file) *file = NULL;
    if (!ck || !name || !ck->fp8q__owned) return NULL;
    o = (const fp8q__ck_owned *)ck->fp8q__owned;
    row = fp8q__ck_lookup(o->rows, o->n, name);
    if (!row) return NULL;
    if (file) *file = &ck->files[row->file];
    return row->info;
}

static fp8q_result fp8q__ck_nomem(fp8q_error *err)
{
    return fp8q__st_fail_str(err, FP8Q_ERR_NOMEM, 0, "out of memory");
}

/* Validates the index (j) and fills ck: shard names, opening, cross-checks.
   dir for paths; err prefixed by the caller for FP8Q_ERR_PARSE from here
   (*index_err set) but not for shard errors (already prefixed). */
static fp8q_result fp8q__ck_from_index(fp8q_checkpoint *ck, const fp8q_json *j, const char *dir, fp8q_error *err,
                                       int *index_err)
{
    size_t wm, n, i, t, total = 0, nshard = 0;
    char *arena = NULL, *p;
    const char **shards = NULL;
    fp8q__ck_row *map = NULL, *rows = NULL;
    fp8q__ck_owned *own = NULL;
    fp8q_result r = FP8Q_OK;
    fp8q__st_msg m;
    fp8q__cfg_msg_init(&m);
    *index_err = 1;
    if (j->tok[0].type != FP8Q_JSON_OBJECT)
        return fp8q__st_fail_str(err, FP8Q_ERR_PARSE, 0, "the top level must be an object");
    wm = fp8q_json_get(j, 0, "weight_map");
    if (!wm) return fp8q__st_fail_str(err, FP8Q_ERR_PARSE, 0, "no 'weight_map'");
    if (j->tok[wm].type != FP8Q_JSON_OBJECT)
        return fp8q__cfg_bad(err, FP8Q_ERR_PARSE, j, wm, "weight_map", "must be an object");
    n = j->tok[wm].size;
    if (n == 0) return fp8q__st_fail_str(err, FP8Q_ERR_PARSE, j->tok[wm].start, "'weight_map' is empty");

    /* pass 1: types, names, sizes */
    for (i = 0, t = wm + 1; i < n; i++, t = j->tok[t + 1].next) {
        size_t kl = fp8q_json_string(j, t, NULL, 0), vl;
        const fp8q_json_token *v = &j->tok[t + 1];
        if (v->type != FP8Q_JSON_STRING) {
            fp8q__st_put(&m, "weight_map: the shard of tensor ");
            fp8q__cfg_got(&m, j, t);
            fp8q__st_put(&m, " must be a string, got ");
            fp8q__cfg_got(&m, j, t + 1);
            return fp8q__st_fail(err, FP8Q_ERR_PARSE, v->start, &m);
        }
        vl = fp8q_json_string(j, t + 1, NULL, 0);
        if (kl == 0 || vl == 0 || total > (size_t)-1 - kl - vl - 2) {
            fp8q__st_put(&m, "weight_map: empty tensor or shard name at tensor ");
            fp8q__cfg_got(&m, j, t);
            return fp8q__st_fail(err, FP8Q_ERR_PARSE, j->tok[t].start, &m);
        }
        total += kl + vl + 2;
    }
    arena = (char *)malloc(total);
    map = (fp8q__ck_row *)fp8q__st_alloc(n, sizeof *map);
    shards = (const char **)fp8q__st_alloc(n, sizeof *shards);
    if (!arena || !map || !shards) {
        r = fp8q__ck_nomem(err);
        *index_err = 0;
        goto fail;
    }

    /* pass 2: copy, check names */
    for (i = 0, p = arena, t = wm + 1; i < n; i++, t = j->tok[t + 1].next) {
        size_t kl = fp8q_json_string(j, t, p, (size_t)-1 / 2), vl, c;
        const char *shard;
        int bad;
        map[i].name = p;
        p += kl + 1;
        vl = fp8q_json_string(j, t + 1, p, (size_t)-1 / 2);
        shard = p;
        p += vl + 1;
        bad = strlen(map[i].name) != kl || strlen(shard) != vl || strstr(shard, "..") != NULL;
        for (c = 0; c < vl && !bad; c++) bad = shard[c] == '/' || shard[c] == '\\';
        if (bad) {
            fp8q__st_put(&m, "weight_map: shard name ");
            fp8q__cfg_got(&m, j, t + 1);
            fp8q__st_put(&m, " of tensor ");
            fp8q__cfg_got(&m, j, t);
            fp8q__st_put(&m, " must be a plain file name (no '/', '\\\\', '..' or NUL)");
            r = fp8q__st_fail(err, FP8Q_ERR_PARSE, j->tok[t + 1].start, &m);
            goto fail;
        }
        map[i].info = (const fp8q_tensor_info *)(const void *)shard; /* the shard name, until resolved below */
        shards[i] = shard;
    }

    /* distinct shards, sorted */
    qsort((void *)shards, n, sizeof *shards, fp8q__st_strptr_cmp);
    for (i = 0; i < n; i++)
        if (nshard == 0 || strcmp(shards[nshard - 1], shards[i]) != 0) shards[nshard++] = shards[i];
    for (i = 0; i < n; i++) {
        const char *s = (const char *)(const void *)map[i].info;
        size_t lo = 0, hi = nshard, mid;
        while (lo < hi) {
            int c;
            mid = lo + (hi - lo) / 2;
            c = strcmp(s, shards[mid]);
            if (c == 0) {
                lo = mid;
                break;
            }
            if (c < 0)
                hi = mid;
            else
                lo = mid + 1;
        }
        map[i].file = lo;
        map[i].info = NULL;
    }

    /* open the shards */
    *index_err = 0;
    ck->files = (fp8q_safetensors *)fp8q__st_alloc(nshard, sizeof *ck->files);
    if (!ck->files) {
        r = fp8q__ck_nomem(err);
        goto fail;
    }
    for (i = 0; i < nshard; i++) {
        char *path = fp8q__ck_join(dir, shards[i]);
        if (!path) {
            r = fp8q__ck_nomem(err);
            goto fail;
        }
        r = fp8q_safetensors_open(&ck->files[i], path, err);
        free(path);
        if (r != FP8Q_OK) goto fail;
        ck->n_files = i + 1;
    }

    /* every mapped tensor is in its shard */
    *index_err = 1;
    for (i = 0; i < n; i++) {
        map[i].info = fp8q_safetensors_find(&ck->files[map[i].file], map[i].name);
        if (!map[i].info) {
            fp8q__st_put(&m, "weight_map: tensor ");
            fp8q__st_name(&m, map[i].name);
            fp8q__st_put(&m, " is not in its shard ");
            fp8q__st_name(&m, shards[map[i].file]);
            r = fp8q__st_fail(err, FP8Q_ERR_PARSE, 0, &m);
            goto fail;
        }
        map[i].name = map[i].info->name; /* owned by the shard from now on */
    }
    qsort((void *)map, n, sizeof *map, fp8q__ck_row_cmp);

    /* every tensor of every shard is mapped, to that shard */
    for (i = 0; i < nshard; i++) {
        size_t k;
        for (k = 0; k < ck->files[i].n_tensors; k++) {
            const char *name = ck->files[i].tensors[k].name;
            const fp8q__ck_row *row = fp8q__ck_lookup(map, n, name);
            if (!row || row->file != i) {
                fp8q__st_put(&m, "tensor ");
                fp8q__st_name(&m, name);
                fp8q__st_put(&m, " is in shard ");
                fp8q__st_name(&m, shards[i]);
                if (!row)
                    fp8q__st_put(&m, " but not in weight_map");
                else {
                    fp8q__st_put(&m, " but weight_map puts it in ");
                    fp8q__st_name(&m, shards[row->file]);
                }
                r = fp8q__st_fail(err, FP8Q_ERR_PARSE, 0, &m);
                goto fail;
            }
        }
    }
    rows = map;
    map = NULL;
    own = (fp8q__ck_owned *)malloc(sizeof *own);
    if (!own) {
        *index_err = 0;
        r = fp8q__ck_nomem(err);
        free(rows);
        goto fail;
    }
    own->n = n;
    own->rows = rows;
    ck->fp8q__owned = own;
    ck->n_tensors = n;
    free(arena); /* the shard names, used by the messages above */
    free((void *)shards);
    return FP8Q_OK;
fail:
    free(arena);
    free(map);
    free((void *)shards);
    return r;
}

static fp8q_result fp8q__ck_single(fp8q_checkpoint *ck, const char *path, fp8q_error *err)
{
    fp8q_result r;
    fp8q__ck_owned *own;
    size_t i, n;
    ck->files = (fp8q_safetensors *)fp8q__st_alloc(1, sizeof *ck->files);
    if (!ck->files) return fp8q__ck_nomem(err);
    r = fp8q_safetensors_open(&ck->files[0], path, err);
    if (r != FP8Q_OK) return r;
    ck->n_files = 1;
    n = ck->files[0].n_tensors;
    own = (fp8q__ck_owned *)malloc(sizeof *own);
    if (!own) return fp8q__ck_nomem(err);
    own->n = n;
    own->rows = (fp8q__ck_row *)fp8q__st_alloc(n, sizeof *own->rows);
    if (!own->rows) {
        free(own);
        return fp8q__ck_nomem(err);
    }
    ck->fp8q__owned = own;
    for (i = 0; i < n; i++) {
        own->rows[i].name = ck->files[0].tensors[i].name;
        own->rows[i].file = 0;
        own->rows[i].info = &ck->files[0].tensors[i];
    }
    qsort((void *)own->rows, n, sizeof *own->rows, fp8q__ck_row_cmp);
    ck->n_tensors = n;
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_checkpoint_open(fp8q_checkpoint *ck, const char *dir, fp8q_error *err)
{
    char *ipath = NULL, *spath = NULL, *text = NULL;
    size_t len = 0;
    int missing = 0, index_err = 0;
    fp8q_result r;
    fp8q__st_err_ok(err);
    if (ck) {
        ck->n_files = 0;
        ck->files = NULL;
        ck->n_tensors = 0;
        ck->fp8q__owned = NULL;
    }
    if (!ck || !dir)
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0,
                                 !ck ? "fp8q_checkpoint_open: ck is NULL" : "fp8q_checkpoint_open: dir is NULL");
    ipath = fp8q__ck_join(dir, "model.safetensors.index.json");
    spath = fp8q__ck_join(dir, "model.safetensors");
    if (!ipath || !spath) {
        r = fp8q__ck_nomem(err);
        goto done;
    }
    r = fp8q__cfg_read(ipath, &text, &len, &missing, err);
    if (r == FP8Q_OK) {
        fp8q_json j;
        r = fp8q_json_parse(&j, text ? text : "", len, 0, err);
        if (r == FP8Q_OK) {
            r = fp8q__ck_from_index(ck, &j, dir, err, &index_err);
            fp8q_json_free(&j);
        } else {
            index_err = 1;
        }
        if (r != FP8Q_OK && index_err) fp8q__st_path_prefix(err, ipath);
    } else if (missing && fp8q__not_regular(spath)) { /* there, but no file: the reader says what it is */
        r = fp8q__ck_single(ck, spath, err);
    } else if (missing) {
        FILE *f = fopen(spath, "rb");
        if (!f) {
            fp8q__st_msg m;
            fp8q__cfg_msg_init(&m);
            fp8q__st_put(&m, "no model.safetensors or model.safetensors.index.json in ");
            fp8q__st_put(&m, dir);
            r = fp8q__st_fail(err, FP8Q_ERR_IO, 0, &m);
        } else {
            fclose(f);
            r = fp8q__ck_single(ck, spath, err);
        }
    }
done:
    free(text);
    free(ipath);
    free(spath);
    if (r != FP8Q_OK) fp8q_checkpoint_close(ck);
    return r;
}

/* ------------------------------------------------------------------ regex */

/* The pattern is parsed (recursive descent, as deep as the group nesting)
   into a syntax tree in one node array sized from the pattern length; the
   tree is then emitted as a Thompson NFA program (counted repetition
   expanded) whose size is computed, saturated, before anything is
   allocated for it; the program runs as a Pike VM: the set of live states is
   carried from one text character to the next, each state at most once per
   position, so time is O(len(text) x program) whatever the pattern. Only
   "is there a match" is needed, so thread priority (greedy vs lazy) and
   captures are not tracked. The text advances one character at a time,
   decoded as UTF-8 as Python's str would hold it: a literal matches a whole
   character, a class matches one character (a class that admits non-ASCII
   characters admits all of them: bit 0x80 of its byte set stands for them). */

FP8Q__STATIC_ASSERT(regex_limits, FP8Q_MAX_REGEX > 0 && FP8Q_MAX_REGEX <= 0x1000000 && FP8Q_MAX_REGEX_DEPTH > 0 &&
                                      FP8Q_MAX_REGEX_DEPTH <= 10000 && FP8Q_MAX_REGEX_PROGRAM > 0 &&
                                      FP8Q_MAX_REGEX_PROGRAM <= 0x1000000);

/* syntax tree node kinds */
#define FP8Q__RE_CHAR   0 /* one character: arg bytes ch[] */
#define FP8Q__RE_CLASS  1 /* cls: index of a 256-bit set */
#define FP8Q__RE_ASSERT 2 /* arg: FP8Q__RE_AT_* */
#define FP8Q__RE_CAT    3 /* children in order */
#define FP8Q__RE_ALT    4 /* children are the branches */
#define FP8Q__RE_REPEAT 5 /* one child, min..max times */

/* zero-width assertions */
#define FP8Q__RE_AT_BOS    0 /* ^ \A */
#define FP8Q__RE_AT_EOL    1 /* $ */
#define FP8Q__RE_AT_EOS    2 /* \Z */
#define FP8Q__RE_AT_WORDB  3 /* \b */
#define FP8Q__RE_AT_NWORDB 4 /* \B */

/* program opcodes; consuming instructions continue at pc + 1 */
#define FP8Q__RE_OP_CHAR   0 /* arg bytes ch[] */
#define FP8Q__RE_OP_CLASS  1 /* x: class index */
#define FP8Q__RE_OP_ASSERT 2 /* arg */
#define FP8Q__RE_OP_JMP    3 /* x */
#define FP8Q__RE_OP_SPLIT  4 /* x and y */
#define FP8Q__RE_OP_MATCH  5

/* what the last item of a sequence is, for "nothing to repeat" / "multiple repeat" */
#define FP8Q__RE_ITEM_NONE   0
#define FP8Q__RE_ITEM_ATOM   1
#define FP8Q__RE_ITEM_AT     2
#define FP8Q__RE_ITEM_REPEAT 3

#define FP8Q__RE_STR2(x) #x
#define FP8Q__RE_STR(x)  FP8Q__RE_STR2(x)
#define FP8Q__RE_INF     0xFFFFFFFFu /* max of an unbounded repeat; Python's MAXREPEAT */
#define FP8Q__RE_SAT     ((size_t)FP8Q_MAX_REGEX_PROGRAM + 1)

typedef struct fp8q__re_node {
    unsigned char kind, arg, ch[4];
    int cls;
    int first, last, next; /* children, next sibling; -1 for none */
    uint32_t min, max;     /* REPEAT */
    size_t off;            /* pattern offset (REPEAT: of the quantifier) */
    size_t size;           /* program instructions, saturated at FP8Q__RE_SAT */
} fp8q__re_node;

typedef struct fp8q__re_inst {
    unsigned char op, arg, ch[4];
    int x, y;
} fp8q__re_inst;

typedef struct fp8q__re {
    const unsigned char *p; /* the pattern */
    size_t len, pos;
    fp8q__re_node *node;
    int nnode, cap_node;
    unsigned char (*cls)[32];
    int ncls, cap_cls;
    int open[FP8Q_MAX_REGEX_DEPTH]; /* numbers of the capturing groups still open */
    int nopen;
    int ngroups; /* capturing groups opened so far */
    void *arena; /* nodes and classes */
    void *run;   /* program and matcher state */
    fp8q__re_inst *prog;
    int nprog, cap_prog;
    fp8q_error *err;
} fp8q__re;

/* ---- messages: "regex '<pattern>': <what> at offset N<tail>" */

/* fp8q__re_put / fp8q__re_put_num: the JSON parser's message helpers (same buffer size). */
#define fp8q__re_put     fp8q__json_msg_put
#define fp8q__re_put_num fp8q__json_msg_num

static size_t fp8q__re_put_src(char *m, size_t n, const unsigned char *s, size_t from, size_t to, size_t most)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t used = 0, i;
    for (i = from; i < to; i++) {
        unsigned c = s[i];
        char b[5];
        size_t k = 0;
        if (c >= 0x20 && c < 0x7F) {
            b[k++] = (char)c;
        } else {
            b[k++] = '\\';
            b[k++] = 'x';
            b[k++] = hex[c >> 4];
            b[k++] = hex[c & 15u];
        }
        b[k] = 0;
        if (used + k > most) return fp8q__re_put(m, n, "...");
        used += k;
        n = fp8q__re_put(m, n, b);
    }
    return n;
}

static fp8q_result fp8q__re_fail(fp8q__re *R, fp8q_result code, size_t off, const char *what, size_t from, size_t to,
                                 const char *what2, const char *tail)
{
    fp8q_error *e = R->err;
    if (e) {
        char *m = e->message;
        size_t n;
        e->code = code;
        e->offset = off;
        n = fp8q__re_put(m, 0, "regex '");
        n = fp8q__re_put_src(m, n, R->p, 0, R->len, 64);
        n = fp8q__re_put(m, n, "': ");
        n = fp8q__re_put(m, n, what);
        n = fp8q__re_put_src(m, n, R->p, from, to, 24);
        n = fp8q__re_put(m, n, what2);
        n = fp8q__re_put(m, n, " at offset ");
        n = fp8q__re_put_num(m, n, off);
        (void)fp8q__re_put(m, n, tail);
    }
    return code;
}

/* "<what> 'src' at offset N is not supported" */
static fp8q_result fp8q__re_unsupported(fp8q__re *R, size_t off, const char *what, size_t to)
{
    return fp8q__re_fail(R, FP8Q_ERR_UNSUPPORTED, off, what, off, to, "'", " is not supported");
}

static fp8q_result fp8q__re_syntax(fp8q__re *R, size_t off, const char *what)
{
    return fp8q__re_fail(R, FP8Q_ERR_PARSE, off, what, 0, 0, "", "");
}

/* ---- character sets */

#define FP8Q__RE_HAS(set, c) (((set)[(c) >> 3] >> ((c)&7u)) & 1u)

static void fp8q__re_set_add(unsigned char *set, unsigned lo, unsigned hi)
{
    unsigned c;
    for (c = lo; c <= hi; c++) set[c >> 3] = (unsigned char)(set[c >> 3] | (1u << (c & 7u)));
}

/* \w: ASCII letters, digits, '_', and every byte of a non-ASCII character */
static int fp8q__re_isword(unsigned c) { return c >= 0x80 || c == '_' || c - '0' < 10u || (c | 0x20u) - 'a' < 26u; }

/* Adds \d \D \s \S \w \W (letter e) to set. */
static void fp8q__re_set_category(unsigned char *set, unsigned e)
{
    unsigned char t[32];
    unsigned c, k;
    for (k = 0; k < 32; k++) t[k] = 0;
    switch (e | 0x20u) {
    case 'd': fp8q__re_set_add(t, '0', '9'); break;
    case 's':
        fp8q__re_set_add(t, '\t', '\r'); /* \t \n \v \f \r */
        fp8q__re_set_add(t, 0x1C, 0x20); /* Python's str.isspace() also has \x1c-\x1f */
        break;
    default:
        for (c = 0; c < 256; c++)
            if (fp8q__re_isword(c)) fp8q__re_set_add(t, c, c);
        break;
    }
    for (k = 0; k < 32; k++) set[k] = (unsigned char)(set[k] | (e < 'a' ? (unsigned char)~t[k] : t[k]));
}

/* ---- tree building */

static fp8q_result fp8q__re_new(fp8q__re *R, int kind, size_t off, int *out)
{
    fp8q__re_node *n;
    if (R->nnode >= R->cap_node) /* cannot happen: cap_node bounds the nodes per pattern byte */
        return fp8q__re_fail(R, FP8Q_ERR_LIMIT, off, "internal: node array full", 0, 0, "", "");
    n = &R->node[R->nnode];
    n->kind = (unsigned char)kind;
    n->arg = n->ch[0] = n->ch[1] = n->ch[2] = n->ch[3] = 0;
    n->cls = -1;
    n->first = n->last = n->next = -1;
    n->min = n->max = 0;
    n->off = off;
    n->size = 0;
    *out = R->nnode++;
    return FP8Q_OK;
}

static fp8q_result fp8q__re_new_class(fp8q__re *R, size_t off, int *out, unsigned char **set)
{
    fp8q_result r;
    int k;
    if (R->ncls >= R->cap_cls) return fp8q__re_fail(R, FP8Q_ERR_LIMIT, off, "internal: class array full", 0, 0, "", "");
    if ((r = fp8q__re_new(R, FP8Q__RE_CLASS, off, out)) != FP8Q_OK) return r;
    R->node[*out].cls = R->ncls;
    *set = R->cls[R->ncls++];
    for (k = 0; k < 32; k++) (*set)[k] = 0;
    return FP8Q_OK;
}

static void fp8q__re_add_child(fp8q__re *R, int parent, int child)
{
    fp8q__re_node *p = &R->node[parent];
    R->node[child].next = -1;
    if (p->first < 0)
        p->first = child;
    else
        R->node[p->last].next = child;
    p->last = child;
}

/* The length of the character at s[i] (i < n): a well-formed-looking UTF-8
   sequence (lead byte and its continuation bytes) is one character; any
   other byte is a character of its own. Text and pattern use the same rule. */
static size_t fp8q__re_utf8_len(const unsigned char *s, size_t i, size_t n)
{
    unsigned c = s[i];
    size_t want = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF8 ? 4 : 1, k;
    if (want > n - i) return 1;
    for (k = 1; k < want; k++)
        if ((s[i + k] & 0xC0u) != 0x80u) return 1;
    return want;
}

static fp8q_result fp8q__re_char(fp8q__re *R, const unsigned char *b, size_t n, size_t off, int *out)
{
    fp8q_result r = fp8q__re_new(R, FP8Q__RE_CHAR, off, out);
    size_t k;
    if (r != FP8Q_OK) return r;
    R->node[*out].arg = (unsigned char)n;
    for (k = 0; k < n; k++) R->node[*out].ch[k] = b[k];
    return FP8Q_OK;
}

/* A code point (from an escape) as a literal character: its UTF-8 bytes. */
static fp8q_result fp8q__re_codepoint(fp8q__re *R, uint32_t cp, size_t off, int *out)
{
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0u | (cp >> 6));
        b[1] = (unsigned char)(0x80u | (cp & 0x3Fu));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0u | (cp >> 12));
        b[1] = (unsigned char)(0x80u | ((cp >> 6) & 0x3Fu));
        b[2] = (unsigned char)(0x80u | (cp & 0x3Fu));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xF0u | (cp >> 18));
        b[1] = (unsigned char)(0x80u | ((cp >> 12) & 0x3Fu));
        b[2] = (unsigned char)(0x80u | ((cp >> 6) & 0x3Fu));
        b[3] = (unsigned char)(0x80u | (cp & 0x3Fu));
        n = 4;
    }
    return fp8q__re_char(R, b, n, off, out);
}

/* The pattern's character at R->pos as a literal; advances past it. */
static fp8q_result fp8q__re_literal(fp8q__re *R, size_t off, int *out)
{
    size_t i = R->pos, n = fp8q__re_utf8_len(R->p, i, R->len);
    R->pos = i + n;
    return fp8q__re_char(R, R->p + i, n, off, out);
}

static int fp8q__re_hexval(unsigned c)
{
    if (c - '0' < 10u) return (int)(c - '0');
    if ((c | 0x20u) - 'a' < 6u) return (int)((c | 0x20u) - 'a' + 10);
    return -1;
}

/* \x \u \U after the backslash at `start` (R->pos is past the letter):
   exactly 2, 4 or 8 hex digits. */
static fp8q_result fp8q__re_hex_escape(fp8q__re *R, size_t start, unsigned letter, uint32_t *cp)
{
    int want = letter == 'x' ? 2 : letter == 'u' ? 4 : 8, k = 0, h;
    uint32_t v = 0;
    while (k < want && R->pos < R->len && (h = fp8q__re_hexval(R->p[R->pos])) >= 0) {
        v = v * 16u + (uint32_t)h;
        R->pos++;
        k++;
    }
    if (k < want) return fp8q__re_fail(R, FP8Q_ERR_PARSE, start, "incomplete escape ", start, R->pos, "", "");
    if (v > 0x10FFFFu) return fp8q__re_fail(R, FP8Q_ERR_PARSE, start, "bad escape ", start, R->pos, "", "");
    *cp = v;
    return FP8Q_OK;
}

/* Reads up to `more` further octal digits into v (the digits so far). */
static uint32_t fp8q__re_octal(fp8q__re *R, uint32_t v, int more)
{
    while (more-- > 0 && R->pos < R->len && R->p[R->pos] - (unsigned)'0' < 8u) v = v * 8u + (R->p[R->pos++] - '0');
    return v;
}

/* One escape inside [...]; R->pos is at the backslash. Either *cp is a
   character (*is_set 0), or the category was added to cat (*is_set 1). */
static fp8q_result fp8q__re_class_escape(fp8q__re *R, uint32_t *cp, int *is_set, unsigned char *cat)
{
    size_t start = R->pos;
    unsigned c;
    fp8q_result r;
    *is_set = 0;
    if (start + 1 >= R->len) return fp8q__re_syntax(R, start, "bad escape (end of pattern)");
    c = R->p[start + 1];
    R->pos = start + 2;
    switch (c) {
    case 'a': *cp = 7; return FP8Q_OK;
    case 'b': *cp = 8; return FP8Q_OK; /* backspace inside a class */
    case 'f': *cp = 12; return FP8Q_OK;
    case 'n': *cp = 10; return FP8Q_OK;
    case 'r': *cp = 13; return FP8Q_OK;
    case 't': *cp = 9; return FP8Q_OK;
    case 'v': *cp = 11; return FP8Q_OK;
    case 'd':
    case 'D':
    case 's':
    case 'S':
    case 'w':
    case 'W':
        fp8q__re_set_category(cat, c);
        *is_set = 1;
        return FP8Q_OK;
    case 'x':
    case 'u':
    case 'U':
        if ((r = fp8q__re_hex_escape(R, start, c, cp)) != FP8Q_OK) return r;
        break;
    case 'N': return fp8q__re_unsupported(R, start, "named character escape '", start + 2);
    default:
        if (c - '0' < 8u) {
            *cp = fp8q__re_octal(R, c - '0', 2);
            if (*cp > 0377)
                return fp8q__re_fail(R, FP8Q_ERR_PARSE, start, "octal escape value ", start, R->pos,
                                     " outside of range 0-0o377", "");
        } else if (c - '0' < 10u || (c | 0x20u) - 'a' < 26u) {
            return fp8q__re_fail(R, FP8Q_ERR_PARSE, start, "bad escape ", start, start + 2, "", "");
        } else {
            *cp = c;
        }
        break;
    }
    if (*cp >= 0x80)
        return fp8q__re_fail(R, FP8Q_ERR_UNSUPPORTED, start, "non-ASCII character '", start, R->pos,
                             "' in a character class", " is not supported");
    return FP8Q_OK;
}

/* [...] with R->pos at '['; mirrors Python's sre_parse loop. */
static fp8q_result fp8q__re_class(fp8q__re *R, int *out)
{
    const unsigned char *p = R->p;
    size_t start = R->pos, i0;
    unsigned char *set, cat[32];
    int neg = 0, nitems = 0, set1, set2, k;
    uint32_t v1 = 0, v2 = 0;
    fp8q_result r;
    if ((r = fp8q__re_new_class(R, start, out, &set)) != FP8Q_OK) return r;
    R->pos++;
    if (R->pos < R->len && p[R->pos] == '^') {
        neg = 1;
        R->pos++;
    }
    for (;;) {
        if (R->pos >= R->len) return fp8q__re_syntax(R, start, "unterminated character set");
        i0 = R->pos;
        for (k = 0; k < 32; k++) cat[k] = 0;
        set1 = 0;
        if (p[i0] == ']' && nitems > 0) {
            R->pos++;
            break;
        }
        if (p[i0] == '\\') {
            if ((r = fp8q__re_class_escape(R, &v1, &set1, cat)) != FP8Q_OK) return r;
        } else if (p[i0] >= 0x80) {
            return fp8q__re_fail(R, FP8Q_ERR_UNSUPPORTED, i0, "non-ASCII character '", i0, i0 + 1,
                                 "' in a character class", " is not supported");
        } else {
            v1 = p[R->pos++];
        }
        if (R->pos < R->len && p[R->pos] == '-') {
            size_t j0 = ++R->pos;
            if (j0 >= R->len) return fp8q__re_syntax(R, start, "unterminated character set");
            if (p[j0] == ']') { /* a trailing '-' is literal */
                R->pos++;
                if (set1)
                    for (k = 0; k < 32; k++) set[k] = (unsigned char)(set[k] | cat[k]);
                else
                    fp8q__re_set_add(set, v1, v1);
                fp8q__re_set_add(set, '-', '-');
                break;
            }
            set2 = 0;
            if (p[j0] == '\\') {
                if ((r = fp8q__re_class_escape(R, &v2, &set2, cat)) != FP8Q_OK) return r;
            } else if (p[j0] >= 0x80) {
                return fp8q__re_fail(R, FP8Q_ERR_UNSUPPORTED, j0, "non-ASCII character '", j0, j0 + 1,
                                     "' in a character class", " is not supported");
            } else {
                v2 = p[R->pos++];
            }
            if (set1 || set2 || v2 < v1)
                return fp8q__re_fail(R, FP8Q_ERR_PARSE, i0, "bad character range ", i0, R->pos, "", "");
            fp8q__re_set_add(set, v1, v2);
        } else if (set1) {
            for (k = 0; k < 32; k++) set[k] = (unsigned char)(set[k] | cat[k]);
        } else {
            fp8q__re_set_add(set, v1, v1);
        }
        nitems++;
    }
    if (neg)
        for (k = 0; k < 32; k++) set[k] = (unsigned char)~set[k];
    return FP8Q_OK;
}

static fp8q_result fp8q__re_assert(fp8q__re *R, int at, size_t off, int *out, int *kind)
{
    fp8q_result r = fp8q__re_new(R, FP8Q__RE_ASSERT, off, out);
    if (r == FP8Q_OK) R->node[*out].arg = (unsigned char)at;
    *kind = FP8Q__RE_ITEM_AT;
    return r;
}

/* An escape outside a class; R->pos at the backslash. */
static fp8q_result fp8q__re_escape(fp8q__re *R, int *out, int *kind)
{
    size_t start = R->pos;
    unsigned c, d;
    uint32_t cp;
    unsigned char *set;
    fp8q_result r;
    int group, k;
    *kind = FP8Q__RE_ITEM_ATOM;
    if (start + 1 >= R->len) return fp8q__re_syntax(R, start, "bad escape (end of pattern)");
    c = R->p[start + 1];
    R->pos = start + 2;
    switch (c) {
    case 'A': return fp8q__re_assert(R, FP8Q__RE_AT_BOS, start, out, kind);
    case 'Z': return fp8q__re_assert(R, FP8Q__RE_AT_EOS, start, out, kind);
    case 'b': return fp8q__re_assert(R, FP8Q__RE_AT_WORDB, start, out, kind);
    case 'B': return fp8q__re_assert(R, FP8Q__RE_AT_NWORDB, start, out, kind);
    case 'd':
    case 'D':
    case 's':
    case 'S':
    case 'w':
    case 'W':
        if ((r = fp8q__re_new_class(R, start, out, &set)) != FP8Q_OK) return r;
        fp8q__re_set_category(set, c);
        return FP8Q_OK;
    case 'a': cp = 7; break;
    case 'f': cp = 12; break;
    case 'n': cp = 10; break;
    case 'r': cp = 13; break;
    case 't': cp = 9; break;
    case 'v': cp = 11; break;
    case 'x':
    case 'u':
    case 'U':
        if ((r = fp8q__re_hex_escape(R, start, c, &cp)) != FP8Q_OK) return r;
        break;
    case 'N': return fp8q__re_unsupported(R, start, "named character escape '", start + 2);
    case '0': cp = fp8q__re_octal(R, 0, 2); break;
    default:
        if (c - '1' < 9u) { /* octal \ooo, or a group reference \N or \NN */
            group = (int)(c - '0');
            if (R->pos < R->len && R->p[R->pos] - (unsigned)'0' < 10u) {
                d = R->p[R->pos++];
                if (c < '8' && d < '8' && R->pos < R->len && R->p[R->pos] - (unsigned)'0' < 8u) {
                    cp = fp8q__re_octal(R, (c - '0') * 8u + (d - '0'), 1);
                    if (cp > 0377)
                        return fp8q__re_fail(R, FP8Q_ERR_PARSE, start, "octal escape value ", start, R->pos,
                                             " outside of range 0-0o377", "");
                    break;
                }
                group = group * 10 + (int)(d - '0');
            }
            if (group > R->ngroups)
                return fp8q__re_fail(R, FP8Q_ERR_PARSE, start, "invalid group reference ", start + 1, R->pos, "", "");
            for (k = 0; k < R->nopen; k++)
                if (R->open[k] == group) return fp8q__re_syntax(R, start, "cannot refer to an open group");
            return fp8q__re_unsupported(R, start, "backreference '", R->pos);
        }
        if ((c | 0x20u) - 'a' < 26u)
            return fp8q__re_fail(R, FP8Q_ERR_PARSE, start, "bad escape ", start, start + 2, "", "");
        R->pos = start + 1; /* escaped punctuation or non-ASCII character: itself */
        return fp8q__re_literal(R, start, out);
    }
    return fp8q__re_codepoint(R, cp, start, out);
}

static fp8q_result fp8q__re_alt(fp8q__re *R, int depth, int *out);

/* ( ... ), (?: ... ), (?# ... ) and the refused (? forms; R->pos at '('.
   A comment gives *out = -1. */
static fp8q_result fp8q__re_group(fp8q__re *R, int depth, int *out)
{
    const unsigned char *p = R->p;
    size_t start = R->pos, q;
    int capture = 1;
    fp8q_result r;
    *out = -1;
    R->pos++;
    if (R->pos < R->len && p[R->pos] == '?') {
        q = ++R->pos;
        if (q >= R->len) return fp8q__re_syntax(R, q, "unexpected end of pattern");
        switch (p[q]) {
        case ':':
            capture = 0;
            R->pos++;
            break;
        case '#':
            while (R->pos < R->len && p[R->pos] != ')') R->pos++;
            if (R->pos >= R->len) return fp8q__re_syntax(R, start, "missing ), unterminated comment");
            R->pos++;
            return FP8Q_OK;
        case '=': return fp8q__re_unsupported(R, start, "lookahead '", q + 1);
        case '!': return fp8q__re_unsupported(R, start, "negative lookahead '", q + 1);
        case '<':
            if (q + 1 >= R->len) return fp8q__re_syntax(R, q + 1, "unexpected end of pattern");
            if (p[q + 1] == '=') return fp8q__re_unsupported(R, start, "lookbehind '", q + 2);
            if (p[q + 1] == '!') return fp8q__re_unsupported(R, start, "negative lookbehind '", q + 2);
            return fp8q__re_fail(R, FP8Q_ERR_PARSE, q - 1, "unknown extension ", q - 1, q + 2, "", "");
        case 'P':
            if (q + 1 >= R->len) return fp8q__re_syntax(R, q + 1, "unexpected end of pattern");
            if (p[q + 1] == '<') return fp8q__re_unsupported(R, start, "named group '", q + 2);
            if (p[q + 1] == '=') return fp8q__re_unsupported(R, start, "named backreference '", q + 2);
            return fp8q__re_fail(R, FP8Q_ERR_PARSE, q - 1, "unknown extension ", q - 1, q + 2, "", "");
        case '(': return fp8q__re_unsupported(R, start, "conditional group '", q + 1);
        case '>': return fp8q__re_unsupported(R, start, "atomic group '", q + 1);
        case 'a':
        case 'i':
        case 'L':
        case 'm':
        case 's':
        case 't':
        case 'u':
        case 'x':
        case '-': return fp8q__re_unsupported(R, start, "inline flags '", q + 1);
        default: return fp8q__re_fail(R, FP8Q_ERR_PARSE, q - 1, "unknown extension ", q - 1, q + 1, "", "");
        }
    }
    if (depth >= FP8Q_MAX_REGEX_DEPTH)
        return fp8q__re_fail(R, FP8Q_ERR_LIMIT, start,
                             "groups nested deeper than FP8Q_MAX_REGEX_DEPTH (" FP8Q__RE_STR(FP8Q_MAX_REGEX_DEPTH) ")",
                             0, 0, "", "");
    if (capture) R->open[R->nopen++] = ++R->ngroups;
    if ((r = fp8q__re_alt(R, depth + 1, out)) != FP8Q_OK) return r;
    if (R->pos >= R->len || p[R->pos] != ')') return fp8q__re_syntax(R, start, "missing ), unterminated subpattern");
    R->pos++;
    if (capture) R->nopen--;
    return FP8Q_OK;
}

/* Is there a {m}, {m,}, {m,n}, {,n} or {,} quantifier at R->pos ('{')?
   Python reads anything else, "{}" included, as a literal '{'. */
static fp8q_result fp8q__re_braces(fp8q__re *R, int *is_quant, uint32_t *min, uint32_t *max, size_t *end)
{
    const unsigned char *p = R->p;
    size_t i = R->pos + 1, lo0, lo1, hi0, hi1;
    uint64_t lo = 0, hi = 0;
    int comma = 0;
    *is_quant = 0;
    if (i < R->len && p[i] == '}') return FP8Q_OK;
    lo0 = i;
    while (i < R->len && p[i] - (unsigned)'0' < 10u) {
        if (lo <= FP8Q__RE_INF) lo = lo * 10u + (p[i] - '0');
        i++;
    }
    lo1 = hi0 = hi1 = i;
    if (i < R->len && p[i] == ',') {
        comma = 1;
        hi0 = ++i;
        while (i < R->len && p[i] - (unsigned)'0' < 10u) {
            if (hi <= FP8Q__RE_INF) hi = hi * 10u + (p[i] - '0');
            i++;
        }
        hi1 = i;
    }
    if (i >= R->len || p[i] != '}') return FP8Q_OK;
    if (!comma) {
        hi = lo;
        hi0 = lo0;
        hi1 = lo1;
    }
    if (lo1 > lo0 && lo >= FP8Q__RE_INF)
        return fp8q__re_fail(R, FP8Q_ERR_PARSE, lo0, "the repetition number is too large", 0, 0, "", "");
    if (hi1 > hi0 && hi >= FP8Q__RE_INF)
        return fp8q__re_fail(R, FP8Q_ERR_PARSE, hi0, "the repetition number is too large", 0, 0, "", "");
    if (hi1 == hi0) hi = FP8Q__RE_INF;
    if (hi < lo) return fp8q__re_syntax(R, R->pos, "min repeat greater than max repeat");
    *is_quant = 1;
    *min = (uint32_t)lo;
    *max = (uint32_t)hi;
    *end = i + 1;
    return FP8Q_OK;
}

/* A sequence of items up to '|', ')' or the end. */
static fp8q_result fp8q__re_cat(fp8q__re *R, int depth, int *out)
{
    const unsigned char *p = R->p;
    int item = -1, item_kind = FP8Q__RE_ITEM_NONE, atom, kind, copy;
    fp8q_result r;
    if ((r = fp8q__re_new(R, FP8Q__RE_CAT, R->pos, out)) != FP8Q_OK) return r;
    while (R->pos < R->len && p[R->pos] != '|' && p[R->pos] != ')') {
        size_t here = R->pos, end = here + 1;
        unsigned c = p[here];
        uint32_t min = 0, max = FP8Q__RE_INF;
        int quant = c == '*' || c == '+' || c == '?';
        if (c == '+') min = 1;
        if (c == '?') max = 1;
        if (c == '{' && (r = fp8q__re_braces(R, &quant, &min, &max, &end)) != FP8Q_OK) return r;
        if (quant) {
            if (item_kind == FP8Q__RE_ITEM_NONE || item_kind == FP8Q__RE_ITEM_AT)
                return fp8q__re_syntax(R, here, "nothing to repeat");
            if (item_kind == FP8Q__RE_ITEM_REPEAT) return fp8q__re_syntax(R, here, "multiple repeat");
            R->pos = end;
            if (R->pos < R->len && p[R->pos] == '?') {
                R->pos++; /* lazy: same answer */
            } else if (R->pos < R->len && p[R->pos] == '+') {
                return fp8q__re_unsupported(R, here, "possessive quantifier '", R->pos + 1);
            }
            /* the item becomes the REPEAT in place, a copy of it its child */
            if ((r = fp8q__re_new(R, FP8Q__RE_CAT, here, &copy)) != FP8Q_OK) return r;
            R->node[copy] = R->node[item];
            R->node[copy].next = -1;
            R->node[item].kind = FP8Q__RE_REPEAT;
            R->node[item].first = R->node[item].last = copy;
            R->node[item].min = min;
            R->node[item].max = max;
            R->node[item].off = here;
            item_kind = FP8Q__RE_ITEM_REPEAT;
            continue;
        }
        kind = FP8Q__RE_ITEM_ATOM;
        switch (c) {
        case '(': r = fp8q__re_group(R, depth, &atom); break;
        case '[': r = fp8q__re_class(R, &atom); break;
        case '.': {
            unsigned char *set;
            r = fp8q__re_new_class(R, here, &atom, &set);
            if (r == FP8Q_OK) {
                fp8q__re_set_add(set, 0, 255);
                set['\n' >> 3] = (unsigned char)(set['\n' >> 3] & ~(1u << ('\n' & 7u)));
            }
            R->pos++;
            break;
        }
        case '^':
            R->pos++;
            r = fp8q__re_assert(R, FP8Q__RE_AT_BOS, here, &atom, &kind);
            break;
        case '$':
            R->pos++;
            r = fp8q__re_assert(R, FP8Q__RE_AT_EOL, here, &atom, &kind);
            break;
        case '\\': r = fp8q__re_escape(R, &atom, &kind); break;
        default: r = fp8q__re_literal(R, here, &atom); break;
        }
        if (r != FP8Q_OK) return r;
        if (atom < 0) continue; /* a comment: a quantifier after it applies to the item before it */
        fp8q__re_add_child(R, *out, atom);
        item = atom;
        item_kind = kind;
    }
    return FP8Q_OK;
}

/* Branches separated by '|'. */
static fp8q_result fp8q__re_alt(fp8q__re *R, int depth, int *out)
{
    int cat, alt = -1;
    fp8q_result r;
    size_t start = R->pos;
    if ((r = fp8q__re_cat(R, depth, &cat)) != FP8Q_OK) return r;
    while (R->pos < R->len && R->p[R->pos] == '|') {
        if (alt < 0) {
            if ((r = fp8q__re_new(R, FP8Q__RE_ALT, start, &alt)) != FP8Q_OK) return r;
            fp8q__re_add_child(R, alt, cat);
        }
        R->pos++;
        if ((r = fp8q__re_cat(R, depth, &cat)) != FP8Q_OK) return r;
        fp8q__re_add_child(R, alt, cat);
    }
    *out = alt >= 0 ? alt : cat;
    return FP8Q_OK;
}

/* ---- program size and emission */

static size_t fp8q__re_sat_add(size_t a, size_t b) { return a + b > FP8Q__RE_SAT ? FP8Q__RE_SAT : a + b; }

static size_t fp8q__re_sat_mul(size_t a, size_t b)
{
    if (a == 0 || b == 0) return 0;
    return b > FP8Q__RE_SAT / a ? FP8Q__RE_SAT : fp8q__re_sat_add(a * b, 0);
}

/* Instructions node n compiles to, saturated; *where gets the offset of the
   first repetition found to exceed the limit. */
static size_t fp8q__re_size(fp8q__re *R, int n, size_t *where)
{
    fp8q__re_node *nd = &R->node[n];
    size_t s = 0, k = 0, c;
    int ch;
    switch (nd->kind) {
    case FP8Q__RE_CAT:
    case FP8Q__RE_ALT:
        for (ch = nd->first; ch >= 0; ch = R->node[ch].next) {
            s = fp8q__re_sat_add(s, fp8q__re_size(R, ch, where));
            k++;
        }
        if (nd->kind == FP8Q__RE_ALT && k > 1) s = fp8q__re_sat_add(s, 2 * (k - 1)); /* SPLIT and JMP per branch */
        break;
    case FP8Q__RE_REPEAT:
        c = fp8q__re_size(R, nd->first, where);
        if (c == 0) break; /* only ever matches the empty string: nothing to repeat */
        s = fp8q__re_sat_mul(c, nd->min);
        if (nd->max == FP8Q__RE_INF)
            s = fp8q__re_sat_add(s, nd->min == 0 ? c + 2 : 1); /* L: SPLIT; x; JMP L  or  L: x; SPLIT L */
        else
            s = fp8q__re_sat_add(s, fp8q__re_sat_mul(c + 1, nd->max - nd->min)); /* SPLIT; x per optional copy */
        break;
    default: s = 1; break;
    }
    if (s >= FP8Q__RE_SAT && *where == (size_t)-1) *where = nd->off; /* the innermost node over the limit */
    nd->size = s;
    return s;
}

static int fp8q__re_put_inst(fp8q__re *R, int op, int arg, int x, int y)
{
    fp8q__re_inst *in;
    if (R->nprog >= R->cap_prog) return R->cap_prog; /* cannot happen: sizes were computed first */
    in = &R->prog[R->nprog];
    in->op = (unsigned char)op;
    in->arg = (unsigned char)arg;
    in->x = x;
    in->y = y;
    return R->nprog++;
}

static void fp8q__re_emit(fp8q__re *R, int n)
{
    const fp8q__re_node *nd = &R->node[n];
    int ch, pending = -1, at, loop;
    uint32_t k;
    switch (nd->kind) {
    case FP8Q__RE_CHAR:
        at = fp8q__re_put_inst(R, FP8Q__RE_OP_CHAR, nd->arg, 0, 0);
        if (at < R->cap_prog) FP8Q__MEMCPY(R->prog[at].ch, nd->ch, 4);
        break;
    case FP8Q__RE_CLASS: (void)fp8q__re_put_inst(R, FP8Q__RE_OP_CLASS, 0, nd->cls, 0); break;
    case FP8Q__RE_ASSERT: (void)fp8q__re_put_inst(R, FP8Q__RE_OP_ASSERT, nd->arg, 0, 0); break;
    case FP8Q__RE_CAT:
        for (ch = nd->first; ch >= 0; ch = R->node[ch].next) fp8q__re_emit(R, ch);
        break;
    case FP8Q__RE_ALT:
        /* SPLIT next_branch; branch; JMP end ... last branch; end. The JMPs
           waiting for `end` are chained through their x. */
        for (ch = nd->first; ch >= 0; ch = R->node[ch].next) {
            if (R->node[ch].next < 0) {
                fp8q__re_emit(R, ch);
                break;
            }
            at = fp8q__re_put_inst(R, FP8Q__RE_OP_SPLIT, 0, R->nprog + 1, 0);
            fp8q__re_emit(R, ch);
            pending = fp8q__re_put_inst(R, FP8Q__RE_OP_JMP, 0, pending, 0);
            if (at < R->cap_prog) R->prog[at].y = R->nprog;
        }
        while (pending >= 0 && pending < R->cap_prog) {
            at = R->prog[pending].x;
            R->prog[pending].x = R->nprog;
            pending = at;
        }
        break;
    case FP8Q__RE_REPEAT:
        if (R->node[nd->first].size == 0) break;
        for (k = 0; k + (nd->max == FP8Q__RE_INF && nd->min > 0) < nd->min; k++) fp8q__re_emit(R, nd->first);
        if (nd->max == FP8Q__RE_INF) {
            loop = R->nprog;
            if (nd->min > 0) { /* L: x; SPLIT L, out */
                fp8q__re_emit(R, nd->first);
                (void)fp8q__re_put_inst(R, FP8Q__RE_OP_SPLIT, 0, loop, R->nprog + 1);
            } else { /* L: SPLIT body, out; body: x; JMP L; out: */
                at = fp8q__re_put_inst(R, FP8Q__RE_OP_SPLIT, 0, loop + 1, 0);
                fp8q__re_emit(R, nd->first);
                (void)fp8q__re_put_inst(R, FP8Q__RE_OP_JMP, 0, loop, 0);
                if (at < R->cap_prog) R->prog[at].y = R->nprog;
            }
        } else { /* optional copies: SPLIT body, out; body: x; ... out: (SPLITs chained through y) */
            for (k = nd->min; k < nd->max; k++) {
                pending = fp8q__re_put_inst(R, FP8Q__RE_OP_SPLIT, 0, R->nprog + 1, pending);
                fp8q__re_emit(R, nd->first);
            }
            while (pending >= 0 && pending < R->cap_prog) {
                at = R->prog[pending].y;
                R->prog[pending].y = R->nprog;
                pending = at;
            }
        }
        break;
    default: break;
    }
}

/* Parses and sizes the pattern (and, if emit, builds the program and the
   matcher's arrays). On failure everything is freed. */
static fp8q_result fp8q__re_compile(fp8q__re *R, const char *pattern, int emit)
{
    size_t len = 0, nodes_bytes, where = (size_t)-1, size, np;
    int root;
    fp8q_result r;
    R->arena = R->run = 0;
    R->prog = 0;
    R->p = (const unsigned char *)pattern;
    while (len <= FP8Q_MAX_REGEX && pattern[len]) len++;
    R->len = len; /* the message quotes only the start */
    if (len > FP8Q_MAX_REGEX)
        return fp8q__re_fail(R, FP8Q_ERR_LIMIT, FP8Q_MAX_REGEX,
                             "pattern longer than FP8Q_MAX_REGEX (" FP8Q__RE_STR(FP8Q_MAX_REGEX) ") bytes", 0, 0, "",
                             "");
    R->pos = 0;
    R->nopen = R->ngroups = 0;
    /* Nodes: at most 2 per pattern byte ('|' makes a CAT and maybe the ALT;
       '(' a CAT; a quantifier, character, class or anchor one) plus the top
       level's CAT and ALT. A class takes at least one byte. */
    R->cap_node = (int)(2 * len + 8);
    R->cap_cls = (int)(len + 1);
    nodes_bytes = (size_t)R->cap_node * sizeof(fp8q__re_node);
    R->arena = malloc(nodes_bytes + (size_t)R->cap_cls * 32u);
    if (!R->arena) return fp8q__re_fail(R, FP8Q_ERR_NOMEM, 0, "out of memory", 0, 0, "", "");
    R->node = (fp8q__re_node *)R->arena;
    R->cls = (unsigned char(*)[32])(void *)((unsigned char *)R->arena + nodes_bytes);
    R->nnode = R->ncls = 0;
    r = fp8q__re_alt(R, 0, &root);
    if (r == FP8Q_OK && R->pos < len) r = fp8q__re_syntax(R, R->pos, "unbalanced parenthesis");
    if (r == FP8Q_OK) {
        size = fp8q__re_size(R, root, &where);
        if (size > FP8Q_MAX_REGEX_PROGRAM) {
            r = fp8q__re_fail(R, FP8Q_ERR_LIMIT, where == (size_t)-1 ? 0 : where,
                              "more than FP8Q_MAX_REGEX_PROGRAM (" FP8Q__RE_STR(
                                  FP8Q_MAX_REGEX_PROGRAM) ") NFA instructions after expanding the repetition",
                              0, 0, "", "");
        } else if (emit) {
            /* program, then per instruction: a position mark (size_t) and three int lists */
            np = size + 1;
            R->run = malloc(np * (sizeof(size_t) + sizeof(fp8q__re_inst) + 3 * sizeof(int)));
            if (!R->run) {
                r = fp8q__re_fail(R, FP8Q_ERR_NOMEM, 0, "out of memory", 0, 0, "", "");
            } else {
                R->prog = (fp8q__re_inst *)(void *)((unsigned char *)R->run + np * sizeof(size_t));
                R->cap_prog = (int)np;
                R->nprog = 0;
                fp8q__re_emit(R, root);
                (void)fp8q__re_put_inst(R, FP8Q__RE_OP_MATCH, 0, 0, 0);
                if (R->nprog != (int)np) /* cannot happen */
                    r = fp8q__re_fail(R, FP8Q_ERR_LIMIT, 0, "internal: program size mismatch", 0, 0, "", "");
            }
        }
    }
    if (r != FP8Q_OK) {
        free(R->run);
        free(R->arena);
        R->run = R->arena = 0;
    }
    return r;
}

static void fp8q__re_free(fp8q__re *R)
{
    free(R->run);
    free(R->arena);
    R->run = R->arena = 0;
}

/* ---- the matcher */

typedef struct fp8q__re_vm {
    const fp8q__re *R;
    const unsigned char *t;
    size_t n;
    int how;
    size_t *mark; /* mark[pc] == gen: pc already in the list being built */
    int *stack;
} fp8q__re_vm;

static int fp8q__re_at(const fp8q__re_vm *V, int at, size_t i)
{
    int a, b;
    switch (at) {
    case FP8Q__RE_AT_BOS: return i == 0;
    case FP8Q__RE_AT_EOL: return i == V->n || (i + 1 == V->n && V->t[i] == '\n');
    case FP8Q__RE_AT_EOS: return i == V->n;
    default:
        if (V->n == 0) return 0; /* Python <= 3.13: neither \b nor \B matches an empty string */
        a = i > 0 && fp8q__re_isword(V->t[i - 1]);
        b = i < V->n && fp8q__re_isword(V->t[i]);
        return at == FP8Q__RE_AT_WORDB ? a != b : a == b;
    }
}

/* Adds pc and everything reachable from it without consuming input at text
   position i to list (the consuming instructions only). Returns 1 if a
   match is reachable. Iterative: each pc is pushed at most once per gen. */
static int fp8q__re_add(fp8q__re_vm *V, int *list, int *count, int pc0, size_t i, size_t gen)
{
    const fp8q__re_inst *prog = V->R->prog;
    int sp = 0, found = 0;
    if (V->mark[pc0] == gen) return 0;
    V->mark[pc0] = gen;
    V->stack[sp++] = pc0;
    while (sp > 0) {
        int pc = V->stack[--sp], nx[2], k, nn = 0;
        const fp8q__re_inst *in = &prog[pc];
        switch (in->op) {
        case FP8Q__RE_OP_JMP: nx[nn++] = in->x; break;
        case FP8Q__RE_OP_SPLIT:
            nx[nn++] = in->y;
            nx[nn++] = in->x;
            break;
        case FP8Q__RE_OP_ASSERT:
            if (fp8q__re_at(V, in->arg, i)) nx[nn++] = pc + 1;
            break;
        case FP8Q__RE_OP_MATCH:
            if (V->how != FP8Q_REGEX_FULLMATCH || i == V->n) found = 1;
            break;
        default: list[(*count)++] = pc; break;
        }
        for (k = 0; k < nn; k++)
            if (V->mark[nx[k]] != gen) {
                V->mark[nx[k]] = gen;
                V->stack[sp++] = nx[k];
            }
    }
    return found;
}

static int fp8q__re_run(const fp8q__re *R, const char *text, int how)
{
    fp8q__re_vm V;
    size_t np = (size_t)R->nprog, i, k, len, next;
    int *cl, *nl, *tmp, ncl = 0, nnl, found;
    V.R = R;
    V.t = (const unsigned char *)text;
    V.n = strlen(text);
    V.how = how;
    V.mark = (size_t *)R->run;
    cl = (int *)(void *)(R->prog + np);
    nl = cl + np;
    V.stack = nl + np;
    for (k = 0; k < np; k++) V.mark[k] = 0;
    /* the states live before the character at i were added with mark i + 1 */
    found = fp8q__re_add(&V, cl, &ncl, 0, 0, 1);
    for (i = 0;; i = next) {
        unsigned c;
        int j;
        if (found) return 1;
        if (i == V.n || (ncl == 0 && how != FP8Q_REGEX_SEARCH)) return 0;
        c = V.t[i];
        len = fp8q__re_utf8_len(V.t, i, V.n);
        next = i + len;
        nnl = 0;
        for (j = 0; j < ncl && !found; j++) {
            const fp8q__re_inst *in = &R->prog[cl[j]];
            int hit;
            if (in->op == FP8Q__RE_OP_CHAR)
                hit = in->arg == len && in->ch[0] == c && (len == 1 || memcmp(in->ch + 1, V.t + i + 1, len - 1) == 0);
            else
                hit = (int)FP8Q__RE_HAS(R->cls[in->x], len == 1 ? c : 0x80u);
            if (hit) found = fp8q__re_add(&V, nl, &nnl, cl[j] + 1, next, next + 1);
        }
        if (how == FP8Q_REGEX_SEARCH && !found) found = fp8q__re_add(&V, nl, &nnl, 0, next, next + 1);
        tmp = cl;
        cl = nl;
        nl = tmp;
        ncl = nnl;
    }
}

static void fp8q__re_clear_err(fp8q_error *err)
{
    if (err) {
        err->code = FP8Q_OK;
        err->offset = 0;
        err->message[0] = 0;
    }
}

FP8QDEF fp8q_result fp8q_regex(const char *pattern, const char *text, fp8q_regex_how how, int *matched, fp8q_error *err)
{
    fp8q__re R;
    fp8q_result r;
    if (matched) *matched = 0;
    fp8q__re_clear_err(err);
    R.err = err;
    if (!pattern || !text || !matched ||
        (how != FP8Q_REGEX_SEARCH && how != FP8Q_REGEX_MATCH && how != FP8Q_REGEX_FULLMATCH)) {
        if (err) {
            err->code = FP8Q_ERR_ARG;
            (void)fp8q__re_put(err->message, 0,
                               !pattern   ? "fp8q_regex: pattern is NULL"
                               : !text    ? "fp8q_regex: text is NULL"
                               : !matched ? "fp8q_regex: matched is NULL"
                                          : "fp8q_regex: unknown fp8q_regex_how");
        }
        return FP8Q_ERR_ARG;
    }
    r = fp8q__re_compile(&R, pattern, 1);
    if (r != FP8Q_OK) return r;
    *matched = fp8q__re_run(&R, text, (int)how);
    fp8q__re_free(&R);
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_regex_check(const char *pattern, fp8q_error *err)
{
    fp8q__re R;
    fp8q_result r;
    fp8q__re_clear_err(err);
    R.err = err;
    if (!pattern) {
        if (err) {
            err->code = FP8Q_ERR_ARG;
            (void)fp8q__re_put(err->message, 0, "fp8q_regex_check: pattern is NULL");
        }
        return FP8Q_ERR_ARG;
    }
    r = fp8q__re_compile(&R, pattern, 0);
    if (r == FP8Q_OK) fp8q__re_free(&R);
    return r;
}

/* ================================================================ model */

FP8QDEF void fp8q_safetensors_release(const fp8q_safetensors *st, const fp8q_tensor_info *t)
{
#if defined(FP8Q__ST_MMAP) && defined(FP8Q__MADV_DONTNEED)
    const fp8q__st_owned *o;
    const uint8_t *p;
    uintptr_t begin, end, page = 4096;
    if (!st || !t || !(o = (const fp8q__st_owned *)st->fp8q__owned) || !o->mapped) return;
    if (!(p = fp8q_safetensors_bytes(st, t))) return;
#ifdef _SC_PAGESIZE
    {
        long ps = sysconf(_SC_PAGESIZE);
        if (ps > 0) page = (uintptr_t)ps;
    }
#endif
    begin = ((uintptr_t)p + page - 1) / page * page; /* whole pages only: neighbours keep theirs */
    end = ((uintptr_t)p + (uintptr_t)t->size) / page * page;
    if (end > begin) (void)madvise((void *)begin, (size_t)(end - begin), FP8Q__MADV_DONTNEED);
#else
    (void)st;
    (void)t;
#endif
}

/* ---- names */

static const char *const fp8q__quant_names[] = {"auto", "none", "fp8-dynamic", "fp8-dynamic-tensor", "fp8-channel"};
#define FP8Q__QUANT_COUNT (int)(sizeof fp8q__quant_names / sizeof fp8q__quant_names[0])

FP8QDEF const char *fp8q_quant_name(fp8q_quant q)
{
    return (int)q >= 0 && (int)q < FP8Q__QUANT_COUNT ? fp8q__quant_names[q] : NULL;
}

FP8QDEF int fp8q_quant_from_name(const char *s, fp8q_quant *out)
{
    int i;
    for (i = 0; s && i < FP8Q__QUANT_COUNT; i++)
        if (strcmp(s, fp8q__quant_names[i]) == 0) {
            if (out) *out = (fp8q_quant)i;
            return 1;
        }
    return 0;
}

/* Module names as Hugging Face names the tensors, with their parent. */
static const char *const fp8q__module_names[FP8Q_MOD_COUNT] = {
    "q_proj",  "k_proj",  "v_proj",  "o_proj",    "gate_proj", "up_proj",  "down_proj",
    "lm_head", "k_cache", "v_cache", "matmul_qk", "softmax",   "matmul_av"};
static const char *const fp8q__module_parent[FP8Q_MOD_DOWN + 1] = {"self_attn", "self_attn", "self_attn", "self_attn",
                                                                   "mlp",       "mlp",       "mlp"};

FP8QDEF const char *fp8q_module_name(fp8q_module mod)
{
    return (int)mod >= 0 && (int)mod < FP8Q_MOD_COUNT ? fp8q__module_names[mod] : NULL;
}

/* vLLM's module paths and classes on Gaudi, per fp8q module (see the declaration). */
static const char *const fp8q__inc_paths[FP8Q_MOD_COUNT] = {"self_attn.qkv_proj",
                                                            "self_attn.qkv_proj",
                                                            "self_attn.qkv_proj",
                                                            "self_attn.o_proj",
                                                            "mlp.gate_up_proj",
                                                            "mlp.gate_up_proj",
                                                            "mlp.down_proj",
                                                            "lm_head",
                                                            "self_attn.attn.impl.k_cache",
                                                            "self_attn.attn.impl.v_cache",
                                                            "self_attn.attn.impl.matmul_qk",
                                                            "self_attn.attn.impl.softmax",
                                                            "self_attn.attn.impl.matmul_av"};
static const char *const fp8q__inc_classes[FP8Q_MOD_COUNT] = {"QKVParallelLinear",
                                                              "QKVParallelLinear",
                                                              "QKVParallelLinear",
                                                              "RowParallelLinear",
                                                              "MergedColumnParallelLinear",
                                                              "MergedColumnParallelLinear",
                                                              "RowParallelLinear",
                                                              "ParallelLMHead",
                                                              "VLLMKVCache",
                                                              "VLLMKVCache",
                                                              "Matmul",
                                                              "Softmax",
                                                              "Matmul"};

FP8QDEF size_t fp8q_inc_module_name(int layer, fp8q_module mod, char *buf, size_t cap)
{
    int n;
    if ((int)mod < 0 || (int)mod >= FP8Q_MOD_COUNT) {
        if (cap) buf[0] = 0;
        return 0;
    }
    n = mod == FP8Q_MOD_LM_HEAD ? snprintf(buf, cap, "lm_head")
                                : snprintf(buf, cap, "model.layers.%d.%s", layer, fp8q__inc_paths[mod]);
    return n < 0 ? 0 : (size_t)n;
}

FP8QDEF const char *fp8q_inc_module_class(fp8q_module mod)
{
    return (int)mod >= 0 && (int)mod < FP8Q_MOD_COUNT ? fp8q__inc_classes[mod] : NULL;
}

/* ---- messages */

#include <math.h> /* the model: expf, sqrtf, cos, sin, pow (link with -lm) */
#include <stdarg.h>

static fp8q_result fp8q__failf(fp8q_error *err, fp8q_result code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->code = code;
        err->offset = 0;
    }
    return code;
}

static void fp8q__warn(fp8q_model *m, const char *msg)
{
    size_t n = strlen(m->warnings), k = strlen(msg);
    m->n_warnings++;
    if (n + k + 2 > sizeof m->warnings) return; /* counted, not kept */
    if (n) m->warnings[n++] = '\n';
    FP8Q__MEMCPY(m->warnings + n, msg, k + 1);
}

/* ---- checkpoint quantization_config */

enum { FP8Q__QM_NONE = 0, FP8Q__QM_CT, FP8Q__QM_FP8, FP8Q__QM_FBGEMM };
#define FP8Q__MAX_QGROUPS 16

typedef struct fp8q__qgroup {
    size_t targets;    /* JSON array of names, class names and "re:" patterns */
    int w_per_channel; /* weights strategy "channel" (else "tensor") */
    fp8q_act act;      /* input_activations */
} fp8q__qgroup;

typedef struct fp8q__qcfg {
    int method;
    fp8q_json json; /* config.json, kept while loading */
    size_t ignore;  /* JSON array token of names not quantized, or 0 */
    int n_groups;
    fp8q__qgroup groups[FP8Q__MAX_QGROUPS];
    int kv_scheme; /* compressed-tensors kv_cache_scheme present */
    float act_ub;  /* fbgemm_fp8 activation_scale_ub (0: none) */
    char desc[88];
} fp8q__qcfg;

/* "quantization_config.PATH: WHAT, got VALUE" */
static fp8q_result fp8q__q_bad(fp8q_error *err, fp8q_result code, const fp8q__qcfg *qc, size_t t, const char *path,
                               const char *what)
{
    fp8q__st_msg m;
    fp8q__cfg_msg_init(&m);
    fp8q__st_put(&m, "config.json: quantization_config.");
    fp8q__st_put(&m, path);
    if (what[0] != '.') fp8q__st_put(&m, " ");
    fp8q__st_put(&m, what);
    if (t) {
        fp8q__st_put(&m, ", got ");
        fp8q__cfg_got(&m, &qc->json, t);
    }
    return fp8q__st_fail(err, code, t ? qc->json.tok[t].start : 0, &m);
}

/* Member key of obj as a boolean (absent or null: def). -1 on a wrong type. */
static int fp8q__q_bool(const fp8q_json *j, size_t obj, const char *key, int def)
{
    size_t t = fp8q__cfg_get(j, obj, key);
    if (!t) return def;
    return j->tok[t].type == FP8Q_JSON_TRUE ? 1 : j->tok[t].type == FP8Q_JSON_FALSE ? 0 : -1;
}

/* Checks the common part of a compressed-tensors QuantizationArgs: 8-bit,
   float, symmetric. what is "weights", "input_activations", ... */
static fp8q_result fp8q__q_args_fp8(const fp8q__qcfg *qc, size_t args, const char *path, fp8q_error *err)
{
    const fp8q_json *j = &qc->json;
    size_t t;
    int64_t bits = 0;
    char p[96];
    if (j->tok[args].type != FP8Q_JSON_OBJECT)
        return fp8q__q_bad(err, FP8Q_ERR_PARSE, qc, args, path, "must be an object");
    t = fp8q__cfg_get(j, args, "num_bits");
    (void)snprintf(p, sizeof p, "%s.num_bits", path);
    if (t && (j->tok[t].type != FP8Q_JSON_NUMBER || fp8q_json_int64(j, t, &bits) != FP8Q_OK))
        return fp8q__q_bad(err, FP8Q_ERR_PARSE, qc, t, p, "must be an integer");
    if (t && bits != 8)
        return fp8q__q_bad(err, FP8Q_ERR_UNSUPPORTED, qc, t, p, "is not supported (fp8q reads 8-bit FP8)");
    t = fp8q__cfg_get(j, args, "type");
    (void)snprintf(p, sizeof p, "%s.type", path);
    if (!t || !fp8q_json_string_eq(j, t, "float"))
        return fp8q__q_bad(err, FP8Q_ERR_UNSUPPORTED, qc, t, p,
                           "must be \"float\" (FP8; integer schemes are not supported)");
    (void)snprintf(p, sizeof p, "%s.symmetric", path);
    if (fp8q__q_bool(j, args, "symmetric", 1) != 1)
        return fp8q__q_bad(err, FP8Q_ERR_UNSUPPORTED, qc, fp8q__cfg_get(j, args, "symmetric"), p,
                           "must be true (asymmetric FP8 is not supported)");
    return FP8Q_OK;
}

/* strategy string of args: 1 when it equals s. */
static int fp8q__q_strategy(const fp8q_json *j, size_t args, const char *s)
{
    size_t t = fp8q__cfg_get(j, args, "strategy");
    return t && fp8q_json_string_eq(j, t, s);
}

static fp8q_result fp8q__q_ct_group(fp8q__qcfg *qc, size_t key, size_t grp, fp8q_error *err)
{
    const fp8q_json *j = &qc->json;
    fp8q__qgroup *g;
    char name[48], p[128];
    size_t w, a, o, t;
    fp8q_result r;
    (void)fp8q_json_string(j, key, name, sizeof name);
    if (qc->n_groups == FP8Q__MAX_QGROUPS)
        return fp8q__q_bad(err, FP8Q_ERR_LIMIT, qc, 0, "config_groups", "has more than 16 groups");
    g = &qc->groups[qc->n_groups++];
    (void)snprintf(p, sizeof p, "config_groups.%s", name);
    if (j->tok[grp].type != FP8Q_JSON_OBJECT) return fp8q__q_bad(err, FP8Q_ERR_PARSE, qc, grp, p, "must be an object");
    (void)snprintf(p, sizeof p, "config_groups.%s.format", name);
    t = fp8q__cfg_get(j, grp, "format");
    if (t && !fp8q_json_string_eq(j, t, "float-quantized") && !fp8q_json_string_eq(j, t, "naive-quantized"))
        return fp8q__q_bad(err, FP8Q_ERR_UNSUPPORTED, qc, t, p,
                           "is not supported (fp8q reads \"float-quantized\" and \"naive-quantized\")");
    (void)snprintf(p, sizeof p, "config_groups.%s.targets", name);
    g->targets = fp8q__cfg_get(j, grp, "targets");
    if (!g->targets || j->tok[g->targets].type != FP8Q_JSON_ARRAY)
        return fp8q__q_bad(err, FP8Q_ERR_PARSE, qc, g->targets, p, "must be an array of strings");
    for (t = g->targets + 1; t < j->tok[g->targets].next; t = j->tok[t].next)
        if (j->tok[t].type != FP8Q_JSON_STRING) return fp8q__q_bad(err, FP8Q_ERR_PARSE, qc, t, p, "must hold strings");
    /* weights */
    (void)snprintf(p, sizeof p, "config_groups.%s.weights", name);
    w = fp8q__cfg_get(j, grp, "weights");
    if (!w)
        return fp8q__q_bad(err, FP8Q_ERR_UNSUPPORTED, qc, 0, p,
                           "is missing (activation-only schemes are not supported)");
    if ((r = fp8q__q_args_fp8(qc, w, p, err)) != FP8Q_OK) return r;
    if (fp8q__q_bool(j, w, "dynamic", 0) != 0)
        return fp8q__q_bad(err, FP8Q_ERR_UNSUPPORTED, qc, fp8q__cfg_get(j, w, "dynamic"), p,
                           ".dynamic must be false (weights are stored quantized)");
    if (fp8q__q_strategy(j, w, "channel"))
        g->w_per_channel = 1;
    else if (!fp8q__q_strategy(j, w, "tensor"))
        return fp8q__q_bad(err, FP8Q_ERR_UNSUPPORTED, qc, fp8q__cfg_get(j, w, "strategy"), p,
                           ".strategy must be \"tensor\" or \"channel\"");
    /* input activations: absent = weight-only (W8A16) */
    (void)snprintf(p, sizeof p, "config_groups.%s.input_activations", name);
    a = fp8q__cfg_get(j, grp, "input_activations");
    g->act = FP8Q_ACT_NONE;
    if (a) {
        int dyn;
        if ((r = fp8q__q_args_fp8(qc, a, p, err)) != FP8Q_OK) return r;
        dyn = fp8q__q_bool(j, a, "dynamic", 0);
        if (dyn < 0)
            return fp8q__q_bad(err, FP8Q_ERR_PARSE, qc, fp8q__cfg_get(j, a, "dynamic"), p,
                               ".dynamic must be a boolean");
        if (dyn && fp8q__q_strategy(j, a, "token"))
            g->act = FP8Q_ACT_DYNAMIC_TOKEN;
        else if (dyn && fp8q__q_strategy(j, a, "tensor"))
            g->act = FP8Q_ACT_DYNAMIC_TENSOR;
        else if (!dyn && fp8q__q_strategy(j, a, "tensor"))
            g->act = FP8Q_ACT_STATIC;
        else
            return fp8q__q_bad(err, FP8Q_ERR_UNSUPPORTED, qc, fp8q__cfg_get(j, a, "strategy"), p,
                               ".strategy must be \"token\" (dynamic) or \"tensor\"");
    }
    o = fp8q__cfg_get(j, grp, "output_activations");
    (void)snprintf(p, sizeof p, "config_groups.%s.output_activations", name);
    if (o)
        return fp8q__q_bad(err, FP8Q_ERR_UNSUPPORTED, qc, o, p, "must be null (output quantization is not supported)");
    return FP8Q_OK;
}

static fp8q_result fp8q__q_ct(fp8q__qcfg *qc, size_t q, fp8q_error *err)
{
    const fp8q_json *j = &qc->json;
    size_t t, groups, kv;
    fp8q_result r;
    t = fp8q__cfg_get(j, q, "format");
    if (t && !fp8q_json_string_eq(j, t, "float-quantized") && !fp8q_json_string_eq(j, t, "naive-quantized"))
        return fp8q__q_bad(err, FP8Q_ERR_UNSUPPORTED, qc, t, "format",
                           "is not supported (fp8q reads \"float-quantized\" and \"naive-quantized\")");
    t = fp8q__cfg_get(j, q, "quantization_status");
    if (t && !fp8q_json_string_eq(j, t, "compressed") && !fp8q_json_string_eq(j, t, "frozen"))
        return fp8q__q_bad(err, FP8Q_ERR_UNSUPPORTED, qc, t, "quantization_status",
                           "must be \"compressed\" or \"frozen\"");
    groups = fp8q__cfg_get(j, q, "config_groups");
    if (!groups || j->tok[groups].type != FP8Q_JSON_OBJECT || j->tok[groups].size == 0)
        return fp8q__q_bad(err, FP8Q_ERR_PARSE, qc, groups, "config_groups", "must be a non-empty object");
    for (t = groups + 1; t < j->tok[groups].next; t = j->tok[t + 1].next)
        if ((r = fp8q__q_ct_group(qc, t, t + 1, err)) != FP8Q_OK) return r;
    qc->ignore = fp8q__cfg_get(j, q, "ignore");
    if (qc->ignore && j->tok[qc->ignore].type != FP8Q_JSON_ARRAY)
        return fp8q__q_bad(err, FP8Q_ERR_PARSE, qc, qc->ignore, "ignore", "must be an array of strings");
    kv = fp8q__cfg_get(j, q, "kv_cache_scheme");
    if (kv) {
        if ((r = fp8q__q_args_fp8(qc, kv, "kv_cache_scheme", err)) != FP8Q_OK) return r;
        if (!fp8q__q_strategy(j, kv, "tensor"))
            return fp8q__q_bad(err, FP8Q_ERR_UNSUPPORTED, qc, fp8q__cfg_get(j, kv, "strategy"),
                               "kv_cache_scheme.strategy", "must be \"tensor\" (per-head KV scales are not supported)");
        qc->kv_scheme = 1;
    }
    {
        const fp8q__qgroup *g = &qc->groups[0];
        (void)snprintf(qc->desc, sizeof qc->desc, "compressed-tensors %s (%s weights, %s activations)",
                       g->act == FP8Q_ACT_STATIC ? "FP8"
                       : g->act == FP8Q_ACT_NONE ? "W8A16"
                                                 : "FP8_DYNAMIC",
                       g->w_per_channel ? "channel" : "tensor",
                       g->act == FP8Q_ACT_STATIC          ? "static"
                       : g->act == FP8Q_ACT_DYNAMIC_TOKEN ? "token"
                       : g->act == FP8Q_ACT_NONE          ? "no"
                                                          : "dynamic tensor");
    }
    return FP8Q_OK;
}

/* quant_method "fp8" (AutoFP8 / vLLM serialized) and "fbgemm_fp8": one
   implicit group targeting every Linear except the listed ones. */
static fp8q_result fp8q__q_fp8(fp8q__qcfg *qc, size_t q, fp8q_error *err)
{
    const fp8q_json *j = &qc->json;
    fp8q__qgroup *g = &qc->groups[0];
    size_t t;
    qc->n_groups = 1;
    g->targets = 0; /* all */
    if (qc->method == FP8Q__QM_FP8) {
        t = fp8q__cfg_get(j, q, "weight_block_size");
        if (t)
            return fp8q__q_bad(err, FP8Q_ERR_UNSUPPORTED, qc, t, "weight_block_size", "is not supported (block FP8)");
        t = fp8q__cfg_get(j, q, "activation_scheme");
        if (!t || fp8q_json_string_eq(j, t, "dynamic"))
            g->act = FP8Q_ACT_DYNAMIC_TOKEN;
        else if (fp8q_json_string_eq(j, t, "static"))
            g->act = FP8Q_ACT_STATIC;
        else
            return fp8q__q_bad(err, FP8Q_ERR_UNSUPPORTED, qc, t, "activation_scheme",
                               "must be \"dynamic\" or \"static\"");
        qc->ignore = fp8q__cfg_get(j, q, "ignored_layers");
        if (qc->ignore && j->tok[qc->ignore].type != FP8Q_JSON_ARRAY)
            return fp8q__q_bad(err, FP8Q_ERR_PARSE, qc, qc->ignore, "ignored_layers", "must be an array of strings");
        (void)snprintf(qc->desc, sizeof qc->desc, "fp8 (tensor weights, %s activations)",
                       g->act == FP8Q_ACT_STATIC ? "static" : "dynamic token");
    } else {
        double ub = 0;
        g->w_per_channel = 1;
        g->act = FP8Q_ACT_DYNAMIC_TOKEN;
        t = fp8q__cfg_get(j, q, "activation_scale_ub");
        if (t &&
            (j->tok[t].type != FP8Q_JSON_NUMBER || fp8q_json_number(j, t, &ub) != FP8Q_OK || !(ub > 0) || ub > 3.4e38))
            return fp8q__q_bad(err, FP8Q_ERR_PARSE, qc, t, "activation_scale_ub", "must be a positive number");
        qc->act_ub = (float)ub;
        qc->ignore = fp8q__cfg_get(j, q, "modules_to_not_convert");
        if (qc->ignore && j->tok[qc->ignore].type != FP8Q_JSON_ARRAY)
            return fp8q__q_bad(err, FP8Q_ERR_PARSE, qc, qc->ignore, "modules_to_not_convert",
                               "must be an array of strings");
        (void)snprintf(qc->desc, sizeof qc->desc, "fbgemm_fp8 (channel weights, token activations, ub %g)", ub);
    }
    if (qc->ignore)
        for (t = qc->ignore + 1; t < j->tok[qc->ignore].next; t = j->tok[t].next)
            if (j->tok[t].type != FP8Q_JSON_STRING)
                return fp8q__q_bad(err, FP8Q_ERR_PARSE, qc, t, "ignore list", "must hold strings");
    return FP8Q_OK;
}

/* Parses config.json's quantization_config (text is kept by the caller). */
static fp8q_result fp8q__qcfg_parse(fp8q__qcfg *qc, const char *text, size_t len, fp8q_error *err)
{
    size_t q, t;
    fp8q_result r;
    memset(qc, 0, sizeof *qc);
    if ((r = fp8q_json_parse(&qc->json, text, len, 0, err)) != FP8Q_OK) return r;
    q = fp8q__cfg_get(&qc->json, 0, "quantization_config");
    if (!q) return FP8Q_OK;
    if (qc->json.tok[q].type != FP8Q_JSON_OBJECT)
        return fp8q__q_bad(err, FP8Q_ERR_PARSE, qc, q, "", "must be an object");
    t = fp8q__cfg_get(&qc->json, q, "quant_method");
    if (t && fp8q_json_string_eq(&qc->json, t, "compressed-tensors")) {
        qc->method = FP8Q__QM_CT;
        return fp8q__q_ct(qc, q, err);
    }
    if (t && (fp8q_json_string_eq(&qc->json, t, "fp8") || fp8q_json_string_eq(&qc->json, t, "fbgemm_fp8"))) {
        qc->method = fp8q_json_string_eq(&qc->json, t, "fp8") ? FP8Q__QM_FP8 : FP8Q__QM_FBGEMM;
        return fp8q__q_fp8(qc, q, err);
    }
    return fp8q__q_bad(err, FP8Q_ERR_UNSUPPORTED, qc, t, "quant_method",
                       "is not supported (fp8q reads \"compressed-tensors\", \"fp8\" and \"fbgemm_fp8\")");
}

/* Does entry t of a targets/ignore list name module `name` (class Linear)?
   Exact name, the class name "Linear", or "re:" + a Python re.match
   pattern. compressed-tensors also accepts a module whose name ends with
   "." + a plain entry for lm_head style entries; vLLM's fp8 ignored_layers
   are exact prefixes. */
static fp8q_result fp8q__q_entry_matches(const fp8q_json *j, size_t t, const char *name, int *hit, fp8q_error *err)
{
    char pat[512];
    size_t n = fp8q_json_string(j, t, pat, sizeof pat);
    *hit = 0;
    if (n >= sizeof pat)
        return fp8q__failf(err, FP8Q_ERR_LIMIT, "config.json: quantization_config: a target longer than 511 bytes");
    if (strcmp(pat, name) == 0 || strcmp(pat, "Linear") == 0) {
        *hit = 1;
        return FP8Q_OK;
    }
    if (strncmp(pat, "re:", 3) == 0) {
        fp8q_result r = fp8q_regex(pat + 3, name, FP8Q_REGEX_MATCH, hit, err);
        if (r != FP8Q_OK) fp8q__st_prefix(err, "config.json: quantization_config: ");
        return r;
    }
    return FP8Q_OK;
}

static fp8q_result fp8q__q_list_matches(const fp8q_json *j, size_t list, const char *name, int *hit, fp8q_error *err)
{
    size_t t;
    fp8q_result r;
    *hit = 0;
    if (!list) return FP8Q_OK;
    for (t = list + 1; t < j->tok[list].next && !*hit; t = j->tok[t].next)
        if ((r = fp8q__q_entry_matches(j, t, name, hit, err)) != FP8Q_OK) return r;
    return FP8Q_OK;
}

/* The group that quantizes module `name`, or NULL (ignored or not targeted). */
static fp8q_result fp8q__q_group_for(const fp8q__qcfg *qc, const char *name, const fp8q__qgroup **out, fp8q_error *err)
{
    int hit, i;
    fp8q_result r;
    *out = NULL;
    if (qc->method == FP8Q__QM_NONE) return FP8Q_OK;
    if ((r = fp8q__q_list_matches(&qc->json, qc->ignore, name, &hit, err)) != FP8Q_OK || hit) return r;
    for (i = 0; i < qc->n_groups; i++) {
        if (!qc->groups[i].targets) {
            *out = &qc->groups[i];
            return FP8Q_OK;
        }
        if ((r = fp8q__q_list_matches(&qc->json, qc->groups[i].targets, name, &hit, err)) != FP8Q_OK) return r;
        if (hit) {
            *out = &qc->groups[i];
            return FP8Q_OK;
        }
    }
    return FP8Q_OK;
}

/* ---- loader */

typedef struct fp8q__loader {
    fp8q_model *m;
    fp8q_checkpoint ck;
    fp8q__qcfg qc;
    int quantize_online;  /* fp8-dynamic, fp8-dynamic-tensor, fp8-channel on a float checkpoint */
    int keep_dtype;       /* keep embeddings / float lm_head in the checkpoint type */
    unsigned char **used; /* [file][tensor] */
    size_t n_used;
    float *tmp; /* one tensor as float32 */
    size_t tmp_cap;
    fp8q_error *err;
} fp8q__loader;

static const fp8q_tensor_info *fp8q__ld_find(fp8q__loader *L, const char *name, const fp8q_safetensors **file)
{
    const fp8q_safetensors *f = NULL;
    const fp8q_tensor_info *t = fp8q_checkpoint_find(&L->ck, name, &f);
    size_t i;
    if (t) {
        for (i = 0; i < L->ck.n_files; i++)
            if (&L->ck.files[i] == f) {
                size_t k = (size_t)(t - f->tensors);
                if (!L->used[i][k]) L->used[i][k] = 1, L->n_used++;
            }
    }
    if (file) *file = f;
    return t;
}

static void fp8q__shape_str(char *b, size_t cap, const fp8q_tensor_info *t)
{
    size_t n = 0;
    int d;
    n += (size_t)snprintf(b, cap, "[");
    for (d = 0; d < t->ndim && n < cap; d++)
        n += (size_t)snprintf(b + n, cap - n, d ? ", %llu" : "%llu", (unsigned long long)t->shape[d]);
    if (n < cap) (void)snprintf(b + n, cap - n, "]");
}

/* The tensor must be there with shape [rows, cols] (cols 0: [rows]). */
static fp8q_result fp8q__ld_need(fp8q__loader *L, const char *name, int rows, int cols, const fp8q_tensor_info **t,
                                 const fp8q_safetensors **f)
{
    char got[96];
    *t = fp8q__ld_find(L, name, f);
    if (!*t) return fp8q__failf(L->err, FP8Q_ERR_PARSE, "missing tensor '%s'", name);
    if ((*t)->ndim == (cols ? 2 : 1) && (*t)->shape[0] == (uint64_t)rows && (!cols || (*t)->shape[1] == (uint64_t)cols))
        return FP8Q_OK;
    fp8q__shape_str(got, sizeof got, *t);
    if (cols)
        return fp8q__failf(L->err, FP8Q_ERR_PARSE, "tensor '%s' has shape %s, expected [%d, %d] from config.json", name,
                           got, rows, cols);
    return fp8q__failf(L->err, FP8Q_ERR_PARSE, "tensor '%s' has shape %s, expected [%d] from config.json", name, got,
                       rows);
}

static int fp8q__is_float_weight(fp8q_dtype d) { return d == FP8Q_F32 || d == FP8Q_BF16 || d == FP8Q_F16; }

static fp8q_result fp8q__ld_dtype_bad(fp8q__loader *L, const char *name, const fp8q_tensor_info *t, const char *want)
{
    return fp8q__failf(L->err, FP8Q_ERR_PARSE, "tensor '%s' has dtype %s, expected %s", name,
                       fp8q_dtype_get(t->dtype)->name, want);
}

/* Tensor t as float32 into L->tmp (grown as needed). */
static fp8q_result fp8q__ld_f32(fp8q__loader *L, const fp8q_safetensors *f, const fp8q_tensor_info *t)
{
    fp8q_result r;
    if (t->numel > L->tmp_cap) {
        float *p;
        if (t->numel > (uint64_t)((size_t)-1 / sizeof(float)))
            return fp8q__failf(L->err, FP8Q_ERR_LIMIT, "tensor '%s' is too large", t->name);
        p = (float *)realloc(L->tmp, (size_t)t->numel * sizeof(float));
        if (!p) return fp8q__failf(L->err, FP8Q_ERR_NOMEM, "out of memory reading tensor '%s'", t->name);
        L->tmp = p, L->tmp_cap = (size_t)t->numel;
    }
    r = fp8q_safetensors_read_f32(f, t, L->tmp, L->err);
    fp8q_safetensors_release(f, t);
    return r;
}

static void *fp8q__ld_alloc(fp8q__loader *L, size_t n, size_t size, const char *what)
{
    void *p = n && n <= (size_t)-1 / size ? malloc(n * size) : NULL;
    if (!p)
        (void)fp8q__failf(L->err, FP8Q_ERR_NOMEM, "out of memory for %s", what);
    else
        L->m->weight_bytes += n * size;
    return p;
}

/* A float vector [n] (norm weights, biases). */
static fp8q_result fp8q__ld_vector(fp8q__loader *L, const char *name, int n, float **out)
{
    const fp8q_tensor_info *t;
    const fp8q_safetensors *f;
    fp8q_result r;
    if ((r = fp8q__ld_need(L, name, n, 0, &t, &f)) != FP8Q_OK) return r;
    if (!fp8q__is_float_weight(t->dtype)) return fp8q__ld_dtype_bad(L, name, t, "F32, BF16 or F16");
    if (!(*out = (float *)fp8q__ld_alloc(L, (size_t)n, sizeof(float), name))) return FP8Q_ERR_NOMEM;
    r = fp8q_safetensors_read_f32(f, t, *out, L->err);
    return r;
}

/* A float matrix [rows][cols]: kept in its 16-bit type when keep is set,
   else converted to F32. */
static fp8q_result fp8q__ld_matrix(fp8q__loader *L, const fp8q_safetensors *f, const fp8q_tensor_info *t, int keep,
                                   fp8q_matrix *mat)
{
    size_t n = (size_t)t->numel, i;
    mat->rows = (int)t->shape[0], mat->cols = (int)t->shape[1];
    if (keep && (t->dtype == FP8Q_BF16 || t->dtype == FP8Q_F16)) {
        const uint8_t *src = fp8q_safetensors_bytes(f, t);
        uint16_t *dst = (uint16_t *)fp8q__ld_alloc(L, n, 2, t->name);
        if (!src || !dst)
            return src ? FP8Q_ERR_NOMEM
                       : fp8q__failf(L->err, FP8Q_ERR_PARSE, "tensor '%s' is outside its file", t->name);
        for (i = 0; i < n; i++) dst[i] = (uint16_t)(src[2 * i] | (unsigned)src[2 * i + 1] << 8); /* little-endian */
        fp8q_safetensors_release(f, t);
        mat->dtype = t->dtype, mat->data = dst;
        return FP8Q_OK;
    }
    mat->dtype = FP8Q_F32;
    if (!(mat->data = fp8q__ld_alloc(L, n, sizeof(float), t->name))) return FP8Q_ERR_NOMEM;
    {
        fp8q_result r = fp8q_safetensors_read_f32(f, t, (float *)mat->data, L->err);
        fp8q_safetensors_release(f, t);
        return r;
    }
}

/* A checkpoint scale tensor: [] / [1] / [1, 1] (count 1) or [n] / [n, 1]
   (count n), float, every value finite and > 0. */
static fp8q_result fp8q__ld_scales(fp8q__loader *L, const char *name, size_t count, float *out)
{
    const fp8q_safetensors *f;
    const fp8q_tensor_info *t = fp8q__ld_find(L, name, &f);
    char got[96];
    size_t i;
    fp8q_result r;
    int shape_ok;
    if (!t) return fp8q__failf(L->err, FP8Q_ERR_PARSE, "missing tensor '%s'", name);
    shape_ok = t->numel == count && (t->ndim == 0 || (t->ndim == 1) || (t->ndim == 2 && t->shape[1] == 1));
    if (!shape_ok) {
        fp8q__shape_str(got, sizeof got, t);
        return fp8q__failf(L->err, FP8Q_ERR_PARSE, "tensor '%s' has shape %s, expected %s", name, got,
                           count == 1 ? "[], [1] or [1, 1] (one scale)" : "[out, 1] or [out] (one scale per channel)");
    }
    if (!fp8q__is_float_weight(t->dtype)) return fp8q__ld_dtype_bad(L, name, t, "F32, BF16 or F16");
    if ((r = fp8q_safetensors_read_f32(f, t, out, L->err)) != FP8Q_OK) return r;
    for (i = 0; i < count; i++)
        if (!(out[i] > 0.0f && out[i] <= 3.40282347e38f))
            return fp8q__failf(L->err, FP8Q_ERR_PARSE, "tensor '%s' element %zu is %g; scales must be finite and > 0",
                               name, i, (double)out[i]);
    return FP8Q_OK;
}

static const fp8q_recipe *fp8q__act_recipe(const fp8q__loader *L, fp8q_act act)
{
    const int ct = L->m->opt.engine == FP8Q_ENGINE_COMPRESSED_TENSORS;
    if (act == FP8Q_ACT_DYNAMIC_TOKEN) {
        if (L->qc.method == FP8Q__QM_FBGEMM) return fp8q_recipe_get("fbgemm-per-row");
        return fp8q_recipe_get(ct ? "ct-token-f32" : "vllm-per-token");
    }
    if (act == FP8Q_ACT_DYNAMIC_TENSOR || act == FP8Q_ACT_STATIC)
        return fp8q_recipe_get(ct ? "ct-tensor-f32" : "vllm-per-tensor");
    return NULL;
}

/* An FP8 linear from the checkpoint: weight codes, weight_scale, input_scale. */
static fp8q_result fp8q__ld_linear_fp8(fp8q__loader *L, const char *prefix, const fp8q_safetensors *f,
                                       const fp8q_tensor_info *t, const fp8q__qgroup *g, fp8q_linear *lin)
{
    char name[160];
    const uint8_t *src = fp8q_safetensors_bytes(f, t);
    fp8q_result r;
    const size_t n = (size_t)lin->out * (size_t)lin->in, ns = g->w_per_channel ? (size_t)lin->out : 1;
    if (!src) return fp8q__failf(L->err, FP8Q_ERR_PARSE, "tensor '%s' is outside its file", t->name);
    if (!(lin->q = (uint8_t *)fp8q__ld_alloc(L, n, 1, t->name))) return FP8Q_ERR_NOMEM;
    FP8Q__MEMCPY(lin->q, src, n);
    fp8q_safetensors_release(f, t);
    lin->w_per_channel = g->w_per_channel;
    if (!(lin->w_scale = (float *)fp8q__ld_alloc(L, ns, sizeof(float), "weight scales"))) return FP8Q_ERR_NOMEM;
    (void)snprintf(name, sizeof name, "%s.weight_scale", prefix);
    if ((r = fp8q__ld_scales(L, name, ns, lin->w_scale)) != FP8Q_OK) return r;
    lin->act = g->act;
    (void)snprintf(name, sizeof name, "%s.input_scale", prefix);
    if (g->act == FP8Q_ACT_STATIC) {
        if ((r = fp8q__ld_scales(L, name, 1, &lin->input_scale)) != FP8Q_OK) return r;
    } else if (fp8q__ld_find(L, name, NULL)) {
        return fp8q__failf(L->err, FP8Q_ERR_PARSE,
                           "tensor '%s' is present but quantization_config says the activations of '%s' are %s", name,
                           prefix, g->act == FP8Q_ACT_NONE ? "not quantized" : "dynamic");
    }
    lin->act_recipe = fp8q__act_recipe(L, lin->act);
    if (L->m->opt.quant == FP8Q_QUANT_NONE) { /* dequantize: the weight-only float reference */
        float *w = (float *)fp8q__ld_alloc(L, n, sizeof(float), t->name);
        size_t i;
        if (!w) return FP8Q_ERR_NOMEM;
        for (i = 0; i < n; i++)
            w[i] = fp8q_to_f32(lin->q[i], FP8Q_E4M3) * lin->w_scale[g->w_per_channel ? i / (size_t)lin->in : 0];
        free(lin->q), free(lin->w_scale);
        L->m->weight_bytes -= n + ns * sizeof(float);
        lin->q = NULL, lin->w_scale = NULL, lin->act = FP8Q_ACT_NONE, lin->act_recipe = NULL;
        lin->w.dtype = FP8Q_F32, lin->w.rows = lin->out, lin->w.cols = lin->in, lin->w.data = w;
    }
    return FP8Q_OK;
}

/* Quantizes L->tmp (the float weight [out][in]) into lin with recipe r and,
   for per-tensor recipes, the given scale (NULL: computed). */
static fp8q_result fp8q__ld_quantize(fp8q__loader *L, fp8q_linear *lin, const fp8q_recipe *r, const float *scale,
                                     const char *name)
{
    const size_t n = (size_t)lin->out * (size_t)lin->in, ns = fp8q_scale_count(r, (size_t)lin->out, (size_t)lin->in);
    if (!(lin->q = (uint8_t *)fp8q__ld_alloc(L, n, 1, name))) return FP8Q_ERR_NOMEM;
    if (!(lin->w_scale = (float *)fp8q__ld_alloc(L, ns, sizeof(float), "weight scales"))) return FP8Q_ERR_NOMEM;
    if (scale)
        lin->w_scale[0] = *scale;
    else
        (void)fp8q_compute_scales(lin->w_scale, L->tmp, (size_t)lin->out, (size_t)lin->in, r);
    lin->w_per_channel = ns > 1;
    (void)fp8q_quantize(lin->q, L->tmp, (size_t)lin->out, (size_t)lin->in, lin->w_scale, r);
    lin->act = L->m->opt.quant == FP8Q_QUANT_FP8_DYNAMIC_TENSOR ? FP8Q_ACT_DYNAMIC_TENSOR : FP8Q_ACT_DYNAMIC_TOKEN;
    lin->act_recipe = fp8q__act_recipe(L, lin->act);
    return FP8Q_OK;
}

static float fp8q__amax(const float *x, size_t n)
{
    float a = 0.0f;
    size_t i;
    for (i = 0; i < n; i++) a = fp8q__fmaxf(a, fp8q__f32_from_bits(fp8q__f32_bits(x[i]) & 0x7FFFFFFFu));
    return a;
}

/* The module `prefix` ("model.layers.3.self_attn.q_proj", "lm_head") with
   weight [out][in]; shared_scale (fp8-dynamic's fused per-tensor scale) or
   NULL. is_head: lm_head (never quantized online). */
static fp8q_result fp8q__ld_linear(fp8q__loader *L, const char *prefix, int out, int in, const float *shared_scale,
                                   int is_head, fp8q_linear *lin)
{
    char name[160];
    const fp8q_tensor_info *t;
    const fp8q_safetensors *f;
    const fp8q__qgroup *g = NULL;
    fp8q_result r;
    lin->out = out, lin->in = in;
    (void)snprintf(name, sizeof name, "%s.weight", prefix);
    if ((r = fp8q__ld_need(L, name, out, in, &t, &f)) != FP8Q_OK) return r;
    if (!(is_head && L->qc.method != FP8Q__QM_CT) && (r = fp8q__q_group_for(&L->qc, prefix, &g, L->err)) != FP8Q_OK)
        return r;
    if (t->dtype == FP8Q_F8_E4M3) {
        if (!g)
            return fp8q__failf(
                L->err, FP8Q_ERR_PARSE, "tensor '%s' is F8_E4M3 but quantization_config does not quantize '%s'%s", name,
                prefix, L->qc.method ? " (ignored or not targeted)" : " (config.json has no quantization_config)");
        r = fp8q__ld_linear_fp8(L, prefix, f, t, g, lin);
    } else if (!fp8q__is_float_weight(t->dtype)) {
        return fp8q__ld_dtype_bad(L, name, t, g ? "F8_E4M3" : "F32, BF16 or F16");
    } else if (g) {
        return fp8q__failf(L->err, FP8Q_ERR_PARSE,
                           "quantization_config quantizes '%s' but tensor '%s' is %s, not F8_E4M3", prefix, name,
                           fp8q_dtype_get(t->dtype)->name);
    } else if (L->quantize_online && !is_head) {
        const fp8q_recipe *rec;
        if ((r = fp8q__ld_f32(L, f, t)) != FP8Q_OK) return r;
        if (L->m->opt.quant == FP8Q_QUANT_FP8_CHANNEL)
            rec = fp8q_recipe_get(t->dtype == FP8Q_BF16 ? "ct-channel-bf16" : "ct-channel-f32");
        else
            rec = fp8q_recipe_get("vllm-per-tensor");
        r = fp8q__ld_quantize(L, lin, rec, L->m->opt.quant == FP8Q_QUANT_FP8_CHANNEL ? NULL : shared_scale, name);
    } else {
        r = fp8q__ld_matrix(L, f, t, is_head && L->keep_dtype, &lin->w);
    }
    if (r != FP8Q_OK) return r;
    (void)snprintf(name, sizeof name, "%s.bias", prefix);
    if (fp8q_checkpoint_find(&L->ck, name, NULL)) r = fp8q__ld_vector(L, name, out, &lin->bias);
    return r;
}

/* fp8-dynamic: the per-tensor scale of a fused parameter (q/k/v or gate/up),
   amax over all its shards, as vLLM quantizes the merged weight. */
static fp8q_result fp8q__ld_fused_scale(fp8q__loader *L, int layer, int first, int count, float *scale)
{
    float amax = 0.0f;
    int i;
    fp8q_result r;
    for (i = first; i < first + count; i++) {
        char name[160];
        const fp8q_tensor_info *t;
        const fp8q_safetensors *f;
        (void)snprintf(name, sizeof name, "model.layers.%d.%s.%s.weight", layer, fp8q__module_parent[i],
                       fp8q__module_names[i]);
        t = fp8q__ld_find(L, name, &f);
        if (!t || !fp8q__is_float_weight(t->dtype)) return FP8Q_OK; /* ld_linear reports it */
        if ((r = fp8q__ld_f32(L, f, t)) != FP8Q_OK) return r;
        amax = fp8q__fmaxf(amax, fp8q__amax(L->tmp, (size_t)t->numel));
    }
    *scale = fp8q__scale_from_amax(fp8q_recipe_get("vllm-per-tensor"), amax, 0);
    return FP8Q_OK;
}

/* vLLM serves fused per-tensor shards with one scale: the largest; shards
   with a smaller scale are dequantized and re-quantized (float32 here;
   vLLM's per_tensor_dequantize works in float16, unconfirmed whether that
   ever changes a code) and the input scale is the largest. */
static void fp8q__fuse_like_vllm(fp8q_linear *shard, int count)
{
    const fp8q_recipe *r = fp8q_recipe_get("vllm-per-tensor");
    float smax = 0.0f, imax = 0.0f;
    int i;
    for (i = 0; i < count; i++) {
        if (!shard[i].q || shard[i].w_per_channel) return;
        smax = fp8q__fmaxf(smax, shard[i].w_scale[0]);
        imax = fp8q__fmaxf(imax, shard[i].input_scale);
    }
    for (i = 0; i < count; i++) {
        fp8q_linear *s = &shard[i];
        if (s->w_scale[0] != smax) {
            size_t k, n = (size_t)s->out * (size_t)s->in;
            const float inv = 1.0f / smax;
            for (k = 0; k < n; k++) {
                float w = fp8q_to_f32(s->q[k], FP8Q_E4M3) * s->w_scale[0] * inv;
                s->q[k] = fp8q_from_f32(fp8q__fmaxf(-r->qmax, fp8q__fminf(w, r->qmax)), FP8Q_E4M3, FP8Q_NOSAT);
            }
            s->w_scale[0] = smax;
        }
        if (s->act == FP8Q_ACT_STATIC) s->input_scale = imax;
    }
}

/* KV cache scales of layer l: k_scale/v_scale, older k_proj/v_proj.output_scale, single kv_scale. */
static fp8q_result fp8q__ld_kv_scales(fp8q__loader *L, int l, fp8q_layer *ly, int *missing)
{
    static const char *const names[3][2] = {{"self_attn.k_scale", "self_attn.v_scale"},
                                            {"self_attn.k_proj.output_scale", "self_attn.v_proj.output_scale"},
                                            {"self_attn.kv_scale", "self_attn.kv_scale"}};
    char kn[160], vn[160];
    int i;
    fp8q_result r;
    ly->k_scale = ly->v_scale = 1.0f;
    for (i = 0; i < 3; i++) {
        (void)snprintf(kn, sizeof kn, "model.layers.%d.%s", l, names[i][0]);
        (void)snprintf(vn, sizeof vn, "model.layers.%d.%s", l, names[i][1]);
        if (!fp8q_checkpoint_find(&L->ck, kn, NULL) && !fp8q_checkpoint_find(&L->ck, vn, NULL)) continue;
        if ((r = fp8q__ld_scales(L, kn, 1, &ly->k_scale)) != FP8Q_OK) return r;
        return fp8q__ld_scales(L, vn, 1, &ly->v_scale);
    }
    *missing = 1;
    return FP8Q_OK;
}

static void fp8q__linear_free(fp8q_linear *lin, const void *shared)
{
    if (lin->w.data != shared) free(lin->w.data);
    free(lin->q);
    free(lin->w_scale);
    free(lin->bias);
}

FP8QDEF void fp8q_model_free(fp8q_model *m)
{
    int l, i;
    if (!m) return;
    if (m->layers) {
        for (l = 0; l < m->config.num_hidden_layers; l++) {
            free(m->layers[l].attn_norm);
            free(m->layers[l].ffn_norm);
            for (i = 0; i <= FP8Q_MOD_DOWN; i++) fp8q__linear_free(&m->layers[l].mod[i], NULL);
        }
        free(m->layers);
    }
    fp8q__linear_free(&m->lm_head, m->embed.data);
    free(m->embed.data);
    free(m->final_norm);
    free(m->rope_inv_freq);
    memset(m, 0, sizeof *m);
}

/* RoPE inverse frequencies as transformers computes them (float32
   theta^(-2i/d)), with the llama3 rescaling of _compute_llama3_parameters. */
static void fp8q__rope_init(const fp8q_llama_config *c, float *inv_freq)
{
    const int half = c->head_dim / 2;
    int i;
    for (i = 0; i < half; i++) {
        double f = 1.0 / pow(c->rope_theta, (double)(float)(2.0 * i / c->head_dim));
        if (c->rope_llama3) {
            const double pi = 3.14159265358979323846, old = c->rope_original_max_position;
            const double low_wl = old / c->rope_low_freq_factor, high_wl = old / c->rope_high_freq_factor;
            const double wl = 2.0 * pi / f;
            if (wl > low_wl)
                f = f / c->rope_factor;
            else if (!(wl < high_wl)) { /* medium: smooth interpolation */
                double smooth =
                    (old / wl - c->rope_low_freq_factor) / (c->rope_high_freq_factor - c->rope_low_freq_factor);
                f = (1.0 - smooth) * f / c->rope_factor + smooth * f;
            }
        }
        inv_freq[i] = (float)f;
    }
}

static fp8q_result fp8q__ld_layers(fp8q__loader *L)
{
    fp8q_model *m = L->m;
    const fp8q_llama_config *c = &m->config;
    const int dim = c->hidden_size, hd = c->head_dim, ff = c->intermediate_size;
    const int outs[FP8Q_MOD_DOWN + 1] = {
        c->num_attention_heads * hd, c->num_key_value_heads * hd, c->num_key_value_heads * hd, dim, ff, ff, dim};
    const int ins[FP8Q_MOD_DOWN + 1] = {dim, dim, dim, c->num_attention_heads * hd, dim, dim, ff};
    int l, i, kv_missing = 0;
    fp8q_result r;
    for (l = 0; l < c->num_hidden_layers; l++) {
        fp8q_layer *ly = &m->layers[l];
        char name[160];
        float fused[2] = {0, 0};
        (void)snprintf(name, sizeof name, "model.layers.%d.input_layernorm.weight", l);
        if ((r = fp8q__ld_vector(L, name, dim, &ly->attn_norm)) != FP8Q_OK) return r;
        (void)snprintf(name, sizeof name, "model.layers.%d.post_attention_layernorm.weight", l);
        if ((r = fp8q__ld_vector(L, name, dim, &ly->ffn_norm)) != FP8Q_OK) return r;
        if (L->quantize_online && m->opt.quant != FP8Q_QUANT_FP8_CHANNEL) {
            if ((r = fp8q__ld_fused_scale(L, l, FP8Q_MOD_Q, 3, &fused[0])) != FP8Q_OK) return r;
            if ((r = fp8q__ld_fused_scale(L, l, FP8Q_MOD_GATE, 2, &fused[1])) != FP8Q_OK) return r;
        }
        for (i = 0; i <= FP8Q_MOD_DOWN; i++) {
            const float *shared = i <= FP8Q_MOD_V                          ? &fused[0]
                                  : i == FP8Q_MOD_GATE || i == FP8Q_MOD_UP ? &fused[1]
                                                                           : NULL;
            (void)snprintf(name, sizeof name, "model.layers.%d.%s.%s", l, fp8q__module_parent[i],
                           fp8q__module_names[i]);
            if (!shared && L->quantize_online &&
                m->opt.quant != FP8Q_QUANT_FP8_CHANNEL) { /* o, down: their own scale */
                const fp8q_tensor_info *t;
                const fp8q_safetensors *f;
                char wn[170];
                (void)snprintf(wn, sizeof wn, "%s.weight", name);
                if ((t = fp8q__ld_find(L, wn, &f)) && fp8q__is_float_weight(t->dtype)) {
                    if ((r = fp8q__ld_f32(L, f, t)) != FP8Q_OK) return r;
                    fused[0] = fp8q__scale_from_amax(fp8q_recipe_get("vllm-per-tensor"),
                                                     fp8q__amax(L->tmp, (size_t)t->numel), 0);
                    shared = &fused[0];
                }
            }
            if ((r = fp8q__ld_linear(L, name, outs[i], ins[i], shared, 0, &ly->mod[i])) != FP8Q_OK) return r;
        }
        if (m->opt.engine == FP8Q_ENGINE_VLLM && !m->opt.keep_shard_scales) {
            fp8q__fuse_like_vllm(&ly->mod[FP8Q_MOD_Q], 3);
            fp8q__fuse_like_vllm(&ly->mod[FP8Q_MOD_GATE], 2);
        }
        if ((r = fp8q__ld_kv_scales(L, l, ly, &kv_missing)) != FP8Q_OK) return r;
    }
    if (kv_missing && m->opt.kv_cache != FP8Q_KV_AUTO)
        fp8q__warn(m, "FP8 KV cache without k_scale/v_scale in the checkpoint: using 1.0 (accuracy may suffer)");
    return FP8Q_OK;
}

static fp8q_result fp8q__ld_model(fp8q__loader *L, const char *dir)
{
    fp8q_model *m = L->m;
    const fp8q_llama_config *c = &m->config;
    const fp8q_tensor_info *t;
    const fp8q_safetensors *f;
    fp8q_result r;
    size_t i;
    if ((r = fp8q_checkpoint_open(&L->ck, dir, L->err)) != FP8Q_OK) return r;
    if (!(L->used = (unsigned char **)calloc(L->ck.n_files, sizeof *L->used)))
        return fp8q__failf(L->err, FP8Q_ERR_NOMEM, "out of memory");
    for (i = 0; i < L->ck.n_files; i++)
        if (!(L->used[i] = (unsigned char *)calloc(L->ck.files[i].n_tensors + 1, 1)))
            return fp8q__failf(L->err, FP8Q_ERR_NOMEM, "out of memory");
    if (!(m->layers = (fp8q_layer *)calloc((size_t)c->num_hidden_layers, sizeof *m->layers)) ||
        !(m->rope_inv_freq = (float *)malloc((size_t)c->head_dim / 2 * sizeof(float))))
        return fp8q__failf(L->err, FP8Q_ERR_NOMEM, "out of memory");
    fp8q__rope_init(c, m->rope_inv_freq);
    if ((r = fp8q__ld_need(L, "model.embed_tokens.weight", c->vocab_size, c->hidden_size, &t, &f)) != FP8Q_OK) return r;
    if (!fp8q__is_float_weight(t->dtype)) return fp8q__ld_dtype_bad(L, t->name, t, "F32, BF16 or F16");
    if ((r = fp8q__ld_matrix(L, f, t, L->keep_dtype, &m->embed)) != FP8Q_OK) return r;
    if ((r = fp8q__ld_layers(L)) != FP8Q_OK) return r;
    if ((r = fp8q__ld_vector(L, "model.norm.weight", c->hidden_size, &m->final_norm)) != FP8Q_OK) return r;
    if (c->tie_word_embeddings && !fp8q_checkpoint_find(&L->ck, "lm_head.weight", NULL)) {
        m->lm_head.out = c->vocab_size, m->lm_head.in = c->hidden_size;
        m->lm_head.w = m->embed;
    } else if ((r = fp8q__ld_linear(L, "lm_head", c->vocab_size, c->hidden_size, NULL, 1, &m->lm_head)) != FP8Q_OK) {
        if (!c->tie_word_embeddings && !fp8q_checkpoint_find(&L->ck, "lm_head.weight", NULL))
            (void)fp8q__failf(L->err, FP8Q_ERR_PARSE,
                              "missing tensor 'lm_head.weight' (config.json has tie_word_embeddings false)");
        return r;
    }
    if (L->n_used < L->ck.n_tensors) { /* a tensor fp8q did not read: say which */
        size_t k, n = 0;
        const char *first = NULL;
        char msg[200];
        for (i = 0; i < L->ck.n_files; i++)
            for (k = 0; k < L->ck.files[i].n_tensors; k++)
                if (!L->used[i][k] && strstr(L->ck.files[i].tensors[k].name, "rotary_emb.inv_freq") == NULL) {
                    if (!first) first = L->ck.files[i].tensors[k].name;
                    n++;
                }
        if (n) {
            (void)snprintf(msg, sizeof msg, "%zu checkpoint tensor%s not used, e.g. '%.100s'", n, n > 1 ? "s" : "",
                           first);
            fp8q__warn(m, msg);
        }
    }
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_model_load(fp8q_model *m, const char *dir, const fp8q_model_options *opt, fp8q_error *err)
{
    fp8q__loader L;
    char *path = NULL, *text = NULL;
    size_t len = 0, i;
    fp8q_result r;
    fp8q__st_err_ok(err);
    if (!m || !dir) return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_model_load: %s is NULL", !m ? "m" : "dir");
    memset(m, 0, sizeof *m);
    memset(&L, 0, sizeof L);
    L.m = m, L.err = err;
    if (opt) m->opt = *opt;
    if (!fp8q_quant_name(m->opt.quant) || (unsigned)m->opt.kv_cache > FP8Q_KV_E5M2 ||
        (unsigned)m->opt.engine > FP8Q_ENGINE_COMPRESSED_TENSORS || (unsigned)m->opt.gemm > FP8Q_GEMM_FAST)
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_model_load: invalid option value");
    if (!(path = (char *)malloc(strlen(dir) + 16))) return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory");
    (void)sprintf(path, "%s/config.json", dir);
    if ((r = fp8q__cfg_read(path, &text, &len, NULL, err)) != FP8Q_OK) goto done;
    if ((r = fp8q_llama_config_parse(&m->config, text, len, err)) != FP8Q_OK) goto done;
    if (m->config.head_dim > 512) { /* the attention kernels keep one head's vectors on the stack */
        r = fp8q__failf(err, FP8Q_ERR_UNSUPPORTED, "config.json: head_dim %d is above the model's limit 512",
                        m->config.head_dim);
        goto done;
    }
    if ((r = fp8q__qcfg_parse(&L.qc, text, len, err)) != FP8Q_OK) goto done;
    if (L.qc.method != FP8Q__QM_NONE) {
        if (m->opt.quant != FP8Q_QUANT_AUTO && m->opt.quant != FP8Q_QUANT_NONE) {
            r = fp8q__failf(err, FP8Q_ERR_UNSUPPORTED,
                            "%s: the checkpoint is already quantized (%s); use quant \"auto\" or \"none\"", dir,
                            L.qc.desc);
            goto done;
        }
        (void)snprintf(m->scheme, sizeof m->scheme, "%s%s",
                       m->opt.quant == FP8Q_QUANT_NONE ? "none (dequantized) of " : "", L.qc.desc);
    } else {
        if (m->opt.quant == FP8Q_QUANT_AUTO) m->opt.quant = FP8Q_QUANT_NONE;
        (void)snprintf(m->scheme, sizeof m->scheme, "%s", fp8q_quant_name(m->opt.quant));
    }
    L.quantize_online = L.qc.method == FP8Q__QM_NONE && m->opt.quant >= FP8Q_QUANT_FP8_DYNAMIC;
    L.keep_dtype = m->opt.quant != FP8Q_QUANT_NONE;
    r = fp8q__ld_model(&L, dir);
done:
    if (L.used)
        for (i = 0; i < L.ck.n_files; i++) free(L.used[i]);
    free(L.used);
    free(L.tmp);
    fp8q_json_free(&L.qc.json);
    fp8q_checkpoint_close(&L.ck);
    free(text);
    free(path);
    if (r != FP8Q_OK) {
        if (err && strncmp(err->message, dir, strlen(dir)) != 0) fp8q__st_path_prefix(err, dir);
        fp8q_model_free(m);
    }
    return r;
}

/* ---- run state */

typedef struct fp8q__state_buf {
    float *x, *xb, *xb2, *q, *k, *v, *hb, *hb2; /* [max_batch][width] */
    float *att;                                 /* [heads][max_seq] attention weights */
    float *k_f32, *v_f32;                       /* KV cache [layers][max_seq][kv_dim] (KV auto) */
    uint8_t *k_fp8, *v_fp8;                     /* KV cache (FP8) */
    uint8_t *aq;                                /* quantized activations [max_batch][max in] */
    float *a_scales;                            /* [max_batch] */
} fp8q__state_buf;

static int fp8q__max_in(const fp8q_llama_config *c)
{
    int a = c->hidden_size, b = c->intermediate_size, d = c->num_attention_heads * c->head_dim;
    return a > b ? (a > d ? a : d) : (b > d ? b : d);
}

FP8QDEF void fp8q_state_free(fp8q_state *s)
{
    fp8q__state_buf *b;
    if (!s) return;
    if ((b = (fp8q__state_buf *)s->fp8q__owned) != NULL) {
        free(b->x), free(b->xb), free(b->xb2), free(b->q), free(b->k), free(b->v), free(b->hb), free(b->hb2);
        free(b->att), free(b->k_f32), free(b->v_f32), free(b->k_fp8), free(b->v_fp8), free(b->aq), free(b->a_scales);
        free(b);
    }
    free(s->logits);
    memset(s, 0, sizeof *s);
}

FP8QDEF void fp8q_state_reset(fp8q_state *s)
{
    if (s) s->pos = 0;
}

/* n * a * b elements of size, or NULL on overflow / out of memory. */
static void *fp8q__alloc3(size_t n, size_t a, size_t b, size_t size)
{
    if (a && n > (size_t)-1 / a) return NULL;
    n *= a;
    if (b && n > (size_t)-1 / b) return NULL;
    n *= b;
    if (size && n > (size_t)-1 / size) return NULL;
    return malloc(n ? n * size : 1);
}

FP8QDEF fp8q_result fp8q_state_init(fp8q_state *s, const fp8q_model *m, int max_seq, int max_batch, fp8q_error *err)
{
    const fp8q_llama_config *c;
    fp8q__state_buf *b;
    size_t kvd, cache, mb;
    fp8q__st_err_ok(err);
    if (!s || !m || !m->layers)
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_state_init: %s", !s ? "s is NULL" : "model not loaded");
    memset(s, 0, sizeof *s);
    if (max_seq < 1 || max_batch < 1 || max_batch > max_seq)
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_state_init: need 1 <= max_batch <= max_seq, got %d and %d",
                           max_batch, max_seq);
    c = &m->config;
    kvd = (size_t)c->num_key_value_heads * (size_t)c->head_dim, mb = (size_t)max_batch;
    cache = (size_t)c->num_hidden_layers;
    if (!(b = (fp8q__state_buf *)calloc(1, sizeof *b))) return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory");
    s->fp8q__owned = b;
    s->max_seq = max_seq, s->max_batch = max_batch;
    b->x = (float *)fp8q__alloc3(mb, (size_t)c->hidden_size, 1, sizeof(float));
    b->xb = (float *)fp8q__alloc3(mb, (size_t)fp8q__max_in(c), 1, sizeof(float));
    b->xb2 = (float *)fp8q__alloc3(mb, (size_t)c->num_attention_heads * (size_t)c->head_dim, 1, sizeof(float));
    b->q = (float *)fp8q__alloc3(mb, (size_t)c->num_attention_heads * (size_t)c->head_dim, 1, sizeof(float));
    b->k = (float *)fp8q__alloc3(mb, kvd, 1, sizeof(float));
    b->v = (float *)fp8q__alloc3(mb, kvd, 1, sizeof(float));
    b->hb = (float *)fp8q__alloc3(mb, (size_t)c->intermediate_size, 1, sizeof(float));
    b->hb2 = (float *)fp8q__alloc3(mb, (size_t)c->intermediate_size, 1, sizeof(float));
    b->att = (float *)fp8q__alloc3((size_t)c->num_attention_heads, (size_t)max_seq, 1, sizeof(float));
    b->aq = (uint8_t *)fp8q__alloc3(mb, (size_t)fp8q__max_in(c), 1, 1);
    b->a_scales = (float *)fp8q__alloc3(mb, 1, 1, sizeof(float));
    s->logits = (float *)fp8q__alloc3((size_t)c->vocab_size, 1, 1, sizeof(float));
    if (m->opt.kv_cache == FP8Q_KV_AUTO) {
        b->k_f32 = (float *)fp8q__alloc3(cache, (size_t)max_seq, kvd, sizeof(float));
        b->v_f32 = (float *)fp8q__alloc3(cache, (size_t)max_seq, kvd, sizeof(float));
    } else {
        b->k_fp8 = (uint8_t *)fp8q__alloc3(cache, (size_t)max_seq, kvd, 1);
        b->v_fp8 = (uint8_t *)fp8q__alloc3(cache, (size_t)max_seq, kvd, 1);
    }
    if (!b->x || !b->xb || !b->xb2 || !b->q || !b->k || !b->v || !b->hb || !b->hb2 || !b->att || !b->aq ||
        !b->a_scales || !s->logits || !((b->k_f32 && b->v_f32) || (b->k_fp8 && b->v_fp8))) {
        fp8q_state_free(s);
        return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory for the run state (max_seq %d, max_batch %d)", max_seq,
                           max_batch);
    }
    return FP8Q_OK;
}

/* ---- float kernels */

/* Row r of an unquantized matrix as float32 (decoded into buf unless F32). */
static const float *fp8q__matrix_row(const fp8q_matrix *w, int r, float *buf)
{
    size_t k, off = (size_t)r * (size_t)w->cols;
    if (w->dtype == FP8Q_F32) return (const float *)w->data + off;
    if (w->dtype == FP8Q_BF16) { /* the high half of a float32: a loop compilers vectorize */
        const uint16_t *h = (const uint16_t *)w->data + off;
        const size_t n = (size_t)w->cols; /* a local: buf might alias *w as far as the compiler knows */
        float *out = buf;
        for (k = 0; k < n; k++) {
            const uint32_t u = (uint32_t)h[k] << 16;
            FP8Q__MEMCPY(&out[k], &u, 4);
        }
        return buf;
    }
    for (k = 0; k < (size_t)w->cols; k++) buf[k] = fp8q_f16_to_f32(((const uint16_t *)w->data)[off + k]);
    return buf;
}

/* A fixed-order dot product (eight partial sums), the same on every build
   and thread count. */
static float fp8q__dot(const float *a, const float *b, size_t n)
{
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t k = 0, j;
    for (; k + 8 <= n; k += 8)
        for (j = 0; j < 8; j++) s[j] += a[k + j] * b[k + j];
    for (; k < n; k++) s[k & 7] += a[k] * b[k];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

/* fp8q__dot with b given as bfloat16 bits, decoded on the fly: the same
   partial sums in the same order, so the same result as decoding first. */
static float fp8q__dot_bf16(const float *a, const uint16_t *b, size_t n)
{
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t k = 0, j;
    for (; k + 8 <= n; k += 8)
        for (j = 0; j < 8; j++) {
            const uint32_t u = (uint32_t)b[k + j] << 16;
            float w;
            FP8Q__MEMCPY(&w, &u, 4);
            s[j] += a[k + j] * w;
        }
    for (; k < n; k++) {
        const uint32_t u = (uint32_t)b[k] << 16;
        float w;
        FP8Q__MEMCPY(&w, &u, 4);
        s[k & 7] += a[k] * w;
    }
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

typedef struct fp8q__dense_job {
    const fp8q_matrix *w;
    const float *x, *bias;
    float *y;
    int M, failed;
} fp8q__dense_job;

#define FP8Q__DENSE_NB 16 /* output rows per task */

static void fp8q__dense_task(void *arg, size_t task)
{
    fp8q__dense_job *j = (fp8q__dense_job *)arg;
    const int K = j->w->cols, N = j->w->rows;
    int n, m, n1 = (int)(task + 1) * FP8Q__DENSE_NB;
    float *buf = NULL;
    if (j->w->dtype == FP8Q_F16 && !(buf = (float *)malloc((size_t)K * sizeof(float)))) {
        j->failed = 1;
        return;
    }
    for (n = (int)task * FP8Q__DENSE_NB; n < n1 && n < N; n++) {
        const uint16_t *wb = j->w->dtype == FP8Q_BF16 ? (const uint16_t *)j->w->data + (size_t)n * (size_t)K : NULL;
        const float *wr = wb ? NULL : fp8q__matrix_row(j->w, n, buf);
        for (m = 0; m < j->M; m++) {
            const float *xr = j->x + (size_t)m * (size_t)K;
            float v = wb ? fp8q__dot_bf16(xr, wb, (size_t)K) : fp8q__dot(xr, wr, (size_t)K);
            j->y[(size_t)m * (size_t)N + (size_t)n] = j->bias ? v + j->bias[n] : v;
        }
    }
    free(buf);
}

/* Work (multiply-adds) below which a call runs on the calling thread: fp8q's
   threads are started per call, which costs more than a small matmul. */
#define FP8Q__PARALLEL_MIN_WORK ((double)(1 << 19))

/* The model's threads as an fp8q_gemm carrier for fp8q__run_tasks. */
static void fp8q__model_tasks(const fp8q_model *m, double work, void (*fn)(void *, size_t), void *arg, size_t n)
{
    fp8q_gemm g;
    memset(&g, 0, sizeof g);
    if (work >= FP8Q__PARALLEL_MIN_WORK)
        g.threads = m->opt.threads, g.parallel_for = m->opt.parallel_for, g.parallel_ctx = m->opt.parallel_ctx;
    fp8q__run_tasks(&g, fn, arg, n);
}

/* y[M][out] = x[M][in] . W^T (+ bias) for one module. */
static fp8q_result fp8q__linear_run(const fp8q_model *m, fp8q_state *s, const fp8q_linear *lin, const float *x, int M,
                                    float *y, fp8q_error *err)
{
    fp8q__state_buf *b = (fp8q__state_buf *)s->fp8q__owned;
    if (!lin->q) {
        fp8q__dense_job j;
        j.w = &lin->w, j.x = x, j.bias = lin->bias, j.y = y, j.M = M, j.failed = 0;
        fp8q__model_tasks(m, (double)M * lin->out * lin->in, fp8q__dense_task, &j,
                          ((size_t)lin->out + FP8Q__DENSE_NB - 1) / FP8Q__DENSE_NB);
        return j.failed ? fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory in a float matmul") : FP8Q_OK;
    } else {
        fp8q_gemm g;
        fp8q_result r;
        memset(&g, 0, sizeof g);
        g.M = (size_t)M, g.N = (size_t)lin->out, g.K = (size_t)lin->in;
        g.b = lin->q, g.b_format = FP8Q_E4M3, g.b_scales = lin->w_scale, g.b_tile_rows = lin->w_per_channel;
        g.bias = lin->bias, g.c = y, g.c_type = FP8Q_F32;
        if ((double)M * lin->out * lin->in >= FP8Q__PARALLEL_MIN_WORK)
            g.threads = m->opt.threads, g.parallel_for = m->opt.parallel_for, g.parallel_ctx = m->opt.parallel_ctx;
        if (lin->act == FP8Q_ACT_NONE) {
            g.a_f32 = x; /* W8A16 */
        } else {
            const fp8q_recipe *rc = lin->act_recipe;
            fp8q_recipe per_row;
            if (lin->act == FP8Q_ACT_STATIC) {
                b->a_scales[0] = lin->input_scale;
            } else if (lin->inc_dynamic) { /* INC: POW2 per-token scales, cast as every INC cast */
                (void)fp8q_inc_token_scales(b->a_scales, x, (size_t)M, g.K, &lin->inc_act, (fp8q_gaudi)lin->inc_device);
                per_row = *rc, per_row.tile_rows = 1, rc = &per_row;
            } else {
                (void)fp8q_compute_scales(b->a_scales, x, (size_t)M, g.K, rc);
            }
            (void)fp8q_quantize(b->aq, x, (size_t)M, g.K, b->a_scales, rc);
            g.a = b->aq, g.a_format = FP8Q_E4M3, g.a_scales = b->a_scales;
            g.a_tile_rows = lin->act == FP8Q_ACT_DYNAMIC_TOKEN ? 1 : 0;
        }
        r = fp8q_gemm_run(&g, m->opt.gemm);
        return r == FP8Q_OK ? r : fp8q__failf(err, r, "FP8 GEMM failed (%d)", (int)r);
    }
}

static void fp8q__observe(fp8q_state *s, int layer, fp8q_module mod, fp8q_io io, int index, int head, const float *x,
                          int rows, int cols)
{
    fp8q_observation o;
    if (!s->observer) return;
    o.layer = layer, o.mod = mod, o.io = io, o.index = index, o.head = head, o.x = x, o.rows = rows, o.cols = cols;
    o.fp8 = NULL, o.scales = NULL, o.n_scales = 0;
    s->observer(s->observer_ctx, &o);
}

/* An input 0 with the FP8 codes (or NULL) that were made of it. */
static void fp8q__observe_codes(fp8q_state *s, int layer, fp8q_module mod, const float *x, int rows, int cols,
                                const uint8_t *fp8, const float *scales, int n_scales)
{
    fp8q_observation o;
    if (!s->observer) return;
    o.layer = layer, o.mod = mod, o.io = FP8Q_IO_INPUT, o.index = 0, o.head = -1, o.x = x, o.rows = rows, o.cols = cols;
    o.fp8 = fp8, o.scales = fp8 ? scales : NULL, o.n_scales = fp8 ? n_scales : 0;
    s->observer(s->observer_ctx, &o);
}

static fp8q_result fp8q__module(const fp8q_model *m, fp8q_state *s, int layer, fp8q_module mod, const fp8q_linear *lin,
                                const float *x, int M, float *y, fp8q_error *err)
{
    const fp8q__state_buf *b = (const fp8q__state_buf *)s->fp8q__owned;
    const int a8 = lin->q && lin->act != FP8Q_ACT_NONE; /* b->aq and b->a_scales hold what the GEMM read */
    fp8q_result r;
    if ((r = fp8q__linear_run(m, s, lin, x, M, y, err)) != FP8Q_OK) return r;
    fp8q__observe_codes(s, layer, mod, x, M, lin->in, a8 ? b->aq : NULL, b->a_scales,
                        lin->act == FP8Q_ACT_DYNAMIC_TOKEN ? M : 1);
    fp8q__observe(s, layer, mod, FP8Q_IO_OUTPUT, 0, -1, y, M, lin->out);
    return FP8Q_OK;
}

static void fp8q__rmsnorm(float *out, const float *x, const float *w, int n, double eps)
{
    float ss = 0.0f, inv;
    int i;
    for (i = 0; i < n; i++) ss += x[i] * x[i];
    inv = 1.0f / sqrtf(ss / (float)n + (float)eps);
    for (i = 0; i < n; i++) out[i] = w[i] * (x[i] * inv);
}

/* Half-split rotation of one head vector (transformers rotate_half). */
static void fp8q__rope(float *v, int hd, int pos, const float *inv_freq)
{
    const int half = hd / 2;
    int i;
    for (i = 0; i < half; i++) {
        const float angle = (float)pos * inv_freq[i];
        const float c = (float)cos((double)angle), s = (float)sin((double)angle);
        const float a = v[i], b = v[i + half];
        v[i] = a * c - b * s;
        v[i + half] = b * c + a * s;
    }
}

typedef struct fp8q__attn_job {
    const fp8q_model *m;
    fp8q__state_buf *b;
    int layer, n, p0, max_seq;
    float kt[256], vt[256]; /* FP8 KV: code -> value (float(q) * scale) */
} fp8q__attn_job;

/* One head over all n query rows: causal softmax(q.K^T * hd^-0.5) . V. */
static void fp8q__attn_task(void *arg, size_t h)
{
    const fp8q__attn_job *j = (const fp8q__attn_job *)arg;
    const fp8q_llama_config *c = &j->m->config;
    const int hd = c->head_dim, kvd = c->num_key_value_heads * hd, nq = c->num_attention_heads * hd;
    const int kvh = (int)h / (c->num_attention_heads / c->num_key_value_heads);
    const float scaling = (float)(1.0 / sqrt((double)hd));
    const size_t base = (size_t)j->layer * (size_t)j->max_seq * (size_t)kvd + (size_t)kvh * (size_t)hd;
    float *att = j->b->att + h * (size_t)j->max_seq;
    int t, p, d;
    for (t = 0; t < j->n; t++) {
        const float *q = j->b->q + (size_t)t * (size_t)nq + h * (size_t)hd;
        float *out = j->b->xb2 + (size_t)t * (size_t)nq + h * (size_t)hd;
        const int len = j->p0 + t + 1;
        float mx = -3.4e38f, sum = 0.0f;
        for (p = 0; p < len; p++) {
            const size_t off = base + (size_t)p * (size_t)kvd;
            float dot = 0.0f;
            if (j->b->k_f32)
                dot = fp8q__dot(q, j->b->k_f32 + off, (size_t)hd);
            else {
                float kr[512];
                for (d = 0; d < hd; d++) kr[d] = j->kt[j->b->k_fp8[off + (size_t)d]];
                dot = fp8q__dot(q, kr, (size_t)hd);
            }
            att[p] = dot * scaling;
            mx = att[p] > mx ? att[p] : mx;
        }
        for (p = 0; p < len; p++) sum += (att[p] = expf(att[p] - mx));
        for (d = 0; d < hd; d++) out[d] = 0.0f;
        for (p = 0; p < len; p++) {
            const size_t off = base + (size_t)p * (size_t)kvd;
            const float w = att[p] / sum;
            if (j->b->v_f32)
                for (d = 0; d < hd; d++) out[d] += w * j->b->v_f32[off + (size_t)d];
            else
                for (d = 0; d < hd; d++) out[d] += w * j->vt[j->b->v_fp8[off + (size_t)d]];
        }
    }
}

/* INC: the value of cast(clamp(x * inv, +-qmax)) (the FP8 code's value, not
   yet scaled); inv 0 means the op is not quantized: x itself. */
static float fp8q__q8(float x, float inv, float qmax)
{
    if (inv == 0.0f) return x;
    return fp8q_to_f32(fp8q_from_f32(fp8q__fmaxf(-qmax, fp8q__fminf(x * inv, qmax)), FP8Q_E4M3, FP8Q_NOSAT), FP8Q_E4M3);
}

static float fp8q__inv_or_0(float s) { return s > 0 ? 1.0f / s : 0.0f; }
static float fp8q__s_or_1(float s) { return s > 0 ? s : 1.0f; }

/* The attention of one head with INC's FP8 ops (fp8q_model_apply_inc):
   matmul_qk on q * hd^-0.5 and K, each cast with its own scale (K read from
   the FP8 cache is cast a second time), scores = (q8 . k8) * s0 * s1;
   softmax in float32, its output cast with the softmax output scale and
   taken back (q * s); matmul_av casts the probabilities and V with its own
   scales, out = (p8 . v8) * s0 * s1. */
static void fp8q__attn_task_inc(void *arg, size_t h)
{
    const fp8q__attn_job *j = (const fp8q__attn_job *)arg;
    const fp8q_llama_config *c = &j->m->config;
    const fp8q_layer *ly = &j->m->layers[j->layer];
    const int hd = c->head_dim, kvd = c->num_key_value_heads * hd, nq = c->num_attention_heads * hd;
    const int kvh = (int)h / (c->num_attention_heads / c->num_key_value_heads);
    const float scaling = (float)(1.0 / sqrt((double)hd)), qmax = j->m->inc_recipe.qmax;
    const float iq = fp8q__inv_or_0(ly->inc_qk[0]), ik = fp8q__inv_or_0(ly->inc_qk[1]);
    const float ip = fp8q__inv_or_0(ly->inc_av[0]), iv = fp8q__inv_or_0(ly->inc_av[1]);
    const float so = fp8q__s_or_1(ly->inc_softmax), iso = fp8q__inv_or_0(ly->inc_softmax);
    const size_t base = (size_t)j->layer * (size_t)j->max_seq * (size_t)kvd + (size_t)kvh * (size_t)hd;
    float *att = j->b->att + h * (size_t)j->max_seq;
    float qh[512], kh[512];
    int t, p, d;
    for (t = 0; t < j->n; t++) {
        const float *q = j->b->q + (size_t)t * (size_t)nq + h * (size_t)hd;
        float *out = j->b->xb2 + (size_t)t * (size_t)nq + h * (size_t)hd;
        const int len = j->p0 + t + 1;
        float mx = -3.4e38f, sum = 0.0f;
        for (d = 0; d < hd; d++) qh[d] = fp8q__q8(q[d] * scaling, iq, qmax);
        for (p = 0; p < len; p++) {
            const size_t off = base + (size_t)p * (size_t)kvd;
            for (d = 0; d < hd; d++)
                kh[d] = fp8q__q8(j->b->k_f32 ? j->b->k_f32[off + (size_t)d] : j->kt[j->b->k_fp8[off + (size_t)d]], ik,
                                 qmax);
            att[p] = fp8q__mul_rn(fp8q__mul_rn(fp8q__dot(qh, kh, (size_t)hd), fp8q__s_or_1(ly->inc_qk[0])),
                                  fp8q__s_or_1(ly->inc_qk[1]));
            mx = att[p] > mx ? att[p] : mx;
        }
        for (p = 0; p < len; p++) sum += (att[p] = expf(att[p] - mx));
        for (d = 0; d < hd; d++) out[d] = 0.0f;
        for (p = 0; p < len; p++) {
            const size_t off = base + (size_t)p * (size_t)kvd;
            const float pr = fp8q__q8(fp8q__q8(att[p] / sum, iso, qmax) * (iso == 0.0f ? 1.0f : so), ip, qmax);
            for (d = 0; d < hd; d++)
                out[d] +=
                    pr * fp8q__q8(j->b->v_f32 ? j->b->v_f32[off + (size_t)d] : j->vt[j->b->v_fp8[off + (size_t)d]], iv,
                                  qmax);
        }
        for (d = 0; d < hd; d++)
            out[d] = fp8q__mul_rn(fp8q__mul_rn(out[d], fp8q__s_or_1(ly->inc_av[0])), fp8q__s_or_1(ly->inc_av[1]));
    }
}

/* For observers: the attention internals of every head, recomputed with
   the forward's arithmetic (see fp8q_observation). */
static fp8q_result fp8q__attn_observe(const fp8q_model *m, fp8q_state *s, const fp8q__attn_job *j, fp8q_error *err)
{
    const fp8q_llama_config *c = &m->config;
    const int hd = c->head_dim, kvd = c->num_key_value_heads * hd, nq = c->num_attention_heads * hd;
    const int n = j->n, len = j->p0 + j->n;
    const float scaling = (float)(1.0 / sqrt((double)hd)), ninf = -fp8q__f32_from_bits(0x7F800000u);
    float *qs = (float *)fp8q__alloc3((size_t)n, (size_t)hd, 1, sizeof(float));
    float *kk = (float *)fp8q__alloc3((size_t)len, (size_t)hd, 2, sizeof(float)), *vv;
    float *sc = (float *)fp8q__alloc3((size_t)n, (size_t)len, 2, sizeof(float)), *pr;
    int h, t, p, d;
    if (!qs || !kk || !sc) {
        free(qs), free(kk), free(sc);
        return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory observing attention (%d x %d)", n, len);
    }
    vv = kk + (size_t)len * (size_t)hd, pr = sc + (size_t)n * (size_t)len;
    for (h = 0; h < c->num_attention_heads; h++) {
        const int kvh = h / (c->num_attention_heads / c->num_key_value_heads);
        const size_t base = (size_t)j->layer * (size_t)j->max_seq * (size_t)kvd + (size_t)kvh * (size_t)hd;
        for (p = 0; p < len; p++)
            for (d = 0; d < hd; d++) {
                const size_t at = base + (size_t)p * (size_t)kvd + (size_t)d;
                kk[(size_t)p * hd + d] = j->b->k_f32 ? j->b->k_f32[at] : j->kt[j->b->k_fp8[at]];
                vv[(size_t)p * hd + d] = j->b->v_f32 ? j->b->v_f32[at] : j->vt[j->b->v_fp8[at]];
            }
        for (t = 0; t < n; t++) {
            const float *q = j->b->q + (size_t)t * (size_t)nq + (size_t)h * (size_t)hd;
            float *row = sc + (size_t)t * (size_t)len, *prow = pr + (size_t)t * (size_t)len;
            float mx = -3.4e38f, sum = 0.0f;
            for (d = 0; d < hd; d++) qs[(size_t)t * hd + d] = q[d] * scaling;
            for (p = 0; p < len; p++) row[p] = fp8q__dot(q, kk + (size_t)p * hd, (size_t)hd) * scaling;
            for (p = 0; p <= j->p0 + t; p++) mx = row[p] > mx ? row[p] : mx;
            for (p = 0; p < len; p++) sum += (prow[p] = p <= j->p0 + t ? expf(row[p] - mx) : 0.0f);
            for (p = 0; p < len; p++) prow[p] /= sum;
        }
        fp8q__observe(s, j->layer, FP8Q_MOD_QK, FP8Q_IO_INPUT, 0, h, qs, n, hd);
        fp8q__observe(s, j->layer, FP8Q_MOD_QK, FP8Q_IO_INPUT, 1, h, kk, len, hd);
        fp8q__observe(s, j->layer, FP8Q_MOD_QK, FP8Q_IO_OUTPUT, 0, h, sc, n, len);
        for (t = 0; t < n; t++) /* the causal mask, as the softmax's input sees it */
            for (p = j->p0 + t + 1; p < len; p++) sc[(size_t)t * (size_t)len + (size_t)p] = ninf;
        fp8q__observe(s, j->layer, FP8Q_MOD_SOFTMAX, FP8Q_IO_INPUT, 0, h, sc, n, len);
        fp8q__observe(s, j->layer, FP8Q_MOD_SOFTMAX, FP8Q_IO_OUTPUT, 0, h, pr, n, len);
        fp8q__observe(s, j->layer, FP8Q_MOD_AV, FP8Q_IO_INPUT, 0, h, pr, n, len);
        fp8q__observe(s, j->layer, FP8Q_MOD_AV, FP8Q_IO_INPUT, 1, h, vv, len, hd);
        for (t = 0; t < n; t++) /* the output: this head's slice of the forward's result */
            for (d = 0; d < hd; d++) qs[(size_t)t * hd + d] = j->b->xb2[(size_t)t * (size_t)nq + (size_t)h * hd + d];
        fp8q__observe(s, j->layer, FP8Q_MOD_AV, FP8Q_IO_OUTPUT, 0, h, qs, n, hd);
    }
    free(qs), free(kk), free(sc);
    return FP8Q_OK;
}

/* Writes rows k[n][kvd], v[n][kvd] into the cache at positions p0.. */
static void fp8q__kv_store(const fp8q_model *m, fp8q__state_buf *b, int layer, int max_seq, int p0, int n)
{
    const fp8q_llama_config *c = &m->config;
    const size_t kvd = (size_t)c->num_key_value_heads * (size_t)c->head_dim;
    const size_t off = ((size_t)layer * (size_t)max_seq + (size_t)p0) * kvd, cnt = (size_t)n * kvd;
    size_t i;
    if (b->k_f32) {
        FP8Q__MEMCPY(b->k_f32 + off, b->k, cnt * sizeof(float));
        FP8Q__MEMCPY(b->v_f32 + off, b->v, cnt * sizeof(float));
    } else {
        const fp8q_format f = m->opt.kv_cache == FP8Q_KV_E5M2 ? FP8Q_E5M2 : FP8Q_E4M3;
        const float ks = m->layers[layer].k_scale, vs = m->layers[layer].v_scale;
        if (m->kv_qmax > 0) { /* INC fp8_inc: x * (1/s), clamped to the device's range */
            const float ik = 1.0f / ks, iv = 1.0f / vs, mx = m->kv_qmax;
            for (i = 0; i < cnt; i++) {
                b->k_fp8[off + i] = fp8q_from_f32(fp8q__fmaxf(-mx, fp8q__fminf(b->k[i] * ik, mx)), f, FP8Q_NOSAT);
                b->v_fp8[off + i] = fp8q_from_f32(fp8q__fmaxf(-mx, fp8q__fminf(b->v[i] * iv, mx)), f, FP8Q_NOSAT);
            }
        } else
            for (i = 0; i < cnt; i++) {
                b->k_fp8[off + i] = fp8q_from_f32(b->k[i] / ks, f, FP8Q_SATFINITE);
                b->v_fp8[off + i] = fp8q_from_f32(b->v[i] / vs, f, FP8Q_SATFINITE);
            }
    }
}

static fp8q_result fp8q__layer_forward(const fp8q_model *m, fp8q_state *s, int l, int n, fp8q_error *err)
{
    const fp8q_llama_config *c = &m->config;
    const fp8q_layer *ly = &m->layers[l];
    fp8q__state_buf *b = (fp8q__state_buf *)s->fp8q__owned;
    const int dim = c->hidden_size, hd = c->head_dim, ff = c->intermediate_size;
    const int nq = c->num_attention_heads * hd, kvd = c->num_key_value_heads * hd;
    fp8q__attn_job aj;
    fp8q_result r;
    int t, h, i;
    for (t = 0; t < n; t++)
        fp8q__rmsnorm(b->xb + (size_t)t * dim, b->x + (size_t)t * dim, ly->attn_norm, dim, c->rms_norm_eps);
    if ((r = fp8q__module(m, s, l, FP8Q_MOD_Q, &ly->mod[FP8Q_MOD_Q], b->xb, n, b->q, err)) != FP8Q_OK ||
        (r = fp8q__module(m, s, l, FP8Q_MOD_K, &ly->mod[FP8Q_MOD_K], b->xb, n, b->k, err)) != FP8Q_OK ||
        (r = fp8q__module(m, s, l, FP8Q_MOD_V, &ly->mod[FP8Q_MOD_V], b->xb, n, b->v, err)) != FP8Q_OK)
        return r;
    for (t = 0; t < n; t++) {
        for (h = 0; h < c->num_attention_heads; h++)
            fp8q__rope(b->q + (size_t)t * nq + (size_t)h * hd, hd, s->pos + t, m->rope_inv_freq);
        for (h = 0; h < c->num_key_value_heads; h++)
            fp8q__rope(b->k + (size_t)t * kvd + (size_t)h * hd, hd, s->pos + t, m->rope_inv_freq);
    }
    fp8q__kv_store(m, b, l, s->max_seq, s->pos, n);
    if (s->observer) { /* the rows just stored: [layer][pos][kvd] */
        const size_t at = ((size_t)l * (size_t)s->max_seq + (size_t)s->pos) * (size_t)kvd;
        fp8q__observe_codes(s, l, FP8Q_MOD_K_CACHE, b->k, n, kvd, b->k_fp8 ? b->k_fp8 + at : NULL, &ly->k_scale, 1);
        fp8q__observe_codes(s, l, FP8Q_MOD_V_CACHE, b->v, n, kvd, b->v_fp8 ? b->v_fp8 + at : NULL, &ly->v_scale, 1);
    }
    aj.m = m, aj.b = b, aj.layer = l, aj.n = n, aj.p0 = s->pos, aj.max_seq = s->max_seq;
    if (b->k_fp8) {
        const fp8q_format f = m->opt.kv_cache == FP8Q_KV_E5M2 ? FP8Q_E5M2 : FP8Q_E4M3;
        for (i = 0; i < 256; i++) {
            aj.kt[i] = fp8q_to_f32((uint8_t)i, f) * ly->k_scale;
            aj.vt[i] = fp8q_to_f32((uint8_t)i, f) * ly->v_scale;
        }
    }
    fp8q__model_tasks(m, (double)n * (s->pos + n) * c->num_attention_heads * hd * 2,
                      ly->inc_qk[0] > 0 || ly->inc_av[0] > 0 || ly->inc_softmax > 0 ? fp8q__attn_task_inc
                                                                                    : fp8q__attn_task,
                      &aj, (size_t)c->num_attention_heads);
    if (s->observer && (r = fp8q__attn_observe(m, s, &aj, err)) != FP8Q_OK) return r;
    if ((r = fp8q__module(m, s, l, FP8Q_MOD_O, &ly->mod[FP8Q_MOD_O], b->xb2, n, b->xb, err)) != FP8Q_OK) return r;
    for (i = 0; i < n * dim; i++) b->x[i] += b->xb[i];
    for (t = 0; t < n; t++)
        fp8q__rmsnorm(b->xb + (size_t)t * dim, b->x + (size_t)t * dim, ly->ffn_norm, dim, c->rms_norm_eps);
    if ((r = fp8q__module(m, s, l, FP8Q_MOD_GATE, &ly->mod[FP8Q_MOD_GATE], b->xb, n, b->hb, err)) != FP8Q_OK ||
        (r = fp8q__module(m, s, l, FP8Q_MOD_UP, &ly->mod[FP8Q_MOD_UP], b->xb, n, b->hb2, err)) != FP8Q_OK)
        return r;
    for (i = 0; i < n * ff; i++) b->hb[i] = b->hb[i] / (1.0f + expf(-b->hb[i])) * b->hb2[i];
    if ((r = fp8q__module(m, s, l, FP8Q_MOD_DOWN, &ly->mod[FP8Q_MOD_DOWN], b->hb, n, b->xb, err)) != FP8Q_OK) return r;
    for (i = 0; i < n * dim; i++) b->x[i] += b->xb[i];
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_forward(const fp8q_model *m, fp8q_state *s, const int32_t *tokens, int n, float *logits_all,
                                 fp8q_error *err)
{
    const fp8q_llama_config *c;
    fp8q__state_buf *b;
    fp8q_result r;
    int t, l, first;
    float *rowbuf = NULL;
    fp8q__st_err_ok(err);
    if (!m || !m->layers || !s || !s->fp8q__owned || !tokens)
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_forward: NULL model, state or tokens");
    c = &m->config, b = (fp8q__state_buf *)s->fp8q__owned;
    if (n < 1 || n > s->max_batch || n > s->max_seq - s->pos)
        return fp8q__failf(err, FP8Q_ERR_ARG,
                           "fp8q_forward: %d tokens at position %d do not fit (max_batch %d, max_seq %d)", n, s->pos,
                           s->max_batch, s->max_seq);
    for (t = 0; t < n; t++)
        if (tokens[t] < 0 || tokens[t] >= c->vocab_size)
            return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_forward: token %d at index %d is outside [0, %d)",
                               (int)tokens[t], t, c->vocab_size);
    if (m->embed.dtype != FP8Q_F32 && !(rowbuf = (float *)malloc((size_t)c->hidden_size * sizeof(float))))
        return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory");
    for (t = 0; t < n; t++) {
        const float *e = fp8q__matrix_row(&m->embed, tokens[t], rowbuf);
        FP8Q__MEMCPY(b->x + (size_t)t * c->hidden_size, e, (size_t)c->hidden_size * sizeof(float));
    }
    free(rowbuf);
    for (l = 0; l < c->num_hidden_layers; l++)
        if ((r = fp8q__layer_forward(m, s, l, n, err)) != FP8Q_OK) return r;
    s->pos += n;
    first = logits_all ? 0 : n - 1;
    for (t = first; t < n; t++)
        fp8q__rmsnorm(b->xb + (size_t)(t - first) * c->hidden_size, b->x + (size_t)t * c->hidden_size, m->final_norm,
                      c->hidden_size, c->rms_norm_eps);
    r = fp8q__module(m, s, -1, FP8Q_MOD_LM_HEAD, &m->lm_head, b->xb, n - first, logits_all ? logits_all : s->logits,
                     err);
    if (r == FP8Q_OK && logits_all)
        FP8Q__MEMCPY(s->logits, logits_all + (size_t)(n - 1) * c->vocab_size, (size_t)c->vocab_size * sizeof(float));
    return r;
}

/* ---- sampling */

static uint32_t fp8q__xorshift(uint64_t *st)
{
    uint64_t x = *st ? *st : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    *st = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32);
}

typedef struct fp8q__prob {
    float p;
    int i;
} fp8q__prob;

/* Most likely first; equal probabilities by lower index (a total order, so
   the result does not depend on the qsort implementation). */
static int fp8q__prob_cmp(const void *a_, const void *b_)
{
    const fp8q__prob *a = (const fp8q__prob *)a_, *b = (const fp8q__prob *)b_;
    if (a->p != b->p) return a->p > b->p ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

FP8QDEF int fp8q_sample(const float *logits, int vocab, float temperature, float top_p, uint64_t *rng)
{
    int i, best = 0, n;
    float mx, sum = 0.0f, u, acc = 0.0f;
    fp8q__prob *p;
    if (!logits || vocab < 1) return -1;
    for (i = 1; i < vocab; i++)
        if (logits[i] > logits[best]) best = i;
    if (!(temperature > 0.0f) || !rng) return best;
    if (!(p = (fp8q__prob *)malloc((size_t)vocab * sizeof *p))) return best;
    mx = logits[best];
    for (i = 0; i < vocab; i++) p[i].i = i, sum += (p[i].p = expf((logits[i] - mx) / temperature));
    for (i = 0; i < vocab; i++) p[i].p /= sum;
    n = vocab, sum = 1.0f;
    if (top_p > 0.0f && top_p < 1.0f) { /* the nucleus: the most likely tokens until top_p */
        qsort(p, (size_t)vocab, sizeof *p, fp8q__prob_cmp);
        for (n = 0, sum = 0.0f; n < vocab && sum < top_p;) sum += p[n++].p;
    } else {
        for (sum = 0.0f, i = 0; i < vocab; i++) sum += p[i].p;
    }
    u = (float)(fp8q__xorshift(rng) >> 8) * (1.0f / 16777216.0f) * sum;
    best = p[n - 1].i;
    for (i = 0; i < n; i++)
        if ((acc += p[i].p) > u) {
            best = p[i].i;
            break;
        }
    free(p);
    return best;
}

/* ---- writing checkpoints */

/* %.17g without the locale: any decimal separator becomes '.'. */
static void fp8q__fmt_double(char *buf, size_t cap, double v)
{
    size_t i;
    (void)snprintf(buf, cap, "%.17g", v);
    for (i = 0; buf[i]; i++)
        if (!((buf[i] >= '0' && buf[i] <= '9') || buf[i] == '-' || buf[i] == '+' || buf[i] == 'e' || buf[i] == 'E'))
            buf[i] = '.';
}

static const char *fp8q__torch_dtype_name(fp8q_dtype d)
{
    return d == FP8Q_BF16 ? "bfloat16" : d == FP8Q_F16 ? "float16" : "float32";
}

/* config.json for cfg (keys as transformers' LlamaConfig writes them). */
static fp8q_result fp8q__write_config(const char *dir, const fp8q_llama_config *c, fp8q_dtype dtype, fp8q_error *err)
{
    char path[1024], eps[40], theta[40], rope[320] = "null";
    FILE *f;
    int ok;
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path)
        return fp8q__failf(err, FP8Q_ERR_ARG, "%.60s: path too long", dir);
    fp8q__fmt_double(eps, sizeof eps, c->rms_norm_eps);
    fp8q__fmt_double(theta, sizeof theta, c->rope_theta);
    if (c->rope_llama3) {
        char fa[40], lo[40], hi[40];
        fp8q__fmt_double(fa, sizeof fa, c->rope_factor);
        fp8q__fmt_double(lo, sizeof lo, c->rope_low_freq_factor);
        fp8q__fmt_double(hi, sizeof hi, c->rope_high_freq_factor);
        (void)snprintf(rope, sizeof rope,
                       "{\"factor\": %s, \"high_freq_factor\": %s, \"low_freq_factor\": %s, "
                       "\"original_max_position_embeddings\": %d, \"rope_type\": \"llama3\"}",
                       fa, hi, lo, c->rope_original_max_position);
    }
    if (!(f = fopen(path, "wb"))) return fp8q__failf(err, FP8Q_ERR_IO, "%s: cannot create", path);
    ok = fprintf(f,
                 "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"model_type\": \"llama\",\n"
                 "  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n  \"num_hidden_layers\": %d,\n"
                 "  \"num_attention_heads\": %d,\n  \"num_key_value_heads\": %d,\n  \"head_dim\": %d,\n"
                 "  \"vocab_size\": %d,\n  \"max_position_embeddings\": %d,\n  \"rms_norm_eps\": %s,\n"
                 "  \"rope_theta\": %s,\n  \"rope_scaling\": %s,\n  \"tie_word_embeddings\": %s,\n"
                 "  \"hidden_act\": \"silu\",\n  \"attention_bias\": false,\n  \"mlp_bias\": false,\n"
                 "  \"torch_dtype\": \"%s\"\n}\n",
                 c->hidden_size, c->intermediate_size, c->num_hidden_layers, c->num_attention_heads,
                 c->num_key_value_heads, c->head_dim, c->vocab_size, c->max_position_embeddings, eps, theta, rope,
                 c->tie_word_embeddings ? "true" : "false", fp8q__torch_dtype_name(dtype)) > 0;
    if (fclose(f) != 0 || !ok) {
        (void)remove(path);
        return fp8q__failf(err, FP8Q_ERR_IO, "%s: write failed", path);
    }
    return FP8Q_OK;
}

/* One tensor of a random model: kind 0 linear (+-sqrt(3/in)), 1 embedding
   (+-1), 2 norm (1 +- 0.1), 3 a linear writing into the residual stream
   (o_proj, down_proj: +-sqrt(3/in/(2 layers)), GPT-2's scaled init, so the
   stream does not drown the token's own embedding). */
typedef struct fp8q__rand_tensor {
    char name[96];
    uint64_t shape[2];
    int ndim, kind;
} fp8q__rand_tensor;

typedef struct fp8q__rand_ctx {
    const fp8q__rand_tensor *t;
    int n_layers;
    fp8q_dtype dtype;
    uint64_t seed;
} fp8q__rand_ctx;

static uint64_t fp8q__splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static fp8q_result fp8q__rand_fill(void *ctx_, size_t i, void *dst, size_t bytes, fp8q_error *err)
{
    const fp8q__rand_ctx *ctx = (const fp8q__rand_ctx *)ctx_;
    const fp8q__rand_tensor *t = &ctx->t[i];
    const size_t n = bytes / (ctx->dtype == FP8Q_F32 ? 4u : 2u);
    uint64_t st = ctx->seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(i + 1));
    const float a = t->kind == 0   ? (float)sqrt(3.0 / (double)t->shape[1])
                    : t->kind == 3 ? (float)sqrt(3.0 / (double)t->shape[1] / (2.0 * ctx->n_layers))
                    : t->kind == 1 ? 1.0f
                                   : 0.1f;
    uint8_t *p = (uint8_t *)dst;
    size_t k;
    (void)err;
    for (k = 0; k < n; k++) {
        const float u = (float)(int32_t)(fp8q__splitmix64(&st) >> 40) * (1.0f / 8388608.0f) - 1.0f; /* [-1, 1) */
        const float v = (t->kind == 2 ? 1.0f : 0.0f) + a * u;
        if (ctx->dtype == FP8Q_F32) {
            uint32_t b = fp8q__f32_bits(v);
            p[4 * k] = (uint8_t)b, p[4 * k + 1] = (uint8_t)(b >> 8), p[4 * k + 2] = (uint8_t)(b >> 16),
                  p[4 * k + 3] = (uint8_t)(b >> 24);
        } else {
            uint16_t h = ctx->dtype == FP8Q_BF16 ? fp8q_f32_to_bf16(v) : fp8q_f32_to_f16(v);
            p[2 * k] = (uint8_t)h, p[2 * k + 1] = (uint8_t)(h >> 8);
        }
    }
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_write_random_llama(const char *dir, const fp8q_llama_config *cfg, fp8q_dtype dtype,
                                            uint64_t seed, fp8q_error *err)
{
    static const char *const norm_names[2] = {"input_layernorm", "post_attention_layernorm"};
    fp8q__rand_tensor *t;
    fp8q_tensor_out *out;
    fp8q__rand_ctx ctx;
    char path[1024];
    size_t n = 0, cap, i;
    int l, k;
    fp8q_result r;
    fp8q__st_err_ok(err);
    if (!dir || !cfg || (dtype != FP8Q_F32 && dtype != FP8Q_BF16 && dtype != FP8Q_F16))
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_write_random_llama: NULL argument or dtype not F32/BF16/F16");
    if (cfg->hidden_size < 1 || cfg->num_hidden_layers < 1 || cfg->num_attention_heads < 1 ||
        cfg->num_key_value_heads < 1 || cfg->head_dim < 2 || cfg->vocab_size < 1 || cfg->intermediate_size < 1 ||
        cfg->num_hidden_layers > 4096 || cfg->num_attention_heads % cfg->num_key_value_heads)
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_write_random_llama: invalid config");
    if (snprintf(path, sizeof path, "%s/model.safetensors", dir) >= (int)sizeof path)
        return fp8q__failf(err, FP8Q_ERR_ARG, "%.60s: path too long", dir);
    cap = (size_t)cfg->num_hidden_layers * 9 + 3;
    t = (fp8q__rand_tensor *)calloc(cap, sizeof *t);
    out = (fp8q_tensor_out *)calloc(cap, sizeof *out);
    if (!t || !out) {
        free(t), free(out);
        return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory");
    }
#define FP8Q__RT(nm_, rows_, cols_, kind_)                                                                             \
    ((void)snprintf(t[n].name, sizeof t[n].name, "%s", nm_), t[n].shape[0] = (uint64_t)(rows_),                        \
     t[n].shape[1] = (uint64_t)(cols_), t[n].ndim = (cols_) ? 2 : 1, t[n].kind = (kind_), n++)
    FP8Q__RT("model.embed_tokens.weight", cfg->vocab_size, cfg->hidden_size, 1);
    for (l = 0; l < cfg->num_hidden_layers; l++) {
        const int hd = cfg->head_dim, dim = cfg->hidden_size, ff = cfg->intermediate_size;
        const int outs[7] = {cfg->num_attention_heads * hd,
                             cfg->num_key_value_heads * hd,
                             cfg->num_key_value_heads * hd,
                             dim,
                             ff,
                             ff,
                             dim};
        const int ins[7] = {dim, dim, dim, cfg->num_attention_heads * hd, dim, dim, ff};
        char nm[96];
        for (k = 0; k < 2; k++) {
            (void)snprintf(nm, sizeof nm, "model.layers.%d.%s.weight", l, norm_names[k]);
            FP8Q__RT(nm, dim, 0, 2);
        }
        for (k = 0; k < 7; k++) {
            (void)snprintf(nm, sizeof nm, "model.layers.%d.%s.%s.weight", l, fp8q__module_parent[k],
                           fp8q__module_names[k]);
            FP8Q__RT(nm, outs[k], ins[k], k == FP8Q_MOD_O || k == FP8Q_MOD_DOWN ? 3 : 0);
        }
    }
    FP8Q__RT("model.norm.weight", cfg->hidden_size, 0, 2);
    if (!cfg->tie_word_embeddings) FP8Q__RT("lm_head.weight", cfg->vocab_size, cfg->hidden_size, 0);
#undef FP8Q__RT
    for (i = 0; i < n; i++)
        out[i].name = t[i].name, out[i].dtype = dtype, out[i].ndim = t[i].ndim, out[i].shape = t[i].shape;
    ctx.t = t, ctx.n_layers = cfg->num_hidden_layers, ctx.dtype = dtype, ctx.seed = seed;
    r = fp8q__write_config(dir, cfg, dtype, err);
    if (r == FP8Q_OK) {
        static const char *const mk[1] = {"format"}, *const mv[1] = {"pt"};
        r = fp8q_safetensors_write_stream(path, out, n, mk, mv, 1, fp8q__rand_fill, &ctx, err);
    }
    free(t), free(out);
    return r;
}

/* ---- fp8q_quantize_checkpoint */

enum { FP8Q__QO_COPY = 0, FP8Q__QO_WEIGHT, FP8Q__QO_WEIGHT_SCALE, FP8Q__QO_INPUT_SCALE, FP8Q__QO_KV_SCALE };

typedef struct fp8q__qmod { /* one quantized Linear */
    char prefix[128];       /* "model.layers.3.self_attn.q_proj" */
    int layer;              /* -1: lm_head */
    fp8q_module mod;
    float *scales; /* weight scales once the weight is written */
    size_t n_scales;
} fp8q__qmod;

typedef struct fp8q__qtensor { /* one output tensor */
    char name[160];
    int kind;
    const fp8q_safetensors *file; /* COPY, WEIGHT: the input tensor */
    const fp8q_tensor_info *src;
    int mod;         /* WEIGHT, WEIGHT_SCALE, INPUT_SCALE: index into the module table */
    int layer, kv_v; /* KV_SCALE */
    fp8q_dtype dtype;
    int ndim;
    uint64_t shape[2];
} fp8q__qtensor;

typedef struct fp8q__quantizer {
    const fp8q_quantize_options *opt;
    fp8q_checkpoint ck;
    fp8q_llama_config cfg;
    fp8q_dtype model_dtype;      /* of the float weights: scales are stored in it (F16 models: F32) */
    const fp8q_recipe *w_recipe; /* its x / s, clamp and cast; the scales are computed here */
    fp8q__qmod *mods;
    size_t n_mods;
    fp8q__qtensor *out;
    size_t n_out;
    float *mn, *mx;     /* calibration statistics: [layers + 1][FP8Q_MOD_COUNT] */
    float *bmin, *bmax; /* the same within the current batch */
    float *tmp;
    size_t tmp_cap;
    uint64_t done, total; /* progress (weight bytes) */
} fp8q__quantizer;

/* Calibration observer: the minimum and maximum of every module input and
   of K / V (after RoPE) within one calibration sequence (one batch). */
static void fp8q__qz_observe(void *ctx, const fp8q_observation *o)
{
    fp8q__quantizer *Q = (fp8q__quantizer *)ctx;
    const size_t at = (size_t)(o->layer < 0 ? Q->cfg.num_hidden_layers : o->layer) * FP8Q_MOD_COUNT + (size_t)o->mod;
    const float *x = o->x;
    size_t i, n = (size_t)o->rows * (size_t)o->cols;
    if (o->io != FP8Q_IO_INPUT || o->index != 0 || o->mod > FP8Q_MOD_V_CACHE) return;
    for (i = 0; i < n; i++) {
        Q->bmin[at] = fp8q__fminf(Q->bmin[at], x[i]);
        Q->bmax[at] = fp8q__fmaxf(Q->bmax[at], x[i]);
    }
}

/* Folds one batch into the statistics, as llm-compressor's observers do:
   Linear inputs with static_minmax (running min and max over all batches);
   K and V with its default "minmax" observer for the KV-cache scheme, a
   moving average with averaging constant 0.01 (lc observers/min_max.py,
   helpers.py lerp: prev * 0.99 + new * 0.01, each step in the model dtype),
   the first batch taken as it is. */
static void fp8q__qz_fold(fp8q__quantizer *Q, int first)
{
    const fp8q_precision hp = Q->model_dtype == FP8Q_BF16 ? FP8Q_HP_BF16 : FP8Q_HP_F32;
    size_t i, n = ((size_t)Q->cfg.num_hidden_layers + 1) * FP8Q_MOD_COUNT;
    for (i = 0; i < n; i++) {
        const int kv = i % FP8Q_MOD_COUNT == FP8Q_MOD_K_CACHE || i % FP8Q_MOD_COUNT == FP8Q_MOD_V_CACHE;
        const float lo = fp8q__round_hp(Q->bmin[i], hp), hi = fp8q__round_hp(Q->bmax[i], hp);
        if (first) {
            Q->mn[i] = lo, Q->mx[i] = hi;
        } else if (kv) {
            Q->mn[i] = fp8q__round_hp(fp8q__round_hp(Q->mn[i] * 0.99f, hp) + fp8q__round_hp(lo * 0.01f, hp), hp);
            Q->mx[i] = fp8q__round_hp(fp8q__round_hp(Q->mx[i] * 0.99f, hp) + fp8q__round_hp(hi * 0.01f, hp), hp);
        } else {
            Q->mn[i] = fp8q__fminf(Q->mn[i], lo), Q->mx[i] = fp8q__fmaxf(Q->mx[i], hi);
        }
        Q->bmin[i] = 3.4e38f, Q->bmax[i] = -3.4e38f;
    }
}

/* amax of a statistic: max(|min(mn, 0)|, max(mx, 0)) (calculate_qparams). */
static float fp8q__qz_amax(const fp8q__quantizer *Q, int layer, fp8q_module mod)
{
    const size_t at = (size_t)(layer < 0 ? Q->cfg.num_hidden_layers : layer) * FP8Q_MOD_COUNT + (size_t)mod;
    return fp8q__fmaxf(-fp8q__fminf(Q->mn[at], 0.0f), fp8q__fmaxf(Q->mx[at], 0.0f));
}

static fp8q_result fp8q__qz_calibrate(fp8q__quantizer *Q, const char *in_dir, fp8q_error *err)
{
    const fp8q_quantize_options *o = Q->opt;
    fp8q_model m;
    fp8q_state s;
    fp8q_model_options mo;
    fp8q_result r;
    int i;
    memset(&mo, 0, sizeof mo);
    mo.quant = FP8Q_QUANT_NONE, mo.threads = o->threads, mo.gemm = FP8Q_GEMM_REFERENCE;
    if ((r = fp8q_model_load(&m, in_dir, &mo, err)) != FP8Q_OK) return r;
    if ((r = fp8q_state_init(&s, &m, o->calib_len, o->calib_len, err)) != FP8Q_OK) {
        fp8q_model_free(&m);
        return r;
    }
    s.observer = fp8q__qz_observe, s.observer_ctx = Q;
    fp8q__qz_fold(Q, 1); /* resets the batch statistics */
    for (i = 0; i < o->n_calib && r == FP8Q_OK; i++) {
        fp8q_state_reset(&s);
        r = fp8q_forward(&m, &s, o->calib_tokens + (size_t)i * (size_t)o->calib_len, o->calib_len, NULL, err);
        if (r != FP8Q_OK) {
            char pre[48];
            (void)snprintf(pre, sizeof pre, "calibration sequence %d: ", i);
            fp8q__st_prefix(err, pre);
        } else {
            fp8q__qz_fold(Q, i == 0);
        }
    }
    fp8q_state_free(&s);
    fp8q_model_free(&m);
    return r;
}

/* Is module `prefix` left unquantized (opt->ignore, default {"lm_head"})? */
static fp8q_result fp8q__qz_ignored(const fp8q_quantize_options *o, const char *prefix, int *hit, fp8q_error *err)
{
    static const char *const def[1] = {"lm_head"};
    const char *const *list = o->ignore ? o->ignore : def;
    int i, n = o->ignore ? o->n_ignore : 1;
    *hit = 0;
    for (i = 0; i < n && !*hit; i++) {
        if (!list[i]) continue;
        if (strncmp(list[i], "re:", 3) == 0) {
            fp8q_result r = fp8q_regex(list[i] + 3, prefix, FP8Q_REGEX_MATCH, hit, err);
            if (r != FP8Q_OK) return r;
        } else {
            *hit = strcmp(list[i], prefix) == 0;
        }
    }
    return FP8Q_OK;
}

/* "model.layers.N.self_attn.q_proj.weight" -> layer N, module; lm_head.weight -> -1, LM_HEAD. */
static int fp8q__qz_linear_name(const char *name, char *prefix, size_t cap, int *layer, fp8q_module *mod)
{
    size_t n = strlen(name);
    int l, k, used = 0;
    if (n < 8 || strcmp(name + n - 7, ".weight") != 0 || n - 7 >= cap) return 0;
    FP8Q__MEMCPY(prefix, name, n - 7);
    prefix[n - 7] = 0;
    if (strcmp(prefix, "lm_head") == 0) {
        *layer = -1, *mod = FP8Q_MOD_LM_HEAD;
        return 1;
    }
    if (sscanf(prefix, "model.layers.%d.%n", &l, &used) != 1 || used == 0 || l < 0) return 0;
    for (k = 0; k <= FP8Q_MOD_DOWN; k++) {
        char want[64];
        (void)snprintf(want, sizeof want, "%s.%s", fp8q__module_parent[k], fp8q__module_names[k]);
        if (strcmp(prefix + used, want) == 0) {
            *layer = l, *mod = (fp8q_module)k;
            return 1;
        }
    }
    return 0;
}

static int fp8q__qtensor_cmp(const void *a, const void *b)
{
    return strcmp(((const fp8q__qtensor *)a)->name, ((const fp8q__qtensor *)b)->name);
}

static fp8q__qtensor *fp8q__qz_add(fp8q__quantizer *Q, const char *name, int kind, fp8q_dtype dtype, int ndim,
                                   uint64_t d0, uint64_t d1)
{
    fp8q__qtensor *t = &Q->out[Q->n_out++];
    (void)snprintf(t->name, sizeof t->name, "%s", name);
    t->kind = kind, t->dtype = dtype, t->ndim = ndim, t->shape[0] = d0, t->shape[1] = d1, t->mod = -1;
    return t;
}

/* The output tensor list: every input tensor (quantized linears replaced by
   weight + weight_scale (+ input_scale)), plus KV scales; sorted by name. */
static fp8q_result fp8q__qz_plan(fp8q__quantizer *Q, fp8q_error *err)
{
    const int stat = Q->opt->scheme == FP8Q_CT_FP8;
    const fp8q_dtype sd = Q->model_dtype == FP8Q_F16 ? FP8Q_F32 : Q->model_dtype;
    size_t f, i, cap = Q->ck.n_tensors * 3 + (size_t)Q->cfg.num_hidden_layers * 2 + 1;
    fp8q_result r;
    if (!(Q->out = (fp8q__qtensor *)calloc(cap, sizeof *Q->out)) ||
        !(Q->mods = (fp8q__qmod *)calloc(Q->ck.n_tensors + 1, sizeof *Q->mods)))
        return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory");
    for (f = 0; f < Q->ck.n_files; f++)
        for (i = 0; i < Q->ck.files[f].n_tensors; i++) {
            const fp8q_tensor_info *t = &Q->ck.files[f].tensors[i];
            char prefix[128], name[160];
            int layer, ign = 1;
            fp8q_module mod;
            fp8q__qtensor *o;
            if (fp8q__qz_linear_name(t->name, prefix, sizeof prefix, &layer, &mod) &&
                (r = fp8q__qz_ignored(Q->opt, prefix, &ign, err)) != FP8Q_OK)
                return r;
            if (ign || !fp8q__is_float_weight(t->dtype) || t->ndim != 2) { /* copied as it is */
                o = fp8q__qz_add(Q, t->name, FP8Q__QO_COPY, t->dtype, t->ndim, 0, 0);
                o->file = &Q->ck.files[f], o->src = t;
                continue;
            }
            {
                fp8q__qmod *qm = &Q->mods[Q->n_mods];
                (void)snprintf(qm->prefix, sizeof qm->prefix, "%s", prefix);
                qm->layer = layer, qm->mod = mod;
                o = fp8q__qz_add(Q, t->name, FP8Q__QO_WEIGHT, FP8Q_F8_E4M3, 2, t->shape[0], t->shape[1]);
                o->file = &Q->ck.files[f], o->src = t, o->mod = (int)Q->n_mods;
                (void)snprintf(name, sizeof name, "%s.weight_scale", prefix);
                o = fp8q__qz_add(Q, name, FP8Q__QO_WEIGHT_SCALE, sd, stat ? 1 : 2, stat ? 1 : t->shape[0], 1);
                o->mod = (int)Q->n_mods;
                if (stat) {
                    (void)snprintf(name, sizeof name, "%s.input_scale", prefix);
                    o = fp8q__qz_add(Q, name, FP8Q__QO_INPUT_SCALE, sd, 1, 1, 0);
                    o->mod = (int)Q->n_mods;
                }
                Q->total += t->size;
                Q->n_mods++;
            }
        }
    if (Q->opt->kv_cache)
        for (i = 0; i < (size_t)Q->cfg.num_hidden_layers; i++) {
            char name[160];
            int v;
            for (v = 0; v < 2; v++) {
                fp8q__qtensor *o;
                (void)snprintf(name, sizeof name, "model.layers.%d.self_attn.%s", (int)i, v ? "v_scale" : "k_scale");
                o = fp8q__qz_add(Q, name, FP8Q__QO_KV_SCALE, sd, 1, 1, 0);
                o->layer = (int)i, o->kv_v = v;
            }
        }
    if (Q->n_mods == 0)
        return fp8q__failf(err, FP8Q_ERR_ARG, "nothing to quantize: no float Linear weights outside the ignore list");
    qsort(Q->out, Q->n_out, sizeof *Q->out, fp8q__qtensor_cmp);
    return FP8Q_OK;
}

/* A float32 value in the model dtype, little-endian, at dst. */
static void fp8q__qz_put_scale(uint8_t *dst, fp8q_dtype d, float v)
{
    if (d == FP8Q_BF16) {
        uint16_t h = fp8q_f32_to_bf16(v);
        dst[0] = (uint8_t)h, dst[1] = (uint8_t)(h >> 8);
    } else {
        uint32_t b = fp8q__f32_bits(v);
        dst[0] = (uint8_t)b, dst[1] = (uint8_t)(b >> 8), dst[2] = (uint8_t)(b >> 16), dst[3] = (uint8_t)(b >> 24);
    }
}

/* A static scale from a calibrated amax: amax / 448 in the model dtype; an
   exact 0 becomes that dtype's epsilon (compressed-tensors calculate_qparams). */
static float fp8q__qz_scale(const fp8q__quantizer *Q, float amax)
{
    const int bf16 = Q->model_dtype == FP8Q_BF16;
    float s = fp8q__round_hp(fp8q__round_hp(amax, bf16 ? FP8Q_HP_BF16 : FP8Q_HP_F32) / 448.0f,
                             bf16 ? FP8Q_HP_BF16 : FP8Q_HP_F32);
    return s == 0.0f ? (bf16 ? 0.0078125f : FP8Q__FLT_EPSILON) : s;
}

static fp8q_result fp8q__qz_fill(void *ctx, size_t i, void *dst, size_t bytes, fp8q_error *err)
{
    fp8q__quantizer *Q = (fp8q__quantizer *)ctx;
    const fp8q__qtensor *t = &Q->out[i];
    uint8_t *d = (uint8_t *)dst;
    const size_t es = t->dtype == FP8Q_BF16 ? 2 : 4;
    size_t k;
    if (t->kind == FP8Q__QO_COPY) {
        const uint8_t *src = fp8q_safetensors_bytes(t->file, t->src);
        if (!src || t->src->size != bytes)
            return fp8q__failf(err, FP8Q_ERR_PARSE, "tensor '%s' is outside its file", t->name);
        FP8Q__MEMCPY(d, src, bytes);
        fp8q_safetensors_release(t->file, t->src);
    } else if (t->kind == FP8Q__QO_WEIGHT) {
        fp8q__qmod *qm = &Q->mods[t->mod];
        const size_t rows = (size_t)t->shape[0], cols = (size_t)t->shape[1];
        fp8q_result r;
        if (rows * cols > Q->tmp_cap) {
            float *p = (float *)realloc(Q->tmp, rows * cols * sizeof(float));
            if (!p) return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory for tensor '%s'", t->name);
            Q->tmp = p, Q->tmp_cap = rows * cols;
        }
        if ((r = fp8q_safetensors_read_f32(t->file, t->src, Q->tmp, err)) != FP8Q_OK) return r;
        fp8q_safetensors_release(t->file, t->src);
        qm->n_scales = fp8q_scale_count(Q->w_recipe, rows, cols);
        if (!(qm->scales = (float *)malloc(qm->n_scales * sizeof(float))))
            return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory");
        for (k = 0; k < qm->n_scales; k++) /* per tensor: one amax; per channel: one per row */
            qm->scales[k] = fp8q__qz_scale(
                Q, fp8q__amax(Q->tmp + k * (qm->n_scales > 1 ? cols : 0), qm->n_scales > 1 ? cols : rows * cols));
        for (k = 0; k < qm->n_scales; k++)
            if (!(qm->scales[k] <= 3.40282347e38f))
                return fp8q__failf(err, FP8Q_ERR_PARSE, "tensor '%s' has non-finite values", t->name);
        (void)fp8q_quantize(d, Q->tmp, rows, cols, qm->scales, Q->w_recipe);
        Q->done += t->src->size;
        if (Q->opt->progress) Q->opt->progress(Q->opt->progress_ctx, Q->done, Q->total);
    } else if (t->kind == FP8Q__QO_WEIGHT_SCALE) {
        const fp8q__qmod *qm = &Q->mods[t->mod];
        if (!qm->scales || qm->n_scales * es != bytes)
            return fp8q__failf(err, FP8Q_ERR_ARG, "internal: scales of '%s' before its weight", qm->prefix);
        for (k = 0; k < qm->n_scales; k++) fp8q__qz_put_scale(d + k * es, t->dtype, qm->scales[k]);
    } else if (t->kind == FP8Q__QO_INPUT_SCALE) {
        const fp8q__qmod *qm = &Q->mods[t->mod];
        fp8q__qz_put_scale(d, t->dtype, fp8q__qz_scale(Q, fp8q__qz_amax(Q, qm->layer, qm->mod)));
    } else {
        fp8q__qz_put_scale(
            d, t->dtype, fp8q__qz_scale(Q, fp8q__qz_amax(Q, t->layer, t->kv_v ? FP8Q_MOD_V_CACHE : FP8Q_MOD_K_CACHE)));
    }
    return FP8Q_OK;
}

static const char *const fp8q__ct_args_tail =
    "\"group_size\": null, \"num_bits\": 8, \"observer\": %s, \"observer_kwargs\": {}, \"scale_dtype\": null, "
    "\"strategy\": \"%s\", \"symmetric\": true, \"type\": \"float\", \"zp_dtype\": null}";

/* quantization_config as llm-compressor (compressed-tensors 0.19) writes it. */
static int fp8q__qz_qconfig(const fp8q__quantizer *Q, char *buf, size_t cap)
{
    const int stat = Q->opt->scheme == FP8Q_CT_FP8;
    size_t n = 0;
    int i;
    char args[320];
#define FP8Q__QC_PUT(...) (n += (size_t)snprintf(buf + (n < cap ? n : cap), n < cap ? cap - n : 0, __VA_ARGS__))
    FP8Q__QC_PUT("{\"config_groups\": {\"group_0\": {\"format\": \"float-quantized\", \"input_activations\": "
                 "{\"actorder\": null, \"block_structure\": null, \"dynamic\": %s, ",
                 stat ? "false" : "true");
    (void)snprintf(args, sizeof args, fp8q__ct_args_tail, stat ? "\"static_minmax\"" : "null",
                   stat ? "tensor" : "token");
    FP8Q__QC_PUT("%s, \"output_activations\": null, \"targets\": [\"Linear\"], \"weights\": {\"actorder\": null, "
                 "\"block_structure\": null, \"dynamic\": false, ",
                 args);
    (void)snprintf(args, sizeof args, fp8q__ct_args_tail, "\"memoryless_minmax\"", stat ? "tensor" : "channel");
    FP8Q__QC_PUT("%s}}, \"format\": \"float-quantized\", \"global_compression_ratio\": null, \"ignore\": [", args);
    if (!Q->opt->ignore)
        FP8Q__QC_PUT("\"lm_head\"");
    else
        for (i = 0; i < Q->opt->n_ignore; i++) {
            const char *s = Q->opt->ignore[i];
            FP8Q__QC_PUT("%s\"", i ? ", " : "");
            for (; s && *s; s++)
                FP8Q__QC_PUT(*s == '"' || *s == '\\' ? "\\%c" : (unsigned char)*s < 0x20 ? "\\u%04x" : "%c", *s);
            FP8Q__QC_PUT("\"");
        }
    FP8Q__QC_PUT("], \"kv_cache_scheme\": ");
    if (Q->opt->kv_cache) {
        (void)snprintf(args, sizeof args, fp8q__ct_args_tail, "null", "tensor");
        FP8Q__QC_PUT("{\"actorder\": null, \"block_structure\": null, \"dynamic\": false, %s", args);
    } else {
        FP8Q__QC_PUT("null");
    }
    FP8Q__QC_PUT(", \"quant_method\": \"compressed-tensors\", \"quantization_status\": \"compressed\", "
                 "\"sparsity_config\": {}, \"transform_config\": {}, \"version\": \"0.19.0\"}");
#undef FP8Q__QC_PUT
    return n < cap;
}

/* OUT/config.json: the input's text with "quantization_config" added (or
   replacing a null one). */
static fp8q_result fp8q__qz_config(const fp8q__quantizer *Q, const char *in_dir, const char *out_dir, fp8q_error *err)
{
    char *path = NULL, *text = NULL, *qc = NULL;
    size_t len = 0, at, skip = 0;
    fp8q_json j;
    fp8q_result r;
    FILE *f = NULL;
    const size_t qcap = 4096 + (size_t)Q->opt->n_ignore * 6 * 512;
    memset(&j, 0, sizeof j);
    if (!(path = (char *)malloc(strlen(in_dir) + strlen(out_dir) + 16)) || !(qc = (char *)malloc(qcap))) {
        r = fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory");
        goto done;
    }
    (void)sprintf(path, "%s/config.json", in_dir);
    if ((r = fp8q__cfg_read(path, &text, &len, NULL, err)) != FP8Q_OK) goto done;
    if ((r = fp8q_json_parse(&j, text, len, 0, err)) != FP8Q_OK) goto done;
    {
        size_t t = fp8q_json_get(&j, 0, "quantization_config");
        if (t && j.tok[t].type != FP8Q_JSON_NULL) {
            r = fp8q__failf(err, FP8Q_ERR_UNSUPPORTED, "%s: the checkpoint is already quantized", path);
            goto done;
        }
        at = t ? j.tok[t].start : j.tok[0].end - 1; /* the null, or the closing brace */
        skip = t ? 4 : 0;
    }
    if (!fp8q__qz_qconfig(Q, qc, qcap)) {
        r = fp8q__failf(err, FP8Q_ERR_LIMIT, "quantization_config too long");
        goto done;
    }
    (void)sprintf(path, "%s/config.json", out_dir);
    if (!(f = fopen(path, "wb"))) {
        r = fp8q__failf(err, FP8Q_ERR_IO, "%s: cannot create", path);
        goto done;
    }
    {
        size_t e = at; /* drop whitespace before the closing brace */
        while (!skip && e > 0 &&
               (text[e - 1] == ' ' || text[e - 1] == '\n' || text[e - 1] == '\r' || text[e - 1] == '\t'))
            e--;
        (void)fwrite(text, 1, e, f);
        if (!skip) (void)fputs(j.tok[0].size ? ",\n  \"quantization_config\": " : "\n  \"quantization_config\": ", f);
        (void)fputs(qc, f);
        if (!skip) (void)fputs("\n", f);
        (void)fwrite(text + at + skip, 1, len - at - skip, f);
    }
    r = ferror(f) ? fp8q__failf(err, FP8Q_ERR_IO, "%s: write failed", path) : FP8Q_OK;
done:
    if (f && fclose(f) != 0 && r == FP8Q_OK) r = fp8q__failf(err, FP8Q_ERR_IO, "%s: write failed", path);
    fp8q_json_free(&j);
    free(text), free(path), free(qc);
    return r;
}

/* Copies the tokenizer and generation files that exist, as save_pretrained does. */
static fp8q_result fp8q__qz_copy_side_files(const char *in_dir, const char *out_dir, fp8q_error *err)
{
    static const char *const names[] = {"tokenizer.json",         "tokenizer_config.json", "special_tokens_map.json",
                                        "generation_config.json", "tokenizer.model",       "chat_template.jinja"};
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        char src[1024], dst[1024], *text = NULL;
        size_t len = 0;
        int missing = 0;
        FILE *f;
        fp8q_result r;
        if (snprintf(src, sizeof src, "%s/%s", in_dir, names[i]) >= (int)sizeof src ||
            snprintf(dst, sizeof dst, "%s/%s", out_dir, names[i]) >= (int)sizeof dst)
            return fp8q__failf(err, FP8Q_ERR_ARG, "path too long");
        if ((r = fp8q__cfg_read(src, &text, &len, &missing, err)) != FP8Q_OK) {
            if (missing) continue;
            return r;
        }
        f = fopen(dst, "wb");
        if (!f || fwrite(text, 1, len, f) != len) {
            if (f) fclose(f);
            free(text);
            return fp8q__failf(err, FP8Q_ERR_IO, "%s: cannot write", dst);
        }
        free(text);
        if (fclose(f) != 0) return fp8q__failf(err, FP8Q_ERR_IO, "%s: cannot write", dst);
    }
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_quantize_checkpoint(const char *in_dir, const char *out_dir, const fp8q_quantize_options *opt,
                                             fp8q_error *err)
{
    fp8q__quantizer Q;
    fp8q_quantize_options def;
    fp8q__qtensor *first;
    fp8q_tensor_out *outs = NULL;
    char *path = NULL, *cpath = NULL;
    fp8q_result r;
    size_t i;
    int need_calib;
    fp8q__st_err_ok(err);
    memset(&Q, 0, sizeof Q);
    memset(&def, 0, sizeof def);
    if (!in_dir || !out_dir) return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_quantize_checkpoint: NULL directory");
    Q.opt = opt ? opt : &def;
    need_calib = Q.opt->scheme == FP8Q_CT_FP8 || Q.opt->kv_cache;
    if ((unsigned)Q.opt->scheme > FP8Q_CT_FP8)
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_quantize_checkpoint: unknown scheme %d", (int)Q.opt->scheme);
    if (need_calib && (!Q.opt->calib_tokens || Q.opt->n_calib < 1 || Q.opt->calib_len < 1))
        return fp8q__failf(err, FP8Q_ERR_ARG,
                           "static FP8 and the FP8 KV cache need calibration tokens (n_calib sequences of calib_len)");
    if (!(path = (char *)malloc(strlen(out_dir) + 32)) || !(cpath = (char *)malloc(strlen(in_dir) + 32))) {
        r = fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory");
        goto done;
    }
    (void)sprintf(cpath, "%s/config.json", in_dir);
    if ((r = fp8q_llama_config_load(&Q.cfg, cpath, err)) != FP8Q_OK) goto done;
    if (Q.cfg.has_quantization_config) {
        r = fp8q__failf(err, FP8Q_ERR_UNSUPPORTED, "%s: the checkpoint is already quantized", cpath);
        goto done;
    }
    if ((r = fp8q_checkpoint_open(&Q.ck, in_dir, err)) != FP8Q_OK) goto done;
    i = ((size_t)Q.cfg.num_hidden_layers + 1) * FP8Q_MOD_COUNT;
    if (!(Q.mn = (float *)calloc(i, sizeof(float))) || !(Q.mx = (float *)calloc(i, sizeof(float))) ||
        !(Q.bmin = (float *)calloc(i, sizeof(float))) || !(Q.bmax = (float *)calloc(i, sizeof(float)))) {
        r = fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((r = fp8q__qz_plan(&Q, err)) != FP8Q_OK) goto done;
    first = NULL;
    for (i = 0; i < Q.n_out && !first; i++)
        if (Q.out[i].kind == FP8Q__QO_WEIGHT) first = &Q.out[i];
    Q.model_dtype = first->src->dtype;
    Q.w_recipe = fp8q_recipe_get(Q.model_dtype == FP8Q_BF16
                                     ? (Q.opt->scheme == FP8Q_CT_FP8 ? "ct-tensor-bf16" : "ct-channel-bf16")
                                     : (Q.opt->scheme == FP8Q_CT_FP8 ? "ct-tensor-f32" : "ct-channel-f32"));
    for (i = 0; i < Q.n_out; i++) /* scales follow the model dtype (F16 models: F32, see the header) */
        if (Q.out[i].kind != FP8Q__QO_COPY && Q.out[i].kind != FP8Q__QO_WEIGHT)
            Q.out[i].dtype = Q.model_dtype == FP8Q_BF16 ? FP8Q_BF16 : FP8Q_F32;
    if (need_calib && (r = fp8q__qz_calibrate(&Q, in_dir, err)) != FP8Q_OK) goto done;
    if (!(outs = (fp8q_tensor_out *)calloc(Q.n_out, sizeof *outs))) {
        r = fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (i = 0; i < Q.n_out; i++) {
        const fp8q__qtensor *t = &Q.out[i];
        outs[i].name = t->name, outs[i].dtype = t->dtype;
        outs[i].ndim = t->kind == FP8Q__QO_COPY ? t->src->ndim : t->ndim;
        outs[i].shape = t->kind == FP8Q__QO_COPY ? t->src->shape : t->shape;
    }
    (void)sprintf(path, "%s/model.safetensors", out_dir);
    {
        static const char *const mk[1] = {"format"}, *const mv[1] = {"pt"};
        if ((r = fp8q_safetensors_write_stream(path, outs, Q.n_out, mk, mv, 1, fp8q__qz_fill, &Q, err)) != FP8Q_OK)
            goto done;
    }
    if ((r = fp8q__qz_config(&Q, in_dir, out_dir, err)) != FP8Q_OK) goto done;
    r = fp8q__qz_copy_side_files(in_dir, out_dir, err);
done:
    if (Q.mods)
        for (i = 0; i < Q.n_mods; i++) free(Q.mods[i].scales);
    free(Q.mods), free(Q.out), free(Q.mn), free(Q.mx), free(Q.bmin), free(Q.bmax), free(Q.tmp), free(outs), free(path),
        free(cpath);
    fp8q_checkpoint_close(&Q.ck);
    return r;
}

/* ------------------------------------------------ INC QUANT_CONFIG files */
/* INC.md 2. Messages are built with the fp8q__st_msg helpers; every string
   and array of a config lives in one arena (a list of malloc'd blocks)
   owned by fp8q__inc_owned and released at once. The JSON is walked over
   its flat token array: no recursion. */

#define FP8Q__INC_VALUE_MAX 60 /* bytes of a value quoted in a message */
#define FP8Q__INC_KEY_MAX   40 /* bytes of a node / layer / type key quoted in a message */

typedef struct fp8q__inc_blk {
    struct fp8q__inc_blk *next;
    size_t used, cap;
} fp8q__inc_blk;
#define FP8Q__INC_BLK_HDR ((sizeof(fp8q__inc_blk) + 15u) & ~(size_t)15u)

typedef struct fp8q__inc_owned {
    fp8q__inc_blk *blk;
    const char **warn; /* malloc'd; the strings are in the arena */
    size_t n_warn, cap_warn;
    const fp8q_inc_scale_entry **sorted[3]; /* nodes, layers, layer_types by key (arena) */
} fp8q__inc_owned;

/* n bytes aligned to 16 from the arena, or NULL. */
static void *fp8q__inc_alloc(fp8q__inc_owned *o, size_t n)
{
    fp8q__inc_blk *b = o->blk;
    const size_t need = (n + 15u) & ~(size_t)15u, dflt = 4096 - FP8Q__INC_BLK_HDR;
    void *p;
    if (need < n || need > (size_t)-1 - FP8Q__INC_BLK_HDR) return NULL;
    if (!b || b->cap - b->used < need) {
        fp8q__inc_blk *nb = (fp8q__inc_blk *)malloc(FP8Q__INC_BLK_HDR + (need > dflt ? need : dflt));
        if (!nb) return NULL;
        nb->used = 0;
        nb->cap = need > dflt ? need : dflt;
        if (b && need > dflt / 4) { /* a big piece: its own block, behind the current one */
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            o->blk = nb;
        }
        b = nb;
    }
    p = (char *)b + FP8Q__INC_BLK_HDR + b->used;
    b->used += need;
    return p;
}

static char *fp8q__inc_strdup(fp8q__inc_owned *o, const char *s, size_t n)
{
    char *d = (char *)fp8q__inc_alloc(o, n + 1);
    if (d) {
        if (n) FP8Q__MEMCPY(d, s, n);
        d[n] = 0;
    }
    return d;
}

typedef struct fp8q__inc_p {
    fp8q_inc_config *c;
    fp8q__inc_owned *o;
    const fp8q_json *j;
    fp8q_error *err;
    size_t list_tok[2][2];      /* [allow, block][names, types]: the value that won the merge, or 0 */
    const char *list_key[2][2]; /* its key for messages: "whitelist.names", ... */
    size_t scale_tok;           /* the dict scale_method, or 0 */
} fp8q__inc_p;

static fp8q_result fp8q__inc_nomem(fp8q__inc_p *P)
{
    return fp8q__st_fail_str(P->err, FP8Q_ERR_NOMEM, 0, "out of memory");
}

static fp8q_result fp8q__inc_fail(fp8q__inc_p *P, int code, size_t t, const fp8q__st_msg *m)
{
    return fp8q__st_fail(P->err, code, t ? P->j->tok[t].start : 0, m);
}

/* ---- Python's str() of a JSON value, cut to FP8Q__INC_VALUE_MAX bytes */

typedef struct fp8q__inc_txt {
    char s[FP8Q__INC_VALUE_MAX + 8];
    size_t n;
    int cut;
} fp8q__inc_txt;

static void fp8q__inc_tput(fp8q__inc_txt *x, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n && !x->cut; i++) {
        if (x->n >= FP8Q__INC_VALUE_MAX) { /* drop a partial UTF-8 character, then mark the cut */
            while (x->n > 0 && ((unsigned char)x->s[x->n - 1] & 0xC0u) == 0x80u) x->n--;
            if (x->n > 0 && (unsigned char)x->s[x->n - 1] >= 0xC0u) x->n--;
            x->cut = 1;
            break;
        }
        x->s[x->n++] = s[i];
    }
    x->s[x->n] = 0;
}

static void fp8q__inc_tputs(fp8q__inc_txt *x, const char *s) { fp8q__inc_tput(x, s, strlen(s)); }

/* Python's repr() of a float: the shortest digits that round-trip, fixed
   notation for exponents -4..15, else d.ddde+XX. */
static void fp8q__inc_pyfloat(fp8q__inc_txt *x, double v)
{
    char b[48], dig[24], out[48];
    int p, nd = 0, e10 = 0, eneg = 0, k, n = 0, i;
    const int neg = (int)(fp8q__f64_bits(v) >> 63);
    if (v != v) {
        fp8q__inc_tputs(x, "nan");
        return;
    }
    if (v - v != 0) {
        fp8q__inc_tputs(x, neg ? "-inf" : "inf");
        return;
    }
    if (v == 0) {
        fp8q__inc_tputs(x, neg ? "-0.0" : "0.0");
        return;
    }
    for (p = 1; p < 17; p++) {
        (void)snprintf(b, sizeof b, "%.*e", p - 1, v);
        if (strtod(b, NULL) == v) break;
    }
    (void)snprintf(b, sizeof b, "%.*e", p - 1, v);
    for (i = 0; b[i] && b[i] != 'e' && b[i] != 'E'; i++) /* the decimal separator may be the locale's */
        if (b[i] >= '0' && b[i] <= '9' && nd < 20) dig[nd++] = b[i];
    if (b[i]) i++;
    if (b[i] == '-' || b[i] == '+') eneg = b[i++] == '-';
    for (; b[i] >= '0' && b[i] <= '9'; i++) e10 = e10 * 10 + (b[i] - '0');
    if (eneg) e10 = -e10;
    while (nd > 1 && dig[nd - 1] == '0') nd--;
    if (neg) out[n++] = '-';
    if (e10 >= -4 && e10 < 16) {
        if (e10 >= 0) {
            for (k = 0; k <= e10; k++) out[n++] = k < nd ? dig[k] : '0';
            out[n++] = '.';
            if (nd > e10 + 1)
                for (k = e10 + 1; k < nd; k++) out[n++] = dig[k];
            else
                out[n++] = '0';
        } else {
            out[n++] = '0';
            out[n++] = '.';
            for (k = 0; k < -e10 - 1; k++) out[n++] = '0';
            for (k = 0; k < nd; k++) out[n++] = dig[k];
        }
    } else {
        out[n++] = dig[0];
        if (nd > 1) {
            out[n++] = '.';
            for (k = 1; k < nd; k++) out[n++] = dig[k];
        }
        out[n++] = 'e';
        out[n++] = e10 < 0 ? '-' : '+';
        if (e10 < 0) e10 = -e10;
        if (e10 >= 100) out[n++] = (char)('0' + e10 / 100);
        out[n++] = (char)('0' + e10 / 10 % 10);
        out[n++] = (char)('0' + e10 % 10);
    }
    fp8q__inc_tput(x, out, (size_t)n);
}

/* A scalar (or an object key) as Python's str() (quoted = 0, for a
   top-level string) or repr() (quoted = 1) writes it. Control characters
   are shown as \xNN either way. */
static void fp8q__inc_pyscalar(fp8q__inc_txt *x, const fp8q_json *j, size_t t, int quoted)
{
    static const char hex[] = "0123456789abcdef";
    const fp8q_json_token *k = &j->tok[t];
    switch (k->type) {
    case FP8Q_JSON_NULL: fp8q__inc_tputs(x, "None"); return;
    case FP8Q_JSON_TRUE: fp8q__inc_tputs(x, "True"); return;
    case FP8Q_JSON_FALSE: fp8q__inc_tputs(x, "False"); return;
    case FP8Q_JSON_NUMBER: {
        const char *s = j->text + k->start;
        const size_t n = k->end - k->start;
        size_t i;
        double d = 0;
        for (i = 0; i < n && s[i] != '.' && s[i] != 'e' && s[i] != 'E'; i++) {
        }
        if (i == n) /* a Python int: the digits as written; -0 is 0 */
            fp8q__inc_tput(x, n == 2 && s[0] == '-' && s[1] == '0' ? s + 1 : s,
                           n == 2 && s[0] == '-' && s[1] == '0' ? 1 : n);
        else if (fp8q_json_number(j, t, &d) == FP8Q_OK)
            fp8q__inc_pyfloat(x, d);
        return;
    }
    case FP8Q_JSON_STRING: {
        char b[FP8Q__INC_VALUE_MAX + 4], e[5];
        const size_t full = fp8q_json_string(j, t, b, sizeof b), n = full < sizeof b ? full : sizeof b - 1;
        size_t i;
        char q = '\'';
        if (quoted && memchr(b, '\'', n) && !memchr(b, '"', n)) q = '"';
        if (quoted) fp8q__inc_tput(x, &q, 1);
        for (i = 0; i < n; i++) {
            const unsigned char c = (unsigned char)b[i];
            e[0] = '\\';
            if (quoted && (c == (unsigned char)q || c == '\\')) {
                e[1] = (char)c;
                fp8q__inc_tput(x, e, 2);
            } else if (c == '\n' || c == '\t' || c == '\r') {
                e[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
                fp8q__inc_tput(x, e, 2);
            } else if (c < 0x20 || c == 0x7F) {
                e[1] = 'x', e[2] = hex[c >> 4], e[3] = hex[c & 15u];
                fp8q__inc_tput(x, e, 4);
            } else {
                fp8q__inc_tput(x, b + i, 1);
            }
        }
        if (full > n) x->cut = 1;
        if (quoted && !x->cut) fp8q__inc_tput(x, &q, 1);
        return;
    }
    case FP8Q_JSON_ARRAY:
    case FP8Q_JSON_OBJECT: return;
    }
}

/* Python's str() of the value t: top-level strings bare, containers as
   their repr, iteratively (an explicit stack; deeper than 32 is cut). */
static void fp8q__inc_pystr(fp8q__inc_txt *x, const fp8q_json *j, size_t t)
{
    size_t nxt[32], left[32], p = t;
    int obj[32], sp = 0;
    x->n = 0;
    x->cut = 0;
    x->s[0] = 0;
    for (;;) {
        const fp8q_json_token *k = &j->tok[p];
        if (x->cut) return;
        if ((k->type == FP8Q_JSON_ARRAY || k->type == FP8Q_JSON_OBJECT) && k->size > 0) {
            if (sp == 32) {
                x->cut = 1;
                return;
            }
            obj[sp] = k->type == FP8Q_JSON_OBJECT;
            nxt[sp] = k->next;
            left[sp] = k->size;
            fp8q__inc_tputs(x, obj[sp] ? "{" : "[");
            p++;
            if (obj[sp]) {
                fp8q__inc_pyscalar(x, j, p++, 1);
                fp8q__inc_tputs(x, ": ");
            }
            sp++;
            continue;
        }
        if (k->type == FP8Q_JSON_ARRAY || k->type == FP8Q_JSON_OBJECT)
            fp8q__inc_tputs(x, k->type == FP8Q_JSON_ARRAY ? "[]" : "{}");
        else
            fp8q__inc_pyscalar(x, j, p, sp > 0);
        p = k->next;
        while (sp > 0) { /* a value ended: the next element, or close the container */
            if (--left[sp - 1] > 0) {
                fp8q__inc_tputs(x, ", ");
                if (obj[sp - 1]) {
                    fp8q__inc_pyscalar(x, j, p++, 1);
                    fp8q__inc_tputs(x, ": ");
                }
                break;
            }
            fp8q__inc_tputs(x, obj[sp - 1] ? "}" : "]");
            p = nxt[--sp];
        }
        if (sp == 0) return;
    }
}

static void fp8q__inc_put_value(fp8q__st_msg *m, const fp8q_json *j, size_t t)
{
    fp8q__inc_txt x;
    fp8q__inc_pystr(&x, j, t);
    fp8q__st_put(m, x.s);
    if (x.cut) fp8q__st_put(m, "...");
}

/* 'name' (the key token t unescaped, cut and with control bytes escaped) */
static void fp8q__inc_put_key(fp8q__st_msg *m, const fp8q_json *j, size_t t)
{
    char b[FP8Q__ST_NAME_MAX + 8];
    (void)fp8q_json_string(j, t, b, sizeof b);
    fp8q__st_name(m, b);
}

/* Python's str.upper() of s[0, n) equals the ASCII member? Besides a-z,
   the characters whose upper case is ASCII: U+00DF ss, U+0131 dotless i,
   U+017F long s and the ligatures U+FB00..FB06 (ff fi fl ffi ffl st st). */
static int fp8q__inc_upper_eq(const char *s, size_t n, const char *mem)
{
    static const char *const lig[7] = {"FF", "FI", "FL", "FFI", "FFL", "ST", "ST"};
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        const char *rep;
        char one[2];
        size_t adv = 1;
        if (u[i] == 0) return 0;
        if (u[i] < 0x80) {
            one[0] = (char)(u[i] >= 'a' && u[i] <= 'z' ? u[i] - 'a' + 'A' : u[i]);
            one[1] = 0;
            rep = one;
        } else if (i + 1 < n && u[i] == 0xC3 && u[i + 1] == 0x9F) {
            rep = "SS", adv = 2;
        } else if (i + 1 < n && u[i] == 0xC4 && u[i + 1] == 0xB1) {
            rep = "I", adv = 2;
        } else if (i + 1 < n && u[i] == 0xC5 && u[i + 1] == 0xBF) {
            rep = "S", adv = 2;
        } else if (i + 2 < n && u[i] == 0xEF && u[i + 1] == 0xAC && u[i + 2] >= 0x80 && u[i + 2] <= 0x86) {
            rep = lig[u[i + 2] - 0x80], adv = 3;
        } else {
            return 0;
        }
        for (; *rep; rep++, mem++)
            if (*mem != *rep) return 0;
        i += adv;
    }
    return *mem == 0;
}

/* The member of mem[0, n) that INC's _get_enum_from_string finds for the
   value t (str(value).upper() must name it), or -1. */
static int fp8q__inc_match(const fp8q_json *j, size_t t, const char *const *mem, int n)
{
    char b[256];
    size_t len;
    int i;
    const fp8q_json_type ty = j->tok[t].type;
    if (ty == FP8Q_JSON_TRUE || ty == FP8Q_JSON_FALSE || ty == FP8Q_JSON_NULL) {
        const char *s = ty == FP8Q_JSON_TRUE ? "TRUE" : ty == FP8Q_JSON_FALSE ? "FALSE" : "NONE";
        for (i = 0; i < n; i++)
            if (strcmp(mem[i], s) == 0) return i;
        return -1;
    }
    if (ty != FP8Q_JSON_STRING) return -1; /* numbers, lists and dicts never name a member */
    len = fp8q_json_string(j, t, b, sizeof b);
    if (len >= sizeof b) return -1;
    for (i = 0; i < n; i++)
        if (fp8q__inc_upper_eq(b, len, mem[i])) return i;
    return -1;
}

/* "['A', 'B', ...]", ending in "...]" where the message is full. */
static void fp8q__inc_put_members(fp8q__st_msg *m, const char *const *mem, int n)
{
    int i;
    fp8q__st_put(m, "[");
    for (i = 0; i < n; i++) {
        const size_t room = FP8Q__ST_MSG_MAX - 1 - m->n, cost = (i ? 2u : 0u) + strlen(mem[i]) + 2u;
        if (room < cost + (i + 1 < n ? 6u : 1u)) {
            fp8q__st_put(m, i ? ", ...]" : "...]");
            return;
        }
        if (i) fp8q__st_put(m, ", ");
        fp8q__st_put(m, "'");
        fp8q__st_put(m, mem[i]);
        fp8q__st_put(m, "'");
    }
    fp8q__st_put(m, "]");
}

static const char *const fp8q__inc_m_mode[] = {"NONE", "QUANTIZE", "MEASURE", "SHAPE", "LOAD"};
static const char *const fp8q__inc_m_excl[] = {"NONE", "INPUT", "OUTPUT", "PARAMS", "ALL"};
static const char *const fp8q__inc_m_fp8[] = {"E4M3", "E5M2"};
static const char *const fp8q__inc_m_hp[] = {"BF16", "FP16", "FP32"};
static const char *const fp8q__inc_m_tf[] = {"TRUE", "FALSE"};
static const char *const fp8q__inc_m_fmt[] = {"CONST", "SCALAR"};
static const char *const fp8q__inc_m_dev[] = {"GAUDI2", "GAUDI3"};
/* INC's ScaleMethodString, in its order (the v3.4 names MAX, SMOOTHQUANT_*
   and MAXABS_POW2_DYNAMIC are gone) */
static const char *const fp8q__inc_m_method[] = {"UNIT_SCALE",
                                                 "HW_ALIGNED_SINGLE_SCALE",
                                                 "MAXABS_HW",
                                                 "MAXABS_POW2",
                                                 "ACT_MAXABS_HW_WEIGHTS_PCS_MAXABS_POW2",
                                                 "ACT_MAXABS_HW_WEIGHTS_PCS_OPT_POW2",
                                                 "ACT_MAXABS_POW2_WEIGHTS_PCS_MAXABS_POW2",
                                                 "ACT_MAXABS_POW2_WEIGHTS_PCS_OPT_POW2",
                                                 "MAXABS_HW_OPT_WEIGHT",
                                                 "MAXABS_POW2_OPT_WEIGHT",
                                                 "MAXABS_ARBITRARY",
                                                 "ACT_MAXABS_PCS_POW2_WEIGHT_MAXABS_PTS_POW2_HW",
                                                 "MAXABS_PCS_POW2"};
/* the fields of a dict scale method configuration (CFG) and their enums */
static const char *const fp8q__inc_cfg_field[3] = {"granularity", "scale_value_type", "rounding_method"};
static const char *const fp8q__inc_m_gran[] = {"PTS", "PCS"};
static const char *const fp8q__inc_m_svt[] = {"MAXABS", "FIXED_VALUE", "OPT", "DUMMY_SCALES"};
static const char *const fp8q__inc_m_round[] = {"IDENTITY", "POW2", "HW_ALIGNED", "HW_ALIGNED_FIXED", "SCALE_UNIT"};
static const char *const *const fp8q__inc_m_cfg[3] = {fp8q__inc_m_gran, fp8q__inc_m_svt, fp8q__inc_m_round};
static const int fp8q__inc_n_cfg[3] = {2, 4, 5};
static const char *const fp8q__inc_cfg_class[3] = {"ScaleGranularity", "ScaleValueType", "ScaleRoundMethod"};
#define FP8Q__INC_N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* An enum key's value: its member index, or INC's error. */
static fp8q_result fp8q__inc_enum(fp8q__inc_p *P, const char *key, size_t v, const char *const *mem, int n, int *idx)
{
    fp8q__st_msg m;
    *idx = fp8q__inc_match(P->j, v, mem, n);
    if (*idx >= 0) return FP8Q_OK;
    fp8q__cfg_msg_init(&m);
    fp8q__st_put(&m, "Invalid '");
    fp8q__st_put(&m, key);
    fp8q__st_put(&m, "' value in custom config ('");
    fp8q__inc_put_value(&m, P->j, v);
    fp8q__st_put(&m, "'). Enter one of ");
    fp8q__inc_put_members(&m, mem, n);
    return fp8q__inc_fail(P, FP8Q_ERR_PARSE, v, &m);
}

/* Appends the message as warning number cfg->n_warnings; after
   FP8Q__INC_MAX_WARNINGS, one last "further warnings omitted". */
#define FP8Q__INC_MAX_WARNINGS 64
static fp8q_result fp8q__inc_warn(fp8q__inc_p *P, const fp8q__st_msg *m)
{
    static const char omitted[] = "further warnings omitted";
    fp8q__inc_owned *o = P->o;
    char *s;
    if (o->n_warn > FP8Q__INC_MAX_WARNINGS) return FP8Q_OK;
    if (o->n_warn == FP8Q__INC_MAX_WARNINGS) m = NULL;
    if (o->n_warn == o->cap_warn) {
        const size_t nc = o->cap_warn ? o->cap_warn * 2 : 8;
        const char **nw;
        if (nc > (size_t)-1 / sizeof *nw) return fp8q__inc_nomem(P);
        nw = (const char **)realloc((void *)o->warn, nc * sizeof *nw);
        if (!nw) return fp8q__inc_nomem(P);
        o->warn = nw;
        o->cap_warn = nc;
    }
    if (!(s = m ? fp8q__inc_strdup(o, m->m, m->n) : fp8q__inc_strdup(o, omitted, sizeof omitted - 1)))
        return fp8q__inc_nomem(P);
    o->warn[o->n_warn++] = s;
    P->c->n_warnings = o->n_warn;
    return FP8Q_OK;
}

/* The warning "'KEY' TEXT" (a) or "TEXT" (key token 0). */
static fp8q_result fp8q__inc_warn_key(fp8q__inc_p *P, size_t key, const char *prefix, const char *text)
{
    fp8q__st_msg m;
    fp8q__cfg_msg_init(&m);
    if (prefix) fp8q__st_put(&m, prefix);
    if (key) fp8q__inc_put_key(&m, P->j, key);
    fp8q__st_put(&m, text);
    return fp8q__inc_warn(P, &m);
}

/* FP8Q_ERR_PARSE "'WHERE' WHAT, got VALUE" with WHERE a plain string. */
static fp8q_result fp8q__inc_bad(fp8q__inc_p *P, size_t t, const char *where, const char *what)
{
    return fp8q__cfg_bad(P->err, FP8Q_ERR_PARSE, P->j, t, where, what);
}

/* The STRING token t unescaped into the arena (no NUL character inside). */
static fp8q_result fp8q__inc_jstr(fp8q__inc_p *P, size_t t, const char *where, const char **out)
{
    const size_t n = fp8q_json_string(P->j, t, NULL, 0);
    char *s = n < (size_t)-1 ? (char *)fp8q__inc_alloc(P->o, n + 1) : NULL;
    if (!s) return fp8q__inc_nomem(P);
    (void)fp8q_json_string(P->j, t, s, n + 1);
    if (strlen(s) != n) return fp8q__inc_bad(P, t, where, "must not contain a NUL character");
    *out = s;
    return FP8Q_OK;
}

/* Python truthiness of a raw JSON value. */
static int fp8q__inc_truthy(const fp8q_json *j, size_t t)
{
    const fp8q_json_token *k = &j->tok[t];
    double d = 0;
    switch (k->type) {
    case FP8Q_JSON_NULL:
    case FP8Q_JSON_FALSE: return 0;
    case FP8Q_JSON_TRUE: return 1;
    case FP8Q_JSON_NUMBER: return fp8q_json_number(j, t, &d) == FP8Q_OK && d != 0;
    case FP8Q_JSON_STRING: return k->end > k->start;
    case FP8Q_JSON_ARRAY:
    case FP8Q_JSON_OBJECT: return k->size > 0;
    }
    return 0;
}

/* Python's int(s) for base 10: surrounding whitespace, a sign, digits with
   single underscores between them. 1 and *out, 0 (syntax) or -1 (beyond
   int64). */
static int fp8q__inc_pyint(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    uint64_t v = 0;
    int neg = 0, nd = 0;
    while (i < n && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) i++;
    while (n > i && (s[n - 1] == ' ' || (s[n - 1] >= '\t' && s[n - 1] <= '\r'))) n--;
    if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    for (; i < n; i++) {
        if (s[i] == '_' && nd && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9') continue;
        if (s[i] < '0' || s[i] > '9') return 0;
        if (v > (UINT64_C(0x8000000000000000) - (uint64_t)(s[i] - '0')) / 10u) return -1;
        v = v * 10u + (uint64_t)(s[i] - '0');
        nd++;
    }
    if (!nd) return 0;
    if (!neg && v > (uint64_t)INT64_MAX) return -1;
    *out = neg ? (v == UINT64_C(0x8000000000000000) ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return 1;
}

/* Python's os.path.dirname / basename (posixpath). */
static fp8q_result fp8q__inc_split_path(fp8q__inc_p *P)
{
    const char *s = P->c->dump_stats_path;
    size_t n = strlen(s), i = n, h, k;
    while (i > 0 && s[i - 1] != '/') i--;
    h = i; /* head = s[0, i) */
    for (k = 0; k < h && s[k] == '/'; k++) {
    }
    if (h > 0 && k < h) /* not all slashes: strip the trailing ones */
        while (h > 0 && s[h - 1] == '/') h--;
    if (!(P->c->dump_dir = fp8q__inc_strdup(P->o, s, h)) || !(P->c->dump_prefix = fp8q__inc_strdup(P->o, s + i, n - i)))
        return fp8q__inc_nomem(P);
    return FP8Q_OK;
}

/* ---- the dict form of scale_method (INC.md 2.4) */

/* INC converts every "granularity" / "scale_value_type" / "rounding_method"
   string under the dict's objects (not inside arrays) while it reads the
   key: any of them that names no member is an error at that point. */
static fp8q_result fp8q__inc_scan_scale_enums(fp8q__inc_p *P, size_t obj)
{
    const fp8q_json *j = P->j;
    const size_t end = j->tok[obj].next;
    size_t p = obj + 1;
    while (p < end) { /* p is always a key: containers that are not objects are skipped whole */
        const size_t v = p + 1;
        int f;
        if (j->tok[v].type == FP8Q_JSON_STRING)
            for (f = 0; f < 3; f++)
                if (fp8q_json_string_eq(j, p, fp8q__inc_cfg_field[f]) &&
                    fp8q__inc_match(j, v, fp8q__inc_m_cfg[f], fp8q__inc_n_cfg[f]) < 0) {
                    fp8q__st_msg m;
                    fp8q__cfg_msg_init(&m);
                    fp8q__st_put(&m, "Invalid input '");
                    fp8q__inc_put_value(&m, j, v);
                    fp8q__st_put(&m, "' for ");
                    fp8q__st_put(&m, fp8q__inc_cfg_class[f]);
                    fp8q__st_put(&m, ". Enter one of ");
                    fp8q__inc_put_members(&m, fp8q__inc_m_cfg[f], fp8q__inc_n_cfg[f]);
                    return fp8q__inc_fail(P, FP8Q_ERR_PARSE, v, &m);
                }
        p = j->tok[v].type == FP8Q_JSON_OBJECT ? v + 1 : j->tok[v].next;
    }
    return FP8Q_OK;
}

/* One CFG while it is built: a field that is not a member string keeps its
   token for the message (INC keeps such values and then matches nothing). */
typedef struct fp8q__inc_half {
    int f[3];      /* granularity, value type, rounding; -1: raw[i] is not a member */
    size_t raw[3]; /* token of a non-member value */
    double backoff;
    const double *ws; /* params.weight_scales */
    size_t nws;
} fp8q__inc_half;

/* Appends s to the string in b[cap] (cut to fit). */
static void fp8q__inc_cat(char *b, size_t cap, const char *s)
{
    size_t n = strlen(b);
    while (*s && n + 1 < cap) b[n++] = *s++;
    b[n] = 0;
}

/* "WHERE" "SUFFIX" into b[cap] (cut to fit). */
static void fp8q__inc_where(char *b, size_t cap, const char *where, const char *suffix)
{
    b[0] = 0;
    fp8q__inc_cat(b, cap, where);
    fp8q__inc_cat(b, cap, suffix);
}

/* Builds the CFG object o (0: {}) over base (NULL: PTS / MAXABS / IDENTITY,
   backoff 1.0, no params), as INC's dict_to_scale_method_config. */
static fp8q_result fp8q__inc_half_build(fp8q__inc_p *P, size_t o, const fp8q__inc_half *base, const char *where,
                                        fp8q__inc_half *h)
{
    const fp8q_json *j = P->j;
    char w[160];
    size_t t, k;
    int f;
    fp8q_result r;
    for (f = 0; f < 3; f++) {
        t = o ? fp8q_json_get(j, o, fp8q__inc_cfg_field[f]) : 0;
        if (t && j->tok[t].type == FP8Q_JSON_STRING) {
            h->f[f] = fp8q__inc_match(j, t, fp8q__inc_m_cfg[f], fp8q__inc_n_cfg[f]); /* >= 0: scanned before */
            h->raw[f] = h->f[f] < 0 ? t : 0;
        } else if (t) {
            h->f[f] = -1, h->raw[f] = t;
        } else {
            h->f[f] = base ? base->f[f] : 0, h->raw[f] = base ? base->raw[f] : 0;
        }
    }
    h->backoff = base ? base->backoff : 1.0;
    h->ws = base ? base->ws : NULL;
    h->nws = base ? base->nws : 0;
    if (!o) return FP8Q_OK;
    if ((t = fp8q_json_get(j, o, "backoff")) != 0) {
        double d = 0;
        fp8q__inc_where(w, sizeof w, where, ".backoff");
        if (j->tok[t].type != FP8Q_JSON_NUMBER || fp8q_json_number(j, t, &d) != FP8Q_OK || !(d > 0.0) || !(d <= 3.4e38))
            return fp8q__inc_bad(P, t, w, "must be a finite positive number");
        h->backoff = d;
    }
    if ((t = fp8q_json_get(j, o, "params")) != 0) {
        fp8q__inc_where(w, sizeof w, where, ".params");
        h->ws = NULL, h->nws = 0;
        if (j->tok[t].type == FP8Q_JSON_OBJECT) {
            size_t a;
            for (k = t + 1; k < j->tok[t].next; k = j->tok[k + 1].next)
                if (!fp8q_json_string_eq(j, k, "weight_scales") &&
                    (r = fp8q__inc_warn_key(P, k, "", " in a scale method's params is not read by INC: ignored")) !=
                        FP8Q_OK)
                    return r;
            if ((a = fp8q_json_get(j, t, "weight_scales")) != 0) {
                double *ws;
                size_t e, i = 0;
                fp8q__inc_where(w, sizeof w, where, ".params.weight_scales");
                if (j->tok[a].type != FP8Q_JSON_ARRAY || j->tok[a].size == 0)
                    return fp8q__inc_bad(P, a, w, "must be a non-empty array of positive numbers");
                if (!(ws = (double *)fp8q__inc_alloc(P->o, j->tok[a].size * sizeof *ws))) return fp8q__inc_nomem(P);
                for (e = a + 1; e < j->tok[a].next; e = j->tok[e].next) {
                    if (j->tok[e].type != FP8Q_JSON_NUMBER || fp8q_json_number(j, e, &ws[i]) != FP8Q_OK ||
                        !(ws[i] > 0.0) || !(ws[i] <= 1.7976931348623157e308))
                        return fp8q__inc_bad(P, e, w, "must hold finite positive numbers");
                    i++;
                }
                h->ws = ws, h->nws = i;
            }
        } else if (j->tok[t].type != FP8Q_JSON_NULL) {
            return fp8q__inc_bad(P, t, w, "must be an object (or null)");
        }
    }
    for (k = o + 1; k < j->tok[o].next; k = j->tok[k + 1].next) {
        for (f = 0; f < 3 && !fp8q_json_string_eq(j, k, fp8q__inc_cfg_field[f]); f++) {
        }
        if (f == 3 && !fp8q_json_string_eq(j, k, "backoff") && !fp8q_json_string_eq(j, k, "params")) {
            fp8q__st_msg m;
            fp8q__cfg_msg_init(&m);
            fp8q__inc_put_key(&m, j, k);
            fp8q__st_put(&m, " in '");
            fp8q__st_put(&m, where);
            fp8q__st_put(&m, "' is not read by INC (fields: granularity, scale_value_type, rounding_method, backoff, "
                             "params): ignored");
            if ((r = fp8q__inc_warn(P, &m)) != FP8Q_OK) return r;
        }
    }
    return FP8Q_OK;
}

/* The predefined method equal to the pair on granularity, value type and
   rounding, or NULL. */
static const fp8q_inc_method *fp8q__inc_pair_method(const fp8q__inc_half *w, const fp8q__inc_half *a)
{
    int i, f;
    for (f = 0; f < 3; f++)
        if (w->f[f] < 0 || a->f[f] < 0) return NULL;
    for (i = 0; i < fp8q_inc_method_count(); i++) {
        const fp8q_inc_method *m = fp8q_inc_method_at(i);
        if ((int)m->weight.granularity == w->f[0] && (int)m->weight.value_type == w->f[1] &&
            (int)m->weight.rounding == w->f[2] && (int)m->activation.granularity == a->f[0] &&
            (int)m->activation.value_type == a->f[1] && (int)m->activation.rounding == a->f[2])
            return m;
    }
    return NULL;
}

static fp8q_inc_scale_cfg fp8q__inc_half_cfg(const fp8q__inc_half *h)
{
    fp8q_inc_scale_cfg c;
    c.granularity = (fp8q_inc_granularity)h->f[0];
    c.value_type = (fp8q_inc_value_type)h->f[1];
    c.rounding = (fp8q_inc_rounding)h->f[2];
    c.backoff = (float)h->backoff;
    return c;
}

/* One {"weight": CFG, "activation": CFG} object into e and hs[2]. */
static fp8q_result fp8q__inc_entry_build(fp8q__inc_p *P, size_t item, const fp8q__inc_half *base, const char *key,
                                         const char *where, fp8q_inc_scale_entry *e, fp8q__inc_half *hs)
{
    const fp8q_json *j = P->j;
    static const char *const side[2] = {"weight", "activation"};
    char w[160];
    size_t t, k;
    int s;
    fp8q_result r;
    for (s = 0; s < 2; s++) {
        fp8q__inc_where(w, sizeof w, where, s ? ".activation" : ".weight");
        t = fp8q_json_get(j, item, side[s]);
        if (t && j->tok[t].type != FP8Q_JSON_OBJECT) return fp8q__inc_bad(P, t, w, "must be an object");
        if ((r = fp8q__inc_half_build(P, t, base ? &base[s] : NULL, w, &hs[s])) != FP8Q_OK) return r;
    }
    for (k = item + 1; k < j->tok[item].next; k = j->tok[k + 1].next)
        if (!fp8q_json_string_eq(j, k, "weight") && !fp8q_json_string_eq(j, k, "activation")) {
            fp8q__st_msg m;
            fp8q__cfg_msg_init(&m);
            fp8q__inc_put_key(&m, j, k);
            fp8q__st_put(&m, " in '");
            fp8q__st_put(&m, where);
            fp8q__st_put(&m, "' is not read by INC (keys: weight, activation): ignored");
            if ((r = fp8q__inc_warn(P, &m)) != FP8Q_OK) return r;
        }
    e->key = key;
    e->method = fp8q__inc_pair_method(&hs[0], &hs[1]);
    if (e->method) {
        e->weight = fp8q__inc_half_cfg(&hs[0]);
        e->activation = fp8q__inc_half_cfg(&hs[1]);
    }
    e->weight_scales = hs[0].ws;
    e->n_weight_scales = hs[0].nws;
    return FP8Q_OK;
}

static void fp8q__inc_put_half(fp8q__st_msg *m, const fp8q_json *j, const fp8q__inc_half *h)
{
    int f;
    for (f = 0; f < 3; f++) {
        if (f) fp8q__st_put(m, "/");
        if (h->f[f] >= 0)
            fp8q__st_put(m, fp8q__inc_m_cfg[f][h->f[f]]);
        else
            fp8q__inc_put_value(m, j, h->raw[f]);
    }
}

/* "CfgStr.NODES[name]", as INC's f"{key}[{subkey}]" prints it, the name
   cut after max bytes */
static void fp8q__inc_put_label(fp8q__st_msg *m, int section, const char *key, size_t max)
{
    static const char *const sec[4] = {"CfgStr.DEFAULT", "CfgStr.NODES", "CfgStr.LAYERS", "CfgStr.LAYER_TYPES"};
    size_t i;
    fp8q__st_put(m, sec[section]);
    if (!section) return;
    fp8q__st_put(m, "[");
    for (i = 0; key[i] && i < max; i++) {
        const char b[2] = {(unsigned char)key[i] < 0x20 ? '?' : key[i], 0};
        fp8q__st_put(m, b);
    }
    fp8q__st_put(m, key[i] ? "...]" : "]");
}

static int fp8q__inc_entry_cmp(const void *a, const void *b)
{
    const fp8q_inc_scale_entry *const *x = (const fp8q_inc_scale_entry *const *)a;
    const fp8q_inc_scale_entry *const *y = (const fp8q_inc_scale_entry *const *)b;
    return strcmp((*x)->key, (*y)->key);
}

/* parse_scale_method + validate_and_populate_scale_method on the dict. */
static fp8q_result fp8q__inc_scale_dict(fp8q__inc_p *P)
{
    static const char *const sname[4] = {"default", "nodes", "layers", "layer_types"};
    const fp8q_json *j = P->j;
    const size_t sm = P->scale_tok;
    fp8q_inc_scale_entry *ent[4] = {NULL, NULL, NULL, NULL};
    fp8q__inc_half *half[4] = {NULL, NULL, NULL, NULL};
    size_t cnt[4] = {1, 0, 0, 0}, t, k, d, i, n;
    int s;
    fp8q_result r;
    char w[160];
    fp8q__st_msg m;
    d = fp8q_json_get(j, sm, "default");
    if (!d || j->tok[d].type == FP8Q_JSON_NULL)
        return fp8q__st_fail_str(P->err, FP8Q_ERR_PARSE, j->tok[sm].start,
                                 "Scale method config should contain a default scale method.");
    if (j->tok[d].type != FP8Q_JSON_OBJECT)
        return fp8q__inc_bad(P, d, "scale_method.default", "must be an object {\"weight\": ..., \"activation\": ...}");
    for (k = sm + 1; k < j->tok[sm].next; k = j->tok[k + 1].next) {
        for (s = 0; s < 4 && !fp8q_json_string_eq(j, k, sname[s]); s++) {
        }
        if (s == 4 && (r = fp8q__inc_warn_key(P, k, "",
                                              " in 'scale_method' is not read by INC (keys: default, nodes, layers, "
                                              "layer_types): ignored")) != FP8Q_OK)
            return r;
    }
    for (s = 1; s < 4; s++) {
        t = fp8q_json_get(j, sm, sname[s]);
        if (!t || j->tok[t].type == FP8Q_JSON_NULL) continue;
        fp8q__inc_where(w, sizeof w, "scale_method.", sname[s]);
        if (j->tok[t].type != FP8Q_JSON_OBJECT) return fp8q__inc_bad(P, t, w, "must be an object");
        cnt[s] = j->tok[t].size;
    }
    for (s = 0; s < 4; s++) {
        if (!cnt[s]) continue;
        if (cnt[s] > (size_t)-1 / 2 / sizeof **half) return fp8q__inc_nomem(P);
        ent[s] = (fp8q_inc_scale_entry *)fp8q__inc_alloc(P->o, cnt[s] * sizeof **ent);
        half[s] = (fp8q__inc_half *)fp8q__inc_alloc(P->o, cnt[s] * 2 * sizeof **half);
        if (!ent[s] || !half[s]) return fp8q__inc_nomem(P);
        memset(ent[s], 0, cnt[s] * sizeof **ent);
    }
    if ((r = fp8q__inc_entry_build(P, d, NULL, "", "scale_method.default", ent[0], half[0])) != FP8Q_OK) return r;
    for (s = 1; s < 4; s++) {
        if (!cnt[s]) continue;
        t = fp8q_json_get(j, sm, sname[s]);
        for (i = 0, k = t + 1; k < j->tok[t].next; k = j->tok[k + 1].next, i++) {
            const char *key;
            const size_t v = k + 1;
            char where[160], kb[FP8Q__INC_KEY_MAX + 1];
            const size_t kl = fp8q_json_string(j, k, kb, sizeof kb);
            for (n = 0; kb[n]; n++)
                if ((unsigned char)kb[n] < 0x20) kb[n] = '?';
            fp8q__inc_where(where, sizeof where, "scale_method.", sname[s]);
            fp8q__inc_cat(where, sizeof where, "['");
            fp8q__inc_cat(where, sizeof where, kb);
            fp8q__inc_cat(where, sizeof where, kl >= sizeof kb ? "...']" : "']");
            if ((r = fp8q__inc_jstr(P, k, where, &key)) != FP8Q_OK) return r;
            if (j->tok[v].type != FP8Q_JSON_OBJECT)
                return fp8q__inc_bad(P, v, where, "must be an object {\"weight\": ..., \"activation\": ...}");
            if ((r = fp8q__inc_entry_build(P, v, half[0], key, where, &ent[s][i], &half[s][2 * i])) != FP8Q_OK)
                return r;
        }
    }
    for (s = 0; s < 4; s++) /* validation, in INC's order */
        for (i = 0; i < cnt[s]; i++) {
            fp8q__st_msg tail;
            size_t room;
            if (ent[s][i].method) continue;
            fp8q__cfg_msg_init(&tail); /* the tail first, so that only the name is cut */
            fp8q__st_put(&tail, " = {weight: ");
            fp8q__inc_put_half(&tail, j, &half[s][2 * i]);
            fp8q__st_put(&tail, ", activation: ");
            fp8q__inc_put_half(&tail, j, &half[s][2 * i + 1]);
            fp8q__st_put(&tail, "} is not supported.");
            fp8q__cfg_msg_init(&m);
            fp8q__st_put(&m, "Unsupported config: scale method config for ");
            room = FP8Q__ST_MSG_MAX - 1 - m.n;
            room = room > tail.n + 24 + 4 ? room - tail.n - 24 - 4 : 8; /* 24: "CfgStr.LAYER_TYPES[" "...]" */
            fp8q__inc_put_label(&m, s, ent[s][i].key, room < FP8Q__INC_KEY_MAX ? room : FP8Q__INC_KEY_MAX);
            fp8q__st_put(&m, tail.m);
            return fp8q__st_fail(P->err, FP8Q_ERR_PARSE, j->tok[s ? fp8q_json_get(j, sm, sname[s]) : d].start, &m);
        }
    P->c->scale_default = ent[0][0];
    P->c->method = ent[0][0].method;
    P->c->scale_nodes = ent[1], P->c->n_scale_nodes = cnt[1];
    P->c->scale_layers = ent[2], P->c->n_scale_layers = cnt[2];
    P->c->scale_layer_types = ent[3], P->c->n_scale_layer_types = cnt[3];
    for (s = 1; s < 4; s++) {
        const fp8q_inc_scale_entry **so;
        if (!cnt[s]) continue;
        if (!(so = (const fp8q_inc_scale_entry **)fp8q__inc_alloc(P->o, cnt[s] * sizeof *so)))
            return fp8q__inc_nomem(P);
        for (i = 0; i < cnt[s]; i++) so[i] = &ent[s][i];
        qsort((void *)so, cnt[s], sizeof *so, fp8q__inc_entry_cmp);
        P->o->sorted[s - 1] = so;
    }
    return FP8Q_OK;
}

/* ---- allowlist / blocklist */

static fp8q_result fp8q__inc_lists(fp8q__inc_p *P)
{
    const fp8q_json *j = P->j;
    int l, which;
    fp8q_result r;
    for (l = 0; l < 2; l++)
        for (which = 0; which < 2; which++) {
            const size_t a = P->list_tok[l][which];
            const char *key = P->list_key[l][which];
            const char **arr;
            size_t e, i = 0;
            fp8q_inc_list *L = l ? &P->c->blocklist : &P->c->allowlist;
            if (!a) continue;
            if (j->tok[a].type != FP8Q_JSON_ARRAY)
                return fp8q__inc_bad(P, a, key,
                                     which ? "must be an array of class names" : "must be an array of regex patterns");
            if (!j->tok[a].size) continue;
            if (!(arr = (const char **)fp8q__inc_alloc(P->o, j->tok[a].size * sizeof *arr))) return fp8q__inc_nomem(P);
            for (e = a + 1; e < j->tok[a].next; e = j->tok[e].next) {
                if (j->tok[e].type != FP8Q_JSON_STRING)
                    return fp8q__inc_bad(P, e, key, which ? "must hold class names (strings)" : "must hold strings");
                if ((r = fp8q__inc_jstr(P, e, key, &arr[i])) != FP8Q_OK) return r;
                if (!which && (r = fp8q_regex_check(arr[i], P->err)) != FP8Q_OK) {
                    fp8q__st_msg m;
                    fp8q__cfg_msg_init(&m);
                    fp8q__st_put(&m, "'"); /* fp8q_regex's message names the pattern */
                    fp8q__st_put(&m, key);
                    fp8q__st_put(&m, "': ");
                    fp8q__st_prefix(P->err, m.m);
                    if (P->err) P->err->offset = j->tok[e].start;
                    return r;
                }
                if (which && strchr(arr[i], '.')) {
                    fp8q__st_msg m;
                    fp8q__cfg_msg_init(&m);
                    fp8q__st_put(&m, "'");
                    fp8q__st_put(&m, key);
                    fp8q__st_put(&m, "' entry ");
                    fp8q__st_name(&m, arr[i]);
                    fp8q__st_put(&m, " never matches: types are bare class names such as 'Linear'");
                    if ((r = fp8q__inc_warn(P, &m)) != FP8Q_OK) return r;
                }
                i++;
            }
            if (which)
                L->types = arr, L->n_types = i;
            else
                L->names = arr, L->n_names = i;
        }
    return FP8Q_OK;
}

/* ---- the key loop */

static int fp8q__inc_is(const fp8q_json *j, size_t k, const char *const *names, int n)
{
    int i;
    for (i = 0; i < n; i++)
        if (fp8q_json_string_eq(j, k, names[i])) return 1;
    return 0;
}

/* An object value for a key whose INC default is not a dict: INC merges
   its members into the default, so {} changes nothing and anything else
   raises TypeError. 1: handled ({}), or an error in *r. */
static int fp8q__inc_object_on_scalar(fp8q__inc_p *P, size_t k, size_t v, fp8q_result *r)
{
    if (P->j->tok[v].type != FP8Q_JSON_OBJECT) return 0;
    if (P->j->tok[v].size == 0) {
        *r = fp8q__inc_warn_key(P, k, "", ": an empty object merges nothing, INC keeps the default");
    } else {
        fp8q__st_msg m;
        fp8q__cfg_msg_init(&m);
        fp8q__inc_put_key(&m, P->j, k);
        fp8q__st_put(&m, " cannot be an object (INC raises TypeError merging it into its default), got ");
        fp8q__inc_put_value(&m, P->j, v);
        *r = fp8q__inc_fail(P, FP8Q_ERR_PARSE, v, &m);
    }
    return 1;
}

static fp8q_result fp8q__inc_key(fp8q__inc_p *P, size_t k)
{
    static const char *const tf_keys[6] = {"recalc_scales",  "ignore_modules_wo_measures", "use_qdq", "fake_quant",
                                           "measure_on_hpu", "dynamic_quantization"};
    static const char *const internal[4] = {"local_rank", "global_rank", "world_size", "device_type"};
    static const char *const observers[4] = {"maxabs", "maxabs_per_channel", "save", "shape"};
    const fp8q_json *j = P->j;
    fp8q_inc_config *c = P->c;
    const size_t v = k + 1;
    const fp8q_json_type ty = j->tok[v].type;
    fp8q_result r = FP8Q_OK;
    int idx, i;
    /* enum keys */
    if (fp8q_json_string_eq(j, k, "mode")) {
        fp8q__inc_txt x;
        if ((r = fp8q__inc_enum(P, "mode", v, fp8q__inc_m_mode, FP8Q__INC_N(fp8q__inc_m_mode), &idx)) != FP8Q_OK)
            return r;
        c->mode = (fp8q_inc_mode)idx;
        c->mode_vllm_ok =
            ty == FP8Q_JSON_STRING && (fp8q_json_string_eq(j, v, "MEASURE") || fp8q_json_string_eq(j, v, "QUANTIZE"));
        if (ty == FP8Q_JSON_STRING) return fp8q__inc_jstr(P, v, "mode", &c->mode_text);
        fp8q__inc_pystr(&x, j, v);
        return (c->mode_text = fp8q__inc_strdup(P->o, x.s, x.n)) != NULL ? FP8Q_OK : fp8q__inc_nomem(P);
    }
    if (fp8q_json_string_eq(j, k, "scale_method")) {
        if (ty == FP8Q_JSON_OBJECT) {
            c->recalc_scales = 1;
            c->scale_method_dict = 1;
            P->scale_tok = v;
            return fp8q__inc_scan_scale_enums(P, v);
        }
        if ((r = fp8q__inc_enum(P, "scale_method", v, fp8q__inc_m_method, FP8Q__INC_N(fp8q__inc_m_method), &idx)) !=
            FP8Q_OK)
            return r;
        c->method = fp8q_inc_method_get(fp8q__inc_m_method[idx]);
        c->scale_method_dict = 0;
        P->scale_tok = 0;
        return c->method ? FP8Q_OK : fp8q__inc_bad(P, v, "scale_method", "names a method fp8q does not know");
    }
    if (fp8q_json_string_eq(j, k, "measure_exclude")) {
        if ((r = fp8q__inc_enum(P, "measure_exclude", v, fp8q__inc_m_excl, 5, &idx)) == FP8Q_OK)
            c->measure_exclude = (fp8q_inc_measure_exclude)(1 << idx);
        return r;
    }
    if (fp8q_json_string_eq(j, k, "fp8_config")) {
        if ((r = fp8q__inc_enum(P, "fp8_config", v, fp8q__inc_m_fp8, 2, &idx)) == FP8Q_OK)
            c->fp8_config = idx ? FP8Q_E5M2 : FP8Q_E4M3;
        return r;
    }
    if (fp8q_json_string_eq(j, k, "hp_dtype")) {
        if ((r = fp8q__inc_enum(P, "hp_dtype", v, fp8q__inc_m_hp, 3, &idx)) == FP8Q_OK)
            c->hp_dtype = idx == 0 ? FP8Q_BF16 : idx == 1 ? FP8Q_F16 : FP8Q_F32;
        return r;
    }
    if (fp8q_json_string_eq(j, k, "scale_format")) {
        if ((r = fp8q__inc_enum(P, "scale_format", v, fp8q__inc_m_fmt, 2, &idx)) == FP8Q_OK)
            c->scale_format = idx ? FP8Q_INC_SCALE_SCALAR : FP8Q_INC_SCALE_CONST;
        return r;
    }
    if (fp8q_json_string_eq(j, k, "device_for_scales")) {
        if ((r = fp8q__inc_enum(P, "device_for_scales", v, fp8q__inc_m_dev, 2, &idx)) == FP8Q_OK) {
            c->has_device_for_scales = 1;
            c->device_for_scales = idx ? FP8Q_GAUDI3 : FP8Q_GAUDI2;
        }
        return r;
    }
    for (i = 0; i < 6; i++)
        if (fp8q_json_string_eq(j, k, tf_keys[i])) {
            int *const dst[6] = {&c->recalc_scales,  &c->ignore_modules_wo_measures, &c->use_qdq, &c->fake_quant,
                                 &c->measure_on_hpu, &c->dynamic_quantization};
            if ((r = fp8q__inc_enum(P, tf_keys[i], v, fp8q__inc_m_tf, 2, &idx)) == FP8Q_OK) *dst[i] = idx == 0;
            return r;
        }
    /* keys whose default is a dict */
    if (fp8q_json_string_eq(j, k, "allowlist") || fp8q_json_string_eq(j, k, "whitelist") ||
        fp8q_json_string_eq(j, k, "blocklist") || fp8q_json_string_eq(j, k, "blacklist")) {
        const int block = fp8q_json_string_eq(j, k, "blocklist") || fp8q_json_string_eq(j, k, "blacklist");
        const int legacy = fp8q_json_string_eq(j, k, "whitelist") || fp8q_json_string_eq(j, k, "blacklist");
        const char *name = block ? (legacy ? "blacklist" : "blocklist") : (legacy ? "whitelist" : "allowlist");
        size_t s;
        if (legacy &&
            (r = fp8q__inc_warn_key(P, k, "",
                                    block ? " is the legacy name of 'blocklist' (merged into it)"
                                          : " is the legacy name of 'allowlist' (merged into it)")) != FP8Q_OK)
            return r;
        if (ty != FP8Q_JSON_OBJECT) {
            fp8q__st_msg m;
            fp8q__cfg_msg_init(&m);
            fp8q__st_put(&m, "'");
            fp8q__st_put(&m, name);
            fp8q__st_put(&m, "' must be an object {\"names\": [...], \"types\": [...]} (INC would replace the ");
            fp8q__st_put(&m, block ? "blocklist" : "allowlist");
            fp8q__st_put(&m, " with it and fail selecting modules), got ");
            fp8q__cfg_got(&m, j, v);
            return fp8q__inc_fail(P, FP8Q_ERR_PARSE, v, &m);
        }
        for (s = v + 1; s < j->tok[v].next; s = j->tok[s + 1].next) {
            static const char *const sub[2][2][2] = {
                {{"allowlist.names", "allowlist.types"}, {"whitelist.names", "whitelist.types"}},
                {{"blocklist.names", "blocklist.types"}, {"blacklist.names", "blacklist.types"}}};
            const int which = fp8q_json_string_eq(j, s, "names") ? 0 : fp8q_json_string_eq(j, s, "types") ? 1 : -1;
            if (which < 0) {
                fp8q__st_msg m;
                fp8q__cfg_msg_init(&m);
                fp8q__inc_put_key(&m, j, s);
                fp8q__st_put(&m, " in '");
                fp8q__st_put(&m, name);
                fp8q__st_put(&m, "' is not read by INC (keys: names, types): ignored");
                if ((r = fp8q__inc_warn(P, &m)) != FP8Q_OK) return r;
                continue;
            }
            P->list_tok[block][which] = s + 1;
            P->list_key[block][which] = sub[block][legacy][which];
        }
        return FP8Q_OK;
    }
    if (fp8q_json_string_eq(j, k, "mod_dict")) {
        fp8q__st_msg m;
        size_t s;
        if (ty == FP8Q_JSON_OBJECT && j->tok[v].size == 0) return FP8Q_OK;
        if (ty != FP8Q_JSON_OBJECT) return fp8q__inc_bad(P, v, "mod_dict", "must be an empty object");
        fp8q__cfg_msg_init(&m);
        fp8q__st_put(&m, "Custom modules are not supported: dict_keys([");
        for (s = v + 1; s < j->tok[v].next; s = j->tok[s + 1].next) {
            fp8q__inc_txt x;
            if (s > v + 1) fp8q__st_put(&m, ", ");
            x.n = 0, x.cut = 0, x.s[0] = 0;
            fp8q__inc_pyscalar(&x, j, s, 1);
            fp8q__st_put(&m, x.s);
            if (x.cut) fp8q__st_put(&m, "...");
        }
        fp8q__st_put(&m, "]). Please add it in the code.");
        return fp8q__inc_fail(P, FP8Q_ERR_PARSE, v, &m);
    }
    if (fp8q_json_string_eq(j, k, "scale_params"))
        return fp8q__inc_warn_key(
            P, 0, NULL, "'scale_params' is ignored by INC since v3.5: give backoffs in a dict 'scale_method'");
    /* keys with a scalar default */
    if (fp8q_json_string_eq(j, k, "observer")) {
        if (fp8q__inc_object_on_scalar(P, k, v, &r)) return r;
        if (ty != FP8Q_JSON_STRING) return fp8q__inc_bad(P, v, "observer", "must be a string");
        if ((r = fp8q__inc_jstr(P, v, "observer", &c->observer)) != FP8Q_OK) return r;
        for (i = 0; i < 4 && strcmp(c->observer, observers[i]) != 0; i++) {
        }
        if (i == 4) {
            fp8q__st_msg m;
            fp8q__cfg_msg_init(&m);
            fp8q__st_put(&m, "observer ");
            fp8q__st_name(&m, c->observer);
            fp8q__st_put(&m, " is not one of maxabs, maxabs_per_channel, save, shape: INC fails later (KeyError)");
            return fp8q__inc_warn(P, &m);
        }
        return FP8Q_OK;
    }
    if (fp8q_json_string_eq(j, k, "dump_stats_path")) {
        if (fp8q__inc_object_on_scalar(P, k, v, &r)) return r;
        if (ty != FP8Q_JSON_STRING) return fp8q__inc_bad(P, v, "dump_stats_path", "must be a string");
        return fp8q__inc_jstr(P, v, "dump_stats_path", &c->dump_stats_path);
    }
    if (fp8q_json_string_eq(j, k, "seperate_measure_files")) {
        if (ty == FP8Q_JSON_OBJECT && j->tok[v].size > 0 && fp8q__inc_object_on_scalar(P, k, v, &r)) return r;
        c->seperate_measure_files = fp8q__inc_truthy(j, v); /* INC reads the raw value: {} is falsy */
        return FP8Q_OK;
    }
    if (fp8q_json_string_eq(j, k, "row_parallel_linear_allreduce_quantization")) {
        if (fp8q__inc_object_on_scalar(P, k, v, &r)) return r;
        c->row_parallel_linear_allreduce_quantization = fp8q__inc_truthy(j, v);
        return FP8Q_OK;
    }
    if (fp8q_json_string_eq(j, k, "calibration_sample_interval")) {
        int64_t n = 0;
        int ok = 0;
        if (fp8q__inc_object_on_scalar(P, k, v, &r)) return r;
        if (ty == FP8Q_JSON_NUMBER) {
            const fp8q_result ir = fp8q_json_int64(j, v, &n);
            ok = ir == FP8Q_OK ? 1 : ir == FP8Q_ERR_LIMIT ? -1 : 0;
        } else if (ty == FP8Q_JSON_STRING) {
            char b[64];
            const size_t len = fp8q_json_string(j, v, b, sizeof b);
            ok = len < sizeof b ? fp8q__inc_pyint(b, len, &n) : 0;
        }
        if (ok < 0)
            return fp8q__cfg_bad(P->err, FP8Q_ERR_LIMIT, j, v, "calibration_sample_interval", "is outside int64");
        if (!ok)
            return fp8q__inc_bad(P, v, "calibration_sample_interval", "must be an integer (or a string holding one)");
        c->calibration_sample_interval = n;
        return FP8Q_OK;
    }
    if (fp8q__inc_is(j, k, internal, 4)) {
        if (fp8q__inc_object_on_scalar(P, k, v, &r)) return r;
        return fp8q__inc_warn_key(P, k, "",
                                  " is set by INC itself: ignored (fp8q_inc_file_name takes the rank and "
                                  "world size)");
    }
    /* keys INC has no default for: kept unread, or KeyError for a non-empty object */
    if (ty == FP8Q_JSON_OBJECT && j->tok[v].size > 0) {
        fp8q__st_msg m;
        fp8q__cfg_msg_init(&m);
        fp8q__st_put(&m, "unknown key ");
        fp8q__inc_put_key(&m, j, k);
        fp8q__st_put(&m, " with an object value: INC raises KeyError merging it into its defaults");
        return fp8q__inc_fail(P, FP8Q_ERR_PARSE, v, &m);
    }
    if (fp8q_json_string_eq(j, k, "method"))
        return fp8q__inc_warn_key(P, 0, NULL, "'method' is a legacy key INC no longer reads (e.g. \"HOOKS\"): ignored");
    if (fp8q_json_string_eq(j, k, "quantize_weight"))
        return fp8q__inc_warn_key(P, 0, NULL, "'quantize_weight' is a legacy key INC no longer reads: ignored");
    if (fp8q_json_string_eq(j, k, "dynamicquantization"))
        return fp8q__inc_warn_key(
            P, 0, NULL, "'dynamicquantization' is a misspelling INC ignores: the key is 'dynamic_quantization'");
    if (fp8q_json_string_eq(j, k, "scaleformat"))
        return fp8q__inc_warn_key(P, 0, NULL, "'scaleformat' is a misspelling INC ignores: the key is 'scale_format'");
    if (fp8q_json_string_eq(j, k, "separate_measure_files"))
        return fp8q__inc_warn_key(P, 0, NULL,
                                  "'separate_measure_files' is not read: INC spells it 'seperate_measure_files'");
    return fp8q__inc_warn_key(P, k, "unknown key ", " is ignored (INC keeps it unread)");
}

/* The checks and coercions after the key loop (INC.md 2.1 step 4). */
static fp8q_result fp8q__inc_finish(fp8q__inc_p *P)
{
    fp8q_inc_config *c = P->c;
    const fp8q_inc_scale_entry *all[4];
    size_t cnt[4], s, i;
    int any_pcs = 0, all_fixed = 1;
    fp8q_result r;
    fp8q__st_msg m;
    if (P->scale_tok) {
        if ((r = fp8q__inc_scale_dict(P)) != FP8Q_OK) return r;
    } else {
        c->scale_default.key = "";
        c->scale_default.weight = c->method->weight;
        c->scale_default.activation = c->method->activation;
        c->scale_default.method = c->method;
    }
    all[0] = &c->scale_default, cnt[0] = 1;
    all[1] = c->scale_nodes, cnt[1] = c->n_scale_nodes;
    all[2] = c->scale_layers, cnt[2] = c->n_scale_layers;
    all[3] = c->scale_layer_types, cnt[3] = c->n_scale_layer_types;
    for (s = 0; s < 4; s++)
        for (i = 0; i < cnt[s]; i++) {
            const fp8q_inc_scale_entry *e = &all[s][i];
            any_pcs |= e->weight.granularity == FP8Q_INC_PCS || e->activation.granularity == FP8Q_INC_PCS;
            all_fixed &=
                e->weight.value_type == FP8Q_INC_FIXED_VALUE && e->activation.value_type == FP8Q_INC_FIXED_VALUE;
        }
    if ((r = fp8q__inc_split_path(P)) != FP8Q_OK) return r;
    if (c->scale_format == FP8Q_INC_SCALE_SCALAR) {
        if (any_pcs) {
            c->scale_format = FP8Q_INC_SCALE_CONST;
            if ((r = fp8q__inc_warn_key(P, 0, NULL,
                                        "Cannot use 'scale_format = SCALAR' when using PCQ (Per Channel Quantization), "
                                        "Reduced to 'CONST'.")) != FP8Q_OK)
                return r;
        }
        if (c->fake_quant) {
            c->scale_format = FP8Q_INC_SCALE_CONST;
            if ((r = fp8q__inc_warn_key(P, 0, NULL,
                                        "Cannot use 'scale_format = SCALAR' when using fake_quant. Reduced to "
                                        "'CONST'.")) != FP8Q_OK)
                return r;
        }
    }
    if (c->dynamic_quantization) {
        if (c->use_qdq || c->fake_quant)
            return fp8q__st_fail_str(P->err, FP8Q_ERR_PARSE, 0,
                                     "Currently dynamic quantization is not supported for qdq and fake quant.");
        if (c->scale_format == FP8Q_INC_SCALE_SCALAR) {
            c->scale_format = FP8Q_INC_SCALE_CONST;
            if ((r = fp8q__inc_warn_key(P, 0, NULL,
                                        "Cannot use 'scale_format = SCALAR' when using dynamic quantization. Reduced "
                                        "to 'CONST'.")) != FP8Q_OK)
                return r;
        }
        for (s = 0; s < 4; s++)
            for (i = 0; i < cnt[s]; i++) {
                const fp8q_inc_scale_entry *e = &all[s][i];
                if (e->activation.rounding != FP8Q_INC_HW_ALIGNED &&
                    !(e->weight.value_type == FP8Q_INC_FIXED_VALUE && e->activation.value_type == FP8Q_INC_FIXED_VALUE))
                    continue;
                fp8q__cfg_msg_init(&m);
                fp8q__st_put(&m, "Unsupported config: scale_method ");
                fp8q__st_put(&m, e->method->name);
                if (s) {
                    fp8q__st_put(&m, " (");
                    fp8q__inc_put_label(&m, (int)s, e->key, FP8Q__INC_KEY_MAX);
                    fp8q__st_put(&m, ")");
                }
                fp8q__st_put(&m, " is not supported in dynamic quantization");
                return fp8q__st_fail(P->err, FP8Q_ERR_PARSE, 0, &m);
            }
        if (c->mode != FP8Q_INC_MODE_QUANTIZE && c->mode != FP8Q_INC_MODE_LOAD) {
            fp8q__cfg_msg_init(&m);
            fp8q__st_put(&m, "Quantization mode is QuantMode.");
            fp8q__st_put(&m, fp8q__inc_m_mode[c->mode]);
            fp8q__st_put(&m, ", but dynamic quantization is only supported in QUANTIZE or LOAD mode");
            return fp8q__st_fail(P->err, FP8Q_ERR_PARSE, 0, &m);
        }
        if (c->row_parallel_linear_allreduce_quantization)
            return fp8q__st_fail_str(P->err, FP8Q_ERR_PARSE, 0,
                                     "Dynamic quantization is not supported when using "
                                     "row_parallel_linear_allreduce_quantization");
    } else {
        for (s = 0; s < 4; s++)
            for (i = 0; i < cnt[s]; i++)
                if (all[s][i].method->dynamic_only) {
                    fp8q__cfg_msg_init(&m);
                    fp8q__st_put(&m, "Unsupported config: scale_method ");
                    fp8q__st_put(&m, all[s][i].method->name);
                    fp8q__st_put(&m, " is supported only in dynamic quantization");
                    return fp8q__st_fail(P->err, FP8Q_ERR_PARSE, 0, &m);
                }
    }
    c->use_stats_files = !((c->dynamic_quantization || all_fixed) &&
                           (c->mode == FP8Q_INC_MODE_QUANTIZE || c->mode == FP8Q_INC_MODE_LOAD));
    if (c->use_stats_files && !c->dump_dir[0]) {
        fp8q__cfg_msg_init(&m);
        fp8q__st_put(&m, "dump_stats_path ");
        fp8q__st_name(&m, c->dump_stats_path);
        fp8q__st_put(&m, " has no directory part: INC runs os.makedirs(''), which raises FileNotFoundError");
        if ((r = fp8q__inc_warn(P, &m)) != FP8Q_OK) return r;
    }
    return fp8q__inc_lists(P);
}

/* Parses; *json_failed is set when the text is not valid JSON. */
static fp8q_result fp8q__inc_parse(fp8q_inc_config *cfg, const char *text, size_t len, fp8q_error *err,
                                   int *json_failed)
{
    fp8q_json j;
    fp8q__inc_p P;
    fp8q_result r;
    size_t k;
    memset(&P, 0, sizeof P);
    *json_failed = 0;
    if ((r = fp8q_json_parse(&j, text, len, 0, err)) != FP8Q_OK) {
        *json_failed = 1;
        return r;
    }
    if (j.tok[0].type != FP8Q_JSON_OBJECT) {
        fp8q__st_msg m;
        fp8q__cfg_msg_init(&m);
        fp8q__st_put(&m, "QUANT_CONFIG must hold a JSON object, got ");
        fp8q__st_put(&m, fp8q__st_type_name(j.tok[0].type));
        r = fp8q__st_fail(err, FP8Q_ERR_PARSE, j.tok[0].start, &m);
        fp8q_json_free(&j);
        return r;
    }
    P.c = cfg;
    P.j = &j;
    P.err = err;
    P.o = (fp8q__inc_owned *)calloc(1, sizeof *P.o);
    if (!P.o) {
        fp8q_json_free(&j);
        return fp8q__inc_nomem(&P);
    }
    cfg->fp8q__owned = P.o;
    cfg->mode = FP8Q_INC_MODE_QUANTIZE;
    cfg->observer = "maxabs";
    cfg->method = fp8q_inc_method_get("MAXABS_HW");
    cfg->fp8_config = FP8Q_E4M3;
    cfg->hp_dtype = FP8Q_BF16;
    cfg->dump_stats_path = "stats";
    cfg->measure_exclude = FP8Q_INC_EXCLUDE_OUTPUT;
    cfg->scale_format = FP8Q_INC_SCALE_SCALAR;
    cfg->device_for_scales = FP8Q_GAUDI2;
    cfg->measure_on_hpu = 1;
    cfg->seperate_measure_files = 1;
    r = cfg->method ? FP8Q_OK : fp8q__st_fail_str(err, FP8Q_ERR_UNSUPPORTED, 0, "MAXABS_HW is missing");
    for (k = 1; r == FP8Q_OK && k < j.count; k = j.tok[k + 1].next) r = fp8q__inc_key(&P, k);
    if (r == FP8Q_OK) r = fp8q__inc_finish(&P);
    fp8q_json_free(&j);
    return r;
}

FP8QDEF void fp8q_inc_config_free(fp8q_inc_config *cfg)
{
    fp8q__inc_owned *o;
    if (!cfg) return;
    o = (fp8q__inc_owned *)cfg->fp8q__owned;
    if (o) {
        while (o->blk) {
            fp8q__inc_blk *n = o->blk->next;
            free(o->blk);
            o->blk = n;
        }
        free((void *)o->warn);
        free(o);
    }
    memset(cfg, 0, sizeof *cfg);
}

FP8QDEF fp8q_result fp8q_inc_config_parse(fp8q_inc_config *cfg, const char *text, size_t len, fp8q_error *err)
{
    fp8q_result r;
    int json_failed;
    fp8q__st_err_ok(err);
    if (!cfg || (!text && len > 0))
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0,
                                 !cfg ? "fp8q_inc_config_parse: cfg is NULL" : "fp8q_inc_config_parse: text is NULL");
    memset(cfg, 0, sizeof *cfg);
    r = fp8q__inc_parse(cfg, text ? text : "", len, err, &json_failed);
    if (r != FP8Q_OK) fp8q_inc_config_free(cfg);
    return r;
}

/* "...tail" of a long path, for messages */
static void fp8q__inc_put_path(fp8q__st_msg *m, const char *path)
{
    size_t n = strlen(path), i = 0;
    if (n > FP8Q__ST_NAME_MAX) {
        i = n - FP8Q__ST_NAME_MAX;
        while (i < n && ((unsigned char)path[i] & 0xC0u) == 0x80u) i++;
        fp8q__st_put(m, "...");
    }
    fp8q__st_put(m, path + i);
}

FP8QDEF fp8q_result fp8q_inc_config_load(fp8q_inc_config *cfg, const char *path, fp8q_error *err)
{
    char *buf;
    size_t len;
    int missing = 0, json_failed = 0;
    fp8q_result r;
    fp8q__st_msg m;
    fp8q__st_err_ok(err);
    if (cfg) memset(cfg, 0, sizeof *cfg);
    if (!cfg || !path)
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0,
                                 !cfg ? "fp8q_inc_config_load: cfg is NULL" : "fp8q_inc_config_load: path is NULL");
    r = fp8q__cfg_read(path, &buf, &len, &missing, err);
    if (r == FP8Q_ERR_IO) {
        fp8q__cfg_msg_init(&m);
        fp8q__st_put(&m, "QUANT PACKAGE: Can't open ");
        fp8q__inc_put_path(&m, path);
        fp8q__st_put(&m, missing ? "! (no such file)" : "! (cannot open or read it as a file)");
        return fp8q__st_fail(err, FP8Q_ERR_IO, 0, &m);
    }
    if (r != FP8Q_OK) return r;
    r = fp8q__inc_parse(cfg, buf ? buf : "", len, err, &json_failed);
    free(buf);
    if (r != FP8Q_OK) {
        fp8q_inc_config_free(cfg);
        fp8q__cfg_msg_init(&m);
        if (json_failed) {
            fp8q__st_put(&m, "QUANT PACKAGE: Can't load ");
            fp8q__inc_put_path(&m, path);
            fp8q__st_put(&m, "! ");
        } else {
            fp8q__inc_put_path(&m, path);
            fp8q__st_put(&m, ": ");
        }
        fp8q__st_prefix(err, m.m);
    }
    return r;
}

FP8QDEF fp8q_result fp8q_inc_config_load_env(fp8q_inc_config *cfg, fp8q_error *err)
{
    const char *path = getenv("QUANT_CONFIG");
    if (cfg) memset(cfg, 0, sizeof *cfg);
    if (!path || !path[0]) {
        fp8q__st_err_ok(err);
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0,
                                 !path ? "QUANT_CONFIG is not set: set it to the path of an INC JSON config file"
                                       : "QUANT_CONFIG is empty: set it to the path of an INC JSON config file");
    }
    return fp8q_inc_config_load(cfg, path, err);
}

FP8QDEF const char *fp8q_inc_config_warning(const fp8q_inc_config *cfg, size_t i)
{
    const fp8q__inc_owned *o = cfg ? (const fp8q__inc_owned *)cfg->fp8q__owned : NULL;
    return o && i < o->n_warn ? o->warn[i] : NULL;
}

FP8QDEF fp8q_result fp8q_inc_config_check_vllm(const fp8q_inc_config *cfg, fp8q_error *err)
{
    fp8q__st_msg m;
    fp8q__st_err_ok(err);
    if (!cfg) return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0, "fp8q_inc_config_check_vllm: cfg is NULL");
    if (cfg->mode_vllm_ok) return FP8Q_OK;
    fp8q__cfg_msg_init(&m);
    fp8q__st_put(&m, "Unknown quantization config mode, please validate quantization config file (vLLM accepts mode "
                     "\"MEASURE\" or \"QUANTIZE\" exactly, got ");
    if (cfg->mode_text) {
        fp8q__st_name(&m, cfg->mode_text);
        fp8q__st_put(&m, ")");
    } else {
        fp8q__st_put(&m, "no mode: FP8Config's default is AUTO)");
    }
    return fp8q__st_fail(err, FP8Q_ERR_UNSUPPORTED, 0, &m);
}

static const char *fp8q__inc_dev_name(fp8q_gaudi d)
{
    return d == FP8Q_GAUDI2 ? "INCAcceleratorType.GAUDI2" : "INCAcceleratorType.GAUDI3";
}

/* ---- which device a file was computed for */

static int fp8q__is_alnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static char fp8q__lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* The device a word names: "g2", "gaudi2" (any case) -> GAUDI2; else 0. */
static int fp8q__device_word(const char *w, size_t n)
{
    char b[8];
    size_t i;
    if (n != 2 && n != 6) return 0;
    for (i = 0; i < n; i++) b[i] = fp8q__lower(w[i]);
    if (n == 6 && memcmp(b, "gaudi", 5) != 0) return 0;
    if (n == 2 && b[0] != 'g') return 0;
    return b[n - 1] == '2' ? FP8Q_GAUDI2 : b[n - 1] == '3' ? FP8Q_GAUDI3 : 0;
}

/* The device the path names: the innermost directory that is a device
   word, else a device word inside the file name. */
static int fp8q__path_device(const char *path, int *in_dir)
{
    size_t end = strlen(path), start, base = end, i;
    int dev;
    while (base > 0 && path[base - 1] != '/' && path[base - 1] != '\\') base--;
    for (end = base; end > 0;) { /* directories, innermost first */
        end--;                   /* the separator */
        start = end;
        while (start > 0 && path[start - 1] != '/' && path[start - 1] != '\\') start--;
        if ((dev = fp8q__device_word(path + start, end - start)) != 0) return *in_dir = 1, dev;
        end = start;
    }
    for (i = base; path[i];) { /* words of the file name */
        size_t j = i;
        while (path[j] && fp8q__is_alnum(path[j])) j++;
        if ((dev = fp8q__device_word(path + i, j - i)) != 0) return *in_dir = 0, dev;
        i = path[j] ? j + 1 : j;
    }
    return 0;
}

static int fp8q__in_gaudi2_hw_set(double v) { return v == 16.0 || v == 1.0 || v == 0.0625 || v == 0.00390625; }

/* A Scale file's HW-aligned activation scale outside Gaudi2's set, or -1. */
static double fp8q__gaudi3_only_scale(const fp8q_inc_measure *m, const fp8q_inc_config *cfg)
{
    size_t i, j;
    if (!m || m->mode != FP8Q_INC_MEASURE_SCALE || !cfg ||
        cfg->scale_default.activation.rounding != FP8Q_INC_HW_ALIGNED)
        return -1;
    for (i = 0; i < m->n_nodes; i++) {
        const fp8q_inc_node *n = &m->nodes[i];
        for (j = 0; j < n->n_inputs + n->n_outputs; j++) {
            const fp8q_inc_entry *e = j < n->n_inputs ? &n->inputs[j] : &n->outputs[j - n->n_inputs];
            if (e->rank == 0 && e->v[0] > 0 && !fp8q__in_gaudi2_hw_set(e->v[0])) return e->v[0];
        }
    }
    return -1;
}

FP8QDEF int fp8q_inc_file_device(const char *path, const fp8q_inc_measure *m, const fp8q_inc_config *cfg, char *why,
                                 size_t why_cap)
{
    int in_dir = 0, dev = path ? fp8q__path_device(path, &in_dir) : 0;
    double v;
    if (dev) {
        if (why && why_cap)
            (void)snprintf(why, why_cap, "its %s names %s", in_dir ? "directory" : "file name",
                           dev == FP8Q_GAUDI2 ? "Gaudi2" : "Gaudi3");
        return dev;
    }
    if ((v = fp8q__gaudi3_only_scale(m, cfg)) > 0) {
        if (why && why_cap)
            (void)snprintf(why, why_cap, "its HW-aligned scale %.17g is not in Gaudi2's set {16, 1, 1/16, 1/256}", v);
        return FP8Q_GAUDI3;
    }
    if (why && why_cap) why[0] = 0;
    return 0;
}

FP8QDEF fp8q_result fp8q_inc_check_file_device(const char *path, const fp8q_inc_measure *m, const fp8q_inc_config *cfg,
                                               fp8q_gaudi device, fp8q_error *err)
{
    char why[128];
    fp8q_gaudi want = cfg && cfg->has_device_for_scales ? cfg->device_for_scales : device;
    int file_dev = fp8q_inc_file_device(path, m, cfg, why, sizeof why);
    if (device != FP8Q_GAUDI2 && device != FP8Q_GAUDI3)
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_inc_check_file_device: device must be GAUDI2 or GAUDI3");
    if (!file_dev || file_dev == (int)want) return FP8Q_OK;
    return fp8q__failf(err, FP8Q_ERR_UNSUPPORTED,
                       "%s was computed for %s (%s), but the scales are for %s: measurements and scales are "
                       "device-specific (fullscale 240 vs 448, HW scale sets)",
                       path ? path : "the measurement", file_dev == FP8Q_GAUDI2 ? "Gaudi2" : "Gaudi3", why,
                       want == FP8Q_GAUDI2 ? "Gaudi2" : "Gaudi3");
}

FP8QDEF fp8q_result fp8q_inc_config_check_device(const fp8q_inc_config *cfg, fp8q_gaudi device, fp8q_error *err)
{
    fp8q__st_msg m;
    const fp8q_inc_scale_entry *all[4];
    size_t cnt[4], s, i;
    fp8q__st_err_ok(err);
    if (!cfg || !cfg->fp8q__owned || (device != FP8Q_GAUDI2 && device != FP8Q_GAUDI3))
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0,
                                 "fp8q_inc_config_check_device: cfg not parsed or device not GAUDI2/GAUDI3");
    if (!cfg->has_device_for_scales || cfg->device_for_scales == device) return FP8Q_OK;
    all[0] = &cfg->scale_default, cnt[0] = 1;
    all[1] = cfg->scale_nodes, cnt[1] = cfg->n_scale_nodes;
    all[2] = cfg->scale_layers, cnt[2] = cfg->n_scale_layers;
    all[3] = cfg->scale_layer_types, cnt[3] = cfg->n_scale_layer_types;
    for (s = 0; s < 4; s++)
        for (i = 0; i < cnt[s]; i++)
            if (strcmp(all[s][i].method->name, "MAXABS_HW") != 0) {
                fp8q__cfg_msg_init(&m);
                fp8q__st_put(&m, "Unsupported config: scale_method: ");
                fp8q__st_put(&m, all[s][i].method->name);
                fp8q__st_put(&m, " for scale device overriding: ");
                fp8q__st_put(&m, fp8q__inc_dev_name(cfg->device_for_scales));
                return fp8q__st_fail(err, FP8Q_ERR_UNSUPPORTED, 0, &m);
            }
    if (cfg->device_for_scales == FP8Q_GAUDI2 && device == FP8Q_GAUDI3) return FP8Q_OK;
    fp8q__cfg_msg_init(&m);
    fp8q__st_put(&m, "Unsupported config: device_for_scales=");
    fp8q__st_put(&m, fp8q__inc_dev_name(cfg->device_for_scales));
    fp8q__st_put(&m, " for device_type=");
    fp8q__st_put(&m, fp8q__inc_dev_name(device));
    return fp8q__st_fail(err, FP8Q_ERR_UNSUPPORTED, 0, &m);
}

/* The entry of sorted[0, n) whose key is s[0, len), or NULL. */
static const fp8q_inc_scale_entry *fp8q__inc_find(const fp8q_inc_scale_entry *const *sorted, size_t n, const char *s,
                                                  size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        const char *k = sorted[mid]->key;
        int c = strncmp(k, s, len);
        if (c == 0) c = k[len] ? 1 : 0;
        if (c == 0) return sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The digits of the first match of "layers" SEP "(\d+)" in name: *len > 0. */
static const char *fp8q__inc_layer_idx(const char *name, char sep, size_t *len)
{
    const char *p = name;
    while ((p = strstr(p, "layers")) != NULL) {
        if (p[6] == sep && p[7] >= '0' && p[7] <= '9') {
            size_t n = 0;
            while (p[7 + n] >= '0' && p[7 + n] <= '9') n++;
            *len = n;
            return p + 7;
        }
        p++;
    }
    *len = 0;
    return NULL;
}

FP8QDEF const fp8q_inc_scale_entry *fp8q_inc_config_scale_entry(const fp8q_inc_config *cfg, const char *module_name,
                                                                const char *class_name)
{
    const fp8q__inc_owned *o;
    const fp8q_inc_scale_entry *e;
    const char *idx;
    size_t n;
    if (!cfg || !module_name || !(o = (const fp8q__inc_owned *)cfg->fp8q__owned)) return NULL;
    if (cfg->n_scale_nodes &&
        (e = fp8q__inc_find(o->sorted[0], cfg->n_scale_nodes, module_name, strlen(module_name))) != NULL)
        return e;
    if (cfg->n_scale_layers) {
        idx = fp8q__inc_layer_idx(module_name, '.', &n);
        if (!idx) idx = fp8q__inc_layer_idx(module_name, '/', &n);
        if (idx && (e = fp8q__inc_find(o->sorted[1], cfg->n_scale_layers, idx, n)) != NULL) return e;
    }
    if (cfg->n_scale_layer_types && class_name &&
        (e = fp8q__inc_find(o->sorted[2], cfg->n_scale_layer_types, class_name, strlen(class_name))) != NULL)
        return e;
    return &cfg->scale_default;
}

FP8QDEF fp8q_result fp8q_inc_config_scale_cfg(const fp8q_inc_config *cfg, const char *module_name,
                                              const char *class_name, fp8q_inc_scale_cfg *weight,
                                              fp8q_inc_scale_cfg *activation)
{
    const fp8q_inc_scale_entry *e = fp8q_inc_config_scale_entry(cfg, module_name, class_name);
    if (!e) return FP8Q_ERR_ARG;
    if (weight) *weight = e->weight;
    if (activation) *activation = e->activation;
    return FP8Q_OK;
}

/* Does any of the patterns match name? */
static fp8q_result fp8q__inc_any_match(const char *const *pats, size_t n, const char *name, int *hit, fp8q_error *err)
{
    size_t i;
    fp8q_result r;
    *hit = 0;
    for (i = 0; i < n && !*hit; i++)
        if ((r = fp8q_regex(pats[i], name, FP8Q_REGEX_SEARCH, hit, err)) != FP8Q_OK) return r;
    return FP8Q_OK;
}

static int fp8q__inc_has_type(const fp8q_inc_list *l, const char *type)
{
    size_t i;
    for (i = 0; i < l->n_types; i++)
        if (strcmp(l->types[i], type) == 0) return 1;
    return 0;
}

FP8QDEF fp8q_result fp8q_inc_should_quantize(const fp8q_inc_config *cfg, const char *module_name,
                                             const char *class_name, int supports_dynamic, int *yes, fp8q_error *err)
{
    const fp8q_inc_list *al, *bl;
    int hit = 0;
    fp8q_result r;
    fp8q__st_err_ok(err);
    if (yes) *yes = 0;
    if (!cfg || !module_name || !class_name || !yes)
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0,
                                 "fp8q_inc_should_quantize: cfg, module_name, class_name and yes must not be NULL");
    al = &cfg->allowlist, bl = &cfg->blocklist;
    if (fp8q__inc_has_type(bl, class_name)) return FP8Q_OK;
    if ((al->n_names || al->n_types) && !fp8q__inc_has_type(al, class_name)) {
        if ((r = fp8q__inc_any_match(al->names, al->n_names, module_name, &hit, err)) != FP8Q_OK) return r;
        if (!hit) return FP8Q_OK;
    }
    if ((r = fp8q__inc_any_match(bl->names, bl->n_names, module_name, &hit, err)) != FP8Q_OK) return r;
    if (hit) return FP8Q_OK;
    if (cfg->dynamic_quantization && !supports_dynamic) return FP8Q_OK;
    *yes = 1;
    return FP8Q_OK;
}

/* snprintf-like appending */
typedef struct fp8q__inc_name {
    char *buf;
    size_t cap, n;
} fp8q__inc_name;

static void fp8q__inc_nput(fp8q__inc_name *b, const char *s)
{
    for (; *s; s++, b->n++)
        if (b->n + 1 < b->cap) b->buf[b->n] = *s;
}

static void fp8q__inc_nint(fp8q__inc_name *b, int v)
{
    char d[16];
    int k = 0;
    unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
    if (v < 0) fp8q__inc_nput(b, "-");
    do {
        d[k++] = (char)('0' + (int)(u % 10u));
        u /= 10u;
    } while (u);
    while (k) {
        char one[2];
        one[0] = d[--k];
        one[1] = 0;
        fp8q__inc_nput(b, one);
    }
}

FP8QDEF size_t fp8q_inc_file_name(const fp8q_inc_config *cfg, fp8q_inc_file kind, int rank, int world, char *buf,
                                  size_t cap)
{
    fp8q__inc_name b;
    const int shape = kind == FP8Q_INC_FILE_SHAPE || kind == FP8Q_INC_FILE_SHAPE_NPZ;
    const int scale = kind == FP8Q_INC_FILE_SCALE || kind == FP8Q_INC_FILE_SCALE_NPZ;
    const int npz =
        kind == FP8Q_INC_FILE_MEASURE_NPZ || kind == FP8Q_INC_FILE_SCALE_NPZ || kind == FP8Q_INC_FILE_SHAPE_NPZ;
    b.buf = buf, b.cap = buf ? cap : 0, b.n = 0;
    if (b.cap) buf[0] = 0;
    if (!cfg || !cfg->fp8q__owned || (int)kind < (int)FP8Q_INC_FILE_MEASURE || (int)kind > (int)FP8Q_INC_FILE_SHAPE_NPZ)
        return 0;
    fp8q__inc_nput(&b, cfg->dump_stats_path);
    fp8q__inc_nput(&b, "_hooks_");
    fp8q__inc_nput(&b, shape ? "shape" : cfg->observer);
    if (scale) {
        fp8q__inc_nput(&b, "_");
        fp8q__inc_nput(&b, cfg->method->name);
    }
    if (rank >= 0 && cfg->seperate_measure_files) {
        fp8q__inc_nput(&b, "_");
        fp8q__inc_nint(&b, rank);
        fp8q__inc_nput(&b, "_");
        if (world > 0)
            fp8q__inc_nint(&b, world);
        else
            fp8q__inc_nput(&b, "None");
    }
    fp8q__inc_nput(&b, kind == FP8Q_INC_FILE_MOD_LIST ? "_mod_list.json" : npz ? ".npz" : ".json");
    if (b.cap) buf[b.n < b.cap ? b.n : b.cap - 1] = 0;
    return b.n;
}

/* ------------------------------------- INC measurement and scale files */
/* Reader: one fp8q_json_parse of the text (Infinity/NaN allowed), then one
   walk over the tokens that validates each node and converts its numbers
   (each entry's values in one malloc). Writer: Python json.dump's layout,
   built in a growing buffer; floats with Python's repr (shortest digits
   that read back, found with exact decimal expansions and the JSON reader's
   correctly rounded conversion). Messages reuse the safetensors helpers. */

#define FP8Q__IM_NONE ((size_t)-1)

typedef struct fp8q__im_ctx {
    const fp8q_json *j;
    fp8q_inc_measure_mode mode;
    fp8q_error *err;
    const char *node;  /* node name for messages, or NULL */
    const char *key;   /* "inputs", "outputs", "params", or NULL */
    size_t index;      /* entry index in key, or FP8Q__IM_NONE */
    const char *param; /* params member name, or NULL */
    const char *sub;   /* dict key inside a param, or NULL */
} fp8q__im_ctx;

static void fp8q__im_msg_init(fp8q__st_msg *m)
{
    m->n = 0;
    m->m[0] = 0;
}

/* " at line L, column C (byte B)" for byte offset off of text. */
static void fp8q__im_where(fp8q__st_msg *m, const char *text, size_t len, size_t off)
{
    size_t i, line = 1, col0 = 0;
    if (off > len) off = len;
    for (i = 0; i < off; i++)
        if (text[i] == '\n') {
            line++;
            col0 = i + 1;
        }
    fp8q__st_put(m, " at line ");
    fp8q__st_u64(m, line);
    fp8q__st_put(m, ", column ");
    fp8q__st_u64(m, off - col0 + 1);
    fp8q__st_put(m, " (byte ");
    fp8q__st_u64(m, off);
    fp8q__st_put(m, ")");
}

/* "node 'N': \"key\"[i][\"param\"][\"sub\"]: " */
static void fp8q__im_context(fp8q__st_msg *m, const fp8q__im_ctx *c)
{
    if (c->node) {
        fp8q__st_put(m, "node ");
        fp8q__st_name(m, c->node);
        fp8q__st_put(m, ": ");
    }
    if (c->key) {
        fp8q__st_put(m, "\"");
        fp8q__st_put(m, c->key);
        fp8q__st_put(m, "\"");
        if (c->param) {
            fp8q__st_put(m, "[");
            fp8q__st_name(m, c->param);
            fp8q__st_put(m, "]");
        }
        if (c->sub) {
            fp8q__st_put(m, "[");
            fp8q__st_name(m, c->sub);
            fp8q__st_put(m, "]");
        }
        if (c->index != FP8Q__IM_NONE) {
            fp8q__st_put(m, "[");
            fp8q__st_u64(m, c->index);
            fp8q__st_put(m, "]");
        }
        fp8q__st_put(m, ": ");
    }
}

/* Fails with `what` [", got <type of token t>"] at token t. */
static fp8q_result fp8q__im_bad(const fp8q__im_ctx *c, int code, size_t t, const char *what, int got)
{
    fp8q__st_msg m;
    const fp8q_json_token *k = &c->j->tok[t];
    size_t off = k->start - (k->type == FP8Q_JSON_STRING && k->start > 0 ? 1u : 0u);
    fp8q__im_msg_init(&m);
    fp8q__st_put(&m, "INC measurement file: ");
    fp8q__im_context(&m, c);
    fp8q__st_put(&m, what);
    if (got) {
        fp8q__st_put(&m, ", got ");
        fp8q__st_put(&m, fp8q__st_type_name(k->type));
    }
    fp8q__im_where(&m, c->j->text, c->j->len, off);
    return fp8q__st_fail(c->err, code, off, &m);
}

static fp8q_result fp8q__im_nomem(fp8q_error *err)
{
    return fp8q__st_fail_str(err, FP8Q_ERR_NOMEM, 0, "INC measurement file: out of memory");
}

/* ---- freeing and copying */

static void fp8q__im_entry_free(fp8q_inc_entry *e)
{
    free(e->v);
    free(e->isint);
    e->v = NULL;
    e->isint = NULL;
}

static void fp8q__im_entries_free(fp8q_inc_entry *e, size_t n)
{
    size_t i;
    if (!e) return;
    for (i = 0; i < n; i++) fp8q__im_entry_free(&e[i]);
    free(e);
}

static void fp8q__im_param_free(fp8q_inc_param *p)
{
    size_t i;
    free(p->name);
    if (p->keys)
        for (i = 0; i < p->count; i++) free(p->keys[i]);
    free(p->keys);
    fp8q__im_entries_free(p->entries, p->entries ? p->count : 0);
    memset(p, 0, sizeof *p);
}

FP8QDEF void fp8q_inc_node_free(fp8q_inc_node *node)
{
    size_t i;
    if (!node) return;
    free(node->name);
    fp8q__im_entries_free(node->inputs, node->n_inputs);
    fp8q__im_entries_free(node->outputs, node->n_outputs);
    if (node->params)
        for (i = 0; i < node->n_params; i++) fp8q__im_param_free(&node->params[i]);
    free(node->params);
    memset(node, 0, sizeof *node);
}

FP8QDEF void fp8q_inc_measure_free(fp8q_inc_measure *m)
{
    size_t i;
    if (!m) return;
    if (m->nodes)
        for (i = 0; i < m->n_nodes; i++) fp8q_inc_node_free(&m->nodes[i]);
    free(m->nodes);
    memset(m, 0, sizeof *m);
}

FP8QDEF void fp8q_inc_measure_init(fp8q_inc_measure *m, fp8q_inc_measure_mode mode)
{
    if (!m) return;
    memset(m, 0, sizeof *m);
    m->mode = mode;
    m->has_global_rank = m->global_rank_null = 1;
    m->has_local_rank = m->local_rank_null = 1;
    FP8Q__MEMCPY(m->order, "glmN", 5);
}

static char *fp8q__im_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = (char *)malloc(n);
    if (d) FP8Q__MEMCPY(d, s, n);
    return d;
}

static size_t fp8q__im_count(const fp8q_inc_entry *e) { return e->rows * e->cols; }

static int fp8q__im_entry_copy(fp8q_inc_entry *d, const fp8q_inc_entry *s)
{
    size_t n = fp8q__im_count(s);
    *d = *s;
    d->v = NULL;
    d->isint = NULL;
    d->v = (double *)malloc((n ? n : 1) * sizeof(double));
    if (!d->v) return -1;
    if (n) FP8Q__MEMCPY(d->v, s->v, n * sizeof(double));
    if (s->isint) {
        d->isint = (unsigned char *)malloc(n ? n : 1);
        if (!d->isint) {
            fp8q__im_entry_free(d);
            return -1;
        }
        if (n) FP8Q__MEMCPY(d->isint, s->isint, n);
    }
    return 0;
}

static int fp8q__im_entries_copy(fp8q_inc_entry **d, const fp8q_inc_entry *s, size_t n)
{
    size_t i;
    *d = (fp8q_inc_entry *)calloc(n ? n : 1, sizeof(fp8q_inc_entry));
    if (!*d) return -1;
    for (i = 0; i < n; i++)
        if (fp8q__im_entry_copy(&(*d)[i], &s[i]) != 0) {
            fp8q__im_entries_free(*d, i);
            *d = NULL;
            return -1;
        }
    return 0;
}

static int fp8q__im_node_copy(fp8q_inc_node *d, const fp8q_inc_node *s)
{
    size_t i, k;
    memset(d, 0, sizeof *d);
    FP8Q__MEMCPY(d->order, s->order, sizeof d->order);
    d->has_inputs = s->has_inputs;
    d->has_outputs = s->has_outputs;
    d->has_params = s->has_params;
    if (!(d->name = fp8q__im_strdup(s->name ? s->name : ""))) goto fail;
    if (fp8q__im_entries_copy(&d->inputs, s->inputs, s->n_inputs) != 0) goto fail;
    d->n_inputs = s->n_inputs;
    if (fp8q__im_entries_copy(&d->outputs, s->outputs, s->n_outputs) != 0) goto fail;
    d->n_outputs = s->n_outputs;
    d->params = (fp8q_inc_param *)calloc(s->n_params ? s->n_params : 1, sizeof(fp8q_inc_param));
    if (!d->params) goto fail;
    for (i = 0; i < s->n_params; i++, d->n_params++) {
        const fp8q_inc_param *sp = &s->params[i];
        fp8q_inc_param *dp = &d->params[i];
        dp->is_dict = sp->is_dict;
        if (!(dp->name = fp8q__im_strdup(sp->name ? sp->name : ""))) goto fail;
        if (sp->is_dict) {
            dp->keys = (char **)calloc(sp->count ? sp->count : 1, sizeof(char *));
            if (!dp->keys) goto fail;
        }
        if (fp8q__im_entries_copy(&dp->entries, sp->entries, sp->count) != 0) goto fail;
        dp->count = sp->count;
        if (sp->is_dict)
            for (k = 0; k < sp->count; k++)
                if (!(dp->keys[k] = fp8q__im_strdup(sp->keys[k] ? sp->keys[k] : ""))) goto fail;
    }
    return 0;
fail:
    fp8q_inc_node_free(d);
    return -1;
}

static int fp8q__im_measure_copy(fp8q_inc_measure *d, const fp8q_inc_measure *s)
{
    size_t i;
    *d = *s;
    d->nodes = (fp8q_inc_node *)calloc(s->n_nodes ? s->n_nodes : 1, sizeof(fp8q_inc_node));
    d->n_nodes = 0;
    d->cap_nodes = s->n_nodes ? s->n_nodes : 1;
    if (!d->nodes) {
        memset(d, 0, sizeof *d);
        return -1;
    }
    for (i = 0; i < s->n_nodes; i++, d->n_nodes++)
        if (fp8q__im_node_copy(&d->nodes[i], &s->nodes[i]) != 0) {
            fp8q_inc_measure_free(d);
            return -1;
        }
    return 0;
}

/* ---- name index (open addressing, FNV-1a) */

typedef struct fp8q__im_index {
    size_t *slot; /* node index + 1, 0 = empty */
    size_t mask;
} fp8q__im_index;

static uint64_t fp8q__im_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

/* 0, or -1 when out of memory. Duplicate names keep the first. */
static int fp8q__im_index_build(fp8q__im_index *ix, const fp8q_inc_measure *m)
{
    size_t cap = 16, i;
    while (cap < m->n_nodes * 2 + 2) cap *= 2;
    ix->slot = (size_t *)calloc(cap, sizeof(size_t));
    ix->mask = cap - 1;
    if (!ix->slot) return -1;
    for (i = 0; i < m->n_nodes; i++) {
        const char *nm = m->nodes[i].name ? m->nodes[i].name : "";
        size_t n = strlen(nm), h = (size_t)fp8q__im_hash(nm, n) & ix->mask;
        while (ix->slot[h]) {
            const char *o = m->nodes[ix->slot[h] - 1].name;
            if (o && strcmp(o, nm) == 0) break;
            h = (h + 1) & ix->mask;
        }
        if (!ix->slot[h]) ix->slot[h] = i + 1;
    }
    return 0;
}

/* The node named s[0, n) (not NUL-terminated), or FP8Q__IM_NONE. */
static size_t fp8q__im_index_find(const fp8q__im_index *ix, const fp8q_inc_measure *m, const char *s, size_t n)
{
    size_t h = (size_t)fp8q__im_hash(s, n) & ix->mask;
    while (ix->slot[h]) {
        const char *o = m->nodes[ix->slot[h] - 1].name;
        if (o && strncmp(o, s, n) == 0 && o[n] == 0) return ix->slot[h] - 1;
        h = (h + 1) & ix->mask;
    }
    return FP8Q__IM_NONE;
}

/* ---- reader */

/* The number token t into *v; *isint = 1 for integer literals (no '.',
   exponent or Infinity/NaN), which must be within +-2^53. */
static fp8q_result fp8q__im_number(const fp8q__im_ctx *c, size_t t, double *v, unsigned char *isint)
{
    const fp8q_json_token *k = &c->j->tok[t];
    const char *s = c->j->text;
    size_t i;
    int lit = 1;
    for (i = k->start; i < k->end; i++)
        if (s[i] == '.' || s[i] == 'e' || s[i] == 'E' || s[i] == 'I' || s[i] == 'N') {
            lit = 0;
            break;
        }
    (void)fp8q_json_number(c->j, t, v);
    *isint = (unsigned char)lit;
    if (lit) { /* exactly, before rounding: 2^53 + 1 must not become 2^53 */
        int64_t iv = 0;
        if (fp8q_json_int64(c->j, t, &iv) != FP8Q_OK || iv > ((int64_t)1 << 53) || iv < -((int64_t)1 << 53))
            return fp8q__im_bad(c, FP8Q_ERR_LIMIT, t, "integer literal beyond +-2^53 (a double cannot keep it exactly)",
                                0);
    }
    return FP8Q_OK;
}

/* The entry at token t (see fp8q_inc_entry; DynamicRange files only rank 2). */
static fp8q_result fp8q__im_entry(const fp8q__im_ctx *c, size_t t, fp8q_inc_entry *e)
{
    const fp8q_json *j = c->j;
    const fp8q_json_token *k = &j->tok[t];
    const int dr = c->mode == FP8Q_INC_MEASURE_DYNAMIC_RANGE;
    const char *expect = dr ? "expected an array of channels ([[v], ...])" : "expected a number or an array";
    size_t n, i, r, x, idx;
    fp8q_result res;
    memset(e, 0, sizeof *e);
    if (k->type == FP8Q_JSON_NUMBER) {
        if (dr) return fp8q__im_bad(c, FP8Q_ERR_PARSE, t, expect, 1);
        e->rank = 0;
        e->rows = e->cols = 1;
    } else if (k->type == FP8Q_JSON_ARRAY) {
        const fp8q_json_token *f = &j->tok[t + 1];
        if (k->size == 0)
            return fp8q__im_bad(c, FP8Q_ERR_PARSE, t, "empty array (an entry holds at least one value)", 0);
        if (f->type == FP8Q_JSON_NUMBER && !dr) {
            e->rank = 1;
            e->rows = 1;
            e->cols = k->size;
            for (x = t + 1, i = 0; i < k->size; i++, x = j->tok[x].next)
                if (j->tok[x].type != FP8Q_JSON_NUMBER)
                    return fp8q__im_bad(c, FP8Q_ERR_PARSE, x, "expected a number (a 1-D entry holds numbers)", 1);
        } else if (f->type == FP8Q_JSON_ARRAY) {
            e->rank = 2;
            e->rows = k->size;
            e->cols = f->size;
            for (r = t + 1, i = 0; i < k->size; i++, r = j->tok[r].next) {
                const fp8q_json_token *row = &j->tok[r];
                if (row->type != FP8Q_JSON_ARRAY)
                    return fp8q__im_bad(c, FP8Q_ERR_PARSE, r, "expected a channel array [v, ...]", 1);
                if (row->size == 0) return fp8q__im_bad(c, FP8Q_ERR_PARSE, r, "empty channel array", 0);
                if (row->size != e->cols)
                    return fp8q__im_bad(c, FP8Q_ERR_PARSE, r, "channel arrays of different lengths", 0);
                for (x = r + 1, n = 0; n < row->size; n++, x = j->tok[x].next)
                    if (j->tok[x].type != FP8Q_JSON_NUMBER)
                        return fp8q__im_bad(c, FP8Q_ERR_PARSE, x,
                                            j->tok[x].type == FP8Q_JSON_ARRAY
                                                ? "nested too deep (an entry is at most [[v, ...], ...])"
                                                : "expected a number",
                                            j->tok[x].type != FP8Q_JSON_ARRAY);
            }
        } else {
            return fp8q__im_bad(c, FP8Q_ERR_PARSE, t + 1, dr ? "expected a channel array [v, ...]" : expect, 1);
        }
    } else {
        return fp8q__im_bad(c, FP8Q_ERR_PARSE, t, expect, 1);
    }
    n = e->rows * e->cols; /* <= number of tokens: no overflow */
    e->v = (double *)malloc(n * sizeof(double));
    if (!e->v) return fp8q__im_nomem(c->err);
    idx = 0;
    for (x = t; x < k->next && idx < n; x++) {
        unsigned char isint;
        if (j->tok[x].type != FP8Q_JSON_NUMBER) continue;
        if ((res = fp8q__im_number(c, x, &e->v[idx], &isint)) != FP8Q_OK) {
            fp8q__im_entry_free(e);
            return res;
        }
        if (isint && !e->isint) {
            e->isint = (unsigned char *)calloc(n, 1);
            if (!e->isint) {
                fp8q__im_entry_free(e);
                return fp8q__im_nomem(c->err);
            }
        }
        if (e->isint) e->isint[idx] = isint;
        idx++;
    }
    return FP8Q_OK;
}

/* A malloc'd copy of the STRING token t; a name with a NUL byte is an error. */
static fp8q_result fp8q__im_name(const fp8q__im_ctx *c, size_t t, char **out)
{
    size_t n = fp8q_json_string(c->j, t, NULL, 0);
    char *s = (char *)malloc(n + 1);
    *out = NULL;
    if (!s) return fp8q__im_nomem(c->err);
    (void)fp8q_json_string(c->j, t, s, n + 1);
    if (strlen(s) != n) {
        free(s);
        return fp8q__im_bad(c, FP8Q_ERR_PARSE, t, "name contains a NUL character (\\u0000)", 0);
    }
    *out = s;
    return FP8Q_OK;
}

/* An array of entries (inputs / outputs) at token t. */
static fp8q_result fp8q__im_entries(fp8q__im_ctx *c, size_t t, fp8q_inc_entry **out, size_t *n_out)
{
    const fp8q_json *j = c->j;
    size_t n = j->tok[t].size, i, x;
    fp8q_result r;
    *out = NULL;
    *n_out = 0;
    if (j->tok[t].type != FP8Q_JSON_ARRAY) return fp8q__im_bad(c, FP8Q_ERR_PARSE, t, "expected an array of entries", 1);
    *out = (fp8q_inc_entry *)calloc(n ? n : 1, sizeof(fp8q_inc_entry));
    if (!*out) return fp8q__im_nomem(c->err);
    for (i = 0, x = t + 1; i < n; i++, x = j->tok[x].next) {
        c->index = i;
        if ((r = fp8q__im_entry(c, x, &(*out)[i])) != FP8Q_OK) {
            c->index = FP8Q__IM_NONE;
            return r; /* the caller frees the *n_out entries filled so far */
        }
        (*n_out)++;
    }
    c->index = FP8Q__IM_NONE;
    return FP8Q_OK;
}

static fp8q_result fp8q__im_params(fp8q__im_ctx *c, size_t t, fp8q_inc_node *nd)
{
    const fp8q_json *j = c->j;
    size_t n = j->tok[t].size, i, x, d, y;
    fp8q_result r;
    if (j->tok[t].type != FP8Q_JSON_OBJECT)
        return fp8q__im_bad(c, FP8Q_ERR_PARSE, t, "expected an object ({\"weight\": ...})", 1);
    nd->params = (fp8q_inc_param *)calloc(n ? n : 1, sizeof(fp8q_inc_param));
    if (!nd->params) return fp8q__im_nomem(c->err);
    for (i = 0, x = t + 1; i < n; i++, x = j->tok[x + 1].next) {
        fp8q_inc_param *p = &nd->params[i];
        const fp8q_json_token *v = &j->tok[x + 1];
        nd->n_params++;
        if ((r = fp8q__im_name(c, x, &p->name)) != FP8Q_OK) return r;
        c->param = p->name;
        if (v->type == FP8Q_JSON_OBJECT) {
            if (c->mode == FP8Q_INC_MEASURE_DYNAMIC_RANGE)
                return fp8q__im_bad(c, FP8Q_ERR_PARSE, x + 1,
                                    "expected an array of channels ([[v], ...]); per-channel dicts appear only in "
                                    "\"Scale\" files",
                                    1);
            p->is_dict = 1;
            p->keys = (char **)calloc(v->size ? v->size : 1, sizeof(char *));
            p->entries = (fp8q_inc_entry *)calloc(v->size ? v->size : 1, sizeof(fp8q_inc_entry));
            if (!p->keys || !p->entries) return fp8q__im_nomem(c->err);
            for (d = 0, y = x + 2; d < v->size; d++, y = j->tok[y + 1].next) {
                if ((r = fp8q__im_name(c, y, &p->keys[d])) != FP8Q_OK) return r;
                c->sub = p->keys[d];
                r = fp8q__im_entry(c, y + 1, &p->entries[d]);
                p->count++;
                if (r != FP8Q_OK) return r;
                c->sub = NULL;
            }
        } else {
            p->entries = (fp8q_inc_entry *)calloc(1, sizeof(fp8q_inc_entry));
            if (!p->entries) return fp8q__im_nomem(c->err);
            r = fp8q__im_entry(c, x + 1, &p->entries[0]);
            p->count = 1;
            if (r != FP8Q_OK) return r;
        }
        c->param = NULL;
    }
    return FP8Q_OK;
}

/* The node whose key token is kt. */
static fp8q_result fp8q__im_node(fp8q__im_ctx *c, size_t kt, fp8q_inc_node *nd)
{
    const fp8q_json *j = c->j;
    const size_t vt = kt + 1;
    size_t i, x, no = 0;
    fp8q_result r;
    if ((r = fp8q__im_name(c, kt, &nd->name)) != FP8Q_OK) return r;
    c->node = nd->name;
    c->key = NULL;
    if (j->tok[vt].type != FP8Q_JSON_OBJECT)
        return fp8q__im_bad(c, FP8Q_ERR_PARSE, vt, "a node must be an object ({\"inputs\": [...], ...})", 1);
    for (i = 0, x = vt + 1; i < j->tok[vt].size; i++, x = j->tok[x + 1].next) {
        if (fp8q_json_string_eq(j, x, "inputs")) {
            c->key = "inputs";
            nd->has_inputs = 1;
            nd->order[no++] = 'i';
            r = fp8q__im_entries(c, x + 1, &nd->inputs, &nd->n_inputs);
        } else if (fp8q_json_string_eq(j, x, "outputs")) {
            c->key = "outputs";
            nd->has_outputs = 1;
            nd->order[no++] = 'o';
            r = fp8q__im_entries(c, x + 1, &nd->outputs, &nd->n_outputs);
        } else if (fp8q_json_string_eq(j, x, "params")) {
            c->key = "params";
            nd->has_params = 1;
            nd->order[no++] = 'p';
            r = fp8q__im_params(c, x + 1, nd);
        } else {
            c->key = NULL;
            r = fp8q__im_bad(c, FP8Q_ERR_PARSE, x, "unknown key (a node has \"inputs\", \"outputs\", \"params\")", 0);
        }
        if (r != FP8Q_OK) return r;
    }
    c->key = NULL;
    if (!nd->has_inputs) return fp8q__im_bad(c, FP8Q_ERR_PARSE, vt, "missing \"inputs\"", 0);
    return FP8Q_OK;
}

/* NumSamples / GlobalRank / LocalRank value at t; rank: null allowed, any sign. */
static fp8q_result fp8q__im_int(const fp8q__im_ctx *c, size_t t, int rank, int *is_null, int64_t *v)
{
    const fp8q_json_token *k = &c->j->tok[t];
    fp8q_result r;
    size_t i;
    *is_null = 0;
    if (rank && k->type == FP8Q_JSON_NULL) {
        *is_null = 1;
        *v = 0;
        return FP8Q_OK;
    }
    if (k->type != FP8Q_JSON_NUMBER)
        return fp8q__im_bad(c, FP8Q_ERR_PARSE, t, rank ? "expected an integer or null" : "expected an integer", 1);
    for (i = k->start; i < k->end; i++) /* an integer literal: 2.0 or 1e3 would not be written back as such */
        if (c->j->text[i] == '.' || c->j->text[i] == 'e' || c->j->text[i] == 'E' || c->j->text[i] == 'I' ||
            c->j->text[i] == 'N')
            return fp8q__im_bad(c, FP8Q_ERR_PARSE, t, "expected an integer literal (no fraction or exponent)", 0);
    r = fp8q_json_int64(c->j, t, v);
    if (r == FP8Q_ERR_LIMIT) return fp8q__im_bad(c, FP8Q_ERR_LIMIT, t, "integer out of the int64 range", 0);
    if (r != FP8Q_OK) return fp8q__im_bad(c, FP8Q_ERR_PARSE, t, "expected an integer, got a fraction or NaN", 0);
    if (!rank && *v < 0) return fp8q__im_bad(c, FP8Q_ERR_PARSE, t, "expected an integer >= 0", 0);
    return FP8Q_OK;
}

static fp8q_result fp8q__im_parse(fp8q_inc_measure *m, const fp8q_json *j, fp8q_error *err)
{
    fp8q__im_ctx c;
    size_t i, x, nodes = 0, mode = 0, no = 0;
    fp8q_result r;
    memset(&c, 0, sizeof c);
    c.j = j;
    c.err = err;
    c.index = FP8Q__IM_NONE;
    if (j->tok[0].type != FP8Q_JSON_OBJECT)
        return fp8q__im_bad(&c, FP8Q_ERR_PARSE, 0,
                            j->tok[0].type == FP8Q_JSON_ARRAY
                                ? "the root must be an object (a _mod_list.json file is an array of names)"
                                : "the root must be an object",
                            1);
    for (i = 0, x = 1; i < j->tok[0].size; i++, x = j->tok[x + 1].next) {
        const size_t v = x + 1;
        c.key = NULL;
        if (fp8q_json_string_eq(j, x, "NumSamples")) {
            int nul;
            c.key = "NumSamples";
            m->has_num_samples = 1;
            m->order[no++] = 'n';
            if ((r = fp8q__im_int(&c, v, 0, &nul, &m->num_samples)) != FP8Q_OK) return r;
        } else if (fp8q_json_string_eq(j, x, "GlobalRank")) {
            c.key = "GlobalRank";
            m->has_global_rank = 1;
            m->order[no++] = 'g';
            if ((r = fp8q__im_int(&c, v, 1, &m->global_rank_null, &m->global_rank)) != FP8Q_OK) return r;
        } else if (fp8q_json_string_eq(j, x, "LocalRank")) {
            c.key = "LocalRank";
            m->has_local_rank = 1;
            m->order[no++] = 'l';
            if ((r = fp8q__im_int(&c, v, 1, &m->local_rank_null, &m->local_rank)) != FP8Q_OK) return r;
        } else if (fp8q_json_string_eq(j, x, "Mode")) {
            c.key = "Mode";
            m->order[no++] = 'm';
            mode = v;
            if (j->tok[v].type != FP8Q_JSON_STRING)
                return fp8q__im_bad(&c, FP8Q_ERR_PARSE, v, "expected \"DynamicRange\" or \"Scale\"", 1);
            if (fp8q_json_string_eq(j, v, "DynamicRange"))
                m->mode = FP8Q_INC_MEASURE_DYNAMIC_RANGE;
            else if (fp8q_json_string_eq(j, v, "Scale"))
                m->mode = FP8Q_INC_MEASURE_SCALE;
            else if (fp8q_json_string_eq(j, v, "Shape"))
                return fp8q__im_bad(&c, FP8Q_ERR_UNSUPPORTED, v, "\"Shape\" files (observer shape) are not supported",
                                    0);
            else
                return fp8q__im_bad(&c, FP8Q_ERR_PARSE, v,
                                    "expected \"DynamicRange\" or \"Scale\" (exact case), got another string", 0);
        } else if (fp8q_json_string_eq(j, x, "Nodes")) {
            c.key = "Nodes";
            m->order[no++] = 'N';
            nodes = v;
            if (j->tok[v].type != FP8Q_JSON_OBJECT)
                return fp8q__im_bad(&c, FP8Q_ERR_PARSE, v, "expected an object of nodes", 1);
        } else {
            return fp8q__im_bad(&c, FP8Q_ERR_PARSE, x,
                                "unknown top-level key (expected NumSamples, GlobalRank, LocalRank, Mode, Nodes)", 0);
        }
    }
    c.key = NULL;
    if (!mode) return fp8q__im_bad(&c, FP8Q_ERR_PARSE, 0, "missing \"Mode\"", 0);
    if (!nodes) return fp8q__im_bad(&c, FP8Q_ERR_PARSE, 0, "missing \"Nodes\"", 0);
    c.mode = m->mode;
    m->cap_nodes = j->tok[nodes].size ? j->tok[nodes].size : 1;
    m->nodes = (fp8q_inc_node *)calloc(m->cap_nodes, sizeof(fp8q_inc_node));
    if (!m->nodes) return fp8q__im_nomem(err);
    for (i = 0, x = nodes + 1; i < j->tok[nodes].size; i++, x = j->tok[x + 1].next) {
        m->n_nodes++;
        if ((r = fp8q__im_node(&c, x, &m->nodes[i])) != FP8Q_OK) return r;
    }
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_inc_measure_parse(fp8q_inc_measure *m, const char *text, size_t len, fp8q_error *err)
{
    fp8q_json j;
    fp8q_result r;
    fp8q__st_err_ok(err);
    if (m) memset(m, 0, sizeof *m);
    if (!m || (!text && len > 0))
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0,
                                 !m ? "fp8q_inc_measure_parse: m is NULL" : "fp8q_inc_measure_parse: text is NULL");
    r = fp8q_json_parse(&j, text ? text : "", len, FP8Q_JSON_ALLOW_NONFINITE, err);
    if (r != FP8Q_OK) {
        fp8q__st_prefix(err, "INC measurement file: ");
        return r;
    }
    r = fp8q__im_parse(m, &j, err);
    fp8q_json_free(&j);
    if (r != FP8Q_OK) fp8q_inc_measure_free(m);
    return r;
}

FP8QDEF fp8q_result fp8q_inc_measure_load(fp8q_inc_measure *m, const char *path, fp8q_error *err)
{
    char *buf = NULL;
    size_t n = 0;
    fp8q_result r;
    fp8q__st_err_ok(err);
    if (m) memset(m, 0, sizeof *m);
    if (!m || !path)
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0,
                                 !m ? "fp8q_inc_measure_load: m is NULL" : "fp8q_inc_measure_load: path is NULL");
    r = fp8q__read_file(path, (size_t)FP8Q_MAX_MEASURE_SIZE, "FP8Q_MAX_MEASURE_SIZE", &buf, &n, NULL, err);
    if (r != FP8Q_OK) return r;
    r = fp8q_inc_measure_parse(m, buf ? buf : "", n, err);
    free(buf);
    if (r != FP8Q_OK) fp8q__st_path_prefix(err, path);
    return r;
}

FP8QDEF fp8q_inc_node *fp8q_inc_measure_find(const fp8q_inc_measure *m, const char *name)
{
    size_t i;
    if (!m || !name || !m->nodes) return NULL;
    for (i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].name && m->nodes[i].name[0] == name[0] && strcmp(m->nodes[i].name, name) == 0)
            return &m->nodes[i];
    return NULL;
}

FP8QDEF fp8q_result fp8q_inc_measure_add_node(fp8q_inc_measure *m, fp8q_inc_node *node, fp8q_error *err)
{
    fp8q__st_err_ok(err);
    if (!m || !node || !node->name)
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0, "fp8q_inc_measure_add_node: m, node or node->name is NULL");
    if (m->n_nodes == m->cap_nodes || !m->nodes) {
        size_t nc = m->cap_nodes ? m->cap_nodes * 2 : 16;
        fp8q_inc_node *nn;
        if (nc > ((size_t)-1) / 2 / sizeof(fp8q_inc_node) ||
            !(nn = (fp8q_inc_node *)realloc(m->nodes, nc * sizeof(fp8q_inc_node))))
            return fp8q__st_fail_str(err, FP8Q_ERR_NOMEM, 0, "fp8q_inc_measure_add_node: out of memory");
        m->nodes = nn;
        m->cap_nodes = nc;
    }
    m->nodes[m->n_nodes++] = *node;
    memset(node, 0, sizeof *node);
    return FP8Q_OK;
}

/* ---- Python's float repr */

/* a = a / 1e9, returns the remainder. */
static uint32_t fp8q__im_big_div1e9(fp8q__big *a)
{
    uint64_t rem = 0;
    int i;
    for (i = a->n - 1; i >= 0; i--) {
        uint64_t cur = (rem << 32) | a->w[i];
        a->w[i] = (uint32_t)(cur / 1000000000u);
        rem = cur % 1000000000u;
    }
    while (a->n && !a->w[a->n - 1]) a->n--;
    return (uint32_t)rem;
}

/* The exact decimal digits of x > 0 finite (as values 0-9, no leading or
   trailing zeros) into d (>= 800 bytes); *decpt: x = 0.d0d1... * 10^decpt.
   Returns the digit count. */
static int fp8q__im_exact_digits(double x, unsigned char *d, int *decpt)
{
    const uint64_t u = fp8q__f64_bits(x);
    const int be = (int)((u >> 52) & 0x7FFu);
    uint64_t m = u & 0xFFFFFFFFFFFFFull;
    int e, nd = 0, i, e10, k;
    unsigned char tmp[800];
    int nt = 0;
    if (be) {
        m |= (uint64_t)1 << 52;
        e = be - 1075;
    } else {
        e = -1074;
    }
    while (!(m & 1u)) {
        m >>= 1;
        e++;
    }
    e10 = e < 0 ? e : 0;
    /* N = m * 2^e (e >= 0) or m * 5^-e (e < 0); x = N * 10^e10 */
    {
        uint64_t n64 = m;
        int fits = 1;
        if (e >= 0) {
            for (k = 0; k < e && fits; k++) {
                if (n64 >> 63) fits = 0;
                n64 <<= 1;
            }
        } else {
            for (k = 0; k < -e && fits; k++) {
                if (n64 > ((uint64_t)-1) / 5u) fits = 0;
                n64 *= 5u;
            }
        }
        if (fits) {
            while (n64) {
                tmp[nt++] = (unsigned char)(n64 % 10u);
                n64 /= 10u;
            }
        } else {
            fp8q__big a;
            a.w[0] = (uint32_t)m;
            a.w[1] = (uint32_t)(m >> 32);
            a.n = a.w[1] ? 2 : 1;
            if (e >= 0)
                fp8q__big_shl(&a, e);
            else
                fp8q__big_mulpow5(&a, -e);
            while (a.n) {
                uint32_t r = fp8q__im_big_div1e9(&a);
                for (k = 0; k < 9; k++) {
                    tmp[nt++] = (unsigned char)(r % 10u);
                    r /= 10u;
                }
            }
            while (nt > 0 && tmp[nt - 1] == 0) nt--; /* leading zeros of the top chunk */
        }
    }
    *decpt = nt + e10;
    for (i = nt - 1; i >= 0; i--) d[nd++] = tmp[i];
    while (nd > 0 && d[nd - 1] == 0) nd--;
    return nd;
}

/* 1 if the decimal 0.d[0..nd) * 10^decpt reads back as the double with bits u. */
static int fp8q__im_reads_back(const unsigned char *d, int nd, int decpt, uint64_t u)
{
    fp8q__json_dec dec;
    while (nd > 0 && d[nd - 1] == 0) nd--;
    FP8Q__MEMCPY(dec.d, d, (size_t)nd);
    dec.nd = nd;
    dec.sticky = 0;
    dec.neg = 0;
    dec.special = 0;
    dec.dp = decpt;
    return fp8q__json_to_bits(&dec) == u;
}

/* Candidate with p significant digits of the exact decimal d (nd digits, point decpt) into c (*cdp its
   point): the nearest one (other = 0; ties to even) or the one on the other side of x (other = 1).
   Returns 1 if it reads back as the double with bits u. p >= nd gives the exact digits. */
static int fp8q__im_round_digits(const unsigned char *d, int nd, int decpt, int p, int other, unsigned char *c,
                                 int *cdp, uint64_t u)
{
    int i, up, rest = 0;
    *cdp = decpt;
    if (p >= nd) {
        FP8Q__MEMCPY(c, d, (size_t)nd);
        return !other;
    }
    for (i = p + 1; i < nd; i++) rest |= d[i];
    up = d[p] > 5 || (d[p] == 5 && (rest || (d[p - 1] & 1)));
    if (other) up = !up;
    FP8Q__MEMCPY(c, d, (size_t)p);
    if (up) {
        for (i = p - 1; i >= 0 && c[i] == 9; i--) c[i] = 0;
        if (i < 0) { /* 99..9 -> 100..0 */
            c[0] = 1;
            *cdp = decpt + 1;
        } else {
            c[i]++;
        }
    }
    return fp8q__im_reads_back(c, p, *cdp, u);
}

/* Python's repr(float) for a finite x into buf (>= 32 bytes); returns the length. */
static size_t fp8q__im_repr(double x, char *buf)
{
    unsigned char d[800], c[20];
    int nd, decpt, p, n = 0, i, cn, cdp;
    uint64_t u = fp8q__f64_bits(x);
    size_t k = 0;
    if (u >> 63) {
        buf[k++] = '-';
        u &= ~((uint64_t)1 << 63);
        x = -x;
    }
    if (u == 0) {
        FP8Q__MEMCPY(buf + k, "0.0", 4);
        return k + 3;
    }
    nd = fp8q__im_exact_digits(x, d, &decpt);
    if (nd <= 15 && u >= 0x0020000000000000ull) { /* <= DBL_DIG digits of a normal: unique, so shortest */
        FP8Q__MEMCPY(c, d, (size_t)nd);
        cn = nd;
        cdp = decpt;
    } else {
        /* The shortest p whose nearest p-digit decimal reads back (p >= nd: the exact digits). When the
           interval of doubles reading as x is symmetric (x not a power of two), reading back is monotone
           in p and only the nearest candidate can read back: binary search. At a power of two the lower
           half-gap is half the upper one: linear search trying the other candidate too (Python's repr
           picks the shortest, then the nearest). */
        const int pow2 = (u & 0xFFFFFFFFFFFFFull) == 0 && (u >> 52) > 1;
        int lo_p = 1, hi_p = 17;
        if (pow2) {
            for (p = 1; p < 17; p++)
                if (fp8q__im_round_digits(d, nd, decpt, p, 0, c, &cdp, u) ||
                    fp8q__im_round_digits(d, nd, decpt, p, 1, c, &cdp, u))
                    break;
            if (p == 17) (void)fp8q__im_round_digits(d, nd, decpt, p, 0, c, &cdp, u);
        } else {
            while (lo_p < hi_p) {
                const int mid = (lo_p + hi_p) / 2;
                if (fp8q__im_round_digits(d, nd, decpt, mid, 0, c, &cdp, u))
                    hi_p = mid;
                else
                    lo_p = mid + 1;
            }
            p = lo_p;
            (void)fp8q__im_round_digits(d, nd, decpt, p, 0, c, &cdp, u);
        }
        cn = p < nd ? p : nd;
        while (cn > 1 && c[cn - 1] == 0) cn--;
    }
    /* format_float_short, repr mode: exponent when decpt <= -4 or > 16 */
    if (cdp <= -4 || cdp > 16) {
        int ex = cdp - 1, ae = ex < 0 ? -ex : ex;
        char eb[8];
        buf[k++] = (char)('0' + c[0]);
        if (cn > 1) {
            buf[k++] = '.';
            for (i = 1; i < cn; i++) buf[k++] = (char)('0' + c[i]);
        }
        buf[k++] = 'e';
        buf[k++] = ex < 0 ? '-' : '+';
        do {
            eb[n++] = (char)('0' + ae % 10);
            ae /= 10;
        } while (ae);
        if (n < 2) eb[n++] = '0';
        while (n) buf[k++] = eb[--n];
    } else if (cdp <= 0) {
        buf[k++] = '0';
        buf[k++] = '.';
        for (i = 0; i < -cdp; i++) buf[k++] = '0';
        for (i = 0; i < cn; i++) buf[k++] = (char)('0' + c[i]);
    } else if (cdp >= cn) {
        for (i = 0; i < cn; i++) buf[k++] = (char)('0' + c[i]);
        for (i = cn; i < cdp; i++) buf[k++] = '0';
        buf[k++] = '.';
        buf[k++] = '0';
    } else {
        for (i = 0; i < cn; i++) {
            if (i == cdp) buf[k++] = '.';
            buf[k++] = (char)('0' + c[i]);
        }
    }
    buf[k] = 0;
    return k;
}

/* ---- writer */

typedef struct fp8q__im_out {
    char *p;
    size_t n, cap;
    int oom;
    int indent;
} fp8q__im_out;

static void fp8q__im_putn(fp8q__im_out *o, const char *s, size_t n)
{
    if (o->oom) return;
    if (o->cap - o->n <= n) {
        size_t nc = o->cap ? o->cap : 4096;
        char *np;
        while (nc - o->n <= n) {
            if (nc > ((size_t)-1) / 2) {
                o->oom = 1;
                return;
            }
            nc *= 2;
        }
        if (!(np = (char *)realloc(o->p, nc))) {
            o->oom = 1;
            return;
        }
        o->p = np;
        o->cap = nc;
    }
    FP8Q__MEMCPY(o->p + o->n, s, n);
    o->n += n;
}

static void fp8q__im_puts(fp8q__im_out *o, const char *s) { fp8q__im_putn(o, s, strlen(s)); }

/* The newline and indentation before an item at nesting `level`. */
static void fp8q__im_nl(fp8q__im_out *o, int level)
{
    static const char sp[] = "                                ";
    size_t n;
    if (o->indent < 0) return;
    fp8q__im_putn(o, "\n", 1);
    for (n = (size_t)o->indent * (size_t)level; n > 0;) {
        size_t c = n < 32 ? n : 32;
        fp8q__im_putn(o, sp, c);
        n -= c;
    }
}

static void fp8q__im_sep(fp8q__im_out *o, size_t i, int level) /* before item i of a container */
{
    if (i) fp8q__im_puts(o, o->indent < 0 ? ", " : ",");
    fp8q__im_nl(o, level);
}

/* A JSON string as Python's ensure_ascii encoder writes it; -1 if s is not UTF-8. */
static int fp8q__im_str(fp8q__im_out *o, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run;
    char b[13];
    fp8q__im_putn(o, "\"", 1);
    while (s[i]) {
        uint32_t cp;
        int len, k;
        for (run = i; s[run] >= 0x20 && s[run] < 0x7F && s[run] != '"' && s[run] != '\\'; run++) {
        }
        if (run > i) {
            fp8q__im_putn(o, (const char *)s + i, run - i);
            i = run;
            continue;
        }
        cp = s[i];
        len = cp < 0x80 ? 1 : (cp & 0xE0u) == 0xC0u ? 2 : (cp & 0xF0u) == 0xE0u ? 3 : (cp & 0xF8u) == 0xF0u ? 4 : 0;
        if (!len) return -1;
        if (len > 1) {
            cp &= 0x3Fu >> (len - 1);
            for (k = 1; k < len; k++) {
                if ((s[i + (size_t)k] & 0xC0u) != 0x80u) return -1;
                cp = (cp << 6) | (s[i + (size_t)k] & 0x3Fu);
            }
            if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
                (cp >= 0xD800 && cp <= 0xDFFF))
                return -1;
        }
        i += (size_t)len;
        switch (cp) {
        case '"': fp8q__im_puts(o, "\\\""); continue;
        case '\\': fp8q__im_puts(o, "\\\\"); continue;
        case '\n': fp8q__im_puts(o, "\\n"); continue;
        case '\r': fp8q__im_puts(o, "\\r"); continue;
        case '\t': fp8q__im_puts(o, "\\t"); continue;
        case '\b': fp8q__im_puts(o, "\\b"); continue;
        case '\f': fp8q__im_puts(o, "\\f"); continue;
        default: break;
        }
        if (cp >= 0x10000) { /* surrogate pair */
            uint32_t v = cp - 0x10000u, hs = 0xD800u | (v >> 10), ls = 0xDC00u | (v & 0x3FFu);
            b[0] = '\\', b[1] = 'u', b[2] = hex[hs >> 12], b[3] = hex[(hs >> 8) & 15u], b[4] = hex[(hs >> 4) & 15u];
            b[5] = hex[hs & 15u], b[6] = '\\', b[7] = 'u', b[8] = hex[ls >> 12], b[9] = hex[(ls >> 8) & 15u];
            b[10] = hex[(ls >> 4) & 15u], b[11] = hex[ls & 15u];
            fp8q__im_putn(o, b, 12);
        } else {
            b[0] = '\\', b[1] = 'u', b[2] = hex[cp >> 12], b[3] = hex[(cp >> 8) & 15u], b[4] = hex[(cp >> 4) & 15u];
            b[5] = hex[cp & 15u];
            fp8q__im_putn(o, b, 6);
        }
    }
    fp8q__im_putn(o, "\"", 1);
    return 0;
}

static void fp8q__im_i64(fp8q__im_out *o, int64_t v)
{
    char b[24];
    int k = 24;
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        b[--k] = (char)('0' + (int)(a % 10u));
        a /= 10u;
    } while (a);
    if (v < 0) b[--k] = '-';
    fp8q__im_putn(o, b + k, (size_t)(24 - k));
}

/* A value; -1 if an integer flag marks a non-integer. */
static int fp8q__im_num(fp8q__im_out *o, double v, int isint)
{
    char b[40];
    if (v != v) {
        fp8q__im_puts(o, "NaN");
    } else if (v - v != 0) {
        fp8q__im_puts(o, v > 0 ? "Infinity" : "-Infinity");
    } else if (isint) {
        int64_t iv;
        if (v > 9007199254740992.0 || v < -9007199254740992.0) return -1;
        iv = (int64_t)v;
        if ((double)iv != v) return -1;
        fp8q__im_i64(o, iv);
    } else {
        fp8q__im_putn(o, b, fp8q__im_repr(v, b));
    }
    return 0;
}

static int fp8q__im_wentry(fp8q__im_out *o, const fp8q_inc_entry *e, int level)
{
    size_t r, c;
    if (e->rank == 0) {
        if (e->rows != 1 || e->cols != 1 || !e->v) return -1;
        return fp8q__im_num(o, e->v[0], e->isint && e->isint[0]);
    }
    if ((e->rank != 1 && e->rank != 2) || (e->rank == 1 && e->rows != 1) || (e->rows * e->cols != 0 && !e->v))
        return -1;
    if (e->rank == 2) {
        if (!e->rows) {
            fp8q__im_puts(o, "[]");
            return 0;
        }
        fp8q__im_puts(o, "[");
    }
    for (r = 0; r < e->rows; r++) {
        const int lv = e->rank == 2 ? level + 1 : level;
        if (e->rank == 2) fp8q__im_sep(o, r, lv);
        if (!e->cols) {
            fp8q__im_puts(o, "[]");
            continue;
        }
        fp8q__im_puts(o, "[");
        for (c = 0; c < e->cols; c++) {
            const size_t i = r * e->cols + c;
            fp8q__im_sep(o, c, lv + 1);
            if (fp8q__im_num(o, e->v[i], e->isint && e->isint[i]) != 0) return -1;
        }
        fp8q__im_nl(o, lv);
        fp8q__im_puts(o, "]");
    }
    if (e->rank == 2) {
        fp8q__im_nl(o, level);
        fp8q__im_puts(o, "]");
    }
    return 0;
}

static int fp8q__im_wlist(fp8q__im_out *o, const fp8q_inc_entry *e, size_t n, int level)
{
    size_t i;
    if (!n) {
        fp8q__im_puts(o, "[]");
        return 0;
    }
    if (!e) return -1;
    fp8q__im_puts(o, "[");
    for (i = 0; i < n; i++) {
        fp8q__im_sep(o, i, level + 1);
        if (fp8q__im_wentry(o, &e[i], level + 1) != 0) return -1;
    }
    fp8q__im_nl(o, level);
    fp8q__im_puts(o, "]");
    return 0;
}

static int fp8q__im_wkey(fp8q__im_out *o, const char *k)
{
    if (fp8q__im_str(o, k ? k : "") != 0) return -1;
    fp8q__im_puts(o, ": ");
    return 0;
}

static int fp8q__im_wparams(fp8q__im_out *o, const fp8q_inc_node *nd, int level)
{
    size_t i, d;
    if (!nd->n_params) {
        fp8q__im_puts(o, "{}");
        return 0;
    }
    if (!nd->params) return -1;
    fp8q__im_puts(o, "{");
    for (i = 0; i < nd->n_params; i++) {
        const fp8q_inc_param *p = &nd->params[i];
        fp8q__im_sep(o, i, level + 1);
        if (fp8q__im_wkey(o, p->name) != 0) return -1;
        if (!p->is_dict) {
            if (p->count != 1 || !p->entries || fp8q__im_wentry(o, &p->entries[0], level + 1) != 0) return -1;
            continue;
        }
        if (!p->count) {
            fp8q__im_puts(o, "{}");
            continue;
        }
        if (!p->keys || !p->entries) return -1;
        fp8q__im_puts(o, "{");
        for (d = 0; d < p->count; d++) {
            fp8q__im_sep(o, d, level + 2);
            if (fp8q__im_wkey(o, p->keys[d]) != 0 || fp8q__im_wentry(o, &p->entries[d], level + 2) != 0) return -1;
        }
        fp8q__im_nl(o, level + 1);
        fp8q__im_puts(o, "}");
    }
    fp8q__im_nl(o, level);
    fp8q__im_puts(o, "}");
    return 0;
}

/* Present keys in `order` first, then the rest of `canon` that `has`; out gets the sequence. */
static void fp8q__im_keys(char *out, const char *order, size_t order_cap, const char *canon, const int *has)
{
    size_t n = 0, i, k;
    for (i = 0; i < order_cap && order[i]; i++)
        for (k = 0; canon[k]; k++)
            if (order[i] == canon[k] && has[k] && !memchr(out, canon[k], n)) out[n++] = canon[k];
    for (k = 0; canon[k]; k++)
        if (has[k] && !memchr(out, canon[k], n)) out[n++] = canon[k];
    out[n] = 0;
}

static int fp8q__im_wnode(fp8q__im_out *o, const fp8q_inc_node *nd, int level)
{
    int has[3];
    char seq[4];
    size_t i;
    has[0] = nd->has_inputs;
    has[1] = nd->has_outputs;
    has[2] = nd->has_params;
    fp8q__im_keys(seq, nd->order, sizeof nd->order, "iop", has);
    if (!seq[0]) {
        fp8q__im_puts(o, "{}");
        return 0;
    }
    fp8q__im_puts(o, "{");
    for (i = 0; seq[i]; i++) {
        fp8q__im_sep(o, i, level + 1);
        if (seq[i] == 'i') {
            if (fp8q__im_wkey(o, "inputs") != 0 || fp8q__im_wlist(o, nd->inputs, nd->n_inputs, level + 1) != 0)
                return -1;
        } else if (seq[i] == 'o') {
            if (fp8q__im_wkey(o, "outputs") != 0 || fp8q__im_wlist(o, nd->outputs, nd->n_outputs, level + 1) != 0)
                return -1;
        } else {
            if (fp8q__im_wkey(o, "params") != 0 || fp8q__im_wparams(o, nd, level + 1) != 0) return -1;
        }
    }
    fp8q__im_nl(o, level);
    fp8q__im_puts(o, "}");
    return 0;
}

/* Writes the document; sets the error (FP8Q_ERR_ARG) naming the node on a bad structure. */
static fp8q_result fp8q__im_write(fp8q__im_out *o, const fp8q_inc_measure *m, fp8q_error *err)
{
    int has[5];
    char seq[6];
    size_t i, k;
    fp8q__im_index ix;
    has[0] = m->has_num_samples;
    has[1] = m->has_global_rank;
    has[2] = m->has_local_rank;
    has[3] = has[4] = 1;
    if ((m->mode != FP8Q_INC_MEASURE_DYNAMIC_RANGE && m->mode != FP8Q_INC_MEASURE_SCALE) || (m->n_nodes && !m->nodes))
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0, "fp8q_inc_measure_write: bad mode or NULL nodes");
    if (fp8q__im_index_build(&ix, m) != 0) return fp8q__im_nomem(err);
    for (i = 0; i < m->n_nodes; i++) {
        const char *nm = m->nodes[i].name;
        if (!nm || fp8q__im_index_find(&ix, m, nm, strlen(nm)) != i) {
            fp8q__st_msg msg;
            free(ix.slot);
            fp8q__im_msg_init(&msg);
            fp8q__st_put(&msg, "fp8q_inc_measure_write: ");
            if (!nm) {
                fp8q__st_put(&msg, "a node has no name");
            } else {
                fp8q__st_put(&msg, "duplicate node name ");
                fp8q__st_name(&msg, nm);
            }
            return fp8q__st_fail(err, FP8Q_ERR_ARG, 0, &msg);
        }
    }
    free(ix.slot);
    fp8q__im_keys(seq, m->order, sizeof m->order, "nglmN", has);
    fp8q__im_puts(o, "{");
    for (k = 0; seq[k]; k++) {
        fp8q__im_sep(o, k, 1);
        switch (seq[k]) {
        case 'n':
            fp8q__im_puts(o, "\"NumSamples\": ");
            fp8q__im_i64(o, m->num_samples);
            break;
        case 'g':
            fp8q__im_puts(o, "\"GlobalRank\": ");
            if (m->global_rank_null)
                fp8q__im_puts(o, "null");
            else
                fp8q__im_i64(o, m->global_rank);
            break;
        case 'l':
            fp8q__im_puts(o, "\"LocalRank\": ");
            if (m->local_rank_null)
                fp8q__im_puts(o, "null");
            else
                fp8q__im_i64(o, m->local_rank);
            break;
        case 'm':
            fp8q__im_puts(o, m->mode == FP8Q_INC_MEASURE_SCALE ? "\"Mode\": \"Scale\"" : "\"Mode\": \"DynamicRange\"");
            break;
        default:
            fp8q__im_puts(o, "\"Nodes\": ");
            if (!m->n_nodes) {
                fp8q__im_puts(o, "{}");
                break;
            }
            fp8q__im_puts(o, "{");
            for (i = 0; i < m->n_nodes; i++) {
                fp8q__im_sep(o, i, 2);
                if (fp8q__im_wkey(o, m->nodes[i].name) != 0 || fp8q__im_wnode(o, &m->nodes[i], 2) != 0) {
                    fp8q__st_msg msg;
                    fp8q__im_msg_init(&msg);
                    fp8q__st_put(&msg, "fp8q_inc_measure_write: node ");
                    fp8q__st_name(&msg, m->nodes[i].name);
                    fp8q__st_put(&msg, ": a name is not UTF-8, or an entry is inconsistent (rank, rows, cols, "
                                       "values, integer flags)");
                    return fp8q__st_fail(err, FP8Q_ERR_ARG, 0, &msg);
                }
            }
            fp8q__im_nl(o, 1);
            fp8q__im_puts(o, "}");
            break;
        }
    }
    fp8q__im_nl(o, 0);
    fp8q__im_puts(o, "}");
    if (o->oom) return fp8q__im_nomem(err);
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_inc_measure_write_mem(char **out, size_t *out_len, const fp8q_inc_measure *m, int indent,
                                               fp8q_error *err)
{
    fp8q__im_out o;
    fp8q_result r;
    fp8q__st_err_ok(err);
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (!out || !out_len || !m || indent < -1 || indent > 64)
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0,
                                 "fp8q_inc_measure_write_mem: out, out_len or m is NULL, or indent not in -1..64");
    memset(&o, 0, sizeof o);
    o.indent = indent;
    r = fp8q__im_write(&o, m, err);
    if (r == FP8Q_OK) {
        fp8q__im_putn(&o, "", 1); /* NUL */
        if (o.oom) r = fp8q__im_nomem(err);
    }
    if (r != FP8Q_OK) {
        free(o.p);
        return r;
    }
    *out = o.p;
    *out_len = o.n - 1;
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_inc_measure_write(const char *path, const fp8q_inc_measure *m, int indent, fp8q_error *err)
{
    char *buf;
    size_t len;
    FILE *f;
    fp8q_result r;
    if (!path) {
        fp8q__st_err_ok(err);
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0, "fp8q_inc_measure_write: path is NULL");
    }
    if ((r = fp8q_inc_measure_write_mem(&buf, &len, m, indent, err)) != FP8Q_OK) return r;
    f = fopen(path, "wb");
    if (!f) {
        free(buf);
        r = fp8q__st_fail_str(err, FP8Q_ERR_IO, 0, "cannot create");
        fp8q__st_path_prefix(err, path);
        return r;
    }
    if (fwrite(buf, 1, len, f) != len) {
        fclose(f);
        free(buf);
        r = fp8q__st_fail_str(err, FP8Q_ERR_IO, 0, "cannot write");
        fp8q__st_path_prefix(err, path);
        return r;
    }
    free(buf);
    if (fclose(f) != 0) {
        r = fp8q__st_fail_str(err, FP8Q_ERR_IO, 0, "cannot write (close failed)");
        fp8q__st_path_prefix(err, path);
        return r;
    }
    return FP8Q_OK;
}

/* ---- calibration step 3: KV post-processing */

/* 1 if name[0, n) is "model.layers.<i>.self_attn.attn.impl." followed by op, as INC's script spells it. */
static int fp8q__im_strict_name(const char *name, const char *op)
{
    const char *p = name;
    if (strncmp(p, "model.layers.", 13) != 0) return 0;
    p += 13;
    if (!(*p >= '0' && *p <= '9') || (p[0] == '0' && p[1] >= '0' && p[1] <= '9')) return 0;
    while (*p >= '0' && *p <= '9') p++;
    if (strncmp(p, ".self_attn.attn.impl.", 21) != 0) return 0;
    return strcmp(p + 21, op) == 0;
}

static int fp8q__im_ends(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static int fp8q__im_entry_same(const fp8q_inc_entry *a, const fp8q_inc_entry *b)
{
    size_t i, n = fp8q__im_count(a);
    if (a->rank != b->rank || a->rows != b->rows || a->cols != b->cols) return 0;
    for (i = 0; i < n; i++) {
        if (fp8q__f64_bits(a->v[i]) != fp8q__f64_bits(b->v[i])) return 0;
        if ((a->isint ? a->isint[i] : 0) != (b->isint ? b->isint[i] : 0)) return 0;
    }
    return 1;
}

static fp8q_result fp8q__im_node_fail(fp8q_error *err, int code, const char *pre, const char *name, const char *what)
{
    fp8q__st_msg m;
    fp8q__im_msg_init(&m);
    fp8q__st_put(&m, pre);
    fp8q__st_put(&m, "node ");
    fp8q__st_name(&m, name ? name : "");
    fp8q__st_put(&m, ": ");
    fp8q__st_put(&m, what);
    return fp8q__st_fail(err, code, 0, &m);
}

FP8QDEF fp8q_result fp8q_inc_postprocess_kv(fp8q_inc_measure *m, int flags, size_t *n_changed, fp8q_error *err)
{
    static const char *const pre = "fp8q_inc_postprocess_kv: ";
    fp8q__im_index ix;
    size_t i, changed = 0, cap = 0;
    char *buf = NULL;
    fp8q_result r = FP8Q_OK;
    fp8q__st_err_ok(err);
    if (n_changed) *n_changed = 0;
    if (!m || (m->n_nodes && !m->nodes) || (flags & ~7))
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0, "fp8q_inc_postprocess_kv: m is NULL or unknown flags");
    if (fp8q__im_index_build(&ix, m) != 0) return fp8q__im_nomem(err);
    for (i = 0; i < m->n_nodes && r == FP8Q_OK; i++) {
        fp8q_inc_node *nd = &m->nodes[i];
        const char *name = nd->name ? nd->name : "";
        size_t n = strlen(name), plen, src, need;
        const char *op, *srcsuf;
        int fsdpa = 0;
        fp8q_inc_entry *dst, *from, copy;
        if (fp8q__im_ends(name, n, ".matmul_qk")) {
            op = "matmul_qk";
            srcsuf = flags & FP8Q_INC_KV_MLA ? "latent_cache_k" : "k_cache";
        } else if (fp8q__im_ends(name, n, ".matmul_av")) {
            op = "matmul_av";
            srcsuf = flags & FP8Q_INC_KV_MLA ? "latent_cache_k" : "v_cache";
        } else if ((flags & FP8Q_INC_KV_FSDPA) &&
                   fp8q__im_ends(name, n, ".attn.impl.fused_scaled_dot_product_attention")) {
            op = "fused_scaled_dot_product_attention";
            srcsuf = "o_proj";
            fsdpa = 1;
        } else {
            continue;
        }
        if ((flags & FP8Q_INC_KV_STRICT) && !fp8q__im_strict_name(name, op)) continue;
        /* P = the name without ".<op>" (FSDPA: without ".attn.impl.<op>") */
        plen = n - strlen(op) - 1 - (fsdpa ? 10u : 0u);
        need = plen + strlen(srcsuf) + 2;
        if (need > cap) {
            char *nb = (char *)realloc(buf, need);
            if (!nb) {
                r = fp8q__im_nomem(err);
                break;
            }
            buf = nb;
            cap = need;
        }
        FP8Q__MEMCPY(buf, name, plen);
        buf[plen] = '.';
        FP8Q__MEMCPY(buf + plen + 1, srcsuf, strlen(srcsuf) + 1);
        src = fp8q__im_index_find(&ix, m, buf, strlen(buf));
        if (src == FP8Q__IM_NONE) continue;
        if (m->nodes[src].n_inputs < 1 || !m->nodes[src].inputs) {
            r = fp8q__im_node_fail(err, FP8Q_ERR_PARSE, pre, m->nodes[src].name, "has no inputs[0] to copy");
            break;
        }
        from = &m->nodes[src].inputs[0];
        if (fsdpa) {
            if (nd->n_outputs < 1 || !nd->outputs) {
                r = fp8q__im_node_fail(err, FP8Q_ERR_PARSE, pre, name, "has no outputs[0] to replace");
                break;
            }
            dst = &nd->outputs[0];
        } else {
            if (nd->n_inputs < 2 || !nd->inputs) {
                r = fp8q__im_node_fail(err, FP8Q_ERR_PARSE, pre, name, "has no inputs[1] to replace");
                break;
            }
            dst = &nd->inputs[1];
        }
        if (fp8q__im_entry_same(dst, from)) continue;
        if (fp8q__im_entry_copy(&copy, from) != 0) {
            r = fp8q__im_nomem(err);
            break;
        }
        fp8q__im_entry_free(dst);
        *dst = copy;
        changed++;
    }
    free(buf);
    free(ix.slot);
    if (n_changed) *n_changed = changed;
    return r;
}

/* ---- calibration step 5: rank unification */

static fp8q_result fp8q__im_unify_fail(fp8q_error *err, int rank, const char *node, const char *what)
{
    fp8q__st_msg m;
    fp8q__im_msg_init(&m);
    fp8q__st_put(&m, "fp8q_inc_unify: rank ");
    fp8q__st_u64(&m, (uint64_t)rank);
    fp8q__st_put(&m, ": ");
    if (node) {
        fp8q__st_put(&m, "node ");
        fp8q__st_name(&m, node);
        fp8q__st_put(&m, ": ");
    }
    fp8q__st_put(&m, what);
    return fp8q__st_fail(err, FP8Q_ERR_PARSE, 0, &m);
}

/* running := max(file, running) element-wise; -1 on a shape mismatch, -2 out of memory. */
static int fp8q__im_max_entry(fp8q_inc_entry *run, const fp8q_inc_entry *f)
{
    size_t i, n = fp8q__im_count(run);
    if (run->rank != f->rank || run->rows != f->rows || run->cols != f->cols) return -1;
    for (i = 0; i < n; i++) {
        const double v = f->v[i];
        const unsigned char fi = f->isint ? f->isint[i] : 0;
        if (run->v[i] > v) continue;
        run->v[i] = v;
        if (fi && !run->isint) {
            run->isint = (unsigned char *)calloc(n ? n : 1, 1);
            if (!run->isint) return -2;
        }
        if (run->isint) run->isint[i] = fi;
    }
    return 0;
}

static const fp8q_inc_param *fp8q__im_find_param(const fp8q_inc_node *nd, const char *name)
{
    size_t i;
    for (i = 0; i < nd->n_params; i++)
        if (nd->params[i].name && strcmp(nd->params[i].name, name) == 0) return &nd->params[i];
    return NULL;
}

/* Folds node f (of rank `rank`) into the running node. */
static fp8q_result fp8q__im_unify_node(fp8q_inc_node *run, const fp8q_inc_node *f, int rank, fp8q_error *err)
{
    size_t i, d, k;
    int rc = 0;
    if (run->n_inputs != f->n_inputs || run->n_outputs != f->n_outputs || run->n_params != f->n_params ||
        run->has_inputs != f->has_inputs || run->has_outputs != f->has_outputs || run->has_params != f->has_params)
        return fp8q__im_unify_fail(err, rank, run->name, "different inputs / outputs / params than the group's first");
    for (i = 0; i < run->n_inputs && !rc; i++) rc = fp8q__im_max_entry(&run->inputs[i], &f->inputs[i]);
    for (i = 0; i < run->n_outputs && !rc; i++) rc = fp8q__im_max_entry(&run->outputs[i], &f->outputs[i]);
    for (i = 0; i < run->n_params && !rc; i++) {
        fp8q_inc_param *p = &run->params[i];
        const fp8q_inc_param *q = fp8q__im_find_param(f, p->name ? p->name : "");
        if (!q || q->is_dict != p->is_dict || q->count != p->count) {
            rc = -1;
            break;
        }
        for (d = 0; d < p->count && !rc; d++) {
            const fp8q_inc_entry *fe = &q->entries[d];
            if (p->is_dict) {
                for (k = 0; k < q->count; k++)
                    if (q->keys[k] && p->keys[d] && strcmp(q->keys[k], p->keys[d]) == 0) break;
                if (k == q->count) {
                    rc = -1;
                    break;
                }
                fe = &q->entries[k];
            }
            rc = fp8q__im_max_entry(&p->entries[d], fe);
        }
    }
    if (rc == -2) return fp8q__im_nomem(err);
    if (rc) return fp8q__im_unify_fail(err, rank, run->name, "entry shapes differ from the group's first file");
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_inc_unify(const fp8q_inc_measure *const in[], int world, int R, fp8q_inc_measure out[],
                                   fp8q_error *err)
{
    fp8q__im_index *ix = NULL;
    fp8q_result r = FP8Q_OK;
    int g, k, gs;
    size_t i;
    fp8q__st_err_ok(err);
    if (!in || !out) return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0, "fp8q_inc_unify: in or out is NULL");
    if (world < 1 || R < 1 || R >= world || world % R != 0) {
        fp8q__st_msg m;
        fp8q__im_msg_init(&m);
        fp8q__st_put(&m, "fp8q_inc_unify: the original world size ");
        fp8q__st_put(&m, world < 0 ? "-" : "");
        fp8q__st_u64(&m, (uint64_t)(world < 0 ? -(int64_t)world : world));
        fp8q__st_put(&m, " must be larger than the target rank count ");
        fp8q__st_put(&m, R < 0 ? "-" : "");
        fp8q__st_u64(&m, (uint64_t)(R < 0 ? -(int64_t)R : R));
        fp8q__st_put(&m, " (>= 1) and divisible by it");
        return fp8q__st_fail(err, FP8Q_ERR_ARG, 0, &m);
    }
    for (g = 0; g < R; g++) memset(&out[g], 0, sizeof out[g]);
    for (k = 0; k < world; k++) {
        if (!in[k] || (in[k]->n_nodes && !in[k]->nodes))
            return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0, "fp8q_inc_unify: a measurement is NULL");
        if (in[k]->mode != in[0]->mode) return fp8q__im_unify_fail(err, k, NULL, "a different \"Mode\" than rank 0");
    }
    ix = (fp8q__im_index *)calloc((size_t)world, sizeof *ix);
    if (!ix) return fp8q__im_nomem(err);
    for (k = 0; k < world && r == FP8Q_OK; k++)
        if (fp8q__im_index_build(&ix[k], in[k]) != 0) r = fp8q__im_nomem(err);
    gs = world / R;
    for (g = 0; g < R && r == FP8Q_OK; g++) {
        const int first = g * gs;
        fp8q_inc_measure *o = &out[g];
        if (fp8q__im_measure_copy(o, in[first]) != 0) {
            r = fp8q__im_nomem(err);
            break;
        }
        if (!o->has_local_rank && !memchr(o->order, 'l', sizeof o->order)) {
            size_t n = strlen(o->order);
            if (n + 1 < sizeof o->order) o->order[n] = 'l', o->order[n + 1] = 0;
        }
        o->has_local_rank = 1;
        o->local_rank_null = 0;
        o->local_rank = R == 1 ? -1 : g;
        for (i = 0; i < o->n_nodes; i++) /* duplicates in the first file would be ambiguous */
            if (fp8q__im_index_find(&ix[first], in[first], o->nodes[i].name, strlen(o->nodes[i].name)) != i) {
                r = fp8q__im_unify_fail(err, first, o->nodes[i].name, "duplicate node name");
                break;
            }
        for (k = first; k < first + gs && r == FP8Q_OK; k++) {
            if (in[k]->n_nodes != o->n_nodes) {
                r = fp8q__im_unify_fail(err, k, NULL, "a different number of nodes than the group's first file");
                break;
            }
            for (i = 0; i < o->n_nodes && r == FP8Q_OK; i++) {
                const char *nm = o->nodes[i].name;
                size_t at = fp8q__im_index_find(&ix[k], in[k], nm, strlen(nm));
                if (at == FP8Q__IM_NONE) {
                    r = fp8q__im_unify_fail(err, k, nm, "missing (present in the group's first file)");
                    break;
                }
                r = fp8q__im_unify_node(&o->nodes[i], &in[k]->nodes[at], k, err);
            }
        }
    }
    if (ix)
        for (k = 0; k < world; k++) free(ix[k].slot);
    free(ix);
    if (r != FP8Q_OK)
        for (g = 0; g < R; g++) fp8q_inc_measure_free(&out[g]);
    return r;
}

/* ---- scale math */

static float fp8q__im_nanf(void) { return fp8q__f32_from_bits(0x7FC00000u); }

#define FP8Q__IM_TINY 1.17549435082228750797e-38f /* 2^-126, torch.finfo(bfloat16).tiny */

/* A double to float, RNE, overflow to +-Inf (no undefined conversion). */
static float fp8q__im_d2f(double v)
{
    if (v != v) return fp8q__im_nanf();
    if (v >= 3.4028235677973366e38) return fp8q__f32_from_bits(0x7F800000u); /* >= FLT_MAX + half an ulp */
    if (v <= -3.4028235677973366e38) return fp8q__f32_from_bits(0xFF800000u);
    return (float)v;
}

/* torch.exp2(torch.ceil(torch.log2(s))) on a BF16 s: negative -> NaN. */
static float fp8q__im_pow2(float s)
{
    if (s != s) return s;
    if (s < 0) return fp8q__im_nanf();
    return fp8q__inc_pow2(s);
}

/* INC's rounding methods (round_scales_function.py) on a raw BF16 scale. */
static float fp8q__im_round(float s, fp8q_inc_rounding rounding, fp8q_gaudi device)
{
    const int g2 = device == FP8Q_GAUDI2;
    const float lo = g2 ? 0.00390625f : fp8q__pow2f(-55), hi = g2 ? 16.0f : 128.0f;
    float p;
    int e;
    switch (rounding) {
    case FP8Q_INC_IDENTITY: return s;
    case FP8Q_INC_POW2: return fp8q__im_pow2(s);
    case FP8Q_INC_HW_ALIGNED_FIXED: return hi;
    case FP8Q_INC_UNIT: return 1.0f;
    case FP8Q_INC_HW_ALIGNED: break;
    }
    p = fp8q__im_pow2(s); /* min(max(2^(ceil(log2 p / f) * f), lo), hi); NaN propagates */
    if (p != p) return p;
    if (p == 0) return lo;
    if (p > 3.4e38f) return hi;
    e = fp8q__ilog2f(p);
    if (g2) e = e >= 0 ? (e + 3) / 4 * 4 : -((-e) / 4 * 4);
    p = e > 127 ? hi : fp8q__pow2f(e < -149 ? -149 : e);
    return p < lo ? lo : p > hi ? hi : p;
}

static int fp8q__im_device_ok(fp8q_gaudi d) { return d == FP8Q_GAUDI2 || d == FP8Q_GAUDI3; }

/* float(fullscale * backoff): torch divides a BF16 tensor by a Python float in float32. */
static float fp8q__im_divisor(const fp8q_inc_scale_cfg *cfg, fp8q_gaudi device)
{
    return fp8q__im_d2f((double)fp8q_inc_fullscale(device) * (double)cfg->backoff);
}

/* max with torch.max semantics (NaN propagates); start from the first value. */
static float fp8q__im_maxabs(const float *x, size_t n, size_t stride)
{
    float m = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        float a = fp8q__bf16(x[i * stride]);
        if (a < 0) a = -a;
        if (a != a) return a;
        if (i == 0 || a > m) m = a;
    }
    return m;
}

/* FIXED_VALUE scale of a rounding: 1 or the first HW-aligned scale. */
static float fp8q__im_fixed(const fp8q_inc_scale_cfg *cfg, fp8q_gaudi device)
{
    return fp8q__im_round(1.0f, cfg->rounding, device);
}

FP8QDEF fp8q_result fp8q_inc_act_scale(float *scale, const fp8q_inc_entry *e, const fp8q_inc_scale_cfg *cfg,
                                       fp8q_gaudi device)
{
    size_t i, n;
    float mx = 0;
    if (!scale || !cfg || !fp8q__im_device_ok(device)) return FP8Q_ERR_ARG;
    if (cfg->value_type == FP8Q_INC_FIXED_VALUE) {
        *scale = fp8q__im_fixed(cfg, device);
        return FP8Q_OK;
    }
    if (cfg->value_type != FP8Q_INC_MAXABS || cfg->granularity != FP8Q_INC_PTS) return FP8Q_ERR_UNSUPPORTED;
    if (!e || !e->v || (n = fp8q__im_count(e)) == 0) return FP8Q_ERR_ARG;
    for (i = 0; i < n; i++) { /* torch.tensor(values, dtype=bfloat16).max() */
        const float a = fp8q__bf16(fp8q__im_d2f(e->v[i]));
        if (a != a) {
            mx = a;
            break;
        }
        if (i == 0 || a > mx) mx = a;
    }
    *scale = fp8q__im_round(fp8q__bf16(mx / fp8q__im_divisor(cfg, device)), cfg->rounding, device);
    return FP8Q_OK;
}

/* cast_to_fp8_v2 to E4M3 on the device (GAUDI.md 3): RNE, saturating at 240 (Gaudi2) or 448 (Gaudi3). */
static float fp8q__im_fp8(float y, int g2)
{
    const float mx = g2 ? 240.0f : 448.0f;
    if (y != y) return y;
    if (y > mx) y = mx;
    if (y < -mx) y = -mx;
    return fp8q_to_f32(fp8q_from_f32(y, FP8Q_E4M3, FP8Q_SATFINITE), FP8Q_E4M3);
}

/* sqrt of a float >= 0, correctly rounded, without libm. */
static float fp8q__im_sqrtf(float a)
{
    uint32_t u = fp8q__f32_bits(a);
    uint64_t m, n, r = 0, bit, rem, rest, half;
    int e, sh, bl, k;
    if (a != a || a < 0) return fp8q__im_nanf();
    if (a == 0 || u == 0x7F800000u) return a; /* 0, +Inf */
    if (u >> 23) {
        m = (u & 0x7FFFFFu) | 0x800000u;
        e = (int)(u >> 23) - 150;
    } else {
        m = u;
        e = -149;
    }
    for (bl = 0; (m >> bl) != 0; bl++) {
    }
    sh = 53 - bl; /* m << sh has 53 bits */
    if ((e - sh) & 1) sh++;
    n = m << sh; /* a = n * 2^(e - sh), e - sh even, 2^52 <= n < 2^54 */
    e = (e - sh) / 2;
    rem = n;
    for (bit = (uint64_t)1 << 52; bit > n; bit >>= 2) {
    }
    while (bit) { /* digit-by-digit integer square root */
        if (rem >= r + bit) {
            rem -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    /* sqrt(a) = (r + f) * 2^e with 2^26 <= r < 2^27, f > 0 iff rem > 0; keep 24 bits */
    k = 3;
    rest = r & 7u;
    half = 4;
    r >>= k;
    if (rest > half || (rest == half && (rem || (r & 1u)))) r++;
    return (float)r * fp8q__pow2f(e + k);
}

static float fp8q__im_f(double v) { return fp8q__im_d2f(v); }

/* OPT per-tensor error for candidate c: bf16(sqrt(sum d^2)). */
static float fp8q__im_pts_err(const float *w, size_t n, float c, int g2)
{
    double acc = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        const float x = fp8q__bf16(w[i]), y = fp8q__bf16(x / c), q = fp8q__im_fp8(y, g2), z = fp8q__bf16(q * c);
        const float d = fp8q__bf16(x - z);
        acc += (double)d * (double)d;
    }
    return fp8q__bf16(fp8q__im_sqrtf(fp8q__im_f(acc)));
}

/* OPT per-channel error of one row for scale c: bf16(sum bf16(d^2)). */
static float fp8q__im_pcs_err(const float *w, size_t n, float c, int g2)
{
    double acc = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        const float x = fp8q__bf16(w[i]), y = fp8q__bf16(x / c), q = fp8q__im_fp8(y, g2), z = fp8q__bf16(q * c);
        const float d = fp8q__bf16(x - z);
        acc += (double)fp8q__bf16(d * d);
    }
    return fp8q__bf16(fp8q__im_f(acc));
}

/* MAXABS per-channel raw scale of row o, floored at 2^-126 (NaN stays), then rounded. */
static float fp8q__im_pcs_maxabs(const float *row, size_t cols, const fp8q_inc_scale_cfg *cfg, fp8q_gaudi device)
{
    float s = fp8q__bf16(fp8q__im_maxabs(row, cols, 1) / fp8q__im_divisor(cfg, device));
    if (s == s && s < FP8Q__IM_TINY) s = FP8Q__IM_TINY;
    return fp8q__im_round(s, cfg->rounding, device);
}

FP8QDEF fp8q_result fp8q_inc_weight_scales(float *scales, const float *w, size_t rows, size_t cols,
                                           const fp8q_inc_scale_cfg *cfg, const double *candidates, size_t n_candidates,
                                           fp8q_gaudi device, fp8q_error *err)
{
    const int g2 = device == FP8Q_GAUDI2;
    size_t o, n = rows * cols;
    int i;
    fp8q__st_err_ok(err);
    if (!scales || !w || !cfg || !rows || !cols || n / rows != cols || !fp8q__im_device_ok(device) ||
        (!candidates && n_candidates))
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0,
                                 "fp8q_inc_weight_scales: NULL argument, empty weight or unknown device");
    switch (cfg->value_type) {
    case FP8Q_INC_FIXED_VALUE: scales[0] = fp8q__im_fixed(cfg, device); return FP8Q_OK;
    case FP8Q_INC_MAXABS:
        if (cfg->granularity == FP8Q_INC_PCS) {
            for (o = 0; o < rows; o++) scales[o] = fp8q__im_pcs_maxabs(w + o * cols, cols, cfg, device);
        } else {
            scales[0] = fp8q__im_round(fp8q__bf16(fp8q__im_maxabs(w, n, 1) / fp8q__im_divisor(cfg, device)),
                                       cfg->rounding, device);
        }
        return FP8Q_OK;
    case FP8Q_INC_OPT:
        if (cfg->granularity == FP8Q_INC_PCS) {
            for (o = 0; o < rows; o++) {
                const float *row = w + o * cols;
                const float ref = fp8q__im_pcs_maxabs(row, cols, cfg, device);
                float best = fp8q__f32_from_bits(0x7F800000u), sel = -1.0f;
                size_t c, nc = candidates ? n_candidates : 8;
                for (c = 0; c < nc; c++) { /* multipliers 2^-3 .. 2^4; strictly smaller error wins */
                    const float mul = candidates ? fp8q__bf16(fp8q__im_d2f(candidates[c])) : fp8q__pow2f((int)c - 3);
                    const float err_o = fp8q__im_pcs_err(row, cols, fp8q__bf16(mul * ref), g2);
                    if (err_o < best) {
                        best = err_o;
                        sel = mul;
                    }
                }
                scales[o] = fp8q__im_round(fp8q__bf16(sel * ref), cfg->rounding, device);
            }
            return FP8Q_OK;
        } else {
            float best = fp8q__f32_from_bits(0x7F800000u), sel = -1.0f;
            int lo, hi, step;
            if (candidates) { /* later candidates win ties */
                size_t c;
                for (c = 0; c < n_candidates; c++) {
                    const float cand = fp8q__im_d2f(candidates[c]), e = fp8q__im_pts_err(w, n, cand, g2);
                    if (e <= best) {
                        best = e;
                        sel = cand;
                    }
                }
                scales[0] = fp8q__im_round(sel, cfg->rounding, device);
                return FP8Q_OK;
            }
            if (cfg->rounding == FP8Q_INC_HW_ALIGNED) { /* the HW set of the device, in INC's order */
                lo = g2 ? 4 : 7;
                hi = g2 ? -8 : -55;
                step = g2 ? -4 : -1;
            } else if (cfg->rounding == FP8Q_INC_POW2) {
                lo = -10;
                hi = 9;
                step = 1;
            } else {
                return fp8q__st_fail_str(err, FP8Q_ERR_UNSUPPORTED, 0,
                                         "fp8q_inc_weight_scales: OPT per-tensor scales need HW_ALIGNED or POW2 "
                                         "rounding (MAXABS_HW_OPT_WEIGHT, MAXABS_POW2_OPT_WEIGHT)");
            }
            for (i = lo;; i += step) { /* later candidates win ties */
                const float c = fp8q__pow2f(i), e = fp8q__im_pts_err(w, n, c, g2);
                if (e <= best) {
                    best = e;
                    sel = c;
                }
                if (i == hi) break;
            }
            scales[0] = fp8q__im_round(sel, cfg->rounding, device);
            return FP8Q_OK;
        }
    case FP8Q_INC_DUMMY_SCALES: break;
    }
    return fp8q__st_fail_str(err, FP8Q_ERR_UNSUPPORTED, 0, "fp8q_inc_weight_scales: unsupported scale value type");
}

FP8QDEF fp8q_result fp8q_inc_token_scales(float *scales, const float *x, size_t rows, size_t cols,
                                          const fp8q_inc_scale_cfg *cfg, fp8q_gaudi device)
{
    size_t t;
    if (!scales || !x || !cfg || !cols || !fp8q__im_device_ok(device)) return FP8Q_ERR_ARG;
    if (cfg->value_type != FP8Q_INC_MAXABS) return FP8Q_ERR_UNSUPPORTED;
    for (t = 0; t < rows; t++) scales[t] = fp8q__im_pcs_maxabs(x + t * cols, cols, cfg, device);
    return FP8Q_OK;
}

/* ---- scale-file nodes */

static fp8q_inc_entry *fp8q__im_new_entries(size_t n)
{
    return (fp8q_inc_entry *)calloc(n ? n : 1, sizeof(fp8q_inc_entry));
}

/* e := a rank-0 (n == 0) or rank-1 (n values) entry of floats; -1 out of memory. */
static int fp8q__im_set(fp8q_inc_entry *e, const float *v, size_t n, int rank1)
{
    size_t i, c = rank1 ? n : 1;
    e->rank = rank1 ? 1 : 0;
    e->rows = 1;
    e->cols = c;
    e->isint = NULL;
    e->v = (double *)malloc((c ? c : 1) * sizeof(double));
    if (!e->v) return -1;
    for (i = 0; i < c; i++) e->v[i] = (double)v[i];
    return 0;
}

/* The activation scale of entry idx of a measured list (inputs or outputs). */
static fp8q_result fp8q__im_node_act(float *s, const fp8q_inc_node *meas, int outputs, size_t idx,
                                     const fp8q_inc_scale_cfg *a, fp8q_gaudi device, const char *name,
                                     const char *opname, fp8q_error *err)
{
    const fp8q_inc_entry *list;
    size_t n;
    fp8q_result r;
    if (a->value_type == FP8Q_INC_FIXED_VALUE) {
        *s = fp8q__im_fixed(a, device);
        return FP8Q_OK;
    }
    list = outputs ? meas->outputs : meas->inputs;
    n = outputs ? meas->n_outputs : meas->n_inputs;
    if (idx >= n || !list) {
        fp8q__st_msg m;
        fp8q__im_msg_init(&m);
        fp8q__st_put(&m, "fp8q_inc_node_scales: node ");
        fp8q__st_name(&m, name);
        fp8q__st_put(&m, ": a ");
        fp8q__st_put(&m, opname);
        fp8q__st_put(&m, outputs ? " op reads \"outputs\"[" : " op reads \"inputs\"[");
        fp8q__st_u64(&m, idx);
        fp8q__st_put(&m, "], the measurement has ");
        fp8q__st_u64(&m, n);
        fp8q__st_put(&m, n == 1 ? " entry" : " entries");
        return fp8q__st_fail(err, FP8Q_ERR_PARSE, 0, &m);
    }
    r = fp8q_inc_act_scale(s, &list[idx], a, device);
    if (r != FP8Q_OK)
        return fp8q__im_node_fail(err, r, "fp8q_inc_node_scales: ", name,
                                  r == FP8Q_ERR_UNSUPPORTED ? "the method's activation scales are not static maxabs"
                                                            : "empty measurement entry");
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_inc_node_scales(fp8q_inc_node *out, const char *name, fp8q_inc_op op,
                                         const fp8q_inc_node *meas, const float *w_scales, size_t n_w_scales,
                                         size_t in_features, const fp8q_inc_scale_cfg *weight,
                                         const fp8q_inc_scale_cfg *activation, fp8q_gaudi device, int flags,
                                         fp8q_error *err)
{
    static const char *const opnames[6] = {"linear", "matmul", "kv_cache", "softmax", "dynamic_moe", "fused_sdpa"};
    static const char *const pre = "fp8q_inc_node_scales: ";
    float s0 = 0, s1 = 0, o0 = 0;
    fp8q_result r;
    int ok = 1;
    fp8q__st_err_ok(err);
    if (out) memset(out, 0, sizeof *out);
    if (!out || !name || !weight || !activation || !fp8q__im_device_ok(device) || (int)op < 0 || (int)op > 5 ||
        (flags & ~1))
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0,
                                 "fp8q_inc_node_scales: NULL argument, unknown op, device or flags");
    if (activation->granularity == FP8Q_INC_PCS)
        return fp8q__im_node_fail(err, FP8Q_ERR_UNSUPPORTED, pre, name,
                                  "a dynamic-only method has run-time activation scales and no scale-file node");
    if (!meas && activation->value_type != FP8Q_INC_FIXED_VALUE) {
        fp8q__st_msg m;
        if (flags & FP8Q_INC_IGNORE_MISSING) return FP8Q_OK;
        fp8q__im_msg_init(&m);
        fp8q__st_put(&m, "Error - Layer '");
        fp8q__st_put(&m, name);
        fp8q__st_put(&m, "' was called but was not quantized because no measures were supplied.");
        return fp8q__st_fail(err, FP8Q_ERR_PARSE, 0, &m);
    }
    if (op == FP8Q_INC_OP_LINEAR) {
        const fp8q_inc_scale_cfg *wc = weight;
        const int pcs = wc->granularity == FP8Q_INC_PCS && wc->value_type != FP8Q_INC_FIXED_VALUE;
        const int opt_pts = !pcs && wc->value_type == FP8Q_INC_OPT;
        size_t i;
        if (!w_scales || !n_w_scales || (!pcs && n_w_scales != 1) || (pcs && !in_features))
            return fp8q__im_node_fail(err, FP8Q_ERR_ARG, pre, name,
                                      "a linear op needs its weight scales (1, or one per output channel and "
                                      "in_features for per-channel methods)");
        if ((r = fp8q__im_node_act(&s0, meas, 0, 0, activation, device, name, opnames[op], err)) != FP8Q_OK) return r;
        out->n_inputs = out->n_outputs = out->n_params = 1;
        out->inputs = fp8q__im_new_entries(1);
        out->outputs = fp8q__im_new_entries(1);
        out->params = (fp8q_inc_param *)calloc(1, sizeof(fp8q_inc_param));
        if (!out->inputs || !out->outputs || !out->params) goto nomem;
        ok = fp8q__im_set(&out->inputs[0], &s0, 1, 0) == 0;
        out->params[0].name = fp8q__im_strdup("weight");
        ok = ok && out->params[0].name;
        if (ok && pcs) {
            float *prod = (float *)malloc(n_w_scales * sizeof(float)), *ones;
            fp8q_inc_param *p = &out->params[0];
            p->is_dict = 1;
            p->keys = (char **)calloc(2, sizeof(char *));
            p->entries = fp8q__im_new_entries(2);
            ones = (float *)malloc(in_features * sizeof(float));
            ok = prod && ones && p->keys && p->entries;
            if (ok) {
                p->count = 2;
                for (i = 0; i < n_w_scales; i++) prod[i] = fp8q__bf16(w_scales[i] * s0);
                for (i = 0; i < in_features; i++) ones[i] = 1.0f;
                p->keys[0] = fp8q__im_strdup("0");
                p->keys[1] = fp8q__im_strdup("1");
                ok = p->keys[0] && p->keys[1] && fp8q__im_set(&p->entries[0], w_scales, n_w_scales, 1) == 0 &&
                     fp8q__im_set(&p->entries[1], ones, in_features, 1) == 0;
                if (activation->value_type == FP8Q_INC_FIXED_VALUE)
                    ok = ok && fp8q__im_set(&out->outputs[0], &s0, 1, 0) == 0;
                else
                    ok = ok && fp8q__im_set(&out->outputs[0], prod, n_w_scales, 1) == 0;
            }
            free(prod);
            free(ones);
        } else if (ok) {
            out->params[0].count = 1;
            out->params[0].entries = fp8q__im_new_entries(1);
            ok = out->params[0].entries && fp8q__im_set(&out->params[0].entries[0], w_scales, 1, opt_pts) == 0;
            if (activation->value_type == FP8Q_INC_FIXED_VALUE)
                o0 = s0; /* FixedScale: the fixed value */
            else if (opt_pts)
                o0 = w_scales[0] * s0; /* float32 [1] tensor times a BF16 scalar: float32 */
            else
                o0 = fp8q__bf16(w_scales[0] * s0);
            ok = ok &&
                 fp8q__im_set(&out->outputs[0], &o0, 1, opt_pts && activation->value_type != FP8Q_INC_FIXED_VALUE) == 0;
        }
    } else if (op == FP8Q_INC_OP_DYNAMIC_MOE || op == FP8Q_INC_OP_FUSED_SDPA) {
        const int moe = op == FP8Q_INC_OP_DYNAMIC_MOE;
        const size_t nin = moe ? (meas && meas->n_outputs ? meas->n_outputs : 1) : 4, nout = 1;
        float *v = (float *)malloc(nin * sizeof(float));
        size_t k;
        if (!v) goto nomem;
        if (!meas || (moe ? meas->n_inputs < 1 || meas->n_outputs < 1 : meas->n_inputs < 3 || meas->n_outputs < 2)) {
            free(v);
            return fp8q__im_node_fail(err, FP8Q_ERR_PARSE, pre, name,
                                      moe ? "a dynamic_moe op needs inputs[0] and outputs[0 .. E]"
                                          : "a fused_sdpa op needs inputs[0 .. 2] and outputs[0 .. 1]");
        }
        for (k = 0, r = FP8Q_OK; k < nin && r == FP8Q_OK; k++) /* moe: h, then expert e from outputs[1 + e] */
            r = moe ? fp8q__im_node_act(&v[k], meas, k ? 1 : 0, k, activation, device, name, opnames[op], err)
                    : fp8q__im_node_act(&v[k], meas, k == 3, k == 3 ? 1 : k, activation, device, name, opnames[op],
                                        err);
        if (r == FP8Q_OK) r = fp8q__im_node_act(&o0, meas, 1, 0, activation, device, name, opnames[op], err);
        if (r != FP8Q_OK) {
            free(v);
            return r;
        }
        out->n_inputs = nin, out->n_outputs = nout;
        out->inputs = fp8q__im_new_entries(nin);
        out->outputs = fp8q__im_new_entries(1);
        out->params = (fp8q_inc_param *)calloc(1, sizeof(fp8q_inc_param));
        ok = out->inputs && out->outputs && out->params;
        for (k = 0; ok && k < nin; k++) ok = fp8q__im_set(&out->inputs[k], &v[k], 1, 0) == 0;
        ok = ok && fp8q__im_set(&out->outputs[0], &o0, 1, 0) == 0;
        free(v);
        if (!ok) goto nomem;
    } else {
        size_t nin = 0;
        if (op == FP8Q_INC_OP_MATMUL) {
            if ((r = fp8q__im_node_act(&s0, meas, 0, 0, activation, device, name, opnames[op], err)) != FP8Q_OK ||
                (r = fp8q__im_node_act(&s1, meas, 0, 1, activation, device, name, opnames[op], err)) != FP8Q_OK)
                return r;
            o0 = fp8q__bf16(s0 * s1);
            nin = 2;
        } else if (op == FP8Q_INC_OP_KV_CACHE) {
            if ((r = fp8q__im_node_act(&s0, meas, 0, 0, activation, device, name, opnames[op], err)) != FP8Q_OK)
                return r;
            o0 = s0;
            nin = 1;
        } else {
            if ((r = fp8q__im_node_act(&o0, meas, 1, 0, activation, device, name, opnames[op], err)) != FP8Q_OK)
                return r;
        }
        out->n_inputs = nin;
        out->n_outputs = 1;
        out->inputs = fp8q__im_new_entries(nin);
        out->outputs = fp8q__im_new_entries(1);
        out->params = (fp8q_inc_param *)calloc(1, sizeof(fp8q_inc_param));
        if (!out->inputs || !out->outputs || !out->params) goto nomem;
        if (nin >= 1) ok = fp8q__im_set(&out->inputs[0], &s0, 1, 0) == 0;
        if (nin >= 2) ok = ok && fp8q__im_set(&out->inputs[1], &s1, 1, 0) == 0;
        ok = ok && fp8q__im_set(&out->outputs[0], &o0, 1, 0) == 0;
    }
    if (!ok) goto nomem;
    out->name = fp8q__im_strdup(name);
    if (!out->name) goto nomem;
    out->has_inputs = out->has_outputs = out->has_params = 1;
    FP8Q__MEMCPY(out->order, "iop", 4);
    return FP8Q_OK;
nomem:
    fp8q_inc_node_free(out);
    return fp8q__im_nomem(err);
}

/* ---- INC MEASURE on the model */

/* The INC nodes of one layer in vLLM's order, and what each records. */
typedef struct fp8q__inc_slot_def {
    fp8q_module mod; /* the node's module (Q: qkv_proj, GATE: gate_up_proj) */
    int n_in;        /* inputs */
    int n_out;       /* outputs it has */
    int out_always;  /* INC measures its outputs whatever measure_exclude says */
    int has_weight;  /* params.weight */
} fp8q__inc_slot_def;

static const fp8q__inc_slot_def fp8q__inc_layer_nodes[] = {
    {FP8Q_MOD_Q, 1, 1, 0, 1},       {FP8Q_MOD_O, 1, 2, 1, 1},    {FP8Q_MOD_QK, 2, 1, 0, 0},
    {FP8Q_MOD_SOFTMAX, 1, 1, 1, 0}, {FP8Q_MOD_AV, 2, 1, 0, 0},   {FP8Q_MOD_K_CACHE, 1, 1, 0, 0},
    {FP8Q_MOD_V_CACHE, 1, 1, 0, 0}, {FP8Q_MOD_GATE, 1, 1, 0, 1}, {FP8Q_MOD_DOWN, 1, 2, 1, 1},
};
#define FP8Q__INC_LAYER_NODES (int)(sizeof fp8q__inc_layer_nodes / sizeof fp8q__inc_layer_nodes[0])

typedef struct fp8q__inc_acc { /* one node being measured */
    const fp8q__inc_slot_def *def;
    int layer, selected, measure_out;
    double *in[2], *out[2];     /* running maxima per channel (1 channel for maxabs) */
    size_t in_ch[2], out_ch[2]; /* channels, 0 until first seen */
} fp8q__inc_acc;

typedef struct fp8q__inc_meas {
    fp8q__inc_acc *acc; /* [layers * FP8Q__INC_LAYER_NODES + 1] (lm_head last) */
    int n_layers, per_channel, failed;
} fp8q__inc_meas;

static double fp8q__bf16d(float x) { return (double)fp8q_bf16_to_f32(fp8q_f32_to_bf16(x)); }

/* NaN-propagating running max (torch.maximum). */
static double fp8q__nanmax(double a, double b) { return a != a || b != b ? a + b : a > b ? a : b; }

static void fp8q__inc_acc_update(fp8q__inc_meas *M, double **slot, size_t *ch, const float *x, int rows, int cols)
{
    const size_t nch = M->per_channel ? (size_t)cols : 1;
    size_t r, c;
    if (!*slot) {
        if (!(*slot = (double *)malloc(nch * sizeof(double)))) {
            M->failed = 1;
            return;
        }
        for (c = 0; c < nch; c++) (*slot)[c] = 0.0;
        *ch = nch;
    }
    if (*ch != nch) { /* a per-channel tensor changed width: cannot happen in fp8q's model */
        M->failed = 1;
        return;
    }
    for (r = 0; r < (size_t)rows; r++)
        for (c = 0; c < (size_t)cols; c++) {
            const float v = x[r * (size_t)cols + c];
            double *d = &(*slot)[M->per_channel ? c : 0];
            *d = fp8q__nanmax(*d, fp8q__bf16d(v < 0 ? -v : v));
        }
}

/* Maps an observation onto (node, input/output slot). */
static void fp8q__inc_observe(void *ctx, const fp8q_observation *o)
{
    fp8q__inc_meas *M = (fp8q__inc_meas *)ctx;
    fp8q_module node = o->mod;
    fp8q__inc_acc *a;
    int i, k = o->index;
    if (node == FP8Q_MOD_K || node == FP8Q_MOD_V) {
        if (o->io == FP8Q_IO_INPUT) return; /* the fused qkv_proj's input is q_proj's */
        node = FP8Q_MOD_Q;
    } else if (node == FP8Q_MOD_UP) {
        if (o->io == FP8Q_IO_INPUT) return;
        node = FP8Q_MOD_GATE;
    }
    if (o->layer < 0) {
        a = &M->acc[(size_t)M->n_layers * FP8Q__INC_LAYER_NODES];
    } else {
        for (i = 0; i < FP8Q__INC_LAYER_NODES && fp8q__inc_layer_nodes[i].mod != node; i++) {
        }
        if (i == FP8Q__INC_LAYER_NODES) return;
        a = &M->acc[(size_t)o->layer * FP8Q__INC_LAYER_NODES + (size_t)i];
    }
    if (!a->selected || k > 1) return;
    if (o->io == FP8Q_IO_INPUT) {
        fp8q__inc_acc_update(M, &a->in[k], &a->in_ch[k], o->x, o->rows, o->cols);
        if ((node == FP8Q_MOD_K_CACHE || node == FP8Q_MOD_V_CACHE) && a->measure_out) /* the cache returns its input */
            fp8q__inc_acc_update(M, &a->out[0], &a->out_ch[0], o->x, o->rows, o->cols);
    } else if (a->measure_out) {
        fp8q__inc_acc_update(M, &a->out[0], &a->out_ch[0], o->x, o->rows, o->cols);
        if (a->def->n_out == 2) /* RowParallelLinear at TP=1: the all-reduce equals the local output */
            fp8q__inc_acc_update(M, &a->out[1], &a->out_ch[1], o->x, o->rows, o->cols);
    }
}

/* An [[c0], [c1], ...] entry (channels x 1) from running maxima. */
static int fp8q__inc_entry_from(fp8q_inc_entry *e, const double *v, size_t n)
{
    size_t i;
    e->rank = 2, e->rows = n, e->cols = 1, e->isint = NULL;
    if (!(e->v = (double *)malloc((n ? n : 1) * sizeof(double)))) return 0;
    for (i = 0; i < n; i++) e->v[i] = v ? v[i] : 0.0;
    return 1;
}

/* max|W| of a module's weight (fused shards together), BF16, per tensor or per row. */
static int fp8q__inc_weight_entry(fp8q_inc_entry *e, const fp8q_model *m, const fp8q_linear *shards, int count,
                                  int per_channel)
{
    size_t rows = 0, r, at = 0;
    int s;
    double *v;
    for (s = 0; s < count; s++) rows += (size_t)shards[s].out;
    if (!(v = (double *)calloc(per_channel ? rows : 1, sizeof(double)))) return 0;
    for (s = 0; s < count; s++) {
        const fp8q_linear *L = &shards[s];
        float *buf = (float *)malloc((size_t)L->in * sizeof(float));
        if (!buf) {
            free(v);
            return 0;
        }
        for (r = 0; r < (size_t)L->out; r++, at++) {
            const float *w = L->w.data ? fp8q__matrix_row(&L->w, (int)r, buf) : NULL;
            size_t k;
            if (!w) { /* FP8 weights (a quantized checkpoint loaded as "none" is dequantized, so not here) */
                for (k = 0; k < (size_t)L->in; k++)
                    buf[k] = fp8q_to_f32(L->q[r * (size_t)L->in + k], FP8Q_E4M3) * L->w_scale[L->w_per_channel ? r : 0];
                w = buf;
            }
            for (k = 0; k < (size_t)L->in; k++) {
                double *d = &v[per_channel ? at : 0];
                *d = fp8q__nanmax(*d, fp8q__bf16d(w[k] < 0 ? -w[k] : w[k]));
            }
        }
        free(buf);
    }
    (void)m;
    s = fp8q__inc_entry_from(e, v, per_channel ? rows : 1);
    free(v);
    return s;
}

static fp8q_result fp8q__inc_build(fp8q_inc_measure *out, const fp8q__inc_meas *M, const fp8q_model *m, fp8q_error *err)
{
    size_t i, n = (size_t)M->n_layers * FP8Q__INC_LAYER_NODES + 1;
    fp8q_result r;
    for (i = 0; i < n; i++) {
        const fp8q__inc_acc *a = &M->acc[i];
        fp8q_inc_node node;
        char name[160];
        int k, ok = 1;
        if (!a->selected) continue;
        memset(&node, 0, sizeof node);
        (void)fp8q_inc_module_name(a->layer, a->def->mod, name, sizeof name);
        node.name = (char *)malloc(strlen(name) + 1);
        if (node.name) FP8Q__MEMCPY(node.name, name, strlen(name) + 1);
        node.has_inputs = 1, node.n_inputs = (size_t)a->def->n_in;
        node.inputs = (fp8q_inc_entry *)calloc((size_t)a->def->n_in, sizeof(fp8q_inc_entry));
        ok = node.name && node.inputs;
        for (k = 0; ok && k < a->def->n_in; k++)
            ok = fp8q__inc_entry_from(&node.inputs[k], a->in[k], a->in_ch[k] ? a->in_ch[k] : 1);
        if (ok && a->measure_out) {
            node.has_outputs = 1, node.n_outputs = (size_t)a->def->n_out;
            ok = (node.outputs = (fp8q_inc_entry *)calloc((size_t)a->def->n_out, sizeof(fp8q_inc_entry))) != NULL;
            for (k = 0; ok && k < a->def->n_out; k++)
                ok = fp8q__inc_entry_from(&node.outputs[k], a->out[k], a->out_ch[k] ? a->out_ch[k] : 1);
        }
        if (ok && a->def->has_weight) {
            const fp8q_linear *sh = a->layer < 0 ? &m->lm_head : &m->layers[a->layer].mod[a->def->mod];
            const int count = a->def->mod == FP8Q_MOD_Q ? 3 : a->def->mod == FP8Q_MOD_GATE ? 2 : 1;
            node.has_params = 1, node.n_params = 1;
            ok = (node.params = (fp8q_inc_param *)calloc(1, sizeof(fp8q_inc_param))) != NULL &&
                 (node.params[0].name = (char *)malloc(7)) != NULL &&
                 (node.params[0].entries = (fp8q_inc_entry *)calloc(1, sizeof(fp8q_inc_entry))) != NULL;
            if (ok) {
                FP8Q__MEMCPY(node.params[0].name, "weight", 7);
                node.params[0].count = 1;
                ok = fp8q__inc_weight_entry(&node.params[0].entries[0], m, sh, count, M->per_channel);
                if (ok) /* INC's weight entries are [[v]] (rank 2), one row per channel */
                    node.params[0].entries[0].rank = 2;
            }
        }
        FP8Q__MEMCPY(node.order, "iop", 4);
        if (!ok) {
            fp8q_inc_node_free(&node);
            return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory writing INC measurements");
        }
        if ((r = fp8q_inc_measure_add_node(out, &node, err)) != FP8Q_OK) {
            fp8q_inc_node_free(&node);
            return r;
        }
    }
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_inc_measure_model(fp8q_inc_measure *out, const fp8q_model *m, const fp8q_inc_config *cfg,
                                           const int32_t *tokens, int n_seq, int seq_len, int rank, fp8q_error *err)
{
    fp8q__inc_meas M;
    fp8q_state s;
    fp8q_result r = FP8Q_OK;
    size_t i, n;
    int l, q;
    fp8q__st_err_ok(err);
    if (!out || !m || !m->layers || !cfg || !tokens || n_seq < 1 || seq_len < 1)
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_inc_measure_model: NULL argument or no calibration tokens");
    memset(&M, 0, sizeof M);
    if (strcmp(cfg->observer, "maxabs") == 0)
        M.per_channel = 0;
    else if (strcmp(cfg->observer, "maxabs_per_channel") == 0)
        M.per_channel = 1;
    else
        return fp8q__failf(err, FP8Q_ERR_UNSUPPORTED,
                           "INC observer '%.40s' is not supported (maxabs, maxabs_per_channel)", cfg->observer);
    M.n_layers = m->config.num_hidden_layers;
    n = (size_t)M.n_layers * FP8Q__INC_LAYER_NODES + 1;
    if (!(M.acc = (fp8q__inc_acc *)calloc(n, sizeof *M.acc))) return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory");
    for (i = 0; i < n && r == FP8Q_OK; i++) {
        static const fp8q__inc_slot_def head = {FP8Q_MOD_LM_HEAD, 1, 1, 0, 1};
        fp8q__inc_acc *a = &M.acc[i];
        char name[160];
        const int outs_wanted =
            cfg->measure_exclude != FP8Q_INC_EXCLUDE_OUTPUT && cfg->measure_exclude != FP8Q_INC_EXCLUDE_ALL;
        a->def = i + 1 == n ? &head : &fp8q__inc_layer_nodes[i % FP8Q__INC_LAYER_NODES];
        a->layer = i + 1 == n ? -1 : (int)(i / FP8Q__INC_LAYER_NODES);
        a->measure_out = a->def->out_always || outs_wanted;
        (void)fp8q_inc_module_name(a->layer, a->def->mod, name, sizeof name);
        r = fp8q_inc_should_quantize(cfg, name, fp8q_inc_module_class(a->def->mod), 0, &q, err);
        a->selected = q;
    }
    if (r == FP8Q_OK) r = fp8q_state_init(&s, m, seq_len, seq_len, err);
    if (r == FP8Q_OK) {
        s.observer = fp8q__inc_observe, s.observer_ctx = &M;
        for (l = 0; l < n_seq && r == FP8Q_OK && !M.failed; l++) {
            fp8q_state_reset(&s);
            r = fp8q_forward(m, &s, tokens + (size_t)l * (size_t)seq_len, seq_len, NULL, err);
        }
        fp8q_state_free(&s);
        if (r == FP8Q_OK && M.failed) r = fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory measuring");
    }
    if (r == FP8Q_OK) {
        fp8q_inc_measure_init(out, FP8Q_INC_MEASURE_DYNAMIC_RANGE);
        out->has_local_rank = 1, out->local_rank_null = rank < 0, out->local_rank = rank < 0 ? 0 : rank;
        r = fp8q__inc_build(out, &M, m, err);
        if (r != FP8Q_OK) fp8q_inc_measure_free(out);
    }
    for (i = 0; i < n; i++) free(M.acc[i].in[0]), free(M.acc[i].in[1]), free(M.acc[i].out[0]), free(M.acc[i].out[1]);
    free(M.acc);
    return r;
}

FP8QDEF fp8q_result fp8q_inc_write_mod_list(const char *path, const fp8q_inc_measure *m, fp8q_error *err)
{
    FILE *f;
    size_t i;
    int ok;
    fp8q__st_err_ok(err);
    if (!path || !m) return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_inc_write_mod_list: NULL argument");
    if (!(f = fopen(path, "wb"))) return fp8q__failf(err, FP8Q_ERR_IO, "%s: cannot create", path);
    ok = fputs(m->n_nodes ? "[\n" : "[]", f) >= 0;
    for (i = 0; ok && i < m->n_nodes; i++) { /* names are fp8q's own ASCII module names: no escaping needed */
        const char *s = m->nodes[i].name;
        size_t k;
        for (k = 0; s[k]; k++)
            if ((unsigned char)s[k] < 0x20 || (unsigned char)s[k] >= 0x7F || s[k] == '"' || s[k] == '\\') break;
        if (s[k]) {
            fclose(f);
            (void)remove(path);
            return fp8q__failf(err, FP8Q_ERR_ARG, "%s: node name needs JSON escaping", path);
        }
        ok = fprintf(f, "    \"%s\"%s", s, i + 1 < m->n_nodes ? ",\n" : "\n]") > 0;
    }
    if (fclose(f) != 0 || !ok) {
        (void)remove(path);
        return fp8q__failf(err, FP8Q_ERR_IO, "%s: write failed", path);
    }
    return FP8Q_OK;
}

/* ---- INC QUANTIZE on the model */

/* The measurement node of a selected module, or NULL (with *r set when
   that is an error). */
static const fp8q_inc_node *fp8q__inc_need(const fp8q_inc_config *cfg, const fp8q_inc_measure *meas, const char *name,
                                           fp8q_result *r, fp8q_error *err)
{
    const fp8q_inc_node *n = meas ? fp8q_inc_measure_find(meas, name) : NULL;
    *r = FP8Q_OK;
    if (!n && !cfg->ignore_modules_wo_measures)
        *r =
            fp8q__failf(err, FP8Q_ERR_PARSE,
                        "Error - Layer '%s' was called but was not quantized because no measures were supplied.", name);
    return n;
}

/* Quantizes the linear shards[0, count) (one vLLM module) with INC's scales. */
static fp8q_result fp8q__inc_linear(fp8q_model *m, fp8q_linear *sh, int count, const char *name, const char *cls,
                                    const fp8q_inc_config *cfg, const fp8q_inc_node *mn, fp8q_gaudi dev,
                                    fp8q_inc_measure *scales, fp8q_error *err)
{
    const fp8q_inc_scale_entry *e = fp8q_inc_config_scale_entry(cfg, name, cls);
    fp8q_inc_scale_cfg wc, ac;
    size_t rows = 0, cols = (size_t)sh[0].in, at = 0, i, n_s;
    float sx, *w = NULL, *ws = NULL;
    fp8q_inc_node node;
    fp8q_result r;
    int s;
    if ((r = fp8q_inc_config_scale_cfg(cfg, name, cls, &wc, &ac)) != FP8Q_OK) return r;
    sx = 0.0f;
    if (!cfg->dynamic_quantization &&
        (r = fp8q_inc_act_scale(&sx, mn && mn->n_inputs ? &mn->inputs[0] : NULL, &ac, dev)) != FP8Q_OK)
        return fp8q__failf(err, r, "INC: module '%s': no usable inputs[0] measurement", name);
    for (s = 0; s < count; s++) rows += (size_t)sh[s].out;
    n_s = wc.granularity == FP8Q_INC_PCS ? rows : 1;
    if (!(w = (float *)malloc(rows * cols * sizeof(float))) || !(ws = (float *)malloc(n_s * sizeof(float)))) {
        free(w);
        return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory quantizing '%s'", name);
    }
    for (s = 0; s < count; s++) /* the fused parameter, in BF16 as vLLM holds it */
        for (i = 0; i < (size_t)sh[s].out * cols; i++, at++) w[at] = fp8q__bf16(((const float *)sh[s].w.data)[i]);
    r = fp8q_inc_weight_scales(ws, w, rows, cols, &wc, e ? e->weight_scales : NULL, e ? e->n_weight_scales : 0, dev,
                               err);
    if (r == FP8Q_OK && !cfg->dynamic_quantization) { /* dynamic: no scale file (INC.md 5.1) */
        memset(&node, 0, sizeof node);
        r = fp8q_inc_node_scales(&node, name, FP8Q_INC_OP_LINEAR, mn, ws, n_s, cols, &wc, &ac, dev, 0, err);
        if (r == FP8Q_OK && scales) r = fp8q_inc_measure_add_node(scales, &node, err);
        fp8q_inc_node_free(&node);
    }
    for (s = 0, at = 0; r == FP8Q_OK && s < count; s++) {
        fp8q_linear *L = &sh[s];
        const size_t n = (size_t)L->out * cols, ns = n_s > 1 ? (size_t)L->out : 1;
        if (!(L->q = (uint8_t *)malloc(n)) || !(L->w_scale = (float *)malloc(ns * sizeof(float)))) {
            r = fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory quantizing '%s'", name);
            break;
        }
        for (i = 0; i < ns; i++) L->w_scale[i] = ws[n_s > 1 ? at + i : 0];
        {
            fp8q_recipe pr = m->inc_recipe; /* per tensor, or one scale per output row */
            pr.tile_rows = ns > 1 ? 1 : 0;
            (void)fp8q_quantize(L->q, w + at * cols, (size_t)L->out, cols, L->w_scale, &pr);
        }
        L->w_per_channel = ns > 1, L->act = FP8Q_ACT_STATIC, L->input_scale = sx, L->act_recipe = &m->inc_recipe;
        if (cfg->dynamic_quantization)
            L->act = FP8Q_ACT_DYNAMIC_TOKEN, L->inc_dynamic = 1, L->inc_device = (int)dev, L->inc_act = ac;
        if (L->w.data != m->embed.data) free(L->w.data);
        L->w.data = NULL;
        m->weight_bytes = m->weight_bytes - n * sizeof(float) + n + ns * sizeof(float);
        at += (size_t)L->out;
    }
    free(w), free(ws);
    return r;
}

/* An activation-only op (matmul, KV cache, softmax): its scales and scale-file node. */
static fp8q_result fp8q__inc_act_op(const char *name, const char *cls, fp8q_inc_op op, const fp8q_inc_config *cfg,
                                    const fp8q_inc_node *mn, fp8q_gaudi dev, float *s, fp8q_inc_measure *scales,
                                    fp8q_error *err)
{
    fp8q_inc_scale_cfg wc, ac;
    fp8q_inc_node node;
    fp8q_result r;
    int k, n = op == FP8Q_INC_OP_MATMUL ? 2 : 1;
    if ((r = fp8q_inc_config_scale_cfg(cfg, name, cls, &wc, &ac)) != FP8Q_OK) return r;
    for (k = 0; k < n; k++) {
        const fp8q_inc_entry *e = !mn                         ? NULL
                                  : op == FP8Q_INC_OP_SOFTMAX ? (mn->n_outputs ? &mn->outputs[0] : NULL)
                                                              : ((size_t)k < mn->n_inputs ? &mn->inputs[k] : NULL);
        if ((r = fp8q_inc_act_scale(&s[k], e, &ac, dev)) != FP8Q_OK)
            return fp8q__failf(err, r, "INC: module '%s': no usable %s[%d] measurement", name,
                               op == FP8Q_INC_OP_SOFTMAX ? "outputs" : "inputs", k);
    }
    memset(&node, 0, sizeof node);
    r = fp8q_inc_node_scales(&node, name, op, mn, NULL, 0, 0, &wc, &ac, dev, 0, err);
    if (r == FP8Q_OK && scales) r = fp8q_inc_measure_add_node(scales, &node, err);
    fp8q_inc_node_free(&node);
    return r;
}

FP8QDEF fp8q_result fp8q_model_apply_inc(fp8q_model *m, const fp8q_inc_config *cfg, const fp8q_inc_measure *meas,
                                         fp8q_gaudi device, fp8q_inc_measure *scales, fp8q_error *err)
{
    const float full = fp8q_inc_fullscale(device);
    fp8q_result r = FP8Q_OK;
    int l, k, sel, any_kv = 0;
    fp8q__st_err_ok(err);
    if (!m || !m->layers || !cfg || (device != FP8Q_GAUDI2 && device != FP8Q_GAUDI3))
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_model_apply_inc: NULL argument or bad device");
    if (m->opt.quant != FP8Q_QUANT_NONE || m->layers[0].mod[FP8Q_MOD_Q].q || m->lm_head.q)
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_model_apply_inc: load the float model with quant \"none\" first");
    if (cfg->fp8_config != FP8Q_E4M3)
        return fp8q__failf(err, FP8Q_ERR_UNSUPPORTED, "INC fp8_config E5M2 is not implemented in fp8q yet");
    if ((r = fp8q_inc_config_check_device(cfg, device, err)) != FP8Q_OK) return r;
    {
        const fp8q_recipe rc = {"inc",
                                "INC cast_to_fp8_v2: x * (1/s), clamped to the fullscale",
                                FP8Q_E4M3,
                                0,
                                0,
                                FP8Q_RULE_AMAX,
                                0.0f,
                                0.0f,
                                0.0f,
                                FP8Q_HP_F32,
                                FP8Q_SCALE_MUL,
                                1,
                                FP8Q_NOSAT};
        m->inc_recipe = rc;
        m->inc_recipe.qmax = full;
    }
    if (scales) {
        fp8q_inc_measure_init(scales, FP8Q_INC_MEASURE_SCALE);
        if (meas)
            scales->has_local_rank = meas->has_local_rank, scales->local_rank_null = meas->local_rank_null,
            scales->local_rank = meas->local_rank;
    }
    for (l = 0; l <= m->config.num_hidden_layers && r == FP8Q_OK; l++) {
        const int last = l == m->config.num_hidden_layers; /* lm_head */
        for (k = 0; k < (last ? 1 : FP8Q__INC_LAYER_NODES) && r == FP8Q_OK; k++) {
            const fp8q_module mod = last ? FP8Q_MOD_LM_HEAD : fp8q__inc_layer_nodes[k].mod;
            const char *cls = fp8q_inc_module_class(mod);
            const fp8q_inc_node *mn;
            fp8q_layer *ly = last ? NULL : &m->layers[l];
            char name[160];
            (void)fp8q_inc_module_name(last ? -1 : l, mod, name, sizeof name);
            const int linear = mod <= FP8Q_MOD_LM_HEAD;
            fp8q_inc_scale_cfg wc, ac;
            /* with dynamic quantization only the linear layers are quantized (fp8q runs no dynamic
               attention ops); they and FIXED_VALUE methods need no measurements */
            if ((r = fp8q_inc_should_quantize(cfg, name, cls, linear, &sel, err)) != FP8Q_OK || !sel) continue;
            if (cfg->dynamic_quantization && !linear) continue;
            if ((r = fp8q_inc_config_scale_cfg(cfg, name, cls, &wc, &ac)) != FP8Q_OK) continue;
            mn = meas ? fp8q_inc_measure_find(meas, name) : NULL;
            if (!mn && !cfg->dynamic_quantization && ac.value_type != FP8Q_INC_FIXED_VALUE &&
                !(mn = fp8q__inc_need(cfg, meas, name, &r, err)))
                continue;
            switch (mod) {
            case FP8Q_MOD_LM_HEAD:
                r = fp8q__inc_linear(m, &m->lm_head, 1, name, cls, cfg, mn, device, scales, err);
                break;
            case FP8Q_MOD_Q:
                r = fp8q__inc_linear(m, &ly->mod[FP8Q_MOD_Q], 3, name, cls, cfg, mn, device, scales, err);
                break;
            case FP8Q_MOD_GATE:
                r = fp8q__inc_linear(m, &ly->mod[FP8Q_MOD_GATE], 2, name, cls, cfg, mn, device, scales, err);
                break;
            case FP8Q_MOD_O:
            case FP8Q_MOD_DOWN:
                r = fp8q__inc_linear(m, &ly->mod[mod], 1, name, cls, cfg, mn, device, scales, err);
                break;
            case FP8Q_MOD_QK:
                r = fp8q__inc_act_op(name, cls, FP8Q_INC_OP_MATMUL, cfg, mn, device, ly->inc_qk, scales, err);
                break;
            case FP8Q_MOD_AV:
                r = fp8q__inc_act_op(name, cls, FP8Q_INC_OP_MATMUL, cfg, mn, device, ly->inc_av, scales, err);
                break;
            case FP8Q_MOD_SOFTMAX:
                r = fp8q__inc_act_op(name, cls, FP8Q_INC_OP_SOFTMAX, cfg, mn, device, &ly->inc_softmax, scales, err);
                break;
            case FP8Q_MOD_K_CACHE:
            case FP8Q_MOD_V_CACHE:
                r = fp8q__inc_act_op(name, cls, FP8Q_INC_OP_KV_CACHE, cfg, mn, device,
                                     mod == FP8Q_MOD_K_CACHE ? &ly->k_scale : &ly->v_scale, scales, err);
                any_kv = 1;
                break;
            default: break;
            }
        }
    }
    if (r == FP8Q_OK && any_kv) {
        m->opt.kv_cache = FP8Q_KV_E4M3, m->kv_qmax = full;
        for (l = 0; l < m->config.num_hidden_layers; l++) { /* a cache cfg left out keeps 1.0 */
            if (!(m->layers[l].k_scale > 0)) m->layers[l].k_scale = 1.0f;
            if (!(m->layers[l].v_scale > 0)) m->layers[l].v_scale = 1.0f;
        }
    }
    if (r == FP8Q_OK) {
        for (l = 0; l < m->config.num_hidden_layers; l++) { /* attention ops left out run in float */
            fp8q_layer *ly = &m->layers[l];
            if (ly->inc_qk[0] > 0 || ly->inc_av[0] > 0 || ly->inc_softmax > 0) {
                if (!(ly->inc_qk[0] > 0)) ly->inc_qk[0] = ly->inc_qk[1] = 0.0f;
                if (!(ly->inc_av[0] > 0)) ly->inc_av[0] = ly->inc_av[1] = 0.0f;
            }
        }
        (void)snprintf(m->scheme, sizeof m->scheme, "INC %s, %s", cfg->method ? cfg->method->name : "?",
                       device == FP8Q_GAUDI2 ? "Gaudi2" : "Gaudi3");
    }
    if (r != FP8Q_OK && scales) fp8q_inc_measure_free(scales);
    return r;
}

/* ---------------------------------------------------------------- backends */

FP8QDEF const char *fp8q_backend_kind_name(fp8q_backend_kind kind)
{
    switch (kind) {
    case FP8Q_BACKEND_CPU: return "cpu";
    case FP8Q_BACKEND_CUDA: return "cuda";
    case FP8Q_BACKEND_HPU: return "hpu";
    }
    return "unknown";
}

static fp8q_result fp8q__cpu_encode(uint8_t *dst, const void *src, fp8q_dtype src_type, size_t n, fp8q_format fmt,
                                    fp8q_saturation sat, fp8q_scale_op op, float scale)
{
    switch (src_type) {
    case FP8Q_F32: return fp8q_encode_f32(dst, (const float *)src, n, fmt, sat, op, scale);
    case FP8Q_F16: return fp8q_encode_f16(dst, (const uint16_t *)src, n, fmt, sat, op, scale);
    case FP8Q_BF16: return fp8q_encode_bf16(dst, (const uint16_t *)src, n, fmt, sat, op, scale);
    default: return FP8Q_ERR_ARG;
    }
}

/* Whether a backend's result r sends the operation to the CPU. */
static int fp8q__backend_falls_back(const fp8q_backend *b, fp8q_result r)
{
    return r == FP8Q_ERR_UNSUPPORTED || (r != FP8Q_OK && (b->flags & FP8Q_BACKEND_FALLBACK_ON_ERROR));
}

FP8QDEF fp8q_result fp8q_backend_encode(fp8q_backend *b, uint8_t *dst, const void *src, fp8q_dtype src_type, size_t n,
                                        fp8q_format fmt, fp8q_saturation sat, fp8q_scale_op op, float scale,
                                        fp8q_backend_kind *ran, fp8q_error *err)
{
    fp8q_result r;
    if (ran) *ran = FP8Q_BACKEND_CPU;
    if (b && b->encode) {
        r = b->encode(b, dst, src, src_type, n, fmt, sat, op, scale, err);
        if (!fp8q__backend_falls_back(b, r)) {
            if (ran && r == FP8Q_OK) *ran = b->kind;
            return r;
        }
    }
    r = fp8q__cpu_encode(dst, src, src_type, n, fmt, sat, op, scale);
    if (r != FP8Q_OK)
        (void)fp8q__failf(err, r, "fp8q_backend_encode: %s (source type %d, format %d, n %lu)", fp8q_result_string(r),
                          (int)src_type, (int)fmt, (unsigned long)n);
    return r;
}

FP8QDEF fp8q_result fp8q_backend_quantize(fp8q_backend *b, uint8_t *q, float *scales, const float *x, size_t rows,
                                          size_t cols, const fp8q_recipe *r, int dynamic, fp8q_backend_kind *ran,
                                          fp8q_error *err)
{
    fp8q_result res;
    if (ran) *ran = FP8Q_BACKEND_CPU;
    if (b && b->quantize) {
        res = b->quantize(b, q, scales, x, rows, cols, r, dynamic, err);
        if (!fp8q__backend_falls_back(b, res)) {
            if (ran && res == FP8Q_OK) *ran = b->kind;
            return res;
        }
    }
    res = dynamic ? fp8q_compute_scales(scales, x, rows, cols, r) : FP8Q_OK;
    if (res == FP8Q_OK) res = fp8q_quantize(q, x, rows, cols, scales, r);
    if (res != FP8Q_OK) (void)fp8q__failf(err, res, "fp8q_backend_quantize: %s", fp8q_result_string(res));
    return res;
}

FP8QDEF fp8q_result fp8q_backend_gemm(fp8q_backend *b, const fp8q_gemm *g, fp8q_gemm_mode mode, fp8q_backend_kind *ran,
                                      fp8q_error *err)
{
    fp8q_result r;
    if (ran) *ran = FP8Q_BACKEND_CPU;
    if (b && b->gemm) {
        r = b->gemm(b, g, mode, err);
        if (!fp8q__backend_falls_back(b, r)) {
            if (ran && r == FP8Q_OK) *ran = b->kind;
            return r;
        }
    }
    r = fp8q_gemm_run(g, mode);
    if (r != FP8Q_OK) (void)fp8q__failf(err, r, "fp8q_backend_gemm: %s", fp8q_result_string(r));
    return r;
}

FP8QDEF void fp8q_backend_close(fp8q_backend *b)
{
    if (b && b->close) b->close(b);
}

/* ------------------------------------------------------------------- GGUF */
/* Reader: two passes over the metadata with the same code. The counting
   pass validates everything that can be checked locally (lengths, types,
   shapes, sizes) and counts the bytes of keys and names and the elements of
   string arrays; then the tables are allocated at their exact sizes and the
   storing pass fills them, checks duplicates (sorted pointers), the
   alignment and the data layout. Messages use the safetensors fp8q__st_msg
   helpers (no printf). */

/* ggml's types, indexed by ggml_type (ggml/src/ggml.c type_traits: block
   size in elements, bytes per block); removed numbers have no name. */
typedef struct fp8q__gg_type {
    const char *name;
    uint32_t block, size;
} fp8q__gg_type;

static const fp8q__gg_type fp8q__gg_types[] = {
    {"F32", 1, 4},      {"F16", 1, 2},        {"Q4_0", 32, 18},    {"Q4_1", 32, 20},     {NULL, 0, 0},
    {NULL, 0, 0},       {"Q5_0", 32, 22},     {"Q5_1", 32, 24},    {"Q8_0", 32, 34},     {"Q8_1", 32, 36},
    {"Q2_K", 256, 84},  {"Q3_K", 256, 110},   {"Q4_K", 256, 144},  {"Q5_K", 256, 176},   {"Q6_K", 256, 210},
    {"Q8_K", 256, 292}, {"IQ2_XXS", 256, 66}, {"IQ2_XS", 256, 74}, {"IQ3_XXS", 256, 98}, {"IQ1_S", 256, 50},
    {"IQ4_NL", 32, 18}, {"IQ3_S", 256, 110},  {"IQ2_S", 256, 82},  {"IQ4_XS", 256, 136}, {"I8", 1, 1},
    {"I16", 1, 2},      {"I32", 1, 4},        {"I64", 1, 8},       {"F64", 1, 8},        {"IQ1_M", 256, 56},
    {"BF16", 1, 2},     {NULL, 0, 0},         {NULL, 0, 0},        {NULL, 0, 0},         {"TQ1_0", 256, 54},
    {"TQ2_0", 256, 66}, {NULL, 0, 0},         {NULL, 0, 0},        {NULL, 0, 0},         {"MXFP4", 32, 17},
    {"NVFP4", 64, 36},  {"Q1_0", 128, 18},    {"Q2_0", 64, 18},
};
#define FP8Q__GG_NTYPES ((uint32_t)(sizeof fp8q__gg_types / sizeof fp8q__gg_types[0]))

FP8QDEF const char *fp8q_ggml_type_name(uint32_t type)
{
    return type < FP8Q__GG_NTYPES ? fp8q__gg_types[type].name : NULL;
}

/* Metadata value types: name and size in bytes (0: STRING, ARRAY). */
static const char *const fp8q__gg_vnames[13] = {"UINT8", "INT8",   "UINT16", "INT16",  "UINT32", "INT32",  "FLOAT32",
                                                "BOOL",  "STRING", "ARRAY",  "UINT64", "INT64",  "FLOAT64"};
static const unsigned char fp8q__gg_vsize[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

#define FP8Q__GG_MIN_KV     14u /* u64 key length, 1-byte key, u32 type, 1-byte value */
#define FP8Q__GG_MIN_TENSOR 25u /* u64 name length, 1-byte name, u32 n_dims (0), u32 type, u64 offset */
#define FP8Q__GG_MAX_KEY    65535u
#define FP8Q__GG_MAX_NAME   63u /* ggml's GGML_MAX_NAME (64) with its NUL */

/* The private part of an fp8q_gguf. */
typedef struct fp8q__gg_owned {
    char *strings;                      /* keys, then tensor names, NUL-terminated */
    size_t *offsets;                    /* string-array element offsets, all arrays */
    size_t *at;                         /* file offset of each KV, then of each tensor info */
    fp8q_gguf_kv *kv;                   /* n_kv */
    fp8q_gguf_tensor *tensors;          /* n_tensors */
    const fp8q_gguf_kv **kv_by_key;     /* sorted by key (strcmp) */
    const fp8q_gguf_tensor **t_by_name; /* sorted by name */
    void *file;                         /* open: the mapping or the malloc'd file */
    size_t file_len;
    int mapped;
} fp8q__gg_owned;

static void fp8q__gg_unmap(void *file, size_t len, int mapped)
{
    if (!file) return;
#ifdef FP8Q__ST_MMAP
    if (mapped) {
        (void)munmap(file, len);
        return;
    }
#endif
    (void)len;
    (void)mapped;
    free(file);
}

static void fp8q__gg_free_owned(fp8q__gg_owned *o)
{
    if (!o) return;
    free(o->strings);
    free(o->offsets);
    free(o->at);
    free(o->kv);
    free(o->tensors);
    free((void *)o->kv_by_key);
    free((void *)o->t_by_name);
    fp8q__gg_unmap(o->file, o->file_len, o->mapped);
    free(o);
}

static void fp8q__gg_zero(fp8q_gguf *g)
{
    g->version = 0;
    g->n_kv = 0;
    g->kv = NULL;
    g->n_tensors = 0;
    g->tensors = NULL;
    g->alignment = 0;
    g->data_offset = 0;
    g->base = NULL;
    g->size = 0;
    g->fp8q__owned = NULL;
}

FP8QDEF void fp8q_gguf_close(fp8q_gguf *g)
{
    if (!g) return;
    fp8q__gg_free_owned((fp8q__gg_owned *)g->fp8q__owned);
    fp8q__gg_zero(g);
}

/* ---- parser state and messages */

typedef struct fp8q__gg_p {
    const uint8_t *b;
    size_t len, pos;
    fp8q_error *err;
    fp8q__st_msg m;
    int kind;            /* what is being read: 0 the header, 1 a KV, 2 a tensor info */
    uint64_t index;      /* of the KV or tensor */
    const uint8_t *name; /* its key or name in the file, once read (else NULL) */
    size_t name_len;
    fp8q__gg_owned *o;    /* NULL in the counting pass */
    size_t n_kv;          /* storing pass: KVs come first in o->at */
    size_t n_str, n_off;  /* counting: bytes of keys and names, string-array elements; storing: cursors */
    size_t alignment;     /* storing pass */
    size_t data_offset;   /* storing pass */
    uint64_t next_offset; /* storing pass: where the next tensor must start */
    size_t end_of_infos;  /* set by each pass; the storing pass uses the counting pass's */
} fp8q__gg_p;

/* 'bytes' quoted, control bytes as \xNN, cut after FP8Q__ST_NAME_MAX bytes. */
static void fp8q__gg_put_bytes(fp8q__st_msg *m, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    char b[5];
    size_t i;
    fp8q__st_put(m, "'");
    for (i = 0; i < n; i++) {
        if (i >= FP8Q__ST_NAME_MAX && (s[i] & 0xC0u) != 0x80u) {
            fp8q__st_put(m, "...");
            break;
        }
        if (s[i] < 0x20 || s[i] == 0x7F) {
            b[0] = '\\', b[1] = 'x', b[2] = hex[s[i] >> 4], b[3] = hex[s[i] & 15u], b[4] = 0;
        } else {
            b[0] = (char)s[i], b[1] = 0;
        }
        fp8q__st_put(m, b);
    }
    fp8q__st_put(m, "'");
}

/* Starts P's message with "KV 'key': ", "tensor #3: ", ... */
static void fp8q__gg_begin(fp8q__gg_p *P)
{
    P->m.n = 0;
    P->m.m[0] = 0;
    if (P->kind == 0) return;
    fp8q__st_put(&P->m, P->kind == 1 ? "KV " : "tensor ");
    if (P->name) {
        fp8q__gg_put_bytes(&P->m, P->name, P->name_len);
    } else {
        fp8q__st_put(&P->m, "#");
        fp8q__st_u64(&P->m, P->index);
    }
    fp8q__st_put(&P->m, ": ");
}

static fp8q_result fp8q__gg_fail(fp8q__gg_p *P, int code, uint64_t at)
{
    return fp8q__st_fail(P->err, code, at, &P->m);
}

/* " (at byte N)" */
static void fp8q__gg_at(fp8q__gg_p *P, uint64_t at)
{
    fp8q__st_put(&P->m, " (at byte ");
    fp8q__st_u64(&P->m, at);
    fp8q__st_put(&P->m, ")");
}

/* OK when n more bytes follow; else "... the file ends inside <what> ...". */
static fp8q_result fp8q__gg_need(fp8q__gg_p *P, uint64_t n, const char *what)
{
    if (n <= (uint64_t)(P->len - P->pos)) return FP8Q_OK;
    fp8q__gg_begin(P);
    fp8q__st_put(&P->m, "the file ends inside ");
    fp8q__st_put(&P->m, what);
    fp8q__st_put(&P->m, ": ");
    fp8q__st_u64(&P->m, n);
    fp8q__st_put(&P->m, " bytes needed at byte ");
    fp8q__st_u64(&P->m, P->pos);
    fp8q__st_put(&P->m, ", the file has ");
    fp8q__st_u64(&P->m, P->len);
    return fp8q__gg_fail(P, FP8Q_ERR_PARSE, P->pos);
}

/* A little-endian integer of nbytes bytes. */
static fp8q_result fp8q__gg_read(fp8q__gg_p *P, int nbytes, uint64_t *v, const char *what)
{
    fp8q_result r = fp8q__gg_need(P, (uint64_t)nbytes, what);
    if (r != FP8Q_OK) return r;
    *v = fp8q__st_le(P->b + P->pos, nbytes);
    P->pos += (size_t)nbytes;
    return FP8Q_OK;
}

/* A string's length and bytes (which must follow): *s points into the file. */
static fp8q_result fp8q__gg_string(fp8q__gg_p *P, const char *len_what, const char *what, const uint8_t **s,
                                   uint64_t *n)
{
    fp8q_result r = fp8q__gg_read(P, 8, n, len_what);
    if (r == FP8Q_OK) r = fp8q__gg_need(P, *n, what);
    if (r != FP8Q_OK) return r;
    *s = P->b + P->pos;
    P->pos += (size_t)*n;
    return FP8Q_OK;
}

/* Copies s[0, n) and a NUL into the strings (storing pass). */
static char *fp8q__gg_keep(fp8q__gg_p *P, const uint8_t *s, size_t n)
{
    char *d;
    if (!P->o) {
        P->n_str += n + 1;
        return NULL;
    }
    d = P->o->strings + P->n_str;
    if (n) FP8Q__MEMCPY(d, s, n);
    d[n] = 0;
    P->n_str += n + 1;
    return d;
}

/* ---- header */

static fp8q_result fp8q__gg_count(fp8q__gg_p *P, const char *field, size_t at, uint64_t v, uint64_t limit,
                                  const char *limit_name, uint64_t min_bytes, uint64_t room)
{
    fp8q__gg_begin(P);
    fp8q__st_put(&P->m, field);
    fp8q__st_put(&P->m, " is ");
    fp8q__st_u64(&P->m, v);
    fp8q__gg_at(P, at);
    if (v > (uint64_t)INT64_MAX) {
        fp8q__st_put(&P->m, ", negative as the int64 it is");
        return fp8q__gg_fail(P, FP8Q_ERR_PARSE, at);
    }
    if (v > limit) {
        fp8q__st_put(&P->m, ", above ");
        fp8q__st_put(&P->m, limit_name);
        fp8q__st_put(&P->m, " (");
        fp8q__st_u64(&P->m, limit);
        fp8q__st_put(&P->m, ")");
        return fp8q__gg_fail(P, FP8Q_ERR_LIMIT, at);
    }
    if (v > room / min_bytes) {
        fp8q__st_put(&P->m, ", but each takes at least ");
        fp8q__st_u64(&P->m, min_bytes);
        fp8q__st_put(&P->m, " bytes and only ");
        fp8q__st_u64(&P->m, room);
        fp8q__st_put(&P->m, " bytes are left for them");
        return fp8q__gg_fail(P, FP8Q_ERR_PARSE, at);
    }
    return FP8Q_OK;
}

static fp8q_result fp8q__gg_header(fp8q__gg_p *P, uint32_t *version, uint64_t *n_tensors, uint64_t *n_kv)
{
    uint64_t v, room;
    fp8q_result r;
    if ((r = fp8q__gg_need(P, 4, "the magic 'GGUF'")) != FP8Q_OK) return r;
    if (P->b[0] != 'G' || P->b[1] != 'G' || P->b[2] != 'U' || P->b[3] != 'F') {
        fp8q__gg_begin(P);
        fp8q__st_put(&P->m, "not a GGUF file: it starts with ");
        fp8q__gg_put_bytes(&P->m, P->b, 4);
        fp8q__st_put(&P->m, ", not 'GGUF'");
        return fp8q__gg_fail(P, FP8Q_ERR_PARSE, 0);
    }
    P->pos = 4;
    if ((r = fp8q__gg_read(P, 4, &v, "the version")) != FP8Q_OK) return r;
    *version = (uint32_t)v;
    if (v < 2 || v > 3) {
        fp8q__gg_begin(P);
        fp8q__st_put(&P->m, "GGUF version ");
        fp8q__st_u64(&P->m, v);
        if (v == 0) {
            fp8q__st_put(&P->m, " is invalid");
            return fp8q__gg_fail(P, FP8Q_ERR_PARSE, 4);
        }
        fp8q__st_put(&P->m, v == 1               ? " is not supported (32-bit counts and "
                                                   "lengths; llama.cpp refuses it too)"
                            : (v & 0xFFFFu) == 0 ? ": a big-endian GGUF file, not supported"
                                                 : " is newer than this reader (versions 2 and 3)");
        return fp8q__gg_fail(P, FP8Q_ERR_UNSUPPORTED, 4);
    }
    if ((r = fp8q__gg_read(P, 8, n_tensors, "the tensor count")) != FP8Q_OK ||
        (r = fp8q__gg_read(P, 8, n_kv, "the metadata count")) != FP8Q_OK)
        return r;
    room = (uint64_t)(P->len - P->pos);
    if ((r = fp8q__gg_count(P, "the KV count", 16, *n_kv, FP8Q_MAX_GGUF_KV, "FP8Q_MAX_GGUF_KV", FP8Q__GG_MIN_KV,
                            room)) != FP8Q_OK)
        return r;
    room -= *n_kv * FP8Q__GG_MIN_KV;
    return fp8q__gg_count(P, "the tensor count", 8, *n_tensors, FP8Q_MAX_TENSORS, "FP8Q_MAX_TENSORS",
                          FP8Q__GG_MIN_TENSOR, room);
}

/* ---- metadata */

static fp8q_result fp8q__gg_bad_type(fp8q__gg_p *P, const char *what, uint64_t t, size_t at)
{
    fp8q__gg_begin(P);
    fp8q__st_put(&P->m, what);
    fp8q__st_put(&P->m, " ");
    fp8q__st_u64(&P->m, t);
    fp8q__gg_at(P, at);
    fp8q__st_put(&P->m, " is not a GGUF value type (0..12)");
    return fp8q__gg_fail(P, FP8Q_ERR_PARSE, at);
}

/* n BOOL bytes at p must be 0 or 1. */
static fp8q_result fp8q__gg_bools(fp8q__gg_p *P, const uint8_t *p, uint64_t n)
{
    uint64_t i;
    for (i = 0; i < n; i++)
        if (p[i] > 1) {
            fp8q__gg_begin(P);
            fp8q__st_put(&P->m, "BOOL value ");
            fp8q__st_u64(&P->m, p[i]);
            fp8q__gg_at(P, (uint64_t)(p + i - P->b));
            fp8q__st_put(&P->m, " is not 0 or 1");
            return fp8q__gg_fail(P, FP8Q_ERR_PARSE, (uint64_t)(p + i - P->b));
        }
    return FP8Q_OK;
}

/* An array's elements after its type and count. */
static fp8q_result fp8q__gg_array(fp8q__gg_p *P, fp8q_gguf_type et, uint64_t n, size_t *offsets)
{
    const size_t data = P->pos, left = P->len - P->pos;
    const unsigned es = fp8q__gg_vsize[et];
    const uint8_t *s;
    uint64_t i, sl;
    fp8q_result r;
    if (n > left / (es ? es : 8u)) {
        fp8q__gg_begin(P);
        fp8q__st_put(&P->m, "an array of ");
        fp8q__st_u64(&P->m, n);
        fp8q__st_put(&P->m, " ");
        fp8q__st_put(&P->m, fp8q__gg_vnames[et]);
        fp8q__st_put(&P->m, es ? " values" : " (at least 8 bytes each)");
        fp8q__st_put(&P->m, " does not fit in the ");
        fp8q__st_u64(&P->m, left);
        fp8q__st_put(&P->m, " bytes left at byte ");
        fp8q__st_u64(&P->m, data);
        return fp8q__gg_fail(P, FP8Q_ERR_PARSE, data);
    }
    if (es) {
        if (et == FP8Q_GGUF_BOOL && (r = fp8q__gg_bools(P, P->b + data, n)) != FP8Q_OK) return r;
        P->pos += (size_t)n * es;
        return FP8Q_OK;
    }
    for (i = 0; i < n; i++) { /* strings */
        if (offsets) offsets[i] = P->pos - data;
        if ((r = fp8q__gg_string(P, "a string's length in the array", "a string in the array", &s, &sl)) != FP8Q_OK)
            return r;
    }
    return FP8Q_OK;
}

static fp8q_result fp8q__gg_kv(fp8q__gg_p *P, size_t i)
{
    const uint8_t *key, *s;
    uint64_t klen, type, et, n = 1;
    size_t start = P->pos, at, *offsets = NULL;
    fp8q_gguf_kv *kv = P->o ? &P->o->kv[i] : NULL;
    fp8q_result r;
    P->kind = 1, P->index = i, P->name = NULL;
    if ((r = fp8q__gg_string(P, "the key's length", "the key", &key, &klen)) != FP8Q_OK) return r;
    fp8q__gg_begin(P);
    if (klen == 0 || klen > FP8Q__GG_MAX_KEY || memchr(key, 0, (size_t)klen)) {
        fp8q__st_put(&P->m, klen == 0                 ? "the key is empty"
                            : klen > FP8Q__GG_MAX_KEY ? "the key is longer than 65535 bytes"
                                                      : "the key contains a NUL byte");
        fp8q__gg_at(P, start);
        return fp8q__gg_fail(P, klen > FP8Q__GG_MAX_KEY ? FP8Q_ERR_LIMIT : FP8Q_ERR_PARSE, start);
    }
    P->name = key, P->name_len = (size_t)klen;
    at = P->pos;
    if ((r = fp8q__gg_read(P, 4, &type, "the value type")) != FP8Q_OK) return r;
    if (type > FP8Q_GGUF_FLOAT64) return fp8q__gg_bad_type(P, "value type", type, at);
    et = type;
    if (type == FP8Q_GGUF_ARRAY) {
        at = P->pos;
        if ((r = fp8q__gg_read(P, 4, &et, "the array's element type")) != FP8Q_OK) return r;
        if (et > FP8Q_GGUF_FLOAT64) return fp8q__gg_bad_type(P, "array element type", et, at);
        if (et == FP8Q_GGUF_ARRAY) {
            fp8q__gg_begin(P);
            fp8q__st_put(&P->m, "arrays of arrays are not supported");
            fp8q__gg_at(P, at);
            return fp8q__gg_fail(P, FP8Q_ERR_UNSUPPORTED, at);
        }
        if ((r = fp8q__gg_read(P, 8, &n, "the array's length")) != FP8Q_OK) return r;
        if (et == FP8Q_GGUF_STRING && P->o) offsets = P->o->offsets + P->n_off;
        at = P->pos;
        if ((r = fp8q__gg_array(P, (fp8q_gguf_type)et, n, offsets)) != FP8Q_OK) return r;
        if (et == FP8Q_GGUF_STRING) P->n_off += (size_t)n; /* n <= the file size / 8: checked */
    } else if (type == FP8Q_GGUF_STRING) {
        if ((r = fp8q__gg_string(P, "the string value's length", "the string value", &s, &n)) != FP8Q_OK) return r;
        at = (size_t)(s - P->b);
    } else {
        at = P->pos;
        if ((r = fp8q__gg_need(P, fp8q__gg_vsize[type], "the value")) != FP8Q_OK) return r;
        if (type == FP8Q_GGUF_BOOL && (r = fp8q__gg_bools(P, P->b + at, 1)) != FP8Q_OK) return r;
        P->pos += fp8q__gg_vsize[type];
    }
    if (kv) {
        kv->key = fp8q__gg_keep(P, key, (size_t)klen);
        kv->key_len = (size_t)klen;
        kv->type = (fp8q_gguf_type)type;
        kv->array_type = (fp8q_gguf_type)et;
        kv->count = n;
        kv->data = P->b + at;
        kv->fp8q__offsets = offsets;
        P->o->at[i] = start;
    } else {
        (void)fp8q__gg_keep(P, key, (size_t)klen);
    }
    return FP8Q_OK;
}

/* ---- tensor infos */

static fp8q_result fp8q__gg_shape(fp8q__gg_p *P, fp8q_gguf_tensor *t, uint64_t *numel)
{
    uint64_t nd, v;
    size_t at = P->pos;
    int d;
    fp8q_result r;
    if ((r = fp8q__gg_read(P, 4, &nd, "n_dims")) != FP8Q_OK) return r;
    if (nd > 4) {
        fp8q__gg_begin(P);
        fp8q__st_put(&P->m, "n_dims is ");
        fp8q__st_u64(&P->m, nd);
        fp8q__gg_at(P, at);
        fp8q__st_put(&P->m, "; ggml tensors have at most 4 dimensions");
        return fp8q__gg_fail(P, FP8Q_ERR_PARSE, at);
    }
    t->n_dims = (int)nd;
    *numel = 1;
    for (d = 0; d < 4; d++) t->ne[d] = 1;
    for (d = 0; d < (int)nd; d++) {
        at = P->pos;
        if ((r = fp8q__gg_read(P, 8, &v, "the dimensions")) != FP8Q_OK) return r;
        if (v == 0 || v > (uint64_t)INT64_MAX || v > (uint64_t)INT64_MAX / *numel) {
            fp8q__gg_begin(P);
            fp8q__st_put(&P->m, "ne[");
            fp8q__st_u64(&P->m, (uint64_t)d);
            fp8q__st_put(&P->m, "] ");
            if (v == 0 || v > (uint64_t)INT64_MAX) {
                fp8q__st_put(&P->m, v == 0 ? "is 0" : "is negative");
                fp8q__gg_at(P, at);
                fp8q__st_put(&P->m, "; every dimension must be at least 1");
                return fp8q__gg_fail(P, FP8Q_ERR_PARSE, at);
            }
            fp8q__st_put(&P->m, "= ");
            fp8q__st_u64(&P->m, v);
            fp8q__gg_at(P, at);
            fp8q__st_put(&P->m, " makes the element count exceed 2^63 - 1");
            return fp8q__gg_fail(P, FP8Q_ERR_LIMIT, at);
        }
        t->ne[d] = v;
        *numel *= v;
    }
    return FP8Q_OK;
}

static fp8q_result fp8q__gg_type_and_size(fp8q__gg_p *P, fp8q_gguf_tensor *t, uint64_t numel)
{
    const fp8q__gg_type *ty;
    size_t at = P->pos;
    uint64_t v;
    fp8q_result r;
    if ((r = fp8q__gg_read(P, 4, &v, "the ggml type")) != FP8Q_OK) return r;
    t->type = (uint32_t)v;
    fp8q__gg_begin(P);
    if (v >= FP8Q__GG_NTYPES || !fp8q__gg_types[v].name) {
        fp8q__st_put(&P->m, "unknown ggml type ");
        fp8q__st_u64(&P->m, v);
        fp8q__gg_at(P, at);
        fp8q__st_put(&P->m, " (this reader knows ggml's types up to Q2_0 = 42)");
        return fp8q__gg_fail(P, FP8Q_ERR_UNSUPPORTED, at);
    }
    ty = &fp8q__gg_types[v];
    if (t->ne[0] % ty->block != 0) {
        fp8q__st_put(&P->m, "ne[0] = ");
        fp8q__st_u64(&P->m, t->ne[0]);
        fp8q__st_put(&P->m, " is not a multiple of the block size of ");
        fp8q__st_put(&P->m, ty->name);
        fp8q__st_put(&P->m, " (");
        fp8q__st_u64(&P->m, ty->block);
        fp8q__st_put(&P->m, ")");
        return fp8q__gg_fail(P, FP8Q_ERR_PARSE, at);
    }
    if (numel / ty->block > UINT64_MAX / ty->size) {
        fp8q__st_put(&P->m, "its size in bytes overflows 64 bits");
        return fp8q__gg_fail(P, FP8Q_ERR_LIMIT, at);
    }
    t->nbytes = numel / ty->block * ty->size;
    return FP8Q_OK;
}

/* Storing pass: the data layout of ggml's reader (see the declaration). */
static fp8q_result fp8q__gg_place(fp8q__gg_p *P, const fp8q_gguf_tensor *t, size_t at)
{
    const uint64_t align = P->alignment, room = (uint64_t)(P->len - P->data_offset);
    fp8q__gg_begin(P);
    fp8q__st_put(&P->m, "offset ");
    fp8q__st_u64(&P->m, t->offset);
    fp8q__gg_at(P, at);
    if (t->offset % align != 0) {
        fp8q__st_put(&P->m, " is not a multiple of the alignment ");
        fp8q__st_u64(&P->m, align);
        return fp8q__gg_fail(P, FP8Q_ERR_PARSE, at);
    }
    if (t->offset != P->next_offset) {
        fp8q__st_put(&P->m, " should be ");
        fp8q__st_u64(&P->m, P->next_offset);
        fp8q__st_put(&P->m, ": tensors are stored in file order, each padded to the alignment");
        return fp8q__gg_fail(P, FP8Q_ERR_PARSE, at);
    }
    if (t->offset > room || t->nbytes > room - t->offset) {
        fp8q__st_put(&P->m, ": its ");
        fp8q__st_u64(&P->m, t->nbytes);
        fp8q__st_put(&P->m, " bytes from byte ");
        fp8q__st_u64(&P->m, (uint64_t)P->data_offset + t->offset);
        fp8q__st_put(&P->m, " run past the end of the file (");
        fp8q__st_u64(&P->m, P->len);
        fp8q__st_put(&P->m, " bytes)");
        return fp8q__gg_fail(P, FP8Q_ERR_PARSE, at);
    }
    P->next_offset = t->offset + (t->nbytes + align - 1) / align * align; /* both <= the file size */
    return FP8Q_OK;
}

static fp8q_result fp8q__gg_tensor(fp8q__gg_p *P, size_t i)
{
    fp8q_gguf_tensor tmp, *t = P->o ? &P->o->tensors[i] : &tmp;
    const uint8_t *name;
    uint64_t nlen, numel;
    size_t start = P->pos, at;
    fp8q_result r;
    P->kind = 2, P->index = i, P->name = NULL;
    if ((r = fp8q__gg_string(P, "the name's length", "the name", &name, &nlen)) != FP8Q_OK) return r;
    if (nlen > FP8Q__GG_MAX_NAME || memchr(name, 0, (size_t)nlen)) {
        fp8q__gg_begin(P);
        fp8q__st_put(&P->m, nlen > FP8Q__GG_MAX_NAME ? "the name is longer than 63 bytes (ggml's GGML_MAX_NAME)"
                                                     : "the name contains a NUL byte");
        fp8q__gg_at(P, start);
        return fp8q__gg_fail(P, nlen > FP8Q__GG_MAX_NAME ? FP8Q_ERR_LIMIT : FP8Q_ERR_PARSE, start);
    }
    P->name = name, P->name_len = (size_t)nlen;
    if ((r = fp8q__gg_shape(P, t, &numel)) != FP8Q_OK || (r = fp8q__gg_type_and_size(P, t, numel)) != FP8Q_OK) return r;
    at = P->pos;
    if ((r = fp8q__gg_read(P, 8, &t->offset, "the data offset")) != FP8Q_OK) return r;
    t->name = fp8q__gg_keep(P, name, (size_t)nlen);
    if (!P->o) return FP8Q_OK;
    P->o->at[P->n_kv + i] = start;
    return fp8q__gg_place(P, t, at);
}

/* ---- parse */

static int fp8q__gg_kv_cmp(const void *a_, const void *b_)
{
    const fp8q_gguf_kv *a = *(const fp8q_gguf_kv *const *)a_, *b = *(const fp8q_gguf_kv *const *)b_;
    int c = strcmp(a->key, b->key);
    return c ? c : a < b ? -1 : a > b ? 1 : 0;
}

static int fp8q__gg_tensor_cmp(const void *a_, const void *b_)
{
    const fp8q_gguf_tensor *a = *(const fp8q_gguf_tensor *const *)a_, *b = *(const fp8q_gguf_tensor *const *)b_;
    int c = strcmp(a->name, b->name);
    return c ? c : a < b ? -1 : a > b ? 1 : 0;
}

/* "KV 'k' appears twice (the second at byte N)", after the storing pass
   sorted the pointers (equal names end up adjacent, file order kept). */
static fp8q_result fp8q__gg_duplicate(fp8q__gg_p *P, int kind, const char *name, size_t second_at)
{
    P->kind = 0;
    fp8q__gg_begin(P);
    fp8q__st_put(&P->m, kind == 1 ? "KV " : "tensor ");
    fp8q__st_name(&P->m, name);
    fp8q__st_put(&P->m, " appears twice (the second at byte ");
    fp8q__st_u64(&P->m, second_at);
    fp8q__st_put(&P->m, ")");
    return fp8q__gg_fail(P, FP8Q_ERR_PARSE, second_at);
}

static const fp8q_gguf_kv *fp8q__gg_lookup_kv(const fp8q__gg_owned *o, size_t n, const char *key)
{
    size_t lo = 0, hi = n, mid;
    while (lo < hi) {
        int c;
        mid = lo + (hi - lo) / 2;
        c = strcmp(key, o->kv_by_key[mid]->key);
        if (c == 0) return o->kv_by_key[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* general.alignment, then where the data section starts. */
static fp8q_result fp8q__gg_alignment(fp8q__gg_p *P, size_t n_kv, uint64_t n_tensors)
{
    const fp8q_gguf_kv *a = fp8q__gg_lookup_kv(P->o, n_kv, "general.alignment");
    const size_t at = a ? P->o->at[a - P->o->kv] : 0;
    uint64_t v = 32, start;
    P->kind = 0;
    fp8q__gg_begin(P);
    if (a) {
        fp8q__st_put(&P->m, "KV 'general.alignment'");
        fp8q__gg_at(P, at);
        if (a->type != FP8Q_GGUF_UINT32) {
            fp8q__st_put(&P->m, " must be a UINT32, not ");
            fp8q__st_put(&P->m, fp8q__gg_vnames[a->type]);
            return fp8q__gg_fail(P, FP8Q_ERR_PARSE, at);
        }
        v = fp8q__st_le(a->data, 4);
        fp8q__st_put(&P->m, " is ");
        fp8q__st_u64(&P->m, v);
        if (v == 0 || (v & (v - 1)) != 0) {
            fp8q__st_put(&P->m, ", not a power of two");
            return fp8q__gg_fail(P, FP8Q_ERR_PARSE, at);
        }
        if (v > FP8Q_GGUF_MAX_ALIGNMENT) {
            fp8q__st_put(&P->m, ", above FP8Q_GGUF_MAX_ALIGNMENT");
            return fp8q__gg_fail(P, FP8Q_ERR_LIMIT, at);
        }
    }
    P->alignment = (size_t)v;
    start = ((uint64_t)P->end_of_infos + v - 1) / v * v;
    if (n_tensors > 0 && start > (uint64_t)P->len) {
        P->m.n = 0;
        fp8q__st_put(&P->m, "the data section would start at byte ");
        fp8q__st_u64(&P->m, start);
        fp8q__st_put(&P->m, " (the tensor infos end at byte ");
        fp8q__st_u64(&P->m, P->end_of_infos);
        fp8q__st_put(&P->m, ", padded to the alignment), past the end of the file");
        return fp8q__gg_fail(P, FP8Q_ERR_PARSE, P->end_of_infos);
    }
    P->data_offset = start <= (uint64_t)P->len ? (size_t)start : P->len;
    P->next_offset = 0;
    return FP8Q_OK;
}

static fp8q_result fp8q__gg_index_kv(fp8q__gg_p *P, size_t n_kv, uint64_t n_tensors)
{
    fp8q__gg_owned *o = P->o;
    size_t i;
    for (i = 0; i < n_kv; i++) o->kv_by_key[i] = &o->kv[i];
    if (n_kv > 1) qsort((void *)o->kv_by_key, n_kv, sizeof *o->kv_by_key, fp8q__gg_kv_cmp);
    for (i = 1; i < n_kv; i++)
        if (strcmp(o->kv_by_key[i - 1]->key, o->kv_by_key[i]->key) == 0)
            return fp8q__gg_duplicate(P, 1, o->kv_by_key[i]->key, o->at[o->kv_by_key[i] - o->kv]);
    return fp8q__gg_alignment(P, n_kv, n_tensors);
}

static fp8q_result fp8q__gg_index_tensors(fp8q__gg_p *P, size_t n_kv, size_t n)
{
    fp8q__gg_owned *o = P->o;
    size_t i;
    for (i = 0; i < n; i++) o->t_by_name[i] = &o->tensors[i];
    if (n > 1) qsort((void *)o->t_by_name, n, sizeof *o->t_by_name, fp8q__gg_tensor_cmp);
    for (i = 1; i < n; i++)
        if (strcmp(o->t_by_name[i - 1]->name, o->t_by_name[i]->name) == 0)
            return fp8q__gg_duplicate(P, 2, o->t_by_name[i]->name,
                                      o->at[n_kv + (size_t)(o->t_by_name[i] - o->tensors)]);
    return FP8Q_OK;
}

/* One pass over the metadata and tensor infos: counting (P->o NULL) or storing. */
static fp8q_result fp8q__gg_pass(fp8q__gg_p *P, size_t n_kv, size_t n_tensors)
{
    size_t i;
    fp8q_result r;
    P->pos = 24, P->n_str = 0, P->n_off = 0;
    for (i = 0; i < n_kv; i++)
        if ((r = fp8q__gg_kv(P, i)) != FP8Q_OK) return r;
    if (P->o && (r = fp8q__gg_index_kv(P, n_kv, n_tensors)) != FP8Q_OK) return r;
    for (i = 0; i < n_tensors; i++)
        if ((r = fp8q__gg_tensor(P, i)) != FP8Q_OK) return r;
    P->end_of_infos = P->pos;
    return P->o ? fp8q__gg_index_tensors(P, n_kv, n_tensors) : FP8Q_OK;
}

static fp8q__gg_owned *fp8q__gg_alloc(const fp8q__gg_p *P, size_t n_kv, size_t n_tensors)
{
    fp8q__gg_owned *o = (fp8q__gg_owned *)calloc(1, sizeof *o);
    if (!o) return NULL;
    o->strings = (char *)fp8q__st_alloc(P->n_str, 1);
    o->offsets = (size_t *)fp8q__st_alloc(P->n_off, sizeof *o->offsets);
    o->at = (size_t *)fp8q__st_alloc(n_kv + n_tensors, sizeof *o->at);
    o->kv = (fp8q_gguf_kv *)fp8q__st_alloc(n_kv, sizeof *o->kv);
    o->tensors = (fp8q_gguf_tensor *)fp8q__st_alloc(n_tensors, sizeof *o->tensors);
    o->kv_by_key = (const fp8q_gguf_kv **)fp8q__st_alloc(n_kv, sizeof *o->kv_by_key);
    o->t_by_name = (const fp8q_gguf_tensor **)fp8q__st_alloc(n_tensors, sizeof *o->t_by_name);
    if (!o->strings || !o->offsets || !o->at || !o->kv || !o->tensors || !o->kv_by_key || !o->t_by_name) {
        fp8q__gg_free_owned(o);
        return NULL;
    }
    return o;
}

FP8QDEF fp8q_result fp8q_gguf_parse(fp8q_gguf *g, const void *buf, size_t len, fp8q_error *err)
{
    static const uint8_t empty[1] = {0};
    fp8q__gg_p P;
    uint64_t n_kv = 0, n_tensors = 0;
    uint32_t version = 0;
    fp8q_result r;
    fp8q__st_err_ok(err);
    if (g) fp8q__gg_zero(g);
    if (!g || (!buf && len > 0))
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0,
                                 !g ? "fp8q_gguf_parse: g is NULL" : "fp8q_gguf_parse: buf is NULL");
    memset(&P, 0, sizeof P);
    P.b = buf ? (const uint8_t *)buf : empty, P.len = len, P.err = err;
    if ((r = fp8q__gg_header(&P, &version, &n_tensors, &n_kv)) != FP8Q_OK) return r;
    /* both counts are now below len / 14: size_t holds them */
    if ((r = fp8q__gg_pass(&P, (size_t)n_kv, (size_t)n_tensors)) != FP8Q_OK) return r;
    if (!(P.o = fp8q__gg_alloc(&P, (size_t)n_kv, (size_t)n_tensors)))
        return fp8q__st_fail_str(err, FP8Q_ERR_NOMEM, 0, "out of memory for the GGUF tables");
    P.n_kv = (size_t)n_kv;
    if ((r = fp8q__gg_pass(&P, (size_t)n_kv, (size_t)n_tensors)) != FP8Q_OK) {
        fp8q__gg_free_owned(P.o);
        return r;
    }
    g->version = version;
    g->n_kv = (size_t)n_kv;
    g->kv = P.o->kv;
    g->n_tensors = (size_t)n_tensors;
    g->tensors = P.o->tensors;
    g->alignment = P.alignment;
    g->data_offset = P.data_offset;
    g->base = P.b;
    g->size = len;
    g->fp8q__owned = P.o;
    return FP8Q_OK;
}

/* ---- open */

/* The whole file at path: mapped (POSIX) or read; non-regular files refused. */
static fp8q_result fp8q__gg_load(const char *path, void **file, size_t *len, int *mapped, fp8q_error *err)
{
    fp8q_result r;
    *file = NULL, *len = 0, *mapped = 0;
#ifdef FP8Q__ST_MMAP
    {
        struct stat sb;
        int fd = open(path, O_RDONLY | O_NONBLOCK); /* a FIFO must not block the open */
        if (fd < 0) return fp8q__st_open_fail(err, path, "cannot open", errno);
        if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            int e = errno, reg = 0;
            if (fstat(fd, &sb) == 0) reg = S_ISDIR(sb.st_mode) ? 1 : 2;
            (void)close(fd);
            return fp8q__st_open_fail(err, path,
                                      reg == 1   ? "is a directory, not a GGUF file"
                                      : reg == 2 ? "is not a regular file"
                                                 : "cannot stat",
                                      reg ? 0 : e);
        }
        if (sb.st_size < 0 || (uint64_t)sb.st_size > (uint64_t)((size_t)-1)) {
            (void)close(fd);
            r = fp8q__st_fail_str(err, FP8Q_ERR_LIMIT, 0, "file too large for the address space");
            fp8q__st_path_prefix(err, path);
            return r;
        }
        *len = (size_t)sb.st_size;
        if (*len > 0) {
            void *p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED) {
                int e = errno;
                (void)close(fd);
                return fp8q__st_open_fail(err, path, "cannot map", e);
            }
            *file = p, *mapped = 1;
        }
        (void)close(fd);
        return FP8Q_OK;
    }
#else
    {
        char *text = NULL;
        r = fp8q__read_file(path, (size_t)-1 - 1u, "the address space", &text, len, NULL, err);
        *file = text;
        return r;
    }
#endif
}

FP8QDEF fp8q_result fp8q_gguf_open(fp8q_gguf *g, const char *path, fp8q_error *err)
{
    static const uint8_t empty[1] = {0};
    void *file;
    size_t len;
    int mapped;
    fp8q_result r;
    fp8q__st_err_ok(err);
    if (g) fp8q__gg_zero(g);
    if (!g || !path)
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0,
                                 !g ? "fp8q_gguf_open: g is NULL" : "fp8q_gguf_open: path is NULL");
    if ((r = fp8q__gg_load(path, &file, &len, &mapped, err)) != FP8Q_OK) return r;
    r = fp8q_gguf_parse(g, file ? file : (const void *)empty, len, err);
    if (r != FP8Q_OK) {
        fp8q__st_path_prefix(err, path);
        fp8q__gg_unmap(file, len, mapped);
        return r;
    }
    ((fp8q__gg_owned *)g->fp8q__owned)->file = file;
    ((fp8q__gg_owned *)g->fp8q__owned)->file_len = len;
    ((fp8q__gg_owned *)g->fp8q__owned)->mapped = mapped;
    return FP8Q_OK;
}

/* ---- lookups and values */

FP8QDEF const fp8q_gguf_kv *fp8q_gguf_find_kv(const fp8q_gguf *g, const char *key)
{
    if (!g || !key || !g->fp8q__owned) return NULL;
    return fp8q__gg_lookup_kv((const fp8q__gg_owned *)g->fp8q__owned, g->n_kv, key);
}

FP8QDEF const fp8q_gguf_tensor *fp8q_gguf_find_tensor(const fp8q_gguf *g, const char *name)
{
    const fp8q__gg_owned *o;
    size_t lo = 0, hi, mid;
    if (!g || !name || !g->fp8q__owned) return NULL;
    o = (const fp8q__gg_owned *)g->fp8q__owned;
    hi = g->n_tensors;
    while (lo < hi) {
        int c;
        mid = lo + (hi - lo) / 2;
        c = strcmp(name, o->t_by_name[mid]->name);
        if (c == 0) return o->t_by_name[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

FP8QDEF const uint8_t *fp8q_gguf_bytes(const fp8q_gguf *g, const fp8q_gguf_tensor *t)
{
    uint64_t room;
    if (!g || !t || !g->base || g->data_offset > g->size) return NULL;
    room = (uint64_t)(g->size - g->data_offset);
    if (t->offset > room || t->nbytes > room - t->offset) return NULL;
    return g->base + g->data_offset + (size_t)t->offset;
}

/* The integer of type t at p (BOOL counts); FP8Q_ERR_ARG for other types. */
static fp8q_result fp8q__gg_int_at(fp8q_gguf_type t, const uint8_t *p, int64_t *out)
{
    const unsigned n = (unsigned)t <= FP8Q_GGUF_FLOAT64 ? fp8q__gg_vsize[t] : 0u;
    const int is_signed = t == FP8Q_GGUF_INT8 || t == FP8Q_GGUF_INT16 || t == FP8Q_GGUF_INT32 || t == FP8Q_GGUF_INT64;
    uint64_t u, sign;
    if (!n || t == FP8Q_GGUF_FLOAT32 || t == FP8Q_GGUF_FLOAT64) return FP8Q_ERR_ARG;
    u = fp8q__st_le(p, (int)n);
    if (!is_signed) {
        if (u > (uint64_t)INT64_MAX) return FP8Q_ERR_LIMIT;
        *out = (int64_t)u;
        return FP8Q_OK;
    }
    sign = (uint64_t)1 << (8 * n - 1);
    if (!(u & sign))
        *out = (int64_t)u;
    else if (n < 8)
        *out = (int64_t)u - (int64_t)(sign << 1);
    else
        *out = -(int64_t)~u - 1; /* u - 2^64 */
    return FP8Q_OK;
}

/* The number of type t at p as a double; FP8Q_ERR_ARG for non-numbers. */
static fp8q_result fp8q__gg_double_at(fp8q_gguf_type t, const uint8_t *p, double *out)
{
    int64_t i;
    fp8q_result r;
    if (t == FP8Q_GGUF_FLOAT32) {
        *out = (double)fp8q__f32_from_bits((uint32_t)fp8q__st_le(p, 4));
        return FP8Q_OK;
    }
    if (t == FP8Q_GGUF_FLOAT64) {
        uint64_t u = fp8q__st_le(p, 8);
        double d;
        FP8Q__MEMCPY(&d, &u, 8);
        *out = d;
        return FP8Q_OK;
    }
    r = fp8q__gg_int_at(t, p, &i);
    if (r == FP8Q_ERR_LIMIT) { /* a UINT64 above INT64_MAX */
        *out = (double)fp8q__st_le(p, 8);
        return FP8Q_OK;
    }
    if (r == FP8Q_OK) *out = (double)i;
    return r;
}

FP8QDEF fp8q_result fp8q_gguf_kv_int(const fp8q_gguf_kv *kv, int64_t *out)
{
    int64_t v;
    fp8q_result r;
    if (!kv || !out || kv->type == FP8Q_GGUF_ARRAY || kv->type == FP8Q_GGUF_STRING) return FP8Q_ERR_ARG;
    r = fp8q__gg_int_at(kv->type, kv->data, &v);
    if (r == FP8Q_OK) *out = v;
    return r;
}

FP8QDEF fp8q_result fp8q_gguf_kv_float(const fp8q_gguf_kv *kv, double *out)
{
    double v;
    fp8q_result r;
    if (!kv || !out || kv->type == FP8Q_GGUF_ARRAY || kv->type == FP8Q_GGUF_STRING || kv->type == FP8Q_GGUF_BOOL)
        return FP8Q_ERR_ARG;
    r = fp8q__gg_double_at(kv->type, kv->data, &v);
    if (r == FP8Q_OK) *out = v;
    return r;
}

FP8QDEF fp8q_result fp8q_gguf_kv_string(const fp8q_gguf_kv *kv, const char **s, size_t *len)
{
    if (!kv || !s || !len || kv->type != FP8Q_GGUF_STRING) return FP8Q_ERR_ARG;
    *s = (const char *)kv->data;
    *len = (size_t)kv->count;
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_gguf_kv_array_string(const fp8q_gguf_kv *kv, uint64_t i, const char **s, size_t *len)
{
    const uint8_t *p;
    if (!kv || !s || !len || kv->type != FP8Q_GGUF_ARRAY || kv->array_type != FP8Q_GGUF_STRING || i >= kv->count ||
        !kv->fp8q__offsets)
        return FP8Q_ERR_ARG;
    p = kv->data + kv->fp8q__offsets[i];
    *len = (size_t)fp8q__st_le(p, 8);
    *s = (const char *)p + 8;
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_gguf_kv_array_number(const fp8q_gguf_kv *kv, uint64_t i, double *out)
{
    double v;
    fp8q_result r;
    if (!kv || !out || kv->type != FP8Q_GGUF_ARRAY || i >= kv->count || kv->array_type == FP8Q_GGUF_STRING ||
        kv->array_type == FP8Q_GGUF_ARRAY)
        return FP8Q_ERR_ARG;
    r = fp8q__gg_double_at(kv->array_type, kv->data + (size_t)i * fp8q__gg_vsize[kv->array_type], &v);
    if (r == FP8Q_OK) *out = v;
    return r;
}

/* ---- dequantization (ggml-quants.c dequantize_row_*, gguf-py quants.py) */

#define FP8Q__GG_QK 32 /* elements per block of Q8_0, Q4_0, Q4_1 */

static float fp8q__gg_half(const uint8_t *p) { return fp8q_f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }

/* Q8_0: f16 d, int8 q[32]; x = q * d. */
static void fp8q__gg_q8_0(float *y, const uint8_t *x, size_t blocks)
{
    size_t b;
    int j;
    for (b = 0; b < blocks; b++, x += 34, y += FP8Q__GG_QK) {
        const float d = fp8q__gg_half(x);
        for (j = 0; j < FP8Q__GG_QK; j++) {
            const float q = (float)(((int)x[2 + j] ^ 0x80) - 0x80);
            y[j] = q * d;
        }
    }
}

/* Q4_0: f16 d, 16 bytes; element j low nibble, j + 16 high; x = (nibble - 8) * d. */
static void fp8q__gg_q4_0(float *y, const uint8_t *x, size_t blocks)
{
    size_t b;
    int j;
    for (b = 0; b < blocks; b++, x += 18, y += FP8Q__GG_QK) {
        const float d = fp8q__gg_half(x);
        for (j = 0; j < FP8Q__GG_QK / 2; j++) {
            const float lo = (float)((x[2 + j] & 0x0F) - 8), hi = (float)((x[2 + j] >> 4) - 8);
            y[j] = lo * d;
            y[j + FP8Q__GG_QK / 2] = hi * d;
        }
    }
}

/* Q4_1: f16 d, f16 m, 16 bytes; x = nibble * d + m. */
static void fp8q__gg_q4_1(float *y, const uint8_t *x, size_t blocks)
{
    size_t b;
    int j;
    for (b = 0; b < blocks; b++, x += 20, y += FP8Q__GG_QK) {
        const float d = fp8q__gg_half(x), m = fp8q__gg_half(x + 2);
        for (j = 0; j < FP8Q__GG_QK / 2; j++) {
            const float lo = (float)(x[4 + j] & 0x0F), hi = (float)(x[4 + j] >> 4);
            y[j] = lo * d + m; /* lo * d is exact: one rounding, FMA or not */
            y[j + FP8Q__GG_QK / 2] = hi * d + m;
        }
    }
}

FP8QDEF fp8q_result fp8q_gguf_read_f32(const fp8q_gguf *g, const fp8q_gguf_tensor *t, float *dst, fp8q_error *err)
{
    const uint8_t *p;
    const fp8q__gg_type *ty;
    uint64_t numel = 1;
    size_t i, n;
    int d;
    fp8q__st_msg m;
    fp8q__st_err_ok(err);
    if (!g || !t || !(p = fp8q_gguf_bytes(g, t)))
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0, "fp8q_gguf_read_f32: g or t is NULL, or t is not inside g");
    for (d = 0; d < 4; d++) {
        if (t->ne[d] == 0 || numel > UINT64_MAX / t->ne[d])
            return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0, "fp8q_gguf_read_f32: t's shape is invalid");
        numel *= t->ne[d];
    }
    ty = t->type < FP8Q__GG_NTYPES && fp8q__gg_types[t->type].name ? &fp8q__gg_types[t->type] : NULL;
    if (!ty || numel % ty->block != 0 || numel / ty->block > UINT64_MAX / ty->size ||
        numel / ty->block * ty->size != t->nbytes)
        return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0, "fp8q_gguf_read_f32: t's type, shape and nbytes disagree");
    if (numel > (uint64_t)((size_t)-1 / sizeof(float)))
        return fp8q__st_fail_str(err, FP8Q_ERR_LIMIT, 0, "fp8q_gguf_read_f32: tensor too large for memory");
    if (!dst) return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0, "fp8q_gguf_read_f32: dst is NULL");
    n = (size_t)numel;
    switch (t->type) {
    case FP8Q_GGML_F32:
        for (i = 0; i < n; i++) dst[i] = fp8q__f32_from_bits((uint32_t)fp8q__st_le(p + 4 * i, 4));
        break;
    case FP8Q_GGML_F16:
        for (i = 0; i < n; i++) dst[i] = fp8q__gg_half(p + 2 * i);
        break;
    case FP8Q_GGML_BF16:
        for (i = 0; i < n; i++) dst[i] = fp8q_bf16_to_f32((uint16_t)fp8q__st_le(p + 2 * i, 2));
        break;
    case FP8Q_GGML_Q8_0: fp8q__gg_q8_0(dst, p, n / FP8Q__GG_QK); break;
    case FP8Q_GGML_Q4_0: fp8q__gg_q4_0(dst, p, n / FP8Q__GG_QK); break;
    case FP8Q_GGML_Q4_1: fp8q__gg_q4_1(dst, p, n / FP8Q__GG_QK); break;
    default:
        m.n = 0;
        m.m[0] = 0;
        fp8q__st_tensor_prefix(&m, t->name ? t->name : "?");
        fp8q__st_put(&m, "read_f32 does not convert ggml type ");
        fp8q__st_put(&m, ty->name);
        fp8q__st_put(&m, " (F32, F16, BF16, Q8_0, Q4_0 and Q4_1 only)");
        return fp8q__st_fail(err, FP8Q_ERR_UNSUPPORTED, 0, &m);
    }
    return FP8Q_OK;
}

/* ---- Llama configuration (the keys of transformers' integrations/ggml.py) */

/* Points err->offset at kv's value. */
static fp8q_result fp8q__gg_at_kv(fp8q_result r, const fp8q_gguf *g, const fp8q_gguf_kv *kv, fp8q_error *err)
{
    if (err && kv && g->base && kv->data >= g->base) err->offset = (size_t)(kv->data - g->base);
    return r;
}

static const fp8q_gguf_kv *fp8q__gg_llama_kv(const fp8q_gguf *g, const char *suffix)
{
    char key[96];
    (void)snprintf(key, sizeof key, "llama.%s", suffix);
    return fp8q_gguf_find_kv(g, key);
}

/* 'llama.<suffix>' as an integer in [1, limit]; absent: def, or an error when def is 0. */
static fp8q_result fp8q__gg_cfg_int(const fp8q_gguf *g, const char *suffix, int64_t limit, int def, int *out,
                                    fp8q_error *err)
{
    const fp8q_gguf_kv *kv = fp8q__gg_llama_kv(g, suffix);
    int64_t v = 0;
    fp8q_result r;
    if (!kv) {
        if (def > 0) {
            *out = def;
            return FP8Q_OK;
        }
        return fp8q__failf(err, FP8Q_ERR_PARSE, "GGUF: 'llama.%s' is missing", suffix);
    }
    r = fp8q_gguf_kv_int(kv, &v);
    if (r == FP8Q_ERR_ARG)
        return fp8q__gg_at_kv(fp8q__failf(err, FP8Q_ERR_PARSE, "GGUF: 'llama.%s' must be an integer, not %s", suffix,
                                          fp8q__gg_vnames[kv->type]),
                              g, kv, err);
    if (r == FP8Q_OK && v < 1)
        return fp8q__gg_at_kv(
            fp8q__failf(err, FP8Q_ERR_PARSE, "GGUF: 'llama.%s' must be positive, got %lld", suffix, (long long)v), g,
            kv, err);
    if (r != FP8Q_OK || v > limit)
        return fp8q__gg_at_kv(
            fp8q__failf(err, FP8Q_ERR_LIMIT, "GGUF: 'llama.%s' is above the limit %lld", suffix, (long long)limit), g,
            kv, err);
    *out = (int)v;
    return FP8Q_OK;
}

/* 'llama.<suffix>' as a finite number > 0; absent: def, or an error when def is 0. */
static fp8q_result fp8q__gg_cfg_pos(const fp8q_gguf *g, const char *suffix, double def, double *out, fp8q_error *err)
{
    const fp8q_gguf_kv *kv = fp8q__gg_llama_kv(g, suffix);
    double v = 0.0;
    if (!kv) {
        if (def > 0.0) {
            *out = def;
            return FP8Q_OK;
        }
        return fp8q__failf(err, FP8Q_ERR_PARSE, "GGUF: 'llama.%s' is missing", suffix);
    }
    if (fp8q_gguf_kv_float(kv, &v) != FP8Q_OK || !(v > 0.0) || v - v != 0.0)
        return fp8q__gg_at_kv(fp8q__failf(err, FP8Q_ERR_PARSE, "GGUF: 'llama.%s' must be a finite number > 0", suffix),
                              g, kv, err);
    *out = v;
    return FP8Q_OK;
}

static fp8q_result fp8q__gg_cfg_arch(const fp8q_gguf *g, fp8q_error *err)
{
    const fp8q_gguf_kv *kv = fp8q_gguf_find_kv(g, "general.architecture");
    const char *s;
    size_t n;
    fp8q__st_msg m;
    if (!kv) return fp8q__failf(err, FP8Q_ERR_PARSE, "GGUF: 'general.architecture' is missing");
    if (fp8q_gguf_kv_string(kv, &s, &n) != FP8Q_OK)
        return fp8q__gg_at_kv(fp8q__failf(err, FP8Q_ERR_PARSE, "GGUF: 'general.architecture' must be a string"), g, kv,
                              err);
    if (n == 5 && memcmp(s, "llama", 5) == 0) return FP8Q_OK;
    m.n = 0;
    m.m[0] = 0;
    fp8q__st_put(&m, "GGUF: architecture ");
    fp8q__gg_put_bytes(&m, (const uint8_t *)s, n);
    fp8q__st_put(&m, " is not supported (llama)");
    return fp8q__gg_at_kv(fp8q__st_fail(err, FP8Q_ERR_UNSUPPORTED, 0, &m), g, kv, err);
}

/* head_dim from key_length / value_length / rope.dimension_count. */
static fp8q_result fp8q__gg_cfg_head_dim(const fp8q_gguf *g, fp8q_llama_config *c, fp8q_error *err)
{
    int kl = 0, vl = 0, rd = 0;
    fp8q_result r;
    if ((fp8q__gg_llama_kv(g, "attention.key_length") &&
         (r = fp8q__gg_cfg_int(g, "attention.key_length", FP8Q__CFG_DIM_MAX, 0, &kl, err)) != FP8Q_OK) ||
        (fp8q__gg_llama_kv(g, "attention.value_length") &&
         (r = fp8q__gg_cfg_int(g, "attention.value_length", FP8Q__CFG_DIM_MAX, 0, &vl, err)) != FP8Q_OK) ||
        (fp8q__gg_llama_kv(g, "rope.dimension_count") &&
         (r = fp8q__gg_cfg_int(g, "rope.dimension_count", FP8Q__CFG_DIM_MAX, 0, &rd, err)) != FP8Q_OK))
        return r;
    if (kl && vl && kl != vl)
        return fp8q__failf(err, FP8Q_ERR_UNSUPPORTED,
                           "GGUF: 'llama.attention.key_length' (%d) differs from "
                           "'llama.attention.value_length' (%d)",
                           kl, vl);
    c->head_dim = kl ? kl : vl ? vl : rd;
    if (!c->head_dim) {
        if (c->hidden_size % c->num_attention_heads != 0)
            return fp8q__failf(err, FP8Q_ERR_PARSE,
                               "GGUF: 'llama.embedding_length' (%d) is not a "
                               "multiple of 'llama.attention.head_count' "
                               "(%d) and no head size is given",
                               c->hidden_size, c->num_attention_heads);
        c->head_dim = c->hidden_size / c->num_attention_heads;
    }
    if (rd && rd != c->head_dim)
        return fp8q__failf(err, FP8Q_ERR_UNSUPPORTED,
                           "GGUF: 'llama.rope.dimension_count' (%d) differs from "
                           "the head size %d (partial rotary "
                           "embeddings are not supported)",
                           rd, c->head_dim);
    if (c->head_dim % 2 != 0)
        return fp8q__failf(err, FP8Q_ERR_PARSE, "GGUF: the head dimension must be even for RoPE, got %d", c->head_dim);
    return FP8Q_OK;
}

/* Plain RoPE only: no scaling type, factor or per-frequency factors. */
static fp8q_result fp8q__gg_cfg_rope(const fp8q_gguf *g, const fp8q_llama_config *c, fp8q_error *err)
{
    static const char *const factors[2] = {"rope.scaling.factor", "rope.scale_linear"};
    const fp8q_gguf_kv *kv = fp8q__gg_llama_kv(g, "rope.scaling.type");
    const fp8q_gguf_tensor *t = fp8q_gguf_find_tensor(g, "rope_freqs.weight");
    const char *s;
    size_t n, i;
    double v;
    if (kv && (fp8q_gguf_kv_string(kv, &s, &n) != FP8Q_OK || n != 4 || memcmp(s, "none", 4) != 0))
        return fp8q__gg_at_kv(fp8q__failf(err, FP8Q_ERR_UNSUPPORTED,
                                          "GGUF: 'llama.rope.scaling.type' is not "
                                          "\"none\" (only plain RoPE and llama3 "
                                          "scaling are supported)"),
                              g, kv, err);
    for (i = 0; i < 2; i++) {
        kv = fp8q__gg_llama_kv(g, factors[i]);
        if (kv && (fp8q_gguf_kv_float(kv, &v) != FP8Q_OK || v != 1.0))
            return fp8q__gg_at_kv(
                fp8q__failf(err, FP8Q_ERR_UNSUPPORTED, "GGUF: 'llama.%s' is not 1 (RoPE scaling)", factors[i]), g, kv,
                err);
    }
    if (t) {
        float *f;
        fp8q_result r;
        if (t->type != FP8Q_GGML_F32 || t->n_dims != 1 || t->ne[0] != (uint64_t)(c->head_dim / 2))
            return fp8q__failf(err, FP8Q_ERR_PARSE, "GGUF: tensor 'rope_freqs.weight' must be F32 [%d]",
                               c->head_dim / 2);
        if (!(f = (float *)malloc((size_t)t->ne[0] * sizeof *f)))
            return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory");
        r = fp8q_gguf_read_f32(g, t, f, err);
        for (i = 0; r == FP8Q_OK && i < (size_t)t->ne[0]; i++)
            if (f[i] != 1.0f)
                r = fp8q__failf(err, FP8Q_ERR_UNSUPPORTED,
                                "GGUF: tensor 'rope_freqs.weight' holds per-frequency "
                                "RoPE factors (llama3 scaling; "
                                "factor %d is %g), which config.json's rope_scaling "
                                "cannot express uniquely",
                                (int)i, (double)f[i]);
        free(f);
        return r;
    }
    return FP8Q_OK;
}

/* vocab_size: llama.vocab_size, else the token list, else token_embd.weight. */
static fp8q_result fp8q__gg_cfg_vocab(const fp8q_gguf *g, fp8q_llama_config *c, fp8q_error *err)
{
    const fp8q_gguf_kv *tok = fp8q_gguf_find_kv(g, "tokenizer.ggml.tokens");
    const fp8q_gguf_tensor *emb = fp8q_gguf_find_tensor(g, "token_embd.weight");
    uint64_t v = 0;
    fp8q_result r;
    if (fp8q__gg_llama_kv(g, "vocab_size")) {
        if ((r = fp8q__gg_cfg_int(g, "vocab_size", FP8Q__CFG_VOCAB_MAX, 0, &c->vocab_size, err)) != FP8Q_OK) return r;
        v = (uint64_t)c->vocab_size;
    } else if (tok && tok->type == FP8Q_GGUF_ARRAY) {
        v = tok->count;
    } else if (emb && emb->n_dims == 2) {
        v = emb->ne[1];
    }
    if (v == 0)
        return fp8q__failf(err, FP8Q_ERR_PARSE,
                           "GGUF: the vocabulary size is unknown (no "
                           "'llama.vocab_size', 'tokenizer.ggml.tokens' or "
                           "'token_embd.weight')");
    if (v > (uint64_t)FP8Q__CFG_VOCAB_MAX)
        return fp8q__failf(err, FP8Q_ERR_LIMIT, "GGUF: the vocabulary size %llu is above the limit %lld",
                           (unsigned long long)v, (long long)FP8Q__CFG_VOCAB_MAX);
    c->vocab_size = (int)v;
    if (emb && (emb->n_dims != 2 || emb->ne[1] != v))
        return fp8q__failf(err, FP8Q_ERR_PARSE,
                           "GGUF: tensor 'token_embd.weight' has %llu rows, but "
                           "the vocabulary size is %llu",
                           (unsigned long long)emb->ne[1], (unsigned long long)v);
    return FP8Q_OK;
}

static fp8q_result fp8q__gg_cfg(const fp8q_gguf *g, fp8q_llama_config *c, fp8q_error *err)
{
    const fp8q_gguf_kv *kv;
    int64_t experts;
    fp8q_result r;
    if ((r = fp8q__gg_cfg_arch(g, err)) != FP8Q_OK) return r;
    FP8Q__MEMCPY(c->architecture, "LlamaForCausalLM", 17);
    if ((r = fp8q__gg_cfg_int(g, "block_count", FP8Q__CFG_LAYERS_MAX, 0, &c->num_hidden_layers, err)) != FP8Q_OK ||
        (r = fp8q__gg_cfg_int(g, "embedding_length", FP8Q__CFG_DIM_MAX, 0, &c->hidden_size, err)) != FP8Q_OK ||
        (r = fp8q__gg_cfg_int(g, "feed_forward_length", FP8Q__CFG_DIM_MAX, 0, &c->intermediate_size, err)) != FP8Q_OK ||
        (r = fp8q__gg_cfg_int(g, "attention.head_count", FP8Q__CFG_DIM_MAX, 0, &c->num_attention_heads, err)) !=
            FP8Q_OK ||
        (r = fp8q__gg_cfg_int(g, "attention.head_count_kv", FP8Q__CFG_DIM_MAX, c->num_attention_heads,
                              &c->num_key_value_heads, err)) != FP8Q_OK ||
        (r = fp8q__gg_cfg_int(g, "context_length", FP8Q__CFG_DIM_MAX, 2048, &c->max_position_embeddings, err)) !=
            FP8Q_OK)
        return r;
    kv = fp8q__gg_llama_kv(g, "expert_count");
    if (kv && (fp8q_gguf_kv_int(kv, &experts) != FP8Q_OK || experts != 0))
        return fp8q__gg_at_kv(fp8q__failf(err, FP8Q_ERR_UNSUPPORTED,
                                          "GGUF: 'llama.expert_count' is set: "
                                          "mixture of experts is not supported"),
                              g, kv, err);
    if (c->num_attention_heads % c->num_key_value_heads != 0)
        return fp8q__failf(err, FP8Q_ERR_PARSE,
                           "GGUF: 'llama.attention.head_count' (%d) must be a multiple of "
                           "'llama.attention.head_count_kv' (%d)",
                           c->num_attention_heads, c->num_key_value_heads);
    if ((r = fp8q__gg_cfg_head_dim(g, c, err)) != FP8Q_OK ||
        (r = fp8q__gg_cfg_pos(g, "attention.layer_norm_rms_epsilon", 0.0, &c->rms_norm_eps, err)) != FP8Q_OK ||
        (r = fp8q__gg_cfg_pos(g, "rope.freq_base", 10000.0, &c->rope_theta, err)) != FP8Q_OK ||
        (r = fp8q__gg_cfg_rope(g, c, err)) != FP8Q_OK || (r = fp8q__gg_cfg_vocab(g, c, err)) != FP8Q_OK)
        return r;
    c->tie_word_embeddings = fp8q_gguf_find_tensor(g, "output.weight") == NULL;
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_gguf_llama_config(const fp8q_gguf *g, fp8q_llama_config *cfg, fp8q_error *err)
{
    fp8q_result r;
    fp8q__st_err_ok(err);
    if (!g || !cfg) return fp8q__st_fail_str(err, FP8Q_ERR_ARG, 0, "fp8q_gguf_llama_config: g or cfg is NULL");
    fp8q__cfg_zero(cfg);
    r = fp8q__gg_cfg(g, cfg, err);
    if (r != FP8Q_OK) fp8q__cfg_zero(cfg);
    return r;
}

/* ---- GGUF -> Hugging Face checkpoint */

/* The tensors of one layer in Hugging Face's order, and what each one is. */
enum { FP8Q__GG_NORM = 0, FP8Q__GG_PLAIN, FP8Q__GG_Q, FP8Q__GG_K };
typedef struct fp8q__gg_layer_name {
    const char *gguf, *hf;
    int kind;
} fp8q__gg_layer_name;
static const fp8q__gg_layer_name fp8q__gg_layer_names[9] = {
    {"attn_norm", "input_layernorm", FP8Q__GG_NORM}, {"ffn_norm", "post_attention_layernorm", FP8Q__GG_NORM},
    {"attn_q", "self_attn.q_proj", FP8Q__GG_Q},      {"attn_k", "self_attn.k_proj", FP8Q__GG_K},
    {"attn_v", "self_attn.v_proj", FP8Q__GG_PLAIN},  {"attn_output", "self_attn.o_proj", FP8Q__GG_PLAIN},
    {"ffn_gate", "mlp.gate_proj", FP8Q__GG_PLAIN},   {"ffn_up", "mlp.up_proj", FP8Q__GG_PLAIN},
    {"ffn_down", "mlp.down_proj", FP8Q__GG_PLAIN}};

/* One output tensor: HF name and shape ([rows][cols], or [rows] for 1-D),
   its GGUF source, and the head count whose RoPE permutation its rows undo. */
typedef struct fp8q__gg_out {
    char name[96];
    const fp8q_gguf_tensor *src;
    uint64_t shape[2];
    int ndim, heads;
} fp8q__gg_out;

typedef struct fp8q__gg_conv {
    const fp8q_gguf *g;
    const fp8q__gg_out *t;
    fp8q_dtype dtype;
    float *tmp; /* the largest tensor, float32 */
} fp8q__gg_conv;

/* Adds the GGUF tensor gname as HF hname of shape [rows][cols] (cols 0: 1-D). */
static fp8q_result fp8q__gg_plan_one(const fp8q_gguf *g, fp8q__gg_out *out, char *used, const char *gname,
                                     const char *hname, int rows, int cols, int heads, fp8q_error *err)
{
    const fp8q_gguf_tensor *t = fp8q_gguf_find_tensor(g, gname);
    const uint64_t ne0 = (uint64_t)(cols ? cols : rows), ne1 = cols ? (uint64_t)rows : 1u;
    if (!t) return fp8q__failf(err, FP8Q_ERR_PARSE, "GGUF: tensor '%s' (for %s) is missing", gname, hname);
    if (t->type != FP8Q_GGML_F32 && t->type != FP8Q_GGML_F16 && t->type != FP8Q_GGML_BF16 &&
        t->type != FP8Q_GGML_Q8_0 && t->type != FP8Q_GGML_Q4_0 && t->type != FP8Q_GGML_Q4_1)
        return fp8q__failf(err, FP8Q_ERR_UNSUPPORTED,
                           "GGUF: tensor '%s' has ggml type %s; F32, F16, BF16, "
                           "Q8_0, Q4_0 and Q4_1 are converted",
                           gname, fp8q_ggml_type_name(t->type));
    if (t->n_dims != (cols ? 2 : 1) || t->ne[0] != ne0 || t->ne[1] != ne1)
        return fp8q__failf(err, FP8Q_ERR_PARSE,
                           "GGUF: tensor '%s' has ne [%llu, %llu, %llu, %llu], expected "
                           "[%llu%s%s] for %s",
                           gname, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                           (unsigned long long)t->ne[2], (unsigned long long)t->ne[3], (unsigned long long)ne0,
                           cols ? ", " : "", cols ? "rows" : "", hname);
    (void)snprintf(out->name, sizeof out->name, "%s", hname);
    out->src = t;
    out->shape[0] = (uint64_t)rows, out->shape[1] = (uint64_t)cols;
    out->ndim = cols ? 2 : 1;
    out->heads = heads;
    used[t - g->tensors] = 1;
    return FP8Q_OK;
}

/* Every output tensor in HF order; every GGUF tensor must be used. */
static fp8q_result fp8q__gg_plan(const fp8q_gguf *g, const fp8q_llama_config *c, fp8q__gg_out *out, size_t *n,
                                 char *used, fp8q_error *err)
{
    const int dim = c->hidden_size, hd = c->head_dim, ff = c->intermediate_size;
    const int qdim = c->num_attention_heads * hd, kvdim = c->num_key_value_heads * hd;
    const fp8q_gguf_tensor *rf = fp8q_gguf_find_tensor(g, "rope_freqs.weight");
    char gname[64], hname[96];
    size_t i;
    int l, k;
    fp8q_result r;
    *n = 0;
    if ((r = fp8q__gg_plan_one(g, &out[(*n)++], used, "token_embd.weight", "model.embed_tokens.weight", c->vocab_size,
                               dim, 0, err)) != FP8Q_OK)
        return r;
    for (l = 0; l < c->num_hidden_layers; l++)
        for (k = 0; k < 9; k++) {
            const fp8q__gg_layer_name *ln = &fp8q__gg_layer_names[k];
            const int rows[9] = {dim, dim, qdim, kvdim, kvdim, dim, ff, ff, dim};
            const int cols[9] = {0, 0, dim, dim, dim, qdim, dim, dim, ff};
            const int heads = ln->kind == FP8Q__GG_Q   ? c->num_attention_heads
                              : ln->kind == FP8Q__GG_K ? c->num_key_value_heads
                                                       : 0;
            (void)snprintf(gname, sizeof gname, "blk.%d.%s.weight", l, ln->gguf);
            (void)snprintf(hname, sizeof hname, "model.layers.%d.%s.weight", l, ln->hf);
            if ((r = fp8q__gg_plan_one(g, &out[(*n)++], used, gname, hname, rows[k], cols[k], heads, err)) != FP8Q_OK)
                return r;
        }
    if ((r = fp8q__gg_plan_one(g, &out[(*n)++], used, "output_norm.weight", "model.norm.weight", dim, 0, 0, err)) !=
        FP8Q_OK)
        return r;
    if (!c->tie_word_embeddings && (r = fp8q__gg_plan_one(g, &out[(*n)++], used, "output.weight", "lm_head.weight",
                                                          c->vocab_size, dim, 0, err)) != FP8Q_OK)
        return r;
    if (rf) used[rf - g->tensors] = 1; /* all ones: fp8q_gguf_llama_config checked it */
    for (i = 0; i < g->n_tensors; i++)
        if (!used[i]) {
            fp8q__st_msg m;
            m.n = 0;
            m.m[0] = 0;
            fp8q__st_put(&m, "GGUF: tensor ");
            fp8q__st_name(&m, g->tensors[i].name);
            fp8q__st_put(&m, " has no counterpart in a Hugging Face Llama checkpoint");
            return fp8q__st_fail(err, FP8Q_ERR_UNSUPPORTED, 0, &m);
        }
    return FP8Q_OK;
}

/* Drops the pages of t's bytes from memory (as fp8q_safetensors_release). */
static void fp8q__gg_release(const fp8q_gguf *g, const fp8q_gguf_tensor *t)
{
#if defined(FP8Q__ST_MMAP) && defined(FP8Q__MADV_DONTNEED)
    const fp8q__gg_owned *o = (const fp8q__gg_owned *)g->fp8q__owned;
    const uint8_t *p = fp8q_gguf_bytes(g, t);
    uintptr_t begin, end, page = 4096;
    if (!o || !o->mapped || !p) return;
#ifdef _SC_PAGESIZE
    {
        long ps = sysconf(_SC_PAGESIZE);
        if (ps > 0) page = (uintptr_t)ps;
    }
#endif
    begin = ((uintptr_t)p + page - 1) / page * page; /* whole pages only: neighbours keep theirs */
    end = ((uintptr_t)p + (uintptr_t)t->nbytes) / page * page;
    if (end > begin) (void)madvise((void *)begin, (size_t)(end - begin), FP8Q__MADV_DONTNEED);
#else
    (void)g;
    (void)t;
#endif
}

/* The GGUF row holding HF row r of a q/k weight with `heads` heads: llama.cpp
   stores each head's rows as (hd/2 pairs) x 2, HF as 2 halves x hd/2. */
static size_t fp8q__gg_permuted_row(size_t r, size_t rows, int heads)
{
    const size_t hd = rows / (size_t)heads, half = hd / 2, h = r / hd, j = r % hd / half, i = r % hd % half;
    return h * hd + 2 * i + j;
}

/* fp8q_tensor_fill_fn: tensor i dequantized, rows un-permuted, stored as dtype. */
/* One row of a 2-D GGUF tensor (ne[0] = cols, a whole number of blocks per
   row, as ggml stores them) as float32. */
static void fp8q__gg_row_f32(const fp8q_gguf_tensor *t, const uint8_t *p, size_t row, size_t cols, float *y)
{
    size_t k;
    switch (t->type) {
    case FP8Q_GGML_F32:
        for (p += 4 * row * cols, k = 0; k < cols; k++) y[k] = fp8q__f32_from_bits((uint32_t)fp8q__st_le(p + 4 * k, 4));
        break;
    case FP8Q_GGML_F16:
        for (p += 2 * row * cols, k = 0; k < cols; k++) y[k] = fp8q__gg_half(p + 2 * k);
        break;
    case FP8Q_GGML_BF16:
        for (p += 2 * row * cols, k = 0; k < cols; k++) y[k] = fp8q_bf16_to_f32((uint16_t)fp8q__st_le(p + 2 * k, 2));
        break;
    case FP8Q_GGML_Q8_0: fp8q__gg_q8_0(y, p + row * (cols / FP8Q__GG_QK) * 34, cols / FP8Q__GG_QK); break;
    case FP8Q_GGML_Q4_0: fp8q__gg_q4_0(y, p + row * (cols / FP8Q__GG_QK) * 18, cols / FP8Q__GG_QK); break;
    case FP8Q_GGML_Q4_1: fp8q__gg_q4_1(y, p + row * (cols / FP8Q__GG_QK) * 20, cols / FP8Q__GG_QK); break;
    default: break;
    }
}

/* Writes tensor i row by row (Q/K rows un-permuted): only one float32 row
   besides the output buffer is in memory. */
static fp8q_result fp8q__gg_fill(void *ctx_, size_t i, void *dst, size_t bytes, fp8q_error *err)
{
    const fp8q__gg_conv *c = (const fp8q__gg_conv *)ctx_;
    const fp8q__gg_out *t = &c->t[i];
    const size_t rows = t->ndim == 2 ? (size_t)t->shape[0] : 1, cols = (size_t)t->shape[t->ndim == 2 ? 1 : 0];
    const uint8_t *p;
    uint8_t *o = (uint8_t *)dst;
    size_t r, k;
    (void)bytes;
    if (t->src->type != FP8Q_GGML_F32 && t->src->type != FP8Q_GGML_F16 && t->src->type != FP8Q_GGML_BF16 &&
        t->src->type != FP8Q_GGML_Q8_0 && t->src->type != FP8Q_GGML_Q4_0 && t->src->type != FP8Q_GGML_Q4_1) {
        return fp8q__failf(err, FP8Q_ERR_UNSUPPORTED,
                           "tensor '%s': read_f32 does not convert ggml type %s (F32, F16, BF16, Q8_0, Q4_0 and Q4_1 "
                           "only)",
                           t->src->name ? t->src->name : "?", fp8q_ggml_type_name(t->src->type));
    }
    p = fp8q_gguf_bytes(c->g, t->src);
    for (r = 0; r < rows; r++) {
        const float *x = c->tmp;
        fp8q__gg_row_f32(t->src, p, t->heads ? fp8q__gg_permuted_row(r, rows, t->heads) : r, cols, c->tmp);
        for (k = 0; k < cols; k++) {
            if (c->dtype == FP8Q_F32) {
                const uint32_t b = fp8q__f32_bits(x[k]);
                o[0] = (uint8_t)b, o[1] = (uint8_t)(b >> 8), o[2] = (uint8_t)(b >> 16), o[3] = (uint8_t)(b >> 24);
                o += 4;
            } else {
                const uint16_t h = c->dtype == FP8Q_BF16 ? fp8q_f32_to_bf16(x[k]) : fp8q_f32_to_f16(x[k]);
                o[0] = (uint8_t)h, o[1] = (uint8_t)(h >> 8);
                o += 2;
            }
        }
    }
    fp8q__gg_release(c->g, t->src);
    return FP8Q_OK;
}

static fp8q_result fp8q__gg_convert(const fp8q_gguf *g, const fp8q_llama_config *cfg, const char *out_dir,
                                    fp8q_dtype dtype, fp8q_error *err)
{
    static const char *const mk[1] = {"format"}, *const mv[1] = {"pt"};
    const size_t cap = (size_t)cfg->num_hidden_layers * 9 + 3;
    fp8q__gg_out *t = (fp8q__gg_out *)calloc(cap, sizeof *t);
    fp8q_tensor_out *out = (fp8q_tensor_out *)calloc(cap, sizeof *out);
    char *used = (char *)calloc(g->n_tensors + 1, 1);
    char path[1024];
    fp8q__gg_conv ctx;
    size_t n = 0, i, most = 1;
    fp8q_result r;
    ctx.tmp = NULL;
    if (!t || !out || !used) {
        r = fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((r = fp8q__gg_plan(g, cfg, t, &n, used, err)) != FP8Q_OK) goto done;
    for (i = 0; i < n; i++) {
        const size_t cols = (size_t)t[i].shape[t[i].ndim == 2 ? 1 : 0]; /* one row at a time */
        out[i].name = t[i].name, out[i].dtype = dtype, out[i].ndim = t[i].ndim, out[i].shape = t[i].shape;
        if (cols > most) most = cols;
    }
    if (!(ctx.tmp = (float *)fp8q__st_alloc(most, sizeof(float)))) {
        r = fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory for a row of %lu floats", (unsigned long)most);
        goto done;
    }
    if ((r = fp8q__write_config(out_dir, cfg, dtype, err)) != FP8Q_OK) goto done;
    /* HOOK(tokenizer): the vocabulary is in the GGUF metadata
       (tokenizer.ggml.model, .tokens, .merges, .token_type, .bos_token_id, ...;
       fp8q_gguf_find_kv + fp8q_gguf_kv_array_string); a tokenizer.json for
       out_dir would be written here. */
    (void)snprintf(path, sizeof path, "%s/model.safetensors", out_dir);
    ctx.g = g, ctx.t = t, ctx.dtype = dtype;
    r = fp8q_safetensors_write_stream(path, out, n, mk, mv, 1, fp8q__gg_fill, &ctx, err);
done:
    free(ctx.tmp);
    free(t);
    free(out);
    free(used);
    return r;
}

FP8QDEF fp8q_result fp8q_gguf_to_hf(const char *gguf_path, const char *out_dir, fp8q_dtype dtype, fp8q_error *err)
{
    fp8q_gguf g;
    fp8q_llama_config cfg;
    fp8q_result r;
    fp8q__st_err_ok(err);
    if (!gguf_path || !out_dir || (dtype != FP8Q_F32 && dtype != FP8Q_BF16 && dtype != FP8Q_F16))
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_gguf_to_hf: NULL argument or dtype not F32/BF16/F16");
    if (strlen(out_dir) > 1000) return fp8q__failf(err, FP8Q_ERR_ARG, "%.60s...: path too long", out_dir);
    if ((r = fp8q_gguf_open(&g, gguf_path, err)) != FP8Q_OK) return r;
    r = fp8q_gguf_llama_config(&g, &cfg, err);
    if (r == FP8Q_OK) r = fp8q__gg_convert(&g, &cfg, out_dir, dtype, err);
    if (r != FP8Q_OK && err && strncmp(err->message, "GGUF: ", 6) == 0) fp8q__st_path_prefix(err, gguf_path);
    fp8q_gguf_close(&g);
    return r;
}

/* ----------------------------------------------------------------- traces */

#define FP8Q__TRACE_MODULE_MAX 96  /* "model.layers.N.self_attn.attn.impl.matmul_qk" */
#define FP8Q__TRACE_NAME_MAX   320 /* step prefix + module + shard + suffix */

/* One recorded tensor: little-endian bytes. (step, layer) bound the search
   for a tensor being filled (the entries of one layer are contiguous). */
typedef struct fp8q__trace_tensor {
    char *name;
    int step, layer;
    fp8q_dtype dtype;
    int ndim;
    uint64_t shape[3];
    uint8_t *data;
    size_t bytes;
} fp8q__trace_tensor;

typedef struct fp8q__trace_own {
    fp8q__trace_tensor *t;
    size_t n, cap;
    unsigned char *params_done; /* [(layers + 1) * FP8Q_MOD_COUNT]: parameters
                                   recorded (lm_head at row layers) */
} fp8q__trace_own;

/* Records the first error; later observations are then ignored. */
static void fp8q__trace_fail(fp8q_trace *t, fp8q_result code, const char *fmt, ...)
{
    va_list ap;
    if (t->status != FP8Q_OK) return;
    va_start(ap, fmt);
    (void)vsnprintf(t->error.message, sizeof t->error.message, fmt, ap);
    va_end(ap);
    t->status = code, t->error.code = code, t->error.offset = 0;
}

static void fp8q__trace_put_f32(uint8_t *dst, const float *x, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        const uint32_t u = fp8q__f32_bits(x[i]);
        dst[4 * i] = (uint8_t)u, dst[4 * i + 1] = (uint8_t)(u >> 8);
        dst[4 * i + 2] = (uint8_t)(u >> 16), dst[4 * i + 3] = (uint8_t)(u >> 24);
    }
}

/* 1 if the little-endian floats at le equal x[0, n) bit for bit. */
static int fp8q__trace_same_f32(const uint8_t *le, const float *x, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        const uint32_t u = (uint32_t)le[4 * i] | (uint32_t)le[4 * i + 1] << 8 | (uint32_t)le[4 * i + 2] << 16 |
                           (uint32_t)le[4 * i + 3] << 24;
        if (u != fp8q__f32_bits(x[i])) return 0;
    }
    return 1;
}

/* The tensor called name among the entries of (step, layer), or NULL. */
static fp8q__trace_tensor *fp8q__trace_find(fp8q_trace *t, int step, int layer, const char *name)
{
    fp8q__trace_own *o = (fp8q__trace_own *)t->fp8q__owned;
    size_t i = o->n;
    while (i-- > 0) {
        fp8q__trace_tensor *e = &o->t[i];
        if (e->step != step || e->layer != layer) break;
        if (strcmp(e->name, name) == 0) return e;
    }
    return NULL;
}

/* Appends a zeroed tensor name of shape d0 x d1 [x d2] (ndim 1..3); NULL
   after an error (recorded in t). */
static fp8q__trace_tensor *fp8q__trace_add(fp8q_trace *t, int step, int layer, const char *name, fp8q_dtype dtype,
                                           int ndim, size_t d0, size_t d1, size_t d2)
{
    fp8q__trace_own *o = (fp8q__trace_own *)t->fp8q__owned;
    const size_t esize = dtype == FP8Q_F32 ? 4 : 1, dims[3] = {d0, d1, d2};
    size_t bytes = esize, k;
    fp8q__trace_tensor *e;
    for (k = 0; k < (size_t)ndim; k++) {
        if (dims[k] && bytes > (size_t)-1 / dims[k])
            return fp8q__trace_fail(t, FP8Q_ERR_LIMIT, "trace: tensor '%.200s' is too large for this host", name),
                   (fp8q__trace_tensor *)NULL;
        bytes *= dims[k];
    }
    if (o->n >= (size_t)FP8Q_MAX_TENSORS)
        return fp8q__trace_fail(t, FP8Q_ERR_LIMIT,
                                "trace: more than %lu tensors (FP8Q_MAX_TENSORS, "
                                "the reader's limit): record fewer "
                                "forward calls",
                                (unsigned long)FP8Q_MAX_TENSORS),
               (fp8q__trace_tensor *)NULL;
    if (o->n == o->cap) {
        const size_t cap = o->cap ? 2 * o->cap : 64;
        fp8q__trace_tensor *grown = (fp8q__trace_tensor *)realloc(o->t, cap * sizeof *grown);
        if (!grown) return fp8q__trace_fail(t, FP8Q_ERR_NOMEM, "trace: out of memory"), (fp8q__trace_tensor *)NULL;
        o->t = grown, o->cap = cap;
    }
    e = &o->t[o->n];
    memset(e, 0, sizeof *e);
    e->name = (char *)malloc(strlen(name) + 1);
    e->data = (uint8_t *)calloc(bytes ? bytes : 1, 1);
    if (!e->name || !e->data) {
        free(e->name), free(e->data);
        return fp8q__trace_fail(t, FP8Q_ERR_NOMEM, "trace: out of memory for '%.200s' (%lu bytes)", name,
                                (unsigned long)bytes),
               (fp8q__trace_tensor *)NULL;
    }
    memcpy(e->name, name, strlen(name) + 1);
    e->step = step, e->layer = layer, e->dtype = dtype, e->ndim = ndim, e->bytes = bytes;
    for (k = 0; k < (size_t)ndim; k++) e->shape[k] = (uint64_t)dims[k];
    o->n++, t->n_tensors = o->n, t->bytes += (uint64_t)bytes;
    return e;
}

/* Adds float32 x[n] as a 1-D tensor. */
static void fp8q__trace_add_f32(fp8q_trace *t, int step, int layer, const char *name, const float *x, size_t n)
{
    fp8q__trace_tensor *e = fp8q__trace_add(t, step, layer, name, FP8Q_F32, 1, n, 0, 0);
    if (e) fp8q__trace_put_f32(e->data, x, n);
}

/* "step<k>." for k >= 1, else "". */
static void fp8q__trace_prefix(char *buf, size_t cap, int step)
{
    if (step > 0)
        (void)snprintf(buf, cap, "step%d.", step);
    else
        buf[0] = 0;
}

/* The fused group of a linear module: its first shard and shard count. */
static int fp8q__trace_group(fp8q_module mod, int *first)
{
    if (mod <= FP8Q_MOD_V) return *first = FP8Q_MOD_Q, 3;
    if (mod == FP8Q_MOD_GATE || mod == FP8Q_MOD_UP) return *first = FP8Q_MOD_GATE, 2;
    return *first = (int)mod, 1;
}

static const fp8q_linear *fp8q__trace_linear(const fp8q_model *m, int layer, int mod)
{
    return mod == FP8Q_MOD_LM_HEAD ? &m->lm_head : &m->layers[layer].mod[mod];
}

/* M.weight.scale ([count] when every shard is per tensor, else one per
   output row) and, with opt.weights, M.weight.fp8 [out][in] of FP8 shards
   lin[0, count) side by side. */
static void fp8q__trace_weights(fp8q_trace *t, int layer, const char *module, const fp8q_linear *const *lin, int count)
{
    char name[FP8Q__TRACE_NAME_MAX];
    size_t rows = 0, r, at = 0, in = (size_t)lin[0]->in;
    int i, per_channel = 0;
    fp8q__trace_tensor *e;
    for (i = 0; i < count; i++) rows += (size_t)lin[i]->out, per_channel |= lin[i]->w_per_channel;
    (void)snprintf(name, sizeof name, "%s.weight.scale", module);
    if (!(e = fp8q__trace_add(t, 0, layer, name, FP8Q_F32, 1, per_channel ? rows : (size_t)count, 0, 0))) return;
    for (i = 0; i < count; i++)
        for (r = 0; r < (per_channel ? (size_t)lin[i]->out : 1); r++, at++)
            fp8q__trace_put_f32(e->data + 4 * at, &lin[i]->w_scale[lin[i]->w_per_channel ? r : 0], 1);
    if (!t->opt.weights) return;
    (void)snprintf(name, sizeof name, "%s.weight.fp8", module);
    if (!(e = fp8q__trace_add(t, 0, layer, name, FP8Q_F8_E4M3, 2, rows, in, 0))) return;
    for (i = 0, at = 0; i < count; i++) {
        memcpy(e->data + at, lin[i]->q, (size_t)lin[i]->out * in);
        at += (size_t)lin[i]->out * in;
    }
}

/* The parameters of a linear module (fused shards together): weight scales
   and codes, static input scales. Shards that differ in kind are recorded
   one by one as M.<shard>. */
static void fp8q__trace_linear_params(fp8q_trace *t, int layer, const char *module, int first, int count)
{
    const fp8q_model *m = t->model;
    const fp8q_linear *lin[3];
    char name[FP8Q__TRACE_NAME_MAX];
    float s[3];
    int i, n_fp8 = 0, n_static = 0;
    for (i = 0; i < count; i++) {
        lin[i] = fp8q__trace_linear(m, layer, first + i);
        n_fp8 += lin[i]->q != NULL;
        n_static += lin[i]->q && lin[i]->act == FP8Q_ACT_STATIC;
        s[i] = lin[i]->input_scale;
    }
    if (n_fp8 == count)
        fp8q__trace_weights(t, layer, module, lin, count);
    else
        for (i = 0; i < count && n_fp8 > 0; i++) {
            (void)snprintf(name, sizeof name, "%s.%s", module, fp8q_module_name((fp8q_module)(first + i)));
            if (lin[i]->q) fp8q__trace_weights(t, layer, name, &lin[i], 1);
        }
    if (n_static == count) {
        (void)snprintf(name, sizeof name, "%s.input_scale", module);
        fp8q__trace_add_f32(t, 0, layer, name, s, (size_t)count);
    } else
        for (i = 0; i < count && n_static > 0; i++)
            if (lin[i]->q && lin[i]->act == FP8Q_ACT_STATIC) {
                (void)snprintf(name, sizeof name, "%s.%s.input_scale", module,
                               fp8q_module_name((fp8q_module)(first + i)));
                fp8q__trace_add_f32(t, 0, layer, name, &s[i], 1);
            }
}

/* The scales of the attention path: FP8 KV cache, INC's FP8 matmuls. */
static void fp8q__trace_attn_params(fp8q_trace *t, int layer, const char *module, fp8q_module mod)
{
    const fp8q_model *m = t->model;
    const fp8q_layer *ly = &m->layers[layer];
    char name[FP8Q__TRACE_NAME_MAX];
    (void)snprintf(name, sizeof name, "%s.input_scale", module);
    if ((mod == FP8Q_MOD_K_CACHE || mod == FP8Q_MOD_V_CACHE) && m->opt.kv_cache != FP8Q_KV_AUTO)
        fp8q__trace_add_f32(t, 0, layer, name, mod == FP8Q_MOD_K_CACHE ? &ly->k_scale : &ly->v_scale, 1);
    else if (mod == FP8Q_MOD_QK && ly->inc_qk[0] > 0)
        fp8q__trace_add_f32(t, 0, layer, name, ly->inc_qk, 2);
    else if (mod == FP8Q_MOD_AV && ly->inc_av[0] > 0)
        fp8q__trace_add_f32(t, 0, layer, name, ly->inc_av, 2);
    else if (mod == FP8Q_MOD_SOFTMAX && ly->inc_softmax > 0) {
        (void)snprintf(name, sizeof name, "%s.output_scale", module);
        fp8q__trace_add_f32(t, 0, layer, name, &ly->inc_softmax, 1);
    }
}

/* Records the module's parameters the first time it is seen. */
static void fp8q__trace_params(fp8q_trace *t, int layer, fp8q_module mod, int first, int count, const char *module)
{
    fp8q__trace_own *o = (fp8q__trace_own *)t->fp8q__owned;
    const int row = layer < 0 ? t->model->config.num_hidden_layers : layer;
    unsigned char *done = &o->params_done[(size_t)row * FP8Q_MOD_COUNT + (size_t)first];
    if (*done) return;
    *done = 1;
    if (mod <= FP8Q_MOD_LM_HEAD)
        fp8q__trace_linear_params(t, layer, module, first, count);
    else if (layer >= 0)
        fp8q__trace_attn_params(t, layer, module, mod);
}

/* A new tensor [rows][cols] holding float32 x. */
static void fp8q__trace_matrix(fp8q_trace *t, int step, int layer, const char *name, const float *x, int rows, int cols)
{
    fp8q__trace_tensor *e;
    if (fp8q__trace_find(t, step, layer, name)) return; /* observed twice: the first one stays */
    if ((e = fp8q__trace_add(t, step, layer, name, FP8Q_F32, 2, (size_t)rows, (size_t)cols, 0)) != NULL)
        fp8q__trace_put_f32(e->data, x, (size_t)rows * (size_t)cols);
}

/* M.input.0.fp8 (of dtype) and M.input.0.scale (name = "<prefix>M"). */
static void fp8q__trace_codes(fp8q_trace *t, int step, int layer, const char *name, const fp8q_observation *o,
                              fp8q_dtype dtype)
{
    char nm[FP8Q__TRACE_NAME_MAX];
    fp8q__trace_tensor *e;
    (void)snprintf(nm, sizeof nm, "%s.input.0.fp8", name);
    if (fp8q__trace_find(t, step, layer, nm)) return;        /* observed twice: the first one stays */
    (void)snprintf(nm, sizeof nm, "%s.input.0.scale", name); /* the scales first: the codes are made with them */
    fp8q__trace_add_f32(t, step, layer, nm, o->scales, (size_t)o->n_scales);
    (void)snprintf(nm, sizeof nm, "%s.input.0.fp8", name);
    if (!(e = fp8q__trace_add(t, step, layer, nm, dtype, 2, (size_t)o->rows, (size_t)o->cols, 0))) return;
    memcpy(e->data, o->fp8, (size_t)o->rows * (size_t)o->cols);
}

/* 1 if a later shard's codes and scales equal those recorded for shard 0. */
static int fp8q__trace_same_codes(fp8q_trace *t, int step, int layer, const char *name, const fp8q_observation *o)
{
    char nm[FP8Q__TRACE_NAME_MAX];
    const fp8q__trace_tensor *c, *s;
    (void)snprintf(nm, sizeof nm, "%s.input.0.fp8", name);
    c = fp8q__trace_find(t, step, layer, nm);
    (void)snprintf(nm, sizeof nm, "%s.input.0.scale", name);
    s = fp8q__trace_find(t, step, layer, nm);
    return c && s && c->bytes == (size_t)o->rows * (size_t)o->cols && memcmp(c->data, o->fp8, c->bytes) == 0 &&
           s->bytes == 4 * (size_t)o->n_scales && fp8q__trace_same_f32(s->data, o->scales, (size_t)o->n_scales);
}

/* A linear module's input or output (fused shards into one module). */
static void fp8q__trace_linear_obs(fp8q_trace *t, const fp8q_observation *o, int step, const char *pm)
{
    const fp8q_model *m = t->model;
    char name[FP8Q__TRACE_NAME_MAX];
    int first, count = fp8q__trace_group(o->mod, &first), shard = (int)o->mod - first, i, at = 0, total = 0;
    fp8q__trace_tensor *e;
    if (o->index != 0) return;
    if (o->io == FP8Q_IO_INPUT) {
        if (shard == 0) {
            (void)snprintf(name, sizeof name, "%s.input.0", pm);
            fp8q__trace_matrix(t, step, o->layer, name, o->x, o->rows, o->cols);
            if (o->fp8 && o->scales) fp8q__trace_codes(t, step, o->layer, pm, o, FP8Q_F8_E4M3);
        } else if (o->fp8 && o->scales && !fp8q__trace_same_codes(t, step, o->layer, pm, o)) {
            (void)snprintf(name, sizeof name, "%s.%s", pm, fp8q_module_name(o->mod));
            fp8q__trace_codes(t, step, o->layer, name, o, FP8Q_F8_E4M3);
        }
        return;
    }
    for (i = 0; i < count; i++) {
        const int out = fp8q__trace_linear(m, o->layer, first + i)->out;
        at += i < shard ? out : 0, total += out;
    }
    (void)snprintf(name, sizeof name, "%s.output.0", pm);
    if (!(e = fp8q__trace_find(t, step, o->layer, name)) &&
        !(e = fp8q__trace_add(t, step, o->layer, name, FP8Q_F32, 2, (size_t)o->rows, (size_t)total, 0)))
        return;
    if (e->shape[0] != (uint64_t)o->rows || e->shape[1] != (uint64_t)total || at + o->cols > total) {
        fp8q__trace_fail(t, FP8Q_ERR_ARG, "trace: '%.200s': shard %s has %d x %d values, the module %d x %d", name,
                         fp8q_module_name(o->mod), o->rows, o->cols, (int)e->shape[0], (int)e->shape[1]);
        return;
    }
    for (i = 0; i < o->rows; i++)
        fp8q__trace_put_f32(e->data + 4 * ((size_t)i * (size_t)total + (size_t)at), o->x + (size_t)i * (size_t)o->cols,
                            (size_t)o->cols);
}

/* An attention internal of one head into its [heads][rows][cols] tensor. */
static void fp8q__trace_head_obs(fp8q_trace *t, const fp8q_observation *o, int step, const char *pm)
{
    const int heads = t->model->config.num_attention_heads;
    char name[FP8Q__TRACE_NAME_MAX];
    fp8q__trace_tensor *e;
    (void)snprintf(name, sizeof name, "%s.%s.%d", pm, o->io == FP8Q_IO_INPUT ? "input" : "output", o->index);
    if (!(e = fp8q__trace_find(t, step, o->layer, name)) &&
        !(e = fp8q__trace_add(t, step, o->layer, name, FP8Q_F32, 3, (size_t)heads, (size_t)o->rows, (size_t)o->cols)))
        return;
    if (o->head < 0 || o->head >= heads || e->shape[1] != (uint64_t)o->rows || e->shape[2] != (uint64_t)o->cols) {
        fp8q__trace_fail(t, FP8Q_ERR_ARG, "trace: '%.200s': head %d of %d x %d does not fit [%d][%d][%d]", name,
                         o->head, o->rows, o->cols, heads, (int)e->shape[1], (int)e->shape[2]);
        return;
    }
    fp8q__trace_put_f32(e->data + 4 * (size_t)o->head * (size_t)o->rows * (size_t)o->cols, o->x,
                        (size_t)o->rows * (size_t)o->cols);
}

FP8QDEF void fp8q_trace_observe(void *ctx, const fp8q_observation *o)
{
    fp8q_trace *t = (fp8q_trace *)ctx;
    char prefix[24], module[FP8Q__TRACE_MODULE_MAX], pm[FP8Q__TRACE_MODULE_MAX + 24];
    int first, count, step;
    if (!t || !o || !t->fp8q__owned || t->status != FP8Q_OK) return;
    if (o->layer < -1 || o->layer >= t->model->config.num_hidden_layers || (int)o->mod < 0 ||
        (int)o->mod >= FP8Q_MOD_COUNT || (o->layer < 0) != (o->mod == FP8Q_MOD_LM_HEAD) || o->rows < 0 || o->cols < 0 ||
        o->index < 0 || !o->x) {
        fp8q__trace_fail(t, FP8Q_ERR_ARG, "trace: an observation of layer %d, module %d is not a model's", o->layer,
                         (int)o->mod);
        return;
    }
    if (o->layer == 0 && o->mod == FP8Q_MOD_Q && o->io == FP8Q_IO_INPUT) t->steps++;
    step = t->steps > 0 ? t->steps - 1 : 0;
    count = fp8q__trace_group(o->mod, &first);
    (void)fp8q_inc_module_name(o->layer, o->mod, module, sizeof module);
    fp8q__trace_prefix(prefix, sizeof prefix, step);
    (void)snprintf(pm, sizeof pm, "%s%s", prefix, module);
    fp8q__trace_params(t, o->layer, o->mod, first, count, module);
    if (o->mod <= FP8Q_MOD_LM_HEAD)
        fp8q__trace_linear_obs(t, o, step, pm);
    else if (o->mod == FP8Q_MOD_K_CACHE || o->mod == FP8Q_MOD_V_CACHE) {
        char name[FP8Q__TRACE_NAME_MAX];
        (void)snprintf(name, sizeof name, "%s.input.%d", pm, o->index);
        fp8q__trace_matrix(t, step, o->layer, name, o->x, o->rows, o->cols);
        if (o->fp8 && o->scales && o->index == 0)
            fp8q__trace_codes(t, step, o->layer, pm, o,
                              t->model->opt.kv_cache == FP8Q_KV_E5M2 ? FP8Q_F8_E5M2 : FP8Q_F8_E4M3);
    } else
        fp8q__trace_head_obs(t, o, step, pm);
}

FP8QDEF fp8q_result fp8q_trace_init(fp8q_trace *t, const fp8q_model *m, const fp8q_trace_options *opt, fp8q_error *err)
{
    fp8q__trace_own *o;
    fp8q__st_err_ok(err);
    if (t) memset(t, 0, sizeof *t);
    if (!t || !m || !m->layers) return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_trace_init: t or m is NULL (or no model)");
    t->model = m;
    if (opt) t->opt = *opt;
    o = (fp8q__trace_own *)calloc(1, sizeof *o);
    if (o)
        o->params_done =
            (unsigned char *)calloc(((size_t)m->config.num_hidden_layers + 1) * FP8Q_MOD_COUNT, sizeof(unsigned char));
    if (!o || !o->params_done) {
        free(o);
        return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory for a trace");
    }
    t->fp8q__owned = o;
    return FP8Q_OK;
}

FP8QDEF void fp8q_trace_free(fp8q_trace *t)
{
    fp8q__trace_own *o;
    size_t i;
    if (!t) return;
    if ((o = (fp8q__trace_own *)t->fp8q__owned) != NULL) {
        for (i = 0; i < o->n; i++) free(o->t[i].name), free(o->t[i].data);
        free(o->t), free(o->params_done), free(o);
    }
    memset(t, 0, sizeof *t);
}

static const char *fp8q__trace_kv_name(const fp8q_model *m)
{
    if (m->kv_qmax > 0) return "fp8_inc";
    return m->opt.kv_cache == FP8Q_KV_E4M3 ? "e4m3" : m->opt.kv_cache == FP8Q_KV_E5M2 ? "e5m2" : "auto";
}

FP8QDEF fp8q_result fp8q_trace_write(const fp8q_trace *t, const char *path, const char *const *meta_keys,
                                     const char *const *meta_values, size_t n_meta, fp8q_error *err)
{
    enum { STD = 13 };
    static const char *const gemm_names[3] = {"reference", "exact", "fast"};
    const fp8q__trace_own *o;
    const fp8q_model *m;
    fp8q_tensor_out *out = NULL;
    const char **keys = NULL, **values = NULL;
    char threads[16], layers[16], heads[16], steps[16];
    fp8q_result r;
    size_t i;
    fp8q__st_err_ok(err);
    if (!t || !t->fp8q__owned || !path || (n_meta && (!meta_keys || !meta_values)))
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_trace_write: NULL argument");
    if (t->status != FP8Q_OK) {
        if (err) *err = t->error;
        return t->status;
    }
    o = (const fp8q__trace_own *)t->fp8q__owned, m = t->model;
    if (n_meta > (size_t)-1 / sizeof(char *) - STD) return fp8q__failf(err, FP8Q_ERR_ARG, "too many metadata keys");
    out = (fp8q_tensor_out *)malloc((o->n ? o->n : 1) * sizeof *out);
    keys = (const char **)malloc((STD + n_meta) * sizeof *keys);
    values = (const char **)malloc((STD + n_meta) * sizeof *values);
    if (!out || !keys || !values) {
        free(out), free((void *)keys), free((void *)values);
        return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory writing a trace");
    }
    for (i = 0; i < o->n; i++) {
        out[i].name = o->t[i].name, out[i].dtype = o->t[i].dtype, out[i].ndim = o->t[i].ndim;
        out[i].shape = o->t[i].shape, out[i].data = o->t[i].data;
    }
    (void)snprintf(threads, sizeof threads, "%d", m->opt.threads);
    (void)snprintf(layers, sizeof layers, "%d", m->config.num_hidden_layers);
    (void)snprintf(heads, sizeof heads, "%d", m->config.num_attention_heads);
    (void)snprintf(steps, sizeof steps, "%d", t->steps);
    keys[0] = "format", values[0] = "fp8q-trace-1";
    keys[1] = "fp8q_version", values[1] = fp8q_version();
    keys[2] = "simd", values[2] = fp8q_simd_name();
    keys[3] = "quant", values[3] = fp8q_quant_name(m->opt.quant) ? fp8q_quant_name(m->opt.quant) : "?";
    keys[4] = "scheme", values[4] = m->scheme;
    keys[5] = "kv_cache", values[5] = fp8q__trace_kv_name(m);
    keys[6] = "engine", values[6] = m->opt.engine == FP8Q_ENGINE_COMPRESSED_TENSORS ? "compressed-tensors" : "vllm";
    keys[7] = "gemm", values[7] = (unsigned)m->opt.gemm < 3 ? gemm_names[m->opt.gemm] : "?";
    keys[8] = "threads", values[8] = threads;
    keys[9] = "layers", values[9] = layers;
    keys[10] = "heads", values[10] = heads;
    keys[11] = "steps", values[11] = steps;
    keys[12] = "weights", values[12] = t->opt.weights ? "codes" : "scales";
    for (i = 0; i < n_meta; i++) keys[STD + i] = meta_keys[i], values[STD + i] = meta_values[i];
    r = fp8q_safetensors_write(path, out, o->n, keys, values, STD + n_meta, err);
    free(out), free((void *)keys), free((void *)values);
    return r;
}

/* ------------------------------------------------------------ trace names */

/* Module paths inside a layer, in forward order (vLLM's and Hugging Face's). */
static const struct {
    const char *path;
    int rank;
} fp8q__trace_ranks[] = {{"input_layernorm", 0},
                         {"self_attn.qkv_proj", 1},
                         {"self_attn.q_proj", 1},
                         {"self_attn.k_proj", 2},
                         {"self_attn.v_proj", 3},
                         {"self_attn.attn.impl.k_cache", 4},
                         {"self_attn.attn.impl.v_cache", 5},
                         {"self_attn.attn.impl.matmul_qk", 6},
                         {"self_attn.attn.impl.softmax", 7},
                         {"self_attn.attn.impl.matmul_av", 8},
                         {"self_attn.o_proj", 9},
                         {"self_attn", 10},
                         {"post_attention_layernorm", 11},
                         {"mlp.gate_up_proj", 12},
                         {"mlp.gate_proj", 12},
                         {"mlp.up_proj", 13},
                         {"mlp.act_fn", 14},
                         {"mlp.down_proj", 15},
                         {"mlp", 16},
                         {"", 17}};
#define FP8Q__TRACE_RANK_UNKNOWN 18

/* Digits at s (at most 9, so the value fits an int): their count, 0 if none. */
static size_t fp8q__trace_digits(const char *s, int *value)
{
    size_t n = 0;
    int v = 0;
    while (s[n] >= '0' && s[n] <= '9' && n < 9) v = v * 10 + (s[n] - '0'), n++;
    if (s[n] >= '0' && s[n] <= '9') return 0; /* ten or more digits: not a step or layer number */
    *value = v;
    return n;
}

/* 1 if s is exactly a tensor suffix: .weight[.fp8|.scale], .input_scale,
   .output_scale, .input.I / .output.I [.fp8|.scale]. */
static int fp8q__trace_is_suffix(const char *s)
{
    int v;
    size_t n;
    const char *rest = NULL;
    if (strcmp(s, ".weight") == 0 || strcmp(s, ".weight.fp8") == 0 || strcmp(s, ".weight.scale") == 0 ||
        strcmp(s, ".input_scale") == 0 || strcmp(s, ".output_scale") == 0)
        return 1;
    if (strncmp(s, ".input.", 7) == 0) rest = s + 7;
    if (strncmp(s, ".output.", 8) == 0) rest = s + 8;
    if (!rest || !(n = fp8q__trace_digits(rest, &v))) return 0;
    rest += n;
    return !*rest || strcmp(rest, ".fp8") == 0 || strcmp(rest, ".scale") == 0;
}

/* The rank of a module path inside a layer: an exact entry, else the
   longest entry it is a sub-module of. */
static int fp8q__trace_rank(const char *path)
{
    size_t i, best_len = 0;
    int best = FP8Q__TRACE_RANK_UNKNOWN;
    for (i = 0; i < sizeof fp8q__trace_ranks / sizeof fp8q__trace_ranks[0]; i++) {
        const char *e = fp8q__trace_ranks[i].path;
        const size_t n = strlen(e);
        if (strcmp(path, e) == 0) return fp8q__trace_ranks[i].rank;
        if (n && n > best_len && strncmp(path, e, n) == 0 && path[n] == '.')
            best = fp8q__trace_ranks[i].rank, best_len = n;
    }
    return best;
}

FP8QDEF size_t fp8q_trace_module(const char *name, char *buf, size_t cap, int *step, int *layer, int *rank)
{
    const char *s = name, *end;
    size_t n, len;
    int st = 0, ly, rk = 0;
    if (!name) name = s = "";
    if (strncmp(s, "step", 4) == 0 && (n = fp8q__trace_digits(s + 4, &st)) != 0 && s[4 + n] == '.')
        s += 5 + n;
    else
        st = 0;
    for (end = s; *end && !(*end == '.' && fp8q__trace_is_suffix(end)); end++) continue;
    len = (size_t)(end - s);
    if (buf && cap) {
        const size_t k = len < cap - 1 ? len : cap - 1;
        memcpy(buf, s, k), buf[k] = 0;
    }
    ly = FP8Q_TRACE_LAYER_END + 2;
    if (len >= 13 && strncmp(s, "model.layers.", 13) == 0 && (n = fp8q__trace_digits(s + 13, &ly)) != 0 &&
        (13 + n == len || s[13 + n] == '.')) {
        char path[FP8Q__TRACE_NAME_MAX];
        const size_t at = 13 + n + (13 + n < len), plen = len - at < sizeof path - 1 ? len - at : sizeof path - 1;
        memcpy(path, s + at, plen), path[plen] = 0;
        rk = fp8q__trace_rank(path);
    } else if ((len == 18 || (len > 18 && s[18] == '.')) && strncmp(s, "model.embed_tokens", 18) == 0)
        ly = -1;
    else if ((len == 10 || (len > 10 && s[10] == '.')) && strncmp(s, "model.norm", 10) == 0)
        ly = FP8Q_TRACE_LAYER_END;
    else if ((len == 7 || (len > 7 && s[7] == '.')) && strncmp(s, "lm_head", 7) == 0)
        ly = FP8Q_TRACE_LAYER_END + 1;
    else
        ly = FP8Q_TRACE_LAYER_END + 2;
    if (step) *step = st;
    if (layer) *layer = ly;
    if (rank) *rank = rk;
    return len;
}

/* ------------------------------------------------------------------ diff */

#define FP8Q__DIFF_CHUNK 65536 /* elements decoded at a time */

typedef struct fp8q__diff_sort {
    fp8q_diff_entry e;
    size_t order;
} fp8q__diff_sort;

static int fp8q__diff_cmp(const void *pa, const void *pb)
{
    const fp8q__diff_sort *a = (const fp8q__diff_sort *)pa, *b = (const fp8q__diff_sort *)pb;
    if (a->e.step != b->e.step) return a->e.step < b->e.step ? -1 : 1;
    if (a->e.layer != b->e.layer) return a->e.layer < b->e.layer ? -1 : 1;
    if (a->e.rank != b->e.rank) return a->e.rank < b->e.rank ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

static int fp8q__diff_is_fp8(fp8q_dtype d)
{
    return d == FP8Q_F8_E4M3 || d == FP8Q_F8_E5M2 || d == FP8Q_F8_E4M3FNUZ || d == FP8Q_F8_E5M2FNUZ ||
           d == FP8Q_F8_E8M0;
}

static int fp8q__diff_is_float(fp8q_dtype d)
{
    return d == FP8Q_F32 || d == FP8Q_BF16 || d == FP8Q_F16 || d == FP8Q_F64;
}

static int fp8q__diff_ends(const char *s, const char *suffix)
{
    const size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static fp8q_diff_class fp8q__diff_kind(const char *name, fp8q_dtype d)
{
    if (fp8q__diff_ends(name, ".weight") || fp8q__diff_ends(name, ".weight.fp8") ||
        fp8q__diff_ends(name, ".weight.scale") || fp8q__diff_ends(name, ".input_scale") ||
        fp8q__diff_ends(name, ".output_scale"))
        return FP8Q_DIFF_PARAMETER;
    if (fp8q__diff_is_fp8(d)) return FP8Q_DIFF_CODES;
    if (fp8q__diff_is_float(d)) return FP8Q_DIFF_FLOAT;
    return FP8Q_DIFF_INTEGER;
}

/* Elements [at, at + n) of t as its own 1-D tensor (byte-sized dtypes). */
static fp8q_tensor_info fp8q__diff_slice(const fp8q_tensor_info *t, size_t ebytes, uint64_t at, size_t n)
{
    fp8q_tensor_info s = *t;
    memset(s.shape, 0, sizeof s.shape);
    s.ndim = 1, s.shape[0] = (uint64_t)n, s.numel = (uint64_t)n;
    s.offset = t->offset + at * ebytes, s.size = (uint64_t)n * ebytes;
    return s;
}

/* Place of an 8-bit float code in its format's value order (sign-magnitude;
   E8M0 is unsigned). */
static int fp8q__diff_code_order(uint8_t c, fp8q_dtype d)
{
    if (d == FP8Q_F8_E8M0) return c;
    return (c & 0x80) ? -(int)(c & 0x7F) : (int)(c & 0x7F);
}

/* Folds a chunk's comparison into the tensor's. */
static void fp8q__diff_fold(fp8q_compare *all, const fp8q_compare *c, uint64_t at)
{
    if (c->max_abs_err > all->max_abs_err) all->max_abs_err = c->max_abs_err;
    if (c->max_rel_err > all->max_rel_err) all->max_rel_err = c->max_rel_err;
    if (c->max_ulp > all->max_ulp) all->max_ulp = c->max_ulp;
    if (c->outside && !all->outside) all->first_outside = (size_t)(at + c->first_outside);
    all->outside += c->outside, all->count += c->count;
}

/* max |x| over the finite values of a float or FP8 tensor. */
static fp8q_result fp8q__diff_amax(const fp8q_safetensors *st, const fp8q_tensor_info *t, size_t eb, float *buf,
                                   double *amax, fp8q_error *err)
{
    uint64_t at;
    size_t i, n;
    fp8q_result r;
    *amax = 0;
    for (at = 0; at < t->numel; at += n) {
        fp8q_tensor_info s;
        n = t->numel - at < FP8Q__DIFF_CHUNK ? (size_t)(t->numel - at) : FP8Q__DIFF_CHUNK;
        s = fp8q__diff_slice(t, eb, at, n);
        if ((r = fp8q_safetensors_read_f32(st, &s, buf, err)) != FP8Q_OK) return r;
        for (i = 0; i < n; i++) {
            const double v = buf[i] < 0 ? -(double)buf[i] : (double)buf[i];
            if (v - v == 0 && v > *amax) *amax = v;
        }
    }
    return FP8Q_OK;
}

/* What made a codes tensor P.input.I.fp8: its float input P.input.I and
   scales P.input.I.scale ([1] or one per row), in both files. Where both
   runs had the same input bits and scale, their codes must be equal. */
typedef struct fp8q__diff_source {
    const uint8_t *xa, *xb; /* F32 inputs, little-endian, as many as the codes */
    const uint8_t *sa, *sb; /* F32 scales */
    uint64_t n_scales, cols;
} fp8q__diff_source;

/* 1 and *src filled when the sources of codes tensor e are in both files and fit. */
static int fp8q__diff_find_source(const fp8q_safetensors *a, const fp8q_safetensors *b, const fp8q_diff_entry *e,
                                  fp8q__diff_source *src)
{
    const size_t len = strlen(e->name);
    const fp8q_tensor_info *xa, *xb, *ta, *tb;
    const uint64_t cols = e->a->ndim ? e->a->shape[e->a->ndim - 1] : 1;
    char *nm;
    if (len < 4 || strcmp(e->name + len - 4, ".fp8") != 0 || !cols || !(nm = (char *)malloc(len + 3))) return 0;
    memcpy(nm, e->name, len - 4), nm[len - 4] = 0;
    xa = fp8q_safetensors_find(a, nm), xb = fp8q_safetensors_find(b, nm);
    memcpy(nm + len - 4, ".scale", 7);
    ta = fp8q_safetensors_find(a, nm), tb = fp8q_safetensors_find(b, nm);
    free(nm);
    if (!xa || !xb || !ta || !tb || xa->dtype != FP8Q_F32 || xb->dtype != FP8Q_F32 || ta->dtype != FP8Q_F32 ||
        tb->dtype != FP8Q_F32 || xa->numel != e->a->numel || xb->numel != e->a->numel || ta->numel != tb->numel ||
        !(ta->numel == 1 || ta->numel * cols == e->a->numel))
        return 0;
    src->xa = fp8q_safetensors_bytes(a, xa), src->xb = fp8q_safetensors_bytes(b, xb);
    src->sa = fp8q_safetensors_bytes(a, ta), src->sb = fp8q_safetensors_bytes(b, tb);
    src->n_scales = ta->numel, src->cols = cols;
    return src->xa && src->xb && src->sa && src->sb;
}

/* The code budget of element g: 0 where both runs quantized the same input
   with the same scale, else the entry's. */
static int fp8q__diff_budget(const fp8q__diff_source *src, const fp8q_diff_entry *e, uint64_t g)
{
    uint64_t row;
    if (!src->xa) return e->codes;
    row = src->n_scales == 1 ? 0 : g / src->cols;
    return memcmp(src->xa + 4 * g, src->xb + 4 * g, 4) == 0 && memcmp(src->sa + 4 * row, src->sb + 4 * row, 4) == 0
               ? 0
               : e->codes;
}

/* Float and FP8 tensors: decoded chunk by chunk; FP8 ULPs are code distances. */
static fp8q_result fp8q__diff_values(const fp8q_safetensors *sa, const fp8q_safetensors *sb, fp8q_diff_entry *e,
                                     float *fa, float *fb, fp8q_error *err)
{
    fp8q__diff_source src;
    const fp8q_tensor_info *ta = e->a, *tb = e->b;
    const int fp8 = fp8q__diff_is_fp8(ta->dtype);
    const size_t eb = (size_t)fp8q_dtype_get(ta->dtype)->bits / 8;
    const fp8q_dtype ulp_type = ta->dtype == FP8Q_BF16 || ta->dtype == FP8Q_F16 ? ta->dtype : FP8Q_F32;
    const uint8_t *ba = fp8q_safetensors_bytes(sa, ta), *bb = fp8q_safetensors_bytes(sb, tb);
    uint64_t at;
    size_t i, n;
    fp8q_result r;
    memset(&src, 0, sizeof src);
    if (fp8 && !fp8q__diff_find_source(sa, sb, e, &src)) memset(&src, 0, sizeof src);
    for (at = 0; at < ta->numel; at += n) {
        fp8q_tensor_info s;
        fp8q_compare c;
        n = ta->numel - at < FP8Q__DIFF_CHUNK ? (size_t)(ta->numel - at) : FP8Q__DIFF_CHUNK;
        s = fp8q__diff_slice(ta, eb, at, n);
        if ((r = fp8q_safetensors_read_f32(sa, &s, fa, err)) != FP8Q_OK) return r;
        s = fp8q__diff_slice(tb, eb, at, n);
        if ((r = fp8q_safetensors_read_f32(sb, &s, fb, err)) != FP8Q_OK) return r;
        c = fp8q_compare_f32(fb, fa, n, ulp_type, e->atol, e->rtol);
        if (fp8) { /* ULP and the budget in codes; NaN = NaN, Inf only against itself */
            c.max_ulp = 0, c.outside = 0, c.first_outside = n;
            for (i = 0; i < n; i++) {
                const float x = fa[i], y = fb[i];
                const int d = fp8q__diff_code_order(ba[at + i], ta->dtype) -
                              fp8q__diff_code_order(bb[at + i], ta->dtype),
                          dist = d < 0 ? -d : d;
                int bad;
                if (x != x || y != y || x - x != 0 || y - y != 0)
                    bad = !((x != x && y != y) || x == y);
                else {
                    const int budget = dist ? fp8q__diff_budget(&src, e, at + i) : 0;
                    bad = dist > budget;
                    e->local_outside += (size_t)(dist && !budget && src.xa);
                    if (dist > c.max_ulp) c.max_ulp = dist;
                }
                if (bad && c.outside++ == 0) c.first_outside = i;
            }
        }
        fp8q__diff_fold(&e->cmp, &c, at);
    }
    return FP8Q_OK;
}

/* Little-endian integer element i of width eb as a double (signed or not). */
static double fp8q__diff_int(const uint8_t *p, size_t eb, int is_signed)
{
    uint64_t u = 0;
    size_t k;
    for (k = eb; k-- > 0;) u = u << 8 | p[k];
    if (is_signed && eb < 8 && (u >> (8 * eb - 1)) & 1) u |= ~(uint64_t)0 << (8 * eb);
    return is_signed && (u >> 63) ? -(double)(~u + 1) : (double)u;
}

/* Integer, BOOL and packed sub-byte tensors: equal bytes per element. */
static void fp8q__diff_bytes(const fp8q_safetensors *sa, const fp8q_safetensors *sb, fp8q_diff_entry *e)
{
    const fp8q_dtype d = e->a->dtype;
    const int bits = fp8q_dtype_get(d)->bits,
              is_signed = d == FP8Q_I8 || d == FP8Q_I16 || d == FP8Q_I32 || d == FP8Q_I64;
    const size_t eb = bits % 8 ? 1 : (size_t)bits / 8, n = (size_t)(e->a->size / eb);
    const uint8_t *a = fp8q_safetensors_bytes(sa, e->a), *b = fp8q_safetensors_bytes(sb, e->b);
    size_t i;
    e->cmp.count = n, e->cmp.first_outside = n;
    for (i = 0; i < n && a && b; i++) {
        if (memcmp(a + i * eb, b + i * eb, eb) == 0) continue;
        if (e->cmp.outside++ == 0) e->cmp.first_outside = i;
        if (bits % 8 == 0 && d != FP8Q_BOOL) {
            const double x = fp8q__diff_int(a + i * eb, eb, is_signed), y = fp8q__diff_int(b + i * eb, eb, is_signed);
            const double dd = x > y ? x - y : y - x;
            if (dd > e->cmp.max_abs_err) e->cmp.max_abs_err = e->cmp.max_ulp = dd;
        }
    }
}

static int fp8q__diff_same_shape(const fp8q_tensor_info *a, const fp8q_tensor_info *b)
{
    int k;
    if (a->ndim != b->ndim) return 0;
    for (k = 0; k < a->ndim; k++)
        if (a->shape[k] != b->shape[k]) return 0;
    return 1;
}

/* Compares one entry present in both files. */
static fp8q_result fp8q__diff_entry(const fp8q_safetensors *sa, const fp8q_safetensors *sb, fp8q_diff_entry *e,
                                    const fp8q_diff_options *opt, float *fa, float *fb, fp8q_error *err)
{
    const int exact = opt->mode == FP8Q_DIFF_EXACT;
    fp8q_result r;
    double amax;
    memset(&e->cmp, 0, sizeof e->cmp);
    if (e->a->dtype != e->b->dtype) return e->status = FP8Q_DIFF_DTYPE, FP8Q_OK;
    if (!fp8q__diff_same_shape(e->a, e->b)) return e->status = FP8Q_DIFF_SHAPE, FP8Q_OK;
    e->codes = exact || e->kind == FP8Q_DIFF_PARAMETER ? 0 : opt->set_fp8_codes ? opt->fp8_codes : 1;
    e->atol = 0, e->rtol = 0;
    if (e->kind == FP8Q_DIFF_FLOAT && !exact) {
        e->rtol = opt->set_rtol ? opt->rtol : 0;
        if (opt->set_atol)
            e->atol = opt->atol;
        else if (!opt->set_rtol) {
            if ((r = fp8q__diff_amax(sa, e->a, (size_t)fp8q_dtype_get(e->a->dtype)->bits / 8, fa, &amax, err)) !=
                FP8Q_OK)
                return r;
            e->atol = FP8Q_DIFF_NORM_TOL * amax;
        }
    }
    if (fp8q__diff_is_float(e->a->dtype) || fp8q__diff_is_fp8(e->a->dtype)) {
        if ((r = fp8q__diff_values(sa, sb, e, fa, fb, err)) != FP8Q_OK) return r;
        if (!e->cmp.outside) e->cmp.first_outside = e->cmp.count;
    } else
        fp8q__diff_bytes(sa, sb, e);
    e->status = e->cmp.outside ? FP8Q_DIFF_OUTSIDE : FP8Q_DIFF_OK;
    return FP8Q_OK;
}

/* Fills the entries in file order (A's names, then B's own), with their keys. */
static fp8q_result fp8q__diff_collect(fp8q__diff_sort *s, size_t *n, const fp8q_safetensors *a,
                                      const fp8q_safetensors *b, fp8q_error *err)
{
    size_t i, k = 0;
    for (i = 0; i < a->n_tensors + b->n_tensors; i++) {
        const fp8q_tensor_info *ta = i < a->n_tensors ? &a->tensors[i] : NULL;
        const fp8q_tensor_info *tb = ta ? fp8q_safetensors_find(b, ta->name) : &b->tensors[i - a->n_tensors];
        fp8q_diff_entry *e = &s[k].e;
        size_t len;
        char *module;
        if (!ta && fp8q_safetensors_find(a, tb->name)) continue; /* already paired */
        memset(e, 0, sizeof *e);
        e->a = ta, e->b = tb, e->name = ta ? ta->name : tb->name;
        len = fp8q_trace_module(e->name, NULL, 0, &e->step, &e->layer, &e->rank);
        if (!(module = (char *)malloc(len + 1))) return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory in a diff");
        (void)fp8q_trace_module(e->name, module, len + 1, NULL, NULL, NULL);
        e->module = module, e->kind = fp8q__diff_kind(e->name, (ta ? ta : tb)->dtype);
        s[k].order = k, k++, *n = k;
    }
    return FP8Q_OK;
}

/* The flip rule (FP8Q_DIFF_AUTO with an FP8-code budget): activations
   outside the tolerance after the first FP8 codes that differ are
   FP8Q_DIFF_AFTER_FLIP, not differences; then what counts. */
static void fp8q__diff_flips(fp8q_diff *d)
{
    const int rule = d->opt.mode == FP8Q_DIFF_AUTO && !(d->opt.set_fp8_codes && d->opt.fp8_codes == 0);
    size_t i;
    d->flip = d->n_entries;
    for (i = 0; i < d->n_entries; i++) {
        fp8q_diff_entry *e = &d->entries[i];
        if (rule && d->flip < i && e->status == FP8Q_DIFF_OUTSIDE && e->kind != FP8Q_DIFF_PARAMETER &&
            !e->local_outside)
            e->status = FP8Q_DIFF_AFTER_FLIP, d->n_outside--, d->n_after_flip++;
        if (d->flip == d->n_entries && e->kind == FP8Q_DIFF_CODES && e->a && e->b && e->cmp.max_ulp > 0) d->flip = i;
        e->differs =
            e->status != FP8Q_DIFF_OK && e->status != FP8Q_DIFF_AFTER_FLIP && !(d->opt.common_only && !(e->a && e->b));
        d->n_differ += (size_t)e->differs;
    }
}

FP8QDEF fp8q_result fp8q_diff_files(fp8q_diff *d, const fp8q_safetensors *a, const fp8q_safetensors *b,
                                    const fp8q_diff_options *opt, fp8q_error *err)
{
    fp8q_diff_options def;
    fp8q__diff_sort *s = NULL;
    float *fa = NULL, *fb = NULL;
    size_t i, n = 0, total;
    fp8q_result r = FP8Q_OK;
    fp8q__st_err_ok(err);
    if (d) memset(d, 0, sizeof *d);
    if (!opt) memset(&def, 0, sizeof def), opt = &def;
    if (!d || !a || !b) return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_diff_files: d, a or b is NULL");
    d->a = a, d->b = b, d->opt = *opt;
    if ((opt->set_atol && !(opt->atol >= 0)) || (opt->set_rtol && !(opt->rtol >= 0)) ||
        (opt->set_fp8_codes && opt->fp8_codes < 0) || (unsigned)opt->mode > FP8Q_DIFF_EXACT)
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_diff_files: atol, rtol and fp8_codes must be >= 0");
    total = a->n_tensors + b->n_tensors;
    s = (fp8q__diff_sort *)calloc(total ? total : 1, sizeof *s);
    fa = (float *)malloc(FP8Q__DIFF_CHUNK * sizeof *fa);
    fb = (float *)malloc(FP8Q__DIFF_CHUNK * sizeof *fb);
    if (!s || !fa || !fb) r = fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory in a diff");
    if (r == FP8Q_OK) r = fp8q__diff_collect(s, &n, a, b, err);
    if (r == FP8Q_OK) qsort(s, n, sizeof *s, fp8q__diff_cmp);
    if (r == FP8Q_OK && !(d->entries = (fp8q_diff_entry *)malloc((n ? n : 1) * sizeof *d->entries)))
        r = fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory in a diff");
    for (i = 0; r == FP8Q_OK && i < n; i++) {
        fp8q_diff_entry *e = &d->entries[i];
        *e = s[i].e, s[i].e.module = NULL, d->n_entries = i + 1;
        if (e->a && e->b) {
            d->n_compared++;
            if ((r = fp8q__diff_entry(a, b, e, opt, fa, fb, err)) != FP8Q_OK) break;
        } else
            e->status = e->a ? FP8Q_DIFF_ONLY_A : FP8Q_DIFF_ONLY_B;
        d->n_outside += e->status == FP8Q_DIFF_OUTSIDE;
        d->n_mismatch += e->status == FP8Q_DIFF_SHAPE || e->status == FP8Q_DIFF_DTYPE;
        d->n_only_a += e->status == FP8Q_DIFF_ONLY_A, d->n_only_b += e->status == FP8Q_DIFF_ONLY_B;
    }
    for (i = 0; s && i < n; i++) free((void *)s[i].e.module);
    free(s), free(fa), free(fb);
    if (r != FP8Q_OK) {
        fp8q_diff_free(d);
        return r;
    }
    fp8q__diff_flips(d);
    for (d->first = 0; d->first < d->n_entries && !d->entries[d->first].differs; d->first++) continue;
    return FP8Q_OK;
}

FP8QDEF void fp8q_diff_free(fp8q_diff *d)
{
    size_t i;
    if (!d) return;
    for (i = 0; d->entries && i < d->n_entries; i++) free((void *)d->entries[i].module);
    free(d->entries);
    memset(d, 0, sizeof *d);
}

FP8QDEF const char *fp8q_diff_status_name(fp8q_diff_status s)
{
    static const char *const names[] = {"ok", "outside", "shape", "dtype", "only_a", "only_b", "after_flip"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : NULL;
}

FP8QDEF const char *fp8q_diff_class_name(fp8q_diff_class c)
{
    static const char *const names[] = {"parameter", "fp8_codes", "float", "integer"};
    return (unsigned)c < sizeof names / sizeof names[0] ? names[c] : NULL;
}

/* ---- the diff as JSON */

/* s as a JSON string; bytes that do not form UTF-8 become '?'. */
static void fp8q__diff_json_str(fp8q__im_out *o, const char *s)
{
    fp8q__im_out tmp;
    memset(&tmp, 0, sizeof tmp);
    if (fp8q__im_str(&tmp, s ? s : "") == 0 && !tmp.oom) {
        fp8q__im_putn(o, tmp.p, tmp.n);
    } else {
        size_t i;
        fp8q__im_putn(o, "\"", 1);
        for (i = 0; s[i]; i++) {
            const unsigned char c = (unsigned char)s[i];
            char esc[8];
            if (c == '"' || c == '\\')
                (void)snprintf(esc, sizeof esc, "\\%c", c);
            else if (c < 0x20)
                (void)snprintf(esc, sizeof esc, "\\u%04x", c);
            else
                (void)snprintf(esc, sizeof esc, "%c", c < 0x80 ? c : '?');
            fp8q__im_puts(o, esc);
        }
        fp8q__im_putn(o, "\"", 1);
    }
    free(tmp.p);
}

/* A finite number (Python repr), else null; absent (present 0): null. */
static void fp8q__diff_json_num(fp8q__im_out *o, int present, double x)
{
    char buf[40];
    if (!present || x - x != 0) {
        fp8q__im_puts(o, "null");
        return;
    }
    (void)fp8q__im_repr(x, buf);
    fp8q__im_puts(o, buf);
}

static void fp8q__diff_json_u64(fp8q__im_out *o, int present, uint64_t v)
{
    char tmp[24];
    int n = 0;
    if (!present) {
        fp8q__im_puts(o, "null");
        return;
    }
    do tmp[n++] = (char)('0' + v % 10), v /= 10;
    while (v);
    while (n-- > 0) fp8q__im_putn(o, &tmp[n], 1);
}

/* ", "key": " (no comma before the first member); the caller writes the value. */
static void fp8q__diff_json_key(fp8q__im_out *o, const char *key, int first)
{
    if (!first) fp8q__im_puts(o, ", ");
    fp8q__im_putn(o, "\"", 1);
    fp8q__im_puts(o, key);
    fp8q__im_puts(o, "\": ");
}

static void fp8q__diff_json_tensor_info(fp8q__im_out *o, const char *kd, const char *ks, const fp8q_tensor_info *t)
{
    int k;
    fp8q__diff_json_key(o, kd, 0);
    if (t)
        fp8q__diff_json_str(o, fp8q_dtype_get(t->dtype)->name);
    else
        fp8q__im_puts(o, "null");
    fp8q__diff_json_key(o, ks, 0);
    if (!t) {
        fp8q__im_puts(o, "null");
        return;
    }
    fp8q__im_puts(o, "[");
    for (k = 0; k < t->ndim; k++) {
        if (k) fp8q__im_puts(o, ", ");
        fp8q__diff_json_u64(o, 1, t->shape[k]);
    }
    fp8q__im_puts(o, "]");
}

static void fp8q__diff_json_entry(fp8q__im_out *o, const fp8q_diff_entry *e)
{
    const int cmp = e->status == FP8Q_DIFF_OK || e->status == FP8Q_DIFF_OUTSIDE || e->status == FP8Q_DIFF_AFTER_FLIP;
    const int codes = cmp && (e->kind == FP8Q_DIFF_CODES || fp8q__diff_is_fp8(e->a->dtype)),
              fl = cmp && e->kind == FP8Q_DIFF_FLOAT;
    fp8q__im_puts(o, "{");
    fp8q__diff_json_key(o, "name", 1);
    fp8q__diff_json_str(o, e->name);
    fp8q__diff_json_key(o, "module", 0);
    fp8q__diff_json_str(o, e->module);
    fp8q__diff_json_key(o, "step", 0);
    fp8q__diff_json_u64(o, 1, (uint64_t)e->step);
    fp8q__diff_json_key(o, "status", 0);
    fp8q__diff_json_str(o, fp8q_diff_status_name(e->status));
    fp8q__diff_json_key(o, "kind", 0);
    fp8q__diff_json_str(o, fp8q_diff_class_name(e->kind));
    fp8q__diff_json_key(o, "differs", 0);
    fp8q__im_puts(o, e->differs ? "true" : "false");
    fp8q__diff_json_tensor_info(o, "dtype_a", "shape_a", e->a);
    fp8q__diff_json_tensor_info(o, "dtype_b", "shape_b", e->b);
    fp8q__diff_json_key(o, "count", 0);
    fp8q__diff_json_u64(o, cmp, (uint64_t)e->cmp.count);
    fp8q__diff_json_key(o, "outside", 0);
    fp8q__diff_json_u64(o, cmp, (uint64_t)e->cmp.outside);
    fp8q__diff_json_key(o, "first_outside", 0);
    fp8q__diff_json_u64(o, cmp && e->cmp.outside, (uint64_t)e->cmp.first_outside);
    fp8q__diff_json_key(o, "max_abs", 0);
    fp8q__diff_json_num(o, cmp, e->cmp.max_abs_err);
    fp8q__diff_json_key(o, "max_rel", 0);
    fp8q__diff_json_num(o, cmp, e->cmp.max_rel_err);
    fp8q__diff_json_key(o, "max_ulp", 0);
    fp8q__diff_json_num(o, cmp, e->cmp.max_ulp);
    fp8q__diff_json_key(o, "atol", 0);
    fp8q__diff_json_num(o, fl, e->atol);
    fp8q__diff_json_key(o, "rtol", 0);
    fp8q__diff_json_num(o, fl, e->rtol);
    fp8q__diff_json_key(o, "fp8_codes", 0);
    fp8q__diff_json_u64(o, codes, (uint64_t)e->codes);
    fp8q__diff_json_key(o, "local_outside", 0);
    fp8q__diff_json_u64(o, codes, (uint64_t)e->local_outside);
    fp8q__im_puts(o, "}");
}

/* The value of metadata key in st, or NULL. */
static const char *fp8q__diff_meta(const fp8q_safetensors *st, const char *key)
{
    size_t i;
    for (i = 0; i < st->n_metadata; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
    return NULL;
}

/* One metadata row if key's values differ between the files. */
static void fp8q__diff_json_meta_row(fp8q__im_out *o, const fp8q_diff *d, const char *key, size_t *rows)
{
    const char *va = fp8q__diff_meta(d->a, key), *vb = fp8q__diff_meta(d->b, key);
    if (va && vb && strcmp(va, vb) == 0) return;
    fp8q__im_puts(o, (*rows)++ ? ",\n    {" : "\n    {");
    fp8q__diff_json_key(o, "key", 1);
    fp8q__diff_json_str(o, key);
    fp8q__diff_json_key(o, "a", 0);
    if (va)
        fp8q__diff_json_str(o, va);
    else
        fp8q__im_puts(o, "null");
    fp8q__diff_json_key(o, "b", 0);
    if (vb)
        fp8q__diff_json_str(o, vb);
    else
        fp8q__im_puts(o, "null");
    fp8q__im_puts(o, "}");
}

static void fp8q__diff_json_head(fp8q__im_out *o, const fp8q_diff *d, const char *path_a, const char *path_b)
{
    const fp8q_diff_options *t = &d->opt;
    fp8q__im_puts(o, "{\"format\": \"fp8q-diff-1\",\n \"a\": ");
    fp8q__diff_json_str(o, path_a);
    fp8q__im_puts(o, ",\n \"b\": ");
    fp8q__diff_json_str(o, path_b);
    fp8q__im_puts(o, ",\n \"tolerance\": {");
    fp8q__diff_json_key(o, "mode", 1);
    fp8q__im_puts(o, t->mode == FP8Q_DIFF_EXACT ? "\"exact\"" : "\"auto\"");
    fp8q__diff_json_key(o, "atol", 0);
    fp8q__diff_json_num(o, t->set_atol, t->atol);
    fp8q__diff_json_key(o, "rtol", 0);
    fp8q__diff_json_num(o, t->set_rtol, t->rtol);
    fp8q__diff_json_key(o, "fp8_codes", 0);
    fp8q__diff_json_u64(o, t->set_fp8_codes, (uint64_t)t->fp8_codes);
    fp8q__diff_json_key(o, "norm_tol", 0);
    fp8q__diff_json_num(o, 1, FP8Q_DIFF_NORM_TOL);
    fp8q__diff_json_key(o, "common_only", 0);
    fp8q__im_puts(o, t->common_only ? "true" : "false");
    fp8q__im_puts(o, "},\n \"summary\": {");
    fp8q__diff_json_key(o, "names", 1);
    fp8q__diff_json_u64(o, 1, (uint64_t)d->n_entries);
    fp8q__diff_json_key(o, "compared", 0);
    fp8q__diff_json_u64(o, 1, (uint64_t)d->n_compared);
    fp8q__diff_json_key(o, "outside", 0);
    fp8q__diff_json_u64(o, 1, (uint64_t)d->n_outside);
    fp8q__diff_json_key(o, "mismatch", 0);
    fp8q__diff_json_u64(o, 1, (uint64_t)d->n_mismatch);
    fp8q__diff_json_key(o, "only_a", 0);
    fp8q__diff_json_u64(o, 1, (uint64_t)d->n_only_a);
    fp8q__diff_json_key(o, "only_b", 0);
    fp8q__diff_json_u64(o, 1, (uint64_t)d->n_only_b);
    fp8q__diff_json_key(o, "after_flip", 0);
    fp8q__diff_json_u64(o, 1, (uint64_t)d->n_after_flip);
    fp8q__diff_json_key(o, "differ", 0);
    fp8q__diff_json_u64(o, 1, (uint64_t)d->n_differ);
    fp8q__im_puts(o, "},\n \"first_flip\": ");
    if (d->flip < d->n_entries) {
        fp8q__im_puts(o, "{");
        fp8q__diff_json_key(o, "module", 1);
        fp8q__diff_json_str(o, d->entries[d->flip].module);
        fp8q__diff_json_key(o, "tensor", 0);
        fp8q__diff_json_str(o, d->entries[d->flip].name);
        fp8q__diff_json_key(o, "step", 0);
        fp8q__diff_json_u64(o, 1, (uint64_t)d->entries[d->flip].step);
        fp8q__im_puts(o, "}");
    } else
        fp8q__im_puts(o, "null");
    fp8q__im_puts(o, ",\n \"first_difference\": ");
    if (d->first < d->n_entries) {
        const fp8q_diff_entry *e = &d->entries[d->first];
        fp8q__im_puts(o, "{");
        fp8q__diff_json_key(o, "module", 1);
        fp8q__diff_json_str(o, e->module);
        fp8q__diff_json_key(o, "tensor", 0);
        fp8q__diff_json_str(o, e->name);
        fp8q__diff_json_key(o, "step", 0);
        fp8q__diff_json_u64(o, 1, (uint64_t)e->step);
        fp8q__im_puts(o, "}");
    } else
        fp8q__im_puts(o, "null");
}

FP8QDEF fp8q_result fp8q_diff_json(const fp8q_diff *d, const char *path_a, const char *path_b, char **out,
                                   size_t *out_len, fp8q_error *err)
{
    fp8q__im_out o;
    size_t i, rows = 0;
    fp8q__st_err_ok(err);
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (!d || !d->a || !d->b || !out || !out_len)
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_diff_json: NULL argument or a diff that was not made");
    memset(&o, 0, sizeof o);
    fp8q__diff_json_head(&o, d, path_a ? path_a : "", path_b ? path_b : "");
    fp8q__im_puts(&o, ",\n \"metadata\": [");
    for (i = 0; i < d->a->n_metadata; i++) fp8q__diff_json_meta_row(&o, d, d->a->meta_keys[i], &rows);
    for (i = 0; i < d->b->n_metadata; i++)
        if (!fp8q__diff_meta(d->a, d->b->meta_keys[i])) fp8q__diff_json_meta_row(&o, d, d->b->meta_keys[i], &rows);
    fp8q__im_puts(&o, rows ? "],\n \"tensors\": [" : "],\n \"tensors\": [");
    for (i = 0; i < d->n_entries; i++) {
        fp8q__im_puts(&o, i ? ",\n  " : "\n  ");
        fp8q__diff_json_entry(&o, &d->entries[i]);
    }
    fp8q__im_puts(&o, "]}\n");
    fp8q__im_putn(&o, "", 1); /* the NUL */
    if (o.oom) {
        free(o.p);
        return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory writing a diff as JSON");
    }
    *out = o.p, *out_len = o.n - 1;
    return FP8Q_OK;
}

/* ---------------------------------------------------------------- tokenizer */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Unicode classes (the table is generated; see tools/gen_unicode_tables.py) */

/* generated by tools/gen_unicode_tables.py, do not edit (Unicode 16.0.0:
   unicodedata2 16.0.0, Python 3.11.7; class 4 from tokenizers 0.23.3: 13 code points) */
/* clang-format off */
/* Code point classes as tokenizers sees them: 0 other, 1 letter (L*), 2 number (N*), 3 white space
   (White_Space), 4 number to Rust's char::is_numeric only (newer Unicode than Oniguruma's).
   Runs: entry i = first code point << 3 | class, up to entry i + 1's first code point. */
#define FP8Q__TOK_UCLASS_RUNS 1614
static const uint32_t fp8q__tok_uclass[FP8Q__TOK_UCLASS_RUNS] = {
    0x0, 0x4b, 0x70, 0x103, 0x108, 0x182, 0x1d0, 0x209, 0x2d8, 0x309, 0x3d8, 0x42b, 0x430, 0x503, 0x508, 0x551, 0x558,
    0x592, 0x5a0, 0x5a9, 0x5b0, 0x5ca, 0x5d1, 0x5d8, 0x5e2, 0x5f8, 0x601, 0x6b8, 0x6c1, 0x7b8, 0x7c1, 0x1610, 0x1631,
    0x1690, 0x1701, 0x1728, 0x1761, 0x1768, 0x1771, 0x1778, 0x1b81, 0x1ba8, 0x1bb1, 0x1bc0, 0x1bd1, 0x1bf0, 0x1bf9,
    0x1c00, 0x1c31, 0x1c38, 0x1c41, 0x1c58, 0x1c61, 0x1c68, 0x1c71, 0x1d10, 0x1d19, 0x1fb0, 0x1fb9, 0x2410, 0x2451,
    0x2980, 0x2989, 0x2ab8, 0x2ac9, 0x2ad0, 0x2b01, 0x2c48, 0x2e81, 0x2f58, 0x2f79, 0x2f98, 0x3101, 0x3258, 0x3302,
    0x3350, 0x3371, 0x3380, 0x3389, 0x36a0, 0x36a9, 0x36b0, 0x3729, 0x3738, 0x3771, 0x3782, 0x37d1, 0x37e8, 0x37f9,
    0x3800, 0x3881, 0x3888, 0x3891, 0x3980, 0x3a69, 0x3d30, 0x3d89, 0x3d90, 0x3e02, 0x3e51, 0x3f58, 0x3fa1, 0x3fb0,
    0x3fd1, 0x3fd8, 0x4001, 0x40b0, 0x40d1, 0x40d8, 0x4121, 0x4128, 0x4141, 0x4148, 0x4201, 0x42c8, 0x4301, 0x4358,
    0x4381, 0x4440, 0x4449, 0x4478, 0x4501, 0x4650, 0x4821, 0x49d0, 0x49e9, 0x49f0, 0x4a81, 0x4a88, 0x4ac1, 0x4b10,
    0x4b32, 0x4b80, 0x4b89, 0x4c08, 0x4c29, 0x4c68, 0x4c79, 0x4c88, 0x4c99, 0x4d48, 0x4d51, 0x4d88, 0x4d91, 0x4d98,
    0x4db1, 0x4dd0, 0x4de9, 0x4df0, 0x4e71, 0x4e78, 0x4ee1, 0x4ef0, 0x4ef9, 0x4f10, 0x4f32, 0x4f81, 0x4f90, 0x4fa2,
    0x4fd0, 0x4fe1, 0x4fe8, 0x5029, 0x5058, 0x5079, 0x5088, 0x5099, 0x5148, 0x5151, 0x5188, 0x5191, 0x51a0, 0x51a9,
    0x51b8, 0x51c1, 0x51d0, 0x52c9, 0x52e8, 0x52f1, 0x52f8, 0x5332, 0x5380, 0x5391, 0x53a8, 0x5429, 0x5470, 0x5479,
    0x5490, 0x5499, 0x5548, 0x5551, 0x5588, 0x5591, 0x55a0, 0x55a9, 0x55d0, 0x55e9, 0x55f0, 0x5681, 0x5688, 0x5701,
    0x5710, 0x5732, 0x5780, 0x57c9, 0x57d0, 0x5829, 0x5868, 0x5879, 0x5888, 0x5899, 0x5948, 0x5951, 0x5988, 0x5991,
    0x59a0, 0x59a9, 0x59d0, 0x59e9, 0x59f0, 0x5ae1, 0x5af0, 0x5af9, 0x5b10, 0x5b32, 0x5b80, 0x5b89, 0x5b92, 0x5bc0,
    0x5c19, 0x5c20, 0x5c29, 0x5c58, 0x5c71, 0x5c88, 0x5c91, 0x5cb0, 0x5cc9, 0x5cd8, 0x5ce1, 0x5ce8, 0x5cf1, 0x5d00,
    0x5d19, 0x5d28, 0x5d41, 0x5d58, 0x5d71, 0x5dd0, 0x5e81, 0x5e88, 0x5f32, 0x5f98, 0x6029, 0x6068, 0x6071, 0x6088,
    0x6091, 0x6148, 0x6151, 0x61d0, 0x61e9, 0x61f0, 0x62c1, 0x62d8, 0x62e9, 0x62f0, 0x6301, 0x6310, 0x6332, 0x6380,
    0x63c2, 0x63f8, 0x6401, 0x6408, 0x6429, 0x6468, 0x6471, 0x6488, 0x6491, 0x6548, 0x6551, 0x65a0, 0x65a9, 0x65d0,
    0x65e9, 0x65f0, 0x66e9, 0x66f8, 0x6701, 0x6710, 0x6732, 0x6780, 0x6789, 0x6798, 0x6821, 0x6868, 0x6871, 0x6888,
    0x6891, 0x69d8, 0x69e9, 0x69f0, 0x6a71, 0x6a78, 0x6aa1, 0x6ab8, 0x6ac2, 0x6af9, 0x6b10, 0x6b32, 0x6bc8, 0x6bd1,
    0x6c00, 0x6c29, 0x6cb8, 0x6cd1, 0x6d90, 0x6d99, 0x6de0, 0x6de9, 0x6df0, 0x6e01, 0x6e38, 0x6f32, 0x6f80, 0x7009,
    0x7188, 0x7191, 0x71a0, 0x7201, 0x7238, 0x7282, 0x72d0, 0x7409, 0x7418, 0x7421, 0x7428, 0x7431, 0x7458, 0x7461,
    0x7520, 0x7529, 0x7530, 0x7539, 0x7588, 0x7591, 0x75a0, 0x75e9, 0x75f0, 0x7601, 0x7628, 0x7631, 0x7638, 0x7682,
    0x76d0, 0x76e1, 0x7700, 0x7801, 0x7808, 0x7902, 0x79a0, 0x7a01, 0x7a40, 0x7a49, 0x7b68, 0x7c41, 0x7c68, 0x8001,
    0x8158, 0x81f9, 0x8202, 0x8250, 0x8281, 0x82b0, 0x82d1, 0x82f0, 0x8309, 0x8310, 0x8329, 0x8338, 0x8371, 0x8388,
    0x83a9, 0x8410, 0x8471, 0x8478, 0x8482, 0x84d0, 0x8501, 0x8630, 0x8639, 0x8640, 0x8669, 0x8670, 0x8681, 0x87d8,
    0x87e1, 0x9248, 0x9251, 0x9270, 0x9281, 0x92b8, 0x92c1, 0x92c8, 0x92d1, 0x92f0, 0x9301, 0x9448, 0x9451, 0x9470,
    0x9481, 0x9588, 0x9591, 0x95b0, 0x95c1, 0x95f8, 0x9601, 0x9608, 0x9611, 0x9630, 0x9641, 0x96b8, 0x96c1, 0x9888,
    0x9891, 0x98b0, 0x98c1, 0x9ad8, 0x9b4a, 0x9be8, 0x9c01, 0x9c80, 0x9d01, 0x9fb0, 0x9fc1, 0x9ff0, 0xa009, 0xb368,
    0xb379, 0xb403, 0xb409, 0xb4d8, 0xb501, 0xb758, 0xb772, 0xb789, 0xb7c8, 0xb801, 0xb890, 0xb8f9, 0xb990, 0xba01,
    0xba90, 0xbb01, 0xbb68, 0xbb71, 0xbb88, 0xbc01, 0xbda0, 0xbeb9, 0xbec0, 0xbee1, 0xbee8, 0xbf02, 0xbf50, 0xbf82,
    0xbfd0, 0xc082, 0xc0d0, 0xc101, 0xc3c8, 0xc401, 0xc428, 0xc439, 0xc548, 0xc551, 0xc558, 0xc581, 0xc7b0, 0xc801,
    0xc8f8, 0xca32, 0xca81, 0xcb70, 0xcb81, 0xcba8, 0xcc01, 0xcd60, 0xcd81, 0xce50, 0xce82, 0xced8, 0xd001, 0xd0b8,
    0xd101, 0xd2a8, 0xd402, 0xd450, 0xd482, 0xd4d0, 0xd539, 0xd540, 0xd829, 0xd9a0, 0xda29, 0xda68, 0xda82, 0xdad0,
    0xdc19, 0xdd08, 0xdd71, 0xdd82, 0xddd1, 0xdf30, 0xe001, 0xe120, 0xe202, 0xe250, 0xe269, 0xe282, 0xe2d1, 0xe3f0,
    0xe401, 0xe458, 0xe481, 0xe5d8, 0xe5e9, 0xe600, 0xe749, 0xe768, 0xe771, 0xe7a0, 0xe7a9, 0xe7b8, 0xe7d1, 0xe7d8,
    0xe801, 0xee00, 0xf001, 0xf8b0, 0xf8c1, 0xf8f0, 0xf901, 0xfa30, 0xfa41, 0xfa70, 0xfa81, 0xfac0, 0xfac9, 0xfad0,
    0xfad9, 0xfae0, 0xfae9, 0xfaf0, 0xfaf9, 0xfbf0, 0xfc01, 0xfda8, 0xfdb1, 0xfde8, 0xfdf1, 0xfdf8, 0xfe11, 0xfe28,
    0xfe31, 0xfe68, 0xfe81, 0xfea0, 0xfeb1, 0xfee0, 0xff01, 0xff68, 0xff91, 0xffa8, 0xffb1, 0xffe8, 0x10003, 0x10058,
    0x10143, 0x10150, 0x1017b, 0x10180, 0x102fb, 0x10300, 0x10382, 0x10389, 0x10390, 0x103a2, 0x103d0, 0x103f9,
    0x10402, 0x10450, 0x10481, 0x104e8, 0x10811, 0x10818, 0x10839, 0x10840, 0x10851, 0x108a0, 0x108a9, 0x108b0,
    0x108c9, 0x108f0, 0x10921, 0x10928, 0x10931, 0x10938, 0x10941, 0x10948, 0x10951, 0x10970, 0x10979, 0x109d0,
    0x109e1, 0x10a00, 0x10a29, 0x10a50, 0x10a71, 0x10a78, 0x10a82, 0x10c19, 0x10c2a, 0x10c50, 0x12302, 0x124e0,
    0x12752, 0x12800, 0x13bb2, 0x13ca0, 0x16001, 0x16728, 0x16759, 0x16778, 0x16791, 0x167a0, 0x167ea, 0x167f0,
    0x16801, 0x16930, 0x16939, 0x16940, 0x16969, 0x16970, 0x16981, 0x16b40, 0x16b79, 0x16b80, 0x16c01, 0x16cb8,
    0x16d01, 0x16d38, 0x16d41, 0x16d78, 0x16d81, 0x16db8, 0x16dc1, 0x16df8, 0x16e01, 0x16e38, 0x16e41, 0x16e78,
    0x16e81, 0x16eb8, 0x16ec1, 0x16ef8, 0x17179, 0x17180, 0x18003, 0x18008, 0x18029, 0x1803a, 0x18040, 0x1810a,
    0x18150, 0x18189, 0x181b0, 0x181c2, 0x181d9, 0x181e8, 0x18209, 0x184b8, 0x184e9, 0x18500, 0x18509, 0x187d8,
    0x187e1, 0x18800, 0x18829, 0x18980, 0x18989, 0x18c78, 0x18c92, 0x18cb0, 0x18d01, 0x18e00, 0x18f81, 0x19000,
    0x19102, 0x19150, 0x19242, 0x19280, 0x1928a, 0x19300, 0x19402, 0x19450, 0x1958a, 0x19600, 0x1a001, 0x26e00,
    0x27001, 0x52468, 0x52681, 0x527f0, 0x52801, 0x53068, 0x53081, 0x53102, 0x53151, 0x53160, 0x53201, 0x53378,
    0x533f9, 0x534f0, 0x53501, 0x53732, 0x53780, 0x538b9, 0x53900, 0x53911, 0x53c48, 0x53c59, 0x53e70, 0x53e81,
    0x53e90, 0x53e99, 0x53ea0, 0x53ea9, 0x53ee8, 0x53f91, 0x54010, 0x54019, 0x54030, 0x54039, 0x54058, 0x54061,
    0x54118, 0x54182, 0x541b0, 0x54201, 0x543a0, 0x54411, 0x545a0, 0x54682, 0x546d0, 0x54791, 0x547c0, 0x547d9,
    0x547e0, 0x547e9, 0x547f8, 0x54802, 0x54851, 0x54930, 0x54981, 0x54a38, 0x54b01, 0x54be8, 0x54c21, 0x54d98,
    0x54e79, 0x54e82, 0x54ed0, 0x54f01, 0x54f28, 0x54f31, 0x54f82, 0x54fd1, 0x54ff8, 0x55001, 0x55148, 0x55201,
    0x55218, 0x55221, 0x55260, 0x55282, 0x552d0, 0x55301, 0x553b8, 0x553d1, 0x553d8, 0x553f1, 0x55580, 0x55589,
    0x55590, 0x555a9, 0x555b8, 0x555c9, 0x555f0, 0x55601, 0x55608, 0x55611, 0x55618, 0x556d9, 0x556f0, 0x55701,
    0x55758, 0x55791, 0x557a8, 0x55809, 0x55838, 0x55849, 0x55878, 0x55889, 0x558b8, 0x55901, 0x55938, 0x55941,
    0x55978, 0x55981, 0x55ad8, 0x55ae1, 0x55b50, 0x55b81, 0x55f18, 0x55f82, 0x55fd0, 0x56001, 0x6bd20, 0x6bd81,
    0x6be38, 0x6be59, 0x6bfe0, 0x7c801, 0x7d370, 0x7d381, 0x7d6d0, 0x7d801, 0x7d838, 0x7d899, 0x7d8c0, 0x7d8e9,
    0x7d8f0, 0x7d8f9, 0x7d948, 0x7d951, 0x7d9b8, 0x7d9c1, 0x7d9e8, 0x7d9f1, 0x7d9f8, 0x7da01, 0x7da10, 0x7da19,
    0x7da28, 0x7da31, 0x7dd90, 0x7de99, 0x7e9f0, 0x7ea81, 0x7ec80, 0x7ec91, 0x7ee40, 0x7ef81, 0x7efe0, 0x7f381,
    0x7f3a8, 0x7f3b1, 0x7f7e8, 0x7f882, 0x7f8d0, 0x7f909, 0x7f9d8, 0x7fa09, 0x7fad8, 0x7fb31, 0x7fdf8, 0x7fe11,
    0x7fe40, 0x7fe51, 0x7fe80, 0x7fe91, 0x7fec0, 0x7fed1, 0x7fee8, 0x80001, 0x80060, 0x80069, 0x80138, 0x80141,
    0x801d8, 0x801e1, 0x801f0, 0x801f9, 0x80270, 0x80281, 0x802f0, 0x80401, 0x807d8, 0x8083a, 0x809a0, 0x80a02,
    0x80bc8, 0x80c52, 0x80c60, 0x81401, 0x814e8, 0x81501, 0x81688, 0x8170a, 0x817e0, 0x81801, 0x81902, 0x81920,
    0x81969, 0x81a0a, 0x81a11, 0x81a52, 0x81a58, 0x81a81, 0x81bb0, 0x81c01, 0x81cf0, 0x81d01, 0x81e20, 0x81e41,
    0x81e80, 0x81e8a, 0x81eb0, 0x82001, 0x824f0, 0x82502, 0x82550, 0x82581, 0x826a0, 0x826c1, 0x827e0, 0x82801,
    0x82940, 0x82981, 0x82b20, 0x82b81, 0x82bd8, 0x82be1, 0x82c58, 0x82c61, 0x82c98, 0x82ca1, 0x82cb0, 0x82cb9,
    0x82d10, 0x82d19, 0x82d90, 0x82d99, 0x82dd0, 0x82dd9, 0x82de8, 0x82e01, 0x82fa0, 0x83001, 0x839b8, 0x83a01,
    0x83ab0, 0x83b01, 0x83b40, 0x83c01, 0x83c30, 0x83c39, 0x83d88, 0x83d91, 0x83dd8, 0x84001, 0x84030, 0x84041,
    0x84048, 0x84051, 0x841b0, 0x841b9, 0x841c8, 0x841e1, 0x841e8, 0x841f9, 0x842b0, 0x842c2, 0x84301, 0x843b8,
    0x843ca, 0x84401, 0x844f8, 0x8453a, 0x84580, 0x84701, 0x84798, 0x847a1, 0x847b0, 0x847da, 0x84801, 0x848b2,
    0x848e0, 0x84901, 0x849d0, 0x84c01, 0x84dc0, 0x84de2, 0x84df1, 0x84e02, 0x84e80, 0x84e92, 0x85001, 0x85008,
    0x85081, 0x850a0, 0x850a9, 0x850c0, 0x850c9, 0x851b0, 0x85202, 0x85248, 0x85301, 0x853ea, 0x853f8, 0x85401,
    0x854ea, 0x85500, 0x85601, 0x85640, 0x85649, 0x85728, 0x8575a, 0x85780, 0x85801, 0x859b0, 0x85a01, 0x85ab0,
    0x85ac2, 0x85b01, 0x85b98, 0x85bc2, 0x85c01, 0x85c90, 0x85d4a, 0x85d80, 0x86001, 0x86248, 0x86401, 0x86598,
    0x86601, 0x86798, 0x867d2, 0x86801, 0x86920, 0x86982, 0x869d0, 0x86a02, 0x86a51, 0x86b30, 0x86b79, 0x86c30,
    0x87302, 0x873f8, 0x87401, 0x87550, 0x87581, 0x87590, 0x87611, 0x87628, 0x87801, 0x878ea, 0x87939, 0x87940,
    0x87981, 0x87a30, 0x87a8a, 0x87aa8, 0x87b81, 0x87c10, 0x87d81, 0x87e2a, 0x87e60, 0x87f01, 0x87fb8, 0x88019,
    0x881c0, 0x88292, 0x88380, 0x88389, 0x88398, 0x883a9, 0x883b0, 0x88419, 0x88580, 0x88681, 0x88748, 0x88782,
    0x887d0, 0x88819, 0x88938, 0x889b2, 0x88a00, 0x88a21, 0x88a28, 0x88a39, 0x88a40, 0x88a81, 0x88b98, 0x88bb1,
    0x88bb8, 0x88c19, 0x88d98, 0x88e09, 0x88e28, 0x88e82, 0x88ed1, 0x88ed8, 0x88ee1, 0x88ee8, 0x88f0a, 0x88fa8,
    0x89001, 0x89090, 0x89099, 0x89160, 0x891f9, 0x89208, 0x89401, 0x89438, 0x89441, 0x89448, 0x89451, 0x89470,
    0x89479, 0x894f0, 0x894f9, 0x89548, 0x89581, 0x896f8, 0x89782, 0x897d0, 0x89829, 0x89868, 0x89879, 0x89888,
    0x89899, 0x89948, 0x89951, 0x89988, 0x89991, 0x899a0, 0x899a9, 0x899d0, 0x899e9, 0x899f0, 0x89a81, 0x89a88,
    0x89ae9, 0x89b10, 0x89c01, 0x89c50, 0x89c59, 0x89c60, 0x89c71, 0x89c78, 0x89c81, 0x89db0, 0x89db9, 0x89dc0,
    0x89e89, 0x89e90, 0x89e99, 0x89ea0, 0x8a001, 0x8a1a8, 0x8a239, 0x8a258, 0x8a282, 0x8a2d0, 0x8a2f9, 0x8a310,
    0x8a401, 0x8a580, 0x8a621, 0x8a630, 0x8a639, 0x8a640, 0x8a682, 0x8a6d0, 0x8ac01, 0x8ad78, 0x8aec1, 0x8aee0,
    0x8b001, 0x8b180, 0x8b221, 0x8b228, 0x8b282, 0x8b2d0, 0x8b401, 0x8b558, 0x8b5c1, 0x8b5c8, 0x8b602, 0x8b650,
    0x8b682, 0x8b720, 0x8b801, 0x8b8d8, 0x8b982, 0x8b9e0, 0x8ba01, 0x8ba38, 0x8c001, 0x8c160, 0x8c501, 0x8c702,
    0x8c798, 0x8c7f9, 0x8c838, 0x8c849, 0x8c850, 0x8c861, 0x8c8a0, 0x8c8a9, 0x8c8b8, 0x8c8c1, 0x8c980, 0x8c9f9,
    0x8ca00, 0x8ca09, 0x8ca10, 0x8ca82, 0x8cad0, 0x8cd01, 0x8cd40, 0x8cd51, 0x8ce88, 0x8cf09, 0x8cf10, 0x8cf19,
    0x8cf20, 0x8d001, 0x8d008, 0x8d059, 0x8d198, 0x8d1d1, 0x8d1d8, 0x8d281, 0x8d288, 0x8d2e1, 0x8d450, 0x8d4e9,
    0x8d4f0, 0x8d581, 0x8d7c8, 0x8de01, 0x8df08, 0x8df82, 0x8dfd0, 0x8e001, 0x8e048, 0x8e051, 0x8e178, 0x8e201,
    0x8e208, 0x8e282, 0x8e368, 0x8e391, 0x8e480, 0x8e801, 0x8e838, 0x8e841, 0x8e850, 0x8e859, 0x8e988, 0x8ea31,
    0x8ea38, 0x8ea82, 0x8ead0, 0x8eb01, 0x8eb30, 0x8eb39, 0x8eb48, 0x8eb51, 0x8ec50, 0x8ecc1, 0x8ecc8, 0x8ed02,
    0x8ed50, 0x8ef04, 0x8ef50, 0x8f701, 0x8f798, 0x8f811, 0x8f818, 0x8f821, 0x8f888, 0x8f891, 0x8f9a0, 0x8fa82,
    0x8fad0, 0x8fd81, 0x8fd88, 0x8fe02, 0x8fea8, 0x90001, 0x91cd0, 0x92002, 0x92378, 0x92401, 0x92a20, 0x97c81,
    0x97f88, 0x98001, 0x9a180, 0x9a209, 0x9a238, 0x9a301, 0xa1fd8, 0xa2001, 0xa3238, 0xb0801, 0xb08f0, 0xb0982,
    0xb09d0, 0xb4001, 0xb51c8, 0xb5201, 0xb52f8, 0xb5302, 0xb5350, 0xb5381, 0xb55f8, 0xb5602, 0xb5650, 0xb5681,
    0xb5770, 0xb5801, 0xb5980, 0xb5a01, 0xb5a20, 0xb5a82, 0xb5ad0, 0xb5ada, 0xb5b10, 0xb5b19, 0xb5bc0, 0xb5be9,
    0xb5c80, 0xb6a01, 0xb6b68, 0xb6b82, 0xb6bd0, 0xb7201, 0xb7402, 0xb74b8, 0xb7801, 0xb7a58, 0xb7a81, 0xb7a88,
    0xb7c99, 0xb7d00, 0xb7f01, 0xb7f10, 0xb7f19, 0xb7f20, 0xb7fa4, 0xb7fb8, 0xb8001, 0xc3fc0, 0xc4001, 0xc66b0,
    0xc67f9, 0xc6848, 0xd7f81, 0xd7fa0, 0xd7fa9, 0xd7fe0, 0xd7fe9, 0xd7ff8, 0xd8001, 0xd8918, 0xd8991, 0xd8998,
    0xd8a81, 0xd8a98, 0xd8aa9, 0xd8ab0, 0xd8b21, 0xd8b40, 0xd8b81, 0xd97e0, 0xde001, 0xde358, 0xde381, 0xde3e8,
    0xde401, 0xde448, 0xde481, 0xde4d0, 0xe6782, 0xe67d0, 0xe9602, 0xe96a0, 0xe9702, 0xe97a0, 0xe9b02, 0xe9bc8,
    0xea001, 0xea2a8, 0xea2b1, 0xea4e8, 0xea4f1, 0xea500, 0xea511, 0xea518, 0xea529, 0xea538, 0xea549, 0xea568,
    0xea571, 0xea5d0, 0xea5d9, 0xea5e0, 0xea5e9, 0xea620, 0xea629, 0xea830, 0xea839, 0xea858, 0xea869, 0xea8a8,
    0xea8b1, 0xea8e8, 0xea8f1, 0xea9d0, 0xea9d9, 0xea9f8, 0xeaa01, 0xeaa28, 0xeaa31, 0xeaa38, 0xeaa51, 0xeaa88,
    0xeaa91, 0xeb530, 0xeb541, 0xeb608, 0xeb611, 0xeb6d8, 0xeb6e1, 0xeb7d8, 0xeb7e1, 0xeb8a8, 0xeb8b1, 0xeb9a8,
    0xeb9b1, 0xeba78, 0xeba81, 0xebb78, 0xebb81, 0xebc48, 0xebc51, 0xebd48, 0xebd51, 0xebe18, 0xebe21, 0xebe60,
    0xebe72, 0xec000, 0xef801, 0xef8f8, 0xef929, 0xef958, 0xf0181, 0xf0370, 0xf0801, 0xf0968, 0xf09b9, 0xf09f0,
    0xf0a02, 0xf0a50, 0xf0a71, 0xf0a78, 0xf1481, 0xf1570, 0xf1601, 0xf1760, 0xf1782, 0xf17d0, 0xf2681, 0xf2760,
    0xf2782, 0xf27d0, 0xf2e81, 0xf2f70, 0xf2f81, 0xf2f8a, 0xf2fd8, 0xf3f01, 0xf3f38, 0xf3f41, 0xf3f60, 0xf3f69,
    0xf3f78, 0xf3f81, 0xf3ff8, 0xf4001, 0xf4628, 0xf463a, 0xf4680, 0xf4801, 0xf4a20, 0xf4a59, 0xf4a60, 0xf4a82,
    0xf4ad0, 0xf638a, 0xf6560, 0xf656a, 0xf6580, 0xf658a, 0xf65a8, 0xf680a, 0xf6970, 0xf697a, 0xf69f0, 0xf7001,
    0xf7020, 0xf7029, 0xf7100, 0xf7109, 0xf7118, 0xf7121, 0xf7128, 0xf7139, 0xf7140, 0xf7149, 0xf7198, 0xf71a1,
    0xf71c0, 0xf71c9, 0xf71d0, 0xf71d9, 0xf71e0, 0xf7211, 0xf7218, 0xf7239, 0xf7240, 0xf7249, 0xf7250, 0xf7259,
    0xf7260, 0xf7269, 0xf7280, 0xf7289, 0xf7298, 0xf72a1, 0xf72a8, 0xf72b9, 0xf72c0, 0xf72c9, 0xf72d0, 0xf72d9,
    0xf72e0, 0xf72e9, 0xf72f0, 0xf72f9, 0xf7300, 0xf7309, 0xf7318, 0xf7321, 0xf7328, 0xf7339, 0xf7358, 0xf7361,
    0xf7398, 0xf73a1, 0xf73c0, 0xf73c9, 0xf73e8, 0xf73f1, 0xf73f8, 0xf7401, 0xf7450, 0xf7459, 0xf74e0, 0xf7509,
    0xf7520, 0xf7529, 0xf7550, 0xf7559, 0xf75e0, 0xf8802, 0xf8868, 0xfdf82, 0xfdfd0, 0x100001, 0x153700, 0x153801,
    0x15b9d0, 0x15ba01, 0x15c0f0, 0x15c101, 0x167510, 0x167581, 0x175f08, 0x175f81, 0x1772f0, 0x17c001, 0x17d0f0,
    0x180001, 0x189a58, 0x189a81, 0x191d80};
/* clang-format on */
/* end of generated code (tools/gen_unicode_tables.py) */

enum { FP8Q__UC_OTHER = 0, FP8Q__UC_LETTER = 1, FP8Q__UC_NUMBER = 2, FP8Q__UC_SPACE = 3, FP8Q__UC_RUST_NUMBER = 4 };

/* The class of code point cp (FP8Q__UC_*): ASCII directly, the rest by binary search over the runs. */
static int fp8q__tok_uclass_of(uint32_t cp)
{
    size_t lo = 0, hi = FP8Q__TOK_UCLASS_RUNS;
    if (cp < 128) {
        if ((cp | 32) >= 'a' && (cp | 32) <= 'z') return FP8Q__UC_LETTER;
        if (cp >= '0' && cp <= '9') return FP8Q__UC_NUMBER;
        if (cp == ' ' || (cp >= 9 && cp <= 13)) return FP8Q__UC_SPACE;
        return FP8Q__UC_OTHER;
    }
    while (hi - lo > 1) { /* the last run starting at or before cp; run 0 starts at U+0000 */
        size_t mid = lo + (hi - lo) / 2;
        if ((fp8q__tok_uclass[mid] >> 3) <= cp)
            lo = mid;
        else
            hi = mid;
    }
    return (int)(fp8q__tok_uclass[lo] & 7u);
}

/* Oniguruma's \s (Rust's char::is_whitespace too); Rust's char::is_numeric; Python's str.isspace (White_Space +
   U+001C..U+001F). */
static int fp8q__tok_is_space(uint32_t cp) { return fp8q__tok_uclass_of(cp) == FP8Q__UC_SPACE; }
static int fp8q__tok_is_numeric(uint32_t cp)
{
    int c = fp8q__tok_uclass_of(cp);
    return c == FP8Q__UC_NUMBER || c == FP8Q__UC_RUST_NUMBER;
}
static int fp8q__tok_is_py_space(uint32_t cp) { return fp8q__tok_is_space(cp) || (cp >= 0x1C && cp <= 0x1F); }

/* ---- UTF-8 */

/* Length of the well-formed UTF-8 sequence at s[0, n), or 0 when there is
   none; then *bad is the length of its maximal ill-formed subpart (>= 1),
   the unit that Python's errors="replace" and Rust's from_utf8_lossy turn
   into one U+FFFD. */
static size_t fp8q__tok_utf8_len(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned b = s[0], lo = 0x80, hi = 0xBF;
    size_t need, k;
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF)
        need = 2;
    else if (b >= 0xE0 && b <= 0xEF) {
        need = 3;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 4;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else {
        *bad = 1;
        return 0;
    }
    for (k = 1; k < need; k++) {
        unsigned c = k < n ? s[k] : 0;
        if (k >= n || c < lo || c > hi) {
            *bad = k;
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return need;
}

/* The code point at s (well-formed UTF-8 of *k bytes, set here). */
static uint32_t fp8q__tok_cp(const unsigned char *s, size_t *k)
{
    if (s[0] < 0x80) {
        *k = 1;
        return s[0];
    }
    if (s[0] < 0xE0) {
        *k = 2;
        return ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3Fu);
    }
    if (s[0] < 0xF0) {
        *k = 3;
        return ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3Fu);
    }
    *k = 4;
    return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) | ((uint32_t)(s[2] & 0x3F) << 6) |
           (s[3] & 0x3Fu);
}

/* Writes cp as UTF-8 into out (4 bytes room); returns the length. */
static size_t fp8q__tok_put_cp(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int fp8q__tok_valid_utf8(const char *s, size_t n)
{
    size_t i = 0, bad, k;
    while (i < n) {
        k = fp8q__tok_utf8_len((const unsigned char *)s + i, n - i, &bad);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

/* GPT-2's byte <-> character map (bytes_to_unicode): the printable bytes
   '!'..'~', 0xA1..0xAC, 0xAE..0xFF stand for themselves, the other 68 bytes
   for U+0100.. in byte order. */
static int fp8q__tok_byte_printable(unsigned b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b != 0xAD); }

static uint32_t fp8q__tok_byte_char(unsigned b)
{
    unsigned k, n = 0;
    if (fp8q__tok_byte_printable(b)) return b;
    for (k = 0; k < b; k++) n += !fp8q__tok_byte_printable(k);
    return 256 + n;
}

/* The byte character cp stands for, or -1 when cp is not one of the 256. */
static int fp8q__tok_char_byte(uint32_t cp)
{
    unsigned b, n = 0;
    if (cp < 256) return fp8q__tok_byte_printable(cp) ? (int)cp : -1;
    if (cp >= 256 + 68) return -1;
    for (b = 0; b < 256; b++)
        if (!fp8q__tok_byte_printable(b) && 256 + n++ == cp) return (int)b;
    return -1;
}

/* ---- growable byte buffer */

typedef struct fp8q__tok_buf {
    char *p;
    size_t n, cap;
} fp8q__tok_buf;

/* Room for `more` bytes after p[n]; 0 when out of memory. */
static int fp8q__tok_reserve(fp8q__tok_buf *b, size_t more)
{
    size_t nc;
    char *np;
    if (more <= b->cap - b->n) return 1;
    if (more > ((size_t)-1) / 2 - b->n) return 0;
    nc = b->cap ? b->cap : 256;
    while (nc - b->n < more) nc *= 2;
    np = (char *)realloc(b->p, nc);
    if (!np) return 0;
    b->p = np;
    b->cap = nc;
    return 1;
}

static int fp8q__tok_append(fp8q__tok_buf *b, const void *s, size_t n)
{
    if (!fp8q__tok_reserve(b, n + 1)) return 0;
    if (n) FP8Q__MEMCPY(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0; /* room was reserved: strings stay NUL-terminated for messages */
    return 1;
}

/* Appends s[0, n) with every maximal ill-formed UTF-8 subpart replaced by U+FFFD. */
static int fp8q__tok_append_lossy(fp8q__tok_buf *b, const char *s, size_t n)
{
    size_t i = 0, k, bad;
    while (i < n) {
        size_t j = i;
        while (j < n && (k = fp8q__tok_utf8_len((const unsigned char *)s + j, n - j, &bad)) != 0) j += k;
        if (!fp8q__tok_append(b, s + i, j - i)) return 0;
        if (j < n) {
            (void)fp8q__tok_utf8_len((const unsigned char *)s + j, n - j, &bad);
            if (!fp8q__tok_append(b, "\xEF\xBF\xBD", 3)) return 0;
            j += bad;
        }
        i = j;
    }
    return 1;
}

/* ---- hashing */

static uint64_t fp8q__tok_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h ^ (h >> 32);
}

static uint64_t fp8q__tok_pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static size_t fp8q__tok_pair_slot(uint64_t key, size_t mask)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 31)) & mask;
}

/* Smallest power of two >= 2 n (at least 16); 0 on overflow. */
static size_t fp8q__tok_table_size(size_t n)
{
    size_t s = 16;
    while (s < n * 2) {
        if (s > ((size_t)-1) / 4) return 0;
        s *= 2;
    }
    return s;
}

/* ---- the tokenizer */

/* Steps of the pipeline. Normalizers: */
enum { FP8Q__TN_PREPEND = 1, FP8Q__TN_REPLACE };
/* Pre-tokenizers (byte-level mapping is not a step: ByteLevel comes last and sets byte_level): */
enum { FP8Q__TP_DIGITS = 1, FP8Q__TP_PREFIX_SPACE, FP8Q__TP_GPT2, FP8Q__TP_LLAMA3, FP8Q__TP_METASPACE };
/* Decoders: */
enum {
    FP8Q__TD_BYTELEVEL = 1,
    FP8Q__TD_BYTEFALLBACK,
    FP8Q__TD_FUSE,
    FP8Q__TD_REPLACE,
    FP8Q__TD_STRIP,
    FP8Q__TD_METASPACE
};
/* Metaspace prepend_scheme */
enum { FP8Q__TM_NEVER = 0, FP8Q__TM_ALWAYS, FP8Q__TM_FIRST };

#define FP8Q__TOK_MAX_STEPS 16 /* steps of each pipeline stage after flattening Sequences */
#define FP8Q__TOK_MAX_POST  16 /* ids the post-processor adds before / after the text */
#define FP8Q__TOK_MAX_DEPTH 8  /* nested Sequences */

typedef struct fp8q__tok_str {
    size_t off, len; /* bytes [off, off + len) of fp8q_tokenizer.text */
} fp8q__tok_str;

typedef struct fp8q__tok_step {
    int kind;
    int a_num, b_num;   /* Digits: individual; Metaspace: prepend scheme; Strip: start, stop */
    fp8q__tok_str a, b; /* Prepend: a; Replace: a -> b; Metaspace: a = the replacement; Strip: a = the content */
} fp8q__tok_step;

typedef struct fp8q__tok_added {
    fp8q__tok_str content;
    fp8q__tok_str pattern; /* what is matched: content, normalized when the token is "normalized" */
    int32_t id;
    unsigned char special, lstrip, rstrip, normalized;
} fp8q__tok_added;

typedef struct fp8q__tok_idinfo { /* one id's text, for decoding */
    int32_t id;
    unsigned char added, special;
    fp8q__tok_str s;
} fp8q__tok_idinfo;

struct fp8q_tokenizer {
    fp8q__tok_buf text; /* every string the tokenizer holds */
    /* model vocabulary: string -> id through an open-addressing table of (index + 1) */
    size_t n_vocab;
    fp8q__tok_str *vocab;
    int32_t *vocab_id;
    uint32_t *vhash;
    size_t vmask;
    /* merges: (left id, right id) -> rank and merged id; key ~0 = empty */
    size_t n_merges;
    uint64_t *mkey;
    int32_t *mrank, *mnew;
    size_t mmask;
    /* decoding: every id, sorted; dense when idinfo[i].id == i for all i */
    fp8q__tok_idinfo *idinfo;
    size_t n_ids;
    int dense;
    int32_t vocab_size;
    /* added tokens, and for each of the two matching passes (0: not normalized, 1: normalized) their indices
       sorted by (first byte, longer first); pass p's tokens starting with byte b are match[p][first[p][b]..
       first[p][b + 1]) */
    fp8q__tok_added *added;
    size_t n_added;
    size_t *match[2];
    size_t first[2][257];
    /* model */
    int32_t unk;
    int fuse_unk, byte_fallback, ignore_merges, byte_level;
    int32_t byte_id[256];     /* byte-level: the vocab id of each byte's character, -1 if absent */
    int32_t fallback_id[256]; /* the ids of "<0x00>".."<0xFF>", -1 if absent */
    uint32_t byte_char[256];  /* GPT-2's byte -> character map */
    int16_t char_byte[324];   /* and back, for U+0000..U+0143; -1 for the rest */
    /* pipeline */
    fp8q__tok_step norm[FP8Q__TOK_MAX_STEPS], pre[FP8Q__TOK_MAX_STEPS], dec[FP8Q__TOK_MAX_STEPS];
    int n_norm, n_pre, n_dec, has_decoder;
    int32_t post_before[FP8Q__TOK_MAX_POST], post_after[FP8Q__TOK_MAX_POST];
    int n_post_before, n_post_after;
    int32_t bos, eos;
    char *chat_template;
};

FP8QDEF void fp8q_tokenizer_free(fp8q_tokenizer *t)
{
    if (!t) return;
    free(t->text.p);
    free(t->vocab);
    free(t->vocab_id);
    free(t->vhash);
    free(t->mkey);
    free(t->mrank);
    free(t->mnew);
    free(t->idinfo);
    free(t->added);
    free(t->match[0]);
    free(t->match[1]);
    free(t->chat_template);
    free(t);
}

static fp8q_tokenizer *fp8q__tok_new(void)
{
    fp8q_tokenizer *t = (fp8q_tokenizer *)calloc(1, sizeof *t);
    int i;
    if (!t) return NULL;
    t->unk = t->bos = t->eos = -1;
    for (i = 0; i < 256; i++) {
        t->byte_id[i] = t->fallback_id[i] = -1;
        t->byte_char[i] = fp8q__tok_byte_char((unsigned)i);
    }
    for (i = 0; i < 324; i++) t->char_byte[i] = (int16_t)fp8q__tok_char_byte((uint32_t)i);
    return t;
}

static const char *fp8q__tok_s(const fp8q_tokenizer *t, fp8q__tok_str s) { return t->text.p + s.off; }

/* Copies s[0, n) into the tokenizer's text; *out names it. 0 when out of memory. */
static int fp8q__tok_keep(fp8q_tokenizer *t, const char *s, size_t n, fp8q__tok_str *out)
{
    out->off = t->text.n;
    out->len = n;
    if (!fp8q__tok_append(&t->text, s, n)) return 0;
    return fp8q__tok_reserve(&t->text, 1) ? (t->text.n++, 1) : 0; /* keep the NUL: strings print in messages */
}

/* A short, printable quotation of a token for messages: at most 40 bytes, cut at a character boundary. */
static void fp8q__tok_quote(char *out, size_t cap, const char *s, size_t n)
{
    size_t i = 0, k, bad, o = 0;
    while (i < n && o + 8 < cap && i < 40) {
        unsigned char c = (unsigned char)s[i];
        k = fp8q__tok_utf8_len((const unsigned char *)s + i, n - i, &bad);
        if (k > 1 && o + k + 4 < cap) {
            FP8Q__MEMCPY(out + o, s + i, k);
            o += k;
            i += k;
            continue;
        }
        if (c >= 0x20 && c < 0x7F && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02X", c);
        i++;
    }
    if (i < n && o + 4 < cap) out[o++] = '.', out[o++] = '.', out[o++] = '.';
    out[o] = 0;
}

/* ---- vocabulary */

/* The vocab index of s[0, n), or -1. */
static long fp8q__tok_vocab_index(const fp8q_tokenizer *t, const char *s, size_t n)
{
    size_t i;
    if (!t->vhash) return -1;
    for (i = (size_t)fp8q__tok_hash(s, n) & t->vmask;; i = (i + 1) & t->vmask) {
        uint32_t v = t->vhash[i];
        fp8q__tok_str e;
        if (!v) return -1;
        e = t->vocab[v - 1];
        if (e.len == n && memcmp(t->text.p + e.off, s, n) == 0) return (long)(v - 1);
    }
}

static int32_t fp8q__tok_vocab_get(const fp8q_tokenizer *t, const char *s, size_t n)
{
    long i = fp8q__tok_vocab_index(t, s, n);
    return i < 0 ? -1 : t->vocab_id[i];
}

/* Allocates room for n vocabulary entries and their hash table. */
static fp8q_result fp8q__tok_vocab_alloc(fp8q_tokenizer *t, size_t n, fp8q_error *err)
{
    size_t hs = fp8q__tok_table_size(n);
    if (n >= FP8Q_MAX_TOKENIZER_VOCAB || !hs)
        return fp8q__failf(err, FP8Q_ERR_LIMIT, "%lu tokens: more than FP8Q_MAX_TOKENIZER_VOCAB (%ld)",
                           (unsigned long)n, (long)FP8Q_MAX_TOKENIZER_VOCAB);
    t->vocab = (fp8q__tok_str *)malloc((n ? n : 1) * sizeof *t->vocab);
    t->vocab_id = (int32_t *)malloc((n ? n : 1) * sizeof *t->vocab_id);
    t->vhash = (uint32_t *)calloc(hs, sizeof *t->vhash);
    t->vmask = hs - 1;
    if (!t->vocab || !t->vocab_id || !t->vhash)
        return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory for the vocabulary");
    return FP8Q_OK;
}

/* Adds token s[0, n) with id to the vocabulary (room allocated). where names the field for messages ("model.vocab",
   "tokens[5]"); a token already present is an error naming the first one. */
static fp8q_result fp8q__tok_vocab_add(fp8q_tokenizer *t, const char *s, size_t n, int32_t id, const char *where,
                                       fp8q_error *err)
{
    size_t i;
    char q[64];
    if (id < 0 || id >= FP8Q_MAX_TOKENIZER_VOCAB) {
        fp8q__tok_quote(q, sizeof q, s, n);
        return fp8q__failf(err, FP8Q_ERR_PARSE, "%s: '%s' has id %ld, outside [0, %ld)", where, q, (long)id,
                           (long)FP8Q_MAX_TOKENIZER_VOCAB);
    }
    for (i = (size_t)fp8q__tok_hash(s, n) & t->vmask;; i = (i + 1) & t->vmask) {
        uint32_t v = t->vhash[i];
        if (!v) break;
        if (t->vocab[v - 1].len == n && memcmp(t->text.p + t->vocab[v - 1].off, s, n) == 0) {
            fp8q__tok_quote(q, sizeof q, s, n);
            return fp8q__failf(err, FP8Q_ERR_PARSE, "%s: token '%s' appears twice (ids %ld and %ld)", where, q,
                               (long)t->vocab_id[v - 1], (long)id);
        }
    }
    if (!fp8q__tok_keep(t, s, n, &t->vocab[t->n_vocab]))
        return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory for the vocabulary");
    t->vocab_id[t->n_vocab] = id;
    t->vhash[i] = (uint32_t)(++t->n_vocab);
    return FP8Q_OK;
}

/* ---- merges */

static fp8q_result fp8q__tok_merges_alloc(fp8q_tokenizer *t, size_t n, fp8q_error *err)
{
    size_t hs = fp8q__tok_table_size(n), i;
    if (!hs || n > (size_t)INT32_MAX) return fp8q__failf(err, FP8Q_ERR_LIMIT, "%lu merges: too many", (unsigned long)n);
    t->mkey = (uint64_t *)malloc(hs * sizeof *t->mkey);
    t->mrank = (int32_t *)malloc(hs * sizeof *t->mrank);
    t->mnew = (int32_t *)malloc(hs * sizeof *t->mnew);
    if (!t->mkey || !t->mrank || !t->mnew) return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory for the merges");
    for (i = 0; i < hs; i++) t->mkey[i] = ~(uint64_t)0;
    t->mmask = hs - 1;
    return FP8Q_OK;
}

/* Records merge (a, b) -> merged with rank; a pair seen before takes the new rank, as in HF (its HashMap keeps the
   last). Room was allocated for every merge. */
static void fp8q__tok_merge_add(fp8q_tokenizer *t, int32_t a, int32_t b, int32_t rank, int32_t merged)
{
    uint64_t key = fp8q__tok_pair_key(a, b);
    size_t i;
    for (i = fp8q__tok_pair_slot(key, t->mmask); t->mkey[i] != key; i = (i + 1) & t->mmask)
        if (t->mkey[i] == ~(uint64_t)0) {
            t->mkey[i] = key;
            t->n_merges++;
            break;
        }
    t->mrank[i] = rank;
    t->mnew[i] = merged;
}

/* The slot of merge (a, b), or -1. */
static long fp8q__tok_merge_find(const fp8q_tokenizer *t, int32_t a, int32_t b)
{
    uint64_t key = fp8q__tok_pair_key(a, b);
    size_t i;
    if (!t->mkey) return -1;
    for (i = fp8q__tok_pair_slot(key, t->mmask);; i = (i + 1) & t->mmask) {
        if (t->mkey[i] == key) return (long)i;
        if (t->mkey[i] == ~(uint64_t)0) return -1;
    }
}

/* Merge `index` given as its two token strings: both and their concatenation must be in the vocabulary. */
static fp8q_result fp8q__tok_merge_strings(fp8q_tokenizer *t, const char *a, size_t na, const char *b, size_t nb,
                                           size_t index, const char *field, fp8q__tok_buf *scratch, fp8q_error *err)
{
    int32_t ia = fp8q__tok_vocab_get(t, a, na), ib = fp8q__tok_vocab_get(t, b, nb), im;
    char qa[64], qb[64];
    scratch->n = 0;
    if (!fp8q__tok_append(scratch, a, na) || !fp8q__tok_append(scratch, b, nb))
        return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory for the merges");
    im = fp8q__tok_vocab_get(t, scratch->p, scratch->n);
    if (ia < 0 || ib < 0 || im < 0) {
        fp8q__tok_quote(qa, sizeof qa, a, na);
        fp8q__tok_quote(qb, sizeof qb, b, nb);
        if (ia < 0 || ib < 0)
            return fp8q__failf(err, FP8Q_ERR_PARSE, "%s[%lu]: '%s %s': '%s' is not in the vocabulary", field,
                               (unsigned long)index, qa, qb, ia < 0 ? qa : qb);
        return fp8q__failf(err, FP8Q_ERR_PARSE, "%s[%lu]: '%s %s': the merged token is not in the vocabulary", field,
                           (unsigned long)index, qa, qb);
    }
    fp8q__tok_merge_add(t, ia, ib, (int32_t)index, im);
    return FP8Q_OK;
}

/* ---- added tokens */

/* Registers added token content (valid UTF-8, non-empty) with its flags; repeated contents or ids are found and the
   matching tables built by fp8q__tok_finish. Room for n_added + 1 entries must exist. */
static fp8q_result fp8q__tok_added_add(fp8q_tokenizer *t, const char *s, size_t n, int32_t id, int special, int lstrip,
                                       int rstrip, int normalized, const char *where, fp8q_error *err)
{
    fp8q__tok_added *a = &t->added[t->n_added];
    char q[64];
    fp8q__tok_quote(q, sizeof q, s, n);
    if (!n) return fp8q__failf(err, FP8Q_ERR_PARSE, "%s: empty content", where);
    if (id < 0 || id >= FP8Q_MAX_TOKENIZER_VOCAB)
        return fp8q__failf(err, FP8Q_ERR_PARSE, "%s: '%s' has id %ld, outside [0, %ld)", where, q, (long)id,
                           (long)FP8Q_MAX_TOKENIZER_VOCAB);
    if (!fp8q__tok_keep(t, s, n, &a->content)) return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory");
    a->pattern = a->content;
    a->id = id;
    a->special = (unsigned char)(special != 0);
    a->lstrip = (unsigned char)(lstrip != 0);
    a->rstrip = (unsigned char)(rstrip != 0);
    a->normalized = (unsigned char)(normalized != 0);
    t->n_added++;
    return FP8Q_OK;
}

/* ---- normalizers */

/* Appends the normalized form of s[0, n) to out (Prepend and Replace steps in order). */
static int fp8q__tok_normalize(const fp8q_tokenizer *t, const char *s, size_t n, fp8q__tok_buf *out)
{
    fp8q__tok_buf cur = {NULL, 0, 0}, next = {NULL, 0, 0};
    int i, ok = fp8q__tok_append(&cur, s, n);
    for (i = 0; ok && i < t->n_norm; i++) {
        const fp8q__tok_step *st = &t->norm[i];
        const char *a = fp8q__tok_s(t, st->a);
        next.n = 0;
        if (st->kind == FP8Q__TN_PREPEND) {
            ok = cur.n == 0 || (fp8q__tok_append(&next, a, st->a.len) && fp8q__tok_append(&next, cur.p, cur.n));
            if (cur.n == 0) continue;
        } else { /* Replace: every occurrence, left to right, without overlaps */
            size_t j = 0, from = 0;
            while (ok && j + st->a.len <= cur.n) {
                if (memcmp(cur.p + j, a, st->a.len) == 0) {
                    ok = fp8q__tok_append(&next, cur.p + from, j - from) &&
                         fp8q__tok_append(&next, fp8q__tok_s(t, st->b), st->b.len);
                    j += st->a.len;
                    from = j;
                } else
                    j++;
            }
            ok = ok && fp8q__tok_append(&next, cur.p + from, cur.n - from);
        }
        if (ok) {
            fp8q__tok_buf tmp = cur;
            cur = next;
            next = tmp;
        }
    }
    ok = ok && fp8q__tok_append(out, cur.p, cur.n);
    free(cur.p);
    free(next.p);
    return ok;
}

/* ---- finishing a tokenizer: tables derived from the vocabulary, added tokens and pipeline */

typedef struct fp8q__tok_sortkey {
    uint64_t key;
    size_t index;
} fp8q__tok_sortkey;

static int fp8q__tok_cmp_key(const void *a, const void *b)
{
    const fp8q__tok_sortkey *x = (const fp8q__tok_sortkey *)a, *y = (const fp8q__tok_sortkey *)b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Repeated contents or ids among the added tokens are errors. */
static fp8q_result fp8q__tok_added_unique(fp8q_tokenizer *t, const char *field, fp8q_error *err)
{
    size_t n = t->n_added, hs = fp8q__tok_table_size(n), i, k;
    size_t *seen = (size_t *)calloc(hs ? hs : 1, sizeof *seen);
    fp8q__tok_sortkey *ids = (fp8q__tok_sortkey *)malloc((n ? n : 1) * sizeof *ids);
    fp8q_result r = FP8Q_OK;
    char q[64];
    if (!seen || !ids || !hs) r = fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory for the added tokens");
    for (i = 0; r == FP8Q_OK && i < n; i++) {
        fp8q__tok_str c = t->added[i].content;
        for (k = (size_t)fp8q__tok_hash(fp8q__tok_s(t, c), c.len) & (hs - 1); seen[k]; k = (k + 1) & (hs - 1)) {
            fp8q__tok_str o = t->added[seen[k] - 1].content;
            if (o.len == c.len && memcmp(fp8q__tok_s(t, o), fp8q__tok_s(t, c), c.len) == 0) {
                fp8q__tok_quote(q, sizeof q, fp8q__tok_s(t, c), c.len);
                r = fp8q__failf(err, FP8Q_ERR_PARSE, "%s[%lu]: content '%s' repeats %s[%lu]", field, (unsigned long)i,
                                q, field, (unsigned long)(seen[k] - 1));
                break;
            }
        }
        seen[k] = i + 1;
        ids[i].key = (uint64_t)t->added[i].id;
        ids[i].index = i;
    }
    if (r == FP8Q_OK && n) {
        qsort(ids, n, sizeof *ids, fp8q__tok_cmp_key);
        for (i = 1; i < n; i++)
            if (ids[i].key == ids[i - 1].key) {
                r = fp8q__failf(err, FP8Q_ERR_PARSE, "%s[%lu]: id %ld repeats %s[%lu]", field,
                                (unsigned long)ids[i].index, (long)ids[i].key, field, (unsigned long)ids[i - 1].index);
                break;
            }
    }
    free(seen);
    free(ids);
    return r;
}

/* The matching tables: for each pass, token indices sorted by (first byte, longer first). */
static fp8q_result fp8q__tok_build_match(fp8q_tokenizer *t, fp8q_error *err)
{
    int p;
    size_t i, n = t->n_added;
    fp8q__tok_sortkey *keys = (fp8q__tok_sortkey *)malloc((n ? n : 1) * sizeof *keys);
    if (!keys) return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory for the added tokens");
    for (p = 0; p < 2; p++) {
        size_t m = 0, b;
        t->match[p] = (size_t *)malloc((n ? n : 1) * sizeof(size_t));
        if (!t->match[p]) {
            free(keys);
            return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory for the added tokens");
        }
        for (i = 0; i < n; i++) {
            const fp8q__tok_added *a = &t->added[i];
            if (a->normalized != p || !a->pattern.len) continue;
            keys[m].key = ((uint64_t)(unsigned char)fp8q__tok_s(t, a->pattern)[0] << 40) |
                          (((uint64_t)1 << 40) - 1 - (uint64_t)a->pattern.len);
            keys[m++].index = i;
        }
        qsort(keys, m, sizeof *keys, fp8q__tok_cmp_key);
        for (i = 0; i < m; i++) t->match[p][i] = keys[i].index;
        for (b = 0, i = 0; b <= 256; b++) {
            while (i < m && (keys[i].key >> 40) < b) i++;
            t->first[p][b] = i;
        }
    }
    free(keys);
    return FP8Q_OK;
}

static int fp8q__tok_cmp_idinfo(const void *a, const void *b)
{
    const fp8q__tok_idinfo *x = (const fp8q__tok_idinfo *)a, *y = (const fp8q__tok_idinfo *)b;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return (int)x->added - (int)y->added;
}

/* idinfo: every id once, sorted; an added token replaces the vocabulary entry with its id (as HF's id_to_token
   looks at the added vocabulary first). Two vocabulary tokens with one id are an error. */
static fp8q_result fp8q__tok_build_ids(fp8q_tokenizer *t, const char *vocab_field, fp8q_error *err)
{
    size_t n = t->n_vocab + t->n_added, i, k = 0;
    fp8q__tok_idinfo *v = (fp8q__tok_idinfo *)malloc((n ? n : 1) * sizeof *v);
    if (!v) return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory for the vocabulary");
    for (i = 0; i < t->n_vocab; i++) {
        v[i].id = t->vocab_id[i];
        v[i].added = v[i].special = 0;
        v[i].s = t->vocab[i];
    }
    for (i = 0; i < t->n_added; i++) {
        fp8q__tok_idinfo *e = &v[t->n_vocab + i];
        e->id = t->added[i].id;
        e->added = 1;
        e->special = t->added[i].special;
        e->s = t->added[i].pattern; /* HF's id_to_token gives a normalized token's normalized content */
    }
    qsort(v, n, sizeof *v, fp8q__tok_cmp_idinfo);
    for (i = 0; i < n; i++) {
        if (k && v[k - 1].id == v[i].id) {
            if (!v[i].added) {
                char q[64];
                long id = (long)v[i].id;
                fp8q__tok_quote(q, sizeof q, fp8q__tok_s(t, v[i].s), v[i].s.len);
                free(v);
                return fp8q__failf(err, FP8Q_ERR_PARSE, "%s: id %ld is used by two tokens (one is '%s')", vocab_field,
                                   id, q);
            }
            v[k - 1] = v[i]; /* the added token wins */
            continue;
        }
        v[k++] = v[i];
    }
    t->idinfo = v;
    t->n_ids = k;
    t->vocab_size = k ? v[k - 1].id + 1 : 0;
    t->dense = k == 0 || (size_t)t->vocab_size == k;
    return FP8Q_OK;
}

/* The idinfo entry of id, or NULL. */
static const fp8q__tok_idinfo *fp8q__tok_id(const fp8q_tokenizer *t, int32_t id)
{
    size_t lo = 0, hi = t->n_ids;
    if (id < 0 || id >= t->vocab_size) return NULL;
    if (t->dense) return &t->idinfo[id];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->idinfo[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->n_ids && t->idinfo[lo].id == id ? &t->idinfo[lo] : NULL;
}

/* Everything derived once the vocabulary, merges, added tokens and pipeline are in: normalized added-token
   patterns, matching tables, the id table, byte tables, the unk check. */
static fp8q_result fp8q__tok_finish(fp8q_tokenizer *t, const char *added_field, const char *vocab_field,
                                    fp8q_error *err)
{
    size_t i;
    fp8q_result r = fp8q__tok_added_unique(t, added_field, err);
    if (r != FP8Q_OK) return r;
    for (i = 0; i < t->n_added; i++) {
        fp8q__tok_added *a = &t->added[i];
        fp8q__tok_buf nb = {NULL, 0, 0};
        int ok;
        if (!a->normalized || !t->n_norm) continue;
        ok = fp8q__tok_normalize(t, fp8q__tok_s(t, a->content), a->content.len, &nb) &&
             fp8q__tok_keep(t, nb.p ? nb.p : "", nb.n, &a->pattern);
        free(nb.p);
        if (!ok) return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory for the added tokens");
    }
    if ((r = fp8q__tok_build_match(t, err)) != FP8Q_OK) return r;
    if ((r = fp8q__tok_build_ids(t, vocab_field, err)) != FP8Q_OK) return r;
    for (i = 0; i < 256; i++) {
        char s[8];
        size_t n = fp8q__tok_put_cp(s, t->byte_char[i]);
        t->byte_id[i] = fp8q__tok_vocab_get(t, s, n);
        (void)snprintf(s, sizeof s, "<0x%02X>", (unsigned)i);
        t->fallback_id[i] = fp8q__tok_vocab_get(t, s, 6);
    }
    if (t->bos < 0 && t->n_post_before > 0) t->bos = t->post_before[0];
    return FP8Q_OK;
}

/* ---- encoding: pieces of text */

/* A piece of the text being encoded: bytes [off, off + len) of the run's buffer; id >= 0 when it is already an
   added token; at_start when it begins the input text (Metaspace's "first" scheme). */
typedef struct fp8q__tok_piece {
    size_t off, len;
    int32_t id;
    int at_start;
} fp8q__tok_piece;

typedef struct fp8q__tok_sym { /* a BPE symbol: a token of the word being merged, in a linked list */
    int32_t id, prev, next;
    uint32_t len; /* bytes; 0 once merged into its left neighbour */
} fp8q__tok_sym;

typedef struct fp8q__tok_cand { /* a merge candidate: (rank, pos) orders the queue */
    int32_t rank, pos, id;
} fp8q__tok_cand;

typedef struct fp8q__tok_run {
    const fp8q_tokenizer *t;
    int flags;
    fp8q__tok_buf buf; /* the text and every rewritten piece */
    fp8q__tok_piece *p, *q;
    size_t np, nq, capp, capq;
    fp8q__tok_sym *sym;
    fp8q__tok_cand *heap;
    size_t cap_sym, cap_heap;
    fp8q__tok_buf word; /* the byte-level word as characters (ignore_merges) */
    int32_t *ids;
    size_t cap, n;
} fp8q__tok_run;

static void fp8q__tok_emit(fp8q__tok_run *r, int32_t id)
{
    if (r->n < r->cap) r->ids[r->n] = id;
    r->n++;
}

/* Appends a piece to the output list q (empty text pieces are dropped, as HF drops empty splits). */
static int fp8q__tok_push(fp8q__tok_run *r, size_t off, size_t len, int32_t id, int at_start)
{
    if (id < 0 && len == 0) return 1;
    if (r->nq == r->capq) {
        size_t nc = r->capq ? r->capq * 2 : 64;
        fp8q__tok_piece *np;
        if (nc > ((size_t)-1) / sizeof *np) return 0;
        np = (fp8q__tok_piece *)realloc(r->q, nc * sizeof *np);
        if (!np) return 0;
        r->q = np;
        r->capq = nc;
    }
    r->q[r->nq].off = off;
    r->q[r->nq].len = len;
    r->q[r->nq].id = id;
    r->q[r->nq].at_start = at_start;
    r->nq++;
    return 1;
}

/* q becomes the current list p (and p's storage the next q). */
static void fp8q__tok_swap(fp8q__tok_run *r)
{
    fp8q__tok_piece *tp = r->p;
    size_t tc = r->capp;
    r->p = r->q;
    r->np = r->nq;
    r->capp = r->capq;
    r->q = tp;
    r->capq = tc;
    r->nq = 0;
}

/* ---- added tokens in the text */

/* The added token of pass p (index into t->added) matching at s[0, n), the longest, or -1. */
static long fp8q__tok_match_at(const fp8q_tokenizer *t, int p, const char *s, size_t n)
{
    unsigned b = (unsigned char)s[0];
    size_t k;
    for (k = t->first[p][b]; k < t->first[p][b + 1]; k++) {
        const fp8q__tok_added *a = &t->added[t->match[p][k]];
        if (a->pattern.len <= n && memcmp(fp8q__tok_s(t, a->pattern), s, a->pattern.len) == 0)
            return (long)t->match[p][k];
    }
    return -1;
}

static size_t fp8q__tok_space_before(const char *s, size_t start, size_t end)
{ /* the start of the white space (char::is_whitespace) that ends s[start, end) */
    while (end > start) {
        size_t i = end - 1, k;
        while (i > start && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
        if (!fp8q__tok_is_space(fp8q__tok_cp((const unsigned char *)s + i, &k))) break;
        end = i;
    }
    return end;
}

static size_t fp8q__tok_space_after(const char *s, size_t start, size_t end)
{ /* the end of the white space that starts s[start, end) */
    while (start < end) {
        size_t k;
        if (!fp8q__tok_is_space(fp8q__tok_cp((const unsigned char *)s + start, &k))) break;
        start += k;
    }
    return start;
}

/* Splits every text piece on the added tokens of pass p, as HF's AddedVocabulary::find_matches: leftmost-longest
   matches, special ones skipped (but consumed) without FP8Q_TOK_PARSE_SPECIAL, lstrip/rstrip taking the white
   space around a match into it. */
static int fp8q__tok_split_added(fp8q__tok_run *r, int p)
{
    const fp8q_tokenizer *t = r->t;
    size_t i;
    for (i = 0; i < r->np; i++) {
        fp8q__tok_piece pc = r->p[i];
        size_t pos = 0, from = 0, end = pc.len; /* offsets within the piece */
        const char *s = r->buf.p + pc.off;
        if (pc.id >= 0 || t->first[p][256] == 0) {
            if (!fp8q__tok_push(r, pc.off, pc.len, pc.id, pc.at_start)) return 0;
            continue;
        }
        while (pos < end) {
            long m = fp8q__tok_match_at(t, p, s + pos, end - pos);
            const fp8q__tok_added *a;
            size_t start, stop;
            if (m < 0) {
                pos++;
                continue;
            }
            a = &t->added[m];
            start = pos;
            stop = pos + a->pattern.len;
            pos = stop;
            if (a->special && !(r->flags & FP8Q_TOK_PARSE_SPECIAL)) continue;
            if (a->lstrip) start = fp8q__tok_space_before(s, from, start);
            if (a->rstrip) stop = fp8q__tok_space_after(s, stop, end);
            if (!fp8q__tok_push(r, pc.off + from, start - from, -1, pc.at_start && from == 0) ||
                !fp8q__tok_push(r, pc.off + start, stop - start, a->id, 0))
                return 0;
            from = pos = stop;
        }
        if (!fp8q__tok_push(r, pc.off + from, end - from, -1, pc.at_start && from == 0)) return 0;
    }
    fp8q__tok_swap(r);
    return 1;
}

/* Each text piece replaced by its normalized form. */
static int fp8q__tok_normalize_pieces(fp8q__tok_run *r)
{
    size_t i;
    for (i = 0; i < r->np; i++) {
        fp8q__tok_piece pc = r->p[i];
        size_t off = r->buf.n;
        if (pc.id < 0) {
            fp8q__tok_buf tmp = {NULL, 0, 0};
            int ok =
                fp8q__tok_normalize(r->t, r->buf.p + pc.off, pc.len, &tmp) && fp8q__tok_append(&r->buf, tmp.p, tmp.n);
            free(tmp.p);
            if (!ok) return 0;
            pc.off = off;
            pc.len = r->buf.n - off;
        }
        if (!fp8q__tok_push(r, pc.off, pc.len, pc.id, pc.at_start)) return 0;
    }
    fp8q__tok_swap(r);
    return 1;
}

/* ---- pre-tokenizers */

/* The class and length of the character at s[i] (i < n). */
static int fp8q__tok_class_at(const char *s, size_t i, size_t *k)
{
    return fp8q__tok_uclass_of(fp8q__tok_cp((const unsigned char *)s + i, k));
}

static int fp8q__tok_regex_other(int c) { return c == FP8Q__UC_OTHER || c == FP8Q__UC_RUST_NUMBER; }

/* End of the run of characters of class c (FP8Q__UC_LETTER, _NUMBER, _SPACE, or -1 for [^\s\p{L}\p{N}])
   starting at s[i]; at most max characters. */
static size_t fp8q__tok_run_of(const char *s, size_t n, size_t i, int c, size_t max)
{
    size_t k;
    while (i < n && max-- > 0) {
        int ci = fp8q__tok_class_at(s, i, &k);
        if (c < 0 ? !fp8q__tok_regex_other(ci) : ci != c) break;
        i += k;
    }
    return i;
}

/* \s+(?!\S)|\s+ at i (a white-space character): all of the run when it ends the text, else all but its last
   character, else (a run of one) that character. */
static size_t fp8q__tok_space_match(const char *s, size_t n, size_t i)
{
    size_t e = fp8q__tok_run_of(s, n, i, FP8Q__UC_SPACE, (size_t)-1), last = e - 1;
    if (e == n) return e;
    while (last > i && ((unsigned char)s[last] & 0xC0) == 0x80) last--; /* the start of the run's last character */
    return last > i ? last : e;
}

/* The end of GPT-2's match at i:
   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static size_t fp8q__tok_gpt2_match(const char *s, size_t n, size_t i)
{
    size_t j = i, k;
    int c;
    if (s[i] == '\'' && i + 1 < n) {
        char a = s[i + 1], b = i + 2 < n ? s[i + 2] : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    }
    if (s[i] == ' ' && i + 1 < n) j = i + 1;
    c = fp8q__tok_class_at(s, j, &k);
    if (c == FP8Q__UC_LETTER || c == FP8Q__UC_NUMBER) return fp8q__tok_run_of(s, n, j, c, (size_t)-1);
    if (fp8q__tok_regex_other(c)) return fp8q__tok_run_of(s, n, j, -1, (size_t)-1);
    return fp8q__tok_space_match(s, n, i);
}

static int fp8q__tok_ieq(char c, char lower) { return c == lower || c == lower - 32; }

/* The end of Llama-3's match at i:
   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|
   \s+(?!\S)|\s+   ((?i) folds U+017F to 's' as Oniguruma does) */
static size_t fp8q__tok_llama3_match(const char *s, size_t n, size_t i)
{
    size_t k, j, e, p;
    int c;
    if (s[i] == '\'' && i + 1 < n) {
        char a = s[i + 1], b = i + 2 < n ? s[i + 2] : 0;
        if (fp8q__tok_ieq(a, 's') || fp8q__tok_ieq(a, 't') || fp8q__tok_ieq(a, 'm') || fp8q__tok_ieq(a, 'd'))
            return i + 2;
        if (i + 2 < n && (unsigned char)a == 0xC5 && (unsigned char)b == 0xBF) return i + 3; /* U+017F */
        if ((fp8q__tok_ieq(a, 'r') && fp8q__tok_ieq(b, 'e')) || (fp8q__tok_ieq(a, 'v') && fp8q__tok_ieq(b, 'e')) ||
            (fp8q__tok_ieq(a, 'l') && fp8q__tok_ieq(b, 'l')))
            return i + 3;
    }
    c = fp8q__tok_class_at(s, i, &k);
    if (c == FP8Q__UC_LETTER) return fp8q__tok_run_of(s, n, i, FP8Q__UC_LETTER, (size_t)-1);
    if (c != FP8Q__UC_NUMBER && s[i] != '\r' && s[i] != '\n' && i + k < n &&
        fp8q__tok_class_at(s, i + k, &j) == FP8Q__UC_LETTER)
        return fp8q__tok_run_of(s, n, i + k, FP8Q__UC_LETTER, (size_t)-1);
    if (c == FP8Q__UC_NUMBER) return fp8q__tok_run_of(s, n, i, FP8Q__UC_NUMBER, 3);
    j = s[i] == ' ' && i + 1 < n ? i + 1 : i;
    if (fp8q__tok_regex_other(fp8q__tok_class_at(s, j, &k))) {
        e = fp8q__tok_run_of(s, n, j, -1, (size_t)-1);
        while (e < n && (s[e] == '\r' || s[e] == '\n')) e++;
        return e;
    }
    /* white space: up to its last CR or LF, else as GPT-2 */
    e = fp8q__tok_run_of(s, n, i, FP8Q__UC_SPACE, (size_t)-1);
    for (p = e; p > i; p--)
        if (s[p - 1] == '\r' || s[p - 1] == '\n') return p;
    return fp8q__tok_space_match(s, n, i);
}

/* Metaspace: ' ' -> replacement, the replacement prepended (always, or for the piece that starts the text), and
   with split (b_num) a new piece at each replacement (HF's MergedWithNext). */
static int fp8q__tok_metaspace(fp8q__tok_run *r, const fp8q__tok_step *st, fp8q__tok_piece pc)
{
    const fp8q_tokenizer *t = r->t;
    const char *rep = fp8q__tok_s(t, st->a);
    size_t rl = st->a.len, off = r->buf.n, i, from;
    int starts = r->buf.p[pc.off] == ' ' || (pc.len >= rl && memcmp(r->buf.p + pc.off, rep, rl) == 0), ok = 1;
    if (!starts && (st->a_num == FP8Q__TM_ALWAYS || (st->a_num == FP8Q__TM_FIRST && pc.at_start)))
        ok = fp8q__tok_append(&r->buf, rep, rl);
    for (i = 0; ok && i < pc.len; i++) {
        char c = r->buf.p[pc.off + i];
        ok = c == ' ' ? fp8q__tok_append(&r->buf, rep, rl) : fp8q__tok_append(&r->buf, &c, 1);
    }
    if (!ok) return 0;
    if (!st->b_num) return fp8q__tok_push(r, off, r->buf.n - off, -1, pc.at_start);
    for (from = off, i = off + 1; i + rl <= r->buf.n; i++)
        if (memcmp(r->buf.p + i, rep, rl) == 0) {
            if (!fp8q__tok_push(r, from, i - from, -1, pc.at_start && from == off)) return 0;
            from = i;
        }
    return fp8q__tok_push(r, from, r->buf.n - from, -1, pc.at_start && from == off);
}

/* Applies pre-tokenizer step st to every text piece. */
static int fp8q__tok_pre_step(fp8q__tok_run *r, const fp8q__tok_step *st)
{
    size_t i;
    for (i = 0; i < r->np; i++) {
        fp8q__tok_piece pc = r->p[i];
        const char *s;
        size_t pos = 0, k;
        if (pc.id >= 0) {
            if (!fp8q__tok_push(r, pc.off, pc.len, pc.id, 0)) return 0;
            continue;
        }
        if (st->kind == FP8Q__TP_METASPACE) {
            if (!fp8q__tok_metaspace(r, st, pc)) return 0;
            continue;
        }
        if (st->kind == FP8Q__TP_PREFIX_SPACE) {
            size_t off = r->buf.n;
            if (r->buf.p[pc.off] == ' ') {
                if (!fp8q__tok_push(r, pc.off, pc.len, -1, pc.at_start)) return 0;
                continue;
            }
            if (!fp8q__tok_reserve(&r->buf, pc.len + 2)) return 0;
            r->buf.p[r->buf.n++] = ' ';
            FP8Q__MEMCPY(r->buf.p + r->buf.n, r->buf.p + pc.off, pc.len);
            r->buf.n += pc.len;
            if (!fp8q__tok_push(r, off, pc.len + 1, -1, pc.at_start)) return 0;
            continue;
        }
        s = r->buf.p + pc.off;
        while (pos < pc.len) {
            size_t end;
            if (st->kind == FP8Q__TP_GPT2)
                end = fp8q__tok_gpt2_match(s, pc.len, pos);
            else if (st->kind == FP8Q__TP_LLAMA3)
                end = fp8q__tok_llama3_match(s, pc.len, pos);
            else { /* Digits: each numeric character alone, or numeric and other runs */
                int num = fp8q__tok_is_numeric(fp8q__tok_cp((const unsigned char *)s + pos, &k));
                end = pos + k;
                if (!num || !st->a_num)
                    while (end < pc.len &&
                           fp8q__tok_is_numeric(fp8q__tok_cp((const unsigned char *)s + end, &k)) == num)
                        end += k;
            }
            if (!fp8q__tok_push(r, pc.off + pos, end - pos, -1, pc.at_start && pos == 0)) return 0;
            pos = end;
        }
    }
    fp8q__tok_swap(r);
    return 1;
}

/* ---- BPE */

/* Grows *p (elements of size elem) to hold need; 0 when out of memory or too large. */
static int fp8q__tok_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    void *np;
    if (need <= *cap) return 1;
    if (need > ((size_t)-1) / 2 / elem) return 0;
    np = realloc(*p, need * elem);
    if (!np) return 0;
    *p = np;
    *cap = need;
    return 1;
}

static int fp8q__tok_cand_before(const fp8q__tok_cand *a, const fp8q__tok_cand *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void fp8q__tok_heap_push(fp8q__tok_cand *h, size_t *n, fp8q__tok_cand c)
{
    size_t i = (*n)++;
    while (i > 0 && fp8q__tok_cand_before(&c, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = c;
}

static fp8q__tok_cand fp8q__tok_heap_pop(fp8q__tok_cand *h, size_t *n)
{
    fp8q__tok_cand top = h[0], last = h[--*n];
    size_t i = 0, m = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && fp8q__tok_cand_before(&h[c + 1], &h[c])) c++;
        if (!fp8q__tok_cand_before(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (m) h[i] = last;
    return top;
}

/* Pushes the merge of symbol pos with its right neighbour, if there is one. */
static void fp8q__tok_candidate(const fp8q_tokenizer *t, fp8q__tok_run *r, size_t *nh, int32_t pos)
{
    const fp8q__tok_sym *a = &r->sym[pos];
    long m;
    if (a->next < 0) return;
    m = fp8q__tok_merge_find(t, a->id, r->sym[a->next].id);
    if (m >= 0) {
        fp8q__tok_cand c;
        c.rank = t->mrank[m];
        c.pos = pos;
        c.id = t->mnew[m];
        fp8q__tok_heap_push(r->heap, nh, c);
    }
}

static void fp8q__tok_sym_add(fp8q__tok_run *r, size_t *ns, int32_t id, uint32_t len)
{
    fp8q__tok_sym *s = &r->sym[*ns];
    s->id = id;
    s->len = len;
    s->prev = (int32_t)*ns - 1;
    s->next = -1;
    if (*ns) r->sym[*ns - 1].next = (int32_t)*ns;
    (*ns)++;
}

/* The initial symbols of a word, as HF's BPE::merge_word: each character's token, else its <0xNN> byte tokens
   (byte_fallback, all or none), else the unk token (consecutive ones fused with fuse_unk), else nothing. c is the
   character as the vocabulary spells it (for byte-level words, the byte's GPT-2 character). */
static void fp8q__tok_initial_symbol(fp8q__tok_run *r, size_t *ns, const char *c, size_t k, int32_t id,
                                     uint32_t *unk_len)
{
    const fp8q_tokenizer *t = r->t;
    size_t b;
    if (id >= 0) {
        if (*unk_len) fp8q__tok_sym_add(r, ns, t->unk, *unk_len);
        *unk_len = 0;
        fp8q__tok_sym_add(r, ns, id, (uint32_t)k);
        return;
    }
    if (t->byte_fallback) {
        for (b = 0; b < k && t->fallback_id[(unsigned char)c[b]] >= 0; b++) {
        }
        if (b == k) { /* HF adds them without flushing a pending unk */
            for (b = 0; b < k; b++) fp8q__tok_sym_add(r, ns, t->fallback_id[(unsigned char)c[b]], 1);
            return;
        }
    }
    if (t->unk < 0) return;
    if (*unk_len && !t->fuse_unk) {
        fp8q__tok_sym_add(r, ns, t->unk, *unk_len);
        *unk_len = 0;
    }
    *unk_len += (uint32_t)k;
}

/* Tokenizes one pre-token s[0, n) with the model and emits its ids. 0: out of memory. */
static int fp8q__tok_bpe(fp8q__tok_run *r, const char *s, size_t n)
{
    const fp8q_tokenizer *t = r->t;
    size_t ns = 0, nh = 0, i, k;
    uint32_t unk_len = 0;
    if (t->byte_level && (t->ignore_merges || t->byte_fallback || t->unk >= 0)) { /* the word as characters */
        r->word.n = 0;
        for (i = 0; i < n; i++) {
            char c[4];
            if (!fp8q__tok_append(&r->word, c, fp8q__tok_put_cp(c, t->byte_char[(unsigned char)s[i]]))) return 0;
        }
    }
    if (t->ignore_merges) {
        int32_t id = t->byte_level ? fp8q__tok_vocab_get(t, r->word.p, r->word.n) : fp8q__tok_vocab_get(t, s, n);
        if (id >= 0) {
            fp8q__tok_emit(r, id);
            return 1;
        }
    }
    if (!fp8q__tok_grow((void **)&r->sym, &r->cap_sym, n, sizeof *r->sym) ||
        !fp8q__tok_grow((void **)&r->heap, &r->cap_heap, 3 * n + 1, sizeof *r->heap))
        return 0;
    if (t->byte_level) {
        size_t w = 0;
        for (i = 0; i < n; i++) {
            unsigned b = (unsigned char)s[i];
            size_t cl = t->byte_char[b] < 0x80 ? 1 : 2;
            fp8q__tok_initial_symbol(r, &ns, r->word.p ? r->word.p + w : NULL, cl, t->byte_id[b], &unk_len);
            w += cl;
        }
    } else
        for (i = 0; i < n; i += k) {
            (void)fp8q__tok_cp((const unsigned char *)s + i, &k);
            fp8q__tok_initial_symbol(r, &ns, s + i, k, fp8q__tok_vocab_get(t, s + i, k), &unk_len);
        }
    if (unk_len) fp8q__tok_sym_add(r, &ns, t->unk, unk_len);
    for (i = 0; i + 1 < ns; i++) fp8q__tok_candidate(t, r, &nh, (int32_t)i);
    while (nh) { /* HF's Word::merge_all: lowest rank first, then leftmost; stale entries skipped */
        fp8q__tok_cand c = fp8q__tok_heap_pop(r->heap, &nh);
        fp8q__tok_sym *a = &r->sym[c.pos];
        long m;
        int32_t nx;
        if (a->len == 0 || a->next < 0) continue;
        nx = a->next;
        m = fp8q__tok_merge_find(t, a->id, r->sym[nx].id);
        if (m < 0 || t->mnew[m] != c.id) continue;
        a->id = c.id;
        a->len += r->sym[nx].len;
        a->next = r->sym[nx].next;
        r->sym[nx].len = 0;
        if (a->next >= 0) r->sym[a->next].prev = c.pos;
        if (a->prev >= 0) fp8q__tok_candidate(t, r, &nh, a->prev);
        fp8q__tok_candidate(t, r, &nh, c.pos);
    }
    for (i = 0; i < ns; i++)
        if (r->sym[i].len) fp8q__tok_emit(r, r->sym[i].id);
    return 1;
}

/* ---- encode */

static fp8q_result fp8q__tok_encode_run(fp8q__tok_run *r, const char *text, size_t len, fp8q_error *err)
{
    const fp8q_tokenizer *t = r->t;
    size_t i;
    int s;
    if (!fp8q__tok_append_lossy(&r->buf, text, len) || !fp8q__tok_push(r, 0, r->buf.n, -1, 1)) goto nomem;
    fp8q__tok_swap(r);
    if (!fp8q__tok_split_added(r, 0)) goto nomem;
    if (t->n_norm && !fp8q__tok_normalize_pieces(r)) goto nomem;
    if (!fp8q__tok_split_added(r, 1)) goto nomem;
    for (s = 0; s < t->n_pre; s++)
        if (!fp8q__tok_pre_step(r, &t->pre[s])) goto nomem;
    if (r->flags & FP8Q_TOK_ADD_SPECIAL)
        for (s = 0; s < t->n_post_before; s++) fp8q__tok_emit(r, t->post_before[s]);
    for (i = 0; i < r->np; i++) {
        const fp8q__tok_piece *pc = &r->p[i];
        if (pc->id >= 0)
            fp8q__tok_emit(r, pc->id);
        else if (pc->len > (size_t)INT32_MAX / 3)
            return fp8q__failf(err, FP8Q_ERR_LIMIT, "fp8q_tokenizer_encode: a pre-token of %lu bytes is too long",
                               (unsigned long)pc->len);
        else if (!fp8q__tok_bpe(r, r->buf.p + pc->off, pc->len))
            goto nomem;
    }
    if (r->flags & FP8Q_TOK_ADD_SPECIAL)
        for (s = 0; s < t->n_post_after; s++) fp8q__tok_emit(r, t->post_after[s]);
    return FP8Q_OK;
nomem:
    return fp8q__failf(err, FP8Q_ERR_NOMEM, "fp8q_tokenizer_encode: out of memory");
}

FP8QDEF fp8q_result fp8q_tokenizer_encode(const fp8q_tokenizer *t, const char *text, size_t len, int flags,
                                          int32_t *ids, size_t cap, size_t *n_ids, fp8q_error *err)
{
    fp8q__tok_run r;
    fp8q_result res;
    fp8q__st_err_ok(err);
    if (n_ids) *n_ids = 0;
    if (!t || !n_ids || (!text && len) || (!ids && cap) || (flags & ~(FP8Q_TOK_ADD_SPECIAL | FP8Q_TOK_PARSE_SPECIAL)))
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_tokenizer_encode: %s",
                           !t               ? "t is NULL"
                           : !n_ids         ? "n_ids is NULL"
                           : (!text && len) ? "text is NULL"
                           : (!ids && cap)  ? "ids is NULL with cap > 0"
                                            : "unknown flags");
    memset(&r, 0, sizeof r);
    r.t = t;
    r.flags = flags;
    r.ids = ids;
    r.cap = cap;
    res = fp8q__tok_encode_run(&r, text ? text : "", len, err);
    free(r.buf.p);
    free(r.p);
    free(r.q);
    free(r.sym);
    free(r.heap);
    free(r.word.p);
    if (res != FP8Q_OK) return res;
    *n_ids = r.n;
    if (r.n > cap)
        return fp8q__failf(err, FP8Q_ERR_LIMIT, "fp8q_tokenizer_encode: %lu ids do not fit in cap %lu",
                           (unsigned long)r.n, (unsigned long)cap);
    return FP8Q_OK;
}

/* ---- decode */

/* A list of token strings, each [off, off + len) of buf. */
typedef struct fp8q__tok_list {
    fp8q__tok_buf buf;
    fp8q__tok_str *s;
    size_t n, cap;
} fp8q__tok_list;

static int fp8q__tok_list_add(fp8q__tok_list *l, const char *s, size_t n)
{
    if (l->n == l->cap && !fp8q__tok_grow((void **)&l->s, &l->cap, 2 * l->cap + 16, sizeof *l->s)) return 0;
    l->s[l->n].off = l->buf.n;
    l->s[l->n].len = n;
    l->n++;
    return fp8q__tok_append(&l->buf, s, n);
}

static void fp8q__tok_list_free(fp8q__tok_list *l)
{
    free(l->buf.p);
    free(l->s);
}

/* The byte a <0xNN> token stands for (Rust's u8::from_str_radix of its 2 middle characters: hex digits, or '+'
   and one digit), or -1. */
static int fp8q__tok_fallback_byte(const char *s, size_t n)
{
    int v = 0, i;
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    for (i = (s[3] == '+') ? 4 : 3; i < 5; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : (c | 32) >= 'a' && (c | 32) <= 'f' ? (c | 32) - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Appends the bytes a byte-level token stands for (each character mapped back by GPT-2's table), or, when one of
   its characters is not in the table, the token itself. */
static int fp8q__tok_byte_level_bytes(const fp8q_tokenizer *t, const char *s, size_t n, fp8q__tok_buf *out)
{
    size_t i = 0, k, start = out->n;
    while (i < n) {
        uint32_t cp = fp8q__tok_cp((const unsigned char *)s + i, &k);
        char b;
        if (cp >= 324 || t->char_byte[cp] < 0) {
            out->n = start;
            return fp8q__tok_append(out, s, n);
        }
        b = (char)t->char_byte[cp];
        if (!fp8q__tok_append(out, &b, 1)) return 0;
        i += k;
    }
    return 1;
}

/* Appends s with every occurrence of what (non-empty) replaced by with. */
static int fp8q__tok_replace_into(fp8q__tok_buf *out, const char *s, size_t n, const char *what, size_t wl,
                                  const char *with, size_t withl)
{
    size_t i = 0, from = 0;
    while (i + wl <= n) {
        if (memcmp(s + i, what, wl) == 0) {
            if (!fp8q__tok_append(out, s + from, i - from) || !fp8q__tok_append(out, with, withl)) return 0;
            i += wl;
            from = i;
        } else
            i++;
    }
    return fp8q__tok_append(out, s + from, n - from);
}

/* One decoder step over the list in, into out (empty). */
static int fp8q__tok_decode_step(const fp8q_tokenizer *t, const fp8q__tok_step *st, const fp8q__tok_list *in,
                                 fp8q__tok_list *out)
{
    fp8q__tok_buf tmp = {NULL, 0, 0};
    size_t i, nbytes = 0;
    int ok = 1;
    const char *a = fp8q__tok_s(t, st->a);
    for (i = 0; ok && i < in->n; i++) {
        const char *s = in->buf.p + in->s[i].off;
        size_t n = in->s[i].len, c;
        int b;
        switch (st->kind) {
        case FP8Q__TD_BYTELEVEL: ok = fp8q__tok_byte_level_bytes(t, s, n, &tmp); break;
        case FP8Q__TD_FUSE: ok = fp8q__tok_append(&tmp, s, n); break;
        case FP8Q__TD_BYTEFALLBACK:
            b = fp8q__tok_fallback_byte(s, n);
            if (b >= 0) {
                char ch = (char)b;
                ok = fp8q__tok_append(&tmp, &ch, 1);
                nbytes++;
            }
            if (nbytes && (b < 0 || i + 1 == in->n)) { /* flush: valid UTF-8 as one token, else one U+FFFD each */
                if (fp8q__tok_valid_utf8(tmp.p, tmp.n))
                    ok = ok && fp8q__tok_list_add(out, tmp.p, tmp.n);
                else
                    for (c = 0; ok && c < nbytes; c++) ok = fp8q__tok_list_add(out, "\xEF\xBF\xBD", 3);
                tmp.n = 0;
                nbytes = 0;
            }
            if (b < 0) ok = ok && fp8q__tok_list_add(out, s, n);
            break;
        case FP8Q__TD_REPLACE:
            tmp.n = 0;
            ok = fp8q__tok_replace_into(&tmp, s, n, a, st->a.len, fp8q__tok_s(t, st->b), st->b.len) &&
                 fp8q__tok_list_add(out, tmp.p, tmp.n);
            break;
        case FP8Q__TD_METASPACE:
            tmp.n = 0;
            ok = fp8q__tok_replace_into(&tmp, s, n, a, st->a.len, " ",
                                        (i == 0 && st->a_num != FP8Q__TM_NEVER) ? 0 : 1) &&
                 fp8q__tok_list_add(out, tmp.p, tmp.n);
            break;
        default: { /* Strip: up to a_num leading and b_num trailing copies of the content character */
            size_t from = 0, to = n;
            int cut;
            for (cut = 0; cut < st->a_num && to - from >= st->a.len && memcmp(s + from, a, st->a.len) == 0; cut++)
                from += st->a.len;
            for (cut = 0; cut < st->b_num && to - from >= st->a.len && memcmp(s + to - st->a.len, a, st->a.len) == 0;
                 cut++)
                to -= st->a.len;
            ok = fp8q__tok_list_add(out, s + from, to - from);
        }
        }
    }
    if (ok && st->kind == FP8Q__TD_BYTELEVEL) { /* one token, invalid UTF-8 replaced as from_utf8_lossy does */
        fp8q__tok_buf lossy = {NULL, 0, 0};
        ok = fp8q__tok_append_lossy(&lossy, tmp.p ? tmp.p : "", tmp.n) &&
             fp8q__tok_list_add(out, lossy.p ? lossy.p : "", lossy.n);
        free(lossy.p);
    }
    if (ok && st->kind == FP8Q__TD_FUSE) ok = fp8q__tok_list_add(out, tmp.p ? tmp.p : "", tmp.n);
    free(tmp.p);
    return ok;
}

/* Writes text[0, n) to out as the API promises: NUL when it fits, *len, FP8Q_ERR_LIMIT when too small. */
static fp8q_result fp8q__tok_output(const char *who, const char *text, size_t n, char *out, size_t cap, size_t *len,
                                    fp8q_error *err)
{
    *len = n;
    if (cap) {
        size_t k = n < cap - 1 ? n : cap - 1;
        if (k) FP8Q__MEMCPY(out, text, k);
        out[k] = 0;
    }
    if (n + 1 > cap)
        return fp8q__failf(err, FP8Q_ERR_LIMIT, "%s: %lu bytes and a NUL do not fit in cap %lu", who, (unsigned long)n,
                           (unsigned long)cap);
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_tokenizer_decode(const fp8q_tokenizer *t, const int32_t *ids, size_t n, int skip_special,
                                          char *out, size_t cap, size_t *len, fp8q_error *err)
{
    fp8q__tok_list cur, next;
    fp8q_result r = FP8Q_OK;
    size_t i;
    int s, ok = 1;
    fp8q__st_err_ok(err);
    if (len) *len = 0;
    if (!t || !len || (!ids && n) || (!out && cap))
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_tokenizer_decode: %s",
                           !t            ? "t is NULL"
                           : !len        ? "len is NULL"
                           : !out && cap ? "out is NULL with cap > 0"
                                         : "ids is NULL");
    memset(&cur, 0, sizeof cur);
    memset(&next, 0, sizeof next);
    for (i = 0; ok && i < n; i++) {
        const fp8q__tok_idinfo *e = fp8q__tok_id(t, ids[i]);
        if (!e || (skip_special && e->special)) continue; /* unknown ids are skipped, as HF does */
        if (!t->has_decoder && cur.n && !fp8q__tok_list_add(&cur, " ", 1)) ok = 0;
        ok = ok && fp8q__tok_list_add(&cur, fp8q__tok_s(t, e->s), e->s.len);
    }
    for (s = 0; ok && s < t->n_dec; s++) {
        fp8q__tok_list tmp;
        next.n = 0;
        next.buf.n = 0;
        ok = fp8q__tok_decode_step(t, &t->dec[s], &cur, &next);
        tmp = cur;
        cur = next;
        next = tmp;
    }
    if (ok) { /* the strings are adjacent in buf: the text is buf from the first to the end */
        fp8q__tok_buf joined = {NULL, 0, 0};
        for (i = 0; ok && i < cur.n; i++) ok = fp8q__tok_append(&joined, cur.buf.p + cur.s[i].off, cur.s[i].len);
        if (ok) r = fp8q__tok_output("fp8q_tokenizer_decode", joined.p ? joined.p : "", joined.n, out, cap, len, err);
        free(joined.p);
    }
    fp8q__tok_list_free(&cur);
    fp8q__tok_list_free(&next);
    if (!ok) return fp8q__failf(err, FP8Q_ERR_NOMEM, "fp8q_tokenizer_decode: out of memory");
    return r;
}

FP8QDEF size_t fp8q_tokenizer_piece(const fp8q_tokenizer *t, int32_t id, char *buf, size_t cap)
{
    const fp8q__tok_idinfo *e = t ? fp8q__tok_id(t, id) : NULL;
    fp8q__tok_buf cur = {NULL, 0, 0}, next = {NULL, 0, 0};
    size_t n = 0;
    int s, ok;
    if (!e) return 0;
    ok = fp8q__tok_append(&cur, fp8q__tok_s(t, e->s), e->s.len);
    for (s = 0; ok && s < t->n_dec; s++) {
        const fp8q__tok_step *st = &t->dec[s];
        const char *a = fp8q__tok_s(t, st->a);
        int b;
        next.n = 0;
        switch (st->kind) {
        case FP8Q__TD_BYTELEVEL: ok = fp8q__tok_byte_level_bytes(t, cur.p, cur.n, &next); break;
        case FP8Q__TD_BYTEFALLBACK:
            b = fp8q__tok_fallback_byte(cur.p, cur.n);
            if (b >= 0) {
                char c = (char)b;
                ok = fp8q__tok_append(&next, &c, 1);
            } else
                ok = fp8q__tok_append(&next, cur.p, cur.n);
            break;
        case FP8Q__TD_REPLACE:
            ok = fp8q__tok_replace_into(&next, cur.p, cur.n, a, st->a.len, fp8q__tok_s(t, st->b), st->b.len);
            break;
        case FP8Q__TD_METASPACE: ok = fp8q__tok_replace_into(&next, cur.p, cur.n, a, st->a.len, " ", 1); break;
        default: ok = fp8q__tok_append(&next, cur.p, cur.n); /* Fuse, Strip: whole-sequence steps */
        }
        if (ok) {
            fp8q__tok_buf tmp = cur;
            cur = next;
            next = tmp;
        }
    }
    if (ok) {
        n = cur.n;
        if (cap && n) FP8Q__MEMCPY(buf, cur.p, n < cap ? n : cap);
    }
    free(cur.p);
    free(next.p);
    return n;
}

FP8QDEF int fp8q_tokenizer_vocab_size(const fp8q_tokenizer *t) { return t ? (int)t->vocab_size : 0; }
FP8QDEF int32_t fp8q_tokenizer_bos(const fp8q_tokenizer *t) { return t ? t->bos : -1; }
FP8QDEF int32_t fp8q_tokenizer_eos(const fp8q_tokenizer *t) { return t ? t->eos : -1; }

FP8QDEF int32_t fp8q_tokenizer_find(const fp8q_tokenizer *t, const char *token)
{
    size_t i, n;
    if (!t || !token) return -1;
    n = strlen(token);
    for (i = 0; i < t->n_added; i++)
        if (t->added[i].content.len == n && memcmp(fp8q__tok_s(t, t->added[i].content), token, n) == 0)
            return t->added[i].id;
    return fp8q__tok_vocab_get(t, token, n);
}

/* ---- chat templates (no Jinja: the common families, recognised by their markers) */

/* s[0, n) without leading and trailing Python white space (str.strip()). */
static void fp8q__tok_py_strip(const char **s, size_t *n)
{
    const char *p = *s;
    size_t len = *n, k;
    while (len && fp8q__tok_is_py_space(fp8q__tok_cp((const unsigned char *)p, &k))) p += k, len -= k;
    while (len) {
        size_t i = len - 1;
        while (i > 0 && ((unsigned char)p[i] & 0xC0) == 0x80) i--;
        if (!fp8q__tok_is_py_space(fp8q__tok_cp((const unsigned char *)p + i, &k))) break;
        len = i;
    }
    *s = p;
    *n = len;
}

static int fp8q__tok_cat(fp8q__tok_buf *b, const char *s) { return fp8q__tok_append(b, s, strlen(s)); }

/* The content of token id (an added token's as written), or "" for -1. */
static const char *fp8q__tok_text_of(const fp8q_tokenizer *t, int32_t id, size_t *n)
{
    const fp8q__tok_idinfo *e = fp8q__tok_id(t, id);
    size_t i;
    for (i = 0; i < t->n_added; i++)
        if (t->added[i].id == id) {
            *n = t->added[i].content.len;
            return fp8q__tok_s(t, t->added[i].content);
        }
    *n = e ? e->s.len : 0;
    return e ? fp8q__tok_s(t, e->s) : "";
}

/* A ChatML template's default system prompt: the literal text of a Jinja string '<|im_start|>system\n...<|im_end|>'
   (its \n, \\, \' and \" escapes undone), appended to out; 0 when the template has none (or out of memory). */
static int fp8q__tok_chatml_default(const char *tpl, fp8q__tok_buf *out)
{
    const char *p = tpl;
    while ((p = strstr(p, "<|im_start|>system")) != NULL) {
        const char *q = p + 18, *end;
        p = q;
        if (q[0] == '\n')
            q += 1;
        else if (q[0] == '\\' && q[1] == 'n')
            q += 2;
        else
            continue;
        end = strstr(q, "<|im_end|>");
        if (!end) return 0;
        out->n = 0;
        while (q < end) {
            char c = *q++;
            if (c == '\'' || c == '"' || c == '{' || c == '}') break; /* not a plain literal */
            if (c == '\\' && q < end) {
                c = *q++;
                if (c == 'n') c = '\n';
            }
            if (!fp8q__tok_append(out, &c, 1)) return 0;
        }
        if (q == end) return 1;
    }
    return 0;
}

enum { FP8Q__CHAT_CHATML = 1, FP8Q__CHAT_LLAMA2, FP8Q__CHAT_LLAMA3, FP8Q__CHAT_ZEPHYR };

/* The template's family, or 0 with *why set. */
static int fp8q__tok_chat_family(const char *tpl, const char **why)
{
    if (strstr(tpl, "<|im_start|>")) return FP8Q__CHAT_CHATML;
    if (strstr(tpl, "<|start_header_id|>")) {
        if (strstr(tpl, "Cutting Knowledge Date") || strstr(tpl, "tools")) {
            *why = "a Llama 3.1-style template (date and tools preamble) needs a Jinja engine";
            return 0;
        }
        return FP8Q__CHAT_LLAMA3;
    }
    if (strstr(tpl, "[INST]")) {
        if (!strstr(tpl, "<<SYS>>")) {
            *why = "an [INST] template without <<SYS>> (Mistral style) is not one of the supported families";
            return 0;
        }
        return FP8Q__CHAT_LLAMA2;
    }
    if (strstr(tpl, "<|user|>")) return FP8Q__CHAT_ZEPHYR;
    *why = "the template is none of ChatML (<|im_start|>), Llama-2 ([INST] <<SYS>>), Llama-3 (<|start_header_id|>), "
           "Zephyr (<|user|>); fp8q has no Jinja engine";
    return 0;
}

/* Renders the family's one-turn conversation into b. */
static int fp8q__tok_chat_render(const fp8q_tokenizer *t, int family, const char *system, const char *user,
                                 fp8q__tok_buf *b)
{
    size_t bl, el, n = strlen(user);
    const char *bos = fp8q__tok_text_of(t, t->bos, &bl), *eos = fp8q__tok_text_of(t, t->eos, &el), *s;
    fp8q__tok_buf tmp = {NULL, 0, 0};
    int ok = 1;
    switch (family) {
    case FP8Q__CHAT_CHATML:
        if (system || fp8q__tok_chatml_default(t->chat_template, &tmp)) {
            ok = fp8q__tok_cat(b, "<|im_start|>system\n") &&
                 (system ? fp8q__tok_cat(b, system) : fp8q__tok_append(b, tmp.p, tmp.n)) &&
                 fp8q__tok_cat(b, "<|im_end|>\n");
        }
        ok = ok && fp8q__tok_cat(b, "<|im_start|>user\n") && fp8q__tok_cat(b, user) &&
             fp8q__tok_cat(b, "<|im_end|>\n<|im_start|>assistant\n");
        break;
    case FP8Q__CHAT_LLAMA2: /* bos + '[INST] ' + ('<<SYS>>\n' + system + '\n<</SYS>>\n\n' + user).strip() + ' [/INST]'
                             */
        if (system)
            ok = fp8q__tok_cat(&tmp, "<<SYS>>\n") && fp8q__tok_cat(&tmp, system) &&
                 fp8q__tok_cat(&tmp, "\n<</SYS>>\n\n");
        ok = ok && fp8q__tok_cat(&tmp, user);
        s = tmp.p ? tmp.p : "";
        n = tmp.n;
        fp8q__tok_py_strip(&s, &n);
        ok = ok && fp8q__tok_append(b, bos, bl) && fp8q__tok_cat(b, "[INST] ") && fp8q__tok_append(b, s, n) &&
             fp8q__tok_cat(b, " [/INST]");
        break;
    case FP8Q__CHAT_LLAMA3: /* bos, then per message '<|start_header_id|>' role '<|end_header_id|>\n\n' trim(content)
                               '<|eot_id|>', then the assistant header */
        ok = fp8q__tok_append(b, bos, bl);
        if (system) {
            size_t sn = strlen(system);
            s = system;
            fp8q__tok_py_strip(&s, &sn);
            ok = ok && fp8q__tok_cat(b, "<|start_header_id|>system<|end_header_id|>\n\n") &&
                 fp8q__tok_append(b, s, sn) && fp8q__tok_cat(b, "<|eot_id|>");
        }
        s = user;
        fp8q__tok_py_strip(&s, &n);
        ok = ok && fp8q__tok_cat(b, "<|start_header_id|>user<|end_header_id|>\n\n") && fp8q__tok_append(b, s, n) &&
             fp8q__tok_cat(b, "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    default: /* Zephyr: '<|system|>\n' system eos '\n', '<|user|>\n' user eos '\n', '<|assistant|>\n' */
        if (system)
            ok = fp8q__tok_cat(b, "<|system|>\n") && fp8q__tok_cat(b, system) && fp8q__tok_append(b, eos, el) &&
                 fp8q__tok_cat(b, "\n");
        ok = ok && fp8q__tok_cat(b, "<|user|>\n") && fp8q__tok_cat(b, user) && fp8q__tok_append(b, eos, el) &&
             fp8q__tok_cat(b, "\n<|assistant|>\n");
    }
    free(tmp.p);
    return ok;
}

FP8QDEF fp8q_result fp8q_tokenizer_chat(const fp8q_tokenizer *t, const char *system, const char *user, char *out,
                                        size_t cap, size_t *len, fp8q_error *err)
{
    const char *why = NULL;
    fp8q__tok_buf b = {NULL, 0, 0};
    fp8q_result r;
    int family;
    fp8q__st_err_ok(err);
    if (len) *len = 0;
    if (!t || !user || !len || (!out && cap))
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_tokenizer_chat: %s",
                           !t      ? "t is NULL"
                           : !user ? "user is NULL"
                           : !len  ? "len is NULL"
                                   : "out is NULL with cap > 0");
    if (!fp8q__tok_valid_utf8(user, strlen(user)) || (system && !fp8q__tok_valid_utf8(system, strlen(system))))
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_tokenizer_chat: the %s message is not valid UTF-8",
                           fp8q__tok_valid_utf8(user, strlen(user)) ? "system" : "user");
    if (!t->chat_template)
        return fp8q__failf(err, FP8Q_ERR_UNSUPPORTED, "fp8q_tokenizer_chat: the tokenizer has no chat template");
    family = fp8q__tok_chat_family(t->chat_template, &why);
    if (!family) return fp8q__failf(err, FP8Q_ERR_UNSUPPORTED, "fp8q_tokenizer_chat: %s", why);
    if ((family == FP8Q__CHAT_LLAMA2 || family == FP8Q__CHAT_LLAMA3) && t->bos < 0)
        return fp8q__failf(err, FP8Q_ERR_UNSUPPORTED,
                           "fp8q_tokenizer_chat: the template needs bos_token, unknown here");
    if (family == FP8Q__CHAT_ZEPHYR && t->eos < 0)
        return fp8q__failf(err, FP8Q_ERR_UNSUPPORTED,
                           "fp8q_tokenizer_chat: the template needs eos_token, unknown here");
    if (!fp8q__tok_chat_render(t, family, system, user, &b)) {
        free(b.p);
        return fp8q__failf(err, FP8Q_ERR_NOMEM, "fp8q_tokenizer_chat: out of memory");
    }
    r = fp8q__tok_output("fp8q_tokenizer_chat", b.p ? b.p : "", b.n, out, cap, len, err);
    free(b.p);
    return r;
}

/* ---- tokenizer.json */

#define FP8Q__TOK_GPT2_REGEX "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define FP8Q__TOK_LLAMA3_REGEX                                                                                         \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"           \
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

typedef struct fp8q__tok_json {
    fp8q_tokenizer *t;
    const fp8q_json *j;
    fp8q_error *err;
    fp8q__tok_buf tmp; /* an unescaped string */
    fp8q__tok_buf tmp2;
    int byte_level_seen; /* a ByteLevel pre-tokenizer was parsed: nothing may follow it */
} fp8q__tok_json;

static int fp8q__tok_jis(const fp8q__tok_json *c, size_t v, fp8q_json_type type)
{
    return v != 0 && c->j->tok[v].type == type;
}

static int fp8q__tok_jnull(const fp8q__tok_json *c, size_t v) { return v == 0 || c->j->tok[v].type == FP8Q_JSON_NULL; }

static fp8q_result fp8q__tok_jbad(fp8q__tok_json *c, const char *path, const char *what)
{
    return fp8q__failf(c->err, FP8Q_ERR_PARSE, "%s: %s", path, what);
}

/* String token v unescaped into b (NUL-terminated; *n its length). */
static fp8q_result fp8q__tok_jstring(fp8q__tok_json *c, size_t v, const char *path, fp8q__tok_buf *b)
{
    size_t n;
    if (!fp8q__tok_jis(c, v, FP8Q_JSON_STRING)) return fp8q__tok_jbad(c, path, "expected a string");
    n = fp8q_json_string(c->j, v, NULL, 0);
    b->n = 0;
    if (!fp8q__tok_reserve(b, n + 1)) return fp8q__failf(c->err, FP8Q_ERR_NOMEM, "out of memory");
    (void)fp8q_json_string(c->j, v, b->p, n + 1);
    b->n = n;
    return FP8Q_OK;
}

/* Member key of object obj as a string kept in the tokenizer (absent or null: *out empty and *present 0). */
static fp8q_result fp8q__tok_jkeep(fp8q__tok_json *c, size_t obj, const char *key, const char *path, fp8q__tok_str *out,
                                   int *present)
{
    size_t v = fp8q_json_get(c->j, obj, key);
    fp8q_result r;
    char p[160];
    out->off = out->len = 0;
    if (present) *present = 0;
    if (fp8q__tok_jnull(c, v)) return FP8Q_OK;
    (void)snprintf(p, sizeof p, "%s.%s", path, key);
    if ((r = fp8q__tok_jstring(c, v, p, &c->tmp)) != FP8Q_OK) return r;
    if (!fp8q__tok_keep(c->t, c->tmp.p, c->tmp.n, out)) return fp8q__failf(c->err, FP8Q_ERR_NOMEM, "out of memory");
    if (present) *present = 1;
    return FP8Q_OK;
}

static fp8q_result fp8q__tok_jbool(fp8q__tok_json *c, size_t obj, const char *key, int def, int *out, const char *path)
{
    size_t v = fp8q_json_get(c->j, obj, key);
    char p[160];
    *out = def;
    if (fp8q__tok_jnull(c, v)) return FP8Q_OK;
    if (c->j->tok[v].type != FP8Q_JSON_TRUE && c->j->tok[v].type != FP8Q_JSON_FALSE) {
        (void)snprintf(p, sizeof p, "%s.%s", path, key);
        return fp8q__tok_jbad(c, p, "expected true or false");
    }
    *out = c->j->tok[v].type == FP8Q_JSON_TRUE;
    return FP8Q_OK;
}

/* An integer in [lo, hi]. */
static fp8q_result fp8q__tok_jint(fp8q__tok_json *c, size_t v, const char *path, int64_t lo, int64_t hi, int64_t *out)
{
    char m[96];
    if (!fp8q__tok_jis(c, v, FP8Q_JSON_NUMBER) || fp8q_json_int64(c->j, v, out) != FP8Q_OK || *out < lo || *out > hi) {
        (void)snprintf(m, sizeof m, "expected an integer in [%ld, %ld]", (long)lo, (long)hi);
        return fp8q__tok_jbad(c, path, m);
    }
    return FP8Q_OK;
}

/* The "type" of component v, into c->tmp2 ("" when v has no type string). */
static fp8q_result fp8q__tok_jtype(fp8q__tok_json *c, size_t v, const char *path)
{
    size_t ty = fp8q_json_get(c->j, v, "type");
    char p[160];
    if (!fp8q__tok_jis(c, v, FP8Q_JSON_OBJECT)) return fp8q__tok_jbad(c, path, "expected an object or null");
    (void)snprintf(p, sizeof p, "%s.type", path);
    if (!ty) {
        c->tmp2.n = 0;
        return fp8q__tok_reserve(&c->tmp2, 1) ? (c->tmp2.p[0] = 0, FP8Q_OK)
                                              : fp8q__failf(c->err, FP8Q_ERR_NOMEM, "out of memory");
    }
    return fp8q__tok_jstring(c, ty, p, &c->tmp2);
}

static int fp8q__tok_is(const fp8q__tok_json *c, const char *type) { return strcmp(c->tmp2.p, type) == 0; }

static fp8q_result fp8q__tok_unsupported(fp8q__tok_json *c, const char *path, const char *why)
{
    char q[64];
    fp8q__tok_quote(q, sizeof q, c->tmp2.p, c->tmp2.n);
    return fp8q__failf(c->err, FP8Q_ERR_UNSUPPORTED, "%s: type '%s' is not supported%s", path, q, why);
}

/* A new step of list steps[*n] (zeroed), or NULL after setting a limit error. */
static fp8q__tok_step *fp8q__tok_new_step(fp8q__tok_json *c, fp8q__tok_step *steps, int *n, int kind, const char *path)
{
    fp8q__tok_step *st;
    if (*n >= FP8Q__TOK_MAX_STEPS) {
        (void)fp8q__failf(c->err, FP8Q_ERR_LIMIT, "%s: more than %d steps", path, FP8Q__TOK_MAX_STEPS);
        return NULL;
    }
    st = &steps[(*n)++];
    memset(st, 0, sizeof *st);
    st->kind = kind;
    return st;
}

/* A String pattern {"String": s} (non-empty) kept in *out; a Regex pattern is unsupported. */
static fp8q_result fp8q__tok_jpattern(fp8q__tok_json *c, size_t obj, const char *path, fp8q__tok_str *out)
{
    size_t v = fp8q_json_get(c->j, obj, "pattern"), s;
    char p[160];
    (void)snprintf(p, sizeof p, "%s.pattern", path);
    if (!fp8q__tok_jis(c, v, FP8Q_JSON_OBJECT)) return fp8q__tok_jbad(c, p, "expected {\"String\": ...}");
    if (fp8q_json_get(c->j, v, "Regex"))
        return fp8q__failf(c->err, FP8Q_ERR_UNSUPPORTED, "%s: Regex patterns are not supported (String only)", p);
    s = fp8q_json_get(c->j, v, "String");
    if (!fp8q__tok_jis(c, s, FP8Q_JSON_STRING) || fp8q_json_string(c->j, s, NULL, 0) == 0)
        return fp8q__tok_jbad(c, p, "expected {\"String\": a non-empty string}");
    return fp8q__tok_jkeep(c, v, "String", p, out, NULL);
}

/* Metaspace's replacement (one character) and prepend scheme (prepend_scheme, or the older add_prefix_space). */
static fp8q_result fp8q__tok_jmetaspace(fp8q__tok_json *c, size_t v, const char *path, fp8q__tok_step *st)
{
    size_t ps = fp8q_json_get(c->j, v, "prepend_scheme"), k;
    int add = 1;
    char p[160];
    fp8q_result r = fp8q__tok_jkeep(c, v, "replacement", path, &st->a, NULL);
    if (r != FP8Q_OK) return r;
    (void)snprintf(p, sizeof p, "%s.replacement", path);
    if (!st->a.len || (fp8q__tok_cp((const unsigned char *)fp8q__tok_s(c->t, st->a), &k), k != st->a.len))
        return fp8q__tok_jbad(c, p, "expected one character");
    (void)snprintf(p, sizeof p, "%s.prepend_scheme", path);
    if (!fp8q__tok_jnull(c, ps)) {
        if ((r = fp8q__tok_jstring(c, ps, p, &c->tmp)) != FP8Q_OK) return r;
        st->a_num = strcmp(c->tmp.p, "always") == 0  ? FP8Q__TM_ALWAYS
                    : strcmp(c->tmp.p, "first") == 0 ? FP8Q__TM_FIRST
                    : strcmp(c->tmp.p, "never") == 0 ? FP8Q__TM_NEVER
                                                     : -1;
        if (st->a_num < 0) return fp8q__tok_jbad(c, p, "expected \"always\", \"first\" or \"never\"");
        return FP8Q_OK;
    }
    if ((r = fp8q__tok_jbool(c, v, "add_prefix_space", 1, &add, path)) != FP8Q_OK) return r;
    st->a_num = add ? FP8Q__TM_ALWAYS : FP8Q__TM_NEVER;
    return FP8Q_OK;
}

/* Each element of array member `key` of v through fn (a Sequence). */
static fp8q_result fp8q__tok_jsequence(fp8q__tok_json *c, size_t v, const char *key, const char *path, int depth,
                                       fp8q_result (*fn)(fp8q__tok_json *, size_t, const char *, int))
{
    size_t a = fp8q_json_get(c->j, v, key), e, i;
    char p[160];
    fp8q_result r;
    (void)snprintf(p, sizeof p, "%s.%s", path, key);
    if (!fp8q__tok_jis(c, a, FP8Q_JSON_ARRAY)) return fp8q__tok_jbad(c, p, "expected an array");
    if (depth >= FP8Q__TOK_MAX_DEPTH)
        return fp8q__failf(c->err, FP8Q_ERR_LIMIT, "Sequences nested deeper than %d at %s", FP8Q__TOK_MAX_DEPTH, p);
    for (i = 0, e = a + 1; i < c->j->tok[a].size; i++, e = c->j->tok[e].next) {
        (void)snprintf(p, sizeof p, "%s.%s[%lu]", path, key, (unsigned long)i);
        if ((r = fn(c, e, p, depth + 1)) != FP8Q_OK) return r;
    }
    return FP8Q_OK;
}

static fp8q_result fp8q__tok_jnormalizer(fp8q__tok_json *c, size_t v, const char *path, int depth)
{
    fp8q__tok_step *st;
    fp8q_result r;
    if (fp8q__tok_jnull(c, v)) return FP8Q_OK;
    if ((r = fp8q__tok_jtype(c, v, path)) != FP8Q_OK) return r;
    if (fp8q__tok_is(c, "Sequence"))
        return fp8q__tok_jsequence(c, v, "normalizers", path, depth, fp8q__tok_jnormalizer);
    if (fp8q__tok_is(c, "Prepend")) {
        if (!(st = fp8q__tok_new_step(c, c->t->norm, &c->t->n_norm, FP8Q__TN_PREPEND, path))) return FP8Q_ERR_LIMIT;
        return fp8q__tok_jkeep(c, v, "prepend", path, &st->a, NULL);
    }
    if (fp8q__tok_is(c, "Replace")) {
        if (!(st = fp8q__tok_new_step(c, c->t->norm, &c->t->n_norm, FP8Q__TN_REPLACE, path))) return FP8Q_ERR_LIMIT;
        if ((r = fp8q__tok_jpattern(c, v, path, &st->a)) != FP8Q_OK) return r;
        return fp8q__tok_jkeep(c, v, "content", path, &st->b, NULL);
    }
    return fp8q__tok_unsupported(c, path,
                                 " (supported: Sequence, Prepend, Replace; fp8q has no Unicode "
                                 "normalization tables for NFC/NFD/NFKC/NFKD)");
}

static fp8q_result fp8q__tok_jpre(fp8q__tok_json *c, size_t v, const char *path, int depth)
{
    fp8q_tokenizer *t = c->t;
    fp8q__tok_step *st;
    fp8q_result r;
    int a = 0, b = 0;
    char p[160];
    if (fp8q__tok_jnull(c, v)) return FP8Q_OK;
    if ((r = fp8q__tok_jtype(c, v, path)) != FP8Q_OK) return r;
    if (fp8q__tok_is(c, "Sequence")) return fp8q__tok_jsequence(c, v, "pretokenizers", path, depth, fp8q__tok_jpre);
    if (c->byte_level_seen)
        return fp8q__failf(c->err, FP8Q_ERR_UNSUPPORTED, "%s: a pre-tokenizer after ByteLevel is not supported", path);
    if (fp8q__tok_is(c, "ByteLevel")) {
        if ((r = fp8q__tok_jbool(c, v, "add_prefix_space", 1, &a, path)) != FP8Q_OK ||
            (r = fp8q__tok_jbool(c, v, "use_regex", 1, &b, path)) != FP8Q_OK)
            return r;
        if (a && !fp8q__tok_new_step(c, t->pre, &t->n_pre, FP8Q__TP_PREFIX_SPACE, path)) return FP8Q_ERR_LIMIT;
        if (b && !fp8q__tok_new_step(c, t->pre, &t->n_pre, FP8Q__TP_GPT2, path)) return FP8Q_ERR_LIMIT;
        c->byte_level_seen = t->byte_level = 1;
        return FP8Q_OK;
    }
    if (fp8q__tok_is(c, "Digits")) {
        if (!(st = fp8q__tok_new_step(c, t->pre, &t->n_pre, FP8Q__TP_DIGITS, path))) return FP8Q_ERR_LIMIT;
        return fp8q__tok_jbool(c, v, "individual_digits", 0, &st->a_num, path);
    }
    if (fp8q__tok_is(c, "Metaspace")) {
        if (!(st = fp8q__tok_new_step(c, t->pre, &t->n_pre, FP8Q__TP_METASPACE, path))) return FP8Q_ERR_LIMIT;
        if ((r = fp8q__tok_jmetaspace(c, v, path, st)) != FP8Q_OK) return r;
        return fp8q__tok_jbool(c, v, "split", 1, &st->b_num, path);
    }
    if (fp8q__tok_is(c, "Split")) {
        size_t pat = fp8q_json_get(c->j, v, "pattern"), re = pat ? fp8q_json_get(c->j, pat, "Regex") : 0, beh;
        int kind;
        (void)snprintf(p, sizeof p, "%s.pattern", path);
        if (!fp8q__tok_jis(c, re, FP8Q_JSON_STRING))
            return fp8q__failf(c->err, FP8Q_ERR_UNSUPPORTED,
                               "%s: only {\"Regex\": the GPT-2 or Llama-3 pattern} is "
                               "supported",
                               p);
        kind = fp8q_json_string_eq(c->j, re, FP8Q__TOK_GPT2_REGEX)     ? FP8Q__TP_GPT2
               : fp8q_json_string_eq(c->j, re, FP8Q__TOK_LLAMA3_REGEX) ? FP8Q__TP_LLAMA3
                                                                       : 0;
        if (!kind) {
            char q[64];
            (void)fp8q__tok_jstring(c, re, p, &c->tmp);
            fp8q__tok_quote(q, sizeof q, c->tmp.p, c->tmp.n);
            return fp8q__failf(c->err, FP8Q_ERR_UNSUPPORTED,
                               "%s: regex '%s' is not supported (only GPT-2's and "
                               "Llama-3's)",
                               p, q);
        }
        beh = fp8q_json_get(c->j, v, "behavior");
        (void)snprintf(p, sizeof p, "%s.behavior", path);
        if (!fp8q_json_string_eq(c->j, beh, "Isolated"))
            return fp8q__failf(c->err, FP8Q_ERR_UNSUPPORTED, "%s: only \"Isolated\" is supported", p);
        if ((r = fp8q__tok_jbool(c, v, "invert", 0, &a, path)) != FP8Q_OK) return r;
        if (a) return fp8q__failf(c->err, FP8Q_ERR_UNSUPPORTED, "%s.invert: true is not supported", path);
        return fp8q__tok_new_step(c, t->pre, &t->n_pre, kind, path) ? FP8Q_OK : FP8Q_ERR_LIMIT;
    }
    return fp8q__tok_unsupported(c, path, " (supported: Sequence, ByteLevel, Split, Digits, Metaspace)");
}

static fp8q_result fp8q__tok_jdecoder(fp8q__tok_json *c, size_t v, const char *path, int depth)
{
    fp8q_tokenizer *t = c->t;
    fp8q__tok_step *st;
    fp8q_result r;
    size_t k;
    int64_t n;
    char p[160];
    if (fp8q__tok_jnull(c, v)) return FP8Q_OK;
    if ((r = fp8q__tok_jtype(c, v, path)) != FP8Q_OK) return r;
    t->has_decoder = 1;
    if (fp8q__tok_is(c, "Sequence")) return fp8q__tok_jsequence(c, v, "decoders", path, depth, fp8q__tok_jdecoder);
    if (fp8q__tok_is(c, "ByteLevel"))
        return fp8q__tok_new_step(c, t->dec, &t->n_dec, FP8Q__TD_BYTELEVEL, path) ? FP8Q_OK : FP8Q_ERR_LIMIT;
    if (fp8q__tok_is(c, "ByteFallback"))
        return fp8q__tok_new_step(c, t->dec, &t->n_dec, FP8Q__TD_BYTEFALLBACK, path) ? FP8Q_OK : FP8Q_ERR_LIMIT;
    if (fp8q__tok_is(c, "Fuse"))
        return fp8q__tok_new_step(c, t->dec, &t->n_dec, FP8Q__TD_FUSE, path) ? FP8Q_OK : FP8Q_ERR_LIMIT;
    if (fp8q__tok_is(c, "Replace")) {
        if (!(st = fp8q__tok_new_step(c, t->dec, &t->n_dec, FP8Q__TD_REPLACE, path))) return FP8Q_ERR_LIMIT;
        if ((r = fp8q__tok_jpattern(c, v, path, &st->a)) != FP8Q_OK) return r;
        return fp8q__tok_jkeep(c, v, "content", path, &st->b, NULL);
    }
    if (fp8q__tok_is(c, "Metaspace")) {
        if (!(st = fp8q__tok_new_step(c, t->dec, &t->n_dec, FP8Q__TD_METASPACE, path))) return FP8Q_ERR_LIMIT;
        return fp8q__tok_jmetaspace(c, v, path, st);
    }
    if (fp8q__tok_is(c, "Strip")) {
        if (!(st = fp8q__tok_new_step(c, t->dec, &t->n_dec, FP8Q__TD_STRIP, path))) return FP8Q_ERR_LIMIT;
        if ((r = fp8q__tok_jkeep(c, v, "content", path, &st->a, NULL)) != FP8Q_OK) return r;
        (void)snprintf(p, sizeof p, "%s.content", path);
        if (!st->a.len || (fp8q__tok_cp((const unsigned char *)fp8q__tok_s(t, st->a), &k), k != st->a.len))
            return fp8q__tok_jbad(c, p, "expected one character");
        (void)snprintf(p, sizeof p, "%s.start", path);
        if ((r = fp8q__tok_jint(c, fp8q_json_get(c->j, v, "start"), p, 0, 1 << 20, &n)) != FP8Q_OK) return r;
        st->a_num = (int)n;
        (void)snprintf(p, sizeof p, "%s.stop", path);
        if ((r = fp8q__tok_jint(c, fp8q_json_get(c->j, v, "stop"), p, 0, 1 << 20, &n)) != FP8Q_OK) return r;
        st->b_num = (int)n;
        return FP8Q_OK;
    }
    return fp8q__tok_unsupported(c, path,
                                 " (supported: Sequence, ByteLevel, ByteFallback, Fuse, Replace, Strip, "
                                 "Metaspace)");
}

/* TemplateProcessing's "single": special tokens before and after $A. */
static fp8q_result fp8q__tok_jtemplate(fp8q__tok_json *c, size_t v, const char *path)
{
    fp8q_tokenizer *t = c->t;
    size_t single = fp8q_json_get(c->j, v, "single"), specials = fp8q_json_get(c->j, v, "special_tokens"), e, i;
    int seen_a = 0;
    char p[200];
    fp8q_result r;
    (void)snprintf(p, sizeof p, "%s.single", path);
    if (!fp8q__tok_jis(c, single, FP8Q_JSON_ARRAY)) return fp8q__tok_jbad(c, p, "expected an array");
    for (i = 0, e = single + 1; i < c->j->tok[single].size; i++, e = c->j->tok[e].next) {
        size_t seq = fp8q_json_get(c->j, e, "Sequence"), sp = fp8q_json_get(c->j, e, "SpecialToken"), name, ids, x, k;
        (void)snprintf(p, sizeof p, "%s.single[%lu]", path, (unsigned long)i);
        if (fp8q__tok_jis(c, seq, FP8Q_JSON_OBJECT)) {
            if (!fp8q_json_string_eq(c->j, fp8q_json_get(c->j, seq, "id"), "A") || seen_a)
                return fp8q__failf(c->err, FP8Q_ERR_UNSUPPORTED, "%s: only one sequence, $A, is supported", p);
            seen_a = 1;
            continue;
        }
        if (!fp8q__tok_jis(c, sp, FP8Q_JSON_OBJECT)) return fp8q__tok_jbad(c, p, "expected Sequence or SpecialToken");
        name = fp8q_json_get(c->j, sp, "id");
        if ((r = fp8q__tok_jstring(c, name, p, &c->tmp)) != FP8Q_OK) return r;
        x = fp8q__tok_jis(c, specials, FP8Q_JSON_OBJECT) ? fp8q_json_get(c->j, specials, c->tmp.p) : 0;
        ids = x ? fp8q_json_get(c->j, x, "ids") : 0;
        (void)snprintf(p, sizeof p, "%s.special_tokens[\"%.60s\"].ids", path, c->tmp.p);
        if (!fp8q__tok_jis(c, ids, FP8Q_JSON_ARRAY)) return fp8q__tok_jbad(c, p, "expected an array of ids");
        for (k = 0, x = ids + 1; k < c->j->tok[ids].size; k++, x = c->j->tok[x].next) {
            int64_t id;
            int *n = seen_a ? &t->n_post_after : &t->n_post_before;
            if ((r = fp8q__tok_jint(c, x, p, 0, FP8Q_MAX_TOKENIZER_VOCAB - 1, &id)) != FP8Q_OK) return r;
            if (*n >= FP8Q__TOK_MAX_POST)
                return fp8q__failf(c->err, FP8Q_ERR_LIMIT, "%s: more than %d ids", path, FP8Q__TOK_MAX_POST);
            (seen_a ? t->post_after : t->post_before)[(*n)++] = (int32_t)id;
        }
    }
    if (!seen_a) return fp8q__failf(c->err, FP8Q_ERR_UNSUPPORTED, "%s.single: no $A", path);
    return FP8Q_OK;
}

static fp8q_result fp8q__tok_jpost(fp8q__tok_json *c, size_t v, const char *path, int depth)
{
    fp8q_result r;
    if (fp8q__tok_jnull(c, v)) return FP8Q_OK;
    if ((r = fp8q__tok_jtype(c, v, path)) != FP8Q_OK) return r;
    if (fp8q__tok_is(c, "Sequence")) return fp8q__tok_jsequence(c, v, "processors", path, depth, fp8q__tok_jpost);
    if (fp8q__tok_is(c, "ByteLevel")) return FP8Q_OK; /* offsets only */
    if (fp8q__tok_is(c, "TemplateProcessing")) {
        if (c->t->n_post_before || c->t->n_post_after)
            return fp8q__failf(c->err, FP8Q_ERR_UNSUPPORTED, "%s: a second TemplateProcessing is not supported", path);
        return fp8q__tok_jtemplate(c, v, path);
    }
    return fp8q__tok_unsupported(c, path, " (supported: Sequence, ByteLevel, TemplateProcessing)");
}

/* model: BPE with its vocabulary and merges. */
static fp8q_result fp8q__tok_jmodel(fp8q__tok_json *c, size_t v)
{
    fp8q_tokenizer *t = c->t;
    const fp8q_json *j = c->j;
    size_t vocab = fp8q_json_get(j, v, "vocab"), merges = fp8q_json_get(j, v, "merges"), e, i, x;
    fp8q__tok_buf a = {NULL, 0, 0}, b = {NULL, 0, 0}, scratch = {NULL, 0, 0};
    fp8q_result r = FP8Q_OK;
    fp8q__tok_str unk;
    int has_unk;
    char p[96];
    const char *opt[2] = {"continuing_subword_prefix", "end_of_word_suffix"};
    if (!fp8q__tok_jis(c, v, FP8Q_JSON_OBJECT)) return fp8q__tok_jbad(c, "model", "expected an object");
    if ((r = fp8q__tok_jtype(c, v, "model")) != FP8Q_OK) return r;
    if (c->tmp2.n && !fp8q__tok_is(c, "BPE"))
        return fp8q__tok_unsupported(c, "model", " (only BPE: WordPiece, Unigram and WordLevel are not)");
    x = fp8q_json_get(j, v, "dropout");
    if (!fp8q__tok_jnull(c, x)) {
        double d = 1;
        if (!fp8q__tok_jis(c, x, FP8Q_JSON_NUMBER) || fp8q_json_number(j, x, &d) != FP8Q_OK || d != 0)
            return fp8q__failf(c->err, FP8Q_ERR_UNSUPPORTED,
                               "model.dropout: only null or 0 (deterministic) is "
                               "supported");
    }
    for (i = 0; i < 2; i++) {
        x = fp8q_json_get(j, v, opt[i]);
        if (!fp8q__tok_jnull(c, x) && !(fp8q__tok_jis(c, x, FP8Q_JSON_STRING) && fp8q_json_string_eq(j, x, "")))
            return fp8q__failf(c->err, FP8Q_ERR_UNSUPPORTED, "model.%s: only null is supported", opt[i]);
    }
    if ((r = fp8q__tok_jbool(c, v, "fuse_unk", 0, &t->fuse_unk, "model")) != FP8Q_OK ||
        (r = fp8q__tok_jbool(c, v, "byte_fallback", 0, &t->byte_fallback, "model")) != FP8Q_OK ||
        (r = fp8q__tok_jbool(c, v, "ignore_merges", 0, &t->ignore_merges, "model")) != FP8Q_OK)
        return r;
    if (!fp8q__tok_jis(c, vocab, FP8Q_JSON_OBJECT)) return fp8q__tok_jbad(c, "model.vocab", "expected an object");
    if ((r = fp8q__tok_vocab_alloc(t, j->tok[vocab].size, c->err)) != FP8Q_OK) return r;
    for (i = 0, e = vocab + 1; i < j->tok[vocab].size; i++, e = j->tok[e + 1].next) {
        int64_t id;
        (void)snprintf(p, sizeof p, "model.vocab[%lu]", (unsigned long)i);
        if ((r = fp8q__tok_jstring(c, e, p, &c->tmp)) != FP8Q_OK) return r;
        if ((r = fp8q__tok_jint(c, e + 1, p, 0, FP8Q_MAX_TOKENIZER_VOCAB - 1, &id)) != FP8Q_OK) return r;
        if ((r = fp8q__tok_vocab_add(t, c->tmp.p, c->tmp.n, (int32_t)id, "model.vocab", c->err)) != FP8Q_OK) return r;
    }
    if (!fp8q__tok_jis(c, merges, FP8Q_JSON_ARRAY)) return fp8q__tok_jbad(c, "model.merges", "expected an array");
    if ((r = fp8q__tok_merges_alloc(t, j->tok[merges].size, c->err)) != FP8Q_OK) return r;
    for (i = 0, e = merges + 1; r == FP8Q_OK && i < j->tok[merges].size; i++, e = j->tok[e].next) {
        (void)snprintf(p, sizeof p, "model.merges[%lu]", (unsigned long)i);
        if (fp8q__tok_jis(c, e, FP8Q_JSON_ARRAY) && j->tok[e].size == 2) { /* ["a", "b"] */
            if ((r = fp8q__tok_jstring(c, e + 1, p, &a)) == FP8Q_OK &&
                (r = fp8q__tok_jstring(c, j->tok[e + 1].next, p, &b)) == FP8Q_OK)
                r = fp8q__tok_merge_strings(t, a.p, a.n, b.p, b.n, i, "model.merges", &scratch, c->err);
        } else if (fp8q__tok_jis(c, e, FP8Q_JSON_STRING)) { /* "a b" */
            const char *sp;
            if ((r = fp8q__tok_jstring(c, e, p, &a)) != FP8Q_OK) break;
            sp = (const char *)memchr(a.p, ' ', a.n);
            if (!sp || memchr(sp + 1, ' ', a.n - (size_t)(sp + 1 - a.p)))
                r = fp8q__tok_jbad(c, p, "expected \"a b\" with exactly one space");
            else
                r = fp8q__tok_merge_strings(t, a.p, (size_t)(sp - a.p), sp + 1, a.n - (size_t)(sp + 1 - a.p), i,
                                            "model.merges", &scratch, c->err);
        } else
            r = fp8q__tok_jbad(c, p, "expected \"a b\" or [\"a\", \"b\"]");
    }
    free(a.p);
    free(b.p);
    free(scratch.p);
    if (r != FP8Q_OK) return r;
    if ((r = fp8q__tok_jkeep(c, v, "unk_token", "model", &unk, &has_unk)) != FP8Q_OK) return r;
    if (has_unk) {
        char q[64];
        t->unk = fp8q__tok_vocab_get(t, fp8q__tok_s(t, unk), unk.len);
        fp8q__tok_quote(q, sizeof q, fp8q__tok_s(t, unk), unk.len);
        if (t->unk < 0) return fp8q__failf(c->err, FP8Q_ERR_PARSE, "model.unk_token: '%s' is not in model.vocab", q);
    }
    return FP8Q_OK;
}

static fp8q_result fp8q__tok_jadded(fp8q__tok_json *c, size_t v)
{
    fp8q_tokenizer *t = c->t;
    size_t e, i;
    fp8q_result r;
    char p[64];
    if (fp8q__tok_jnull(c, v)) return FP8Q_OK;
    if (!fp8q__tok_jis(c, v, FP8Q_JSON_ARRAY)) return fp8q__tok_jbad(c, "added_tokens", "expected an array");
    t->added = (fp8q__tok_added *)malloc((c->j->tok[v].size + 1) * sizeof *t->added);
    if (!t->added) return fp8q__failf(c->err, FP8Q_ERR_NOMEM, "out of memory for the added tokens");
    for (i = 0, e = v + 1; i < c->j->tok[v].size; i++, e = c->j->tok[e].next) {
        int64_t id;
        int special, lstrip, rstrip, normalized, single;
        (void)snprintf(p, sizeof p, "added_tokens[%lu]", (unsigned long)i);
        if (!fp8q__tok_jis(c, e, FP8Q_JSON_OBJECT)) return fp8q__tok_jbad(c, p, "expected an object");
        if ((r = fp8q__tok_jint(c, fp8q_json_get(c->j, e, "id"), p, 0, FP8Q_MAX_TOKENIZER_VOCAB - 1, &id)) != FP8Q_OK ||
            (r = fp8q__tok_jbool(c, e, "special", 0, &special, p)) != FP8Q_OK ||
            (r = fp8q__tok_jbool(c, e, "lstrip", 0, &lstrip, p)) != FP8Q_OK ||
            (r = fp8q__tok_jbool(c, e, "rstrip", 0, &rstrip, p)) != FP8Q_OK ||
            (r = fp8q__tok_jbool(c, e, "normalized", !special, &normalized, p)) != FP8Q_OK ||
            (r = fp8q__tok_jbool(c, e, "single_word", 0, &single, p)) != FP8Q_OK)
            return r;
        if (single) return fp8q__failf(c->err, FP8Q_ERR_UNSUPPORTED, "%s.single_word: true is not supported", p);
        if ((r = fp8q__tok_jstring(c, fp8q_json_get(c->j, e, "content"), p, &c->tmp)) != FP8Q_OK) return r;
        if ((r = fp8q__tok_added_add(t, c->tmp.p, c->tmp.n, (int32_t)id, special, lstrip, rstrip, normalized, p,
                                     c->err)) != FP8Q_OK)
            return r;
    }
    return FP8Q_OK;
}

/* The post-processor's ids must name tokens. */
static fp8q_result fp8q__tok_check_post(fp8q_tokenizer *t, const char *field, fp8q_error *err)
{
    int i;
    for (i = 0; i < t->n_post_before + t->n_post_after; i++) {
        int32_t id = i < t->n_post_before ? t->post_before[i] : t->post_after[i - t->n_post_before];
        if (!fp8q__tok_id(t, id))
            return fp8q__failf(err, FP8Q_ERR_PARSE, "%s: id %ld is not in the vocabulary", field, (long)id);
    }
    return FP8Q_OK;
}

static fp8q_result fp8q__tok_from_json(fp8q_tokenizer *t, const fp8q_json *j, fp8q_error *err)
{
    fp8q__tok_json c;
    fp8q_result r = FP8Q_OK;
    const char *opt[2] = {"truncation", "padding"};
    int i;
    memset(&c, 0, sizeof c);
    c.t = t;
    c.j = j;
    c.err = err;
    if (j->tok[0].type != FP8Q_JSON_OBJECT) return fp8q__failf(err, FP8Q_ERR_PARSE, "the root is not an object");
    for (i = 0; i < 2; i++)
        if (!fp8q__tok_jnull(&c, fp8q_json_get(j, 0, opt[i])))
            return fp8q__failf(err, FP8Q_ERR_UNSUPPORTED, "%s: only null is supported (fp8q does not %s)", opt[i],
                               i ? "pad" : "truncate");
    if ((r = fp8q__tok_jmodel(&c, fp8q_json_get(j, 0, "model"))) == FP8Q_OK &&
        (r = fp8q__tok_jadded(&c, fp8q_json_get(j, 0, "added_tokens"))) == FP8Q_OK &&
        (r = fp8q__tok_jnormalizer(&c, fp8q_json_get(j, 0, "normalizer"), "normalizer", 0)) == FP8Q_OK &&
        (r = fp8q__tok_jpre(&c, fp8q_json_get(j, 0, "pre_tokenizer"), "pre_tokenizer", 0)) == FP8Q_OK &&
        (r = fp8q__tok_jpost(&c, fp8q_json_get(j, 0, "post_processor"), "post_processor", 0)) == FP8Q_OK &&
        (r = fp8q__tok_jdecoder(&c, fp8q_json_get(j, 0, "decoder"), "decoder", 0)) == FP8Q_OK &&
        (r = fp8q__tok_finish(t, "added_tokens", "model.vocab", err)) == FP8Q_OK)
        r = fp8q__tok_check_post(t, "post_processor", err);
    free(c.tmp.p);
    free(c.tmp2.p);
    return r;
}

FP8QDEF fp8q_result fp8q_tokenizer_parse_json(fp8q_tokenizer **out, const char *text, size_t len, fp8q_error *err)
{
    fp8q_json j;
    fp8q_tokenizer *t;
    fp8q_result r;
    fp8q__st_err_ok(err);
    if (out) *out = NULL;
    if (!out || (!text && len))
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_tokenizer_parse_json: %s", !out ? "out is NULL" : "text is NULL");
    r = fp8q_json_parse(&j, text ? text : "", len, 0, err);
    if (r != FP8Q_OK) {
        fp8q__st_prefix(err, "tokenizer.json: ");
        return r;
    }
    t = fp8q__tok_new();
    r = t ? fp8q__tok_from_json(t, &j, err) : fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory");
    fp8q_json_free(&j);
    if (r != FP8Q_OK) {
        fp8q_tokenizer_free(t);
        fp8q__st_prefix(err, "tokenizer.json: ");
        return r;
    }
    *out = t;
    return FP8Q_OK;
}

/* ---- tokenizer_config.json and chat_template.jinja beside a tokenizer.json */

/* path's directory joined with name (malloc'd), or NULL. */
static char *fp8q__tok_sibling(const char *path, const char *name)
{
    size_t d = strlen(path), n = strlen(name);
    char *s;
    while (d > 0 && path[d - 1] != '/' && path[d - 1] != '\\') d--;
    s = (char *)malloc(d + n + 1);
    if (!s) return NULL;
    FP8Q__MEMCPY(s, path, d);
    FP8Q__MEMCPY(s + d, name, n + 1);
    return s;
}

/* bos_token / eos_token of the config: a string or {"content": ...}; the id of that token, or -1. */
static int32_t fp8q__tok_config_token(const fp8q_tokenizer *t, const fp8q_json *j, const char *key, int32_t def)
{
    size_t v = fp8q_json_get(j, 0, key), n;
    char *s;
    int32_t id;
    if (v && j->tok[v].type == FP8Q_JSON_OBJECT) v = fp8q_json_get(j, v, "content");
    if (!v || j->tok[v].type != FP8Q_JSON_STRING) return def;
    n = fp8q_json_string(j, v, NULL, 0);
    s = (char *)malloc(n + 1);
    if (!s) return def;
    (void)fp8q_json_string(j, v, s, n + 1);
    id = strlen(s) == n ? fp8q_tokenizer_find(t, s) : -1;
    free(s);
    return id;
}

static fp8q_result fp8q__tok_set_template(fp8q_tokenizer *t, const char *s, size_t n)
{
    free(t->chat_template);
    t->chat_template = (char *)malloc(n + 1);
    if (!t->chat_template) return FP8Q_ERR_NOMEM;
    FP8Q__MEMCPY(t->chat_template, s, n);
    t->chat_template[n] = 0;
    return FP8Q_OK;
}

/* The chat template of the config: a string, or the "template" of the list entry named "default". */
static fp8q_result fp8q__tok_config_template(fp8q_tokenizer *t, const fp8q_json *j)
{
    size_t v = fp8q_json_get(j, 0, "chat_template"), e, i, n;
    fp8q_result r;
    char *s;
    if (v && j->tok[v].type == FP8Q_JSON_ARRAY) {
        size_t found = 0;
        for (i = 0, e = v + 1; i < j->tok[v].size; i++, e = j->tok[e].next)
            if (j->tok[e].type == FP8Q_JSON_OBJECT && fp8q_json_string_eq(j, fp8q_json_get(j, e, "name"), "default"))
                found = fp8q_json_get(j, e, "template");
        v = found;
    }
    if (!v || j->tok[v].type != FP8Q_JSON_STRING) return FP8Q_OK;
    n = fp8q_json_string(j, v, NULL, 0);
    s = (char *)malloc(n + 1);
    if (!s) return FP8Q_ERR_NOMEM;
    (void)fp8q_json_string(j, v, s, n + 1);
    r = fp8q__tok_set_template(t, s, n);
    free(s);
    return r;
}

/* Reads tokenizer_config.json and chat_template.jinja beside path when they exist. */
static fp8q_result fp8q__tok_load_config(fp8q_tokenizer *t, const char *path, fp8q_error *err)
{
    char *cfg = fp8q__tok_sibling(path, "tokenizer_config.json"), *jin = fp8q__tok_sibling(path, "chat_template.jinja");
    char *buf = NULL;
    size_t len;
    int missing = 0;
    fp8q_result r = cfg && jin ? FP8Q_OK : fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory");
    if (r == FP8Q_OK)
        r = fp8q__read_file(cfg, (size_t)FP8Q_MAX_CONFIG_SIZE, "FP8Q_MAX_CONFIG_SIZE", &buf, &len, &missing, err);
    if (r == FP8Q_OK) {
        fp8q_json j;
        r = fp8q_json_parse(&j, buf, len, FP8Q_JSON_ALLOW_NONFINITE, err);
        if (r == FP8Q_OK && j.tok[0].type != FP8Q_JSON_OBJECT)
            r = fp8q__failf(err, FP8Q_ERR_PARSE, "the root is not an object");
        if (r == FP8Q_OK) {
            t->bos = fp8q__tok_config_token(t, &j, "bos_token", t->bos);
            t->eos = fp8q__tok_config_token(t, &j, "eos_token", t->eos);
            r = fp8q__tok_config_template(t, &j);
            if (r != FP8Q_OK) (void)fp8q__failf(err, r, "out of memory");
        }
        fp8q_json_free(&j);
        if (r != FP8Q_OK) fp8q__st_path_prefix(err, cfg);
    } else if (missing)
        r = FP8Q_OK;
    free(buf);
    buf = NULL;
    if (r == FP8Q_OK) {
        r = fp8q__read_file(jin, (size_t)FP8Q_MAX_CONFIG_SIZE, "FP8Q_MAX_CONFIG_SIZE", &buf, &len, &missing, err);
        if (r == FP8Q_OK && fp8q__tok_set_template(t, buf, len) != FP8Q_OK)
            r = fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory");
        else if (r != FP8Q_OK && missing)
            r = FP8Q_OK;
    }
    free(buf);
    free(cfg);
    free(jin);
    if (r == FP8Q_OK) fp8q__st_err_ok(err);
    return r;
}

FP8QDEF fp8q_result fp8q_tokenizer_load_json(fp8q_tokenizer **out, const char *path, fp8q_error *err)
{
    char *buf;
    size_t len;
    fp8q_result r;
    fp8q__st_err_ok(err);
    if (out) *out = NULL;
    if (!out || !path)
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_tokenizer_load_json: %s", !out ? "out is NULL" : "path is NULL");
    r = fp8q__read_file(path, (size_t)FP8Q_MAX_CONFIG_SIZE, "FP8Q_MAX_CONFIG_SIZE", &buf, &len, NULL, err);
    if (r != FP8Q_OK) return r;
    r = fp8q_tokenizer_parse_json(out, buf, len, err);
    free(buf);
    if (r != FP8Q_OK) {
        char *old = err ? err->message : NULL;
        if (old && strncmp(old, "tokenizer.json: ", 16) == 0) memmove(old, old + 16, strlen(old + 16) + 1);
        fp8q__st_path_prefix(err, path);
        return r;
    }
    r = fp8q__tok_load_config(*out, path, err);
    if (r != FP8Q_OK) {
        fp8q_tokenizer_free(*out);
        *out = NULL;
    }
    return r;
}

/* ---- GGUF arrays */

typedef struct fp8q__tok_spm_merge { /* a merge derived from SentencePiece scores, with its sort keys */
    float score, score_l, score_r;
    int32_t merged, left, right;
    uint32_t split; /* character index of the split */
} fp8q__tok_spm_merge;

/* transformers' order: the merged token's score descending; then (stable over the vocabulary) its id; then the
   pieces' scores descending; then the split position. */
static int fp8q__tok_cmp_spm(const void *a, const void *b)
{
    const fp8q__tok_spm_merge *x = (const fp8q__tok_spm_merge *)a, *y = (const fp8q__tok_spm_merge *)b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->merged != y->merged) return x->merged < y->merged ? -1 : 1;
    if (x->score_l != y->score_l) return x->score_l > y->score_l ? -1 : 1;
    if (x->score_r != y->score_r) return x->score_r > y->score_r ? -1 : 1;
    return x->split < y->split ? -1 : x->split > y->split;
}

/* Merges from scores, as transformers' GGUFTokenizerSkeleton: every split of every token into two tokens. */
static fp8q_result fp8q__tok_spm_merges(fp8q_tokenizer *t, const float *scores, fp8q_error *err)
{
    fp8q__tok_spm_merge *m = NULL;
    size_t n = 0, cap = 0, i, k;
    fp8q_result r;
    for (i = 0; i < t->n_vocab; i++) {
        const char *s = fp8q__tok_s(t, t->vocab[i]);
        size_t len = t->vocab[i].len, pos = 0;
        uint32_t split = 0;
        while (pos < len) {
            int32_t l, rr;
            (void)fp8q__tok_cp((const unsigned char *)s + pos, &k);
            pos += k;
            split++;
            if (pos >= len) break;
            l = fp8q__tok_vocab_get(t, s, pos);
            rr = l >= 0 ? fp8q__tok_vocab_get(t, s + pos, len - pos) : -1;
            if (rr < 0) continue;
            if (n == cap && !fp8q__tok_grow((void **)&m, &cap, cap ? 2 * cap : 1024, sizeof *m)) {
                free(m);
                return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory for the merges");
            }
            m[n].score = scores[t->vocab_id[i]];
            m[n].score_l = scores[l];
            m[n].score_r = scores[rr];
            m[n].merged = t->vocab_id[i];
            m[n].left = l;
            m[n].right = rr;
            m[n++].split = split;
        }
    }
    if (n) qsort(m, n, sizeof *m, fp8q__tok_cmp_spm);
    r = fp8q__tok_merges_alloc(t, n, err);
    for (i = 0; r == FP8Q_OK && i < n; i++) fp8q__tok_merge_add(t, m[i].left, m[i].right, (int32_t)i, m[i].merged);
    free(m);
    return r;
}

static size_t fp8q__tok_spec_len(const char *const *s, const size_t *lens, size_t i)
{
    return lens ? lens[i] : s[i] ? strlen(s[i]) : 0;
}

/* model "gpt2": the pre-tokenizer llama.cpp's tokenizer.ggml.pre names; 0 when unsupported. */
static int fp8q__tok_spec_pre(fp8q_tokenizer *t, const char *pre)
{
    static const char *const gpt2[] = {"default", "gpt-2", "gpt2"}, *const digits[] = {"smollm", "starcoder"},
                             *const llama3[] = {"llama-bpe", "llama3", "llama-v3"};
    size_t i;
    int kind = 0;
    if (!pre) pre = "default";
    for (i = 0; i < 3; i++) {
        if (strcmp(pre, gpt2[i]) == 0) kind = 1;
        if (strcmp(pre, llama3[i]) == 0) kind = 3;
        if (i < 2 && strcmp(pre, digits[i]) == 0) kind = 2;
    }
    if (kind == 2) {
        t->pre[t->n_pre].kind = FP8Q__TP_DIGITS;
        t->pre[t->n_pre++].a_num = 1;
    }
    if (kind) t->pre[t->n_pre++].kind = kind == 3 ? FP8Q__TP_LLAMA3 : FP8Q__TP_GPT2;
    t->ignore_merges = kind == 3;
    t->byte_level = 1;
    if (kind) t->dec[t->n_dec++].kind = FP8Q__TD_BYTELEVEL;
    return kind;
}

/* model "llama": SentencePiece's pipeline as a Llama 2 tokenizer.json spells it. */
static int fp8q__tok_spec_spm(fp8q_tokenizer *t, int add_space_prefix)
{
    static const char space[] = " ", meta[] = "\xE2\x96\x81"; /* U+2581 */
    fp8q__tok_str sp, mt;
    if (!fp8q__tok_keep(t, space, 1, &sp) || !fp8q__tok_keep(t, meta, 3, &mt)) return 0;
    if (add_space_prefix) {
        t->norm[t->n_norm].kind = FP8Q__TN_PREPEND;
        t->norm[t->n_norm++].a = mt;
    }
    t->norm[t->n_norm].kind = FP8Q__TN_REPLACE;
    t->norm[t->n_norm].a = sp;
    t->norm[t->n_norm++].b = mt;
    t->dec[t->n_dec].kind = FP8Q__TD_REPLACE;
    t->dec[t->n_dec].a = mt;
    t->dec[t->n_dec++].b = sp;
    t->dec[t->n_dec++].kind = FP8Q__TD_BYTEFALLBACK;
    t->dec[t->n_dec++].kind = FP8Q__TD_FUSE;
    if (add_space_prefix) {
        t->dec[t->n_dec].kind = FP8Q__TD_STRIP;
        t->dec[t->n_dec].a = sp;
        t->dec[t->n_dec++].a_num = 1;
    }
    t->byte_fallback = t->fuse_unk = 1;
    return 1;
}

/* Tokens (vocabulary, added tokens for types 2, 3, 4) and merges of a spec. */
static fp8q_result fp8q__tok_spec_arrays(fp8q_tokenizer *t, const fp8q_tokenizer_spec *sp, int spm, fp8q_error *err)
{
    size_t i;
    fp8q_result r;
    char where[48];
    fp8q__tok_buf scratch = {NULL, 0, 0};
    if ((r = fp8q__tok_vocab_alloc(t, sp->n_tokens, err)) != FP8Q_OK) return r;
    t->added = (fp8q__tok_added *)malloc((sp->n_tokens + 1) * sizeof *t->added);
    if (!t->added) return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory for the tokens");
    for (i = 0; i < sp->n_tokens; i++) {
        const char *s = sp->tokens[i];
        size_t n = fp8q__tok_spec_len(sp->tokens, sp->token_lens, i);
        int32_t type = sp->token_types ? sp->token_types[i] : 1;
        (void)snprintf(where, sizeof where, "tokens[%lu]", (unsigned long)i);
        if (!n || !s) return fp8q__failf(err, FP8Q_ERR_PARSE, "%s is empty or NULL", where);
        if (!fp8q__tok_valid_utf8(s, n)) return fp8q__failf(err, FP8Q_ERR_PARSE, "%s is not valid UTF-8", where);
        if (type < 0 || type > 6)
            return fp8q__failf(err, FP8Q_ERR_PARSE, "token_types[%lu]: %ld is not a llama.cpp token type (0..6)",
                               (unsigned long)i, (long)type);
        if (sp->scores && !(sp->scores[i] == sp->scores[i] && sp->scores[i] - sp->scores[i] == 0))
            return fp8q__failf(err, FP8Q_ERR_PARSE, "scores[%lu] is not finite", (unsigned long)i);
        if ((r = fp8q__tok_vocab_add(t, s, n, (int32_t)i, "tokens", err)) != FP8Q_OK) return r;
        if ((type == 2 || type == 3 || type == 4) &&
            (r = fp8q__tok_added_add(t, s, n, (int32_t)i, type != 4, 0, 0, 0, where, err)) != FP8Q_OK)
            return r;
    }
    if (spm && !sp->n_merges) {
        if (!sp->scores)
            return fp8q__failf(err, FP8Q_ERR_PARSE, "model \"llama\" without merges needs scores (none given)");
        return fp8q__tok_spm_merges(t, sp->scores, err);
    }
    if (sp->n_merges && !sp->merges) return fp8q__failf(err, FP8Q_ERR_ARG, "merges is NULL with n_merges > 0");
    if ((r = fp8q__tok_merges_alloc(t, sp->n_merges, err)) != FP8Q_OK) return r;
    for (i = 0; r == FP8Q_OK && i < sp->n_merges; i++) {
        const char *s = sp->merges[i], *space;
        size_t n = fp8q__tok_spec_len(sp->merges, sp->merge_lens, i);
        space = s ? (const char *)memchr(s, ' ', n) : NULL;
        if (!space || memchr(space + 1, ' ', n - (size_t)(space + 1 - s)))
            r = fp8q__failf(err, FP8Q_ERR_PARSE, "merges[%lu]: expected \"a b\" with exactly one space",
                            (unsigned long)i);
        else
            r = fp8q__tok_merge_strings(t, s, (size_t)(space - s), space + 1, n - (size_t)(space + 1 - s), i, "merges",
                                        &scratch, err);
    }
    free(scratch.p);
    return r;
}

static fp8q_result fp8q__tok_from_spec(fp8q_tokenizer *t, const fp8q_tokenizer_spec *sp, fp8q_error *err)
{
    int spm, add_bos, add_eos, i;
    const char *ids[4] = {"bos", "eos", "unk", "pad"};
    int32_t v[4];
    fp8q_result r;
    v[0] = sp->bos, v[1] = sp->eos, v[2] = sp->unk, v[3] = sp->pad;
    if (!sp->model || (strcmp(sp->model, "gpt2") != 0 && strcmp(sp->model, "llama") != 0))
        return fp8q__failf(err, FP8Q_ERR_UNSUPPORTED, "model '%.40s' is not supported (\"gpt2\" or \"llama\")",
                           sp->model ? sp->model : "(null)");
    spm = strcmp(sp->model, "llama") == 0;
    if (!sp->n_tokens || !sp->tokens) return fp8q__failf(err, FP8Q_ERR_PARSE, "no tokens");
    for (i = 0; i < 4; i++)
        if (v[i] < -1 || (v[i] >= 0 && (size_t)v[i] >= sp->n_tokens))
            return fp8q__failf(err, FP8Q_ERR_PARSE, "%s id %ld is outside [-1, %lu)", ids[i], (long)v[i],
                               (unsigned long)sp->n_tokens);
    if (spm) {
        if (sp->pre && strcmp(sp->pre, "default") != 0)
            return fp8q__failf(err, FP8Q_ERR_UNSUPPORTED, "model \"llama\" with pre '%.40s' is not supported", sp->pre);
        if (!fp8q__tok_spec_spm(t, sp->add_space_prefix != 0)) return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory");
    } else if (!fp8q__tok_spec_pre(t, sp->pre))
        return fp8q__failf(err, FP8Q_ERR_UNSUPPORTED,
                           "pre '%.40s' is not supported (default, gpt-2, gpt2, smollm, "
                           "starcoder, llama-bpe, llama3, llama-v3)",
                           sp->pre);
    t->has_decoder = 1;
    if ((r = fp8q__tok_spec_arrays(t, sp, spm, err)) != FP8Q_OK) return r;
    t->unk = spm ? sp->unk : -1;
    t->bos = sp->bos;
    t->eos = sp->eos;
    add_bos = sp->add_bos >= 0 ? sp->add_bos : (spm || t->ignore_merges);
    add_eos = sp->add_eos >= 0 ? sp->add_eos : 0;
    if (add_bos && sp->bos >= 0) t->post_before[t->n_post_before++] = sp->bos;
    if (add_eos && sp->eos >= 0) t->post_after[t->n_post_after++] = sp->eos;
    if (sp->chat_template && fp8q__tok_set_template(t, sp->chat_template, strlen(sp->chat_template)) != FP8Q_OK)
        return fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory");
    return fp8q__tok_finish(t, "tokens", "tokens", err);
}

FP8QDEF fp8q_result fp8q_tokenizer_from_spec(fp8q_tokenizer **out, const fp8q_tokenizer_spec *spec, fp8q_error *err)
{
    fp8q_tokenizer *t;
    fp8q_result r;
    fp8q__st_err_ok(err);
    if (out) *out = NULL;
    if (!out || !spec)
        return fp8q__failf(err, FP8Q_ERR_ARG, "fp8q_tokenizer_from_spec: %s", !out ? "out is NULL" : "spec is NULL");
    t = fp8q__tok_new();
    r = t ? fp8q__tok_from_spec(t, spec, err) : fp8q__failf(err, FP8Q_ERR_NOMEM, "out of memory");
    if (r != FP8Q_OK) {
        fp8q_tokenizer_free(t);
        fp8q__st_prefix(err, "tokenizer spec: ");
        return r;
    }
    *out = t;
    return FP8Q_OK;
}

#endif /* FP8Q_FREESTANDING */

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif /* FP8Q__IMPLEMENTATION_DONE */
#endif /* FP8Q_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
This software is available under 2 licenses -- choose whichever you prefer.
------------------------------------------------------------------------------
ALTERNATIVE A - MIT License
Copyright (c) 2026 the fp8q authors
Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:
The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
------------------------------------------------------------------------------
ALTERNATIVE B - Public Domain (www.unlicense.org)
This is free and unencumbered software released into the public domain.
Anyone is free to copy, modify, publish, use, compile, sell, or distribute this
software, either in source code form or as a compiled binary, for any purpose,
commercial or non-commercial, and by any means.
In jurisdictions that recognize copyright laws, the author or authors of this
software dedicate any and all copyright interest in the software to the public
domain. We make this dedication in overt act of relinquishment in perpetuity of
all present and future rights to this software under copyright law.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN
ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION
WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
------------------------------------------------------------------------------
*/
