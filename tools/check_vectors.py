#!/usr/bin/env python3
"""Runs other FP8 implementations against fp8q's conformance test vectors and
tabulates where they agree.

    python3 tools/check_vectors.py VECTORS_DIR [--out FILE] [--libs ml_dtypes,torch] [--by-type]

VECTORS_DIR is written by `fp8q vectors VECTORS_DIR` (format:
vectors/README.md). Every encode / decode file of a format the library has
is run through it: ml_dtypes (numpy astype; float8_e4m3fn, float8_e5m2,
float8_e4m3fnuz, float8_e5m2fnuz, float8_e8m0fnu) and PyTorch CPU
(Tensor.to with torch.float8_*). Both come from PyPI:
    pip install numpy ml_dtypes torch

Prints a markdown table, one row per (library, operation, format,
saturation, rounding): cases, agree, differ, and "why": every differing case
is classified by the rules in classify_encode / classify_e8m0 /
classify_decode below (from the input value, fp8q's byte and the library's
byte, with the format's NaN / Inf codes and largest finite value taken from
the vectors' own decode files), and the classes are listed with their
counts. Libraries have no saturation or rounding-mode argument here: a
satfinite file shows what their default cast does there. --out FILE writes
the same table (with its header lines) to FILE.
"""

import argparse
import collections
import os
import sys

import numpy as np

FP8_FORMATS = ("e4m3fn", "e5m2", "e4m3fnuz", "e5m2fnuz")
WIDE = ("f32", "f64", "f16", "bf16")

# --------------------------------------------------------- vector files


def read_conversion(path):
    """(header dict, inputs uint64, outputs uint64) of an encode/decode file."""
    header, data = {}, []
    with open(path) as f:
        for line in f.read().split("\n"):
            if line.startswith("# ") and ": " in line:
                k, v = line[2:].split(": ", 1)
                header[k] = v
            elif line and line[0] != "#":
                data.append(line)
    width = len(data[0].split(" "))
    tok = " ".join(data).split(" ")
    cols = [tok[i::width] for i in (0, width - 1)]
    dtype = {2: ">u1", 4: ">u2", 8: ">u4", 16: ">u8"}
    arrays = [np.frombuffer(bytes.fromhex("".join(c)), dtype[len(c[0])]).astype(np.uint64) for c in cols]
    return header, arrays[0], arrays[1]


def widen(bits, wide):
    """Input bit patterns as float64 values (exact)."""
    if wide == "f32":
        return bits.astype(np.uint32).view(np.float32).astype(np.float64)
    if wide == "f64":
        return bits.view(np.float64)
    if wide == "f16":
        return bits.astype(np.uint16).view(np.float16).astype(np.float64)
    return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


class FormatFacts:
    """NaN / Inf codes, largest finite value and overflow threshold of a
    format, from the vectors' decode-f64 file (E8M0: decode-f32)."""

    def __init__(self, vectors, fmt):
        name = "decode-%s-%s.txt" % ("f32" if fmt == "e8m0" else "f64", fmt)
        _, codes, bits = read_conversion(os.path.join(vectors, name))
        vals = np.empty(256, np.float64)
        vals[codes.astype(np.int64)] = widen(bits, "f32" if fmt == "e8m0" else "f64")
        self.fmt = fmt
        self.values = vals
        self.is_nan = np.isnan(vals)
        self.is_inf = np.isinf(vals)
        finite = np.sort(np.unique(np.abs(vals[np.isfinite(vals)])))
        self.max_finite = finite[-1]
        self.max_code = int(np.nonzero(vals == self.max_finite)[0][0])
        step = finite[-1] - finite[-2]
        self.threshold = self.max_finite + step / 2  # the midpoint above the largest finite
        self.tie_overflows = self.max_code % 2 == 1  # RNE: the tie goes to the even neighbour (max_code + 1)

    def overflows(self, x):
        a = np.abs(x)
        return np.isinf(a) | (a > self.threshold) | ((a == self.threshold) & self.tie_overflows)


# ------------------------------------------------------------ libraries


