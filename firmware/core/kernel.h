/*
 * firmware/core/kernel.h -- the anpt chip kernel in C99, bit for bit as docs/kernel.md
 * specifies: every configuration the emulator (assembly/) accepts (2..16-bit formats,
 * signed or unsigned, nearest/floor/stochastic rounding, sat/wrap overflow, tanh,
 * hardtanh and linear activations, counter-based noise, mismatch, the block-floating
 * ANP-T update, biases, eligibility traces), in chunks of 1..K steps.
 *
 * No allocation: the caller hands an arena (a static array on a board, sized from
 * firmware/config.h) and anpt_configure() lays the buffers out in it, refusing a
 * configuration that does not fit (anpt_layout_bytes() says how much one needs).
 */
#ifndef ANPT_KERNEL_H
#define ANPT_KERNEL_H

#include <stddef.h>
#include <stdint.h>

enum { ANPT_RND_NEAREST = 0, ANPT_RND_FLOOR = 1, ANPT_RND_STOCHASTIC = 2 };
enum { ANPT_OVF_SAT = 0, ANPT_OVF_WRAP = 1 };
enum { ANPT_ACT_TANH = 0, ANPT_ACT_HARDTANH = 1, ANPT_ACT_LINEAR = 2 };
enum { ANPT_T_W = 0, ANPT_T_R = 1, ANPT_T_V = 2, ANPT_T_STATE_CLEAN = 3, ANPT_T_STATE_NOISY = 4,
       ANPT_T_BIAS_HIDDEN = 5, ANPT_T_BIAS_OUTPUT = 6 }; /* 5, 6: only with biases */
/* The int32 trace tensors (anpt_trace_tensor): only with a trace (9: and biases). */
enum { ANPT_T_TRACE_W = 7, ANPT_T_TRACE_R = 8, ANPT_T_TRACE_BIAS = 9 };
enum { ANPT_TRACE_NONE = 0, ANPT_TRACE_ACTIVITY = 1, ANPT_TRACE_INNOVATION = 2 };

typedef struct {
    int bits, frac, is_signed, rounding, wrap;
    int32_t min, max; /* code range, filled by anpt_fmt_init */
} anpt_fmt;

void anpt_fmt_init(anpt_fmt *f, int bits, int frac, int is_signed, int rounding, int wrap);

typedef struct {
    uint32_t I, H, O, B, K; /* inputs, hidden, outputs, batch, max chunk steps */
    int activation;         /* ANPT_ACT_* */
    anpt_fmt in, w, pre, act, out;
    uint64_t seed;
    double hidden_sigma_lsb, output_sigma_lsb; /* sigma * 2^pre.frac, sigma * 2^out.frac */
    double gain_spread, offset_spread_lsb;     /* relative; offset * 2^pre.frac */
    uint32_t mismatch_seed;
    int bias;               /* biases b (pre codes) and c (output codes), docs/kernel.md "Biases" */
    int trace;              /* ANPT_TRACE_*, docs/kernel.md "Eligibility traces" */
    double decay;           /* the trace's decay, 0 <= decay < 1 (kept as a Q16 code) */
} anpt_config;

typedef struct {
    anpt_config c;
    int configured;
    /* int16 codes */
    int16_t *w, *r, *v;      /* H x I, H x H, O x H */
    int16_t *state, *rn;     /* B x H clean and noisy activity */
    int16_t *inputs;         /* K x B x I: staging of the next run's inputs */
    int16_t *xs;             /* K x B x I: inputs of the pending chunk */
    int16_t *rs;             /* (K+1) x B x H: clean activity before/after each step */
    int16_t *out_clean, *out_noisy; /* K x B x O */
    int16_t *mant;           /* B x max(H, O) mantissas of one layer (neuron-major) */
    /* int32 */
    int32_t *da, *dy;        /* K x B x H, K x B x O */
    int32_t *pre_c, *pre_n;  /* B x H */
    int32_t *gain, *offset;  /* H */
    int32_t *scratch;        /* max(H, I): one row of the update's p_ij */
    int32_t *xmax;           /* B: max |pre_bj| of a layer update's presynaptic rows */
    int16_t *bb, *bc;        /* H, O: the biases, after every other buffer; NULL without */
    int32_t *ew, *er, *eb;   /* H x I, H x H, H: the traces, after the biases; NULL without (eb: and biases) */
    double *rewards;         /* K: staging of the next reward's dL */
    /* derived at configure */
    int64_t scale_hidden, scale_output;
    int mismatch_on, mant_bits;
    double sqrt_n;
    int32_t decay_q16;       /* lq = nearest_even(decay * 65536) */
    int trace_exp[3];        /* T_W, T_R, T_b */
    /* the last noisy chunk, waiting for its reward */
    uint32_t pending_steps, pending_t0;
    uint64_t steps, updates;
    /* Row skip of the update (docs/kernel.md, the emulator's rule; same bits either way):
     * on unless anpt_set_row_skip(k, 0); rows of a layer update visited and skipped. */
    int row_skip;
    uint64_t rows_total, rows_skipped;
    uint8_t *arena;
    size_t arena_bytes;
} anpt_kernel;

