/* SPDX-License-Identifier: MIT */
/* loadgen: a closed-loop HTTP/1.1 load client that accounts for every request it sends.
 *
 * Each connection sends one request, waits for the whole response, then sends the next. Every
 * attempt ends in exactly one class (enum outcome), so `sent == ok + failed` always holds, and a
 * server that drops a request cannot hide behind a silent reconnect. */
#ifndef LOADGEN_H
#define LOADGEN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* How one attempt ended. The order is the sample file's class byte: keep it. */
enum outcome {
    OUTCOME_OK,          /* complete response, 2xx */
    OUTCOME_NON2XX,      /* complete response, any other status */
    OUTCOME_REFUSED,     /* connect() failed (ECONNREFUSED and friends) */
    OUTCOME_LOST_FRESH,  /* sent on a new connection, closed or reset before any response byte */
    OUTCOME_LOST_REUSED, /* the same on a keep-alive connection that had answered before */
    OUTCOME_PARTIAL,     /* some response bytes, then closed, reset or malformed */
    OUTCOME_TIMEOUT,     /* no complete response within --timeout */
    OUTCOME_COUNT
};

extern const char *const outcome_names[OUTCOME_COUNT];

/* ---- response.c: incremental HTTP/1.1 response framing ---- */

enum response_state {
    RESP_STATUS_LINE,
    RESP_HEADER_LINE,
    RESP_BODY_LENGTH,
    RESP_BODY_UNTIL_EOF,
    RESP_CHUNK_SIZE,
    RESP_CHUNK_DATA,
    RESP_CHUNK_DATA_END,
    RESP_TRAILER,
    RESP_DONE,
};

struct response {
    enum response_state state;
    int status;
    bool close;      /* the server will close after this response */
    bool chunked;    /* Transfer-Encoding: chunked */
    bool has_length; /* Content-Length seen */
    uint64_t length; /* Content-Length, then the body (or chunk) bytes still expected */
    uint64_t received;
    uint32_t header_bytes;
    uint16_t line_len;
    bool line_truncated;
    char line[256]; /* the current status, header or chunk-size line (prefix if longer) */
};

/* Resets r for a new response. */
void response_init(struct response *r);

/* Feeds n received bytes. Returns 1 when the response is complete (*ret_used tells how many bytes
 * belonged to it), 0 when more are needed, -EBADMSG when the bytes are not a valid response. */
int response_feed(struct response *r, const char *p, size_t n, size_t *ret_used);

/* The peer closed the connection: returns 1 when that completes the response (a body delimited
 * by the end of the connection), 0 otherwise. */
int response_eof(struct response *r);

/* ---- stats.c: counters, latency histogram, samples ---- */

/* Log-linear histogram of nanoseconds: 32 sub-buckets per power of two (about 3 % precision). */
#define HIST_SUB_BITS 6
#define HIST_BUCKETS  (64 + (64 - HIST_SUB_BITS) * 32)

struct stats {
    uint64_t outcomes[OUTCOME_COUNT];
    uint64_t latency[HIST_BUCKETS]; /* successful (2xx) responses only */
    uint64_t latency_count;
    uint64_t latency_max;
    uint64_t longest_gap_ns; /* see note_success() in client.c */
};

/* Adds one latency (ns) to the histogram. */
void stats_add_latency(struct stats *s, uint64_t ns);

/* Folds src into dst. */
void stats_merge(struct stats *dst, const struct stats *src);

/* The latency at quantile q (0 < q <= 1): the upper edge of its bucket, at most the maximum. */
uint64_t stats_quantile(const struct stats *s, double q);

/* One attempt as written to --samples: 24 bytes, little-endian "<QQB7x" in Python's struct. */
struct sample {
    uint64_t start_ns;   /* CLOCK_MONOTONIC when the attempt began (connect or write) */
    uint64_t latency_ns; /* until it ended, whatever the outcome */
    uint8_t outcome;     /* enum outcome */
    uint8_t pad[7];
};

/* The samples of one run: a capped array shared by all threads, filled without locks. */
struct samples {
    struct sample *records;
    size_t cap;
    _Atomic size_t next; /* may run past cap: the excess is counted as dropped */
};

/* Allocates room for cap samples (pages are touched only as they fill). Returns 0 or -ENOMEM. */
int samples_init(struct samples *s, size_t cap);
void samples_free(struct samples *s);

/* Records one attempt; beyond the cap it is only counted. Thread-safe. */
void samples_add(struct samples *s, uint64_t start_ns, uint64_t latency_ns, enum outcome o);

/* Writes the file: magic "LOADGEN1", u64 count, u64 dropped, then count records. Returns 0 or
 * -errno. */
int samples_write(const struct samples *s, const char *path);

/* ---- client.c: the event loop ---- */

struct options {
    const char *host;
    const char *port;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    const char *path;
    unsigned connections;
    unsigned threads;
    uint64_t duration_ns;
    uint64_t timeout_ns;
    bool close; /* Connection: close on every request */
    const char *json_path;
    const char *samples_path;
    size_t samples_max;
};

/* What the threads share. */
struct run {
    const struct options *opt;
    char *request; /* the request bytes, the same for every attempt */
    size_t request_len;
    uint64_t start_ns;
    _Atomic uint64_t end_ns; /* no attempt starts at or after this instant (SIGTERM: now) */
    _Atomic uint64_t last_success_ns;
    struct samples *samples; /* NULL without --samples */
};

/* Runs `count` connections on one epoll loop until the run ends and every attempt in flight has
 * finished (or timed out). Adds what happened to *stats (zeroed by the caller). Returns 0, or
 * -errno when the loop itself failed (epoll, memory); outcomes are never errors. */
int client_run(struct run *run, unsigned count, struct stats *stats);

/* CLOCK_MONOTONIC in nanoseconds: the clock of --samples and of Python's time.monotonic(). */
uint64_t now_ns(void);

#endif
