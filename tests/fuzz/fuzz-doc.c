/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the JSON reader, baton__doc_parse and its getters (src/common/doc.c), which
 * reads control requests from local clients, control replies and re-exec state.
 *
 * Besides the sanitizers, oracles:
 *  - a refusal is -EINVAL, -ENODATA or -EMSGSIZE (-ENOMEM aside) with a one-line reason of
 *    printable ASCII, and "malformed JSON at byte N" never points past the input;
 *  - whitespace around the text changes nothing;
 *  - an accepted document, written back with the JSON writer (common/json.c), reads back as the
 *    same tree (the writer and the reader agree), with its strings valid UTF-8 and its numbers
 *    JSON numbers;
 *  - every member of an object is found by its key, counts match the items iterated, and the
 *    typed getters agree with the node types;
 *  - the depth limit is exact: a document as deep as the limit is read, one level deeper is not.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/doc.h"
#include "common/json.h"
#include "fuzz.h"

#define FUZZ_MAX_INPUT (64 * 1024)
#define MAX_DEPTH      16

/* A key held an escaped NUL: its C string is cut there, so it cannot be written back. */
static bool nul_key;

static bool valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len = c < 0x80             ? 1
                     : (c & 0xe0) == 0xc0 ? 2
                     : (c & 0xf0) == 0xe0 ? 3
                     : (c & 0xf8) == 0xf0 ? 4
                                          : 0;
        uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1fu : len == 3 ? c & 0x0fu : c & 0x07u;
        if (len == 0 || i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3fu);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

static int parse(const char *text, size_t len, unsigned depth, struct baton_doc **ret)
{
    char err[256];
    int r;

    *ret = NULL;
    r = baton__doc_parse(text, len, FUZZ_MAX_INPUT * 2, depth, ret, err, sizeof(err));
    if (r == 0) {
        CHECK(*ret != NULL && baton__doc_root(*ret) != NULL);
        return 0;
    }
    CHECK(*ret == NULL);
    CHECK(r == -EINVAL || r == -ENODATA || r == -ENOMEM);
    CHECK(err[0] != '\0');
    for (const char *p = err; *p; p++)
        CHECK(*p >= 0x20 && *p < 0x7f);
    unsigned long long at;
    if (sscanf(err, "malformed JSON at byte %llu:", &at) == 1)
        CHECK(at <= len);
    return r;
}

/* Writes n as JSON (members in document order). */
static void write_node(struct baton_buf *b, const struct baton_doc_node *n)
{
    const struct baton_doc_node *item = NULL;
    const char *s;
    size_t len;
    bool v;

    switch (baton__doc_type(n)) {
    case BATON_DOC_NULL:
        CHECK(baton__buf_puts(b, "null") == 0);
        break;
    case BATON_DOC_BOOL:
        CHECK(baton__doc_bool(n, &v) == 0);
        CHECK(baton__buf_puts(b, v ? "true" : "false") == 0);
        break;
    case BATON_DOC_NUMBER:
        CHECK(baton__buf_puts(b, baton__doc_number_text(n)) == 0);
        break;
    case BATON_DOC_STRING:
        CHECK(baton__doc_str(n, &s, &len) == 0);
        CHECK(baton__json_string(b, s, len) == 0);
        break;
    case BATON_DOC_ARRAY:
    case BATON_DOC_OBJECT:
        CHECK(baton__buf_puts(b, baton__doc_type(n) == BATON_DOC_ARRAY ? "[" : "{") == 0);
        while ((item = baton__doc_next(n, item))) {
            if (b->data[b->len - 1] != '[' && b->data[b->len - 1] != '{')
                CHECK(baton__buf_puts(b, ",") == 0);
            if (baton__doc_type(n) == BATON_DOC_OBJECT) {
                CHECK(baton__json_string(b, baton__doc_key(item), (size_t)-1) == 0);
                CHECK(baton__buf_puts(b, ":") == 0);
            }
            write_node(b, item);
        }
        CHECK(baton__buf_puts(b, baton__doc_type(n) == BATON_DOC_ARRAY ? "]" : "}") == 0);
        break;
    default:
        CHECK(false);
    }
}

static bool same_node(const struct baton_doc_node *a, const struct baton_doc_node *b)
{
    const struct baton_doc_node *x = NULL, *y = NULL;
    const char *sa, *sb;
    size_t la, lb;
    bool va, vb;

    if (baton__doc_type(a) != baton__doc_type(b))
        return false;
    switch (baton__doc_type(a)) {
    case BATON_DOC_BOOL:
        return baton__doc_bool(a, &va) == 0 && baton__doc_bool(b, &vb) == 0 && va == vb;
    case BATON_DOC_NUMBER:
        return strcmp(baton__doc_number_text(a), baton__doc_number_text(b)) == 0;
    case BATON_DOC_STRING:
        return baton__doc_str(a, &sa, &la) == 0 && baton__doc_str(b, &sb, &lb) == 0 && la == lb &&
               memcmp(sa, sb, la) == 0;
    case BATON_DOC_ARRAY:
    case BATON_DOC_OBJECT:
        if (baton__doc_count(a) != baton__doc_count(b))
            return false;
        while ((x = baton__doc_next(a, x)) && (y = baton__doc_next(b, y))) {
            if (baton__doc_key(x) && strcmp(baton__doc_key(x), baton__doc_key(y)) != 0)
                return false;
            if (!same_node(x, y))
                return false;
        }
        return true;
    default:
        return true;
    }
}

