/* SPDX-License-Identifier: MIT */
/* Signal names as people write them in configuration and read them in messages. */
#ifndef BATON_COMMON_SIGNAL_H
#define BATON_COMMON_SIGNAL_H

/* Returns the signal number for "TERM", "SIGTERM", "sigterm" or "15"; -EINVAL otherwise. */
int baton__signal_parse(const char *text);

/* Returns "TERM" for SIGTERM, "UNKNOWN" for a number it does not know (static storage). */
const char *baton__signal_name(int signo);

#endif
