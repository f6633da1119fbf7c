"""fp8q from Python: a ctypes bridge to the fp8q shared library, on numpy arrays.

Pure Python (ctypes + numpy); nothing is compiled at import. Build the
library once, from the repository root:

    cc -std=c99 -O2 -fPIC -shared -I. tools/libfp8q.c -o build/libfp8q.so -lm -pthread

The library is found, on first use, at $FP8Q_LIBRARY, else at
../build/libfp8q.so next to this file, else by ctypes.util.find_library("fp8q");
load(path) picks one explicitly.

    import numpy as np, fp8q
    q = fp8q.encode(np.array([1.0, 500.0], np.float32), "e4m3fn")   # [0x38, 0x7e]
    x = fp8q.decode(q, "e4m3fn")                                     # [1.0, 448.0]
    s = fp8q.compute_scales(w, "vllm-per-token")
    c = fp8q.gemm(a8, b8, a_scales, b_scales, mode="exact", out="bf16")

Names used for the C enums: formats "e4m3fn" (alias "e4m3"), "e5m2", "e4m3fnuz",
"e5m2fnuz"; saturation "satfinite" / "nosat"; scale_op None / "mul" / "div";
E8M0 rounding "zero" / "up"; GEMM mode "reference" / "exact" / "fast"; 16-bit
and 32-bit float types "f32", "f16", "bf16" (and "f64" for decode).

bfloat16 data is given and returned as np.uint16 bit patterns; an
ml_dtypes.bfloat16 array (when ml_dtypes is installed) is accepted as input,
and `.view(ml_dtypes.bfloat16)` turns a result into one. FP8 bytes are
np.uint8 (ml_dtypes float8 arrays are accepted as input too).

Errors: a failing fp8q call raises Fp8qError (code = the fp8q_result value,
name = "FP8Q_ERR_ARG", ..., message); wrong dtypes raise TypeError, wrong
shapes, non-contiguous arrays and unknown names raise ValueError, and a missing
library raises LibraryNotFoundError (an OSError) saying where it looked.

Every numeric rule (rounding, NaN, saturation, scales, GEMM definitions) is
fp8q's: see the comments above each declaration in fp8q.h.
"""

import collections
import ctypes
import ctypes.util
import os

import numpy as np

__all__ = [
    "Fp8qError", "LibraryNotFoundError", "load", "version", "simd_name", "format_info", "formats",
    "encode", "decode", "e8m0_encode", "e8m0_decode", "f32_to_f16", "f32_to_bf16", "bf16_to_f32",
    "recipes", "recipe", "scale_count", "compute_scales", "quantize", "dequantize",
    "gemm", "compare", "gemm_tolerance", "FormatInfo", "Recipe", "Compare",
]

# ----------------------------------------------------------------- enums

FORMATS = {"e4m3fn": 0, "e4m3": 0, "e5m2": 1, "e4m3fnuz": 2, "e5m2fnuz": 3}   # fp8q_format
FORMAT_NAMES = ("e4m3fn", "e5m2", "e4m3fnuz", "e5m2fnuz")
SATURATIONS = {"satfinite": 0, "nosat": 1}                                     # fp8q_saturation
SCALE_OPS = {None: 0, "none": 0, "mul": 1, "div": 2}                           # fp8q_scale_op
E8M0_ROUNDINGS = {"zero": 0, "up": 1}                                          # fp8q_e8m0_rounding
GEMM_MODES = {"reference": 0, "exact": 1, "fast": 2}                           # fp8q_gemm_mode
DTYPES = {"f32": 0, "bf16": 1, "f16": 2}                                       # fp8q_dtype (GEMM outputs)
SPECIALS_NAMES = ("fn", "ieee", "fnuz")                                        # fp8q_specials
RULE_NAMES = ("amax", "mx", "pow2")                                            # fp8q_scale_rule
PRECISION_NAMES = ("f32", "bf16")                                              # fp8q_precision
RESULT_NAMES = {0: "FP8Q_OK", -1: "FP8Q_ERR_ARG", -2: "FP8Q_ERR_NOMEM", -3: "FP8Q_ERR_UNSUPPORTED",
                -4: "FP8Q_ERR_PARSE", -5: "FP8Q_ERR_LIMIT", -6: "FP8Q_ERR_IO", -7: "FP8Q_ERR_DEVICE"}


