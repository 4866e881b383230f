/* SPDX-License-Identifier: MIT */
/*
 * The io_uring backend's ring: set up and probed at start, its completions delivered on the
 * libuv loop, its submissions made once per loop turn.
 *
 * The loop stays libuv's: timers, signals, the listeners and the supervisor's protocol keep
 * running on it unchanged. The ring's own fd is watched by a uv_poll_t (it is readable while
 * completions wait), and every operation queued during a loop turn is submitted with one
 * io_uring_enter from a uv_prepare_t, right before the loop blocks. Connection I/O (receive,
 * send, waiting for writability during a file send, cancelling at close) goes through the
 * ring; conn.c owns what each completion means (baton__conn_uring_complete()).
 *
 * Receives select their buffer from a provided-buffer ring (Linux 5.19): an idle connection with
 * a receive armed holds no buffer; a completion lends one, which goes back to the ring as soon
 * as conn.c has parsed it (the parser copies what it keeps), as the shared read buffer does on
 * the epoll path.
 *
 * A connection's user_data is its address with the operation in the low bits (connections are
 * slab slots, 8-byte aligned: conn_new() asserts it); 0 marks operations nobody waits for
 * (cancels).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http/internal.h"
#include "http/uring.h"

#define RING_ENTRIES 1024
#define BUF_GROUP    0

struct baton__uring {
    struct io_uring ring;
    struct baton__server *server;
    struct io_uring_buf_ring *br;
    size_t br_size;
    char *bufs;
    uv_poll_t poll;           /* the ring's fd: completions wait */
    uv_prepare_t submit;      /* submits what the loop turn queued */
    struct baton__conn *reap; /* closed connections with nothing in flight, freed at the prepare */
    unsigned inflight;        /* operations naming a connection, not completed yet */
    bool closing;
    bool handles_closed;
};

static void on_ring(uv_poll_t *p, int status, int events);
static void on_submit(uv_prepare_t *p);

static void close_handles(struct baton__uring *u)
{
    if (u->handles_closed)
        return;
    u->handles_closed = true;
    uv_close((uv_handle_t *)&u->poll, NULL);
    uv_close((uv_handle_t *)&u->submit, NULL);
}

/* Every operation conn.c needs, with the kernel's answer to each. */
static int probe(struct io_uring *ring)
{
    static const int needed[] = {IORING_OP_RECV, IORING_OP_SEND, IORING_OP_POLL_ADD,
                                 IORING_OP_ASYNC_CANCEL};
    struct io_uring_probe *p = io_uring_get_probe_ring(ring);
    if (!p)
        return -EOPNOTSUPP; /* before Linux 5.6 */
    int r = 0;
    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
        if (!io_uring_opcode_supported(p, needed[i]))
            r = -EOPNOTSUPP;
    io_uring_free_probe(p);
    if (r == 0 && !(ring->features & IORING_FEAT_NODROP))
        r = -EOPNOTSUPP; /* a completion must never be dropped: before Linux 5.5 */
    return r;
}

static int buffers_init(struct baton__uring *u)
{
    u->br_size = BATON__URING_BUFS * sizeof(struct io_uring_buf);
    void *br = mmap(NULL, u->br_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (br == MAP_FAILED)
        return -errno;
    u->br = br;
    struct io_uring_buf_reg reg = {
        .ring_addr = (unsigned long)(uintptr_t)br,
        .ring_entries = BATON__URING_BUFS,
        .bgid = BUF_GROUP,
    };
    int r = io_uring_register_buf_ring(&u->ring, &reg, 0);
    if (r < 0)
        return r == -EINVAL ? -EOPNOTSUPP : r; /* before Linux 5.19 */
    /* Touched only when the kernel fills them: an unused buffer costs no memory. */
    u->bufs = mmap(NULL, (size_t)BATON__URING_BUFS * BATON__URING_BUF_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (u->bufs == MAP_FAILED) {
        u->bufs = NULL;
        return -errno;
    }
    io_uring_buf_ring_init(u->br);
    int mask = io_uring_buf_ring_mask(BATON__URING_BUFS);
    for (unsigned i = 0; i < BATON__URING_BUFS; i++)
        io_uring_buf_ring_add(u->br, u->bufs + (size_t)i * BATON__URING_BUF_SIZE,
                              BATON__URING_BUF_SIZE, (unsigned short)i, mask, (int)i);
    io_uring_buf_ring_advance(u->br, BATON__URING_BUFS);
    return 0;
}

static void ring_free(struct baton__uring *u, bool queued)
{
    if (queued)
        io_uring_queue_exit(&u->ring); /* also unregisters the buffer ring */
    if (u->bufs)
        munmap(u->bufs, (size_t)BATON__URING_BUFS * BATON__URING_BUF_SIZE);
    if (u->br)
        munmap(u->br, u->br_size);
    free(u);
}

int baton__uring_new(struct baton__server *s, struct baton__uring **ret)
{
    struct baton__uring *u = calloc(1, sizeof(*u));
    if (!u)
        return -ENOMEM;
    u->server = s;
    /* COOP_TASKRUN (Linux 5.19): a completion arriving while the worker runs waits for its next
     * system call instead of interrupting it; SINGLE_ISSUER (6.0): only this thread submits,
     * which spares the kernel its locking. A kernel without one refuses (EINVAL): the ring is
     * set up with what it has. */
    static const unsigned extra[] = {IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER,
                                     IORING_SETUP_COOP_TASKRUN, 0};
    int r = -EINVAL;
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]) && r == -EINVAL; i++) {
        struct io_uring_params params = {
            .flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | extra[i],
            .cq_entries = RING_ENTRIES * 8,
        };
        r = io_uring_queue_init_params(RING_ENTRIES, &u->ring, &params);
    }
    if (r < 0) {
        ring_free(u, false);
        return r;
    }
    if ((r = probe(&u->ring)) < 0 || (r = buffers_init(u)) < 0)
        goto fail;
    r = uv_poll_init(s->loop, &u->poll, u->ring.ring_fd);
    if (r < 0)
        goto fail;
    uv_prepare_init(s->loop, &u->submit);
    u->poll.data = u->submit.data = u;
    uv_poll_start(&u->poll, UV_READABLE, on_ring);
    uv_prepare_start(&u->submit, on_submit);
    *ret = u;
    return 0;
