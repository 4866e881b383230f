/* SPDX-License-Identifier: MIT */
/*
 * baton-web: the HTTP/1.1 server for C handler modules.
 *
 *   baton-web [--listen ADDR]... [--module FILE]... [--static DIR] [--config FILE] [--dev]
 *             [--access-log] [limits and timeouts]
 *
 * Under baton (or systemd) it serves on the inherited listeners (LISTEN_FDS); alone it binds
 * --listen. It reports READY=1 once serving, drains on SIGTERM (STOPPING=1), and reloads its
 * configuration and modules in place on SIGHUP (RELOADING=1 ... READY=1).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "baton/module.h"
#include "common/duration.h"
#include "common/log.h"
#include "web/web.h"
#include "web/app.h"

static void usage(FILE *f)
{
    fprintf(
        f, "usage: baton-web [--listen ADDR]... [--module FILE]... [--static DIR]\n"
           "                 [--config FILE] [--dev] [--access-log]\n"
           "\n"
           "  --listen ADDR           bind ADDR (host:port, [v6]:port, :port, unix:/path) when no\n"
           "                          listener is inherited (LISTEN_FDS)\n"
           "  --module FILE           load a handler module (repeatable)\n"
           "  --static DIR            serve files from DIR for GET/HEAD no route matches\n"
           "  --config FILE           read settings from a YAML file (flags win)\n"
           "  --dev                   reload modules when their files change\n"
           "  --access-log            write one JSON line per request to stdout\n"
           "  --max-connections N     per worker (16384)\n"
           "  --max-header-bytes N    request line + headers (8192): 431\n"
           "  --max-headers N         header fields (100): 431\n"
           "  --max-uri N             request target (4096): 414\n"
           "  --max-body N            request body bytes (1048576): 413\n"
           "  --header-timeout DUR    whole header section (10s): 408\n"
           "  --body-timeout DUR      between body reads (30s): 408\n"
           "  --keepalive-timeout DUR idle keep-alive connection (30s)\n"
           "  --send-timeout DUR      client not reading (30s)\n"
           "  --drain-grace DUR       quiet time before an idle connection closes at drain "
           "(1s)\n"
           "  --drain-timeout DUR     at drain, close everything after (30s)\n"
           "  --backend auto|io_uring|epoll  connection I/O (auto; env BATON_WEB_BACKEND)\n"
           "  --log-format text|json  --log-level LEVEL\n"
           "  --version, --help\n");
}

enum {
    OPT_ACCESS_LOG = 256,
    OPT_MAX_CONN,
    OPT_MAX_HEADER_BYTES,
    OPT_MAX_HEADERS,
    OPT_MAX_URI,
    OPT_MAX_BODY,
    OPT_HEADER_TIMEOUT,
    OPT_BODY_TIMEOUT,
    OPT_KEEPALIVE_TIMEOUT,
    OPT_SEND_TIMEOUT,
    OPT_DRAIN_GRACE,
    OPT_DRAIN_TIMEOUT,
    OPT_LOG_FORMAT,
    OPT_LOG_LEVEL,
    OPT_VERSION,
    OPT_BACKEND,
};

static const struct option long_options[] = {
    {"listen", required_argument, NULL, 'l'},
    {"module", required_argument, NULL, 'm'},
    {"static", required_argument, NULL, 's'},
    {"config", required_argument, NULL, 'c'},
    {"dev", no_argument, NULL, 'd'},
    {"help", no_argument, NULL, 'h'},
    {"access-log", no_argument, NULL, OPT_ACCESS_LOG},
    {"max-connections", required_argument, NULL, OPT_MAX_CONN},
    {"max-header-bytes", required_argument, NULL, OPT_MAX_HEADER_BYTES},
    {"max-headers", required_argument, NULL, OPT_MAX_HEADERS},
    {"max-uri", required_argument, NULL, OPT_MAX_URI},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT},
    {"body-timeout", required_argument, NULL, OPT_BODY_TIMEOUT},
    {"keepalive-timeout", required_argument, NULL, OPT_KEEPALIVE_TIMEOUT},
    {"send-timeout", required_argument, NULL, OPT_SEND_TIMEOUT},
    {"drain-grace", required_argument, NULL, OPT_DRAIN_GRACE},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"version", no_argument, NULL, OPT_VERSION},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {NULL, 0, NULL, 0},
};

static int parse_number(const char *opt, const char *s, uint64_t max, uint64_t *ret)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (!*s || *s == '-' || errno || *end || n > max) {
        fprintf(stderr, "baton-web: --%s: expected a number up to %llu, got '%s'\n", opt,
                (unsigned long long)max, s);
        return -EINVAL;
    }
    *ret = n;
    return 0;
}

static int parse_ms(const char *opt, const char *s, uint32_t *ret)
{
    uint64_t ms;
    if (baton__duration_parse(s, &ms) < 0 || ms > UINT32_MAX) {
        fprintf(stderr, "baton-web: --%s: expected a duration like 250ms, 30s, 5m, got '%s'\n", opt,
                s);
        return -EINVAL;
    }
    *ret = (uint32_t)ms;
    return 0;
}

/* Parses argv into o (after the config file, so flags win). Returns 0, 1 (exit 0) or -EINVAL. */
static int parse_args(int argc, char **argv, struct baton__web_options *o, bool config_pass,
                      enum baton_log_format *fmt, enum baton_log_level *level)
{
    int ch;
    uint64_t n;
    optind = 0; /* glibc: full reset, the second pass starts over */
    while ((ch = getopt_long(argc, argv, "l:m:s:c:dh", long_options, NULL)) != -1) {
        if (config_pass) {
            if (ch == 'c') {
                free(o->config_file);
                o->config_file = strdup(optarg);
            } else if (ch == 'h') {
                usage(stdout);
                return 1;
            } else if (ch == OPT_VERSION) {
                printf("baton-web %s (module ABI %d)\n", BATON_VERSION, BATON_MODULE_ABI);
                return 1;
            } else if (ch == '?') {
                usage(stderr);
                return -EINVAL;
            }
            continue;
        }
        switch (ch) {
        case 'l':
            if (o->nlisten >= BATON__WEB_MAX_LISTEN)
                return -EINVAL;
            o->listen[o->nlisten++] = strdup(optarg);
            break;
        case 'm':
            if (o->nmodules >= BATON__WEB_MAX_MODULES)
                return -EINVAL;
            o->modules[o->nmodules].config = NULL;
            o->modules[o->nmodules++].path = strdup(optarg);
            break;
        case 's':
            free(o->static_root);
            o->static_root = strdup(optarg);
            break;
        case 'd':
            o->dev = true;
            break;
        case OPT_ACCESS_LOG:
            o->access_log = true;
            break;
        case OPT_MAX_CONN:
            if (parse_number("max-connections", optarg, 1 << 24, &n) < 0)
                return -EINVAL;
            o->server.max_connections = (unsigned)n;
            break;
        case OPT_MAX_HEADER_BYTES:
            if (parse_number("max-header-bytes", optarg, 1 << 20, &n) < 0)
                return -EINVAL;
            o->server.limits.header_bytes = n;
            break;
        case OPT_MAX_HEADERS:
            if (parse_number("max-headers", optarg, 10000, &n) < 0)
                return -EINVAL;
            o->server.limits.header_count = (unsigned)n;
            break;
        case OPT_MAX_URI:
            if (parse_number("max-uri", optarg, 1 << 20, &n) < 0)
                return -EINVAL;
            o->server.limits.uri_bytes = n;
            break;
        case OPT_MAX_BODY:
            if (parse_number("max-body", optarg, 1ull << 40, &n) < 0)
                return -EINVAL;
            o->server.limits.body_bytes = n;
            break;
        case OPT_HEADER_TIMEOUT:
            if (parse_ms("header-timeout", optarg, &o->server.header_timeout_ms) < 0)
                return -EINVAL;
            break;
        case OPT_BODY_TIMEOUT:
            if (parse_ms("body-timeout", optarg, &o->server.body_timeout_ms) < 0)
                return -EINVAL;
            break;
        case OPT_KEEPALIVE_TIMEOUT:
            if (parse_ms("keepalive-timeout", optarg, &o->server.keepalive_timeout_ms) < 0)
                return -EINVAL;
            break;
        case OPT_SEND_TIMEOUT:
            if (parse_ms("send-timeout", optarg, &o->server.send_timeout_ms) < 0)
                return -EINVAL;
            break;
        case OPT_DRAIN_GRACE:
            if (parse_ms("drain-grace", optarg, &o->server.drain_grace_ms) < 0)
                return -EINVAL;
            break;
        case OPT_DRAIN_TIMEOUT:
            if (parse_ms("drain-timeout", optarg, &o->server.drain_timeout_ms) < 0)
                return -EINVAL;
            break;
        case OPT_BACKEND:
            if (baton__web_backend_parse(optarg, &o->backend) < 0) {
                fprintf(stderr, "baton-web: --backend: expected auto, io_uring or epoll\n");
                return -EINVAL;
            }
            break;
        case OPT_LOG_FORMAT:
            if (baton__log_format_parse(optarg, fmt) < 0) {
                fprintf(stderr, "baton-web: --log-format: expected text or json\n");
                return -EINVAL;
            }
            break;
        case OPT_LOG_LEVEL:
            if (baton__log_level_parse(optarg, level) < 0) {
                fprintf(stderr, "baton-web: --log-level: unknown level '%s'\n", optarg);
                return -EINVAL;
            }
            break;
        default:
            break;
        }
    }
    if (!config_pass && optind < argc) {
        fprintf(stderr, "baton-web: unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    return 0;
}

/* Each line of a configuration error, as a log line or on stderr. */
static void config_errors(const struct baton_buf *err, bool log)
{
    const char *p = err->data ? err->data : "";

    while (*p) {
        size_t n = strcspn(p, "\n");
        if (n > 0 && log)
            baton__log(BATON_LOG_ERROR, "reload: %.*s", (int)n, p);
        else if (n > 0)
            fprintf(stderr, "baton-web: %.*s\n", (int)n, p);
        p += n + (p[n] == '\n');
    }
}

int baton__web_options_reload(int argc, char **argv, struct baton__web_options *o)
{
    enum baton_log_format fmt;
    enum baton_log_level level;
    struct baton_buf err = BATON_BUF_INIT(64 * 1024);
    *o = (struct baton__web_options){.server = BATON__SERVER_CONFIG_DEFAULT};
    int r = parse_args(argc, argv, o, true, &fmt, &level);
    if (r == 0 && o->config_file && baton__web_config_load(o->config_file, o, &err) < 0) {
        config_errors(&err, true);
        r = -EINVAL;
    }
    baton__buf_free(&err);
    if (r == 0)
        r = parse_args(argc, argv, o, false, &fmt, &level);
    if (r != 0) {
        baton__web_options_free(o);
        return -EINVAL;
    }
    return 0;
}

/* Text on a terminal. Under a supervisor (baton, or systemd with its journal) stderr goes to a
 * reader that adds the time, generation and pid itself: the level and the message alone. JSON
 * lines otherwise. */
static enum baton_log_format default_log_format(void)
{
    if (isatty(STDERR_FILENO))
        return BATON_LOG_TEXT;
    if (getenv("NOTIFY_SOCKET") || getenv("JOURNAL_STREAM"))
        return BATON_LOG_SUPERVISED;
    return BATON_LOG_JSON;
}

int main(int argc, char **argv)
{
    struct baton__web_options opts = {.server = BATON__SERVER_CONFIG_DEFAULT};
    enum baton_log_format fmt = default_log_format();
    enum baton_log_level level = BATON_LOG_INFO;
    struct baton_buf err = BATON_BUF_INIT(64 * 1024);
    int status = 2;

    int r = parse_args(argc, argv, &opts, true, &fmt, &level);
    if (r != 0) {
        baton__web_options_free(&opts);
        return r > 0 ? 0 : 2;
    }
    if (opts.config_file && baton__web_config_load(opts.config_file, &opts, &err) < 0) {
        config_errors(&err, false);
        baton__buf_free(&err);
        baton__web_options_free(&opts);
        return 2;
    }
    baton__buf_free(&err);
    if (parse_args(argc, argv, &opts, false, &fmt, &level) != 0) {
        baton__web_options_free(&opts);
        return 2;
    }
    baton__log_setup("baton-web", fmt, level);
    status = baton__web_app_run(&opts, argc, argv);
    baton__web_options_free(&opts);
    return status;
}