class Fp8qError(Exception):
    """An fp8q function returned an error: code (fp8q_result), name, message."""

    def __init__(self, code, message, function=None):
        self.code = code
        self.name = RESULT_NAMES.get(code, "fp8q_result %d" % code)
        self.message = message
        self.function = function
        where = function + ": " if function else ""
        super().__init__("%s%s (%s)" % (where, message, self.name))


class LibraryNotFoundError(OSError):
    """The fp8q shared library could not be found or loaded."""


# ------------------------------------------------ structs (as in fp8q.h)

class _FormatInfoC(ctypes.Structure):
    _fields_ = [("format", ctypes.c_int), ("name", ctypes.c_char_p), ("safetensors_dtype", ctypes.c_char_p),
                ("exponent_bits", ctypes.c_int), ("mantissa_bits", ctypes.c_int), ("bias", ctypes.c_int),
                ("specials", ctypes.c_int), ("max_code", ctypes.c_uint8), ("inf_code", ctypes.c_uint8),
                ("nan_code", ctypes.c_uint8), ("max_finite", ctypes.c_float), ("min_normal", ctypes.c_float),
                ("min_subnormal", ctypes.c_float)]


class _RecipeC(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("source", ctypes.c_char_p), ("format", ctypes.c_int),
                ("tile_rows", ctypes.c_int), ("tile_cols", ctypes.c_int), ("rule", ctypes.c_int),
                ("qmax", ctypes.c_float), ("amax_ub", ctypes.c_float), ("min_scale", ctypes.c_float),
                ("hp", ctypes.c_int), ("op", ctypes.c_int), ("clamp", ctypes.c_int), ("sat", ctypes.c_int)]


class _GemmC(ctypes.Structure):
    _fields_ = [("M", ctypes.c_size_t), ("N", ctypes.c_size_t), ("K", ctypes.c_size_t),
                ("a", ctypes.c_void_p), ("a_f32", ctypes.c_void_p), ("a_format", ctypes.c_int),
                ("a_scales", ctypes.c_void_p), ("a_tile_rows", ctypes.c_int), ("a_tile_cols", ctypes.c_int),
                ("b", ctypes.c_void_p), ("b_format", ctypes.c_int), ("b_scales", ctypes.c_void_p),
                ("b_tile_rows", ctypes.c_int), ("b_tile_cols", ctypes.c_int), ("bias", ctypes.c_void_p),
                ("c", ctypes.c_void_p), ("c_type", ctypes.c_int), ("threads", ctypes.c_int),
                ("parallel_for", ctypes.c_void_p), ("parallel_ctx", ctypes.c_void_p)]


class _CompareC(ctypes.Structure):
    _fields_ = [("count", ctypes.c_size_t), ("max_abs_err", ctypes.c_double), ("max_rel_err", ctypes.c_double),
                ("max_ulp", ctypes.c_double), ("outside", ctypes.c_size_t), ("first_outside", ctypes.c_size_t)]


FormatInfo = collections.namedtuple("FormatInfo", "format name safetensors_dtype exponent_bits mantissa_bits bias "
                                    "specials max_code inf_code nan_code max_finite min_normal min_subnormal")
Recipe = collections.namedtuple("Recipe", "name source format tile_rows tile_cols rule qmax amax_ub min_scale "
                                "precision scale_op clamp saturation")
Compare = collections.namedtuple("Compare", "count max_abs_err max_rel_err max_ulp outside first_outside")

# --------------------------------------------------------------- library

_c_int, _c_size, _c_float, _c_double = ctypes.c_int, ctypes.c_size_t, ctypes.c_float, ctypes.c_double
_c_u8, _c_u16, _ptr, _str = ctypes.c_uint8, ctypes.c_uint16, ctypes.c_void_p, ctypes.c_char_p

