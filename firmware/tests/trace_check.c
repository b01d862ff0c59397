/*
 * firmware/tests/trace_check.c -- the eligibility trace's pieces of firmware/core one by
 * one, for test/firmware-traces.test.ts (hand-checked values, and the exponents
 * against src/format/trace.ts). One command a line on stdin, one answer a line:
 *   q16 DECAY                          -> lq
 *   exp H SIGMA_LSB DECAY IBITS ABITS  -> lq T_W T_R T_b
 *   add E LQ Q                         -> sat32(rshift(E lq, 16, nearest) + Q)
 *   factor F                           -> sf mu (sf -1: no apply)
 *   change MU E SF MODE RND            -> sat16(rshift(MU E, SF, MODE, RND))
 * Numbers as JavaScript prints them (strtod/strtoll read them back exactly).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/kernel.h"

static double num(const char **p)
{
    char *end;
    double x = strtod(*p, &end);
    if (end == *p) {
        fprintf(stderr, "trace_check: a number expected at '%s'\n", *p);
        exit(2);
    }
    *p = end;
    return x;
}

static long long integer(const char **p)
{
    char *end;
    long long x = strtoll(*p, &end, 10);
    if (end == *p) {
        fprintf(stderr, "trace_check: an integer expected at '%s'\n", *p);
        exit(2);
    }
    *p = end;
    return x;
}

int main(void)
{
    char line[512], cmd[16];
    while (fgets(line, sizeof line, stdin)) {
        int used = 0;
        if (sscanf(line, "%15s%n", cmd, &used) != 1)
            continue;
        const char *p = line + used;
        if (!strcmp(cmd, "q16")) {
            printf("%ld\n", (long)anpt_decay_q16(num(&p)));
        } else if (!strcmp(cmd, "exp")) {
            uint32_t H = (uint32_t)integer(&p);
            double sigma = num(&p), decay = num(&p);
            int ib = (int)integer(&p), ab = (int)integer(&p), t[3];
            int32_t lq = anpt_decay_q16(decay);
            anpt_trace_exponents(H, sigma, lq, ib, ab, t);
            printf("%ld %d %d %d\n", (long)lq, t[0], t[1], t[2]);
        } else if (!strcmp(cmd, "add")) {
            int32_t e = (int32_t)integer(&p), lq = (int32_t)integer(&p);
            int64_t q = (int64_t)integer(&p);
            printf("%ld\n", (long)anpt_trace_decay_add(e, lq, q));
        } else if (!strcmp(cmd, "factor")) {
            int32_t mu;
            int sf = anpt_trace_factor(num(&p), &mu);
            printf("%d %ld\n", sf, (long)mu);
        } else if (!strcmp(cmd, "change")) {
            int32_t mu = (int32_t)integer(&p), e = (int32_t)integer(&p);
            int sf = (int)integer(&p), mode = (int)integer(&p);
            uint32_t rnd = (uint32_t)integer(&p);
            printf("%lld\n", (long long)anpt_trace_change(mu, e, sf, mode, rnd));
        } else {
            fprintf(stderr, "trace_check: unknown command '%s'\n", cmd);
            return 2;
        }
    }
    return 0;
}
