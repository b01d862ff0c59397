/*
 * firmware/ports/mps2-an386/hal.c -- hal.h on the MPS2 AN386 (Cortex-M4, QEMU
 * -M mps2-an386): CMSDK APB UART0 at 0x40004000, SysTick at the 25 MHz system clock,
 * a boot counter in RAM that survives a reset (section .noinit).
 */
#include <stdint.h>

#include "../../hal.h"
#include "../../link/firmware.h"

/* CMSDK APB UART registers */
#define UART0 0x40004000u
#define UART_DATA (*(volatile uint32_t *)(UART0 + 0x00))
#define UART_STATE (*(volatile uint32_t *)(UART0 + 0x04)) /* bit 0 TX full, bit 1 RX full */
#define UART_CTRL (*(volatile uint32_t *)(UART0 + 0x08))  /* bit 0 TX enable, bit 1 RX enable */
#define UART_BAUDDIV (*(volatile uint32_t *)(UART0 + 0x10))
/* SysTick */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYSCLK_HZ 25000000u

static volatile uint32_t millis;
__attribute__((section(".noinit"))) static uint32_t boot_magic, boots;
static uint8_t arena[ANPT_ARENA_BYTES];
static anpt_firmware fw;

void systick_handler(void) { millis++; }

size_t hal_uart_read(uint8_t *buf, size_t cap)
{
    size_t n = 0;
    while (n < cap && (UART_STATE & 2u))
        buf[n++] = (uint8_t)UART_DATA;
    return n;
}

size_t hal_uart_write(const uint8_t *buf, size_t n)
{
    size_t k = 0;
    while (k < n && !(UART_STATE & 1u))
        UART_DATA = buf[k++];
    return k;
}

uint32_t hal_millis(void) { return millis; }
uint32_t hal_boot_counter(void) { return boots; }
/* No hardware RNG on this board: the boot counter and the time of the first request
 * (mixed by the device) are enough for session ids, which need not be secret. */
uint32_t hal_entropy(void) { return boots * 0x85EBCA6Bu ^ SYST_CVR ^ 0xA5A5F00Du; }
const char *hal_device_id(void) { return "mps2-an386-0"; }
void hal_idle(void) {}

int main(void)
{
    if (boot_magic != 0xB007C0DEu) {
        boot_magic = 0xB007C0DEu;
        boots = 0;
    }
    boots++;
    SYST_RVR = SYSCLK_HZ / 1000u - 1u;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* processor clock, interrupt, enable */
    UART_BAUDDIV = 16;
    UART_CTRL = 3u;
    anpt_firmware_init(&fw, arena, sizeof arena);
    for (;;)
        if (!anpt_firmware_poll(&fw))
            hal_idle();
}