# name: (restype, argtypes), for every function this module calls
_SIGNATURES = {
    "fp8q_version": (_str, []),
    "fp8q_result_string": (_str, [_c_int]),
    "fp8q_simd_name": (_str, []),
    "fp8q_format_get": (ctypes.POINTER(_FormatInfoC), [_c_int]),
    "fp8q_from_f64": (_c_u8, [_c_double, _c_int, _c_int]),
    "fp8q_to_f64": (_c_double, [_c_u8, _c_int]),
    "fp8q_f32_to_f16": (_c_u16, [_c_float]),
    "fp8q_f32_to_bf16": (_c_u16, [_c_float]),
    "fp8q_bf16_to_f32": (_c_float, [_c_u16]),
    "fp8q_encode_f32": (_c_int, [_ptr, _ptr, _c_size, _c_int, _c_int, _c_int, _c_float]),
    "fp8q_encode_f16": (_c_int, [_ptr, _ptr, _c_size, _c_int, _c_int, _c_int, _c_float]),
    "fp8q_encode_bf16": (_c_int, [_ptr, _ptr, _c_size, _c_int, _c_int, _c_int, _c_float]),
    "fp8q_decode_f32": (_c_int, [_ptr, _ptr, _c_size, _c_int, _c_int, _c_float]),
    "fp8q_decode_f16": (_c_int, [_ptr, _ptr, _c_size, _c_int, _c_int, _c_float]),
    "fp8q_decode_bf16": (_c_int, [_ptr, _ptr, _c_size, _c_int, _c_int, _c_float]),
    "fp8q_e8m0_from_f32": (_c_u8, [_c_float, _c_int, _c_int]),
    "fp8q_e8m0_from_bf16": (_c_u8, [_c_u16, _c_int, _c_int]),
    "fp8q_e8m0_to_bf16": (_c_u16, [_c_u8]),
    "fp8q_e8m0_to_f32": (_c_float, [_c_u8]),
    "fp8q_recipe_get": (ctypes.POINTER(_RecipeC), [_str]),
    "fp8q_recipe_count": (_c_int, []),
    "fp8q_recipe_at": (ctypes.POINTER(_RecipeC), [_c_int]),
    "fp8q_scale_count": (_c_size, [ctypes.POINTER(_RecipeC), _c_size, _c_size]),
    "fp8q_compute_scales": (_c_int, [_ptr, _ptr, _c_size, _c_size, ctypes.POINTER(_RecipeC)]),
    "fp8q_quantize": (_c_int, [_ptr, _ptr, _c_size, _c_size, _ptr, ctypes.POINTER(_RecipeC)]),
    "fp8q_dequantize": (_c_int, [_ptr, _ptr, _c_size, _c_size, _ptr, ctypes.POINTER(_RecipeC)]),
    "fp8q_gemm_run": (_c_int, [ctypes.POINTER(_GemmC), _c_int]),
    "fp8q_compare_f32": (_CompareC, [_ptr, _ptr, _c_size, _c_int, _c_double, _c_double]),
    "fp8q_gemm_tolerance": (_c_double, [_c_size, _c_double]),
}

_LIB = None


def _candidates():
    """(description, path) pairs in search order."""
    env = os.environ.get("FP8Q_LIBRARY")
    if env:
        return [("$FP8Q_LIBRARY", env)]
    here = os.path.dirname(os.path.abspath(__file__))
    build = os.path.join(os.path.dirname(here), "build")
    found = [("build directory", os.path.join(build, n)) for n in ("libfp8q.so", "libfp8q.dylib", "fp8q.dll")]
    name = ctypes.util.find_library("fp8q")
    return found + [("ctypes.util.find_library('fp8q')", name)]


def load(path=None):
    """Loads the fp8q shared library (path, else the search described in the
    module docstring) and returns the ctypes.CDLL. Later calls return the
    library already loaded unless a path is given."""
    global _LIB
    if _LIB is not None and path is None:
        return _LIB
    tried = [("argument", path)] if path else _candidates()
    errors = []
    for what, p in tried:
        if not p or (os.sep in p and not os.path.exists(p)):
            errors.append("%s: %s" % (what, "not found" if not p else p + " does not exist"))
            continue
        try:
            lib = ctypes.CDLL(p)
        except OSError as e:
            errors.append("%s: %s: %s" % (what, p, e))
            continue
        _declare(lib, p)
        _LIB = lib
        return lib
    raise LibraryNotFoundError(
        "fp8q shared library not found (" + "; ".join(errors) + "). Build it from the repository root with "
        "'cc -std=c99 -O2 -fPIC -shared -I. tools/libfp8q.c -o build/libfp8q.so -lm -pthread', "
        "or set FP8Q_LIBRARY to its path.")


