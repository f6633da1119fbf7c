#!/usr/bin/env python3
r"""Golden fixtures for the C Llama implementation: tiny Llama checkpoints,
their FP8 versions made by llm-compressor, and reference logits.

Purpose
=======
Builds three tiny random Llama checkpoints with transformers, quantizes them
to FP8 with llm-compressor's own ``oneshot`` API (compressed-tensors format),
and records reference logits, so that the C Llama of fp8q can be checked
against transformers / compressed-tensors on real checkpoint files.  A second
mode, ``check-checkpoint``, loads any checkpoint folder (for example one
written by our C tool) with transformers and writes its logits.

How to run
==========
    python3 -m venv /work/venv-fixtures
    /work/venv-fixtures/bin/pip install -r tools/requirements-fixtures.txt
    /work/venv-fixtures/bin/python tools/gen_model_fixtures.py
    # (the same as: ... gen_model_fixtures.py generate --out tests/fixtures/llama)

    /work/venv-fixtures/bin/python tools/gen_model_fixtures.py \
        check-checkpoint DIR OUT.safetensors [--tokens-from REF.safetensors]

(torch is the version llm-compressor pins; the fixtures were made with the
PyPI wheel of it, a CUDA build, because the CPU-only index was not reachable;
everything here runs on the CPU, one thread, CUDA_VISIBLE_DEVICES="".)  ``generate`` takes about 10 s and needs
no network (HF_HUB_OFFLINE etc. are set).  It deletes and rewrites only the
folders and the file named below.  Running it twice gives byte-identical
files (fixed seeds, torch.use_deterministic_algorithms, one CPU thread, no
time stamps).

``check-checkpoint DIR OUT`` loads DIR with AutoModelForCausalLM in float32,
eager attention (compressed-tensors decompresses when config.json has a
quantization_config), runs the ``tokens`` of REF (default: fixed_tokens() for
the checkpoint's vocab_size, i.e. the tokens of the fixtures), and writes OUT
with ``tokens`` (I32 [n]) and ``logits`` (F32 [n, vocab]).  It exits 1 with a
message if config.json cannot be read, if transformers fails to load DIR, if
any tensor is missing, unexpected or of the wrong shape (transformers by
itself would only warn and leave random weights), or if the logits are not
finite.

What it writes (tests/fixtures/llama/)
======================================
VERSIONS.txt                 package versions used
tiny-f32/                    config.json, model.safetensors (F32), ref.safetensors
tiny-f16/                    the same weights rounded to F16
tiny-gqa-bf16/               GQA (4 heads, 2 kv heads), llama3 RoPE scaling,
                             tied embeddings, BF16
tiny-fp8-dynamic/            FP8_DYNAMIC of tiny-f32
tiny-fp8-static/             FP8 (static) of tiny-f32
tiny-gqa-fp8-static-kv/      FP8 (static) + FP8 KV cache of tiny-gqa-bf16

Models (2 layers, hidden 64, head_dim 16, rms_norm_eps 1e-5): tiny-f32 and
tiny-f16 vocab 128, intermediate 96, 4 heads / 4 kv heads, rope_theta 1e4, no
scaling, max_position_embeddings 128, untied lm_head; tiny-gqa-bf16 vocab 160,
intermediate 128, 4 heads / 2 kv heads, rope_theta 5e5, rope_scaling llama3
(factor 8, low 1, high 4, original_max_position_embeddings 32),
max_position_embeddings 256, tied.  Weights: a torch.Generator seeded per
model fills named_parameters() in order: linears N(0, 0.15^2), embed_tokens
N(0, 1), RMSNorm weights 1 + 0.1 N(0, 1).

config.json of the base models is rewritten into the layout of the Llama
checkpoints on the hub (transformers 4.x): "torch_dtype", top-level
"rope_theta" and "rope_scaling" (null for plain RoPE).  transformers 5.17
itself writes "dtype" and "rope_parameters" {rope_theta, rope_type, ...};
it reads both layouts (the reference logits come from the checkpoint as
reloaded from the rewritten file, and an in-memory check demands equal
logits).  llm-compressor copies the base config.json into the quantized
folders (resave_config) and adds "quantization_config".

ref.safetensors, base models: ``tokens`` I32 [16] (fixed_tokens(vocab)),
``logits`` F32 [16, vocab]: one forward over the 16 tokens (positions 0..15,
use_cache=False, no attention mask: plain causal) of the saved checkpoint
loaded with transformers in float32 (BF16/F16 weights upcast exactly), eager
attention.

ref.safetensors, quantized models: ``tokens`` (same ids as the base model),
``logits`` = the fake-quantized forward of the model as llm-compressor left it
in memory after oneshot, before save/compression, in the model's dtype
(float32 for the tiny-f32 based ones; **bfloat16** for
tiny-gqa-fp8-static-kv, because the bf16 checkpoint was loaded in bf16 for
oneshot, as users do), stored as F32; ``logits_base`` = the base model's
logits; ``logits_reload`` = the saved compressed checkpoint loaded back with
transformers (decompressed) in float32, eager; ``calib_tokens`` I32 [8, 16]
(static schemes) = the calibration sequences in the order oneshot used them.
The header metadata (strings) has description, scheme, kv_cache_scheme,
dtypes, versions, the max differences, and the llm-compressor recipe.yaml
(which is deleted from the folder to keep it to config.json +
model.safetensors).  For the float32 models logits == logits_reload exactly;
for the bf16 GQA model they differ (bf16 arithmetic and the bf16 double
rounding below), so a float32 C implementation should be compared with
``logits_reload``.  In float32 these models are not sensitive to summation
order (a float64 forward moves the logits by < 3e-5), so a tight tolerance
is reasonable against logits_reload.

Self-checks run by ``generate`` (it fails if one does not hold): every
weight_scale, FP8 weight code, input_scale, k_scale and v_scale is recomputed
from the base checkpoint with the recipe below and must be bit-identical;
documented_forward(), an independent float32 Llama written from the recipe
below (not transformers' modules), must reproduce logits / logits_reload
(it does, bit-exactly, with compressed-tensors 0.19.0 / transformers 5.17.0).

How llm-compressor 0.14 / compressed-tensors 0.19 compute the FP8 forward
=========================================================================
(ct = site-packages/compressed_tensors, lc = site-packages/llmcompressor.)
FP8 is E4M3FN, max 448 (ct quantization/quant_args.py FP8_E4M3_DATA).

Common fake quantization (ct quantization/lifecycle/forward.py fake_quantize
-> _process_quantization -> ct quantization/lifecycle/forward_helpers.py
_apply_quantize_op -> _quantize_dequantize; on CPU no Triton kernel):
    scaled = x / scale             (true division, in x's dtype; not x * 1/s)
    scaled += zero_point           (always 0 here)
    q = round_to_quantized_type_args(scaled): torch.clamp(scaled, -448, 448)
        then .to(torch.float8_e4m3fn) (round to nearest even), .to(x.dtype)
    out = q.to(scale.dtype) * scale
Scales come from ct quantization/utils/helpers.py calculate_qparams:
    min' = min(min, 0); max' = max(max, 0); amax = max(|min'|, |max'|)
    scale = amax / (bit_range / 2), bit_range = 448 - (-448) = 896 cast to
            amax's dtype, so scale = amax / 448 (one IEEE division in the
            dtype of the observed tensor)
    scale_dtype is None for these schemes: no rounding of the scale;
    a scale that is exactly 0 becomes torch.finfo(dtype).eps
    (_get_dtype_eps: 2^-23 for float32, 2^-7 for bfloat16); no other floor
    or ceiling.
Scale parameters have the dtype of the weight (ct lifecycle/initialize.py
initialize_qparams: scale_dtype = observed_dtype), so F32 scales for the
tiny-f32 models and BF16 scales for the GQA model.  Zero points are zeros in
memory and dropped at save for symmetric schemes.

(a) Weights.  Observer: always "memoryless_minmax" for weights
    (lc modifiers/quantization/calibration.py initialize_observer;
    MemorylessMinMaxObserver in lc observers/min_max.py), run once after
    calibration by QuantizationModifier.on_sequential_epoch_end
    (lc modifiers/quantization/quantization/base.py: observe(modules,
    "weight"), update_qparams) -> Observer.get_qparams -> calculate_qparams.
    Extent (lc observers/helpers.py _flatten_weight, _get_min_max reduces
    dims (0, -1)):
      FP8 (static)  strategy "tensor":  weight_scale [1]   = max|W| / 448
      FP8_DYNAMIC   strategy "channel": weight_scale [out, 1],
                    row r = max_c |W[r, c]| / 448
    computed in the weight's dtype (float32; bfloat16 for the GQA model,
    i.e. the quotient rounded to bf16).
    Stored FP8 codes (ct compressors/naive_quantized/base.py
    NaiveQuantizationCompressor.compress -> forward.py quantize ->
    forward_helpers._quantize): q = clamp(W / s, -448, 448) RNE-cast to
    E4M3, the division in the weight's dtype.  For the BF16 GQA model W / s is
    first rounded to bf16 and then to E4M3 (double rounding): 2-4 % of its
    weight codes differ by one E4M3 step from RNE(float32(W) / float32(s)).
    The in-memory forward fake-quantizes the weight with the same formula on
    every call (forward.py set_forward_quantized / forward_quantize, status
    FROZEN < COMPRESSED); the reloaded model has W = fp8 * weight_scale
    (NaiveQuantizationCompressor.decompress -> dequantize), which
    re-quantizes to the same codes.

(b) FP8_DYNAMIC activations (ct quantization/quant_scheme.py FP8_DYNAMIC:
    input_activations strategy "token", dynamic true).  No observer and no
    input_scale (initialize_qparams returns early for dynamic).  In every
    forward of a targeted Linear (forward.py quantized_forward ->
    forward_quantize -> ct utils/helpers.py compute_dynamic_scales_and_zp):
    strategy TOKEN reduces over every dim except 0 and 1, i.e. for Llama's
    [batch, seq, hidden] inputs over hidden: one scale per token,
        s_t = max_h |x[t, h]| / 448    (float32 division; via amin/amax and
                                        calculate_qparams as above)
        s_t = 2^-23 (finfo eps) only if the row is all zero; no other floor
        (unlike vLLM's 1/(448*512) floor) and no upper bound.
    then _quantize_dequantize: x / s_t (division), clamp to [-448, 448],
    RNE cast to E4M3, back to float32, * s_t.  Because s_t is rounded,
    |x| / s_t can exceed 448 by an ulp (8 elements at 448.00003 in the
    reference forward); the clamp maps them to 448 (they would round to 448
    anyway).  Quirk: a 2-D input
    [tokens, hidden] would leave no dim to reduce and get one per-tensor
    scale; transformers' Llama always passes 3-D.  The matmul is an ordinary
    float32 F.linear of the fake-quantized input and weight.  lm_head is not
    quantized (ignore).

(c) FP8 static input_scale (quant_scheme.py FP8: input_activations strategy
    "tensor", dynamic false, observer "static_minmax"; kept as such by
    lc QuantizationMixin._apply_observer_overrides because it is set
    explicitly).  StaticMinMaxObserver (lc observers/min_max.py): for each
    calibration batch, the input of the Linear seen by the forward pre-hook
    calibrate_input_hook (lc modifiers/quantization/calibration.py), i.e.
    before quantization, flattened to (B*S, 1, hidden) (_flatten_activation)
    and reduced with amin / amax over all of it; running min / max over all
    batches with torch.min / torch.max (no averaging, no percentile).
    After the 8 batches of a layer (sequential pipeline, one subgraph per
    decoder layer; QuantizationModifier.on_sequential_epoch_end ->
    update_qparams): input_scale [1] = max over all calibration tokens of
    |x| / 448, computed in the model dtype (float32; bf16 for the GQA model).
    The whole calibration runs inside DisableQuantization(model)
    (lc pipelines/sequential/pipeline.py; lc utils/helpers.py), so the
    statistics are those of the UNQUANTIZED model: neither earlier layers'
    weight nor activation quantization affects them (propagate_error makes
    no difference for this modifier).  Calibration data: 8 sequences x 16
    tokens, batch_size 1, attention_mask all ones, shuffle off
    (LengthAwareSampler, order 0..7), lm_head output disabled.
    At run time: fake_quant(x, input_scale), one scale for the whole tensor.

(d) KV cache scheme ({"num_bits": 8, "type": "float", "strategy": "tensor",
    "dynamic": false, "symmetric": true}).  ct quantization/lifecycle/apply.py
    _apply_kv_cache_scheme gives every attention module (ct
    lifecycle/initialize.py is_cached_attention_module) a scheme whose
    input_activations are these args, and ct modeling/kvcache.py
    initialize_hooked_kv_cache registers a QuantizedKVCache submodule
    "kv_cache" plus a forward pre-hook that replaces the attention's
    past_key_values kwarg with it, even when use_cache=False.
    LlamaAttention.forward calls past_key_values.update(k, v, layer) right
    after apply_rotary_pos_emb, so QuantizedKVCache.forward fake-quantizes
        K after RoPE, shape [B, n_kv_heads, S, head_dim], before repeat_kv
        V (no RoPE), same shape
    with the per-tensor k_scale / v_scale (forward_quantize, base names "k",
    "v"), and the attention then uses these fake-quantized K and V (for all
    positions, including the current token).  Q is not quantized (no config
    group targets attention, so no QuantizedAttentionImpl).  Softmax and the
    rest stay in the model dtype.  k_scale, v_scale: [1], dtype of the
    attention weights (BF16 here), stored as model.layers.N.self_attn.k_scale
    / v_scale.
    Calibration: the kv_cache_scheme has observer null and
    _apply_observer_overrides does not touch it, so initialize_observer picks
    its default for non-weights, "minmax" = MinMaxObserver
    (lc observers/min_max.py), a MOVING AVERAGE, averaging_constant 0.01 -
    not static_minmax.  Hooks calibrate_key_hook / calibrate_value_hook
    (registered through ct modeling/kvcache.py register_key_hook /
    register_value_hook, pre-hooks on QuantizedKVCache, so K is post-RoPE)
    observe each batch flattened to (B*S, 1, n_kv*head_dim)
    (_flatten_attention): per batch mn = min, mx = max over the tensor;
    first batch taken as is; later batches
        mn = mn_prev * (1 - 0.01) + mn_new * 0.01    (lc observers/helpers.py
        mx = mx_prev * (1 - 0.01) + mx_new * 0.01     lerp)
    in the activation dtype (bf16: each product and the sum rounded to bf16),
    unquantized model (DisableQuantization), 8 batches in order 0..7.  Then
    calculate_qparams: k_scale = max(|min(mn, 0)|, max(mx, 0)) / 448 in bf16.
    So the scales are ~99 % the first calibration sequence's range, and
    larger values saturate: in the reference forward one K element reaches
    |k| / k_scale = 457.4 and one V element |v| / v_scale = 464.47; the
    clamp makes both 448 (a non-saturating E4M3 cast of 464.47 gives NaN).
"""

