/* Tests for the INC QUANT_CONFIG parser: fp8q_inc_config_*, fp8q_inc_should_quantize,
   fp8q_inc_file_name (INC.md 2, 5.1, 8). Ends with "N passed, N failed, N skipped". */
#define _POSIX_C_SOURCE 200809L
#define FP8Q_IMPLEMENTATION
#include "../fp8q.h"
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness.h"

static int g_skipped;

static fp8q_result parse(fp8q_inc_config *c, const char *s, fp8q_error *e)
{
    return fp8q_inc_config_parse(c, s, strlen(s), e);
}

/* Index of the first warning containing frag, or -1. */
static int warning_with(const fp8q_inc_config *c, const char *frag)
{
    size_t i;
    for (i = 0; i < c->n_warnings; i++)
        if (strstr(fp8q_inc_config_warning(c, i), frag)) return (int)i;
    return -1;
}

static int list_is(const char *const *got, size_t n, const char *const *want, size_t nw)
{
    size_t i;
    if (n != nw) return 0;
    for (i = 0; i < n; i++)
        if (strcmp(got[i], want[i]) != 0) return 0;
    return 1;
}

static const char *fname(const fp8q_inc_config *c, fp8q_inc_file kind, int rank, int world)
{
    static char buf[512];
    fp8q_inc_file_name(c, kind, rank, world, buf, sizeof buf);
    return buf;
}

/* ------------------------------------------------------ the shipped files */

#define CFG_DIR "../shared/data/inc-configs/"

static int shared_data_missing(void)
{
    FILE *f = fopen(CFG_DIR "maxabs_quant.json", "rb");
    const char *ci = getenv("CI");
    if (f) {
        fclose(f);
        return 0;
    }
    return !(ci && strcmp(ci, "true") == 0);
}

typedef struct shipped {
    const char *file;
    fp8q_inc_mode mode;
    const char *method;
    fp8q_inc_measure_exclude exclude;
    fp8q_inc_scale_format format;
    int dynamic, use_qdq, use_stats_files;
    const char *dump_dir, *dump_prefix;
    int n_block_names; /* blocklist.names count, -1: not checked */
    const char *block0;
    int warn_method; /* a 'method' legacy warning */
    int warn_pcq;    /* the PCQ scale_format reduction */
    int n_warnings;
} shipped;

static const shipped SHIPPED[] = {
    {"act_maxabs_pow2_weights_pcs_opt_pow2_quant.json", FP8Q_INC_MODE_QUANTIZE, "ACT_MAXABS_POW2_WEIGHTS_PCS_OPT_POW2",
     FP8Q_INC_EXCLUDE_OUTPUT, FP8Q_INC_SCALE_CONST, 0, 0, 1, "./hqt_output", "measure", 0, NULL, 1, 1, 2},
    {"inc_unit_scales_config.json", FP8Q_INC_MODE_QUANTIZE, "UNIT_SCALE", FP8Q_INC_EXCLUDE_OUTPUT,
     FP8Q_INC_SCALE_SCALAR, 0, 0, 0, "", "", 1, "lm_head", 0, 0, 0},
    {"maxabs_measure.json", FP8Q_INC_MODE_MEASURE, "MAXABS_HW", FP8Q_INC_EXCLUDE_OUTPUT, FP8Q_INC_SCALE_SCALAR, 0, 0, 1,
     "./hqt_output", "measure", 0, NULL, 1, 0, 1},
    {"maxabs_measure_include_outputs.json", FP8Q_INC_MODE_MEASURE, "MAXABS_HW", FP8Q_INC_EXCLUDE_NONE,
     FP8Q_INC_SCALE_SCALAR, 0, 0, 1, "./hqt_output", "measure", 0, NULL, 1, 0, 1},
    {"maxabs_quant.json", FP8Q_INC_MODE_QUANTIZE, "MAXABS_HW", FP8Q_INC_EXCLUDE_OUTPUT, FP8Q_INC_SCALE_SCALAR, 0, 0, 1,
     "./hqt_output", "measure", 0, NULL, 1, 0, 1},
    {"maxabs_quant_arbitrary.json", FP8Q_INC_MODE_QUANTIZE, "MAXABS_ARBITRARY", FP8Q_INC_EXCLUDE_OUTPUT,
     FP8Q_INC_SCALE_SCALAR, 0, 0, 1, "./hqt_output", "measure", 0, NULL, 1, 0, 1},
    {"maxabs_quant_dynamic_quantization.json", FP8Q_INC_MODE_QUANTIZE, "ACT_MAXABS_PCS_POW2_WEIGHT_MAXABS_PTS_POW2_HW",
     FP8Q_INC_EXCLUDE_OUTPUT, FP8Q_INC_SCALE_CONST, 1, 0, 0, "", "", 0, NULL, 0, 0, 0},
    {"maxabs_quant_gemma.json", FP8Q_INC_MODE_QUANTIZE, "MAXABS_HW", FP8Q_INC_EXCLUDE_OUTPUT, FP8Q_INC_SCALE_SCALAR, 0,
     0, 1, "./hqt_output", "measure", 1, "lm_head", 1, 0, 1},
    {"maxabs_quant_mixtral.json", FP8Q_INC_MODE_QUANTIZE, "MAXABS_HW", FP8Q_INC_EXCLUDE_OUTPUT, FP8Q_INC_SCALE_SCALAR,
     0, 0, 1, "./hqt_output", "measure", 1, "self_attn", 1, 0, 1},
    {"maxabs_quant_phi.json", FP8Q_INC_MODE_QUANTIZE, "MAXABS_HW", FP8Q_INC_EXCLUDE_OUTPUT, FP8Q_INC_SCALE_SCALAR, 0, 0,
     1, "./hqt_output", "measure", 3, "matmul_qk", 1, 0, 1},
    {"maxabs_quant_qdq.json", FP8Q_INC_MODE_QUANTIZE, "MAXABS_HW", FP8Q_INC_EXCLUDE_OUTPUT, FP8Q_INC_SCALE_SCALAR, 0, 1,
     1, "./hqt_output", "measure", 0, NULL, 1, 0, 1},
    {"maxabs_quant_scalar_scales.json", FP8Q_INC_MODE_QUANTIZE, "MAXABS_HW", FP8Q_INC_EXCLUDE_OUTPUT,
     FP8Q_INC_SCALE_SCALAR, 0, 0, 1, "./hqt_output", "measure", 0, NULL, 1, 0, 1},
    {"pow2_quant.json", FP8Q_INC_MODE_QUANTIZE, "MAXABS_POW2", FP8Q_INC_EXCLUDE_OUTPUT, FP8Q_INC_SCALE_SCALAR, 0, 0, 1,
     "./hqt_output", "measure", 0, NULL, 1, 0, 1},
    {"unit_scale_quant.json", FP8Q_INC_MODE_QUANTIZE, "UNIT_SCALE", FP8Q_INC_EXCLUDE_OUTPUT, FP8Q_INC_SCALE_SCALAR, 0,
     0, 0, "./hqt_output", "measure", 0, NULL, 1, 0, 1},
    {"weight_opt_quant.json", FP8Q_INC_MODE_QUANTIZE, "MAXABS_HW_OPT_WEIGHT", FP8Q_INC_EXCLUDE_OUTPUT,
     FP8Q_INC_SCALE_SCALAR, 0, 0, 1, "./hqt_output", "measure", 0, NULL, 1, 0, 1},
};

static void test_shipped(void)
{
    size_t i;
    for (i = 0; i < sizeof SHIPPED / sizeof SHIPPED[0]; i++) {
        const shipped *s = &SHIPPED[i];
        char path[512];
        fp8q_inc_config c;
        fp8q_error e;
        fp8q_result r;
        snprintf(path, sizeof path, CFG_DIR "%s", s->file);
        r = fp8q_inc_config_load(&c, path, &e);
        CHECK(r == FP8Q_OK, "%s: %d %s", s->file, r, e.message);
        if (r != FP8Q_OK) continue;
        CHECK(c.mode == s->mode && c.mode_vllm_ok == 1, "%s: mode %d vllm %d", s->file, c.mode, c.mode_vllm_ok);
        CHECK(fp8q_inc_config_check_vllm(&c, &e) == FP8Q_OK, "%s: vllm check", s->file);
        CHECK(c.method && strcmp(c.method->name, s->method) == 0, "%s: method %s", s->file,
              c.method ? c.method->name : "NULL");
        CHECK(c.scale_method_dict == 0 && c.scale_default.method == c.method && c.recalc_scales == 0, "%s: string form",
              s->file);
        CHECK(c.measure_exclude == s->exclude, "%s: measure_exclude %d", s->file, c.measure_exclude);
        CHECK(c.scale_format == s->format, "%s: scale_format %d", s->file, c.scale_format);
        CHECK(c.dynamic_quantization == s->dynamic && c.use_qdq == s->use_qdq && c.fake_quant == 0,
              "%s: dynamic %d qdq %d", s->file, c.dynamic_quantization, c.use_qdq);
        CHECK(c.use_stats_files == s->use_stats_files, "%s: use_stats_files %d", s->file, c.use_stats_files);
        CHECK(strcmp(c.observer, "maxabs") == 0, "%s: observer", s->file);
        CHECK(strcmp(c.dump_dir, s->dump_dir) == 0 && strcmp(c.dump_prefix, s->dump_prefix) == 0, "%s: dump %s | %s",
              s->file, c.dump_dir, c.dump_prefix);
        CHECK(c.fp8_config == FP8Q_E4M3 && c.hp_dtype == FP8Q_BF16 && c.measure_on_hpu == 1 &&
                  c.seperate_measure_files == 1 && c.calibration_sample_interval == 0 && c.has_device_for_scales == 0,
              "%s: defaults", s->file);
        CHECK(c.allowlist.n_names == 0 && c.allowlist.n_types == 0 && c.blocklist.n_types == 0, "%s: lists", s->file);
        CHECK((int)c.blocklist.n_names == s->n_block_names, "%s: %d block names", s->file, (int)c.blocklist.n_names);
        if (s->block0 && c.blocklist.n_names)
            CHECK(strcmp(c.blocklist.names[0], s->block0) == 0, "%s: block %s", s->file, c.blocklist.names[0]);
        CHECK((warning_with(&c, "'method' is a legacy key") >= 0) == s->warn_method, "%s: method warning", s->file);
        CHECK((warning_with(&c, "PCQ") >= 0) == s->warn_pcq, "%s: PCQ warning", s->file);
        CHECK((int)c.n_warnings == s->n_warnings, "%s: %d warnings (first %s)", s->file, (int)c.n_warnings,
              c.n_warnings ? fp8q_inc_config_warning(&c, 0) : "-");
        fp8q_inc_config_free(&c);
    }
    { /* file names of the shipped configs */
        fp8q_inc_config c;
        fp8q_error e;
        CHECK(fp8q_inc_config_load(&c, CFG_DIR "maxabs_quant.json", &e) == FP8Q_OK, "%s", e.message);
        CHECK(strcmp(fname(&c, FP8Q_INC_FILE_SCALE_NPZ, 0, 8), "./hqt_output/measure_hooks_maxabs_MAXABS_HW_0_8.npz") ==
                  0,
              "%s", fname(&c, FP8Q_INC_FILE_SCALE_NPZ, 0, 8));
        CHECK(strcmp(fname(&c, FP8Q_INC_FILE_MEASURE, 3, 8), "./hqt_output/measure_hooks_maxabs_3_8.json") == 0, "%s",
              fname(&c, FP8Q_INC_FILE_MEASURE, 3, 8));
        fp8q_inc_config_free(&c);
        CHECK(fp8q_inc_config_load(&c, CFG_DIR "pow2_quant.json", &e) == FP8Q_OK, "%s", e.message);
        CHECK(strcmp(fname(&c, FP8Q_INC_FILE_SCALE, 0, 1), "./hqt_output/measure_hooks_maxabs_MAXABS_POW2_0_1.json") ==
                  0,
              "%s", fname(&c, FP8Q_INC_FILE_SCALE, 0, 1));
        fp8q_inc_config_free(&c);
    }
}

