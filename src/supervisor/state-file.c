/* SPDX-License-Identifier: MIT */
/*
 * The state file: what a supervisor leaves beside its control socket (`<control.socket>.state`)
 * so that the next `baton run` can tell, after a crash, whether it died and which of its
 * workers still serve (recover.c). One JSON object in a versioned format:
 *
 *   {"version": 1, "pid": 1234, "start_time": 98765, "config": "/srv/x/baton.yaml",
 *    "control": "/srv/x/baton.sock", "last_id": 4,
 *    "listeners": [{"name": "http", "address": "127.0.0.1:8080"}],
 *    "generations": [{"id": 4, "stop_signal": "TERM", "drain_timeout_ms": 30000,
 *                     "workers": [{"pid": 1240, "start_time": 98790, "draining": false}]}]}
 *
 * start_time is field 22 of /proc/PID/stat (clock ticks after boot): a pid names the same
 * process only while its start time is the same. The file is replaced atomically (a temporary
 * file written and fsynced, renamed over it, the directory fsynced), so a reader sees the old
 * state or the new one, never a torn one, even after a power cut.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/doc.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/xmalloc.h"
#include "supervisor/internal.h"

/* A state file larger than this is not one of ours. */
#define STATE_FILE_MAX (1024 * 1024)

void baton__state_file_free(struct baton_state_file *sf)
{
    for (size_t i = 0; i < sf->n_listeners; i++) {
        free(sf->listeners[i].name);
        free(sf->listeners[i].address);
    }
    free(sf->listeners);
    free(sf->workers);
    free(sf->config);
    free(sf->control);
    memset(sf, 0, sizeof(*sf));
}

/* ---- writing ------------------------------------------------------------------------------ */

void baton__state_file_format(const struct baton_state_file *sf, struct baton_buf *b)
{
    baton__buf_puts(b, "{");
    baton__json_kv_int(b, "version", BATON_STATE_FILE_VERSION);
    baton__json_kv_int(b, "pid", sf->pid);
    baton__json_kv_int(b, "start_time", (long long)sf->start_time);
    if (sf->config)
        baton__json_kv_str(b, "config", sf->config);
    if (sf->control)
        baton__json_kv_str(b, "control", sf->control);
    baton__json_kv_int(b, "last_id", sf->last_id);
    baton__buf_puts(b, ",\"listeners\":[");
    for (size_t i = 0; i < sf->n_listeners; i++) {
        baton__buf_puts(b, i ? ",{" : "{");
        baton__json_kv_str(b, "name", sf->listeners[i].name);
        baton__json_kv_str(b, "address", sf->listeners[i].address);
        baton__buf_puts(b, "}");
    }
    /* Workers grouped by generation, in the order their generations first appear. */
    baton__buf_puts(b, "],\"generations\":[");
    bool first = true;
    for (size_t i = 0; i < sf->n_workers; i++) {
        const struct baton_state_worker *w = &sf->workers[i];
        size_t k = 0;
        while (k < i && sf->workers[k].gen != w->gen)
            k++;
        if (k < i)
            continue; /* its generation is written already */
        baton__buf_puts(b, first ? "{" : ",{");
        first = false;
        baton__json_kv_int(b, "id", w->gen);
        baton__json_kv_str(b, "stop_signal", baton__signal_name(w->stop_signal));
        baton__json_kv_int(b, "drain_timeout_ms", (long long)w->drain_timeout_ms);
        baton__buf_puts(b, ",\"workers\":[");
        bool first_worker = true;
        for (size_t j = i; j < sf->n_workers; j++) {
            if (sf->workers[j].gen != w->gen)
                continue;
            baton__buf_puts(b, first_worker ? "{" : ",{");
            first_worker = false;
            baton__json_kv_int(b, "pid", sf->workers[j].pid);
            baton__json_kv_int(b, "start_time", (long long)sf->workers[j].start_time);
            baton__json_kv_bool(b, "draining", sf->workers[j].draining);
            baton__buf_puts(b, "}");
        }
        baton__buf_puts(b, "]}");
    }
    baton__buf_puts(b, "]}\n");
}

/* fsyncs the directory holding path, so that a rename in it is on disk. */
static int sync_dir(const char *path)
{
    char *copy = baton__xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r = fd < 0 || fsync(fd) < 0 ? -errno : 0;
    if (fd >= 0)
        close(fd);
    free(copy);
    return r;
}

int baton__state_file_write(const char *path, const struct baton_state_file *sf)
{
    struct baton_buf b = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    char *tmp = baton__xasprintf("%s.tmp", path);
    int fd = -1, r;

    baton__state_file_format(sf, &b);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    if ((r = baton__fd_write_all(fd, b.data, b.len)) < 0)
        goto out;
    if (fsync(fd) < 0) {
        r = -errno;
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) < 0) {
        r = -errno;
        goto out;
    }
    r = sync_dir(path);
out:
    if (fd >= 0)
        close(fd);
    if (r < 0)
        unlink(tmp);
    free(tmp);
    baton__buf_free(&b);
    return r;
}

/* ---- reading ------------------------------------------------------------------------------ */

/* root, generations, a generation, its workers, a worker: 5; a little room for what comes. */
#define STATE_FILE_MAX_DEPTH 8

/* A copy of the string at key; NULL when absent or anything else. */
static char *get_str(const struct baton_doc_node *map, const char *key)
{
    const char *t;
    return baton__doc_get_str(map, key, &t, NULL, 0) == 0 ? baton__xstrdup(t) : NULL;
}

/* The array at key; NULL (no items) when absent or anything else. */
static const struct baton_doc_node *array(const struct baton_doc_node *map, const char *key)
{
    const struct baton_doc_node *a = NULL;
    (void)baton__doc_get_array(map, key, &a, NULL, 0);
    return a;
}

