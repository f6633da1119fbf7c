/* fake_synapse.c - a stand-in for libSynapse.so, to test fp8q_hpu.c without a Gaudi.

   Build it as a shared library and give fp8q_hpu_open its path:
     cc -std=c99 -pedantic -Wall -Wextra -Werror -O2 -fPIC -shared -I. tests/fake_synapse.c \
        -o build/libfake_synapse.so -lm

   It exports every Synapse entry point fp8q_hpu.c resolves, with the
   signatures of synapse_api.h (GAUDI.md 7), declared here independently of
   fp8q_hpu.c, and runs everything on the CPU:
   - graphs, tensors, sections, recipes and streams are heap objects; an
     unknown or destroyed handle gives synInvalidArgument, as do a GUID over
     30 characters, wrong input or output counts, data types or geometry
     (GEMMNode::validateNodeLayout, GAUDI.md 7.4), DMA directions and device
     addresses outside an allocation. The reason is in the call log.
   - One device (id 0) of the type $FAKE_SYNAPSE_DEVICE names; device memory
     is host memory behind fake 64-bit addresses (never valid host pointers).
   - Streams queue copies and launches and run them at synStreamSynchronize:
     a caller that reads results before synchronizing sees stale data, and
     freeing memory or a recipe a queued command uses gives synBusy.
   - Numerics (GAUDI.md 1-3), with the recipe's device default format
     (fp8q_gaudi_fp8_default):
     convert_to_fp8_bf16 / _f32 = fp8q_gaudi_encode_bf16 / _f32 with the
       Params rounding and FP8Q_GAUDI_SATURATE (the framework cast);
     fp8_gemm_bf16 decodes A and B with fp8q_gaudi_to_f32 and returns the
       exact value sum_k a*b * sA * sB + bias rounded once to bf16 (RNE):
       fp8q_gemm_run(FP8Q_GEMM_EXACT) on the same values written as OCP E4M3,
       which holds every finite value of the default formats. Terms with
       inf/NaN follow IEEE; NaN is 7FFF, as fp8q's CPU writes it. The real
       MME accumulates in float32 (GAUDI.md 5), so only this fake is bit-exact.
   Knobs, read at each call:
     FAKE_SYNAPSE_DEVICE  gaudi2 (default), gaudi3 or none
     FAKE_SYNAPSE_FAIL    comma-separated entry points that fail (a trailing *
                          matches a prefix): synNoDeviceFound for the acquire
                          calls, synOutOfDeviceMemory for synDeviceMalloc,
                          synFail for the others
     FAKE_SYNAPSE_LOG     a file the call log is also appended to
   Extra exports for tests: fake_synapse_log() (one line per call:
   "name args = status"), fake_synapse_log_clear(), fake_synapse_live()
   (objects, buffers, devices and initializations not yet undone) and
   fake_synapse_live_report(). */
#if defined(__GNUC__) || defined(__clang__)
#define FP8QDEF extern __attribute__((visibility("hidden"))) /* export only the Synapse names */
#endif
#define FP8Q_IMPLEMENTATION
#include "fp8q.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------- Synapse types (synapse_*.h) */

typedef enum synStatus {
    synSuccess = 0,
    synInvalidArgument = 1,
    synOutOfHostMemory = 3,
    synOutOfDeviceMemory = 4,
    synNoDeviceFound = 8,
    synDeviceTypeMismatch = 9,
    synUnsupported = 18,
    synDeviceAlreadyAcquired = 20,
    synNameIsAlreadyUsed = 21,
    synBusy = 22,
    synFail = 26,
    synUninitialized = 28,
    synStatusLast = 43
} synStatus;
typedef enum synDeviceType { synDeviceGaudi2 = 4, synDeviceGaudi3 = 5, synDeviceTypeInvalid = 7 } synDeviceType;
typedef enum synDataType {
    syn_type_na = 0,
    syn_type_int8 = 1,
    syn_type_bf16 = 2,
    syn_type_single = 4,
    syn_type_int16 = 8,
    syn_type_int32 = 16,
    syn_type_uint8 = 32,
    syn_type_fp16 = 1 << 8,
    syn_type_fp8_143 = 1 << 13,
    syn_type_fp8_152 = 1 << 14,
    syn_type_max = (1 << 17) + 1
} synDataType;
typedef enum synTensorType { DATA_TENSOR = 0 } synTensorType;
typedef enum synGeometryType { synGeometryMinSizes = 0, synGeometrySizes = 1, synGeometryDims = 2 } synGeometryType;
typedef enum synDmaDir { HOST_TO_DRAM = 0, DRAM_TO_HOST = 1, DRAM_TO_DRAM = 2 } synDmaDir;
typedef enum synDeviceAttribute { DEVICE_ATTRIBUTE_DEVICE_TYPE = 7 } synDeviceAttribute;
typedef uint32_t synDeviceId;

#define HABANA_DIM_MAX        25
#define SYN_FLAGS_TENSOR_NAME 1

typedef struct synTensorGeometry {
    uint64_t sizes[HABANA_DIM_MAX];
    uint32_t dims;
} synTensorGeometry;

typedef struct synLaunchTensorInfoExt {
    const char *tensorName;
    uint64_t pTensorAddress;
    synTensorType tensorType;
    uint64_t tensorSize[HABANA_DIM_MAX];
    uint64_t tensorId;
} synLaunchTensorInfoExt;

/* perf_lib_layer_params.h CastF32RoundMode_t, with the fp8q rounding each means. */
static const struct fake_cast_round {
    uint32_t mode;
    fp8q_gaudi_rounding rounding;
} fake_cast_rounds[] = {
    {0, FP8Q_GAUDI_RNE}, /* CAST_ROUND_HALF_NE */
    {1, FP8Q_GAUDI_RD},  /* CAST_ROUND_DOWN */
    {2, FP8Q_GAUDI_RU},  /* CAST_ROUND_UP */
    {4, FP8Q_GAUDI_RZ},  /* CAST_ROUND_ZERO */
    {5, FP8Q_GAUDI_RNE}, /* CAST_ROUND_DEFAULT */
    {6, FP8Q_GAUDI_RHAZ} /* CAST_ROUND_HALF_AZ; SR (3) and SFTZ (8) need the LFSR state */
};

static const struct fake_status_text {
    synStatus status;
    const char *text;
} fake_status_texts[] = {
    {synSuccess, "Success"},
    {synInvalidArgument, "Invalid argument"},
    {synOutOfHostMemory, "Out of host memory"},
    {synOutOfDeviceMemory, "Out of device memory"},
    {synNoDeviceFound, "No device found"},
    {synDeviceTypeMismatch, "Device type mismatch"},
    {synUnsupported, "Unsupported"},
    {synDeviceAlreadyAcquired, "Device already acquired"},
    {synNameIsAlreadyUsed, "Name is already used"},
    {synBusy, "Busy"},
    {synFail, "Fail"},
    {synUninitialized, "Uninitialized"},
};

/* -------------------------------------------------------------- objects */

typedef enum fake_kind { FAKE_GRAPH, FAKE_TENSOR, FAKE_SECTION, FAKE_RECIPE, FAKE_STREAM, FAKE_KINDS } fake_kind;
static const char *const fake_kind_names[FAKE_KINDS] = {"graph", "tensor", "section", "recipe", "stream"};

