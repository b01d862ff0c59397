/* firmware/tests/largest_h.c -- the largest hidden size whose kernel layout fits an
 * arena: largest_h ARENA_BYTES I O B K (docs/firmware.md's table). */
#include <stdio.h>
#include <stdlib.h>

#include "../core/kernel.h"

int main(int argc, char **argv)
{
    if (argc != 6)
        return fprintf(stderr, "usage: largest_h ARENA_BYTES I O B K\n"), 2;
    size_t arena = strtoul(argv[1], NULL, 10);
    uint32_t I = (uint32_t)atoi(argv[2]), O = (uint32_t)atoi(argv[3]), B = (uint32_t)atoi(argv[4]), K = (uint32_t)atoi(argv[5]);
    uint32_t H = 0;
    while (anpt_layout_bytes(I, H + 1, O, B, K, 0) <= arena)
        H++;
    printf("%u\n", (unsigned)H);
    return 0;
}
