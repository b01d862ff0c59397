/*
 * firmware/link/device.c -- see device.h. The order of the checks is docs/protocol.md's
 * ("The order of checks on the device", "The checks of each call, in order"), the same
 * as the host's reference device (src/link/server.ts, session.ts, src/device/contract.ts),
 * so that both refuse a bad request with the same code and field.
 */
#include "device.h"

#include <math.h>
#include <stdarg.h>
#include <pb_decode.h>
#include <pb_encode.h>
#include <stdio.h>
#include <string.h>

#include "../hal.h"
#include "codec.h"
#include "crc32.h"

#define ENVELOPE_BYTES 32u
/* Messages use only %d %u %lu %s %g: newlib-nano's printf (the Cortex-M4 build) has no
 * %ll, and a %llu there reads the wrong arguments. */

/* ---------------------------------------------------------------- replies */

static int fail(anpt_v2_Response *r, anpt_v2_ErrorCode code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Set r to the error; returns 0 (so a check can `return fail(...)`). */
static int fail(anpt_v2_Response *r, anpt_v2_ErrorCode code, const char *field, const char *fmt, ...)
{
    r->which_body = 0;
    r->has_error = true;
    r->error.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error.message, sizeof r->error.message, fmt, ap);
    va_end(ap);
    snprintf(r->error.field, sizeof r->error.field, "%s", field);
    return 0;
}

static int busy(anpt_device *d, anpt_v2_Response *r)
{
    fail(r, anpt_v2_ErrorCode_ERROR_CODE_BUSY, "session", "the board is held by %.32s; pass take_over to take it", d->holder);
    snprintf(r->error.holder, sizeof r->error.holder, "%s", d->holder);
    r->error.held_ms = hal_millis() - d->opened_ms;
    return 0;
}

/* ---------------------------------------------------------------- sizes (messages.ts) */

static uint32_t code_bytes(uint32_t bits, bool is_signed)
{
    return ((is_signed ? bits : bits + 1) + 6) / 7;
}

static uint32_t codes_per_frame(uint32_t limit, const anpt_fmt *f)
{
    return limit > ENVELOPE_BYTES ? (limit - ENVELOPE_BYTES) / code_bytes((uint32_t)f->bits, f->is_signed) : 0;
}

/* Largest chunk whose Run, RunReply (no hidden trace) and Reward all fit `limit`. */
static uint64_t chunk_fit(uint32_t limit, const anpt_v2_Configure *c)
{
    const anpt_v2_Topology *t = &c->topology;
    const anpt_v2_Formats *f = &c->formats;
    uint64_t per_run = (uint64_t)t->batch * t->inputs * code_bytes(f->input.bits, f->input.is_signed);
    uint64_t per_reply = (uint64_t)t->batch * 2 * t->outputs * code_bytes(f->output.bits, f->output.is_signed);
    uint64_t k = limit > ENVELOPE_BYTES + 32 ? (limit - ENVELOPE_BYTES - 32) / 8 : 0;
    if (per_run > 0 && (limit - ENVELOPE_BYTES) / per_run < k)
        k = (limit - ENVELOPE_BYTES) / per_run;
    if (per_reply > 0 && (limit - ENVELOPE_BYTES - 16) / per_reply < k)
        k = (limit - ENVELOPE_BYTES - 16) / per_reply;
    return k;
}

/* ---------------------------------------------------------------- configure */

static const char *const FMT_NAMES[5] = { "input", "weight", "pre", "activity", "output" };

static int check_format(const anpt_v2_FixedFormat *f, int has, int which, anpt_v2_Response *r)
{
    char field[48];
    const char *name = FMT_NAMES[which];
    if (!has) {
        snprintf(field, sizeof field, "configure.formats.%s", name);
        fail(r, anpt_v2_ErrorCode_ERROR_CODE_CONFIG_OUT_OF_RANGE, field, "missing; every format (input, weight, pre, activity, output) must be sent");
        return 0;
    }
    if ((unsigned)f->rounding > 2) {
        snprintf(field, sizeof field, "configure.formats.%s.rounding", name);
        fail(r, anpt_v2_ErrorCode_ERROR_CODE_CONFIG_OUT_OF_RANGE, field, "%d is not a rounding code", (int)f->rounding);
        return 0;
    }
    if ((unsigned)f->overflow > 1) {
        snprintf(field, sizeof field, "configure.formats.%s.overflow", name);
        fail(r, anpt_v2_ErrorCode_ERROR_CODE_CONFIG_OUT_OF_RANGE, field, "%d is not an overflow code", (int)f->overflow);
        return 0;
    }
    return 1;
}

