/* SPDX-License-Identifier: MIT */
/*
 * The configuration library's internals, shared by its files (schema.h has what a schema
 * writer needs; this adds baton.yaml's own parts):
 *
 *   yaml.c           YAML text -> a small tree of nodes with 1-based line:column marks
 *   text.c           UTF-8 checks, positions, single-quoted scalars, excerpts for messages
 *   keys.c           baton.yaml's key table; the key lookups; one scalar value into its field
 *   apply.c          applying a node to a key: sections, app.command, app.env, listen
 *   layers.c         the layers: a file, the environment, --set
 *   config.c         baton__config_load(): the order of layers, final checks, free
 *   print.c          baton__config_print(): YAML with origins as comments, or JSON
 */
#ifndef BATON_CONFIG_INTERNAL_H
#define BATON_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "config/config.h"
#include "config/schema.h"

#define CONFIG_LISTEN_MAX  64   /* listeners (fds 3..66) */
#define CONFIG_ENV_MAX     1024 /* app.env entries */
#define CONFIG_COMMAND_MAX 4096 /* app.command arguments */

/* ---- text helpers (text.c) ------------------------------------------------------------ */

/* The offset of the first byte of text that is not well-formed UTF-8, or len. */
size_t baton__config_utf8_invalid_at(const char *text, size_t len);
/* The 1-based line and column (in characters) of byte offset `at` of text. */
void baton__config_position(const char *text, size_t at, int *ret_line, int *ret_col);
/* The value of the single-quoted YAML scalar whose opening quote is text[at]. Caller frees. */
char *baton__config_single_quoted(const char *text, size_t len, size_t at, size_t *ret_len);

/* ---- origins (config.c) --------------------------------------------------------------- */

/* The effective origin of each leaf value, printed by `baton config`. */
struct baton_config_origin {
    char *key;    /* "app.workers", "listen.http", "app.env.APP_ENV"; sections too ("app") */
    char *origin; /* "baton.yaml:12:3", "BATON_APP_WORKERS", "--set", "default" */
    char *where;  /* the prefix for errors found later about this value */
    bool section; /* a mapping's own origin: used for errors, never printed */
};

/* Records that `key` now comes from `origin` (error prefix `where`), replacing older records. */
void baton__config_origin_set(struct baton_config *config, const char *key, const char *origin,
                              const char *where, bool section);
/* The record of `key`, or NULL. */
const struct baton_config_origin *baton__config_origin_get(const struct baton_config *config,
                                                           const char *key);

/* ---- baton.yaml's keys (keys.c) ------------------------------------------------------- */

extern const struct config_key baton__config_keys[];
extern const size_t baton__config_n_keys;
extern const struct config_schema baton__config_schema;

/* True for keys whose value is one scalar (settable from the environment). */
bool baton__config_key_is_scalar(const struct config_key *key);

/*
 * Parses `text` (NULL: a null value) for the scalar key `key` into its field. Returns 0, or
 * -EINVAL with what is wrong, without the location, in `why`.
 */
int baton__config_key_set_scalar(struct config_loader *l, const struct config_key *key,
                                 const char *text, char *why, size_t size);
/* Sets one listener or one app.env entry (the --set listen.http=... and BATON_LISTEN_HTTP form). */
void baton__config_key_apply_entry(struct config_loader *l, const struct config_layer *layer,
                                   int index, const char *entry, const struct config_node *at,
                                   const struct config_node *value);

/* ---- layers (layers.c) ---------------------------------------------------------------- */

/* Reads, parses and applies the file `name`. `needed_by` (or NULL) is added to a read error:
 * "(the file of --env prod)". Returns 0, -EINVAL, or -errno when the file cannot be read. */
int baton__config_layer_file(struct config_loader *l, const char *name, const char *needed_by);
/* Applies the BATON_<SECTION>_<KEY> variables of env (NULL-terminated "NAME=VALUE"). */
void baton__config_layer_environ(struct config_loader *l, char *const *env);
/* Applies one --set KEY=VALUE. */
void baton__config_layer_set(struct config_loader *l, const char *assignment);

#endif
