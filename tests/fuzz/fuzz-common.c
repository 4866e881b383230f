/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the small parsers of src/common that read what people write in configuration
 * and on the command line: durations (duration.c: "250ms", "1m30s") and listen addresses
 * (address.c: "host:port", "[v6]:port", ":port", "unix:/path").
 *
 * The input, cut at its first NUL, is given to both parsers. Besides the sanitizers, oracles:
 *  - a duration that parses is at most UINT32_MAX ms, formats in canonical form (largest unit
 *    first, no zero component, each below its next unit) and parses back to the same value;
 *  - any value (taken from the input's first bytes) formats and parses back to itself, and
 *    formatting into a short buffer stays inside it and leaves a NUL-terminated prefix;
 *  - a failure is -EINVAL or -ERANGE and stores nothing;
 *  - an address that parses has the length of its family, formats, and parses back to the very
 *    same bytes; a refusal always gives a reason.
 *
 * Sizes (size.c: "8192", "8KiB", "1MB") get the same input: a size that parses formats and
 * parses back to the same value; any value from the input's first bytes does too; a failure
 * is -EINVAL or -ERANGE and stores nothing.
 *
 * Host names: getaddrinfo() is replaced below by a resolver that knows "localhost" and
 * "ip6-localhost" only, so that runs are deterministic and never reach the network, while the
 * name branch of baton__address_parse() is still exercised for both families.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/address.h"
#include "common/duration.h"
#include "common/size.h"
#include "fuzz.h"

#define DURATION_MAX_MS UINT64_C(4294967295)

/* ---- a resolver without a network -------------------------------------------------------- */

struct fake_ai {
    struct addrinfo ai;
    union {
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } sa;
};

/* Overrides the C library's (and the sanitizer's interceptor, which is a weak alias). */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res);
void freeaddrinfo(struct addrinfo *res);

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    struct fake_ai *f;
    bool v6;

    if (!node)
        return EAI_NONAME;
    if (strcmp(node, "localhost") == 0)
        v6 = false;
    else if (strcmp(node, "ip6-localhost") == 0)
        v6 = true;
    else
        return EAI_NONAME;
    f = calloc(1, sizeof(*f));
    if (!f)
        return EAI_MEMORY;
    f->ai.ai_socktype = SOCK_STREAM;
    f->ai.ai_addr = (struct sockaddr *)&f->sa;
    if (v6) {
        f->ai.ai_family = AF_INET6;
        f->sa.in6.sin6_family = AF_INET6;
        f->sa.in6.sin6_addr = in6addr_loopback;
        f->ai.ai_addrlen = sizeof(f->sa.in6);
    } else {
        f->ai.ai_family = AF_INET;
        f->sa.in.sin_family = AF_INET;
        f->sa.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        f->ai.ai_addrlen = sizeof(f->sa.in);
    }
    *res = &f->ai;
    return 0;
}

void freeaddrinfo(struct addrinfo *res)
{
    free(res); /* ai is the first member of struct fake_ai */
}

/* ---- durations --------------------------------------------------------------------------- */

/* The format's grammar: "0s", or components largest unit first, none zero, each below the next
 * larger unit. Returns the value it spells. */
static uint64_t check_canonical(const char *s)
{
    static const struct {
        const char *name;
        uint64_t ms, limit;
    } units[] = {{"h", 3600000, 0}, {"m", 60000, 60}, {"s", 1000, 60}, {"ms", 1, 1000}};
    uint64_t total = 0;
    size_t next = 0;

    if (strcmp(s, "0s") == 0)
        return 0;
    CHECK(*s != '\0');
    while (*s) {
        uint64_t n = 0;
        size_t i;

        CHECK(*s >= '1' && *s <= '9');
        for (; *s >= '0' && *s <= '9'; s++)
            n = n * 10 + (uint64_t)(*s - '0');
        /* "ms" before "m": the longest unit name that matches. */
        for (i = next; i < 4; i++) {
            size_t len = strlen(units[i].name);
            if (strncmp(s, units[i].name, len) == 0 && !(i == 1 && s[1] == 's'))
                break;
        }
        CHECK(i < 4);
        CHECK(units[i].limit == 0 || n < units[i].limit);
        s += strlen(units[i].name);
        total += n * units[i].ms;
        next = i + 1;
    }
    return total;
}

