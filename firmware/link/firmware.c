#include "firmware.h"

#include "../hal.h"

void anpt_firmware_init(anpt_firmware *fw, void *arena, size_t arena_bytes)
{
    hdlc_init(&fw->rx);
    fw->tx_busy = 0;
    fw->chunk_len = fw->chunk_pos = 0;
    fw->out_len = fw->out_pos = 0;
    anpt_device_init(&fw->dev, arena, arena_bytes, &fw->rx.c);
}

/* Move framed bytes to the UART; returns 1 while a frame is still going out. */
static int send(anpt_firmware *fw)
{
    for (;;) {
        if (fw->out_pos == fw->out_len) {
            fw->out_len = fw->out_pos = 0;
            int b;
            while (fw->out_len < sizeof fw->out && (b = hdlc_encode_next(&fw->tx)) >= 0)
                fw->out[fw->out_len++] = (uint8_t)b;
            if (fw->out_len == 0) {
                fw->tx_busy = 0;
                return 0;
            }
        }
        size_t n = hal_uart_write(fw->out + fw->out_pos, fw->out_len - fw->out_pos);
        if (n == 0)
            return 1;
        fw->out_pos += n;
    }
}

int anpt_firmware_poll(anpt_firmware *fw)
{
    if (fw->tx_busy) /* one reply at a time: requests wait in the UART until it is out */
        return send(fw), 1;
    if (fw->chunk_pos == fw->chunk_len) {
        fw->chunk_len = hal_uart_read(fw->chunk, sizeof fw->chunk);
        fw->chunk_pos = 0;
        if (fw->chunk_len == 0)
            return 0;
    }
    while (fw->chunk_pos < fw->chunk_len) {
        int st = hdlc_push(&fw->rx, fw->chunk[fw->chunk_pos++]);
        if (st == HDLC_FRAME) {
            size_t n = anpt_device_handle(&fw->dev, fw->rx.buf, fw->rx.frame_len);
            if (n > 0) {
                hdlc_encode_start(&fw->tx, fw->dev.resp, n);
                fw->tx_busy = 1;
                send(fw);
                return 1;
            }
        } else if (st == HDLC_CRC || st == HDLC_BAD_ESCAPE || st == HDLC_TOO_SHORT) {
            size_t n;
            const uint8_t *nak = anpt_device_nak(&n); /* the host resends at once */
            hdlc_encode_start(&fw->tx, nak, n);
            fw->tx_busy = 1;
            send(fw);
            return 1;
        }
    }
    return 1;
}
