/* SPDX-License-Identifier: MIT */
/* `baton run`: load the configuration and run the supervisor in the foreground. */
#include "cli/internal.h"

#include "config/config.h"
#include "supervisor/supervisor.h"

/* The supervisor keeps a pointer to the options and re-reads the configuration through them on
 * every reload: they must outlive baton__supervisor_run(), hence static storage. The strings
 * they point to live in argv and in `args`, which main() keeps until the run returns. */
static struct baton_config_options options;

int baton__cmd_run(const struct baton_cli_args *args)
{
    struct baton_config *config = NULL;
    struct baton_buf err = BATON_BUF_INIT(64 * 1024);
    int r;

    options = (struct baton_config_options){
        .path = args->n_listen > 0 ? NULL : args->config_path,
        .env_name = args->env_name,
        .sets = args->sets,
        .n_sets = args->n_sets,
        .environ = NULL,
        .listen = args->listen,
        .n_listen = args->n_listen,
        .command = args->command_argv,
        .n_command = args->n_command,
    };
    r = baton__config_load(&options, &config, &err);
    if (r < 0) {
        baton__cli_config_error(&err, r);
        baton__buf_free(&err);
        return BATON_EXIT_USAGE;
    }
    baton__buf_free(&err);
    return baton__supervisor_run(config, &options);
}
