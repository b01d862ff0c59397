/*
 * firmware/tests/fuzz_link.c -- the frame decoder and the message handler under
 * AddressSanitizer + UndefinedBehaviorSanitizer (make -C firmware fuzz).
 *
 * One input = a board in a known state (said Hello, configured, a noisy chunk pending)
 * and then either (first byte even) raw line bytes through the HDLC decoder and the
 * main loop, or (odd) a list of request payloads (2-byte little-endian length each)
 * straight to the handler. After every refused request (Response.error set) the state
 * hash (device.h) must be what it was before: a refusal changes nothing. Any
 * difference aborts, which the sanitizer run reports like a crash.
 *
 * Two drivers over the same LLVMFuzzerTestOneInput: libFuzzer (-DANPT_LIBFUZZER,
 * clang -fsanitize=fuzzer) and a self-contained seeded random/mutation loop (default;
 * works with gcc too):
 *   fuzz_link BYTES [SEED]   runs until BYTES input bytes were tried; prints counts
 */
#include <pb_decode.h>
#include <pb_encode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../hal.h"
#include "../link/codec.h"
#include "../link/device.h"
#include "../link/firmware.h"

/* ---- a HAL for the fuzzer: a fake UART, a fake clock */
static const uint8_t *rx_data;
static size_t rx_len, rx_pos;
static uint32_t clock_ms;
size_t hal_uart_read(uint8_t *buf, size_t cap)
{
    size_t n = rx_len - rx_pos < cap ? rx_len - rx_pos : cap;
    memcpy(buf, rx_data + rx_pos, n);
    rx_pos += n;
    return n;
}
size_t hal_uart_write(const uint8_t *buf, size_t n) { (void)buf; return n; }
uint32_t hal_millis(void) { return clock_ms; }
uint32_t hal_boot_counter(void) { return 1; }
uint32_t hal_entropy(void) { return 12345; }
const char *hal_device_id(void) { return "fuzz"; }
void hal_idle(void) {}

static uint8_t arena[ANPT_ARENA_BYTES];
static anpt_firmware fw;
static uint8_t buf[ANPT_MAX_FRAME_BYTES];
static uint32_t session;
static long refused, accepted, frames;

static size_t encode_request(anpt_v2_Request *r, uint8_t *out, size_t cap)
{
    pb_ostream_t s = pb_ostream_from_buffer(out, cap);
    if (!pb_encode(&s, anpt_v2_Request_fields, r))
        abort();
    return s.bytes_written;
}

static void decode_response(const uint8_t *p, size_t n, anpt_v2_Response *r)
{
    memset(r, 0, sizeof *r);
    pb_istream_t s = pb_istream_from_buffer(p, n);
    if (!pb_decode(&s, anpt_v2_Response_fields, r)) {
        fprintf(stderr, "fuzz_link: the device sent a Response that does not decode\n");
        abort();
    }
}

/* Send one payload; check the refusal rule. */
static void request(const uint8_t *p, size_t n)
{
    anpt_device *d = &fw.dev;
    uint64_t before = anpt_device_state_hash(d);
    size_t out = anpt_device_handle(d, p, n);
    if (out == 0)
        return;
    static anpt_v2_Response r;
    decode_response(d->resp, out, &r);
    if (r.has_error) {
        refused++;
        if (anpt_device_state_hash(d) != before) {
            fprintf(stderr, "fuzz_link: a refused request (code %d, field %s) changed the device state\n", (int)r.error.code, r.error.field);
            abort();
        }
    } else {
        accepted++;
    }
}

/* The valid requests of the setup and of the seed corpus, for a fixed configuration. */
static const int16_t codes[64] = { 1, -2, 3, 100, -100, 7, 0, 5, 9, -9, 11, 12, 13, -14, 15, 16 };
static double dls[4] = { 1e-3, -2e-3, 5e-4, 0.0 };

