/* SPDX-License-Identifier: MIT */
/*
 * readyapp's parts: the process (readyapp.c: options, listeners, signals, notify) and its
 * HTTP connections (readyapp-http.c).
 */
#ifndef BATON_TESTS_READYAPP_H
#define BATON_TESTS_READYAPP_H

#include <stddef.h>

#define MAX_CONNS   512
#define REQUEST_MAX 8192 /* a request head larger than this is answered with 431 */

struct conn {
    int fd;
    int close_after; /* close once out is flushed */
    int lingering;   /* write side shut down, waiting for the client's EOF */
    long long idle_since;
    long long linger_deadline;
    size_t len, out_len, out_sent;
    unsigned long long skip; /* body bytes of the current request still to discard */
    char in[REQUEST_MAX];
    char out[512];
};

/* The counters sent as BATON_STATS= (see docs/protocol.md). */
struct stats {
    unsigned long long requests, responses_2xx, responses_4xx, responses_5xx, errors, bytes_in,
        bytes_out;
};

extern struct conn conns[MAX_CONNS]; /* dense: conns[0 .. n_conns-1] are open */
extern int n_conns;
extern struct stats stats;
extern const char *http_body; /* the response body, without its final newline */
extern int http_status;       /* the status of every answer (200; --http-status) */

/* CLOCK_MONOTONIC in milliseconds. */
long long now_ms(void);

/* Accepts every connection waiting on the non-blocking listener lfd, up to MAX_CONNS. */
void http_accept(int lfd);

/*
 * Reads, answers and writes on c after poll() reported revents. When draining, the next
 * response says Connection: close. Returns -1 when c is finished and must be closed.
 */
int http_conn_io(struct conn *c, short revents, int draining);

/* Closes c and moves the last connection into its slot. */
void http_conn_close(struct conn *c);

/*
 * Closes connections whose lingering close timed out and, when draining, those idle for
 * grace_ms counted from the later of their last response and drain_start.
 */
void http_sweep(long long now, int draining, long long drain_start, long grace_ms);

#endif
