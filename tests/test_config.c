/* Tests for fp8q_llama_config_* and fp8q_checkpoint_*. */
#define _POSIX_C_SOURCE 200809L
#define FP8Q_IMPLEMENTATION
#include "../fp8q.h"
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness.h"

static fp8q_result parse_str(fp8q_llama_config *c, const char *s, fp8q_error *e)
{
    return fp8q_llama_config_parse(c, s, strlen(s), e);
}

/* ---------------------------------------------------------------- configs */

static const char *SMOL =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"attention_bias\": false, \"attention_dropout\": 0.0,"
    " \"bos_token_id\": 0, \"eos_token_id\": 0, \"hidden_act\": \"silu\", \"hidden_size\": 576,"
    " \"initializer_range\": 0.041666666666666664, \"intermediate_size\": 1536, \"is_llama_config\": true,"
    " \"max_position_embeddings\": 8192, \"model_type\": \"llama\", \"num_attention_heads\": 9,"
    " \"num_hidden_layers\": 30, \"num_key_value_heads\": 3, \"pretraining_tp\": 1, \"rms_norm_eps\": 1e-05,"
    " \"rope_interleaved\": false, \"rope_scaling\": null, \"rope_theta\": 100000, \"tie_word_embeddings\": true,"
    " \"torch_dtype\": \"bfloat16\", \"transformers_version\": \"4.42.3\", \"use_cache\": true, \"vocab_size\": 49152}";

static const char *TINY =
    "{\n  \"architectures\": [\n    \"LlamaForCausalLM\"\n  ],\n  \"attention_bias\": false,\n  \"bos_token_id\": 1,\n"
    "  \"eos_token_id\": 2,\n  \"hidden_act\": \"silu\",\n  \"hidden_size\": 2048,\n  \"initializer_range\": 0.02,\n"
    "  \"intermediate_size\": 5632,\n  \"max_position_embeddings\": 2048,\n  \"model_type\": \"llama\",\n"
    "  \"num_attention_heads\": 32,\n  \"num_hidden_layers\": 22,\n  \"num_key_value_heads\": 4,\n"
    "  \"pretraining_tp\": 1,\n  \"rms_norm_eps\": 1e-05,\n  \"rope_scaling\": null,\n  \"rope_theta\": 10000.0,\n"
    "  \"tie_word_embeddings\": false,\n  \"torch_dtype\": \"bfloat16\",\n  \"transformers_version\": \"4.35.0\",\n"
    "  \"use_cache\": true,\n  \"vocab_size\": 32000\n}\n";

static const char *L31 =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"attention_bias\": false, \"attention_dropout\": 0.0,"
    " \"bos_token_id\": 128000, \"eos_token_id\": [128001, 128008, 128009], \"hidden_act\": \"silu\","
    " \"hidden_size\": 4096, \"initializer_range\": 0.02, \"intermediate_size\": 14336,"
    " \"max_position_embeddings\": 131072, \"mlp_bias\": false, \"model_type\": \"llama\","
    " \"num_attention_heads\": 32, \"num_hidden_layers\": 32, \"num_key_value_heads\": 8, \"pretraining_tp\": 1,"
    " \"rms_norm_eps\": 1e-05, \"rope_scaling\": {\"factor\": 8.0, \"low_freq_factor\": 1.0,"
    " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192, \"rope_type\": \"llama3\"},"
    " \"rope_theta\": 500000.0, \"tie_word_embeddings\": false, \"torch_dtype\": \"bfloat16\","
    " \"transformers_version\": \"4.43.0.dev0\", \"use_cache\": true, \"vocab_size\": 128256}";

static const char *MISTRAL =
    "{\"architectures\": [\"MistralForCausalLM\"], \"attention_dropout\": 0.0, \"bos_token_id\": 1,"
    " \"eos_token_id\": 2, \"hidden_act\": \"silu\", \"hidden_size\": 4096, \"initializer_range\": 0.02,"
    " \"intermediate_size\": 14336, \"max_position_embeddings\": 32768, \"model_type\": \"mistral\","
    " \"num_attention_heads\": 32, \"num_hidden_layers\": 32, \"num_key_value_heads\": 8, \"rms_norm_eps\": 1e-05,"
    " \"rope_theta\": 1000000.0, \"sliding_window\": null, \"tie_word_embeddings\": false,"
    " \"torch_dtype\": \"bfloat16\", \"transformers_version\": \"4.42.0.dev0\", \"use_cache\": true,"
    " \"vocab_size\": 32768}";

