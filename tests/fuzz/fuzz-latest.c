/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for pull mode's latest.json reader (src/deploy/latest.c, baton_latest_parse): the
 * input is whatever an update source (or anyone between it and us) serves as latest.json.
 * Oracles besides the sanitizers:
 *  - accepted: a valid version, a non-empty url without spaces or control characters, 64
 *    lower-case hex digits of sha256, phase 0..100, expires >= 0, and parsing again gives the
 *    same result (no hidden state);
 *  - refused: -EBADMSG with a reason that says "malformed latest.json";
 *  - the RFC 3339 reader and the phase bucket take the same bytes as text without crashing, and
 *    the bucket is below 100.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/deploy.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct baton_latest l, again;
    char err[256] = "";
    int r = baton_latest_parse(text, size, &l, err, sizeof(err));
    if (r == 0) {
        CHECK(baton_version_valid(l.version));
        size_t n = strlen(l.url);
        CHECK(n > 0 && n <= BATON_LATEST_URL);
        for (size_t i = 0; i < n; i++)
            CHECK((unsigned char)l.url[i] > ' ' && l.url[i] != 0x7f);
        CHECK(strlen(l.sha256) == 64);
        CHECK(strspn(l.sha256, "0123456789abcdef") == 64);
        CHECK(l.phase >= 0 && l.phase <= 100);
        CHECK(l.expires >= 0);
        CHECK(baton_latest_parse(text, size, &again, NULL, 0) == 0);
        CHECK(memcmp(&l, &again, sizeof(l)) == 0);
        CHECK(baton_source_phase_bucket("fuzz", l.version) < 100);
    } else {
        CHECK(r == -EBADMSG);
        CHECK(strstr(err, "malformed latest.json") != NULL);
    }
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    long long t;
    (void)baton_rfc3339_parse(s, &t);
    CHECK(baton_source_phase_bucket(s, s) < 100);
    free(s);
    return 0;
}