typedef struct fake_obj {
    fake_kind kind;
    struct fake_obj *next;
} fake_obj;

#define FAKE_NAME_MAX 64
#define FAKE_MAX_IO   8

typedef struct fake_graph fake_graph;

typedef struct fake_tensor {
    fake_obj obj;
    fake_graph *graph;
    char name[FAKE_NAME_MAX];
    uint32_t dims; /* 0 until synTensorSetGeometry */
    uint64_t sizes[HABANA_DIM_MAX];
    synDataType type; /* syn_type_na until synTensorSetDeviceDataType */
    int in_section;
    int is_const; /* synTensorSetHostPtr gave its value */
    float value;
} fake_tensor;

struct fake_graph {
    fake_obj obj;
    synDeviceType type;
    int has_node;
    char guid[32];
    fake_tensor *inputs[FAKE_MAX_IO];
    uint32_t n_inputs;
    fake_tensor *output;
    unsigned char params[16];
    unsigned params_size;
};

typedef struct fake_section {
    fake_obj obj;
    fake_graph *graph;
} fake_section;

/* A tensor as a recipe keeps it (recipes outlive their graphs). */
typedef struct fake_recipe_tensor {
    char name[FAKE_NAME_MAX];
    uint64_t id;
    synDataType type;
    uint32_t dims;
    uint64_t sizes[HABANA_DIM_MAX];
    int persistent;
    float value; /* constant tensors */
} fake_recipe_tensor;

typedef struct fake_recipe {
    fake_obj obj;
    synDeviceType type;
    char guid[32];
    unsigned char params[16];
    unsigned params_size;
    fake_recipe_tensor t[FAKE_MAX_IO];
    int n;
    int input[FAKE_MAX_IO]; /* per node input: index into t, -1 for NULL */
    uint32_t n_inputs;
    int output;
    uint64_t workspace;
} fake_recipe;

typedef struct fake_cmd {
    struct fake_cmd *next;
    fake_recipe *recipe; /* a launch, or NULL for a copy */
    synDmaDir dir;
    uint64_t src, dst, size;
    uint64_t addr[FAKE_MAX_IO]; /* launch: per recipe tensor */
} fake_cmd;

typedef struct fake_stream {
    fake_obj obj;
    fake_cmd *head, *tail;
} fake_stream;

typedef struct fake_mem {
    struct fake_mem *next;
    int device;    /* device memory at addr, else a host buffer */
    uint64_t addr; /* device: the fake address; host: the pointer */
    uint64_t size;
    unsigned char *data;
} fake_mem;

#define FAKE_DEVICE_BASE 0xDE00000000000000ull /* fake device addresses (non-canonical on x86-64) */
#define FAKE_WORKSPACE   4096                  /* bytes every recipe asks for */

static struct fake_state {
    int initialized;
    int acquired;
    synDeviceType device_type;
    fake_obj *objects;
    fake_mem *mems;
    uint64_t next_addr, next_id;
    char *log;
    size_t log_len, log_cap;
} F;

/* ------------------------------------------------------------- the log */

static void fake_log_append(const char *line)
{
    const size_t k = strlen(line);
    const char *path = getenv("FAKE_SYNAPSE_LOG");
    if (F.log_len + k + 2 > F.log_cap) {
        size_t cap = F.log_cap ? F.log_cap : 4096;
        char *p;
        while (F.log_len + k + 2 > cap) cap *= 2;
        p = (char *)realloc(F.log, cap);
        if (!p) return;
        F.log = p, F.log_cap = cap;
    }
    memcpy(F.log + F.log_len, line, k);
    F.log_len += k;
    F.log[F.log_len++] = '\n';
    F.log[F.log_len] = '\0';
    if (path && *path) {
        FILE *f = fopen(path, "a");
        if (f) {
            fprintf(f, "%s\n", line);
            fclose(f);
        }
    }
}

/* Logs "call args = status" and returns status. */
static synStatus fake_ret(synStatus status, const char *fmt, ...)
{
    char line[1024];
    int k;
    va_list ap;
    va_start(ap, fmt);
    k = vsnprintf(line, sizeof line - 16, fmt, ap);
    va_end(ap);
    if (k < 0) k = 0;
    if (k > (int)sizeof line - 17) k = (int)sizeof line - 17;
    snprintf(line + k, 16, " = %d", (int)status);
    fake_log_append(line);
    return status;
}

const char *fake_synapse_log(void) { return F.log ? F.log : ""; }

void fake_synapse_log_clear(void)
{
    F.log_len = 0;
    if (F.log) F.log[0] = '\0';
}

/* ------------------------------------------------------ failure knobs */

static int fake_pattern_matches(const char *pattern, size_t len, const char *fn)
{
    if (len && pattern[len - 1] == '*') return strncmp(pattern, fn, len - 1) == 0;
    return strlen(fn) == len && strncmp(pattern, fn, len) == 0;
}

static int fake_should_fail(const char *fn)
{
    const char *spec = getenv("FAKE_SYNAPSE_FAIL");
    while (spec && *spec) {
        const char *end = strchr(spec, ',');
        const size_t len = end ? (size_t)(end - spec) : strlen(spec);
        if (fake_pattern_matches(spec, len, fn)) return 1;
        spec = end ? end + 1 : NULL;
    }
    return 0;
}

static synStatus fake_injected_status(const char *fn)
{
    if (strncmp(fn, "synDeviceAcquire", 16) == 0) return synNoDeviceFound;
    if (strcmp(fn, "synDeviceMalloc") == 0) return synOutOfDeviceMemory;
    return synFail;
}

/* Every entry point begins here: an injected failure, or a call before synInitialize. */
#define FAKE_ENTER(fn)                                                                                                 \
    do {                                                                                                               \
        if (fake_should_fail(fn)) return fake_ret(fake_injected_status(fn), "%s (injected)", fn);                      \
        if (!F.initialized) return fake_ret(synUninitialized, "%s (before synInitialize)", fn);                        \
    } while (0)

/* ------------------------------------------------------------- helpers */

static void *fake_new(fake_kind kind, size_t size)
{
    fake_obj *o = (fake_obj *)calloc(1, size);
    if (!o) return NULL;
    o->kind = kind;
    o->next = F.objects;
    F.objects = o;
    return o;
}

/* The live object of that kind at handle, or NULL. */
static void *fake_find(fake_kind kind, const void *handle)
{
    fake_obj *o;
    for (o = F.objects; o; o = o->next)
        if (o == handle && o->kind == kind) return o;
    return NULL;
}

static void fake_delete(void *handle)
{
    fake_obj **p;
    for (p = &F.objects; *p; p = &(*p)->next)
        if (*p == handle) {
            *p = (*p)->next;
            free(handle);
            return;
        }
}

static uint64_t fake_type_size(synDataType t)
{
    switch (t) {
    case syn_type_int8:
    case syn_type_uint8:
    case syn_type_fp8_143:
    case syn_type_fp8_152: return 1;
    case syn_type_bf16:
    case syn_type_fp16:
    case syn_type_int16: return 2;
    case syn_type_single:
    case syn_type_int32: return 4;
    default: return 0;
    }
}