/* ------------------------------------------------------------- key rules */

static void test_defaults(void)
{
    fp8q_inc_config c;
    fp8q_error e;
    CHECK(parse(&c, "{}", &e) == FP8Q_OK && e.code == 0 && e.message[0] == 0, "%s", e.message);
    CHECK(c.mode == FP8Q_INC_MODE_QUANTIZE && c.mode_vllm_ok == 0 && c.mode_text == NULL, "mode");
    CHECK(strcmp(c.observer, "maxabs") == 0 && strcmp(c.method->name, "MAXABS_HW") == 0, "observer/method");
    CHECK(c.scale_default.weight.backoff == 0.5f && c.scale_default.activation.backoff == 0.25f &&
              c.scale_default.weight.rounding == FP8Q_INC_HW_ALIGNED && c.scale_default.key[0] == 0,
          "default entry");
    CHECK(c.fp8_config == FP8Q_E4M3 && c.hp_dtype == FP8Q_BF16, "dtypes");
    CHECK(strcmp(c.dump_stats_path, "stats") == 0 && strcmp(c.dump_dir, "") == 0 && strcmp(c.dump_prefix, "stats") == 0,
          "dump");
    CHECK(c.measure_exclude == FP8Q_INC_EXCLUDE_OUTPUT && c.scale_format == FP8Q_INC_SCALE_SCALAR, "enums");
    CHECK(c.measure_on_hpu == 1 && c.seperate_measure_files == 1 && c.recalc_scales == 0 && c.use_stats_files == 1,
          "flags");
    /* INC would run os.makedirs('') on the default path */
    CHECK(c.n_warnings == 1 && warning_with(&c, "os.makedirs('')") == 0, "%d warnings", (int)c.n_warnings);
    CHECK(fp8q_inc_config_check_vllm(&c, &e) == FP8Q_ERR_UNSUPPORTED &&
              strstr(e.message, "Unknown quantization config mode, please validate quantization config file") &&
              strstr(e.message, "no mode"),
          "%s", e.message);
    fp8q_inc_config_free(&c);
    fp8q_inc_config_free(&c); /* twice */
    fp8q_inc_config_free(NULL);
    CHECK(c.fp8q__owned == NULL && c.n_warnings == 0, "zeroed");
}

static void test_case_rules(void)
{
    fp8q_inc_config c;
    fp8q_error e;
    CHECK(parse(&c,
                "{\"mode\": \"measure\", \"scale_method\": \"MaXaBs_PoW2\", \"use_qdq\": \"true\", \"fake_quant\": "
                "\"FALSE\", \"fp8_config\": \"e5m2\", \"hp_dtype\": \"fp32\", \"scale_format\": \"const\", "
                "\"measure_exclude\": \"all\", \"device_for_scales\": \"gaudi2\", \"recalc_scales\": true, "
                "\"ignore_modules_wo_measures\": \"True\", \"measure_on_hpu\": false, \"dump_stats_path\": \"a/b\"}",
                &e) == FP8Q_OK,
          "%s", e.message);
    CHECK(c.mode == FP8Q_INC_MODE_MEASURE && c.mode_vllm_ok == 0 && strcmp(c.mode_text, "measure") == 0, "mode");
    CHECK(fp8q_inc_config_check_vllm(&c, &e) == FP8Q_ERR_UNSUPPORTED && strstr(e.message, "'measure'"), "%s",
          e.message);
    CHECK(strcmp(c.method->name, "MAXABS_POW2") == 0 && c.use_qdq == 1 && c.fake_quant == 0, "method, qdq");
    CHECK(c.fp8_config == FP8Q_E5M2 && c.hp_dtype == FP8Q_F32 && c.scale_format == FP8Q_INC_SCALE_CONST, "dtypes");
    CHECK(c.measure_exclude == FP8Q_INC_EXCLUDE_ALL && c.has_device_for_scales && c.device_for_scales == FP8Q_GAUDI2,
          "exclude/device");
    CHECK(c.recalc_scales == 1 && c.ignore_modules_wo_measures == 1 && c.measure_on_hpu == 0, "flags");
    fp8q_inc_config_free(&c);
    /* Python's str.upper() maps U+017F (long s) to S and U+0131 (dotless i) to I */
    CHECK(parse(&c,
                "{\"scale_format\": \"\xc5\xbf"
                "calar\", \"mode\": \"quant\xc4\xb1ze\", \"hp_dtype\": \"bf16\"}",
                &e) == FP8Q_OK &&
              c.scale_format == FP8Q_INC_SCALE_SCALAR && c.mode == FP8Q_INC_MODE_QUANTIZE && c.mode_vllm_ok == 0,
          "%s", e.message);
    fp8q_inc_config_free(&c);
    CHECK(parse(&c, "{\"mode\": \"MEASURE\", \"fp8_config\": \"E4M3\"}", &e) == FP8Q_OK && c.mode_vllm_ok == 1 &&
              fp8q_inc_config_check_vllm(&c, &e) == FP8Q_OK && e.code == 0,
          "MEASURE");
    fp8q_inc_config_free(&c);
    /* key names are case-sensitive: "Mode" is an unknown key */
    CHECK(parse(&c, "{\"Mode\": \"MEASURE\", \"dump_stats_path\": \"x/y\"}", &e) == FP8Q_OK &&
              c.mode == FP8Q_INC_MODE_QUANTIZE && warning_with(&c, "unknown key 'Mode'") == 0,
          "Mode");
    fp8q_inc_config_free(&c);
    /* escaped key and value */
    CHECK(parse(&c, "{\"mo\\u0064e\": \"LO\\u0041D\", \"dump_stats_path\": \"x/y\"}", &e) == FP8Q_OK &&
              c.mode == FP8Q_INC_MODE_LOAD,
          "escapes %s", e.message);
    fp8q_inc_config_free(&c);
}

static void test_nulls(void)
{
    fp8q_inc_config c;
    fp8q_error e;
    CHECK(parse(&c,
                "{\"mode\": null, \"measure_exclude\": null, \"seperate_measure_files\": null, "
                "\"scale_params\": null, \"dump_stats_path\": \"d/p\"}",
                &e) == FP8Q_OK,
          "%s", e.message);
    CHECK(c.mode == FP8Q_INC_MODE_NONE && strcmp(c.mode_text, "None") == 0 && c.mode_vllm_ok == 0, "mode None");
    CHECK(c.measure_exclude == FP8Q_INC_EXCLUDE_NONE && c.seperate_measure_files == 0, "exclude / seperate");
    CHECK(warning_with(&c, "'scale_params' is ignored") >= 0, "scale_params warning");
    CHECK(fp8q_inc_config_check_vllm(&c, &e) == FP8Q_ERR_UNSUPPORTED && strstr(e.message, "'None'"), "%s", e.message);
    fp8q_inc_config_free(&c);
    CHECK(parse(&c, "{\"use_qdq\": null}", &e) == FP8Q_ERR_PARSE &&
              strcmp(e.message, "Invalid 'use_qdq' value in custom config ('None'). Enter one of ['TRUE', 'FALSE']") ==
                  0,
          "%s", e.message);
    CHECK(c.fp8q__owned == NULL && c.n_warnings == 0, "zeroed after failure");
    fp8q_inc_config_free(&c);
    CHECK(parse(&c, "{\"observer\": null}", &e) == FP8Q_ERR_PARSE && strstr(e.message, "'observer' must be a string"),
          "%s", e.message);
    CHECK(parse(&c, "{\"row_parallel_linear_allreduce_quantization\": null}", &e) == FP8Q_OK &&
              c.row_parallel_linear_allreduce_quantization == 0,
          "%s", e.message);
    fp8q_inc_config_free(&c);
}

/* seperate_measure_files and the allreduce flag use Python truthiness */
static void test_truthiness(void)
{
    static const char *const falsy[] = {"false", "0", "0.0", "-0", "\"\"", "null", "[]", "{}", "0e5"};
    static const char *const truthy[] = {"true", "1", "\"False\"", "\"0\"", "[0]", "-1.5", "\" \""};
    char buf[256];
    size_t i;
    fp8q_inc_config c;
    fp8q_error e;
    for (i = 0; i < sizeof falsy / sizeof falsy[0]; i++) {
        snprintf(buf, sizeof buf, "{\"seperate_measure_files\": %s, \"dump_stats_path\": \"o/p\"}", falsy[i]);
        CHECK(parse(&c, buf, &e) == FP8Q_OK && c.seperate_measure_files == 0, "%s: %s", falsy[i], e.message);
        CHECK(strcmp(fname(&c, FP8Q_INC_FILE_MEASURE, 0, 8), "o/p_hooks_maxabs.json") == 0, "%s",
              fname(&c, FP8Q_INC_FILE_MEASURE, 0, 8));
        fp8q_inc_config_free(&c);
        snprintf(buf, sizeof buf, "{\"row_parallel_linear_allreduce_quantization\": %s}", falsy[i]);
        CHECK(parse(&c, buf, &e) == FP8Q_OK && c.row_parallel_linear_allreduce_quantization == 0, "%s", falsy[i]);
        fp8q_inc_config_free(&c);
    }
    for (i = 0; i < sizeof truthy / sizeof truthy[0]; i++) {
        snprintf(buf, sizeof buf, "{\"seperate_measure_files\": %s, \"dump_stats_path\": \"o/p\"}", truthy[i]);
        CHECK(parse(&c, buf, &e) == FP8Q_OK && c.seperate_measure_files == 1, "%s: %s", truthy[i], e.message);
        CHECK(strcmp(fname(&c, FP8Q_INC_FILE_MEASURE, 0, 8), "o/p_hooks_maxabs_0_8.json") == 0, "%s",
              fname(&c, FP8Q_INC_FILE_MEASURE, 0, 8));
        fp8q_inc_config_free(&c);
        snprintf(buf, sizeof buf, "{\"row_parallel_linear_allreduce_quantization\": %s}", truthy[i]);
        CHECK(parse(&c, buf, &e) == FP8Q_OK && c.row_parallel_linear_allreduce_quantization == 1, "%s", truthy[i]);
        fp8q_inc_config_free(&c);
    }
}

