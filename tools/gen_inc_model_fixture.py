#!/usr/bin/env python3
r"""Reference logits for the INC-quantized (Intel Neural Compressor, FP8)
fixture model, computed in float32 torch from INC's formulas.

Purpose
=======
Acceptance of fp8q's INC issue: "the INC-quantized fixture model's logits
match a reference computed in Python/torch from INC's formulas (the same
scales, FP8 Linear inputs and weights, FP8 QK/AV matmuls and KV cache)
within a documented tolerance".  This script

  1. writes the two QUANT_CONFIG files and tokens.txt, and runs fp8q's INC
     MEASURE and QUANTIZE steps (the CLI, build/fp8q) on the float model
     tests/fixtures/llama/tiny-gqa-bf16, which write the measurement file
     and the Gaudi2 / Gaudi3 scale files into tests/fixtures/inc_model/
     (skipped with --no-fp8q: the files already there are used);
  2. recomputes every scale independently in Python, from the measurement
     file and the actual BF16 weights, with INC's scale math as implemented
     in tools/gen_inc_fixtures.py (shared/spec/INC.md sections 3 and 4.2),
     and demands that fp8q's scale files hold exactly those numbers
     (float32 bit patterns) and exactly the text that json.dumps(indent=4)
     of INC's scale dict gives;
  3. computes the reference logits (float32 torch, the formulas below) for
     both devices and writes ref_gaudi2.safetensors / ref_gaudi3.safetensors;
  4. reports how far the reference is from the float32 model, and how close
     the FP8 codes come to FP8 rounding boundaries (the tolerance argument);
  5. unless --no-fp8q: runs `fp8q logits ... --inc-config ... --gemm
     reference --threads 1`, and again with fp8q's default GEMM and
     threads, for both devices and compares.
Exit status 1 when a scale differs, when the float32 self-check fails or
when an fp8q comparison exceeds TOLERANCE (the fixture files are written
anyway).

How to run (from the repository root)
=====================================
    make build/fp8q
    CUDA_VISIBLE_DEVICES="" /work/venv-fixtures/bin/python \
        tools/gen_inc_model_fixture.py            # [--no-fp8q] [--fp8q PATH]

Needs torch (CPU), safetensors, numpy (tools/requirements-fixtures.txt; the
venv of tools/gen_model_fixtures.py); transformers is not needed.  One CPU
thread, torch.use_deterministic_algorithms(True), no time stamps, no paths
in the outputs: running it twice gives byte-identical files (fp8q's
measure / quantize outputs are deterministic too).  Takes a few seconds.

Files (tests/fixtures/inc_model/)
=================================
  measure_config.json        QUANT_CONFIG of the MEASURE step:
                             {"mode": "MEASURE", "observer": "maxabs",
                              "measure_exclude": "NONE", "dump_stats_path":
                              "tests/fixtures/inc_model/inc"}
  quant_config.json          QUANT_CONFIG of the QUANTIZE step:
                             {"mode": "QUANTIZE", "scale_method": "maxabs_hw",
                              "dump_stats_path": "tests/fixtures/inc_model/inc"}
                             (dump_stats_path changes no scale; it is there so
                             that the config names the measurements where INC's
                             QUANTIZE looks for them (<dump_stats_path>_hooks_
                             maxabs_0_1.npz), and because without it fp8q
                             warns that INC's os.makedirs('') fails for the
                             default "stats")
  inc_hooks_maxabs_0_1.json  the measurement file written by
  inc_hooks_maxabs_0_1_mod_list.json   `fp8q inc measure` (19 modules)
                             over the 8 x 16 calibration sequences
                             `calib_tokens` of
                             tests/fixtures/llama/tiny-gqa-fp8-static-kv/ref.safetensors
  scales_gaudi2.json         `fp8q inc quantize --device gaudi2|gaudi3 --out`
  scales_gaudi3.json         ("Mode": "Scale"; INC itself would name both
                             inc_hooks_maxabs_MAXABS_HW_0_1.json)
  tokens.txt                 the 16 token ids, comma-separated (the `tokens`
                             of tests/fixtures/llama/tiny-gqa-bf16/ref.safetensors)
  ref_gaudi2.safetensors     `tokens` I32 [16], `logits` F32 [16, 160]; the
  ref_gaudi3.safetensors     header metadata (sorted keys) has description,
                             device, fullscale, versions, distance to FP32

Commands the script runs (repository root as working directory):
    build/fp8q inc measure tests/fixtures/llama/tiny-gqa-bf16 \
        --config tests/fixtures/inc_model/measure_config.json \
        --calib tests/fixtures/llama/tiny-gqa-fp8-static-kv/ref.safetensors \
        --threads 1
    build/fp8q inc quantize tests/fixtures/llama/tiny-gqa-bf16 \
        --config tests/fixtures/inc_model/quant_config.json \
        --measurements tests/fixtures/inc_model/inc_hooks_maxabs_0_1.json \
        --device gaudi2 --out tests/fixtures/inc_model/scales_gaudi2.json
        (and gaudi3)
    build/fp8q logits tests/fixtures/llama/tiny-gqa-bf16 --tokens $(cat tokens.txt) \
        --out X.bin --inc-config tests/fixtures/inc_model/quant_config.json \
        --inc-measurements tests/fixtures/inc_model/inc_hooks_maxabs_0_1.json \
        --device gaudi2 --gemm reference --threads 1      (and gaudi3; then
        once more without --gemm / --threads)

Scale verification (INC.md 3.1-3.5, 4.2)
========================================
Method MAXABS_HW: weights PTS MAXABS HW_ALIGNED backoff 0.5, activations
PTS MAXABS HW_ALIGNED backoff 0.25; fullscale 240 (Gaudi2) / 448 (Gaudi3);
every intermediate in BF16 (3.5): s = HW_ALIGNED(bf16(max) / (fullscale *
backoff)), HW_ALIGNED = min(max(2^(ceil(log2(POW2(s)) / f) * f), lo), hi)
with G2 f=4, [2^-8, 16], G3 f=1, [2^-55, 128].  Per op (4.2): linear
s_x <- inputs[0], s_w <- max|W| of the ACTUAL BF16 weight (qkv_proj = the
concatenation of q/k/v_proj, gate_up_proj = gate/up_proj, lm_head = the tied
embed_tokens); outputs [s_x * s_w]; matmul [s0, s1] <- inputs[0..1], outputs
[s0 * s1]; kv_cache [s] <- inputs[0], outputs [s]; softmax inputs [],
outputs [s_out] <- outputs[0].  The functions act_scale / weight_scale /
scale_node of tools/gen_inc_fixtures.py are imported (not copied), so this
check and tests/fixtures/inc_scales.txt share one implementation of INC's
math, written from INC's code and not from fp8q.h.

As an extra, informational check (it does not fail the run), the
measurement file is compared with maxabs values observed here in a float32
forward over the same calibration sequences (bf16(max |x|), RNE), and
params.weight with bf16(max |W|).  All 32 entries the scales use agree.
Note: fp8q measures lm_head's input on the LAST position of each
calibration sequence only (3.0625; over all positions it would be 3.9375),
as vLLM does, whose logits processor runs lm_head on the sampled positions
only; this changes lm_head's s_x (G2 1/16 instead of 1, G3 1/32 instead of
1/16).

Reference forward (float32), INC semantics per op
=================================================
F = 240 (Gaudi2) or 448 (Gaudi3) (INC.md 3.2; the use_qdq / host reference
clamp of GAUDI.md).  cast(x, s) = float8_e4m3fn RNE of clamp(x * (1/s), -F,
F), 1/s computed in float32 (INC.md 3.1 "Quantize": cast_to_fp8_v2 is
given 1/s, multiplies, rounds RNE).  In torch:
    (x * (1/s)).clamp(-F, F).to(torch.float8_e4m3fn).float()
All scales here are powers of two, so x * (1/s), the products q8 * k8 and
the scalings by s are exact in float32 (no subnormals occur); only sums,
exp, rsqrt, sin / cos and SiLU round.  No value reaches +-F on these tokens
(the clamp never acts).

  * Embedding, RMSNorm (x * rsqrt(mean(x^2) + eps), times the weight), RoPE
    (llama3 inv_freq, x * cos + rotate_half(x) * sin), SiLU (torch's silu,
    as transformers' LlamaMLP: silu(gate) * up), residual adds: float32, as
    transformers' LlamaForCausalLM.  With every cast switched off (and
    torch.softmax in place of the spelled-out softmax below, as transformers'
    eager attention) this forward reproduces the FP32 logits of
    tests/fixtures/llama/tiny-gqa-bf16/ref.safetensors bit for bit; checked
    on every run.
  * Linear (qkv_proj, o_proj, gate_up_proj, down_proj, lm_head; INC.md 3.1
    "GEMM", 4.2 "linear"): x8 = cast(x, s_x); W8 = cast(bf16(W), s_w);
    y = ((x8 @ W8^T) * s_x) * s_w.  q/k/v share qkv_proj's s_x and s_w and
    gate/up share gate_up_proj's (vLLM's fused modules); lm_head uses the
    tied embedding.  No bias.
  * KV cache (fp8_inc; INC.md 4.2 "kv_cache": writes q(k, s), returns
    dq(., s)): after RoPE the new rows are stored as cast(k, s_kcache) /
    cast(v, s_vcache) and read back as value * s.  Every position,
    including the current one, is read from the cache (one forward of 16
    tokens from position 0).
  * matmul_qk (INC.md 3.1 "GEMM", 4.2 "matmul"): q_hat = cast(q *
    head_dim^-0.5, s0) (the query is scaled BEFORE the cast), k_hat =
    cast(k_from_cache, s1) (a second cast of the dequantized cached K; INC.md
    4.2 "In decode, K and V are rounded twice"), scores = ((q_hat @ k_hat^T)
    * s0) * s1; causal mask (-inf); softmax in float32: exp(s - max) / sum
    (a true division).
  * softmax output (INC.md 4.2 "softmax": the kernel receives 1/s_out):
    p_hat = cast(p, s_out) * s_out.
  * matmul_av: out = ((cast(p_hat, a0) @ cast(v_from_cache, a1)) * a0) * a1.
  * GQA: kv head = head // (heads / kv_heads).

Unconfirmed points (public code cannot settle them; fp8q and this reference
make the same choices):
  * Where the softmax output is dequantized.  INC's patched softmax gets
    1/s_out and returns FP8; here it is taken straight back to float32
    (p_hat = cast(p, s_out) * s_out) and cast again by matmul_av with a0.
    On the device the FP8 softmax output might instead go to matmul_av
    directly.
  * That the query is multiplied by head_dim^-0.5 before matmul_qk's cast
    (vLLM's HPU attention scales q before calling matmul_qk; the measured
    matmul_qk inputs[0] of the fixture, 1.1953125 ~ 4.78 * 0.25, agrees).
  * That the current position's K / V are read back from the FP8 cache in
    prefill (vLLM's HPU prefill may use the fresh K / V).
  * The device cast is emulated by the host reference: clamp to +-F, RNE.
  * Attention and all non-GEMM ops run in float32 here; on Gaudi they run
    in BF16 (hp_dtype).  This reference is the float32 emulation that fp8q
    implements, not a bit-exact model of the device.
This fixture CANNOT tell the first three apart (the "sensitivity" lines of
the summary: switching each one changes no logit bit), because INC's own
scale assignment makes them lossless: a0 == s_out (both from the softmax
output's max, 1.0), s1 == s_kcache and a1 == s_vcache (the same tensors are
measured; calibration step 3 enforces it), a second cast of an on-grid
value with the same power-of-two scale is exact, and scaling by 0.25 before
or after an E4M3 cast only matters in the subnormal range or at the clamp.
What the fixture does pin down: FP8 Linear inputs (changing it moves the
logits by ~8e-2 relative), FP8 weights (~0.17), FP8 matmul_qk / matmul_av
inputs (~0.09-0.11), the scales themselves and every code (one flipped code
moves the logits by up to ~0.09).

Tolerance (derived; TOLERANCE below)
====================================
Metric: max |logits_impl - logits_ref| / max |logits_ref| over all 16 x 160
logits, per device.  TOLERANCE = 1e-5.

Both sides evaluate the same formulas in float32 with the same scales; they
may differ only in (a) the summation order of dot products and (b) libm vs
torch/SLEEF exp, rsqrt, sin, cos (~1 ulp each).  While every FP8 code
agrees, the logits are the lm_head GEMM of identical FP8 operands times
power-of-two scales, so they differ only by that GEMM's summation order:
measured 2.65e-8 (G2) / 1.33e-8 (G3) relative between torch's float32 GEMM
and exactly summed dot products (float64, rounded once), and the same
figures for fp8q's default (blocked) GEMM.  An FP8 code flips only when a
value lands within float rounding of an E4M3 rounding boundary (the midpoint
between two codes) and the two sides round to different codes; measured
here:
  * exact ties (values exactly on a midpoint, 25 on G2 / 19 on G3) occur only
    at o_proj's input, an exact sum of FP8 products times power-of-two
    scales: the same value in any summation order, so RNE decides them the
    same way everywhere;
  * otherwise the closest value is 1.18e-6 relative (13 float32 ulps) from a
    boundary (layer 0 qkv_proj input = input RMSNorm output, token 9,
    element 11); 6 (G2) / 8 (G3) values are within 1e-5 relative (RMSNorm,
    q * 0.25 after RoPE, softmax output, SiLU * up, K after RoPE), the
    others all >= ~35 ulps away; the exact-sum rerun changes no code;
  * one flipped code moves the logits by 0 (absorbed by later casts) to
    8e-2 / 9e-2 relative (at least 1.5e-2 whenever it shows).
So a conforming float32 implementation agrees to ~3e-8 (no flips: its
pre-cast values are within a few ulps, far below the 13-ulp margin), and
any flip or any formula difference shows as >= ~1e-2.  1e-5 sits in that
gap with a factor ~400 above the no-flip noise (room for other GEMM orders,
FMA contraction, a different libm) and ~1000 below a flip.  An
implementation whose RMSNorm differs from torch by more than ~13 ulps at
that one element would flip it and fail by ~6e-2 / 9e-2: then compare the
codes, not the formula.  fp8q measured: 0 with --gemm reference --threads 1
(bit-identical), 2.65e-8 / 1.33e-8 with its default GEMM and threads.

Determinism: one CPU thread, torch.use_deterministic_algorithms(True).
"""
import argparse
import importlib.util
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_REL = "tests/fixtures/llama/tiny-gqa-bf16"
CALIB_REL = "tests/fixtures/llama/tiny-gqa-fp8-static-kv/ref.safetensors"
OUT_REL = "tests/fixtures/inc_model"
DUMP_REL = OUT_REL + "/inc"
MEAS_NAME = "inc_hooks_maxabs_0_1.json"
MODLIST_NAME = "inc_hooks_maxabs_0_1_mod_list.json"
DEVICES = ("gaudi2", "gaudi3")
FULLSCALE = {"gaudi2": 240.0, "gaudi3": 448.0}
TOLERANCE = 1e-5
MEASURE_CFG = {"mode": "MEASURE", "observer": "maxabs", "measure_exclude": "NONE", "dump_stats_path": DUMP_REL}
QUANT_CFG = {"mode": "QUANTIZE", "scale_method": "maxabs_hw", "dump_stats_path": DUMP_REL}
F32 = torch.float32


