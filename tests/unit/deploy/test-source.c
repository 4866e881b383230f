/* SPDX-License-Identifier: MIT */
/* Pull mode against a local update server (a small HTTP/1.1 server on a loopback port, in a
 * thread of this test): conditional polls, verified downloads, every refusal and error, failed
 * versions, phases; and the latest.json parser, RFC 3339 times and the jitter on their own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "helpers.h"
#include "minisign.h"

/* ---- the update server ---- */

#define ROUTES 16
#define LOG    4096

struct route {
    char path[128];
    int status;
    char *body;
    size_t len;
    char etag[64];          /* "" no ETag; else If-None-Match equal to it gets 304 */
    char last_modified[64]; /* likewise with Last-Modified and If-Modified-Since */
    bool no_length;         /* no Content-Length: the body ends when the connection closes */
    bool hang;              /* read the request, never answer */
};

struct server {
    int fd, port, stop[2];
    pthread_t th;
    pthread_mutex_t mu;
    struct route routes[ROUTES];
    int n_routes;
    char log_path[LOG][128];
    char log_inm[LOG][128]; /* If-None-Match of each request ("" none) */
    char log_ims[LOG][128]; /* If-Modified-Since */
    int n_log;
};

static void header(const char *req, const char *name, char *out, size_t outsz)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\r\n%s:", name);
    const char *h = strcasestr(req, pat);
    if (!h)
        return;
    h += strlen(pat);
    while (*h == ' ')
        h++;
    size_t k = strcspn(h, "\r");
    if (k < outsz) {
        memcpy(out, h, k);
        out[k] = '\0';
    }
}