static void duration_roundtrip(uint64_t ms)
{
    char buf[64];
    uint64_t back = UINT64_MAX;

    baton__duration_format(ms, buf, sizeof(buf));
    CHECK(check_canonical(buf) == ms);
    if (baton__duration_parse(buf, &back) != 0) {
        fprintf(stderr, "fuzz-common: %llu ms formats as \"%s\", which does not parse\n",
                (unsigned long long)ms, buf);
        abort();
    }
    CHECK(back == ms);
}

static void fuzz_duration(const char *text, const uint8_t *data, size_t size)
{
    uint64_t ms = UINT64_MAX;
    int r = baton__duration_parse(text, &ms);

    if (r == 0) {
        CHECK(ms <= DURATION_MAX_MS);
        duration_roundtrip(ms);
    } else {
        CHECK(r == -EINVAL || r == -ERANGE);
        CHECK(ms == UINT64_MAX);
    }

    /* Any value in range, and any buffer size. */
    if (size >= 9) {
        uint64_t v;
        memcpy(&v, data, sizeof(v));
        v %= DURATION_MAX_MS + 1;
        duration_roundtrip(v);

        char full[64];
        size_t n = (size_t)(data[8] % 24) + 1;
        char *small = malloc(n);
        CHECK(small != NULL);
        baton__duration_format(v, full, sizeof(full));
        CHECK(baton__duration_format(v, small, n) == small);
        CHECK(strlen(small) < n);
        CHECK(strncmp(small, full, strlen(small)) == 0);
        free(small);
    }
}

/* ---- addresses --------------------------------------------------------------------------- */

static void fuzz_address(const char *text)
{
    struct baton_address a, b;
    const char *reason = NULL;
    char printed[256];

    if (baton__address_parse(text, &a, &reason) != 0) {
        CHECK(reason != NULL && *reason != '\0');
        return;
    }
    switch (a.u.sa.sa_family) {
    case AF_INET:
        CHECK(a.len == sizeof(a.u.in));
        break;
    case AF_INET6:
        CHECK(a.len == sizeof(a.u.in6));
        break;
    case AF_UNIX:
        CHECK(a.len <= sizeof(a.u.un));
        CHECK(memchr(a.u.un.sun_path, '\0', sizeof(a.u.un.sun_path)) != NULL);
        CHECK(a.len == offsetof(struct sockaddr_un, sun_path) + strlen(a.u.un.sun_path) + 1);
        CHECK(baton__address_port(&a) == 0);
        break;
    default:
        CHECK(!"address of an unknown family");
    }

    baton__address_format(&a, printed, sizeof(printed));
    reason = NULL;
    if (baton__address_parse(printed, &b, &reason) != 0) {
        fprintf(stderr, "fuzz-common: \"%s\" prints as \"%s\", which does not parse: %s\n", text,
                printed, reason);
        abort();
    }
    CHECK(a.len == b.len);
    if (memcmp(&a.u, &b.u, sizeof(a.u)) != 0) {
        fprintf(stderr, "fuzz-common: \"%s\" prints as \"%s\", which parses differently\n", text,
                printed);
        abort();
    }
    CHECK(baton__address_port(&a) == baton__address_port(&b));
}

static void fuzz_size(const char *text, const uint8_t *data, size_t size)
{
    uint64_t v = 12345, back = 0, any = 0;
    char buf[32];
    int r = baton__size_parse(text, &v);

    if (r < 0) {
        CHECK(r == -EINVAL || r == -ERANGE);
        CHECK(v == 12345);
    } else {
        CHECK(baton__size_parse(baton__size_format(v, buf, sizeof(buf)), &back) == 0);
        CHECK(back == v);
    }
    memcpy(&any, data, size < sizeof(any) ? size : sizeof(any));
    CHECK(baton__size_parse(baton__size_format(any, buf, sizeof(buf)), &back) == 0);
    CHECK(back == any);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text;

    if (size > 4096)
        return 0;
    text = strndup((const char *)data, size);
    CHECK(text != NULL);
    fuzz_duration(text, data, size);
    fuzz_size(text, data, size);
    fuzz_address(text);
    free(text);
    return 0;
}
