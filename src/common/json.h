/* SPDX-License-Identifier: MIT */
/* Writing JSON text into a baton_buf. Reading JSON is common/doc.h. */
#ifndef BATON_COMMON_JSON_H
#define BATON_COMMON_JSON_H

#include <stddef.h>

#include "common/buf.h"

/* Appends s (n bytes, or up to the NUL when n == (size_t)-1) as a quoted, escaped JSON string.
 * Invalid UTF-8 bytes are written as U+FFFD. Returns 0 or -errno from the buffer. */
int baton__json_string(struct baton_buf *b, const char *s, size_t n);

/* Appends `"key":` (with a leading comma unless the buffer ends with '{' or '['). */
int baton__json_key(struct baton_buf *b, const char *key);

/* Appends `"key":"value"` / `"key":number` / `"key":true|false` members, comma-separated as above.
 */
int baton__json_kv_str(struct baton_buf *b, const char *key, const char *value);
int baton__json_kv_int(struct baton_buf *b, const char *key, long long value);
int baton__json_kv_bool(struct baton_buf *b, const char *key, int value);

#endif
