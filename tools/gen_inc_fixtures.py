#!/usr/bin/env python3
"""Independent generator of golden fixtures for Intel Neural Compressor (INC)
FP8 scales, measurement / scale files and Python's float repr.

Writes tests/fixtures/inc_scales.txt (override with --out PATH), read by
tests/test_inc_scales.c.  Needs torch (CPU build is enough; the venv of
tools/requirements-fixtures.txt has it).  Everything is deterministic (fixed
seeds); running the script twice gives byte-identical files.  The torch
version is written into the header.

Written from shared/spec/INC.md sections 3, 4.2, 5 and 7 and the INC / VHE
code they cite, NOT from fp8q.h: every formula below is INC's own, applied
to torch BF16 tensors on the CPU exactly as INC applies it to BF16 tensors
on the HPU (hp_dtype = bfloat16):

  fullscale (fp_utils.get_fullscale): Gaudi2 240 = finfo(float8_e4m3fnuz).max,
      Gaudi3 448 = finfo(float8_e4m3fn).max; HW-aligned scales
      (get_fp8_hw_alligned_scales_by_device): fullscale(bias b) / fullscale
      for b in [3, 7, 11, 15] (Gaudi2) or range(0, 63) (Gaudi3), in that
      order; traits (min, max, factor): G2 (2^-8, 16, 4), G3 (2^-55, 128, 1).
  calc_maxabs_scale: xmaxabs / (fullscale * backoff)   (BF16 tensor / float)
  rounding (round_scales_function.py):
      POW2        torch.exp2(torch.ceil(torch.log2(s)))
      HW_ALIGNED  min(max(2.0 ** (ceil(log2(POW2(s)) / f) * f), lo), hi)
      HW_ALIGNED_FIXED  HW scales[0] (16 / 128); SCALE_UNIT 1.0; IDENTITY s
  activation from a measurement (MaxAbsPts.calc_scale_from_measurement):
      torch.tensor(values, dtype=bfloat16).max() -> calc -> round
  weights (actual BF16 weight W[out][in]):
      MaxAbsPts   torch.max(torch.abs(W)).to(bf16) -> calc -> round
      MaxAbsPcs   torch.amax(torch.abs(W), dim=1) -> calc -> torch.max(., bf16
                  tiny) -> round
      OptScalesPts  round(mmse_scale(W, candidates)), candidates the HW set
                  (MAXABS_HW_OPT_WEIGHT) or 2^-10..2^9 (MAXABS_POW2_OPT_WEIGHT)
      OptScalesPcs  ref = MaxAbsPcs(POW2, backoff 0.5)(W);
                  round(mmse_scale_multi(W^T, ref, 2^-3..2^4)) per row
      FixedScale  torch.tensor(round.calc(.), dtype=bf16)
  mmse_scale / mmse_scale_multi: fp_utils.py, verbatim in structure
      (torch.norm / torch.sum((x - y) ** 2) on BF16, <= resp. < against the
      running BF16 best), with cast_to_fp8_v2 emulated as GAUDI.md 3's host
      reference: clamp to +-240 (G2) / +-448 (G3), then RNE to
      float8_e4m3fn (identical bytes up to 240 on Gaudi2, GAUDI.md 1.2).
  dynamic per token (MaxAbsDynamicPcs): torch.amax(|x|, dim=-1) -> calc ->
      torch.max(., tiny) -> POW2, with the backoff written on each line.
  scale-file nodes (ops_quantizer.py, common.save_scales / rec_fn / tolist
      of .float()): linear {"inputs": [s_x], "outputs": [w * s_x or the
      FixedScale], "params": {"weight": w or {0: och, 1: ones(in)}}},
      matmul [s0, s1] -> [s0 * s1], kv_cache [s] -> [s], softmax [] -> [s].
  step 3 (INC fq/scripts/postprocessing_vllm_measurements.py
      fix_cache_inputs) and step 5 (vllm-gaudi calibration/
      step-5-unify_measurements.py unify_measurements, without -u), both
      re-implemented here on the loaded JSON.

Fixture line format (one record per line; '#' comments; floats as IEEE bit
patterns in lowercase hex: 8 digits float32, 16 digits float64, 4 digits
bfloat16):
  repr <f64> <python repr>              float.__repr__ vectors
  pow2x <bf16> <pow2> <hw_g2> <hw_g3>   every positive finite BF16 s whose
                                        torch POW2 / HW_ALIGNED result
                                        differs from the exact 2^ceil(log2 s)
                                        rule (others must follow the rule)
  entry <id> <n> <f64> x n              a measurement entry [[v1], [v2], ...]
  act <method> <device> <entry id> <f32>
  wmat <id> <rows> <cols>  then rows lines  wrow <bf16> x cols
  wscale <method> <device> <wmat id> <n> <f32> x n
  wscalec <method> <device> <wmat id> <k> <f64> x k <n> <f32> x n
                                        OPT with the candidates given (dict
                                        form "params": {"weight_scales": ...})
  tmat <id> <rows> <cols>  then rows lines  trow <bf16> x cols
  token <device> <backoff f32> <tmat id> <n> <f32> x n   (POW2 rounding)
  file <name> <nlines>  then nlines lines "| <text>": a JSON document
                        (lines joined with '\\n', no trailing newline)
  snode <name> <op> <wmat id or ->      a node of the scale-file test
  scalefile <method> <device> <name of the file block with the expected text>
"""
import argparse
import json
import math
import random
import struct
import sys

