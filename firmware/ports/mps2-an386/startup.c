/* firmware/ports/mps2-an386/startup.c -- Cortex-M4 start-up: the vector table, the
 * reset handler (copy .data, zero .bss, enable the FPU, run main) and a SysTick
 * millisecond clock. No libc start-up code, no heap. */
#include <stdint.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _stack_top;
int main(void);
void reset_handler(void);
void systick_handler(void);

static void default_handler(void)
{
    for (;;) {
    }
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(&_stack_top), reset_handler,
    default_handler, /* NMI */
    default_handler, /* HardFault */
    default_handler, default_handler, default_handler, 0, 0, 0, 0,
    default_handler, /* SVC */
    default_handler, 0,
    default_handler, /* PendSV */
    systick_handler,
};

void reset_handler(void)
{
    uint32_t *src = &_sidata, *dst = &_sdata;
    while (dst < &_edata)
        *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss;)
        *dst++ = 0;
    /* CPACR: full access to CP10 and CP11 (the FPU), before any float instruction */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm volatile("dsb\n isb");
    main();
    for (;;) {
    }
}

/* No heap: the firmware never allocates. newlib's stdio references sbrk (its
 * reentrancy code may ask for memory); any such request fails instead of growing. */
void *_sbrk(int incr);
void *_sbrk(int incr)
{
    (void)incr;
    return (void *)-1;
}