/* enum values are str()'d the Python way, as the error message shows */
static void test_python_str(void)
{
    static const struct {
        const char *json, *shown;
    } T[] = {
        {"1", "1"},
        {"-0", "0"},
        {"1.0", "1.0"},
        {"1e2", "100.0"},
        {"1e16", "1e+16"},
        {"0.0001", "0.0001"},
        {"0.00001", "1e-05"},
        {"-0.0", "-0.0"},
        {"1e400", "inf"},
        {"123456789012345678901234567890", "123456789012345678901234567890"},
        {"0.1", "0.1"},
        {"2.5e-7", "2.5e-07"},
        {"1.5e300", "1.5e+300"},
        {"123456789012345678.0", "1.2345678901234568e+17"},
        {"true", "True"},
        {"[]", "[]"},
        {"{}", "{}"},
        {"[1, true, null, \"x'y\", \"q\\\"\"]", "[1, True, None, \"x'y\", 'q\"']"},
        {"{\"a\": {\"b\": [\"c\\n\"]}}", "{'a': {'b': ['c\\n']}}"},
        {"\"tab\\there\"", "tab\\there"},
    };
    char buf[256], want[256];
    size_t i;
    fp8q_inc_config c;
    fp8q_error e;
    for (i = 0; i < sizeof T / sizeof T[0]; i++) {
        snprintf(buf, sizeof buf, "{\"mode\": %s}", T[i].json);
        snprintf(want, sizeof want,
                 "Invalid 'mode' value in custom config ('%s'). Enter one of ['NONE', 'QUANTIZE', "
                 "'MEASURE', 'SHAPE', 'LOAD']",
                 T[i].shown);
        CHECK(parse(&c, buf, &e) == FP8Q_ERR_PARSE && strcmp(e.message, want) == 0, "%s: got %s", T[i].json, e.message);
    }
    /* a long value is cut, and so is the member list of scale_method */
    CHECK(parse(&c,
                "{\"scale_method\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
                &e) == FP8Q_ERR_PARSE &&
              strstr(e.message, "aaa...'). Enter one of ['UNIT_SCALE', 'HW_ALIGNED_SINGLE_SCALE'") &&
              strstr(e.message, ", ...]") && strlen(e.message) < sizeof e.message,
          "%s", e.message);
    /* deep nesting is cut, never recursed */
    {
        char *deep = (char *)malloc(2000);
        size_t n = 0, k;
        n += (size_t)sprintf(deep, "{\"mode\": ");
        for (k = 0; k < 400; k++) deep[n++] = '[';
        for (k = 0; k < 400; k++) deep[n++] = ']';
        deep[n++] = '}';
        deep[n] = 0;
        CHECK(parse(&c, deep, &e) == FP8Q_ERR_PARSE && strstr(e.message, "('[[[[") && strstr(e.message, "...')"), "%s",
              e.message);
        free(deep);
    }
}

static void test_scale_format_coercions(void)
{
    fp8q_inc_config c;
    fp8q_error e;
    CHECK(parse(&c, "{\"scale_method\": \"act_maxabs_hw_weights_pcs_maxabs_pow2\", \"dump_stats_path\": \"a/b\"}",
                &e) == FP8Q_OK &&
              c.scale_format == FP8Q_INC_SCALE_CONST && c.n_warnings == 1 &&
              strcmp(fp8q_inc_config_warning(&c, 0), "Cannot use 'scale_format = SCALAR' when using PCQ (Per Channel "
                                                     "Quantization), Reduced to 'CONST'.") == 0,
          "PCS: %s", e.message);
    fp8q_inc_config_free(&c);
    CHECK(parse(&c, "{\"fake_quant\": true, \"scale_format\": \"SCALAR\", \"dump_stats_path\": \"a/b\"}", &e) ==
                  FP8Q_OK &&
              c.scale_format == FP8Q_INC_SCALE_CONST && c.n_warnings == 1 && warning_with(&c, "fake_quant") == 0,
          "fake_quant");
    fp8q_inc_config_free(&c);
    CHECK(parse(&c,
                "{\"fake_quant\": true, \"scale_method\": \"ACT_MAXABS_POW2_WEIGHTS_PCS_OPT_POW2\", "
                "\"dump_stats_path\": \"a/b\"}",
                &e) == FP8Q_OK &&
              c.n_warnings == 2,
          "PCS + fake_quant: %d", (int)c.n_warnings);
    fp8q_inc_config_free(&c);
    /* dynamic with a per-tensor weight and PCS activation: the PCQ rule fires first */
    CHECK(parse(&c,
                "{\"dynamic_quantization\": true, \"scale_format\": \"scalar\", \"scale_method\": "
                "\"act_maxabs_pcs_pow2_weight_maxabs_pts_pow2_hw\"}",
                &e) == FP8Q_OK &&
              c.scale_format == FP8Q_INC_SCALE_CONST && warning_with(&c, "PCQ") == 0 && c.n_warnings == 1 &&
              c.use_stats_files == 0,
          "dynamic: %s", e.message);
    fp8q_inc_config_free(&c);
    /* a dict with a per-tensor pair and dynamic quantization (POW2 activations are allowed) */
    CHECK(parse(&c,
                "{\"dynamic_quantization\": true, \"scale_method\": {\"default\": {\"weight\": {\"rounding_method\":"
                " \"pow2\", \"backoff\": 0.5}, \"activation\": {\"rounding_method\": \"pow2\"}}}}",
                &e) == FP8Q_OK &&
              c.scale_format == FP8Q_INC_SCALE_CONST && warning_with(&c, "dynamic quantization. Reduced to") == 0,
          "dynamic per-tensor: %s", e.message);
    fp8q_inc_config_free(&c);
    /* CONST stays CONST without a warning; use_qdq alone does not coerce */
    CHECK(parse(&c, "{\"use_qdq\": \"True\", \"dump_stats_path\": \"a/b\"}", &e) == FP8Q_OK &&
              c.scale_format == FP8Q_INC_SCALE_SCALAR && c.use_qdq && c.n_warnings == 0,
          "qdq");
    fp8q_inc_config_free(&c);
}

static void test_warnings(void)
{
    fp8q_inc_config c;
    fp8q_error e;
    /* the calibration script's generated measure config (INC.md 7) */
    CHECK(parse(&c,
                "{\"method\":\"HOOKS\",\"mode\":\"MEASURE\",\"observer\":\"maxabs\",\"allowlist\":{\"types\":[],"
                "\"names\":[]},\"blocklist\":{\"types\":[],\"names\":[]},\"quantize_weight\":false,"
                "\"dump_stats_path\":\"/out/llama/g3/inc_output\",\"calibration_sample_interval\":1}",
                &e) == FP8Q_OK,
          "%s", e.message);
    CHECK(c.n_warnings == 2 && warning_with(&c, "'method' is a legacy key") == 0 &&
              warning_with(&c, "'quantize_weight' is a legacy key") == 1,
          "%d warnings", (int)c.n_warnings);
    CHECK(c.calibration_sample_interval == 1 && strcmp(c.dump_dir, "/out/llama/g3") == 0 &&
              strcmp(c.dump_prefix, "inc_output") == 0,
          "interval / dump");
    CHECK(strcmp(fname(&c, FP8Q_INC_FILE_MOD_LIST, 0, 2), "/out/llama/g3/inc_output_hooks_maxabs_0_2_mod_list.json") ==
              0,
          "%s", fname(&c, FP8Q_INC_FILE_MOD_LIST, 0, 2));
    fp8q_inc_config_free(&c);
    CHECK(parse(&c,
                "{\"dynamicquantization\": true, \"scaleformat\": \"CONST\", \"separate_measure_files\": false, "
                "\"world_size\": 8, \"foo\": [1], \"bar\": {}, \"observer\": \"minmax\", \"scale_params\": "
                "{\"input_backoff\": 0.5}, \"dump_stats_path\": {}, \"whitelist\": {\"names\": []}, "
                "\"blocklist\": {\"types\": [\"torch.nn.Linear\"], \"regex\": 1}}",
                &e) == FP8Q_OK,
          "%s", e.message);
    CHECK(warning_with(&c, "'dynamicquantization' is a misspelling") >= 0 &&
              warning_with(&c, "'scaleformat' is a misspelling") >= 0 &&
              warning_with(&c, "spells it 'seperate_measure_files'") >= 0 &&
              warning_with(&c, "'world_size' is set by INC itself") >= 0 &&
              warning_with(&c, "unknown key 'foo'") >= 0 && warning_with(&c, "unknown key 'bar'") >= 0 &&
              warning_with(&c, "observer 'minmax'") >= 0 && warning_with(&c, "'scale_params' is ignored") >= 0 &&
              warning_with(&c, "'dump_stats_path': an empty object") >= 0 &&
              warning_with(&c, "'whitelist' is the legacy name") >= 0 &&
              warning_with(&c, "'regex' in 'blocklist'") >= 0 &&
              warning_with(&c, "'torch.nn.Linear' never matches") >= 0,
          "warnings (%d)", (int)c.n_warnings);
    CHECK(c.dynamic_quantization == 0 && c.scale_format == FP8Q_INC_SCALE_SCALAR && c.seperate_measure_files == 1 &&
              strcmp(c.dump_stats_path, "stats") == 0 && strcmp(c.observer, "minmax") == 0,
          "ignored keys change nothing");
    CHECK(fp8q_inc_config_warning(&c, c.n_warnings) == NULL && fp8q_inc_config_warning(NULL, 0) == NULL, "range");
    fp8q_inc_config_free(&c);
    { /* warnings are capped: 64, then one "further warnings omitted" */
        char big[4096];
        size_t n = 0, k;
        n += (size_t)sprintf(big, "{\"dump_stats_path\": \"a/b\"");
        for (k = 0; k < 100; k++) n += (size_t)sprintf(big + n, ", \"k%u\": %u", (unsigned)k, (unsigned)k);
        sprintf(big + n, "}");
        CHECK(parse(&c, big, &e) == FP8Q_OK && c.n_warnings == 65 &&
                  strcmp(fp8q_inc_config_warning(&c, 64), "further warnings omitted") == 0 &&
                  strstr(fp8q_inc_config_warning(&c, 63), "'k63'"),
              "%d warnings", (int)c.n_warnings);
        fp8q_inc_config_free(&c);
    }
}

