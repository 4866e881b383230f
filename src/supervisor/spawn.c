/* SPDX-License-Identifier: MIT */
/*
 * Starting one worker: fork, then in the child only async-signal-safe calls until execve.
 *
 * Everything that allocates (argv, the environment, the path, the user's groups) is built
 * before fork. The child writes its own pid into the reserved LISTEN_PID= slot, moves the
 * listeners to fds 3, 4, ... and the output pipes to 1 and 2, and execs. A failure in the child
 * comes back to the parent as {stage, errno} through a close-on-exec pipe: EOF on that pipe
 * means the exec happened (the libuv src/unix/process.c technique).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/internal.h"

#define LISTEN_PID_SLOT 24 /* digits reserved after "LISTEN_PID=" */
#define MAX_GROUPS      256

enum child_stage {
    STAGE_SETUP,
    STAGE_CHDIR,
    STAGE_USER,
    STAGE_EXEC,
};

struct child_error {
    int stage;
    int err;
};

struct spawn_plan {
    const char *path; /* resolved executable */
    char **argv;
    char **envp;
    char *listen_pid; /* the reserved environment entry */
    const char *dir;
    const int *listen_fds;
    int n_listen;
    int devnull, out_w, err_w, error_w;
    bool switch_user;
    uid_t uid;
    gid_t gid;
    gid_t groups[MAX_GROUPS];
    int n_groups;
};

static bool env_drop(const char *entry)
{
    static const char *drop[] = {"LISTEN_FDS=",    "LISTEN_PID=",       "LISTEN_FDNAMES=",
                                 "NOTIFY_SOCKET=", "BATON_GENERATION=", "BATON_WORKER="};
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) {
        if (strncmp(entry, drop[i], strlen(drop[i])) == 0)
            return true;
    }
    return false;
}

char **baton__worker_base_env(char **environ_)
{
    size_t n = 0, k = 0;
    while (environ_ && environ_[n])
        n++;
    char **env = baton__xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        if (!env_drop(environ_[i]))
            env[k++] = baton__xstrdup(environ_[i]);
    }
    return env;
}

static bool same_key(const char *a, const char *b)
{
    const char *ea = strchr(a, '='), *eb = strchr(b, '=');
    size_t na = ea ? (size_t)(ea - a) : strlen(a), nb = eb ? (size_t)(eb - b) : strlen(b);
    return na == nb && memcmp(a, b, na) == 0;
}

/* The worker's environment: base minus keys app.env overrides, app.env, the protocol's. */
static char **build_env(struct baton_supervisor *sup, const struct baton_worker *w, bool probe,
                        char **ret_listen_pid)
{
    const struct baton_config *c = w->gen->config;
    size_t n = 0, k = 0;
    while (sup->base_env[n])
        n++;
    char **env = baton__xcalloc(n + c->app.n_env + 8, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        bool overridden = false;
        for (size_t j = 0; j < c->app.n_env && !overridden; j++)
            overridden = same_key(sup->base_env[i], c->app.env[j]);
        if (!overridden)
            env[k++] = baton__xstrdup(sup->base_env[i]);
    }
    for (size_t j = 0; j < c->app.n_env; j++) {
        if (!env_drop(c->app.env[j]))
            env[k++] = baton__xstrdup(c->app.env[j]);
    }
    /* app.probe: one more listener, the worker's own, last (DESIGN.md "Observability"). */
    struct baton_buf names = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    for (size_t i = 0; i < c->n_listen; i++)
        baton__buf_printf(&names, "%s%s", i ? ":" : "", c->listen[i].name);
    if (probe)
        baton__buf_printf(&names, "%sprobe", c->n_listen ? ":" : "");
    env[k++] = baton__xasprintf("LISTEN_FDS=%zu", c->n_listen + (probe ? 1 : 0));
    env[k++] = baton__xasprintf("LISTEN_FDNAMES=%s", names.data ? names.data : "");
    baton__buf_free(&names);
    env[k++] = baton__xasprintf("NOTIFY_SOCKET=%s", sup->notify_name);
    env[k++] = baton__xasprintf("BATON_GENERATION=%ld", w->gen->id);
    env[k++] = baton__xasprintf("BATON_WORKER=%u", w->slot);
    /* Filled in by the child, which alone knows its pid before exec. */
    env[k] = baton__xcalloc(1, sizeof("LISTEN_PID=") + LISTEN_PID_SLOT);
    memcpy(env[k], "LISTEN_PID=", sizeof("LISTEN_PID=") - 1);
    *ret_listen_pid = env[k] + sizeof("LISTEN_PID=") - 1;
    return env;
}

