/* SPDX-License-Identifier: MIT */
/* loadgen's command line, threads and reports. See usage() and docs/BENCHMARKS.md. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "loadgen.h"

#define MAX_CONNECTIONS 100000
#define MAX_THREADS     64

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: loadgen --port PORT [--host HOST] [--connections N] [--duration DUR]\n"
        "               [--close] [--path PATH] [--timeout DUR] [--threads T]\n"
        "               [--json FILE] [--samples FILE] [--samples-max N]\n"
        "\n"
        "A closed-loop HTTP/1.1 load client that accounts for every request: N connections\n"
        "each send a GET, read the whole response, and send the next (keep-alive, or a new\n"
        "connection per request with --close) for DUR, then finish what is in flight.\n"
        "Every attempt is one of: ok (2xx), non2xx, refused (connect failed), lost_fresh /\n"
        "lost_reused (closed or reset before any response byte on a new / a reused\n"
        "connection), partial (closed, reset or malformed mid-response), timeout.\n"
        "\n"
        "  --host HOST         server address (default 127.0.0.1)\n"
        "  --port PORT         server port (required)\n"
        "  --connections N     concurrent connections (default 64)\n"
        "  --duration DUR      how long to send: 500ms, 20s, 1m (default 10s)\n"
        "  --close             send Connection: close and reconnect for every request\n"
        "  --path PATH         request target (default /)\n"
        "  --timeout DUR       limit for one attempt (default 5s)\n"
        "  --threads T         epoll threads sharing the connections (default 1)\n"
        "  --json FILE         write the report as one JSON object\n"
        "  --samples FILE      write every attempt: header \"LOADGEN1\" u64 count u64 dropped,\n"
        "                      then per attempt u64 start ns (CLOCK_MONOTONIC), u64 latency ns,\n"
        "                      u8 class (ok non2xx refused lost_fresh lost_reused partial\n"
        "                      timeout = 0..6), 7 pad bytes; little-endian\n"
        "  --samples-max N     keep at most N samples (default 8000000), count the rest\n"
        "\n"
        "Exit status: 0 when the run completed (whatever the failures), 1 when it could not\n"
        "run, 2 on usage errors. SIGTERM or SIGINT ends the run early: no new request\n"
        "starts, what is in flight finishes, and the report is written as usual.\n");
}

/* The run SIGTERM/SIGINT ends early (a plain store: async-signal-safe). */
static struct run *volatile the_run;

static void end_early(int sig)
{
    struct run *r = the_run;
    if (r)
        atomic_store(&r->end_ns, now_ns());
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(try loadgen --help)\n");
    return 2;
}

static int parse_count(const char *text, unsigned long max, unsigned long *ret)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v == 0 || v > max)
        return -EINVAL;
    *ret = v;
    return 0;
}

static int parse_duration_ns(const char *text, uint64_t *ret)
{
    uint64_t ms = 0;
    int rc = baton__duration_parse(text, &ms);
    if (rc < 0)
        return rc;
    if (ms == 0)
        return -EINVAL;
    *ret = ms * 1000000ull;
    return 0;
}

static int resolve(struct options *opt)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(opt->host, opt->port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "loadgen: cannot resolve %s port %s: %s\n", opt->host, opt->port,
                gai_strerror(rc));
        return -EINVAL;
    }
    memcpy(&opt->addr, res->ai_addr, res->ai_addrlen);
    opt->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* Returns 0, or the exit status for a usage error. */