static void test_calibration_interval(void)
{
    static const struct {
        const char *json;
        int64_t want;
    } ok[] = {{"5", 5},      {"\"5\"", 5}, {"\" 7 \"", 7}, {"\"1_000\"", 1000}, {"\"-3\"", -3},
              {"\"+2\"", 2}, {"2.0", 2},   {"1e3", 1000},  {"\"007\"", 7},      {"-1", -1}};
    static const char *const bad[] = {"\"abc\"", "\"1__0\"", "\"_1\"", "\"1_\"",  "\"\"", "1.5",
                                      "true",    "null",     "[1]",    "\"1.0\"", "\" \""};
    char buf[128];
    size_t i;
    fp8q_inc_config c;
    fp8q_error e;
    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        snprintf(buf, sizeof buf, "{\"calibration_sample_interval\": %s}", ok[i].json);
        CHECK(parse(&c, buf, &e) == FP8Q_OK && c.calibration_sample_interval == ok[i].want, "%s: %s", ok[i].json,
              e.message);
        fp8q_inc_config_free(&c);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(buf, sizeof buf, "{\"calibration_sample_interval\": %s}", bad[i]);
        CHECK(parse(&c, buf, &e) == FP8Q_ERR_PARSE && strstr(e.message, "'calibration_sample_interval' must be an "
                                                                        "integer"),
              "%s: %s", bad[i], e.message);
    }
    CHECK(parse(&c, "{\"calibration_sample_interval\": 1e30}", &e) == FP8Q_ERR_LIMIT, "%s", e.message);
    CHECK(parse(&c, "{\"calibration_sample_interval\": \"99999999999999999999\"}", &e) == FP8Q_ERR_LIMIT, "%s",
          e.message);
}

/* ------------------------------------------------------ allow/block lists */

static void test_aliases(void)
{
    static const char *const a[] = {"a"}, *const b[] = {"b"}, *const lin[] = {"Linear"}, *const mm[] = {"Matmul"};
    fp8q_inc_config c;
    fp8q_error e;
    CHECK(parse(&c,
                "{\"allowlist\": {\"names\": [\"a\"], \"types\": [\"Linear\"]}, \"whitelist\": {\"names\": [\"b\"]}}",
                &e) == FP8Q_OK,
          "%s", e.message);
    CHECK(list_is(c.allowlist.names, c.allowlist.n_names, b, 1) &&
              list_is(c.allowlist.types, c.allowlist.n_types, lin, 1),
          "allowlist then whitelist: the later sub-key wins, the other stays");
    fp8q_inc_config_free(&c);
    CHECK(parse(&c, "{\"whitelist\": {\"names\": [\"b\"]}, \"allowlist\": {\"names\": [\"a\"]}}", &e) == FP8Q_OK &&
              list_is(c.allowlist.names, c.allowlist.n_names, a, 1) && c.allowlist.n_types == 0,
          "whitelist then allowlist");
    fp8q_inc_config_free(&c);
    CHECK(parse(&c,
                "{\"blacklist\": {\"types\": [\"Matmul\"], \"names\": [\"b\"]}, \"blocklist\": {\"names\": "
                "[\"a\"]}}",
                &e) == FP8Q_OK &&
              list_is(c.blocklist.names, c.blocklist.n_names, a, 1) &&
              list_is(c.blocklist.types, c.blocklist.n_types, mm, 1) &&
              warning_with(&c, "'blacklist' is the legacy") == 0,
          "blacklist then blocklist");
    fp8q_inc_config_free(&c);
    CHECK(parse(&c, "{\"blocklist\": {\"names\": [\"a\"]}, \"blacklist\": {\"names\": [\"b\"]}}", &e) == FP8Q_OK &&
              list_is(c.blocklist.names, c.blocklist.n_names, b, 1),
          "blocklist then blacklist");
    fp8q_inc_config_free(&c);
    /* a pattern that loses the merge is never compiled (INC never sees it) */
    CHECK(parse(&c, "{\"blocklist\": {\"names\": [\"(?<=x)\"]}, \"blacklist\": {\"names\": [\"b\"]}}", &e) == FP8Q_OK,
          "%s", e.message);
    fp8q_inc_config_free(&c);
    /* a non-object alias would replace the whole list: an error here */
    CHECK(parse(&c, "{\"whitelist\": [\"a\"]}", &e) == FP8Q_ERR_PARSE &&
              strstr(e.message, "'whitelist' must be an object") && strstr(e.message, "replace the allowlist"),
          "%s", e.message);
    CHECK(parse(&c, "{\"blacklist\": null}", &e) == FP8Q_ERR_PARSE &&
              strstr(e.message, "'blacklist' must be an object"),
          "%s", e.message);
    CHECK(parse(&c, "{\"whitelist\": {\"names\": [\"([a\"]}}", &e) == FP8Q_ERR_PARSE &&
              strstr(e.message, "'whitelist.names': regex '([a'"),
          "%s", e.message);
}

/* vLLM module names with their bare class names */
static const struct {
    const char *name, *type;
} MODS[] = {
    {"model.layers.0.self_attn.qkv_proj", "QKVParallelLinear"},        /* 0 */
    {"model.layers.0.self_attn.o_proj", "RowParallelLinear"},          /* 1 */
    {"model.layers.0.self_attn.attn.impl.matmul_qk", "Matmul"},        /* 2 */
    {"model.layers.0.self_attn.attn.impl.k_cache", "VLLMKVCache"},     /* 3 */
    {"model.layers.0.mlp.gate_up_proj", "MergedColumnParallelLinear"}, /* 4 */
    {"model.layers.0.mlp.down_proj", "RowParallelLinear"},             /* 5 */
    {"model.layers.0.mlp.gate", "ReplicatedLinear"},                   /* 6 (MoE router) */
    {"lm_head", "ParallelLMHead"},                                     /* 7 */
    {"model.layers.0.mlp.experts.w13_list.0", "MoeMatmul"},            /* 8 */
};
#define N_MODS (sizeof MODS / sizeof MODS[0])

/* "101..." for MODS under cfg, supports_dynamic = dyn */
static const char *selection(const char *json, int dyn)
{
    static char out[N_MODS + 1];
    fp8q_inc_config c;
    fp8q_error e;
    size_t i;
    if (parse(&c, json, &e) != FP8Q_OK) {
        snprintf(out, sizeof out, "ERROR");
        printf("    %s\n", e.message);
        return out;
    }
    for (i = 0; i < N_MODS; i++) {
        int yes = -1;
        fp8q_result r = fp8q_inc_should_quantize(&c, MODS[i].name, MODS[i].type, dyn, &yes, &e);
        out[i] = r != FP8Q_OK ? 'E' : yes == 1 ? '1' : yes == 0 ? '0' : '?';
    }
    out[N_MODS] = 0;
    fp8q_inc_config_free(&c);
    return out;
}

static void test_should_quantize(void)
{
    static const struct {
        const char *json;
        int dyn;
        const char *want;
    } T[] = {
        {"{}", 1, "111111111"},
        /* Mixtral: everything under self_attn stays BF16 */
        {"{\"blocklist\": {\"types\": [], \"names\": [\"self_attn\"]}}", 1, "000011111"},
        /* DeepSeek: the router mlp.gate but not mlp.gate_up_proj */
        {"{\"blocklist\": {\"names\": [\"lm_head\", \"mlp\\\\.gate\\\\b\"]}}", 1, "111111001"},
        /* substring, not word: mlp.gate also blocks gate_up_proj */
        {"{\"blocklist\": {\"names\": [\"mlp.gate\"]}}", 1, "111101011"},
        /* the VG dynamic file: no matmuls or caches */
        {"{\"blocklist\": {\"types\": [\"Matmul\", \"B2BMatmul\", \"KVCache\", \"VLLMKVCache\"]}}", 1, "110011111"},
        /* Phi: matmul_qk by name */
        {"{\"blocklist\": {\"names\": [\"matmul_qk\", \"matmul_av\", \"lm_head\"]}}", 1, "110111101"},
        /* allowlist by type: only these */
        {"{\"allowlist\": {\"types\": [\"QKVParallelLinear\", \"Matmul\"]}}", 1, "101000000"},
        /* allowlist by name, anywhere in the name */
        {"{\"allowlist\": {\"names\": [\"mlp\"]}}", 1, "000011101"},
        /* anchors work as in re.search */
        {"{\"allowlist\": {\"names\": [\"^lm_\", \"proj$\"]}}", 1, "110011010"},
        /* types are bare class names: a dotted name matches nothing, the empty allowlist is not empty */
        {"{\"allowlist\": {\"types\": [\"torch.nn.Linear\"]}}", 1, "000000000"},
        /* the blocklist wins over the allowlist */
        {"{\"allowlist\": {\"names\": [\"self_attn\"]}, \"blocklist\": {\"names\": [\"qkv\"]}}", 1, "011100000"},
        {"{\"allowlist\": {\"types\": [\"Matmul\"]}, \"blocklist\": {\"types\": [\"Matmul\"]}}", 1, "000000000"},
        /* dynamic quantization: only ops that support it */
        {"{\"dynamic_quantization\": true, \"scale_method\": \"maxabs_pcs_pow2\"}", 0, "000000000"},
        {"{\"dynamic_quantization\": true, \"scale_method\": \"maxabs_pcs_pow2\"}", 1, "111111111"},
        {"{\"scale_method\": \"maxabs_hw\"}", 0, "111111111"},
    };
    size_t i;
    for (i = 0; i < sizeof T / sizeof T[0]; i++) {
        const char *got = selection(T[i].json, T[i].dyn);
        CHECK(strcmp(got, T[i].want) == 0, "%s dyn %d: got %s want %s", T[i].json, T[i].dyn, got, T[i].want);
    }
    {
        fp8q_inc_config c;
        fp8q_error e;
        int yes = 7;
        CHECK(parse(&c, "{}", &e) == FP8Q_OK, "%s", e.message);
        CHECK(fp8q_inc_should_quantize(&c, NULL, "Linear", 1, &yes, &e) == FP8Q_ERR_ARG && yes == 0, "NULL name");
        CHECK(fp8q_inc_should_quantize(&c, "x", "Linear", 1, NULL, &e) == FP8Q_ERR_ARG, "NULL yes");
        fp8q_inc_config_free(&c);
    }
}

