/* SPDX-License-Identifier: MIT */
/*
 * Socket hand-over: systemd's socket-activation protocol, as baton's supervisor speaks it.
 *
 * A supervised process finds its listeners at fds 3, 4, ... described by three variables:
 * LISTEN_FDS (how many), LISTEN_PID (which process they are meant for) and LISTEN_FDNAMES
 * (their names, separated by ':'). The variables are read on every call and never cached, so
 * the result always matches the environment the caller sees.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "baton/baton.h"
#include "internal.h"

/*
 * Parses a whole string as an unsigned decimal no larger than max: no sign, no spaces, no
 * trailing characters. Returns 0 or -EINVAL.
 */
static int parse_count(const char *s, unsigned long max, unsigned long *ret)
{
    unsigned long v = 0;

    if (*s == '\0')
        return -EINVAL;
    for (; *s != '\0'; s++) {
        unsigned long digit = (unsigned long)(*s - '0');

        if (*s < '0' || *s > '9' || digit > max || v > (max - digit) / 10)
            return -EINVAL;
        v = v * 10 + digit;
    }
    *ret = v;
    return 0;
}

/*
 * The most listeners LISTEN_FDS may announce: every one must fit in this process's fd table,
 * so a huge count is malformed rather than a reason to probe billions of fds.
 */
static unsigned long listen_fds_max(void)
{
    struct rlimit rl;
    unsigned long max = INT_MAX - BATON_LISTEN_FDS_START;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)max + BATON_LISTEN_FDS_START)
        max = rl.rlim_cur > BATON_LISTEN_FDS_START ? rl.rlim_cur - BATON_LISTEN_FDS_START : 0;
    return max;
}

static int listen_fds(void)
{
    const char *e;
    unsigned long pid, n;
    int r;

    e = getenv("LISTEN_PID");
    if (e == NULL)
        return 0;
    r = parse_count(e, INT_MAX, &pid);
    if (r < 0 || pid == 0)
        return -EINVAL;
    /* The variables were meant for another process (a parent that did not clean up). */
    if ((pid_t)pid != getpid())
        return 0;

    e = getenv("LISTEN_FDS");
    if (e == NULL)
        return 0;
    /* systemd refuses LISTEN_FDS=0 too: a sender with no listeners sets no variables. */
    r = parse_count(e, listen_fds_max(), &n);
    if (r < 0 || n == 0)
        return -EINVAL;

    /*
     * Inherited listeners must not leak into programs this process runs in turn. An fd that is
     * not open means the environment lies about what was passed.
     */
    for (int fd = BATON_LISTEN_FDS_START; fd < BATON_LISTEN_FDS_START + (int)n; fd++) {
        int flags = fcntl(fd, F_GETFD);

        if (flags < 0)
            return -errno;
        if (!(flags & FD_CLOEXEC) && fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
            return -errno;
    }
    return (int)n;
}

int baton_listen_fds(int unset_environment)
{
    int r = listen_fds();

    if (unset_environment) {
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
    }
    return r;
}

/*
 * Checks LISTEN_FDNAMES against n listeners: at most n names, each at most BATON__FDNAME_MAX
 * printable ASCII characters other than ':'. Fewer names than listeners is allowed (the rest
 * are "unknown"), as are empty names. Returns 0 or -EINVAL.
 */
static int validate_names(const char *names, int n)
{
    int count = 1;
    size_t len = 0;

    if (names == NULL)
        return 0;
    for (const char *p = names; *p != '\0'; p++) {
        if (*p == ':') {
            count++;
            len = 0;
            continue;
        }
        if (*p < 0x20 || *p > 0x7e || ++len > BATON__FDNAME_MAX)
            return -EINVAL;
    }
    return count <= n ? 0 : -EINVAL;
}

/* Finds the name of listener `index` in validated LISTEN_FDNAMES (names may be NULL). */
static void name_at(const char *names, int index, const char **ret, size_t *ret_len)
{
    const char *p = names, *end;

    for (int i = 0; p != NULL && i < index; i++) {
        p = strchr(p, ':');
        if (p != NULL)
            p++;
    }
    if (p == NULL || *p == '\0' || *p == ':') {
        *ret = BATON__FDNAME_UNKNOWN;
        *ret_len = strlen(BATON__FDNAME_UNKNOWN);
        return;
    }
    end = strchr(p, ':');
    *ret = p;
    *ret_len = end != NULL ? (size_t)(end - p) : strlen(p);
}

int baton_listen_fd_by_name(const char *name)
{
    const char *names = getenv("LISTEN_FDNAMES");
    int n, r;

    if (name == NULL || *name == '\0')
        return -EINVAL;
    n = baton_listen_fds(0);
    if (n <= 0)
        return n < 0 ? n : -ENOENT;
    r = validate_names(names, n);
    if (r < 0)
        return r;
    for (int i = 0; i < n; i++) {
        const char *p;
        size_t len;

        name_at(names, i, &p, &len);
        if (len == strlen(name) && memcmp(p, name, len) == 0)
            return BATON_LISTEN_FDS_START + i;
    }
    return -ENOENT;
}

int baton_listen_fd_name(int fd, char *buf, size_t size)
{
    const char *names = getenv("LISTEN_FDNAMES");
    const char *p;
    size_t len;
    int n, r;

    if (buf == NULL)
        return -EINVAL;
    n = baton_listen_fds(0);
    if (n < 0)
        return n;
    if (fd < BATON_LISTEN_FDS_START || fd >= BATON_LISTEN_FDS_START + n)
        return -ENOENT;
    r = validate_names(names, n);
    if (r < 0)
        return r;
    name_at(names, fd - BATON_LISTEN_FDS_START, &p, &len);
    if (len >= size)
        return -ENOBUFS;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return 0;
}
