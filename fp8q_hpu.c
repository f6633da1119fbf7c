/* fp8q_hpu.c - fp8q's Intel Gaudi backend, through the Synapse runtime.

   A companion translation unit of fp8q.h: it includes the header for the
   declarations only, and the application defines FP8Q_IMPLEMENTATION in one
   file of its own. Plain C99 plus POSIX dlopen (link with -ldl on older
   glibc); on other platforms fp8q_hpu_open returns FP8Q_ERR_DEVICE. No Gaudi
   headers are needed: libSynapse.so is loaded at run time, and the few
   Synapse types used are declared below, layout-compatible with
   synapse_api_types.h and synapse_common_types.h (GAUDI.md 7.1, 7.2).

   fp8q_hpu_open loads the library (opt->library, else $FP8Q_SYNAPSE_LIBRARY,
   else "libSynapse.so", else "/usr/lib/habanalabs/libSynapse.so"), resolves
   every entry point, calls synInitialize, acquires a device (opt->device
   FP8Q_GAUDI2 or FP8Q_GAUDI3 by type; 0: the first device, whose type
   DEVICE_ATTRIBUTE_DEVICE_TYPE tells) and creates a stream. Any failure gives
   FP8Q_ERR_DEVICE with dlerror()'s text, the missing symbol, or the failing
   call's name and synStatusGetBriefDescription's text. Open one HPU backend
   per process at a time (synInitialize / synDestroy are process-wide).

   What each operation computes (anything declined with FP8Q_ERR_UNSUPPORTED
   runs on the CPU with fp8q's OCP numerics, through the dispatchers):

   encode  src_type BF16 or F32, fmt E4M3 or E5M2, sat FP8Q_SATFINITE:
             dst = fp8q_gaudi_encode_bf16 / _f32(src, n,
                       fp8q_gaudi_fp8_default(device, FP8Q_GAUDI_143 or _152),
                       FP8Q_GAUDI_RNE, FP8Q_GAUDI_SATURATE, inv_scale)
           i.e. Gaudi bytes: E4M3 saturates at +-240 on Gaudi2 (+-448 with
           Gaudi3's default format), NaN gives 7F. inv_scale is 1 for
           FP8Q_SCALE_NONE, scale for FP8Q_SCALE_MUL (already the multiplier,
           GAUDI.md 6.2), 1/scale for FP8Q_SCALE_DIV when that is exact (scale a
           power of two with a finite inverse), so x / s and x * (1/s) round
           alike. Graph: convert_to_fp8_bf16 / convert_to_fp8_f32
           {x, inverse scale (const f32)} -> {y},
           ns_CastKernel::Params {CAST_ROUND_HALF_NE}.
           Declined: F16 input, FNUZ formats, FP8Q_NOSAT, other DIV scales,
           non-finite scales, n = 0.
   gemm    A and B E4M3, per-tensor scales (NULL = 1, or one value whose tiles
           are 0 or cover the matrix), c_type BF16, bias NULL or every value
           a finite bfloat16:
             C[M][N] = bf16((A[M][K] . B[N][K]^T) * sA * sB + bias[N])
           Graph: fp8_gemm_bf16 {A {K,M}, B {K,N}, sA, sB (const f32),
           bias (bf16 {N}) or NULL, NULL, NULL} -> {C {N,M}} with
           synGEMMParams {transpose_a false, transpose_b true}; only the FP8
           bytes (and the bias) are uploaded. The mode argument is ignored: the
           MME accumulates its own way (GAUDI.md 5), so results are within
           fp8q_gemm_tolerance of FP8Q_GEMM_EXACT, not bit-exact.
           A byte the device reads as another value than E4M3 does (Gaudi2:
           0x78-0x7E and 0xF8-0xFE, 256..448 in E4M3, are inf/NaN there) is
           refused with FP8Q_ERR_ARG naming the operand and element, instead of
           silently becoming inf/NaN: rescale such an operand first (halve it,
           double its scale, as vLLM's VLLM_HPU_CONVERT_TO_FP8UZ does).
           Declined: other formats, W8A16, row/column/block scales, F32 or F16
           output, non-finite scales, a bias value that is not a bfloat16.

   Recipes are cached per operation, shape, types and scale values (constant
   scales are baked into a recipe, GAUDI.md 7.3): at most FP8Q__HPU_CACHE,
   the least recently used evicted; close frees them. Device and pinned host
   buffers are allocated per call and freed before it returns.

   Unconfirmed on hardware (GAUDI.md 9): that the device convert equals
   fp8q_gaudi_encode_* for every input (rounding, SATURATE as the V1 Params
   default, inf inputs); which E4M3 mode Gaudi3's MME and TPC use (fp8q
   assumes fp8q_gaudi_fp8_default, 448; if a release uses 240 there, Gaudi3
   behaves as Gaudi2 here); whether a compiler folds a HW-aligned constant
   inverse scale into the output's exponent bias; the ABI of the C-declared
   synGEMMParams and ns_CastKernel::Params; whether fp8_gemm_bf16 wants its
   transposed B as {K,N}, and accepts a bf16 {N} bias that it adds unscaled
   before one rounding (or after a bf16 MME output: two roundings); whether
   convert_to_fp8_* accepts one output (no amax); whether constant scale
   tensors need a const section. Teardown statuses at close are ignored. */
#include "fp8q.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FP8Q_HPU_NO_DLOPEN builds the non-POSIX variant (open always fails) anywhere. */
#if !defined(FP8Q_HPU_NO_DLOPEN) && (defined(__unix__) || defined(__unix) || (defined(__APPLE__) && defined(__MACH__)))
#include <dlfcn.h>
#define FP8Q__HPU_DLOPEN 1
#endif

#ifdef FP8Q__HPU_DLOPEN

/* ---------------------------------------------- Synapse declarations */

#define FP8Q__HPU_ASSERT(name, cond) typedef char fp8q__hpu_assert_##name[(cond) ? 1 : -1]

#ifdef __cplusplus
typedef bool fp8q__syn_bool;
#else
typedef _Bool fp8q__syn_bool;
#endif

