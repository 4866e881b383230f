/* SPDX-License-Identifier: MIT */
/*
 * The supervisor (`baton run`): owns the listeners, the notify socket and the control socket,
 * and runs generations of workers. This is the one entry point the CLI calls.
 */
#ifndef BATON_SUPERVISOR_SUPERVISOR_H
#define BATON_SUPERVISOR_SUPERVISOR_H

#include "config/config.h"

/*
 * Runs the supervisor in the foreground until it is stopped (SIGTERM/SIGINT graceful,
 * SIGQUIT fast, or `baton stop`). Takes ownership of `config`. `options` is kept (not copied:
 * it must outlive the call) and used to re-read the configuration on every reload.
 * Returns the process exit code: 0 after a clean stop, 1 when the first generation failed,
 * 2 on a configuration or set-up error (address busy, socket path unusable), each reported
 * on the log first.
 */
int baton__supervisor_run(struct baton_config *config, const struct baton_config_options *options);

#endif
