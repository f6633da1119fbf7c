#!/usr/bin/env python3
"""Independent generator of golden fixtures for FP8 scaled-quantization recipes.

Writes tests/fixtures/quant_recipes.txt (override with --out PATH).  Needs only
numpy and ml_dtypes (``pip install numpy ml_dtypes``); torch is deliberately not
used.  The output depends only on the fixed seed (SEED below) and on the numpy /
ml_dtypes versions, which are printed and written into the fixture header.
Running the script twice gives byte-identical files.

This file is written from the formulas in shared/spec/NUMERICS.md section 3
and shared/spec/INC.md section 3 (and the upstream files they cite), not from
fp8q.h.

Common definitions
------------------
FP8 is always OCP E4M3FN (NUMERICS 1.2), FMAX = 448.  ``cast`` is
``ml_dtypes.float8_e4m3fn`` ``astype`` from float32: RNE but NOT saturating
(NUMERICS 2.4: |x| > 464 or Inf -> 7F), so every recipe clamps first, as the
engines do (NUMERICS 3 preamble; compressed-tensors ``lifecycle/forward.py``):

    clamp(y) = fmax(-448, fmin(y, 448))

with numpy's np.fmin / np.fmax, which return the non-NaN operand exactly like
CUDA fminf / fmaxf: a NaN becomes +448 (code 7E), +-Inf becomes +-448.  Every
cast is cross-checked against an independent bit-level RNE encoder written from
NUMERICS 2.9, and the encoder against the NUMERICS 2.3 golden vectors.

All arithmetic is float32 (numpy float32 ops are IEEE single, RN) unless a BF16
step is stated; a BF16 rounding is float32 -> bfloat16 RNE (ml_dtypes astype,
cross-checked against integer RNE).  dq = float32(q) * s (float32 multiply)
unless stated otherwise.  amax is max|x| over the stated extent, reduced with
fmax (so NaN is ignored, as vLLM's ``max(absmax, fabs(x))`` /
``segmented_max_reduction`` in csrc/quantization/fp8/common.cu(h) do); +-Inf
is not ignored.

Recipes (scale tensor shapes: per-tensor [1], per-row [rows], block/group
[ceil(rows/br), ceil(cols/bc)] row-major)
-------------------------------------------------------------------------
vllm-per-tensor   NUMERICS 3.1/3.2 (vLLM dynamic per-tensor and online weight
                  quant; vllm ``_custom_ops.scaled_fp8_quant``,
                  csrc/quantization/fp8/common.cu ``segmented_max_reduction`` +
                  ``scaled_fp8_quant_kernel``):
                  s = f32(amax/448); inv = f32(1/s); q = cast(clamp(x*inv)).
                  amax = 0 -> s = 0, inv = +Inf, 0*Inf = NaN -> 448 -> 7E
                  (dq = 448*0 = 0).
vllm-static       NUMERICS 3.2 static row: s given; inv = f32(1/s); as above;
                  scales = [s].
vllm-per-token    NUMERICS 3.2 dynamic per-token (2025+ kernels, division,
                  matches FBGEMM): s_t = fmax(amax_t/448, 1/(448*512)) with
                  the floor computed as f32(1)/f32(229376); q = cast(clamp(x/s_t)).
                  No upper bound.
vllm-per-token-mul  as vllm-per-token, but q = cast(clamp(x * f32(1/s_t)))
                  (2024 kernels, ``dynamic_per_token_scaled_fp8_quant_kernel``
                  with ``inverted_scale``).
fbgemm-per-row    NUMERICS 3.4 (vllm ``fbgemm_fp8.py``, activation_scale_ub
                  1200): s_t = fmax(fmin(amax_t, 1200)/448, 1/(448*512));
                  q = cast(clamp(x/s_t)).
ct-channel-bf16   NUMERICS 3.2 last row and 3.9 (compressed-tensors
                  ``calculate_qparams`` / ``quant_args.py``, FP8_DYNAMIC weights,
                  strategy channel, scale dtype = model dtype BF16).  Inputs are
                  BF16 values.  Per row: amax exact; s = bf16(f32(amax)/448);
                  s = max(s, 2^-23) (torch.finfo(float32).eps);
                  y = bf16(f32(x)/f32(s)); y = clamp(y); q = cast(y);
                  dq = bf16(f32(q)*f32(s)) (a BF16 value written as f32 bits);
                  scales = the BF16 s widened to f32.
ct-token-bf16     identical formula, per row of activations (strategy token,
                  dynamic); separate recipe name.
ct-tensor-bf16    identical formula, one scale for the whole tensor (strategy
                  tensor).
ct-tensor-f32 / ct-channel-f32  the same formulas entirely in float32:
                  s = fmax(amax/448, 2^-23); q = cast(clamp(x/s)); dq = q*s.
deepseek-block128 NUMERICS 3.8 (deepseek-ai/DeepSeek-V3 inference/kernel.py
                  ``weight_dequant``; config weight_block_size [128,128]):
                  per 128x128 block s = f32(amax/448) ("weight_scale_inv", it
                  multiplies on dequant); q = cast(clamp(x/s)).  No lower bound:
                  an all-zero block gives 0/0 = NaN -> +448 -> 7E, dq = 0.
deepseek-group128 NUMERICS 3.8 / 3.9 FP8_BLOCK activations, 1x128 groups along
                  columns: s = f32(amax/448); q = cast(clamp(x/s)); same
                  zero-group behaviour.
mx-e4m3           OCP Microscaling Formats (MX) v1.0, MXFP8 E4M3, block 1x32
                  along columns (NUMERICS 1.6 for the E8M0 scale range):
                  e = floor(log2(amax)) - 8 (8 = emax of E4M3, 448 = 1.75*2^8),
                  floor(log2) read exactly from the float32 exponent field
                  (subnormal amax handled from the mantissa bits, no libm log),
                  clamped to [-127, 127]; amax = 0 -> e = -127; X = 2^e as a
                  float32 (2^-127 is a float32 subnormal); q = cast(clamp(x/X));
                  scales = X.  No NaN/Inf inputs.

Case shapes: mostly 3x40, 5x64, 1x7 plus small special cases;
deepseek-group128 uses 4x300 / 1x300 / 2x130; deepseek-block128 uses 3x300
(blocks [1,3]), 130x6 (blocks [2,1], 2-row edge block) and 129x3 (zero edge
block) instead of 200x300, which alone would be ~1.3 MB of fixture text (the
file is kept near 400 KB); --big adds a 200x300 case.  mx-e4m3 uses 3x100.

NaN and Inf inputs appear only in vllm-* cases.  For vllm-static they give
NaN -> 7E and +-Inf -> +-448.  For the DYNAMIC vllm recipes the formula is
followed literally: NaN is ignored by the fmax amax, so NaN -> 7E; an Inf makes
amax = Inf, s = Inf, so finite x -> +-0 and +-Inf -> Inf/Inf or Inf*0 = NaN ->
+448 (7E, also for -Inf); those inputs are kept in separate cases ("inf" in the
comment line).  Any NaN written in a 'dq' line is canonicalised to 7fc00000;
a reader should compare NaN dq values with isnan, not by bits.

INC lines (INC.md 3.1-3.5, 3.7; intel/neural-compressor
neural_compressor/torch/algorithms/fp8_quant/_core/fp_utils.py,
_core/scale_methods/{scales_method,round_scales_function}.py)
------------------------------------------------------------------------------
    inc <method> <device> <backoff> <maxabs> <expected-scale>
Every intermediate is a BF16 tensor (INC.md 3.5), RNE:
    m = bf16(maxabs); d = bf16(fullscale*backoff); s = bf16(f32(m)/f32(d))
    identity: s
    pow2:     2^ceil(L), L = bf16(log2(s)) (log2 computed in float64 and
              rounded ONCE to bf16; log2(0) = -inf -> 2^-inf = 0)
    hw_aligned: p = pow2(s); min(max(2^(ceil(log2(p)/f)*f), lo), hi)
              gaudi2: f=4, lo=2^-8, hi=2^4; gaudi3: f=1, lo=2^-55, hi=2^7;
              maxabs 0 -> lo
    hw_aligned_fixed: 16 (gaudi2) / 128 (gaudi3)
    unit: 1.0
fullscale: gaudi2 240, gaudi3 448 (INC.md 3.2); backoff 0.25 (activations),
0.5 (weights) (INC.md 3.3).  The script asserts the INC.md 3.7 worked table
and the INC.md 3.5 remark about BF16 log2.
"""

