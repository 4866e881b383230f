/* SPDX-License-Identifier: MIT */
/* listener.c: live listener changes on real loopback sockets, with the generations' machine
 * driven by hand (fake processes): a reload's new address bound, an unchanged one kept (the same
 * fd), a renamed one renamed, a removed one held while a draining generation uses it and closed
 * after, a bind failure that changes nothing, and systemd's fd store following the current set
 * (FDSTORE=1 / FDSTOREREMOVE=1, read from a datagram socket standing in for systemd). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/xmalloc.h"
#include "supervisor/internal.h"

#include "fake-gens.h"

static char dir[] = "/tmp/test-listener-XXXXXX";

static const struct baton_gens_ops ops = {
    .spawn = fake_spawn,
    .kill = fake_kill,
    .progress = fake_progress,
    .done = fake_done,
    .release_worker = fake_release_worker,
    .release_generation = fake_release_generation,
    .probe = NULL, /* no app.probe here */
};

/* A loopback port nothing listens on now. */
static int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* A configuration whose listen: is `listen` (YAML lines), 1 worker. */
static struct baton_config *load(const char *listen)
{
    char path[256], text[1024];
    snprintf(path, sizeof(path), "%s/baton.yaml", dir);
    snprintf(text, sizeof(text), "listen:\n%sapp:\n  command: [x]\n  max_draining: 4\n", listen);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    struct baton_config_options o = {.path = path, .environ = (char *const[]){NULL}};
    struct baton_config *c = NULL;
    struct baton_buf err = BATON_BUF_INIT(65536);
    if (baton__config_load(&o, &c, &err) < 0)
        fail_msg("%s", err.data ? err.data : "?");
    baton__buf_free(&err);
    return c;
}

static void ready_all(struct baton_gens *gs)
{
    for (struct baton_generation *g = gs->list; g; g = g->next)
        for (struct baton_worker *w = g->workers; w; w = w->next)
            if (w->state == BATON_WORKER_STARTING)
                baton__gens_worker_ready(gs, w, 10);
}

/* Every draining worker exits: their generations are freed. */
static struct baton_worker *a_draining_worker(struct baton_gens *gs)
{
    for (struct baton_generation *g = gs->list; g; g = g->next)
        for (struct baton_worker *w = g->workers; w; w = w->next)
            if (w->state == BATON_WORKER_DRAINING)
                return w;
    return NULL;
}

static void drained(struct baton_gens *gs)
{
    /* One at a time: an exit frees the worker (and maybe its generation) under the walk. */
    for (struct baton_worker *w; (w = a_draining_worker(gs));)
        baton__gens_worker_exited(gs, w, 0, 20);
}

/* The next message "systemd" got: its text in buf, the fd it carried (or -1) returned. */
static int sd_recv(int sd, char *buf, size_t size)
{
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {buf, size - 1};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control,
                         .msg_controllen = sizeof(control)};
    ssize_t n = recvmsg(sd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    assert_true(n >= 0);
    buf[n] = '\0';
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    int fd = -1;
    if (c && c->cmsg_type == SCM_RIGHTS)
        memcpy(&fd, CMSG_DATA(c), sizeof(fd));
    return fd;
}

