#!/usr/bin/env python3
"""Tests of the Python bridge python/fp8q.py (ctypes) against C and against
independent Python computations.

    python3 tests/test_python.py [path/to/libfp8q.so] [--vectors DIR]

Needs numpy; ml_dtypes is optional (its comparisons are skipped, and counted,
without it). The library defaults to the bridge's own search ($FP8Q_LIBRARY,
build/libfp8q.so). C references:
  - test vectors written by C (`fp8q vectors DIR`): --vectors DIR, else
    build/fp8q vectors into a temporary directory, else tools/cli_vectors.c
    compiled here with $CC (default cc) and a temporary main;
  - struct layouts: a program printing offsetof/sizeof of fp8q.h's structs,
    compiled with $CC (skipped without a compiler).
Independent expectations: FP8 decoding from the format's bit fields, an RNE
encoder written from NUMERICS.md section 2 (numpy, float64 midpoints),
E8M0 from its definition, exact GEMMs with fractions.Fraction rounded once
by integer round-to-nearest-even.

Prints "ok   NAME" / "FAIL NAME" / "skip NAME (why)" per case and ends
with "N passed, N failed, N skipped"; exit status 1 on any failure.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from fractions import Fraction

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(ROOT, "python"))
import fp8q  # noqa: E402

try:
    import ml_dtypes
except ImportError:
    ml_dtypes = None

# ------------------------------------------------------------- harness

COUNTS = {"passed": 0, "failed": 0, "skipped": 0}
_failures = []


class Skip(Exception):
    pass


def check(cond, msg, *args):
    """Records a mismatch (the first 12 of a case are printed)."""
    if not cond:
        if len(_failures) < 12:
            print("    " + (msg % args if args else msg))
        _failures.append(msg)
    return cond


def run_case(name, fn):
    del _failures[:]
    try:
        fn()
    except Skip as s:
        COUNTS["skipped"] += 1
        print("skip %s (%s)" % (name, s))
        return
    except Exception:
        traceback.print_exc(limit=4)
        _failures.append("exception")
    if _failures:
        COUNTS["failed"] += 1
        print("FAIL %s (%d mismatches)" % (name, len(_failures)))
    else:
        COUNTS["passed"] += 1
        print("ok   %s" % name)


def expect_raises(exc, fn, *words):
    """fn() must raise exc whose message contains every word."""
    try:
        fn()
    except exc as e:
        text = str(e)
        for w in words:
            check(w in text, "message %r lacks %r", text, w)
        return e
    except Exception as e:  # the wrong exception
        check(False, "expected %s, got %s: %s", exc.__name__, type(e).__name__, e)
        return None
    check(False, "expected %s, nothing raised", exc.__name__)
    return None


def bits32(a):
    return np.ascontiguousarray(a, np.float32).view(np.uint32)


# ------------------------------------------------------ C vector files

def read_vector_file(path):
    """(header dict, list of data lines split into fields)."""
    header, rows = {}, []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                if ": " in line:
                    k, v = line[2:].split(": ", 1)
                    header[k] = v
            else:
                rows.append(line.split(" "))
    return header, rows


_HEX_DTYPES = {2: ">u1", 4: ">u2", 8: ">u4", 16: ">u8"}


def _hex_column(tokens):
    """Fixed-width hex tokens -> uint64 array (bytes.fromhex: fast)."""
    if not tokens:
        return np.zeros(0, np.uint64)
    return np.frombuffer(bytes.fromhex("".join(tokens)), _HEX_DTYPES[len(tokens[0])]).astype(np.uint64)


_CONVERSIONS = {}


def conversion_file(name):
    """(header, inputs as uint64, outputs as uint64) of a conversion file
    (first column input, last column output); parsed once."""
    if name not in _CONVERSIONS:
        header, data = {}, []
        with open(os.path.join(VECTORS, name)) as f:
            for line in f.read().split("\n"):
                if line.startswith("# ") and ": " in line:
                    k, v = line[2:].split(": ", 1)
                    header[k] = v
                elif line and line[0] != "#":
                    data.append(line)
        width = len(data[0].split(" ")) if data else 2
        tok = " ".join(data).split(" ")
        check(len(tok) == width * len(data), "%s: ragged lines", name)
        check(len(data) == int(header["cases"]), "%s: %d cases, header says %s", name, len(data), header["cases"])
        _CONVERSIONS[name] = (header, _hex_column(tok[0::width]), _hex_column(tok[width - 1::width]))
    return _CONVERSIONS[name]


def hexes(fields, dtype):
    return np.array([int(v, 16) for v in fields], dtype)


def records(name):
    """The cases of a record file (recipe-*, gemm-*): a list of
    (case fields, {key: [hex fields]}) plus the header."""
    header, rows = read_vector_file(os.path.join(VECTORS, name))
    cases = []
    for r in rows:
        if r[0] == "case":
            cases.append((r[1:], {}))
        else:
            cases[-1][1][r[0]] = r[1:]
    check(len(cases) == int(header["cases"]), "%s: %d cases, header says %s", name, len(cases), header["cases"])
    return header, cases


def compiler():
    cc = os.environ.get("CC", "cc")
    return cc if shutil.which(cc) else None


def make_vectors(out_dir):
    """Writes C vectors into out_dir; returns a description or raises."""
    cli = os.path.join(ROOT, "build", "fp8q")
    if os.path.exists(cli) and subprocess.run([cli, "vectors", "--help"], capture_output=True).returncode == 0:
        subprocess.run([cli, "vectors", out_dir, "--count", "512"], check=True, capture_output=True)
        return "build/fp8q vectors"
    cc = compiler()
    if not cc:
        raise RuntimeError("no C vectors: pass --vectors DIR, build build/fp8q, or install a C compiler")
    main = os.path.join(out_dir, "vectors_main.c")
    with open(main, "w") as f:
        f.write('#define FP8Q_IMPLEMENTATION\n#include "fp8q.h"\nint fp8q_cli_vectors(int argc, char **argv);\n'
                "int main(int argc, char **argv) { return fp8q_cli_vectors(argc, argv); }\n")
    exe = os.path.join(out_dir, "vectors_gen")
    subprocess.run([cc, "-std=c99", "-O1", "-I" + ROOT, main, os.path.join(ROOT, "tools", "cli_vectors.c"), "-o",
                    exe, "-lm", "-pthread"], check=True)
    subprocess.run([exe, out_dir, "--count", "512"], check=True, capture_output=True)
    return "tools/cli_vectors.c compiled with " + cc


# --------------------------------------- independent format arithmetic

FORMAT_FIELDS = {  # name: (exponent bits, mantissa bits, bias, specials), from NUMERICS.md 1.2
    "e4m3fn": (4, 3, 7, "fn"), "e5m2": (5, 2, 15, "ieee"),
    "e4m3fnuz": (4, 3, 8, "fnuz"), "e5m2fnuz": (5, 2, 16, "fnuz"),
}


def ref_value(code, fmt):
    """The value of an FP8 byte as a Python float (exact), from the bit fields."""
    E, M, bias, specials = FORMAT_FIELDS[fmt]
    sign = -1.0 if code & 0x80 else 1.0
    e, m = (code >> M) & ((1 << E) - 1), code & ((1 << M) - 1)
    if specials == "fnuz" and code == 0x80:
        return float("nan")
    if specials == "fn" and (code & 0x7F) == 0x7F:
        return float("nan")
    if specials == "ieee" and e == (1 << E) - 1:
        return sign * float("inf") if m == 0 else float("nan")
    if e == 0:
        return sign * m * 2.0 ** (1 - bias - M)
    return sign * (1 + m / 2.0 ** M) * 2.0 ** (e - bias)


def ref_table(fmt):
    """(positive finite values ascending, their codes) plus the value one ulp
    above the largest finite, with code max_code + 1 (its parity decides ties)."""
    vals = [(ref_value(c, fmt), c) for c in range(128)]
    vals = [(v, c) for v, c in vals if v == v and v != float("inf")]
    vals.sort()
    v, c = zip(*vals)
    v, c = list(v), list(c)
    ulp = v[-1] - v[-2]
    v.append(v[-1] + ulp)
    c.append(c[-1] + 1)
    return np.array(v, np.float64), np.array(c, np.int64)


def ref_encode(x64, fmt, sat):
    """RNE encoder from NUMERICS.md 2.1-2.2 on float64 values x64 (float32,
    half and bfloat16 inputs are widened exactly; float64 input is rounded
    once). NaN -> 7F (OCP; CUDA drops the sign) / 80 (FNUZ)."""
    E, M, bias, specials = FORMAT_FIELDS[fmt]
    vals, codes = ref_table(fmt)
    max_code = int(codes[-2])
    a = np.abs(x64)
    neg = np.signbit(x64)
    hi_i = np.clip(np.searchsorted(vals, a, side="left"), 1, len(vals) - 1)
    lo, hi = vals[hi_i - 1], vals[hi_i]
    mid = (lo + hi) / 2  # exact: FP8 values have few significant bits
    pick_hi = (a > mid) | ((a == mid) & (codes[hi_i] % 2 == 0))
    idx = np.where(pick_hi, hi_i, hi_i - 1)
    idx = np.where(a <= 0, 0, idx)
    code = codes[idx]
    code = np.where(a > vals[-1], max_code + 1, code)  # beyond the virtual value, Inf
    overflow = code > max_code
    if sat == "satfinite":
        over_code = max_code
    elif specials == "ieee":
        over_code = max_code + 1  # Inf
    elif specials == "fn":
        over_code = 0x7F
    else:
        over_code = 0x80
    code = np.where(overflow, over_code, code)
    signed = np.where(neg, code | 0x80, code)
    if specials == "fnuz":
        signed = np.where(code == 0, 0, signed)
        signed = np.where(overflow & (sat == "nosat"), 0x80, signed)
    nan_code = 0x80 if specials == "fnuz" else 0x7F
    return np.where(np.isnan(x64), nan_code, signed).astype(np.uint8)


def f32_sample(n, seed):
    """Varied float32 inputs: all special values, every FP8 value of every
    format and its neighbours, midpoints +-1 ulp, random in-range and random
    bit patterns."""
    rng = np.random.default_rng(seed)
    pts = [0.0, -0.0, np.inf, -np.inf, 1e38, 3.4028235e38, 1e-45, 1.1754944e-38, 464.0, 480.0, 61440.0, 248.0]
    for fmt in FORMAT_FIELDS:
        v, _ = ref_table(fmt)
        pts += list(v) + list((v[1:] + v[:-1]) / 2) + [v[1] / 2]
    base = np.array(pts, np.float32)
    around = [base.view(np.uint32).astype(np.int64) + d for d in (-1, 0, 1)]
    special_bits = [0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FFFFFFF, 0xFFFFFFFF, 0x7FA00000]
    parts = [np.concatenate(around).astype(np.uint32), np.array(special_bits, np.uint32)]
    parts.append(rng.integers(0, 2 ** 32, n, dtype=np.uint64).astype(np.uint32))
    mags = np.ldexp(rng.random(n) + 0.5, rng.integers(-24, 18, n)).astype(np.float32)
    parts.append((mags * rng.choice([-1, 1], n).astype(np.float32)).view(np.uint32))
    u = np.concatenate(parts)
    return np.concatenate([u, u ^ np.uint32(0x80000000)]).view(np.float32)


# E8M0 from its definition: 2^(code - 127), FF NaN
_E8M0_POW = np.array([2.0 ** (c - 127) for c in range(255)], np.float64)


def ref_e8m0(x32, sat, rounding):
    """fp8q.h's E8M0 rule: sign ignored, NaN -> FF; zero: 2^floor(log2|x|),
    |x| < 2^-126 -> 00; up: |x| rounded up to bfloat16, then 2^ceil(log2),
    |x| <= 2^-127 -> 00; above 2^127: FE (satfinite) / FF (nosat)."""
    out = []
    top = 0xFE if sat == "satfinite" else 0xFF
    for x in x32.astype(np.float64).tolist():
        a = abs(x)
        if a != a:
            out.append(0xFF)
            continue
        if rounding == "up":
            b = np.array([a], np.float32).view(np.uint32)[0]
            if b & 0xFFFF and b < 0x7F800000:
                b = (b + 0x10000) & 0xFFFF0000
            a = float(np.uint32(b).view(np.float32))
            i = int(np.searchsorted(_E8M0_POW, a, side="left"))  # smallest 2^e >= a
            out.append(top if i >= 255 else i)
        else:
            if a < 2.0 ** -126:
                out.append(0)
                continue
            i = int(np.searchsorted(_E8M0_POW, a, side="right")) - 1  # largest 2^e <= a
            out.append(top if a == float("inf") else i)
    return np.array(out, np.uint8)


# exact rounding of a Fraction to an IEEE binary format, for the GEMM
_BINARY = {"f32": (24, 8, 127), "bf16": (8, 8, 127), "f16": (11, 5, 15)}  # significand bits, exponent bits, bias


def round_fraction(fr, out):
    """fr rounded once (nearest, ties to even) to out's bit pattern; exact 0 -> +0."""
    p, ebits, bias = _BINARY[out]
    sign = 1 if fr < 0 else 0
    width = p + ebits
    a = abs(fr)
    if a == 0:
        return 0
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    if Fraction(2) ** (e + 1) <= a:
        e += 1
    e = max(e, 1 - bias)
    q = a / Fraction(2) ** (e - p + 1)
    n = q.numerator // q.denominator
    rem = q - n
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and n % 2):
        n += 1
    if n == 1 << p:
        n, e = n >> 1, e + 1
    if n >= 1 << (p - 1):
        field, mant = e + bias, n - (1 << (p - 1))
    else:
        field, mant = 0, n
    if field >= (1 << ebits) - 1:
        field, mant = (1 << ebits) - 1, 0
    return sign << (width - 1) | field << (p - 1) | mant


