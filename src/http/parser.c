/* SPDX-License-Identifier: MIT */
#include "http/parser.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/uri.h"

/* Bytes of chunk extensions accepted on one chunk (they carry nothing we use). */
#define CHUNK_EXT_MAX 1024

static struct baton__parser *parser_of(llhttp_t *h)
{
    return (struct baton__parser *)((char *)h - offsetof(struct baton__parser, http));
}

/* Records why the input is refused; llhttp then stops with HPE_USER. */
static int fail(struct baton__parser *p, int status, const char *reason)
{
    if (!p->error_status) {
        p->error_status = status;
        p->error_reason = reason;
    }
    return HPE_USER;
}

static int on_message_begin(llhttp_t *h)
{
    struct baton__parser *p = parser_of(h);
    p->started = true;
    return 0;
}

/* Counts head bytes as they arrive, so an endless header section fails early. */
static int count_head(struct baton__parser *p, size_t n)
{
    p->head_bytes += n;
    if (p->head_bytes > p->limits->header_bytes)
        return fail(p, 431, "request header section too large");
    return 0;
}

static int collect(struct baton__parser *p, enum baton__token kind, const char *at, size_t n)
{
    if (p->token_kind != kind) {
        baton__buf_reset(&p->token);
        p->token_kind = kind;
    }
    if (baton__buf_append(&p->token, at, n) < 0)
        return fail(p, 431, "request header section too large");
    return 0;
}

static int on_url(llhttp_t *h, const char *at, size_t n)
{
    struct baton__parser *p = parser_of(h);
    if (p->token.len + n > p->limits->uri_bytes)
        return fail(p, 414, "request target too long");
    int r = count_head(p, n);
    return r ? r : collect(p, TOKEN_URL, at, n);
}

static int on_url_complete(llhttp_t *h)
{
    struct baton__parser *p = parser_of(h);
    /* request-target is made of VCHARs (RFC 9112 3.2, RFC 3986); llhttp lets obs-text in. */
    for (size_t i = 0; i < p->token.len; i++) {
        unsigned char ch = (unsigned char)p->token.data[i];
        if (ch < 0x21 || ch > 0x7e)
            return fail(p, 400, "invalid request target");
    }
    char *t = baton__arena_strndup(&p->arena, p->token.data ? p->token.data : "", p->token.len);
    if (!t)
        return fail(p, 431, "request header section too large");
    p->target = t;
    p->token_kind = TOKEN_NONE;
    return 0;
}

/* The byte k positions before `at`, which may lie in the previous input (its tail kept). */
static char byte_before(const struct baton__parser *p, const char *at, size_t k)
{
    if ((size_t)(at - p->exec_start) >= k)
        return at[-(ptrdiff_t)k];
    size_t back = k - (size_t)(at - p->exec_start); /* 1 or 2 into the previous input */
    return back <= 2 ? p->tail[2 - back] : 0;
}

static int on_header_field(llhttp_t *h, const char *at, size_t n)
{
    struct baton__parser *p = parser_of(h);
    /* llhttp accepts a bare LF after the request line, and CRLF everywhere else: refuse the
     * odd one out rather than let two parsers disagree on where the head ends. */
    if (p->nheaders == 0 && p->token_kind != TOKEN_FIELD && !p->in_trailers &&
        (byte_before(p, at, 1) != '\n' || byte_before(p, at, 2) != '\r'))
        return fail(p, 400, "request line not ended by CRLF");
    int r = count_head(p, n);
    return r ? r : collect(p, TOKEN_FIELD, at, n);
}

static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int on_header_field_complete(llhttp_t *h)
{
    struct baton__parser *p = parser_of(h);
    if (p->token_kind != TOKEN_FIELD || p->token.len == 0)
        return fail(p, 400, "empty header field name");
    /* llhttp lets whitespace into a name ("Host : x" names "Host "): a field name is a token,
     * and whitespace before the colon must be refused (RFC 9112 5.1). */
    for (size_t i = 0; i < p->token.len; i++)
        if (!is_tchar((unsigned char)p->token.data[i]))
            return fail(p, 400, "invalid header field name");
    if (p->nheaders >= p->limits->header_count)
        return fail(p, 431, "too many header fields");
    char *f = baton__arena_strndup(&p->arena, p->token.data ? p->token.data : "", p->token.len);
    if (!f)
        return fail(p, 431, "request header section too large");
    p->field = f;
    p->field_len = (uint32_t)p->token.len;
    p->token_kind = TOKEN_NONE;
    /* ": " and CRLF count towards the head, as they do on the wire. */
    return count_head(p, 4);
}