static void test_smollm2(void)
{
    fp8q_llama_config c;
    fp8q_error e;
    fp8q_result r = parse_str(&c, SMOL, &e);
    CHECK(r == FP8Q_OK, "r=%d %s", r, e.message);
    CHECK(strcmp(c.architecture, "LlamaForCausalLM") == 0, "arch %s", c.architecture);
    CHECK(c.hidden_size == 576 && c.intermediate_size == 1536 && c.num_hidden_layers == 30, "sizes");
    CHECK(c.num_attention_heads == 9 && c.num_key_value_heads == 3 && c.head_dim == 64, "heads %d %d %d",
          c.num_attention_heads, c.num_key_value_heads, c.head_dim);
    CHECK(c.vocab_size == 49152 && c.max_position_embeddings == 8192, "vocab");
    CHECK(c.rms_norm_eps == 1e-5 && c.rope_theta == 100000.0, "eps/theta");
    CHECK(c.tie_word_embeddings == 1 && c.rope_llama3 == 0, "tie/rope");
    CHECK(strcmp(c.torch_dtype, "bfloat16") == 0 && c.has_quantization_config == 0, "dtype");
    CHECK(e.code == FP8Q_OK && e.message[0] == 0, "err not cleared");
}

static void test_tinyllama(void)
{
    fp8q_llama_config c;
    fp8q_error e;
    CHECK(parse_str(&c, TINY, &e) == FP8Q_OK, "%s", e.message);
    CHECK(c.hidden_size == 2048 && c.intermediate_size == 5632 && c.num_hidden_layers == 22, "sizes");
    CHECK(c.num_attention_heads == 32 && c.num_key_value_heads == 4 && c.head_dim == 64, "heads");
    CHECK(c.vocab_size == 32000 && c.max_position_embeddings == 2048 && c.rope_theta == 10000.0, "misc");
    CHECK(c.tie_word_embeddings == 0, "tie");
}

static void test_llama31(void)
{
    fp8q_llama_config c;
    fp8q_error e;
    CHECK(parse_str(&c, L31, &e) == FP8Q_OK, "%s", e.message);
    CHECK(c.hidden_size == 4096 && c.intermediate_size == 14336 && c.num_hidden_layers == 32, "sizes");
    CHECK(c.num_attention_heads == 32 && c.num_key_value_heads == 8 && c.head_dim == 128, "GQA");
    CHECK(c.vocab_size == 128256 && c.max_position_embeddings == 131072, "vocab");
    CHECK(c.rope_theta == 500000.0 && c.rms_norm_eps == 1e-5, "theta");
    CHECK(c.rope_llama3 == 1 && c.rope_factor == 8.0 && c.rope_low_freq_factor == 1.0 &&
              c.rope_high_freq_factor == 4.0 && c.rope_original_max_position == 8192,
          "llama3 rope");
}

static void test_mistral(void)
{
    fp8q_llama_config c;
    fp8q_error e;
    CHECK(parse_str(&c, MISTRAL, &e) == FP8Q_OK, "%s", e.message);
    CHECK(strcmp(c.architecture, "MistralForCausalLM") == 0, "arch");
    CHECK(c.num_key_value_heads == 8 && c.head_dim == 128 && c.vocab_size == 32768, "dims");
    CHECK(c.rope_theta == 1000000.0 && c.max_position_embeddings == 32768, "theta");
}

