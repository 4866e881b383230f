/* SPDX-License-Identifier: MIT */
/*
 * Reading JSON documents: the one reader for every JSON the programs read (control requests,
 * control replies, re-exec state, the state file, the deploy journal). Bounded (input size and
 * nesting depth are the caller's limits, checked before any work that grows with them) and strict:
 * RFC 8259 JSON only, parsed by libfyaml in JSON mode, so nothing YAML adds is accepted (plain
 * words such as
 * `{"cmd": reload}`, anchors, tags, comments, single quotes, several documents), and an object
 * with the same key twice is refused. Writing JSON is common/json.h.
 *
 * A library in the STYLE.md sense: functions return 0 or -errno and explain failures in a
 * caller buffer (err, errlen; err may be NULL), naming the key and what was wrong.
 */
#ifndef BATON_COMMON_DOC_H
#define BATON_COMMON_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct baton_doc;      /* a parsed document: owns every node and string in it */
struct baton_doc_node; /* a value inside a document; valid as long as the document */

enum baton_doc_type {
    BATON_DOC_MISSING, /* the "type" of a NULL node: no such member or item */
    BATON_DOC_NULL,
    BATON_DOC_BOOL,
    BATON_DOC_NUMBER,
    BATON_DOC_STRING,
    BATON_DOC_ARRAY,
    BATON_DOC_OBJECT,
};

/*
 * Parses text[0..len) as one JSON value. Refuses, with the reason in err:
 *   -EMSGSIZE  len > max_bytes (nothing is parsed);
 *   -ENODATA   nothing but whitespace;
 *   -EINVAL    anything that is not strict JSON, nesting deeper than max_depth arrays and
 *              objects, a duplicate key in an object: "malformed JSON at byte N: reason";
 *   -ENOMEM.
 * On success *ret is the document (baton__doc_free() releases it).
 */
int baton__doc_parse(const char *text, size_t len, size_t max_bytes, unsigned max_depth,
                     struct baton_doc **ret, char *err, size_t errlen);
void baton__doc_free(struct baton_doc *doc);
const struct baton_doc_node *baton__doc_root(const struct baton_doc *doc);

/* ---- nodes ----------------------------------------------------------------------------- */

/* The type of n; BATON_DOC_MISSING for NULL. */
enum baton_doc_type baton__doc_type(const struct baton_doc_node *n);
/* "null", "a boolean", "a number", "a string", "an array", "an object" ("nothing" for NULL). */
const char *baton__doc_type_name(enum baton_doc_type type);
/* Member `key` of object obj; NULL when obj is not an object or has no such member. */
const struct baton_doc_node *baton__doc_get(const struct baton_doc_node *obj, const char *key);
/* The item or member after prev (NULL: the first) of an array or object; NULL at the end and
 * for anything else. */
const struct baton_doc_node *baton__doc_next(const struct baton_doc_node *container,
                                             const struct baton_doc_node *prev);
/* The number of items or members of an array or object, 0 for anything else. */
size_t baton__doc_count(const struct baton_doc_node *container);
/* The name of an object member (as returned by baton__doc_next on an object), else NULL. */
const char *baton__doc_key(const struct baton_doc_node *member);

/* A string's bytes (NUL-terminated; *ret_len, when not NULL, counts an escaped \u0000 too).
 * Returns 0 or -EINVAL when n is not a string. */
int baton__doc_str(const struct baton_doc_node *n, const char **ret, size_t *ret_len);
/* An integer (a number written without fraction or exponent) in [min, max]. Returns 0, -EINVAL
 * when n is not an integer, -ERANGE outside the range. */
int baton__doc_int(const struct baton_doc_node *n, int64_t min, int64_t max, int64_t *ret);
/* A number (with or without fraction or exponent) as a double. Returns 0, -EINVAL when n is
 * not a number, -ERANGE when it overflows a double. */
int baton__doc_double(const struct baton_doc_node *n, double *ret);
/* true or false. Returns 0 or -EINVAL. */
int baton__doc_bool(const struct baton_doc_node *n, bool *ret);
/* The text of a number as written ("-1.5e3"), or NULL when n is not a number. */
const char *baton__doc_number_text(const struct baton_doc_node *n);

/* ---- object members, with an error naming the key -------------------------------------- */

/*
 * Each reads member `key` of obj. Returns 0 with *ret set, -ENOENT when there is no such member
 * ('missing "key"'), -EINVAL when it has another type ('"key" must be a string'), -ERANGE when
 * an integer is outside [min, max] ('"key" must be an integer from 1 to 9'). A string holding
 * a NUL character is refused by baton__doc_get_str (C strings cannot hold it). JSON null is a
 * value like any other: it is not a string, not a number, not missing.
 */
int baton__doc_get_str(const struct baton_doc_node *obj, const char *key, const char **ret,
                       char *err, size_t errlen);
int baton__doc_get_int(const struct baton_doc_node *obj, const char *key, int64_t min, int64_t max,
                       int64_t *ret, char *err, size_t errlen);
int baton__doc_get_bool(const struct baton_doc_node *obj, const char *key, bool *ret, char *err,
                        size_t errlen);
int baton__doc_get_array(const struct baton_doc_node *obj, const char *key,
                         const struct baton_doc_node **ret, char *err, size_t errlen);
int baton__doc_get_object(const struct baton_doc_node *obj, const char *key,
                          const struct baton_doc_node **ret, char *err, size_t errlen);
/*
 * An array of strings as a NULL-terminated vector of copies (free each and the vector; *ret_n,
 * when not NULL, gets the count). -E2BIG past max_items items, -EINVAL when an item is not a
 * string ('"key" item 2 must be a string'), -ENOMEM.
 */
int baton__doc_get_strv(const struct baton_doc_node *obj, const char *key, size_t max_items,
                        char ***ret, size_t *ret_n, char *err, size_t errlen);

#endif
