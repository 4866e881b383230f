/* SPDX-License-Identifier: MIT */
/*
 * The socket-free HTTP/1.1 request parser: bytes in, complete requests out, with every limit
 * and framing check of RFC 9112 applied on the way. It owns no I/O, so unit tests and fuzz
 * targets drive it directly; the connection code feeds it what it reads.
 *
 * Built on llhttp with no lenient flag ever set; what llhttp lets through whether or not it was
 * compiled with LLHTTP_STRICT_MODE (folding, line ends that are not CRLF) is refused on the raw
 * bytes (parser.c, raw_scan()). The parser copies what it keeps
 * (target, header names and values, body) into its own arena and buffers, so the caller may
 * reuse its input buffer as soon as baton__parser_execute() returns.
 */
#ifndef BATON_HTTP_PARSER_H
#define BATON_HTTP_PARSER_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "http/arena.h"

struct baton__limits {
    size_t header_bytes;   /* request line + header section, in bytes: 431 past it */
    unsigned header_count; /* header fields: 431 past it */
    size_t uri_bytes;      /* request target: 414 past it */
    uint64_t body_bytes;   /* decoded body: 413 past it */
};

/* Defaults: 8 KiB of head, 100 fields, 4 KiB of target, 1 MiB of body. */
#define BATON__LIMITS_DEFAULT                                                                      \
    {                                                                                              \
        8192, 100, 4096, 1048576                                                                   \
    }

struct baton__header {
    const char *name; /* as received; compare case-insensitively */
    const char *value;
    uint32_t name_len;
    uint32_t value_len;
};

enum baton__parse_result {
    BATON__PARSE_MORE,    /* every byte consumed; a request is incomplete or none started */
    BATON__PARSE_REQUEST, /* a complete request is ready; bytes after it were not consumed */
    BATON__PARSE_ERROR,   /* the input is refused: answer error_status and close */
};

enum baton__token {
    TOKEN_NONE,
    TOKEN_URL,
    TOKEN_FIELD,
    TOKEN_VALUE,
};

/* Fields ordered by size (pointers and sizes, then 32-bit, then bytes): no padding holes, as it
 * is part of every connection (docs/http-core.md, memory per connection). */
struct baton__parser {
    llhttp_t http;
    const struct baton__limits *limits;
    struct baton__arena arena;     /* strings of the current request */
    struct baton_buf token;        /* the URL, field or value being collected */
    struct baton_buf body;         /* decoded body, max = limits->body_bytes */
    const char *field;             /* the current header's name, in the arena */
    struct baton__header *headers; /* kept across requests */
    size_t head_bytes;             /* bytes of request line and header section seen */
    size_t head_raw;               /* the same, counted on the wire (whitespace included) */
    const char *exec_start;        /* the input of the llhttp_execute() running */
    const char *exec_end;
    uint64_t raw_skip;        /* chunk data bytes the scan passes over */
    size_t chunk_ext_bytes;   /* bytes of extensions on the current chunk */
    const char *error_reason; /* after ERROR: static text */

    /* The request, after REQUEST (valid until the next execute or reset). */
    const char *method;
    const char *target; /* raw, as received */
    const char *path;   /* decoded and normalised: "/a/b" (never "..", never NUL) */
    const char *query;  /* raw, after '?', "" when none */

    enum baton__token token_kind;
    uint32_t field_len;
    unsigned nheaders;
    unsigned headers_cap;
    unsigned host_count;    /* Host fields seen */
    int error_status;       /* after ERROR: 400, 408, 413, 414, 431, 501, 505 */
    char line_start[24];    /* the request line's first bytes, as scanned (what the method is) */
    uint8_t line_start_len; /* bytes of the request line kept in line_start */
    char tail[2];           /* the last two bytes of the previous input */
    char raw_last;          /* the last framing byte scanned on the wire (raw_scan()) */
    uint8_t raw_line;       /* 0 before the request line, 1 in it, 2 after it */
    uint8_t ext_val;        /* where a chunk extension value is (on_chunk_extension_value()) */
    uint8_t http_minor;     /* of the request: 0 or 1 */
    bool value_at_end;      /* the last piece of a trailer value ended the input */
    bool raw_need_crlf;     /* chunk data ended: CRLF must follow */
    bool chunked;           /* the body is chunked (after the header section) */
    bool paused_at_chunk;   /* the last pause came from on_chunk_header */
    bool ext_name;          /* the chunk extension name has a byte */
    bool started;           /* a byte of the current request has arrived */
    bool headers_done;      /* the header section is complete */
    bool paused_at_headers; /* the last pause came from on_headers_complete */
    bool in_trailers;       /* fields after the last chunk */
    bool expect_continue;   /* Expect: 100-continue with a body still to come */
    bool keep_alive;        /* after the header section: the client keeps the connection */
};

/* Prepares a parser with these limits (kept by pointer: they may change between requests). */
void baton__parser_init(struct baton__parser *p, const struct baton__limits *limits);

/*
 * Feeds len bytes. Returns a baton__parse_result and sets *ret_used to the bytes consumed:
 * all of them for MORE; up to the end of the request for REQUEST (call baton__parser_next()
 * before feeding the rest); undefined for ERROR (the connection is closed anyway).
 */
int baton__parser_execute(struct baton__parser *p, const char *data, size_t len, size_t *ret_used);

/* After REQUEST: forgets the request and gets ready for the next one on the connection. */
void baton__parser_next(struct baton__parser *p);

/* True when no byte of a next request has arrived (the connection is idle). */
bool baton__parser_idle(const struct baton__parser *p);

/* True while the parser waits for body bytes of a request whose header section is complete. */
bool baton__parser_in_body(const struct baton__parser *p);

/* Returns the value of header `name` (case-insensitive, first occurrence) or NULL. */
const char *baton__parser_header(const struct baton__parser *p, const char *name);

/* Frees memory not needed by an idle connection (arena, body and header index). */
void baton__parser_shrink(struct baton__parser *p);

/* Frees everything. */
void baton__parser_free(struct baton__parser *p);

/* Bytes of heap the parser holds. */
size_t baton__parser_footprint(const struct baton__parser *p);

#endif
