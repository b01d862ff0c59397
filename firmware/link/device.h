/*
 * firmware/link/device.h -- the device side of docs/protocol.md: one Request payload
 * in, one Response payload out. Sessions, the replay cache (ANPT_REPLAY_SLOTS entries,
 * announced as max_in_flight: a pipelining host may have that many requests in flight,
 * ordered by Request.after), every error code, and the kernel behind it.
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

#ifndef ANPT_REPLAY_SLOTS
#define ANPT_REPLAY_SLOTS 2 /* each holds a frame: 2 x ANPT_MAX_FRAME_BYTES of RAM */
#endif

typedef struct {
    int valid;
    uint32_t id, crc;
    size_t len, resp_len;
    uint8_t resp[ANPT_MAX_FRAME_BYTES];
} anpt_replay_slot;

typedef struct {
    anpt_kernel k;
    anpt_v2_Configure cfg; /* the configuration in force (ReadConfig) */
    int configured;
    /* the session (docs/protocol.md, Sessions) */
    int session_open;
    uint32_t session_id, nonce, opened_ms, last_ms;
    char holder[33];
    uint32_t reply_limit; /* min(ours, the host's Hello.max_frame_bytes) */
    /* replay cache (docs/protocol.md section 3): the replies to the last ANPT_REPLAY_SLOTS
     * requests, keyed by id and CRC; max_in_flight = ANPT_REPLAY_SLOTS (pipelining) */
    anpt_replay_slot slots[ANPT_REPLAY_SLOTS];
    unsigned next_slot;
    uint8_t *resp; /* the response just made (a slot's buffer, or scratch) */
    uint8_t scratch[160]; /* an OUT_OF_ORDER refusal: sent, never cached */
    uint32_t last_applied; /* Request.after: the last request of the session applied without error */
    int has_rates; /* Reward.same_rates: the step sizes of the last Reward since Configure */
    double last_lr[3];
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
