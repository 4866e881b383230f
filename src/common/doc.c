/* SPDX-License-Identifier: MIT */
/*
 * The JSON reader: libfyaml's event parser in JSON mode does the grammar (it refuses YAML-only
 * syntax: plain words, anchors, tags, comments, single quotes, directives, trailing commas);
 * this file bounds the input, builds a small tree of its own from the events (so no libfyaml
 * type leaks to callers), refuses duplicate keys and what libfyaml would let by (a byte order
 * mark, text after the value), keeps libfyaml's time linear in the input (scan(),
 * break_long_runs()), and turns its diagnostics into "malformed JSON at byte N: reason".
 */
#include "common/doc.h"

#include <errno.h>
#include <inttypes.h>
#include <libfyaml.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_SIZE 16384

struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
};

struct baton_doc_node {
    enum baton_doc_type type;
    bool boolean;
    const char *key; /* member name when the parent is an object */
    size_t key_len;
    size_t key_at;    /* byte offset of the member name */
    const char *text; /* strings and numbers, NUL-terminated */
    size_t len;
    size_t at; /* byte offset in the input, for errors */
    struct baton_doc_node *first, *last, *next;
    struct baton_doc_node **sorted; /* objects: members by key, for lookup */
    size_t count;
};

struct baton_doc {
    struct chunk *chunks;
    struct baton_doc_node *root;
};

static void *doc_alloc(struct baton_doc *d, size_t size)
{
    size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    struct chunk *c = d->chunks;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > CHUNK_SIZE ? size : CHUNK_SIZE;
        c = malloc(sizeof(*c) + cap);
        if (!c)
            return NULL;
        c->cap = cap;
        c->used = 0;
        /* A large block gets its own chunk behind the current one, which keeps its room. */
        if (size > CHUNK_SIZE && d->chunks) {
            c->next = d->chunks->next;
            d->chunks->next = c;
        } else {
            c->next = d->chunks;
            d->chunks = c;
        }
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    return p;
}

static char *doc_strdup(struct baton_doc *d, const char *s, size_t len)
{
    char *p = doc_alloc(d, len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

void baton__doc_free(struct baton_doc *doc)
{
    if (!doc)
        return;
    for (struct chunk *c = doc->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(doc);
}

const struct baton_doc_node *baton__doc_root(const struct baton_doc *doc)
{
    return doc ? doc->root : NULL;
}

/* ---- errors -------------------------------------------------------------------------- */

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Copies s into out as printable ASCII (other bytes as \xNN, and quotes and backslashes too
 * when `quotes`), at most out_size - 1 bytes. */
static void printable(char *out, size_t out_size, const char *s, size_t len, bool quotes)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 5 < out_size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && (!quotes || (c != '"' && c != '\\')))
            out[n++] = (char)c;
        else
            n += (size_t)snprintf(out + n, out_size - n, "\\x%02x", c);
    }
    if (out_size)
        out[n < out_size ? n : out_size - 1] = '\0';
}

static int malformed(char *err, size_t errlen, size_t at, const char *reason)
{
    char clean[160];
    printable(clean, sizeof(clean), reason, strlen(reason), false);
    /* libfyaml's messages start in capitals or not; ours are lowercase after the colon. */
    if (clean[0] >= 'A' && clean[0] <= 'Z' && !(clean[1] >= 'A' && clean[1] <= 'Z'))
        clean[0] = (char)(clean[0] - 'A' + 'a');
    errf(err, errlen, "malformed JSON at byte %zu: %s", at, clean);
    return -EINVAL;
}

static void discard(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag;
    (void)user;
    (void)buf;
    (void)len;
}

