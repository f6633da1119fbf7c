/* fp8q_cuda.cu - fp8q's CUDA backend: conversions, dynamic quantization and
   FP8 GEMM on NVIDIA GPUs, and device kernels for the Llama decode path.

   A companion translation unit of fp8q.h, compiled by nvcc (C++17) and
   linked with -lcudart -lcublasLt; it includes the header for the
   declarations only (the application defines FP8Q_IMPLEMENTATION in one file
   of its own; this file calls fp8q_to_f32, fp8q_f16_to_f32, fp8q_format_get
   and fp8q_scale_count from it). Built for sm_80, sm_89 and sm_90 (add
   compute_90 PTX for newer GPUs), never with -use_fast_math or -ftz=true
   (the arithmetic must keep subnormals; fp8q_cuda_open checks it). Device
   memory is plain cudaMalloc.

   fp8q_cuda_open(&b, device, &err) selects the device, checks that this
   build has code for it (compute capability >= 8.0), and creates a stream,
   a cuBLASLt handle and a 32 MiB workspace. No driver, no device or another
   runtime failure: FP8Q_ERR_DEVICE, the message starting "fp8q_cuda_open: no
   CUDA device" when there is none, so callers go on with the CPU. Every
   CUDA or cuBLASLt failure later is FP8Q_ERR_DEVICE naming the call and the
   runtime's text (cudaGetErrorString / cublasLtGetStatusName); a device
   allocation that does not fit is FP8Q_ERR_NOMEM. Every entry makes the
   backend's device current for the calling thread (cudaSetDevice) and
   leaves it current.

   The backend entries (fp8q_backend_encode / _quantize / _gemm) take host
   pointers: they upload, compute and download before returning (the
   copies are part of their cost). The fp8q_cuda_*_dev functions declared
   below take device pointers and only enqueue work on the backend's stream
   (fp8q_cuda_sync waits); the benchmark measures kernel bandwidth with them.
   Arguments are validated on the host before any CUDA call, with the CPU's
   result codes (FP8Q_ERR_ARG and a message); the device-pointer functions
   also refuse pointers that are not device memory (cudaPointerGetAttributes).

   NUMERICS (what each operation computes)
   encode    E4M3 and E5M2 from float32 / half / bfloat16, every scale op
             and both saturation modes, equal bit for bit to fp8q_encode_*:
             y = x * scale or x / scale with one IEEE operation (__fmul_rn,
             __fdiv_rn), then __nv_cvt_float2_to_fp8x2(y, __NV_SATFINITE),
             which is the hardware cvt.rn.satfinite.{e4m3x2,e5m2x2}.f32 on
             sm_89+ and CUDA's software routine (fp8q's definition) on
             sm_80; then fix-ups on the bits of y leave only the rounding of
             representable magnitudes to that instruction: a NaN gives 7F
             (fp8q's nan_code; the hardware NaN byte is unconfirmed,
             NUMERICS.md 2.2); |y| <= half the smallest subnormal gives a
             zero with y's sign; with FP8Q_NOSAT, |y| past the last finite
             rounding (E4M3 > 464, E5M2 >= 61440, NUMERICS.md 2.1; Inf
             included) gives 7F/FF (E4M3) or 7C/FC (E5M2). This element code
             run on the host (fp8q_cuda_emulate_encode) equals fp8q for all
             2^32 floats, each format and mode (sampled for x * s, x / s). Half is widened with the
             exact hardware cvt.f32.f16, bfloat16 by a shift. Vector path: 16
             elements per thread (16-byte loads, one 16-byte store) when both
             pointers are 16-byte aligned, else one element per thread. FNUZ
             formats: FP8Q_ERR_UNSUPPORTED (the CPU runs them).
   quantize  every recipe with an E4M3 or E5M2 format (FNUZ: UNSUPPORTED),
             every tiling, rule (AMAX, MX, POW2), precision, op, clamp and
             saturation, dynamic or static; bytes and scales equal
             fp8q_compute_scales + fp8q_quantize bit for bit: amax is the
             maximum of |x|'s bits with NaN skipped (the CPU's fmaxf
             semantics; max is exact in any order), and the scale and the
             element cast run fp8q's formulas in the same float32 steps
             (__fdiv_rn / __fmul_rn, no contraction, fmin/fmax written out
             with the CPU's NaN and signed-zero behaviour, bfloat16
             rounding on the bits). One tile per block: amax reduction,
             scale, then the cast of the tile (per token: one block per
             row). Per tensor: a grid-wide amax (atomicMax on the bits, a
             NaN/Inf flag by atomicOr), then a cast kernel in which every
             block derives the scale from the amax (block 0 stores it).
   gemm      FP8Q_GEMM_FAST only (REFERENCE and EXACT: UNSUPPORTED, so the
             CPU computes the bit-exact definitions). Two engines:
             cuBLASLt (sm_89+, A8 and B8 E4M3/E5M2 but not both E5M2, scales
             per tensor or per row with no K grouping): D^T = B . A^T as
             cuBLASLt's TN FP8 matmul (its A is our B [N][K], op T; its B
             our A [M][K]; D column-major [N][M] = our C row-major),
             FP8 fast accumulation off, per-tensor scales through
             A/B_SCALE_POINTER, per-row scales through outer-vector scaling
             (CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F) or, where
             cuBLASLt refuses it, an f32 result and fp8q's epilogue
             c = (acc * sb[n]) * sa[m] + bias[n]; a bias always goes through
             that epilogue (cuBLASLt's FP8 bias is 16-bit); K and N are
             zero-padded to multiples of 16 when needed. The tensor cores
             accumulate their own way (Hopper's FP8 MMA keeps fewer than
             24 bits inside an MMA; unconfirmed here), so this engine is
             expected, not proven, to stay within fp8q_gemm_tolerance;
             tests/test_cuda.c measures it.
             SIMT (everything else: sm_80, W8A16, K-grouped and block
             scales, FNUZ, E5M2 x E5M2, or fp8q_cuda_set_gemm_engine):
             each output in one thread's registers, K ascending, products
             exact (W8A16: rounded, then added), group epilogue
             c += (acc * sb) * sa, then + bias: REFERENCE's order and
             roundings, so equal to FP8Q_GEMM_REFERENCE bit for bit (the
             test checks it) and within fp8q_gemm_tolerance of EXACT.
             Outputs: f32, bf16, f16 rounded to nearest even; NaN stored as
             0x7FFFFFFF / 7FFF by the SIMT engine and the epilogue (cuBLASLt's
             own direct output keeps the device's NaN bits).
   Model kernels (device pointers, float32): RMSNorm, RoPE (half-split,
   Llama-3 scaling comes with fp8q_model.rope_inv_freq), SwiGLU, decode
   attention over an FP8 KV cache; each mirrors the CPU forward's formula
   and order per element (sums are reduced in parallel, so they agree with
   the CPU to rounding, not bit for bit).

   Whole model (fp8q_state_init_backend with this backend; fp8q_forward
   then runs here): model_open checks the model on the host
   (fp8q_cuda_plan_model: FAST GEMMs; no INC dynamic quantization, FP8
   attention or clamped KV cache, which decline to the CPU) and copies it
   to the device as loaded: FP8 codes and their scales as they are (the
   loader quantized them on the host while streaming the file, so only FP8
   weights cross the bus), embeddings and unquantized modules (lm_head) in
   their checkpoint type, norms, RoPE frequencies; then the KV cache
   [layers][max_seq][kv_dim] (FP8 codes, or float32 with KV auto) and the
   scratch of max_batch rows. The forward is the CPU's fp8q__layer_forward
   step for step on the stream: embedding rows, RMSNorm, q/k/v, RoPE, cache
   store (fp8(x / scale) SATFINITE: the encode kernel, bit-equal to the
   CPU's), causal attention (one block per head and query row; prefill rows
   chunked so the score scratch stays under 64 MiB), o_proj, residual,
   RMSNorm, gate/up, SwiGLU, down_proj, residual; final norm and lm_head
   for the last row (or all rows), downloaded into the host logits. A
   linear quantizes its input with the module's recipe (the quantize
   kernels: codes and scales bit-equal to the CPU's for the same input),
   then: M <= 8 rows (decode) the GEMV kernel (one warp per output, 16-byte
   loads, products fused, lanes summed by shuffles, REFERENCE's epilogue);
   more rows the GEMM engines above; float weights the GEMV kernel over
   chunks of 8 rows. Sums run in other orders than the CPU's, so logits
   agree within rounding, and an activation that lands on an FP8 rounding
   boundary may take the neighbouring code (tests/test_cuda.c allows 2e-2
   x max |logit| for FP8 models, 1e-4 for float32). Observers (traces,
   calibration) need a CPU state.

   UNCONFIRMED (no GPU was available when this was written; tests/test_cuda.c
   checks each on a device): the hardware cvt's rounding and saturation
   against fp8q for all 2^32 floats (--exhaustive); the whole-model
   forward against the CPU (device_model); that cuBLASLt
   accepts the FP8 layouts, F32 output and outer-vector scaling on sm_89 and
   sm_90 (refusals fall back, see above); the tensor-core GEMM error against
   fp8q_gemm_tolerance; every kernel's run-time behaviour and speed. */
#include "fp8q.h"

#include <cublasLt.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Device-pointer API and test entry points of the CUDA backend. To move   */
/* into fp8q.h's backends section; tests/test_cuda.c and bench/bench_cuda.cu */
/* repeat these declarations until then.                                    */
/* ------------------------------------------------------------------------ */
extern "C" {

/* Which implementation fp8q_backend_gemm's FAST mode uses on the device. */
typedef enum fp8q_cuda_gemm_engine {
    FP8Q_CUDA_GEMM_AUTO = 0, /* cuBLASLt FP8 tensor cores where they apply, else SIMT (the default) */
    FP8Q_CUDA_GEMM_SIMT = 1  /* always fp8q's own float32 kernel in REFERENCE's order */
} fp8q_cuda_gemm_engine;

typedef enum fp8q_cuda_gemm_path {
    FP8Q_CUDA_PATH_NONE = 0,
    FP8Q_CUDA_PATH_CUBLASLT = 1,
    FP8Q_CUDA_PATH_SIMT = 2
} fp8q_cuda_gemm_path;

/* What the backend does with one GEMM request (fp8q_cuda_plan_gemm). */
typedef struct fp8q_cuda_gemm_plan {
    fp8q_cuda_gemm_path path;
    size_t group, n_groups; /* the K groups of the scales, as the CPU's */
    int a_vec, b_vec;       /* cuBLASLt: per-row scale vector instead of one scalar */
    size_t Kp, Np;          /* cuBLASLt: K and N rounded up to multiples of 16 */
} fp8q_cuda_gemm_plan;

/* Host-only decisions (no CUDA call; testable without a device): FP8Q_OK
   when the device runs the request, FP8Q_ERR_UNSUPPORTED when the CPU must,
   FP8Q_ERR_ARG (with the CPU's conditions and a message) for bad arguments.
   cc: compute capability as 10 * major + minor (89 for 8.9). */
FP8QDEF fp8q_result fp8q_cuda_plan_encode(const uint8_t *dst, const void *src, fp8q_dtype src_type, size_t n,
                                          fp8q_format fmt, fp8q_saturation sat, fp8q_scale_op op, fp8q_error *err);
FP8QDEF fp8q_result fp8q_cuda_plan_quantize(const uint8_t *q, const float *scales, const float *x, size_t rows,
                                            size_t cols, const fp8q_recipe *r, fp8q_error *err);
FP8QDEF fp8q_result fp8q_cuda_plan_gemm(const fp8q_gemm *g, fp8q_gemm_mode mode, int cc, fp8q_cuda_gemm_engine engine,
                                        fp8q_cuda_gemm_plan *plan, fp8q_error *err);

/* The device kernels' element code compiled for the host and run
   sequentially (the software FP8 routine stands in for the sm_89+ hardware
   cvt): tests compare it with the CPU definitions without a GPU. Same
   arguments and results as the backend entries with host pointers. */
FP8QDEF fp8q_result fp8q_cuda_emulate_encode(uint8_t *dst, const void *src, fp8q_dtype src_type, size_t n,
                                             fp8q_format fmt, fp8q_saturation sat, fp8q_scale_op op, float scale);
FP8QDEF fp8q_result fp8q_cuda_emulate_quantize(uint8_t *q, float *scales, const float *x, size_t rows, size_t cols,
                                               const fp8q_recipe *r, int dynamic);

/* Backend state. b must come from fp8q_cuda_open (else FP8Q_ERR_ARG / 0 / NULL). */
FP8QDEF fp8q_result fp8q_cuda_set_gemm_engine(fp8q_backend *b, fp8q_cuda_gemm_engine engine, fp8q_error *err);
FP8QDEF fp8q_cuda_gemm_path fp8q_cuda_last_gemm_path(const fp8q_backend *b); /* of the last successful GEMM */
FP8QDEF int fp8q_cuda_compute_capability(const fp8q_backend *b);             /* 10 * major + minor */
FP8QDEF void *fp8q_cuda_stream(fp8q_backend *b);                             /* the cudaStream_t it runs on */

/* Device memory (plain cudaMalloc) and copies; upload returns once the
   host buffer may be reused, download once the bytes are there. */
FP8QDEF fp8q_result fp8q_cuda_alloc(fp8q_backend *b, void **dev, size_t bytes, fp8q_error *err);
FP8QDEF void fp8q_cuda_free(fp8q_backend *b, void *dev);
FP8QDEF fp8q_result fp8q_cuda_upload(fp8q_backend *b, void *dev, const void *host, size_t bytes, fp8q_error *err);
FP8QDEF fp8q_result fp8q_cuda_download(fp8q_backend *b, void *host, const void *dev, size_t bytes, fp8q_error *err);
/* Waits for the work enqueued on the backend's stream; reports its errors. */
FP8QDEF fp8q_result fp8q_cuda_sync(fp8q_backend *b, fp8q_error *err);

/* The operations on device pointers, enqueued on the backend's stream.
   Same definitions, arguments and results as the host-pointer entries;
   quantize_dev's scales and gemm_dev's every pointer are device memory. */
FP8QDEF fp8q_result fp8q_cuda_encode_dev(fp8q_backend *b, uint8_t *dst, const void *src, fp8q_dtype src_type, size_t n,
                                         fp8q_format fmt, fp8q_saturation sat, fp8q_scale_op op, float scale,
                                         fp8q_error *err);
FP8QDEF fp8q_result fp8q_cuda_quantize_dev(fp8q_backend *b, uint8_t *q, float *scales, const float *x, size_t rows,
                                           size_t cols, const fp8q_recipe *r, int dynamic, fp8q_error *err);
FP8QDEF fp8q_result fp8q_cuda_gemm_dev(fp8q_backend *b, const fp8q_gemm *g, fp8q_error *err);

/* Model kernels (device pointers, float32, row-major; enqueued).
   rmsnorm    y[rows][dim] = w[dim] * (x * 1/sqrtf(mean(x^2) + eps))
   rope       in place on x[n_tokens][row_stride], heads h < n_heads at
              columns h*head_dim: token t at position pos0 + t rotates the
              pairs (i, i + head_dim/2) by pos * inv_freq[i] (transformers'
              rotate_half; inv_freq[head_dim/2] on the device, e.g. a copy of
              fp8q_model.rope_inv_freq, which holds the Llama-3 scaling)
   swiglu     out[n] = gate / (1 + expf(-gate)) * up
   attention_decode  one query token: out[n_heads][head_dim] =
              softmax(q . K^T * head_dim^-0.5) . V per head, head h reading
              KV head h / (n_heads / n_kv_heads); k_cache, v_cache
              [seq_len][kv_stride] FP8 codes (kv_format E4M3 or E5M2), head
              kvh at columns kvh*head_dim, value = float(code) * k_scale (or
              v_scale); q [n_heads][head_dim] after RoPE. */
FP8QDEF fp8q_result fp8q_cuda_rmsnorm(fp8q_backend *b, float *y, const float *x, const float *w, size_t rows,
                                      size_t dim, float eps, fp8q_error *err);
FP8QDEF fp8q_result fp8q_cuda_rope(fp8q_backend *b, float *x, size_t n_tokens, size_t n_heads, size_t head_dim,
                                   size_t row_stride, int pos0, const float *inv_freq, fp8q_error *err);
FP8QDEF fp8q_result fp8q_cuda_swiglu(fp8q_backend *b, float *out, const float *gate, const float *up, size_t n,
                                     fp8q_error *err);
FP8QDEF fp8q_result fp8q_cuda_attention_decode(fp8q_backend *b, float *out, const float *q, const uint8_t *k_cache,
                                               const uint8_t *v_cache, fp8q_format kv_format, float k_scale,
                                               float v_scale, size_t n_heads, size_t n_kv_heads, size_t head_dim,
                                               size_t seq_len, size_t kv_stride, fp8q_error *err);

/* Whether the device runs model m's forward (fp8q_state_init_backend),
   checked on the host without a CUDA call: FP8Q_OK, or FP8Q_ERR_UNSUPPORTED
   naming what it lacks (INC's dynamic quantization, FP8 attention or
   clamped KV cache; a GEMM mode other than FAST; head_dim > 1024). */
FP8QDEF fp8q_result fp8q_cuda_plan_model(const fp8q_model *m, fp8q_error *err);
} /* extern "C" */

/* ------------------------------------------------------------------------ */
/* Shared host/device numerics: the definitions the kernels and the host    */
/* emulation both run.                                                      */
/* ------------------------------------------------------------------------ */

#define FP8Q__HD __host__ __device__ __forceinline__

FP8Q__HD uint32_t fp8q__cu_bits(float x)
{
#ifdef __CUDA_ARCH__
    return __float_as_uint(x);
#else
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
#endif
}

FP8Q__HD float fp8q__cu_float(uint32_t u)
{
#ifdef __CUDA_ARCH__
    return __uint_as_float(u);
#else
    float x;
    memcpy(&x, &u, 4);
    return x;
#endif
}

/* One IEEE float32 operation each, round to nearest even, never contracted. */
FP8Q__HD float fp8q__cu_mul(float a, float b)
{
#ifdef __CUDA_ARCH__
    return __fmul_rn(a, b);
#else
    volatile float r = a * b;
    return r;
#endif
}

FP8Q__HD float fp8q__cu_div(float a, float b)
{
#ifdef __CUDA_ARCH__
    return __fdiv_rn(a, b);
#else
    volatile float r = a / b;
    return r;
#endif
}

FP8Q__HD float fp8q__cu_add(float a, float b)
{
#ifdef __CUDA_ARCH__
    return __fadd_rn(a, b);
#else
    volatile float r = a + b;
    return r;
#endif
}

/* fminf / fmaxf as the CPU writes them (a NaN operand yields the other). */
FP8Q__HD float fp8q__cu_fmin(float a, float b) { return a != a ? b : b != b ? a : (a < b ? a : b); }
FP8Q__HD float fp8q__cu_fmax(float a, float b) { return a != a ? b : b != b ? a : (a > b ? a : b); }

/* fp8q_f32_to_bf16 and fp8q_f32_to_f16, on the bits. */
FP8Q__HD uint16_t fp8q__cu_f32_to_bf16(float x)
{
    const uint32_t u = fp8q__cu_bits(x);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

FP8Q__HD uint16_t fp8q__cu_f32_to_f16(float x)
{
    const uint32_t u = fp8q__cu_bits(x), sign = (u >> 16) & 0x8000u, a = u & 0x7FFFFFFFu;
    const int e = (int)(a >> 23) - 127 + 15;
    uint32_t sig, shift, code, rem, half;
    if (a > 0x7F800000u) return (uint16_t)(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
    if (a >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u);
    if (e >= 1) {
        code = ((uint32_t)e << 10) | ((a >> 13) & 0x3FFu), shift = 13, sig = a;
    } else {
        if (e < -10) return (uint16_t)sign;
        sig = (a & 0x7FFFFFu) | 0x800000u, shift = (uint32_t)(14 - e), code = sig >> shift;
    }
    rem = sig & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (code & 1u))) code++;
    return (uint16_t)(sign | code);
}

