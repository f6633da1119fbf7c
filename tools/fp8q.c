/* fp8q - the command-line tool of the fp8q library: inspect, run, quantize
   and synthesize Llama checkpoints.

   Build (from the repository root):
       cc -std=c99 -O2 -I. tools/fp8q.c -o build/fp8q -lm -pthread
   Usage:
       fp8q COMMAND [ARGS...]      fp8q --help lists the commands,
                                   fp8q COMMAND --help describes one.

   Exit status: 0 success; 1 runtime error (a file, the model, the library);
   2 usage error (unknown command or option, missing or bad value). Every
   error is one line on stderr, "fp8q: error: ...". Results go to stdout (or
   to the file named by --out), statistics and progress to stderr.

   Portable C99 plus POSIX where present (stat, mkdir, opendir, isatty,
   getrusage, sysconf); on Windows (mingw) the same with the C runtime's
   equivalents; elsewhere the POSIX-only extras degrade (no progress bar,
   peak RSS "n/a"). No getopt: options are parsed by parse_args below. */
#if !defined(_WIN32)
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* glibc: madvise, so the loader can drop converted pages */
#endif
#endif

#define FP8Q_IMPLEMENTATION
#include "fp8q.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__unix__) || defined(__APPLE__)
#define CLI_POSIX 1
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#elif defined(_WIN32)
#define CLI_WINDOWS 1
#include <direct.h>
#include <io.h>
#include <sys/stat.h>
#include <sys/types.h>
#if defined(__MINGW32__)
#define CLI_DIRENT 1
#include <dirent.h>
#endif
#endif
#if defined(CLI_POSIX)
#define CLI_DIRENT 1
#endif

enum { CLI_OK = 0, CLI_ERR = 1, CLI_USAGE = 2 };

#define CLI_MAX_OPTS    32
#define CLI_MAX_POS     256        /* inc unify: one file per rank */
#define CLI_MAX_THREADS 16         /* default thread count cap */
#define CLI_MAX_CALIB   (1L << 26) /* most calibration tokens */
#define CLI_CALIB_SEED  1234       /* --calib-random's generator seed */
#define CLI_MIB         1048576.0
#define CLI_TOKEN_MAX   2147483647L

/* ================================================================ output */

/* Prints "fp8q: error: MESSAGE" as one line: control characters (from file
   names, option values or library messages) become '?'. */
static void verror(const char *fmt, va_list ap)
{
    char buf[1024];
    char *p;
    (void)vsnprintf(buf, sizeof buf, fmt, ap);
    for (p = buf; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    fflush(stdout);
    fprintf(stderr, "fp8q: error: %s\n", buf);
}

/* A usage error (exit status 2). */
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(fmt, ap);
    va_end(ap);
    return CLI_USAGE;
}

/* A runtime error (exit status 1). */
static int runtime_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(fmt, ap);
    va_end(ap);
    return CLI_ERR;
}

/* A library error: its message, else the result's sentence. */
static int lib_error(fp8q_result r, const fp8q_error *err)
{
    return runtime_error("%s", err->message[0] ? err->message : fp8q_result_string(r));
}

/* s[0, len) in single quotes, shortened to fit buf (for messages). */
static const char *quote_n(char *buf, size_t cap, const char *s, size_t len)
{
    size_t room = cap - 3, keep = len;
    if (keep > room) keep = room > 3 ? room - 3 : 0;
    (void)snprintf(buf, cap, "'%.*s%s'", (int)keep, s, keep < len ? "..." : "");
    return buf;
}

static const char *quote(char *buf, size_t cap, const char *s) { return quote_n(buf, cap, s, strlen(s)); }

/* Decimal digits of v (uint64_t has no portable printf length modifier on
   every C runtime). */
