/*
 * HDLC-style frames (docs/protocol.md section 1): 0x7E flags, 0x7D escapes (byte XOR
 * 0x20), payload + CRC-32 little-endian. The decoder is a byte state machine with one
 * buffer of ANPT_MAX_FRAME_BYTES + 4 bytes; it never reads or writes outside it,
 * whatever arrives.
 */
#ifndef ANPT_HDLC_H
#define ANPT_HDLC_H
#include <stddef.h>
#include <stdint.h>
#include "../config.h"

enum { HDLC_NONE = 0, HDLC_FRAME, HDLC_CRC, HDLC_TOO_SHORT, HDLC_BAD_ESCAPE, HDLC_OVERSIZE };

typedef struct {
    uint32_t frames_ok, crc_errors, oversize, malformed, bytes_dropped;
} hdlc_counters;

typedef struct {
    uint8_t buf[ANPT_MAX_FRAME_BYTES + 4];
    size_t len;       /* bytes of the frame being received */
    size_t frame_len; /* payload bytes of the good frame just delivered (HDLC_FRAME) */
    int state; /* 0 hunting for a flag, 1 in a frame, 2 after 7D, 3 discarding to the next flag */
    hdlc_counters c;
} hdlc_decoder;

void hdlc_init(hdlc_decoder *d);
/* Feed one byte; returns HDLC_FRAME when a good frame ended (payload in buf[0..frame_len), valid until the next byte),
 * a failure status when a damaged one ended, else HDLC_NONE. */
int hdlc_push(hdlc_decoder *d, uint8_t byte);

/* Streaming encoder: the frame's bytes one at a time, without a second buffer. */
typedef struct {
    const uint8_t *payload;
    size_t len, pos; /* pos counts payload bytes then 4 CRC bytes */
    uint8_t crc[4];
    int phase;      /* 0 opening flag, 1 body, 2 closing flag, 3 done */
    int escaped;    /* the second byte of an escape is due */
} hdlc_encoder;

void hdlc_encode_start(hdlc_encoder *e, const uint8_t *payload, size_t len);
/* Next wire byte, or -1 when the frame is complete. */
int hdlc_encode_next(hdlc_encoder *e);
#endif
