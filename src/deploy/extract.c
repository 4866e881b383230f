/* SPDX-License-Identifier: MIT */
/*
 * Safe extraction of a .tar.gz into a private temporary directory under releases/, then the
 * rename into place. Every path is walked one component at a time below the release with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so nothing is ever written through a symlink,
 * whatever the archive extracted before; names are checked before anything is created.
 */
#include "deploy/internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct ex {
    struct archive *a;
    int root; /* the temporary release directory */
    const struct baton_extract_limits *lim;
    char **names; /* open-addressing set of the entry names seen (duplicates) */
    size_t nnames, cap;
    uint64_t entries, bytes, declared;
    char *err;
    size_t errsz;
};

#define FAIL(x, r, ...) baton__deploy_fail((x)->err, (x)->errsz, (r), __VA_ARGS__)

/* ---- the duplicate set ---- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* 1 when name was new (and is now in the set), 0 when seen before, -ENOMEM. */
static int set_add(struct ex *x, const char *name)
{
    if ((x->nnames + 1) * 2 > x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 256;
        char **t = calloc(cap, sizeof(*t));
        if (!t)
            return -ENOMEM;
        for (size_t i = 0; i < x->cap; i++) {
            if (!x->names[i])
                continue;
            size_t j = hash_str(x->names[i]) & (cap - 1);
            while (t[j])
                j = (j + 1) & (cap - 1);
            t[j] = x->names[i];
        }
        free(x->names);
        x->names = t;
        x->cap = cap;
    }
    size_t j = hash_str(name) & (x->cap - 1);
    while (x->names[j]) {
        if (!strcmp(x->names[j], name))
            return 0;
        j = (j + 1) & (x->cap - 1);
    }
    x->names[j] = strdup(name);
    if (!x->names[j])
        return -ENOMEM;
    x->nnames++;
    return 1;
}

static void set_free(struct ex *x)
{
    for (size_t i = 0; i < x->cap; i++)
        free(x->names[i]);
    free(x->names);
}

/* ---- names ---- */

/* The next component of a path at *p other than "" and ".": its start and length, *p moved past
 * it and its slashes; false at the end. */
static bool next_component(const char **p, const char **ret, size_t *ret_len)
{
    while (**p) {
        const char *s = *p;
        while (**p && **p != '/')
            (*p)++;
        size_t n = (size_t)(*p - s);
        while (**p == '/')
            (*p)++;
        if (n == 0 || (n == 1 && s[0] == '.'))
            continue;
        *ret = s;
        *ret_len = n;
        return true;
    }
    return false;
}

/* Canonical relative form of an archive name: no leading "./", no empty or "." components.
 * "" is the release directory itself. */
static int normalize(struct ex *x, const char *what, const char *in, char *out)
{
    if (strlen(in) >= PATH_MAX)
        return FAIL(x, -ENAMETOOLONG, "%s name longer than PATH_MAX (%d bytes)", what, PATH_MAX);
    if (in[0] == '/')
        return FAIL(x, -EPERM, "%s has an absolute name: %s", what, in);
    size_t o = 0;
    const char *p = in;
    const char *s;
    size_t n;
    while (next_component(&p, &s, &n)) {
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return FAIL(x, -EPERM, "%s name contains \"..\": %s", what, in);
        if (n > NAME_MAX)
            return FAIL(x, -ENAMETOOLONG, "%s name has a component longer than NAME_MAX: %.80s...",
                        what, in);
        if (o)
            out[o++] = '/';
        memcpy(out + o, s, n);
        o += n;
    }
    out[o] = '\0';
    return 0;
}

/* A symlink target stays inside the release when it is relative, its ".." components all come
 * first and climb no higher than the link's own directory (a real directory: nothing is ever
 * created through a symlink), and nothing after them climbs again. By induction over every
 * link in the release, resolving any of them stays inside. */