import torch

SEED = 20260422
BF16 = torch.bfloat16

# ----------------------------------------------------------------- INC constants

FULLSCALE = {"gaudi2": 240.0, "gaudi3": 448.0}


def get_fullscale(device, exp_bias=None):
    default_bias = 7  # 2 ** (4 - 1) - 1 for E4M3
    fs = FULLSCALE[device]
    b = default_bias if exp_bias is None else exp_bias
    return float(fs * (2 ** (default_bias - b)))


EXP_BIAS_SETS = {"gaudi2": [3, 7, 11, 15], "gaudi3": list(range(0, 63))}
HW_SCALES = {d: [get_fullscale(d, b) / get_fullscale(d) for b in EXP_BIAS_SETS[d]] for d in FULLSCALE}
HW_TRAITS = {d: (min(HW_SCALES[d]), max(HW_SCALES[d]), {"gaudi2": 4, "gaudi3": 1}[d]) for d in FULLSCALE}
assert HW_SCALES["gaudi2"] == [16.0, 1.0, 1.0 / 16, 1.0 / 256]
assert HW_TRAITS["gaudi3"] == (2.0 ** -55, 128.0, 1)

# (granularity, value type, rounding, backoff) per INC.md 3.4 / scale_method_config.py
METHODS = [
    ("UNIT_SCALE", ("PTS", "FIXED", "UNIT", 1.0), ("PTS", "FIXED", "UNIT", 1.0), 0),
    ("HW_ALIGNED_SINGLE_SCALE", ("PTS", "FIXED", "HW_FIXED", 1.0), ("PTS", "FIXED", "HW_FIXED", 1.0), 0),
    ("MAXABS_HW", ("PTS", "MAXABS", "HW", 0.5), ("PTS", "MAXABS", "HW", 0.25), 0),
    ("MAXABS_POW2", ("PTS", "MAXABS", "POW2", 0.5), ("PTS", "MAXABS", "POW2", 0.25), 0),
    ("MAXABS_ARBITRARY", ("PTS", "MAXABS", "IDENTITY", 0.5), ("PTS", "MAXABS", "IDENTITY", 0.25), 0),
    ("MAXABS_HW_OPT_WEIGHT", ("PTS", "OPT", "HW", 0.5), ("PTS", "MAXABS", "HW", 0.25), 0),
    ("MAXABS_POW2_OPT_WEIGHT", ("PTS", "OPT", "POW2", 0.5), ("PTS", "MAXABS", "POW2", 0.25), 0),
    ("ACT_MAXABS_HW_WEIGHTS_PCS_MAXABS_POW2", ("PCS", "MAXABS", "POW2", 0.5), ("PTS", "MAXABS", "HW", 0.25), 0),
    ("ACT_MAXABS_HW_WEIGHTS_PCS_OPT_POW2", ("PCS", "OPT", "POW2", 0.5), ("PTS", "MAXABS", "HW", 0.25), 0),
    ("ACT_MAXABS_POW2_WEIGHTS_PCS_MAXABS_POW2", ("PCS", "MAXABS", "POW2", 0.5), ("PTS", "MAXABS", "POW2", 0.25), 0),
    ("ACT_MAXABS_POW2_WEIGHTS_PCS_OPT_POW2", ("PCS", "OPT", "POW2", 0.5), ("PTS", "MAXABS", "POW2", 0.25), 0),
    ("ACT_MAXABS_PCS_POW2_WEIGHT_MAXABS_PTS_POW2_HW", ("PTS", "MAXABS", "HW", 0.5), ("PCS", "MAXABS", "POW2", 0.5), 1),
    ("MAXABS_PCS_POW2", ("PCS", "MAXABS", "POW2", 0.5), ("PCS", "MAXABS", "POW2", 0.5), 1),
]
DEVICES = ["gaudi2", "gaudi3"]

# ----------------------------------------------------------------- INC formulas


def round_pow2(s):
    return torch.exp2(torch.ceil(torch.log2(s)))


def round_hw(s, device):
    p = round_pow2(s)
    lo, hi, f = HW_TRAITS[device]
    return torch.minimum(
        torch.maximum(2.0 ** (torch.ceil(torch.log2(p) / f) * f), torch.tensor(lo, dtype=s.dtype)),
        torch.tensor(hi, dtype=s.dtype),
    )


def round_scale(s, rounding, device):
    if rounding == "IDENTITY":
        return s
    if rounding == "POW2":
        return round_pow2(s)
    if rounding == "HW":
        return round_hw(s, device)
    if rounding == "HW_FIXED":
        return HW_SCALES[device][0]
    if rounding == "UNIT":
        return 1.0
    raise ValueError(rounding)


def calc_maxabs_scale(xmaxabs, fullscale, backoff):
    return xmaxabs / (fullscale * backoff)


