/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the journal reader (src/deploy/journal.c, baton_journal_replay): the input is
 * the text of .baton/journal.jsonl after any crash or corruption. Oracles besides the
 * sanitizers:
 *  - good_len ends a line inside the input, and replaying only that prefix gives the same
 *    records, releases and recovery (what open() keeps is what was read);
 *  - every release has a valid version and state, the recovery is one of the enum's values;
 *  - records + bad lines never exceed the lines of the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/deploy.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct baton_journal_state st, again;
    CHECK(baton_journal_replay(text, size, &st) == 0);
    CHECK(st.good_len <= size);
    CHECK(st.good_len == 0 || text[st.good_len - 1] == '\n');
    size_t lines = 0;
    for (size_t i = 0; i < size; i++)
        lines += text[i] == '\n';
    lines += size > 0 && text[size - 1] != '\n';
    CHECK(st.records + st.bad_lines <= lines);
    CHECK((unsigned)st.recovery <= BATON_RECOVER_PRUNE);
    for (size_t i = 0; i < st.n_releases; i++) {
        CHECK(st.releases[i].version[0] != '\0');
        CHECK((unsigned)st.releases[i].state <= BATON_RELEASE_FAILED);
        CHECK(baton_journal_state_find(&st, st.releases[i].version) == &st.releases[i]);
    }
    CHECK(baton_journal_replay(text, st.good_len, &again) == 0);
    CHECK(again.records == st.records);
    CHECK(again.recovery == st.recovery);
    CHECK(again.n_releases == st.n_releases);
    CHECK(again.good_len == st.good_len);
    CHECK(strcmp(again.current, st.current) == 0);
    baton_journal_state_free(&again);
    baton_journal_state_free(&st);
    return 0;
}