static void free_strv(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

/* Resolves the generation's directory and executable once, on its first spawn: a `current`
 * symlink switched later must not change what this generation runs. */
static void resolve(struct baton_supervisor *sup, struct baton_generation *g)
{
    const struct baton_config *c = g->config;
    char buf[PATH_MAX];
    if (!g->dir)
        g->dir = baton__xstrdup(realpath(c->app.dir, buf) ? buf : c->app.dir);
    if (g->exec_path)
        return;
    const char *cmd = c->app.command[0];
    if (strchr(cmd, '/')) {
        char *joined = cmd[0] == '/' ? baton__xstrdup(cmd) : baton__xasprintf("%s/%s", g->dir, cmd);
        g->exec_path = baton__xstrdup(realpath(joined, buf) ? buf : joined);
        free(joined);
        return;
    }
    /* The workers' PATH: app.env's when it sets one, else the supervisor's. */
    const char *path = getenv("PATH");
    for (size_t i = 0; i < c->app.n_env; i++) {
        if (strncmp(c->app.env[i], "PATH=", 5) == 0)
            path = c->app.env[i] + 5;
    }
    for (const char *p = path ? path : "/usr/local/bin:/usr/bin:/bin"; *p;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char *candidate = baton__xasprintf("%.*s/%s", (int)len, len ? p : ".", cmd);
        if (access(candidate, X_OK) == 0) {
            g->exec_path = candidate;
            return;
        }
        free(candidate);
        p += len + (end ? 1 : 0);
    }
    g->exec_path = baton__xstrdup(cmd); /* execve fails with ENOENT, reported as such */
}

static int plan_user(struct spawn_plan *plan, const char *user)
{
    if (!user || geteuid() != 0)
        return 0;
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (!pw)
        return errno ? -errno : -ESRCH;
    plan->switch_user = true;
    plan->uid = pw->pw_uid;
    plan->gid = pw->pw_gid;
    plan->n_groups = MAX_GROUPS;
    if (getgrouplist(user, pw->pw_gid, plan->groups, &plan->n_groups) < 0)
        plan->n_groups = 0;
    return 0;
}

static void child_fail(int fd, int stage)
{
    struct child_error e = {stage, errno};
    ssize_t r = write(fd, &e, sizeof(e));
    (void)r;
    _exit(127);
}

/* Runs in the child between fork and exec: async-signal-safe calls only. */
static void child(const struct spawn_plan *p)
{
    int n = p->n_listen, high = 3 + n;
    int hi[65];
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigset_t none;

    /* Signals: the parent blocked them all around fork so that no handler of its loop runs
     * here; put back the defaults before unblocking. */
    for (int s = 1; s < NSIG; s++) {
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &dfl, NULL);
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    /* Its own process group: a Ctrl-C (SIGINT to the terminal's foreground group) or the
     * terminal's hang-up (SIGHUP to the session leader and that group) never reaches the
     * workers, the supervisor alone decides when they stop; and the supervisor can signal
     * everything a worker started at once (kill(-pid)). Not its own session: a session per
     * worker costs a scheduler autogroup each, measured at 5% of throughput under load. */
    setpgid(0, 0);

    int error_w = fcntl(p->error_w, F_DUPFD_CLOEXEC, high);
    if (error_w < 0)
        child_fail(p->error_w, STAGE_SETUP);
    if (dup2(p->devnull, 0) < 0 || dup2(p->out_w, 1) < 0 || dup2(p->err_w, 2) < 0)
        child_fail(error_w, STAGE_SETUP);
    /* A listener may already sit in 3..3+n-1, where another is about to go: copy them all
     * above that range first (close-on-exec), then dup2 down (dup2 clears close-on-exec). */
    for (int i = 0; i < n; i++) {
        if ((hi[i] = fcntl(p->listen_fds[i], F_DUPFD_CLOEXEC, high)) < 0)
            child_fail(error_w, STAGE_SETUP);
    }
    for (int i = 0; i < n; i++) {
        if (dup2(hi[i], 3 + i) < 0)
            child_fail(error_w, STAGE_SETUP);
    }
#ifdef SYS_close_range
    /* Whatever the supervisor inherited without close-on-exec stays out of the workers. */
    syscall(SYS_close_range, (unsigned)high, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
#endif

    if (chdir(p->dir) < 0)
        child_fail(error_w, STAGE_CHDIR);
    if (p->switch_user) {
        if (setgroups((size_t)p->n_groups, p->groups) < 0 || setgid(p->gid) < 0 ||
            setuid(p->uid) < 0)
            child_fail(error_w, STAGE_USER);
    }

    char digits[LISTEN_PID_SLOT];
    int nd = 0;
    for (unsigned long v = (unsigned long)getpid(); v || nd == 0; v /= 10)
        digits[nd++] = (char)('0' + v % 10);
    for (int i = 0; i < nd; i++)
        p->listen_pid[i] = digits[nd - 1 - i];
    p->listen_pid[nd] = '\0';

    execve(p->path, p->argv, p->envp);
    child_fail(error_w, STAGE_EXEC);
}

int baton__worker_spawn(struct baton_supervisor *sup, struct baton_worker *w, char **ret_what)
{
    struct baton_generation *g = w->gen;
    const struct baton_config *c = g->config;
    struct spawn_plan plan = {0};
    int out[2] = {-1, -1}, err[2] = {-1, -1}, ep[2] = {-1, -1}, probe_fd = -1;
    unsigned short probe_port = 0;
    int listen_fds[65];
    sigset_t all, old;
    struct child_error ce;
    pid_t pid;
    int r;

    resolve(sup, g);
    if (c->n_listen > 64) {
        *ret_what = baton__xstrdup("listen: more than 64 listeners");
        return -E2BIG;
    }
    /* The generation's own listeners, in its `listen:` order (a reload may have changed them:
     * an older generation keeps those it started with). */
    for (size_t i = 0; i < c->n_listen; i++) {
        const struct baton_listener *l = baton__listener_find(sup, &c->listen[i]);
        if (!l) {
            *ret_what =
                baton__xasprintf("listen %s: %s: not open", c->listen[i].name, c->listen[i].text);
            return -EBADF;
        }
        listen_fds[i] = l->fd;
    }
    plan.path = g->exec_path;
    plan.argv = c->app.command;
    plan.dir = g->dir;
    plan.listen_fds = listen_fds;
    plan.n_listen = (int)c->n_listen;
    if (c->app.probe.path) {
        /* Bound before the fork: the worker's own, so the port is known before it starts. */
        if ((r = baton__probe_listener(&probe_fd, &probe_port)) < 0) {
            *ret_what = baton__xasprintf("probe listener: %s", strerror(-r));
            return r;
        }
        listen_fds[plan.n_listen++] = probe_fd;
    }
    plan.devnull = sup->devnull;
    if ((r = plan_user(&plan, c->app.user)) < 0) {
        *ret_what = r == -ESRCH ? baton__xasprintf("user %s: no such user", c->app.user)
                                : baton__xasprintf("user %s: %s", c->app.user, strerror(-r));
        return r;
    }
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0) {
        r = -errno;
        *ret_what = baton__xasprintf("pipe: %s", strerror(-r));
        goto out;
    }
    plan.envp = build_env(sup, w, probe_fd >= 0, &plan.listen_pid);
    plan.out_w = out[1];
    plan.err_w = err[1];
    plan.error_w = ep[1];

    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid = fork();
    if (pid == 0)
        child(&plan);
    r = pid < 0 ? -errno : 0;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (r < 0) {
        *ret_what = baton__xasprintf("fork: %s", strerror(-r));
        goto out;
    }
    baton__fd_closep(&ep[1]);
    baton__fd_closep(&out[1]);
    baton__fd_closep(&err[1]);

    ssize_t n;
    do
        n = read(ep[0], &ce, sizeof(ce));
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(ce)) {
        /* The child is exiting: reap it here, it never was a worker. */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        r = ce.err > 0 ? -ce.err : -EIO;
        const char *why = strerror(-r);
        *ret_what = ce.stage == STAGE_EXEC ? baton__xasprintf("exec %s: %s", c->app.command[0], why)
                    : ce.stage == STAGE_CHDIR ? baton__xasprintf("chdir %s: %s", g->dir, why)
                    : ce.stage == STAGE_USER  ? baton__xasprintf("user %s: %s", c->app.user, why)
                                              : baton__xasprintf("worker set-up: %s", why);
        goto out;
    }
    w->pid = pid;
    w->probe_port = probe_port;
    baton__fd_nonblock(out[0], true);
    baton__fd_nonblock(err[0], true);
    baton__worker_io_start(sup, w, out[0], err[0]);
    out[0] = err[0] = -1;
    r = 0;
out:
    baton__fd_closep(&out[0]);
    baton__fd_closep(&out[1]);
    baton__fd_closep(&err[0]);
    baton__fd_closep(&err[1]);
    baton__fd_closep(&ep[0]);
    baton__fd_closep(&ep[1]);
    baton__fd_closep(&probe_fd); /* the worker has it; the supervisor keeps only the port */
    free_strv(plan.envp);
    return r;
}