static void test_defaults(void)
{
    fp8q_llama_config c;
    fp8q_error e;
    const char *s = "{\"model_type\": \"llama\", \"hidden_size\": 64, \"intermediate_size\": 128,"
                    " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"vocab_size\": 100,"
                    " \"num_key_value_heads\": null, \"quantization_config\": {\"quant_method\": \"fp8\"},"
                    " \"rope_scaling\": {\"type\": \"default\"}}";
    CHECK(parse_str(&c, s, &e) == FP8Q_OK, "%s", e.message);
    CHECK(strcmp(c.architecture, "LlamaForCausalLM") == 0, "arch from model_type: %s", c.architecture);
    CHECK(c.num_key_value_heads == 4 && c.head_dim == 16, "kv default");
    CHECK(c.rms_norm_eps == 1e-6 && c.rope_theta == 10000.0 && c.max_position_embeddings == 2048, "defaults");
    CHECK(c.tie_word_embeddings == 0 && c.torch_dtype[0] == 0 && c.has_quantization_config == 1, "flags");
    /* explicit head_dim not dividing hidden (Mistral-Nemo style), legacy type llama3, "dtype" key, 4.096e3 */
    s = "{\"model_type\": \"mistral\", \"hidden_size\": 5120, \"intermediate_size\": 1.4336e4,"
        " \"num_hidden_layers\": 40, \"num_attention_heads\": 32, \"num_key_value_heads\": 8, \"head_dim\": 128,"
        " \"vocab_size\": 131072, \"dtype\": \"float16\", \"rope_scaling\": {\"type\": \"llama3\", \"factor\": 2,"
        " \"low_freq_factor\": 1, \"high_freq_factor\": 4, \"original_max_position_embeddings\": 8192}}";
    CHECK(parse_str(&c, s, &e) == FP8Q_OK, "%s", e.message);
    CHECK(c.head_dim == 128 && c.intermediate_size == 14336 && strcmp(c.torch_dtype, "float16") == 0, "nemo");
    CHECK(c.rope_llama3 == 1 && c.rope_factor == 2.0, "legacy type");
}

/* transformers 5 writes "dtype" and "rope_parameters" (which then holds rope_theta) */
static void test_transformers5(void)
{
    fp8q_llama_config c;
    fp8q_error e;
    const char *s = "{\"architectures\": [\"LlamaForCausalLM\"], \"dtype\": \"float32\", \"head_dim\": 8,"
                    " \"hidden_size\": 32, \"intermediate_size\": 48, \"max_position_embeddings\": 64,"
                    " \"model_type\": \"llama\", \"num_attention_heads\": 4, \"num_hidden_layers\": 2,"
                    " \"num_key_value_heads\": 2, \"rms_norm_eps\": 1e-06, \"rope_parameters\": {\"factor\": 8.0,"
                    " \"high_freq_factor\": 4.0, \"low_freq_factor\": 1.0, \"original_max_position_embeddings\": 16,"
                    " \"rope_theta\": 500000.0, \"rope_type\": \"llama3\"}, \"tie_word_embeddings\": false,"
                    " \"transformers_version\": \"5.17.0\", \"vocab_size\": 64}";
    CHECK(parse_str(&c, s, &e) == FP8Q_OK, "%s", e.message);
    CHECK(c.rope_theta == 500000.0 && c.rope_llama3 == 1 && c.rope_factor == 8.0 && c.rope_original_max_position == 16,
          "rope_parameters: theta %g llama3 %d", c.rope_theta, c.rope_llama3);
    CHECK(strcmp(c.torch_dtype, "float32") == 0, "dtype");
    s = "{\"model_type\": \"llama\", \"hidden_size\": 32, \"intermediate_size\": 48, \"num_hidden_layers\": 2,"
        " \"num_attention_heads\": 4, \"vocab_size\": 64, \"rope_parameters\": {\"rope_theta\": 10000.0,"
        " \"rope_type\": \"default\"}}";
    CHECK(parse_str(&c, s, &e) == FP8Q_OK && c.rope_llama3 == 0 && c.rope_theta == 10000.0, "default rope_parameters");
    s = "{\"model_type\": \"llama\", \"hidden_size\": 32, \"intermediate_size\": 48, \"num_hidden_layers\": 2,"
        " \"num_attention_heads\": 4, \"vocab_size\": 64, \"rope_parameters\": {\"rope_type\": \"yarn\"}}";
    CHECK(parse_str(&c, s, &e) == FP8Q_ERR_UNSUPPORTED && strstr(e.message, "rope_parameters type \"yarn\""), "%s",
          e.message);
}

typedef struct bad_case {
    const char *json;
    fp8q_result code;
    const char *frag;
} bad_case;

