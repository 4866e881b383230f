/* SPDX-License-Identifier: MIT */
/*
 * readyapp: a small HTTP server built on libbaton, for tests of the supervisor and the library.
 *
 * It adopts its inherited listeners (by name when LISTEN_FDNAMES names them), reports
 * READY=1, answers every request with "200 Hello" (keep-alive and pipelining included), and on
 * SIGTERM drains without losing a request: it stops accepting, answers the next request on each
 * busy connection with "Connection: close", closes connections idle for a grace period since
 * the drain began, and exits. SIGHUP is an in-place reload (RELOADING=1, then READY=1).
 *
 * Flags make it misbehave in the ways real applications do, so the supervisor's tests can
 * check each reaction. Run `readyapp --help` for the list.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "baton/baton.h"
#include "readyapp.h"

#define MAX_LISTENERS 16

struct options {
    int exit_at_start;   /* exit code, or -1 */
    int never_ready;     /* never send READY=1 */
    long crash_after_ms; /* abort() after this long, or -1 */
    long fail_after_ms;  /* drain what it holds, then exit 1, after this long, or -1 */
    long crash_slot;     /* the worker in this slot (BATON_WORKER) crashes before READY=1 */
    int ignore_term;     /* SIGTERM is ignored: only SIGKILL stops it */
    int fail_reload;     /* SIGHUP reports a failed reload */
    const char *status;  /* STATUS= sent at start */
    const char *stderr_text;
    long ready_after_ms;
    long stats_interval_ms; /* BATON_STATS= period, or 0 for none */
    long grace_ms;          /* idle time before a draining server closes a connection */
    const char *body;
    const char *listen; /* host:port to bind when nothing was inherited */
};

static struct options opt = {.exit_at_start = -1,
                             .crash_after_ms = -1,
                             .fail_after_ms = -1,
                             .crash_slot = -1,
                             .grace_ms = 1000,
                             .body = "Hello"};
static int listeners[MAX_LISTENERS];
static int n_listeners;
static void die(const char *what)
{
    fprintf(stderr, "readyapp: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void usage(int code)
{
    fprintf(code ? stderr : stdout,
            "usage: readyapp [options]\n"
            "  --exit-at-start CODE   exit with CODE before doing anything\n"
            "  --never-ready          never send READY=1\n"
            "  --ready-after MS       send READY=1 only after MS milliseconds\n"
            "  --crash-after MS       abort() after MS milliseconds\n"
            "  --fail-after MS        after MS milliseconds stop accepting, answer what it\n"
            "                         holds (as a drain) and exit with status 1\n"
            "  --crash-slot N         in worker slot N (BATON_WORKER), abort() before READY=1\n"
            "  --ignore-term          ignore SIGTERM (only SIGKILL stops it)\n"
            "  --fail-reload          answer SIGHUP with ERRNO= and STATUS= instead of READY=1\n"
            "  --status TEXT          send STATUS=TEXT at start\n"
            "  --stderr TEXT          print TEXT to stderr at start\n"
            "  --stats-interval MS    send BATON_STATS= every MS milliseconds\n"
            "  --grace MS             idle time before a draining connection is closed (1000)\n"
            "  --body TEXT            the response body (Hello)\n"
            "  --listen HOST:PORT     bind this when no listener was inherited\n"
            "  --http-status CODE     answer every request with CODE (200)\n");
    exit(code);
}

static long parse_ms(const char *s, const char *flag)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0) {
        fprintf(stderr, "readyapp: %s: '%s' is not a non-negative integer\n", flag, s);
        exit(2);
    }
    return v;
}

static void parse_options(int argc, char **argv)
{
    static const struct option longopts[] = {{"exit-at-start", required_argument, NULL, 'x'},
                                             {"never-ready", no_argument, NULL, 'n'},
                                             {"ready-after", required_argument, NULL, 'r'},
                                             {"crash-after", required_argument, NULL, 'c'},
                                             {"crash-slot", required_argument, NULL, 'C'},
                                             {"ignore-term", no_argument, NULL, 'i'},
                                             {"fail-reload", no_argument, NULL, 'f'},
                                             {"status", required_argument, NULL, 's'},
                                             {"stderr", required_argument, NULL, 'e'},
                                             {"stats-interval", required_argument, NULL, 'S'},
                                             {"grace", required_argument, NULL, 'g'},
                                             {"body", required_argument, NULL, 'b'},
                                             {"listen", required_argument, NULL, 'l'},
                                             {"http-status", required_argument, NULL, 'H'},
                                             {"fail-after", required_argument, NULL, 'F'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int c;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'x':
            opt.exit_at_start = (int)parse_ms(optarg, "--exit-at-start");
            break;
        case 'n':
            opt.never_ready = 1;
            break;
        case 'r':
            opt.ready_after_ms = parse_ms(optarg, "--ready-after");
            break;
        case 'c':
            opt.crash_after_ms = parse_ms(optarg, "--crash-after");
            break;
        case 'C':
            opt.crash_slot = parse_ms(optarg, "--crash-slot");
            break;
        case 'i':
            opt.ignore_term = 1;
            break;
        case 'f':
            opt.fail_reload = 1;
            break;
        case 's':
            opt.status = optarg;
            break;
        case 'e':
            opt.stderr_text = optarg;
            break;
        case 'S':
            opt.stats_interval_ms = parse_ms(optarg, "--stats-interval");
            break;
        case 'g':
            opt.grace_ms = parse_ms(optarg, "--grace");
            break;
        case 'b':
            opt.body = optarg;
            break;
        case 'l':
            opt.listen = optarg;
            break;
        case 'F':
            opt.fail_after_ms = parse_ms(optarg, "--fail-after");
            break;
        case 'H':
            http_status = (int)parse_ms(optarg, "--http-status");
            if (http_status < 200 || http_status > 599)
                usage(2);
            break;
        case 'h':
            usage(0);
            break;
        default:
            usage(2);
        }
    }
    if (optind != argc)
        usage(2);
}

