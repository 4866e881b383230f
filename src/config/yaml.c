/* SPDX-License-Identifier: MIT */
/*
 * YAML text to a tree of config_node, through libfyaml's event parser: the events carry the
 * line and column of every scalar and collection (libfyaml 0.7 has no marks on document
 * nodes), and building the tree ourselves lets us bound its depth and size, refuse aliases
 * and duplicate keys, and point at each problem.
 */
#include <errno.h>
#include <libfyaml.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/xmalloc.h"
#include "config/internal.h"

struct builder {
    const char *name; /* shown in messages; NULL: no location */
    const char *text;
    size_t len;
    struct baton_buf *err;
    struct config_node *root;
    struct config_node *stack[CONFIG_DEPTH_MAX];
    size_t depth;
    size_t n_nodes;
    unsigned n_documents;
    int last_line, last_col; /* for events without a mark (an empty value) */
    bool failed;
};

static void report(struct builder *b, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(struct builder *b, int line, int col, const char *fmt, ...)
{
    va_list ap;

    b->failed = true;
    if (b->name)
        baton__buf_printf(b->err, "%s:%d:%d: ", b->name, line, col);
    va_start(ap, fmt);
    baton__buf_vprintf(b->err, fmt, ap);
    va_end(ap);
    baton__buf_puts(b->err, "\n");
}

struct config_node *baton__config_node_new(enum config_node_type type)
{
    struct config_node *node = baton__xcalloc(1, sizeof(*node));
    node->type = type;
    return node;
}

struct config_node *baton__config_node_scalar(const char *text, bool plain)
{
    struct config_node *node = baton__config_node_new(NODE_SCALAR);
    node->len = strlen(text);
    node->text = baton__xstrndup(text, node->len);
    node->plain = plain;
    return node;
}

void baton__config_node_add(struct config_node *node, struct config_node *item)
{
    /* Grow in powers of two: n_items is bounded by CONFIG_ITEMS_MAX by the callers. */
    if ((node->n_items & (node->n_items - 1)) == 0) {
        size_t cap = node->n_items ? node->n_items * 2 : 4;
        node->items = baton__xrealloc(node->items, cap * sizeof(*node->items));
    }
    node->items[node->n_items++] = item;
}

void baton__config_node_free(struct config_node *node)
{
    if (!node)
        return;
    /* Depth is bounded by CONFIG_DEPTH_MAX, so recursion is bounded too. */
    for (size_t i = 0; i < node->n_items; i++)
        baton__config_node_free(node->items[i]);
    free(node->items);
    free(node->text);
    free(node);
}

bool baton__config_node_is_null(const struct config_node *node)
{
    if (!node)
        return true;
    if (node->type != NODE_SCALAR || !node->plain)
        return false;
    return node->len == 0 || strcmp(node->text, "~") == 0 || strcmp(node->text, "null") == 0 ||
           strcmp(node->text, "Null") == 0 || strcmp(node->text, "NULL") == 0;
}

/* A plain scalar YAML's core schema reads as a number: JSON's own grammar, which it includes. */
static bool json_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        s += strspn(s, "0123456789");
    else
        return false;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        s += strspn(s, "0123456789");
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        s += strspn(s, "0123456789");
    }
    return *s == '\0';
}

int baton__config_node_json(const struct config_node *node, struct baton_buf *out)
{
    int r = 0;

    if (!node || baton__config_node_is_null(node))
        return baton__buf_puts(out, "null");
    if (node->type == NODE_SCALAR) {
        if (node->plain && (!strcmp(node->text, "true") || !strcmp(node->text, "false") ||
                            json_number(node->text)))
            return baton__buf_puts(out, node->text);
        return baton__json_string(out, node->text, node->len);
    }
    r = baton__buf_puts(out, node->type == NODE_MAP ? "{" : "[");
    /* Depth is bounded by CONFIG_DEPTH_MAX, so recursion is bounded too. */
    for (size_t i = 0; r == 0 && i < node->n_items; i++) {
        if (i > 0)
            r = baton__buf_puts(out, node->type == NODE_MAP && i % 2 ? ":" : ",");
        if (r == 0 && node->type == NODE_MAP && i % 2 == 0)
            r = baton__json_string(out, node->items[i]->text, node->items[i]->len);
        else if (r == 0)
            r = baton__config_node_json(node->items[i], out);
    }
    if (r == 0)
        r = baton__buf_puts(out, node->type == NODE_MAP ? "}" : "]");
    return r;
}

