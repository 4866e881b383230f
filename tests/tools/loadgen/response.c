/* SPDX-License-Identifier: MIT */
/* Incremental framing of HTTP/1.1 responses (RFC 9112 section 6): enough to know where each
 * response ends, its status, and whether the server will close the connection. Bodies are
 * counted, never stored. */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "loadgen.h"

#define MAX_HEADER_BYTES (64 * 1024)

void response_init(struct response *r)
{
    r->state = RESP_STATUS_LINE;
    r->status = 0;
    r->close = false;
    r->chunked = false;
    r->has_length = false;
    r->length = 0;
    r->received = 0;
    r->header_bytes = 0;
    r->line_len = 0;
    r->line_truncated = false;
}

static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Does the comma-separated header value hold token (case-insensitive)? */
static bool has_token(const char *value, const char *token)
{
    size_t n = strlen(token);
    const char *s = value;
    while (*s) {
        s = skip_space(s);
        if (strncasecmp(s, token, n) == 0) {
            const char *e = skip_space(s + n);
            if (*e == '\0' || *e == ',')
                return true;
        }
        s = strchr(s, ',');
        if (!s)
            break;
        s++;
    }
    return false;
}

static int parse_status_line(struct response *r)
{
    const char *l = r->line;
    /* "HTTP/1.x SSS reason" */
    if (r->line_len < 12 || strncmp(l, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)l[7]) ||
        l[8] != ' ' || !isdigit((unsigned char)l[9]) || !isdigit((unsigned char)l[10]) ||
        !isdigit((unsigned char)l[11]))
        return -EBADMSG;
    if (r->line_len > 12 && l[12] != ' ')
        return -EBADMSG;
    r->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    if (r->status < 100)
        return -EBADMSG;
    /* HTTP/1.0 closes unless the server says keep-alive. */
    r->close = l[7] == '0';
    return 0;
}

static int parse_header_line(struct response *r)
{
    char *colon = memchr(r->line, ':', r->line_len);
    if (!colon || colon == r->line)
        return -EBADMSG;
    *colon = '\0';
    const char *name = r->line;
    const char *value = skip_space(colon + 1);
    /* Trailing whitespace of the value. */
    char *end = r->line + r->line_len;
    while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';

    if (strcasecmp(name, "Content-Length") == 0) {
        if (r->line_truncated || !*value)
            return -EBADMSG;
        uint64_t v = 0;
        for (const char *p = value; *p; p++) {
            if (!isdigit((unsigned char)*p) || v > (UINT64_MAX - 9) / 10)
                return -EBADMSG;
            v = v * 10 + (uint64_t)(*p - '0');
        }
        if (r->has_length && r->length != v)
            return -EBADMSG; /* conflicting lengths */
        r->has_length = true;
        r->length = v;
    } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
        r->chunked = has_token(value, "chunked");
    } else if (strcasecmp(name, "Connection") == 0) {
        if (has_token(value, "close"))
            r->close = true;
        else if (has_token(value, "keep-alive"))
            r->close = false;
    }
    return 0;
}

/* The empty line after the headers: decides how the body is delimited. */
static int end_of_headers(struct response *r)
{
    if (r->status < 200) {
        /* An interim response (100 Continue): the real one follows. */
        bool close = r->close;
        uint64_t received = r->received;
        response_init(r);
        r->close = close;
        r->received = received;
        return 0;
    }
    if (r->status == 204 || r->status == 304) {
        r->state = RESP_DONE;
    } else if (r->chunked) {
        if (r->has_length)
            return -EBADMSG; /* ambiguous framing */
        r->state = RESP_CHUNK_SIZE;
    } else if (r->has_length) {
        r->state = r->length ? RESP_BODY_LENGTH : RESP_DONE;
    } else {
        r->state = RESP_BODY_UNTIL_EOF;
        r->close = true;
    }
    return 0;
}

static int parse_chunk_size(struct response *r)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; i < r->line_len && isxdigit((unsigned char)r->line[i]); i++) {
        if (v >> 60)
            return -EBADMSG;
        int c = tolower((unsigned char)r->line[i]);
        v = v * 16 + (uint64_t)(isdigit(c) ? c - '0' : c - 'a' + 10);
    }
    if (i == 0 || (i < r->line_len && r->line[i] != ';' && r->line[i] != ' '))
        return -EBADMSG;
    r->length = v;
    r->state = v ? RESP_CHUNK_DATA : RESP_TRAILER;
    return 0;
}

/* A complete line (without CRLF) in r->line: moves the state machine on. */
static int end_of_line(struct response *r)
{
    int rc = 0;
    switch (r->state) {
    case RESP_STATUS_LINE:
        rc = parse_status_line(r);
        if (rc == 0)
            r->state = RESP_HEADER_LINE;
        break;
    case RESP_HEADER_LINE:
        rc = r->line_len == 0 ? end_of_headers(r) : parse_header_line(r);
        break;
    case RESP_CHUNK_SIZE:
        rc = parse_chunk_size(r);
        break;
    case RESP_CHUNK_DATA_END:
        if (r->line_len != 0)
            return -EBADMSG;
        r->state = RESP_CHUNK_SIZE;
        break;
    case RESP_TRAILER:
        if (r->line_len == 0)
            r->state = RESP_DONE;
        break;
    default:
        return -EBADMSG;
    }
    r->line_len = 0;
    r->line_truncated = false;
    return rc;
}

static bool in_line_state(enum response_state s)
{
    return s == RESP_STATUS_LINE || s == RESP_HEADER_LINE || s == RESP_CHUNK_SIZE ||
           s == RESP_CHUNK_DATA_END || s == RESP_TRAILER;
}

int response_feed(struct response *r, const char *p, size_t n, size_t *ret_used)
{
    size_t i = 0;
    while (i < n && r->state != RESP_DONE) {
        if (in_line_state(r->state)) {
            char c = p[i++];
            if (r->state == RESP_STATUS_LINE || r->state == RESP_HEADER_LINE) {
                if (++r->header_bytes > MAX_HEADER_BYTES)
                    return -EBADMSG;
            }
            if (c == '\n') {
                if (r->line_len && r->line[r->line_len - 1] == '\r')
                    r->line_len--;
                r->line[r->line_len] = '\0';
                int rc = end_of_line(r);
                if (rc < 0)
                    return rc;
            } else if (r->line_len < sizeof(r->line) - 1) {
                r->line[r->line_len++] = c;
            } else {
                r->line_truncated = true;
            }
            continue;
        }
        /* Body bytes: counted, skipped. */
        size_t take = n - i;
        if (r->state != RESP_BODY_UNTIL_EOF && take > r->length)
            take = (size_t)r->length;
        i += take;
        if (r->state == RESP_BODY_UNTIL_EOF)
            continue;
        r->length -= take;
        if (r->length == 0)
            r->state = r->state == RESP_CHUNK_DATA ? RESP_CHUNK_DATA_END : RESP_DONE;
    }
    r->received += i;
    *ret_used = i;
    return r->state == RESP_DONE;
}

int response_eof(struct response *r)
{
    if (r->state == RESP_BODY_UNTIL_EOF) {
        r->state = RESP_DONE;
        return 1;
    }
    return r->state == RESP_DONE;
}