/* The recipe's precision: FP8Q_HP_BF16 rounds to bfloat16 after each step. */
FP8Q__HD float fp8q__cu_round_hp(float x, int hp)
{
    return hp == FP8Q_HP_BF16 ? fp8q__cu_float((uint32_t)fp8q__cu_f32_to_bf16(x) << 16) : x;
}

FP8Q__HD float fp8q__cu_apply_scale(float x, int op, float scale)
{
    return op == FP8Q_SCALE_MUL ? fp8q__cu_mul(x, scale) : op == FP8Q_SCALE_DIV ? fp8q__cu_div(x, scale) : x;
}

/* The largest |y| bits whose RNE result is finite: E4M3 464 (ties to 448),
   E5M2 just below 61440 (ties up to Inf). */
FP8Q__HD uint32_t fp8q__cu_last_finite_bits(int fmt) { return fmt == FP8Q_E5M2 ? 0x476FFFFFu : 0x43E80000u; }

/* The largest |y| bits that round to zero: half the smallest subnormal
   (E4M3 2^-10, E5M2 2^-17; the tie goes to the even zero). */
FP8Q__HD uint32_t fp8q__cu_underflow_bits(int fmt) { return fmt == FP8Q_E5M2 ? 0x37000000u : 0x3A800000u; }

/* The byte for y from the saturating conversion's byte sf: NaN -> 7F,
   underflow -> zero with y's sign, and the non-saturating overflow codes
   for FP8Q_NOSAT. Only the rounding of representable magnitudes is left to
   the conversion instruction. */
FP8Q__HD uint32_t fp8q__cu_fix(uint32_t sf, float y, int fmt, int sat)
{
    const uint32_t u = fp8q__cu_bits(y), a = u & 0x7FFFFFFFu, under = fp8q__cu_underflow_bits(fmt);
    const uint32_t last = fp8q__cu_last_finite_bits(fmt);
    if (a - under - 1u < last - under) return sf; /* under < a <= last: a finite, non-zero result */
    if (a > 0x7F800000u) return 0x7Fu;
    if (a <= under) return (u >> 24) & 0x80u;
    return sat == FP8Q_NOSAT ? ((u >> 24) & 0x80u) | (fmt == FP8Q_E5M2 ? 0x7Cu : 0x7Fu) : sf;
}

/* Two values to two FP8 bytes (y0 in the low byte). fmt: E4M3 or E5M2. */
FP8Q__HD uint32_t fp8q__cu_enc2(float y0, float y1, int fmt, int sat)
{
    const __nv_fp8x2_storage_t s =
        __nv_cvt_float2_to_fp8x2(make_float2(y0, y1), __NV_SATFINITE, fmt == FP8Q_E5M2 ? __NV_E5M2 : __NV_E4M3);
    return fp8q__cu_fix((uint32_t)s & 0xFFu, y0, fmt, sat) | fp8q__cu_fix((uint32_t)s >> 8, y1, fmt, sat) << 8;
}

/* A bulk conversion's element operation (fp8q_encode_*). */
struct fp8q__cu_encoder {
    int fmt, sat, op;
    float scale;
    FP8Q__HD uint32_t pair(float x0, float x1) const
    {
        return fp8q__cu_enc2(fp8q__cu_apply_scale(x0, op, scale), fp8q__cu_apply_scale(x1, op, scale), fmt, sat);
    }
};

/* The fields of an fp8q_recipe the device needs (no pointers). */
struct fp8q__cu_recipe {
    int fmt, rule, hp, op, clamp, sat;
    float qmax, amax_ub, min_scale;
};

static fp8q__cu_recipe fp8q__cu_recipe_of(const fp8q_recipe *r)
{
    fp8q__cu_recipe d;
    d.fmt = (int)r->format, d.rule = (int)r->rule, d.hp = (int)r->hp, d.op = (int)r->op, d.clamp = r->clamp;
    d.sat = (int)r->sat, d.qmax = r->qmax, d.amax_ub = r->amax_ub, d.min_scale = r->min_scale;
    return d;
}

/* 2^e for -149 <= e <= 127, exactly. */
FP8Q__HD float fp8q__cu_pow2f(int e)
{
    return e >= -126 ? fp8q__cu_float((uint32_t)(e + 127) << 23) : fp8q__cu_float(1u << (e + 149));
}

/* floor(log2 a) for a finite a > 0, from the bits. */
FP8Q__HD int fp8q__cu_ilog2f(float a)
{
    uint32_t u = fp8q__cu_bits(a) & 0x7FFFFFFFu;
    int e = (int)(u >> 23);
    if (e) return e - 127;
    e = -127;
    while (!(u & 0x400000u)) u <<= 1, e--;
    return e;
}

/* The scale of one tile from its amax: fp8q's fp8q__scale_from_amax. */
FP8Q__HD float fp8q__cu_scale_from_amax(const fp8q__cu_recipe &r, float amax, int nonfinite)
{
    float s;
    if (r.rule == FP8Q_RULE_MX) {
        const int emax = r.fmt == FP8Q_E5M2 ? 15 : 8; /* floor(log2 max_finite): 57344, 448 */
        int e;
        if (nonfinite) return fp8q__cu_float(0x7FFFFFFFu);
        e = amax > 0 ? fp8q__cu_ilog2f(amax) - emax : -127;
        return fp8q__cu_pow2f(e < -127 ? -127 : e > 127 ? 127 : e);
    }
    amax = fp8q__cu_round_hp(amax, r.hp);
    if (r.amax_ub > 0) amax = fp8q__cu_fmin(amax, r.amax_ub);
    s = fp8q__cu_round_hp(fp8q__cu_div(amax, r.qmax), r.hp);
    if (r.rule == FP8Q_RULE_POW2 && s > 0 && s < 3.4e38f) {
        const int e = fp8q__cu_ilog2f(s);
        s = fp8q__cu_pow2f(s == fp8q__cu_pow2f(e) || e >= 127 ? e : e + 1);
    }
    if (r.min_scale > 0) s = fp8q__cu_fmax(s, r.min_scale);
    return s;
}

/* amax over |x| as float bits (NaN skipped, Inf kept) and the flag of a
   NaN or Inf (MX's nonfinite): unsigned order equals float order here. */
FP8Q__HD void fp8q__cu_amax_add(uint32_t &amax, uint32_t &nonfinite, float x)
{
    const uint32_t a = fp8q__cu_bits(x) & 0x7FFFFFFFu;
    nonfinite |= a >= 0x7F800000u ? 1u : 0u;
    if (a <= 0x7F800000u && a > amax) amax = a;
}

/* One tile's element operation with its scale s and inv = round_hp(1 / s):
   fp8q's fp8q__quantize_one. */
struct fp8q__cu_quantizer {
    fp8q__cu_recipe r;
    float s, inv;
    FP8Q__HD float value(float x) const
    {
        float y = r.op == FP8Q_SCALE_MUL ? fp8q__cu_mul(x, inv) : fp8q__cu_div(x, s);
        y = fp8q__cu_round_hp(y, r.hp);
        if (r.clamp) y = fp8q__cu_fmax(-r.qmax, fp8q__cu_fmin(y, r.qmax));
        return y;
    }
    FP8Q__HD uint32_t pair(float x0, float x1) const { return fp8q__cu_enc2(value(x0), value(x1), r.fmt, r.sat); }
};

FP8Q__HD fp8q__cu_quantizer fp8q__cu_quantizer_for(const fp8q__cu_recipe &r, float s)
{
    fp8q__cu_quantizer q;
    q.r = r, q.s = s, q.inv = fp8q__cu_round_hp(fp8q__cu_div(1.0f, s), r.hp);
    return q;
}

/* A GEMM output element: NaN canonical, RNE to the output type. */
FP8Q__HD void fp8q__cu_store_out(void *c, int c_type, size_t i, float v)
{
    if (v != v) v = fp8q__cu_float(0x7FFFFFFFu);
    if (c_type == FP8Q_F32)
        ((float *)c)[i] = v;
    else
        ((uint16_t *)c)[i] = c_type == FP8Q_BF16 ? fp8q__cu_f32_to_bf16(v) : fp8q__cu_f32_to_f16(v);
}

/* ------------------------------------------------------------------------ */
/* Kernels: conversions and quantization                                    */
/* ------------------------------------------------------------------------ */

#define FP8Q__CU_THREADS 256 /* threads per block of the elementwise kernels */

/* Element i of a float32 / half / bfloat16 array, widened exactly. */
template <int T> __device__ __forceinline__ float fp8q__cu_load1(const void *src, size_t i)
{
    if (T == FP8Q_F32) return ((const float *)src)[i];
    if (T == FP8Q_F16) return __half2float(__ushort_as_half(((const unsigned short *)src)[i]));
    return __uint_as_float((uint32_t)((const unsigned short *)src)[i] << 16);
}

/* Two 16-bit floats packed in w (element 2i in the low half), widened. */
template <int T> __device__ __forceinline__ float2 fp8q__cu_widen2(uint32_t w)
{
    if (T == FP8Q_F16)
        return make_float2(__half2float(__ushort_as_half((unsigned short)(w & 0xFFFFu))),
                           __half2float(__ushort_as_half((unsigned short)(w >> 16))));
    return make_float2(__uint_as_float(w << 16), __uint_as_float(w & 0xFFFF0000u));
}

/* Elements 16g .. 16g+15 as floats, with 16-byte loads (src 16-byte aligned). */
template <int T> __device__ __forceinline__ void fp8q__cu_load16(const void *src, size_t g, float v[16])
{
    if (T == FP8Q_F32) {
        const float4 *p = (const float4 *)src + 4 * g;
        for (int j = 0; j < 4; j++) {
            const float4 f = p[j];
            v[4 * j] = f.x, v[4 * j + 1] = f.y, v[4 * j + 2] = f.z, v[4 * j + 3] = f.w;
        }
    } else {
        const uint4 *p = (const uint4 *)src + 2 * g;
        for (int j = 0; j < 2; j++) {
            const uint4 w = p[j];
            const uint32_t u[4] = {w.x, w.y, w.z, w.w};
            for (int k = 0; k < 4; k++) {
                const float2 f = fp8q__cu_widen2<T>(u[k]);
                v[8 * j + 2 * k] = f.x, v[8 * j + 2 * k + 1] = f.y;
            }
        }
    }
}

/* dst[i] = op(src[i]) for i < n: 16 elements per thread and one 16-byte
   store when aligned (both pointers 16-byte aligned), else one element per
   thread. Op has pair(x0, x1) -> two bytes. Grid-stride. */
template <int T, class Op>
__device__ __forceinline__ void fp8q__cu_map(uint8_t *__restrict__ dst, const void *__restrict__ src, size_t n,
                                             int aligned, const Op &op)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x, tid = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t done = 0;
    if (aligned) {
        const size_t groups = n / 16;
        for (size_t g = tid; g < groups; g += stride) {
            float v[16];
            uint4 o;
            fp8q__cu_load16<T>(src, g, v);
            o.x = op.pair(v[0], v[1]) | op.pair(v[2], v[3]) << 16;
            o.y = op.pair(v[4], v[5]) | op.pair(v[6], v[7]) << 16;
            o.z = op.pair(v[8], v[9]) | op.pair(v[10], v[11]) << 16;
            o.w = op.pair(v[12], v[13]) | op.pair(v[14], v[15]) << 16;
            ((uint4 *)dst)[g] = o;
        }
        done = groups * 16;
    }
    for (size_t i = done + tid; i < n; i += stride) dst[i] = (uint8_t)op.pair(fp8q__cu_load1<T>(src, i), 0.0f);
}

template <int T>
__global__ void __launch_bounds__(FP8Q__CU_THREADS)
    fp8q__cu_encode_kernel(uint8_t *dst, const void *src, size_t n, int aligned, fp8q__cu_encoder enc)
{
    fp8q__cu_map<T>(dst, src, n, aligned, enc);
}

/* The maximum and the OR over a block (blockDim.x a multiple of 32, at most
   1024); the result is valid in thread 0. */
__device__ void fp8q__cu_block_max_or(uint32_t &mx, uint32_t &flag)
{
    __shared__ uint32_t s_max[32], s_or[32];
    const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    mx = __reduce_max_sync(0xFFFFFFFFu, mx), flag = __reduce_or_sync(0xFFFFFFFFu, flag);
    if (lane == 0) s_max[warp] = mx, s_or[warp] = flag;
    __syncthreads();
    if (warp == 0) {
        mx = lane < nw ? s_max[lane] : 0u, flag = lane < nw ? s_or[lane] : 0u;
        mx = __reduce_max_sync(0xFFFFFFFFu, mx), flag = __reduce_or_sync(0xFFFFFFFFu, flag);
    }
}

/* Per tensor, pass 1: amax and the NaN/Inf flag of x[n] into word[0], word[1]
   (zeroed before). */
__global__ void __launch_bounds__(FP8Q__CU_THREADS)
    fp8q__cu_amax_kernel(const float *__restrict__ x, size_t n, int aligned, uint32_t *word)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x, tid = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    uint32_t mx = 0, flag = 0;
    size_t done = 0;
    if (aligned) {
        for (size_t g = tid; g < n / 4; g += stride) {
            const float4 f = ((const float4 *)x)[g];
            fp8q__cu_amax_add(mx, flag, f.x), fp8q__cu_amax_add(mx, flag, f.y);
            fp8q__cu_amax_add(mx, flag, f.z), fp8q__cu_amax_add(mx, flag, f.w);
        }
        done = n / 4 * 4;
    }
    for (size_t i = done + tid; i < n; i += stride) fp8q__cu_amax_add(mx, flag, x[i]);
    fp8q__cu_block_max_or(mx, flag);
    if (threadIdx.x == 0) {
        atomicMax(&word[0], mx);
        if (flag) atomicOr(&word[1], 1u);
    }
}

/* Per tensor, pass 2: the scale (dynamic: from word, stored by block 0;
   static: scales[0]) and the cast of x[n]. */
__global__ void __launch_bounds__(FP8Q__CU_THREADS)
    fp8q__cu_cast_tensor_kernel(uint8_t *q, const float *x, size_t n, int aligned, fp8q__cu_recipe r,
                                const uint32_t *word, float *scales, int dynamic)
{
    const float s = dynamic ? fp8q__cu_scale_from_amax(r, __uint_as_float(word[0]), word[1] != 0) : scales[0];
    if (dynamic && blockIdx.x == 0 && threadIdx.x == 0) scales[0] = s;
    fp8q__cu_map<FP8Q_F32>(q, x, n, aligned, fp8q__cu_quantizer_for(r, s));
}

/* The tiling of a quantization: x [rows][cols], tiles tr x tc, n_tc per row. */
struct fp8q__cu_tiling {
    size_t rows, cols, tr, tc, n_tc, n_tiles;
    int vec4; /* tiles start and end on multiples of 4 columns, x is 16-byte and q 4-byte aligned */
};

/* One tile per block (grid-stride over tiles): amax, scale (dynamic) or the
   given scale (static), then the cast. */
__global__ void fp8q__cu_quant_tiles_kernel(uint8_t *q, float *scales, const float *x, fp8q__cu_tiling t,
                                            fp8q__cu_recipe r, int dynamic)
{
    __shared__ float s_scale;
    for (size_t tile = blockIdx.x; tile < t.n_tiles; tile += gridDim.x) {
        const size_t r0 = tile / t.n_tc * t.tr, c0 = tile % t.n_tc * t.tc;
        const size_t r1 = r0 + t.tr < t.rows ? r0 + t.tr : t.rows, c1 = c0 + t.tc < t.cols ? c0 + t.tc : t.cols;
        if (dynamic) {
            uint32_t mx = 0, flag = 0;
            for (size_t i = r0; i < r1; i++) {
                const float *row = x + i * t.cols;
                if (t.vec4)
                    for (size_t j = c0 / 4 + threadIdx.x; j < c1 / 4; j += blockDim.x) {
                        const float4 f = ((const float4 *)row)[j];
                        fp8q__cu_amax_add(mx, flag, f.x), fp8q__cu_amax_add(mx, flag, f.y);
                        fp8q__cu_amax_add(mx, flag, f.z), fp8q__cu_amax_add(mx, flag, f.w);
                    }
                else
                    for (size_t j = c0 + threadIdx.x; j < c1; j += blockDim.x) fp8q__cu_amax_add(mx, flag, row[j]);
            }
            fp8q__cu_block_max_or(mx, flag);
            if (threadIdx.x == 0) s_scale = scales[tile] = fp8q__cu_scale_from_amax(r, __uint_as_float(mx), flag != 0);
        } else if (threadIdx.x == 0)
            s_scale = scales[tile];
        __syncthreads();
        {
            const fp8q__cu_quantizer qz = fp8q__cu_quantizer_for(r, s_scale);
            for (size_t i = r0; i < r1; i++) {
                const float *row = x + i * t.cols;
                uint8_t *qrow = q + i * t.cols;
                if (t.vec4)
                    for (size_t j = c0 / 4 + threadIdx.x; j < c1 / 4; j += blockDim.x) {
                        const float4 f = ((const float4 *)row)[j];
                        ((uint32_t *)qrow)[j] = qz.pair(f.x, f.y) | qz.pair(f.z, f.w) << 16;
                    }
                else
                    for (size_t j = c0 + threadIdx.x; j < c1; j += blockDim.x) qrow[j] = (uint8_t)qz.pair(row[j], 0.0f);
            }
        }
        __syncthreads(); /* s_scale and the reduction's shared memory are reused by the next tile */
    }
}

/* ------------------------------------------------------------------------ */
/* Kernels: GEMM                                                            */
/* ------------------------------------------------------------------------ */

/* A GEMM with device pointers and the CPU's scale plan. */
struct fp8q__cu_gemm_args {
    size_t M, N, K;
    const uint8_t *a;           /* [M][K] FP8, or NULL (W8A16) */
    const float *a_f32;         /* [M][K] when a is NULL */
    const uint8_t *b;           /* [N][K] FP8 */
    const float *dec_a, *dec_b; /* decode tables [256] of the two formats */
    const float *a_scales, *b_scales;
    size_t a_tr, a_tc, a_ncols, b_tr, b_tc, b_ncols, group;
    const float *bias; /* [N] or NULL */
    void *c;           /* [M][N] of c_type */
    int c_type;
    size_t m_base; /* the first row of this launch's blockIdx.y == 0 */
};

#define FP8Q__SIMT_BM 64 /* output rows per block */
#define FP8Q__SIMT_BN 64 /* output columns per block */
#define FP8Q__SIMT_BK 16 /* K per shared-memory step */

__device__ __forceinline__ float fp8q__cu_scale_at(const float *scales, size_t tr, size_t tc, size_t ncols, size_t row,
                                                   size_t k)
{
    return scales ? scales[(row / tr) * ncols + k / tc] : 1.0f;
}

/* The SIMT engine: 256 threads compute a 64 x 64 block of C, each thread the
   4 x 4 outputs (ty + 16i, tx + 16j) in its registers with K ascending, in
   REFERENCE's order: per K group acc += a * b (W8A8: exact products, so the
   FMA equals a product and a sum; W8A16: the product rounded, then added),
   then c += (acc * sb) * sa; finally c + bias, rounded to the output. */
