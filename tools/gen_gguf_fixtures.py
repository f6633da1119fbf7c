#!/usr/bin/env python3
r"""GGUF fixtures for tests/test_gguf.c: tiny Llama GGUF files written with
the ``gguf`` package (gguf-py, llama.cpp's own writer) from the tiny Hugging
Face fixtures in tests/fixtures/llama, the values gguf-py dequantizes them to,
and the logits transformers computes from them.

How to run
==========
    /work/venv-fixtures/bin/python tools/gen_gguf_fixtures.py [--out tests/fixtures/gguf]

(the venv of tools/gen_model_fixtures.py: gguf 0.19.0, transformers 5.17.0,
torch 2.14.0; CPU only, one thread, offline; about 5 s.)  Running it twice
gives byte-identical files.  It rewrites only the files listed below.

How the files are made (llama.cpp's convert_hf_to_gguf.py, vendored in
llama-cpp-python 0.3.36: conversion/base.py ModelBase.prepare_tensors and
TextModel.set_gguf_parameters, conversion/llama.py LlamaModel)
=========================================================================
  * metadata: general.architecture "llama", general.type "model",
    general.name, llama.block_count, .context_length, .embedding_length,
    .feed_forward_length, .attention.head_count, .attention.head_count_kv,
    .rope.freq_base, .attention.layer_norm_rms_epsilon (FLOAT32),
    .attention.key_length / .value_length (config.json has head_dim),
    general.file_type, llama.vocab_size, llama.rope.dimension_count,
    general.quantization_version; a token list (tokenizer.ggml.tokens,
    "<t0>", "<t1>", ..., and .token_type) stands in for the tokenizer,
    which the tiny models do not have.
  * tensor names from gguf.get_tensor_name_map(MODEL_ARCH.LLAMA, blocks)
    (token_embd, blk.N.attn_q, ..., output_norm, output);
  * q_proj and k_proj rows permuted with LlamaModel.permute (copied below
    verbatim): w.reshape(n_head, 2, rows // n_head // 2, cols)
    .swapaxes(1, 2), n_head = num_key_value_heads for k_proj;
  * 1-D tensors (norms) F32; 2-D tensors quantized with
    gguf.quants.quantize to the type chosen per file; add_tensor with
    raw_dtype, so shapes are stored reversed (ne = {in, out}).

What it writes (tests/fixtures/gguf/)
=====================================
tiny-f32.F32.gguf        tiny-f32 (4 heads / 4 kv heads, untied), every tensor
                         F32: the import must give back the HF tensors exactly
tiny-f32.mixed.gguf      tiny-f32 with its 2-D weights in F16, BF16, Q8_0,
                         Q4_0, Q4_1 in turn (token_embd first, then per layer
                         q, k, v, o, gate, up, down, then output): every
                         converted type, q and k among them
tiny-gqa.Q4_1.gguf       tiny-gqa-bf16's weights (4 heads / 2 kv heads, tied
                         embeddings: no output.weight) with Q4_1 weights and a
                         Q8_0 token_embd (the types of the real SmolLM2 Q4_1
                         file), no llama.vocab_size (the vocabulary size comes
                         from tokenizer.ggml.tokens).  Plain RoPE: the HF
                         model's llama3 rope_scaling is left out, because
                         llama.cpp stores it as rope_freqs.weight factors,
                         which transformers' GGUF loader ignores.
<file>.ref.safetensors   tokens I32 [16] (the tokens of the HF fixture's
                         ref.safetensors) and logits F32 [16, vocab]: the GGUF
                         loaded with transformers (AutoModelForCausalLM
                         .from_pretrained(dir, gguf_file=...), which
                         dequantizes with gguf.quants.dequantize and
                         un-permutes q/k itself) in float32, eager attention,
                         one forward over the 16 tokens.
expected.json            per GGUF file: "config" (the HF config fields the
                         GGUF describes) and "tensors": for every GGUF tensor
                         {"gguf": name, "hf": HF name, "shape": HF shape,
                         "fnv_gguf": FNV-1a 64 of gguf.quants.dequantize's
                         float32 little-endian bytes in GGUF row order,
                         "fnv_hf": the same after the q/k un-permutation,
                         i.e. what fp8q_gguf_to_hf must write as F32}.
VERSIONS.txt             package versions.

Self-checks (the script fails if one does not hold): the F32 file's tensors,
dequantized and un-permuted, equal the HF checkpoint bit for bit; the
un-permutation used for the expected values equals transformers'
LlamaTensorProcessor._reverse_permute_weights; transformers' logits from
tiny-f32.F32.gguf equal tiny-f32/ref.safetensors's within 1e-6 x max|logit|
(the same model); each GGUF reads back with gguf.GGUFReader with the
written types.
"""

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_model_fixtures as gmf  # noqa: E402  (offline environment, torch, save_ref)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import gguf  # noqa: E402
from gguf import GGMLQuantizationType as QT  # noqa: E402

