/* SPDX-License-Identifier: MIT */
/*
 * The client side of the control socket (/work/control-protocol.md, DESIGN.md "Control
 * socket"): a UNIX stream connection carrying one JSON object per line each way, and the
 * parsing of the replies (with the common JSON reader, common/doc.h).
 */
#ifndef BATON_CLI_CONTROL_CLIENT_H
#define BATON_CLI_CONTROL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/doc.h"

/* Replies can be long (status of many workers, stderr lines) but never unbounded. */
#define BATON_CONTROL_MAX_REPLY (4u << 20)
/* Nor deep: a status reply nests four levels. */
#define BATON_CONTROL_MAX_REPLY_DEPTH 32

struct baton_control {
    int fd;
    const char *path;
    pid_t peer_pid; /* from SO_PEERCRED: the supervisor's pid, 0 when unknown */
    struct baton_buf in;
    size_t taken; /* bytes of `in` handed out by the last read_line, dropped by the next */
};

/*
 * Connects to the supervisor's control socket at `path` (kept, not copied). Paths longer than
 * sun_path are reached through /proc/self/fd. Returns 0, or -errno from connect(): -ENOENT and
 * -ECONNREFUSED mean no supervisor is there.
 */
int baton__control_connect(struct baton_control *c, const char *path);

/* Sends one request line (a JSON object without the newline). Returns 0 or -errno. */
int baton__control_send(struct baton_control *c, const char *json, size_t len);

/*
 * Reads the next line (without its newline) into *ret_line (valid until the next call),
 * waiting until `deadline_ms` (baton__clock_now_ms() time; 0 = no deadline). Returns 1 with a line,
 * 0 at end of stream, -ETIMEDOUT, -EMSGSIZE for a line past BATON_CONTROL_MAX_REPLY, or -errno.
 */
int baton__control_read_line(struct baton_control *c, uint64_t deadline_ms, char **ret_line,
                             size_t *ret_len);

/* Closes the connection; safe to call twice. */
void baton__control_close(struct baton_control *c);

/*
 * Parses one reply line, which must be a JSON object of at most BATON_CONTROL_MAX_REPLY bytes.
 * Returns 0 with the document in *ret (free it with baton__doc_free), or -errno with the reason
 * appended to err when not NULL (baton__doc_parse's, or "a reply must be a JSON object").
 */
int baton__reply_parse(const char *line, size_t len, struct baton_doc **ret, struct baton_buf *err);

#endif