def _declare(lib, path):
    for name, (restype, argtypes) in _SIGNATURES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise LibraryNotFoundError("%s is not an fp8q library of this version: it lacks %s" % (path, name))
        fn.restype, fn.argtypes = restype, argtypes


def _lib():
    return _LIB if _LIB is not None else load()


def _check(result, function):
    if result != 0:
        raise Fp8qError(result, _lib().fp8q_result_string(result).decode(), function)


def version():
    """fp8q_version() of the loaded library, e.g. "0.3.0"."""
    return _lib().fp8q_version().decode()


def simd_name():
    """The bulk conversion path of the library build: "avx512", "avx2", ..., "scalar"."""
    return _lib().fp8q_simd_name().decode()


# ------------------------------------------------------------- helpers

def _choice(table, value, what):
    if value in table:
        return table[value]
    names = ", ".join(repr(k) for k in table if k is not None)
    raise ValueError("unknown %s %r (one of %s)" % (what, value, names))


def _fmt(fmt):
    return _choice(FORMATS, fmt, "format")


def _ml_dtype(name):
    try:
        import ml_dtypes
    except ImportError:
        return None
    return getattr(ml_dtypes, name, None)


def _contiguous(x, what):
    if not isinstance(x, np.ndarray):
        raise TypeError("%s must be a numpy array, got %s" % (what, type(x).__name__))
    if not x.flags.c_contiguous:
        raise ValueError("%s must be C-contiguous (row-major); use np.ascontiguousarray(%s)" % (what, what))
    return x


def _as_bytes(q, what):
    """uint8 FP8 bytes (also accepts ml_dtypes float8 arrays)."""
    _contiguous(q, what)
    if q.dtype == np.uint8:
        return q
    if q.dtype.itemsize == 1 and q.dtype.name.startswith("float8"):
        return q.view(np.uint8)
    raise TypeError("%s must be uint8 FP8 bytes, got dtype %s" % (what, q.dtype))


def _as_f32(x, what, shape=None):
    _contiguous(x, what)
    if x.dtype != np.float32:
        raise TypeError("%s must be float32, got dtype %s" % (what, x.dtype))
    if shape is not None and x.shape != shape:
        raise ValueError("%s must have shape %s, got %s" % (what, shape, x.shape))
    return x


def _is_bf16(x):
    bf16 = _ml_dtype("bfloat16")
    return x.dtype == np.uint16 or (bf16 is not None and x.dtype == bf16)


def _ptr_of(a):
    return None if a is None else a.ctypes.data


# --------------------------------------------------------- conversions

def format_info(fmt):
    """The fp8q_format_info row of fmt, as a FormatInfo."""
    p = _lib().fp8q_format_get(_fmt(fmt))
    r = p.contents
    return FormatInfo(FORMAT_NAMES[r.format], r.name.decode(), r.safetensors_dtype.decode(), r.exponent_bits,
                      r.mantissa_bits, r.bias, SPECIALS_NAMES[r.specials], r.max_code, r.inf_code, r.nan_code,
                      r.max_finite, r.min_normal, r.min_subnormal)


def formats():
    """FormatInfo of every FP8 format, in fp8q_format order."""
    return [format_info(n) for n in FORMAT_NAMES]