/* ---- parsing ------------------------------------------------------------------------- */

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * One pass over the text before libfyaml sees it, for two of its costs that grow faster than
 * the input: its scanner looks far ahead in a run of '[', and whitespace after a complete
 * collection or string takes it quadratic time (16 KB of trailing spaces: seconds). So deep
 * nesting is refused here, and libfyaml gets the text only up to the end of the first value when
 * that is a collection or a string (a number or a literal ends at the first whitespace); what
 * follows must be whitespace (checked by the caller).
 * Brackets inside strings do not count. Returns the offset of the first bracket past
 * max_depth, or len when there is none; *ret_end is where the first value ends (len when it
 * does not end).
 */
static size_t scan(const char *text, size_t len, unsigned max_depth, size_t *ret_end)
{
    unsigned depth = 0;
    bool in_string = false, started = false;
    *ret_end = len;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_string = false;
                if (depth == 0 && *ret_end == len)
                    *ret_end = i + 1;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth)
                return i;
        } else if ((c == ']' || c == '}') && depth > 0) {
            if (--depth == 0 && *ret_end == len)
                *ret_end = i + 1;
        } else if (!started && !is_ws(c)) {
            /* A number or a literal: it holds no whitespace, so it ends at the first. */
            while (i < len && !is_ws(text[i]))
                i++;
            *ret_end = i;
            return len;
        }
        started = started || !is_ws(c);
        if (*ret_end < len)
            return len; /* the rest is not looked at: the caller wants whitespace there */
    }
    return len;
}

#define WS_RUN_MAX 64

/*
 * libfyaml takes time quadratic in the length of a run of spaces or tabs after a closing
 * bracket (64 KB of them: seconds). A line break ends such a run and means the same to JSON, so
 * libfyaml reads a copy of the text with one in every WS_RUN_MAX bytes of a long run outside
 * strings; no byte moves, so positions stay those of the text. Returns the copy (free it), or
 * NULL when the text has no long run or memory is short (*ret_nomem).
 */
static char *break_long_runs(const char *text, size_t len, bool *ret_nomem)
{
    char *copy = NULL;
    bool in_string = false;
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == ' ' || c == '\t') {
            if (++run % WS_RUN_MAX == 0) {
                if (!copy) {
                    if (!(copy = malloc(len))) {
                        *ret_nomem = true;
                        return NULL;
                    }
                    memcpy(copy, text, len);
                }
                copy[i] = '\n';
            }
            continue;
        } else if (c == '"') {
            in_string = true;
        }
        run = 0;
    }
    return copy;
}

/* RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool is_number(const char *s, size_t len)
{
    size_t i = 0, start;
    if (i < len && s[i] == '-')
        i++;
    if (i < len && s[i] == '0')
        i++;
    else if (i < len && s[i] >= '1' && s[i] <= '9')
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return false;
    if (i < len && s[i] == '.') {
        start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return false;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        start = i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return false;
    }
    return i == len;
}

static int key_cmp(const void *a, const void *b)
{
    const struct baton_doc_node *x = *(const struct baton_doc_node *const *)a;
    const struct baton_doc_node *y = *(const struct baton_doc_node *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

/* Sorts obj's members for lookup; a key seen twice is an error (at the later one). */
static int index_object(struct baton_doc *d, struct baton_doc_node *obj, char *err, size_t errlen)
{
    if (obj->count == 0)
        return 0;
    obj->sorted = doc_alloc(d, obj->count * sizeof(*obj->sorted));
    if (!obj->sorted)
        return -ENOMEM;
    size_t i = 0;
    for (struct baton_doc_node *m = obj->first; m; m = m->next)
        obj->sorted[i++] = m;
    qsort(obj->sorted, obj->count, sizeof(*obj->sorted), key_cmp);
    for (i = 1; i < obj->count; i++) {
        if (key_cmp(&obj->sorted[i - 1], &obj->sorted[i]) == 0) {
            const struct baton_doc_node *a = obj->sorted[i - 1], *b = obj->sorted[i];
            char key[80], reason[120];
            printable(key, sizeof(key), b->key, b->key_len, true);
            snprintf(reason, sizeof(reason), "duplicate key \"%s\"", key);
            return malformed(err, errlen, a->key_at > b->key_at ? a->key_at : b->key_at, reason);
        }
    }
    return 0;
}

