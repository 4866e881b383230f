#include "cli/control-client.h"

#include <errno.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/fd.h"
#include "common/xmalloc.h"

/* How long connect() may block when the supervisor's accept queue is full. */
#define CONNECT_TIMEOUT_S 10

/*
 * Fills sa with path. sun_path holds only 108 bytes; a longer path is reached through an O_PATH
 * descriptor of its directory, since the kernel resolves "/proc/self/fd/N/name" like any path.
 * *dirfd receives that descriptor, to be closed after connect().
 */
static int socket_address(const char *path, struct sockaddr_un *sa, int *dirfd)
{
    const char *slash;
    char *dir;
    int n;

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) < sizeof(sa->sun_path)) {
        memcpy(sa->sun_path, path, strlen(path) + 1);
        return 0;
    }
    slash = strrchr(path, '/');
    if (!slash)
        return -ENAMETOOLONG;
    dir = baton__xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
    *dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (*dirfd < 0)
        return -errno;
    n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", *dirfd, slash + 1);
    if (n < 0 || (size_t)n >= sizeof(sa->sun_path))
        return -ENAMETOOLONG;
    return 0;
}

int baton__control_connect(struct baton_control *c, const char *path)
{
    struct sockaddr_un sa;
    struct timeval tv = {.tv_sec = CONNECT_TIMEOUT_S};
    struct ucred cred;
    socklen_t cred_len = sizeof(cred);
    int fd = -1, dirfd = -1, r;

    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->path = path;
    c->in = (struct baton_buf)BATON_BUF_INIT(BATON_CONTROL_MAX_REPLY);

    if ((r = socket_address(path, &sa, &dirfd)) < 0)
        goto out;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    /* A blocking connect() to a UNIX socket whose accept queue is full waits for room; the
     * send timeout bounds that wait (it then fails with EAGAIN). */
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        r = -errno;
        goto out;
    }
    tv.tv_sec = 0;
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0)
        c->peer_pid = cred.pid;
    c->fd = fd;
    fd = -1;
    r = 0;
out:
    baton__fd_closep(&fd);
    baton__fd_closep(&dirfd);
    return r;
}

