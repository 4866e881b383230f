/* SPDX-License-Identifier: MIT */
/*
 * The `baton` command line, parsed into one plain struct by a pure function (no I/O, no
 * globals, no exit), so that every rule of the contract in DESIGN.md can be unit-tested.
 */
#ifndef BATON_CLI_ARGS_H
#define BATON_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

enum baton_cli_command {
    BATON_CLI_USAGE, /* `baton` alone: usage on stderr, exit 2 */
    BATON_CLI_HELP,  /* `baton help [CMD]`, `baton --help`, `baton CMD --help` */
    BATON_CLI_RUN,
    BATON_CLI_RELOAD,
    BATON_CLI_STATUS,
    BATON_CLI_STOP,
    BATON_CLI_CONFIG, /* parsed by baton__cmd_config() itself */
    BATON_CLI_VERSION,
    BATON_CLI_DEPLOY,   /* deploy ARTIFACT */
    BATON_CLI_ROLLBACK, /* rollback [VERSION] */
    BATON_CLI_RELEASES,
    BATON_CLI_LOGS,
};

#define BATON_CLI_DEFAULT_CONFIG          "baton.yaml"
#define BATON_CLI_DEFAULT_STOP_TIMEOUT_MS UINT64_C(60000)

struct baton_cli_args {
    enum baton_cli_command command;
    enum baton_cli_command help_topic; /* for BATON_CLI_HELP: USAGE means the overview */

    /* Which supervisor: -s SOCKET (or BATON_SOCKET, resolved later) wins over -c FILE. */
    const char *config_path; /* -c; BATON_CLI_DEFAULT_CONFIG unless given */
    bool config_given;       /* -c appeared */
    const char *socket_path; /* -s; NULL unless given */

    /* run */
    const char *env_name; /* --env */
    char **sets;          /* "key=value", from --set, then --workers/--ready; owned */
    size_t n_sets;
    char **listen; /* --listen ADDR (no-config form); pointers into argv, array owned */
    size_t n_listen;
    char **command_argv; /* after "--": pointers into argv, array owned, NULL-terminated */
    size_t n_command;

    /* reload, status, stop */
    bool json;      /* --json */
    bool in_place;  /* reload --in-place */
    bool wait;      /* reload --wait */
    bool fast;      /* stop --fast */
    bool watch;     /* status --watch */
    bool follow;    /* logs --follow */
    unsigned lines; /* logs --lines N; 0: all kept */
    bool timeout_given;
    uint64_t timeout_ms; /* --timeout DUR; stop defaults to 60s */

    /* deploy, rollback */
    const char *positional; /* deploy's ARTIFACT, rollback's VERSION (NULL when none) */
    const char *version;    /* deploy --version */
    bool allow_downgrade, dry_run;

    /* config: the arguments after "baton", handed to baton__cmd_config() untouched */
    int sub_argc;
    char **sub_argv;
};

/*
 * Parses argv (argv[0] is the program) into *ret, which is always initialised and must be
 * released with baton__cli_args_free(), also on failure. Strings point into argv. Returns 0, or
 * -EINVAL with one line saying what is wrong in `err` (the caller prints it with the usage of
 * ret->command and exits 2).
 */
int baton__cli_parse(int argc, char **argv, struct baton_cli_args *ret, struct baton_buf *err);

/* Releases what baton__cli_parse() allocated. */
void baton__cli_args_free(struct baton_cli_args *args);

/* The name of a command as typed ("reload"), or NULL for USAGE/HELP. */
const char *baton__cli_command_name(enum baton_cli_command command);

#endif