static bool symlink_target_inside(const char *entry, const char *target)
{
    if (target[0] == '\0' || target[0] == '/')
        return false;
    int depth = 0; /* directories above the link inside the release */
    for (const char *c = entry; *c; c++)
        depth += *c == '/';
    bool named = false;
    const char *p = target;
    const char *s;
    size_t n;
    while (next_component(&p, &s, &n)) {
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            if (named || --depth < 0)
                return false;
            continue;
        }
        named = true;
    }
    return true;
}

/* ---- walking below the release ---- */

static int open_beneath(int dirfd, const char *name, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
    if (fd < 0 && errno == ENOSYS)
        fd = openat(dirfd, name, flags | O_CLOEXEC | O_NOFOLLOW);
    return fd < 0 ? -errno : (int)fd;
}

/* Opens the directory holding the last component of rel (creating missing directories when
 * create), returns its fd (O_PATH) and points *leaf at the last component. */
static int open_parent(struct ex *x, const char *rel, bool create, const char **leaf)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", rel);
    int cur = dup(x->root);
    if (cur < 0)
        return FAIL(x, -errno, "dup: %s", strerror(errno));
    char *comp = buf;
    for (char *slash; (slash = strchr(comp, '/')); comp = slash + 1) {
        *slash = '\0';
        if (create && mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
            int r = -errno;
            close(cur);
            return FAIL(x, r, "cannot create directory %s: %s", buf, strerror(-r));
        }
        int fd = open_beneath(cur, comp, O_PATH | O_DIRECTORY);
        if (fd < 0) {
            struct stat st;
            bool link = fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
            close(cur);
            if (link)
                return FAIL(x, -ELOOP, "%s would be written through the symlink %s", rel, buf);
            if (fd == -ENOENT)
                return FAIL(x, -ENOENT, "%s: no directory %s in the release", rel, buf);
            return FAIL(x, fd, "%s: %s is not a directory", rel, buf);
        }
        close(cur);
        cur = fd;
        *slash = '/';
    }
    *leaf = rel + (comp - buf);
    return cur;
}

/* ---- limits ---- */

static int check_stream(struct ex *x)
{
    uint64_t plain = (uint64_t)archive_filter_bytes(x->a, 0);
    uint64_t packed = (uint64_t)archive_filter_bytes(x->a, -1);
    /* tar headers and padding come on top of the file data: allow 1/16 more, at least 1 MiB */
    uint64_t slack = x->lim->max_size / 16 > (1u << 20) ? x->lim->max_size / 16 : (1u << 20);
    if (plain > x->lim->max_size + slack)
        return FAIL(x, -EFBIG, "archive too large: more than %llu bytes uncompressed",
                    (unsigned long long)x->lim->max_size);
    if (plain > x->lim->ratio_floor && packed > 0 && plain / packed > x->lim->max_ratio)
        return FAIL(x, -EFBIG, "compression ratio above %llu:1 (a compression bomb?)",
                    (unsigned long long)x->lim->max_ratio);
    return 0;
}

/* ---- entries ---- */

