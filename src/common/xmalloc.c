/* SPDX-License-Identifier: MIT */
#include "common/xmalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void die(void)
{
    static const char msg[] = "baton: out of memory\n";
    ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)r;
    abort();
}

void *baton__xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        die();
    return p;
}

void *baton__xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        die();
    return p;
}

void *baton__xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        die();
    return q;
}

char *baton__xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        die();
    return p;
}

char *baton__xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (!p)
        die();
    return p;
}

char *baton__xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *p = NULL;
    va_start(ap, fmt);
    int r = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (r < 0)
        die();
    return p;
}