static const char *fmt_u64(char *buf, uint64_t v)
{
    char tmp[24];
    int n = 0, i;
    do tmp[n++] = (char)('0' + v % 10), v /= 10;
    while (v);
    for (i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return buf;
}

static double mib(double bytes) { return bytes / CLI_MIB; }

/* ========================================================= option parsing */

typedef struct cli_opt {
    const char *name;  /* "--tokens" */
    const char *alias; /* "-n", or NULL */
    int has_value;     /* 1: takes a value (--name VALUE or --name=VALUE); 0: a flag */
} cli_opt;

typedef struct cli_parsed cli_parsed;

typedef struct cli_command {
    const char *name;
    const char *summary;
    const char *usage; /* the --help text */
    const cli_opt *opts;
    int n_opts;
    int min_pos, max_pos;   /* positional arguments */
    const char *const *pos; /* their names, for "missing DIR" */
    int (*run)(const cli_parsed *p);
} cli_command;

struct cli_parsed {
    const cli_command *cmd;
    const char *value[CLI_MAX_OPTS]; /* per option: its value ("" for a flag), NULL when absent */
    const char *pos[CLI_MAX_POS];
    int n_pos;
};

/* Parses argv[0, argc) (the arguments after the command name). Returns -1
   when the command should run, 0 after printing --help, CLI_USAGE on an
   error (already printed). The last of repeated options wins; "--" ends the
   options; "-" alone is a positional argument. */
static int parse_args(const cli_command *cmd, int argc, char **argv, cli_parsed *p)
{
    int i, k;
    int options_done = 0;
    char q[128];
    memset(p, 0, sizeof *p);
    p->cmd = cmd;
    for (i = 0; i < argc; i++) {
        const char *a = argv[i], *eq, *value = NULL;
        size_t name_len;
        if (options_done || a[0] != '-' || a[1] == '\0') {
            if (p->n_pos >= cmd->max_pos)
                return usage_error("unexpected argument %s (see fp8q %s --help)", quote(q, sizeof q, a), cmd->name);
            p->pos[p->n_pos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(cmd->usage, stdout);
            return 0;
        }
        eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        name_len = eq ? (size_t)(eq - a) : strlen(a);
        for (k = 0; k < cmd->n_opts; k++) {
            const cli_opt *o = &cmd->opts[k];
            if ((strlen(o->name) == name_len && strncmp(a, o->name, name_len) == 0) ||
                (!eq && o->alias && strcmp(a, o->alias) == 0))
                break;
        }
        if (k == cmd->n_opts)
            return usage_error("unknown option %s for '%s' (see fp8q %s --help)", quote_n(q, sizeof q, a, name_len),
                               cmd->name, cmd->name);
        if (!cmd->opts[k].has_value) {
            if (eq) return usage_error("option %s takes no value", cmd->opts[k].name);
            value = "";
        } else if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return usage_error("option %s needs a value", cmd->opts[k].name);
        }
        p->value[k] = value;
    }
    if (p->n_pos < cmd->min_pos) return usage_error("missing %s (see fp8q %s --help)", cmd->pos[p->n_pos], cmd->name);
    return -1;
}

/* The value of option name ("" for a given flag), or NULL when absent. */
static const char *opt(const cli_parsed *p, const char *name)
{
    int k;
    for (k = 0; k < p->cmd->n_opts; k++)
        if (strcmp(p->cmd->opts[k].name, name) == 0) return p->value[k];
    return NULL;
}

/* ===================================================== value conversion */

/* Integer in [lo, hi]: digits with an optional sign, nothing else. */
static int parse_long(const char *name, const char *s, long lo, long hi, long *out)
{
    char q[128], *end;
    long v;
    errno = 0;
    v = (*s && !isspace((unsigned char)*s)) ? strtol(s, &end, 10) : 0;
    if (!*s || isspace((unsigned char)*s) || *end != '\0' || errno == ERANGE || v < lo || v > hi) {
        usage_error("invalid value %s for %s: expected an integer in [%ld, %ld]", quote(q, sizeof q, s), name, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

static int parse_int(const char *name, const char *s, int lo, int hi, int *out)
{
    long v;
    if (!parse_long(name, s, lo, hi, &v)) return 0;
    *out = (int)v;
    return 1;
}

/* Unsigned 64-bit integer: digits only. */
static int parse_u64(const char *name, const char *s, uint64_t *out)
{
    char q[128], *end;
    unsigned long long v = 0;
    errno = 0;
    if (isdigit((unsigned char)*s)) v = strtoull(s, &end, 10);
    if (!isdigit((unsigned char)*s) || *end != '\0' || errno == ERANGE) {
        usage_error("invalid value %s for %s: expected an integer in [0, 18446744073709551615]", quote(q, sizeof q, s),
                    name);
        return 0;
    }
    *out = (uint64_t)v;
    return 1;
}

/* Finite number in [lo, hi]. */
static int parse_double(const char *name, const char *s, double lo, double hi, double *out)
{
    char q[128], *end;
    double v = 0;
    errno = 0;
    if (*s && !isspace((unsigned char)*s)) v = strtod(s, &end);
    if (!*s || isspace((unsigned char)*s) || *end != '\0' || errno == ERANGE || !(v >= lo && v <= hi)) {
        usage_error("invalid value %s for %s: expected a number in [%g, %g]", quote(q, sizeof q, s), name, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

/* Names of enum values. */
typedef struct cli_name {
    const char *name;
    int value;
} cli_name;

static const cli_name KV_CACHE_NAMES[] = {{"auto", FP8Q_KV_AUTO},     {"e4m3", FP8Q_KV_E4M3},
                                          {"e5m2", FP8Q_KV_E5M2},     {"fp8", FP8Q_KV_E4M3},
                                          {"fp8_e4m3", FP8Q_KV_E4M3}, {"fp8_e5m2", FP8Q_KV_E5M2}};
static const cli_name ENGINE_NAMES[] = {{"vllm", FP8Q_ENGINE_VLLM},
                                        {"compressed-tensors", FP8Q_ENGINE_COMPRESSED_TENSORS}};
static const cli_name GEMM_NAMES[] = {
    {"reference", FP8Q_GEMM_REFERENCE}, {"exact", FP8Q_GEMM_EXACT}, {"fast", FP8Q_GEMM_FAST}};
static const cli_name SCHEME_NAMES[] = {{"fp8-dynamic", FP8Q_CT_FP8_DYNAMIC}, {"fp8", FP8Q_CT_FP8}};
static const cli_name DTYPE_NAMES[] = {{"bf16", FP8Q_BF16}, {"f16", FP8Q_F16}, {"f32", FP8Q_F32}};
#define COUNT(a) (int)(sizeof(a) / sizeof((a)[0]))

/* "a, b, c" from the names of a table (or of the quant modes when t is NULL). */
static const char *name_list(char *buf, size_t cap, const cli_name *t, int n)
{
    int i;
    const char *s;
    size_t len = 0;
    buf[0] = '\0';
    for (i = 0; t ? i < n : (fp8q_quant_name((fp8q_quant)i) != NULL); i++) {
        s = t ? t[i].name : fp8q_quant_name((fp8q_quant)i);
        len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "%s%s", i ? ", " : "", s);
        if (len >= cap) break;
    }
    return buf;
}

/* The value of name s in t into *out; 0 when t has no s (nothing printed). */
static int find_name(const char *s, const cli_name *t, int n, int *out)
{
    int i;
    for (i = 0; i < n; i++)
        if (strcmp(s, t[i].name) == 0) {
            *out = t[i].value;
            return 1;
        }
    return 0;
}

static int parse_name(const char *name, const char *s, const cli_name *t, int n, int *out)
{
    char q[128], list[256];
    if (find_name(s, t, n, out)) return 1;
    usage_error("invalid value %s for %s: expected one of %s", quote(q, sizeof q, s), name,
                name_list(list, sizeof list, t, n));
    return 0;
}

static int parse_quant(const char *s, fp8q_quant *out)
{
    char q[128], list[256];
    if (fp8q_quant_from_name(s, out)) return 1;
    usage_error("invalid value %s for --quant: expected one of %s", quote(q, sizeof q, s),
                name_list(list, sizeof list, NULL, 0));
    return 0;
}

/* Items of a comma-separated list, each non-empty: returns the count (>= 1)
   and sets item[i], len[i] for i < max; 0 after an error naming the item. */
static int split_list(const char *name, const char *s, const char **item, size_t *len, int max)
{
    char q[128];
    int n = 0;
    const char *p = s, *end;
    if (!*s) {
        usage_error("%s: the list is empty", name);
        return 0;
    }
    for (;;) {
        end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        if (end == p) {
            usage_error("%s: item %d is empty in %s", name, n + 1, quote(q, sizeof q, s));
            return 0;
        }
        if (n < max) item[n] = p, len[n] = (size_t)(end - p);
        if (n == INT_MAX - 1) {
            usage_error("%s: too many items", name);
            return 0;
        }
        n++;
        if (!*end) return n;
        p = end + 1;
    }
}

/* A token list "ID,ID,...": ids in [0, 2^31). *out is malloc'ed. */
static int parse_tokens(const char *name, const char *s, int32_t **out, int *n_out)
{
    char q[128], *end;
    const char *item;
    size_t len;
    int n, i;
    long v;
    if (!(n = split_list(name, s, NULL, NULL, 0))) return 0;
    if (!(*out = (int32_t *)malloc((size_t)n * sizeof **out))) {
        runtime_error("out of memory");
        return 0;
    }
    for (i = 0, item = s; i < n; i++, item += len + 1) {
        len = strcspn(item, ",");
        errno = 0;
        v = isdigit((unsigned char)item[0]) ? strtol(item, &end, 10) : -1;
        if (v < 0 || end != item + len || errno == ERANGE || v > CLI_TOKEN_MAX) {
            usage_error("%s: item %d %s is not a token id (an integer in [0, 2147483647])", name, i + 1,
                        quote_n(q, sizeof q, item, len));
            free(*out);
            *out = NULL;
            return 0;
        }
        (*out)[i] = (int32_t)v;
    }
    *n_out = n;
    return 1;
}

/* ============================================================== system */

static double now_seconds(void)
{
#if defined(CLI_POSIX) && defined(CLOCK_MONOTONIC)
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0) return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
#endif
    return (double)clock() / CLOCKS_PER_SEC;
}

/* Online CPUs, capped at CLI_MAX_THREADS. */
static int default_threads(void)
{
    long n = 1;
#if defined(CLI_POSIX) && defined(_SC_NPROCESSORS_ONLN)
    n = sysconf(_SC_NPROCESSORS_ONLN);
#elif defined(CLI_WINDOWS)
    const char *s = getenv("NUMBER_OF_PROCESSORS");
    n = s ? strtol(s, NULL, 10) : 1;
#endif
    return n < 1 ? 1 : n > CLI_MAX_THREADS ? CLI_MAX_THREADS : (int)n;
}

/* Peak resident memory "12.3 MiB", or "n/a". */
static const char *peak_rss(char *buf, size_t cap)
{
#if defined(CLI_POSIX) && (defined(__linux__) || defined(__APPLE__))
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
#if defined(__APPLE__)
        double bytes = (double)ru.ru_maxrss; /* bytes on macOS */
#else
        double bytes = (double)ru.ru_maxrss * 1024.0; /* KiB on Linux */
#endif
        (void)snprintf(buf, cap, "%.1f MiB", mib(bytes));
        return buf;
    }
#endif
    (void)snprintf(buf, cap, "n/a");
    return buf;
}

static int stderr_is_terminal(void)
{
#if defined(CLI_POSIX)
    return isatty(fileno(stderr));
#elif defined(CLI_WINDOWS)
    return _isatty(_fileno(stderr));
#else
    return 0;
#endif
}

/* dir + "/" + name, malloc'ed (NULL when out of memory). */
static char *join_path(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *s = (char *)malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, dir, a);
    s[a] = '/';
    memcpy(s + a + 1, name, b + 1);
    return s;
}

/* 1 if something (a file, a directory, a device) exists at path. */
static int path_exists(const char *path)
{
#if defined(CLI_POSIX) || defined(CLI_WINDOWS)
    struct stat sb;
    return stat(path, &sb) == 0;
#else
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
#endif
}

/* mkdir; -1 where the system has none. */
static int make_dir(const char *path)
{
#if defined(CLI_POSIX)
    return mkdir(path, 0777);
#elif defined(CLI_WINDOWS)
    return _mkdir(path);
#else
    (void)path;
    return -1;
#endif
}

/* Makes path a new, empty directory for a command's output: it may exist
   as an empty directory. *created says whether this call made it (so a
   failed command can remove it again with remove_dir). */
static int prepare_out_dir(const char *path, int *created)
{
    char q[256];
    *created = 0;
#if defined(CLI_DIRENT)
    {
        struct stat sb;
        if (stat(path, &sb) == 0) {
            DIR *d;
            struct dirent *e;
            int empty = 1;
            if (!S_ISDIR(sb.st_mode))
                return runtime_error("%s exists and is not a directory", quote(q, sizeof q, path));
            if (!(d = opendir(path))) return runtime_error("%s: %s", quote(q, sizeof q, path), strerror(errno));
            while ((e = readdir(d)) != NULL)
                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) empty = 0;
            closedir(d);
            if (!empty) return runtime_error("%s exists and is not empty", quote(q, sizeof q, path));
            return CLI_OK;
        }
    }
#endif
    errno = 0;
    if (make_dir(path) != 0)
        return runtime_error("cannot create directory %s: %s", quote(q, sizeof q, path),
                             errno ? strerror(errno) : "not supported on this system");
    *created = 1;
    return CLI_OK;
}

/* Removes the directory path if it is empty (after a failed command). */
static void remove_dir(const char *path)
{
#if defined(CLI_POSIX)
    (void)rmdir(path);
#elif defined(CLI_WINDOWS)
    (void)_rmdir(path);
#else
    (void)path;
#endif
}

/* ============================================================ run options */

/* Where the forward runs: --device cpu (the default), cuda or cuda:N. */
typedef struct run_device {
    int cuda;              /* 1: on CUDA device ordinal */
    int ordinal;           /* N of cuda:N (0 for cuda) */
    fp8q_backend *backend; /* open_device's backend, or NULL (the CPU) */
} run_device;

/* Options shared by generate, logits and perplexity (chat: some of them). */
typedef struct run_opts {
    fp8q_model_options model;
    int stats;
    int32_t *tokens;
    int n_tokens;
    const char *inc_config, *inc_measurements; /* INC QUANTIZE (--inc-config, --inc-measurements, --device) */
    int device;
    int allow_other_device; /* --allow-other-device */
    const char *trace;      /* --trace FILE, or NULL */
    const char *prompt;     /* --prompt TEXT (generate), tokenized with the model's tokenizer */
    int chat;               /* --chat: the prompt goes through the model's chat template */
    int trace_weights;      /* --trace-weights */
    run_device on;          /* --device cpu|cuda[:N] */
} run_opts;

static const cli_name DEVICES[] = {{"gaudi2", FP8Q_GAUDI2}, {"gaudi3", FP8Q_GAUDI3}};

/* Reads s as a forward device (cpu, cuda, or cuda:N with N a non-negative
   int) into d; 0 when s is none of them (nothing printed). */
static int forward_device_from_name(const char *s, run_device *d)
{
    char *end;
    long n;
    memset(d, 0, sizeof *d);
    if (strcmp(s, "cpu") == 0) return 1;
    if (strncmp(s, "cuda", 4) != 0 || (s[4] != '\0' && (s[4] != ':' || !isdigit((unsigned char)s[5])))) return 0;
    if (s[4] == '\0') return d->cuda = 1;
    errno = 0;
    n = strtol(s + 5, &end, 10);
    if (*end != '\0' || errno == ERANGE || n > INT_MAX) return 0;
    d->cuda = 1, d->ordinal = (int)n;
    return 1;
}

/* The usage error for a --device value that names no device; with_inc: the
   command also takes INC's Gaudi devices. */
static int bad_device(const char *s, int with_inc)
{
    char q[128], list[64];
    return usage_error("invalid value %s for --device: expected cpu, cuda or cuda:N (N >= 0)%s%s",
                       quote(q, sizeof q, s), with_inc ? ", or with --inc-config one of " : "",
                       with_inc ? name_list(list, sizeof list, DEVICES, COUNT(DEVICES)) : "");
}

/* --device of generate, logits and perplexity: where the forward runs
   (r->on), or with --inc-config the Gaudi whose FP8 numerics INC uses
   (*inc_device, else NULL). */
static int parse_device_opt(const cli_parsed *p, run_opts *r, const char **inc_device)
{
    const char *v = opt(p, "--device");
    char q[128], list[64];
    int x;
    *inc_device = NULL;
    if (!v) return CLI_OK;
    if (forward_device_from_name(v, &r->on)) {
        if (r->inc_config || r->inc_measurements)
            return usage_error("--device %s with --inc-config: INC's --device names the Gaudi whose FP8 numerics "
                               "to use (%s)",
                               quote(q, sizeof q, v), name_list(list, sizeof list, DEVICES, COUNT(DEVICES)));
        if (r->on.cuda && r->trace)
            return usage_error("--trace needs the CPU: a --device %s forward has no observers", quote(q, sizeof q, v));
        return CLI_OK;
    }
    if (!find_name(v, DEVICES, COUNT(DEVICES), &x)) return bad_device(v, 1);
    *inc_device = v;
    return CLI_OK;
}

/* The model options every model command shares: --quant, --kv-cache,
   --engine, --gemm, --threads (a command without one of them never sees it
   set), over the CLI's defaults (FAST GEMMs, all cores). */
static int parse_model_opts(const cli_parsed *p, fp8q_model_options *mo)
{
    const char *v;
    int x = 0;
    memset(mo, 0, sizeof *mo);
    mo->quant = FP8Q_QUANT_AUTO, mo->kv_cache = FP8Q_KV_AUTO, mo->engine = FP8Q_ENGINE_VLLM;
    mo->gemm = FP8Q_GEMM_FAST, mo->threads = default_threads();
    if ((v = opt(p, "--quant")) && !parse_quant(v, &mo->quant)) return CLI_USAGE;
    if ((v = opt(p, "--kv-cache"))) {
        if (!parse_name("--kv-cache", v, KV_CACHE_NAMES, COUNT(KV_CACHE_NAMES), &x)) return CLI_USAGE;
        mo->kv_cache = (fp8q_kv_cache)x;
    }
    if ((v = opt(p, "--engine"))) {
        if (!parse_name("--engine", v, ENGINE_NAMES, COUNT(ENGINE_NAMES), &x)) return CLI_USAGE;
        mo->engine = (fp8q_engine)x;
    }
    if ((v = opt(p, "--gemm"))) {
        if (!parse_name("--gemm", v, GEMM_NAMES, COUNT(GEMM_NAMES), &x)) return CLI_USAGE;
        mo->gemm = (fp8q_gemm_mode)x;
    }
    if ((v = opt(p, "--threads")) && !parse_int("--threads", v, 1, 1024, &mo->threads)) return CLI_USAGE;
    return CLI_OK;
}

static int parse_run_opts(const cli_parsed *p, run_opts *r)
{
    const char *v;
    int rc;
    memset(r, 0, sizeof *r);
    r->stats = opt(p, "--stats") != NULL;
    if ((rc = parse_model_opts(p, &r->model)) != CLI_OK) return rc;
    r->trace = opt(p, "--trace"), r->trace_weights = opt(p, "--trace-weights") != NULL;
    if (r->trace_weights && !r->trace) return usage_error("--trace-weights needs --trace FILE");
    if (r->trace && !*r->trace) return usage_error("--trace: the file name is empty");
    r->inc_config = opt(p, "--inc-config"), r->inc_measurements = opt(p, "--inc-measurements");
    if ((rc = parse_device_opt(p, r, &v)) != CLI_OK) return rc;
    if (r->inc_config || r->inc_measurements || v) {
        if (!r->inc_config || !v)
            return usage_error("INC needs --inc-config and --device together (and --inc-measurements unless the "
                               "method needs none)");
        if (!parse_name("--device", v, DEVICES, COUNT(DEVICES), &r->device)) return CLI_USAGE;
        r->allow_other_device = opt(p, "--allow-other-device") != NULL;
        if (r->model.quant != FP8Q_QUANT_AUTO && r->model.quant != FP8Q_QUANT_NONE)
            return usage_error("--inc-config runs INC's own quantization: leave out --quant");
        if (r->model.kv_cache != FP8Q_KV_AUTO)
            return usage_error("--inc-config sets the KV cache (fp8_inc): leave out --kv-cache");
        r->model.quant = FP8Q_QUANT_NONE;
    }
    if (strcmp(p->cmd->name, "perplexity") == 0) return CLI_OK; /* its tokens come from --text */
    r->prompt = opt(p, "--prompt"), r->chat = opt(p, "--chat") != NULL;
    if (r->chat && !r->prompt) return usage_error("--chat needs --prompt TEXT");
    if (r->prompt) return opt(p, "--tokens") ? usage_error("give --tokens or --prompt, not both") : CLI_OK;
    if (!(v = opt(p, "--tokens")))
        return usage_error("missing --tokens%s (see fp8q %s --help)",
                           strcmp(p->cmd->name, "generate") == 0 ? " or --prompt" : "", p->cmd->name);
    return parse_tokens("--tokens", v, &r->tokens, &r->n_tokens) ? CLI_OK : CLI_USAGE;
}

/* ---- GGUF files: imported into a temporary Hugging Face layout, loaded, deleted */

static int is_gguf_path(const char *path)
{
    size_t n = strlen(path);
    return n > 5 && (strcmp(path + n - 5, ".gguf") == 0 || strcmp(path + n - 5, ".GGUF") == 0);
}

/* A new private directory under $TMPDIR (or /tmp; %TEMP% on Windows). */
static int make_temp_dir(char *buf, size_t cap)
{
#if defined(CLI_POSIX)
    const char *t = getenv("TMPDIR");
    (void)snprintf(buf, cap, "%s/fp8q-gguf-XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(buf) ? 0 : -1;
#elif defined(CLI_WINDOWS)
    static unsigned serial;
    const char *t = getenv("TEMP");
    (void)snprintf(buf, cap, "%s\\fp8q-gguf-%lu-%u", t && *t ? t : ".", (unsigned long)time(NULL), serial++);
    return make_dir(buf);
#else
    (void)buf, (void)cap;
    return -1;
#endif
}

static void remove_import(const char *dir)
{
    static const char *const files[] = {"config.json", "model.safetensors"};
    char path[1200];
    int i;
    for (i = 0; i < COUNT(files); i++) {
        (void)snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        (void)remove(path);
    }
    remove_dir(dir);
}

/* Loads a checkpoint directory, or a GGUF file through fp8q_gguf_to_hf (Q/K
   rows un-permuted) into a temporary directory: float32 for a float run,
   bfloat16 for the FP8 modes, which quantize a BF16 checkpoint as vLLM does
   (and need half the memory while loading). */
static int load_model(const char *path, const fp8q_model_options *mo, fp8q_model *m)
{
    fp8q_error err;
    fp8q_result r;
    char tmp[1024], q[256];
    if (!is_gguf_path(path)) {
        r = fp8q_model_load(m, path, mo, &err);
        return r == FP8Q_OK ? CLI_OK : lib_error(r, &err);
    }
    errno = 0;
    if (make_temp_dir(tmp, sizeof tmp) != 0)
        return runtime_error("cannot create a temporary directory to import %s: %s", quote(q, sizeof q, path),
                             errno ? strerror(errno) : "not supported on this system");
    r = fp8q_gguf_to_hf(path, tmp, mo->quant == FP8Q_QUANT_AUTO || mo->quant == FP8Q_QUANT_NONE ? FP8Q_F32 : FP8Q_BF16,
                        &err);
    if (r == FP8Q_OK) r = fp8q_model_load(m, tmp, mo, &err);
    remove_import(tmp);
    return r == FP8Q_OK ? CLI_OK : lib_error(r, &err);
}

static int load_run_model(const char *dir, const run_opts *r, fp8q_model *m); /* with INC, if asked */

/* ---- text: the model's tokenizer (GGUF metadata, or DIR/tokenizer.json) */

static int load_tokenizer(const char *path, fp8q_tokenizer **tok)
{
    fp8q_error err;
    fp8q_result r;
    char file[1200];
    if (is_gguf_path(path)) {
        fp8q_gguf g;
        memset(&g, 0, sizeof g);
        if ((r = fp8q_gguf_open(&g, path, &err)) == FP8Q_OK) r = fp8q_gguf_tokenizer(&g, tok, &err);
        fp8q_gguf_close(&g);
    } else {
        size_t n = strlen(path);
        (void)snprintf(file, sizeof file, n > 5 && strcmp(path + n - 5, ".json") == 0 ? "%s" : "%s/tokenizer.json",
                       path);
        r = fp8q_tokenizer_load_json(tok, file, &err);
    }
    return r == FP8Q_OK ? CLI_OK : lib_error(r, &err);
}

/* r->tokens from r->prompt (through the chat template with --chat), with the
   tokenizer's special tokens (BOS where the model adds one). */
static int tokenize_prompt(run_opts *r, const fp8q_tokenizer *tok)
{
    fp8q_error err;
    fp8q_result res;
    size_t cap = strlen(r->prompt) + 4096, len = 0, n = 0;
    char *text = (char *)malloc(cap);
    const char *src = r->prompt;
    int rc = CLI_ERR;
    if (!text) return runtime_error("out of memory");
    if (r->chat) {
        if ((res = fp8q_tokenizer_chat(tok, NULL, r->prompt, text, cap, &len, &err)) != FP8Q_OK) {
            rc = lib_error(res, &err);
            goto out;
        }
        src = text;
    } else
        len = strlen(src);
    res = fp8q_tokenizer_encode(tok, src, len, FP8Q_TOK_ADD_SPECIAL | FP8Q_TOK_PARSE_SPECIAL, NULL, 0, &n, &err);
    if (res != FP8Q_OK && res != FP8Q_ERR_LIMIT) {
        rc = lib_error(res, &err);
        goto out;
    }
    if (n == 0 || n > INT_MAX || !(r->tokens = (int32_t *)malloc(n * sizeof *r->tokens))) {
        rc = n == 0 ? usage_error("--prompt: the text gives no tokens") : runtime_error("out of memory");
        goto out;
    }
    if ((res = fp8q_tokenizer_encode(tok, src, len, FP8Q_TOK_ADD_SPECIAL | FP8Q_TOK_PARSE_SPECIAL, r->tokens, n, &n,
                                     &err)) != FP8Q_OK) {
        rc = lib_error(res, &err);
        goto out;
    }
    r->n_tokens = (int)n;
    rc = CLI_OK;
out:
    free(text);
    return rc;
}

/* The ids that end a reply: EOS and the chat templates' end-of-turn tokens. */
static int stop_tokens(const fp8q_tokenizer *tok, int32_t *stop)
{
    static const char *const ends[] = {"<|im_end|>", "<|eot_id|>", "<|end|>", "</s>", "<|endoftext|>"};
    int n = 0, i;
    int32_t id;
    if (!tok) return 0;
    if ((id = fp8q_tokenizer_eos(tok)) >= 0) stop[n++] = id;
    for (i = 0; i < COUNT(ends); i++)
        if ((id = fp8q_tokenizer_find(tok, ends[i])) >= 0) stop[n++] = id;
    return n;
}

static int is_stop(int32_t id, const int32_t *stop, int n_stop)
{
    int i;
    for (i = 0; i < n_stop; i++)
        if (stop[i] == id) return 1;
    return 0;
}

/* Writes one token: its text with a tokenizer, else its id (comma-separated). */
static void print_token(const fp8q_tokenizer *tok, int32_t id, int first)
{
    char piece[256];
    size_t n;
    if (!tok) {
        printf("%s%ld", first ? "" : ",", (long)id);
        return;
    }
    n = fp8q_tokenizer_piece(tok, id, piece, sizeof piece);
    fwrite(piece, 1, n < sizeof piece ? n : sizeof piece - 1, stdout);
    fflush(stdout);
}

/* Token ids inside the vocabulary and count within max positions. */
static int check_tokens(const run_opts *r, const fp8q_llama_config *c)
{
    int i;
    for (i = 0; i < r->n_tokens; i++)
        if (r->tokens[i] >= c->vocab_size)
            return usage_error("--tokens: item %d (%ld) is outside the vocabulary [0, %d)", i + 1, (long)r->tokens[i],
                               c->vocab_size);
    if (r->n_tokens > c->max_position_embeddings)
        return usage_error("--tokens: %d tokens exceed the model's max_position_embeddings (%d)", r->n_tokens,
                           c->max_position_embeddings);
    return CLI_OK;
}

/* The loader's warnings, one a line, keys padded to width. */
static void print_warnings(const fp8q_model *m, FILE *f, int width)
{
    const char *s = m->warnings, *nl;
    if (!*s) fprintf(f, "%-*s none\n", width, "warnings:");
    while (*s) {
        nl = strchr(s, '\n');
        if (!nl) nl = s + strlen(s);
        fprintf(f, "%-*s %.*s\n", width, "warning:", (int)(nl - s), s);
        s = *nl ? nl + 1 : nl;
    }
}

/* "N tokens in T s (R tokens/s)". */
static void print_rate(const char *what, int n, double seconds)
{
    if (n > 0 && seconds > 0)
        fprintf(stderr, "%-11s %d tokens in %.4f s (%.1f tokens/s)\n", what, n, seconds, n / seconds);
    else
        fprintf(stderr, "%-11s %d tokens (n/a tokens/s)\n", what, n);
}

/* =============================================================== device */

/* Opens d's backend for --device cuda[:N] (nothing for the CPU). Without
   FP8Q_WITH_CUDA (fp8q_cuda.o not linked) cuda is a runtime error; so is a
   missing device: the user asked for the GPU, so there is no fallback. */
static int open_device(run_device *d)
{
#if defined(FP8Q_WITH_CUDA)
    fp8q_error err;
    fp8q_result r;
    d->backend = NULL;
    if (!d->cuda) return CLI_OK;
    if ((r = fp8q_cuda_open(&d->backend, d->ordinal, &err)) != FP8Q_OK) {
        d->backend = NULL;
        return lib_error(r, &err);
    }
    return CLI_OK;
#else
    d->backend = NULL;
    return d->cuda ? runtime_error("this fp8q was built without CUDA: rebuild with make CUDA=1") : CLI_OK;
#endif
}

/* fp8q_state_init with the forward on d's backend (open_device first); a
   model the backend declines runs on the CPU after a warning. Free s with
   fp8q_state_free before closing the backend. */
static int init_state(fp8q_state *s, const fp8q_model *m, const run_device *d, int max_seq, int max_batch)
{
    fp8q_backend_kind ran;
    fp8q_error err;
    fp8q_result r = fp8q_state_init_backend(s, m, d->backend, max_seq, max_batch, &ran, &err);
    if (r != FP8Q_OK) return lib_error(r, &err);
    if (d->backend && ran == FP8Q_BACKEND_CPU)
        fprintf(stderr, "warning: the CUDA backend does not run this model (%s); running on the CPU\n",
                err.message[0] ? err.message : "no reason given");
    return CLI_OK;
}

/* "backend:    cuda (NVIDIA H100 80GB HBM3)" or "backend:    cpu": where
   s's forward runs. */
static void print_backend(FILE *f, const fp8q_state *s, const run_device *d)
{
    fp8q_backend_kind k = fp8q_state_backend(s);
    if (k != FP8Q_BACKEND_CPU && d->backend)
        fprintf(f, "backend:    %s (%s)\n", fp8q_backend_kind_name(k), d->backend->device);
    else
        fprintf(f, "backend:    %s\n", fp8q_backend_kind_name(FP8Q_BACKEND_CPU));
}

/* ================================================================ trace */

/* --trace FILE: records every module of every forward call (fp8q_trace). */
static int trace_begin(const run_opts *r, const fp8q_model *m, fp8q_state *s, fp8q_trace *t)
{
    fp8q_trace_options to;
    fp8q_error err;
    fp8q_result res;
    if (!r->trace) return CLI_OK;
    memset(&to, 0, sizeof to);
    to.weights = r->trace_weights;
    if ((res = fp8q_trace_init(t, m, &to, &err)) != FP8Q_OK) return lib_error(res, &err);
    s->observer = fp8q_trace_observe, s->observer_ctx = t;
    return CLI_OK;
}

/* "1,2,3", malloc'ed (NULL when out of memory). */
static char *token_list(const int32_t *ids, int n)
{
    char *buf = (char *)malloc((size_t)n * 12 + 1);
    size_t len = 0;
    int i;
    if (!buf) return NULL;
    buf[0] = '\0';
    for (i = 0; i < n; i++) len += (size_t)sprintf(buf + len, "%s%ld", i ? "," : "", (long)ids[i]);
    return buf;
}

/* Writes the trace with the run's metadata: command, checkpoint, tokens (the
   prompt), and generate's generated ids or logits' batch. */
static int trace_finish(const cli_parsed *p, const run_opts *r, const fp8q_trace *t, const char *extra_key,
                        const char *extra_value)
{
    const char *keys[4], *values[4];
    char *tokens;
    fp8q_error err;
    fp8q_result res;
    if (!r->trace) return CLI_OK;
    if (!(tokens = token_list(r->tokens, r->n_tokens))) return runtime_error("out of memory");
    keys[0] = "command", values[0] = p->cmd->name;
    keys[1] = "checkpoint", values[1] = p->pos[0];
    keys[2] = "tokens", values[2] = tokens;
    keys[3] = extra_key, values[3] = extra_value;
    res = fp8q_trace_write(t, r->trace, keys, values, 4, &err);
    free(tokens);
    if (res != FP8Q_OK) return lib_error(res, &err);
    fprintf(stderr, "trace: %lu tensors, %.1f MiB, %d forward call%s -> %s\n", (unsigned long)t->n_tensors,
            mib((double)t->bytes), t->steps, t->steps == 1 ? "" : "s", r->trace);
    return CLI_OK;
}

/* ================================================================= info */

static const char USAGE_INFO[] = "usage: fp8q info DIR [--no-load]\n"
                                 "\n"
                                 "Describes the checkpoint in DIR (config.json and model.safetensors or a\n"
                                 "sharded index): the model's shape, RoPE, dtypes, tensors by dtype,\n"
                                 "parameter count, the quantization scheme as the loader reads it\n"
                                 "(loading the model with quant auto), whether KV-cache scales are present\n"
                                 "and the estimated weight memory in float32 and FP8 (linear weights of\n"
                                 "the layers at 1 byte, everything else in the checkpoint's float type).\n"
                                 "\n"
                                 "  --no-load   skip loading the model (no scheme, loaded size or warnings)\n";

/* Per-dtype totals of a checkpoint and the counts info derives from them. */
typedef struct ck_summary {
    uint64_t count[32], numel[32], bytes[32]; /* by fp8q_dtype */
    uint64_t params, linear_params, tensors, files;
    int has_kv_scales;
    fp8q_dtype embed_dtype;
} ck_summary;

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void summarize_checkpoint(const fp8q_checkpoint *ck, ck_summary *sum)
{
    size_t f, i;
    const fp8q_tensor_info *e;
    memset(sum, 0, sizeof *sum);
    sum->files = (uint64_t)ck->n_files;
    sum->embed_dtype = FP8Q_F32;
    if ((e = fp8q_checkpoint_find(ck, "model.embed_tokens.weight", NULL)) != NULL) sum->embed_dtype = e->dtype;
    for (f = 0; f < ck->n_files; f++)
        for (i = 0; i < ck->files[f].n_tensors; i++) {
            const fp8q_tensor_info *t = &ck->files[f].tensors[i];
            unsigned d = (unsigned)t->dtype < 32 ? (unsigned)t->dtype : 31;
            sum->count[d]++, sum->numel[d] += t->numel, sum->bytes[d] += t->size, sum->tensors++;
            if (ends_with(t->name, "self_attn.k_scale") || ends_with(t->name, "self_attn.v_scale") ||
                ends_with(t->name, "self_attn.kv_scale") || ends_with(t->name, "k_proj.output_scale") ||
                ends_with(t->name, "v_proj.output_scale"))
                sum->has_kv_scales = 1;
            if (ends_with(t->name, "_scale") || ends_with(t->name, "_zero_point") || ends_with(t->name, "inv_freq"))
                continue; /* quantization metadata and buffers, not parameters */
            sum->params += t->numel;
            if (strncmp(t->name, "model.layers.", 13) == 0 && ends_with(t->name, "_proj.weight"))
                sum->linear_params += t->numel;
        }
}

static void print_config(const fp8q_llama_config *c)
{
    printf("architecture:         %s\n", c->architecture);
    printf("hidden_size:          %d\n", c->hidden_size);
    printf("intermediate_size:    %d\n", c->intermediate_size);
    printf("layers:               %d\n", c->num_hidden_layers);
    printf("attention heads:      %d\n", c->num_attention_heads);
    printf("kv heads:             %d\n", c->num_key_value_heads);
    printf("head_dim:             %d\n", c->head_dim);
    printf("vocab_size:           %d\n", c->vocab_size);
    printf("max positions:        %d\n", c->max_position_embeddings);
    printf("rms_norm_eps:         %g\n", c->rms_norm_eps);
    if (c->rope_llama3)
        printf("rope:                 theta %g, llama3 (factor %g, low_freq_factor %g, high_freq_factor %g, "
               "original_max_position_embeddings %d)\n",
               c->rope_theta, c->rope_factor, c->rope_low_freq_factor, c->rope_high_freq_factor,
               c->rope_original_max_position);
    else
        printf("rope:                 theta %g\n", c->rope_theta);
    printf("tied embeddings:      %s\n", c->tie_word_embeddings ? "yes" : "no");
    printf("torch_dtype:          %s\n", c->torch_dtype[0] ? c->torch_dtype : "(not given)");
    printf("quantization_config:  %s\n", c->has_quantization_config ? "yes" : "no");
}

static void print_summary(const ck_summary *s)
{
    char a[24], b[24], c[24];
    int d;
    const fp8q_dtype_info *di;
    printf("files:                %s\n", fmt_u64(a, s->files));
    printf("tensors:              %s\n", fmt_u64(a, s->tensors));
    printf("  %-12s %8s %14s %16s\n", "dtype", "tensors", "elements", "bytes");
    for (d = 0; d < 32; d++) {
        if (!s->count[d]) continue;
        di = fp8q_dtype_get((fp8q_dtype)d);
        printf("  %-12s %8s %14s %16s\n", di ? di->name : "?", fmt_u64(a, s->count[d]), fmt_u64(b, s->numel[d]),
               fmt_u64(c, s->bytes[d]));
    }
    printf("parameters:           %s (%.2f M)\n", fmt_u64(a, s->params), (double)s->params / 1e6);
    printf("kv cache scales:      %s\n", s->has_kv_scales ? "yes" : "no");
}

static int cmd_info(const cli_parsed *p)
{
    const char *dir = p->pos[0];
    fp8q_llama_config cfg;
    fp8q_checkpoint ck;
    fp8q_model m;
    fp8q_error err;
    fp8q_result r;
    ck_summary s;
    char *path;
    double elem, fp8;
    const fp8q_dtype_info *di;
    int rc;
    if (!(path = join_path(dir, "config.json"))) return runtime_error("out of memory");
    r = fp8q_llama_config_load(&cfg, path, &err);
    free(path);
    if (r != FP8Q_OK) return lib_error(r, &err);
    if ((r = fp8q_checkpoint_open(&ck, dir, &err)) != FP8Q_OK) return lib_error(r, &err);
    summarize_checkpoint(&ck, &s);
    fp8q_checkpoint_close(&ck);
    print_config(&cfg);
    print_summary(&s);
    di = fp8q_dtype_get(s.embed_dtype);
    elem = di ? di->bits / 8.0 : 4.0;
    fp8 = (double)s.linear_params + (double)(s.params - s.linear_params) * elem;
    printf("weight memory fp32:   %.1f MiB\n", mib((double)s.params * 4.0));
    printf("weight memory fp8:    %.1f MiB (layer linears 1 byte, the rest %s)\n", mib(fp8), di ? di->name : "?");
    if (opt(p, "--no-load")) return CLI_OK;
    fflush(stdout);
    if ((rc = load_model(dir, NULL, &m)) != CLI_OK) return rc;
    printf("scheme:               %s\n", m.scheme);
    printf("loaded weights:       %.1f MiB\n", mib((double)m.weight_bytes));
    print_warnings(&m, stdout, 21);
    fp8q_model_free(&m);
    return CLI_OK;
}

/* ============================================================= generate */

static const char USAGE_GENERATE[] = "usage: fp8q generate DIR|FILE.gguf --tokens ID,ID,... | --prompt TEXT [options]\n"
                                     "\n"
                                     "Runs the prompt through the model in one forward call (prefill), then\n"
                                     "generates tokens one at a time and prints their ids, comma-separated, on\n"
                                     "one line; with --prompt, prints the text as it comes and stops at the\n"
                                     "end-of-text/end-of-turn token. Generation stops after N tokens or at\n"
                                     "max_position_embeddings. A GGUF file is imported (Q/K rows un-permuted;\n"
                                     "float32, or bfloat16 for the FP8 modes) into a temporary directory.\n"
                                     "\n"
                                     "  --tokens IDS        prompt token ids, comma-separated\n"
                                     "  --prompt, -p TEXT   prompt text, tokenized with the model's tokenizer\n"
                                     "                      (DIR/tokenizer.json or the GGUF's metadata)\n"
                                     "  --chat              with --prompt: apply the model's chat template\n"
                                     "  -n N                tokens to generate (default 16)\n"
                                     "  --temperature T     0 (default): greedy; > 0: sample softmax(logits / T)\n"
                                     "  --top-p P           nucleus sampling when T > 0 (default 0.9; 0 or 1: off)\n"
                                     "  --seed S            sampler seed (default 1)\n"
                                     "  --quant MODE        auto (default), none, fp8-dynamic, fp8-dynamic-tensor,\n"
                                     "                      fp8-channel, fp8-channel-w8a16\n"
                                     "  --kv-cache KIND     auto (default, float32), e4m3, e5m2; vLLM's fp8,\n"
                                     "                      fp8_e4m3 (= e4m3) and fp8_e5m2 (= e5m2)\n"
                                     "  --engine E          vllm (default) or compressed-tensors arithmetic\n"
                                     "  --gemm MODE         reference, exact or fast (default)\n"
                                     "  --threads N         worker threads (default: online CPUs, at most 16)\n"
                                     "  --stats             print to stderr: scheme, weight MiB, backend, prefill\n"
                                     "                      and decode tokens/s (decode: the one-token forward\n"
                                     "                      calls), peak RSS, the loader's warnings\n"
                                     "  --device D          where the forward runs: cpu (default), cuda or cuda:N\n"
                                     "                      (CUDA device N, 0 for cuda; needs a build with make\n"
                                     "                      CUDA=1; not with --trace or --inc-config); a model\n"
                                     "                      the CUDA backend does not run goes to the CPU with a\n"
                                     "                      warning\n"
                                     "  --inc-config FILE     run with INC's quantization (QUANT_CONFIG), with\n"
                                     "  --inc-measurements F  its measurement file and\n"
                                     "  --device gaudi2|gaudi3  the device whose FP8 range and scales to use\n"
                                     "  --allow-other-device    use measurements computed for the other Gaudi\n"
                                     "  --trace FILE        record every module's inputs, outputs, FP8 codes and\n"
                                     "                      scales into FILE (safetensors): the prompt's forward\n"
                                     "                      call, then decode step k under \"step<k>.\"; compare\n"
                                     "                      two traces with fp8q diff (its --help: the format)\n"
                                     "  --trace-weights     with --trace: also the FP8 weight codes\n";

static int cmd_generate(const cli_parsed *p)
{
    run_opts r;
    fp8q_model m;
    fp8q_state s;
    fp8q_error err;
    fp8q_result res;
    const char *v;
    int n_new = 16, max_seq, n_gen, i, rc;
    int32_t tok;
    double temperature = 0.0, top_p = 0.9, t0, t_prefill, t_decode = 0.0;
    uint64_t seed = 1, rng;
    char rss[32], *gen_ids = NULL;
    int32_t *generated = NULL, stop[8];
    int n_stop = 0, produced = 0;
    fp8q_tokenizer *tk = NULL;
    fp8q_trace trace;
    memset(&m, 0, sizeof m);
    memset(&s, 0, sizeof s);
    memset(&trace, 0, sizeof trace);
    if ((rc = parse_run_opts(p, &r)) != CLI_OK) goto out;
    rc = CLI_USAGE;
    if ((v = opt(p, "-n")) && !parse_int("-n", v, 0, INT_MAX, &n_new)) goto out;
    if ((v = opt(p, "--temperature")) && !parse_double("--temperature", v, 0.0, 1e6, &temperature)) goto out;
    if ((v = opt(p, "--top-p")) && !parse_double("--top-p", v, 0.0, 1.0, &top_p)) goto out;
    if ((v = opt(p, "--seed")) && !parse_u64("--seed", v, &seed)) goto out;
    if ((rc = open_device(&r.on)) != CLI_OK || (rc = load_run_model(p->pos[0], &r, &m)) != CLI_OK) goto out;
    if (r.prompt && ((rc = load_tokenizer(p->pos[0], &tk)) != CLI_OK || (rc = tokenize_prompt(&r, tk)) != CLI_OK))
        goto out;
    n_stop = stop_tokens(tk, stop);
    if ((rc = check_tokens(&r, &m.config)) != CLI_OK) goto out;
    rc = CLI_ERR;
    max_seq =
        n_new > m.config.max_position_embeddings - r.n_tokens ? m.config.max_position_embeddings : r.n_tokens + n_new;
    if ((rc = init_state(&s, &m, &r.on, max_seq, r.n_tokens)) != CLI_OK) goto out;
    rc = CLI_ERR;
    n_gen = max_seq - r.n_tokens;
    if (r.trace && !(generated = (int32_t *)malloc(((size_t)n_gen + 1) * sizeof *generated))) {
        runtime_error("out of memory");
        goto out;
    }
    if ((rc = trace_begin(&r, &m, &s, &trace)) != CLI_OK) goto out;
    rc = CLI_ERR;
    t0 = now_seconds();
    if ((res = fp8q_forward(&m, &s, r.tokens, r.n_tokens, NULL, &err)) != FP8Q_OK) {
        lib_error(res, &err);
        goto out;
    }
    t_prefill = now_seconds() - t0;
    rng = seed;
    for (i = 0; i < n_gen; i++) {
        tok = (int32_t)fp8q_sample(s.logits, m.config.vocab_size, (float)temperature, (float)top_p, &rng);
        if (tok < 0) {
            putchar('\n');
            runtime_error("sampling failed");
            goto out;
        }
        if (is_stop(tok, stop, n_stop)) break; /* the reply ends (text mode) */
        print_token(tk, tok, i == 0);
        if (generated) generated[i] = tok;
        produced = i + 1;
        if (i + 1 == n_gen) break;
        t0 = now_seconds();
        if ((res = fp8q_forward(&m, &s, &tok, 1, NULL, &err)) != FP8Q_OK) {
            putchar('\n');
            lib_error(res, &err);
            goto out;
        }
        t_decode += now_seconds() - t0;
    }
    putchar('\n');
    fflush(stdout);
    if (r.trace) {
        if (!(gen_ids = token_list(generated, produced))) {
            runtime_error("out of memory");
            goto out;
        }
        if ((rc = trace_finish(p, &r, &trace, "generated", gen_ids)) != CLI_OK) goto out;
        rc = CLI_ERR;
    }
    if (r.stats) {
        fprintf(stderr, "scheme:     %s\n", m.scheme);
        fprintf(stderr, "weights:    %.1f MiB\n", mib((double)m.weight_bytes));
        print_backend(stderr, &s, &r.on);
        print_rate("prefill:", r.n_tokens, t_prefill);
        print_rate("decode:", produced > 1 ? produced - 1 : 0, t_decode);
        fprintf(stderr, "peak RSS:   %s\n", peak_rss(rss, sizeof rss));
        print_warnings(&m, stderr, 11);
    }
    rc = CLI_OK;
out:
    fp8q_trace_free(&trace);
    fp8q_tokenizer_free(tk);
    free(generated), free(gen_ids);
    fp8q_state_free(&s);
    fp8q_backend_close(r.on.backend);
    fp8q_model_free(&m);
    free(r.tokens);
    return rc;
}

/* ================================================================= chat */

static const char USAGE_CHAT[] =
    "usage: fp8q chat DIR|FILE.gguf [options]\n"
    "\n"
    "Reads one message per line from stdin and prints the model's reply to each,\n"
    "through the model's chat template (ChatML, Llama-2, Llama-3 or Zephyr; the\n"
    "template's default system prompt). Each message starts a new conversation\n"
    "(no history is kept). A reply ends at the end-of-turn token or after N tokens.\n"
    "\n"
    "  -n N                most tokens per reply (default 256)\n"
    "  --temperature T     0 (default): greedy; > 0: sample softmax(logits / T)\n"
    "  --top-p P           nucleus sampling when T > 0 (default 0.9)\n"
    "  --seed S            sampler seed (default 1)\n"
    "  --quant MODE        auto (default), none, fp8-dynamic, fp8-dynamic-tensor, fp8-channel,\n"
    "                      fp8-channel-w8a16\n"
    "  --kv-cache KIND     auto (default, float32), e4m3, e5m2\n"
    "  --threads N         worker threads (default: online CPUs, at most 16)\n"
    "  --device D          where the forward runs: cpu (default), cuda or cuda:N\n"
    "                      (as for generate)\n";

/* One reply: prefill the templated message, decode until a stop token. */
static int chat_reply(const fp8q_model *m, fp8q_state *s, const fp8q_tokenizer *tk, run_opts *r, int n_new,
                      double temperature, double top_p, uint64_t *rng)
{
    fp8q_error err;
    fp8q_result res;
    int32_t stop[8], tok;
    int n_stop = stop_tokens(tk, stop), i, rc;
    free(r->tokens), r->tokens = NULL;
    if ((rc = tokenize_prompt(r, tk)) != CLI_OK) return rc;
    if (r->n_tokens > s->max_batch || r->n_tokens + n_new > s->max_seq)
        return runtime_error("the message is too long (%d tokens; at most %d, and %d with the reply)", r->n_tokens,
                             s->max_batch, s->max_seq);
    fp8q_state_reset(s);
    if ((res = fp8q_forward(m, s, r->tokens, r->n_tokens, NULL, &err)) != FP8Q_OK) return lib_error(res, &err);
    for (i = 0; i < n_new; i++) {
        tok = (int32_t)fp8q_sample(s->logits, m->config.vocab_size, (float)temperature, (float)top_p, rng);
        if (tok < 0) return runtime_error("sampling failed");
        if (is_stop(tok, stop, n_stop)) break;
        print_token(tk, tok, i == 0);
        if (i + 1 < n_new && (res = fp8q_forward(m, s, &tok, 1, NULL, &err)) != FP8Q_OK) return lib_error(res, &err);
    }
    putchar('\n');
    fflush(stdout);
    return CLI_OK;
}

static int cmd_chat(const cli_parsed *p)
{
    run_opts r;
    fp8q_model m;
    fp8q_state s;
    fp8q_tokenizer *tk = NULL;
    const char *v;
    char line[8192];
    int n_new = 256, rc, max_seq;
    double temperature = 0.0, top_p = 0.9;
    uint64_t seed = 1, rng;
    memset(&r, 0, sizeof r), memset(&m, 0, sizeof m), memset(&s, 0, sizeof s);
    r.chat = 1;
    if ((rc = parse_model_opts(p, &r.model)) != CLI_OK) goto out;
    rc = CLI_USAGE;
    if ((v = opt(p, "-n")) && !parse_int("-n", v, 1, 1 << 20, &n_new)) goto out;
    if ((v = opt(p, "--temperature")) && !parse_double("--temperature", v, 0.0, 1e6, &temperature)) goto out;
    if ((v = opt(p, "--top-p")) && !parse_double("--top-p", v, 0.0, 1.0, &top_p)) goto out;
    if ((v = opt(p, "--seed")) && !parse_u64("--seed", v, &seed)) goto out;
    if ((v = opt(p, "--device")) && !forward_device_from_name(v, &r.on)) {
        rc = bad_device(v, 0);
        goto out;
    }
    if ((rc = open_device(&r.on)) != CLI_OK || (rc = load_model(p->pos[0], &r.model, &m)) != CLI_OK ||
        (rc = load_tokenizer(p->pos[0], &tk)) != CLI_OK)
        goto out;
    max_seq = m.config.max_position_embeddings < 2048 ? m.config.max_position_embeddings : 2048;
    if ((rc = init_state(&s, &m, &r.on, max_seq, max_seq < 512 ? max_seq : 512)) != CLI_OK) goto out;
    rng = seed;
    while (fgets(line, sizeof line, stdin)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (!n) continue;
        r.prompt = line;
        if ((rc = chat_reply(&m, &s, tk, &r, n_new, temperature, top_p, &rng)) != CLI_OK) goto out;
    }
    rc = CLI_OK;
out:
    free(r.tokens);
    fp8q_tokenizer_free(tk);
    fp8q_state_free(&s);
    fp8q_backend_close(r.on.backend);
    fp8q_model_free(&m);
    return rc;
}

/* =========================================================== perplexity */

static const char USAGE_PERPLEXITY[] = "usage: fp8q perplexity DIR|FILE.gguf --text FILE [options]\n"
                                       "\n"
                                       "Perplexity of the model on a text: the text is tokenized with the model's\n"
                                       "tokenizer (no special tokens) and cut into windows of --ctx tokens, each\n"
                                       "run from an empty cache; every position but a window's first predicts the\n"
                                       "next token. Prints the tokens scored, the mean negative log-likelihood\n"
                                       "(nats, summed in double precision) and exp(NLL).\n"
                                       "\n"
                                       "  --text FILE         the text (UTF-8)\n"
                                       "  --ctx N             window length (default 512)\n"
                                       "  --max-tokens N      use only the text's first N tokens\n"
                                       "  --argmax-out FILE   write each scored position's greedy token (int32 LE)\n"
                                       "  --argmax-ref FILE   report agreement of the greedy tokens with FILE's\n"
                                       "  --tokens-out FILE   write the windows as a safetensors 'tokens' [n, ctx]\n"
                                       "                      (I32), the --calib format of quantize and inc measure\n"
                                       "  --tokenize-only     stop after --tokens-out (no model run)\n"
                                       "  --tokenizer PATH    tokenizer.json, a folder with one, or a GGUF file\n"
                                       "                      (default: the model's)\n"
                                       "  --device D          where the forward runs: cpu (default), cuda or cuda:N\n"
                                       "                      (as for logits; the report names the backend)\n"
                                       "  --quant, --kv-cache, --engine, --gemm, --threads, --inc-config,\n"
                                       "  --inc-measurements, --device gaudi2|gaudi3, --allow-other-device:\n"
                                       "                      as for logits\n";

/* The text file's tokens (no special tokens). */
static int tokenize_file(const char *path, const fp8q_tokenizer *tk, int32_t **ids, int *n)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL, q[256];
    long len;
    size_t got = 0;
    fp8q_error err;
    fp8q_result res;
    int rc = CLI_ERR;
    if (!f) return runtime_error("cannot open %s: %s", quote(q, sizeof q, path), strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        !(text = (char *)malloc((size_t)len + 1)) || fread(text, 1, (size_t)len, f) != (size_t)len) {
        rc = runtime_error("cannot read %s", quote(q, sizeof q, path));
        goto out;
    }
    res = fp8q_tokenizer_encode(tk, text, (size_t)len, 0, NULL, 0, &got, &err);
    if ((res != FP8Q_OK && res != FP8Q_ERR_LIMIT) || got > INT_MAX) {
        rc = res != FP8Q_OK && res != FP8Q_ERR_LIMIT ? lib_error(res, &err) : runtime_error("text too long");
        goto out;
    }
    if (!(*ids = (int32_t *)malloc((got ? got : 1) * sizeof **ids))) {
        rc = runtime_error("out of memory");
        goto out;
    }
    if ((res = fp8q_tokenizer_encode(tk, text, (size_t)len, 0, *ids, got, &got, &err)) != FP8Q_OK) {
        rc = lib_error(res, &err);
        goto out;
    }
    *n = (int)got;
    rc = CLI_OK;
out:
    if (f) fclose(f);
    free(text);
    return rc;
}

/* -log softmax(logits)[target], in double. */
static double token_nll(const float *logits, int vocab, int target)
{
    double mx = logits[0], sum = 0.0;
    int i;
    for (i = 1; i < vocab; i++)
        if (logits[i] > mx) mx = logits[i];
    for (i = 0; i < vocab; i++) sum += exp((double)logits[i] - mx);
    return log(sum) + mx - (double)logits[target];
}

static int argmax_of(const float *logits, int vocab)
{
    int i, best = 0;
    for (i = 1; i < vocab; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

static int write_windows(const char *path, const int32_t *ids, int windows, int ctx)
{
    fp8q_tensor_out t;
    fp8q_error err;
    fp8q_result r;
    uint64_t shape[2];
    memset(&t, 0, sizeof t);
    shape[0] = (uint64_t)windows, shape[1] = (uint64_t)ctx;
    t.name = "tokens", t.dtype = FP8Q_I32, t.ndim = 2, t.shape = shape, t.data = ids;
    r = fp8q_safetensors_write(path, &t, 1, NULL, NULL, 0, &err);
    return r == FP8Q_OK ? CLI_OK : lib_error(r, &err);
}

static int cmd_perplexity(const cli_parsed *p)
{
    run_opts r;
    fp8q_model m;
    fp8q_state s;
    fp8q_error err;
    fp8q_result res;
    fp8q_tokenizer *tk = NULL;
    const char *v, *text = opt(p, "--text"), *ref_path = opt(p, "--argmax-ref");
    int32_t *ids = NULL, *argmax = NULL, *ref = NULL;
    float *logits = NULL;
    int ctx = 512, max_tokens = INT_MAX, n = 0, windows, w, i, rc, vocab, scored = 0, agree = 0;
    double nll = 0.0, t0;
    char q[256];
    memset(&m, 0, sizeof m), memset(&s, 0, sizeof s);
    if ((rc = parse_run_opts(p, &r)) != CLI_OK) return rc;
    if (!text) return usage_error("missing --text FILE");
    if ((v = opt(p, "--ctx")) && !parse_int("--ctx", v, 2, 1 << 16, &ctx)) return CLI_USAGE;
    if ((v = opt(p, "--max-tokens")) && !parse_int("--max-tokens", v, 2, INT_MAX, &max_tokens)) return CLI_USAGE;
    v = opt(p, "--tokenizer");
    if ((rc = load_tokenizer(v ? v : p->pos[0], &tk)) != CLI_OK || (rc = tokenize_file(text, tk, &ids, &n)) != CLI_OK)
        goto out;
    if (n > max_tokens) n = max_tokens;
    windows = n / ctx;
    rc = CLI_ERR;
    if (windows < 1) {
        rc = runtime_error("%s: %d tokens, fewer than one window of %d", quote(q, sizeof q, text), n, ctx);
        goto out;
    }
    if (opt(p, "--tokens-out") && (rc = write_windows(opt(p, "--tokens-out"), ids, windows, ctx)) != CLI_OK) goto out;
    if (opt(p, "--tokenize-only")) {
        printf("tokens:     %d windows of %d (text %d tokens)\n", windows, ctx, n);
        rc = CLI_OK;
        goto out;
    }
    if ((rc = open_device(&r.on)) != CLI_OK || (rc = load_run_model(p->pos[0], &r, &m)) != CLI_OK) goto out;
    rc = CLI_ERR;
    vocab = m.config.vocab_size;
    if (ctx > m.config.max_position_embeddings) {
        rc = usage_error("--ctx %d exceeds max_position_embeddings (%d)", ctx, m.config.max_position_embeddings);
        goto out;
    }
    if (!(logits = (float *)malloc((size_t)ctx * (size_t)vocab * sizeof *logits)) ||
        !(argmax = (int32_t *)malloc((size_t)windows * (size_t)ctx * sizeof *argmax))) {
        rc = runtime_error("out of memory for %d x %d logits", ctx, vocab);
        goto out;
    }
    if ((rc = init_state(&s, &m, &r.on, ctx, ctx)) != CLI_OK) goto out;
    rc = CLI_ERR;
    t0 = now_seconds();
    for (w = 0; w < windows; w++) {
        const int32_t *win = ids + (size_t)w * ctx;
        fp8q_state_reset(&s);
        if ((res = fp8q_forward(&m, &s, win, ctx, logits, &err)) != FP8Q_OK) {
            rc = lib_error(res, &err);
            goto out;
        }
        for (i = 0; i + 1 < ctx; i++) {
            nll += token_nll(logits + (size_t)i * vocab, vocab, win[i + 1]);
            argmax[scored++] = argmax_of(logits + (size_t)i * vocab, vocab);
        }
    }
    printf("tokens:     %d scored (%d windows of %d, text %d tokens)\n", scored, windows, ctx, n);
    printf("scheme:     %s\n", m.scheme);
    print_backend(stdout, &s, &r.on);
    printf("nll:        %.6f\n", nll / scored);
    printf("perplexity: %.4f\n", exp(nll / scored));
    printf("time:       %.1f s (%.0f tokens/s)\n", now_seconds() - t0, windows * ctx / (now_seconds() - t0));
    if ((v = opt(p, "--argmax-out"))) {
        FILE *f = fopen(v, "wb");
        if (!f || fwrite(argmax, sizeof *argmax, (size_t)scored, f) != (size_t)scored) {
            if (f) fclose(f);
            rc = runtime_error("cannot write %s", quote(q, sizeof q, v));
            goto out;
        }
        fclose(f);
    }
    if (ref_path) {
        FILE *f = fopen(ref_path, "rb");
        if (!(ref = (int32_t *)malloc((size_t)scored * sizeof *ref)) || !f ||
            fread(ref, sizeof *ref, (size_t)scored, f) != (size_t)scored) {
            if (f) fclose(f);
            rc = runtime_error("%s: cannot read %d greedy tokens", quote(q, sizeof q, ref_path), scored);
            goto out;
        }
        fclose(f);
        for (i = 0; i < scored; i++) agree += argmax[i] == ref[i];
        printf("agreement:  %.2f%% of greedy next tokens equal the reference's (%d of %d)\n", 100.0 * agree / scored,
               agree, scored);
    }
    rc = CLI_OK;
out:
    free(ids), free(argmax), free(ref), free(logits);
    fp8q_tokenizer_free(tk);
    fp8q_state_free(&s);
    fp8q_backend_close(r.on.backend);
    fp8q_model_free(&m);
    return rc;
}

/* ================================================================ import */

static const char USAGE_IMPORT[] = "usage: fp8q import FILE.gguf OUT [--dtype f32|bf16]\n"
                                   "\n"
                                   "Writes the GGUF file's Llama as a Hugging Face checkpoint in OUT (created;\n"
                                   "it may exist only as an empty directory): config.json and\n"
                                   "model.safetensors (float32 by default), Q/K rows un-permuted.\n";

static int cmd_import(const cli_parsed *p)
{
    const char *v = opt(p, "--dtype");
    fp8q_error err;
    fp8q_result r;
    int created = 0, rc;
    fp8q_dtype dtype = FP8Q_F32;
    if (v && strcmp(v, "f32") != 0 && strcmp(v, "bf16") != 0)
        return usage_error("--dtype: expected f32 or bf16, got '%s'", v);
    if (v && strcmp(v, "bf16") == 0) dtype = FP8Q_BF16;
    if ((rc = prepare_out_dir(p->pos[1], &created)) != CLI_OK) return rc;
    if ((r = fp8q_gguf_to_hf(p->pos[0], p->pos[1], dtype, &err)) != FP8Q_OK) {
        if (created) remove_import(p->pos[1]);
        return lib_error(r, &err);
    }
    printf("wrote %s (%s)\n", p->pos[1], dtype == FP8Q_F32 ? "float32" : "bfloat16");
    return CLI_OK;
}

/* =============================================================== logits */

static const char USAGE_LOGITS[] = "usage: fp8q logits DIR --tokens ID,ID,... --out FILE [options]\n"
                                   "\n"
                                   "Writes the logits of every position to FILE as raw little-endian float32,\n"
                                   "shape [n_tokens, vocab_size] row-major (on every host). By default all\n"
                                   "tokens go through one forward call; --batch B feeds them in chunks of B\n"
                                   "tokens (so dynamic per-tensor activation scales are computed per chunk,\n"
                                   "as a server that splits the prompt would). A summary goes to stderr.\n"
                                   "\n"
                                   "  --tokens IDS        token ids, comma-separated (required)\n"
                                   "  --out FILE          output file (required; replaced if it exists)\n"
                                   "  --batch B           tokens per forward call (default: all)\n"
                                   "  --quant MODE        auto (default), none, fp8-dynamic, fp8-dynamic-tensor,\n"
                                   "                      fp8-channel, fp8-channel-w8a16\n"
                                   "  --kv-cache KIND     auto (default, float32), e4m3, e5m2, fp8, fp8_e4m3,\n"
                                   "                      fp8_e5m2\n"
                                   "  --engine E          vllm (default) or compressed-tensors\n"
                                   "  --gemm MODE         reference, exact or fast (default)\n"
                                   "  --threads N         worker threads (default: online CPUs, at most 16)\n"
                                   "  --stats             print to stderr: scheme, weight MiB, backend, tokens/s,\n"
                                   "                      peak RSS, the loader's warnings\n"
                                   "  --device D          where the forward runs: cpu (default), cuda or cuda:N\n"
                                   "                      (CUDA device N, 0 for cuda; needs a build with make\n"
                                   "                      CUDA=1; not with --trace or --inc-config); a model\n"
                                   "                      the CUDA backend does not run goes to the CPU with a\n"
                                   "                      warning\n"
                                   "  --inc-config FILE     run with INC's quantization (QUANT_CONFIG), with\n"
                                   "  --inc-measurements F  its measurement file and\n"
                                   "  --device gaudi2|gaudi3  the device whose FP8 range and scales to use\n"
                                   "  --allow-other-device    use measurements computed for the other Gaudi\n"
                                   "  --trace FILE        record every module's inputs, outputs, FP8 codes and\n"
                                   "                      scales into FILE (safetensors; with --batch, chunk k\n"
                                   "                      >= 1 under \"step<k>.\"); compare two traces with\n"
                                   "                      fp8q diff (its --help: the format)\n"
                                   "  --trace-weights     with --trace: also the FP8 weight codes\n";

/* Writes n floats little-endian; 0 on a write error. */
static int write_f32_le(FILE *f, const float *x, size_t n)
{
    unsigned char buf[4096];
    size_t i, k = 0;
    uint32_t u;
    for (i = 0; i < n; i++) {
        memcpy(&u, &x[i], 4);
        buf[k++] = (unsigned char)u, buf[k++] = (unsigned char)(u >> 8);
        buf[k++] = (unsigned char)(u >> 16), buf[k++] = (unsigned char)(u >> 24);
        if (k == sizeof buf || i + 1 == n) {
            if (fwrite(buf, 1, k, f) != k) return 0;
            k = 0;
        }
    }
    return 1;
}

static int cmd_logits(const cli_parsed *p)
{
    run_opts r;
    fp8q_model m;
    fp8q_state s;
    fp8q_error err;
    fp8q_result res;
    const char *v, *out_path = NULL;
    int batch = 0, i, c, rc;
    size_t vocab;
    float *buf = NULL;
    FILE *f = NULL;
    int created = 0; /* out_path is a file this command made: remove it on failure */
    double t0, seconds = 0.0;
    char q[256], rss[32], nbytes[24], batch_s[16];
    fp8q_trace trace;
    memset(&m, 0, sizeof m);
    memset(&s, 0, sizeof s);
    memset(&trace, 0, sizeof trace);
    if ((rc = parse_run_opts(p, &r)) != CLI_OK) goto out;
    rc = CLI_USAGE;
    if (!(out_path = opt(p, "--out"))) {
        usage_error("missing --out (see fp8q logits --help)");
        goto out;
    }
    if ((v = opt(p, "--batch")) && !parse_int("--batch", v, 1, INT_MAX, &batch)) goto out;
    if ((rc = open_device(&r.on)) != CLI_OK || (rc = load_run_model(p->pos[0], &r, &m)) != CLI_OK) goto out;
    if ((rc = check_tokens(&r, &m.config)) != CLI_OK) goto out;
    rc = CLI_ERR;
    if (batch == 0 || batch > r.n_tokens) batch = r.n_tokens;
    vocab = (size_t)m.config.vocab_size;
    if ((size_t)batch > (size_t)-1 / sizeof(float) / vocab || !(buf = (float *)malloc((size_t)batch * vocab * 4))) {
        runtime_error("out of memory for the logits of %d tokens", batch);
        goto out;
    }
    if ((rc = init_state(&s, &m, &r.on, r.n_tokens, batch)) != CLI_OK ||
        (rc = trace_begin(&r, &m, &s, &trace)) != CLI_OK)
        goto out;
    rc = CLI_ERR;
    created = !path_exists(out_path);
    if (!(f = fopen(out_path, "wb"))) {
        runtime_error("cannot open %s for writing: %s", quote(q, sizeof q, out_path), strerror(errno));
        goto out;
    }
    for (i = 0; i < r.n_tokens; i += c) {
        c = r.n_tokens - i < batch ? r.n_tokens - i : batch;
        t0 = now_seconds();
        if ((res = fp8q_forward(&m, &s, r.tokens + i, c, buf, &err)) != FP8Q_OK) {
            lib_error(res, &err);
            goto out;
        }
        seconds += now_seconds() - t0;
        if (!write_f32_le(f, buf, (size_t)c * vocab)) {
            runtime_error("cannot write %s: %s", quote(q, sizeof q, out_path), strerror(errno));
            goto out;
        }
    }
    i = fclose(f);
    f = NULL;
    if (i != 0) {
        runtime_error("cannot write %s: %s", quote(q, sizeof q, out_path), strerror(errno));
        goto out;
    }
    (void)snprintf(batch_s, sizeof batch_s, "%d", batch);
    if ((rc = trace_finish(p, &r, &trace, "batch", batch_s)) != CLI_OK) goto out;
    rc = CLI_ERR;
    fprintf(stderr, "logits: [%d, %d] float32 little-endian, %s bytes -> %s\n", r.n_tokens, m.config.vocab_size,
            fmt_u64(nbytes, (uint64_t)r.n_tokens * vocab * 4), out_path);
    if (r.stats) {
        fprintf(stderr, "scheme:     %s\n", m.scheme);
        fprintf(stderr, "weights:    %.1f MiB\n", mib((double)m.weight_bytes));
        print_backend(stderr, &s, &r.on);
        print_rate("forward:", r.n_tokens, seconds);
        fprintf(stderr, "peak RSS:   %s\n", peak_rss(rss, sizeof rss));
        print_warnings(&m, stderr, 11);
    }
    rc = CLI_OK;
out:
    if (f) fclose(f);
    if (rc != CLI_OK && created) (void)remove(out_path);
    fp8q_trace_free(&trace);
    free(buf);
    fp8q_state_free(&s);
    fp8q_backend_close(r.on.backend);
    fp8q_model_free(&m);
    free(r.tokens);
    return rc;
}

/* ============================================================= quantize */

static const char USAGE_QUANTIZE[] = "usage: fp8q quantize IN OUT --scheme fp8-dynamic|fp8 [options]\n"
                                     "\n"
                                     "Quantizes the float checkpoint IN into a compressed-tensors FP8\n"
                                     "checkpoint OUT as llm-compressor writes it. OUT is created; it may exist\n"
                                     "only as an empty directory.\n"
                                     "\n"
                                     "  --scheme S            fp8-dynamic: per-channel weights, dynamic per-token\n"
                                     "                        activations; fp8: per-tensor weights, static\n"
                                     "                        per-tensor input scales (needs calibration)\n"
                                     "  --kv-cache            also calibrate FP8 KV-cache scales (needs calibration)\n"
                                     "  --calib FILE          calibration tokens: a safetensors file with an I32 or\n"
                                     "                        I64 tensor 'calib_tokens' or 'tokens' [n, len]\n"
                                     "  --calib-random N,LEN  N sequences of LEN token ids uniform in [0, vocab)\n"
                                     "                        from a fixed generator (xorshift64 13/7/17, seed\n"
                                     "                        1234; id = (x >> 32) * vocab >> 32)\n"
                                     "  --ignore NAMES        modules left unquantized, comma-separated (names,\n"
                                     "                        \"re:\" patterns or Linear); replaces the default\n"
                                     "                        lm_head\n"
                                     "  --threads N           worker threads (default: online CPUs, at most 16)\n"
                                     "\n"
                                     "A progress bar is drawn on stderr when it is a terminal.\n";

typedef struct calib_tokens {
    int32_t *ids; /* [n][len] */
    int n, len;
} calib_tokens;

/* --calib-random N,LEN with the documented generator. */
static int calib_random(const char *spec, const fp8q_llama_config *c, calib_tokens *out)
{
    const char *item[2];
    size_t len[2];
    char a[24], b[24];
    long n, l;
    uint64_t x = CLI_CALIB_SEED;
    size_t i, total;
    int k = split_list("--calib-random", spec, item, len, 2);
    if (!k) return CLI_USAGE;
    if (k != 2) return usage_error("--calib-random: expected N,LEN, got %d items", k);
    if (len[0] > 20 || len[1] > 20) return usage_error("--calib-random: N and LEN must be positive integers");
    memcpy(a, item[0], len[0]), a[len[0]] = '\0';
    memcpy(b, item[1], len[1]), b[len[1]] = '\0';
    if (!parse_long("--calib-random N", a, 1, CLI_MAX_CALIB, &n) ||
        !parse_long("--calib-random LEN", b, 1, c->max_position_embeddings, &l))
        return CLI_USAGE;
    if (n > CLI_MAX_CALIB / l)
        return usage_error("--calib-random: N * LEN = %.0f tokens, at most %ld", (double)n * (double)l, CLI_MAX_CALIB);
    total = (size_t)(n * l);
    if (!(out->ids = (int32_t *)malloc(total * sizeof *out->ids))) return runtime_error("out of memory");
    for (i = 0; i < total; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        out->ids[i] = (int32_t)(((x >> 32) * (uint64_t)c->vocab_size) >> 32);
    }
    out->n = (int)n, out->len = (int)l;
    return CLI_OK;
}

/* --calib FILE: the tensor 'calib_tokens' (as in tests/fixtures/llama ref files) or
   else 'tokens', I32 or I64 [n, len], ids < vocab. */
static int calib_file(const char *path, const fp8q_llama_config *c, calib_tokens *out)
{
    fp8q_safetensors st;
    fp8q_error err;
    fp8q_result r;
    const fp8q_tensor_info *t;
    const uint8_t *b;
    const fp8q_dtype_info *di;
    char q[256], num[24];
    size_t i, total, w;
    int k, rc = CLI_ERR;
    uint64_t u;
    if ((r = fp8q_safetensors_open(&st, path, &err)) != FP8Q_OK) return lib_error(r, &err);
    quote(q, sizeof q, path);
    if (!(t = fp8q_safetensors_find(&st, "calib_tokens")) && !(t = fp8q_safetensors_find(&st, "tokens"))) {
        runtime_error("%s: no tensor 'calib_tokens' or 'tokens' (calibration token ids, I32 or I64 [n, len])", q);
        goto done;
    }
    if (t->dtype != FP8Q_I32 && t->dtype != FP8Q_I64) {
        di = fp8q_dtype_get(t->dtype);
        runtime_error("%s: tensor '%s' has dtype %s, expected I32 or I64", q, t->name, di ? di->name : "?");
        goto done;
    }
    if (t->ndim != 2 || t->shape[0] < 1 || t->shape[1] < 1) {
        runtime_error("%s: tensor '%s' must have shape [n, len] with n, len >= 1 (it has %d dimensions)", q, t->name,
                      t->ndim);
        goto done;
    }
    if (t->shape[1] > (uint64_t)c->max_position_embeddings) {
        runtime_error("%s: tensor '%s' has sequences of %s tokens, the model's max_position_embeddings is %d", q,
                      t->name, fmt_u64(num, t->shape[1]), c->max_position_embeddings);
        goto done;
    }
    if (t->numel > (uint64_t)(CLI_MAX_CALIB)) {
        runtime_error("%s: tensor '%s' has %s ids, at most %ld", q, t->name, fmt_u64(num, t->numel), CLI_MAX_CALIB);
        goto done;
    }
    total = (size_t)t->numel;
    w = t->dtype == FP8Q_I32 ? 4 : 8;
    if (!(b = fp8q_safetensors_bytes(&st, t))) {
        runtime_error("%s: tensor '%s' has no data", q, t->name);
        goto done;
    }
    if (!(out->ids = (int32_t *)malloc(total * sizeof *out->ids))) {
        runtime_error("out of memory");
        goto done;
    }
    for (i = 0; i < total; i++, b += w) {
        for (u = 0, k = (int)w - 1; k >= 0; k--) u = u << 8 | b[k];
        if (w == 4 && (u & 0x80000000u)) u |= 0xFFFFFFFF00000000u; /* sign-extend I32 */
        if (u >= (uint64_t)c->vocab_size) {
            runtime_error("%s: tokens[%lu][%lu] = %s%s is outside the vocabulary [0, %d)", q,
                          (unsigned long)(i / (size_t)t->shape[1]), (unsigned long)(i % (size_t)t->shape[1]),
                          (u >> 63) ? "-" : "", fmt_u64(num, (u >> 63) ? ~u + 1 : u), c->vocab_size);
            free(out->ids);
            out->ids = NULL;
            goto done;
        }
        out->ids[i] = (int32_t)u;
    }
    out->n = (int)t->shape[0], out->len = (int)t->shape[1];
    rc = CLI_OK;
done:
    fp8q_safetensors_close(&st);
    return rc;
}

/* The progress bar: "[#####     ]  52% 123/240 MiB", redrawn in place. */
typedef struct progress_bar {
    int enabled, drawn, last;
} progress_bar;

static void progress_cb(void *ctx, uint64_t done, uint64_t total)
{
    progress_bar *pb = (progress_bar *)ctx;
    char bar[21];
    int pct, i;
    if (!pb->enabled || total == 0) return;
    if (done > total) done = total;
    pct = (int)(done * 100 / total);
    if (pb->drawn && pct == pb->last) return;
    for (i = 0; i < 20; i++) bar[i] = i < pct / 5 ? '#' : ' ';
    bar[20] = '\0';
    fprintf(stderr, "\r[%s] %3d%% %.*f/%.*f MiB", bar, pct, total < 100 * CLI_MIB ? 1 : 0, mib((double)done),
            total < 100 * CLI_MIB ? 1 : 0, mib((double)total));
    fflush(stderr);
    pb->drawn = 1, pb->last = pct;
}

/* --ignore NAMES into a malloc'ed array of malloc'ed strings. */
static int parse_ignore(const char *s, char ***out, int *n_out)
{
    const char *item;
    size_t len;
    int n, i;
    if (!(n = split_list("--ignore", s, NULL, NULL, 0))) return CLI_USAGE;
    if (!(*out = (char **)calloc((size_t)n, sizeof **out))) return runtime_error("out of memory");
    *n_out = n;
    for (i = 0, item = s; i < n; i++, item += len + 1) {
        len = strcspn(item, ",");
        if (!((*out)[i] = (char *)malloc(len + 1))) return runtime_error("out of memory");
        memcpy((*out)[i], item, len), (*out)[i][len] = '\0';
    }
    return CLI_OK;
}

static int cmd_quantize(const cli_parsed *p)
{
    const char *in = p->pos[0], *out = p->pos[1], *v, *calib_path, *calib_spec;
    fp8q_quantize_options qo;
    fp8q_llama_config cfg;
    calib_tokens calib = {NULL, 0, 0};
    char **ignore = NULL, *path, list[64];
    int n_ignore = 0, scheme = 0, created = 0, rc, i;
    progress_bar pb = {0, 0, 0};
    fp8q_error err;
    fp8q_result r;
    memset(&qo, 0, sizeof qo);
    qo.threads = default_threads();
    if (!(v = opt(p, "--scheme")))
        return usage_error("missing --scheme (%s)", name_list(list, sizeof list, SCHEME_NAMES, COUNT(SCHEME_NAMES)));
    if (!parse_name("--scheme", v, SCHEME_NAMES, COUNT(SCHEME_NAMES), &scheme)) return CLI_USAGE;
    qo.scheme = (fp8q_ct_scheme)scheme;
    qo.kv_cache = opt(p, "--kv-cache") != NULL;
    calib_path = opt(p, "--calib");
    calib_spec = opt(p, "--calib-random");
    if (calib_path && calib_spec) return usage_error("--calib and --calib-random exclude each other");
    if ((qo.scheme == FP8Q_CT_FP8 || qo.kv_cache) && !calib_path && !calib_spec)
        return usage_error("%s needs calibration data: give --calib FILE or --calib-random N,LEN",
                           qo.scheme == FP8Q_CT_FP8 ? "--scheme fp8 (static activation scales)" : "--kv-cache");
    if ((v = opt(p, "--threads")) && !parse_int("--threads", v, 1, 1024, &qo.threads)) return CLI_USAGE;
    if ((v = opt(p, "--ignore")) && (rc = parse_ignore(v, &ignore, &n_ignore)) != CLI_OK) goto out;
    /* the output before the input: a mistake there costs nothing to find */
    if ((rc = prepare_out_dir(out, &created)) != CLI_OK) goto out;
    rc = CLI_ERR;
    if (!(path = join_path(in, "config.json"))) {
        runtime_error("out of memory");
        goto out;
    }
    r = fp8q_llama_config_load(&cfg, path, &err);
    free(path);
    if (r != FP8Q_OK) {
        lib_error(r, &err);
        goto out;
    }
    if (calib_spec && (rc = calib_random(calib_spec, &cfg, &calib)) != CLI_OK) goto out;
    if (calib_path && (rc = calib_file(calib_path, &cfg, &calib)) != CLI_OK) goto out;
    rc = CLI_ERR;
    qo.calib_tokens = calib.ids, qo.n_calib = calib.n, qo.calib_len = calib.len;
    qo.ignore = (const char *const *)ignore, qo.n_ignore = n_ignore;
    pb.enabled = stderr_is_terminal();
    qo.progress = progress_cb, qo.progress_ctx = &pb;
    r = fp8q_quantize_checkpoint(in, out, &qo, &err);
    if (pb.drawn) fputc('\n', stderr);
    if (r != FP8Q_OK) {
        lib_error(r, &err);
        goto out;
    }
    fprintf(stderr, "quantized %s -> %s (compressed-tensors %s%s)\n", in, out, SCHEME_NAMES[scheme].name,
            qo.kv_cache ? ", FP8 KV cache" : "");
    rc = CLI_OK;
out:
    if (rc != CLI_OK && created) remove_dir(out);
    for (i = 0; i < n_ignore; i++) free(ignore[i]);
    free(ignore);
    free(calib.ids);
    return rc;
}

/* ================================================================ synth */

static const char USAGE_SYNTH[] = "usage: fp8q synth DIR [--preset P] [--dtype D] [--seed S] [--layers N]\n"
                                  "\n"
                                  "Writes a Llama checkpoint with random weights (config.json and\n"
                                  "model.safetensors) into DIR, which is created (it may exist only as an\n"
                                  "empty directory). The same seed gives the same bytes on every platform.\n"
                                  "\n"
                                  "  --preset P   tiny (default): vocab 256, hidden 64, intermediate 176,\n"
                                  "                 2 layers, 4 heads, 2 kv heads, 256 positions, tied\n"
                                  "               smollm2-135m: SmolLM2-135M's shape (30 layers, 576 hidden)\n"
                                  "               llama3-8b-shape: Llama-3-8B's shape (32 layers, 4096\n"
                                  "                 hidden, vocab 128256, llama3 RoPE scaling, untied)\n"
                                  "  --dtype D    bf16 (default), f16 or f32\n"
                                  "  --seed S     generator seed (default 1)\n"
                                  "  --layers N   override the preset's layer count\n";

typedef struct synth_preset {
    const char *name;
    fp8q_llama_config config;
} synth_preset;

/* torch_dtype is filled in from --dtype. */
static const synth_preset PRESETS[] = {
    {"tiny",
     {.architecture = "LlamaForCausalLM",
      .vocab_size = 256,
      .hidden_size = 64,
      .intermediate_size = 176,
      .num_hidden_layers = 2,
      .num_attention_heads = 4,
      .num_key_value_heads = 2,
      .head_dim = 16,
      .max_position_embeddings = 256,
      .rms_norm_eps = 1e-5,
      .rope_theta = 10000.0,
      .tie_word_embeddings = 1}},
    {"smollm2-135m", /* HuggingFaceTB/SmolLM2-135M config.json */
     {.architecture = "LlamaForCausalLM",
      .vocab_size = 49152,
      .hidden_size = 576,
      .intermediate_size = 1536,
      .num_hidden_layers = 30,
      .num_attention_heads = 9,
      .num_key_value_heads = 3,
      .head_dim = 64,
      .max_position_embeddings = 8192,
      .rms_norm_eps = 1e-5,
      .rope_theta = 100000.0,
      .tie_word_embeddings = 1}},
    {"llama3-8b-shape", /* meta-llama/Meta-Llama-3.1-8B config.json */
     {.architecture = "LlamaForCausalLM",
      .vocab_size = 128256,
      .hidden_size = 4096,
      .intermediate_size = 14336,
      .num_hidden_layers = 32,
      .num_attention_heads = 32,
      .num_key_value_heads = 8,
      .head_dim = 128,
      .max_position_embeddings = 131072,
      .rms_norm_eps = 1e-5,
      .rope_theta = 500000.0,
      .tie_word_embeddings = 0,
      .rope_llama3 = 1,
      .rope_factor = 8.0,
      .rope_low_freq_factor = 1.0,
      .rope_high_freq_factor = 4.0,
      .rope_original_max_position = 8192}},
};

static int cmd_synth(const cli_parsed *p)
{
    const char *dir = p->pos[0], *v;
    const synth_preset *preset = &PRESETS[0];
    fp8q_llama_config cfg;
    fp8q_dtype dtype = FP8Q_BF16;
    uint64_t seed = 1;
    int i, x = 0, layers = 0, created, rc;
    char q[128];
    fp8q_error err;
    fp8q_result r;
    if ((v = opt(p, "--preset"))) {
        for (i = 0; i < COUNT(PRESETS) && strcmp(v, PRESETS[i].name) != 0; i++) continue;
        if (i == COUNT(PRESETS))
            return usage_error("invalid value %s for --preset: expected one of tiny, smollm2-135m, llama3-8b-shape",
                               quote(q, sizeof q, v));
        preset = &PRESETS[i];
    }
    if ((v = opt(p, "--dtype"))) {
        if (!parse_name("--dtype", v, DTYPE_NAMES, COUNT(DTYPE_NAMES), &x)) return CLI_USAGE;
        dtype = (fp8q_dtype)x;
    }
    if ((v = opt(p, "--seed")) && !parse_u64("--seed", v, &seed)) return CLI_USAGE;
    if ((v = opt(p, "--layers")) && !parse_int("--layers", v, 1, 4096, &layers)) return CLI_USAGE;
    cfg = preset->config;
    if (layers) cfg.num_hidden_layers = layers;
    (void)snprintf(cfg.torch_dtype, sizeof cfg.torch_dtype, "%s",
                   dtype == FP8Q_BF16  ? "bfloat16"
                   : dtype == FP8Q_F16 ? "float16"
                                       : "float32");
    if ((rc = prepare_out_dir(dir, &created)) != CLI_OK) return rc;
    if ((r = fp8q_write_random_llama(dir, &cfg, dtype, seed, &err)) != FP8Q_OK) {
        if (created) remove_dir(dir);
        return lib_error(r, &err);
    }
    fprintf(stderr, "wrote %s: %s, %d layers, %s, seed %s\n", dir, preset->name, cfg.num_hidden_layers, cfg.torch_dtype,
            fmt_u64(q, seed));
    return CLI_OK;
}

/* ============================================================== version */

static const char USAGE_VERSION[] = "usage: fp8q version\n"
                                    "\n"
                                    "Prints the library version and the SIMD level of this build.\n";

static int cmd_version(const cli_parsed *p)
{
    (void)p;
    printf("fp8q %s\n", fp8q_version());
    printf("simd: %s\n", fp8q_simd_name());
    return CLI_OK;
}

/* ================================================================= diff */

static const char USAGE_DIFF[] = "usage: fp8q diff A.safetensors B.safetensors [options]\n"
                                 "\n"
                                 "Compares two safetensors files tensor by tensor, by name: usually two\n"
                                 "traces (fp8q logits|generate --trace), A the reference and B the run\n"
                                 "checked against it. Prints a line per tensor in forward order (step,\n"
                                 "layer, module; other names in file order), metadata that differ, the\n"
                                 "first FP8 code flip, the first module that differs and a summary.\n"
                                 "Shapes or dtypes that differ and names in one file only are differences.\n"
                                 "\n"
                                 "  --tolerance MODE   auto (default) or exact: every tensor equal\n"
                                 "  --atol X           floats: |b - a| <= X + rtol * |a| (default: 2^-10 of\n"
                                 "  --rtol Y           the tensor's max|a|, rtol 0)\n"
                                 "  --fp8-codes N      FP8 activation codes at most N apart (default 1; 0:\n"
                                 "                     every flipped code is a difference, no flip rule)\n"
                                 "  --common           names in one file only are listed, not differences\n"
                                 "  --brief            print only the tensors that differ\n"
                                 "  --json FILE        also write the comparison as JSON (\"fp8q-diff-1\")\n"
                                 "\n"
                                 "Tolerance auto, what a correct engine must meet: parameters (names ending\n"
                                 ".weight, .weight.fp8, .weight.scale, .input_scale, .output_scale) equal;\n"
                                 "other 8-bit float tensors (activation codes) equal where both runs had\n"
                                 "the same input and scale (M.input.0, M.input.0.scale), elsewhere at most\n"
                                 "1 code apart in the format's value order (a last-bit difference in the\n"
                                 "input can cross one rounding boundary); floats within 2^-10 of the\n"
                                 "tensor's max|a| (a float32 GEMM is far inside, one accumulating in\n"
                                 "bfloat16 is not); integers equal; NaN equals NaN, Inf only itself.\n"
                                 "Flip rule: after the first FP8 codes that differ, activations outside\n"
                                 "the tolerance are listed as after_flip and not counted: one flipped code\n"
                                 "moves everything downstream beyond any float tolerance (parameters and\n"
                                 "codes from the same input still count). Columns: max_abs, max_rel (to\n"
                                 "|a|), max_ulp (units of the tensor's type; 8-bit floats: codes),\n"
                                 "outside/count.\n"
                                 "\n"
                                 "Trace files: safetensors; modules under vLLM's names (model.layers.N.\n"
                                 "self_attn.qkv_proj, ...o_proj, ...mlp.gate_up_proj, ...down_proj, lm_head,\n"
                                 "...self_attn.attn.impl.k_cache / v_cache / matmul_qk / softmax /\n"
                                 "matmul_av); forward call k >= 1 under \"step<k>.\". For a module M:\n"
                                 "  M.input.I, M.output.0   F32 [tokens][features] (fused q|k|v, gate|up\n"
                                 "                          outputs side by side; attention internals\n"
                                 "                          [heads][tokens][len or head_dim])\n"
                                 "  M.input.0.scale         F32 input scales, [1] per tensor or [tokens]\n"
                                 "  M.input.0.fp8           the codes made with them: the W8A8 GEMM's input\n"
                                 "                          (F8_E4M3), the FP8 KV cache's rows\n"
                                 "  M.weight.scale          F32 [shards] per tensor or [out] per channel\n"
                                 "  M.weight.fp8            F8_E4M3 [out][in] (--trace-weights)\n"
                                 "  M.input_scale           static activation / KV-cache / INC scales\n"
                                 "Metadata: format fp8q-trace-1, fp8q_version, simd, quant, scheme,\n"
                                 "kv_cache, engine, gemm, threads, layers, heads, steps, weights, command,\n"
                                 "checkpoint, tokens, and generated or batch.\n"
                                 "\n"
                                 "Exit status: 0 no differences, 1 differences, 2 a usage error or a file\n"
                                 "that cannot be read.\n";

/* "[2, 64]" into buf. */
static const char *shape_str(char *buf, size_t cap, const fp8q_tensor_info *t)
{
    size_t len = 0;
    int k;
    char num[24];
    len += (size_t)snprintf(buf, cap, "[");
    for (k = 0; k < t->ndim && len < cap; k++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", k ? ", " : "", fmt_u64(num, t->shape[k]));
    if (len < cap) (void)snprintf(buf + len, cap - len, "]");
    return buf;
}

/* A name for the terminal: control characters become '?'. */
static void print_name(const char *s)
{
    for (; *s; s++) putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static const char *dtype_name(fp8q_dtype d)
{
    const fp8q_dtype_info *di = fp8q_dtype_get(d);
    return di ? di->name : "?";
}

/* One table row: status kind max_abs max_rel max_ulp outside/count tensor. */
static void print_diff_row(const fp8q_diff_entry *e)
{
    char cnt[56], a[24], b[24];
    const int cmp = e->status == FP8Q_DIFF_OK || e->status == FP8Q_DIFF_OUTSIDE || e->status == FP8Q_DIFF_AFTER_FLIP;
    const char *status = e->status == FP8Q_DIFF_OUTSIDE ? "OUTSIDE" : fp8q_diff_status_name(e->status);
    if (cmp) {
        (void)snprintf(cnt, sizeof cnt, "%s/%s", fmt_u64(a, e->cmp.outside), fmt_u64(b, e->cmp.count));
        printf("%-10s %-9s %-10.3g %-10.3g %-10.0f %-15s ", status, fp8q_diff_class_name(e->kind), e->cmp.max_abs_err,
               e->cmp.max_rel_err, e->cmp.max_ulp, cnt);
    } else {
        printf("%-10s %-9s %-10s %-10s %-10s %-15s ", status, fp8q_diff_class_name(e->kind), "-", "-", "-", "-");
    }
    print_name(e->name);
    putchar('\n');
}

/* Metadata keys whose values differ (either file's order). */
static void print_meta_diff(const fp8q_safetensors *a, const fp8q_safetensors *b)
{
    size_t i, j, k;
    for (k = 0; k < 2; k++) {
        const fp8q_safetensors *x = k ? b : a, *y = k ? a : b;
        for (i = 0; i < x->n_metadata; i++) {
            for (j = 0; j < y->n_metadata && strcmp(x->meta_keys[i], y->meta_keys[j]) != 0; j++) continue;
            if (k && j < y->n_metadata) continue; /* printed in the first pass */
            if (j < y->n_metadata && strcmp(x->meta_values[i], y->meta_values[j]) == 0) continue;
            printf("metadata:  ");
            print_name(x->meta_keys[i]);
            printf(": ");
            if (k) printf("absent in A, ");
            putchar('\'');
            print_name(x->meta_values[i]);
            printf("'%s", k ? " in B\n" : " in A, ");
            if (k) continue;
            if (j < y->n_metadata) {
                putchar('\'');
                print_name(y->meta_values[j]);
                printf("' in B\n");
            } else
                printf("absent in B\n");
        }
    }
}

/* "first difference: MODULE (step k, tensor T: why)". */
static void print_first_diff(const fp8q_diff *d)
{
    const fp8q_diff_entry *e = &d->entries[d->first];
    char sa[160], sb[160], a[24], b[24];
    printf("first difference: ");
    print_name(e->module);
    printf(" (step %d, tensor ", e->step);
    print_name(e->name);
    if (e->status == FP8Q_DIFF_OUTSIDE)
        printf(": %s of %s outside, max abs %.3g, max ulp %.0f)\n", fmt_u64(a, e->cmp.outside),
               fmt_u64(b, e->cmp.count), e->cmp.max_abs_err, e->cmp.max_ulp);
    else if (e->status == FP8Q_DIFF_SHAPE)
        printf(": shape %s in A, %s in B)\n", shape_str(sa, sizeof sa, e->a), shape_str(sb, sizeof sb, e->b));
    else if (e->status == FP8Q_DIFF_DTYPE)
        printf(": dtype %s in A, %s in B)\n", dtype_name(e->a->dtype), dtype_name(e->b->dtype));
    else
        printf(": only in %s)\n", e->status == FP8Q_DIFF_ONLY_A ? "A" : "B");
}

/* Opens a file for diff: a file that cannot be read is exit status 2. */
static int open_for_diff(fp8q_safetensors *st, const char *path)
{
    fp8q_error err;
    fp8q_result r = fp8q_safetensors_open(st, path, &err);
    if (r == FP8Q_OK) return CLI_OK;
    lib_error(r, &err);
    return CLI_USAGE;
}

static int write_diff_json(const fp8q_diff *d, const cli_parsed *p, const char *path)
{
    char *json = NULL, q[256];
    size_t len = 0;
    fp8q_error err;
    fp8q_result r = fp8q_diff_json(d, p->pos[0], p->pos[1], &json, &len, &err);
    FILE *f;
    if (r != FP8Q_OK) return lib_error(r, &err), CLI_USAGE;
    if (!(f = fopen(path, "wb")) || fwrite(json, 1, len, f) != len || fclose(f) != 0) {
        runtime_error("cannot write %s: %s", quote(q, sizeof q, path), strerror(errno));
        free(json);
        return CLI_USAGE;
    }
    free(json);
    return CLI_OK;
}

static int parse_diff_opts(const cli_parsed *p, fp8q_diff_options *o)
{
    const char *v;
    int x = 0;
    static const cli_name modes[] = {{"auto", FP8Q_DIFF_AUTO}, {"exact", FP8Q_DIFF_EXACT}};
    memset(o, 0, sizeof *o);
    if ((v = opt(p, "--tolerance"))) {
        if (!parse_name("--tolerance", v, modes, COUNT(modes), &x)) return CLI_USAGE;
        o->mode = (fp8q_diff_mode)x;
    }
    if ((v = opt(p, "--atol")) && !(o->set_atol = parse_double("--atol", v, 0.0, 1e300, &o->atol))) return CLI_USAGE;
    if ((v = opt(p, "--rtol")) && !(o->set_rtol = parse_double("--rtol", v, 0.0, 1e300, &o->rtol))) return CLI_USAGE;
    if ((v = opt(p, "--fp8-codes")) && !(o->set_fp8_codes = parse_int("--fp8-codes", v, 0, 255, &o->fp8_codes)))
        return CLI_USAGE;
    if (o->mode == FP8Q_DIFF_EXACT && (o->set_atol || o->set_rtol || o->set_fp8_codes))
        return usage_error("--tolerance exact takes no --atol, --rtol or --fp8-codes");
    o->common_only = opt(p, "--common") != NULL;
    return CLI_OK;
}

static int cmd_diff(const cli_parsed *p)
{
    fp8q_safetensors a, b;
    fp8q_diff_options o;
    fp8q_diff d;
    fp8q_error err;
    fp8q_result r;
    const char *json = opt(p, "--json");
    int brief = opt(p, "--brief") != NULL, rc;
    size_t i;
    char n1[24], n2[24], n3[24], n4[24], n5[24], n6[24];
    memset(&a, 0, sizeof a), memset(&b, 0, sizeof b), memset(&d, 0, sizeof d);
    if ((rc = parse_diff_opts(p, &o)) != CLI_OK) return rc;
    if ((rc = open_for_diff(&a, p->pos[0])) != CLI_OK || (rc = open_for_diff(&b, p->pos[1])) != CLI_OK) goto out;
    if ((r = fp8q_diff_files(&d, &a, &b, &o, &err)) != FP8Q_OK) {
        lib_error(r, &err);
        rc = CLI_USAGE;
        goto out;
    }
    printf("%-10s %-9s %-10s %-10s %-10s %-15s %s\n", "status", "kind", "max_abs", "max_rel", "max_ulp",
           "outside/count", "tensor");
    for (i = 0; i < d.n_entries; i++)
        if (!brief || d.entries[i].differs) print_diff_row(&d.entries[i]);
    print_meta_diff(&a, &b);
    if (d.flip < d.n_entries) {
        printf("first flip: ");
        print_name(d.entries[d.flip].name);
        printf(" (codes up to %.0f apart; after it %s tensors outside the tolerance, not counted)\n",
               d.entries[d.flip].cmp.max_ulp, fmt_u64(n1, d.n_after_flip));
    }
    if (d.first < d.n_entries)
        print_first_diff(&d);
    else
        printf("no differences beyond the tolerance\n");
    printf("%s names: %s compared, %s outside the tolerance, %s shape/dtype mismatches, %s only in A, %s only in B\n",
           fmt_u64(n1, d.n_entries), fmt_u64(n2, d.n_compared), fmt_u64(n3, d.n_outside), fmt_u64(n4, d.n_mismatch),
           fmt_u64(n5, d.n_only_a), fmt_u64(n6, d.n_only_b));
    if (json && (rc = write_diff_json(&d, p, json)) != CLI_OK) goto out;
    rc = d.n_differ ? CLI_ERR : CLI_OK;
out:
    fp8q_diff_free(&d);
    fp8q_safetensors_close(&a);
    fp8q_safetensors_close(&b);
    return rc;
}

/* ================================================================== inc */

static const char USAGE_INC_MEASURE[] =
    "usage: fp8q inc measure DIR --config QUANT_CONFIG (--calib FILE | --calib-random N,LEN) [options]\n"
    "\n"
    "INC's MEASURE step (calibration) on the float model in DIR: runs the\n"
    "calibration sequences and writes, as INC does on Gaudi,\n"
    "  <dump_stats_path>_hooks_<observer>[_<rank>_<world>].json   (\"Mode\": \"DynamicRange\")\n"
    "  <dump_stats_path>_hooks_<observer>[_<rank>_<world>]_mod_list.json\n"
    "for the modules the config selects, under vLLM's module names\n"
    "(model.layers.N.self_attn.qkv_proj, ..., lm_head). The directory part of\n"
    "dump_stats_path is created if missing. The config's mode is not required\n"
    "to be MEASURE (INC forces it for the step it runs).\n"
    "\n"
    "options:\n"
    "  --config FILE         the QUANT_CONFIG JSON (default: $QUANT_CONFIG)\n"
    "  --calib FILE          calibration tokens ('calib_tokens' or 'tokens', I32/I64 [n, len])\n"
    "  --calib-random N,LEN  N random sequences of LEN tokens (as fp8q quantize)\n"
    "  --rank R --world W    the file-name suffix _R_W (default 0 and 1, as vLLM at TP=1)\n"
    "  --threads N           worker threads\n";

static const char USAGE_INC_SCALES[] =
    "usage: fp8q inc scales --config QUANT_CONFIG --measurements FILE.json --device gaudi2|gaudi3 --out FILE.json\n"
    "                       [--model DIR] [--ignore-missing] [--allow-other-device]\n"
    "\n"
    "INC's scale computation (QUANTIZE) from a measurement file of any model:\n"
    "writes the scale file (\"Mode\": \"Scale\") with a node per measured module\n"
    "whose op type fp8q knows from its name (linear layers, matmul_qk/matmul_av\n"
    "and the batch2block/block2batch matmuls, k_cache/v_cache, softmax; other\n"
    "ops are listed on stderr and skipped), with the scale method the config\n"
    "gives each module. Linear weight scales come from the measured max|W|\n"
    "(params.weight) unless --model names the checkpoint, whose actual weights\n"
    "are then used as INC does (needed for OPT and per-channel methods).\n"
    "A file computed for the other Gaudi (its g2/g3 directory or name, or\n"
    "HW-aligned scales outside Gaudi2's set) is refused: measurements and\n"
    "scales are device-specific. --allow-other-device uses it anyway.\n";

static const char USAGE_INC_POSTPROCESS[] =
    "usage: fp8q inc postprocess FILE.json... [--strict]\n"
    "\n"
    "Calibration step 3: in each measurement or scale file, makes matmul_qk's\n"
    "and matmul_av's second input equal the KV cache's input (k_cache, v_cache\n"
    "of the same attention), so that decode does not round K and V twice.\n"
    "Rewrites the files in place. --strict: only INC's script's names\n"
    "(model.layers.N.self_attn.attn.impl.*).\n";

static const char USAGE_INC_UNIFY[] = "usage: fp8q inc unify -r R --out-dir DIR FILE_0.json ... FILE_{W-1}.json\n"
                                      "\n"
                                      "Calibration step 5: merges the files of W ranks (in rank order) into R,\n"
                                      "each the element-wise maximum over a contiguous group of W/R ranks,\n"
                                      "named as the group's first file with _<rank>_<W> replaced by _<group>_<R>.\n";

static int load_inc_config(const char *path, fp8q_inc_config *cfg)
{
    fp8q_error err;
    fp8q_result r = path ? fp8q_inc_config_load(cfg, path, &err) : fp8q_inc_config_load_env(cfg, &err);
    size_t i;
    if (r != FP8Q_OK) return lib_error(r, &err);
    for (i = 0; i < cfg->n_warnings; i++) fprintf(stderr, "warning:    %s\n", fp8q_inc_config_warning(cfg, i));
    return CLI_OK;
}

/* INC.md 9.7: refuses a measurement or scale file computed for the other
   Gaudi unless --allow-other-device. */
static fp8q_result check_file_device(const char *path, const fp8q_inc_measure *meas, const fp8q_inc_config *cfg,
                                     int device, int allow, fp8q_error *err)
{
    fp8q_result r = fp8q_inc_check_file_device(path, meas, cfg, (fp8q_gaudi)device, err);
    if (r == FP8Q_OK || !allow) return r;
    fprintf(stderr, "warning:    %s (used anyway: --allow-other-device)\n", err->message);
    return FP8Q_OK;
}

static int load_run_model(const char *dir, const run_opts *r, fp8q_model *m)
{
    fp8q_inc_config cfg;
    fp8q_inc_measure meas;
    fp8q_error err;
    fp8q_result res;
    int rc;
    if ((rc = load_model(dir, &r->model, m)) != CLI_OK || !r->inc_config) return rc;
    memset(&cfg, 0, sizeof cfg), memset(&meas, 0, sizeof meas);
    if ((rc = load_inc_config(r->inc_config, &cfg)) != CLI_OK) return rc;
    res = r->inc_measurements ? fp8q_inc_measure_load(&meas, r->inc_measurements, &err) : FP8Q_OK;
    if (res == FP8Q_OK && r->inc_measurements)
        res = check_file_device(r->inc_measurements, &meas, &cfg, r->device, r->allow_other_device, &err);
    if (res == FP8Q_OK)
        res = fp8q_model_apply_inc(m, &cfg, r->inc_measurements ? &meas : NULL, (fp8q_gaudi)r->device, NULL, &err);
    fp8q_inc_measure_free(&meas);
    fp8q_inc_config_free(&cfg);
    return res == FP8Q_OK ? CLI_OK : lib_error(res, &err);
}

static const char USAGE_INC_QUANTIZE[] =
    "usage: fp8q inc quantize DIR --config QUANT_CONFIG --measurements FILE.json --device gaudi2|gaudi3\n"
    "                         [--out SCALES.json] [--allow-other-device]\n"
    "\n"
    "INC's QUANTIZE step (calibration step 4) on the float model in DIR: computes\n"
    "every selected module's scales from the measurements and the actual\n"
    "weights and writes the scale file INC writes (\"Mode\": \"Scale\"), by\n"
    "default <dump_stats_path>_hooks_<observer>_<METHOD>_<rank>_<world>.json with\n"
    "the measurement file's LocalRank and world 1. To run the quantized model:\n"
    "fp8q generate|logits DIR --inc-config CFG --inc-measurements FILE --device D.\n"
    "A file computed for the other Gaudi (its g2/g3 directory or name, or\n"
    "HW-aligned scales outside Gaudi2's set) is refused: measurements and\n"
    "scales are device-specific. --allow-other-device uses it anyway.\n";

static int cmd_inc_quantize(const cli_parsed *p)
{
    const char *v, *out = opt(p, "--out"), *mpath = opt(p, "--measurements");
    fp8q_inc_config cfg;
    fp8q_inc_measure meas, scales;
    fp8q_model_options mo;
    fp8q_model m;
    fp8q_error err;
    fp8q_result r;
    char path[1024];
    int dev = 0, rc;
    memset(&cfg, 0, sizeof cfg), memset(&meas, 0, sizeof meas), memset(&scales, 0, sizeof scales);
    memset(&m, 0, sizeof m), memset(&mo, 0, sizeof mo);
    if (!mpath) return usage_error("missing --measurements FILE.json");
    if (!(v = opt(p, "--device"))) return usage_error("missing --device (gaudi2, gaudi3)");
    if (!parse_name("--device", v, DEVICES, COUNT(DEVICES), &dev)) return CLI_USAGE;
    if ((rc = load_inc_config(opt(p, "--config"), &cfg)) != CLI_OK) return rc;
    rc = CLI_ERR;
    mo.quant = FP8Q_QUANT_NONE;
    if ((r = fp8q_model_load(&m, p->pos[0], &mo, &err)) != FP8Q_OK ||
        (r = fp8q_inc_measure_load(&meas, mpath, &err)) != FP8Q_OK ||
        (r = check_file_device(mpath, &meas, &cfg, dev, opt(p, "--allow-other-device") != NULL, &err)) != FP8Q_OK ||
        (r = fp8q_model_apply_inc(&m, &cfg, &meas, (fp8q_gaudi)dev, &scales, &err)) != FP8Q_OK) {
        lib_error(r, &err);
        goto out;
    }
    if (!out) {
        (void)fp8q_inc_file_name(&cfg, FP8Q_INC_FILE_SCALE, meas.local_rank_null ? -1 : (int)meas.local_rank, 1, path,
                                 sizeof path);
        out = path;
    }
    if ((r = fp8q_inc_measure_write(out, &scales, 4, &err)) != FP8Q_OK) {
        lib_error(r, &err);
        goto out;
    }
    fprintf(stderr, "%s: %zu modules -> %s\n", m.scheme, scales.n_nodes, out);
    rc = CLI_OK;
out:
    fp8q_inc_measure_free(&scales);
    fp8q_inc_measure_free(&meas);
    fp8q_inc_config_free(&cfg);
    fp8q_model_free(&m);
    return rc;
}

static int cmd_inc_measure(const cli_parsed *p)
{
    const char *dir = p->pos[0], *v, *calib_path = opt(p, "--calib"), *calib_spec = opt(p, "--calib-random");
    fp8q_inc_config cfg;
    fp8q_model_options mo;
    fp8q_model m;
    fp8q_inc_measure meas;
    calib_tokens calib = {NULL, 0, 0};
    char path[1024], list[1024];
    int rank = 0, world = 1, rc;
    fp8q_error err;
    fp8q_result r;
    memset(&cfg, 0, sizeof cfg), memset(&m, 0, sizeof m), memset(&meas, 0, sizeof meas), memset(&mo, 0, sizeof mo);
    if (!!calib_path == !!calib_spec) return usage_error("give exactly one of --calib FILE and --calib-random N,LEN");
    if ((v = opt(p, "--rank")) && !parse_int("--rank", v, 0, 1 << 20, &rank)) return CLI_USAGE;
    if ((v = opt(p, "--world")) && !parse_int("--world", v, 1, 1 << 20, &world)) return CLI_USAGE;
    if (rank >= world) return usage_error("--rank %d must be below --world %d", rank, world);
    mo.quant = FP8Q_QUANT_NONE, mo.gemm = FP8Q_GEMM_FAST, mo.threads = default_threads();
    if ((v = opt(p, "--threads")) && !parse_int("--threads", v, 1, 1024, &mo.threads)) return CLI_USAGE;
    if ((rc = load_inc_config(opt(p, "--config"), &cfg)) != CLI_OK) return rc;
    rc = CLI_ERR;
    if ((r = fp8q_model_load(&m, dir, &mo, &err)) != FP8Q_OK) {
        lib_error(r, &err);
        goto out;
    }
    if (calib_spec && (rc = calib_random(calib_spec, &m.config, &calib)) != CLI_OK) goto out;
    if (calib_path && (rc = calib_file(calib_path, &m.config, &calib)) != CLI_OK) goto out;
    rc = CLI_ERR;
    if ((r = fp8q_inc_measure_model(&meas, &m, &cfg, calib.ids, calib.n, calib.len, rank, &err)) != FP8Q_OK) {
        lib_error(r, &err);
        goto out;
    }
    if (cfg.dump_dir && cfg.dump_dir[0] && !path_exists(cfg.dump_dir) && make_dir(cfg.dump_dir) != 0) {
        runtime_error("cannot create the dump directory %s", cfg.dump_dir);
        goto out;
    }
    (void)fp8q_inc_file_name(&cfg, FP8Q_INC_FILE_MEASURE, rank, world, path, sizeof path);
    (void)fp8q_inc_file_name(&cfg, FP8Q_INC_FILE_MOD_LIST, rank, world, list, sizeof list);
    if ((r = fp8q_inc_measure_write(path, &meas, 4, &err)) != FP8Q_OK ||
        (r = fp8q_inc_write_mod_list(list, &meas, &err)) != FP8Q_OK) {
        lib_error(r, &err);
        goto out;
    }
    fprintf(stderr, "measured %zu modules over %d x %d tokens -> %s, %s\n", meas.n_nodes, calib.n, calib.len, path,
            list);
    rc = CLI_OK;
out:
    fp8q_inc_measure_free(&meas);
    fp8q_model_free(&m);
    fp8q_inc_config_free(&cfg);
    free(calib.ids);
    return rc;
}

/* The op type of a module from its name's last component; -1: not handled. */
static int inc_op_of(const char *name, int *is_linear_proj)
{
    static const struct {
        const char *suffix;
        int op;
    } ops[] = {{"matmul_qk", FP8Q_INC_OP_MATMUL},
               {"matmul_av", FP8Q_INC_OP_MATMUL},
               {"batch2block_matmul", FP8Q_INC_OP_MATMUL},
               {"block2batch_matmul", FP8Q_INC_OP_MATMUL},
               {"k_cache", FP8Q_INC_OP_KV_CACHE},
               {"v_cache", FP8Q_INC_OP_KV_CACHE},
               {"softmax", FP8Q_INC_OP_SOFTMAX},
               {"moe_op", FP8Q_INC_OP_DYNAMIC_MOE},
               {"fused_scaled_dot_product_attention", FP8Q_INC_OP_FUSED_SDPA}};
    const char *last = strrchr(name, '.');
    size_t i;
    last = last ? last + 1 : name;
    *is_linear_proj = 0;
    for (i = 0; i < COUNT(ops); i++)
        if (strcmp(last, ops[i].suffix) == 0) return ops[i].op;
    *is_linear_proj = 1; /* anything with a weight and one input is treated as a linear layer */
    return FP8Q_INC_OP_LINEAR;
}

/* A linear module's weight scales from the measured max|W| (PTS MAXABS / FIXED only). */
static int inc_weight_from_measure(const fp8q_inc_node *n, const fp8q_inc_scale_cfg *wc, fp8q_gaudi dev, float *s)
{
    size_t i;
    float mx = 0.0f;
    if (!n->has_params || n->n_params < 1 || n->params[0].is_dict || !n->params[0].entries) return 0;
    for (i = 0; i < n->params[0].entries[0].rows * n->params[0].entries[0].cols; i++) {
        float v = (float)n->params[0].entries[0].v[i];
        mx = v > mx || v != v ? v : mx;
    }
    if (wc->granularity != FP8Q_INC_PTS || wc->value_type == FP8Q_INC_OPT) return -1;
    *s = wc->value_type == FP8Q_INC_FIXED_VALUE ? (wc->rounding == FP8Q_INC_UNIT ? 1.0f
                                                   : dev == FP8Q_GAUDI2          ? 16.0f
                                                                                 : 128.0f)
                                                : fp8q_inc_scale(mx, wc->rounding, dev, wc->backoff);
    return 1;
}

static int cmd_inc_scales(const cli_parsed *p)
{
    const char *meas_path = opt(p, "--measurements"), *out = opt(p, "--out"), *v, *model_dir = opt(p, "--model");
    fp8q_inc_config cfg;
    fp8q_inc_measure meas, scales;
    fp8q_model m;
    int dev = 0, rc = CLI_ERR, skipped = 0;
    size_t i;
    fp8q_error err;
    fp8q_result r;
    memset(&cfg, 0, sizeof cfg), memset(&meas, 0, sizeof meas), memset(&scales, 0, sizeof scales);
    memset(&m, 0, sizeof m);
    if (!meas_path || !out) return usage_error("--measurements and --out are required (see fp8q inc scales --help)");
    if (!(v = opt(p, "--device"))) return usage_error("missing --device (gaudi2, gaudi3)");
    if (!parse_name("--device", v, DEVICES, COUNT(DEVICES), &dev)) return CLI_USAGE;
    if ((rc = load_inc_config(opt(p, "--config"), &cfg)) != CLI_OK) return rc;
    rc = CLI_ERR;
    if ((r = fp8q_inc_config_check_device(&cfg, (fp8q_gaudi)dev, &err)) != FP8Q_OK ||
        (r = fp8q_inc_measure_load(&meas, meas_path, &err)) != FP8Q_OK ||
        (r = check_file_device(meas_path, &meas, &cfg, dev, opt(p, "--allow-other-device") != NULL, &err)) != FP8Q_OK) {
        lib_error(r, &err);
        goto out;
    }
    if (model_dir) {
        fp8q_model_options mo;
        memset(&mo, 0, sizeof mo);
        mo.quant = FP8Q_QUANT_NONE;
        if ((r = fp8q_model_load(&m, model_dir, &mo, &err)) != FP8Q_OK) {
            lib_error(r, &err);
            goto out;
        }
    }
    fp8q_inc_measure_init(&scales, FP8Q_INC_MEASURE_SCALE);
    scales.has_local_rank = meas.has_local_rank, scales.local_rank_null = meas.local_rank_null;
    scales.local_rank = meas.local_rank;
    for (i = 0; i < meas.n_nodes; i++) {
        const fp8q_inc_node *n = &meas.nodes[i];
        const fp8q_inc_scale_entry *e = fp8q_inc_config_scale_entry(&cfg, n->name, "");
        const fp8q_inc_method *method = e && e->method ? e->method : cfg.method;
        fp8q_inc_scale_cfg wc = method->weight, ac = method->activation;
        fp8q_inc_node node;
        float ws[1] = {1.0f};
        int lin, op = inc_op_of(n->name, &lin), k;
        memset(&node, 0, sizeof node);
        if (op == FP8Q_INC_OP_LINEAR) {
            if (!n->has_params || n->n_inputs != 1) { /* MoE ops, fused SDPA, routers without weights... */
                fprintf(stderr, "skipped:    %s (op type not handled)\n", n->name);
                skipped++;
                continue;
            }
            if (e) wc = e->weight, ac = e->activation; /* dict form: the entry's own backoffs */
            k = inc_weight_from_measure(n, &wc, (fp8q_gaudi)dev, ws);
            if (k <= 0) {
                runtime_error("%s: method %s needs the actual weights (give --model DIR)", n->name, method->name);
                goto out;
            }
        } else if (e)
            wc = e->weight, ac = e->activation;
        r = fp8q_inc_node_scales(&node, n->name, (fp8q_inc_op)op, n, op == FP8Q_INC_OP_LINEAR ? ws : NULL,
                                 op == FP8Q_INC_OP_LINEAR ? 1 : 0, 0, &wc, &ac, (fp8q_gaudi)dev,
                                 cfg.ignore_modules_wo_measures ? FP8Q_INC_IGNORE_MISSING : 0, &err);
        if (r == FP8Q_OK && node.name) r = fp8q_inc_measure_add_node(&scales, &node, &err);
        fp8q_inc_node_free(&node);
        if (r != FP8Q_OK) {
            lib_error(r, &err);
            goto out;
        }
    }
    if ((r = fp8q_inc_measure_write(out, &scales, 4, &err)) != FP8Q_OK) {
        lib_error(r, &err);
        goto out;
    }
    fprintf(stderr, "scales (%s, %s) for %zu of %zu nodes -> %s\n", cfg.method ? cfg.method->name : "?",
            DEVICES[dev == FP8Q_GAUDI2 ? 0 : 1].name, scales.n_nodes, meas.n_nodes, out);
    rc = CLI_OK;
out:
    fp8q_inc_measure_free(&meas);
    fp8q_inc_measure_free(&scales);
    fp8q_inc_config_free(&cfg);
    fp8q_model_free(&m);
    (void)skipped;
    return rc;
}

static int cmd_inc_postprocess(const cli_parsed *p)
{
    int i, strict = opt(p, "--strict") != NULL;
    for (i = 0; i < p->n_pos; i++) {
        fp8q_inc_measure meas;
        fp8q_error err;
        fp8q_result r;
        size_t changed = 0;
        memset(&meas, 0, sizeof meas);
        if ((r = fp8q_inc_measure_load(&meas, p->pos[i], &err)) != FP8Q_OK ||
            (r = fp8q_inc_postprocess_kv(&meas, strict ? FP8Q_INC_KV_STRICT : 0, &changed, &err)) != FP8Q_OK ||
            (r = fp8q_inc_measure_write(p->pos[i], &meas, 4, &err)) != FP8Q_OK) {
            fp8q_inc_measure_free(&meas);
            return lib_error(r, &err);
        }
        fprintf(stderr, "%s: %zu KV entries updated\n", p->pos[i], changed);
        fp8q_inc_measure_free(&meas);
    }
    return CLI_OK;
}

/* name with its "_<rank>_<world>" suffix (before ".json", or before "_mod_list.json") replaced. */
static int rank_renamed(const char *path, int rank, int world, int g, int R, char *out, size_t cap)
{
    const char *base = strrchr(path, '/'), *at;
    char old[48], repl[48];
    size_t pre;
    base = base ? base + 1 : path;
    (void)snprintf(old, sizeof old, "_%d_%d", rank, world);
    (void)snprintf(repl, sizeof repl, "_%d_%d", g, R);
    if (!(at = strstr(base, old))) return 0;
    pre = (size_t)(at - base);
    return snprintf(out, cap, "%.*s%s%s", (int)pre, base, repl, at + strlen(old)) < (int)cap;
}

static int cmd_inc_unify(const cli_parsed *p)
{
    const char *v, *out_dir = opt(p, "--out-dir");
    int R = 0, W = p->n_pos, g, i, rc = CLI_ERR;
    fp8q_inc_measure *in = NULL, *out = NULL;
    const fp8q_inc_measure **inp = NULL;
    fp8q_error err;
    fp8q_result r = FP8Q_OK;
    if (!(v = opt(p, "-r"))) return usage_error("missing -r R (the number of ranks to unify into)");
    if (!parse_int("-r", v, 1, 1 << 20, &R)) return CLI_USAGE;
    if (!out_dir) return usage_error("missing --out-dir DIR");
    if (W < 2 || R >= W || W % R) return usage_error("-r %d: need 1 <= R < W and W %% R == 0 (W = %d files)", R, W);
    in = (fp8q_inc_measure *)calloc((size_t)W, sizeof *in);
    out = (fp8q_inc_measure *)calloc((size_t)R, sizeof *out);
    inp = (const fp8q_inc_measure **)calloc((size_t)W, sizeof *inp);
    if (!in || !out || !inp) {
        runtime_error("out of memory");
        goto done;
    }
    for (i = 0; i < W && r == FP8Q_OK; i++) r = fp8q_inc_measure_load(&in[i], p->pos[i], &err), inp[i] = &in[i];
    if (r == FP8Q_OK) r = fp8q_inc_unify(inp, W, R, out, &err);
    if (r != FP8Q_OK) {
        lib_error(r, &err);
        goto done;
    }
    if (!path_exists(out_dir) && make_dir(out_dir) != 0) {
        runtime_error("cannot create %s", out_dir);
        goto done;
    }
    for (g = 0; g < R; g++) {
        char name[512], *path;
        if (!rank_renamed(p->pos[g * (W / R)], g * (W / R), W, g, R, name, sizeof name)) {
            runtime_error("%s: the file name has no _%d_%d suffix", p->pos[g * (W / R)], g * (W / R), W);
            goto done;
        }
        if (!(path = join_path(out_dir, name))) {
            runtime_error("out of memory");
            goto done;
        }
        r = fp8q_inc_measure_write(path, &out[g], 4, &err);
        if (r == FP8Q_OK)
            fprintf(stderr, "group %d (ranks %d-%d) -> %s\n", g, g * (W / R), (g + 1) * (W / R) - 1, path);
        free(path);
        if (r != FP8Q_OK) {
            lib_error(r, &err);
            goto done;
        }
    }
    rc = CLI_OK;
done:
    for (i = 0; in && i < W; i++) fp8q_inc_measure_free(&in[i]);
    for (g = 0; out && g < R; g++) fp8q_inc_measure_free(&out[g]);
    free(in), free(out), free((void *)inp);
    return rc;
}

/* ============================================================= commands */

static const cli_opt OPTS_INFO[] = {{"--no-load", NULL, 0}};
static const cli_opt OPTS_GENERATE[] = {{"--tokens", NULL, 1},
                                        {"--prompt", "-p", 1},
                                        {"--chat", NULL, 0},
                                        {"-n", NULL, 1},
                                        {"--temperature", NULL, 1},
                                        {"--top-p", NULL, 1},
                                        {"--seed", NULL, 1},
                                        {"--quant", NULL, 1},
                                        {"--kv-cache", NULL, 1},
                                        {"--engine", NULL, 1},
                                        {"--gemm", NULL, 1},
                                        {"--threads", NULL, 1},
                                        {"--stats", NULL, 0},
                                        {"--inc-config", NULL, 1},
                                        {"--inc-measurements", NULL, 1},
                                        {"--device", NULL, 1},
                                        {"--allow-other-device", NULL, 0},
                                        {"--trace", NULL, 1},
                                        {"--trace-weights", NULL, 0}};
static const cli_opt OPTS_PERPLEXITY[] = {{"--text", NULL, 1},
                                          {"--ctx", NULL, 1},
                                          {"--max-tokens", NULL, 1},
                                          {"--argmax-out", NULL, 1},
                                          {"--argmax-ref", NULL, 1},
                                          {"--tokens-out", NULL, 1},
                                          {"--tokenize-only", NULL, 0},
                                          {"--tokenizer", NULL, 1},
                                          {"--quant", NULL, 1},
                                          {"--kv-cache", NULL, 1},
                                          {"--engine", NULL, 1},
                                          {"--gemm", NULL, 1},
                                          {"--threads", NULL, 1},
                                          {"--inc-config", NULL, 1},
                                          {"--inc-measurements", NULL, 1},
                                          {"--device", NULL, 1},
                                          {"--allow-other-device", NULL, 0}};
static const cli_opt OPTS_IMPORT[] = {{"--dtype", NULL, 1}};
static const cli_opt OPTS_CHAT[] = {{"-n", NULL, 1},        {"--temperature", NULL, 1}, {"--top-p", NULL, 1},
                                    {"--seed", NULL, 1},    {"--quant", NULL, 1},       {"--kv-cache", NULL, 1},
                                    {"--threads", NULL, 1}, {"--device", NULL, 1}};
static const cli_opt OPTS_LOGITS[] = {{"--tokens", NULL, 1},
                                      {"--out", "-o", 1},
                                      {"--batch", NULL, 1},
                                      {"--quant", NULL, 1},
                                      {"--kv-cache", NULL, 1},
                                      {"--engine", NULL, 1},
                                      {"--gemm", NULL, 1},
                                      {"--threads", NULL, 1},
                                      {"--stats", NULL, 0},
                                      {"--inc-config", NULL, 1},
                                      {"--inc-measurements", NULL, 1},
                                      {"--device", NULL, 1},
                                      {"--allow-other-device", NULL, 0},
                                      {"--trace", NULL, 1},
                                      {"--trace-weights", NULL, 0}};
static const cli_opt OPTS_QUANTIZE[] = {{"--scheme", NULL, 1},       {"--kv-cache", NULL, 0}, {"--calib", NULL, 1},
                                        {"--calib-random", NULL, 1}, {"--ignore", NULL, 1},   {"--threads", NULL, 1}};
static const cli_opt OPTS_SYNTH[] = {
    {"--preset", NULL, 1}, {"--dtype", NULL, 1}, {"--seed", NULL, 1}, {"--layers", NULL, 1}};

/* Every option table fits cli_parsed.value (a negative array size otherwise). */
typedef char cli_opts_fit[COUNT(OPTS_GENERATE) <= CLI_MAX_OPTS && COUNT(OPTS_LOGITS) <= CLI_MAX_OPTS &&
                                  COUNT(OPTS_QUANTIZE) <= CLI_MAX_OPTS && COUNT(OPTS_SYNTH) <= CLI_MAX_OPTS
                              ? 1
                              : -1];

static const cli_opt OPTS_INC_MEASURE[] = {{"--config", NULL, 1}, {"--calib", NULL, 1}, {"--calib-random", NULL, 1},
                                           {"--rank", NULL, 1},   {"--world", NULL, 1}, {"--threads", NULL, 1}};
static const cli_opt OPTS_INC_SCALES[] = {{"--config", NULL, 1},
                                          {"--measurements", NULL, 1},
                                          {"--device", NULL, 1},
                                          {"--out", "-o", 1},
                                          {"--model", NULL, 1},
                                          {"--ignore-missing", NULL, 0},
                                          {"--allow-other-device", NULL, 0}};
static const cli_opt OPTS_INC_POSTPROCESS[] = {{"--strict", NULL, 0}};
static const cli_opt OPTS_INC_QUANTIZE[] = {{"--config", NULL, 1},
                                            {"--measurements", NULL, 1},
                                            {"--device", NULL, 1},
                                            {"--out", "-o", 1},
                                            {"--allow-other-device", NULL, 0}};
static const cli_opt OPTS_INC_UNIFY[] = {{"-r", NULL, 1}, {"--out-dir", NULL, 1}};
static const char *const POS_FILE[] = {"FILE"};
static const char *const POS_DIR[] = {"DIR"};
static const char *const POS_IN_OUT[] = {"IN", "OUT"};
static const char *const POS_A_B[] = {"A.safetensors", "B.safetensors"};
static const cli_opt OPTS_DIFF[] = {{"--json", NULL, 1},      {"--atol", NULL, 1},      {"--rtol", NULL, 1},
                                    {"--tolerance", NULL, 1}, {"--fp8-codes", NULL, 1}, {"--common", NULL, 0},
                                    {"--brief", NULL, 0}};

static const cli_command COMMANDS[] = {
    {"info", "describe a checkpoint: shape, tensors, scheme, memory", USAGE_INFO, OPTS_INFO, COUNT(OPTS_INFO), 1, 1,
     POS_DIR, cmd_info},
    {"generate", "generate token ids from a prompt of token ids", USAGE_GENERATE, OPTS_GENERATE, COUNT(OPTS_GENERATE),
     1, 1, POS_DIR, cmd_generate},
    {"perplexity", "perplexity and greedy agreement on a text", USAGE_PERPLEXITY, OPTS_PERPLEXITY,
     COUNT(OPTS_PERPLEXITY), 1, 1, POS_DIR, cmd_perplexity},
    {"import", "write a GGUF file's Llama as a Hugging Face checkpoint", USAGE_IMPORT, OPTS_IMPORT, COUNT(OPTS_IMPORT),
     2, 2, POS_IN_OUT, cmd_import},
    {"chat", "answer messages from stdin through the model's chat template", USAGE_CHAT, OPTS_CHAT, COUNT(OPTS_CHAT), 1,
     1, POS_DIR, cmd_chat},
    {"logits", "write the logits of every position (float32)", USAGE_LOGITS, OPTS_LOGITS, COUNT(OPTS_LOGITS), 1, 1,
     POS_DIR, cmd_logits},
    {"quantize", "write a compressed-tensors FP8 checkpoint", USAGE_QUANTIZE, OPTS_QUANTIZE, COUNT(OPTS_QUANTIZE), 2, 2,
     POS_IN_OUT, cmd_quantize},
    {"synth", "write a Llama checkpoint with random weights", USAGE_SYNTH, OPTS_SYNTH, COUNT(OPTS_SYNTH), 1, 1, POS_DIR,
     cmd_synth},
    {"diff", "compare two traces (or any safetensors files) tensor by tensor", USAGE_DIFF, OPTS_DIFF, COUNT(OPTS_DIFF),
     2, 2, POS_A_B, cmd_diff},
    {"version", "print the library version", USAGE_VERSION, NULL, 0, 0, 0, NULL, cmd_version},
};

/* "fp8q inc SUBCOMMAND": INC (Intel Neural Compressor) calibration files. */
static const cli_command INC_COMMANDS[] = {
    {"measure", "INC MEASURE: calibration measurements of a model", USAGE_INC_MEASURE, OPTS_INC_MEASURE,
     COUNT(OPTS_INC_MEASURE), 1, 1, POS_DIR, cmd_inc_measure},
    {"quantize", "INC QUANTIZE: the scale file of a model from its measurements", USAGE_INC_QUANTIZE, OPTS_INC_QUANTIZE,
     COUNT(OPTS_INC_QUANTIZE), 1, 1, POS_DIR, cmd_inc_quantize},
    {"scales", "INC scale file from a measurement file (any model)", USAGE_INC_SCALES, OPTS_INC_SCALES,
     COUNT(OPTS_INC_SCALES), 0, 0, NULL, cmd_inc_scales},
    {"postprocess", "calibration step 3: KV-cache scales into the attention matmuls", USAGE_INC_POSTPROCESS,
     OPTS_INC_POSTPROCESS, COUNT(OPTS_INC_POSTPROCESS), 1, CLI_MAX_POS, POS_FILE, cmd_inc_postprocess},
    {"unify", "calibration step 5: merge the files of W ranks into R", USAGE_INC_UNIFY, OPTS_INC_UNIFY,
     COUNT(OPTS_INC_UNIFY), 2, CLI_MAX_POS, POS_FILE, cmd_inc_unify},
};

static void print_inc_commands(FILE *f)
{
    int i;
    fprintf(f, "usage: fp8q inc SUBCOMMAND [ARGS...]\n\nIntel Neural Compressor (INC) FP8 calibration files.\n\n"
               "subcommands:\n");
    for (i = 0; i < COUNT(INC_COMMANDS); i++) fprintf(f, "  %-12s %s\n", INC_COMMANDS[i].name, INC_COMMANDS[i].summary);
    fprintf(f, "\n'fp8q inc SUBCOMMAND --help' describes one.\n");
}

static int run_inc(int argc, char **argv)
{
    cli_parsed p;
    char q[128];
    int i, rc;
    if (argc < 1) {
        print_inc_commands(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        print_inc_commands(stdout);
        return CLI_OK;
    }
    for (i = 0; i < COUNT(INC_COMMANDS); i++)
        if (strcmp(argv[0], INC_COMMANDS[i].name) == 0) break;
    if (i == COUNT(INC_COMMANDS))
        return usage_error("unknown subcommand %s (see fp8q inc --help)", quote(q, sizeof q, argv[0]));
    if ((rc = parse_args(&INC_COMMANDS[i], argc - 1, argv + 1, &p)) >= 0) return rc;
    return INC_COMMANDS[i].run(&p);
}

static void print_commands(FILE *f)
{
    int i;
    fprintf(f,
            "usage: fp8q COMMAND [ARGS...]\n\nFP8 Llama checkpoints from the command line (fp8q %s).\n\n"
            "commands:\n",
            fp8q_version());
    for (i = 0; i < COUNT(COMMANDS); i++) fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "  %-10s %s\n", "inc", "Intel Neural Compressor calibration: measure, scales, postprocess, unify");
    fprintf(f, "  %-10s %s\n", "vectors", "write FP8 conformance test vectors (conversions, recipes, exact GEMM)");
    fprintf(f, "\n'fp8q COMMAND --help' describes a command. Exit status: 0 success, 1 runtime\n"
               "error, 2 usage error.\n");
}

static const cli_command *find_command(const char *name)
{
    int i;
    for (i = 0; i < COUNT(COMMANDS); i++)
        if (strcmp(name, COMMANDS[i].name) == 0) return &COMMANDS[i];
    return NULL;
}

/* tools/cli_vectors.c */
int fp8q_cli_vectors(int argc, char **argv);

int main(int argc, char **argv)
{
    const cli_command *cmd;
    cli_parsed p;
    char q[128];
    int rc;
    if (argc < 2) {
        print_commands(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        if (argc > 2 && (cmd = find_command(argv[2])) != NULL) {
            fputs(cmd->usage, stdout);
            return CLI_OK;
        }
        if (argc > 2) return usage_error("unknown command %s (see fp8q --help)", quote(q, sizeof q, argv[2]));
        print_commands(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) return cmd_version(NULL);
    if (strcmp(argv[1], "inc") == 0) {
        rc = run_inc(argc - 2, argv + 2);
        if (fflush(stdout) != 0 && rc == CLI_OK) rc = runtime_error("cannot write to stdout");
        return rc;
    }
    if (strcmp(argv[1], "vectors") == 0) {
        rc = fp8q_cli_vectors(argc - 1, argv + 1);
        if (fflush(stdout) != 0 && rc == CLI_OK) rc = runtime_error("cannot write to stdout");
        return rc;
    }
    if (!(cmd = find_command(argv[1])))
        return usage_error("unknown command %s (see fp8q --help)", quote(q, sizeof q, argv[1]));
    if ((rc = parse_args(cmd, argc - 2, argv + 2, &p)) >= 0) return rc;
    rc = cmd->run(&p);
    if (fflush(stdout) != 0 && rc == CLI_OK) rc = runtime_error("cannot write to stdout");
    return rc;
}
