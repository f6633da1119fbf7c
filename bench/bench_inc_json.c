/* INC measurement files: parse and write throughput on a synthetic INC-shaped file of about 50 MB (json.dump
   indent=4 layout: per layer the nodes fp8q's Llama has, Infinity softmax inputs, garbage RowParallel outputs,
   per-channel entries), or on the files given as arguments. Checks that writing reproduces the text byte for
   byte. Usage: bench_inc_json [file.json ...] */
#define _POSIX_C_SOURCE 200112L
#define FP8Q_IMPLEMENTATION
#include "fp8q.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t g_rng = 0x9E3779B97F4A7C15ull; /* xorshift64, fixed seed */
static uint64_t next_u64(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static double rnd_bf16(double lo, double hi) /* a BF16 value in [lo, hi) */
{
    double v = lo + (hi - lo) * (double)(next_u64() >> 11) / 9007199254740992.0;
    return (double)fp8q_bf16_to_f32(fp8q_f32_to_bf16((float)v));
}

static void set_entry(fp8q_inc_entry *e, size_t rows)
{
    size_t i;
    e->rank = 2, e->rows = rows, e->cols = 1;
    e->v = (double *)malloc(rows * sizeof(double));
    for (i = 0; i < rows; i++) {
        const uint64_t r = next_u64() % 100;
        e->v[i] = r < 4   ? (double)fp8q_to_f32(0x7C, FP8Q_E5M2) /* +Inf */
                  : r < 9 ? rnd_bf16(1, 2) * 1e30
                          : rnd_bf16(0, 100);
    }
}

static void add(fp8q_inc_measure *m, const char *name, size_t nin, size_t nout, int weight, size_t channels)
{
    fp8q_inc_node nd;
    size_t i;
    fp8q_error e;
    memset(&nd, 0, sizeof nd);
    nd.name = (char *)malloc(strlen(name) + 1);
    strcpy(nd.name, name);
    nd.has_inputs = 1, nd.n_inputs = nin;
    nd.inputs = (fp8q_inc_entry *)calloc(nin, sizeof(fp8q_inc_entry));
    for (i = 0; i < nin; i++) set_entry(&nd.inputs[i], i == 0 ? channels : 1);
    if (nout) {
        nd.has_outputs = 1, nd.n_outputs = nout;
        nd.outputs = (fp8q_inc_entry *)calloc(nout, sizeof(fp8q_inc_entry));
        for (i = 0; i < nout; i++) set_entry(&nd.outputs[i], 1);
    }
    if (weight) {
        nd.has_params = 1, nd.n_params = 1;
        nd.params = (fp8q_inc_param *)calloc(1, sizeof(fp8q_inc_param));
        nd.params[0].name = (char *)malloc(7);
        strcpy(nd.params[0].name, "weight");
        nd.params[0].count = 1;
        nd.params[0].entries = (fp8q_inc_entry *)calloc(1, sizeof(fp8q_inc_entry));
        set_entry(&nd.params[0].entries[0], 1);
    }
    memcpy(nd.order, "iop", 4);
    if (fp8q_inc_measure_add_node(m, &nd, &e) != FP8Q_OK) exit(1);
}

static int run(const char *label, const char *text, size_t len)
{
    fp8q_inc_measure m;
    fp8q_error e;
    double best = 1e30, t, wbest = 1e30;
    char *out = NULL;
    size_t olen = 0;
    int k, same;
    for (k = 0; k < 3; k++) {
        t = now_s();
        if (fp8q_inc_measure_parse(&m, text, len, &e) != FP8Q_OK) {
            printf("%s: parse failed: %s\n", label, e.message);
            return 1;
        }
        t = now_s() - t;
        if (t < best) best = t;
        if (k < 2) fp8q_inc_measure_free(&m);
    }
    for (k = 0; k < 2; k++) {
        free(out);
        t = now_s();
        if (fp8q_inc_measure_write_mem(&out, &olen, &m, 4, &e) != FP8Q_OK) {
            printf("%s: write failed: %s\n", label, e.message);
            return 1;
        }
        t = now_s() - t;
        if (t < wbest) wbest = t;
    }
    same = olen == len && memcmp(out, text, len) == 0;
    printf("%s: %.1f MB, %zu nodes: parse %.3f s = %.0f MB/s, write %.3f s = %.0f MB/s, round trip %s\n", label,
           len / 1e6, m.n_nodes, best, len / 1e6 / best, wbest, len / 1e6 / wbest, same ? "byte-identical" : "DIFFERS");
    free(out);
    fp8q_inc_measure_free(&m);
    return same ? 0 : 1;
}

int main(int argc, char **argv)
{
    int i, bad = 0;
    if (argc > 1) {
        for (i = 1; i < argc; i++) {
            FILE *f = fopen(argv[i], "rb");
            char *b;
            long n;
            if (!f) {
                printf("%s: cannot open\n", argv[i]);
                bad = 1;
                continue;
            }
            fseek(f, 0, SEEK_END);
            n = ftell(f);
            fseek(f, 0, SEEK_SET);
            b = (char *)malloc((size_t)n + 1);
            if (fread(b, 1, (size_t)n, f) != (size_t)n) bad = 1;
            fclose(f);
            bad |= run(argv[i], b, (size_t)n);
            free(b);
        }
    } else {
        fp8q_inc_measure m;
        fp8q_error e;
        char name[128], *text;
        size_t len;
        int layer;
        static const char *const attn[] = {"matmul_qk", "matmul_av", "k_cache", "v_cache", "softmax"};
        fp8q_inc_measure_init(&m, FP8Q_INC_MEASURE_DYNAMIC_RANGE);
        m.has_num_samples = 1, m.num_samples = 512, m.local_rank_null = 0;
        memcpy(m.order, "nglmN", 6);
        for (layer = 0; layer < 12000; layer++) {
            int a;
            snprintf(name, sizeof name, "model.layers.%d.self_attn.qkv_proj", layer);
            add(&m, name, 1, 0, 1, 1);
            snprintf(name, sizeof name, "model.layers.%d.self_attn.o_proj", layer);
            add(&m, name, 1, 2, 1, 1);
            for (a = 0; a < 5; a++) {
                snprintf(name, sizeof name, "model.layers.%d.self_attn.attn.impl.%s", layer, attn[a]);
                add(&m, name, a < 2 ? 2 : 1, a == 4, 0, 1);
            }
            snprintf(name, sizeof name, "model.layers.%d.mlp.gate_up_proj", layer);
            add(&m, name, 1, 0, 1, 16); /* per-channel input */
            snprintf(name, sizeof name, "model.layers.%d.mlp.down_proj", layer);
            add(&m, name, 1, 0, 1, 1);
        }
        if (fp8q_inc_measure_write_mem(&text, &len, &m, 4, &e) != FP8Q_OK) {
            printf("write failed: %s\n", e.message);
            return 1;
        }
        fp8q_inc_measure_free(&m);
        bad = run("synthetic INC measurement file", text, len);
        free(text);
    }
    return bad;
}