static int on_header_value(llhttp_t *h, const char *at, size_t n)
{
    struct baton__parser *p = parser_of(h);
    /* Folding is caught on the raw bytes (raw_scan()). In the trailer section llhttp's report
     * of a folded line as a second piece of the same value catches it too: a value legitimately
     * comes in pieces only when the input ended inside it and the next piece starts the next
     * input. */
    if (p->in_trailers && p->token_kind == TOKEN_VALUE && !(p->value_at_end && at == p->exec_start))
        return fail(p, 400, "obsolete line folding");
    p->value_at_end = at + n == p->exec_end;
    int r = count_head(p, n);
    return r ? r : collect(p, TOKEN_VALUE, at, n);
}

static int add_header(struct baton__parser *p, const char *value, size_t len)
{
    if (p->nheaders == p->headers_cap) {
        unsigned cap = p->headers_cap ? p->headers_cap * 2 : 16;
        struct baton__header *hs = realloc(p->headers, cap * sizeof(*hs));
        if (!hs)
            return fail(p, 503, "out of memory");
        p->headers = hs;
        p->headers_cap = cap;
    }
    p->headers[p->nheaders++] = (struct baton__header){
        .name = p->field,
        .value = value,
        .name_len = p->field_len,
        .value_len = (uint32_t)len,
    };
    return 0;
}

/* Host = uri-host [ ":" port ] (RFC 9110 7.2): reg-name, IPv4 or [IP-literal] characters. */
static bool valid_host(const char *v, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              (ch && strchr("-._~!$&'()*+,;=%:[]", ch))))
            return false;
    }
    return true;
}

/* The next element of a comma-separated field value at *s (RFC 9110 5.6.1: optional whitespace
 * around it, empty elements skipped): its start and length, *s moved past it; false at the end. */
static bool list_next(const char **s, const char **ret, size_t *ret_len)
{
    const char *b = *s;
    while (*b == ' ' || *b == '\t' || *b == ',')
        b++;
    if (!*b) {
        *s = b;
        return false;
    }
    const char *e = b;
    while (*e && *e != ',')
        e++;
    const char *t = e;
    while (t > b && (t[-1] == ' ' || t[-1] == '\t'))
        t--;
    *s = e;
    *ret = b;
    *ret_len = (size_t)(t - b);
    return true;
}

/*
 * The transfer codings of every Transfer-Encoding field, as one list (RFC 9110 5.3, 5.6.1:
 * elements split on commas, OWS around them and empty elements ignored): how many are
 * "chunked", whether the last one is, and whether there is any other.
 */
static void te_codings(const struct baton__parser *p, unsigned *chunked, bool *last_chunked,
                       bool *other)
{
    *chunked = 0;
    *last_chunked = false;
    *other = false;
    for (unsigned i = 0; i < p->nheaders; i++) {
        const struct baton__header *hd = &p->headers[i];
        if (hd->name_len != 17 || strncasecmp(hd->name, "transfer-encoding", 17) != 0)
            continue;
        const char *s = hd->value, *el;
        size_t n;
        while (list_next(&s, &el, &n)) {
            bool is_chunked = n == 7 && strncasecmp(el, "chunked", 7) == 0;
            *chunked += is_chunked;
            *other |= !is_chunked;
            *last_chunked = is_chunked;
        }
    }
}