import argparse
import math
import os
import platform
import sys

import numpy as np
import ml_dtypes

SEED = 20250817
F32 = np.float32
U32 = np.uint32
FMAX = F32(448.0)
E4M3 = ml_dtypes.float8_e4m3fn
BF16 = ml_dtypes.bfloat16
VLLM_MIN_SCALE = F32(1.0) / F32(229376.0)  # 1/(448*512), NUMERICS 3.2
FBGEMM_UB = F32(1200.0)  # NUMERICS 3.4
CT_EPS = F32(2.0 ** -23)  # torch.finfo(torch.float32).eps
CANON_NAN = 0x7FC00000
PER_LINE = 16

# ---------------------------------------------------------------------------
# Bit-level helpers and cross-checked conversions
# ---------------------------------------------------------------------------


def f32(a):
    return np.asarray(a, dtype=F32)


def bits32(a):
    return f32(a).view(U32)


def from_bits32(b):
    return np.asarray(b, dtype=U32).view(F32)


def ref_e4m3_encode(y):
    """Independent RNE float32 -> E4M3FN encoder for finite |y| <= 448
    (NUMERICS 2.9: subnormals RNE(|y|*2^9); normals: rebias by -120,
    add 0x7FFFF + lsb, shift right 20; sign ORed last)."""
    y = f32(y)
    assert not np.any(np.isnan(y)) and np.all(np.abs(y) <= FMAX)
    b = y.view(U32).astype(np.uint64)
    sign = ((b >> 31) & 1).astype(np.uint8) << 7
    mag = b & 0x7FFFFFFF
    out = np.zeros(y.shape, dtype=np.uint8)
    absy = np.abs(y).astype(np.float64)
    sub = absy < 2.0 ** -6
    # np.rint is round-half-even; |y|*2^9 is exact in float64.
    out[sub] = np.rint(absy[sub] * 512.0).astype(np.uint8)
    nrm = ~sub
    m = mag[nrm]
    code = ((m - (120 << 23)) + 0x7FFFF + ((m >> 20) & 1)) >> 20
    out[nrm] = code.astype(np.uint8)
    return out | sign


def e4m3_value_table():
    """Decoded value of every code 0..255 (NaN for 7F/FF), from NUMERICS 1.1."""
    vals = np.empty(256, dtype=np.float64)
    for c in range(256):
        s = -1.0 if c & 0x80 else 1.0
        e = (c >> 3) & 0xF
        mnt = c & 7
        if e == 15 and mnt == 7:
            vals[c] = math.nan
        elif e == 0:
            vals[c] = s * 2.0 ** -6 * mnt / 8.0
        else:
            vals[c] = s * 2.0 ** (e - 7) * (1.0 + mnt / 8.0)
    return vals


E4M3_VALUES = e4m3_value_table()


def cast_e4m3(y):
    """cast() of the recipes: ml_dtypes astype (RNE, non-saturating).  Inputs
    are always already clamped; the result is checked against the reference
    encoder."""
    y = f32(y)
    q = y.astype(E4M3).view(np.uint8)
    assert np.array_equal(q, ref_e4m3_encode(y)), "ml_dtypes cast != reference"
    return q


def decode_e4m3(q):
    q = np.asarray(q, dtype=np.uint8)
    v = q.view(E4M3).astype(F32)
    ref = E4M3_VALUES[q].astype(F32)
    assert np.array_equal(bits32(v), bits32(ref)), "ml_dtypes decode mismatch"
    return v


def clamp(y):
    """CUDA fmaxf(-448, fminf(y, 448)); np.fmin/np.fmax drop a NaN operand."""
    return np.fmax(-FMAX, np.fmin(f32(y), FMAX))


