/*
 * bench/c/fused.c -- the tuned native yardstick of npm run bench (build/bench/step-fused):
 * one online ANP-T training step (forward of both copies + the update of that step) for
 * B sequences, exactly as docs/kernel.md specifies, for ONE fixed configuration (that of
 * bench/c/step.c, the driver of firmware/core):
 *
 *   I = 1 input, H hidden (tanh), O = 1 output, B sequences
 *   input    Q3.12  (iF = 12)     weight Q3.12 (wF = 12)     pre Q3.12 (pF = 12)
 *   activity Q0.15  (aF = 15)     output Q3.12 (oF = 12)
 *   all 16-bit signed, rounding nearest (ties to even), overflow sat
 *   no mismatch; hidden and output noise sigma = 4 LSB (4 * 2^-12 = 2^-10 real units)
 *   lrW = lrR = lrV = 0.1
 *
 * Written for speed, not as the firmware: with -DTUNED and AVX2 the hot loops are
 * bench/c/fused-avx2.h's intrinsics (each weight row against four sequences per pass,
 * the tanh of eight neurons per instruction through vpgatherdd, the update rows 16
 * weights per instruction), and the update of step t is applied row by row inside
 * step t+1's forward pass ("fused"), so each weight row is read once per step for both.
 * Without -DTUNED or AVX2 the same file runs plain loops (same bits). The spec's
 * primitives (RNG, rounding) are firmware/core's, compiled in with -flto.
 * It is the faster of the two tuned native kernels we have: firmware/core's own
 * -DANPT_TUNED build (bench/c/tuned.h) keeps the core's loop order (one sequence per
 * pass over R, the update as a second pass) and runs 1.0-1.7x slower (mostly 1.1-1.3x; skip off, 2 alternated runs per size, load 14-19) at H = 500-1000.
 *
 * Build (bench/step-vs-c.ts does it): make -C firmware host (for build/firmware/gen/
 * tanh_table.h), then gcc -O3 -march=native -flto -std=c99 -ffp-contract=off -DTUNED
 * -Ibuild/firmware/gen -o build/bench/step-fused bench/c/fused.c firmware/core/kernel.c -lm
 *
 * Usage (a last word skip|noskip turns the row skip on (default) or off; same bits):
 *   step bench H B seconds [fused|split] [dL_scale]
 *                                          one JSON line with the throughput (steps per
 *                                          CPU second) and the update rows skipped
 *   step dump  H B steps seed [fused|split] [dL_scale]
 *                                          clean/noisy output codes and dL of every
 *                                          step, FNV-1a 64 hashes of W, R, V before
 *                                          and after, number of codes changed
 *   step selftest                          hand-worked checks of the primitives
 *
 * ---------------------------------------------------------------------------------
 * Step structure (docs/kernel.md, "One step" and "The ANP-T update", K = 1 chunks):
 *   step t: forward of both copies with the current weights, store the traces
 *           (x_t, r_{t-1}, r_t, da_t, dy_t); then reward(dL_t) computes the update
 *           of step t (c, block-floating mantissas, shift s per layer).
 *   The update is applied row by row at the start of step t+1, fused with that
 *   step's forward pass (a row's update and its next forward touch only that row, so
 *   the bits are those of applying it at once; the emulator applies it at reward time,
 *   docs/kernel.md says why).
 *   "split" applies the whole update first, then runs the forward pass: same bits
 *   (dump checks it), two passes over the weights instead of one.
 *   After the last step of a dump the pending update is flushed before hashing.
 *
 * MACs per step (counted as in the brief; I = 1, O = 1):
 *   forward  B * (H*I + 2*H*H + 2*O*H)   W.x shared by both copies, R.r and R.r~,
 *                                        V.r and V.r~
 *   update   B * (H*I + H*H + O*H)       p_ij = sum_b m_bi * pre_bj for W, R, V
 *
 * ---------------------------------------------------------------------------------
 * Benchmark/dump workload (host side, not part of the chip; streams >= 100 are
 * bench-only and never used by the device). seed is a uint64 (use < 2^32 to match
 * the device's uint32 seed), t the absolute step counter starting at 0, and
 * gauss(sigma, h) exactly the spec's Irwin-Hall(4) gauss() with
 * scale = nearest_even(sigma * 2^32 / sd):
 *   W_ij  = gauss(4096, mix64(key(seed, 100, 0, 0) ^ (i*I + j)))     i < H, j < I
 *           sigma 4096 LSB = 1.0 = 2^12 / sqrt(I)
 *   R_ij  = gauss(sR,   mix64(key(seed, 101, 0, 0) ^ (i*H + j)))     i, j < H
 *           sR = nearest_even(0.9 * 4096.0 / sqrt(H))   (binary64, left to right;
 *           H = 100 -> 369, 500 -> 165, 1000 -> 117): spectral radius ~0.9
 *   V_oj  = gauss(sV,   mix64(key(seed, 102, 0, 0) ^ (o*H + j)))     o < O, j < H
 *           sV = nearest_even(4096.0 / sqrt(H))  (H = 100 -> 410, 500 -> 183, 1000 -> 130)
 *   x_tbj = gauss(2048, mix64(key(seed, 103, b, t) ^ j))             input codes, std 0.5
 *   dL_t  = (double)gauss(4096, mix64(key(seed, 104, t, 0) ^ 0)) / 4096.0 * 1e-5
 *           (binary64, left to right; ~N(0, (1e-5)^2), bounded at +-3.47e-5).
 *           dump takes another scale than 1e-5 as an optional last argument: with
 *           1e-5 and nearest rounding most W and R updates round to zero (that is
 *           what stochastic rounding is for), so cross-checks should also run e.g.
 *           1e-3 and 1e-1 to exercise the update path (dump prints how many codes
 *           changed).
 *   All these codes fit Q3.12 without clipping (|gauss| <= 3.47 sigma <= 14190).
 *   The clean and noisy recurrent states start at zero.
 *   The device seed used by the noise stream is the same seed.
 *
 * Reproducing a dump on the emulator: configure I=1, H, O=1, B, tanh, the formats
 *   above, noise {hiddenSigma: 2^-10, outputSigma: 2^-10}, no mismatch, seed = seed;
 *   writeParams(codes * 2^-12); then for t = 0, 1, ...: run({steps: 1, t0: t, noisy:
 *   true, inputs: x_t codes * 2^-12}) and reward({t0: t, deltaLoss: [dL_t], lr: 0.1
 *   each}). Chunks of K = 1 are essential: with K > 1 the forward of the whole chunk
 *   uses frozen weights, which is another computation. readParams() must see the last
 *   update applied (the "final" hash is taken after flushing it). bench/c/ref_step.py
 *   is an independent, spec-literal Python version that prints identical dump lines.
 *
 * Hash: FNV-1a 64 (offset 0xcbf29ce484222325, prime 0x100000001b3) over the bytes of
 * the int16 codes, each code as 2 bytes little-endian (low byte first), W row-major
 * (H x I), then R (H x H), then V (O x H), unpadded.
 *
 * Implementation-defined behaviour relied on (true of gcc/clang on every target
 * anpt cares about, checked by selftest): >> of a negative signed integer is
 * arithmetic, and converting an out-of-range uint32 to int32 wraps modulo 2^32.
 * Signed overflow never happens: the 32-bit wrapping accumulators are uint32.
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
#include "tanh_table.h" /* generated from assembly/tanh-table.ts (make -C firmware host; -I build/firmware/gen) */