fail:
    ring_free(u, true);
    return r;
}

struct io_uring_sqe *baton__uring_sqe(struct baton__uring *u)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (!sqe) {
        io_uring_submit(&u->ring); /* the queue is full: send this turn's batch now */
        sqe = io_uring_get_sqe(&u->ring);
    }
    return sqe;
}

void baton__uring_prep(struct baton__uring *u, struct io_uring_sqe *sqe, struct baton__conn *c,
                       enum baton__uring_op op)
{
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | (uint64_t)op);
    u->inflight++;
}

const char *baton__uring_buf(struct baton__uring *u, unsigned bid)
{
    return u->bufs + (size_t)bid * BATON__URING_BUF_SIZE;
}

void baton__uring_buf_return(struct baton__uring *u, unsigned bid)
{
    io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * BATON__URING_BUF_SIZE,
                          BATON__URING_BUF_SIZE, (unsigned short)bid,
                          io_uring_buf_ring_mask(BATON__URING_BUFS), 0);
    io_uring_buf_ring_advance(u->br, 1);
}

void baton__uring_submit(struct baton__uring *u)
{
    io_uring_submit(&u->ring);
}

void baton__uring_reap(struct baton__uring *u, struct baton__conn *c)
{
    c->reap_next = u->reap;
    u->reap = c;
}

static void reap(struct baton__uring *u)
{
    struct baton__conn *c;
    while ((c = u->reap)) {
        u->reap = c->reap_next;
        baton__conn_uring_closed(c);
    }
}

/* Delivers every completion waiting. One at a time: a completion's work may queue (and, with
 * the submission queue full, submit) more. */
static void complete(struct baton__uring *u)
{
    struct io_uring_cqe *cqe;
    while (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
        uint64_t data = io_uring_cqe_get_data64(cqe);
        int res = cqe->res;
        unsigned flags = cqe->flags;
        io_uring_cqe_seen(&u->ring, cqe);
        if (!data)
            continue;
        u->inflight--;
        struct baton__conn *c = (struct baton__conn *)(uintptr_t)(data & ~(uint64_t)7);
        baton__conn_uring_complete(c, (enum baton__uring_op)(data & 7), res, flags);
    }
}

static void on_ring(uv_poll_t *p, int status, int events)
{
    struct baton__uring *u = p->data;
    complete(u);
}

/* Rounds of submitting and delivering what completed at once, per loop turn. */
#define SUBMIT_ROUNDS 4

static void on_submit(uv_prepare_t *p)
{
    struct baton__uring *u = p->data;
    reap(u);
    /* A send to a socket with room completes inside the submission, and a receive whose data
     * came in meanwhile completes there too: delivering those now rather than in a loop turn
     * of their own spares an epoll_wait and a turn per batch. Bounded, so that the rest of the
     * loop (accepts, timers) keeps its turn. */
    for (int i = 0; i < SUBMIT_ROUNDS && io_uring_sq_ready(&u->ring); i++) {
        io_uring_submit(&u->ring);
        complete(u);
        reap(u);
    }
    /* What the last round queued goes too: the loop may block next. */
    if (io_uring_sq_ready(&u->ring))
        io_uring_submit(&u->ring);
    if (u->closing && !u->inflight && !u->reap)
        close_handles(u);
}

void baton__uring_close(struct baton__uring *u)
{
    if (!u)
        return;
    /* Connections closed just now wait for their cancels: the handles go once they are in. */
    u->closing = true;
    if (!u->inflight && !u->reap)
        close_handles(u);
}

void baton__uring_free(struct baton__uring *u)
{
    if (!u)
        return;
    /* Normally nothing is left (baton__uring_close() waited); a loop stopped early may leave
     * cancels in flight, whose connections are freed here. */
    while (u->inflight || u->reap) {
        reap(u);
        if (!u->inflight)
            break;
        if (io_uring_submit_and_wait(&u->ring, 1) < 0)
            break;
        complete(u);
    }
    ring_free(u, true);
}

const char *baton__uring_why(int err)
{
    switch (err) {
    case -ENOSYS:
        return "the kernel has no io_uring (ENOSYS: older than Linux 5.1, or compiled out)";
    case -EPERM:
    case -EACCES: {
        FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "re");
        int v = 0;
        if (f) {
            if (fscanf(f, "%d", &v) != 1)
                v = 0;
            fclose(f);
        }
        if (v == 2)
            return "io_uring is disabled by sysctl kernel.io_uring_disabled=2 (EPERM)";
        if (v == 1)
            return "io_uring is restricted by sysctl kernel.io_uring_disabled=1 to the "
                   "kernel.io_uring_group (EPERM)";
        return "io_uring is refused (EPERM: a seccomp profile, such as Docker's default, "
               "blocks it)";
    }
    case -EOPNOTSUPP:
        return "the kernel lacks an io_uring feature baton-web needs (provided buffer rings: "
               "Linux 5.19)";
    case -ENOMEM:
        return "out of memory (or RLIMIT_MEMLOCK) setting up the ring (ENOMEM)";
    default:
        return strerror(-err);
    }
}
