#!/usr/bin/env python3
r"""Acceptance check of fp8q's GGUF import: fp8q's FP32 logits of the
imported checkpoint against transformers' logits of the same GGUF file.

    /work/venv-fixtures/bin/python tools/check_gguf_import.py FILE.gguf \
        --to-hf 'CMD {gguf} {out}' [--fp8q build/fp8q] [--tokens 1,2,3] \
        [--work DIR] [--tol 1e-4]

1. transformers (the reference): AutoModelForCausalLM.from_pretrained(
   dirname(FILE), gguf_file=basename(FILE), dtype=float32, eager
   attention).  transformers dequantizes every tensor with gguf-py
   (gguf.quants.dequantize) and un-permutes q/k itself
   (modeling_gguf_pytorch_utils.py LlamaTensorProcessor); one forward over
   the tokens (no cache, causal), logits [n, vocab] in float32.
2. fp8q: the --to-hf command (a template; {gguf} and {out} are replaced by
   the GGUF path and an empty directory) must run fp8q_gguf_to_hf(gguf,
   out, FP8Q_F32); then `FP8Q logits OUT --tokens ... --out FILE --quant
   none` gives fp8q's FP32 logits of the imported checkpoint.
3. The acceptance of the issue: max |difference| <= tol x max |logit|
   (tol 1e-4).  Prints both numbers and their ratio; exit status 0 when
   it holds, 1 when not, 2 on a usage or tool error.

Tokens: --tokens, else the tokens of FILE.ref.safetensors when it exists
(the committed fixtures), else 16 ids from tools/gen_model_fixtures.py's
fixed_tokens(vocab_size).  CPU only, one torch thread, offline.
"""

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_model_fixtures as gmf  # noqa: E402  (offline environment, torch, forward_logits)

import numpy as np  # noqa: E402
import torch  # noqa: E402


def vocab_size(path):
    """llama.vocab_size, else the token list's length, else token_embd's rows."""
    import gguf
    r = gguf.GGUFReader(path)
    f = r.fields.get("llama.vocab_size")
    if f is not None:
        return int(f.contents())
    f = r.fields.get("tokenizer.ggml.tokens")
    if f is not None:
        return len(f.data)
    return int([t for t in r.tensors if t.name == "token_embd.weight"][0].shape[1])


def pick_tokens(args):
    if args.tokens:
        return torch.tensor([int(x) for x in args.tokens.split(",")], dtype=torch.int64)
    ref = args.gguf + ".ref.safetensors"
    if os.path.exists(ref):
        from safetensors.torch import load_file
        return load_file(ref)["tokens"].to(torch.int64)
    return gmf.fixed_tokens(vocab_size(args.gguf))


def transformers_logits(path, tokens):
    from transformers import AutoModelForCausalLM
    m = AutoModelForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(path)), gguf_file=os.path.basename(path),
                                             dtype=torch.float32, attn_implementation="eager")
    m.eval()
    return gmf.forward_logits(m, tokens).numpy()


def run(cmd):
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(f"error: {' '.join(map(shlex.quote, cmd))} exited {p.returncode}\n{p.stdout}{p.stderr}")
        sys.exit(2)
    return time.time() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("gguf")
    ap.add_argument("--to-hf", required=True, help="command template with {gguf} and {out}")
    ap.add_argument("--fp8q", default=os.path.join(gmf.REPO, "build", "fp8q"))
    ap.add_argument("--tokens", default="")
    ap.add_argument("--work", default="", help="directory for the imported checkpoint (default: a temporary one)")
    ap.add_argument("--tol", type=float, default=1e-4)
    args = ap.parse_args()
    gmf.setup_determinism()
    tokens = pick_tokens(args)

    t0 = time.time()
    want = transformers_logits(args.gguf, tokens)
    t_ref = time.time() - t0

    with tempfile.TemporaryDirectory() as tmp:
        out = args.work or os.path.join(tmp, "hf")
        os.makedirs(out, exist_ok=True)
        t_imp = run([w.replace("{gguf}", args.gguf).replace("{out}", out) for w in shlex.split(args.to_hf)])
        lf = os.path.join(tmp, "logits.f32")
        t_fwd = run([args.fp8q, "logits", out, "--tokens", ",".join(str(int(t)) for t in tokens), "--out", lf,
                     "--quant", "none"])
        got = np.fromfile(lf, dtype="<f4").reshape(want.shape)

    d = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
    mx = float(np.max(np.abs(want)))
    ok = d <= args.tol * mx
    print(f"{os.path.basename(args.gguf)}: {len(tokens)} tokens, vocab {want.shape[1]}")
    print(f"  transformers (GGUF) {t_ref:.1f} s, fp8q import {t_imp:.1f} s, fp8q logits {t_fwd:.1f} s")
    print(f"  max |diff| {d:.3g}, max |logit| {mx:.3g}, ratio {d / mx:.3g} (limit {args.tol:g}): "
          f"{'PASS' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
