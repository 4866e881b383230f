/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the supervisor's configuration loader (src/config/): YAML and
 * JSON files, the env-file overlay and --set values are all outside input.
 *
 * The input is split at NUL bytes: part 1 is baton.yaml, part 2 (if present) is
 * baton.fuzz.yaml loaded with --env fuzz, part 3 (if present) is one --set KEY=VALUE.
 *
 * Besides the sanitizers, three oracles:
 *  - a failed load reports at least one line, and every line names where the problem is
 *    (one of the files, the --set, or the cut-off notice);
 *  - a successful load prints as YAML and as JSON without error;
 *  - the printed YAML loads back, and prints the same again (origin comments aside): what
 *    `baton config` shows is a configuration that means the same thing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "fuzz.h"

static char dir[64];
static char main_path[96], env_path[96], printed_path[96];

static void remove_dir(void)
{
    unlink(main_path);
    unlink(env_path);
    unlink(printed_path);
    rmdir(dir);
}

/* Every run writes its files in one private directory, named by absolute paths: the fuzzer's
 * own paths (corpus, artifacts) are relative to the working directory, which must not change. */
static void enter_dir(void)
{
    if (dir[0])
        return;
    snprintf(dir, sizeof(dir), "/tmp/fuzz-config-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(main_path, sizeof(main_path), "%s/baton.yaml", dir);
    snprintf(env_path, sizeof(env_path), "%s/baton.fuzz.yaml", dir);
    snprintf(printed_path, sizeof(printed_path), "%s/printed.yaml", dir);
    atexit(remove_dir); /* replays exit normally; a crashing fuzzer leaves the directory */
}

static void write_file(const char *name, const uint8_t *p, size_t n)
{
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        CHECK(w > 0);
        p += w;
        n -= (size_t)w;
    }
    CHECK(close(fd) == 0);
}

static bool line_has_place(const char *line, size_t len)
{
    const char *const prefixes[] = {main_path, env_path, printed_path, "--set ", "too many errors"};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (len >= strlen(prefixes[i]) && strncmp(line, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

static void check_errors(const struct baton_buf *err)
{
    CHECK(err->len > 0);
    for (const char *p = err->data; *p;) {
        const char *nl = strchr(p, '\n');
        CHECK(nl != NULL);
        if (!line_has_place(p, (size_t)(nl - p))) {
            fprintf(stderr, "fuzz-config: error line without a place: %.*s\n", (int)(nl - p), p);
            abort();
        }
        p = nl + 1;
    }
}

/* The printed YAML without its "# origin" comments and the padding before them. */
static char *strip_comments(const char *text)
{
    size_t n = strlen(text);
    char *out = malloc(n + 1), *o = out;
    CHECK(out != NULL);
    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t len = nl ? (size_t)(nl - text) : strlen(text);
        const char *hash = NULL;
        /* The comment is the last "  # " of the line: values never hold it unquoted. */
        for (const char *p = text; p + 3 < text + len; p++)
            if (p[0] == ' ' && p[1] == ' ' && p[2] == '#' && p[3] == ' ')
                hash = p;
        size_t keep = hash ? (size_t)(hash - text) : len;
        while (keep && text[keep - 1] == ' ')
            keep--;
        memcpy(o, text, keep);
        o += keep;
        *o++ = '\n';
        text += len + (nl ? 1 : 0);
    }
    *o = '\0';
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *const empty_environ[] = {NULL};
    const uint8_t *part[3] = {data, NULL, NULL};
    size_t len[3] = {size, 0, 0};
    char *set = NULL;

    if (size > 256 * 1024)
        return 0;
    enter_dir();
    for (int i = 0; i < 2; i++) {
        const uint8_t *nul = part[i] ? memchr(part[i], '\0', len[i]) : NULL;
        if (!nul)
            break;
        part[i + 1] = nul + 1;
        len[i + 1] = len[i] - (size_t)(nul - part[i]) - 1;
        len[i] = (size_t)(nul - part[i]);
    }
    write_file(main_path, part[0], len[0]);
    if (part[1])
        write_file(env_path, part[1], len[1]);
    else
        unlink(env_path);
    if (part[2]) {
        set = strndup((const char *)part[2], len[2]);
        CHECK(set != NULL);
    }

    struct baton_config_options o = {
        .path = main_path,
        .env_name = part[1] ? "fuzz" : NULL,
        .sets = set ? &set : NULL,
        .n_sets = set ? 1 : 0,
        .environ = empty_environ,
    };
    struct baton_buf err = BATON_BUF_INIT(1 << 20);
    struct baton_buf yaml = BATON_BUF_INIT(BATON_BUF_UNBOUNDED),
                     json = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    struct baton_buf again = BATON_BUF_INIT(BATON_BUF_UNBOUNDED);
    struct baton_config *config = NULL, *back = NULL;

    int r = baton__config_load(&o, &config, &err);
    if (r < 0) {
        CHECK(config == NULL);
        check_errors(&err);
        goto out;
    }
    CHECK(config != NULL);
    CHECK(config->app.n_command > 0 && config->app.command[config->app.n_command] == NULL);
    CHECK(config->app.workers >= 1);
    CHECK(baton__config_print(config, &yaml, false) == 0);
    CHECK(baton__config_print(config, &json, true) == 0);

    write_file(printed_path, (const uint8_t *)yaml.data, yaml.len);
    struct baton_config_options o2 = {.path = printed_path, .environ = empty_environ};
    baton__buf_reset(&err);
    r = baton__config_load(&o2, &back, &err);
    if (r < 0) {
        fprintf(stderr, "fuzz-config: the printed configuration does not load:\n%s\n%s", yaml.data,
                err.data);
        abort();
    }
    CHECK(baton__config_print(back, &again, false) == 0);
    char *a = strip_comments(yaml.data), *b = strip_comments(again.data);
    if (strcmp(a, b) != 0) {
        fprintf(stderr, "fuzz-config: printed twice, differs:\n%s\n---\n%s", a, b);
        abort();
    }
    free(a);
    free(b);
out:
    baton__config_free(config);
    baton__config_free(back);
    baton__buf_free(&err);
    baton__buf_free(&yaml);
    baton__buf_free(&json);
    baton__buf_free(&again);
    free(set);
    return 0;
}
