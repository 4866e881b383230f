/*
 * Control requests: one JSON object per line, e.g. {"cmd":"reload","wait":true}. A small
 * purpose-built parser: it validates the whole line as JSON (nesting bounded, so stack and time
 * stay linear in the input), keeps the few members the protocol defines and ignores the others.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "supervisor/internal.h"
#include "common/hex.h"

#define MAX_DEPTH 32
#define SHORT_MAX 64 /* keys and the command name; longer ones match nothing */

struct parser {
    const char *p, *start, *end;
    const char *error; /* static text */
};

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r' || *ps->p == '\n'))
        ps->p++;
}

static bool fail(struct parser *ps, const char *error)
{
    if (!ps->error)
        ps->error = error;
    return false;
}

/* Parses a string at ps->p (which is '"'); copies up to SHORT_MAX-1 bytes into out (when not
 * NULL), *ret_long set when it did not fit. Escapes beyond ASCII are kept as '?'. */
static bool parse_string(struct parser *ps, char *out, bool *ret_long)
{
    size_t n = 0;
    bool too_long = false;
    ps->p++;
    while (ps->p < ps->end) {
        unsigned char c = (unsigned char)*ps->p++;
        char ch = (char)c;
        if (c == '"') {
            if (out)
                out[n] = '\0';
            if (ret_long)
                *ret_long = too_long;
            return true;
        }
        if (c < 0x20)
            return fail(ps, "control character in a string");
        if (c == '\\') {
            if (ps->p >= ps->end)
                break;
            char e = *ps->p++;
            switch (e) {
            case '"':
            case '\\':
            case '/':
                ch = e;
                break;
            case 'b':
                ch = '\b';
                break;
            case 'f':
                ch = '\f';
                break;
            case 'n':
                ch = '\n';
                break;
            case 'r':
                ch = '\r';
                break;
            case 't':
                ch = '\t';
                break;
            case 'u': {
                int v = 0;
                if (ps->end - ps->p < 4)
                    return fail(ps, "bad \\u escape");
                for (int i = 0; i < 4; i++) {
                    int h = baton__hexval(ps->p[i]);
                    if (h < 0)
                        return fail(ps, "bad \\u escape");
                    v = v * 16 + h;
                }
                ps->p += 4;
                ch = v > 0 && v < 0x80 ? (char)v : '?';
                break;
            }
            default:
                return fail(ps, "bad escape in a string");
            }
        }
        if (out && n < SHORT_MAX - 1)
            out[n++] = ch;
        else
            too_long = true;
    }
    return fail(ps, "unterminated string");
}

/* Parses a number; *ret_uint gets it when it is a non-negative integer below 2^53. */
static bool parse_number(struct parser *ps, bool *ret_is_uint, uint64_t *ret_uint)
{
    uint64_t v = 0;
    bool is_uint = true;
    if (ps->p < ps->end && *ps->p == '-') {
        is_uint = false;
        ps->p++;
    }
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
        return fail(ps, "bad number");
    if (*ps->p == '0' && ps->p + 1 < ps->end && ps->p[1] >= '0' && ps->p[1] <= '9')
        return fail(ps, "bad number (leading zero)");
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        if (v > (UINT64_C(1) << 53))
            is_uint = false;
        else
            v = v * 10 + (uint64_t)(*ps->p - '0');
        ps->p++;
    }
    if (ps->p < ps->end && *ps->p == '.') {
        is_uint = false;
        ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
            return fail(ps, "bad number");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        is_uint = false;
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
            return fail(ps, "bad number");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    }
    *ret_is_uint = is_uint && v <= (UINT64_C(1) << 53);
    *ret_uint = v;
    return true;
}

static bool parse_literal(struct parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return fail(ps, "unexpected character");
    ps->p += n;
    return true;
}

enum kind { K_OTHER, K_STRING, K_TRUE, K_FALSE, K_UINT };

/* Parses any value; nested objects and arrays are validated and skipped. */
static bool parse_value(struct parser *ps, int depth, enum kind *ret_kind, char *str,
                        uint64_t *ret_uint)
{
    bool is_uint;
    *ret_kind = K_OTHER;
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "unexpected end of line");
    switch (*ps->p) {
    case '"':
        /* Too long for `str`: kept truncated; it then matches no command. */
        if (!parse_string(ps, str, NULL))
            return false;
        *ret_kind = K_STRING;
        return true;
    case 't':
        *ret_kind = K_TRUE;
        return parse_literal(ps, "true");
    case 'f':
        *ret_kind = K_FALSE;
        return parse_literal(ps, "false");
    case 'n':
        return parse_literal(ps, "null");
    case '{':
    case '[': {
        char close = *ps->p == '{' ? '}' : ']';
        bool object = close == '}';
        enum kind k;
        uint64_t u;
        if (depth >= MAX_DEPTH)
            return fail(ps, "nested too deeply");
        ps->p++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return true;
        }
        for (;;) {
            skip_ws(ps);
            if (object) {
                if (ps->p >= ps->end || *ps->p != '"')
                    return fail(ps, "expected a member name");
                if (!parse_string(ps, NULL, NULL))
                    return false;
                skip_ws(ps);
                if (ps->p >= ps->end || *ps->p++ != ':')
                    return fail(ps, "expected ':'");
            }
            if (!parse_value(ps, depth + 1, &k, NULL, &u))
                return false;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == close) {
                ps->p++;
                return true;
            }
            return fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    default:
        if (!parse_number(ps, &is_uint, ret_uint))
            return false;
        *ret_kind = is_uint ? K_UINT : K_OTHER;
        return true;
    }
}