/* The chip's ranges of a format (src/format/fixed.ts validateFormat, config.ts). */
static int check_format_range(const anpt_v2_FixedFormat *f, int which, anpt_v2_Response *r)
{
    char field[48];
    const char *name = FMT_NAMES[which];
    if (f->bits < 2 || f->bits > 16) {
        snprintf(field, sizeof field, "configure.formats.%s.bits", name);
        fail(r, anpt_v2_ErrorCode_ERROR_CODE_CONFIG_OUT_OF_RANGE, field, "%lu is out of range; allowed 2..16", (unsigned long)f->bits);
        return 0;
    }
    uint32_t max_frac = f->is_signed ? f->bits - 1 : f->bits;
    if (f->frac > max_frac) {
        snprintf(field, sizeof field, "configure.formats.%s.frac", name);
        fail(r, anpt_v2_ErrorCode_ERROR_CODE_CONFIG_OUT_OF_RANGE, field, "%lu is out of range for %lu %s bits; allowed 0..%lu",
             (unsigned long)f->frac, (unsigned long)f->bits, f->is_signed ? "signed" : "unsigned", (unsigned long)max_frac);
        return 0;
    }
    if (!f->is_signed && (which == 1 || which == 2 || which == 4)) {
        snprintf(field, sizeof field, "configure.formats.%s.signed", name);
        fail(r, anpt_v2_ErrorCode_ERROR_CODE_CONFIG_OUT_OF_RANGE, field, "must be signed (true): these quantities take both signs");
        return 0;
    }
    if (!f->is_signed && (which == 0 || which == 3) && f->bits > 15) {
        snprintf(field, sizeof field, "configure.formats.%s.bits", name);
        fail(r, anpt_v2_ErrorCode_ERROR_CODE_CONFIG_OUT_OF_RANGE, field, "%lu unsigned bits do not fit the 16-bit signed lanes; allowed 2..15 when unsigned", (unsigned long)f->bits);
        return 0;
    }
    if (!f->is_signed && which == 0 && f->frac > 15) {
        fail(r, anpt_v2_ErrorCode_ERROR_CODE_CONFIG_OUT_OF_RANGE, "configure.formats.input.frac", "%lu too large for the 16-bit input lanes; allowed 0..15", (unsigned long)f->frac);
        return 0;
    }
    return 1;
}

static int real_in(double x, double lo, double hi, const char *field, anpt_v2_Response *r)
{
    if (!(isfinite(x) && x >= lo && x <= hi)) {
        fail(r, anpt_v2_ErrorCode_ERROR_CODE_CONFIG_OUT_OF_RANGE, field, "%g is out of range; allowed %g..%g", x, lo, hi);
        return 0;
    }
    return 1;
}

static int int_in(uint32_t x, uint32_t lo, uint32_t hi, const char *field, anpt_v2_Response *r)
{
    if (x < lo || x > hi) {
        fail(r, anpt_v2_ErrorCode_ERROR_CODE_CONFIG_OUT_OF_RANGE, field, "%lu is out of range; allowed integers %lu..%lu",
             (unsigned long)x, (unsigned long)lo, (unsigned long)hi);
        return 0;
    }
    return 1;
}

static void to_fmt(anpt_fmt *o, const anpt_v2_FixedFormat *f)
{
    anpt_fmt_init(o, (int)f->bits, (int)f->frac, f->is_signed, (int)f->rounding, f->overflow == anpt_v2_Overflow_OVERFLOW_WRAP);
}

static void to_kernel_config(anpt_config *k, const anpt_v2_Configure *c, uint32_t K)
{
    k->I = c->topology.inputs;
    k->H = c->topology.hidden;
    k->O = c->topology.outputs;
    k->B = c->topology.batch;
    k->K = K;
    k->activation = (int)c->topology.activation - 1; /* TANH = 1 on the wire, 0 in the kernel */
    to_fmt(&k->in, &c->formats.input);
    to_fmt(&k->w, &c->formats.weight);
    to_fmt(&k->pre, &c->formats.pre);
    to_fmt(&k->act, &c->formats.activity);
    to_fmt(&k->out, &c->formats.output);
    k->seed = c->seed;
    k->hidden_sigma_lsb = ldexp(c->noise.hidden_sigma, (int)c->formats.pre.frac);
    k->output_sigma_lsb = ldexp(c->noise.output_sigma, (int)c->formats.output.frac);
    k->gain_spread = c->has_mismatch ? c->mismatch.gain_spread : 0.0;
    k->offset_spread_lsb = c->has_mismatch ? ldexp(c->mismatch.offset_spread, (int)c->formats.pre.frac) : 0.0;
    k->mismatch_seed = c->has_mismatch ? c->mismatch.seed : 0;
    k->bias = c->topology.bias;
    k->trace = c->has_learner ? (int)c->learner.trace : ANPT_TRACE_NONE;
    k->decay = c->has_learner ? c->learner.decay : 0.0;
}

/* Arena bytes of configuration c with K-step chunks. */
static size_t layout_of(const anpt_v2_Configure *c, uint32_t K)
{
    const anpt_v2_Topology *t = &c->topology;
    return anpt_layout_bytes_traced(t->inputs, t->hidden, t->outputs, t->batch, K, t->bias, c->has_learner ? (int)c->learner.trace : 0);
}

