/* SPDX-License-Identifier: MIT */
/*
 * Deploys, rollbacks and the release list, run by the supervisor (DESIGN.md "Deploy"): the
 * state machine around the deploy library (src/deploy/). A deploy is lock → verify → extract →
 * install → switch → reload → probation → committed; any failure switches `current` back and,
 * when the new generation already replaced the old one, reloads the previous release.
 *
 * The blocking steps (the lock with --wait, hashing and verifying, extraction with its fsyncs,
 * the switch) run one at a time on libuv's thread pool (uv_queue_work): the loop keeps serving
 * notify messages, exits and the control socket while a 1 GB artifact is extracted. A worker
 * thread rather than a child process because each step is one library call with plain inputs
 * and outputs, the lock fd and the journal stay with the supervisor (the kernel drops the lock
 * if it dies), and no process has to be reaped or killed. The work functions touch only their
 * struct baton_deploy, never the supervisor. The journal's later records (probation, committed,
 * failed) are one fdatasync each, written from the loop.
 *
 * Rollback after a failed probation restarts the previous release as a new generation (a
 * normal rolling reload from `current`, switched back first): the failing generation keeps
 * serving, and its crashed workers keep being restarted, until the previous release's workers
 * are ready and replace them one by one; connections wait in the listeners' accept queues
 * meanwhile, so none is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/json.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "deploy/deploy.h"
#include "supervisor/internal.h"

/* How often probation looks at the new generation's counters. */
#define PROBATION_TICK_MS 100

enum phase {
    PH_WORK,      /* a step runs on the thread pool */
    PH_ROLLOUT,   /* the new generation is starting */
    PH_PROBATION, /* the new generation serves on probation */
    PH_RESTORE,   /* the previous release is starting again after a failed probation */
};

struct baton_deploy {
    struct baton_deploy *next; /* waiting ones (--wait) */
    struct baton_supervisor *sup;
    struct baton_control_client *client; /* NULL once the CLI went away: the deploy goes on */
    struct baton_control_request req;
    bool rollback;
    bool pulled; /* started by pull mode (pull.c), told of the end */
    enum phase phase;
    char id[40];
    char what[160]; /* "deploy of 1.4.0" */
    char version[BATON_VERSION_MAX + 1], from[BATON_VERSION_MAX + 1];

    /* From the configuration when the deploy began. */
    char *trust;
    unsigned keep;
    uint64_t max_size, probation_ms, probation_timeout_ms;
    unsigned probation_requests;
    double max_error_rate;

    int root_fd, lock_fd;
    struct baton_journal *journal;
    struct baton_journal_record rec;
    struct baton_verified ver;
    struct baton_extract_stats xs;
    char tmpname[64];
    char newest[BATON_VERSION_MAX + 1]; /* newest committed, for the downgrade check */

    uint64_t started_ms, step_started_ms;
    uv_work_t work;
    int (*work_fn)(struct baton_deploy *d);
    void (*next_fn)(struct baton_deploy *d);
    int work_r;
    char err[512];

    long gen;
    bool switched;
    char reason[512];
    uv_timer_t timer;
    bool timer_open;
    uint64_t probation_started_ms;
    struct baton_counters base;
    struct baton_probe_watch *probes; /* app.probe during probation, or NULL */
    bool resumed;   /* its supervisor was killed in probation: resumed at start (no client) */
    bool begun;     /* BEGIN is in the journal */
    bool exited;    /* a worker of the new generation exited inside probation */
    bool abandoned; /* the supervisor stops while a step runs: freed when it returns */
};

/* ---- replies ---------------------------------------------------------------------------- */

static void send_line(struct baton_deploy *d, struct baton_buf *b)
{
    if (d->client)
        baton__ctl_send(d->client, b->data, b->len);
}