int baton__control_send(struct baton_control *c, const char *json, size_t len)
{
    struct iovec iov[2] = {{(void *)json, len}, {"\n", 1}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    size_t total = len + 1, sent = 0;

    while (sent < total) {
        /* MSG_NOSIGNAL: a supervisor that closed the connection is an error, not SIGPIPE. */
        ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        sent += (size_t)n;
        while (n > 0 && msg.msg_iovlen > 0) {
            size_t step = (size_t)n < msg.msg_iov->iov_len ? (size_t)n : msg.msg_iov->iov_len;
            msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + step;
            msg.msg_iov->iov_len -= step;
            n -= (ssize_t)step;
            if (msg.msg_iov->iov_len == 0) {
                msg.msg_iov++;
                msg.msg_iovlen--;
            }
        }
    }
    return 0;
}

int baton__control_read_line(struct baton_control *c, uint64_t deadline_ms, char **ret_line,
                             size_t *ret_len)
{
    char chunk[16384];

    if (c->taken) {
        baton__buf_consume(&c->in, c->taken);
        c->taken = 0;
    }
    for (;;) {
        char *nl = c->in.len ? memchr(c->in.data, '\n', c->in.len) : NULL;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int timeout = -1, r;
        ssize_t n;

        if (nl) {
            *nl = '\0';
            *ret_line = c->in.data;
            *ret_len = (size_t)(nl - c->in.data);
            c->taken = *ret_len + 1;
            return 1;
        }
        if (c->fd < 0)
            return 0;
        if (deadline_ms) {
            uint64_t now = baton__clock_now_ms();
            if (now >= deadline_ms)
                return -ETIMEDOUT;
            timeout = deadline_ms - now > INT32_MAX ? INT32_MAX : (int)(deadline_ms - now);
        }
        r = poll(&pfd, 1, timeout);
        if (r < 0 && errno != EINTR)
            return -errno;
        if (r <= 0)
            continue;
        n = read(c->fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -errno;
        }
        if (n == 0) {
            baton__fd_closep(&c->fd);
            if (c->in.len == 0)
                return 0;
            /* The last line lacks its newline: hand it out as it is. */
            *ret_line = c->in.data;
            *ret_len = c->in.len;
            c->taken = c->in.len;
            return 1;
        }
        r = baton__buf_append(&c->in, chunk, (size_t)n);
        if (r == -ENOBUFS)
            return -EMSGSIZE;
        if (r < 0)
            return r;
    }
}

void baton__control_close(struct baton_control *c)
{
    baton__fd_closep(&c->fd);
    baton__buf_free(&c->in);
    c->taken = 0;
}

static void diag_discard(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
}

/* One silent diagnostic object for the process: libfyaml prints parse errors on stderr even
 * with FYPCF_QUIET, and a reply that is not JSON is reported by the caller instead. It stays
 * referenced by the documents built with it, so it lives as long as the process. */
static struct fy_diag *quiet_diag(void)
{
    static struct fy_diag *diag;
    struct fy_diag_cfg diag_cfg;

    if (!diag) {
        fy_diag_cfg_default(&diag_cfg);
        diag_cfg.fp = NULL;
        diag_cfg.output_fn = diag_discard;
        diag = fy_diag_create(&diag_cfg);
    }
    return diag;
}

struct fy_document *baton__reply_parse(const char *line, size_t len, struct fy_node **ret_root)
{
    struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET | FYPCF_JSON_FORCE, .diag = quiet_diag()};
    struct fy_parser *parser = NULL;
    struct fy_document *doc = NULL, *extra = NULL;
    struct fy_node *root;
    bool ok = false;

    if (!cfg.diag || !(parser = fy_parser_create(&cfg)))
        goto out;
    if (fy_parser_set_string(parser, line, len) < 0)
        goto out;
    doc = fy_parse_load_document(parser);
    /* fy_document_build_from_string() would stop after the first document: `{"a":1}{"b":2}`
     * must be refused, so the rest of the line has to be empty too. */
    extra = doc ? fy_parse_load_document(parser) : NULL;
    root = doc ? fy_document_root(doc) : NULL;
    ok = root && !extra && !fy_parser_get_stream_error(parser) &&
         fy_node_get_type(root) == FYNT_MAPPING;
out:
    fy_document_destroy(extra);
    /* A document keeps its own references to the input: it outlives the parser. */
    fy_parser_destroy(parser);
    if (!ok) {
        fy_document_destroy(doc);
        return NULL;
    }
    *ret_root = root;
    return doc;
}

void baton__reply_free(struct fy_document *doc)
{
    fy_document_destroy(doc);
}

struct fy_node *baton__json_get(struct fy_node *obj, const char *key)
{
    if (!obj || fy_node_get_type(obj) != FYNT_MAPPING)
        return NULL;
    return fy_node_mapping_lookup_by_string(obj, key, strlen(key));
}

/* True for the JSON literals null, true, false and numbers (plain YAML scalars). */
static bool is_plain(struct fy_node *n)
{
    return fy_node_get_style(n) == FYNS_PLAIN;
}

const char *baton__json_text(struct fy_node *n)
{
    const char *text;
    if (!n || fy_node_get_type(n) != FYNT_SCALAR)
        return NULL;
    text = fy_node_get_scalar0(n);
    if (text && is_plain(n) && strcmp(text, "null") == 0)
        return NULL;
    return text;
}

const char *baton__json_get_text(struct fy_node *obj, const char *key)
{
    return baton__json_text(baton__json_get(obj, key));
}

bool baton__json_get_int(struct fy_node *obj, const char *key, long long *ret)
{
    struct fy_node *n = baton__json_get(obj, key);
    const char *text = baton__json_text(n);
    char *end;
    long long v;

    if (!text || !is_plain(n) || !*text)
        return false;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (*end || errno)
        return false;
    *ret = v;
    return true;
}

int baton__json_get_bool(struct fy_node *obj, const char *key)
{
    struct fy_node *n = baton__json_get(obj, key);
    const char *text = baton__json_text(n);

    if (!text || !is_plain(n))
        return -1;
    if (strcmp(text, "true") == 0)
        return 1;
    if (strcmp(text, "false") == 0)
        return 0;
    return -1;
}

struct fy_node *baton__json_next(struct fy_node *array, void **iter)
{
    if (!array || fy_node_get_type(array) != FYNT_SEQUENCE)
        return NULL;
    return fy_node_sequence_iterate(array, iter);
}
