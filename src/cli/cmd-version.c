/* SPDX-License-Identifier: MIT */
/* `baton version`: the version this command was built as. */
#include "cli/internal.h"

int baton__cmd_version(const struct baton_cli_args *args)
{
    printf("baton %s\n", BATON_VERSION);
    return BATON_EXIT_OK;
}