NAN_BITS = {"f32": 0x7FFFFFFF, "bf16": 0x7FFF, "f16": 0x7FFF}
INF_BITS = {"f32": 0x7F800000, "bf16": 0x7F80, "f16": 0x7C00}


def _tile_index(tile, i):
    return 0 if tile == 0 else i // tile


def exact_gemm(a_vals, b_vals, sa, a_tile, sb, b_tile, bias, out):
    """Bit patterns of sum_k sa*sb*a*b + bias, computed exactly (Fractions)
    and rounded once; NaN / Inf per fp8q.h's GEMM comment. a_vals [M][K],
    b_vals [N][K] are Python floats; scales 2-D lists (None = 1)."""
    M, K, N = len(a_vals), len(a_vals[0]), len(b_vals)
    res = np.zeros((M, N), np.uint32)
    for m in range(M):
        for n in range(N):
            total, nan, pinf, ninf = Fraction(0), False, False, False
            for k in range(K):
                s_a = sa[_tile_index(a_tile[0], m)][_tile_index(a_tile[1], k)] if sa is not None else 1.0
                s_b = sb[_tile_index(b_tile[0], n)][_tile_index(b_tile[1], k)] if sb is not None else 1.0
                f = (s_a, s_b, a_vals[m][k], b_vals[n][k])
                if any(v != v for v in f):
                    nan = True
                elif any(abs(v) == float("inf") for v in f):
                    if any(v == 0 for v in f):
                        nan = True
                    elif np.prod(np.sign(f)) > 0:
                        pinf = True
                    else:
                        ninf = True
                else:
                    total += Fraction(s_a) * Fraction(s_b) * Fraction(a_vals[m][k]) * Fraction(b_vals[n][k])
            if bias is not None:
                total += Fraction(float(bias[n]))
            if nan or (pinf and ninf):
                res[m, n] = NAN_BITS[out]
            elif pinf or ninf:
                res[m, n] = INF_BITS[out] | (1 << (31 if out == "f32" else 15) if ninf else 0)
            else:
                res[m, n] = round_fraction(total, out)
    return res