REPO = gmf.REPO
DEFAULT_OUT = os.path.join(REPO, "tests", "fixtures", "gguf")
LLAMA_FIX = os.path.join(REPO, "tests", "fixtures", "llama")

MIXED_CYCLE = [QT.F16, QT.BF16, QT.Q8_0, QT.Q4_0, QT.Q4_1]

FIXTURES = {
    # name: (HF fixture, type of 2-D weights (None: MIXED_CYCLE), token_embd type, write llama.vocab_size)
    "tiny-f32.F32.gguf": ("tiny-f32", QT.F32, QT.F32, True),
    "tiny-f32.mixed.gguf": ("tiny-f32", None, None, True),
    "tiny-gqa.Q4_1.gguf": ("tiny-gqa-bf16", QT.Q4_1, QT.Q8_0, False),
}

FILE_TYPE = {QT.F32: gguf.LlamaFileType.ALL_F32, QT.Q4_1: gguf.LlamaFileType.MOSTLY_Q4_1}


def permute(weights, n_head, n_head_kv):
    """conversion/llama.py LlamaModel.permute, verbatim (numpy arrays have
    the same reshape/swapaxes)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2)
            .reshape(weights.shape))


def unpermute(weights, n_head, n_head_kv):
    """The inverse: GGUF rows back to HF rows."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, weights.shape[0] // n_head // 2, 2, *weights.shape[1:])
            .swapaxes(1, 2)
            .reshape(weights.shape))


def fnv1a64(a):
    """FNV-1a 64 of the float32 little-endian bytes of a."""
    h = 0xCBF29CE484222325
    for b in np.ascontiguousarray(a, dtype="<f4").tobytes():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def load_hf(name):
    """config.json and the weights of an HF fixture, widened to float32
    (exact), in the file's order (sorted by name, as convert_hf_to_gguf.py
    iterates a safetensors file)."""
    from safetensors.torch import load_file
    with open(os.path.join(LLAMA_FIX, name, "config.json")) as f:
        cfg = json.load(f)
    w = load_file(os.path.join(LLAMA_FIX, name, "model.safetensors"))
    return cfg, {k: w[k].to(torch.float32).numpy() for k in sorted(w)}


def tensor_type(fix, hf_name, order):
    """The GGUF type of a tensor: F32 for 1-D, else the file's choice."""
    _, wtype, etype, _ = FIXTURES[fix]
    if hf_name.endswith("norm.weight"):
        return QT.F32
    if wtype is None:
        return MIXED_CYCLE[order % len(MIXED_CYCLE)]
    return etype if hf_name == "model.embed_tokens.weight" else wtype


def hf_names_in_order(cfg):
    """2-D weights in the order the mixed file cycles types over them."""
    names = ["model.embed_tokens.weight"]
    for i in range(cfg["num_hidden_layers"]):
        names += [f"model.layers.{i}.self_attn.{m}.weight" for m in ("q_proj", "k_proj", "v_proj", "o_proj")]
        names += [f"model.layers.{i}.mlp.{m}.weight" for m in ("gate_proj", "up_proj", "down_proj")]
    if not cfg.get("tie_word_embeddings"):
        names.append("lm_head.weight")
    return names


def write_gguf(fix, path):
    src, wtype, etype, with_vocab = FIXTURES[fix]
    cfg, w = load_hf(src)
    nh, nkv, nl = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["num_hidden_layers"]
    tmap = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, nl)
    order = {n: i for i, n in enumerate(hf_names_in_order(cfg))}
    writer = gguf.GGUFWriter(path, "llama")
    # TextModel.set_gguf_parameters + LlamaModel.set_gguf_parameters, in their order
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name(fix.split(".")[0])
    writer.add_block_count(nl)
    writer.add_context_length(cfg["max_position_embeddings"])
    writer.add_embedding_length(cfg["hidden_size"])
    writer.add_feed_forward_length(cfg["intermediate_size"])
    writer.add_head_count(nh)
    writer.add_head_count_kv(nkv)
    writer.add_rope_freq_base(cfg["rope_theta"])
    writer.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    writer.add_key_length(cfg["head_dim"])
    writer.add_value_length(cfg["head_dim"])
    writer.add_file_type(FILE_TYPE.get(wtype, gguf.LlamaFileType.GUESSED))
    if with_vocab:
        writer.add_vocab_size(cfg["vocab_size"])
    writer.add_rope_dimension_count(cfg["head_dim"])
    writer.add_token_list([f"<t{i}>" for i in range(cfg["vocab_size"])])
    writer.add_token_types([int(gguf.TokenType.NORMAL)] * cfg["vocab_size"])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    rows = []
    for hf_name, data in w.items():  # the safetensors order, as convert_hf_to_gguf iterates
        if hf_name.endswith("q_proj.weight"):
            data = permute(data, nh, nh)
        elif hf_name.endswith("k_proj.weight"):
            data = permute(data, nh, nkv)
        gname = tmap.get_name(hf_name, try_suffixes=(".weight",))
        qtype = tensor_type(fix, hf_name, order.get(hf_name, 0))
        q = gguf.quants.quantize(np.ascontiguousarray(data, dtype=np.float32), qtype)
        writer.add_tensor(gname, q, raw_dtype=qtype)
        rows.append((gname, hf_name, qtype))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return cfg, w, rows


