/* SPDX-License-Identifier: MIT */
/* One change at a time per release.root: flock(2) on .baton/lock. The kernel drops the lock
 * when its holder dies, so it is never stale; the holder line is only for the busy message. */
#include "deploy/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define LOCK ".baton/lock"

int baton_deploy_lock(int root_fd, const char *what, bool wait, int *ret_fd, char *err,
                      size_t errsz)
{
    if (!what || !ret_fd)
        return -EINVAL;
    int fd = openat(root_fd, LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
    if (fd < 0)
        return baton__deploy_fail(err, errsz, -errno, "cannot open %s: %s", LOCK, strerror(errno));
    while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
        if (errno == EINTR)
            continue;
        int r = -errno;
        if (r == -EWOULDBLOCK) {
            char holder[256];
            ssize_t n = pread(fd, holder, sizeof(holder) - 1, 0);
            holder[n > 0 ? n : 0] = '\0';
            holder[strcspn(holder, "\n")] = '\0';
            r = baton__deploy_fail(err, errsz, -EBUSY, "busy: %s",
                                   holder[0] ? holder : "another change is in progress");
        } else {
            baton__deploy_fail(err, errsz, r, "cannot lock %s: %s", LOCK, strerror(-r));
        }
        close(fd);
        return r;
    }
    char line[256], when[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    int n = snprintf(line, sizeof(line), "%s (pid %ld) since %s\n", what, (long)getpid(), when);
    if (n >= (int)sizeof(line))
        n = (int)sizeof(line) - 1;
    if (ftruncate(fd, 0) < 0 || pwrite(fd, line, (size_t)n, 0) != n) {
        int r = -errno;
        close(fd);
        return baton__deploy_fail(err, errsz, r ? r : -EIO, "cannot write %s", LOCK);
    }
    *ret_fd = fd;
    return 0;
}

void baton_deploy_unlock(int fd)
{
    if (fd < 0)
        return;
    (void)ftruncate(fd, 0);
    close(fd);
}
