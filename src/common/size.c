/* SPDX-License-Identifier: MIT */
/* Sizes in bytes: one parser for every byte limit of the configuration. */
#include "common/size.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    uint64_t factor;
} units[] = {
    /* Largest first, binary before decimal: the order baton__size_format() prefers. */
    {"TiB", 1ULL << 40},   {"TB", 1000000000000ULL}, {"GiB", 1ULL << 30},
    {"GB", 1000000000ULL}, {"MiB", 1ULL << 20},      {"MB", 1000000ULL},
    {"KiB", 1ULL << 10},   {"KB", 1000ULL},          {"B", 1},
};

int baton__size_parse(const char *text, uint64_t *ret_bytes)
{
    uint64_t v = 0, factor = 1;
    const char *p = text;

    if (!text || !*text || *text < '0' || *text > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    if (*p) {
        size_t i;
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (strcmp(p, units[i].name) == 0)
                break;
        if (i == sizeof(units) / sizeof(units[0]))
            return -EINVAL;
        factor = units[i].factor;
    }
    if (v > UINT64_MAX / factor)
        return -ERANGE;
    *ret_bytes = v * factor;
    return 0;
}

char *baton__size_format(uint64_t bytes, char *buf, size_t size)
{
    /* Small values and values no unit divides stay in bytes: "8192", not "8KiB". */
    if (bytes >= 1000000) {
        for (size_t i = 0; i + 1 < sizeof(units) / sizeof(units[0]); i++) {
            if (bytes % units[i].factor == 0) {
                snprintf(buf, size, "%llu%s", (unsigned long long)(bytes / units[i].factor),
                         units[i].name);
                return buf;
            }
        }
    }
    snprintf(buf, size, "%llu", (unsigned long long)bytes);
    return buf;
}