def out_bits(c, out):
    return c.view(np.uint32) if out == "f32" else c.view(np.uint16).astype(np.uint32)


# ================================================================ cases

def case_missing_library_message():
    saved_lib, saved_env = fp8q._LIB, os.environ.get("FP8Q_LIBRARY")
    try:
        fp8q._LIB = None
        os.environ["FP8Q_LIBRARY"] = "/nonexistent/libfp8q.so"
        e = expect_raises(fp8q.LibraryNotFoundError, fp8q.version, "FP8Q_LIBRARY", "/nonexistent/libfp8q.so",
                          "tools/libfp8q.c")
        check(isinstance(e, OSError), "LibraryNotFoundError is not an OSError")
        expect_raises(fp8q.LibraryNotFoundError, lambda: fp8q.load("/nonexistent/other.so"), "other.so")
    finally:
        fp8q._LIB = saved_lib
        if saved_env is None:
            os.environ.pop("FP8Q_LIBRARY", None)
        else:
            os.environ["FP8Q_LIBRARY"] = saved_env


def case_struct_layouts_match_c():
    cc = compiler()
    if not cc:
        raise Skip("no C compiler to print offsetof()")
    structs = {"fp8q_format_info": fp8q._FormatInfoC, "fp8q_recipe": fp8q._RecipeC, "fp8q_gemm": fp8q._GemmC,
               "fp8q_compare": fp8q._CompareC}
    lines = ["#include <stddef.h>", "#include <stdio.h>", '#include "fp8q.h"', "int main(void) {"]
    for cname, cls in structs.items():
        lines.append('printf("%s sizeof %%lu\\n", (unsigned long)sizeof(%s));' % (cname, cname))
        for field, _ in cls._fields_:
            lines.append('printf("%s %s %%lu\\n", (unsigned long)offsetof(%s, %s));' % (cname, field, cname, field))
    lines.append("return 0; }")
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "layout.c"), os.path.join(d, "layout")
        with open(src, "w") as f:
            f.write("\n".join(lines) + "\n")
        subprocess.run([cc, "-std=c99", "-I" + ROOT, src, "-o", exe], check=True)
        text = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    got = {}
    for line in text.splitlines():
        s, f, v = line.split()
        got[(s, f)] = int(v)
    for cname, cls in structs.items():
        check(got[(cname, "sizeof")] == fp8q.ctypes.sizeof(cls), "sizeof(%s): C %d, ctypes %d", cname,
              got[(cname, "sizeof")], fp8q.ctypes.sizeof(cls))
        for field, _ in cls._fields_:
            check(got[(cname, field)] == getattr(cls, field).offset, "offsetof(%s, %s): C %d, ctypes %d", cname,
                  field, got[(cname, field)], getattr(cls, field).offset)