static int configure(anpt_device *d, const anpt_v2_Configure *c, anpt_v2_Response *r)
{
    const anpt_v2_ErrorCode RANGE = anpt_v2_ErrorCode_ERROR_CODE_CONFIG_OUT_OF_RANGE;
    d->has_rates = 0; /* Reward.same_rates needs a Reward since this Configure */
    if (!c->has_topology)
        return fail(r, RANGE, "configure.topology", "missing");
    if (c->topology.activation < 1 || c->topology.activation > 3)
        return fail(r, RANGE, "configure.topology.activation", "%d is not an activation; use TANH, HARDTANH or LINEAR", (int)c->topology.activation), 0;
    if (!c->has_formats)
        return fail(r, RANGE, "configure.formats", "missing");
    const anpt_v2_Formats *f = &c->formats;
    if (!check_format(&f->input, f->has_input, 0, r) || !check_format(&f->weight, f->has_weight, 1, r) ||
        !check_format(&f->pre, f->has_pre, 2, r) || !check_format(&f->activity, f->has_activity, 3, r) ||
        !check_format(&f->output, f->has_output, 4, r))
        return 0;
    if (!c->has_noise)
        return fail(r, RANGE, "configure.noise", "missing");
    uint64_t fit = chunk_fit(d->reply_limit, c);
    if (c->max_chunk_steps > fit)
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_TOO_LARGE, "configure.max_chunk_steps",
                    "max_chunk_steps %lu does not fit a %lu-byte frame for this topology; at most %lu",
                    (unsigned long)c->max_chunk_steps, (unsigned long)d->reply_limit, (unsigned long)fit), 0;
    const anpt_v2_Topology *t = &c->topology;
    if (!int_in(t->inputs, 1, ANPT_MAX_INPUTS, "configure.topology.inputs", r) ||
        !int_in(t->hidden, 1, ANPT_MAX_HIDDEN, "configure.topology.hidden", r) ||
        !int_in(t->outputs, 1, ANPT_MAX_OUTPUTS, "configure.topology.outputs", r) ||
        !int_in(t->batch, 1, ANPT_MAX_BATCH, "configure.topology.batch", r) ||
        !int_in(c->max_chunk_steps, 1, ANPT_MAX_CHUNK_STEPS, "configure.max_chunk_steps", r) ||
        !real_in(c->noise.hidden_sigma, 0, 1e6, "configure.noise.hidden_sigma", r) ||
        !real_in(c->noise.output_sigma, 0, 1e6, "configure.noise.output_sigma", r))
        return 0;
    if (c->has_mismatch && (!real_in(c->mismatch.gain_spread, 0, 0.5, "configure.mismatch.gain_spread", r) ||
                            !real_in(c->mismatch.offset_spread, 0, 1e6, "configure.mismatch.offset_spread", r)))
        return 0;
    if (!check_format_range(&f->input, 0, r) || !check_format_range(&f->weight, 1, r) || !check_format_range(&f->pre, 2, r) ||
        !check_format_range(&f->activity, 3, r) || !check_format_range(&f->output, 4, r))
        return 0;
    if (ldexp(c->noise.hidden_sigma, (int)f->pre.frac) > 4096)
        return fail(r, RANGE, "configure.noise.hidden_sigma", "%g is more than 4096 LSBs of formats.pre", c->noise.hidden_sigma);
    if (ldexp(c->noise.output_sigma, (int)f->output.frac) > 4096)
        return fail(r, RANGE, "configure.noise.output_sigma", "%g is more than 4096 LSBs of formats.output", c->noise.output_sigma);
    if (c->has_mismatch && ldexp(c->mismatch.offset_spread, (int)f->pre.frac) > 4096)
        return fail(r, RANGE, "configure.mismatch.offset_spread", "%g is more than 4096 LSBs of formats.pre", c->mismatch.offset_spread);
    if (c->has_learner && (unsigned)c->learner.trace > 2)
        return fail(r, RANGE, "configure.learner.trace", "%d is not a trace kind; use TRACE_NONE, TRACE_ACTIVITY or TRACE_INNOVATION", (int)c->learner.trace);
    if (c->has_learner && !(c->learner.decay >= 0 && c->learner.decay < 1))
        return fail(r, RANGE, "configure.learner.decay", "%g is out of range; allowed 0 <= decay < 1", c->learner.decay);
    /* RAM: the kernel layout (with the traces) must fit the arena */
    if (layout_of(c, c->max_chunk_steps) > d->k.arena_bytes) {
        uint32_t k = c->max_chunk_steps;
        while (k > 0 && layout_of(c, k) > d->k.arena_bytes)
            k /= 2;
        if (k == 0)
            return fail(r, RANGE, "configure.topology.hidden", "does not fit the board's %lu bytes of RAM even with 1-step chunks; lower hidden or batch%s",
                        (unsigned long)d->k.arena_bytes, layout_of(c, 1) > anpt_layout_bytes(t->inputs, t->hidden, t->outputs, t->batch, 1, t->bias) ? ", or use no trace" : ""), 0;
        while (layout_of(c, k + 1) <= d->k.arena_bytes)
            k++;
        return fail(r, RANGE, "configure.max_chunk_steps", "needs more than the board's %lu bytes of RAM; at most %lu steps fit",
                    (unsigned long)d->k.arena_bytes, (unsigned long)k), 0;
    }
    anpt_config kc;
    to_kernel_config(&kc, c, c->max_chunk_steps);
    if (anpt_configure(&d->k, &kc) != ANPT_OK) /* cannot happen: the layout was checked */
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_INTERNAL, "", "kernel refused a checked configuration");
    d->cfg = *c;
    d->configured = 1;
    return 1;
}