def fixed_scale(cfg, device):
    return torch.tensor(round_scale(None, cfg[2], device), dtype=BF16)


def act_scale(values, cfg, device):
    """MaxAbsPts from a measurement, or FixedScale."""
    if cfg[1] == "FIXED":
        return fixed_scale(cfg, device)
    assert cfg[0] == "PTS" and cfg[1] == "MAXABS"
    m = torch.tensor(values, dtype=BF16).max()
    return round_scale(calc_maxabs_scale(m, get_fullscale(device), cfg[3]), cfg[2], device)


def cast_to_fp8(y, device):
    """cast_to_fp8_v2(y, None): GAUDI.md 3 host reference (RNE, saturate at 240 / 448)."""
    m = 240.0 if device == "gaudi2" else 448.0
    return torch.clamp(y.float(), -m, m).to(torch.float8_e4m3fn)


def mmse_scale(x, scales, device):
    opt_err = torch.ones(1, dtype=BF16) * torch.inf
    opt_scale = -1
    for s in scales:
        y = torch.div(x, s)
        y = cast_to_fp8(y, device)
        y = y.to(BF16)
        y = torch.mul(y, s)
        err = torch.norm(x - y)
        opt_scale = torch.where(err <= opt_err, s, opt_scale)
        opt_err = torch.where(err <= opt_err, err, opt_err)
    return opt_scale


def mmse_scale_multi(x, ref_scale, scales, device):
    nch = x.shape[-1]
    opt_err = torch.ones(nch, dtype=BF16) * torch.inf
    opt_scale = torch.ones(nch, dtype=BF16) * -1
    sum_axis = list(range(x.ndim - 1))
    rs = ref_scale.unsqueeze(dim=1).transpose(0, 1)
    for s in scales:
        sv = torch.ones(nch, dtype=BF16) * s
        xscales = rs * sv
        y = torch.div(x, xscales)
        y = cast_to_fp8(y, device)
        y = y.to(BF16)
        y = torch.mul(y, xscales)
        err = torch.sum((x - y) ** 2, dim=sum_axis)
        opt_scale = torch.where(err < opt_err, sv, opt_scale)
        opt_err = torch.where(err < opt_err, err, opt_err)
    return opt_scale * ref_scale


TINY = torch.tensor(torch.finfo(torch.bfloat16).tiny)


def maxabs_pcs(w, cfg, device, dim=1):
    m = torch.amax(torch.abs(w), dim=dim)
    s = calc_maxabs_scale(m, get_fullscale(device), cfg[3])
    s = torch.max(s, TINY)
    return round_scale(s.reshape([-1, 1]).flatten(), cfg[2], device)


def weight_scale(w, cfg, device, cands=None):
    """The out-channel weight scale tensor INC computes for W (BF16 [out][in]); cands: params weight_scales."""
    gran, vt, rounding, backoff = cfg
    if vt == "FIXED":
        return fixed_scale(cfg, device)
    if vt == "MAXABS" and gran == "PTS":
        m = torch.max(torch.abs(w.detach())).to(dtype=BF16)
        return round_scale(calc_maxabs_scale(m, get_fullscale(device), backoff), rounding, device)
    if vt == "MAXABS" and gran == "PCS":
        return maxabs_pcs(w, cfg, device)
    if vt == "OPT" and gran == "PTS":
        if cands is None:
            cands = HW_SCALES[device] if rounding == "HW" else [2.0 ** s for s in range(-10, 10)]
        return round_scale(mmse_scale(w, cands, device), rounding, device)
    if vt == "OPT" and gran == "PCS":
        ref = maxabs_pcs(w, cfg, device)
        if cands is None:
            cands = [2.0 ** s for s in range(-3, 5)]
        opt = mmse_scale_multi(torch.transpose(w, 0, 1), ref, cands, device).unsqueeze(1)
        return round_scale(opt, rounding, device).flatten()
    raise ValueError(cfg)


def token_scales(x, backoff, device):
    m = torch.amax(torch.abs(x), dim=-1, keepdim=True)
    s = calc_maxabs_scale(m, get_fullscale(device), backoff)
    s = torch.max(s, TINY)
    return round_pow2(s).flatten()


# ----------------------------------------------------------------- helpers


def f32hex(v):
    return "%08x" % struct.unpack("<I", struct.pack("<f", float(v)))[0]


def f64hex(v):
    return "%016x" % struct.unpack("<Q", struct.pack("<d", float(v)))[0]


def bf16hex_list(t):
    return ["%04x" % (v & 0xFFFF) for v in t.flatten().view(torch.int16).tolist()]


def scalars(t):
    """Float32 values of a scale tensor (or Python float) as a flat list."""
    if not isinstance(t, torch.Tensor):
        return [float(t)]
    return [float(v) for v in t.detach().float().flatten().tolist()]


def nan_canon(v):
    return float("nan") if v != v else v


class Writer:
    def __init__(self):
        self.lines = []

    def comment(self, s):
        self.lines.append("# " + s)

    def add(self, s):
        self.lines.append(s)

    def file(self, name, text):
        rows = text.split("\n")
        self.add("file %s %d" % (name, len(rows)))
        for r in rows:
            self.add("| " + r)