def case_format_info_matches_vectors_and_spec():
    for fmt, (E, M, bias, specials) in FORMAT_FIELDS.items():
        info = fp8q.format_info(fmt)
        check((info.name, info.exponent_bits, info.mantissa_bits, info.bias, info.specials) ==
              (fmt, E, M, bias, specials), "%s: %s", fmt, info)
        vals, _ = ref_table(fmt)
        check(info.max_finite == vals[-2], "%s max_finite %r, expected %r", fmt, info.max_finite, vals[-2])
        check(info.min_subnormal == vals[1], "%s min_subnormal %r", fmt, info.min_subnormal)
        check(ref_value(info.max_code, fmt) == info.max_finite, "%s max_code %02x", fmt, info.max_code)
        h, _ = read_vector_file(os.path.join(VECTORS, "decode-f32-%s.txt" % fmt))
        want = "%s exponent_bits %d mantissa_bits %d bias %d specials %s max_finite %08x" % (
            fmt, E, M, bias, specials, int(np.float32(info.max_finite).view(np.uint32)))
        check(h["format"] == want, "vector header %r, expected %r", h["format"], want)
    check([i.name for i in fp8q.formats()] == list(FORMAT_FIELDS), "formats() order")
    check(fp8q.format_info("e4m3") == fp8q.format_info("e4m3fn"), "alias e4m3")


def case_decode_all_bytes_vs_c_vectors():
    codes = np.arange(256, dtype=np.uint8)
    for fmt in FORMAT_FIELDS:
        for out, view in (("f32", np.uint32), ("f16", np.uint16), ("bf16", np.uint16), ("f64", np.uint64)):
            _, inp, want = conversion_file("decode-%s-%s.txt" % (out, fmt))
            got = fp8q.decode(codes[inp.astype(np.int64)], fmt, out=out).view(view).astype(np.uint64)
            bad = np.nonzero(got != want)[0]
            check(bad.size == 0, "decode %s %s: %d differ, first byte %02x", fmt, out, bad.size,
                  inp[bad[0]] if bad.size else 0)
    for out, view in (("f32", np.uint32), ("bf16", np.uint16)):
        _, inp, want = conversion_file("decode-%s-e8m0.txt" % out)
        got = fp8q.e8m0_decode(codes[inp.astype(np.int64)], out=out).view(view).astype(np.uint64)
        check(np.array_equal(got, want), "e8m0 decode %s differs from the C vectors", out)


def case_decode_vs_bit_fields():
    codes = np.arange(256, dtype=np.uint8)
    for fmt in FORMAT_FIELDS:
        ref = np.array([ref_value(c, fmt) for c in range(256)], np.float64)
        nan = np.isnan(ref)
        f32, f16 = fp8q.decode(codes, fmt), fp8q.decode(codes, fmt, out="f16")
        bf16 = fp8q.decode(codes, fmt, out="bf16")
        check(np.array_equal(bits32(f32)[~nan], bits32(ref.astype(np.float32))[~nan]), "%s f32 values", fmt)
        check(np.all(bits32(f32)[nan] == 0x7FFFFFFF), "%s f32 NaN is not 7fffffff", fmt)
        check(np.array_equal(f16.view(np.uint16)[~nan], ref.astype(np.float16).view(np.uint16)[~nan]), "%s f16", fmt)
        check(np.all(f16.view(np.uint16)[nan] == 0x7FFF), "%s f16 NaN is not 7fff", fmt)
        check(np.array_equal(bf16[~nan], (bits32(ref.astype(np.float32)) >> 16)[~nan]), "%s bf16", fmt)
        check(np.array_equal(fp8q.decode(codes, fmt, out="f64")[~nan], ref[~nan]), "%s f64", fmt)
    e = np.arange(256, dtype=np.uint8)
    want = np.array([2.0 ** (c - 127) for c in range(255)] + [np.nan], np.float32)
    got = fp8q.e8m0_decode(e)
    check(np.array_equal(bits32(got)[:255], bits32(want)[:255]), "e8m0 values")
    check(bits32(got)[255] == 0x7FFFFFFF, "e8m0 FF")
    check(np.array_equal(fp8q.e8m0_decode(e, out="bf16")[1:255], (bits32(want) >> 16)[1:255]), "e8m0 bf16")


def _encode_source(inp, src):
    if src == "f32":
        return inp.astype(np.uint32).view(np.float32)
    if src == "f64":
        return inp.view(np.float64)
    if src == "f16":
        return inp.astype(np.uint16).view(np.float16)
    return inp.astype(np.uint16)  # bf16 bits


def case_encode_vs_c_vectors():
    files = 0
    for fmt in FORMAT_FIELDS:
        for src in ("f32", "f64", "f16", "bf16"):
            for sat in ("satfinite", "nosat"):
                name = "encode-%s-%s-%s-rne.txt" % (src, fmt, sat)
                _, inp, want = conversion_file(name)
                got = fp8q.encode(_encode_source(inp, src), fmt, sat).astype(np.uint64)
                bad = np.nonzero(got != want)[0]
                check(bad.size == 0, "%s: %d differ, first input %x: bridge %02x, C %02x", name, bad.size,
                      int(inp[bad[0]]) if bad.size else 0, int(got[bad[0]]) if bad.size else 0,
                      int(want[bad[0]]) if bad.size else 0)
                files += 1
    check(files == 32, "%d encode files", files)