template <bool W8A16> __global__ void __launch_bounds__(256) fp8q__cu_gemm_simt_kernel(fp8q__cu_gemm_args g)
{
    __shared__ float As[FP8Q__SIMT_BK][FP8Q__SIMT_BM + 1], Bs[FP8Q__SIMT_BK][FP8Q__SIMT_BN + 1];
    __shared__ float dec_a[256], dec_b[256];
    const int t = threadIdx.x, tx = t % 16, ty = t / 16;
    const size_t m0 = g.m_base + (size_t)blockIdx.y * FP8Q__SIMT_BM, n0 = (size_t)blockIdx.x * FP8Q__SIMT_BN;
    float acc[4][4], c[4][4];
    size_t flush = g.group < g.K ? g.group : g.K;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = 0.0f, c[i][j] = 0.0f;
    if (!W8A16) dec_a[t] = g.dec_a[t];
    dec_b[t] = g.dec_b[t];
    __syncthreads();
    for (size_t k0 = 0; k0 < g.K; k0 += FP8Q__SIMT_BK) {
        for (int l = 0; l < 4; l++) { /* 64 x 16 elements of each operand, 4 per thread */
            const int idx = t + 256 * l, row = idx / FP8Q__SIMT_BK, kk = idx % FP8Q__SIMT_BK;
            const size_t k = k0 + (size_t)kk, m = m0 + (size_t)row, n = n0 + (size_t)row;
            float av = 0.0f, bv = 0.0f;
            if (m < g.M && k < g.K) av = W8A16 ? g.a_f32[m * g.K + k] : dec_a[g.a[m * g.K + k]];
            if (n < g.N && k < g.K) bv = dec_b[g.b[n * g.K + k]];
            As[kk][row] = av, Bs[kk][row] = bv;
        }
        __syncthreads();
        const size_t kend = g.K - k0 < FP8Q__SIMT_BK ? g.K - k0 : FP8Q__SIMT_BK;
        for (size_t kk = 0; kk < kend; kk++) {
            float a[4], b[4];
            for (int i = 0; i < 4; i++) a[i] = As[kk][ty + 16 * i], b[i] = Bs[kk][tx + 16 * i];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++)
                    acc[i][j] = W8A16 ? __fadd_rn(acc[i][j], __fmul_rn(a[i], b[j])) : __fmaf_rn(a[i], b[j], acc[i][j]);
            if (k0 + kk + 1 == flush) { /* the end of a K group: the group's epilogue */
                const size_t k_first = (k0 + kk) / g.group * g.group;
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 4; j++) {
                        const size_t m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
                        if (m < g.M && n < g.N) {
                            float v = __fmul_rn(acc[i][j],
                                                fp8q__cu_scale_at(g.b_scales, g.b_tr, g.b_tc, g.b_ncols, n, k_first));
                            v = __fmul_rn(v, fp8q__cu_scale_at(g.a_scales, g.a_tr, g.a_tc, g.a_ncols, m, k_first));
                            c[i][j] = __fadd_rn(c[i][j], v);
                        }
                        acc[i][j] = 0.0f;
                    }
                flush = flush + g.group < g.K ? flush + g.group : g.K;
            }
        }
        __syncthreads();
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            const size_t m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
            if (m < g.M && n < g.N)
                fp8q__cu_store_out(g.c, g.c_type, m * g.N + n, g.bias ? __fadd_rn(c[i][j], g.bias[n]) : c[i][j]);
        }
}

/* out[i] = scales ? scales[(i / tr) * ncols] : 1 for i < count, 1 for
   count <= i < padded: one scale per row from a tiling with no K groups. */
__global__ void fp8q__cu_expand_scales_kernel(float *out, const float *scales, size_t tr, size_t ncols, size_t count,
                                              size_t padded)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < padded; i += (size_t)gridDim.x * blockDim.x)
        out[i] = scales && i < count ? scales[(i / tr) * ncols] : 1.0f;
}

/* C[M][N] from cuBLASLt's float32 D (row-major [M][ldd]): the REFERENCE
   epilogue c = (d * sb[n]) * sa[m] + bias[n] (each step where given),
   rounded to the output type. */
__global__ void fp8q__cu_epilogue_kernel(void *c, int c_type, const float *d, size_t M, size_t N, size_t ldd,
                                         const float *sa, const float *sb, const float *bias)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < M * N; i += (size_t)gridDim.x * blockDim.x) {
        const size_t m = i / N, n = i % N;
        float v = d[m * ldd + n];
        if (sb) v = __fmul_rn(v, sb[n]);
        if (sa) v = __fmul_rn(v, sa[m]);
        if (bias) v = __fadd_rn(v, bias[n]);
        fp8q__cu_store_out(c, c_type, i, v);
    }
}

/* Flush-to-zero probe: both results are the subnormal 2^-127 unless the
   file was compiled with -ftz=true or -use_fast_math. */
__global__ void fp8q__cu_probe_kernel(float *out, float tiny)
{
    out[0] = __fmul_rn(tiny, 0.5f), out[1] = __fdiv_rn(tiny, 2.0f);
}

/* ------------------------------------------------------------------------ */
/* Kernels: the Llama decode path (float32)                                 */
/* ------------------------------------------------------------------------ */

#define FP8Q__CU_MODEL_THREADS 128 /* threads per block of rmsnorm and attention */

/* Sum or maximum over a block (blockDim.x a multiple of 32); every thread gets the result. */
__device__ float fp8q__cu_block_reduce(float v, int is_max)
{
    __shared__ float s_part[32];
    __shared__ float s_result;
    const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) {
        const float w = __shfl_xor_sync(0xFFFFFFFFu, v, o);
        v = is_max ? fmaxf(v, w) : __fadd_rn(v, w);
    }
    if (lane == 0) s_part[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < nw ? s_part[lane] : (is_max ? -3.4e38f : 0.0f);
        for (int o = 16; o > 0; o >>= 1) {
            const float w = __shfl_xor_sync(0xFFFFFFFFu, v, o);
            v = is_max ? fmaxf(v, w) : __fadd_rn(v, w);
        }
        if (lane == 0) s_result = v;
    }
    __syncthreads();
    v = s_result;
    __syncthreads(); /* s_part and s_result may be reused at once */
    return v;
}

/* One block per row: y = w * (x * (1 / sqrtf(sum(x^2) / dim + eps))). */
__global__ void __launch_bounds__(FP8Q__CU_MODEL_THREADS)
    fp8q__cu_rmsnorm_kernel(float *y, const float *x, const float *w, size_t dim, float eps)
{
    const float *xr = x + (size_t)blockIdx.x * dim;
    float *yr = y + (size_t)blockIdx.x * dim;
    float ss = 0.0f, inv;
    for (size_t i = threadIdx.x; i < dim; i += blockDim.x) ss = __fmaf_rn(xr[i], xr[i], ss);
    ss = fp8q__cu_block_reduce(ss, 0);
    inv = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(__fdiv_rn(ss, (float)dim), eps)));
    for (size_t i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = __fmul_rn(w[i], __fmul_rn(xr[i], inv));
}

/* One thread per rotated pair (token t, head h, i < head_dim / 2), as the
   CPU: angle = float(pos) * inv_freq[i], cos and sin in double rounded to
   float, then a*c - b*s and b*c + a*s with separate roundings. */
__global__ void fp8q__cu_rope_kernel(float *x, size_t n_tokens, size_t n_heads, size_t head_dim, size_t row_stride,
                                     int pos0, const float *inv_freq)
{
    const size_t half = head_dim / 2, total = n_tokens * n_heads * half;
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x) {
        const size_t i = idx % half, th = idx / half, h = th % n_heads, t = th / n_heads;
        float *v = x + t * row_stride + h * head_dim;
        const float angle = __fmul_rn((float)(pos0 + (int)t), inv_freq[i]);
        double sd, cd;
        sincos((double)angle, &sd, &cd);
        const float c = (float)cd, s = (float)sd, a = v[i], b = v[i + half];
        v[i] = __fsub_rn(__fmul_rn(a, c), __fmul_rn(b, s));
        v[i + half] = __fadd_rn(__fmul_rn(b, c), __fmul_rn(a, s));
    }
}

__global__ void fp8q__cu_swiglu_kernel(float *out, const float *gate, const float *up, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const float gv = gate[i];
        out[i] = __fmul_rn(__fdiv_rn(gv, __fadd_rn(1.0f, expf(-gv))), up[i]);
    }
}

/* ------------------------------------------------------------------------ */
/* Whole-model kernels (fp8q_state_init_backend)                            */
/* ------------------------------------------------------------------------ */

/* An element of a weight or embedding matrix in its checkpoint type, as the
   CPU decodes it (half widened exactly, bfloat16 by a shift). */
__device__ __forceinline__ float fp8q__cu_float_at(const void *w, int type, size_t i)
{
    if (type == FP8Q_F32) return ((const float *)w)[i];
    const unsigned short u = ((const unsigned short *)w)[i];
    if (type == FP8Q_BF16) return __uint_as_float((unsigned)u << 16);
    return __half2float(__ushort_as_half(u));
}

/* x[t][i] = embed[tokens[t]][i] as float32. */
__global__ void fp8q__cu_embed_kernel(float *x, const void *embed, int type, const int32_t *tokens, size_t n,
                                      size_t dim)
{
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < n * dim;
         idx += (size_t)gridDim.x * blockDim.x) {
        const size_t t = idx / dim, i = idx % dim;
        x[idx] = fp8q__cu_float_at(embed, type, (size_t)tokens[t] * dim + i);
    }
}

/* The residual connection: x[i] += y[i]. */
__global__ void fp8q__cu_add_kernel(float *x, const float *y, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = __fadd_rn(x[i], y[i]);
}

#define FP8Q__CU_GEMV_ROWS 8    /* linears on at most this many rows (decode) run as GEMV */
#define FP8Q__CU_CODES     (-1) /* a GEMV operand of E4M3 codes (fp8q_dtype has FP8Q_F32 == 0) */

/* y[m][n] = x[m] . w[n] with the GEMM epilogue, for M <= FP8Q__CU_GEMV_ROWS:
   one warp per output column n streams w's row once for all M rows. w: FP8
   E4M3 codes (w_type 0; dequantized through dec_w) or float32/bf16/f16;
   x: E4M3 codes (a, through dec_a) or float32 (a_f32). Each lane sums
   every 32nd element (16-byte loads when K % 16 == 0), then the warp adds
   the lanes: a different order from the CPU's, so FAST's tolerance. The
   epilogue is REFERENCE's: (acc * w_scale) * a_scale, then + bias. */
struct fp8q__cu_gemv_args {
    size_t M, N, K;
    const uint8_t *a;   /* [M][K] codes, or NULL */
    const float *a_f32; /* [M][K] when a is NULL */
    const void *w;      /* [N][K] */
    int w_type;         /* FP8Q__CU_CODES: E4M3 codes; else FP8Q_F32 / FP8Q_BF16 / FP8Q_F16 */
    const float *dec_a, *dec_w;
    const float *a_scales, *w_scales; /* NULL: 1 */
    int a_per_row, w_per_row;
    const float *bias; /* [N] or NULL */
    float *y;          /* [M][N] */
};

/* 16 consecutive elements from i (16-byte aligned: K % 16 == 0 and
   cudaMalloc'd rows) as float32: type FP8Q__CU_CODES is E4M3 codes through dec, else
   FP8Q_F32 / FP8Q_BF16 / FP8Q_F16; one to four 16-byte loads. */
__device__ __forceinline__ void fp8q__cu_load16(float *out, const void *base, int type, const float *dec, size_t i)
{
    const int esize = type == FP8Q__CU_CODES ? 1 : type == FP8Q_F32 ? 4 : 2;
    const uint4 *src = (const uint4 *)((const char *)base + i * (size_t)esize);
    uint4 raw[4];
    for (int j = 0; j < esize; j++) raw[j] = __ldg(src + j);
    const uint8_t *bytes = (const uint8_t *)raw;
    for (int e = 0; e < 16; e++)
        out[e] = type == FP8Q__CU_CODES ? dec[bytes[e]] : fp8q__cu_float_at(raw, type, (size_t)e);
}

/* One element (the unaligned path). */
__device__ __forceinline__ float fp8q__cu_load1(const void *base, int type, const float *dec, size_t i)
{
    return type == FP8Q__CU_CODES ? dec[((const uint8_t *)base)[i]] : fp8q__cu_float_at(base, type, i);
}

__global__ void __launch_bounds__(256) fp8q__cu_gemv_kernel(fp8q__cu_gemv_args g)
{
    __shared__ float dec_a[256], dec_w[256];
    const unsigned lane = threadIdx.x & 31u;
    const size_t n = (size_t)blockIdx.x * (blockDim.x / 32) + (threadIdx.x >> 5);
    const int a_type = g.a ? FP8Q__CU_CODES : FP8Q_F32;
    const void *a = g.a ? (const void *)g.a : (const void *)g.a_f32;
    float acc[FP8Q__CU_GEMV_ROWS];
    dec_a[threadIdx.x] = g.dec_a ? g.dec_a[threadIdx.x] : 0.0f;
    dec_w[threadIdx.x] = g.dec_w ? g.dec_w[threadIdx.x] : 0.0f;
    __syncthreads();
    if (n >= g.N) return;
#pragma unroll
    for (int m = 0; m < FP8Q__CU_GEMV_ROWS; m++) acc[m] = 0.0f;
    if (g.K % 16 == 0) {
        for (size_t k0 = (size_t)lane * 16; k0 < g.K; k0 += 32 * 16) {
            float wv[16], xv[16];
            fp8q__cu_load16(wv, g.w, g.w_type, dec_w, n * g.K + k0);
#pragma unroll
            for (int m = 0; m < FP8Q__CU_GEMV_ROWS; m++)
                if ((size_t)m < g.M) {
                    fp8q__cu_load16(xv, a, a_type, dec_a, (size_t)m * g.K + k0);
                    for (int e = 0; e < 16; e++) acc[m] = __fmaf_rn(xv[e], wv[e], acc[m]);
                }
        }
    } else {
        for (size_t k = lane; k < g.K; k += 32) {
            const float wv = fp8q__cu_load1(g.w, g.w_type, dec_w, n * g.K + k);
#pragma unroll
            for (int m = 0; m < FP8Q__CU_GEMV_ROWS; m++)
                if ((size_t)m < g.M)
                    acc[m] = __fmaf_rn(fp8q__cu_load1(a, a_type, dec_a, (size_t)m * g.K + k), wv, acc[m]);
        }
    }
#pragma unroll
    for (int m = 0; m < FP8Q__CU_GEMV_ROWS; m++) {
        if ((size_t)m >= g.M) break;
        float v = acc[m];
        for (int o = 16; o > 0; o >>= 1) v = __fadd_rn(v, __shfl_xor_sync(0xFFFFFFFFu, v, o));
        if (lane == 0) {
            if (g.w_scales) v = __fmul_rn(v, g.w_scales[g.w_per_row ? n : 0]);
            if (g.a_scales) v = __fmul_rn(v, g.a_scales[g.a_per_row ? m : 0]);
            g.y[(size_t)m * g.N + n] = g.bias ? __fadd_rn(v, g.bias[n]) : v;
        }
    }
}

/* Causal attention of query rows row0 + r (r = blockIdx.y), head h =
   blockIdx.x: row t at position pos0 + t attends positions 0 .. pos0 + t
   of the cache [max_seq][kv_stride] (FP8 codes decoded as float(code) *
   scale, or float32); scores (q . k) * scaling, softmax with the maximum
   subtracted, out = sum_p (e_p / sum) * v_p with p ascending (the CPU's
   order per output). att: scratch [rows][n_heads][att_stride]. Dynamic
   shared memory: head_dim floats (q). */
struct fp8q__cu_attn_args {
    float *out;        /* [n][q_stride] */
    const float *q;    /* [n][q_stride], after RoPE */
    const void *k, *v; /* the layer's cache */
    int fp8;           /* 1: codes, 0: float32 */
    const float *dec;  /* the cache format's decode table */
    float k_scale, v_scale, scaling;
    size_t group, hd, kv_stride, q_stride, att_stride;
    int pos0;
    size_t row0;
    float *att;
};

__device__ __forceinline__ float fp8q__cu_cache_at(const void *c, int fp8, const float *table, size_t i)
{
    return fp8 ? table[((const uint8_t *)c)[i]] : ((const float *)c)[i];
}

__global__ void __launch_bounds__(FP8Q__CU_MODEL_THREADS) fp8q__cu_attention_rows_kernel(fp8q__cu_attn_args a)
{
    extern __shared__ float qs[];
    __shared__ float kt[256], vt[256];
    const size_t h = blockIdx.x, t = a.row0 + blockIdx.y, kvh = h / a.group, len = (size_t)a.pos0 + t + 1;
    const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    float *sc = a.att + ((size_t)blockIdx.y * gridDim.x + h) * a.att_stride;
    float *out = a.out + t * a.q_stride + h * a.hd;
    float mx = -3.4e38f, sum = 0.0f;
    for (unsigned i = threadIdx.x; i < 256; i += blockDim.x)
        kt[i] = a.fp8 ? __fmul_rn(a.dec[i], a.k_scale) : 0.0f, vt[i] = a.fp8 ? __fmul_rn(a.dec[i], a.v_scale) : 0.0f;
    for (size_t d = threadIdx.x; d < a.hd; d += blockDim.x) qs[d] = a.q[t * a.q_stride + h * a.hd + d];
    __syncthreads();
    for (size_t p = warp; p < len; p += nw) {
        const size_t base = p * a.kv_stride + kvh * a.hd;
        float dot = 0.0f;
        for (size_t d = lane; d < a.hd; d += 32)
            dot = __fmaf_rn(qs[d], fp8q__cu_cache_at(a.k, a.fp8, kt, base + d), dot);
        for (int o = 16; o > 0; o >>= 1) dot = __fadd_rn(dot, __shfl_xor_sync(0xFFFFFFFFu, dot, o));
        if (lane == 0) sc[p] = __fmul_rn(dot, a.scaling);
    }
    __syncthreads();
    for (size_t p = threadIdx.x; p < len; p += blockDim.x) mx = fmaxf(mx, sc[p]);
    mx = fp8q__cu_block_reduce(mx, 1);
    for (size_t p = threadIdx.x; p < len; p += blockDim.x) {
        const float e = expf(__fsub_rn(sc[p], mx));
        sc[p] = e, sum = __fadd_rn(sum, e);
    }
    sum = fp8q__cu_block_reduce(sum, 0); /* its barriers also publish sc */
    for (size_t d = threadIdx.x; d < a.hd; d += blockDim.x) {
        float o = 0.0f;
        for (size_t p = 0; p < len; p++)
            o = __fadd_rn(o, __fmul_rn(__fdiv_rn(sc[p], sum),
                                       fp8q__cu_cache_at(a.v, a.fp8, vt, p * a.kv_stride + kvh * a.hd + d)));
        out[d] = o;
    }
}

/* ------------------------------------------------------------------------ */
/* Host side: errors, the backend object, device buffers                    */
/* ------------------------------------------------------------------------ */

#define FP8Q__CU_WORKSPACE  ((size_t)32 << 20) /* cuBLASLt workspace */
#define FP8Q__CU_CHUNK      ((size_t)1 << 28)  /* host-pointer encode: elements per upload */
#define FP8Q__CU_PLANS      8                  /* cached cuBLASLt matmul plans */
#define FP8Q__CU_MAX_BLOCKS 32                 /* grid-stride kernels: blocks per SM */

static fp8q_result fp8q__cu_fail(fp8q_error *err, fp8q_result r, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->code = (int)r, err->offset = 0;
    }
    return r;
}

/* r, with the message in local copied to err unless r is FP8Q_OK or a
   decline (FP8Q_ERR_UNSUPPORTED leaves err untouched: the CPU runs then). */
static fp8q_result fp8q__cu_pass(fp8q_error *err, const fp8q_error *local, fp8q_result r)
{
    if (err && r != FP8Q_OK && r != FP8Q_ERR_UNSUPPORTED) *err = *local;
    return r;
}

/* FP8Q_OK, or FP8Q_ERR_DEVICE naming the call and CUDA's text. */
static fp8q_result fp8q__cu_check(cudaError_t e, const char *call, fp8q_error *err)
{
    if (e == cudaSuccess) return FP8Q_OK;
    (void)cudaGetLastError(); /* a non-sticky error must not be reported again by the next launch check */
    return fp8q__cu_fail(err, FP8Q_ERR_DEVICE, "fp8q_cuda: %s failed: %s (%s)", call, cudaGetErrorString(e),
                         cudaGetErrorName(e));
}