static void progress(struct baton_deploy *d, const char *step, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void progress(struct baton_deploy *d, const char *step, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    uint64_t now = baton__clock_now_ms();
    baton__log(BATON_LOG_INFO, "%s %s: %s", d->rollback ? "rollback" : "deploy", step, msg);
    struct baton_buf b = BATON_BUF_INIT(BATON_CONTROL_REPLY_MAX);
    baton__buf_puts(&b, "{");
    baton__json_kv_str(&b, "event", "progress");
    baton__json_kv_str(&b, "step", step);
    baton__json_kv_str(&b, "msg", msg);
    baton__json_kv_int(&b, "step_ms", (long long)(now - d->step_started_ms));
    baton__json_kv_int(&b, "elapsed_ms", (long long)(now - d->started_ms));
    baton__buf_puts(&b, "}");
    send_line(d, &b);
    baton__buf_free(&b);
    d->step_started_ms = now;
}

void baton__deploy_progress(struct baton_supervisor *sup, long gen, const char *msg)
{
    struct baton_deploy *d = sup->deploy;
    if (!d || (d->phase != PH_ROLLOUT && d->phase != PH_RESTORE) || !d->client)
        return;
    struct baton_buf b = BATON_BUF_INIT(BATON_CONTROL_REPLY_MAX);
    baton__buf_puts(&b, "{");
    baton__json_kv_str(&b, "event", "progress");
    baton__json_kv_str(&b, "step", d->phase == PH_ROLLOUT ? "reload" : "restore");
    baton__json_kv_str(&b, "msg", msg);
    baton__json_kv_int(&b, "gen", gen);
    baton__json_kv_int(&b, "elapsed_ms", (long long)(baton__clock_now_ms() - d->started_ms));
    baton__buf_puts(&b, "}");
    send_line(d, &b);
    baton__buf_free(&b);
}

static void reply_error(struct baton_supervisor *sup, struct baton_control_client *c,
                        const char *error, bool busy)
{
    struct baton_buf b = BATON_BUF_INIT(BATON_CONTROL_REPLY_MAX);
    baton__buf_puts(&b, "{");
    baton__json_kv_bool(&b, "ok", 0);
    if (busy)
        baton__json_kv_bool(&b, "busy", 1);
    baton__json_kv_str(&b, "error", error);
    baton__json_kv_str(&b, "msg", "nothing changed");
    baton__buf_puts(&b, "}");
    baton__ctl_send(c, b.data, b.len);
    baton__ctl_tx_done(sup, c);
    baton__buf_free(&b);
}

/* ---- the end of a deploy ------------------------------------------------------------------ */

static void start(struct baton_deploy *d);
static void deploy_free(struct baton_deploy *d);

static void on_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

static void deploy_free(struct baton_deploy *d)
{
    baton__probe_watch_stop(d->probes);
    d->probes = NULL;
    if (d->journal)
        baton_journal_close(d->journal);
    if (d->lock_fd >= 0)
        baton_deploy_unlock(d->lock_fd);
    free(d->trust);
    if (d->timer_open) {
        uv_timer_stop(&d->timer);
        d->timer.data = d;
        uv_close((uv_handle_t *)&d->timer, on_timer_closed);
    } else {
        free(d);
    }
}

/* The deploy ended: the result line, the next waiting deploy. */
static void finish(struct baton_deploy *d, bool ok, const char *verdict, const char *error)
{
    struct baton_supervisor *sup = d->sup;
    uint64_t now = baton__clock_now_ms();
    struct baton_buf b = BATON_BUF_INIT(BATON_CONTROL_REPLY_MAX);
    baton__buf_puts(&b, "{");
    baton__json_kv_bool(&b, "ok", ok);
    baton__json_kv_str(&b, "kind", d->rollback ? "rollback" : "deploy");
    baton__json_kv_str(&b, "deploy", d->id);
    baton__json_kv_str(&b, "version", d->version);
    baton__json_kv_str(&b, "from", d->from);
    baton__json_kv_str(&b, "verdict", verdict);
    if (d->req.dry_run)
        baton__json_kv_bool(&b, "dry_run", 1);
    if (error)
        baton__json_kv_str(&b, "error", error);
    if (d->gen > 0)
        baton__json_kv_int(&b, "gen", d->gen);
    baton__json_kv_int(&b, "total_ms", (long long)(now - d->started_ms));
    char msg[640];
    if (d->req.dry_run)
        snprintf(msg, sizeof(msg), "dry run: nothing changed");
    else if (ok && d->rollback)
        snprintf(msg, sizeof(msg), "rolled back to %s", d->version);
    else if (ok && strcmp(verdict, "inconclusive") == 0)
        snprintf(msg, sizeof(msg),
                 "%s committed, but probation was INCONCLUSIVE: too little traffic to judge it",
                 d->version);
    else if (ok)
        snprintf(msg, sizeof(msg), "%s committed", d->version);
    else if (d->switched && d->from[0])
        snprintf(msg, sizeof(msg), "%s failed; %s is serving again", d->version, d->from);
    else
        snprintf(msg, sizeof(msg), "%s failed; nothing changed%s%s",
                 d->version[0] ? d->version : "the deploy", d->from[0] ? ": still serving " : "",
                 d->from);
    baton__json_kv_str(&b, "msg", msg);
    baton__buf_puts(&b, "}");
    baton__log(ok ? BATON_LOG_NOTICE : BATON_LOG_ERROR, "%s%s%s", msg, error ? ": " : "",
               error ? error : "");
    if (d->client) {
        baton__ctl_send(d->client, b.data, b.len);
        baton__ctl_tx_done(sup, d->client);
    }
    baton__buf_free(&b);
    if (d->pulled)
        baton__pull_deploy_ended(sup, d->version[0] ? d->version : d->req.version, ok);
    sup->deploy = NULL;
    deploy_free(d);
    struct baton_deploy *next = sup->deploy_queue;
    if (next) {
        sup->deploy_queue = next->next;
        next->next = NULL;
        sup->deploy = next;
        start(next);
    }
}

static void journal(struct baton_deploy *d, enum baton_journal_step step)
{
    char err[256];
    /* The state file first (recover.c writes it once per loop turn): a supervisor killed right
     * after this record leaves its workers to the next one, which takes over every worker of
     * the new release (probation resumes) - not only those of an earlier turn. */
    baton__recover_save(d->sup);
    d->rec.step = step;
    if (d->journal && baton_journal_append(d->journal, &d->rec, err, sizeof(err)) < 0)
        baton__log(BATON_LOG_ERROR, "deploy journal: %s", err);
}

/* ---- the thread pool ---------------------------------------------------------------------- */

static void on_work(uv_work_t *w)
{
    struct baton_deploy *d = w->data;
    d->err[0] = '\0';
    d->work_r = d->work_fn(d);
}

static void after_work(uv_work_t *w, int status)
{
    struct baton_deploy *d = w->data;
    if (d->abandoned) { /* the supervisor stopped meanwhile */
        deploy_free(d);
        return;
    }
    d->next_fn(d);
}

static void queue(struct baton_deploy *d, int (*fn)(struct baton_deploy *),
                  void (*next)(struct baton_deploy *))
{
    d->phase = PH_WORK;
    d->work_fn = fn;
    d->next_fn = next;
    d->work.data = d;
    int r = uv_queue_work(d->sup->loop, &d->work, on_work, after_work);
    if (r < 0) {
        snprintf(d->err, sizeof(d->err), "cannot queue work: %s", uv_strerror(r));
        d->work_r = -EIO;
        next(d);
    }
}

/* ---- failure ------------------------------------------------------------------------------ */

static void restore_reload(struct baton_deploy *d);

/* Any failure: current back on `from`, FAILED journaled; the previous release is started again
 * when the new generation had already replaced it (restore). */
static void fail(struct baton_deploy *d, const char *reason, bool restore)
{
    char err[256];
    baton__probe_watch_stop(d->probes); /* probation is over, whatever failed */
    d->probes = NULL;
    snprintf(d->reason, sizeof(d->reason), "%s", reason);
    if (d->switched) {
        if (d->from[0]) {
            if (baton_release_switch(d->root_fd, d->from, err, sizeof(err)) < 0)
                baton__log(BATON_LOG_ERROR, "deploy: switching back to %s: %s", d->from, err);
        } else if (unlinkat(d->root_fd, "current", 0) == 0) {
            fsync(d->root_fd); /* nothing to go back to: no release again */
        }
    }
    snprintf(d->rec.reason, sizeof(d->rec.reason), "%s", reason);
    d->rec.verdict[0] = '\0';
    snprintf(d->rec.verdict, sizeof(d->rec.verdict), "failed");
    if (d->begun) /* a refusal before BEGIN writes nothing */
        journal(d, BATON_STEP_FAILED);
    if (restore && d->from[0]) {
        progress(d, "rollback", "%s failed: %s; starting %s again", d->version, reason, d->from);
        restore_reload(d);
        return;
    }
    finish(d, false, "failed", reason);
}

/* ---- steps -------------------------------------------------------------------------------- */

/* The newest committed version the journal knows: what "no downgrade" compares against. */
static void note_newest_committed(struct baton_deploy *d, const struct baton_journal_state *st)
{
    d->newest[0] = '\0';
    for (size_t i = 0; i < st->n_releases; i++)
        if (st->releases[i].state == BATON_RELEASE_COMMITTED &&
            (!d->newest[0] || baton_version_cmp(st->releases[i].version, d->newest) > 0))
            snprintf(d->newest, sizeof(d->newest), "%s", st->releases[i].version);
}

static int work_lock(struct baton_deploy *d)
{
    int r =
        baton_deploy_lock(d->root_fd, d->what, d->req.wait, &d->lock_fd, d->err, sizeof(d->err));
    if (r < 0)
        return r;
    r = baton_journal_open(d->root_fd, &d->journal, d->err, sizeof(d->err));
    if (r < 0)
        return r;
    struct baton_journal_state st;
    r = baton_journal_read(d->root_fd, &st, d->err, sizeof(d->err));
    if (r < 0)
        return r;
    note_newest_committed(d, &st);
    if (d->rollback) {
        const char *want = d->req.version[0] ? d->req.version : st.previous;
        if (!want[0]) {
            snprintf(d->err, sizeof(d->err), "no previous committed release to roll back to");
            r = -ENOENT;
        } else {
            snprintf(d->version, sizeof(d->version), "%s", want);
            struct stat sb;
            char p[BATON_VERSION_MAX + 16];
            snprintf(p, sizeof(p), "releases/%s", want);
            if (!baton_version_valid(want) || fstatat(d->root_fd, p, &sb, 0) < 0 ||
                !S_ISDIR(sb.st_mode)) {
                snprintf(d->err, sizeof(d->err), "release %.64s is not installed", want);
                r = -ENOENT;
            }
        }
    }
    baton_journal_state_free(&st);
    d->from[0] = '\0';
    (void)baton_release_current(d->root_fd, d->from, sizeof(d->from));
    if (r == 0 && d->rollback && strcmp(d->from, d->version) == 0) {
        snprintf(d->err, sizeof(d->err), "%s is already the current release", d->version);
        r = -EALREADY;
    }
    return r;
}

/*
 * A version already on disk that never served as a committed release - it failed (or was left
 * unfinished) and is not current - is removed so the same version can be deployed again: after
 * the fix of whatever made it fail on this host (a configuration, a missing file), a fleet's
 * re-run deploys the very artifact again. A committed one is kept: that is a rollback's job.
 * Runs in the deploy's worker thread, the lock held.
 */
static bool replaceable(struct baton_deploy *d)
{
    struct baton_journal_state st = {0};
    char err[256];
    bool ok = false;
    if (baton_journal_read(d->root_fd, &st, err, sizeof(err)) < 0)
        return false;
    const struct baton_release_info *info = baton_journal_state_find(&st, d->version);
    if (info && (info->state == BATON_RELEASE_FAILED || info->state == BATON_RELEASE_UNFINISHED) &&
        strcmp(d->from, d->version) != 0)
        ok = baton_release_remove(d->root_fd, d->version, err, sizeof(err)) == 0;
    baton_journal_state_free(&st);
    return ok;
}

static int work_verify(struct baton_deploy *d)
{
    struct baton_verify_request vr = {
        .artifact = d->req.artifact,
        .version = d->req.version[0] ? d->req.version : NULL,
        .trust = d->trust,
        .newest_committed = d->newest[0] ? d->newest : NULL,
        .allow_downgrade = d->req.allow_downgrade,
    };
    int r = baton_artifact_verify(&vr, &d->ver, d->err, sizeof(d->err));
    if (r < 0)
        return r;
    snprintf(d->version, sizeof(d->version), "%s", d->ver.version);
    struct stat sb;
    char p[BATON_VERSION_MAX + 16];
    snprintf(p, sizeof(p), "releases/%s", d->version);
    if (fstatat(d->root_fd, p, &sb, AT_SYMLINK_NOFOLLOW) == 0 && !replaceable(d)) {
        snprintf(d->err, sizeof(d->err),
                 "version %s already exists in releases/ (deploy it with baton rollback %s, or "
                 "give the artifact another version)",
                 d->version, d->version);
        return -EEXIST;
    }
    return 0;
}

static int work_extract(struct baton_deploy *d)
{
    int afd = open(d->req.artifact, O_RDONLY | O_CLOEXEC);
    if (afd < 0) {
        snprintf(d->err, sizeof(d->err), "%.300s: %s", d->req.artifact, strerror(errno));
        return -errno;
    }
    struct baton_extract_limits lim = BATON_EXTRACT_LIMITS_DEFAULT;
    lim.max_size = d->max_size;
    int r = baton_release_extract(d->root_fd, afd, d->version, &lim, d->tmpname, sizeof(d->tmpname),
                                  &d->xs, d->err, sizeof(d->err));
    close(afd);
    if (r < 0)
        return r;
    return baton_release_install(d->root_fd, d->tmpname, d->version, d->err, sizeof(d->err));
}

static int work_switch(struct baton_deploy *d)
{
    return baton_release_switch(d->root_fd, d->version, d->err, sizeof(d->err));
}

static void probation_start(struct baton_deploy *d);

/* Starts a generation from `current` (the configuration read again). */
static int reload(struct baton_deploy *d, enum phase phase)
{
    struct baton_supervisor *sup = d->sup;
    struct baton_config *config = NULL;
    struct baton_buf err = BATON_BUF_INIT(64 * 1024);
    if (baton__config_load(sup->options, &config, &err) < 0) {
        snprintf(d->err, sizeof(d->err), "configuration error: %s",
                 err.data ? err.data : "unreadable");
        baton__buf_free(&err);
        return -EINVAL;
    }
    baton__buf_free(&err);
    /* New listen addresses are bound before the generation starts (listener.c). */
    if (baton__listeners_prepare(sup, config, sup->gens.last_id + 1, d->err, sizeof(d->err)) < 0) {
        baton__config_free(config);
        return -EADDRNOTAVAIL;
    }
    d->phase = phase;
    long id = baton__gens_reload(&sup->gens, config, baton__clock_now_ms());
    if (id < 0) {
        baton__config_free(config);
        snprintf(d->err, sizeof(d->err), "the supervisor is %s",
                 id == -ECANCELED ? "stopping" : "busy");
        return (int)id;
    }
    d->gen = phase == PH_ROLLOUT ? id : d->gen;
    return 0;
}

static void restore_reload(struct baton_deploy *d)
{
    if (reload(d, PH_RESTORE) < 0)
        finish(d, false, "failed", d->reason);
}

static void after_switch(struct baton_deploy *d)
{
    if (d->work_r < 0) {
        /* The link may have been renamed over before the fsync failed: count it switched. */
        d->switched = true;
        fail(d, d->err, false);
        return;
    }
    d->switched = true;
    journal(d, BATON_STEP_SWITCHED);
    progress(d, "switch", "current -> releases/%s (was %s)", d->version,
             d->from[0] ? d->from : "nothing");
    if (reload(d, PH_ROLLOUT) < 0)
        fail(d, d->err, false);
}

static void after_extract(struct baton_deploy *d)
{
    if (d->work_r < 0) {
        fail(d, d->err, false);
        return;
    }
    journal(d, BATON_STEP_INSTALLED);
    progress(d, "install", "releases/%s: %llu entries, %llu bytes", d->version,
             (unsigned long long)d->xs.entries, (unsigned long long)d->xs.bytes);
    queue(d, work_switch, after_switch);
}

/* What retention would prune if `version` were committed now (dry run). */
static void dry_run_report(struct baton_deploy *d)
{
    struct baton_journal_state st;
    char err[256];
    struct baton_buf pr = BATON_BUF_INIT(BATON_CONTROL_REPLY_MAX);
    if (baton_journal_read(d->root_fd, &st, err, sizeof(err)) == 0) {
        size_t n = st.n_releases;
        struct baton_release_info *rels = baton__xcalloc(n + 1, sizeof(*rels));
        memcpy(rels, st.releases, n * sizeof(*rels));
        snprintf(rels[n].version, sizeof(rels[n].version), "%s", d->version);
        rels[n].state = BATON_RELEASE_COMMITTED;
        bool *prune = baton__xcalloc(n + 1, sizeof(bool));
        baton_release_plan_prune(rels, n + 1, d->version, st.current[0] ? st.current : NULL,
                                 d->keep, prune);
        for (size_t i = 0; i < n + 1; i++)
            if (prune[i])
                baton__buf_printf(&pr, "%s%s", pr.len ? ", " : "", rels[i].version);
        free(prune);
        free(rels);
        baton_journal_state_free(&st);
    }
    progress(d, "dry-run",
             "would install releases/%s (%lld bytes compressed) and switch current from %s to "
             "%s; would prune: %s",
             d->version, (long long)d->ver.size, d->from[0] ? d->from : "nothing", d->version,
             pr.len ? pr.data : "nothing");
    baton__buf_free(&pr);
    finish(d, true, "dry-run", NULL);
}

static void after_verify(struct baton_deploy *d)
{
    if (d->work_r < 0) {
        fail(d, d->err, false);
        return;
    }
    snprintf(d->rec.version, sizeof(d->rec.version), "%s", d->version);
    snprintf(d->rec.sha256, sizeof(d->rec.sha256), "%s", d->ver.sha256);
    snprintf(d->rec.key_id, sizeof(d->rec.key_id), "%s", d->ver.key_id);
    progress(d, "verify", "%s: sha256 %.12s…%s%s%s", d->version, d->ver.sha256,
             d->ver.sha256_checked ? ", .sha256 matches" : "",
             d->ver.signed_ ? ", signed by key " : ", unsigned",
             d->ver.signed_ ? d->ver.key_id : "");
    if (d->req.dry_run) {
        dry_run_report(d);
        return;
    }
    journal(d, BATON_STEP_BEGIN);
    d->begun = true;
    journal(d, BATON_STEP_VERIFIED);
    queue(d, work_extract, after_extract);
}

static void after_lock(struct baton_deploy *d)
{
    if (d->work_r < 0) {
        bool busy = d->work_r == -EBUSY;
        struct baton_control_client *c = d->client;
        d->client = NULL;
        if (c) {
            if (busy)
                reply_error(d->sup, c, d->err, true);
            else
                reply_error(d->sup, c, d->err, false);
        }
        finish(d, false, "failed", d->err);
        return;
    }
    progress(d, "lock", "locked %s (from %s)", d->what, d->from[0] ? d->from : "no release");
    snprintf(d->rec.deploy, sizeof(d->rec.deploy), "%s", d->id);
    snprintf(d->rec.kind, sizeof(d->rec.kind), "%s", d->rollback ? "rollback" : "deploy");
    snprintf(d->rec.from, sizeof(d->rec.from), "%s", d->from);
    if (d->rollback) {
        snprintf(d->rec.version, sizeof(d->rec.version), "%s", d->version);
        journal(d, BATON_STEP_BEGIN);
        d->begun = true;
        queue(d, work_switch, after_switch);
        return;
    }
    queue(d, work_verify, after_verify);
}

static int work_dry_lock(struct baton_deploy *d)
{
    /* A dry run takes no lock and writes nothing: it reads the journal and current. */
    struct baton_journal_state st;
    int r = baton_journal_read(d->root_fd, &st, d->err, sizeof(d->err));
    if (r < 0)
        return r;
    note_newest_committed(d, &st);
    baton_journal_state_free(&st);
    (void)baton_release_current(d->root_fd, d->from, sizeof(d->from));
    return work_verify(d);
}

static void start(struct baton_deploy *d)
{
    d->started_ms = d->step_started_ms = baton__clock_now_ms();
    if (d->req.dry_run && !d->rollback) {
        queue(d, work_dry_lock, after_verify);
        return;
    }
    queue(d, work_lock, after_lock);
}

/* ---- the rollout and probation -------------------------------------------------------------- */

static const struct baton_generation *find_gen(const struct baton_supervisor *sup, long id)
{
    for (const struct baton_generation *g = sup->gens.list; g; g = g->next)
        if (g->id == id)
            return g;
    return NULL;
}

static void commit(struct baton_deploy *d, const char *verdict)
{
    char err[256];
    baton__probe_watch_stop(d->probes);
    d->probes = NULL;
    snprintf(d->rec.verdict, sizeof(d->rec.verdict), "%s", verdict);
    d->rec.reason[0] = '\0';
    journal(d, BATON_STEP_COMMITTED);
    struct baton_journal_state st;
    if (baton_journal_read(d->root_fd, &st, err, sizeof(err)) == 0) {
        int n = baton_release_prune(d->root_fd, d->journal, &st, d->keep, d->id, err, sizeof(err));
        if (n < 0)
            baton__log(BATON_LOG_WARNING, "deploy: retention: %s", err);
        else if (n > 0)
            progress(d, "prune", "%d old release%s removed", n, n == 1 ? "" : "s");
        baton_journal_state_free(&st);
    }
    d->rec.verdict[0] = '\0';
    journal(d, BATON_STEP_DONE);
    finish(d, true, verdict, NULL);
}

static void on_probation_tick(uv_timer_t *t)
{
    struct baton_deploy *d = t->data;
    struct baton_supervisor *sup = d->sup;
    if (d->phase != PH_PROBATION)
        return;
    uint64_t now = baton__clock_now_ms(), elapsed = now - d->probation_started_ms;
    const struct baton_generation *g = find_gen(sup, d->gen);
    if (!g || g != sup->gens.active) {
        uv_timer_stop(&d->timer);
        fail(d, "probation: the new generation is no longer serving", false);
        return;
    }
    struct baton_counters c;
    baton__generation_counters(g, &c);
    uint64_t req = c.v[BATON_STAT_REQUESTS] - d->base.v[BATON_STAT_REQUESTS];
    uint64_t e5 = c.v[BATON_STAT_5XX] - d->base.v[BATON_STAT_5XX];
    double rate = req ? (double)e5 / (double)req : 0.0;
    char why[256];
    if (req > 0 && rate > d->max_error_rate &&
        (elapsed >= d->probation_ms || req >= d->probation_requests)) {
        snprintf(why, sizeof(why),
                 "probation: %llu of %llu responses were 5xx (%.1f%%, more than "
                 "release.max_error_rate %.1f%%)",
                 (unsigned long long)e5, (unsigned long long)req, rate * 100.0,
                 d->max_error_rate * 100.0);
        uv_timer_stop(&d->timer);
        fail(d, why, true);
        return;
    }
    if (elapsed >= d->probation_ms && req >= d->probation_requests) {
        uv_timer_stop(&d->timer);
        progress(d, "probation", "passed: %llu requests, %llu 5xx, no worker exit in %llu ms",
                 (unsigned long long)req, (unsigned long long)e5, (unsigned long long)elapsed);
        commit(d, "ok");
        return;
    }
    if (elapsed >= d->probation_timeout_ms && elapsed >= d->probation_ms) {
        uv_timer_stop(&d->timer);
        progress(d, "probation",
                 "INCONCLUSIVE: only %llu of the %u requests release.probation_requests asks "
                 "for came within release.probation_timeout; no failure seen",
                 (unsigned long long)req, d->probation_requests);
        commit(d, "inconclusive");
    }
}

/* A worker of the new generation failed app.probe inside probation (the watch stopped itself). */
static void on_probe_failed(struct baton_supervisor *sup, const char *text, void *data)
{
    struct baton_deploy *d = data;
    char why[1400];
    d->probes = NULL;
    if (sup->deploy != d || d->phase != PH_PROBATION)
        return;
    uv_timer_stop(&d->timer);
    snprintf(why, sizeof(why), "probation: %s", text);
    fail(d, why, true);
}

static void probation_start(struct baton_deploy *d)
{
    struct baton_supervisor *sup = d->sup;
    const struct baton_generation *g = find_gen(sup, d->gen);
    d->phase = PH_PROBATION;
    d->probation_started_ms = baton__clock_now_ms();
    memset(&d->base, 0, sizeof(d->base));
    (void)g; /* the generation is new: its counters start at zero */
    journal(d, BATON_STEP_PROBATION);
    progress(d, "probation",
             "generation %ld serves %s: probation for %llu ms and %u requests (max 5xx %.1f%%)",
             d->gen, d->version, (unsigned long long)d->probation_ms, d->probation_requests,
             d->max_error_rate * 100.0);
    if (!d->timer_open) {
        uv_timer_init(sup->loop, &d->timer);
        d->timer.data = d;
        d->timer_open = true;
    }
    uv_timer_start(&d->timer, on_probation_tick, PROBATION_TICK_MS, PROBATION_TICK_MS);
    d->probes = baton__probe_watch_start(sup, d->gen, on_probe_failed, d);
}

/* A resumed deploy whose first generation failed: back to the previous release. */
static void on_resumed_failure(uv_timer_t *t)
{
    struct baton_deploy *d = t->data;
    if (d->sup->deploy != d || d->phase != PH_PROBATION || !d->exited)
        return;
    char why[512];
    snprintf(why, sizeof(why), "%s", d->reason);
    fail(d, why, true);
}

bool baton__deploy_rollout_done(struct baton_supervisor *sup, const struct baton_verdict *v)
{
    struct baton_deploy *d = sup->deploy;
    if (!d || (d->phase != PH_ROLLOUT && d->phase != PH_RESTORE))
        return false;
    if (d->phase == PH_RESTORE) {
        char err[700];
        if (v->ok) {
            finish(d, false, "failed", d->reason);
        } else {
            snprintf(err, sizeof(err), "%s; and starting %s again failed: %s", d->reason, d->from,
                     v->error ? v->error : "?");
            finish(d, false, "failed", err);
        }
        return true;
    }
    if (!v->ok && d->resumed) {
        /* No old generation to restore (the first one failed): the previous release starts
         * again, from the loop's next turn (this runs inside the machine's callback). */
        snprintf(d->reason, sizeof(d->reason), "%s",
                 v->error ? v->error : "the new generation failed to start");
        d->phase = PH_PROBATION;
        d->exited = true;
        uv_timer_start(&d->timer, on_resumed_failure, 0, 0);
        return true;
    }
    if (!v->ok) {
        /* The rollout restored the old generation's workers: only current goes back. */
        fail(d, v->error ? v->error : "the new generation failed to start", false);
        return true;
    }
    d->gen = v->gen;
    progress(d, "reload", "%s", v->msg ? v->msg : "ready");
    if (d->rollback) {
        commit(d, "ok");
        return true;
    }
    probation_start(d);
    return true;
}

void baton__deploy_worker_exit(struct baton_supervisor *sup, const struct baton_worker *w, int st)
{
    struct baton_deploy *d = sup->deploy;
    if (!d || d->phase != PH_PROBATION || w->gen->id != d->gen ||
        w->state == BATON_WORKER_DRAINING || w->state == BATON_WORKER_KILLED)
        return;
    char why[256];
    if (WIFSIGNALED(st))
        snprintf(why, sizeof(why), "probation: worker %ld (slot %u) was killed by signal %d (%s)",
                 (long)w->pid, w->slot, WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(why, sizeof(why), "probation: worker %ld (slot %u) exited with status %d",
                 (long)w->pid, w->slot, WEXITSTATUS(st));
    uv_timer_stop(&d->timer);
    snprintf(d->reason, sizeof(d->reason), "%s", why);
    d->exited = true; /* failed once the exit went through the machine: after_reap */
}

void baton__deploy_after_reap(struct baton_supervisor *sup)
{
    struct baton_deploy *d = sup->deploy;
    if (!d || d->phase != PH_PROBATION || !d->exited)
        return;
    char why[512];
    snprintf(why, sizeof(why), "%s", d->reason);
    fail(d, why, true);
}

/* ---- requests ------------------------------------------------------------------------------ */

static void releases_reply(struct baton_supervisor *sup, struct baton_control_client *c)
{
    struct baton_journal_state st;
    char err[256], cur[BATON_VERSION_MAX + 1] = "";
    if (baton_journal_read(sup->release_fd, &st, err, sizeof(err)) < 0) {
        reply_error(sup, c, err, false);
        return;
    }
    (void)baton_release_current(sup->release_fd, cur, sizeof(cur));
    struct baton_buf b = BATON_BUF_INIT(BATON_CONTROL_REPLY_MAX);
    baton__buf_puts(&b, "{");
    baton__json_kv_bool(&b, "ok", 1);
    baton__json_kv_str(&b, "current", cur);
    baton__json_kv_str(&b, "previous", st.previous);
    baton__json_key(&b, "releases");
    baton__buf_puts(&b, "[");
    for (size_t i = 0; i < st.n_releases; i++) {
        const struct baton_release_info *r = &st.releases[i];
        baton__buf_puts(&b, i ? ",{" : "{");
        baton__json_kv_str(&b, "version", r->version);
        baton__json_kv_str(&b, "state", baton_release_state_name(r->state));
        baton__json_kv_bool(&b, "current", strcmp(r->version, cur) == 0);
        baton__json_kv_int(&b, "installed_at", r->installed_at);
        baton__json_kv_str(&b, "sha256", r->sha256);
        baton__json_kv_str(&b, "key_id", r->key_id);
        baton__json_kv_str(&b, "verdict", r->verdict);
        baton__json_kv_str(&b, "reason", r->reason);
        baton__buf_puts(&b, "}");
    }
    baton__buf_puts(&b, "]}");
    baton_journal_state_free(&st);
    baton__ctl_send(c, b.data, b.len);
    baton__buf_free(&b);
}

/* What a deploy takes from `release:` of the config it starts (or resumes) under. */
static void take_release_settings(struct baton_deploy *d, const struct baton_config *config)
{
    d->trust = config->release.trust ? baton__xstrdup(config->release.trust) : NULL;
    d->keep = config->release.keep;
    d->max_size = config->release.max_size;
    d->probation_ms = config->release.probation_ms;
    d->probation_requests = config->release.probation_requests;
    d->probation_timeout_ms = config->release.probation_timeout_ms;
    d->max_error_rate = config->release.max_error_rate;
}

/* A deploy or rollback for req (client c, or NULL), from the configuration as it is now; NULL
 * with the reason in err when the configuration cannot be read. */
static struct baton_deploy *deploy_new(struct baton_supervisor *sup, struct baton_control_client *c,
                                       const struct baton_control_request *req, char *errbuf,
                                       size_t errsz)
{
    struct baton_config *config = NULL;
    struct baton_buf err = BATON_BUF_INIT(64 * 1024);
    if (baton__config_load(sup->options, &config, &err) < 0) {
        snprintf(errbuf, errsz, "configuration error: %s", err.data ? err.data : "?");
        baton__buf_free(&err);
        return NULL;
    }
    baton__buf_free(&err);

    struct baton_deploy *d = baton__xcalloc(1, sizeof(*d));
    d->sup = sup;
    d->client = c;
    d->req = *req;
    d->rollback = req->cmd == BATON_CONTROL_ROLLBACK;
    d->root_fd = sup->release_fd;
    d->lock_fd = -1;
    take_release_settings(d, config);
    baton__config_free(config);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(d->id, sizeof(d->id), "%lld-%ld", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
             (long)getpid());
    char v[BATON_VERSION_MAX + 1] = "";
    if (req->version[0])
        snprintf(v, sizeof(v), "%s", req->version);
    else if (!d->rollback) {
        const char *base = strrchr(req->artifact, '/');
        if (baton_version_from_name(base ? base + 1 : req->artifact, v, sizeof(v)) < 0)
            snprintf(v, sizeof(v), "%.64s", base ? base + 1 : req->artifact);
    }
    snprintf(d->what, sizeof(d->what), "%s of %s", d->rollback ? "rollback" : "deploy",
             v[0] ? v : "the previous release");
    return d;
}

int baton__deploy_pulled(struct baton_supervisor *sup, const char *artifact, const char *version,
                         char *err, size_t errsz)
{
    struct baton_control_request req = {.cmd = BATON_CONTROL_DEPLOY};
    if (sup->release_fd < 0 || artifact[0] != '/' || strlen(artifact) >= sizeof(req.artifact) ||
        strlen(version) >= sizeof(req.version)) {
        snprintf(err, errsz, "cannot deploy %s", artifact);
        return -EINVAL;
    }
    if (sup->gens.stopping) {
        snprintf(err, errsz, "the supervisor is stopping");
        return -ECANCELED;
    }
    if (sup->deploy || sup->deploy_queue || sup->probation ||
        sup->gens.transition != BATON_TRANSITION_NONE) {
        baton__sup_busy_message(sup, err, errsz);
        return -EBUSY;
    }
    snprintf(req.artifact, sizeof(req.artifact), "%s", artifact);
    snprintf(req.version, sizeof(req.version), "%s", version);
    struct baton_deploy *d = deploy_new(sup, NULL, &req, err, errsz);
    if (!d)
        return -EINVAL;
    d->pulled = true;
    sup->deploy = d;
    start(d);
    return 0;
}

void baton__deploy_request(struct baton_supervisor *sup, struct baton_control_client *c,
                           const struct baton_control_request *req)
{
    if (sup->release_fd < 0) {
        reply_error(sup, c,
                    "deploys need release.root in the configuration (and a supervisor started "
                    "with it)",
                    false);
        return;
    }
    if (req->cmd == BATON_CONTROL_RELEASES) {
        releases_reply(sup, c);
        baton__ctl_tx_done(sup, c);
        return;
    }
    if (req->cmd == BATON_CONTROL_DEPLOY && req->artifact[0] != '/') {
        reply_error(sup, c, "the artifact path must be absolute", false);
        return;
    }
    char why[1024];
    struct baton_deploy *d = deploy_new(sup, c, req, why, sizeof(why));
    if (!d) {
        reply_error(sup, c, why, false);
        return;
    }
    if (sup->deploy) {
        if (!req->wait) {
            /* The lock's own holder line: "busy: deploy of 1.4.0 (pid N) since T". */
            char msg[512];
            int fd;
            if (baton_deploy_lock(sup->release_fd, "probe", false, &fd, msg, sizeof(msg)) == 0) {
                baton_deploy_unlock(fd);
                snprintf(msg, sizeof(msg), "busy: %s (pid %ld)", sup->deploy->what, (long)getpid());
            }
            reply_error(sup, c, msg, true);
            deploy_free(d);
            return;
        }
        struct baton_deploy **p = &sup->deploy_queue;
        while (*p)
            p = &(*p)->next;
        *p = d;
        return;
    }
    if (sup->gens.transition != BATON_TRANSITION_NONE && !req->dry_run) {
        char busy[128];
        baton__sup_busy_message(sup, busy, sizeof(busy));
        reply_error(sup, c, busy, true);
        deploy_free(d);
        return;
    }
    sup->deploy = d;
    start(d);
}

void baton__deploy_client_gone(struct baton_supervisor *sup, struct baton_control_client *c)
{
    for (struct baton_deploy *d = sup->deploy; d; d = NULL)
        if (d->client == c)
            d->client = NULL;
    struct baton_deploy **p = &sup->deploy_queue;
    while (*p) {
        if ((*p)->client == c) {
            struct baton_deploy *gone = *p;
            *p = gone->next;
            deploy_free(gone);
        } else {
            p = &(*p)->next;
        }
    }
}

bool baton__deploy_busy(const struct baton_supervisor *sup, char *buf, size_t size)
{
    if (!sup->deploy)
        return false;
    snprintf(buf, size, "busy: %s (pid %ld) is running", sup->deploy->what, (long)getpid());
    return true;
}

void baton__deploy_gen_version(const struct baton_supervisor *sup, const struct baton_generation *g,
                               char *buf, size_t size)
{
    buf[0] = '\0';
    if (!sup->release_real || !g->dir)
        return;
    size_t n = strlen(sup->release_real);
    if (strncmp(g->dir, sup->release_real, n) != 0 || strncmp(g->dir + n, "/releases/", 10) != 0)
        return;
    const char *v = g->dir + n + 10;
    if (!strchr(v, '/'))
        snprintf(buf, size, "%s", v);
}

/* DESIGN.md "Crash safety": switched but not committed, and the running generation is the new
 * release (the dead supervisor's workers of it still serve, taken over by recover.c): probation
 * restarts instead of switching back. */
static bool resumable(const struct baton_supervisor *sup, const struct baton_journal_state *st)
{
    char cur[BATON_VERSION_MAX + 1], dir[PATH_MAX];
    const char *v = st->last_deploy_version;
    if ((st->recovery != BATON_RECOVER_SWITCH_BACK &&
         st->recovery != BATON_RECOVER_RESTART_PROBATION) ||
        strcmp(st->last_deploy_kind, "deploy") != 0 || !v[0] ||
        baton_release_current(sup->release_fd, cur, sizeof(cur)) < 0 || strcmp(cur, v) != 0)
        return false;
    snprintf(dir, sizeof(dir), "%s/releases/%s", sup->release_real, v);
    return baton__recover_serves_dir(sup, dir);
}

/* The deploy of st's last version, resumed: its first generation (generation 1 of this
 * supervisor, from `current`) is its rollout, then probation from the start. */
static void resume(struct baton_supervisor *sup, const struct baton_config *config,
                   const struct baton_journal_state *st, struct baton_journal *j, int lock)
{
    struct baton_deploy *d = baton__xcalloc(1, sizeof(*d));
    d->sup = sup;
    d->req.cmd = BATON_CONTROL_DEPLOY;
    d->resumed = d->switched = d->begun = true;
    d->phase = PH_ROLLOUT;
    d->root_fd = sup->release_fd;
    d->lock_fd = lock;
    d->journal = j;
    d->rec = st->last;
    snprintf(d->rec.version, sizeof(d->rec.version), "%s", st->last_deploy_version);
    snprintf(d->rec.from, sizeof(d->rec.from), "%s", st->last_deploy_from);
    d->rec.verdict[0] = d->rec.reason[0] = '\0';
    snprintf(d->id, sizeof(d->id), "%s", st->last.deploy);
    snprintf(d->version, sizeof(d->version), "%s", st->last_deploy_version);
    snprintf(d->from, sizeof(d->from), "%s", st->last_deploy_from);
    snprintf(d->what, sizeof(d->what), "deploy of %s (resumed)", d->version);
    take_release_settings(d, config);
    d->started_ms = d->step_started_ms = baton__clock_now_ms();
    uv_timer_init(sup->loop, &d->timer);
    d->timer.data = d;
    d->timer_open = true;
    sup->deploy = d;
    baton__log(BATON_LOG_NOTICE,
               "release.root: the supervisor died during the deploy of %s, whose workers still "
               "serve: %s stays current and its probation restarts (failing it goes back to %s)",
               d->version, d->version, d->from[0] ? d->from : "no release");
}

int baton__deploy_open(struct baton_supervisor *sup, const struct baton_config *config)
{
    char err[512], real[PATH_MAX];
    sup->release_fd = -1;
    if (!config->release.root)
        return 0;
    int r = baton_release_root_open(config->release.root, &sup->release_fd, err, sizeof(err));
    if (r < 0) {
        baton__log(BATON_LOG_ERROR, "release.root %s: %s", config->release.root, err);
        return r;
    }
    sup->release_real =
        baton__xstrdup(realpath(config->release.root, real) ? real : config->release.root);
    /* Crash safety: whatever the last deploy left unfinished is finished or undone first. */
    int lock;
    if (baton_deploy_lock(sup->release_fd, "recovery", false, &lock, err, sizeof(err)) < 0) {
        baton__log(BATON_LOG_WARNING, "release.root: no recovery: %s", err);
        return 0;
    }
    struct baton_journal *j = NULL;
    struct baton_journal_state st;
    if (baton_journal_open(sup->release_fd, &j, err, sizeof(err)) < 0 ||
        baton_journal_read(sup->release_fd, &st, err, sizeof(err)) < 0) {
        baton__log(BATON_LOG_ERROR, "release.root: journal: %s", err);
        if (j)
            baton_journal_close(j);
        baton_deploy_unlock(lock);
        return -EIO;
    }
    if (resumable(sup, &st)) {
        /* The journal and the lock go to the resumed deploy, which ends like any other. */
        resume(sup, config, &st, j, lock);
        baton_journal_state_free(&st);
        return 0;
    }
    if (st.recovery != BATON_RECOVER_NONE) {
        r = baton_deploy_recover(sup->release_fd, j, &st, config->release.keep, err, sizeof(err));
        if (r < 0)
            baton__log(BATON_LOG_ERROR, "release.root: recovery (%s) failed: %s",
                       baton_recovery_name(st.recovery), err);
        else
            baton__log(BATON_LOG_NOTICE, "release.root: recovered the last deploy of %s: %s",
                       st.last_deploy_version, baton_recovery_name(st.recovery));
    }
    baton_journal_state_free(&st);
    baton_journal_close(j);
    baton_deploy_unlock(lock);
    return 0;
}

bool baton__deploy_has_release(const struct baton_supervisor *sup)
{
    char v[BATON_VERSION_MAX + 1];
    return sup->release_fd < 0 || baton_release_current(sup->release_fd, v, sizeof(v)) == 0;
}

void baton__deploy_close(struct baton_supervisor *sup)
{
    struct baton_deploy *d;
    while ((d = sup->deploy_queue)) {
        sup->deploy_queue = d->next;
        deploy_free(d);
    }
    if (sup->deploy) {
        if (sup->deploy->phase == PH_WORK)
            sup->deploy->abandoned = true;
        else
            deploy_free(sup->deploy);
        sup->deploy = NULL;
    }
    if (sup->release_fd >= 0)
        close(sup->release_fd);
    sup->release_fd = -1;
    free(sup->release_real);
    sup->release_real = NULL;
}
