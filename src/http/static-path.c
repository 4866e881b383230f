/* SPDX-License-Identifier: MIT */
/*
 * Static files: from a decoded request path to an open file that is certainly beneath the root.
 *
 * Two layers, each sufficient on its own for containment: the path check refuses `.`/`..`
 * segments and hidden names before any syscall, and the resolver makes the kernel refuse any
 * walk that leaves the root (through symlinks too), with openat2(RESOLVE_BENEATH) or, on old
 * kernels, by refusing every symlink along the way.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "http/static-internal.h"

/* What the server may append to a checked path: "/index.html" then ".br" or ".gz". */
#define SUFFIX_ROOM (sizeof("/index.html") - 1 + sizeof(".br") - 1)

/* openat2 answers EAGAIN when a concurrent rename could have moved a ".." out of the root; the
 * man page invites a retry. Our paths hold no "..", only symlink targets can. */
#define OPENAT2_RETRIES 8

/* The open flags for the file itself. O_NONBLOCK keeps a FIFO planted in the root from blocking
 * the event loop in open(2); it changes nothing for sendfile(2) from a regular file. */
#define FILE_FLAGS (O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)

static bool segment_hidden(const char *seg, size_t len)
{
    static const char well_known[] = ".well-known";

    if (seg[0] != '.')
        return false;
    /* RFC 8615 names (ACME challenges, security.txt) live under /.well-known/. */
    return !(len == sizeof(well_known) - 1 && memcmp(seg, well_known, len) == 0);
}

int baton__static_path_check(const char *path, char *out, size_t outlen, bool *ret_slash)
{
    const char *p = path;
    size_t n = 0;

    if (!path || !out || path[0] != '/')
        return -EINVAL;
    if (outlen <= SUFFIX_ROOM)
        return -ENAMETOOLONG;
    while (*p) {
        const char *seg;
        size_t len;

        while (*p == '/')
            p++;
        seg = p;
        while (*p && *p != '/') {
            /* Control bytes never name a served file; they only smuggle things past logs. */
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return -EINVAL;
            p++;
        }
        len = (size_t)(p - seg);
        if (len == 0)
            break;
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return -EINVAL;
        if (segment_hidden(seg, len))
            return -ENOENT;
        if (len > NAME_MAX)
            return -ENAMETOOLONG;
        /* Room for a separator, the segment, the suffixes and the NUL. */
        if (n + (n > 0) + len + SUFFIX_ROOM + 1 > outlen)
            return -ENAMETOOLONG;
        if (n > 0)
            out[n++] = '/';
        memcpy(out + n, seg, len);
        n += len;
    }
    out[n] = '\0';
    *ret_slash = path[strlen(path) - 1] == '/';
    return (int)n;
}

static int resolve_openat2(int root_fd, const char *rel, int *ret_fd)
{
    struct open_how how = {
        .flags = FILE_FLAGS,
        /* BENEATH: no component (nor symlink target) may leave root_fd, absolute symlinks
         * included. NO_MAGICLINKS: /proc/self/fd-style links would jump anywhere. */
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd = -1;

    for (int i = 0; i < OPENAT2_RETRIES; i++) {
        fd = syscall(SYS_openat2, root_fd, rel[0] ? rel : ".", &how, sizeof(how));
        if (fd >= 0 || errno != EAGAIN)
            break;
    }
    if (fd < 0)
        return -errno;
    *ret_fd = (int)fd;
    return 0;
}

/*
 * Walks `rel` one component at a time with O_NOFOLLOW. The checked path has no "." or ".."
 * and no component may be a symlink, so the walk cannot leave the root. A mount point inside
 * the root is crossed like any directory.
 */
static int resolve_nofollow(int root_fd, const char *rel, int *ret_fd)
{
    char comp[NAME_MAX + 1];
    const char *p = rel;
    int dir = root_fd, fd = -1, r;

    if (!rel[0]) {
        fd = openat(root_fd, ".", FILE_FLAGS);
        if (fd < 0)
            return -errno;
        *ret_fd = fd;
        return 0;
    }
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);

        if (len == 0 || len > NAME_MAX) {
            r = -EINVAL;
            goto out;
        }
        memcpy(comp, p, len);
        comp[len] = '\0';
        if (!slash) {
            fd = openat(dir, comp, FILE_FLAGS | O_NOFOLLOW);
            r = fd < 0 ? -errno : 0;
            goto out;
        }
        /* O_PATH|O_NOFOLLOW would open a symlink itself; O_DIRECTORY makes that ENOTDIR. */
        fd = openat(dir, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            r = -errno;
            goto out;
        }
        if (dir != root_fd)
            close(dir);
        dir = fd;
        fd = -1;
        p = slash + 1;
    }
out:
    if (dir != root_fd)
        close(dir);
    if (r == 0)
        *ret_fd = fd;
    return r;
}

int baton__static_resolve(int root_fd, const char *rel, enum baton_static_resolve how, int *ret_fd)
{
    if (root_fd < 0 || !rel || !ret_fd || rel[0] == '/')
        return -EINVAL;
    if (how == BATON_STATIC_RESOLVE_OPENAT2)
        return resolve_openat2(root_fd, rel, ret_fd);
    return resolve_nofollow(root_fd, rel, ret_fd);
}

enum baton_static_resolve baton__static_resolve_probe(int root_fd)
{
    struct open_how how = {
        .flags = O_PATH | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, root_fd, ".", &how, sizeof(how));

    if (fd >= 0) {
        close((int)fd);
        return BATON_STATIC_RESOLVE_OPENAT2;
    }
    /* Kernels before 5.6 answer ENOSYS; container seccomp profiles that predate openat2
     * answer EPERM (or ENOSYS) for syscalls they do not know. */
    if (errno == ENOSYS || errno == EPERM)
        return BATON_STATIC_RESOLVE_NOFOLLOW;
    return BATON_STATIC_RESOLVE_OPENAT2;
}