static int compare_keys(const void *a, const void *b)
{
    const struct config_node *x = *(struct config_node *const *)a;
    const struct config_node *y = *(struct config_node *const *)b;

    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    int r = memcmp(x->text, y->text, x->len);
    if (r)
        return r;
    /* Equal keys stay in file order, so the second one is the duplicate. */
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->col < y->col ? -1 : (x->col > y->col);
}

/* Sorting finds duplicates in O(n log n): a mapping may hold thousands of keys. */
static void check_duplicates(struct builder *b, const struct config_node *map)
{
    size_t n = map->n_items / 2;
    const struct config_node *dup = NULL, *first = NULL;
    char ex[80];

    if (n < 2)
        return;
    struct config_node **keys = baton__xmalloc(n * sizeof(*keys));
    for (size_t i = 0; i < n; i++)
        keys[i] = map->items[2 * i];
    qsort(keys, n, sizeof(*keys), compare_keys);
    for (size_t i = 1; i < n; i++) {
        if (keys[i]->len != keys[i - 1]->len ||
            memcmp(keys[i]->text, keys[i - 1]->text, keys[i]->len) != 0)
            continue;
        /* Report the duplicate that comes first in the file, against its first occurrence. */
        if (!dup || keys[i]->line < dup->line ||
            (keys[i]->line == dup->line && keys[i]->col < dup->col)) {
            size_t j = i - 1;
            while (j > 0 && keys[j - 1]->len == keys[i]->len &&
                   memcmp(keys[j - 1]->text, keys[i]->text, keys[i]->len) == 0)
                j--;
            dup = keys[i];
            first = keys[j];
        }
    }
    if (dup)
        report(b, dup->line, dup->col, "duplicate key '%s' (first at %d:%d)",
               baton__config_excerpt(dup->text, ex, sizeof(ex)), first->line, first->col);
    free(keys);
}

/* A token's text, NUL-terminated, at most `max` bytes of it. Caller frees. */
static char *token_text(struct fy_token *token, size_t max, size_t *ret_len)
{
    size_t len = 0;
    const char *text = token ? fy_token_get_text(token, &len) : NULL;

    if (!text)
        len = 0;
    if (len > max)
        len = max;
    char *copy = baton__xmalloc(len + 1);
    if (len)
        memcpy(copy, text, len);
    copy[len] = '\0';
    *ret_len = len;
    return copy;
}

static bool tag_ok(struct builder *b, struct fy_token *tag, int line, int col)
{
    static const char core[] = "tag:yaml.org,2002:";
    char ex[80];
    size_t len;

    if (!tag)
        return true;
    char *text = token_text(tag, 200, &len);
    const struct fy_mark *mark = fy_token_start_mark(tag);
    if (mark) {
        line = mark->line + 1;
        col = mark->column + 1;
    }
    bool ok = (len == 1 && text[0] == '!') ||
              (len >= sizeof(core) - 1 && memcmp(text, core, sizeof(core) - 1) == 0);
    if (!ok)
        report(b, line, col, "tag '%s' is not supported",
               baton__config_excerpt(text, ex, sizeof(ex)));
    free(text);
    return ok;
}

