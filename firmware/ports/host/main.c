/*
 * firmware/ports/host/main.c -- the firmware as a Linux process, for tests and for a
 * host without a board: the same link/ and core/ code as on the Cortex-M4, its UART a
 * pseudo-terminal, stdin/stdout or one TCP connection at a time.
 *
 *   anpt-firmware --pty            prints the pseudo-terminal's path (/dev/pts/N)
 *   anpt-firmware --tcp PORT       prints tcp://127.0.0.1:PORT (0: any free port)
 *   anpt-firmware --stdio          frames on stdin/stdout
 *   --device-id ID                 HelloReply.device_id (default host-<pid>)
 *
 * The first line on stdout says where to connect (as anpt-firmware-sim does). SIGUSR1
 * reboots the firmware (the "watchdog the host triggers" of the fault tests): all
 * state is lost and boot_counter goes up by one. SIGTERM/SIGINT stop it.
 */
#define _DEFAULT_SOURCE
#define _XOPEN_SOURCE 600
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../../hal.h"
#include "../../link/firmware.h"

static int in_fd = -1, out_fd = -1, listen_fd = -1;
static uint32_t boots = 1;
static char device_id[33];
static volatile sig_atomic_t reboot_wanted, stop_wanted;
static uint8_t arena[ANPT_ARENA_BYTES];
static anpt_firmware fw;

size_t hal_uart_read(uint8_t *buf, size_t cap)
{
    if (in_fd < 0)
        return 0;
    ssize_t n = read(in_fd, buf, cap);
    if (n > 0)
        return (size_t)n;
    if (n == 0 || (errno != EAGAIN && errno != EINTR && errno != EIO)) {
        if (listen_fd >= 0) { /* the TCP peer left: wait for the next one */
            close(in_fd);
            in_fd = out_fd = -1;
        } else if (n == 0 && in_fd == STDIN_FILENO) {
            stop_wanted = 1;
        }
    }
    return 0;
}

size_t hal_uart_write(const uint8_t *buf, size_t n)
{
    if (out_fd < 0)
        return n; /* nobody connected: the bytes are lost, as on an unplugged UART */
    ssize_t w = write(out_fd, buf, n);
    return w > 0 ? (size_t)w : 0;
}

uint32_t hal_millis(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

uint32_t hal_boot_counter(void) { return boots; }

uint32_t hal_entropy(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint32_t)ts.tv_nsec ^ ((uint32_t)getpid() << 16) ^ (uint32_t)ts.tv_sec;
}

const char *hal_device_id(void) { return device_id; }

void hal_idle(void)
{
    struct pollfd p = { .fd = in_fd >= 0 ? in_fd : listen_fd, .events = POLLIN };
    if (p.fd < 0)
        return;
    if (poll(&p, 1, 20) > 0 && (p.revents & POLLHUP) && p.fd == in_fd)
        usleep(5000); /* a pseudo-terminal whose other side is closed: do not spin */
    if (in_fd < 0 && listen_fd >= 0 && (p.revents & POLLIN)) {
        int c = accept(listen_fd, NULL, NULL);
        if (c >= 0) {
            fcntl(c, F_SETFL, O_NONBLOCK);
            in_fd = out_fd = c;
        }
    }
}

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        reboot_wanted = 1;
    else
        stop_wanted = 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: anpt-firmware --pty | --tcp PORT | --stdio [--device-id ID]\n");
    return 2;
}

static int open_pty(void)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0)
        return perror("anpt-firmware: posix_openpt"), -1;
    const char *path = ptsname(m);
    /* Hold the slave open ourselves, raw: the master then never sees a hang-up when a
     * host closes and reopens the port, and nothing is echoed. */
    int s = open(path, O_RDWR | O_NOCTTY);
    struct termios t;
    if (s < 0 || tcgetattr(s, &t) != 0)
        return perror("anpt-firmware: pty slave"), -1;
    cfmakeraw(&t);
    tcsetattr(s, TCSANOW, &t);
    fcntl(m, F_SETFL, O_NONBLOCK);
    in_fd = out_fd = m;
    printf("%s\n", path);
    return 0;
}

static int open_tcp(int port)
{
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    socklen_t len = sizeof a;
    if (bind(listen_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(listen_fd, 1) != 0 ||
        getsockname(listen_fd, (struct sockaddr *)&a, &len) != 0)
        return perror("anpt-firmware: tcp"), -1;
    printf("tcp://127.0.0.1:%d\n", ntohs(a.sin_port));
    return 0;
}

int main(int argc, char **argv)
{
    int mode = 0, port = 0;
    snprintf(device_id, sizeof device_id, "host-%d", (int)getpid());
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--pty") == 0) mode = 1;
        else if (strcmp(argv[i], "--stdio") == 0) mode = 2;
        else if (strcmp(argv[i], "--tcp") == 0 && i + 1 < argc) mode = 3, port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--device-id") == 0 && i + 1 < argc) snprintf(device_id, sizeof device_id, "%s", argv[++i]);
        else return usage();
    }
    if (mode == 0)
        return usage();
    if ((mode == 1 && open_pty() != 0) || (mode == 3 && open_tcp(port) != 0))
        return 1;
    if (mode == 2) {
        in_fd = STDIN_FILENO;
        out_fd = STDOUT_FILENO;
        fcntl(in_fd, F_SETFL, O_NONBLOCK);
    }
    fflush(stdout);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    anpt_firmware_init(&fw, arena, sizeof arena);
    while (!stop_wanted) {
        if (reboot_wanted) { /* a reset: every byte of state is lost, the counter goes up */
            reboot_wanted = 0;
            boots++;
            fprintf(stderr, "anpt-firmware: reboot (boot %u)\n", (unsigned)boots);
            anpt_firmware_init(&fw, arena, sizeof arena);
        }
        if (!anpt_firmware_poll(&fw))
            hal_idle();
    }
    return 0;
}
