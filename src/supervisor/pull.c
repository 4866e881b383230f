/* SPDX-License-Identifier: MIT */
/*
 * Pull mode (release.source, DESIGN.md "Pull mode"): the supervisor polls the update source and
 * deploys what it hands over exactly like `baton deploy ARTIFACT --version V`.
 *
 * The poll itself is the deploy library's baton_source_poll(), which blocks (libcurl's easy
 * interface): it runs on libuv's thread pool (uv_queue_work), scheduled by a one-shot timer on
 * the loop, one poll at a time. While it runs the loop touches nothing of the source but
 * baton_source_cancel() (shutdown), and `status` shows the status copied after the last poll.
 * The worker thread also reads the journal for the newest committed version (the downgrade
 * check), so the loop never reads files for a poll.
 *
 * A poll never starts while a deploy, a rollback, a reload or a reload's probation runs: the
 * timer looks again every BUSY_RETRY_MS until the supervisor is idle. A new version starts a
 * deploy without a control client (baton__deploy_pulled); its end comes back through
 * baton__pull_deploy_ended(), which removes the downloaded files, tells the source about a
 * failure (not retried until latest.json changes) and schedules the next poll. At start the
 * journal's failed releases are told to the source, so a restart does not retry them either.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/json.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "deploy/deploy.h"
#include "supervisor/internal.h"

/* How often a due poll looks again while the supervisor is busy. */
#define BUSY_RETRY_MS 250

struct baton_pull {
    struct baton_supervisor *sup;
    struct baton_source *src;
    char *url;
    int root_fd;
    uv_timer_t timer;
    uv_work_t work;
    unsigned refs;  /* the struct, the timer until closed, a poll until it returned */
    bool polling;   /* a poll runs on the thread pool */
    bool deploying; /* a pulled deploy runs: the next poll is scheduled when it ends */
    bool stopped;   /* the supervisor stops: no poll starts */
    bool closed;    /* baton__pull_close() ran: sup is gone once the poll returns */

    /* The poll's inputs and outputs (the worker thread's while polling). */
    char installed[BATON_VERSION_MAX + 1];
    struct baton_source_update upd;
    int r;
    char err[BATON_SOURCE_REASON];

    /* The loop's copy of the source's status, and what was last logged. */
    struct baton_source_status st;
    enum baton_poll_result logged;
    char logged_reason[BATON_SOURCE_REASON];
    char deploying_path[sizeof(((struct baton_source_update *)0)->path)];
};

static void pull_unref(struct baton_pull *p)
{
    if (--p->refs > 0)
        return;
    baton_source_free(p->src);
    if (p->root_fd >= 0)
        close(p->root_fd);
    free(p->url);
    free(p);
}

static void on_timer_closed(uv_handle_t *h)
{
    pull_unref(h->data);
}

static bool supervisor_busy(const struct baton_supervisor *sup)
{
    return sup->deploy || sup->deploy_queue || sup->probation ||
           sup->gens.transition != BATON_TRANSITION_NONE;
}

static void on_timer(uv_timer_t *t);

static void schedule(struct baton_pull *p, uint64_t delay_ms)
{
    if (!p->stopped && !p->closed)
        uv_timer_start(&p->timer, on_timer, delay_ms, 0);
}

/* Removes <path>, <path>.sha256 and <path>.minisig (a handed-over update's files). */
static void remove_update(const char *path)
{
    static const char *const ext[] = {"", ".sha256", ".minisig"};
    char f[sizeof(((struct baton_source_update *)0)->path) + 16];
    if (!path[0])
        return;
    for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
        snprintf(f, sizeof(f), "%s%s", path, ext[i]);
        if (unlink(f) < 0 && errno != ENOENT)
            baton__log(BATON_LOG_WARNING, "pull: removing %s: %s", f, strerror(errno));
    }
}

/* ---- the poll (worker thread: only p's poll fields and the source) ---------------------- */

static void newest_committed(int root_fd, char *buf, size_t size)
{
    struct baton_journal_state st;
    char err[256];
    buf[0] = '\0';
    if (baton_journal_read(root_fd, &st, err, sizeof(err)) < 0)
        return;
    for (size_t i = 0; i < st.n_releases; i++)
        if (st.releases[i].state == BATON_RELEASE_COMMITTED &&
            (!buf[0] || baton_version_cmp(st.releases[i].version, buf) > 0))
            snprintf(buf, size, "%s", st.releases[i].version);
    baton_journal_state_free(&st);
}

