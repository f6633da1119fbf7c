#!/usr/bin/env python3
"""Compare fp8q with Hugging Face transformers module by module.

Runs a Llama checkpoint (an FP8 compressed-tensors one, e.g. the fixture
tests/fixtures/llama/tiny-fp8-dynamic, or a float one) in transformers (+
compressed-tensors) with forward hooks on every linear layer, and saves what
they see under fp8q's trace names (fp8q diff --help) into a safetensors
file:

  M.input.0        F32 [tokens][in]   the module's input
  M.output.0       F32 [tokens][out]  its output; q|k|v and gate|up side by
                                      side, as fp8q (and vLLM) fuse them
  M.input.0.scale  F32                the input's FP8 scales and
  M.input.0.fp8    F8_E4M3            codes, made with compressed-tensors' own
                                      functions (compute_dynamic_scales_and_zp
                                      or the module's input_scale, quantize)
  M.weight.scale   F32                the checkpoint's weight scales
  M.input_scale    F32                static input scales

for M = model.layers.N.self_attn.qkv_proj, .o_proj, .mlp.gate_up_proj,
.down_proj and lm_head. Then it runs `fp8q logits --trace` on the same
tokens (engine compressed-tensors: no vLLM scale fusing, x / s as
compressed-tensors divides) and `fp8q diff --common` with fp8q's trace as A
and transformers' as B, and prints per module whether they agree within the
tolerance. The attention internals and the KV cache fp8q records have no
hook here: --common lists them as fp8q-only without counting them.

Usage (the fixtures' venv has torch, transformers, compressed-tensors):
    make build/fp8q
    /work/venv-fixtures/bin/python examples/check_transformers_trace.py \\
        [MODEL_DIR] [--tokens 3,1,4,1,5] [--fp8q build/fp8q] [--out-dir DIR]
        [--kv-cache e4m3]
Exit status: fp8q diff's (0 all common tensors agree, 1 differences, 2
errors)."""
import argparse
import json
import os
import subprocess
import sys

import torch
from safetensors.torch import save_file

FUSED = {  # fp8q's (vLLM's) module: the Hugging Face modules, in order
    "self_attn.qkv_proj": ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
    "self_attn.o_proj": ("self_attn.o_proj",),
    "mlp.gate_up_proj": ("mlp.gate_proj", "mlp.up_proj"),
    "mlp.down_proj": ("mlp.down_proj",),
}


def input_codes(module, x):
    """The FP8 scales and codes compressed-tensors makes of input x [n, in]
    in this module's forward, or None when it does not quantize its input."""
    from compressed_tensors.quantization.lifecycle.forward import quantize
    from compressed_tensors.quantization.utils.helpers import compute_dynamic_scales_and_zp
    scheme = getattr(module, "quantization_scheme", None)
    args = scheme.input_activations if scheme is not None else None
    if args is None:
        return None
    if args.dynamic:
        scale, zp = compute_dynamic_scales_and_zp(value=x, args=args, module=module)
    else:
        scale, zp = module.input_scale, getattr(module, "input_zero_point", None)
    q = quantize(x, scale, zp, args, dtype=torch.float8_e4m3fn)
    return scale.reshape(-1).to(torch.float32), q


class Recorder:
    """Forward hooks that collect each fused module's input, shard outputs
    and quantization, keyed by fp8q's names."""

    def __init__(self, model):
        self.t = {}
        self.parts = {}
        self.handles = []
        layers = model.model.layers
        for i, layer in enumerate(layers):
            for fused, shards in FUSED.items():
                name = f"model.layers.{i}.{fused}"
                for k, path in enumerate(shards):
                    mod = layer.get_submodule(path)
                    self.handles.append(mod.register_forward_hook(self.hook(name, k, len(shards))))
                self.parameters(name, [layer.get_submodule(p) for p in shards])
        self.handles.append(model.lm_head.register_forward_hook(self.hook("lm_head", 0, 1)))
        self.parameters("lm_head", [model.lm_head])

    def parameters(self, name, mods):
        ws = [getattr(m, "weight_scale", None) for m in mods]
        if all(w is not None for w in ws):  # [shards] per tensor, [out] per channel, as fp8q
            self.t[f"{name}.weight.scale"] = torch.cat([w.detach().reshape(-1).to(torch.float32) for w in ws])
        scheme = [getattr(m, "quantization_scheme", None) for m in mods]
        if all(s is not None and s.input_activations is not None and not s.input_activations.dynamic
               for s in scheme):
            self.t[f"{name}.input_scale"] = torch.cat(
                [m.input_scale.detach().reshape(-1).to(torch.float32) for m in mods])

    def hook(self, name, shard, n_shards):
        def fn(module, inputs, output):
            x = inputs[0].detach()
            x = x.reshape(-1, x.shape[-1]).to(torch.float32)
            if shard == 0:
                self.t[f"{name}.input.0"] = x.clone()
                codes = input_codes(module, inputs[0].detach())
                if codes is not None:
                    self.t[f"{name}.input.0.scale"] = codes[0].clone()
                    self.t[f"{name}.input.0.fp8"] = codes[1].reshape(x.shape).clone()
            self.parts.setdefault(name, [None] * n_shards)[shard] = \
                output.detach().reshape(x.shape[0], -1).to(torch.float32)
        return fn

    def tensors(self):
        for name, parts in self.parts.items():
            self.t[f"{name}.output.0"] = torch.cat(parts, dim=1)
        return {k: v.contiguous() for k, v in self.t.items()}


