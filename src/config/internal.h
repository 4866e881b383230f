/*
 * The configuration loader's internals, shared by its files:
 *
 *   yaml.c           YAML text -> a small tree of nodes with 1-based line:column marks
 *   text.c           UTF-8 checks, positions, single-quoted scalars, excerpts for messages
 *   keys.c           the key schema: names, types, defaults; one scalar value into its field
 *   apply.c          applying a node to a key: sections, app.command, app.env, listen
 *   layers.c         the layers: a file, the environment, --set, the no-config command line
 *   config.c         baton__config_load(): the order of layers, final checks, free, signals
 *   print.c          baton__config_print(): YAML with origins as comments, or JSON
 */
#ifndef BATON_CONFIG_INTERNAL_H
#define BATON_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "config/config.h"

/* Bounds on what a configuration may hold: every input is outside input. */
#define CONFIG_FILE_MAX    (1024 * 1024) /* bytes in one file */
#define CONFIG_DEPTH_MAX   32            /* nesting of mappings and sequences */
#define CONFIG_NODES_MAX   100000        /* nodes in one file */
#define CONFIG_ITEMS_MAX   4096          /* entries of one mapping or sequence */
#define CONFIG_ERRORS_MAX  50            /* errors reported before giving up */
#define CONFIG_LISTEN_MAX  64            /* listeners (fds 3..66) */
#define CONFIG_ENV_MAX     1024          /* app.env entries */
#define CONFIG_COMMAND_MAX 4096          /* app.command arguments */

/* ---- the node tree (yaml.c) ---------------------------------------------------- */

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
/* ---- text helpers (text.c) ---------------------------------------------------- */

/* Writes s into buf for an error message: control bytes as '?', cut with "..." to fit. */
const char *baton__config_excerpt(const char *s, char *buf, size_t size);
/* The offset of the first byte of text that is not well-formed UTF-8, or len. */
size_t baton__config_utf8_invalid_at(const char *text, size_t len);
/* The 1-based line and column (in characters) of byte offset `at` of text. */
void baton__config_position(const char *text, size_t at, int *ret_line, int *ret_col);
/* The value of the single-quoted YAML scalar whose opening quote is text[at]. Caller frees. */
char *baton__config_single_quoted(const char *text, size_t len, size_t at, size_t *ret_len);

/* ---- layers and errors -------------------------------------------------------------- */

/* Where values come from: a file (origins "FILE:LINE:COL") or one fixed place. */
struct config_layer {
    const char *file;  /* the file's name as the user gave it; NULL for the others */
    const char *label; /* the origin of every value of a non-file layer: "BATON_APP_WORKERS" */
    const char *where; /* the error prefix of a non-file layer: "environment BATON_APP_WORKERS" */
    bool defaults;     /* the built-in defaults: exempt from the "not supported yet" check */
};

/* The effective origin of each leaf value, printed by `baton config`. */
struct baton_config_origin {
    char *key;    /* "app.workers", "listen.http", "app.env.APP_ENV"; sections too ("app") */
    char *origin; /* "baton.yaml:12:3", "BATON_APP_WORKERS", "--set", "default" */
    char *where;  /* the prefix for errors found later about this value */
    bool section; /* a mapping's own origin: used for errors, never printed */
};

