/*
 * bench/c/step.c -- the bench driver of the C kernel (firmware/core, the firmware's
 * own kernel: one C implementation in the repo): one online ANP-T training step
 * (forward of both copies + the update of that step) for B sequences, for ONE fixed
 * configuration:
 *
 *   I = 1 input, H hidden (tanh), O = 1 output, B sequences
 *   input    Q3.12  (iF = 12)     weight Q3.12 (wF = 12)     pre Q3.12 (pF = 12)
 *   activity Q0.15  (aF = 15)     output Q3.12 (oF = 12)
 *   all 16-bit signed, rounding nearest (ties to even), overflow sat
 *   no mismatch; hidden and output noise sigma = 4 LSB (4 * 2^-12 = 2^-10 real units)
 *   lrW = lrR = lrV = 0.1
 *
 * Build: make -C firmware host (npm run build:firmware), gcc -O3 -march=native:
 *   build/firmware/host/step       plain: firmware/core as the firmware runs it
 *   build/firmware/host/step-avx2  tuned: the same core with -DANPT_TUNED, whose dot
 *                                  products and update rows are bench/c/tuned.h's AVX2
 *                                  versions (same bits)
 *
 * Usage (a last word skip|noskip turns the core's row skip on (default) or off; same bits):
 *   step bench H B seconds [dL_scale]       one JSON line with the throughput (steps per
 *                                           CPU second) and the update rows skipped
 *   step dump  H B steps seed [dL_scale]    clean/noisy output codes and dL of every
 *                                           step, FNV-1a 64 hashes of W, R, V before
 *                                           and after, number of codes changed
 *
 * Workload (host side, not part of the chip; streams >= 100 are bench-only). seed is
 * the device seed, t the absolute step counter from 0, gauss(sigma, h) the spec's
 * Irwin-Hall(4) gauss():
 *   W_ij  = gauss(4096, mix64(key(seed, 100, 0, 0) ^ (i*I + j)))     sigma 1.0
 *   R_ij  = gauss(sR,   mix64(key(seed, 101, 0, 0) ^ (i*H + j)))     sR = nearest_even(0.9 * 4096 / sqrt(H))
 *   V_oj  = gauss(sV,   mix64(key(seed, 102, 0, 0) ^ (o*H + j)))     sV = nearest_even(4096 / sqrt(H))
 *   x_tbj = gauss(2048, mix64(key(seed, 103, b, t) ^ j))             input codes, std 0.5
 *   dL_t  = (double)gauss(4096, mix64(key(seed, 104, t, 0) ^ 0)) / 4096.0 * dL_scale (default 1e-5)
 * bench/c-workload.ts is the same workload on the emulator; bench/c/ref_step.py an
 * independent, spec-literal Python version of the dump.
 *
 * Hash: FNV-1a 64 over the int16 codes as 2 bytes little-endian, W (H x I) then R
 * (H x H) then V (O x H).
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c99 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../firmware/core/kernel.h"
#include "driver.h"

#define MAX_B 8192
#define MAX_H 16384

#if defined(ANPT_TUNED) && defined(__AVX2__)
#define KERNEL_NAME "avx2"
#elif defined(ANPT_TUNED)
#define KERNEL_NAME "portable"
#else
#define KERNEL_NAME "plain"
#endif

static anpt_kernel net;
static void *arena;
static int row_skip = 1; /* skip|noskip */

static void setup(int H, int B, uint64_t seed)
{
    anpt_config c;
    memset(&c, 0, sizeof c);
    c.I = 1; c.H = (uint32_t)H; c.O = 1; c.B = (uint32_t)B; c.K = 1;
    c.activation = ANPT_ACT_TANH;
    anpt_fmt_init(&c.in, 16, 12, 1, ANPT_RND_NEAREST, 0);
    anpt_fmt_init(&c.w, 16, 12, 1, ANPT_RND_NEAREST, 0);
    anpt_fmt_init(&c.pre, 16, 12, 1, ANPT_RND_NEAREST, 0);
    anpt_fmt_init(&c.act, 16, 15, 1, ANPT_RND_NEAREST, 0);
    anpt_fmt_init(&c.out, 16, 12, 1, ANPT_RND_NEAREST, 0);
    c.seed = seed;
    c.hidden_sigma_lsb = 4.0;
    c.output_sigma_lsb = 4.0;
    size_t bytes = anpt_layout_bytes(c.I, c.H, c.O, c.B, c.K, c.bias) + 8;
    arena = malloc(bytes); /* a bench driver on a desktop; the firmware's arena is static */
    if (!arena) {
        fprintf(stderr, "step: out of memory\n");
        exit(1);
    }
    anpt_init(&net, arena, bytes);
    anpt_set_row_skip(&net, row_skip);
    anpt_configure(&net, &c);
    int64_t sw = anpt_gauss_scale(4096.0);
    int64_t sr = anpt_gauss_scale(rint(0.9 * 4096.0 / sqrt((double)H)));
    int64_t sv = anpt_gauss_scale(rint(4096.0 / sqrt((double)H)));
    uint64_t kw = anpt_key(seed, 100, 0, 0), kr = anpt_key(seed, 101, 0, 0), kv = anpt_key(seed, 102, 0, 0);
    for (uint64_t n = 0; n < (uint64_t)H; n++) net.w[n] = (int16_t)anpt_gauss(sw, anpt_mix64(kw ^ n));
    for (uint64_t n = 0; n < (uint64_t)H * H; n++) net.r[n] = (int16_t)anpt_gauss(sr, anpt_mix64(kr ^ n));
    for (uint64_t n = 0; n < (uint64_t)H; n++) net.v[n] = (int16_t)anpt_gauss(sv, anpt_mix64(kv ^ n));
}

