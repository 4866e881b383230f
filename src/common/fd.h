/* SPDX-License-Identifier: MIT */
/* Small file-descriptor helpers. */
#ifndef BATON_COMMON_FD_H
#define BATON_COMMON_FD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Sets or clears FD_CLOEXEC / O_NONBLOCK. Return 0 or -errno. */
int baton__fd_cloexec(int fd, bool on);
int baton__fd_nonblock(int fd, bool on);

/* Closes *fd if it is open and sets it to -1; errno is preserved. */
void baton__fd_closep(int *fd);

/* Writes all n bytes (retrying on EINTR and short writes). Returns 0 or -errno. */
int baton__fd_write_all(int fd, const void *p, size_t n);

/* Reads until EOF or n bytes (retrying on EINTR). Returns the count read or -errno. */
ssize_t baton__fd_read_all(int fd, void *p, size_t n);

#endif