/* ---------------------------------------------------------- scale_method */

static void test_scale_dict(void)
{
    fp8q_inc_config c;
    fp8q_error e;
    fp8q_inc_scale_cfg w, a;
    const fp8q_inc_scale_entry *en;
    memset(&w, 0, sizeof w);
    memset(&a, 0, sizeof a);
    /* INC.md 2.4: MAXABS_HW with backoff 0.5 for both */
    CHECK(parse(&c,
                "{\"scale_method\": {\"default\": {\"weight\": {\"rounding_method\": \"HW_ALIGNED\", \"backoff\": "
                "0.5}, \"activation\": {\"rounding_method\": \"HW_ALIGNED\", \"backoff\": 0.5}}}, "
                "\"dump_stats_path\": \"q/r\"}",
                &e) == FP8Q_OK,
          "%s", e.message);
    CHECK(c.scale_method_dict == 1 && c.recalc_scales == 1 && strcmp(c.method->name, "MAXABS_HW") == 0, "dict");
    CHECK(fp8q_inc_config_scale_cfg(&c, "model.layers.0.mlp.down_proj", "RowParallelLinear", &w, &a) == FP8Q_OK, "cfg");
    CHECK(w.granularity == FP8Q_INC_PTS && w.value_type == FP8Q_INC_MAXABS && w.rounding == FP8Q_INC_HW_ALIGNED &&
              w.backoff == 0.5f && a.rounding == FP8Q_INC_HW_ALIGNED && a.backoff == 0.5f,
          "backoffs %g %g", w.backoff, a.backoff);
    CHECK(strcmp(fname(&c, FP8Q_INC_FILE_SCALE, 1, 2), "q/r_hooks_maxabs_MAXABS_HW_1_2.json") == 0, "%s",
          fname(&c, FP8Q_INC_FILE_SCALE, 1, 2));
    fp8q_inc_config_free(&c);
    /* pitfall 14: no backoff is 1.0; a later recalc_scales key wins */
    CHECK(parse(&c,
                "{\"scale_method\": {\"default\": {\"weight\": {\"rounding_method\": \"hw_aligned\"}, "
                "\"activation\": {\"rounding_method\": \"Hw_Aligned\"}}}, \"recalc_scales\": false}",
                &e) == FP8Q_OK &&
              c.scale_default.weight.backoff == 1.0f && c.scale_default.activation.backoff == 1.0f &&
              c.recalc_scales == 0,
          "%s", e.message);
    fp8q_inc_config_free(&c);
    CHECK(parse(&c, "{\"recalc_scales\": false, \"scale_method\": {\"default\": {}}}", &e) == FP8Q_OK &&
              c.recalc_scales == 1 && strcmp(c.method->name, "MAXABS_ARBITRARY") == 0 &&
              c.scale_default.weight.backoff == 1.0f,
          "empty default = PTS/MAXABS/IDENTITY: %s", e.message);
    fp8q_inc_config_free(&c);
    /* overrides: nodes, then layers (dot or slash), then layer_types, then default */
    CHECK(parse(&c,
                "{\"scale_method\": {\"default\": {\"weight\": {\"rounding_method\": \"HW_ALIGNED\", \"backoff\": "
                "0.5}, \"activation\": {\"rounding_method\": \"HW_ALIGNED\", \"backoff\": 0.25}}, "
                "\"nodes\": {\"lm_head\": {\"weight\": {\"rounding_method\": \"POW2\"}, \"activation\": "
                "{\"rounding_method\": \"POW2\", \"backoff\": 0.125}}, \"model.layers.3.mlp.down_proj\": {}}, "
                "\"layers\": {\"3\": {\"weight\": {\"rounding_method\": \"IDENTITY\"}, \"activation\": "
                "{\"rounding_method\": \"IDENTITY\"}}, \"5\": {\"weight\": {\"granularity\": \"PCS\", "
                "\"rounding_method\": \"POW2\"}}}, "
                "\"layer_types\": {\"Matmul\": {\"weight\": {\"rounding_method\": \"POW2\"}, \"activation\": "
                "{\"rounding_method\": \"POW2\"}}, \"MoeMatmul\": {\"weight\": {\"scale_value_type\": \"opt\", "
                "\"params\": {\"weight_scales\": [0.5, 1, 2]}}}}}, \"dump_stats_path\": \"q/r\"}",
                &e) == FP8Q_OK,
          "%s", e.message);
    CHECK(c.n_scale_nodes == 2 && c.n_scale_layers == 2 && c.n_scale_layer_types == 2, "counts");
    CHECK(strcmp(c.scale_nodes[0].key, "lm_head") == 0 && strcmp(c.scale_layers[1].key, "5") == 0 &&
              strcmp(c.scale_layer_types[1].key, "MoeMatmul") == 0,
          "document order");
    en = fp8q_inc_config_scale_entry(&c, "lm_head", "ParallelLMHead");
    CHECK(en && strcmp(en->method->name, "MAXABS_POW2") == 0 && en->weight.backoff == 0.5f &&
              en->activation.backoff == 0.125f,
          "node: %s", en ? en->method->name : "NULL");
    en = fp8q_inc_config_scale_entry(&c, "model.layers.3.mlp.gate_up_proj", "MergedColumnParallelLinear");
    CHECK(en && strcmp(en->key, "3") == 0 && strcmp(en->method->name, "MAXABS_ARBITRARY") == 0 &&
              en->weight.backoff == 0.5f,
          "layer 3");
    en = fp8q_inc_config_scale_entry(&c, "model.layers.3.mlp.down_proj", "RowParallelLinear");
    CHECK(en && strcmp(en->key, "model.layers.3.mlp.down_proj") == 0 && strcmp(en->method->name, "MAXABS_HW") == 0,
          "a node beats its layer");
    en = fp8q_inc_config_scale_entry(&c, "model/layers/3/mlp", "X");
    CHECK(en && strcmp(en->key, "3") == 0, "slash pattern");
    en = fp8q_inc_config_scale_entry(&c, "model.layers.30.mlp.down_proj", "RowParallelLinear");
    CHECK(en == &c.scale_default, "layer 30 is not layer 3");
    en = fp8q_inc_config_scale_entry(&c, "decoder.layers.x.layers.5.fc", "Linear");
    CHECK(en && strcmp(en->key, "5") == 0 && strcmp(en->method->name, "ACT_MAXABS_HW_WEIGHTS_PCS_MAXABS_POW2") == 0,
          "first match of layers\\.(\\d+)");
    en = fp8q_inc_config_scale_entry(&c, "model.layers.3.self_attn.attn.impl.matmul_qk", "Matmul");
    CHECK(en && strcmp(en->key, "3") == 0, "layers before layer_types");
    en = fp8q_inc_config_scale_entry(&c, "model.layers.4.self_attn.attn.impl.matmul_qk", "Matmul");
    CHECK(en && strcmp(en->key, "Matmul") == 0 && strcmp(en->method->name, "MAXABS_POW2") == 0, "layer type");
    en = fp8q_inc_config_scale_entry(&c, "model.layers.4.mlp.experts.w13_list.0", "MoeMatmul");
    CHECK(en && strcmp(en->method->name, "MAXABS_HW_OPT_WEIGHT") == 0 && en->n_weight_scales == 3 &&
              en->weight_scales[0] == 0.5 && en->weight_scales[2] == 2.0,
          "params");
    CHECK(fp8q_inc_config_scale_entry(&c, "model.layers.4.mlp", NULL) == &c.scale_default, "no class");
    CHECK(fp8q_inc_config_scale_entry(&c, NULL, "Matmul") == NULL &&
              fp8q_inc_config_scale_entry(NULL, "x", NULL) == NULL,
          "NULL");
    /* with a PCS override in a layer, the whole config is per-channel somewhere: CONST */
    CHECK(c.scale_format == FP8Q_INC_SCALE_CONST && warning_with(&c, "PCQ") >= 0, "PCS override -> CONST");
    fp8q_inc_config_free(&c);
    /* many nodes: binary search */
    {
        size_t cap = 64 * 4096, n = 0, k;
        char *big = (char *)malloc(cap);
        n += (size_t)sprintf(big + n, "{\"scale_method\": {\"default\": {\"weight\": {\"rounding_method\": "
                                      "\"pow2\"}, \"activation\": {\"rounding_method\": \"pow2\"}}, \"nodes\": {");
        for (k = 0; k < 3000; k++)
            n += (size_t)sprintf(big + n, "%s\"m.layers.%u.p\": {\"activation\": {\"backoff\": %u}}", k ? ", " : "",
                                 (unsigned)k, (unsigned)(k + 1));
        n += (size_t)sprintf(big + n, "}}}");
        CHECK(fp8q_inc_config_parse(&c, big, n, &e) == FP8Q_OK && c.n_scale_nodes == 3000, "%s", e.message);
        for (k = 0; k < 3000; k += 7) {
            char name[64];
            sprintf(name, "m.layers.%u.p", (unsigned)k);
            en = fp8q_inc_config_scale_entry(&c, name, "Linear");
            CHECK(en && en->activation.backoff == (float)(k + 1) && en->weight.backoff == 1.0f, "node %u", (unsigned)k);
        }
        CHECK(fp8q_inc_config_scale_entry(&c, "m.layers.3000.p", "Linear") == &c.scale_default, "absent node");
        fp8q_inc_config_free(&c);
        free(big);
    }
    /* deep objects under the dict are scanned without recursion */
    {
        char *deep = (char *)malloc(8000);
        size_t n = 0, k;
        n += (size_t)sprintf(deep, "{\"scale_method\": {\"default\": {}, \"x\": ");
        for (k = 0; k < 500; k++) n += (size_t)sprintf(deep + n, "{\"a\": ");
        n += (size_t)sprintf(deep + n, "{\"granularity\": \"PTZ\"}");
        for (k = 0; k < 500; k++) deep[n++] = '}';
        n += (size_t)sprintf(deep + n, "}}");
        CHECK(fp8q_inc_config_parse(&c, deep, n, &e) == FP8Q_ERR_PARSE &&
                  strstr(e.message, "Invalid input 'PTZ' for ScaleGranularity. Enter one of ['PTS', 'PCS']"),
              "%s", e.message);
        free(deep);
    }
}