/* ---------------------------------------------------------------- the calls */

static int need_config(anpt_device *d, const char *what, anpt_v2_Response *r)
{
    if (d->configured)
        return 1;
    fail(r, anpt_v2_ErrorCode_ERROR_CODE_NOT_CONFIGURED, what, "%s before configure; send Configure first", what);
    return 0;
}

static const char *const TENSOR_NAMES[10] = { "w", "r", "v", "clean", "noisy", "bias_hidden", "bias_output", "trace_w", "trace_r", "trace_bias" };

/* The int32 codes of the trace tensors (sint32 on the wire, 5 bytes at most). */
static const anpt_fmt TRACE_CODES = { 32, 0, 1, ANPT_RND_NEAREST, ANPT_OVF_SAT, INT32_MIN, INT32_MAX };

/* A tensor: int16 codes p of format fmt, or the int32 codes p32 of a trace. */
typedef struct {
    int16_t *p;
    int32_t *p32;
    uint32_t len;
    const anpt_fmt *fmt;
} tensor_ref;

/* Tensor by wire enum (1..10; 6, 7 only with Topology.bias, 8..10 only with a learner
 * trace, 10 and Topology.bias); 0 after a BAD_REQUEST. */
static int tensor(anpt_device *d, int wire, const char *field, tensor_ref *t, anpt_v2_Response *r)
{
    const anpt_v2_ErrorCode BAD = anpt_v2_ErrorCode_ERROR_CODE_BAD_REQUEST;
    t->p = wire >= 1 && wire <= 7 ? anpt_tensor(&d->k, wire - 1, &t->len, &t->fmt) : NULL;
    t->p32 = wire >= 8 && wire <= 10 ? anpt_trace_tensor(&d->k, wire - 1, &t->len) : NULL;
    if (t->p32)
        t->fmt = &TRACE_CODES;
    if (t->p || t->p32)
        return 1;
    if (wire == 6 || wire == 7)
        return fail(r, BAD, field, "tensor %d (a bias) needs Topology.bias in Configure", wire);
    if (wire == 8 || wire == 9)
        return fail(r, BAD, field, "tensor %d (a trace) needs Configure.learner with a trace (activity or innovation)", wire);
    if (wire == 10)
        return fail(r, BAD, field, "tensor 10 (the bias trace) needs Configure.learner with a trace and Topology.bias");
    return fail(r, BAD, field, "tensor %d is not W, R, V, STATE_CLEAN, STATE_NOISY, BIAS_HIDDEN, BIAS_OUTPUT or TRACE_W, TRACE_R, TRACE_BIAS", wire);
}

/* The store pass: decode the same payload again, now writing the array. */
static int decode_again(const uint8_t *payload, size_t len, anpt_v2_Request *req)
{
    anpt_cx.store = 1;
    anpt_cx.count = 0;
    anpt_cx.nonfinite = 0;
    pb_istream_t in = pb_istream_from_buffer(payload, len);
    return pb_decode(&in, anpt_v2_Request_fields, req);
}

static int write_params(anpt_device *d, const uint8_t *payload, size_t plen, anpt_v2_Request *req, anpt_v2_Response *r)
{
    const anpt_v2_WriteParams *m = &req->body.write_params;
    tensor_ref t;
    if (!need_config(d, "write_params", r))
        return 0;
    if (!tensor(d, m->tensor, "write_params.tensor", &t, r))
        return 0;
    uint32_t n = anpt_cx.count;
    if ((uint64_t)m->offset + n > t.len)
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_BAD_REQUEST, "write_params.offset", "codes [%lu, %lu) exceed tensor %s of %lu",
                    (unsigned long)m->offset, (unsigned long)(m->offset + n), TENSOR_NAMES[m->tensor - 1], (unsigned long)t.len);
    anpt_cx.dst = t.p ? t.p + m->offset : NULL;
    anpt_cx.dst32 = t.p32 ? t.p32 + m->offset : NULL;
    anpt_cx.cap = n;
    anpt_cx.fmt = t.fmt;
    if (!decode_again(payload, plen, req))
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_INTERNAL, "", "second decode failed");
    r->which_body = anpt_v2_Response_write_params_tag;
    return 1;
}

static int read_params(anpt_device *d, const anpt_v2_ReadParams *m, anpt_v2_Response *r)
{
    tensor_ref t;
    if (!need_config(d, "read_params", r))
        return 0;
    if (!tensor(d, m->tensor, "read_params.tensor", &t, r))
        return 0;
    if (m->offset > t.len)
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_BAD_REQUEST, "read_params.offset", "offset %lu is past tensor %s of %lu",
                    (unsigned long)m->offset, TENSOR_NAMES[m->tensor - 1], (unsigned long)t.len);
    uint32_t n = m->count, left = t.len - m->offset, fit = codes_per_frame(d->reply_limit, t.fmt);
    n = n < left ? n : left;
    n = n < fit ? n : fit;
    anpt_cx.codes = t.p ? t.p + m->offset : NULL;
    anpt_cx.codes32 = t.p32 ? t.p32 + m->offset : NULL;
    anpt_cx.n_codes = n;
    r->which_body = anpt_v2_Response_read_params_tag;
    r->body.read_params.tensor = m->tensor;
    r->body.read_params.offset = m->offset;
    r->body.read_params.total = t.len;
    return 1;
}