def _widen(inp, src):
    if src == "f32":
        return inp.astype(np.uint32).view(np.float32).astype(np.float64)
    if src == "f64":
        return inp.view(np.float64)
    if src == "f16":
        return inp.astype(np.uint16).view(np.float16).astype(np.float64)
    return (inp.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def case_c_vectors_vs_independent_encoder():
    # the C vectors (every input: exhaustive 16-bit, f32 and f64 edge cases) against the Python RNE encoder
    for fmt in FORMAT_FIELDS:
        for src in ("f32", "f64", "f16", "bf16"):
            for sat in ("satfinite", "nosat"):
                name = "encode-%s-%s-%s-rne.txt" % (src, fmt, sat)
                _, inp, want = conversion_file(name)
                x = _widen(inp, src)
                ref = ref_encode(x, fmt, sat)
                # CUDA's double path keeps NaN sign and (E5M2) payload bit 50 (fp8q.h, fp8q_from_f64)
                if src == "f64" and FORMAT_FIELDS[fmt][3] != "fnuz":
                    u = inp.astype(np.uint64)
                    nan = np.isnan(x)
                    payload = ((u >> np.uint64(50)) & np.uint64(1)).astype(np.int64)
                    code = (0x7E | payload) if fmt == "e5m2" else np.full(u.shape, 0x7F, np.int64)
                    code = code | np.where((u >> np.uint64(63)) == 1, 0x80, 0)
                    ref = np.where(nan, code, ref).astype(np.uint8)
                bad = np.nonzero(ref.astype(np.uint64) != want)[0]
                check(bad.size == 0, "%s: %d differ, first input %x: C %02x, Python %02x", name, bad.size,
                      int(inp[bad[0]]) if bad.size else 0, int(want[bad[0]]) if bad.size else 0,
                      int(ref[bad[0]]) if bad.size else 0)


def case_encode_f32_sample_vs_independent_encoder():
    x = f32_sample(30000, 1)
    for fmt in FORMAT_FIELDS:
        for sat in ("satfinite", "nosat"):
            got = fp8q.encode(x, fmt, sat)
            ref = ref_encode(x.astype(np.float64), fmt, sat)
            bad = np.nonzero(got != ref)[0]
            check(bad.size == 0, "%s %s: %d of %d differ, first %08x: bridge %02x, Python %02x", fmt, sat, bad.size,
                  x.size, int(bits32(x)[bad[0]]) if bad.size else 0, int(got[bad[0]]) if bad.size else 0,
                  int(ref[bad[0]]) if bad.size else 0)
            h = fp8q.encode(x.astype(np.float16), fmt, sat)  # half input, widened exactly
            check(np.array_equal(h, ref_encode(x.astype(np.float16).astype(np.float64), fmt, sat)), "%s %s f16",
                  fmt, sat)


ML_NAMES = {"e4m3fn": "float8_e4m3fn", "e5m2": "float8_e5m2", "e4m3fnuz": "float8_e4m3fnuz",
            "e5m2fnuz": "float8_e5m2fnuz"}


def case_encode_vs_ml_dtypes_in_range():
    if ml_dtypes is None:
        raise Skip("ml_dtypes not installed")
    x = f32_sample(30000, 2)
    for fmt in FORMAT_FIELDS:
        mx = fp8q.format_info(fmt).max_finite
        # every finite input that does not overflow rounds identically everywhere (fp8q.h)
        ok = np.isfinite(x) & (np.abs(ref_encode(x.astype(np.float64), fmt, "nosat").astype(np.int64) & 0x7F) <= 0x7F)
        ok &= np.abs(x.astype(np.float64)) <= mx
        want = x[ok].astype(getattr(ml_dtypes, ML_NAMES[fmt])).view(np.uint8)
        got = fp8q.encode(np.ascontiguousarray(x[ok]), fmt, "nosat")
        check(np.array_equal(got, want), "%s: %d of %d differ from ml_dtypes", fmt, int(np.sum(got != want)), want.size)
        codes = np.arange(256, dtype=np.uint8)
        ml = codes.view(getattr(ml_dtypes, ML_NAMES[fmt])).astype(np.float32)
        ours = fp8q.decode(codes, fmt)
        fin = np.isfinite(ml)
        check(np.array_equal(bits32(ml)[fin], bits32(ours)[fin]), "%s decode differs from ml_dtypes", fmt)
        check(np.array_equal(np.isnan(ml), np.isnan(ours)), "%s NaN codes differ from ml_dtypes", fmt)


def case_bf16_inputs():
    b = bits32(f32_sample(5000, 3)) >> 16
    b = b.astype(np.uint16)
    for fmt in ("e4m3fn", "e5m2"):
        got = fp8q.encode(b, fmt)
        ref = ref_encode((b.astype(np.uint32) << 16).view(np.float32).astype(np.float64), fmt, "satfinite")
        check(np.array_equal(got, ref), "%s bf16 bits", fmt)
        if ml_dtypes is not None:
            check(np.array_equal(fp8q.encode(b.view(ml_dtypes.bfloat16), fmt), got), "ml_dtypes.bfloat16 input")


def case_scale_ops():
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(4096) * 100).astype(np.float32)
    s = np.float32(0.37)
    for fmt in FORMAT_FIELDS:
        check(np.array_equal(fp8q.encode(x, fmt, scale_op="mul", scale=s), fp8q.encode(x * s, fmt)), "%s mul", fmt)
        check(np.array_equal(fp8q.encode(x, fmt, scale_op="div", scale=s), fp8q.encode(x / s, fmt)), "%s div", fmt)
        q = np.arange(256, dtype=np.uint8)
        v = fp8q.decode(q, fmt)
        fin = np.isfinite(v)
        check(np.array_equal(bits32(fp8q.decode(q, fmt, scale_op="mul", scale=s))[fin], bits32(v * s)[fin]),
              "%s decode mul", fmt)
        check(np.array_equal(bits32(fp8q.decode(q, fmt, scale_op="div", scale=s))[fin], bits32(v / s)[fin]),
              "%s decode div", fmt)


def case_e8m0_vs_c_vectors_and_definition():
    for src in ("f32", "bf16"):
        for sat in ("satfinite", "nosat"):
            for rnd, name in (("rz", "zero"), ("ru", "up")):
                fname = "encode-%s-e8m0-%s-%s.txt" % (src, sat, rnd)
                _, inp, want = conversion_file(fname)
                x = inp.astype(np.uint32).view(np.float32) if src == "f32" else inp.astype(np.uint16)
                got = fp8q.e8m0_encode(x, sat, name)
                check(np.array_equal(got.astype(np.uint64), want), "%s: bridge differs from C", fname)
                if src == "f32":
                    ref = ref_e8m0(x, sat, name)
                    bad = np.nonzero(ref.astype(np.uint64) != want)[0]
                    check(bad.size == 0, "%s: %d differ from the definition, first %08x: C %02x, Python %02x",
                          fname, bad.size, int(inp[bad[0]]) if bad.size else 0, int(want[bad[0]]) if bad.size else 0,
                          int(ref[bad[0]]) if bad.size else 0)
    spot = np.array([1.5, 3.0, -2.0, 0.0, np.inf], np.float32)  # NUMERICS.md 2.8
    check(list(fp8q.e8m0_encode(spot, "satfinite", "zero")) == [0x7F, 0x80, 0x80, 0x00, 0xFE], "RZ spot values")
    check(list(fp8q.e8m0_encode(spot, "nosat", "up")) == [0x80, 0x81, 0x80, 0x00, 0xFF], "RU spot values")