struct state {
    const char *text;
    size_t len;
    unsigned max_depth;
    struct baton_doc *doc;
    struct baton_doc_node **stack; /* open arrays and objects */
    unsigned depth;
    const char *key; /* the member name read, waiting for its value */
    size_t key_len, key_at;
    bool have_key;
    size_t root_end; /* byte after the root value, once complete */
};

/* Byte offset of a token or event mark; quoted scalars' marks exclude their quotes. */
static size_t mark_at(const struct fy_mark *m, size_t len)
{
    return m && m->input_pos <= len ? m->input_pos : len;
}

static const char *root_kind(const struct baton_doc_node *root)
{
    return root->type == BATON_DOC_OBJECT  ? "object"
           : root->type == BATON_DOC_ARRAY ? "array"
                                           : "value";
}

/* Adds node n (its `at` set) where the events put it. */
static int attach(struct state *s, struct baton_doc_node *n, char *err, size_t errlen)
{
    struct baton_doc_node *parent = s->depth ? s->stack[s->depth - 1] : NULL;
    if (!parent) {
        if (s->doc->root)
            return malformed(err, errlen, n->at, "text after the value");
        s->doc->root = n;
        return 0;
    }
    if (parent->type == BATON_DOC_OBJECT) {
        if (!s->have_key)
            return malformed(err, errlen, n->at, "expected a member name");
        n->key = s->key;
        n->key_len = s->key_len;
        n->key_at = s->key_at;
        s->have_key = false;
    }
    if (parent->last)
        parent->last->next = n;
    else
        parent->first = n;
    parent->last = n;
    parent->count++;
    return 0;
}

static int on_scalar(struct state *s, struct fy_event *e, char *err, size_t errlen)
{
    struct fy_token *t = e->scalar.value;
    size_t len, at = mark_at(fy_event_start_mark(e), s->len);
    const char *text = fy_token_get_text(t, &len);
    enum fy_scalar_style style = fy_token_scalar_style(t);
    struct baton_doc_node *parent = s->depth ? s->stack[s->depth - 1] : NULL;

    if (e->scalar.anchor || e->scalar.tag)
        return malformed(err, errlen, at, "anchors and tags are not JSON");
    if (style == FYSS_DOUBLE_QUOTED && at > 0)
        at--; /* point at the quote */
    if (!text && len == 0)
        text = "";
    if (!text)
        return -ENOMEM;
    if (parent && parent->type == BATON_DOC_OBJECT && !s->have_key) {
        if (style != FYSS_DOUBLE_QUOTED)
            return malformed(err, errlen, at, "expected a member name");
        s->key = doc_strdup(s->doc, text, len);
        if (!s->key)
            return -ENOMEM;
        s->key_len = len;
        s->key_at = at;
        s->have_key = true;
        return 0;
    }
    struct baton_doc_node *n = doc_alloc(s->doc, sizeof(*n));
    if (!n)
        return -ENOMEM;
    memset(n, 0, sizeof(*n));
    n->at = at;
    if (style == FYSS_DOUBLE_QUOTED) {
        n->type = BATON_DOC_STRING;
    } else if (style != FYSS_PLAIN) {
        return malformed(err, errlen, at, "not a JSON value");
    } else if (len == 4 && memcmp(text, "null", 4) == 0) {
        n->type = BATON_DOC_NULL;
    } else if (len == 4 && memcmp(text, "true", 4) == 0) {
        n->type = BATON_DOC_BOOL;
        n->boolean = true;
    } else if (len == 5 && memcmp(text, "false", 5) == 0) {
        n->type = BATON_DOC_BOOL;
    } else if (is_number(text, len)) {
        n->type = BATON_DOC_NUMBER;
    } else {
        return malformed(err, errlen, at, "not a JSON value");
    }
    if (n->type == BATON_DOC_STRING || n->type == BATON_DOC_NUMBER) {
        if (!(n->text = doc_strdup(s->doc, text, len)))
            return -ENOMEM;
        n->len = len;
    }
    int r = attach(s, n, err, errlen);
    if (r == 0 && !parent)
        s->root_end = mark_at(fy_event_end_mark(e), s->len) + (style == FYSS_DOUBLE_QUOTED);
    return r;
}

