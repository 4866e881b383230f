/* SPDX-License-Identifier: MIT */
/* What the unit tests of the `baton` command share: a fake supervisor in a child process (it
 * answers one control connection with a scripted reply) and the capture of stdout or stderr. */
#ifndef BATON_TEST_FAKE_SUPERVISOR_H
#define BATON_TEST_FAKE_SUPERVISOR_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

struct fake_supervisor {
    pid_t pid;
    int report; /* the request line the child received comes back on this pipe */
    char dir[64];
    char path[PATH_MAX];
};

/* Starts the child in a new temporary directory: it listens on <dir>/baton.sock (so that
 * SO_PEERCRED names it), accepts one connection, reads the request line, writes `script`,
 * then closes and exits. Returns once the socket is listening. */
void fake_supervisor_start(struct fake_supervisor *f, const char *script);

/* Waits for the child to exit and removes its directory; returns the request line it got
 * (without the newline; free it). */
char *fake_supervisor_finish(struct fake_supervisor *f);

/* One command run against a fake supervisor answering `reply`: `args` with socket_path set to
 * the fake's socket. Returns its exit code, stdout, stderr and the request line it sent. */
struct baton_cli_args;
struct fake_run {
    int code;
    pid_t supervisor_pid;
    char *out, *err, *request;
};
struct fake_run fake_supervisor_run(int (*command)(const struct baton_cli_args *),
                                    struct baton_cli_args args, const char *reply);
void fake_run_free(struct fake_run *r);

/* Sends fd (STDOUT_FILENO or STDERR_FILENO) to a temporary file until capture_end(), which
 * restores it and returns what was written (free it). One capture at a time per fd. */
struct capture {
    int fd, saved;
    void *file;
};
void capture_begin(struct capture *c, int fd);
char *capture_end(struct capture *c);

#endif
