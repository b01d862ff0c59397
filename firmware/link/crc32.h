/* CRC-32/ISO-HDLC (zlib's): reflected polynomial 0xEDB88320, init and final XOR ~0
 * (docs/protocol.md section 1). Bitwise, no table: 1 KiB of flash saved, fast enough
 * for a UART. */
#ifndef ANPT_CRC32_H
#define ANPT_CRC32_H
#include <stddef.h>
#include <stdint.h>
uint32_t anpt_crc32_update(uint32_t state, const uint8_t *p, size_t n); /* state starts at ~0 */
uint32_t anpt_crc32(const uint8_t *p, size_t n);
#endif