def encode(x, fmt, saturation="satfinite", scale_op=None, scale=1.0):
    """FP8 bytes (np.uint8, x's shape) of x: float32, float16, bfloat16
    (np.uint16 bits or ml_dtypes.bfloat16) or float64, rounded to nearest even
    (fp8q_encode_f32/_f16/_bf16; float64 with fp8q_from_f64, one rounding, no
    scale). scale_op "mul" encodes x * scale, "div" x / scale (in float32)."""
    f, sat, op = _fmt(fmt), _choice(SATURATIONS, saturation, "saturation"), _choice(SCALE_OPS, scale_op, "scale_op")
    _contiguous(x, "x")
    out = np.empty(x.shape, np.uint8)
    if x.dtype == np.float64:
        if op:
            raise ValueError("float64 input takes no scale_op (fp8q_from_f64 rounds once from the double)")
        fn = _lib().fp8q_from_f64
        out.reshape(-1)[:] = [fn(v, f, sat) for v in x.reshape(-1).tolist()]
        return out
    if x.dtype == np.float32:
        fn, name = _lib().fp8q_encode_f32, "fp8q_encode_f32"
    elif x.dtype == np.float16:
        fn, name = _lib().fp8q_encode_f16, "fp8q_encode_f16"
    elif _is_bf16(x):
        fn, name = _lib().fp8q_encode_bf16, "fp8q_encode_bf16"
    else:
        raise TypeError("x must be float32, float16, bfloat16 (uint16 bits or ml_dtypes.bfloat16) or float64, "
                        "got dtype %s" % x.dtype)
    _check(fn(out.ctypes.data, x.ctypes.data, x.size, f, sat, op, float(scale)), name)
    return out


def decode(q, fmt, out="f32", scale_op=None, scale=1.0):
    """Values of FP8 bytes q, exact: out "f32" (np.float32), "f16" (np.float16),
    "bf16" (np.uint16 bits) or "f64" (np.float64, no scale). scale_op "mul"
    gives value * scale, "div" value / scale (float32, then rounded to out)."""
    f, op = _fmt(fmt), _choice(SCALE_OPS, scale_op, "scale_op")
    q = _as_bytes(q, "q")
    if out == "f64":
        if op:
            raise ValueError("out='f64' takes no scale_op")
        fn = _lib().fp8q_to_f64
        return np.array([fn(v, f) for v in q.reshape(-1).tolist()], np.float64).reshape(q.shape)
    dtypes = {"f32": (np.float32, "fp8q_decode_f32"), "f16": (np.float16, "fp8q_decode_f16"),
              "bf16": (np.uint16, "fp8q_decode_bf16")}
    dtype, name = _choice(dtypes, out, "output type")
    res = np.empty(q.shape, dtype)
    _check(getattr(_lib(), name)(res.ctypes.data, q.ctypes.data, q.size, f, op, float(scale)), name)
    return res


def e8m0_encode(x, saturation="satfinite", rounding="up"):
    """E8M0 bytes of float32 or bfloat16 (np.uint16 bits / ml_dtypes.bfloat16)
    x: rounding "zero" (2^floor(log2|x|)) or "up" (2^ceil), as CUDA's
    __nv_cvt_float_to_e8m0 / __nv_cvt_bfloat16raw_to_e8m0."""
    sat, rnd = _choice(SATURATIONS, saturation, "saturation"), _choice(E8M0_ROUNDINGS, rounding, "E8M0 rounding")
    _contiguous(x, "x")
    if x.dtype == np.float32:
        fn, values = _lib().fp8q_e8m0_from_f32, x.reshape(-1).tolist()
    elif _is_bf16(x):
        fn, values = _lib().fp8q_e8m0_from_bf16, x.view(np.uint16).reshape(-1).tolist()
    else:
        raise TypeError("x must be float32 or bfloat16 (uint16 bits or ml_dtypes.bfloat16), got dtype %s" % x.dtype)
    return np.array([fn(v, sat, rnd) for v in values], np.uint8).reshape(x.shape)


def e8m0_decode(e, out="f32"):
    """Values of E8M0 bytes, exact: "f32" (00 -> 2^-127, FF -> NaN 7fffffff)
    or "bf16" bits (00 -> 0040, FF -> 7fff)."""
    e = _as_bytes(e, "e")
    if out == "f32":
        fn, dtype = _lib().fp8q_e8m0_to_f32, np.float32
    elif out == "bf16":
        fn, dtype = _lib().fp8q_e8m0_to_bf16, np.uint16
    else:
        raise ValueError("unknown output type %r (one of 'f32', 'bf16')" % (out,))
    return np.array([fn(v) for v in e.reshape(-1).tolist()], dtype).reshape(e.shape)


