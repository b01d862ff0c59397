/*
 * firmware/hal.h -- what a port provides. Everything else in firmware/ is portable C99.
 * docs/firmware.md maps each call to STM32 (Nucleo), RP2040 and ESP32 peripherals.
 */
#ifndef ANPT_HAL_H
#define ANPT_HAL_H

#include <stddef.h>
#include <stdint.h>

/* Bytes received since the last call, at most cap, without waiting (0: none). */
size_t hal_uart_read(uint8_t *buf, size_t cap);
/* Queue up to n bytes for sending without waiting; returns how many were taken. */
size_t hal_uart_write(const uint8_t *buf, size_t n);
/* Milliseconds since boot (wraps after 49 days; only differences are used). */
uint32_t hal_millis(void);
/* Boots since power-on (or since the counter was cleared), >= 1 (HelloReply.boot_counter). */
uint32_t hal_boot_counter(void);
/* 32 bits that differ between boots and boards (session ids); need not be secure. */
uint32_t hal_entropy(void);
/* Stable identity of the board, at most 32 bytes (HelloReply.device_id). */
const char *hal_device_id(void);
/* Nothing to do: wait a little for an interrupt (may return at once). */
void hal_idle(void);

#endif