static int on_start(struct state *s, struct fy_event *e, char *err, size_t errlen)
{
    bool object = e->type == FYET_MAPPING_START;
    size_t at = mark_at(fy_event_start_mark(e), s->len);
    struct fy_token *anchor = object ? e->mapping_start.anchor : e->sequence_start.anchor;
    struct fy_token *tag = object ? e->mapping_start.tag : e->sequence_start.tag;

    if (anchor || tag)
        return malformed(err, errlen, at, "anchors and tags are not JSON");
    if (fy_event_get_node_style(e) != FYNS_FLOW)
        return malformed(err, errlen, at, "not a JSON value");
    if (s->depth >= s->max_depth)
        return malformed(err, errlen, at, "nested too deeply");
    struct baton_doc_node *n = doc_alloc(s->doc, sizeof(*n));
    if (!n)
        return -ENOMEM;
    memset(n, 0, sizeof(*n));
    n->type = object ? BATON_DOC_OBJECT : BATON_DOC_ARRAY;
    n->at = at;
    int r = attach(s, n, err, errlen);
    if (r == 0)
        s->stack[s->depth++] = n;
    return r;
}

static int on_end(struct state *s, struct fy_event *e, char *err, size_t errlen)
{
    struct baton_doc_node *n = s->stack[--s->depth];
    int r = 0;
    if (n->type == BATON_DOC_OBJECT)
        r = index_object(s->doc, n, err, errlen);
    if (r == 0 && s->depth == 0)
        s->root_end = mark_at(fy_event_end_mark(e), s->len);
    return r;
}

/* Where libfyaml's first error is, and its message. */
static void first_error(struct fy_diag *diag, const char *text, size_t len, size_t *ret_at,
                        const char **ret_msg)
{
    void *iter = NULL;
    struct fy_diag_error *de = diag ? fy_diag_errors_iterate(diag, &iter) : NULL;
    size_t at = len;

    *ret_msg = de && de->msg ? de->msg : "syntax error";
    if (de && de->fyt) {
        at = mark_at(fy_token_start_mark(de->fyt), len);
    } else if (de && de->line > 0) {
        /* line and column count from 1; columns in characters (UTF-8 continuation bytes
         * do not start one). */
        int line = 1, col = 1;
        for (at = 0; at < len && (line < de->line || col < de->column); at++) {
            if (text[at] == '\n') {
                line++;
                col = 1;
            } else if (((unsigned char)text[at] & 0xc0) != 0x80) {
                col++;
            }
        }
    }
    *ret_at = at;
}

static int run(struct state *s, char *err, size_t errlen)
{
    struct fy_diag_cfg diag_cfg;
    struct fy_diag *diag = NULL;
    struct fy_parser *parser = NULL;
    struct fy_event *e;
    int r = -ENOMEM;

    fy_diag_cfg_default(&diag_cfg);
    diag_cfg.fp = NULL;
    diag_cfg.output_fn = discard;
    if (!(diag = fy_diag_create(&diag_cfg)))
        goto out;
    fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET | FYPCF_JSON_FORCE, .diag = diag};
    if (!(parser = fy_parser_create(&cfg)) || fy_parser_set_string(parser, s->text, s->len) < 0)
        goto out;
    r = 0;
    while (r == 0 && (e = fy_parser_parse(parser))) {
        switch (e->type) {
        case FYET_SCALAR:
            r = on_scalar(s, e, err, errlen);
            break;
        case FYET_MAPPING_START:
        case FYET_SEQUENCE_START:
            r = on_start(s, e, err, errlen);
            break;
        case FYET_MAPPING_END:
        case FYET_SEQUENCE_END:
            r = on_end(s, e, err, errlen);
            break;
        case FYET_ALIAS:
            r = malformed(err, errlen, mark_at(fy_event_start_mark(e), s->len),
                          "aliases are not JSON");
            break;
        case FYET_DOCUMENT_START:
            if (s->doc->root)
                r = malformed(err, errlen, s->root_end, "text after the value");
            break;
        default:
            break;
        }
        fy_parser_event_free(parser, e);
    }
    if (r == 0 && fy_parser_get_stream_error(parser)) {
        size_t at;
        const char *msg;
        first_error(diag, s->text, s->len, &at, &msg);
        r = malformed(err, errlen, at, msg);
    }
    if (r == 0 && !s->doc->root)
        r = malformed(err, errlen, s->len, "no value");
