/*
 * bench/c/driver.h -- what the two bench drivers, bench/c/step.c (firmware/core) and
 * bench/c/fused.c (the tuned fused kernel), share: the weight hashes of a dump, the
 * CPU-time clock of a bench and the command-line helpers. Included once by each
 * (static functions; needs <stdint.h>, <stdio.h>, <stdlib.h>, <string.h>, <time.h>).
 */

/* FNV-1a 64 over int16 codes as 2 bytes little-endian. */
static uint64_t fnv1a(uint64_t h, const int16_t *v, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        uint16_t u = (uint16_t)v[k];
        h = (h ^ (u & 0xFF)) * UINT64_C(0x100000001b3);
        h = (h ^ (u >> 8)) * UINT64_C(0x100000001b3);
    }
    return h;
}

/* One JSON line: the hash of W then R then V, and of each, at step t. */
static void print_weight_hashes(const char *what, unsigned long long t, const int16_t *w, size_t nw, const int16_t *r,
                                size_t nr, const int16_t *v, size_t nv)
{
    const uint64_t off = UINT64_C(0xcbf29ce484222325);
    uint64_t all = fnv1a(fnv1a(fnv1a(off, w, nw), r, nr), v, nv);
    printf("{\"%s\":true,\"t\":%llu,\"fnv1a64\":\"%016llx\",\"w\":\"%016llx\",\"r\":\"%016llx\",\"v\":\"%016llx\"}\n", what, t,
           (unsigned long long)all, (unsigned long long)fnv1a(off, w, nw), (unsigned long long)fnv1a(off, r, nr),
           (unsigned long long)fnv1a(off, v, nv));
}

/* CPU time of this process: on a shared machine, time other processes take from us
 * does not count (the emulator side measures process.cpuUsage() likewise). */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A whole decimal number in [lo, hi] into *out; 0 if s is not one. */
static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

/* The optional last word skip|noskip (row skipping on or off, same bits) into *row_skip, removed from argv. */
static void take_skip_word(int *argc, char **argv, int *row_skip)
{
    if (*argc < 2)
        return;
    const char *last = argv[*argc - 1];
    if (strcmp(last, "skip") == 0 || strcmp(last, "noskip") == 0) {
        *row_skip = last[0] == 's';
        (*argc)--;
    }
}

/* Number of codes that differ between two tensors (dumps only: how much the update path is exercised). */
static long count_changed(const int16_t *a, const int16_t *b, size_t n)
{
    long c = 0;
    for (size_t k = 0; k < n; k++)
        c += a[k] != b[k];
    return c;
}
