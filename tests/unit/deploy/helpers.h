/* SPDX-License-Identifier: MIT */
/* Shared by the deploy tests: temporary roots, files and commands. */
#ifndef BATON_TEST_DEPLOY_HELPERS_H
#define BATON_TEST_DEPLOY_HELPERS_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deploy/deploy.h"
#include "deploy/internal.h"

static inline char *tmpdir_new(void)
{
    char tmpl[] = "/tmp/baton-deploy-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    if (!d)
        abort();
    d = strdup(d);
    if (!d)
        abort();
    return d;
}

static inline void tmpdir_remove(char *dir)
{
    if (!dir)
        return;
    (void)baton__deploy_rmtree(AT_FDCWD, dir);
    free(dir);
}

static inline int write_file(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    ssize_t w = write(fd, data, n);
    close(fd);
    return w == (ssize_t)n ? 0 : -EIO;
}

static inline char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static inline int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int run(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Entries of dir other than . and .. */
static inline int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

#endif
