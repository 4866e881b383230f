/* SPDX-License-Identifier: MIT */
/* `baton`: parse the command line, then hand over to one subcommand. */
#include "cli/cmd-config.h"
#include "cli/internal.h"

int main(int argc, char **argv)
{
    struct baton_cli_args args;
    struct baton_buf err = BATON_BUF_INIT(4096);
    int code = BATON_EXIT_USAGE;

    if (baton__cli_parse(argc, argv, &args, &err) < 0) {
        fprintf(stderr, "baton: %s\n\n", err.data ? err.data : "invalid arguments");
        baton__cli_usage(stderr, args.command == BATON_CLI_HELP ? args.help_topic : args.command,
                         args.command != BATON_CLI_USAGE);
        goto out;
    }
    switch (args.command) {
    case BATON_CLI_USAGE:
    case BATON_CLI_HELP:
        if (args.help_topic == BATON_CLI_CONFIG) {
            /* `baton help config`: the text that `baton config --help` prints. */
            char *help_argv[] = {"config", "--help", NULL};
            code = baton__cmd_config(2, help_argv);
            break;
        }
        baton__cli_usage(stdout, args.help_topic, false);
        code = BATON_EXIT_OK;
        break;
    case BATON_CLI_RUN:
        code = baton__cmd_run(&args);
        break;
    case BATON_CLI_RELOAD:
        code = baton__cmd_reload(&args);
        break;
    case BATON_CLI_STATUS:
        code = baton__cmd_status(&args);
        break;
    case BATON_CLI_STOP:
        code = baton__cmd_stop(&args);
        break;
    case BATON_CLI_LOGS:
        code = baton__cmd_logs(&args);
        break;
    case BATON_CLI_VERSION:
        code = baton__cmd_version(&args);
        break;
    case BATON_CLI_DEPLOY:
    case BATON_CLI_ROLLBACK:
        code = baton__cmd_deploy(&args);
        break;
    case BATON_CLI_RELEASES:
        code = baton__cmd_releases(&args);
        break;
    case BATON_CLI_CONFIG:
        /* It parses its own options: argv[0] is "config". */
        code = baton__cmd_config(args.sub_argc, args.sub_argv);
        break;
    }
out:
    baton__cli_args_free(&args);
    baton__buf_free(&err);
    /* A full disk or a closed pipe on stdout is a failure, not a silent success. */
    if (fflush(stdout) != 0 && code == BATON_EXIT_OK)
        code = BATON_EXIT_FAILED;
    return code;
}