static int run(anpt_device *d, const uint8_t *payload, size_t plen, anpt_v2_Request *req, anpt_v2_Response *r)
{
    const anpt_v2_Run *m = &req->body.run;
    if (!need_config(d, "run", r))
        return 0;
    const anpt_config *c = &d->k.c;
    if (m->steps < 1)
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_BAD_REQUEST, "run.steps", "steps 0; run 1..%lu steps (max_chunk_steps)", (unsigned long)c->K);
    if (m->steps > c->K)
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_TOO_LARGE, "run.steps", "steps %lu outside 1..%lu (max_chunk_steps)",
                    (unsigned long)m->steps, (unsigned long)c->K);
    uint32_t want = m->steps * c->B * c->I;
    if (anpt_cx.count != want)
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_BAD_REQUEST, "run.inputs", "%lu input codes, expected steps*batch*inputs = %lu",
                    (unsigned long)anpt_cx.count, (unsigned long)want);
    uint64_t per_step = (uint64_t)c->B * (2u * c->O * code_bytes((uint32_t)c->out.bits, c->out.is_signed) +
                                          (m->hidden_trace ? c->H * code_bytes((uint32_t)c->act.bits, c->act.is_signed) : 0));
    uint64_t reply_bytes = ENVELOPE_BYTES + 16 + (uint64_t)m->steps * per_step;
    if (reply_bytes > d->reply_limit)
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_TOO_LARGE, "run.hidden_trace", "reply could need %lu bytes, frame limit %lu; run fewer steps with hidden_trace",
                    (unsigned long)(reply_bytes > 0xFFFFFFFFu ? 0xFFFFFFFFu : reply_bytes), (unsigned long)d->reply_limit);
    anpt_cx.dst = d->k.inputs;
    anpt_cx.cap = want;
    anpt_cx.fmt = &c->in;
    uint32_t steps = m->steps, t0 = m->t0;
    int noisy = m->noisy, hidden = m->hidden_trace;
    if (!decode_again(payload, plen, req))
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_INTERNAL, "", "second decode failed");
    anpt_run(&d->k, steps, t0, noisy);
    d->run_calls++;
    size_t no = (size_t)steps * c->B * c->O;
    anpt_cx.clean = d->k.out_clean;
    anpt_cx.n_clean = (uint32_t)no;
    anpt_cx.noisy = d->k.out_noisy;
    anpt_cx.n_noisy = noisy ? (uint32_t)no : 0;
    anpt_cx.hidden = d->k.rs + (size_t)c->B * c->H; /* the clean activity after each step */
    anpt_cx.n_hidden = hidden ? steps * c->B * c->H : 0;
    r->which_body = anpt_v2_Response_run_tag;
    r->body.run.t0 = t0;
    r->body.run.steps = steps;
    return 1;
}

static int reward(anpt_device *d, const uint8_t *payload, size_t plen, anpt_v2_Request *req, anpt_v2_Response *r)
{
    const anpt_v2_Reward *m = &req->body.reward;
    if (!need_config(d, "reward", r))
        return 0;
    anpt_kernel *k = &d->k;
    if (m->same_rates && !d->has_rates)
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_BAD_REQUEST, "reward.same_rates", "no Reward since Configure whose step sizes could be reused; send lr_w, lr_r, lr_v");
    double lw = m->same_rates ? d->last_lr[0] : m->lr_w, lr = m->same_rates ? d->last_lr[1] : m->lr_r, lv = m->same_rates ? d->last_lr[2] : m->lr_v;
    if (k->pending_steps == 0)
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_NO_PENDING_CHUNK, "reward.t0", "no noisy run awaits a reward (already rewarded, or none since configure)");
    if (m->t0 != k->pending_t0)
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_NO_PENDING_CHUNK, "reward.t0", "t0 %lu does not match the last noisy run (t0 %lu)",
                    (unsigned long)m->t0, (unsigned long)k->pending_t0);
    if (anpt_cx.count != k->pending_steps)
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_BAD_REQUEST, "reward.delta_loss", "%lu delta_loss values for a chunk of %lu steps",
                    (unsigned long)anpt_cx.count, (unsigned long)k->pending_steps);
    if (anpt_cx.nonfinite)
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_BAD_INPUT, "reward.delta_loss",
                    "delta_loss[%d] is not finite; the loss diverged or the data has NaN - weights were not changed", anpt_cx.nonfinite - 1);
    if (!isfinite(lw) || !isfinite(lr) || !isfinite(lv))
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_BAD_INPUT, "reward.lr_w", "step sizes must be finite (lr_w %g, lr_r %g, lr_v %g)", lw, lr, lv);
    uint32_t t0 = m->t0, steps = k->pending_steps;
    anpt_cx.dl = k->rewards;
    anpt_cx.cap = steps;
    if (!decode_again(payload, plen, req))
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_INTERNAL, "", "second decode failed");
    anpt_reward(k, steps, t0, lw, lr, lv);
    d->reward_calls++;
    d->has_rates = 1;
    d->last_lr[0] = lw;
    d->last_lr[1] = lr;
    d->last_lr[2] = lv;
    r->which_body = anpt_v2_Response_reward_tag;
    return 1;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src);
}

