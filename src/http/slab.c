/* SPDX-License-Identifier: MIT */
/*
 * Slots in 64 KiB blocks (slab.h). Blocks with a free slot come first in the list, full ones
 * after, so a slot is found at the head; a block that empties is unmapped unless it is the only
 * one. Slots are handed out from the block's start first, so untouched pages cost nothing.
 * Blocks are aligned to their size, so an object finds its block from its own address: a slot
 * is the object alone, without a header (8 bytes rounded, which every object here needs).
 * Under AddressSanitizer a free slot is poisoned, as freed heap memory would be.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "http/slab.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BATON_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(BATON_ASAN)
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(p, n)   ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif

#define BLOCK_BYTES (64 * 1024)

struct baton__slab_block {
    struct baton__slab_block *prev, *next;
    void *free;   /* freed objects, each holding the next */
    size_t used;  /* slots handed out */
    size_t fresh; /* slots from the start ever handed out */
};

/* The slots follow the block's header, 16-byte aligned; each slot is an object, 8-byte aligned
 * (pointers and 64-bit integers; nothing here needs more). */
#define SLOTS_OFFSET ((sizeof(struct baton__slab_block) + 15) & ~(size_t)15)
#define SLOTS(b)     ((char *)(b) + SLOTS_OFFSET)
#define SLOT_ALIGN   8
/* The block of an object: blocks are BLOCK_BYTES-aligned (new_block()). */
#define BLOCK_OF(p) ((struct baton__slab_block *)((uintptr_t)(p) & ~(uintptr_t)(BLOCK_BYTES - 1)))

void baton__slab_init(struct baton__slab *s, size_t size)
{
    memset(s, 0, sizeof(*s));
    s->size = size < sizeof(void *) ? sizeof(void *) : size;
    s->slot = (s->size + SLOT_ALIGN - 1) & ~(size_t)(SLOT_ALIGN - 1);
    s->per_block = (BLOCK_BYTES - SLOTS_OFFSET) / s->slot;
}

/* A zero-filled block at an address that is a multiple of its size: twice its size mapped, the
 * unaligned head and tail given back. */
static struct baton__slab_block *new_block(void)
{
    char *m =
        mmap(NULL, 2 * BLOCK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    char *b = (char *)(((uintptr_t)m + BLOCK_BYTES - 1) & ~(uintptr_t)(BLOCK_BYTES - 1));
    if (b > m)
        munmap(m, (size_t)(b - m));
    if (b + BLOCK_BYTES < m + 2 * BLOCK_BYTES)
        munmap(b + BLOCK_BYTES, (size_t)(m + 2 * BLOCK_BYTES - (b + BLOCK_BYTES)));
    return (struct baton__slab_block *)b;
}

static void unlink_block(struct baton__slab *s, struct baton__slab_block *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        s->blocks = b->next;
    if (b->next)
        b->next->prev = b->prev;
    b->prev = b->next = NULL;
}

static void push_front(struct baton__slab *s, struct baton__slab_block *b)
{
    b->prev = NULL;
    b->next = s->blocks;
    if (b->next)
        b->next->prev = b;
    s->blocks = b;
}

static void push_back(struct baton__slab *s, struct baton__slab_block *b)
{
    struct baton__slab_block *t = s->blocks;
    if (!t) {
        push_front(s, b);
        return;
    }
    while (t->next)
        t = t->next;
    t->next = b;
    b->prev = t;
    b->next = NULL;
}

void *baton__slab_alloc(struct baton__slab *s)
{
    struct baton__slab_block *b = s->blocks;
    if (!b || b->used == s->per_block) {
        if (!(b = new_block()))
            return NULL;
        ASAN_POISON_MEMORY_REGION(SLOTS(b), s->per_block * s->slot);
        push_front(s, b);
    }
    char *p;
    if (b->free) {
        p = b->free;
        ASAN_UNPOISON_MEMORY_REGION(p, s->size);
        b->free = *(void **)p;
    } else {
        p = SLOTS(b) + b->fresh++ * s->slot;
        ASAN_UNPOISON_MEMORY_REGION(p, s->size);
    }
    memset(p, 0, s->size);
    if (++b->used == s->per_block && b->next) {
        unlink_block(s, b); /* full: behind the blocks with room */
        push_back(s, b);
    }
    return p;
}

void baton__slab_free(struct baton__slab *s, void *p)
{
    if (!p)
        return;
    struct baton__slab_block *b = BLOCK_OF(p);
    *(void **)p = b->free;
    b->free = p;
    ASAN_POISON_MEMORY_REGION((char *)p + sizeof(void *), s->size - sizeof(void *));
    if (b->used-- == s->per_block && s->blocks != b) {
        unlink_block(s, b); /* room again: in front */
        push_front(s, b);
    }
    if (b->used == 0 && (b->prev || b->next)) {
        unlink_block(s, b);
        munmap(b, BLOCK_BYTES);
    }
}

size_t baton__slab_blocks(const struct baton__slab *s)
{
    size_t n = 0;
    for (const struct baton__slab_block *b = s->blocks; b; b = b->next)
        n++;
    return n;
}

void baton__slab_destroy(struct baton__slab *s)
{
    struct baton__slab_block *b;
    while ((b = s->blocks)) {
        s->blocks = b->next;
        munmap(b, BLOCK_BYTES);
    }
}