static uint64_t fake_elements(uint32_t dims, const uint64_t *sizes)
{
    uint64_t n = 1;
    uint32_t i;
    for (i = 0; i < dims; i++) n *= sizes[i];
    return n;
}

static const char *fake_sizes_text(uint32_t dims, const uint64_t *sizes, char *buf, size_t cap)
{
    size_t k = 0;
    uint32_t i;
    buf[0] = '\0';
    for (i = 0; i < dims && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%llu", i ? "," : "", (unsigned long long)sizes[i]);
    return buf;
}

/* The memory block of that kind holding [addr, addr + size), or NULL. */
static fake_mem *fake_mem_at(int device, uint64_t addr, uint64_t size)
{
    fake_mem *m;
    for (m = F.mems; m; m = m->next)
        if (m->device == device && addr >= m->addr && size <= m->size && addr - m->addr <= m->size - size) return m;
    return NULL;
}

static unsigned char *fake_mem_ptr(int device, uint64_t addr, uint64_t size)
{
    fake_mem *m = fake_mem_at(device, addr, size);
    return m ? m->data + (addr - m->addr) : NULL;
}

/* Whether a queued command touches [addr, addr + size) or uses recipe rc. */
static int fake_busy(uint64_t addr, uint64_t size, const fake_recipe *rc)
{
    fake_obj *o;
    for (o = F.objects; o; o = o->next) {
        const fake_cmd *c;
        if (o->kind != FAKE_STREAM) continue;
        for (c = ((fake_stream *)o)->head; c; c = c->next) {
            int i;
            if (rc && c->recipe == rc) return 1;
            if (size && !c->recipe &&
                ((c->src >= addr && c->src - addr < size) || (c->dst >= addr && c->dst - addr < size)))
                return 1;
            for (i = 0; size && c->recipe && i < c->recipe->n; i++)
                if (c->addr[i] >= addr && c->addr[i] - addr < size) return 1;
        }
    }
    return 0;
}

static fp8q_gaudi fake_chip(synDeviceType t) { return t == synDeviceGaudi2 ? FP8Q_GAUDI2 : FP8Q_GAUDI3; }

/* ------------------------------------------------- library and device */

synStatus synInitialize(void)
{
    if (fake_should_fail("synInitialize")) return fake_ret(synFail, "synInitialize (injected)");
    F.initialized = 1;
    if (!F.next_addr) F.next_addr = FAKE_DEVICE_BASE, F.next_id = 0x5000;
    return fake_ret(synSuccess, "synInitialize");
}

long fake_synapse_live(void)
{
    long n = F.initialized + F.acquired;
    const fake_obj *o;
    const fake_mem *m;
    for (o = F.objects; o; o = o->next) n++;
    for (m = F.mems; m; m = m->next) n++;
    return n;
}

const char *fake_synapse_live_report(void)
{
    static char text[256];
    long count[FAKE_KINDS] = {0}, device = 0, host = 0;
    const fake_obj *o;
    const fake_mem *m;
    size_t k = 0;
    int i;
    for (o = F.objects; o; o = o->next) count[o->kind]++;
    for (m = F.mems; m; m = m->next) m->device ? device++ : host++;
    for (i = 0; i < FAKE_KINDS; i++)
        k += (size_t)snprintf(text + k, sizeof text - k, "%s %ld, ", fake_kind_names[i], count[i]);
    snprintf(text + k, sizeof text - k, "device buffers %ld, host buffers %ld, acquired %d, initialized %d", device,
             host, F.acquired, F.initialized);
    return text;
}

synStatus synDestroy(void)
{
    FAKE_ENTER("synDestroy");
    F.initialized = 0;
    return fake_ret(synSuccess, "synDestroy live: %s", fake_synapse_live_report());
}

synStatus synStatusGetBriefDescription(synStatus status, char *text, uint64_t len)
{
    size_t i;
    const char *t = "Unknown status";
    if (!text || len == 0) return synInvalidArgument;
    for (i = 0; i < sizeof fake_status_texts / sizeof fake_status_texts[0]; i++)
        if (fake_status_texts[i].status == status) t = fake_status_texts[i].text;
    snprintf(text, (size_t)len, "%s", t);
    return synSuccess;
}

/* The device type this machine has, or synDeviceTypeInvalid for none. */
static synDeviceType fake_device_present(void)
{
    const char *d = getenv("FAKE_SYNAPSE_DEVICE");
    if (!d || !*d || strcmp(d, "gaudi2") == 0) return synDeviceGaudi2;
    if (strcmp(d, "gaudi3") == 0) return synDeviceGaudi3;
    return synDeviceTypeInvalid;
}

static synStatus fake_acquire(synDeviceId *id, synDeviceType wanted, const char *call)
{
    const synDeviceType present = fake_device_present();
    if (!id) return fake_ret(synInvalidArgument, "%s id=NULL", call);
    if (present == synDeviceTypeInvalid || (wanted != synDeviceTypeInvalid && wanted != present))
        return fake_ret(synNoDeviceFound, "%s type=%d", call, (int)wanted);
    if (F.acquired) return fake_ret(synDeviceAlreadyAcquired, "%s", call);
    F.acquired = 1, F.device_type = present, *id = 0;
    return fake_ret(synSuccess, "%s type=%d -> device 0 of type %d", call, (int)wanted, (int)present);
}

synStatus synDeviceAcquireByDeviceType(synDeviceId *id, synDeviceType type)
{
    FAKE_ENTER("synDeviceAcquireByDeviceType");
    return fake_acquire(id, type, "synDeviceAcquireByDeviceType");
}

synStatus synDeviceAcquire(synDeviceId *id, const char *pci_bus)
{
    FAKE_ENTER("synDeviceAcquire");
    if (pci_bus && *pci_bus) return fake_ret(synNoDeviceFound, "synDeviceAcquire bus=%s", pci_bus);
    return fake_acquire(id, synDeviceTypeInvalid, "synDeviceAcquire");
}

synStatus synDeviceGetAttribute(uint64_t *values, const synDeviceAttribute *attrs, unsigned n, synDeviceId id)
{
    unsigned i;
    FAKE_ENTER("synDeviceGetAttribute");
    if (!F.acquired || id != 0 || !values || !attrs) return fake_ret(synInvalidArgument, "synDeviceGetAttribute");
    for (i = 0; i < n; i++) {
        if (attrs[i] != DEVICE_ATTRIBUTE_DEVICE_TYPE)
            return fake_ret(synInvalidArgument, "synDeviceGetAttribute attribute=%d not modelled", (int)attrs[i]);
        values[i] = (uint64_t)F.device_type;
    }
    return fake_ret(synSuccess, "synDeviceGetAttribute n=%u", n);
}

synStatus synDeviceRelease(synDeviceId id)
{
    FAKE_ENTER("synDeviceRelease");
    if (!F.acquired || id != 0) return fake_ret(synInvalidArgument, "synDeviceRelease device=%u", (unsigned)id);
    F.acquired = 0;
    return fake_ret(synSuccess, "synDeviceRelease device=%u", (unsigned)id);
}

/* -------------------------------------------------------------- memory */

static synStatus fake_mem_new(int device, uint64_t size, fake_mem **out)
{
    fake_mem *m = (fake_mem *)calloc(1, sizeof *m);
    if (!m || size > ((size_t)-1) / 2 || !(m->data = (unsigned char *)calloc(1, (size_t)size))) {
        free(m);
        return device ? synOutOfDeviceMemory : synOutOfHostMemory;
    }
    m->device = device, m->size = size;
    if (device) {
        m->addr = F.next_addr;
        F.next_addr += (size + 8191) / 4096 * 4096; /* a gap after each block */
    } else {
        m->addr = (uint64_t)(uintptr_t)m->data;
    }
    m->next = F.mems;
    F.mems = m;
    *out = m;
    return synSuccess;
}

/* Frees the block that starts at addr, unless a queued command uses it. */
static synStatus fake_mem_free(int device, uint64_t addr)
{
    fake_mem **p;
    for (p = &F.mems; *p; p = &(*p)->next) {
        fake_mem *m = *p;
        if (m->device != device || m->addr != addr) continue;
        if (fake_busy(m->addr, m->size, NULL)) return synBusy;
        *p = m->next;
        free(m->data);
        free(m);
        return synSuccess;
    }
    return synInvalidArgument;
}

synStatus synDeviceMalloc(synDeviceId id, uint64_t size, uint64_t hint, uint32_t flags, uint64_t *addr)
{
    fake_mem *m;
    synStatus s;
    FAKE_ENTER("synDeviceMalloc");
    if (!F.acquired || id != 0 || !addr || size == 0 || flags || hint % 128)
        return fake_ret(synInvalidArgument, "synDeviceMalloc size=%llu hint=%llu flags=%u", (unsigned long long)size,
                        (unsigned long long)hint, flags);
    s = fake_mem_new(1, size, &m);
    if (s == synSuccess) *addr = m->addr;
    return fake_ret(s, "synDeviceMalloc size=%llu", (unsigned long long)size);
}

synStatus synDeviceFree(synDeviceId id, uint64_t addr, uint32_t flags)
{
    FAKE_ENTER("synDeviceFree");
    if (!F.acquired || id != 0 || flags) return fake_ret(synInvalidArgument, "synDeviceFree");
    return fake_ret(fake_mem_free(1, addr), "synDeviceFree");
}

synStatus synHostMalloc(synDeviceId id, uint64_t size, uint32_t flags, void **buffer)
{
    fake_mem *m;
    synStatus s;
    FAKE_ENTER("synHostMalloc");
    if (!F.acquired || id != 0 || !buffer || size == 0 || flags)
        return fake_ret(synInvalidArgument, "synHostMalloc size=%llu", (unsigned long long)size);
    s = fake_mem_new(0, size, &m);
    if (s == synSuccess) *buffer = m->data;
    return fake_ret(s, "synHostMalloc size=%llu", (unsigned long long)size);
}

synStatus synHostFree(synDeviceId id, const void *buffer, uint32_t flags)
{
    FAKE_ENTER("synHostFree");
    if (!F.acquired || id != 0 || flags) return fake_ret(synInvalidArgument, "synHostFree");
    return fake_ret(fake_mem_free(0, (uint64_t)(uintptr_t)buffer), "synHostFree");
}

/* -------------------------------------------------------------- graphs */

synStatus synGraphCreate(void **graph, synDeviceType type)
{
    fake_graph *g;
    FAKE_ENTER("synGraphCreate");
    if (!graph || (type != synDeviceGaudi2 && type != synDeviceGaudi3))
        return fake_ret(synInvalidArgument, "synGraphCreate type=%d", (int)type);
    g = (fake_graph *)fake_new(FAKE_GRAPH, sizeof *g);
    if (!g) return fake_ret(synOutOfHostMemory, "synGraphCreate");
    g->type = type;
    *graph = g;
    return fake_ret(synSuccess, "synGraphCreate type=%d", (int)type);
}

synStatus synGraphDestroy(void *graph)
{
    fake_obj *o, *next;
    long tensors = 0;
    FAKE_ENTER("synGraphDestroy");
    if (!fake_find(FAKE_GRAPH, graph)) return fake_ret(synInvalidArgument, "synGraphDestroy unknown graph");
    for (o = F.objects; o; o = next) { /* Synapse destroys the graph's remaining tensors */
        next = o->next;
        if (o->kind == FAKE_TENSOR && ((fake_tensor *)o)->graph == graph) fake_delete(o), tensors++;
    }
    fake_delete(graph);
    return fake_ret(synSuccess, "synGraphDestroy remaining_tensors=%ld", tensors);
}

synStatus synTensorHandleCreate(void **tensor, void *graph, synTensorType type, const char *name)
{
    fake_obj *o;
    fake_tensor *t;
    FAKE_ENTER("synTensorHandleCreate");
    if (!tensor || !fake_find(FAKE_GRAPH, graph) || type != DATA_TENSOR || !name || !*name ||
        strlen(name) >= FAKE_NAME_MAX)
        return fake_ret(synInvalidArgument, "synTensorHandleCreate name=%s type=%d", name ? name : "(null)", (int)type);
    for (o = F.objects; o; o = o->next)
        if (o->kind == FAKE_TENSOR && ((fake_tensor *)o)->graph == graph && !strcmp(((fake_tensor *)o)->name, name))
            return fake_ret(synNameIsAlreadyUsed, "synTensorHandleCreate name=%s", name);
    t = (fake_tensor *)fake_new(FAKE_TENSOR, sizeof *t);
    if (!t) return fake_ret(synOutOfHostMemory, "synTensorHandleCreate");
    t->graph = (fake_graph *)graph;
    strcpy(t->name, name);
    *tensor = t;
    return fake_ret(synSuccess, "synTensorHandleCreate name=%s type=%d", name, (int)type);
}

synStatus synTensorSetGeometry(void *tensor, const synTensorGeometry *geometry, synGeometryType type)
{
    fake_tensor *t = (fake_tensor *)fake_find(FAKE_TENSOR, tensor);
    char sizes[256];
    uint32_t i;
    FAKE_ENTER("synTensorSetGeometry");
    if (!t || !geometry || type != synGeometrySizes || geometry->dims == 0 || geometry->dims > 5)
        return fake_ret(synInvalidArgument, "synTensorSetGeometry");
    for (i = 0; i < geometry->dims; i++)
        if (geometry->sizes[i] == 0)
            return fake_ret(synInvalidArgument, "synTensorSetGeometry name=%s size 0", t->name);
    t->dims = geometry->dims;
    memcpy(t->sizes, geometry->sizes, sizeof t->sizes);
    return fake_ret(synSuccess, "synTensorSetGeometry name=%s dims=%u sizes=%s", t->name, t->dims,
                    fake_sizes_text(t->dims, t->sizes, sizes, sizeof sizes));
}

synStatus synTensorSetDeviceDataType(void *tensor, synDataType type)
{
    fake_tensor *t = (fake_tensor *)fake_find(FAKE_TENSOR, tensor);
    FAKE_ENTER("synTensorSetDeviceDataType");
    if (!t || fake_type_size(type) == 0)
        return fake_ret(synInvalidArgument, "synTensorSetDeviceDataType type=%d", (int)type);
    t->type = type;
    return fake_ret(synSuccess, "synTensorSetDeviceDataType name=%s type=%d", t->name, (int)type);
}

synStatus synTensorSetHostPtr(void *tensor, void *host, uint64_t size, synDataType type, _Bool copy)
{
    fake_tensor *t = (fake_tensor *)fake_find(FAKE_TENSOR, tensor);
    FAKE_ENTER("synTensorSetHostPtr");
    if (!t || !host || !copy || t->in_section || (t->type != syn_type_na && t->type != type))
        return fake_ret(synInvalidArgument, "synTensorSetHostPtr");
    if (type != syn_type_single || size != 4)
        return fake_ret(synUnsupported, "synTensorSetHostPtr name=%s (only one float32 is modelled)", t->name);
    memcpy(&t->value, host, 4);
    t->is_const = 1;
    return fake_ret(synSuccess, "synTensorSetHostPtr name=%s size=%llu type=%d value=%.9g copy=%d", t->name,
                    (unsigned long long)size, (int)type, (double)t->value, (int)copy);
}

synStatus synSectionCreate(void **section, uint64_t descriptor, void *graph)
{
    fake_section *s;
    FAKE_ENTER("synSectionCreate");
    if (!section || descriptor != 0 || !fake_find(FAKE_GRAPH, graph))
        return fake_ret(synInvalidArgument, "synSectionCreate descriptor=%llu", (unsigned long long)descriptor);
    s = (fake_section *)fake_new(FAKE_SECTION, sizeof *s);
    if (!s) return fake_ret(synOutOfHostMemory, "synSectionCreate");
    s->graph = (fake_graph *)graph;
    *section = s;
    return fake_ret(synSuccess, "synSectionCreate");
}

synStatus synSectionDestroy(void *section)
{
    FAKE_ENTER("synSectionDestroy");
    if (!fake_find(FAKE_SECTION, section)) return fake_ret(synInvalidArgument, "synSectionDestroy unknown section");
    fake_delete(section);
    return fake_ret(synSuccess, "synSectionDestroy");
}

synStatus synTensorAssignToSection(void *tensor, void *section, uint64_t offset)
{
    fake_tensor *t = (fake_tensor *)fake_find(FAKE_TENSOR, tensor);
    fake_section *s = (fake_section *)fake_find(FAKE_SECTION, section);
    FAKE_ENTER("synTensorAssignToSection");
    if (!t || !s || s->graph != t->graph || t->is_const)
        return fake_ret(synInvalidArgument, "synTensorAssignToSection");
    t->in_section = 1;
    return fake_ret(synSuccess, "synTensorAssignToSection name=%s offset=%llu", t->name, (unsigned long long)offset);
}

synStatus synTensorDestroy(void *tensor)
{
    fake_tensor *t = (fake_tensor *)fake_find(FAKE_TENSOR, tensor);
    char name[FAKE_NAME_MAX];
    FAKE_ENTER("synTensorDestroy");
    if (!t) return fake_ret(synInvalidArgument, "synTensorDestroy unknown tensor");
    strcpy(name, t->name);
    fake_delete(t);
    return fake_ret(synSuccess, "synTensorDestroy name=%s", name);
}

/* --------------------------------------------------------------- nodes */

static int fake_is_scale(const fake_tensor *t)
{
    return t && t->type == syn_type_single && t->dims == 1 && t->sizes[0] == 1 && t->is_const;
}

/* NULL when fp8_gemm_bf16's operands fit (GEMMNode::validateNodeLayout), else why not. */
static const char *fake_check_gemm(fake_tensor *const *in, uint32_t n_in, fake_tensor *out, const unsigned char *params,
                                   unsigned params_size)
{
    const fake_tensor *a = in[0], *b = in[1];
    uint64_t ka, kb, m, n;
    int ta, tb;
    if (n_in != 7) return "fp8_gemm_bf16 takes 7 inputs";
    if (!params || params_size != 2) return "params are not a 2-byte synGEMMParams";
    if (!a || !b || !in[2] || !in[3]) return "A, B and both scales are required";
    if (in[5] || in[6]) return "D and the output inverse scale are not modelled";
    if (a->type != syn_type_fp8_143 || b->type != syn_type_fp8_143) return "A and B must be fp8_143";
    if (!fake_is_scale(in[2]) || !fake_is_scale(in[3])) return "scales must be constant 1-element float32 tensors";
    if (out->type != syn_type_bf16) return "the output must be bf16";
    if (a->dims != 2 || b->dims != 2 || out->dims != 2) return "A, B and the output must have 2 dimensions";
    ta = params[0] != 0, tb = params[1] != 0;
    ka = ta ? a->sizes[1] : a->sizes[0], m = ta ? a->sizes[0] : a->sizes[1];
    kb = tb ? b->sizes[0] : b->sizes[1], n = tb ? b->sizes[1] : b->sizes[0];
    if (ka != kb) return "A and B disagree on K";
    if (out->sizes[0] != n || out->sizes[1] != m) return "the output is not {N, M}";
    if (in[4] &&
        (in[4]->dims != 1 || in[4]->sizes[0] != n || (in[4]->type != syn_type_bf16 && in[4]->type != syn_type_single)))
        return "the bias must be bf16 or float32 {N}";
    return NULL;
}

/* NULL when convert_to_fp8_<src> fits, else why not. */
static const char *fake_check_convert(const char *guid, fake_tensor *const *in, uint32_t n_in, fake_tensor *out,
                                      const unsigned char *params, unsigned params_size)
{
    const synDataType src = strcmp(guid, "convert_to_fp8_f32") == 0 ? syn_type_single : syn_type_bf16;
    uint32_t mode, i;
    if (n_in != 2 || !in[0] || !in[1]) return "convert_to_fp8 takes {x, inverse scale}";
    if (in[0]->type != src) return "x does not have the GUID's source type";
    if (!fake_is_scale(in[1])) return "the inverse scale must be a constant 1-element float32 tensor";
    if (out->type != syn_type_fp8_143 && out->type != syn_type_fp8_152) return "the output must be fp8_143 or fp8_152";
    if (out->dims != in[0]->dims || memcmp(out->sizes, in[0]->sizes, sizeof out->sizes))
        return "the output's geometry differs from x's";
    if (!params || params_size != 4) return "params are not a 4-byte ns_CastKernel::Params";
    memcpy(&mode, params, 4);
    for (i = 0; i < sizeof fake_cast_rounds / sizeof fake_cast_rounds[0]; i++)
        if (fake_cast_rounds[i].mode == mode) return NULL;
    return "round_mode is not modelled";
}

synStatus synNodeCreate(void *graph, void *const *inputs, void *const *outputs, uint32_t n_in, uint32_t n_out,
                        const void *params, unsigned params_size, const char *guid, const char *name,
                        const char **input_layouts, const char **output_layouts)
{
    fake_graph *g = (fake_graph *)fake_find(FAKE_GRAPH, graph);
    fake_tensor *in[FAKE_MAX_IO] = {0}, *out;
    char names[512];
    const char *why;
    size_t k = 0;
    uint32_t i;
    FAKE_ENTER("synNodeCreate");
    if (!g || !guid || !name || (n_in && !inputs) || !outputs || input_layouts || output_layouts)
        return fake_ret(synInvalidArgument, "synNodeCreate");
    if (strlen(guid) > 30) return fake_ret(synInvalidArgument, "synNodeCreate guid=%s longer than 30", guid);
    if (g->has_node) return fake_ret(synUnsupported, "synNodeCreate guid=%s: one node per graph is modelled", guid);
    if (n_in > FAKE_MAX_IO || n_out != 1)
        return fake_ret(synInvalidArgument, "synNodeCreate guid=%s in=%u out=%u", guid, n_in, n_out);
    for (i = 0; i < n_in; i++) {
        if (inputs[i] && !(in[i] = (fake_tensor *)fake_find(FAKE_TENSOR, inputs[i])))
            return fake_ret(synInvalidArgument, "synNodeCreate guid=%s input %u unknown", guid, i);
        if (in[i] && (in[i]->graph != g || !in[i]->dims || in[i]->type == syn_type_na))
            return fake_ret(synInvalidArgument, "synNodeCreate guid=%s input %u lacks graph, geometry or type", guid,
                            i);
        k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", i ? "," : "", in[i] ? in[i]->name : "-");
    }
    out = (fake_tensor *)fake_find(FAKE_TENSOR, outputs[0]);
    if (!out || out->graph != g || !out->dims || out->type == syn_type_na)
        return fake_ret(synInvalidArgument, "synNodeCreate guid=%s bad output", guid);
    if (strcmp(guid, "fp8_gemm_bf16") == 0)
        why = fake_check_gemm(in, n_in, out, (const unsigned char *)params, params_size);
    else if (strcmp(guid, "convert_to_fp8_bf16") == 0 || strcmp(guid, "convert_to_fp8_f32") == 0)
        why = fake_check_convert(guid, in, n_in, out, (const unsigned char *)params, params_size);
    else
        why = "unknown GUID";
    if (why) return fake_ret(synInvalidArgument, "synNodeCreate guid=%s inputs=%s: %s", guid, names, why);
    g->has_node = 1;
    strcpy(g->guid, guid);
    memcpy(g->inputs, in, sizeof g->inputs);
    g->n_inputs = n_in, g->output = out;
    memcpy(g->params, params, params_size);
    g->params_size = params_size;
    return fake_ret(synSuccess, "synNodeCreate guid=%s name=%s inputs=%s outputs=%s params=%s", guid, name, names,
                    out->name,
                    params_size == 2 ? (((const unsigned char *)params)[1] ? "ta0,tb1" : "ta0,tb0") : "cast");
}

/* ------------------------------------------------------------- recipes */

static void fake_recipe_tensor_from(fake_recipe_tensor *r, const fake_tensor *t)
{
    strcpy(r->name, t->name);
    r->id = F.next_id++;
    r->type = t->type, r->dims = t->dims;
    memcpy(r->sizes, t->sizes, sizeof r->sizes);
    r->persistent = !t->is_const, r->value = t->value;
}

synStatus synGraphCompile(void **recipe, void *graph, const char *name, const char *build_log)
{
    fake_graph *g = (fake_graph *)fake_find(FAKE_GRAPH, graph);
    fake_recipe *rc;
    uint32_t i;
    FAKE_ENTER("synGraphCompile");
    if (!recipe || !g || !name || build_log) return fake_ret(synInvalidArgument, "synGraphCompile");
    if (!g->has_node) return fake_ret(synFail, "synGraphCompile name=%s: empty graph", name);
    for (i = 0; i < g->n_inputs; i++)
        if (g->inputs[i] && !g->inputs[i]->is_const && !g->inputs[i]->in_section)
            return fake_ret(synFail, "synGraphCompile: input %s is neither constant nor in a section",
                            g->inputs[i]->name);
    if (!g->output->in_section)
        return fake_ret(synFail, "synGraphCompile: output %s is in no section", g->output->name);
    rc = (fake_recipe *)fake_new(FAKE_RECIPE, sizeof *rc);
    if (!rc) return fake_ret(synOutOfHostMemory, "synGraphCompile");
    rc->type = g->type;
    strcpy(rc->guid, g->guid);
    memcpy(rc->params, g->params, sizeof rc->params);
    rc->params_size = g->params_size, rc->n_inputs = g->n_inputs, rc->workspace = FAKE_WORKSPACE;
    for (i = 0; i < g->n_inputs; i++) {
        rc->input[i] = g->inputs[i] ? rc->n : -1;
        if (g->inputs[i]) fake_recipe_tensor_from(&rc->t[rc->n++], g->inputs[i]);
    }
    rc->output = rc->n;
    fake_recipe_tensor_from(&rc->t[rc->n++], g->output);
    *recipe = rc;
    return fake_ret(synSuccess, "synGraphCompile name=%s guid=%s device=%d", name, rc->guid, (int)rc->type);
}

synStatus synRecipeDestroy(void *recipe)
{
    FAKE_ENTER("synRecipeDestroy");
    if (!fake_find(FAKE_RECIPE, recipe)) return fake_ret(synInvalidArgument, "synRecipeDestroy unknown recipe");
    if (fake_busy(0, 0, (const fake_recipe *)recipe)) return fake_ret(synBusy, "synRecipeDestroy: a launch is queued");
    fake_delete(recipe);
    return fake_ret(synSuccess, "synRecipeDestroy");
}

static int fake_recipe_find(const fake_recipe *rc, const char *name, uint64_t id, int by_name)
{
    int i;
    for (i = 0; i < rc->n; i++)
        if (rc->t[i].persistent && (by_name ? name && !strcmp(rc->t[i].name, name) : rc->t[i].id == id)) return i;
    return -1;
}

synStatus synTensorRetrieveIds(void *recipe, const char **names, uint64_t *ids, uint32_t n)
{
    fake_recipe *rc = (fake_recipe *)fake_find(FAKE_RECIPE, recipe);
    uint32_t i;
    FAKE_ENTER("synTensorRetrieveIds");
    if (!rc || !names || !ids) return fake_ret(synInvalidArgument, "synTensorRetrieveIds");
    for (i = 0; i < n; i++) {
        const int t = fake_recipe_find(rc, names[i], 0, 1);
        if (t < 0)
            return fake_ret(synInvalidArgument, "synTensorRetrieveIds: no tensor %s", names[i] ? names[i] : "(null)");
        ids[i] = rc->t[t].id;
    }
    return fake_ret(synSuccess, "synTensorRetrieveIds n=%u", n);
}

synStatus synWorkspaceGetSize(uint64_t *size, void *recipe)
{
    fake_recipe *rc = (fake_recipe *)fake_find(FAKE_RECIPE, recipe);
    FAKE_ENTER("synWorkspaceGetSize");
    if (!rc || !size) return fake_ret(synInvalidArgument, "synWorkspaceGetSize");
    *size = rc->workspace;
    return fake_ret(synSuccess, "synWorkspaceGetSize -> %llu", (unsigned long long)rc->workspace);
}

/* ------------------------------------------------------------- streams */

synStatus synStreamCreateGeneric(void **stream, synDeviceId id, uint32_t flags)
{
    fake_stream *s;
    FAKE_ENTER("synStreamCreateGeneric");
    if (!stream || !F.acquired || id != 0 || flags) return fake_ret(synInvalidArgument, "synStreamCreateGeneric");
    s = (fake_stream *)fake_new(FAKE_STREAM, sizeof *s);
    if (!s) return fake_ret(synOutOfHostMemory, "synStreamCreateGeneric");
    *stream = s;
    return fake_ret(synSuccess, "synStreamCreateGeneric");
}

synStatus synStreamDestroy(void *stream)
{
    fake_stream *s = (fake_stream *)fake_find(FAKE_STREAM, stream);
    FAKE_ENTER("synStreamDestroy");
    if (!s) return fake_ret(synInvalidArgument, "synStreamDestroy unknown stream");
    if (s->head) return fake_ret(synBusy, "synStreamDestroy: work is queued");
    fake_delete(s);
    return fake_ret(synSuccess, "synStreamDestroy");
}

static void fake_enqueue(fake_stream *s, fake_cmd *c)
{
    if (s->tail)
        s->tail->next = c;
    else
        s->head = c;
    s->tail = c;
}

synStatus synMemCopyAsync(void *stream, uint64_t src, uint64_t size, uint64_t dst, synDmaDir dir)
{
    fake_stream *s = (fake_stream *)fake_find(FAKE_STREAM, stream);
    fake_cmd *c;
    FAKE_ENTER("synMemCopyAsync");
    if (!s || size == 0 || (unsigned)dir > DRAM_TO_DRAM)
        return fake_ret(synInvalidArgument, "synMemCopyAsync dir=%d size=%llu", (int)dir, (unsigned long long)size);
    if (!fake_mem_at(dir != HOST_TO_DRAM, src, size) || !fake_mem_at(dir != DRAM_TO_HOST, dst, size))
        return fake_ret(synInvalidArgument, "synMemCopyAsync dir=%d size=%llu: a range is outside its allocations",
                        (int)dir, (unsigned long long)size);
    c = (fake_cmd *)calloc(1, sizeof *c);
    if (!c) return fake_ret(synOutOfHostMemory, "synMemCopyAsync");
    c->dir = dir, c->src = src, c->dst = dst, c->size = size;
    fake_enqueue(s, c);
    return fake_ret(synSuccess, "synMemCopyAsync dir=%d size=%llu", (int)dir, (unsigned long long)size);
}

/* Checks one launch tensor info against recipe rc and records its address in c. */
static const char *fake_launch_tensor(const fake_recipe *rc, const synLaunchTensorInfoExt *info, int by_name,
                                      fake_cmd *c, int *seen)
{
    const int t = fake_recipe_find(rc, info->tensorName, info->tensorId, by_name);
    const fake_recipe_tensor *r;
    uint32_t d;
    if (t < 0) return "names no persistent tensor of the recipe";
    r = &rc->t[t];
    if (seen[t]++) return "is given twice";
    if (info->tensorType != DATA_TENSOR) return "is not a DATA_TENSOR";
    if (!by_name && (!info->tensorName || strcmp(info->tensorName, r->name)))
        return "has an id and a name that disagree";
    for (d = 0; d < r->dims; d++)
        if (info->tensorSize[d] != r->sizes[d]) return "has other sizes than the recipe";
    if (info->pTensorAddress % fake_type_size(r->type) ||
        !fake_mem_at(1, info->pTensorAddress, fake_elements(r->dims, r->sizes) * fake_type_size(r->type)))
        return "has an address outside the device allocations";
    c->addr[t] = info->pTensorAddress;
    return NULL;
}

synStatus synLaunchExt(void *stream, const synLaunchTensorInfoExt *infos, uint32_t n, uint64_t workspace, void *recipe,
                       uint32_t flags)
{
    fake_stream *s = (fake_stream *)fake_find(FAKE_STREAM, stream);
    fake_recipe *rc = (fake_recipe *)fake_find(FAKE_RECIPE, recipe);
    int seen[FAKE_MAX_IO] = {0}, persistent = 0, i;
    char text[768];
    size_t k = 0;
    fake_cmd *c;
    FAKE_ENTER("synLaunchExt");
    if (!s || !rc || (n && !infos) || (flags & ~(uint32_t)SYN_FLAGS_TENSOR_NAME))
        return fake_ret(synInvalidArgument, "synLaunchExt");
    if (!F.acquired || rc->type != F.device_type)
        return fake_ret(synDeviceTypeMismatch, "synLaunchExt: recipe for type %d, device of type %d", (int)rc->type,
                        (int)F.device_type);
    if (rc->workspace && !fake_mem_at(1, workspace, rc->workspace))
        return fake_ret(synInvalidArgument, "synLaunchExt: workspace outside the device allocations");
    for (i = 0; i < rc->n; i++) persistent += rc->t[i].persistent;
    if ((int)n != persistent) return fake_ret(synInvalidArgument, "synLaunchExt n=%u, recipe has %d", n, persistent);
    c = (fake_cmd *)calloc(1, sizeof *c);
    if (!c) return fake_ret(synOutOfHostMemory, "synLaunchExt");
    for (i = 0; i < (int)n; i++) {
        char sizes[128];
        const char *why = fake_launch_tensor(rc, &infos[i], flags & SYN_FLAGS_TENSOR_NAME, c, seen);
        if (why) {
            free(c);
            return fake_ret(synInvalidArgument, "synLaunchExt tensor %s %s",
                            infos[i].tensorName ? infos[i].tensorName : "?", why);
        }
        k += (size_t)snprintf(text + k, sizeof text - k, " %s:%s", infos[i].tensorName,
                              fake_sizes_text(rc->t[fake_recipe_find(rc, infos[i].tensorName, 0, 1)].dims,
                                              infos[i].tensorSize, sizes, sizeof sizes));
    }
    c->recipe = rc;
    fake_enqueue(s, c);
    return fake_ret(synSuccess, "synLaunchExt n=%u flags=%u tensors=%s", n, flags, text);
}

/* ------------------------------------------------------------ execution */

/* convert_to_fp8_<src>: y = fp8q_gaudi_encode_<src>(x, inverse scale) with the device's default format. */
static synStatus fake_run_convert(const fake_recipe *rc, unsigned char *const *data)
{
    const fake_recipe_tensor *x = &rc->t[rc->input[0]], *y = &rc->t[rc->output];
    const size_t n = (size_t)fake_elements(x->dims, x->sizes);
    const fp8q_gaudi_fp8 f =
        fp8q_gaudi_fp8_default(fake_chip(rc->type), y->type == syn_type_fp8_143 ? FP8Q_GAUDI_143 : FP8Q_GAUDI_152);
    const float inv = rc->t[rc->input[1]].value;
    fp8q_gaudi_rounding rounding = FP8Q_GAUDI_RNE;
    uint32_t mode;
    size_t i;
    void *src = malloc(n * (size_t)fake_type_size(x->type));
    fp8q_result r;
    if (!src) return synOutOfHostMemory;
    memcpy(&mode, rc->params, 4);
    for (i = 0; i < sizeof fake_cast_rounds / sizeof fake_cast_rounds[0]; i++)
        if (fake_cast_rounds[i].mode == mode) rounding = fake_cast_rounds[i].rounding;
    memcpy(src, data[rc->input[0]], n * (size_t)fake_type_size(x->type));
    if (x->type == syn_type_single)
        r = fp8q_gaudi_encode_f32(data[rc->output], (const float *)src, n, &f, rounding, FP8Q_GAUDI_SATURATE, inv,
                                  NULL);
    else
        r = fp8q_gaudi_encode_bf16(data[rc->output], (const uint16_t *)src, n, &f, rounding, FP8Q_GAUDI_SATURATE, inv,
                                   NULL);
    free(src);
    return r == FP8Q_OK ? synSuccess : synFail;
}

/* Operand element [row][k] of a GEMM input stored {K, rows} (or {rows, K} when transposed). */
static uint8_t fake_operand(const unsigned char *q, int transposed, size_t rows, size_t K, size_t row, size_t k)
{
    return transposed ? q[k * rows + row] : q[row * K + k];
}

/* Decodes an operand with Gaudi's format to OCP E4M3 bytes (lossless for finite
   values) into ocp[rows][K], and its values into val[rows][K]. */
static int fake_decode_operand(const unsigned char *q, int transposed, size_t rows, size_t K, const fp8q_gaudi_fp8 *f,
                               uint8_t *ocp, float *val)
{
    size_t r, k;
    for (r = 0; r < rows; r++)
        for (k = 0; k < K; k++) {
            const float v = fp8q_gaudi_to_f32(fake_operand(q, transposed, rows, K, r, k), f);
            const int finite = v - v == 0.0f;
            val[r * K + k] = v;
            ocp[r * K + k] = finite ? fp8q_from_f32(v, FP8Q_E4M3, FP8Q_SATFINITE) : 0;
            if (finite && fp8q_to_f32(ocp[r * K + k], FP8Q_E4M3) != v) return 0;
        }
    return 1;
}

/* Outputs with an inf or NaN term: IEEE sum of those terms and the finite part. */
static void fake_gemm_nonfinite(uint16_t *c, const float *a, const float *b, size_t M, size_t N, size_t K, float sa,
                                float sb)
{
    size_t m, n, k;
    for (m = 0; m < M; m++)
        for (n = 0; n < N; n++) {
            float acc = 0.0f;
            int any = 0;
            for (k = 0; k < K; k++) {
                const float x = a[m * K + k], y = b[n * K + k];
                if (x - x == 0.0f && y - y == 0.0f) continue;
                acc += x * y * sa * sb, any = 1;
            }
            if (!any) continue;
            acc += fp8q_bf16_to_f32(c[m * N + n]);
            if (acc - acc != 0.0f) c[m * N + n] = acc != acc ? 0x7FFF : fp8q_f32_to_bf16(acc);
        }
}

/* fp8_gemm_bf16: y[M][N] = bf16(sum_k a*b * sA * sB + bias), the exact value rounded once. */
static synStatus fake_run_gemm(const fake_recipe *rc, unsigned char *const *data)
{
    const fake_recipe_tensor *A = &rc->t[rc->input[0]], *Y = &rc->t[rc->output];
    const int ta = rc->params[0] != 0, tb = rc->params[1] != 0;
    const size_t M = (size_t)Y->sizes[1], N = (size_t)Y->sizes[0], K = (size_t)(ta ? A->sizes[1] : A->sizes[0]);
    const fp8q_gaudi_fp8 f = fp8q_gaudi_fp8_default(fake_chip(rc->type), FP8Q_GAUDI_143);
    const float sa = rc->t[rc->input[2]].value, sb = rc->t[rc->input[3]].value;
    uint8_t *a8 = (uint8_t *)malloc(M * K), *b8 = (uint8_t *)malloc(N * K);
    float *a = (float *)malloc(M * K * sizeof *a), *b = (float *)malloc(N * K * sizeof *b);
    float *bias = (float *)malloc(N * sizeof *bias);
    uint16_t *c = (uint16_t *)malloc(M * N * sizeof *c);
    synStatus s = synOutOfHostMemory;
    fp8q_gemm g;
    size_t n;
    if (a8 && b8 && a && b && bias && c) {
        s = synFail;
        if (fake_decode_operand(data[rc->input[0]], ta, M, K, &f, a8, a) &&
            fake_decode_operand(data[rc->input[1]], !tb, N, K, &f, b8, b)) {
            const int bias_at = rc->input[4];
            for (n = 0; bias_at >= 0 && n < N; n++) {
                uint16_t h;
                if (rc->t[bias_at].type == syn_type_single)
                    memcpy(&bias[n], data[bias_at] + 4 * n, 4);
                else
                    memcpy(&h, data[bias_at] + 2 * n, 2), bias[n] = fp8q_bf16_to_f32(h);
            }
            memset(&g, 0, sizeof g);
            g.M = M, g.N = N, g.K = K;
            g.a = a8, g.a_format = FP8Q_E4M3, g.a_scales = &sa;
            g.b = b8, g.b_format = FP8Q_E4M3, g.b_scales = &sb;
            g.bias = bias_at >= 0 ? bias : NULL;
            g.c = c, g.c_type = FP8Q_BF16;
            if (fp8q_gemm_run(&g, FP8Q_GEMM_EXACT) == FP8Q_OK) {
                fake_gemm_nonfinite(c, a, b, M, N, K, sa, sb);
                memcpy(data[rc->output], c, M * N * sizeof *c);
                s = synSuccess;
            }
        }
    }
    free(a8), free(b8), free(a), free(b), free(bias), free(c);
    return s;
}

static synStatus fake_run_launch(const fake_cmd *c)
{
    const fake_recipe *rc = c->recipe;
    unsigned char *data[FAKE_MAX_IO] = {0};
    int i;
    for (i = 0; i < rc->n; i++) {
        const fake_recipe_tensor *t = &rc->t[i];
        if (!t->persistent) continue;
        data[i] = fake_mem_ptr(1, c->addr[i], fake_elements(t->dims, t->sizes) * fake_type_size(t->type));
        if (!data[i]) return synFail;
    }
    return strcmp(rc->guid, "fp8_gemm_bf16") == 0 ? fake_run_gemm(rc, data) : fake_run_convert(rc, data);
}

static synStatus fake_run_copy(const fake_cmd *c)
{
    unsigned char *src = fake_mem_ptr(c->dir != HOST_TO_DRAM, c->src, c->size);
    unsigned char *dst = fake_mem_ptr(c->dir != DRAM_TO_HOST, c->dst, c->size);
    if (!src || !dst) return synFail;
    memmove(dst, src, (size_t)c->size);
    return synSuccess;
}

synStatus synStreamSynchronize(void *stream)
{
    fake_stream *s = (fake_stream *)fake_find(FAKE_STREAM, stream);
    synStatus status = synSuccess;
    int launches = 0, copies = 0;
    FAKE_ENTER("synStreamSynchronize");
    if (!s) return fake_ret(synInvalidArgument, "synStreamSynchronize unknown stream");
    while (s->head) {
        fake_cmd *c = s->head;
        const synStatus one = c->recipe ? fake_run_launch(c) : fake_run_copy(c);
        c->recipe ? launches++ : copies++;
        if (status == synSuccess) status = one;
        s->head = c->next;
        free(c);
    }
    s->tail = NULL;
    return fake_ret(status, "synStreamSynchronize launches=%d copies=%d", launches, copies);
}