static void add(struct builder *b, struct config_node *node)
{
    if (++b->n_nodes > CONFIG_NODES_MAX) {
        report(b, node->line, node->col, "too many values (more than %d)", CONFIG_NODES_MAX);
        baton__config_node_free(node);
        return;
    }
    if (b->depth == 0) {
        if (b->root) { /* cannot happen with one document; stay safe */
            baton__config_node_free(node);
            return;
        }
        b->root = node;
        return;
    }
    struct config_node *parent = b->stack[b->depth - 1];
    if (parent->n_items >= (parent->type == NODE_MAP ? 2 * CONFIG_ITEMS_MAX : CONFIG_ITEMS_MAX)) {
        report(b, node->line, node->col, "too many entries (more than %d)", CONFIG_ITEMS_MAX);
        baton__config_node_free(node);
        return;
    }
    if (parent->type == NODE_MAP && parent->n_items % 2 == 0 && node->type != NODE_SCALAR) {
        report(b, node->line, node->col, "a key must be plain text, not a %s",
               node->type == NODE_MAP ? "mapping" : "list");
        baton__config_node_free(node);
        return;
    }
    baton__config_node_add(parent, node);
}

static void on_event(struct builder *b, struct fy_event *ev)
{
    const struct fy_mark *mark = fy_event_start_mark(ev);
    int line = mark ? mark->line + 1 : b->last_line;
    int col = mark ? mark->column + 1 : b->last_col;
    struct config_node *node;
    struct fy_token *tag = NULL;
    size_t len;
    char *text, ex[80];

    b->last_line = line;
    b->last_col = col;
    switch (ev->type) {
    case FYET_DOCUMENT_START:
        if (++b->n_documents > 1)
            report(b, line, col, "only one YAML document is allowed");
        return;
    case FYET_ALIAS:
        /* Marked at the name: point at the '*'. */
        if (mark && mark->input_pos > 0 && mark->input_pos <= b->len &&
            b->text[mark->input_pos - 1] == '*' && col > 1)
            col--;
        text = token_text(ev->alias.anchor, 200, &len);
        report(b, line, col, "aliases (*%s) are not supported",
               baton__config_excerpt(text, ex, sizeof(ex)));
        free(text);
        return;
    case FYET_SCALAR:
        if (!tag_ok(b, ev->scalar.tag, line, col))
            return;
        /* libfyaml marks a quoted scalar at its first character: point at the quote. */
        if (fy_token_scalar_style(ev->scalar.value) != FYSS_PLAIN && mark && mark->input_pos > 0 &&
            mark->input_pos <= b->len &&
            (b->text[mark->input_pos - 1] == '"' || b->text[mark->input_pos - 1] == '\'') &&
            col > 1)
            col--;
        size_t quote = mark && mark->input_pos > 0 ? mark->input_pos - 1 : 0;
        const struct fy_mark *end = fy_token_end_mark(ev->scalar.value);
        if (fy_token_scalar_style(ev->scalar.value) == FYSS_SINGLE_QUOTED && mark && end &&
            quote < b->len && b->text[quote] == '\'' && end->input_pos <= b->len &&
            end->input_pos > quote + 1 &&
            memmem(b->text + quote + 1, end->input_pos - quote - 1, "''", 2))
            text = baton__config_single_quoted(b->text, b->len, quote, &len);
        else
            text = token_text(ev->scalar.value, CONFIG_FILE_MAX, &len);
        if (memchr(text, '\0', len)) {
            report(b, line, col, "a value must not contain a NUL character");
            free(text);
            return;
        }
        node = baton__config_node_new(NODE_SCALAR);
        node->text = text;
        node->len = len;
        node->plain = fy_token_scalar_style(ev->scalar.value) == FYSS_PLAIN;
        node->line = line;
        node->col = col;
        add(b, node);
        return;
    case FYET_MAPPING_START:
    case FYET_SEQUENCE_START:
        tag = ev->type == FYET_MAPPING_START ? ev->mapping_start.tag : ev->sequence_start.tag;
        if (!tag_ok(b, tag, line, col))
            return;
        if (b->depth >= CONFIG_DEPTH_MAX) {
            report(b, line, col, "nested deeper than %d levels", CONFIG_DEPTH_MAX);
            return;
        }
        node = baton__config_node_new(ev->type == FYET_MAPPING_START ? NODE_MAP : NODE_SEQ);
        node->line = line;
        node->col = col;
        add(b, node);
        if (!b->failed)
            b->stack[b->depth++] = node;
        return;
    case FYET_MAPPING_END:
    case FYET_SEQUENCE_END:
        if (b->depth == 0)
            return;
        node = b->stack[--b->depth];
        if (node->type == NODE_MAP)
            check_duplicates(b, node);
        return;
    default:
        return;
    }
}