import argparse
import copy
import hashlib
import json
import os
import shutil
import sys
import tempfile

# Everything is local: never reach a model hub, never start tokenizer threads.
for _k, _v in (
    ("HF_HUB_OFFLINE", "1"),
    ("TRANSFORMERS_OFFLINE", "1"),
    ("HF_DATASETS_OFFLINE", "1"),
    ("HF_HUB_DISABLE_TELEMETRY", "1"),
    ("TOKENIZERS_PARALLELISM", "false"),
    ("CUDA_VISIBLE_DEVICES", ""),  # CPU only, also where a GPU exists
    ("CUBLAS_WORKSPACE_CONFIG", ":4096:8"),
):
    os.environ.setdefault(_k, _v)

import torch  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "tests", "fixtures", "llama")

SEED = 20251122          # every random stream derives from this
N_TOKENS = 16            # tokens per reference sequence
N_CALIB = 8              # calibration sequences for the static schemes
CALIB_LEN = 16           # tokens per calibration sequence
LINEAR_STD = 0.15        # q/k/v/o/gate/up/down/lm_head weights ~ N(0, 0.15^2)
EMBED_STD = 1.0          # embed_tokens ~ N(0, 1)
NORM_STD = 0.1           # RMSNorm weights ~ 1 + 0.1 N(0, 1)

