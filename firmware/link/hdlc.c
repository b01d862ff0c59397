#include "hdlc.h"

#include "crc32.h"

#define FLAG 0x7E
#define ESC 0x7D

void hdlc_init(hdlc_decoder *d)
{
    d->len = 0;
    d->state = 0;
    d->c.frames_ok = d->c.crc_errors = d->c.oversize = d->c.malformed = d->c.bytes_dropped = 0;
}

/* A frame body ended at a flag: check it. */
static int finish(hdlc_decoder *d)
{
    size_t n = d->len;
    d->len = 0;
    d->state = 1; /* the closing flag opens the next frame */
    if (n == 0)
        return HDLC_NONE; /* two flags: idle line */
    if (n < 4) {
        d->c.malformed++;
        d->c.bytes_dropped += (uint32_t)n;
        return HDLC_TOO_SHORT;
    }
    /* CRC over payload and received CRC leaves the residue 0x2144DF1C (after the final XOR) */
    if (anpt_crc32(d->buf, n) != 0x2144DF1Cu) {
        d->c.crc_errors++;
        d->c.bytes_dropped += (uint32_t)n;
        return HDLC_CRC;
    }
    d->frame_len = n - 4;
    d->c.frames_ok++;
    return HDLC_FRAME;
}

int hdlc_push(hdlc_decoder *d, uint8_t b)
{
    switch (d->state) {
    case 0: /* hunting */
    case 3: /* discarding after a failure: the same, until the next flag */
        if (b == FLAG) {
            d->state = 1;
            d->len = 0;
        } else {
            d->c.bytes_dropped++;
        }
        return HDLC_NONE;
    case 2: /* after an escape */
        if (b == FLAG || (b != 0x5E && b != 0x5D)) {
            d->c.malformed++;
            d->c.bytes_dropped += (uint32_t)d->len + 2;
            d->len = 0;
            if (b == FLAG) {
                d->state = 1;
                d->c.bytes_dropped--; /* the flag is not dropped: it opens the next frame */
            } else {
                d->state = 3;
            }
            return HDLC_BAD_ESCAPE;
        }
        b ^= 0x20;
        d->state = 1;
        break;
    default: /* in a frame */
        if (b == FLAG)
            return finish(d);
        if (b == ESC) {
            d->state = 2;
            return HDLC_NONE;
        }
        break;
    }
    if (d->len >= sizeof d->buf) {
        d->c.oversize++;
        d->c.bytes_dropped += (uint32_t)d->len + 1;
        d->len = 0;
        d->state = 3;
        return HDLC_OVERSIZE;
    }
    d->buf[d->len++] = b;
    return HDLC_NONE;
}

void hdlc_encode_start(hdlc_encoder *e, const uint8_t *payload, size_t len)
{
    uint32_t crc = anpt_crc32(payload, len);
    e->payload = payload;
    e->len = len;
    e->pos = 0;
    e->phase = 0;
    e->escaped = 0;
    for (int i = 0; i < 4; i++)
        e->crc[i] = (uint8_t)(crc >> (8 * i));
}

int hdlc_encode_next(hdlc_encoder *e)
{
    if (e->phase == 0) {
        e->phase = 1;
        return FLAG;
    }
    if (e->phase == 1) {
        if (e->pos == e->len + 4) {
            e->phase = 3;
            return FLAG;
        }
        uint8_t b = e->pos < e->len ? e->payload[e->pos] : e->crc[e->pos - e->len];
        if (b == FLAG || b == ESC) {
            if (!e->escaped) {
                e->escaped = 1;
                return ESC;
            }
            e->escaped = 0;
            e->pos++;
            return b ^ 0x20;
        }
        e->pos++;
        return b;
    }
    return -1;
}