/* Binds --listen HOST:PORT for runs outside a supervisor. */
static int bind_listen(const char *spec)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    char host[256];
    const char *colon = strrchr(spec, ':');
    int fd, one = 1, r;

    if (colon == NULL || (size_t)(colon - spec) >= sizeof(host)) {
        fprintf(stderr, "readyapp: --listen: '%s' is not HOST:PORT\n", spec);
        exit(2);
    }
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    r = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
    if (r != 0) {
        fprintf(stderr, "readyapp: --listen %s: %s\n", spec, gai_strerror(r));
        exit(2);
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 511) < 0)
        die(spec);
    freeaddrinfo(ai);
    return fd;
}

static void adopt_listeners(void)
{
    char name[256];
    int n = baton_listen_fds(0);

    if (n < 0) {
        fprintf(stderr, "readyapp: bad LISTEN_FDS/LISTEN_PID: %s\n", strerror(-n));
        exit(2);
    }
    for (int i = 0; i < n && n_listeners < MAX_LISTENERS; i++) {
        int fd = BATON_LISTEN_FDS_START + i;

        if (baton_listen_fd_name(fd, name, sizeof(name)) < 0)
            strcpy(name, "?");
        fprintf(stderr, "readyapp: pid %d adopts fd %d (%s)\n", (int)getpid(), fd, name);
        listeners[n_listeners++] = fd;
    }
    baton_listen_fds(1); /* not for our children */
    if (n_listeners == 0 && opt.listen != NULL)
        listeners[n_listeners++] = bind_listen(opt.listen);
    if (n_listeners == 0) {
        fprintf(stderr, "readyapp: no listener: run under baton or systemd, or pass --listen\n");
        exit(2);
    }
    /*
     * poll() then accept(): with the socket shared by several processes another one may win
     * the connection, and a blocking accept() would then hang. O_NONBLOCK is a flag of the
     * shared open file description, so the other processes see it too (libuv sets it anyway).
     */
    for (int i = 0; i < n_listeners; i++)
        if (fcntl(listeners[i], F_SETFL, fcntl(listeners[i], F_GETFL) | O_NONBLOCK) < 0)
            die("fcntl O_NONBLOCK");
}

static void send_stats(void)
{
    baton_notifyf("BATON_STATS=requests=%llu responses_2xx=%llu responses_4xx=%llu "
                  "responses_5xx=%llu errors=%llu bytes_in=%llu bytes_out=%llu connections=%d",
                  stats.requests, stats.responses_2xx, stats.responses_4xx, stats.responses_5xx,
                  stats.errors, stats.bytes_in, stats.bytes_out, n_conns);
}

static int hup_signalfd(void)
{
    sigset_t set;
    int fd;

    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        die("sigprocmask");
    fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        die("signalfd");
    return fd;
}