def load_gen_inc():
    """tools/gen_inc_fixtures.py as a module (its INC scale math)."""
    spec = importlib.util.spec_from_file_location("gen_inc_fixtures", os.path.join(ROOT, "tools", "gen_inc_fixtures.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def versions():
    import importlib.metadata as md
    out = {"python": sys.version.split()[0]}
    for pkg in ("torch", "safetensors", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def save_ref(path, tensors, meta):
    """safetensors with a byte-reproducible header (as tools/gen_model_fixtures.py
    save_ref: metadata with sorted keys first, tensors sorted by name, header
    padded with spaces to a multiple of 8)."""
    dt = {torch.float32: "F32", torch.int32: "I32"}
    md = {k: (v if isinstance(v, str) else json.dumps(v, sort_keys=True)) for k, v in sorted(meta.items())}
    header = {"__metadata__": md}
    blobs, off = [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        b = t.numpy().tobytes()
        header[name] = {"dtype": dt[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def write_text(path, text):
    with open(path, "w") as f:
        f.write(text)


def f32bits(v):
    return struct.unpack("<I", struct.pack("<f", float(v)))[0]


# ----------------------------------------------------------------- model


class Model:
    def __init__(self, d):
        from safetensors.torch import load_file
        with open(os.path.join(d, "config.json")) as f:
            self.cfg = json.load(f)
        self.W = load_file(os.path.join(d, "model.safetensors"))  # BF16 tensors
        c = self.cfg
        self.L = c["num_hidden_layers"]
        self.nh, self.nkv = c["num_attention_heads"], c["num_key_value_heads"]
        self.hd = c.get("head_dim") or c["hidden_size"] // self.nh
        self.eps = c["rms_norm_eps"]
        self.inv_freq = llama3_inv_freq(c, self.hd)

    def f32(self, name):
        return self.W[name].to(F32)

    def bf16(self, name):
        return self.W[name]

    def module_weight(self, mod):
        """The BF16 weight [out][in] of a vLLM module (fused as vLLM fuses)."""
        if mod == "lm_head":
            return self.bf16("lm_head.weight" if "lm_head.weight" in self.W else "model.embed_tokens.weight")
        pre, leaf = mod.rsplit(".", 1)
        if leaf == "qkv_proj":
            return torch.cat([self.bf16(f"{pre}.{x}_proj.weight") for x in "qkv"], 0)
        if leaf == "gate_up_proj":
            return torch.cat([self.bf16(f"{pre}.{x}_proj.weight") for x in ("gate", "up")], 0)
        return self.bf16(f"{mod}.weight")


def llama3_inv_freq(cfg, head_dim):
    """transformers' _compute_llama3_parameters (as tools/gen_model_fixtures.py)."""
    theta = float(cfg["rope_theta"])
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).to(F32) / head_dim))
    rs = cfg.get("rope_scaling")
    if not rs or rs.get("rope_type", rs.get("type")) == "default":
        return inv
    factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    lo_wl, hi_wl = old / lo, old / hi
    wl = 2 * math.pi / inv
    inv_l = torch.where(wl > lo_wl, inv / factor, inv)
    smooth = (old / wl - lo) / (hi - lo)
    smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
    medium = ~(wl < hi_wl) * ~(wl > lo_wl)
    return torch.where(medium, smoothed, inv_l)


# ----------------------------------------------------------------- FP8 ops


def e4m3_margin(y, F):
    """Relative distance of each |y| (float64) to the nearest E4M3FN rounding
    boundary that matters after clamping to +-F (midpoints between codes)."""
    a = y.abs().to(torch.float64)
    ac = torch.clamp(a, max=F)
    e = torch.floor(torch.log2(torch.clamp(ac, min=2.0 ** -6)))
    sp = torch.exp2(e - 3)  # code spacing in [2^e, 2^(e+1)); 2^-9 below 2^-6
    r = ac / sp
    dist = (r - torch.floor(r) - 0.5).abs() * sp
    # at or above F every value rounds to F: the boundary is the midpoint below F
    top = F - torch.exp2(torch.floor(torch.log2(torch.tensor(F, dtype=torch.float64))) - 4)
    dist = torch.where(a >= F, a - top, dist)
    return dist / torch.clamp(a, min=2.0 ** -10)


def flip_code(q, y, idx):
    """q with element idx (flat) moved to the E4M3 code on the other side of
    the rounding boundary nearest to y[idx] (what a rounding flip does)."""
    b = q.view(torch.uint8).reshape(-1).clone()
    yv, qv = float(y.reshape(-1)[idx]), float(q.float().reshape(-1)[idx])
    mag, sign = int(b[idx]) & 0x7F, int(b[idx]) & 0x80
    mag = mag + 1 if abs(yv) > abs(qv) else mag - 1
    if mag < 0:  # +0 <-> the smallest subnormal of the other sign
        mag, sign = 1, sign ^ 0x80 if yv != 0 else 0x80
    b[idx] = sign | min(mag, 0x7E)
    return b.view(torch.float8_e4m3fn).reshape(q.shape)


class Ctx:
    """Per-run state: device, scales, GEMM accumulation, recorder."""

    def __init__(self, device=None, scales=None, exact_dot=False, record=False, variant=None, torch_softmax=False):
        self.torch_softmax = torch_softmax
        self.device = device
        self.F = FULLSCALE[device] if device else None
        self.scales = scales  # scale-file Nodes, or None for the float32 model
        self.exact_dot = exact_dot
        self.record = record
        self.sites = {}  # name -> (pre-cast y, codes)
        self.variant = variant or {}

    def cast(self, x, s, site):
        """FP8 E4M3 values (not dequantized) of x with dequant scale s."""
        if self.variant.get("no_cast") and any(site.endswith(t) for t in self.variant["no_cast"]):
            return x / torch.tensor(s, dtype=F32)  # this op's FP8 cast switched off (sensitivity runs)
        inv = torch.tensor(1.0, dtype=F32) / torch.tensor(s, dtype=F32)
        y = x * inv
        q = y.clamp(-self.F, self.F).to(torch.float8_e4m3fn)
        if self.record:
            self.sites[site] = (y.clone(), q.view(torch.uint8).clone())
        flip = self.variant.get("flip")
        if flip is not None and flip[0] == site:
            q = flip_code(q, y, flip[1])
        return q.float()

    def mm(self, a, b):
        """a @ b^T in float32 (torch GEMM) or exactly summed, rounded once."""
        if self.exact_dot:
            return (a.double() @ b.double().transpose(-1, -2)).float()
        return a @ b.transpose(-1, -2)

    def sc(self, v):
        return torch.tensor(v, dtype=F32)


@torch.no_grad()
def forward(M, tokens, ctx, observe=None):
    """Logits [n, vocab] float32.  ctx.scales None: the float32 model (no casts)."""
    S = ctx.scales
    n = tokens.numel()
    nh, nkv, hd = M.nh, M.nkv, M.hd
    rep = nh // nkv

    def obs(mod, kind, i, t):
        if observe is not None:
            observe(mod, kind, i, t)

    def linear(mod, x, weights):
        """vLLM module `mod` (fused): x @ [W_1; W_2; ...]^T, split back."""
        Wb = torch.cat(weights, 0)
        obs(mod, "inputs", 0, x)
        if S is None:
            y = ctx.mm(x, Wb.to(F32))
        else:
            node = S[mod]
            sx, sw = node["inputs"][0], node["params"]["weight"]
            x8 = ctx.cast(x, sx, mod + ".in")
            W8 = ctx.cast(Wb.to(F32), sw, mod + ".w")
            y = (ctx.mm(x8, W8) * ctx.sc(sx)) * ctx.sc(sw)
        obs(mod, "outputs", 0, y)
        return torch.split(y, [w.shape[0] for w in weights], dim=-1)

    def rmsnorm(x, w):
        v = x.pow(2).mean(-1, keepdim=True)
        return M.f32(w) * (x * torch.rsqrt(v + M.eps))

    pos = torch.arange(n, dtype=F32)
    fr = pos[:, None] * M.inv_freq[None, :]
    emb = torch.cat((fr, fr), dim=-1)
    cos, sin = emb.cos(), emb.sin()

    def rope(x):  # [heads, n, hd]
        x1, x2 = x[..., :hd // 2], x[..., hd // 2:]
        return x * cos + torch.cat((-x2, x1), dim=-1) * sin

    causal = torch.ones(n, n, dtype=torch.bool).triu(1)
    h = M.f32("model.embed_tokens.weight")[tokens.to(torch.int64)]
    for i in range(M.L):
        p = f"model.layers.{i}."
        a = p + "self_attn."
        x = rmsnorm(h, p + "input_layernorm.weight")
        q, k, v = linear(a + "qkv_proj", x, [M.bf16(f"{a}{t}_proj.weight") for t in "qkv"])
        q = rope(q.view(n, nh, hd).transpose(0, 1))
        k = rope(k.view(n, nkv, hd).transpose(0, 1))
        v = v.view(n, nkv, hd).transpose(0, 1)
        imp = a + "attn.impl."
        obs(imp + "k_cache", "inputs", 0, k)
        obs(imp + "v_cache", "inputs", 0, v)
        qs = q * (hd ** -0.5)
        obs(imp + "matmul_qk", "inputs", 0, qs)
        if S is None:
            kc, vc = k, v
        else:
            skc, svc = S[imp + "k_cache"]["inputs"][0], S[imp + "v_cache"]["inputs"][0]
            kc = ctx.cast(k, skc, imp + "k_cache") * ctx.sc(skc)
            vc = ctx.cast(v, svc, imp + "v_cache") * ctx.sc(svc)
        obs(imp + "matmul_qk", "inputs", 1, kc)
        kr = kc.repeat_interleave(rep, dim=0)  # head -> kv head = head // rep
        vr = vc.repeat_interleave(rep, dim=0)
        if S is None:
            sc = ctx.mm(qs, kr)
        else:
            s0, s1 = S[imp + "matmul_qk"]["inputs"]
            qin = qs if not ctx.variant.get("q_scaled_after") else q
            q_hat = ctx.cast(qin, s0, imp + "matmul_qk.in0")
            k_hat = ctx.cast(kr, s1, imp + "matmul_qk.in1")
            sc = (ctx.mm(q_hat, k_hat) * ctx.sc(s0)) * ctx.sc(s1)
            if ctx.variant.get("q_scaled_after"):
                sc = sc * (hd ** -0.5)
        obs(imp + "matmul_qk", "outputs", 0, sc)
        sc = sc.masked_fill(causal, float("-inf"))
        obs(imp + "softmax", "inputs", 0, sc)
        if ctx.torch_softmax:  # transformers' eager attention (the FP32 self-check)
            pr = torch.softmax(sc, dim=-1, dtype=F32)
        else:  # the spelled-out formula of the INC reference
            e = torch.exp(sc - sc.amax(-1, keepdim=True))
            pr = e / e.sum(-1, keepdim=True)
        obs(imp + "softmax", "outputs", 0, pr)
        if S is not None:
            so = S[imp + "softmax"]["outputs"][0]
            pr = ctx.cast(pr, so, imp + "softmax.out") * ctx.sc(so)
        obs(imp + "matmul_av", "inputs", 0, pr)
        obs(imp + "matmul_av", "inputs", 1, vc)
        if S is None:
            o = pr @ vr
        else:
            a0, a1 = S[imp + "matmul_av"]["inputs"]
            p8 = ctx.cast(pr, a0, imp + "matmul_av.in0")
            v8 = ctx.cast(vr, a1, imp + "matmul_av.in1")
            o = (ctx.mm(p8, v8.transpose(-1, -2)) * ctx.sc(a0)) * ctx.sc(a1)
        obs(imp + "matmul_av", "outputs", 0, o)
        o = o.transpose(0, 1).reshape(n, nh * hd)
        (y,) = linear(a + "o_proj", o, [M.bf16(a + "o_proj.weight")])
        h = h + y
        x = rmsnorm(h, p + "post_attention_layernorm.weight")
        g, u = linear(p + "mlp.gate_up_proj", x, [M.bf16(f"{p}mlp.{t}_proj.weight") for t in ("gate", "up")])
        act = torch.nn.functional.silu(g) * u  # transformers' LlamaMLP: act_fn(gate) * up
        (y,) = linear(p + "mlp.down_proj", act, [M.bf16(p + "mlp.down_proj.weight")])
        h = h + y
    h = rmsnorm(h, "model.norm.weight")
    (logits,) = linear("lm_head", h, [M.module_weight("lm_head")])
    return logits.contiguous()


# ----------------------------------------------------------------- steps


def run(cmd, **kw):
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit("command failed (%d): %s\n%s%s" % (r.returncode, " ".join(cmd), r.stdout, r.stderr))
    return r


def fp8q_measure_quantize(fp8q, out):
    """Steps 1: configs, MEASURE, QUANTIZE (both devices) with the fp8q CLI."""
    run([fp8q, "inc", "measure", MODEL_REL, "--config", os.path.join(OUT_REL, "measure_config.json"),
         "--calib", CALIB_REL, "--threads", "1"])
    for dev in DEVICES:
        run([fp8q, "inc", "quantize", MODEL_REL, "--config", os.path.join(OUT_REL, "quant_config.json"),
             "--measurements", os.path.join(OUT_REL, MEAS_NAME), "--device", dev,
             "--out", os.path.join(OUT_REL, f"scales_{dev}.json")])


def verify_scales(M, meas, out, G):
    """Step 2: recompute every scale from the measurements + BF16 weights."""
    method = next(m for m in G.METHODS if m[0] == "MAXABS_HW")
    ops = {"qkv_proj": "linear", "o_proj": "linear", "gate_up_proj": "linear", "down_proj": "linear",
           "lm_head": "linear", "matmul_qk": "matmul", "matmul_av": "matmul", "k_cache": "kv_cache",
           "v_cache": "kv_cache", "softmax": "softmax"}
    problems, lines = [], []
    mine_all = {}
    for dev in DEVICES:
        path = os.path.join(out, f"scales_{dev}.json")
        with open(path) as f:
            text = f.read()
        got = json.loads(text)
        nodes = {}
        for name, d in meas["Nodes"].items():
            op = ops[name.rsplit(".", 1)[-1]]
            w = M.module_weight(name) if op == "linear" else None
            nodes[name] = G.scale_node(op, d, w, method, dev)
        mine = {"GlobalRank": meas["GlobalRank"], "LocalRank": meas["LocalRank"], "Mode": "Scale", "Nodes": nodes}
        mine_all[dev] = json.loads(json.dumps(mine))
        n_vals = 0
        if set(got["Nodes"]) != set(nodes):
            problems.append(f"{dev}: module sets differ: {sorted(set(got['Nodes']) ^ set(nodes))}")
        for name in nodes:
            if name not in got["Nodes"]:
                continue
            a, b = json.loads(json.dumps(nodes[name])), got["Nodes"][name]

            def walk(x, y, where):
                nonlocal n_vals
                if isinstance(x, dict) and isinstance(y, dict):
                    if set(x) != set(y):
                        problems.append(f"{dev} {where}: keys {sorted(x)} vs fp8q {sorted(y)}")
                    for k in x:
                        if k in y:
                            walk(x[k], y[k], f"{where}.{k}")
                elif isinstance(x, list) and isinstance(y, list):
                    if len(x) != len(y):
                        problems.append(f"{dev} {where}: {len(x)} values vs fp8q {len(y)}")
                    for j, (xx, yy) in enumerate(zip(x, y)):
                        walk(xx, yy, f"{where}[{j}]")
                elif isinstance(x, float) and isinstance(y, (int, float)):
                    n_vals += 1
                    if f32bits(x) != f32bits(y) or float(np.float32(x)) != float(y):
                        problems.append(f"{dev} {where}: python {x!r} vs fp8q {y!r}")
                else:
                    problems.append(f"{dev} {where}: python {x!r} vs fp8q {y!r}")

            walk(a, b, name)
        same_text = json.dumps(mine, indent=4) == text
        if not same_text:
            problems.append(f"{dev}: values agree but the file text differs from json.dumps(indent=4)")
        lines.append(f"{dev}: {len(nodes)} modules, {n_vals} scale values; "
                     f"text identical to INC's json.dumps: {'yes' if same_text else 'NO'}")
    return mine_all, problems, lines


def check_measurements(M, meas, calib):
    """Informational: the measurement file vs bf16(max|x|) of a float32 forward."""
    mx = {}

    def observe(mod, kind, i, t):
        if mod == "lm_head":  # vLLM (and fp8q) run lm_head on the sampled (last) position only
            t = t[-1]
        v = float(t.abs().max())
        key = (mod, kind, i)
        mx[key] = max(mx.get(key, 0.0), v)

    ctx = Ctx()
    for row in calib:
        forward(M, row, ctx, observe)
    n, bad = 0, []
    for name, d in meas["Nodes"].items():
        leaf = name.rsplit(".", 1)[-1]
        used = [("inputs", i) for i in range(len(d.get("inputs", [])))]
        if leaf == "softmax":
            used = [("outputs", 0)]
        for kind, i in used:
            got = d[kind][i][0][0]
            mine = float(torch.tensor(mx[(name, kind, i)]).to(torch.bfloat16))
            n += 1
            if not (got == mine or (math.isinf(got) and math.isinf(mine))):
                bad.append(f"{name} {kind}[{i}]: file {got!r}, python {mine!r}")
        if "params" in d:
            n += 1
            mine = float(M.module_weight(name).abs().max())
            if d["params"]["weight"][0][0] != mine:
                bad.append(f"{name} params.weight: file {d['params']['weight'][0][0]!r}, python {mine!r}")
    return n, bad


LINEAR_IN = (".qkv_proj.in", ".o_proj.in", ".gate_up_proj.in", ".down_proj.in", "lm_head.in")
VARIANTS = [
    ("Linear inputs not cast (weights FP8)", {"no_cast": LINEAR_IN}),
    ("Linear weights not cast (inputs FP8)", {"no_cast": (".w",)}),
    ("matmul_qk / matmul_av inputs not cast", {"no_cast": ("matmul_qk.in0", "matmul_qk.in1", "matmul_av.in0",
                                                           "matmul_av.in1")}),
    ("KV cache not cast (float K/V, matmul casts kept)", {"no_cast": ("k_cache", "v_cache")}),
    ("K/V cast only once (matmul in1 casts off)", {"no_cast": ("matmul_qk.in1", "matmul_av.in1")}),
    ("softmax output not cast (matmul_av casts p)", {"no_cast": ("softmax.out",)}),
    ("q cast before the head_dim^-0.5 scaling", {"q_scaled_after": True}),
]


def tolerance_analysis(M, tokens, ctx, lg, dev, S):
    """Margins to E4M3 rounding boundaries, summation-order sensitivity and
    the effect of single code flips (see the docstring, Tolerance)."""
    out = []
    ctx_x = Ctx(dev, S, exact_dot=True, record=True)
    lg_x = forward(M, tokens, ctx_x)
    act = [k for k in ctx.sites if not k.endswith(".w")]
    nvals = sum(ctx.sites[k][1].numel() for k in act)
    changed = sum(int((ctx.sites[k][1] != ctx_x.sites[k][1]).sum()) for k in act)
    clamped = sum(int((ctx.sites[k][0].abs() > ctx.F).sum()) for k in act)
    out.append(f"{len(act)} activation cast sites, {nvals} values, {clamped} beyond +-F (clamped)")
    out.append(f"dot products summed exactly (float64, rounded once) instead of torch's float32 GEMM: "
               f"{changed} FP8 codes change; logits rel diff {rel(lg_x, lg):.3g}")
    ties, tie_sites, near, worst = 0, [], [], (float("inf"), "")
    for k in act:
        m = e4m3_margin(ctx.sites[k][0], ctx.F).reshape(-1)
        same = bool((ctx.sites[k][0] == ctx_x.sites[k][0]).all())
        t = m == 0
        ties += int(t.sum())
        if int(t.sum()):
            tie_sites.append(k.replace("model.layers.", "L").replace("self_attn.", ""))
        if int(t.sum()) and not same:
            out.append(f"WARNING: exact ties at {k} whose value depends on the summation order")
        if bool((~t).any()):
            mn = float(m[~t].min())
            if mn < worst[0]:
                worst = (mn, k)
        for i in torch.nonzero((m < 1e-5) & ~t).reshape(-1).tolist():
            near.append((k, i, float(m[i])))
    out.append(f"exact ties (value exactly on a midpoint, decided by RNE): {ties}, at {', '.join(tie_sites)} "
               f"(exact sums of FP8 products: the same in any summation order)")
    wy = ctx.sites[worst[1]][0].reshape(-1)
    wm = e4m3_margin(wy, ctx.F)
    wi = int(torch.argmin(torch.where(wm == 0, torch.full_like(wm, float("inf")), wm)))
    yv = abs(float(wy[wi]))
    ulps = wm[wi].item() * max(yv, 2.0 ** -10) / 2.0 ** (math.floor(math.log2(yv)) - 23)
    out.append(f"smallest relative distance to an E4M3 rounding boundary, ties excluded: {worst[0]:.3g} at "
               f"{worst[1]}[{wi}] (y = {float(wy[wi])!r}, {ulps:.0f} float32 ulps); values within 1e-5: {len(near)}")
    eff = []
    for k, i, m in near:
        eff.append(rel(forward(M, tokens, Ctx(dev, S, variant={"flip": (k, i)})), lg))
    if eff:
        out.append(f"flipping one of those {len(near)} codes changes the logits by {min(eff):.3g} .. {max(eff):.3g} "
                   f"(relative to max|logit|)")
    return out


def rel(a, b):
    return float((a.double() - b.double()).abs().max() / b.double().abs().max())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fp8q", default="build/fp8q", help="fp8q CLI (relative to the repository root)")
    ap.add_argument("--no-fp8q", action="store_true",
                    help="do not run fp8q: use the measurement / scale files already in the fixture folder, "
                         "skip the logits comparison")
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    out = os.path.join(ROOT, OUT_REL)
    os.makedirs(out, exist_ok=True)
    fp8q = None
    if not args.no_fp8q:
        fp8q = os.path.join(ROOT, args.fp8q) if not os.path.isabs(args.fp8q) else args.fp8q
        if not os.path.isfile(fp8q):
            sys.exit(f"{fp8q} not found: run `make build/fp8q` first (or pass --no-fp8q)")

    from safetensors.torch import load_file
    M = Model(os.path.join(ROOT, MODEL_REL))
    ref_fp32 = load_file(os.path.join(ROOT, MODEL_REL, "ref.safetensors"))
    tokens = ref_fp32["tokens"].to(torch.int32)
    calib = load_file(os.path.join(ROOT, CALIB_REL))["calib_tokens"]
    fail = []
    summary = []

    # step 1: inputs written by fp8q
    write_text(os.path.join(out, "measure_config.json"), json.dumps(MEASURE_CFG, indent=4) + "\n")
    write_text(os.path.join(out, "quant_config.json"), json.dumps(QUANT_CFG, indent=4) + "\n")
    write_text(os.path.join(out, "tokens.txt"), ",".join(str(t) for t in tokens.tolist()) + "\n")
    if fp8q:
        fp8q_measure_quantize(fp8q, out)
    with open(os.path.join(out, MEAS_NAME)) as f:
        meas = json.load(f)

    # step 2: scales
    G = load_gen_inc()
    scales, problems, lines = verify_scales(M, meas, out, G)
    summary.append("scale verification (Python INC math vs fp8q's scale files):")
    summary += ["  " + s for s in lines]
    if problems:
        fail.append("scale files differ from INC's math")
        summary += ["  DIFF " + s for s in problems]
    else:
        summary.append("  all scales bit-identical")
    nm, bad = check_measurements(M, meas, calib)
    summary.append(f"measurement file vs a float32 forward here (informational; lm_head on the last position of "
                   f"each sequence): {nm - len(bad)}/{nm} entries used by the scales equal bf16(max|x|)")
    summary += ["  " + s for s in bad]

    # float32 model self-check
    f32_logits = forward(M, tokens, Ctx(torch_softmax=True))
    d0 = float((f32_logits - ref_fp32["logits"]).abs().max())
    summary.append(f"float32 forward (casts off) vs tiny-gqa-bf16/ref.safetensors logits: max |diff| {d0:.3g}")
    if d0 > 1e-5:
        fail.append("float32 forward does not reproduce the FP32 reference")

    # step 3/4: reference per device, and the tolerance analysis
    vers = versions()
    refs = {}
    for dev in DEVICES:
        S = scales[dev]["Nodes"]
        ctx = Ctx(dev, S, record=True)
        lg = forward(M, tokens, ctx)
        refs[dev] = lg
        d_f32 = rel(lg, ref_fp32["logits"])
        summary.append(f"{dev} (F = {ctx.F:g}): reference vs FP32 logits: max|diff|/max|FP32| = {d_f32:.4g} "
                       f"(max |diff| {float((lg - ref_fp32['logits']).abs().max()):.4g}, "
                       f"max |logit| {float(lg.abs().max()):.4g}; argmax agrees at "
                       f"{int((lg.argmax(-1) == ref_fp32['logits'].argmax(-1)).sum())}/{lg.shape[0]} positions)")
        for line in tolerance_analysis(M, tokens, ctx, lg, dev, S):
            summary.append("  " + line)
        meta = {
            "description": ("INC-quantized (MAXABS_HW, fp8_inc KV cache) forward of ../llama/tiny-gqa-bf16 on "
                            f"{dev}: float32 torch reference from INC's formulas, written by "
                            "tools/gen_inc_model_fixture.py (see its docstring); one forward over the 16 tokens "
                            "from position 0; scales from scales_" + dev + ".json"),
            "device": dev,
            "fullscale": f"{FULLSCALE[dev]:g}",
            "tolerance": f"max|logits - ref| / max|ref| <= {TOLERANCE:g}",
            "rel_distance_to_fp32": f"{d_f32:.6g}",
            "versions": vers,
        }
        save_ref(os.path.join(out, f"ref_{dev}.safetensors"), {"tokens": tokens, "logits": lg}, meta)

    # what a semantic deviation looks like: one op's FP8 handling changed at a time
    summary.append("sensitivity: rel logits change when one op's FP8 handling is changed (gaudi2 / gaudi3):")
    for label, var in VARIANTS:
        ds = [rel(forward(M, tokens, Ctx(dev, scales[dev]["Nodes"], variant=var)), refs[dev]) for dev in DEVICES]
        summary.append(f"  {label:52s} {ds[0]:.3g} / {ds[1]:.3g}")

    # step 5: fp8q
    if fp8q:
        with tempfile.TemporaryDirectory() as td:
            for dev in DEVICES:
                for extra in (["--gemm", "reference", "--threads", "1"], []):
                    ob = os.path.join(td, f"{dev}.bin")
                    run([fp8q, "logits", MODEL_REL, "--tokens", ",".join(str(t) for t in tokens.tolist()),
                         "--out", ob, "--inc-config", os.path.join(OUT_REL, "quant_config.json"),
                         "--inc-measurements", os.path.join(OUT_REL, MEAS_NAME), "--device", dev] + extra)
                    got = torch.from_numpy(np.fromfile(ob, dtype="<f4").reshape(refs[dev].shape).copy())
                    r = rel(got, refs[dev])
                    ok = r <= TOLERANCE
                    summary.append(f"fp8q logits --device {dev} {' '.join(extra) or '(default gemm and threads)'}: "
                                   f"max|diff|/max|ref| = {r:.4g} (max |diff| "
                                   f"{float((got - refs[dev]).abs().max()):.4g}) -> "
                                   f"{'OK' if ok else 'EXCEEDS'} tolerance {TOLERANCE:g}")
                    if not ok:
                        fail.append(f"fp8q {dev} logits exceed the tolerance")
    print("\n".join(summary))
    print("files: " + ", ".join(sorted(os.listdir(out))))
    if fail:
        print("FAILED: " + "; ".join(fail))
        sys.exit(1)


if __name__ == "__main__":
    main()