static fp8q_result fp8q__lt_check(cublasStatus_t s, const char *call, fp8q_error *err)
{
    if (s == CUBLAS_STATUS_SUCCESS) return FP8Q_OK;
    return fp8q__cu_fail(err, FP8Q_ERR_DEVICE, "fp8q_cuda: %s failed: %s (%s)", call, cublasLtGetStatusName(s),
                         cublasLtGetStatusString(s));
}

#define FP8Q__CU_TRY(expr)                                                                                             \
    do {                                                                                                               \
        const fp8q_result fp8q__r = (expr);                                                                            \
        if (fp8q__r != FP8Q_OK) return fp8q__r;                                                                        \
    } while (0)
#define FP8Q__CU_CALL(call)     FP8Q__CU_TRY(fp8q__cu_check((call), #call, err))
#define FP8Q__CU_LAUNCHED(name) FP8Q__CU_TRY(fp8q__cu_check(cudaGetLastError(), "launching " name, err))

/* Device scratch buffers, grown on demand and kept until close. */
enum fp8q__cu_slot {
    FP8Q__SLOT_IN,     /* host-pointer ops: the uploaded input (x, src) */
    FP8Q__SLOT_OUT,    /* their output (q, dst, C) */
    FP8Q__SLOT_SCALES, /* quantize: scales; gemm: a_scales */
    FP8Q__SLOT_WORD,   /* per-tensor amax and flag */
    FP8Q__SLOT_A,      /* gemm host path: A or a_f32 */
    FP8Q__SLOT_B,      /* gemm host path: B */
    FP8Q__SLOT_BSC,    /* gemm host path: b_scales */
    FP8Q__SLOT_BIAS,   /* gemm host path: bias */
    FP8Q__SLOT_PAD_A,  /* cuBLASLt: A padded to Kp */
    FP8Q__SLOT_PAD_B,  /* cuBLASLt: B padded to Np x Kp */
    FP8Q__SLOT_VEC_A,  /* cuBLASLt: a_scales as one value per row [M] */
    FP8Q__SLOT_VEC_B,  /* cuBLASLt: b_scales as one value per row [Np] */
    FP8Q__SLOT_D,      /* cuBLASLt: D [M][Np] */
    FP8Q__SLOT_ATT,    /* attention scores [n_heads][len] */
    FP8Q__SLOT_COUNT
};

/* One cached cuBLASLt matmul: descriptors and the heuristic's algorithm for
   (m, n, k) = (Np, M, Kp), the operand and output types and the scale mode. */
struct fp8q__cu_lt_plan {
    int valid;
    size_t m, n, k;
    cudaDataType_t a_type, b_type, d_type;
    int outer;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, ld;
    cublasLtMatmulAlgo_t algo;
};

typedef struct fp8q__cuda {
    fp8q_backend base; /* first: the fp8q_backend handed out is this object */
    int device, cc, sm_count;
    cudaStream_t stream;
    cublasLtHandle_t lt;
    void *workspace;
    float *dec; /* [FP8Q_FORMAT_COUNT][256] decode tables, then 1.0f at [FP8Q_FORMAT_COUNT * 256] */
    void *slot[FP8Q__SLOT_COUNT];
    size_t cap[FP8Q__SLOT_COUNT];
    fp8q__cu_lt_plan plans[FP8Q__CU_PLANS];
    int next_plan;
    int outer_vec; /* cuBLASLt outer-vector scaling: 0 untried, 1 works, -1 refused */
    fp8q_cuda_gemm_engine engine;
    fp8q_cuda_gemm_path last_path;
} fp8q__cuda;

static fp8q__cuda *fp8q__cu_of(const fp8q_backend *b)
{
    return b && b->kind == FP8Q_BACKEND_CUDA && b->impl ? (fp8q__cuda *)b->impl : NULL;
}

static const float *fp8q__cu_one(const fp8q__cuda *h) { return h->dec + FP8Q_FORMAT_COUNT * 256; }

/* cudaMalloc, its failure cleared from the runtime's last error (else the
   next launch check would report it): FP8Q_ERR_NOMEM when the device is
   out of memory, else FP8Q_ERR_DEVICE. held: bytes already allocated, for
   the message. */
static fp8q_result fp8q__cu_malloc(void **p, size_t bytes, const char *what, size_t held, fp8q_error *err)
{
    const cudaError_t e = cudaMalloc(p, bytes ? bytes : 1);
    if (e == cudaSuccess) return FP8Q_OK;
    (void)cudaGetLastError();
    *p = NULL;
    return fp8q__cu_fail(err, e == cudaErrorMemoryAllocation ? FP8Q_ERR_NOMEM : FP8Q_ERR_DEVICE,
                         "fp8q_cuda: cudaMalloc of %zu bytes for the %s failed (%zu held): %s", bytes, what, held,
                         cudaGetErrorString(e));
}

/* The slot's buffer with room for bytes (contents not kept when it grows). */
static fp8q_result fp8q__cu_reserve(fp8q__cuda *h, int slot, size_t bytes, void **p, fp8q_error *err)
{
    if (bytes > h->cap[slot]) {
        if (h->slot[slot]) { /* work queued earlier may still read the old buffer */
            FP8Q__CU_CALL(cudaStreamSynchronize(h->stream));
            FP8Q__CU_CALL(cudaFree(h->slot[slot]));
        }
        h->slot[slot] = NULL, h->cap[slot] = 0;
        FP8Q__CU_TRY(fp8q__cu_malloc(&h->slot[slot], bytes, "scratch", 0, err));
        h->cap[slot] = bytes;
    }
    *p = h->slot[slot];
    return FP8Q_OK;
}

/* Grid size of a grid-stride kernel over items work items. */
static unsigned fp8q__cu_blocks(const fp8q__cuda *h, size_t items, unsigned threads)
{
    const size_t want = (items + threads - 1) / threads, most = (size_t)h->sm_count * FP8Q__CU_MAX_BLOCKS;
    return (unsigned)(want < 1 ? 1 : want < most ? want : most);
}

static int fp8q__cu_aligned(const void *p, size_t to) { return ((uintptr_t)p & (to - 1)) == 0; }

/* Whether p is memory the current device (fp8q__cu_enter set it) can use:
   its own cudaMalloc memory (not another GPU's) or managed memory. */
static int fp8q__cu_is_device(const void *p)
{
    cudaPointerAttributes a;
    int current = -1;
    if (cudaPointerGetAttributes(&a, p) != cudaSuccess || cudaGetDevice(&current) != cudaSuccess) {
        (void)cudaGetLastError(); /* not sticky: clear it */
        return 0;
    }
    return (a.type == cudaMemoryTypeDevice && a.device == current) || a.type == cudaMemoryTypeManaged;
}

/* FP8Q_ERR_ARG unless every listed pointer (NULL ones skipped) is device memory. */
static fp8q_result fp8q__cu_device_ptrs(const char *fn, fp8q_error *err, int n, const void *const *p,
                                        const char *const *names)
{
    for (int i = 0; i < n; i++)
        if (p[i] && !fp8q__cu_is_device(p[i]))
            return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: %s is not device memory (use fp8q_cuda_alloc)", fn, names[i]);
    return FP8Q_OK;
}

static fp8q_result fp8q__cu_enter(const fp8q_backend *b, const char *fn, fp8q__cuda **h, fp8q_error *err)
{
    if (!(*h = fp8q__cu_of(b)))
        return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: the backend is not one fp8q_cuda_open returned", fn);
    return fp8q__cu_check(cudaSetDevice((*h)->device), "cudaSetDevice", err);
}

/* ------------------------------------------------------------------------ */
/* Host side: plans (argument checks and decisions, no CUDA calls)          */
/* ------------------------------------------------------------------------ */

static int fp8q__cu_device_format(fp8q_format f) { return f == FP8Q_E4M3 || f == FP8Q_E5M2; }

FP8QDEF fp8q_result fp8q_cuda_plan_encode(const uint8_t *dst, const void *src, fp8q_dtype src_type, size_t n,
                                          fp8q_format fmt, fp8q_saturation sat, fp8q_scale_op op, fp8q_error *err)
{
    const char *fn = "fp8q_cuda encode";
    if (n > 0 && (!dst || !src)) return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: NULL dst or src with n = %zu", fn, n);
    if (!fp8q_format_get(fmt)) return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: unknown format %d", fn, (int)fmt);
    if (sat != FP8Q_SATFINITE && sat != FP8Q_NOSAT)
        return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: unknown saturation %d", fn, (int)sat);
    if (op != FP8Q_SCALE_NONE && op != FP8Q_SCALE_MUL && op != FP8Q_SCALE_DIV)
        return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: unknown scale operation %d", fn, (int)op);
    if (src_type != FP8Q_F32 && src_type != FP8Q_F16 && src_type != FP8Q_BF16)
        return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: source type %d is not FP8Q_F32, FP8Q_F16 or FP8Q_BF16", fn,
                             (int)src_type);
    if (!fp8q__cu_device_format(fmt))
        return fp8q__cu_fail(err, FP8Q_ERR_UNSUPPORTED, "%s: %s has no CUDA conversion (the CPU runs it)", fn,
                             fp8q_format_get(fmt)->name);
    return FP8Q_OK;
}

static int fp8q__cu_recipe_ok(const fp8q_recipe *r)
{
    return r && fp8q_format_get(r->format) && r->tile_rows >= 0 && r->tile_cols >= 0 &&
           (r->op == FP8Q_SCALE_MUL || r->op == FP8Q_SCALE_DIV) && (r->hp == FP8Q_HP_F32 || r->hp == FP8Q_HP_BF16) &&
           (r->sat == FP8Q_SATFINITE || r->sat == FP8Q_NOSAT) && r->rule >= FP8Q_RULE_AMAX && r->rule <= FP8Q_RULE_POW2;
}

FP8QDEF fp8q_result fp8q_cuda_plan_quantize(const uint8_t *q, const float *scales, const float *x, size_t rows,
                                            size_t cols, const fp8q_recipe *r, fp8q_error *err)
{
    const char *fn = "fp8q_cuda quantize";
    if (!fp8q__cu_recipe_ok(r)) return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: NULL or invalid recipe", fn);
    if (cols != 0 && rows > (size_t)-1 / cols)
        return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: %zu x %zu elements overflow size_t", fn, rows, cols);
    if (rows * cols == 0) return FP8Q_OK;
    if (!q || !x || !scales) return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: NULL q, x or scales", fn);
    if (!fp8q__cu_device_format(r->format))
        return fp8q__cu_fail(err, FP8Q_ERR_UNSUPPORTED, "%s: recipe '%s' quantizes to %s (the CPU runs it)", fn,
                             r->name ? r->name : "?", fp8q_format_get(r->format)->name);
    return FP8Q_OK;
}

static size_t fp8q__cu_tile(int tile, size_t extent) { return tile > 0 ? (size_t)tile : extent ? extent : 1; }
static size_t fp8q__cu_div_up(size_t a, size_t b) { return (a + b - 1) / b; }
static size_t fp8q__cu_round16(size_t v) { return (v + 15) / 16 * 16; }

/* The scale tiling of a GEMM, computed as the CPU's fp8q__gemm_check does. */
struct fp8q__cu_gemm_shape {
    size_t a_tr, a_tc, a_ncols, b_tr, b_tc, b_ncols, group, n_groups;
};

static fp8q_result fp8q__cu_gemm_check(const fp8q_gemm *g, fp8q__cu_gemm_shape *s, fp8q_error *err)
{
    const char *fn = "fp8q_cuda gemm";
    const size_t lim = (size_t)1 << 31;
    size_t ga, gb;
    if (!g) return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: NULL descriptor", fn);
    if (!g->c || !g->b || (!g->a && !g->a_f32))
        return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: NULL c, b, or both a and a_f32", fn);
    if (g->M == 0 || g->N == 0 || g->K == 0 || g->M > lim || g->N > lim || g->K > lim)
        return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: M %zu, N %zu, K %zu must be in [1, 2^31]", fn, g->M, g->N, g->K);
    if ((g->a && !fp8q_format_get(g->a_format)) || !fp8q_format_get(g->b_format))
        return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: unknown operand format", fn);
    if (g->c_type != FP8Q_F32 && g->c_type != FP8Q_BF16 && g->c_type != FP8Q_F16)
        return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: output type %d is not F32, BF16 or F16", fn, (int)g->c_type);
    if (g->a_tile_rows < 0 || g->a_tile_cols < 0 || g->b_tile_rows < 0 || g->b_tile_cols < 0)
        return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: negative scale tile", fn);
    s->a_tr = fp8q__cu_tile(g->a_tile_rows, g->M), s->a_tc = fp8q__cu_tile(g->a_tile_cols, g->K);
    s->b_tr = fp8q__cu_tile(g->b_tile_rows, g->N), s->b_tc = fp8q__cu_tile(g->b_tile_cols, g->K);
    s->a_ncols = fp8q__cu_div_up(g->K, s->a_tc), s->b_ncols = fp8q__cu_div_up(g->K, s->b_tc);
    ga = g->a_scales ? s->a_tc : g->K, gb = g->b_scales ? s->b_tc : g->K;
    s->group = ga < gb ? ga : gb;
    if ((ga % s->group && ga != g->K) || (gb % s->group && gb != g->K))
        return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: K tiles %zu and %zu do not nest", fn, ga, gb);
    s->n_groups = fp8q__cu_div_up(g->K, s->group);
    return FP8Q_OK;
}

/* Whether cuBLASLt's FP8 matmul can take the request (sm_89+, both operands
   E4M3/E5M2 but not both E5M2, one K group). */
static int fp8q__cu_lt_applies(const fp8q_gemm *g, const fp8q__cu_gemm_shape *s, int cc)
{
    return cc >= 89 && g->a && fp8q__cu_device_format(g->a_format) && fp8q__cu_device_format(g->b_format) &&
           !(g->a_format == FP8Q_E5M2 && g->b_format == FP8Q_E5M2) && s->n_groups == 1;
}

FP8QDEF fp8q_result fp8q_cuda_plan_gemm(const fp8q_gemm *g, fp8q_gemm_mode mode, int cc, fp8q_cuda_gemm_engine engine,
                                        fp8q_cuda_gemm_plan *plan, fp8q_error *err)
{
    fp8q__cu_gemm_shape s;
    fp8q_cuda_gemm_plan p;
    memset(&s, 0, sizeof s), memset(&p, 0, sizeof p);
    if (plan) *plan = p;
    FP8Q__CU_TRY(fp8q__cu_gemm_check(g, &s, err));
    if (mode != FP8Q_GEMM_REFERENCE && mode != FP8Q_GEMM_EXACT && mode != FP8Q_GEMM_FAST)
        return fp8q__cu_fail(err, FP8Q_ERR_ARG, "fp8q_cuda gemm: unknown mode %d", (int)mode);
    if (mode != FP8Q_GEMM_FAST)
        return fp8q__cu_fail(
            err, FP8Q_ERR_UNSUPPORTED,
            "fp8q_cuda gemm: REFERENCE and EXACT are the CPU's bit-exact definitions (the CPU runs them)");
    p.group = s.group, p.n_groups = s.n_groups;
    if (engine == FP8Q_CUDA_GEMM_AUTO && fp8q__cu_lt_applies(g, &s, cc)) {
        p.path = FP8Q_CUDA_PATH_CUBLASLT;
        p.a_vec = g->a_scales && s.a_tr < g->M, p.b_vec = g->b_scales && s.b_tr < g->N;
        p.Kp = fp8q__cu_round16(g->K), p.Np = fp8q__cu_round16(g->N);
    } else
        p.path = FP8Q_CUDA_PATH_SIMT;
    if (plan) *plan = p;
    return FP8Q_OK;
}

/* ------------------------------------------------------------------------ */
/* Host side: emulation of the element code (tests)                         */
/* ------------------------------------------------------------------------ */

static float fp8q__cu_host_load(const void *src, fp8q_dtype t, size_t i)
{
    if (t == FP8Q_F32) return ((const float *)src)[i];
    if (t == FP8Q_F16) return fp8q_f16_to_f32(((const uint16_t *)src)[i]);
    return fp8q__cu_float((uint32_t)((const uint16_t *)src)[i] << 16);
}