#define BASE "\"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2, \"vocab_size\": 100"
#define LL   "\"architectures\": [\"LlamaForCausalLM\"], "

static const bad_case BAD[] = {
    {"[1]", FP8Q_ERR_PARSE, "top level must be an object"},
    {"{\"hidden_size\": 1,}", FP8Q_ERR_PARSE, "config.json: "},
    {"{\"rope_theta\": NaN}", FP8Q_ERR_PARSE, "config.json: "},
    {"{" BASE ", \"num_attention_heads\": 4}", FP8Q_ERR_PARSE, "neither 'architectures' nor 'model_type'"},
    {"{\"architectures\": [\"Qwen2ForCausalLM\"], " BASE ", \"num_attention_heads\": 4}", FP8Q_ERR_UNSUPPORTED,
     "architecture \"Qwen2ForCausalLM\" is not supported"},
    {"{\"architectures\": \"LlamaForCausalLM\", " BASE ", \"num_attention_heads\": 4}", FP8Q_ERR_PARSE,
     "'architectures' must be an array"},
    {"{\"architectures\": [], " BASE ", \"num_attention_heads\": 4}", FP8Q_ERR_PARSE, "at least one element"},
    {"{\"model_type\": \"gemma\", " BASE ", \"num_attention_heads\": 4}", FP8Q_ERR_UNSUPPORTED,
     "model_type \"gemma\" is not supported"},
    {"{\"architectures\": [\"MistralForCausalLM\"], \"sliding_window\": 4096, " BASE ", \"num_attention_heads\": 4}",
     FP8Q_ERR_UNSUPPORTED, "'sliding_window' is 4096"},
    {"{" LL BASE ", \"num_attention_heads\": 4, \"num_key_value_heads\": \"8\"}", FP8Q_ERR_PARSE,
     "config.json: 'num_key_value_heads' must be a positive integer, got \"8\""},
    {"{" LL "\"intermediate_size\": 128, \"num_hidden_layers\": 2, \"vocab_size\": 100, \"num_attention_heads\": 4}",
     FP8Q_ERR_PARSE, "missing required key 'hidden_size'"},
    {"{" LL BASE ", \"num_attention_heads\": 0}", FP8Q_ERR_PARSE,
     "'num_attention_heads' must be a positive integer, got 0"},
    {"{" LL BASE ", \"num_attention_heads\": -4}", FP8Q_ERR_PARSE, "got -4"},
    {"{" LL BASE ", \"num_attention_heads\": 4.5}", FP8Q_ERR_PARSE, "got 4.5"},
    {"{" LL BASE ", \"num_attention_heads\": [4]}", FP8Q_ERR_PARSE, "got an array"},
    {"{" LL BASE ", \"num_attention_heads\": 4, \"num_key_value_heads\": 3}", FP8Q_ERR_PARSE,
     "must be a multiple of 'num_key_value_heads' (3)"},
    {"{" LL BASE ", \"num_attention_heads\": 6}", FP8Q_ERR_PARSE, "'hidden_size' (64) is not a multiple"},
    {"{" LL BASE ", \"num_attention_heads\": 4, \"head_dim\": 15}", FP8Q_ERR_PARSE, "must be even"},
    {"{" LL BASE ", \"num_attention_heads\": 4, \"rms_norm_eps\": 0}", FP8Q_ERR_PARSE,
     "'rms_norm_eps' must be a finite positive number, got 0"},
    {"{" LL BASE ", \"num_attention_heads\": 4, \"rope_theta\": 1e999}", FP8Q_ERR_PARSE, "'rope_theta'"},
    {"{" LL BASE ", \"num_attention_heads\": 4, \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4}}",
     FP8Q_ERR_UNSUPPORTED, "rope_scaling type \"yarn\" is not supported"},
    {"{" LL BASE ", \"num_attention_heads\": 4, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8,"
     " \"low_freq_factor\": 1, \"high_freq_factor\": 4}}",
     FP8Q_ERR_PARSE, "rope_scaling: missing required key 'original_max_position_embeddings'"},
    {"{" LL BASE ", \"num_attention_heads\": 4, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": -8,"
     " \"low_freq_factor\": 1, \"high_freq_factor\": 4, \"original_max_position_embeddings\": 8192}}",
     FP8Q_ERR_PARSE, "'factor' must be a finite positive number, got -8"},
    {"{" LL BASE ", \"num_attention_heads\": 4, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8,"
     " \"low_freq_factor\": 4, \"high_freq_factor\": 4, \"original_max_position_embeddings\": 8192}}",
     FP8Q_ERR_PARSE, "greater than 'low_freq_factor'"},
    {"{" LL BASE ", \"num_attention_heads\": 4, \"rope_scaling\": {\"factor\": 8}}", FP8Q_ERR_PARSE, "no 'rope_type'"},
    {"{" LL BASE ", \"num_attention_heads\": 4, \"rope_scaling\": \"llama3\"}", FP8Q_ERR_PARSE,
     "'rope_scaling' must be an object or null"},
    {"{" LL BASE ", \"num_attention_heads\": 4, \"tie_word_embeddings\": 1}", FP8Q_ERR_PARSE,
     "'tie_word_embeddings' must be true or false, got 1"},
    {"{" LL BASE ", \"num_attention_heads\": 4, \"torch_dtype\": \"float64\"}", FP8Q_ERR_UNSUPPORTED,
     "torch_dtype \"float64\""},
    {"{" LL "\"hidden_size\": 2097152, \"intermediate_size\": 128, \"num_hidden_layers\": 2, \"vocab_size\": 100,"
     " \"num_attention_heads\": 4}",
     FP8Q_ERR_LIMIT, "'hidden_size' is above the limit 1048576"},
    {"{" LL "\"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 4097, \"vocab_size\": 100,"
     " \"num_attention_heads\": 4}",
     FP8Q_ERR_LIMIT, "'num_hidden_layers' is above the limit 4096"},
    {"{" LL "\"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2, \"vocab_size\": 4194305,"
     " \"num_attention_heads\": 4}",
     FP8Q_ERR_LIMIT, "'vocab_size' is above the limit 4194304"},
    {"{" LL "\"hidden_size\": 99999999999999999999999, \"intermediate_size\": 128, \"num_hidden_layers\": 2,"
     " \"vocab_size\": 100, \"num_attention_heads\": 4}",
     FP8Q_ERR_LIMIT, "'hidden_size' is above the limit"},
    {"{" LL BASE ", \"num_attention_heads\": 4, \"hidden_size\": 64}", FP8Q_ERR_PARSE, "config.json: "},
};

