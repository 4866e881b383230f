/* SPDX-License-Identifier: MIT */
/* The monotonic clock: timeouts, deadlines and elapsed times, never the time of day. */
#ifndef BATON_COMMON_CLOCK_H
#define BATON_COMMON_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds: the clock of every deadline in the supervisor and the CLI. */
uint64_t baton__clock_now_ms(void);

/* CLOCK_MONOTONIC in microseconds: systemd's MONOTONIC_USEC= is on this clock. */
uint64_t baton__clock_now_us(void);

#endif
