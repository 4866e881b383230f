/* SPDX-License-Identifier: MIT */
/* `baton config`: validate the configuration and print the merged result with its origins. */
#ifndef BATON_CLI_CMD_CONFIG_H
#define BATON_CLI_CMD_CONFIG_H

/*
 * Runs `baton config [-c FILE] [--env NAME] [--set K=V]... [--json]`; argv[0] is "config".
 * Prints the merged configuration on stdout and returns 0, or prints each problem on stderr
 * ("FILE:LINE:COL: what is wrong") and returns 2 (usage or configuration error).
 */
int baton__cmd_config(int argc, char **argv);

#endif
