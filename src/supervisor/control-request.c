/* SPDX-License-Identifier: MIT */
/*
 * Control requests: one JSON object per line, e.g. {"cmd":"reload","wait":true}, read with the
 * common JSON reader (common/doc.h) within the control socket's bounds (the line's length and
 * nesting depth). The members the protocol defines are checked; others are ignored.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/doc.h"
#include "supervisor/internal.h"

#define REQUEST_MAX_DEPTH 32
#define TIMEOUT_MAX_MS    (UINT64_C(1) << 53) /* exact in every JSON implementation */
#define CMD_ECHO_MAX      63                  /* bytes of an unknown command quoted back */

static const struct {
    const char *name;
    enum baton_control_cmd cmd;
} commands[] = {
    {"ping", BATON_CONTROL_PING},         {"status", BATON_CONTROL_STATUS},
    {"reload", BATON_CONTROL_RELOAD},     {"stop", BATON_CONTROL_STOP},
    {"deploy", BATON_CONTROL_DEPLOY},     {"rollback", BATON_CONTROL_ROLLBACK},
    {"releases", BATON_CONTROL_RELEASES}, {"logs", BATON_CONTROL_LOGS},
};

/* An optional string member copied into out (size bytes with its NUL): absent is "". */
static int text(const struct baton_doc_node *root, const char *key, char *out, size_t size,
                char *msg, size_t msize)
{
    const char *v;
    int r = baton__doc_get_str(root, key, &v, msg, msize);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    if (strlen(v) >= size) {
        snprintf(msg, msize, "\"%s\" must be at most %zu bytes", key, size - 1);
        return -EINVAL;
    }
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

/* An optional boolean member: absent is false. */
static int flag(const struct baton_doc_node *root, const char *key, bool *ret, char *msg,
                size_t size)
{
    int r = baton__doc_get_bool(root, key, ret, msg, size);
    return r == -ENOENT ? 0 : r;
}

/* 'unknown command "NAME"', the name shortened and in printable ASCII: it goes back in the reply.
 */
static void unknown_command(struct baton_buf *err, const char *cmd)
{
    size_t len = strlen(cmd);
    baton__buf_puts(err, "unknown command \"");
    for (size_t i = 0; i < len && i < CMD_ECHO_MAX; i++) {
        unsigned char c = (unsigned char)cmd[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            baton__buf_printf(err, "%c", c);
        else
            baton__buf_printf(err, "\\x%02x", c);
    }
    baton__buf_puts(err, len > CMD_ECHO_MAX ? "...\"" : "\"");
}

int baton__control_request_parse(const char *line, size_t len, struct baton_control_request *ret,
                                 struct baton_buf *err)
{
    struct baton_control_request req = {0};
    struct baton_doc *doc = NULL;
    const struct baton_doc_node *root;
    const char *cmd;
    int64_t timeout = 0;
    char msg[256];
    size_t i;
    int r;

    r = baton__doc_parse(line, len, BATON_CONTROL_REQUEST_MAX, REQUEST_MAX_DEPTH, &doc, msg,
                         sizeof(msg));
    if (r == -ENODATA) {
        baton__buf_puts(err, "empty request");
        r = -EINVAL;
        goto out;
    }
    if (r < 0) {
        baton__buf_puts(err, msg);
        goto out;
    }
    root = baton__doc_root(doc);
    r = -EINVAL;
    if (baton__doc_type(root) != BATON_DOC_OBJECT) {
        baton__buf_puts(err, "a request must be a JSON object");
        goto out;
    }
    if (baton__doc_get_str(root, "cmd", &cmd, msg, sizeof(msg)) < 0 ||
        flag(root, "wait", &req.wait, msg, sizeof(msg)) < 0 ||
        flag(root, "fast", &req.fast, msg, sizeof(msg)) < 0 ||
        flag(root, "in_place", &req.in_place, msg, sizeof(msg)) < 0 ||
        flag(root, "follow", &req.follow, msg, sizeof(msg)) < 0 ||
        flag(root, "allow_downgrade", &req.allow_downgrade, msg, sizeof(msg)) < 0 ||
        flag(root, "dry_run", &req.dry_run, msg, sizeof(msg)) < 0 ||
        text(root, "artifact", req.artifact, sizeof(req.artifact), msg, sizeof(msg)) < 0 ||
        text(root, "version", req.version, sizeof(req.version), msg, sizeof(msg)) < 0) {
        baton__buf_puts(err, msg);
        goto out;
    }
    r = baton__doc_get_int(root, "timeout_ms", 0, (int64_t)TIMEOUT_MAX_MS, &timeout, msg,
                           sizeof(msg));
    if (r < 0 && r != -ENOENT) {
        baton__buf_puts(err, msg);
        r = -EINVAL;
        goto out;
    }
    req.timeout_ms = (uint64_t)timeout;
    r = -EINVAL;
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(cmd, commands[i].name) == 0)
            break;
    if (i == sizeof(commands) / sizeof(commands[0])) {
        unknown_command(err, cmd);
        goto out;
    }
    req.cmd = commands[i].cmd;
    *ret = req;
    r = 0;
out:
    baton__doc_free(doc);
    return r;
}
