/* SPDX-License-Identifier: MIT */
/*
 * A per-connection bump allocator for the strings of one request (method, path, headers,
 * parameters). Allocations never move, so pointers handed to handlers stay valid until the
 * request ends; a reset rewinds to the first block and keeps it, so a keep-alive connection
 * allocates nothing per request in the steady state. Every arena has a hard maximum.
 */
#ifndef BATON_HTTP_ARENA_H
#define BATON_HTTP_ARENA_H

#include <stddef.h>

struct baton__arena_block;

struct baton__arena {
    struct baton__arena_block *first; /* kept across resets */
    struct baton__arena_block *cur;
    size_t total; /* bytes of all blocks */
    size_t max;   /* allocations that would pass this many bytes fail */
};

/* Initialises an empty arena (nothing allocated yet) that may hold up to max bytes. */
void baton__arena_init(struct baton__arena *a, size_t max);

/* Returns n bytes aligned for any scalar, or NULL on exhaustion (-ENOMEM or past the max). */
void *baton__arena_alloc(struct baton__arena *a, size_t n);

/* Copies n bytes and a NUL into the arena. Returns the copy or NULL. */
char *baton__arena_strndup(struct baton__arena *a, const char *s, size_t n);

/* Forgets every allocation; keeps the first block, frees the others. */
void baton__arena_reset(struct baton__arena *a);

/* Frees every block (the arena is empty and reusable). */
void baton__arena_free(struct baton__arena *a);

/* Bytes the arena holds from the allocator. */
size_t baton__arena_footprint(const struct baton__arena *a);

#endif