def f32_to_f16(x):
    """float32 -> IEEE half, RNE (fp8q_f32_to_f16), as np.float16."""
    fn = _lib().fp8q_f32_to_f16
    x = _as_f32(x, "x")
    return np.array([fn(v) for v in x.reshape(-1).tolist()], np.uint16).reshape(x.shape).view(np.float16)


def f32_to_bf16(x):
    """float32 -> bfloat16 bits, RNE (fp8q_f32_to_bf16), as np.uint16."""
    fn = _lib().fp8q_f32_to_bf16
    x = _as_f32(x, "x")
    return np.array([fn(v) for v in x.reshape(-1).tolist()], np.uint16).reshape(x.shape)


def bf16_to_f32(b):
    """bfloat16 bits (np.uint16 or ml_dtypes.bfloat16) -> float32, exact."""
    _contiguous(b, "b")
    if not _is_bf16(b):
        raise TypeError("b must be bfloat16 (uint16 bits or ml_dtypes.bfloat16), got dtype %s" % b.dtype)
    return (b.view(np.uint16).astype(np.uint32) << 16).view(np.float32)


# -------------------------------------------------------------- recipes

def _recipe_tuple(r):
    return Recipe(r.name.decode(), r.source.decode(), FORMAT_NAMES[r.format], r.tile_rows, r.tile_cols,
                  RULE_NAMES[r.rule], r.qmax, r.amax_ub, r.min_scale, PRECISION_NAMES[r.hp],
                  {1: "mul", 2: "div"}.get(r.op, "none"), bool(r.clamp), ("satfinite", "nosat")[r.sat])


def recipes():
    """Every built-in recipe (fp8q_recipe_at), as Recipe tuples."""
    lib = _lib()
    return [_recipe_tuple(lib.fp8q_recipe_at(i).contents) for i in range(lib.fp8q_recipe_count())]


def recipe(name):
    """The built-in recipe called name (fp8q_recipe_get)."""
    p = _lib().fp8q_recipe_get(name.encode())
    if not p:
        raise ValueError("unknown recipe %r (one of %s)" % (name, ", ".join(r.name for r in recipes())))
    return _recipe_tuple(p.contents)


def _recipe_c(r):
    """A _RecipeC for a recipe name or a Recipe tuple (e.g. recipe(...)._replace(...))."""
    if isinstance(r, str):
        p = _lib().fp8q_recipe_get(r.encode())
        if not p:
            recipe(r)  # raises with the list of names
        return p.contents
    if not isinstance(r, Recipe):
        raise TypeError("recipe must be a name or a fp8q.Recipe, got %s" % type(r).__name__)
    return _RecipeC(r.name.encode(), r.source.encode(), _fmt(r.format), r.tile_rows, r.tile_cols,
                    _choice({n: i for i, n in enumerate(RULE_NAMES)}, r.rule, "scale rule"), r.qmax, r.amax_ub,
                    r.min_scale, _choice({n: i for i, n in enumerate(PRECISION_NAMES)}, r.precision, "precision"),
                    _choice({"mul": 1, "div": 2}, r.scale_op, "recipe scale_op"), int(r.clamp),
                    _choice(SATURATIONS, r.saturation, "saturation"))