# ----------------------------------------------------------------- repr vectors


def repr_values(rng):
    vals = []
    pack = lambda b: struct.unpack("<d", struct.pack("<Q", b))[0]
    for _ in range(1500):
        x = pack(rng.getrandbits(64))
        if x == x and not math.isinf(x):
            vals.append(x)
    for _ in range(800):
        vals.append(struct.unpack("<f", struct.pack("<I", rng.getrandbits(16) << 16))[0])
        vals.append(struct.unpack("<f", struct.pack("<I", rng.getrandbits(32)))[0])
    vals = [v for v in vals if v == v and not math.isinf(v)]
    for e in list(range(-1074, -1000, 7)) + list(range(-60, 70)) + list(range(1000, 1024, 3)):
        x = 2.0 ** e
        vals += [x, pack(struct.unpack("<Q", struct.pack("<d", x))[0] + 1)]
        if e > -1074:
            vals.append(pack(struct.unpack("<Q", struct.pack("<d", x))[0] - 1))
    for k in list(range(-325, -300, 3)) + list(range(-8, 20)) + list(range(300, 309)):
        for m in ("1", "5", "9.999999999999999", "1.5", "123456789012345678", "0.3"):
            x = float("%se%d" % (m, k))
            if not math.isinf(x):
                vals.append(x)
    vals += [0.0, -0.0, 5e-324, 1.7976931348623157e308, 2.2250738585072014e-308, 113279762432.0, 2.640625, 1e16,
             1e-5, 1.5e16, 1e-4, 0.0001234, 9999999999999998.0, 1234567890123456.0, 12345678901234567.0,
             9007199254740993.0, 0.1, 0.2, 0.30000000000000004, 1 / 3, 2 / 3, 100.0, 1e22, 1e23, -1.5, -1e-7]
    out = []
    seen = set()
    for v in vals:
        h = f64hex(v)
        if h not in seen:
            seen.add(h)
            out.append(v)
    return out


# ----------------------------------------------------------------- POW2 exhaustive


def pow2_exceptions():
    bits = torch.arange(1, 0x7F80, dtype=torch.int32).to(torch.int16)
    s = bits.view(BF16)
    p = round_pow2(s).float()
    hw = {d: round_hw(s, d).float() for d in DEVICES}
    out = []
    for i, b in enumerate(range(1, 0x7F80)):
        f = struct.unpack("<f", struct.pack("<I", b << 16))[0]
        m, e = math.frexp(f)  # f = m * 2^e, 0.5 <= m < 1
        k = e - 1 if m == 0.5 else e  # ceil(log2 f)
        exact = 2.0 ** k if k <= 127 else float("inf")
        got = float(p[i])
        exp_hw = {}
        for d in DEVICES:
            lo, hi, fac = HW_TRAITS[d]
            kk = math.ceil(k / fac) * fac
            v = 2.0 ** kk if kk <= 127 else float("inf")
            exp_hw[d] = min(max(v, lo), hi)
        if got != exact or any(float(hw[d][i]) != exp_hw[d] for d in DEVICES):
            out.append("pow2x %04x %s %s %s" % (b, f32hex(got), f32hex(float(hw["gaudi2"][i])),
                                                 f32hex(float(hw["gaudi3"][i]))))
    return out


# ----------------------------------------------------------------- inputs


def entries():
    """Measurement entries: lists of channel values (doubles as INC's JSON holds them)."""
    inf, nan = float("inf"), float("nan")
    single = [0.0, -0.0, 2.0 ** -133, 3 * 2.0 ** -133, 2.0 ** -127, 2.0 ** -126, 1e-38, 1e-30, 1e-10, 1e-5,
              0.00390625, 0.0625, 0.5, 1.0, 2.0, 3.4, 3.156, 3.15625, 2.640625, 11.06, 11.0625, 40.75, 95.5, 1000.0,
              60.0, 60.0 * (1 + 2 ** -7), 60.0 * (1 - 2 ** -8), 112.0, 3840.0, 3841.0, 14336.0, 57344.0, 1e10,
              113279762432.0, 3.9669147999206083e+36, 3.3e38, 3.3895313892515355e38, 3.4e38, 1e39, 1e300, inf, -inf,
              nan, -1.0, 1.00390625 + 2 ** -40, 1.00390625, 1.01171875, 7.0 + 2 ** -20]
    for k in range(-30, 30, 3):
        for f in (1.0, 1 + 2 ** -7, 1 - 2 ** -8, 1 + 2 ** -10, 1.5):
            single.append(2.0 ** k * f)
    out = [[v] for v in single]
    out += [[3.5, 0.0, 7.25], [0.0, 0.0], [1.0, nan, 2.0], [inf, 1.0], [0.125, 0.25, 0.375, 0.5, 1e-3],
            [2.0 ** -140, 2.0 ** -135], [100.0, 200.0, 300.0, 400.0]]
    return out