static int hello(anpt_device *d, const anpt_v2_Hello *m, anpt_v2_Response *r)
{
    if (m->protocol_version != ANPT_PROTOCOL_VERSION)
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_UNSUPPORTED_VERSION, "hello.protocol_version", "host speaks protocol %lu, this device speaks %d",
                    (unsigned long)m->protocol_version, ANPT_PROTOCOL_VERSION);
    if (m->max_frame_bytes > 0 && m->max_frame_bytes < ANPT_MIN_FRAME_BYTES)
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_BAD_REQUEST, "hello.max_frame_bytes", "max_frame_bytes %lu is below this device's minimum %d",
                    (unsigned long)m->max_frame_bytes, ANPT_MIN_FRAME_BYTES);
    uint32_t now = hal_millis();
    int live = d->session_open && !(ANPT_SESSION_LEASE_MS > 0 && now - d->last_ms > ANPT_SESSION_LEASE_MS);
    if (live && m->host_nonce != 0 && m->host_nonce == d->nonce) {
        d->last_ms = now; /* the holder resumes its session */
    } else if (live && !m->take_over) {
        return busy(d, r);
    } else {
        uint32_t id;
        do { /* xorshift32 seeded from the port's entropy */
            d->rng ^= d->rng << 13;
            d->rng ^= d->rng >> 17;
            d->rng ^= d->rng << 5;
            id = d->rng;
        } while (id == 0 || (live && id == d->session_id));
        d->session_open = 1;
        d->session_id = id;
        d->nonce = m->host_nonce;
        d->opened_ms = d->last_ms = now;
        for (unsigned i = 0; i < ANPT_REPLAY_SLOTS; i++) /* a new session: the replay cache starts empty */
            d->slots[i].valid = 0;
        d->last_applied = 0;
    }
    copy_str(d->holder, sizeof d->holder, m->host_name);
    d->reply_limit = m->max_frame_bytes > 0 && m->max_frame_bytes < ANPT_MAX_FRAME_BYTES ? m->max_frame_bytes : ANPT_MAX_FRAME_BYTES;
    anpt_v2_HelloReply *h = &r->body.hello;
    r->which_body = anpt_v2_Response_hello_tag;
    h->protocol_version = ANPT_PROTOCOL_VERSION;
    copy_str(h->firmware_name, sizeof h->firmware_name, ANPT_FIRMWARE_NAME);
    copy_str(h->firmware_version, sizeof h->firmware_version, ANPT_FIRMWARE_VERSION);
    copy_str(h->device_id, sizeof h->device_id, hal_device_id());
    h->boot_counter = d->boot_counter;
    h->session_id = d->session_id;
    h->session_lease_ms = ANPT_SESSION_LEASE_MS;
    h->has_limits = true;
    anpt_v2_Limits *l = &h->limits;
    l->max_inputs = ANPT_MAX_INPUTS;
    l->max_hidden = ANPT_MAX_HIDDEN;
    l->max_outputs = ANPT_MAX_OUTPUTS;
    l->max_batch = ANPT_MAX_BATCH;
    l->max_chunk_steps = ANPT_MAX_CHUNK_STEPS;
    l->min_bits = 2;
    l->max_bits = 16;
    l->rounding_modes_count = 3;
    l->rounding_modes[0] = anpt_v2_Rounding_ROUNDING_NEAREST;
    l->rounding_modes[1] = anpt_v2_Rounding_ROUNDING_FLOOR;
    l->rounding_modes[2] = anpt_v2_Rounding_ROUNDING_STOCHASTIC;
    l->overflow_modes_count = 2;
    l->overflow_modes[0] = anpt_v2_Overflow_OVERFLOW_SAT;
    l->overflow_modes[1] = anpt_v2_Overflow_OVERFLOW_WRAP;
    l->activations_count = 3;
    l->activations[0] = anpt_v2_Activation_ACTIVATION_TANH;
    l->activations[1] = anpt_v2_Activation_ACTIVATION_HARDTANH;
    l->activations[2] = anpt_v2_Activation_ACTIVATION_LINEAR;
    l->ram_bytes = (uint32_t)d->k.arena_bytes;
    l->max_frame_bytes = ANPT_MAX_FRAME_BYTES;
    l->plasticity_on_device = true;
    l->bias = true; /* Topology.bias and the tensors BIAS_HIDDEN, BIAS_OUTPUT (docs/kernel.md, "Biases") */
    l->traces = true; /* Configure.learner and the tensors TRACE_W, TRACE_R, TRACE_BIAS ("Eligibility traces") */
    l->noise_source = anpt_v2_NoiseSource_NOISE_SOURCE_COUNTER_PRNG;
    l->min_frame_bytes = ANPT_MIN_FRAME_BYTES;
    l->max_in_flight = ANPT_REPLAY_SLOTS;
    return 1;
}

