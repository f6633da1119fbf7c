/* The test harness shared by the fp8q test programs: CHECK(cond, fmt, ...)
   records a mismatch (printing the first few of each case), run_case() runs
   one named case and counts it as passed or failed. Each program prints the
   closing line "N passed, N failed[, N skipped]" itself. Include after
   <stdio.h>. */
#ifndef FP8Q_TEST_HARNESS_H
#define FP8Q_TEST_HARNESS_H

static int g_passed, g_failed, g_case_failures;

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            if (g_case_failures++ < 12) {                                                                              \
                printf("    %s:%d: ", __FILE__, __LINE__);                                                             \
                printf(__VA_ARGS__);                                                                                   \
                printf("\n");                                                                                          \
            }                                                                                                          \
        }                                                                                                              \
    } while (0)

static void run_case(const char *name, void (*fn)(void))
{
    g_case_failures = 0;
    fn();
    if (g_case_failures) {
        g_failed++;
        printf("FAIL %s (%d mismatches)\n", name, g_case_failures);
    } else {
        g_passed++;
        printf("ok   %s\n", name);
    }
}
#endif