KV_CACHE_SCHEME = {"num_bits": 8, "type": "float", "strategy": "tensor",
                   "dynamic": False, "symmetric": True}

BASE_MODELS = {
    "tiny-f32": dict(
        config=dict(vocab_size=128, hidden_size=64, intermediate_size=96,
                    num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=4, head_dim=16, rope_theta=10000.0,
                    rope_scaling=None, rms_norm_eps=1e-5,
                    max_position_embeddings=128, tie_word_embeddings=False),
        dtype="float32", weights_seed=SEED + 1),
    # same weights as tiny-f32 (weights_from), cast to float16
    "tiny-f16": dict(weights_from="tiny-f32", dtype="float16"),
    "tiny-gqa-bf16": dict(
        config=dict(vocab_size=160, hidden_size=64, intermediate_size=128,
                    num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, head_dim=16, rope_theta=500000.0,
                    rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                  "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0,
                                  "original_max_position_embeddings": 32},
                    rms_norm_eps=1e-5, max_position_embeddings=256,
                    tie_word_embeddings=True),
        dtype="bfloat16", weights_seed=SEED + 2),
}

QUANT_MODELS = {
    "tiny-fp8-dynamic": dict(base="tiny-f32", scheme="FP8_DYNAMIC",
                             kv=False, calib=False, load_dtype="float32"),
    "tiny-fp8-static": dict(base="tiny-f32", scheme="FP8",
                            kv=False, calib=True, load_dtype="float32"),
    "tiny-gqa-fp8-static-kv": dict(base="tiny-gqa-bf16", scheme="FP8",
                                   kv=True, calib=True,
                                   load_dtype="bfloat16"),
}

