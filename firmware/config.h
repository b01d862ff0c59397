/*
 * firmware/config.h -- the one place a port sizes the firmware. Every buffer is a
 * static array sized from these numbers, and HelloReply.limits announces them.
 * A port overrides any of them with -D (ports/<port>/port.mk).
 */
#ifndef ANPT_CONFIG_H
#define ANPT_CONFIG_H

/* Largest frame payload accepted and sent (Limits.max_frame_bytes), >= 256. */
#ifndef ANPT_MAX_FRAME_BYTES
#define ANPT_MAX_FRAME_BYTES 16384
#endif
/* Bytes of the kernel arena: weights, state, traces (Limits.ram_bytes). */
#ifndef ANPT_ARENA_BYTES
#define ANPT_ARENA_BYTES (192u * 1024u)
#endif
#ifndef ANPT_MAX_INPUTS
#define ANPT_MAX_INPUTS 64
#endif
#ifndef ANPT_MAX_HIDDEN
#define ANPT_MAX_HIDDEN 1024
#endif
#ifndef ANPT_MAX_OUTPUTS
#define ANPT_MAX_OUTPUTS 64
#endif
#ifndef ANPT_MAX_BATCH
#define ANPT_MAX_BATCH 64
#endif
#ifndef ANPT_MAX_CHUNK_STEPS
#define ANPT_MAX_CHUNK_STEPS 4096
#endif
/* A session with no request for this long ends by itself (HelloReply.session_lease_ms). */
#ifndef ANPT_SESSION_LEASE_MS
#define ANPT_SESSION_LEASE_MS 60000u
#endif
#ifndef ANPT_FIRMWARE_NAME
#define ANPT_FIRMWARE_NAME "anpt-firmware"
#endif
#define ANPT_FIRMWARE_VERSION "0.2.0"
#define ANPT_PROTOCOL_VERSION 2
#define ANPT_MIN_FRAME_BYTES 256

#endif