/* fp8q_inc_file_device / fp8q_inc_check_file_device: evidence from the path and from HW-aligned scale values. */
static void test_file_device(void)
{
    static const struct {
        const char *path;
        int dev;
    } paths[] = {
        {"out/llama/g3/inc_output_hooks_maxabs_0_1.json", FP8Q_GAUDI3}, /* VHE's calibration layout */
        {"out/llama/G2/inc_output_hooks_maxabs_0_1.json", FP8Q_GAUDI2},
        {"g2/g3/m.json", FP8Q_GAUDI3}, /* the innermost directory */
        {"/data/gaudi2/x/m.json", FP8Q_GAUDI2},
        {"C:\\cal\\g3\\m.json", FP8Q_GAUDI3},
        {"inc_output_gaudi3_hooks_maxabs.json", FP8Q_GAUDI3},
        {"dir/scales-g2.json", FP8Q_GAUDI2},
        {"log2/g22/gaudi/m.json", 0}, /* not device words */
        {"inc_output_hooks_maxabs_0_1.json", 0},
        {"mg3.json", 0},
        {"", 0},
    };
    fp8q_inc_config c;
    fp8q_inc_measure m;
    fp8q_inc_node node;
    fp8q_error e;
    char why[128];
    size_t i;
    for (i = 0; i < sizeof paths / sizeof paths[0]; i++)
        CHECK(fp8q_inc_file_device(paths[i].path, NULL, NULL, why, sizeof why) == paths[i].dev, "%s: %s", paths[i].path,
              why);
    CHECK(parse(&c, "{\"mode\": \"QUANTIZE\", \"scale_method\": \"maxabs_hw\", \"dump_stats_path\": \"a/b\"}", &e) ==
              FP8Q_OK,
          "%s", e.message);
    /* a Scale file with a HW-aligned activation scale of 2^-1: only Gaudi3's set has it */
    fp8q_inc_measure_init(&m, FP8Q_INC_MEASURE_SCALE);
    memset(&node, 0, sizeof node);
    node.name = (char *)malloc(8), strcpy(node.name, "l.o");
    node.has_inputs = 1, node.n_inputs = 1;
    node.inputs = (fp8q_inc_entry *)calloc(1, sizeof *node.inputs);
    node.inputs[0].rows = node.inputs[0].cols = 1;
    node.inputs[0].v = (double *)malloc(sizeof(double));
    node.inputs[0].v[0] = 16.0;
    CHECK(fp8q_inc_measure_add_node(&m, &node, &e) == FP8Q_OK, "%s", e.message);
    CHECK(fp8q_inc_file_device("s.json", &m, &c, why, sizeof why) == 0, "16 is in both sets: %s", why);
    m.nodes[0].inputs[0].v[0] = 0.5;
    CHECK(fp8q_inc_file_device("s.json", &m, &c, why, sizeof why) == FP8Q_GAUDI3 && strstr(why, "0.5"), "%s", why);
    CHECK(fp8q_inc_check_file_device("s.json", &m, &c, FP8Q_GAUDI2, &e) == FP8Q_ERR_UNSUPPORTED &&
              strstr(e.message, "s.json was computed for Gaudi3") && strstr(e.message, "scales are for Gaudi2"),
          "%s", e.message);
    CHECK(fp8q_inc_check_file_device("s.json", &m, &c, FP8Q_GAUDI3, &e) == FP8Q_OK, "%s", e.message);
    CHECK(fp8q_inc_check_file_device("s.json", &m, NULL, FP8Q_GAUDI2, &e) == FP8Q_OK, "no method, no evidence");
    m.mode = FP8Q_INC_MEASURE_DYNAMIC_RANGE;
    CHECK(fp8q_inc_file_device("s.json", &m, &c, why, sizeof why) == 0, "measurements are not scales");
    fp8q_inc_measure_free(&m);
    CHECK(fp8q_inc_check_file_device("cal/g3/m.json", NULL, &c, FP8Q_GAUDI2, &e) == FP8Q_ERR_UNSUPPORTED &&
              strstr(e.message, "(its directory names Gaudi3)"),
          "%s", e.message);
    CHECK(fp8q_inc_check_file_device("cal/g3/m.json", NULL, &c, FP8Q_GAUDI3, &e) == FP8Q_OK, "%s", e.message);
    CHECK(fp8q_inc_check_file_device("cal/m.json", NULL, &c, FP8Q_GAUDI2, &e) == FP8Q_OK, "%s", e.message);
    CHECK(fp8q_inc_check_file_device("m.json", NULL, &c, (fp8q_gaudi)1, &e) == FP8Q_ERR_ARG, "bad device");
    fp8q_inc_config_free(&c);
    /* device_for_scales GAUDI2 on a Gaudi3: files must be Gaudi2's */
    CHECK(parse(&c, "{\"device_for_scales\": \"GAUDI2\", \"dump_stats_path\": \"a/b\"}", &e) == FP8Q_OK, "%s",
          e.message);
    CHECK(fp8q_inc_check_file_device("cal/g2/m.json", NULL, &c, FP8Q_GAUDI3, &e) == FP8Q_OK, "%s", e.message);
    CHECK(fp8q_inc_check_file_device("cal/g3/m.json", NULL, &c, FP8Q_GAUDI3, &e) == FP8Q_ERR_UNSUPPORTED,
          "G3 files with G2 scales");
    fp8q_inc_config_free(&c);
}

static void test_device_check(void)
{
    fp8q_inc_config c;
    fp8q_error e;
    CHECK(parse(&c, "{\"device_for_scales\": \"GAUDI2\", \"dump_stats_path\": \"a/b\"}", &e) == FP8Q_OK, "%s",
          e.message);
    CHECK(fp8q_inc_config_check_device(&c, FP8Q_GAUDI3, &e) == FP8Q_OK, "G2 scales on G3: %s", e.message);
    CHECK(fp8q_inc_config_check_device(&c, FP8Q_GAUDI2, &e) == FP8Q_OK, "G2 on G2");
    fp8q_inc_config_free(&c);
    CHECK(parse(&c, "{\"device_for_scales\": \"GAUDI3\", \"dump_stats_path\": \"a/b\"}", &e) == FP8Q_OK, "%s",
          e.message);
    CHECK(fp8q_inc_config_check_device(&c, FP8Q_GAUDI2, &e) == FP8Q_ERR_UNSUPPORTED &&
              strcmp(e.message, "Unsupported config: device_for_scales=INCAcceleratorType.GAUDI3 for "
                                "device_type=INCAcceleratorType.GAUDI2") == 0,
          "%s", e.message);
    fp8q_inc_config_free(&c);
    CHECK(parse(&c,
                "{\"device_for_scales\": \"gaudi2\", \"scale_method\": \"maxabs_pow2\", \"dump_stats_path\": "
                "\"a/b\"}",
                &e) == FP8Q_OK,
          "%s", e.message);
    CHECK(fp8q_inc_config_check_device(&c, FP8Q_GAUDI3, &e) == FP8Q_ERR_UNSUPPORTED &&
              strstr(e.message, "Unsupported config: scale_method: MAXABS_POW2 for scale device overriding"),
          "%s", e.message);
    fp8q_inc_config_free(&c);
    CHECK(parse(&c, "{\"dump_stats_path\": \"a/b\"}", &e) == FP8Q_OK &&
              fp8q_inc_config_check_device(&c, FP8Q_GAUDI2, &e) == FP8Q_OK,
          "unset");
    fp8q_inc_config_free(&c);
}

/* ------------------------------------------------------------ the errors */