static int parse_options(int argc, char **argv, struct options *opt)
{
    enum { OPT_SAMPLES_MAX = 256 };
    static const struct option longopts[] = {
        {"host", required_argument, NULL, 'h'},
        {"port", required_argument, NULL, 'p'},
        {"connections", required_argument, NULL, 'c'},
        {"duration", required_argument, NULL, 'd'},
        {"close", no_argument, NULL, 'C'},
        {"path", required_argument, NULL, 'P'},
        {"timeout", required_argument, NULL, 't'},
        {"threads", required_argument, NULL, 'T'},
        {"json", required_argument, NULL, 'j'},
        {"samples", required_argument, NULL, 's'},
        {"samples-max", required_argument, NULL, OPT_SAMPLES_MAX},
        {"help", no_argument, NULL, 'H'},
        {0},
    };
    *opt = (struct options){
        .host = "127.0.0.1",
        .path = "/",
        .connections = 64,
        .threads = 1,
        .duration_ns = 10000000000ull,
        .timeout_ns = 5000000000ull,
        .samples_max = 8000000,
    };
    unsigned long v = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            opt->host = optarg;
            break;
        case 'p':
            if (parse_count(optarg, 65535, &v) < 0)
                return usage_error("--port: expected 1-65535, got '%s'", optarg);
            opt->port = optarg;
            break;
        case 'c':
            if (parse_count(optarg, MAX_CONNECTIONS, &v) < 0)
                return usage_error("--connections: expected 1-100000, got '%s'", optarg);
            opt->connections = (unsigned)v;
            break;
        case 'd':
            if (parse_duration_ns(optarg, &opt->duration_ns) < 0)
                return usage_error("--duration: expected a duration like 500ms, 20s, 1m; got '%s'",
                                   optarg);
            break;
        case 'C':
            opt->close = true;
            break;
        case 'P':
            if (optarg[0] != '/' || strpbrk(optarg, " \r\n"))
                return usage_error("--path: expected a path starting with '/', got '%s'", optarg);
            opt->path = optarg;
            break;
        case 't':
            if (parse_duration_ns(optarg, &opt->timeout_ns) < 0)
                return usage_error("--timeout: expected a duration like 500ms, 5s; got '%s'",
                                   optarg);
            break;
        case 'T':
            if (parse_count(optarg, MAX_THREADS, &v) < 0)
                return usage_error("--threads: expected 1-64, got '%s'", optarg);
            opt->threads = (unsigned)v;
            break;
        case 'j':
            opt->json_path = optarg;
            break;
        case 's':
            opt->samples_path = optarg;
            break;
        case OPT_SAMPLES_MAX:
            if (parse_count(optarg, 1ul << 32, &v) < 0)
                return usage_error("--samples-max: expected a positive count, got '%s'", optarg);
            opt->samples_max = v;
            break;
        case 'H':
            usage(stdout);
            exit(0);
        default:
            return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (!opt->port)
        return usage_error("%s", "--port is required");
    if (opt->threads > opt->connections)
        opt->threads = opt->connections;
    if (resolve(opt) < 0)
        return 2;
    return 0;
}

struct thread {
    pthread_t id;
    struct run *run;
    unsigned count;
    struct stats stats;
    int rc;
};

static void *thread_main(void *arg)
{
    struct thread *t = arg;
    t->rc = client_run(t->run, t->count, &t->stats);
    return NULL;
}

static uint64_t failed_count(const struct stats *s)
{
    uint64_t failed = 0;
    for (int i = 0; i < OUTCOME_COUNT; i++) {
        if (i != OUTCOME_OK)
            failed += s->outcomes[i];
    }
    return failed;
}

static void print_summary(const struct options *opt, const struct stats *s, double seconds)
{
    uint64_t failed = failed_count(s);
    printf("loadgen: %s:%s%s, %u connections (%s), %.2f s\n", opt->host, opt->port, opt->path,
           opt->connections, opt->close ? "Connection: close" : "keep-alive", seconds);
    printf("  sent %llu  ok %llu  failed %llu (",
           (unsigned long long)(s->outcomes[OUTCOME_OK] + failed),
           (unsigned long long)s->outcomes[OUTCOME_OK], (unsigned long long)failed);
    for (int i = OUTCOME_NON2XX; i < OUTCOME_COUNT; i++)
        printf("%s%s %llu", i == OUTCOME_NON2XX ? "" : ", ", outcome_names[i],
               (unsigned long long)s->outcomes[i]);
    printf(")\n");
    printf("  throughput %.0f req/s (2xx)\n",
           seconds > 0 ? (double)s->outcomes[OUTCOME_OK] / seconds : 0.0);
    printf("  latency (2xx) p50 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us\n",
           (double)stats_quantile(s, 0.50) / 1e3, (double)stats_quantile(s, 0.99) / 1e3,
           (double)stats_quantile(s, 0.999) / 1e3, (double)s->latency_max / 1e3);
    printf("  longest gap without a 2xx: %.3f ms\n", (double)s->longest_gap_ns / 1e6);
}

