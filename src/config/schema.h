/* SPDX-License-Identifier: MIT */
/*
 * The configuration library for the writer of a schema: the YAML node tree with marks, the key
 * table, the loader that applies nodes to keys with FILE:LINE:COLUMN errors and "did you mean"
 * hints, and the one-file layer. baton.yaml (config.h) is one schema; baton-web's --config file
 * (src/web/config.c) is another: its own key table and target struct over the same machinery.
 */
#ifndef BATON_CONFIG_SCHEMA_H
#define BATON_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Bounds on what a configuration may hold: every input is outside input. */
#define CONFIG_FILE_MAX   (1024 * 1024) /* bytes in one file */
#define CONFIG_DEPTH_MAX  32            /* nesting of mappings and sequences */
#define CONFIG_NODES_MAX  100000        /* nodes in one file */
#define CONFIG_ITEMS_MAX  4096          /* entries of one mapping or sequence */
#define CONFIG_ERRORS_MAX 50            /* errors reported before giving up */

/* ---- the node tree (yaml.c) ------------------------------------------------------------- */

enum config_node_type {
    NODE_SCALAR,
    NODE_SEQ,
    NODE_MAP,
};

struct config_node {
    enum config_node_type type;
    char *text; /* scalars: the value, NUL-terminated (NUL bytes inside are refused) */
    size_t len;
    bool plain;    /* an unquoted scalar: only those can be null ("", "~", "null") */
    int line, col; /* 1-based; 0 for nodes that come from no file */
    /* SEQ: items[i]; MAP: items[2i] is a key (a scalar), items[2i+1] its value */
    struct config_node **items;
    size_t n_items;
};

/*
 * Parses one YAML document (JSON is YAML) into a tree. On success stores the root in *ret
 * (NULL for an empty document) and returns 0. On failure writes "NAME:LINE:COL: message"
 * lines to err (NAME is `name`, or no location at all when name is NULL, for --set values)
 * and returns -EINVAL.
 */
int baton__config_yaml_parse(const char *name, const char *text, size_t len,
                             struct config_node **ret, struct baton_buf *err);

/* A scalar node that comes from no file (an environment variable, a command-line word). */
struct config_node *baton__config_node_scalar(const char *text, bool plain);
/* An empty sequence or mapping; items are added with baton__config_node_add(). */
struct config_node *baton__config_node_new(enum config_node_type type);
void baton__config_node_add(struct config_node *node, struct config_node *item);
/* Frees a node and everything under it. NULL is fine. */
void baton__config_node_free(struct config_node *node);
/* True for a plain "", "~", "null", "Null" or "NULL". */
bool baton__config_node_is_null(const struct config_node *node);
/*
 * Writes a node as one line of JSON: mappings as objects, lists as arrays, plain scalars that
 * YAML reads as null, booleans or numbers as such, every other scalar as a string. Returns 0
 * or the error of the buffer (-ENOBUFS past its maximum).
 */
int baton__config_node_json(const struct config_node *node, struct baton_buf *out);

/* Writes s into buf for an error message: control bytes as '?', cut with "..." to fit. */
const char *baton__config_excerpt(const char *s, char *buf, size_t size);

/* ---- the key table (keys.c) ------------------------------------------------------------- */

enum config_key_type {
    KEY_SECTION,   /* a mapping of further keys */
    KEY_STRING,    /* free text (char *) */
    KEY_NAME,      /* the service's name (char *) */
    KEY_PATH,      /* a path, made absolute against the config directory (char *) */
    KEY_SOCKET,    /* a UNIX socket path: a path that must fit sun_path (char *) */
    KEY_UINT,      /* an integer within [min, max] (unsigned) */
    KEY_SIZE,      /* bytes: 8192, 8KiB, 1MB, within [min, max] (uint64_t; max 0: none) */
    KEY_BOOL,      /* true/false, yes/no, on/off (bool) */
    KEY_DURATION,  /* 250ms, 30s, 5m; at least min ms (uint64_t milliseconds) */
    KEY_SIGNAL,    /* TERM, SIGTERM, 15 (int) */
    KEY_STRATEGY,  /* rolling | blue-green (baton.yaml) */
    KEY_READY,     /* notify | delay:<duration> (baton.yaml) */
    KEY_ADDRESS,   /* one listen address, checked, kept as text (char *) */
    KEY_LOGFORMAT, /* json | text (baton.yaml) */
    KEY_LOGLEVEL,  /* debug ... error (baton.yaml) */
    KEY_RATE,      /* a fraction from 0 to 1, or a percentage (double) */
    KEY_URL,       /* http://, https:// or file:// (char *) */
    KEY_HTTP_PATH, /* an HTTP request path: "/healthz", printable, no spaces (char *) */
    KEY_COMMAND,   /* a list of strings (baton.yaml: app.command) */
    KEY_ENV,       /* a mapping of variable names to strings (baton.yaml: app.env) */
    KEY_LISTEN,    /* a mapping of listener names to addresses, in fd order (baton.yaml) */
    KEY_CUSTOM,    /* anything else: applied by the schema's apply_custom() */
};