static void serve_one(struct server *sv, int c)
{
    char req[8192];
    size_t n = 0;
    while (n < sizeof(req) - 1) {
        ssize_t k = read(c, req + n, sizeof(req) - 1 - n);
        if (k <= 0)
            return;
        n += (size_t)k;
        req[n] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    char path[128] = "", inm[128] = "", ims[128] = "";
    sscanf(req, "GET %127s", path);
    header(req, "If-None-Match", inm, sizeof(inm));
    header(req, "If-Modified-Since", ims, sizeof(ims));
    pthread_mutex_lock(&sv->mu);
    if (sv->n_log < LOG) {
        strcpy(sv->log_path[sv->n_log], path);
        strcpy(sv->log_inm[sv->n_log], inm);
        strcpy(sv->log_ims[sv->n_log], ims);
        sv->n_log++;
    }
    struct route rt = {.status = 404, .body = "not found", .len = 9};
    char *copy = NULL;
    for (int i = 0; i < sv->n_routes; i++)
        if (!strcmp(sv->routes[i].path, path)) {
            rt = sv->routes[i];
            copy = malloc(rt.len + 1);
            memcpy(copy, rt.body, rt.len);
            rt.body = copy;
        }
    pthread_mutex_unlock(&sv->mu);
    if (rt.hang) {
        /* until the client gives up (EOF) or the test ends */
        struct pollfd p[2] = {{.fd = c, .events = POLLIN}, {.fd = sv->stop[0], .events = POLLIN}};
        while (poll(p, 2, -1) > 0 && !(p[1].revents) && read(c, req, sizeof(req)) > 0)
            ;
        free(copy);
        return;
    }
    char head[512];
    int hl;
    if ((rt.etag[0] && !strcmp(inm, rt.etag)) ||
        (rt.last_modified[0] && !strcmp(ims, rt.last_modified))) {
        hl = snprintf(head, sizeof(head), "HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n");
        rt.len = 0;
    } else if (rt.no_length) {
        hl = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nConnection: close\r\n\r\n", rt.status);
    } else {
        hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s%s%s%s%s%sConnection: "
                      "close\r\n\r\n",
                      rt.status, rt.len, rt.etag[0] ? "ETag: " : "", rt.etag,
                      rt.etag[0] ? "\r\n" : "", rt.last_modified[0] ? "Last-Modified: " : "",
                      rt.last_modified, rt.last_modified[0] ? "\r\n" : "");
    }
    /* send(MSG_NOSIGNAL): a client that gave up (too large) must not SIGPIPE the test */
    (void)!send(c, head, (size_t)hl, MSG_NOSIGNAL);
    for (size_t off = 0; off < rt.len;) {
        ssize_t w = send(c, rt.body + off, rt.len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    free(copy);
}

static void *server_main(void *arg)
{
    struct server *sv = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = sv->fd, .events = POLLIN},
                              {.fd = sv->stop[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0)
            continue;
        if (p[1].revents)
            return NULL;
        int c = accept4(sv->fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        serve_one(sv, c);
        shutdown(c, SHUT_WR);
        close(c);
    }
}

static struct server *server_start(void)
{
    struct server *sv = calloc(1, sizeof(*sv));
    assert_non_null(sv);
    pthread_mutex_init(&sv->mu, NULL);
    sv->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(sv->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(sv->fd, 16), 0);
    socklen_t al = sizeof(a);
    getsockname(sv->fd, (struct sockaddr *)&a, &al);
    sv->port = ntohs(a.sin_port);
    assert_int_equal(pipe2(sv->stop, O_CLOEXEC), 0);
    assert_int_equal(pthread_create(&sv->th, NULL, server_main, sv), 0);
    return sv;
}

static void server_stop(struct server *sv)
{
    (void)!write(sv->stop[1], "x", 1);
    pthread_join(sv->th, NULL);
    close(sv->fd);
    close(sv->stop[0]);
    close(sv->stop[1]);
    for (int i = 0; i < sv->n_routes; i++)
        free(sv->routes[i].body);
    pthread_mutex_destroy(&sv->mu);
    free(sv);
}

/* Adds or replaces the route for path. */
static struct route *serve(struct server *sv, const char *path, int status, const void *body,
                           size_t len, const char *etag)
{
    pthread_mutex_lock(&sv->mu);
    struct route *r = NULL;
    for (int i = 0; i < sv->n_routes; i++)
        if (!strcmp(sv->routes[i].path, path))
            r = &sv->routes[i];
    if (!r) {
        assert_true(sv->n_routes < ROUTES);
        r = &sv->routes[sv->n_routes++];
    } else {
        free(r->body);
    }
    memset(r, 0, sizeof(*r));
    snprintf(r->path, sizeof(r->path), "%s", path);
    r->status = status;
    r->body = malloc(len + 1);
    memcpy(r->body, body, len);
    r->len = len;
    snprintf(r->etag, sizeof(r->etag), "%s", etag ? etag : "");
    pthread_mutex_unlock(&sv->mu);
    return r;
}

static void unserve(struct server *sv, const char *path)
{
    pthread_mutex_lock(&sv->mu);
    for (int i = 0; i < sv->n_routes; i++)
        if (!strcmp(sv->routes[i].path, path)) {
            free(sv->routes[i].body);
            sv->routes[i] = sv->routes[--sv->n_routes];
            break;
        }
    pthread_mutex_unlock(&sv->mu);
}

/* Requests for path so far, and the If-None-Match of the last one. */
static int requests(struct server *sv, const char *path, char *last_inm, size_t sz)
{
    int n = 0;
    pthread_mutex_lock(&sv->mu);
    for (int i = 0; i < sv->n_log; i++)
        if (!strcmp(sv->log_path[i], path)) {
            n++;
            if (last_inm)
                snprintf(last_inm, sz, "%s", sv->log_inm[i]);
        }
    pthread_mutex_unlock(&sv->mu);
    return n;
}

/* ---- signatures (minisign's layout: minisign.h) ---- */

static void make_sig(const struct kp *k, const void *msg, size_t n, const char *comment, char *out,
                     size_t outsz)
{
    make_sig_text(k, true, msg, n, comment, "\n", out, outsz);
}

/* ---- fixture ---- */

struct fx {
    struct server *sv;
    char *dir;
    char url[PATH_MAX + 64], keyfile[PATH_MAX], mid[PATH_MAX], dl[PATH_MAX];
    struct kp key, other;
    struct baton_source *src;
    struct baton_source_update upd;
    char err[512];
    char artifact[4096];
    size_t artifact_len;
    char sha[BATON_SHA256_HEX];
};

static int setup(void **state)
{
    assert_true(sodium_init() >= 0);
    struct fx *f = calloc(1, sizeof(*f));
    f->sv = server_start();
    f->dir = tmpdir_new();
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/rel/latest.json", f->sv->port);
    char pub[256];
    make_key(&f->key, pub, sizeof(pub));
    snprintf(f->keyfile, sizeof(f->keyfile), "%s/trust.pub", f->dir);
    assert_int_equal(write_file(f->keyfile, pub, strlen(pub)), 0);
    make_key(&f->other, pub, sizeof(pub));
    snprintf(f->mid, sizeof(f->mid), "%s/machine-id", f->dir);
    assert_int_equal(write_file(f->mid, "0123456789abcdef0123456789abcdef\n", 33), 0);
    snprintf(f->dl, sizeof(f->dl), "%s/downloads", f->dir);
    for (size_t i = 0; i < sizeof(f->artifact); i++)
        f->artifact[i] = (char)(i * 7 + 3);
    f->artifact_len = sizeof(f->artifact);
    uint8_t h[32];
    crypto_hash_sha256(h, (const uint8_t *)f->artifact, f->artifact_len);
    for (int i = 0; i < 32; i++)
        sprintf(f->sha + 2 * i, "%02x", h[i]);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    baton_source_free(f->src);
    server_stop(f->sv);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void open_source(struct fx *f, bool trusted, uint64_t stall_ms)
{
    baton_source_free(f->src);
    f->src = NULL;
    struct baton_source_config cfg = {
        .url = f->url,
        .interval_ms = 60000,
        .trust = trusted ? f->keyfile : NULL,
        .max_size = 1 << 20,
        .download_dir = f->dl,
        .machine_id = f->mid,
        .seed = 42,
        .connect_timeout_ms = 2000,
        .stall_timeout_ms = stall_ms ? stall_ms : 5000,
    };
    assert_int_equal(baton_source_new(&cfg, &f->src, f->err, sizeof(f->err)), 0);
}

/* Publishes latest.json (etag may be NULL) and the artifact as hello-<version>.tar.gz. */
static void publish(struct fx *f, const char *version, const char *extra, const char *etag)
{
    char json[1024], path[128];
    snprintf(json, sizeof(json),
             "{\"version\": \"%s\", \"url\": \"hello-%s.tar.gz\", \"sha256\": \"%s\"%s%s}\n",
             version, version, f->sha, extra ? ", " : "", extra ? extra : "");
    serve(f->sv, "/rel/latest.json", 200, json, strlen(json), etag);
    snprintf(path, sizeof(path), "/rel/hello-%s.tar.gz", version);
    serve(f->sv, path, 200, f->artifact, f->artifact_len, NULL);
}

/* Signs what /rel/latest.json serves now (and the artifact) with key, naming file and version. */
static void sign_latest(struct fx *f, const struct kp *k, const char *file, const char *version)
{
    char sig[1024], comment[256];
    pthread_mutex_lock(&f->sv->mu);
    struct route *lj = NULL;
    for (int i = 0; i < f->sv->n_routes; i++)
        if (!strcmp(f->sv->routes[i].path, "/rel/latest.json"))
            lj = &f->sv->routes[i];
    assert_non_null(lj);
    snprintf(comment, sizeof(comment), "timestamp:1 file:%s version:%s", file, version);
    make_sig(k, lj->body, lj->len, comment, sig, sizeof(sig));
    pthread_mutex_unlock(&f->sv->mu);
    serve(f->sv, "/rel/latest.json.minisig", 200, sig, strlen(sig), NULL);
    char name[128], path[160];
    snprintf(name, sizeof(name), "hello-%s.tar.gz", version);
    snprintf(comment, sizeof(comment), "timestamp:1 file:%s version:%s", name, version);
    make_sig(k, f->artifact, f->artifact_len, comment, sig, sizeof(sig));
    snprintf(path, sizeof(path), "/rel/%s.minisig", name);
    serve(f->sv, path, 200, sig, strlen(sig), NULL);
}

static int poll_once(struct fx *f, const char *installed)
{
    f->err[0] = '\0';
    return baton_source_poll(f->src, installed, &f->upd, f->err, sizeof(f->err));
}

static enum baton_poll_result result(struct fx *f)
{
    struct baton_source_status st;
    baton_source_status(f->src, &st);
    return st.result;
}

static void expect(struct fx *f, int got, int want, enum baton_poll_result res, const char *msg)
{
    struct baton_source_status st;
    baton_source_status(f->src, &st);
    if (got != want || st.result != res || !strstr(f->err[0] ? f->err : st.reason, msg))
        fail_msg("got %d %s \"%s\" (status reason \"%s\"), want %d %s \"%s\"", got,
                 baton_poll_result_name(st.result), f->err, st.reason, want,
                 baton_poll_result_name(res), msg);
}

/* Nothing but finished downloads (no .part) in the download directory. */
static int downloads(struct fx *f)
{
    DIR *d = opendir(f->dl);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        assert_null(strstr(e->d_name, ".part"));
        n++;
    }
    closedir(d);
    return n;
}

/* ---- polls ---- */

static void last_modified_conditional(void **state)
{
    struct fx *f = *state;
    open_source(f, false, 0);
    publish(f, "1.4.0", NULL, NULL);
    pthread_mutex_lock(&f->sv->mu);
    for (int i = 0; i < f->sv->n_routes; i++)
        if (!strcmp(f->sv->routes[i].path, "/rel/latest.json"))
            strcpy(f->sv->routes[i].last_modified, "Sat, 05 Dec 2026 00:00:00 GMT");
    pthread_mutex_unlock(&f->sv->mu);
    assert_int_equal(poll_once(f, "1.3.0"), 1);
    assert_int_equal(poll_once(f, "1.4.0"), 0);
    assert_int_equal(result(f), BATON_POLL_NOT_MODIFIED);
    pthread_mutex_lock(&f->sv->mu);
    int last = -1;
    for (int i = 0; i < f->sv->n_log; i++)
        if (!strcmp(f->sv->log_path[i], "/rel/latest.json"))
            last = i;
    assert_true(last >= 1);
    assert_string_equal(f->sv->log_ims[last], "Sat, 05 Dec 2026 00:00:00 GMT");
    assert_string_equal(f->sv->log_inm[last], "");
    pthread_mutex_unlock(&f->sv->mu);
}

struct poller {
    struct fx *f;
    int r;
};

static void *poll_thread(void *arg)
{
    struct poller *p = arg;
    p->r = poll_once(p->f, "1.3.0");
    return NULL;
}

static void cancel_running_poll(void **state)
{
    struct fx *f = *state;
    open_source(f, false, 60000); /* the stall timeout would take a minute */
    serve(f->sv, "/rel/latest.json", 200, "{}", 2, NULL)->hang = true;
    struct poller p = {.f = f};
    pthread_t th;
    uint64_t t0 = baton__clock_now_ms();
    assert_int_equal(pthread_create(&th, NULL, poll_thread, &p), 0);
    while (requests(f->sv, "/rel/latest.json", NULL, 0) == 0) /* the request is in flight */
        usleep(1000);
    baton_source_cancel(f->src);
    pthread_join(th, NULL);
    assert_int_equal(p.r, -ECANCELED);
    assert_true(baton__clock_now_ms() - t0 < 10000);
    assert_int_equal(result(f), BATON_POLL_ERROR);
}

static void new_version_then_not_modified(void **state)
{
    struct fx *f = *state;
    open_source(f, false, 0);
    publish(f, "1.4.0", NULL, "\"v1\"");
    assert_int_equal(poll_once(f, "1.3.0"), 1);
    assert_int_equal(result(f), BATON_POLL_NEW_VERSION);
    assert_string_equal(f->upd.version, "1.4.0");
    assert_string_equal(f->upd.sha256, f->sha);
    assert_false(f->upd.has_minisig);
    char want[PATH_MAX + 32];
    snprintf(want, sizeof(want), "%s/hello-1.4.0.tar.gz", f->dl);
    assert_string_equal(f->upd.path, want);
    int fd = open(f->upd.path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    char buf[8192];
    assert_int_equal(read(fd, buf, sizeof(buf)), f->artifact_len);
    close(fd);
    assert_memory_equal(buf, f->artifact, f->artifact_len);
    char inm[128];
    assert_int_equal(requests(f->sv, "/rel/latest.json", inm, sizeof(inm)), 1);
    assert_string_equal(inm, ""); /* nothing to be conditional on yet */

    /* unchanged: a conditional GET, answered 304 */
    assert_int_equal(poll_once(f, "1.4.0"), 0);
    assert_int_equal(result(f), BATON_POLL_NOT_MODIFIED);
    assert_int_equal(requests(f->sv, "/rel/latest.json", inm, sizeof(inm)), 2);
    assert_string_equal(inm, "\"v1\"");
    assert_int_equal(requests(f->sv, "/rel/hello-1.4.0.tar.gz", NULL, 0), 1);

    /* changed: judged again; 1.4.0 is installed now */
    publish(f, "1.4.0", "\"phase\": 100", "\"v2\"");
    assert_int_equal(poll_once(f, "1.4.0"), 0);
    assert_int_equal(result(f), BATON_POLL_UP_TO_DATE);
    assert_int_equal(requests(f->sv, "/rel/latest.json", inm, sizeof(inm)), 3);
    assert_string_equal(inm, "\"v1\"");

    /* the status line and the schedule: interval +- 10 % */
    struct baton_source_status st;
    baton_source_status(f->src, &st);
    assert_int_equal(st.polls, 3);
    assert_true(st.next_poll - st.last_poll >= 54000 && st.next_poll - st.last_poll <= 66000);
    uint64_t d = baton_source_delay_ms(f->src);
    assert_true(d > 50000 && d <= 66000);
    char line[1024];
    baton_source_status_format(&st, line, sizeof(line));
    assert_non_null(strstr(line, "last poll 20"));
    assert_non_null(strstr(line, ": up to date 1.4.0; next poll 20"));
}

static void first_install_and_relative_urls(void **state)
{
    struct fx *f = *state;
    open_source(f, false, 0);
    /* an absolute path in "url" resolves against the server */
    char json[512];
    snprintf(json, sizeof(json),
             "{\"version\": \"2.0.0\", \"url\": \"/files/app.tar.gz?x=1\", \"sha256\": \"%s\"}",
             f->sha);
    serve(f->sv, "/rel/latest.json", 200, json, strlen(json), NULL);
    serve(f->sv, "/files/app.tar.gz?x=1", 200, f->artifact, f->artifact_len, NULL);
    assert_int_equal(poll_once(f, NULL), 1); /* nothing installed: any version is new */
    assert_non_null(strstr(f->upd.path, "/downloads/app.tar.gz"));
    /* a url with no usable file name */
    snprintf(json, sizeof(json),
             "{\"version\": \"2.0.1\", \"url\": \"ftp://h/x.tar.gz\", \"sha256\": \"%s\"}", f->sha);
    serve(f->sv, "/rel/latest.json", 200, json, strlen(json), NULL);
    expect(f, poll_once(f, "2.0.0"), -EBADMSG, BATON_POLL_REFUSED, "does not name an http(s) file");
    /* latest.json over HTTP never points at a local file */
    snprintf(json, sizeof(json),
             "{\"version\": \"2.0.2\", \"url\": \"file:///etc/passwd\", \"sha256\": \"%s\"}",
             f->sha);
    serve(f->sv, "/rel/latest.json", 200, json, strlen(json), NULL);
    expect(f, poll_once(f, "2.0.0"), -EBADMSG, BATON_POLL_REFUSED, "does not name an http(s) file");
}

static void file_source(void **state)
{
    struct fx *f = *state;
    char pub[PATH_MAX], p[PATH_MAX + 64], json[512];
    snprintf(pub, sizeof(pub), "%s/pub", f->dir);
    assert_int_equal(mkdir(pub, 0755), 0);
    snprintf(f->url, sizeof(f->url), "file://%s/latest.json", pub);
    open_source(f, false, 0);
    expect(f, poll_once(f, NULL), -ENOENT, BATON_POLL_ERROR, "latest.json: no such file");
    snprintf(json, sizeof(json),
             "{\"version\": \"3.0.0\", \"url\": \"app-3.0.0.tar.gz\", \"sha256\": \"%s\"}", f->sha);
    snprintf(p, sizeof(p), "%s/latest.json", pub);
    assert_int_equal(write_file(p, json, strlen(json)), 0);
    expect(f, poll_once(f, NULL), -ENOENT, BATON_POLL_ERROR, "app-3.0.0.tar.gz: no such file");
    snprintf(p, sizeof(p), "%s/app-3.0.0.tar.gz", pub);
    assert_int_equal(write_file(p, f->artifact, f->artifact_len), 0);
    assert_int_equal(poll_once(f, NULL), 1);
    assert_string_equal(f->upd.version, "3.0.0");
    /* no validators on files: judged again, and now up to date */
    assert_int_equal(poll_once(f, "3.0.0"), 0);
    assert_int_equal(result(f), BATON_POLL_UP_TO_DATE);
    /* max_size holds for files too */
    char *blob = calloc(1, (1 << 20) + 1);
    assert_int_equal(write_file(p, blob, (1 << 20) + 1), 0);
    free(blob);
    expect(f, poll_once(f, "2.0.0"), -EFBIG, BATON_POLL_REFUSED, "larger than release.max_size");
    assert_int_equal(downloads(f), 2); /* 3.0.0 and its .sha256 */
}

static void expired_refused(void **state)
{
    struct fx *f = *state;
    open_source(f, false, 0);
    publish(f, "1.4.0", "\"expires\": \"2020-01-01T00:00:00Z\"", NULL);
    expect(f, poll_once(f, "1.3.0"), -ESTALE, BATON_POLL_REFUSED,
           "latest.json (1.4.0) expired at 2020-01-01T00:00:00Z");
    assert_int_equal(requests(f->sv, "/rel/hello-1.4.0.tar.gz", NULL, 0), 0);
    /* not yet expired */
    publish(f, "1.4.0", "\"expires\": \"2999-01-01T00:00:00+02:00\"", NULL);
    assert_int_equal(poll_once(f, "1.3.0"), 1);
}

static void older_refused_same_up_to_date(void **state)
{
    struct fx *f = *state;
    open_source(f, false, 0);
    publish(f, "1.4.0", NULL, NULL);
    expect(f, poll_once(f, "1.10.0"), -ESTALE, BATON_POLL_REFUSED,
           "latest.json offers 1.4.0, older than the installed 1.10.0");
    assert_int_equal(poll_once(f, "1.4.0"), 0);
    assert_int_equal(result(f), BATON_POLL_UP_TO_DATE);
    assert_int_equal(requests(f->sv, "/rel/hello-1.4.0.tar.gz", NULL, 0), 0);
    assert_int_equal(downloads(f), 0);
}

static void malformed_refused(void **state)
{
    struct fx *f = *state;
    open_source(f, false, 0);
    serve(f->sv, "/rel/latest.json", 200, "{\"version\": \"1.4.0\",", 20, "\"m\"");
    expect(f, poll_once(f, "1.3.0"), -EBADMSG, BATON_POLL_REFUSED,
           "malformed latest.json: not a JSON object");
    /* the refusal is remembered: the 304 that follows keeps its reason */
    assert_int_equal(poll_once(f, "1.3.0"), 0);
    struct baton_source_status st;
    baton_source_status(f->src, &st);
    assert_int_equal(st.result, BATON_POLL_NOT_MODIFIED);
    assert_non_null(strstr(st.reason, "malformed latest.json"));
    char line[1024];
    baton_source_status_format(&st, line, sizeof(line));
    assert_non_null(strstr(line, ": not modified: malformed latest.json"));
}

static void bad_signatures_refused(void **state)
{
    struct fx *f = *state;
    open_source(f, true, 0);
    /* good: latest.json and the artifact signed; the artifact verifies like `baton deploy` */
    publish(f, "1.4.0", NULL, NULL);
    sign_latest(f, &f->key, "latest.json", "1.4.0");
    assert_int_equal(poll_once(f, "1.3.0"), 1);
    assert_true(f->upd.has_minisig);
    struct baton_verify_request req = {.artifact = f->upd.path,
                                       .version = f->upd.version,
                                       .trust = f->keyfile,
                                       .require_sha256 = true};
    struct baton_verified v;
    assert_int_equal(baton_artifact_verify(&req, &v, f->err, sizeof(f->err)), 0);
    assert_true(v.signed_);
    assert_true(v.sha256_checked);
    assert_string_equal(v.sha256, f->sha);

    publish(f, "1.5.0", NULL, NULL);
    sign_latest(f, &f->other, "latest.json", "1.5.0");
    expect(f, poll_once(f, "1.4.0"), -EPERM, BATON_POLL_REFUSED,
           "latest.json signature refused: signature by key");
    sign_latest(f, &f->key, "other.json", "1.5.0");
    expect(f, poll_once(f, "1.4.0"), -EPERM, BATON_POLL_REFUSED,
           "latest.json signature is for file \"other.json\", not latest.json");
    sign_latest(f, &f->key, "latest.json", "1.4.0");
    expect(f, poll_once(f, "1.4.0"), -EPERM, BATON_POLL_REFUSED,
           "latest.json signature is for version \"1.4.0\", but it offers 1.5.0");
    /* signed, then tampered with */
    sign_latest(f, &f->key, "latest.json", "1.5.0");
    publish(f, "1.5.0", "\"phase\": 100", NULL);
    expect(f, poll_once(f, "1.4.0"), -EPERM, BATON_POLL_REFUSED,
           "latest.json signature refused: signature does not match");
    /* latest.json published before its new signature: refused, and looked at again (no 304) */
    publish(f, "1.5.0", "\"phase\": 100", "\"t\"");
    expect(f, poll_once(f, "1.4.0"), -EPERM, BATON_POLL_REFUSED,
           "latest.json signature refused: signature does not match");
    sign_latest(f, &f->key, "latest.json", "1.5.0");
    assert_int_equal(poll_once(f, "1.4.0"), 1);
    assert_string_equal(f->upd.version, "1.5.0");
    char inm[128];
    requests(f->sv, "/rel/latest.json", inm, sizeof(inm));
    assert_string_equal(inm, "");
    publish(f, "1.5.0", NULL, NULL);
    serve(f->sv, "/rel/latest.json.minisig", 200, "garbage\n", 8, NULL);
    expect(f, poll_once(f, "1.4.0"), -EPERM, BATON_POLL_REFUSED,
           "latest.json.minisig is malformed");
    unserve(f->sv, "/rel/latest.json.minisig");
    expect(f, poll_once(f, "1.4.0"), -ENOENT, BATON_POLL_ERROR,
           "latest.json.minisig: HTTP 404 (release.trust requires a signed latest.json)");
    /* latest.json signed, the artifact's own signature missing */
    sign_latest(f, &f->key, "latest.json", "1.5.0");
    unserve(f->sv, "/rel/hello-1.5.0.tar.gz.minisig");
    expect(f, poll_once(f, "1.4.0"), -ENOENT, BATON_POLL_ERROR,
           "hello-1.5.0.tar.gz.minisig: HTTP 404");
    assert_int_equal(downloads(f), 6); /* 1.4.0 and 1.5.0, their .sha256 and .minisig only */
}

static void http_errors(void **state)
{
    struct fx *f = *state;
    open_source(f, false, 0);
    expect(f, poll_once(f, "1.3.0"), -ENOENT, BATON_POLL_ERROR, "/rel/latest.json: HTTP 404");
    serve(f->sv, "/rel/latest.json", 503, "busy", 4, NULL);
    expect(f, poll_once(f, "1.3.0"), -EPROTO, BATON_POLL_ERROR, "latest.json: HTTP 503");
    /* latest.json fine, its artifact missing */
    publish(f, "1.4.0", NULL, "\"e\"");
    unserve(f->sv, "/rel/hello-1.4.0.tar.gz");
    expect(f, poll_once(f, "1.3.0"), -ENOENT, BATON_POLL_ERROR, "hello-1.4.0.tar.gz: HTTP 404");
    assert_int_equal(downloads(f), 0);
    /* a transport error is not remembered: the next poll is not conditional and downloads */
    publish(f, "1.4.0", NULL, "\"e\"");
    assert_int_equal(poll_once(f, "1.3.0"), 1);
    char inm[128];
    requests(f->sv, "/rel/latest.json", inm, sizeof(inm));
    assert_string_equal(inm, "");
}

static void unreachable_source(void **state)
{
    struct fx *f = *state;
    /* a port nobody listens on: bound, never listening */
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t al = sizeof(a);
    getsockname(s, (struct sockaddr *)&a, &al);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/latest.json", ntohs(a.sin_port));
    open_source(f, false, 0);
    expect(f, poll_once(f, "1.3.0"), -ECONNREFUSED, BATON_POLL_ERROR, "cannot connect");
    close(s);
}

static void hanging_source(void **state)
{
    struct fx *f = *state;
    open_source(f, false, 1000);
    struct route *r = serve(f->sv, "/rel/latest.json", 200, "{}", 2, NULL);
    r->hang = true;
    uint64_t t0 = baton__clock_now_ms();
    expect(f, poll_once(f, "1.3.0"), -ETIMEDOUT, BATON_POLL_ERROR, "timed out");
    uint64_t took = baton__clock_now_ms() - t0;
    assert_true(took >= 900 && took < 10000);
}

static void oversized_refused(void **state)
{
    struct fx *f = *state;
    open_source(f, false, 0);
    size_t big = (1 << 20) + 1;
    char *blob = calloc(1, big);
    uint8_t h[32];
    char sha[65];
    crypto_hash_sha256(h, (const uint8_t *)blob, big);
    for (int i = 0; i < 32; i++)
        sprintf(sha + 2 * i, "%02x", h[i]);
    char json[512];
    snprintf(json, sizeof(json),
             "{\"version\": \"9.0.0\", \"url\": \"big.tar.gz\", \"sha256\": \"%s\"}", sha);
    serve(f->sv, "/rel/latest.json", 200, json, strlen(json), NULL);
    /* announced by Content-Length */
    serve(f->sv, "/rel/big.tar.gz", 200, blob, big, NULL);
    expect(f, poll_once(f, "1.3.0"), -EFBIG, BATON_POLL_REFUSED,
           "artifact big.tar.gz is larger than release.max_size (1048576 bytes)");
    assert_int_equal(downloads(f), 0);
    /* found out while streaming (no Content-Length) */
    serve(f->sv, "/rel/big.tar.gz", 200, blob, big, NULL)->no_length = true;
    expect(f, poll_once(f, "1.3.0"), -EFBIG, BATON_POLL_REFUSED, "larger than release.max_size");
    assert_int_equal(downloads(f), 0);
    /* exactly max_size fits */
    crypto_hash_sha256(h, (const uint8_t *)blob, big - 1);
    for (int i = 0; i < 32; i++)
        sprintf(sha + 2 * i, "%02x", h[i]);
    snprintf(json, sizeof(json),
             "{\"version\": \"9.0.0\", \"url\": \"big.tar.gz\", \"sha256\": \"%s\"}", sha);
    serve(f->sv, "/rel/latest.json", 200, json, strlen(json), NULL);
    serve(f->sv, "/rel/big.tar.gz", 200, blob, big - 1, NULL)->no_length = true;
    assert_int_equal(poll_once(f, "1.3.0"), 1);
    /* latest.json itself past its limit */
    char *hugejson = malloc(BATON_LATEST_MAX + 10);
    memset(hugejson, ' ', BATON_LATEST_MAX + 10);
    hugejson[0] = '{';
    hugejson[BATON_LATEST_MAX + 9] = '}';
    serve(f->sv, "/rel/latest.json", 200, hugejson, BATON_LATEST_MAX + 10, NULL);
    expect(f, poll_once(f, "1.3.0"), -EFBIG, BATON_POLL_REFUSED, "latest.json is larger than");
    free(hugejson);
    free(blob);
}

static void sha256_mismatch_refused(void **state)
{
    struct fx *f = *state;
    open_source(f, false, 0);
    publish(f, "1.4.0", NULL, NULL);
    serve(f->sv, "/rel/hello-1.4.0.tar.gz", 200, "tampered", 8, NULL);
    expect(f, poll_once(f, "1.3.0"), -EPERM, BATON_POLL_REFUSED,
           "artifact hello-1.4.0.tar.gz has sha256 d121be31");
    assert_int_equal(downloads(f), 0);
}

static void failed_version_not_retried(void **state)
{
    struct fx *f = *state;
    open_source(f, false, 0);
    publish(f, "1.4.0", NULL, "\"a\"");
    assert_int_equal(poll_once(f, "1.3.0"), 1);
    baton_source_failed(f->src, "1.4.0");
    /* unchanged metadata: 304 */
    assert_int_equal(poll_once(f, "1.3.0"), 0);
    assert_int_equal(result(f), BATON_POLL_NOT_MODIFIED);
    /* a server without validators: the same body again, held */
    publish(f, "1.4.0", NULL, NULL);
    expect(f, poll_once(f, "1.3.0"), 0, BATON_POLL_HELD,
           "version 1.4.0 failed to deploy; waiting for latest.json to change");
    expect(f, poll_once(f, "1.3.0"), 0, BATON_POLL_HELD, "version 1.4.0 failed");
    assert_int_equal(requests(f->sv, "/rel/hello-1.4.0.tar.gz", NULL, 0), 1);
    /* retry() forgets validators, not the failure */
    publish(f, "1.4.0", NULL, "\"a\"");
    baton_source_retry(f->src);
    expect(f, poll_once(f, "1.3.0"), 0, BATON_POLL_HELD, "version 1.4.0 failed");
    /* the metadata changes (same version, rebuilt): tried again */
    publish(f, "1.4.0", "\"phase\": 100", "\"b\"");
    assert_int_equal(poll_once(f, "1.3.0"), 1);
    assert_int_equal(requests(f->sv, "/rel/hello-1.4.0.tar.gz", NULL, 0), 2);
    /* after a restart: failed() before any poll holds the first latest.json seen */
    open_source(f, false, 0);
    baton_source_failed(f->src, "1.4.0");
    expect(f, poll_once(f, "1.3.0"), 0, BATON_POLL_HELD, "version 1.4.0 failed");
    assert_int_equal(requests(f->sv, "/rel/hello-1.4.0.tar.gz", NULL, 0), 2);
    publish(f, "1.4.0", "\"phase\": 99", "\"b2\"");
    assert_int_equal(poll_once(f, "1.3.0"), 1);
    /* a newer version after a failure is taken at once */
    baton_source_failed(f->src, "1.4.0");
    publish(f, "1.5.0", NULL, "\"c\"");
    assert_int_equal(poll_once(f, "1.3.0"), 1);
    assert_string_equal(f->upd.version, "1.5.0");
}

static void phase_takes_about_a_quarter(void **state)
{
    struct fx *f = *state;
    publish(f, "1.4.0", "\"phase\": 25", "\"p\"");
    int took = 0;
    for (int i = 0; i < 1000; i++) {
        char id[64];
        int n = snprintf(id, sizeof(id), "%032x\n", i * 2654435761u);
        assert_int_equal(write_file(f->mid, id, (size_t)n), 0);
        open_source(f, false, 0);
        int r = poll_once(f, "1.3.0");
        id[32] = '\0';
        bool in = baton_source_phase_bucket(id, "1.4.0") < 25;
        if (in) {
            assert_int_equal(r, 1);
            took++;
        } else {
            assert_int_equal(r, 0);
            assert_int_equal(result(f), BATON_POLL_HELD);
            assert_non_null(strstr(f->err, "phase 25%: this host's bucket for 1.4.0 is"));
        }
    }
    assert_true(took >= 200 && took <= 300);
    assert_int_equal(requests(f->sv, "/rel/hello-1.4.0.tar.gz", NULL, 0), took);
    /* another version draws other hosts: the buckets are not the same for each version */
    int same = 0;
    for (int i = 0; i < 1000; i++) {
        char id[40];
        snprintf(id, sizeof(id), "%032x", i * 2654435761u);
        same += baton_source_phase_bucket(id, "1.4.0") == baton_source_phase_bucket(id, "1.5.0");
    }
    assert_true(same < 50);
    /* phase 0 takes nobody, 100 everybody */
    publish(f, "1.4.0", "\"phase\": 0", "\"p0\"");
    expect(f, poll_once(f, "1.3.0"), 0, BATON_POLL_HELD, "phase 0%");
    publish(f, "1.4.0", "\"phase\": 100", "\"p100\"");
    assert_int_equal(poll_once(f, "1.3.0"), 1);
}

static void cancel_is_sticky(void **state)
{
    struct fx *f = *state;
    open_source(f, false, 0);
    publish(f, "1.4.0", NULL, NULL);
    baton_source_cancel(f->src);
    expect(f, poll_once(f, "1.3.0"), -ECANCELED, BATON_POLL_ERROR, "cancelled");
    assert_int_equal(requests(f->sv, "/rel/latest.json", NULL, 0), 0);
}

static void config_refused(void **state)
{
    struct fx *f = *state;
    struct baton_source *s = NULL;
    char err[256];
    struct baton_source_config cfg = {.url = "ftp://x/latest.json",
                                      .interval_ms = 1000,
                                      .max_size = 1,
                                      .download_dir = f->dl,
                                      .machine_id = f->mid};
    assert_int_equal(baton_source_new(&cfg, &s, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not an http://, https:// or file:// URL"));
    cfg.url = "http://x/";
    assert_int_equal(baton_source_new(&cfg, &s, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "names no file"));
    cfg.url = "http://x/latest.json";
    cfg.interval_ms = 0;
    assert_int_equal(baton_source_new(&cfg, &s, err, sizeof(err)), -EINVAL);
    cfg.interval_ms = 1000;
    cfg.trust = "/nonexistent/key.pub";
    assert_true(baton_source_new(&cfg, &s, err, sizeof(err)) < 0);
    cfg.trust = NULL;
    assert_int_equal(baton_source_new(&cfg, &s, err, sizeof(err)), 0);
    struct baton_source_status st;
    baton_source_status(s, &st);
    assert_int_equal(st.result, BATON_POLL_NEVER);
    assert_int_equal(baton_source_delay_ms(s), 0);
    char line[256];
    baton_source_status_format(&st, line, sizeof(line));
    assert_non_null(strstr(line, "never polled; next poll 20"));
    baton_source_free(s);
}

/* ---- the parser, times and jitter ---- */

static void parse_one(const char *json, int want, const char *msg)
{
    struct baton_latest l;
    char err[256] = "";
    int r = baton_latest_parse(json, strlen(json), &l, err, sizeof(err));
    if (r != want || !strstr(err, msg))
        fail_msg("%s: got %d \"%s\", want %d \"%s\"", json, r, err, want, msg);
}

static void parser(void **state)
{
    const char *sha = "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
    char j[512];
    struct baton_latest l;
    snprintf(j, sizeof(j),
             "{\"version\": \"1.4.0\", \"url\": \"hello-1.4.0.tar.gz\", \"sha256\": \"%s\", "
             "\"expires\": \"2026-12-05T10:00:00.5+01:00\", \"phase\": 25, \"notes\": [1]}",
             sha);
    assert_int_equal(baton_latest_parse(j, strlen(j), &l, NULL, 0), 0);
    assert_string_equal(l.version, "1.4.0");
    assert_string_equal(l.url, "hello-1.4.0.tar.gz");
    assert_memory_equal(l.sha256, "abcdef0123456789", 16); /* lower-cased */
    assert_int_equal(l.phase, 25);
    assert_int_equal(l.expires, 1796461200LL); /* 09:00Z */
    snprintf(j, sizeof(j), "{\"version\":\"1\",\"url\":\"u\",\"sha256\":\"%s\"}", sha);
    assert_int_equal(baton_latest_parse(j, strlen(j), &l, NULL, 0), 0);
    assert_int_equal(l.phase, 100);
    assert_int_equal(l.expires, 0);

    parse_one("", -EBADMSG, "not a JSON object");
    parse_one("[1,2]", -EBADMSG, "not a JSON object");
    parse_one("{\"version\": ", -EBADMSG, "not a JSON object");
    parse_one("{}", -EBADMSG, "\"version\" is missing");
    parse_one("{\"version\": 1.4}", -EBADMSG, "\"version\" is not a version string");
    parse_one("{\"version\": \"../x\"}", -EBADMSG, "\"version\" is not a valid version");
    parse_one("{\"version\": \"1\"}", -EBADMSG, "\"url\" is missing");
    parse_one("{\"version\": \"1\", \"url\": \"a b\"}", -EBADMSG, "\"url\" holds a space");
    parse_one("{\"version\": \"1\", \"url\": {}}", -EBADMSG, "\"url\" is not a URL string");
    parse_one("{\"version\": \"1\", \"url\": \"u\"}", -EBADMSG, "\"sha256\" is missing");
    parse_one("{\"version\": \"1\", \"url\": \"u\", \"sha256\": \"abc\"}", -EBADMSG,
              "\"sha256\" is not 64 hex digits");
    const char *base = "{\"version\": \"1\", \"url\": \"u\", \"sha256\": "
                       "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"";
    snprintf(j, sizeof(j), "%s, \"expires\": \"tomorrow\"}", base);
    parse_one(j, -EBADMSG, "\"expires\" \"tomorrow\" is not an RFC 3339 time");
    snprintf(j, sizeof(j), "%s, \"expires\": 5}", base);
    parse_one(j, -EBADMSG, "\"expires\" is not an RFC 3339 string");
    snprintf(j, sizeof(j), "%s, \"phase\": 101}", base);
    parse_one(j, -EBADMSG, "\"phase\" is not an integer 0..100");
    snprintf(j, sizeof(j), "%s, \"phase\": \"25\"}", base);
    parse_one(j, -EBADMSG, "\"phase\" is not an integer 0..100");
    snprintf(j, sizeof(j), "%s, \"phase\": -1}", base);
    parse_one(j, -EBADMSG, "\"phase\" is not an integer 0..100");
    snprintf(j, sizeof(j), "%s, \"phase\": 2.5}", base);
    parse_one(j, -EBADMSG, "\"phase\" is not an integer 0..100");
    char err[256];
    assert_int_equal(baton_latest_parse("{\"v\": \"1\0\"}", 11, &l, err, sizeof(err)), -EBADMSG);
    assert_non_null(strstr(err, "a NUL byte"));
}

static void rfc3339(void **state)
{
    long long t;
    assert_int_equal(baton_rfc3339_parse("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(baton_rfc3339_parse("2026-12-05T00:00:00Z", &t), 0);
    assert_int_equal(t, 1796428800LL);
    assert_int_equal(baton_rfc3339_parse("2026-12-05T02:30:00+02:30", &t), 0);
    assert_int_equal(t, 1796428800LL);
    assert_int_equal(baton_rfc3339_parse("2026-12-04t23:00:00.123-01:00", &t), 0);
    assert_int_equal(t, 1796428800LL);
    assert_int_equal(baton_rfc3339_parse("2024-02-29T00:00:00Z", &t), 0);
    const char *bad[] = {"",
                         "2026-12-05",
                         "2026-12-05T00:00:00",
                         "2026-13-05T00:00:00Z",
                         "2025-02-29T00:00:00Z",
                         "2026-12-05T24:00:00Z",
                         "2026-12-05T00:00:00Zx",
                         "2026-12-05T00:00:00.Z",
                         "2026-12-05T00:00:00+0100",
                         "26-12-05T00:00:00Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (baton_rfc3339_parse(bad[i], &t) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
}

static void jitter(void **state)
{
    uint64_t a = 7, b = 7, c = 8;
    uint64_t lo = UINT64_MAX, hi = 0, sum = 0, differ = 0;
    for (int i = 0; i < 10000; i++) {
        uint64_t x = baton_source_jitter(&a, 60000);
        assert_int_equal(x, baton_source_jitter(&b, 60000)); /* the seed fixes the sequence */
        differ += x != baton_source_jitter(&c, 60000);
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
        sum += x;
    }
    assert_true(lo >= 54000 && lo < 54300);
    assert_true(hi <= 66000 && hi > 65700);
    assert_true(sum / 10000 > 59700 && sum / 10000 < 60300);
    assert_true(differ > 9900);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parser),
        cmocka_unit_test(rfc3339),
        cmocka_unit_test(jitter),
        cmocka_unit_test_setup_teardown(new_version_then_not_modified, setup, teardown),
        cmocka_unit_test_setup_teardown(first_install_and_relative_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(file_source, setup, teardown),
        cmocka_unit_test_setup_teardown(expired_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(older_refused_same_up_to_date, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_signatures_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(http_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(unreachable_source, setup, teardown),
        cmocka_unit_test_setup_teardown(hanging_source, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(sha256_mismatch_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_version_not_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(phase_takes_about_a_quarter, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_is_sticky, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_running_poll, setup, teardown),
        cmocka_unit_test_setup_teardown(last_modified_conditional, setup, teardown),
        cmocka_unit_test_setup_teardown(config_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
