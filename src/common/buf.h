/* A growable byte buffer with a hard maximum: every buffer a peer can grow has one. */
#ifndef BATON_COMMON_BUF_H
#define BATON_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct baton_buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    size_t max; /* appends past this many bytes fail with -ENOBUFS; 0 means no limit */
};

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
