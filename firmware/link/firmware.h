/* firmware/link/firmware.h -- the main loop every port runs: bytes from the UART into
 * the frame decoder, each request through the device, the reply framed back out, all
 * without blocking (hal.h). */
#ifndef ANPT_FIRMWARE_H
#define ANPT_FIRMWARE_H
#include "device.h"
#include "hdlc.h"

typedef struct {
    hdlc_decoder rx;
    hdlc_encoder tx;
    int tx_busy;
    uint8_t chunk[64];        /* bytes read from the UART, not yet decoded */
    size_t chunk_len, chunk_pos;
    uint8_t out[64];          /* framed bytes not yet taken by the UART */
    size_t out_len, out_pos;
    anpt_device dev;
} anpt_firmware;

/* Boot: the arena is the port's static RAM for the kernel. */
void anpt_firmware_init(anpt_firmware *fw, void *arena, size_t arena_bytes);
/* One turn of the main loop; returns 0 when there was nothing to do. */
int anpt_firmware_poll(anpt_firmware *fw);
#endif
