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

/* Sends fd (STDOUT_FILENO or STDERR_FILENO) to a temporary file until capture_end(), which
 * restores it and returns what was written (free it). One capture at a time per fd. */
struct capture {
    int fd, saved;
    void *file;
};
void capture_begin(struct capture *c, int fd);
char *capture_end(struct capture *c);

#endif