static void on_work(uv_work_t *w)
{
    struct baton_pull *p = w->data;
    newest_committed(p->root_fd, p->installed, sizeof(p->installed));
    p->err[0] = '\0';
    p->r = baton_source_poll(p->src, p->installed[0] ? p->installed : NULL, &p->upd, p->err,
                             sizeof(p->err));
}

/* ---- the loop ----------------------------------------------------------------------------- */

/* Logs a poll's outcome: changes at info (refusals and errors as warnings), repeats at debug. */
static void log_result(struct baton_pull *p)
{
    const struct baton_source_status *st = &p->st;
    bool same = st->result == p->logged && strcmp(st->reason, p->logged_reason) == 0;
    int level = BATON_LOG_INFO;
    if (st->result == BATON_POLL_REFUSED || st->result == BATON_POLL_ERROR)
        level = BATON_LOG_WARNING;
    if (same || st->result == BATON_POLL_NOT_MODIFIED)
        level = BATON_LOG_DEBUG;
    if (st->result != BATON_POLL_NEW_VERSION)
        baton__log(level, "pull: %s: %s%s%s", p->url, baton_poll_result_name(st->result),
                   st->reason[0] ? ": " : "", st->reason);
    p->logged = st->result;
    snprintf(p->logged_reason, sizeof(p->logged_reason), "%s", st->reason);
}

static void after_work(uv_work_t *w, int status)
{
    struct baton_pull *p = w->data;
    p->polling = false;
    if (p->closed) { /* the supervisor is gone: only the source and p are left */
        if (status == 0 && p->r == 1)
            remove_update(p->upd.path);
        pull_unref(p);
        return;
    }
    pull_unref(p); /* the poll's reference; the struct's own keeps p */
    if (status < 0) {
        schedule(p, baton_source_delay_ms(p->src));
        return;
    }
    struct baton_supervisor *sup = p->sup;
    baton_source_status(p->src, &p->st);
    log_result(p);
    if (p->r == 1) {
        char err[512];
        baton__log(BATON_LOG_NOTICE, "pull: pulled %s from %s (sha256 %.16s…): deploying it",
                   p->upd.version, p->url, p->upd.sha256);
        int r = baton__deploy_pulled(sup, p->upd.path, p->upd.version, err, sizeof(err));
        if (r == 0) {
            p->deploying = true;
            snprintf(p->deploying_path, sizeof(p->deploying_path), "%s", p->upd.path);
            return; /* the next poll is scheduled when the deploy ends */
        }
        baton__log(BATON_LOG_WARNING,
                   "pull: %s not deployed now: %s; looking again at the next "
                   "poll",
                   p->upd.version, err);
        remove_update(p->upd.path);
        baton_source_retry(p->src); /* judged again next time, not taken as unchanged */
    }
    schedule(p, baton_source_delay_ms(p->src));
}

static void on_timer(uv_timer_t *t)
{
    struct baton_pull *p = t->data;
    struct baton_supervisor *sup = p->sup;
    if (p->stopped || p->polling || p->deploying)
        return;
    if (supervisor_busy(sup)) {
        schedule(p, BUSY_RETRY_MS);
        return;
    }
    p->work.data = p;
    int r = uv_queue_work(sup->loop, &p->work, on_work, after_work);
    if (r < 0) {
        baton__log(BATON_LOG_ERROR, "pull: cannot queue the poll: %s", uv_strerror(r));
        schedule(p, baton_source_delay_ms(p->src) + 1000);
        return;
    }
    p->polling = true;
    p->refs++;
}

void baton__pull_deploy_ended(struct baton_supervisor *sup, const char *version, bool ok)
{
    struct baton_pull *p = sup->pull;
    if (!p || !p->deploying)
        return;
    p->deploying = false;
    remove_update(p->deploying_path);
    p->deploying_path[0] = '\0';
    if (!ok) {
        baton_source_failed(p->src, version);
        baton__log(BATON_LOG_WARNING,
                   "pull: the deploy of %s failed: not tried again until %s changes", version,
                   p->url);
    }
    baton_source_status(p->src, &p->st);
    schedule(p, baton_source_delay_ms(p->src));
}

