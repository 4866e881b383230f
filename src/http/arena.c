/* SPDX-License-Identifier: MIT */
#include "http/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The first block fits a typical request's head; larger ones get blocks of their own size. */
#define FIRST_BLOCK 1024
#define NEXT_BLOCK  4096

struct baton__arena_block {
    struct baton__arena_block *next;
    size_t size;
    size_t used;
    alignas(max_align_t) char data[];
};

void baton__arena_init(struct baton__arena *a, size_t max)
{
    a->first = NULL;
    a->cur = NULL;
    a->total = 0;
    a->max = max;
}

static struct baton__arena_block *block_new(struct baton__arena *a, size_t size)
{
    if (a->max && (size > a->max || a->total > a->max - size))
        return NULL;
    struct baton__arena_block *b = malloc(sizeof(*b) + size);
    if (!b)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    a->total += size;
    return b;
}

void *baton__arena_alloc(struct baton__arena *a, size_t n)
{
    const size_t align = alignof(max_align_t);
    size_t need = (n + align - 1) & ~(align - 1);
    if (need < n)
        return NULL;
    struct baton__arena_block *b = a->cur;
    if (!b || b->size - b->used < need) {
        if (!a->first) {
            b = block_new(a, need > FIRST_BLOCK ? need : FIRST_BLOCK);
            if (!b)
                return NULL;
            a->first = b;
        } else {
            /* New blocks always go after the current one, which is the last. */
            struct baton__arena_block *nb = block_new(a, need > NEXT_BLOCK ? need : NEXT_BLOCK);
            if (!nb)
                return NULL;
            b->next = nb;
            b = nb;
        }
        a->cur = b;
    }
    void *p = b->data + b->used;
    b->used += need;
    return p;
}

char *baton__arena_strndup(struct baton__arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *p = baton__arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void baton__arena_reset(struct baton__arena *a)
{
    if (!a->first)
        return;
    struct baton__arena_block *b = a->first->next;
    while (b) {
        struct baton__arena_block *next = b->next;
        a->total -= b->size;
        free(b);
        b = next;
    }
    a->first->next = NULL;
    a->first->used = 0;
    a->cur = a->first;
}

void baton__arena_free(struct baton__arena *a)
{
    baton__arena_reset(a);
    free(a->first);
    a->first = NULL;
    a->cur = NULL;
    a->total = 0;
}

size_t baton__arena_footprint(const struct baton__arena *a)
{
    return a->total;
}