/* ---------------------------------------------------------------- configuration */

#define N_IN 1  /* I */
#define N_OUT 1 /* O */

#define IN_F 12  /* input    Q3.12 */
#define W_F 12   /* weight   Q3.12 */
#define PRE_F 12 /* pre      Q3.12 */
#define ACT_F 15 /* activity Q0.15 */
#define OUT_F 12 /* output   Q3.12 */
/* All five formats are 16-bit signed with sat overflow: one code range. */
#define CODE_MIN (-32768)
#define CODE_MAX 32767

#define ACC_F (IN_F > ACT_F ? IN_F : ACT_F) /* F = max(iF, aF) */

#define NOISE_HIDDEN_LSB 4.0 /* sigma * 2^pF */
#define NOISE_OUT_LSB 4.0    /* sigma * 2^oF */

#define LR_W 0.1
#define LR_R 0.1
#define LR_V 0.1

#ifndef DL_SCALE /* -DDL_SCALE=0 skips every update (A == 0): times the forward pass alone */
#define DL_SCALE 1e-5 /* synthetic reward dL_t ~ N(0, DL_SCALE^2) */
#endif

/* M = 14 - ceil(log2 B) must be >= 1 (B = 8192 -> M = 1). */
#define MAX_B 8192
#define MAX_H 16384 /* R alone is 2 H^2 bytes */

/* RNG streams (docs/kernel.md) and the bench-only ones (this file). */
#define STREAM_NOISE 1u
#define STREAM_INIT_W 100u
#define STREAM_INIT_R 101u
#define STREAM_INIT_V 102u
#define STREAM_INPUT 103u
#define STREAM_REWARD 104u

#if defined(TUNED) && defined(__AVX2__)
#define KERNEL_NAME "avx2"
#elif defined(TUNED)
#define KERNEL_NAME "portable"
#else
#define KERNEL_NAME "plain"
#endif

/* ---------------------------------------------------------------- primitives */

/* ovf(x, fmt) for a 16-bit signed sat format. */
static inline int32_t sat16(int64_t x)
{
    return (int32_t)(x < CODE_MIN ? CODE_MIN : x > CODE_MAX ? CODE_MAX : x);
}

/* The same on an int32 (written as max then min, which vectorises to vpmaxsd/vpminsd). */
static inline int16_t sat16_i32(int32_t x)
{
    x = x > CODE_MIN ? x : CODE_MIN;
    x = x < CODE_MAX ? x : CODE_MAX;
    return (int16_t)x;
}

/* The spec's primitives are firmware/core's (kernel.h), compiled into this program with
 * -flto so that they inline: rshift(x, s, nearest), the counter-based RNG, gauss. */
static inline int64_t rshift_nearest(int64_t x, int s) { return anpt_rshift(x, s, ANPT_RND_NEAREST, 0); }

/* requant(x, fromFrac, toFmt) for the 16-bit sat nearest formats. */
static inline int32_t requant16(int64_t x, int from_frac, int to_frac)
{
    return sat16(rshift_nearest(x, from_frac - to_frac));
}

#define GOLDEN UINT64_C(0x9E3779B97F4A7C15)
#define mix64 anpt_mix64
#define key anpt_key
#define lowbias32 anpt_lowbias32 /* selftest only: this configuration rounds to nearest */
#define gauss_scale anpt_gauss_scale
static inline int32_t gauss(int64_t scale, uint64_t h) { return (int32_t)anpt_gauss(scale, h); }

/* tanh activation: pre code (frac pF) -> activity code (frac aF). Odd: the magnitude
 * goes through the table and the sign is applied to the finished activity code. */
static inline int32_t act_tanh(int32_t a)
{
    int64_t mag = a < 0 ? -(int64_t)a : a;
    int64_t z = PRE_F <= 16 ? mag << (16 - PRE_F) : mag >> (PRE_F - 16); /* units of 2^-16 */
    int64_t k = z >> 10;
    int64_t y;
    if (k >= 512) {
        y = TANH_TABLE[512];
    } else {
        int64_t t0 = TANH_TABLE[k], t1 = TANH_TABLE[k + 1];
        y = t0 + (((t1 - t0) * (z & 1023) + 512) >> 10); /* Q0.15 */
    }
    int32_t r = sat16(rshift_nearest(y, 15 - ACT_F));
    return a < 0 ? -r : r;
}

