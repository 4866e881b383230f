/* SPDX-License-Identifier: MIT */
/* The release tree: release.root, the atomic and durable switch of current, listing, removal
 * and retention. */
#include "deploy/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CURRENT     "current"
#define CURRENT_NEW ".current.new"

int baton_release_root_open(const char *path, int *ret_fd, char *err, size_t errsz)
{
    if (!path || !path[0] || !ret_fd)
        return baton__deploy_fail(err, errsz, -EINVAL, "release.root is not set");
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return baton__deploy_fail(err, errsz, -errno, "cannot create %s: %s", path,
                                  strerror(errno));
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return baton__deploy_fail(err, errsz, -errno, "cannot open %s: %s", path, strerror(errno));
    static const char *const dirs[] = {"releases", ".baton"};
    for (size_t i = 0; i < 2; i++) {
        if (mkdirat(fd, dirs[i], i == 0 ? 0755 : 0700) == 0)
            continue;
        if (errno == EEXIST) {
            struct stat st;
            if (fstatat(fd, dirs[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
                continue;
            errno = ENOTDIR;
        }
        int r = -errno;
        close(fd);
        return baton__deploy_fail(err, errsz, r, "cannot create %s/%s: %s", path, dirs[i],
                                  strerror(-r));
    }
    *ret_fd = fd;
    return 0;
}

int baton_release_current(int root_fd, char *version, size_t versionsz)
{
    char target[PATH_MAX];
    ssize_t n = readlinkat(root_fd, CURRENT, target, sizeof(target) - 1);
    if (n < 0)
        return errno == EINVAL ? -ENOLINK : -errno;
    target[n] = '\0';
    static const char prefix[] = "releases/";
    if (strncmp(target, prefix, sizeof(prefix) - 1) != 0 ||
        !baton_version_valid(target + sizeof(prefix) - 1))
        return -ENOLINK;
    if (strlen(target + sizeof(prefix) - 1) >= versionsz)
        return -ENOBUFS;
    strcpy(version, target + sizeof(prefix) - 1);
    return 0;
}

int baton_release_switch(int root_fd, const char *version, char *err, size_t errsz)
{
    if (!baton_version_valid(version))
        return baton__deploy_fail(err, errsz, -EINVAL, "invalid version");
    char target[sizeof("releases/") + BATON_VERSION_MAX];
    snprintf(target, sizeof(target), "releases/%s", version);
    struct stat st;
    if (fstatat(root_fd, target, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
        return baton__deploy_fail(err, errsz, -ENOENT, "release %s is not installed", version);
    /* ln -sfn unlinks and re-creates: for a moment there is no current. A new link renamed over
     * the old one swaps atomically; the directory fsync makes the swap survive a power cut. */
    if (unlinkat(root_fd, CURRENT_NEW, 0) < 0 && errno != ENOENT)
        return baton__deploy_fail(err, errsz, -errno, "cannot remove %s: %s", CURRENT_NEW,
                                  strerror(errno));
    if (symlinkat(target, root_fd, CURRENT_NEW) < 0)
        return baton__deploy_fail(err, errsz, -errno, "cannot create %s: %s", CURRENT_NEW,
                                  strerror(errno));
    baton__deploy_test_point("switch-link");
    if (renameat(root_fd, CURRENT_NEW, root_fd, CURRENT) < 0) {
        int r = -errno;
        (void)unlinkat(root_fd, CURRENT_NEW, 0);
        return baton__deploy_fail(err, errsz, r, "cannot switch current: %s", strerror(-r));
    }
    baton__deploy_test_point("switch-rename");
    if (fsync(root_fd) < 0)
        return baton__deploy_fail(err, errsz, -errno, "fsync of release.root: %s", strerror(errno));
    return 0;
}

static int cmp_versions(const void *a, const void *b)
{
    return baton_version_cmp((const char *)a, (const char *)b);
}

/* Opens release.root/releases/ for reading its entries (never through a symlink). */
static int open_releases(int root_fd, DIR **ret)
{
    int fd = openat(root_fd, "releases", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    *ret = fdopendir(fd);
    if (!*ret) {
        int r = -errno;
        close(fd);
        return r;
    }
    return 0;
}

int baton_release_list(int root_fd, char (**ret_versions)[BATON_VERSION_MAX + 1])
{
    DIR *d;
    int r = open_releases(root_fd, &d);
    if (r < 0)
        return r;
    char(*v)[BATON_VERSION_MAX + 1] = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!baton_version_valid(e->d_name))
            continue; /* hidden temporary directories, strays */
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            void *p = realloc(v, cap * sizeof(*v));
            if (!p) {
                r = -ENOMEM;
                break;
            }
            v = p;
        }
        strcpy(v[n++], e->d_name);
    }
    closedir(d);
    if (r < 0) {
        free(v);
        return r;
    }
    if (n > INT_MAX) {
        free(v);
        return -EOVERFLOW;
    }
    if (n)
        qsort(v, n, sizeof(*v), cmp_versions);
    *ret_versions = v;
    return (int)n;
}

int baton_release_remove(int root_fd, const char *version, char *err, size_t errsz)
{
    if (!baton_version_valid(version))
        return baton__deploy_fail(err, errsz, -EINVAL, "invalid version");
    char cur[BATON_VERSION_MAX + 1];
    if (baton_release_current(root_fd, cur, sizeof(cur)) == 0 && !strcmp(cur, version))
        return baton__deploy_fail(err, errsz, -EBUSY, "release %s is current", version);
    int rel = openat(root_fd, "releases", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (rel < 0)
        return baton__deploy_fail(err, errsz, -errno, "cannot open releases/: %s", strerror(errno));
    char hidden[BATON_VERSION_MAX + 16];
    snprintf(hidden, sizeof(hidden), ".del-%s", version);
    int r = 0;
    (void)baton__deploy_rmtree(rel, hidden);
    if (renameat(rel, version, rel, hidden) < 0) {
        r = -errno;
        baton__deploy_fail(err, errsz, r, "cannot remove release %s: %s", version, strerror(-r));
        goto out;
    }
    if (fsync(rel) < 0) {
        r = baton__deploy_fail(err, errsz, -errno, "fsync releases/: %s", strerror(errno));
        goto out;
    }
    r = baton__deploy_rmtree(rel, hidden);
    if (r < 0)
        baton__deploy_fail(err, errsz, r, "cannot remove release %s: %s", version, strerror(-r));
out:
    close(rel);
    return r;
}

int baton_release_remove_temporary(int root_fd)
{
    DIR *d;
    int r = open_releases(root_fd, &d);
    if (r < 0)
        return r;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] != '.' || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        r = baton__deploy_rmtree(dirfd(d), e->d_name);
        if (r < 0)
            break;
        count++;
    }
    if (r == 0 && fsync(dirfd(d)) < 0)
        r = -errno;
    closedir(d);
    (void)unlinkat(root_fd, CURRENT_NEW, 0);
    return r < 0 ? r : count;
}

const char *baton_release_state_name(enum baton_release_state s)
{
    switch (s) {
    case BATON_RELEASE_UNFINISHED:
        return "unfinished";
    case BATON_RELEASE_PROBATION:
        return "probation";
    case BATON_RELEASE_COMMITTED:
        return "committed";
    case BATON_RELEASE_FAILED:
        return "failed";
    }
    return "unknown";
}

static bool same(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

size_t baton_release_plan_prune(const struct baton_release_info *rels, size_t n,
                                const char *current, const char *previous, unsigned keep,
                                bool *prune)
{
    size_t marked = 0;
    for (size_t i = 0; i < n; i++) {
        prune[i] = false;
        const struct baton_release_info *r = &rels[i];
        if (same(r->version, current) || same(r->version, previous) ||
            r->state == BATON_RELEASE_PROBATION)
            continue;
        if (r->state == BATON_RELEASE_FAILED || r->state == BATON_RELEASE_UNFINISHED) {
            prune[i] = true;
            marked++;
        }
    }
    /* committed releases other than current and previous: keep the `keep` newest versions */
    for (size_t i = 0; i < n; i++) {
        const struct baton_release_info *r = &rels[i];
        if (r->state != BATON_RELEASE_COMMITTED || same(r->version, current) ||
            same(r->version, previous))
            continue;
        unsigned newer = 0;
        for (size_t j = 0; j < n; j++) {
            const struct baton_release_info *o = &rels[j];
            if (j == i || o->state != BATON_RELEASE_COMMITTED || same(o->version, current) ||
                same(o->version, previous))
                continue;
            if (baton_version_cmp(o->version, r->version) > 0)
                newer++;
        }
        if (newer >= keep) {
            prune[i] = true;
            marked++;
        }
    }
    return marked;
}
