/* SPDX-License-Identifier: MIT */
/*
 * Static files, paths: the request-path check, and the resolver against a real tree with
 * symlinks that stay inside the root and symlinks that leave it, with both resolvers.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "http/static-internal.h"

static char out[BATON_STATIC_PATH_MAX];

/* Checks `path` and returns the result; *rel receives the relative path on success. */
static int check(const char *path, bool *slash)
{
    bool s = false;
    int r = baton__static_path_check(path, out, sizeof(out), &s);

    if (slash)
        *slash = s;
    return r;
}

static void test_path_check_plain(void **state)
{
    bool slash;

    assert_int_equal(check("/", &slash), 0);
    assert_string_equal(out, "");
    assert_true(slash);
    assert_int_equal(check("/index.html", &slash), 10);
    assert_string_equal(out, "index.html");
    assert_false(slash);
    assert_int_equal(check("/css/app.css", &slash), 11);
    assert_string_equal(out, "css/app.css");
    assert_int_equal(check("/docs/", &slash), 4);
    assert_string_equal(out, "docs");
    assert_true(slash);
    /* Empty segments collapse, so a result never starts with '/' (no "//host" redirects). */
    assert_int_equal(check("//evil.example//x///", &slash), 14);
    assert_string_equal(out, "evil.example/x");
    assert_true(slash);
    /* Dots inside names, backslashes and UTF-8 are ordinary bytes on Linux. */
    assert_true(check("/a..b/c.d./e..", NULL) > 0);
    assert_string_equal(out, "a..b/c.d./e..");
    assert_true(check("/a\\..\\b", NULL) > 0);
    assert_true(check("/caf\xc3\xa9.txt", NULL) > 0);
    /* RFC 8615 well-known URIs are served. */
    assert_true(check("/.well-known/acme-challenge/tok", NULL) > 0);
}

static void test_path_check_refusals(void **state)
{
    assert_int_equal(check("", NULL), -EINVAL);
    assert_int_equal(check("etc/passwd", NULL), -EINVAL);
    assert_int_equal(check("/..", NULL), -EINVAL);
    assert_int_equal(check("/../etc/passwd", NULL), -EINVAL);
    assert_int_equal(check("/a/../../etc/passwd", NULL), -EINVAL);
    assert_int_equal(check("/a/..", NULL), -EINVAL);
    assert_int_equal(check("/a/../", NULL), -EINVAL);
    assert_int_equal(check("/./a", NULL), -EINVAL);
    assert_int_equal(check("/a/.", NULL), -EINVAL);
    assert_int_equal(check("/a\n.txt", NULL), -EINVAL);
    assert_int_equal(check("/a\x7f", NULL), -EINVAL);
    assert_int_equal(check("/\x01", NULL), -EINVAL);
    /* Hidden names. */
    assert_int_equal(check("/.git/config", NULL), -ENOENT);
    assert_int_equal(check("/.env", NULL), -ENOENT);
    assert_int_equal(check("/a/.htpasswd", NULL), -ENOENT);
    assert_int_equal(check("/.well-knownx", NULL), -ENOENT);
    assert_int_equal(check("/.well-know", NULL), -ENOENT);
    assert_int_equal(baton__static_path_check(NULL, out, sizeof(out), &(bool){0}), -EINVAL);
}

static void test_path_check_lengths(void **state)
{
    char name[NAME_MAX + 3], *path;
    size_t n;

    name[0] = '/';
    memset(name + 1, 'a', NAME_MAX);
    name[NAME_MAX + 1] = '\0';
    assert_int_equal(check(name, NULL), NAME_MAX);
    name[NAME_MAX + 1] = 'a';
    name[NAME_MAX + 2] = '\0';
    assert_int_equal(check(name, NULL), -ENAMETOOLONG);

    /* The result must leave room for "/index.html" and ".br". */
    n = BATON_STATIC_PATH_MAX * 2;
    path = malloc(n + 1);
    assert_non_null(path);
    for (size_t i = 0; i < n; i += 2)
        memcpy(path + i, "/a", 2);
    path[n] = '\0';
    assert_int_equal(check(path, NULL), -ENAMETOOLONG);
    free(path);
    {
        char small[16];
        bool slash;

        assert_int_equal(baton__static_path_check("/abc", small, sizeof(small), &slash),
                         -ENAMETOOLONG);
        assert_int_equal(baton__static_path_check("/a", small, sizeof(small), &slash), 1);
    }
}