/* Dot product of int16 codes into a 32-bit accumulator that wraps (i32 wrap). Each
 * product fits an int (|a*b| <= 2^30); the sum is formed in uint32 so overflow is
 * defined. gcc vectorises this to vpmaddwd / vpdpwssd. */
static inline int32_t dot_wrap(const int16_t *a, const int16_t *b, int n)
{
    uint32_t acc = 0;
    for (int j = 0; j < n; j++)
        acc += (uint32_t)(a[j] * b[j]);
    return (int32_t)acc;
}

static int ceil_log2(int n)
{
    int k = 0;
    while ((1L << k) < n)
        k++;
    return k;
}

/* floor(log2 A) for finite A > 0, from the binary64 exponent (frexp: A = f 2^E,
 * 0.5 <= f < 1). */
static int floor_log2(double a)
{
    int e;
    frexp(a, &e);
    return e - 1;
}

/* ---------------------------------------------------------------- the network */

typedef struct {
    int on; /* 0: no update pending for this layer (S == 0 or A == 0) */
    int s;  /* shift */
    int16_t *m; /* B x rows mantissas, |m| <= 2^M - 1 */
    /* Row skip (the emulator's rule, assembly/batch-outer.ts): row i cannot change when
     * sum_b |m_bi| * xmax_b <= zero_below (nearest rounding sends |p| <= 2^(s-1) to 0). */
    int32_t *xmax;      /* B: max_j |pre_bj| */
    int64_t zero_below; /* 2^(s-1), or 0 when s = 0 */
    const int16_t *pre; /* the presynaptic rows (B x cols) of the pending update */
    int cols;
    int16_t *pairs;     /* tuned kernel: pre interleaved in pairs of sequences */
} LayerUpdate;

/* Row skip switch (`skip` / `noskip` on the command line) and its counters: rows of a
 * pending layer update visited, and of those skipped because no weight can change. */
static int row_skip = 1;
static long long rows_total, rows_skipped;

typedef struct {
    int H, B;
    uint64_t seed;
    uint64_t t; /* absolute counter of the next step */

    int16_t *W; /* H x I */
    int16_t *R; /* H x H */
    int16_t *V; /* O x H */

    /* Clean activity, B x H each, a ring of three: before the previous step (the
     * presynaptic of the pending R update), before this step (the state), and the
     * one being computed. */
    int16_t *r_old, *r_prev, *r_out;
    int16_t *rn;             /* noisy activity r~, B x H */
    int16_t *x, *x_old;      /* inputs of this step and of the previous one, B x I */
    int16_t *pre_c, *pre_n;  /* a and a~ of this step, B x H */
    int32_t *da;             /* a~ - a, B x H */
    int16_t *y_c, *y_n;      /* outputs, B x O */
    int32_t *dy;             /* y~ - y, B x O */
    uint64_t *noise_key;     /* key(seed, 1, b, t), B */

    LayerUpdate uW, uR, uV; /* pending update of the previous step */
    int32_t *p;             /* one row of p_ij, max(H, I) */
    int32_t *dots;          /* 2B dot products of one weight row */

    int64_t scale_h, scale_o; /* gauss scales of the hidden and output noise */
    int M;                    /* mantissa bits */
    double sqrt_n;            /* sqrt(I + H + O) */
} Net;

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "step: out of memory\n");
        exit(1);
    }
    return p;
}

static void net_init(Net *net, int H, int B, uint64_t seed)
{
    memset(net, 0, sizeof *net);
    net->H = H;
    net->B = B;
    net->seed = seed;
    net->t = 0;
    size_t bh = (size_t)B * H;
    net->W = xcalloc((size_t)H * N_IN, sizeof(int16_t));
    net->R = xcalloc((size_t)H * H, sizeof(int16_t));
    net->V = xcalloc((size_t)N_OUT * H, sizeof(int16_t));
    net->r_old = xcalloc(bh, sizeof(int16_t));
    net->r_prev = xcalloc(bh, sizeof(int16_t));
    net->r_out = xcalloc(bh, sizeof(int16_t));
    net->rn = xcalloc(bh, sizeof(int16_t));
    net->x = xcalloc((size_t)B * N_IN, sizeof(int16_t));
    net->x_old = xcalloc((size_t)B * N_IN, sizeof(int16_t));
    net->pre_c = xcalloc(bh, sizeof(int16_t));
    net->pre_n = xcalloc(bh, sizeof(int16_t));
    net->da = xcalloc(bh, sizeof(int32_t));
    net->y_c = xcalloc((size_t)B * N_OUT, sizeof(int16_t));
    net->y_n = xcalloc((size_t)B * N_OUT, sizeof(int16_t));
    net->dy = xcalloc((size_t)B * N_OUT, sizeof(int32_t));
    net->noise_key = xcalloc((size_t)B, sizeof(uint64_t));
    net->uW.m = xcalloc(bh, sizeof(int16_t));
    net->uR.m = xcalloc(bh, sizeof(int16_t));
    net->uV.m = xcalloc((size_t)B * N_OUT, sizeof(int16_t));
    net->p = xcalloc((size_t)(H > N_IN ? H : N_IN), sizeof(int32_t));
    net->dots = xcalloc((size_t)2 * B, sizeof(int32_t));
    LayerUpdate *layers[3] = { &net->uW, &net->uR, &net->uV };
    for (int l = 0; l < 3; l++) {
        layers[l]->xmax = xcalloc((size_t)B, sizeof(int32_t));
        layers[l]->pairs = xcalloc((size_t)(B + 1) * (H > N_IN ? H : N_IN) + 32, sizeof(int16_t));
    }

    net->scale_h = gauss_scale(NOISE_HIDDEN_LSB);
    net->scale_o = gauss_scale(NOISE_OUT_LSB);
    net->M = 14 - ceil_log2(B);
    net->sqrt_n = sqrt((double)(N_IN + H + N_OUT));

    /* Weights (see the header comment). */
    int64_t sw = gauss_scale(4096.0);
    int64_t sr = gauss_scale(rint(0.9 * 4096.0 / sqrt((double)H)));
    int64_t sv = gauss_scale(rint(4096.0 / sqrt((double)H)));
    uint64_t kw = key(seed, STREAM_INIT_W, 0, 0);
    uint64_t kr = key(seed, STREAM_INIT_R, 0, 0);
    uint64_t kv = key(seed, STREAM_INIT_V, 0, 0);
    for (uint64_t n = 0; n < (uint64_t)H * N_IN; n++)
        net->W[n] = (int16_t)sat16(gauss(sw, mix64(kw ^ n)));
    for (uint64_t n = 0; n < (uint64_t)H * H; n++)
        net->R[n] = (int16_t)sat16(gauss(sr, mix64(kr ^ n)));
    for (uint64_t n = 0; n < (uint64_t)N_OUT * H; n++)
        net->V[n] = (int16_t)sat16(gauss(sv, mix64(kv ^ n)));
}