static void test_errors(void)
{
    static const struct {
        const char *json;
        int code;
        const char *frag;
    } T[] = {
        {"[]", FP8Q_ERR_PARSE, "QUANT_CONFIG must hold a JSON object, got an array"},
        {"\"QUANTIZE\"", FP8Q_ERR_PARSE, "must hold a JSON object, got a string"},
        {"{", FP8Q_ERR_PARSE, "expected"},
        {"{\"mode\": \"QUANTIZE\",}", FP8Q_ERR_PARSE, "line 1"},
        {"{\"mode\": \"QUANTIZE\", \"mode\": \"MEASURE\"}", FP8Q_ERR_PARSE, "duplicate"},
        {"{\"mode\": NaN}", FP8Q_ERR_PARSE, ""},
        {"{\"mode\": \"quantise\"}", FP8Q_ERR_PARSE,
         "Invalid 'mode' value in custom config ('quantise'). Enter one of ['NONE', 'QUANTIZE', 'MEASURE', 'SHAPE', "
         "'LOAD']"},
        {"{\"mode\": 1}", FP8Q_ERR_PARSE, "Invalid 'mode' value in custom config ('1')"},
        {"{\"mode\": {}}", FP8Q_ERR_PARSE, "('{}')"},
        {"{\"use_qdq\": 1}", FP8Q_ERR_PARSE,
         "Invalid 'use_qdq' value in custom config ('1'). Enter one of ['TRUE', "
         "'FALSE']"},
        {"{\"use_qdq\": \"yes\"}", FP8Q_ERR_PARSE, "('yes')"},
        {"{\"dynamic_quantization\": 0}", FP8Q_ERR_PARSE, "Invalid 'dynamic_quantization' value"},
        {"{\"scale_method\": \"max\"}", FP8Q_ERR_PARSE, "Invalid 'scale_method' value in custom config ('max')"},
        {"{\"scale_method\": \"smoothquant_opt\"}", FP8Q_ERR_PARSE, "('smoothquant_opt')"},
        {"{\"scale_method\": [\"maxabs_hw\"]}", FP8Q_ERR_PARSE, "('['maxabs_hw']')"},
        {"{\"fp8_config\": \"E4M3FN\"}", FP8Q_ERR_PARSE, "Enter one of ['E4M3', 'E5M2']"},
        {"{\"hp_dtype\": 16.0}", FP8Q_ERR_PARSE, "('16.0'). Enter one of ['BF16', 'FP16', 'FP32']"},
        {"{\"device_for_scales\": null}", FP8Q_ERR_PARSE, "('None'). Enter one of ['GAUDI2', 'GAUDI3']"},
        {"{\"scale_format\": [\"CONST\"]}", FP8Q_ERR_PARSE, "Enter one of ['CONST', 'SCALAR']"},
        {"{\"measure_exclude\": \"OUTPUTS\"}", FP8Q_ERR_PARSE,
         "Enter one of ['NONE', 'INPUT', 'OUTPUT', 'PARAMS', "
         "'ALL']"},
        {"{\"blocklist\": {\"names\": [\"(?<=x)y\"]}}", FP8Q_ERR_UNSUPPORTED,
         "'blocklist.names': regex '(?<=x)y': lookbehind"},
        {"{\"blocklist\": {\"names\": [\"lm_head\", \"a**\"]}}", FP8Q_ERR_PARSE, "'blocklist.names': regex 'a**'"},
        {"{\"allowlist\": {\"names\": [\"(a)\\\\1\"]}}", FP8Q_ERR_UNSUPPORTED, "'allowlist.names': regex '(a)\\1'"},
        {"{\"blocklist\": \"lm_head\"}", FP8Q_ERR_PARSE, "'blocklist' must be an object"},
        {"{\"blocklist\": {\"names\": \"lm_head\"}}", FP8Q_ERR_PARSE, "'blocklist.names' must be an array"},
        {"{\"blocklist\": {\"names\": [1]}}", FP8Q_ERR_PARSE, "'blocklist.names' must hold strings, got 1"},
        {"{\"blocklist\": {\"types\": \"Linear\"}}", FP8Q_ERR_PARSE, "'blocklist.types' must be an array"},
        {"{\"blocklist\": {\"names\": [\"a\\u0000b\"]}}", FP8Q_ERR_PARSE, "must not contain a NUL"},
        {"{\"mod_dict\": {\"Foo\": \"Bar\", \"Baz\": 1}}", FP8Q_ERR_PARSE,
         "Custom modules are not supported: dict_keys(['Foo', 'Baz']). Please add it in the code."},
        {"{\"mod_dict\": []}", FP8Q_ERR_PARSE, "'mod_dict' must be an empty object, got an array"},
        {"{\"foo\": {\"a\": 1}}", FP8Q_ERR_PARSE, "unknown key 'foo' with an object value: INC raises KeyError"},
        {"{\"method\": {\"a\": 1}}", FP8Q_ERR_PARSE, "KeyError"},
        {"{\"observer\": {\"a\": 1}}", FP8Q_ERR_PARSE, "'observer' cannot be an object (INC raises TypeError"},
        {"{\"seperate_measure_files\": {\"a\": 1}}", FP8Q_ERR_PARSE, "cannot be an object"},
        {"{\"observer\": 5}", FP8Q_ERR_PARSE, "'observer' must be a string, got 5"},
        {"{\"dump_stats_path\": null}", FP8Q_ERR_PARSE, "'dump_stats_path' must be a string, got null"},
        {"{\"dump_stats_path\": \"a\\u0000\"}", FP8Q_ERR_PARSE, "'dump_stats_path' must not contain a NUL"},
        {"{\"calibration_sample_interval\": \"abc\"}", FP8Q_ERR_PARSE,
         "'calibration_sample_interval' must be an integer (or a string holding one), got \"abc\""},
        {"{\"dynamic_quantization\": true, \"use_qdq\": true, \"scale_method\": \"maxabs_pcs_pow2\"}", FP8Q_ERR_PARSE,
         "Currently dynamic quantization is not supported for qdq and fake quant."},
        {"{\"dynamic_quantization\": \"True\", \"fake_quant\": \"true\", \"scale_method\": \"maxabs_pcs_pow2\"}",
         FP8Q_ERR_PARSE, "Currently dynamic quantization is not supported for qdq and fake quant."},
        {"{\"dynamic_quantization\": true}", FP8Q_ERR_PARSE,
         "Unsupported config: scale_method MAXABS_HW is not supported in dynamic quantization"},
        {"{\"dynamic_quantization\": true, \"scale_method\": \"unit_scale\"}", FP8Q_ERR_PARSE,
         "Unsupported config: scale_method UNIT_SCALE is not supported in dynamic quantization"},
        {"{\"dynamic_quantization\": true, \"scale_method\": {\"default\": {\"weight\": {\"rounding_method\": "
         "\"pow2\"},"
         " \"activation\": {\"rounding_method\": \"pow2\"}}, \"nodes\": {\"lm_head\": {\"activation\": "
         "{\"rounding_method\": \"hw_aligned\"}, \"weight\": {\"rounding_method\": \"hw_aligned\"}}}}}",
         FP8Q_ERR_PARSE,
         "Unsupported config: scale_method MAXABS_HW (CfgStr.NODES[lm_head]) is not supported in dynamic quantization"},
        {"{\"mode\": \"MEASURE\", \"dynamic_quantization\": true, \"scale_method\": \"maxabs_pcs_pow2\"}",
         FP8Q_ERR_PARSE,
         "Quantization mode is QuantMode.MEASURE, but dynamic quantization is only supported in QUANTIZE or LOAD mode"},
        {"{\"dynamic_quantization\": true, \"row_parallel_linear_allreduce_quantization\": 1, \"scale_method\": "
         "\"maxabs_pcs_pow2\"}",
         FP8Q_ERR_PARSE, "Dynamic quantization is not supported when using row_parallel_linear_allreduce_quantization"},
        {"{\"scale_method\": \"MAXABS_PCS_POW2\"}", FP8Q_ERR_PARSE,
         "Unsupported config: scale_method MAXABS_PCS_POW2 is supported only in dynamic quantization"},
        {"{\"scale_method\": \"act_maxabs_pcs_pow2_weight_maxabs_pts_pow2_hw\", \"dynamic_quantization\": false}",
         FP8Q_ERR_PARSE,
         "Unsupported config: scale_method ACT_MAXABS_PCS_POW2_WEIGHT_MAXABS_PTS_POW2_HW is supported only in dynamic"},
        {"{\"scale_method\": {\"nodes\": {}}}", FP8Q_ERR_PARSE,
         "Scale method config should contain a default scale method."},
        {"{\"scale_method\": {\"default\": null}}", FP8Q_ERR_PARSE,
         "Scale method config should contain a default scale method."},
        {"{\"scale_method\": {}}", FP8Q_ERR_PARSE, "Scale method config should contain a default scale method."},
        {"{\"scale_method\": {\"default\": \"maxabs_hw\"}}", FP8Q_ERR_PARSE,
         "'scale_method.default' must be an object"},
        {"{\"scale_method\": {\"default\": {\"weight\": {\"scale_value_type\": \"OPT\", \"rounding_method\": "
         "\"SCALE_UNIT\"}}}}",
         FP8Q_ERR_PARSE,
         "Unsupported config: scale method config for CfgStr.DEFAULT = {weight: PTS/OPT/SCALE_UNIT, activation: "
         "PTS/MAXABS/IDENTITY} is not supported."},
        {"{\"scale_method\": {\"default\": {}, \"layers\": {\"7\": {\"weight\": {\"granularity\": 1}}}}}",
         FP8Q_ERR_PARSE,
         "Unsupported config: scale method config for CfgStr.LAYERS[7] = {weight: 1/MAXABS/IDENTITY, activation: "
         "PTS/MAXABS/IDENTITY} is not supported."},
        {"{\"scale_method\": {\"default\": {}, \"nodes\": {\"lm_head\": {\"activation\": {\"granularity\": null}}}}}",
         FP8Q_ERR_PARSE, "CfgStr.NODES[lm_head] = {weight: PTS/MAXABS/IDENTITY, activation: None/MAXABS/IDENTITY}"},
        {"{\"scale_method\": {\"default\": {\"weight\": {\"rounding_method\": \"pow3\"}}}}", FP8Q_ERR_PARSE,
         "Invalid input 'pow3' for ScaleRoundMethod. Enter one of ['IDENTITY', 'POW2', 'HW_ALIGNED', "
         "'HW_ALIGNED_FIXED', 'SCALE_UNIT']"},
        {"{\"scale_method\": {\"default\": {\"weight\": {\"scale_value_type\": \"smoothquant_opt\"}}}}", FP8Q_ERR_PARSE,
         "for ScaleValueType. Enter one of ['MAXABS', 'FIXED_VALUE', 'OPT', 'DUMMY_SCALES']"},
        {"{\"scale_method\": {\"default\": {\"weight\": {\"backoff\": -1}}}}", FP8Q_ERR_PARSE,
         "'scale_method.default.weight.backoff' must be a finite positive number, got -1"},
        {"{\"scale_method\": {\"default\": {\"activation\": {\"backoff\": \"0.5\"}}}}", FP8Q_ERR_PARSE,
         "'scale_method.default.activation.backoff' must be a finite positive number"},
        {"{\"scale_method\": {\"default\": {\"weight\": []}}}", FP8Q_ERR_PARSE,
         "'scale_method.default.weight' must be an object, got an array"},
        {"{\"scale_method\": {\"default\": {}, \"nodes\": []}}", FP8Q_ERR_PARSE,
         "'scale_method.nodes' must be an object"},
        {"{\"scale_method\": {\"default\": {}, \"layer_types\": {\"Linear\": 3}}}", FP8Q_ERR_PARSE,
         "'scale_method.layer_types['Linear']' must be an object"},
        {"{\"scale_method\": {\"default\": {\"weight\": {\"params\": {\"weight_scales\": []}}}}}", FP8Q_ERR_PARSE,
         "'scale_method.default.weight.params.weight_scales' must be a non-empty array"},
        {"{\"scale_method\": {\"default\": {\"weight\": {\"params\": 3}}}}", FP8Q_ERR_PARSE,
         "'scale_method.default.weight.params' must be an object (or null)"},
    };
    size_t i;
    for (i = 0; i < sizeof T / sizeof T[0]; i++) {
        fp8q_inc_config c;
        fp8q_error e;
        fp8q_result r;
        memset(&e, 0x55, sizeof e);
        r = parse(&c, T[i].json, &e);
        CHECK((int)r == T[i].code && e.code == T[i].code && strstr(e.message, T[i].frag) != NULL,
              "#%u %s: got %d '%s', want %d '%s'", (unsigned)i, T[i].json, (int)r, e.message, T[i].code, T[i].frag);
        CHECK(c.fp8q__owned == NULL && c.method == NULL && c.n_warnings == 0, "#%u not zeroed", (unsigned)i);
        fp8q_inc_config_free(&c);
    }
    {
        fp8q_inc_config c;
        fp8q_error e;
        CHECK(fp8q_inc_config_parse(NULL, "{}", 2, &e) == FP8Q_ERR_ARG, "NULL cfg");
        CHECK(fp8q_inc_config_parse(&c, NULL, 2, &e) == FP8Q_ERR_ARG, "NULL text");
        CHECK(fp8q_inc_config_parse(&c, NULL, 0, &e) == FP8Q_ERR_PARSE, "empty text");
        CHECK(fp8q_inc_config_parse(&c, "{}", 2, NULL) == FP8Q_OK, "NULL err");
        fp8q_inc_config_free(&c);
        CHECK(fp8q_inc_config_parse(&c, "{\"mode\": 3}", 11, NULL) == FP8Q_ERR_PARSE, "NULL err, failure");
        CHECK(fp8q_inc_config_check_vllm(NULL, &e) == FP8Q_ERR_ARG, "vllm NULL");
    }
}