DTYPES = {"float32": torch.float32, "float16": torch.float16,
          "bfloat16": torch.bfloat16}


# --------------------------------------------------------------------------
# helpers


def setup_determinism():
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # fixed reduction order in the CPU GEMMs


def versions():
    import importlib.metadata as md
    out = {"python": sys.version.split()[0]}
    for pkg in ("torch", "transformers", "compressed-tensors", "llmcompressor",
                "safetensors", "numpy", "datasets", "accelerate", "tokenizers"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    out["torch.__version__"] = torch.__version__  # the wheel's build tag
    return out


def fixed_tokens(vocab_size, n=N_TOKENS):
    """The reference token ids for a model with this vocabulary: n ids drawn
    uniformly from [0, vocab_size) by a generator seeded with SEED + vocab."""
    g = torch.Generator().manual_seed(SEED + 1000 + vocab_size)
    return torch.randint(0, vocab_size, (n,), generator=g, dtype=torch.int64)


def calib_tokens(vocab_size):
    """N_CALIB x CALIB_LEN calibration ids, uniform in [0, vocab_size)."""
    g = torch.Generator().manual_seed(SEED + 2000 + vocab_size)
    return torch.randint(0, vocab_size, (N_CALIB, CALIB_LEN), generator=g,
                         dtype=torch.int64)


def init_weights(model, seed):
    """Overwrite every parameter with values from a generator seeded with
    `seed`, in named_parameters() order: linears N(0, LINEAR_STD^2),
    embeddings N(0, EMBED_STD^2), RMSNorm weights 1 + NORM_STD N(0, 1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if name.endswith("norm.weight"):
                v = 1.0 + NORM_STD * r
            elif "embed_tokens" in name:
                v = EMBED_STD * r
            elif name.endswith(".weight") and p.ndim == 2:
                v = LINEAR_STD * r
            else:
                raise RuntimeError(f"unexpected parameter {name}")
            p.copy_(v.to(p.dtype))


def legacy_config_json(path):
    """Rewrite config.json in the layout of the Llama checkpoints on the hub
    (and of transformers 4.x): "torch_dtype" instead of transformers 5's
    "dtype", top-level "rope_theta" and "rope_scaling" (null for plain RoPE)
    instead of "rope_parameters".  transformers 5 still reads this layout
    (the reference logits are computed from the checkpoint as reloaded from
    this file), and llm-compressor copies it into the quantized checkpoints
    (llmcompressor ... compressed_tensors_utils.resave_config)."""
    with open(path) as f:
        cfg = json.load(f)
    if "dtype" in cfg:
        cfg["torch_dtype"] = cfg.pop("dtype")
    rp = cfg.pop("rope_parameters", None)
    if rp is not None:
        rp = dict(rp)
        cfg["rope_theta"] = rp.pop("rope_theta")
        if rp.get("rope_type", "default") == "default" and len(rp) == 1:
            cfg["rope_scaling"] = None
        else:
            cfg["rope_scaling"] = rp
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")


def tidy_checkpoint(d, keep=("config.json", "model.safetensors")):
    """Remove what save_pretrained writes besides config + weights
    (generation_config.json, llm-compressor's recipe.yaml); returns what was
    removed as {name: text} so it can go into the metadata."""
    removed = {}
    for name in sorted(os.listdir(d)):
        if name in keep:
            continue
        p = os.path.join(d, name)
        if os.path.isfile(p):
            with open(p, errors="replace") as f:
                removed[name] = f.read()
            os.remove(p)
        else:
            raise RuntimeError(f"unexpected folder {p}")
    for name in keep:  # save_pretrained creates model.safetensors 0600
        os.chmod(os.path.join(d, name), 0o644)
    return removed


def stub_tokenizer(vocab_size):
    """oneshot insists on a processor when given a dataset, even an already
    tokenized one; this word-level tokenizer (token i <-> "t<i>") is never
    used to tokenize anything here."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast
    vocab = {f"t{i}": i for i in range(vocab_size)}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="t0"))
    return PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="t0",
                                   pad_token="t0", eos_token="t0")


class LoadError(Exception):
    pass


def load_f32(d):
    """Load checkpoint folder d with transformers in float32, eager attention.
    For a config.json with a quantization_config, transformers hands the
    model to compressed-tensors, which decompresses the FP8 weights
    (fp8 * weight_scale) and keeps the activation / KV fake quantization.
    A tensor that is missing, unexpected or of the wrong shape is an error
    (transformers alone would only warn and leave random weights)."""
    from transformers import AutoModelForCausalLM
    m, info = AutoModelForCausalLM.from_pretrained(
        d, dtype=torch.float32, attn_implementation="eager",
        output_loading_info=True)
    bad = {k: sorted(map(str, v)) for k, v in info.items() if v}
    if bad:
        raise LoadError(f"loading {d}: {json.dumps(bad)}")
    m.eval()
    return m


