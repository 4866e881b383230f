/* SPDX-License-Identifier: MIT */
/*
 * After a supervisor crash, without systemd: the workers of a supervisor killed by SIGKILL (or
 * an OOM kill, or a bug) live on as orphans and keep serving on the listening sockets they
 * inherited. A new `baton run` could not bind those addresses, and nobody would ever drain the
 * orphans. This file lets it take over instead:
 *
 *  - Every supervisor keeps a state file beside its control socket (state-file.c): its pid and
 *    start time, its listeners, and its workers' pids and start times by generation. It is
 *    written once per loop turn when the machine changed (gens.changes, bumped by
 *    generation.c's funnels), and removed on a clean stop.
 *  - A starting supervisor reads it. A previous supervisor still alive (pid and start time, or
 *    a control socket that answers) is never touched: refused. A dead one's workers are
 *    checked one by one (the pid's start time, LISTEN_PID and BATON_GENERATION in
 *    /proc/PID/environ) and, when they serve the same listeners as this configuration, their
 *    listening sockets are duplicated out of one of them with pidfd_getfd(2): the same open
 *    sockets with their accept queues, so no connection waiting in the kernel is lost.
 *    listener.c adopts them like systemd's.
 *  - The orphans go on serving until this supervisor's first generation is ready; then they get
 *    their generation's stop signal and, at its drain_timeout, SIGKILL to their process group,
 *    like any old generation. They are not our children (no SIGCHLD, no waitpid): their pidfds
 *    become readable when they exit.
 *
 * The orphans are not workers of the generation machine: they hold no slot, are never
 * restarted and are not rolled back to. They are recorded in the state file, so a crash of this
 * supervisor while they drain leaves them to the next one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/fd.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/internal.h"

/* The largest /proc/PID/environ read when checking an orphan. */
#define ENVIRON_MAX (1024 * 1024)

enum orphan_state {
    ORPHAN_SERVING,  /* until our first generation is ready */
    ORPHAN_DRAINING, /* stop signal sent; SIGKILL at deadline_ms */
    ORPHAN_KILLED,   /* SIGKILL sent */
    ORPHAN_EXITED,
};

struct baton_orphan {
    struct baton_takeover *rec;
    pid_t pid;
    unsigned long long start_time;
    long gen;
    int stop_signal;
    uint64_t drain_timeout_ms;
    bool group; /* leads its own process group (spawn.c's setpgid): signalled as a group */
    int err;    /* why it cannot be taken over (EACCES: not ours to inspect; ENOSYS), or 0 */
    int pidfd;  /* -1 once it exited */
    struct orphan_watch *watch; /* its pidfd watched by the loop */
    enum orphan_state state;
    uint64_t drain_ms, deadline_ms;
};

struct baton_takeover {
    struct baton_supervisor *sup;
    char *path; /* <control.socket>.state */
    bool owned; /* this supervisor holds the control socket: the file is ours */
    pid_t self;
    unsigned long long self_start;
    unsigned long written; /* gens.changes when last written */
    bool dirty;            /* the orphans changed, or nothing written yet */
    bool write_failed;     /* said once */
    pid_t old_pid;         /* the dead supervisor */
    struct baton_orphan *orphans;
    size_t n_orphans, live;
};

/* A pidfd in the loop: its own allocation, so that it can outlive the orphans' array while
 * libuv closes it. */
struct orphan_watch {
    uv_poll_t poll;
    int pidfd;
    struct baton_orphan *orphan; /* NULL once detached */
};

static const char *const orphan_states[] = {"serving", "draining", "draining", "exited"};

static struct baton_takeover *recovery(struct baton_supervisor *sup)
{
    if (!sup->recovery) {
        sup->recovery = baton__xcalloc(1, sizeof(*sup->recovery));
        sup->recovery->sup = sup;
    }
    return sup->recovery;
}