int baton__pull_open(struct baton_supervisor *sup, const struct baton_config *config)
{
    char err[512], dir[4096];
    if (!config->release.source_url)
        return 0;
    if (sup->release_fd < 0 || !sup->release_real) {
        baton__log(BATON_LOG_ERROR, "release.source needs release.root: no pull mode");
        return -EINVAL;
    }
    snprintf(dir, sizeof(dir), "%s/.baton/downloads", sup->release_real);
    struct baton_source_config sc = {
        .url = config->release.source_url,
        .interval_ms = config->release.source_interval_ms,
        .trust = config->release.trust,
        .max_size = config->release.max_size,
        .download_dir = dir,
    };
    struct baton_source *src = NULL;
    int r = baton_source_new(&sc, &src, err, sizeof(err));
    if (r < 0) {
        baton__log(BATON_LOG_ERROR, "release.source %s: %s: no pull mode", sc.url, err);
        return r;
    }
    struct baton_pull *p = baton__xcalloc(1, sizeof(*p));
    p->sup = sup;
    p->src = src;
    p->url = baton__xstrdup(sc.url);
    /* Its own descriptor: a poll still running at exit outlives release_fd. */
    p->root_fd = fcntl(sup->release_fd, F_DUPFD_CLOEXEC, 3);
    if (p->root_fd < 0) {
        r = -errno;
        baton__log(BATON_LOG_ERROR, "release.source: %s: no pull mode", strerror(errno));
        baton_source_free(src);
        free(p);
        return r;
    }
    p->refs = 2; /* the struct and its timer */
    p->logged = BATON_POLL_NEVER;
    /* A failed release stays failed across restarts: not retried until latest.json changes. */
    struct baton_journal_state st;
    if (baton_journal_read(sup->release_fd, &st, err, sizeof(err)) == 0) {
        for (size_t i = 0; i < st.n_releases; i++)
            if (st.releases[i].state == BATON_RELEASE_FAILED)
                baton_source_failed(src, st.releases[i].version);
        baton_journal_state_free(&st);
    } else {
        baton__log(BATON_LOG_WARNING, "pull: journal: %s", err);
    }
    baton_source_status(src, &p->st);
    uv_timer_init(sup->loop, &p->timer);
    p->timer.data = p;
    sup->pull = p;
    baton__log(BATON_LOG_INFO, "pull: polling %s every %llu ms", p->url,
               (unsigned long long)sc.interval_ms);
    schedule(p, baton_source_delay_ms(src));
    return 0;
}

void baton__pull_stop(struct baton_supervisor *sup)
{
    struct baton_pull *p = sup->pull;
    if (!p || p->stopped)
        return;
    p->stopped = true;
    uv_timer_stop(&p->timer);
    baton_source_cancel(p->src); /* a poll in flight returns -ECANCELED within a moment */
}

void baton__pull_close(struct baton_supervisor *sup)
{
    struct baton_pull *p = sup->pull;
    if (!p)
        return;
    baton__pull_stop(sup);
    sup->pull = NULL;
    p->closed = true;
    p->sup = NULL;
    if (p->polling)
        (void)uv_cancel((uv_req_t *)&p->work); /* not started yet: after_work gets ECANCELED */
    if (p->deploying)
        remove_update(p->deploying_path); /* the deploy is abandoned with the supervisor */
    uv_close((uv_handle_t *)&p->timer, on_timer_closed);
    pull_unref(p);
}

void baton__pull_status_json(const struct baton_supervisor *sup, struct baton_buf *b)
{
    const struct baton_pull *p = sup->pull;
    if (!p)
        return;
    char line[1024];
    baton_source_status_format(&p->st, line, sizeof(line));
    baton__json_key(b, "source");
    baton__buf_puts(b, "{");
    baton__json_kv_str(b, "url", p->url);
    baton__json_kv_str(b, "line", line);
    baton__json_kv_int(b, "polls", (long long)p->st.polls);
    baton__json_kv_int(b, "last_poll", p->st.last_poll);
    baton__json_kv_str(b, "result", baton_poll_result_name(p->st.result));
    baton__json_kv_str(b, "reason", p->st.reason);
    baton__json_kv_str(b, "offered", p->st.version);
    baton__json_kv_int(b, "next_poll", p->st.next_poll);
    baton__json_kv_bool(b, "polling", p->polling);
    baton__json_kv_bool(b, "deploying", p->deploying);
    baton__buf_puts(b, "}");
}
