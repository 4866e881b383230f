/*
 * Fuzz target for both ends of the control protocol (one JSON object per line each way):
 *  - the supervisor's request parser, baton__request_parse (src/supervisor/request.c), which
 *    reads whatever a local client writes to the control socket;
 *  - the CLI's reply parser, baton__reply_parse and its accessors (src/cli/control-client.c),
 *    and the failure/success printers of src/cli/print.c that read a reload result.
 * The whole input is one line for each.
 *
 * Besides the sanitizers, oracles:
 *  - a refused request gets a one-line reason of printable ASCII (it goes back in the error
 *    reply), and "malformed JSON at byte N" never points past the line;
 *  - whitespace after the object changes nothing, and a request cut before its closing brace
 *    is refused;
 *  - an accepted request, written back as canonical JSON, parses to the same request, and the
 *    CLI's parser reads the same values from it (both ends agree on what a request says);
 *  - a reply the CLI accepts is an object; every accessor answers within its contract on every
 *    member, nested ones included.
 */
#include <errno.h>
#include <libfyaml.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/control-client.h"
#include "cli/internal.h"
#include "supervisor/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz-control: contract broken: %s (%s:%d)\n", #cond, __FILE__,        \
                    __LINE__);                                                                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define FUZZ_MAX_INPUT (64 * 1024)
#define MAX_WALK_DEPTH 64

static const char *const cmd_names[] = {"ping", "status", "reload", "stop"};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ---- requests ---------------------------------------------------------------------------- */

static int parse_request(const char *line, size_t len, struct baton_request *req)
{
    struct baton_buf err = BATON_BUF_INIT(4096);
    int r;

    memset(req, 0, sizeof(*req));
    r = baton__request_parse(line, len, req, &err);
    if (r == 0) {
        CHECK(err.len == 0);
        CHECK(req->cmd >= BATON_REQ_PING && req->cmd <= BATON_REQ_STOP);
        CHECK(req->timeout_ms <= (UINT64_C(1) << 53));
    } else {
        CHECK(r == -EINVAL);
        CHECK(err.len > 0);
        for (size_t i = 0; i < err.len; i++)
            CHECK(err.data[i] >= 0x20 && err.data[i] < 0x7f);
        unsigned long long at;
        if (sscanf(err.data, "malformed JSON at byte %llu:", &at) == 1)
            CHECK(at <= len);
    }
    baton__buf_free(&err);
    return r;
}

static bool same_request(const struct baton_request *a, const struct baton_request *b)
{
    return a->cmd == b->cmd && a->wait == b->wait && a->fast == b->fast &&
           a->in_place == b->in_place && a->timeout_ms == b->timeout_ms;
}

/* The accepted request as canonical JSON: both parsers must read it back the same. */
static void check_canonical(const struct baton_request *req)
{
    char line[256];
    struct baton_request back;
    struct fy_document *doc;
    struct fy_node *root = NULL;
    long long timeout;

    int n =
        snprintf(line, sizeof(line),
                 "{\"cmd\":\"%s\",\"wait\":%s,\"fast\":%s,\"in_place\":%s,\"timeout_ms\":%llu}",
                 cmd_names[req->cmd], req->wait ? "true" : "false", req->fast ? "true" : "false",
                 req->in_place ? "true" : "false", (unsigned long long)req->timeout_ms);
    CHECK(n > 0 && (size_t)n < sizeof(line));
    CHECK(parse_request(line, (size_t)n, &back) == 0);
    CHECK(same_request(req, &back));

    doc = baton__reply_parse(line, (size_t)n, &root);
    if (!doc) {
        fprintf(stderr, "fuzz-control: the CLI's parser refuses %s\n", line);
        abort();
    }
    CHECK(strcmp(baton__json_get_text(root, "cmd"), cmd_names[req->cmd]) == 0);
    CHECK(baton__json_get_bool(root, "wait") == req->wait);
    CHECK(baton__json_get_bool(root, "fast") == req->fast);
    CHECK(baton__json_get_bool(root, "in_place") == req->in_place);
    CHECK(baton__json_get_int(root, "timeout_ms", &timeout));
    CHECK((unsigned long long)timeout == req->timeout_ms);
    baton__reply_free(doc);
}