@torch.no_grad()
def forward_logits(model, tokens):
    """Logits at every position of one forward over the whole sequence (no
    cache, no attention mask: causal attention only), as float32 [n, vocab]."""
    out = model(input_ids=tokens.reshape(1, -1).to(torch.int64),
                use_cache=False)
    return out.logits[0].to(torch.float32).contiguous()


ST_DTYPES = {torch.float32: "F32", torch.int32: "I32"}


def save_ref(path, tensors, meta):
    """Write a safetensors file with a byte-reproducible header: metadata
    first with sorted keys, then the tensors sorted by name, data in that
    order, header padded with spaces to a multiple of 8.  (safetensors'
    save_file keeps the metadata in a Rust HashMap, whose order changes from
    run to run.)"""
    import struct
    md = {k: (v if isinstance(v, str) else json.dumps(v, sort_keys=True))
          for k, v in sorted(meta.items())}
    header = {"__metadata__": md}
    blobs = []
    off = 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        b = t.numpy().tobytes()  # little-endian on every supported host
        header[name] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def max_abs(a, b):
    return float((a.to(torch.float64) - b.to(torch.float64)).abs().max())


# --------------------------------------------------------------------------
# base models


def build_base_models(out, vers, report):
    from transformers import LlamaConfig, LlamaForCausalLM
    built = {}
    for name, spec in BASE_MODELS.items():
        d = os.path.join(out, name)
        os.makedirs(d)
        if "weights_from" in spec:
            src = built[spec["weights_from"]]
            cfg_kwargs = dict(BASE_MODELS[spec["weights_from"]]["config"])
            model = src
        else:
            cfg_kwargs = dict(spec["config"])
            cfg = LlamaConfig(**cfg_kwargs, attn_implementation="eager")
            torch.manual_seed(spec["weights_seed"])
            model = LlamaForCausalLM(cfg).to(torch.float32)
            init_weights(model, spec["weights_seed"])
            model.eval()
            built[name] = model
        dt = DTYPES[spec["dtype"]]
        m = LlamaForCausalLM(copy.deepcopy(model.config))
        m.load_state_dict(model.state_dict())
        m = m.to(dt)
        m.config.dtype = dt
        m.save_pretrained(d, safe_serialization=True)
        tidy_checkpoint(d)
        legacy_config_json(os.path.join(d, "config.json"))

        # reference: the saved checkpoint, reloaded in float32
        rm = load_f32(d)
        tok = fixed_tokens(cfg_kwargs["vocab_size"])
        logits = forward_logits(rm, tok)
        # the in-memory model (weights rounded to dt, computed in float32)
        # must agree with the reload, else config.json lost something
        chk = LlamaForCausalLM(copy.deepcopy(model.config))
        chk.load_state_dict({k: v.to(dt).to(torch.float32)
                             for k, v in model.state_dict().items()})
        chk.config._attn_implementation = "eager"
        chk.eval()
        diff = max_abs(forward_logits(chk, tok), logits)
        if diff != 0.0:
            raise RuntimeError(f"{name}: reload differs from in-memory "
                               f"model by {diff}")
        save_ref(os.path.join(d, "ref.safetensors"),
                 {"tokens": tok.to(torch.int32), "logits": logits},
                 {"description": f"{name}: reference logits of "
                  f"{N_TOKENS} tokens, one forward (use_cache=False, no "
                  "attention mask) of the checkpoint in this folder loaded "
                  "with transformers in float32 (weights upcast exactly), "
                  "eager attention",
                  "checkpoint_dtype": spec["dtype"],
                  "compute_dtype": "float32",
                  "init": f"linear N(0,{LINEAR_STD}^2), embed "
                  f"N(0,{EMBED_STD}^2), rmsnorm 1+{NORM_STD}N(0,1)",
                  "versions": vers})
        report.append(f"{name}: logits range [{float(logits.min()):.3f}, "
                      f"{float(logits.max()):.3f}] std "
                      f"{float(logits.std()):.3f}")


# --------------------------------------------------------------------------
# quantized models


