/* SPDX-License-Identifier: MIT */
/* What every fuzz target shares: the entry point's prototype and CHECK, which aborts (a
 * crash libFuzzer saves) when a contract of the code under test is broken. */
#ifndef BATON_TEST_FUZZ_H
#define BATON_TEST_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: contract broken: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