def expected_config(cfg):
    keys = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
            "head_dim", "vocab_size", "max_position_embeddings", "rms_norm_eps", "rope_theta", "tie_word_embeddings")
    return {k: cfg[k] for k in keys}


def expected_tensors(path, cfg, hf, rows):
    """gguf-py's dequantization of every tensor, and its un-permuted HF form."""
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor
    proc = LlamaTensorProcessor(config={"num_attention_heads": cfg["num_attention_heads"],
                                        "num_key_value_heads": cfg["num_key_value_heads"]})
    reader = gguf.GGUFReader(path)
    by_name = {t.name: t for t in reader.tensors}
    out = []
    for gname, hf_name, qtype in rows:
        t = by_name[gname]
        if t.tensor_type != qtype:
            raise SystemExit(f"{path}: {gname} reads back as {t.tensor_type.name}, written {qtype.name}")
        x = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32).reshape(hf[hf_name].shape)
        y = x
        if ".attn_q." in gname or ".attn_k." in gname:
            nh = cfg["num_attention_heads"]
            y = unpermute(x, nh, nh if ".attn_q." in gname else cfg["num_key_value_heads"])
            theirs = proc.process(x, gname).weights
            if not np.array_equal(y, theirs):
                raise SystemExit(f"{gname}: un-permutation differs from transformers'")
        if qtype == QT.F32 and not np.array_equal(y.view(np.uint32), hf[hf_name].view(np.uint32)):
            raise SystemExit(f"{path}: {gname} -> {hf_name} is not the HF tensor bit for bit")
        out.append({"gguf": gname, "hf": hf_name, "type": qtype.name, "shape": list(hf[hf_name].shape),
                    "fnv_gguf": fnv1a64(x), "fnv_hf": fnv1a64(y)})
    return out


def gguf_logits(out, fix, tokens):
    """transformers' logits of the GGUF file (float32, eager)."""
    from transformers import AutoModelForCausalLM
    m = AutoModelForCausalLM.from_pretrained(out, gguf_file=fix, dtype=torch.float32, attn_implementation="eager")
    m.eval()
    return gmf.forward_logits(m, tokens)


def ref_tokens(src):
    """tokens and logits of the HF fixture's ref.safetensors."""
    from safetensors.torch import load_file
    r = load_file(os.path.join(LLAMA_FIX, src, "ref.safetensors"))
    return r["tokens"], r["logits"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    gmf.setup_determinism()
    os.makedirs(args.out, exist_ok=True)
    vers = gmf.versions()
    import importlib.metadata as md
    vers["gguf"] = md.version("gguf")
    expected = {}
    for fix in FIXTURES:
        path = os.path.join(args.out, fix)
        cfg, hf, rows = write_gguf(fix, path)
        exp = expected_config(cfg)
        if fix.startswith("tiny-gqa"):
            exp["rope_scaling"] = None  # left out, see the docstring
        expected[fix] = {"config": exp, "tensors": expected_tensors(path, cfg, hf, rows)}
        tokens, hf_logits = ref_tokens(FIXTURES[fix][0])
        logits = gguf_logits(args.out, fix, tokens)
        if fix == "tiny-f32.F32.gguf":
            d = gmf.max_abs(logits, hf_logits)
            if d > 1e-6 * float(hf_logits.abs().max()):
                raise SystemExit(f"{fix}: transformers' GGUF logits differ from the HF model's by {d}")
        gmf.save_ref(os.path.join(args.out, fix + ".ref.safetensors"),
                     {"tokens": tokens.to(torch.int32), "logits": logits},
                     {"description": f"transformers logits of {fix} (gguf_file=, float32, eager)",
                      "versions": vers})
        print(f"{fix}: {os.path.getsize(path)} bytes, {len(rows)} tensors, max|logit| "
              f"{float(logits.abs().max()):.3f}")
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(args.out, "VERSIONS.txt"), "w") as f:
        f.write("# written by tools/gen_gguf_fixtures.py; the packages these fixtures were made with\n")
        for k in ("python", "gguf", "torch", "transformers", "safetensors", "numpy"):
            f.write(f"{k}=={vers.get(k)}\n")


if __name__ == "__main__":
    main()