def quantize_one(out, name, spec, vers, report):
    from datasets import Dataset
    from llmcompressor import oneshot
    from llmcompressor.modifiers.quantization import QuantizationModifier
    from transformers import AutoModelForCausalLM

    base_dir = os.path.join(out, spec["base"])
    d = os.path.join(out, name)
    with open(os.path.join(base_dir, "config.json")) as f:
        vocab = json.load(f)["vocab_size"]
    tok = fixed_tokens(vocab)
    with torch.no_grad():
        from safetensors.torch import load_file
        base_ref = load_file(os.path.join(base_dir, "ref.safetensors"))
    assert torch.equal(base_ref["tokens"], tok.to(torch.int32))

    load_dt = DTYPES[spec["load_dtype"]]
    model = AutoModelForCausalLM.from_pretrained(
        base_dir, dtype=load_dt, attn_implementation="eager")
    model.eval()

    kw = {}
    if spec["kv"]:
        kw["kv_cache_scheme"] = dict(KV_CACHE_SCHEME)
    recipe = QuantizationModifier(targets="Linear", scheme=spec["scheme"],
                                  ignore=["lm_head"], **kw)
    ds = None
    calib = None
    if spec["calib"]:
        calib = calib_tokens(vocab)
        ds = Dataset.from_dict({
            "input_ids": calib.tolist(),
            "attention_mask": torch.ones_like(calib).tolist()})
    torch.manual_seed(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)  # whatever llm-compressor writes lands here
        try:
            if ds is not None:
                oneshot(model=model, recipe=recipe, dataset=ds,
                        processor=stub_tokenizer(vocab),
                        num_calibration_samples=N_CALIB,
                        max_seq_length=CALIB_LEN,
                        shuffle_calibration_samples=False,
                        batch_size=1)
            else:
                oneshot(model=model, recipe=recipe)
        finally:
            os.chdir(cwd)

    # fake-quantized forward of the model as llm-compressor left it
    logits = forward_logits(model, tok)
    compute_dtype = str(next(model.parameters()).dtype).replace("torch.", "")

    os.makedirs(d)
    model.save_pretrained(d, save_compressed=True)
    removed = tidy_checkpoint(d)

    rm = load_f32(d)
    logits_reload = forward_logits(rm, tok)
    diff = max_abs(logits, logits_reload)
    diff_base = max_abs(logits, base_ref["logits"])
    tensors = {"tokens": tok.to(torch.int32), "logits": logits,
               "logits_base": base_ref["logits"],
               "logits_reload": logits_reload}
    if calib is not None:
        tensors["calib_tokens"] = calib.to(torch.int32)
    meta = {"description": f"{name}: llm-compressor oneshot "
            f"QuantizationModifier(targets='Linear', scheme='{spec['scheme']}'"
            ", ignore=['lm_head']"
            + (f", kv_cache_scheme={json.dumps(KV_CACHE_SCHEME)}"
               if spec["kv"] else "")
            + f") on ../{spec['base']} loaded in {spec['load_dtype']}. "
            "logits: fake-quantized forward of the in-memory model right "
            "after oneshot (before compression), computed in "
            f"{compute_dtype}, stored as float32; logits_base: "
            f"../{spec['base']}/ref.safetensors logits; logits_reload: the "
            "saved compressed checkpoint loaded back with transformers "
            "(compressed-tensors decompresses) in float32, eager attention"
            + ("; calib_tokens: the calibration sequences, in the order "
               "oneshot saw them (batch size 1, no shuffle)"
               if calib is not None else ""),
            "scheme": spec["scheme"],
            "kv_cache_scheme": KV_CACHE_SCHEME if spec["kv"] else "none",
            "base_model": spec["base"],
            "oneshot_load_dtype": spec["load_dtype"],
            "logits_compute_dtype": compute_dtype,
            "logits_reload_compute_dtype": "float32",
            "max_abs_logits_minus_reload": repr(diff),
            "max_abs_logits_minus_base": repr(diff_base),
            "versions": vers}
    for fname, text in removed.items():
        meta["removed_" + fname] = text
    save_ref(os.path.join(d, "ref.safetensors"), tensors, meta)
    report.append(f"{name}: max|logits-logits_reload| = {diff:.3g}, "
                  f"max|logits-logits_base| = {diff_base:.3g}, logits in "
                  f"{compute_dtype}")
    return model


# --------------------------------------------------------------------------
# self-checks of the recipe written in the docstring

FP8_MAX = 448.0


def fake_quant(x, s):
    """The fake quantization of compressed-tensors (_quantize_dequantize) for
    FP8 E4M3, in the dtype of x and s: q = RNE-cast(clamp(x / s, -448, 448)),
    result q * s."""
    q = torch.clamp(x / s, -FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn)
    return q.to(s.dtype) * s


def fp8_scale(amax):
    """calculate_qparams, symmetric FP8: amax / 448 in amax's dtype; an
    exact 0 becomes finfo(dtype).eps."""
    s = amax / FP8_MAX
    return torch.where(s == 0, torch.tensor(torch.finfo(s.dtype).eps,
                                             dtype=s.dtype), s)


def llama3_inv_freq(cfg, head_dim):
    theta = float(cfg["rope_theta"])
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64)
                           .to(torch.float32) / head_dim))
    rs = cfg.get("rope_scaling")
    if not rs or rs.get("rope_type", rs.get("type")) == "default":
        return inv
    factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    lo_wl, hi_wl = old / lo, old / hi
    wl = 2 * 3.141592653589793 / inv
    inv_l = torch.where(wl > lo_wl, inv / factor, inv)
    smooth = (old / wl - lo) / (hi - lo)
    smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
    medium = ~(wl < hi_wl) * ~(wl > lo_wl)
    return torch.where(medium, smoothed, inv_l)