/* ------------------------------------------------------------- file names */

static void test_file_names(void)
{
    fp8q_inc_config c;
    fp8q_error e;
    char small[8];
    CHECK(parse(&c,
                "{\"observer\": \"maxabs_per_channel\", \"scale_method\": \"maxabs_pow2\", \"dump_stats_path\": "
                "\"./out/g2/inc_output\"}",
                &e) == FP8Q_OK,
          "%s", e.message);
    CHECK(strcmp(fname(&c, FP8Q_INC_FILE_MEASURE, 0, 1), "./out/g2/inc_output_hooks_maxabs_per_channel_0_1.json") == 0,
          "%s", fname(&c, FP8Q_INC_FILE_MEASURE, 0, 1));
    CHECK(strcmp(fname(&c, FP8Q_INC_FILE_MEASURE_NPZ, 7, 8), "./out/g2/inc_output_hooks_maxabs_per_channel_7_8.npz") ==
              0,
          "%s", fname(&c, FP8Q_INC_FILE_MEASURE_NPZ, 7, 8));
    CHECK(strcmp(fname(&c, FP8Q_INC_FILE_MOD_LIST, -1, 8),
                 "./out/g2/inc_output_hooks_maxabs_per_channel_mod_list.json") == 0,
          "%s", fname(&c, FP8Q_INC_FILE_MOD_LIST, -1, 8));
    CHECK(strcmp(fname(&c, FP8Q_INC_FILE_SCALE, 2, 4),
                 "./out/g2/inc_output_hooks_maxabs_per_channel_MAXABS_POW2_2_4.json") == 0,
          "%s", fname(&c, FP8Q_INC_FILE_SCALE, 2, 4));
    CHECK(strcmp(fname(&c, FP8Q_INC_FILE_SHAPE, 0, 2), "./out/g2/inc_output_hooks_shape_0_2.json") == 0, "%s",
          fname(&c, FP8Q_INC_FILE_SHAPE, 0, 2));
    CHECK(strcmp(fname(&c, FP8Q_INC_FILE_SHAPE_NPZ, 0, 0), "./out/g2/inc_output_hooks_shape_0_None.npz") == 0, "%s",
          fname(&c, FP8Q_INC_FILE_SHAPE_NPZ, 0, 0));
    CHECK(strcmp(fname(&c, FP8Q_INC_FILE_SCALE_NPZ, 12, 16),
                 "./out/g2/inc_output_hooks_maxabs_per_channel_MAXABS_POW2_12_16.npz") == 0,
          "%s", fname(&c, FP8Q_INC_FILE_SCALE_NPZ, 12, 16));
    CHECK(fp8q_inc_file_name(&c, FP8Q_INC_FILE_MEASURE, 0, 1, small, sizeof small) ==
                  strlen("./out/g2/inc_output_hooks_maxabs_per_channel_0_1.json") &&
              strcmp(small, "./out/g") == 0,
          "truncation: %s", small);
    CHECK(fp8q_inc_file_name(&c, FP8Q_INC_FILE_MEASURE, 0, 1, NULL, 0) ==
              strlen("./out/g2/inc_output_hooks_maxabs_per_channel_0_1.json"),
          "size query");
    CHECK(fp8q_inc_file_name(&c, (fp8q_inc_file)99, 0, 1, small, sizeof small) == 0 && small[0] == 0, "bad kind");
    fp8q_inc_config_free(&c);
    CHECK(fp8q_inc_file_name(&c, FP8Q_INC_FILE_MEASURE, 0, 1, small, sizeof small) == 0 && small[0] == 0, "unparsed");
    CHECK(fp8q_inc_file_name(NULL, FP8Q_INC_FILE_MEASURE, 0, 1, small, sizeof small) == 0, "NULL");
    /* a dict scale_method names the file after the method its default equals */
    CHECK(parse(&c,
                "{\"seperate_measure_files\": \"False\", \"dump_stats_path\": \"/a//b\", \"scale_method\": "
                "{\"default\": {\"weight\": {\"granularity\": \"pcs\", \"scale_value_type\": \"opt\", "
                "\"rounding_method\": \"pow2\"}, \"activation\": {\"rounding_method\": \"pow2\"}}}}",
                &e) == FP8Q_OK,
          "%s", e.message);
    CHECK(strcmp(c.dump_dir, "/a") == 0 && strcmp(c.dump_prefix, "b") == 0, "dirname %s", c.dump_dir);
    CHECK(strcmp(fname(&c, FP8Q_INC_FILE_SCALE, 0, 8),
                 "/a//b_hooks_maxabs_ACT_MAXABS_POW2_WEIGHTS_PCS_OPT_POW2_0_8.json") == 0,
          "%s", fname(&c, FP8Q_INC_FILE_SCALE, 0, 8));
    fp8q_inc_config_free(&c);
}

/* ---------------------------------------------------------- files and env */

static char g_dir[256];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void test_load(void)
{
    char path[512], dir[512];
    fp8q_inc_config c;
    fp8q_error e;
    snprintf(g_dir, sizeof g_dir, "/tmp/fp8q_inc_cfg_test_%ld", (long)getpid());
    mkdir(g_dir, 0700);
    snprintf(path, sizeof path, "%s/quant.json", g_dir);
    write_file(path, "{\"mode\": \"QUANTIZE\", \"scale_method\": \"maxabs_hw\", \"dump_stats_path\": \"x/y\"}");
    CHECK(fp8q_inc_config_load(&c, path, &e) == FP8Q_OK && c.mode_vllm_ok && e.code == 0, "%s", e.message);
    fp8q_inc_config_free(&c);
    snprintf(path, sizeof path, "%s/missing.json", g_dir);
    CHECK(fp8q_inc_config_load(&c, path, &e) == FP8Q_ERR_IO && strstr(e.message, "QUANT PACKAGE: Can't open /tmp/") &&
              strstr(e.message, "missing.json! (no such file)"),
          "%s", e.message);
    CHECK(c.fp8q__owned == NULL, "zeroed");
    snprintf(dir, sizeof dir, "%s/sub.json", g_dir);
    mkdir(dir, 0700);
    CHECK(fp8q_inc_config_load(&c, dir, &e) == FP8Q_ERR_IO && strstr(e.message, "QUANT PACKAGE: Can't open") &&
              strstr(e.message, "sub.json!"),
          "directory: %s", e.message);
    snprintf(path, sizeof path, "%s/bad.json", g_dir);
    write_file(path, "{\"mode\": \"QUANTIZE\"\n \"x\": 1}");
    CHECK(fp8q_inc_config_load(&c, path, &e) == FP8Q_ERR_PARSE &&
              strstr(e.message, "QUANT PACKAGE: Can't load /tmp/") && strstr(e.message, "bad.json! ") &&
              strstr(e.message, "line 2"),
          "%s", e.message);
    snprintf(path, sizeof path, "%s/wrong.json", g_dir);
    write_file(path, "{\"mode\": \"CALIBRATE\"}");
    CHECK(fp8q_inc_config_load(&c, path, &e) == FP8Q_ERR_PARSE && strstr(e.message, "wrong.json: Invalid 'mode'"), "%s",
          e.message);
    CHECK(fp8q_inc_config_load(&c, NULL, &e) == FP8Q_ERR_ARG && fp8q_inc_config_load(NULL, path, &e) == FP8Q_ERR_ARG,
          "NULL");
    /* QUANT_CONFIG */
    unsetenv("QUANT_CONFIG");
    CHECK(fp8q_inc_config_load_env(&c, &e) == FP8Q_ERR_ARG && strstr(e.message, "QUANT_CONFIG is not set"), "%s",
          e.message);
    setenv("QUANT_CONFIG", "", 1);
    CHECK(fp8q_inc_config_load_env(&c, &e) == FP8Q_ERR_ARG && strstr(e.message, "QUANT_CONFIG is empty"), "%s",
          e.message);
    snprintf(path, sizeof path, "%s/quant.json", g_dir);
    setenv("QUANT_CONFIG", path, 1);
    CHECK(fp8q_inc_config_load_env(&c, &e) == FP8Q_OK && c.mode == FP8Q_INC_MODE_QUANTIZE, "%s", e.message);
    fp8q_inc_config_free(&c);
    snprintf(path, sizeof path, "%s/missing.json", g_dir);
    setenv("QUANT_CONFIG", path, 1);
    CHECK(fp8q_inc_config_load_env(&c, &e) == FP8Q_ERR_IO && strstr(e.message, "Can't open"), "%s", e.message);
    unsetenv("QUANT_CONFIG");
}

static void cleanup(void)
{
    char cmd[400];
    if (!g_dir[0]) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) printf("    cleanup of %s failed\n", g_dir);
}

int main(void)
{
    if (shared_data_missing()) {
        printf("skipped: INC configs (../shared/data/inc-configs not found beside the repository)\n");
        g_skipped++;
    } else {
        run_case("shipped configs (INC.md 8)", test_shipped);
    }
    run_case("defaults, free", test_defaults);
    run_case("case rules, vLLM mode check", test_case_rules);
    run_case("null values", test_nulls);
    run_case("raw truthiness", test_truthiness);
    run_case("Python str() of values in messages", test_python_str);
    run_case("scale_format coercions", test_scale_format_coercions);
    run_case("warnings: legacy, misspelt, unknown keys", test_warnings);
    run_case("calibration_sample_interval", test_calibration_interval);
    run_case("whitelist / blacklist aliases", test_aliases);
    run_case("should_quantize on vLLM module names", test_should_quantize);
    run_case("dict scale_method and lookup", test_scale_dict);
    run_case("device_for_scales check", test_device_check);
    run_case("malformed configs", test_errors);
    run_case("file computed for which device", test_file_device);
    run_case("file names", test_file_names);
    run_case("load from file and QUANT_CONFIG", test_load);
    cleanup();
    printf("%d passed, %d failed, %d skipped\n", g_passed, g_failed, g_skipped);
    return g_failed != 0;
}