struct config_key {
    const char *path; /* "app.restart.max"; "" for the root */
    enum config_key_type type;
    size_t offset;       /* of the value in the loader's target (scalars) */
    uint64_t min, max;   /* KEY_UINT, KEY_SIZE: the range; KEY_DURATION: the least milliseconds */
    bool nullable;       /* null means "not set" */
    const char *initial; /* the default as text, or NULL (none, or computed at load) */
    bool unsupported;    /* its feature is not built yet: any value but null is refused with
                            "not supported yet" (the default still fills its field) */
};

struct config_loader;
struct config_layer;

/* A key table: sections come before their keys; keys[0] is the root section "". */
struct config_schema {
    const struct config_key *keys;
    size_t n_keys;
    /* Applies key `index`, of type KEY_CUSTOM, from `value` (NULL: empty) whose place is `at`
     * (the key in its mapping). Reports problems with baton__config_error(). */
    void (*apply_custom)(struct config_loader *l, const struct config_layer *layer, int index,
                         const struct config_node *at, const struct config_node *value);
};

/* The last part of a key's path: "max" for "app.restart.max". */
const char *baton__config_key_name(const struct config_key *key);
/* The index of the section that holds key `index`; -1 for the root. */
int baton__config_key_parent(const struct config_schema *schema, int index);
/* The index of the child of section `parent` named name[0..len), or -1. */
int baton__config_key_child(const struct config_schema *schema, int parent, const char *name,
                            size_t len);
/* The child of `parent` spelt closest to `name` (a likely typo), or NULL. */
const char *baton__config_key_suggest(const struct config_schema *schema, int parent,
                                      const char *name);
/* Edit distance between two short names, ignoring case (SIZE_MAX past 32 bytes). */
size_t baton__config_distance(const char *a, const char *b);

/* ---- loading -------------------------------------------------------------------------- */

/* Where values come from: a file (origins "FILE:LINE:COL") or one fixed place. */
struct config_layer {
    const char *file;  /* the file's name as the user gave it; NULL for the others */
    const char *label; /* the origin of every value of a non-file layer: "BATON_APP_WORKERS" */
    const char *where; /* the error prefix of a non-file layer: "environment BATON_APP_WORKERS" */
    bool defaults;     /* the built-in defaults: exempt from the "not supported yet" check */
};

/* One load in progress. */
struct config_loader {
    const struct config_schema *schema;
    void *target;                /* what the keys' offsets point into */
    const char *dir;             /* absolute: relative paths are relative to it */
    void *data;                  /* for the schema's apply_custom() */
    struct baton_config *config; /* baton.yaml's loads: the config (origins, its own types) */
    struct baton_buf *err;
    unsigned n_errors;
    /* The file or app.command was unreadable: "app.command is required" would only add noise. */
    bool command_unknown;
};

/* Reports "WHERE: message" for a node of a layer (its file position, or the layer's `where`). */
void baton__config_error(struct config_loader *l, const struct config_layer *layer,
                         const struct config_node *node, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Reports "WHERE: message" with a ready-made prefix. */
void baton__config_error_at(struct config_loader *l, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Sets key `index` from `value` (NULL: an empty value) coming from `layer`; `at` is the node
 * whose position is the value's origin (the key in a mapping). Sections apply their mapping
 * key by key; listen and app.env merge entry by entry. Problems are reported, never fatal.
 */
void baton__config_key_apply(struct config_loader *l, const struct config_layer *layer, int index,
                             const struct config_node *at, const struct config_node *value);

/* `path` made absolute against `dir` ("." and "./" parts dropped, ".." kept). Caller frees. */
char *baton__config_path_join(const char *dir, const char *path);

/*
 * Loads one file against `schema` into `target` (only the keys the file sets are written; no
 * defaults). `data` is handed to apply_custom(). Returns 0; -EINVAL with one
 * "FILE:LINE:COLUMN: message" line per problem in err (at most CONFIG_ERRORS_MAX); or -errno
 * when the file cannot be read ("FILE: reason" in err).
 */
int baton__config_load_file(const struct config_schema *schema, const char *path, void *target,
                            void *data, struct baton_buf *err);

#endif