def case_recipes_vs_c_vectors():
    names = [r.name for r in fp8q.recipes()]
    check(len(names) > 0 and len(set(names)) == len(names), "recipe names %s", names)
    for name in names:
        r = fp8q.recipe(name)
        header, cases = records("recipe-%s.txt" % name)
        info = fp8q.format_info(r.format)
        # the tuple read through ctypes equals the header C wrote (struct layout)
        f32hex = lambda v: "%08x" % int(np.float32(v).view(np.uint32))  # noqa: E731
        got = (r.format, "%d %d" % (r.tile_rows, r.tile_cols), r.rule, f32hex(r.qmax), f32hex(r.amax_ub),
               f32hex(r.min_scale), r.precision, r.scale_op, str(int(r.clamp)), r.saturation, r.source)
        want = (header["format"], header["tile"], header["rule"], header["qmax"], header["amax_ub"],
                header["min_scale"], header["precision"], header["scale_op"], header["clamp"], header["saturation"],
                header["source"])
        check(got == want, "%s: recipe fields %s, vector header %s", name, got, want)
        check(info.name == header["format"], "%s format", name)
        for shape, rec in cases:
            rows, cols = int(shape[0]), int(shape[1])
            x = hexes(rec["x"], np.uint32).view(np.float32).reshape(rows, cols)
            s = fp8q.compute_scales(x, name)
            check(s.size == fp8q.scale_count(name, rows, cols), "%s scale_count", name)
            check(np.array_equal(bits32(s).reshape(-1), hexes(rec["scales"], np.uint32)), "%s %dx%d scales", name,
                  rows, cols)
            q = fp8q.quantize(x, s, name)
            check(np.array_equal(q.reshape(-1), hexes(rec["q"], np.uint8)), "%s %dx%d q", name, rows, cols)
            dq = fp8q.dequantize(q, s, name)
            check(np.array_equal(bits32(dq).reshape(-1), hexes(rec["dq"], np.uint32)), "%s %dx%d dq", name, rows,
                  cols)


def case_custom_recipe_tuple():
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((6, 40)) * 3).astype(np.float32)
    for name in ("vllm-per-token", "ct-channel-bf16", "mx-e5m2", "deepseek-group128"):
        mine = fp8q.recipe(name)._replace(name="mine")
        s = fp8q.compute_scales(x, name)
        check(np.array_equal(bits32(fp8q.compute_scales(x, mine)), bits32(s)), "%s scales via tuple", name)
        check(np.array_equal(fp8q.quantize(x, s, mine), fp8q.quantize(x, s, name)), "%s q via tuple", name)
    pow2 = fp8q.recipe("vllm-per-tensor")._replace(rule="pow2", scale_op="div")
    s = fp8q.compute_scales(x, pow2)
    amax = np.max(np.abs(x))
    check(float(s[0, 0]) == 2.0 ** np.ceil(np.log2(np.float32(amax) / np.float32(448))), "pow2 rule scale %r", s)


def _gemm_inputs_from_record(shape, rec):
    f = dict(zip(shape[1::2], shape[2::2]))  # M 2 N 3 ... after the case index
    M, N, K = int(f["M"]), int(f["N"]), int(f["K"])
    a_tile = tuple(int(v) for v in shape[shape.index("a_tile") + 1:shape.index("a_tile") + 3])
    b_tile = tuple(int(v) for v in shape[shape.index("b_tile") + 1:shape.index("b_tile") + 3])
    a_fmt, b_fmt = f["a_format"], f["b_format"]
    if a_fmt == "f32":
        a = hexes(rec["a"], np.uint32).view(np.float32).reshape(M, K)
    else:
        a = hexes(rec["a"], np.uint8).reshape(M, K)
    b = hexes(rec["b"], np.uint8).reshape(N, K)
    sa = hexes(rec["a_scales"], np.uint32).view(np.float32)
    sb = hexes(rec["b_scales"], np.uint32).view(np.float32)
    bias = hexes(rec["bias"], np.uint32).view(np.float32) if rec["bias"] else None
    return M, N, K, a, b, a_fmt, b_fmt, sa, a_tile, sb, b_tile, bias


def _values(a, fmt):
    if fmt == "f32":
        return a.astype(np.float64).tolist()
    return [[ref_value(int(c), fmt) for c in row] for row in a]


