/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the release extractor (src/deploy/extract.c): the input is the artifact's
 * bytes (a .tar.gz, or anything). Oracles besides the sanitizers:
 *  - a refusal has a reason and leaves nothing in releases/;
 *  - an accepted archive becomes releases/<v>/ holding only directories, regular files without
 *    setuid/setgid bits and symlinks whose targets are relative, and no temporary directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deploy/deploy.h"
#include "deploy/internal.h"
#include "fuzz.h"

static int root_fd = -1;

static void open_root(void)
{
    if (root_fd >= 0)
        return;
    char tmpl[] = "/dev/shm/baton-fuzz-extract-XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) {
        strcpy(tmpl, "/tmp/baton-fuzz-extract-XXXXXX");
        dir = mkdtemp(tmpl);
    }
    CHECK(dir);
    char err[256];
    CHECK(baton_release_root_open(dir, &root_fd, err, sizeof(err)) == 0);
}

static size_t count(int dirfd)
{
    int fd = dup(dirfd);
    DIR *d = fdopendir(fd);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void check_tree(int dirfd, int depth)
{
    int fd = dup(dirfd);
    DIR *d = fdopendir(fd);
    CHECK(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        struct stat st;
        CHECK(fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0);
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            CHECK(sub >= 0);
            CHECK(depth < 4096);
            check_tree(sub, depth + 1);
            close(sub);
        } else if (S_ISREG(st.st_mode)) {
            CHECK((st.st_mode & (S_ISUID | S_ISGID)) == 0);
        } else {
            CHECK(S_ISLNK(st.st_mode));
            char t[4096];
            ssize_t n = readlinkat(dirfd, e->d_name, t, sizeof(t) - 1);
            CHECK(n > 0);
            CHECK(t[0] != '/');
        }
    }
    closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    open_root();
    int fd = memfd_create("artifact", MFD_CLOEXEC);
    CHECK(fd >= 0);
    CHECK(write(fd, data, size) == (ssize_t)size);
    struct baton_extract_limits lim = {4 << 20, 2000, 200, 1 << 20};
    char tmp[64], err[512] = "";
    int r =
        baton_release_extract(root_fd, fd, "1.0", &lim, tmp, sizeof(tmp), NULL, err, sizeof(err));
    close(fd);
    int rel = openat(root_fd, "releases", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(rel >= 0);
    if (r < 0) {
        CHECK(err[0] != '\0');
        CHECK(count(rel) == 0);
    } else {
        CHECK(baton_release_install(root_fd, tmp, "1.0", err, sizeof(err)) == 0);
        CHECK(count(rel) == 1);
        int v = openat(rel, "1.0", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        CHECK(v >= 0);
        check_tree(v, 0);
        close(v);
        CHECK(baton_release_remove(root_fd, "1.0", err, sizeof(err)) == 0);
        CHECK(count(rel) == 0);
    }
    close(rel);
    return 0;
}