class MlDtypes:
    name = "ml_dtypes"

    def __init__(self):
        import ml_dtypes
        self.m = ml_dtypes
        self.version = ml_dtypes.__version__
        self.formats = {"e4m3fn": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2,
                        "e4m3fnuz": ml_dtypes.float8_e4m3fnuz, "e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
                        "e8m0": ml_dtypes.float8_e8m0fnu}

    def _source(self, bits, wide):
        if wide == "f32":
            return bits.astype(np.uint32).view(np.float32)
        if wide == "f64":
            return bits.view(np.float64)
        if wide == "f16":
            return bits.astype(np.uint16).view(np.float16)
        return bits.astype(np.uint16).view(self.m.bfloat16)

    def encode(self, bits, wide, fmt):
        with np.errstate(all="ignore"):
            return self._source(bits, wide).astype(self.formats[fmt]).view(np.uint8)

    def decode(self, codes, wide, fmt):
        dtype = {"f32": np.float32, "f64": np.float64, "f16": np.float16, "bf16": self.m.bfloat16}[wide]
        v = codes.astype(np.uint8).view(self.formats[fmt]).astype(dtype)
        return v.view({"f32": np.uint32, "f64": np.uint64, "f16": np.uint16, "bf16": np.uint16}[wide])


class Torch:
    name = "torch"

    def __init__(self):
        import torch
        self.t = torch
        self.version = torch.__version__
        self.formats = {"e4m3fn": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2,
                        "e4m3fnuz": torch.float8_e4m3fnuz, "e5m2fnuz": torch.float8_e5m2fnuz}
        if hasattr(torch, "float8_e8m0fnu"):
            self.formats["e8m0"] = torch.float8_e8m0fnu

    def _source(self, bits, wide):
        t = self.t
        if wide == "f32":
            return t.from_numpy(bits.astype(np.uint32).view(np.int32).copy()).view(t.float32)
        if wide == "f64":
            return t.from_numpy(bits.view(np.int64).copy()).view(t.float64)
        return t.from_numpy(bits.astype(np.uint16).view(np.int16).copy()).view(t.float16 if wide == "f16"
                                                                                  else t.bfloat16)

    def encode(self, bits, wide, fmt):
        return self._source(bits, wide).to(self.formats[fmt]).view(self.t.uint8).numpy()

    def decode(self, codes, wide, fmt):
        t = self.t
        dtype, view, np_view = {"f32": (t.float32, t.int32, np.uint32), "f64": (t.float64, t.int64, np.uint64),
                                "f16": (t.float16, t.int16, np.uint16), "bf16": (t.bfloat16, t.int16, np.uint16)}[wide]
        q = t.from_numpy(codes.astype(np.uint8)).view(self.formats[fmt])
        return q.to(dtype).view(view).numpy().view(np_view)


LIBRARIES = {"ml_dtypes": MlDtypes, "torch": Torch}

# ------------------------------------------------------- classification


def _label(classes, mask, text):
    """Sets text on the still unlabelled cases of mask."""
    m = mask & (classes == "")
    classes[m] = text