/* The position of the innermost collection still open: for "without a closing bracket". */
static void report_open_bracket(struct builder *b)
{
    if (b->depth > 0)
        baton__buf_printf(b->err, " (the one opened at %d:%d)", b->stack[b->depth - 1]->line,
                          b->stack[b->depth - 1]->col);
}

int baton__config_yaml_parse(const char *name, const char *text, size_t len,
                             struct config_node **ret, struct baton_buf *err)
{
    struct builder b = {.name = name, .text = text, .len = len, .err = err};
    struct fy_diag_cfg diag_cfg;
    struct fy_diag *diag = NULL;
    struct fy_parser *parser = NULL;
    struct fy_event *ev;
    int r = -EINVAL;

    size_t bad = baton__config_utf8_invalid_at(text, len);
    if (bad < len) {
        int line, col;
        baton__config_position(text, bad, &line, &col);
        report(&b, line, col, "not valid UTF-8 (byte 0x%02x): configuration is read as UTF-8",
               (unsigned char)text[bad]);
        goto out;
    }
    fy_diag_cfg_default(&diag_cfg);
    diag_cfg.fp = NULL;
    diag_cfg.colorize = false;
    diag = fy_diag_create(&diag_cfg);
    if (!diag)
        goto out;
    /* Collected, not printed: they come back below as NAME:LINE:COL lines. */
    fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg parse_cfg = {.flags = FYPCF_QUIET, .diag = diag};
    parser = fy_parser_create(&parse_cfg);
    if (!parser || fy_parser_set_string(parser, text, len) != 0)
        goto out;

    while (!b.failed && (ev = fy_parser_parse(parser)) != NULL) {
        on_event(&b, ev);
        fy_parser_event_free(parser, ev);
    }
    if (!b.failed && fy_parser_get_stream_error(parser)) {
        void *iter = NULL;
        struct fy_diag_error *e;
        unsigned n = 0;

        while ((e = fy_diag_errors_iterate(diag, &iter)) != NULL && n < 5) {
            if (e->type < FYET_ERROR)
                continue;
            /* libfyaml's collected positions are already 1-based. */
            if (name)
                baton__buf_printf(err, "%s:%d:%d: ", name, e->line, e->column);
            baton__buf_printf(err, "%s", e->msg ? e->msg : "YAML syntax error");
            if (e->msg && (strstr(e->msg, "closing bracket") || strstr(e->msg, "closing brace")))
                report_open_bracket(&b);
            baton__buf_puts(err, "\n");
            n++;
        }
        if (n == 0)
            report(&b, b.last_line, b.last_col, "YAML syntax error");
        b.failed = true;
    }
    if (b.failed)
        goto out;
    *ret = b.root;
    b.root = NULL;
    r = 0;
out:
    if (r < 0 && !b.failed)
        baton__buf_printf(err, "%s%sout of memory while parsing YAML\n", name ? name : "",
                          name ? ": " : "");
    baton__config_node_free(b.root);
    if (parser)
        fy_parser_destroy(parser);
    if (diag)
        fy_diag_destroy(diag);
    return r;
}