static int write_file(struct ex *x, struct archive_entry *e, int dirfd, const char *leaf,
                      const char *name)
{
    int64_t size = archive_entry_size(e);
    if (size < 0)
        size = 0;
    x->declared += (uint64_t)size;
    if (x->declared > x->lim->max_size)
        return FAIL(x, -EFBIG, "archive too large: its files exceed %llu bytes",
                    (unsigned long long)x->lim->max_size);
    int fd = openat(dirfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST ? FAIL(x, -EEXIST, "duplicate entry %s", name)
                               : FAIL(x, -errno, "cannot create %s: %s", name, strerror(errno));
    int r = 0;
    const void *buf;
    size_t n;
    la_int64_t off;
    int ar;
    while ((ar = archive_read_data_block(x->a, &buf, &n, &off)) == ARCHIVE_OK) {
        x->bytes += n;
        if (x->bytes > x->lim->max_size) {
            r = FAIL(x, -EFBIG, "archive too large: its files exceed %llu bytes",
                     (unsigned long long)x->lim->max_size);
            goto out;
        }
        for (size_t done = 0; done < n;) {
            ssize_t w = pwrite(fd, (const char *)buf + done, n - done, off + (off_t)done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                r = FAIL(x, -errno, "cannot write %s: %s", name, strerror(errno));
                goto out;
            }
            done += (size_t)w;
        }
        r = check_stream(x);
        if (r < 0)
            goto out;
    }
    if (ar != ARCHIVE_EOF) {
        r = FAIL(x, -EBADMSG, "truncated or corrupt archive: %s",
                 archive_error_string(x->a) ? archive_error_string(x->a) : "read error");
        goto out;
    }
    /* a sparse file's hole at the end */
    if (ftruncate(fd, size) < 0) {
        r = FAIL(x, -errno, "cannot size %s: %s", name, strerror(errno));
        goto out;
    }
    /* setuid, setgid and sticky bits are dropped */
    if (fchmod(fd, archive_entry_perm(e) & 0777) < 0) {
        r = FAIL(x, -errno, "cannot chmod %s: %s", name, strerror(errno));
        goto out;
    }
    struct timespec ts[2] = {{archive_entry_mtime(e), 0}, {archive_entry_mtime(e), 0}};
    (void)futimens(fd, ts);
    /* Not fsynced here: one syncfs(2) makes the whole tree durable before the rename
     * (baton_extract). */
out:
    close(fd);
    return r;
}

static int make_dir(struct ex *x, struct archive_entry *e, int dirfd, const char *leaf,
                    const char *name)
{
    if (mkdirat(dirfd, leaf, 0700) < 0 && errno != EEXIST)
        return FAIL(x, -errno, "cannot create directory %s: %s", name, strerror(errno));
    int fd = open_beneath(dirfd, leaf, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return FAIL(x, -EEXIST, "duplicate entry %s (not a directory)", name);
    int r = 0;
    if (fchmod(fd, (archive_entry_perm(e) & 0777) | 0700) < 0)
        r = FAIL(x, -errno, "cannot chmod %s: %s", name, strerror(errno));
    close(fd);
    return r;
}

static int make_symlink(struct ex *x, struct archive_entry *e, int dirfd, const char *leaf,
                        const char *name)
{
    const char *target = archive_entry_symlink(e);
    if (!target)
        return FAIL(x, -EBADMSG, "symlink %s has no target", name);
    if (strlen(target) >= PATH_MAX)
        return FAIL(x, -ENAMETOOLONG, "symlink %s: target longer than PATH_MAX", name);
    if (!symlink_target_inside(name, target))
        return FAIL(x, -EPERM, "symlink %s -> %s leaves the release", name, target);
    if (symlinkat(target, dirfd, leaf) < 0)
        return errno == EEXIST
                   ? FAIL(x, -EEXIST, "duplicate entry %s", name)
                   : FAIL(x, -errno, "cannot create symlink %s: %s", name, strerror(errno));
    return 0;
}

static int make_hardlink(struct ex *x, const char *link, int dirfd, const char *leaf,
                         const char *name)
{
    char target[PATH_MAX];
    int r = normalize(x, "hard link target", link, target);
    if (r < 0) {
        char why[256];
        snprintf(why, sizeof(why), "%s", x->err ? x->err : "");
        return FAIL(x, r, "hard link %s -> %s leaves the release (%s)", name, link, why);
    }
    if (!target[0])
        return FAIL(x, -EPERM, "hard link %s -> %s: not a file", name, link);
    const char *tleaf;
    int tdir = open_parent(x, target, false, &tleaf);
    if (tdir < 0)
        return FAIL(x, tdir, "hard link %s -> %s: target not in the release", name, link);
    struct stat st;
    if (fstatat(tdir, tleaf, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        close(tdir);
        return FAIL(x, -ENOENT, "hard link %s -> %s: target not in the release", name, link);
    }
    if (!S_ISREG(st.st_mode)) {
        close(tdir);
        return FAIL(x, -EPERM, "hard link %s -> %s: target is not a regular file", name, link);
    }
    r = linkat(tdir, tleaf, dirfd, leaf, 0) < 0 ? -errno : 0;
    close(tdir);
    if (r == -EEXIST)
        return FAIL(x, r, "duplicate entry %s", name);
    if (r < 0)
        return FAIL(x, r, "cannot link %s: %s", name, strerror(-r));
    return 0;
}

static const char *type_name(mode_t t)
{
    switch (t) {
    case AE_IFCHR:
        return "character device";
    case AE_IFBLK:
        return "block device";
    case AE_IFIFO:
        return "FIFO";
    case AE_IFSOCK:
        return "socket";
    default:
        return "unsupported file type";
    }
}

static int entry(struct ex *x, struct archive_entry *e)
{
    char name[PATH_MAX];
    const char *raw = archive_entry_pathname(e);
    if (!raw)
        return FAIL(x, -EBADMSG, "entry without a name");
    int r = normalize(x, "entry", raw, name);
    if (r < 0)
        return r;
    const char *link = archive_entry_hardlink(e);
    mode_t type = archive_entry_filetype(e);
    if (!link && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
        return FAIL(x, -EPERM, "%s is a %s (only files, directories and symlinks)", raw,
                    type_name(type));
    if (!name[0]) {
        if (link || type != AE_IFDIR)
            return FAIL(x, -EPERM, "entry %s names the release directory itself", raw);
        return 0;
    }
    r = set_add(x, name);
    if (r < 0)
        return FAIL(x, r, "out of memory");
    if (r == 0)
        return FAIL(x, -EEXIST, "duplicate entry %s", name);
    const char *leaf;
    int dirfd = open_parent(x, name, true, &leaf);
    if (dirfd < 0)
        return dirfd;
    if (link)
        r = make_hardlink(x, link, dirfd, leaf, name);
    else if (type == AE_IFREG)
        r = write_file(x, e, dirfd, leaf, name);
    else if (type == AE_IFDIR)
        r = make_dir(x, e, dirfd, leaf, name);
    else
        r = make_symlink(x, e, dirfd, leaf, name);
    close(dirfd);
    return r;
}

static int make_tmpdir(int rel, char *name, size_t namesz)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    if (namesz < 32)
        return -ENOBUFS;
    for (int tries = 0; tries < 100; tries++) {
        uint8_t rnd[12];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
            return -EIO;
        memcpy(name, ".tmp-", 5);
        for (int i = 0; i < 12; i++)
            name[5 + i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
        name[17] = '\0';
        if (mkdirat(rel, name, 0700) == 0)
            return 0;
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

int baton_release_extract(int root_fd, int artifact_fd, const char *version,
                          const struct baton_extract_limits *lim, char *tmpname, size_t tmpnamesz,
                          struct baton_extract_stats *ret_stats, char *err, size_t errsz)
{
    static const struct baton_extract_limits defaults = BATON_EXTRACT_LIMITS_DEFAULT;
    struct ex x = {.root = -1, .lim = lim ? lim : &defaults, .err = err, .errsz = errsz};
    int rel = -1, r;
    char name[32] = "";
    struct archive_entry *e;

    if (!tmpname || artifact_fd < 0)
        return -EINVAL;
    rel = openat(root_fd, "releases", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (rel < 0)
        return FAIL(&x, -errno, "cannot open releases/: %s", strerror(errno));
    if (version) {
        struct stat st;
        if (fstatat(rel, version, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            r = FAIL(&x, -EEXIST, "release %s already exists", version);
            goto out;
        }
    }
    uint8_t magic[2];
    ssize_t k = pread(artifact_fd, magic, 2, 0);
    if (k != 2 || magic[0] != 0x1f || magic[1] != 0x8b) {
        r = FAIL(&x, -EBADMSG, "not a gzip file (the artifact must be a .tar.gz)");
        goto out;
    }
    r = make_tmpdir(rel, name, sizeof(name));
    if (r < 0) {
        FAIL(&x, r, "cannot create a temporary directory in releases/: %s", strerror(-r));
        name[0] = '\0';
        goto out;
    }
    x.root = openat(rel, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (x.root < 0) {
        r = FAIL(&x, -errno, "cannot open %s: %s", name, strerror(errno));
        goto out;
    }
    x.a = archive_read_new();
    if (!x.a) {
        r = FAIL(&x, -ENOMEM, "out of memory");
        goto out;
    }
    archive_read_support_filter_gzip(x.a);
    archive_read_support_format_tar(x.a);
    if (lseek(artifact_fd, 0, SEEK_SET) < 0 ||
        archive_read_open_fd(x.a, artifact_fd, 64 * 1024) != ARCHIVE_OK) {
        const char *why = archive_error_string(x.a) ? archive_error_string(x.a) : "read error";
        if (strstr(why, "Unrecognized archive format"))
            r = FAIL(&x, -EBADMSG, "not a tar archive inside the gzip");
        else
            r = FAIL(&x, -EBADMSG, "truncated or corrupt archive: %s", why);
        goto out;
    }
    for (;;) {
        int ar = archive_read_next_header(x.a, &e);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar < ARCHIVE_WARN) {
            r = FAIL(&x, -EBADMSG, "truncated or corrupt archive: %s",
                     archive_error_string(x.a) ? archive_error_string(x.a) : "read error");
            goto out;
        }
        if (archive_filter_code(x.a, 0) != ARCHIVE_FILTER_GZIP) {
            r = FAIL(&x, -EBADMSG, "not a gzip file (the artifact must be a .tar.gz)");
            goto out;
        }
        if (++x.entries > x.lim->max_entries) {
            r = FAIL(&x, -EFBIG, "too many entries (more than %llu)",
                     (unsigned long long)x.lim->max_entries);
            goto out;
        }
        r = check_stream(&x);
        if (r < 0)
            goto out;
        r = entry(&x, e);
        if (r < 0)
            goto out;
    }
    if (x.entries == 0) {
        r = FAIL(&x, -EBADMSG, "empty archive");
        goto out;
    }
    /* Durable before it is renamed into place (DESIGN.md "Crash safety"): one syncfs(2) of the
     * filesystem holding the release writes back every extracted file's data and metadata and
     * every directory of the tree, and reports a writeback error of any of them (Linux >= 5.8),
     * where an fsync of each file and directory cost a journal commit each (bench/deploy: most
     * of the install step of a release of many files). It also writes back whatever else is
     * dirty on that filesystem: that is the price, paid once. */
    if (fchmod(x.root, 0755) < 0 || syncfs(x.root) < 0 || fsync(rel) < 0) {
        r = FAIL(&x, -errno, "finishing %s: %s", name, strerror(errno));
        goto out;
    }
    if (strlen(name) >= tmpnamesz) {
        r = FAIL(&x, -ENOBUFS, "temporary name buffer too small");
        goto out;
    }
    strcpy(tmpname, name);
    if (ret_stats)
        *ret_stats = (struct baton_extract_stats){x.entries, x.bytes};
    r = 0;
out:
    if (x.a)
        archive_read_free(x.a);
    set_free(&x);
    if (x.root >= 0)
        close(x.root);
    if (r < 0 && name[0])
        (void)baton__deploy_rmtree(rel, name);
    if (rel >= 0)
        close(rel);
    return r;
}

int baton_release_install(int root_fd, const char *tmpname, const char *version, char *err,
                          size_t errsz)
{
    if (!tmpname || tmpname[0] != '.' || strchr(tmpname, '/') || !baton_version_valid(version))
        return baton__deploy_fail(err, errsz, -EINVAL, "invalid release name");
    int rel = openat(root_fd, "releases", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (rel < 0)
        return baton__deploy_fail(err, errsz, -errno, "cannot open releases/: %s", strerror(errno));
    int r = 0;
    if (renameat2(rel, tmpname, rel, version, RENAME_NOREPLACE) < 0) {
        r = -errno;
        (void)baton__deploy_rmtree(rel, tmpname);
        if (r == -EEXIST)
            baton__deploy_fail(err, errsz, r, "release %s already exists", version);
        else
            baton__deploy_fail(err, errsz, r, "cannot install %s: %s", version, strerror(-r));
        goto out;
    }
    baton__deploy_test_point("install-rename");
    if (fsync(rel) < 0)
        r = baton__deploy_fail(err, errsz, -errno, "fsync releases/: %s", strerror(errno));
out:
    close(rel);
    return r;
}
