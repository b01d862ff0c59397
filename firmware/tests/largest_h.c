/* firmware/tests/largest_h.c -- the largest hidden size whose kernel layout fits an
 * arena: largest_h ARENA_BYTES I O B K [TRACE] (docs/firmware.md's table; TRACE 1 or
 * 2: with an eligibility trace, ANPT_TRACE_*). */
#include <stdio.h>
#include <stdlib.h>

#include "../core/kernel.h"

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 7)
        return fprintf(stderr, "usage: largest_h ARENA_BYTES I O B K [TRACE]\n"), 2;
    int trace = argc == 7 ? atoi(argv[6]) : ANPT_TRACE_NONE;
    size_t arena = strtoul(argv[1], NULL, 10);
    uint32_t I = (uint32_t)atoi(argv[2]), O = (uint32_t)atoi(argv[3]), B = (uint32_t)atoi(argv[4]), K = (uint32_t)atoi(argv[5]);
    uint32_t H = 0;
    while (anpt_layout_bytes_traced(I, H + 1, O, B, K, 0, trace) <= arena)
        H++;
    printf("%u\n", (unsigned)H);
    return 0;
}