static void test_malformed(void)
{
    size_t i;
    for (i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        fp8q_llama_config c;
        fp8q_error e;
        fp8q_result r;
        memset(&c, 0x55, sizeof c);
        r = parse_str(&c, BAD[i].json, &e);
        CHECK(r == BAD[i].code && e.code == (int)BAD[i].code, "case %u: code %d, want %d (%s)", (unsigned)i, r,
              BAD[i].code, e.message);
        CHECK(strstr(e.message, BAD[i].frag) != NULL, "case %u: message '%s' lacks '%s'", (unsigned)i, e.message,
              BAD[i].frag);
        CHECK(strncmp(e.message, "config.json: ", 13) == 0, "case %u: prefix '%s'", (unsigned)i, e.message);
        CHECK(c.hidden_size == 0 && c.architecture[0] == 0, "case %u: cfg not zeroed", (unsigned)i);
    }
    CHECK(fp8q_llama_config_parse(NULL, "{}", 2, NULL) == FP8Q_ERR_ARG, "NULL cfg");
    {
        fp8q_llama_config c;
        CHECK(fp8q_llama_config_parse(&c, NULL, 3, NULL) == FP8Q_ERR_ARG, "NULL text");
        CHECK(fp8q_llama_config_parse(&c, NULL, 0, NULL) == FP8Q_ERR_PARSE, "empty text");
    }
}

/* ------------------------------------------------------------ file helpers */

static char g_root[256];

static void mk_root(void)
{
    if (g_root[0]) return;
    snprintf(g_root, sizeof g_root, "/tmp/fp8q_cfg_test_%ld", (long)getpid());
    mkdir(g_root, 0700);
}

