/* SPDX-License-Identifier: MIT */
/*
 * The io_uring backend's ring (uring.c): connection I/O by completions on the libuv loop.
 * docs/http-core.md, "The io_uring backend", has the design and the fallback rules.
 */
#ifndef BATON_HTTP_URING_H
#define BATON_HTTP_URING_H

#include <liburing.h>

struct baton__server;
struct baton__conn;
struct baton__uring;

/* Provided receive buffers: a receive takes at most one (a longer input arrives in pieces). */
#define BATON__URING_BUFS     64
#define BATON__URING_BUF_SIZE (16 * 1024)

/* What a connection's completion was (the low bits of its user_data). */
enum baton__uring_op {
    BATON__URING_RECV = 1,
    BATON__URING_SEND = 2,
    BATON__URING_POLLOUT = 3, /* writability during a file send */
};

/* Sets up the ring on s's loop: probes every operation needed and registers the buffer ring.
 * Returns 0 or -errno (-ENOSYS, -EPERM: io_uring unavailable; -EOPNOTSUPP: too old a kernel),
 * with nothing left behind. */
int baton__uring_new(struct baton__server *s, struct baton__uring **ret);
/* Why err (from baton__uring_new()) means io_uring cannot be used, for the log. */
const char *baton__uring_why(int err);
/* A submission entry, submitted at the end of the loop turn (or at once when the queue is full).
 * NULL only when the kernel refuses the submission. */
struct io_uring_sqe *baton__uring_sqe(struct baton__uring *u);
/* Names c and op as the operation's owner: its completion goes to baton__conn_uring_complete(). */
void baton__uring_prep(struct baton__uring *u, struct io_uring_sqe *sqe, struct baton__conn *c,
                       enum baton__uring_op op);
/* The provided buffer bid (lent by a receive completion), and giving it back. */
const char *baton__uring_buf(struct baton__uring *u, unsigned bid);
void baton__uring_buf_return(struct baton__uring *u, unsigned bid);
/* Submits what is queued now rather than at the end of the loop turn. */
void baton__uring_submit(struct baton__uring *u);
/* c is closed (its fd too) with nothing in flight: baton__conn_uring_closed(c) at the end of this
 * loop turn (as uv_close() calls back later, never from inside the caller). */
void baton__uring_reap(struct baton__uring *u, struct baton__conn *c);
/* The server closes: the loop handles go once the last operation in flight completed. */
void baton__uring_close(struct baton__uring *u);
/* After the loop's last run (NULL is fine). */
void baton__uring_free(struct baton__uring *u);

/* conn.c: a completion of c's operation (res and flags of the CQE). */
void baton__conn_uring_complete(struct baton__conn *c, enum baton__uring_op op, int res,
                                unsigned flags);
/* conn.c: c is closed and nothing of it is in flight: free it. */
void baton__conn_uring_closed(struct baton__conn *c);

#endif