out:
    fy_parser_destroy(parser);
    if (diag)
        fy_diag_destroy(diag);
    return r;
}

static int parse(const char *text, size_t len, unsigned max_depth, struct baton_doc **ret,
                 char *err, size_t errlen)
{
    struct baton_doc *doc = NULL;
    struct baton_doc_node **stack = NULL;
    char *calm = NULL; /* the text libfyaml reads, when it differs (break_long_runs()) */
    size_t i, deep, value_end;
    int r;

    for (i = 0; i < len && is_ws(text[i]); i++)
        ;
    if (i == len) {
        errf(err, errlen, "empty document");
        return -ENODATA;
    }
    /* What libfyaml would skip (a byte order mark) or read as YAML: no JSON value starts so. */
    if (!strchr("{[\"-0123456789tfn", text[i]) || text[i] == '\0')
        return malformed(err, errlen, i, "unexpected character");
    if ((deep = scan(text, len, max_depth, &value_end)) < len)
        return malformed(err, errlen, deep, "nested too deeply");
    doc = calloc(1, sizeof(*doc));
    stack = calloc(max_depth + 1, sizeof(*stack));
    r = -ENOMEM;
    if (!doc || !stack)
        goto out;
    /* Trailing whitespace is never libfyaml's (see scan()). */
    while (value_end > i && is_ws(text[value_end - 1]))
        value_end--;
    bool nomem = false;
    calm = break_long_runs(text, value_end, &nomem);
    if (nomem)
        goto out;
    struct state s = {.text = calm ? calm : text,
                      .len = value_end,
                      .max_depth = max_depth,
                      .doc = doc,
                      .stack = stack};
    if ((r = run(&s, err, errlen)) < 0)
        goto out;
    for (i = s.root_end; r == 0 && i < len; i++)
        if (!is_ws(text[i])) {
            char reason[64];
            snprintf(reason, sizeof(reason), "text after the %s", root_kind(doc->root));
            r = malformed(err, errlen, i, reason);
        }
    if (r == 0) {
        *ret = doc;
        doc = NULL;
    }
out:
    if (r == -ENOMEM)
        errf(err, errlen, "out of memory");
    free(stack);
    free(calm);
    baton__doc_free(doc);
    return r;
}

int baton__doc_parse(const char *text, size_t len, size_t max_bytes, unsigned max_depth,
                     struct baton_doc **ret, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!text || !ret)
        return -EINVAL;
    if (len > max_bytes) {
        errf(err, errlen, "document too large: %zu bytes, at most %zu", len, max_bytes);
        return -EMSGSIZE;
    }
    return parse(text, len, max_depth, ret, err, errlen);
}

/* ---- nodes ----------------------------------------------------------------------------- */

enum baton_doc_type baton__doc_type(const struct baton_doc_node *n)
{
    return n ? n->type : BATON_DOC_MISSING;
}

