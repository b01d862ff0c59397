/*
 * firmware/core/kernel.c -- see kernel.h. Every formula is docs/kernel.md's; the
 * comments name the section. Written for clarity first (plain loops over int16 codes
 * with 32-bit wrapping accumulators); gcc and clang vectorise the dot products.
 *
 * C rules this file keeps so that it is bit-exact and free of undefined behaviour on
 * every target: wrapping sums are formed in uint32_t; left shifts are done on
 * unsigned values; >> of a negative value is arithmetic (true of gcc and clang, the
 * compilers the Makefile supports); binary64 is IEEE-754 with round-to-nearest and no
 * contraction (the Makefile passes -ffp-contract=off), and rint() rounds ties to even.
 */
#include "kernel.h"

#include <math.h>
#include <string.h>

#include "tanh_table.h" /* generated from assembly/tanh-table.ts by the Makefile */

static int32_t dot_wrap(const int16_t *a, const int16_t *b, uint32_t n);
#ifdef ANPT_TUNED
/* The bench's tuned native build only (bench/c/tuned.h, gcc -DANPT_TUNED -march=native):
 * AVX2 versions of the dot product and of the update's row, same bits. */
#include "tuned.h"
#define DOT tuned_dot_wrap
#else
#define DOT dot_wrap
#endif

enum {
    STREAM_NOISE = 1, STREAM_PRE = 3, STREAM_ACT = 4, STREAM_OUT = 5, STREAM_GAIN = 6,
    STREAM_OFFSET = 7, STREAM_UPD_W = 16, STREAM_UPD_R = 17, STREAM_UPD_V = 18,
    STREAM_UPD_B = 19, STREAM_UPD_C = 20
};

/* ---------------------------------------------------------------- primitives */

void anpt_fmt_init(anpt_fmt *f, int bits, int frac, int is_signed, int rounding, int wrap)
{
    f->bits = bits;
    f->frac = frac;
    f->is_signed = is_signed;
    f->rounding = rounding;
    f->wrap = wrap;
    f->min = is_signed ? -(int32_t)(1L << (bits - 1)) : 0;
    f->max = is_signed ? (int32_t)((1L << (bits - 1)) - 1) : (int32_t)((1L << bits) - 1);
}

/* ovf(x, fmt): saturate, or keep the low `bits` bits (sign-extended when signed). */
static inline int64_t ovf(int64_t x, const anpt_fmt *f)
{
    if (x >= f->min && x <= f->max)
        return x;
    if (!f->wrap)
        return x < f->min ? f->min : f->max;
    int sh = 64 - f->bits;
    uint64_t u = (uint64_t)x << sh;
    return f->is_signed ? (int64_t)u >> sh : (int64_t)(u >> sh);
}

int64_t anpt_ovf(int64_t x, const anpt_fmt *f)
{
    return ovf(x, f);
}

/* rshift(x, s, mode, rnd): drop s bits; s <= 0 is an exact left shift by -s. */
static inline int64_t rshift(int64_t x, int s, int mode, uint32_t rnd)
{
    if (s <= 0)
        return (int64_t)((uint64_t)x << -s);
    if (mode == ANPT_RND_FLOOR)
        return x >> s;
    if (mode == ANPT_RND_STOCHASTIC) {
        int64_t mask = s >= 32 ? (int64_t)0xffffffff : ((int64_t)1 << s) - 1;
        return (x + ((int64_t)rnd & mask)) >> s;
    }
    /* nearest, ties to even: q + 1 if rem > half, or rem == half and q odd */
    int64_t half = (int64_t)1 << (s - 1);
    return (x + half - 1 + ((x >> s) & 1)) >> s;
}

int64_t anpt_rshift(int64_t x, int s, int mode, uint32_t rnd)
{
    return rshift(x, s, mode, rnd);
}

static inline int64_t requant(int64_t x, int from_frac, const anpt_fmt *f, uint32_t rnd)
{
    return ovf(rshift(x, from_frac - f->frac, f->rounding, rnd), f);
}

/* Counter-based random numbers ("Random numbers"). */
#define GOLDEN UINT64_C(0x9E3779B97F4A7C15)

uint64_t anpt_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

uint64_t anpt_key(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b)
{
    return anpt_mix64(anpt_mix64(anpt_mix64(seed ^ stream * GOLDEN) ^ a) ^ b);
}

uint32_t anpt_lowbias32(uint32_t x)
{
    x ^= x >> 16;
    x *= UINT32_C(0x7FEB352D);
    x ^= x >> 15;
    x *= UINT32_C(0x846CA68B);
    x ^= x >> 16;
    return x;
}

int64_t anpt_gauss_scale(double sigma_lsb)
{
    double sd = sqrt(4.0 * (65536.0 * 65536.0 - 1.0) / 12.0);
    return (int64_t)rint(sigma_lsb * 4294967296.0 / sd);
}

/* Irwin-Hall(4): the four 16-bit fields of h summed, centred, scaled. */
int64_t anpt_gauss(int64_t scale, uint64_t h)
{
    int64_t s = (int64_t)((h & 0xFFFF) + ((h >> 16) & 0xFFFF) + ((h >> 32) & 0xFFFF) + (h >> 48));
    return ((s - 131070) * scale + (INT64_C(1) << 31)) >> 32;
}