static void reload(int hup_fd)
{
    struct signalfd_siginfo si;

    while (read(hup_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        baton_notify_reloading();
        if (opt.fail_reload)
            baton_notify("ERRNO=22\nSTATUS=reload refused (--fail-reload)");
        else
            baton_notify_ready();
    }
}

/* The process's own schedule: what it was told to do, and when. */
struct timers {
    long long ready_at, crash_at, stats_at, fail_at;
    int ready_sent;
};

static void run_timers(struct timers *t, long long now)
{
    if (!t->ready_sent && now >= t->ready_at) {
        int r = baton_notify_ready();
        if (r < 0)
            fprintf(stderr, "readyapp: notify READY=1: %s\n", strerror(-r));
        t->ready_sent = 1;
    }
    if (now >= t->crash_at) {
        struct rlimit none = {0, 0};
        fprintf(stderr, "readyapp: crashing as asked (--crash-after)\n");
        setrlimit(RLIMIT_CORE, &none); /* a test crash, not a core file to keep */
        abort();
    }
    if (now >= t->stats_at) {
        send_stats();
        t->stats_at = now + opt.stats_interval_ms;
    }
}

static int poll_timeout(const struct timers *t, long long now, int draining)
{
    long long next = t->ready_sent ? LLONG_MAX : t->ready_at;

    next = t->crash_at < next ? t->crash_at : next;
    next = t->fail_at < next ? t->fail_at : next;
    next = t->stats_at < next ? t->stats_at : next;
    if (draining || n_conns > 0)
        next = now + 50 < next ? now + 50 : next; /* idle and linger deadlines */
    if (next == LLONG_MAX)
        return -1;
    return (int)(next > now ? next - now : 0);
}

/* Stop accepting: the listening sockets live on in the other processes that share them. */
static void start_drain(void)
{
    baton_notify_stopping();
    for (int i = 0; i < n_listeners; i++)
        close(listeners[i]);
    n_listeners = 0;
}

int main(int argc, char **argv)
{
    struct pollfd pfd[MAX_LISTENERS + 2 + MAX_CONNS];
    struct timers t = {LLONG_MAX, LLONG_MAX, LLONG_MAX, LLONG_MAX, 0};
    long long start, drain_start = 0;
    int drain_fd = -1, hup_fd, draining = 0, failing = 0;

    parse_options(argc, argv);
    http_body = opt.body;
    if (opt.stderr_text != NULL)
        fprintf(stderr, "%s\n", opt.stderr_text);
    if (opt.exit_at_start >= 0)
        exit(opt.exit_at_start);

    adopt_listeners();
    /* A crash in the middle of a rolling update: the earlier slots became ready (and replaced
     * old workers), this one dies by a signal before it is ready. */
    const char *slot = getenv("BATON_WORKER");
    if (opt.crash_slot >= 0 && slot && strtol(slot, NULL, 10) == opt.crash_slot) {
        fprintf(stderr, "readyapp: slot %ld crashing as asked (--crash-slot)\n", opt.crash_slot);
        abort();
    }
    if (opt.ignore_term)
        signal(SIGTERM, SIG_IGN);
    else if ((drain_fd = baton_drain_install(SIGTERM)) < 0 || baton_drain_install(SIGINT) < 0) {
        fprintf(stderr, "readyapp: drain: %s\n", strerror(drain_fd < 0 ? -drain_fd : EINVAL));
        exit(1);
    }
    hup_fd = hup_signalfd();
    if (opt.status != NULL)
        baton_notify_status("%s", opt.status);

    start = now_ms();
    if (!opt.never_ready)
        t.ready_at = start + opt.ready_after_ms;
    if (opt.crash_after_ms >= 0)
        t.crash_at = start + opt.crash_after_ms;
    if (opt.stats_interval_ms > 0)
        t.stats_at = start + opt.stats_interval_ms;
    if (opt.fail_after_ms >= 0)
        t.fail_at = start + opt.fail_after_ms;

    for (;;) {
        long long now = now_ms();
        int n = 0, first_conn, drain_idx = -1;

        run_timers(&t, now);
        if (!failing && now >= t.fail_at) {
            /* A fatal condition found by the app itself: it stops taking connections, answers
             * what it holds, and exits with a failure (unlike --crash-after's abort()). */
            fprintf(stderr, "readyapp: failing as asked (--fail-after): exit 1 once drained\n");
            failing = 1;
            t.fail_at = LLONG_MAX;
        }
        if (!draining && (failing || baton_drain_requested())) {
            draining = 1;
            drain_start = now;
            start_drain();
        }
        http_sweep(now, draining, drain_start, opt.grace_ms);
        if (draining && n_conns == 0) {
            if (opt.stats_interval_ms > 0)
                send_stats();
            return failing ? 1 : 0;
        }

        for (int i = 0; i < n_listeners && n_conns < MAX_CONNS; i++)
            pfd[n++] = (struct pollfd){.fd = listeners[i], .events = POLLIN};
        first_conn = n;
        for (int i = 0; i < n_conns; i++)
            pfd[n++] =
                (struct pollfd){.fd = conns[i].fd, .events = conns[i].out_len ? POLLOUT : POLLIN};
        if (drain_fd >= 0) {
            drain_idx = n;
            pfd[n++] = (struct pollfd){.fd = drain_fd, .events = POLLIN};
        }
        pfd[n++] = (struct pollfd){.fd = hup_fd, .events = POLLIN};

        if (poll(pfd, (nfds_t)n, poll_timeout(&t, now, draining)) < 0) {
            if (errno == EINTR)
                continue;
            die("poll");
        }
        if (drain_idx >= 0 && pfd[drain_idx].revents) {
            uint64_t v;
            if (read(drain_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                die("read drain fd");
        }
        if (pfd[n - 1].revents)
            reload(hup_fd);
        /* From the last: closing a connection moves the last one into its slot. */
        for (int i = n_conns - 1; i >= 0; i--) {
            short rev = pfd[first_conn + i].revents;
            if (rev && http_conn_io(&conns[i], rev, draining || baton_drain_requested()) < 0)
                http_conn_close(&conns[i]);
        }
        for (int i = 0; i < first_conn; i++)
            if (pfd[i].revents & POLLIN)
                http_accept(pfd[i].fd);
    }
}