def bf16(a):
    """float32 -> bfloat16 (RNE), returned widened to float32."""
    a = f32(a)
    r = a.astype(BF16).astype(F32)
    b = a.view(U32).astype(np.uint64)
    ref = (((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16).astype(U32).view(F32)
    fin = np.isfinite(a)
    assert np.array_equal(bits32(r)[fin], bits32(ref)[fin]), "bf16 RNE mismatch"
    assert np.array_equal(np.isnan(r), np.isnan(a))
    return r


def bf16_from_f64(v):
    """float64 -> bfloat16 with ONE RNE rounding (ml_dtypes' float64 astype
    goes through float32 and can double-round, so it is not used here).
    Valid for values in the bf16 normal range, zero and +-inf."""
    v = float(v)
    if v == 0.0 or math.isinf(v) or math.isnan(v):
        return v
    b = int(np.array([v], dtype=np.float64).view(np.uint64)[0])
    b = ((b + (1 << 44) - 1 + ((b >> 45) & 1)) >> 45) << 45
    r = float(np.array([b], dtype=np.uint64).view(np.float64)[0])
    assert float(F32(r)) == r and float(bf16(F32(r))[()]) == r
    return r


def self_test_conversions():
    # NUMERICS 2.3, E4M3 SATFINITE column, inputs already within +-448 or
    # clamped first (clamp(464.1) = 448 etc.).
    vec = [
        (0.0, 0x00), (-0.0, 0x80), (1.0, 0x38), (-2.0, 0xC0), (240.0, 0x77),
        (248.0, 0x78), (448.0, 0x7E), (449.0, 0x7E), (463.9, 0x7E),
        (464.0, 0x7E), (464.1, 0x7E), (480.0, 0x7E), (1e6, 0x7E),
        (65504.0, 0x7E), (math.inf, 0x7E), (-math.inf, 0xFE),
        (2.0 ** -9, 0x01), (2.0 ** -10, 0x00), (9.8e-4, 0x01),
        (1.0625, 0x38), (1.1875, 0x3A), (1.5 * 2.0 ** -9, 0x02),
        (4.25, 0x48), (-1e-5, 0x80),
    ]
    x = f32([v for v, _ in vec])
    got = cast_e4m3(clamp(x))
    assert list(got) == [c for _, c in vec], [hex(c) for c in got]
    # NaN -> +448 under the fminf/fmaxf clamp (NUMERICS 3.2).
    assert cast_e4m3(clamp(f32([math.nan, -math.nan])))[0] == 0x7E
    # Why clamping is needed: ml_dtypes itself does not saturate (NUMERICS 2.4).
    assert f32([464.1, math.inf]).astype(E4M3).view(np.uint8)[0] == 0x7F
    # Exhaustive: every float32 representable as E4M3 and every midpoint.
    pos = E4M3_VALUES[:0x7F]
    assert np.array_equal(cast_e4m3(f32(pos)), np.arange(0x7F, dtype=np.uint8))
    for c in range(0x7F):
        assert decode_e4m3(np.uint8(c)) == F32(E4M3_VALUES[c])
    # bf16 from f64 single rounding (the double-rounding example).
    assert bf16_from_f64(1 + 2.0 ** -8 + 2.0 ** -30) == 1 + 2.0 ** -7


# E4M3 midpoints between consecutive positive finite values (codes 00..7E).
MIDS = f32((E4M3_VALUES[0:0x7E] + E4M3_VALUES[1:0x7F]) / 2.0)
assert np.array_equal(MIDS.astype(np.float64),
                      (E4M3_VALUES[0:0x7E] + E4M3_VALUES[1:0x7F]) / 2.0)

# ---------------------------------------------------------------------------
# Blocked reductions
# ---------------------------------------------------------------------------


def nblocks(n, b):
    return (n + b - 1) // b


def block_amax(x, br, bc):
    """fmax-reduction of |x| per (br x bc) block (partial edge blocks), with
    initial 0: NaN ignored, Inf kept.  Returns [ceil(r/br), ceil(c/bc)]."""
    r, c = x.shape
    out = np.zeros((nblocks(r, br), nblocks(c, bc)), dtype=F32)
    ax = np.abs(x)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            blk = ax[i * br:(i + 1) * br, j * bc:(j + 1) * bc]
            out[i, j] = np.fmax.reduce(blk.ravel(), initial=F32(0))
    return out


def expand(s, shape, br, bc):
    r, c = shape
    return np.repeat(np.repeat(s, br, axis=0), bc, axis=1)[:r, :c]


# ---------------------------------------------------------------------------
# Recipes: each returns (scales[f32, flat], q[uint8, r x c], dq[f32, r x c])
# ---------------------------------------------------------------------------


def _vllm_mul(x, s):
    """static / dynamic per-tensor quantize: inv = f32(1/s); x*inv."""
    inv = F32(1.0) / s
    q = cast_e4m3(clamp(x * inv))
    return q, decode_e4m3(q) * s


def r_vllm_per_tensor(x):
    amax = block_amax(x, *x.shape)[0, 0]
    s = amax / FMAX
    q, dq = _vllm_mul(x, s)
    return f32([s]), q, dq


def r_vllm_static(x, s):
    s = F32(s)
    q, dq = _vllm_mul(x, s)
    return f32([s]), q, dq


def _per_row(x, ub, mul):
    amax = block_amax(x, 1, x.shape[1])[:, 0]
    if ub is not None:
        amax = np.fmin(amax, ub)
    s = np.fmax(amax / FMAX, VLLM_MIN_SCALE)
    sc = s[:, None]
    y = x * (F32(1.0) / sc) if mul else x / sc
    q = cast_e4m3(clamp(y))
    return s, q, decode_e4m3(q) * sc


def r_vllm_per_token(x):
    return _per_row(x, None, False)


def r_vllm_per_token_mul(x):
    return _per_row(x, None, True)


def r_fbgemm_per_row(x):
    return _per_row(x, FBGEMM_UB, False)


def _ct_bf16(x, br, bc):
    assert np.array_equal(bf16(x), x), "ct-*-bf16 inputs must be bf16 values"
    amax = block_amax(x, br, bc)
    s = bf16(amax / FMAX)
    s = np.fmax(s, CT_EPS)  # 2^-23 is a bf16 value, result stays bf16
    se = expand(s, x.shape, br, bc)
    y = clamp(bf16(x / se))
    q = cast_e4m3(y)
    dq = bf16(decode_e4m3(q) * se)
    return s.ravel(), q, dq


def r_ct_channel_bf16(x):
    return _ct_bf16(x, 1, x.shape[1])


r_ct_token_bf16 = r_ct_channel_bf16


def r_ct_tensor_bf16(x):
    return _ct_bf16(x, *x.shape)


def _ct_f32(x, br, bc):
    amax = block_amax(x, br, bc)
    s = np.fmax(amax / FMAX, CT_EPS)
    se = expand(s, x.shape, br, bc)
    q = cast_e4m3(clamp(x / se))
    return s.ravel(), q, decode_e4m3(q) * se


def r_ct_channel_f32(x):
    return _ct_f32(x, 1, x.shape[1])


def r_ct_tensor_f32(x):
    return _ct_f32(x, *x.shape)


def _div_block(x, br, bc):
    s = block_amax(x, br, bc) / FMAX
    se = expand(s, x.shape, br, bc)
    q = cast_e4m3(clamp(x / se))
    return s.ravel(), q, decode_e4m3(q) * se


def r_deepseek_block128(x):
    return _div_block(x, 128, 128)


def r_deepseek_group128(x):
    return _div_block(x, 1, 128)


def floor_log2_f32(a):
    """floor(log2(a)) for finite a > 0 from the float32 bit fields."""
    b = int(bits32(F32(a))[()])
    e = (b >> 23) & 0xFF
    m = b & 0x7FFFFF
    assert e != 0xFF and (e or m)
    if e:
        return e - 127
    return (m.bit_length() - 1) - 149


def pow2_f32(e):
    """2^e as float32 for -149 <= e <= 127, built from bits."""
    if e >= -126:
        return from_bits32(U32((e + 127) << 23))[()]
    return from_bits32(U32(1 << (e + 149)))[()]


def mx_exponent(amax):
    if amax == 0:
        return -127
    return max(-127, min(127, floor_log2_f32(amax) - 8))


def r_mx_e4m3(x):
    assert np.all(np.isfinite(x))
    amax = block_amax(x, 1, 32)
    X = np.vectorize(lambda a: pow2_f32(mx_exponent(a)), otypes=[F32])(amax)
    for a, xx in zip(amax.ravel(), X.ravel()):  # cross-check vs math.frexp
        if a > 0:
            assert math.frexp(float(a))[1] - 1 == floor_log2_f32(a)
        assert float(xx) == 2.0 ** mx_exponent(a)
    se = expand(X, x.shape, 1, 32)
    q = cast_e4m3(clamp(x / se))
    return X.ravel(), q, decode_e4m3(q) * se


RECIPES = {
    "vllm-per-tensor": r_vllm_per_tensor,
    "vllm-static": r_vllm_static,
    "vllm-per-token": r_vllm_per_token,
    "vllm-per-token-mul": r_vllm_per_token_mul,
    "fbgemm-per-row": r_fbgemm_per_row,
    "ct-channel-bf16": r_ct_channel_bf16,
    "ct-token-bf16": r_ct_token_bf16,
    "ct-tensor-bf16": r_ct_tensor_bf16,
    "ct-tensor-f32": r_ct_tensor_f32,
    "ct-channel-f32": r_ct_channel_f32,
    "deepseek-block128": r_deepseek_block128,
    "deepseek-group128": r_deepseek_group128,
    "mx-e4m3": r_mx_e4m3,
}

# ---------------------------------------------------------------------------
# Input generators (one RNG, fixed seed, fixed call order)
# ---------------------------------------------------------------------------

RNG = np.random.default_rng(SEED)


def gen_wide(r, c, lo=-12.0, hi=8.0, spread=8.0):
    """normal * 2^(row_base + U(-spread, 0)), row_base ~ U(lo, hi): a wide
    spread of magnitudes across rows and inside each row."""
    base = RNG.uniform(lo, hi, size=(r, 1))
    e = base + RNG.uniform(-spread, 0.0, size=(r, c))
    return f32(RNG.standard_normal((r, c)) * np.exp2(e))


def add_outliers(x, per_row=2, lo=6.0, hi=12.0):
    x = x.copy()
    r, c = x.shape
    for i in range(r):
        for j in RNG.choice(c, size=min(per_row, c), replace=False):
            x[i, j] = F32(x[i, j] * np.exp2(RNG.uniform(lo, hi)))
    return x


def set_zero_row(x, i):
    x = x.copy()
    x[i, :] = 0.0
    x[i, 1::2] = -0.0
    return x


def sprinkle_neg_zero(x, n=3):
    x = x.copy()
    flat = x.reshape(-1)
    for k in RNG.choice(flat.size, size=min(n, flat.size), replace=False):
        flat[k] = -0.0
    return x


def rand_signs(shape):
    return np.where(RNG.random(shape) < 0.5, F32(-1.0), F32(1.0)).astype(F32)


def gen_ties(r, c, br, bc, block_scale):
    """Each (br x bc) block gets E4M3 midpoints times its scale s (random
    signs), plus one element +-448*s so that a dynamic amax/448 gives s back.
    With s a power of two (or 0.75*2^k for the bf16 recipes) every x/s is
    exactly a midpoint, i.e. an RNE tie.  With a non-power-of-two s,
    x = f32(mid*s) and the recipe's recomputed scale land x/s and x*(1/s)
    within an ulp or so of the midpoint (near-ties, where division and
    multiplication by the inverse can round to different FP8 codes)."""
    x = np.empty((r, c), dtype=F32)
    for bi in range(nblocks(r, br)):
        for bj in range(nblocks(c, bc)):
            rs = slice(bi * br, min(r, (bi + 1) * br))
            cs = slice(bj * bc, min(c, (bj + 1) * bc))
            shp = x[rs, cs].shape
            s = F32(block_scale(bi, bj))
            mids = MIDS[RNG.integers(0, MIDS.size, size=shp)]
            blk = f32(mids * s) * rand_signs(shp)
            k = RNG.integers(0, blk.size)
            blk.reshape(-1)[k] = F32(FMAX * s) * rand_signs(())
            x[rs, cs] = blk
    return x


def pow2_scale(lo, hi):
    return lambda bi, bj: F32(2.0 ** int(RNG.integers(lo, hi + 1)))


def nonpow2_scale(lo, hi):
    """s = f32(u*2^k)/448, u ~ U(1, 2): a scale that is not a power of two."""
    return lambda bi, bj: f32(RNG.uniform(1.0, 2.0) * 2.0 ** int(
        RNG.integers(lo, hi + 1))) / FMAX


def gen_tiny_rows(whole_tensor):
    """Rows with amax ~2^-30..2^-28 (amax/448 < 2^-23, so the eps clamp sets
    s and x/s still reaches FP8 subnormals); per-row recipes also get a third
    row with amax 1.01*448*2^-23 (just above the clamp)."""
    x = gen_wide(2, 16, lo=-30, hi=-28, spread=8)
    if whole_tensor:
        return x
    x = np.concatenate([x, gen_wide(1, 16, lo=-15, hi=-14, spread=3)])
    x[2, 4] = F32(448.0 * 2.0 ** -23 * 1.01)
    return x


def tiny_desc(whole_tensor, kind):
    if whole_tensor:
        return "tiny %svalues: amax/448 below 2^-23, s = 2^-23 (eps clamp)" % kind
    return ("tiny %svalues: rows 0-1 amax/448 below 2^-23 (eps clamp), "
            "row 2 amax = 1.01*448*2^-23" % kind)


def to_bf16_inputs(x):
    return bf16(x)


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


class Writer:
    def __init__(self):
        self.lines = []
        self.counts = {}
        self.cases = {}

    def comment(self, text):
        for ln in text.splitlines():
            self.lines.append(("# " + ln).rstrip())

    def _vals(self, key, fmt, seq):
        seq = list(seq)
        for k in range(0, len(seq), PER_LINE):
            self.lines.append(key + " " + " ".join(fmt % v for v in seq[k:k + PER_LINE]))

    def case(self, recipe, x, desc, static_scale=None):
        x = f32(x)
        assert x.ndim == 2
        fn = RECIPES[recipe]
        with np.errstate(all="ignore"):
            if recipe == "vllm-static":
                assert static_scale is not None
                scales, q, dq = fn(x, static_scale)
            else:
                assert static_scale is None
                scales, q, dq = fn(x)
        r, c = x.shape
        assert q.shape == (r, c) and dq.shape == (r, c)
        dqb = bits32(dq).copy()
        dqb[np.isnan(dq)] = CANON_NAN
        self.comment(desc)
        self.lines.append("case %s %d %d" % (recipe, r, c))
        self._vals("x", "%08x", bits32(x).ravel())
        if static_scale is not None:
            self._vals("static_scale", "%08x", [int(bits32(F32(static_scale))[()])])
        self._vals("scales", "%08x", bits32(scales).ravel())
        self._vals("q", "%02x", q.ravel())
        self._vals("dq", "%08x", dqb.ravel())
        self.lines.append("end")
        self.counts[recipe] = self.counts.get(recipe, 0) + 1
        self.cases.setdefault(recipe, []).append((x, scales, q, dq))
        return scales, q, dq


# ---------------------------------------------------------------------------
# Case lists
# ---------------------------------------------------------------------------


def vllm_nan_x():
    x = gen_wide(2, 8, lo=-2, hi=2, spread=4)
    x[0, 1] = np.nan
    x[1, 6] = -np.nan
    return x


def vllm_inf_x():
    x = gen_wide(2, 8, lo=-2, hi=2, spread=4)
    x[0, 3] = np.inf
    x[1, 0] = -np.inf
    x[1, 5] = -0.0
    return x


def cases_vllm_per_tensor(w):
    R = "vllm-per-tensor"
    w.case(R, gen_wide(3, 40), "wide random magnitudes")
    x = sprinkle_neg_zero(set_zero_row(add_outliers(gen_wide(5, 64)), 2))
    w.case(R, x, "outliers, all-zero row 2 (+0/-0 alternating), some -0")
    w.case(R, gen_wide(1, 7), "1x7")
    w.case(R, gen_ties(4, 32, 4, 32, pow2_scale(-10, 6)),
           "exact FP8 ties: x = midpoint * 2^k, amax = 448 * 2^k")
    w.case(R, gen_ties(2, 64, 2, 64, nonpow2_scale(-6, 6)),
           "near-ties with a non-power-of-two scale")
    z = np.zeros((2, 8), dtype=F32)
    z[0, 3] = -0.0
    z[1, 0] = -0.0
    s, q, dq = w.case(R, z, "all-zero tensor: s = 0, inv = inf, 0*inf = NaN -> 448 -> 7E (NUMERICS 3.2)")
    assert bits32(s)[0] == 0 and np.all(q == 0x7E) and np.all(dq == 0)
    s, q, dq = w.case(R, vllm_nan_x(), "NaN inputs (+NaN at [0,1], -NaN at [1,6]) -> +448 (7E); amax ignores NaN")
    assert q[0, 1] == 0x7E and q[1, 6] == 0x7E and np.isfinite(s[0])
    w.case(R, vllm_inf_x(),
           "inf: +Inf at [0,3], -Inf at [1,0]: amax = Inf, s = Inf, inv = 0; finite -> +-0, "
           "+-Inf*0 = NaN -> +448 (7E); dq = 0*Inf = NaN (written 7fc00000)")


def cases_vllm_static(w):
    R = "vllm-static"
    x = gen_wide(3, 40, lo=-2, hi=4)
    s = block_amax(x, 3, 40)[0, 0] / F32(300.0)  # part of the tensor saturates
    w.case(R, x, "wide random; s = amax/300 so the largest values clamp to +-448", s)
    x = sprinkle_neg_zero(set_zero_row(add_outliers(gen_wide(5, 64)), 4))
    w.case(R, x, "outliers, all-zero row 4, some -0; s = 0.0123", F32(0.0123))
    w.case(R, gen_wide(1, 7), "1x7, s = 1", F32(1.0))
    w.case(R, gen_ties(4, 32, 4, 32, lambda i, j: F32(2.0 ** -5)),
           "exact FP8 ties with s = 2^-5", F32(2.0 ** -5))
    s = F32(0.0317)
    w.case(R, gen_ties(2, 64, 2, 64, lambda i, j: s),
           "near-ties: x = f32(mid*s), s = 0.0317 (not a power of two)", s)
    x = vllm_nan_x()
    x[0, 3] = np.inf
    x[1, 0] = -np.inf
    s_, q, dq = w.case(R, x, "NaN -> +448 (7E); +Inf -> 7E, -Inf -> FE; s = 0.5", F32(0.5))
    assert q[0, 1] == 0x7E and q[1, 6] == 0x7E and q[0, 3] == 0x7E and q[1, 0] == 0xFE
    w.case(R, gen_wide(2, 16, lo=-14, hi=-10), "tiny values, s = 3e-5 (subnormal FP8 codes)", F32(3e-5))


def per_token_inputs():
    """Shared by vllm-per-token and vllm-per-token-mul (so their difference is
    exactly the x/s vs x*(1/s) effect)."""
    out = []
    out.append((gen_wide(3, 40), "wide random magnitudes"))
    x = sprinkle_neg_zero(set_zero_row(add_outliers(gen_wide(5, 64)), 1))
    x[3] = gen_wide(1, 64, lo=-16, hi=-14)[0]  # amax/448 < 1/229376
    out.append((x, "outliers, all-zero row 1, row 3 tiny (scale floor 1/(448*512) applies), some -0"))
    out.append((gen_wide(1, 7), "1x7"))
    out.append((gen_ties(4, 32, 1, 32, pow2_scale(-12, 6)),
                "exact FP8 ties per row: x = midpoint * 2^k_row, row amax = 448 * 2^k_row"))
    out.append((gen_ties(4, 64, 1, 64, nonpow2_scale(-6, 6)),
                "near-ties with non-power-of-two row scales (x/s vs x*(1/s) differ here)"))
    return out


def cases_per_token(w, R):
    for x, d in PER_TOKEN_INPUTS:
        w.case(R, x, d)
    s, q, dq = w.case(R, vllm_nan_x(), "NaN inputs (+NaN [0,1], -NaN [1,6]) -> +448 (7E); amax ignores NaN")
    assert q[0, 1] == 0x7E and q[1, 6] == 0x7E and np.all(np.isfinite(s))
    x = vllm_inf_x()
    w.case(R, x, "inf: rows containing +-Inf get s = Inf: finite -> +-0, +-Inf -> NaN -> +448 (7E); "
                 "dq NaN written 7fc00000")


def cases_fbgemm(w):
    R = "fbgemm-per-row"
    for x, d in PER_TOKEN_INPUTS:
        w.case(R, x, d)
    x = add_outliers(gen_wide(4, 40, lo=4, hi=8), per_row=3, lo=4, hi=6)
    x[0, 5] = F32(1200.0)
    x[1, 7] = F32(-1500.0)
    x[2, 9] = F32(1199.9)
    s, q, dq = w.case(R, x, "row amax around and above the 1200 upper bound (values beyond +-1200 clamp to +-448)")
    assert s[0] == F32(1200.0) / FMAX and s[1] == F32(1200.0) / FMAX and q[1, 7] == 0xFE


def cases_ct_bf16(w, R, whole_tensor):
    br = (lambda x: x.shape[0]) if whole_tensor else (lambda x: 1)
    w.case(R, to_bf16_inputs(gen_wide(3, 40)), "wide random bf16 values")
    x = sprinkle_neg_zero(set_zero_row(to_bf16_inputs(add_outliers(gen_wide(5, 64))), 3))
    w.case(R, x, "outliers, all-zero row 3%s, some -0" % ("" if whole_tensor else " (s = 2^-23 eps clamp)"))
    w.case(R, to_bf16_inputs(gen_wide(1, 7)), "1x7")
    x = gen_ties(4, 32, 4 if whole_tensor else 1, 32, pow2_scale(-10, 6))
    assert np.array_equal(bf16(x), x)
    w.case(R, x, "exact FP8 ties: bf16 x = midpoint * 2^k, amax = 448 * 2^k")
    x = gen_ties(3, 32, 3 if whole_tensor else 1, 32, lambda i, j: F32(0.75) * F32(2.0 ** int(RNG.integers(-4, 4))))
    assert np.array_equal(bf16(x), x)
    w.case(R, x, "exact ties with s = 0.75 * 2^k (s exact in bf16)")
    x = to_bf16_inputs(gen_ties(3, 64, 3 if whole_tensor else 1, 64, nonpow2_scale(-6, 6)))
    w.case(R, x, "near-ties rounded to bf16: bf16(x/s) double rounding creates ties")
    w.case(R, to_bf16_inputs(gen_tiny_rows(whole_tensor)), tiny_desc(whole_tensor, "bf16 "))


def cases_ct_f32(w, R, whole_tensor):
    w.case(R, gen_wide(3, 40), "wide random")
    x = sprinkle_neg_zero(set_zero_row(add_outliers(gen_wide(5, 64)), 0))
    w.case(R, x, "outliers, all-zero row 0%s, some -0" % ("" if whole_tensor else " (s = 2^-23 eps clamp)"))
    w.case(R, gen_wide(1, 7), "1x7")
    w.case(R, gen_ties(4, 32, 4 if whole_tensor else 1, 32, pow2_scale(-10, 6)),
           "exact FP8 ties: x = midpoint * 2^k, amax = 448 * 2^k")
    w.case(R, gen_ties(3, 64, 3 if whole_tensor else 1, 64, nonpow2_scale(-6, 6)),
           "near-ties with non-power-of-two scales")
    w.case(R, gen_tiny_rows(whole_tensor), tiny_desc(whole_tensor, ""))


def cases_deepseek_group(w):
    R = "deepseek-group128"
    x = add_outliers(gen_wide(4, 300), per_row=4)
    w.case(R, sprinkle_neg_zero(x, 5), "wide random, outliers, some -0; groups 128,128,44 per row")
    w.case(R, gen_ties(1, 300, 1, 128, pow2_scale(-10, 6)),
           "exact FP8 ties per group: x = midpoint * 2^k, group amax = 448 * 2^k")
    w.case(R, gen_ties(1, 300, 1, 128, nonpow2_scale(-6, 6)), "near-ties, non-power-of-two scales")
    x = set_zero_row(gen_wide(2, 130), 1)
    x[0, 128:] = 0.0
    s, q, dq = w.case(R, x, "zero groups: row 1 all zero, row 0 cols 128..129 zero: s = 0, "
                             "0/0 = NaN -> +448 (7E), dq = 0")
    assert np.all(q[1] == 0x7E) and np.all(dq[1] == 0)
    w.case(R, gen_wide(1, 7), "1x7 (single partial group)")


def cases_deepseek_block(w, big):
    R = "deepseek-block128"
    x = sprinkle_neg_zero(add_outliers(gen_wide(3, 300), per_row=3), 4)
    w.case(R, x, "3x300: blocks [1,3], partial in rows and in the last column block (44 cols)")
    x = add_outliers(gen_wide(130, 6), per_row=1)
    x[128:130] = gen_ties(2, 6, 2, 6, pow2_scale(-8, 4))
    x[60] = 0.0
    w.case(R, x, "130x6: blocks [2,1], edge row block of 2 rows (exact ties there); row 60 zero")
    x = np.empty((129, 3), dtype=F32)
    x[:128] = gen_wide(128, 3)
    x[128] = [0.0, -0.0, 0.0]
    s, q, dq = w.case(R, x, "129x3: edge block (row 128) all zero: s = 0, 0/0 = NaN -> +448 (7E), dq = 0")
    assert s[1] == 0 and np.all(q[128] == 0x7E)
    w.case(R, gen_wide(1, 7), "1x7 (single partial block)")
    if big:
        w.case(R, add_outliers(gen_wide(200, 300), per_row=1), "200x300: blocks [2,3]")


def cases_mx(w):
    R = "mx-e4m3"
    w.case(R, sprinkle_neg_zero(gen_wide(3, 100, lo=-20, hi=20, spread=10), 3),
           "wide random; blocks of 32 along columns, last block 4 columns")
    # ties / clamp / zero block
    x = gen_ties(3, 100, 1, 32, pow2_scale(-20, 10))
    x[0, 32:64] = 0.0
    x[0, 33] = -0.0
    k = 2.0 ** -3
    x[1, 64:96] = f32(RNG.uniform(-1, 1, 32) * 256 * k)
    x[1, 64] = F32(1.875 * 256 * k)  # amax/X = 480 -> clamp -> 7E
    x[1, 65] = F32(-1.8 * 256 * k)  # -460.8 -> FE
    x[2, 96:100] = f32([1.999 * 2.0 ** 8, 2.0 ** 8, -464.0, 0.5])  # amax/X in [448,512)
    s, q, dq = w.case(R, x, "exact FP8 ties (x = mid*2^e, block amax = 448*2^e); row 0 block 1 all zero "
                             "(e = -127); row 1 block 2 amax = 480*2^e (clamps); row 2 last block amax 511.744")
    assert s[1] == pow2_f32(-127) and q[1, 64] == 0x7E and q[1, 65] == 0xFE
    x = gen_wide(2, 40, lo=-140, hi=-120, spread=6)
    x[1, 32:40] = f32([2.0 ** -149, -2.0 ** -148, 3 * 2.0 ** -140, 0, 2.0 ** -130, 0, 0, -0.0])
    w.case(R, x, "tiny / float32-subnormal blocks: e clamps at -127, subnormal amax exponent")
    w.case(R, gen_wide(1, 7, lo=-3, hi=3), "1x7 (single partial block)")


# ---------------------------------------------------------------------------
# INC scales
# ---------------------------------------------------------------------------

INC_DEV = {
    # fullscale, f, lo, hi, fixed
    "gaudi2": (240.0, 4, 2.0 ** -8, 2.0 ** 4, 16.0),
    "gaudi3": (448.0, 1, 2.0 ** -55, 2.0 ** 7, 128.0),
}
INC_METHODS = ["identity", "pow2", "hw_aligned", "hw_aligned_fixed", "unit"]
INC_BACKOFFS = [0.25, 0.5]


def bf16s(v):
    """scalar float -> bf16 (from float32, RNE) as python float."""
    return float(bf16(F32(v))[()])


def inc_raw(maxabs, device, backoff):
    fullscale = INC_DEV[device][0]
    m = bf16s(F32(maxabs))
    d = bf16s(F32(fullscale) * F32(backoff))
    return bf16s(F32(m) / F32(d))


def inc_log2_bf16(s):
    if s == 0.0:
        return -math.inf
    return bf16_from_f64(math.log2(s))


def inc_pow2(s):
    L = inc_log2_bf16(s)
    if L == -math.inf:
        return 0.0
    r = 2.0 ** math.ceil(L)
    assert bf16s(r) == r
    return r


def inc_hw_from_pow2(p, device):
    _, f, lo, hi, _ = INC_DEV[device]
    if p == 0.0:
        r = 0.0  # 2^(ceil(-inf/f)*f) = 0
    else:
        lp = inc_log2_bf16(p)
        assert lp == math.log2(p)
        t = bf16_from_f64(lp / f)
        r = 2.0 ** (math.ceil(t) * f)
    return min(max(r, lo), hi)


def inc_scale(method, device, backoff, maxabs):
    if method == "unit":
        return 1.0
    if method == "hw_aligned_fixed":
        return INC_DEV[device][4]
    s = inc_raw(maxabs, device, backoff)
    if method == "identity":
        return s
    if method == "pow2":
        return inc_pow2(s)
    if method == "hw_aligned":
        return inc_hw_from_pow2(inc_pow2(s), device)
    raise ValueError(method)


def inc_self_test():
    # INC.md 3.7 worked table: (backoff, maxabs, G2 raw, G2 POW2, G2 HW, G3 raw, G3 HW)
    table = [
        (0.25, 1.0, 1 / 60, 1 / 32, 1 / 16, 1 / 112, 1 / 64),
        (0.25, 3.4, 0.0567, 1 / 16, 1 / 16, 0.0304, 1 / 32),
        (0.25, 11.06, 0.184, 1 / 4, 1, 0.0988, 1 / 8),
        (0.25, 40.75, 0.679, 1, 1, 0.364, 1 / 2),
        (0.25, 95.5, 1.59, 2, 16, 0.853, 1),
        (0.25, 1000.0, 16.7, 32, 16, 8.93, 16),
        (0.5, 2.0, 1 / 60, 1 / 32, 1 / 16, 1 / 112, 1 / 64),
        (0.5, 3.156, 0.0263, 1 / 32, 1 / 16, 0.0141, 1 / 64),
    ]
    for bo, ma, g2raw, g2p, g2hw, g3raw, g3hw in table:
        r2 = inc_scale("identity", "gaudi2", bo, ma)
        r3 = inc_scale("identity", "gaudi3", bo, ma)
        assert abs(r2 / g2raw - 1) < 0.01 and abs(r3 / g3raw - 1) < 0.01, (ma, r2, r3)
        assert inc_scale("pow2", "gaudi2", bo, ma) == g2p, ma
        assert inc_scale("hw_aligned", "gaudi2", bo, ma) == g2hw, ma
        assert inc_scale("hw_aligned", "gaudi3", bo, ma) == g3hw, ma
        assert inc_scale("hw_aligned_fixed", "gaudi2", bo, ma) == 16.0
        assert inc_scale("hw_aligned_fixed", "gaudi3", bo, ma) == 128.0
    # maxabs 0 (INC.md 3.3 derived note): lo under HW_ALIGNED, 0 under POW2/IDENTITY.
    for dev in INC_DEV:
        assert inc_scale("hw_aligned", dev, 0.25, 0.0) == INC_DEV[dev][2]
        assert inc_scale("pow2", dev, 0.25, 0.0) == 0.0
        assert inc_scale("identity", dev, 0.25, 0.0) == 0.0
    # INC.md 3.5: s = 2^k(1+2^-7) -> POW2 gives 2^k (not 2^(k+1)) exactly when
    # k >= 4 or k <= -5; on G2 HW_ALIGNED changes only at k = -8.
    g2_changed = []
    for k in range(-45, 16):
        s = 2.0 ** k * (1 + 2.0 ** -7)
        assert bf16s(s) == s
        p = inc_pow2(s)
        lost = (k >= 4 or k <= -5)
        assert p == (2.0 ** k if lost else 2.0 ** (k + 1)), (k, p)
        if inc_hw_from_pow2(p, "gaudi2") != inc_hw_from_pow2(2.0 ** (k + 1), "gaudi2"):
            g2_changed.append(k)
        if lost:  # G3 HW_ALIGNED is POW2 clamped to [2^-55, 2^7]
            g3_differs = inc_hw_from_pow2(p, "gaudi3") != inc_hw_from_pow2(2.0 ** (k + 1), "gaudi3")
            assert g3_differs == (k <= 6), k
    assert g2_changed == [-8], g2_changed


def log2_rounding_survey():
    """Compare bf16(log2(s)) computed in float64 (used here) with log2 in
    float32 then bf16 (two roundings, as torch's bf16 kernel would do) over
    every positive finite bf16 s.  Returns (#L differing, #ceil(L) differing)."""
    allb = (np.arange(0x0080, 0x7F80, dtype=np.uint32) << 16).view(F32)  # normal bf16
    d_l = d_c = 0
    l32 = bf16(np.log2(allb.astype(F32)))
    for s, l2 in zip(allb.tolist(), l32.tolist()):
        l1 = bf16_from_f64(math.log2(s))
        if l1 != l2:
            d_l += 1
            if math.ceil(l1) != math.ceil(l2):
                d_c += 1
    return d_l, d_c


def inc_maxabs_values():
    vals = []
    # INC.md 3.7 worked values
    vals += [1.0, 3.4, 11.06, 40.75, 95.5, 1000.0, 2.0, 3.156]
    vals += [0.0]
    # just above powers of two, k in -10..10
    vals += [2.0 ** k * (1 + 2.0 ** -7) for k in range(-10, 11)]
    # maxabs giving s exactly 2^k(1+2^-7) (INC.md 3.5) and s exactly 2^k,
    # for each fullscale*backoff (60, 120, 112, 224)
    for d in (60.0, 120.0, 112.0, 224.0):
        for k in (-10, -8, -5, -4, 3, 4, 6):
            target = 2.0 ** k * (1 + 2.0 ** -7)
            # smallest bf16 m with bf16(m/d) == target, searched around target*d
            m0 = bf16s(target * d)
            cand = [m0 * (1 + i * 2.0 ** -7) for i in range(-4, 5)]
            hit = [m for m in cand if bf16s(m) == m and bf16s(F32(m) / F32(d)) == target]
            assert hit, (d, k)
            vals.append(hit[0])
            vals.append(2.0 ** k * d)
    # random, log-uniform over 2^-40 .. 2^20 (not rounded to bf16)
    vals += [float(F32(2.0 ** e)) for e in RNG.uniform(-40.0, 20.0, 100)]
    out = []
    seen = set()
    for v in vals:
        b = int(bits32(F32(v))[()])
        if b not in seen:
            seen.add(b)
            out.append(b)
    return out


def write_inc(w):
    vals = inc_maxabs_values()
    const_vals = vals[:9]  # worked values + 0: enough for the constant methods
    w.comment("")
    w.comment("INC scales (INC.md 3.1-3.5, 3.7): inc <method> <device> <backoff> <maxabs> <expected-scale>")
    w.comment("all intermediates BF16 RNE; log2 in float64 rounded once to bf16; maxabs 0 -> identity/pow2 0, hw_aligned lo")
    w.comment("unit and hw_aligned_fixed (constants) are listed only for the INC.md 3.7 maxabs values and 0")
    n = 0
    for method in INC_METHODS:
        for dev in INC_DEV:
            for bo in INC_BACKOFFS:
                for b in (const_vals if method in ("unit", "hw_aligned_fixed") else vals):
                    ma = float(from_bits32(U32(b))[()])
                    sc = inc_scale(method, dev, bo, ma)
                    w.lines.append("inc %s %s %08x %08x %08x" % (
                        method, dev, int(bits32(F32(bo))[()]), b, int(bits32(F32(sc))[()])))
                    n += 1
    return n, len(vals)


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def main():
    global PER_TOKEN_INPUTS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures", "quant_recipes.txt"))
    ap.add_argument("--big", action="store_true",
                    help="also emit a 200x300 deepseek-block128 case (adds ~1.3 MB)")
    args = ap.parse_args()

    vers = "numpy %s ml_dtypes %s" % (np.__version__, ml_dtypes.__version__)
    print(vers)
    self_test_conversions()
    inc_self_test()

    w = Writer()
    w.comment("fp8q golden fixtures for FP8 scaled-quantization recipes and INC scales")
    w.comment("generated by tools/gen_quant_fixtures.py (seed %d%s); do not edit by hand" % (SEED, ", --big" if args.big else ""))
    w.comment("generator versions: %s" % vers)
    w.comment("FP8 = OCP E4M3FN (FMAX 448); floats are float32 bit patterns (8 hex digits), q bytes 2 hex digits")
    w.comment("format: case <recipe> <rows> <cols> / x / [static_scale] / scales / q / dq / end; <= 16 values per line")
    w.comment("scale shapes: per-tensor [1], per-row [rows], block/group [ceil(rows/br), ceil(cols/bc)] row-major")
    w.comment("any NaN in a dq line is written 7fc00000 (compare with isnan); formulas: see the generator's docstring")
    w.comment("")

    with np.errstate(all="ignore"):
        PER_TOKEN_INPUTS = per_token_inputs()
    cases_vllm_per_tensor(w)
    cases_vllm_static(w)
    cases_per_token(w, "vllm-per-token")
    cases_per_token(w, "vllm-per-token-mul")
    cases_fbgemm(w)
    cases_ct_bf16(w, "ct-channel-bf16", False)
    cases_ct_bf16(w, "ct-token-bf16", False)
    cases_ct_bf16(w, "ct-tensor-bf16", True)
    cases_ct_f32(w, "ct-tensor-f32", True)
    cases_ct_f32(w, "ct-channel-f32", False)
    cases_deepseek_group(w)
    cases_deepseek_block(w, args.big)
    cases_mx(w)

    # Coverage facts (asserted so that the fixture keeps exercising them).
    ndiv = sum(int(np.count_nonzero(a[2] != b[2])) for a, b in
               zip(w.cases["vllm-per-token"], w.cases["vllm-per-token-mul"]))
    assert ndiv > 0, "no case distinguishes x/s from x*(1/s)"
    ndr = 0
    for R in ("ct-channel-bf16", "ct-token-bf16", "ct-tensor-bf16"):
        for x, s, q, dq in w.cases[R]:
            se = expand(s.reshape(-1, 1) if s.size == x.shape[0] else s.reshape(1, 1),
                        x.shape, 1 if s.size == x.shape[0] else x.shape[0], x.shape[1])
            with np.errstate(all="ignore"):
                single = cast_e4m3(clamp(x / se))
            ndr += int(np.count_nonzero(single != q))
    assert ndr > 0, "no case shows the bf16 double rounding"
    n_inc, n_maxabs = write_inc(w)
    d_l, d_c = log2_rounding_survey()

    w.comment("")
    w.comment("summary: cases per recipe")
    for R in RECIPES:
        w.comment("  %-20s %d" % (R, w.counts.get(R, 0)))
    w.comment("  inc lines            %d (%d maxabs values)" % (n_inc, n_maxabs))
    w.comment("  q bytes differing between vllm-per-token (x/s) and vllm-per-token-mul (x*(1/s)): %d" % ndiv)
    w.comment("  ct-*-bf16 q bytes differing from single-rounded cast(clamp(x/s)): %d" % ndr)
    w.comment("  INC log2: bf16 values s where bf16(log2_f64(s)) != bf16(log2_f32(s)): %d (ceil differs: %d)"
              % (d_l, d_c))

    text = "\n".join(w.lines) + "\n"
    out = os.path.normpath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", newline="\n") as fh:
        fh.write(text)
    for R in RECIPES:
        print("  %-20s %d cases" % (R, w.counts.get(R, 0)))
    print("  inc lines: %d; per-token div/mul q diffs: %d; ct bf16 double-rounding diffs: %d"
          % (n_inc, ndiv, ndr))
    print("  INC log2 f64-vs-f32 survey over all bf16 s: %d differ, %d differ after ceil" % (d_l, d_c))
    print("wrote %s (%d bytes)" % (out, len(text.encode())))


if __name__ == "__main__":
    main()