/* glibc 2.36 has no wrappers for these (Linux 5.3, 5.6). */
static int pidfd_open_(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_getfd_(int pidfd, int fd)
{
    return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0); /* always close-on-exec */
}

static int pidfd_send_signal_(int pidfd, int signo)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, signo, NULL, 0);
}

static bool denied_errno(int err)
{
    return err == EPERM || err == EACCES;
}

/* "1234 1240 1241" for the orphans. */
static void pid_list(const struct baton_takeover *rec, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < rec->n_orphans && used < size; i++) {
        int n =
            snprintf(buf + used, size - used, "%s%ld", used ? " " : "", (long)rec->orphans[i].pid);
        used += n > 0 ? (size_t)n : 0;
    }
}

void baton__recover_denied_message(char *buf, size_t size, pid_t old_pid, const char *listener,
                                   const pid_t *pids, size_t n, int err)
{
    char list[512];
    size_t used = 0;
    list[0] = '\0';
    for (size_t i = 0; i < n && used < sizeof(list); i++) {
        int k = snprintf(list + used, sizeof(list) - used, "%s%ld", i ? " " : "", (long)pids[i]);
        used += k > 0 ? (size_t)k : 0;
    }
    snprintf(buf, size,
             "the previous supervisor (pid %ld) died and its workers still serve %s (pids %s), "
             "but the kernel does not let this process take their listening sockets over "
             "(pidfd_getfd and /proc/PID/environ: %s): that needs ptrace access to them (the same "
             "user, and "
             "kernel.yama.ptrace_scope 0, or CAP_SYS_PTRACE; a process without all the workers' "
             "capabilities is refused too). Run baton run as the workers' user with that access, "
             "or stop them first (kill -TERM %s; they drain) and start again",
             (long)old_pid, listener, list, strerror(err), list);
}

/* 0 when /proc/pid/environ says the process is worker `pid` of generation gen (as spawn.c set
 * it up), -ENOENT when not, -errno when it cannot be read (-EACCES: not ours to inspect). */
static int check_environ(pid_t pid, long gen)
{
    char path[64], want_pid[48], want_gen[48];
    snprintf(path, sizeof(path), "/proc/%ld/environ", (long)pid);
    snprintf(want_pid, sizeof(want_pid), "LISTEN_PID=%ld", (long)pid);
    snprintf(want_gen, sizeof(want_gen), "BATON_GENERATION=%ld", gen);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -ESRCH : -errno;
    char *env = baton__xmalloc(ENVIRON_MAX + 1);
    ssize_t n = baton__fd_read_all(fd, env, ENVIRON_MAX);
    close(fd);
    if (n < 0) {
        free(env);
        return (int)n;
    }
    env[n] = '\0';
    /* The strings as execve(2) laid them out: an unsetenv() later does not change them. */
    bool has_pid = false, has_gen = false;
    for (char *p = env; p < env + n; p += strlen(p) + 1) {
        has_pid = has_pid || strcmp(p, want_pid) == 0;
        has_gen = has_gen || strcmp(p, want_gen) == 0;
    }
    free(env);
    return has_pid && has_gen ? 0 : -ENOENT;
}

/* Duplicates the orphan's listening socket on addr into *ret_fd: the fd the supervisor gave it
 * (3 + index) first, then any socket it holds (a program may have moved it: Go's
 * net.FileListener works on a duplicate and closes fd 3). 0, -ENOENT when it holds none,
 * -EPERM/-EACCES when the kernel refuses, another -errno from pidfd_getfd(2). */
