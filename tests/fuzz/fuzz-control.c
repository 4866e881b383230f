/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for both ends of the control protocol (one JSON object per line each way):
 *  - the supervisor's request parser, baton__control_request_parse
 *    (src/supervisor/control-request.c), which reads whatever a local client writes to the
 *    control socket;
 *  - the CLI's reply parser, baton__reply_parse (src/cli/control-client.c), its lenient
 *    readers and the failure/success printers of src/cli/print.c that read a reload result.
 * Both read JSON with src/common/doc.c, which has its own target (fuzz-doc.c).
 * The whole input is one line for each.
 *
 * Besides the sanitizers, oracles:
 *  - a refused request gets a one-line reason of printable ASCII (it goes back in the error
 *    reply), and "malformed JSON at byte N" never points past the line;
 *  - whitespace after the object changes nothing, and a request cut before its closing brace
 *    is refused;
 *  - an accepted request, written back as canonical JSON, parses to the same request, and the
 *    CLI's parser reads the same values from it (both ends agree on what a request says);
 *  - a reply the CLI accepts is an object; every reader answers within its contract on every
 *    member, nested ones included.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/control-client.h"
#include "cli/internal.h"
#include "supervisor/internal.h"
#include "fuzz.h"

#define FUZZ_MAX_INPUT (64 * 1024)
#define MAX_WALK_DEPTH 64

static const char *const cmd_names[] = {"ping", "status", "reload", "stop"};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ---- requests ---------------------------------------------------------------------------- */

static int parse_request(const char *line, size_t len, struct baton_control_request *req)
{
    struct baton_buf err = BATON_BUF_INIT(4096);
    int r;

    memset(req, 0, sizeof(*req));
    r = baton__control_request_parse(line, len, req, &err);
    if (r == 0) {
        CHECK(err.len == 0);
        CHECK(req->cmd >= BATON_CONTROL_PING && req->cmd <= BATON_CONTROL_STOP);
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

static bool same_request(const struct baton_control_request *a,
                         const struct baton_control_request *b)
{
    return a->cmd == b->cmd && a->wait == b->wait && a->fast == b->fast &&
           a->in_place == b->in_place && a->timeout_ms == b->timeout_ms;
}

/* The accepted request as canonical JSON: both parsers must read it back the same. */
static void check_canonical(const struct baton_control_request *req)
{
    char line[256];
    struct baton_control_request back;
    struct baton_doc *doc = NULL;
    const struct baton_doc_node *root;
    long long timeout;

    int n =
        snprintf(line, sizeof(line),
                 "{\"cmd\":\"%s\",\"wait\":%s,\"fast\":%s,\"in_place\":%s,\"timeout_ms\":%llu}",
                 cmd_names[req->cmd], req->wait ? "true" : "false", req->fast ? "true" : "false",
                 req->in_place ? "true" : "false", (unsigned long long)req->timeout_ms);
    CHECK(n > 0 && (size_t)n < sizeof(line));
    CHECK(parse_request(line, (size_t)n, &back) == 0);
    CHECK(same_request(req, &back));

    if (baton__reply_parse(line, (size_t)n, &doc, NULL) < 0) {
        fprintf(stderr, "fuzz-control: the CLI's parser refuses %s\n", line);
        abort();
    }
    root = baton__doc_root(doc);
    CHECK(strcmp(baton__cli_text(root, "cmd", ""), cmd_names[req->cmd]) == 0);
    CHECK(baton__cli_true(root, "wait") == req->wait);
    CHECK(baton__cli_true(root, "fast") == req->fast);
    CHECK(baton__cli_true(root, "in_place") == req->in_place);
    CHECK(baton__cli_int(root, "timeout_ms", &timeout));
    CHECK((unsigned long long)timeout == req->timeout_ms);
    baton__doc_free(doc);
}

static void fuzz_request(const char *line, size_t len)
{
    struct baton_control_request req, again;
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

/* Every reader on every member of n, and the printers on every object. */
static void walk(const struct baton_doc_node *n, int depth)
{
    const struct baton_doc_node *item = NULL;
    size_t count = 0;

    if (depth > MAX_WALK_DEPTH)
        return;
    if (baton__doc_type(n) == BATON_DOC_OBJECT) {
        baton__cli_print_failure(devnull, n, "  ");
        baton__cli_print_success(devnull, n);
    }
    while ((item = baton__doc_next(n, item))) {
        const char *key = baton__doc_key(item);
        count++;
        CHECK((key != NULL) == (baton__doc_type(n) == BATON_DOC_OBJECT));
        if (key) {
            const struct baton_doc_node *found = baton__doc_get(n, key);
            const char *text = baton__cli_text(n, key, NULL), *s;
            size_t slen;
            long long v;
            /* Duplicates are refused, so a key finds its own member, unless it holds a NUL
             * (a C string stops there): then it finds the member named by its first part. */
            CHECK(found == item || !found || strcmp(baton__doc_key(found), key) == 0);
            if (found == item) {
                bool plain_string = baton__doc_str(item, &s, &slen) == 0 && strlen(s) == slen;
                CHECK((text != NULL) == plain_string);
                if (baton__cli_int(n, key, &v)) {
                    char *end;
                    CHECK(baton__doc_type(item) == BATON_DOC_NUMBER);
                    CHECK(strtoll(baton__doc_number_text(item), &end, 10) == v && *end == '\0');
                }
                if (baton__cli_true(n, key))
                    CHECK(baton__doc_type(item) == BATON_DOC_BOOL);
            }
        }
        walk(item, depth + 1);
    }
    CHECK(count == baton__doc_count(n));
    CHECK(baton__doc_get(n, "no-such-member-in-any-reply") == NULL);
}

static void fuzz_reply(const char *line, size_t len)
{
    struct baton_doc *doc = NULL;
    struct baton_buf err = BATON_BUF_INIT(4096);

    if (baton__reply_parse(line, len, &doc, &err) < 0) {
        CHECK(doc == NULL && err.len > 0);
        baton__buf_free(&err);
        return;
    }
    CHECK(err.len == 0);
    CHECK(baton__doc_type(baton__doc_root(doc)) == BATON_DOC_OBJECT);
    walk(baton__doc_root(doc), 0);
    baton__doc_free(doc);
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
