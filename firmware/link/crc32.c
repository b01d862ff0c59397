#include "crc32.h"

uint32_t anpt_crc32_update(uint32_t c, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c;
}

uint32_t anpt_crc32(const uint8_t *p, size_t n)
{
    return ~anpt_crc32_update(0xFFFFFFFFu, p, n);
}
