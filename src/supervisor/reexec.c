/* SPDX-License-Identifier: MIT */
/*
 * SIGUSR2: the supervisor executes its own binary again, in place. The PID stays (so the
 * workers stay its children), and so do the listeners, the notify and control sockets and the
 * workers' output pipes: their fds survive execve once close-on-exec is cleared. Everything
 * else the new image needs (generations, slots, workers, counters) goes through a memfd named
 * in BATON_SUPERVISOR_STATE, as one JSON object in the versioned format of reexec-state.c.
 *
 * Signals stay blocked across execve (the mask is inherited, handlers are not): a SIGTERM or
 * SIGCHLD arriving meanwhile waits, pending, until the new image has its handlers in place.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/fd.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/internal.h"

#define STATE_ENV "BATON_SUPERVISOR_STATE"
#define STATE_MAX (16 * 1024 * 1024)

extern char **environ;

void baton__reexec_prepare(struct baton_supervisor *sup)
{
    char path[PATH_MAX], buf[65536];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t len = fd < 0 ? -1 : baton__fd_read_all(fd, buf, sizeof(buf) - 1);
    if (fd >= 0)
        close(fd);
    if (n <= 0 || len <= 0 || (size_t)len >= sizeof(buf) - 1)
        return; /* no re-exec then; SIGUSR2 says so */
    path[n] = '\0';
    /* The binary as it is on disk now (an upgrade replaced it), not the deleted old inode. */
    char *deleted = strstr(path, " (deleted)");
    if (deleted && deleted[10] == '\0')
        *deleted = '\0';
    buf[len] = '\0';
    size_t argc = 0;
    for (ssize_t i = 0; i < len; i++)
        argc += buf[i] == '\0';
    sup->exe_argv = baton__xcalloc(argc + 1, sizeof(char *));
    for (size_t i = 0, off = 0; i < argc; i++) {
        sup->exe_argv[i] = baton__xstrdup(buf + off);
        off += strlen(buf + off) + 1;
    }
    sup->exe_path = baton__xstrdup(path);
}

/* Every fd the new image keeps, with close-on-exec cleared (on = false) or set again. */
static void keep_fds(struct baton_supervisor *sup, int state_fd, bool keep)
{
    baton__fd_cloexec(state_fd, !keep);
    baton__fd_cloexec(sup->notify_fd, !keep);
    baton__fd_cloexec(sup->control_fd, !keep);
    for (size_t i = 0; i < sup->n_listeners; i++)
        baton__fd_cloexec(sup->listeners[i].fd, !keep);
    for (struct baton_generation *g = sup->gens.list; g; g = g->next) {
        for (struct baton_worker *w = g->workers; w; w = w->next) {
            int out, err;
            baton__worker_io_fds(w, &out, &err);
            if (out >= 0)
                baton__fd_cloexec(out, !keep);
            if (err >= 0)
                baton__fd_cloexec(err, !keep);
        }
    }
}

int baton__reexec(struct baton_supervisor *sup)
{
    struct baton_buf state = BATON_BUF_INIT(STATE_MAX);
    struct baton_buf err = BATON_BUF_INIT(64 * 1024);
    struct baton_config *config = NULL;
    sigset_t all, old;
    char **env = NULL;
    int fd = -1, r;

    if (!sup->exe_path)
        return -ENOEXEC;
    if (sup->gens.stopping)
        return -ECANCELED;
    if (sup->gens.transition != BATON_TRANSITION_NONE || sup->deploy || sup->probation)
        return -EBUSY;
    /* The new image starts by loading the configuration: refuse now rather than die there. */
    if (baton__config_load(sup->options, &config, &err) < 0) {
        baton__log(BATON_LOG_ERROR, "re-exec refused: the configuration does not load: %s",
                   err.data ? err.data : "?");
        baton__buf_free(&err);
        return -EINVAL;
    }
    baton__config_free(config);
    baton__buf_free(&err);

    baton__state_save(sup, &state);
    fd = memfd_create("baton-state", MFD_CLOEXEC);
    if (fd < 0 || !state.data || baton__fd_write_all(fd, state.data, state.len) < 0 ||
        lseek(fd, 0, SEEK_SET) < 0) {
        r = fd < 0 ? -errno : -EIO;
        goto out;
    }
    size_t n = 0;
    while (environ[n])
        n++;
    env = baton__xcalloc(n + 2, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        env[i] = environ[i];
    env[n] = baton__xasprintf("%s=%d", STATE_ENV, fd);

    baton__log(BATON_LOG_NOTICE, "re-executing %s", sup->exe_path);
    baton__ctl_drop_clients(sup, "the supervisor is re-executing");
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    keep_fds(sup, fd, true);
    execve(sup->exe_path, sup->exe_argv, env);
    r = -errno;
    keep_fds(sup, fd, false);
    sigprocmask(SIG_SETMASK, &old, NULL);
    baton__log(BATON_LOG_ERROR, "re-exec %s: %s; carrying on", sup->exe_path, strerror(-r));
out:
    if (env)
        free(env[n]);
    free(env);
    if (fd >= 0)
        close(fd);
    baton__buf_free(&state);
    return r;
}

/* ---- restoring --------------------------------------------------------------------------- */

int baton__reexec_take_state(void)
{
    const char *v = getenv(STATE_ENV);
    int fd = v ? atoi(v) : -1;
    unsetenv(STATE_ENV);
    return fd > 2 ? fd : -1;
}

int baton__reexec_restore(struct baton_supervisor *sup, int state_fd)
{
    struct baton_buf text = BATON_BUF_INIT(STATE_MAX);
    struct baton_state_fds *fds = baton__xcalloc(1, sizeof(*fds));
    char chunk[65536];
    ssize_t n;
    int r = -EINVAL;

    while ((n = read(state_fd, chunk, sizeof(chunk))) > 0) {
        if (baton__buf_append(&text, chunk, (size_t)n) < 0)
            goto out;
    }
    if (!text.data || (r = baton__state_restore(sup, text.data, text.len, fds)) < 0)
        goto out;
    for (size_t i = 0; i < sup->n_listeners; i++)
        baton__fd_cloexec(sup->listeners[i].fd, true);
    if (fds->notify_fd < 0 || fds->control_fd < 0 || !fds->control_path) {
        r = -EINVAL;
        goto out;
    }
    baton__fd_cloexec(fds->notify_fd, true);
    baton__fd_cloexec(fds->control_fd, true);
    r = baton__notify_adopt(sup, fds->notify_fd);
    if (r == 0)
        r = baton__ctl_adopt(sup, fds->control_fd, fds->control_path);
    if (r < 0)
        goto out;
    /* The workers' output pipes: watched again. */
    for (size_t i = 0; i < fds->n_workers; i++) {
        struct baton_worker *w = baton__gens_find(&sup->gens, fds->workers[i].pid);
        baton__fd_cloexec(fds->workers[i].out, true);
        baton__fd_cloexec(fds->workers[i].err, true);
        if (w && !w->io)
            baton__worker_io_start(sup, w, fds->workers[i].out, fds->workers[i].err);
    }
    /* A probe that was out when the old image executed this one is asked again (its answer
     * went with the old image's loop). */
    for (struct baton_generation *g = sup->gens.list; g; g = g->next)
        for (struct baton_worker *w = g->workers; w; w = w->next)
            if (w->probing && w->state == BATON_WORKER_STARTING)
                baton__probe_worker(sup, w);
    r = 0;
out:
    free(fds->control_path);
    free(fds);
    baton__buf_free(&text);
    close(state_fd);
    return r;
}