typedef enum synStatus {
    synSuccess = 0,
    synInvalidArgument = 1,
    synNoDeviceFound = 8,
    synUnsupported = 18,
    synDeviceAlreadyAcquired = 20,
    synFail = 26,
    synStatusLast = 43
} synStatus;
typedef enum synDeviceType { synDeviceGaudi = 2, synDeviceGaudi2 = 4, synDeviceGaudi3 = 5 } synDeviceType;
typedef enum synDataType {
    syn_type_na = 0,
    syn_type_bf16 = 1 << 1,
    syn_type_single = 1 << 2,
    syn_type_fp8_143 = 1 << 13, /* E4M3 */
    syn_type_fp8_152 = 1 << 14  /* E5M2 */
} synDataType;
typedef enum synTensorType { DATA_TENSOR = 0 } synTensorType;
typedef enum synGeometryType { synGeometryMinSizes = 0, synGeometrySizes = 1 } synGeometryType;
typedef enum synDmaDir { HOST_TO_DRAM = 0, DRAM_TO_HOST = 1, DRAM_TO_DRAM = 2 } synDmaDir;
typedef enum synDeviceAttribute { DEVICE_ATTRIBUTE_DEVICE_TYPE = 7 } synDeviceAttribute;
/* perf_lib_layer_params.h CastF32RoundMode_t */
typedef enum fp8q__syn_cast_round { CAST_ROUND_HALF_NE = 0 } fp8q__syn_cast_round;

typedef struct InternalGraphHandle *synGraphHandle;
typedef struct InternalRecipeHandle *synRecipeHandle;
typedef struct SectionHandleExternal *synSectionHandle;
typedef struct InternalStreamHandle *synStreamHandle;
typedef struct internalTensor *synTensor;
typedef uint32_t synDeviceId;
typedef uint64_t TSize;

#define HABANA_DIM_MAX 25

typedef struct synTensorGeometry {
    TSize sizes[HABANA_DIM_MAX]; /* fastest-changing first */
    uint32_t dims;
} synTensorGeometry;

typedef struct synLaunchTensorInfoExt {
    const char *tensorName;
    uint64_t pTensorAddress;
    synTensorType tensorType;
    TSize tensorSize[HABANA_DIM_MAX];
    uint64_t tensorId;
} synLaunchTensorInfoExt;

/* C++ structs in the Synapse headers, replicated (GAUDI.md 7.1, 7.4). */
typedef struct synGEMMParams {
    fp8q__syn_bool transpose_a;
    fp8q__syn_bool transpose_b;
} synGEMMParams;
typedef struct fp8q__syn_cast_params { /* ns_CastKernel::Params */
    fp8q__syn_cast_round round_mode;
} fp8q__syn_cast_params;

FP8Q__HPU_ASSERT(enum_size, sizeof(synStatus) == 4 && sizeof(synDataType) == 4 && sizeof(synDmaDir) == 4);
FP8Q__HPU_ASSERT(geometry_size, sizeof(synTensorGeometry) == 208);
FP8Q__HPU_ASSERT(launch_info_size,
                 sizeof(synLaunchTensorInfoExt) == 232 && offsetof(synLaunchTensorInfoExt, tensorId) == 224);
FP8Q__HPU_ASSERT(gemm_params_size, sizeof(synGEMMParams) == 2);
FP8Q__HPU_ASSERT(cast_params_size, sizeof(fp8q__syn_cast_params) == 4);
FP8Q__HPU_ASSERT(function_pointer_size, sizeof(void *) == sizeof(void (*)(void)));

/* The entry points used, one member each, named as the symbols. */
typedef struct fp8q__syn_api {
    synStatus (*synInitialize)(void);
    synStatus (*synDestroy)(void);
    synStatus (*synDeviceAcquireByDeviceType)(synDeviceId *id, synDeviceType type);
    synStatus (*synDeviceAcquire)(synDeviceId *id, const char *pci_bus);
    synStatus (*synDeviceGetAttribute)(uint64_t *values, const synDeviceAttribute *attrs, unsigned n, synDeviceId id);
    synStatus (*synDeviceRelease)(synDeviceId id);
    synStatus (*synStreamCreateGeneric)(synStreamHandle *stream, synDeviceId id, uint32_t flags);
    synStatus (*synStreamDestroy)(synStreamHandle stream);
    synStatus (*synStreamSynchronize)(synStreamHandle stream);
    synStatus (*synGraphCreate)(synGraphHandle *graph, synDeviceType type);
    synStatus (*synGraphDestroy)(synGraphHandle graph);
    synStatus (*synTensorHandleCreate)(synTensor *tensor, synGraphHandle graph, synTensorType type, const char *name);
    synStatus (*synTensorSetGeometry)(synTensor tensor, const synTensorGeometry *geometry, synGeometryType type);
    synStatus (*synTensorSetDeviceDataType)(synTensor tensor, synDataType type);
    synStatus (*synTensorSetHostPtr)(synTensor tensor, void *host, uint64_t size, synDataType type,
                                     fp8q__syn_bool copy);
    synStatus (*synTensorAssignToSection)(synTensor tensor, synSectionHandle section, uint64_t offset);
    synStatus (*synTensorDestroy)(synTensor tensor);
    synStatus (*synSectionCreate)(synSectionHandle *section, uint64_t descriptor, synGraphHandle graph);
    synStatus (*synSectionDestroy)(synSectionHandle section);
    synStatus (*synNodeCreate)(synGraphHandle graph, const synTensor *inputs, const synTensor *outputs,
                               uint32_t n_inputs, uint32_t n_outputs, const void *params, unsigned params_size,
                               const char *guid, const char *name, const char **input_layouts,
                               const char **output_layouts);
    synStatus (*synGraphCompile)(synRecipeHandle *recipe, synGraphHandle graph, const char *name,
                                 const char *build_log);
    synStatus (*synRecipeDestroy)(synRecipeHandle recipe);
    synStatus (*synTensorRetrieveIds)(synRecipeHandle recipe, const char **names, uint64_t *ids, uint32_t n);
    synStatus (*synWorkspaceGetSize)(uint64_t *size, synRecipeHandle recipe);
    synStatus (*synDeviceMalloc)(synDeviceId id, uint64_t size, uint64_t hint, uint32_t flags, uint64_t *addr);
    synStatus (*synDeviceFree)(synDeviceId id, uint64_t addr, uint32_t flags);
    synStatus (*synHostMalloc)(synDeviceId id, uint64_t size, uint32_t flags, void **buffer);
    synStatus (*synHostFree)(synDeviceId id, const void *buffer, uint32_t flags);
    synStatus (*synMemCopyAsync)(synStreamHandle stream, uint64_t src, uint64_t size, uint64_t dst, synDmaDir dir);
    synStatus (*synLaunchExt)(synStreamHandle stream, const synLaunchTensorInfoExt *infos, uint32_t n,
                              uint64_t workspace, synRecipeHandle recipe, uint32_t flags);
    synStatus (*synStatusGetBriefDescription)(synStatus status, char *text, uint64_t len); /* size_t in C++ */
} fp8q__syn_api;