static int stats(anpt_device *d, anpt_v2_Response *r)
{
    anpt_v2_StatsReply *s = &r->body.stats;
    r->which_body = anpt_v2_Response_stats_tag;
    s->steps = d->k.steps;
    s->updates = d->k.updates;
    s->run_calls = d->run_calls;
    s->reward_calls = d->reward_calls;
    s->has_link = true;
    s->link.frames_ok = d->frames->frames_ok;
    s->link.crc_errors = d->frames->crc_errors;
    s->link.oversize = d->frames->oversize;
    s->link.malformed = d->frames->malformed;
    s->link.bytes_dropped = d->frames->bytes_dropped;
    s->link.requests = d->requests;
    s->link.replays = d->replays;
    s->link.decode_errors = d->decode_errors;
    return 1;
}

/* ---------------------------------------------------------------- dispatch */

static int is_changing(pb_size_t which)
{
    return which == anpt_v2_Request_configure_tag || which == anpt_v2_Request_write_params_tag || which == anpt_v2_Request_run_tag ||
           which == anpt_v2_Request_reward_tag || which == anpt_v2_Request_reset_state_tag;
}

static int dispatch(anpt_device *d, const uint8_t *payload, size_t plen, anpt_v2_Request *req, anpt_v2_Response *r)
{
    pb_size_t which = req->which_body;
    if (which == 0)
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_BAD_REQUEST, "body", "empty or unknown request (this device speaks protocol %d); update the host or the firmware",
                    ANPT_PROTOCOL_VERSION);
    if (which == anpt_v2_Request_hello_tag)
        return hello(d, &req->body.hello, r);
    uint32_t now = hal_millis();
    if (d->session_open && ANPT_SESSION_LEASE_MS > 0 && now - d->last_ms > ANPT_SESSION_LEASE_MS)
        d->session_open = 0; /* the lease ran out */
    if (d->session_open && req->session == d->session_id) {
        d->last_ms = now;
    } else if (is_changing(which)) {
        if (d->session_open)
            return busy(d, r);
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_NO_SESSION, "session", "no session is open (the board rebooted, or the lease ran out); say Hello again");
    }
    uint32_t after = req->id - req->after_back; /* Request.after_back: a distance back in ids */
    if (req->after_back != 0 && after != d->last_applied)
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_OUT_OF_ORDER, "after_back", "request %lu before this one was not applied (lost or refused); send it first",
                    (unsigned long)after);
    switch (which) {
    case anpt_v2_Request_configure_tag:
        if (configure(d, &req->body.configure, r))
            r->which_body = anpt_v2_Response_configure_tag;
        return 0;
    case anpt_v2_Request_write_params_tag:
        return write_params(d, payload, plen, req, r);
    case anpt_v2_Request_read_params_tag:
        return read_params(d, &req->body.read_params, r);
    case anpt_v2_Request_run_tag:
        return run(d, payload, plen, req, r);
    case anpt_v2_Request_reward_tag:
        return reward(d, payload, plen, req, r);
    case anpt_v2_Request_reset_state_tag:
        if (need_config(d, "reset_state", r)) {
            anpt_reset_state(&d->k);
            r->which_body = anpt_v2_Response_reset_state_tag;
        }
        return 0;
    case anpt_v2_Request_read_config_tag:
        if (need_config(d, "read_config", r)) {
            r->which_body = anpt_v2_Response_read_config_tag;
            r->body.read_config.has_config = true;
            r->body.read_config.config = d->cfg;
        }
        return 0;
    case anpt_v2_Request_stats_tag:
        return stats(d, r);
    default:
        return fail(r, anpt_v2_ErrorCode_ERROR_CODE_BAD_REQUEST, "body", "unknown request %d", (int)which);
    }
}

/* Encode r into d->resp within the reply limit; a reply that does not fit becomes TOO_LARGE. */
static size_t encode(anpt_device *d, anpt_v2_Response *r)
{
    pb_ostream_t out = pb_ostream_from_buffer(d->resp, d->reply_limit);
    if (pb_encode(&out, anpt_v2_Response_fields, r))
        return out.bytes_written;
    uint32_t id = r->id;
    memset(r, 0, sizeof *r);
    r->id = id;
    fail(r, anpt_v2_ErrorCode_ERROR_CODE_TOO_LARGE, "", "reply does not fit the %lu-byte frame limit; ask for less per call", (unsigned long)d->reply_limit);
    out = pb_ostream_from_buffer(d->resp, d->reply_limit);
    return pb_encode(&out, anpt_v2_Response_fields, r) ? out.bytes_written : 0;
}

static anpt_v2_Request g_req;
static anpt_v2_Response g_res;

