/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's configuration: baton.yaml, then baton.<env>.yaml beside it, then
 * BATON_<SECTION>_<KEY> environment variables, then --set key=value; later layers win.
 * Every value remembers where it came from, for `baton config` and for error messages.
 */
#ifndef BATON_CONFIG_CONFIG_H
#define BATON_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/address.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/signal.h" /* app.stop_signal and app.reload_signal are numbers */

enum baton_strategy {
    BATON_STRATEGY_ROLLING,
    BATON_STRATEGY_BLUE_GREEN,
};

enum baton_ready_mode {
    BATON_READY_NOTIFY,
    BATON_READY_DELAY,
};

struct baton_listen_config {
    char *name;                   /* "http"; LISTEN_FDNAMES entry */
    char *text;                   /* as written: "127.0.0.1:8080", "unix:/run/x.sock" */
    struct baton_address address; /* parsed (unix paths made absolute against config dir) */
};

struct baton_config {
    char *path; /* absolute path of the main file; NULL for `baton run --listen ... -- CMD` */
    char *dir;  /* base of relative paths: the file's directory, or the cwd without a file */
    char *name; /* default: the config directory's basename, or the command's basename */

    struct baton_listen_config *listen; /* in fd order: fd 3 is listen[0] */
    size_t n_listen;

    struct {
        char **command; /* argv, NULL-terminated; never run through a shell */
        size_t n_command;
        char *dir;  /* absolute working directory of the workers */
        char **env; /* "KEY=VALUE" added to the workers' environment, NULL-terminated */
        size_t n_env;
        unsigned workers;             /* default 1 */
        enum baton_strategy strategy; /* default rolling */
        unsigned max_surge;           /* default 1 */
        enum baton_ready_mode ready;  /* default notify */
        uint64_t ready_delay_ms;      /* for BATON_READY_DELAY */
        uint64_t ready_timeout_ms;    /* default 30s */
        int stop_signal;              /* default SIGTERM */
        int reload_signal;            /* default SIGHUP */
        uint64_t drain_timeout_ms;    /* default 30s */
        unsigned max_draining;        /* default 2 */
        char *user;                   /* NULL: don't switch */
        uint64_t probation_ms;        /* app.probation: a reload's probation, 0: off */
        struct {
            char *path;           /* app.probe.path: "/healthz"; NULL: no probe (the default) */
            uint64_t timeout_ms;  /* app.probe.timeout, default 2s */
            uint64_t interval_ms; /* app.probe.interval: during probation, default 5s */
            unsigned expect;      /* app.probe.expect: the status that passes, default 200 */
        } probe;
        uint64_t restart_initial_ms; /* app.restart.initial, default 100ms */
        uint64_t restart_max_ms;     /* app.restart.max, default 30s */
    } app;

    struct {
        uint64_t defer_accept_ms; /* tcp.defer_accept: TCP_DEFER_ACCEPT on the TCP listeners
                                     (whole seconds, 0: off), default 1s */
    } tcp;

    struct {
        char *socket; /* absolute; default <dir>/baton.sock */
        char *group;  /* NULL: mode 0600 */
        bool watch;   /* control.watch: reload when the configuration files change (default on) */
    } control;

    struct {
        char *listen; /* NULL: no metrics endpoint */
    } metrics;

    struct {
        enum baton_log_format format;
        bool format_set; /* false: text on a terminal, json otherwise */
        enum baton_log_level level;
    } log;

    struct {
        char *root;
        unsigned keep;
        char *trust;
        uint64_t probation_ms;
        unsigned probation_requests;   /* default 200; 0: time only */
        uint64_t probation_timeout_ms; /* default 5m */
        double max_error_rate;         /* 5xx share, default 0.01 */
        uint64_t max_size;             /* extraction limit, default 1 GiB */
        char *source_url;
        uint64_t source_interval_ms;
    } release;

    struct {
        unsigned workers;
        uint64_t duration_ms;
        double max_error_rate;
        unsigned min_requests;
    } canary;

    /* Opaque to callers: each effective value with its origin, for baton__config_print(). */
    struct baton_config_origin *origins;
    size_t n_origins;
};

/* Where the layers come from. */
struct baton_config_options {
    const char *path;     /* the main file; NULL with `listen`/`command` below (no-config form) */
    const char *env_name; /* --env NAME; NULL: BATON_ENV from `environ`, if set */
    char *const *sets;    /* "key=value" from --set, in order */
    size_t n_sets;
    char *const *environ; /* environment to read BATON_* from; NULL: the process environment */

    /* The no-config form: `baton run --listen ADDR... [--workers N] [--ready MODE] -- CMD`. */
    char *const *listen; /* addresses; named "http", "http2", "http3", ... */
    size_t n_listen;
    char *const *command;
    size_t n_command;
};

/*
 * Loads, merges and validates the configuration. On success stores a new config in *ret and
 * returns 0. On failure returns -EINVAL (or -errno for I/O) and writes one message per problem
 * to `err`, each "FILE:LINE:COLUMN: what is wrong" (or "environment BATON_APP_WORKERS: ...",
 * "--set app.workers=x: ..."), one per line.
 */
int baton__config_load(const struct baton_config_options *options, struct baton_config **ret,
                       struct baton_buf *err);

/*
 * The control socket's path as baton__config_load() would find it, for commands that only talk
 * to a running supervisor: errors elsewhere in the configuration do not stop it. Returns 0 with
 * a valid configuration; -EINVAL when it has errors (written to err as by baton__config_load)
 * and *ret_socket is still set (to control.socket when that value is valid, else to its
 * default beside the file) unless the file's name itself is unusable; another -errno (nothing
 * stored) when a file cannot be read.
 * options->path is required. Caller frees *ret_socket.
 */
int baton__config_control_socket(const struct baton_config_options *options, char **ret_socket,
                                 struct baton_buf *err);

/* Frees a config from baton__config_load(). NULL is fine. */
void baton__config_free(struct baton_config *config);

/*
 * Writes the merged configuration: as YAML with a comment after each value naming its origin
 * ("# baton.yaml:12:3", "# BATON_APP_WORKERS", "# --set", "# default"), or with json=true as one
 * JSON object {"config": {...}, "origins": {"app.workers": "baton.yaml:12:3", ...}}.
 */
int baton__config_print(const struct baton_config *config, struct baton_buf *out, bool json);

#endif