#define FP8Q__SYN_ENTRY(fn)                                                                                            \
    {                                                                                                                  \
#fn, offsetof(fp8q__syn_api, fn)                                                                               \
    }
static const struct fp8q__syn_entry {
    const char *name;
    size_t offset;
} fp8q__syn_entries[] = {
    FP8Q__SYN_ENTRY(synInitialize),
    FP8Q__SYN_ENTRY(synDestroy),
    FP8Q__SYN_ENTRY(synDeviceAcquireByDeviceType),
    FP8Q__SYN_ENTRY(synDeviceAcquire),
    FP8Q__SYN_ENTRY(synDeviceGetAttribute),
    FP8Q__SYN_ENTRY(synDeviceRelease),
    FP8Q__SYN_ENTRY(synStreamCreateGeneric),
    FP8Q__SYN_ENTRY(synStreamDestroy),
    FP8Q__SYN_ENTRY(synStreamSynchronize),
    FP8Q__SYN_ENTRY(synGraphCreate),
    FP8Q__SYN_ENTRY(synGraphDestroy),
    FP8Q__SYN_ENTRY(synTensorHandleCreate),
    FP8Q__SYN_ENTRY(synTensorSetGeometry),
    FP8Q__SYN_ENTRY(synTensorSetDeviceDataType),
    FP8Q__SYN_ENTRY(synTensorSetHostPtr),
    FP8Q__SYN_ENTRY(synTensorAssignToSection),
    FP8Q__SYN_ENTRY(synTensorDestroy),
    FP8Q__SYN_ENTRY(synSectionCreate),
    FP8Q__SYN_ENTRY(synSectionDestroy),
    FP8Q__SYN_ENTRY(synNodeCreate),
    FP8Q__SYN_ENTRY(synGraphCompile),
    FP8Q__SYN_ENTRY(synRecipeDestroy),
    FP8Q__SYN_ENTRY(synTensorRetrieveIds),
    FP8Q__SYN_ENTRY(synWorkspaceGetSize),
    FP8Q__SYN_ENTRY(synDeviceMalloc),
    FP8Q__SYN_ENTRY(synDeviceFree),
    FP8Q__SYN_ENTRY(synHostMalloc),
    FP8Q__SYN_ENTRY(synHostFree),
    FP8Q__SYN_ENTRY(synMemCopyAsync),
    FP8Q__SYN_ENTRY(synLaunchExt),
    FP8Q__SYN_ENTRY(synStatusGetBriefDescription),
};
#define FP8Q__SYN_ENTRY_COUNT (sizeof fp8q__syn_entries / sizeof fp8q__syn_entries[0])

/* ------------------------------------------------------- backend state */

#define FP8Q__HPU_CACHE       16 /* compiled recipes kept */
#define FP8Q__HPU_MAX_TENSORS 6  /* GEMM: a, w, a_scale, w_scale, bias, y */
#define FP8Q__HPU_GEMM_INPUTS 7  /* fp8_gemm_*: A, B, sA, sB, bias, D, output inverse scale */

typedef enum fp8q__hpu_op { FP8Q__HPU_ENCODE = 1, FP8Q__HPU_GEMM = 2 } fp8q__hpu_op;

/* What a recipe is compiled for: equal keys share a recipe. */
typedef struct fp8q__hpu_key {
    fp8q__hpu_op op;
    uint64_t dims[3];    /* GEMM: M, N, K; encode: n, 0, 0 */
    synDataType type[2]; /* encode: x, y; GEMM: bias (syn_type_na: none), y */
    uint32_t scale[2];   /* bits of the constant scales: GEMM sA, sB; encode: inverse scale, 0 */
} fp8q__hpu_key;

typedef enum fp8q__hpu_role {
    FP8Q__HPU_IN,   /* persistent, uploaded before the launch */
    FP8Q__HPU_OUT,  /* persistent, read back after it */
    FP8Q__HPU_CONST /* one float32 given to the compiler */
} fp8q__hpu_role;

typedef struct fp8q__hpu_tensor {
    const char *name;
    fp8q__hpu_role role;
    synDataType type;
    uint32_t dims;
    uint64_t sizes[2]; /* fastest-changing first */
    float value;       /* FP8Q__HPU_CONST */
} fp8q__hpu_tensor;

/* One operation's graph: its tensors and its single node. */
typedef struct fp8q__hpu_graph {
    fp8q__hpu_key key;
    const char *guid;
    const void *params;
    unsigned params_size;
    fp8q__hpu_tensor t[FP8Q__HPU_MAX_TENSORS];
    int n_tensors;
    int inputs[FP8Q__HPU_GEMM_INPUTS]; /* indices into t, -1 for an unused slot */
    int n_inputs;
    int output;
} fp8q__hpu_graph;

/* Host side of one tensor of a call, indexed like fp8q__hpu_graph.t. */
typedef struct fp8q__hpu_io {
    const void *src; /* FP8Q__HPU_IN */
    void *dst;       /* FP8Q__HPU_OUT */
} fp8q__hpu_io;

typedef struct fp8q__hpu_launch_tensor {
    int tensor; /* index into fp8q__hpu_graph.t */
    const char *name;
    fp8q__hpu_role role;
    uint64_t bytes;
    uint32_t dims;
    uint64_t sizes[2];
} fp8q__hpu_launch_tensor;

/* A compiled graph with the objects it was built from, destroyed together. */
typedef struct fp8q__hpu_recipe {
    fp8q__hpu_key key;
    uint64_t last_use;
    synGraphHandle graph;
    synTensor tensors[FP8Q__HPU_MAX_TENSORS];
    int n_tensors;
    synSectionHandle sections[FP8Q__HPU_MAX_TENSORS];
    int n_sections;
    synRecipeHandle recipe;
    uint64_t workspace;
    fp8q__hpu_launch_tensor launch[FP8Q__HPU_MAX_TENSORS];
    const char *launch_names[FP8Q__HPU_MAX_TENSORS];
    uint64_t launch_ids[FP8Q__HPU_MAX_TENSORS];
    int n_launch;
} fp8q__hpu_recipe;