/* One load in progress. */
struct config_loader {
    struct baton_config *config;
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

/* Records that `key` now comes from `origin` (error prefix `where`), replacing older records. */
void baton__config_origin_set(struct baton_config *config, const char *key, const char *origin,
                              const char *where, bool section);
/* The record of `key`, or NULL. */
const struct baton_config_origin *baton__config_origin_get(const struct baton_config *config,
                                                           const char *key);

/* ---- the key schema (keys.c) ------------------------------------------------- */

enum config_key_type {
    KEY_SECTION,   /* a mapping of further keys */
    KEY_STRING,    /* free text */
    KEY_NAME,      /* the service's name */
    KEY_PATH,      /* a path, made absolute against the config directory */
    KEY_SOCKET,    /* a UNIX socket path: a path that must fit sun_path */
    KEY_UINT,      /* an integer within [min, max] */
    KEY_DURATION,  /* 250ms, 30s, 5m */
    KEY_SIGNAL,    /* TERM, SIGTERM, 15 */
    KEY_STRATEGY,  /* rolling | blue-green */
    KEY_READY,     /* notify | delay:<duration> */
    KEY_ADDRESS,   /* one listen address, kept as text */
    KEY_LOGFORMAT, /* json | text */
    KEY_LOGLEVEL,  /* debug ... error */
    KEY_RATE,      /* a fraction from 0 to 1, or a percentage */
    KEY_URL,       /* http://, https:// or file:// */
    KEY_COMMAND,   /* a list of strings */
    KEY_ENV,       /* a mapping of variable names to strings */
    KEY_LISTEN,    /* a mapping of listener names to addresses, in fd order */
};

struct config_key {
    const char *path; /* "app.restart.max"; "" for the root */
    enum config_key_type type;
    size_t offset;       /* of the value in struct baton_config (scalars) */
    uint64_t min, max;   /* KEY_UINT: the range; KEY_DURATION: the least milliseconds */
    bool nullable;       /* null means "not set" */
    const char *initial; /* the default as text, or NULL (none, or computed at load) */
    bool unsupported;    /* its feature is not built yet: any value but null is refused with
                            "not supported yet" (the default still fills its field) */
};

extern const struct config_key baton__config_keys[];
extern const size_t baton__config_n_keys;

/* The last part of a key's path: "max" for "app.restart.max". */
const char *baton__config_key_name(const struct config_key *key);
/* The index of the section that holds key `index`; -1 for the root. */
int baton__config_key_parent(int index);
/* Edit distance between two short names, ignoring case (SIZE_MAX past 32 bytes). */
size_t baton__config_distance(const char *a, const char *b);
/* The index of the child of section `parent` named name[0..len), or -1. */
int baton__config_key_child(int parent, const char *name, size_t len);
/* The child of `parent` spelt closest to `name` (a likely typo), or NULL. */
const char *baton__config_key_suggest(int parent, const char *name);
/* True for keys whose value is one scalar (settable from the environment). */
bool baton__config_key_is_scalar(const struct config_key *key);

/*
 * Parses `text` (NULL: a null value) for the scalar key `key` into its field. Returns 0, or
 * -EINVAL with what is wrong, without the location, in `why`.
 */
int baton__config_key_set_scalar(struct config_loader *l, const struct config_key *key,
                                 const char *text, char *why, size_t size);
/*
 * Sets key `index` from `value` (NULL: an empty value) coming from `layer`; `at` is the node
 * whose position is the value's origin (the key in a mapping). Sections apply their mapping
 * key by key; listen and app.env merge entry by entry. Problems are reported, never fatal.
 */
void baton__config_key_apply(struct config_loader *l, const struct config_layer *layer, int index,
                             const struct config_node *at, const struct config_node *value);
/* Sets one listener or one app.env entry (the --set listen.http=... and BATON_LISTEN_HTTP form). */
void baton__config_key_apply_entry(struct config_loader *l, const struct config_layer *layer,
                                   int index, const char *entry, const struct config_node *at,
                                   const struct config_node *value);

/* ---- layers (layers.c) ------------------------------------------------------- */

/* Reads, parses and applies the file `name`. `needed_by` (or NULL) is added to a read error:
 * "(the file of --env prod)". Returns 0, -EINVAL, or -errno when the file cannot be read. */
int baton__config_layer_file(struct config_loader *l, const char *name, const char *needed_by);
/* Applies the BATON_<SECTION>_<KEY> variables of env (NULL-terminated "NAME=VALUE"). */
void baton__config_layer_environ(struct config_loader *l, char *const *env);
/* Applies one --set KEY=VALUE. */
void baton__config_layer_set(struct config_loader *l, const char *assignment);

/* ---- paths (config.c) --------------------------------------------------------------- */

/* `path` made absolute against `dir` ("." and "./" parts dropped, ".." kept). Caller frees. */
char *baton__config_path_join(const char *dir, const char *path);

#endif