static int take_listener(const struct baton_orphan *o, size_t index,
                         const struct baton_address *addr, int *ret_fd)
{
    int fd = pidfd_getfd_(o->pidfd, 3 + (int)index);
    if (fd < 0 && errno != EBADF) /* EBADF: not open there; EPERM, ENOSYS, ESRCH: give up */
        return -errno;
    if (fd >= 0 && baton__listener_is(fd, addr)) {
        *ret_fd = fd;
        return 0;
    }
    if (fd >= 0)
        close(fd);
    char path[64], link[64];
    snprintf(path, sizeof(path), "/proc/%ld/fd", (long)o->pid);
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? -ENOENT : -errno;
    int r = -ENOENT;
    struct dirent *e;
    while (r == -ENOENT && (e = readdir(d))) {
        char *end;
        long n = strtol(e->d_name, &end, 10);
        if (*end || end == e->d_name || n == 3 + (long)index)
            continue;
        ssize_t len = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);
        if (len < 0 || (link[len] = '\0', strncmp(link, "socket:", 7) != 0))
            continue;
        fd = pidfd_getfd_(o->pidfd, (int)n);
        if (fd < 0) {
            if (errno != EBADF)
                r = -errno;
            continue;
        }
        if (baton__listener_is(fd, addr)) {
            *ret_fd = fd;
            r = 0;
        } else {
            close(fd);
        }
    }
    closedir(d);
    return r;
}

static void drop_orphans(struct baton_takeover *rec)
{
    for (size_t i = 0; i < rec->n_orphans; i++) {
        if (rec->orphans[i].pidfd >= 0)
            close(rec->orphans[i].pidfd);
    }
    free(rec->orphans);
    rec->orphans = NULL;
    rec->n_orphans = rec->live = 0;
}

/* The dead supervisor's workers still alive, checked (sf's order), in rec->orphans. */
static void find_orphans(struct baton_takeover *rec, const struct baton_state_file *sf)
{
    uint64_t now = baton__clock_now_ms();
    rec->orphans = baton__xcalloc(sf->n_workers ? sf->n_workers : 1, sizeof(*rec->orphans));
    for (size_t i = 0; i < sf->n_workers; i++) {
        const struct baton_state_worker *w = &sf->workers[i];
        unsigned long long start;
        pid_t pgrp;
        /* The pidfd first: from then on the pid cannot name another process unnoticed. */
        int pidfd = pidfd_open_(w->pid);
        if (pidfd < 0 && errno == ESRCH)
            continue;
        int open_err = pidfd < 0 ? errno : 0; /* ENOSYS: a kernel before 5.3 */
        if (baton__proc_stat(w->pid, &start, &pgrp) < 0 || start != w->start_time) {
            baton__log(BATON_LOG_DEBUG, "pid %ld is gone or another process now", (long)w->pid);
            if (pidfd >= 0)
                close(pidfd);
            continue;
        }
        int r = check_environ(w->pid, w->gen);
        if (r < 0 && !denied_errno(-r)) {
            baton__log(BATON_LOG_INFO, "pid %ld is not worker %ld of generation %ld: left alone",
                       (long)w->pid, (long)w->pid, w->gen);
            if (pidfd >= 0)
                close(pidfd);
            continue;
        }
        struct baton_orphan *o = &rec->orphans[rec->n_orphans++];
        o->rec = rec;
        o->pid = w->pid;
        o->start_time = w->start_time;
        o->gen = w->gen;
        o->stop_signal = w->stop_signal;
        o->drain_timeout_ms = w->drain_timeout_ms;
        o->group = pgrp == w->pid;
        o->err = open_err ? open_err : r < 0 ? -r : 0;
        o->pidfd = pidfd;
        o->state = ORPHAN_SERVING;
        if (w->draining) {
            /* Its stop signal was sent: not again (a second one may mean "stop now"), but its
             * drain gets a whole drain_timeout from now (when it began is not known). */
            o->state = ORPHAN_DRAINING;
            o->drain_ms = now;
            o->deadline_ms = now + w->drain_timeout_ms;
            baton__log_at(BATON_LOG_INFO, w->gen, w->pid,
                          "the previous supervisor's worker was draining already: SIGKILL in "
                          "%llums",
                          (unsigned long long)w->drain_timeout_ms);
        }
    }
    rec->live = rec->n_orphans;
}