typedef struct fp8q__hpu {
    fp8q_backend base;
    void *lib;
    fp8q__syn_api api;
    int initialized, acquired;
    synDeviceId dev;
    synDeviceType type;
    fp8q_gaudi chip;
    synStreamHandle stream;
    uint8_t misread[256]; /* E4M3 bytes the device reads as another value */
    fp8q__hpu_recipe *cache[FP8Q__HPU_CACHE];
    uint64_t tick;
} fp8q__hpu;

/* --------------------------------------------------------------- errors */

static fp8q_result fp8q__hpu_fail(fp8q_error *err, fp8q_result code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->code = code;
        err->offset = 0;
    }
    return code;
}

/* FP8Q_OK for synSuccess, else FP8Q_ERR_DEVICE naming the call and the status. */
static fp8q_result fp8q__syn_result(fp8q__hpu *h, synStatus s, const char *call, fp8q_error *err)
{
    char text[64];
    if (s == synSuccess) return FP8Q_OK;
    text[0] = '\0';
    if (h->api.synStatusGetBriefDescription(s, text, sizeof text) != synSuccess) text[0] = '\0';
    text[sizeof text - 1] = '\0';
    return fp8q__hpu_fail(err, FP8Q_ERR_DEVICE, "fp8q_hpu: %s failed: %s (synStatus %d)", call,
                          text[0] ? text : "no description", (int)s);
}

/* Cleanup steps keep the first error: a later status is checked only while r is FP8Q_OK. */
static fp8q_result fp8q__syn_keep(fp8q_result r, fp8q__hpu *h, synStatus s, const char *call, fp8q_error *err)
{
    return r != FP8Q_OK ? r : fp8q__syn_result(h, s, call, err);
}

#define FP8Q__SYN(h, err, fn, args)         fp8q__syn_result((h), (h)->api.fn args, #fn, (err))
#define FP8Q__SYN_KEEP(r, h, err, fn, args) fp8q__syn_keep((r), (h), (h)->api.fn args, #fn, (err))

/* ------------------------------------------------------------- helpers */

static uint32_t fp8q__hpu_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static int fp8q__hpu_finite(float x) { return (fp8q__hpu_bits(x) & 0x7F800000u) != 0x7F800000u; }

static uint64_t fp8q__hpu_type_size(synDataType t) { return t == syn_type_single ? 4 : t == syn_type_bf16 ? 2 : 1; }

static int fp8q__hpu_key_equal(const fp8q__hpu_key *a, const fp8q__hpu_key *b)
{
    return a->op == b->op && a->dims[0] == b->dims[0] && a->dims[1] == b->dims[1] && a->dims[2] == b->dims[2] &&
           a->type[0] == b->type[0] && a->type[1] == b->type[1] && a->scale[0] == b->scale[0] &&
           a->scale[1] == b->scale[1];
}

/* Appends a tensor to d (size1 0: one dimension); returns its index. */
static int fp8q__hpu_describe(fp8q__hpu_graph *d, const char *name, fp8q__hpu_role role, synDataType type,
                              uint64_t size0, uint64_t size1, float value)
{
    fp8q__hpu_tensor *t = &d->t[d->n_tensors];
    t->name = name, t->role = role, t->type = type, t->value = value;
    t->dims = size1 ? 2 : 1;
    t->sizes[0] = size0, t->sizes[1] = size1;
    return d->n_tensors++;
}

/* ------------------------------------------------------ graph building */

static void fp8q__hpu_recipe_free(fp8q__hpu *h, fp8q__hpu_recipe *rc)
{
    int i;
    if (!rc) return;
    if (rc->recipe) (void)h->api.synRecipeDestroy(rc->recipe);
    for (i = rc->n_tensors; i-- > 0;) (void)h->api.synTensorDestroy(rc->tensors[i]);
    for (i = rc->n_sections; i-- > 0;) (void)h->api.synSectionDestroy(rc->sections[i]);
    if (rc->graph) (void)h->api.synGraphDestroy(rc->graph);
    free(rc);
}

/* Creates tensor t of the graph: geometry, device type, then a section of its
   own (persistent) or its host value (constant). */
static fp8q_result fp8q__hpu_add_tensor(fp8q__hpu *h, fp8q__hpu_recipe *rc, const fp8q__hpu_tensor *t, int index,
                                        fp8q_error *err)
{
    synTensor *handle = &rc->tensors[rc->n_tensors];
    synTensorGeometry geometry;
    fp8q_result r = FP8Q__SYN(h, err, synTensorHandleCreate, (handle, rc->graph, DATA_TENSOR, t->name));
    uint32_t i;
    if (r != FP8Q_OK) return r;
    rc->n_tensors++;
    memset(&geometry, 0, sizeof geometry);
    geometry.dims = t->dims;
    for (i = 0; i < t->dims; i++) geometry.sizes[i] = t->sizes[i];
    r = FP8Q__SYN(h, err, synTensorSetGeometry, (*handle, &geometry, synGeometrySizes));
    if (r == FP8Q_OK) r = FP8Q__SYN(h, err, synTensorSetDeviceDataType, (*handle, t->type));
    if (r != FP8Q_OK) return r;
    if (t->role == FP8Q__HPU_CONST) {
        float value = t->value; /* Synapse copies it */
        return FP8Q__SYN(h, err, synTensorSetHostPtr, (*handle, &value, sizeof value, syn_type_single, 1));
    } else {
        synSectionHandle *section = &rc->sections[rc->n_sections];
        fp8q__hpu_launch_tensor *l = &rc->launch[rc->n_launch];
        r = FP8Q__SYN(h, err, synSectionCreate, (section, 0, rc->graph));
        if (r != FP8Q_OK) return r;
        rc->n_sections++;
        r = FP8Q__SYN(h, err, synTensorAssignToSection, (*handle, *section, 0));
        l->tensor = index, l->name = t->name, l->role = t->role, l->dims = t->dims;
        l->sizes[0] = t->sizes[0], l->sizes[1] = t->dims > 1 ? t->sizes[1] : 0;
        l->bytes = fp8q__hpu_type_size(t->type) * t->sizes[0] * (t->dims > 1 ? t->sizes[1] : 1);
        rc->launch_names[rc->n_launch++] = t->name;
        return r;
    }
}

