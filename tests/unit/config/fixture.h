/* SPDX-License-Identifier: MIT */
/*
 * What the configuration library's tests share: each test runs in a fresh temporary directory
 * (the current directory), so file names appear in messages as given: "baton.yaml:3:3".
 */
#ifndef BATON_TESTS_CONFIG_FIXTURE_H
#define BATON_TESTS_CONFIG_FIXTURE_H

#include <limits.h>

#include "config/config.h"
#include "config/internal.h"

struct fixture {
    char dir[PATH_MAX];
    char old_cwd[PATH_MAX];
};

extern struct fixture *fx;
extern char *const no_environ[];

/* cmocka setup and teardown: a temporary directory as the current directory. */
int setup(void **state);
int teardown(void **state);

void write_file(const char *name, const char *text);

/* The outcome of one baton__config_load(). */
struct result {
    int r;
    struct baton_config *config;
    char err[8192];
};

/* Loads `path` with the given --env, environment (NULL: none) and NULL-terminated --set list. */
struct result load(const char *path, const char *env_name, char *const *env, char *const *sets);

/* Loads text as baton.yaml and expects exactly `expected` (all error lines) and -EINVAL. */
void expect_error(const char *text, const char *expected);

/* The origin of `key` in c, or "(none)". */
const char *origin(const struct baton_config *c, const char *key);

/* fx->dir + "/" + rel, in static storage. */
char *in_dir(const char *rel);

/* DESIGN.md's example configuration, with a value other than the default for every key. */
extern const char design_example[];

#endif