static void net_free(Net *net)
{
    free(net->W); free(net->R); free(net->V);
    free(net->r_old); free(net->r_prev); free(net->r_out); free(net->rn);
    free(net->x); free(net->x_old); free(net->pre_c); free(net->pre_n);
    free(net->da); free(net->y_c); free(net->y_n); free(net->dy); free(net->noise_key);
    free(net->uW.m); free(net->uR.m); free(net->uV.m); free(net->p); free(net->dots);
    free(net->uW.xmax); free(net->uR.xmax); free(net->uV.xmax);
    free(net->uW.pairs); free(net->uR.pairs); free(net->uV.pairs);
}

/* Bench workload: inputs of step t into net->x, and the reward of step t. */
static void make_inputs(Net *net)
{
    int64_t scale = gauss_scale(2048.0);
    for (int b = 0; b < net->B; b++) {
        uint64_t k = key(net->seed, STREAM_INPUT, (uint64_t)b, net->t);
        for (int j = 0; j < N_IN; j++)
            net->x[b * N_IN + j] = (int16_t)sat16(gauss(scale, mix64(k ^ (uint64_t)j)));
    }
}

/* dL scale of the bench workload (the optional last argument of `step bench`). */
static double bench_dl_scale = DL_SCALE;

static double make_reward(const Net *net, double dl_scale)
{
    int64_t g = gauss(gauss_scale(4096.0), mix64(key(net->seed, STREAM_REWARD, net->t, 0) ^ 0));
    return (double)g / 4096.0 * dl_scale;
}

/* Apply a layer's pending update to row i (cols weights):
 *   p_ij = sum_b m_bi * u_bj,   w_ij = sat(w_ij + sat16(rshift_nearest(p_ij, s)))
 * m is B x rows (the mantissa of row i of sequence b is m[b*rows + i]), u is B x cols.
 * |p| < 2^29 by the choice of M, so int32 is exact and the rounding below cannot
 * overflow. */
static int skip_row(const LayerUpdate *u, int rows, int i, int B)
{
    rows_total++;
    if (!row_skip)
        return 0;
    int64_t bound = 0;
    for (int b = 0; b < B; b++) {
        int32_t m = u->m[(size_t)b * rows + i];
        bound += (int64_t)(m < 0 ? -m : m) * u->xmax[b];
    }
    if (bound > u->zero_below)
        return 0;
    rows_skipped++;
    return 1;
}

static void update_row_plain(int16_t *w, int cols, const LayerUpdate *u, int rows, int i,
                             const int16_t *pre, int B, int32_t *p)
{
    int any = 0;
    if (skip_row(u, rows, i, B))
        return;
    for (int b = 0; b < B; b++) {
        int32_t mb = u->m[(size_t)b * rows + i];
        if (mb == 0 && row_skip)
            continue;
        const int16_t *ub = pre + (size_t)b * cols;
        if (!any) {
            for (int j = 0; j < cols; j++)
                p[j] = mb * ub[j];
            any = 1;
        } else {
            for (int j = 0; j < cols; j++)
                p[j] += mb * ub[j];
        }
    }
    if (!any)
        return; /* p = 0: no weight of this row moves */
    int s = u->s;
    if (s == 0) {
        for (int j = 0; j < cols; j++) {
            w[j] = sat16_i32(w[j] + sat16_i32(p[j]));
        }
    } else {
        /* Round to nearest, ties to even, branch-free: (p + half - 1 + lsb(p >> s)) >> s
         * (selftest checks it against rshift_nearest). */
        int32_t half_m1 = ((int32_t)1 << (s - 1)) - 1;
        for (int j = 0; j < cols; j++) {
            int32_t q = (p[j] + half_m1 + ((p[j] >> s) & 1)) >> s;
            w[j] = sat16_i32(w[j] + sat16_i32(q));
        }
    }
}

/* The pending update of hidden row i: W (presynaptic x of the previous step) and R
 * (presynaptic: the clean activity before the previous step). */
/* dot_rows, layer_prepare and update_row: plain loops, or with -DTUNED the AVX2 kernel
 * of bench/c/tuned.h (same bits; the dump checks it against the emulator). */
#include "fused-avx2.h"