/* Builds and compiles graph d (GAUDI.md 7.3 steps 1-5); *out NULL on failure. */
static fp8q_result fp8q__hpu_compile(fp8q__hpu *h, const fp8q__hpu_graph *d, fp8q__hpu_recipe **out, fp8q_error *err)
{
    fp8q__hpu_recipe *rc = (fp8q__hpu_recipe *)calloc(1, sizeof *rc);
    synTensor inputs[FP8Q__HPU_GEMM_INPUTS], output;
    fp8q_result r;
    int i;
    *out = NULL;
    if (!rc) return fp8q__hpu_fail(err, FP8Q_ERR_NOMEM, "fp8q_hpu: out of memory for a recipe");
    rc->key = d->key;
    r = FP8Q__SYN(h, err, synGraphCreate, (&rc->graph, h->type));
    for (i = 0; r == FP8Q_OK && i < d->n_tensors; i++) r = fp8q__hpu_add_tensor(h, rc, &d->t[i], i, err);
    if (r == FP8Q_OK) {
        for (i = 0; i < d->n_inputs; i++) inputs[i] = d->inputs[i] < 0 ? NULL : rc->tensors[d->inputs[i]];
        output = rc->tensors[d->output];
        r = FP8Q__SYN(h, err, synNodeCreate,
                      (rc->graph, inputs, &output, (uint32_t)d->n_inputs, 1, d->params, d->params_size, d->guid,
                       d->guid, NULL, NULL));
    }
    if (r == FP8Q_OK) r = FP8Q__SYN(h, err, synGraphCompile, (&rc->recipe, rc->graph, d->guid, NULL));
    if (r == FP8Q_OK)
        r = FP8Q__SYN(h, err, synTensorRetrieveIds,
                      (rc->recipe, rc->launch_names, rc->launch_ids, (uint32_t)rc->n_launch));
    if (r == FP8Q_OK) r = FP8Q__SYN(h, err, synWorkspaceGetSize, (&rc->workspace, rc->recipe));
    if (r != FP8Q_OK) {
        fp8q__hpu_recipe_free(h, rc);
        return r;
    }
    *out = rc;
    return FP8Q_OK;
}

/* The cached recipe for d, compiled on a miss (evicting the least recently used). */
static fp8q_result fp8q__hpu_recipe_for(fp8q__hpu *h, const fp8q__hpu_graph *d, fp8q__hpu_recipe **out, fp8q_error *err)
{
    int i, slot = 0;
    fp8q_result r;
    for (i = 0; i < FP8Q__HPU_CACHE; i++) {
        fp8q__hpu_recipe *rc = h->cache[i];
        if (rc && fp8q__hpu_key_equal(&rc->key, &d->key)) {
            rc->last_use = ++h->tick;
            *out = rc;
            return FP8Q_OK;
        }
        if (!rc || (h->cache[slot] && rc->last_use < h->cache[slot]->last_use)) slot = i;
    }
    r = fp8q__hpu_compile(h, d, out, err);
    if (r != FP8Q_OK) return r;
    fp8q__hpu_recipe_free(h, h->cache[slot]);
    h->cache[slot] = *out;
    (*out)->last_use = ++h->tick;
    return FP8Q_OK;
}

/* ----------------------------------------------------------- launching */

/* Runs recipe rc once (GAUDI.md 7.3 steps 7-11): buffers, uploads, launch,
   read-back, synchronize, frees. */
static fp8q_result fp8q__hpu_run(fp8q__hpu *h, const fp8q__hpu_recipe *rc, const fp8q__hpu_io *io, fp8q_error *err)
{
    uint64_t dev[FP8Q__HPU_MAX_TENSORS] = {0}, workspace = 0;
    void *host[FP8Q__HPU_MAX_TENSORS] = {0};
    synLaunchTensorInfoExt info[FP8Q__HPU_MAX_TENSORS];
    fp8q_result r = FP8Q_OK;
    int i, queued = 0;
    for (i = 0; r == FP8Q_OK && i < rc->n_launch; i++) {
        r = FP8Q__SYN(h, err, synDeviceMalloc, (h->dev, rc->launch[i].bytes, 0, 0, &dev[i]));
        if (r == FP8Q_OK) r = FP8Q__SYN(h, err, synHostMalloc, (h->dev, rc->launch[i].bytes, 0, &host[i]));
    }
    if (r == FP8Q_OK && rc->workspace)
        r = FP8Q__SYN(h, err, synDeviceMalloc, (h->dev, rc->workspace, 0, 0, &workspace));
    for (i = 0; r == FP8Q_OK && i < rc->n_launch; i++) {
        const fp8q__hpu_launch_tensor *l = &rc->launch[i];
        if (l->role != FP8Q__HPU_IN) continue;
        memcpy(host[i], io[l->tensor].src, (size_t)l->bytes);
        r = FP8Q__SYN(h, err, synMemCopyAsync,
                      (h->stream, (uint64_t)(uintptr_t)host[i], l->bytes, dev[i], HOST_TO_DRAM));
        queued = 1;
    }
    if (r == FP8Q_OK) {
        memset(info, 0, sizeof info);
        for (i = 0; i < rc->n_launch; i++) {
            info[i].tensorName = rc->launch[i].name;
            info[i].pTensorAddress = dev[i];
            info[i].tensorType = DATA_TENSOR;
            info[i].tensorSize[0] = rc->launch[i].sizes[0];
            info[i].tensorSize[1] = rc->launch[i].sizes[1];
            info[i].tensorId = rc->launch_ids[i];
        }
        r = FP8Q__SYN(h, err, synLaunchExt, (h->stream, info, (uint32_t)rc->n_launch, workspace, rc->recipe, 0));
    }
    for (i = 0; r == FP8Q_OK && i < rc->n_launch; i++)
        if (rc->launch[i].role == FP8Q__HPU_OUT)
            r = FP8Q__SYN(h, err, synMemCopyAsync,
                          (h->stream, dev[i], rc->launch[i].bytes, (uint64_t)(uintptr_t)host[i], DRAM_TO_HOST));
    if (r == FP8Q_OK)
        r = FP8Q__SYN(h, err, synStreamSynchronize, (h->stream));
    else if (queued)
        (void)h->api.synStreamSynchronize(h->stream); /* queued copies finish before their buffers go */
    for (i = 0; r == FP8Q_OK && i < rc->n_launch; i++)
        if (rc->launch[i].role == FP8Q__HPU_OUT)
            memcpy(io[rc->launch[i].tensor].dst, host[i], (size_t)rc->launch[i].bytes);
    for (i = 0; i < rc->n_launch; i++)
        if (host[i]) r = FP8Q__SYN_KEEP(r, h, err, synHostFree, (h->dev, host[i], 0));
    for (i = 0; i < rc->n_launch; i++)
        if (dev[i]) r = FP8Q__SYN_KEEP(r, h, err, synDeviceFree, (h->dev, dev[i], 0));
    if (workspace) r = FP8Q__SYN_KEEP(r, h, err, synDeviceFree, (h->dev, workspace, 0));
    return r;
}