def _scale_grid(s, tile, rows, K):
    nr = 1 if tile[0] == 0 else -(-rows // tile[0])
    return s.astype(np.float64).reshape(nr, -1).tolist()


def case_gemm_c_vectors_vs_bridge_and_fractions():
    for out in ("f32", "bf16", "f16"):
        _, cases = records("gemm-exact-%s.txt" % out)
        for shape, rec in cases:
            M, N, K, a, b, a_fmt, b_fmt, sa, a_tile, sb, b_tile, bias = _gemm_inputs_from_record(shape, rec)
            want = hexes(rec["c"], np.uint32).reshape(M, N)
            c = fp8q.gemm(a, b, sa, sb, a_format="e4m3fn" if a_fmt == "f32" else a_fmt, b_format=b_fmt, out=out,
                          bias=bias, a_tile=a_tile, b_tile=b_tile)
            check(np.array_equal(out_bits(c, out), want), "case %s %s: bridge differs from the C vectors", shape[0],
                  out)
            ref = exact_gemm(_values(a, a_fmt), _values(b, b_fmt), _scale_grid(sa, a_tile, M, K), a_tile,
                             _scale_grid(sb, b_tile, N, K), b_tile, bias, out)
            check(np.array_equal(ref, want), "case %s %s: C vectors differ from the exact fractions:\n%s\n%s",
                  shape[0], out, want, ref)


def _random_codes(rng, shape, fmt):
    finite = [c for c in range(256) if np.isfinite(ref_value(c, fmt))]
    return np.array(rng.choice(finite, size=shape), np.uint8)


def _random_scales(rng, shape):
    return (rng.random(shape) * 2.0 ** rng.integers(-10, 6, shape)).astype(np.float32)


def case_gemm_exact_vs_fractions():
    rng = np.random.default_rng(6)
    configs = [  # M, N, K, a_fmt, b_fmt, a_tile, b_tile, bias
        (3, 4, 7, "e4m3fn", "e4m3fn", (0, 0), (0, 0), False),
        (4, 3, 33, "e4m3fn", "e5m2", (1, 0), (1, 0), True),
        (5, 6, 40, "e4m3fn", "e4m3fn", (1, 8), (4, 8), True),
        (2, 5, 19, "e5m2fnuz", "e4m3fnuz", (1, 4), (0, 0), False),
        (3, 3, 64, "e5m2", "e5m2", (0, 0), (1, 16), True),
    ]
    for M, N, K, fa, fb, ta, tb, use_bias in configs:
        a, b = _random_codes(rng, (M, K), fa), _random_codes(rng, (N, K), fb)
        sa = _random_scales(rng, (1 if ta[0] == 0 else -(-M // ta[0]), 1 if ta[1] == 0 else -(-K // ta[1])))
        sb = _random_scales(rng, (1 if tb[0] == 0 else -(-N // tb[0]), 1 if tb[1] == 0 else -(-K // tb[1])))
        bias = (rng.standard_normal(N) * 4).astype(np.float32) if use_bias else None
        for out in ("f32", "bf16", "f16"):
            c = fp8q.gemm(a, b, sa, sb, a_format=fa, b_format=fb, out=out, bias=bias, a_tile=ta, b_tile=tb)
            ref = exact_gemm(_values(a, fa), _values(b, fb), sa.astype(np.float64).tolist(), ta,
                             sb.astype(np.float64).tolist(), tb, bias, out)
            check(np.array_equal(out_bits(c, out), ref), "%dx%dx%d %s x %s tiles %s %s %s", M, N, K, fa, fb, ta, tb,
                  out)
    # cancellation that float32 accumulation loses: 448*448 + 2^-9*2^-9 - 448*448
    a = np.array([[0x7E, 0x01, 0x7E]], np.uint8)
    b = np.array([[0x7E, 0x01, 0xFE]], np.uint8)
    check(float(fp8q.gemm(a, b)[0, 0]) == 2.0 ** -18, "exact cancellation")
    check(float(fp8q.gemm(a, b, mode="reference")[0, 0]) == 0.0, "reference order loses 2^-18")
    # W8A16: float32 activations
    af = (rng.standard_normal((3, 10))).astype(np.float32)
    b = _random_codes(rng, (2, 10), "e4m3fn")
    c = fp8q.gemm(af, b, b_scales=np.array([0.5, 2.0], np.float32))
    ref = exact_gemm(af.astype(np.float64).tolist(), _values(b, "e4m3fn"), None, (0, 0), [[0.5], [2.0]], (1, 0), None,
                     "f32")
    check(np.array_equal(out_bits(c, "f32"), ref), "W8A16")


def case_gemm_fast_and_reference_within_tolerance():
    rng = np.random.default_rng(7)
    M, N, K = 7, 9, 300
    a, b = _random_codes(rng, (M, K), "e4m3fn"), _random_codes(rng, (N, K), "e4m3fn")
    sa, sb = _random_scales(rng, (M,)), _random_scales(rng, (N,))
    exact = fp8q.gemm(a, b, sa, sb).astype(np.float64)
    av = np.array(_values(a, "e4m3fn")) * sa[:, None].astype(np.float64)
    bv = np.array(_values(b, "e4m3fn")) * sb[:, None].astype(np.float64)
    sum_abs = np.abs(av) @ np.abs(bv).T
    for mode in ("reference", "fast"):
        for threads in (0, 2):
            c = fp8q.gemm(a, b, sa, sb, mode=mode, threads=threads).astype(np.float64)
            tol = np.vectorize(lambda s: fp8q.gemm_tolerance(K, s))(sum_abs)
            bad = np.abs(c - exact) > tol + np.abs(exact) * 2.0 ** -24  # exact is itself rounded once
            check(not bad.any(), "%s threads %d: %d outside tolerance", mode, threads, int(bad.sum()))
    check(fp8q.gemm_tolerance(0, 0.0) > 0, "tolerance of an empty sum")
    t1, t2 = fp8q.gemm_tolerance(100, 1.0), fp8q.gemm_tolerance(1000, 1.0)
    check(0 < t1 < t2, "tolerance grows with K: %r %r", t1, t2)
    check(abs(t1 - (100 * 2.0 ** -24 / (1 - 100 * 2.0 ** -24) + 4 * 2.0 ** -24)) < 1e-6 * t1,
          "tolerance formula: %r", t1)


def case_compare_metrics():
    got = np.array([1.0, 2.0, np.nan, np.inf, 5.0, -0.0], np.float32)
    want = np.array([1.0, 2.5, np.nan, np.inf, 4.0, 0.0], np.float32)
    c = fp8q.compare(got, want, "f32", atol=0.1, rtol=0.0)
    check(c.count == 6 and c.outside == 2 and c.first_outside == 1, "counts %s", c)
    check(c.max_abs_err == 1.0 and c.max_rel_err == 0.25, "errors %s", c)
    check(c.max_ulp == 2.0 ** 21, "ulp %s", c)  # 4.0 and 5.0 lie 1 / 2^-21 float32 ulps apart
    c = fp8q.compare(np.array([np.inf], np.float32), np.array([-np.inf], np.float32))
    check(c.outside == 1 and c.first_outside == 0, "Inf mismatch %s", c)
    h = np.array([1.0, 1.0009765625], np.float16)
    c = fp8q.compare(h, np.array([1.0, 1.0], np.float16), "f16", atol=1.0)
    check(c.max_ulp == 1.0 and c.outside == 0, "f16 ulp %s", c)
    b = np.array([0x3F80, 0x3F81], np.uint16)
    c = fp8q.compare(b, np.array([0x3F80, 0x3F80], np.uint16), "bf16")
    check(c.max_ulp == 1.0 and c.outside == 1 and c.first_outside == 1, "bf16 %s", c)
    c = fp8q.compare(np.zeros(3, np.float32), np.zeros(3, np.float32))
    check(c.outside == 0 and c.first_outside == 3, "equal arrays %s", c)


def case_error_paths():
    x = np.ones(4, np.float32)
    expect_raises(TypeError, lambda: fp8q.encode(np.ones(4, np.int32), "e4m3fn"), "int32")
    expect_raises(TypeError, lambda: fp8q.encode([1.0, 2.0], "e4m3fn"), "numpy array")
    expect_raises(ValueError, lambda: fp8q.encode(x, "e3m4"), "e3m4", "e4m3fn")
    expect_raises(ValueError, lambda: fp8q.encode(x, "e4m3fn", "clamp"), "saturation")
    expect_raises(ValueError, lambda: fp8q.encode(np.ones((4, 4), np.float32)[:, 1], "e4m3fn"), "C-contiguous")
    expect_raises(ValueError, lambda: fp8q.encode(np.ones(2), "e4m3fn", scale_op="mul"), "float64")
    expect_raises(TypeError, lambda: fp8q.decode(x, "e4m3fn"), "uint8")
    expect_raises(ValueError, lambda: fp8q.decode(np.zeros(2, np.uint8), "e4m3fn", out="f8"), "output type")
    expect_raises(ValueError, lambda: fp8q.e8m0_encode(x, rounding="nearest"), "E8M0 rounding")
    expect_raises(ValueError, lambda: fp8q.recipe("vllm"), "unknown recipe", "vllm-per-token")
    expect_raises(ValueError, lambda: fp8q.compute_scales(x, "vllm-per-token"), "2-D")
    m = np.ones((4, 8), np.float32)
    expect_raises(ValueError, lambda: fp8q.quantize(m, np.ones(3, np.float32), "vllm-per-token"), "shape (4, 1)")
    expect_raises(TypeError, lambda: fp8q.quantize(m, np.ones(4), "vllm-per-token"), "float32")
    a8, b8 = np.zeros((2, 8), np.uint8), np.zeros((3, 7), np.uint8)
    expect_raises(ValueError, lambda: fp8q.gemm(a8, b8), "K differs")
    b8 = np.zeros((3, 8), np.uint8)
    expect_raises(ValueError, lambda: fp8q.gemm(a8, b8, np.ones(5, np.float32)), "a_tile")
    expect_raises(ValueError, lambda: fp8q.gemm(a8, b8, np.ones((2, 2), np.float32), a_tile=(1, 3)), "shape (2, 3)")
    expect_raises(ValueError, lambda: fp8q.gemm(a8, b8, np.ones((2, 2), np.float32), np.ones((3, 3), np.float32),
                                                a_tile=(1, 4), b_tile=(1, 3)), "multiple")
    expect_raises(ValueError, lambda: fp8q.gemm(a8, b8, bias=np.ones(2, np.float32)), "bias", "(3,)")
    expect_raises(ValueError, lambda: fp8q.gemm(a8, b8, mode="fastest"), "GEMM mode")
    expect_raises(ValueError, lambda: fp8q.compare(x, np.ones(3, np.float32)), "shape")
    bad = fp8q.recipe("vllm-per-token")._replace(tile_rows=-1)  # rejected by the C library
    e = expect_raises(fp8q.Fp8qError, lambda: fp8q.quantize(m, np.ones((1, 1), np.float32), bad), "fp8q_quantize",
                      "FP8Q_ERR_ARG")
    check(e is not None and e.code == -1 and e.name == "FP8Q_ERR_ARG" and e.message, "Fp8qError fields")


CASES = [
    ("missing library message", case_missing_library_message),
    ("struct layouts match C (offsetof, sizeof)", case_struct_layouts_match_c),
    ("format info matches vectors and spec", case_format_info_matches_vectors_and_spec),
    ("decode all bytes vs C vectors", case_decode_all_bytes_vs_c_vectors),
    ("decode vs bit fields", case_decode_vs_bit_fields),
    ("encode f32/f64/f16/bf16 vs C vectors", case_encode_vs_c_vectors),
    ("C vectors vs independent RNE encoder", case_c_vectors_vs_independent_encoder),
    ("encode f32 sample vs independent encoder", case_encode_f32_sample_vs_independent_encoder),
    ("encode and decode vs ml_dtypes (in range)", case_encode_vs_ml_dtypes_in_range),
    ("bfloat16 inputs", case_bf16_inputs),
    ("scale ops", case_scale_ops),
    ("E8M0 vs C vectors and definition", case_e8m0_vs_c_vectors_and_definition),
    ("recipes vs C vectors", case_recipes_vs_c_vectors),
    ("custom recipe tuples", case_custom_recipe_tuple),
    ("GEMM C vectors vs bridge and fractions", case_gemm_c_vectors_vs_bridge_and_fractions),
    ("GEMM exact vs fractions", case_gemm_exact_vs_fractions),
    ("GEMM fast and reference within tolerance", case_gemm_fast_and_reference_within_tolerance),
    ("compare metrics", case_compare_metrics),
    ("error paths", case_error_paths),
]

VECTORS = None


def main(argv):
    global VECTORS
    lib, vectors = None, None
    args = list(argv[1:])
    while args:
        a = args.pop(0)
        if a == "--vectors" and args:
            vectors = args.pop(0)
        elif a.startswith("-"):
            print("usage: test_python.py [path/to/libfp8q.so] [--vectors DIR]")
            return 2
        else:
            lib = a
    np.seterr(all="ignore")  # NaN and overflow casts are part of the data
    try:
        fp8q.load(lib)
    except fp8q.LibraryNotFoundError as e:
        print("FAIL load the fp8q library: %s" % e)
        print("0 passed, 1 failed, 0 skipped")
        return 1
    print("library %s, fp8q %s (%s); numpy %s; ml_dtypes %s" % (lib or "(search)", fp8q.version(), fp8q.simd_name(),
                                                                 np.__version__,
                                                                 ml_dtypes.__version__ if ml_dtypes else "absent"))
    tmp = None
    try:
        if vectors:
            VECTORS = vectors
            print("C vectors: %s" % vectors)
        else:
            tmp = tempfile.mkdtemp(prefix="fp8q_vectors_")
            print("C vectors: %s" % make_vectors(tmp))
            VECTORS = tmp
        for name, fn in CASES:
            run_case(name, fn)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed, %d skipped" % (COUNTS["passed"], COUNTS["failed"], COUNTS["skipped"]))
    return 1 if COUNTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