const char *baton__doc_type_name(enum baton_doc_type type)
{
    switch (type) {
    case BATON_DOC_NULL:
        return "null";
    case BATON_DOC_BOOL:
        return "a boolean";
    case BATON_DOC_NUMBER:
        return "a number";
    case BATON_DOC_STRING:
        return "a string";
    case BATON_DOC_ARRAY:
        return "an array";
    case BATON_DOC_OBJECT:
        return "an object";
    default:
        return "nothing";
    }
}

const struct baton_doc_node *baton__doc_get(const struct baton_doc_node *obj, const char *key)
{
    if (!obj || obj->type != BATON_DOC_OBJECT || !key || obj->count == 0)
        return NULL;
    struct baton_doc_node probe = {.key = key, .key_len = strlen(key)};
    const struct baton_doc_node *p = &probe;
    struct baton_doc_node **found =
        bsearch(&p, obj->sorted, obj->count, sizeof(*obj->sorted), key_cmp);
    return found ? *found : NULL;
}

const struct baton_doc_node *baton__doc_next(const struct baton_doc_node *container,
                                             const struct baton_doc_node *prev)
{
    if (!container || (container->type != BATON_DOC_ARRAY && container->type != BATON_DOC_OBJECT))
        return NULL;
    return prev ? prev->next : container->first;
}

size_t baton__doc_count(const struct baton_doc_node *container)
{
    if (!container || (container->type != BATON_DOC_ARRAY && container->type != BATON_DOC_OBJECT))
        return 0;
    return container->count;
}

const char *baton__doc_key(const struct baton_doc_node *member)
{
    return member ? member->key : NULL;
}

int baton__doc_str(const struct baton_doc_node *n, const char **ret, size_t *ret_len)
{
    if (!n || n->type != BATON_DOC_STRING)
        return -EINVAL;
    *ret = n->text;
    if (ret_len)
        *ret_len = n->len;
    return 0;
}

int baton__doc_int(const struct baton_doc_node *n, int64_t min, int64_t max, int64_t *ret)
{
    if (!n || n->type != BATON_DOC_NUMBER || strpbrk(n->text, ".eE"))
        return -EINVAL;
    errno = 0;
    char *end;
    long long v = strtoll(n->text, &end, 10);
    if (*end)
        return -EINVAL;
    if (errno == ERANGE || v < min || v > max)
        return -ERANGE;
    *ret = v;
    return 0;
}

int baton__doc_double(const struct baton_doc_node *n, double *ret)
{
    if (!n || n->type != BATON_DOC_NUMBER)
        return -EINVAL;
    errno = 0;
    char *end;
    double v = strtod(n->text, &end);
    if (*end)
        return -EINVAL;
    if (errno == ERANGE && (v > 1.0 || v < -1.0))
        return -ERANGE; /* an underflow to 0 or a subnormal is the nearest double: kept */
    *ret = v;
    return 0;
}

int baton__doc_bool(const struct baton_doc_node *n, bool *ret)
{
    if (!n || n->type != BATON_DOC_BOOL)
        return -EINVAL;
    *ret = n->boolean;
    return 0;
}

const char *baton__doc_number_text(const struct baton_doc_node *n)
{
    return n && n->type == BATON_DOC_NUMBER ? n->text : NULL;
}

/* ---- object members -------------------------------------------------------------------- */

/* The member, or NULL with 'missing "key"' in err. */
static const struct baton_doc_node *member(const struct baton_doc_node *obj, const char *key,
                                           char *err, size_t errlen)
{
    const struct baton_doc_node *n = baton__doc_get(obj, key);
    if (!n)
        errf(err, errlen, "missing \"%s\"", key);
    return n;
}

static int want(const char *key, const char *what, char *err, size_t errlen, int r)
{
    errf(err, errlen, "\"%s\" must be %s", key, what);
    return r;
}