/* A pending layer's presynaptic rows, the skip bounds and (tuned) the interleaved pairs. */
static void layer_begin(LayerUpdate *u, const int16_t *pre, int cols, int B)
{
    if (!u->on)
        return;
    u->pre = pre;
    u->cols = cols;
    u->zero_below = u->s > 0 ? (int64_t)1 << (u->s - 1) : 0;
    for (int b = 0; b < B; b++) {
        int32_t m = 0;
        for (int j = 0; j < cols; j++) {
            int32_t a = pre[(size_t)b * cols + j];
            a = a < 0 ? -a : a;
            m = a > m ? a : m;
        }
        u->xmax[b] = m;
    }
    layer_prepare(u, B);
}

static void layers_begin(Net *net)
{
    layer_begin(&net->uW, net->x_old, N_IN, net->B);
    layer_begin(&net->uR, net->r_old, net->H, net->B);
    layer_begin(&net->uV, net->r_prev, net->H, net->B);
}

static inline void update_hidden_row(Net *net, int i)
{
    int H = net->H, B = net->B;
    if (net->uW.on)
        update_row(net->W + (size_t)i * N_IN, N_IN, &net->uW, H, i, net->x_old, B, net->p);
    if (net->uR.on)
        update_row(net->R + (size_t)i * H, H, &net->uR, H, i, net->r_old, B, net->p);
}

/* The pending update of output row o (presynaptic: the clean activity after the
 * previous step, which is this step's state r_prev). */
static inline void update_output_row(Net *net, int o)
{
    if (net->uV.on)
        update_row(net->V + (size_t)o * net->H, net->H, &net->uV, N_OUT, o, net->r_prev, net->B, net->p);
}

/* Pre-activations of hidden row i for every sequence, both copies. */
static inline void forward_hidden_row(Net *net, int i)
{
    int H = net->H, B = net->B;
    const int16_t *w = net->W + (size_t)i * N_IN;
    const int16_t *rrow = net->R + (size_t)i * H;
    int32_t *dc = net->dots, *dn = net->dots + B;
    dot_rows(rrow, net->r_prev, H, B, dc); /* R r  */
    dot_rows(rrow, net->rn, H, B, dn);     /* R r~ */
    for (int b = 0; b < B; b++) {
        int32_t wx = dot_wrap(w, net->x + (size_t)b * N_IN, N_IN); /* shared */
        int32_t rrc = dc[b], rrn = dn[b];
        /* acc = (W x) << (F - iF) + (R r) << (F - aF), i32 wrap */
        uint32_t wx_s = (uint32_t)wx << (ACC_F - IN_F);
        int32_t acc_c = (int32_t)(wx_s + ((uint32_t)rrc << (ACC_F - ACT_F)));
        int32_t acc_n = (int32_t)(wx_s + ((uint32_t)rrn << (ACC_F - ACT_F)));
        int32_t a = requant16(acc_c, W_F + ACC_F, PRE_F);
        int32_t an = requant16(acc_n, W_F + ACC_F, PRE_F);
        an = sat16((int64_t)an + gauss(net->scale_h, mix64(net->noise_key[b] ^ (uint64_t)i)));
        net->pre_c[(size_t)b * H + i] = (int16_t)a;
        net->pre_n[(size_t)b * H + i] = (int16_t)an;
    }
}

/* Outputs of row o for every sequence, both copies (reads the new activity). */
static inline void forward_output_row(Net *net, int o)
{
    int H = net->H, B = net->B;
    const int16_t *v = net->V + (size_t)o * H;
    int32_t *dc = net->dots, *dn = net->dots + B;
    dot_rows(v, net->r_out, H, B, dc);
    dot_rows(v, net->rn, H, B, dn);
    for (int b = 0; b < B; b++) {
        int32_t sc = dc[b], sn = dn[b];
        int32_t y = requant16(sc, W_F + ACT_F, OUT_F);
        int32_t yn = requant16(sn, W_F + ACT_F, OUT_F);
        yn = sat16((int64_t)yn + gauss(net->scale_o, mix64(net->noise_key[b] ^ (uint64_t)(H + o))));
        net->y_c[b * N_OUT + o] = (int16_t)y;
        net->y_n[b * N_OUT + o] = (int16_t)yn;
        net->dy[b * N_OUT + o] = yn - y;
    }
}

/* Forward pass of step t (inputs in net->x), with the pending update of step t-1
 * applied first: fused = row by row (each weight row read once for both), otherwise
 * as a separate pass over all weights. */
static void net_forward(Net *net, int fused)
{
    int H = net->H, B = net->B;
    for (int b = 0; b < B; b++)
        net->noise_key[b] = key(net->seed, STREAM_NOISE, (uint64_t)b, net->t);
    layers_begin(net);

    if (fused) {
        for (int i = 0; i < H; i++) {
            update_hidden_row(net, i);
            forward_hidden_row(net, i);
        }
    } else {
        for (int i = 0; i < H; i++)
            update_hidden_row(net, i);
        for (int i = 0; i < H; i++)
            forward_hidden_row(net, i);
    }

    /* Activities of both copies; da = a~ - a. The noisy state is overwritten in
     * place (no row reads it any more); the clean one goes to r_out because r_prev
     * is the presynaptic of this step's R update. */
    activate_all(net->pre_c, net->pre_n, net->r_out, net->rn, net->da, (size_t)B * H);

    for (int o = 0; o < N_OUT; o++) {
        update_output_row(net, o); /* fused or not, V is O rows: same thing */
        forward_output_row(net, o);
    }
    net->uW.on = net->uR.on = net->uV.on = 0;
}