static int write_json(const char *path, const struct stats *s, double seconds)
{
    FILE *f = fopen(path, "we");
    if (!f)
        return -errno;
    uint64_t failed = failed_count(s);
    fprintf(f, "{\"sent\": %llu", (unsigned long long)(s->outcomes[OUTCOME_OK] + failed));
    for (int i = 0; i < OUTCOME_COUNT; i++)
        fprintf(f, ", \"%s\": %llu", outcome_names[i], (unsigned long long)s->outcomes[i]);
    fprintf(f, ", \"failed\": %llu, \"duration_s\": %.6f, \"rps\": %.1f",
            (unsigned long long)failed, seconds,
            seconds > 0 ? (double)s->outcomes[OUTCOME_OK] / seconds : 0.0);
    fprintf(f, ", \"latency_us\": {\"p50\": %.1f, \"p99\": %.1f, \"p999\": %.1f, \"max\": %.1f}",
            (double)stats_quantile(s, 0.50) / 1e3, (double)stats_quantile(s, 0.99) / 1e3,
            (double)stats_quantile(s, 0.999) / 1e3, (double)s->latency_max / 1e3);
    fprintf(f, ", \"longest_gap_ms\": %.3f}\n", (double)s->longest_gap_ns / 1e6);
    if (fclose(f) != 0)
        return -errno;
    return 0;
}

static char *build_request(const struct options *opt, size_t *ret_len)
{
    char *req = NULL;
    int n = asprintf(
        &req, "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: loadgen\r\nAccept: */*\r\n%s\r\n",
        opt->path, opt->host, opt->port, opt->close ? "Connection: close\r\n" : "");
    if (n < 0)
        return NULL;
    *ret_len = (size_t)n;
    return req;
}

int main(int argc, char **argv)
{
    struct options opt;
    int status = parse_options(argc, argv, &opt);
    if (status)
        return status;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction stop = {.sa_handler = end_early};
    sigemptyset(&stop.sa_mask);
    sigaction(SIGTERM, &stop, NULL);
    sigaction(SIGINT, &stop, NULL);

    int rc = 0;
    bool reported = false; /* the failure was already explained */
    struct samples samples = {0};
    struct thread *threads = calloc(opt.threads, sizeof(*threads));
    struct stats *total = calloc(1, sizeof(*total));
    struct run run = {.opt = &opt};
    run.request = build_request(&opt, &run.request_len);
    if (!threads || !total || !run.request) {
        rc = -ENOMEM;
        goto out;
    }
    if (opt.samples_path) {
        rc = samples_init(&samples, opt.samples_max);
        if (rc < 0)
            goto out;
        run.samples = &samples;
    }

    run.start_ns = now_ns();
    atomic_init(&run.end_ns, run.start_ns + opt.duration_ns);
    the_run = &run;
    atomic_init(&run.last_success_ns, run.start_ns);
    unsigned started = 0;
    for (unsigned i = 0; i < opt.threads; i++) {
        struct thread *t = &threads[i];
        t->run = &run;
        t->count = opt.connections / opt.threads + (i < opt.connections % opt.threads);
        if (i == 0)
            continue; /* the main thread takes the first share */
        rc = -pthread_create(&t->id, NULL, thread_main, t);
        if (rc < 0)
            break;
        started = i;
    }
    if (rc == 0)
        thread_main(&threads[0]);
    for (unsigned i = 1; i <= started; i++)
        pthread_join(threads[i].id, NULL);
    if (rc < 0)
        goto out;
    uint64_t finished_ns = now_ns();

    for (unsigned i = 0; i < opt.threads; i++) {
        if (threads[i].rc < 0)
            rc = threads[i].rc;
        stats_merge(total, &threads[i].stats);
    }
    if (rc < 0)
        goto out;
    /* A server that stopped answering for good leaves a gap that runs to the end of the run. */
    uint64_t last = atomic_load(&run.last_success_ns);
    if (run.end_ns > last && run.end_ns - last > total->longest_gap_ns)
        total->longest_gap_ns = run.end_ns - last;

    double seconds = (double)(finished_ns - run.start_ns) / 1e9;
    print_summary(&opt, total, seconds);
    if (opt.json_path && (rc = write_json(opt.json_path, total, seconds)) < 0) {
        fprintf(stderr, "loadgen: cannot write %s: %s\n", opt.json_path, strerror(-rc));
        reported = true;
        goto out;
    }
    if (opt.samples_path) {
        rc = samples_write(&samples, opt.samples_path);
        if (rc < 0) {
            fprintf(stderr, "loadgen: cannot write %s: %s\n", opt.samples_path, strerror(-rc));
            reported = true;
            goto out;
        }
        size_t kept = atomic_load(&samples.next);
        if (kept > samples.cap)
            fprintf(stderr, "loadgen: --samples-max %zu reached, %zu attempts not sampled\n",
                    samples.cap, kept - samples.cap);
    }
out:
    if (rc < 0 && !reported)
        fprintf(stderr, "loadgen: %s\n", strerror(-rc));
    samples_free(&samples);
    free(run.request);
    free(total);
    free(threads);
    return rc < 0 ? 1 : 0;
}