/* "Activations": pre code a (frac pF) -> activity code. */
int64_t anpt_activate(int kind, int64_t a, int pF, const anpt_fmt *act, uint32_t rnd)
{
    if (kind == ANPT_ACT_LINEAR)
        return ovf(rshift(a, pF - act->frac, act->rounding, rnd), act);
    if (kind == ANPT_ACT_HARDTANH) {
        int64_t one = (int64_t)1 << pF;
        int64_t c = a > one ? one : a < -one ? -one : a;
        return ovf(rshift(c, pF - act->frac, act->rounding, rnd), act);
    }
    /* tanh is odd: the magnitude goes through the table, saturates, then the sign */
    int neg = a < 0;
    int64_t mag = neg ? -a : a;
    int64_t z = pF <= 16 ? (int64_t)((uint64_t)mag << (16 - pF)) : mag >> (pF - 16);
    int64_t kk = z >> 10;
    int64_t y;
    if (kk >= 512) {
        y = TANH_TABLE[512];
    } else {
        int64_t t0 = TANH_TABLE[kk], t1 = TANH_TABLE[kk + 1];
        y = t0 + (((t1 - t0) * (z & 1023) + 512) >> 10);
    }
    int64_t m = ovf(rshift(y, 15 - act->frac, act->rounding, rnd), act);
    return ovf(neg ? -m : m, act);
}

/* sum_j a_j b_j with a 32-bit accumulator that wraps ("i32 wrap"). */
static int32_t dot_wrap(const int16_t *a, const int16_t *b, uint32_t n)
{
    uint32_t acc = 0;
    for (uint32_t j = 0; j < n; j++)
        acc += (uint32_t)((int32_t)a[j] * b[j]);
    return (int32_t)acc;
}

/* ---------------------------------------------------------------- layout */

typedef struct {
    size_t w, r, v, state, rn, inputs, xs, rs, out_clean, out_noisy, mant;
    size_t da, dy, pre_c, pre_n, gain, offset, scratch, xmax, rewards, bb, bc, ew, er, eb, end;
} layout;

static size_t take(size_t *p, size_t bytes)
{
    size_t at = *p;
    *p = (at + bytes + 7) & ~(size_t)7;
    return at;
}

/* Sizes as size_t products: a caller checks the limits before (config.h bounds them). */
static void plan(layout *L, uint32_t I, uint32_t H, uint32_t O, uint32_t B, uint32_t K, int bias, int trace)
{
    size_t p = 0, bh = (size_t)B * H, m = H > O ? H : O;
    L->w = take(&p, (size_t)H * I * 2);
    L->r = take(&p, (size_t)H * H * 2);
    L->v = take(&p, (size_t)O * H * 2);
    L->state = take(&p, bh * 2);
    L->rn = take(&p, bh * 2);
    L->inputs = take(&p, (size_t)K * B * I * 2);
    L->xs = take(&p, (size_t)K * B * I * 2);
    L->rs = take(&p, (size_t)(K + 1) * bh * 2);
    L->out_clean = take(&p, (size_t)K * B * O * 2);
    L->out_noisy = take(&p, (size_t)K * B * O * 2);
    L->mant = take(&p, (size_t)B * m * 2);
    L->da = take(&p, (size_t)K * bh * 4);
    L->dy = take(&p, (size_t)K * B * O * 4);
    L->pre_c = take(&p, bh * 4);
    L->pre_n = take(&p, bh * 4);
    L->gain = take(&p, (size_t)H * 4);
    L->offset = take(&p, (size_t)H * 4);
    L->scratch = take(&p, (size_t)(H > I ? H : I) * 4);
    L->xmax = take(&p, (size_t)B * 4);
    L->rewards = take(&p, (size_t)K * 8);
    /* the biases last and only with them: no other offset moves */
    L->bb = L->bc = 0;
    if (bias) {
        L->bb = take(&p, (size_t)H * 2);
        L->bc = take(&p, (size_t)O * 2);
    }
    /* the traces after them (int32): 4 H (I + H) bytes, 4 H more with biases. The
     * innovation trace needs no buffer of its own: run forms its credit signal in place. */
    L->ew = L->er = L->eb = 0;
    if (trace != ANPT_TRACE_NONE) {
        L->ew = take(&p, (size_t)H * I * 4);
        L->er = take(&p, (size_t)H * H * 4);
        if (bias)
            L->eb = take(&p, (size_t)H * 4);
    }
    L->end = p;
}

size_t anpt_layout_bytes_traced(uint32_t I, uint32_t H, uint32_t O, uint32_t B, uint32_t K, int bias, int trace)
{
    layout L;
    plan(&L, I, H, O, B, K, bias, trace);
    return L.end;
}

size_t anpt_layout_bytes(uint32_t I, uint32_t H, uint32_t O, uint32_t B, uint32_t K, int bias)
{
    return anpt_layout_bytes_traced(I, H, O, B, K, bias, ANPT_TRACE_NONE);
}

void anpt_init(anpt_kernel *k, void *arena, size_t arena_bytes)
{
    memset(k, 0, sizeof *k);
    /* the arena's first 8-aligned byte */
    uintptr_t a = ((uintptr_t)arena + 7) & ~(uintptr_t)7;
    k->arena = (uint8_t *)a;
    k->arena_bytes = arena_bytes - (size_t)(a - (uintptr_t)arena);
    k->row_skip = 1;
}

