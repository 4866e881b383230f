/* SPDX-License-Identifier: MIT */
/*
 * libbaton internals shared between its files. Nothing here is installed or exported.
 */
#ifndef BATON_LIB_INTERNAL_H
#define BATON_LIB_INTERNAL_H

#include <stddef.h>

/* The longest listener name systemd accepts in LISTEN_FDNAMES (its FDNAME_MAX). */
#define BATON__FDNAME_MAX 255

/* The name systemd gives listeners that LISTEN_FDNAMES leaves unnamed. */
#define BATON__FDNAME_UNKNOWN "unknown"

/*
 * The largest notify message baton_notifyf() and baton_notify_status() format. Longer
 * messages are refused with -EMSGSIZE rather than truncated.
 */
#define BATON__NOTIFY_MAX 4096

/* The most fds one notify message carries (FDSTORE=1). */
#define BATON__NOTIFY_MAX_FDS 16

/*
 * baton_notify() to an explicit NOTIFY_SOCKET value `name` (NULL or empty: not supervised,
 * returns 0), with n_fds file descriptors passed along (SCM_RIGHTS, for FDSTORE=1; at most
 * BATON__NOTIFY_MAX_FDS). The same send timeout bounds how long a full receiver queue can hold
 * the caller. Returns 1 when sent, 0, or -errno (-EINVAL, -EBADF for a negative fd, and those
 * of baton_notify()). Internal: the supervisor uses it for its own messages to systemd.
 */
int baton__notify_send(const char *name, const char *state, const int *fds, size_t n_fds);

/*
 * baton_notify() that never waits: -EAGAIN when the receiver's queue is full (a supervisor
 * that is busy, or stopped reading). For messages a later one supersedes (baton-web's
 * BATON_STATS counters), which must never hold the event loop for the send timeout.
 */
int baton__notify_try(const char *state);

#endif /* BATON_LIB_INTERNAL_H */
