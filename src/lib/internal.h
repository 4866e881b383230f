/*
 * libbaton internals shared between its files. Nothing here is installed or exported.
 */
#ifndef BATON_LIB_INTERNAL_H
#define BATON_LIB_INTERNAL_H

#include <stddef.h>

/* The longest listener name systemd accepts in LISTEN_FDNAMES (its FDNAME_MAX). */
#define BATON__FDNAME_MAX 255

/* The name systemd gives listeners that LISTEN_FDNAMES leaves unnamed. */
#define BATON__FDNAME_UNKNOWN "unknown"

/*
 * The largest notify message baton_notifyf() and baton_notify_status() format. Longer
 * messages are refused with -EMSGSIZE rather than truncated.
 */
#define BATON__NOTIFY_MAX 4096

#endif /* BATON_LIB_INTERNAL_H */