void anpt_set_row_skip(anpt_kernel *k, int on)
{
    k->row_skip = on != 0;
}

static int mantissa_bits(uint32_t B)
{
    int c = 0;
    while (((uint32_t)1 << c) < B)
        c++;
    return 14 - c;
}

int anpt_configure(anpt_kernel *k, const anpt_config *c)
{
    k->configured = 0;
    layout L;
    plan(&L, c->I, c->H, c->O, c->B, c->K, c->bias, c->trace);
    if (L.end > k->arena_bytes)
        return ANPT_ERR_MEMORY;
    uint8_t *a = k->arena;
    memset(a, 0, L.end);
    k->c = *c;
    k->w = (int16_t *)(void *)(a + L.w);
    k->r = (int16_t *)(void *)(a + L.r);
    k->v = (int16_t *)(void *)(a + L.v);
    k->state = (int16_t *)(void *)(a + L.state);
    k->rn = (int16_t *)(void *)(a + L.rn);
    k->inputs = (int16_t *)(void *)(a + L.inputs);
    k->xs = (int16_t *)(void *)(a + L.xs);
    k->rs = (int16_t *)(void *)(a + L.rs);
    k->out_clean = (int16_t *)(void *)(a + L.out_clean);
    k->out_noisy = (int16_t *)(void *)(a + L.out_noisy);
    k->mant = (int16_t *)(void *)(a + L.mant);
    k->da = (int32_t *)(void *)(a + L.da);
    k->dy = (int32_t *)(void *)(a + L.dy);
    k->pre_c = (int32_t *)(void *)(a + L.pre_c);
    k->pre_n = (int32_t *)(void *)(a + L.pre_n);
    k->gain = (int32_t *)(void *)(a + L.gain);
    k->offset = (int32_t *)(void *)(a + L.offset);
    k->scratch = (int32_t *)(void *)(a + L.scratch);
    k->xmax = (int32_t *)(void *)(a + L.xmax);
    k->rewards = (double *)(void *)(a + L.rewards);
    k->bb = c->bias ? (int16_t *)(void *)(a + L.bb) : NULL;
    k->bc = c->bias ? (int16_t *)(void *)(a + L.bc) : NULL;
    const int traced = c->trace != ANPT_TRACE_NONE;
    k->ew = traced ? (int32_t *)(void *)(a + L.ew) : NULL;
    k->er = traced ? (int32_t *)(void *)(a + L.er) : NULL;
    k->eb = traced && c->bias ? (int32_t *)(void *)(a + L.eb) : NULL;
    k->decay_q16 = traced ? anpt_decay_q16(c->decay) : 0;
    anpt_trace_exponents(c->H, c->hidden_sigma_lsb, k->decay_q16, c->in.bits, c->act.bits, k->trace_exp);
    k->scale_hidden = anpt_gauss_scale(c->hidden_sigma_lsb);
    k->scale_output = anpt_gauss_scale(c->output_sigma_lsb);
    k->sqrt_n = sqrt((double)(c->I + c->H + c->O));
    k->mant_bits = mantissa_bits(c->B);
    /* "Mismatch": per hidden neuron, from the mismatch seed */
    k->mismatch_on = c->gain_spread > 0.0 || c->offset_spread_lsb > 0.0;
    int64_t gs = anpt_gauss_scale(c->gain_spread * 16384.0);
    int64_t os = anpt_gauss_scale(c->offset_spread_lsb);
    uint64_t kg = anpt_key(c->mismatch_seed, STREAM_GAIN, 0, 0);
    uint64_t ko = anpt_key(c->mismatch_seed, STREAM_OFFSET, 0, 0);
    for (uint32_t i = 0; i < c->H; i++) {
        k->gain[i] = (int32_t)(16384 + anpt_gauss(gs, anpt_mix64(kg ^ i)));
        k->offset[i] = (int32_t)anpt_gauss(os, anpt_mix64(ko ^ i));
    }
    k->pending_steps = 0;
    k->steps = 0;
    k->updates = 0;
    k->rows_total = k->rows_skipped = 0;
    k->configured = 1;
    return ANPT_OK;
}

int16_t *anpt_tensor(anpt_kernel *k, int t, uint32_t *length, const anpt_fmt **fmt)
{
    const anpt_config *c = &k->c;
    switch (t) {
    case ANPT_T_W: *length = c->H * c->I; *fmt = &c->w; return k->w;
    case ANPT_T_R: *length = c->H * c->H; *fmt = &c->w; return k->r;
    case ANPT_T_V: *length = c->O * c->H; *fmt = &c->w; return k->v;
    case ANPT_T_STATE_CLEAN: *length = c->B * c->H; *fmt = &c->act; return k->state;
    case ANPT_T_STATE_NOISY: *length = c->B * c->H; *fmt = &c->act; return k->rn;
    case ANPT_T_BIAS_HIDDEN: *length = c->H; *fmt = &c->pre; return k->bb;
    case ANPT_T_BIAS_OUTPUT: *length = c->O; *fmt = &c->out; return k->bc;
    default: return NULL;
    }
}