static void fuzz_request(const char *line, size_t len)
{
    struct baton_request req, again;
    int r = parse_request(line, len, &req);

    /* Trailing whitespace is not part of the object. */
    char *padded = malloc(len + 4);
    CHECK(padded != NULL);
    memcpy(padded, line, len);
    memcpy(padded + len, " \t\r\n", 4);
    CHECK(parse_request(padded, len + 4, &again) == r);
    if (r == 0)
        CHECK(same_request(&req, &again));
    free(padded);

    if (r != 0)
        return;
    /* Cut right before the closing brace: no longer an object. */
    size_t end = len;
    while (end > 0 && is_space(line[end - 1]))
        end--;
    CHECK(end > 0 && line[end - 1] == '}');
    CHECK(parse_request(line, end - 1, &again) == -EINVAL);

    check_canonical(&req);
}

/* ---- replies ----------------------------------------------------------------------------- */

static FILE *devnull;

static void walk(struct fy_node *obj, int depth);

static void walk_value(struct fy_node *n, int depth)
{
    void *iter = NULL;
    struct fy_node *item;
    size_t count = 0;

    if (!n || depth > MAX_WALK_DEPTH)
        return;
    switch (fy_node_get_type(n)) {
    case FYNT_MAPPING:
        walk(n, depth + 1);
        break;
    case FYNT_SEQUENCE:
        while ((item = baton__json_next(n, &iter))) {
            walk_value(item, depth + 1);
            count++;
        }
        CHECK(count == (size_t)fy_node_sequence_item_count(n));
        break;
    default:
        /* A scalar is not an array. */
        CHECK(baton__json_next(n, &iter) == NULL);
        break;
    }
}

/* Every accessor on every member of obj. */
static void walk(struct fy_node *obj, int depth)
{
    void *iter = NULL;
    struct fy_node_pair *pair;

    CHECK(fy_node_get_type(obj) == FYNT_MAPPING);
    while ((pair = fy_node_mapping_iterate(obj, &iter))) {
        const char *key = baton__json_text(fy_node_pair_key(pair));
        struct fy_node *value = fy_node_pair_value(pair);
        long long v;

        if (!key)
            continue; /* JSON keys are strings; "null" reads as no text */
        /* baton__json_get() looks keys up through libfyaml, which reads a key that is not a
         * plain word as YAML ("{md" is a broken flow mapping, reported on stderr): the CLI only
         * asks for the protocol's own keys, so only that alphabet is looked up here. */
        if (!*key || strspn(key, "abcdefghijklmnopqrstuvwxyz_0123456789") != strlen(key)) {
            walk_value(value, depth);
            continue;
        }
        char *k = strdup(key);
        CHECK(k != NULL);
        struct fy_node *found = baton__json_get(obj, k);
        CHECK(found != NULL);
        const char *text = baton__json_get_text(obj, k);
        CHECK(text == baton__json_text(found));
        if (baton__json_get_int(obj, k, &v)) {
            char *end;
            CHECK(text != NULL);
            CHECK(strtoll(text, &end, 10) == v && *end == '\0');
        }
        int b = baton__json_get_bool(obj, k);
        CHECK(b == -1 || b == 0 || b == 1);
        if (b == 1)
            CHECK(strcmp(text, "true") == 0);
        if (b == 0)
            CHECK(strcmp(text, "false") == 0);
        /* Members that are objects are what the printers look into (reason, timings). */
        if (fy_node_get_type(found) == FYNT_MAPPING) {
            baton__cli_print_failure(devnull, found, "  ");
            baton__cli_print_success(devnull, found);
        }
        free(k);
        walk_value(value, depth);
    }
    CHECK(baton__json_get(obj, "no-such-member-in-any-reply") == NULL);
}

static void fuzz_reply(const char *line, size_t len)
{
    struct fy_node *root = NULL;
    struct fy_document *doc = baton__reply_parse(line, len, &root);

    if (!doc)
        return;
    CHECK(root != NULL && fy_node_get_type(root) == FYNT_MAPPING);
    walk(root, 0);
    baton__cli_print_failure(devnull, root, "");
    baton__cli_print_success(devnull, root);
    baton__reply_free(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    if (!devnull) {
        devnull = fopen("/dev/null", "we");
        CHECK(devnull != NULL);
    }
    fuzz_request((const char *)data, size);
    fuzz_reply((const char *)data, size);
    return 0;
}