static void sd_none(int sd)
{
    char buf[64];
    assert_int_equal(recv(sd, buf, sizeof(buf), MSG_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);
}

/* The port a socket is bound to. */
static int port_of(int fd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    return ntohs(sa.sin_port);
}

static void test_listen_changes(void **state)
{
    struct baton_supervisor *sup = baton__xcalloc(1, sizeof(*sup));
    struct baton_gens *gs = &sup->gens;
    int a = free_port(), b = free_port();
    char la[32], lb[32], text[512], buf[1024], err[512];
    struct sockaddr_un su = {.sun_family = AF_UNIX};

    baton__gens_init(gs, &ops, sup);
    snprintf(su.sun_path, sizeof(su.sun_path), "%s/notify", dir);
    int sd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_int_equal(bind(sd, (struct sockaddr *)&su, sizeof(su)), 0);
    sup->sd_notify_socket = baton__xstrdup(su.sun_path);

    /* The start: one listener, stored under its name. */
    snprintf(la, sizeof(la), "127.0.0.1:%d", a);
    snprintf(lb, sizeof(lb), "127.0.0.1:%d", b);
    snprintf(text, sizeof(text), "  http: %s\n", la);
    struct baton_config *c1 = load(text);
    assert_int_equal(baton__listeners_open(sup, c1), 0);
    assert_int_equal(sup->n_listeners, 1);
    int fd_a = sup->listeners[0].fd;
    baton__listeners_store(sup);
    int got = sd_recv(sd, buf, sizeof(buf));
    assert_string_equal(buf, "FDSTORE=1\nFDNAME=http");
    assert_int_equal(port_of(got), a);
    close(got);
    baton__gens_reload(gs, c1, 0);
    ready_all(gs);
    baton__listeners_update(sup);
    sd_none(sd);

    /* A reload renames A and names a new address B with A's old name. */
    snprintf(text, sizeof(text), "  web: %s\n  http: %s\n", la, lb);
    struct baton_config *c2 = load(text);
    assert_int_equal(baton__listeners_prepare(sup, c2, 2, err, sizeof(err)), 1);
    assert_int_equal(sup->n_listeners, 2);
    assert_int_equal(sup->listeners[0].fd, fd_a); /* the very same socket */
    assert_false(sup->listeners[1].current);      /* not before its generation serves */
    /* No generation started on it (a reload refused as busy): gone at the next loop turn. */
    int fd_b = sup->listeners[1].fd;
    baton__listeners_update(sup);
    assert_int_equal(sup->n_listeners, 1);
    assert_int_equal(fcntl(fd_b, F_GETFD), -1);
    sd_none(sd);
    assert_int_equal(baton__listeners_prepare(sup, c2, 2, err, sizeof(err)), 1);
    fd_b = sup->listeners[1].fd;
    baton__gens_reload(gs, c2, 1);
    baton__listeners_update(sup); /* generation 1 serves still: nothing changes */
    sd_none(sd);
    ready_all(gs);
    assert_int_equal(gs->active->id, 2);
    baton__listeners_update(sup);
    assert_string_equal(baton__listener_find(sup, &gs->active->config->listen[0])->name, "web");
    assert_true(sup->listeners[0].current && sup->listeners[1].current);
    /* "http" removed (it named A), then both stored under their names now. */
    assert_int_equal(sd_recv(sd, buf, sizeof(buf)), -1);
    assert_string_equal(buf, "FDSTOREREMOVE=1\nFDNAME=http");
    got = sd_recv(sd, buf, sizeof(buf));
    assert_string_equal(buf, "FDSTORE=1\nFDNAME=web");
    assert_int_equal(port_of(got), a);
    close(got);
    got = sd_recv(sd, buf, sizeof(buf));
    assert_string_equal(buf, "FDSTORE=1\nFDNAME=http");
    assert_int_equal(port_of(got), b);
    close(got);
    sd_none(sd);
    struct baton_buf st = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    baton__listeners_status_json(sup, &st);
    snprintf(buf, sizeof(buf),
             "[{\"name\":\"web\",\"address\":\"%s\",\"fd\":3,\"state\":\"open\",\"systemd\":false,"
             "\"generations\":[1,2]},{\"name\":\"http\",\"address\":\"%s\",\"fd\":4,\"state\":"
             "\"open\",\"systemd\":false,\"generations\":[2]}]",
             la, lb);
    assert_string_equal(st.data, buf);
    baton__buf_free(&st);

    /* A reload drops A: held (not current, out of the store) while generations 1 and 2 drain. */
    snprintf(text, sizeof(text), "  http: %s\n", lb);
    struct baton_config *c3 = load(text);
    assert_int_equal(baton__listeners_prepare(sup, c3, 3, err, sizeof(err)), 0);
    baton__gens_reload(gs, c3, 2);
    ready_all(gs);
    baton__listeners_update(sup);
    assert_int_equal(sup->n_listeners, 2);
    assert_false(sup->listeners[0].current);
    assert_true(fcntl(fd_a, F_GETFD) >= 0);
    assert_int_equal(sd_recv(sd, buf, sizeof(buf)), -1);
    assert_string_equal(buf, "FDSTOREREMOVE=1\nFDNAME=web");
    sd_none(sd);
    st = (struct baton_buf)BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    baton__listeners_status_json(sup, &st);
    assert_non_null(
        strstr(st.data, "\"state\":\"closing\",\"systemd\":false,\"generations\":[1,2]"));
    baton__buf_free(&st);
    /* They drained: A is closed, B (the same socket all along) stays. */
    drained(gs);
    baton__listeners_update(sup);
    assert_int_equal(sup->n_listeners, 1);
    assert_int_equal(fcntl(fd_a, F_GETFD), -1);
    assert_int_equal(sup->listeners[0].fd, fd_b);
    sd_none(sd);

    /* An address in use: the reload fails, nothing is bound or changed. */
    int busy = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(busy, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(busy, 1), 0);
    int taken = port_of(busy), c = free_port();
    snprintf(text, sizeof(text), "  http: %s\n  more: 127.0.0.1:%d\n  admin: 127.0.0.1:%d\n", lb, c,
             taken);
    struct baton_config *c4 = load(text);
    assert_int_equal(baton__listeners_prepare(sup, c4, 4, err, sizeof(err)), -EADDRINUSE);
    snprintf(buf, sizeof(buf), "listen admin: 127.0.0.1:%d: Address already in use", taken);
    assert_string_equal(err, buf);
    assert_int_equal(sup->n_listeners, 1); /* `more`, bound before, is closed again */
    assert_int_equal(sup->listeners[0].fd, fd_b);
    baton__config_free(c4);
    close(busy);

    baton__gens_stop(gs, true, 30);
    baton__gens_free(gs);
    baton__listeners_close(sup);
    free(sup->sd_notify_socket);
    free(sup);
    close(sd);
    unlink(su.sun_path);
}

/* Port 0 (any free port) may repeat: such listeners are told apart by their names, so a reload
 * keeps each one's own socket. */
static void test_any_port_listeners_keep_their_own(void **state)
{
    struct baton_supervisor *sup = baton__xcalloc(1, sizeof(*sup));
    char err[256];
    baton__gens_init(&sup->gens, &ops, sup);
    struct baton_config *c = load("  one: 127.0.0.1:0\n  two: 127.0.0.1:0\n");
    assert_int_equal(baton__listeners_open(sup, c), 0);
    int fd1 = sup->listeners[0].fd, fd2 = sup->listeners[1].fd;
    assert_int_not_equal(port_of(fd1), port_of(fd2));
    struct baton_config *again = load("  two: 127.0.0.1:0\n  one: 127.0.0.1:0\n");
    assert_int_equal(baton__listeners_prepare(sup, again, 2, err, sizeof(err)), 0);
    assert_int_equal(baton__listener_find(sup, &again->listen[0])->fd, fd2);
    assert_int_equal(baton__listener_find(sup, &again->listen[1])->fd, fd1);
    /* A third name on port 0 is a socket of its own. */
    struct baton_config *more = load("  one: 127.0.0.1:0\n  three: 127.0.0.1:0\n");
    assert_int_equal(baton__listeners_prepare(sup, more, 3, err, sizeof(err)), 1);
    assert_int_equal(sup->n_listeners, 3);
    baton__config_free(c);
    baton__config_free(again);
    baton__config_free(more);
    baton__gens_free(&sup->gens);
    baton__listeners_close(sup);
    free(sup);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_changes),
        cmocka_unit_test(test_any_port_listeners_keep_their_own),
    };
    if (!mkdtemp(dir))
        return 1;
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    char path[256];
    snprintf(path, sizeof(path), "%s/baton.yaml", dir);
    unlink(path);
    rmdir(dir);
    return r;
}