static int on_header_value_complete(llhttp_t *h)
{
    struct baton__parser *p = parser_of(h);
    const char *v = p->token_kind == TOKEN_VALUE && p->token.data ? p->token.data : "";
    size_t len = p->token_kind == TOKEN_VALUE ? p->token.len : 0;
    p->token_kind = TOKEN_NONE;
    /* llhttp keeps trailing whitespace in the value; the field value excludes it (RFC 9110 5.5). */
    while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    if (memchr(v, '\r', len) || memchr(v, '\n', len))
        return fail(p, 400, "line break in a header value");
    if (p->in_trailers)
        return 0; /* trailer fields are counted, checked and dropped */
    char *value = baton__arena_strndup(&p->arena, v, len);
    if (!value)
        return fail(p, 431, "request header section too large");
    if (p->field_len == 4 && strncasecmp(p->field, "host", 4) == 0) {
        p->host_count++;
        if (!valid_host(value, len))
            return fail(p, 400, "invalid Host field");
    }
    if (len == 0 && p->field_len == 17 && strncasecmp(p->field, "transfer-encoding", 17) == 0)
        return fail(p, 400, "empty Transfer-Encoding");
    return add_header(p, value, len);
}

/* True when a Connection field lists "close" (RFC 9110 7.6.1: a list of tokens, OWS around
 * them, case-insensitive). llhttp misses "close" followed by HTAB. */
static bool connection_close(const struct baton__parser *p)
{
    for (unsigned i = 0; i < p->nheaders; i++) {
        const struct baton__header *hd = &p->headers[i];
        if (hd->name_len != 10 || strncasecmp(hd->name, "connection", 10) != 0)
            continue;
        const char *s = hd->value, *el;
        size_t n;
        while (list_next(&s, &el, &n))
            if (n == 5 && strncasecmp(el, "close", 5) == 0)
                return true;
    }
    return false;
}

static int on_headers_complete(llhttp_t *h)
{
    struct baton__parser *p = parser_of(h);
    p->headers_done = true;
    if (h->http_major != 1 || h->http_minor > 1)
        return fail(p, 505, "HTTP version not supported");
    p->http_minor = h->http_minor;
    if (h->http_minor == 1 && p->host_count != 1)
        return fail(p, 400, p->host_count ? "more than one Host field" : "missing Host field");
    if (p->host_count > 1)
        return fail(p, 400, "more than one Host field");
    if ((h->flags & F_TRANSFER_ENCODING) && h->http_minor == 0)
        return fail(p, 400, "Transfer-Encoding in an HTTP/1.0 request");
    if (h->method == HTTP_CONNECT)
        return fail(p, 501, "CONNECT is not supported");
    /* chunked not last: the length cannot be known (RFC 9112 6.3): 400. chunked twice: not
     * a valid sender's (RFC 9112 6.1), and llhttp misses it when one of them is not its exact
     * token ("chunked\t" then "chunked"): 400 rather than guess. Both llhttp and the list
     * read here must see chunked last. Other codings are not implemented: 501. */
    if (h->flags & F_TRANSFER_ENCODING) {
        unsigned chunked;
        bool last_chunked, other;
        te_codings(p, &chunked, &last_chunked, &other);
        if (!(h->flags & F_CHUNKED) || !last_chunked)
            return fail(p, 400, "Transfer-Encoding does not end in chunked");
        if (chunked > 1)
            return fail(p, 400, "chunked more than once");
        if (other)
            return fail(p, 501, "transfer coding not implemented");
    }
    if ((h->flags & F_CONTENT_LENGTH) && h->content_length > p->limits->body_bytes)
        return fail(p, 413, "request body too large");
    bool has_body = (h->flags & F_CHUNKED) || h->content_length > 0;
    const char *expect = baton__parser_header(p, "expect");
    /* HTTP/1.0 clients know nothing of 100 Continue: ignore the field (RFC 9110 10.1.1). */
    if (expect && h->http_minor == 1) {
        if (strcasecmp(expect, "100-continue") != 0)
            return fail(p, 417, "unsupported expectation");
        p->expect_continue = has_body;
    }
    /* Protocol upgrades are not offered: treat the request as an ordinary one (RFC 9110 7.8
     * lets a server ignore Upgrade), so llhttp does not hand the rest over as foreign bytes. */
    h->upgrade = 0;
    int r = baton__uri_split(&p->arena, p->target ? p->target : "",
                             p->target ? strlen(p->target) : 0, &p->path, &p->query);
    if (r == -ENOMEM)
        return fail(p, 503, "out of memory");
    if (r < 0)
        return fail(p, 400, "invalid request target");
    p->method = llhttp_method_name((llhttp_method_t)h->method);
    if (p->path[0] == '*' && h->method != HTTP_OPTIONS)
        return fail(p, 400, "asterisk-form target outside OPTIONS");
    p->chunked = (h->flags & F_CHUNKED) != 0;
    /* Decided by the header section alone: llhttp would also let a Connection trailer field
     * close the connection, and a trailer controls nothing (RFC 9110 6.5.1). llhttp ignores
     * "close" in an HTTP/1.0 request that also says keep-alive, and "close" followed by HTAB:
     * close wins (RFC 9112 9.6), or the server would read on where the client has stopped. */
    p->keep_alive =
        llhttp_should_keep_alive(h) && !(h->flags & F_CONNECTION_CLOSE) && !connection_close(p);
    p->paused_at_headers = true;
    return HPE_PAUSED;
}

