/*
 * firmware/link/codec.h -- the packed code arrays of anpt.proto, streamed by nanopb's
 * name-bound callbacks (anpt.options) between a frame and the kernel's buffers.
 * Decoding runs twice: a COUNT pass (counts, finiteness; writes nothing) so every
 * check happens before anything changes, then a STORE pass into the checked buffer.
 */
#ifndef ANPT_CODEC_H
#define ANPT_CODEC_H

#include <stdint.h>
#include "../core/kernel.h"

typedef struct {
    int store;              /* 0: count only; 1: write codes to dst (saturated to fmt) */
    uint32_t count;         /* codes or doubles seen in the one array of the request */
    int nonfinite;          /* a delta_loss was NaN or infinite: index of the first + 1 */
    int16_t *dst;
    int32_t *dst32;         /* the int32 trace tensors: written instead of dst when set */
    uint32_t cap;
    const anpt_fmt *fmt;
    double *dl;             /* Reward.delta_loss destination (store pass) */
    /* encoding: RunReply and ReadParamsReply arrays */
    const int16_t *clean, *noisy, *hidden, *codes;
    const int32_t *codes32; /* ReadParamsReply of a trace tensor: sent instead of codes when set */
    uint32_t n_clean, n_noisy, n_hidden, n_codes;
} anpt_codec;

extern anpt_codec anpt_cx;

#endif