FP8QDEF fp8q_result fp8q_cuda_emulate_encode(uint8_t *dst, const void *src, fp8q_dtype src_type, size_t n,
                                             fp8q_format fmt, fp8q_saturation sat, fp8q_scale_op op, float scale)
{
    fp8q__cu_encoder enc;
    size_t i;
    FP8Q__CU_TRY(fp8q_cuda_plan_encode(dst, src, src_type, n, fmt, sat, op, NULL));
    enc.fmt = (int)fmt, enc.sat = (int)sat, enc.op = (int)op, enc.scale = scale;
    for (i = 0; i + 1 < n; i += 2) {
        const uint32_t p = enc.pair(fp8q__cu_host_load(src, src_type, i), fp8q__cu_host_load(src, src_type, i + 1));
        dst[i] = (uint8_t)p, dst[i + 1] = (uint8_t)(p >> 8);
    }
    if (i < n) dst[i] = (uint8_t)enc.pair(fp8q__cu_host_load(src, src_type, i), 0.0f);
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_cuda_emulate_quantize(uint8_t *q, float *scales, const float *x, size_t rows, size_t cols,
                                               const fp8q_recipe *r, int dynamic)
{
    size_t tr, tc, n_tc, tile, n_tiles, i, j;
    fp8q__cu_recipe rec;
    FP8Q__CU_TRY(fp8q_cuda_plan_quantize(q, scales, x, rows, cols, r, NULL));
    if (rows * cols == 0) return FP8Q_OK;
    rec = fp8q__cu_recipe_of(r);
    tr = fp8q__cu_tile(r->tile_rows, rows), tc = fp8q__cu_tile(r->tile_cols, cols), n_tc = fp8q__cu_div_up(cols, tc);
    n_tiles = fp8q__cu_div_up(rows, tr) * n_tc;
    for (tile = 0; tile < n_tiles; tile++) {
        const size_t r0 = tile / n_tc * tr, c0 = tile % n_tc * tc;
        const size_t r1 = r0 + tr < rows ? r0 + tr : rows, c1 = c0 + tc < cols ? c0 + tc : cols;
        fp8q__cu_quantizer qz;
        if (dynamic) {
            uint32_t mx = 0, flag = 0;
            for (i = r0; i < r1; i++)
                for (j = c0; j < c1; j++) fp8q__cu_amax_add(mx, flag, x[i * cols + j]);
            scales[tile] = fp8q__cu_scale_from_amax(rec, fp8q__cu_float(mx), flag != 0);
        }
        qz = fp8q__cu_quantizer_for(rec, scales[tile]);
        for (i = r0; i < r1; i++)
            for (j = c0; j < c1; j++) q[i * cols + j] = (uint8_t)qz.pair(x[i * cols + j], 0.0f);
    }
    return FP8Q_OK;
}

/* ------------------------------------------------------------------------ */
/* Host side: launching conversions and quantization (device pointers)      */
/* ------------------------------------------------------------------------ */

static fp8q_result fp8q__cu_run_encode(fp8q__cuda *h, uint8_t *dst, const void *src, fp8q_dtype src_type, size_t n,
                                       fp8q_format fmt, fp8q_saturation sat, fp8q_scale_op op, float scale,
                                       fp8q_error *err)
{
    const int aligned = fp8q__cu_aligned(dst, 16) && fp8q__cu_aligned(src, 16);
    const unsigned blocks = fp8q__cu_blocks(h, aligned ? n / 16 + 16 : n, FP8Q__CU_THREADS);
    fp8q__cu_encoder enc;
    enc.fmt = (int)fmt, enc.sat = (int)sat, enc.op = (int)op, enc.scale = scale;
    if (src_type == FP8Q_F32)
        fp8q__cu_encode_kernel<FP8Q_F32><<<blocks, FP8Q__CU_THREADS, 0, h->stream>>>(dst, src, n, aligned, enc);
    else if (src_type == FP8Q_F16)
        fp8q__cu_encode_kernel<FP8Q_F16><<<blocks, FP8Q__CU_THREADS, 0, h->stream>>>(dst, src, n, aligned, enc);
    else
        fp8q__cu_encode_kernel<FP8Q_BF16><<<blocks, FP8Q__CU_THREADS, 0, h->stream>>>(dst, src, n, aligned, enc);
    FP8Q__CU_LAUNCHED("fp8q__cu_encode_kernel");
    return FP8Q_OK;
}

/* x [rows][cols] (rows * cols > 0) -> q, scales per the recipe. */
static fp8q_result fp8q__cu_run_quantize(fp8q__cuda *h, uint8_t *q, float *scales, const float *x, size_t rows,
                                         size_t cols, const fp8q_recipe *r, int dynamic, fp8q_error *err)
{
    const fp8q__cu_recipe rec = fp8q__cu_recipe_of(r);
    fp8q__cu_tiling t;
    t.rows = rows, t.cols = cols, t.tr = fp8q__cu_tile(r->tile_rows, rows), t.tc = fp8q__cu_tile(r->tile_cols, cols);
    t.n_tc = fp8q__cu_div_up(cols, t.tc), t.n_tiles = fp8q__cu_div_up(rows, t.tr) * t.n_tc;
    if (t.n_tiles == 1) { /* per tensor: grid-wide amax, then the cast */
        const size_t n = rows * cols;
        const int aligned = fp8q__cu_aligned(x, 16) && fp8q__cu_aligned(q, 16);
        void *word = NULL;
        if (dynamic) {
            FP8Q__CU_TRY(fp8q__cu_reserve(h, FP8Q__SLOT_WORD, 2 * sizeof(uint32_t), &word, err));
            FP8Q__CU_CALL(cudaMemsetAsync(word, 0, 2 * sizeof(uint32_t), h->stream));
            fp8q__cu_amax_kernel<<<fp8q__cu_blocks(h, n / 4 + 4, FP8Q__CU_THREADS), FP8Q__CU_THREADS, 0, h->stream>>>(
                x, n, fp8q__cu_aligned(x, 16), (uint32_t *)word);
            FP8Q__CU_LAUNCHED("fp8q__cu_amax_kernel");
        }
        fp8q__cu_cast_tensor_kernel<<<fp8q__cu_blocks(h, aligned ? n / 16 + 16 : n, FP8Q__CU_THREADS), FP8Q__CU_THREADS,
                                      0, h->stream>>>(q, x, n, aligned, rec, (const uint32_t *)word, scales, dynamic);
        FP8Q__CU_LAUNCHED("fp8q__cu_cast_tensor_kernel");
        return FP8Q_OK;
    }
    {
        const size_t width = t.tc < cols ? t.tc : cols;
        size_t items, threads;
        t.vec4 = (t.tc % 4 == 0 || t.n_tc == 1) && cols % 4 == 0 && fp8q__cu_aligned(x, 16) && fp8q__cu_aligned(q, 4);
        items = t.vec4 ? width / 4 : width;
        threads = (items + 31) / 32 * 32;
        if (threads > FP8Q__CU_THREADS) threads = FP8Q__CU_THREADS;
        fp8q__cu_quant_tiles_kernel<<<fp8q__cu_blocks(h, t.n_tiles, 1), (unsigned)threads, 0, h->stream>>>(
            q, scales, x, t, rec, dynamic);
        FP8Q__CU_LAUNCHED("fp8q__cu_quant_tiles_kernel");
    }
    return FP8Q_OK;
}

/* ------------------------------------------------------------------------ */
/* Host side: GEMM (device pointers)                                        */
/* ------------------------------------------------------------------------ */

static cudaDataType_t fp8q__cu_data_type(int t)
{
    switch (t) {
    case FP8Q_E4M3: return CUDA_R_8F_E4M3;
    case FP8Q_E5M2: return CUDA_R_8F_E5M2;
    default: return CUDA_R_32F;
    }
}

static cudaDataType_t fp8q__cu_out_type(fp8q_dtype t)
{
    return t == FP8Q_BF16 ? CUDA_R_16BF : t == FP8Q_F16 ? CUDA_R_16F : CUDA_R_32F;
}

static size_t fp8q__cu_out_size(fp8q_dtype t) { return t == FP8Q_F32 ? 4 : 2; }

static void fp8q__cu_lt_plan_free(fp8q__cu_lt_plan *p)
{
    if (p->la) (void)cublasLtMatrixLayoutDestroy(p->la);
    if (p->lb) (void)cublasLtMatrixLayoutDestroy(p->lb);
    if (p->ld) (void)cublasLtMatrixLayoutDestroy(p->ld);
    if (p->desc) (void)cublasLtMatmulDescDestroy(p->desc);
    memset(p, 0, sizeof *p);
}

static fp8q_result fp8q__cu_lt_attr(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a, const void *v, size_t n,
                                    fp8q_error *err)
{
    return fp8q__lt_check(cublasLtMatmulDescSetAttribute(d, a, v, n), "cublasLtMatmulDescSetAttribute", err);
}

/* Descriptors, layouts and the heuristic's algorithm for p's key (TN:
   cuBLASLt's A = our B [m = Np][k = Kp] with op T, its B = our A
   [n = M][k], D column-major [m][n]). FP8Q_ERR_UNSUPPORTED when cuBLASLt
   has no algorithm. sa, sb: the scale pointers (set before the heuristic). */
static fp8q_result fp8q__cu_lt_plan_make(fp8q__cuda *h, fp8q__cu_lt_plan *p, const void *lt_a_scale,
                                         const void *lt_b_scale, fp8q_error *err)
{
    const cublasOperation_t op_t = CUBLAS_OP_T, op_n = CUBLAS_OP_N;
    const int8_t fast_accum = 0;
    const int32_t outer = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
    const uint64_t ws = FP8Q__CU_WORKSPACE;
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    cublasStatus_t st;
    fp8q_result r;
    FP8Q__CU_TRY(fp8q__lt_check(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F),
                                "cublasLtMatmulDescCreate", err));
    FP8Q__CU_TRY(fp8q__cu_lt_attr(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_t, sizeof op_t, err));
    FP8Q__CU_TRY(fp8q__cu_lt_attr(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_n, sizeof op_n, err));
    FP8Q__CU_TRY(fp8q__cu_lt_attr(p->desc, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast_accum, sizeof fast_accum, err));
    if (p->outer &&
        (fp8q__cu_lt_attr(p->desc, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &outer, sizeof outer, err) != FP8Q_OK ||
         fp8q__cu_lt_attr(p->desc, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &outer, sizeof outer, err) != FP8Q_OK))
        return fp8q__cu_fail(err, FP8Q_ERR_UNSUPPORTED, "fp8q_cuda gemm: this cuBLASLt has no outer-vector scaling");
    FP8Q__CU_TRY(fp8q__cu_lt_attr(p->desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &lt_a_scale, sizeof lt_a_scale, err));
    FP8Q__CU_TRY(fp8q__cu_lt_attr(p->desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &lt_b_scale, sizeof lt_b_scale, err));
    FP8Q__CU_TRY(fp8q__lt_check(cublasLtMatrixLayoutCreate(&p->la, p->a_type, p->k, p->m, (int64_t)p->k),
                                "cublasLtMatrixLayoutCreate", err));
    FP8Q__CU_TRY(fp8q__lt_check(cublasLtMatrixLayoutCreate(&p->lb, p->b_type, p->k, p->n, (int64_t)p->k),
                                "cublasLtMatrixLayoutCreate", err));
    FP8Q__CU_TRY(fp8q__lt_check(cublasLtMatrixLayoutCreate(&p->ld, p->d_type, p->m, p->n, (int64_t)p->m),
                                "cublasLtMatrixLayoutCreate", err));
    FP8Q__CU_TRY(fp8q__lt_check(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate", err));
    r = fp8q__lt_check(
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws),
        "cublasLtMatmulPreferenceSetAttribute", err);
    if (r == FP8Q_OK) {
        st = cublasLtMatmulAlgoGetHeuristic(h->lt, p->desc, p->la, p->lb, p->ld, p->ld, pref, 1, &res, &found);
        if (st == CUBLAS_STATUS_NOT_SUPPORTED || (st == CUBLAS_STATUS_INVALID_VALUE && p->outer) ||
            (st == CUBLAS_STATUS_SUCCESS && found == 0))
            r = fp8q__cu_fail(err, FP8Q_ERR_UNSUPPORTED, "fp8q_cuda gemm: cuBLASLt has no FP8 algorithm for this case");
        else
            r = fp8q__lt_check(st, "cublasLtMatmulAlgoGetHeuristic", err);
    }
    (void)cublasLtMatmulPreferenceDestroy(pref);
    if (r == FP8Q_OK) p->algo = res.algo, p->valid = 1;
    return r;
}

/* The cached plan for the key in *key (made on first use, replacing the
   oldest), with the call's scale pointers set. */
static fp8q_result fp8q__cu_lt_plan_get(fp8q__cuda *h, const fp8q__cu_lt_plan *key, const void *lt_a_scale,
                                        const void *lt_b_scale, fp8q__cu_lt_plan **out, fp8q_error *err)
{
    fp8q__cu_lt_plan *p;
    fp8q_result r;
    for (int i = 0; i < FP8Q__CU_PLANS; i++) {
        p = &h->plans[i];
        if (p->valid && p->m == key->m && p->n == key->n && p->k == key->k && p->a_type == key->a_type &&
            p->b_type == key->b_type && p->d_type == key->d_type && p->outer == key->outer) {
            FP8Q__CU_TRY(
                fp8q__cu_lt_attr(p->desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &lt_a_scale, sizeof lt_a_scale, err));
            FP8Q__CU_TRY(
                fp8q__cu_lt_attr(p->desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &lt_b_scale, sizeof lt_b_scale, err));
            *out = p;
            return FP8Q_OK;
        }
    }
    p = &h->plans[h->next_plan];
    h->next_plan = (h->next_plan + 1) % FP8Q__CU_PLANS;
    fp8q__cu_lt_plan_free(p);
    p->m = key->m, p->n = key->n, p->k = key->k, p->a_type = key->a_type, p->b_type = key->b_type;
    p->d_type = key->d_type, p->outer = key->outer;
    r = fp8q__cu_lt_plan_make(h, p, lt_a_scale, lt_b_scale, err);
    if (r != FP8Q_OK) {
        fp8q__cu_lt_plan_free(p);
        return r;
    }
    *out = p;
    return FP8Q_OK;
}

/* dst [rows][dst_k] (zeroed past k, and rows past `rows` up to rows_p) <- src [rows][k]. */
static fp8q_result fp8q__cu_stage(fp8q__cuda *h, int slot, const uint8_t *src, size_t rows, size_t k, size_t rows_p,
                                  size_t dst_k, const uint8_t **out, fp8q_error *err)
{
    void *dst;
    FP8Q__CU_TRY(fp8q__cu_reserve(h, slot, rows_p * dst_k, &dst, err));
    if (dst_k != k || rows_p != rows) FP8Q__CU_CALL(cudaMemsetAsync(dst, 0, rows_p * dst_k, h->stream));
    FP8Q__CU_CALL(cudaMemcpy2DAsync(dst, dst_k, src, k, k, rows, cudaMemcpyDeviceToDevice, h->stream));
    *out = (const uint8_t *)dst;
    return FP8Q_OK;
}

/* out [padded] = one scale per row (fp8q__cu_expand_scales_kernel). */
static fp8q_result fp8q__cu_expand(fp8q__cuda *h, int slot, const float *scales, size_t tr, size_t ncols, size_t count,
                                   size_t padded, float **out, fp8q_error *err)
{
    void *v;
    FP8Q__CU_TRY(fp8q__cu_reserve(h, slot, padded * sizeof(float), &v, err));
    fp8q__cu_expand_scales_kernel<<<fp8q__cu_blocks(h, padded, FP8Q__CU_THREADS), FP8Q__CU_THREADS, 0, h->stream>>>(
        (float *)v, scales, tr, ncols, count, padded);
    FP8Q__CU_LAUNCHED("fp8q__cu_expand_scales_kernel");
    *out = (float *)v;
    return FP8Q_OK;
}

/* The cuBLASLt engine (plan path CUBLASLT). use_outer: per-row scales by
   outer-vector scaling, else in fp8q's epilogue. FP8Q_ERR_UNSUPPORTED when
   cuBLASLt refuses (nothing was written to C then). */
static fp8q_result fp8q__cu_gemm_lt(fp8q__cuda *h, const fp8q_gemm *g, const fp8q__cu_gemm_shape *s,
                                    const fp8q_cuda_gemm_plan *pl, int use_outer, fp8q_error *err)
{
    const size_t M = g->M, N = g->N, K = g->K, Kp = pl->Kp, Np = pl->Np;
    const int vec = pl->a_vec || pl->b_vec, epilogue = g->bias || (vec && !use_outer);
    /* cuBLASLt's heuristic assumes 256-byte aligned operands unless told otherwise: others are staged */
    const int direct = !epilogue && Np == N && fp8q__cu_aligned(g->c, 256);
    const fp8q_dtype d_type = epilogue ? FP8Q_F32 : g->c_type;
    const uint8_t *A = g->a, *B = g->b;
    const void *lt_a_scale, *lt_b_scale; /* cuBLASLt's A is our B */
    float *va = NULL, *vb = NULL;
    void *D = g->c;
    fp8q__cu_lt_plan key, *p;
    const float alpha = 1.0f, beta = 0.0f;
    cublasStatus_t st;
    memset(&key, 0, sizeof key);
    if (Kp != K || !fp8q__cu_aligned(A, 256))
        FP8Q__CU_TRY(fp8q__cu_stage(h, FP8Q__SLOT_PAD_A, A, M, K, M, Kp, &A, err));
    if (Kp != K || Np != N || !fp8q__cu_aligned(B, 256))
        FP8Q__CU_TRY(fp8q__cu_stage(h, FP8Q__SLOT_PAD_B, B, N, K, Np, Kp, &B, err));
    if (vec) {
        FP8Q__CU_TRY(fp8q__cu_expand(h, FP8Q__SLOT_VEC_A, g->a_scales, s->a_tr, s->a_ncols, M, M, &va, err));
        FP8Q__CU_TRY(fp8q__cu_expand(h, FP8Q__SLOT_VEC_B, g->b_scales, s->b_tr, s->b_ncols, N, Np, &vb, err));
    }
    if (vec) /* outer vectors, or unit scales and the epilogue applies them */
        lt_a_scale = use_outer ? vb : NULL, lt_b_scale = use_outer ? va : NULL;
    else
        lt_a_scale = g->b_scales ? g->b_scales : fp8q__cu_one(h),
        lt_b_scale = g->a_scales ? g->a_scales : fp8q__cu_one(h);
    if (!direct) FP8Q__CU_TRY(fp8q__cu_reserve(h, FP8Q__SLOT_D, M * Np * fp8q__cu_out_size(d_type), &D, err));
    key.m = Np, key.n = M, key.k = Kp, key.outer = vec && use_outer;
    key.a_type = fp8q__cu_data_type(g->b_format), key.b_type = fp8q__cu_data_type(g->a_format);
    key.d_type = fp8q__cu_out_type(d_type);
    FP8Q__CU_TRY(fp8q__cu_lt_plan_get(h, &key, lt_a_scale, lt_b_scale, &p, err));
    st = cublasLtMatmul(h->lt, p->desc, &alpha, B, p->la, A, p->lb, &beta, D, p->ld, D, p->ld, &p->algo, h->workspace,
                        FP8Q__CU_WORKSPACE, h->stream);
    if (st == CUBLAS_STATUS_NOT_SUPPORTED || (st == CUBLAS_STATUS_INVALID_VALUE && key.outer))
        return fp8q__cu_fail(err, FP8Q_ERR_UNSUPPORTED, "fp8q_cuda gemm: cuBLASLt refused the matmul (%s)",
                             cublasLtGetStatusName(st));
    FP8Q__CU_TRY(fp8q__lt_check(st, "cublasLtMatmul", err));
    if (epilogue) {
        fp8q__cu_epilogue_kernel<<<fp8q__cu_blocks(h, M * N, FP8Q__CU_THREADS), FP8Q__CU_THREADS, 0, h->stream>>>(
            g->c, (int)g->c_type, (const float *)D, M, N, Np, vec && !use_outer ? va : NULL,
            vec && !use_outer ? vb : NULL, g->bias);
        FP8Q__CU_LAUNCHED("fp8q__cu_epilogue_kernel");
    } else if (!direct) {
        const size_t es = fp8q__cu_out_size(g->c_type);
        FP8Q__CU_CALL(cudaMemcpy2DAsync(g->c, N * es, D, Np * es, N * es, M, cudaMemcpyDeviceToDevice, h->stream));
    }
    return FP8Q_OK;
}

/* The SIMT engine, in launches of at most 65535 row blocks (gridDim.y). */
static fp8q_result fp8q__cu_gemm_simt(fp8q__cuda *h, const fp8q_gemm *g, const fp8q__cu_gemm_shape *s, fp8q_error *err)
{
    const size_t rows_per_launch = (size_t)65535 * FP8Q__SIMT_BM;
    fp8q__cu_gemm_args a;
    a.M = g->M, a.N = g->N, a.K = g->K, a.a = g->a, a.a_f32 = g->a_f32, a.b = g->b;
    a.dec_a = h->dec + (g->a ? (size_t)g->a_format * 256 : 0), a.dec_b = h->dec + (size_t)g->b_format * 256;
    a.a_scales = g->a_scales, a.b_scales = g->b_scales, a.a_tr = s->a_tr, a.a_tc = s->a_tc, a.a_ncols = s->a_ncols;
    a.b_tr = s->b_tr, a.b_tc = s->b_tc, a.b_ncols = s->b_ncols, a.group = s->group, a.bias = g->bias;
    a.c = g->c, a.c_type = (int)g->c_type;
    for (a.m_base = 0; a.m_base < g->M; a.m_base += rows_per_launch) {
        const size_t rows = g->M - a.m_base < rows_per_launch ? g->M - a.m_base : rows_per_launch;
        const dim3 grid((unsigned)fp8q__cu_div_up(g->N, FP8Q__SIMT_BN), (unsigned)fp8q__cu_div_up(rows, FP8Q__SIMT_BM));
        if (g->a)
            fp8q__cu_gemm_simt_kernel<false><<<grid, 256, 0, h->stream>>>(a);
        else
            fp8q__cu_gemm_simt_kernel<true><<<grid, 256, 0, h->stream>>>(a);
        FP8Q__CU_LAUNCHED("fp8q__cu_gemm_simt_kernel");
    }
    return FP8Q_OK;
}

/* A FAST GEMM on device pointers: cuBLASLt where the plan says so and
   cuBLASLt accepts it, else SIMT. */
static fp8q_result fp8q__cu_run_gemm(fp8q__cuda *h, const fp8q_gemm *g, fp8q_error *err)
{
    fp8q__cu_gemm_shape s;
    fp8q_cuda_gemm_plan pl;
    fp8q_result r;
    FP8Q__CU_TRY(fp8q__cu_gemm_check(g, &s, err));
    FP8Q__CU_TRY(fp8q_cuda_plan_gemm(g, FP8Q_GEMM_FAST, h->cc, h->engine, &pl, err));
    if (pl.path == FP8Q_CUDA_PATH_CUBLASLT) {
        const int try_outer = (pl.a_vec || pl.b_vec) && h->outer_vec >= 0;
        fp8q_error local;
        r = fp8q__cu_gemm_lt(h, g, &s, &pl, try_outer, &local);
        if (r == FP8Q_ERR_UNSUPPORTED && try_outer) {
            r = fp8q__cu_gemm_lt(h, g, &s, &pl, 0, &local);
            if (r == FP8Q_OK) h->outer_vec = -1; /* per-row scales go through the epilogue from now on */
        } else if (r == FP8Q_OK && try_outer)
            h->outer_vec = 1;
        if (r != FP8Q_ERR_UNSUPPORTED) {
            if (r == FP8Q_OK) h->last_path = FP8Q_CUDA_PATH_CUBLASLT;
            return fp8q__cu_pass(err, &local, r);
        }
    }
    r = fp8q__cu_gemm_simt(h, g, &s, err);
    if (r == FP8Q_OK) h->last_path = FP8Q_CUDA_PATH_SIMT;
    return r;
}

/* ------------------------------------------------------------------------ */
/* Host side: the backend entries (host pointers)                           */
/* ------------------------------------------------------------------------ */

static fp8q_result fp8q__cu_upload(fp8q__cuda *h, int slot, const void *host, size_t bytes, void **dev, fp8q_error *err)
{
    FP8Q__CU_TRY(fp8q__cu_reserve(h, slot, bytes ? bytes : 1, dev, err));
    if (bytes) FP8Q__CU_CALL(cudaMemcpyAsync(*dev, host, bytes, cudaMemcpyHostToDevice, h->stream));
    return FP8Q_OK;
}

static fp8q_result fp8q__cu_download_sync(fp8q__cuda *h, void *host, const void *dev, size_t bytes, fp8q_error *err)
{
    FP8Q__CU_CALL(cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, h->stream));
    FP8Q__CU_CALL(cudaStreamSynchronize(h->stream));
    return FP8Q_OK;
}