static int on_body(llhttp_t *h, const char *at, size_t n)
{
    struct baton__parser *p = parser_of(h);
    int r = baton__buf_append(&p->body, at, n);
    if (r == -ENOBUFS)
        return fail(p, 413, "request body too large");
    if (r < 0)
        return fail(p, 503, "out of memory");
    return 0;
}

static int on_chunk_header(llhttp_t *h)
{
    struct baton__parser *p = parser_of(h);
    p->chunk_ext_bytes = 0;
    /* Refuse a chunk that cannot fit before waiting for its bytes. */
    if (h->content_length > p->limits->body_bytes - p->body.len)
        return fail(p, 413, "request body too large");
    /* The size line of the last chunk starts the trailer section. */
    if (h->content_length == 0)
        p->in_trailers = true;
    /* Pause, so that baton__parser_execute() learns where the chunk's data starts: the bytes
     * around chunk data are checked on the wire (raw_scan()), the data itself is not. */
    p->paused_at_chunk = true;
    return HPE_PAUSED;
}

static int on_chunk_extension(llhttp_t *h, const char *at, size_t n)
{
    struct baton__parser *p = parser_of(h);
    p->chunk_ext_bytes += n;
    if (p->chunk_ext_bytes > CHUNK_EXT_MAX)
        return fail(p, 400, "chunk extensions too long");
    return 0;
}

static int on_chunk_extension_name(llhttp_t *h, const char *at, size_t n)
{
    struct baton__parser *p = parser_of(h);
    p->ext_name |= n > 0;
    return on_chunk_extension(h, at, n);
}

/* ext-name is a token (RFC 9112 7.1.1); llhttp takes an empty one (";=v"). */
static int on_chunk_extension_name_complete(llhttp_t *h)
{
    struct baton__parser *p = parser_of(h);
    bool ok = p->ext_name;
    p->ext_name = false;
    return ok ? 0 : fail(p, 400, "empty chunk extension name");
}

/* Where a chunk extension value is: ext-val = token / quoted-string (RFC 9112 7.1.1). */
enum {
    EXT_VAL_START,
    EXT_VAL_TOKEN,
    EXT_VAL_QUOTED,
    EXT_VAL_ESCAPE,
    EXT_VAL_END, /* after the closing quote */
};

/* llhttp takes a token and a quoted string run together ("a\"q\""); refuse what is not the
 * grammar, as for every other part of chunked framing. */
static int on_chunk_extension_value(llhttp_t *h, const char *at, size_t n)
{
    struct baton__parser *p = parser_of(h);
    int r = on_chunk_extension(h, at, n);
    if (r)
        return r;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)at[i];
        switch (p->ext_val) {
        case EXT_VAL_START:
            p->ext_val = ch == '"'      ? EXT_VAL_QUOTED
                         : is_tchar(ch) ? EXT_VAL_TOKEN
                                        : EXT_VAL_END + 1;
            break;
        case EXT_VAL_TOKEN:
            if (!is_tchar(ch))
                p->ext_val = EXT_VAL_END + 1;
            break;
        case EXT_VAL_QUOTED:
            if (ch == '"')
                p->ext_val = EXT_VAL_END;
            else if (ch == '\\')
                p->ext_val = EXT_VAL_ESCAPE;
            else if (ch != '\t' && (ch < 0x20 || ch == 0x7f))
                p->ext_val = EXT_VAL_END + 1;
            break;
        case EXT_VAL_ESCAPE:
            p->ext_val = ch != '\t' && (ch < 0x20 || ch == 0x7f) ? EXT_VAL_END + 1 : EXT_VAL_QUOTED;
            break;
        default:
            p->ext_val = EXT_VAL_END + 1;
            break;
        }
        if (p->ext_val > EXT_VAL_END)
            return fail(p, 400, "invalid chunk extension value");
    }
    return 0;
}