def _tiles(tile, extent):
    t = tile if tile > 0 else max(extent, 1)
    return -(-extent // t)


def _scale_shape(rc, rows, cols):
    return (_tiles(rc.tile_rows, rows), _tiles(rc.tile_cols, cols))


def _matrix(x, what, check):
    x = check(x, what)
    if x.ndim != 2:
        raise ValueError("%s must be 2-D [rows, cols], got shape %s" % (what, x.shape))
    return x


def scale_count(r, rows, cols):
    """Number of scales of a rows x cols matrix under recipe r."""
    return _lib().fp8q_scale_count(ctypes.byref(_recipe_c(r)), rows, cols)


def compute_scales(x, r):
    """Dynamic scales of the float32 matrix x [rows, cols] under recipe r:
    float32 [ceil(rows/tile_rows), ceil(cols/tile_cols)]."""
    rc = _recipe_c(r)
    x = _matrix(x, "x", _as_f32)
    s = np.empty(_scale_shape(rc, *x.shape), np.float32)
    _check(_lib().fp8q_compute_scales(s.ctypes.data, x.ctypes.data, x.shape[0], x.shape[1], ctypes.byref(rc)),
           "fp8q_compute_scales")
    return s


def _scales_for(scales, rc, rows, cols):
    shape = _scale_shape(rc, rows, cols)
    _as_f32(scales, "scales")
    if scales.size != shape[0] * shape[1] or (scales.ndim == 2 and scales.shape != shape):
        raise ValueError("scales must have shape %s for a %dx%d matrix with tiles %dx%d, got %s"
                         % (shape, rows, cols, rc.tile_rows, rc.tile_cols, scales.shape))
    return scales


def quantize(x, scales, r):
    """FP8 bytes [rows, cols] of the float32 matrix x with the given scales
    (static, or from compute_scales) under recipe r."""
    rc = _recipe_c(r)
    x = _matrix(x, "x", _as_f32)
    scales = _scales_for(scales, rc, *x.shape)
    q = np.empty(x.shape, np.uint8)
    _check(_lib().fp8q_quantize(q.ctypes.data, x.ctypes.data, x.shape[0], x.shape[1], scales.ctypes.data,
                                ctypes.byref(rc)), "fp8q_quantize")
    return q


def dequantize(q, scales, r):
    """float32 [rows, cols]: float(q) * scale (rounded to bf16 for bf16 recipes)."""
    rc = _recipe_c(r)
    q = _matrix(q, "q", _as_bytes)
    scales = _scales_for(scales, rc, *q.shape)
    x = np.empty(q.shape, np.float32)
    _check(_lib().fp8q_dequantize(x.ctypes.data, q.ctypes.data, q.shape[0], q.shape[1], scales.ctypes.data,
                                  ctypes.byref(rc)), "fp8q_dequantize")
    return x


# ----------------------------------------------------------------- GEMM

def _gemm_scales(scales, tile, rows, K, which):
    """(scales array or None, (tile_rows, tile_cols)); tile inferred for
    per-tensor (one scale) and per-row ([rows] or [rows, 1]) scales."""
    if scales is None:
        return None, (0, 0)
    scales = _as_f32(scales, which + "_scales")
    if tile is None:
        if scales.size == 1:
            tile = (0, 0)
        elif scales.shape in ((rows,), (rows, 1)):
            tile = (1, 0)
        else:
            raise ValueError("%s_scales of shape %s: pass %s_tile=(tile_rows, tile_cols) for block or group scales"
                             % (which, scales.shape, which))
    tr, tc = (int(t) for t in tile)
    if tr < 0 or tc < 0:
        raise ValueError("%s_tile must be non-negative, got %s" % (which, tile))
    shape = (_tiles(tr, rows), _tiles(tc, K))
    if scales.size != shape[0] * shape[1] or (scales.ndim == 2 and scales.shape != shape):
        raise ValueError("%s_scales must have shape %s for tiles %dx%d, got %s" % (which, shape, tr, tc, scales.shape))
    return scales, (tr, tc)


def _check_groups(K, a_scales, a_tile, b_scales, b_tile):
    ga = (a_tile[1] or K) if a_scales is not None else K
    gb = (b_tile[1] or K) if b_scales is not None else K
    group = min(ga, gb)
    for g, which in ((ga, "a"), (gb, "b")):
        if g % group and g != K:
            raise ValueError("K groups: %s's tile_cols %d is not a multiple of the group size %d" % (which, g, group))


def gemm(a, b, a_scales=None, b_scales=None, a_format="e4m3fn", b_format=None, mode="exact", out="f32",
         bias=None, a_tile=None, b_tile=None, threads=0):
    """C [M, N] = (A [M, K] . B [N, K]^T) with dequantization scales (+ bias),
    by fp8q_gemm_run. a: uint8 FP8 bytes, or float32 (W8A16); b: uint8 FP8
    bytes [N, K] (weights as stored: [out][in]). Scales: None (= 1), one value
    (per-tensor), [M] / [N] (per-row), or block/group scales with a_tile /
    b_tile = (tile_rows, tile_cols) (0 = whole extent). b_format defaults to
    a_format. mode "exact" (the golden value rounded once), "reference" or
    "fast"; out "f32" (np.float32), "f16" (np.float16) or "bf16" (np.uint16
    bits); bias float32 [N]. threads: FAST mode worker threads."""
    m = _choice(GEMM_MODES, mode, "GEMM mode")
    out_type = _choice(DTYPES, out, "output type")
    fa, fb = _fmt(a_format), _fmt(b_format if b_format is not None else a_format)
    _contiguous(a, "a")
    w8a16 = a.dtype == np.float32
    a = _as_f32(a, "a") if w8a16 else _as_bytes(a, "a")
    b = _as_bytes(b, "b")
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError("a and b must be 2-D ([M, K] and [N, K]), got shapes %s and %s" % (a.shape, b.shape))
    (M, K), (N, Kb) = a.shape, b.shape
    if K != Kb:
        raise ValueError("a is [M, K] = %s and b is [N, K] = %s: K differs (b holds weights as [out][in])"
                         % (a.shape, b.shape))
    if M == 0 or N == 0 or K == 0:
        raise ValueError("empty GEMM: M, N, K = %d, %d, %d" % (M, N, K))
    a_scales, a_tile = _gemm_scales(a_scales, a_tile, M, K, "a")
    b_scales, b_tile = _gemm_scales(b_scales, b_tile, N, K, "b")
    _check_groups(K, a_scales, a_tile, b_scales, b_tile)
    if bias is not None:
        bias = _as_f32(bias, "bias", (N,))
    c = np.empty((M, N), {0: np.float32, 1: np.uint16, 2: np.float16}[out_type])
    g = _GemmC(M=M, N=N, K=K, a=None if w8a16 else a.ctypes.data, a_f32=a.ctypes.data if w8a16 else None,
               a_format=fa, a_scales=_ptr_of(a_scales), a_tile_rows=a_tile[0], a_tile_cols=a_tile[1],
               b=b.ctypes.data, b_format=fb, b_scales=_ptr_of(b_scales), b_tile_rows=b_tile[0],
               b_tile_cols=b_tile[1], bias=_ptr_of(bias), c=c.ctypes.data, c_type=out_type, threads=int(threads))
    _check(_lib().fp8q_gemm_run(ctypes.byref(g), m), "fp8q_gemm_run")
    return c


# -------------------------------------------------------------- metrics

def _widened(x, dtype, what):
    _contiguous(x, what)
    if dtype == "bf16" and _is_bf16(x):
        return bf16_to_f32(x)
    if x.dtype == np.float16:
        return x.astype(np.float32)
    if x.dtype != np.float32:
        raise TypeError("%s must be float32, float16 or (dtype 'bf16') bfloat16 bits, got dtype %s" % (what, x.dtype))
    return x


def compare(got, want, dtype="f32", atol=0.0, rtol=0.0):
    """fp8q_compare_f32 of two arrays of the same shape (float32; float16 or
    bfloat16 bits are widened exactly); ulps are counted in dtype ("f32",
    "bf16", "f16"). Returns a Compare: count, max_abs_err, max_rel_err,
    max_ulp, outside (elements beyond atol + rtol * |want|, or non-finite
    mismatches), first_outside (count when none)."""
    t = _choice(DTYPES, dtype, "dtype")
    g, w = _widened(got, dtype, "got"), _widened(want, dtype, "want")
    if g.shape != w.shape:
        raise ValueError("got and want differ in shape: %s vs %s" % (g.shape, w.shape))
    r = _lib().fp8q_compare_f32(g.ctypes.data, w.ctypes.data, g.size, t, float(atol), float(rtol))
    return Compare(r.count, r.max_abs_err, r.max_rel_err, r.max_ulp, r.outside, r.first_outside)


def gemm_tolerance(K, sum_abs):
    """fp8q_gemm_tolerance: the error bound of a float32-accumulating GEMM for
    an element whose K terms have absolute sum sum_abs."""
    if K < 0:
        raise ValueError("K must be >= 0, got %d" % K)
    return _lib().fp8q_gemm_tolerance(int(K), float(sum_abs))
