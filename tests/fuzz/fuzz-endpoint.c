/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the metrics endpoint's request-head reader (baton__endpoint_parse in
 * src/supervisor/endpoint-request.c). The input is a head as the endpoint hands it over: up to
 * 8 KiB, cut after the first CRLFCRLF (the input gets one appended when it has none).
 *
 * Oracles besides the sanitizers: the answer is 0, 400 or 405; on 0 the method is GET or HEAD,
 * the path lies inside the input, starts with '/', holds no byte <= 0x20 or >= 0x7f and no '?',
 * and is at most BATON_ENDPOINT_TARGET_MAX bytes; a refusal comes with a reason.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/observe.h"
#include "fuzz.h"

#define HEAD_MAX 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[HEAD_MAX + 4];
    size_t len = size > HEAD_MAX ? HEAD_MAX : size;
    memcpy(buf, data, len);
    /* Cut after the first CRLFCRLF, as the endpoint does; else complete it. */
    size_t cut = 0;
    for (size_t i = 3; i < len && !cut; i++)
        if (memcmp(buf + i - 3, "\r\n\r\n", 4) == 0)
            cut = i + 1;
    if (!cut) {
        memcpy(buf + len, "\r\n\r\n", 4);
        cut = len + 4;
    }
    /* An exact-size copy, so a read past the end is the sanitizer's to see. */
    char *head = malloc(cut);
    CHECK(head != NULL);
    memcpy(head, buf, cut);
    struct baton_endpoint_request req;
    const char *why = NULL;
    int r = baton__endpoint_parse(head, cut, &req, &why);
    CHECK(r == 0 || r == 400 || r == 405);
    if (r != 0) {
        CHECK(why != NULL && *why);
    } else {
        CHECK((cut > 4 && memcmp(head, "GET ", 4) == 0 && !req.head) ||
              (cut > 5 && memcmp(head, "HEAD ", 5) == 0 && req.head));
        CHECK(req.path >= head && req.path + req.path_len <= head + cut);
        CHECK(req.path_len >= 1 && req.path_len <= BATON_ENDPOINT_TARGET_MAX);
        CHECK(req.path[0] == '/');
        for (size_t i = 0; i < req.path_len; i++)
            CHECK((unsigned char)req.path[i] > 0x20 && (unsigned char)req.path[i] < 0x7f &&
                  req.path[i] != '?');
    }
    free(head);
    return 0;
}
