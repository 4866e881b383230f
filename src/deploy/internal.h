/* Helpers shared by the files of src/deploy (not part of the API in deploy.h). */
#ifndef BATON_DEPLOY_INTERNAL_H
#define BATON_DEPLOY_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "deploy/deploy.h"

/* Writes a printf-style reason into err (when non-NULL) and returns r (a -errno). */
int baton__deploy_fail(char *err, size_t errsz, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A key id as minisign prints it (16 upper-case hex digits of the little-endian key number). */
void baton__key_id_hex(const uint8_t id[8], char out[BATON_KEYID_HEX]);

/* CRC-32 (IEEE 802.3, as zlib's crc32()). */
uint32_t baton__crc32(const void *p, size_t n);

/* Removes name (a file, symlink or whole directory tree) below dirfd without following symlinks.
 * A missing name is success. */
int baton__deploy_rmtree(int dirfd, const char *name);

/* fsync(2) of the directory name below dirfd ("." for dirfd itself). */
int baton__deploy_fsync_dir(int dirfd, const char *name);

/* Test builds only (BATON_TEST_HOOKS): kills the process with SIGKILL when the environment
 * variable BATON_TEST_KILL_AT names this point. Production builds compile it away. */
#ifdef BATON_TEST_HOOKS
void baton__deploy_test_point(const char *where);
#else
static inline void baton__deploy_test_point(const char *where)
{
    (void)where;
}
#endif

#endif