static int on_chunk_extension_value_complete(llhttp_t *h)
{
    struct baton__parser *p = parser_of(h);
    bool ok = p->ext_val == EXT_VAL_TOKEN || p->ext_val == EXT_VAL_END;
    p->ext_val = EXT_VAL_START;
    return ok ? 0 : fail(p, 400, "invalid chunk extension value");
}

static int on_message_complete(llhttp_t *h)
{
    struct baton__parser *p = parser_of(h);
    p->paused_at_headers = false;
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_chunk_header = on_chunk_header,
    .on_chunk_extension_name = on_chunk_extension_name,
    .on_chunk_extension_name_complete = on_chunk_extension_name_complete,
    .on_chunk_extension_value = on_chunk_extension_value,
    .on_chunk_extension_value_complete = on_chunk_extension_value_complete,
    .on_message_complete = on_message_complete,
};

void baton__parser_init(struct baton__parser *p, const struct baton__limits *limits)
{
    memset(p, 0, sizeof(*p));
    llhttp_init(&p->http, HTTP_REQUEST, &settings);
    p->limits = limits;
    baton__arena_init(&p->arena, limits->header_bytes * 2 + limits->uri_bytes * 2 + 4096);
    p->token = (struct baton_buf)BATON_BUF_INIT(limits->header_bytes + limits->uri_bytes);
    p->body = (struct baton_buf)BATON_BUF_INIT(limits->body_bytes);
    p->query = "";
}

/*
 * True when the request line starts with a token followed by a space, or with a token the
 * input ends in: its bytes from earlier inputs (line_start), then the failed call's. The
 * answer does not depend on where the input was split before the method went wrong.
 */
static bool method_token(const struct baton__parser *p)
{
    const char *s = p->exec_start;
    if (p->line_start_len == 0)
        while (s < p->exec_end && (*s == '\r' || *s == '\n'))
            s++;
    size_t total = p->line_start_len + (size_t)(p->exec_end - s);
    for (size_t i = 0; i < total; i++) {
        char ch = i < p->line_start_len ? p->line_start[i] : s[i - p->line_start_len];
        if (ch == ' ')
            return i > 0;
        if (!is_tchar((unsigned char)ch))
            return false;
    }
    return total > 0;
}

/* Maps an llhttp error to the status to answer (framing errors are all 400). */
static int error_from_llhttp(struct baton__parser *p, llhttp_errno_t err)
{
    if (p->error_status)
        return BATON__PARSE_ERROR;
    switch (err) {
    case HPE_INVALID_METHOD:
        /* A well-formed token llhttp does not know is a method we do not implement (501);
         * anything else is malformed (400). */
        p->error_status = method_token(p) ? 501 : 400;
        p->error_reason = p->error_status == 501 ? "method not implemented" : "invalid method";
        break;
    case HPE_INVALID_VERSION: {
        /* A well-formed version we do not speak is 505; anything else is malformed. */
        const char *why = llhttp_get_error_reason(&p->http);
        bool unsupported = why && strcmp(why, "Invalid HTTP version") == 0;
        p->error_status = unsupported ? 505 : 400;
        p->error_reason = unsupported ? "HTTP version not supported" : "malformed HTTP version";
        break;
    }
    case HPE_INVALID_TRANSFER_ENCODING:
        p->error_status = 400;
        p->error_reason = "invalid Transfer-Encoding";
        break;
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        p->error_status = 400;
        p->error_reason = "ambiguous body length";
        break;
    case HPE_INVALID_CONTENT_LENGTH:
        p->error_status = 400;
        p->error_reason = "invalid Content-Length";
        break;
    case HPE_INVALID_CHUNK_SIZE:
        p->error_status = 400;
        p->error_reason = "invalid chunk size";
        break;
    default:
        p->error_status = 400;
        p->error_reason = llhttp_get_error_reason(&p->http);
        if (!p->error_reason)
            p->error_reason = "malformed request";
        break;
    }
    return BATON__PARSE_ERROR;
}