int32_t *anpt_trace_tensor(anpt_kernel *k, int t, uint32_t *length)
{
    const anpt_config *c = &k->c;
    switch (t) {
    case ANPT_T_TRACE_W: *length = c->H * c->I; return k->ew;
    case ANPT_T_TRACE_R: *length = c->H * c->H; return k->er;
    case ANPT_T_TRACE_BIAS: *length = c->H; return k->eb;
    default: return NULL;
    }
}

void anpt_reset_state(anpt_kernel *k)
{
    const anpt_config *c = &k->c;
    size_t n = (size_t)c->B * c->H;
    memset(k->state, 0, n * 2);
    memset(k->rn, 0, n * 2);
    if (k->ew) {
        memset(k->ew, 0, (size_t)c->H * c->I * 4);
        memset(k->er, 0, (size_t)c->H * c->H * 4);
    }
    if (k->eb)
        memset(k->eb, 0, (size_t)c->H * 4);
}

/* ---------------------------------------------------------------- one chunk */

/* requant of the accumulator to the pre format, the neuron's bias, then its mismatch. */
static int64_t hidden_pre(const anpt_kernel *k, int32_t acc, int acc_frac, uint32_t rnd, uint32_t i)
{
    int64_t a = requant(acc, acc_frac, &k->c.pre, rnd);
    if (k->bb)
        a = ovf(a + k->bb[i], &k->c.pre);
    if (k->mismatch_on)
        a = ovf(rshift(a * k->gain[i], 14, ANPT_RND_NEAREST, 0) + k->offset[i], &k->c.pre);
    return a;
}

static int32_t sat32(int64_t x)
{
    return x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : (int32_t)x;
}

/* The innovation trace's credit signal ("Eligibility traces"): the measured difference
 * d less the part the copies' different states explain, acc~ - acc (the two wrapped
 * accumulators, subtracted in int64) taken from `frac` fraction bits to the layer's. */
static int32_t recovered(int64_t d, int64_t acc_diff, int frac)
{
    return sat32(d - rshift(acc_diff, frac, ANPT_RND_NEAREST, 0));
}

int anpt_run(anpt_kernel *k, uint32_t K, uint32_t t0, int noisy)
{
    if (!k->configured)
        return ANPT_ERR_NOT_CONFIGURED;
    const anpt_config *c = &k->c;
    if (K < 1 || K > c->K)
        return ANPT_ERR_STEPS;
    const uint32_t I = c->I, H = c->H, O = c->O, B = c->B;
    const size_t bh = (size_t)B * H;
    const int F = c->in.frac > c->act.frac ? c->in.frac : c->act.frac;
    const int sh_x = F - c->in.frac, sh_r = F - c->act.frac;
    const int acc_frac = c->w.frac + F, y_frac = c->w.frac + c->act.frac;
    const int st_pre = c->pre.rounding == ANPT_RND_STOCHASTIC;
    const int st_act = c->act.rounding == ANPT_RND_STOCHASTIC;
    const int st_out = c->out.rounding == ANPT_RND_STOCHASTIC;
    const int innovation = c->trace == ANPT_TRACE_INNOVATION;
    memcpy(k->xs, k->inputs, (size_t)K * B * I * 2);
    memcpy(k->rs, k->state, bh * 2);
    for (uint32_t s = 0; s < K; s++) {
        const uint32_t t = t0 + s;
        const int16_t *x = k->xs + (size_t)s * B * I;
        const int16_t *r_prev = k->rs + (size_t)s * bh;
        int16_t *r_next = k->rs + (size_t)(s + 1) * bh;
        /* hidden pre-activations of both copies from the state before the step, the
         * noise, and the measured perturbation da = a~ - a (with the innovation trace,
         * the recovered noise xi in its place) */
        for (uint32_t b = 0; b < B; b++) {
            uint32_t kpre = st_pre ? (uint32_t)anpt_key(c->seed, STREAM_PRE, b, t) : 0;
            uint64_t kn = noisy ? anpt_key(c->seed, STREAM_NOISE, b, t) : 0;
            int32_t *da = k->da + ((size_t)s * B + b) * H;
            for (uint32_t i = 0; i < H; i++) {
                uint32_t ax = (uint32_t)dot_wrap(k->w + (size_t)i * I, x + (size_t)b * I, I) << sh_x;
                const int16_t *rrow = k->r + (size_t)i * H;
                uint32_t rnd = st_pre ? anpt_lowbias32(kpre ^ i) : 0;
                int32_t acc_r = (int32_t)((uint32_t)DOT(rrow, r_prev + (size_t)b * H, H) << sh_r);
                int64_t a = hidden_pre(k, (int32_t)(ax + (uint32_t)acc_r), acc_frac, rnd, i);
                k->pre_c[b * H + i] = (int32_t)a;
                if (noisy) {
                    int32_t acc_rn = (int32_t)((uint32_t)DOT(rrow, k->rn + (size_t)b * H, H) << sh_r);
                    int64_t an = hidden_pre(k, (int32_t)(ax + (uint32_t)acc_rn), acc_frac, rnd, i);
                    an = ovf(an + anpt_gauss(k->scale_hidden, anpt_mix64(kn ^ i)), &c->pre);
                    k->pre_n[b * H + i] = (int32_t)an;
                    da[i] = innovation ? recovered(an - a, (int64_t)acc_rn - acc_r, acc_frac - c->pre.frac) : (int32_t)(an - a);
                }
            }
        }
        /* activation of both copies */
        for (uint32_t b = 0; b < B; b++) {
            uint32_t kact = st_act ? (uint32_t)anpt_key(c->seed, STREAM_ACT, b, t) : 0;
            for (uint32_t i = 0; i < H; i++) {
                size_t n = (size_t)b * H + i;
                uint32_t rnd = st_act ? anpt_lowbias32(kact ^ i) : 0;
                r_next[n] = (int16_t)anpt_activate(c->activation, k->pre_c[n], c->pre.frac, &c->act, rnd);
                if (noisy)
                    k->rn[n] = (int16_t)anpt_activate(c->activation, k->pre_n[n], c->pre.frac, &c->act, rnd);
            }
        }
        /* outputs of both copies from the new activity */
        for (uint32_t b = 0; b < B; b++) {
            uint32_t kout = st_out ? (uint32_t)anpt_key(c->seed, STREAM_OUT, b, t) : 0;
            uint64_t kn = noisy ? anpt_key(c->seed, STREAM_NOISE, b, t) : 0;
            for (uint32_t o = 0; o < O; o++) {
                const int16_t *vrow = k->v + (size_t)o * H;
                uint32_t rnd = st_out ? anpt_lowbias32(kout ^ o) : 0;
                size_t oi = ((size_t)s * B + b) * O + o;
                int64_t co = k->bc ? k->bc[o] : 0;
                int32_t yc = DOT(vrow, r_next + (size_t)b * H, H);
                int64_t y = requant(yc, y_frac, &c->out, rnd);
                if (k->bc)
                    y = ovf(y + co, &c->out);
                k->out_clean[oi] = (int16_t)y;
                if (noisy) {
                    int32_t ycn = DOT(vrow, k->rn + (size_t)b * H, H);
                    int64_t yn = requant(ycn, y_frac, &c->out, rnd);
                    if (k->bc)
                        yn = ovf(yn + co, &c->out);
                    yn = ovf(yn + anpt_gauss(k->scale_output, anpt_mix64(kn ^ (uint64_t)(H + o))), &c->out);
                    k->out_noisy[oi] = (int16_t)yn;
                    k->dy[oi] = innovation ? recovered(yn - y, (int64_t)ycn - yc, y_frac - c->out.frac) : (int32_t)(yn - y);
                }
            }
        }
    }
    memcpy(k->state, k->rs + (size_t)K * bh, bh * 2);
    k->steps += K;
    k->pending_steps = noisy ? K : 0;
    k->pending_t0 = t0;
    return ANPT_OK;
}