def classify_encode(x, want, got, facts, sat, via_f32):
    """Why got (library) differs from want (fp8q) for FP8 encodes; x: the
    inputs as float64; via_f32: the library's bytes for float32(x) (f64 files)
    or None."""
    diff = want != got
    classes = np.full(x.shape, "", object)
    nan_in, inf_in = np.isnan(x), np.isinf(x)
    got_nan, got_inf = facts.is_nan[got], facts.is_inf[got]
    got_max = (got & 0x7F) == facts.max_code
    sign_only = (want ^ got) == 0x80
    _label(classes, diff & nan_in & got_nan & sign_only, "NaN sign")
    _label(classes, diff & nan_in & got_nan & ((want & 0x80) == (got & 0x80)), "%s NaN payload" % facts.fmt.upper())
    _label(classes, diff & nan_in & got_nan, "NaN sign and payload")
    _label(classes, diff & nan_in, "NaN becomes a number")
    if via_f32 is not None:
        with np.errstate(all="ignore"):
            x32 = x.astype(np.float32).astype(np.float64)
        # float32(x) != x and, unless both overflow, the library's byte is that of float32(x)
        double = np.isfinite(x) & (x32 != x) & ~(facts.overflows(x) & facts.overflows(x32)) & (got == via_f32)
        _label(classes, diff & double, "double rounded via float32")
    if sat == "satfinite":
        _label(classes, diff & inf_in & got_nan, "Inf -> NaN, not clamped")
        _label(classes, diff & inf_in & got_inf, "Inf not clamped")
        over = facts.overflows(x) & ~inf_in
        _label(classes, diff & over & got_nan, "no satfinite mode: overflow -> NaN")
        _label(classes, diff & over & got_inf, "no satfinite mode: overflow -> Inf")
    else:
        _label(classes, diff & inf_in & got_max, "Inf clamped to max")
        _label(classes, diff & inf_in & got_nan & facts.is_nan[want], "NaN sign of Inf")
        over = facts.overflows(x) & ~inf_in
        _label(classes, diff & over & got_max, "saturates finite overflow")
        _label(classes, diff & over & got_nan & facts.is_nan[want], "NaN sign on overflow")
        _label(classes, diff & over & got_nan, "overflow -> NaN, not Inf")
    _label(classes, diff & (inf_in | facts.overflows(x)), "overflow code differs")
    _label(classes, diff & (want == 0x80) & (got == 0x00), "-0 flushed to +0")
    _label(classes, diff, "rounding differs")
    return classes[diff]


def classify_e8m0(x, want, got, got_abs, sat, rounding):
    """Why got differs from want for E8M0 encodes (fp8q: sign ignored,
    rounding toward zero or up, CUDA's rules); got_abs: the library's bytes
    for |x|."""
    diff = want != got
    classes = np.full(x.shape, "", object)
    a = np.abs(x)
    with np.errstate(all="ignore"):
        e = np.floor(np.log2(np.where(a > 0, a, 1.0)))
        nearest = np.where(a / 2.0 ** e >= 1.5, e + 1, e) + 127  # RNE on the significand, ties up
    big = np.isinf(x) | (a >= 2.0 ** 127)
    _label(classes, diff & np.isnan(x), "NaN not FF")
    _label(classes, diff & (x == 0) & (got == 0xFF), "zero -> NaN")
    _label(classes, diff & (x < 0) & (got == 0xFF) & (got_abs != 0xFF), "negative -> NaN (sign not ignored)")
    _label(classes, diff & (a >= 2.0 ** -126) & np.isfinite(x) & (got == nearest),
           "rounds to nearest, not %s" % ("toward zero" if rounding == "rz" else "up"))
    _label(classes, diff & big & (got == 0xFF), "overflow -> NaN, not clamped")
    _label(classes, diff & big & (got == 0xFE), "overflow clamped to FE")
    _label(classes, diff & big, "overflow code differs")
    _label(classes, diff & (a < 2.0 ** -126), "subnormal input handling")
    _label(classes, diff, "rounding differs")
    return classes[diff]


def classify_decode(want, got, wide):
    """Why decoded bits differ (fp8q: exact values, one canonical NaN)."""
    diff = want != got
    classes = np.full(want.shape, "", object)
    w, g = widen(want, wide), widen(got, wide)
    sign_bit = {"f32": 31, "f64": 63, "f16": 15, "bf16": 15}[wide]
    sign_differs = ((want ^ got) >> np.uint64(sign_bit)) == 1
    both_nan = np.isnan(w) & np.isnan(g)
    _label(classes, diff & both_nan & sign_differs, "NaN sign")
    _label(classes, diff & both_nan, "NaN payload")
    _label(classes, diff & np.isnan(w), "NaN code decoded as a number")
    _label(classes, diff, "value differs")
    return classes[diff]


# ---------------------------------------------------------------- table

Row = collections.namedtuple("Row", "library operation format saturation rounding cases agree differ why")