/*
 * Checks the bytes [s, s + n) that llhttp has just consumed, on the wire: every line end of the
 * header section, of chunked framing (size lines and the CRLF after chunk data) and of the
 * trailer section must be CRLF; in the header and trailer sections a line end followed by SP
 * or HT is obsolete line folding (RFC 9112 5.2). The header and trailer sections also count
 * towards the head limit (431). Returns true when the input is refused (fail() recorded why).
 *
 * Why on the raw bytes: the llhttp build does not see all of it. It joins a folded line to
 * the value before it and skips the whitespace and line ends between a colon and the value
 * without a callback, so "Content-Length:\r\n 5" reaches the callbacks as the plain value "5"
 * and llhttp frames the body by it. And unless it was compiled with LLHTTP_STRICT_MODE (Debian
 * ships the sources, built here as they come, and a system library may be built either way),
 * it takes any byte after a CR for the LF of the line end: "\r\n\rX" ends a header section,
 * "5\rX" a chunk-size line and "data\rX" a chunk, where every other parser reads on; and it
 * does not look at the two bytes after chunk data at all ("1\r\nAxy0\r\n\r\n" is the chunk
 * "A" and the last chunk). All of these are request smuggling vectors. Only the bytes on the
 * wire show them, in every shape and split across reads; the scan is one pass over bytes
 * llhttp consumes anyway, and raw_last carries the last byte over to the next input.
 */
static bool raw_scan(struct baton__parser *p, bool head, const char *s, size_t n)
{
    if (head) {
        p->head_raw += n;
        if (p->head_raw > p->limits->header_bytes) {
            fail(p, 431, "request header section too large");
            return true;
        }
    }
    char last = p->raw_last;
    for (size_t i = 0; i < n; i++) {
        if (p->raw_skip) {
            size_t k = n - i < p->raw_skip ? n - i : (size_t)p->raw_skip;
            p->raw_skip -= k;
            i += k - 1;
            last = 0;
            p->raw_need_crlf = p->raw_skip == 0;
            continue;
        }
        char ch = s[i];
        if (p->raw_need_crlf && ch != '\r') {
            fail(p, 400, "chunk data not followed by CRLF");
            return true;
        }
        p->raw_need_crlf = false;
        if (last == '\r' && ch != '\n') {
            fail(p, 400, "line end not CRLF (bare CR)");
            return true;
        }
        if (ch == '\n' && last != '\r') {
            fail(p, 400, "line end not CRLF (bare LF)");
            return true;
        }
        if (head && last == '\n' && (ch == ' ' || ch == '\t')) {
            fail(p, 400, "obsolete line folding");
            return true;
        }
        /* One SP between the parts of the request line (RFC 9112 3): llhttp takes several,
         * and parsing on whitespace is the leniency RFC 9112 3 warns leads to smuggling. */
        if (p->raw_line < 2 && !p->in_trailers) {
            if (p->raw_line == 0 && ch != '\r' && ch != '\n')
                p->raw_line = 1;
            else if (p->raw_line == 1 && ch == '\n')
                p->raw_line = 2;
            if (p->raw_line == 1 && ch == ' ' && last == ' ') {
                fail(p, 400, "request line not single-spaced");
                return true;
            }
            if (p->raw_line == 1 && p->line_start_len < sizeof(p->line_start))
                p->line_start[p->line_start_len++] = ch;
        }
        last = ch;
    }
    p->raw_last = last;
    return false;
}

/* What raw_scan() checks of the bytes the next llhttp_execute() consumes. */
enum raw_part {
    RAW_HEAD,    /* the header or trailer section: line ends, folding, the head limit */
    RAW_CHUNKED, /* chunked framing: line ends, chunk data passed over */
    RAW_NONE,    /* a body framed by Content-Length: nothing */
};