/* ---------------------------------------------------------------- the update */

/* The layer's shift s for factor c and max |delta| ("The ANP-T update"), or -1 when
 * the layer is skipped: A = 0, not finite, or subnormal (far below one LSB). */
static int mantissa_shift(double c, int32_t max_abs, int M)
{
    double A = fabs(c) * (double)max_abs;
    if (!(A > 0.0) || !isfinite(A))
        return -1;
    int e;
    double f = frexp(A, &e); /* A = f 2^e, 0.5 <= f < 1, so floor(log2 A) = e - 1 */
    (void)f;
    if (A < 2.2250738585072014e-308) /* subnormal: its exponent field is 0 */
        return -1;
    int s = M - 1 - (e - 1);
    return s < 0 ? 0 : s > 30 ? 30 : s;
}

static int32_t max_abs32(const int32_t *d, size_t n)
{
    int32_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t a = d[i] < 0 ? -d[i] : d[i];
        if (a > m)
            m = a;
    }
    return m;
}

static int64_t sum_squares(const int32_t *d, size_t n)
{
    int64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += (int64_t)d[i] * d[i];
    return s;
}

/* mant[i*B + b] = clamp(nearest_even(c * delta[b*rows + i] * 2^s), +-(2^M - 1)) */
static void fill_mantissas(int16_t *mant, double c, int s, const int32_t *delta, uint32_t rows, uint32_t B, int M)
{
    double scale = ldexp(1.0, s), lim = (double)((1 << M) - 1);
    for (uint32_t b = 0; b < B; b++)
        for (uint32_t i = 0; i < rows; i++) {
            double m = rint(c * (double)delta[(size_t)b * rows + i] * scale);
            m = m > lim ? lim : m < -lim ? -lim : m;
            mant[(size_t)i * B + b] = (int16_t)m;
        }
}

/* max_j |pre_bj| of each sequence b into xmax (B entries). */
static void max_abs_rows(int32_t *xmax, const int16_t *pre, uint32_t cols, uint32_t B)
{
    for (uint32_t b = 0; b < B; b++) {
        int32_t m = 0;
        for (uint32_t j = 0; j < cols; j++) {
            int32_t a = pre[(size_t)b * cols + j];
            a = a < 0 ? -a : a;
            m = a > m ? a : m;
        }
        xmax[b] = m;
    }
}

