/* SPDX-License-Identifier: MIT */
/* Retention on disk and the recovery of a deploy interrupted by a crash (DESIGN.md "Crash
 * safety"): the journal's last record says what was done; the disk is brought in line. */
#include "deploy/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int journal(struct baton_journal *j, const char *deploy, enum baton_journal_step step,
                   const char *version, const char *from, const char *reason, char *err,
                   size_t errsz)
{
    struct baton_journal_record r = {.step = step};
    snprintf(r.deploy, sizeof(r.deploy), "%s", deploy);
    snprintf(r.version, sizeof(r.version), "%s", version ? version : "");
    snprintf(r.from, sizeof(r.from), "%s", from ? from : "");
    snprintf(r.reason, sizeof(r.reason), "%s", reason ? reason : "");
    if (step == BATON_STEP_FAILED)
        strcpy(r.verdict, "failed");
    return baton_journal_append(j, &r, err, errsz);
}

int baton_release_prune(int root_fd, struct baton_journal *j, const struct baton_journal_state *st,
                        unsigned keep, const char *deploy, char *err, size_t errsz)
{
    if (st->n_releases == 0)
        return 0;
    bool *prune = calloc(st->n_releases, sizeof(*prune));
    if (!prune)
        return -ENOMEM;
    char disk_current[BATON_VERSION_MAX + 1] = "";
    (void)baton_release_current(root_fd, disk_current, sizeof(disk_current));
    baton_release_plan_prune(st->releases, st->n_releases, st->current[0] ? st->current : NULL,
                             st->previous[0] ? st->previous : NULL, keep, prune);
    int r = 0, count = 0;
    for (size_t i = 0; i < st->n_releases && r >= 0; i++) {
        if (!prune[i] || !strcmp(st->releases[i].version, disk_current))
            continue;
        r = baton_release_remove(root_fd, st->releases[i].version, err, errsz);
        if (r == -ENOENT)
            r = 0;
        if (r == 0)
            r = journal(j, deploy, BATON_STEP_PRUNED, st->releases[i].version, NULL, NULL, err,
                        errsz);
        if (r == 0)
            count++;
    }
    free(prune);
    return r < 0 ? r : count;
}

/* Puts current back on `from` when it points elsewhere (a switch that began). */
static int restore_current(int root_fd, const char *from, const char *version, char *err,
                           size_t errsz)
{
    char cur[BATON_VERSION_MAX + 1];
    int r = baton_release_current(root_fd, cur, sizeof(cur));
    if (from[0]) {
        if (r == 0 && !strcmp(cur, from))
            return 0;
        return baton_release_switch(root_fd, from, err, errsz);
    }
    /* a first deploy: there was no current before it */
    if (r == 0 && !strcmp(cur, version)) {
        if (unlinkat(root_fd, "current", 0) < 0)
            return baton__deploy_fail(err, errsz, -errno, "cannot remove current: %s",
                                      strerror(errno));
        if (fsync(root_fd) < 0)
            return baton__deploy_fail(err, errsz, -errno, "fsync release.root: %s",
                                      strerror(errno));
    }
    return 0;
}

int baton_deploy_recover(int root_fd, struct baton_journal *j, const struct baton_journal_state *st,
                         unsigned keep, char *err, size_t errsz)
{
    const char *id = st->last.deploy;
    const char *v = st->last_deploy_version;
    const char *from = st->last_deploy_from;
    char reason[256];
    int r = baton_release_remove_temporary(root_fd);
    if (r < 0)
        return baton__deploy_fail(err, errsz, r, "cannot clean releases/: %s", strerror(-r));
    switch (st->recovery) {
    case BATON_RECOVER_NONE:
    case BATON_RECOVER_RESTART_PROBATION:
        return (int)st->recovery;
    case BATON_RECOVER_REMOVE_TEMP:
        if (v[0] && baton_version_valid(v) && !baton_journal_state_find(st, v) &&
            !strcmp(st->last_deploy_kind, "deploy")) {
            r = restore_current(root_fd, from, v, err, errsz);
            if (r == 0)
                r = baton_release_remove(root_fd, v, err, errsz);
            if (r == -ENOENT)
                r = 0;
        }
        if (r == 0)
            r = journal(j, id, BATON_STEP_FAILED, v, from,
                        "interrupted before the release was installed", err, errsz);
        break;
    case BATON_RECOVER_MARK_UNFINISHED:
        r = restore_current(root_fd, from, v, err, errsz);
        if (r == 0)
            r = journal(j, id, BATON_STEP_DONE, v, NULL,
                        "interrupted after install: release left unfinished", err, errsz);
        break;
    case BATON_RECOVER_SWITCH_BACK:
        r = baton_release_switch(root_fd, from, err, errsz);
        snprintf(reason, sizeof(reason), "interrupted before commit: switched back to %s", from);
        if (r == 0)
            r = journal(j, id, BATON_STEP_FAILED, v, from, reason, err, errsz);
        break;
    case BATON_RECOVER_PRUNE:
        r = baton_release_prune(root_fd, j, st, keep, id, err, errsz);
        if (r >= 0)
            r = journal(j, id, BATON_STEP_DONE, v, NULL, NULL, err, errsz);
        break;
    }
    return r < 0 ? r : (int)st->recovery;
}