@torch.no_grad()
def documented_forward(d, tokens):
    """An independent float32 Llama forward of the checkpoint in `d`, written
    from the recipe in the module docstring (not from transformers'
    modules): weights dequantized as fp8 * weight_scale, activations
    fake-quantized per token (dynamic) or with input_scale (static), k (after
    RoPE) and v fake-quantized with k_scale / v_scale."""
    from safetensors.torch import load_file
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    T = {k: v for k, v in load_file(os.path.join(d, "model.safetensors")).items()}
    qc = cfg.get("quantization_config")
    dyn = False
    if qc is not None:
        ia = qc["config_groups"]["group_0"]["input_activations"]
        dyn = bool(ia["dynamic"])
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    nkv, hd = cfg["num_key_value_heads"], cfg.get("head_dim") or H // nh
    eps = cfg["rms_norm_eps"]

    def f32(name):
        return T[name].to(torch.float32)

    def linear(prefix, x):
        w = T[prefix + ".weight"]
        if w.dtype == torch.float8_e4m3fn:
            w = w.to(torch.float32) * f32(prefix + ".weight_scale")
            if dyn:
                amax = x.abs().amax(dim=-1, keepdim=True)
                x = fake_quant(x, fp8_scale(amax))
            else:
                x = fake_quant(x, f32(prefix + ".input_scale"))
        else:
            w = w.to(torch.float32)
        return x @ w.T

    def rmsnorm(x, w):
        v = x.pow(2).mean(-1, keepdim=True)
        return f32(w) * (x * torch.rsqrt(v + eps))

    n = tokens.numel()
    inv = llama3_inv_freq(cfg, hd)
    pos = torch.arange(n, dtype=torch.float32)
    fr = pos[:, None] * inv[None, :]
    emb = torch.cat((fr, fr), dim=-1)
    cos, sin = emb.cos(), emb.sin()

    def rope(x):  # x [heads, n, hd]
        x1, x2 = x[..., :hd // 2], x[..., hd // 2:]
        return x * cos + torch.cat((-x2, x1), dim=-1) * sin

    h = f32("model.embed_tokens.weight")[tokens.to(torch.int64)]
    mask = torch.full((n, n), torch.finfo(torch.float32).min).triu(1)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        x = rmsnorm(h, p + "input_layernorm.weight")
        q = linear(p + "self_attn.q_proj", x).view(n, nh, hd).transpose(0, 1)
        k = linear(p + "self_attn.k_proj", x).view(n, nkv, hd).transpose(0, 1)
        v = linear(p + "self_attn.v_proj", x).view(n, nkv, hd).transpose(0, 1)
        q, k = rope(q), rope(k)
        if p + "self_attn.k_scale" in T:
            k = fake_quant(k, f32(p + "self_attn.k_scale"))
            v = fake_quant(v, f32(p + "self_attn.v_scale"))
        k = k.repeat_interleave(nh // nkv, dim=0)
        v = v.repeat_interleave(nh // nkv, dim=0)
        a = torch.softmax(q @ k.transpose(1, 2) * hd ** -0.5 + mask, dim=-1)
        o = (a @ v).transpose(0, 1).reshape(n, nh * hd)
        h = h + linear(p + "self_attn.o_proj", o)
        x = rmsnorm(h, p + "post_attention_layernorm.weight")
        g = linear(p + "mlp.gate_proj", x)
        u = linear(p + "mlp.up_proj", x)
        h = h + linear(p + "mlp.down_proj", torch.nn.functional.silu(g) * u)
    h = rmsnorm(h, "model.norm.weight")
    lm = "lm_head.weight" if "lm_head.weight" in T else "model.embed_tokens.weight"
    return h @ f32(lm).T


@torch.no_grad()
def verify_scales(out, name, spec):
    """Recompute every weight_scale, fp8 weight, input_scale, k_scale and
    v_scale of a quantized checkpoint from its base checkpoint with the
    recipe of the docstring, and demand bit equality."""
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, DynamicCache
    d = os.path.join(out, name)
    base_dir = os.path.join(out, spec["base"])
    T = load_file(os.path.join(d, "model.safetensors"))
    dt = DTYPES[spec["load_dtype"]]
    B = {k: v.to(dt) for k, v in
         load_file(os.path.join(base_dir, "model.safetensors")).items()}
    channel = spec["scheme"] == "FP8_DYNAMIC"
    n_w = n_a = n_kv = 0
    for k, q in T.items():
        if not k.endswith(".weight") or q.dtype != torch.float8_e4m3fn:
            continue
        prefix = k[:-len(".weight")]
        w = B[k]
        amax = (w.abs().amax(dim=1, keepdim=True) if channel
                else w.abs().amax().reshape(1))
        s = fp8_scale(amax)
        if not torch.equal(s, T[prefix + ".weight_scale"]):
            raise RuntimeError(f"{name}: {prefix}.weight_scale differs from "
                               "the documented recipe")
        qq = torch.clamp(w / s, -FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn)
        if not torch.equal(qq.view(torch.uint8), q.view(torch.uint8)):
            raise RuntimeError(f"{name}: {k} codes differ from the "
                               "documented recipe")
        n_w += 1
    if not spec["calib"]:
        return f"{n_w} weight scales + fp8 weights"

    model = AutoModelForCausalLM.from_pretrained(
        base_dir, dtype=dt, attn_implementation="eager")
    model.eval()
    with open(os.path.join(base_dir, "config.json")) as f:
        vocab = json.load(f)["vocab_size"]
    amax = {}
    hooks = []
    for mname, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and mname != "lm_head":
            def pre(m, args, mname=mname):
                a = args[0].abs().amax().reshape(1)
                amax[mname] = a if mname not in amax else torch.max(amax[mname], a)
            hooks.append(mod.register_forward_pre_hook(pre))
    ema = {}
    for seq in calib_tokens(vocab):  # batch size 1, dataset order
        cache = DynamicCache(config=model.config)
        model(input_ids=seq.reshape(1, -1), past_key_values=cache,
              use_cache=True)
        for i, layer in enumerate(cache.layers):
            for kind, t in (("k", layer.keys), ("v", layer.values)):
                mn, mx = t.amin().reshape(1), t.amax().reshape(1)
                if (i, kind) in ema:  # MinMaxObserver: lerp, constant 0.01
                    pmn, pmx = ema[(i, kind)]
                    mn = pmn * (1.0 - 0.01) + mn * 0.01
                    mx = pmx * (1.0 - 0.01) + mx * 0.01
                ema[(i, kind)] = (mn, mx)
    for h in hooks:
        h.remove()
    for mname, a in amax.items():
        if not torch.equal(fp8_scale(a), T[mname + ".input_scale"]):
            raise RuntimeError(f"{name}: {mname}.input_scale differs from "
                               "the documented recipe")
        n_a += 1
    if spec["kv"]:
        for (i, kind), (mn, mx) in ema.items():
            mv = torch.max(torch.min(mn, torch.zeros_like(mn)).abs(),
                           torch.max(mx, torch.zeros_like(mx)))
            key = f"model.layers.{i}.self_attn.{kind}_scale"
            if not torch.equal(fp8_scale(mv), T[key]):
                raise RuntimeError(f"{name}: {key} {T[key].tolist()} differs "
                                   f"from the documented recipe "
                                   f"{fp8_scale(mv).tolist()}")
            n_kv += 1
    return (f"{n_w} weight scales + fp8 weights, {n_a} input scales, "
            f"{n_kv} kv scales")


# --------------------------------------------------------------------------
# listings


def listing(d):
    from safetensors import safe_open
    lines = []
    with safe_open(os.path.join(d, "model.safetensors"), "pt") as f:
        meta = f.metadata()
        for k in sorted(f.keys()):
            sl = f.get_slice(k)
            lines.append(f"  {k} {sl.get_dtype()} {list(sl.get_shape())}")
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    q = cfg.get("quantization_config")
    head = [f"{os.path.basename(d)}: model.safetensors metadata {meta}"]
    if q is not None:
        head.append("  quantization_config: " + json.dumps(q, sort_keys=True))
    return "\n".join(head + lines)


def sha256(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


# --------------------------------------------------------------------------
# modes


def cmd_generate(args):
    setup_determinism()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    for name in list(BASE_MODELS) + list(QUANT_MODELS):
        p = os.path.join(out, name)
        if os.path.isdir(p):
            shutil.rmtree(p)
    vers = versions()
    report = []
    build_base_models(out, vers, report)
    for name, spec in QUANT_MODELS.items():
        quantize_one(out, name, spec, vers, report)

    with open(os.path.join(out, "VERSIONS.txt"), "w") as f:
        f.write("# written by tools/gen_model_fixtures.py; the packages "
                "these fixtures were made with\n")
        for k, v in vers.items():
            if k == "torch.__version__":
                f.write(f"# torch.__version__ (wheel build tag): {v}\n")
            else:
                f.write(f"{k}=={v}\n")
    for name in list(BASE_MODELS) + list(QUANT_MODELS):
        d = os.path.join(out, name)
        from safetensors.torch import load_file
        ref = load_file(os.path.join(d, "ref.safetensors"))
        key = "logits_reload" if "logits_reload" in ref else "logits"
        diff = max_abs(documented_forward(d, ref["tokens"]), ref[key])
        msg = f"{name}: documented_forward vs {key}: max abs {diff:.3g}"
        if name in QUANT_MODELS:
            msg += "; " + verify_scales(out, name, QUANT_MODELS[name])
        report.append(msg)
        if diff > 1e-3:
            raise RuntimeError(msg)
    print("\n".join(report))
    print()
    for name in list(BASE_MODELS) + list(QUANT_MODELS):
        print(listing(os.path.join(out, name)))
    print()
    for root, _, files in sorted(os.walk(out)):
        for fn in sorted(files):
            p = os.path.join(root, fn)
            print(f"{sha256(p)}  {os.path.getsize(p):8d}  "
                  f"{os.path.relpath(p, out)}")


def cmd_check(args):
    setup_determinism()
    from safetensors.torch import load_file
    d = args.dir
    cfgp = os.path.join(d, "config.json")
    try:
        with open(cfgp) as f:
            cfg = json.load(f)
        vocab = int(cfg["vocab_size"])
    except Exception as e:  # noqa: BLE001
        sys.exit(f"check-checkpoint: cannot read {cfgp}: {e}")
    if args.tokens_from:
        try:
            tok = load_file(args.tokens_from)["tokens"].to(torch.int64)
        except Exception as e:  # noqa: BLE001
            sys.exit(f"check-checkpoint: cannot read 'tokens' from "
                     f"{args.tokens_from}: {e}")
        if tok.ndim != 1 or tok.numel() == 0:
            sys.exit("check-checkpoint: 'tokens' must be a non-empty 1-D "
                     "tensor")
        if int(tok.min()) < 0 or int(tok.max()) >= vocab:
            sys.exit(f"check-checkpoint: token ids out of range for "
                     f"vocab_size {vocab}")
    else:
        tok = fixed_tokens(vocab)
    try:
        model = load_f32(d)
    except Exception as e:  # noqa: BLE001
        kind = ("compressed-tensors checkpoint"
                if "quantization_config" in cfg else "checkpoint")
        sys.exit(f"check-checkpoint: transformers could not load the {kind} "
                 f"{d}: {type(e).__name__}: {e}")
    try:
        logits = forward_logits(model, tok)
    except Exception as e:  # noqa: BLE001
        sys.exit(f"check-checkpoint: forward failed for {d}: "
                 f"{type(e).__name__}: {e}")
    if not torch.isfinite(logits).all():
        sys.exit(f"check-checkpoint: non-finite logits from {d}")
    save_ref(args.out, {"tokens": tok.to(torch.int32), "logits": logits},
             {"description": f"check-checkpoint of {d}: {tok.numel()} "
              "tokens, one forward (use_cache=False) in float32, eager "
              "attention",
              "quantized": "yes" if "quantization_config" in cfg else "no",
              "versions": versions()})
    print(f"check-checkpoint: {d}: {tok.numel()} tokens -> {args.out} "
          f"(logits {list(logits.shape)})")


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd")
    g = sub.add_parser("generate", help="write the fixtures (the default)")
    g.add_argument("--out", default=DEFAULT_OUT)
    c = sub.add_parser("check-checkpoint",
                       help="load DIR with transformers, write its logits")
    c.add_argument("dir", metavar="DIR")
    c.add_argument("out", metavar="OUT.safetensors")
    c.add_argument("--tokens-from", metavar="REF.safetensors")
    argv = sys.argv[1:]
    if not argv or argv[0] not in ("generate", "check-checkpoint", "-h",
                                   "--help"):
        argv = ["generate"] + argv
    args = ap.parse_args(argv)
    if args.cmd == "check-checkpoint":
        cmd_check(args)
    else:
        cmd_generate(args)


if __name__ == "__main__":
    main()