/* Every getter on every member; returns the depth of n (a scalar is 0). */
static unsigned walk(const struct baton_doc_node *n)
{
    const struct baton_doc_node *item = NULL, *node;
    unsigned deepest = 0;
    size_t count = 0;
    const char *s;
    size_t len;
    int64_t v;
    bool bv;
    char **strv;
    size_t strv_n;

    if (baton__doc_type(n) == BATON_DOC_STRING) {
        CHECK(baton__doc_str(n, &s, &len) == 0);
        CHECK(s[len] == '\0' && valid_utf8((const unsigned char *)s, len));
    }
    if (baton__doc_type(n) == BATON_DOC_NUMBER) {
        s = baton__doc_number_text(n);
        CHECK(s && strspn(s, "-+.eE0123456789") == strlen(s) && *s != '+' && *s != '.');
    }
    while ((item = baton__doc_next(n, item))) {
        const char *key = baton__doc_key(item);
        unsigned d = walk(item);
        deepest = d > deepest ? d : deepest;
        count++;
        CHECK((key != NULL) == (baton__doc_type(n) == BATON_DOC_OBJECT));
        if (!key)
            continue;
        node = baton__doc_get(n, key);
        /* Duplicates are refused: a key finds its own member, unless it held a NUL (then the
         * C string is the part before it, which may name another member or none). */
        CHECK(node == item || !node || strcmp(baton__doc_key(node), key) == 0);
        if (node != item) {
            nul_key = true;
            continue;
        }
        enum baton_doc_type t = baton__doc_type(item);
        CHECK((baton__doc_get_bool(n, key, &bv, NULL, 0) == 0) == (t == BATON_DOC_BOOL));
        CHECK((baton__doc_get_array(n, key, &node, NULL, 0) == 0) == (t == BATON_DOC_ARRAY));
        CHECK((baton__doc_get_object(n, key, &node, NULL, 0) == 0) == (t == BATON_DOC_OBJECT));
        int r = baton__doc_get_int(n, key, INT64_MIN, INT64_MAX, &v, NULL, 0);
        CHECK(r == 0 || r == -EINVAL || r == -ERANGE);
        if (r == 0)
            CHECK(t == BATON_DOC_NUMBER && strtoll(baton__doc_number_text(item), NULL, 10) == v);
        if (baton__doc_get_str(n, key, &s, NULL, 0) == 0)
            CHECK(t == BATON_DOC_STRING);
        r = baton__doc_get_strv(n, key, 1000, &strv, &strv_n, NULL, 0);
        CHECK(r == 0 || r == -EINVAL || r == -E2BIG || r == -ENOMEM);
        if (r == 0) {
            CHECK(t == BATON_DOC_ARRAY && strv_n == baton__doc_count(item) && !strv[strv_n]);
            for (size_t i = 0; i < strv_n; i++)
                free(strv[i]);
            free(strv);
        }
    }
    CHECK(count == baton__doc_count(n));
    if (baton__doc_type(n) == BATON_DOC_ARRAY || baton__doc_type(n) == BATON_DOC_OBJECT)
        deepest++;
    return deepest;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct baton_doc *doc, *again;
    struct baton_buf b = BATON_BUF_INIT(8 * FUZZ_MAX_INPUT);
    char *padded;
    int r;

    if (size > FUZZ_MAX_INPUT)
        return 0;
    r = parse(text, size, MAX_DEPTH, &doc);

    /* Whitespace around the text changes nothing. */
    padded = malloc(size + 8);
    CHECK(padded != NULL);
    memcpy(padded, " \n\t\r", 4);
    memcpy(padded + 4, text, size);
    memcpy(padded + 4 + size, "\r\t\n ", 4);
    CHECK(parse(padded, size + 8, MAX_DEPTH, &again) == r);
    if (r == 0)
        CHECK(same_node(baton__doc_root(doc), baton__doc_root(again)));
    baton__doc_free(again);
    free(padded);
    /* The size limit comes first. */
    if (size > 0) {
        again = NULL;
        CHECK(baton__doc_parse(text, size, size - 1, MAX_DEPTH, &again, NULL, 0) == -EMSGSIZE);
        CHECK(again == NULL); /* written only on success */
    }
    if (r != 0)
        return 0;

    nul_key = false;
    unsigned depth = walk(baton__doc_root(doc));
    CHECK(depth <= MAX_DEPTH);
    if (depth > 0) {
        CHECK(parse(text, size, depth, &again) == 0);
        baton__doc_free(again);
        CHECK(parse(text, size, depth - 1, &again) == -EINVAL);
    }

    /* Written back, it reads the same. */
    if (nul_key) {
        baton__doc_free(doc);
        return 0;
    }
    write_node(&b, baton__doc_root(doc));
    if (parse(b.data, b.len, MAX_DEPTH, &again) != 0) {
        fprintf(stderr, "fuzz-doc: the reader refuses what the writer wrote: %s\n", b.data);
        abort();
    }
    CHECK(same_node(baton__doc_root(doc), baton__doc_root(again)));
    baton__doc_free(again);
    baton__buf_free(&b);
    baton__doc_free(doc);
    return 0;
}