static fp8q_result fp8q__hpu_execute(fp8q__hpu *h, const fp8q__hpu_graph *d, const fp8q__hpu_io *io, fp8q_error *err)
{
    fp8q__hpu_recipe *rc;
    fp8q_result r = fp8q__hpu_recipe_for(h, d, &rc, err);
    return r != FP8Q_OK ? r : fp8q__hpu_run(h, rc, io, err);
}

/* -------------------------------------------------------------- encode */

/* Whether x is +-2^k (a normal or subnormal float). */
static int fp8q__hpu_power_of_two(float x)
{
    const uint32_t u = fp8q__hpu_bits(x) & 0x7FFFFFFFu;
    if (u == 0 || u >= 0x7F800000u) return 0;
    return u < 0x00800000u ? (u & (u - 1)) == 0 : (u & 0x007FFFFFu) == 0;
}

/* The multiplier convert_to_fp8 applies, when the device can apply op exactly. */
static int fp8q__hpu_inverse_scale(fp8q_scale_op op, float scale, float *inv)
{
    switch (op) {
    case FP8Q_SCALE_NONE: *inv = 1.0f; return 1;
    case FP8Q_SCALE_MUL: *inv = scale; return fp8q__hpu_finite(scale);
    case FP8Q_SCALE_DIV: /* x / 2^k and x * 2^-k are the same real number, rounded alike */
        if (!fp8q__hpu_power_of_two(scale)) return 0;
        *inv = 1.0f / scale;
        return fp8q__hpu_finite(*inv);
    }
    return 0;
}

static fp8q_result fp8q__hpu_encode(fp8q_backend *b, uint8_t *dst, const void *src, fp8q_dtype src_type, size_t n,
                                    fp8q_format fmt, fp8q_saturation sat, fp8q_scale_op op, float scale,
                                    fp8q_error *err)
{
    fp8q__hpu *h = (fp8q__hpu *)b->impl;
    const synDataType x_type = src_type == FP8Q_F32 ? syn_type_single : syn_type_bf16;
    const synDataType y_type = fmt == FP8Q_E4M3 ? syn_type_fp8_143 : syn_type_fp8_152;
    fp8q__syn_cast_params params;
    fp8q__hpu_graph d;
    fp8q__hpu_io io[FP8Q__HPU_MAX_TENSORS];
    float inv;
    int x, y;
    if (!dst || !src || n == 0 || n > ((size_t)-1) / 4 || sat != FP8Q_SATFINITE) return FP8Q_ERR_UNSUPPORTED;
    if ((src_type != FP8Q_F32 && src_type != FP8Q_BF16) || (fmt != FP8Q_E4M3 && fmt != FP8Q_E5M2))
        return FP8Q_ERR_UNSUPPORTED;
    if (!fp8q__hpu_inverse_scale(op, scale, &inv)) return FP8Q_ERR_UNSUPPORTED;
    memset(&d, 0, sizeof d);
    params.round_mode = CAST_ROUND_HALF_NE;
    d.key.op = FP8Q__HPU_ENCODE;
    d.key.dims[0] = n;
    d.key.type[0] = x_type, d.key.type[1] = y_type;
    d.key.scale[0] = fp8q__hpu_bits(inv);
    d.guid = src_type == FP8Q_F32 ? "convert_to_fp8_f32" : "convert_to_fp8_bf16";
    d.params = &params, d.params_size = sizeof params;
    x = fp8q__hpu_describe(&d, "x", FP8Q__HPU_IN, x_type, n, 0, 0.0f);
    d.inputs[0] = x;
    d.inputs[1] = fp8q__hpu_describe(&d, "inv_scale", FP8Q__HPU_CONST, syn_type_single, 1, 0, inv);
    d.n_inputs = 2;
    y = fp8q__hpu_describe(&d, "y", FP8Q__HPU_OUT, y_type, n, 0, 0.0f);
    d.output = y;
    memset(io, 0, sizeof io);
    io[x].src = src, io[y].dst = dst;
    return fp8q__hpu_execute(h, &d, io, err);
}

/* ---------------------------------------------------------------- gemm */

/* The single scale of an operand of rows x cols elements, when its scales are per tensor. */
static int fp8q__hpu_tensor_scale(const float *scales, int tile_rows, int tile_cols, size_t rows, size_t cols,
                                  float *out)
{
    *out = 1.0f;
    if (tile_rows < 0 || tile_cols < 0) return 0;
    if (!scales) return 1;
    if ((tile_rows && (size_t)tile_rows < rows) || (tile_cols && (size_t)tile_cols < cols)) return 0;
    *out = scales[0];
    return fp8q__hpu_finite(*out);
}

static int fp8q__hpu_fits(size_t a, size_t b) { return a <= ((size_t)-1) / 4 / b; }

static int fp8q__hpu_gemm_supported(const fp8q_gemm *g, float *sa, float *sb)
{
    if (!g || !g->a || !g->b || !g->c || g->M == 0 || g->N == 0 || g->K == 0) return 0;
    if (g->a_format != FP8Q_E4M3 || g->b_format != FP8Q_E4M3 || g->c_type != FP8Q_BF16) return 0;
    if (!fp8q__hpu_fits(g->M, g->K) || !fp8q__hpu_fits(g->N, g->K) || !fp8q__hpu_fits(g->M, g->N)) return 0;
    return fp8q__hpu_tensor_scale(g->a_scales, g->a_tile_rows, g->a_tile_cols, g->M, g->K, sa) &&
           fp8q__hpu_tensor_scale(g->b_scales, g->b_tile_rows, g->b_tile_cols, g->N, g->K, sb);
}