/* Block-floating mantissas of one layer: returns 0 (layer skipped) when A == 0. */
static int make_mantissas(LayerUpdate *u, double c, const int32_t *delta, size_t n, int M)
{
    int32_t maxabs = 0;
    for (size_t k = 0; k < n; k++) {
        int32_t d = delta[k] < 0 ? -delta[k] : delta[k];
        if (d > maxabs)
            maxabs = d;
    }
    double A = fabs(c) * (double)maxabs;
    if (A == 0.0)
        return 0;
    int s = M - 1 - floor_log2(A);
    s = s < 0 ? 0 : s > 30 ? 30 : s;
    double two_s = ldexp(1.0, s);
    double lim = (double)((1 << M) - 1);
    for (size_t k = 0; k < n; k++) {
        double v = rint(c * (double)delta[k] * two_s); /* nearest_even, left to right */
        v = v < -lim ? -lim : v > lim ? lim : v;
        u->m[k] = (int16_t)v;
    }
    u->s = s;
    return 1;
}

/* reward(dL) for the step just run: the update of step t becomes pending, the trace
 * buffers rotate, t advances. */
static void net_reward(Net *net, double dL)
{
    int H = net->H, B = net->B;
    size_t bh = (size_t)B * H;
    int64_t sh = 0, so = 0;
    for (size_t n = 0; n < bh; n++)
        sh += (int64_t)net->da[n] * net->da[n];
    for (int n = 0; n < B * N_OUT; n++)
        so += (int64_t)net->dy[n] * net->dy[n];

    /* c, binary64, left to right: -lr * sqrtN * dL * 2^(...) / (B * S) */
    net->uW.on = net->uR.on = net->uV.on = 0;
    if (sh != 0) {
        double bs = (double)B * (double)sh;
        double cw = -LR_W * net->sqrt_n * dL * ldexp(1.0, PRE_F + W_F - IN_F) / bs;
        double cr = -LR_R * net->sqrt_n * dL * ldexp(1.0, PRE_F + W_F - ACT_F) / bs;
        net->uW.on = make_mantissas(&net->uW, cw, net->da, bh, net->M);
        net->uR.on = make_mantissas(&net->uR, cr, net->da, bh, net->M);
    }
    if (so != 0) {
        double bs = (double)B * (double)so;
        double cv = -LR_V * net->sqrt_n * dL * ldexp(1.0, OUT_F + W_F - ACT_F) / bs;
        net->uV.on = make_mantissas(&net->uV, cv, net->dy, (size_t)B * N_OUT, net->M);
    }

    /* Rotate: r_old <- r_prev (R's presynaptic), r_prev <- r_out (the new state and
     * V's presynaptic), the oldest buffer is recycled; same for the inputs. */
    int16_t *tmp = net->r_old;
    net->r_old = net->r_prev;
    net->r_prev = net->r_out;
    net->r_out = tmp;
    tmp = net->x_old;
    net->x_old = net->x;
    net->x = tmp;
    net->t++;
}

/* Apply the pending update without a forward pass (end of a dump). */
static void net_flush(Net *net)
{
    layers_begin(net);
    for (int i = 0; i < net->H; i++)
        update_hidden_row(net, i);
    for (int o = 0; o < N_OUT; o++)
        update_output_row(net, o);
    net->uW.on = net->uR.on = net->uV.on = 0;
}

static void net_step(Net *net, int fused)
{
    make_inputs(net);
    net_forward(net, fused);
    net_reward(net, make_reward(net, bench_dl_scale));
}

/* ---------------------------------------------------------------- hashing */

static void print_hashes(const Net *net, const char *prefix)
{
    size_t H = (size_t)net->H;
    print_weight_hashes(prefix, (unsigned long long)net->t, net->W, H * N_IN, net->R, H * H, net->V, N_OUT * H);
}

/* ---------------------------------------------------------------- commands */

static int cmd_bench(int H, int B, double seconds, int fused)
{
    Net net;
    net_init(&net, H, B, 1);
    double macs = (double)B * ((double)H * N_IN + 2.0 * H * H + 2.0 * N_OUT * H) /* forward */
                + (double)B * ((double)H * N_IN + (double)H * H + (double)N_OUT * H); /* update */

    /* Warm up (page faults, caches, clocks) for ~5 % of the budget, at least 2 steps. */
    double t0 = now_s();
    long warm = 0;
    while (warm < 2 || now_s() - t0 < 0.05 * seconds) {
        net_step(&net, fused);
        warm++;
    }

    long steps = 0;
    rows_total = rows_skipped = 0;
    double start = now_s(), elapsed;
    do {
        net_step(&net, fused);
        steps++;
        elapsed = now_s() - start;
    } while (elapsed < seconds);

    double sps = (double)steps / elapsed;
    printf("{\"H\":%d,\"B\":%d,\"steps_per_s\":%.6g,\"gmac_per_s\":%.6g,\"mode\":\"%s\",\"steps\":%ld,\"seconds\":%.4f,\"macs_per_step\":%.0f,"
           "\"kernel\":\"%s\",\"row_skip\":%d,\"rows_total\":%lld,\"rows_skipped\":%lld}\n",
           H, B, sps, sps * macs * 1e-9, fused ? "fused" : "split", steps, elapsed, macs, KERNEL_NAME, row_skip, rows_total, rows_skipped);
    /* Keep the work observable. */
    if (net.R[0] == 12345 && net.y_c[0] == 12345)
        fputc('\n', stderr);
    net_free(&net);
    return 0;
}

static void snapshot(const Net *net, int16_t *w, int16_t *r, int16_t *v)
{
    size_t H = (size_t)net->H;
    memcpy(w, net->W, H * N_IN * sizeof *w);
    memcpy(r, net->R, H * H * sizeof *r);
    memcpy(v, net->V, N_OUT * H * sizeof *v);
}

