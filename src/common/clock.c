/* SPDX-License-Identifier: MIT */
/* The monotonic clock in the units its callers count in. */
#include "common/clock.h"

#include <time.h>

/* CLOCK_MONOTONIC cannot fail on Linux with a valid timespec: no error path. */
static struct timespec now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts;
}

uint64_t baton__clock_now_ms(void)
{
    struct timespec ts = now();
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t baton__clock_now_us(void)
{
    struct timespec ts = now();
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}
