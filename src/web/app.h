/* SPDX-License-Identifier: MIT */
/* The running worker: listeners, modules, the server, signals, notify messages, reloads. */
#ifndef BATON_WEB_APP_H
#define BATON_WEB_APP_H

#include "web/web.h"

/* Runs baton-web with these options until it has drained. argv is kept for reloads (the flags
 * are applied again over a re-read config file). Returns the exit status: 0 after a drain,
 * 1 on a runtime failure, 2 when the configuration or a module is refused at start. */
int baton__web_app_run(struct baton__web_options *opts, int argc, char **argv);

/* Re-parses the flags over a freshly loaded config file (for reloads). Returns 0 or -EINVAL
 * with the reason logged. Defined in main.c. */
int baton__web_options_reload(int argc, char **argv, struct baton__web_options *ret);

#endif