/* True when the state file's listeners are config's (names and addresses, in order). */
static bool same_listeners(const struct baton_state_file *sf, const struct baton_config *config,
                           char *theirs, size_t size)
{
    size_t used = 0;
    theirs[0] = '\0';
    for (size_t i = 0; i < sf->n_listeners && used < size; i++) {
        int n = snprintf(theirs + used, size - used, "%s%s %s", i ? ", " : "",
                         sf->listeners[i].name, sf->listeners[i].address);
        used += n > 0 ? (size_t)n : 0;
    }
    if (sf->n_listeners != config->n_listen)
        return false;
    for (size_t i = 0; i < config->n_listen; i++) {
        char addr[160];
        baton__address_format(&config->listen[i].address, addr, sizeof(addr));
        if (strcmp(sf->listeners[i].name, config->listen[i].name) != 0 ||
            strcmp(sf->listeners[i].address, addr) != 0)
            return false;
    }
    return true;
}

/* True when a live process other than the leader is in process group pgid. (kill(-pgid, 0)
 * cannot tell: the exited leader may still be a zombie in it, its new parent not having reaped
 * it yet.) */
static bool group_has_others(pid_t pgid)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    bool found = false;
    while (d && !found && (e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        unsigned long long start;
        pid_t pgrp;
        if (*end || end == e->d_name || pid == pgid)
            continue;
        found = baton__proc_stat((pid_t)pid, &start, &pgrp) == 0 && pgrp == pgid;
    }
    if (d)
        closedir(d);
    return found;
}

static void on_watch_closed(uv_handle_t *h)
{
    struct orphan_watch *w = h->data;
    close(w->pidfd);
    free(w);
}

/* Stops watching o; its pidfd is closed with the handle. */
static void unwatch(struct baton_orphan *o)
{
    struct orphan_watch *w = o->watch;
    if (!w)
        return;
    o->watch = NULL;
    o->pidfd = -1;
    w->orphan = NULL;
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t *)&w->poll, on_watch_closed);
}

/* The orphan's pidfd is readable: it exited. */
static void on_orphan_exit(uv_poll_t *h, int status, int events)
{
    struct orphan_watch *w = h->data;
    struct baton_orphan *o = w->orphan;
    if (!o || o->state == ORPHAN_EXITED)
        return;
    struct baton_takeover *rec = o->rec;
    uint64_t now = baton__clock_now_ms();
    if (o->state == ORPHAN_SERVING)
        baton__log_at(BATON_LOG_WARNING, o->gen, o->pid,
                      "worker of the previous supervisor exited before it was drained");
    else
        baton__log_at(BATON_LOG_INFO, o->gen, o->pid,
                      "worker of the previous supervisor has exited, %llums after SIG%s",
                      (unsigned long long)(now - o->drain_ms),
                      baton__signal_name(o->state == ORPHAN_KILLED ? SIGKILL : o->stop_signal));
    /* What it started goes with it, as reap() does for our own workers. */
    if (o->group && group_has_others(o->pid)) {
        baton__log_at(BATON_LOG_WARNING, o->gen, o->pid,
                      "it left processes behind in its process group: SIGKILL");
        kill(-o->pid, SIGKILL);
    }
    o->state = ORPHAN_EXITED;
    rec->live--;
    rec->dirty = true;
    unwatch(o);
    if (rec->live == 0)
        baton__log(BATON_LOG_NOTICE, "every worker of the previous supervisor (pid %ld) is gone",
                   (long)rec->old_pid);
}

/* True when something accepts connections on the control socket at path: a live supervisor,
 * whatever its state file says. */