/* w_ij = ovf(w_ij + sat16(rshift(sum_b m_bi pre_bj, s, rounding, rnd_ij)))
 * Row skip (the emulator's rule, assembly/batch-outer.ts): row i cannot change when
 * bound_i = sum_b |m_bi| max_j |pre_bj| <= 2^(s-1) under nearest rounding (|p| <= 2^(s-1)
 * rounds to 0), or bound_i = 0 under floor and stochastic rounding (p = 0 stays 0). */
static void apply_update(anpt_kernel *k, int16_t *w, uint32_t rows, uint32_t cols, const int16_t *mant, uint32_t B,
                         const int16_t *pre, int s, const anpt_fmt *f, uint32_t rnd_key)
{
    const int mode = f->rounding;
    int32_t *p = k->scratch, *xmax = k->xmax;
    /* |p| < 2^29 (the choice of M), so the rounding below is exact in int32 */
    const int32_t half_m1 = s > 0 ? ((int32_t)1 << (s - 1)) - 1 : 0;
    const int32_t mask = s > 0 ? (int32_t)(((uint32_t)1 << s) - 1) : 0;
    const int64_t zero_below = mode == ANPT_RND_NEAREST && s > 0 ? (int64_t)1 << (s - 1) : 0;
    const int skip = k->row_skip;
    if (skip)
        max_abs_rows(xmax, pre, cols, B);
    k->rows_total += rows;
#ifdef ANPT_TUNED
    const int tuned = tuned_update_begin(pre, cols, B, s, f);
#endif
    for (uint32_t i = 0; i < rows; i++) {
        const int16_t *m = mant + (size_t)i * B;
        if (skip) {
            int64_t bound = 0;
            for (uint32_t b = 0; b < B; b++)
                bound += (int64_t)(m[b] < 0 ? -m[b] : m[b]) * xmax[b];
            if (bound <= zero_below) {
                k->rows_skipped++;
                continue;
            }
        }
        int16_t *row = w + (size_t)i * cols;
#ifdef ANPT_TUNED
        if (tuned) {
            tuned_update_row(row, m);
            continue;
        }
#endif
        for (uint32_t j = 0; j < cols; j++)
            p[j] = 0;
        for (uint32_t b = 0; b < B; b++) {
            const int32_t mb = m[b];
            const int16_t *u = pre + (size_t)b * cols;
            for (uint32_t j = 0; j < cols; j++)
                p[j] += mb * u[j];
        }
        for (uint32_t j = 0; j < cols; j++) {
            int32_t d = p[j];
            if (s > 0) {
                if (mode == ANPT_RND_NEAREST)
                    d = (d + half_m1 + ((d >> s) & 1)) >> s;
                else if (mode == ANPT_RND_FLOOR)
                    d >>= s;
                else
                    d = (d + (int32_t)(anpt_lowbias32(rnd_key ^ (i * cols + j)) & (uint32_t)mask)) >> s;
            }
            d = d > 32767 ? 32767 : d < -32768 ? -32768 : d;
            row[j] = (int16_t)ovf((int64_t)row[j] + d, f);
        }
    }
}

/* Largest |change| of a bias code per step before rounding (keeps the 2^16-scaled value in int64). */
#define BIAS_STEP_LIMIT 1099511627776.0 /* 2^40 */

/* Biases bias[0..n) (codes of format f) += round(coef x sum_b delta[b][i]): the update of a
 * weight on a constant input 1 (docs/kernel.md, "Biases"); the change taken to 16 fraction
 * bits (floor), rounded with the weights' mode, added with the format's overflow. */
static void update_bias(int16_t *bias, double coef, const int32_t *delta, uint32_t n, uint32_t B, int mode,
                        uint32_t key, const anpt_fmt *f)
{
    for (uint32_t i = 0; i < n; i++) {
        int64_t s = 0;
        for (uint32_t b = 0; b < B; b++)
            s += delta[(size_t)b * n + i];
        double x = coef * (double)s;
        x = x > BIAS_STEP_LIMIT ? BIAS_STEP_LIMIT : x < -BIAS_STEP_LIMIT ? -BIAS_STEP_LIMIT : x;
        /* an infinite coef (absurd step sizes) times a zero sum is NaN: 0, as the emulator's
         * saturating conversion (i64.trunc_sat_f64_s) gives, and no undefined behaviour in C */
        int64_t m = x == x ? (int64_t)floor(x * 65536.0) : 0;
        uint32_t rnd = mode == ANPT_RND_STOCHASTIC ? anpt_lowbias32(key ^ i) : 0;
        bias[i] = (int16_t)ovf(bias[i] + rshift(m, 16, mode, rnd), f);
    }
}

/* ---------------------------------------------------------------- eligibility traces */

int32_t anpt_decay_q16(double decay)
{
    double q = rint(decay * 65536.0);
    return q < 0.0 ? 0 : q > 65535.0 ? 65535 : (int32_t)q;
}

/* floor(log2 x) of a positive binary64 (frexp: x = f 2^e, 0.5 <= f < 1). */
static int floor_log2(double x)
{
    int e;
    (void)frexp(x, &e);
    return e - 1;
}

static int clamp_exp(int t)
{
    return t < 0 ? 0 : t > 48 ? 48 : t;
}

