/* SPDX-License-Identifier: MIT */
/* Counters, the latency histogram and the per-attempt samples of a run. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/fd.h"
#include "loadgen.h"

const char *const outcome_names[OUTCOME_COUNT] = {
    [OUTCOME_OK] = "ok",
    [OUTCOME_NON2XX] = "non2xx",
    [OUTCOME_REFUSED] = "refused",
    [OUTCOME_LOST_FRESH] = "lost_fresh",
    [OUTCOME_LOST_REUSED] = "lost_reused",
    [OUTCOME_PARTIAL] = "partial",
    [OUTCOME_TIMEOUT] = "timeout",
};

/* Values below 2^SUB_BITS have a bucket each; above, every power of two [2^e, 2^(e+1)) is cut
 * into 2^(SUB_BITS-1) equal buckets (HdrHistogram's layout). */
#define SUB_COUNT (1u << HIST_SUB_BITS)
#define SUB_HALF  (SUB_COUNT / 2)

static unsigned bucket_of(uint64_t v)
{
    if (v < SUB_COUNT)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = e - HIST_SUB_BITS + 1;
    unsigned mantissa = (unsigned)(v >> shift); /* in [SUB_HALF, SUB_COUNT) */
    return SUB_COUNT + (e - HIST_SUB_BITS) * SUB_HALF + (mantissa - SUB_HALF);
}

/* The largest value that falls into bucket b. */
static uint64_t bucket_top(unsigned b)
{
    if (b < SUB_COUNT)
        return b;
    unsigned e = (b - SUB_COUNT) / SUB_HALF + HIST_SUB_BITS;
    uint64_t mantissa = (b - SUB_COUNT) % SUB_HALF + SUB_HALF;
    unsigned shift = e - HIST_SUB_BITS + 1;
    return ((mantissa + 1) << shift) - 1;
}

void stats_add_latency(struct stats *s, uint64_t ns)
{
    s->latency[bucket_of(ns)]++;
    s->latency_count++;
    if (ns > s->latency_max)
        s->latency_max = ns;
}

void stats_merge(struct stats *dst, const struct stats *src)
{
    for (int i = 0; i < OUTCOME_COUNT; i++)
        dst->outcomes[i] += src->outcomes[i];
    for (int i = 0; i < HIST_BUCKETS; i++)
        dst->latency[i] += src->latency[i];
    dst->latency_count += src->latency_count;
    if (src->latency_max > dst->latency_max)
        dst->latency_max = src->latency_max;
    if (src->longest_gap_ns > dst->longest_gap_ns)
        dst->longest_gap_ns = src->longest_gap_ns;
}

uint64_t stats_quantile(const struct stats *s, double q)
{
    if (s->latency_count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)s->latency_count + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        seen += s->latency[b];
        if (seen >= rank) {
            uint64_t top = bucket_top(b);
            return top < s->latency_max ? top : s->latency_max;
        }
    }
    return s->latency_max;
}

int samples_init(struct samples *s, size_t cap)
{
    /* An anonymous mapping: the kernel hands out pages only as samples fill them, so a generous
     * cap costs nothing on a short run. */
    void *p = mmap(NULL, cap * sizeof(struct sample), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -ENOMEM;
    s->records = p;
    s->cap = cap;
    atomic_init(&s->next, 0);
    return 0;
}

void samples_free(struct samples *s)
{
    if (s->records)
        munmap(s->records, s->cap * sizeof(struct sample));
    s->records = NULL;
}

void samples_add(struct samples *s, uint64_t start_ns, uint64_t latency_ns, enum outcome o)
{
    size_t i = atomic_fetch_add_explicit(&s->next, 1, memory_order_relaxed);
    if (i >= s->cap)
        return;
    struct sample *r = &s->records[i];
    r->start_ns = start_ns;
    r->latency_ns = latency_ns;
    r->outcome = (uint8_t)o;
    memset(r->pad, 0, sizeof(r->pad));
}

int samples_write(const struct samples *s, const char *path)
{
    size_t total = atomic_load(&s->next);
    uint64_t count = total < s->cap ? total : s->cap;
    uint64_t dropped = total - count;
    int rc = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    char header[24];
    memcpy(header, "LOADGEN1", 8);
    memcpy(header + 8, &count, 8); /* x86-64 and arm64 are little-endian, as the format */
    memcpy(header + 16, &dropped, 8);
    rc = baton__fd_write_all(fd, header, sizeof(header));
    if (rc == 0)
        rc = baton__fd_write_all(fd, s->records, count * sizeof(struct sample));
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    return rc;
}
