/* SPDX-License-Identifier: MIT */
#include "fake-supervisor.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/internal.h"

static void child(struct fake_supervisor *f, const char *script, int ready, int report)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char request[4096];
    size_t got = 0;
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), cfd;

    strcpy(sa.sun_path, f->path);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0)
        _exit(2);
    if (write(ready, "r", 1) != 1)
        _exit(2);
    cfd = accept(lfd, NULL, NULL);
    if (cfd < 0)
        _exit(2);
    while (got < sizeof(request) && !memchr(request, '\n', got)) {
        ssize_t r = read(cfd, request + got, sizeof(request) - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    char *nl = memchr(request, '\n', got);
    if (write(report, request, nl ? (size_t)(nl - request) : got) < 0)
        _exit(2);
    size_t n = strlen(script);
    if (write(cfd, script, n) != (ssize_t)n)
        _exit(2);
    unlink(f->path);
    _exit(0);
}

void fake_supervisor_start(struct fake_supervisor *f, const char *script)
{
    int ready[2], report[2];
    char byte;

    strcpy(f->dir, "/tmp/baton-test-cli-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/baton.sock", f->dir);
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(report), 0);
    fflush(NULL);
    f->pid = fork();
    assert_true(f->pid >= 0);
    if (f->pid == 0) {
        close(ready[0]);
        close(report[0]);
        child(f, script, ready[1], report[1]);
    }
    close(ready[1]);
    close(report[1]);
    assert_int_equal(read(ready[0], &byte, 1), 1);
    close(ready[0]);
    f->report = report[0];
}

char *fake_supervisor_finish(struct fake_supervisor *f)
{
    char *request = calloc(1, 4097);
    size_t got = 0;
    ssize_t r;
    int status;

    while (got < 4096 && (r = read(f->report, request + got, 4096 - got)) > 0)
        got += (size_t)r;
    close(f->report);
    assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    unlink(f->path);
    rmdir(f->dir);
    return request;
}

void capture_begin(struct capture *c, int fd)
{
    FILE *file = tmpfile();

    fflush(NULL);
    assert_non_null(file);
    c->fd = fd;
    c->file = file;
    c->saved = dup(fd);
    assert_true(c->saved >= 0);
    assert_true(dup2(fileno(file), fd) >= 0);
}

char *capture_end(struct capture *c)
{
    FILE *file = c->file;
    char *text;
    long size;

    fflush(NULL);
    assert_true(dup2(c->saved, c->fd) >= 0);
    close(c->saved);
    size = ftell(file);
    assert_true(size >= 0);
    text = calloc(1, (size_t)size + 1);
    rewind(file);
    assert_int_equal(fread(text, 1, (size_t)size, file), (size_t)size);
    fclose(file);
    return text;
}

struct fake_run fake_supervisor_run(int (*command)(const struct baton_cli_args *),
                                    struct baton_cli_args args, const char *reply)
{
    struct fake_supervisor f;
    struct capture out, err;
    struct fake_run r;

    fake_supervisor_start(&f, reply);
    args.socket_path = f.path;
    if (!args.config_path)
        args.config_path = BATON_CLI_DEFAULT_CONFIG;
    capture_begin(&out, STDOUT_FILENO);
    capture_begin(&err, STDERR_FILENO);
    r.code = command(&args);
    r.err = capture_end(&err);
    r.out = capture_end(&out);
    r.supervisor_pid = f.pid;
    r.request = fake_supervisor_finish(&f);
    return r;
}

void fake_run_free(struct fake_run *r)
{
    free(r->out);
    free(r->err);
    free(r->request);
}