static fp8q_result fp8q__cu_encode(fp8q_backend *b, uint8_t *dst, const void *src, fp8q_dtype src_type, size_t n,
                                   fp8q_format fmt, fp8q_saturation sat, fp8q_scale_op op, float scale, fp8q_error *err)
{
    fp8q__cuda *h = NULL;
    const size_t es = src_type == FP8Q_F32 ? 4 : 2;
    fp8q_error local;
    FP8Q__CU_TRY(fp8q__cu_pass(err, &local, fp8q_cuda_plan_encode(dst, src, src_type, n, fmt, sat, op, &local)));
    if (n == 0) return FP8Q_OK;
    FP8Q__CU_TRY(fp8q__cu_enter(b, "fp8q_cuda encode", &h, err));
    for (size_t i = 0; i < n; i += FP8Q__CU_CHUNK) {
        const size_t len = n - i < FP8Q__CU_CHUNK ? n - i : FP8Q__CU_CHUNK;
        void *x, *q;
        FP8Q__CU_TRY(fp8q__cu_upload(h, FP8Q__SLOT_IN, (const char *)src + i * es, len * es, &x, err));
        FP8Q__CU_TRY(fp8q__cu_reserve(h, FP8Q__SLOT_OUT, len, &q, err));
        FP8Q__CU_TRY(fp8q__cu_run_encode(h, (uint8_t *)q, x, src_type, len, fmt, sat, op, scale, err));
        FP8Q__CU_TRY(fp8q__cu_download_sync(h, dst + i, q, len, err));
    }
    return FP8Q_OK;
}

static fp8q_result fp8q__cu_quantize(fp8q_backend *b, uint8_t *q, float *scales, const float *x, size_t rows,
                                     size_t cols, const fp8q_recipe *r, int dynamic, fp8q_error *err)
{
    fp8q__cuda *h = NULL;
    void *dx, *dq, *ds;
    size_t ns;
    fp8q_error local;
    FP8Q__CU_TRY(fp8q__cu_pass(err, &local, fp8q_cuda_plan_quantize(q, scales, x, rows, cols, r, &local)));
    if (rows * cols == 0) return FP8Q_OK;
    FP8Q__CU_TRY(fp8q__cu_enter(b, "fp8q_cuda quantize", &h, err));
    ns = fp8q_scale_count(r, rows, cols);
    FP8Q__CU_TRY(fp8q__cu_upload(h, FP8Q__SLOT_IN, x, rows * cols * sizeof(float), &dx, err));
    FP8Q__CU_TRY(fp8q__cu_reserve(h, FP8Q__SLOT_SCALES, ns * sizeof(float), &ds, err));
    if (!dynamic) FP8Q__CU_CALL(cudaMemcpyAsync(ds, scales, ns * sizeof(float), cudaMemcpyHostToDevice, h->stream));
    FP8Q__CU_TRY(fp8q__cu_reserve(h, FP8Q__SLOT_OUT, rows * cols, &dq, err));
    FP8Q__CU_TRY(fp8q__cu_run_quantize(h, (uint8_t *)dq, (float *)ds, (const float *)dx, rows, cols, r, dynamic, err));
    if (dynamic) FP8Q__CU_CALL(cudaMemcpyAsync(scales, ds, ns * sizeof(float), cudaMemcpyDeviceToHost, h->stream));
    return fp8q__cu_download_sync(h, q, dq, rows * cols, err);
}

static fp8q_result fp8q__cu_gemm(fp8q_backend *b, const fp8q_gemm *g, fp8q_gemm_mode mode, fp8q_error *err)
{
    fp8q__cuda *h = fp8q__cu_of(b);
    fp8q__cu_gemm_shape s;
    fp8q_gemm d;
    void *p;
    const size_t es = g && g->c_type == FP8Q_F32 ? 4 : 2;
    fp8q_error local;
    FP8Q__CU_TRY(fp8q__cu_pass(
        err, &local, fp8q_cuda_plan_gemm(g, mode, h ? h->cc : 0, h ? h->engine : FP8Q_CUDA_GEMM_AUTO, NULL, &local)));
    FP8Q__CU_TRY(fp8q__cu_gemm_check(g, &s, err));
    FP8Q__CU_TRY(fp8q__cu_enter(b, "fp8q_cuda gemm", &h, err));
    d = *g; /* the same request with device copies of every operand */
    if (g->a) {
        FP8Q__CU_TRY(fp8q__cu_upload(h, FP8Q__SLOT_A, g->a, g->M * g->K, &p, err));
        d.a = (const uint8_t *)p;
    } else {
        FP8Q__CU_TRY(fp8q__cu_upload(h, FP8Q__SLOT_A, g->a_f32, g->M * g->K * sizeof(float), &p, err));
        d.a_f32 = (const float *)p;
    }
    FP8Q__CU_TRY(fp8q__cu_upload(h, FP8Q__SLOT_B, g->b, g->N * g->K, &p, err));
    d.b = (const uint8_t *)p;
    if (g->a_scales) {
        const size_t n = fp8q__cu_div_up(g->M, s.a_tr) * s.a_ncols;
        FP8Q__CU_TRY(fp8q__cu_upload(h, FP8Q__SLOT_SCALES, g->a_scales, n * sizeof(float), &p, err));
        d.a_scales = (const float *)p;
    }
    if (g->b_scales) {
        const size_t n = fp8q__cu_div_up(g->N, s.b_tr) * s.b_ncols;
        FP8Q__CU_TRY(fp8q__cu_upload(h, FP8Q__SLOT_BSC, g->b_scales, n * sizeof(float), &p, err));
        d.b_scales = (const float *)p;
    }
    if (g->bias) {
        FP8Q__CU_TRY(fp8q__cu_upload(h, FP8Q__SLOT_BIAS, g->bias, g->N * sizeof(float), &p, err));
        d.bias = (const float *)p;
    }
    FP8Q__CU_TRY(fp8q__cu_reserve(h, FP8Q__SLOT_OUT, g->M * g->N * es, &d.c, err));
    FP8Q__CU_TRY(fp8q__cu_run_gemm(h, &d, err));
    return fp8q__cu_download_sync(h, g->c, d.c, g->M * g->N * es, err);
}

/* ------------------------------------------------------------------------ */
/* Host side: the device-pointer API                                        */
/* ------------------------------------------------------------------------ */

FP8QDEF fp8q_result fp8q_cuda_set_gemm_engine(fp8q_backend *b, fp8q_cuda_gemm_engine engine, fp8q_error *err)
{
    fp8q__cuda *h = fp8q__cu_of(b);
    if (!h) return fp8q__cu_fail(err, FP8Q_ERR_ARG, "fp8q_cuda_set_gemm_engine: not a CUDA backend");
    if (engine != FP8Q_CUDA_GEMM_AUTO && engine != FP8Q_CUDA_GEMM_SIMT)
        return fp8q__cu_fail(err, FP8Q_ERR_ARG, "fp8q_cuda_set_gemm_engine: unknown engine %d", (int)engine);
    h->engine = engine;
    return FP8Q_OK;
}

FP8QDEF fp8q_cuda_gemm_path fp8q_cuda_last_gemm_path(const fp8q_backend *b)
{
    const fp8q__cuda *h = fp8q__cu_of(b);
    return h ? h->last_path : FP8Q_CUDA_PATH_NONE;
}

FP8QDEF int fp8q_cuda_compute_capability(const fp8q_backend *b)
{
    const fp8q__cuda *h = fp8q__cu_of(b);
    return h ? h->cc : 0;
}

FP8QDEF void *fp8q_cuda_stream(fp8q_backend *b)
{
    fp8q__cuda *h = fp8q__cu_of(b);
    return h ? (void *)h->stream : NULL;
}

FP8QDEF fp8q_result fp8q_cuda_alloc(fp8q_backend *b, void **dev, size_t bytes, fp8q_error *err)
{
    fp8q__cuda *h = NULL;
    if (!dev) return fp8q__cu_fail(err, FP8Q_ERR_ARG, "fp8q_cuda_alloc: dev is NULL");
    *dev = NULL;
    FP8Q__CU_TRY(fp8q__cu_enter(b, "fp8q_cuda_alloc", &h, err));
    return fp8q__cu_check(cudaMalloc(dev, bytes ? bytes : 1), "cudaMalloc", err);
}

FP8QDEF void fp8q_cuda_free(fp8q_backend *b, void *dev)
{
    const fp8q__cuda *h = fp8q__cu_of(b);
    if (!h || !dev || cudaSetDevice(h->device) != cudaSuccess) return;
    (void)cudaFree(dev);
}

FP8QDEF fp8q_result fp8q_cuda_upload(fp8q_backend *b, void *dev, const void *host, size_t bytes, fp8q_error *err)
{
    fp8q__cuda *h = NULL;
    const void *p[1] = {dev};
    const char *names[1] = {"dev"};
    if (bytes && (!dev || !host)) return fp8q__cu_fail(err, FP8Q_ERR_ARG, "fp8q_cuda_upload: NULL pointer");
    if (!bytes) return FP8Q_OK;
    FP8Q__CU_TRY(fp8q__cu_enter(b, "fp8q_cuda_upload", &h, err));
    FP8Q__CU_TRY(fp8q__cu_device_ptrs("fp8q_cuda_upload", err, 1, p, names));
    FP8Q__CU_CALL(cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice, h->stream));
    return fp8q__cu_check(cudaStreamSynchronize(h->stream), "cudaStreamSynchronize", err); /* host may be reused */
}

FP8QDEF fp8q_result fp8q_cuda_download(fp8q_backend *b, void *host, const void *dev, size_t bytes, fp8q_error *err)
{
    fp8q__cuda *h = NULL;
    const void *p[1] = {dev};
    const char *names[1] = {"dev"};
    if (bytes && (!dev || !host)) return fp8q__cu_fail(err, FP8Q_ERR_ARG, "fp8q_cuda_download: NULL pointer");
    if (!bytes) return FP8Q_OK;
    FP8Q__CU_TRY(fp8q__cu_enter(b, "fp8q_cuda_download", &h, err));
    FP8Q__CU_TRY(fp8q__cu_device_ptrs("fp8q_cuda_download", err, 1, p, names));
    return fp8q__cu_download_sync(h, host, dev, bytes, err);
}

FP8QDEF fp8q_result fp8q_cuda_sync(fp8q_backend *b, fp8q_error *err)
{
    fp8q__cuda *h = NULL;
    FP8Q__CU_TRY(fp8q__cu_enter(b, "fp8q_cuda_sync", &h, err));
    return fp8q__cu_check(cudaStreamSynchronize(h->stream), "cudaStreamSynchronize", err);
}

FP8QDEF fp8q_result fp8q_cuda_encode_dev(fp8q_backend *b, uint8_t *dst, const void *src, fp8q_dtype src_type, size_t n,
                                         fp8q_format fmt, fp8q_saturation sat, fp8q_scale_op op, float scale,
                                         fp8q_error *err)
{
    fp8q__cuda *h = NULL;
    const void *p[2] = {dst, src};
    const char *names[2] = {"dst", "src"};
    FP8Q__CU_TRY(fp8q_cuda_plan_encode(dst, src, src_type, n, fmt, sat, op, err));
    if (n == 0) return FP8Q_OK;
    FP8Q__CU_TRY(fp8q__cu_enter(b, "fp8q_cuda_encode_dev", &h, err));
    FP8Q__CU_TRY(fp8q__cu_device_ptrs("fp8q_cuda_encode_dev", err, 2, p, names));
    return fp8q__cu_run_encode(h, dst, src, src_type, n, fmt, sat, op, scale, err);
}

FP8QDEF fp8q_result fp8q_cuda_quantize_dev(fp8q_backend *b, uint8_t *q, float *scales, const float *x, size_t rows,
                                           size_t cols, const fp8q_recipe *r, int dynamic, fp8q_error *err)
{
    fp8q__cuda *h = NULL;
    const void *p[3] = {q, scales, x};
    const char *names[3] = {"q", "scales", "x"};
    FP8Q__CU_TRY(fp8q_cuda_plan_quantize(q, scales, x, rows, cols, r, err));
    if (rows * cols == 0) return FP8Q_OK;
    FP8Q__CU_TRY(fp8q__cu_enter(b, "fp8q_cuda_quantize_dev", &h, err));
    FP8Q__CU_TRY(fp8q__cu_device_ptrs("fp8q_cuda_quantize_dev", err, 3, p, names));
    return fp8q__cu_run_quantize(h, q, scales, x, rows, cols, r, dynamic, err);
}

FP8QDEF fp8q_result fp8q_cuda_gemm_dev(fp8q_backend *b, const fp8q_gemm *g, fp8q_error *err)
{
    fp8q__cuda *h = NULL;
    fp8q__cu_gemm_shape s;
    FP8Q__CU_TRY(fp8q__cu_gemm_check(g, &s, err));
    FP8Q__CU_TRY(fp8q__cu_enter(b, "fp8q_cuda_gemm_dev", &h, err));
    {
        const void *p[7] = {g->a, g->a ? NULL : g->a_f32, g->b, g->a_scales, g->b_scales, g->bias, g->c};
        const char *names[7] = {"a", "a_f32", "b", "a_scales", "b_scales", "bias", "c"};
        FP8Q__CU_TRY(fp8q__cu_device_ptrs("fp8q_cuda_gemm_dev", err, 7, p, names));
    }
    return fp8q__cu_run_gemm(h, g, err);
}

/* ------------------------------------------------------------------------ */
/* Host side: model kernels                                                 */
/* ------------------------------------------------------------------------ */

