/* SPDX-License-Identifier: MIT */
#include "common/fd.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int baton__fd_cloexec(int fd, bool on)
{
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0)
        return -errno;
    int nflags = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
    if (nflags != flags && fcntl(fd, F_SETFD, nflags) < 0)
        return -errno;
    return 0;
}

int baton__fd_nonblock(int fd, bool on)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return -errno;
    int nflags = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
    if (nflags != flags && fcntl(fd, F_SETFL, nflags) < 0)
        return -errno;
    return 0;
}

void baton__fd_closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
        *fd = -1;
    }
}

int baton__fd_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

ssize_t baton__fd_read_all(int fd, void *p, size_t n)
{
    char *c = p;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, c + got, n - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}
