/* SPDX-License-Identifier: MIT */
/* `baton stop [--fast] [--timeout DUR]`: ask the supervisor to stop and wait until it is gone. */
#include "cli/internal.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/fd.h"

/* How often the fallback wait knocks on the control socket. */
#define KNOCK_INTERVAL_MS 50

/* A descriptor that becomes readable when process `pid` exits, or -1. Opened before the stop
 * request, so a recycled pid can never be mistaken for the supervisor. */
static int pidfd_of(pid_t pid)
{
#ifdef SYS_pidfd_open
    if (pid > 0) {
        int fd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (fd >= 0) {
            (void)baton__fd_cloexec(fd, true);
            return fd;
        }
    }
#endif
    return -1;
}

static int remaining_ms(uint64_t deadline)
{
    uint64_t now = baton__clock_now_ms();
    if (!deadline)
        return -1;
    if (now >= deadline)
        return 0;
    return deadline - now > INT32_MAX ? INT32_MAX : (int)(deadline - now);
}

/* Without a pidfd: wait for the connection to close, then until connecting fails because
 * nobody listens on the socket any more (or the file is gone). Returns 0 or -ETIMEDOUT. */
static int wait_socket_gone(struct baton_control *c, uint64_t deadline)
{
    char *line;
    size_t len;
    int r;

    while ((r = baton__control_read_line(c, deadline, &line, &len)) > 0)
        ;
    if (r == -ETIMEDOUT)
        return r;
    for (;;) {
        struct baton_control probe;
        r = baton__control_connect(&probe, c->path);
        baton__control_close(&probe);
        if (r == -ENOENT || r == -ECONNREFUSED)
            return 0;
        if (remaining_ms(deadline) == 0)
            return -ETIMEDOUT;
        (void)poll(NULL, 0, KNOCK_INTERVAL_MS);
    }
}

static int wait_exit(int pidfd, uint64_t deadline)
{
    struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
    for (;;) {
        int r = poll(&pfd, 1, remaining_ms(deadline));
        if (r > 0)
            return 0;
        if (r == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

int baton__cmd_stop(const struct baton_cli_args *args)
{
    struct baton_control c = {.fd = -1};
    struct baton_doc *doc = NULL;
    const struct baton_doc_node *result;
    const char *line, *error;
    const char *request =
        args->fast ? "{\"cmd\":\"stop\",\"fast\":true}" : "{\"cmd\":\"stop\",\"fast\":false}";
    uint64_t deadline = args->timeout_ms ? baton__clock_now_ms() + args->timeout_ms : 0;
    int code, pidfd = -1, r;
    char t[32];

    code = baton__cli_connect(args, &c);
    if (code != BATON_EXIT_OK)
        goto out;
    pidfd = pidfd_of(c.peer_pid);
    code = baton__cli_request(&c, request, strlen(request), deadline, NULL, NULL, &doc, &result,
                              &line);
    if (code != BATON_EXIT_OK)
        goto out;
    if (!baton__cli_true(result, "ok")) {
        error = baton__cli_text(result, "error", "");
        fprintf(stderr, "baton: %s\n", *error ? error : "stop refused");
        code = BATON_EXIT_FAILED;
        goto out;
    }
    r = pidfd >= 0 ? wait_exit(pidfd, deadline) : wait_socket_gone(&c, deadline);
    if (r == -ETIMEDOUT) {
        fprintf(stderr, "baton: the supervisor at %s is still stopping after %s (--timeout)\n",
                c.path, baton__cli_format_ms((long long)args->timeout_ms, t, sizeof(t)));
        code = BATON_EXIT_FAILED;
    } else if (r < 0) {
        fprintf(stderr, "baton: waiting for the supervisor to exit: %s\n", strerror(-r));
        code = BATON_EXIT_FAILED;
    } else if (c.peer_pid > 0) {
        printf("stopped (supervisor pid %ld)\n", (long)c.peer_pid);
    } else {
        printf("stopped\n");
    }
out:
    baton__fd_closep(&pidfd);
    baton__doc_free(doc);
    baton__cli_disconnect(&c);
    return code;
}
