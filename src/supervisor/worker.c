/* SPDX-License-Identifier: MIT */
/*
 * A worker's output: its stdout and stderr are pipes the supervisor reads and logs line by
 * line, tagged with generation and pid. The last stderr lines are kept on the worker for the
 * verdict when it fails. Lines are bounded: a longer one is logged in pieces.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/internal.h"

#define LINE_MAX_BYTES 2048
/* Read at most this much per wakeup, so one chatty worker cannot starve the loop. */
#define READ_BUDGET 65536

struct stream {
    struct baton_worker_io *io;
    const char *name;
    int fd;
    bool polling;
    uv_poll_t poll;
    size_t len;
    char buf[LINE_MAX_BYTES];
};

struct baton_worker_io {
    struct baton_worker *w; /* NULL once released */
    long gen;
    pid_t pid;
    int closing; /* poll handles still to close */
    struct stream out, err;
};

/* Length of a syslog level prefix ("<6>", sd-daemon.h's SD_INFO) at the start of line, or 0.
 * Verdicts show what the worker said, not how it tagged it for a journal. */
static size_t level_prefix(const char *line, size_t len)
{
    return len >= 3 && line[0] == '<' && line[1] >= '0' && line[1] <= '7' && line[2] == '>' ? 3 : 0;
}

static void keep_tail(struct baton_worker *w, const char *line, size_t len)
{
    size_t skip = level_prefix(line, len);
    line += skip;
    len -= skip;
    w->tail_total++;
    if (len > BATON_STDERR_LINE_MAX)
        len = BATON_STDERR_LINE_MAX;
    char *copy = baton__xstrndup(line, len);
    if (w->tail_count < BATON_STDERR_TAIL) {
        w->stderr_tail[(w->tail_start + w->tail_count++) % BATON_STDERR_TAIL] = copy;
    } else {
        free(w->stderr_tail[w->tail_start]);
        w->stderr_tail[w->tail_start] = copy;
        w->tail_start = (w->tail_start + 1) % BATON_STDERR_TAIL;
    }
}

static void emit(struct stream *s, const char *line, size_t len)
{
    struct baton_worker_io *io = s->io;
    if (len && line[len - 1] == '\r')
        len--;
    baton__log_worker_line(io->gen, io->pid, s->name, line, len);
    if (io->w && s == &io->err)
        keep_tail(io->w, line, len);
}

/* Logs every complete line in the buffer; a full buffer without a newline goes out as is. */
static void split_lines(struct stream *s, bool flush_partial)
{
    size_t start = 0;
    for (;;) {
        char *nl = memchr(s->buf + start, '\n', s->len - start);
        if (!nl)
            break;
        emit(s, s->buf + start, (size_t)(nl - (s->buf + start)));
        start = (size_t)(nl - s->buf) + 1;
    }
    if (start < s->len && (flush_partial || (start == 0 && s->len == sizeof(s->buf)))) {
        emit(s, s->buf + start, s->len - start);
        start = s->len;
    }
    memmove(s->buf, s->buf + start, s->len - start);
    s->len -= start;
}

static void stream_stop(struct stream *s)
{
    if (s->polling) {
        uv_poll_stop(&s->poll);
        s->polling = false;
    }
}

/* Reads what the pipe holds now; returns false at EOF or error. */
static bool stream_read(struct stream *s)
{
    size_t budget = READ_BUDGET;
    while (budget > 0) {
        ssize_t n = read(s->fd, s->buf + s->len, sizeof(s->buf) - s->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n <= 0) {
            split_lines(s, true);
            return false;
        }
        s->len += (size_t)n;
        budget -= (size_t)n < budget ? (size_t)n : budget;
        split_lines(s, false);
    }
    return true;
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    struct stream *s = h->data;
    if (status < 0 || !stream_read(s))
        stream_stop(s);
}

static void stream_init(struct baton_supervisor *sup, struct baton_worker_io *io, struct stream *s,
                        const char *name, int fd)
{
    s->io = io;
    s->name = name;
    s->fd = fd;
    if (uv_poll_init(sup->loop, &s->poll, fd) < 0) {
        /* Without a watcher the pipe is still drained at exit by baton__worker_io_flush(). */
        s->poll.type = UV_UNKNOWN_HANDLE;
        return;
    }
    s->poll.data = s;
    s->polling = uv_poll_start(&s->poll, UV_READABLE, on_readable) == 0;
}

void baton__worker_io_start(struct baton_supervisor *sup, struct baton_worker *w, int out_fd,
                            int err_fd)
{
    struct baton_worker_io *io = baton__xcalloc(1, sizeof(*io));
    io->w = w;
    io->gen = w->gen->id;
    io->pid = w->pid;
    stream_init(sup, io, &io->out, "stdout", out_fd);
    stream_init(sup, io, &io->err, "stderr", err_fd);
    w->io = io;
}

void baton__worker_io_fds(const struct baton_worker *w, int *ret_out, int *ret_err)
{
    *ret_out = w->io ? w->io->out.fd : -1;
    *ret_err = w->io ? w->io->err.fd : -1;
}

void baton__worker_io_flush(struct baton_worker *w)
{
    struct baton_worker_io *io = w->io;
    if (!io)
        return;
    if (io->out.polling && !stream_read(&io->out))
        stream_stop(&io->out);
    if (io->err.polling && !stream_read(&io->err))
        stream_stop(&io->err);
}

static void on_closed(uv_handle_t *h)
{
    struct stream *s = h->data;
    struct baton_worker_io *io = s->io;
    if (--io->closing == 0)
        free(io);
}

static void stream_close(struct stream *s)
{
    split_lines(s, true);
    stream_stop(s);
    close(s->fd);
    s->fd = -1;
    if (s->poll.type == UV_POLL) {
        s->io->closing++;
        uv_close((uv_handle_t *)&s->poll, on_closed);
    }
}

void baton__worker_io_release(struct baton_worker *w)
{
    struct baton_worker_io *io = w->io;
    if (!io)
        return;
    w->io = NULL;
    io->w = NULL;
    io->closing = 1; /* held until both streams are closing */
    stream_close(&io->out);
    stream_close(&io->err);
    if (--io->closing == 0)
        free(io);
}