def _why(counts):
    return "; ".join("%s (%d)" % (k, n) for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def grouped(rows):
    """Rows summed over the wide types: one per (library, encode/decode,
    format, saturation, rounding); the operation names the types summed."""
    groups = collections.OrderedDict()
    for r in rows:
        op, wide = r.operation.split(" ")
        key = (r.library, op, r.format, r.saturation, r.rounding)
        g = groups.setdefault(key, [[], 0, 0, collections.Counter()])
        g[0].append(wide)
        g[1] += r.cases
        g[2] += r.agree
        g[3].update(r.why)
    return [Row(k[0], "%s %s" % (k[1], "/".join(g[0])), k[2], k[3], k[4], g[1], g[2], g[1] - g[2], g[3])
            for k, g in groups.items()]


def _file_kind(name):
    """(operation, wide type, format, saturation, rounding) from a file name, or None."""
    parts = name[:-4].split("-")
    if parts[0] == "encode" and len(parts) == 5:
        return tuple(parts)
    if parts[0] == "decode" and len(parts) == 3:
        return (parts[0], parts[1], parts[2], "none", "exact")
    return None


def check_library(lib, vectors, names, facts):
    rows = []
    for name in names:
        op, wide, fmt, sat, rnd = _file_kind(name)
        if fmt not in lib.formats or (wide == "f64" and fmt == "e8m0"):
            continue
        _, inp, want = read_conversion(os.path.join(vectors, name))
        if op == "encode":
            got = lib.encode(inp, wide, fmt).astype(np.int64)
            want_i = want.astype(np.int64)
            x = widen(inp, wide)
            if fmt == "e8m0":
                sign = np.uint64(0x80000000 if wide == "f32" else 0x8000)
                got_abs = lib.encode(inp & ~sign, wide, fmt).astype(np.int64)
                classes = classify_e8m0(x, want_i, got, got_abs, sat, rnd)
            else:
                via = None
                if wide == "f64":
                    f32 = x.astype(np.float32).view(np.uint32).astype(np.uint64)
                    via = lib.encode(f32, "f32", fmt).astype(np.int64)
                classes = classify_encode(x, want_i, got, facts[fmt], sat, via)
        else:
            got = lib.decode(inp, wide, fmt).astype(np.uint64)
            classes = classify_decode(want, got, wide)
        n, d = len(inp), len(classes)
        rows.append(Row(lib.name, "%s %s" % (op, wide), fmt, sat, rnd, n, n - d, d,
                        collections.Counter(classes.tolist())))
    return rows


def markdown(rows, notes):
    out = notes + ["", "| library | operation | format | saturation | rounding | cases | agree | differ | why |",
                   "|---|---|---|---|---|---:|---:|---:|---|"]
    for r in rows:
        out.append("| %s | %s | %s | %s | %s | %d | %d | %d | %s |" % (r.library, r.operation, r.format, r.saturation,
                                                                       r.rounding, r.cases, r.agree, r.differ,
                                                                       _why(r.why) or "-"))
    return "\n".join(out) + "\n"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("vectors", help="directory written by `fp8q vectors`")
    ap.add_argument("--out", help="also write the table to this file")
    ap.add_argument("--libs", default="ml_dtypes,torch", help="comma-separated: ml_dtypes, torch")
    ap.add_argument("--by-type", action="store_true", help="one row per file (source / destination type)")
    args = ap.parse_args(argv[1:])
    np.seterr(all="ignore")  # NaN and overflow casts are part of the data
    names = sorted(n for n in os.listdir(args.vectors) if n.endswith(".txt") and _file_kind(n))
    if not names:
        print("no encode/decode vector files in %s (write them with `fp8q vectors DIR`)" % args.vectors,
              file=sys.stderr)
        return 1
    header, _, _ = read_conversion(os.path.join(args.vectors, names[0]))
    facts = {f: FormatFacts(args.vectors, f) for f in FP8_FORMATS}
    notes = ["fp8q %s vectors; numpy %s" % (header.get("fp8q", "?"), np.__version__)]
    rows = []
    for lib_name in args.libs.split(","):
        if lib_name not in LIBRARIES:
            print("unknown library %r (one of %s)" % (lib_name, ", ".join(LIBRARIES)), file=sys.stderr)
            return 2
        try:
            lib = LIBRARIES[lib_name]()
        except ImportError as e:
            notes.append("%s: not installed (%s), not run" % (lib_name, e))
            continue
        notes[0] += "; %s %s" % (lib.name, lib.version)
        rows += check_library(lib, args.vectors, names, facts)
    text = markdown(rows if args.by_type else grouped(rows), notes)
    sys.stdout.write(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
