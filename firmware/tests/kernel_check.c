/*
 * firmware/tests/kernel_check.c -- drives firmware/core from a text script on stdin,
 * for test/firmware-kernel.test.ts (the C kernel against the WASM emulator on random
 * configurations). Whitespace-separated numbers (doubles as JavaScript prints them,
 * which strtod reads back exactly):
 *   I H O B K activation
 *   5 x (bits frac signed rounding wrap)        input weight pre activity output
 *   seed hidden_sigma_lsb output_sigma_lsb gain_spread offset_spread_lsb mismatch_seed
 *   bias trace decay                             (trace: ANPT_TRACE_*)
 *   W codes (H*I), R codes (H*H), V codes (O*H), with bias: b codes (H), c codes (O)
 *   with a trace: E_W codes (H*I), E_R codes (H*H), with bias e_b codes (H) (int32)
 *   chunks steps
 *   per chunk: inputs (steps*B*I codes), dL (steps doubles), lr_w lr_r lr_v
 * Prints per chunk one line "clean... noisy... hidden..." codes, then W, R, V, with
 * bias b and c, with a trace E_W and E_R (and e_b with bias), a line each.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../core/kernel.h"

static double num(void)
{
    double x;
    if (scanf("%lf", &x) != 1) {
        fprintf(stderr, "kernel_check: input ended early\n");
        exit(2);
    }
    return x;
}

static void read_fmt(anpt_fmt *f)
{
    int bits = (int)num(), frac = (int)num(), sg = (int)num(), rnd = (int)num(), wrap = (int)num();
    anpt_fmt_init(f, bits, frac, sg, rnd, wrap);
}

static void print_codes(const int16_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf(" %d", p[i]);
}

int main(void)
{
    anpt_config c;
    c.I = (uint32_t)num(); c.H = (uint32_t)num(); c.O = (uint32_t)num(); c.B = (uint32_t)num();
    c.K = (uint32_t)num(); c.activation = (int)num();
    read_fmt(&c.in); read_fmt(&c.w); read_fmt(&c.pre); read_fmt(&c.act); read_fmt(&c.out);
    c.seed = (uint64_t)num();
    c.hidden_sigma_lsb = num(); c.output_sigma_lsb = num();
    c.gain_spread = num(); c.offset_spread_lsb = num(); c.mismatch_seed = (uint32_t)num();
    c.bias = (int)num();
    c.trace = (int)num();
    c.decay = num();
    size_t bytes = anpt_layout_bytes_traced(c.I, c.H, c.O, c.B, c.K, c.bias, c.trace);
    void *arena = malloc(bytes + 8); /* a test driver: the firmware itself uses a static arena */
    static anpt_kernel k;
    anpt_init(&k, arena, bytes + 8);
    if (anpt_configure(&k, &c) != ANPT_OK)
        return fprintf(stderr, "kernel_check: configure failed\n"), 1;
    for (size_t i = 0; i < (size_t)c.H * c.I; i++) k.w[i] = (int16_t)num();
    for (size_t i = 0; i < (size_t)c.H * c.H; i++) k.r[i] = (int16_t)num();
    for (size_t i = 0; i < (size_t)c.O * c.H; i++) k.v[i] = (int16_t)num();
    for (size_t i = 0; c.bias && i < c.H; i++) k.bb[i] = (int16_t)num();
    for (size_t i = 0; c.bias && i < c.O; i++) k.bc[i] = (int16_t)num();
    for (int t = ANPT_T_TRACE_W; t <= ANPT_T_TRACE_BIAS; t++) {
        uint32_t n;
        int32_t *e = anpt_trace_tensor(&k, t, &n);
        for (uint32_t i = 0; e && i < n; i++)
            e[i] = (int32_t)num();
    }
    int chunks = (int)num();
    uint32_t steps = (uint32_t)num();
    for (int ch = 0; ch < chunks; ch++) {
        uint32_t t0 = (uint32_t)ch * steps;
        for (size_t i = 0; i < (size_t)steps * c.B * c.I; i++) k.inputs[i] = (int16_t)num();
        if (anpt_run(&k, steps, t0, 1) != ANPT_OK)
            return fprintf(stderr, "kernel_check: run failed\n"), 1;
        size_t no = (size_t)steps * c.B * c.O;
        print_codes(k.out_clean, no);
        print_codes(k.out_noisy, no);
        print_codes(k.rs + (size_t)c.B * c.H, (size_t)steps * c.B * c.H);
        printf("\n");
        for (uint32_t s = 0; s < steps; s++) k.rewards[s] = num();
        double lw = num(), lr = num(), lv = num();
        if (anpt_reward(&k, steps, t0, lw, lr, lv) != ANPT_OK)
            return fprintf(stderr, "kernel_check: reward failed\n"), 1;
    }
    print_codes(k.w, (size_t)c.H * c.I);
    printf("\n");
    print_codes(k.r, (size_t)c.H * c.H);
    printf("\n");
    print_codes(k.v, (size_t)c.O * c.H);
    printf("\n");
    if (c.bias) {
        print_codes(k.bb, c.H);
        printf("\n");
        print_codes(k.bc, c.O);
        printf("\n");
    }
    for (int t = ANPT_T_TRACE_W; t <= ANPT_T_TRACE_BIAS; t++) {
        uint32_t n;
        const int32_t *e = anpt_trace_tensor(&k, t, &n);
        if (!e)
            continue;
        for (uint32_t i = 0; i < n; i++)
            printf(" %ld", (long)e[i]);
        printf("\n");
    }
    free(arena);
    return 0;
}