/* ---- The resolver against a real tree -------------------------------------------------- */

struct tree {
    char top[64];  /* mkdtemp: holds root/ and outside/ */
    char root[96]; /* the document root */
    int root_fd;
};

static void put(const char *dir, const char *rel, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void at(char *buf, size_t len, const char *dir, const char *rel)
{
    snprintf(buf, len, "%s/%s", dir, rel);
}

static int setup_tree(void **state)
{
    struct tree *t = calloc(1, sizeof(*t));
    char p[256], q[256];

    assert_non_null(t);
    strcpy(t->top, "/tmp/baton-static-XXXXXX");
    assert_non_null(mkdtemp(t->top));
    snprintf(t->root, sizeof(t->root), "%s/root", t->top);
    assert_int_equal(mkdir(t->root, 0755), 0);
    at(p, sizeof(p), t->top, "outside");
    assert_int_equal(mkdir(p, 0755), 0);
    put(p, "secret.txt", "secret");
    at(p, sizeof(p), t->root, "sub");
    assert_int_equal(mkdir(p, 0755), 0);
    put(t->root, "hello.txt", "hello");
    put(t->root, "sub/inner.txt", "inner");
    /* Inside the root: relative links, to a file and to a directory. */
    at(p, sizeof(p), t->root, "link-in.txt");
    assert_int_equal(symlink("sub/inner.txt", p), 0);
    at(p, sizeof(p), t->root, "sub/up.txt");
    assert_int_equal(symlink("../hello.txt", p), 0);
    at(p, sizeof(p), t->root, "subdir-link");
    assert_int_equal(symlink("sub", p), 0);
    /* Leaving the root: relative, absolute, a directory, a magic link. */
    at(p, sizeof(p), t->root, "link-out.txt");
    assert_int_equal(symlink("../outside/secret.txt", p), 0);
    at(p, sizeof(p), t->root, "passwd");
    assert_int_equal(symlink("/etc/passwd", p), 0);
    at(p, sizeof(p), t->top, "outside");
    at(q, sizeof(q), t->root, "dir-out");
    assert_int_equal(symlink(p, q), 0);
    at(q, sizeof(q), t->root, "dir-out-rel");
    assert_int_equal(symlink("../outside", q), 0);
    at(q, sizeof(q), t->root, "abs-in.txt");
    at(p, sizeof(p), t->root, "hello.txt");
    assert_int_equal(symlink(p, q), 0);
    at(p, sizeof(p), t->root, "magic");
    assert_int_equal(symlink("/proc/self/root/etc/passwd", p), 0);
    at(p, sizeof(p), t->root, "fifo");
    assert_int_equal(mkfifo(p, 0644), 0);
    t->root_fd = open(t->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(t->root_fd >= 0);
    *state = t;
    return 0;
}

static int teardown_tree(void **state)
{
    struct tree *t = *state;
    char cmd[128];

    close(t->root_fd);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->top);
    assert_int_equal(system(cmd), 0);
    free(t);
    return 0;
}

/* Resolves rel; on success returns 0 and checks the content is `want`. */
static int resolve(struct tree *t, const char *rel, enum baton_static_resolve how, const char *want)
{
    char buf[64];
    ssize_t n;
    int fd = -1, r;

    r = baton__static_resolve(t->root_fd, rel, how, &fd);
    if (r < 0) {
        assert_int_equal(fd, -1);
        return r;
    }
    if (want) {
        n = read(fd, buf, sizeof(buf) - 1);
        assert_true(n >= 0);
        buf[n] = '\0';
        assert_string_equal(buf, want);
    }
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
    return 0;
}

static void test_resolve_openat2(void **state)
{
    struct tree *t = *state;
    const enum baton_static_resolve how = BATON_STATIC_RESOLVE_OPENAT2;

    /* This suite runs on kernels with openat2 (5.6+). */
    assert_int_equal(baton__static_resolve_probe(t->root_fd), BATON_STATIC_RESOLVE_OPENAT2);
    assert_int_equal(resolve(t, "hello.txt", how, "hello"), 0);
    assert_int_equal(resolve(t, "sub/inner.txt", how, "inner"), 0);
    assert_int_equal(resolve(t, "", how, NULL), 0);
    /* Symlinks that stay beneath the root are followed. */
    assert_int_equal(resolve(t, "link-in.txt", how, "inner"), 0);
    assert_int_equal(resolve(t, "sub/up.txt", how, "hello"), 0);
    assert_int_equal(resolve(t, "subdir-link/inner.txt", how, "inner"), 0);
    /* Everything that leaves it is refused by the kernel. */
    assert_int_equal(resolve(t, "link-out.txt", how, NULL), -EXDEV);
    assert_int_equal(resolve(t, "passwd", how, NULL), -EXDEV);
    assert_int_equal(resolve(t, "dir-out/secret.txt", how, NULL), -EXDEV);
    assert_int_equal(resolve(t, "dir-out-rel/secret.txt", how, NULL), -EXDEV);
    assert_int_equal(resolve(t, "../outside/secret.txt", how, NULL), -EXDEV);
    assert_int_equal(resolve(t, "magic", how, NULL), -EXDEV);
    /* Absolute links are refused even when they point inside (documented in static.h). */
    assert_int_equal(resolve(t, "abs-in.txt", how, NULL), -EXDEV);
    assert_int_equal(resolve(t, "missing.txt", how, NULL), -ENOENT);
    assert_int_equal(resolve(t, "hello.txt/x", how, NULL), -ENOTDIR);
    /* A FIFO opens without blocking (the caller then refuses it as not regular). */
    assert_int_equal(resolve(t, "fifo", how, NULL), 0);
    assert_int_equal(baton__static_resolve(t->root_fd, "/etc/passwd", how, &(int){-1}), -EINVAL);
}

static void test_resolve_nofollow(void **state)
{
    struct tree *t = *state;
    const enum baton_static_resolve how = BATON_STATIC_RESOLVE_NOFOLLOW;
    int r;

    assert_int_equal(resolve(t, "hello.txt", how, "hello"), 0);
    assert_int_equal(resolve(t, "sub/inner.txt", how, "inner"), 0);
    assert_int_equal(resolve(t, "", how, NULL), 0);
    /* The fallback follows no symlink at all, inside or out. */
    assert_int_equal(resolve(t, "link-in.txt", how, NULL), -ELOOP);
    assert_int_equal(resolve(t, "sub/up.txt", how, NULL), -ELOOP);
    assert_int_equal(resolve(t, "link-out.txt", how, NULL), -ELOOP);
    assert_int_equal(resolve(t, "passwd", how, NULL), -ELOOP);
    assert_int_equal(resolve(t, "magic", how, NULL), -ELOOP);
    r = resolve(t, "subdir-link/inner.txt", how, NULL);
    assert_true(r == -ENOTDIR || r == -ELOOP);
    r = resolve(t, "dir-out/secret.txt", how, NULL);
    assert_true(r == -ENOTDIR || r == -ELOOP);
    assert_int_equal(resolve(t, "missing.txt", how, NULL), -ENOENT);
    assert_int_equal(resolve(t, "sub//inner.txt", how, NULL), -EINVAL);
    assert_int_equal(resolve(t, "fifo", how, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_check_plain),
        cmocka_unit_test(test_path_check_refusals),
        cmocka_unit_test(test_path_check_lengths),
        cmocka_unit_test_setup_teardown(test_resolve_openat2, setup_tree, teardown_tree),
        cmocka_unit_test_setup_teardown(test_resolve_nofollow, setup_tree, teardown_tree),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