/* bias[n] as bfloat16 bits, when every value is a finite bfloat16. */
static int fp8q__hpu_bias_bf16(const float *bias, size_t n, uint16_t *out)
{
    size_t i;
    for (i = 0; i < n; i++) {
        const uint32_t u = fp8q__hpu_bits(bias[i]);
        if (!fp8q__hpu_finite(bias[i]) || (u & 0xFFFFu)) return 0;
        out[i] = (uint16_t)(u >> 16);
    }
    return 1;
}

/* FP8Q_ERR_ARG when a byte of operand name[rows][cols] means another value on
   the device than in E4M3 (Gaudi2: 256..448 would become inf/NaN). */
static fp8q_result fp8q__hpu_check_operand(const fp8q__hpu *h, const char *name, const uint8_t *q, size_t rows,
                                           size_t cols, fp8q_error *err)
{
    const fp8q_gaudi_fp8 f = fp8q_gaudi_fp8_default(h->chip, FP8Q_GAUDI_143);
    size_t i;
    for (i = 0; i < rows * cols; i++)
        if (h->misread[q[i]])
            return fp8q__hpu_fail(err, FP8Q_ERR_ARG,
                                  "fp8q_hpu: %s[%lu][%lu] = 0x%02X is %g in E4M3 but %g on %s, whose E4M3 ends at "
                                  "%g: rescale %s (e.g. halve it, double its scale)",
                                  name, (unsigned long)(i / cols), (unsigned long)(i % cols), (unsigned)q[i],
                                  (double)fp8q_to_f32(q[i], FP8Q_E4M3), (double)fp8q_gaudi_to_f32(q[i], &f),
                                  h->base.device, (double)fp8q_gaudi_max(&f), name);
    return FP8Q_OK;
}

static fp8q_result fp8q__hpu_gemm(fp8q_backend *b, const fp8q_gemm *g, fp8q_gemm_mode mode, fp8q_error *err)
{
    fp8q__hpu *h = (fp8q__hpu *)b->impl;
    synGEMMParams params;
    fp8q__hpu_graph d;
    fp8q__hpu_io io[FP8Q__HPU_MAX_TENSORS];
    uint16_t *bias = NULL;
    float sa, sb;
    fp8q_result r;
    int a, w, y;
    (void)mode; /* the MME accumulates its own way */
    if (!fp8q__hpu_gemm_supported(g, &sa, &sb)) return FP8Q_ERR_UNSUPPORTED;
    if (g->bias) {
        bias = (uint16_t *)malloc(g->N * sizeof *bias);
        if (!bias) return fp8q__hpu_fail(err, FP8Q_ERR_NOMEM, "fp8q_hpu: out of memory for the bias");
        if (!fp8q__hpu_bias_bf16(g->bias, g->N, bias)) {
            free(bias);
            return FP8Q_ERR_UNSUPPORTED;
        }
    }
    r = fp8q__hpu_check_operand(h, "A", g->a, g->M, g->K, err);
    if (r == FP8Q_OK) r = fp8q__hpu_check_operand(h, "B", g->b, g->N, g->K, err);
    if (r != FP8Q_OK) {
        free(bias);
        return r;
    }
    memset(&d, 0, sizeof d);
    memset(io, 0, sizeof io);
    params.transpose_a = 0, params.transpose_b = 1; /* B is W[N][K] */
    d.key.op = FP8Q__HPU_GEMM;
    d.key.dims[0] = g->M, d.key.dims[1] = g->N, d.key.dims[2] = g->K;
    d.key.type[0] = bias ? syn_type_bf16 : syn_type_na, d.key.type[1] = syn_type_bf16;
    d.key.scale[0] = fp8q__hpu_bits(sa), d.key.scale[1] = fp8q__hpu_bits(sb);
    d.guid = "fp8_gemm_bf16";
    d.params = &params, d.params_size = sizeof params;
    a = fp8q__hpu_describe(&d, "a", FP8Q__HPU_IN, syn_type_fp8_143, g->K, g->M, 0.0f);
    w = fp8q__hpu_describe(&d, "w", FP8Q__HPU_IN, syn_type_fp8_143, g->K, g->N, 0.0f);
    d.inputs[0] = a, d.inputs[1] = w;
    d.inputs[2] = fp8q__hpu_describe(&d, "a_scale", FP8Q__HPU_CONST, syn_type_single, 1, 0, sa);
    d.inputs[3] = fp8q__hpu_describe(&d, "w_scale", FP8Q__HPU_CONST, syn_type_single, 1, 0, sb);
    d.inputs[4] = bias ? fp8q__hpu_describe(&d, "bias", FP8Q__HPU_IN, syn_type_bf16, g->N, 0, 0.0f) : -1;
    d.inputs[5] = d.inputs[6] = -1; /* D, output inverse scale */
    d.n_inputs = FP8Q__HPU_GEMM_INPUTS;
    y = fp8q__hpu_describe(&d, "y", FP8Q__HPU_OUT, syn_type_bf16, g->N, g->M, 0.0f);
    d.output = y;
    io[a].src = g->a, io[w].src = g->b, io[y].dst = g->c;
    if (bias) io[d.inputs[4]].src = bias;
    r = fp8q__hpu_execute(h, &d, io, err);
    free(bias);
    return r;
}

/* ---------------------------------------------------------- open/close */

static void fp8q__hpu_free(fp8q__hpu *h)
{
    int i;
    for (i = 0; i < FP8Q__HPU_CACHE; i++) fp8q__hpu_recipe_free(h, h->cache[i]);
    if (h->stream) (void)h->api.synStreamDestroy(h->stream);
    if (h->acquired) (void)h->api.synDeviceRelease(h->dev);
    if (h->initialized) (void)h->api.synDestroy();
    if (h->lib) (void)dlclose(h->lib);
    free(h);
}

static void fp8q__hpu_close(fp8q_backend *b)
{
    if (b) fp8q__hpu_free((fp8q__hpu *)b->impl);
}

static const char *fp8q__hpu_dlerror(void)
{
    const char *e = dlerror();
    return e ? e : "unknown error";
}

