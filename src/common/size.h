/* SPDX-License-Identifier: MIT */
/* Sizes in bytes as written in configuration: 8192, 512B, 8KiB, 1MiB, 1GB. */
#ifndef BATON_COMMON_SIZE_H
#define BATON_COMMON_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* Parses text into bytes: decimal digits, optionally followed by a unit: B, KB/MB/GB/TB
 * (powers of 1000) or KiB/MiB/GiB/TiB (powers of 1024), case as written here. Returns 0,
 * -EINVAL for anything else, -ERANGE past UINT64_MAX. */
int baton__size_parse(const char *text, uint64_t *ret_bytes);

/* Writes bytes in the shortest exact form ("8192" stays, 1048576 is "1MiB", 2000000 "2MB")
 * into buf; returns buf. */
char *baton__size_format(uint64_t bytes, char *buf, size_t size);

#endif