/* T_W, T_R, T_b from X = H max(1, sigma) (65536 - lq), binary64 left to right (X >= 1). */
void anpt_trace_exponents(uint32_t H, double hidden_sigma_lsb, int32_t lq, int in_bits, int act_bits, int t[3])
{
    double x = (double)H * (hidden_sigma_lsb > 1.0 ? hidden_sigma_lsb : 1.0) * (double)(65536 - lq);
    int e = floor_log2(x);
    t[0] = clamp_exp(e + 11 - in_bits);
    t[1] = clamp_exp(e + 11 - act_bits);
    t[2] = clamp_exp(e + 10);
}

int32_t anpt_trace_decay_add(int32_t e, int32_t lq, int64_t q)
{
    return sat32(rshift((int64_t)e * lq, 16, ANPT_RND_NEAREST, 0) + q);
}

/* f as mu 2^-sf: sf = clamp(14 - floor(log2 |f|), 0, 30) (30 at most, as the plain
 * update's shift: stochastic rounding adds 32 random bits), mu = nearest_even(f 2^sf)
 * within +-(2^31 - 1); -1 (no apply) when f is 0, not finite or subnormal, or mu is 0. */
int anpt_trace_factor(double f, int32_t *mu)
{
    *mu = 0;
    if (f == 0.0 || !isfinite(f) || fabs(f) < 2.2250738585072014e-308)
        return -1;
    int ef = floor_log2(fabs(f));
    int sf = 14 - ef < 0 ? 0 : 14 - ef > 30 ? 30 : 14 - ef;
    double m = rint(ldexp(f, sf)), lim = 2147483647.0;
    if (m == 0.0)
        return -1;
    *mu = (int32_t)(m > lim ? lim : m < -lim ? -lim : m);
    return sf;
}

int64_t anpt_trace_change(int32_t mu, int32_t e, int sf, int mode, uint32_t rnd)
{
    int64_t d = rshift((int64_t)mu * e, sf, mode, rnd);
    return d > 32767 ? 32767 : d < -32768 ? -32768 : d;
}

/* One traced layer w (rows x cols) of one step: with credit c (B x rows) and its sum of
 * squares S, q = rshift(sum_b m_bi pre_bj, s, nearest) from the block floating point of
 * g = 2^T / S (q = 0 when S = 0); E = sat32(rshift(E lq, 16, nearest) + q) for every
 * entry; then w += the change of f (unless sf < 0). One scalar pass over the trace. */
static void trace_layer(anpt_kernel *k, int16_t *w, int32_t *E, uint32_t rows, uint32_t cols, const int32_t *c,
                        double S, const int16_t *pre, int T, double f, uint32_t rnd_key)
{
    const uint32_t B = k->c.B;
    const anpt_fmt *wf = &k->c.w;
    const int mode = wf->rounding;
    int s = -1;
    if (S > 0.0) {
        double g = ldexp(1.0, T) / S;
        s = mantissa_shift(g, max_abs32(c, (size_t)B * rows), k->mant_bits);
        if (s >= 0)
            fill_mantissas(k->mant, g, s, c, rows, B, k->mant_bits);
    }
    int32_t mu;
    const int sf = anpt_trace_factor(f, &mu);
    for (uint32_t i = 0; i < rows; i++) {
        const int16_t *m = k->mant + (size_t)i * B;
        int16_t *row = w + (size_t)i * cols;
        int32_t *er = E + (size_t)i * cols;
        for (uint32_t j = 0; j < cols; j++) {
            int64_t q = 0;
            if (s >= 0) {
                int64_t p = 0;
                for (uint32_t b = 0; b < B; b++)
                    p += (int64_t)m[b] * pre[(size_t)b * cols + j];
                q = rshift(p, s, ANPT_RND_NEAREST, 0);
            }
            er[j] = anpt_trace_decay_add(er[j], k->decay_q16, q);
            if (sf >= 0) {
                uint32_t rnd = mode == ANPT_RND_STOCHASTIC ? anpt_lowbias32(rnd_key ^ (i * cols + j)) : 0;
                row[j] = (int16_t)ovf(row[j] + anpt_trace_change(mu, er[j], sf, mode, rnd), wf);
            }
        }
    }
}

/* The hidden bias's trace: q_i = nearest_even(clamp((2^T_b / S) sum_b c_bi, +-2^31)). */
static void trace_bias(anpt_kernel *k, const int32_t *c, double S, double f, uint32_t rnd_key)
{
    const uint32_t H = k->c.H, B = k->c.B;
    const int mode = k->c.w.rounding;
    const double g = S > 0.0 ? ldexp(1.0, k->trace_exp[2]) / S : 0.0, lim = 2147483648.0;
    int32_t mu;
    const int sf = anpt_trace_factor(f, &mu);
    for (uint32_t i = 0; i < H; i++) {
        int64_t q = 0;
        if (S > 0.0) {
            int64_t sum = 0;
            for (uint32_t b = 0; b < B; b++)
                sum += c[(size_t)b * H + i];
            double x = g * (double)sum;
            q = (int64_t)rint(x > lim ? lim : x < -lim ? -lim : x);
        }
        k->eb[i] = anpt_trace_decay_add(k->eb[i], k->decay_q16, q);
        if (sf >= 0) {
            uint32_t rnd = mode == ANPT_RND_STOCHASTIC ? anpt_lowbias32(rnd_key ^ i) : 0;
            k->bb[i] = (int16_t)ovf(k->bb[i] + anpt_trace_change(mu, k->eb[i], sf, mode, rnd), &k->c.pre);
        }
    }
}

