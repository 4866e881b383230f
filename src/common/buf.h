/* SPDX-License-Identifier: MIT */
/*
 * A growable byte buffer with a mandatory maximum: every buffer a peer can grow has one.
 *
 * The maximum is given when the buffer is made, BATON_BUF_INIT(max). There is no "0 means no
 * limit": a buffer left zeroed holds nothing (every append fails with -ENOBUFS), so a forgotten
 * maximum shows at the first append instead of letting a peer grow the buffer forever. A buffer
 * that only the program itself fills (its own JSON, its own messages) says so with
 * BATON_BUF_UNBOUNDED, which grep finds: each use is a claim that no peer decides its size.
 */
#ifndef BATON_COMMON_BUF_H
#define BATON_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct baton_buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    size_t max; /* appends past this many bytes fail with -ENOBUFS */
};

/* The maximum of a buffer no peer can grow (see above). */
#define BATON_BUF_UNBOUNDED SIZE_MAX

#define BATON_BUF_INIT(max_)                                                                       \
    {                                                                                              \
        NULL, 0, 0, (max_)                                                                         \
    }

/* Appends n bytes. Returns 0, -ENOBUFS past the buffer's maximum, or -ENOMEM. */
int baton__buf_append(struct baton_buf *b, const void *p, size_t n);
/* Appends a NUL-terminated string. */
int baton__buf_puts(struct baton_buf *b, const char *s);
/* Appends printf-style text. */
int baton__buf_printf(struct baton_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int baton__buf_vprintf(struct baton_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Drops the first n bytes (n <= len). */
void baton__buf_consume(struct baton_buf *b, size_t n);
/* Empties the buffer, keeping its memory. */
void baton__buf_reset(struct baton_buf *b);
/* Releases the memory; the buffer is empty and reusable afterwards. */
void baton__buf_free(struct baton_buf *b);
/* Takes the data out (caller frees); the buffer is left empty. Never NULL (may abort-free: returns
 * an empty allocated string or NULL on -ENOMEM). */
char *baton__buf_steal(struct baton_buf *b);

#endif