static void add_changed(const Net *net, const int16_t *w, const int16_t *r, const int16_t *v, long changed[3])
{
    size_t H = (size_t)net->H;
    changed[0] += count_changed(w, net->W, H * N_IN);
    changed[1] += count_changed(r, net->R, H * H);
    changed[2] += count_changed(v, net->V, N_OUT * H);
}

static int cmd_dump(int H, int B, long steps, uint64_t seed, int fused, double dl_scale)
{
    Net net;
    net_init(&net, H, B, seed);
    int16_t *w0 = xcalloc((size_t)H * N_IN, sizeof *w0);
    int16_t *r0 = xcalloc((size_t)H * H, sizeof *r0);
    int16_t *v0 = xcalloc((size_t)N_OUT * H, sizeof *v0);
    long changed[3] = { 0, 0, 0 };
    print_hashes(&net, "init");
    for (long k = 0; k < steps; k++) {
        make_inputs(&net);
        snapshot(&net, w0, r0, v0);
        net_forward(&net, fused); /* applies the update of the previous step */
        add_changed(&net, w0, r0, v0, changed);
        double dL = make_reward(&net, dl_scale);
        printf("{\"t\":%llu,\"y\":[", (unsigned long long)net.t);
        for (int n = 0; n < B * N_OUT; n++)
            printf(n ? ",%d" : "%d", net.y_c[n]);
        printf("],\"yn\":[");
        for (int n = 0; n < B * N_OUT; n++)
            printf(n ? ",%d" : "%d", net.y_n[n]);
        printf("],\"dL\":%.17g}\n", dL);
        net_reward(&net, dL);
    }
    snapshot(&net, w0, r0, v0);
    net_flush(&net);
    add_changed(&net, w0, r0, v0, changed);
    print_hashes(&net, "final");
    printf("{\"changed\":{\"w\":%ld,\"r\":%ld,\"v\":%ld}}\n", changed[0], changed[1], changed[2]);
    free(w0);
    free(r0);
    free(v0);
    net_free(&net);
    return 0;
}

/* Hand-worked values of the primitives (docs/kernel.md). */
static int failures;

static void check_i64(const char *what, int64_t got, int64_t want)
{
    int ok = got == want;
    failures += !ok;
    printf("%s %-40s got %lld want %lld\n", ok ? "ok  " : "FAIL", what, (long long)got, (long long)want);
}

static void check_u64(const char *what, uint64_t got, uint64_t want)
{
    int ok = got == want;
    failures += !ok;
    printf("%s %-40s got 0x%016llx want 0x%016llx\n", ok ? "ok  " : "FAIL", what,
           (unsigned long long)got, (unsigned long long)want);
}