def weight_matrices(gen):
    def bf(t):
        return t.to(BF16)

    mats = []
    for rows, cols, sigma in [(1, 1, 1.0), (1, 7, 0.02), (4, 16, 0.05), (8, 32, 0.02), (8, 64, 1.0), (3, 48, 30.0),
                              (6, 20, 1e-3), (4, 33, 300.0), (2, 128, 0.01), (5, 9, 4.0)]:
        mats.append(bf(torch.randn(rows, cols, generator=gen, dtype=torch.float64) * sigma))
    w = torch.randn(8, 32, generator=gen, dtype=torch.float64) * 0.02
    w[2, 5] = 3.5  # outlier
    w[6, :] = 0.0  # zero row
    mats.append(bf(w))
    mats.append(bf(torch.zeros(4, 8, dtype=torch.float64)))
    w = torch.randn(4, 12, generator=gen, dtype=torch.float64)
    w[1, :] = 2.0 ** -130  # BF16 subnormals
    w[2, :] *= 1e-36
    mats.append(bf(w))
    mats.append(bf(torch.randint(-8, 9, (6, 10), generator=gen, dtype=torch.int64).double()))  # on the FP8 grid
    mats.append(bf(torch.randn(4, 16, generator=gen, dtype=torch.float64) * 3000.0))  # beyond 240 / 448
    mats.append(bf(torch.randn(3, 10, generator=gen, dtype=torch.float64) * 1e6))
    mats.append(bf(torch.tensor([[0.75, -1.5, 240.0, 448.0, -480.0, 2.0 ** -9, 2.0 ** -10, 1.0 / 3]],
                                dtype=torch.float64)))
    for v in (1.0, 2.0 ** -20, 1024.0, 0.1):
        mats.append(bf(torch.full((1, 1), v, dtype=torch.float64)))
    w = torch.randn(4, 8, generator=gen, dtype=torch.float64)
    w[0, 3] = float("nan")
    mats.append(bf(w))
    w = torch.randn(16, 24, generator=gen, dtype=torch.float64)
    w = w * torch.logspace(-4, 3, 16, dtype=torch.float64).unsqueeze(1)  # rows of very different scales
    mats.append(bf(w))
    for _ in range(6):
        rows = int(torch.randint(1, 10, (1,), generator=gen))
        cols = int(torch.randint(1, 40, (1,), generator=gen))
        sig = float(10.0 ** (torch.rand(1, generator=gen, dtype=torch.float64) * 8 - 5))
        mats.append(bf(torch.randn(rows, cols, generator=gen, dtype=torch.float64) * sig))
    return mats


def token_matrices(gen):
    mats = []
    x = torch.randn(8, 32, generator=gen, dtype=torch.float64)
    x = x * torch.logspace(-6, 6, 8, dtype=torch.float64).unsqueeze(1)
    mats.append(x.to(BF16))
    x = torch.randn(6, 16, generator=gen, dtype=torch.float64)
    x[1, :] = 0.0
    x[2, 4] = float("nan")
    x[3, 7] = float("inf")
    x[4, :] = 2.0 ** -133
    x[5, :] *= 1e-38
    mats.append(x.to(BF16))
    x = torch.tensor([[60.0, -1.0], [120.0, 0.5], [3.4e38, 1.0], [224.0, 0.0], [112.0, 0.0], [0.9375, 0.0]],
                     dtype=torch.float64)
    mats.append(x.to(BF16))
    return mats


# ----------------------------------------------------------------- files

MEAS_NODES = [
    ("model.layers.0.self_attn.qkv_proj", "linear", 2, {"inputs": [[[40.75]]], "params": {"weight": [[2.0]]}}),
    ("model.layers.0.self_attn.o_proj", "linear", 10,
     {"inputs": [[[11.0625]]], "outputs": [[[68.0]], [[113279762432.0]]], "params": {"weight": [[3.15625]]}}),
    ("model.layers.0.self_attn.attn.impl.matmul_qk", "matmul", None, {"inputs": [[[2.640625]], [[95.5]]]}),
    ("model.layers.0.self_attn.attn.impl.softmax", "softmax", None,
     {"inputs": [[[float("inf")]]], "outputs": [[[1.0]]]}),
    ("model.layers.0.self_attn.attn.impl.matmul_av", "matmul", None, {"inputs": [[[1.0]], [[11.0625]]]}),
    ("model.layers.0.self_attn.attn.impl.k_cache", "kv_cache", None, {"inputs": [[[95.5]]]}),
    ("model.layers.0.self_attn.attn.impl.v_cache", "kv_cache", None, {"inputs": [[[3.4]]]}),
    ("model.layers.0.mlp.gate_up_proj", "linear", 3,
     {"inputs": [[[3.5], [0.0], [7.25]]], "params": {"weight": [[0.5]]}}),
    ("model.layers.0.mlp.down_proj", "linear", 13, {"inputs": [[[1000.0]]], "params": {"weight": [[8.0]]}}),
    ("model.layers.1.self_attn.qkv_proj", "linear", 6, {"inputs": [[[float("inf")]]], "params": {"weight": [[1.0]]}}),
    ("lm_head", "linear", 5, {"inputs": [[[0.0]]], "params": {"weight": [[4.5]]}}),
]


