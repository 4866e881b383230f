/* SPDX-License-Identifier: MIT */
/* Durations as written in configuration and on the command line: 250ms, 30s, 5m, 1h, 1m30s. */
#ifndef BATON_COMMON_DURATION_H
#define BATON_COMMON_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parses text into milliseconds. Units: ms, s, m, h (required, except for a bare "0");
 * components may be combined largest first ("1m30s"). Returns 0, or -EINVAL for anything else
 * and -ERANGE past a day's worth of... past UINT32_MAX milliseconds (about 49 days). */
int baton__duration_parse(const char *text, uint64_t *ret_ms);

/* Writes ms in the shortest exact form ("250ms", "30s", "5m", "1m30s") into buf; returns buf. */
char *baton__duration_format(uint64_t ms, char *buf, size_t size);

#endif