size_t anpt_device_handle(anpt_device *d, const uint8_t *payload, size_t len)
{
    memset(&g_req, 0, sizeof g_req);
    memset(&anpt_cx, 0, sizeof anpt_cx);
    pb_istream_t in = pb_istream_from_buffer(payload, len);
    if (!pb_decode(&in, anpt_v2_Request_fields, &g_req)) {
        d->decode_errors++;
        return 0;
    }
    d->requests++;
    uint32_t crc = anpt_crc32(payload, len);
    for (unsigned i = 0; i < ANPT_REPLAY_SLOTS; i++) {
        anpt_replay_slot *s = &d->slots[i];
        if (s->valid && s->id == g_req.id && s->crc == crc && s->len == len) {
            d->replays++;
            d->resp = s->resp;
            return s->resp_len;
        }
    }
    memset(&g_res, 0, sizeof g_res);
    g_res.id = g_req.id;
    dispatch(d, payload, len, &g_req, &g_res);
    if (g_res.has_error && g_res.error.code == anpt_v2_ErrorCode_ERROR_CODE_OUT_OF_ORDER) {
        /* not an answer to keep (the same bytes are checked again): the slot is untouched */
        pb_ostream_t out = pb_ostream_from_buffer(d->scratch, sizeof d->scratch);
        d->resp = d->scratch;
        return pb_encode(&out, anpt_v2_Response_fields, &g_res) ? out.bytes_written : 0;
    }
    anpt_replay_slot *s = &d->slots[d->next_slot];
    s->valid = 0; /* its buffer is overwritten now */
    d->resp = s->resp;
    size_t n = encode(d, &g_res);
    if (!g_res.has_error && g_req.which_body != anpt_v2_Request_hello_tag && d->session_open && g_req.session == d->session_id)
        d->last_applied = g_req.id;
    s->valid = 1;
    s->id = g_req.id;
    s->crc = crc;
    s->len = len;
    s->resp_len = n;
    d->next_slot = (d->next_slot + 1) % ANPT_REPLAY_SLOTS;
    return n;
}

const uint8_t *anpt_device_nak(size_t *len)
{
    static uint8_t buf[96];
    static size_t n;
    if (n == 0) {
        anpt_v2_Response r;
        memset(&r, 0, sizeof r);
        fail(&r, anpt_v2_ErrorCode_ERROR_CODE_BAD_REQUEST, "frame", "frame arrived damaged; resend it");
        pb_ostream_t out = pb_ostream_from_buffer(buf, sizeof buf);
        n = pb_encode(&out, anpt_v2_Response_fields, &r) ? out.bytes_written : 0;
    }
    *len = n;
    return buf;
}

void anpt_device_init(anpt_device *d, void *arena, size_t arena_bytes, const hdlc_counters *frames)
{
    memset(d, 0, sizeof *d);
    anpt_init(&d->k, arena, arena_bytes);
    d->frames = frames;
    d->reply_limit = ANPT_MAX_FRAME_BYTES;
    d->resp = d->slots[0].resp;
    d->boot_counter = hal_boot_counter();
    d->rng = hal_entropy() ^ (d->boot_counter * 0x9E3779B9u);
    if (d->rng == 0)
        d->rng = 0x6D2B79F5u;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = (const uint8_t *)p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * UINT64_C(0x100000001b3);
    return h;
}

uint64_t anpt_device_state_hash(const anpt_device *d)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    h = fnv(h, &d->configured, sizeof d->configured);
    h = fnv(h, &d->session_open, sizeof d->session_open);
    h = fnv(h, &d->session_id, sizeof d->session_id);
    h = fnv(h, &d->nonce, sizeof d->nonce);
    h = fnv(h, d->holder, sizeof d->holder);
    h = fnv(h, &d->reply_limit, sizeof d->reply_limit);
    if (!d->configured)
        return h;
    const anpt_kernel *k = &d->k;
    h = fnv(h, &d->cfg, sizeof d->cfg);
    h = fnv(h, &k->pending_steps, sizeof k->pending_steps);
    h = fnv(h, &k->pending_t0, sizeof k->pending_t0);
    h = fnv(h, &k->steps, sizeof k->steps);
    h = fnv(h, &k->updates, sizeof k->updates);
    /* weights, states and the traces a pending reward reads */
    const anpt_config *c = &k->c;
    size_t bh = (size_t)c->B * c->H;
    h = fnv(h, k->w, (size_t)c->H * c->I * 2);
    h = fnv(h, k->r, (size_t)c->H * c->H * 2);
    h = fnv(h, k->v, (size_t)c->O * c->H * 2);
    h = fnv(h, k->state, bh * 2);
    h = fnv(h, k->rn, bh * 2);
    h = fnv(h, k->xs, (size_t)c->K * c->B * c->I * 2);
    h = fnv(h, k->rs, (size_t)(c->K + 1) * bh * 2);
    h = fnv(h, k->da, (size_t)c->K * bh * 4);
    h = fnv(h, k->dy, (size_t)c->K * c->B * c->O * 4);
    if (k->bb) {
        h = fnv(h, k->bb, (size_t)c->H * 2);
        h = fnv(h, k->bc, (size_t)c->O * 2);
    }
    if (k->ew) {
        h = fnv(h, k->ew, (size_t)c->H * c->I * 4);
        h = fnv(h, k->er, (size_t)c->H * c->H * 4);
    }
    if (k->eb)
        h = fnv(h, k->eb, (size_t)c->H * 4);
    return h;
}
