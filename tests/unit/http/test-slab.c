/* SPDX-License-Identifier: MIT */
/* The slab: zero-filled objects in blocks apart from the heap, free slots reused, a block that
 * empties unmapped unless it is the only one, blocks with room found first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/slab.h"

struct obj {
    char bytes[840];
};

static void fills_blocks_reuses_slots_and_unmaps_empty_blocks(void **state)
{
    struct baton__slab s;
    baton__slab_init(&s, sizeof(struct obj));
    assert_true(s.per_block >= 70); /* 64 KiB of 840-byte slots: no header per slot */
    assert_int_equal(s.slot, sizeof(struct obj));
    size_t n = 3 * s.per_block + 1;
    struct obj **o = test_calloc(n, sizeof(*o));
    for (size_t i = 0; i < n; i++) {
        o[i] = baton__slab_alloc(&s);
        assert_non_null(o[i]);
        assert_int_equal((uintptr_t)o[i] % 8, 0);
        for (size_t k = 0; k < sizeof(o[i]->bytes); k++)
            assert_int_equal(o[i]->bytes[k], 0);
        memset(o[i]->bytes, 0xa5, sizeof(o[i]->bytes));
        for (size_t j = 0; j < i; j += 97)
            assert_ptr_not_equal(o[i], o[j]);
    }
    assert_int_equal(baton__slab_blocks(&s), 4);

    /* A freed slot comes back zero-filled, before a new block is mapped. */
    struct obj *freed = o[5];
    baton__slab_free(&s, freed);
    o[5] = baton__slab_alloc(&s);
    assert_ptr_equal(o[5], freed);
    assert_int_equal(o[5]->bytes[0], 0);
    assert_int_equal(o[5]->bytes[sizeof(o[5]->bytes) - 1], 0);
    assert_int_equal(baton__slab_blocks(&s), 4);

    /* Emptying the first block unmaps it; the others stay. */
    for (size_t i = 0; i < s.per_block; i++)
        baton__slab_free(&s, o[i]);
    assert_int_equal(baton__slab_blocks(&s), 3);
    /* Everything freed: one block is kept. */
    for (size_t i = s.per_block; i < n; i++)
        baton__slab_free(&s, o[i]);
    assert_int_equal(baton__slab_blocks(&s), 1);
    baton__slab_free(&s, NULL);

    /* A slot freed in a full block is found before a new block is mapped. */
    for (size_t i = 0; i < 2 * s.per_block; i++)
        o[i] = baton__slab_alloc(&s);
    assert_int_equal(baton__slab_blocks(&s), 2);
    freed = o[3];
    baton__slab_free(&s, freed);
    assert_ptr_equal(baton__slab_alloc(&s), freed);
    assert_int_equal(baton__slab_blocks(&s), 2);
    baton__slab_destroy(&s);
    test_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fills_blocks_reuses_slots_and_unmaps_empty_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