def scale_node(op, meas, w, method, device):
    _, wcfg, acfg, _ = method
    if op == "linear":
        s_x = act_scale(meas["inputs"][0], acfg, device)
        ich = None
        rescaled = w
        if wcfg[0] == "PCS" and wcfg[1] in ("MAXABS", "OPT"):
            ich = torch.ones([w.shape[1], 1], dtype=BF16).flatten()
            rescaled = torch.div(w, ich.reshape([1, -1]))
        och = weight_scale(rescaled, wcfg, device)
        params = {"weight": och} if ich is None else {"weight": {0: och, 1: ich}}
        if acfg[1] == "FIXED":
            out = fixed_scale(acfg, device)
        else:
            out = och * s_x
        d = {"inputs": [s_x], "outputs": (out,), "params": params}
    elif op == "matmul":
        s = [act_scale(meas["inputs"][i], acfg, device) for i in range(2)]
        d = {"inputs": s, "outputs": (s[0] * s[1],), "params": {}}
    elif op == "kv_cache":
        s = act_scale(meas["inputs"][0], acfg, device)
        d = {"inputs": [s], "outputs": [s], "params": {}}
    else:
        s = act_scale(meas["outputs"][0], acfg, device)
        d = {"inputs": (), "outputs": (s,), "params": {}}

    def rec(x):  # common.rec_fn with format_functions[(torch.Tensor, list)]
        if isinstance(x, dict):
            return {k: rec(x[k]) for k in x}
        if isinstance(x, list):
            return [rec(k) for k in x]
        if isinstance(x, tuple):
            return tuple(rec(k) for k in x)
        return x.detach().cpu().float().numpy().tolist()

    return rec(d)


def fix_cache_inputs(json_data):
    """INC fq/scripts/postprocessing_vllm_measurements.py, as published."""
    for layer_index in range(len(json_data["Nodes"])):
        matmul_av_input = None
        v_cache_input = None
        matmul_qk_input = None
        k_cache_input = None
        for node_name, node_info in json_data["Nodes"].items():
            if f"model.layers.{layer_index}.self_attn.attn.impl.matmul_av" in node_name:
                matmul_av_input = node_info["inputs"][1]
            if f"model.layers.{layer_index}.self_attn.attn.impl.v_cache" in node_name:
                v_cache_input = node_info["inputs"][0]
            if f"model.layers.{layer_index}.self_attn.attn.impl.matmul_qk" in node_name:
                matmul_qk_input = node_info["inputs"][1]
            if f"model.layers.{layer_index}.self_attn.attn.impl.k_cache" in node_name:
                k_cache_input = node_info["inputs"][0]
        if matmul_av_input != v_cache_input:
            json_data["Nodes"][f"model.layers.{layer_index}.self_attn.attn.impl.matmul_av"]["inputs"][1] = v_cache_input
        if matmul_qk_input != k_cache_input:
            json_data["Nodes"][f"model.layers.{layer_index}.self_attn.attn.impl.matmul_qk"]["inputs"][1] = k_cache_input
    return json_data


def unify_group(texts, group_index, groups_num, scales):
    """vllm-gaudi calibration/step-5-unify_measurements.py unify_measurements (use_ep False)."""
    measurements_jsons = [json.loads(t)["Nodes"] for t in texts]
    unified_json = json.loads(texts[0])
    unified_json["LocalRank"] = group_index if groups_num != 1 else -1
    for node_name, node_values in unified_json["Nodes"].items():
        max_inputs = node_values["inputs"]
        max_outputs = None
        if node_values.get("outputs") is not None:
            max_outputs = node_values["outputs"]
        max_weight = None
        if node_values.get("params") is not None and node_values["params"].get("weight") is not None:
            max_weight = node_values["params"]["weight"]
        if scales:
            for idx, measurement_json in enumerate(measurements_jsons):
                for i in range(0, len(max_inputs)):
                    max_inputs[i] = max(measurement_json[node_name]["inputs"][i], max_inputs[i])
                if max_outputs is not None:
                    max_outputs = max(measurement_json[node_name]["outputs"], max_outputs)
                if max_weight is not None:
                    max_weight = max(measurement_json[node_name]["params"]["weight"], max_weight)
        else:
            for idx, measurement_json in enumerate(measurements_jsons):
                for i in range(0, len(max_inputs)):
                    for j in range(0, len(max_inputs[i])):
                        max_inputs[i][j][0] = max(measurement_json[node_name]["inputs"][i][j][0], max_inputs[i][j][0])
                if max_outputs is not None:
                    for i in range(0, len(max_outputs)):
                        max_outputs[i][0] = max(measurement_json[node_name]["outputs"][i][0], max_outputs[i][0])
                if max_weight is not None:
                    for i in range(0, len(max_weight)):
                        max_weight[i][0] = max(measurement_json[node_name]["params"]["weight"][i][0], max_weight[i][0])
        if scales:
            for i in range(0, len(max_inputs)):
                unified_json["Nodes"][node_name]["inputs"][i] = max_inputs[i]
            if max_outputs is not None:
                unified_json["Nodes"][node_name]["outputs"] = max_outputs
            if max_weight is not None:
                unified_json["Nodes"][node_name]["params"]["weight"] = max_weight
        else:
            for i in range(0, len(max_inputs)):
                for j in range(0, len(max_inputs[i])):
                    unified_json["Nodes"][node_name]["inputs"][i][j][0] = max_inputs[i][j][0]
            if max_outputs is not None:
                for i in range(0, len(max_outputs)):
                    unified_json["Nodes"][node_name]["outputs"][i][0] = max_outputs[i][0]
            if max_weight is not None:
                for i in range(0, len(max_weight)):
                    unified_json["Nodes"][node_name]["params"]["weight"][i][0] = max_weight[i][0]
    return json.dumps(unified_json, indent=4)


