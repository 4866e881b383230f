/* SPDX-License-Identifier: MIT */
/* Allocation that aborts on exhaustion: for the supervisor and the CLI only. Libraries and the
 * HTTP server return -ENOMEM instead. */
#ifndef BATON_COMMON_XMALLOC_H
#define BATON_COMMON_XMALLOC_H

#include <stddef.h>

void *baton__xmalloc(size_t size);
void *baton__xcalloc(size_t count, size_t size);
void *baton__xrealloc(void *p, size_t size);
char *baton__xstrdup(const char *s);
char *baton__xstrndup(const char *s, size_t n);
/* asprintf that aborts on exhaustion. */
char *baton__xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