int anpt_reward(anpt_kernel *k, uint32_t K, uint32_t t0, double lr_w, double lr_r, double lr_v)
{
    if (!k->configured)
        return ANPT_ERR_NOT_CONFIGURED;
    if (k->pending_steps == 0)
        return ANPT_ERR_NO_CHUNK;
    if (K != k->pending_steps)
        return ANPT_ERR_STEPS;
    if (t0 != k->pending_t0)
        return ANPT_ERR_T0;
    const anpt_config *c = &k->c;
    const uint32_t I = c->I, H = c->H, O = c->O, B = c->B;
    const size_t bh = (size_t)B * H;
    const double fB = (double)B;
    const int M = k->mant_bits;
    const int st = c->w.rounding == ANPT_RND_STOCHASTIC;
    for (uint32_t s = 0; s < K; s++) {
        const uint32_t t = t0 + s;
        const double dL = k->rewards[s];
        const int32_t *da = k->da + (size_t)s * bh;
        const int32_t *dy = k->dy + (size_t)s * B * O;
        const double Sh = (double)sum_squares(da, bh), So = (double)sum_squares(dy, (size_t)B * O);
        const int16_t *x = k->xs + (size_t)s * B * I;
        const int16_t *r_prev = k->rs + (size_t)s * bh, *r_now = r_prev + bh;
        if (k->ew) {
            /* "Eligibility traces": W, R, b along their traces; V and c below as before */
            const int *T = k->trace_exp;
            double fw = -lr_w * k->sqrt_n * dL * ldexp(1.0, c->pre.frac + c->w.frac - c->in.frac - T[0]) / fB;
            trace_layer(k, k->w, k->ew, H, I, da, Sh, x, T[0], fw, st ? (uint32_t)anpt_key(c->seed, STREAM_UPD_W, t, 0) : 0);
            double fr = -lr_r * k->sqrt_n * dL * ldexp(1.0, c->pre.frac + c->w.frac - c->act.frac - T[1]) / fB;
            trace_layer(k, k->r, k->er, H, H, da, Sh, r_prev, T[1], fr, st ? (uint32_t)anpt_key(c->seed, STREAM_UPD_R, t, 0) : 0);
            if (k->eb) {
                double fb = -lr_w * k->sqrt_n * dL * ldexp(1.0, 2 * c->pre.frac - T[2]) / fB;
                trace_bias(k, da, Sh, fb, st ? (uint32_t)anpt_key(c->seed, STREAM_UPD_B, t, 0) : 0);
            }
        } else if (Sh > 0.0) {
            int32_t mx = max_abs32(da, bh);
            double cw = (-lr_w * k->sqrt_n * dL * ldexp(1.0, c->pre.frac + c->w.frac - c->in.frac)) / (fB * Sh);
            int sw = mantissa_shift(cw, mx, M);
            if (sw >= 0) {
                fill_mantissas(k->mant, cw, sw, da, H, B, M);
                apply_update(k, k->w, H, I, k->mant, B, x, sw, &c->w, st ? (uint32_t)anpt_key(c->seed, STREAM_UPD_W, t, 0) : 0);
            }
            double cr = (-lr_r * k->sqrt_n * dL * ldexp(1.0, c->pre.frac + c->w.frac - c->act.frac)) / (fB * Sh);
            int sr = mantissa_shift(cr, mx, M);
            if (sr >= 0) {
                fill_mantissas(k->mant, cr, sr, da, H, B, M);
                apply_update(k, k->r, H, H, k->mant, B, r_prev, sr, &c->w, st ? (uint32_t)anpt_key(c->seed, STREAM_UPD_R, t, 0) : 0);
            }
            if (k->bb) {
                double cb = (-lr_w * k->sqrt_n * dL * ldexp(1.0, 2 * c->pre.frac)) / (fB * Sh);
                update_bias(k->bb, cb, da, H, B, c->w.rounding, st ? (uint32_t)anpt_key(c->seed, STREAM_UPD_B, t, 0) : 0, &c->pre);
            }
        }
        if (So > 0.0) {
            double cv = (-lr_v * k->sqrt_n * dL * ldexp(1.0, c->out.frac + c->w.frac - c->act.frac)) / (fB * So);
            int sv = mantissa_shift(cv, max_abs32(dy, (size_t)B * O), M);
            if (sv >= 0) {
                fill_mantissas(k->mant, cv, sv, dy, O, B, M);
                apply_update(k, k->v, O, H, k->mant, B, r_now, sv, &c->w, st ? (uint32_t)anpt_key(c->seed, STREAM_UPD_V, t, 0) : 0);
            }
            if (k->bc) {
                double cc = (-lr_v * k->sqrt_n * dL * ldexp(1.0, 2 * c->out.frac)) / (fB * So);
                update_bias(k->bc, cc, dy, O, B, c->w.rounding, st ? (uint32_t)anpt_key(c->seed, STREAM_UPD_C, t, 0) : 0, &c->out);
            }
        }
        k->updates++;
    }
    k->pending_steps = 0;
    return ANPT_OK;
}