static double reward_of(uint64_t seed, uint32_t t, double scale)
{
    return (double)anpt_gauss(anpt_gauss_scale(4096.0), anpt_mix64(anpt_key(seed, 104, t, 0) ^ 0)) / 4096.0 * scale;
}

/* One online step t: inputs, forward of both copies, the update of that step. */
static void step(uint64_t seed, uint32_t t, double dl_scale, double *dl_out)
{
    int64_t scale = anpt_gauss_scale(2048.0);
    for (uint32_t b = 0; b < net.c.B; b++)
        net.inputs[b] = (int16_t)anpt_gauss(scale, anpt_mix64(anpt_key(seed, 103, b, t) ^ 0));
    anpt_run(&net, 1, t, 1);
    double dL = reward_of(seed, t, dl_scale);
    if (dl_out)
        *dl_out = dL;
    net.rewards[0] = dL;
    anpt_reward(&net, 1, t, 0.1, 0.1, 0.1);
}

static void print_hashes(const char *what, uint32_t t)
{
    size_t H = net.c.H;
    print_weight_hashes(what, t, net.w, H, net.r, H * H, net.v, H);
}

static int cmd_bench(int H, int B, double seconds, double dl_scale)
{
    setup(H, B, 1);
    double macs = (double)B * (H + 2.0 * H * H + 2.0 * H) + (double)B * (H + (double)H * H + H);
    uint32_t t = 0;
    double t0 = now_s();
    while (t < 2 || now_s() - t0 < 0.05 * seconds) /* warm up */
        step(1, t++, dl_scale, NULL);
    long steps = 0;
    net.rows_total = net.rows_skipped = 0;
    double start = now_s(), elapsed;
    do {
        step(1, t++, dl_scale, NULL);
        steps++;
        elapsed = now_s() - start;
    } while (elapsed < seconds);
    double sps = (double)steps / elapsed;
    printf("{\"H\":%d,\"B\":%d,\"steps_per_s\":%.6g,\"gmac_per_s\":%.6g,\"steps\":%ld,\"seconds\":%.4f,\"macs_per_step\":%.0f,"
           "\"kernel\":\"%s\",\"row_skip\":%d,\"rows_total\":%llu,\"rows_skipped\":%llu}\n",
           H, B, sps, sps * macs * 1e-9, steps, elapsed, macs, KERNEL_NAME, row_skip,
           (unsigned long long)net.rows_total, (unsigned long long)net.rows_skipped);
    return 0;
}

static int cmd_dump(int H, int B, long steps, uint64_t seed, double dl_scale)
{
    setup(H, B, seed);
    size_t hh = (size_t)H * H;
    int16_t *w0 = malloc((size_t)H * 2), *r0 = malloc(hh * 2), *v0 = malloc((size_t)H * 2);
    long ch[3] = { 0, 0, 0 };
    print_hashes("init", 0);
    for (long k = 0; k < steps; k++) {
        memcpy(w0, net.w, (size_t)H * 2);
        memcpy(r0, net.r, hh * 2);
        memcpy(v0, net.v, (size_t)H * 2);
        double dL;
        step(seed, (uint32_t)k, dl_scale, &dL);
        ch[0] += count_changed(w0, net.w, (size_t)H);
        ch[1] += count_changed(r0, net.r, hh);
        ch[2] += count_changed(v0, net.v, (size_t)H);
        printf("{\"t\":%ld,\"y\":[", k);
        for (int n = 0; n < B; n++)
            printf(n ? ",%d" : "%d", net.out_clean[n]);
        printf("],\"yn\":[");
        for (int n = 0; n < B; n++)
            printf(n ? ",%d" : "%d", net.out_noisy[n]);
        printf("],\"dL\":%.17g}\n", dL);
    }
    print_hashes("final", (uint32_t)steps);
    printf("{\"changed\":{\"w\":%ld,\"r\":%ld,\"v\":%ld}}\n", ch[0], ch[1], ch[2]);
    free(w0);
    free(r0);
    free(v0);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: step bench H B seconds [dL_scale] [skip|noskip]\n       step dump H B steps seed [dL_scale] [skip|noskip]\n");
    return 2;
}

int main(int argc, char **argv)
{
    long H, B, steps;
    char *end = "", *end2 = "";
    take_skip_word(&argc, argv, &row_skip);
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "bench") == 0) {
        double seconds = strtod(argv[4], &end);
        double scale = argc == 6 ? strtod(argv[5], &end2) : 1e-5;
        if (!parse_int(argv[2], 1, MAX_H, &H) || !parse_int(argv[3], 1, MAX_B, &B) || *end || *end2 || !(seconds > 0))
            return usage();
        return cmd_bench((int)H, (int)B, seconds, scale);
    }
    if ((argc == 6 || argc == 7) && strcmp(argv[1], "dump") == 0) {
        unsigned long long seed = strtoull(argv[5], &end, 0);
        double scale = argc == 7 ? strtod(argv[6], &end2) : 1e-5;
        if (!parse_int(argv[2], 1, MAX_H, &H) || !parse_int(argv[3], 1, MAX_B, &B) || !parse_int(argv[4], 0, 1L << 30, &steps) ||
            *end || *end2 || !isfinite(scale))
            return usage();
        return cmd_dump((int)H, (int)B, steps, (uint64_t)seed, scale);
    }
    return usage();
}
