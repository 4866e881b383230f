/* SPDX-License-Identifier: MIT */
/* A generation machine without processes, for the supervisor's unit tests: spawning gives the
 * next fake pid, signals and progress go nowhere, a generation's config is freed with it. */
#ifndef BATON_TEST_FAKE_GENS_H
#define BATON_TEST_FAKE_GENS_H

#include "supervisor/internal.h"

static pid_t fake_next_pid = 100;

static inline int fake_spawn(void *ctx, struct baton_worker *w, char **ret_what)
{
    w->pid = fake_next_pid++;
    return 0;
}

static inline void fake_kill(void *ctx, struct baton_worker *w, int signo)
{
}

static inline void fake_progress(void *ctx, long gen, const char *step, const char *msg)
{
}

static inline void fake_done(void *ctx, const struct baton_verdict *v)
{
}

static inline void fake_release_worker(void *ctx, struct baton_worker *w)
{
}

static inline void fake_release_generation(void *ctx, struct baton_generation *g)
{
    baton__config_free(g->config);
}

#endif