int baton__doc_get_str(const struct baton_doc_node *obj, const char *key, const char **ret,
                       char *err, size_t errlen)
{
    const struct baton_doc_node *n = member(obj, key, err, errlen);
    const char *s;
    size_t len;
    if (!n)
        return -ENOENT;
    if (baton__doc_str(n, &s, &len) < 0)
        return want(key, "a string", err, errlen, -EINVAL);
    if (strlen(s) != len)
        return want(key, "a string without NUL characters", err, errlen, -EINVAL);
    *ret = s;
    return 0;
}

int baton__doc_get_int(const struct baton_doc_node *obj, const char *key, int64_t min, int64_t max,
                       int64_t *ret, char *err, size_t errlen)
{
    const struct baton_doc_node *n = member(obj, key, err, errlen);
    char what[96];
    int r;
    if (!n)
        return -ENOENT;
    if ((r = baton__doc_int(n, min, max, ret)) == 0)
        return 0;
    if (min == 0 && max == INT64_MAX)
        snprintf(what, sizeof(what), "a non-negative integer");
    else if (min == 0)
        snprintf(what, sizeof(what), "a non-negative integer up to %" PRId64, max);
    else if (min == INT64_MIN && max == INT64_MAX)
        snprintf(what, sizeof(what), "an integer");
    else
        snprintf(what, sizeof(what), "an integer from %" PRId64 " to %" PRId64, min, max);
    return want(key, what, err, errlen, r);
}

int baton__doc_get_bool(const struct baton_doc_node *obj, const char *key, bool *ret, char *err,
                        size_t errlen)
{
    const struct baton_doc_node *n = member(obj, key, err, errlen);
    if (!n)
        return -ENOENT;
    if (baton__doc_bool(n, ret) < 0)
        return want(key, "true or false", err, errlen, -EINVAL);
    return 0;
}

static int get_typed(const struct baton_doc_node *obj, const char *key, enum baton_doc_type type,
                     const struct baton_doc_node **ret, char *err, size_t errlen)
{
    const struct baton_doc_node *n = member(obj, key, err, errlen);
    if (!n)
        return -ENOENT;
    if (n->type != type)
        return want(key, baton__doc_type_name(type), err, errlen, -EINVAL);
    *ret = n;
    return 0;
}

int baton__doc_get_array(const struct baton_doc_node *obj, const char *key,
                         const struct baton_doc_node **ret, char *err, size_t errlen)
{
    return get_typed(obj, key, BATON_DOC_ARRAY, ret, err, errlen);
}

int baton__doc_get_object(const struct baton_doc_node *obj, const char *key,
                          const struct baton_doc_node **ret, char *err, size_t errlen)
{
    return get_typed(obj, key, BATON_DOC_OBJECT, ret, err, errlen);
}

int baton__doc_get_strv(const struct baton_doc_node *obj, const char *key, size_t max_items,
                        char ***ret, size_t *ret_n, char *err, size_t errlen)
{
    const struct baton_doc_node *arr, *item = NULL;
    char **v;
    size_t i = 0;
    int r = get_typed(obj, key, BATON_DOC_ARRAY, &arr, err, errlen);
    if (r < 0)
        return r;
    if (arr->count > max_items) {
        errf(err, errlen, "\"%s\" has %zu items, at most %zu", key, arr->count, max_items);
        return -E2BIG;
    }
    if (!(v = calloc(arr->count + 1, sizeof(*v)))) {
        errf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    while ((item = baton__doc_next(arr, item))) {
        const char *s;
        size_t len;
        if (baton__doc_str(item, &s, &len) < 0 || strlen(s) != len) {
            errf(err, errlen, "\"%s\" item %zu must be a string", key, i + 1);
            r = -EINVAL;
        } else if (!(v[i] = strdup(s))) {
            errf(err, errlen, "out of memory");
            r = -ENOMEM;
        }
        if (r < 0) {
            for (size_t k = 0; k < i; k++)
                free(v[k]);
            free(v);
            return r;
        }
        i++;
    }
    *ret = v;
    if (ret_n)
        *ret_n = i;
    return 0;
}