static void write_text(const char *path, const char *s)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fputs(s, f);
    fclose(f);
}

static void test_load(void)
{
    char path[512];
    fp8q_llama_config c;
    fp8q_error e;
    mk_root();
    snprintf(path, sizeof path, "%s/config.json", g_root);
    write_text(path, L31);
    CHECK(fp8q_llama_config_load(&c, path, &e) == FP8Q_OK, "%s", e.message);
    CHECK(c.rope_llama3 == 1 && c.vocab_size == 128256, "loaded");
    write_text(path, "{\"model_type\": \"llama\", \"hidden_size\": true}");
    CHECK(fp8q_llama_config_load(&c, path, &e) == FP8Q_ERR_PARSE, "bad file");
    CHECK(strstr(e.message, "config.json: 'hidden_size' must be a positive integer, got true") != NULL &&
              strstr(e.message, "fp8q_cfg_test") != NULL,
          "msg %s", e.message);
    remove(path);
    CHECK(fp8q_llama_config_load(&c, path, &e) == FP8Q_ERR_IO, "missing");
    CHECK(strstr(e.message, "cannot open") != NULL && strstr(e.message, "config.json") != NULL, "msg %s", e.message);
    CHECK(fp8q_llama_config_load(&c, g_root, &e) == FP8Q_ERR_IO, "directory: %s", e.message);
}

/* ------------------------------------------------------------ checkpoints */

static void mk_dir(char *out, size_t cap, const char *name)
{
    mk_root();
    snprintf(out, cap, "%s/%s", g_root, name);
    mkdir(out, 0700);
}

static void put_shard(const char *dir, const char *file, const char *const *names, size_t n)
{
    char path[512];
    fp8q_tensor_out t[4];
    static const float vals[4][2] = {{1.0f, 2.0f}, {3.0f, 4.0f}, {5.0f, 6.0f}, {7.0f, 8.0f}};
    static const uint64_t shape[1] = {2};
    size_t i;
    fp8q_error e;
    for (i = 0; i < n; i++) {
        t[i].name = names[i];
        t[i].dtype = FP8Q_F32;
        t[i].ndim = 1;
        t[i].shape = shape;
        t[i].data = vals[i];
    }
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (fp8q_safetensors_write(path, t, n, NULL, NULL, 0, &e) != FP8Q_OK) printf("    write failed: %s\n", e.message);
}

static void put_index(const char *dir, const char *json)
{
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    write_text(path, json);
}

static const char *const S1[] = {"model.embed_tokens.weight", "model.layers.0.mlp.down_proj.weight"};
static const char *const S2[] = {"lm_head.weight", "model.norm.weight"};
static const char *GOOD_INDEX = "{\"metadata\": {\"total_size\": 32}, \"weight_map\": {"
                                "\"lm_head.weight\": \"model-00002-of-00002.safetensors\","
                                "\"model.embed_tokens.weight\": \"model-00001-of-00002.safetensors\","
                                "\"model.layers.0.mlp.down_proj.weight\": \"model-00001-of-00002.safetensors\","
                                "\"model.norm.weight\": \"model-00002-of-00002.safetensors\"}}";

