/* SPDX-License-Identifier: MIT */
/* The usage texts (help.c) against the argument parser (args.c): every option a command's help
 * names is one the parser accepts for that command, with a value exactly when the help shows
 * one; the overview lists every command; the brief form is the synopsis and a pointer. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/internal.h"
#include "common/buf.h"

static const enum baton_cli_command commands[] = {
    BATON_CLI_RUN, BATON_CLI_RELOAD, BATON_CLI_STATUS, BATON_CLI_STOP, BATON_CLI_VERSION,
};

static char *usage(enum baton_cli_command topic, bool brief)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    assert_non_null(f);
    baton__cli_usage(f, topic, brief);
    assert_int_equal(fclose(f), 0);
    return text;
}

/* A value the parser takes for an option whose help shows `metavar`. */
static const char *sample(const char *metavar)
{
    static const struct {
        const char *metavar, *value;
    } samples[] = {
        {"FILE", "baton.yaml"},
        {"SOCKET", "/run/baton.sock"},
        {"PATH", "/run/baton.sock"},
        {"DUR", "5s"},
        {"NAME", "prod"},
        {"KEY=VALUE", "app.workers=2"},
        {"ADDR", "127.0.0.1:8080"},
        {"N", "2"},
        {"MODE", "notify"},
    };
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
        if (strcmp(samples[i].metavar, metavar) == 0)
            return samples[i].value;
    fail_msg("no sample value for metavariable %s", metavar);
    return NULL;
}

/* Parses `baton CMD OPT [VALUE]` and fails on an error that says the option is not CMD's or
 * takes (or needs) a value the help does not show. Other errors (a missing -- CMD, say) are
 * about the combination, not the option. */
static void accepted(const char *cmd, const char *opt, const char *value)
{
    char *argv[] = {"baton", (char *)cmd, (char *)opt, (char *)value, NULL};
    struct baton_cli_args args;
    struct baton_buf err = BATON_BUF_INIT(4096);
    int r = baton__cli_parse(value ? 4 : 3, argv, &args, &err);
    const char *msg = err.data ? err.data : "";

    if (r < 0)
        assert_true(strstr(msg, "unknown option") == NULL &&
                    strstr(msg, "takes no value") == NULL && strstr(msg, "needs a value") == NULL);
    baton__cli_args_free(&args);
    baton__buf_free(&err);
}

static void every_option_shown_is_accepted(void **state)
{
    for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
        const char *name = baton__cli_command_name(commands[c]);
        char *text = usage(commands[c], false);
        size_t options = 0;

        for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
            const char *p = line;
            char opt[32], metavar[32] = "";
            size_t n = 0;

            while (*p == ' ')
                p++;
            /* Option lines: "  -c, --config FILE   ..." or "      --json   ...". */
            if (p[0] == '-' && isalpha((unsigned char)p[1]) && p[2] == ',') {
                snprintf(opt, sizeof(opt), "%.2s", p);
                p += 4;
            } else if (!(p[0] == '-' && p[1] == '-' && isalpha((unsigned char)p[2]))) {
                continue;
            }
            while (p[n] && p[n] != ' ' && p[n] != '\n')
                n++;
            const char *after = p + n;
            if (after[0] == ' ' && after[1] != ' ' && after[1] != '\n') {
                size_t m = 0;
                while (after[1 + m] && after[1 + m] != ' ' && after[1 + m] != '\n')
                    m++;
                snprintf(metavar, sizeof(metavar), "%.*s", (int)m, after + 1);
            }
            snprintf(opt, sizeof(opt), "%.*s", (int)n, p);
            accepted(name, opt, metavar[0] ? sample(metavar) : NULL);
            options++;
        }
        /* Every command has at least --help, `baton version` none. */
        assert_true(commands[c] == BATON_CLI_VERSION ? options == 0 : options >= 1);
        free(text);
    }
}

static void an_unknown_option_is_refused(void **state)
{
    char *argv[] = {"baton", "status", "--no-such-option", NULL};
    struct baton_cli_args args;
    struct baton_buf err = BATON_BUF_INIT(4096);
    assert_true(baton__cli_parse(3, argv, &args, &err) < 0);
    assert_non_null(strstr(err.data, "unknown option"));
    baton__cli_args_free(&args);
    baton__buf_free(&err);
}

static void overview_lists_every_command(void **state)
{
    char *text = usage(BATON_CLI_USAGE, false);
    char line[64];
    assert_true(strncmp(text, "usage: baton COMMAND", 20) == 0);
    for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
        snprintf(line, sizeof(line), "\n  %-9s ", baton__cli_command_name(commands[c]));
        assert_non_null(strstr(text, line));
    }
    assert_non_null(strstr(text, "\n  config    "));
    assert_non_null(strstr(text, "\n  help      "));
    free(text);
}

static void brief_is_the_synopsis_and_a_pointer(void **state)
{
    for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
        const char *name = baton__cli_command_name(commands[c]);
        char *full = usage(commands[c], false), *brief = usage(commands[c], true);
        char want[64];
        size_t synopsis = (size_t)(strstr(full, "\n\n") - full);

        snprintf(want, sizeof(want), "usage: baton %s", name);
        assert_true(strncmp(full, want, strlen(want)) == 0);
        assert_memory_equal(brief, full, synopsis);
        snprintf(want, sizeof(want), "\n\nRun 'baton help %s' for more.\n", name);
        assert_string_equal(brief + synopsis, want);
        free(full);
        free(brief);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_option_shown_is_accepted),
        cmocka_unit_test(an_unknown_option_is_refused),
        cmocka_unit_test(overview_lists_every_command),
        cmocka_unit_test(brief_is_the_synopsis_and_a_pointer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