# ----------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/fixtures/inc_scales.txt")
    args = ap.parse_args()
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    gen = torch.Generator().manual_seed(SEED)
    w = Writer()
    w.comment("fp8q golden fixtures for INC scales, measurement files and float repr")
    w.comment("generated by tools/gen_inc_fixtures.py (seed %d); do not edit by hand" % SEED)
    w.comment("generator versions: python %s torch %s" % (sys.version.split()[0], torch.__version__))
    w.comment("formats and formulas: see the generator's docstring")

    reprs = repr_values(rng)
    w.comment("float.__repr__ vectors: repr <f64> <text>")
    for v in reprs:
        w.add("repr %s %s" % (f64hex(v), repr(v)))

    w.comment("POW2 / HW_ALIGNED exceptions to the exact rule over all positive finite BF16 values")
    pw = pow2_exceptions()
    for line in pw:
        w.add(line)

    ents = entries()
    n_act = 0
    w.comment("measurement entries and activation scales")
    for i, e in enumerate(ents):
        w.add("entry %d %d %s" % (i, len(e), " ".join(f64hex(v) for v in e)))
    for name, wc, ac, dyn in METHODS:
        if ac[0] == "PCS":
            continue
        for dev in DEVICES:
            for i, e in enumerate(ents):
                s = scalars(act_scale([[v] for v in e], ac, dev))
                w.add("act %s %s %d %s" % (name, dev, i, f32hex(nan_canon(s[0]))))
                n_act += 1

    mats = weight_matrices(gen)
    w.comment("weight matrices (BF16) and weight scales")
    for i, m in enumerate(mats):
        w.add("wmat %d %d %d" % (i, m.shape[0], m.shape[1]))
        for r in range(m.shape[0]):
            w.add("wrow " + " ".join(bf16hex_list(m[r])))
    n_w = 0
    n_wvals = 0
    for name, wc, ac, dyn in METHODS:
        for dev in DEVICES:
            for i, m in enumerate(mats):
                s = scalars(weight_scale(m, wc, dev))
                w.add("wscale %s %s %d %d %s" % (name, dev, i, len(s), " ".join(f32hex(nan_canon(v)) for v in s)))
                n_w += 1
                n_wvals += len(s)

    w.comment("OPT weight scales with the dict form's params weight_scales: wscalec <method> <device> <wmat> "
              "<ncand> <f64> x ncand <n> <f32> x n")
    custom = {"PTS": [[0.5, 0.25, 0.125, 3.0], [1.0 / 64, 2.0 ** -20, 100.0]],
              "PCS": [[1.0, 0.3, 2.0], [4.0, 0.5, 0.0625, 1.5]]}
    n_wc = 0
    for name, wc, ac, dyn in METHODS:
        if wc[1] != "OPT":
            continue
        for dev in DEVICES:
            for i, m in enumerate(mats[:12]):
                for cl in custom[wc[0]]:
                    s = scalars(weight_scale(m, wc, dev, cl))
                    w.add("wscalec %s %s %d %d %s %d %s" % (name, dev, i, len(cl), " ".join(f64hex(c) for c in cl),
                                                           len(s), " ".join(f32hex(nan_canon(v)) for v in s)))
                    n_wc += 1

    toks = token_matrices(gen)
    w.comment("dynamic per-token activation scales (POW2)")
    for i, m in enumerate(toks):
        w.add("tmat %d %d %d" % (i, m.shape[0], m.shape[1]))
        for r in range(m.shape[0]):
            w.add("trow " + " ".join(bf16hex_list(m[r])))
    n_tok = 0
    for dev in DEVICES:
        for backoff in (0.5, 1.0):
            for i, m in enumerate(toks):
                s = scalars(token_scales(m, backoff, dev))
                w.add("token %s %s %d %d %s" % (dev, f32hex(backoff), i, len(s),
                                                " ".join(f32hex(nan_canon(v)) for v in s)))
                n_tok += len(s)

    # measurement file and the scale files INC writes from it
    nodes = {}
    for name, op, wid, d in MEAS_NODES:
        nodes[name] = d
    meas = {"NumSamples": 4, "GlobalRank": None, "LocalRank": 0, "Mode": "DynamicRange", "Nodes": nodes}
    w.comment("scale files: measurement 'meas' + snode list -> expected Scale JSON per static method and device")
    w.file("meas", json.dumps(meas, indent=4))
    for name, op, wid, d in MEAS_NODES:
        w.add("snode %s %s %s" % (name, op, "-" if wid is None else str(wid)))
    n_sf = 0
    for mi, method in enumerate(METHODS):
        if method[3]:
            continue
        for dev in DEVICES:
            sn = {}
            for name, op, wid, d in MEAS_NODES:
                sn[name] = scale_node(op, d, None if wid is None else mats[wid], method, dev)
            doc = {"GlobalRank": None, "LocalRank": 0, "Mode": "Scale", "Nodes": sn}
            fname = "scale_%d_%s" % (mi, dev)
            w.file(fname, json.dumps(doc, indent=4))
            w.add("scalefile %s %s %s" % (method[0], dev, fname))
            n_sf += 1

    # step 3: KV post-processing (INC's script writes json.dump without indent)
    inf = float("inf")
    pp = {"GlobalRank": None, "LocalRank": 1, "Mode": "DynamicRange", "Nodes": {}}
    for L, (kq, kc, va, vc) in enumerate([(95.5, 96.0, 11.0625, 12.5), (4.0, 4.0, 2.0, 2.0), (1.5, inf, 3.0, 0.25)]):
        p = "model.layers.%d.self_attn." % L
        pp["Nodes"][p + "qkv_proj"] = {"inputs": [[[40.75]]], "params": {"weight": [[2.0]]}}
        pp["Nodes"][p + "attn.impl.matmul_qk"] = {"inputs": [[[2.640625]], [[kq]]]}
        pp["Nodes"][p + "attn.impl.softmax"] = {"inputs": [[[inf]]], "outputs": [[[1.0]]]}
        pp["Nodes"][p + "attn.impl.matmul_av"] = {"inputs": [[[1.0]], [[va]]]}
        pp["Nodes"][p + "attn.impl.k_cache"] = {"inputs": [[[kc]]]}
        pp["Nodes"][p + "attn.impl.v_cache"] = {"inputs": [[[vc], [vc / 2]]]}
    pp_text = json.dumps(pp, indent=4)
    w.comment("step 3: pp_in -> pp_out (INC's fix_cache_inputs, json.dump without indent)")
    w.file("pp_in", pp_text)
    w.file("pp_out", json.dumps(fix_cache_inputs(json.loads(pp_text))))

    # step 5: unify W = 4 -> R = 2 (measurements) and W = 2 -> R = 1 (scales)
    nan = float("nan")
    rng2 = random.Random(SEED + 5)
    u_texts = []
    for r in range(4):
        nd = {}
        for L in range(2):
            p = "model.layers.%d.self_attn." % L
            val = lambda: float(torch.tensor(rng2.uniform(0, 100)).to(BF16))
            nd[p + "qkv_proj"] = {"inputs": [[[val()], [val()], [val()]]],
                                  "params": {"weight": [[val()], [val()]]}}
            nd[p + "o_proj"] = {"inputs": [[[val()]]], "outputs": [[[val()]], [[val() * 1e9]]],
                                "params": {"weight": [[val()]]}}
            nd[p + "attn.impl.softmax"] = {"inputs": [[[inf if r != 2 else nan]]], "outputs": [[[1.0]]]}
            nd[p + "attn.impl.k_cache"] = {"inputs": [[[nan if (r == 1 and L == 0) else val()]]]}
        d = {"GlobalRank": None, "LocalRank": r, "Mode": "DynamicRange", "Nodes": nd}
        if r == 0:
            d = {"NumSamples": 7, **d}
        u_texts.append(json.dumps(d, indent=4))
    w.comment("step 5: u_in0..3 (world 4) -> u_out0..1 (R = 2); s_in0..1 (scales, world 2) -> s_out0 (R = 1)")
    for r in range(4):
        w.file("u_in%d" % r, u_texts[r])
    for g in range(2):
        w.file("u_out%d" % g, unify_group(u_texts[2 * g:2 * g + 2], g, 2, False))
    s_texts = []
    for r in range(2):
        nd = {"model.layers.0.self_attn.attn.impl.matmul_qk": {"inputs": [0.0625 * (r + 1), 1.0 - r * 0.5],
                                                               "outputs": [0.0625 * (r + 1) * (1.0 - r * 0.5)],
                                                               "params": {}},
              "model.layers.0.self_attn.qkv_proj": {"inputs": [0.25 * (2 - r)], "outputs": [0.25 * (2 - r) * 0.0625],
                                                    "params": {"weight": 0.0625}}}
        s_texts.append(json.dumps({"GlobalRank": None, "LocalRank": r, "Mode": "Scale", "Nodes": nd}, indent=4))
    for r in range(2):
        w.file("s_in%d" % r, s_texts[r])
    w.file("s_out0", unify_group(s_texts, 0, 1, True))

    w.comment("counts: repr %d, pow2x %d, act %d, wscale lines %d (%d values), wscalec %d, token values %d, "
              "scale files %d" % (len(reprs), len(pw), n_act, n_w, n_wvals, n_wc, n_tok, n_sf))
    with open(args.out, "w") as f:
        f.write("\n".join(w.lines) + "\n")
    print("wrote %s: repr %d, pow2x %d, act %d, wscale %d lines (%d values), wscalec %d, token values %d, "
          "scale files %d" % (args.out, len(reprs), len(pw), n_act, n_w, n_wvals, n_wc, n_tok, n_sf))


if __name__ == "__main__":
    main()
