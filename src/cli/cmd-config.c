/* SPDX-License-Identifier: MIT */
/* `baton config`: load the configuration as `baton run` would, and print it with origins. */
#include "cli/cmd-config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xmalloc.h"
#include "config/config.h"

#define EXIT_USAGE 2
/* Errors and output are bounded: a config is at most 1 MiB, so is what we print about it. */
#define CONFIG_ERR_MAX (64 * 1024)
#define CONFIG_OUT_MAX (8 * 1024 * 1024)

static const char usage[] =
    "usage: baton config [-c FILE] [--env NAME] [--set KEY=VALUE]... [--json]\n"
    "\n"
    "Loads the configuration as `baton run` would (FILE, then baton.<env>.yaml beside it, then\n"
    "BATON_<SECTION>_<KEY> variables, then --set), checks it, and prints the merged result with\n"
    "where each value came from. Exit 0 when it is valid, 2 with one line per problem otherwise.\n"
    "\n"
    "  -c, --config FILE    the configuration file (default: ./baton.yaml)\n"
    "  -e, --env NAME       also load baton.NAME.yaml beside FILE (default: $BATON_ENV)\n"
    "      --set KEY=VALUE  override one key, such as app.workers=4 or 'app.command=[a, b]'\n"
    "      --json           print {\"config\": {...}, \"origins\": {...}} instead of YAML\n"
    "  -h, --help           this text\n";

/* Writes err's lines to stderr as they are: "FILE:LINE:COL: message" starts each line. */
static void print_errors(const struct baton_buf *err)
{
    if (err->len > 0) {
        fwrite(err->data, 1, err->len, stderr);
        if (err->data[err->len - 1] != '\n')
            fputc('\n', stderr);
    }
}

int baton__cmd_config(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"env", required_argument, NULL, 'e'},
        {"set", required_argument, NULL, 's'},    {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    struct baton_config_options options = {.path = "baton.yaml"};
    struct baton_buf err = BATON_BUF_INIT(CONFIG_ERR_MAX);
    struct baton_buf out = BATON_BUF_INIT(CONFIG_OUT_MAX);
    struct baton_config *config = NULL;
    char **sets = NULL;
    size_t n_sets = 0;
    bool json = false;
    int code = EXIT_USAGE, opt, r;

    /* getopt keeps state across calls; 0 starts it afresh (glibc). No messages of its own. */
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+c:e:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            options.path = optarg;
            break;
        case 'e':
            options.env_name = optarg;
            break;
        case 's':
            sets = baton__xrealloc(sets, (n_sets + 1) * sizeof(*sets));
            sets[n_sets++] = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            fputs(usage, stdout);
            code = 0;
            goto out;
        default:
            if (optopt && strchr("ce", optopt))
                fprintf(stderr, "baton config: -%c needs a value\n", optopt);
            else if (optopt == 's')
                fprintf(stderr, "baton config: --set needs KEY=VALUE\n");
            else
                fprintf(stderr, "baton config: unknown option '%s'\n", argv[optind - 1]);
            fputs(usage, stderr);
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "baton config: unexpected argument '%s'\n", argv[optind]);
        fputs(usage, stderr);
        goto out;
    }
    options.sets = sets;
    options.n_sets = n_sets;

    r = baton__config_load(&options, &config, &err);
    if (r < 0) {
        print_errors(&err);
        goto out;
    }
    r = baton__config_print(config, &out, json);
    if (r < 0) {
        fprintf(stderr, "baton config: cannot print the configuration: %s\n", strerror(-r));
        goto out;
    }
    fwrite(out.data, 1, out.len, stdout);
    code = 0;
out:
    baton__config_free(config);
    baton__buf_free(&err);
    baton__buf_free(&out);
    free(sets);
    return code;
}
