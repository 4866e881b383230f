/* SPDX-License-Identifier: MIT */
/*
 * libbaton: the application side of baton's protocols.
 *
 * The protocols are systemd's (socket activation and sd_notify), so a program using this
 * library works under baton, under plain systemd, and alone:
 *
 *   - listeners arrive as fds 3, 4, ... with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES;
 *   - readiness and status go to the datagram socket named by NOTIFY_SOCKET
 *     (a path, or an abstract socket written with a leading '@');
 *   - the stop signal (SIGTERM unless configured otherwise) asks the program to drain.
 *
 * Every function returns 0 (or a count) on success and a negative errno on failure.
 * Nothing here logs, allocates behind the caller's back after initialisation, or keeps
 * state the caller cannot see, except the drain flag of baton_drain_install().
 */
#ifndef BATON_BATON_H
#define BATON_BATON_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The project builds with -fvisibility=hidden: only what is marked here is exported. */
#ifndef BATON_EXTERN
#define BATON_EXTERN __attribute__((visibility("default")))
#endif

/* The first inherited listener: fds 3, 4, ... as in systemd's SD_LISTEN_FDS_START. */
#define BATON_LISTEN_FDS_START 3

/*
 * Returns the number of listeners passed to this process (fds BATON_LISTEN_FDS_START ...),
 * 0 when none were passed or LISTEN_PID names another process, or -errno (-EINVAL on a
 * malformed LISTEN_FDS or LISTEN_PID, -EBADF when an announced fd is not open). The fds are
 * marked close-on-exec. With unset_environment non-zero, LISTEN_FDS, LISTEN_PID and
 * LISTEN_FDNAMES are removed (whatever the result) so children do not inherit them; read the
 * names you need first.
 */
BATON_EXTERN int baton_listen_fds(int unset_environment);

/*
 * Returns the inherited listener named `name` in LISTEN_FDNAMES (e.g. "http"), -ENOENT when no
 * listener has that name, or -errno. Call after baton_listen_fds(0) or instead of it; it reads
 * the environment itself. Unnamed listeners are called "unknown", as systemd does.
 */
BATON_EXTERN int baton_listen_fd_by_name(const char *name);

/*
 * Copies the name of inherited listener `fd` into buf (NUL-terminated). Returns 0,
 * -ENOENT when fd is not an inherited listener, -ENOBUFS when buf is too small.
 */
BATON_EXTERN int baton_listen_fd_name(int fd, char *buf, size_t size);

/*
 * Sends one notify message (for example "READY=1\nSTATUS=serving") to NOTIFY_SOCKET.
 * Returns 1 when sent, 0 when NOTIFY_SOCKET is unset (not supervised: not an error),
 * or -errno (-ECONNREFUSED when nobody receives, -EAGAIN when the receiver's queue stayed
 * full for 2 seconds, -EAFNOSUPPORT for an address that is neither a path nor '@abstract').
 */
BATON_EXTERN int baton_notify(const char *state);

/* baton_notify() with a printf-style message; -EMSGSIZE beyond 4095 bytes. */
BATON_EXTERN int baton_notifyf(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* Shorthands: READY=1, STOPPING=1, and RELOADING=1 with MONOTONIC_USEC= as systemd requires. */
BATON_EXTERN int baton_notify_ready(void);
BATON_EXTERN int baton_notify_stopping(void);
BATON_EXTERN int baton_notify_reloading(void);

/* STATUS=<text>, printf-style; newlines in the text become spaces. */
BATON_EXTERN int baton_notify_status(const char *format, ...) __attribute__((format(printf, 1, 2)));

/*
 * The drain helper. Installs a handler for `signo` (0 means SIGTERM) that only records the
 * request and wakes the returned file descriptor: a non-blocking, close-on-exec fd that
 * becomes readable once the stop signal has arrived, for poll/epoll/libuv loops. Returns the
 * fd or -errno. Calling it again returns the same fd.
 */
BATON_EXTERN int baton_drain_install(int signo);

/* Returns 1 once the stop signal installed by baton_drain_install() has arrived, else 0. */
BATON_EXTERN int baton_drain_requested(void);

/* Returns the version of the library, "MAJOR.MINOR.PATCH". */
BATON_EXTERN const char *baton_version(void);

#ifdef __cplusplus
}
#endif

#endif /* BATON_BATON_H */
