/* libFuzzer target: the Intel Neural Compressor readers. The first byte picks
   the parser, the rest is the file:
     even  fp8q_inc_config_parse (QUANT_CONFIG); on success every accessor
           (warnings, scale entries, module selection, file names, the vLLM
           and device checks) must work on the result;
     odd   fp8q_inc_measure_parse (measurement and scale files); on success
           the file must write (fp8q_inc_measure_write_mem, indent picked by
           the first byte), the written text must parse, and writing that
           again must give the same bytes; unifying the file with itself
           (world 2, R 1) must succeed, and the KV post-processing (flags
           from bits 3-5 of the first byte) must not fail on anything but
           its documented PARSE errors.
   Any crash, sanitizer report or abort() is a finding. Seeds: the INC
   configs in ../shared/data/inc-configs (prefixed with 0x00) and small
   measurement files (prefixed with 0x01). */
#define FP8Q_IMPLEMENTATION
#include "../../fp8q.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const NAMES[] = {"model.layers.0.self_attn.qkv_proj", "model.layers.12.mlp.down_proj", "lm_head",
                                    "model.layers.3.self_attn.attn.impl.matmul_qk", ""};
static const char *const CLASSES[] = {"QKVParallelLinear", "RowParallelLinear", "ParallelLMHead", "Matmul", "Softmax"};

static void fuzz_config(const char *text, size_t len)
{
    fp8q_inc_config cfg;
    fp8q_error err;
    fp8q_inc_scale_cfg w, a;
    char buf[256];
    size_t i;
    int k, yes;
    if (fp8q_inc_config_parse(&cfg, text, len, &err) != FP8Q_OK) {
        if (cfg.fp8q__owned != NULL || err.code == FP8Q_OK || memchr(err.message, 0, sizeof err.message) == NULL)
            abort(); /* a failed parse leaves *cfg empty and says why */
        fp8q_inc_config_free(&cfg);
        return;
    }
    for (i = 0; i < cfg.n_warnings; i++)
        if (fp8q_inc_config_warning(&cfg, i) == NULL) abort();
    if (fp8q_inc_config_warning(&cfg, cfg.n_warnings) != NULL) abort();
    if (!cfg.method || !cfg.observer || !cfg.dump_stats_path || !cfg.dump_dir || !cfg.dump_prefix) abort();
    for (k = 0; k < (int)(sizeof NAMES / sizeof NAMES[0]); k++) {
        const fp8q_inc_scale_entry *e = fp8q_inc_config_scale_entry(&cfg, NAMES[k], CLASSES[k]);
        if (!e || !e->method) abort();
        if (fp8q_inc_config_scale_cfg(&cfg, NAMES[k], CLASSES[k], &w, &a) != FP8Q_OK) abort();
        yes = -1;
        if (fp8q_inc_should_quantize(&cfg, NAMES[k], CLASSES[k], k & 1, &yes, &err) == FP8Q_OK && yes != 0 && yes != 1)
            abort();
    }
    for (k = 0; k <= (int)FP8Q_INC_FILE_SHAPE_NPZ; k++) {
        size_t n = fp8q_inc_file_name(&cfg, (fp8q_inc_file)k, k - 1, 8, buf, sizeof buf);
        if (n < sizeof buf && strlen(buf) != n) abort();
    }
    (void)fp8q_inc_config_check_vllm(&cfg, &err);
    (void)fp8q_inc_config_check_device(&cfg, FP8Q_GAUDI2, &err);
    (void)fp8q_inc_config_check_device(&cfg, FP8Q_GAUDI3, &err);
    fp8q_inc_config_free(&cfg);
    if (cfg.fp8q__owned != NULL) abort();
}

static void fuzz_measure(const char *text, size_t len, int indent, int kv_flags)
{
    fp8q_inc_measure m, m2, u[1];
    const fp8q_inc_measure *in[2];
    fp8q_error err;
    char *out1 = NULL, *out2 = NULL;
    size_t n1 = 0, n2 = 0, changed = 0;
    fp8q_result r;
    if (fp8q_inc_measure_parse(&m, text, len, &err) != FP8Q_OK) {
        if (m.nodes != NULL || m.n_nodes != 0 || err.code == FP8Q_OK) abort();
        fp8q_inc_measure_free(&m);
        return;
    }
    /* write, parse what was written, write again: the same bytes */
    if (fp8q_inc_measure_write_mem(&out1, &n1, &m, indent, &err) != FP8Q_OK) abort();
    if (strlen(out1) != n1) abort();
    if (fp8q_inc_measure_parse(&m2, out1, n1, &err) != FP8Q_OK) abort();
    if (m2.n_nodes != m.n_nodes || m2.mode != m.mode) abort();
    if (fp8q_inc_measure_write_mem(&out2, &n2, &m2, indent, &err) != FP8Q_OK) abort();
    if (n1 != n2 || memcmp(out1, out2, n1) != 0) abort();
    free(out1), free(out2);
    fp8q_inc_measure_free(&m2);
    /* unify the file with itself */
    in[0] = &m, in[1] = &m;
    if (fp8q_inc_unify(in, 2, 1, u, &err) != FP8Q_OK) abort();
    if (u[0].n_nodes != m.n_nodes) abort();
    fp8q_inc_measure_free(&u[0]);
    /* KV post-processing edits in place; the result must still write */
    r = fp8q_inc_postprocess_kv(&m, kv_flags, &changed, &err);
    if (r != FP8Q_OK && r != FP8Q_ERR_PARSE) abort();
    if (r == FP8Q_OK) {
        if (fp8q_inc_measure_write_mem(&out1, &n1, &m, FP8Q_INC_INDENT_NONE, &err) != FP8Q_OK) abort();
        free(out1);
    }
    fp8q_inc_measure_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int INDENTS[4] = {4, FP8Q_INC_INDENT_NONE, 0, 2};
    if (size == 0) return 0;
    if ((data[0] & 1) == 0)
        fuzz_config((const char *)data + 1, size - 1);
    else
        fuzz_measure((const char *)data + 1, size - 1, INDENTS[(data[0] >> 1) & 3], (data[0] >> 3) & 7);
    return 0;
}