static bool control_answers(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return false;
    memcpy(sa.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

int baton__recover_begin(struct baton_supervisor *sup, const struct baton_config *config)
{
    struct baton_takeover *rec = recovery(sup);
    struct baton_state_file sf = {0};
    int *fds = NULL;
    char theirs[512], pids[512], msg[2048];
    int r;

    free(rec->path);
    rec->path = baton__xasprintf("%s.state", config->control.socket);
    r = baton__state_file_read(rec->path, &sf);
    if (r == -ENOENT)
        return 0;
    if (r < 0) {
        baton__log(BATON_LOG_WARNING, "state file %s: %s: ignored", rec->path,
                   r == -EPROTONOSUPPORT ? "written by a newer baton" : strerror(-r));
        return 0;
    }
    unsigned long long start;
    if (baton__proc_stat(sf.pid, &start, NULL) == 0 && start == sf.start_time) {
        baton__log(BATON_LOG_ERROR,
                   "supervisor %ld is running with control socket %s: not starting another one",
                   (long)sf.pid, config->control.socket);
        r = -EEXIST;
        goto out;
    }
    if (control_answers(config->control.socket)) {
        /* Its pid is not the state file's (a supervisor without one, or a stranger): still a
         * live supervisor, and its workers are not orphans. */
        baton__log(BATON_LOG_ERROR,
                   "control socket %s: another supervisor is running there: not starting",
                   config->control.socket);
        r = -EEXIST;
        goto out;
    }
    rec->old_pid = sf.pid;
    find_orphans(rec, &sf);
    if (rec->n_orphans == 0) {
        baton__log(BATON_LOG_INFO,
                   "state file %s: supervisor %ld is gone and none of its workers is left",
                   rec->path, (long)sf.pid);
        r = 0;
        goto out;
    }
    pid_list(rec, pids, sizeof(pids));
    if (!same_listeners(&sf, config, theirs, sizeof(theirs))) {
        baton__log(BATON_LOG_WARNING,
                   "the previous supervisor (pid %ld) died; its workers (pids %s) still serve "
                   "other listeners (%s) than this configuration: not adopted, left alone "
                   "(stop them with kill -TERM %s)",
                   (long)sf.pid, pids, theirs, pids);
        drop_orphans(rec);
        r = 0;
        goto out;
    }
    fds = baton__xcalloc(config->n_listen ? config->n_listen : 1, sizeof(int));
    for (size_t i = 0; i < config->n_listen; i++)
        fds[i] = -1;
    r = 0;
    for (size_t k = 0; k < rec->n_orphans; k++)
        r = rec->orphans[k].err ? -rec->orphans[k].err : r;
    for (size_t i = 0; r == 0 && i < config->n_listen; i++) {
        int err = -ENOENT;
        for (size_t k = 0; k < rec->n_orphans && fds[i] < 0; k++) {
            int t = take_listener(&rec->orphans[k], i, &config->listen[i].address, &fds[i]);
            if (t < 0 && err == -ENOENT)
                err = t;
        }
        if (fds[i] < 0)
            r = err;
    }
    if (r < 0 && denied_errno(-r)) {
        pid_t list[64];
        size_t n = 0;
        for (size_t k = 0; k < rec->n_orphans && n < 64; k++)
            list[n++] = rec->orphans[k].pid;
        baton__recover_denied_message(msg, sizeof(msg), sf.pid, theirs, list, n, -r);
        baton__log(BATON_LOG_ERROR, "%s", msg);
        r = -EPERM;
        goto out;
    }
    if (r < 0) {
        baton__log(BATON_LOG_ERROR,
                   "the previous supervisor (pid %ld) died; its workers (pids %s) are alive but "
                   "their listening sockets on %s cannot be taken over (%s%s): stop them "
                   "(kill -TERM %s) and start again",
                   (long)sf.pid, pids, theirs, r == -ENOENT ? "not found in them" : "pidfd_getfd: ",
                   r == -ENOENT   ? ""
                   : r == -ENOSYS ? "needs Linux 5.6"
                                  : strerror(-r),
                   pids);
        goto out;
    }
    for (size_t i = 0; i < config->n_listen; i++) {
        baton__listeners_offer(sup, config->listen[i].name, fds[i]);
        fds[i] = -1;
    }
    long last = sf.last_id;
    for (size_t k = 0; k < rec->n_orphans; k++) {
        struct baton_orphan *o = &rec->orphans[k];
        last = o->gen > last ? o->gen : last;
        struct orphan_watch *w = baton__xcalloc(1, sizeof(*w));
        w->pidfd = o->pidfd;
        w->orphan = o;
        uv_poll_init(sup->loop, &w->poll, w->pidfd);
        w->poll.data = w;
        uv_poll_start(&w->poll, UV_READABLE, on_orphan_exit);
        o->watch = w;
    }
    /* Generation ids go on from the dead supervisor's: never reused. */
    if (last > sup->gens.last_id)
        sup->gens.last_id = last;
    baton__log(BATON_LOG_NOTICE,
               "the previous supervisor (pid %ld) died: took over its %zu listening socket%s from "
               "its workers (pids %s), which drain once generation %ld serves",
               (long)sf.pid, config->n_listen, config->n_listen == 1 ? "" : "s", pids,
               sup->gens.last_id + 1);
    r = 0;
out:
    if (fds) {
        for (size_t i = 0; i < config->n_listen; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        free(fds);
    }
    if (r < 0)
        drop_orphans(rec);
    baton__state_file_free(&sf);
    return r;
}

void baton__recover_own(struct baton_supervisor *sup, const char *control_path)
{
    struct baton_takeover *rec = recovery(sup);
    if (!rec->path)
        rec->path = baton__xasprintf("%s.state", control_path);
    rec->self = getpid();
    if (baton__proc_stat(rec->self, &rec->self_start, NULL) < 0)
        rec->self_start = 0;
    rec->owned = true;
    rec->dirty = true;
}

/* The state file's contents: this supervisor, its listeners, its workers and the orphans. */
static void describe(const struct baton_supervisor *sup, const struct baton_takeover *rec,
                     struct baton_state_file *sf)
{
    const struct baton_gens *gs = &sup->gens;
    size_t n = rec->live;
    for (const struct baton_generation *g = gs->list; g; g = g->next)
        for (const struct baton_worker *w = g->workers; w; w = w->next)
            n++;
    memset(sf, 0, sizeof(*sf));
    sf->pid = rec->self;
    sf->start_time = rec->self_start;
    sf->control = sup->control_path;
    for (const struct baton_generation *g = gs->list; g; g = g->next)
        sf->config = g->config && g->config->path ? g->config->path : sf->config;
    sf->last_id = gs->last_id;
    /* The current listeners (the serving generation's, in its order): those a next supervisor
     * takes over for the same configuration. */
    const struct baton_config *ref = gs->active ? gs->active->config : NULL;
    size_t most = ref && ref->n_listen > sup->n_listeners ? ref->n_listen : sup->n_listeners;
    sf->listeners = baton__xcalloc(most ? most : 1, sizeof(*sf->listeners));
    for (size_t i = 0; i < (ref ? ref->n_listen : sup->n_listeners); i++) {
        const struct baton_listener *l =
            ref ? baton__listener_find(sup, &ref->listen[i]) : &sup->listeners[i];
        char addr[160];
        if (!l || !l->current)
            continue;
        sf->listeners[sf->n_listeners].name = l->name;
        sf->listeners[sf->n_listeners++].address =
            baton__xstrdup(baton__address_format(&l->address, addr, sizeof(addr)));
    }
    sf->workers = baton__xcalloc(n ? n : 1, sizeof(*sf->workers));
    for (size_t i = 0; i < rec->n_orphans; i++) {
        const struct baton_orphan *o = &rec->orphans[i];
        if (o->state == ORPHAN_EXITED)
            continue;
        sf->workers[sf->n_workers++] = (struct baton_state_worker){
            .pid = o->pid,
            .start_time = o->start_time,
            .gen = o->gen,
            .stop_signal = o->stop_signal,
            .drain_timeout_ms = o->drain_timeout_ms,
            .draining = o->state != ORPHAN_SERVING,
        };
    }
    for (const struct baton_generation *g = gs->list; g; g = g->next) {
        for (const struct baton_worker *w = g->workers; w; w = w->next) {
            unsigned long long start;
            if (w->pid <= 0 || baton__proc_stat(w->pid, &start, NULL) < 0)
                continue; /* exited, not reaped yet: nothing to recover */
            sf->workers[sf->n_workers++] = (struct baton_state_worker){
                .pid = w->pid,
                .start_time = start,
                .gen = g->id,
                .stop_signal = g->config->app.stop_signal,
                .drain_timeout_ms = g->config->app.drain_timeout_ms,
                .draining = w->state == BATON_WORKER_DRAINING || w->state == BATON_WORKER_KILLED,
            };
        }
    }
}

static void write_state(struct baton_supervisor *sup, struct baton_takeover *rec)
{
    struct baton_state_file sf;
    describe(sup, rec, &sf);
    int r = baton__state_file_write(rec->path, &sf);
    for (size_t i = 0; i < sf.n_listeners; i++)
        free(sf.listeners[i].address);
    free(sf.listeners);
    free(sf.workers);
    if (r < 0 && !rec->write_failed)
        baton__log(BATON_LOG_WARNING,
                   "state file %s: %s: after a crash of this supervisor, the next one could not "
                   "take its workers over",
                   rec->path, strerror(-r));
    else if (r == 0 && rec->write_failed)
        baton__log(BATON_LOG_NOTICE, "state file %s: written again", rec->path);
    rec->write_failed = r < 0;
}

void baton__recover_save(struct baton_supervisor *sup)
{
    struct baton_takeover *rec = sup->recovery;
    if (!rec || !rec->owned || (!rec->dirty && rec->written == sup->gens.changes))
        return;
    write_state(sup, rec);
    rec->written = sup->gens.changes;
    rec->dirty = false;
}

/* Sends signo to the orphan, and to its process group while it leads one. */
static void signal_orphan(struct baton_orphan *o, int signo)
{
    /* The pidfd says whether it is still the same process; while it is, its group id cannot
     * have been reused. */
    if (o->pidfd < 0 || pidfd_send_signal_(o->pidfd, 0) < 0)
        return;
    baton__log_at(BATON_LOG_DEBUG, o->gen, o->pid, "sending SIG%s%s", baton__signal_name(signo),
                  o->group ? " to its process group" : "");
    if (o->group && kill(-o->pid, signo) == 0)
        return;
    if (pidfd_send_signal_(o->pidfd, signo) < 0 && errno != ESRCH)
        baton__log_at(BATON_LOG_ERROR, o->gen, o->pid, "kill SIG%s: %s", baton__signal_name(signo),
                      strerror(errno));
}

bool baton__recover_serves_dir(const struct baton_supervisor *sup, const char *dir)
{
    const struct baton_takeover *rec = sup->recovery;
    char link[64], cwd[PATH_MAX], want[PATH_MAX];
    if (!realpath(dir, want))
        return false;
    for (size_t i = 0; rec && i < rec->n_orphans; i++) {
        const struct baton_orphan *o = &rec->orphans[i];
        if (o->state != ORPHAN_SERVING || o->pidfd < 0)
            continue;
        snprintf(link, sizeof(link), "/proc/%ld/cwd", (long)o->pid);
        ssize_t n = readlink(link, cwd, sizeof(cwd) - 1);
        if (n <= 0)
            continue;
        cwd[n] = '\0';
        /* Still the process the pidfd names (its pid not reused since): its cwd is its own. */
        if (strcmp(cwd, want) == 0 && syscall(SYS_pidfd_send_signal, o->pidfd, 0, NULL, 0) == 0)
            return true;
    }
    return false;
}

void baton__recover_drain(struct baton_supervisor *sup, bool fast, uint64_t now)
{
    struct baton_takeover *rec = sup->recovery;
    for (size_t i = 0; rec && i < rec->n_orphans; i++) {
        struct baton_orphan *o = &rec->orphans[i];
        if (o->state == ORPHAN_EXITED || o->state == ORPHAN_KILLED)
            continue;
        if (fast || o->drain_timeout_ms == 0) {
            if (o->state == ORPHAN_SERVING)
                o->drain_ms = now;
            o->state = ORPHAN_KILLED;
            signal_orphan(o, SIGKILL);
        } else if (o->state == ORPHAN_SERVING) {
            baton__log_at(BATON_LOG_INFO, o->gen, o->pid,
                          "draining the previous supervisor's worker: SIG%s, SIGKILL in %llums",
                          baton__signal_name(o->stop_signal),
                          (unsigned long long)o->drain_timeout_ms);
            o->state = ORPHAN_DRAINING;
            o->drain_ms = now;
            o->deadline_ms = now + o->drain_timeout_ms;
            signal_orphan(o, o->stop_signal);
        }
    }
}

uint64_t baton__recover_next_deadline(const struct baton_supervisor *sup)
{
    const struct baton_takeover *rec = sup->recovery;
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; rec && i < rec->n_orphans; i++) {
        const struct baton_orphan *o = &rec->orphans[i];
        if (o->state == ORPHAN_DRAINING && o->deadline_ms < next)
            next = o->deadline_ms;
    }
    return next;
}

void baton__recover_tick(struct baton_supervisor *sup, uint64_t now)
{
    struct baton_takeover *rec = sup->recovery;
    for (size_t i = 0; rec && i < rec->n_orphans; i++) {
        struct baton_orphan *o = &rec->orphans[i];
        if (o->state != ORPHAN_DRAINING || o->deadline_ms > now)
            continue;
        baton__log_at(BATON_LOG_WARNING, o->gen, o->pid,
                      "the previous supervisor's worker did not drain within %llums: SIGKILL",
                      (unsigned long long)o->drain_timeout_ms);
        o->state = ORPHAN_KILLED;
        signal_orphan(o, SIGKILL);
    }
}

bool baton__recover_idle(const struct baton_supervisor *sup)
{
    return !sup->recovery || sup->recovery->live == 0;
}

void baton__recover_status_json(const struct baton_supervisor *sup, struct baton_buf *b)
{
    const struct baton_takeover *rec = sup->recovery;
    baton__json_key(b, "orphans");
    baton__buf_puts(b, "[");
    bool first = true;
    for (size_t i = 0; rec && i < rec->n_orphans; i++) {
        const struct baton_orphan *o = &rec->orphans[i];
        if (o->state == ORPHAN_EXITED)
            continue;
        baton__buf_puts(b, first ? "{" : ",{");
        first = false;
        baton__json_kv_int(b, "pid", o->pid);
        baton__json_kv_int(b, "generation", o->gen);
        baton__json_kv_str(b, "state", orphan_states[o->state]);
        baton__buf_puts(b, "}");
    }
    baton__buf_puts(b, "]");
}

void baton__recover_end(struct baton_supervisor *sup)
{
    struct baton_takeover *rec = sup->recovery;
    if (!rec)
        return;
    if (rec->owned && rec->live) {
        /* Orphans outlive us (a failure before the loop): the next supervisor takes them. */
        write_state(sup, rec);
    } else if (rec->owned && unlink(rec->path) < 0 && errno != ENOENT) {
        baton__log(BATON_LOG_WARNING, "state file %s: %s", rec->path, strerror(errno));
    }
    /* Watched pidfds close with their handles (the loop runs once more); the others now. */
    for (size_t i = 0; i < rec->n_orphans; i++) {
        struct baton_orphan *o = &rec->orphans[i];
        if (o->watch)
            unwatch(o);
        else if (o->pidfd >= 0)
            close(o->pidfd);
    }
    free(rec->orphans);
    free(rec->path);
    free(rec);
    sup->recovery = NULL;
}