int baton__parser_execute(struct baton__parser *p, const char *data, size_t len, size_t *ret_used)
{
    size_t used = 0;
    bool resumed = false;
    if (p->error_status)
        return BATON__PARSE_ERROR;
    /* After a pause at the end of the header section, llhttp must run again even without
     * input: a request without a body completes in that call. Every pause ends a part of the
     * message (header section, chunk-size line, trailer section), so one call's bytes are all
     * of one part. */
    while (used < len || resumed) {
        resumed = false;
        enum raw_part part = !p->headers_done || p->in_trailers ? RAW_HEAD
                             : p->chunked                       ? RAW_CHUNKED
                                                                : RAW_NONE;
        p->exec_start = data + used;
        p->exec_end = data + len;
        llhttp_errno_t err = llhttp_execute(&p->http, data + used, len - used);
        if (err == HPE_OK) {
            if (part != RAW_NONE && raw_scan(p, part == RAW_HEAD, data + used, len - used))
                return BATON__PARSE_ERROR;
            used = len;
            break;
        }
        if (err != HPE_PAUSED)
            return error_from_llhttp(p, err);
        const char *pos = llhttp_get_error_pos(&p->http);
        if (part != RAW_NONE &&
            raw_scan(p, part == RAW_HEAD, data + used, (size_t)(pos - (data + used))))
            return BATON__PARSE_ERROR;
        used = (size_t)(pos - data);
        llhttp_resume(&p->http);
        if (p->paused_at_headers) {
            p->paused_at_headers = false;
            resumed = true;
            continue;
        }
        if (p->paused_at_chunk) {
            /* Right after a chunk-size line: its data is passed over, the trailer section
             * (after the last chunk) starts a line. */
            p->paused_at_chunk = false;
            p->raw_skip = p->in_trailers ? 0 : p->http.content_length;
            continue;
        }
        *ret_used = used;
        return BATON__PARSE_REQUEST;
    }
    /* Keep the last two bytes: a check at the start of the next input may look back. */
    if (len >= 2) {
        p->tail[0] = data[len - 2];
        p->tail[1] = data[len - 1];
    } else if (len == 1) {
        p->tail[0] = p->tail[1];
        p->tail[1] = data[0];
    }
    *ret_used = used;
    return BATON__PARSE_MORE;
}

void baton__parser_next(struct baton__parser *p)
{
    const struct baton__limits *l = p->limits;
    baton__arena_reset(&p->arena);
    p->arena.max = l->header_bytes * 2 + l->uri_bytes * 2 + 4096;
    p->token.max = l->header_bytes + l->uri_bytes;
    p->body.max = l->body_bytes;
    baton__buf_reset(&p->token);
    baton__buf_reset(&p->body);
    p->token_kind = TOKEN_NONE;
    p->field = NULL;
    p->field_len = 0;
    p->nheaders = 0;
    p->head_bytes = 0;
    p->head_raw = 0;
    p->raw_last = 0;
    p->raw_line = 0;
    p->line_start_len = 0;
    p->raw_skip = 0;
    p->raw_need_crlf = false;
    p->chunked = false;
    p->paused_at_chunk = false;
    p->value_at_end = false;
    p->chunk_ext_bytes = 0;
    p->ext_val = EXT_VAL_START;
    p->ext_name = false;
    p->host_count = 0;
    p->started = false;
    p->headers_done = false;
    p->paused_at_headers = false;
    p->in_trailers = false;
    p->expect_continue = false;
    p->keep_alive = false;
    p->method = NULL;
    p->target = NULL;
    p->path = NULL;
    p->query = "";
    p->http_minor = 1;
}

bool baton__parser_idle(const struct baton__parser *p)
{
    return !p->started && !p->error_status;
}

bool baton__parser_in_body(const struct baton__parser *p)
{
    return p->headers_done && !p->error_status;
}

const char *baton__parser_header(const struct baton__parser *p, const char *name)
{
    size_t n = strlen(name);
    for (unsigned i = 0; i < p->nheaders; i++) {
        const struct baton__header *h = &p->headers[i];
        if (h->name_len == n && strncasecmp(h->name, name, n) == 0)
            return h->value;
    }
    return NULL;
}

void baton__parser_shrink(struct baton__parser *p)
{
    baton__arena_free(&p->arena);
    baton__buf_free(&p->token);
    baton__buf_free(&p->body);
    free(p->headers);
    p->headers = NULL;
    p->headers_cap = 0;
    p->nheaders = 0;
}

void baton__parser_free(struct baton__parser *p)
{
    baton__parser_shrink(p);
}

size_t baton__parser_footprint(const struct baton__parser *p)
{
    return baton__arena_footprint(&p->arena) + p->token.cap + p->body.cap +
           p->headers_cap * sizeof(struct baton__header);
}
