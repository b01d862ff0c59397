/*
 * firmware/link/device.h -- the device side of docs/protocol.md: one Request payload
 * in, one Response payload out. Sessions, the replay cache (one entry: a sequential
 * host only ever retries its last call), every error code, and the kernel behind it.
 * A refused request changes nothing (every check runs before anything is written).
 */
#ifndef ANPT_DEVICE_H
#define ANPT_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "../config.h"
#include "../core/kernel.h"
#include "anpt.pb.h"
#include "hdlc.h"

typedef struct {
    anpt_kernel k;
    anpt_v2_Configure cfg; /* the configuration in force (ReadConfig) */
    int configured;
    /* the session (docs/protocol.md, Sessions) */
    int session_open;
    uint32_t session_id, nonce, opened_ms, last_ms;
    char holder[33];
    uint32_t reply_limit; /* min(ours, the host's Hello.max_frame_bytes) */
    /* replay cache: the last request's id and CRC; its response is resp[0..resp_len) */
    int cache_valid;
    uint32_t cache_id, cache_crc;
    size_t cache_len, resp_len;
    uint8_t resp[ANPT_MAX_FRAME_BYTES];
    /* counters */
    uint32_t requests, replays, decode_errors, run_calls, reward_calls;
    const hdlc_counters *frames;
    uint32_t boot_counter, rng;
} anpt_device;

/* The arena is the caller's: a static array of ANPT_ARENA_BYTES on a board. */
void anpt_device_init(anpt_device *d, void *arena, size_t arena_bytes, const hdlc_counters *frames);
/* Handle one payload; returns the response length (in d->resp), 0 for no response
 * (a payload that does not decode as a Request). */
size_t anpt_device_handle(anpt_device *d, const uint8_t *payload, size_t len);
/* The NAK for a damaged frame: Response { id 0, error { BAD_REQUEST, field "frame" } }. */
const uint8_t *anpt_device_nak(size_t *len);
/* FNV-1a of everything a refused request must leave unchanged (fuzz tests). */
uint64_t anpt_device_state_hash(const anpt_device *d);

#endif