static size_t make(int kind, uint8_t *out, size_t cap)
{
    static anpt_v2_Request r;
    memset(&r, 0, sizeof r);
    memset(&anpt_cx, 0, sizeof anpt_cx);
    r.id = 100 + (uint32_t)kind;
    r.session = session;
    switch (kind) {
    case 0:
        r.which_body = anpt_v2_Request_hello_tag;
        r.body.hello.protocol_version = 2;
        r.body.hello.host_nonce = 7;
        strcpy(r.body.hello.host_name, "fuzz");
        break;
    case 1: {
        r.which_body = anpt_v2_Request_configure_tag;
        anpt_v2_Configure *c = &r.body.configure;
        c->has_topology = c->has_formats = c->has_noise = c->has_mismatch = c->has_learner = true;
        c->topology = (anpt_v2_Topology){ 2, 5, 2, 2, anpt_v2_Activation_ACTIVATION_TANH, true };
        c->learner = (anpt_v2_Learner){ anpt_v2_TraceKind_TRACE_INNOVATION, 0.9 }; /* with biases: all three traces */
        c->formats.has_input = c->formats.has_weight = c->formats.has_pre = c->formats.has_activity = c->formats.has_output = true;
        c->formats.input = (anpt_v2_FixedFormat){ 8, 5, true, anpt_v2_Rounding_ROUNDING_NEAREST, anpt_v2_Overflow_OVERFLOW_SAT };
        c->formats.weight = (anpt_v2_FixedFormat){ 8, 6, true, anpt_v2_Rounding_ROUNDING_STOCHASTIC, anpt_v2_Overflow_OVERFLOW_WRAP };
        c->formats.pre = (anpt_v2_FixedFormat){ 8, 4, true, anpt_v2_Rounding_ROUNDING_FLOOR, anpt_v2_Overflow_OVERFLOW_SAT };
        c->formats.activity = (anpt_v2_FixedFormat){ 8, 7, true, anpt_v2_Rounding_ROUNDING_STOCHASTIC, anpt_v2_Overflow_OVERFLOW_SAT };
        c->formats.output = (anpt_v2_FixedFormat){ 8, 4, true, anpt_v2_Rounding_ROUNDING_NEAREST, anpt_v2_Overflow_OVERFLOW_WRAP };
        c->noise = (anpt_v2_Noise){ 0.05, 0.05 };
        c->mismatch = (anpt_v2_Mismatch){ 0.1, 0.02, 3 };
        c->seed = 9;
        c->max_chunk_steps = 4;
        break;
    }
    case 2: /* W, 10 codes */
        r.which_body = anpt_v2_Request_write_params_tag;
        r.body.write_params.tensor = anpt_v2_Tensor_TENSOR_W;
        anpt_cx.codes = codes;
        anpt_cx.n_codes = 10;
        break;
    case 3: /* R, 25 codes from offset 0 */
    case 9: /* the trace of R, 25 int32 codes from offset 0 */
        r.which_body = anpt_v2_Request_write_params_tag;
        r.body.write_params.tensor = kind == 3 ? anpt_v2_Tensor_TENSOR_R : anpt_v2_Tensor_TENSOR_TRACE_R;
        anpt_cx.codes = codes;
        anpt_cx.n_codes = 25;
        break;
    case 4: /* a noisy run of 3 steps (3 x 2 x 2 inputs), with the hidden trace */
        r.which_body = anpt_v2_Request_run_tag;
        r.body.run = (anpt_v2_Run){ 3, 10, 0, true, true };
        anpt_cx.codes = codes;
        anpt_cx.n_codes = 12;
        break;
    case 5:
        r.which_body = anpt_v2_Request_reward_tag;
        r.body.reward.t0 = 10;
        r.body.reward.lr_w = r.body.reward.lr_r = r.body.reward.lr_v = 0.5;
        anpt_cx.dl = dls;
        anpt_cx.cap = 3;
        break;
    case 6:
        r.which_body = anpt_v2_Request_read_params_tag;
        r.body.read_params = (anpt_v2_ReadParams){ anpt_v2_Tensor_TENSOR_V, 1, 9 };
        break;
    case 7:
        r.which_body = anpt_v2_Request_stats_tag;
        break;
    case 8:
        r.which_body = anpt_v2_Request_read_config_tag;
        break;
    case 10:
        r.which_body = anpt_v2_Request_read_params_tag;
        r.body.read_params = (anpt_v2_ReadParams){ anpt_v2_Tensor_TENSOR_TRACE_BIAS, 1, 4 };
        break;
    default:
        r.which_body = anpt_v2_Request_reset_state_tag;
        break;
    }
    return encode_request(&r, out, cap);
}
#define KINDS 12

