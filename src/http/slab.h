/* SPDX-License-Identifier: MIT */
/*
 * Fixed-size objects in slots of their own 64 KiB blocks, mapped apart from the heap (slab.c).
 * For objects that live long and in numbers (connections, their libuv handles): 10,000 idle
 * connections are then 10,000 dense slots, not slots with the holes of freed per-request
 * buffers between them (docs/BENCHMARKS.md, bench/idle).
 */
#ifndef BATON_HTTP_SLAB_H
#define BATON_HTTP_SLAB_H

#include <stddef.h>

struct baton__slab_block;

struct baton__slab {
    size_t size;                      /* of an object */
    size_t slot;                      /* of a slot: the size, 8-byte rounded */
    size_t per_block;                 /* slots per block */
    struct baton__slab_block *blocks; /* those with a free slot first */
};

/* A slab of objects of size bytes (nothing is mapped yet). */
void baton__slab_init(struct baton__slab *s, size_t size);
/* A zero-filled object (8-byte aligned), or NULL (out of memory). */
void *baton__slab_alloc(struct baton__slab *s);
/* Gives an object of s back (NULL is fine). */
void baton__slab_free(struct baton__slab *s, void *p);
/* Blocks mapped now. */
size_t baton__slab_blocks(const struct baton__slab *s);
/* Unmaps every block: every object is gone. */
void baton__slab_destroy(struct baton__slab *s);

#endif