static int bad_type(struct baton_buf *err, const char *key, const char *want)
{
    baton__buf_printf(err, "\"%s\" must be %s", key, want);
    return -EINVAL;
}

int baton__request_parse(const char *line, size_t len, struct baton_request *ret,
                         struct baton_buf *err)
{
    struct parser ps = {line, line, line + len, NULL};
    struct baton_request req = {0};
    char key[SHORT_MAX], str[SHORT_MAX], cmd[SHORT_MAX] = "";
    bool have_cmd = false, too_long;

    skip_ws(&ps);
    if (ps.p >= ps.end) {
        baton__buf_puts(err, "empty request");
        return -EINVAL;
    }
    if (*ps.p != '{') {
        enum kind k;
        uint64_t u;
        if (parse_value(&ps, 0, &k, NULL, &u)) {
            baton__buf_puts(err, "a request must be a JSON object");
            return -EINVAL;
        }
        goto malformed;
    }
    ps.p++;
    skip_ws(&ps);
    if (ps.p < ps.end && *ps.p == '}') {
        ps.p++;
    } else {
        for (;;) {
            enum kind k;
            uint64_t u = 0;
            skip_ws(&ps);
            if (ps.p >= ps.end || *ps.p != '"') {
                fail(&ps, "expected a member name");
                goto malformed;
            }
            if (!parse_string(&ps, key, &too_long))
                goto malformed;
            if (too_long)
                key[0] = '\0';
            skip_ws(&ps);
            if (ps.p >= ps.end || *ps.p++ != ':') {
                fail(&ps, "expected ':'");
                goto malformed;
            }
            if (!parse_value(&ps, 1, &k, str, &u))
                goto malformed;
            if (strcmp(key, "cmd") == 0) {
                if (k != K_STRING)
                    return bad_type(err, "cmd", "a string");
                memcpy(cmd, str, sizeof(cmd));
                have_cmd = true;
            } else if (strcmp(key, "wait") == 0 || strcmp(key, "fast") == 0 ||
                       strcmp(key, "in_place") == 0 || strcmp(key, "follow") == 0) {
                if (k != K_TRUE && k != K_FALSE)
                    return bad_type(err, key, "true or false");
                bool *field = key[0] == 'w'                ? &req.wait
                              : strcmp(key, "fast") == 0   ? &req.fast
                              : strcmp(key, "follow") == 0 ? &req.follow
                                                           : &req.in_place;
                *field = k == K_TRUE;
            } else if (strcmp(key, "timeout_ms") == 0) {
                if (k != K_UINT)
                    return bad_type(err, "timeout_ms", "a non-negative integer");
                req.timeout_ms = u;
            }
            skip_ws(&ps);
            if (ps.p < ps.end && *ps.p == ',') {
                ps.p++;
                continue;
            }
            if (ps.p < ps.end && *ps.p == '}') {
                ps.p++;
                break;
            }
            fail(&ps, "expected ',' or '}'");
            goto malformed;
        }
    }
    skip_ws(&ps);
    if (ps.p != ps.end) {
        fail(&ps, "text after the object");
        goto malformed;
    }
    if (!have_cmd) {
        baton__buf_puts(err, "missing \"cmd\"");
        return -EINVAL;
    }
    if (strcmp(cmd, "ping") == 0)
        req.cmd = BATON_REQ_PING;
    else if (strcmp(cmd, "status") == 0)
        req.cmd = BATON_REQ_STATUS;
    else if (strcmp(cmd, "reload") == 0)
        req.cmd = BATON_REQ_RELOAD;
    else if (strcmp(cmd, "stop") == 0)
        req.cmd = BATON_REQ_STOP;
    else if (strcmp(cmd, "logs") == 0)
        req.cmd = BATON_REQ_LOGS;
    else {
        baton__buf_puts(err, "unknown command \"");
        for (const char *c = cmd; *c; c++) {
            if (*c >= 0x20 && *c < 0x7f && *c != '"' && *c != '\\')
                baton__buf_printf(err, "%c", *c);
            else
                baton__buf_printf(err, "\\x%02x", (unsigned char)*c);
        }
        baton__buf_puts(err, "\"");
        return -EINVAL;
    }
    *ret = req;
    return 0;

malformed:
    baton__buf_printf(err, "malformed JSON at byte %zu: %s", (size_t)(ps.p - ps.start),
                      ps.error ? ps.error : "syntax error");
    return -EINVAL;
}