/* The known state every input starts from. */
static void setup(void)
{
    clock_ms = 1000;
    anpt_firmware_init(&fw, arena, sizeof arena);
    session = 0;
    size_t n = make(0, buf, sizeof buf);
    request(buf, n);
    session = fw.dev.session_id;
    for (int k = 1; k <= 4; k++) { /* configure, W, R, a pending noisy chunk */
        n = make(k, buf, sizeof buf);
        request(buf, n);
    }
    if (!fw.dev.configured || fw.dev.k.pending_steps != 3)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size == 0)
        return 0;
    if ((data[0] & 1) == 0) { /* raw line bytes: decoder, NAKs, replies, the main loop */
        rx_data = data + 1;
        rx_len = size - 1;
        rx_pos = 0;
        for (int guard = 0; guard < 1000000 && (rx_pos < rx_len || fw.tx_busy); guard++)
            anpt_firmware_poll(&fw);
        frames += fw.rx.c.frames_ok;
        return 0;
    }
    size_t pos = 1;
    while (pos + 2 <= size) {
        size_t n = (size_t)data[pos] | ((size_t)data[pos + 1] << 8);
        pos += 2;
        if (n > size - pos)
            n = size - pos;
        if (n > ANPT_MAX_FRAME_BYTES)
            n = ANPT_MAX_FRAME_BYTES;
        memcpy(buf, data + pos, n); /* the handler reads a frame buffer, never the input */
        request(buf, n);
        pos += n;
        if (n > 0)
            clock_ms += data[pos - 1]; /* time moves: leases can run out */
    }
    return 0;
}

#ifndef ANPT_LIBFUZZER
/* ---- the self-contained driver: seeds, mutations, random bytes */
static uint64_t rs;
static uint32_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (uint32_t)(rs >> 16);
}

/* A seed input: a valid request list (or one of them framed on the line). */
static size_t seed_input(uint8_t *in, size_t cap)
{
    size_t len = 1;
    in[0] = 1;
    int count = 1 + (int)(rnd() % 4);
    for (int i = 0; i < count && len + 2 < cap; i++) {
        size_t n = make((int)(rnd() % KINDS), in + len + 2, cap - len - 2);
        in[len] = (uint8_t)n;
        in[len + 1] = (uint8_t)(n >> 8);
        len += 2 + n;
    }
    if (rnd() % 3 == 0) { /* as line bytes instead: frame the first payload */
        static uint8_t tmp[4096];
        size_t n = (size_t)in[1] | ((size_t)in[2] << 8);
        hdlc_encoder e;
        hdlc_encode_start(&e, in + 3, n);
        size_t k = 1;
        int b;
        while (k < sizeof tmp && (b = hdlc_encode_next(&e)) >= 0)
            tmp[k++] = (uint8_t)b;
        tmp[0] = 0;
        memcpy(in, tmp, k);
        len = k;
    }
    return len;
}

static void mutate(uint8_t *in, size_t *len, size_t cap)
{
    int edits = 1 + (int)(rnd() % 3);
    for (int e = 0; e < edits; e++) {
        size_t n = *len;
        uint32_t op = rnd() % 6;
        size_t at = n > 1 ? 1 + rnd() % (n - 1) : 0;
        if (op == 0 && n > 1) in[at] ^= (uint8_t)(1u << (rnd() % 8));
        else if (op == 1 && n > 1) in[at] = (uint8_t)rnd();
        else if (op == 2 && n > 1) in[at] = (uint8_t[]){ 0, 0xFF, 0x7E, 0x7D, 0x80, 0x01 }[rnd() % 6];
        else if (op == 3 && n + 1 < cap) { memmove(in + at + 1, in + at, n - at); in[at] = (uint8_t)rnd(); (*len)++; }
        else if (op == 4 && n > 2) { memmove(in + at, in + at + 1, n - at - 1); (*len)--; }
        else if (op == 5 && n > 1) { size_t k = rnd() % 16; for (size_t i = 0; i < k && at + i < n; i++) in[at + i] = (uint8_t)rnd(); }
    }
}

int main(int argc, char **argv)
{
    unsigned long long want = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000ull;
    rs = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    if (rs == 0)
        rs = 1;
    static uint8_t in[8192];
    unsigned long long bytes = 0, inputs = 0, random_inputs = 0;
    while (bytes < want) {
        size_t len;
        if (rnd() % 5 == 0) { /* pure random bytes */
            len = 1 + rnd() % 600;
            for (size_t i = 0; i < len; i++)
                in[i] = (uint8_t)rnd();
            random_inputs++;
        } else {
            len = seed_input(in, sizeof in);
            if (rnd() % 4 != 0) /* a quarter of the seeds go in as they are */
                mutate(in, &len, sizeof in);
        }
        LLVMFuzzerTestOneInput(in, len);
        bytes += len;
        inputs++;
    }
    printf("{\"bytes\":%llu,\"inputs\":%llu,\"random_inputs\":%llu,\"requests_refused\":%ld,\"requests_accepted\":%ld,\"good_frames\":%ld}\n",
           bytes, inputs, random_inputs, refused, accepted, frames);
    return 0;
}
#endif