static int parse_listeners(const struct baton_doc_node *root, struct baton_state_file *sf)
{
    const struct baton_doc_node *listeners = array(root, "listeners"), *item = NULL;
    size_t n = baton__doc_count(listeners);
    if (n > BATON_STATE_FILE_MAX_ITEMS)
        return -EINVAL;
    sf->listeners = baton__xcalloc(n ? n : 1, sizeof(*sf->listeners));
    while ((item = baton__doc_next(listeners, item))) {
        struct baton_state_listener *l = &sf->listeners[sf->n_listeners++];
        l->name = get_str(item, "name");
        l->address = get_str(item, "address");
        if (!l->name || !l->address)
            return -EINVAL;
    }
    return 0;
}

static int parse_generations(const struct baton_doc_node *root, struct baton_state_file *sf)
{
    const struct baton_doc_node *gens = array(root, "generations"), *g = NULL, *item;
    size_t n = 0;
    while ((g = baton__doc_next(gens, g)))
        n += baton__doc_count(array(g, "workers"));
    if (n > BATON_STATE_FILE_MAX_ITEMS)
        return -EINVAL;
    sf->workers = baton__xcalloc(n ? n : 1, sizeof(*sf->workers));
    while ((g = baton__doc_next(gens, g))) {
        int64_t id, drain, pid, start;
        char *sig = get_str(g, "stop_signal");
        int signo = sig ? baton__signal_parse(sig) : -EINVAL;
        free(sig);
        if (baton__doc_get_int(g, "id", 1, LONG_MAX, &id, NULL, 0) < 0 || signo <= 0 ||
            baton__doc_get_int(g, "drain_timeout_ms", 0, INT64_MAX, &drain, NULL, 0) < 0)
            return -EINVAL;
        const struct baton_doc_node *workers = array(g, "workers");
        item = NULL;
        while ((item = baton__doc_next(workers, item))) {
            if (baton__doc_get_int(item, "pid", 1, INT32_MAX, &pid, NULL, 0) < 0 ||
                baton__doc_get_int(item, "start_time", 0, INT64_MAX, &start, NULL, 0) < 0)
                return -EINVAL;
            struct baton_state_worker *w = &sf->workers[sf->n_workers++];
            w->pid = (pid_t)pid;
            w->start_time = (unsigned long long)start;
            w->gen = (long)id;
            w->stop_signal = signo;
            w->drain_timeout_ms = (uint64_t)drain;
            (void)baton__doc_get_bool(item, "draining", &w->draining, NULL, 0); /* else false */
        }
    }
    return 0;
}

int baton__state_file_parse(const char *text, size_t len, struct baton_state_file *ret)
{
    struct baton_doc *doc = NULL;
    const struct baton_doc_node *root;
    struct baton_state_file sf = {0};
    int64_t version, v;
    int r = -EINVAL;

    /* Not JSON, or not an object: no "version" below. */
    (void)baton__doc_parse(text, len, STATE_FILE_MAX, STATE_FILE_MAX_DEPTH, &doc, NULL, 0);
    root = baton__doc_root(doc);
    if (baton__doc_get_int(root, "version", 1, INT64_MAX, &version, NULL, 0) < 0)
        goto out;
    if (version > BATON_STATE_FILE_VERSION) {
        r = -EPROTONOSUPPORT;
        goto out;
    }
    if (baton__doc_get_int(root, "pid", 1, INT32_MAX, &v, NULL, 0) < 0)
        goto out;
    sf.pid = (pid_t)v;
    if (baton__doc_get_int(root, "start_time", 0, INT64_MAX, &v, NULL, 0) < 0)
        goto out;
    sf.start_time = (unsigned long long)v;
    sf.last_id = baton__doc_get_int(root, "last_id", 1, LONG_MAX, &v, NULL, 0) == 0 ? (long)v : 0;
    sf.config = get_str(root, "config");
    sf.control = get_str(root, "control");
    if ((r = parse_listeners(root, &sf)) < 0 || (r = parse_generations(root, &sf)) < 0)
        goto out;
    *ret = sf;
    memset(&sf, 0, sizeof(sf));
    r = 0;
out:
    baton__state_file_free(&sf);
    baton__doc_free(doc);
    return r;
}

int baton__state_file_read(const char *path, struct baton_state_file *ret)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    char *text = baton__xmalloc(STATE_FILE_MAX);
    ssize_t n = baton__fd_read_all(fd, text, STATE_FILE_MAX);
    close(fd);
    int r = n < 0 ? (int)n : n == STATE_FILE_MAX ? -EFBIG : 0;
    if (r == 0)
        r = baton__state_file_parse(text, (size_t)n, ret);
    free(text);
    return r;
}

int baton__proc_stat(pid_t pid, unsigned long long *ret_start, pid_t *ret_pgrp)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -ESRCH : -errno;
    ssize_t n = baton__fd_read_all(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return (int)n;
    buf[n] = '\0';
    /* The command name may hold anything, ')' included: the fields start after the last one. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -EINVAL;
    char state = 0;
    long pgrp = 0;
    unsigned long long start = 0;
    /* state(3) ppid(4) pgrp(5) ... starttime(22) */
    if (sscanf(p + 1,
               " %c %*d %ld %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
               &state, &pgrp, &start) != 3)
        return -EINVAL;
    if (state == 'Z' || state == 'X')
        return -ESRCH; /* exited: only its parent's wait is missing */
    *ret_start = start;
    if (ret_pgrp)
        *ret_pgrp = (pid_t)pgrp;
    return 0;
}
