/* SPDX-License-Identifier: MIT */
/* The aborting allocators of the supervisor and the CLI: zero sizes, contents, and the abort
 * (with its message) on exhaustion, checked in a child process. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/xmalloc.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static void zero_sizes_give_distinct_blocks(void **state)
{
    void *a = baton__xmalloc(0), *b = baton__xmalloc(0);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    void *c = baton__xcalloc(0, 8), *d = baton__xcalloc(8, 0);
    assert_non_null(c);
    assert_non_null(d);
    void *e = baton__xrealloc(NULL, 0);
    assert_non_null(e);
    e = baton__xrealloc(e, 0); /* realloc(p, 0) may free: the allocator must not */
    assert_non_null(e);
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
}

static void contents(void **state)
{
    unsigned char *z = baton__xcalloc(100, 3);
    for (size_t i = 0; i < 300; i++)
        assert_int_equal(z[i], 0);
    memcpy(z, "keep me", 8);
    z = baton__xrealloc(z, 1 << 20);
    assert_string_equal((char *)z, "keep me");
    free(z);

    char *s = baton__xstrdup("hello");
    assert_string_equal(s, "hello");
    free(s);
    s = baton__xstrndup("hello, world", 5);
    assert_string_equal(s, "hello");
    free(s);
    s = baton__xstrndup("hi", 10); /* n beyond the string: the whole string */
    assert_string_equal(s, "hi");
    free(s);
    s = baton__xasprintf("%s=%d%c", "workers", 42, '!');
    assert_string_equal(s, "workers=42!");
    free(s);
    s = baton__xasprintf("%s", "");
    assert_string_equal(s, "");
    free(s);
}

enum { XMALLOC, XCALLOC_OVERFLOW, XREALLOC };

/* Runs one impossible allocation in a child; returns what the child wrote to stderr. */
static void dies_of(int which, char *out, size_t size)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], STDERR_FILENO);
        close(p[0]);
        signal(SIGABRT, SIG_DFL);
        void *volatile q = NULL;
        if (which == XMALLOC)
            q = baton__xmalloc(SIZE_MAX / 2);
        else if (which == XCALLOC_OVERFLOW)
            q = baton__xcalloc(SIZE_MAX / 2, 4); /* count * size overflows */
        else
            q = baton__xrealloc(NULL, SIZE_MAX / 2);
        _exit(q ? 0 : 1); /* not reached: the allocator aborts */
    }
    close(p[1]);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < size && (r = read(p[0], out + got, size - 1 - got)) > 0)
        got += (size_t)r;
    out[got] = '\0';
    close(p[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
#ifdef UNDER_ASAN
    /* AddressSanitizer refuses such a size itself, with its own report and exit. */
    assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#else
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
#endif
}

static void exhaustion_aborts_with_a_message(void **state)
{
    char err[4096];
    for (int which = XMALLOC; which <= XREALLOC; which++) {
        dies_of(which, err, sizeof(err));
#ifndef UNDER_ASAN
        assert_string_equal(err, "baton: out of memory\n");
#endif
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zero_sizes_give_distinct_blocks),
        cmocka_unit_test(contents),
        cmocka_unit_test(exhaustion_aborts_with_a_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