enum { ANPT_OK = 0, ANPT_ERR_NOT_CONFIGURED = -1, ANPT_ERR_MEMORY = -2, ANPT_ERR_STEPS = -3,
       ANPT_ERR_NO_CHUNK = -4, ANPT_ERR_T0 = -5 };

/* Bytes of arena a configuration needs (bias: with the two bias registers; trace:
 * ANPT_TRACE_*, with the traces). anpt_layout_bytes is the same without a trace. */
size_t anpt_layout_bytes_traced(uint32_t I, uint32_t H, uint32_t O, uint32_t B, uint32_t K, int bias, int trace);
size_t anpt_layout_bytes(uint32_t I, uint32_t H, uint32_t O, uint32_t B, uint32_t K, int bias);

void anpt_init(anpt_kernel *k, void *arena, size_t arena_bytes);
/* Lay out and zero the buffers, draw the mismatch. ANPT_ERR_MEMORY if it does not fit
 * (the kernel is then unconfigured). */
int anpt_configure(anpt_kernel *k, const anpt_config *c);

/* Tensor t as (base, rows x cols); NULL for an unknown t. */
int16_t *anpt_tensor(anpt_kernel *k, int t, uint32_t *length, const anpt_fmt **fmt);

/* Trace tensor t (ANPT_T_TRACE_*) as (base, length) of int32 codes; NULL without that trace. */
int32_t *anpt_trace_tensor(anpt_kernel *k, int t, uint32_t *length);

/* Zero both state copies and the traces. */
void anpt_reset_state(anpt_kernel *k);

/* Run `steps` steps from k->inputs (steps x B x I codes) starting at step counter t0.
 * Outputs in out_clean / out_noisy; the clean activity after step j of the chunk is
 * rs + (j+1) * B * H. */
int anpt_run(anpt_kernel *k, uint32_t steps, uint32_t t0, int noisy);

/* Apply the ANP-T update of the pending chunk with k->rewards (steps dL). */
int anpt_reward(anpt_kernel *k, uint32_t steps, uint32_t t0, double lr_w, double lr_r, double lr_v);

/* Row skipping of the update on (default) or off: same bits, less work when on. */
void anpt_set_row_skip(anpt_kernel *k, int on);

/* Primitives, exported for tests. */
int64_t anpt_ovf(int64_t x, const anpt_fmt *f);
int64_t anpt_rshift(int64_t x, int s, int mode, uint32_t rnd);
uint64_t anpt_mix64(uint64_t z);
uint64_t anpt_key(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b);
uint32_t anpt_lowbias32(uint32_t x);
int64_t anpt_gauss_scale(double sigma_lsb);
int64_t anpt_gauss(int64_t scale, uint64_t h);
int64_t anpt_activate(int kind, int64_t a, int pF, const anpt_fmt *act, uint32_t rnd);
/* Eligibility traces (docs/kernel.md): the decay's Q16 code; T_W, T_R, T_b into t[3];
 * E' = sat32(rshift(E lq, 16, nearest) + q); the apply factor f as (mu, sf), sf = -1 to
 * skip; a weight's change sat16(rshift(mu E, sf, mode, rnd)). */
int32_t anpt_decay_q16(double decay);
void anpt_trace_exponents(uint32_t H, double hidden_sigma_lsb, int32_t lq, int in_bits, int act_bits, int t[3]);
int32_t anpt_trace_decay_add(int32_t e, int32_t lq, int64_t q);
int anpt_trace_factor(double f, int32_t *mu);
int64_t anpt_trace_change(int32_t mu, int32_t e, int sf, int mode, uint32_t rnd);

#endif
