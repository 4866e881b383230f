/* SPDX-License-Identifier: MIT */
#include "common/duration.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define DURATION_MAX_MS UINT64_C(4294967295)

int baton__duration_parse(const char *text, uint64_t *ret_ms)
{
    static const struct {
        const char *name;
        uint64_t ms;
    } units[] = {{"ms", 1}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
    const char *p = text;
    uint64_t total = 0, last_unit = UINT64_MAX;

    if (!text || !*text)
        return -EINVAL;
    if (strcmp(text, "0") == 0) {
        *ret_ms = 0;
        return 0;
    }
    while (*p) {
        uint64_t n = 0;
        if (*p < '0' || *p > '9')
            return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
            n = n * 10 + (uint64_t)(*p - '0');
            if (n > DURATION_MAX_MS)
                return -ERANGE;
        }
        uint64_t unit = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t len = strlen(units[i].name);
            if (strncmp(p, units[i].name, len) == 0) {
                unit = units[i].ms;
                p += len;
                break;
            }
        }
        /* Components must come largest first and only once: "1m30s", never "30s1m". */
        if (unit == 0 || unit >= last_unit)
            return -EINVAL;
        last_unit = unit;
        if (n > DURATION_MAX_MS / unit)
            return -ERANGE;
        total += n * unit;
        if (total > DURATION_MAX_MS)
            return -ERANGE;
    }
    *ret_ms = total;
    return 0;
}

char *baton__duration_format(uint64_t ms, char *buf, size_t size)
{
    static const struct {
        const char *name;
        uint64_t ms;
    } units[] = {{"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
    size_t off = 0;

    if (size == 0)
        return buf;
    buf[0] = '\0';
    if (ms == 0) {
        snprintf(buf, size, "0s");
        return buf;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && ms; i++) {
        if (ms >= units[i].ms) {
            int n = snprintf(buf + off, size - off, "%llu%s",
                             (unsigned long long)(ms / units[i].ms), units[i].name);
            if (n < 0 || (size_t)n >= size - off)
                return buf;
            off += (size_t)n;
            ms %= units[i].ms;
        }
    }
    return buf;
}