def versions():
    import importlib.metadata as md
    out = {}
    for pkg in ("torch", "transformers", "compressed-tensors"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def transformers_trace(model_dir, tokens, path):
    from transformers import AutoModelForCausalLM
    torch.set_num_threads(1)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    rec = Recorder(model)
    with torch.no_grad():
        model(input_ids=torch.tensor([tokens], dtype=torch.int64), use_cache=False)
    for h in rec.handles:
        h.remove()
    meta = {"format": "fp8q-trace-1", "engine": "transformers", "checkpoint": model_dir,
            "tokens": ",".join(map(str, tokens)), "steps": "1"}
    meta.update({f"{k}_version": v for k, v in versions().items()})
    save_file(rec.tensors(), path, metadata=meta)


def run(cmd):
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd).returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", nargs="?", default="tests/fixtures/llama/tiny-fp8-dynamic")
    ap.add_argument("--tokens", default="3,1,4,1,5,9,2,6")
    ap.add_argument("--fp8q", default="build/fp8q")
    ap.add_argument("--out-dir", default="build/trace-check")
    ap.add_argument("--kv-cache", default="auto", help="fp8q's --kv-cache (e4m3 for a checkpoint with FP8 KV scales)")
    a = ap.parse_args()
    tokens = [int(t) for t in a.tokens.split(",")]
    os.makedirs(a.out_dir, exist_ok=True)
    hf = os.path.join(a.out_dir, "transformers.safetensors")
    mine = os.path.join(a.out_dir, "fp8q.safetensors")
    report = os.path.join(a.out_dir, "diff.json")
    transformers_trace(a.model, tokens, hf)
    if run([a.fp8q, "logits", a.model, "--tokens", a.tokens, "--out", os.path.join(a.out_dir, "logits.bin"),
            "--engine", "compressed-tensors", "--gemm", "exact", "--kv-cache", a.kv_cache, "--trace", mine]) != 0:
        return 2
    rc = run([a.fp8q, "diff", mine, hf, "--common", "--brief", "--json", report])
    if rc == 2:
        return 2
    with open(report) as f:
        d = json.load(f)
    modules = {}
    for t in d["tensors"]:
        if t["dtype_a"] and t["dtype_b"]:
            modules.setdefault(t["module"], []).append(t)
    print("\nper module (fp8q = A, transformers = B):")
    for mod, ts in modules.items():
        bad = [t for t in ts if t["differs"]]
        worst = max((t["max_abs"] or 0.0) / (t["atol"] / d["tolerance"]["norm_tol"])
                    for t in ts if t["kind"] == "float" and t["atol"]) if any(
            t["kind"] == "float" and t["atol"] for t in ts) else 0.0
        codes = [t for t in ts if t["kind"] == "fp8_codes"]
        flips = sum(t["outside"] is not None and t["max_ulp"] > 0 for t in codes)
        print(f"  {'agrees ' if not bad else 'DIFFERS'} {mod:42s} {len(ts)} tensors, max |b - a| / max|a| "
              f"{worst:.2e}, FP8 codes {'flipped' if flips else 'equal' if codes else 'none'}"
              + (f"  ({', '.join(t['name'].rsplit('.', 2)[-2] + '.' + t['name'].rsplit('.', 1)[-1] for t in bad)})"
                 if bad else ""))
    s = d["summary"]
    print(f"\n{s['compared']} tensors compared, {s['differ']} differ, {s['after_flip']} after an FP8 code flip, "
          f"{s['only_a']} only in fp8q's trace (attention internals, KV cache), {s['only_b']} only in transformers'")
    return rc


if __name__ == "__main__":
    sys.exit(main())
