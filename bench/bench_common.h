/* Helpers shared by the fp8q benchmarks: a monotonic clock, buffers that are
   aligned and already paged in, and a fixed-seed generator (every run uses
   the same data). Include after <stdio.h>, <stdlib.h>, <string.h>, <time.h>
   with _POSIX_C_SOURCE >= 200112L. */
#ifndef FP8Q_BENCH_COMMON_H
#define FP8Q_BENCH_COMMON_H

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* 64-byte aligned, and written once so that no page fault happens inside a timed region. */
static void *alloc_touched(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0) {
        fprintf(stderr, "benchmark: out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    memset(p, 0, bytes);
    return p;
}

/* xorshift64 with a fixed seed. */
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static uint64_t next_u64(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}
#endif