/* dlopens the Synapse library and resolves every entry point. */
static fp8q_result fp8q__hpu_load(fp8q__hpu *h, const char *library, fp8q_error *err)
{
    static const char *const defaults[] = {"libSynapse.so", "/usr/lib/habanalabs/libSynapse.so"};
    const char *env = getenv("FP8Q_SYNAPSE_LIBRARY"), *path = library ? library : env;
    size_t i;
    if (path && *path) {
        h->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h->lib)
            return fp8q__hpu_fail(err, FP8Q_ERR_DEVICE, "fp8q_hpu_open: cannot load the Synapse runtime %s: %s", path,
                                  fp8q__hpu_dlerror());
    } else {
        for (i = 0; !h->lib && i < sizeof defaults / sizeof defaults[0]; i++)
            h->lib = dlopen(path = defaults[i], RTLD_NOW | RTLD_LOCAL);
        if (!h->lib)
            return fp8q__hpu_fail(err, FP8Q_ERR_DEVICE, "fp8q_hpu_open: cannot load the Synapse runtime (%s, %s): %s",
                                  defaults[0], defaults[1], fp8q__hpu_dlerror());
    }
    for (i = 0; i < FP8Q__SYN_ENTRY_COUNT; i++) {
        void *sym;
        (void)dlerror();
        sym = dlsym(h->lib, fp8q__syn_entries[i].name);
        if (!sym)
            return fp8q__hpu_fail(err, FP8Q_ERR_DEVICE, "fp8q_hpu_open: %s has no %s: %s", path,
                                  fp8q__syn_entries[i].name, fp8q__hpu_dlerror());
        memcpy((char *)&h->api + fp8q__syn_entries[i].offset, &sym, sizeof sym);
    }
    return FP8Q_OK;
}

/* Which E4M3 bytes the device reads as another value than OCP E4M3 does (NaN equals NaN). */
static void fp8q__hpu_misread_table(fp8q__hpu *h)
{
    const fp8q_gaudi_fp8 f = fp8q_gaudi_fp8_default(h->chip, FP8Q_GAUDI_143);
    int i;
    for (i = 0; i < 256; i++) {
        const float ocp = fp8q_to_f32((uint8_t)i, FP8Q_E4M3), dev = fp8q_gaudi_to_f32((uint8_t)i, &f);
        h->misread[i] = !(ocp != ocp && dev != dev) && fp8q__hpu_bits(ocp) != fp8q__hpu_bits(dev);
    }
}

/* synInitialize, the device (by type, or the first one and its type), a stream. */
static fp8q_result fp8q__hpu_start(fp8q__hpu *h, int device, fp8q_error *err)
{
    fp8q_result r = FP8Q__SYN(h, err, synInitialize, ());
    if (r != FP8Q_OK) return r;
    h->initialized = 1;
    if (device) {
        h->type = device == FP8Q_GAUDI2 ? synDeviceGaudi2 : synDeviceGaudi3;
        r = FP8Q__SYN(h, err, synDeviceAcquireByDeviceType, (&h->dev, h->type));
    } else {
        r = FP8Q__SYN(h, err, synDeviceAcquire, (&h->dev, NULL));
    }
    if (r != FP8Q_OK) return r;
    h->acquired = 1;
    if (!device) {
        const synDeviceAttribute attribute = DEVICE_ATTRIBUTE_DEVICE_TYPE;
        uint64_t type = 0;
        r = FP8Q__SYN(h, err, synDeviceGetAttribute, (&type, &attribute, 1, h->dev));
        if (r != FP8Q_OK) return r;
        if (type != synDeviceGaudi2 && type != synDeviceGaudi3)
            return fp8q__hpu_fail(err, FP8Q_ERR_DEVICE,
                                  "fp8q_hpu_open: device %u has Synapse type %lu, neither Gaudi2 (4) nor Gaudi3 (5), "
                                  "so no FP8",
                                  (unsigned)h->dev, (unsigned long)type);
        h->type = (synDeviceType)type;
    }
    h->chip = h->type == synDeviceGaudi2 ? FP8Q_GAUDI2 : FP8Q_GAUDI3;
    fp8q__hpu_misread_table(h);
    return FP8Q__SYN(h, err, synStreamCreateGeneric, (&h->stream, h->dev, 0));
}

FP8QDEF fp8q_result fp8q_hpu_open(fp8q_backend **out, const fp8q_hpu_options *opt, fp8q_error *err)
{
    const int device = opt ? opt->device : 0;
    fp8q__hpu *h;
    fp8q_result r;
    if (!out) return fp8q__hpu_fail(err, FP8Q_ERR_ARG, "fp8q_hpu_open: out is NULL");
    *out = NULL;
    if (device != 0 && device != FP8Q_GAUDI2 && device != FP8Q_GAUDI3)
        return fp8q__hpu_fail(err, FP8Q_ERR_ARG, "fp8q_hpu_open: device %d is not 0, FP8Q_GAUDI2 or FP8Q_GAUDI3",
                              device);
    h = (fp8q__hpu *)calloc(1, sizeof *h);
    if (!h) return fp8q__hpu_fail(err, FP8Q_ERR_NOMEM, "fp8q_hpu_open: out of memory");
    r = fp8q__hpu_load(h, opt ? opt->library : NULL, err);
    if (r == FP8Q_OK) r = fp8q__hpu_start(h, device, err);
    if (r != FP8Q_OK) {
        fp8q__hpu_free(h);
        return r;
    }
    h->base.kind = FP8Q_BACKEND_HPU;
    h->base.name = "hpu";
    (void)snprintf(h->base.device, sizeof h->base.device, "%s", h->chip == FP8Q_GAUDI2 ? "Gaudi2" : "Gaudi3");
    h->base.impl = h;
    h->base.encode = fp8q__hpu_encode;
    h->base.gemm = fp8q__hpu_gemm;
    h->base.close = fp8q__hpu_close;
    *out = &h->base;
    return FP8Q_OK;
}

#else /* no dlopen */

FP8QDEF fp8q_result fp8q_hpu_open(fp8q_backend **out, const fp8q_hpu_options *opt, fp8q_error *err)
{
    (void)opt;
    if (out) *out = NULL;
    if (err) {
        (void)snprintf(err->message, sizeof err->message, "fp8q_hpu_open: not supported on this platform (no dlopen)");
        err->code = FP8Q_ERR_DEVICE;
        err->offset = 0;
    }
    return FP8Q_ERR_DEVICE;
}

#endif /* FP8Q__HPU_DLOPEN */