static void test_sharded(void)
{
    char dir[300];
    fp8q_checkpoint ck;
    fp8q_error e;
    const fp8q_safetensors *f = NULL;
    const fp8q_tensor_info *t;
    float x[2] = {0, 0};
    mk_dir(dir, sizeof dir, "sharded");
    put_shard(dir, "model-00001-of-00002.safetensors", S1, 2);
    put_shard(dir, "model-00002-of-00002.safetensors", S2, 2);
    put_index(dir, GOOD_INDEX);
    CHECK(fp8q_checkpoint_open(&ck, dir, &e) == FP8Q_OK, "%s", e.message);
    CHECK(ck.n_files == 2 && ck.n_tensors == 4, "counts %u %u", (unsigned)ck.n_files, (unsigned)ck.n_tensors);
    t = fp8q_checkpoint_find(&ck, "model.norm.weight", &f);
    CHECK(t && f == &ck.files[1] && strcmp(t->name, "model.norm.weight") == 0, "norm");
    if (t && f) {
        CHECK(fp8q_safetensors_read_f32(f, t, x, &e) == FP8Q_OK && x[0] == 3.0f && x[1] == 4.0f, "norm data");
    }
    t = fp8q_checkpoint_find(&ck, "model.embed_tokens.weight", &f);
    CHECK(t && f == &ck.files[0], "embed");
    if (t && f) {
        CHECK(fp8q_safetensors_read_f32(f, t, x, &e) == FP8Q_OK && x[0] == 1.0f, "embed data");
    }
    CHECK(fp8q_checkpoint_find(&ck, "lm_head.weight", NULL) != NULL, "lm_head");
    CHECK(fp8q_checkpoint_find(&ck, "nope", &f) == NULL && f == NULL, "absent");
    fp8q_checkpoint_close(&ck);
    fp8q_checkpoint_close(&ck);
    CHECK(ck.files == NULL && ck.n_files == 0, "closed");
    /* trailing slash */
    {
        char d2[320];
        snprintf(d2, sizeof d2, "%s/", dir);
        CHECK(fp8q_checkpoint_open(&ck, d2, &e) == FP8Q_OK && ck.n_tensors == 4, "%s", e.message);
        fp8q_checkpoint_close(&ck);
    }
}

static void test_single(void)
{
    char dir[300];
    fp8q_checkpoint ck;
    fp8q_error e;
    const fp8q_safetensors *f = NULL;
    static const char *const names[] = {"b", "a", "c"};
    mk_dir(dir, sizeof dir, "single");
    put_shard(dir, "model.safetensors", names, 3);
    CHECK(fp8q_checkpoint_open(&ck, dir, &e) == FP8Q_OK, "%s", e.message);
    CHECK(ck.n_files == 1 && ck.n_tensors == 3, "counts");
    CHECK(fp8q_checkpoint_find(&ck, "a", &f) != NULL && f == &ck.files[0], "a");
    CHECK(fp8q_checkpoint_find(&ck, "c", NULL) != NULL && fp8q_checkpoint_find(&ck, "d", NULL) == NULL, "c/d");
    fp8q_checkpoint_close(&ck);
    CHECK(fp8q_checkpoint_find(&ck, "a", NULL) == NULL, "after close");
    CHECK(fp8q_checkpoint_find(NULL, "a", NULL) == NULL, "NULL ck");
}

typedef struct ck_bad {
    const char *name;
    const char *index; /* NULL: no index */
    fp8q_result code;
    const char *frag;
} ck_bad;