static int cmd_selftest(void)
{
    /* Implementation-defined behaviour this file relies on. */
    check_i64("(-5) >> 1 is arithmetic", (int64_t)(-5) >> 1, -3);
    check_i64("(int32)0x80000000u wraps", (int32_t)UINT32_C(0x80000000), INT32_MIN);

    /* rshift nearest, ties to even */
    check_i64("rshift(5, 1)   2.5 -> 2", rshift_nearest(5, 1), 2);
    check_i64("rshift(7, 1)   3.5 -> 4", rshift_nearest(7, 1), 4);
    check_i64("rshift(-5, 1) -2.5 -> -2", rshift_nearest(-5, 1), -2);
    check_i64("rshift(-7, 1) -3.5 -> -4", rshift_nearest(-7, 1), -4);
    check_i64("rshift(-3, 1) -1.5 -> -2", rshift_nearest(-3, 1), -2);
    check_i64("rshift(6, 2)   1.5 -> 2", rshift_nearest(6, 2), 2);
    check_i64("rshift(10, 2)  2.5 -> 2", rshift_nearest(10, 2), 2);
    check_i64("rshift(9, 2)   2.25 -> 2", rshift_nearest(9, 2), 2);
    check_i64("rshift(11, 2)  2.75 -> 3", rshift_nearest(11, 2), 3);
    check_i64("rshift(-11, 2) -2.75 -> -3", rshift_nearest(-11, 2), -3);
    check_i64("rshift(-9, 0)  s = 0 -> x", rshift_nearest(-9, 0), -9);
    check_i64("rshift(-3, -2) left -> -12", rshift_nearest(-3, -2), -12);
    check_i64("requant(2^27, 27 -> 12) = 1.0", requant16(INT64_C(1) << 27, 27, 12), 4096);
    check_i64("requant(2^31-1, 27 -> 12) sat", requant16(INT32_MAX, 27, 12), 32767);
    check_i64("requant(-2^31, 27 -> 12) sat", requant16(INT32_MIN, 27, 12), -32768);
    check_i64("sat16(40000)", sat16(40000), 32767);
    check_i64("sat16(-40000)", sat16(-40000), -32768);

    /* The branch-free rounding of update_row against the spec's definition. */
    {
        long bad = 0;
        for (int s = 1; s <= 30; s++) {
            int32_t half_m1 = ((int32_t)1 << (s - 1)) - 1;
            for (int32_t x = -(1 << 18); x <= (1 << 18); x++) {
                int32_t xs[3] = { x, x + (1 << 29) - (1 << 18) - 1, x - (1 << 29) + (1 << 18) + 1 };
                for (int k = 0; k < 3; k++) {
                    int32_t q = (xs[k] + half_m1 + ((xs[k] >> s) & 1)) >> s;
                    bad += q != rshift_nearest(xs[k], s);
                }
            }
        }
        check_i64("branch-free rshift == spec (s 1..30)", bad, 0);
    }

    /* SplitMix64 reference outputs for seed 0: mix64(k * GOLDEN), k = 1, 2, 3. */
    check_u64("mix64(GOLDEN)", mix64(GOLDEN), UINT64_C(0xE220A8397B1DCDAF));
    check_u64("mix64(2 GOLDEN)", mix64(2 * GOLDEN), UINT64_C(0x6E789E6AA1B965F4));
    check_u64("mix64(3 GOLDEN)", mix64(3 * GOLDEN), UINT64_C(0x06C45D188009454F));
    check_u64("mix64(0)", mix64(0), 0);
    check_u64("lowbias32(0)", lowbias32(0), 0);

    /* gauss: sd = sqrt(4 (2^32 - 1) / 12) = 37837.2272..., sigma 4 -> scale
     * nearest(4 * 2^32 / sd) = nearest(454047.1...) = 454047; h = 0 -> z = -131070 ->
     * (-131070 * 454047 + 2^31) >> 32 = floor(-13.856... + 0.5) = -14. */
    check_i64("gauss_scale(4)", gauss_scale(4.0), 454047);
    check_i64("gauss(4, 0) = -14", gauss(gauss_scale(4.0), 0), -14);
    check_i64("gauss(4, ~0) = +14", gauss(gauss_scale(4.0), ~UINT64_C(0)), 14);
    check_i64("gauss(4, s = 131071) = 0", gauss(gauss_scale(4.0), UINT64_C(0x8000800080007FFF)), 0);
    check_i64("gauss(4096, 0) = -14189", gauss(gauss_scale(4096.0), 0), -14189);

    /* tanh: T[1] = 512, T[2] = 1024, T[32] = 15143, T[64] = 24956, T[512] = 32767 */
    check_i64("act(0)", act_tanh(0), 0);
    check_i64("act(100): k 1, f 576 -> 512+288", act_tanh(100), 800);
    check_i64("act(-100)", act_tanh(-100), -800);
    check_i64("act(2048) = T[32] (tanh 0.5)", act_tanh(2048), 15143);
    check_i64("act(4096) = T[64] (tanh 1)", act_tanh(4096), 24956);
    check_i64("act(-4096)", act_tanh(-4096), -24956);
    check_i64("act(32767): k 511", act_tanh(32767), 32767);
    check_i64("act(-32768): k 512", act_tanh(-32768), -32767);

    /* Block floating point helpers. */
    check_i64("M(B=1)", 14 - ceil_log2(1), 14);
    check_i64("M(B=10)", 14 - ceil_log2(10), 10);
    check_i64("M(B=16)", 14 - ceil_log2(16), 10);
    check_i64("M(B=17)", 14 - ceil_log2(17), 9);
    check_i64("floor_log2(1)", floor_log2(1.0), 0);
    check_i64("floor_log2(0.75)", floor_log2(0.75), -1);
    check_i64("floor_log2(2^-20 * 1.999)", floor_log2(ldexp(1.999, -20)), -20);

    /* Reference values of key() for the lead's testKey (computed, not hand-worked). */
    printf("info key(1, 1, 0, 0)  = 0x%016llx\n", (unsigned long long)key(1, 1, 0, 0));
    printf("info key(1, 1, 3, 7)  = 0x%016llx\n", (unsigned long long)key(1, 1, 3, 7));
    printf("info lowbias32(1)     = 0x%08lx\n", (unsigned long)lowbias32(1));
    printf("info lowbias32(0xdeadbeef) = 0x%08lx\n", (unsigned long)lowbias32(UINT32_C(0xdeadbeef)));

    printf("%s: %d failure(s)\n", failures ? "FAIL" : "ok", failures);
    return failures ? 1 : 0;
}

/* ---------------------------------------------------------------- main */

static int usage(void)
{
    fprintf(stderr,
            "usage: step bench H B seconds [fused|split] [dL_scale] [skip|noskip]\n"
            "       step dump H B steps seed [fused|split] [dL_scale] [skip|noskip]\n"
            "       step selftest\n");
    return 2;
}

static int parse_mode(int argc, char **argv, int idx, int *fused)
{
    *fused = 1;
    if (argc <= idx)
        return 1;
    if (strcmp(argv[idx], "fused") == 0)
        return 1;
    if (strcmp(argv[idx], "split") == 0) {
        *fused = 0;
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    long H, B, steps;
    int fused;
    take_skip_word(&argc, argv, &row_skip);
    if (argc >= 2 && strcmp(argv[1], "selftest") == 0)
        return cmd_selftest();
    if (argc >= 5 && argc <= 7 && strcmp(argv[1], "bench") == 0) {
        char *end, *end2 = "";
        double seconds = strtod(argv[4], &end);
        if (argc == 7) bench_dl_scale = strtod(argv[6], &end2);
        if (!parse_int(argv[2], 1, MAX_H, &H) || !parse_int(argv[3], 1, MAX_B, &B) ||
            *end != '\0' || *end2 != '\0' || !(seconds > 0.0) || !(bench_dl_scale > 0.0) ||
            !parse_mode(argc > 6 ? 6 : argc, argv, 5, &fused))
            return usage();
        return cmd_bench((int)H, (int)B, seconds, fused);
    }
    if (argc >= 6 && argc <= 8 && strcmp(argv[1], "dump") == 0) {
        char *end, *end2 = "";
        unsigned long long seed = strtoull(argv[5], &end, 0);
        double dl_scale = argc == 8 ? strtod(argv[7], &end2) : DL_SCALE;
        if (!parse_int(argv[2], 1, MAX_H, &H) || !parse_int(argv[3], 1, MAX_B, &B) ||
            !parse_int(argv[4], 0, 1L << 30, &steps) || *argv[5] == '\0' || *end != '\0' ||
            *argv[5] == '-' || !parse_mode(argc, argv, 6, &fused) || *end2 != '\0' || !isfinite(dl_scale))
            return usage();
        return cmd_dump((int)H, (int)B, steps, (uint64_t)seed, fused, dl_scale);
    }
    return usage();
}