FP8QDEF fp8q_result fp8q_cuda_rmsnorm(fp8q_backend *b, float *y, const float *x, const float *w, size_t rows,
                                      size_t dim, float eps, fp8q_error *err)
{
    const char *fn = "fp8q_cuda_rmsnorm";
    fp8q__cuda *h = NULL;
    const void *p[3] = {y, x, w};
    const char *names[3] = {"y", "x", "w"};
    if (dim == 0 || rows > 0x7FFFFFFFu || (rows && (!y || !x || !w)) || !(eps >= 0))
        return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: NULL pointer, dim 0, rows %zu > 2^31 - 1 or eps < 0", fn, rows);
    if (rows == 0) return FP8Q_OK;
    FP8Q__CU_TRY(fp8q__cu_enter(b, fn, &h, err));
    FP8Q__CU_TRY(fp8q__cu_device_ptrs(fn, err, 3, p, names));
    fp8q__cu_rmsnorm_kernel<<<(unsigned)rows, FP8Q__CU_MODEL_THREADS, 0, h->stream>>>(y, x, w, dim, eps);
    FP8Q__CU_LAUNCHED("fp8q__cu_rmsnorm_kernel");
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_cuda_rope(fp8q_backend *b, float *x, size_t n_tokens, size_t n_heads, size_t head_dim,
                                   size_t row_stride, int pos0, const float *inv_freq, fp8q_error *err)
{
    const char *fn = "fp8q_cuda_rope";
    fp8q__cuda *h = NULL;
    const void *p[2] = {x, inv_freq};
    const char *names[2] = {"x", "inv_freq"};
    if (head_dim == 0 || head_dim % 2 || row_stride < n_heads * head_dim || pos0 < 0 ||
        n_tokens > ((size_t)1 << 24) - (size_t)pos0 || (n_tokens && n_heads && (!x || !inv_freq)))
        return fp8q__cu_fail(err, FP8Q_ERR_ARG,
                             "%s: head_dim %zu must be even and > 0, row_stride %zu >= n_heads * head_dim, positions "
                             "in [0, 2^24), pointers not NULL",
                             fn, head_dim, row_stride);
    if (n_tokens == 0 || n_heads == 0) return FP8Q_OK;
    FP8Q__CU_TRY(fp8q__cu_enter(b, fn, &h, err));
    FP8Q__CU_TRY(fp8q__cu_device_ptrs(fn, err, 2, p, names));
    fp8q__cu_rope_kernel<<<fp8q__cu_blocks(h, n_tokens * n_heads * head_dim / 2, FP8Q__CU_THREADS), FP8Q__CU_THREADS, 0,
                           h->stream>>>(x, n_tokens, n_heads, head_dim, row_stride, pos0, inv_freq);
    FP8Q__CU_LAUNCHED("fp8q__cu_rope_kernel");
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_cuda_swiglu(fp8q_backend *b, float *out, const float *gate, const float *up, size_t n,
                                     fp8q_error *err)
{
    const char *fn = "fp8q_cuda_swiglu";
    fp8q__cuda *h = NULL;
    const void *p[3] = {out, gate, up};
    const char *names[3] = {"out", "gate", "up"};
    if (n && (!out || !gate || !up)) return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: NULL pointer", fn);
    if (n == 0) return FP8Q_OK;
    FP8Q__CU_TRY(fp8q__cu_enter(b, fn, &h, err));
    FP8Q__CU_TRY(fp8q__cu_device_ptrs(fn, err, 3, p, names));
    fp8q__cu_swiglu_kernel<<<fp8q__cu_blocks(h, n, FP8Q__CU_THREADS), FP8Q__CU_THREADS, 0, h->stream>>>(out, gate, up,
                                                                                                        n);
    FP8Q__CU_LAUNCHED("fp8q__cu_swiglu_kernel");
    return FP8Q_OK;
}

FP8QDEF fp8q_result fp8q_cuda_attention_decode(fp8q_backend *b, float *out, const float *q, const uint8_t *k_cache,
                                               const uint8_t *v_cache, fp8q_format kv_format, float k_scale,
                                               float v_scale, size_t n_heads, size_t n_kv_heads, size_t head_dim,
                                               size_t seq_len, size_t kv_stride, fp8q_error *err)
{
    const char *fn = "fp8q_cuda_attention_decode";
    fp8q__cuda *h = NULL;
    const void *p[4] = {out, q, k_cache, v_cache};
    const char *names[4] = {"out", "q", "k_cache", "v_cache"};
    void *att;
    if (!out || !q || !k_cache || !v_cache || n_heads == 0 || n_kv_heads == 0 || n_heads % n_kv_heads ||
        n_heads > 0x7FFFFFFFu || head_dim == 0 || head_dim > 1024 || seq_len == 0 || seq_len > 0x7FFFFFFFu ||
        kv_stride < n_kv_heads * head_dim)
        return fp8q__cu_fail(err, FP8Q_ERR_ARG,
                             "%s: NULL pointer, or n_heads %zu not a multiple of n_kv_heads %zu, head_dim %zu not in "
                             "[1, 1024], seq_len 0 or above 2^31 - 1, or kv_stride %zu < n_kv_heads * head_dim",
                             fn, n_heads, n_kv_heads, head_dim, kv_stride);
    if (!fp8q__cu_device_format(kv_format))
        return fp8q__cu_fail(err, FP8Q_ERR_UNSUPPORTED, "%s: the KV cache format must be E4M3 or E5M2", fn);
    FP8Q__CU_TRY(fp8q__cu_enter(b, fn, &h, err));
    FP8Q__CU_TRY(fp8q__cu_device_ptrs(fn, err, 4, p, names));
    FP8Q__CU_TRY(fp8q__cu_reserve(h, FP8Q__SLOT_ATT, n_heads * seq_len * sizeof(float), &att, err));
    {
        /* the model's attention kernel with one query row at position seq_len - 1 */
        fp8q__cu_attn_args a;
        a.out = out, a.q = q, a.k = k_cache, a.v = v_cache, a.fp8 = 1, a.dec = h->dec + (size_t)kv_format * 256;
        a.k_scale = k_scale, a.v_scale = v_scale, a.scaling = (float)(1.0 / sqrt((double)head_dim));
        a.group = n_heads / n_kv_heads, a.hd = head_dim, a.kv_stride = kv_stride, a.q_stride = n_heads * head_dim;
        a.att_stride = seq_len, a.pos0 = (int)(seq_len - 1), a.row0 = 0, a.att = (float *)att;
        fp8q__cu_attention_rows_kernel<<<dim3((unsigned)n_heads, 1), FP8Q__CU_MODEL_THREADS, head_dim * sizeof(float),
                                         h->stream>>>(a);
    }
    FP8Q__CU_LAUNCHED("fp8q__cu_attention_rows_kernel");
    return FP8Q_OK;
}

/* ------------------------------------------------------------------------ */
/* Host side: the whole model (fp8q_state_init_backend)                     */
/* ------------------------------------------------------------------------ */

#define FP8Q__CU_ATT_BYTES  ((size_t)64 << 20) /* attention score scratch; prefill rows are chunked to fit */
#define FP8Q__CU_MAX_ALLOCS 4096               /* device buffers of one model run */

/* A linear module on the device (fp8q_linear's fields, device pointers). */
typedef struct fp8q__cu_linear {
    size_t out, in;
    const uint8_t *q;     /* [out][in] E4M3 codes, or NULL */
    const float *w_scale; /* [1] or [out] */
    int w_per_channel;
    const void *w; /* unquantized weight [out][in] of w_type, or NULL */
    fp8q_dtype w_type;
    const float *bias; /* [out] or NULL */
    fp8q_act act;
    fp8q_recipe act_recipe; /* a copy */
    float *input_scale;     /* [1] (FP8Q_ACT_STATIC) */
} fp8q__cu_linear;

typedef struct fp8q__cu_layer {
    const float *attn_norm, *ffn_norm;
    fp8q__cu_linear mod[FP8Q_MOD_DOWN + 1];
    float k_scale, v_scale;
} fp8q__cu_layer;

/* A model run: the weights, the KV cache and the scratch, all on the device. */
typedef struct fp8q__cu_model {
    fp8q__cuda *h;
    fp8q_llama_config c;
    int max_seq, max_batch;
    size_t dim, nq, kvd, ff, vocab, att_rows;
    const void *embed;
    fp8q_dtype embed_type;
    fp8q__cu_layer *layers;
    const float *final_norm, *inv_freq;
    fp8q__cu_linear lm_head;
    int kv_fp8; /* 1: E4M3/E5M2 codes, 0: float32 */
    fp8q_format kv_format;
    void *k_cache, *v_cache; /* [layers][max_seq][kvd] */
    int32_t *tokens;
    float *x, *xb, *xb2, *q, *k, *v, *hb, *hb2, *a_scales, *att, *logits;
    uint8_t *aq;
    void *alloc[FP8Q__CU_MAX_ALLOCS];
    size_t n_alloc, device_bytes;
} fp8q__cu_model;

/* FP8Q_ERR_UNSUPPORTED naming the module (layer -1: lm_head) when the
   device cannot run it. */
static fp8q_result fp8q__cu_linear_supported(const fp8q_linear *lin, int layer, fp8q_module mod, fp8q_error *err)
{
    const char *fn = "fp8q_cuda model", *name = fp8q_module_name(mod);
    if (lin->out < 1 || lin->in < 1 || (lin->q ? !lin->w_scale : !lin->w.data))
        return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: layer %d %s has no weights", fn, layer, name);
    if (lin->inc_dynamic)
        return fp8q__cu_fail(err, FP8Q_ERR_UNSUPPORTED, "%s: layer %d %s uses INC's dynamic quantization", fn, layer,
                             name);
    if (lin->q && lin->act != FP8Q_ACT_NONE &&
        (!lin->act_recipe || !fp8q__cu_recipe_ok(lin->act_recipe) || !fp8q__cu_device_format(lin->act_recipe->format)))
        return fp8q__cu_fail(err, FP8Q_ERR_UNSUPPORTED, "%s: layer %d %s: activation recipe '%s'", fn, layer, name,
                             lin->act_recipe && lin->act_recipe->name ? lin->act_recipe->name : "?");
    if (!lin->q && lin->w.dtype != FP8Q_F32 && lin->w.dtype != FP8Q_BF16 && lin->w.dtype != FP8Q_F16)
        return fp8q__cu_fail(err, FP8Q_ERR_UNSUPPORTED, "%s: layer %d %s: weight type %d", fn, layer, name,
                             (int)lin->w.dtype);
    return FP8Q_OK;
}

/* What the device forward lacks, checked on the host (no CUDA call):
   FP8Q_OK, or FP8Q_ERR_UNSUPPORTED naming the feature. */
FP8QDEF fp8q_result fp8q_cuda_plan_model(const fp8q_model *m, fp8q_error *err)
{
    const char *fn = "fp8q_cuda model";
    const fp8q_llama_config *c;
    if (!m || !m->layers) return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: the model is not loaded", fn);
    c = &m->config;
    if (m->opt.gemm != FP8Q_GEMM_FAST)
        return fp8q__cu_fail(err, FP8Q_ERR_UNSUPPORTED,
                             "%s: the GPU computes FAST GEMMs only (model options gemm = FP8Q_GEMM_FAST); REFERENCE "
                             "and EXACT run on the CPU",
                             fn);
    if (m->kv_qmax > 0)
        return fp8q__cu_fail(err, FP8Q_ERR_UNSUPPORTED, "%s: INC's clamped KV cache (fp8_inc) runs on the CPU", fn);
    if (c->head_dim < 2 || c->head_dim > 1024 || c->head_dim % 2)
        return fp8q__cu_fail(err, FP8Q_ERR_UNSUPPORTED, "%s: head_dim %d is not even and in [2, 1024]", fn,
                             c->head_dim);
    if (m->embed.dtype != FP8Q_F32 && m->embed.dtype != FP8Q_BF16 && m->embed.dtype != FP8Q_F16)
        return fp8q__cu_fail(err, FP8Q_ERR_UNSUPPORTED, "%s: embeddings of type %d", fn, (int)m->embed.dtype);
    if (!m->embed.data || m->embed.rows < c->vocab_size || m->embed.cols != c->hidden_size || !m->final_norm ||
        !m->rope_inv_freq || m->lm_head.out != c->vocab_size || m->lm_head.in != c->hidden_size ||
        (!m->lm_head.q && !m->lm_head.w.data))
        return fp8q__cu_fail(err, FP8Q_ERR_ARG,
                             "%s: the model lacks embeddings [vocab][hidden], the final norm, RoPE frequencies or "
                             "lm_head (a model built by hand?)",
                             fn);
    for (int l = 0; l < c->num_hidden_layers; l++) {
        const fp8q_layer *ly = &m->layers[l];
        if (!ly->attn_norm || !ly->ffn_norm)
            return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: layer %d has no norm weights", fn, l);
        if (ly->inc_qk[0] > 0 || ly->inc_av[0] > 0 || ly->inc_softmax > 0)
            return fp8q__cu_fail(
                err, FP8Q_ERR_UNSUPPORTED,
                "%s: layer %d has INC's FP8 attention (matmul_qk, softmax, matmul_av): the CPU runs it", fn, l);
        for (int i = 0; i <= FP8Q_MOD_DOWN; i++)
            FP8Q__CU_TRY(fp8q__cu_linear_supported(&ly->mod[i], l, (fp8q_module)i, err));
    }
    return fp8q__cu_linear_supported(&m->lm_head, -1, FP8Q_MOD_LM_HEAD, err);
}

/* Device memory owned by the run, freed by fp8q__cu_model_close. */
static fp8q_result fp8q__cu_model_alloc(fp8q__cu_model *gm, size_t bytes, void **p, fp8q_error *err)
{
    *p = NULL;
    if (gm->n_alloc == FP8Q__CU_MAX_ALLOCS)
        return fp8q__cu_fail(err, FP8Q_ERR_LIMIT, "fp8q_cuda model: more than %d device buffers", FP8Q__CU_MAX_ALLOCS);
    FP8Q__CU_TRY(fp8q__cu_malloc(p, bytes, "model", gm->device_bytes, err));
    gm->alloc[gm->n_alloc++] = *p;
    gm->device_bytes += bytes;
    return FP8Q_OK;
}

/* A device copy of host[bytes] (NULL host: NULL). */
static fp8q_result fp8q__cu_model_put(fp8q__cu_model *gm, const void *host, size_t bytes, const void **dev,
                                      fp8q_error *err)
{
    void *p;
    *dev = NULL;
    if (!host) return FP8Q_OK;
    FP8Q__CU_TRY(fp8q__cu_model_alloc(gm, bytes, &p, err));
    /* on the run's stream (a plain cudaMemcpy from pageable memory may return
       before the data lands, unordered with a non-blocking stream); model_open
       waits for them all */
    FP8Q__CU_CALL(cudaMemcpyAsync(p, host, bytes, cudaMemcpyHostToDevice, gm->h->stream));
    *dev = p;
    return FP8Q_OK;
}

static size_t fp8q__cu_dtype_size(fp8q_dtype t) { return t == FP8Q_F32 ? 4 : 2; }

/* Uploads one linear: FP8 codes and scales, or the float weight (shared
   with the embeddings when tied). */
static fp8q_result fp8q__cu_upload_linear(fp8q__cu_model *gm, const fp8q_model *m, const fp8q_linear *lin,
                                          fp8q__cu_linear *d, fp8q_error *err)
{
    const size_t n = (size_t)lin->out * (size_t)lin->in;
    d->out = (size_t)lin->out, d->in = (size_t)lin->in, d->act = lin->act, d->w_per_channel = lin->w_per_channel;
    if (lin->act_recipe) d->act_recipe = *lin->act_recipe;
    FP8Q__CU_TRY(fp8q__cu_model_put(gm, lin->bias, d->out * sizeof(float), (const void **)&d->bias, err));
    if (lin->q) {
        FP8Q__CU_TRY(fp8q__cu_model_put(gm, lin->q, n, (const void **)&d->q, err));
        FP8Q__CU_TRY(fp8q__cu_model_put(gm, lin->w_scale, (lin->w_per_channel ? d->out : 1) * sizeof(float),
                                        (const void **)&d->w_scale, err));
        if (lin->act == FP8Q_ACT_STATIC)
            FP8Q__CU_TRY(fp8q__cu_model_put(gm, &lin->input_scale, sizeof(float), (const void **)&d->input_scale, err));
        return FP8Q_OK;
    }
    d->w_type = lin->w.dtype;
    if (lin->w.data == m->embed.data) { /* tied lm_head: the embeddings' device copy, in their type */
        d->w = gm->embed, d->w_type = gm->embed_type;
        return FP8Q_OK;
    }
    return fp8q__cu_model_put(gm, lin->w.data, n * fp8q__cu_dtype_size(lin->w.dtype), &d->w, err);
}

static fp8q_result fp8q__cu_upload_weights(fp8q__cu_model *gm, const fp8q_model *m, fp8q_error *err)
{
    const size_t dim = gm->dim, L = (size_t)gm->c.num_hidden_layers;
    FP8Q__CU_TRY(
        fp8q__cu_model_put(gm, m->embed.data, gm->vocab * dim * fp8q__cu_dtype_size(m->embed.dtype), &gm->embed, err));
    gm->embed_type = m->embed.dtype;
    if (!(gm->layers = (fp8q__cu_layer *)calloc(L, sizeof *gm->layers)))
        return fp8q__cu_fail(err, FP8Q_ERR_NOMEM, "fp8q_cuda model: out of memory");
    for (size_t l = 0; l < L; l++) {
        const fp8q_layer *ly = &m->layers[l];
        fp8q__cu_layer *d = &gm->layers[l];
        FP8Q__CU_TRY(fp8q__cu_model_put(gm, ly->attn_norm, dim * sizeof(float), (const void **)&d->attn_norm, err));
        FP8Q__CU_TRY(fp8q__cu_model_put(gm, ly->ffn_norm, dim * sizeof(float), (const void **)&d->ffn_norm, err));
        for (int i = 0; i <= FP8Q_MOD_DOWN; i++)
            FP8Q__CU_TRY(fp8q__cu_upload_linear(gm, m, &ly->mod[i], &d->mod[i], err));
        d->k_scale = ly->k_scale, d->v_scale = ly->v_scale;
    }
    FP8Q__CU_TRY(fp8q__cu_model_put(gm, m->final_norm, dim * sizeof(float), (const void **)&gm->final_norm, err));
    FP8Q__CU_TRY(fp8q__cu_model_put(gm, m->rope_inv_freq, (size_t)gm->c.head_dim / 2 * sizeof(float),
                                    (const void **)&gm->inv_freq, err));
    return fp8q__cu_upload_linear(gm, m, &m->lm_head, &gm->lm_head, err);
}

/* The KV cache and the scratch of max_batch rows. */
static fp8q_result fp8q__cu_alloc_run(fp8q__cu_model *gm, fp8q_error *err)
{
    const size_t mb = (size_t)gm->max_batch, L = (size_t)gm->c.num_hidden_layers;
    const size_t max_in =
        gm->ff > gm->nq ? (gm->ff > gm->dim ? gm->ff : gm->dim) : (gm->nq > gm->dim ? gm->nq : gm->dim);
    const size_t cache = L * (size_t)gm->max_seq * gm->kvd * (gm->kv_fp8 ? 1 : sizeof(float));
    const size_t per_row = (size_t)gm->c.num_attention_heads * (size_t)gm->max_seq * sizeof(float);
    void *p;
    gm->att_rows = FP8Q__CU_ATT_BYTES / per_row;
    gm->att_rows = gm->att_rows < 1 ? 1 : gm->att_rows > mb ? mb : gm->att_rows;
#define FP8Q__CU_RUN_BUF(field, count, type)                                                                           \
    FP8Q__CU_TRY(fp8q__cu_model_alloc(gm, (count) * sizeof(type), &p, err));                                           \
    gm->field = (type *)p
    FP8Q__CU_TRY(fp8q__cu_model_alloc(gm, cache, &gm->k_cache, err));
    FP8Q__CU_TRY(fp8q__cu_model_alloc(gm, cache, &gm->v_cache, err));
    FP8Q__CU_RUN_BUF(tokens, mb, int32_t);
    FP8Q__CU_RUN_BUF(x, mb * gm->dim, float);
    FP8Q__CU_RUN_BUF(xb, mb * max_in, float);
    FP8Q__CU_RUN_BUF(xb2, mb * gm->nq, float);
    FP8Q__CU_RUN_BUF(q, mb * gm->nq, float);
    FP8Q__CU_RUN_BUF(k, mb * gm->kvd, float);
    FP8Q__CU_RUN_BUF(v, mb * gm->kvd, float);
    FP8Q__CU_RUN_BUF(hb, mb * gm->ff, float);
    FP8Q__CU_RUN_BUF(hb2, mb * gm->ff, float);
    FP8Q__CU_RUN_BUF(a_scales, mb, float);
    FP8Q__CU_RUN_BUF(aq, mb * max_in, uint8_t);
    FP8Q__CU_RUN_BUF(att, gm->att_rows * per_row / sizeof(float), float);
    FP8Q__CU_RUN_BUF(logits, mb * gm->vocab, float);
#undef FP8Q__CU_RUN_BUF
    return FP8Q_OK;
}

static void fp8q__cu_model_close(void *run)
{
    fp8q__cu_model *gm = (fp8q__cu_model *)run;
    if (!gm) return;
    if (cudaSetDevice(gm->h->device) == cudaSuccess) {
        (void)cudaStreamSynchronize(gm->h->stream);
        for (size_t i = 0; i < gm->n_alloc; i++) (void)cudaFree(gm->alloc[i]);
    }
    free(gm->layers);
    free(gm);
}

/* Sizes overflow-checked on the host before any allocation. */
static fp8q_result fp8q__cu_model_sizes(fp8q__cu_model *gm, const fp8q_model *m, int max_seq, int max_batch,
                                        fp8q_error *err)
{
    const fp8q_llama_config *c = &m->config;
    const double cache = (double)c->num_hidden_layers * max_seq * c->num_key_value_heads * c->head_dim * 4.0;
    const double logits = (double)max_batch * c->vocab_size * 4.0;
    if (cache > 1e15 || logits > 1e15)
        return fp8q__cu_fail(err, FP8Q_ERR_ARG, "fp8q_cuda model: max_seq %d / max_batch %d are too large", max_seq,
                             max_batch);
    gm->c = *c, gm->max_seq = max_seq, gm->max_batch = max_batch;
    gm->dim = (size_t)c->hidden_size, gm->nq = (size_t)c->num_attention_heads * (size_t)c->head_dim;
    gm->kvd = (size_t)c->num_key_value_heads * (size_t)c->head_dim, gm->ff = (size_t)c->intermediate_size;
    gm->vocab = (size_t)c->vocab_size;
    gm->kv_fp8 = m->opt.kv_cache == FP8Q_KV_E4M3 || m->opt.kv_cache == FP8Q_KV_E5M2;
    gm->kv_format = m->opt.kv_cache == FP8Q_KV_E5M2 ? FP8Q_E5M2 : FP8Q_E4M3;
    return FP8Q_OK;
}

static fp8q_result fp8q__cu_model_open(fp8q_backend *b, const fp8q_model *m, int max_seq, int max_batch, void **run,
                                       fp8q_error *err)
{
    fp8q__cuda *h = NULL;
    fp8q__cu_model *gm;
    fp8q_result r;
    *run = NULL;
    FP8Q__CU_TRY(fp8q_cuda_plan_model(m, err));
    FP8Q__CU_TRY(fp8q__cu_enter(b, "fp8q_cuda model", &h, err));
    if (!(gm = (fp8q__cu_model *)calloc(1, sizeof *gm)))
        return fp8q__cu_fail(err, FP8Q_ERR_NOMEM, "fp8q_cuda model: out of memory");
    gm->h = h;
    if ((r = fp8q__cu_model_sizes(gm, m, max_seq, max_batch, err)) != FP8Q_OK ||
        (r = fp8q__cu_upload_weights(gm, m, err)) != FP8Q_OK || (r = fp8q__cu_alloc_run(gm, err)) != FP8Q_OK ||
        (r = fp8q__cu_check(cudaStreamSynchronize(h->stream), "cudaStreamSynchronize", err)) != FP8Q_OK) {
        fp8q__cu_model_close(gm);
        return r;
    }
    *run = gm;
    return FP8Q_OK;
}

/* ---- the forward */

static fp8q_result fp8q__cu_gemv(fp8q__cu_model *gm, const fp8q__cu_gemv_args *g, fp8q_error *err)
{
    fp8q__cuda *h = gm->h;
    fp8q__cu_gemv_kernel<<<(unsigned)fp8q__cu_div_up(g->N, 8), 256, 0, h->stream>>>(*g);
    FP8Q__CU_LAUNCHED("fp8q__cu_gemv_kernel");
    return FP8Q_OK;
}

/* Float weights: GEMV over chunks of FP8Q__CU_GEMV_ROWS rows. */
static fp8q_result fp8q__cu_dense(fp8q__cu_model *gm, const fp8q__cu_linear *lin, const float *x, size_t M, float *y,
                                  fp8q_error *err)
{
    fp8q__cu_gemv_args g;
    memset(&g, 0, sizeof g);
    g.N = lin->out, g.K = lin->in, g.w = lin->w, g.w_type = (int)lin->w_type, g.bias = lin->bias;
    for (size_t m0 = 0; m0 < M; m0 += FP8Q__CU_GEMV_ROWS) {
        g.M = M - m0 < FP8Q__CU_GEMV_ROWS ? M - m0 : FP8Q__CU_GEMV_ROWS;
        g.a_f32 = x + m0 * g.K, g.y = y + m0 * g.N;
        FP8Q__CU_TRY(fp8q__cu_gemv(gm, &g, err));
    }
    return FP8Q_OK;
}

/* The activations of an A8 linear: E4M3 codes in gm->aq and their scales
   (*scales), by the module's recipe as the CPU's fp8q__linear_run. */
static fp8q_result fp8q__cu_quantize_input(fp8q__cu_model *gm, const fp8q__cu_linear *lin, const float *x, size_t M,
                                           const float **scales, fp8q_error *err)
{
    if (lin->act == FP8Q_ACT_STATIC) {
        *scales = lin->input_scale;
        return fp8q__cu_run_quantize(gm->h, gm->aq, lin->input_scale, x, M, lin->in, &lin->act_recipe, 0, err);
    }
    *scales = gm->a_scales;
    return fp8q__cu_run_quantize(gm->h, gm->aq, gm->a_scales, x, M, lin->in, &lin->act_recipe, 1, err);
}

/* y[M][out] = x[M][in] . W^T (+ bias) for one module: W8A8, W8A16 or float. */
static fp8q_result fp8q__cu_linear_run(fp8q__cu_model *gm, const fp8q__cu_linear *lin, const float *x, size_t M,
                                       float *y, fp8q_error *err)
{
    const float *a_scales = NULL;
    if (!lin->q) return fp8q__cu_dense(gm, lin, x, M, y, err);
    if (lin->act != FP8Q_ACT_NONE) FP8Q__CU_TRY(fp8q__cu_quantize_input(gm, lin, x, M, &a_scales, err));
    if (M <= FP8Q__CU_GEMV_ROWS) {
        fp8q__cu_gemv_args g;
        memset(&g, 0, sizeof g);
        g.M = M, g.N = lin->out, g.K = lin->in, g.w = lin->q, g.w_type = FP8Q__CU_CODES;
        g.dec_w = gm->h->dec + (size_t)FP8Q_E4M3 * 256, g.w_scales = lin->w_scale, g.w_per_row = lin->w_per_channel;
        g.bias = lin->bias, g.y = y;
        if (lin->act != FP8Q_ACT_NONE) {
            g.a = gm->aq, g.dec_a = g.dec_w, g.a_scales = a_scales;
            g.a_per_row = lin->act == FP8Q_ACT_DYNAMIC_TOKEN;
        } else
            g.a_f32 = x;
        return fp8q__cu_gemv(gm, &g, err);
    }
    {
        fp8q_gemm g;
        memset(&g, 0, sizeof g);
        g.M = M, g.N = lin->out, g.K = lin->in;
        g.b = lin->q, g.b_format = FP8Q_E4M3, g.b_scales = lin->w_scale, g.b_tile_rows = lin->w_per_channel;
        g.bias = lin->bias, g.c = y, g.c_type = FP8Q_F32;
        if (lin->act == FP8Q_ACT_NONE)
            g.a_f32 = x;
        else {
            g.a = gm->aq, g.a_format = FP8Q_E4M3, g.a_scales = a_scales;
            g.a_tile_rows = lin->act == FP8Q_ACT_DYNAMIC_TOKEN ? 1 : 0;
        }
        return fp8q__cu_run_gemm(gm->h, &g, err);
    }
}

static fp8q_result fp8q__cu_rmsnorm_rows(fp8q__cu_model *gm, float *y, const float *x, const float *w, size_t rows,
                                         fp8q_error *err)
{
    fp8q__cu_rmsnorm_kernel<<<(unsigned)rows, FP8Q__CU_MODEL_THREADS, 0, gm->h->stream>>>(y, x, w, gm->dim,
                                                                                          (float)gm->c.rms_norm_eps);
    FP8Q__CU_LAUNCHED("fp8q__cu_rmsnorm_kernel");
    return FP8Q_OK;
}

static fp8q_result fp8q__cu_add(fp8q__cu_model *gm, float *x, const float *y, size_t n, fp8q_error *err)
{
    fp8q__cu_add_kernel<<<fp8q__cu_blocks(gm->h, n, FP8Q__CU_THREADS), FP8Q__CU_THREADS, 0, gm->h->stream>>>(x, y, n);
    FP8Q__CU_LAUNCHED("fp8q__cu_add_kernel");
    return FP8Q_OK;
}

/* RoPE on q and k of n tokens at positions pos.., then k and v into the
   cache (FP8: fp8(x / scale), SATFINITE, as the CPU's fp8q__kv_store). */
static fp8q_result fp8q__cu_rope_store(fp8q__cu_model *gm, size_t l, size_t n, int pos, fp8q_error *err)
{
    fp8q__cuda *h = gm->h;
    const size_t hd = (size_t)gm->c.head_dim, at = (l * (size_t)gm->max_seq + (size_t)pos) * gm->kvd;
    const fp8q__cu_layer *ly = &gm->layers[l];
    fp8q__cu_rope_kernel<<<fp8q__cu_blocks(h, n * gm->nq / 2, FP8Q__CU_THREADS), FP8Q__CU_THREADS, 0, h->stream>>>(
        gm->q, n, (size_t)gm->c.num_attention_heads, hd, gm->nq, pos, gm->inv_freq);
    FP8Q__CU_LAUNCHED("fp8q__cu_rope_kernel");
    fp8q__cu_rope_kernel<<<fp8q__cu_blocks(h, n * gm->kvd / 2, FP8Q__CU_THREADS), FP8Q__CU_THREADS, 0, h->stream>>>(
        gm->k, n, (size_t)gm->c.num_key_value_heads, hd, gm->kvd, pos, gm->inv_freq);
    FP8Q__CU_LAUNCHED("fp8q__cu_rope_kernel");
    if (!gm->kv_fp8) {
        FP8Q__CU_CALL(cudaMemcpyAsync((float *)gm->k_cache + at, gm->k, n * gm->kvd * sizeof(float),
                                      cudaMemcpyDeviceToDevice, h->stream));
        FP8Q__CU_CALL(cudaMemcpyAsync((float *)gm->v_cache + at, gm->v, n * gm->kvd * sizeof(float),
                                      cudaMemcpyDeviceToDevice, h->stream));
        return FP8Q_OK;
    }
    FP8Q__CU_TRY(fp8q__cu_run_encode(h, (uint8_t *)gm->k_cache + at, gm->k, FP8Q_F32, n * gm->kvd, gm->kv_format,
                                     FP8Q_SATFINITE, FP8Q_SCALE_DIV, ly->k_scale, err));
    return fp8q__cu_run_encode(h, (uint8_t *)gm->v_cache + at, gm->v, FP8Q_F32, n * gm->kvd, gm->kv_format,
                               FP8Q_SATFINITE, FP8Q_SCALE_DIV, ly->v_scale, err);
}

/* Attention of the n new rows over the cache, into xb2, in chunks of att_rows. */
static fp8q_result fp8q__cu_attention(fp8q__cu_model *gm, size_t l, size_t n, int pos, fp8q_error *err)
{
    const size_t hd = (size_t)gm->c.head_dim, elem = gm->kv_fp8 ? 1 : sizeof(float);
    const size_t layer_off = l * (size_t)gm->max_seq * gm->kvd * elem;
    fp8q__cu_attn_args a;
    a.out = gm->xb2, a.q = gm->q, a.fp8 = gm->kv_fp8, a.dec = gm->h->dec + (size_t)gm->kv_format * 256;
    a.k = (const char *)gm->k_cache + layer_off, a.v = (const char *)gm->v_cache + layer_off;
    a.k_scale = gm->layers[l].k_scale, a.v_scale = gm->layers[l].v_scale;
    a.scaling = (float)(1.0 / sqrt((double)hd));
    a.group = (size_t)(gm->c.num_attention_heads / gm->c.num_key_value_heads), a.hd = hd, a.kv_stride = gm->kvd;
    a.q_stride = gm->nq, a.att_stride = (size_t)gm->max_seq, a.pos0 = pos, a.att = gm->att;
    for (a.row0 = 0; a.row0 < n; a.row0 += gm->att_rows) {
        const size_t rows = n - a.row0 < gm->att_rows ? n - a.row0 : gm->att_rows;
        const dim3 grid((unsigned)gm->c.num_attention_heads, (unsigned)rows);
        fp8q__cu_attention_rows_kernel<<<grid, FP8Q__CU_MODEL_THREADS, hd * sizeof(float), gm->h->stream>>>(a);
        FP8Q__CU_LAUNCHED("fp8q__cu_attention_rows_kernel");
    }
    return FP8Q_OK;
}

/* One decoder layer on rows x[n][dim] at positions pos.. (the CPU's
   fp8q__layer_forward, step for step). */
static fp8q_result fp8q__cu_layer_forward(fp8q__cu_model *gm, size_t l, size_t n, int pos, fp8q_error *err)
{
    const fp8q__cu_layer *ly = &gm->layers[l];
    fp8q__cuda *h = gm->h;
    FP8Q__CU_TRY(fp8q__cu_rmsnorm_rows(gm, gm->xb, gm->x, ly->attn_norm, n, err));
    FP8Q__CU_TRY(fp8q__cu_linear_run(gm, &ly->mod[FP8Q_MOD_Q], gm->xb, n, gm->q, err));
    FP8Q__CU_TRY(fp8q__cu_linear_run(gm, &ly->mod[FP8Q_MOD_K], gm->xb, n, gm->k, err));
    FP8Q__CU_TRY(fp8q__cu_linear_run(gm, &ly->mod[FP8Q_MOD_V], gm->xb, n, gm->v, err));
    FP8Q__CU_TRY(fp8q__cu_rope_store(gm, l, n, pos, err));
    FP8Q__CU_TRY(fp8q__cu_attention(gm, l, n, pos, err));
    FP8Q__CU_TRY(fp8q__cu_linear_run(gm, &ly->mod[FP8Q_MOD_O], gm->xb2, n, gm->xb, err));
    FP8Q__CU_TRY(fp8q__cu_add(gm, gm->x, gm->xb, n * gm->dim, err));
    FP8Q__CU_TRY(fp8q__cu_rmsnorm_rows(gm, gm->xb, gm->x, ly->ffn_norm, n, err));
    FP8Q__CU_TRY(fp8q__cu_linear_run(gm, &ly->mod[FP8Q_MOD_GATE], gm->xb, n, gm->hb, err));
    FP8Q__CU_TRY(fp8q__cu_linear_run(gm, &ly->mod[FP8Q_MOD_UP], gm->xb, n, gm->hb2, err));
    fp8q__cu_swiglu_kernel<<<fp8q__cu_blocks(h, n * gm->ff, FP8Q__CU_THREADS), FP8Q__CU_THREADS, 0, h->stream>>>(
        gm->hb, gm->hb, gm->hb2, n * gm->ff);
    FP8Q__CU_LAUNCHED("fp8q__cu_swiglu_kernel");
    FP8Q__CU_TRY(fp8q__cu_linear_run(gm, &ly->mod[FP8Q_MOD_DOWN], gm->hb, n, gm->xb, err));
    return fp8q__cu_add(gm, gm->x, gm->xb, n * gm->dim, err);
}

static fp8q_result fp8q__cu_model_forward(void *run, const int32_t *tokens, int n_tokens, int pos, float *logits_all,
                                          float *logits_last, fp8q_error *err)
{
    fp8q__cu_model *gm = (fp8q__cu_model *)run;
    fp8q__cuda *h = gm->h;
    const size_t n = (size_t)n_tokens, first = logits_all ? 0 : n - 1, rows = n - first;
    FP8Q__CU_CALL(cudaSetDevice(h->device));
    FP8Q__CU_CALL(cudaMemcpyAsync(gm->tokens, tokens, n * sizeof(int32_t), cudaMemcpyHostToDevice, h->stream));
    fp8q__cu_embed_kernel<<<fp8q__cu_blocks(h, n * gm->dim, FP8Q__CU_THREADS), FP8Q__CU_THREADS, 0, h->stream>>>(
        gm->x, gm->embed, (int)gm->embed_type, gm->tokens, n, gm->dim);
    FP8Q__CU_LAUNCHED("fp8q__cu_embed_kernel");
    for (size_t l = 0; l < (size_t)gm->c.num_hidden_layers; l++)
        FP8Q__CU_TRY(fp8q__cu_layer_forward(gm, l, n, pos, err));
    FP8Q__CU_TRY(fp8q__cu_rmsnorm_rows(gm, gm->xb, gm->x + first * gm->dim, gm->final_norm, rows, err));
    FP8Q__CU_TRY(fp8q__cu_linear_run(gm, &gm->lm_head, gm->xb, rows, gm->logits, err));
    if (logits_all) {
        FP8Q__CU_TRY(fp8q__cu_download_sync(h, logits_all, gm->logits, n * gm->vocab * sizeof(float), err));
        memcpy(logits_last, logits_all + (n - 1) * gm->vocab, gm->vocab * sizeof(float));
        return FP8Q_OK;
    }
    return fp8q__cu_download_sync(h, logits_last, gm->logits, gm->vocab * sizeof(float), err);
}

/* ------------------------------------------------------------------------ */
/* Host side: open and close                                                */
/* ------------------------------------------------------------------------ */

static void fp8q__cu_close(fp8q_backend *b)
{
    fp8q__cuda *h = fp8q__cu_of(b);
    if (!h) return;
    if (cudaSetDevice(h->device) == cudaSuccess) {
        if (h->stream) (void)cudaStreamSynchronize(h->stream);
        for (int i = 0; i < FP8Q__CU_PLANS; i++) fp8q__cu_lt_plan_free(&h->plans[i]);
        for (int i = 0; i < FP8Q__SLOT_COUNT; i++)
            if (h->slot[i]) (void)cudaFree(h->slot[i]);
        if (h->workspace) (void)cudaFree(h->workspace);
        if (h->dec) (void)cudaFree(h->dec);
        if (h->lt) (void)cublasLtDestroy(h->lt);
        if (h->stream) (void)cudaStreamDestroy(h->stream);
    }
    free(h);
}

/* Runs fp8q__cu_probe_kernel: FP8Q_ERR_DEVICE when subnormals are flushed
   (the scale and quantization arithmetic would differ from the CPU's). */
static fp8q_result fp8q__cu_probe(fp8q__cuda *h, fp8q_error *err)
{
    float got[2];
    void *out;
    FP8Q__CU_TRY(fp8q__cu_reserve(h, FP8Q__SLOT_WORD, sizeof got, &out, err));
    fp8q__cu_probe_kernel<<<1, 1, 0, h->stream>>>((float *)out, 1.17549435e-38f);
    FP8Q__CU_LAUNCHED("fp8q__cu_probe_kernel");
    FP8Q__CU_TRY(fp8q__cu_download_sync(h, got, out, sizeof got, err));
    if (fp8q__cu_bits(got[0]) != 0x00400000u || fp8q__cu_bits(got[1]) != 0x00400000u)
        return fp8q__cu_fail(err, FP8Q_ERR_DEVICE,
                             "fp8q_cuda_open: fp8q_cuda.cu was compiled with flush-to-zero (-ftz=true or "
                             "-use_fast_math); build it without, or its results differ from the CPU's");
    return FP8Q_OK;
}

/* Stream, cuBLASLt handle, workspace and the decode tables (from fp8q_to_f32). */
static fp8q_result fp8q__cu_init(fp8q__cuda *h, fp8q_error *err)
{
    float table[FP8Q_FORMAT_COUNT * 256 + 1];
    for (int f = 0; f < FP8Q_FORMAT_COUNT; f++)
        for (int i = 0; i < 256; i++) table[f * 256 + i] = fp8q_to_f32((uint8_t)i, (fp8q_format)f);
    table[FP8Q_FORMAT_COUNT * 256] = 1.0f;
    FP8Q__CU_CALL(cudaStreamCreateWithFlags(&h->stream, cudaStreamNonBlocking));
    FP8Q__CU_TRY(fp8q__lt_check(cublasLtCreate(&h->lt), "cublasLtCreate", err));
    FP8Q__CU_CALL(cudaMalloc(&h->workspace, FP8Q__CU_WORKSPACE));
    FP8Q__CU_CALL(cudaMalloc((void **)&h->dec, sizeof table));
    FP8Q__CU_CALL(cudaMemcpyAsync(h->dec, table, sizeof table, cudaMemcpyHostToDevice, h->stream));
    FP8Q__CU_CALL(cudaStreamSynchronize(h->stream)); /* table is on this stack */
    return fp8q__cu_probe(h, err);
}

FP8QDEF fp8q_result fp8q_cuda_open(fp8q_backend **out, int device, fp8q_error *err)
{
    const char *fn = "fp8q_cuda_open";
    int count = 0;
    cudaError_t e;
    cudaDeviceProp prop;
    cudaFuncAttributes fa;
    fp8q__cuda *h;
    fp8q_result r;
    if (!out) return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (device < 0) return fp8q__cu_fail(err, FP8Q_ERR_ARG, "%s: device %d is negative", fn, device);
    e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return fp8q__cu_fail(err, FP8Q_ERR_DEVICE, "%s: no CUDA device: %s (%s)", fn, cudaGetErrorString(e),
                             cudaGetErrorName(e));
    }
    if (count == 0) return fp8q__cu_fail(err, FP8Q_ERR_DEVICE, "%s: no CUDA device (the driver reports none)", fn);
    if (device >= count)
        return fp8q__cu_fail(err, FP8Q_ERR_DEVICE, "%s: no CUDA device %d (there are %d)", fn, device, count);
    FP8Q__CU_CALL(cudaSetDevice(device));
    FP8Q__CU_CALL(cudaGetDeviceProperties(&prop, device));
    if (prop.major < 8)
        return fp8q__cu_fail(err, FP8Q_ERR_DEVICE, "%s: %s has compute capability %d.%d, below 8.0", fn, prop.name,
                             prop.major, prop.minor);
    e = cudaFuncGetAttributes(&fa, fp8q__cu_swiglu_kernel);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return fp8q__cu_fail(err, FP8Q_ERR_DEVICE, "%s: this build has no code for %s (compute capability %d.%d): %s",
                             fn, prop.name, prop.major, prop.minor, cudaGetErrorString(e));
    }
    if (!(h = (fp8q__cuda *)calloc(1, sizeof *h))) return fp8q__cu_fail(err, FP8Q_ERR_NOMEM, "%s: out of memory", fn);
    h->base.kind = FP8Q_BACKEND_CUDA, h->base.name = "cuda", h->base.impl = h;
    (void)snprintf(h->base.device, sizeof h->base.device, "%.95s", prop.name);
    h->base.encode = fp8q__cu_encode, h->base.quantize = fp8q__cu_quantize, h->base.gemm = fp8q__cu_gemm;
    h->base.close = fp8q__cu_close;
    h->base.model_open = fp8q__cu_model_open, h->base.model_forward = fp8q__cu_model_forward;
    h->base.model_close = fp8q__cu_model_close;
    h->device = device, h->cc = prop.major * 10 + prop.minor, h->sm_count = prop.multiProcessorCount;
    if ((r = fp8q__cu_init(h, err)) != FP8Q_OK) {
        fp8q__cu_close(&h->base);
        return r;
    }
    *out = &h->base;
    return FP8Q_OK;
}