static void test_hostile(void)
{
    static const ck_bad cases[] = {
        {"nomap", "{\"metadata\": {}}", FP8Q_ERR_PARSE, "no 'weight_map'"},
        {"mapnotobj", "{\"weight_map\": [1]}", FP8Q_ERR_PARSE, "'weight_map' must be an object, got an array"},
        {"emptymap", "{\"weight_map\": {}}", FP8Q_ERR_PARSE, "'weight_map' is empty"},
        {"badjson", "{\"weight_map\": {", FP8Q_ERR_PARSE, "model.safetensors.index.json: "},
        {"valnotstr",
         "{\"weight_map\": {\"model.embed_tokens.weight\": 1, \"model.layers.0.mlp.down_proj.weight\": \"s1\"}}",
         FP8Q_ERR_PARSE, "the shard of tensor \"model.embed_tokens.weight\" must be a string, got 1"},
        {"missingshard",
         "{\"weight_map\": {\"model.embed_tokens.weight\": \"s1\", \"model.layers.0.mlp.down_proj.weight\": \"s1\","
         " \"lm_head.weight\": \"nothere.safetensors\"}}",
         FP8Q_ERR_IO, "nothere.safetensors: cannot open"},
        {"notinshard",
         "{\"weight_map\": {\"model.embed_tokens.weight\": \"s1\", \"model.layers.0.mlp.down_proj.weight\": \"s1\","
         " \"ghost\": \"s1\"}}",
         FP8Q_ERR_PARSE, "tensor 'ghost' is not in its shard 's1'"},
        {"notinmap", "{\"weight_map\": {\"model.embed_tokens.weight\": \"s1\"}}", FP8Q_ERR_PARSE,
         "tensor 'model.layers.0.mlp.down_proj.weight' is in shard 's1' but not in weight_map"},
        {"twoshards",
         "{\"weight_map\": {\"model.embed_tokens.weight\": \"s1\", \"model.layers.0.mlp.down_proj.weight\": \"s1\","
         " \"x\": \"s3\"}}",
         FP8Q_ERR_PARSE, "tensor 'model.embed_tokens.weight' is in shard 's3' but weight_map puts it in 's1'"},
        {"traversal", "{\"weight_map\": {\"a\": \"../x.safetensors\"}}", FP8Q_ERR_PARSE,
         "shard name \"../x.safetensors\" of tensor \"a\" must be a plain file name"},
        {"absolute", "{\"weight_map\": {\"a\": \"/etc/passwd\"}}", FP8Q_ERR_PARSE, "must be a plain file name"},
        {"backslash", "{\"weight_map\": {\"a\": \"..\\\\x\"}}", FP8Q_ERR_PARSE, "must be a plain file name"},
        {"nul", "{\"weight_map\": {\"a\": \"s1\\u0000x\"}}", FP8Q_ERR_PARSE, "must be a plain file name"},
        {"emptyname", "{\"weight_map\": {\"a\": \"\"}}", FP8Q_ERR_PARSE, "empty tensor or shard name"},
        {"empty", NULL, FP8Q_ERR_IO, "no model.safetensors or model.safetensors.index.json in "},
    };
    static const char *const S3[] = {"model.embed_tokens.weight", "x"};
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[300];
        fp8q_checkpoint ck;
        fp8q_error e;
        fp8q_result r;
        mk_dir(dir, sizeof dir, cases[i].name);
        if (cases[i].index) {
            put_shard(dir, "s1", S1, 2);
            put_shard(dir, "s3", S3, 2);
            put_index(dir, cases[i].index);
        }
        memset(&ck, 0x55, sizeof ck);
        r = fp8q_checkpoint_open(&ck, dir, &e);
        CHECK(r == cases[i].code && e.code == (int)cases[i].code, "%s: code %d want %d (%s)", cases[i].name, r,
              cases[i].code, e.message);
        CHECK(strstr(e.message, cases[i].frag) != NULL, "%s: message '%s' lacks '%s'", cases[i].name, e.message,
              cases[i].frag);
        CHECK(ck.files == NULL && ck.n_files == 0 && ck.n_tensors == 0 && ck.fp8q__owned == NULL, "%s: not zeroed",
              cases[i].name);
        if (!cases[i].index) {
            CHECK(strstr(e.message, dir) != NULL, "empty: dir not named: %s", e.message);
        } else if (cases[i].code == FP8Q_ERR_PARSE && strstr(cases[i].frag, "index.json") == NULL) {
            CHECK(strstr(e.message, "model.safetensors.index.json: ") != NULL, "%s: no index path: %s", cases[i].name,
                  e.message);
        }
        fp8q_checkpoint_close(&ck);
    }
    {
        fp8q_checkpoint ck;
        fp8q_error e;
        CHECK(fp8q_checkpoint_open(NULL, "/tmp", &e) == FP8Q_ERR_ARG, "NULL ck");
        CHECK(fp8q_checkpoint_open(&ck, NULL, &e) == FP8Q_ERR_ARG, "NULL dir");
        fp8q_checkpoint_close(NULL);
    }
}

static void cleanup(void)
{
    char cmd[400];
    if (!g_root[0]) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
    if (system(cmd) != 0) printf("    cleanup of %s failed\n", g_root);
}

int main(void)
{
    run_case("config SmolLM2-135M", test_smollm2);
    run_case("config TinyLlama-1.1B", test_tinyllama);
    run_case("config Llama-3.1-8B (llama3 rope)", test_llama31);
    run_case("config Mistral-7B-v0.3", test_mistral);
    run_case("config defaults and variants", test_defaults);
    run_case("config transformers 5 layout (rope_parameters)", test_transformers5);
    run_case("config malformed", test_malformed);
    run_case("config load from file", test_load);
    run_case("checkpoint sharded", test_sharded);
    run_case("checkpoint single file", test_single);
    run_case("checkpoint hostile", test_hostile);
    cleanup();
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed != 0;
}
